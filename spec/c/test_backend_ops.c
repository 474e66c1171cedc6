/*
 * test_backend_ops.c — every entry of every compiled backend's table
 * (backend/backend.h) against a double-precision reference computed here,
 * after ggml's test-backend-ops: one table of cases per entry over edge
 * shapes (one row, odd sizes, sizes that are not a multiple of the vector
 * width, K = 0, large logits), a per-op tolerance, and guard bands around
 * every output buffer to catch writes outside it. Inputs are uploaded and
 * outputs downloaded through the backend's own copies, so the same cases
 * run on the CPU and on CUDA (LRE_TEST_DEVICE picks one, see check.h).
 *
 * The reference is written from the definitions (PyTorch's formulas), not
 * from the CPU backend's code: the CPU backend is tested by it too.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "backend/backend.h"
#include "backend/elementwise.h"

/* ------------------------------------------------------------ device */

typedef struct dev {
    const lre_backend *be;
    void *st;
    lre_backend_env env;
    lre_mem_stats stats;
    char err[LRE_ERRMSG_SIZE];
} dev;

static dev D;

#define GUARD 37 /* elements each side of an output: odd, not a vector width */
static const uint8_t GUARD_BYTE = 0xA5;

/* A device buffer of n elements with guard bands: base holds
 * GUARD + n + GUARD elements; ptr points at the first of the n. */
typedef struct dbuf {
    uint8_t *base;
    void *ptr;
    size_t elem;
    int64_t n;
} dbuf;

static size_t dbytes(const dbuf *b) { return (size_t)(b->n + 2 * GUARD) * b->elem; }

/* Allocates a guarded buffer: guards of GUARD_BYTE, the inside from
 * `init` (n elements) or GUARD_BYTE too when init is NULL. */
static dbuf dnew(size_t elem, int64_t n, const void *init)
{
    dbuf b = {NULL, NULL, elem, n};
    size_t total = (size_t)(n + 2 * GUARD) * elem;
    b.base = D.be->alloc(D.st, total);
    if (!b.base) chk_fatal("alloc", "%zu bytes: %s", total, D.err);
    uint8_t *h = malloc(total);
    if (!h) chk_fatal("alloc", "host");
    memset(h, GUARD_BYTE, total);
    if (init && n) memcpy(h + GUARD * elem, init, (size_t)n * elem);
    if (D.be->to_device(D.st, b.base, h, total) != LRE_OK) chk_fatal("to_device", "%s", D.err);
    free(h);
    b.ptr = b.base + GUARD * elem;
    return b;
}

static void dfree(dbuf *b)
{
    D.be->free(D.st, b->base);
    b->base = NULL;
}

/* Downloads the inside into out (n elements) and checks both guard bands
 * (one check named after the case). */
static int dget(dbuf *b, void *out, const char *name)
{
    size_t total = dbytes(b);
    uint8_t *h = malloc(total);
    if (!h) chk_fatal("alloc", "host");
    if (D.be->synchronize(D.st) != LRE_OK || D.be->to_host(D.st, h, b->base, total) != LRE_OK)
        chk_fatal(name, "download failed: %s", D.err);
    int hit = 0;
    int64_t bad = 0; /* byte offset of the stray write from the buffer's start */
    size_t gb = GUARD * b->elem;
    for (size_t i = 0; i < gb && !hit; i++)
        if (h[i] != GUARD_BYTE) hit = 1, bad = (int64_t)i - (int64_t)gb;
    for (size_t i = 0; i < gb && !hit; i++)
        if (h[gb + (size_t)b->n * b->elem + i] != GUARD_BYTE)
            hit = 1, bad = (int64_t)((size_t)b->n * b->elem + i);
    if (out && b->n) memcpy(out, h + gb, (size_t)b->n * b->elem);
    free(h);
    return CHECK(!hit, chk_name("%s: guard bands intact", name),
                 "a write at byte offset %lld from the buffer's start (size %lld bytes)",
                 (long long)bad, (long long)((size_t)b->n * b->elem));
}

static chk_rng R = {12345};

static float *rnd(int64_t n, double lo, double hi)
{
    float *x = malloc(sizeof *x * (size_t)(n > 0 ? n : 1));
    if (!x) chk_fatal("alloc", "host");
    chk_fill(&R, x, n, lo, hi);
    return x;
}

static double *dalloc(int64_t n)
{
    double *x = calloc((size_t)(n > 0 ? n : 1), sizeof *x);
    if (!x) chk_fatal("alloc", "host");
    return x;
}

static int ok(lre_status s, const char *name)
{
    return CHECK(s == LRE_OK, name, "status %d (%s): %s", (int)s, lre_status_string(s), D.err);
}

/* -------------------------------------------------------------- gemm */

/* What the gemm cases run under: a provider forced on the CPU
 * (LRE_CPU_GEMM), or a reduced precision (then a looser tolerance: inputs
 * rounded to TF32's 10 or bf16's 7 mantissa bits, fp32 sums). */
static const char *GEMM_MODE = "";
static double GEMM_EPS = 0.0; /* the input rounding's relative error; 0: fp32 */

static void test_gemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                      int pad)
{
    const char *name = chk_name("gemm%s %s%s M=%lld N=%lld K=%lld alpha=%g beta=%g%s", GEMM_MODE,
                                ta ? "T" : "N", tb ? "T" : "N", (long long)M, (long long)N,
                                (long long)K, (double)alpha, (double)beta,
                                pad ? " (padded strides)" : "");
    char nm[256];
    snprintf(nm, sizeof nm, "%s", name);
    /* a is op(a) (M,K): stored (M,K) or (K,M); rows padded by `pad` */
    int64_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    int64_t lda = ac + pad, ldb = bc + pad, ldc = N + pad;
    float *a = rnd(ar * lda, -1, 1), *b = rnd(br * ldb, -1, 1), *c = rnd(M * ldc, -1, 1);
    double *want = dalloc(M * ldc);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < ldc; j++) {
            if (j >= N) { /* the padding between rows is not c's: untouched */
                want[i * ldc + j] = c[i * ldc + j];
                continue;
            }
            double s = 0;
            for (int64_t k = 0; k < K; k++) {
                double av = ta ? a[k * lda + i] : a[i * lda + k];
                double bv = tb ? b[j * ldb + k] : b[k * ldb + j];
                s += av * bv;
            }
            want[i * ldc + j] = alpha * s + (beta == 0.0f ? 0.0 : beta * (double)c[i * ldc + j]);
        }
    if (beta == 0.0f) /* beta = 0 ignores c, even a NaN in it (BLAS's rule) */
        for (int64_t i = 0; i < M; i++) c[i * ldc] = NAN;
    dbuf da = dnew(4, ar * lda, a), db = dnew(4, br * ldb, b), dc = dnew(4, M * ldc, c);
    ok(D.be->gemm(D.st, ta, tb, M, N, K, alpha, da.ptr, lda, db.ptr, ldb, beta, dc.ptr, ldc),
       chk_name("%s: runs", nm));
    float *got = malloc(sizeof *got * (size_t)(M * ldc + 1));
    dget(&dc, got, nm);
    /* fp32: K roundings; rounded inputs: each product off by about 2·eps·|a||b|
     * (|a|,|b| <= 1), K of them adding up like a random walk */
    double atol = GEMM_EPS > 0 ? 2.0 * GEMM_EPS * sqrt((double)K + 1) * 3 + 1e-6
                               : 1e-6 * (double)(K + 1) * 2;
    chk_close(chk_name("%s: matches the reference", nm), want, got, M * ldc, atol,
              GEMM_EPS > 0 ? 4 * GEMM_EPS : 2e-6);
    free(got);
    dfree(&da);
    dfree(&db);
    dfree(&dc);
    free(a);
    free(b);
    free(c);
    free(want);
}

/* The fused linear forward (optional entry): y = x·w^T + bias (then, with
 * relu, max(y, 0)) against the double reference, and bit for bit what gemm,
 * bias_add_forward (and act_forward) give. With relu the first row of x is
 * NaN: our ReLU makes a NaN 0, and the fused one must too. */
static void test_linear(int64_t B, int64_t in, int64_t out, int relu)
{
    if (!D.be->linear_forward) return;
    char nm[160];
    snprintf(nm, sizeof nm, "linear_forward%s%s B=%lld in=%lld out=%lld", relu ? " + relu" : "",
             GEMM_MODE, (long long)B, (long long)in, (long long)out);
    float *x = rnd(B * in, -1, 1), *w = rnd(out * in, -1, 1), *bias = rnd(out, -1, 1);
    const int nan_row = relu && in > 0;
    if (nan_row) x[0] = NAN;
    double *want = dalloc(B * out);
    for (int64_t i = 0; i < B; i++)
        for (int64_t j = 0; j < out; j++) {
            double acc = 0;
            for (int64_t k = 0; k < in; k++) acc += (double)x[i * in + k] * w[j * in + k];
            acc += bias[j];
            want[i * out + j] = relu ? (acc > 0 ? acc : 0) : acc;
        }
    dbuf dx = dnew(4, B * in, x), dw = dnew(4, out * in, w), db = dnew(4, out, bias);
    dbuf dy = dnew(4, B * out, NULL), dy2 = dnew(4, B * out, NULL);
    if (D.be->linear_prepare)
        ok(D.be->linear_prepare(D.st, B, in, out, relu), chk_name("%s: prepare runs", nm));
    ok(D.be->linear_forward(D.st, dy.ptr, dx.ptr, dw.ptr, db.ptr, B, in, out, relu),
       chk_name("%s: runs", nm));
    ok(D.be->gemm(D.st, 0, 1, B, out, in, 1.0f, dx.ptr, in, dw.ptr, in, 0.0f, dy2.ptr, out),
       chk_name("%s: the unfused gemm runs", nm));
    ok(D.be->bias_add_forward(D.st, dy2.ptr, db.ptr, B, out),
       chk_name("%s: the unfused bias_add runs", nm));
    if (relu)
        ok(D.be->act_forward(D.st, LRE_ACT_RELU, 0.0f, dy2.ptr, dy2.ptr, B * out),
           chk_name("%s: the unfused relu runs", nm));
    float *got = malloc(sizeof *got * (size_t)(B * out + 1)),
          *got2 = malloc(sizeof *got2 * (size_t)(B * out + 1));
    dget(&dy, got, nm);
    dget(&dy2, got2, nm);
    double atol = GEMM_EPS > 0 ? 2.0 * GEMM_EPS * sqrt((double)in + 1) * 3 + 1e-6
                               : 1e-6 * (double)(in + 1) * 2;
    /* the NaN row (relu) is 0 in our ReLU, whatever the reference says */
    const int64_t skip = nan_row ? out : 0;
    chk_close(chk_name("%s: matches the reference", nm), want + skip, got + skip,
              B * out - skip, atol, GEMM_EPS > 0 ? 4 * GEMM_EPS : 2e-6);
    if (nan_row) {
        int zero = 1;
        for (int64_t j = 0; j < out; j++) zero &= got[j] == 0.0f && !signbit(got[j]);
        CHECK(zero, chk_name("%s: a NaN row comes out +0, as act_forward's ReLU", nm),
              "it does not");
    }
    CHECK(memcmp(got, got2, sizeof *got * (size_t)(B * out)) == 0,
          chk_name("%s: the same bits as gemm, bias_add_forward%s", nm,
                   relu ? " and act_forward" : ""),
          "they differ");
    free(got);
    free(got2);
    dfree(&dx);
    dfree(&dw);
    dfree(&db);
    dfree(&dy);
    dfree(&dy2);
    free(x);
    free(w);
    free(bias);
    free(want);
}

