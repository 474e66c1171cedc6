/*
 * test_precision.c — the trainer's matmul precision (lre_trainer_opts.
 * precision): fp32, tf32 or bf16, with fp32 where the device lacks the one
 * asked for.
 *
 *   - names, the default (fp32), a bad value refused with a message naming
 *     it and the valid ones;
 *   - on every device: the trainer reports the requested and the effective
 *     precision (the CPU runs fp32 for all three; CUDA runs tf32/bf16 on
 *     compute capability 8.0+, else fp32); every precision steps, evaluates
 *     and measures accuracy with finite results; where the effective
 *     precision is fp32 the losses equal the fp32 trainer's bit for bit;
 *     where it is reduced they stay close to them; an fp32 trainer stepped
 *     in turn with a trainer of another precision in the same context gives
 *     the very losses of an fp32 trainer alone (each call sets its own
 *     precision);
 *   - the core (CPU, through a copy of the CPU table with a counting
 *     set_precision): lre_ctx_use_precision calls the backend only when
 *     the precision changes, reports what the backend does, passes a
 *     failure on and forgets the cached mode then, reports fp32 without a
 *     set_precision entry; lre_trainer_step, _evaluate and _accuracy each
 *     set their trainer's precision before their GEMMs.
 */
#include <string.h>

#include "check.h"
#include "core/core.h"

static const int64_t SIZES[] = {6, 16, 16, 3};
#define N_SIZES 4
#define ROWS 96
#define STEPS 6

static lre_trainer *make_trainer(lre_ctx *ctx, lre_dataset *d, lre_precision p)
{
    lre_model *m = chk_mlp(ctx, SIZES, N_SIZES, LRE_ACT_RELU, 0);
    lre_trainer_opts o = lre_trainer_opts_default();
    o.batch_size = 16;
    o.seed = 7;
    o.precision = p;
    lre_trainer *t = chk_trainer(ctx, m, d, &o);
    lre_model_release(m);
    return t;
}

/* ------------------------------------------------------------- the API */

static void test_names_and_default(void)
{
    CHECK(strcmp(lre_precision_name(LRE_PRECISION_FP32), "fp32") == 0 &&
              strcmp(lre_precision_name(LRE_PRECISION_TF32), "tf32") == 0 &&
              strcmp(lre_precision_name(LRE_PRECISION_BF16), "bf16") == 0,
          "precision names: fp32, tf32, bf16", "%s %s %s", lre_precision_name(LRE_PRECISION_FP32),
          lre_precision_name(LRE_PRECISION_TF32), lre_precision_name(LRE_PRECISION_BF16));
    CHECK(strcmp(lre_precision_name(LRE_PRECISION_COUNT), "unknown") == 0 &&
              strcmp(lre_precision_name((lre_precision)-1), "unknown") == 0,
          "a value outside the enum is named unknown", "%s",
          lre_precision_name(LRE_PRECISION_COUNT));
    lre_trainer_opts o = lre_trainer_opts_default();
    CHECK(o.precision == LRE_PRECISION_FP32, "the default precision is fp32", "%d",
          (int)o.precision);
}

static void test_bad_value(lre_ctx *ctx, lre_dataset *d)
{
    lre_model *m = chk_mlp(ctx, SIZES, N_SIZES, LRE_ACT_RELU, 0);
    static const int bad[] = {3, 7, -1};
    for (int i = 0; i < 3; i++) {
        lre_trainer_opts o = lre_trainer_opts_default();
        o.precision = (lre_precision)bad[i];
        static char sentinel;
        lre_trainer *t = (lre_trainer *)(void *)&sentinel; /* must be reset to NULL */
        char val[16];
        snprintf(val, sizeof val, "precision %d", bad[i]);
        chk_err(ctx, lre_trainer_new(ctx, &t, m, d, &o), LRE_EINVAL,
                chk_name("precision %d is refused, naming it and the valid ones", bad[i]), val,
                "fp32", "tf32", "bf16", NULL);
        CHECK(t == NULL, chk_name("no trainer for precision %d", bad[i]), "%p", (void *)t);
    }
    lre_precision got = LRE_PRECISION_BF16;
    chk_err(ctx, lre_ctx_use_precision(ctx, (lre_precision)9, &got), LRE_EINVAL,
            "the core refuses an unknown precision", "unknown precision 9", NULL);
    lre_model_release(m);
}

