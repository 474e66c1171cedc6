/*
 * bench_core.c — the engine's step cost against the BLAS it stands on (a
 * report, not a test; `make bench` runs it).
 *
 * The reference MLP 784-256-256-10 (ReLU), batch 128, Adam, random data
 * (features uniform in [0,1), labels in [0,10)). It times
 * lre_trainer_step, and in the same run cblas_sgemm on exactly the shapes
 * and transposes of the step's matmuls — per linear layer (in,out):
 *     forward  y (B,out)  = x (B,in) · W (out,in)^T     NoTrans, Trans
 *     backward dx (B,in)  = dy (B,out) · W (out,in)     NoTrans, NoTrans
 *     backward dW (out,in) = dy^T (out,B) · x (B,in)    Trans,   NoTrans
 * and reports both as GFLOP/s over the same count, 6·B·Σ in·out (2 flops
 * per multiply-add × forward + 2 backward), so "% of GEMM" is the share of
 * the step that is matrix multiplication at BLAS speed (target: 70%). The
 * engine skips the first layer's dx (nothing needs it); the pure-GEMM figure
 * of the shapes it really runs is printed too.
 * Every figure is the median of several repetitions of at least
 * `seconds` each (CLOCK_MONOTONIC); the step and GEMM repetitions are
 * interleaved so a shared machine's changing load hits both alike, and the
 * percentage is the median of the per-repetition ratios. Also the time of
 * lre_trainer_evaluate on 10,000 rows.
 *
 *     bench_core [seconds_per_repetition (default 1)] [repetitions (default 5)]
 */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lrengine.h"

enum { BATCH = 128, NL = 3, MAXREP = 21 };
static const int64_t SIZES[NL + 1] = {784, 256, 256, 10};

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

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void fill(float *x, int64_t n, uint64_t *s)
{
    for (int64_t i = 0; i < n; i++) x[i] = (float)((double)(mix(s) >> 40) * 0x1.0p-24);
}

static int die(lre_ctx *ctx, lre_status s, const char *what)
{
    fprintf(stderr, "bench_core: %s: %s: %s\n", what, lre_status_string(s),
            ctx ? lre_ctx_error(ctx) : "");
    return 1;
}

static lre_status random_dataset(lre_ctx *ctx, lre_dataset **out, int64_t n, uint64_t seed)
{
    float *x = malloc(sizeof(float) * (size_t)(n * SIZES[0]));
    int32_t *y = malloc(sizeof(int32_t) * (size_t)n);
    if (!x || !y) {
        free(x);
        free(y);
        return LRE_ENOMEM;
    }
    fill(x, n * SIZES[0], &seed);
    for (int64_t i = 0; i < n; i++) y[i] = (int32_t)(mix(&seed) % 10);
    lre_status s = lre_dataset_from_arrays_classes(ctx, out, n, SIZES[0], x, y, 10);
    free(x);
    free(y);
    return s;
}

/* The step's GEMMs on host buffers; with_dx0: include the first layer's dx. */
typedef struct gemm_set {
    float *x[NL], *w[NL], *y[NL], *dy[NL], *dx[NL], *dw[NL];
} gemm_set;

static void run_gemms(gemm_set *g, int with_dx0)
{
    for (int l = 0; l < NL; l++) {
        const int in = (int)SIZES[l], out = (int)SIZES[l + 1];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BATCH, out, in, 1.0f, g->x[l], in,
                    g->w[l], in, 0.0f, g->y[l], out);
    }
    for (int l = NL - 1; l >= 0; l--) {
        const int in = (int)SIZES[l], out = (int)SIZES[l + 1];
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, BATCH, 1.0f, g->dy[l], out,
                    g->x[l], in, 0.0f, g->dw[l], in);
        if (l > 0 || with_dx0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BATCH, in, out, 1.0f, g->dy[l],
                        out, g->w[l], in, 0.0f, g->dx[l], in);
    }
}

/* A timed workload: fn is called `calls` times per repetition. */
typedef int (*bench_fn)(void *ud);

