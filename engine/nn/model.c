/*
 * model.c — a Sequential of linear, conv2d, pooling, flatten and
 * activation layers. All parameters
 * live in one flat buffer and all gradients in another, so an optimizer
 * step and a snapshot each touch a single buffer; each layer's weight and
 * bias are views into them, laid out as PyTorch's state_dict orders them.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"

#define LRE_TOO_MANY ((int64_t)INT32_MAX + 1) /* a count past what a row may hold */

lre_status lre_model_new(lre_ctx *ctx, lre_model **out)
{
    if (!ctx) return LRE_EINVAL;
    if (!out) return lre_fail(ctx, LRE_EINVAL, "lre_model_new: out is NULL");
    lre_model *m = lre_calloc(ctx, 1, sizeof *m, "model");
    if (!m) return LRE_ENOMEM;
    m->refcount = 1;
    m->open_res = -1;
    m->ctx = ctx;
    lre_ctx_retain(ctx);
    *out = m;
    return LRE_OK;
}

void lre_model_retain(lre_model *m)
{
    if (m) m->refcount++;
}

void lre_model_release(lre_model *m)
{
    if (!m || --m->refcount > 0) return;
    lre_ctx *ctx = m->ctx;
    for (int i = 0; i < m->n_layers; i++) {
        lre_layer *l = &m->layers[i];
        lre_tensor_release(l->w);
        lre_tensor_release(l->b);
        lre_tensor_release(l->dw);
        lre_tensor_release(l->db);
        lre_tensor_release(l->rm);
        lre_tensor_release(l->rv);
    }
    lre_tensor_release(m->buffers);
    lre_tensor_release(m->params);
    lre_tensor_release(m->grads);
    lre_free(ctx, m->layers, 0);
    lre_free(ctx, m, sizeof *m);
    lre_ctx_release(ctx);
}

/* Values per row entering layer `n_layers` where the layers fix it
 * without the input shape (the last linear's out, through activations
 * and flatten), else 0. */
static int64_t current_width(const lre_model *m)
{
    for (int i = m->n_layers - 1; i >= 0; i--) {
        const lre_layer *l = &m->layers[i];
        if (l->kind == LRE_LAYER_LINEAR) return l->out;
        if (l->kind != LRE_LAYER_ACT && l->kind != LRE_LAYER_FLATTEN &&
            l->kind != LRE_LAYER_LAYER_NORM && l->kind != LRE_LAYER_DROPOUT &&
            !(l->kind == LRE_LAYER_BATCH_NORM && l->bn_dims == 1))
            return 0;
    }
    return 0;
}

static lre_layer *push_layer(lre_model *m, const char *fn)
{
    if (m->initialized) {
        lre_fail(m->ctx, LRE_ESTATE, "%s: the model is already initialised; layers can only be "
                 "added before its first use", fn);
        return NULL;
    }
    if (m->n_layers == m->cap_layers) {
        int cap = m->cap_layers ? 2 * m->cap_layers : 8;
        lre_layer *nl = lre_calloc(m->ctx, (size_t)cap, sizeof *nl, "model layers");
        if (!nl) return NULL;
        if (m->n_layers) memcpy(nl, m->layers, (size_t)m->n_layers * sizeof *nl);
        lre_free(m->ctx, m->layers, 0);
        m->layers = nl;
        m->cap_layers = cap;
    }
    lre_layer *l = &m->layers[m->n_layers];
    memset(l, 0, sizeof *l);
    /* its state_dict name: the Sequential's index, or inside a residual
     * block the block's and its own within the branch */
    if (m->open_res < 0)
        snprintf(l->pname, sizeof l->pname, "%d", m->top++);
    else
        snprintf(l->pname, sizeof l->pname, "%d.%s%d", m->block_top,
                 m->in_shortcut ? "shortcut." : "", m->inner++);
    m->in_ndim = 0; /* the shapes are worked out again */
    return l;
}

/* Room for wn + bn more parameters (at most 2^40 in all: 4 TiB of f32). */
static lre_status param_room(lre_model *m, const char *fn, const char *what, int64_t wn,
                             int64_t bn)
{
    const int64_t limit = (int64_t)1 << 40;
    if (wn > limit || lre_model_num_params(m) > limit - wn - bn)
        return lre_fail(m->ctx, LRE_EINVAL,
                        "%s: %s would give the model more than 2^40 parameters", fn, what);
    return LRE_OK;
}

lre_status lre_model_add_linear(lre_model *m, int64_t in, int64_t out)
{
    static const char fn[] = "lre_model_add_linear";
    if (!m) return LRE_EINVAL;
    char what[64];
    snprintf(what, sizeof what, "linear(%" PRId64 ",%" PRId64 ")", in, out);
    if (in < 1 || out < 1 || in > INT32_MAX || out > INT32_MAX)
        return lre_fail(m->ctx, LRE_EINVAL, "%s: %s: sizes must be in [1, 2^31)", fn, what);
    lre_status s = param_room(m, fn, what, out * in, out);
    if (s) return s;
    int64_t w = current_width(m);
    if (w && w != in)
        return lre_fail(m->ctx, LRE_ESHAPE,
                        "%s: layer %d linear(%" PRId64 ",%" PRId64 ") expects %" PRId64
                        " inputs but the layer before gives %" PRId64,
                        fn, m->n_layers + 1, in, out, in, w);
    lre_layer *l = push_layer(m, fn);
    if (!l) return m->initialized ? LRE_ESTATE : LRE_ENOMEM;
    l->kind = LRE_LAYER_LINEAR;
    l->in = in;
    l->out = out;
    l->wn = out * in;
    l->bn = out;
    l->fan_in = in;
    l->w_ndim = 2;
    l->w_shape[0] = out;
    l->w_shape[1] = in;
    m->n_layers++;
    return LRE_OK;
}

lre_status lre_model_add_act(lre_model *m, lre_act a, float param)
{
    static const char fn[] = "lre_model_add_act";
    if (!m) return LRE_EINVAL;
    if ((unsigned)a >= LRE_ACT_COUNT)
        return lre_fail(m->ctx, LRE_EINVAL, "%s: unknown activation %d", fn, (int)a);
    if (!isfinite(param))
        return lre_fail(m->ctx, LRE_EINVAL, "%s: %s parameter must be finite", fn,
                        lre_act_name(a));
    lre_layer *l = push_layer(m, fn);
    if (!l) return m->initialized ? LRE_ESTATE : LRE_ENOMEM;
    l->kind = LRE_LAYER_ACT;
    l->act = a;
    l->act_param = param;
    l->in = l->out = current_width(m);
    m->n_layers++;
    return LRE_OK;
}

