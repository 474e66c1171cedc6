/*
 * test_snapshot.c — in-memory snapshot/restore (lre_trainer_snapshot,
 * lre_trainer_restore). Disk save/load is test_safetensors.c's.
 *
 * The promise is bit-for-bit continuation on every device: run k steps,
 * snapshot, run 9 more recording losses and parameters, restore, run the
 * same 9 again — losses and parameters must be memcmp-equal, for every
 * optimizer (their moments and step count are state), with shuffling and
 * accumulation (the batch order and cursor are state), across an epoch
 * boundary, and restored into a second, differently initialised trainer of
 * the same architecture. Restoring into another architecture or optimizer
 * must fail with a message naming both sides, and leave the trainer as it
 * was. And the range test's pattern: snapshot, raise lr until the loss is
 * NaN/inf (returned with LRE_OK: the finder decides), restore, continue as
 * if it never happened.
 *
 * Every check runs once per device (CHK_FOR_EACH_DEVICE, check.h: "[cpu] "
 * and "[cuda] " names; parameters read through host copies). Each
 * comparison is between two runs on the same device, so each stays
 * bit-for-bit on every device (on CUDA the replayed step graph must pick
 * up the restored parameters, moments and step count).
 */
#include "check.h"

static lre_ctx *ctx;

enum { CONT = 9 };

typedef struct run_rec {
    float loss[CONT];
    float *params;
    int64_t steps, epoch, cursor;
} run_rec;

static void record(lre_trainer *t, run_rec *r, const float *lrs)
{
    for (int i = 0; i < CONT; i++) chk_must(ctx, lre_trainer_step(t, lrs[i], &r->loss[i]), "step");
    r->params = chk_params(ctx, lre_trainer_model(t));
    r->steps = lre_trainer_steps(t);
    r->epoch = lre_trainer_epoch(t);
    r->cursor = lre_trainer_cursor(t);
}

static void compare(const char *tag, const run_rec *a, const run_rec *b, int64_t np)
{
    chk_bits(chk_name("%s: the 9 losses after restore are bit-identical", tag), a->loss, b->loss,
             CONT);
    chk_bits(chk_name("%s: parameters after restore + 9 steps are bit-identical", tag), a->params,
             b->params, np);
    CHECK(a->steps == b->steps && a->epoch == b->epoch && a->cursor == b->cursor,
          chk_name("%s: steps, epoch and cursor match", tag),
          "first run %lld/%lld/%lld, after restore %lld/%lld/%lld", (long long)a->steps,
          (long long)a->epoch, (long long)a->cursor, (long long)b->steps, (long long)b->epoch,
          (long long)b->cursor);
}

typedef struct scenario {
    const char *name;
    lre_optim_config optim;
    int64_t batch;
    int accum;
    int shuffle;
    int drop_last;
    int before; /* steps before the snapshot */
} scenario;

