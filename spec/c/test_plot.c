/*
 * test_plot.c — the range-test figure from C (lrengine_plot.h), as an
 * embedder without Lua uses it: each format renders into memory with its
 * signature and size, bad data and options are refused with a status and a
 * message naming the fault, NaN/inf/huge values and a single point draw,
 * and a failed write leaves neither the target nor a temporary file; the
 * tick generator (lre_plot_ticks) over many linear, log and symlog ranges:
 * at least 4 labels, each parsing back to its tick's value with the
 * decimals its step needs; stop reasons in words; forward and central
 * differences; a min-max band; text that is not valid UTF-8 refused,
 * naming the field. Runs under ASan/UBSan in `make asan`.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "lrengine_plot.h"

#define N 80

static double lrs[N], raw[N], smooth[N];

static void curve(void)
{
    for (int i = 0; i < N; i++) {
        lrs[i] = 1e-7 * pow(10, 9.0 * i / (N - 1));
        double t = log10(lrs[i]);
        raw[i] = 2.3 - 1.5 / (1 + exp(-(t + 3.5) * 2)) + (t > -1 ? pow(10, (t + 1) * 3) - 1 : 0) +
                 0.02 * sin(i * 1.7);
        smooth[i] = i == 0 ? raw[0] : 0.05 * raw[i] + 0.95 * smooth[i - 1];
    }
}

static lre_plot_data data(const lre_plot_suggestion *s, size_t ns)
{
    lre_plot_data d = lre_plot_data_default();
    d.n = N;
    d.lrs = lrs;
    d.curves[0].label = "training loss";
    d.curves[0].raw = raw;
    d.curves[0].smoothed = smooth;
    d.num_curves = 1;
    d.suggestions = s;
    d.num_suggestions = ns;
    d.stop_reason = "diverged";
    d.title = "test figure";
    return d;
}

static unsigned be32(const unsigned char *p)
{
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

static void test_formats(void)
{
    lre_plot_suggestion s[2] = {{"steepest", lrs[40], 40}, {"valley", lrs[30], 30}};
    lre_plot_data d = data(s, 2);
    char err[256];
    unsigned char *out = NULL;
    size_t len = 0;

    lre_plot_opts o = lre_plot_opts_default();
    o.width = 640;
    o.height = 480;
    lre_status st = lre_plot_render(&d, &o, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_OK && len > 33 && memcmp(out, "\x89PNG\r\n\x1a\n", 8) == 0,
          "png: renders with the PNG signature", "status %d (%s), %zu bytes", st, err, len);
    if (st == LRE_OK && len > 24)
        CHECK(be32(out + 16) == 640 && be32(out + 20) == 480, "png: IHDR says 640x480",
              "got %ux%u", be32(out + 16), be32(out + 20));
    free(out);

    st = lre_plot_render(&d, NULL, LRE_PLOT_PDF, &out, &len, err, sizeof err);
    CHECK(st == LRE_OK && len > 5 && memcmp(out, "%PDF-", 5) == 0, "pdf: starts with %PDF-",
          "status %d (%s)", st, err);
    free(out);

    st = lre_plot_render(&d, NULL, LRE_PLOT_SVG, &out, &len, err, sizeof err);
    int has = 0;
    if (st == LRE_OK) {
        char *text = malloc(len + 1);
        if (text) {
            memcpy(text, out, len);
            text[len] = '\0';
            has = strstr(text, "<svg") && strstr(text, "<desc>") &&
                  strstr(text, "steepest 3.6e-3 (chosen)") && strstr(text, "valley") &&
                  strstr(text, "width=\"432pt\"");
            free(text);
        }
    }
    CHECK(has, "svg: 6 in wide, a <desc> naming the suggestions with their lr",
          "status %d (%s)", st, err);
    free(out);
}

static void test_refusals(void)
{
    char err[256];
    unsigned char *out = NULL;
    size_t len = 0;
    lre_plot_suggestion bad = {"far", 1, N + 5};
    lre_plot_data d = data(&bad, 1);
    lre_status st = lre_plot_render(&d, NULL, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "far") && strstr(err, "85") && out == NULL,
          "a suggestion past the curve is refused, naming it and its step", "status %d: %s", st,
          err);

    d = data(NULL, 0);
    d.n = 0;
    st = lre_plot_render(&d, NULL, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "no points"), "an empty curve is refused",
          "status %d: %s", st, err);

    d = data(NULL, 0);
    d.curves[0].raw = d.curves[0].smoothed = NULL;
    st = lre_plot_render(&d, NULL, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "curve 0"), "a curve without values is refused",
          "status %d: %s", st, err);

    d = data(NULL, 0);
    lre_plot_opts o = lre_plot_opts_default();
    o.width = -3;
    st = lre_plot_render(&d, &o, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "width"), "a negative width is refused",
          "status %d: %s", st, err);
    o.width = 1e9;
    st = lre_plot_render(&d, &o, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "pixels"), "a width past 16384 px is refused",
          "status %d: %s", st, err);

    st = lre_plot_write(&d, NULL, "figure.jpg", err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "figure.jpg") && strstr(err, ".png"),
          "an unknown extension is refused, naming the path and the formats", "status %d: %s",
          st, err);
    CHECK(lre_plot_format_of("A.PDF") == LRE_PLOT_PDF && lre_plot_format_of("a.svg") ==
          LRE_PLOT_SVG && lre_plot_format_of("a.png.txt") == LRE_PLOT_AUTO,
          "formats come from the extension, case-insensitively", "wrong format");
}

static void test_hard_data(void)
{
    char err[256];
    unsigned char *out = NULL;
    size_t len = 0;
    double r2[N], s2[N];
    memcpy(r2, raw, sizeof r2);
    memcpy(s2, smooth, sizeof s2);
    r2[70] = 1e300;
    s2[70] = 1e30;
    r2[75] = INFINITY;
    s2[75] = INFINITY;
    r2[N - 1] = NAN;
    s2[N - 1] = NAN;
    r2[3] = -INFINITY;
    lre_plot_suggestion s = {"steepest", lrs[40], 40};
    lre_plot_data d = data(&s, 1);
    d.curves[0].raw = r2;
    d.curves[0].smoothed = s2;
    d.curves[1].label = "validation";
    d.curves[1].raw = raw;
    d.num_curves = 2;
    lre_status st = lre_plot_render(&d, NULL, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_OK, "NaN, inf and 1e300 losses draw", "status %d: %s", st, err);
    free(out);

    for (int i = 0; i < N; i++) r2[i] = NAN;
    d = data(NULL, 0);
    d.curves[0].raw = r2;
    d.curves[0].smoothed = NULL;
    st = lre_plot_render(&d, NULL, LRE_PLOT_SVG, &out, &len, err, sizeof err);
    CHECK(st == LRE_OK, "an all-NaN curve draws (empty panels with a note)", "status %d: %s",
          st, err);
    free(out);

    d = data(NULL, 0);
    d.n = 1;
    d.log_x = 0;
    st = lre_plot_render(&d, NULL, LRE_PLOT_PDF, &out, &len, err, sizeof err);
    CHECK(st == LRE_OK, "a single point on a linear axis draws", "status %d: %s", st, err);
    free(out);

    double neg[3] = {-1, 0, 2}; /* log axis with non-positive lrs: those are skipped */
    d = data(NULL, 0);
    d.n = 3;
    d.lrs = neg;
    st = lre_plot_render(&d, NULL, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_OK, "non-positive lrs on a log axis are skipped", "status %d: %s", st, err);
    free(out);
}