lre_window lre_conv_window(int64_t k)
{
    return (lre_window){k, k, 1, 1, 0, 0, 1, 1, 1, 1};
}

lre_window lre_pool_window(int64_t k)
{
    return (lre_window){k, k, k, k, 0, 0, 1, 1, 1, 1};
}

/* "k=5,p=2" (what differs from the defaults of the layer's kind) into buf. */
static void window_desc(char *buf, size_t n, lre_layer_kind kind, const lre_window *w)
{
    size_t len = 0;
#define PUT(...) (len += (size_t)snprintf(buf + len, len < n ? n - len : 0, __VA_ARGS__))
#define PAIR(key, a, b)                                                             \
    do {                                                                            \
        if ((a) == (b)) PUT(",%s=%" PRId64, key, (int64_t)(a));                      \
        else PUT(",%s=%" PRId64 "x%" PRId64, key, (int64_t)(a), (int64_t)(b));       \
    } while (0)
    buf[0] = '\0';
    PAIR("k", w->kh, w->kw);
    const int pool = kind != LRE_LAYER_CONV2D;
    if (pool ? (w->sh != w->kh || w->sw != w->kw) : (w->sh != 1 || w->sw != 1))
        PAIR("s", w->sh, w->sw);
    if (w->ph || w->pw) PAIR("p", w->ph, w->pw);
    if (w->dh != 1 || w->dw != 1) PAIR("d", w->dh, w->dw);
    if (kind == LRE_LAYER_CONV2D && !w->bias) PUT(",bias=false");
    if (kind == LRE_LAYER_AVG_POOL2D && !w->count_include_pad) PUT(",count_include_pad=false");
#undef PAIR
#undef PUT
}

static lre_layer_info info_of(const lre_layer *l)
{
    lre_layer_info info;
    memset(&info, 0, sizeof info);
    info.kind = l->kind;
    info.in = l->in;
    info.out = l->out;
    info.act = LRE_ACT_RELU;
    if (l->kind == LRE_LAYER_ACT) {
        info.act = l->act;
        if (l->act == LRE_ACT_LEAKY_RELU) info.param = l->act_param;
    }
    if (l->kind == LRE_LAYER_DROPOUT) info.param = l->act_param;
    info.in_channels = l->cin;
    info.out_channels = l->cout;
    info.window = l->win;
    info.out_h = l->aoh;
    info.out_w = l->aow;
    info.norm_size = l->norm_n;
    info.eps = l->eps;
    info.affine = (l->kind == LRE_LAYER_LAYER_NORM || l->kind == LRE_LAYER_BATCH_NORM) &&
                  l->wn > 0;
    info.momentum = l->momentum;
    info.dims = l->bn_dims;
    return info;
}

/* ",key=v" in v's shortest form that reads back as v, or "" when v is
 * torch's default */
static void opt_float(char *out, size_t n, const char *key, float v, float dflt)
{
    out[0] = '\0';
    for (int digits = 1; v != dflt && digits <= 9; digits++) {
        int k = snprintf(out, n, ",%s=%.*g", key, digits, (double)v);
        if (k > 0 && (float)strtod(out + strlen(key) + 2, NULL) == v) break;
    }
}

const char *lre_layer_describe(const lre_layer_info *l, char *buf, size_t n)
{
    char win[160];
    if (!buf || !n) return buf;
    switch (l->kind) {
    case LRE_LAYER_LINEAR:
        snprintf(buf, n, "linear(%" PRId64 ",%" PRId64 ")", l->in, l->out);
        break;
    case LRE_LAYER_ACT:
        if (l->act == LRE_ACT_LEAKY_RELU)
            snprintf(buf, n, "leaky_relu(%g)", (double)l->param);
        else
            snprintf(buf, n, "%s", lre_act_name(l->act));
        break;
    case LRE_LAYER_CONV2D:
        window_desc(win, sizeof win, l->kind, &l->window);
        snprintf(buf, n, "conv2d(%" PRId64 ",%" PRId64 "%s)", l->in_channels, l->out_channels,
                 win);
        break;
    case LRE_LAYER_MAX_POOL2D:
    case LRE_LAYER_AVG_POOL2D:
        window_desc(win, sizeof win, l->kind, &l->window);
        snprintf(buf, n, "%s(%s)", l->kind == LRE_LAYER_MAX_POOL2D ? "max_pool2d" : "avg_pool2d",
                 win + 1);
        break;
    case LRE_LAYER_ADAPTIVE_AVG_POOL2D:
        if (l->out_h == l->out_w)
            snprintf(buf, n, "adaptive_avg_pool2d(%" PRId64 ")", l->out_h);
        else
            snprintf(buf, n, "adaptive_avg_pool2d(%" PRId64 "x%" PRId64 ")", l->out_h, l->out_w);
        break;
    case LRE_LAYER_FLATTEN:
        snprintf(buf, n, "flatten");
        break;
    case LRE_LAYER_LAYER_NORM: {
        char eps[40];
        opt_float(eps, sizeof eps, "eps", l->eps, 1e-5f);
        snprintf(buf, n, "layer_norm(%" PRId64 "%s%s)", l->norm_size, eps,
                 l->affine ? "" : ",elementwise_affine=false");
        break;
    }
    case LRE_LAYER_RESIDUAL:
        snprintf(buf, n, "residual");
        break;
    case LRE_LAYER_SHORTCUT:
        snprintf(buf, n, "shortcut");
        break;
    case LRE_LAYER_RESIDUAL_END:
        snprintf(buf, n, "residual end");
        break;
    case LRE_LAYER_DROPOUT: {
        char p[40];
        opt_float(p, sizeof p, "p", l->param, -1.0f);
        snprintf(buf, n, "dropout(%s)", p + 3);
        break;
    }
    case LRE_LAYER_BATCH_NORM: {
        char eps[40], mom[40];
        opt_float(eps, sizeof eps, "eps", l->eps, 1e-5f);
        opt_float(mom, sizeof mom, "momentum", l->momentum, 0.1f);
        snprintf(buf, n, "batch_norm%dd(%" PRId64 "%s%s%s)", l->dims, l->norm_size, eps, mom,
                 l->affine ? "" : ",affine=false");
        break;
    }
    default:
        snprintf(buf, n, "?");
        break;
    }
    return buf;
}

