/*
 * check.h — the tiny test harness shared by the C tests in spec/c/.
 *
 * Each check prints one line the test runner counts:
 *     PASS <name>
 *     FAIL <name>: <what was compared, expected, got, max abs/rel difference>
 *     SKIP <name>: <why> (a check that cannot run in this build)
 * and chk_done() returns the exit status (non-zero when any check failed).
 * With CHK_VERBOSE set in the environment, array comparisons also print
 * their max differences when they pass (to see the margin of a tolerance).
 * Everything here is `static inline`, so each test binary gets its own copy
 * and an unused helper costs nothing (no warning, no link-time clash with
 * other files linked into the tests).
 *
 * Also here: a deterministic input generator (splitmix64, independent of
 * the engine's RNG so a broken engine RNG cannot hide a broken op), tensor
 * helpers that abort the test binary on set-up failure (a test that cannot
 * even build its inputs must not go on to dereference NULL), the per-device
 * loop (CHK_FOR_EACH_DEVICE, LRE_TEST_DEVICE: see "devices" below), host
 * copies in and out of tensors on any device (chk_read, chk_write,
 * chk_download, ...: tests never dereference lre_tensor_data, a device
 * pointer on a GPU), and the central finite-difference gradient check.
 */
#ifndef LRE_CHECK_H
#define LRE_CHECK_H

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrengine.h"

/* ------------------------------------------------------------ counting */

typedef struct chk_state {
    int passed, failed;
    char tag[24]; /* "[cpu] " inside CHK_FOR_EACH_DEVICE, else "" */
} chk_state;

static inline chk_state *chk_st(void)
{
    static chk_state s;
    return &s;
}

/* What every check name is printed after: "[cpu] " while a
 * CHK_FOR_EACH_DEVICE loop runs its body for the CPU, "" outside one. */
static inline const char *chk_tag(void)
{
    return chk_st()->tag;
}

static inline int chk_pass(const char *name)
{
    chk_st()->passed++;
    printf("PASS %s%s\n", chk_tag(), name);
    fflush(stdout);
    return 1;
}

