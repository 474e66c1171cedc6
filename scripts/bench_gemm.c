/*
 * bench_gemm.c — the CPU GEMM provider table, measured: for the shapes the
 * range test runs (a training batch, the 10,000-row validation pass, a wide
 * layer, a square one), GFLOP/s of OpenBLAS's cblas_sgemm, of oneDNN's fp32
 * matmul primitive (lre_matmul on a context with LRE_CPU_GEMM=onednn), of
 * what the engine's fixed table picks (lre_matmul on a default context),
 * and of oneDNN with bf16 inputs (a context whose device a bf16 trainer has
 * set; AMX or AVX512-BF16 only). The providers take turns within each
 * repetition, so a shared machine's changing load hits all alike. The table
 * in engine/backend/cpu_dnnl.c (lre_dnnl_serves) comes from these figures:
 * the "table" column should be near the faster fp32 column on every row.
 * Never run by the tests (timing on a shared machine); `make bench` prints
 * it.
 *
 *   build/bench/bench_gemm [seconds per measurement, default 0.2]
 *
 * Each shape is y (M,N) = x (M,K) · w (N,K)^T, the linear layer's forward.
 */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lrengine.h"

typedef struct shape {
    int64_t m, k, n;
    const char *what;
} shape;

static const shape SHAPES[] = {
    {128, 784, 256, "training, batch 128"},
    {10000, 784, 256, "validation, layer 1"},
    {10000, 256, 256, "validation, layer 2"},
    {512, 784, 1024, "wide layer"},
    {1024, 1024, 1024, "square"},
};
enum { NSHAPES = sizeof SHAPES / sizeof SHAPES[0], REPS = 5, NPROV = 4 };
static const char *const PROVIDERS[NPROV] = {"OpenBLAS", "oneDNN", "table", "bf16"};

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

static void fill(float *p, int64_t n, uint32_t seed)
{
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) * 0x1.0p-24f - 0.5f;
    }
}

/* One provider on one shape: cblas on host buffers (ctx NULL), or
 * lre_matmul on the context's tensors. */
typedef struct job {
    const shape *s;
    const float *x, *w;
    float *y;
    lre_ctx *ctx;
    lre_tensor *tx, *tw, *ty;
} job;

static int run(job *j)
{
    if (!j->ctx) {
        const int m = (int)j->s->m, n = (int)j->s->n, k = (int)j->s->k;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, j->x, k, j->w, k,
                    0.0f, j->y, n);
        return 0;
    }
    return lre_matmul(j->ctx, j->ty, j->tx, 0, j->tw, 1, 0.0f) != LRE_OK;
}

static lre_status job_tensors(job *j)
{
    const shape *s = j->s;
    int64_t xs[2] = {s->m, s->k}, ws[2] = {s->n, s->k}, ys[2] = {s->m, s->n};
    lre_status st;
    if ((st = lre_tensor_new(j->ctx, &j->tx, LRE_F32, 2, xs)) ||
        (st = lre_tensor_new(j->ctx, &j->tw, LRE_F32, 2, ws)) ||
        (st = lre_tensor_new(j->ctx, &j->ty, LRE_F32, 2, ys)))
        return st;
    memcpy(lre_tensor_data(j->tx), j->x, sizeof(float) * (size_t)(s->m * s->k));
    memcpy(lre_tensor_data(j->tw), j->w, sizeof(float) * (size_t)(s->n * s->k));
    return LRE_OK;
}

static void job_free(job *j)
{
    lre_tensor_release(j->tx);
    lre_tensor_release(j->tw);
    lre_tensor_release(j->ty);
    j->tx = j->tw = j->ty = NULL;
}

/* Seconds per call of each of n jobs: the median over REPS repetitions of
 * >= secs each, the jobs taking turns within a repetition. t[i] < 0: failed. */
static void measure(job *jobs, int n, double secs, double *t)
{
    double rep[NPROV][REPS];
    for (int i = 0; i < n; i++) t[i] = run(&jobs[i]) ? -1 : 0; /* warm-up */
    for (int r = 0; r < REPS; r++)
        for (int i = 0; i < n; i++) {
            if (t[i] < 0) continue;
            long k = 0;
            double t0 = now(), t1 = t0;
            do {
                if (run(&jobs[i])) {
                    t[i] = -1;
                    break;
                }
                k++;
            } while ((t1 = now()) - t0 < secs);
            rep[i][r] = (t1 - t0) / (double)k;
        }
    for (int i = 0; i < n; i++)
        if (t[i] == 0) {
            qsort(rep[i], REPS, sizeof rep[i][0], cmp_double);
            t[i] = rep[i][REPS / 2];
        }
}

/* A context with LRE_CPU_GEMM set to `provider` (NULL: the table). */
static lre_ctx *context(const char *provider, char *err, size_t n)
{
    lre_ctx *ctx = NULL;
    if (provider) setenv("LRE_CPU_GEMM", provider, 1);
    else unsetenv("LRE_CPU_GEMM");
    if (lre_ctx_new_err(&ctx, NULL, err, n)) ctx = NULL;
    unsetenv("LRE_CPU_GEMM");
    return ctx;
}

/* Sets ctx's device to bf16 the public way: one step of a small bf16
 * trainer (lre_matmul runs at the precision a trainer last set). 1 when
 * the device runs bf16, 0 when it fell back to fp32, -1 on an error. */
