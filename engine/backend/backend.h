/*
 * backend/backend.h — the device seam. Every per-element or per-matrix
 * operation the engine runs goes through one of these tables; the callers
 * (core/tensor.c, nn/ops.c, nn/optim.c, data/dataset.c) never know which
 * device they run on, and the trainer never calls a table at all. The CPU
 * table (cpu.c) is the reference; a CUDA table (cuda/, next) implements the
 * same entries with cuBLAS and kernels and is tested against it entry by
 * entry (spec/c/test_backend_ops.c).
 *
 * Layer 1 (README.md, "Layout"), the lowest. May include: the public lrengine.h (for
 * lre_status, lre_dtype, lre_act, lre_device) and nothing else of the
 * engine. A backend sees what a backend needs — an error sink, allocation
 * counters and a thread count (lre_backend_env) — never a context, a
 * trainer, a workspace or a snapshot. Safe to include from C++ (.cu).
 *
 * Pointers passed to an entry are device pointers (host memory for a host
 * backend, see is_host), row-major throughout; each entry's comment gives
 * its shapes. Entries may run asynchronously on the backend's stream; the
 * callers in core/ make every public operation synchronous from the user's
 * view (a result that reaches the host is copied with to_host, which waits).
 * Entries marked optional may be NULL.
 */
#ifndef LRE_BACKEND_H
#define LRE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "lrengine.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LRE_ERRMSG_SIZE 1024

/* Allocation counters: every allocation, host or device, is counted in its
 * context's pair, so "a step allocates nothing" holds on every device. */
typedef struct lre_mem_stats {
    uint64_t n_allocs;        /* allocations made (never decreases) */
    uint64_t bytes_live;      /* bytes allocated and not yet freed  */
} lre_mem_stats;

/* What a backend gets from the context that creates it. */
typedef struct lre_backend_env {
    char *err;                /* the context's message buffer (LRE_ERRMSG_SIZE) */
    lre_mem_stats *stats;     /* the context's counters */
    int threads;              /* worker threads; 0: the library's default */
} lre_backend_env;

