/*
 * test_seam.c — the device seam as the layers above see it: the table of
 * compiled-in backends, the tensor copy/zero ops and lre_count_correct,
 * snapshots that hold only the optimizer's own buffers (copied device to
 * device), and allocation counters that see every allocation. Runs on
 * every device the harness picks (check.h).
 */
#include <string.h>

#include "check.h"
#include "backend/backend.h"

static void test_registry(void)
{
    const lre_backend *cpu = lre_backend_find(LRE_DEVICE_CPU);
    CHECK(cpu && cpu == lre_backend_at(0) && strcmp(cpu->name, "cpu") == 0 && cpu->is_host,
          "the CPU backend is compiled in, first in the table, and host memory", "%p",
          (const void *)cpu);
    int n = 0;
    while (lre_backend_at(n)) n++;
    CHECK(n >= 1 && !lre_backend_at(-1) && !lre_backend_at(n), "the table ends", "%d", n);
    for (int i = 0; i < n; i++) {
        const lre_backend *b = lre_backend_at(i);
        CHECK(lre_backend_find(b->device) == b && lre_device_compiled(b->device),
              chk_name("backend %s is found by its device", b->name), "not found");
    }
    if (!lre_device_compiled(LRE_DEVICE_CUDA)) {
        char err[256];
        lre_ctx_opts o = lre_ctx_opts_default();
        lre_ctx *c = NULL;
        o.device = LRE_DEVICE_CUDA;
        lre_status s = lre_ctx_new_err(&c, &o, err, sizeof err);
        CHECK(s == LRE_EDEVICE && !c && strstr(err, "'cuda' is not compiled into this build"),
              "a CUDA context in a CPU-only build says so", "status %d: %s", (int)s, err);
    }
}

static void test_copy_zero(lre_ctx *ctx)
{
    float a[7] = {1, -2, 3, -4, 5, -6, 7}, back[7];
    lre_tensor *x = chk_t1(ctx, LRE_F32, 7), *y = chk_t1(ctx, LRE_F32, 7);
    chk_upload(ctx, x, a, sizeof a);
    chk_ok(ctx, lre_tensor_copy(y, x), "tensor_copy f32[7]");
    chk_read(ctx, y, back);
    CHECK(memcmp(a, back, sizeof a) == 0, "tensor_copy copies every element", "differs");
    chk_ok(ctx, lre_tensor_zero(y), "tensor_zero f32[7]");
    chk_read(ctx, y, back);
    float z[7] = {0};
    CHECK(memcmp(z, back, sizeof z) == 0, "tensor_zero clears every element", "not zero");
    chk_read(ctx, x, back);
    CHECK(memcmp(a, back, sizeof a) == 0, "tensor_zero leaves the source alone", "changed");

    lre_tensor *w = chk_t1(ctx, LRE_F32, 6), *i = chk_t1(ctx, LRE_I32, 7);
    chk_err(ctx, lre_tensor_copy(w, x), LRE_ESHAPE, "tensor_copy of 7 elements into 6 is refused",
            "f32[7]", "f32[6]", NULL);
    chk_err(ctx, lre_tensor_copy(i, x), LRE_ESHAPE, "tensor_copy f32 into i32 is refused", "f32",
            "i32", NULL);
    chk_err(ctx, lre_tensor_copy(x, NULL), LRE_EINVAL, "tensor_copy from NULL is refused", "src",
            NULL);
    lre_ctx *other = chk_ctx_on(lre_ctx_device(ctx), 2);
    lre_tensor *o = chk_t1(other, LRE_F32, 7);
    chk_err(ctx, lre_tensor_copy(x, o), LRE_EINVAL,
            "tensor_copy from another context is refused", "another context", NULL);
    lre_tensor *l = chk_t1(ctx, LRE_I64, 3);
    CHECK(lre_tensor_dtype(l) == LRE_I64 && lre_dtype_size(LRE_I64) == 8 &&
              strcmp(lre_dtype_name(LRE_I64), "i64") == 0,
          "i64 tensors: 8 bytes an element, named i64", "%s", lre_dtype_name(LRE_I64));
    lre_tensor_release(l);
    lre_tensor_release(o);
    lre_ctx_release(other);
    lre_tensor_release(w);
    lre_tensor_release(i);
    lre_tensor_release(x);
    lre_tensor_release(y);
}

