/*
 * bench_cuda.c — the CUDA backend's figures, side by side in one run (a
 * report, not a test; `make bench-cuda` runs it, and scripts/gpu_check.sh
 * on a lent GPU):
 *   - for the reference MLP 784-256-256-10 (batch 128) and a wide one
 *     4096-4096-4096-10 (batch 1024), Adam, random data on the device:
 *     time per lre_trainer_step eager and replayed as a CUDA graph;
 *   - the same step's GEMMs alone through cuBLAS (fp32 SGEMM, and TF32 and
 *     BF16 compute through cublasGemmEx), so "% of cuBLAS" is the share of
 *     the step that is matrix work at library speed;
 *   - a 100-step range test (exponential schedule) with the 10,000-row
 *     validation pass at every step and without.
 * Every figure is the median of `reps` repetitions, interleaved (graph,
 * eager, GEMMs, then again) so a changing load hits all alike. Prints a
 * JSON line of the figures at the end (gpu_check.sh keeps it).
 *
 *     bench_cuda [reps (default 5)]
 * Exits 0 with one line when no GPU is there (nothing to measure).
 */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lrengine.h"

enum { MAXREP = 21, NL = 3 };

typedef struct config {
    const char *name;
    int64_t sizes[NL + 1];
    int64_t batch;
    int64_t rows;       /* training rows (several batches) */
} config;

static const config CONFIGS[] = {
    {"mlp 784-256-256-10, batch 128", {784, 256, 256, 10}, 128, 8192},
    {"wide 4096-4096-4096-10, batch 1024", {4096, 4096, 4096, 10}, 1024, 4096},
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double w[MAXREP];
    memcpy(w, v, sizeof(double) * (size_t)n);
    qsort(w, (size_t)n, sizeof *w, cmp_double);
    return n % 2 ? w[n / 2] : 0.5 * (w[n / 2 - 1] + w[n / 2]);
}

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int fail(lre_ctx *ctx, lre_status s, const char *what)
{
    fprintf(stderr, "bench_cuda: %s: %s: %s\n", what, lre_status_string(s),
            ctx ? lre_ctx_error(ctx) : "");
    return 1;
}

#define TRY(ctx, expr, what)                          \
    do {                                              \
        lre_status s_ = (expr);                       \
        if (s_ != LRE_OK) return fail(ctx, s_, what); \
    } while (0)

static lre_dataset *random_dataset(lre_ctx *ctx, int64_t n, int64_t f, uint64_t seed)
{
    float *x = malloc(sizeof(float) * (size_t)(n * f));
    int32_t *y = malloc(sizeof(int32_t) * (size_t)n);
    lre_dataset *d = NULL;
    if (x && y) {
        for (int64_t i = 0; i < n * f; i++) x[i] = (float)((double)(mix(&seed) >> 40) * 0x1.0p-24);
        for (int64_t i = 0; i < n; i++) y[i] = (int32_t)(mix(&seed) % 10);
        if (lre_dataset_from_arrays_classes(ctx, &d, n, f, x, y, 10) != LRE_OK) d = NULL;
    }
    free(x);
    free(y);
    return d;
}

/* ---------------------------------------------------- cuBLAS reference */

typedef struct gemms {
    cublasHandle_t h;
    cudaStream_t st;
    float *x[NL], *w[NL], *y[NL], *dy[NL], *dx[NL], *dw[NL];
} gemms;

/* The step's GEMMs (row-major through the operand swap), in one mode:
 * 0 fp32, 1 tf32, 2 bf16 compute. */
