/*
 * cpu.c — the reference backend: OpenBLAS for every matrix product, plain C
 * loops for the rest. The CUDA backend is tested against this one. The
 * backend state is the context's lre_backend_env (it outlives the state):
 * tensor memory is counted in the context's counters, messages land in its
 * buffer.
 */
#include <float.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdlib.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "backend/backend.h"
#include "backend/elementwise.h"
#include "backend/cpu_dnnl.h"

/* Marks a loop for vectorisation (honoured with -fopenmp-simd, which needs
 * no OpenMP runtime; ignored otherwise). The loops are written so that the
 * vector and scalar versions give the same result element by element. */
#define LRE_SIMD _Pragma("omp simd")
/* The update loops are bound by sqrt and division: an AVX2 clone, picked
 * at load time on CPUs that have it, does twice the lanes of the x86-64
 * baseline. Same IEEE operations in the same order (no FMA), so the
 * results are identical bit for bit on either path. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(LRE_NO_MULTIVERSION)
#define LRE_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LRE_MULTIVERSION
#endif
#if defined(__clang__)
/* clang warns when it declines to vectorise (sanitizer builds, say) */
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

/* The backend state: the context's env, the oneDNN provider (when built
 * with it), the GEMM precision, and which provider serves fp32 GEMMs. */
typedef struct cpu_state {
    const lre_backend_env *env;
    lre_precision precision;
    int provider; /* CPU_GEMM_TABLE, or one forced by LRE_CPU_GEMM */
#ifdef LRE_WITH_DNNL
    lre_dnnl *dnnl;
#endif
} cpu_state;

enum { CPU_GEMM_TABLE, CPU_GEMM_OPENBLAS, CPU_GEMM_ONEDNN };

#define CS(state) ((cpu_state *)(state))
#define ENV(state) (CS(state)->env)

static lre_status cpu_init(const lre_backend_env *env, void **state)
{
    *state = NULL;
    /* OpenBLAS's pool is process-wide: the last context to ask sets it */
    if (env->threads > 0) openblas_set_num_threads(env->threads);
    cpu_state *s = calloc(1, sizeof *s);
    if (!s) return lre_backend_fail(env, LRE_ENOMEM, "cpu: out of memory");
    s->env = env;
    s->precision = LRE_PRECISION_FP32;
    /* LRE_CPU_GEMM=openblas|onednn forces one provider (tests and
     * benchmarks compare them); unset, the fixed table decides */
    const char *force = getenv("LRE_CPU_GEMM");
    if (force && strcmp(force, "openblas") == 0) s->provider = CPU_GEMM_OPENBLAS;
    else if (force && strcmp(force, "onednn") == 0) s->provider = CPU_GEMM_ONEDNN;
    else if (force && *force && strcmp(force, "table") != 0) {
        free(s);
        return lre_backend_fail(env, LRE_EINVAL,
                                "cpu: LRE_CPU_GEMM='%s' is not openblas, onednn or table", force);
    }
#ifdef LRE_WITH_DNNL
    lre_status st = lre_dnnl_new(env, &s->dnnl);
    if (st) {
        free(s);
        return st;
    }
#else
    if (s->provider == CPU_GEMM_ONEDNN) {
        free(s);
        return lre_backend_fail(env, LRE_EINVAL,
                                "cpu: LRE_CPU_GEMM=onednn, but this build has no oneDNN (DNNL=0)");
    }
#endif
    *state = s;
    return LRE_OK;
}

static void cpu_shutdown(void *state)
{
    cpu_state *s = CS(state);
    if (!s) return;
#ifdef LRE_WITH_DNNL
    lre_dnnl_free(s->dnnl);
#endif
    free(s);
}

/* fp32 everywhere; bf16 where oneDNN is built and the CPU multiplies bf16
 * (AMX or AVX512-BF16); no TF32 on a CPU */
static lre_status cpu_set_precision(void *state, lre_precision want, lre_precision *got)
{
    cpu_state *s = CS(state);
    lre_precision p = LRE_PRECISION_FP32;
#ifdef LRE_WITH_DNNL
    if (want == LRE_PRECISION_BF16 && lre_dnnl_has_bf16()) p = LRE_PRECISION_BF16;
#else
    (void)want;
#endif
    s->precision = p;
    *got = p;
    return LRE_OK;
}

static lre_status cpu_synchronize(void *state)
{
    (void)state;
    return LRE_OK;
}

static void *cpu_stream(void *state)
{
    (void)state;
    return NULL;
}

static void *cpu_alloc(void *state, size_t n)
{
    void *p = lre_host_alloc(ENV(state)->stats, n, 1);
    if (!p) lre_backend_fail(ENV(state), LRE_ENOMEM, "cpu: out of memory for %zu bytes", n);
    return p;
}

static void cpu_free(void *state, void *p) { lre_host_free(ENV(state)->stats, p); }

static void *cpu_host_alloc(void *state, size_t n)
{
    void *p = lre_host_alloc(ENV(state)->stats, n, 1);
    if (!p) lre_backend_fail(ENV(state), LRE_ENOMEM, "cpu: out of memory for %zu bytes", n);
    return p;
}

static lre_status cpu_memcpy(void *state, void *dst, const void *src, size_t n)
{
    (void)state;
    if (n) memmove(dst, src, n);
    return LRE_OK;
}

static lre_status cpu_zero(void *state, void *p, size_t n)
{
    (void)state;
    if (n) memset(p, 0, n);
    return LRE_OK;
}

/* c (M,N) = alpha·op(a)·op(b) + beta·c */
static lre_status cpu_gemm(void *state, int trans_a, int trans_b, int64_t M, int64_t N,
                           int64_t K, float alpha, const float *a, int64_t lda, const float *b,
                           int64_t ldb, float beta, float *c, int64_t ldc)
{
    if (M == 0 || N == 0) return LRE_OK;
    if (K == 0) { /* BLAS leaves c untouched only when beta == 1 */
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
        return LRE_OK;
    }
    if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX || lda > INT32_MAX || ldb > INT32_MAX ||
        ldc > INT32_MAX)
        return lre_backend_fail(ENV(state), LRE_EINVAL,
                                "gemm: dimensions exceed the BLAS integer range");
