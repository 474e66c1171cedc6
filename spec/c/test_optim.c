/*
 * test_optim.c — lre_optim_update against torch.optim's published update
 * rules, recomputed here in double precision.
 *
 * From the torch.optim documentation (SGD, Adam, AdamW pages; foreach=False,
 * maximize=False, amsgrad=False), with γ the lr of the step, λ the weight
 * decay, t the 1-based step:
 *   SGD:   g ← g + λθ;  if μ ≠ 0: b ← g at t = 1, else b ← μb + (1−τ)g;
 *          g ← g + μb (nesterov) or g ← b;  θ ← θ − γg
 *   Adam:  g ← g + λθ;  m ← β1·m + (1−β1)g;  v ← β2·v + (1−β2)g²;
 *          θ ← θ − γ·(m/(1−β1^t)) / (√(v/(1−β2^t)) + ε)
 *   AdamW: θ ← θ − γλθ;  then Adam's m, v and θ update without the g ← g + λθ.
 * Each case runs 7 steps with a new gradient and a new learning rate every
 * step (a range test raises lr every step), on 37 parameters (not a
 * multiple of any vector width), and compares parameters and both state
 * buffers after every step: 2e-6 relative plus 1e-6 of the buffer's largest
 * element (the engine runs in f32, and torch's own lerp form of the moment
 * update, m + (1-β1)(g-m), loses ~1 ulp of the largest term where terms
 * cancel; the reference is fed the engine's own f32 inputs each step).
 * Then the defaults and lre_optim_config_check's refusals.
 * The updates and the refusals run once per device (CHK_FOR_EACH_DEVICE,
 * check.h; tensors are filled and read through host copies); the defaults,
 * plain structs, once (names without a device).
 */
#include "check.h"

static lre_ctx *ctx;

enum { N = 37, STEPS = 7 };

typedef struct ref_state {
    double p[N], s1[N], s2[N];
} ref_state;

/* One torch.optim step in double (chk_ref_optim_step, check.h), fed the
 * f32 gradient. */
static void ref_step(const lre_optim_config *c, double lr, int64_t t, ref_state *r,
                     const float *grad)
{
    double g[N];
    for (int i = 0; i < N; i++) g[i] = grad[i];
    chk_ref_optim_step(c, lr, t, r->p, r->s1, r->s2, g, N);
}