/* ---------------------------------------------------------------- bias */

static void test_bias(int64_t rows, int64_t cols, int accumulate)
{
    char nm[128];
    snprintf(nm, sizeof nm, "bias rows=%lld cols=%lld", (long long)rows, (long long)cols);
    float *y = rnd(rows * cols, -2, 2), *bias = rnd(cols, -1, 1), *db0 = rnd(cols, -1, 1);
    double *want = dalloc(rows * cols), *wdb = dalloc(cols);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) want[i * cols + j] = (double)y[i * cols + j] + bias[j];
    for (int64_t j = 0; j < cols; j++) {
        double s = accumulate ? db0[j] : 0.0;
        for (int64_t i = 0; i < rows; i++) s += y[i * cols + j];
        wdb[j] = s;
    }
    dbuf dy = dnew(4, rows * cols, y), dbias = dnew(4, cols, bias), ddb = dnew(4, cols, db0);
    /* backward first: it reads dy = y before forward changes it */
    ok(D.be->bias_add_backward(D.st, ddb.ptr, dy.ptr, rows, cols, accumulate),
       chk_name("%s: backward (accumulate=%d) runs", nm, accumulate));
    ok(D.be->bias_add_forward(D.st, dy.ptr, dbias.ptr, rows, cols),
       chk_name("%s: forward runs", nm));
    float *got = malloc(sizeof *got * (size_t)(rows * cols + 1)), *gdb = malloc(sizeof *gdb * (size_t)cols);
    dget(&dy, got, chk_name("%s forward", nm));
    chk_close(chk_name("%s: forward matches", nm), want, got, rows * cols, 1e-6, 1e-6);
    dget(&ddb, gdb, chk_name("%s backward acc=%d", nm, accumulate));
    chk_close(chk_name("%s: backward (accumulate=%d) matches", nm, accumulate), wdb, gdb, cols,
              1e-5, 1e-5);
    free(got);
    free(gdb);
    dfree(&dy);
    dfree(&dbias);
    dfree(&ddb);
    free(y);
    free(bias);
    free(db0);
    free(want);
    free(wdb);
}

/* --------------------------------------------------------- activations */

static void test_act(lre_act a, float param, int64_t n)
{
    char nm[128];
    snprintf(nm, sizeof nm, "act %s n=%lld", lre_act_name(a), (long long)n);
    float *x = rnd(n, -6, 6), *dy = rnd(n, -1, 1);
    /* edge values: zero, tiny, large of both signs */
    static const float edge[] = {0.0f, -0.0f, 1e-20f, -1e-20f, 30.0f, -30.0f, 90.0f, -90.0f};
    for (int64_t i = 0; i < n && i < (int64_t)(sizeof edge / sizeof edge[0]); i++) x[i] = edge[i];
    double *wy = dalloc(n), *wdx = dalloc(n);
    float *yf = malloc(sizeof *yf * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        wy[i] = chk_act_ref(a, param, x[i]);
        yf[i] = (float)wy[i];
        wdx[i] = chk_act_dref(a, param, x[i]) * dy[i];
    }
    dbuf dx = dnew(4, n, x), ddy = dnew(4, n, dy), dyo = dnew(4, n, NULL), ddx = dnew(4, n, NULL);
    dbuf dyref = dnew(4, n, yf);
    ok(D.be->act_forward(D.st, a, param, dyo.ptr, dx.ptr, n), chk_name("%s: forward runs", nm));
    ok(D.be->act_backward(D.st, a, param, ddx.ptr, ddy.ptr, dx.ptr, dyref.ptr, n),
       chk_name("%s: backward runs", nm));
    float *got = malloc(sizeof *got * (size_t)n);
    dget(&dyo, got, chk_name("%s forward", nm));
    chk_close(chk_name("%s: forward matches", nm), wy, got, n, 1e-7, 4e-6);
    dget(&ddx, got, chk_name("%s backward", nm));
    /* tanh' and sigmoid' are formed from y (rounded to float): 1e-6 abs */
    chk_close(chk_name("%s: backward matches", nm), wdx, got, n, 2e-6, 1e-5);
    /* in place (y = x) is allowed */
    ok(D.be->act_forward(D.st, a, param, dx.ptr, dx.ptr, n), chk_name("%s: in place runs", nm));
    dget(&dx, got, chk_name("%s in place", nm));
    chk_close(chk_name("%s: in place matches", nm), wy, got, n, 1e-7, 4e-6);
    free(got);
    dfree(&dx);
    dfree(&ddy);
    dfree(&dyo);
    dfree(&ddx);
    dfree(&dyref);
    free(x);
    free(dy);
    free(yf);
    free(wy);
    free(wdx);
}

/* -------------------------------------------------------- cross-entropy */

static void test_ce(int64_t B, int64_t C, float smoothing, float grad_scale, double logit_scale,
                    int with_grad, int bad_label)
{
    char nm[192];
    snprintf(nm, sizeof nm, "cross_entropy B=%lld C=%lld eps=%g scale=%g logits*%g%s%s",
             (long long)B, (long long)C, (double)smoothing, (double)grad_scale, logit_scale,
             with_grad ? "" : " (no grad)", bad_label ? " (a label out of range)" : "");
    float *z = rnd(B * C, -logit_scale, logit_scale);
    int32_t *y = malloc(sizeof *y * (size_t)B);
    for (int64_t i = 0; i < B; i++) y[i] = (int32_t)(chk_u64(&R) % (uint64_t)C);
    if (bad_label) y[B - 1] = bad_label > 0 ? (int32_t)C : -1;
    double total = 0, *wd = dalloc(B * C);
    const double eps = smoothing, on = 1 - eps, off = eps / (double)C;
    for (int64_t i = 0; i < B; i++) {
        long double m = -INFINITY, se = 0;
        for (int64_t c = 0; c < C; c++) m = fmaxl(m, z[i * C + c]);
        for (int64_t c = 0; c < C; c++) se += expl((long double)z[i * C + c] - m);
        long double lse = m + logl(se);
        if (y[i] < 0 || y[i] >= C) {
            total = NAN;
            continue; /* the row's gradient is zeros: wd stays 0 */
        }
        long double li = 0;
        for (int64_t c = 0; c < C; c++) {
            long double t = (c == y[i] ? on : 0.0) + off;
            li += t * (lse - z[i * C + c]);
            wd[i * C + c] = (double)((expl(z[i * C + c] - lse) - t) * grad_scale / B);
        }
        total += (double)li;
    }
    double wloss = total / (double)B;
    dbuf dz = dnew(4, B * C, z), dy = dnew(4, B, y), dl = dnew(4, 1, NULL);
    dbuf dd = dnew(4, B * C, NULL);
    ok(D.be->cross_entropy(D.st, dl.ptr, with_grad ? dd.ptr : NULL, dz.ptr, dy.ptr, B, C,
                           smoothing, grad_scale),
       chk_name("%s: runs", nm));
    float loss, *gd = malloc(sizeof *gd * (size_t)(B * C));
    dget(&dl, &loss, chk_name("%s loss", nm));
    if (bad_label)
        CHECK(isnan(loss), chk_name("%s: the loss is NaN", nm), "got %g", (double)loss);
    else
        chk_close1(chk_name("%s: loss matches", nm), wloss, loss, 1e-6, 1e-5);
    if (with_grad) {
        dget(&dd, gd, chk_name("%s dlogits", nm));
        chk_close(chk_name("%s: dlogits match", nm), wd, gd, B * C, 1e-7, 1e-4);
    } else {
        dget(&dd, NULL, chk_name("%s untouched dlogits", nm));
    }
    free(gd);
    dfree(&dz);
    dfree(&dy);
    dfree(&dl);
    dfree(&dd);
    free(z);
    free(y);
    free(wd);
}

static void test_mse(int64_t n, float grad_scale, int with_grad)
{
    char nm[128];
    snprintf(nm, sizeof nm, "mse n=%lld scale=%g%s", (long long)n, (double)grad_scale,
             with_grad ? "" : " (no grad)");
    float *p = rnd(n, -3, 3), *t = rnd(n, -3, 3);
    double s = 0, *wd = dalloc(n);
    for (int64_t i = 0; i < n; i++) {
        double d = (double)p[i] - t[i];
        s += d * d;
        wd[i] = 2 * d * grad_scale / (double)n;
    }
    dbuf dp = dnew(4, n, p), dt = dnew(4, n, t), dl = dnew(4, 1, NULL), dd = dnew(4, n, NULL);
    ok(D.be->mse(D.st, dl.ptr, with_grad ? dd.ptr : NULL, dp.ptr, dt.ptr, n, grad_scale),
       chk_name("%s: runs", nm));
    float loss, *gd = malloc(sizeof *gd * (size_t)n);
    dget(&dl, &loss, chk_name("%s loss", nm));
    chk_close1(chk_name("%s: loss matches", nm), s / (double)n, loss, 1e-7, 1e-5);
    if (with_grad) {
        dget(&dd, gd, chk_name("%s dpred", nm));
        chk_close(chk_name("%s: dpred matches", nm), wd, gd, n, 1e-8, 1e-5);
    } else {
        dget(&dd, NULL, chk_name("%s untouched dpred", nm));
    }
    free(gd);
    dfree(&dp);
    dfree(&dt);
    dfree(&dl);
    dfree(&dd);
    free(p);
    free(t);
    free(wd);
}