/* The SVG's <desc> (which says what the figure shows) into buf. */
static int svg_desc(const lre_plot_data *d, char *buf, size_t size)
{
    unsigned char *out = NULL;
    size_t len = 0;
    char err[256];
    buf[0] = '\0';
    if (lre_plot_render(d, NULL, LRE_PLOT_SVG, &out, &len, err, sizeof err) != LRE_OK) {
        snprintf(buf, size, "render failed: %s", err);
        return 0;
    }
    char *text = malloc(len + 1);
    int ok = 0;
    if (text) {
        memcpy(text, out, len);
        text[len] = '\0';
        char *a = strstr(text, "<desc>"), *b = a ? strstr(a, "</desc>") : NULL;
        if (a && b) {
            snprintf(buf, size, "%.*s", (int)(b - a - 6), a + 6);
            ok = 1;
        }
        free(text);
    }
    free(out);
    return ok;
}

static void test_stop_words(void)
{
    char desc[1024];
    lre_plot_suggestion s = {"steepest", lrs[40], 40};
    lre_plot_data d = data(&s, 1);
    d.planned_steps = 100;
    d.stop_reason = "non_finite";
    svg_desc(&d, desc, sizeof desc);
    CHECK(strstr(desc, "stopped: loss not finite at step 80/100") && !strstr(desc, "non_finite"),
          "stop: non_finite reads 'loss not finite'", "desc: %s", desc);
    d.stop_reason = "external";
    svg_desc(&d, desc, sizeof desc);
    CHECK(strstr(desc, "imported curve, 80 steps") && !strstr(desc, "external"),
          "stop: a curve from another tool reads 'imported curve'", "desc: %s", desc);
    d.stop_reason = "diverged";
    svg_desc(&d, desc, sizeof desc);
    CHECK(strstr(desc, "stopped: diverged at step 80/100") != NULL, "stop: diverged",
          "desc: %s", desc);
    d.stop_reason = "completed";
    svg_desc(&d, desc, sizeof desc);
    CHECK(strstr(desc, "completed 80 steps") != NULL, "stop: completed", "desc: %s", desc);
    d.stop_reason = "too_high";
    svg_desc(&d, desc, sizeof desc);
    CHECK(strstr(desc, "stopped: too high at step 80/100") != NULL,
          "stop: another rule's code with its underscores as spaces", "desc: %s", desc);
    d.stop_reason = NULL;
    svg_desc(&d, desc, sizeof desc);
    CHECK(strstr(desc, "last step 80/100") && !strstr(desc, "end at"),
          "stop: no reason reads 'last step'", "desc: %s", desc);
}

static int same_render(const lre_plot_data *a, const lre_plot_data *b, char *err, size_t esz)
{
    unsigned char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    lre_status s1 = lre_plot_render(a, NULL, LRE_PLOT_PNG, &x, &nx, err, esz);
    lre_status s2 = lre_plot_render(b, NULL, LRE_PLOT_PNG, &y, &ny, err, esz);
    int same = s1 != LRE_OK || s2 != LRE_OK ? -1 : nx == ny && memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return same;
}

