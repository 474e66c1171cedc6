/*
 * nn/nn.h — layers, the Sequential model and its flat parameter and
 * gradient buffers, private to the engine. The ops (ops.c) and optimizer
 * updates (optim.c) are declared in the public header.
 *
 * Layer 3 (README.md, "Layout"). May include: core/core.h (and what it includes).
 */
#ifndef LRE_NN_H
#define LRE_NN_H

#include "core/core.h"

/* ------------------------------------------------------------- model */

typedef struct lre_layer {
    lre_layer_kind kind;
    lre_act act;
    float act_param;
    int64_t in, out;          /* linear: features; the others: values per row
                                 in and out (once the input shape is set) */
    int64_t cin, cout;        /* conv2d channels */
    lre_window win;           /* conv2d and pooling, as added */
    int64_t aoh, aow;         /* adaptive_avg_pool2d's output size */
    int64_t norm_n;           /* layer_norm: the normalised size; batch_norm: channels */
    float eps;                /* layer_norm, batch_norm */
    float momentum;           /* batch_norm */
    int bn_dims;              /* batch_norm: 1 or 2 */
    int64_t bn_S;             /* batch_norm: values per channel per row (input shape) */
    int64_t buf_off;          /* batch_norm: running_mean, then running_var, in buffers */
    lre_tensor *rm, *rv;      /* views into buffers */
    int64_t nbt;              /* batch_norm: num_batches_tracked */
    char pname[48];           /* the state_dict name ("3", "4.0", "4.shortcut.1") */
    int res_a, res_b;         /* residual end: the two layers it adds; residual
                                 start: its shortcut marker (or -1) and its end */
    int64_t res_nd, res_sh[LRE_MAX_DIMS]; /* resolution: the block input's shape */
    int init_ones;            /* the weight starts at 1 and the bias at 0
                                 (layer_norm), not uniform */
    /* set by lre_model_set_input_shape */
    lre_conv_geom g;          /* conv2d and pooling: the window over the input */
    int ndim;                 /* the output row's shape */
    int64_t shape[LRE_MAX_DIMS];
    /* parameters: weight then bias, element offsets in the flat buffers */
    int64_t w_off, b_off;
    int64_t wn, bn;           /* elements (0: none) */
    int64_t fan_in;           /* the initialisation's bound is 1/sqrt(fan_in) */
    int w_ndim;               /* the weight's shape as PyTorch's state_dict has it */
    int64_t w_shape[4];
    lre_tensor *w, *b;        /* views into params: linear (out, in), conv2d (O, C·KH·KW) */
    lre_tensor *dw, *db;      /* views into grads                    */
} lre_layer;

/* Has the layer a weight (and perhaps a bias)? */
static inline int lre_layer_has_params(const lre_layer *l) { return l->wn > 0; }

struct lre_model {
    int refcount;
    lre_ctx *ctx;             /* retained */
    int n_layers, cap_layers;
    lre_layer *layers;
    int64_t n_params;
    bool initialized;
    lre_tensor *params;       /* (n_params) f32 */
    lre_tensor *grads;        /* (n_params) f32 */
    const void *owner;        /* the trainer that steps these parameters, or NULL */
    int top;                  /* the next top-level (nn.Sequential) index */
    int open_res;             /* the open residual block's start layer, or -1 */
    int in_shortcut;          /* adding to the open block's shortcut */
    int inner;                /* the next index inside the open block's side */
    int block_top;            /* the open block's own index in the Sequential */
    int64_t n_buffers;        /* running statistics (f32), not trained */
    lre_tensor *buffers;
    int in_ndim;              /* the input row shape (lre_model_set_input_shape); 0: not set */
    int64_t in_shape[LRE_MAX_DIMS];
};

/* Dropout through the backend: mask (like x) = each value's keep factor
 * (0 or 1/(1 − p)) from rng (device memory: the seed and the micro-batch's
 * serial) and salt (the layer), y = x·mask. Run again on dy with the same
 * rng and salt it gives the backward (the same mask). */
lre_status lre_dropout_dev(lre_ctx *ctx, lre_tensor *y, lre_tensor *mask, const lre_tensor *x,
                           float p, const uint64_t *rng, uint64_t salt);

/* y = a + b, element by element (tensors of the same size). */
lre_status lre_add_dev(lre_ctx *ctx, lre_tensor *y, const lre_tensor *a, const lre_tensor *b);

/* A 64-bit hash of lre_model_describe's text, computed without it (no
 * allocation): what a snapshot's restore compares, whatever the length. */
uint64_t lre_model_arch_hash(const lre_model *m);

/* Running statistics back to their start (batch_norm: mean 0, variance
 * 1, num_batches_tracked 0). */
lre_status lre_model_reset_buffers(lre_model *m);

/* ----------------------------------------------------- optimizer state */

