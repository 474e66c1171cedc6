/*
 * test_trainer.c — the trainer: it learns, it is reproducible, it batches
 * as documented, and after its first step it allocates nothing.
 *
 *   - learning: two interleaved spirals (500 points, one turn each), MLP
 *     2-32-32-2 with ReLU, Adam at 1e-2; after 300 steps the full-data loss
 *     is below half its starting value and accuracy above 95%;
 *   - the trainer equals a double-precision reference (forward, finite-
 *     difference gradients, torch.optim's update) over 12 steps of SGD with
 *     nesterov momentum and weight decay, and of Adam, through a short
 *     batch and an epoch rollover;
 *   - model set-up: PyTorch's nn.Linear initialisation bounds, describe
 *     string, parameter count, init reproducible from the seed;
 *   - evaluate changes no state: the same run with evaluate/accuracy calls
 *     in between gives bit-identical step losses and parameters;
 *   - accumulation_steps = k with micro-batches of b rows equals one batch
 *     of k·b rows (shuffle off, plain SGD);
 *   - batching: shuffle off walks the rows in order; shuffle on visits
 *     every row once per epoch in a new order each epoch; the seed fixes
 *     the order; drop_last decides the short batch; epochs roll over;
 *   - reseed/reinit restart exactly like a fresh trainer;
 *   - no allocation: lre_ctx_alloc_count and bytes_live do not move across
 *     50 steps (with accumulation, short batches and reshuffles) and
 *     lre_trainer_evaluate; nor, once warm (from the third call: on CUDA
 *     the first full step runs eagerly and the second captures a graph,
 *     likewise each evaluate pass), across 5 further steps or evaluates.
 * Losses are identified with the rows they came from by stepping plain SGD
 * at lr = 0 (the parameters never move) and comparing with
 * lre_trainer_evaluate on single-row subsets.
 *
 * Every check runs once per device (CHK_FOR_EACH_DEVICE, check.h: "[cpu] "
 * and "[cuda] " names; parameters and losses read through host copies).
 * Bit-for-bit checks (same seed, evaluate in between, reseed/reinit)
 * compare two runs on one device and hold on every device. Checks against
 * the double reference or between different batch shapes keep the CPU's
 * tolerance on the CPU; on another device they take at least the GPU
 * floor of tol() below (cuBLAS sums in another order than OpenBLAS, and
 * picks kernels by shape): relative 1e-5 on losses, relative 1e-4 plus
 * 1e-4 of the largest element on parameters after a few steps.
 */
#include "check.h"

static lre_ctx *ctx;
static lre_device dev_now; /* the device the loop in main runs on */

/* The tolerance `cpu` on the CPU (the one the CPU's margins were measured
 * against); on any other device the larger of it and `gpu`. */
static double tol(double cpu, double gpu)
{
    return dev_now == LRE_DEVICE_CPU ? cpu : fmax(cpu, gpu);
}

static lre_trainer_opts sgd_opts(int64_t batch, int shuffle)
{
    lre_trainer_opts o = lre_trainer_opts_default();
    o.optim = lre_optim_sgd_default();
    o.batch_size = batch;
    o.shuffle = shuffle;
    o.seed = 1;
    return o;
}

/* ------------------------------------------------------------- learning */

static lre_dataset *spirals(int64_t n)
{
    float *x = malloc(sizeof(float) * (size_t)(2 * n));
    int32_t *y = malloc(sizeof(int32_t) * (size_t)n);
    chk_rng r = {5};
    for (int64_t i = 0; i < n; i++) {
        int c = (int)(i % 2);
        double u = (double)(i / 2) / (double)(n / 2); /* 0..1 along the arm */
        double rad = 0.1 + 0.9 * u, th = 2 * 3.14159265358979 * u + c * 3.14159265358979;
        x[2 * i] = (float)(rad * cos(th) + chk_unif(&r, -0.02, 0.02));
        x[2 * i + 1] = (float)(rad * sin(th) + chk_unif(&r, -0.02, 0.02));
        y[i] = c;
    }
    lre_dataset *d = NULL;
    chk_must(ctx, lre_dataset_from_arrays(ctx, &d, n, 2, x, y, NULL, 0), "spirals dataset");
    free(x);
    free(y);
    return d;
}

static void test_learns(void)
{
    static const int64_t sizes[] = {2, 32, 32, 2};
    lre_dataset *d = spirals(500);
    CHECK(lre_dataset_size(d) == 500 && lre_dataset_num_classes(d) == 2 &&
              lre_dataset_features(d) == 2,
          "spirals dataset: 500 rows, 2 features, 2 classes",
          "size %lld features %lld classes %lld", (long long)lre_dataset_size(d),
          (long long)lre_dataset_features(d), (long long)lre_dataset_num_classes(d));
    lre_model *m = chk_mlp(ctx, sizes, 4, LRE_ACT_RELU, 0);
    lre_trainer_opts o = lre_trainer_opts_default(); /* Adam */
    o.batch_size = 32;
    o.seed = 3;
    lre_trainer *t = chk_trainer(ctx, m, d, &o);

    float before = NAN, after = NAN, first = NAN, loss = NAN, last = 0;
    chk_must(ctx, lre_trainer_evaluate(t, d, &before), "evaluate before training");
    int ok = 1;
    for (int i = 0; i < 300 && ok; i++) {
        ok = lre_trainer_step(t, 1e-2f, &loss) == LRE_OK && isfinite(loss);
        if (i == 0) first = loss;
        if (i >= 280) last += loss / 20;
    }
    CHECK(ok, "spirals: 300 Adam steps run with finite losses", "a step failed: \"%s\", loss %g",
          chk_msg(ctx), (double)loss);
    chk_must(ctx, lre_trainer_evaluate(t, d, &after), "evaluate after training");
    double acc = 0;
    chk_must(ctx, lre_trainer_accuracy(t, d, &acc), "accuracy after training");
    CHECK(after < 0.5f * before, "spirals: full-data loss after 300 steps < half of before",
          "before %.4f after %.4f (ratio %.3f)", (double)before, (double)after,
          (double)(after / before));
    CHECK(last < 0.5f * first, "spirals: mean of the last 20 step losses < half of the first",
          "first %.4f last-20 mean %.4f", (double)first, (double)last);
    CHECK(acc > 0.95, "spirals: accuracy > 0.95 after 300 steps (a linear model cannot)",
          "accuracy %.3f", acc);
    CHECK(lre_trainer_steps(t) == 300, "lre_trainer_steps counts optimizer steps", "got %lld",
          (long long)lre_trainer_steps(t));
    printf("# %sspirals: loss %.4f -> %.4f, step loss %.4f -> %.4f, accuracy %.3f\n", chk_tag(),
           (double)before, (double)after, (double)first, (double)last, acc);
    lre_trainer_release(t);
    lre_model_release(m);
    lre_dataset_release(d);
}

