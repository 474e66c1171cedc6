/*
 * optim.c — optimizer configurations with torch.optim's defaults and checks,
 * and the update dispatch. The fused update loops are in the backends.
 */
#include <math.h>
#include <string.h>

#include "nn/nn.h"

_Static_assert(LRE_OPTIM_COUNT == 3, "optimizer names below must match lre_optim_kind");
static const char *const optim_names[LRE_OPTIM_COUNT] = {"sgd", "adam", "adamw"};

const char *lre_optim_name(lre_optim_kind k)
{
    return (unsigned)k < LRE_OPTIM_COUNT ? optim_names[k] : "?";
}

lre_optim_config lre_optim_sgd_default(void)
{
    lre_optim_config c = {0};
    c.kind = LRE_OPTIM_SGD;
    c.beta1 = 0.9; /* unused by SGD; kept at Adam's values so a config  */
    c.beta2 = 0.999; /* switched to Adam by hand stays valid             */
    c.eps = 1e-8;
    return c;
}

lre_optim_config lre_optim_adam_default(void)
{
    lre_optim_config c = {0};
    c.kind = LRE_OPTIM_ADAM;
    c.beta1 = 0.9;
    c.beta2 = 0.999;
    c.eps = 1e-8;
    return c;
}

lre_optim_config lre_optim_adamw_default(void)
{
    lre_optim_config c = lre_optim_adam_default();
    c.kind = LRE_OPTIM_ADAMW;
    c.weight_decay = 1e-2;
    return c;
}

lre_status lre_optim_config_check(lre_ctx *ctx, const lre_optim_config *c)
{
    static const char fn[] = "optimizer";
    if (!c) return lre_fail(ctx, LRE_EINVAL, "%s: config is NULL", fn);
    if ((unsigned)c->kind >= LRE_OPTIM_COUNT)
        return lre_fail(ctx, LRE_EINVAL, "%s: unknown kind %d", fn, (int)c->kind);
    const char *name = optim_names[c->kind];
    if (!(c->weight_decay >= 0.0) || !isfinite(c->weight_decay))
        return lre_fail(ctx, LRE_EINVAL, "%s: invalid weight_decay value: %g", name,
                        (double)c->weight_decay);
    if (c->kind == LRE_OPTIM_SGD) {
        if (!(c->momentum >= 0.0) || !isfinite(c->momentum))
            return lre_fail(ctx, LRE_EINVAL, "sgd: invalid momentum value: %g",
                            (double)c->momentum);
        if (!isfinite(c->dampening))
            return lre_fail(ctx, LRE_EINVAL, "sgd: invalid dampening value: %g",
                            (double)c->dampening);
        if (c->nesterov && (c->momentum <= 0.0 || c->dampening != 0.0))
            return lre_fail(ctx, LRE_EINVAL,
                            "sgd: nesterov momentum requires a momentum and zero dampening "
                            "(momentum=%g, dampening=%g)",
                            (double)c->momentum, (double)c->dampening);
        return LRE_OK;
    }
    if (!(c->beta1 >= 0.0 && c->beta1 < 1.0))
        return lre_fail(ctx, LRE_EINVAL, "%s: invalid beta parameter at index 0: %g", name,
                        (double)c->beta1);
    if (!(c->beta2 >= 0.0 && c->beta2 < 1.0))
        return lre_fail(ctx, LRE_EINVAL, "%s: invalid beta parameter at index 1: %g", name,
                        (double)c->beta2);
    if (!(c->eps >= 0.0) || !isfinite(c->eps))
        return lre_fail(ctx, LRE_EINVAL, "%s: invalid epsilon value: %g", name, (double)c->eps);
    return LRE_OK;
}

/* The scalars as torch.optim forms them: Python floats (double) combined in
 * double, then rounded once to float32 where they meet a tensor. */
static lre_optim_scalars optim_scalars(const lre_optim_config *c, double lr, int64_t step)
{
    lre_optim_scalars s = {0};
    if (c->kind == LRE_OPTIM_SGD) {
        s.lr = (float)lr;
        s.momentum = (float)c->momentum;
        s.keep = (float)(1.0 - c->dampening);
        s.weight_decay = (float)c->weight_decay;
        s.nesterov = c->nesterov != 0;
        s.first_step = step == 1;
    } else {
        int decoupled = c->kind == LRE_OPTIM_ADAMW;
        double bc1 = 1.0 - pow(c->beta1, (double)step);
        double bc2 = 1.0 - pow(c->beta2, (double)step);
        s.step_size = (float)(lr / bc1);
        s.bc2_sqrt = (float)sqrt(bc2);
        s.w1 = (float)(1.0 - c->beta1);
        s.beta2 = (float)c->beta2;
        s.w2 = (float)(1.0 - c->beta2);
        s.eps = (float)c->eps;
        s.decay = decoupled ? (float)(1.0 - lr * c->weight_decay) : 1.0f;
        s.l2 = decoupled ? 0.0f : (float)c->weight_decay;
    }
    return s;
}

void lre_optim_scalars_stage(lre_ctx *ctx, const lre_optim_config *c, double lr, int64_t step)
{
    ctx->scratch_host->optim = optim_scalars(c, lr, step);
}

