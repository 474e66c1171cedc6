/*
 * optim.c — optimizer configurations with torch.optim's defaults and checks,
 * and the update dispatch. The fused update loops are in the backends.
 */
#include <math.h>

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

lre_status lre_optim_update(lre_ctx *ctx, const lre_optim_config *c, double lr, int64_t step,
                            lre_tensor *p, const lre_tensor *g, lre_tensor *state1,
                            lre_tensor *state2)
{
    static const char fn[] = "lre_optim_update";
    if (!ctx) return LRE_EINVAL;
    lre_status s = lre_optim_config_check(ctx, c);
    if (s) return s;
    if (!isfinite(lr) || lr < 0.0)
        return lre_fail(ctx, LRE_EINVAL, "%s: learning rate %g must be finite and >= 0", fn,
                        (double)lr);
    if (step < 1) return lre_fail(ctx, LRE_EINVAL, "%s: step must be >= 1", fn);
    const lre_tensor *ts[4] = {p, g, state1, state2};
    static const char *const tn[4] = {"p", "g", "state1", "state2"};
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
    /* The scalars as torch.optim forms them: Python floats (double) combined
     * in double, then rounded once to float32 where they meet a tensor. */
    if (c->kind == LRE_OPTIM_SGD) {
        ctx->be->sgd_update(ctx->be_state, lre_f32(p), lre_cf32(g),
                            state1 ? lre_f32(state1) : NULL, p->numel, (float)lr,
                            (float)c->momentum, (float)(1.0 - c->dampening), c->nesterov,
                            (float)c->weight_decay, step == 1);
    } else {
        int decoupled = c->kind == LRE_OPTIM_ADAMW;
        double bc1 = 1.0 - pow(c->beta1, (double)step);
        double bc2 = 1.0 - pow(c->beta2, (double)step);
        ctx->be->adam_update(ctx->be_state, lre_f32(p), lre_cf32(g), lre_f32(state1),
                             lre_f32(state2), p->numel, (float)(lr / bc1), (float)sqrt(bc2),
                             (float)(1.0 - c->beta1), (float)c->beta2,
                             (float)(1.0 - c->beta2), (float)c->eps,
                             decoupled ? (float)(1.0 - lr * c->weight_decay) : 1.0f,
                             decoupled ? 0.0f : (float)c->weight_decay);
    }
    return LRE_OK;
}