static void test_delta_and_band(void)
{
    char desc[1024], err[256];
    lre_plot_suggestion s = {"steepest", lrs[40], 40};
    lre_plot_data fwd = data(&s, 1), cen = data(&s, 1);
    cen.delta = LRE_PLOT_DELTA_CENTRAL;
    CHECK(fwd.delta == LRE_PLOT_DELTA_FORWARD && lre_plot_data_default().delta ==
          LRE_PLOT_DELTA_FORWARD, "delta: forward differences by default (the user's note)",
          "default %d", (int)fwd.delta);
    svg_desc(&fwd, desc, sizeof desc);
    CHECK(strstr(desc, "forward differences") != NULL, "delta: the figure says forward",
          "desc: %s", desc);
    svg_desc(&cen, desc, sizeof desc);
    CHECK(strstr(desc, "central differences") != NULL, "delta: the figure says central",
          "desc: %s", desc);
    int same = same_render(&fwd, &cen, err, sizeof err);
    CHECK(same == 0, "delta: forward and central draw different pictures", "same %d (%s)", same,
          err);
    lre_plot_data bad = data(&s, 1);
    bad.delta = (lre_plot_delta)7;
    unsigned char *out = NULL;
    size_t len = 0;
    lre_status st = lre_plot_render(&bad, NULL, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "delta"), "delta: an unknown one is refused",
          "status %d: %s", st, err);

    /* a band: the min and max of three runs around their median */
    double lo[N], hi[N];
    for (int i = 0; i < N; i++) {
        lo[i] = smooth[i] - 0.05 - 0.002 * i;
        hi[i] = smooth[i] + 0.04 + 0.003 * i;
    }
    lo[10] = NAN;
    hi[70] = 1e300;
    hi[75] = INFINITY;
    lre_plot_data band = data(&s, 1);
    band.curves[0].band_lo = lo;
    band.curves[0].band_hi = hi;
    band.curves[0].band_label = "min-max of 3 runs";
    same = same_render(&fwd, &band, err, sizeof err);
    CHECK(same == 0, "band: drawn (NaN, inf and 1e300 in it)", "same %d (%s)", same, err);
    band.curves[0].band_hi = NULL;
    st = lre_plot_render(&band, NULL, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "band_hi"), "band: lo without hi is refused",
          "status %d: %s", st, err);
}

/* The verification panel (each candidate at its score, the winner
 * ringed) and a grid's figure (a curve per value, a suggestion on each). */
static void test_verify_and_grid(void)
{
    char desc[1024], err[256];
    lre_plot_suggestion s = {"steepest", lrs[40], 40};
    lre_plot_point v[3] = {{lrs[30], 0.61, 0.60, 0.63}, {lrs[40], 0.55, 0.52, 0.58},
                           {lrs[75], NAN, NAN, NAN}}; /* the last diverged */
    lre_plot_data plain = data(&s, 1), ver = data(&s, 1);
    CHECK(lre_plot_data_default().verify_winner == (size_t)-1 && plain.num_verify == 0,
          "verify: no panel and no winner by default", "winner %zu", plain.verify_winner);
    ver.verify = v;
    ver.num_verify = 3;
    ver.verify_winner = 1;
    ver.verify_label = "val loss, 1 epoch";
    svg_desc(&ver, desc, sizeof desc);
    CHECK(strstr(desc, "verification by training: 3 candidates, the winner 3.6e-3") != NULL,
          "verify: the figure names the candidates and the winner", "desc: %s", desc);
    int same = same_render(&plain, &ver, err, sizeof err);
    CHECK(same == 0, "verify: the panel is drawn (a NaN score included)", "same %d (%s)", same, err);
    lre_plot_data other = ver;
    other.verify_winner = 0;
    same = same_render(&ver, &other, err, sizeof err);
    CHECK(same == 0, "verify: the ring follows the winner", "same %d (%s)", same, err);
    unsigned char *out = NULL;
    size_t len = 0;
    other.verify_winner = 3;
    lre_status st = lre_plot_render(&other, NULL, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "verify_winner is 3, but there are 3"),
          "verify: a winner past the candidates is refused", "status %d: %s", st, err);
    other.verify_winner = (size_t)-1;
    other.verify = NULL;
    st = lre_plot_render(&other, NULL, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "3 verify points but the array is NULL"),
          "verify: a count without points is refused", "status %d: %s", st, err);

    /* a zeroed lre_plot_data (not lre_plot_data_default) draws as before:
     * verify_winner 0 with no verify points is no error */
    lre_plot_data zero;
    memset(&zero, 0, sizeof zero);
    zero.n = N;
    zero.lrs = lrs;
    zero.curves[0].smoothed = smooth;
    zero.num_curves = 1;
    st = lre_plot_render(&zero, NULL, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_OK, "verify: a zero-initialised lre_plot_data still draws", "status %d: %s",
          st, err);
    free(out);
    out = NULL;

    /* a grid of four values: each its own curve, a suggestion on each, the
     * third the best */
    static double g[4][N];
    for (int c = 0; c < 4; c++)
        for (int i = 0; i < N; i++) g[c][i] = i < 60 + 5 * c ? smooth[i] + 0.05 * c : NAN;
    lre_plot_suggestion gs[4] = {{"steepest", lrs[40], 40}, {"steepest", lrs[42], 42},
                                 {"steepest", lrs[38], 38}, {"steepest", lrs[40], 40}};
    int gc[4] = {0, 1, 2, 3};
    lre_plot_data grid = data(gs, 4);
    grid.num_curves = 4;
    for (int c = 0; c < 4; c++) {
        grid.curves[c].label = c == 2 ? "weight_decay = 1e-3 (best)" : "weight_decay";
        grid.curves[c].raw = NULL;
        grid.curves[c].smoothed = g[c];
    }
    grid.per_curve = 1;
    grid.suggestion_curves = gc;
    grid.main_curve = 2;
    grid.chosen = 2;
    svg_desc(&grid, desc, sizeof desc);
    CHECK(strstr(desc, "4 curves, the best thicker") && !strstr(desc, "diverged"),
          "grid: four curves, no stop named", "desc: %s", desc);
    lre_plot_data grid0 = grid;
    grid0.main_curve = 0;
    same = same_render(&grid, &grid0, err, sizeof err);
    CHECK(same == 0, "grid: the best curve is drawn thicker", "same %d (%s)", same, err);
    int bad[4] = {0, 1, 4, 3};
    grid0.suggestion_curves = bad;
    st = lre_plot_render(&grid0, NULL, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "marks curve 4 of 4"),
          "grid: a suggestion on a curve that is not there is refused", "status %d: %s", st, err);
    grid0.suggestion_curves = NULL;
    st = lre_plot_render(&grid0, NULL, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "per_curve without suggestion_curves"),
          "grid: per_curve without the curves of the suggestions is refused", "status %d: %s",
          st, err);
    grid0 = grid;
    grid0.main_curve = 4;
    st = lre_plot_render(&grid0, NULL, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "main_curve is 4, expected 0 to 3"),
          "grid: a main curve that is not there is refused", "status %d: %s", st, err);
    grid0 = grid;
    grid0.num_curves = LRE_PLOT_MAX_CURVES + 1;
    st = lre_plot_render(&grid0, NULL, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "num_curves is 9, expected 1 to 8"),
          "grid: more curves than the figure has colours are refused", "status %d: %s", st, err);
}