/* Layer l as describe writes it ("conv2d(1,6,k=5,p=2)"), into buf. */
static const char *layer_desc(const lre_layer *l, char *buf, size_t n)
{
    lre_layer_info info = info_of(l);
    return lre_layer_describe(&info, buf, n);
}

/* A window's numbers, checked where they do not depend on the input. */
static lre_status check_window(lre_model *m, const char *fn, const char *what,
                               lre_layer_kind kind, const lre_window *w)
{
    lre_ctx *ctx = m->ctx;
    if (!w) return lre_fail(ctx, LRE_EINVAL, "%s: the window is NULL", fn);
    const int64_t big = INT32_MAX;
    if (w->kh < 1 || w->kw < 1 || w->kh > big || w->kw > big)
        return lre_fail(ctx, LRE_EINVAL, "%s: layer %d (%s): kernel_size %" PRId64 "x%" PRId64
                        " must be in [1, 2^31)", fn, m->n_layers + 1, what, w->kh, w->kw);
    if (w->sh < 1 || w->sw < 1 || w->sh > big || w->sw > big)
        return lre_fail(ctx, LRE_EINVAL, "%s: layer %d (%s): stride %" PRId64 "x%" PRId64
                        " must be in [1, 2^31)", fn, m->n_layers + 1, what, w->sh, w->sw);
    if (w->ph < 0 || w->pw < 0 || w->ph > big || w->pw > big)
        return lre_fail(ctx, LRE_EINVAL, "%s: layer %d (%s): padding %" PRId64 "x%" PRId64
                        " must be in [0, 2^31)", fn, m->n_layers + 1, what, w->ph, w->pw);
    if (w->dh < 1 || w->dw < 1 || w->dh > big || w->dw > big)
        return lre_fail(ctx, LRE_EINVAL, "%s: layer %d (%s): dilation %" PRId64 "x%" PRId64
                        " must be in [1, 2^31)", fn, m->n_layers + 1, what, w->dh, w->dw);
    if (kind == LRE_LAYER_AVG_POOL2D && (w->dh != 1 || w->dw != 1))
        return lre_fail(ctx, LRE_EINVAL, "%s: layer %d (%s): average pooling has no dilation",
                        fn, m->n_layers + 1, what);
    if (kind != LRE_LAYER_CONV2D &&
        (2 * w->ph > w->dh * (w->kh - 1) + 1 || 2 * w->pw > w->dw * (w->kw - 1) + 1))
        return lre_fail(ctx, LRE_EINVAL, "%s: layer %d (%s): padding %" PRId64 "x%" PRId64
                        " is more than half the %" PRId64 "x%" PRId64 " window (as torch, a "
                        "window must not lie in the padding)", fn, m->n_layers + 1, what,
                        w->ph, w->pw, w->kh, w->kw);
    return LRE_OK;
}

/* The channels the layers before give, where a conv2d fixes them (pooling
 * keeps them), else 0. */
static int64_t current_channels(const lre_model *m)
{
    for (int i = m->n_layers - 1; i >= 0; i--) {
        const lre_layer *l = &m->layers[i];
        if (l->kind == LRE_LAYER_CONV2D) return l->cout;
        if (l->kind == LRE_LAYER_LINEAR || l->kind == LRE_LAYER_FLATTEN ||
            l->kind >= LRE_LAYER_RESIDUAL)
            return 0;
    }
    return 0;
}

lre_status lre_model_add_conv2d(lre_model *m, int64_t in_channels, int64_t out_channels,
                                const lre_window *w)
{
    static const char fn[] = "lre_model_add_conv2d";
    if (!m) return LRE_EINVAL;
    lre_layer tmp = {.kind = LRE_LAYER_CONV2D, .cin = in_channels, .cout = out_channels};
    if (w) tmp.win = *w;
    char what[200];
    layer_desc(&tmp, what, sizeof what);
    if (in_channels < 1 || out_channels < 1 || in_channels > INT32_MAX ||
        out_channels > INT32_MAX)
        return lre_fail(m->ctx, LRE_EINVAL, "%s: layer %d (%s): channels must be in [1, 2^31)",
                        fn, m->n_layers + 1, what);
    lre_status s = check_window(m, fn, what, LRE_LAYER_CONV2D, w);
    if (s) return s;
    const int64_t K = w->kh > INT32_MAX / w->kw || w->kh * w->kw > INT32_MAX / in_channels
                          ? LRE_TOO_MANY
                          : in_channels * w->kh * w->kw;
    if (K > INT32_MAX)
        return lre_fail(m->ctx, LRE_EINVAL, "%s: layer %d (%s): in_channels x kernel is more "
                        "than 2^31", fn, m->n_layers + 1, what);
    if ((s = param_room(m, fn, what, out_channels * K, w->bias ? out_channels : 0))) return s;
    int64_t c = current_channels(m);
    if (c && c != in_channels)
        return lre_fail(m->ctx, LRE_ESHAPE, "%s: layer %d (%s) expects %" PRId64 " channels, "
                        "the conv2d before gives %" PRId64, fn, m->n_layers + 1, what,
                        in_channels, c);
    lre_layer *l = push_layer(m, fn);
    if (!l) return m->initialized ? LRE_ESTATE : LRE_ENOMEM;
    memcpy(tmp.pname, l->pname, sizeof tmp.pname); /* push_layer named it */
    *l = tmp;
    l->wn = out_channels * K;
    l->bn = w->bias ? out_channels : 0;
    l->fan_in = K;
    l->w_ndim = 4;
    l->w_shape[0] = out_channels;
    l->w_shape[1] = in_channels;
    l->w_shape[2] = w->kh;
    l->w_shape[3] = w->kw;
    m->n_layers++;
    return LRE_OK;
}

static lre_status add_pool(lre_model *m, lre_layer_kind kind, const lre_window *w,
                           const char *fn)
{
    if (!m) return LRE_EINVAL;
    lre_layer tmp = {.kind = kind};
    if (w) tmp.win = *w;
    char what[200];
    layer_desc(&tmp, what, sizeof what);
    lre_status s = check_window(m, fn, what, kind, w);
    if (s) return s;
    lre_layer *l = push_layer(m, fn);
    if (!l) return m->initialized ? LRE_ESTATE : LRE_ENOMEM;
    memcpy(tmp.pname, l->pname, sizeof tmp.pname); /* push_layer named it */
    *l = tmp;
    m->n_layers++;
    return LRE_OK;
}

lre_status lre_model_add_max_pool2d(lre_model *m, const lre_window *w)
{
    return add_pool(m, LRE_LAYER_MAX_POOL2D, w, "lre_model_add_max_pool2d");
}

