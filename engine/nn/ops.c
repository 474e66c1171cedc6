/*
 * ops.c — the public, shape-checked operations. Each checks its arguments,
 * names the shapes at fault, and dispatches to the context's backend.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "nn/nn.h"

typedef char shape_str[64];
#define DESC(t, buf) lre_tensor_describe((t), (buf), sizeof(buf))


/* The tensor must exist, be f32 (or `dtype`), live on ctx's device, and
 * have `ndim` dims (0 = any). */
static lre_status check_tensor(lre_ctx *ctx, const char *fn, const char *name,
                               const lre_tensor *t, lre_dtype dtype, int ndim)
{
    shape_str b;
    if (!t) return lre_fail(ctx, LRE_EINVAL, "%s: %s is NULL", fn, name);
    if (t->st->ctx != ctx)
        return lre_fail(ctx, LRE_EINVAL, "%s: %s belongs to another context", fn, name);
    if (t->dtype != dtype)
        return lre_fail(ctx, LRE_EINVAL, "%s: %s is %s, expected %s", fn, name, DESC(t, b),
                        lre_dtype_name(dtype));
    if (ndim && t->ndim != ndim)
        return lre_fail(ctx, LRE_ESHAPE, "%s: %s is %s, expected %d dimensions", fn, name,
                        DESC(t, b), ndim);
    return LRE_OK;
}

#define CHECK(expr)                        \
    do {                                   \
        lre_status s_ = (expr);            \
        if (s_ != LRE_OK) return s_;       \
    } while (0)

lre_status lre_matmul(lre_ctx *ctx, lre_tensor *c, const lre_tensor *a, int trans_a,
                      const lre_tensor *b, int trans_b, float beta)
{
    static const char fn[] = "lre_matmul";
    if (!ctx) return LRE_EINVAL;
    CHECK(check_tensor(ctx, fn, "c", c, LRE_F32, 2));
    CHECK(check_tensor(ctx, fn, "a", a, LRE_F32, 2));
    CHECK(check_tensor(ctx, fn, "b", b, LRE_F32, 2));
    int64_t M = trans_a ? a->shape[1] : a->shape[0], K = trans_a ? a->shape[0] : a->shape[1];
    int64_t Kb = trans_b ? b->shape[1] : b->shape[0], N = trans_b ? b->shape[0] : b->shape[1];
    if (K != Kb || c->shape[0] != M || c->shape[1] != N) {
        shape_str sa, sb, sc;
        return lre_fail(ctx, LRE_ESHAPE, "%s: c %s = a%s %s · b%s %s does not fit", fn,
                        DESC(c, sc), trans_a ? "^T" : "", DESC(a, sa), trans_b ? "^T" : "",
                        DESC(b, sb));
    }
    return ctx->be->gemm(ctx->be_state, trans_a, trans_b, M, N, K, 1.0f, lre_cf32(a),
                         a->shape[1], lre_cf32(b), b->shape[1], beta, lre_f32(c), N);
}

static lre_status check_linear(lre_ctx *ctx, const char *fn, const lre_tensor *x,
                               const lre_tensor *y, const lre_tensor *w, const lre_tensor *b,
                               const char *xname, const char *yname)
{
    CHECK(check_tensor(ctx, fn, xname, x, LRE_F32, 2));
    CHECK(check_tensor(ctx, fn, yname, y, LRE_F32, 2));
    CHECK(check_tensor(ctx, fn, "w", w, LRE_F32, 2));
    if (b) CHECK(check_tensor(ctx, fn, "b", b, LRE_F32, 1));
    int64_t B = x->shape[0], in = x->shape[1], out = w->shape[0];
    if (w->shape[1] != in || y->shape[0] != B || y->shape[1] != out ||
        (b && b->shape[0] != out)) {
        shape_str sx, sy, sw, sb;
        return lre_fail(ctx, LRE_ESHAPE,
                        "%s: %s %s, w %s (out,in), b %s and %s %s do not fit "
                        "(expected %s (B,in), %s (B,out), b (out))",
                        fn, xname, DESC(x, sx), DESC(w, sw), b ? DESC(b, sb) : "none", yname,
                        DESC(y, sy), xname, yname);
    }
    return LRE_OK;
}

lre_status lre_linear_forward(lre_ctx *ctx, lre_tensor *y, const lre_tensor *x,
                              const lre_tensor *w, const lre_tensor *b)
{
    return lre_linear_relu_forward(ctx, y, x, w, b, 0);
}

lre_status lre_linear_relu_forward(lre_ctx *ctx, lre_tensor *y, const lre_tensor *x,
                                   const lre_tensor *w, const lre_tensor *b, int relu)
{
    if (!ctx) return LRE_EINVAL;
    CHECK(check_linear(ctx, "lre_linear_forward", x, y, w, b, "x", "y"));
    int64_t B = x->shape[0], in = x->shape[1], out = w->shape[0];
    /* y (B,out) = x (B,in) · w^T (in,out) + b, then relu(y): in one pass
     * where the backend fuses them */
    if (b && ctx->be->linear_forward)
        return ctx->be->linear_forward(ctx->be_state, lre_f32(y), lre_cf32(x), lre_cf32(w),
                                       lre_cf32(b), B, in, out, relu);
    CHECK(ctx->be->gemm(ctx->be_state, 0, 1, B, out, in, 1.0f, lre_cf32(x), in, lre_cf32(w),
                        in, 0.0f, lre_f32(y), out));
    if (b) CHECK(ctx->be->bias_add_forward(ctx->be_state, lre_f32(y), lre_cf32(b), B, out));
    if (relu)
        CHECK(ctx->be->act_forward(ctx->be_state, LRE_ACT_RELU, 0.0f, lre_f32(y), lre_cf32(y),
                                   B * out));
    return LRE_OK;
}

lre_status lre_linear_prepare(lre_ctx *ctx, int64_t B, int64_t in, int64_t out, int backward,
                              int with_dx, int accumulate, int relu)
{
    const lre_backend *be = ctx->be;
    if (B < 1) return LRE_OK;
    /* the calls of lre_linear_relu_forward and lre_linear_backward, argument
     * for argument (the forward with its bias, fused or not) */
    if (be->linear_prepare) CHECK(be->linear_prepare(ctx->be_state, B, in, out, relu));
    if (!be->gemm_prepare) return LRE_OK;
    CHECK(be->gemm_prepare(ctx->be_state, 0, 1, B, out, in, 1.0f, in, in, 0.0f, out));
    if (!backward) return LRE_OK;
    CHECK(be->gemm_prepare(ctx->be_state, 1, 0, out, in, B, 1.0f, out, in, 0.0f, in));
    if (accumulate) CHECK(be->gemm_prepare(ctx->be_state, 1, 0, out, in, B, 1.0f, out, in, 1.0f, in));
    if (with_dx) CHECK(be->gemm_prepare(ctx->be_state, 0, 0, B, in, out, 1.0f, out, in, 0.0f, in));
    return LRE_OK;
}