static int run_gemms(gemms *g, const config *c, int mode)
{
    const cublasComputeType_t ct = mode == 0   ? CUBLAS_COMPUTE_32F_PEDANTIC
                                   : mode == 1 ? CUBLAS_COMPUTE_32F_FAST_TF32
                                               : CUBLAS_COMPUTE_32F_FAST_16BF;
    const float one = 1.0f, zero = 0.0f;
    const int B = (int)c->batch;
#define GEMM(ta, tb, m, n, k, A, lda, Bm, ldb, C, ldc)                                       \
    if (cublasGemmEx(g->h, ta, tb, m, n, k, &one, A, CUDA_R_32F, lda, Bm, CUDA_R_32F, ldb,   \
                     &zero, C, CUDA_R_32F, ldc, ct, CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS) \
        return 1;
    for (int l = 0; l < NL; l++) { /* y (B,out) = x (B,in) w^T */
        int in = (int)c->sizes[l], out = (int)c->sizes[l + 1];
        GEMM(CUBLAS_OP_T, CUBLAS_OP_N, out, B, in, g->w[l], in, g->x[l], in, g->y[l], out);
    }
    for (int l = NL - 1; l >= 0; l--) {
        int in = (int)c->sizes[l], out = (int)c->sizes[l + 1];
        /* dw (out,in) = dy^T x; dx (B,in) = dy w (not for the first layer) */
        GEMM(CUBLAS_OP_N, CUBLAS_OP_T, in, out, B, g->x[l], in, g->dy[l], out, g->dw[l], in);
        if (l > 0) GEMM(CUBLAS_OP_N, CUBLAS_OP_N, in, B, out, g->w[l], in, g->dy[l], out, g->dx[l], in);
    }
#undef GEMM
    return 0;
}

static int gemms_init(gemms *g, const config *c)
{
    memset(g, 0, sizeof *g);
    if (cublasCreate(&g->h) != CUBLAS_STATUS_SUCCESS) return 1;
    for (int l = 0; l < NL; l++) {
        size_t in = (size_t)c->sizes[l], out = (size_t)c->sizes[l + 1], B = (size_t)c->batch;
        if (cudaMalloc((void **)&g->x[l], 4 * B * in) || cudaMalloc((void **)&g->w[l], 4 * out * in) ||
            cudaMalloc((void **)&g->y[l], 4 * B * out) || cudaMalloc((void **)&g->dy[l], 4 * B * out) ||
            cudaMalloc((void **)&g->dx[l], 4 * B * in) || cudaMalloc((void **)&g->dw[l], 4 * out * in))
            return 1;
        cudaMemset(g->x[l], 0, 4 * B * in);
        cudaMemset(g->w[l], 0, 4 * out * in);
        cudaMemset(g->dy[l], 0, 4 * B * out);
    }
    return 0;
}

static void gemms_free(gemms *g)
{
    for (int l = 0; l < NL; l++) {
        cudaFree(g->x[l]);
        cudaFree(g->w[l]);
        cudaFree(g->y[l]);
        cudaFree(g->dy[l]);
        cudaFree(g->dx[l]);
        cudaFree(g->dw[l]);
    }
    if (g->h) cublasDestroy(g->h);
}

/* seconds per call of n calls of the GEMM set */
static double time_gemms(gemms *g, const config *c, int mode, int n)
{
    cudaDeviceSynchronize();
    double t0 = now();
    for (int i = 0; i < n; i++)
        if (run_gemms(g, c, mode)) return NAN;
    cudaDeviceSynchronize();
    return (now() - t0) / n;
}

/* seconds per step of n steps */
static double time_steps(lre_trainer *t, int n, lre_status *st)
{
    float loss;
    double t0 = now();
    for (int i = 0; i < n && !*st; i++) *st = lre_trainer_step(t, 1e-4, &loss);
    return (now() - t0) / n;
}

/* a 100-step exponential range test from 1e-7 to 10, with or without the
 * validation pass at every step; seconds */
static double range_test(lre_trainer *t, lre_dataset *val, lre_status *st)
{
    lre_snapshot *snap = NULL;
    if ((*st = lre_trainer_snapshot(t, &snap))) return NAN;
    double t0 = now();
    for (int i = 0; i < 100 && !*st; i++) {
        double lr = 1e-7 * pow(10.0 / 1e-7, i / 99.0);
        float loss, vloss;
        *st = lre_trainer_step(t, lr, &loss);
        if (!*st && val) *st = lre_trainer_evaluate(t, val, &vloss);
    }
    double dt = now() - t0;
    if (!*st) *st = lre_trainer_restore(t, snap);
    lre_snapshot_release(snap);
    return dt;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1 || reps > MAXREP) reps = 5;
    char err[512];
    lre_ctx *ctx = NULL;
    lre_ctx_opts o = lre_ctx_opts_default();
    o.device = LRE_DEVICE_CUDA;
    if (lre_ctx_new_err(&ctx, &o, err, sizeof err) != LRE_OK) {
        printf("bench_cuda: no CUDA device, nothing to measure (%s)\n", err);
        return 0;
    }
    struct cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    printf("lrengine %s, bench_cuda on %s (sm_%d%d), median of %d interleaved repetitions\n",
           lre_version(), prop.name, prop.major, prop.minor, reps);
    char json[4096];
    size_t jn = (size_t)snprintf(json, sizeof json, "{\"gpu\":\"%s\",\"configs\":[", prop.name);
    for (size_t ci = 0; ci < sizeof CONFIGS / sizeof CONFIGS[0]; ci++) {
        const config *c = &CONFIGS[ci];
        lre_dataset *train = random_dataset(ctx, c->rows, c->sizes[0], 1 + ci);
        lre_dataset *val = random_dataset(ctx, 10000, c->sizes[0], 100 + ci);
        if (!train || !val) return fail(ctx, LRE_ENOMEM, "dataset");
        lre_model *m;
        TRY(ctx, lre_model_new(ctx, &m), "model");
        for (int l = 0; l < NL; l++) {
            TRY(ctx, lre_model_add_linear(m, c->sizes[l], c->sizes[l + 1]), "linear");
            if (l < NL - 1) TRY(ctx, lre_model_add_act(m, LRE_ACT_RELU, 0), "relu");
        }
        lre_trainer_opts to = lre_trainer_opts_default();
        to.batch_size = c->batch;
        to.seed = 1;
        to.drop_last = 1; /* every step full: the captured graph replays */
        lre_trainer *t;
        TRY(ctx, lre_trainer_new(ctx, &t, m, train, &to), "trainer");
        double flops = 0;
        for (int l = 0; l < NL; l++) flops += 6.0 * (double)c->batch * c->sizes[l] * c->sizes[l + 1];
        gemms g;
        if (gemms_init(&g, c)) return fail(ctx, LRE_EDEVICE, "cuBLAS reference set-up");
        lre_status st = LRE_OK;
        int n = ci == 0 ? 200 : 20;
        double tg[MAXREP], te[MAXREP], t32[MAXREP], ttf[MAXREP], tbf[MAXREP];
        time_steps(t, 3, &st); /* warm: the first full step is eager, the second captures */
        for (int r = 0; r < reps && !st; r++) {
            lre_trainer_set_graphs(t, 1);
            time_steps(t, 2, &st);
            tg[r] = time_steps(t, n, &st);
            lre_trainer_set_graphs(t, 0);
            te[r] = time_steps(t, n, &st);
            t32[r] = time_gemms(&g, c, 0, n);
            ttf[r] = time_gemms(&g, c, 1, n);
            tbf[r] = time_gemms(&g, c, 2, n);
        }
        if (st) return fail(ctx, st, "step");
        lre_trainer_set_graphs(t, 1);
        double rt_val = range_test(t, val, &st), rt_train = range_test(t, NULL, &st);
        if (st) return fail(ctx, st, "range test");
        double mg = median(tg, reps), me = median(te, reps), m32 = median(t32, reps),
               mtf = median(ttf, reps), mbf = median(tbf, reps);
        printf("\n%s (%.1f MFLOP a step)\n", c->name, flops / 1e6);
        printf("  step as a graph   %9.1f us   %7.2f TFLOP/s\n", mg * 1e6, flops / mg / 1e12);
        printf("  step eager        %9.1f us   %7.2f TFLOP/s   graph speed-up %.2fx\n", me * 1e6,
               flops / me / 1e12, me / mg);
        printf("  cuBLAS fp32 GEMMs %9.1f us   %7.2f TFLOP/s   step (graph) at %.0f%% of cuBLAS\n",
               m32 * 1e6, flops / m32 / 1e12, 100.0 * m32 / mg);
        printf("  cuBLAS tf32 GEMMs %9.1f us   %7.2f TFLOP/s\n", mtf * 1e6, flops / mtf / 1e12);
        printf("  cuBLAS bf16 GEMMs %9.1f us   %7.2f TFLOP/s\n", mbf * 1e6, flops / mbf / 1e12);
        printf("  range test, 100 steps: %.3f s with the 10,000-row validation pass, %.3f s "
               "without\n", rt_val, rt_train);
        jn += (size_t)snprintf(json + jn, sizeof json - jn,
                               "%s{\"name\":\"%s\",\"step_graph_us\":%.2f,\"step_eager_us\":%.2f,"
                               "\"gemm_fp32_us\":%.2f,\"gemm_tf32_us\":%.2f,\"gemm_bf16_us\":%.2f,"
                               "\"range_test_val_s\":%.4f,\"range_test_train_s\":%.4f}",
                               ci ? "," : "", c->name, mg * 1e6, me * 1e6, m32 * 1e6, mtf * 1e6,
                               mbf * 1e6, rt_val, rt_train);
        gemms_free(&g);
        lre_trainer_release(t);
        lre_model_release(m);
        lre_dataset_release(train);
        lre_dataset_release(val);
    }
    snprintf(json + jn, sizeof json - jn, "]}");
    printf("\nJSON %s\n", json);
    lre_ctx_release(ctx);
    return 0;
}