/* ------------------------------------------------ trainer vs reference */

static void test_vs_reference(const char *tag, lre_optim_config oc, float smoothing,
                              double atol_scaled, double rtol)
{
    enum { NR = 20, IN = 3, NC = 3, BATCH = 8, STEPS = 12 };
    static const chk_layer spec[] = {
        {1, IN, 8, 0, 0},           {0, 0, 0, LRE_ACT_TANH, 0}, {1, 8, 8, 0, 0},
        {0, 0, 0, LRE_ACT_GELU, 0}, {1, 8, NC, 0, 0},
    };
    static const float lrs[STEPS] = {0.05f, 0.1f, 0.02f, 0.2f, 0.05f, 0.1f,
                                     0.01f, 0.3f, 0.05f, 0.1f, 0.02f, 0.15f};
    chk_rng r = {40};
    float x[NR * IN];
    int32_t y[NR];
    chk_fill(&r, x, NR * IN, -2, 2);
    for (int i = 0; i < NR; i++) y[i] = (int32_t)(chk_u64(&r) % NC);
    lre_dataset *d = NULL;
    chk_must(ctx, lre_dataset_from_arrays_classes(ctx, &d, NR, IN, x, y, NC), "dataset");
    lre_model *m = chk_model_from_spec(ctx, spec, 5);
    chk_must(ctx, lre_model_init(m, 4), "init");
    lre_trainer_opts o = lre_trainer_opts_default();
    o.optim = oc;
    o.loss.label_smoothing = smoothing;
    o.batch_size = BATCH;
    o.shuffle = 0;
    lre_trainer *t = chk_trainer(ctx, m, d, &o);

    chk_ref_mlp ref;
    chk_ref_mlp_load(&ref, spec, 5, ctx, m);
    double *g = calloc((size_t)ref.n, sizeof(double)), *s1 = calloc((size_t)ref.n, sizeof(double)),
           *s2 = calloc((size_t)ref.n, sizeof(double));
    double want_loss[STEPS];
    float got_loss[STEPS];
    int64_t cursor = 0;
    for (int step = 0; step < STEPS; step++) {
        /* shuffle off, drop_last off: 0-7, 8-15, 16-19, then again */
        int64_t rows[BATCH], nb = 0;
        if (cursor >= NR) cursor = 0;
        while (nb < BATCH && cursor < NR) rows[nb++] = cursor++;
        want_loss[step] =
            chk_ref_mlp_loss(&ref, x, y, NULL, rows, nb, LRE_LOSS_CROSS_ENTROPY, smoothing);
        for (int64_t i = 0; i < ref.n; i++) {
            double th = ref.theta[i];
            ref.theta[i] = th + 1e-6;
            double fp =
                chk_ref_mlp_loss(&ref, x, y, NULL, rows, nb, LRE_LOSS_CROSS_ENTROPY, smoothing);
            ref.theta[i] = th - 1e-6;
            double fm =
                chk_ref_mlp_loss(&ref, x, y, NULL, rows, nb, LRE_LOSS_CROSS_ENTROPY, smoothing);
            ref.theta[i] = th;
            g[i] = (fp - fm) / 2e-6;
        }
        chk_ref_optim_step(&oc, lrs[step], step + 1, ref.theta, s1, s2, g, ref.n);
        chk_must(ctx, lre_trainer_step(t, lrs[step], &got_loss[step]), "step");
    }
    /* off the CPU: losses rtol >= 1e-5, parameters rtol >= 1e-4 and atol
     * >= 1e-4 of the largest element (tol) */
    const double loss_rtol = tol(rtol, 1e-5), par_rtol = tol(rtol, 1e-4),
                 par_atol = -tol(-atol_scaled, 1e-4);
    chk_close(chk_name("%s: 12 step losses vs double reference", tag), want_loss, got_loss, STEPS,
              1e-6, loss_rtol);
    for (int l = 0; l < 5; l++) {
        if (!spec[l].linear) continue;
        float *w = chk_download(ctx, lre_model_weight(m, l)),
              *b = chk_download(ctx, lre_model_bias(m, l));
        chk_close(chk_name("%s: layer %d weight after 12 steps vs double reference", tag, l),
                  ref.theta + ref.woff[l], w, spec[l].in * spec[l].out, par_atol, par_rtol);
        chk_close(chk_name("%s: layer %d bias after 12 steps vs double reference", tag, l),
                  ref.theta + ref.boff[l], b, spec[l].out, par_atol, par_rtol);
        free(w);
        free(b);
    }
    free(g);
    free(s1);
    free(s2);
    chk_ref_mlp_free(&ref);
    lre_trainer_release(t);
    lre_model_release(m);
    lre_dataset_release(d);
}