#ifdef LRE_WITH_DNNL
    cpu_state *s = CS(state);
    if (s->precision == LRE_PRECISION_BF16 || s->provider == CPU_GEMM_ONEDNN ||
        (s->provider == CPU_GEMM_TABLE && lre_dnnl_serves(trans_a, trans_b, M, N, K)))
        return lre_dnnl_gemm(s->dnnl, trans_a, trans_b, M, N, K, alpha, a, lda, b, ldb, beta, c,
                             ldc, NULL, 0, s->precision == LRE_PRECISION_BF16);
#endif
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, a, (int)lda,
                b, (int)ldb, beta, c, (int)ldc);
    return LRE_OK;
}

static lre_status cpu_gemm_prepare(void *state, int trans_a, int trans_b, int64_t M, int64_t N,
                                   int64_t K, float alpha, int64_t lda, int64_t ldb, float beta,
                                   int64_t ldc)
{
#ifdef LRE_WITH_DNNL
    cpu_state *s = CS(state);
    if (M > 0 && N > 0 && K > 0 && M <= INT32_MAX && N <= INT32_MAX && K <= INT32_MAX &&
        (s->precision == LRE_PRECISION_BF16 || s->provider == CPU_GEMM_ONEDNN ||
         (s->provider == CPU_GEMM_TABLE && lre_dnnl_serves(trans_a, trans_b, M, N, K))))
        return lre_dnnl_prepare(s->dnnl, trans_a, trans_b, M, N, K, alpha, lda, ldb, beta, ldc,
                                0, 0, s->precision == LRE_PRECISION_BF16);
#else
    (void)state, (void)trans_a, (void)trans_b, (void)M, (void)N, (void)K, (void)alpha, (void)lda,
        (void)ldb, (void)beta, (void)ldc;
#endif
    return LRE_OK;
}

/* y (rows,cols) += bias (cols) */
static lre_status cpu_bias_add_forward(void *state, float *y, const float *bias, int64_t rows,
                                 int64_t cols)
{
    (void)state;
    for (int64_t i = 0; i < rows; i++) {
        float *restrict yr = y + i * cols;
        LRE_SIMD
        for (int64_t j = 0; j < cols; j++) yr[j] += bias[j];
    }
    return LRE_OK;
}

#ifdef LRE_WITH_DNNL
/* Whether the linear forward's GEMM (x · w^T: B×out×in) goes to oneDNN, and
 * with it the bias: fused there, it is added to the accumulator before y is
 * written (the same bits as adding it after; y is not read back). */
static int linear_on_dnnl(const cpu_state *s, int64_t B, int64_t in, int64_t out)
{
    return B > 0 && in > 0 && out > 0 && B <= INT32_MAX && in <= INT32_MAX && out <= INT32_MAX &&
           (s->precision == LRE_PRECISION_BF16 || s->provider == CPU_GEMM_ONEDNN ||
            (s->provider == CPU_GEMM_TABLE && lre_dnnl_serves(0, 1, B, out, in)));
}
#endif

static lre_status cpu_act_forward(void *state, lre_act a, float param, float *y, const float *x,
                                  int64_t n);

/* y (B,out) = x (B,in) · w^T + bias, then relu(y) with `relu` */
static lre_status cpu_linear_forward(void *state, float *y, const float *x, const float *w,
                                     const float *bias, int64_t B, int64_t in, int64_t out,
                                     int relu)
{
#ifdef LRE_WITH_DNNL
    cpu_state *s = CS(state);
    if (bias && linear_on_dnnl(s, B, in, out))
        return lre_dnnl_gemm(s->dnnl, 0, 1, B, out, in, 1.0f, x, in, w, in, 0.0f, y, out, bias,
                             relu, s->precision == LRE_PRECISION_BF16);
#endif
    lre_status st = cpu_gemm(state, 0, 1, B, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    if (!st && bias) st = cpu_bias_add_forward(state, y, bias, B, out);
    if (!st && relu) st = cpu_act_forward(state, LRE_ACT_RELU, 0.0f, y, y, B * out);
    return st;
}

static lre_status cpu_linear_prepare(void *state, int64_t B, int64_t in, int64_t out, int relu)
{
#ifdef LRE_WITH_DNNL
    cpu_state *s = CS(state);
    if (linear_on_dnnl(s, B, in, out))
        return lre_dnnl_prepare(s->dnnl, 0, 1, B, out, in, 1.0f, in, in, 0.0f, out, 1, relu,
                                s->precision == LRE_PRECISION_BF16);
#else
    (void)state, (void)B, (void)in, (void)out, (void)relu;
#endif
    return LRE_OK;
}

/* ------------------------------------------------------- convolution */

#ifdef LRE_WITH_DNNL
/* oneDNN's convolution primitives serve a batch in one call (threaded,
 * no im2col), unless OpenBLAS is forced (LRE_CPU_GEMM=openblas: then the
 * im2col path below, as in a build without oneDNN). In bf16 precision
 * they read bf16 as the GEMMs do. */
static int cpu_conv_direct(void *state, int64_t B, int64_t O, const lre_conv_geom *g)
{
    return CS(state)->provider != CPU_GEMM_OPENBLAS && lre_dnnl_conv_serves(B, O, g);
}

#define CONV_BF16(state) (CS(state)->precision == LRE_PRECISION_BF16)

static lre_status cpu_conv_forward(void *state, float *y, const float *x, const float *w,
                                   const float *bias, int64_t B, int64_t O,
                                   const lre_conv_geom *g, int relu)
{
    return lre_dnnl_conv_forward(CS(state)->dnnl, y, x, w, bias, B, O, g, relu, CONV_BF16(state));
}

static lre_status cpu_conv_backward_data(void *state, float *dx, const float *dy,
                                         const float *w, int64_t B, int64_t O,
                                         const lre_conv_geom *g)
{
    return lre_dnnl_conv_backward_data(CS(state)->dnnl, dx, dy, w, B, O, g, CONV_BF16(state));
}

static lre_status cpu_conv_backward_weights(void *state, float *dw, float *db, const float *dy,
                                            const float *x, int64_t B, int64_t O,
                                            const lre_conv_geom *g, int accumulate)
{
    return lre_dnnl_conv_backward_weights(CS(state)->dnnl, dw, db, dy, x, B, O, g, accumulate,
                                          CONV_BF16(state));
}

static lre_status cpu_conv_prepare(void *state, int64_t B, int64_t O, const lre_conv_geom *g,
                                   int bias, int relu, int backward, int with_dx)
{
    lre_dnnl *d = CS(state)->dnnl;
    const int h = CONV_BF16(state);
    if (!cpu_conv_direct(state, B, O, g)) return LRE_OK;
    lre_status s = lre_dnnl_conv_prepare(d, LRE_DNNL_CONV_FWD, B, O, g, bias, relu, h);
    if (!s && backward)
        s = lre_dnnl_conv_prepare(d, LRE_DNNL_CONV_BWD_WEIGHTS, B, O, g, bias, 0, h);
    if (!s && with_dx) s = lre_dnnl_conv_prepare(d, LRE_DNNL_CONV_BWD_DATA, B, O, g, 0, 0, h);
    return s;
}
#endif

/* col (C·KH·KW, OH·OW) = the patches of x (C,H,W), zeros in the padding
 * (backend.h). A row per (c,kh,kw): its input row and column move by the
 * strides as (oh,ow) does. */
static lre_status cpu_im2col(void *state, float *col, const float *x, const lre_conv_geom *g)
{
    (void)state;
    const int64_t P = g->OH * g->OW;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t kh = 0; kh < g->KH; kh++)
            for (int64_t kw = 0; kw < g->KW; kw++) {
                float *out = col + ((c * g->KH + kh) * g->KW + kw) * P;
                for (int64_t oh = 0; oh < g->OH; oh++) {
                    int64_t h = oh * g->SH - g->PH + kh * g->DH;
                    float *o = out + oh * g->OW;
                    if (h < 0 || h >= g->H) {
                        memset(o, 0, (size_t)g->OW * sizeof *o);
                        continue;
                    }
                    const float *xr = x + (c * g->H + h) * g->W;
                    for (int64_t ow = 0; ow < g->OW; ow++) {
                        int64_t w = ow * g->SW - g->PW + kw * g->DW;
                        o[ow] = w >= 0 && w < g->W ? xr[w] : 0.0f;
                    }
                }
            }
    return LRE_OK;
}

