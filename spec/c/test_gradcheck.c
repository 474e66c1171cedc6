/*
 * test_gradcheck.c — every op's forward against a double-precision
 * reference, and every backward against central finite differences.
 *
 * Two finite-difference modes, both central:
 *   - f32: perturb the engine's own f32 input and re-run the engine's
 *     forward; the scalar L = Σ r ⊙ out (r a fixed random "upstream
 *     gradient") is summed in double. Matmul and linear are linear in each
 *     input, so any step is exact up to rounding (h = 0.25, tolerance 2e-4
 *     abs + 1e-4 rel). Smooth activations and the losses use h = 1e-2 or
 *     2e-2 with 1e-2 relative tolerance (plus an absolute floor of 1e-4 or
 *     5e-5 for the f32 rounding of L divided by 2h); ReLU/LeakyReLU inputs
 *     stay at least 0.05 from the kink, so no step crosses it.
 *   - f64: perturb a double copy of the inputs of a double-precision
 *     reference of the same function (h = 1e-6), so the only error left is
 *     the f32 rounding of the engine's gradient (1e-5 relative; for the
 *     MLP, whose gradients span decades across layers, 1e-4 relative plus
 *     1e-4 of each tensor's largest element).
 * The whole-MLP check reads the gradients that one trainer step with plain
 * SGD at lr = 0 leaves in lre_model_grads (the step must not move the
 * parameters), against both modes: a double-precision forward of the same
 * network written here, and the engine's own lre_trainer_evaluate.
 *
 * Every check runs once per device (CHK_FOR_EACH_DEVICE, check.h), on the
 * same inputs; tensors are filled and read through host copies (in f32 mode
 * the perturbed input is uploaded before each evaluation: chk_fd_tensor).
 */
#include "check.h"

static lre_ctx *ctx;
static chk_rng rng = {20240601};

/* Σ r ⊙ y in double, r on the host, y a tensor (downloaded). */
static double dot_rt(const float *r, const lre_tensor *y)
{
    int64_t n = lre_tensor_numel(y);
    float *h = chk_download(ctx, y);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)r[i] * h[i];
    free(h);
    return s;
}

/* ---------------------------------------------------------------- matmul */

typedef struct mm_case {
    lre_tensor *a, *b, *c;
    const float *r;  /* host: the upstream gradient */
    const float *c0; /* beta = 1: c's content before each product */
    int ta, tb;
    float beta;
} mm_case;

static double mm_loss(void *ud)
{
    mm_case *k = ud;
    if (k->beta != 0) chk_write(ctx, k->c, k->c0);
    chk_must(ctx, lre_matmul(ctx, k->c, k->a, k->ta, k->b, k->tb, k->beta), "lre_matmul (fd)");
    return dot_rt(k->r, k->c);
}

static void test_matmul(void)
{
    const int64_t M = 5, K = 7, N = 3;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int bi = 0; bi < 2; bi++) {
                float beta = (float)bi;
                const char *tag = chk_name("matmul ta=%d tb=%d beta=%g", ta, tb, (double)beta);
                char tagc[96];
                snprintf(tagc, sizeof tagc, "%s", tag);
                lre_tensor *a = ta ? chk_t2(ctx, LRE_F32, K, M) : chk_t2(ctx, LRE_F32, M, K);
                lre_tensor *b = tb ? chk_t2(ctx, LRE_F32, N, K) : chk_t2(ctx, LRE_F32, K, N);
                lre_tensor *c = chk_t2(ctx, LRE_F32, M, N), *r = chk_t2(ctx, LRE_F32, M, N);
                lre_tensor *da = ta ? chk_t2(ctx, LRE_F32, K, M) : chk_t2(ctx, LRE_F32, M, K);
                lre_tensor *db = tb ? chk_t2(ctx, LRE_F32, N, K) : chk_t2(ctx, LRE_F32, K, N);
                float A[5 * 7], B[7 * 3], R[5 * 3], c0[5 * 3], cinit[5 * 3];
                chk_fill(&rng, A, M * K, -1, 1);
                chk_fill(&rng, B, K * N, -1, 1);
                chk_fill(&rng, R, M * N, -1, 1);
                chk_fill(&rng, c0, M * N, -1, 1);
                chk_write(ctx, a, A);
                chk_write(ctx, b, B);
                chk_write(ctx, r, R);
                /* beta = 0 must overwrite whatever c held, NaN included
                 * (after a blown-up step the buffers hold NaN). */
                for (int64_t i = 0; i < M * N; i++) cinit[i] = beta != 0 ? c0[i] : NAN;
                chk_write(ctx, c, cinit);

                chk_ok(ctx, lre_matmul(ctx, c, a, ta, b, tb, beta), chk_name("%s runs", tagc));
                double want[5 * 3];
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0; j < N; j++) {
                        double s = beta != 0 ? c0[i * N + j] : 0.0;
                        for (int64_t k = 0; k < K; k++)
                            s += (double)(ta ? A[k * M + i] : A[i * K + k]) *
                                 (tb ? B[j * K + k] : B[k * N + j]);
                        want[i * N + j] = s;
                    }
                float *C = chk_download(ctx, c);
                chk_close(chk_name("%s forward vs double", tagc), want, C, M * N, 1e-6, 1e-5);
                free(C);

                /* Gradients of L = Σ r ⊙ c, through matmul itself:
                 * dA = r·op(B)^T (stored transposed when ta),
                 * dB = op(A)^T·r (stored transposed when tb). */
                if (ta)
                    chk_must(ctx, lre_matmul(ctx, da, b, tb, r, 1, 0), "dA");
                else
                    chk_must(ctx, lre_matmul(ctx, da, r, 0, b, !tb, 0), "dA");
                if (tb)
                    chk_must(ctx, lre_matmul(ctx, db, r, 1, a, ta, 0), "dB");
                else
                    chk_must(ctx, lre_matmul(ctx, db, a, !ta, r, 0, 0), "dB");

                mm_case mc = {a, b, c, R, c0, ta, tb, beta};
                float *DA = chk_download(ctx, da), *DB = chk_download(ctx, db);
                chk_fd_tensor(chk_name("%s dL/da vs finite differences", tagc), ctx, a, 1, DA,
                              mm_loss, &mc, 0.25f, 2e-4, 1e-4);
                chk_fd_tensor(chk_name("%s dL/db vs finite differences", tagc), ctx, b, 1, DB,
                              mm_loss, &mc, 0.25f, 2e-4, 1e-4);
                free(DA);
                free(DB);

                lre_tensor *ts[] = {a, b, c, r, da, db};
                for (size_t i = 0; i < 6; i++) lre_tensor_release(ts[i]);
            }
}

/* ---------------------------------------------------------------- linear */

typedef struct lin_case {
    lre_tensor *x, *w, *b, *y;
    const float *r; /* host */
} lin_case;

static double lin_loss(void *ud)
{
    lin_case *k = ud;
    chk_must(ctx, lre_linear_forward(ctx, k->y, k->x, k->w, k->b), "lre_linear_forward (fd)");
    return dot_rt(k->r, k->y);
}