static void test_reference(void)
{
    lre_optim_config c = lre_optim_sgd_default();
    c.momentum = 0.9f;
    c.nesterov = 1;
    c.weight_decay = 0.01f;
    test_vs_reference("trainer SGD nesterov wd=0.01", c, 0, -1e-5, 1e-5);
    c = lre_optim_adam_default();
    c.weight_decay = 1e-2f;
    test_vs_reference("trainer Adam wd=1e-2, smoothing 0.05", c, 0.05f, -1e-5, 2e-5);
    c = lre_optim_adamw_default();
    test_vs_reference("trainer AdamW", c, 0, -1e-5, 2e-5);
}

/* ---------------------------------------------------------------- model */

static void test_model(void)
{
    static const int64_t sizes[] = {2, 32, 32, 2};
    lre_model *m = chk_mlp(ctx, sizes, 4, LRE_ACT_RELU, 0);
    char buf[256];
    const char *desc = lre_model_describe(m, buf, sizeof buf);
    CHECK(desc && strcmp(desc, "linear(2,32) relu linear(32,32) relu linear(32,2)") == 0,
          "lre_model_describe: \"linear(2,32) relu linear(32,32) relu linear(32,2)\"", "got \"%s\"",
          desc ? desc : "NULL");
    CHECK(lre_model_num_layers(m) == 5 && lre_model_layer_kind(m, 0) == LRE_LAYER_LINEAR &&
              lre_model_layer_kind(m, 1) == LRE_LAYER_ACT && lre_model_in_features(m) == 2 &&
              lre_model_out_features(m) == 2 && lre_model_num_params(m) == 1218,
          "model shape: 5 layers, 2 in, 2 out, 1218 parameters",
          "layers %d in %lld out %lld params %lld", lre_model_num_layers(m),
          (long long)lre_model_in_features(m), (long long)lre_model_out_features(m),
          (long long)lre_model_num_params(m));
    CHECK(!lre_model_initialized(m), "a new model is not initialised", "initialised already");
    chk_ok(ctx, lre_model_init(m, 11), "lre_model_init runs");
    lre_tensor *w = lre_model_weight(m, 2);
    CHECK(w && lre_tensor_ndim(w) == 2 && lre_tensor_dim(w, 0) == 32 &&
              lre_tensor_dim(w, 1) == 32 && lre_model_weight(m, 1) == NULL &&
              lre_model_bias(m, 1) == NULL && lre_tensor_dim(lre_model_weight(m, 4), 0) == 2 &&
              lre_tensor_dim(lre_model_weight(m, 4), 1) == 32 &&
              lre_tensor_numel(lre_model_bias(m, 4)) == 2,
          "weights are (out,in) views, activations have none",
          "layer 4 weight is not (2,32) or an activation has a weight");
    CHECK(lre_tensor_numel(lre_model_params(m)) == 1218 &&
              lre_tensor_numel(lre_model_grads(m)) == 1218,
          "flat params and grads hold every parameter", "params %lld grads %lld",
          (long long)lre_tensor_numel(lre_model_params(m)),
          (long long)lre_tensor_numel(lre_model_grads(m)));

    /* nn.Linear's default init: U(-1/√in, 1/√in) for weight and bias. */
    static const int64_t big[] = {300, 200};
    lre_model *b = chk_mlp(ctx, big, 2, LRE_ACT_RELU, 0);
    chk_must(ctx, lre_model_init(b, 1), "init 300-200");
    float *bw = chk_download(ctx, lre_model_weight(b, 0));
    float *bb = chk_download(ctx, lre_model_bias(b, 0));
    double a = 1 / sqrt(300.0), sum = 0, sum2 = 0, maxabs = 0, bmax = 0;
    for (int i = 0; i < 60000; i++) {
        sum += bw[i];
        sum2 += (double)bw[i] * bw[i];
        maxabs = fmax(maxabs, fabs(bw[i]));
    }
    for (int i = 0; i < 200; i++) bmax = fmax(bmax, fabs(bb[i]));
    double mean = sum / 60000, var = sum2 / 60000 - mean * mean;
    CHECK(maxabs <= a && bmax <= a && maxabs > 0.99 * a,
          "linear(300,200) init within ±1/sqrt(300) and reaching it",
          "max |w| %.6f, max |b| %.6f, bound %.6f", maxabs, bmax, a);
    /* U(-a,a): var a²/3 (σ of the estimate ≈ 0.4%), mean 0 (σ ≈ 1e-4). */
    CHECK(fabs(var / (a * a / 3) - 1) < 0.03 && fabs(mean) < 6e-4,
          "linear(300,200) init has the variance of U(-a,a)", "var %.6g (want %.6g), mean %.3g",
          var, a * a / 3, mean);
    lre_model *b2 = chk_mlp(ctx, big, 2, LRE_ACT_RELU, 0),
              *b3 = chk_mlp(ctx, big, 2, LRE_ACT_RELU, 0);
    chk_must(ctx, lre_model_init(b2, 1), "init seed 1");
    chk_must(ctx, lre_model_init(b3, 2), "init seed 2");
    float *p1 = chk_params(ctx, b), *p2 = chk_params(ctx, b2), *p3 = chk_params(ctx, b3);
    chk_bits("lre_model_init: same seed, same parameters", p1, p2, 60200);
    CHECK(memcmp(p1, p3, sizeof(float) * 60200) != 0, "lre_model_init: different seeds differ",
          "seeds 1 and 2 give the same parameters");
    free(bw);
    free(bb);
    free(p1);
    free(p2);
    free(p3);
    lre_model_release(b);
    lre_model_release(b2);
    lre_model_release(b3);

    /* A trainer initialises a fresh model from its seed. */
    chk_rng r = {3};
    lre_dataset *d = chk_random_dataset(ctx, &r, 20, 2, 2);
    lre_model *fresh = chk_mlp(ctx, sizes, 4, LRE_ACT_RELU, 0);
    lre_trainer_opts o = sgd_opts(4, 1);
    o.seed = 11;
    lre_trainer *t = chk_trainer(ctx, fresh, d, &o);
    CHECK(lre_model_initialized(fresh), "lre_trainer_new initialises a fresh model",
          "model not initialised");
    float *pa = chk_params(ctx, fresh), *pb = chk_params(ctx, m);
    chk_bits("lre_trainer_new initialises from its seed like lre_model_init(seed)", pb, pa, 1218);
    CHECK(lre_trainer_batch_size(t) == 4 && lre_trainer_accumulation_steps(t) == 1 &&
              lre_trainer_seed(t) == 11 && lre_trainer_model(t) == fresh &&
              lre_trainer_data(t) == d && lre_trainer_optim(t)->kind == LRE_OPTIM_SGD &&
              lre_trainer_loss(t)->kind == LRE_LOSS_CROSS_ENTROPY && lre_trainer_steps(t) == 0 &&
              lre_trainer_epoch(t) == 0 && lre_trainer_cursor(t) == 0,
          "trainer accessors report its options and a fresh state",
          "batch %lld accum %d seed %llu steps %lld epoch %lld cursor %lld",
          (long long)lre_trainer_batch_size(t), lre_trainer_accumulation_steps(t),
          (unsigned long long)lre_trainer_seed(t), (long long)lre_trainer_steps(t),
          (long long)lre_trainer_epoch(t), (long long)lre_trainer_cursor(t));
    /* An initialised model keeps its parameters. */
    lre_trainer_opts o2 = o;
    o2.seed = 99;
    lre_trainer *t2 = chk_trainer(ctx, m, d, &o2);
    float *pc = chk_params(ctx, m);
    chk_bits("lre_trainer_new keeps an initialised model's parameters", pb, pc, 1218);
    free(pa);
    free(pb);
    free(pc);
    lre_trainer_release(t);
    lre_trainer_release(t2);
    lre_model_release(fresh);
    lre_model_release(m);
    lre_dataset_release(d);
}