static void run_case(const char *name, lre_optim_config c, uint64_t seed)
{
    static const float lrs[STEPS] = {0.1f, 0.05f, 0.2f, 1e-3f, 0.3f, 0.01f, 0.15f};
    chk_rng g = {seed};
    lre_tensor *p = chk_t1(ctx, LRE_F32, N), *gr = chk_t1(ctx, LRE_F32, N);
    lre_tensor *s1 = chk_t1(ctx, LRE_F32, N), *s2 = chk_t1(ctx, LRE_F32, N);
    ref_state r;
    memset(&r, 0, sizeof r);
    float P[N], S1[N], S2[N], G[N];
    chk_fill(&g, P, N, -2, 2);
    P[0] = 0; /* a zero parameter: decay and momentum of zero */
    chk_write(ctx, p, P);

    int ok_all = 1;
    for (int64_t t = 1; t <= STEPS && ok_all; t++) {
        /* The reference continues from the engine's f32 values, so each
         * comparison measures one step's error, not 7 steps' drift. */
        chk_read(ctx, p, P);
        chk_read(ctx, s1, S1);
        chk_read(ctx, s2, S2);
        for (int i = 0; i < N; i++) {
            r.p[i] = P[i];
            r.s1[i] = S1[i];
            r.s2[i] = S2[i];
        }
        float gsave[N];
        chk_fill(&g, gsave, N, -1, 1);
        gsave[1] = 0;                 /* a zero gradient */
        gsave[2] = t % 2 ? 1e-4f : 3; /* tiny then large (Adam's scale) */
        chk_write(ctx, gr, gsave);
        ref_step(&c, lrs[t - 1], t, &r, gsave);
        lre_status s = lre_optim_update(ctx, &c, lrs[t - 1], t, p, gr, s1, s2);
        if (s != LRE_OK) {
            ok_all = chk_ok(ctx, s, chk_name("%s: step %lld runs", name, (long long)t));
            break;
        }
        chk_read(ctx, p, P);
        chk_read(ctx, s1, S1);
        chk_read(ctx, s2, S2);
        chk_read(ctx, gr, G);
        ok_all &= chk_close(chk_name("%s: params after step %lld", name, (long long)t), r.p, P, N,
                            -1e-6, 2e-6);
        int has1 = c.kind != LRE_OPTIM_SGD || c.momentum != 0;
        if (has1)
            ok_all &=
                chk_close(chk_name("%s: state1 (%s) after step %lld", name,
                                   c.kind == LRE_OPTIM_SGD ? "momentum" : "exp_avg", (long long)t),
                          r.s1, S1, N, -1e-6, 2e-6);
        if (c.kind != LRE_OPTIM_SGD)
            ok_all &=
                chk_close(chk_name("%s: state2 (exp_avg_sq) after step %lld", name, (long long)t),
                          r.s2, S2, N, -1e-6, 2e-6);
        ok_all &= chk_bits(chk_name("%s: gradient unchanged by step %lld", name, (long long)t),
                           gsave, G, N);
    }

    /* And the drift over all 7 steps from one double run, for the record:
     * with the same inputs it must stay within 1e-5 relative. */
    memset(&r, 0, sizeof r);
    chk_rng g2 = {seed};
    float p0[N];
    chk_fill(&g2, p0, N, -2, 2);
    p0[0] = 0;
    for (int i = 0; i < N; i++) r.p[i] = p0[i];
    static const float zeros[N];
    chk_write(ctx, p, p0);
    chk_write(ctx, s1, zeros);
    chk_write(ctx, s2, zeros);
    for (int64_t t = 1; t <= STEPS; t++) {
        chk_fill(&g2, G, N, -1, 1);
        G[1] = 0;
        G[2] = t % 2 ? 1e-4f : 3;
        chk_write(ctx, gr, G);
        ref_step(&c, lrs[t - 1], t, &r, G);
        chk_must(ctx, lre_optim_update(ctx, &c, lrs[t - 1], t, p, gr, s1, s2), name);
    }
    chk_read(ctx, p, P);
    chk_close(chk_name("%s: params after 7 steps vs one double-precision run", name), r.p, P, N,
              -2e-6, 1e-5);

    lre_tensor_release(p);
    lre_tensor_release(gr);
    lre_tensor_release(s1);
    lre_tensor_release(s2);
}