/* dx (C,H,W) (+)= col folded back: each pixel gathers, in (kh, kw) order,
 * the entries whose window put it there (backend.h) */
static lre_status cpu_col2im(void *state, float *dx, const float *col, const lre_conv_geom *g,
                             int accumulate)
{
    (void)state;
    const int64_t P = g->OH * g->OW;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t h = 0; h < g->H; h++)
            for (int64_t w = 0; w < g->W; w++)
                dx[(c * g->H + h) * g->W + w] = lre_col2im_pixel(col, g, P, c, h, w,
                    accumulate ? dx[(c * g->H + h) * g->W + w] : 0.0f);
    return LRE_OK;
}

/* y (rows,cols) += bias (rows) along each row */
static lre_status cpu_bias_rows_forward(void *state, float *y, const float *bias, int64_t rows,
                                        int64_t cols)
{
    (void)state;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) y[r * cols + c] += bias[r];
    return LRE_OK;
}

/* db (rows) (+)= Σ_cols dy (rows,cols), each row in order */
static lre_status cpu_bias_rows_backward(void *state, float *db, const float *dy, int64_t rows,
                                         int64_t cols, int accumulate)
{
    (void)state;
    for (int64_t r = 0; r < rows; r++) {
        float acc = accumulate ? db[r] : 0.0f;
        for (int64_t c = 0; c < cols; c++) acc += dy[r * cols + c];
        db[r] = acc;
    }
    return LRE_OK;
}

/* ----------------------------------------------------------- pooling */

/* The pooling loops go plane by plane (a batch's images times their
 * channels), planes split over the OpenMP pool when there is enough work:
 * each plane is computed alone, so the bits do not depend on the threads. */
#define POOL_PARALLEL(g) if ((g)->C > 1 && (g)->C * (g)->H * (g)->W >= 32768)

/* One plane of max pooling without padding: every window lies inside the
 * plane (the output size rounds down), so no tap is checked. The taps go
 * in lre_max_pool1's order (kh, then kw), each over a whole output row at
 * once, branch-free (a NaN wins, the last one): the same bits and indices,
 * in loops the compiler vectorises (a comparison per tap and output that
 * a branch mispredicted half the time). */