static void test_linear(void)
{
    const int64_t B = 4, IN = 5, OUT = 3;
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        const char *tag = with_bias ? "linear (bias)" : "linear (no bias)";
        lre_tensor *x = chk_t2(ctx, LRE_F32, B, IN), *w = chk_t2(ctx, LRE_F32, OUT, IN);
        lre_tensor *b = with_bias ? chk_t1(ctx, LRE_F32, OUT) : NULL;
        lre_tensor *y = chk_t2(ctx, LRE_F32, B, OUT), *r = chk_t2(ctx, LRE_F32, B, OUT);
        lre_tensor *dx = chk_t2(ctx, LRE_F32, B, IN), *dw = chk_t2(ctx, LRE_F32, OUT, IN);
        lre_tensor *db = chk_t1(ctx, LRE_F32, OUT);
        float X[4 * 5], W[3 * 5], Bv[3] = {0}, R[4 * 3];
        chk_fill(&rng, X, B * IN, -1, 1);
        chk_fill(&rng, W, OUT * IN, -1, 1);
        if (b) chk_fill(&rng, Bv, OUT, -1, 1);
        chk_fill(&rng, R, B * OUT, -1, 1);
        chk_write(ctx, x, X);
        chk_write(ctx, w, W);
        if (b) chk_write(ctx, b, Bv);
        chk_write(ctx, r, R);
        chk_set_all(ctx, y, NAN);

        chk_ok(ctx, lre_linear_forward(ctx, y, x, w, b), chk_name("%s forward runs", tag));
        double want[4 * 3];
        for (int64_t i = 0; i < B; i++)
            for (int64_t o = 0; o < OUT; o++) {
                double s = b ? Bv[o] : 0.0;
                for (int64_t k = 0; k < IN; k++) s += (double)X[i * IN + k] * W[o * IN + k];
                want[i * OUT + o] = s;
            }
        float *Y = chk_download(ctx, y);
        chk_close(chk_name("%s forward vs double x·w^T+b", tag), want, Y, B * OUT, 1e-6, 1e-5);
        free(Y);

        /* Backward with dy = r into NaN-filled outputs (must overwrite). */
        chk_set_all(ctx, dx, NAN);
        chk_set_all(ctx, dw, NAN);
        chk_set_all(ctx, db, NAN);
        chk_ok(ctx, lre_linear_backward(ctx, dx, dw, b ? db : NULL, r, x, w, 0),
               chk_name("%s backward runs", tag));
        float *g_dx = chk_download(ctx, dx), *g_dw = chk_download(ctx, dw);
        float *g_db = chk_download(ctx, db);
        lin_case lc = {x, w, b, y, R};
        chk_fd_tensor(chk_name("%s dx vs finite differences", tag), ctx, x, 1, g_dx, lin_loss, &lc,
                      0.25f, 2e-4, 1e-4);
        chk_fd_tensor(chk_name("%s dw vs finite differences", tag), ctx, w, 1, g_dw, lin_loss, &lc,
                      0.25f, 2e-4, 1e-4);
        if (b)
            chk_fd_tensor(chk_name("%s db vs finite differences", tag), ctx, b, 1, g_db, lin_loss,
                          &lc, 0.25f, 2e-4, 1e-4);

        /* accumulate = 1 adds into dw and db; dx (not a parameter
         * gradient) is still overwritten. */
        float dw0[3 * 5], db0[3];
        chk_fill(&rng, dw0, OUT * IN, -1, 1);
        chk_fill(&rng, db0, OUT, -1, 1);
        chk_write(ctx, dw, dw0);
        chk_write(ctx, db, db0);
        chk_set_all(ctx, dx, NAN);
        chk_ok(ctx, lre_linear_backward(ctx, dx, dw, b ? db : NULL, r, x, w, 1),
               chk_name("%s backward accumulate runs", tag));
        double wdw[3 * 5], wdb[3];
        for (int64_t i = 0; i < OUT * IN; i++) wdw[i] = (double)dw0[i] + g_dw[i];
        for (int64_t i = 0; i < OUT; i++) wdb[i] = (double)db0[i] + g_db[i];
        float *a_dx = chk_download(ctx, dx), *a_dw = chk_download(ctx, dw);
        float *a_db = chk_download(ctx, db);
        chk_close(chk_name("%s accumulate: dw = dw0 + dy^T·x", tag), wdw, a_dw, OUT * IN, 1e-6,
                  1e-6);
        if (b)
            chk_close(chk_name("%s accumulate: db = db0 + Σ dy", tag), wdb, a_db, OUT, 1e-6, 1e-6);
        chk_close_ff(chk_name("%s accumulate: dx overwritten", tag), g_dx, a_dx, B * IN, 0, 0);
        free(a_dx);
        free(a_dw);
        free(a_db);

        /* dx = NULL (first layer) and db = NULL leave dw the same. */
        chk_set_all(ctx, dw, NAN);
        chk_ok(ctx, lre_linear_backward(ctx, NULL, dw, NULL, r, x, w, 0),
               chk_name("%s backward with dx=NULL, db=NULL runs", tag));
        float *n_dw = chk_download(ctx, dw);
        chk_close_ff(chk_name("%s dx=NULL, db=NULL: same dw", tag), g_dw, n_dw, OUT * IN, 0, 0);
        free(n_dw);

        free(g_dx);
        free(g_dw);
        free(g_db);
        lre_tensor *ts[] = {x, w, y, r, dx, dw, db};
        for (size_t i = 0; i < 7; i++) lre_tensor_release(ts[i]);
        if (b) lre_tensor_release(b);
    }
}

/* ----------------------------------------------------------- activations */

typedef struct act_case {
    lre_act a;
    float p;
    lre_tensor *x, *y;
    const float *r; /* host */
} act_case;

static double act_loss(void *ud)
{
    act_case *k = ud;
    chk_must(ctx, lre_act_forward(ctx, k->a, k->p, k->y, k->x), "lre_act_forward (fd)");
    return dot_rt(k->r, k->y);
}

static void test_act_one(lre_act a, float p)
{
    const char *tag = chk_name("%s(%g)", lre_act_name(a), (double)p);
    char t[64];
    snprintf(t, sizeof t, "%s", tag);
    const int64_t n = 2 * 3 * 4;
    int kinked = a == LRE_ACT_RELU || a == LRE_ACT_LEAKY_RELU;
    /* Any shape: a 3-D tensor. */
    lre_tensor *x = chk_t3(ctx, LRE_F32, 2, 3, 4), *y = chk_t3(ctx, LRE_F32, 2, 3, 4);
    lre_tensor *r = chk_t3(ctx, LRE_F32, 2, 3, 4), *dx = chk_t3(ctx, LRE_F32, 2, 3, 4);
    float X[24], R[24];
    if (kinked)
        chk_fill_away(&rng, X, n, 0.05, 3);
    else
        chk_fill(&rng, X, n, -4, 4);
    chk_fill(&rng, R, n, -1, 1);
    chk_write(ctx, x, X);
    chk_write(ctx, r, R);

    chk_ok(ctx, lre_act_forward(ctx, a, p, y, x), chk_name("%s forward runs", t));
    double want[24], dwant[24];
    for (int64_t i = 0; i < n; i++) {
        want[i] = chk_act_ref(a, p, X[i]);
        dwant[i] = chk_act_dref(a, p, X[i]) * R[i];
    }
    float *Y = chk_download(ctx, y);
    chk_close(chk_name("%s forward vs closed formula", t), want, Y, n, 1e-6, 1e-5);
    free(Y);

    chk_set_all(ctx, dx, NAN);
    chk_ok(ctx, lre_act_backward(ctx, a, p, dx, r, x, y), chk_name("%s backward runs", t));
    float *g = chk_download(ctx, dx);
    chk_close(chk_name("%s backward vs closed-form derivative", t), dwant, g, n, 1e-6, 1e-5);
    act_case ac = {a, p, x, y, R};
    chk_fd_tensor(chk_name("%s backward vs finite differences (f32, h=1e-2)", t), ctx, x, 1, g,
                  act_loss, &ac, 1e-2f, 1e-4, 1e-2);
    free(g);

    /* Far tails and the kink: finite, and equal to the formulas (in the
     * limit where they saturate). */
    static const float ext[] = {-100, -30, -10, -1e-3f, 0, 1e-3f, 10, 30, 100};
    lre_tensor *xe = chk_t1(ctx, LRE_F32, 9), *ye = chk_t1(ctx, LRE_F32, 9);
    lre_tensor *re = chk_t1(ctx, LRE_F32, 9), *de = chk_t1(ctx, LRE_F32, 9);
    chk_write(ctx, xe, ext);
    chk_set_all(ctx, re, 1);
    chk_must(ctx, lre_act_forward(ctx, a, p, ye, xe), "lre_act_forward (extremes)");
    chk_must(ctx, lre_act_backward(ctx, a, p, de, re, xe, ye), "lre_act_backward (extremes)");
    double we[9], wd[9];
    for (int i = 0; i < 9; i++) {
        we[i] = chk_act_ref(a, p, ext[i]);
        wd[i] = chk_act_dref(a, p, ext[i]);
    }
    float *YE = chk_download(ctx, ye), *DE = chk_download(ctx, de);
    chk_close(chk_name("%s forward at ±1e2, ±30, ±10, ±1e-3, 0", t), we, YE, 9, 1e-6, 1e-5);
    chk_close(chk_name("%s backward at ±1e2, ±30, ±10, ±1e-3, 0 (PyTorch's value at 0)", t), wd,
              DE, 9, 1e-6, 1e-5);
    free(YE);
    free(DE);

    lre_tensor *ts[] = {x, y, r, dx, xe, ye, re, de};
    for (size_t i = 0; i < 8; i++) lre_tensor_release(ts[i]);
}

static void test_act(void)
{
    test_act_one(LRE_ACT_RELU, 0);
    test_act_one(LRE_ACT_LEAKY_RELU, 0.01f);
    test_act_one(LRE_ACT_LEAKY_RELU, 0.2f);
    test_act_one(LRE_ACT_GELU, 0);
    test_act_one(LRE_ACT_GELU_TANH, 0);
    test_act_one(LRE_ACT_TANH, 0);
    test_act_one(LRE_ACT_SIGMOID, 0);
    for (int a = 0; a < LRE_ACT_COUNT; a++) {
        const char *nm = lre_act_name((lre_act)a);
        CHECK(nm && nm[0], chk_name("lre_act_name(%d) is a name", a), "got %s",
              nm ? "\"\"" : "NULL");
    }
}

/* ---------------------------------------------------------- cross-entropy */

typedef struct ce_case {
    lre_tensor *z, *y;
    float eps;
    double *zd;        /* double copy for the f64 mode */
    const int32_t *yh; /* host copy of the labels */
    int64_t B, C;
} ce_case;

static double ce_loss_f32(void *ud)
{
    ce_case *k = ud;
    float loss = NAN;
    chk_must(ctx, lre_cross_entropy(ctx, &loss, NULL, k->z, k->y, k->eps, 1), "lre_cross_entropy");
    return loss;
}

static double ce_loss_f64(void *ud)
{
    ce_case *k = ud;
    return chk_ce_ref(k->zd, k->yh, k->B, k->C, k->eps);
}