static void test_updates(void)
{
    lre_optim_config c;

    c = lre_optim_sgd_default();
    run_case("SGD plain", c, 1);
    c.weight_decay = 0.1f;
    run_case("SGD weight_decay=0.1", c, 2);
    c = lre_optim_sgd_default();
    c.momentum = 0.9f;
    run_case("SGD momentum=0.9", c, 3);
    c.dampening = 0.3f;
    run_case("SGD momentum=0.9 dampening=0.3", c, 4);
    c = lre_optim_sgd_default();
    c.momentum = 0.9f;
    c.nesterov = 1;
    run_case("SGD nesterov momentum=0.9", c, 5);
    c.weight_decay = 0.01f;
    run_case("SGD nesterov momentum=0.9 weight_decay=0.01", c, 6);
    c = lre_optim_sgd_default();
    c.momentum = 0.5f;
    c.dampening = 0.5f;
    c.weight_decay = 0.05f;
    run_case("SGD momentum=0.5 dampening=0.5 weight_decay=0.05", c, 7);

    c = lre_optim_adam_default();
    run_case("Adam defaults", c, 8);
    c.weight_decay = 1e-2f;
    run_case("Adam weight_decay=1e-2 (coupled L2)", c, 9);
    c = lre_optim_adam_default();
    c.beta1 = 0.8f;
    c.beta2 = 0.99f;
    c.eps = 0.1f; /* large: pins ε outside the square root, after bias correction */
    c.weight_decay = 0.1f;
    run_case("Adam betas=(0.8,0.99) eps=0.1 weight_decay=0.1", c, 10);
    c = lre_optim_adam_default();
    c.beta1 = 0;
    run_case("Adam beta1=0", c, 11);

    c = lre_optim_adamw_default();
    run_case("AdamW defaults (weight_decay=1e-2, decoupled)", c, 12);
    c.weight_decay = 0.3f;
    c.beta1 = 0.5f;
    c.beta2 = 0.9f;
    c.eps = 1e-3f;
    run_case("AdamW weight_decay=0.3 betas=(0.5,0.9) eps=1e-3", c, 13);

    /* AdamW with λ = 0 is Adam with λ = 0, bit for bit. */
    {
        lre_optim_config a = lre_optim_adam_default(), w = lre_optim_adamw_default();
        w.weight_decay = 0;
        chk_rng g = {99};
        lre_tensor *pa = chk_t1(ctx, LRE_F32, N), *pw = chk_t1(ctx, LRE_F32, N);
        lre_tensor *gr = chk_t1(ctx, LRE_F32, N);
        lre_tensor *ma = chk_t1(ctx, LRE_F32, N), *va = chk_t1(ctx, LRE_F32, N);
        lre_tensor *mw = chk_t1(ctx, LRE_F32, N), *vw = chk_t1(ctx, LRE_F32, N);
        float P[N], G[N], PA[N], PW[N];
        chk_fill(&g, P, N, -1, 1);
        chk_write(ctx, pa, P);
        chk_write(ctx, pw, P);
        for (int t = 1; t <= 5; t++) {
            chk_fill(&g, G, N, -1, 1);
            chk_write(ctx, gr, G);
            chk_must(ctx, lre_optim_update(ctx, &a, 0.01f, t, pa, gr, ma, va), "adam");
            chk_must(ctx, lre_optim_update(ctx, &w, 0.01f, t, pw, gr, mw, vw), "adamw");
        }
        chk_read(ctx, pa, PA);
        chk_read(ctx, pw, PW);
        chk_bits("AdamW weight_decay=0 equals Adam weight_decay=0", PA, PW, N);
        lre_tensor *ts[] = {pa, pw, gr, ma, va, mw, vw};
        for (int i = 0; i < 7; i++) lre_tensor_release(ts[i]);
    }

    /* Coupled and decoupled decay differ (the point of having both). */
    {
        lre_optim_config a = lre_optim_adam_default(), w = lre_optim_adamw_default();
        a.weight_decay = w.weight_decay = 0.1f;
        lre_tensor *pa = chk_t1(ctx, LRE_F32, N), *pw = chk_t1(ctx, LRE_F32, N);
        lre_tensor *gr = chk_t1(ctx, LRE_F32, N);
        lre_tensor *ma = chk_t1(ctx, LRE_F32, N), *va = chk_t1(ctx, LRE_F32, N);
        lre_tensor *mw = chk_t1(ctx, LRE_F32, N), *vw = chk_t1(ctx, LRE_F32, N);
        float P[N], G[N], PA[N], PW[N];
        for (int i = 0; i < N; i++) P[i] = 1, G[i] = 0.5f;
        chk_write(ctx, pa, P);
        chk_write(ctx, pw, P);
        chk_write(ctx, gr, G);
        for (int t = 1; t <= 3; t++) {
            chk_must(ctx, lre_optim_update(ctx, &a, 0.1f, t, pa, gr, ma, va), "adam");
            chk_must(ctx, lre_optim_update(ctx, &w, 0.1f, t, pw, gr, mw, vw), "adamw");
        }
        chk_read(ctx, pa, PA);
        chk_read(ctx, pw, PW);
        CHECK(fabsf(PA[0] - PW[0]) > 1e-4f,
              "Adam (coupled L2) and AdamW (decoupled) differ with weight_decay=0.1",
              "both give %.9g after 3 steps", (double)PA[0]);
        lre_tensor *ts[] = {pa, pw, gr, ma, va, mw, vw};
        for (int i = 0; i < 7; i++) lre_tensor_release(ts[i]);
    }
}