/* A backward's gradients: dw (f32, 2-D) of w's shape, dx (or NULL) of
 * x's. */
static lre_status check_grads(lre_ctx *ctx, const char *fn, const lre_tensor *dx,
                              const lre_tensor *x, const lre_tensor *dw, const lre_tensor *w)
{
    CHECK(check_tensor(ctx, fn, "dw", dw, LRE_F32, 2));
    if (dw->shape[0] != w->shape[0] || dw->shape[1] != w->shape[1]) {
        shape_str s1, s2;
        return lre_fail(ctx, LRE_ESHAPE, "%s: dw %s must have w's shape %s", fn, DESC(dw, s1),
                        DESC(w, s2));
    }
    if (dx) {
        CHECK(check_tensor(ctx, fn, "dx", dx, LRE_F32, 2));
        if (dx->shape[0] != x->shape[0] || dx->shape[1] != x->shape[1]) {
            shape_str s1, s2;
            return lre_fail(ctx, LRE_ESHAPE, "%s: dx %s must have x's shape %s", fn,
                            DESC(dx, s1), DESC(x, s2));
        }
    }
    return LRE_OK;
}

lre_status lre_linear_backward(lre_ctx *ctx, lre_tensor *dx, lre_tensor *dw, lre_tensor *db,
                               const lre_tensor *dy, const lre_tensor *x, const lre_tensor *w,
                               int accumulate)
{
    static const char fn[] = "lre_linear_backward";
    if (!ctx) return LRE_EINVAL;
    CHECK(check_linear(ctx, fn, x, dy, w, db, "x", "dy"));
    CHECK(check_grads(ctx, fn, dx, x, dw, w));
    int64_t B = x->shape[0], in = x->shape[1], out = w->shape[0];
    float beta = accumulate ? 1.0f : 0.0f;
    /* dw (out,in) (+)= dy^T (out,B) · x (B,in) */
    CHECK(ctx->be->gemm(ctx->be_state, 1, 0, out, in, B, 1.0f, lre_cf32(dy), out, lre_cf32(x),
                        in, beta, lre_f32(dw), in));
    if (db)
        CHECK(ctx->be->bias_add_backward(ctx->be_state, lre_f32(db), lre_cf32(dy), B, out,
                                         accumulate));
    /* dx (B,in) = dy (B,out) · w (out,in) */
    if (dx)
        CHECK(ctx->be->gemm(ctx->be_state, 0, 0, B, in, out, 1.0f, lre_cf32(dy), out,
                            lre_cf32(w), in, 0.0f, lre_f32(dx), in));
    return LRE_OK;
}

_Static_assert(LRE_ACT_COUNT == 6, "activation names below must match lre_act");
static const char *const act_names[LRE_ACT_COUNT] = {
    "relu", "leaky_relu", "gelu", "gelu_tanh", "tanh", "sigmoid",
};

const char *lre_act_name(lre_act a) { return (unsigned)a < LRE_ACT_COUNT ? act_names[a] : "?"; }

static lre_status check_same(lre_ctx *ctx, const char *fn, const char *an, const lre_tensor *a,
                             const char *bn, const lre_tensor *b)
{
    if (a->numel != b->numel || a->ndim != b->ndim) goto bad;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) goto bad;
    return LRE_OK;
bad:;
    shape_str sa, sb;
    return lre_fail(ctx, LRE_ESHAPE, "%s: %s %s and %s %s must have the same shape", fn, an,
                    DESC(a, sa), bn, DESC(b, sb));
}

static lre_status check_act(lre_ctx *ctx, const char *fn, lre_act a, float param)
{
    if ((unsigned)a >= LRE_ACT_COUNT)
        return lre_fail(ctx, LRE_EINVAL, "%s: unknown activation %d", fn, (int)a);
    if (a == LRE_ACT_LEAKY_RELU && !isfinite(param))
        return lre_fail(ctx, LRE_EINVAL, "%s: leaky_relu slope must be finite", fn);
    return LRE_OK;
}

lre_status lre_act_forward(lre_ctx *ctx, lre_act a, float param, lre_tensor *y,
                           const lre_tensor *x)
{
    static const char fn[] = "lre_act_forward";
    if (!ctx) return LRE_EINVAL;
    CHECK(check_act(ctx, fn, a, param));
    CHECK(check_tensor(ctx, fn, "y", y, LRE_F32, 0));
    CHECK(check_tensor(ctx, fn, "x", x, LRE_F32, 0));
    CHECK(check_same(ctx, fn, "y", y, "x", x));
    return ctx->be->act_forward(ctx->be_state, a, param, lre_f32(y), lre_cf32(x), x->numel);
}

lre_status lre_act_backward(lre_ctx *ctx, lre_act a, float param, lre_tensor *dx,
                            const lre_tensor *dy, const lre_tensor *x, const lre_tensor *y)
{
    static const char fn[] = "lre_act_backward";
    if (!ctx) return LRE_EINVAL;
    CHECK(check_act(ctx, fn, a, param));
    CHECK(check_tensor(ctx, fn, "dx", dx, LRE_F32, 0));
    CHECK(check_tensor(ctx, fn, "dy", dy, LRE_F32, 0));
    CHECK(check_tensor(ctx, fn, "x", x, LRE_F32, 0));
    CHECK(check_tensor(ctx, fn, "y", y, LRE_F32, 0));
    CHECK(check_same(ctx, fn, "dx", dx, "x", x));
    CHECK(check_same(ctx, fn, "dy", dy, "x", x));
    CHECK(check_same(ctx, fn, "y", y, "x", x));
    return ctx->be->act_backward(ctx->be_state, a, param, lre_f32(dx), lre_cf32(dy),
                                 lre_cf32(x), lre_cf32(y), x->numel);
}

/* Labels enter the engine's hot path only through datasets, which check
 * them when created (data/dataset.c); the trainer then uses the *_dev
 * forms below and nothing is checked per step. The public ops check the
 * labels they are handed: in place on a host backend, otherwise through a
 * small host buffer (a copy, off the hot path, with no allocation). */
static lre_status check_labels(lre_ctx *ctx, const char *fn, const lre_tensor *labels,
                               int64_t C)
{
    enum { CHUNK = 256 };
    int32_t buf[CHUNK];
    const int32_t *all = lre_ctx_is_host(ctx) ? lre_ci32(labels) : NULL;
    for (int64_t start = 0; start < labels->numel; start += CHUNK) {
        int64_t n = labels->numel - start < CHUNK ? labels->numel - start : CHUNK;
        const int32_t *y = all ? all + start : buf;
        if (!all)
            CHECK(ctx->be->to_host(ctx->be_state, buf, lre_ci32(labels) + start,
                                   (size_t)n * sizeof *buf));
        for (int64_t i = 0; i < n; i++)
            if (y[i] < 0 || y[i] >= C)
                return lre_fail(ctx, LRE_EINVAL,
                                "%s: label %" PRId32 " at row %" PRId64 " is outside [0, %" PRId64
                                ") (the logits have %" PRId64 " classes)",
                                fn, y[i], start + i + 1, C, C);
    }
    return LRE_OK;
}