static void run_scenario(const scenario *sc, lre_dataset *d)
{
    static const int64_t sizes[] = {5, 16, 16, 3};
    static const float lrs[CONT] = {1e-2f, 2e-2f, 5e-3f, 3e-2f, 1e-2f, 8e-3f, 2e-2f, 4e-2f, 1e-3f};
    const char *tag = sc->name;

    lre_model *m = chk_mlp(ctx, sizes, 4, LRE_ACT_RELU, 0);
    lre_trainer_opts o = lre_trainer_opts_default();
    o.optim = sc->optim;
    o.batch_size = sc->batch;
    o.accumulation_steps = sc->accum;
    o.shuffle = sc->shuffle;
    o.drop_last = sc->drop_last;
    o.seed = 17;
    lre_trainer *t = chk_trainer(ctx, m, d, &o);
    int64_t np = lre_model_num_params(m);
    float loss;
    for (int i = 0; i < sc->before; i++) chk_must(ctx, lre_trainer_step(t, 1e-2f, &loss), "step");
    int64_t ep0 = lre_trainer_epoch(t), cu0 = lre_trainer_cursor(t);

    lre_snapshot *s = NULL;
    chk_ok(ctx, lre_trainer_snapshot(t, &s), chk_name("%s: snapshot runs", tag));
    if (!s) chk_fatal(tag, "snapshot is NULL");
    CHECK(lre_snapshot_steps(s) == sc->before, chk_name("%s: lre_snapshot_steps", tag),
          "expected %d got %lld", sc->before, (long long)lre_snapshot_steps(s));

    run_rec a, b, c;
    record(t, &a, lrs);
    CHECK(a.epoch > ep0, chk_name("%s: the 9 steps cross an epoch boundary", tag),
          "epoch %lld -> %lld", (long long)ep0, (long long)a.epoch);

    chk_ok(ctx, lre_trainer_restore(t, s), chk_name("%s: restore runs", tag));
    CHECK(lre_trainer_steps(t) == sc->before && lre_trainer_epoch(t) == ep0 &&
              lre_trainer_cursor(t) == cu0,
          chk_name("%s: restore puts back steps, epoch and cursor", tag),
          "want %d/%lld/%lld got %lld/%lld/%lld", sc->before, (long long)ep0, (long long)cu0,
          (long long)lre_trainer_steps(t), (long long)lre_trainer_epoch(t),
          (long long)lre_trainer_cursor(t));
    record(t, &b, lrs);
    compare(tag, &a, &b, np);

    /* A restore is repeatable: the snapshot is not consumed. */
    chk_ok(ctx, lre_trainer_restore(t, s), chk_name("%s: second restore runs", tag));
    record(t, &c, lrs);
    compare(chk_name("%s (restored twice)", tag), &a, &c, np);
    free(c.params);

    /* Into a second trainer: same architecture and optimizer, different
     * initialisation and seed. */
    lre_model *m2 = chk_mlp(ctx, sizes, 4, LRE_ACT_RELU, 0);
    chk_must(ctx, lre_model_init(m2, 12345), "init m2");
    lre_trainer_opts o2 = o;
    o2.seed = 999;
    lre_trainer *t2 = chk_trainer(ctx, m2, d, &o2);
    for (int i = 0; i < 3; i++) chk_must(ctx, lre_trainer_step(t2, 0.1f, &loss), "step t2");
    chk_ok(ctx, lre_trainer_restore(t2, s), chk_name("%s: restore into another trainer runs", tag));
    record(t2, &c, lrs);
    compare(chk_name("%s (into another trainer)", tag), &a, &c, np);
    free(c.params);

    free(a.params);
    free(b.params);
    lre_snapshot_release(s);
    lre_trainer_release(t2);
    lre_model_release(m2);
    lre_trainer_release(t);
    lre_model_release(m);
}