/* An optimizer's state over the flat parameter buffer, named as
 * torch.optim names it; the buffers the optimizer does not use are NULL
 * (SGD without momentum has none). */
#define LRE_OPTIM_MAX_BUFFERS 2
typedef struct lre_optim_state {
    lre_optim_kind kind;
    int n;                                        /* buffers in use */
    lre_tensor *buf[LRE_OPTIM_MAX_BUFFERS];       /* n_params f32 each */
    const char *name[LRE_OPTIM_MAX_BUFFERS];      /* "momentum_buffer"; "exp_avg", "exp_avg_sq" */
} lre_optim_state;

/* Allocates (zero-filled) the buffers optimizer c needs for n parameters. */
lre_status lre_optim_state_init(lre_ctx *ctx, lre_optim_state *st, const lre_optim_config *c,
                                int64_t n);
void lre_optim_state_free(lre_optim_state *st);
/* dst = src, buffer by buffer, device to device (same optimizer, same n). */
lre_status lre_optim_state_copy(lre_optim_state *dst, const lre_optim_state *src);
lre_status lre_optim_state_zero(lre_optim_state *st);
/* The per-step scalars of config c at learning rate lr and 1-based step,
 * written into the context's pinned scratch (ctx->scratch_host->optim),
 * where lre_optim_state_apply picks them up. Host only; no device work. */
void lre_optim_scalars_stage(lre_ctx *ctx, const lre_optim_config *c, double lr, int64_t step);
/* Copies the staged scalars to the device and runs the update of p with
 * gradients g and this state's buffers: no allocation, no wait. */
lre_status lre_optim_state_apply(lre_ctx *ctx, const lre_optim_config *c, lre_optim_state *st,
                                 lre_tensor *p, const lre_tensor *g);

/* lre_linear_forward, then y = relu(y) with `relu` (lre_act_forward's
 * LRE_ACT_RELU, bit for bit): inside the GEMM where the backend fuses it
 * (oneDNN's post-op), so y is written once. */
lre_status lre_linear_relu_forward(lre_ctx *ctx, lre_tensor *y, const lre_tensor *x,
                                   const lre_tensor *w, const lre_tensor *b, int relu);

/* Readies the backend for the GEMMs of a linear layer (in → out) on B
 * rows: forward (with the relu when `relu`), and with `backward` its weight
 * gradient (also the accumulating one with `accumulate`) and, with
 * `with_dx`, its input gradient — so that those calls allocate nothing (a
 * oneDNN primitive per shape is made here). */
lre_status lre_linear_prepare(lre_ctx *ctx, int64_t B, int64_t in, int64_t out, int backward,
                              int with_dx, int accumulate, int relu);

/* lre_conv2d_forward, then y = relu(y) with `relu` (inside the
 * convolution where the backend fuses it). */
lre_status lre_conv2d_relu_forward(lre_ctx *ctx, lre_tensor *y, const lre_tensor *x,
                                   const lre_tensor *w, const lre_tensor *b,
                                   const lre_conv_geom *g, lre_tensor *col, int relu);

/* Readies the backend for a conv2d layer of O output channels over B
 * images of g (with a bias, and the relu after it fused): forward, and
 * with `backward` its weight gradient (set and accumulated) and, with
 * `with_dx`, its input gradient — a oneDNN primitive per batch size, or
 * the image-by-image GEMMs. */
lre_status lre_conv2d_prepare(lre_ctx *ctx, int64_t B, const lre_conv_geom *g, int64_t O,
                              int bias, int relu, int backward, int with_dx);

/* Readies the device for a layer norm over `groups` groups of n (with
 * `backward`, its backward too) and a batch norm's training forward over B
 * rows of C channels of S values: oneDNN primitives on the CPU, nothing
 * elsewhere. */
lre_status lre_layer_norm_prepare(lre_ctx *ctx, int64_t groups, int64_t n, int affine, float eps,
                                  int backward);
lre_status lre_batch_norm_prepare(lre_ctx *ctx, int64_t B, int64_t C, int64_t S, int affine,
                                  float eps);

/* lre_cross_entropy, lre_mse and lre_count_correct for the trainer: the
 * result stays on the device (loss_dev, correct_dev: device memory) and
 * nothing waits, so a captured step can run them; the labels come from a
 * dataset, checked when it was created, so none is checked here. */
lre_status lre_cross_entropy_dev(lre_ctx *ctx, float *loss_dev, lre_tensor *dlogits,
                                 const lre_tensor *logits, const lre_tensor *labels,
                                 float smoothing, float grad_scale);
lre_status lre_mse_dev(lre_ctx *ctx, float *loss_dev, lre_tensor *dpred, const lre_tensor *pred,
                       const lre_tensor *target, float grad_scale);
lre_status lre_count_correct_dev(lre_ctx *ctx, int64_t *correct_dev, const lre_tensor *logits,
                                 const lre_tensor *labels);

#endif /* LRE_NN_H */