/* ------------------------------------------------------------ ticks */

/* A label as a number: U+2212 is '-', "×10^k" is "ek", a bare "10^k" is
 * "1ek". 0 when it does not parse (or has anything left over). */
static int parse_label(const char *s, double *v)
{
    char buf[96];
    size_t j = 0;
    int start = 1;
    while (*s && j + 4 < sizeof buf) {
        if (strncmp(s, "\xe2\x88\x92", 3) == 0) {
            buf[j++] = '-';
            s += 3;
            continue;
        }
        if (strncmp(s, "\xc3\x97" "10^", 5) == 0) {
            buf[j++] = 'e';
            s += 5;
            start = 0;
            continue;
        }
        if (start && strncmp(s, "10^", 3) == 0) {
            buf[j++] = '1';
            buf[j++] = 'e';
            s += 3;
            start = 0;
            continue;
        }
        if (*s != '-') start = 0;
        buf[j++] = *s++;
    }
    if (*s) return 0;
    buf[j] = '\0';
    char *end;
    *v = strtod(buf, &end);
    return j > 0 && *end == '\0';
}

/* Decimals a fixed-point label needs for `step`: the fewest that print
 * every multiple of it exactly (0.25 -> 2, 2.5 -> 1, 0.2 -> 1, 50 -> 0). */
static int decimals_for(double step)
{
    /* the step the generator meant: the gap between two float ticks to
     * three significant digits (9999 + 2e-8 - 9999 is 1.99998e-8) */
    double mag = pow(10, floor(log10(step)) - 2);
    step = round(step / mag) * mag;
    for (int d = 0; d < 15; d++) {
        double x = step * pow(10, d);
        if (fabs(x - round(x)) <= 1e-6 * x) return d;
    }
    return 15;
}

static int label_decimals(const char *s)
{
    const char *dot = strchr(s, '.');
    if (!dot) return 0;
    int d = 0;
    for (dot++; *dot >= '0' && *dot <= '9'; dot++) d++;
    return d;
}

typedef struct tick_check {
    const char *what;
    int calls, bad_count, bad_parse, bad_range, bad_order, bad_decimals;
    char first[4][200];
} tick_check;