static void test_continuation(void)
{
    chk_rng r = {50};
    lre_dataset *d = chk_random_dataset(ctx, &r, 50, 5, 3);
    lre_optim_config sgd = lre_optim_sgd_default(), mom = lre_optim_sgd_default(),
                     adam = lre_optim_adam_default(), adamw = lre_optim_adamw_default();
    mom.momentum = 0.9f;
    mom.nesterov = 1;
    mom.weight_decay = 1e-3f;
    adam.weight_decay = 1e-2f;
    /* 50 rows in batches of 8: 7 batches per epoch (the last of 2 rows). */
    const scenario sc[] = {
        {"Adam wd=1e-2, batch 8, shuffle, snapshot after 5", adam, 8, 1, 1, 0, 5},
        {"AdamW, batch 8, shuffle, snapshot at the epoch boundary (7)", adamw, 8, 1, 1, 0, 7},
        {"SGD nesterov, batch 8, shuffle, snapshot after 5", mom, 8, 1, 1, 0, 5},
        {"SGD plain, batch 8, no shuffle, snapshot after 5", sgd, 8, 1, 0, 0, 5},
        {"Adam, batch 6 x accumulation 3, shuffle, drop_last, snapshot after 2", adam, 6, 3, 1, 1,
         2},
        {"AdamW, snapshot before the first step", adamw, 8, 1, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof sc / sizeof sc[0]; i++) run_scenario(&sc[i], d);
    lre_dataset_release(d);
}

static void test_mismatch(void)
{
    chk_rng r = {51};
    lre_dataset *d = chk_random_dataset(ctx, &r, 30, 4, 2);
    static const int64_t s16[] = {4, 16, 2}, s8[] = {4, 8, 2};
    lre_model *ma = chk_mlp(ctx, s16, 3, LRE_ACT_RELU, 0);
    lre_model *mb = chk_mlp(ctx, s8, 3, LRE_ACT_RELU, 0);
    lre_model *mc = chk_mlp(ctx, s16, 3, LRE_ACT_TANH, 0); /* same parameter count as ma */
    lre_model *md = chk_mlp(ctx, s16, 3, LRE_ACT_RELU, 0);
    lre_trainer_opts o = lre_trainer_opts_default(); /* Adam */
    o.batch_size = 8;
    lre_trainer *ta = chk_trainer(ctx, ma, d, &o);
    lre_trainer *tb = chk_trainer(ctx, mb, d, &o);
    lre_trainer *tc = chk_trainer(ctx, mc, d, &o);
    lre_trainer_opts os = o;
    os.optim = lre_optim_sgd_default();
    lre_trainer *td = chk_trainer(ctx, md, d, &os);
    float loss;
    chk_must(ctx, lre_trainer_step(ta, 1e-2f, &loss), "step");
    chk_must(ctx, lre_trainer_step(td, 1e-2f, &loss), "step");

    char da[128], db[128], dc[128];
    lre_model_describe(ma, da, sizeof da);
    lre_model_describe(mb, db, sizeof db);
    lre_model_describe(mc, dc, sizeof dc);
    lre_snapshot *sa = NULL, *sd = NULL;
    chk_must(ctx, lre_trainer_snapshot(ta, &sa), "snapshot a");
    chk_must(ctx, lre_trainer_snapshot(td, &sd), "snapshot d");

    float *pb0 = chk_params(ctx, mb);
    int64_t st0 = lre_trainer_steps(tb);
    chk_err(ctx, lre_trainer_restore(tb, sa), LRE_OK,
            "restore 4-16-2 into 4-8-2 fails, naming both architectures", da, db, (char *)NULL);
    float *pb1 = chk_params(ctx, mb);
    chk_bits("a failed restore leaves the parameters", pb0, pb1, lre_model_num_params(mb));
    CHECK(lre_trainer_steps(tb) == st0, "a failed restore leaves the step count", "%lld -> %lld",
          (long long)st0, (long long)lre_trainer_steps(tb));
    chk_err(ctx, lre_trainer_restore(tc, sa), LRE_OK,
            "restore relu net into tanh net (same parameter count) fails, naming both", da, dc,
            (char *)NULL);
    chk_err(ctx, lre_trainer_restore(ta, sd), LRE_OK,
            "restore an SGD snapshot into an Adam trainer fails, naming both optimizers",
            lre_optim_name(LRE_OPTIM_SGD), lre_optim_name(LRE_OPTIM_ADAM), (char *)NULL);
    chk_err(ctx, lre_trainer_restore(td, sa), LRE_OK,
            "restore an Adam snapshot into an SGD trainer fails, naming both optimizers",
            lre_optim_name(LRE_OPTIM_SGD), lre_optim_name(LRE_OPTIM_ADAM), (char *)NULL);

    /* The snapshot outlives its trainer. */
    lre_trainer_release(ta);
    lre_model_release(ma);
    lre_model *me = chk_mlp(ctx, s16, 3, LRE_ACT_RELU, 0);
    lre_trainer *te = chk_trainer(ctx, me, d, &o);
    chk_ok(ctx, lre_trainer_restore(te, sa), "a snapshot outlives the trainer it came from");
    CHECK(lre_trainer_steps(te) == 1, "restored step count is the snapshot's", "steps %lld",
          (long long)lre_trainer_steps(te));

    free(pb0);
    free(pb1);
    lre_snapshot_release(sa);
    lre_snapshot_release(sd);
    lre_trainer_release(tb);
    lre_trainer_release(tc);
    lre_trainer_release(td);
    lre_trainer_release(te);
    lre_model_release(mb);
    lre_model_release(mc);
    lre_model_release(md);
    lre_model_release(me);
    lre_dataset_release(d);
}

/* The range test's own pattern: snapshot, raise lr until the loss blows up
 * (NaN or inf in every buffer), restore, continue — identical to never
 * having blown up. A non-finite loss is returned as is, not as an error. */
static void test_blow_up(void)
{
    static const int64_t sizes[] = {5, 16, 3};
    static const float lrs[CONT] = {1e-2f, 2e-2f, 5e-3f, 3e-2f, 1e-2f, 8e-3f, 2e-2f, 4e-2f, 1e-3f};
    chk_rng r = {52};
    lre_dataset *d = chk_random_dataset(ctx, &r, 40, 5, 3);
    static const lre_optim_kind kinds[] = {LRE_OPTIM_SGD, LRE_OPTIM_ADAM};
    for (int k = 0; k < 2; k++) {
        const char *on = lre_optim_name(kinds[k]);
        lre_model *m = chk_mlp(ctx, sizes, 3, LRE_ACT_RELU, 0);
        lre_trainer_opts o = lre_trainer_opts_default();
        o.optim = kinds[k] == LRE_OPTIM_SGD ? lre_optim_sgd_default() : lre_optim_adam_default();
        if (kinds[k] == LRE_OPTIM_SGD) o.optim.momentum = 0.9f;
        o.batch_size = 8;
        lre_trainer *t = chk_trainer(ctx, m, d, &o);
        float loss;
        for (int i = 0; i < 3; i++) chk_must(ctx, lre_trainer_step(t, 1e-2f, &loss), "step");
        lre_snapshot *s = NULL;
        chk_must(ctx, lre_trainer_snapshot(t, &s), "snapshot");
        run_rec a, b;
        record(t, &a, lrs);
        chk_must(ctx, lre_trainer_restore(t, s), "restore");

        int finite_steps = 0, ok = 1;
        float lr = 1e2f;
        for (int i = 0; i < 40 && ok; i++, lr *= 1e3f) {
            lre_status st = lre_trainer_step(t, lr, &loss);
            ok = st == LRE_OK;
            if (!ok) break;
            if (!isfinite(loss)) break;
            finite_steps++;
        }
        CHECK(ok && !isfinite(loss),
              chk_name("%s: raising lr to blow-up returns a non-finite loss with LRE_OK", on),
              "status ok=%d, last loss %g after %d finite steps: \"%s\"", ok, (double)loss,
              finite_steps, chk_msg(ctx));
        /* a step more on the broken state is still no error */
        lre_status st = lre_trainer_step(t, 1e-2f, &loss);
        CHECK(st == LRE_OK, chk_name("%s: stepping a blown-up trainer is not an error", on),
              "status %s: \"%s\"", lre_status_string(st), chk_msg(ctx));
        chk_ok(ctx, lre_trainer_restore(t, s), chk_name("%s: restore after the blow-up runs", on));
        record(t, &b, lrs);
        compare(chk_name("%s: restore after a blow-up", on), &a, &b, lre_model_num_params(m));
        free(a.params);
        free(b.params);
        lre_snapshot_release(s);
        lre_trainer_release(t);
        lre_model_release(m);
    }
    lre_dataset_release(d);
}

int main(void)
{
    CHK_FOR_EACH_DEVICE(dev)
    {
        ctx = chk_ctx_on(dev, 1);
        test_continuation();
        test_mismatch();
        test_blow_up();
        lre_ctx_release(ctx);
    }
    return chk_done("test_snapshot");
}
