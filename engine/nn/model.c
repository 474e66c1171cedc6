/*
 * model.c — a Sequential of Linear and activation layers. All parameters
 * live in one flat buffer and all gradients in another, so an optimizer
 * step and a snapshot each touch a single buffer; each layer's weight and
 * bias are views into them, laid out as PyTorch's state_dict orders them.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/nn.h"

lre_status lre_model_new(lre_ctx *ctx, lre_model **out)
{
    if (!ctx) return LRE_EINVAL;
    if (!out) return lre_fail(ctx, LRE_EINVAL, "lre_model_new: out is NULL");
    lre_model *m = lre_calloc(ctx, 1, sizeof *m, "model");
    if (!m) return LRE_ENOMEM;
    m->refcount = 1;
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
    }
    lre_tensor_release(m->params);
    lre_tensor_release(m->grads);
    lre_free(ctx, m->layers, 0);
    lre_free(ctx, m, sizeof *m);
    lre_ctx_release(ctx);
}

/* Width of the activations entering layer `n_layers` (0 before any linear). */
static int64_t current_width(const lre_model *m)
{
    for (int i = m->n_layers - 1; i >= 0; i--)
        if (m->layers[i].kind == LRE_LAYER_LINEAR) return m->layers[i].out;
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
    return l;
}

lre_status lre_model_add_linear(lre_model *m, int64_t in, int64_t out)
{
    static const char fn[] = "lre_model_add_linear";
    if (!m) return LRE_EINVAL;
    if (in < 1 || out < 1 || in > INT32_MAX || out > INT32_MAX)
        return lre_fail(m->ctx, LRE_EINVAL, "%s: linear(%" PRId64 ", %" PRId64
                        "): sizes must be in [1, 2^31)", fn, in, out);
    int64_t w = current_width(m);
    const int64_t limit = (int64_t)1 << 40; /* 4 TiB of f32 parameters */
    if (lre_model_num_params(m) > limit - out * in - out)
        return lre_fail(m->ctx, LRE_EINVAL,
                        "%s: linear(%" PRId64 ",%" PRId64 ") would give the model more than "
                        "2^40 parameters", fn, in, out);
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
    if (m->n_layers == 0)
        return lre_fail(m->ctx, LRE_ESHAPE,
                        "%s: %s cannot be the first layer (a model starts with a linear "
                        "layer, which fixes the input width)", fn, lre_act_name(a));
    lre_layer *l = push_layer(m, fn);
    if (!l) return m->initialized ? LRE_ESTATE : LRE_ENOMEM;
    l->kind = LRE_LAYER_ACT;
    l->act = a;
    l->act_param = param;
    l->in = l->out = current_width(m);
    m->n_layers++;
    return LRE_OK;
}