lre_status lre_model_add_avg_pool2d(lre_model *m, const lre_window *w)
{
    return add_pool(m, LRE_LAYER_AVG_POOL2D, w, "lre_model_add_avg_pool2d");
}

lre_status lre_model_add_adaptive_avg_pool2d(lre_model *m, int64_t oh, int64_t ow)
{
    static const char fn[] = "lre_model_add_adaptive_avg_pool2d";
    if (!m) return LRE_EINVAL;
    if (oh < 1 || ow < 1 || oh > INT32_MAX || ow > INT32_MAX)
        return lre_fail(m->ctx, LRE_EINVAL, "%s: layer %d (adaptive_avg_pool2d): output size %"
                        PRId64 "x%" PRId64 " must be in [1, 2^31)", fn, m->n_layers + 1, oh, ow);
    lre_layer *l = push_layer(m, fn);
    if (!l) return m->initialized ? LRE_ESTATE : LRE_ENOMEM;
    l->kind = LRE_LAYER_ADAPTIVE_AVG_POOL2D;
    l->aoh = oh;
    l->aow = ow;
    m->n_layers++;
    return LRE_OK;
}

lre_status lre_model_add_layer_norm(lre_model *m, int64_t n, float eps, int affine)
{
    static const char fn[] = "lre_model_add_layer_norm";
    if (!m) return LRE_EINVAL;
    if (n < 1 || n > INT32_MAX)
        return lre_fail(m->ctx, LRE_EINVAL, "%s: layer %d: layer_norm(%" PRId64 "): the "
                        "size must be in [1, 2^31)", fn, m->n_layers + 1, n);
    if (!(eps > 0.0f) || !isfinite(eps))
        return lre_fail(m->ctx, LRE_EINVAL, "%s: layer %d: layer_norm(%" PRId64 "): eps %g "
                        "must be > 0 and finite", fn, m->n_layers + 1, n, (double)eps);
    char what[64];
    snprintf(what, sizeof what, "layer_norm(%" PRId64 ")", n);
    lre_status s = affine ? param_room(m, fn, what, n, n) : LRE_OK;
    if (s) return s;
    int64_t w = current_width(m);
    if (w && w != n)
        return lre_fail(m->ctx, LRE_ESHAPE, "%s: layer %d (%s) normalises %" PRId64 " values "
                        "but the layer before gives %" PRId64, fn, m->n_layers + 1, what, n, w);
    lre_layer *l = push_layer(m, fn);
    if (!l) return m->initialized ? LRE_ESTATE : LRE_ENOMEM;
    l->kind = LRE_LAYER_LAYER_NORM;
    l->norm_n = n;
    l->eps = eps;
    l->in = l->out = w;
    if (affine) {
        l->wn = l->bn = n;
        l->fan_in = n;
        l->w_ndim = 1;
        l->w_shape[0] = n;
        l->init_ones = 1;
    }
    m->n_layers++;
    return LRE_OK;
}

lre_status lre_model_add_batch_norm(lre_model *m, int dims, int64_t c, float eps,
                                    float momentum, int affine)
{
    static const char fn[] = "lre_model_add_batch_norm";
    if (!m) return LRE_EINVAL;
    if (dims != 1 && dims != 2)
        return lre_fail(m->ctx, LRE_EINVAL, "%s: layer %d: dims %d is not 1 (BatchNorm1d) or 2 "
                        "(BatchNorm2d)", fn, m->n_layers + 1, dims);
    char what[64];
    snprintf(what, sizeof what, "batch_norm%dd(%" PRId64 ")", dims, c);
    if (c < 1 || c > INT32_MAX)
        return lre_fail(m->ctx, LRE_EINVAL, "%s: layer %d (%s): the channels must be in [1, "
                        "2^31)", fn, m->n_layers + 1, what);
    if (!(eps > 0.0f) || !isfinite(eps))
        return lre_fail(m->ctx, LRE_EINVAL, "%s: layer %d (%s): eps %g must be > 0 and finite",
                        fn, m->n_layers + 1, what, (double)eps);
    if (!(momentum >= 0.0f && momentum <= 1.0f))
        return lre_fail(m->ctx, LRE_EINVAL, "%s: layer %d (%s): momentum %g must be in [0, 1]",
                        fn, m->n_layers + 1, what, (double)momentum);
    lre_status s = affine ? param_room(m, fn, what, c, c) : LRE_OK;
    if (s) return s;
    int64_t w = current_width(m), ch = current_channels(m);
    if (dims == 1 && w && w != c)
        return lre_fail(m->ctx, LRE_ESHAPE, "%s: layer %d (%s) expects %" PRId64 " features, "
                        "the layer before gives %" PRId64, fn, m->n_layers + 1, what, c, w);
    if (dims == 2 && ch && ch != c)
        return lre_fail(m->ctx, LRE_ESHAPE, "%s: layer %d (%s) expects %" PRId64 " channels, "
                        "the conv2d before gives %" PRId64, fn, m->n_layers + 1, what, c, ch);
    lre_layer *l = push_layer(m, fn);
    if (!l) return m->initialized ? LRE_ESTATE : LRE_ENOMEM;
    l->kind = LRE_LAYER_BATCH_NORM;
    l->norm_n = c;
    l->eps = eps;
    l->momentum = momentum;
    l->bn_dims = dims;
    l->in = l->out = dims == 1 ? w : 0;
    if (affine) {
        l->wn = l->bn = c;
        l->fan_in = c;
        l->w_ndim = 1;
        l->w_shape[0] = c;
        l->init_ones = 1;
    }
    m->n_layers++;
    return LRE_OK;
}

lre_status lre_model_add_dropout(lre_model *m, float p)
{
    static const char fn[] = "lre_model_add_dropout";
    if (!m) return LRE_EINVAL;
    if (!(p >= 0.0f && p < 1.0f))
        return lre_fail(m->ctx, LRE_EINVAL, "%s: layer %d: dropout p %g must be in [0, 1)", fn,
                        m->n_layers + 1, (double)p);
    lre_layer *l = push_layer(m, fn);
    if (!l) return m->initialized ? LRE_ESTATE : LRE_ENOMEM;
    l->kind = LRE_LAYER_DROPOUT;
    l->act_param = p;
    l->in = l->out = current_width(m);
    m->n_layers++;
    return LRE_OK;
}