/* logits (B,C) f32 with C >= 1 and labels (B) i32 */
static lre_status check_logits(lre_ctx *ctx, const char *fn, const lre_tensor *logits,
                               const lre_tensor *labels)
{
    CHECK(check_tensor(ctx, fn, "logits", logits, LRE_F32, 2));
    CHECK(check_tensor(ctx, fn, "labels", labels, LRE_I32, 1));
    if (labels->shape[0] != logits->shape[0]) {
        shape_str s1, s2;
        return lre_fail(ctx, LRE_ESHAPE, "%s: labels %s do not match logits %s (B,C)", fn,
                        DESC(labels, s1), DESC(logits, s2));
    }
    if (logits->shape[1] < 1)
        return lre_fail(ctx, LRE_ESHAPE, "%s: logits need at least one class", fn);
    return LRE_OK;
}

/* The checks of cross-entropy, then the entry: the mean loss into
 * loss_dev (device memory); labels checked unless trusted. */
static lre_status cross_entropy(lre_ctx *ctx, int trusted, float *loss_dev, lre_tensor *dlogits,
                                const lre_tensor *logits, const lre_tensor *labels,
                                float smoothing, float grad_scale)
{
    static const char fn[] = "lre_cross_entropy";
    CHECK(check_logits(ctx, fn, logits, labels));
    if (dlogits) {
        CHECK(check_tensor(ctx, fn, "dlogits", dlogits, LRE_F32, 2));
        CHECK(check_same(ctx, fn, "dlogits", dlogits, "logits", logits));
    }
    if (!(smoothing >= 0.0f && smoothing <= 1.0f))
        return lre_fail(ctx, LRE_EINVAL, "%s: label_smoothing %g is outside [0, 1]", fn,
                        (double)smoothing);
    if (!isfinite(grad_scale))
        return lre_fail(ctx, LRE_EINVAL, "%s: grad_scale must be finite", fn);
    if (!trusted) CHECK(check_labels(ctx, fn, labels, logits->shape[1]));
    return ctx->be->cross_entropy(ctx->be_state, loss_dev, dlogits ? lre_f32(dlogits) : NULL,
                                  lre_cf32(logits), lre_ci32(labels), logits->shape[0],
                                  logits->shape[1], smoothing, grad_scale);
}

lre_status lre_cross_entropy(lre_ctx *ctx, float *loss, lre_tensor *dlogits,
                             const lre_tensor *logits, const lre_tensor *labels, float smoothing,
                             float grad_scale)
{
    if (!ctx) return LRE_EINVAL;
    if (!loss) return lre_fail(ctx, LRE_EINVAL, "lre_cross_entropy: loss is NULL");
    CHECK(cross_entropy(ctx, 0, &ctx->scratch->loss, dlogits, logits, labels, smoothing,
                        grad_scale));
    return lre_scratch_loss(ctx, loss);
}

lre_status lre_cross_entropy_dev(lre_ctx *ctx, float *loss_dev, lre_tensor *dlogits,
                                 const lre_tensor *logits, const lre_tensor *labels,
                                 float smoothing, float grad_scale)
{
    return cross_entropy(ctx, 1, loss_dev, dlogits, logits, labels, smoothing, grad_scale);
}

static lre_status mse(lre_ctx *ctx, float *loss_dev, lre_tensor *dpred, const lre_tensor *pred,
                      const lre_tensor *target, float grad_scale)
{
    static const char fn[] = "lre_mse";
    CHECK(check_tensor(ctx, fn, "pred", pred, LRE_F32, 0));
    CHECK(check_tensor(ctx, fn, "target", target, LRE_F32, 0));
    CHECK(check_same(ctx, fn, "pred", pred, "target", target));
    if (dpred) {
        CHECK(check_tensor(ctx, fn, "dpred", dpred, LRE_F32, 0));
        CHECK(check_same(ctx, fn, "dpred", dpred, "pred", pred));
    }
    if (!isfinite(grad_scale))
        return lre_fail(ctx, LRE_EINVAL, "%s: grad_scale must be finite", fn);
    return ctx->be->mse(ctx->be_state, loss_dev, dpred ? lre_f32(dpred) : NULL, lre_cf32(pred),
                        lre_cf32(target), pred->numel, grad_scale);
}

lre_status lre_mse(lre_ctx *ctx, float *loss, lre_tensor *dpred, const lre_tensor *pred,
                   const lre_tensor *target, float grad_scale)
{
    if (!ctx) return LRE_EINVAL;
    if (!loss) return lre_fail(ctx, LRE_EINVAL, "lre_mse: loss is NULL");
    CHECK(mse(ctx, &ctx->scratch->loss, dpred, pred, target, grad_scale));
    return lre_scratch_loss(ctx, loss);
}

lre_status lre_mse_dev(lre_ctx *ctx, float *loss_dev, lre_tensor *dpred, const lre_tensor *pred,
                       const lre_tensor *target, float grad_scale)
{
    return mse(ctx, loss_dev, dpred, pred, target, grad_scale);
}

static lre_status count_correct(lre_ctx *ctx, int trusted, int64_t *correct_dev,
                                const lre_tensor *logits, const lre_tensor *labels)
{
    static const char fn[] = "lre_count_correct";
    CHECK(check_logits(ctx, fn, logits, labels));
    if (!trusted) CHECK(check_labels(ctx, fn, labels, logits->shape[1]));
    return ctx->be->count_correct(ctx->be_state, correct_dev, lre_cf32(logits), lre_ci32(labels),
                                  logits->shape[0], logits->shape[1]);
}

lre_status lre_count_correct(lre_ctx *ctx, int64_t *correct, const lre_tensor *logits,
                             const lre_tensor *labels)
{
    if (!ctx) return LRE_EINVAL;
    if (!correct) return lre_fail(ctx, LRE_EINVAL, "lre_count_correct: correct is NULL");
    CHECK(count_correct(ctx, 0, &ctx->scratch->correct, logits, labels));
    return lre_scratch_correct(ctx, correct);
}

lre_status lre_count_correct_dev(lre_ctx *ctx, int64_t *correct_dev, const lre_tensor *logits,
                                 const lre_tensor *labels)
{
    return count_correct(ctx, 1, correct_dev, logits, labels);
}

/* ------------------------------------------------------------ conv2d */

