/*
 * test_cuda_cpu_side.c — the CUDA backend's checks that need no GPU:
 *   - backend/elementwise.h gives bit-identical results from cc and from
 *     nvcc's host pass (the same lines the kernels run; spec/c/ew_eval.h,
 *     spec/c/elementwise_nvcc.cu), over ordinary and special values;
 *   - the row-major → column-major GEMM mapping the CUDA backend hands
 *     cuBLAS (backend/gemm_map.h), run through a column-major cblas_sgemm,
 *     equals row-major GEMM for every transpose case, with padded strides;
 *   - cuBLAS, which the backend opens at its first context, is found and
 *     has every entry point the backend calls.
 * In a build without nvcc the first check is a visible SKIP.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "backend/gemm_map.h"
#include "ew_eval.h"

#ifdef LRE_WITH_CUDA
void lre_ew_eval_nvcc(const float *x, int64_t n, float *out);
int lre_cuda_blas_available(char *err, size_t n);
#endif

/* The CUDA backend opens cuBLAS when its first context is made (not at
 * start-up): the library must be found and have every entry point. */
static void test_blas_opens(void)
{
#ifdef LRE_WITH_CUDA
    char err[512] = "";
    CHECK(lre_cuda_blas_available(err, sizeof err),
          "cuBLAS (libcublas.so.13) opens with every entry point the CUDA backend calls", "%s",
          err);
#else
    chk_skip("cuBLAS opens with every entry point the CUDA backend calls",
             "this build has no CUDA backend (no nvcc)");
#endif
}

static void test_elementwise(void)
{
    static const float special[] = {0.0f,  -0.0f, 1e-30f, -1e-30f, 1e-5f,  -1e-5f, 0.5f,
                                    -0.5f, 1.0f,  -1.0f,  3.0f,    -3.0f,  10.0f,  -10.0f,
                                    30.0f, -30.0f, 88.0f, -88.0f,  100.0f, -100.0f, 1e4f,
                                    -1e4f, INFINITY, -INFINITY, NAN};
    const int64_t ns = (int64_t)(sizeof special / sizeof special[0]), n = ns + 4000;
    float *x = malloc(sizeof *x * (size_t)n);
    float *cc = malloc(sizeof *cc * (size_t)(n * EW_PER_INPUT));
    if (!x || !cc) chk_fatal("alloc", "host");
    memcpy(x, special, sizeof special);
    chk_rng r = {99};
    chk_fill(&r, x + ns, n - ns, -12, 12);
    ew_eval(x, n, cc);

    /* cc's activations against the double reference of check.h */
    int64_t bad = 0;
    for (int64_t i = 0; i < ns + 2000; i++) {
        if (!isfinite(x[i]) || fabsf(x[i]) > 50) continue;
        for (int a = 0; a < LRE_ACT_COUNT; a++) {
            double p = a == LRE_ACT_LEAKY_RELU ? 0.01 : 0.0;
            double want = chk_act_ref((lre_act)a, p, x[i]);
            double got = cc[i * EW_PER_INPUT + 2 * a];
            if (!(fabs(got - want) <= 1e-7 + 4e-6 * fabs(want))) bad++;
        }
    }
    CHECK(bad == 0, "elementwise.h activations match the double reference (cc)",
          "%lld values off", (long long)bad);

#ifdef LRE_WITH_CUDA
    float *nv = malloc(sizeof *nv * (size_t)(n * EW_PER_INPUT));
    if (!nv) chk_fatal("alloc", "host");
    lre_ew_eval_nvcc(x, n, nv);
    int64_t first = -1, diff = 0;
    for (int64_t i = 0; i < n * EW_PER_INPUT; i++)
        /* a NaN's sign and payload carry no meaning (glibc's erf of NaN in C
         * and C++ differ in the sign bit): NaN must meet NaN, the rest bits */
        if (isnan(cc[i]) ? !isnan(nv[i]) : memcmp(&cc[i], &nv[i], sizeof(float)) != 0) {
            if (first < 0) first = i;
            diff++;
        }
    CHECK(diff == 0,
          "elementwise.h: cc and nvcc's host pass give the same bits for every function and input "
          "(NaN for NaN)",
          "%lld of %lld outputs differ; first: input %g, output #%lld: cc %.9g nvcc %.9g",
          (long long)diff, (long long)(n * EW_PER_INPUT),
          first >= 0 ? (double)x[first / EW_PER_INPUT] : 0.0,
          (long long)(first >= 0 ? first % EW_PER_INPUT : 0), first >= 0 ? (double)cc[first] : 0.0,
          first >= 0 ? (double)nv[first] : 0.0);
    free(nv);
#else
    chk_skip("elementwise.h: cc and nvcc's host pass give the same bits",
             "this build has no CUDA backend (no nvcc): nothing to compare with");
#endif
    free(x);
    free(cc);
}

/* Row-major c = op(a)·op(b) by cblas_sgemm(RowMajor) against the column-major
 * call that gemm_map.h builds, on the same row-major buffers. */
static void test_gemm_map(void)
{
    static const int64_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 4, 9}, {8, 33, 1}};
    chk_rng r = {5};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                for (int pad = 0; pad < 4; pad += 3) {
                    int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                    int64_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
                    int64_t lda = ac + pad, ldb = bc + pad, ldc = N + pad;
                    float *a = malloc(sizeof *a * (size_t)(ar * lda));
                    float *b = malloc(sizeof *b * (size_t)(br * ldb));
                    float *c1 = malloc(sizeof *c1 * (size_t)(M * ldc));
                    float *c2 = malloc(sizeof *c2 * (size_t)(M * ldc));
                    chk_fill(&r, a, ar * lda, -1, 1);
                    chk_fill(&r, b, br * ldb, -1, 1);
                    chk_fill(&r, c1, M * ldc, -1, 1);
                    memcpy(c2, c1, sizeof *c1 * (size_t)(M * ldc));
                    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                                tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 0.5f, a,
                                (int)lda, b, (int)ldb, 0.25f, c1, (int)ldc);
                    lre_colmajor_gemm g = lre_gemm_to_colmajor(ta, tb, M, N, K, lda, ldb, ldc);
                    cblas_sgemm(CblasColMajor, g.trans_first ? CblasTrans : CblasNoTrans,
                                g.trans_second ? CblasTrans : CblasNoTrans, (int)g.m, (int)g.n,
                                (int)g.k, 0.5f, g.first_is_b ? b : a, (int)g.ld_first,
                                g.first_is_b ? a : b, (int)g.ld_second, 0.25f, c2, (int)g.ldc);
                    chk_close_ff(chk_name("gemm_map %c%c M=%lld N=%lld K=%lld pad=%d: the "
                                          "column-major call equals row-major GEMM",
                                          ta ? 'T' : 'N', tb ? 'T' : 'N', (long long)M,
                                          (long long)N, (long long)K, (int)pad),
                                 c1, c2, M * ldc, 1e-6, 1e-6);
                    free(a);
                    free(b);
                    free(c1);
                    free(c2);
                }
}

int main(void)
{
    test_elementwise();
    test_gemm_map();
    test_blas_opens();
    return chk_done("test_cuda_cpu_side");
}