static void test_cross_entropy(void)
{
    const int64_t B = 6, C = 5;
    static const float epss[] = {0, 0.1f};
    static const float scales[] = {1, 0.25f};
    for (int e = 0; e < 2; e++)
        for (int s = 0; s < 2; s++) {
            float eps = epss[e], gs = scales[s];
            char t[64];
            snprintf(t, sizeof t, "cross_entropy(smoothing=%g, grad_scale=%g)", (double)eps,
                     (double)gs);
            lre_tensor *z = chk_t2(ctx, LRE_F32, B, C), *dz = chk_t2(ctx, LRE_F32, B, C);
            lre_tensor *y = chk_t1(ctx, LRE_I32, B);
            float Z[6 * 5];
            int32_t Y[6];
            chk_fill(&rng, Z, B * C, -3, 3);
            for (int64_t i = 0; i < B; i++) Y[i] = (int32_t)(chk_u64(&rng) % (uint64_t)C);
            chk_write(ctx, z, Z);
            chk_write(ctx, y, Y);
            chk_set_all(ctx, dz, NAN);
            double zd[6 * 5];
            for (int64_t i = 0; i < B * C; i++) zd[i] = Z[i];

            float loss = NAN;
            chk_ok(ctx, lre_cross_entropy(ctx, &loss, dz, z, y, eps, gs), chk_name("%s runs", t));
            chk_close1(chk_name("%s loss vs double reference", t), chk_ce_ref(zd, Y, B, C, eps),
                       loss, 1e-6, 1e-5);

            /* grad_scale scales the gradient only: compare dz/gs. */
            float g[6 * 5], DZ[6 * 5];
            chk_read(ctx, dz, DZ);
            for (int64_t i = 0; i < B * C; i++) g[i] = DZ[i] / gs;
            ce_case cc = {z, y, eps, zd, Y, B, C};
            chk_fd_f64(chk_name("%s dlogits/grad_scale vs finite differences (f64)", t), zd, B * C,
                       1, g, ce_loss_f64, &cc, 1e-6, 1e-7, 1e-5);
            chk_fd_tensor(chk_name("%s dlogits/grad_scale vs finite differences (f32, h=2e-2)", t),
                          ctx, z, 1, g, ce_loss_f32, &cc, 2e-2f, 5e-5, 1e-2);

            float loss2 = NAN;
            chk_ok(ctx, lre_cross_entropy(ctx, &loss2, NULL, z, y, eps, gs),
                   chk_name("%s without dlogits runs", t));
            CHECK(memcmp(&loss, &loss2, sizeof loss) == 0,
                  chk_name("%s loss does not depend on dlogits", t),
                  "with dlogits %.9g, without %.9g", (double)loss, (double)loss2);
            lre_tensor_release(z);
            lre_tensor_release(dz);
            lre_tensor_release(y);
        }

    /* Stability: logits of magnitude 1e4 (exp overflows f32 at 89). */
    {
        enum { SB = 5, SC = 5 };
        static const float rows[SB][SC] = {
            {1e4f, 9999, -1e4f, 0, 9998},        /* label 1: log(1+e^-1+e^-2)+1 */
            {1e4f, -1e4f, 0, 5e3f, -5e3f},       /* label 1: about 2e4 */
            {1e4f, 1e4f, 1e4f, 1e4f, 1e4f},      /* log 5 */
            {-1e4f, -1e4f, -1e4f, -1e4f, -1e4f}, /* log 5 */
            {-1e4f, -9999, -1e4f, 3, -2},        /* label 3: tiny loss */
        };
        static const int32_t labels[SB] = {1, 1, 2, 0, 3};
        for (int e = 0; e < 2; e++) {
            float eps = epss[e];
            const char *t = chk_name("cross_entropy logits ±1e4 smoothing=%g", (double)eps);
            char tt[64];
            snprintf(tt, sizeof tt, "%s", t);
            lre_tensor *z = chk_t2(ctx, LRE_F32, SB, SC), *dz = chk_t2(ctx, LRE_F32, SB, SC);
            lre_tensor *y = chk_t1(ctx, LRE_I32, SB);
            chk_write(ctx, z, rows);
            chk_write(ctx, y, labels);
            double zd[SB * SC];
            for (int i = 0; i < SB * SC; i++) zd[i] = rows[i / SC][i % SC];
            float loss = NAN;
            chk_ok(ctx, lre_cross_entropy(ctx, &loss, dz, z, y, eps, 1), chk_name("%s runs", tt));
            double want = chk_ce_ref(zd, labels, SB, SC, eps);
            CHECK(isfinite(loss), chk_name("%s loss finite", tt), "loss %g (reference %.9g)",
                  (double)loss, want);
            chk_close1(chk_name("%s loss vs double reference", tt), want, loss, 1e-5, 1e-6);
            /* Gradient: (softmax - smoothed one-hot)/B. */
            double gw[SB * SC];
            for (int i = 0; i < SB; i++) {
                double m = zd[i * SC], ssum = 0;
                for (int c = 1; c < SC; c++) m = zd[i * SC + c] > m ? zd[i * SC + c] : m;
                for (int c = 0; c < SC; c++) ssum += exp(zd[i * SC + c] - m);
                for (int c = 0; c < SC; c++) {
                    double pc = exp(zd[i * SC + c] - m) / ssum;
                    double q = (c == labels[i] ? 1 - eps : 0) + eps / SC;
                    gw[i * SC + c] = (pc - q) / SB;
                }
            }
            float *DZ = chk_download(ctx, dz);
            chk_close(chk_name("%s dlogits finite and = (softmax - target)/B", tt), gw, DZ,
                      SB * SC, 1e-7, 1e-5);
            free(DZ);
            lre_tensor_release(z);
            lre_tensor_release(dz);
            lre_tensor_release(y);
        }
    }

    /* Labels out of range: an error naming the row (index 13 of 16; messages
     * count rows from 1, as everywhere: row 14). */
    {
        lre_tensor *z = chk_t2(ctx, LRE_F32, 16, 4), *y = chk_t1(ctx, LRE_I32, 16);
        lre_tensor *dz = chk_t2(ctx, LRE_F32, 16, 4);
        float loss = 0;
        int32_t Y[16] = {0};
        Y[13] = 4;
        chk_write(ctx, y, Y);
        chk_err(ctx, lre_cross_entropy(ctx, &loss, dz, z, y, 0, 1), LRE_EINVAL,
                "cross_entropy label == C is an error naming row 14", "row 14", (char *)NULL);
        Y[13] = 0;
        Y[11] = -1;
        chk_write(ctx, y, Y);
        chk_err(ctx, lre_cross_entropy(ctx, &loss, NULL, z, y, 0, 1), LRE_EINVAL,
                "cross_entropy label -1 is an error naming row 12", "row 12", (char *)NULL);
        lre_tensor_release(z);
        lre_tensor_release(y);
        lre_tensor_release(dz);
    }
}

/* ------------------------------------------------------------------ mse */

typedef struct mse_case {
    lre_tensor *p, *t;
    double *pd;
    const float *th; /* host copy of the targets */
    int64_t n;
} mse_case;

static double mse_ref(const double *p, const float *t, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (p[i] - t[i]) * (p[i] - t[i]);
    return s / (double)n;
}

static double mse_loss_f32(void *ud)
{
    mse_case *k = ud;
    float loss = NAN;
    chk_must(ctx, lre_mse(ctx, &loss, NULL, k->p, k->t, 1), "lre_mse");
    return loss;
}

static double mse_loss_f64(void *ud)
{
    mse_case *k = ud;
    return mse_ref(k->pd, k->th, k->n);
}

static void test_mse(void)
{
    const int64_t R = 4, C = 3, n = R * C;
    static const float scales[] = {1, 0.5f};
    for (int s = 0; s < 2; s++) {
        float gs = scales[s];
        char t[48];
        snprintf(t, sizeof t, "mse(grad_scale=%g)", (double)gs);
        lre_tensor *p = chk_t2(ctx, LRE_F32, R, C), *tg = chk_t2(ctx, LRE_F32, R, C);
        lre_tensor *dp = chk_t2(ctx, LRE_F32, R, C);
        float P[12], T[12], DP[12];
        chk_fill(&rng, P, n, -2, 2);
        chk_fill(&rng, T, n, -2, 2);
        chk_write(ctx, p, P);
        chk_write(ctx, tg, T);
        chk_set_all(ctx, dp, NAN);
        double pd[12];
        for (int64_t i = 0; i < n; i++) pd[i] = P[i];
        float loss = NAN;
        chk_ok(ctx, lre_mse(ctx, &loss, dp, p, tg, gs), chk_name("%s runs", t));
        chk_close1(chk_name("%s loss vs double mean (p-t)^2", t), mse_ref(pd, T, n), loss, 1e-7,
                   1e-6);
        float g[12];
        chk_read(ctx, dp, DP);
        for (int64_t i = 0; i < n; i++) g[i] = DP[i] / gs;
        mse_case mc = {p, tg, pd, T, n};
        chk_fd_f64(chk_name("%s dpred/grad_scale vs finite differences (f64)", t), pd, n, 1, g,
                   mse_loss_f64, &mc, 1e-6, 1e-7, 1e-5);
        chk_fd_tensor(chk_name("%s dpred/grad_scale vs finite differences (f32, h=1e-2)", t), ctx,
                      p, 1, g, mse_loss_f32, &mc, 1e-2f, 5e-5, 1e-2);
        lre_tensor_release(p);
        lre_tensor_release(tg);
        lre_tensor_release(dp);
    }
}

/* ------------------------------------------------------------ whole MLP */

typedef struct mlp_case {
    chk_ref_mlp ref;
    lre_loss_kind loss;
    float smoothing;
    int64_t n;
    const float *x;
    const int32_t *labels;
    const float *targets;
    lre_trainer *t;
} mlp_case;

static double mlp_ref_loss(void *ud)
{
    mlp_case *k = ud;
    return chk_ref_mlp_loss(&k->ref, k->x, k->labels, k->targets, NULL, k->n, k->loss,
                            k->smoothing);
}