lre_status lre_conv_geom_init(lre_ctx *ctx, lre_conv_geom *g, int64_t C, int64_t H, int64_t W,
                              int64_t KH, int64_t KW, int64_t SH, int64_t SW, int64_t PH,
                              int64_t PW, int64_t DH, int64_t DW)
{
    static const char fn[] = "conv2d";
    if (!ctx) return LRE_EINVAL;
    if (!g) return lre_fail(ctx, LRE_EINVAL, "%s: the geometry is NULL", fn);
    if (C < 1 || H < 1 || W < 1)
        return lre_fail(ctx, LRE_EINVAL, "%s: input %" PRId64 "×%" PRId64 "×%" PRId64
                        " (C×H×W) must have every size >= 1", fn, C, H, W);
    if (KH < 1 || KW < 1 || SH < 1 || SW < 1 || DH < 1 || DW < 1)
        return lre_fail(ctx, LRE_EINVAL, "%s: kernel %" PRId64 "×%" PRId64 ", stride %" PRId64
                        "×%" PRId64 " and dilation %" PRId64 "×%" PRId64 " must be >= 1", fn,
                        KH, KW, SH, SW, DH, DW);
    if (PH < 0 || PW < 0)
        return lre_fail(ctx, LRE_EINVAL, "%s: padding %" PRId64 "×%" PRId64 " must be >= 0", fn,
                        PH, PW);
    int64_t eh = DH * (KH - 1) + 1, ew = DW * (KW - 1) + 1; /* the dilated kernel */
    if (eh > H + 2 * PH || ew > W + 2 * PW)
        return lre_fail(ctx, LRE_EINVAL, "%s: the kernel %" PRId64 "×%" PRId64 " (dilated: %"
                        PRId64 "×%" PRId64 ") is larger than the padded input %" PRId64 "×%"
                        PRId64, fn, KH, KW, eh, ew, H + 2 * PH, W + 2 * PW);
    *g = (lre_conv_geom){C, H, W, KH, KW, SH, SW, PH, PW, DH, DW,
                         (H + 2 * PH - eh) / SH + 1, (W + 2 * PW - ew) / SW + 1};
    return LRE_OK;
}

/* Shapes of a conv2d call: x (B, C·H·W), w (O, C·KH·KW), b (O), y or dy
 * (B, O·OH·OW), col (C·KH·KW, OH·OW); and the device can convolve. */
static lre_status check_conv(lre_ctx *ctx, const char *fn, const lre_tensor *x,
                             const lre_tensor *w, const lre_tensor *b, const lre_tensor *y,
                             const lre_conv_geom *g, const lre_tensor *col, const char *yname)
{
    if (!g) return lre_fail(ctx, LRE_EINVAL, "%s: the geometry is NULL", fn);
    if (!ctx->be->im2col || !ctx->be->col2im || !ctx->be->bias_rows_forward ||
        !ctx->be->bias_rows_backward)
        return lre_fail(ctx, LRE_EINVAL, "%s: the %s backend has no convolution", fn,
                        ctx->be->name);
    CHECK(check_tensor(ctx, fn, "x", x, LRE_F32, 2));
    CHECK(check_tensor(ctx, fn, "w", w, LRE_F32, 2));
    CHECK(check_tensor(ctx, fn, yname, y, LRE_F32, 2));
    CHECK(check_tensor(ctx, fn, "col", col, LRE_F32, 2));
    if (b) CHECK(check_tensor(ctx, fn, "b", b, LRE_F32, 1));
    const int64_t B = x->shape[0], O = w->shape[0], K = g->C * g->KH * g->KW,
                  P = g->OH * g->OW;
    if (x->shape[1] != g->C * g->H * g->W || w->shape[1] != K || (b && b->shape[0] != O) ||
        y->shape[0] != B || y->shape[1] != O * P || col->shape[0] != K || col->shape[1] != P) {
        shape_str sx, sw, sy, sc;
        return lre_fail(ctx, LRE_ESHAPE,
                        "%s: x %s, w %s, %s %s and col %s do not fit a %" PRId64 "×%" PRId64
                        "×%" PRId64 " input, a %" PRId64 "×%" PRId64 " kernel and a %" PRId64
                        "×%" PRId64 " output (expected x (B, %" PRId64 "), w (O, %" PRId64
                        "), %s (B, O·%" PRId64 "), col (%" PRId64 ", %" PRId64 "))",
                        fn, DESC(x, sx), DESC(w, sw), yname, DESC(y, sy), DESC(col, sc), g->C,
                        g->H, g->W, g->KH, g->KW, g->OH, g->OW, g->C * g->H * g->W, K, yname,
                        P, K, P);
    }
    return LRE_OK;
}

static lre_status conv2d_forward(lre_ctx *ctx, const char *fn, lre_tensor *y,
                                 const lre_tensor *x, const lre_tensor *w, const lre_tensor *b,
                                 const lre_conv_geom *g, lre_tensor *col, int relu)
{
    if (!ctx) return LRE_EINVAL;
    CHECK(check_conv(ctx, fn, x, w, b, y, g, col, "y"));
    const lre_backend *be = ctx->be;
    void *st = ctx->be_state;
    const int64_t B = x->shape[0], O = w->shape[0], K = g->C * g->KH * g->KW,
                  P = g->OH * g->OW, in = g->C * g->H * g->W;
    if (be->conv_direct && be->conv_direct(st, B, O, g))
        return be->conv_forward(st, lre_f32(y), lre_cf32(x), lre_cf32(w), b ? lre_cf32(b) : NULL,
                                B, O, g, relu);
    float *cl = lre_f32(col), *yo = lre_f32(y);
    const float *xi = lre_cf32(x);
    for (int64_t n = 0; n < B; n++) { /* y_n (O, P) = w (O, K) · col (K, P) + b */
        CHECK(be->im2col(st, cl, xi + n * in, g));
        CHECK(be->gemm(st, 0, 0, O, P, K, 1.0f, lre_cf32(w), K, cl, P, 0.0f, yo + n * O * P, P));
        if (b) CHECK(be->bias_rows_forward(st, yo + n * O * P, lre_cf32(b), O, P));
    }
    if (relu && B > 0) CHECK(be->act_forward(st, LRE_ACT_RELU, 0.0f, yo, yo, B * O * P));
    return LRE_OK;
}

lre_status lre_conv2d_forward(lre_ctx *ctx, lre_tensor *y, const lre_tensor *x,
                              const lre_tensor *w, const lre_tensor *b,
                              const lre_conv_geom *g, lre_tensor *col)
{
    return conv2d_forward(ctx, "lre_conv2d_forward", y, x, w, b, g, col, 0);
}

lre_status lre_conv2d_relu_forward(lre_ctx *ctx, lre_tensor *y, const lre_tensor *x,
                                   const lre_tensor *w, const lre_tensor *b,
                                   const lre_conv_geom *g, lre_tensor *col, int relu)
{
    return conv2d_forward(ctx, "lre_conv2d_relu_forward", y, x, w, b, g, col, relu);
}