/* --------------------------------------------------------- per device */

/* The losses of STEPS steps, then evaluate and accuracy. */
static int run(lre_ctx *ctx, lre_trainer *t, lre_dataset *d, float *losses, float *eval,
               double *acc)
{
    for (int i = 0; i < STEPS; i++)
        if (lre_trainer_step(t, 1e-2, &losses[i]) != LRE_OK) return 0;
    if (lre_trainer_evaluate(t, d, eval) != LRE_OK) return 0;
    if (lre_trainer_accuracy(t, d, acc) != LRE_OK) return 0;
    (void)ctx;
    return 1;
}

static int all_finite(const float *x, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

static void test_device(lre_ctx *ctx, lre_device dev, lre_dataset *d)
{
    float ref[STEPS], ref_eval;
    double ref_acc;
    lre_trainer *t32 = make_trainer(ctx, d, LRE_PRECISION_FP32);
    chk_ok(ctx, run(ctx, t32, d, ref, &ref_eval, &ref_acc) ? LRE_OK : LRE_EDEVICE,
           "fp32: steps, evaluate and accuracy");
    lre_trainer_release(t32);

    for (int p = 0; p < LRE_PRECISION_COUNT; p++) {
        const char *pn = lre_precision_name((lre_precision)p);
        lre_trainer *t = make_trainer(ctx, d, (lre_precision)p);
        lre_precision req = LRE_PRECISION_COUNT;
        lre_precision eff = lre_trainer_precision(t, &req);
        CHECK(req == (lre_precision)p, chk_name("%s: the trainer reports it as requested", pn),
              "requested %s", lre_precision_name(req));
        CHECK(lre_trainer_precision(t, NULL) == eff,
              chk_name("%s: requested may be NULL", pn), "differs");
        /* fp32 is always itself; a CPU has no TF32; bf16 runs on a CPU
         * with oneDNN and AMX or AVX512-BF16, else fp32 */
        int only_fp32 = p == LRE_PRECISION_FP32 ||
                        (dev == LRE_DEVICE_CPU && p == LRE_PRECISION_TF32);
        int eff_ok = only_fp32 ? eff == LRE_PRECISION_FP32
                               : eff == (lre_precision)p || eff == LRE_PRECISION_FP32;
        CHECK(eff_ok,
              chk_name("%s: effective precision %s", pn, only_fp32 ? "fp32" : "itself, or fp32"),
              "effective %s", lre_precision_name(eff));
        printf("# %s: %s requested, %s effective\n", lre_device_name(dev), pn,
               lre_precision_name(eff));

        float l[STEPS], ev;
        double acc;
        int ok = run(ctx, t, d, l, &ev, &acc);
        chk_ok(ctx, ok ? LRE_OK : LRE_EDEVICE, chk_name("%s: steps, evaluate and accuracy", pn));
        if (ok) {
            CHECK(all_finite(l, STEPS) && isfinite(ev) && acc >= 0 && acc <= 1,
                  chk_name("%s: finite losses", pn), "eval %g acc %g", (double)ev, acc);
            if (eff == LRE_PRECISION_FP32) {
                CHECK(memcmp(l, ref, sizeof l) == 0 && ev == ref_eval && acc == ref_acc,
                      chk_name("%s run as fp32 equals the fp32 trainer bit for bit", pn),
                      "step 1 %.9g vs %.9g, eval %.9g vs %.9g", (double)l[0], (double)ref[0],
                      (double)ev, (double)ref_eval);
            } else {
                /* bf16 keeps 8 significant bits, tf32 11: a few percent at most
                 * on losses of order 1 over a few small steps */
                double worst = 0;
                for (int i = 0; i < STEPS; i++) {
                    double e = fabs((double)l[i] - ref[i]) / fabs((double)ref[i]);
                    if (e > worst) worst = e;
                }
                double tol = p == LRE_PRECISION_BF16 ? 5e-2 : 1e-2;
                CHECK(worst <= tol && fabs((double)ev - ref_eval) <= tol * fabs((double)ref_eval),
                      chk_name("%s: losses within %g (relative) of fp32", pn, tol),
                      "worst step %.3g, eval %.9g vs %.9g", worst, (double)ev,
                      (double)ref_eval);
            }
        }
        lre_trainer_release(t);
    }

    /* two trainers of one context, stepped in turn: each call sets its own
     * precision, so the fp32 one gives the fp32 losses whatever ran between */
    for (int p = LRE_PRECISION_TF32; p < LRE_PRECISION_COUNT; p++) {
        const char *pn = lre_precision_name((lre_precision)p);
        lre_trainer *a = make_trainer(ctx, d, LRE_PRECISION_FP32);
        lre_trainer *b = make_trainer(ctx, d, (lre_precision)p);
        float la[STEPS], lb, ea;
        double acc;
        int ok = 1;
        for (int i = 0; i < STEPS && ok; i++)
            ok = lre_trainer_step(b, 1e-2, &lb) == LRE_OK &&
                 lre_trainer_step(a, 1e-2, &la[i]) == LRE_OK &&
                 lre_trainer_evaluate(b, d, &lb) == LRE_OK;
        ok = ok && lre_trainer_accuracy(b, d, &acc) == LRE_OK &&
             lre_trainer_evaluate(a, d, &ea) == LRE_OK;
        CHECK(ok && memcmp(la, ref, sizeof la) == 0 && ea == ref_eval,
              chk_name("fp32 and %s trainers in turn: the fp32 one gives the fp32 losses", pn),
              "ok %d, step 1 %.9g vs %.9g, eval %.9g vs %.9g: \"%s\"", ok, (double)la[0],
              (double)ref[0], (double)ea, (double)ref_eval, chk_msg(ctx));
        lre_trainer_release(a);
        lre_trainer_release(b);
    }
}

/* ------------------------------------------------- the core, counted */

static struct {
    int calls, fail_next;
    lre_precision current;
    lre_precision supported_max; /* pretend the device does up to this one */
} fake;

static lre_status fake_set_precision(void *state, lre_precision want, lre_precision *got)
{
    (void)state;
    fake.calls++;
    if (fake.fail_next) {
        fake.fail_next = 0;
        return LRE_EDEVICE;
    }
    fake.current = want <= fake.supported_max ? want : LRE_PRECISION_FP32;
    *got = fake.current;
    return LRE_OK;
}

static void test_core_cache(void)
{
    lre_ctx *ctx = chk_ctx(3);
    const lre_backend *real = ctx->be;
    lre_backend counted = *real;
    counted.set_precision = fake_set_precision;
    ctx->be = &counted;
    fake.supported_max = LRE_PRECISION_TF32;
    lre_precision got = LRE_PRECISION_COUNT;

    chk_ok(ctx, lre_ctx_use_precision(ctx, LRE_PRECISION_TF32, &got), "use_precision tf32");
    CHECK(got == LRE_PRECISION_TF32 && fake.calls == 1,
          "the first call asks the backend and reports what it does", "got %s, %d calls",
          lre_precision_name(got), fake.calls);
    for (int i = 0; i < 5; i++) lre_ctx_use_precision(ctx, LRE_PRECISION_TF32, &got);
    CHECK(got == LRE_PRECISION_TF32 && fake.calls == 1,
          "the same precision again costs no backend call", "got %s, %d calls",
          lre_precision_name(got), fake.calls);
    lre_ctx_use_precision(ctx, LRE_PRECISION_BF16, &got);
    CHECK(got == LRE_PRECISION_FP32 && fake.calls == 2,
          "one the backend lacks: asked once, fp32 reported", "got %s, %d calls",
          lre_precision_name(got), fake.calls);
    lre_ctx_use_precision(ctx, LRE_PRECISION_BF16, &got);
    CHECK(got == LRE_PRECISION_FP32 && fake.calls == 2, "... and cached as fp32",
          "got %s, %d calls", lre_precision_name(got), fake.calls);
    fake.fail_next = 1;
    lre_status s = lre_ctx_use_precision(ctx, LRE_PRECISION_TF32, &got);
    CHECK(s == LRE_EDEVICE && fake.calls == 3, "a backend failure is passed on",
          "status %d, %d calls", (int)s, fake.calls);
    lre_ctx_use_precision(ctx, LRE_PRECISION_TF32, &got);
    CHECK(got == LRE_PRECISION_TF32 && fake.calls == 4,
          "after a failure the next call asks the backend again", "got %s, %d calls",
          lre_precision_name(got), fake.calls);

    /* the trainer: step, evaluate and accuracy set their own precision */
    chk_rng r = {11};
    lre_dataset *d = chk_random_dataset(ctx, &r, ROWS, SIZES[0], SIZES[N_SIZES - 1]);
    lre_trainer *a = make_trainer(ctx, d, LRE_PRECISION_TF32);
    lre_trainer *b = make_trainer(ctx, d, LRE_PRECISION_FP32);
    lre_trainer *c = make_trainer(ctx, d, LRE_PRECISION_BF16);
    lre_precision req;
    CHECK(lre_trainer_precision(a, &req) == LRE_PRECISION_TF32 && req == LRE_PRECISION_TF32 &&
              lre_trainer_precision(c, &req) == LRE_PRECISION_FP32 && req == LRE_PRECISION_BF16,
          "trainers learn the effective precision from the backend", "c: %s",
          lre_precision_name(lre_trainer_precision(c, NULL)));
    float l;
    double acc;
    chk_ok(ctx, lre_trainer_step(a, 1e-3, &l), "step (tf32 trainer)");
    CHECK(fake.current == LRE_PRECISION_TF32, "step sets its trainer's precision", "%s",
          lre_precision_name(fake.current));
    int calls = fake.calls;
    for (int i = 0; i < 4; i++) lre_trainer_step(a, 1e-3, &l);
    lre_trainer_evaluate(a, d, &l);
    CHECK(fake.calls == calls, "steps and evaluate of one trainer in a row cost no backend call",
          "%d calls more", fake.calls - calls);
    chk_ok(ctx, lre_trainer_evaluate(b, d, &l), "evaluate (fp32 trainer)");
    CHECK(fake.current == LRE_PRECISION_FP32, "evaluate sets its trainer's precision", "%s",
          lre_precision_name(fake.current));
    chk_ok(ctx, lre_trainer_accuracy(a, d, &acc), "accuracy (tf32 trainer)");
    CHECK(fake.current == LRE_PRECISION_TF32, "accuracy sets its trainer's precision", "%s",
          lre_precision_name(fake.current));
    chk_ok(ctx, lre_trainer_step(c, 1e-3, &l), "step (bf16 trainer, effective fp32)");
    CHECK(fake.current == LRE_PRECISION_FP32, "a trainer run as fp32 sets fp32", "%s",
          lre_precision_name(fake.current));
    lre_trainer_release(a);
    lre_trainer_release(b);
    lre_trainer_release(c);
    lre_dataset_release(d);

    /* a backend without the entry runs fp32 only */
    counted.set_precision = NULL;
    ctx->prec_valid = 0;
    calls = fake.calls;
    for (int p = 0; p < LRE_PRECISION_COUNT; p++) {
        got = LRE_PRECISION_COUNT;
        chk_ok(ctx, lre_ctx_use_precision(ctx, (lre_precision)p, &got),
               chk_name("no set_precision: %s accepted", lre_precision_name((lre_precision)p)));
        CHECK(got == LRE_PRECISION_FP32,
              chk_name("no set_precision: %s runs as fp32", lre_precision_name((lre_precision)p)),
              "got %s", lre_precision_name(got));
    }
    CHECK(fake.calls == calls, "no set_precision: nothing called", "%d", fake.calls - calls);
    ctx->be = real;
    CHECK(lre_ctx_bytes_live(ctx) == 0, "core: every allocation released", "%llu bytes live",
          (unsigned long long)lre_ctx_bytes_live(ctx));
    lre_ctx_release(ctx);
}

int main(void)
{
    test_names_and_default();
    test_core_cache();
    CHK_FOR_EACH_DEVICE(dev) {
        lre_ctx *ctx = chk_ctx_on(dev, 1);
        chk_rng r = {5};
        lre_dataset *d = chk_random_dataset(ctx, &r, ROWS, SIZES[0], SIZES[N_SIZES - 1]);
        test_bad_value(ctx, d);
        test_device(ctx, dev, d);
        lre_dataset_release(d);
        CHECK(lre_ctx_bytes_live(ctx) == 0, "every allocation released", "%llu bytes live",
              (unsigned long long)lre_ctx_bytes_live(ctx));
        lre_ctx_release(ctx);
    }
    return chk_done("test_precision");
}