static double mlp_engine_loss(void *ud)
{
    mlp_case *k = ud;
    float loss = NAN;
    chk_must(ctx, lre_trainer_evaluate(k->t, lre_trainer_data(k->t), &loss),
             "lre_trainer_evaluate");
    return loss;
}

static void test_mlp_one(const char *tag, const chk_layer *spec, int nl, lre_loss_kind lk,
                         float smoothing, int f32_fd)
{
    enum { NROWS = 12 };
    mlp_case k;
    memset(&k, 0, sizeof k);
    int64_t in = spec[0].in, out = 0;
    int kinked = 0;
    for (int l = 0; l < nl; l++) {
        if (spec[l].linear)
            out = spec[l].out;
        else
            kinked |= spec[l].act == LRE_ACT_RELU || spec[l].act == LRE_ACT_LEAKY_RELU;
    }
    k.loss = lk;
    k.smoothing = smoothing;
    k.n = NROWS;

    float x[NROWS * 8], targets[NROWS * 8];
    int32_t labels[NROWS];
    chk_fill(&rng, x, NROWS * in, -2, 2);
    for (int r = 0; r < NROWS; r++) labels[r] = (int32_t)(r % out); /* every class */
    chk_fill(&rng, targets, NROWS * out, -1, 1);
    k.x = x;
    k.labels = labels;
    k.targets = targets;

    lre_dataset *ds = NULL;
    if (lk == LRE_LOSS_CROSS_ENTROPY)
        chk_must(ctx, lre_dataset_from_arrays(ctx, &ds, NROWS, in, x, labels, NULL, 0),
                 "lre_dataset_from_arrays");
    else
        chk_must(ctx, lre_dataset_from_arrays(ctx, &ds, NROWS, in, x, NULL, targets, out),
                 "lre_dataset_from_arrays (targets)");
    lre_model *m = chk_model_from_spec(ctx, spec, nl);
    chk_must(ctx, lre_model_init(m, 7), "lre_model_init");

    lre_trainer_opts o = lre_trainer_opts_default();
    o.loss.kind = lk;
    o.loss.label_smoothing = smoothing;
    o.optim = lre_optim_sgd_default();
    o.batch_size = NROWS;
    o.shuffle = 0;
    k.t = chk_trainer(ctx, m, ds, &o);
    chk_ref_mlp_load(&k.ref, spec, nl, ctx, m);

    lre_tensor *P = lre_model_params(m);
    int64_t np = lre_model_num_params(m);
    float *before = chk_download(ctx, P);
    float loss = NAN;
    chk_ok(ctx, lre_trainer_step(k.t, 0.0f, &loss), chk_name("%s: SGD step at lr=0 runs", tag));
    float *after = chk_download(ctx, P);
    chk_bits(chk_name("%s: SGD at lr=0 leaves the parameters unchanged", tag), before, after, np);
    chk_close1(chk_name("%s: step loss vs double forward", tag), mlp_ref_loss(&k), loss, 1e-6,
               1e-5);
    if (kinked)
        CHECK(k.ref.min_kink > 1e-4, chk_name("%s: pre-activations clear of the kink", tag),
              "min |z| at a ReLU is %.3g: finite differences with h=1e-6 may cross it",
              k.ref.min_kink);

    /* Gradients span decades through the layers: absolute tolerance 1e-4
     * of each tensor's largest element, plus 1e-4 relative. */
    for (int l = 0; l < nl; l++) {
        if (!spec[l].linear) continue;
        float *gw = chk_download(ctx, lre_model_weight_grad(m, l));
        float *gb = chk_download(ctx, lre_model_bias_grad(m, l));
        chk_fd_f64(chk_name("%s: layer %d weight grad vs finite differences (f64)", tag, l),
                   k.ref.theta + k.ref.woff[l], spec[l].in * spec[l].out, 1, gw, mlp_ref_loss, &k,
                   1e-6, -1e-4, 1e-4);
        chk_fd_f64(chk_name("%s: layer %d bias grad vs finite differences (f64)", tag, l),
                   k.ref.theta + k.ref.boff[l], spec[l].out, 1, gb, mlp_ref_loss, &k, 1e-6, -1e-4,
                   1e-4);
        free(gw);
        free(gb);
    }
    if (f32_fd) {
        /* The engine's own loss, perturbed in the flat parameter buffer.
         * Its f32 noise floor (~1e-5 absolute) is above the smallest
         * gradients of a deep net; the f64 check above covers those. */
        float *g = chk_download(ctx, lre_model_grads(m));
        chk_fd_tensor(chk_name("%s: flat grads vs finite differences of lre_trainer_evaluate "
                               "(f32, h=1e-2)",
                               tag),
                      ctx, P, 1, g, mlp_engine_loss, &k, 1e-2f, 1e-4, 1e-2);
        free(g);
    }

    free(before);
    free(after);
    chk_ref_mlp_free(&k.ref);
    lre_trainer_release(k.t);
    lre_model_release(m);
    lre_dataset_release(ds);
}

static void test_mlp(void)
{
    static const chk_layer smooth[] = {
        {1, 4, 8, 0, 0}, {0, 0, 0, LRE_ACT_TANH, 0},
        {1, 8, 8, 0, 0}, {0, 0, 0, LRE_ACT_GELU, 0},
        {1, 8, 8, 0, 0}, {0, 0, 0, LRE_ACT_GELU_TANH, 0},
        {1, 8, 6, 0, 0}, {0, 0, 0, LRE_ACT_SIGMOID, 0},
        {1, 6, 3, 0, 0},
    };
    static const chk_layer kinked[] = {
        {1, 4, 8, 0, 0}, {0, 0, 0, LRE_ACT_RELU, 0},
        {1, 8, 8, 0, 0}, {0, 0, 0, LRE_ACT_LEAKY_RELU, 0.1f},
        {1, 8, 3, 0, 0},
    };
    static const chk_layer regress[] = {
        {1, 4, 8, 0, 0},
        {0, 0, 0, LRE_ACT_TANH, 0},
        {1, 8, 2, 0, 0},
    };
    test_mlp_one("MLP tanh/gelu/gelu_tanh/sigmoid, cross-entropy smoothing 0.1", smooth, 9,
                 LRE_LOSS_CROSS_ENTROPY, 0.1f, 1);
    test_mlp_one("MLP relu/leaky_relu, cross-entropy", kinked, 5, LRE_LOSS_CROSS_ENTROPY, 0, 0);
    test_mlp_one("MLP tanh, mse", regress, 3, LRE_LOSS_MSE, 0, 1);
}

/* ---------------------------------------------------------------- conv2d */

typedef struct conv_case {
    lre_tensor *x, *w, *b, *y, *col;
    const lre_conv_geom *g;
    const float *r; /* host: the upstream gradient */
} conv_case;

static double conv_loss(void *ud)
{
    conv_case *k = ud;
    chk_must(ctx, lre_conv2d_forward(ctx, k->y, k->x, k->w, k->b, k->g, k->col),
             "lre_conv2d_forward (fd)");
    return dot_rt(k->r, k->y);
}

/* torch.nn.functional.conv2d in double, straight from its definition */
static void conv_ref(const lre_conv_geom *g, int64_t B, int64_t O, const float *X,
                     const float *Wt, const float *Bv, double *Y)
{
    for (int64_t n = 0; n < B; n++)
        for (int64_t o = 0; o < O; o++)
            for (int64_t oh = 0; oh < g->OH; oh++)
                for (int64_t ow = 0; ow < g->OW; ow++) {
                    double s = Bv ? Bv[o] : 0.0;
                    for (int64_t c = 0; c < g->C; c++)
                        for (int64_t kh = 0; kh < g->KH; kh++)
                            for (int64_t kw = 0; kw < g->KW; kw++) {
                                int64_t h = oh * g->SH - g->PH + kh * g->DH;
                                int64_t w = ow * g->SW - g->PW + kw * g->DW;
                                if (h < 0 || h >= g->H || w < 0 || w >= g->W) continue;
                                s += (double)X[((n * g->C + c) * g->H + h) * g->W + w] *
                                     Wt[((o * g->C + c) * g->KH + kh) * g->KW + kw];
                            }
                    Y[((n * O + o) * g->OH + oh) * g->OW + ow] = s;
                }
}

/* conv2d's forward against the double definition, and its gradients (dx,
 * dw, db) against central finite differences of the engine's own forward
 * (conv2d is linear in each input, so any step is exact up to rounding),
 * over strides, padding, dilation and a 1×1 kernel; accumulate adds. */
static const char *conv_path = ""; /* which of the CPU's kernels, in the names */