lre_status lre_conv2d_prepare(lre_ctx *ctx, int64_t B, const lre_conv_geom *g, int64_t O,
                              int bias, int relu, int backward, int with_dx)
{
    const lre_backend *be = ctx->be;
    void *st = ctx->be_state;
    if (B < 1) return LRE_OK;
    if (be->conv_direct && be->conv_direct(st, B, O, g))
        return be->conv_prepare ? be->conv_prepare(st, B, O, g, bias, relu, backward, with_dx)
                                : LRE_OK;
    if (!be->gemm_prepare) return LRE_OK;
    const int64_t K = g->C * g->KH * g->KW, P = g->OH * g->OW;
    /* the calls of the image-by-image path, argument for argument */
    CHECK(be->gemm_prepare(st, 0, 0, O, P, K, 1.0f, K, P, 0.0f, P));
    if (!backward) return LRE_OK;
    CHECK(be->gemm_prepare(st, 0, 1, O, K, P, 1.0f, P, P, 0.0f, K));
    CHECK(be->gemm_prepare(st, 0, 1, O, K, P, 1.0f, P, P, 1.0f, K));
    if (with_dx) CHECK(be->gemm_prepare(st, 1, 0, K, P, O, 1.0f, K, P, 0.0f, P));
    return LRE_OK;
}

lre_status lre_conv2d_backward(lre_ctx *ctx, lre_tensor *dx, lre_tensor *dw, lre_tensor *db,
                               const lre_tensor *dy, const lre_tensor *x,
                               const lre_tensor *w, const lre_conv_geom *g,
                               lre_tensor *col, int accumulate)
{
    static const char fn[] = "lre_conv2d_backward";
    if (!ctx) return LRE_EINVAL;
    CHECK(check_conv(ctx, fn, x, w, db, dy, g, col, "dy"));
    CHECK(check_grads(ctx, fn, dx, x, dw, w));
    const lre_backend *be = ctx->be;
    void *st = ctx->be_state;
    const int64_t B = x->shape[0], O = w->shape[0], K = g->C * g->KH * g->KW,
                  P = g->OH * g->OW, in = g->C * g->H * g->W;
    if (be->conv_direct && be->conv_direct(st, B, O, g)) {
        CHECK(be->conv_backward_weights(st, lre_f32(dw), db ? lre_f32(db) : NULL, lre_cf32(dy),
                                        lre_cf32(x), B, O, g, accumulate));
        if (dx) CHECK(be->conv_backward_data(st, lre_f32(dx), lre_cf32(dy), lre_cf32(w), B, O, g));
        return LRE_OK;
    }
    float *cl = lre_f32(col);
    const float *xi = lre_cf32(x), *dyo = lre_cf32(dy);
    if (B == 0 && !accumulate) { /* no image: the gradients are zero */
        CHECK(lre_tensor_zero(dw));
        if (db) CHECK(lre_tensor_zero(db));
    }
    for (int64_t n = 0; n < B; n++) {
        const int acc = accumulate || n > 0;
        const float *dyn = dyo + n * O * P;
        CHECK(be->im2col(st, cl, xi + n * in, g));
        /* dw (O, K) (+)= dy_n (O, P) · col^T (P, K) */
        CHECK(be->gemm(st, 0, 1, O, K, P, 1.0f, dyn, P, cl, P, acc ? 1.0f : 0.0f, lre_f32(dw),
                       K));
        if (db) CHECK(be->bias_rows_backward(st, lre_f32(db), dyn, O, P, acc));
        if (dx) { /* dcol (K, P) = w^T (K, O) · dy_n (O, P), folded back into dx_n */
            CHECK(be->gemm(st, 1, 0, K, P, O, 1.0f, lre_cf32(w), K, dyn, P, 0.0f, cl, P));
            CHECK(be->col2im(st, lre_f32(dx) + n * in, cl, g, 0));
        }
    }
    return LRE_OK;
}

/* ----------------------------------------------------------- pooling */

/* Shapes of a pooling call: x (B, C·H·W), y (B, C·OH·OW) (and idx alike,
 * i32); the padding at most half the (dilated) window, as torch asks (an
 * all-padding window would have nothing to pool); the device can pool. */
static lre_status check_pool(lre_ctx *ctx, const char *fn, const lre_tensor *x,
                             const lre_tensor *y, const lre_tensor *idx, const lre_conv_geom *g,
                             const char *xname, const char *yname, int avg)
{
    if (!g) return lre_fail(ctx, LRE_EINVAL, "%s: the geometry is NULL", fn);
    if (!ctx->be->max_pool_forward || !ctx->be->max_pool_backward ||
        !ctx->be->avg_pool_forward || !ctx->be->avg_pool_backward)
        return lre_fail(ctx, LRE_EINVAL, "%s: the %s backend has no pooling", fn, ctx->be->name);
    if (avg && (g->DH != 1 || g->DW != 1))
        return lre_fail(ctx, LRE_EINVAL, "%s: average pooling has no dilation (got %" PRId64
                        "×%" PRId64 ")", fn, g->DH, g->DW);
    if (2 * g->PH > g->DH * (g->KH - 1) + 1 || 2 * g->PW > g->DW * (g->KW - 1) + 1)
        return lre_fail(ctx, LRE_EINVAL, "%s: padding %" PRId64 "×%" PRId64 " is more than half "
                        "the %" PRId64 "×%" PRId64 " window", fn, g->PH, g->PW, g->KH, g->KW);
    CHECK(check_tensor(ctx, fn, xname, x, LRE_F32, 2));
    CHECK(check_tensor(ctx, fn, yname, y, LRE_F32, 2));
    if (idx) CHECK(check_tensor(ctx, fn, "idx", idx, LRE_I32, 2));
    const int64_t B = x->shape[0], P = g->C * g->OH * g->OW;
    if (x->shape[1] != g->C * g->H * g->W || y->shape[0] != B || y->shape[1] != P ||
        (idx && (idx->shape[0] != B || idx->shape[1] != P))) {
        shape_str sx, sy;
        return lre_fail(ctx, LRE_ESHAPE,
                        "%s: %s %s and %s %s do not fit %" PRId64 "×%" PRId64 "×%" PRId64
                        " images pooled to %" PRId64 "×%" PRId64 " (expected %s (B, %" PRId64
                        "), %s (B, %" PRId64 ")%s)",
                        fn, xname, DESC(x, sx), yname, DESC(y, sy), g->C, g->H, g->W, g->OH,
                        g->OW, xname, g->C * g->H * g->W, yname, P,
                        idx ? ", idx i32 alike" : "");
    }
    return LRE_OK;
}

/* The geometry over a batch's planes: C = B·C, the same window */
static lre_conv_geom planes(const lre_conv_geom *g, int64_t B)
{
    lre_conv_geom p = *g;
    p.C = B * g->C;
    return p;
}