/* Writes a message (printf style) into env->err and returns s. */
lre_status lre_backend_fail(const lre_backend_env *env, lre_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Host memory, 64-byte aligned, counted in `stats` (backend/hostmem.c). The
 * engine's own host allocator (core/ctx.c) and the CPU backend's tensor
 * memory both use it. NULL when out of memory (or n too large). */
void *lre_host_alloc(lre_mem_stats *stats, size_t n, int zero);
void lre_host_free(lre_mem_stats *stats, void *p);

/* Where a batch gather reads from: a dataset's rows as stored (u8 or f32)
 * and the transform x' = x·scale' + shift' (global) or x·mul[c] + add[c]
 * (per feature), with every pointer on the backend's device. */
typedef struct lre_gather_src {
    const void *x;            /* rows × features, dtype u8 or f32 */
    lre_dtype dtype;
    int64_t features;
    const int32_t *labels;    /* rows, or NULL */
    const float *targets;     /* rows × target_dim, or NULL */
    int64_t target_dim;
    const int64_t *index;     /* the dataset's rows (n), or NULL: row i is i */
    int64_t n;                /* rows in the dataset (idx values lie in [0, n)) */
    float scale, shift;       /* global map, used when mul is NULL */
    int identity;             /* f32 rows with the identity map: a plain copy */
    const float *mul, *add;   /* per-feature map (features), or NULL */
} lre_gather_src;

/* The per-step scalars of an optimizer update, formed on the host from the
 * double hyper-parameters as torch.optim forms them (nn/optim.c) and read
 * by the update kernels from device memory, so a captured step needs
 * nothing from the host but this struct. */
typedef struct lre_optim_scalars {
    /* SGD: d = g + wd·p; momentum: buf = first ? d : momentum·buf + keep·d,
     * d = nesterov ? d + momentum·buf : buf; p -= lr·d */
    float lr, momentum, keep, weight_decay;
    int32_t nesterov, first_step;
    /* Adam/AdamW: p *= decay; g' = g + l2·p; m += w1·(g' - m);
     * v = beta2·v + w2·g'²; p -= step_size · m / (sqrt(v)/bc2_sqrt + eps) */
    float step_size, bc2_sqrt, w1, beta2, w2, eps, decay, l2;
} lre_optim_scalars;

typedef struct lre_backend {
    const char *name;
    lre_device device;
    int is_host;              /* device pointers are host memory (the CPU) */

    /* Sets up a backend state for one context. Fails (a message in
     * env->err) when the device is not present. */
    lre_status (*init)(const lre_backend_env *env, void **state);
    void (*shutdown)(void *state);                          /* optional */
    /* Waits until every entry issued on the state's stream has finished. */
    lre_status (*synchronize)(void *state);
    /* The stream or queue the entries are issued on (a cudaStream_t for
     * CUDA), for callers that capture or order work; NULL on the CPU. */
    void *(*stream)(void *state);

    /* Host memory the device copies from and to asynchronously (pinned,
     * page-locked, for CUDA): what a captured step's copies must use.
     * Counted like alloc; NULL on failure. A host backend gives plain memory. */
    void *(*host_alloc)(void *state, size_t nbytes);
    void (*host_free)(void *state, void *p);

    /* Graphs (optional, all four or none): capture every entry issued on
     * the stream between capture_begin and capture_end into a graph instead
     * of running it, then replay it with graph_launch (asynchronously, like
     * any entry). While capturing, only entries that neither allocate nor
     * wait may be issued, and host copies must use host_alloc memory. */
    lre_status (*capture_begin)(void *state);
    lre_status (*capture_end)(void *state, void **graph);
    lre_status (*graph_launch)(void *state, void *graph);
    void (*graph_destroy)(void *state, void *graph);

    /* memory; alloc returns NULL on failure (a message in env->err) */
    void *(*alloc)(void *state, size_t nbytes);            /* zero-filled */
    void (*free)(void *state, void *p);
    lre_status (*to_device)(void *state, void *dst, const void *src, size_t n);
    lre_status (*to_host)(void *state, void *dst, const void *src, size_t n);
    /* to_host into host_alloc memory without waiting: the bytes are there
     * after synchronize. What a captured step ends with. */
    lre_status (*to_host_async)(void *state, void *dst, const void *src, size_t n);
    lre_status (*copy)(void *state, void *dst, const void *src, size_t n);
    lre_status (*zero)(void *state, void *p, size_t n);

    /* c (M,N) = alpha·op(a)·op(b) + beta·c; lda/ldb/ldc are row strides.
     * K = 0 gives c = beta·c (c = 0 when beta = 0, whatever c held). */
    lre_status (*gemm)(void *state, int trans_a, int trans_b, int64_t M,
                       int64_t N, int64_t K, float alpha, const float *a,
                       int64_t lda, const float *b, int64_t ldb, float beta,
                       float *c, int64_t ldc);
    /* Optional. Sets the compute type of the gemm calls that follow
     * (lrengine.h, lre_precision; operands and results stay fp32) and
     * writes into *got the one the device does: `want` where it can, else
     * LRE_PRECISION_FP32. Changes host-side state only (no work on the
     * stream, no allocation), so it may be called between any two entries.
     * NULL: the backend runs fp32 only (the core reports FP32). */
    lre_status (*set_precision)(void *state, lre_precision want, lre_precision *got);

    /* Optional: readies whatever gemm with these arguments (and the current
     * precision) needs — a oneDNN primitive, its scratchpad — so that the
     * call itself allocates nothing. The trainer prepares its shapes when
     * it is made. NULL: nothing to prepare. */
    lre_status (*gemm_prepare)(void *state, int trans_a, int trans_b, int64_t M, int64_t N,
                               int64_t K, float alpha, int64_t lda, int64_t ldb, float beta,
                               int64_t ldc);

    /* Optional: y (B,out) = x (B,in) · w (out,in)^T + bias (out), the
     * linear layer's forward in one pass where the backend can add the bias
     * inside the GEMM (oneDNN's matmul with a bias: y is written once, not
     * read back); with `relu`, y = relu(y) too (act_forward's LRE_ACT_RELU),
     * inside the GEMM as well where the backend can. The same bits as gemm,
     * bias_add_forward and act_forward. NULL: the core calls those. */
    lre_status (*linear_forward)(void *state, float *y, const float *x, const float *w,
                                 const float *bias, int64_t B, int64_t in, int64_t out,
                                 int relu);
    /* Optional: what linear_forward with these arguments needs, made now
     * (as gemm_prepare). NULL: nothing to prepare. */
    lre_status (*linear_prepare)(void *state, int64_t B, int64_t in, int64_t out, int relu);

    /* y (rows,cols) += bias (cols), broadcast over rows */
    lre_status (*bias_add_forward)(void *state, float *y, const float *bias,
                                   int64_t rows, int64_t cols);
    /* db (cols) (+)= Σ_rows dy (rows,cols) */
    lre_status (*bias_add_backward)(void *state, float *db, const float *dy,
                                    int64_t rows, int64_t cols, int accumulate);

    /* Optional, the four or none (the device then has no convolution):
     * im2col: col (C·KH·KW, OH·OW) = the patches of one image x (C,H,W),
     * row (c,kh,kw), column (oh,ow) the pixel the window puts there, 0 in
     * the padding. col2im: dx (C,H,W) (+)= the columns folded back, each
     * pixel summing the entries that read it in (kh, kw) order, so the bits
     * are the same on every device. bias_rows_forward: y (rows,cols) +=
     * bias (rows) along each row; bias_rows_backward: db (rows) (+)= each
     * row's sum, in order. */
    lre_status (*im2col)(void *state, float *col, const float *x, const lre_conv_geom *g);
    lre_status (*col2im)(void *state, float *dx, const float *col, const lre_conv_geom *g,
                         int accumulate);
    lre_status (*bias_rows_forward)(void *state, float *y, const float *bias, int64_t rows,
                                    int64_t cols);
    lre_status (*bias_rows_backward)(void *state, float *db, const float *dy, int64_t rows,
                                     int64_t cols, int accumulate);

    /* Optional, the five or none: a batch's convolution in one call (the
     * CPU's oneDNN primitives) where conv_direct says it serves these
     * sizes now; else the core runs the entries above, image by image.
     * B images of g (rows C·H·W), O output channels, w (O, C·KH·KW).
     * conv_forward: y = conv(x, w) + bias (NULL: none), then relu(y) with
     * `relu`. conv_backward_data: dx = the input's gradient from dy.
     * conv_backward_weights: dw and db (NULL: none) = (or += with
     * accumulate) the sums over the batch. conv_prepare: what these calls
     * will need for B, made now (backward: the two backwards too, with_dx
     * the data's), so that they allocate nothing. */
    int (*conv_direct)(void *state, int64_t B, int64_t O, const lre_conv_geom *g);
    lre_status (*conv_forward)(void *state, float *y, const float *x, const float *w,
                               const float *bias, int64_t B, int64_t O, const lre_conv_geom *g,
                               int relu);
    lre_status (*conv_backward_data)(void *state, float *dx, const float *dy, const float *w,
                                     int64_t B, int64_t O, const lre_conv_geom *g);
    lre_status (*conv_backward_weights)(void *state, float *dw, float *db, const float *dy,
                                        const float *x, int64_t B, int64_t O,
                                        const lre_conv_geom *g, int accumulate);
    lre_status (*conv_prepare)(void *state, int64_t B, int64_t O, const lre_conv_geom *g,
                               int bias, int relu, int backward, int with_dx);

    /* Optional, the four or none (the device then has no pooling): over
     * g->C planes of H×W (a batch's images times their channels):
     * max_pool: y and idx (planes, OH·OW), idx the position h·W + w of
     * each window's maximum (-inf padding; a NaN wins, the last one);
     * its backward dx (planes, H·W) = each pixel's sum, in window order,
     * of dy where idx names it. avg_pool: y = the window's mean (divisor:
     * the window clipped to the padded input with count_include_pad, else
     * to the input); its backward gathers likewise. */
    lre_status (*max_pool_forward)(void *state, float *y, int32_t *idx, const float *x,
                                   const lre_conv_geom *g);
    lre_status (*max_pool_backward)(void *state, float *dx, const float *dy, const int32_t *idx,
                                    const lre_conv_geom *g);
    lre_status (*avg_pool_forward)(void *state, float *y, const float *x, const lre_conv_geom *g,
                                   int count_include_pad);
    lre_status (*avg_pool_backward)(void *state, float *dx, const float *dy,
                                    const lre_conv_geom *g, int count_include_pad);

    /* Optional, both or none: adaptive average pooling (torch's
     * AdaptiveAvgPool2d) over g->C planes of H×W to OH×OW (the other
     * fields of g unused): output (i, j) the mean of rows
     * [floor(i·H/OH), ceil((i+1)·H/OH)) and likewise columns; the backward
     * gathers each pixel's windows' dy / their sizes in window order. */
    lre_status (*adaptive_avg_pool_forward)(void *state, float *y, const float *x,
                                            const lre_conv_geom *g);
    lre_status (*adaptive_avg_pool_backward)(void *state, float *dx, const float *dy,
                                             const lre_conv_geom *g);

    /* Optional, both or none: torch's LayerNorm over `groups` groups of n
     * values (x, y: groups·n): y = (x − mean)·rstd·w + b (w, b: n, or both
     * NULL), mean and rstd (groups) kept; the backward writes dx and, with
     * w, dw and db (+)= their sums over the groups (in group order). */
    lre_status (*layer_norm_forward)(void *state, float *y, float *mean, float *rstd,
                                     const float *x, const float *w, const float *b,
                                     int64_t groups, int64_t n, float eps);
    lre_status (*layer_norm_backward)(void *state, float *dx, float *dw, float *db,
                                      const float *dy, const float *x, const float *mean,
                                      const float *rstd, const float *w, int64_t groups,
                                      int64_t n, int accumulate);

    /* Optional, both or none: torch's BatchNorm over B rows of C channels
     * of S values: the forward finds (training: the batch's, moving the
     * running statistics when run_mean is not NULL; else the running ones)
     * each channel's mean and rstd (C, kept for the backward) and writes
     * y = (x − mean)·rstd·w + b (w, b: C, or NULL); the backward (of
     * training) writes dx (or NULL) and, with dw, dw and db (+)= their sums. */
    lre_status (*batch_norm_forward)(void *state, float *y, float *mean, float *rstd,
                                     float *run_mean, float *run_var, const float *x,
                                     const float *w, const float *b, int64_t B, int64_t C,
                                     int64_t S, float eps, float momentum, int training);
    lre_status (*batch_norm_backward)(void *state, float *dx, float *dw, float *db,
                                      const float *dy, const float *x, const float *mean,
                                      const float *rstd, const float *w, int64_t B, int64_t C,
                                      int64_t S, int accumulate);

    /* Optional (NULL: nothing to ready): what the norm entries above will
     * need for these sizes, made now so that a step allocates nothing:
     * layer norm's forward (and, with `backward`, its backward), batch
     * norm's training forward. */
    lre_status (*layer_norm_prepare)(void *state, int64_t groups, int64_t n, int affine,
                                     float eps, int backward);
    lre_status (*batch_norm_prepare)(void *state, int64_t B, int64_t C, int64_t S, int affine,
                                     float eps);

    /* Optional: dropout of n values: mask[e] = lre_dropout_mask1(rng[0] ^
     * salt, rng[1], e, threshold, scale) and y = x·mask; rng (the seed and
     * the micro-batch's serial) is read from device memory, so a captured
     * step replays with the values of its turn. */
    lre_status (*dropout_forward)(void *state, float *y, float *mask, const float *x, int64_t n,
                                  const uint64_t *rng, uint64_t salt, uint32_t threshold,
                                  float scale);

    /* Optional: y (n) = a + b (a residual block's sum, and its gradients
     * meeting at the block's input). NULL: no residual blocks. */
    lre_status (*add)(void *state, float *y, const float *a, const float *b, int64_t n);

    /* y (n) = f(x (n)); in place allowed */
    lre_status (*act_forward)(void *state, lre_act a, float param, float *y,
                              const float *x, int64_t n);
    /* dx (n) = f'(x) ⊙ dy; y = f(x) */
    lre_status (*act_backward)(void *state, lre_act a, float param, float *dx,
                               const float *dy, const float *x, const float *y,
                               int64_t n);

    /* logits (B,C), labels (B): loss (1, device) = mean loss; dlogits (B,C)
     * (optional) = grad_scale · dloss/dlogits. Labels were validated where
     * they entered; a label outside [0, C) still never reads out of bounds:
     * it makes the loss NaN. */
    lre_status (*cross_entropy)(void *state, float *loss, float *dlogits,
                                const float *logits, const int32_t *labels,
                                int64_t B, int64_t C, float smoothing,
                                float grad_scale);
    /* pred, target (n): loss (1, device) = mean (p-t)^2; dpred (optional) */
    lre_status (*mse)(void *state, float *loss, float *dpred, const float *pred,
                      const float *target, int64_t n, float grad_scale);
    /* logits (B,C), labels (B): correct (1, device) = count of rows whose
     * first maximal logit is at the label */
    lre_status (*count_correct)(void *state, int64_t *correct,
                                const float *logits, const int32_t *labels,
                                int64_t B, int64_t C);

    /* x (n, features), y (n), t (n, target_dim): rows idx[0..n) (device) of
     * src through its transform, or rows first..first+n-1 when idx is NULL
     * (a pass over a dataset in order); y and t may be NULL. The rows lie in
     * [0, src->n) (checked by the caller). */
    lre_status (*gather)(void *state, const lre_gather_src *src, const int64_t *idx,
                         int64_t first, int64_t n, float *x, int32_t *y, float *t);

    /* Fused optimizer updates over n parameters, scalars (device) as above.
     * SGD's buf may be NULL when momentum is 0. */
    lre_status (*sgd_update)(void *state, float *p, const float *g, float *buf,
                             int64_t n, const lre_optim_scalars *s);
    lre_status (*adam_update)(void *state, float *p, const float *g, float *m,
                              float *v, int64_t n, const lre_optim_scalars *s);
} lre_backend;

/* The backends compiled into this build (backend/registry.c). */
extern const lre_backend lre_backend_cpu;
#ifdef LRE_WITH_CUDA
extern const lre_backend lre_backend_cuda;
#endif

/* The compiled-in backend for a device, or NULL. */
const lre_backend *lre_backend_find(lre_device d);
/* The i-th compiled-in backend (0 is the CPU), NULL past the last. */
const lre_backend *lre_backend_at(int i);

#ifdef __cplusplus
}
#endif

#endif /* LRE_BACKEND_H */