/* ------------------------------------------------------- evaluate is pure */

static void test_evaluate_pure(void)
{
    static const int64_t sizes[] = {3, 16, 4};
    chk_rng r = {21};
    lre_dataset *d = chk_random_dataset(ctx, &r, 45, 3, 4);
    lre_dataset *v = chk_random_dataset(ctx, &r, 23, 3, 4);
    float la[10], lb[10];
    float *pa = NULL, *pb = NULL;
    for (int run = 0; run < 2; run++) {
        lre_model *m = chk_mlp(ctx, sizes, 3, LRE_ACT_TANH, 0);
        lre_trainer_opts o = lre_trainer_opts_default();
        o.optim = lre_optim_adamw_default();
        o.batch_size = 8;
        o.seed = 4;
        lre_trainer *t = chk_trainer(ctx, m, d, &o);
        float *loss = run ? lb : la;
        for (int i = 0; i < 10; i++) {
            if (run == 1 && i == 5) {
                float *p0 = chk_params(ctx, m), e = 0;
                int64_t st = lre_trainer_steps(t), ep = lre_trainer_epoch(t),
                        cu = lre_trainer_cursor(t);
                double acc;
                chk_must(ctx, lre_trainer_evaluate(t, d, &e), "evaluate train");
                chk_must(ctx, lre_trainer_evaluate(t, v, &e), "evaluate val");
                chk_must(ctx, lre_trainer_accuracy(t, v, &acc), "accuracy val");
                float *p1 = chk_params(ctx, m);
                chk_bits("evaluate/accuracy leave the parameters bit-identical", p0, p1,
                         lre_model_num_params(m));
                CHECK(st == lre_trainer_steps(t) && ep == lre_trainer_epoch(t) &&
                          cu == lre_trainer_cursor(t),
                      "evaluate/accuracy leave steps, epoch and cursor",
                      "before %lld/%lld/%lld after %lld/%lld/%lld", (long long)st, (long long)ep,
                      (long long)cu, (long long)lre_trainer_steps(t),
                      (long long)lre_trainer_epoch(t), (long long)lre_trainer_cursor(t));
                free(p0);
                free(p1);
            }
            chk_must(ctx, lre_trainer_step(t, 3e-2f, &loss[i]), "step");
        }
        if (run)
            pb = chk_params(ctx, m);
        else
            pa = chk_params(ctx, m);
        lre_trainer_release(t);
        lre_model_release(m);
    }
    chk_bits("evaluate in between: the 10 step losses are bit-identical", la, lb, 10);
    chk_bits("evaluate in between: the final parameters are bit-identical", pa, pb,
             16 * 3 + 16 + 4 * 16 + 4);

    /* evaluate of a dataset equals the mean of its rows' losses. */
    lre_model *m = chk_mlp(ctx, sizes, 3, LRE_ACT_TANH, 0);
    lre_trainer_opts o = sgd_opts(8, 0);
    lre_trainer *t = chk_trainer(ctx, m, d, &o);
    float whole = 0;
    double sum = 0;
    chk_must(ctx, lre_trainer_evaluate(t, v, &whole), "evaluate val");
    for (int64_t i = 0; i < 23; i++) {
        lre_dataset *one = NULL;
        float e = 0;
        chk_must(ctx, lre_dataset_subset(v, &one, 1, &i), "subset");
        chk_must(ctx, lre_trainer_evaluate(t, one, &e), "evaluate one row");
        sum += e;
        lre_dataset_release(one);
    }
    /* rtol 2e-6 on the CPU, 1e-5 elsewhere (batches of 8 vs single rows) */
    chk_close1("evaluate(23 rows, batch 8) is the mean of the 23 row losses", sum / 23, whole, 1e-7,
               tol(2e-6, 1e-5));
    lre_trainer_release(t);
    lre_model_release(m);
    free(pa);
    free(pb);
    lre_dataset_release(d);
    lre_dataset_release(v);
}

/* ----------------------------------------------------------- accumulation */