static void max_pool_plane_inside(float *restrict y, int32_t *restrict idx,
                                  const float *restrict x, const lre_conv_geom *g)
{
    const int64_t W = g->W, OW = g->OW, SW = g->SW;
    if (g->KH == 2 && g->KW == 2 && g->SH == 2 && SW == 2 && g->DH == 1 && g->DW == 1) {
        /* LeNet's 2x2, stride 2: the four taps in one pass */
        for (int64_t oh = 0; oh < g->OH; oh++) {
            const float *restrict x0 = x + 2 * oh * W, *restrict x1 = x0 + W;
            const int32_t r0 = (int32_t)(2 * oh * W), r1 = r0 + (int32_t)W;
            float *restrict yr = y + oh * OW;
            int32_t *restrict ir = idx + oh * OW;
            LRE_SIMD
            for (int64_t ow = 0; ow < OW; ow++) {
                const int32_t c = (int32_t)(2 * ow);
                const float v0 = x0[2 * ow], v1 = x0[2 * ow + 1], v2 = x1[2 * ow],
                            v3 = x1[2 * ow + 1];
                float b = -INFINITY;
                int32_t at = -1; /* kept by a window of -inf, as lre_max_pool1 */
                int m = (v0 > b) | (v0 != v0);
                b = m ? v0 : b, at = m ? r0 + c : at;
                m = (v1 > b) | (v1 != v1);
                b = m ? v1 : b, at = m ? r0 + c + 1 : at;
                m = (v2 > b) | (v2 != v2);
                b = m ? v2 : b, at = m ? r1 + c : at;
                m = (v3 > b) | (v3 != v3);
                b = m ? v3 : b, at = m ? r1 + c + 1 : at;
                yr[ow] = b;
                ir[ow] = at;
            }
        }
        return;
    }
    for (int64_t oh = 0; oh < g->OH; oh++) {
        float *restrict yr = y + oh * OW;
        int32_t *restrict ir = idx + oh * OW;
        for (int64_t ow = 0; ow < OW; ow++) yr[ow] = -INFINITY, ir[ow] = -1;
        for (int64_t kh = 0; kh < g->KH; kh++)
            for (int64_t kw = 0; kw < g->KW; kw++) {
                const int64_t p0 = (oh * g->SH + kh * g->DH) * W + kw * g->DW;
                const float *restrict xr = x + p0;
                LRE_SIMD
                for (int64_t ow = 0; ow < OW; ow++) {
                    const float v = xr[ow * SW];
                    const int m = (v > yr[ow]) | (v != v);
                    yr[ow] = m ? v : yr[ow];
                    ir[ow] = m ? (int32_t)(p0 + ow * SW) : ir[ow];
                }
            }
    }
}

static lre_status cpu_max_pool_forward(void *state, float *y, int32_t *idx, const float *x,
                                       const lre_conv_geom *g)
{
    (void)state;
    const int64_t P = g->OH * g->OW, HW = g->H * g->W;
    if (g->PH == 0 && g->PW == 0) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) POOL_PARALLEL(g)
#endif
        for (int64_t c = 0; c < g->C; c++)
            max_pool_plane_inside(y + c * P, idx + c * P, x + c * HW, g);
        return LRE_OK;
    }
#ifdef _OPENMP
#pragma omp parallel for schedule(static) POOL_PARALLEL(g)
#endif
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t ow = 0; ow < g->OW; ow++) {
                int64_t o = c * P + oh * g->OW + ow;
                y[o] = lre_max_pool1(x + c * HW, g, oh, ow, &idx[o]);
            }
    return LRE_OK;
}

static lre_status cpu_max_pool_backward(void *state, float *dx, const float *dy,
                                        const int32_t *idx, const lre_conv_geom *g)
{
    (void)state;
    const int64_t P = g->OH * g->OW, HW = g->H * g->W;
    /* windows that do not overlap (LeNet's 2x2, stride 2): a pixel is in
     * one window at most, so scattering each output's gradient to its
     * maximum gives the gather's bits (0 + dy) without its searches */
    const int disjoint = g->SH >= g->DH * (g->KH - 1) + 1 && g->SW >= g->DW * (g->KW - 1) + 1;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) POOL_PARALLEL(g)
#endif
    for (int64_t c = 0; c < g->C; c++) {
        float *dxc = dx + c * HW;
        if (disjoint) {
            const float *dyc = dy + c * P;
            const int32_t *ic = idx + c * P;
            memset(dxc, 0, (size_t)HW * sizeof *dxc);
            for (int64_t o = 0; o < P; o++)
                if (ic[o] >= 0) dxc[ic[o]] += dyc[o];
            continue;
        }
        for (int64_t h = 0; h < g->H; h++)
            for (int64_t w = 0; w < g->W; w++)
                dxc[h * g->W + w] = lre_max_pool_back1(dy + c * P, idx + c * P, g, h, w);
    }
    return LRE_OK;
}

static lre_status cpu_avg_pool_forward(void *state, float *y, const float *x,
                                       const lre_conv_geom *g, int count_include_pad)
{
    (void)state;
    const int64_t P = g->OH * g->OW, HW = g->H * g->W;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) POOL_PARALLEL(g)
#endif
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t ow = 0; ow < g->OW; ow++)
                y[c * P + oh * g->OW + ow] = lre_avg_pool1(x + c * HW, g, oh, ow,
                                                           count_include_pad);
    return LRE_OK;
}

static lre_status cpu_avg_pool_backward(void *state, float *dx, const float *dy,
                                        const lre_conv_geom *g, int count_include_pad)
{
    (void)state;
    const int64_t P = g->OH * g->OW, HW = g->H * g->W;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) POOL_PARALLEL(g)
#endif
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t h = 0; h < g->H; h++)
            for (int64_t w = 0; w < g->W; w++)
                dx[c * HW + h * g->W + w] = lre_avg_pool_back1(dy + c * P, g, h, w,
                                                               count_include_pad);
    return LRE_OK;
}

static lre_status cpu_adaptive_avg_pool_forward(void *state, float *y, const float *x,
                                                const lre_conv_geom *g)
{
    (void)state;
    const int64_t P = g->OH * g->OW, HW = g->H * g->W;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) POOL_PARALLEL(g)
#endif
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t ow = 0; ow < g->OW; ow++)
                y[c * P + oh * g->OW + ow] = lre_adaptive_avg1(x + c * HW, g, oh, ow);
    return LRE_OK;
}

static lre_status cpu_adaptive_avg_pool_backward(void *state, float *dx, const float *dy,
                                                 const lre_conv_geom *g)
{
    (void)state;
    const int64_t P = g->OH * g->OW, HW = g->H * g->W;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) POOL_PARALLEL(g)
#endif
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t h = 0; h < g->H; h++)
            for (int64_t w = 0; w < g->W; w++)
                dx[c * HW + h * g->W + w] = lre_adaptive_avg_back1(dy + c * P, g, h, w);
    return LRE_OK;
}

#ifdef LRE_WITH_DNNL
/* Does oneDNN's primitive serve this normalisation (the table in
 * cpu_dnnl.c: layer norm, and batch norm's training forward on vectors,
 * S = 1; every batch norm's training forward when oneDNN is forced,
 * LRE_CPU_GEMM=onednn), or the C loops (the rest; everything with
 * LRE_CPU_GEMM=openblas, as in a build without oneDNN)? Either computes
 * in fp32 in every precision, as PyTorch's autocast keeps layer norm. */