typedef struct bench_item {
    bench_fn fn;
    void *ud;
    long calls;       /* per repetition, calibrated to >= secs */
    double t[MAXREP]; /* seconds per call, each repetition */
} bench_item;

static int calibrate(bench_item *it, double secs)
{
    double t0 = now();
    long n = 0;
    while (now() - t0 < 0.05 || n < 3) {
        if (it->fn(it->ud)) return 1;
        n++;
    }
    double one = (now() - t0) / (double)n;
    it->calls = (long)ceil(secs / one);
    if (it->calls < 3) it->calls = 3;
    return 0;
}

static int run_rep(bench_item *it, int r)
{
    double a = now();
    for (long i = 0; i < it->calls; i++)
        if (it->fn(it->ud)) return 1;
    it->t[r] = (now() - a) / (double)it->calls;
    return 0;
}

/* Repetitions of the items interleaved (item 0, 1, ..., then again), so
 * that a change of machine load between repetitions hits all of them. */
static int time_items(bench_item *items, int n, double secs, int reps)
{
    for (int i = 0; i < n; i++)
        if (calibrate(&items[i], secs)) return 1;
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < n; i++)
            if (run_rep(&items[i], r)) return 1;
    return 0;
}

static double med_of(const bench_item *it, int reps)
{
    double v[MAXREP];
    memcpy(v, it->t, sizeof(double) * (size_t)reps);
    return median(v, reps);
}

typedef struct step_ud {
    lre_trainer *t;
    lre_dataset *eval;
    float loss;
    lre_status st;
} step_ud;

static int do_step(void *ud)
{
    step_ud *s = ud;
    /* a small lr keeps the random-label problem from blowing up */
    s->st = lre_trainer_step(s->t, 1e-4f, &s->loss);
    return s->st != LRE_OK;
}

static int do_eval(void *ud)
{
    step_ud *s = ud;
    s->st = lre_trainer_evaluate(s->t, s->eval, &s->loss);
    return s->st != LRE_OK;
}

/* The step's GEMMs through the engine (lre_matmul: whichever provider and
 * precision the context runs), on tensors of the same shapes. */
typedef struct engine_gemms {
    lre_ctx *ctx;
    lre_tensor *x[NL], *w[NL], *y[NL], *dy[NL], *dx[NL], *dw[NL];
    lre_status st;
} engine_gemms;

static int run_engine_gemms(void *ud)
{
    engine_gemms *e = ud;
    for (int l = 0; l < NL && !e->st; l++) /* y = x w^T */
        e->st = lre_matmul(e->ctx, e->y[l], e->x[l], 0, e->w[l], 1, 0.0f);
    for (int l = NL - 1; l >= 0 && !e->st; l--) {
        e->st = lre_matmul(e->ctx, e->dw[l], e->dy[l], 1, e->x[l], 0, 0.0f); /* dy^T x */
        if (!e->st && l > 0) e->st = lre_matmul(e->ctx, e->dx[l], e->dy[l], 0, e->w[l], 0, 0.0f);
    }
    return e->st != LRE_OK;
}

/* An evaluate chunk's forward GEMMs (y = x w^T on EVAL_ROWS rows, each
 * layer) through the engine: the matmul rate lre_trainer_evaluate is
 * measured against. */
#define EVAL_ROWS 512
typedef struct eval_gemms {
    lre_ctx *ctx;
    lre_tensor *x[NL], *w[NL], *y[NL];
    lre_status st;
} eval_gemms;

static int run_eval_gemms(void *ud)
{
    eval_gemms *e = ud;
    for (int l = 0; l < NL && !e->st; l++)
        e->st = lre_matmul(e->ctx, e->y[l], e->x[l], 0, e->w[l], 1, 0.0f);
    return e->st != LRE_OK;
}

typedef struct gemm_ud {
    gemm_set *g;
    int with_dx0;
} gemm_ud;