lre_status lre_model_begin_residual(lre_model *m)
{
    static const char fn[] = "lre_model_begin_residual";
    if (!m) return LRE_EINVAL;
    if (m->open_res >= 0)
        return lre_fail(m->ctx, LRE_EINVAL, "%s: layer %d: residual block %s is still open "
                        "(blocks do not nest)", fn, m->n_layers + 1, m->layers[m->open_res].pname);
    lre_layer *l = push_layer(m, fn);
    if (!l) return m->initialized ? LRE_ESTATE : LRE_ENOMEM;
    l->kind = LRE_LAYER_RESIDUAL;
    l->res_a = -1;
    m->block_top = m->top - 1;
    l->in = l->out = current_width(m);
    m->open_res = m->n_layers++;
    m->in_shortcut = 0;
    m->inner = 0;
    return LRE_OK;
}

lre_status lre_model_begin_shortcut(lre_model *m)
{
    static const char fn[] = "lre_model_begin_shortcut";
    if (!m) return LRE_EINVAL;
    if (m->open_res < 0 || m->in_shortcut)
        return lre_fail(m->ctx, LRE_EINVAL, "%s: layer %d: %s", fn, m->n_layers + 1,
                        m->open_res < 0 ? "a shortcut belongs in a residual block (none is open)"
                                        : "the block already has its shortcut");
    if (m->open_res == m->n_layers - 1)
        return lre_fail(m->ctx, LRE_EINVAL, "%s: residual block %s has no layers before its "
                        "shortcut", fn, m->layers[m->open_res].pname);
    lre_layer *l = push_layer(m, fn);
    if (!l) return m->initialized ? LRE_ESTATE : LRE_ENOMEM;
    m->inner--; /* the marker takes no index */
    snprintf(l->pname, sizeof l->pname, "%d.shortcut", m->block_top);
    l->kind = LRE_LAYER_SHORTCUT;
    m->layers[m->open_res].res_a = m->n_layers;
    m->n_layers++;
    m->in_shortcut = 1;
    m->inner = 0;
    return LRE_OK;
}

lre_status lre_model_end_residual(lre_model *m)
{
    static const char fn[] = "lre_model_end_residual";
    if (!m) return LRE_EINVAL;
    if (m->open_res < 0)
        return lre_fail(m->ctx, LRE_EINVAL, "%s: layer %d: no residual block is open", fn,
                        m->n_layers + 1);
    const int b = m->open_res, sc = m->layers[b].res_a, last = m->n_layers - 1;
    if (last == b || last == sc)
        return lre_fail(m->ctx, LRE_EINVAL, "%s: residual block %s: its %s has no layers", fn,
                        m->layers[b].pname, last == b ? "branch" : "shortcut");
    lre_layer *l = push_layer(m, fn);
    if (!l) return m->initialized ? LRE_ESTATE : LRE_ENOMEM;
    m->inner--;
    snprintf(l->pname, sizeof l->pname, "%d", m->block_top);
    l->kind = LRE_LAYER_RESIDUAL_END;
    l->res_a = sc >= 0 ? sc - 1 : last; /* the branch's last layer */
    l->res_b = sc >= 0 ? last : b;      /* the shortcut's last, or the block's input */
    m->layers[b].res_b = m->n_layers;
    m->n_layers++;
    m->open_res = -1;
    m->in_shortcut = 0;
    return LRE_OK;
}

const char *lre_model_layer_name(const lre_model *m, int i)
{
    return (m && i >= 0 && i < m->n_layers) ? m->layers[i].pname : NULL;
}

lre_status lre_model_add_flatten(lre_model *m)
{
    if (!m) return LRE_EINVAL;
    if (m->open_res >= 0)
        return lre_fail(m->ctx, LRE_EINVAL, "lre_model_add_flatten: layer %d: a residual block "
                        "keeps its input's shape: no flatten inside (block %s)",
                        m->n_layers + 1, m->layers[m->open_res].pname);
    lre_layer *l = push_layer(m, "lre_model_add_flatten");
    if (!l) return m->initialized ? LRE_ESTATE : LRE_ENOMEM;
    l->kind = LRE_LAYER_FLATTEN;
    l->in = l->out = current_width(m);
    m->n_layers++;
    return LRE_OK;
}

/* ------------------------------------------------------------ shapes */

static const char *shape_text(char *buf, size_t n, int nd, const int64_t *sh)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int k = 0; k < nd && len < n; k++)
        len += (size_t)snprintf(buf + len, n - len, "%s%" PRId64, k ? "x" : "", sh[k]);
    return buf;
}

/* The product of the sizes (each >= 1), saturated: LRE_TOO_MANY stands for
 * any product past 2^31 - 1, so that no product of four sizes overflows. */
static int64_t shape_count(int nd, const int64_t *sh)
{
    int64_t n = 1;
    for (int k = 0; k < nd; k++) {
        if (sh[k] > LRE_TOO_MANY / n) return LRE_TOO_MANY;
        n *= sh[k];
        if (n > INT32_MAX) return LRE_TOO_MANY;
    }
    return n;
}