#define NORM_ON_DNNL(state, a, b, c)                                                      \
    (CS(state)->provider != CPU_GEMM_OPENBLAS && lre_dnnl_norm_serves(a, b, c))
#define BN_ON_DNNL(state, a, b, c)                                                        \
    (NORM_ON_DNNL(state, a, b, c) && (CS(state)->provider == CPU_GEMM_ONEDNN || (c) == 1))

static lre_status cpu_layer_norm_prepare(void *state, int64_t groups, int64_t n, int affine,
                                         float eps, int backward)
{
    if (!NORM_ON_DNNL(state, groups, n, 1)) return LRE_OK;
    return lre_dnnl_norm_prepare(CS(state)->dnnl, 0, groups, n, 1, affine, eps, backward);
}

static lre_status cpu_batch_norm_prepare(void *state, int64_t B, int64_t C, int64_t S,
                                         int affine, float eps)
{
    if (!BN_ON_DNNL(state, B, C, S)) return LRE_OK;
    return lre_dnnl_norm_prepare(CS(state)->dnnl, 1, B, C, S, affine, eps, 0);
}
#endif

static lre_status cpu_layer_norm_forward(void *state, float *y, float *mean, float *rstd,
                                         const float *x, const float *w, const float *b,
                                         int64_t groups, int64_t n, float eps)
{
#ifdef LRE_WITH_DNNL
    if (NORM_ON_DNNL(state, groups, n, 1))
        return lre_dnnl_layer_norm_forward(CS(state)->dnnl, y, mean, rstd, x, w, b, groups, n,
                                           eps);
#endif
    (void)state;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (groups > 1 && groups * n >= 65536)
#endif
    for (int64_t gi = 0; gi < groups; gi++)
        lre_layer_norm1(y + gi * n, mean + gi, rstd + gi, x + gi * n, w, b, n, eps);
    return LRE_OK;
}

static lre_status cpu_layer_norm_backward(void *state, float *dx, float *dw, float *db,
                                          const float *dy, const float *x, const float *mean,
                                          const float *rstd, const float *w, int64_t groups,
                                          int64_t n, int accumulate)
{
#ifdef LRE_WITH_DNNL
    if (dx && NORM_ON_DNNL(state, groups, n, 1)) /* without dx: the loops below */
        return lre_dnnl_layer_norm_backward(CS(state)->dnnl, dx, dw, db, dy, x, mean, rstd, w,
                                            groups, n, accumulate);
#endif
    (void)state;
    if (dx) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (groups > 1 && groups * n >= 65536)
#endif
        for (int64_t gi = 0; gi < groups; gi++)
            lre_layer_norm_back1(dx + gi * n, dy + gi * n, x + gi * n, mean[gi], rstd[gi], w, n);
    }
    if (dw)
        for (int64_t j = 0; j < n; j++)
            lre_layer_norm_dparam1(dw, db, dy, x, mean, rstd, groups, n, j, accumulate);
    return LRE_OK;
}

static lre_status cpu_batch_norm_forward(void *state, float *y, float *mean, float *rstd,
                                         float *run_mean, float *run_var, const float *x,
                                         const float *w, const float *b, int64_t B, int64_t C,
                                         int64_t S, float eps, float momentum, int training)
{
#ifdef LRE_WITH_DNNL
    if (training && BN_ON_DNNL(state, B, C, S))
        return lre_dnnl_batch_norm_train(CS(state)->dnnl, y, mean, rstd, run_mean, run_var, x,
                                         w, b, B, C, S, eps, momentum);
#endif
    (void)state;
    const int big = C > 1 && B * C * S >= 65536;
    (void)big; /* a build without OpenMP */
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (big)
#endif
    for (int64_t c = 0; c < C; c++)
        lre_batch_norm_stats1(mean, rstd, run_mean, run_var, x, B, C, S, c, eps, momentum,
                              training);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (big)
#endif
    for (int64_t bc = 0; bc < B * C; bc++) {
        /* lre_batch_norm1's operations, in its order, with the channel's
         * numbers hoisted out of the loop so that it vectorises */
        const int64_t c = bc % C;
        const float m = mean[c], r = rstd[c];
        const float *restrict xr = x + bc * S;
        float *restrict yr = y + bc * S;
        if (w) {
            const float wc = w[c], bb = b[c];
            LRE_SIMD
            for (int64_t k = 0; k < S; k++) yr[k] = ((xr[k] - m) * r) * wc + bb;
        } else {
            LRE_SIMD
            for (int64_t k = 0; k < S; k++) yr[k] = (xr[k] - m) * r;
        }
    }
    return LRE_OK;
}

static lre_status cpu_batch_norm_backward(void *state, float *dx, float *dw, float *db,
                                          const float *dy, const float *x, const float *mean,
                                          const float *rstd, const float *w, int64_t B,
                                          int64_t C, int64_t S, int accumulate)
{
    (void)state;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (C > 1 && B * C * S >= 65536)
#endif
    for (int64_t c = 0; c < C; c++)
        lre_batch_norm_back1(dx, dw, db, dy, x, mean, rstd, w, B, C, S, c, accumulate);
    return LRE_OK;
}

static lre_status cpu_dropout_forward(void *state, float *y, float *mask, const float *x,
                                      int64_t n, const uint64_t *rng, uint64_t salt,
                                      uint32_t threshold, float scale)
{
    (void)state;
    const uint64_t key = rng[0] ^ salt, sr = rng[1];
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= 65536)
#endif
    for (int64_t e = 0; e < n; e++) {
        mask[e] = lre_dropout_mask1(key, sr, (uint64_t)e, threshold, scale);
        y[e] = x[e] * mask[e];
    }
    return LRE_OK;
}

static lre_status cpu_add(void *state, float *y, const float *a, const float *b, int64_t n)
{
    (void)state;
    LRE_SIMD
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
    return LRE_OK;
}