static void test_count_correct(int64_t B, int64_t C, int ties)
{
    char nm[128];
    snprintf(nm, sizeof nm, "count_correct B=%lld C=%lld%s", (long long)B, (long long)C,
             ties ? " with ties" : "");
    float *z = rnd(B * C, -1, 1);
    int32_t *y = malloc(sizeof *y * (size_t)B);
    int64_t want = 0;
    for (int64_t i = 0; i < B; i++) {
        if (ties) /* rows of equal logits in places: the first maximum wins */
            for (int64_t c = 0; c < C; c++)
                if (chk_u64(&R) % 2) z[i * C + c] = 0.5f;
        y[i] = (int32_t)(chk_u64(&R) % (uint64_t)C);
        int64_t best = 0;
        for (int64_t c = 1; c < C; c++)
            if (z[i * C + c] > z[i * C + best]) best = c;
        if (i % 3 == 0) y[i] = (int32_t)best; /* some rows right for sure */
        want += best == y[i];
    }
    dbuf dz = dnew(4, B * C, z), dy = dnew(4, B, y), dc = dnew(8, 1, NULL);
    ok(D.be->count_correct(D.st, dc.ptr, dz.ptr, dy.ptr, B, C), chk_name("%s: runs", nm));
    int64_t got = -1;
    dget(&dc, &got, nm);
    CHECK(got == want, chk_name("%s: the count matches", nm), "want %lld got %lld",
          (long long)want, (long long)got);
    dfree(&dz);
    dfree(&dy);
    dfree(&dc);
    free(z);
    free(y);
}

/* -------------------------------------------------------------- gather */

enum { T_IDENTITY, T_GLOBAL, T_PER_FEATURE };

static void test_gather(lre_dtype dt, int transform, int64_t rows, int64_t F, int64_t n,
                        int with_index, int64_t target_dim)
{
    static const char *const tn[] = {"identity", "global", "per-feature"};
    char nm[192];
    snprintf(nm, sizeof nm, "gather %s %s rows=%lld F=%lld n=%lld%s%s", lre_dtype_name(dt),
             tn[transform], (long long)rows, (long long)F, (long long)n,
             with_index ? " through an index" : "", target_dim ? " with targets" : " with labels");
    size_t es = dt == LRE_U8 ? 1 : 4;
    uint8_t *x = malloc(es * (size_t)(rows * F));
    for (int64_t i = 0; i < rows * F; i++) {
        if (dt == LRE_U8) x[i] = (uint8_t)(chk_u64(&R) & 255);
        else ((float *)x)[i] = (float)chk_unif(&R, -100, 100);
    }
    int32_t *labels = malloc(sizeof *labels * (size_t)rows);
    float *targets = target_dim ? rnd(rows * target_dim, -1, 1) : NULL;
    for (int64_t i = 0; i < rows; i++) labels[i] = (int32_t)(i % 7);
    int64_t dn = with_index ? rows / 2 + 1 : rows; /* the dataset's size */
    int64_t *index = malloc(sizeof *index * (size_t)dn);
    for (int64_t i = 0; i < dn; i++) index[i] = with_index ? (rows - 1 - 2 * i + rows) % rows : i;
    int64_t *idx = malloc(sizeof *idx * (size_t)n);
    for (int64_t i = 0; i < n; i++) idx[i] = (int64_t)(chk_u64(&R) % (uint64_t)dn);
    float scale = 1.0f / 255.0f, shift = -0.5f;
    float *mul = rnd(F, 0.001, 0.1), *add = rnd(F, -1, 1);
    double *wx = dalloc(n * F), *wt = dalloc(n * (target_dim ? target_dim : 1));
    int32_t *wy = malloc(sizeof *wy * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        int64_t r = index[idx[i]];
        for (int64_t c = 0; c < F; c++) {
            double v = dt == LRE_U8 ? x[r * F + c] : ((float *)x)[r * F + c];
            if (transform == T_GLOBAL) v = v * scale + shift;
            if (transform == T_PER_FEATURE) v = v * mul[c] + add[c];
            wx[i * F + c] = v;
        }
        wy[i] = labels[r];
        for (int64_t k = 0; k < target_dim; k++) wt[i * target_dim + k] = targets[r * target_dim + k];
    }
    dbuf dx = dnew(es, rows * F, x), dl = dnew(4, rows, labels);
    dbuf dtg = dnew(4, target_dim ? rows * target_dim : 1, targets);
    dbuf dix = dnew(8, dn, index), didx = dnew(8, n, idx);
    dbuf dmul = dnew(4, F, mul), dadd = dnew(4, F, add);
    dbuf ox = dnew(4, n * F, NULL), oy = dnew(4, n, NULL), ot = dnew(4, n * (target_dim ? target_dim : 1), NULL);
    lre_gather_src src = {0};
    src.x = dx.ptr;
    src.dtype = dt;
    src.features = F;
    src.labels = target_dim ? NULL : dl.ptr;
    src.targets = target_dim ? dtg.ptr : NULL;
    src.target_dim = target_dim;
    src.index = with_index ? dix.ptr : NULL;
    src.n = dn;
    src.scale = transform == T_GLOBAL ? scale : 1.0f;
    src.shift = transform == T_GLOBAL ? shift : 0.0f;
    src.identity = transform == T_IDENTITY && dt == LRE_F32;
    src.mul = transform == T_PER_FEATURE ? dmul.ptr : NULL;
    src.add = transform == T_PER_FEATURE ? dadd.ptr : NULL;
    ok(D.be->gather(D.st, &src, didx.ptr, 0, n, ox.ptr, target_dim ? NULL : oy.ptr,
                    target_dim ? ot.ptr : NULL),
       chk_name("%s: runs", nm));
    float *gx = malloc(sizeof *gx * (size_t)(n * F + 1));
    dget(&ox, gx, chk_name("%s x", nm));
    chk_close(chk_name("%s: x matches", nm), wx, gx, n * F, 1e-6, 1e-6);
    if (target_dim) {
        float *gt = malloc(sizeof *gt * (size_t)(n * target_dim));
        dget(&ot, gt, chk_name("%s targets", nm));
        chk_close(chk_name("%s: targets match", nm), wt, gt, n * target_dim, 0, 0);
        dget(&oy, NULL, chk_name("%s untouched labels", nm));
        free(gt);
    } else {
        int32_t *gy = malloc(sizeof *gy * (size_t)n);
        dget(&oy, gy, chk_name("%s labels", nm));
        CHECK(memcmp(gy, wy, sizeof *gy * (size_t)n) == 0, chk_name("%s: labels match", nm),
              "a label differs");
        free(gy);
    }
    /* in order (idx NULL): rows first..first+m-1 of the dataset */
    int64_t first = dn / 3, m = dn - first < n ? dn - first : n;
    double *wseq = dalloc(m * F);
    for (int64_t i = 0; i < m; i++) {
        int64_t r = index[first + i];
        for (int64_t c = 0; c < F; c++) {
            double v = dt == LRE_U8 ? x[r * F + c] : ((float *)x)[r * F + c];
            if (transform == T_GLOBAL) v = v * scale + shift;
            if (transform == T_PER_FEATURE) v = v * mul[c] + add[c];
            wseq[i * F + c] = v;
        }
    }
    dbuf ox2 = dnew(4, m * F, NULL);
    ok(D.be->gather(D.st, &src, NULL, first, m, ox2.ptr, NULL, NULL),
       chk_name("%s in order from row %lld: runs", nm, (long long)first));
    dget(&ox2, gx, chk_name("%s in order", nm));
    chk_close(chk_name("%s in order from row %lld: x matches", nm, (long long)first), wseq, gx,
              m * F, 1e-6, 1e-6);
    dfree(&ox2);
    free(wseq);
    free(gx);
    dbuf *all[] = {&dx, &dl, &dtg, &dix, &didx, &dmul, &dadd, &ox, &oy, &ot};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dfree(all[i]);
    free(x);
    free(labels);
    free(targets);
    free(index);
    free(idx);
    free(mul);
    free(add);
    free(wx);
    free(wt);
    free(wy);
}

/* ---------------------------------------------------------- optimizers */

static void test_sgd(int64_t n, float lr, float momentum, float dampening, int nesterov, float wd,
                     int first)
{
    char nm[192];
    snprintf(nm, sizeof nm, "sgd n=%lld lr=%g momentum=%g dampening=%g nesterov=%d wd=%g first=%d",
             (long long)n, (double)lr, (double)momentum, (double)dampening, nesterov, (double)wd,
             first);
    float *p = rnd(n, -1, 1), *g = rnd(n, -1, 1), *buf = rnd(n, -1, 1);
    lre_optim_scalars sc = {0};
    sc.lr = lr;
    sc.momentum = momentum;
    sc.keep = 1.0f - dampening;
    sc.weight_decay = wd;
    sc.nesterov = nesterov;
    sc.first_step = first;
    double *wp = dalloc(n), *wb = dalloc(n);
    for (int64_t i = 0; i < n; i++) { /* torch.optim.SGD, foreach=False */
        double d = (double)g[i] + (double)wd * p[i];
        wb[i] = buf[i];
        if (momentum != 0.0f) {
            wb[i] = first ? d : (double)momentum * buf[i] + (double)sc.keep * d;
            d = nesterov ? d + (double)momentum * wb[i] : wb[i];
        }
        wp[i] = (double)p[i] - (double)lr * d;
    }
    dbuf dp = dnew(4, n, p), dg = dnew(4, n, g), db = dnew(4, n, buf);
    dbuf ds = dnew(sizeof sc, 1, &sc);
    ok(D.be->sgd_update(D.st, dp.ptr, dg.ptr, momentum != 0.0f ? db.ptr : NULL, n, ds.ptr),
       chk_name("%s: runs", nm));
    float *got = malloc(sizeof *got * (size_t)n);
    dget(&dp, got, chk_name("%s p", nm));
    chk_close(chk_name("%s: p matches", nm), wp, got, n, 1e-7, 1e-6);
    dget(&db, got, chk_name("%s momentum_buffer", nm));
    chk_close(chk_name("%s: momentum_buffer matches", nm), wb, got, n, 1e-7, 1e-6);
    free(got);
    dfree(&dp);
    dfree(&dg);
    dfree(&db);
    dfree(&ds);
    free(p);
    free(g);
    free(buf);
    free(wp);
    free(wb);
}