lre_status lre_model_set_input_shape(lre_model *m, int ndim, const int64_t *shape)
{
    static const char fn[] = "model";
    if (!m) return LRE_EINVAL;
    lre_ctx *ctx = m->ctx;
    if (ndim < 1 || ndim > LRE_MAX_DIMS || !shape)
        return lre_fail(ctx, LRE_EINVAL, "%s: an input row shape has 1 to %d sizes (got %d)", fn,
                        LRE_MAX_DIMS, ndim);
    for (int k = 0; k < ndim; k++)
        if (shape[k] < 1 || shape[k] > INT32_MAX)
            return lre_fail(ctx, LRE_EINVAL, "%s: input row size %d (%" PRId64 ") is out of "
                            "range", fn, k + 1, shape[k]);
    if (m->n_layers == 0) return lre_fail(ctx, LRE_ESTATE, "%s: it has no layers", fn);
    m->in_ndim = 0;
    int nd = ndim;
    int64_t sh[LRE_MAX_DIMS];
    memcpy(sh, shape, (size_t)ndim * sizeof *sh);
    char src[240], me[200], dims[96], prev[200], dims_in[96];
    if (shape_count(nd, sh) > INT32_MAX)
        return lre_fail(ctx, LRE_ESHAPE, "%s: the input's rows (%s) have 2^31 values or more",
                        fn, shape_text(dims_in, sizeof dims_in, nd, sh));
    if (m->owner)
        return lre_fail(ctx, LRE_ESTATE, "%s: the model belongs to a trainer, whose dataset "
                        "gave it its input shape", fn);
    for (int i = 0; i < m->n_layers; i++) {
        lre_layer *l = &m->layers[i];
        const int64_t n = shape_count(nd, sh);
        layer_desc(l, me, sizeof me);
        shape_text(dims, sizeof dims, nd, sh);
        if (i == 0)
            snprintf(src, sizeof src, "the input (rows of %s)", dims);
        else
            snprintf(src, sizeof src, "layer %d (%s, rows of %s)", i,
                     layer_desc(&m->layers[i - 1], prev, sizeof prev), dims);
        if (l->kind != LRE_LAYER_LINEAR) l->in = n; /* a linear's is its in_features */
        switch (l->kind) {
        case LRE_LAYER_LINEAR:
            if (n != l->in)
                return lre_fail(ctx, LRE_ESHAPE, "%s: layer %d (%s) expects %" PRId64
                                " features, gets %" PRId64 " from %s", fn, i + 1, me, l->in, n,
                                src);
            nd = 1;
            sh[0] = l->out;
            break;
        case LRE_LAYER_ACT: /* the shape stays */
        case LRE_LAYER_DROPOUT:
            break;
        case LRE_LAYER_RESIDUAL: /* the block's input, kept for its other side */
            l->res_nd = nd;
            memcpy(l->res_sh, sh, sizeof sh);
            break;
        case LRE_LAYER_SHORTCUT: { /* from the block's input again */
            const lre_layer *b = &m->layers[i - 1];
            int bi = i - 1;
            while (m->layers[bi].kind != LRE_LAYER_RESIDUAL) bi--;
            b = &m->layers[bi];
            nd = (int)b->res_nd;
            memcpy(sh, b->res_sh, sizeof sh);
            l->in = shape_count(nd, sh);
            break;
        }
        case LRE_LAYER_RESIDUAL_END: { /* the branch's output + the other side's */
            const lre_layer *fa = &m->layers[l->res_a], *fb = &m->layers[l->res_b];
            const int nb = fb->kind == LRE_LAYER_RESIDUAL ? (int)fb->res_nd : fb->ndim;
            const int64_t *sb = fb->kind == LRE_LAYER_RESIDUAL ? fb->res_sh : fb->shape;
            char da[96], db2[96];
            shape_text(da, sizeof da, fa->ndim, fa->shape);
            shape_text(db2, sizeof db2, nb, sb);
            if (fa->ndim != nb || memcmp(fa->shape, sb, (size_t)nb * sizeof *sb) != 0)
                return lre_fail(ctx, LRE_ESHAPE, "%s: residual block %s adds its branch's rows "
                                "of %s to %s rows of %s: %s", fn, l->pname, da,
                                fb->kind == LRE_LAYER_RESIDUAL ? "its input's" : "its shortcut's",
                                db2, fb->kind == LRE_LAYER_RESIDUAL
                                         ? "without a shortcut the branch must keep the input's "
                                           "shape (add shortcut = {...} to change it)"
                                         : "the two sides must give the same shape");
            nd = fa->ndim;
            memcpy(sh, fa->shape, sizeof sh);
            break;
        }
        case LRE_LAYER_FLATTEN:
            nd = 1;
            sh[0] = n;
            break;
        case LRE_LAYER_BATCH_NORM: { /* channels: the row's first size (one for H×W) */
            const int64_t C = l->bn_dims == 1 ? sh[0] : nd == 3 ? sh[0] : 1;
            const int ok = l->bn_dims == 1 ? nd <= 2 : (nd == 2 || nd == 3);
            if (!ok || C != l->norm_n)
                return lre_fail(ctx, LRE_ESHAPE, "%s: layer %d (%s) expects rows of %s with %"
                                PRId64 " channels, and gets rows of %s from %s", fn, i + 1, me,
                                l->bn_dims == 1 ? "C or CxL values" : "CxHxW (or HxW) values",
                                l->norm_n, dims, src);
            l->bn_S = n / C;
            break;
        }
        case LRE_LAYER_LAYER_NORM: /* torch: the last dimension is the one normalised */
            if (sh[nd - 1] != l->norm_n)
                return lre_fail(ctx, LRE_ESHAPE, "%s: layer %d (%s) normalises the last %"
                                PRId64 " values of a row, and gets rows of %s from %s (flatten "
                                "first to normalise a whole row)", fn, i + 1, me, l->norm_n,
                                dims, src);
            break;
        default: { /* an image layer */
            if (nd != 2 && nd != 3)
                return lre_fail(ctx, LRE_ESHAPE, "%s: layer %d (%s) needs images, rows of "
                                "CxHxW or HxW values, and gets rows of %s from %s%s", fn, i + 1,
                                me, dims, i == 0 ? "the input" : src,
                                i == 0 && nd == 1 ? " (give the data its image shape: "
                                                    "ds:reshape{C, H, W} in Lua, "
                                                    "lre_dataset_reshape in C)" : "");
            const int64_t C = nd == 3 ? sh[0] : 1, H = sh[nd - 2], W = sh[nd - 1];
            const lre_window w = l->win;
            if (l->kind == LRE_LAYER_CONV2D && C != l->cin)
                return lre_fail(ctx, LRE_ESHAPE, "%s: layer %d (%s) expects %" PRId64
                                " channels, gets %" PRId64 " from %s", fn, i + 1, me, l->cin, C,
                                src);
            if (l->kind == LRE_LAYER_ADAPTIVE_AVG_POOL2D) /* windows of any size */
                l->g = (lre_conv_geom){C, H, W, 0, 0, 0, 0, 0, 0, 1, 1, l->aoh, l->aow};
            else if (lre_conv_geom_init(ctx, &l->g, C, H, W, w.kh, w.kw, w.sh, w.sw, w.ph, w.pw,
                                        w.dh, w.dw) != LRE_OK) {
                char why[300];
                snprintf(why, sizeof why, "%s", lre_ctx_error(ctx));
                return lre_fail(ctx, LRE_ESHAPE, "%s: layer %d (%s) on %" PRId64 "x%" PRId64
                                "x%" PRId64 " images from %s: %s", fn, i + 1, me, C, H, W, src,
                                why);
            }
            nd = 3;
            sh[0] = l->kind == LRE_LAYER_CONV2D ? l->cout : C;
            sh[1] = l->g.OH;
            sh[2] = l->g.OW;
            break;
        }
        }
        l->out = shape_count(nd, sh);
        if (l->out > INT32_MAX)
            return lre_fail(ctx, LRE_ESHAPE, "%s: layer %d (%s) gives rows of %s: 2^31 values "
                            "or more", fn, i + 1, me, shape_text(dims, sizeof dims, nd, sh));
        l->ndim = nd; /* this layer's output shape */
        memcpy(l->shape, sh, sizeof sh);
    }
    m->in_ndim = ndim;
    memcpy(m->in_shape, shape, (size_t)ndim * sizeof *shape);
    return LRE_OK;
}