lre_status lre_max_pool2d_forward(lre_ctx *ctx, lre_tensor *y, lre_tensor *idx,
                                  const lre_tensor *x, const lre_conv_geom *g)
{
    static const char fn[] = "lre_max_pool2d_forward";
    if (!ctx) return LRE_EINVAL;
    if (!idx) return lre_fail(ctx, LRE_EINVAL, "%s: idx is NULL", fn);
    CHECK(check_pool(ctx, fn, x, y, idx, g, "x", "y", 0));
    lre_conv_geom p = planes(g, x->shape[0]);
    return ctx->be->max_pool_forward(ctx->be_state, lre_f32(y), (int32_t *)lre_tensor_data(idx),
                                     lre_cf32(x), &p);
}

lre_status lre_max_pool2d_backward(lre_ctx *ctx, lre_tensor *dx, const lre_tensor *dy,
                                   const lre_tensor *idx, const lre_conv_geom *g)
{
    static const char fn[] = "lre_max_pool2d_backward";
    if (!ctx) return LRE_EINVAL;
    if (!idx) return lre_fail(ctx, LRE_EINVAL, "%s: idx is NULL", fn);
    CHECK(check_pool(ctx, fn, dx, dy, idx, g, "dx", "dy", 0));
    lre_conv_geom p = planes(g, dx->shape[0]);
    return ctx->be->max_pool_backward(ctx->be_state, lre_f32(dx), lre_cf32(dy),
                                      (const int32_t *)lre_tensor_data((lre_tensor *)idx), &p);
}

lre_status lre_avg_pool2d_forward(lre_ctx *ctx, lre_tensor *y, const lre_tensor *x,
                                  const lre_conv_geom *g, int count_include_pad)
{
    static const char fn[] = "lre_avg_pool2d_forward";
    if (!ctx) return LRE_EINVAL;
    CHECK(check_pool(ctx, fn, x, y, NULL, g, "x", "y", 1));
    lre_conv_geom p = planes(g, x->shape[0]);
    return ctx->be->avg_pool_forward(ctx->be_state, lre_f32(y), lre_cf32(x), &p,
                                     count_include_pad != 0);
}

lre_status lre_avg_pool2d_backward(lre_ctx *ctx, lre_tensor *dx, const lre_tensor *dy,
                                   const lre_conv_geom *g, int count_include_pad)
{
    static const char fn[] = "lre_avg_pool2d_backward";
    if (!ctx) return LRE_EINVAL;
    CHECK(check_pool(ctx, fn, dx, dy, NULL, g, "dx", "dy", 1));
    lre_conv_geom p = planes(g, dx->shape[0]);
    return ctx->be->avg_pool_backward(ctx->be_state, lre_f32(dx), lre_cf32(dy), &p,
                                      count_include_pad != 0);
}

/* ------------------------------------------------------ adaptive pooling */

/* Shapes of an adaptive pooling call: x (B, C·H·W), y (B, C·OH·OW), every
 * size >= 1; the device can pool so. */
static lre_status check_adaptive(lre_ctx *ctx, const char *fn, const lre_tensor *x,
                                 const lre_tensor *y, const lre_conv_geom *g, const char *xname,
                                 const char *yname)
{
    if (!g) return lre_fail(ctx, LRE_EINVAL, "%s: the geometry is NULL", fn);
    if (!ctx->be->adaptive_avg_pool_forward || !ctx->be->adaptive_avg_pool_backward)
        return lre_fail(ctx, LRE_EINVAL, "%s: the %s backend has no adaptive pooling", fn,
                        ctx->be->name);
    if (g->C < 1 || g->H < 1 || g->W < 1 || g->OH < 1 || g->OW < 1)
        return lre_fail(ctx, LRE_EINVAL, "%s: %" PRId64 "x%" PRId64 "x%" PRId64 " images to %"
                        PRId64 "x%" PRId64 ": every size must be >= 1", fn, g->C, g->H, g->W,
                        g->OH, g->OW);
    CHECK(check_tensor(ctx, fn, xname, x, LRE_F32, 2));
    CHECK(check_tensor(ctx, fn, yname, y, LRE_F32, 2));
    if (x->shape[1] != g->C * g->H * g->W || y->shape[0] != x->shape[0] ||
        y->shape[1] != g->C * g->OH * g->OW) {
        shape_str sx, sy;
        return lre_fail(ctx, LRE_ESHAPE,
                        "%s: %s %s and %s %s do not fit %" PRId64 "x%" PRId64 "x%" PRId64
                        " images pooled to %" PRId64 "x%" PRId64, fn, xname, DESC(x, sx), yname,
                        DESC(y, sy), g->C, g->H, g->W, g->OH, g->OW);
    }
    return LRE_OK;
}

lre_status lre_adaptive_avg_pool2d_forward(lre_ctx *ctx, lre_tensor *y, const lre_tensor *x,
                                           const lre_conv_geom *g)
{
    static const char fn[] = "lre_adaptive_avg_pool2d_forward";
    if (!ctx) return LRE_EINVAL;
    CHECK(check_adaptive(ctx, fn, x, y, g, "x", "y"));
    lre_conv_geom p = planes(g, x->shape[0]);
    return ctx->be->adaptive_avg_pool_forward(ctx->be_state, lre_f32(y), lre_cf32(x), &p);
}

lre_status lre_adaptive_avg_pool2d_backward(lre_ctx *ctx, lre_tensor *dx, const lre_tensor *dy,
                                            const lre_conv_geom *g)
{
    static const char fn[] = "lre_adaptive_avg_pool2d_backward";
    if (!ctx) return LRE_EINVAL;
    CHECK(check_adaptive(ctx, fn, dx, dy, g, "dx", "dy"));
    lre_conv_geom p = planes(g, dx->shape[0]);
    return ctx->be->adaptive_avg_pool_backward(ctx->be_state, lre_f32(dx), lre_cf32(dy), &p);
}

/* ------------------------------------------------------------ layer norm */

/* Shapes of a layer-norm call: x (B, F) with F a multiple of n, y like x,
 * mean and rstd (B, F/n), w and b (n) or both NULL; the device has it. */