static void test_adam(int64_t n, int decoupled, int64_t step, double lr, double wd)
{
    char nm[160];
    snprintf(nm, sizeof nm, "%s n=%lld step=%lld lr=%g wd=%g", decoupled ? "adamw" : "adam",
             (long long)n, (long long)step, lr, wd);
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    float *p = rnd(n, -1, 1), *g = rnd(n, -1, 1), *m = rnd(n, -0.1, 0.1), *v = rnd(n, 0, 0.01);
    if (step == 1)
        for (int64_t i = 0; i < n; i++) m[i] = v[i] = 0.0f;
    lre_optim_scalars sc = {0}; /* as nn/optim.c forms them (torch.optim) */
    double bc1 = 1 - pow(b1, (double)step), bc2 = 1 - pow(b2, (double)step);
    sc.step_size = (float)(lr / bc1);
    sc.bc2_sqrt = (float)sqrt(bc2);
    sc.w1 = (float)(1 - b1);
    sc.beta2 = (float)b2;
    sc.w2 = (float)(1 - b2);
    sc.eps = (float)eps;
    sc.decay = decoupled ? (float)(1 - lr * wd) : 1.0f;
    sc.l2 = decoupled ? 0.0f : (float)wd;
    double *wp = dalloc(n), *wm = dalloc(n), *wv = dalloc(n);
    for (int64_t i = 0; i < n; i++) { /* Kingma & Ba; Loshchilov & Hutter for AdamW */
        double pi = decoupled ? p[i] * (1 - lr * wd) : p[i];
        double gi = g[i] + (decoupled ? 0 : wd * p[i]);
        wm[i] = b1 * m[i] + (1 - b1) * gi;
        wv[i] = b2 * v[i] + (1 - b2) * gi * gi;
        wp[i] = pi - lr / bc1 * wm[i] / (sqrt(wv[i]) / sqrt(bc2) + eps);
    }
    dbuf dp = dnew(4, n, p), dg = dnew(4, n, g), dm = dnew(4, n, m), dv = dnew(4, n, v);
    dbuf ds = dnew(sizeof sc, 1, &sc);
    ok(D.be->adam_update(D.st, dp.ptr, dg.ptr, dm.ptr, dv.ptr, n, ds.ptr),
       chk_name("%s: runs", nm));
    float *got = malloc(sizeof *got * (size_t)n);
    dget(&dp, got, chk_name("%s p", nm));
    chk_close(chk_name("%s: p matches", nm), wp, got, n, 1e-6, 1e-5);
    dget(&dm, got, chk_name("%s exp_avg", nm));
    chk_close(chk_name("%s: exp_avg matches", nm), wm, got, n, 1e-7, 1e-5);
    dget(&dv, got, chk_name("%s exp_avg_sq", nm));
    chk_close(chk_name("%s: exp_avg_sq matches", nm), wv, got, n, 1e-9, 1e-5);
    free(got);
    dbuf *all[] = {&dp, &dg, &dm, &dv, &ds};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dfree(all[i]);
    free(p);
    free(g);
    free(m);
    free(v);
    free(wp);
    free(wm);
    free(wv);
}

/* -------------------------------------------------------------- memory */

static void test_memory(int64_t nbytes)
{
    char nm[96];
    snprintf(nm, sizeof nm, "memory %lld bytes", (long long)nbytes);
    uint8_t *h = malloc((size_t)nbytes + 1), *back = malloc((size_t)nbytes + 1);
    for (int64_t i = 0; i < nbytes; i++) h[i] = (uint8_t)(chk_u64(&R) & 255);
    /* alloc zero-fills */
    uint8_t *raw = D.be->alloc(D.st, (size_t)nbytes);
    CHECK(raw != NULL || nbytes == 0, chk_name("%s: alloc", nm), "%s", D.err);
    if (raw && nbytes) {
        D.be->to_host(D.st, back, raw, (size_t)nbytes);
        int64_t nz = 0;
        for (int64_t i = 0; i < nbytes; i++) nz += back[i] != 0;
        CHECK(nz == 0, chk_name("%s: alloc is zero-filled", nm), "%lld non-zero bytes",
              (long long)nz);
    }
    D.be->free(D.st, raw);
    dbuf a = dnew(1, nbytes, NULL), b = dnew(1, nbytes, NULL);
    ok(D.be->to_device(D.st, a.ptr, h, (size_t)nbytes), chk_name("%s: to_device runs", nm));
    ok(D.be->copy(D.st, b.ptr, a.ptr, (size_t)nbytes), chk_name("%s: copy runs", nm));
    dget(&b, back, chk_name("%s copy", nm));
    CHECK(memcmp(back, h, (size_t)nbytes) == 0, chk_name("%s: to_device, copy, to_host round trip", nm),
          "bytes differ");
    ok(D.be->zero(D.st, a.ptr, (size_t)nbytes), chk_name("%s: zero runs", nm));
    dget(&a, back, chk_name("%s zero", nm));
    int64_t nz = 0;
    for (int64_t i = 0; i < nbytes; i++) nz += back[i] != 0;
    CHECK(nz == 0, chk_name("%s: zero clears every byte", nm), "%lld non-zero", (long long)nz);
    dfree(&a);
    dfree(&b);
    free(h);
    free(back);
}


/* --------------------------------------------------------- convolution */

/* im2col and col2im against their definitions (col2im's fold as a
 * scatter-add in double), and the row-wise bias; every device that has
 * them (they are optional: a device without them has no convolution). */
static void test_conv(int64_t C, int64_t H, int64_t W, int64_t KH, int64_t KW, int64_t SH,
                      int64_t SW, int64_t PH, int64_t PW, int64_t DH, int64_t DW)
{
    if (!D.be->im2col) return;
    lre_conv_geom g = {C, H, W, KH, KW, SH, SW, PH, PW, DH, DW,
                       (H + 2 * PH - DH * (KH - 1) - 1) / SH + 1,
                       (W + 2 * PW - DW * (KW - 1) - 1) / SW + 1};
    char nm[160];
    snprintf(nm, sizeof nm, "im2col/col2im %lldx%lldx%lld k%lldx%lld s%lld,%lld p%lld,%lld d%lld,%lld",
             (long long)C, (long long)H, (long long)W, (long long)KH, (long long)KW,
             (long long)SH, (long long)SW, (long long)PH, (long long)PW, (long long)DH,
             (long long)DW);
    const int64_t K = C * KH * KW, P = g.OH * g.OW, N = C * H * W;
    float *x = rnd(N, -1, 1), *col = rnd(K * P, -1, 1), *dx0 = rnd(N, -1, 1);
    double *wcol = dalloc(K * P), *wdx = dalloc(N);
    for (int64_t c = 0; c < C; c++)
        for (int64_t kh = 0; kh < KH; kh++)
            for (int64_t kw = 0; kw < KW; kw++)
                for (int64_t oh = 0; oh < g.OH; oh++)
                    for (int64_t ow = 0; ow < g.OW; ow++) {
                        int64_t h = oh * SH - PH + kh * DH, w = ow * SW - PW + kw * DW;
                        int64_t r = (c * KH + kh) * KW + kw, p = oh * g.OW + ow;
                        int in = h >= 0 && h < H && w >= 0 && w < W;
                        wcol[r * P + p] = in ? x[(c * H + h) * W + w] : 0.0;
                        if (in) wdx[(c * H + h) * W + w] += col[r * P + p];
                    }
    for (int64_t i = 0; i < N; i++) wdx[i] += dx0[i]; /* accumulate = 1 */
    dbuf dxin = dnew(4, N, x), dcol = dnew(4, K * P, NULL), dcolin = dnew(4, K * P, col);
    dbuf ddx = dnew(4, N, dx0);
    ok(D.be->im2col(D.st, dcol.ptr, dxin.ptr, &g), chk_name("%s: im2col runs", nm));
    ok(D.be->col2im(D.st, ddx.ptr, dcolin.ptr, &g, 1), chk_name("%s: col2im runs", nm));
    float *gcol = malloc(sizeof *gcol * (size_t)(K * P + 1)), *gdx = malloc(sizeof *gdx * (size_t)N);
    dget(&dcol, gcol, nm);
    dget(&ddx, gdx, nm);
    chk_close(chk_name("%s: im2col matches the definition", nm), wcol, gcol, K * P, 0, 0);
    chk_close(chk_name("%s: col2im (accumulate) matches the scatter-add", nm), wdx, gdx, N,
              1e-5, 1e-5);

    /* the row-wise bias: y (K, P) += b (K); db (K) (+)= row sums */
    float *bias = rnd(K, -1, 1), *db0 = rnd(K, -1, 1);
    double *wy = dalloc(K * P), *wdb = dalloc(K);
    for (int64_t r = 0; r < K; r++) {
        double sum = db0[r];
        for (int64_t p = 0; p < P; p++) {
            wy[r * P + p] = (double)col[r * P + p] + bias[r];
            sum += col[r * P + p];
        }
        wdb[r] = sum;
    }
    dbuf dbias = dnew(4, K, bias), ddb = dnew(4, K, db0);
    ok(D.be->bias_rows_backward(D.st, ddb.ptr, dcolin.ptr, K, P, 1),
       chk_name("%s: bias_rows_backward runs", nm));
    ok(D.be->bias_rows_forward(D.st, dcolin.ptr, dbias.ptr, K, P),
       chk_name("%s: bias_rows_forward runs", nm));
    float *gy = malloc(sizeof *gy * (size_t)(K * P + 1)), *gdb = malloc(sizeof *gdb * (size_t)K);
    dget(&dcolin, gy, nm);
    dget(&ddb, gdb, nm);
    chk_close(chk_name("%s: bias_rows_forward matches", nm), wy, gy, K * P, 1e-6, 1e-6);
    chk_close(chk_name("%s: bias_rows_backward (accumulate) matches", nm), wdb, gdb, K, 1e-5,
              1e-5);
    free(gy);
    free(gdb);
    free(bias);
    free(db0);
    free(wy);
    free(wdb);
    dfree(&dbias);
    dfree(&ddb);
    free(gcol);
    free(gdx);
    dfree(&dxin);
    dfree(&dcol);
    dfree(&dcolin);
    dfree(&ddx);
    free(x);
    free(col);
    free(dx0);
    free(wcol);
    free(wdx);
}


/* The batched convolution entries (a backend that has them: the CPU's
 * oneDNN primitives) against the double definition, for a batch of B
 * images: forward with bias and with the fused ReLU, the data's gradient,
 * the weights' and bias's gradients set and accumulated. */