static void test_conv2d(void)
{
    static const struct {
        int64_t C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW;
    } cases[] = {
        {2, 5, 6, 3, 3, 3, 1, 1, 0, 0, 1, 1}, /* plain */
        {2, 6, 5, 3, 3, 2, 2, 1, 1, 0, 1, 1}, /* stride, padding, a 3×2 kernel */
        {1, 7, 7, 2, 3, 3, 1, 2, 2, 1, 2, 1}, /* dilation, padding wider than... */
        {3, 4, 4, 2, 1, 1, 1, 1, 0, 0, 1, 1}, /* 1×1 */
        {1, 5, 5, 2, 5, 5, 1, 1, 2, 2, 1, 1}, /* LeNet's first: k5 pad 2 */
    };
    const int64_t B = 2;
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        lre_conv_geom g;
        chk_must(ctx, lre_conv_geom_init(ctx, &g, cases[ci].C, cases[ci].H, cases[ci].W,
                                         cases[ci].KH, cases[ci].KW, cases[ci].SH, cases[ci].SW,
                                         cases[ci].PH, cases[ci].PW, cases[ci].DH, cases[ci].DW),
                 "conv geometry");
        const int64_t O = cases[ci].O, K = g.C * g.KH * g.KW, P = g.OH * g.OW,
                      IN = g.C * g.H * g.W;
        const char *tag = chk_name("conv2d%s %lldx%lldx%lld k%lldx%lld s%lld,%lld p%lld,%lld "
                                   "d%lld,%lld -> %lldx%lld", conv_path,
                                   (long long)g.C, (long long)g.H, (long long)g.W,
                                   (long long)g.KH, (long long)g.KW, (long long)g.SH,
                                   (long long)g.SW, (long long)g.PH, (long long)g.PW,
                                   (long long)g.DH, (long long)g.DW, (long long)g.OH,
                                   (long long)g.OW);
        char name[200];
        snprintf(name, sizeof name, "%s", tag);
        lre_tensor *x = chk_t2(ctx, LRE_F32, B, IN), *w = chk_t2(ctx, LRE_F32, O, K);
        lre_tensor *b = chk_t1(ctx, LRE_F32, O), *y = chk_t2(ctx, LRE_F32, B, O * P);
        lre_tensor *col = chk_t2(ctx, LRE_F32, K, P), *dy = chk_t2(ctx, LRE_F32, B, O * P);
        lre_tensor *dx = chk_t2(ctx, LRE_F32, B, IN), *dw = chk_t2(ctx, LRE_F32, O, K);
        lre_tensor *db = chk_t1(ctx, LRE_F32, O);
        float *X = malloc(sizeof *X * (size_t)(B * IN)), *Wt = malloc(sizeof *Wt * (size_t)(O * K));
        float *Bv = malloc(sizeof *Bv * (size_t)O), *R = malloc(sizeof *R * (size_t)(B * O * P));
        double *want = malloc(sizeof *want * (size_t)(B * O * P));
        chk_fill(&rng, X, B * IN, -1, 1);
        chk_fill(&rng, Wt, O * K, -1, 1);
        chk_fill(&rng, Bv, O, -1, 1);
        chk_fill(&rng, R, B * O * P, -1, 1);
        chk_write(ctx, x, X);
        chk_write(ctx, w, Wt);
        chk_write(ctx, b, Bv);
        chk_write(ctx, dy, R);
        chk_set_all(ctx, y, NAN);
        chk_ok(ctx, lre_conv2d_forward(ctx, y, x, w, b, &g, col),
               chk_name("%s: forward runs", name));
        conv_ref(&g, B, O, X, Wt, Bv, want);
        float *Y = chk_download(ctx, y);
        chk_close(chk_name("%s: forward vs the double definition", name), want, Y, B * O * P,
                  1e-5, 1e-5);
        free(Y);

        chk_set_all(ctx, dx, NAN);
        chk_set_all(ctx, dw, NAN);
        chk_set_all(ctx, db, NAN);
        chk_ok(ctx, lre_conv2d_backward(ctx, dx, dw, db, dy, x, w, &g, col, 0),
               chk_name("%s: backward runs", name));
        float *g_dx = chk_download(ctx, dx), *g_dw = chk_download(ctx, dw);
        float *g_db = chk_download(ctx, db);
        conv_case cc = {x, w, b, y, col, &g, R};
        chk_fd_tensor(chk_name("%s: dx vs finite differences", name), ctx, x, 1, g_dx,
                      conv_loss, &cc, 0.25f, 2e-4, 1e-4);
        chk_fd_tensor(chk_name("%s: dw vs finite differences", name), ctx, w, 1, g_dw,
                      conv_loss, &cc, 0.25f, 2e-4, 1e-4);
        chk_fd_tensor(chk_name("%s: db vs finite differences", name), ctx, b, 1, g_db,
                      conv_loss, &cc, 0.25f, 2e-4, 1e-4);

        /* accumulate adds into dw and db */
        chk_ok(ctx, lre_conv2d_backward(ctx, NULL, dw, db, dy, x, w, &g, col, 1),
               chk_name("%s: backward accumulate runs", name));
        double *w2 = malloc(sizeof *w2 * (size_t)(O * K)), b2[8];
        for (int64_t i = 0; i < O * K; i++) w2[i] = 2.0 * g_dw[i];
        for (int64_t i = 0; i < O; i++) b2[i] = 2.0 * g_db[i];
        float *a_dw = chk_download(ctx, dw), *a_db = chk_download(ctx, db);
        chk_close(chk_name("%s: accumulate doubles dw", name), w2, a_dw, O * K, 1e-6, 1e-6);
        chk_close(chk_name("%s: accumulate doubles db", name), b2, a_db, O, 1e-6, 1e-6);
        free(a_dw);
        free(a_db);
        free(w2);
        free(g_dx);
        free(g_dw);
        free(g_db);
        free(X);
        free(Wt);
        free(Bv);
        free(R);
        free(want);
        lre_tensor *ts[] = {x, w, b, y, col, dy, dx, dw, db};
        for (size_t i = 0; i < 9; i++) lre_tensor_release(ts[i]);
    }

    /* a bad geometry or shape is refused with its numbers */
    lre_conv_geom g;
    chk_err(ctx, lre_conv_geom_init(ctx, &g, 1, 4, 4, 5, 5, 1, 1, 0, 0, 1, 1), LRE_EINVAL,
            "conv2d: a kernel larger than the padded input names both", "5×5", "4×4", NULL);
    chk_err(ctx, lre_conv_geom_init(ctx, &g, 1, 4, 4, 3, 3, 0, 1, 0, 0, 1, 1), LRE_EINVAL,
            "conv2d: a stride of 0 is refused", "stride 0×1", NULL);
    chk_err(ctx, lre_conv_geom_init(ctx, &g, 1, 4, 4, 3, 3, 1, 1, -1, 0, 1, 1), LRE_EINVAL,
            "conv2d: a negative padding is refused", "padding -1×0", NULL);
    chk_must(ctx, lre_conv_geom_init(ctx, &g, 2, 5, 5, 3, 3, 1, 1, 0, 0, 1, 1), "geometry");
    lre_tensor *x = chk_t2(ctx, LRE_F32, 2, 50), *w = chk_t2(ctx, LRE_F32, 3, 17);
    lre_tensor *y = chk_t2(ctx, LRE_F32, 2, 27), *col = chk_t2(ctx, LRE_F32, 18, 9);
    chk_err(ctx, lre_conv2d_forward(ctx, y, x, w, NULL, &g, col), LRE_ESHAPE,
            "conv2d: weights of the wrong width name the expected shape", "w f32[3,17]",
            "w (O, 18)", NULL);
    lre_tensor *ts[] = {x, w, y, col};
    for (size_t i = 0; i < 4; i++) lre_tensor_release(ts[i]);
}

/* --------------------------------------------------------------- pooling */

typedef struct pool_case {
    lre_tensor *x, *y, *idx;
    const lre_conv_geom *g;
    const float *r;
    int avg, inc;
} pool_case;

static double pool_loss(void *ud)
{
    pool_case *k = ud;
    if (k->avg)
        chk_must(ctx, lre_avg_pool2d_forward(ctx, k->y, k->x, k->g, k->inc), "avg pool (fd)");
    else
        chk_must(ctx, lre_max_pool2d_forward(ctx, k->y, k->idx, k->x, k->g), "max pool (fd)");
    return dot_rt(k->r, k->y);
}

/* torch's MaxPool2d / AvgPool2d in double, from their definitions */
static void pool_ref(const lre_conv_geom *g, int64_t B, const float *X, int avg, int inc,
                     double *Y)
{
    for (int64_t n = 0; n < B * g->C; n++)
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t ow = 0; ow < g->OW; ow++) {
                double best = -INFINITY, sum = 0;
                int64_t inside = 0;
                for (int64_t kh = 0; kh < g->KH; kh++)
                    for (int64_t kw = 0; kw < g->KW; kw++) {
                        int64_t h = oh * g->SH - g->PH + kh * g->DH;
                        int64_t w = ow * g->SW - g->PW + kw * g->DW;
                        if (h < 0 || h >= g->H || w < 0 || w >= g->W) continue;
                        double v = X[(n * g->H + h) * g->W + w];
                        best = v > best ? v : best;
                        sum += v;
                        inside++;
                    }
                int64_t h0 = oh * g->SH - g->PH, w0 = ow * g->SW - g->PW;
                int64_t h1 = h0 + g->KH < g->H + g->PH ? h0 + g->KH : g->H + g->PH;
                int64_t w1 = w0 + g->KW < g->W + g->PW ? w0 + g->KW : g->W + g->PW;
                double div = inc ? (double)((h1 - h0) * (w1 - w0)) : (double)inside;
                Y[(n * g->OH + oh) * g->OW + ow] = avg ? sum / div : best;
            }
}

/* max and average pooling: the forward against the definitions (max's
 * indices too), the backward against finite differences (the inputs of
 * max pooling distinct by 0.05, the step 0.01: no step changes a window's
 * maximum); a NaN in a window wins the max, as torch */