static int make_bf16(lre_ctx *ctx)
{
    float x[8 * 4], loss;
    int32_t y[8];
    fill(x, 32, 7);
    for (int i = 0; i < 8; i++) y[i] = i % 2;
    lre_dataset *d = NULL;
    lre_model *m = NULL;
    lre_trainer *t = NULL;
    int rc = -1;
    lre_trainer_opts o = lre_trainer_opts_default();
    o.batch_size = 8;
    o.precision = LRE_PRECISION_BF16;
    if (!lre_dataset_from_arrays_classes(ctx, &d, 8, 4, x, y, 2) && !lre_model_new(ctx, &m) &&
        !lre_model_add_linear(m, 4, 2) && !lre_trainer_new(ctx, &t, m, d, &o) &&
        !lre_trainer_step(t, 1e-3, &loss))
        rc = lre_trainer_precision(t, NULL) == LRE_PRECISION_BF16;
    lre_trainer_release(t);
    lre_model_release(m);
    lre_dataset_release(d);
    return rc;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 0.2;
    if (argc > 2 || !(secs > 0 && secs <= 60)) {
        fprintf(stderr, "usage: bench_gemm [seconds per measurement, (0, 60], default 0.2]\n");
        return 2;
    }
    char err[256] = "";
    lre_ctx *ctxs[NPROV] = {NULL, NULL, NULL, NULL};
    if (!(ctxs[2] = context(NULL, err, sizeof err))) {
        fprintf(stderr, "bench_gemm: lre_ctx_new: %s\n", err);
        return 1;
    }
    printf("lrengine %s, bench_gemm: y (M,N) = x (M,K) w^T in GFLOP/s (2MNK / time, median of "
           "%d x %.2g s, providers in turns)\n", lre_version(), REPS, secs);
    printf("OpenBLAS: %d threads (%s)\n", openblas_get_num_threads(), openblas_get_config());
    if (!(ctxs[1] = context("onednn", err, sizeof err))) {
        printf("oneDNN: not measured (%s)\n", err);
    } else if (!(ctxs[3] = context("onednn", err, sizeof err))) {
        printf("bf16: not measured (%s)\n", err);
    } else {
        int b = make_bf16(ctxs[3]);
        if (b != 1) {
            printf("bf16: not measured (%s)\n", b == 0 ? "this CPU has neither AMX nor "
                   "AVX512-BF16" : lre_ctx_error(ctxs[3]));
            lre_ctx_release(ctxs[3]);
            ctxs[3] = NULL;
        }
    }
    printf("%-22s %-15s", "shape", "M x K x N");
    for (int p = 0; p < NPROV; p++) printf(" %9s", PROVIDERS[p]);
    printf("   faster in fp32\n");
    int rc = 0;
    for (int i = 0; i < NSHAPES && !rc; i++) {
        const shape *s = &SHAPES[i];
        const double flop = 2.0 * (double)s->m * (double)s->n * (double)s->k;
        float *x = malloc(sizeof(float) * (size_t)(s->m * s->k));
        float *w = malloc(sizeof(float) * (size_t)(s->n * s->k));
        float *y = malloc(sizeof(float) * (size_t)(s->m * s->n));
        job jobs[NPROV];
        int prov[NPROV], n = 0;
        if (!x || !w || !y) {
            fprintf(stderr, "bench_gemm: out of memory\n");
            rc = 1;
        } else {
            fill(x, s->m * s->k, 1);
            fill(w, s->n * s->k, 2);
        }
        for (int p = 0; p < NPROV && !rc; p++) {
            if (p > 0 && !ctxs[p]) continue;
            job *j = &jobs[n];
            memset(j, 0, sizeof *j);
            j->s = s;
            j->x = x;
            j->w = w;
            j->y = y;
            j->ctx = ctxs[p];
            prov[n++] = p;
            if (p > 0 && job_tensors(j)) {
                fprintf(stderr, "bench_gemm: tensors: %s\n", lre_ctx_error(ctxs[p]));
                rc = 1;
            }
        }
        double t[NPROV], gf[NPROV] = {0, 0, 0, 0};
        if (!rc) measure(jobs, n, secs, t);
        for (int q = 0; q < n && !rc; q++) {
            if (t[q] < 0) {
                fprintf(stderr, "bench_gemm: %s: %s\n", PROVIDERS[prov[q]],
                        ctxs[prov[q]] ? lre_ctx_error(ctxs[prov[q]]) : "failed");
                rc = 1;
            }
            gf[prov[q]] = flop / t[q] * 1e-9;
        }
        for (int q = 0; q < n; q++) job_free(&jobs[q]);
        if (!rc) {
            char dims[40];
            snprintf(dims, sizeof dims, "%lldx%lldx%lld", (long long)s->m, (long long)s->k,
                     (long long)s->n);
            printf("%-22s %-15s", s->what, dims);
            for (int p = 0; p < NPROV; p++) {
                if (gf[p] > 0) printf(" %9.0f", gf[p]);
                else printf(" %9s", "-");
            }
            printf("   %s\n", gf[1] > gf[0] ? "oneDNN" : "OpenBLAS");
        }
        free(x);
        free(w);
        free(y);
    }
    for (int p = 0; p < NPROV; p++) lre_ctx_release(ctxs[p]);
    return rc;
}