static void test_conv_direct(int64_t B, int64_t C, int64_t H, int64_t W, int64_t O, int64_t K,
                             int64_t S, int64_t PD, int64_t DL)
{
    lre_conv_geom g = {C, H, W, K, K, S, S, PD, PD, DL, DL, (H + 2 * PD - DL * (K - 1) - 1) / S + 1,
                       (W + 2 * PD - DL * (K - 1) - 1) / S + 1};
    if (!D.be->conv_direct || !D.be->conv_direct(D.st, B, O, &g)) return;
    char nm[160];
    snprintf(nm, sizeof nm, "conv (batched) %lld images %lldx%lldx%lld -> %lld, k%lld s%lld p%lld d%lld",
             (long long)B, (long long)C, (long long)H, (long long)W, (long long)O, (long long)K,
             (long long)S, (long long)PD, (long long)DL);
    const int64_t KK = C * K * K, P = g.OH * g.OW, N = B * C * H * W, M = B * O * P;
    float *x = rnd(N, -1, 1), *w = rnd(O * KK, -1, 1), *b = rnd(O, -1, 1), *dy = rnd(M, -1, 1);
    float *dw0 = rnd(O * KK, -1, 1), *db0 = rnd(O, -1, 1);
    double *wy = dalloc(M), *wr = dalloc(M), *wdx = dalloc(N), *wdw = dalloc(O * KK),
           *wdb = dalloc(O), *wdwa = dalloc(O * KK), *wdba = dalloc(O);
    for (int64_t n = 0; n < B; n++)
        for (int64_t o = 0; o < O; o++)
            for (int64_t oh = 0; oh < g.OH; oh++)
                for (int64_t ow = 0; ow < g.OW; ow++) {
                    const int64_t yi = ((n * O + o) * g.OH + oh) * g.OW + ow;
                    double acc = b[o];
                    for (int64_t c = 0; c < C; c++)
                        for (int64_t kh = 0; kh < K; kh++)
                            for (int64_t kw = 0; kw < K; kw++) {
                                int64_t h = oh * S - PD + kh * DL, x_ = ow * S - PD + kw * DL;
                                if (h < 0 || h >= H || x_ < 0 || x_ >= W) continue;
                                const int64_t xi = ((n * C + c) * H + h) * W + x_,
                                              wi = o * KK + (c * K + kh) * K + kw;
                                acc += (double)w[wi] * x[xi];
                                wdx[xi] += (double)w[wi] * dy[yi];
                                wdw[wi] += (double)x[xi] * dy[yi];
                            }
                    wy[yi] = acc;
                    wr[yi] = acc > 0 ? acc : 0;
                    wdb[o] += dy[yi];
                }
    for (int64_t i = 0; i < O * KK; i++) wdwa[i] = wdw[i] + dw0[i];
    for (int64_t i = 0; i < O; i++) wdba[i] = wdb[i] + db0[i];
    dbuf dx = dnew(4, N, x), dwt = dnew(4, O * KK, w), dbias = dnew(4, O, b), ddy = dnew(4, M, dy);
    dbuf dyo = dnew(4, M, NULL), dro = dnew(4, M, NULL), ddx = dnew(4, N, NULL);
    dbuf ddw = dnew(4, O * KK, NULL), ddb = dnew(4, O, NULL), ddwa = dnew(4, O * KK, dw0),
         ddba = dnew(4, O, db0);
    ok(D.be->conv_forward(D.st, dyo.ptr, dx.ptr, dwt.ptr, dbias.ptr, B, O, &g, 0),
       chk_name("%s: forward runs", nm));
    ok(D.be->conv_forward(D.st, dro.ptr, dx.ptr, dwt.ptr, dbias.ptr, B, O, &g, 1),
       chk_name("%s: forward with relu runs", nm));
    ok(D.be->conv_backward_data(D.st, ddx.ptr, ddy.ptr, dwt.ptr, B, O, &g),
       chk_name("%s: backward data runs", nm));
    ok(D.be->conv_backward_weights(D.st, ddw.ptr, ddb.ptr, ddy.ptr, dx.ptr, B, O, &g, 0),
       chk_name("%s: backward weights runs", nm));
    ok(D.be->conv_backward_weights(D.st, ddwa.ptr, ddba.ptr, ddy.ptr, dx.ptr, B, O, &g, 1),
       chk_name("%s: backward weights (accumulate) runs", nm));
    float *gy = malloc(sizeof *gy * (size_t)M), *gr = malloc(sizeof *gr * (size_t)M);
    float *gdx = malloc(sizeof *gdx * (size_t)N), *gdw = malloc(sizeof *gdw * (size_t)(O * KK));
    float *gdb = malloc(sizeof *gdb * (size_t)O), *gdwa = malloc(sizeof *gdwa * (size_t)(O * KK));
    float *gdba = malloc(sizeof *gdba * (size_t)O);
    dget(&dyo, gy, nm);
    dget(&dro, gr, nm);
    dget(&ddx, gdx, nm);
    dget(&ddw, gdw, nm);
    dget(&ddb, gdb, nm);
    dget(&ddwa, gdwa, nm);
    dget(&ddba, gdba, nm);
    chk_close(chk_name("%s: forward matches", nm), wy, gy, M, 1e-5, 1e-5);
    chk_close(chk_name("%s: forward + relu matches", nm), wr, gr, M, 1e-5, 1e-5);
    chk_close(chk_name("%s: data gradient matches", nm), wdx, gdx, N, 1e-5, 1e-5);
    chk_close(chk_name("%s: weight gradient matches", nm), wdw, gdw, O * KK, 1e-4, 1e-5);
    chk_close(chk_name("%s: bias gradient matches", nm), wdb, gdb, O, 1e-4, 1e-5);
    chk_close(chk_name("%s: weight gradient accumulates", nm), wdwa, gdwa, O * KK, 1e-4, 1e-5);
    chk_close(chk_name("%s: bias gradient accumulates", nm), wdba, gdba, O, 1e-4, 1e-5);
    /* bf16 precision (where the backend has it): the forward reads bf16
     * inputs: within bf16's rounding of the definition, and not fp32's bits */
    lre_precision got = LRE_PRECISION_FP32;
    if (D.be->set_precision &&
        D.be->set_precision(D.st, LRE_PRECISION_BF16, &got) == LRE_OK &&
        got == LRE_PRECISION_BF16) {
        float *gh = malloc(sizeof *gh * (size_t)M);
        ok(D.be->conv_forward(D.st, dyo.ptr, dx.ptr, dwt.ptr, dbias.ptr, B, O, &g, 0),
           chk_name("%s: bf16 forward runs", nm));
        dget(&dyo, gh, nm);
        chk_close(chk_name("%s: bf16 forward within bf16's rounding", nm), wy, gh, M, 5e-2, 2e-2);
        CHECK(memcmp(gh, gy, sizeof *gh * (size_t)M) != 0,
              chk_name("%s: bf16 forward is not the fp32 one", nm), "the same bits");
        free(gh);
    }
    if (D.be->set_precision) D.be->set_precision(D.st, LRE_PRECISION_FP32, &got);
    int relu_zero = 1;
    for (int64_t i = 0; i < M; i++)
        if (wy[i] < -1e-4 && !(gr[i] == 0.0f && !signbit(gr[i]))) relu_zero = 0;
    CHECK(relu_zero, chk_name("%s: the fused relu gives +0 below zero", nm), "a -0 or a negative");
    float *ptrs[] = {x, w, b, dy, dw0, db0, gy, gr, gdx, gdw, gdb, gdwa, gdba};
    for (size_t i = 0; i < sizeof ptrs / sizeof *ptrs; i++) free(ptrs[i]);
    double *dps[] = {wy, wr, wdx, wdw, wdb, wdwa, wdba};
    for (size_t i = 0; i < sizeof dps / sizeof *dps; i++) free(dps[i]);
    dbuf *bufs[] = {&dx, &dwt, &dbias, &ddy, &dyo, &dro, &ddx, &ddw, &ddb, &ddwa, &ddba};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) dfree(bufs[i]);
}

/* Adaptive average pooling on the device against its definition (windows
 * [floor(i·H/OH), ceil((i+1)·H/OH))), the backward as the scatter of each
 * window's dy / its size. */
static void test_adaptive_entries(int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW)
{
    if (!D.be->adaptive_avg_pool_forward) return;
    lre_conv_geom g = {C, H, W, 0, 0, 0, 0, 0, 0, 1, 1, OH, OW};
    char nm[128];
    snprintf(nm, sizeof nm, "adaptive pool %lld planes %lldx%lld -> %lldx%lld", (long long)C,
             (long long)H, (long long)W, (long long)OH, (long long)OW);
    const int64_t N = C * H * W, P = C * OH * OW;
    float *x = rnd(N, -1, 1), *dy = rnd(P, -1, 1);
    double *wy = dalloc(P), *wdx = dalloc(N);
    for (int64_t c = 0; c < C; c++)
        for (int64_t i = 0; i < OH; i++)
            for (int64_t j = 0; j < OW; j++) {
                int64_t h0 = i * H / OH, h1 = ((i + 1) * H + OH - 1) / OH;
                int64_t w0 = j * W / OW, w1 = ((j + 1) * W + OW - 1) / OW;
                double n = (double)((h1 - h0) * (w1 - w0)), sum = 0;
                const int64_t o = (c * OH + i) * OW + j;
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++) {
                        sum += x[(c * H + h) * W + w];
                        wdx[(c * H + h) * W + w] += dy[o] / n;
                    }
                wy[o] = sum / n;
            }
    dbuf dx = dnew(4, N, x), ddy = dnew(4, P, dy), dyo = dnew(4, P, NULL), ddx = dnew(4, N, NULL);
    ok(D.be->adaptive_avg_pool_forward(D.st, dyo.ptr, dx.ptr, &g), chk_name("%s: runs", nm));
    ok(D.be->adaptive_avg_pool_backward(D.st, ddx.ptr, ddy.ptr, &g),
       chk_name("%s: backward runs", nm));
    float *gy = malloc(sizeof *gy * (size_t)P), *gdx = malloc(sizeof *gdx * (size_t)N);
    dget(&dyo, gy, nm);
    dget(&ddx, gdx, nm);
    chk_close(chk_name("%s: matches", nm), wy, gy, P, 1e-6, 1e-6);
    chk_close(chk_name("%s: backward matches", nm), wdx, gdx, N, 1e-6, 1e-5);
    free(x);
    free(dy);
    free(wy);
    free(wdx);
    free(gy);
    free(gdx);
    dfree(&dx);
    dfree(&ddy);
    dfree(&dyo);
    dfree(&ddx);
}

/* Layer norm on the device against its definition in double: y, mean and
 * 1/std of each group, dx, and dw, db accumulated onto what they held. */