static void test_pool(void)
{
    static const struct {
        int64_t C, H, W, KH, KW, SH, SW, PH, PW, DH, DW;
    } cases[] = {
        {2, 6, 6, 2, 2, 2, 2, 0, 0, 1, 1}, /* LeNet's: 2×2, stride 2 */
        {1, 7, 5, 3, 3, 2, 1, 1, 1, 1, 1}, /* overlapping, padded */
        {2, 5, 7, 3, 2, 1, 2, 1, 0, 1, 1}, /* a 3×2 window */
        {1, 8, 8, 3, 3, 2, 2, 1, 1, 2, 2}, /* dilated (max only) */
    };
    const int64_t B = 2;
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
        for (int mode = 0; mode < 3; mode++) { /* max, avg with pad counted, avg without */
            const int avg = mode > 0, inc = mode == 1;
            if (avg && cases[ci].DH != 1) continue;
            lre_conv_geom g;
            chk_must(ctx, lre_conv_geom_init(ctx, &g, cases[ci].C, cases[ci].H, cases[ci].W,
                                             cases[ci].KH, cases[ci].KW, cases[ci].SH,
                                             cases[ci].SW, cases[ci].PH, cases[ci].PW,
                                             cases[ci].DH, cases[ci].DW),
                     "pool geometry");
            char name[160];
            snprintf(name, sizeof name, "%s %lldx%lldx%lld k%lldx%lld s%lld,%lld p%lld,%lld d%lld",
                     mode == 0 ? "max_pool2d" : inc ? "avg_pool2d (pad counted)" : "avg_pool2d",
                     (long long)g.C, (long long)g.H, (long long)g.W, (long long)g.KH,
                     (long long)g.KW, (long long)g.SH, (long long)g.SW, (long long)g.PH,
                     (long long)g.PW, (long long)g.DH);
            const int64_t IN = g.C * g.H * g.W, OUT = g.C * g.OH * g.OW;
            lre_tensor *x = chk_t2(ctx, LRE_F32, B, IN), *y = chk_t2(ctx, LRE_F32, B, OUT);
            lre_tensor *idx = chk_t2(ctx, LRE_I32, B, OUT), *dy = chk_t2(ctx, LRE_F32, B, OUT);
            lre_tensor *dx = chk_t2(ctx, LRE_F32, B, IN);
            float *X = malloc(sizeof *X * (size_t)(B * IN)), *R = malloc(sizeof *R * (size_t)(B * OUT));
            double *want = malloc(sizeof *want * (size_t)(B * OUT));
            for (int64_t i = 0; i < B * IN; i++) X[i] = (float)(0.05 * (double)i - 1.0);
            for (int64_t i = B * IN - 1; i > 0; i--) { /* a shuffle: distinct values */
                int64_t j = (int64_t)(chk_u64(&rng) % (uint64_t)(i + 1));
                float t = X[i];
                X[i] = X[j];
                X[j] = t;
            }
            chk_fill(&rng, R, B * OUT, -1, 1);
            chk_write(ctx, x, X);
            chk_write(ctx, dy, R);
            chk_set_all(ctx, y, NAN);
            lre_status st = avg ? lre_avg_pool2d_forward(ctx, y, x, &g, inc)
                                : lre_max_pool2d_forward(ctx, y, idx, x, &g);
            chk_ok(ctx, st, chk_name("%s: forward runs", name));
            pool_ref(&g, B, X, avg, inc, want);
            float *Y = chk_download(ctx, y);
            chk_close(chk_name("%s: forward vs the definition", name), want, Y, B * OUT, 1e-6,
                      1e-6);
            free(Y);
            chk_set_all(ctx, dx, NAN);
            st = avg ? lre_avg_pool2d_backward(ctx, dx, dy, &g, inc)
                     : lre_max_pool2d_backward(ctx, dx, dy, idx, &g);
            chk_ok(ctx, st, chk_name("%s: backward runs", name));
            float *g_dx = chk_download(ctx, dx);
            pool_case pc = {x, y, idx, &g, R, avg, inc};
            chk_fd_tensor(chk_name("%s: dx vs finite differences", name), ctx, x, 1, g_dx,
                          pool_loss, &pc, avg ? 0.25f : 0.01f, 2e-4, 1e-3);
            free(g_dx);
            free(X);
            free(R);
            free(want);
            lre_tensor *ts[] = {x, y, idx, dy, dx};
            for (size_t i = 0; i < 5; i++) lre_tensor_release(ts[i]);
        }

    /* a NaN in a window wins the max (torch's semantics), its index too */
    lre_conv_geom g;
    chk_must(ctx, lre_conv_geom_init(ctx, &g, 1, 2, 2, 2, 2, 2, 2, 0, 0, 1, 1), "nan geometry");
    lre_tensor *x = chk_t2(ctx, LRE_F32, 1, 4), *y = chk_t2(ctx, LRE_F32, 1, 1);
    lre_tensor *idx = chk_t2(ctx, LRE_I32, 1, 1);
    float X[4] = {1.0f, NAN, 5.0f, 2.0f};
    chk_write(ctx, x, X);
    chk_ok(ctx, lre_max_pool2d_forward(ctx, y, idx, x, &g), "max_pool2d with a NaN runs");
    float yv;
    int32_t iv;
    chk_read(ctx, y, &yv);
    chk_read(ctx, idx, &iv);
    CHECK(yv != yv && iv == 1, "max_pool2d: a NaN in the window wins, its index too",
          "got %g at %d", (double)yv, (int)iv);
    /* two NaNs in a 3x3 window (no padding: the CPU's unchecked path, not
     * the 2x2 one): the last in window order wins, as torch's kernel */
    lre_conv_geom g3;
    chk_must(ctx, lre_conv_geom_init(ctx, &g3, 1, 3, 4, 3, 3, 1, 1, 0, 0, 1, 1), "3x3 geometry");
    lre_tensor *x3 = chk_t2(ctx, LRE_F32, 1, 12), *y3 = chk_t2(ctx, LRE_F32, 1, 2);
    lre_tensor *i3 = chk_t2(ctx, LRE_I32, 1, 2);
    float X3[12] = {1.0f, NAN, 7.0f, 9.0f, 3.0f, 8.0f, NAN, 2.0f, 0.0f, 4.0f, 6.0f, 5.0f};
    chk_write(ctx, x3, X3);
    chk_ok(ctx, lre_max_pool2d_forward(ctx, y3, i3, x3, &g3), "3x3 max_pool2d with NaNs runs");
    float Y3[2];
    int32_t I3[2];
    chk_read(ctx, y3, Y3);
    chk_read(ctx, i3, I3);
    CHECK(Y3[0] != Y3[0] && I3[0] == 6 && Y3[1] != Y3[1] && I3[1] == 6,
          "max_pool2d 3x3: the last NaN of each window wins (index 6 of both)",
          "got %g at %d, %g at %d", (double)Y3[0], (int)I3[0], (double)Y3[1], (int)I3[1]);
    /* a window of -inf only: -inf, and no index (-1: no gradient), on the
     * 2x2 path (x) and the 3x3 one (x3) alike */
    float XI[12];
    for (int i = 0; i < 12; i++) XI[i] = -INFINITY;
    chk_write(ctx, x, XI);
    chk_write(ctx, x3, XI);
    chk_ok(ctx, lre_max_pool2d_forward(ctx, y, idx, x, &g), "2x2 max_pool2d of -inf runs");
    chk_ok(ctx, lre_max_pool2d_forward(ctx, y3, i3, x3, &g3), "3x3 max_pool2d of -inf runs");
    chk_read(ctx, y, &yv);
    chk_read(ctx, idx, &iv);
    chk_read(ctx, y3, Y3);
    chk_read(ctx, i3, I3);
    CHECK(yv == -INFINITY && iv == -1 && Y3[0] == -INFINITY && I3[0] == -1 && I3[1] == -1,
          "max_pool2d: a window of -inf gives -inf and index -1 (2x2 and 3x3 paths)",
          "got %g at %d; %g at %d, at %d", (double)yv, (int)iv, (double)Y3[0], (int)I3[0],
          (int)I3[1]);
    lre_tensor_release(x3);
    lre_tensor_release(y3);
    lre_tensor_release(i3);
    lre_conv_geom bad;
    chk_must(ctx, lre_conv_geom_init(ctx, &bad, 1, 5, 5, 2, 2, 2, 2, 2, 0, 1, 1), "geometry");
    lre_tensor *x2 = chk_t2(ctx, LRE_F32, 1, 25), *y2 = chk_t2(ctx, LRE_F32, 1, bad.OH * bad.OW);
    chk_err(ctx, lre_avg_pool2d_forward(ctx, y2, x2, &bad, 1), LRE_EINVAL,
            "pool: padding more than half the window is refused, naming both", "padding 2×0",
            "2×2", NULL);
    lre_tensor *ts[] = {x, y, idx, x2, y2};
    for (size_t i = 0; i < 5; i++) lre_tensor_release(ts[i]);
}

/* ------------------------------------------------------ adaptive pooling */

typedef struct adaptive_case {
    lre_tensor *x, *y;
    const lre_conv_geom *g;
    const float *r;
} adaptive_case;

static double adaptive_loss(void *ud)
{
    adaptive_case *k = ud;
    chk_must(ctx, lre_adaptive_avg_pool2d_forward(ctx, k->y, k->x, k->g), "adaptive (fd)");
    return dot_rt(k->r, k->y);
}

/* torch's AdaptiveAvgPool2d: the forward against its definition in double
 * (windows [floor(i·H/OH), ceil((i+1)·H/OH))), the backward against finite
 * differences; sizes that divide, that do not, and an output larger than
 * the input (windows that overlap) */