/* db (cols) (+)= Σ_rows dy (rows,cols) */
static lre_status cpu_bias_add_backward(void *state, float *db, const float *dy, int64_t rows,
                                  int64_t cols, int accumulate)
{
    (void)state;
    if (!accumulate) memset(db, 0, (size_t)cols * sizeof *db);
    for (int64_t i = 0; i < rows; i++) {
        const float *restrict dr = dy + i * cols;
        LRE_SIMD
        for (int64_t j = 0; j < cols; j++) db[j] += dr[j];
    }
    return LRE_OK;
}

/* y (n) = f(x (n)); the switch is outside the loops so each vectorises */
static lre_status cpu_act_forward(void *state, lre_act a, float param, float *y, const float *x,
                                  int64_t n)
{
    (void)state;
    switch (a) {
    case LRE_ACT_RELU:
        LRE_SIMD
        for (int64_t i = 0; i < n; i++) y[i] = lre_relu_fwd(x[i]);
        break;
    case LRE_ACT_LEAKY_RELU:
        LRE_SIMD
        for (int64_t i = 0; i < n; i++) y[i] = lre_leaky_relu_fwd(x[i], param);
        break;
    case LRE_ACT_GELU:
        for (int64_t i = 0; i < n; i++) y[i] = lre_gelu_fwd(x[i]);
        break;
    case LRE_ACT_GELU_TANH:
        for (int64_t i = 0; i < n; i++) y[i] = lre_gelu_tanh_fwd(x[i]);
        break;
    case LRE_ACT_TANH:
        for (int64_t i = 0; i < n; i++) y[i] = lre_tanh_fwd(x[i]);
        break;
    case LRE_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++) y[i] = lre_sigmoid_fwd(x[i]);
        break;
    case LRE_ACT_COUNT:
        break;
    }
    return LRE_OK;
}

/* dx (n) = f'(x) ⊙ dy, y = f(x) */
static lre_status cpu_act_backward(void *state, lre_act a, float param, float *dx,
                                   const float *dy, const float *x, const float *y, int64_t n)
{
    (void)state;
    switch (a) {
    case LRE_ACT_RELU:
        LRE_SIMD
        for (int64_t i = 0; i < n; i++) dx[i] = lre_relu_bwd(x[i], dy[i]);
        break;
    case LRE_ACT_LEAKY_RELU:
        LRE_SIMD
        for (int64_t i = 0; i < n; i++) dx[i] = lre_leaky_relu_bwd(x[i], dy[i], param);
        break;
    case LRE_ACT_GELU:
        for (int64_t i = 0; i < n; i++) dx[i] = lre_gelu_bwd(x[i], dy[i]);
        break;
    case LRE_ACT_GELU_TANH:
        for (int64_t i = 0; i < n; i++) dx[i] = lre_gelu_tanh_bwd(x[i], dy[i]);
        break;
    case LRE_ACT_TANH:
        LRE_SIMD
        for (int64_t i = 0; i < n; i++) dx[i] = lre_tanh_bwd(y[i], dy[i]);
        break;
    case LRE_ACT_SIGMOID:
        LRE_SIMD
        for (int64_t i = 0; i < n; i++) dx[i] = lre_sigmoid_bwd(y[i], dy[i]);
        break;
    case LRE_ACT_COUNT:
        break;
    }
    return LRE_OK;
}

/* logits (B,C), labels (B) → mean loss; dlogits (B,C) optional.
 * Per row, in double: m = max, lse = m + log Σ exp(z - m),
 * loss = (1-ε)(lse - z_y) + ε/C Σ_c (lse - z_c),
 * dz_c = softmax_c - (1-ε)[c == y] - ε/C, scaled by grad_scale / B. */
/* Rows [lo, hi) of the cross-entropy: their loss summed in order (in
 * double), their gradient into dlogits. */
static double ce_rows(float *dlogits, const float *logits, const int32_t *labels, int64_t lo,
                      int64_t hi, int64_t C, double on, double off, double gs)
{
    double total = 0.0;
    for (int64_t i = lo; i < hi; i++) {
        const float *z = logits + i * C;
        double m = -INFINITY;
        for (int64_t c = 0; c < C; c++)
            if (z[c] > m) m = z[c];
        double se = 0.0, sz = 0.0;
        for (int64_t c = 0; c < C; c++) {
            se += exp((double)z[c] - m);
            sz += z[c];
        }
        double lse = m + log(se);
        int32_t y = labels[i];
        if (y < 0 || y >= C) { /* never read outside the row */
            total = NAN;
            if (dlogits) memset(dlogits + i * C, 0, (size_t)C * sizeof *dlogits);
            continue;
        }
        total += lre_ce_row_loss(lse, z[y], sz, on, off, C);
        if (dlogits) {
            float *d = dlogits + i * C;
            for (int64_t c = 0; c < C; c++) d[c] = lre_ce_grad1(z[c], lse, c == y, on, off, gs);
        }
    }
    return total;
}

/* The rows go in CE_BLOCKS blocks whose sizes depend on B alone (one block
 * up to CE_ROWS rows, the training batches); each block's sum is taken in
 * order and the blocks' sums in order, so the loss is the same bits on any
 * number of threads, and the blocks share the OpenMP pool where built. */
#define CE_ROWS 256
#define CE_BLOCKS 64
static lre_status cpu_cross_entropy(void *state, float *loss, float *dlogits,
                                    const float *logits, const int32_t *labels, int64_t B,
                                    int64_t C, float smoothing, float grad_scale)
{
    (void)state;
    const double eps = smoothing, on = 1.0 - eps, off = eps / (double)C;
    const double gs = B > 0 ? (double)grad_scale / (double)B : 0.0;
    int64_t nb = (B + CE_ROWS - 1) / CE_ROWS;
    if (nb > CE_BLOCKS) nb = CE_BLOCKS;
    if (nb < 1) nb = 1;
    const int64_t per = (B + nb - 1) / nb;
    double part[CE_BLOCKS];
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (nb > 1)
#endif
    for (int64_t k = 0; k < nb; k++) {
        int64_t lo = k * per, hi = lo + per < B ? lo + per : B;
        part[k] = lo < hi ? ce_rows(dlogits, logits, labels, lo, hi, C, on, off, gs) : 0.0;
    }
    double total = 0.0;
    for (int64_t k = 0; k < nb; k++) total += part[k];
    *loss = B > 0 ? (float)(total / (double)B) : 0.0f;
    return LRE_OK;
}