static lre_status make_views(lre_model *m)
{
    for (int i = 0; i < m->n_layers; i++) {
        lre_layer *l = &m->layers[i];
        if (!lre_layer_has_params(l)) continue;
        /* (out, in), or (O, C·KH·KW) for conv2d; a layer_norm's is 1-D */
        int64_t ws[2] = {l->w_shape[0], l->wn / l->w_shape[0]}, bs[1] = {l->bn};
        const int wd = l->w_ndim == 1 ? 1 : 2;
        lre_status s;
        if ((s = lre_tensor_view(&l->w, m->params, l->w_off, wd, ws)) ||
            (s = lre_tensor_view(&l->dw, m->grads, l->w_off, wd, ws)))
            return s;
        if (l->bn && ((s = lre_tensor_view(&l->b, m->params, l->b_off, 1, bs)) ||
                      (s = lre_tensor_view(&l->db, m->grads, l->b_off, 1, bs))))
            return s;
    }
    for (int i = 0; i < m->n_layers; i++) {
        lre_layer *l = &m->layers[i];
        if (l->kind != LRE_LAYER_BATCH_NORM) continue;
        lre_status s;
        if ((s = lre_tensor_view(&l->rm, m->buffers, l->buf_off, 1, &l->norm_n)) ||
            (s = lre_tensor_view(&l->rv, m->buffers, l->buf_off + l->norm_n, 1, &l->norm_n)))
            return s;
    }
    return LRE_OK;
}

/* Allocates the flat buffers on first use. */
static lre_status model_alloc(lre_model *m)
{
    if (m->params) return LRE_OK;
    if (m->n_layers == 0)
        return lre_fail(m->ctx, LRE_ESTATE, "model: it has no layers");
    if (m->open_res >= 0)
        return lre_fail(m->ctx, LRE_ESTATE, "model: residual block %s is not closed "
                        "(lre_model_end_residual)", m->layers[m->open_res].pname);
    int64_t n = 0;
    for (int i = 0; i < m->n_layers; i++) {
        lre_layer *l = &m->layers[i];
        if (!lre_layer_has_params(l)) continue;
        l->w_off = n;
        n += l->wn;
        l->b_off = n;
        n += l->bn;
    }
    if (n == 0)
        return lre_fail(m->ctx, LRE_ESTATE, "model: it has no layer with parameters (a linear "
                        "or conv2d)");
    m->n_params = n;
    int64_t nb = 0;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].kind == LRE_LAYER_BATCH_NORM) {
            m->layers[i].buf_off = nb;
            nb += 2 * m->layers[i].norm_n;
        }
    m->n_buffers = nb;
    lre_status s;
    if ((s = lre_tensor_new(m->ctx, &m->params, LRE_F32, 1, &n)) ||
        (s = lre_tensor_new(m->ctx, &m->grads, LRE_F32, 1, &n)) ||
        (nb && (s = lre_tensor_new(m->ctx, &m->buffers, LRE_F32, 1, &nb))) ||
        (s = make_views(m)))
        return s;
    return LRE_OK;
}

lre_status lre_model_init(lre_model *m, uint64_t seed)
{
    if (!m) return LRE_EINVAL;
    lre_status s = model_alloc(m);
    if (s) return s;
    /* Drawn on the host from Philox(seed), then copied: identical on every
     * device. nn.Linear's and nn.Conv2d's reset_parameters:
     * kaiming_uniform_(a=√5) gives U(-1/√fan_in, 1/√fan_in) for the weight,
     * and the bias is U(-1/√fan_in, 1/√fan_in); fan_in = in_features, or
     * in_channels·KH·KW. */
    lre_ctx *ctx = m->ctx;
    size_t bytes = (size_t)m->n_params * sizeof(float);
    float *host = lre_malloc(ctx, bytes, "model initialisation");
    if (!host) return LRE_ENOMEM;
    lre_rng rng;
    lre_rng_seed(&rng, seed);
    for (int i = 0; i < m->n_layers; i++) {
        lre_layer *l = &m->layers[i];
        if (!lre_layer_has_params(l)) continue;
        if (l->init_ones) { /* nn.LayerNorm: weight 1, bias 0, nothing drawn */
            for (int64_t k = 0; k < l->wn; k++) host[l->w_off + k] = 1.0f;
            for (int64_t k = 0; k < l->bn; k++) host[l->b_off + k] = 0.0f;
            continue;
        }
        float bound = (float)(1.0 / sqrt((double)l->fan_in));
        for (int64_t k = 0; k < l->wn + l->bn; k++)
            host[l->w_off + k] = (2.0f * lre_rng_uniform(&rng) - 1.0f) * bound;
    }
    s = lre_tensor_from_host(m->params, host, bytes);
    lre_free(ctx, host, bytes);
    if (s) return s;
    if ((s = lre_model_reset_buffers(m))) return s;
    m->initialized = true;
    return LRE_OK;
}

lre_status lre_model_reset_buffers(lre_model *m)
{
    if (!m->buffers) return LRE_OK;
    size_t bytes = (size_t)m->n_buffers * sizeof(float);
    float *host = lre_malloc(m->ctx, bytes, "running statistics");
    if (!host) return LRE_ENOMEM;
    for (int i = 0; i < m->n_layers; i++) { /* running mean 0, running variance 1 */
        lre_layer *l = &m->layers[i];
        if (l->kind != LRE_LAYER_BATCH_NORM) continue;
        for (int64_t k = 0; k < l->norm_n; k++) {
            host[l->buf_off + k] = 0.0f;
            host[l->buf_off + l->norm_n + k] = 1.0f;
        }
        l->nbt = 0;
    }
    lre_status s = lre_tensor_from_host(m->buffers, host, bytes);
    lre_free(m->ctx, host, bytes);
    return s;
}