static void test_layer_norm_entries(int64_t groups, int64_t n, int affine)
{
    if (!D.be->layer_norm_forward) return;
    char nm[96];
    snprintf(nm, sizeof nm, "layer_norm %lld groups of %lld%s%s", (long long)groups,
             (long long)n, affine ? ", affine" : "", GEMM_MODE);
    const int64_t N = groups * n;
    float *x = rnd(N, -2, 2), *dy = rnd(N, -1, 1), *w = rnd(n, 0.5, 1.5), *b = rnd(n, -1, 1);
    float *dw0 = rnd(n, -1, 1), *db0 = rnd(n, -1, 1);
    double *wy = dalloc(N), *wm = dalloc(groups), *wr = dalloc(groups), *wdx = dalloc(N),
           *wdw = dalloc(n), *wdb = dalloc(n);
    for (int64_t j = 0; j < n; j++) wdw[j] = dw0[j], wdb[j] = db0[j];
    for (int64_t g = 0; g < groups; g++) {
        const float *xg = x + g * n, *dg = dy + g * n;
        double m = 0, v = 0, sgd = 0, sgx = 0;
        for (int64_t j = 0; j < n; j++) m += xg[j];
        m /= (double)n;
        for (int64_t j = 0; j < n; j++) v += (xg[j] - m) * (xg[j] - m);
        v /= (double)n;
        const double r = 1.0 / sqrt(v + 1e-5);
        wm[g] = m, wr[g] = r;
        for (int64_t j = 0; j < n; j++) {
            const double h = (xg[j] - m) * r, gj = affine ? dg[j] * (double)w[j] : dg[j];
            wy[g * n + j] = affine ? h * w[j] + b[j] : h;
            sgd += gj;
            sgx += gj * h;
            wdw[j] += dg[j] * h;
            wdb[j] += dg[j];
        }
        for (int64_t j = 0; j < n; j++) {
            const double h = (xg[j] - m) * r, gj = affine ? dg[j] * (double)w[j] : dg[j];
            wdx[g * n + j] = r * (gj - sgd / (double)n - h * sgx / (double)n);
        }
    }
    dbuf dx_ = dnew(4, N, x), ddy = dnew(4, N, dy), dw_ = dnew(4, n, w), db_ = dnew(4, n, b);
    dbuf dyo = dnew(4, N, NULL), dm = dnew(4, groups, NULL), dr = dnew(4, groups, NULL);
    dbuf ddx = dnew(4, N, NULL), ddw = dnew(4, n, dw0), ddb = dnew(4, n, db0);
    ok(D.be->layer_norm_forward(D.st, dyo.ptr, dm.ptr, dr.ptr, dx_.ptr, affine ? dw_.ptr : NULL,
                                affine ? db_.ptr : NULL, groups, n, 1e-5f),
       chk_name("%s: forward runs", nm));
    ok(D.be->layer_norm_backward(D.st, ddx.ptr, affine ? ddw.ptr : NULL, affine ? ddb.ptr : NULL,
                                 ddy.ptr, dx_.ptr, dm.ptr, dr.ptr, affine ? dw_.ptr : NULL,
                                 groups, n, 1),
       chk_name("%s: backward runs", nm));
    float *gy = malloc(sizeof *gy * (size_t)N), *gm = malloc(sizeof *gm * (size_t)groups);
    float *gr = malloc(sizeof *gr * (size_t)groups), *gdx = malloc(sizeof *gdx * (size_t)N);
    float *gdw = malloc(sizeof *gdw * (size_t)n), *gdb = malloc(sizeof *gdb * (size_t)n);
    dget(&dyo, gy, nm);
    dget(&dm, gm, nm);
    dget(&dr, gr, nm);
    dget(&ddx, gdx, nm);
    dget(&ddw, gdw, nm);
    dget(&ddb, gdb, nm);
    chk_close(chk_name("%s: y matches", nm), wy, gy, N, 1e-5, 1e-5);
    chk_close(chk_name("%s: mean matches", nm), wm, gm, groups, 1e-6, 1e-6);
    chk_close(chk_name("%s: 1/std matches", nm), wr, gr, groups, 1e-6, 1e-5);
    chk_close(chk_name("%s: dx matches", nm), wdx, gdx, N, 1e-5, 1e-4);
    if (affine) {
        chk_close(chk_name("%s: dw (accumulated) matches", nm), wdw, gdw, n, 1e-4, 1e-5);
        chk_close(chk_name("%s: db (accumulated) matches", nm), wdb, gdb, n, 1e-4, 1e-5);
    }
    float *fs[] = {x, dy, w, b, dw0, db0, gy, gm, gr, gdx, gdw, gdb};
    for (size_t i = 0; i < sizeof fs / sizeof *fs; i++) free(fs[i]);
    double *ds[] = {wy, wm, wr, wdx, wdw, wdb};
    for (size_t i = 0; i < sizeof ds / sizeof *ds; i++) free(ds[i]);
    dbuf *bs[] = {&dx_, &ddy, &dw_, &db_, &dyo, &dm, &dr, &ddx, &ddw, &ddb};
    for (size_t i = 0; i < sizeof bs / sizeof *bs; i++) dfree(bs[i]);
}

/* Batch norm on the device against its definition in double: training
 * (the batch's statistics, the running ones moved) and evaluation, and the
 * backward (dx, and dw, db accumulated onto what they held). */
static void test_batch_norm_entries(int64_t B, int64_t C, int64_t S)
{
    if (!D.be->batch_norm_forward) return;
    char nm[96];
    snprintf(nm, sizeof nm, "batch_norm %lld rows of %lldx%lld%s", (long long)B, (long long)C,
             (long long)S, GEMM_MODE);
    const int64_t N = B * C * S;
    float *x = rnd(N, -2, 2), *dy = rnd(N, -1, 1), *w = rnd(C, 0.5, 1.5), *b = rnd(C, -1, 1);
    float *rm = rnd(C, -0.5, 0.5), *rv = rnd(C, 0.5, 2), *dw0 = rnd(C, -1, 1), *db0 = rnd(C, -1, 1);
    double *wy = dalloc(N), *we = dalloc(N), *wrm = dalloc(C), *wrv = dalloc(C), *wdx = dalloc(N),
           *wdw = dalloc(C), *wdb = dalloc(C);
    const double n = (double)(B * S);
    for (int64_t c = 0; c < C; c++) {
        double m = 0, v = 0, sdy = 0, sdyx = 0;
        for (int64_t i = 0; i < B; i++)
            for (int64_t k = 0; k < S; k++) m += x[(i * C + c) * S + k];
        m /= n;
        for (int64_t i = 0; i < B; i++)
            for (int64_t k = 0; k < S; k++) {
                const double d = x[(i * C + c) * S + k] - m;
                v += d * d;
            }
        const double r = 1.0 / sqrt(v / n + 1e-5);
        wrm[c] = 0.9 * rm[c] + 0.1 * m;
        wrv[c] = 0.9 * rv[c] + 0.1 * v / (n - 1);
        for (int64_t i = 0; i < B; i++)
            for (int64_t k = 0; k < S; k++) {
                const int64_t e = (i * C + c) * S + k;
                const double h = (x[e] - m) * r;
                wy[e] = h * w[c] + b[c];
                we[e] = (x[e] - rm[c]) / sqrt(rv[c] + 1e-5) * w[c] + b[c];
                sdy += dy[e];
                sdyx += dy[e] * h;
            }
        wdw[c] = dw0[c] + sdyx;
        wdb[c] = db0[c] + sdy;
        for (int64_t i = 0; i < B; i++)
            for (int64_t k = 0; k < S; k++) {
                const int64_t e = (i * C + c) * S + k;
                const double h = (x[e] - m) * r;
                wdx[e] = r * (dy[e] * w[c] - w[c] * sdy / n - h * w[c] * sdyx / n);
            }
    }
    dbuf dx_ = dnew(4, N, x), ddy = dnew(4, N, dy), dw_ = dnew(4, C, w), db_ = dnew(4, C, b);
    dbuf drm = dnew(4, C, rm), drv = dnew(4, C, rv), dm = dnew(4, C, NULL), dr = dnew(4, C, NULL);
    dbuf dye = dnew(4, N, NULL), dyt = dnew(4, N, NULL), ddx = dnew(4, N, NULL);
    dbuf ddw = dnew(4, C, dw0), ddb = dnew(4, C, db0);
    ok(D.be->batch_norm_forward(D.st, dye.ptr, dm.ptr, dr.ptr, drm.ptr, drv.ptr, dx_.ptr,
                                dw_.ptr, db_.ptr, B, C, S, 1e-5f, 0.1f, 0),
       chk_name("%s: eval forward runs", nm));
    ok(D.be->batch_norm_forward(D.st, dyt.ptr, dm.ptr, dr.ptr, drm.ptr, drv.ptr, dx_.ptr,
                                dw_.ptr, db_.ptr, B, C, S, 1e-5f, 0.1f, 1),
       chk_name("%s: training forward runs", nm));
    ok(D.be->batch_norm_backward(D.st, ddx.ptr, ddw.ptr, ddb.ptr, ddy.ptr, dx_.ptr, dm.ptr,
                                 dr.ptr, dw_.ptr, B, C, S, 1),
       chk_name("%s: backward runs", nm));
    float *ge = malloc(sizeof *ge * (size_t)N), *gt = malloc(sizeof *gt * (size_t)N);
    float *gdx = malloc(sizeof *gdx * (size_t)N), *grm = malloc(sizeof *grm * (size_t)C);
    float *grv = malloc(sizeof *grv * (size_t)C), *gdw = malloc(sizeof *gdw * (size_t)C);
    float *gdb = malloc(sizeof *gdb * (size_t)C);
    dget(&dye, ge, nm);
    dget(&dyt, gt, nm);
    dget(&ddx, gdx, nm);
    dget(&drm, grm, nm);
    dget(&drv, grv, nm);
    dget(&ddw, gdw, nm);
    dget(&ddb, gdb, nm);
    chk_close(chk_name("%s: evaluation matches", nm), we, ge, N, 1e-5, 1e-5);
    chk_close(chk_name("%s: training matches", nm), wy, gt, N, 1e-5, 1e-5);
    chk_close(chk_name("%s: running mean matches", nm), wrm, grm, C, 1e-6, 1e-5);
    chk_close(chk_name("%s: running variance matches", nm), wrv, grv, C, 1e-6, 1e-5);
    chk_close(chk_name("%s: dx matches", nm), wdx, gdx, N, 1e-5, 1e-4);
    chk_close(chk_name("%s: dw (accumulated) matches", nm), wdw, gdw, C, 1e-4, 1e-5);
    chk_close(chk_name("%s: db (accumulated) matches", nm), wdb, gdb, C, 1e-4, 1e-5);
    float *fs[] = {x, dy, w, b, rm, rv, dw0, db0, ge, gt, gdx, grm, grv, gdw, gdb};
    for (size_t i = 0; i < sizeof fs / sizeof *fs; i++) free(fs[i]);
    double *ds[] = {wy, we, wrm, wrv, wdx, wdw, wdb};
    for (size_t i = 0; i < sizeof ds / sizeof *ds; i++) free(ds[i]);
    dbuf *bs[] = {&dx_, &ddy, &dw_, &db_, &drm, &drv, &dm, &dr, &dye, &dyt, &ddx, &ddw, &ddb};
    for (size_t i = 0; i < sizeof bs / sizeof *bs; i++) dfree(bs[i]);
}

