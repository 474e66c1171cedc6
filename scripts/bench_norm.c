/*
 * bench_norm.c — the CPU's normalisation kernels, measured: layer norm
 * (forward, backward) and batch norm (training forward, backward) on the
 * shapes of the range test's models, through the engine's C loops (a
 * context with LRE_CPU_GEMM=openblas, what a build without oneDNN runs),
 * oneDNN's primitives (LRE_CPU_GEMM=onednn) and the default table. They
 * take turns within each repetition, so a shared machine's load hits all
 * alike; the median of 5 is printed with the ratios. The table in
 * engine/backend/cpu_dnnl.c (lre_dnnl_norm_serves, and which entries use
 * it) comes from these figures. Never run by the tests; `make bench`
 * prints it.
 *
 *   build/bench/bench_norm [seconds per measurement, default 0.2]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lrengine.h"

typedef struct shape {
    int batch;         /* 0: layer norm over rows of n; 1: batch norm */
    int64_t B, C, S;   /* layer norm: B rows, C = n, S = 1 */
    const char *what;
} shape;

static const shape SHAPES[] = {
    {0, 128, 256, 1, "layer_norm(256), batch 128"},
    {0, 128, 1024, 1, "layer_norm(1024), batch 128"},
    {0, 10000, 256, 1, "layer_norm(256), validation 10,000"},
    {1, 128, 8, 784, "batch_norm2d(8) 28x28, batch 128"},
    {1, 128, 16, 196, "batch_norm2d(16) 14x14, batch 128"},
    {1, 128, 32, 49, "batch_norm2d(32) 7x7, batch 128"},
    {1, 128, 64, 16, "batch_norm2d(64) 4x4, batch 128"},
    {1, 128, 256, 1, "batch_norm1d(256), batch 128"},
};
enum { NSHAPES = sizeof SHAPES / sizeof SHAPES[0], REPS = 5, NOPS = 2, NCTX = 3 };
/* LRE_CPU_GEMM of each column: the C loops, oneDNN forced, the table */
static const char *const PROVIDERS[NCTX] = {"openblas", "onednn", NULL};

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

/* One context's tensors for one shape */
typedef struct job {
    const shape *s;
    lre_ctx *ctx;
    lre_tensor *x, *y, *dy, *dx, *mean, *rstd, *rm, *rv, *w, *b, *dw, *db;
} job;

static lre_tensor *tensor(lre_ctx *ctx, int64_t a, int64_t b, float lo, float hi, uint32_t seed)
{
    lre_tensor *t = NULL;
    int64_t shp[2] = {a, b};
    if (lre_tensor_new(ctx, &t, LRE_F32, b ? 2 : 1, shp)) return NULL;
    float *p = lre_tensor_data(t);
    for (int64_t i = 0; i < a * (b ? b : 1); i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = lo + (hi - lo) * (float)(seed >> 8) * 0x1.0p-24f;
    }
    return t;
}

static int job_init(job *j)
{
    const shape *s = j->s;
    const int64_t F = s->C * s->S, nstat = s->batch ? s->C : s->B;
    j->x = tensor(j->ctx, s->B, F, -2, 2, 1);
    j->dy = tensor(j->ctx, s->B, F, -1, 1, 2);
    j->y = tensor(j->ctx, s->B, F, 0, 0, 3);
    j->dx = tensor(j->ctx, s->B, F, 0, 0, 4);
    j->mean = s->batch ? tensor(j->ctx, nstat, 0, 0, 0, 5) : tensor(j->ctx, s->B, 1, 0, 0, 5);
    j->rstd = s->batch ? tensor(j->ctx, nstat, 0, 0, 0, 6) : tensor(j->ctx, s->B, 1, 0, 0, 6);
    j->rm = tensor(j->ctx, s->C, 0, -0.1f, 0.1f, 7);
    j->rv = tensor(j->ctx, s->C, 0, 0.9f, 1.1f, 8);
    j->w = tensor(j->ctx, s->C, 0, 0.5f, 1.5f, 9);
    j->b = tensor(j->ctx, s->C, 0, -0.5f, 0.5f, 10);
    j->dw = tensor(j->ctx, s->C, 0, 0, 0, 11);
    j->db = tensor(j->ctx, s->C, 0, 0, 0, 12);
    return j->x && j->dy && j->y && j->dx && j->mean && j->rstd && j->rm && j->rv && j->w &&
           j->b && j->dw && j->db;
}

static void job_free(job *j)
{
    lre_tensor *ts[] = {j->x, j->y, j->dy, j->dx, j->mean, j->rstd,
                        j->rm, j->rv, j->w, j->b, j->dw, j->db};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) lre_tensor_release(ts[i]);
}