static lre_status cpu_mse(void *state, float *loss, float *dpred, const float *pred,
                          const float *target, int64_t n, float grad_scale)
{
    (void)state;
    double total = 0.0;
    const double gs = n > 0 ? 2.0 * (double)grad_scale / (double)n : 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)pred[i] - (double)target[i];
        total += d * d;
        if (dpred) dpred[i] = (float)(d * gs);
    }
    *loss = n > 0 ? (float)(total / (double)n) : 0.0f;
    return LRE_OK;
}

static lre_status cpu_count_correct(void *state, int64_t *correct, const float *logits,
                                    const int32_t *labels, int64_t B, int64_t C)
{
    (void)state;
    int64_t k = 0;
    for (int64_t i = 0; i < B; i++) {
        const float *z = logits + i * C;
        int64_t best = 0;
        for (int64_t c = 1; c < C; c++)
            if (z[c] > z[best]) best = c;
        k += best == labels[i];
    }
    *correct = k;
    return LRE_OK;
}

/* ------------------------------------------------------------- gather */

/* o[c] = s[c]·a + b (or a[c], b[c] per feature) over F values. The blocks
 * of 16 have a known trip count, so GCC's -O2 cost model vectorises them
 * (u8 → f32 conversion and the affine map, 16 values per pass). */
#define LRE_BLOCK 16
#ifndef LRE_AHEAD
#define LRE_AHEAD 4
#endif
static void map_u8(float *restrict o, const uint8_t *restrict s, int64_t F, float a, float b)
{
    int64_t c = 0;
    for (; c + LRE_BLOCK <= F; c += LRE_BLOCK)
        for (int k = 0; k < LRE_BLOCK; k++) o[c + k] = (float)s[c + k] * a + b;
    for (; c < F; c++) o[c] = (float)s[c] * a + b;
}

static void map_u8_pf(float *restrict o, const uint8_t *restrict s, int64_t F,
                      const float *restrict a, const float *restrict b)
{
    int64_t c = 0;
    for (; c + LRE_BLOCK <= F; c += LRE_BLOCK)
        for (int k = 0; k < LRE_BLOCK; k++) o[c + k] = (float)s[c + k] * a[c + k] + b[c + k];
    for (; c < F; c++) o[c] = (float)s[c] * a[c] + b[c];
}

static void map_f32(float *restrict o, const float *restrict s, int64_t F, float a, float b)
{
    int64_t c = 0;
    for (; c + LRE_BLOCK <= F; c += LRE_BLOCK)
        for (int k = 0; k < LRE_BLOCK; k++) o[c + k] = s[c + k] * a + b;
    for (; c < F; c++) o[c] = s[c] * a + b;
}

static void map_f32_pf(float *restrict o, const float *restrict s, int64_t F,
                       const float *restrict a, const float *restrict b)
{
    int64_t c = 0;
    for (; c + LRE_BLOCK <= F; c += LRE_BLOCK)
        for (int k = 0; k < LRE_BLOCK; k++) o[c + k] = s[c + k] * a[c + k] + b[c + k];
    for (; c < F; c++) o[c] = s[c] * a[c] + b[c];
}

static inline int64_t src_row(const lre_gather_src *src, int64_t i)
{
    return src->index ? src->index[i] : i;
}

/* Row `row` of src into xo (F), yo (1) and to (target_dim), each if not NULL. */
static void gather_row(const lre_gather_src *src, int64_t row, float *xo, int32_t *yo, float *to)
{
    const int64_t F = src->features;
    if (xo) {
        if (src->dtype == LRE_U8) {
            const uint8_t *xs = (const uint8_t *)src->x + row * F;
            if (src->mul) map_u8_pf(xo, xs, F, src->mul, src->add);
            else map_u8(xo, xs, F, src->scale, src->shift);
        } else {
            const float *xs = (const float *)src->x + row * F;
            if (src->identity) memcpy(xo, xs, (size_t)F * sizeof *xo);
            else if (src->mul) map_f32_pf(xo, xs, F, src->mul, src->add);
            else map_f32(xo, xs, F, src->scale, src->shift);
        }
    }
    if (yo && src->labels) *yo = src->labels[row];
    if (to && src->targets)
        memcpy(to, src->targets + row * src->target_dim, (size_t)src->target_dim * sizeof *to);
}

/* x (n, F), y (n), t (n, target_dim) = rows idx[0..n) of src (or rows
 * first.. when idx is NULL). A large block (an evaluate pass's 512-row
 * chunk: 400,000 values) is split by rows over the OpenMP pool: each value
 * is converted alone, so the bits are the same on any number of threads. */
static lre_status cpu_gather(void *state, const lre_gather_src *src, const int64_t *idx,
                             int64_t first, int64_t n, float *x, int32_t *y, float *t)
{
    (void)state;
    const int64_t F = src->features, T = src->target_dim;
    const int64_t rsz = src->dtype == LRE_U8 ? 1 : (int64_t)sizeof(float);
    (void)rsz;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n > 1 && n * F >= 65536)
#endif
    for (int64_t i = 0; i < n; i++) {
#if defined(__GNUC__)
        /* rows come in a shuffled order: fetch a later row while this one
         * converts (sequential access within a row is already prefetched) */
        if (idx && x && i + LRE_AHEAD < n) {
            const char *nx = (const char *)src->x + src_row(src, idx[i + LRE_AHEAD]) * F * rsz;
            for (int64_t off = 0; off < F * rsz; off += 64) __builtin_prefetch(nx + off);
        }
#endif
        gather_row(src, src_row(src, idx ? idx[i] : first + i), x ? x + i * F : NULL,
                   y ? y + i : NULL, t ? t + i * T : NULL);
    }
    return LRE_OK;
}