static void test_adaptive(void)
{
    static const int64_t cases[][5] = {{2, 7, 5, 3, 2}, {1, 6, 6, 3, 3}, {3, 4, 3, 6, 4},
                                       {2, 5, 5, 1, 1}};
    const int64_t B = 2;
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const int64_t C = cases[ci][0], H = cases[ci][1], W = cases[ci][2], OH = cases[ci][3],
                      OW = cases[ci][4];
        lre_conv_geom g = {C, H, W, 0, 0, 0, 0, 0, 0, 1, 1, OH, OW};
        const char *name = chk_name("adaptive_avg_pool2d %lldx%lldx%lld -> %lldx%lld",
                                    (long long)C, (long long)H, (long long)W, (long long)OH,
                                    (long long)OW);
        char nm[120];
        snprintf(nm, sizeof nm, "%s", name);
        const int64_t IN = C * H * W, OUT = C * OH * OW;
        lre_tensor *x = chk_t2(ctx, LRE_F32, B, IN), *y = chk_t2(ctx, LRE_F32, B, OUT);
        lre_tensor *dx = chk_t2(ctx, LRE_F32, B, IN);
        float *X = malloc(sizeof *X * (size_t)(B * IN)), *R = malloc(sizeof *R * (size_t)(B * OUT));
        double *want = malloc(sizeof *want * (size_t)(B * OUT));
        chk_fill(&rng, X, B * IN, -1, 1);
        chk_fill(&rng, R, B * OUT, -1, 1);
        for (int64_t n = 0; n < B * C; n++)
            for (int64_t i = 0; i < OH; i++)
                for (int64_t j = 0; j < OW; j++) {
                    int64_t h0 = i * H / OH, h1 = ((i + 1) * H + OH - 1) / OH;
                    int64_t w0 = j * W / OW, w1 = ((j + 1) * W + OW - 1) / OW;
                    double sum = 0;
                    for (int64_t h = h0; h < h1; h++)
                        for (int64_t w = w0; w < w1; w++) sum += X[(n * H + h) * W + w];
                    want[(n * OH + i) * OW + j] = sum / (double)((h1 - h0) * (w1 - w0));
                }
        chk_write(ctx, x, X);
        chk_set_all(ctx, y, NAN);
        chk_ok(ctx, lre_adaptive_avg_pool2d_forward(ctx, y, x, &g),
               chk_name("%s: forward runs", nm));
        float *Y = chk_download(ctx, y);
        chk_close(chk_name("%s: forward vs the definition", nm), want, Y, B * OUT, 1e-6, 1e-6);
        lre_tensor *dy = chk_t2(ctx, LRE_F32, B, OUT);
        chk_write(ctx, dy, R);
        chk_set_all(ctx, dx, NAN);
        chk_ok(ctx, lre_adaptive_avg_pool2d_backward(ctx, dx, dy, &g),
               chk_name("%s: backward runs", nm));
        float *g_dx = chk_download(ctx, dx);
        adaptive_case k = {x, y, &g, R};
        chk_fd_tensor(chk_name("%s: dx vs finite differences", nm), ctx, x, 1, g_dx,
                      adaptive_loss, &k, 0.25f, 2e-4, 1e-4);
        free(g_dx);
        free(Y);
        free(X);
        free(R);
        free(want);
        lre_tensor *ts[] = {x, y, dx, dy};
        for (size_t i = 0; i < 4; i++) lre_tensor_release(ts[i]);
    }
    lre_conv_geom bad = {1, 4, 4, 0, 0, 0, 0, 0, 0, 1, 1, 0, 2};
    lre_tensor *x = chk_t2(ctx, LRE_F32, 1, 16), *y = chk_t2(ctx, LRE_F32, 1, 2);
    chk_err(ctx, lre_adaptive_avg_pool2d_forward(ctx, y, x, &bad), LRE_EINVAL,
            "adaptive_avg_pool2d to 0x2 is refused, naming the sizes", "0x2", NULL);
    lre_tensor_release(x);
    lre_tensor_release(y);
}

/* ------------------------------------------------------------ layer norm */

typedef struct ln_case {
    lre_tensor *x, *y, *mean, *rstd, *w, *b;
    int64_t n;
    const float *r;
} ln_case;

static double ln_loss(void *ud)
{
    ln_case *k = ud;
    chk_must(ctx, lre_layer_norm_forward(ctx, k->y, k->mean, k->rstd, k->x, k->w, k->b, k->n,
                                         1e-5f), "layer norm (fd)");
    return dot_rt(k->r, k->y);
}

/* torch's LayerNorm: the forward against its definition in double, every
 * gradient (dx, dw, db) against finite differences, accumulate adding;
 * with and without the affine map, one group per row and three */
static void test_layer_norm(void)
{
    static const int64_t cases[][3] = {{3, 1, 6}, {2, 3, 5}}; /* rows, groups per row, n */
    for (size_t ci = 0; ci < 2; ci++)
        for (int affine = 0; affine <= 1; affine++) {
            const int64_t B = cases[ci][0], G = cases[ci][1], n = cases[ci][2], F = G * n;
            char nm[96];
            snprintf(nm, sizeof nm, "layer_norm rows %lld of %lldx%lld%s%s", (long long)B,
                     (long long)G, (long long)n, affine ? ", affine" : "", conv_path);
            lre_tensor *x = chk_t2(ctx, LRE_F32, B, F), *y = chk_t2(ctx, LRE_F32, B, F);
            lre_tensor *mean = chk_t2(ctx, LRE_F32, B, G), *rstd = chk_t2(ctx, LRE_F32, B, G);
            lre_tensor *dx = chk_t2(ctx, LRE_F32, B, F), *dy = chk_t2(ctx, LRE_F32, B, F);
            lre_tensor *w = affine ? chk_t1(ctx, LRE_F32, n) : NULL;
            lre_tensor *b = affine ? chk_t1(ctx, LRE_F32, n) : NULL;
            lre_tensor *dw = affine ? chk_t1(ctx, LRE_F32, n) : NULL;
            lre_tensor *db = affine ? chk_t1(ctx, LRE_F32, n) : NULL;
            float X[64], R[64], Wv[8], Bv[8];
            chk_fill(&rng, X, B * F, -2, 2);
            chk_fill(&rng, R, B * F, -1, 1);
            chk_fill(&rng, Wv, n, 0.5, 1.5);
            chk_fill(&rng, Bv, n, -0.5, 0.5);
            chk_write(ctx, x, X);
            chk_write(ctx, dy, R);
            if (affine) {
                chk_write(ctx, w, Wv);
                chk_write(ctx, b, Bv);
            }
            double want[64];
            for (int64_t gi = 0; gi < B * G; gi++) {
                double m = 0, v = 0;
                for (int64_t j = 0; j < n; j++) m += X[gi * n + j];
                m /= (double)n;
                for (int64_t j = 0; j < n; j++) v += (X[gi * n + j] - m) * (X[gi * n + j] - m);
                v /= (double)n;
                for (int64_t j = 0; j < n; j++) {
                    double h = (X[gi * n + j] - m) / sqrt(v + 1e-5);
                    want[gi * n + j] = affine ? h * Wv[j] + Bv[j] : h;
                }
            }
            chk_ok(ctx, lre_layer_norm_forward(ctx, y, mean, rstd, x, w, b, n, 1e-5f),
                   chk_name("%s: forward runs", nm));
            float *Y = chk_download(ctx, y);
            chk_close(chk_name("%s: forward vs the definition", nm), want, Y, B * F, 1e-5, 1e-5);
            chk_ok(ctx, lre_layer_norm_backward(ctx, dx, dw, db, dy, x, mean, rstd, w, n, 0),
                   chk_name("%s: backward runs", nm));
            ln_case k = {x, y, mean, rstd, w, b, n, R};
            float *gdx = chk_download(ctx, dx);
            chk_fd_tensor(chk_name("%s: dx vs finite differences", nm), ctx, x, 1, gdx, ln_loss,
                          &k, 1e-2f, 1e-3, 1e-2);
            if (affine) {
                float *gdw = chk_download(ctx, dw), *gdb = chk_download(ctx, db);
                chk_fd_tensor(chk_name("%s: dw vs finite differences", nm), ctx, w, 1, gdw,
                              ln_loss, &k, 1e-2f, 1e-3, 1e-2);
                chk_fd_tensor(chk_name("%s: db vs finite differences", nm), ctx, b, 1, gdb,
                              ln_loss, &k, 1e-2f, 1e-3, 1e-2);
                chk_ok(ctx, lre_layer_norm_backward(ctx, NULL, dw, db, dy, x, mean, rstd, w, n, 1),
                       chk_name("%s: backward accumulate runs", nm));
                float *aw = chk_download(ctx, dw);
                double w2[8];
                for (int64_t j = 0; j < n; j++) w2[j] = 2.0 * gdw[j];
                chk_close(chk_name("%s: accumulate doubles dw", nm), w2, aw, n, 1e-6, 1e-6);
                free(aw);
                free(gdw);
                free(gdb);
            }
            free(gdx);
            free(Y);
            lre_tensor *ts[] = {x, y, mean, rstd, dx, dy, w, b, dw, db};
            for (size_t i = 0; i < 10; i++) lre_tensor_release(ts[i]);
        }
    lre_tensor *x = chk_t2(ctx, LRE_F32, 2, 10), *y = chk_t2(ctx, LRE_F32, 2, 10);
    lre_tensor *mean = chk_t2(ctx, LRE_F32, 2, 3), *rstd = chk_t2(ctx, LRE_F32, 2, 3);
    chk_err(ctx, lre_layer_norm_forward(ctx, y, mean, rstd, x, NULL, NULL, 3, 1e-5f),
            LRE_ESHAPE, "layer_norm: 10 values in groups of 3 is refused", "groups of 3", NULL);
    lre_tensor *ts[] = {x, y, mean, rstd};
    for (size_t i = 0; i < 4; i++) lre_tensor_release(ts[i]);
}