/* dropout's masks on the device are elementwise.h's draws, bit for bit
 * (the seed and the serial read from device memory), and y = x·mask;
 * add is a + b. */
static void test_dropout_add_entries(int64_t n)
{
    if (!D.be->dropout_forward || !D.be->add) return;
    char nm[64];
    snprintf(nm, sizeof nm, "dropout/add of %lld", (long long)n);
    float *x = rnd(n, -1, 1), *b = rnd(n, -1, 1);
    uint64_t rng[2] = {12345, 678};
    const uint32_t threshold = (uint32_t)(0.25 * 4294967296.0);
    dbuf dx = dnew(4, n, x), db = dnew(4, n, b), dr = dnew(8, 2, rng), dy = dnew(4, n, NULL),
         dm = dnew(4, n, NULL), ds = dnew(4, n, NULL);
    ok(D.be->dropout_forward(D.st, dy.ptr, dm.ptr, dx.ptr, n, dr.ptr, 99, threshold,
                             1.0f / 0.75f), chk_name("%s: dropout runs", nm));
    ok(D.be->add(D.st, ds.ptr, dx.ptr, db.ptr, n), chk_name("%s: add runs", nm));
    float *gy = malloc(sizeof *gy * (size_t)n), *gm = malloc(sizeof *gm * (size_t)n);
    float *gs = malloc(sizeof *gs * (size_t)n), *wm = malloc(sizeof *wm * (size_t)n);
    float *wy = malloc(sizeof *wy * (size_t)n), *ws = malloc(sizeof *ws * (size_t)n);
    dget(&dy, gy, nm);
    dget(&dm, gm, nm);
    dget(&ds, gs, nm);
    for (int64_t e = 0; e < n; e++) {
        wm[e] = lre_dropout_mask1(rng[0] ^ 99, rng[1], (uint64_t)e, threshold, 1.0f / 0.75f);
        wy[e] = x[e] * wm[e];
        ws[e] = x[e] + b[e];
    }
    chk_bits(chk_name("%s: the masks are elementwise.h's draws", nm), wm, gm, n);
    chk_bits(chk_name("%s: y = x * mask", nm), wy, gy, n);
    chk_bits(chk_name("%s: add", nm), ws, gs, n);
    float *fs[] = {x, b, gy, gm, gs, wm, wy, ws};
    for (size_t i = 0; i < 8; i++) free(fs[i]);
    dbuf *bs[] = {&dx, &db, &dr, &dy, &dm, &ds};
    for (size_t i = 0; i < 6; i++) dfree(bs[i]);
}

/* Pooling on the device against the definitions, over planes (a batch's
 * images times their channels): max with its indices, avg both ways, and
 * the gathers of their backwards (each pixel the sum, in window order, of
 * the gradients of the windows that take it). */
static void test_pool_entries(int64_t C, int64_t H, int64_t W, int64_t K, int64_t S, int64_t PD)
{
    if (!D.be->max_pool_forward) return;
    lre_conv_geom g = {C, H, W, K, K, S, S, PD, PD, 1, 1, (H + 2 * PD - K) / S + 1,
                       (W + 2 * PD - K) / S + 1};
    char nm[128];
    snprintf(nm, sizeof nm, "pool %lld planes %lldx%lld k%lld s%lld p%lld", (long long)C,
             (long long)H, (long long)W, (long long)K, (long long)S, (long long)PD);
    const int64_t N = C * H * W, P = C * g.OH * g.OW;
    float *x = rnd(N, -1, 1), *dy = rnd(P, -1, 1);
    double *wmax = dalloc(P), *wavg = dalloc(P), *wdmax = dalloc(N), *wdavg = dalloc(N);
    int32_t *warg = malloc(sizeof *warg * (size_t)P);
    for (int64_t c = 0; c < C; c++)
        for (int64_t oh = 0; oh < g.OH; oh++)
            for (int64_t ow = 0; ow < g.OW; ow++) {
                int64_t o = (c * g.OH + oh) * g.OW + ow;
                double best = -INFINITY, sum = 0;
                int32_t at = -1;
                for (int64_t kh = 0; kh < K; kh++)
                    for (int64_t kw = 0; kw < K; kw++) {
                        int64_t h = oh * S - PD + kh, w = ow * S - PD + kw;
                        if (h < 0 || h >= H || w < 0 || w >= W) continue;
                        double v = x[(c * H + h) * W + w];
                        if (v > best) best = v, at = (int32_t)(h * W + w);
                        sum += v;
                    }
                int64_t h0 = oh * S - PD, w0 = ow * S - PD;
                int64_t h1 = h0 + K < H + PD ? h0 + K : H + PD, w1 = w0 + K < W + PD ? w0 + K : W + PD;
                double div = (double)((h1 - h0) * (w1 - w0));
                wmax[o] = best;
                warg[o] = at;
                wavg[o] = sum / div;
                if (at >= 0) wdmax[c * H * W + at] += dy[o];
                for (int64_t kh = 0; kh < K; kh++)
                    for (int64_t kw = 0; kw < K; kw++) {
                        int64_t h = oh * S - PD + kh, w = ow * S - PD + kw;
                        if (h >= 0 && h < H && w >= 0 && w < W) wdavg[(c * H + h) * W + w] += dy[o] / div;
                    }
            }
    dbuf dx = dnew(4, N, x), ddy = dnew(4, P, dy), dmax = dnew(4, P, NULL), didx = dnew(4, P, NULL);
    dbuf davg = dnew(4, P, NULL), ddxm = dnew(4, N, NULL), ddxa = dnew(4, N, NULL);
    ok(D.be->max_pool_forward(D.st, dmax.ptr, didx.ptr, dx.ptr, &g), chk_name("%s: max runs", nm));
    ok(D.be->avg_pool_forward(D.st, davg.ptr, dx.ptr, &g, 1), chk_name("%s: avg runs", nm));
    ok(D.be->max_pool_backward(D.st, ddxm.ptr, ddy.ptr, didx.ptr, &g),
       chk_name("%s: max backward runs", nm));
    ok(D.be->avg_pool_backward(D.st, ddxa.ptr, ddy.ptr, &g, 1),
       chk_name("%s: avg backward runs", nm));
    float *gm = malloc(sizeof *gm * (size_t)P), *ga = malloc(sizeof *ga * (size_t)P);
    float *gdm = malloc(sizeof *gdm * (size_t)N), *gda = malloc(sizeof *gda * (size_t)N);
    int32_t *gi = malloc(sizeof *gi * (size_t)P);
    dget(&dmax, gm, nm);
    dget(&didx, gi, nm);
    dget(&davg, ga, nm);
    dget(&ddxm, gdm, nm);
    dget(&ddxa, gda, nm);
    chk_close(chk_name("%s: max matches", nm), wmax, gm, P, 0, 0);
    CHECK(memcmp(gi, warg, sizeof *gi * (size_t)P) == 0, chk_name("%s: max's indices match", nm),
          "they differ");
    chk_close(chk_name("%s: avg (pad counted) matches", nm), wavg, ga, P, 1e-6, 1e-6);
    chk_close(chk_name("%s: max backward matches", nm), wdmax, gdm, N, 1e-6, 1e-6);
    chk_close(chk_name("%s: avg backward matches", nm), wdavg, gda, N, 1e-6, 1e-5);
    free(gm);
    free(ga);
    free(gdm);
    free(gda);
    free(gi);
    dfree(&dx);
    dfree(&ddy);
    dfree(&dmax);
    dfree(&didx);
    dfree(&davg);
    dfree(&ddxm);
    dfree(&ddxa);
    free(x);
    free(dy);
    free(wmax);
    free(wavg);
    free(wdmax);
    free(wdavg);
    free(warg);
}

/* ---------------------------------------------------------------- main */

/* gemm: every transpose, K = 0, one row/column, odd sizes, strides */
static void run_gemms(void)
{
    static const int64_t shapes[][3] = {{1, 1, 1}, {1, 7, 3}, {5, 1, 9}, {17, 13, 31},
                                        {33, 65, 17}, {3, 4, 0}, {64, 10, 129}};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                test_gemm(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], 1.0f, 0.0f, 0);
                test_gemm(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], 0.5f, 1.0f, 3);
            }
    for (int relu = 0; relu < 2; relu++) {
        test_linear(1, 1, 1, relu);
        test_linear(17, 13, 31, relu);
        test_linear(128, 784, 256, relu); /* the reference MLP's first layer */
        test_linear(512, 256, 256, relu); /* an evaluate chunk of its second */
        test_linear(5, 0, 3, relu);       /* in = 0: y = bias */
    }
}

#ifdef LRE_WITH_DNNL
static void backend_init(void)
{
    memset(&D.stats, 0, sizeof D.stats);
    D.env.err = D.err;
    D.env.stats = &D.stats;
    if (D.be->init(&D.env, &D.st) != LRE_OK) chk_fatal("backend init", "%s", D.err);
}
#endif

#ifdef LRE_WITH_DNNL
int omp_get_max_threads(void); /* libgomp, oneDNN's runtime in these builds */

/* bf16 on the CPU rounds large operands on the OpenMP pool: one GEMM big
 * enough for that gives the same bits on 1 and on 2 threads. oneDNN does
 * not promise its own kernels are thread-count invariant, so the same GEMM
 * in fp32 (no rounding of ours) is the control: where that differs too,
 * the check is skipped, not failed. */