static void test_accumulation(void)
{
    static const int64_t sizes[] = {5, 12, 3};
    chk_rng r = {8};
    lre_dataset *d = chk_random_dataset(ctx, &r, 24, 5, 3);
    static const struct {
        int64_t batch;
        int accum;
    } cfg[] = {{24, 1}, {8, 3}, {6, 4}, {12, 2}};
    float loss[4][3];
    float *p[4];
    int64_t np = 0;
    for (int c = 0; c < 4; c++) {
        lre_model *m = chk_mlp(ctx, sizes, 3, LRE_ACT_GELU, 0);
        chk_must(ctx, lre_model_init(m, 5), "init");
        lre_trainer_opts o = sgd_opts(cfg[c].batch, 0);
        o.accumulation_steps = cfg[c].accum;
        lre_trainer *t = chk_trainer(ctx, m, d, &o);
        CHECK(lre_trainer_accumulation_steps(t) == cfg[c].accum,
              chk_name("accumulation_steps=%d reported", cfg[c].accum), "got %d",
              lre_trainer_accumulation_steps(t));
        for (int s = 0; s < 3; s++) chk_must(ctx, lre_trainer_step(t, 0.5f, &loss[c][s]), "step");
        p[c] = chk_params(ctx, m);
        np = lre_model_num_params(m);
        if (c > 0) {
            CHECK(lre_trainer_steps(t) == 3,
                  chk_name("accumulation %d×%lld: 3 steps count as 3", cfg[c].accum,
                           (long long)cfg[c].batch),
                  "steps %lld", (long long)lre_trainer_steps(t));
        }
        lre_trainer_release(t);
        lre_model_release(m);
    }
    /* CPU: 1e-6 relative; elsewhere 1e-5 on losses, 1e-4 on parameters
     * (micro-batch GEMMs accumulate in another order than one big one) */
    for (int c = 1; c < 4; c++) {
        chk_close_ff(
            chk_name("accumulation %d micro-batches of %lld: step losses = one batch of 24",
                     cfg[c].accum, (long long)cfg[c].batch),
            loss[0], loss[c], 3, 1e-7, tol(1e-6, 1e-5));
        chk_close_ff(chk_name("accumulation %d micro-batches of %lld: params after 3 SGD steps = "
                              "one batch of 24",
                              cfg[c].accum, (long long)cfg[c].batch),
                     p[0], p[c], np, -tol(1e-6, 1e-4), tol(1e-6, 1e-4));
    }
    for (int c = 0; c < 4; c++) free(p[c]);
    lre_dataset_release(d);
}

/* ------------------------------------------------------------- batching */

/* The loss of every single row under the trainer's current parameters. */
static void row_losses(lre_trainer *t, lre_dataset *d, float *out)
{
    for (int64_t i = 0; i < lre_dataset_size(d); i++) {
        lre_dataset *one = NULL;
        chk_must(ctx, lre_dataset_subset(d, &one, 1, &i), "subset");
        chk_must(ctx, lre_trainer_evaluate(t, one, &out[i]), "evaluate one row");
        lre_dataset_release(one);
    }
}

/* Which row has this loss (-1: none within 1e-6 relative, 1e-5 off the
 * CPU; -2: ambiguous). */
static int which_row(const float *rl, int n, float loss)
{
    int found = -1;
    const float rt = (float)tol(1e-6, 1e-5);
    for (int i = 0; i < n; i++)
        if (fabsf(rl[i] - loss) <= rt * fabsf(rl[i])) found = found == -1 ? i : -2;
    return found;
}

static void test_order(void)
{
    enum { NR = 10 };
    static const int64_t sizes[] = {4, 8, 3};
    chk_rng r = {30};
    lre_dataset *d = chk_random_dataset(ctx, &r, NR, 4, 3);
    float rl[NR];
    int orders[2][2][NR]; /* [shuffle][epoch][position] = row */

    for (int shuffle = 0; shuffle < 2; shuffle++) {
        lre_model *m = chk_mlp(ctx, sizes, 3, LRE_ACT_TANH, 0);
        lre_trainer_opts o = sgd_opts(1, shuffle);
        o.seed = 6;
        lre_trainer *t = chk_trainer(ctx, m, d, &o);
        row_losses(t, d, rl);
        int distinct = 1;
        for (int i = 0; i < NR; i++) distinct &= which_row(rl, NR, rl[i]) == i;
        if (!distinct) chk_fatal("row losses", "two rows have the same loss: pick another seed");
        for (int e = 0; e < 2; e++)
            for (int k = 0; k < NR; k++) {
                float loss;
                chk_must(ctx, lre_trainer_step(t, 0, &loss), "step lr=0");
                orders[shuffle][e][k] = which_row(rl, NR, loss);
            }
        float extra;
        chk_must(ctx, lre_trainer_step(t, 0, &extra), "step lr=0");
        CHECK(lre_trainer_epoch(t) == 2 && lre_trainer_cursor(t) == 1,
              chk_name("shuffle=%d: after 21 steps of 1 row over 10 rows: epoch 2, cursor 1",
                       shuffle),
              "epoch %lld cursor %lld", (long long)lre_trainer_epoch(t),
              (long long)lre_trainer_cursor(t));
        lre_trainer_release(t);
        lre_model_release(m);
    }
    for (int e = 0; e < 2; e++) {
        int ident = 1, seen[NR] = {0}, perm = 1;
        for (int k = 0; k < NR; k++) ident &= orders[0][e][k] == k;
        CHECK(ident, chk_name("shuffle off: epoch %d visits rows 0..9 in order", e),
              "order %d %d %d %d %d %d %d %d %d %d", orders[0][e][0], orders[0][e][1],
              orders[0][e][2], orders[0][e][3], orders[0][e][4], orders[0][e][5], orders[0][e][6],
              orders[0][e][7], orders[0][e][8], orders[0][e][9]);
        for (int k = 0; k < NR; k++) {
            int w = orders[1][e][k];
            if (w < 0 || seen[w]++) perm = 0;
        }
        const int *o = orders[1][e];
        CHECK(perm, chk_name("shuffle on: epoch %d visits every row exactly once", e),
              "order %d %d %d %d %d %d %d %d %d %d (-1: no row matched)", o[0], o[1], o[2], o[3],
              o[4], o[5], o[6], o[7], o[8], o[9]);
        int id2 = 1;
        for (int k = 0; k < NR; k++) id2 &= o[k] == k;
        CHECK(!id2, chk_name("shuffle on: epoch %d is not the identity order", e),
              "rows in order 0..9");
    }
    CHECK(memcmp(orders[1][0], orders[1][1], sizeof orders[1][0]) != 0,
          "shuffle on: a new order every epoch", "epochs 0 and 1 have the same order");
    lre_dataset_release(d);
}