static lre_status check_layer_norm(lre_ctx *ctx, const char *fn, const lre_tensor *x,
                                   const lre_tensor *y, const lre_tensor *mean,
                                   const lre_tensor *rstd, const lre_tensor *w,
                                   const lre_tensor *b, int64_t n, const char *yname)
{
    if (!ctx->be->layer_norm_forward || !ctx->be->layer_norm_backward)
        return lre_fail(ctx, LRE_EINVAL, "%s: the %s backend has no layer norm", fn,
                        ctx->be->name);
    if (n < 1) return lre_fail(ctx, LRE_EINVAL, "%s: n %" PRId64 " must be >= 1", fn, n);
    CHECK(check_tensor(ctx, fn, "x", x, LRE_F32, 2));
    CHECK(check_tensor(ctx, fn, yname, y, LRE_F32, 2));
    CHECK(check_tensor(ctx, fn, "mean", mean, LRE_F32, 2));
    CHECK(check_tensor(ctx, fn, "rstd", rstd, LRE_F32, 2));
    if (!w != !b) return lre_fail(ctx, LRE_EINVAL, "%s: w and b go together", fn);
    if (w) {
        CHECK(check_tensor(ctx, fn, "w", w, LRE_F32, 1));
        CHECK(check_tensor(ctx, fn, "b", b, LRE_F32, 1));
    }
    const int64_t B = x->shape[0], F = x->shape[1];
    if (F % n || y->shape[0] != B || y->shape[1] != F || mean->shape[0] != B ||
        mean->shape[1] != F / n || rstd->shape[0] != B || rstd->shape[1] != F / n ||
        (w && (w->shape[0] != n || b->shape[0] != n))) {
        shape_str sx, sy, sm;
        return lre_fail(ctx, LRE_ESHAPE,
                        "%s: x %s, %s %s, mean %s do not fit groups of %" PRId64
                        " (x (B, k·%" PRId64 "), %s alike, mean and rstd (B, k), w and b (%"
                        PRId64 "))", fn, DESC(x, sx), yname, DESC(y, sy), DESC(mean, sm), n, n,
                        yname, n);
    }
    return LRE_OK;
}

lre_status lre_layer_norm_forward(lre_ctx *ctx, lre_tensor *y, lre_tensor *mean,
                                  lre_tensor *rstd, const lre_tensor *x, const lre_tensor *w,
                                  const lre_tensor *b, int64_t n, float eps)
{
    static const char fn[] = "lre_layer_norm_forward";
    if (!ctx) return LRE_EINVAL;
    CHECK(check_layer_norm(ctx, fn, x, y, mean, rstd, w, b, n, "y"));
    if (!(eps > 0.0f) || !isfinite(eps))
        return lre_fail(ctx, LRE_EINVAL, "%s: eps %g must be > 0 and finite", fn, (double)eps);
    const int64_t groups = x->shape[0] * (x->shape[1] / n);
    return ctx->be->layer_norm_forward(ctx->be_state, lre_f32(y), lre_f32(mean), lre_f32(rstd),
                                       lre_cf32(x), w ? lre_cf32(w) : NULL,
                                       b ? lre_cf32(b) : NULL, groups, n, eps);
}

lre_status lre_layer_norm_backward(lre_ctx *ctx, lre_tensor *dx, lre_tensor *dw, lre_tensor *db,
                                   const lre_tensor *dy, const lre_tensor *x,
                                   const lre_tensor *mean, const lre_tensor *rstd,
                                   const lre_tensor *w, int64_t n, int accumulate)
{
    static const char fn[] = "lre_layer_norm_backward";
    if (!ctx) return LRE_EINVAL;
    CHECK(check_layer_norm(ctx, fn, x, dy, mean, rstd, dw, db, n, "dy"));
    if (!w != !dw) return lre_fail(ctx, LRE_EINVAL, "%s: w and dw go together", fn);
    if (w) {
        CHECK(check_tensor(ctx, fn, "w", w, LRE_F32, 1));
        if (w->shape[0] != n)
            return lre_fail(ctx, LRE_ESHAPE, "%s: w has %" PRId64 " values, not n = %" PRId64,
                            fn, w->shape[0], n);
    }
    if (dx) {
        CHECK(check_tensor(ctx, fn, "dx", dx, LRE_F32, 2));
        if (dx->shape[0] != x->shape[0] || dx->shape[1] != x->shape[1]) {
            shape_str s1, s2;
            return lre_fail(ctx, LRE_ESHAPE, "%s: dx %s must have x's shape %s", fn,
                            DESC(dx, s1), DESC(x, s2));
        }
    }
    const int64_t groups = x->shape[0] * (x->shape[1] / n);
    return ctx->be->layer_norm_backward(ctx->be_state, dx ? lre_f32(dx) : NULL,
                                        dw ? lre_f32(dw) : NULL, db ? lre_f32(db) : NULL,
                                        lre_cf32(dy), lre_cf32(x), lre_cf32(mean),
                                        lre_cf32(rstd), w ? lre_cf32(w) : NULL, groups, n,
                                        accumulate);
}

lre_status lre_layer_norm_prepare(lre_ctx *ctx, int64_t groups, int64_t n, int affine, float eps,
                                  int backward)
{
    if (groups < 1 || !ctx->be->layer_norm_prepare) return LRE_OK;
    return ctx->be->layer_norm_prepare(ctx->be_state, groups, n, affine, eps, backward);
}

lre_status lre_batch_norm_prepare(lre_ctx *ctx, int64_t B, int64_t C, int64_t S, int affine,
                                  float eps)
{
    if (B < 1 || !ctx->be->batch_norm_prepare) return LRE_OK;
    return ctx->be->batch_norm_prepare(ctx->be_state, B, C, S, affine, eps);
}

/* ------------------------------------------------------------ batch norm */

/* Shapes of a batch-norm call: x and y (B, C·S), mean and rstd (C), the
 * running statistics, w and b (C) or NULL in pairs; the device has it. */
static lre_status check_batch_norm(lre_ctx *ctx, const char *fn, const lre_tensor *x,
                                   const lre_tensor *y, const lre_tensor *mean,
                                   const lre_tensor *rstd, const lre_tensor *w,
                                   const lre_tensor *b, int64_t C, int64_t S, const char *yname)
{
    if (!ctx->be->batch_norm_forward || !ctx->be->batch_norm_backward)
        return lre_fail(ctx, LRE_EINVAL, "%s: the %s backend has no batch norm", fn,
                        ctx->be->name);
    if (C < 1 || S < 1)
        return lre_fail(ctx, LRE_EINVAL, "%s: %" PRId64 " channels of %" PRId64 " values: both "
                        "must be >= 1", fn, C, S);
    CHECK(check_tensor(ctx, fn, "x", x, LRE_F32, 2));
    CHECK(check_tensor(ctx, fn, yname, y, LRE_F32, 2));
    CHECK(check_tensor(ctx, fn, "mean", mean, LRE_F32, 1));
    CHECK(check_tensor(ctx, fn, "rstd", rstd, LRE_F32, 1));
    if (!w != !b) return lre_fail(ctx, LRE_EINVAL, "%s: w and b go together", fn);
    if (w) {
        CHECK(check_tensor(ctx, fn, "w", w, LRE_F32, 1));
        CHECK(check_tensor(ctx, fn, "b", b, LRE_F32, 1));
    }
    if (x->shape[1] != C * S || y->shape[0] != x->shape[0] || y->shape[1] != C * S ||
        mean->shape[0] != C || rstd->shape[0] != C ||
        (w && (w->shape[0] != C || b->shape[0] != C))) {
        shape_str sx, sy;
        return lre_fail(ctx, LRE_ESHAPE, "%s: x %s and %s %s do not fit %" PRId64 " channels of %"
                        PRId64 " values (x (B, %" PRId64 "), mean, rstd, w, b (%" PRId64 "))",
                        fn, DESC(x, sx), yname, DESC(y, sy), C, S, C * S, C);
    }
    return LRE_OK;
}