static void note_bad(tick_check *c, int kind, const char *fmt, ...)
{
    if (c->first[kind][0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->first[kind], sizeof c->first[kind], fmt, ap);
    va_end(ap);
}

/* One axis: >= 4 labels, each parsing back to its tick, inside the range,
 * increasing; on a linear axis printed with fixed decimals, each label has
 * exactly the decimals its step needs. */
static void check_axis(tick_check *c, lre_plot_scale scale, double lo, double hi, double thresh,
                       int target)
{
    static lre_plot_tick t[LRE_PLOT_MAX_TICKS];
    int n = lre_plot_ticks(scale, lo, hi, thresh, target, t, LRE_PLOT_MAX_TICKS);
    c->calls++;
    int labels = 0;
    double prev = -INFINITY, gap = INFINITY, lastv = NAN;
    for (int i = 0; i < n; i++) {
        if (!t[i].labelled) continue;
        if (labels && t[i].value - lastv < gap) gap = t[i].value - lastv;
        lastv = t[i].value;
        labels++;
    }
    if (labels < 4) {
        c->bad_count++;
        note_bad(c, 0, "[%.6g, %.6g] target %d: %d labels", lo, hi, target, labels);
    }
    double span = hi - lo;
    int sci = 0;
    for (int i = 0; i < n; i++) sci |= t[i].labelled && strchr(t[i].label, 'e') != NULL;
    for (int i = 0; i < n; i++) {
        double v = t[i].value, p;
        if (!(v > prev)) {
            c->bad_order++;
            note_bad(c, 2, "[%.6g, %.6g]: tick %d (%.17g) after %.17g", lo, hi, i, v, prev);
        }
        prev = v;
        if (!t[i].labelled) continue;
        /* a millionth of the step, or a few ulps of the value */
        double tol = fmax(1e-6 * (isfinite(gap) ? gap : fabs(v)), 1e-13 * fabs(v));
        if (!parse_label(t[i].label, &p) || !(fabs(p - v) <= tol)) {
            c->bad_parse++;
            note_bad(c, 1, "[%.6g, %.6g] target %d: label '%s' for %.17g", lo, hi, target,
                     t[i].label, v);
        }
        if (v < lo - 1e-9 * span || v > hi + 1e-9 * span) {
            c->bad_range++;
            note_bad(c, 2, "[%.6g, %.6g]: labelled tick %.17g outside", lo, hi, v);
        }
        if (scale == LRE_PLOT_SCALE_LINEAR && isfinite(gap) && !sci &&
            !strchr(t[i].label, '^') && label_decimals(t[i].label) != decimals_for(gap)) {
            c->bad_decimals++;
            note_bad(c, 3, "[%.6g, %.6g]: label '%s' with step %.17g (%d decimals needed)", lo,
                     hi, t[i].label, gap, decimals_for(gap));
        }
    }
}

static void report(const tick_check *c)
{
    char name[160];
    snprintf(name, sizeof name, "ticks, %s (%d axes): at least 4 labels", c->what, c->calls);
    CHECK(c->bad_count == 0, name, "%d axes short, first: %s", c->bad_count, c->first[0]);
    snprintf(name, sizeof name, "ticks, %s: every label parses back to its tick's value", c->what);
    CHECK(c->bad_parse == 0, name, "%d labels wrong, first: %s", c->bad_parse, c->first[1]);
    snprintf(name, sizeof name, "ticks, %s: increasing, labelled ones inside the range", c->what);
    CHECK(c->bad_range + c->bad_order == 0, name, "%s", c->first[2]);
    snprintf(name, sizeof name, "ticks, %s: fixed labels have the decimals their step needs",
             c->what);
    CHECK(c->bad_decimals == 0, name, "%d labels, first: %s", c->bad_decimals, c->first[3]);
}

static int labels_are(lre_plot_scale scale, double lo, double hi, double thresh, int target,
                      const char *const *want, int nwant, char *got, size_t gotsize)
{
    lre_plot_tick t[LRE_PLOT_MAX_TICKS];
    int n = lre_plot_ticks(scale, lo, hi, thresh, target, t, LRE_PLOT_MAX_TICKS), k = 0, ok = 1;
    size_t used = 0;
    got[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (!t[i].labelled) continue;
        if (k >= nwant || strcmp(t[i].label, want[k]) != 0) ok = 0;
        k++;
        int w = snprintf(got + used, gotsize - used, "%s'%s'", used ? " " : "", t[i].label);
        if (w > 0 && (size_t)w < gotsize - used) used += (size_t)w;
    }
    return ok && k == nwant;
}

static void test_ticks(void)
{
    char got[512];
    /* the case: a 0.25 step printed with one decimal too few */
    static const char *const quarters[] = {"0.00", "0.25", "0.50", "0.75", "1.00"};
    CHECK(labels_are(LRE_PLOT_SCALE_LINEAR, 0, 1, 0, 5, quarters, 5, got, sizeof got),
          "ticks: [0, 1] in 0.25 steps reads 0.00 0.25 0.50 0.75 1.00", "got %s", got);
    static const char *const loss[] = {"1.75", "2.00", "2.25", "2.50"};
    CHECK(labels_are(LRE_PLOT_SCALE_LINEAR, 1.6, 2.6, 0, 5, loss, 4, got, sizeof got),
          "ticks: a loss axis 1.6..2.6 in 0.25 steps", "got %s", got);
    static const char *const small[] = {"0.0025", "0.0050", "0.0075", "0.0100"};
    CHECK(labels_are(LRE_PLOT_SCALE_LINEAR, 0.002, 0.0101, 0, 4, small, 4, got, sizeof got),
          "ticks: 2.5e-3 steps get four decimals", "got %s", got);
    static const char *const wide[] = {"0", "25", "50", "75", "100"};
    CHECK(labels_are(LRE_PLOT_SCALE_LINEAR, 0, 100, 0, 5, wide, 5, got, sizeof got),
          "ticks: 25 steps need no decimals", "got %s", got);

    tick_check lin = {.what = "linear"};
    static const double los[] = {-3.7, -1, 0, 1e-4, 0.1, 0.93, 2.3, 17, 123.4, 9999, -5e6, 1e7};
    static const double spans[] = {1e-7, 3e-6, 2.5e-5, 1e-4, 7e-4, 0.01, 0.033, 0.1, 0.25, 0.6,
                                   1, 1.7, 2.5, 3.3, 7, 10, 42, 250, 1e3, 7.7e4, 1e6};
    static const int targets[] = {0, 2, 3, 4, 5, 7, 10};
    for (size_t a = 0; a < sizeof los / sizeof los[0]; a++)
        for (size_t b = 0; b < sizeof spans / sizeof spans[0]; b++)
            for (size_t k = 0; k < sizeof targets / sizeof targets[0]; k++)
                check_axis(&lin, LRE_PLOT_SCALE_LINEAR, los[a], los[a] + spans[b], 0,
                           targets[k]);
    report(&lin);

    tick_check lg = {.what = "log"};
    static const double dspans[] = {0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.95, 1, 1.045, 1.3,
                                    1.5, 2, 2.2, 3, 5, 9, 14, 20};
    for (double a = -9; a <= 3; a += 0.37)
        for (size_t b = 0; b < sizeof dspans / sizeof dspans[0]; b++)
            for (size_t k = 0; k < sizeof targets / sizeof targets[0]; k++)
                check_axis(&lg, LRE_PLOT_SCALE_LOG, pow(10, a), pow(10, a + dspans[b]), 0,
                           targets[k]);
    /* the figure's one-decade x axis: 1e-3..1e-2 padded by 2.5% each side */
    check_axis(&lg, LRE_PLOT_SCALE_LOG, pow(10, -3.025), pow(10, -1.975), 0, 12);
    report(&lg);

    tick_check sl = {.what = "symlog"};
    /* transformed units: |t| <= 1 the linear band, 1 + log10(|v|/thresh) outside */
    static const double tlo[] = {-1.16, -1.3, -1.5, -1.7, -1.95, -2.2, -3.3, -5, -7.2};
    static const double thi[] = {1.16, 1.4, 1.9, 2.5, 4, 7.1};
    static const double threshs[] = {1e-5, 1e-3, 1e-2, 1, 100};
    for (size_t a = 0; a < sizeof tlo / sizeof tlo[0]; a++)
        for (size_t b = 0; b < sizeof thi / sizeof thi[0]; b++)
            for (size_t c = 0; c < sizeof threshs / sizeof threshs[0]; c++)
                for (size_t k = 0; k < sizeof targets / sizeof targets[0]; k++) {
                    double th = threshs[c];
                    double lo = -th * pow(10, -tlo[a] - 1), hi = th * pow(10, thi[b] - 1);
                    check_axis(&sl, LRE_PLOT_SCALE_SYMLOG, lo, hi, th, targets[k]);
                }
    /* inside the band only, and a dip that spans less than a decade */
    check_axis(&sl, LRE_PLOT_SCALE_SYMLOG, -0.6e-2, 0.6e-2, 1e-2, 6);
    check_axis(&sl, LRE_PLOT_SCALE_SYMLOG, -0.07, 0.012, 1e-2, 6);
    report(&sl);

    lre_plot_tick t[4];
    CHECK(lre_plot_ticks(LRE_PLOT_SCALE_LOG, -1, 10, 0, 0, t, 4) == -1 &&
          lre_plot_ticks(LRE_PLOT_SCALE_LINEAR, 2, 1, 0, 0, t, 4) == -1 &&
          lre_plot_ticks(LRE_PLOT_SCALE_LINEAR, 0, NAN, 0, 0, t, 4) == -1 &&
          lre_plot_ticks(LRE_PLOT_SCALE_SYMLOG, -1, 1, 0, 0, t, 4) == -1 &&
          lre_plot_ticks(LRE_PLOT_SCALE_SYMLOG, -1, 1, 0.03, 0, t, 4) == -1,
          "ticks: a bad range (log of -1, lo > hi, NaN, no band, a band not a power of ten) "
          "is -1", "accepted");
    /* a span of a few ulps: it returns (no endless search for 4 multiples) */
    int n = lre_plot_ticks(LRE_PLOT_SCALE_LINEAR, 1e10, nextafter(nextafter(1e10, 2e10), 2e10), 0,
                           0, t, 4);
    CHECK(n >= 0, "ticks: a range of two ulps returns", "got %d", n);
    CHECK(lre_plot_ticks(LRE_PLOT_SCALE_LINEAR, 0, 1, 0, 5, t, 4) == 4,
          "ticks: at most cap are written", "wrong count");
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Text that is not valid UTF-8 in any field that reaches the figure is
 * refused before cairo sees it (cairo would fail halfway through with
 * "input string not valid UTF-8"), naming the field and the byte; valid
 * text of 2, 3 and 4 bytes a character draws. */
/* Valid text longer than the figure's buffers (a 512-byte title, a
 * 96-byte stop reason, the legend's labels) is cut at a character, never in
 * one: 400 × "é" and 300 × "€" draw in every format. */
static void test_long_utf8_text(void)
{
    static const lre_plot_format fmts[] = {LRE_PLOT_PNG, LRE_PLOT_SVG, LRE_PLOT_PDF};
    static char title[801], sub[1801], stop[601], label[601], name[601];
    for (int i = 0; i < 400; i++) memcpy(title + 2 * i, "\xc3\xa9", 2);
    for (int i = 0; i < 600; i++) memcpy(sub + 3 * i, "\xe2\x82\xac", 3);
    for (int i = 0; i < 200; i++) {
        memcpy(stop + 3 * i, "\xe2\x82\xac", 3);
        memcpy(label + 3 * i, "\xe2\x82\xac", 3);
        memcpy(name + 3 * i, "\xe2\x82\xac", 3);
    }
    lre_plot_suggestion s[1] = {{name, lrs[40], 40}};
    for (size_t k = 0; k < 3; k++) {
        lre_plot_data d = data(s, 1);
        d.title = title;
        d.subtitle = sub;
        d.stop_reason = stop;
        d.curves[0].label = label;
        char err[256] = "";
        unsigned char *out = NULL;
        size_t len = 0;
        lre_status st = lre_plot_render(&d, NULL, fmts[k], &out, &len, err, sizeof err);
        CHECK(st == LRE_OK && len > 0,
              chk_name("utf-8: %s: long valid text is cut at a character and draws",
                       lre_plot_format_name(fmts[k])),
              "status %d: %s", st, err);
        free(out);
    }
}

static void test_utf8_text(void)
{
    static const lre_plot_format fmts[] = {LRE_PLOT_PNG, LRE_PLOT_SVG, LRE_PLOT_PDF};
    static double lo[N], hi[N];
    for (int i = 0; i < N; i++) lo[i] = smooth[i] - 0.1, hi[i] = smooth[i] + 0.1;
    char err[256];
    unsigned char *out = NULL;
    size_t len = 0;
    lre_plot_suggestion s[2] = {{"steepest", lrs[40], 40}, {"valley", lrs[30], 30}};

    for (size_t k = 0; k < 3; k++) {
        lre_plot_data d = data(s, 2);
        d.title = "caf\xe9";
        lre_status st = lre_plot_render(&d, NULL, fmts[k], &out, &len, err, sizeof err);
        CHECK(st == LRE_EINVAL && strstr(err, "plot: title is not valid UTF-8 (byte 4)") &&
                  out == NULL,
              chk_name("utf-8: %s: a Latin-1 title is refused, naming the field and byte",
                       lre_plot_format_name(fmts[k])),
              "status %d: %s", st, err);
        free(out);
        out = NULL;
    }

    struct {
        const char *what, *want;
        int field; /* 0 subtitle, 1 stop_reason, 2 label, 3 band_label, 4 suggestion */
        const char *text;
    } bad[] = {
        {"a surrogate in the subtitle", "plot: subtitle is not valid UTF-8 (byte 7)", 0,
         "ok \xc3\xa9 \xed\xa0\x80"},
        {"a stray byte in the stop reason", "plot: stop_reason is not valid UTF-8 (byte 1)", 1,
         "\xff"},
        {"a cut sequence in a curve label",
         "plot: the first curve's label is not valid UTF-8 (byte 6)", 2, "loss \xc3"},
        {"an overlong '/' in a band label",
         "plot: the second curve's band_label is not valid UTF-8 (byte 1)", 3, "\xc0\xaf"},
        {"an overlong 3-byte form",
         "plot: the second curve's band_label is not valid UTF-8 (byte 3)", 3, "ab\xe0\x80\xaf"},
        {"a code point past U+10FFFF",
         "plot: the first curve's label is not valid UTF-8 (byte 1)", 2, "\xf4\x90\x80\x80"},
        {"the noncharacter U+FFFF (cairo refuses it)",
         "plot: the first curve's label is not valid UTF-8 (byte 3)", 2, "a \xef\xbf\xbf"},
        {"the noncharacter U+FDD0", "plot: subtitle is not valid UTF-8 (byte 1)", 0,
         "\xef\xb7\x90"},
        {"a Latin-1 suggestion name",
         "plot: the name of suggestion \"caf\\xE9\" is not valid UTF-8 (byte 4)", 4, "caf\xe9"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        lre_plot_suggestion ss[2] = {s[0], s[1]};
        lre_plot_data d = data(ss, 2);
        d.num_curves = 2;
        d.curves[1] = d.curves[0];
        d.curves[1].label = "validation loss";
        d.curves[1].band_lo = lo;
        d.curves[1].band_hi = hi;
        switch (bad[i].field) {
        case 0: d.subtitle = bad[i].text; break;
        case 1: d.stop_reason = bad[i].text; break;
        case 2: d.curves[0].label = bad[i].text; break;
        case 3: d.curves[1].band_label = bad[i].text; break;
        default: ss[1].name = bad[i].text; break;
        }
        lre_status st = lre_plot_render(&d, NULL, LRE_PLOT_PNG, &out, &len, err, sizeof err);
        CHECK(st == LRE_EINVAL && strstr(err, bad[i].want) && out == NULL,
              chk_name("utf-8: %s is refused, naming the field", bad[i].what),
              "status %d: \"%s\", want \"%s\"", st, err, bad[i].want);
        free(out);
        out = NULL;
    }

    /* lre_plot_write refuses it too, and writes nothing */
    char path[64];
    snprintf(path, sizeof path, "/tmp/lre_plot_utf8_%ld.svg", (long)getpid());
    lre_plot_data d = data(s, 2);
    d.subtitle = "\x80";
    lre_status st = lre_plot_write(&d, NULL, path, err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "plot: subtitle is not valid UTF-8 (byte 1)") &&
              !exists(path),
          "utf-8: lre_plot_write refuses it and writes nothing", "status %d: %s", st, err);
    remove(path);

    /* valid text: 2-, 3- and 4-byte characters, the last ones before the
     * surrogates, U+FDD0 and U+10FFFE */
    lre_plot_suggestion good[2] = {{"caf\xc3\xa9", lrs[40], 40}, {"\xe2\x82\xac", lrs[30], 30}};
    for (size_t k = 0; k < 3; k++) {
        d = data(good, 2);
        d.title = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
        d.subtitle = "\xf4\x8f\xbf\xbd \xed\x9f\xbf \xef\xb7\x8f \xef\xbf\xbd";
        d.stop_reason = "trop_\xc3\xa9lev\xc3\xa9";
        d.curves[0].label = "perte \xe2\x80\x94 train";
        st = lre_plot_render(&d, NULL, fmts[k], &out, &len, err, sizeof err);
        CHECK(st == LRE_OK && len > 0,
              chk_name("utf-8: %s: valid text of 1 to 4 bytes a character draws",
                       lre_plot_format_name(fmts[k])),
              "status %d: %s", st, err);
        free(out);
        out = NULL;
    }
}

static void test_writes(void)
{
    char dir[] = "/tmp/lre_plot_XXXXXX";
    if (!mkdtemp(dir)) {
        chk_fail("write: temporary directory", "mkdtemp: %s", strerror(errno));
        return;
    }
    char path[256], tmp[300], err[512];
    lre_plot_suggestion s = {"steepest", lrs[40], 40};
    lre_plot_data d = data(&s, 1);

    snprintf(path, sizeof path, "%s/fig.svg", dir);
    lre_status st = lre_plot_write(&d, NULL, path, err, sizeof err);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CHECK(st == LRE_OK && exists(path) && !exists(tmp), "write: the file, and no temporary left",
          "status %d: %s", st, err);
    remove(path);

    /* the target is a directory: the rename fails, the temporary goes */
    snprintf(path, sizeof path, "%s/taken.png", dir);
    mkdir(path, 0700);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    st = lre_plot_write(&d, NULL, path, err, sizeof err);
    CHECK(st == LRE_EIO && strstr(err, path) && !exists(tmp),
          "write: a failed rename is LRE_EIO naming the path, and removes the temporary",
          "status %d: %s", st, err);
    rmdir(path);

    /* missing folders are made (lre_write_file) */
    snprintf(path, sizeof path, "%s/missing/fig.pdf", dir);
    st = lre_plot_write(&d, NULL, path, err, sizeof err);
    CHECK(st == LRE_OK && access(path, F_OK) == 0, "write: missing folders are made",
          "status %d: %s", st, err);
    remove(path);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/missing", dir);
    rmdir(sub);
    /* a parent that is a file: LRE_EIO naming the path and why */
    snprintf(sub, sizeof sub, "%s/afile", dir);
    FILE *af = fopen(sub, "w");
    if (af) fclose(af);
    snprintf(path, sizeof path, "%s/afile/fig.pdf", dir);
    st = lre_plot_write(&d, NULL, path, err, sizeof err);
    CHECK(st == LRE_EIO && strstr(err, path) && strstr(err, "not a folder"),
          "write: a parent that is a file is LRE_EIO naming the path", "status %d: %s", st, err);
    remove(sub);
    rmdir(dir);
}

/* A long curve is reduced for drawing (plot.c, decimate): the figure of a
 * noisy curve stops growing with its length — 400,000 steps give an SVG
 * about as large as 200,000 (drawn point for point it doubled, and cairo
 * took minutes on a million) — and a curve of 1,000 steps, under the
 * threshold, keeps every segment. */
static size_t svg_size(size_t n, size_t *segments)
{
    double *x = malloc(n * sizeof *x), *raw = malloc(n * sizeof *raw),
           *sm = malloc(n * sizeof *sm);
    if (!x || !raw || !sm) chk_fatal("svg_size", "out of memory");
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / (double)n;
        x[i] = 1e-7 * pow(10, 9 * t);
        raw[i] = 2.3 - sin(3 * t) + 0.05 * sin((double)i * 7.3);
        sm[i] = 2.3 - sin(3 * t) + 0.01 * sin((double)i * 1.7);
    }
    lre_plot_data d = lre_plot_data_default();
    d.n = n;
    d.lrs = x;
    d.curves[0].label = "loss";
    d.curves[0].raw = raw;
    d.curves[0].smoothed = sm;
    d.num_curves = 1;
    unsigned char *out = NULL;
    size_t len = 0;
    char err[256];
    lre_status st = lre_plot_render(&d, NULL, LRE_PLOT_SVG, &out, &len, err, sizeof err);
    if (st != LRE_OK) chk_fatal("svg_size", "render of %zu points: %s", n, err);
    /* the smoothed line is the stroked path of width 1.5: count its "L"s */
    *segments = 0;
    char *text = malloc(len + 1);
    if (text) {
        memcpy(text, out, len);
        text[len] = '\0';
        const char *p = strstr(text, "stroke-width:1.5");
        const char *dpos = p ? strstr(p, " d=\"") : NULL;
        const char *end = dpos ? strchr(dpos + 4, '"') : NULL;
        for (const char *c = dpos; c && c < end; c++) *segments += *c == 'L';
        free(text);
    }
    free(out);
    free(x);
    free(raw);
    free(sm);
    return len;
}

static void test_long_curves(void)
{
    size_t seg_small, seg_mid, seg_big;
    size_t small = svg_size(1000, &seg_small), mid = svg_size(200000, &seg_mid),
           big = svg_size(400000, &seg_big);
    CHECK(seg_small == 999, "1,000 steps: the line keeps all 999 segments",
          "%zu segments", seg_small);
    CHECK((double)big < 1.25 * (double)mid,
          "400,000 steps: an SVG about as large as 200,000 steps' (reduced)",
          "%zu bytes against %zu (1,000 steps: %zu)", big, mid, small);
    CHECK(seg_big < 20000 && seg_big > 1000,
          "400,000 steps: the line reduced to a few points per column",
          "%zu segments", seg_big);
}

int main(void)
{
    curve();
    test_formats();
    test_refusals();
    test_hard_data();
    test_writes();
    test_utf8_text();
    test_ticks();
    test_stop_words();
    test_delta_and_band();
    test_verify_and_grid();
    test_long_curves();
    test_long_utf8_text();
    return chk_done("test_plot");
}