static void test_seeds(void)
{
    static const int64_t sizes[] = {4, 8, 3};
    chk_rng r = {31};
    lre_dataset *d = chk_random_dataset(ctx, &r, 40, 4, 3);
    float loss[3][30];
    float *p[3];
    static const uint64_t seeds[3] = {7, 7, 8};
    for (int k = 0; k < 3; k++) {
        lre_model *m = chk_mlp(ctx, sizes, 3, LRE_ACT_RELU, 0);
        chk_must(ctx, lre_model_init(m, 1), "init");
        lre_trainer_opts o = lre_trainer_opts_default();
        o.batch_size = 6; /* 40 rows: short batch of 4 every epoch */
        o.accumulation_steps = 2;
        o.seed = seeds[k];
        lre_trainer *t = chk_trainer(ctx, m, d, &o);
        for (int i = 0; i < 30; i++) chk_must(ctx, lre_trainer_step(t, 1e-2f, &loss[k][i]), "step");
        p[k] = chk_params(ctx, m);
        lre_trainer_release(t);
        lre_model_release(m);
    }
    chk_bits("same seed: 30 step losses bit-identical", loss[0], loss[1], 30);
    chk_bits("same seed: parameters bit-identical", p[0], p[1], 4 * 8 + 8 + 8 * 3 + 3);
    CHECK(memcmp(loss[0], loss[2], sizeof loss[0]) != 0, "different seeds: different batch orders",
          "seeds 7 and 8 give the same 30 losses");
    for (int k = 0; k < 3; k++) free(p[k]);
    lre_dataset_release(d);
}

static void test_drop_last(void)
{
    static const int64_t sizes[] = {4, 8, 3};
    chk_rng r = {32};
    lre_dataset *d = chk_random_dataset(ctx, &r, 10, 4, 3);
    for (int dl = 0; dl < 2; dl++) {
        lre_model *m = chk_mlp(ctx, sizes, 3, LRE_ACT_TANH, 0);
        lre_trainer_opts o = sgd_opts(4, 0);
        o.drop_last = dl;
        lre_trainer *t = chk_trainer(ctx, m, d, &o);
        float l[5];
        int64_t ep[5], cu[5];
        for (int i = 0; i < 5; i++) {
            chk_must(ctx, lre_trainer_step(t, 0, &l[i]), "step lr=0");
            ep[i] = lre_trainer_epoch(t);
            cu[i] = lre_trainer_cursor(t);
        }
        float first4, last2;
        lre_dataset *a = NULL, *b = NULL;
        int64_t idx[2] = {8, 9};
        chk_must(ctx, lre_dataset_subset(d, &a, 4, NULL), "subset 4");
        chk_must(ctx, lre_dataset_subset(d, &b, 2, idx), "subset {8,9}");
        chk_must(ctx, lre_trainer_evaluate(t, a, &first4), "evaluate");
        chk_must(ctx, lre_trainer_evaluate(t, b, &last2), "evaluate");
        const double rt = tol(1e-6, 1e-5); /* 1e-6 on the CPU, 1e-5 elsewhere */
        chk_close1(chk_name("drop_last=%d: step 1 is rows 0-3", dl), first4, l[0], 1e-7, rt);
        if (!dl) {
            chk_close1("drop_last=0: step 3 is the short batch of rows 8-9", last2, l[2], 1e-7, rt);
            chk_close1("drop_last=0: step 4 starts epoch 1 with rows 0-3", first4, l[3], 1e-7, rt);
            CHECK(ep[1] == 0 && cu[1] == 8 && ep[3] == 1 && cu[3] == 4,
                  "drop_last=0: 3 batches per epoch (epoch/cursor after steps 2 and 4)",
                  "after step 2: epoch %lld cursor %lld (want 0, 8); after step 4: %lld, %lld "
                  "(want 1, 4)",
                  (long long)ep[1], (long long)cu[1], (long long)ep[3], (long long)cu[3]);
        } else {
            chk_close1("drop_last=1: step 3 starts epoch 1 with rows 0-3", first4, l[2], 1e-7, rt);
            CHECK(ep[1] == 0 && cu[1] == 8 && ep[2] == 1 && cu[2] == 4 && ep[4] == 2 && cu[4] == 4,
                  "drop_last=1: 2 batches per epoch (epoch/cursor after steps 2, 3 and 5)",
                  "after step 2: epoch %lld cursor %lld (want 0, 8); step 3: %lld, %lld (want 1, "
                  "4); step 5: %lld, %lld (want 2, 4)",
                  (long long)ep[1], (long long)cu[1], (long long)ep[2], (long long)cu[2],
                  (long long)ep[4], (long long)cu[4]);
        }
        lre_dataset_release(a);
        lre_dataset_release(b);
        lre_trainer_release(t);
        lre_model_release(m);
    }
    lre_dataset_release(d);
}

/* ---------------------------------------------------- reseed and reinit */