/* The staged scalars to the device (from pinned memory: capturable), then
 * the update kernel reading them there. */
static lre_status launch_update(lre_ctx *ctx, const lre_optim_config *c, lre_tensor *p,
                                const lre_tensor *g, lre_tensor *buf1, lre_tensor *buf2)
{
    lre_optim_scalars *dsc = &ctx->scratch->optim;
    lre_status s = ctx->be->to_device(ctx->be_state, dsc, &ctx->scratch_host->optim, sizeof *dsc);
    if (s) return s;
    if (c->kind == LRE_OPTIM_SGD)
        return ctx->be->sgd_update(ctx->be_state, lre_f32(p), lre_cf32(g),
                                   buf1 ? lre_f32(buf1) : NULL, p->numel, dsc);
    return ctx->be->adam_update(ctx->be_state, lre_f32(p), lre_cf32(g), lre_f32(buf1),
                                lre_f32(buf2), p->numel, dsc);
}

lre_status lre_optim_update(lre_ctx *ctx, const lre_optim_config *c, double lr, int64_t step,
                            lre_tensor *p, const lre_tensor *g, lre_tensor *buf1,
                            lre_tensor *buf2)
{
    static const char fn[] = "lre_optim_update";
    if (!ctx) return LRE_EINVAL;
    lre_status s = lre_optim_config_check(ctx, c);
    if (s) return s;
    if (!isfinite(lr) || lr < 0.0)
        return lre_fail(ctx, LRE_EINVAL, "%s: learning rate %g must be finite and >= 0", fn,
                        (double)lr);
    if (step < 1) return lre_fail(ctx, LRE_EINVAL, "%s: step must be >= 1", fn);
    const lre_tensor *ts[4] = {p, g, buf1, buf2};
    const char *tn[4] = {"p", "g", c->kind == LRE_OPTIM_SGD ? "momentum_buffer" : "exp_avg",
                         "exp_avg_sq"};
    int need = c->kind == LRE_OPTIM_SGD ? (c->momentum != 0.0 ? 3 : 2) : 4;
    for (int i = 0; i < need; i++) {
        if (!ts[i]) return lre_fail(ctx, LRE_EINVAL, "%s: %s is NULL", fn, tn[i]);
        if (ts[i]->dtype != LRE_F32 || ts[i]->st->ctx != ctx) {
            char b[64];
            return lre_fail(ctx, LRE_EINVAL, "%s: %s is %s%s, expected an f32 tensor of this "
                            "context", fn, tn[i], lre_tensor_describe(ts[i], b, sizeof b),
                            ts[i]->st->ctx != ctx ? " of another context" : "");
        }
        if (ts[i]->numel != p->numel)
            return lre_fail(ctx, LRE_ESHAPE,
                            "%s: %s has %lld elements, p has %lld", fn, tn[i],
                            (long long)ts[i]->numel, (long long)p->numel);
    }
    /* an earlier update's copy of the pinned scalars may still be pending */
    if ((s = ctx->be->synchronize(ctx->be_state))) return s;
    lre_optim_scalars_stage(ctx, c, lr, step);
    return launch_update(ctx, c, p, g, need >= 3 ? buf1 : NULL, need == 4 ? buf2 : NULL);
}

/* ------------------------------------------------------ optimizer state */

lre_status lre_optim_state_init(lre_ctx *ctx, lre_optim_state *st, const lre_optim_config *c,
                                int64_t n)
{
    memset(st, 0, sizeof *st);
    st->kind = c->kind;
    if (c->kind == LRE_OPTIM_SGD) {
        if (c->momentum != 0.0) st->name[st->n++] = "momentum_buffer";
    } else {
        st->name[st->n++] = "exp_avg";
        st->name[st->n++] = "exp_avg_sq";
    }
    for (int i = 0; i < st->n; i++) {
        lre_status s = lre_tensor_new(ctx, &st->buf[i], LRE_F32, 1, &n);
        if (s) {
            lre_optim_state_free(st);
            return s;
        }
    }
    return LRE_OK;
}

void lre_optim_state_free(lre_optim_state *st)
{
    for (int i = 0; i < LRE_OPTIM_MAX_BUFFERS; i++) lre_tensor_release(st->buf[i]);
    memset(st, 0, sizeof *st);
}

lre_status lre_optim_state_copy(lre_optim_state *dst, const lre_optim_state *src)
{
    for (int i = 0; i < src->n && i < dst->n; i++) {
        lre_status s = lre_tensor_copy(dst->buf[i], src->buf[i]);
        if (s) return s;
    }
    return LRE_OK;
}

lre_status lre_optim_state_zero(lre_optim_state *st)
{
    for (int i = 0; i < st->n; i++) {
        lre_status s = lre_tensor_zero(st->buf[i]);
        if (s) return s;
    }
    return LRE_OK;
}

lre_status lre_optim_state_apply(lre_ctx *ctx, const lre_optim_config *c, lre_optim_state *st,
                                 lre_tensor *p, const lre_tensor *g)
{
    return launch_update(ctx, c, p, g, st->buf[0], st->buf[1]);
}