static void test_defaults(void)
{
    lre_optim_config s = lre_optim_sgd_default(), a = lre_optim_adam_default(),
                     w = lre_optim_adamw_default();
    CHECK(s.kind == LRE_OPTIM_SGD && s.momentum == 0 && s.dampening == 0 && s.nesterov == 0 &&
              s.weight_decay == 0,
          "lre_optim_sgd_default is torch's (momentum 0, dampening 0, nesterov off, wd 0)",
          "kind %d momentum %g dampening %g nesterov %d wd %g", (int)s.kind, (double)s.momentum,
          (double)s.dampening, s.nesterov, (double)s.weight_decay);
    CHECK(a.kind == LRE_OPTIM_ADAM && a.beta1 == 0.9 && a.beta2 == 0.999 && a.eps == 1e-8 &&
              a.weight_decay == 0,
          "lre_optim_adam_default is torch's (betas (0.9, 0.999), eps 1e-8, wd 0)",
          "kind %d betas (%.9g, %.9g) eps %.9g wd %.9g", (int)a.kind, (double)a.beta1,
          (double)a.beta2, (double)a.eps, (double)a.weight_decay);
    CHECK(w.kind == LRE_OPTIM_ADAMW && w.beta1 == 0.9 && w.beta2 == 0.999 && w.eps == 1e-8 &&
              w.weight_decay == 0.01,
          "lre_optim_adamw_default is torch's (betas (0.9, 0.999), eps 1e-8, wd 0.01)",
          "kind %d betas (%.9g, %.9g) eps %.9g wd %.9g", (int)w.kind, (double)w.beta1,
          (double)w.beta2, (double)w.eps, (double)w.weight_decay);
    const char *ns = lre_optim_name(LRE_OPTIM_SGD), *na = lre_optim_name(LRE_OPTIM_ADAM),
               *nw = lre_optim_name(LRE_OPTIM_ADAMW);
    CHECK(ns && na && nw && chk_stristr(ns, "sgd") && chk_stristr(nw, "adamw") &&
              chk_stristr(na, "adam") && !chk_stristr(na, "adamw"),
          "lre_optim_name: sgd, adam, adamw", "got \"%s\", \"%s\", \"%s\"", ns ? ns : "NULL",
          na ? na : "NULL", nw ? nw : "NULL");
    lre_trainer_opts o = lre_trainer_opts_default();
    CHECK(o.optim.kind == LRE_OPTIM_ADAM && o.optim.beta1 == 0.9 && o.optim.beta2 == 0.999 &&
              o.optim.eps == 1e-8 && o.optim.weight_decay == 0,
          "lre_trainer_opts_default's optimizer is Adam with torch's defaults", "kind %d wd %g",
          (int)o.optim.kind, (double)o.optim.weight_decay);
}