/* ------------------------------------------------------------ batch norm */

typedef struct bn_case {
    lre_tensor *x, *y, *mean, *rstd, *w, *b;
    int64_t C, S;
    const float *r;
} bn_case;

static double bn_loss(void *ud)
{
    bn_case *k = ud;
    chk_must(ctx, lre_batch_norm_forward(ctx, k->y, k->mean, k->rstd, NULL, NULL, k->x, k->w,
                                         k->b, k->C, k->S, 1e-5f, 0.1f, 1), "batch norm (fd)");
    return dot_rt(k->r, k->y);
}

/* torch's BatchNorm in training: y against its definition in double, the
 * running statistics moved as torch moves them (unbiased variance), dx,
 * dw and db against finite differences; in evaluation, y from the running
 * statistics. BatchNorm1d (S = 1) and 2d (S = H·W). */
static void test_batch_norm(void)
{
    static const int64_t cases[][3] = {{6, 4, 1}, {3, 2, 5}}; /* rows, channels, S */
    for (size_t ci = 0; ci < 2; ci++) {
        const int64_t B = cases[ci][0], C = cases[ci][1], S = cases[ci][2], N = B * C * S;
        char nm[96];
        snprintf(nm, sizeof nm, "batch_norm %lld rows of %lldx%lld%s", (long long)B,
                 (long long)C, (long long)S, conv_path);
        lre_tensor *x = chk_t2(ctx, LRE_F32, B, C * S), *y = chk_t2(ctx, LRE_F32, B, C * S);
        lre_tensor *dx = chk_t2(ctx, LRE_F32, B, C * S), *dy = chk_t2(ctx, LRE_F32, B, C * S);
        lre_tensor *mean = chk_t1(ctx, LRE_F32, C), *rstd = chk_t1(ctx, LRE_F32, C);
        lre_tensor *rm = chk_t1(ctx, LRE_F32, C), *rv = chk_t1(ctx, LRE_F32, C);
        lre_tensor *w = chk_t1(ctx, LRE_F32, C), *b = chk_t1(ctx, LRE_F32, C);
        lre_tensor *dw = chk_t1(ctx, LRE_F32, C), *db = chk_t1(ctx, LRE_F32, C);
        float X[64], R[64], Wv[8], Bv[8], RM[8], RV[8];
        chk_fill(&rng, X, N, -2, 2);
        chk_fill(&rng, R, N, -1, 1);
        chk_fill(&rng, Wv, C, 0.5, 1.5);
        chk_fill(&rng, Bv, C, -0.5, 0.5);
        chk_fill(&rng, RM, C, -0.5, 0.5);
        chk_fill(&rng, RV, C, 0.5, 2);
        chk_write(ctx, x, X);
        chk_write(ctx, dy, R);
        chk_write(ctx, w, Wv);
        chk_write(ctx, b, Bv);
        chk_write(ctx, rm, RM);
        chk_write(ctx, rv, RV);
        double want[64], wrm[8], wrv[8], weval[64];
        for (int64_t c = 0; c < C; c++) {
            double m = 0, v = 0;
            for (int64_t i = 0; i < B; i++)
                for (int64_t k = 0; k < S; k++) m += X[(i * C + c) * S + k];
            m /= (double)(B * S);
            for (int64_t i = 0; i < B; i++)
                for (int64_t k = 0; k < S; k++)
                    v += (X[(i * C + c) * S + k] - m) * (X[(i * C + c) * S + k] - m);
            const double var = v / (double)(B * S), unb = v / (double)(B * S - 1);
            wrm[c] = 0.9 * RM[c] + 0.1 * m;
            wrv[c] = 0.9 * RV[c] + 0.1 * unb;
            for (int64_t i = 0; i < B; i++)
                for (int64_t k = 0; k < S; k++) {
                    const int64_t e = (i * C + c) * S + k;
                    want[e] = (X[e] - m) / sqrt(var + 1e-5) * Wv[c] + Bv[c];
                    weval[e] = (X[e] - RM[c]) / sqrt(RV[c] + 1e-5) * Wv[c] + Bv[c];
                }
        }
        chk_err(ctx, lre_batch_norm_forward(ctx, y, mean, rstd, NULL, NULL, x, w, b, C, S, 1e-5f,
                                            0.1f, 0), LRE_EINVAL,
                "batch_norm: evaluation without running statistics is refused", "running",
                NULL);
        chk_ok(ctx, lre_batch_norm_forward(ctx, y, mean, rstd, rm, rv, x, w, b, C, S, 1e-5f,
                                           0.1f, 0), chk_name("%s: eval forward runs", nm));
        float *Ye = chk_download(ctx, y);
        chk_close(chk_name("%s: evaluation uses the running statistics", nm), weval, Ye, N,
                  1e-5, 1e-5);
        chk_ok(ctx, lre_batch_norm_forward(ctx, y, mean, rstd, rm, rv, x, w, b, C, S, 1e-5f,
                                           0.1f, 1), chk_name("%s: training forward runs", nm));
        float *Y = chk_download(ctx, y), *Rm = chk_download(ctx, rm), *Rv = chk_download(ctx, rv);
        chk_close(chk_name("%s: training forward vs the definition", nm), want, Y, N, 1e-5, 1e-5);
        chk_close(chk_name("%s: running mean moved by momentum 0.1", nm), wrm, Rm, C, 1e-6, 1e-6);
        chk_close(chk_name("%s: running variance moved (unbiased)", nm), wrv, Rv, C, 1e-6, 1e-6);
        chk_ok(ctx, lre_batch_norm_backward(ctx, dx, dw, db, dy, x, mean, rstd, w, C, S, 0),
               chk_name("%s: backward runs", nm));
        float *gdx = chk_download(ctx, dx), *gdw = chk_download(ctx, dw), *gdb = chk_download(ctx, db);
        bn_case k = {x, y, mean, rstd, w, b, C, S, R};
        chk_fd_tensor(chk_name("%s: dx vs finite differences", nm), ctx, x, 1, gdx, bn_loss, &k,
                      1e-2f, 1e-3, 1e-2);
        chk_fd_tensor(chk_name("%s: dw vs finite differences", nm), ctx, w, 1, gdw, bn_loss, &k,
                      1e-2f, 1e-3, 1e-2);
        chk_fd_tensor(chk_name("%s: db vs finite differences", nm), ctx, b, 1, gdb, bn_loss, &k,
                      1e-2f, 1e-3, 1e-2);
        float *fs[] = {Ye, Y, Rm, Rv, gdx, gdw, gdb};
        for (size_t i = 0; i < 7; i++) free(fs[i]);
        lre_tensor *ts[] = {x, y, dx, dy, mean, rstd, rm, rv, w, b, dw, db};
        for (size_t i = 0; i < 12; i++) lre_tensor_release(ts[i]);
    }
    lre_tensor *x = chk_t2(ctx, LRE_F32, 1, 3), *y = chk_t2(ctx, LRE_F32, 1, 3);
    lre_tensor *mean = chk_t1(ctx, LRE_F32, 3), *rstd = chk_t1(ctx, LRE_F32, 3);
    chk_err(ctx, lre_batch_norm_forward(ctx, y, mean, rstd, NULL, NULL, x, NULL, NULL, 3, 1, 1e-5f,
                                        0.1f, 1), LRE_ESHAPE,
            "batch_norm: training on one value per channel is refused, as torch", "more than one",
            NULL);
    lre_tensor *ts[] = {x, y, mean, rstd};
    for (size_t i = 0; i < 4; i++) lre_tensor_release(ts[i]);
}

int main(void)
{
    CHK_FOR_EACH_DEVICE(dev)
    {
        ctx = chk_ctx_on(dev, 1);
        rng = (chk_rng){20240601}; /* the same inputs on every device */
        test_matmul();
        test_linear();
        test_act();
        test_cross_entropy();
        test_mse();
        test_conv2d();
        test_pool();
        test_adaptive();
        test_layer_norm();
        test_batch_norm();
        test_mlp();
        lre_ctx_release(ctx);
        if (dev == LRE_DEVICE_CPU && !getenv("LRE_CPU_GEMM")) {
            /* the CPU's other convolution: image by image through im2col
             * and OpenBLAS, what a build without oneDNN runs (a build with
             * it convolves a batch in one oneDNN call above) */
            setenv("LRE_CPU_GEMM", "openblas", 1);
            ctx = chk_ctx_on(dev, 1);
            conv_path = " (im2col, LRE_CPU_GEMM=openblas)";
            test_conv2d();
            conv_path = " (C loops, LRE_CPU_GEMM=openblas)";
            test_layer_norm();
            test_batch_norm();
            conv_path = "";
            lre_ctx_release(ctx);
            unsetenv("LRE_CPU_GEMM");
        }
    }
    return chk_done("test_gradcheck");
}