static void test_reseed_reinit(void)
{
    static const int64_t sizes[] = {4, 8, 3};
    chk_rng r = {33};
    lre_dataset *d = chk_random_dataset(ctx, &r, 30, 4, 3);

    /* Reference: a fresh model initialised from 9, a fresh trainer seeded 5. */
    lre_model *m0 = chk_mlp(ctx, sizes, 3, LRE_ACT_RELU, 0);
    chk_must(ctx, lre_model_init(m0, 9), "init");
    lre_trainer_opts o = lre_trainer_opts_default();
    o.batch_size = 4;
    o.seed = 5;
    lre_trainer *t0 = chk_trainer(ctx, m0, d, &o);
    float want[12];
    for (int i = 0; i < 12; i++) chk_must(ctx, lre_trainer_step(t0, 1e-2f, &want[i]), "step");
    float *pw = chk_params(ctx, m0);

    /* Another trainer, trained elsewhere, then reinit(9) + reseed(5). */
    lre_model *m1 = chk_mlp(ctx, sizes, 3, LRE_ACT_RELU, 0);
    lre_trainer_opts o1 = o;
    o1.seed = 77;
    lre_trainer *t1 = chk_trainer(ctx, m1, d, &o1);
    float got[12];
    for (int i = 0; i < 9; i++) chk_must(ctx, lre_trainer_step(t1, 1e-2f, &got[0]), "step");
    chk_ok(ctx, lre_trainer_reinit(t1, 9), "lre_trainer_reinit runs");
    chk_ok(ctx, lre_trainer_reseed(t1, 5), "lre_trainer_reseed runs");
    CHECK(lre_trainer_epoch(t1) == 0 && lre_trainer_cursor(t1) == 0, "reseed: epoch 0, cursor 0",
          "epoch %lld cursor %lld", (long long)lre_trainer_epoch(t1),
          (long long)lre_trainer_cursor(t1));
    for (int i = 0; i < 12; i++) chk_must(ctx, lre_trainer_step(t1, 1e-2f, &got[i]), "step");
    float *pg = chk_params(ctx, m1);
    chk_bits("reinit(9)+reseed(5) then 12 Adam steps = a fresh trainer: losses", want, got, 12);
    chk_bits("reinit(9)+reseed(5) then 12 Adam steps = a fresh trainer: parameters", pw, pg,
             lre_model_num_params(m0));
    free(pw);
    free(pg);
    lre_trainer_release(t0);
    lre_trainer_release(t1);
    lre_model_release(m0);
    lre_model_release(m1);
    lre_dataset_release(d);
}

/* ------------------------------------------------------- no allocation */

static void test_no_alloc(void)
{
    static const int64_t sizes[] = {6, 32, 32, 4};
    chk_rng r = {34};
    lre_dataset *d = chk_random_dataset(ctx, &r, 37, 6, 4); /* 37 rows: short batches */
    lre_dataset *v = chk_random_dataset(ctx, &r, 23, 6, 4);
    static const lre_optim_kind kinds[] = {LRE_OPTIM_ADAM, LRE_OPTIM_SGD, LRE_OPTIM_ADAMW};
    for (int k = 0; k < 3; k++) {
        lre_model *m = chk_mlp(ctx, sizes, 4, LRE_ACT_GELU, 0);
        lre_trainer_opts o = lre_trainer_opts_default();
        o.optim = kinds[k] == LRE_OPTIM_SGD    ? lre_optim_sgd_default()
                  : kinds[k] == LRE_OPTIM_ADAM ? lre_optim_adam_default()
                                               : lre_optim_adamw_default();
        if (kinds[k] == LRE_OPTIM_SGD) o.optim.momentum = 0.9f;
        o.batch_size = 8;
        o.accumulation_steps = 2;
        o.seed = 2;
        lre_trainer *t = chk_trainer(ctx, m, d, &o);
        float loss;
        chk_must(ctx, lre_trainer_step(t, 1e-3f, &loss), "first step");
        uint64_t a0 = lre_ctx_alloc_count(ctx), b0 = lre_ctx_bytes_live(ctx);
        for (int i = 0; i < 50; i++) chk_must(ctx, lre_trainer_step(t, 1e-3f, &loss), "step");
        uint64_t a1 = lre_ctx_alloc_count(ctx), b1 = lre_ctx_bytes_live(ctx);
        const char *on = lre_optim_name(kinds[k]);
        CHECK(a1 == a0 && b1 == b0 && lre_trainer_epoch(t) >= 2,
              chk_name("%s: 50 steps after the first allocate nothing (accumulation 2, short "
                       "batches, 2+ reshuffles)",
                       on),
              "alloc count %llu -> %llu, bytes live %llu -> %llu, epoch %lld",
              (unsigned long long)a0, (unsigned long long)a1, (unsigned long long)b0,
              (unsigned long long)b1, (long long)lre_trainer_epoch(t));
        float e;
        chk_must(ctx, lre_trainer_evaluate(t, d, &e), "evaluate train");
        uint64_t a2 = lre_ctx_alloc_count(ctx), b2 = lre_ctx_bytes_live(ctx);
        CHECK(a2 == a1 && b2 == b1,
              chk_name("%s: lre_trainer_evaluate of the trainer's own data allocates nothing, "
                       "first call included", on),
              "alloc count %llu -> %llu, bytes live %llu -> %llu", (unsigned long long)a1,
              (unsigned long long)a2, (unsigned long long)b1, (unsigned long long)b2);
        /* another dataset's first pass may ready its own shapes (a oneDNN
         * primitive for its last chunk, a device copy of its rows) */
        chk_must(ctx, lre_trainer_evaluate(t, v, &e), "evaluate val (first)");
        a2 = lre_ctx_alloc_count(ctx), b2 = lre_ctx_bytes_live(ctx);
        chk_must(ctx, lre_trainer_evaluate(t, v, &e), "evaluate val");
        chk_must(ctx, lre_trainer_evaluate(t, d, &e), "evaluate train");
        uint64_t a3 = lre_ctx_alloc_count(ctx), b3 = lre_ctx_bytes_live(ctx);
        CHECK(a3 == a2 && b3 == b2,
              chk_name("%s: lre_trainer_evaluate allocates nothing after its first call on a "
                       "dataset", on),
              "alloc count %llu -> %llu, bytes live %llu -> %llu", (unsigned long long)a2,
              (unsigned long long)a3, (unsigned long long)b2, (unsigned long long)b3);
        lre_trainer_release(t);
        lre_model_release(m);
    }
    /* The counter does count: creating a tensor moves it. */
    uint64_t c0 = lre_ctx_alloc_count(ctx);
    lre_tensor *x = chk_t1(ctx, LRE_F32, 1000);
    CHECK(lre_ctx_alloc_count(ctx) > c0 && lre_ctx_bytes_live(ctx) >= 4000,
          "lre_ctx_alloc_count counts a tensor allocation", "count %llu -> %llu",
          (unsigned long long)c0, (unsigned long long)lre_ctx_alloc_count(ctx));
    uint64_t live = lre_ctx_bytes_live(ctx);
    lre_tensor_release(x);
    CHECK(lre_ctx_bytes_live(ctx) + 4000 <= live, "lre_ctx_bytes_live drops when a tensor is freed",
          "bytes live %llu -> %llu", (unsigned long long)live,
          (unsigned long long)lre_ctx_bytes_live(ctx));
    lre_dataset_release(d);
    lre_dataset_release(v);
}