lre_status lre_batch_norm_forward(lre_ctx *ctx, lre_tensor *y, lre_tensor *mean,
                                  lre_tensor *rstd, lre_tensor *run_mean, lre_tensor *run_var,
                                  const lre_tensor *x, const lre_tensor *w, const lre_tensor *b,
                                  int64_t C, int64_t S, float eps, float momentum, int training)
{
    static const char fn[] = "lre_batch_norm_forward";
    if (!ctx) return LRE_EINVAL;
    CHECK(check_batch_norm(ctx, fn, x, y, mean, rstd, w, b, C, S, "y"));
    if (!run_mean != !run_var)
        return lre_fail(ctx, LRE_EINVAL, "%s: run_mean and run_var go together", fn);
    if (!training && !run_mean)
        return lre_fail(ctx, LRE_EINVAL, "%s: evaluation needs the running statistics", fn);
    if (run_mean) {
        CHECK(check_tensor(ctx, fn, "run_mean", run_mean, LRE_F32, 1));
        CHECK(check_tensor(ctx, fn, "run_var", run_var, LRE_F32, 1));
        if (run_mean->shape[0] != C || run_var->shape[0] != C)
            return lre_fail(ctx, LRE_ESHAPE, "%s: the running statistics must have %" PRId64
                            " values", fn, C);
    }
    if (!(eps > 0.0f) || !isfinite(eps) || !(momentum >= 0.0f && momentum <= 1.0f))
        return lre_fail(ctx, LRE_EINVAL, "%s: eps %g must be > 0 and momentum %g in [0, 1]", fn,
                        (double)eps, (double)momentum);
    if (training && x->shape[0] * S < 2)
        return lre_fail(ctx, LRE_ESHAPE, "%s: a batch of %" PRId64 " x %" PRId64 " values per "
                        "channel: training needs more than one (as torch)", fn, x->shape[0], S);
    return ctx->be->batch_norm_forward(ctx->be_state, lre_f32(y), lre_f32(mean), lre_f32(rstd),
                                       run_mean ? lre_f32(run_mean) : NULL,
                                       run_var ? lre_f32(run_var) : NULL, lre_cf32(x),
                                       w ? lre_cf32(w) : NULL, b ? lre_cf32(b) : NULL,
                                       x->shape[0], C, S, eps, momentum, training != 0);
}

lre_status lre_batch_norm_backward(lre_ctx *ctx, lre_tensor *dx, lre_tensor *dw, lre_tensor *db,
                                   const lre_tensor *dy, const lre_tensor *x,
                                   const lre_tensor *mean, const lre_tensor *rstd,
                                   const lre_tensor *w, int64_t C, int64_t S, int accumulate)
{
    static const char fn[] = "lre_batch_norm_backward";
    if (!ctx) return LRE_EINVAL;
    CHECK(check_batch_norm(ctx, fn, x, dy, mean, rstd, dw, db, C, S, "dy"));
    if (!w != !dw) return lre_fail(ctx, LRE_EINVAL, "%s: w and dw go together", fn);
    if (w && (check_tensor(ctx, fn, "w", w, LRE_F32, 1) || w->shape[0] != C))
        return lre_fail(ctx, LRE_ESHAPE, "%s: w must have %" PRId64 " values", fn, C);
    if (dx && (check_tensor(ctx, fn, "dx", dx, LRE_F32, 2) || dx->shape[0] != x->shape[0] ||
               dx->shape[1] != x->shape[1]))
        return lre_fail(ctx, LRE_ESHAPE, "%s: dx must have x's shape", fn);
    return ctx->be->batch_norm_backward(ctx->be_state, dx ? lre_f32(dx) : NULL,
                                        dw ? lre_f32(dw) : NULL, db ? lre_f32(db) : NULL,
                                        lre_cf32(dy), lre_cf32(x), lre_cf32(mean),
                                        lre_cf32(rstd), w ? lre_cf32(w) : NULL, x->shape[0], C,
                                        S, accumulate);
}

/* --------------------------------------------------------------- dropout */

lre_status lre_dropout_dev(lre_ctx *ctx, lre_tensor *y, lre_tensor *mask, const lre_tensor *x,
                           float p, const uint64_t *rng, uint64_t salt)
{
    static const char fn[] = "dropout";
    if (!ctx) return LRE_EINVAL;
    if (!ctx->be->dropout_forward)
        return lre_fail(ctx, LRE_EINVAL, "%s: the %s backend has no dropout", fn, ctx->be->name);
    if (!(p >= 0.0f && p < 1.0f))
        return lre_fail(ctx, LRE_EINVAL, "%s: p %g must be in [0, 1)", fn, (double)p);
    CHECK(check_tensor(ctx, fn, "x", x, LRE_F32, 2));
    CHECK(check_tensor(ctx, fn, "y", y, LRE_F32, 2));
    CHECK(check_tensor(ctx, fn, "mask", mask, LRE_F32, 2));
    const int64_t n = lre_tensor_numel(x);
    if (lre_tensor_numel(y) != n || lre_tensor_numel(mask) != n)
        return lre_fail(ctx, LRE_ESHAPE, "%s: x, y and mask must have the same size", fn);
    const double t = (double)p * 4294967296.0;
    const uint32_t threshold = t >= 4294967295.0 ? 4294967295u : (uint32_t)t;
    return ctx->be->dropout_forward(ctx->be_state, lre_f32(y), lre_f32(mask), lre_cf32(x), n, rng,
                                    salt, threshold, 1.0f / (1.0f - p));
}

/* ------------------------------------------------------------------ add */

lre_status lre_add_dev(lre_ctx *ctx, lre_tensor *y, const lre_tensor *a, const lre_tensor *b)
{
    static const char fn[] = "add";
    if (!ctx) return LRE_EINVAL;
    if (!ctx->be->add)
        return lre_fail(ctx, LRE_EINVAL, "%s: the %s backend cannot add (no residual blocks)",
                        fn, ctx->be->name);
    CHECK(check_tensor(ctx, fn, "y", y, LRE_F32, 2));
    CHECK(check_tensor(ctx, fn, "a", a, LRE_F32, 2));
    CHECK(check_tensor(ctx, fn, "b", b, LRE_F32, 2));
    const int64_t n = lre_tensor_numel(y);
    if (lre_tensor_numel(a) != n || lre_tensor_numel(b) != n)
        return lre_fail(ctx, LRE_ESHAPE, "%s: y, a and b must have the same size", fn);
    return ctx->be->add(ctx->be_state, lre_f32(y), lre_cf32(a), lre_cf32(b), n);
}