static void test_bf16_threads(void)
{
    const int64_t M = 300, N = 20, K = 784; /* a: 235,200 values */
    const char *nm = "gemm [bf16] NT M=300 N=20 K=784: the same bits on 1 and 2 threads";
    float *a = rnd(M * K, -1, 1), *b = rnd(N * K, -1, 1), *out[2][2] = {{NULL, NULL}, {NULL, NULL}};
    const int saved = D.env.threads, pool = omp_get_max_threads();
    const lre_precision prec[2] = {LRE_PRECISION_FP32, LRE_PRECISION_BF16};
    int ran = 1;
    for (int t = 0; t < 2 && ran; t++) {
        if (D.be->shutdown) D.be->shutdown(D.st);
        D.env.threads = t + 1;
        backend_init();
        for (int p = 0; p < 2 && ran; p++) {
            lre_precision got = LRE_PRECISION_FP32;
            if (D.be->set_precision(D.st, prec[p], &got) != LRE_OK)
                chk_fatal("set_precision", "%s", D.err);
            if (got != prec[p]) {
                chk_skip(nm, "this CPU runs bf16 as fp32 (no AMX or AVX512-BF16)");
                ran = 0;
                break;
            }
            dbuf da = dnew(4, M * K, a), db = dnew(4, N * K, b), dc = dnew(4, M * N, NULL);
            ok(D.be->gemm(D.st, 0, 1, M, N, K, 1.0f, da.ptr, K, db.ptr, K, 0.0f, dc.ptr, N),
               chk_name("%s (%s, %d threads): runs", nm, lre_precision_name(prec[p]), t + 1));
            out[p][t] = malloc(sizeof(float) * (size_t)(M * N));
            dget(&dc, out[p][t], nm);
            dfree(&da);
            dfree(&db);
            dfree(&dc);
        }
    }
    const size_t bytes = sizeof(float) * (size_t)(M * N);
    if (ran && memcmp(out[0][0], out[0][1], bytes) != 0)
        chk_skip(nm, "oneDNN's own fp32 kernel gives other bits on 2 threads here");
    else if (ran)
        CHECK(memcmp(out[1][0], out[1][1], bytes) == 0, nm, "the outputs differ");
    /* back to fp32 and the pool the tests started with */
    if (D.be->shutdown) D.be->shutdown(D.st);
    D.env.threads = pool;
    backend_init();
    D.env.threads = saved;
    for (int p = 0; p < 2; p++)
        for (int t = 0; t < 2; t++) free(out[p][t]);
    free(a);
    free(b);
}
#endif

/* The normalisation entries: on the CPU, oneDNN's primitives (with it)
 * or the C loops (LRE_CPU_GEMM=openblas, or DNNL=0). */
static void run_norms(void)
{
    test_batch_norm_entries(32, 16, 1);             /* BatchNorm1d */
    test_batch_norm_entries(8, 6, 49);              /* BatchNorm2d on 7x7 */
    test_batch_norm_entries(5, 3, 1);               /* few values a channel */
    test_layer_norm_entries(37, 64, 1);
    test_layer_norm_entries(5, 3, 0);
    test_layer_norm_entries(1, 1000, 1);
    test_layer_norm_entries(300, 17, 1);            /* sizes not a vector's */
}

/* The gemm cases again under each GEMM provider of the CPU (the table's
 * choice ran with the rest) and in each reduced precision the device has. */
static void run_gemm_variants(lre_device d)
{
    if (d == LRE_DEVICE_CPU) {
#ifdef LRE_WITH_DNNL
        static const char *const prov[] = {"openblas", "onednn"};
        for (int i = 0; i < 2; i++) {
            if (D.be->shutdown) D.be->shutdown(D.st);
            setenv("LRE_CPU_GEMM", prov[i], 1);
            backend_init();
            unsetenv("LRE_CPU_GEMM");
            GEMM_MODE = i == 0 ? " [openblas]" : " [onednn]";
            run_gemms();
            run_norms(); /* the C loops under openblas, oneDNN's primitives else */
        }
        if (D.be->shutdown) D.be->shutdown(D.st);
        backend_init();
#else
        chk_skip("gemm through oneDNN", "this build has no oneDNN (DNNL=0): OpenBLAS only");
#endif
    }
    static const struct { lre_precision p; const char *mode; double eps; } red[] = {
        {LRE_PRECISION_TF32, " [tf32]", 0x1p-11}, {LRE_PRECISION_BF16, " [bf16]", 0x1p-8}};
    for (int i = 0; i < 2; i++) {
        lre_precision got = LRE_PRECISION_FP32;
        if (D.be->set_precision && D.be->set_precision(D.st, red[i].p, &got) != LRE_OK)
            chk_fatal("set_precision", "%s", D.err);
        if (got != red[i].p) {
            chk_skip(chk_name("gemm in %s", lre_precision_name(red[i].p)),
                     chk_name("this %s runs %s as fp32 (no hardware for it, or no oneDNN)",
                              D.be->name, lre_precision_name(red[i].p)));
            continue;
        }
        GEMM_MODE = red[i].mode;
        GEMM_EPS = red[i].eps;
        run_gemms();
        /* operands large enough to be rounded on several threads */
        test_gemm(0, 1, 300, 20, 784, 1.0f, 0.0f, 0);
        test_gemm(1, 0, 257, 33, 300, 0.5f, 1.0f, 3);
        GEMM_EPS = 0.0;
        if (D.be->set_precision) D.be->set_precision(D.st, LRE_PRECISION_FP32, &got);
    }
    GEMM_MODE = "";
#ifdef LRE_WITH_DNNL
    if (d == LRE_DEVICE_CPU) test_bf16_threads();
#endif
}

static void run_all(void)
{
    run_gemms();
    test_bias(1, 1, 0);
    test_bias(3, 17, 1);
    test_bias(129, 10, 0);
    test_bias(7, 33, 1);
    test_conv(2, 5, 6, 3, 3, 1, 1, 0, 0, 1, 1);
    test_conv(3, 9, 7, 3, 2, 2, 1, 1, 0, 1, 1);
    test_conv(1, 7, 7, 3, 3, 1, 2, 2, 1, 2, 1);
    test_conv(6, 14, 14, 5, 5, 1, 1, 0, 0, 1, 1); /* LeNet's second conv */
    test_conv(1, 28, 28, 5, 5, 1, 1, 2, 2, 1, 1); /* its first, on Fashion-MNIST */
    test_conv_direct(5, 1, 28, 28, 6, 5, 1, 2, 1);  /* LeNet's first, batched */
    test_conv_direct(4, 6, 14, 14, 16, 5, 1, 0, 1); /* its second */
    test_conv_direct(3, 3, 9, 7, 4, 3, 2, 1, 2);    /* stride, padding, dilation */
    test_pool_entries(12, 28, 28, 2, 2, 0);         /* LeNet's: 2x2, stride 2 */
    test_dropout_add_entries(100003);
    run_norms();
    test_adaptive_entries(6, 7, 7, 3, 3);           /* windows that overlap */
    test_adaptive_entries(4, 8, 6, 1, 1);           /* global average */
    test_adaptive_entries(2, 3, 5, 5, 7);           /* larger than the input */
    test_pool_entries(3, 9, 7, 3, 2, 1);            /* overlapping, padded */
    test_pool_entries(2, 5, 5, 3, 1, 1);
    for (int a = 0; a < LRE_ACT_COUNT; a++) {
        float param = a == LRE_ACT_LEAKY_RELU ? 0.01f : 0.0f;
        test_act((lre_act)a, param, 1);
        test_act((lre_act)a, param, 17);
        test_act((lre_act)a, param, 1000);
    }
    test_act(LRE_ACT_LEAKY_RELU, -0.3f, 33);
    test_ce(1, 1, 0.0f, 1.0f, 3, 1, 0);
    test_ce(1, 10, 0.0f, 1.0f, 3, 1, 0);
    test_ce(7, 3, 0.1f, 1.0f, 3, 1, 0);
    test_ce(64, 10, 0.0f, 0.25f, 3, 1, 0);
    test_ce(64, 10, 0.1f, 1.0f, 3, 0, 0);
    test_ce(5, 1000, 0.2f, 1.0f, 3, 1, 0);
    test_ce(9, 10, 0.0f, 1.0f, 1e4, 1, 0);  /* large logits: no overflow */
    test_ce(9, 10, 0.1f, 1.0f, 1e4, 1, 0);
    test_ce(4, 5, 0.0f, 1.0f, 3, 1, 1);     /* label == C: NaN, no stray read or write */
    test_ce(4, 5, 0.1f, 1.0f, 3, 1, -1);    /* label < 0 */
    test_mse(1, 1.0f, 1);
    test_mse(17, 0.5f, 1);
    test_mse(1000, 1.0f, 0);
    test_count_correct(1, 1, 0);
    test_count_correct(9, 4, 1);
    test_count_correct(100, 10, 1);
    test_count_correct(33, 3, 0);
    for (int dt = 0; dt < 2; dt++) {
        lre_dtype d = dt ? LRE_F32 : LRE_U8;
        for (int tr = 0; tr < 3; tr++) {
            test_gather(d, tr, 1, 1, 1, 0, 0);
            test_gather(d, tr, 50, 17, 13, 1, 0);
            test_gather(d, tr, 40, 33, 40, 0, 3);
            test_gather(d, tr, 300, 784, 7, 1, 0);
        }
    }
    for (int first = 0; first < 2; first++) {
        test_sgd(1, 0.1f, 0.0f, 0.0f, 0, 0.0f, first);
        test_sgd(17, 0.1f, 0.0f, 0.0f, 0, 0.01f, first);
        test_sgd(33, 0.05f, 0.9f, 0.0f, 0, 0.0f, first);
        test_sgd(1000, 0.05f, 0.9f, 0.1f, 0, 1e-4f, first);
        test_sgd(129, 0.05f, 0.9f, 0.0f, 1, 1e-4f, first);
    }
    for (int decoupled = 0; decoupled < 2; decoupled++) {
        test_adam(1, decoupled, 1, 1e-3, 0.0);
        test_adam(17, decoupled, 1, 1e-2, 1e-2);
        test_adam(1000, decoupled, 10, 1e-3, 1e-2);
        test_adam(33, decoupled, 1000, 0.5, 0.1);
        test_adam(70001, decoupled, 3, 1e-3, 1e-2); /* split across threads where built so */
    }
    test_memory(0);
    test_memory(1);
    test_memory(63);
    test_memory(4097);
}

int main(void)
{
    CHK_FOR_EACH_DEVICE(d) {
        memset(&D, 0, sizeof D);
        D.be = lre_backend_find(d);
        if (!D.be) chk_fatal("backend", "no backend for %s", lre_device_name(d));
        D.env.err = D.err;
        D.env.stats = &D.stats;
        if (D.be->init(&D.env, &D.st) != LRE_OK) chk_fatal("backend init", "%s", D.err);
        CHECK(D.be->device == d && D.be->synchronize && D.be->stream && D.be->gather,
              "the table names its device and has every required entry", "%s", D.be->name);
        run_all();
        run_gemm_variants(d);
        CHECK(D.stats.bytes_live == 0, "every allocation is counted and freed",
              "%llu bytes live after the cases", (unsigned long long)D.stats.bytes_live);
        if (D.be->shutdown) D.be->shutdown(D.st);
    }
    return chk_done("test_backend_ops");
}