static int do_gemm(void *ud)
{
    gemm_ud *u = ud;
    run_gemms(u->g, u->with_dx0);
    return 0;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    if (!(secs > 0) || reps < 1 || reps > MAXREP) {
        fprintf(stderr, "usage: bench_core [seconds_per_repetition > 0] [repetitions 1..%d]\n",
                MAXREP);
        return 2;
    }

    lre_ctx *ctx = NULL;
    char err[256] = "";
    lre_status s = lre_ctx_new_err(&ctx, NULL, err, sizeof err);
    if (s) {
        fprintf(stderr, "bench_core: lre_ctx_new: %s\n", err);
        return 1;
    }

    double macs = 0;
    for (int l = 0; l < NL; l++) macs += (double)SIZES[l] * (double)SIZES[l + 1];
    const double flops = 6.0 * BATCH * macs;
    const double flops_engine = flops - 2.0 * BATCH * (double)SIZES[0] * (double)SIZES[1];

    printf("lrengine %s, bench_core: MLP 784-256-256-10 (relu), batch %d, Adam, random data\n",
           lre_version(), BATCH);
    printf("OpenBLAS: %d threads (%s)\n", openblas_get_num_threads(), openblas_get_config());
    printf("flop count per step: 6 x B x sum(in*out) = %.1f MFLOP\n", flops * 1e-6);
    printf("timing: median of %d repetitions of >= %.2g s each\n", reps, secs);

    lre_dataset *train = NULL, *eval = NULL;
    lre_model *m = NULL;
    lre_trainer *t = NULL;
    if ((s = random_dataset(ctx, &train, 8192, 1))) return die(ctx, s, "training data");
    if ((s = random_dataset(ctx, &eval, 10000, 2))) return die(ctx, s, "evaluation data");
    if ((s = lre_model_new(ctx, &m))) return die(ctx, s, "model");
    for (int l = 0; l < NL; l++) {
        if ((s = lre_model_add_linear(m, SIZES[l], SIZES[l + 1]))) return die(ctx, s, "linear");
        if (l + 1 < NL && (s = lre_model_add_act(m, LRE_ACT_RELU, 0))) return die(ctx, s, "relu");
    }
    lre_trainer_opts o = lre_trainer_opts_default();
    o.optim = lre_optim_adam_default();
    o.batch_size = BATCH;
    o.seed = 1;
    const char *prec = getenv("LRE_BENCH_PRECISION");
    if (prec && strcmp(prec, "bf16") == 0) o.precision = LRE_PRECISION_BF16;
    if ((s = lre_trainer_new(ctx, &t, m, train, &o))) return die(ctx, s, "trainer");
    lre_precision req, eff = lre_trainer_precision(t, &req);
    const char *prov = getenv("LRE_CPU_GEMM");
    printf("GEMM provider: %s; precision %s (asked %s)\n",
           prov && *prov ? prov : "the fixed table (oneDNN where built, else OpenBLAS)",
           lre_precision_name(eff), lre_precision_name(req));

    /* warm-up: first-step allocation, caches, BLAS threads */
    step_ud su = {t, eval, 0, LRE_OK};
    for (int i = 0; i < 20; i++)
        if (do_step(&su)) return die(ctx, su.st, "step");

    /* the same shapes through cblas_sgemm */
    gemm_set g;
    uint64_t seed = 3;
    for (int l = 0; l < NL; l++) {
        size_t in = (size_t)SIZES[l], out = (size_t)SIZES[l + 1];
        g.x[l] = malloc(sizeof(float) * BATCH * in);
        g.dx[l] = malloc(sizeof(float) * BATCH * in);
        g.w[l] = malloc(sizeof(float) * out * in);
        g.dw[l] = malloc(sizeof(float) * out * in);
        g.y[l] = malloc(sizeof(float) * BATCH * out);
        g.dy[l] = malloc(sizeof(float) * BATCH * out);
        if (!g.x[l] || !g.dx[l] || !g.w[l] || !g.dw[l] || !g.y[l] || !g.dy[l]) {
            fprintf(stderr, "bench_core: out of memory\n");
            return 1;
        }
        fill(g.x[l], (int64_t)(BATCH * in), &seed);
        fill(g.w[l], (int64_t)(out * in), &seed);
        fill(g.dy[l], (int64_t)(BATCH * out), &seed);
    }
    gemm_ud all = {&g, 1}, engine_set = {&g, 0};
    for (int i = 0; i < 20; i++) run_gemms(&g, 1);
    engine_gemms eg = {ctx, {0}, {0}, {0}, {0}, {0}, {0}, LRE_OK};
    for (int l = 0; l < NL; l++) {
        int64_t in = SIZES[l], out = SIZES[l + 1];
        int64_t bi[2] = {BATCH, in}, oi[2] = {out, in}, bo[2] = {BATCH, out};
        if ((s = lre_tensor_new(ctx, &eg.x[l], LRE_F32, 2, bi)) ||
            (s = lre_tensor_new(ctx, &eg.dx[l], LRE_F32, 2, bi)) ||
            (s = lre_tensor_new(ctx, &eg.w[l], LRE_F32, 2, oi)) ||
            (s = lre_tensor_new(ctx, &eg.dw[l], LRE_F32, 2, oi)) ||
            (s = lre_tensor_new(ctx, &eg.y[l], LRE_F32, 2, bo)) ||
            (s = lre_tensor_new(ctx, &eg.dy[l], LRE_F32, 2, bo)) ||
            (s = lre_tensor_from_host(eg.x[l], g.x[l], sizeof(float) * (size_t)(BATCH * in))) ||
            (s = lre_tensor_from_host(eg.w[l], g.w[l], sizeof(float) * (size_t)(out * in))) ||
            (s = lre_tensor_from_host(eg.dy[l], g.dy[l], sizeof(float) * (size_t)(BATCH * out))))
            return die(ctx, s, "GEMM tensors");
    }
    for (int i = 0; i < 20; i++)
        if (run_engine_gemms(&eg)) return die(ctx, eg.st, "lre_matmul");
    eval_gemms evg = {ctx, {0}, {0}, {0}, LRE_OK};
    for (int l = 0; l < NL; l++) {
        int64_t bi[2] = {EVAL_ROWS, SIZES[l]}, oi[2] = {SIZES[l + 1], SIZES[l]},
                bo[2] = {EVAL_ROWS, SIZES[l + 1]};
        if ((s = lre_tensor_new(ctx, &evg.x[l], LRE_F32, 2, bi)) ||
            (s = lre_tensor_new(ctx, &evg.w[l], LRE_F32, 2, oi)) ||
            (s = lre_tensor_new(ctx, &evg.y[l], LRE_F32, 2, bo)) ||
            (s = lre_tensor_from_host(evg.w[l], g.w[l], sizeof(float) * (size_t)(bo[1] * bi[1]))))
            return die(ctx, s, "evaluate GEMM tensors");
    }
    for (int i = 0; i < 20; i++)
        if (run_eval_gemms(&evg)) return die(ctx, evg.st, "lre_matmul (evaluate shapes)");

    bench_item items[4] = {{do_step, &su, 0, {0}},
                           {do_gemm, &all, 0, {0}},
                           {do_gemm, &engine_set, 0, {0}},
                           {run_engine_gemms, &eg, 0, {0}}};
    bench_item ev[2] = {{do_eval, &su, 0, {0}}, {run_eval_gemms, &evg, 0, {0}}};
    if (time_items(items, 4, secs, reps)) return die(ctx, su.st ? su.st : eg.st, "step");
    if (time_items(ev, 2, secs, reps)) return die(ctx, su.st ? su.st : evg.st, "evaluate");
    double t_step = med_of(&items[0], reps), t_gemm = med_of(&items[1], reps);
    double t_gemm_engine = med_of(&items[2], reps), t_eval = med_of(&ev[0], reps);
    /* evaluate's rate over its forward GEMMs' rate, per repetition */
    double ev_ratios[MAXREP];
    for (int r = 0; r < reps; r++)
        ev_ratios[r] = (ev[1].t[r] / EVAL_ROWS) / (ev[0].t[r] / 10000.0);
    const double ev_share = median(ev_ratios, reps);
    const double t_ev_mm = med_of(&ev[1], reps);
    double t_mm = med_of(&items[3], reps);
    double mm_ratios[MAXREP];
    for (int r = 0; r < reps; r++) mm_ratios[r] = items[3].t[r] / items[0].t[r];
    double mm_ratio = median(mm_ratios, reps);
    long n_step = items[0].calls, n_gemm = items[1].calls;
    double ratios[MAXREP];
    for (int r = 0; r < reps; r++) ratios[r] = items[1].t[r] / items[0].t[r];
    double ratio = median(ratios, reps);
    double spread_lo = 1e30, spread_hi = 0;
    for (int r = 0; r < reps; r++) {
        spread_lo = fmin(spread_lo, items[0].t[r]);
        spread_hi = fmax(spread_hi, items[0].t[r]);
    }

    double gf_step = flops / t_step * 1e-9, gf_gemm = flops / t_gemm * 1e-9;
    double pct = 100.0 * ratio;
    printf("\n");
    printf("lre_trainer_step        %8.3f ms/step  %7.1f GFLOP/s   (%ld steps per repetition; "
           "repetitions %.3f..%.3f ms)\n",
           t_step * 1e3, gf_step, n_step, spread_lo * 1e3, spread_hi * 1e3);
    printf("cblas_sgemm, same 9 GEMMs %6.3f ms/step  %7.1f GFLOP/s   (%ld per repetition)\n",
           t_gemm * 1e3, gf_gemm, n_gemm);
    printf("step / pure GEMM        %8.1f %%          (median over repetitions of GEMM time / step "
           "time; target >= 70%%: %s)\n",
           pct, pct >= 70 ? "met" : "NOT met");
    printf("cblas_sgemm, the 8 GEMMs the engine runs (no first-layer dx): %.3f ms, %.1f GFLOP/s "
           "of %.1f MFLOP; non-GEMM share of the step %.1f%%\n",
           t_gemm_engine * 1e3, flops_engine / t_gemm_engine * 1e-9, flops_engine * 1e-6,
           100.0 * (1 - t_gemm_engine / t_step));
    printf("lre_matmul, the engine's 8 GEMMs through the provider in use: %.3f ms, %.1f "
           "GFLOP/s; the step at %.1f%% of it (median of per-repetition ratios)\n",
           t_mm * 1e3, flops_engine / t_mm * 1e-9, 100.0 * mm_ratio);
    printf(
        "lre_trainer_evaluate    %8.3f ms per 10,000 rows  (%.0f rows/s, %.1f GFLOP/s forward)\n",
        t_eval * 1e3, 10000 / t_eval, 2.0 * 10000 * macs / t_eval * 1e-9);
    printf("lre_matmul, its forward GEMMs on %d-row chunks: %.1f GFLOP/s; evaluate at %.1f%% of "
           "that rate (bias, ReLU, loss, gather and bf16 rounding included; median of "
           "per-repetition ratios)\n",
           EVAL_ROWS, 2.0 * EVAL_ROWS * macs / t_ev_mm * 1e-9, 100.0 * ev_share);
    printf("last step loss %.4f (random labels: about ln 10 = 2.303)\n", (double)su.loss);

    for (int l = 0; l < NL; l++) {
        free(g.x[l]);
        free(g.dx[l]);
        free(g.w[l]);
        free(g.dw[l]);
        free(g.y[l]);
        free(g.dy[l]);
    }
    for (int l = 0; l < NL; l++) {
        lre_tensor_release(eg.x[l]);
        lre_tensor_release(eg.dx[l]);
        lre_tensor_release(eg.w[l]);
        lre_tensor_release(eg.dw[l]);
        lre_tensor_release(eg.y[l]);
        lre_tensor_release(eg.dy[l]);
        lre_tensor_release(evg.x[l]);
        lre_tensor_release(evg.w[l]);
        lre_tensor_release(evg.y[l]);
    }
    lre_trainer_release(t);
    lre_model_release(m);
    lre_dataset_release(train);
    lre_dataset_release(eval);
    lre_ctx_release(ctx);
    return 0;
}