/* torch.optim.SGD (foreach=False): g = grad + wd·p; with momentum μ,
 * buf = g on the first step, else μ·buf + (1-dampening)·g; nesterov:
 * g = g + μ·buf, else g = buf; p -= lr·g. */
static lre_status cpu_sgd_update(void *state, float *restrict p, const float *restrict g,
                                 float *restrict buf, int64_t n, const lre_optim_scalars *sc)
{
    (void)state;
    /* locals: the struct could alias the arrays as far as the compiler knows */
    const float lr = sc->lr, momentum = sc->momentum, keep = sc->keep,
                weight_decay = sc->weight_decay;
    const int nesterov = sc->nesterov, first_step = sc->first_step;
    if (momentum != 0.0f)
        for (int64_t i = 0; i < n; i++)
            lre_sgd1(&p[i], g[i], &buf[i], lr, momentum, keep, nesterov, weight_decay, first_step);
    else
        for (int64_t i = 0; i < n; i++)
            lre_sgd1(&p[i], g[i], NULL, lr, 0.0f, keep, nesterov, weight_decay, first_step);
    return LRE_OK;
}

/* torch.optim.Adam / AdamW (foreach=False, amsgrad=False):
 * AdamW first decays p *= 1 - lr·wd (decay); Adam adds wd·p to the
 * gradient (l2). m = lerp(m, g, 1-β1); v = β2·v + (1-β2)·g²;
 * p -= (lr/bc1) · m / (sqrt(v)/sqrt(bc2) + eps). */
LRE_MULTIVERSION
static void adam_loop(float *restrict p, const float *restrict g, float *restrict m,
                      float *restrict v, int64_t n, float step_size, float bc2_sqrt, float w1,
                      float beta2, float w2, float eps, float decay, float l2)
{
    LRE_SIMD
    for (int64_t i = 0; i < n; i++)
        lre_adam1(&p[i], g[i], &m[i], &v[i], step_size, bc2_sqrt, w1, beta2, w2, eps, decay, l2);
}

/* The update streams four buffers of the parameters' size: larger than the
 * L2 cache, it runs at one core's memory bandwidth (about half a step of
 * the reference MLP). Where the build has OpenMP (with oneDNN, whose pool it
 * shares), slices of 64-byte lines go to the pool's threads: every element
 * is computed by the same instructions whatever the slicing, so the result
 * is the same bits on any number of threads. */
static lre_status cpu_adam_update(void *state, float *p, const float *g, float *m, float *v,
                                  int64_t n, const lre_optim_scalars *sc)
{
    (void)state;
    const lre_optim_scalars s = *sc;
#ifdef _OPENMP
    if (n >= 65536) {
#pragma omp parallel
        {
            int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
            int64_t chunk = ((n + nt - 1) / nt + 15) / 16 * 16;
            int64_t lo = id * chunk, hi = lo + chunk < n ? lo + chunk : n;
            if (lo < hi)
                adam_loop(p + lo, g + lo, m + lo, v + lo, hi - lo, s.step_size, s.bc2_sqrt, s.w1,
                          s.beta2, s.w2, s.eps, s.decay, s.l2);
        }
        return LRE_OK;
    }
#endif
    adam_loop(p, g, m, v, n, s.step_size, s.bc2_sqrt, s.w1, s.beta2, s.w2, s.eps, s.decay, s.l2);
    return LRE_OK;
}

const lre_backend lre_backend_cpu = {
    .name = "cpu",
    .device = LRE_DEVICE_CPU,
    .is_host = 1,
    .init = cpu_init,
    .shutdown = cpu_shutdown,
    .set_precision = cpu_set_precision,
    .synchronize = cpu_synchronize,
    .stream = cpu_stream,
    .host_alloc = cpu_host_alloc,
    .host_free = cpu_free,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .to_device = cpu_memcpy,
    .to_host = cpu_memcpy,
    .to_host_async = cpu_memcpy,
    .copy = cpu_memcpy,
    .zero = cpu_zero,
    .gemm = cpu_gemm,
    .gemm_prepare = cpu_gemm_prepare,
    .linear_forward = cpu_linear_forward,
    .linear_prepare = cpu_linear_prepare,
    .bias_add_forward = cpu_bias_add_forward,
    .bias_add_backward = cpu_bias_add_backward,
#ifdef LRE_WITH_DNNL
    .conv_direct = cpu_conv_direct,
    .conv_forward = cpu_conv_forward,
    .conv_backward_data = cpu_conv_backward_data,
    .conv_backward_weights = cpu_conv_backward_weights,
    .conv_prepare = cpu_conv_prepare,
#endif
    .dropout_forward = cpu_dropout_forward,
    .add = cpu_add,
    .batch_norm_forward = cpu_batch_norm_forward,
    .batch_norm_backward = cpu_batch_norm_backward,
#ifdef LRE_WITH_DNNL
    .layer_norm_prepare = cpu_layer_norm_prepare,
    .batch_norm_prepare = cpu_batch_norm_prepare,
#endif
    .layer_norm_forward = cpu_layer_norm_forward,
    .layer_norm_backward = cpu_layer_norm_backward,
    .adaptive_avg_pool_forward = cpu_adaptive_avg_pool_forward,
    .adaptive_avg_pool_backward = cpu_adaptive_avg_pool_backward,
    .im2col = cpu_im2col,
    .col2im = cpu_col2im,
    .bias_rows_forward = cpu_bias_rows_forward,
    .bias_rows_backward = cpu_bias_rows_backward,
    .max_pool_forward = cpu_max_pool_forward,
    .max_pool_backward = cpu_max_pool_backward,
    .avg_pool_forward = cpu_avg_pool_forward,
    .avg_pool_backward = cpu_avg_pool_backward,
    .act_forward = cpu_act_forward,
    .act_backward = cpu_act_backward,
    .cross_entropy = cpu_cross_entropy,
    .mse = cpu_mse,
    .count_correct = cpu_count_correct,
    .gather = cpu_gather,
    .sgd_update = cpu_sgd_update,
    .adam_update = cpu_adam_update,
};