/* Warm, nothing more: a step's first call runs eagerly (and sizes its
 * buffers), on CUDA the second full step is captured into a graph and
 * every later one replays it; an evaluate pass likewise per dataset (two
 * kept at once). From the third call on, 5 more steps, and 5 more
 * evaluates of each of two datasets, leave lre_ctx_alloc_count and
 * lre_ctx_bytes_live where they were. 48 rows in micro-batches of 8 with
 * accumulation 2: every step is full (3 per epoch), across 2 reshuffles. */
static void test_no_alloc_warm(void)
{
    static const int64_t sizes[] = {6, 32, 32, 4};
    chk_rng r = {35};
    lre_dataset *d = chk_random_dataset(ctx, &r, 48, 6, 4);
    lre_dataset *v = chk_random_dataset(ctx, &r, 23, 6, 4);
    static const lre_optim_kind kinds[] = {LRE_OPTIM_ADAM, LRE_OPTIM_SGD, LRE_OPTIM_ADAMW};
    for (int k = 0; k < 3; k++) {
        lre_model *m = chk_mlp(ctx, sizes, 4, LRE_ACT_GELU, 0);
        lre_trainer_opts o = lre_trainer_opts_default();
        o.optim = kinds[k] == LRE_OPTIM_SGD    ? lre_optim_sgd_default()
                  : kinds[k] == LRE_OPTIM_ADAM ? lre_optim_adam_default()
                                               : lre_optim_adamw_default();
        if (kinds[k] == LRE_OPTIM_SGD) o.optim.momentum = 0.9f;
        o.batch_size = 8;
        o.accumulation_steps = 2;
        o.seed = 3;
        lre_trainer *t = chk_trainer(ctx, m, d, &o);
        const char *on = lre_optim_name(kinds[k]);
        float loss, e;
        int ok = 1;
        for (int i = 0; i < 2; i++) chk_must(ctx, lre_trainer_step(t, 1e-3f, &loss), "step 1-2");
        uint64_t a0 = lre_ctx_alloc_count(ctx), b0 = lre_ctx_bytes_live(ctx);
        for (int i = 0; i < 5; i++) {
            chk_must(ctx, lre_trainer_step(t, 1e-3f, &loss), "step 3-7");
            ok = ok && isfinite(loss);
        }
        uint64_t a1 = lre_ctx_alloc_count(ctx), b1 = lre_ctx_bytes_live(ctx);
        CHECK(a1 == a0 && b1 == b0 && ok && lre_trainer_epoch(t) == 2,
              chk_name("%s: steps 3-7 allocate nothing (after the first two: eager, captured)", on),
              "alloc count %llu -> %llu, bytes live %llu -> %llu, finite losses %d, epoch %lld "
              "(want 2)",
              (unsigned long long)a0, (unsigned long long)a1, (unsigned long long)b0,
              (unsigned long long)b1, ok, (long long)lre_trainer_epoch(t));
        for (int i = 0; i < 2; i++) {
            chk_must(ctx, lre_trainer_evaluate(t, d, &e), "evaluate train, calls 1-2");
            chk_must(ctx, lre_trainer_evaluate(t, v, &e), "evaluate val, calls 1-2");
        }
        uint64_t a2 = lre_ctx_alloc_count(ctx), b2 = lre_ctx_bytes_live(ctx);
        for (int i = 0; i < 5; i++) {
            chk_must(ctx, lre_trainer_evaluate(t, d, &e), "evaluate train, calls 3-7");
            ok = ok && isfinite(e);
            chk_must(ctx, lre_trainer_evaluate(t, v, &e), "evaluate val, calls 3-7");
            ok = ok && isfinite(e);
        }
        uint64_t a3 = lre_ctx_alloc_count(ctx), b3 = lre_ctx_bytes_live(ctx);
        CHECK(a3 == a2 && b3 == b2 && ok,
              chk_name("%s: evaluate calls 3-7 on each of two datasets allocate nothing", on),
              "alloc count %llu -> %llu, bytes live %llu -> %llu, finite losses %d",
              (unsigned long long)a2, (unsigned long long)a3, (unsigned long long)b2,
              (unsigned long long)b3, ok);
        printf("# %s%s: graphs %s\n", chk_tag(), on, lre_trainer_graphs(t) ? "on" : "off");
        lre_trainer_release(t);
        lre_model_release(m);
    }
    lre_dataset_release(d);
    lre_dataset_release(v);
}

int main(void)
{
    CHK_FOR_EACH_DEVICE(dev)
    {
        dev_now = dev;
        ctx = chk_ctx_on(dev, 1);
        test_learns();
        test_reference();
        test_model();
        test_evaluate_pure();
        test_accumulation();
        test_order();
        test_seeds();
        test_drop_last();
        test_reseed_reinit();
        test_no_alloc();
        test_no_alloc_warm();
        lre_ctx_release(ctx);
    }
    return chk_done("test_trainer");
}
