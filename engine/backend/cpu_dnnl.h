/*
 * backend/cpu_dnnl.h — the CPU backend's second GEMM provider: oneDNN's
 * matmul primitive (fp32, and bf16 inputs with fp32 accumulation on AMX or
 * AVX512-BF16), next to OpenBLAS. Built with oneDNN (LRE_WITH_DNNL; make
 * DNNL=auto|0|1); cpu.c decides, from a fixed table, which provider serves
 * which GEMM (lre_dnnl_serves) — never by timing, so a seed gives the same
 * curve on the same machine.
 *
 * A primitive is made once per GEMM shape (transposes, sizes, strides,
 * alpha, beta, precision) on its first call and kept, with its scratchpad
 * (user-owned) and its memory objects: later calls create and allocate
 * nothing.
 *
 * Part of the backend layer: includes only backend.h.
 */
#ifndef LRE_CPU_DNNL_H
#define LRE_CPU_DNNL_H

#include "backend/backend.h"

typedef struct lre_dnnl lre_dnnl;

/* A oneDNN engine and stream for one CPU backend state; threads > 0 sets
 * the OpenMP pool oneDNN runs on. */
lre_status lre_dnnl_new(const lre_backend_env *env, lre_dnnl **out);
void lre_dnnl_free(lre_dnnl *d);

/* Whether this CPU multiplies bf16 in hardware (AMX or AVX512-BF16). */
int lre_dnnl_has_bf16(void);
/* "avx512_core_amx", ...: the instruction set oneDNN uses here. */
const char *lre_dnnl_isa(void);

/* The fixed provider table for fp32: does oneDNN serve this GEMM? */
int lre_dnnl_serves(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K);

/* c (M,N) = alpha·op(a)·op(b) + beta·c (+ bias (N) on every row when bias
 * is not NULL: added to the accumulator inside the matmul, the same bits as
 * adding it to c after; then, with relu, c = max(c, 0) as lre_relu_fwd),
 * row-major with row strides, as the backend's gemm
 * entry; bf16: a and b rounded to bfloat16 (nearest even) first, fp32
 * accumulation. K > 0, every size within int range. */
lre_status lre_dnnl_gemm(lre_dnnl *d, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                         float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                         float beta, float *c, int64_t ldc, const float *bias, int relu,
                         int bf16);

/* Makes the primitive lre_dnnl_gemm will use for these arguments now
 * (has_bias: the call will pass a bias). */
lre_status lre_dnnl_prepare(lre_dnnl *d, int trans_a, int trans_b, int64_t M, int64_t N,
                            int64_t K, float alpha, int64_t lda, int64_t ldb, float beta,
                            int64_t ldc, int has_bias, int relu, int bf16);

/* 2-D convolution with oneDNN's primitives, a batch of B images of g
 * (NCHW rows) with O output channels and OIHW weights, as lre_conv2d_*
 * computes it with im2col and GEMMs (not the same bits: another order of
 * the sums). A primitive per kind, batch size, geometry and precision,
 * made on first use (or by lre_dnnl_conv_prepare) and kept. Forward: y =
 * conv(x, w) + bias (or none), then relu with `relu`. Backward data: dx =
 * the input's gradient. Backward weights: dw, db (NULL: none) = or
 * (accumulate) += the sums over the batch. bf16: what each reads rounded
 * to bfloat16 (nearest even), fp32 sums and outputs. */
enum { LRE_DNNL_CONV_FWD, LRE_DNNL_CONV_BWD_DATA, LRE_DNNL_CONV_BWD_WEIGHTS };
int lre_dnnl_conv_serves(int64_t B, int64_t O, const lre_conv_geom *g);
lre_status lre_dnnl_conv_prepare(lre_dnnl *d, int kind, int64_t B, int64_t O,
                                 const lre_conv_geom *g, int bias, int relu, int bf16);
lre_status lre_dnnl_conv_forward(lre_dnnl *d, float *y, const float *x, const float *w,
                                 const float *bias, int64_t B, int64_t O,
                                 const lre_conv_geom *g, int relu, int bf16);
lre_status lre_dnnl_conv_backward_data(lre_dnnl *d, float *dx, const float *dy, const float *w,
                                       int64_t B, int64_t O, const lre_conv_geom *g, int bf16);
lre_status lre_dnnl_conv_backward_weights(lre_dnnl *d, float *dw, float *db, const float *dy,
                                          const float *x, int64_t B, int64_t O,
                                          const lre_conv_geom *g, int accumulate, int bf16);

/* Layer norm (forward and backward) and batch norm's training forward
 * with oneDNN's normalisation primitives, the entries of backend.h with
 * their arguments (a: groups or B, b: n or C, c: 1 or S); not the same
 * bits as the C loops (oneDNN sums in float, vectorised). A primitive per
 * kind, shape, affine and eps, made on first use or by
 * lre_dnnl_norm_prepare (batch: batch norm; backward: layer norm's too). */
int lre_dnnl_norm_serves(int64_t a, int64_t b, int64_t c);
lre_status lre_dnnl_norm_prepare(lre_dnnl *d, int batch, int64_t a, int64_t b, int64_t c,
                                 int affine, float eps, int backward);
lre_status lre_dnnl_layer_norm_forward(lre_dnnl *d, float *y, float *mean, float *rstd,
                                       const float *x, const float *w, const float *b,
                                       int64_t groups, int64_t n, float eps);
lre_status lre_dnnl_layer_norm_backward(lre_dnnl *d, float *dx, float *dw, float *db,
                                        const float *dy, const float *x, const float *mean,
                                        const float *rstd, const float *w, int64_t groups,
                                        int64_t n, int accumulate);
lre_status lre_dnnl_batch_norm_train(lre_dnnl *d, float *y, float *mean, float *rstd,
                                     float *run_mean, float *run_var, const float *x,
                                     const float *w, const float *b, int64_t B, int64_t C,
                                     int64_t S, float eps, float momentum);

#endif /* LRE_CPU_DNNL_H */
