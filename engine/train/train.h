/*
 * train/train.h — the trainer (model + loss + optimizer + dataset + batch
 * order), its preallocated workspace, and snapshots, private to the engine.
 * Checkpoints on disk (checkpoint.c) go through the safetensors parser
 * (safetensors.h).
 *
 * Layer 5 (DESIGN.md). May include: nn/nn.h, data/data.h, core/core.h.
 */
#ifndef LRE_TRAIN_H
#define LRE_TRAIN_H

#include "nn/nn.h"
#include "data/data.h"

/* ----------------------------------------------------------- trainer */

typedef struct lre_workspace {
    int64_t rows;             /* capacity: >= the micro-batch size (evaluate
                                 runs in chunks of this many rows) */
    float *x_host;            /* rows × in, gathered batch on the host */
    int32_t *y_host;          /* rows */
    float *t_host;            /* rows × target_dim */
    int64_t *idx;             /* rows, the gathered indices */
    lre_tensor *x;            /* (rows, in) on the device */
    lre_tensor *y;            /* (rows) i32 labels on the device */
    lre_tensor *t;            /* (rows, target_dim) f32 targets */
    lre_tensor **act;         /* n_layers outputs, (rows, width) */
    lre_tensor **dact;        /* n_layers gradients w.r.t. outputs */
    /* row-limited views for a short batch (set per batch, no allocation) */
    lre_tensor vx, vy, vt;
    lre_tensor *vact, *vdact; /* arrays of n_layers tensor structs */
} lre_workspace;

struct lre_trainer {
    int refcount;
    lre_ctx *ctx;
    lre_model *model;         /* retained */
    lre_dataset *data;        /* retained */
    lre_loss_config loss;
    lre_optim_config optim;
    int64_t batch_size;
    int accumulation_steps;
    uint64_t seed;
    int64_t steps;            /* optimizer steps taken */
    lre_tensor *state1, *state2; /* optimizer state, n_params each (state2
                                    unused by SGD but allocated) */
    lre_batcher batcher;
    lre_workspace ws;
};

struct lre_snapshot {
    lre_ctx *ctx;
    int64_t n_params;
    char arch[512];           /* lre_model_describe of the model */
    lre_optim_kind optim_kind;
    float *params, *state1, *state2;  /* host copies */
    int64_t steps;
    uint64_t seed;
    int64_t epoch, cursor;
};


#endif /* LRE_TRAIN_H */