/* Appends a copy of layer l (as added) to c. */
static lre_status add_like(lre_model *c, const lre_layer *l)
{
    switch (l->kind) {
    case LRE_LAYER_LINEAR: return lre_model_add_linear(c, l->in, l->out);
    case LRE_LAYER_ACT: return lre_model_add_act(c, l->act, l->act_param);
    case LRE_LAYER_CONV2D: return lre_model_add_conv2d(c, l->cin, l->cout, &l->win);
    case LRE_LAYER_MAX_POOL2D: return lre_model_add_max_pool2d(c, &l->win);
    case LRE_LAYER_AVG_POOL2D: return lre_model_add_avg_pool2d(c, &l->win);
    case LRE_LAYER_ADAPTIVE_AVG_POOL2D:
        return lre_model_add_adaptive_avg_pool2d(c, l->aoh, l->aow);
    case LRE_LAYER_LAYER_NORM: return lre_model_add_layer_norm(c, l->norm_n, l->eps, l->wn > 0);
    case LRE_LAYER_DROPOUT: return lre_model_add_dropout(c, l->act_param);
    case LRE_LAYER_RESIDUAL: return lre_model_begin_residual(c);
    case LRE_LAYER_SHORTCUT: return lre_model_begin_shortcut(c);
    case LRE_LAYER_RESIDUAL_END: return lre_model_end_residual(c);
    case LRE_LAYER_BATCH_NORM:
        return lre_model_add_batch_norm(c, l->bn_dims, l->norm_n, l->eps, l->momentum,
                                        l->wn > 0);
    default: return lre_model_add_flatten(c);
    }
}

lre_status lre_model_clone(const lre_model *m, lre_model **out)
{
    if (!m) return LRE_EINVAL;
    lre_ctx *ctx = m->ctx;
    if (!out) return lre_fail(ctx, LRE_EINVAL, "lre_model_clone: out is NULL");
    *out = NULL;
    lre_model *c = NULL;
    lre_status s = lre_model_new(ctx, &c);
    for (int i = 0; !s && i < m->n_layers; i++) s = add_like(c, &m->layers[i]);
    if (!s && m->in_ndim) s = lre_model_set_input_shape(c, m->in_ndim, m->in_shape);
    /* the same values: allocated (and drawn, then overwritten) as the source's */
    if (!s && m->initialized && !(s = lre_model_init(c, 0)))
        s = lre_tensor_copy(c->params, m->params);
    if (!s && m->initialized && m->buffers) { /* the running statistics too */
        s = lre_tensor_copy(c->buffers, m->buffers);
        for (int i = 0; i < m->n_layers; i++) c->layers[i].nbt = m->layers[i].nbt;
    }
    if (s) {
        lre_model_release(c);
        return s;
    }
    *out = c;
    return LRE_OK;
}

int lre_model_initialized(const lre_model *m) { return m && m->initialized; }
int lre_model_num_layers(const lre_model *m) { return m ? m->n_layers : 0; }
lre_layer_kind lre_model_layer_kind(const lre_model *m, int i) { return m->layers[i].kind; }

lre_layer_info lre_model_layer_info(const lre_model *m, int i)
{
    return info_of(&m->layers[i]);
}

int64_t lre_model_in_features(const lre_model *m)
{
    if (m->in_ndim) return shape_count(m->in_ndim, m->in_shape);
    for (int i = 0; i < m->n_layers; i++) {
        const lre_layer *l = &m->layers[i];
        if (l->kind == LRE_LAYER_LINEAR) return l->in;
        if (l->kind != LRE_LAYER_ACT && l->kind != LRE_LAYER_FLATTEN &&
            l->kind != LRE_LAYER_LAYER_NORM && l->kind != LRE_LAYER_DROPOUT)
            return 0;
    }
    return 0;
}

int64_t lre_model_out_features(const lre_model *m)
{
    if (m->in_ndim) return m->layers[m->n_layers - 1].out;
    return current_width(m);
}

int64_t lre_model_num_params(const lre_model *m)
{
    int64_t n = 0;
    for (int i = 0; i < m->n_layers; i++) n += m->layers[i].wn + m->layers[i].bn;
    return n;
}

/* Layer i's piece of the description (its separator included), into one. */
static const char *describe_piece(const lre_model *m, int i, int *open, char *one, size_t n)
{
    const lre_layer *l = &m->layers[i];
    const char *sep = i && !*open ? " " : ""; /* after "{": no space */
    char d[200];
    *open = l->kind == LRE_LAYER_RESIDUAL || l->kind == LRE_LAYER_SHORTCUT;
    if (l->kind == LRE_LAYER_RESIDUAL)
        snprintf(one, n, "%sresidual{", sep);
    else if (l->kind == LRE_LAYER_SHORTCUT)
        snprintf(one, n, ";shortcut{");
    else if (l->kind == LRE_LAYER_RESIDUAL_END)
        snprintf(one, n, "%s", m->layers[l->res_b].kind == LRE_LAYER_RESIDUAL ? "}" : "}}");
    else
        snprintf(one, n, "%s%s", sep, layer_desc(l, d, sizeof d));
    return one;
}

const char *lre_model_describe(const lre_model *m, char *buf, size_t n)
{
    if (!buf || !n) return buf;
    buf[0] = '\0';
    size_t len = 0;
    char one[256];
    int open = 0;
    for (int i = 0; i < m->n_layers && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s",
                                describe_piece(m, i, &open, one, sizeof one));
    return buf;
}

uint64_t lre_model_arch_hash(const lre_model *m)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a over lre_model_describe's text */
    char one[256];
    int open = 0;
    for (int i = 0; i < m->n_layers; i++)
        for (const char *c = describe_piece(m, i, &open, one, sizeof one); *c; c++)
            h = (h ^ (uint8_t)*c) * 1099511628211ull;
    return h;
}

lre_tensor *lre_model_params(lre_model *m) { return m ? m->params : NULL; }
lre_tensor *lre_model_grads(lre_model *m) { return m ? m->grads : NULL; }

static lre_layer *layer_at(lre_model *m, int i)
{
    return (m && i >= 0 && i < m->n_layers) ? &m->layers[i] : NULL;
}
lre_tensor *lre_model_weight(lre_model *m, int i) { lre_layer *l = layer_at(m, i); return l ? l->w : NULL; }
lre_tensor *lre_model_bias(lre_model *m, int i) { lre_layer *l = layer_at(m, i); return l ? l->b : NULL; }
lre_tensor *lre_model_weight_grad(lre_model *m, int i) { lre_layer *l = layer_at(m, i); return l ? l->dw : NULL; }
lre_tensor *lre_model_bias_grad(lre_model *m, int i) { lre_layer *l = layer_at(m, i); return l ? l->db : NULL; }
