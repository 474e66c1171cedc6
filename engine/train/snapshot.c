/*
 * snapshot.c — in-memory snapshots of a trainer: parameters, running
 * statistics (batch norm's, with num_batches_tracked), optimizer state and
 * step count, and the batch position (seed, epoch, cursor; the
 * epoch's order is a pure function of them). Parameters and optimizer
 * buffers are copied device to device (they never cross to the host), and
 * only the buffers the optimizer uses exist. Restoring then stepping gives
 * the original run bit for bit.
 */
#include <inttypes.h>
#include <string.h>

#include "train/train.h"

lre_status lre_trainer_snapshot(lre_trainer *t, lre_snapshot **out)
{
    if (!t) return LRE_EINVAL;
    lre_ctx *ctx = t->ctx;
    if (!out) return lre_fail(ctx, LRE_EINVAL, "snapshot: out is NULL");
    *out = NULL;
    lre_model *m = t->model;
    lre_snapshot *s = lre_calloc(ctx, 1, sizeof *s, "snapshot");
    if (!s) return LRE_ENOMEM;
    s->ctx = ctx;
    lre_ctx_retain(ctx);
    int64_t np = m->n_params;
    lre_status st;
    if ((st = lre_tensor_new(ctx, &s->params, LRE_F32, 1, &np)) ||
        (st = lre_optim_state_init(ctx, &s->opt, &t->optim, np)) ||
        (st = lre_tensor_copy(s->params, m->params)) ||
        (st = lre_optim_state_copy(&s->opt, &t->opt)))
        goto fail;
    s->n_params = np;
    if (m->buffers && ((st = lre_tensor_new(ctx, &s->buffers, LRE_F32, 1, &m->n_buffers)) ||
                       (st = lre_tensor_copy(s->buffers, m->buffers))))
        goto fail;
    s->n_layers = m->n_layers;
    s->nbt = lre_malloc(ctx, (size_t)m->n_layers * sizeof *s->nbt, "snapshot");
    if (!s->nbt) {
        st = LRE_ENOMEM;
        goto fail;
    }
    for (int i = 0; i < m->n_layers; i++) s->nbt[i] = m->layers[i].nbt;
    lre_model_describe(m, s->arch, sizeof s->arch);
    s->arch_hash = lre_model_arch_hash(m);
    s->optim_kind = t->optim.kind;
    s->steps = t->steps;
    s->seed = t->batcher.seed;
    s->epoch = t->batcher.epoch;
    s->cursor = t->batcher.cursor;
    s->rng_pos = t->rng_pos;
    *out = s;
    return LRE_OK;
fail:
    lre_snapshot_release(s);
    return st;
}

lre_status lre_trainer_restore(lre_trainer *t, const lre_snapshot *s)
{
    if (!t) return LRE_EINVAL;
    lre_ctx *ctx = t->ctx;
    if (!s) return lre_fail(ctx, LRE_EINVAL, "restore: snapshot is NULL");
    if (s->ctx != ctx)
        return lre_fail(ctx, LRE_EINVAL, "restore: the snapshot belongs to another context");
    const lre_model *m = t->model;
    const int same = s->n_params == m->n_params && s->n_layers == m->n_layers &&
                     !s->buffers == !m->buffers &&
                     (!s->buffers || lre_tensor_numel(s->buffers) == m->n_buffers) &&
                     s->arch_hash == lre_model_arch_hash(m);
    if (!same) {
        char arch[sizeof s->arch];
        lre_model_describe(m, arch, sizeof arch);
        return lre_fail(ctx, LRE_ESHAPE,
                        "restore: the snapshot is of model %.300s (%" PRId64
                        " parameters), this trainer's model is %.300s (%" PRId64 ")",
                        s->arch, s->n_params, arch, m->n_params);
    }
    if (s->optim_kind != t->optim.kind || s->opt.n != t->opt.n)
        return lre_fail(ctx, LRE_EINVAL,
                        "restore: the snapshot holds %s state (%d buffers), this trainer uses "
                        "%s (%d buffers)", lre_optim_name(s->optim_kind), s->opt.n,
                        lre_optim_name(t->optim.kind), t->opt.n);
    if (s->cursor < 0 || s->cursor > t->batcher.n)
        return lre_fail(ctx, LRE_EINVAL,
                        "restore: the snapshot's batch position %" PRId64
                        " is beyond this trainer's %" PRId64 " rows", s->cursor, t->batcher.n);
    lre_status st;
    if ((st = lre_tensor_copy(t->model->params, s->params)) ||
        (st = lre_optim_state_copy(&t->opt, &s->opt)) ||
        (s->buffers && (st = lre_tensor_copy(t->model->buffers, s->buffers))))
        return st;
    for (int i = 0; i < s->n_layers; i++) t->model->layers[i].nbt = s->nbt[i];
    t->model->initialized = true;
    t->steps = s->steps;
    t->rng_pos = s->rng_pos;
    int reorder = t->batcher.seed != s->seed || t->batcher.epoch != s->epoch;
    t->batcher.seed = s->seed;
    t->seed = s->seed;
    t->batcher.epoch = s->epoch;
    t->batcher.cursor = s->cursor;
    if (reorder) lre_batcher_permute(&t->batcher);
    return LRE_OK;
}

void lre_snapshot_release(lre_snapshot *s)
{
    if (!s) return;
    lre_ctx *ctx = s->ctx;
    lre_tensor_release(s->params);
    lre_tensor_release(s->buffers);
    lre_free(ctx, s->nbt, 0);
    lre_optim_state_free(&s->opt);
    lre_free(ctx, s, sizeof *s);
    lre_ctx_release(ctx);
}

int64_t lre_snapshot_steps(const lre_snapshot *s) { return s ? s->steps : 0; }