/* op 0: forward (training), op 1: backward */
static int run(job *j, int op)
{
    const shape *s = j->s;
    if (!s->batch)
        return op == 0 ? lre_layer_norm_forward(j->ctx, j->y, j->mean, j->rstd, j->x, j->w, j->b,
                                                s->C, 1e-5f) != LRE_OK
                       : lre_layer_norm_backward(j->ctx, j->dx, j->dw, j->db, j->dy, j->x,
                                                 j->mean, j->rstd, j->w, s->C, 0) != LRE_OK;
    return op == 0 ? lre_batch_norm_forward(j->ctx, j->y, j->mean, j->rstd, j->rm, j->rv, j->x,
                                            j->w, j->b, s->C, s->S, 1e-5f, 0.1f, 1) != LRE_OK
                   : lre_batch_norm_backward(j->ctx, j->dx, j->dw, j->db, j->dy, j->x, j->mean,
                                             j->rstd, j->w, s->C, s->S, 0) != LRE_OK;
}

/* Seconds per call of op on each job: medians over REPS turns of >= secs */
static int measure(job *jobs, int op, double secs, double t[NCTX])
{
    double rep[NCTX][REPS];
    for (int i = 0; i < NCTX; i++)
        if (run(&jobs[i], 0) || run(&jobs[i], op)) return -1; /* warm-up, and the statistics */
    for (int r = 0; r < REPS; r++)
        for (int i = 0; i < NCTX; i++) {
            long k = 0;
            double t0 = now(), t1 = t0;
            do {
                if (run(&jobs[i], op)) return -1;
                k++;
            } while ((t1 = now()) - t0 < secs);
            rep[i][r] = (t1 - t0) / (double)k;
        }
    for (int i = 0; i < NCTX; i++) {
        qsort(rep[i], REPS, sizeof rep[i][0], cmp_double);
        t[i] = rep[i][REPS / 2];
    }
    return 0;
}

static lre_ctx *context(const char *provider, char *err, size_t n)
{
    lre_ctx *ctx = NULL;
    if (provider) setenv("LRE_CPU_GEMM", provider, 1);
    else unsetenv("LRE_CPU_GEMM");
    if (lre_ctx_new_err(&ctx, NULL, err, n)) ctx = NULL;
    unsetenv("LRE_CPU_GEMM");
    return ctx;
}

int main(int argc, char **argv)
{
    const double secs = argc > 1 ? atof(argv[1]) : 0.2;
    if (!(secs > 0)) {
        fprintf(stderr, "usage: bench_norm [seconds per measurement > 0]\n");
        return 2;
    }
    char err[512];
    lre_ctx *ctx[NCTX] = {NULL, NULL, NULL};
    for (int i = 0; i < NCTX; i++)
        if (!(ctx[i] = context(PROVIDERS[i], err, sizeof err))) {
            if (i == 1) { /* a build without oneDNN: the loops against the table */
                printf("bench_norm: no oneDNN in this build (%s)\n", err);
                continue;
            }
            fprintf(stderr, "bench_norm: lre_ctx_new: %s\n", err);
            return 1;
        }
    if (!ctx[1]) ctx[1] = context(NULL, err, sizeof err);
    printf("bench_norm: ms per call, median of %d, side by side: the C loops "
           "(LRE_CPU_GEMM=openblas, a build without oneDNN), oneDNN's primitives "
           "(LRE_CPU_GEMM=onednn), and the default table; speed-ups against the loops "
           "(batch norm's backward is the loops' in every column)\n", REPS);
    printf("%-36s %-8s %8s %8s %8s %8s %8s\n", "shape", "pass", "loops", "onednn", "table",
           "onednn", "table");
    int rc = 0;
    for (int si = 0; si < NSHAPES && !rc; si++) {
        job jobs[NCTX];
        int ok = 1;
        for (int i = 0; i < NCTX; i++) {
            jobs[i] = (job){.s = &SHAPES[si], .ctx = ctx[i]};
            ok &= job_init(&jobs[i]);
        }
        if (!ok) {
            fprintf(stderr, "bench_norm: out of memory\n");
            rc = 1;
        }
        for (int op = 0; op < NOPS && !rc; op++) {
            double t[NCTX];
            if (measure(jobs, op, secs, t)) {
                fprintf(stderr, "bench_norm: %s: %s\n", SHAPES[si].what, lre_ctx_error(ctx[1]));
                rc = 1;
                break;
            }
            printf("%-36s %-8s %8.3f %8.3f %8.3f %7.2fx %7.2fx\n", SHAPES[si].what,
                   op == 0 ? "forward" : "backward", 1e3 * t[0], 1e3 * t[1], 1e3 * t[2],
                   t[0] / t[1], t[0] / t[2]);
        }
        for (int i = 0; i < NCTX; i++) job_free(&jobs[i]);
    }
    for (int i = 0; i < NCTX; i++) lre_ctx_release(ctx[i]);
    return rc;
}
