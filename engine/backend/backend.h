/*
 * backend.h — the device seam. Every per-element or per-matrix operation the
 * engine runs goes through one of these tables; the callers (ops.c,
 * trainer.c) never know which device they run on. The CPU table
 * (backend_cpu.c) is the reference; the CUDA table (cuda/backend_cuda.cu)
 * implements the same entries with cuBLAS and kernels.
 *
 * Pointers are device pointers; row-major throughout. Shapes are in the
 * comment of each entry. Entries marked optional may be NULL.
 */
#ifndef LRE_BACKEND_H
#define LRE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "lrengine.h"

typedef struct lre_backend {
    const char *name;
    lre_device device;

    /* set up / tear down the backend state of a context */
    lre_status (*init)(lre_ctx *ctx, void **state, char *err, size_t errn);
    void (*shutdown)(void *state);

    /* memory */
    void *(*alloc)(void *state, size_t nbytes);            /* zero-filled */
    void (*free)(void *state, void *p);
    lre_status (*to_device)(void *state, void *dst, const void *src, size_t n);
    lre_status (*to_host)(void *state, void *dst, const void *src, size_t n);
    lre_status (*copy)(void *state, void *dst, const void *src, size_t n);
    lre_status (*zero)(void *state, void *p, size_t n);

    /* c (M,N) = alpha·op(a)·op(b) + beta·c; lda/ldb/ldc are row strides */
    lre_status (*gemm)(void *state, int trans_a, int trans_b, int64_t M,
                       int64_t N, int64_t K, float alpha, const float *a,
                       int64_t lda, const float *b, int64_t ldb, float beta,
                       float *c, int64_t ldc);

    /* y (rows,cols) += bias (cols), broadcast over rows */
    void (*bias_add_forward)(void *state, float *y, const float *bias,
                             int64_t rows, int64_t cols);
    /* db (cols) (+)= Σ_rows dy (rows,cols) */
    void (*bias_add_backward)(void *state, float *db, const float *dy,
                              int64_t rows, int64_t cols, int accumulate);

    /* y (n) = f(x (n)); in place allowed */
    void (*act_forward)(void *state, lre_act a, float param, float *y,
                        const float *x, int64_t n);
    /* dx (n) = f'(x) ⊙ dy; y = f(x) */
    void (*act_backward)(void *state, lre_act a, float param, float *dx,
                         const float *dy, const float *x, const float *y,
                         int64_t n);

    /* logits (B,C), labels (B): *loss = mean loss (host float);
     * dlogits (B,C) (optional) = grad_scale · dloss/dlogits.
     * Labels are already validated by the caller. */
    lre_status (*cross_entropy)(void *state, float *loss, float *dlogits,
                                const float *logits, const int32_t *labels,
                                int64_t B, int64_t C, float smoothing,
                                float grad_scale);
    /* pred, target (n): *loss = mean (p-t)^2; dpred (optional) */
    lre_status (*mse)(void *state, float *loss, float *dpred, const float *pred,
                      const float *target, int64_t n, float grad_scale);
    /* logits (B,C), labels (B): *correct = count of argmax == label */
    lre_status (*count_correct)(void *state, int64_t *correct,
                                const float *logits, const int32_t *labels,
                                int64_t B, int64_t C);

    /* Fused optimizer updates over n parameters (see lre_optim_update).
     * optim.c turns the double hyper-parameters into the float32 scalars
     * torch.optim uses, so every backend computes the same thing. */
    /* SGD: d = g + wd·p; momentum: buf = first ? d : momentum·buf + keep·d,
     * d = nesterov ? d + momentum·buf : buf; p -= lr·d */
    void (*sgd_update)(void *state, float *p, const float *g, float *buf,
                       int64_t n, float lr, float momentum, float keep,
                       int nesterov, float weight_decay, int first_step);
    /* Adam/AdamW: p *= decay; g' = g + l2·p; m += w1·(g' - m);
     * v = beta2·v + w2·g'²; p -= step_size · m / (sqrt(v)/bc2_sqrt + eps) */
    void (*adam_update)(void *state, float *p, const float *g, float *m,
                        float *v, int64_t n, float step_size, float bc2_sqrt,
                        float w1, float beta2, float w2, float eps,
                        float decay, float l2);
} lre_backend;

extern const lre_backend lre_backend_cpu;
#ifdef LRE_WITH_CUDA
extern const lre_backend lre_backend_cuda;
#endif

#endif /* LRE_BACKEND_H */