static void test_count_correct(lre_ctx *ctx)
{
    /* 4 rows, 3 classes; row 2 ties (first maximum wins) */
    float z[12] = {0.1f, 0.9f, 0.0f, 2.0f, 1.0f, 0.0f, 0.5f, 0.5f, 0.1f, -1.0f, -2.0f, -0.5f};
    int32_t y[4] = {1, 0, 1, 2};
    lre_tensor *logits = chk_t2(ctx, LRE_F32, 4, 3), *labels = chk_t1(ctx, LRE_I32, 4);
    chk_upload(ctx, logits, z, sizeof z);
    chk_upload(ctx, labels, y, sizeof y);
    int64_t k = -1;
    chk_ok(ctx, lre_count_correct(ctx, &k, logits, labels), "count_correct runs");
    CHECK(k == 3, "count_correct: 3 of 4 right (a tie goes to the first maximum)",
          "got %lld", (long long)k);
    y[3] = 3;
    chk_upload(ctx, labels, y, sizeof y);
    chk_err(ctx, lre_count_correct(ctx, &k, logits, labels), LRE_EINVAL,
            "count_correct refuses a label out of range, naming the row", "label 3", "row 4",
            NULL);
    float loss;
    chk_err(ctx, lre_cross_entropy(ctx, &loss, NULL, logits, labels, 0.0f, 1.0f), LRE_EINVAL,
            "cross_entropy refuses a label out of range, naming the row", "label 3", "row 4",
            NULL);
    lre_tensor *short_labels = chk_t1(ctx, LRE_I32, 3);
    chk_err(ctx, lre_count_correct(ctx, &k, logits, short_labels), LRE_ESHAPE,
            "count_correct: labels of 3 rows for 4 rows of logits", "i32[3]", "f32[4,3]", NULL);
    lre_tensor_release(short_labels);
    lre_tensor_release(logits);
    lre_tensor_release(labels);
}

/* Bytes a snapshot takes beyond its parameters: exactly the buffers the
 * optimizer keeps, none for SGD without momentum. */
static void test_snapshot_buffers(lre_ctx *ctx)
{
    static const struct {
        const char *name;
        lre_optim_config (*make)(void);
        double momentum;
        int buffers;
    } cases[] = {
        {"sgd", lre_optim_sgd_default, 0.0, 0},
        {"sgd with momentum", lre_optim_sgd_default, 0.9, 1},
        {"adam", lre_optim_adam_default, 0.0, 2},
        {"adamw", lre_optim_adamw_default, 0.0, 2},
    };
    chk_rng r = {7};
    lre_dataset *d = chk_random_dataset(ctx, &r, 64, 5, 3);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t sizes[3] = {5, 8, 3};
        lre_model *m = chk_mlp(ctx, sizes, 3, LRE_ACT_RELU, 1);
        lre_trainer_opts o = lre_trainer_opts_default();
        o.optim = cases[c].make();
        o.optim.momentum = cases[c].momentum;
        o.batch_size = 16;
        lre_trainer *t = chk_trainer(ctx, m, d, &o);
        float loss;
        chk_must(ctx, lre_trainer_step(t, 0.01, &loss), "step");
        uint64_t live0 = lre_ctx_bytes_live(ctx);
        lre_snapshot *s = NULL;
        chk_must(ctx, lre_trainer_snapshot(t, &s), "snapshot");
        uint64_t used = lre_ctx_bytes_live(ctx) - live0;
        uint64_t np = (uint64_t)lre_model_num_params(m);
        uint64_t data = np * 4 * (uint64_t)(1 + cases[c].buffers);
        CHECK(used >= data && used < data + 1024,
              chk_name("%s: a snapshot holds the parameters and %d optimizer buffer(s)",
                       cases[c].name, cases[c].buffers),
              "%llu bytes for %llu parameters (expected %llu plus bookkeeping)",
              (unsigned long long)used, (unsigned long long)np, (unsigned long long)data);
        /* restore after more steps puts back the same parameters */
        float *p0 = chk_params(ctx, m);
        for (int i = 0; i < 3; i++) chk_must(ctx, lre_trainer_step(t, 0.1, &loss), "step");
        uint64_t a0 = lre_ctx_alloc_count(ctx);
        chk_ok(ctx, lre_trainer_restore(t, s), chk_name("%s: restore", cases[c].name));
        CHECK(lre_ctx_alloc_count(ctx) == a0, chk_name("%s: restore allocates nothing", cases[c].name),
              "%llu allocations", (unsigned long long)(lre_ctx_alloc_count(ctx) - a0));
        float *p1 = chk_params(ctx, m);
        chk_bits(chk_name("%s: restore puts the parameters back", cases[c].name), p0, p1,
                 (int64_t)np);
        free(p0);
        free(p1);
        lre_snapshot_release(s);
        lre_trainer_release(t);
        lre_model_release(m);
    }
    /* an SGD snapshot (no buffer) does not restore into an SGD-with-momentum trainer */
    int64_t sizes[3] = {5, 8, 3};
    lre_model *m = chk_mlp(ctx, sizes, 3, LRE_ACT_RELU, 1);
    lre_trainer_opts o = lre_trainer_opts_default();
    o.optim = lre_optim_sgd_default();
    lre_trainer *plain = chk_trainer(ctx, m, d, &o);
    lre_snapshot *s = NULL;
    chk_must(ctx, lre_trainer_snapshot(plain, &s), "snapshot");
    lre_trainer_release(plain);
    o.optim.momentum = 0.9;
    lre_trainer *mom = chk_trainer(ctx, m, d, &o);
    chk_err(ctx, lre_trainer_restore(mom, s), LRE_EINVAL,
            "a snapshot without momentum buffer does not restore into SGD with momentum",
            "0 buffers", "1 buffers", NULL);
    lre_snapshot_release(s);
    lre_trainer_release(mom);
    lre_model_release(m);
    lre_dataset_release(d);
}