static lre_status make_views(lre_model *m)
{
    for (int i = 0; i < m->n_layers; i++) {
        lre_layer *l = &m->layers[i];
        if (l->kind != LRE_LAYER_LINEAR) continue;
        int64_t ws[2] = {l->out, l->in}, bs[1] = {l->out};
        lre_status s;
        if ((s = lre_tensor_view(&l->w, m->params, l->w_off, 2, ws)) ||
            (s = lre_tensor_view(&l->b, m->params, l->b_off, 1, bs)) ||
            (s = lre_tensor_view(&l->dw, m->grads, l->w_off, 2, ws)) ||
            (s = lre_tensor_view(&l->db, m->grads, l->b_off, 1, bs)))
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
    int64_t n = 0;
    for (int i = 0; i < m->n_layers; i++) {
        lre_layer *l = &m->layers[i];
        if (l->kind != LRE_LAYER_LINEAR) continue;
        l->w_off = n;
        n += l->out * l->in;
        l->b_off = n;
        n += l->out;
    }
    m->n_params = n;
    lre_status s;
    if ((s = lre_tensor_new(m->ctx, &m->params, LRE_F32, 1, &n)) ||
        (s = lre_tensor_new(m->ctx, &m->grads, LRE_F32, 1, &n)) || (s = make_views(m)))
        return s;
    return LRE_OK;
}

lre_status lre_model_init(lre_model *m, uint64_t seed)
{
    if (!m) return LRE_EINVAL;
    lre_status s = model_alloc(m);
    if (s) return s;
    /* Drawn on the host from Philox(seed), then copied: identical on every
     * device. nn.Linear.reset_parameters: kaiming_uniform_(a=√5) gives
     * U(-1/√in, 1/√in) for the weight, and the bias is U(-1/√in, 1/√in). */
    lre_ctx *ctx = m->ctx;
    size_t bytes = (size_t)m->n_params * sizeof(float);
    float *host = lre_malloc(ctx, bytes, "model initialisation");
    if (!host) return LRE_ENOMEM;
    lre_rng rng;
    lre_rng_seed(&rng, seed);
    for (int i = 0; i < m->n_layers; i++) {
        lre_layer *l = &m->layers[i];
        if (l->kind != LRE_LAYER_LINEAR) continue;
        float bound = (float)(1.0 / sqrt((double)l->in));
        for (int64_t k = 0; k < l->out * l->in + l->out; k++)
            host[l->w_off + k] = (2.0f * lre_rng_uniform(&rng) - 1.0f) * bound;
    }
    s = lre_tensor_from_host(m->params, host, bytes);
    lre_free(ctx, host, bytes);
    if (s) return s;
    m->initialized = true;
    return LRE_OK;
}

lre_status lre_model_clone(const lre_model *m, lre_model **out)
{
    if (!m) return LRE_EINVAL;
    lre_ctx *ctx = m->ctx;
    if (!out) return lre_fail(ctx, LRE_EINVAL, "lre_model_clone: out is NULL");
    *out = NULL;
    lre_model *c = NULL;
    lre_status s = lre_model_new(ctx, &c);
    for (int i = 0; !s && i < m->n_layers; i++) {
        const lre_layer *l = &m->layers[i];
        s = l->kind == LRE_LAYER_LINEAR ? lre_model_add_linear(c, l->in, l->out)
                                        : lre_model_add_act(c, l->act, l->act_param);
    }
    /* the same values: allocated (and drawn, then overwritten) as the source's */
    if (!s && m->initialized && !(s = lre_model_init(c, 0)))
        s = lre_tensor_copy(c->params, m->params);
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
    const lre_layer *l = &m->layers[i];
    lre_layer_info info = {l->kind, l->in, l->out, LRE_ACT_RELU, 0.0f};
    if (l->kind == LRE_LAYER_ACT) {
        info.act = l->act;
        if (l->act == LRE_ACT_LEAKY_RELU) info.param = l->act_param;
    }
    return info;
}

int64_t lre_model_in_features(const lre_model *m)
{
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].kind == LRE_LAYER_LINEAR) return m->layers[i].in;
    return 0;
}

int64_t lre_model_out_features(const lre_model *m) { return current_width(m); }

int64_t lre_model_num_params(const lre_model *m)
{
    int64_t n = 0;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].kind == LRE_LAYER_LINEAR)
            n += m->layers[i].out * m->layers[i].in + m->layers[i].out;
    return n;
}

const char *lre_model_describe(const lre_model *m, char *buf, size_t n)
{
    if (!buf || !n) return buf;
    buf[0] = '\0';
    size_t len = 0;
    for (int i = 0; i < m->n_layers && len < n; i++) {
        const lre_layer *l = &m->layers[i];
        const char *sep = i ? " " : "";
        if (l->kind == LRE_LAYER_LINEAR)
            len += (size_t)snprintf(buf + len, n - len, "%slinear(%" PRId64 ",%" PRId64 ")", sep,
                                    l->in, l->out);
        else if (l->act == LRE_ACT_LEAKY_RELU)
            len += (size_t)snprintf(buf + len, n - len, "%sleaky_relu(%g)", sep,
                                    (double)l->act_param);
        else
            len += (size_t)snprintf(buf + len, n - len, "%s%s", sep, lre_act_name(l->act));
    }
    return buf;
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