#if defined(__GNUC__)
static inline int chk_fail(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#endif
static inline int chk_fail(const char *name, const char *fmt, ...)
{
    va_list ap;
    chk_st()->failed++;
    printf("FAIL %s%s: ", chk_tag(), name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    return 0;
}

/* A check that cannot run here (the runner counts SKIP lines apart). */
static inline void chk_skip(const char *name, const char *why)
{
    printf("SKIP %s%s: %s\n", chk_tag(), name, why);
    fflush(stdout);
}

/* Passes when cond holds, else fails with the printf-style explanation. */
#define CHECK(cond, name, ...) ((cond) ? chk_pass(name) : chk_fail(name, __VA_ARGS__))

/* Ends the test: a summary comment line (not counted by the runner) and the
 * exit status. */
static inline int chk_done(const char *test)
{
    chk_state *s = chk_st();
    printf("# %s: %d checks, %d failed\n", test, s->passed + s->failed, s->failed);
    return s->failed ? 1 : 0;
}

/* Set-up failure: report it as a FAIL and stop this binary (exit 1). */
#if defined(__GNUC__)
static inline void chk_fatal(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
#endif
static inline void chk_fatal(const char *name, const char *fmt, ...)
{
    va_list ap;
    chk_st()->failed++;
    printf("FAIL %s%s: ", chk_tag(), name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(" (fatal: the test cannot continue)\n");
    fflush(stdout);
    exit(1);
}

/* A formatted test name in a rotating static buffer (a few alive at once). */
#if defined(__GNUC__)
static inline const char *chk_name(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
static inline const char *chk_name(const char *fmt, ...)
{
    static char bufs[8][256];
    static int next;
    char *b = bufs[next];
    va_list ap;
    next = (next + 1) % 8;
    va_start(ap, fmt);
    vsnprintf(b, sizeof bufs[0], fmt, ap);
    va_end(ap);
    return b;
}

/* ------------------------------------------------------ engine statuses */

static inline const char *chk_msg(const lre_ctx *ctx)
{
    const char *m = ctx ? lre_ctx_error(ctx) : NULL;
    return m ? m : "(null)";
}

/* The call must succeed. */
static inline int chk_ok(lre_ctx *ctx, lre_status s, const char *name)
{
    if (s == LRE_OK) return chk_pass(name);
    return chk_fail(name, "expected LRE_OK, got %d (%s): \"%s\"", (int)s, lre_status_string(s),
                    chk_msg(ctx));
}

/* Set-up call that must succeed, else the binary stops. */
static inline void chk_must(lre_ctx *ctx, lre_status s, const char *what)
{
    if (s != LRE_OK)
        chk_fatal(what, "expected LRE_OK, got %d (%s): \"%s\"", (int)s, lre_status_string(s),
                  chk_msg(ctx));
}

/* Copies `msg` without spaces into out (so "[4, 5]" matches "4,5"). */
static inline void chk_squeeze(char *out, size_t n, const char *msg)
{
    size_t j = 0;
    for (; *msg && j + 1 < n; msg++)
        if (*msg != ' ') out[j++] = *msg;
    out[j] = 0;
}

/* Case-insensitive strstr. */
static inline const char *chk_stristr(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n) return hay;
    }
    return n == 0 ? hay : NULL;
}

/* The call must fail: status `want` (or any non-OK status when want is
 * LRE_OK), a non-empty message, and the message must contain every string
 * of the NULL-terminated list (case-insensitive, spaces ignored), e.g. the
 * shapes "3,5" and "4,6". Clears the context's message afterwards so the
 * next check starts clean. */
static inline int chk_err(lre_ctx *ctx, lre_status got, lre_status want, const char *name, ...)
{
    char msg[2048], sq[2048], missing[512] = "";
    va_list ap;
    const char *s;
    int ok = 1;

    snprintf(msg, sizeof msg, "%s", chk_msg(ctx));
    chk_squeeze(sq, sizeof sq, msg);
    va_start(ap, name);
    while ((s = va_arg(ap, const char *)) != NULL) {
        char want_sq[256];
        chk_squeeze(want_sq, sizeof want_sq, s);
        if (!chk_stristr(sq, want_sq)) {
            ok = 0;
            size_t l = strlen(missing);
            snprintf(missing + l, sizeof missing - l, "%s\"%s\"", l ? ", " : "", s);
        }
    }
    va_end(ap);
    if (ctx) lre_ctx_clear_error(ctx);
    if (getenv("CHK_VERBOSE")) printf("# %s%s: \"%s\"\n", chk_tag(), name, msg);

    if (got == LRE_OK)
        return chk_fail(name, "expected an error (%s), got LRE_OK",
                        want == LRE_OK ? "any status" : lre_status_string(want));
    if (want != LRE_OK && got != want)
        return chk_fail(name, "expected status %d (%s), got %d (%s): \"%s\"", (int)want,
                        lre_status_string(want), (int)got, lre_status_string(got), msg);
    if (msg[0] == 0 || strcmp(msg, "(null)") == 0)
        return chk_fail(name, "status %s but the context message is empty", lre_status_string(got));
    if (!ok)
        return chk_fail(name, "status %s; message \"%s\" lacks %s", lre_status_string(got), msg,
                        missing);
    return chk_pass(name);
}

/* ------------------------------------------------------------ numbers */

/* Element-wise closeness: |got - want| <= atol + rtol·|want| for every i.
 * A negative atol is relative to the array's scale: the absolute tolerance
 * is |atol|·max_i |want_i| (for gradients whose elements span decades).
 * On failure prints the worst element, the max abs and max rel difference. */
static inline int chk_close(const char *name, const double *want, const float *got, int64_t n,
                            double atol, double rtol)
{
    double max_abs = 0, max_rel = 0, worst_excess = -1;
    int64_t worst = -1, bad = 0;
    if (atol < 0) {
        double scale = 0;
        for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
        atol = -atol * scale;
    }
    for (int64_t i = 0; i < n; i++) {
        double w = want[i], g = got[i];
        double d = fabs(g - w);
        double rel = d / (fabs(w) > 1e-30 ? fabs(w) : 1e-30);
        double lim = atol + rtol * fabs(w);
        if (!(d <= lim) || isnan(g) != isnan(w)) {
            bad++;
            double excess = isnan(d) ? INFINITY : d - lim;
            if (excess > worst_excess || worst < 0) {
                worst_excess = excess;
                worst = i;
            }
        }
        if (d > max_abs || isnan(d)) max_abs = d;
        if (rel > max_rel || isnan(rel)) max_rel = rel;
    }
    if (getenv("CHK_VERBOSE"))
        printf("# %s%s: max abs diff %.3g, max rel diff %.3g (atol %.1g, rtol %.1g)\n", chk_tag(),
               name, max_abs, max_rel, atol, rtol);
    if (bad == 0) return chk_pass(name);
    return chk_fail(name,
                    "%lld of %lld elements off; worst [%lld] expected %.9g got %.9g; "
                    "max abs diff %.3g, max rel diff %.3g (atol %.1g, rtol %.1g)",
                    (long long)bad, (long long)n, (long long)worst, want[worst], (double)got[worst],
                    max_abs, max_rel, atol, rtol);
}

/* The same for a float reference. */
static inline int chk_close_ff(const char *name, const float *want, const float *got, int64_t n,
                               double atol, double rtol)
{
    double *w = malloc(sizeof *w * (size_t)(n > 0 ? n : 1));
    if (!w) chk_fatal(name, "out of memory");
    for (int64_t i = 0; i < n; i++) w[i] = want[i];
    int r = chk_close(name, w, got, n, atol, rtol);
    free(w);
    return r;
}

static inline int chk_close1(const char *name, double want, double got, double atol, double rtol)
{
    double d = fabs(got - want);
    if (d <= atol + rtol * fabs(want)) return chk_pass(name);
    return chk_fail(name,
                    "expected %.9g got %.9g; abs diff %.3g, rel diff %.3g "
                    "(atol %.1g, rtol %.1g)",
                    want, got, d, d / fabs(want), atol, rtol);
}

/* Bit-for-bit equality of two float arrays (memcmp), naming the first
 * difference. */
static inline int chk_bits(const char *name, const float *want, const float *got, int64_t n)
{
    if (memcmp(want, got, sizeof(float) * (size_t)n) == 0) return chk_pass(name);
    int64_t i = 0, diff = 0;
    double max_abs = 0;
    for (int64_t j = 0; j < n; j++)
        if (memcmp(&want[j], &got[j], sizeof(float)) != 0) {
            if (diff++ == 0) i = j;
            double d = fabs((double)want[j] - got[j]);
            if (d > max_abs || isnan(d)) max_abs = d;
        }
    return chk_fail(name,
                    "not bit-identical: %lld of %lld floats differ, first [%lld] "
                    "expected %.9g got %.9g, max abs diff %.3g",
                    (long long)diff, (long long)n, (long long)i, (double)want[i], (double)got[i],
                    max_abs);
}

/* ------------------------------------------------------ deterministic inputs */

typedef struct chk_rng {
    uint64_t s;
} chk_rng;

static inline uint64_t chk_u64(chk_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform double in [lo, hi). */
static inline double chk_unif(chk_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(chk_u64(r) >> 11) * 0x1.0p-53);
}

/* Fills x with uniform floats in [lo, hi). */
static inline void chk_fill(chk_rng *r, float *x, int64_t n, double lo, double hi)
{
    for (int64_t i = 0; i < n; i++) x[i] = (float)chk_unif(r, lo, hi);
}

/* Uniform in ±[lo, hi): magnitude at least lo (keeps points off a kink at 0). */
static inline void chk_fill_away(chk_rng *r, float *x, int64_t n, double lo, double hi)
{
    for (int64_t i = 0; i < n; i++) {
        double m = chk_unif(r, lo, hi);
        x[i] = (float)((chk_u64(r) & 1) ? m : -m);
    }
}

/* ------------------------------------------------------------- tensors */

/* A context on `dev`; fatal on failure. */
static inline lre_ctx *chk_ctx_on(lre_device dev, uint64_t seed)
{
    lre_ctx_opts o = lre_ctx_opts_default();
    lre_ctx *ctx = NULL;
    char err[512] = "";
    o.device = dev;
    o.seed = seed;
    lre_status s = lre_ctx_new_err(&ctx, &o, err, sizeof err);
    if (s != LRE_OK || !ctx)
        chk_fatal("lre_ctx_new", "device %s: status %d (%s): \"%s\"", lre_device_name(dev), (int)s,
                  lre_status_string(s), err);
    return ctx;
}

/* A CPU context (for tests that are not run per device). */
static inline lre_ctx *chk_ctx(uint64_t seed)
{
    return chk_ctx_on(LRE_DEVICE_CPU, seed);
}

/* -------------------------------------------------------------- devices
 *
 * A test whose checks depend on the backend runs them once per device:
 *
 *     CHK_FOR_EACH_DEVICE(dev) {
 *         ctx = chk_ctx_on(dev, 1);
 *         test_linear();                       // "PASS [cpu] linear ..."
 *         lre_ctx_release(ctx);
 *     }
 *
 * The devices (chk_devices): LRE_TEST_DEVICE=cpu or cuda in the environment
 * picks that one device, and the binary stops with a FAIL line when the
 * name is unknown, the backend is not compiled into this build
 * (lre_device_compiled) or its device is not present; unset (or empty),
 * every compiled backend whose device is present, in the order cpu, cuda.
 * A compiled backend whose context fails to create with LRE_EDEVICE has no
 * device present: one SKIP line says so (the runner counts it as skipped)
 * and its checks do not run; any other failure to create it is a FAIL line.
 * A comment line "# devices: ..." lists the devices that will run.
 *
 * Inside the loop every PASS/FAIL/SKIP line's name starts with the device,
 * "[cpu] " or "[cuda] " (chk_tag), so the names stay distinct across
 * devices; outside it, names are printed as given. `break` leaves the loop
 * cleanly; the loop must not be nested, nor left by return or goto (the tag
 * would stay set). Device memory is only reached through chk_read/chk_write
 * and friends below (lre_tensor_data is a device pointer on a GPU).
 */

#define CHK_MAX_DEVICES 4

/* Every device the harness knows, in the order they run. */
static const lre_device chk_known_devices[] = {LRE_DEVICE_CPU, LRE_DEVICE_CUDA};
#define CHK_NUM_KNOWN_DEVICES ((int)(sizeof chk_known_devices / sizeof chk_known_devices[0]))

/* Case-insensitive equality. */
static inline int chk_streqi(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

/* Tries a context on d: its status, and the message in err. */
static inline lre_status chk_probe_device(lre_device d, char *err, size_t n)
{
    lre_ctx_opts o = lre_ctx_opts_default();
    lre_ctx *c = NULL;
    o.device = d;
    err[0] = 0;
    lre_status s = lre_ctx_new_err(&c, &o, err, n);
    if (c) lre_ctx_release(c);
    return s;
}

/* The devices this binary's per-device checks run on (see above), into
 * out[0..max); returns how many. Resolved (and reported) once per binary. */
static inline int chk_devices(lre_device *out, int max)
{
    static int resolved, n;
    static lre_device devs[CHK_MAX_DEVICES];
    if (!resolved) {
        char err[512], list[128] = "";
        const char *want = getenv("LRE_TEST_DEVICE");
        resolved = 1;
        if (want && want[0]) {
            lre_device d = LRE_DEVICE_CPU;
            int found = 0;
            for (int i = 0; i < CHK_NUM_KNOWN_DEVICES; i++)
                if (chk_streqi(want, lre_device_name(chk_known_devices[i]))) {
                    d = chk_known_devices[i];
                    found = 1;
                }
            if (!found)
                chk_fatal("LRE_TEST_DEVICE", "\"%s\" is not a device (cpu or cuda)", want);
            if (!lre_device_compiled(d))
                chk_fatal("LRE_TEST_DEVICE",
                          "%s: this build has no %s backend (lre_device_compiled is 0); rebuild "
                          "with it, or unset LRE_TEST_DEVICE",
                          want, lre_device_name(d));
            lre_status s = chk_probe_device(d, err, sizeof err);
            if (s == LRE_EDEVICE)
                chk_fatal("LRE_TEST_DEVICE",
                          "%s: the %s backend is compiled in but no device is present: "
                          "lre_ctx_new: \"%s\"",
                          want, lre_device_name(d), err);
            if (s != LRE_OK)
                chk_fatal("LRE_TEST_DEVICE", "%s: lre_ctx_new: status %d (%s): \"%s\"", want,
                          (int)s, lre_status_string(s), err);
            devs[n++] = d;
            printf("# devices: %s (LRE_TEST_DEVICE=%s)\n", lre_device_name(d), want);
        } else {
            for (int i = 0; i < CHK_NUM_KNOWN_DEVICES && n < CHK_MAX_DEVICES; i++) {
                lre_device d = chk_known_devices[i];
                const char *dn = lre_device_name(d);
                if (!lre_device_compiled(d)) continue;
                lre_status s = chk_probe_device(d, err, sizeof err);
                if (s == LRE_OK) {
                    devs[n++] = d;
                    size_t l = strlen(list);
                    snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "", dn);
                } else if (s == LRE_EDEVICE) {
                    chk_skip(chk_name("[%s] every per-device check", dn),
                             chk_name("the %s backend is compiled in but no device is present "
                                      "(lre_ctx_new: \"%s\"); LRE_TEST_DEVICE=%s makes this "
                                      "an error",
                                      dn, err, dn));
                } else {
                    chk_fail(chk_name("[%s] a context on a compiled backend", dn),
                             "lre_ctx_new: status %d (%s): \"%s\"", (int)s, lre_status_string(s),
                             err);
                }
            }
            printf("# devices: %s (every compiled backend with its device present; "
                   "LRE_TEST_DEVICE=cpu|cuda picks one)\n",
                   n ? list : "none");
        }
        fflush(stdout);
    }
    int k = n < max ? n : max;
    for (int i = 0; i < k; i++) out[i] = devs[i];
    return k;
}

/* Names every check after this with device d ("[cpu] ..."). */
static inline void chk_set_device(lre_device d)
{
    snprintf(chk_st()->tag, sizeof chk_st()->tag, "[%s] ", lre_device_name(d));
}

/* Back to untagged names; returns -1 (for CHK_FOR_EACH_DEVICE). */
static inline int chk_clear_device(void)
{
    chk_st()->tag[0] = 0;
    return -1;
}

/* The loop's step: when there is an i-th device, sets *dev to it, tags the
 * names with it and returns 1; else clears the tag and returns 0. */
static inline int chk_device_at(int i, lre_device *dev)
{
    lre_device d[CHK_MAX_DEVICES];
    int n = chk_devices(d, CHK_MAX_DEVICES);
    if (i < 0 || i >= n) {
        chk_clear_device();
        return 0;
    }
    *dev = d[i];
    chk_set_device(d[i]);
    return 1;
}

/* Runs the following statement once per device (see above), with `dev`
 * (an lre_device declared by the macro) set to it. */
#define CHK_FOR_EACH_DEVICE(dev)                                                                   \
    for (int chk_dev_i_ = 0; chk_dev_i_ >= 0; chk_dev_i_ = chk_clear_device())                    \
        for (lre_device dev = LRE_DEVICE_CPU; chk_device_at(chk_dev_i_, &dev); chk_dev_i_++)

/* A zero-filled tensor; fatal on failure. */
static inline lre_tensor *chk_tensor(lre_ctx *ctx, lre_dtype dt, int ndim, const int64_t *shape)
{
    lre_tensor *t = NULL;
    lre_status s = lre_tensor_new(ctx, &t, dt, ndim, shape);
    if (s != LRE_OK || !t)
        chk_fatal("lre_tensor_new", "%s ndim %d: status %d: \"%s\"", lre_dtype_name(dt), ndim,
                  (int)s, chk_msg(ctx));
    return t;
}

static inline lre_tensor *chk_t1(lre_ctx *ctx, lre_dtype dt, int64_t a)
{
    int64_t s[1] = {a};
    return chk_tensor(ctx, dt, 1, s);
}

static inline lre_tensor *chk_t2(lre_ctx *ctx, lre_dtype dt, int64_t a, int64_t b)
{
    int64_t s[2] = {a, b};
    return chk_tensor(ctx, dt, 2, s);
}

static inline lre_tensor *chk_t3(lre_ctx *ctx, lre_dtype dt, int64_t a, int64_t b, int64_t c)
{
    int64_t s[3] = {a, b, c};
    return chk_tensor(ctx, dt, 3, s);
}

/* Tensor memory is only read and written through these (host buffers moved
 * with lre_tensor_from_host / lre_tensor_to_host), so a test runs unchanged
 * on any device. */

/* Copies nbytes from host src into t through lre_tensor_from_host; fatal on
 * failure. */
static inline void chk_upload(lre_ctx *ctx, lre_tensor *t, const void *src, size_t nbytes)
{
    chk_must(ctx, lre_tensor_from_host(t, src, nbytes), "lre_tensor_from_host");
}

/* A host copy of a float tensor (malloc'd, caller frees). */
static inline float *chk_download(lre_ctx *ctx, const lre_tensor *t)
{
    int64_t n = lre_tensor_numel(t);
    float *h = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!h) chk_fatal("chk_download", "out of memory");
    chk_must(ctx, lre_tensor_to_host(t, h, sizeof(float) * (size_t)n), "lre_tensor_to_host");
    return h;
}

/* The bytes of t's elements: numel × the dtype's size. */
static inline size_t chk_nbytes(const lre_tensor *t)
{
    return (size_t)lre_tensor_numel(t) * lre_dtype_size(lre_tensor_dtype(t));
}

/* All of t (any dtype, any device) into the host buffer dst of
 * chk_nbytes(t) bytes; fatal on failure. */
static inline void chk_read(lre_ctx *ctx, const lre_tensor *t, void *dst)
{
    chk_must(ctx, lre_tensor_to_host(t, dst, chk_nbytes(t)), "lre_tensor_to_host");
}

/* All of t from the host buffer src of chk_nbytes(t) bytes; fatal on
 * failure. */
static inline void chk_write(lre_ctx *ctx, lre_tensor *t, const void *src)
{
    chk_upload(ctx, t, src, chk_nbytes(t));
}

/* Every element of the f32 tensor t set to v (e.g. NaN, to prove an op
 * overwrites its output). */
static inline void chk_set_all(lre_ctx *ctx, lre_tensor *t, float v)
{
    int64_t n = lre_tensor_numel(t);
    float *h = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!h) chk_fatal("chk_set_all", "out of memory");
    for (int64_t i = 0; i < n; i++) h[i] = v;
    chk_upload(ctx, t, h, sizeof(float) * (size_t)n);
    free(h);
}

/* ------------------------------------------------------- finite differences */

/* A scalar function of the current contents of some buffer (the buffer is
 * perturbed in place by the checker). */
typedef double (*chk_scalar_fn)(void *ud);

/* Central differences: for each i, fd_i = (f(x+h e_i) − f(x−h e_i)) / 2h,
 * with x restored afterwards, compared with `grad` as in chk_close. x is
 * f32 (the engine's own buffers, loss evaluated by the engine in f32) or
 * f64 (a double-precision reference of the same function). `stride`
 * samples every stride-th element (1 = all). */
static inline int chk_fd_f32(const char *name, float *x, int64_t n, int64_t stride,
                             const float *grad, chk_scalar_fn f, void *ud, float h, double atol,
                             double rtol)
{
    int64_t m = (n + stride - 1) / stride;
    double *fd = malloc(sizeof *fd * (size_t)(m > 0 ? m : 1));
    float *g = malloc(sizeof *g * (size_t)(m > 0 ? m : 1));
    if (!fd || !g) chk_fatal(name, "out of memory");
    for (int64_t k = 0; k < m; k++) {
        int64_t i = k * stride;
        float x0 = x[i];
        volatile float xp = x0 + h, xm = x0 - h; /* the step actually taken */
        x[i] = xp;
        double fp = f(ud);
        x[i] = xm;
        double fm = f(ud);
        x[i] = x0;
        fd[k] = (fp - fm) / ((double)xp - (double)xm);
        g[k] = grad[i];
    }
    int r = chk_close(name, fd, g, m, atol, rtol);
    free(fd);
    free(g);
    return r;
}

static inline int chk_fd_f64(const char *name, double *x, int64_t n, int64_t stride,
                             const float *grad, chk_scalar_fn f, void *ud, double h, double atol,
                             double rtol)
{
    int64_t m = (n + stride - 1) / stride;
    double *fd = malloc(sizeof *fd * (size_t)(m > 0 ? m : 1));
    float *g = malloc(sizeof *g * (size_t)(m > 0 ? m : 1));
    if (!fd || !g) chk_fatal(name, "out of memory");
    for (int64_t k = 0; k < m; k++) {
        int64_t i = k * stride;
        double x0 = x[i];
        x[i] = x0 + h;
        double fp = f(ud);
        x[i] = x0 - h;
        double fm = f(ud);
        x[i] = x0;
        fd[k] = (fp - fm) / (2 * h);
        g[k] = grad[i];
    }
    int r = chk_close(name, fd, g, m, atol, rtol);
    free(fd);
    free(g);
    return r;
}

/* chk_fd_f32 over the elements of the f32 tensor t, on any device: a host
 * copy of t is perturbed and uploaded into t before each evaluation of f
 * (which reads t through the engine); t holds its original content again
 * afterwards. */
typedef struct chk_fd_tensor_ud {
    lre_ctx *ctx;
    lre_tensor *t;
    const float *host;
    chk_scalar_fn f;
    void *ud;
} chk_fd_tensor_ud;

static inline double chk_fd_tensor_eval(void *p)
{
    chk_fd_tensor_ud *w = p;
    chk_write(w->ctx, w->t, w->host);
    return w->f(w->ud);
}

static inline int chk_fd_tensor(const char *name, lre_ctx *ctx, lre_tensor *t, int64_t stride,
                                const float *grad, chk_scalar_fn f, void *ud, float h, double atol,
                                double rtol)
{
    if (lre_tensor_dtype(t) != LRE_F32)
        chk_fatal(name, "chk_fd_tensor needs an f32 tensor, got %s",
                  lre_dtype_name(lre_tensor_dtype(t)));
    float *x = chk_download(ctx, t);
    chk_fd_tensor_ud w = {ctx, t, x, f, ud};
    int r = chk_fd_f32(name, x, lre_tensor_numel(t), stride, grad, chk_fd_tensor_eval, &w, h, atol,
                       rtol);
    chk_write(ctx, t, x); /* chk_fd_f32 restored x; the tensor holds the last step */
    free(x);
    return r;
}

/* ---------------------------------------------------- models and data */

/* An MLP sizes[0]-sizes[1]-...-sizes[n-1] with `act` between the linear
 * layers (none after the last); not initialised. Fatal on failure. */
static inline lre_model *chk_mlp(lre_ctx *ctx, const int64_t *sizes, int n, lre_act act,
                                 float param)
{
    lre_model *m = NULL;
    chk_must(ctx, lre_model_new(ctx, &m), "lre_model_new");
    for (int i = 0; i + 1 < n; i++) {
        chk_must(ctx, lre_model_add_linear(m, sizes[i], sizes[i + 1]), "lre_model_add_linear");
        if (i + 2 < n) chk_must(ctx, lre_model_add_act(m, act, param), "lre_model_add_act");
    }
    return m;
}

/* A classification dataset of n rows of uniform features in [-1, 1) and
 * labels drawn in [0, classes). Fatal on failure. */
static inline lre_dataset *chk_random_dataset(lre_ctx *ctx, chk_rng *r, int64_t n, int64_t features,
                                              int64_t classes)
{
    float *x = malloc(sizeof(float) * (size_t)(n * features));
    int32_t *y = malloc(sizeof(int32_t) * (size_t)n);
    if (!x || !y) chk_fatal("chk_random_dataset", "out of memory");
    chk_fill(r, x, n * features, -1, 1);
    for (int64_t i = 0; i < n; i++) y[i] = (int32_t)(chk_u64(r) % (uint64_t)classes);
    lre_dataset *d = NULL;
    chk_must(ctx, lre_dataset_from_arrays_classes(ctx, &d, n, features, x, y, classes),
             "lre_dataset_from_arrays_classes");
    free(x);
    free(y);
    return d;
}

/* A trainer, fatal on failure. */
static inline lre_trainer *chk_trainer(lre_ctx *ctx, lre_model *m, lre_dataset *d,
                                       const lre_trainer_opts *o)
{
    lre_trainer *t = NULL;
    chk_must(ctx, lre_trainer_new(ctx, &t, m, d, o), "lre_trainer_new");
    return t;
}

/* A host copy of the model's flat parameters (caller frees). */
static inline float *chk_params(lre_ctx *ctx, lre_model *m)
{
    return chk_download(ctx, lre_model_params(m));
}

/* --------------------------------------------- double-precision references */

static const double CHK_SQRT_2_OVER_PI = 0.79788456080286535588;

/* f(x) for each activation, from its closed formula (PyTorch's). */
static inline double chk_act_ref(lre_act a, double p, double x)
{
    switch (a) {
    case LRE_ACT_RELU: return x > 0 ? x : 0;
    case LRE_ACT_LEAKY_RELU: return x > 0 ? x : p * x;
    case LRE_ACT_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case LRE_ACT_GELU_TANH:
        return 0.5 * x * (1 + tanh(CHK_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
    case LRE_ACT_TANH: return tanh(x);
    case LRE_ACT_SIGMOID: return 1 / (1 + exp(-x));
    default: return NAN;
    }
}

/* f'(x), PyTorch's convention at the kink: relu'(0) = 0, leaky'(0) = slope. */
static inline double chk_act_dref(lre_act a, double p, double x)
{
    switch (a) {
    case LRE_ACT_RELU: return x > 0 ? 1 : 0;
    case LRE_ACT_LEAKY_RELU: return x > 0 ? 1 : p;
    case LRE_ACT_GELU: {
        double cdf = 0.5 * (1 + erf(x / sqrt(2.0)));
        double pdf = exp(-0.5 * x * x) * 0.39894228040143267794; /* 1/sqrt(2 pi) */
        return cdf + x * pdf;
    }
    case LRE_ACT_GELU_TANH: {
        double u = CHK_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
        double t = tanh(u);
        return 0.5 * (1 + t) +
               0.5 * x * (1 - t * t) * CHK_SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
    }
    case LRE_ACT_TANH: {
        double t = tanh(x);
        return 1 - t * t;
    }
    case LRE_ACT_SIGMOID: {
        double s = 1 / (1 + exp(-x));
        return s * (1 - s);
    }
    default: return NAN;
    }
}

/* Cross-entropy of B rows of logits (B,C), mean over rows, with PyTorch's
 * label smoothing: (1-ε)(-log p_y) + ε/C Σ_c -log p_c (log-sum-exp form). */
static inline double chk_ce_ref(const double *z, const int32_t *y, int64_t B, int64_t C, double eps)
{
    double total = 0;
    for (int64_t i = 0; i < B; i++) {
        const double *row = z + i * C;
        double m = row[0];
        for (int64_t c = 1; c < C; c++) m = row[c] > m ? row[c] : m;
        double s = 0;
        for (int64_t c = 0; c < C; c++) s += exp(row[c] - m);
        double lse = m + log(s), sum_nll = 0;
        for (int64_t c = 0; c < C; c++) sum_nll += lse - row[c];
        total += (1 - eps) * (lse - row[y[i]]) + eps / (double)C * sum_nll;
    }
    return total / (double)B;
}

/* A layer of a reference MLP: linear(in, out) or an activation. */
typedef struct chk_layer {
    int linear;
    int64_t in, out;
    lre_act act;
    float param;
} chk_layer;

#define CHK_MAX_LAYERS 16
#define CHK_MAX_WIDTH 64

/* A double-precision MLP with the same layers as an engine model. All
 * parameters live in theta (per linear layer: weight (out,in), then bias). */
typedef struct chk_ref_mlp {
    const chk_layer *spec;
    int nl;
    double *theta;
    int64_t n;
    int64_t woff[CHK_MAX_LAYERS], boff[CHK_MAX_LAYERS];
    double min_kink; /* smallest |pre-activation| at a ReLU/LeakyReLU, last loss */
} chk_ref_mlp;

/* The engine model of a spec (not initialised). */
static inline lre_model *chk_model_from_spec(lre_ctx *ctx, const chk_layer *spec, int nl)
{
    lre_model *m = NULL;
    chk_must(ctx, lre_model_new(ctx, &m), "lre_model_new");
    for (int l = 0; l < nl; l++) {
        if (spec[l].linear)
            chk_must(ctx, lre_model_add_linear(m, spec[l].in, spec[l].out), "lre_model_add_linear");
        else
            chk_must(ctx, lre_model_add_act(m, spec[l].act, spec[l].param), "lre_model_add_act");
    }
    return m;
}

/* Sets up r for spec with the engine model's current parameters. */
static inline void chk_ref_mlp_load(chk_ref_mlp *r, const chk_layer *spec, int nl, lre_ctx *ctx,
                                    lre_model *m)
{
    memset(r, 0, sizeof *r);
    if (nl > CHK_MAX_LAYERS) chk_fatal("chk_ref_mlp_load", "too many layers");
    r->spec = spec;
    r->nl = nl;
    for (int l = 0; l < nl; l++) {
        if (!spec[l].linear) continue;
        if (spec[l].in > CHK_MAX_WIDTH || spec[l].out > CHK_MAX_WIDTH)
            chk_fatal("chk_ref_mlp_load", "layer wider than %d", CHK_MAX_WIDTH);
        r->woff[l] = r->n;
        r->n += spec[l].in * spec[l].out;
        r->boff[l] = r->n;
        r->n += spec[l].out;
    }
    r->theta = malloc(sizeof(double) * (size_t)r->n);
    if (!r->theta) chk_fatal("chk_ref_mlp_load", "out of memory");
    for (int l = 0; l < nl; l++) {
        if (!spec[l].linear) continue;
        float *w = chk_download(ctx, lre_model_weight(m, l));
        float *b = chk_download(ctx, lre_model_bias(m, l));
        for (int64_t i = 0; i < spec[l].in * spec[l].out; i++) r->theta[r->woff[l] + i] = w[i];
        for (int64_t i = 0; i < spec[l].out; i++) r->theta[r->boff[l] + i] = b[i];
        free(w);
        free(b);
    }
}

static inline void chk_ref_mlp_free(chk_ref_mlp *r)
{
    free(r->theta);
    r->theta = NULL;
}

/* Mean loss over the listed rows (all n rows when rows is NULL) of x
 * (features per row = the first layer's in), against labels
 * (cross-entropy with smoothing) or targets (MSE: mean over elements). */
static inline double chk_ref_mlp_loss(chk_ref_mlp *r, const float *x, const int32_t *labels,
                                      const float *targets, const int64_t *rows, int64_t n,
                                      lre_loss_kind loss, double smoothing)
{
    double total = 0, h[2][CHK_MAX_WIDTH];
    int64_t in = r->spec[0].in;
    r->min_kink = INFINITY;
    for (int64_t k = 0; k < n; k++) {
        int64_t row = rows ? rows[k] : k, width = in;
        int cur = 0;
        for (int64_t j = 0; j < in; j++) h[0][j] = x[row * in + j];
        for (int l = 0; l < r->nl; l++) {
            const chk_layer *s = &r->spec[l];
            if (s->linear) {
                const double *w = r->theta + r->woff[l], *b = r->theta + r->boff[l];
                for (int64_t o = 0; o < s->out; o++) {
                    double acc = b[o];
                    for (int64_t i = 0; i < s->in; i++) acc += w[o * s->in + i] * h[cur][i];
                    h[!cur][o] = acc;
                }
                cur = !cur;
                width = s->out;
            } else {
                for (int64_t j = 0; j < width; j++) {
                    if (s->act == LRE_ACT_RELU || s->act == LRE_ACT_LEAKY_RELU)
                        r->min_kink = fmin(r->min_kink, fabs(h[cur][j]));
                    h[cur][j] = chk_act_ref(s->act, s->param, h[cur][j]);
                }
            }
        }
        if (loss == LRE_LOSS_CROSS_ENTROPY) {
            total += chk_ce_ref(h[cur], &labels[row], 1, width, smoothing);
        } else {
            for (int64_t j = 0; j < width; j++) {
                double d = h[cur][j] - targets[row * width + j];
                total += d * d / (double)width;
            }
        }
    }
    return total / (double)n;
}

/* torch.optim's update of n parameters in double (see test_optim.c for
 * the formulas): p, s1 (momentum or exp_avg), s2 (exp_avg_sq), 1-based t. */
static inline void chk_ref_optim_step(const lre_optim_config *c, double lr, int64_t t, double *p,
                                      double *s1, double *s2, const double *grad, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double g = grad[i], th = p[i];
        if (c->kind == LRE_OPTIM_SGD) {
            if (c->weight_decay != 0) g += (double)c->weight_decay * th;
            if (c->momentum != 0) {
                double b =
                    t == 1 ? g : (double)c->momentum * s1[i] + (1 - (double)c->dampening) * g;
                s1[i] = b;
                g = c->nesterov ? g + (double)c->momentum * b : b;
            }
            p[i] = th - lr * g;
        } else {
            double b1 = c->beta1, b2 = c->beta2, wd = c->weight_decay;
            if (c->kind == LRE_OPTIM_ADAMW)
                th = th - lr * wd * th;
            else if (wd != 0)
                g += wd * th;
            double m = b1 * s1[i] + (1 - b1) * g;
            double v = b2 * s2[i] + (1 - b2) * g * g;
            s1[i] = m;
            s2[i] = v;
            double mhat = m / (1 - pow(b1, (double)t)), vhat = v / (1 - pow(b2, (double)t));
            p[i] = th - lr * mhat / (sqrt(vhat) + (double)c->eps);
        }
    }
}

#endif /* LRE_CHECK_H */