/* A trainer replaying captured steps (CUDA graphs) gives the very bits of
 * one running every step eagerly: losses, parameters, evaluate, accuracy,
 * across an epoch boundary (a short last batch) and accumulation. On the
 * CPU both run eagerly (graphs are a CUDA backend feature). */
static void test_graphs_match_eager(lre_ctx *ctx, lre_device dev)
{
    chk_rng r = {11};
    lre_dataset *d = chk_random_dataset(ctx, &r, 100, 12, 4); /* 100 = 3×32 + 4 */
    lre_dataset *v = chk_random_dataset(ctx, &r, 700, 12, 4);
    int64_t sizes[4] = {12, 16, 16, 4};
    lre_trainer *t[2];
    lre_model *m[2];
    for (int i = 0; i < 2; i++) {
        m[i] = chk_mlp(ctx, sizes, 4, LRE_ACT_GELU, 0);
        lre_trainer_opts o = lre_trainer_opts_default();
        o.optim = lre_optim_adamw_default();
        o.batch_size = 32;
        o.seed = 3;
        t[i] = chk_trainer(ctx, m[i], d, &o);
    }
    chk_must(ctx, lre_trainer_set_graphs(t[1], 0), "graphs off");
    CHECK(lre_trainer_graphs(t[0]) == (dev == LRE_DEVICE_CUDA) && !lre_trainer_graphs(t[1]),
          "graphs are on where the backend captures (CUDA), off when asked", "%d %d",
          lre_trainer_graphs(t[0]), lre_trainer_graphs(t[1]));
    int same = 1;
    float la = 0, lb = 0;
    for (int step = 0; step < 12 && same; step++) {
        if (step == 6) {
            chk_must(ctx, lre_trainer_set_accumulation_steps(t[0], 2), "accumulation");
            chk_must(ctx, lre_trainer_set_accumulation_steps(t[1], 2), "accumulation");
        }
        double lr = 1e-3 * (step + 1);
        chk_must(ctx, lre_trainer_step(t[0], lr, &la), "step (graphs)");
        chk_must(ctx, lre_trainer_step(t[1], lr, &lb), "step (eager)");
        same = memcmp(&la, &lb, sizeof la) == 0;
    }
    CHECK(same, "12 steps (an epoch boundary, accumulation 2 from step 7): replayed losses equal "
                "eager ones bit for bit", "%.9g vs %.9g", (double)la, (double)lb);
    float *pa = chk_params(ctx, m[0]), *pb = chk_params(ctx, m[1]);
    chk_bits("parameters after replayed steps equal eager ones", pb, pa,
             lre_model_num_params(m[0]));
    free(pa);
    free(pb);
    float ea[3], eb[3];
    double aa[3], ab[3];
    for (int k = 0; k < 3; k++) { /* the third run of a pass is a replay */
        chk_must(ctx, lre_trainer_evaluate(t[0], v, &ea[k]), "evaluate");
        chk_must(ctx, lre_trainer_evaluate(t[1], v, &eb[k]), "evaluate");
        chk_must(ctx, lre_trainer_accuracy(t[0], v, &aa[k]), "accuracy");
        chk_must(ctx, lre_trainer_accuracy(t[1], v, &ab[k]), "accuracy");
    }
    CHECK(memcmp(ea, eb, sizeof ea) == 0 && ea[0] == ea[2],
          "evaluate: replayed passes equal eager ones and each other", "%.9g %.9g %.9g vs %.9g",
          (double)ea[0], (double)ea[1], (double)ea[2], (double)eb[0]);
    CHECK(memcmp(aa, ab, sizeof aa) == 0, "accuracy: replayed passes equal eager ones",
          "%.9g vs %.9g", aa[2], ab[2]);
    uint64_t a0 = lre_ctx_alloc_count(ctx);
    chk_must(ctx, lre_trainer_step(t[0], 1e-3, &la), "step");
    chk_must(ctx, lre_trainer_evaluate(t[0], v, &ea[0]), "evaluate");
    CHECK(lre_ctx_alloc_count(ctx) == a0, "a warm step and pass allocate nothing",
          "%llu allocations", (unsigned long long)(lre_ctx_alloc_count(ctx) - a0));
    for (int i = 0; i < 2; i++) {
        lre_trainer_release(t[i]);
        lre_model_release(m[i]);
    }
    lre_dataset_release(d);
    lre_dataset_release(v);
}

int main(void)
{
    test_registry();
    CHK_FOR_EACH_DEVICE(dev) {
        lre_ctx *ctx = chk_ctx_on(dev, 1);
        chk_ok(ctx, lre_ctx_synchronize(ctx), "ctx_synchronize");
        test_copy_zero(ctx);
        test_count_correct(ctx);
        test_snapshot_buffers(ctx);
        test_graphs_match_eager(ctx, dev);
        CHECK(lre_ctx_bytes_live(ctx) == 0, "every allocation counted and released",
              "%llu bytes live", (unsigned long long)lre_ctx_bytes_live(ctx));
        lre_ctx_release(ctx);
    }
    return chk_done("test_seam");
}