static void test_config_check(void)
{
    lre_optim_config c;
    chk_ok(ctx, lre_optim_config_check(ctx, &(lre_optim_config){.kind = LRE_OPTIM_SGD}),
           "config_check: an all-zero SGD config is valid");
    c = lre_optim_sgd_default();
    chk_ok(ctx, lre_optim_config_check(ctx, &c), "config_check: SGD default is valid");
    c = lre_optim_adam_default();
    chk_ok(ctx, lre_optim_config_check(ctx, &c), "config_check: Adam default is valid");
    c = lre_optim_adamw_default();
    chk_ok(ctx, lre_optim_config_check(ctx, &c), "config_check: AdamW default is valid");
    c = lre_optim_sgd_default();
    c.momentum = 0.9f;
    c.nesterov = 1;
    chk_ok(ctx, lre_optim_config_check(ctx, &c),
           "config_check: nesterov with momentum 0.9, dampening 0 is valid");
    c = lre_optim_adam_default();
    c.beta1 = 0;
    c.beta2 = 0;
    c.eps = 0;
    chk_ok(ctx, lre_optim_config_check(ctx, &c), "config_check: betas (0, 0), eps 0 are valid");

    c = lre_optim_sgd_default();
    c.nesterov = 1;
    chk_err(ctx, lre_optim_config_check(ctx, &c), LRE_EINVAL,
            "config_check: nesterov without momentum is refused, naming nesterov", "nesterov",
            (char *)NULL);
    c.momentum = 0.9f;
    c.dampening = 0.1f;
    chk_err(ctx, lre_optim_config_check(ctx, &c), LRE_EINVAL,
            "config_check: nesterov with dampening is refused, naming dampening", "dampening",
            (char *)NULL);
    c = lre_optim_sgd_default();
    c.momentum = -0.5f;
    chk_err(ctx, lre_optim_config_check(ctx, &c), LRE_EINVAL,
            "config_check: momentum < 0 is refused, naming momentum", "momentum", (char *)NULL);
    c = lre_optim_sgd_default();
    c.weight_decay = -1e-3f;
    chk_err(ctx, lre_optim_config_check(ctx, &c), LRE_EINVAL,
            "config_check: SGD weight_decay < 0 is refused, naming weight_decay", "weight_decay",
            (char *)NULL);

    static const struct {
        const char *field;
        float beta1, beta2, eps, wd;
    } bad[] = {
        {"beta", 1.0f, 0.999f, 1e-8f, 0},
        {"beta", -0.1f, 0.999f, 1e-8f, 0},
        {"beta", 0.9f, 1.0f, 1e-8f, 0},
        {"beta", 0.9f, -1e-3f, 1e-8f, 0},
        {"eps", 0.9f, 0.999f, -1e-8f, 0},
        {"weight_decay", 0.9f, 0.999f, 1e-8f, -0.01f},
        {"beta", NAN, 0.999f, 1e-8f, 0},
        {"eps", 0.9f, 0.999f, NAN, 0},
        {"weight_decay", 0.9f, 0.999f, 1e-8f, NAN},
    };
    for (int kind = LRE_OPTIM_ADAM; kind <= LRE_OPTIM_ADAMW; kind++)
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            c = kind == LRE_OPTIM_ADAM ? lre_optim_adam_default() : lre_optim_adamw_default();
            c.beta1 = bad[i].beta1;
            c.beta2 = bad[i].beta2;
            c.eps = bad[i].eps;
            c.weight_decay = bad[i].wd;
            chk_err(ctx, lre_optim_config_check(ctx, &c), LRE_EINVAL,
                    chk_name("config_check: %s betas (%g, %g) eps %g wd %g is refused, naming %s",
                             lre_optim_name((lre_optim_kind)kind), (double)bad[i].beta1,
                             (double)bad[i].beta2, (double)bad[i].eps, (double)bad[i].wd,
                             bad[i].field),
                    bad[i].field, (char *)NULL);
        }
    c = lre_optim_sgd_default();
    c.momentum = NAN;
    chk_err(ctx, lre_optim_config_check(ctx, &c), LRE_EINVAL,
            "config_check: momentum NaN is refused", "momentum", (char *)NULL);
    c = lre_optim_sgd_default();
    c.kind = LRE_OPTIM_COUNT;
    chk_err(ctx, lre_optim_config_check(ctx, &c), LRE_EINVAL,
            "config_check: unknown optimizer kind is refused", (char *)NULL);

    /* lre_optim_update checks the configuration too. */
    lre_tensor *p = chk_t1(ctx, LRE_F32, N), *g = chk_t1(ctx, LRE_F32, N);
    lre_tensor *s1 = chk_t1(ctx, LRE_F32, N), *s2 = chk_t1(ctx, LRE_F32, N);
    c = lre_optim_sgd_default();
    c.nesterov = 1;
    chk_err(ctx, lre_optim_update(ctx, &c, 0.1f, 1, p, g, s1, s2), LRE_EINVAL,
            "lre_optim_update refuses an invalid configuration", "nesterov", (char *)NULL);
    lre_tensor_release(p);
    lre_tensor_release(g);
    lre_tensor_release(s1);
    lre_tensor_release(s2);
}

int main(void)
{
    CHK_FOR_EACH_DEVICE(dev)
    {
        ctx = chk_ctx_on(dev, 1);
        test_updates();
        test_config_check();
        lre_ctx_release(ctx);
    }
    test_defaults();
    return chk_done("test_optim");
}
