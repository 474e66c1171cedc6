/*
 * train/train.h — the trainer (model + loss + optimizer + dataset + batch
 * order), its preallocated workspace, and snapshots, private to the engine.
 * Checkpoints on disk (checkpoint.c) go through the safetensors parser
 * (safetensors.h).
 *
 * Layer 5 (README.md, "Layout"). May include: nn/nn.h, data/data.h, core/core.h.
 */
#ifndef LRE_TRAIN_H
#define LRE_TRAIN_H

#include "nn/nn.h"
#include "data/data.h"

/* ----------------------------------------------------------- trainer */

typedef struct lre_workspace {
    int64_t rows;             /* capacity: >= the micro-batch size (evaluate
                                 runs in chunks of this many rows) */
    int64_t idx_cap;          /* rows of idx_host and idx: accumulation × batch */
    int64_t *idx_host;        /* the step's row indices (the batcher's), pinned */
    lre_tensor *idx;          /* (idx_cap) i64: the same on the device */
    int64_t *nrows;           /* (idx_cap) rows of each micro-batch of the step */
    uint64_t *rng_host;       /* (2 per micro-batch) the seed and the dropout serial, pinned */
    lre_tensor *rng_dev;      /* the same on the device, where dropout reads them */
    /* losses and counts of a step or a pass, left on the device and read
     * back once (out_cap entries; the host side pinned) */
    int64_t out_cap;
    lre_tensor *losses;       /* (out_cap) f32 */
    lre_tensor *counts;       /* (out_cap) i64 */
    float *loss_host;
    int64_t *count_host;
    lre_tensor *x;            /* (rows, in) on the device */
    lre_tensor *y;            /* (rows) i32 labels on the device */
    lre_tensor *t;            /* (rows, target_dim) f32 targets */
    lre_tensor **act;         /* n_layers outputs, (rows, width); a flatten's is
                                 the layer before's (or x), retained */
    lre_tensor **dact;        /* n_layers gradients w.r.t. outputs (a flatten's
                                 alike; NULL where no gradient flows) */
    lre_tensor **aux;         /* per layer: max_pool2d's indices (rows, out) i32;
                                 conv2d's im2col matrix, a view of col;
                                 layer_norm's means (rows, groups) */
    lre_tensor **aux2;        /* layer_norm's 1/std (rows, groups) */
    lre_tensor *col;          /* the conv2d layers' shared im2col workspace */
    /* row-limited views for a short batch (set per batch, no allocation) */
    lre_tensor vidx, vx, vy, vt, vrng;
    lre_tensor *vact, *vdact, *vaux, *vaux2; /* arrays of n_layers tensor structs */
} lre_workspace;

/* A captured pass over a dataset (evaluate or accuracy), replayed while
 * the dataset (retained: its device rows stay where the graph reads them)
 * and the mode are the same. */
typedef struct lre_eval_graph {
    lre_dataset *data;
    int mode;                 /* 1: losses, 2: counts, 3: both */
    int runs;                 /* eager runs so far (the first warms up) */
    void *exec;
} lre_eval_graph;

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
    lre_precision precision_requested; /* what lre_trainer_opts asked for */
    lre_precision precision;  /* what the device does: set before every GEMM
                                 of a step, evaluate or accuracy */
    int64_t steps;            /* optimizer steps taken */
    int first_param;          /* the first layer with parameters: no gradient
                                 flows below it */
    int64_t rng_pos;          /* dropout: micro-batches drawn so far (the serial of
                                 the next), carried by snapshots and checkpoints */
    int cur_k;                /* the micro-batch a step's forward runs */
    lre_optim_state opt;      /* the buffers the optimizer uses, n_params each */
    lre_batcher batcher;
    lre_workspace ws;
    /* CUDA graphs (where the backend captures): a step of step_k full
     * micro-batches, replayed; and the step of the last shape with a short
     * micro-batch (an epoch's end: sizes tail_ns[0..tail_k)); the first
     * step of each shape runs eagerly */
    int graphs;               /* 1: capture and replay (default) */
    void *step_graph;
    int step_k, step_runs;
    void *tail_graph;
    int tail_k, tail_runs;
    int64_t *tail_ns;         /* idx_cap / batch entries (ensure_step_space) */
    lre_eval_graph eval[2];
};

struct lre_snapshot {
    lre_ctx *ctx;
    int64_t n_params;
    char arch[512];           /* lre_model_describe of the model (for messages) */
    uint64_t arch_hash;       /* lre_model_arch_hash: the whole of it, compared */
    lre_optim_kind optim_kind;
    lre_tensor *params;       /* device copies, taken and put back device to device */
    lre_tensor *buffers;      /* the running statistics (batch norm), or NULL */
    int n_layers;
    int64_t *nbt;             /* (n_layers) each layer's num_batches_tracked */
    lre_optim_state opt;
    int64_t steps;
    uint64_t seed;
    int64_t epoch, cursor;
    int64_t rng_pos;
};


#endif /* LRE_TRAIN_H */
