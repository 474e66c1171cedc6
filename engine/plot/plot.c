/*
 * plot.c — the range-test figure (lrengine_plot.h), drawn with cairo: one
 * drawing path for the PNG, SVG and PDF surfaces, text through cairo's toy
 * font API (fontconfig's "sans-serif", DejaVu Sans on Debian).
 *
 * Everything is laid out in points on a canvas of W x H points; a PNG is
 * the same drawing scaled to its pixel size, so 1200 x 900 px reads like
 * the 6 x 4.5 inch PDF. The file is rendered into memory (cairo's stream
 * surfaces), then written by lre_write_file (missing folders made, a
 * temporary file renamed over PATH), so an error never leaves half a file. cairo's SVG surface draws text as
 * glyph outlines; so that the labels can be found (and read aloud) we add
 * an SVG <title> and <desc> naming the suggestions after cairo is done.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cairo.h>
#include <cairo-pdf.h>
#include <cairo-svg.h>

#include "lrengine.h"
#include "lrengine_plot.h"

#define PI 3.14159265358979323846
#define DEFAULT_PT_W 432.0 /* 6 in */
#define DEFAULT_PT_H 324.0 /* 4.5 in */
#define DEFAULT_PX_W 1200.0
#define DEFAULT_PX_H 900.0
#define MAX_PX 16384.0     /* cairo's image surfaces stop at 32767 */
#define MAX_PT 14400.0     /* PDF's 200 inch page limit */
#define MAX_PIXELS 64e6    /* 256 MB of image */
#define SYMLOG_DECADES 6   /* decades shown above the linear band */

/* ------------------------------------------------------------ errors */

static lre_status fail(char *errbuf, size_t size, lre_status st, const char *fmt, ...)
{
    if (errbuf && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, size, fmt, ap);
        va_end(ap);
    }
    return st;
}

static int finite(double v) { return isfinite(v); }

/* --------------------------------------------------------- the buffer */

typedef struct membuf {
    unsigned char *p;
    size_t n, cap;
    int failed;
} membuf;

static int membuf_add(membuf *b, const void *data, size_t len)
{
    if (b->failed) return 0;
    if (len > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap - b->n < len) {
            if (cap > ((size_t)-1) / 2) {
                b->failed = 1;
                return 0;
            }
            cap *= 2;
        }
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return 0;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
    return 1;
}

static cairo_status_t membuf_write(void *closure, const unsigned char *data, unsigned int len)
{
    return membuf_add(closure, data, len) ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

/* ------------------------------------------------------------- colours */

typedef struct rgb {
    double r, g, b;
} rgb;

#define HEX(h) {((h) >> 16 & 255) / 255.0, ((h) >> 8 & 255) / 255.0, ((h) & 255) / 255.0}

/* matplotlib's tab10 without its red (the chosen suggestion's) */
static const rgb C_CURVE[LRE_PLOT_MAX_CURVES] = {HEX(0x1f77b4), HEX(0xff7f0e), HEX(0x2ca02c),
                                                 HEX(0x9467bd), HEX(0x8c564b), HEX(0xe377c2),
                                                 HEX(0x7f7f7f), HEX(0x17becf)};
static const rgb C_CHOSEN = HEX(0xd62728);
/* the other suggestions: matplotlib's tab10 without the curves' and red */
static const rgb C_SUGGEST[] = {HEX(0x2ca02c), HEX(0x9467bd), HEX(0x8c564b), HEX(0xe377c2),
                                HEX(0x17becf), HEX(0xbcbd22), HEX(0x7f7f7f)};
#define N_SUGGEST_COLOURS (sizeof C_SUGGEST / sizeof C_SUGGEST[0])
static const rgb C_TEXT = HEX(0x222222);
static const rgb C_SUBTLE = HEX(0x555555);
static const rgb C_AXIS = HEX(0x444444);
static const rgb C_GRID = HEX(0xe3e3e3);
static const rgb C_STOP = HEX(0x333333);

typedef enum marker {
    M_CIRCLE, M_SQUARE, M_DIAMOND, M_TRIANGLE_UP, M_TRIANGLE_DOWN, M_PENTAGON, M_HEXAGON,
    M_STAR, M_CROSS, M_COUNT
} marker;
/* the chosen suggestion is a circle; the others cycle through these */
static const marker SUGGEST_MARKERS[] = {M_SQUARE, M_DIAMOND, M_TRIANGLE_UP, M_TRIANGLE_DOWN,
                                         M_PENTAGON, M_HEXAGON, M_STAR};
#define N_SUGGEST_MARKERS (sizeof SUGGEST_MARKERS / sizeof SUGGEST_MARKERS[0])

/* -------------------------------------------------------------- axes */

typedef enum axkind { AX_LIN, AX_LOG, AX_SYMLOG } axkind;

/* An axis maps data values to canvas coordinates. t0 and t1 are the ends
 * of the visible range in transformed units (log10 for AX_LOG); p0 and p1
 * are where they land on the canvas. */
typedef struct axis {
    axkind kind;
    double thresh; /* AX_SYMLOG: the linear band is [-thresh, thresh] */
    double t0, t1;
    double p0, p1;
} axis;

static double ax_fwd(const axis *a, double v)
{
    switch (a->kind) {
    case AX_LOG: return log10(v);
    case AX_SYMLOG: {
        double m = fabs(v) / a->thresh;
        double t = m <= 1 ? m : 1 + log10(m);
        return v < 0 ? -t : t;
    }
    case AX_LIN: break;
    }
    return v;
}

static double ax_inv(const axis *a, double t)
{
    switch (a->kind) {
    case AX_LOG: return pow(10, t);
    case AX_SYMLOG: {
        double m = fabs(t);
        double v = m <= 1 ? m * a->thresh : a->thresh * pow(10, m - 1);
        return t < 0 ? -v : v;
    }
    case AX_LIN: break;
    }
    return t;
}

static double ax_map(const axis *a, double v)
{
    return a->p0 + (ax_fwd(a, v) - a->t0) / (a->t1 - a->t0) * (a->p1 - a->p0);
}

/* Whether v can be placed on the axis at all (log needs v > 0). */
static int ax_ok(const axis *a, double v)
{
    return finite(v) && (a->kind != AX_LOG || v > 0);
}

static int ax_contains(const axis *a, double v)
{
    double t = ax_fwd(a, v), lo = fmin(a->t0, a->t1), hi = fmax(a->t0, a->t1);
    double eps = (hi - lo) * 1e-9;
    return t >= lo - eps && t <= hi + eps;
}

/* Widens [t0, t1] by `frac` of its span on each side. */
static void ax_pad(axis *a, double lo_frac, double hi_frac)
{
    double span = a->t1 - a->t0;
    a->t0 -= span * lo_frac;
    a->t1 += span * hi_frac;
}

/* ------------------------------------------------------------- ticks */

/* A tick: its value, whether it is labelled, and the label as drawn: `text`
 * and, when it is a power of ten, a raised exponent `sup` ("10" and "−2";
 * "−5×10" and "−3"). */
typedef struct tick {
    double v;
    int major;      /* labelled */
    int grid;       /* a decade (or a labelled tick): a grid line, a long tick */
    char text[40];
    char sup[24];
} tick;

typedef struct ticks {
    tick t[LRE_PLOT_MAX_TICKS];
    int n;
} ticks;

#define MINUS "\xe2\x88\x92"
#define MIN_LABELS 4

static tick *add_tick(ticks *ts, double v, int major)
{
    static tick spare;
    if (ts->n >= LRE_PLOT_MAX_TICKS) {
        memset(&spare, 0, sizeof spare);
        return &spare;
    }
    tick *t = &ts->t[ts->n++];
    memset(t, 0, sizeof *t);
    t->v = v;
    t->major = major;
    return t;
}

static int cmp_tick(const void *a, const void *b)
{
    double x = ((const tick *)a)->v, y = ((const tick *)b)->v;
    return (x > y) - (x < y);
}

/* Sorted by value, a tick at the same place as another dropped (a
 * labelled one wins). */
static void sort_ticks(ticks *ts)
{
    qsort(ts->t, (size_t)ts->n, sizeof ts->t[0], cmp_tick);
    int k = 0;
    for (int i = 0; i < ts->n; i++) {
        if (k > 0 && fabs(ts->t[i].v - ts->t[k - 1].v) <=
                         1e-12 * fmax(fabs(ts->t[i].v), fabs(ts->t[k - 1].v))) {
            if (ts->t[i].major && !ts->t[k - 1].major) ts->t[k - 1] = ts->t[i];
            continue;
        }
        ts->t[k++] = ts->t[i];
    }
    ts->n = k;
}

/* Copies s, its '-' as a typographic minus. */
static void minus_copy(char *out, size_t size, const char *s)
{
    int room = (int)(size > 4 ? size - 4 : 0);
    if (s[0] == '-') snprintf(out, size, MINUS "%.*s", room, s + 1);
    else snprintf(out, size, "%.*s", room + 3, s);
}

/* "1.5e-07" -> "1.5e-7", "2e+05" -> "2e5" */
static void trim_exponent(char *s)
{
    char *e = strchr(s, 'e');
    if (!e) return;
    int ex = atoi(e + 1);
    snprintf(e, 8, "e%d", ex);
}

/* The fewest decimals that print every multiple of `step` exactly
 * (0.25 -> 2, 2.5 -> 1, 0.2 -> 1, 50 -> 0). */
static int step_decimals(double step)
{
    step = fabs(step);
    for (int d = 0; d < 17; d++) {
        double x = step * pow(10, d);
        if (fabs(x - round(x)) <= 1e-6 * x) return d;
    }
    return 17;
}

/* The labels of the multiples of `step` on an axis whose largest value is
 * `maxabs`: fixed decimals, as many as the step needs (0.25 steps: 0.00,
 * 0.25, 0.50); scientific, with as many digits as the step needs, for huge
 * or tiny numbers. */
static void fmt_tick(char *out, size_t size, double v, double step, double maxabs)
{
    char tmp[48];
    if (fabs(v) < fabs(step) * 1e-6) v = 0;
    int dec = step_decimals(step);
    if (maxabs < 1e6 && (maxabs >= 1e-4 || maxabs == 0) && dec <= 8) {
        snprintf(tmp, sizeof tmp, "%.*f", dec, v);
    } else if (v == 0) {
        snprintf(tmp, sizeof tmp, "0");
    } else {
        /* the step's last digit, as a power of ten */
        int last = -dec;
        if (dec == 0) {
            double x = fabs(step);
            last = 0;
            while (last < 300 && fmod(x, pow(10, last + 1)) < 1e-6 * x) last++;
        }
        int p = (int)floor(log10(fabs(v)) + 1e-12) - last;
        if (p < 0) p = 0;
        if (p > 16) p = 16;
        snprintf(tmp, sizeof tmp, "%.*e", p, v);
        trim_exponent(tmp);
    }
    minus_copy(out, size, tmp);
}

/* "%g"-like for a learning rate on a log axis: 0.002, 5e-7. */
static void fmt_g(char *out, size_t size, double v)
{
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.6g", v);
    trim_exponent(tmp);
    minus_copy(out, size, tmp);
}

/* [-]m×10^k as text and a raised exponent (m == 1: just 10^k). */
static void set_pow10(tick *t, int sign, int m, int k)
{
    if (m == 1) snprintf(t->text, sizeof t->text, "%s10", sign < 0 ? MINUS : "");
    else snprintf(t->text, sizeof t->text, "%s%d\xc3\x97" "10", sign < 0 ? MINUS : "", m);
    snprintf(t->sup, sizeof t->sup, "%s%d", k < 0 ? MINUS : "", abs(k));
}

/* The steps 1, 2, 2.5, 5 x 10^k: the next larger or smaller one. */
static double step_up(double step)
{
    double mag = pow(10, floor(log10(step) + 1e-9)), f = step / mag;
    return (f < 1.5 ? 2 : f < 2.25 ? 2.5 : f < 3.5 ? 5 : 10) * mag;
}

static double step_down(double step)
{
    double mag = pow(10, floor(log10(step) + 1e-9)), f = step / mag;
    return (f < 1.5 ? 0.5 : f < 2.25 ? 1 : f < 3.5 ? 2 : 2.5) * mag;
}

static int multiples_in(double lo, double hi, double step)
{
    double k0 = ceil(lo / step - 1e-9), k1 = floor(hi / step + 1e-9);
    double n = k1 - k0 + 1;
    return n < 0 ? 0 : n > 1e6 ? 1000000 : (int)n;
}

/* Multiples of a 1, 2, 2.5 or 5 x 10^k step in [lo, hi] (data units):
 * about `target` of them, never fewer than MIN_LABELS. */
static void lin_ticks_in(ticks *ts, double lo, double hi, int target)
{
    double span = hi - lo;
    if (!(span > 0)) span = fmax(fabs(hi), 1) * 1e-9;
    if (target < MIN_LABELS) target = MIN_LABELS;
    double raw = span / target;
    double step = pow(10, floor(log10(raw)));
    /* (bounded: a span of a few ulps never gets four multiples) */
    for (int k = 0; k < 64 && multiples_in(lo, hi, step) > target; k++) step = step_up(step);
    for (int k = 0; k < 64 && multiples_in(lo, hi, step) < MIN_LABELS && step > 1e-300; k++)
        step = step_down(step);
    double maxabs = fmax(fabs(lo), fabs(hi));
    double k0 = ceil(lo / step - 1e-9), k1 = floor(hi / step + 1e-9);
    for (double k = k0; k <= k1 && ts->n < LRE_PLOT_MAX_TICKS; k++) {
        /* k * step, snapped onto the range's ends (1.7 - 1e-16 is 1.7) */
        double v = fmin(fmax(k * step, lo), hi);
        if (fabs(v) < step * 1e-9) v = 0;
        tick *t = add_tick(ts, v, 1);
        fmt_tick(t->text, sizeof t->text, v, step, maxabs);
    }
}

static void lin_ticks(ticks *ts, const axis *a, int target)
{
    ts->n = 0;
    lin_ticks_in(ts, fmin(a->t0, a->t1), fmax(a->t0, a->t1), target);
}

/* A log axis (t0, t1 in decades). Enough decades: 10^k labelled (every
 * `every`-th, as few as about `target` allows while keeping MIN_LABELS),
 * the rest and 2..9 x 10^k as minor ticks. Under MIN_LABELS decades:
 * 1, 2, 5 x 10^k labelled, or every m x 10^k, or, in a sliver of a
 * decade, the linear ticks of the range. */
static void log_ticks(ticks *ts, const axis *a, int target)
{
    double lo = fmin(a->t0, a->t1), hi = fmax(a->t0, a->t1);
    int k0 = (int)ceil(lo - 1e-9), k1 = (int)floor(hi + 1e-9);
    int decades = k1 - k0 + 1;
    if (target < MIN_LABELS) target = MIN_LABELS;
    ts->n = 0;
    if (decades >= MIN_LABELS) {
        int every = 1;
        for (;;) {
            int count = 0;
            for (int k = k0; k <= k1; k++) count += k % every == 0;
            if (count <= target) break;
            int next = 0;
            for (int k = k0; k <= k1; k++) next += k % (every + 1) == 0;
            if (next < MIN_LABELS) break;
            every++;
        }
        for (int k = (int)floor(lo); k <= (int)ceil(hi); k++) {
            if (k >= lo - 1e-9 && k <= hi + 1e-9) {
                tick *t = add_tick(ts, pow(10, k), k % every == 0);
                t->grid = 1;
                if (t->major) set_pow10(t, 1, 1, k);
            }
            if (hi - lo > 14) continue;
            for (int m = 2; m <= 9; m++) {
                double tv = k + log10(m);
                if (tv >= lo - 1e-9 && tv <= hi + 1e-9) add_tick(ts, m * pow(10, k), 0);
            }
        }
        return;
    }
    static const int sets[2][9] = {{1, 2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
    static const int sizes[2] = {3, 9};
    for (int s = 0; s < 2; s++) {
        int count = 0;
        for (int k = (int)floor(lo); k <= (int)ceil(hi); k++)
            for (int i = 0; i < sizes[s]; i++) {
                double tv = k + log10(sets[s][i]);
                count += tv >= lo - 1e-9 && tv <= hi + 1e-9;
            }
        if (count < MIN_LABELS) continue;
        for (int k = (int)floor(lo); k <= (int)ceil(hi); k++)
            for (int m = 1; m <= 9; m++) {
                double tv = k + log10(m), v = m * pow(10, k);
                if (tv < lo - 1e-9 || tv > hi + 1e-9) continue;
                int lab = 0;
                for (int i = 0; i < sizes[s]; i++) lab |= sets[s][i] == m;
                tick *t = add_tick(ts, v, lab);
                if (lab) fmt_g(t->text, sizeof t->text, v);
            }
        return;
    }
    lin_ticks_in(ts, pow(10, lo), pow(10, hi), target);
}

/* A symlog axis: 0 and +-thresh x 10^j (every `every`-th labelled, as
 * `target` allows while keeping MIN_LABELS, the others minor ticks).
 * Under MIN_LABELS (a dip within a decade of the band): also 2 and 5 x
 * thresh x 10^j and +-thresh/2 inside the band; in a narrower range the
 * linear ticks of the range. */
static void symlog_ticks(ticks *ts, const axis *a, int target)
{
    double lo = fmin(a->t0, a->t1), hi = fmax(a->t0, a->t1);
    int e0 = (int)lround(log10(a->thresh));
    double th = pow(10, e0);
    if (target < MIN_LABELS) target = MIN_LABELS;
#define IN(t) ((t) >= lo - 1e-9 && (t) <= hi + 1e-9)
    int jmax = (int)ceil(fmax(fabs(lo), fabs(hi))) + 1;
    if (jmax > 300) jmax = 300;
    int count1 = IN(0);
    for (int j = 0; j <= jmax; j++) count1 += IN(-(1.0 + j)) + IN(1.0 + j);
    ts->n = 0;
    if (count1 >= MIN_LABELS) {
        int every = 1;
        for (;;) {
            int count = IN(0), next = IN(0);
            for (int j = 0; j <= jmax; j++) {
                count += (j % every == 0) * (IN(-(1.0 + j)) + IN(1.0 + j));
                next += (j % (every + 1) == 0) * (IN(-(1.0 + j)) + IN(1.0 + j));
            }
            if (count <= target || next < MIN_LABELS) break;
            every++;
        }
        if (IN(0)) snprintf(add_tick(ts, 0, 1)->text, sizeof ts->t[0].text, "0");
        for (int j = 0; j <= jmax; j++)
            for (int s = -1; s <= 1; s += 2) {
                /* the decades between labelled ones as minor ticks, as
                 * matplotlib's symlog has no 2..9 ones */
                if (IN(s * (1.0 + j))) {
                    tick *t = add_tick(ts, s * th * pow(10, j), j % every == 0);
                    if (t->major) set_pow10(t, s, 1, e0 + j);
                }
            }
        sort_ticks(ts);
        return;
    }
    /* a narrow range: mantissas 2 and 5 outside the band, a half inside */
    int count = count1;
    for (int j = 0; j <= jmax; j++)
        for (int s = -1; s <= 1; s += 2)
            count += IN(s * (1.0 + j + log10(2))) + IN(s * (1.0 + j + log10(5)));
    count += IN(-0.5) + IN(0.5);
    if (count >= MIN_LABELS) {
        if (IN(0)) snprintf(add_tick(ts, 0, 1)->text, sizeof ts->t[0].text, "0");
        for (int s = -1; s <= 1; s += 2) {
            if (IN(s * 0.5)) set_pow10(add_tick(ts, s * th / 2, 1), s, 5, e0 - 1);
            for (int j = 0; j <= jmax; j++)
                for (int m = 1; m <= 9; m++) {
                    double tv = s * (1.0 + j + log10(m));
                    if (!IN(tv)) continue;
                    int lab = m == 1 || m == 2 || m == 5;
                    tick *t = add_tick(ts, s * m * th * pow(10, j), lab);
                    if (lab) set_pow10(t, s, m, e0 + j);
                }
        }
        sort_ticks(ts);
        return;
    }
#undef IN
    lin_ticks_in(ts, ax_inv(a, lo), ax_inv(a, hi), target);
}

/* ------------------------------------------------------------ figure */

typedef struct rect {
    double x, y, w, h;
} rect;

typedef enum valign { VA_BASE, VA_CENTER, VA_TOP } valign;

typedef struct fig {
    cairo_t *cr;
    double W, H, fs;
    const lre_plot_data *d;
    const lre_plot_opts *o;
    const double *main;   /* main_curve's smoothed loss, else its raw loss */
    double *grad;         /* n: change in `main` per step (NaN: none) */
    double ytop_lo, ytop_hi;
    int have_top, have_grad;
    axis x, yt, yb, yv;
    rect top, bot, ver;   /* ver: the verification panel (h 0: none) */
    ticks xt, ytt, ybt, yvt;
    /* where things were drawn in the top panel, for placing the legend */
    double *px, *py;
    size_t np, npcap;
} fig;

static void set_rgb(fig *f, rgb c, double alpha)
{
    cairo_set_source_rgba(f->cr, c.r, c.g, c.b, alpha);
}

static void font(fig *f, double size, int bold)
{
    cairo_select_font_face(f->cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(f->cr, size);
}

static double text_w(fig *f, const char *s, double size, int bold)
{
    cairo_text_extents_t e;
    font(f, size, bold);
    cairo_text_extents(f->cr, s, &e);
    return e.x_advance;
}

static double baseline(double y, double size, valign va)
{
    /* DejaVu Sans: digits and capitals are about 0.73 em tall */
    switch (va) {
    case VA_CENTER: return y + 0.365 * size;
    case VA_TOP: return y + 0.76 * size;
    case VA_BASE: break;
    }
    return y;
}

/* Draws s with its anchor at (x, y): ha 0 left, 0.5 centre, 1 right. */
static void text(fig *f, double x, double y, const char *s, double size, int bold, double ha,
                 valign va, rgb c)
{
    double w = text_w(f, s, size, bold);
    set_rgb(f, c, 1);
    cairo_move_to(f->cr, x - ha * w, baseline(y, size, va));
    cairo_show_text(f->cr, s);
}

/* The same on a white halo, for a label drawn over data. */
static void text_halo(fig *f, double x, double y, const char *s, double size, int bold,
                      double ha, valign va, rgb c)
{
    double w = text_w(f, s, size, bold);
    cairo_new_path(f->cr);
    cairo_move_to(f->cr, x - ha * w, baseline(y, size, va));
    cairo_text_path(f->cr, s);
    cairo_set_line_join(f->cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_width(f->cr, 0.3 * size);
    cairo_set_source_rgba(f->cr, 1, 1, 1, 0.9);
    cairo_stroke_preserve(f->cr);
    set_rgb(f, c, 1);
    cairo_fill(f->cr);
}

/* A label with an optional raised exponent ("10" and "−2"). */
static double sup_w(fig *f, const char *base, const char *sup, double size)
{
    return text_w(f, base, size, 0) + (*sup ? text_w(f, sup, size * 0.72, 0) : 0);
}

static void sup_text(fig *f, double x, double y, const char *base, const char *sup, double size,
                     double ha, valign va, rgb c)
{
    if (!*sup) {
        text(f, x, y, base, size, 0, ha, va, c);
        return;
    }
    double w = sup_w(f, base, sup, size);
    double bx = x - ha * w, by = baseline(y, size, va);
    /* keep the label's visual centre where a plain label's would be */
    if (va != VA_BASE) by += 0.12 * size;
    double bw = text_w(f, base, size, 0);
    set_rgb(f, c, 1);
    font(f, size, 0);
    cairo_move_to(f->cr, bx, by);
    cairo_show_text(f->cr, base);
    font(f, size * 0.72, 0);
    cairo_move_to(f->cr, bx + bw, by - 0.42 * size);
    cairo_show_text(f->cr, sup);
}

static double tick_w(fig *f, const tick *t, double size)
{
    return sup_w(f, t->text, t->sup, size);
}

static void tick_text(fig *f, const tick *t, double x, double y, double size, double ha,
                      valign va)
{
    sup_text(f, x, y, t->text, t->sup, size, ha, va, C_TEXT);
}

/* After text was copied into a fixed buffer (snprintf cuts at a byte):
 * drops a character cut in the middle at its end, so what cairo gets stays
 * valid UTF-8 (the data's strings were checked whole, check_text). */
static void utf8_tail(char *s)
{
    size_t n = strlen(s), i = n, cont = 0;
    while (i > 0 && cont < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) i--, cont++;
    if (i == 0) return;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need = lead < 0x80 ? 0 : lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
    if (lead >= 0x80 && cont < need) s[i - 1] = '\0';
}

/* Shortens s (UTF-8, a buffer of cap bytes) with an ellipsis until it
 * fits in maxw. */
static void ellipsize(fig *f, char *s, size_t cap, double size, int bold, double maxw)
{
    if (text_w(f, s, size, bold) <= maxw) return;
    size_t len = strlen(s);
    char tmp[1100];
    tmp[0] = '\0';
    while (len > 0) {
        do len--; while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80);
        snprintf(tmp, sizeof tmp, "%.*s\xe2\x80\xa6", (int)len, s);
        if (text_w(f, tmp, size, bold) <= maxw) break;
    }
    snprintf(s, cap, "%s", tmp);
    utf8_tail(s);
}

/* Compact learning rate: 3.2e-3, 5.0e2. */
static void fmt_lr(char *out, size_t size, double v)
{
    if (!finite(v)) {
        snprintf(out, size, "%g", v);
        return;
    }
    if (v == 0) {
        snprintf(out, size, "0");
        return;
    }
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%.1e", v);
    char *e = strchr(tmp, 'e');
    if (!e) {
        snprintf(out, size, "%s", tmp);
        return;
    }
    *e = '\0';
    int ex = atoi(e + 1);
    snprintf(out, size, "%.8se%d", tmp, ex);
}

/* ----------------------------------------------------------- markers */

static void marker_path(cairo_t *cr, marker m, double x, double y, double r)
{
    switch (m) {
    case M_CIRCLE:
        cairo_new_sub_path(cr);
        cairo_arc(cr, x, y, r, 0, 2 * PI);
        break;
    case M_SQUARE:
        r *= 0.88;
        cairo_rectangle(cr, x - r, y - r, 2 * r, 2 * r);
        break;
    case M_DIAMOND:
        r *= 1.2;
        cairo_move_to(cr, x, y - r);
        cairo_line_to(cr, x + r * 0.8, y);
        cairo_line_to(cr, x, y + r);
        cairo_line_to(cr, x - r * 0.8, y);
        cairo_close_path(cr);
        break;
    case M_TRIANGLE_UP:
    case M_TRIANGLE_DOWN: {
        double s = m == M_TRIANGLE_UP ? 1 : -1;
        r *= 1.25;
        cairo_move_to(cr, x, y - s * r);
        cairo_line_to(cr, x + r * 0.95, y + s * r * 0.65);
        cairo_line_to(cr, x - r * 0.95, y + s * r * 0.65);
        cairo_close_path(cr);
        break;
    }
    case M_PENTAGON:
    case M_HEXAGON:
    case M_STAR: {
        int k = m == M_PENTAGON ? 5 : m == M_HEXAGON ? 6 : 10;
        r *= 1.1;
        for (int i = 0; i < k; i++) {
            double a = -PI / 2 + 2 * PI * i / k;
            double rr = (m == M_STAR && i % 2) ? r * 0.45 : r * (m == M_STAR ? 1.25 : 1);
            if (i == 0) cairo_move_to(cr, x + rr * cos(a), y + rr * sin(a));
            else cairo_line_to(cr, x + rr * cos(a), y + rr * sin(a));
        }
        cairo_close_path(cr);
        break;
    }
    case M_CROSS:
        cairo_move_to(cr, x - r, y - r);
        cairo_line_to(cr, x + r, y + r);
        cairo_move_to(cr, x - r, y + r);
        cairo_line_to(cr, x + r, y - r);
        break;
    case M_COUNT: break;
    }
}

/* A filled marker with a white rim (a cross is stroked). */
static void draw_marker(fig *f, marker m, double x, double y, double r, rgb c)
{
    cairo_t *cr = f->cr;
    cairo_new_path(cr);
    if (m == M_CROSS) {
        marker_path(cr, m, x, y, r);
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_set_line_width(cr, r * 0.9);
        cairo_stroke_preserve(cr);
        set_rgb(f, c, 1);
        cairo_set_line_width(cr, r * 0.45);
        cairo_stroke(cr);
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
        return;
    }
    marker_path(cr, m, x, y, r);
    set_rgb(f, c, 1);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_set_line_width(cr, r * 0.35);
    cairo_stroke(cr);
}

/* A small triangle on a panel edge for a value off the scale. */
static void offscale(fig *f, double x, int up, const rect *p, rgb c, double alpha)
{
    double s = 0.28 * f->fs, y = up ? p->y + s * 0.2 : p->y + p->h - s * 0.2;
    cairo_t *cr = f->cr;
    cairo_new_path(cr);
    cairo_move_to(cr, x, y);
    cairo_line_to(cr, x - s * 0.75, y + (up ? 1 : -1) * s * 1.3);
    cairo_line_to(cr, x + s * 0.75, y + (up ? 1 : -1) * s * 1.3);
    cairo_close_path(cr);
    set_rgb(f, c, alpha);
    cairo_fill(cr);
}

static void remember(fig *f, double x, double y)
{
    if (f->np == f->npcap) {
        size_t cap = f->npcap ? f->npcap * 2 : 256;
        double *px = realloc(f->px, cap * sizeof *px);
        if (!px) return;
        f->px = px;
        double *py = realloc(f->py, cap * sizeof *py);
        if (!py) return;
        f->py = py;
        f->npcap = cap;
    }
    f->px[f->np] = x;
    f->py[f->np] = y;
    f->np++;
}

/* Liang-Barsky: clips the segment to r; 0 when nothing is left. */
static int clip_segment(const rect *r, double *x0, double *y0, double *x1, double *y1)
{
    double t0 = 0, t1 = 1, dx = *x1 - *x0, dy = *y1 - *y0;
    double p[4] = {-dx, dx, -dy, dy};
    double q[4] = {*x0 - r->x, r->x + r->w - *x0, *y0 - r->y, r->y + r->h - *y0};
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0) return 0;
            continue;
        }
        double t = q[i] / p[i];
        if (p[i] < 0) {
            if (t > t1) return 0;
            if (t > t0) t0 = t;
        } else {
            if (t < t0) return 0;
            if (t < t1) t1 = t;
        }
    }
    double ax = *x0 + t0 * dx, ay = *y0 + t0 * dy;
    *x1 = *x0 + t1 * dx;
    *y1 = *y0 + t1 * dy;
    *x0 = ax;
    *y0 = ay;
    return 1;
}

/* Sutherland-Hodgman: polygon (x, y, n points) clipped to r into (ox, oy),
 * which hold n + 4 points; returns how many are left. */
static int clip_polygon(const rect *r, const double *x, const double *y, int n, double *ox,
                        double *oy)
{
    double bx[2][12], by[2][12];
    int m = n;
    for (int i = 0; i < n; i++) {
        bx[0][i] = x[i];
        by[0][i] = y[i];
    }
    int cur = 0;
    for (int edge = 0; edge < 4 && m > 0; edge++) {
        int k = 0, nxt = 1 - cur;
        for (int i = 0; i < m; i++) {
            double ax = bx[cur][i], ay = by[cur][i];
            double cx = bx[cur][(i + 1) % m], cy = by[cur][(i + 1) % m];
            /* signed distance inside the edge: >= 0 inside */
            double da = edge == 0 ? ax - r->x : edge == 1 ? r->x + r->w - ax
                      : edge == 2 ? ay - r->y : r->y + r->h - ay;
            double dc = edge == 0 ? cx - r->x : edge == 1 ? r->x + r->w - cx
                      : edge == 2 ? cy - r->y : r->y + r->h - cy;
            if (da >= 0 && k < 12) {
                bx[nxt][k] = ax;
                by[nxt][k++] = ay;
            }
            if ((da >= 0) != (dc >= 0) && k < 12) {
                double t = da / (da - dc);
                bx[nxt][k] = ax + t * (cx - ax);
                by[nxt][k++] = ay + t * (cy - ay);
            }
        }
        m = k;
        cur = nxt;
    }
    for (int i = 0; i < m; i++) {
        ox[i] = bx[cur][i];
        oy[i] = by[cur][i];
    }
    return m;
}

/* Curve c's band, shaded: one quadrilateral per pair of steps where both
 * ends are finite, each clipped to the panel in double precision, filled
 * as one path (no seams between them). */
static void draw_band(fig *f, int c, const rect *p)
{
    const lre_plot_curve *cv = &f->d->curves[c];
    const double *lrs = f->d->lrs, *lo = cv->band_lo, *hi = cv->band_hi;
    if (!lo || !hi) return;
    rect r = {p->x - 1, p->y - 1, p->w + 2, p->h + 2};
    cairo_t *cr = f->cr;
    cairo_new_path(cr);
    for (size_t i = 0; i + 1 < f->d->n; i++) {
        if (!ax_ok(&f->x, lrs[i]) || !ax_ok(&f->x, lrs[i + 1]) || !finite(lo[i]) ||
            !finite(hi[i]) || !finite(lo[i + 1]) || !finite(hi[i + 1]))
            continue;
        double x0 = ax_map(&f->x, lrs[i]), x1 = ax_map(&f->x, lrs[i + 1]);
        double px[4] = {x0, x1, x1, x0};
        double py[4] = {ax_map(&f->yt, lo[i]), ax_map(&f->yt, lo[i + 1]), ax_map(&f->yt, hi[i + 1]),
                        ax_map(&f->yt, hi[i])};
        double ox[8], oy[8];
        int m = clip_polygon(&r, px, py, 4, ox, oy);
        if (m < 3) continue;
        cairo_move_to(cr, ox[0], oy[0]);
        for (int k = 1; k < m; k++) cairo_line_to(cr, ox[k], oy[k]);
        cairo_close_path(cr);
        for (int k = 0; k < 4; k += 3)
            if (py[k] >= p->y && py[k] <= p->y + p->h) remember(f, px[k], py[k]);
    }
    set_rgb(f, C_CURVE[c], 0.2);
    cairo_fill(cr);
}

/* Long series are reduced for drawing, never for anything computed from
 * them (the suggestions and the axes' ranges read the full arrays). The x
 * axis is cut into columns of DECIM_CELL units (a quarter point: about
 * 0.7 px of a default PNG); a polyline keeps, of the consecutive points in
 * one column, the first, the lowest, the highest and the last, in their
 * order (the M4 reduction of Jugel et al., VLDB 2014), which draws the same
 * pixels; scattered points keep one per cell of a quarter point square.
 * Only past DECIM_MIN points per column on average, so a curve of a few
 * thousand steps is drawn point for point as before. Without it cairo's
 * stroker, fed a million crossing segments, ran for minutes. */
#define DECIM_CELL 0.25
#define DECIM_MIN 2.0

static int decimate(const fig *f, const rect *p)
{
    return (double)f->d->n > DECIM_MIN * p->w / DECIM_CELL;
}

/* The pen of a broken polyline: segments clipped to r in double precision
 * (cairo's fixed-point coordinates overflow on a loss of 1e30). */
typedef struct pen {
    fig *f;
    rect r;
    const rect *p;
    int have, remember_pts;
    double px, py;
} pen;

static void pen_to(pen *q, double cx, double cy)
{
    if (q->have) {
        double x0 = q->px, y0 = q->py, x1 = cx, y1 = cy;
        if (clip_segment(&q->r, &x0, &y0, &x1, &y1)) {
            cairo_move_to(q->f->cr, x0, y0);
            cairo_line_to(q->f->cr, x1, y1);
        }
    }
    if (q->remember_pts && cy >= q->p->y && cy <= q->p->y + q->p->h) remember(q->f, cx, cy);
    q->px = cx;
    q->py = cy;
    q->have = 1;
}

/* One column's points for the M4 reduction: indices and places of its
 * first, lowest, highest and last point. */
typedef struct m4 {
    int n;
    double col;
    size_t i[4];      /* first, min, max, last */
    double x[4], y[4];
} m4;

static void m4_flush(m4 *b, pen *q)
{
    if (!b->n) return;
    int order[4] = {0, 1, 2, 3};
    for (int a = 1; a < 4; a++) /* by index: at most four, insertion sort */
        for (int c = a; c > 0 && b->i[order[c]] < b->i[order[c - 1]]; c--) {
            int t = order[c];
            order[c] = order[c - 1];
            order[c - 1] = t;
        }
    size_t last = (size_t)-1;
    for (int k = 0; k < 4; k++) {
        int j = order[k];
        if (b->i[j] == last) continue;
        last = b->i[j];
        pen_to(q, b->x[j], b->y[j]);
    }
    b->n = 0;
}

static void m4_add(m4 *b, pen *q, size_t i, double x, double y)
{
    double col = floor(x / DECIM_CELL);
    if (b->n && col != b->col) m4_flush(b, q);
    if (!b->n) {
        b->n = 1;
        b->col = col;
        for (int k = 0; k < 4; k++) {
            b->i[k] = i;
            b->x[k] = x;
            b->y[k] = y;
        }
        return;
    }
    if (y < b->y[1]) b->i[1] = i, b->x[1] = x, b->y[1] = y;
    if (y > b->y[2]) b->i[2] = i, b->x[2] = x, b->y[2] = y;
    b->i[3] = i, b->x[3] = x, b->y[3] = y;
}

/* A polyline through (lrs[i], v[i]) on axes (x, y), broken at values that
 * cannot be placed, reduced by columns when it is long (decimate). */
static void polyline(fig *f, const double *v, const axis *y, const rect *p, int remember_pts)
{
    const double *lrs = f->d->lrs;
    pen q = {f, {p->x - 1, p->y - 1, p->w + 2, p->h + 2}, p, 0, remember_pts, 0, 0};
    m4 b = {0};
    const int reduce = decimate(f, p);
    cairo_new_path(f->cr);
    for (size_t i = 0; i < f->d->n; i++) {
        if (!ax_ok(&f->x, lrs[i]) || !ax_ok(y, v[i])) {
            m4_flush(&b, &q);
            q.have = 0;
            continue;
        }
        double cx = ax_map(&f->x, lrs[i]), cy = ax_map(y, v[i]);
        if (reduce) m4_add(&b, &q, i, cx, cy);
        else pen_to(&q, cx, cy);
    }
    m4_flush(&b, &q);
    cairo_stroke(f->cr);
}

/* Which cells of one x column already hold a scattered point (decimate):
 * a bit per cell of the panel's height, cleared when the column changes.
 * A cell is a quarter point square, or a dot's radius when that is more:
 * a dot drawn within its radius of another adds a sliver at most, and a
 * dense cloud keeps its shape. */
typedef struct dots {
    unsigned char *seen;
    size_t cells;
    double col, cell;
    int on;
} dots;

static void dots_init(dots *t, const fig *f, const rect *p, double radius)
{
    memset(t, 0, sizeof *t);
    if (!decimate(f, p)) return;
    t->cell = fmax(DECIM_CELL, radius);
    t->cells = (size_t)(p->h / t->cell) + 8;
    t->seen = calloc(t->cells, 1);
    t->on = t->seen != NULL;
    t->col = NAN;
}

/* Should the point at (x, y) be drawn? Always without decimation. */
static int dots_new(dots *t, const rect *p, double x, double y)
{
    if (!t->on) return 1;
    double col = floor(x / t->cell);
    if (col != t->col) {
        memset(t->seen, 0, t->cells);
        t->col = col;
    }
    double c = floor((y - p->y) / t->cell) + 4;
    if (!(c >= 0) || c >= (double)t->cells) return 1;
    size_t k = (size_t)c;
    if (t->seen[k]) return 0;
    t->seen[k] = 1;
    return 1;
}

/* ------------------------------------------------------------- ranges */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The learning-rate axis: the recorded range, padded like matplotlib. */
static void x_range(fig *f)
{
    const lre_plot_data *d = f->d;
    int log_x = d->log_x;
    if (log_x) {
        int any = 0;
        for (size_t i = 0; i < d->n && !any; i++) any = finite(d->lrs[i]) && d->lrs[i] > 0;
        if (!any) log_x = 0;
    }
    f->x.kind = log_x ? AX_LOG : AX_LIN;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < d->n + d->num_verify; i++) { /* the candidates too */
        double v = i < d->n ? d->lrs[i] : d->verify[i - d->n].lr;
        if (!ax_ok(&f->x, v)) continue;
        double t = ax_fwd(&f->x, v);
        lo = fmin(lo, t);
        hi = fmax(hi, t);
    }
    if (!(lo <= hi)) {
        lo = 0;
        hi = 1;
    } else if (hi - lo < 1e-12 * fmax(1, fabs(hi))) {
        double w = log_x ? 0.5 : fmax(fabs(lo) * 0.1, 1e-12);
        lo -= w;
        hi += w;
    }
    f->x.t0 = lo;
    f->x.t1 = hi;
    ax_pad(&f->x, 0.025, 0.025);
}

/* The loss axis: finite values only; the top is capped at the starting
 * loss plus twice how far the loss fell (the interesting part of a curve
 * that diverges to 1e30 stays readable). */
static void ytop_range(fig *f)
{
    const lre_plot_data *d = f->d;
    double lo = INFINITY, hi = -INFINITY, start = NAN;
    for (int c = 0; c < d->num_curves; c++) {
        for (int k = 0; k < 4; k++) {
            const lre_plot_curve *cv = &d->curves[c];
            const double *v = k == 0 ? cv->raw : k == 1 ? cv->smoothed : k == 2 ? cv->band_lo
                                                                                 : cv->band_hi;
            if (!v || (k == 0 && !f->o->raw_points)) continue;
            for (size_t i = 0; i < d->n; i++) {
                if (!finite(v[i]) || !ax_ok(&f->x, d->lrs[i])) continue;
                lo = fmin(lo, v[i]);
                hi = fmax(hi, v[i]);
            }
        }
    }
    for (size_t i = 0; i < d->n && !finite(start); i++) start = f->main[i];
    f->have_top = lo <= hi;
    if (!f->have_top) {
        lo = 0;
        hi = 1;
    } else {
        /* the smoothed curve's own low point decides the fall, not a lucky batch */
        double mlo = INFINITY;
        for (size_t i = 0; i < d->n; i++)
            if (finite(f->main[i])) mlo = fmin(mlo, f->main[i]);
        double fall = finite(start) && mlo <= start ? start - mlo : 0;
        double ref = finite(start) ? start : hi;
        double cap = ref + fmax(2 * fall, 0.25 * fabs(ref) + 1e-12);
        if (hi > cap) hi = cap;
        if (hi - lo < 1e-12 * fmax(1, fabs(hi))) {
            double w = fmax(fabs(lo) * 0.05, 1e-6);
            lo -= w;
            hi += w;
        }
    }
    f->ytop_lo = lo;
    f->ytop_hi = hi;
    f->yt.kind = AX_LIN;
    f->yt.t0 = lo;
    f->yt.t1 = hi;
    ax_pad(&f->yt, 0.06, 0.06);
}

/* Change in loss per step of `main`: forward, s[i+1] - s[i] at step i (the
 * user's note: losses[1:] - losses[:-1] against lrs[:-1]; the last step has
 * none), or central, numpy.gradient over its finite runs. */
static int compute_grad(fig *f)
{
    size_t n = f->d->n;
    const double *s = f->main;
    f->grad = malloc((n ? n : 1) * sizeof *f->grad);
    if (!f->grad) return 0;
    f->have_grad = 0;
    int central = f->d->delta == LRE_PLOT_DELTA_CENTRAL;
    for (size_t i = 0; i < n; i++) {
        int l = i > 0 && finite(s[i - 1]), r = i + 1 < n && finite(s[i + 1]);
        double g = NAN;
        if (!central) {
            if (finite(s[i]) && r) g = s[i + 1] - s[i];
        } else if (finite(s[i])) {
            if (l && r) g = (s[i + 1] - s[i - 1]) / 2;
            else if (r) g = s[i + 1] - s[i];
            else if (l) g = s[i] - s[i - 1];
        }
        f->grad[i] = g;
        if (finite(g) && ax_ok(&f->x, f->d->lrs[i])) f->have_grad = 1;
    }
    return 1;
}

/* The symlog axis: the linear band is the decade of the median change, so
 * the flat start and the dive both read; at most SYMLOG_DECADES decades
 * above it are shown and larger changes sit on the edge. */
static int ybot_range(fig *f)
{
    size_t n = f->d->n, m = 0;
    double lo = 0, hi = 0;
    double *mag = malloc((n ? n : 1) * sizeof *mag);
    if (!mag) return 0;
    for (size_t i = 0; i < n; i++) {
        double g = f->grad[i];
        if (!finite(g) || !ax_ok(&f->x, f->d->lrs[i])) continue;
        if (g != 0) mag[m++] = fabs(g);
        lo = fmin(lo, g);
        hi = fmax(hi, g);
    }
    double thresh = 1;
    if (m > 0) {
        qsort(mag, m, sizeof *mag, cmp_double);
        double med = mag[m / 2];
        thresh = pow(10, floor(log10(med)));
        /* let the biggest dive (the steepest point) reach the log part */
        if (lo < 0 && -lo < thresh * 1.5) thresh = pow(10, floor(log10(-lo)) - 1);
    }
    free(mag);
    f->yb.kind = AX_SYMLOG;
    f->yb.thresh = thresh;
    double cap = thresh * pow(10, SYMLOG_DECADES);
    f->yb.t0 = ax_fwd(&f->yb, fmax(lo, -cap));
    f->yb.t1 = ax_fwd(&f->yb, fmin(hi, cap));
    /* always show the band around zero and a decade either way */
    if (f->yb.t0 > -1) f->yb.t0 = -1;
    if (f->yb.t1 < 1) f->yb.t1 = 1;
    ax_pad(&f->yb, 0.08, 0.08);
    return 1;
}

/* ------------------------------------------------------------- panels */

static void grid_and_frame(fig *f, const rect *p, const ticks *yt, const axis *ya)
{
    cairo_t *cr = f->cr;
    cairo_set_line_width(cr, 0.5);
    set_rgb(f, C_GRID, 1);
    for (int i = 0; i < f->xt.n; i++) {
        if (!f->xt.t[i].grid && !f->xt.t[i].major) continue;
        double x = ax_map(&f->x, f->xt.t[i].v);
        cairo_move_to(cr, x, p->y);
        cairo_line_to(cr, x, p->y + p->h);
    }
    for (int i = 0; i < yt->n; i++) {
        if (!yt->t[i].major && !yt->t[i].grid) continue;
        double y = ax_map(ya, yt->t[i].v);
        cairo_move_to(cr, p->x, y);
        cairo_line_to(cr, p->x + p->w, y);
    }
    cairo_stroke(cr);
}

static void frame(fig *f, const rect *p, const ticks *yt, const axis *ya, int xlabels)
{
    cairo_t *cr = f->cr;
    double tl = 0.45 * f->fs, tm = 0.25 * f->fs;
    set_rgb(f, C_AXIS, 1);
    cairo_set_line_width(cr, 0.7);
    cairo_rectangle(cr, p->x, p->y, p->w, p->h);
    cairo_stroke(cr);
    cairo_set_line_width(cr, 0.6);
    for (int i = 0; i < f->xt.n; i++) {
        double x = ax_map(&f->x, f->xt.t[i].v), l = f->xt.t[i].major || f->xt.t[i].grid ? tl : tm;
        cairo_move_to(cr, x, p->y + p->h);
        cairo_line_to(cr, x, p->y + p->h + l);
    }
    for (int i = 0; i < yt->n; i++) {
        double y = ax_map(ya, yt->t[i].v), l = yt->t[i].major || yt->t[i].grid ? tl : tm;
        cairo_move_to(cr, p->x, y);
        cairo_line_to(cr, p->x - l, y);
    }
    cairo_stroke(cr);
    double lab = 0.92 * f->fs;
    for (int i = 0; i < yt->n; i++) {
        if (!yt->t[i].major) continue;
        tick_text(f, &yt->t[i], p->x - tl - 0.3 * f->fs, ax_map(ya, yt->t[i].v), lab, 1,
                  VA_CENTER);
    }
    if (!xlabels) return;
    for (int i = 0; i < f->xt.n; i++) {
        if (!f->xt.t[i].major) continue;
        tick_text(f, &f->xt.t[i], ax_map(&f->x, f->xt.t[i].v), p->y + p->h + tl + 0.35 * f->fs,
                  lab, 0.5, VA_TOP);
    }
}

static void ylabel(fig *f, const rect *p, double x, const char *s)
{
    cairo_save(f->cr);
    cairo_translate(f->cr, x, p->y + p->h / 2);
    cairo_rotate(f->cr, -PI / 2);
    text(f, 0, 0, s, f->fs, 0, 0.5, VA_TOP, C_TEXT);
    cairo_restore(f->cr);
}

static void note(fig *f, const rect *p, const char *s)
{
    text(f, p->x + p->w / 2, p->y + p->h / 2, s, f->fs, 0, 0.5, VA_CENTER, C_SUBTLE);
}

/* The curve suggestion i marks */
static int sugg_curve(const lre_plot_data *d, size_t i)
{
    return d->per_curve ? d->suggestion_curves[i] : d->main_curve;
}

/* The first earlier suggestion at the same step and lr (and curve) as
 * suggestion i, else (size_t)-1. */
static size_t same_as_earlier(const lre_plot_data *d, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (d->suggestions[j].index == d->suggestions[i].index &&
            d->suggestions[j].lr == d->suggestions[i].lr &&
            sugg_curve(d, j) == sugg_curve(d, i))
            return j;
    return (size_t)-1;
}

/* Whether the group led by suggestion i holds the chosen one. */
static int group_has_chosen(const lre_plot_data *d, size_t i)
{
    if (d->chosen >= d->num_suggestions) return 0;
    return d->chosen == i || same_as_earlier(d, d->chosen) == i;
}

static rgb suggestion_colour(const lre_plot_data *d, size_t i, marker *m)
{
    if (i == d->chosen) {
        if (m) *m = M_CIRCLE;
        return C_CHOSEN;
    }
    if (d->per_curve) { /* a grid: its curve's colour */
        if (m) *m = M_CIRCLE;
        return C_CURVE[sugg_curve(d, i)];
    }
    size_t k = i > d->chosen && d->chosen < d->num_suggestions ? i - 1 : i;
    if (m) *m = SUGGEST_MARKERS[k % N_SUGGEST_MARKERS];
    return C_SUGGEST[k % N_SUGGEST_COLOURS];
}

/* Where a point of the top panel goes: clamped onto the edge when it is off
 * the scale (*off = 1 above, -1 below, 0 on it). */
static double top_y_inset(fig *f, double v, int *off, double inset)
{
    *off = 0;
    if (!finite(v) || v > ax_inv(&f->yt, f->yt.t1)) {
        *off = 1;
        return f->top.y + inset;
    }
    if (v < ax_inv(&f->yt, f->yt.t0)) {
        *off = -1;
        return f->top.y + f->top.h - inset;
    }
    return ax_map(&f->yt, v);
}

static double top_y(fig *f, double v, int *off) { return top_y_inset(f, v, off, 0); }


/* The chosen suggestion as a dashed vertical line across panel p. */
static void chosen_line(fig *f, const rect *p)
{
    const lre_plot_data *d = f->d;
    cairo_t *cr = f->cr;
    if (d->chosen >= d->num_suggestions || !ax_ok(&f->x, d->suggestions[d->chosen].lr)) return;
    double x = ax_map(&f->x, d->suggestions[d->chosen].lr);
    double dash[] = {2.5, 2};
    cairo_set_dash(cr, dash, 2, 0);
    cairo_set_line_width(cr, 0.8);
    set_rgb(f, C_CHOSEN, 0.55);
    cairo_move_to(cr, x, p->y);
    cairo_line_to(cr, x, p->y + p->h);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
}

static void draw_top(fig *f)
{
    const lre_plot_data *d = f->d;
    const rect *p = &f->top;
    cairo_t *cr = f->cr;
    grid_and_frame(f, p, &f->ytt, &f->yt);
    if (!f->have_top) note(f, p, "no finite loss to draw");
    cairo_save(cr);
    cairo_rectangle(cr, p->x, p->y, p->w, p->h);
    cairo_clip(cr);
    chosen_line(f, p); /* through both panels */
    for (int c = d->num_curves - 1; c >= 0; c--) draw_band(f, c, p);
    double rr = d->n <= 200 ? 0.24 * f->fs : fmax(0.08 * f->fs, 0.24 * f->fs * sqrt(200.0 / d->n));
    /* raw points behind, the second curve behind the first; then the
     * values off the scale as triangles on the top edge */
    for (int c = d->num_curves - 1; c >= 0 && f->o->raw_points; c--) {
        const double *v = d->curves[c].raw;
        if (!v) continue;
        dots seen;
        dots_init(&seen, f, p, rr);
        cairo_new_path(cr);
        for (size_t i = 0; i < d->n; i++) {
            if (!ax_ok(&f->x, d->lrs[i])) continue;
            double x = ax_map(&f->x, d->lrs[i]);
            int off;
            double y = top_y(f, v[i], &off);
            if (off || !dots_new(&seen, p, x, y)) continue;
            cairo_new_sub_path(cr);
            cairo_arc(cr, x, y, rr, 0, 2 * PI);
            remember(f, x, y);
        }
        set_rgb(f, C_CURVE[c], 0.33);
        cairo_fill(cr);
        /* a triangle on the edge per value off the scale (one per column
         * and edge when decimating: they sit at the same two heights) */
        free(seen.seen);
        dots_init(&seen, f, p, 0);
        for (size_t i = 0; i < d->n; i++) {
            int off;
            if (!ax_ok(&f->x, d->lrs[i])) continue;
            top_y(f, v[i], &off);
            double x = ax_map(&f->x, d->lrs[i]);
            if (off && dots_new(&seen, p, x, off > 0 ? p->y : p->y + p->h))
                offscale(f, x, off > 0, p, C_CURVE[c], 0.8);
        }
        free(seen.seen);
    }
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    for (int c = d->num_curves - 1; c >= 0; c--) {
        const double *v = d->curves[c].smoothed;
        if (!v) continue;
        set_rgb(f, C_CURVE[c], 1);
        cairo_set_line_width(cr, c == d->main_curve ? (d->per_curve ? 2.2 : 1.5) : 1.2);
        polyline(f, v, &f->yt, p, 1);
    }
    cairo_restore(cr);
    /* suggestions, then the stop, on top of everything (unclipped: a marker
     * on the edge is drawn whole) */
    for (size_t i = d->num_suggestions; i-- > 0;) {
        const lre_plot_suggestion *s = &d->suggestions[i];
        if (!ax_ok(&f->x, s->lr) || !ax_contains(&f->x, s->lr)) continue;
        if (same_as_earlier(d, i) != (size_t)-1) continue; /* drawn with its group */
        marker m;
        int chosen = group_has_chosen(d, i);
        rgb col = suggestion_colour(d, chosen ? d->chosen : i, &m);
        double x = ax_map(&f->x, s->lr);
        int off;
        double r = (chosen ? 0.5 : 0.42) * f->fs;
        const lre_plot_curve *sc = &d->curves[sugg_curve(d, i)];
        const double *sv = sc->smoothed ? sc->smoothed : sc->raw;
        double y = top_y_inset(f, s->index < d->n ? sv[s->index] : NAN, &off, r);
        draw_marker(f, m, x, y, r, col);
        remember(f, x, y);
    }
    size_t last = d->n - 1;
    if (!d->per_curve && ax_ok(&f->x, d->lrs[last])) {
        int off;
        double x = ax_map(&f->x, d->lrs[last]);
        double v = f->main[last];
        double y = top_y_inset(f, v, &off, 0.6 * f->fs);
        draw_marker(f, M_CROSS, x, y, 0.42 * f->fs, C_STOP);
        remember(f, x, y);
    }
}

static void draw_bottom(fig *f)
{
    const lre_plot_data *d = f->d;
    const rect *p = &f->bot;
    cairo_t *cr = f->cr;
    grid_and_frame(f, p, &f->ybt, &f->yb);
    if (!f->have_grad) {
        note(f, p, d->n < 2 ? "one point: no change to show" : "no finite change to show");
        return;
    }
    cairo_save(cr);
    cairo_rectangle(cr, p->x, p->y, p->w, p->h);
    cairo_clip(cr);
    /* zero, and the linear band of the symlog scale, shaded */
    double yz = ax_map(&f->yb, 0);
    double y0 = ax_map(&f->yb, f->yb.thresh), y1 = ax_map(&f->yb, -f->yb.thresh);
    cairo_rectangle(cr, p->x, fmin(y0, y1), p->w, fabs(y1 - y0));
    cairo_set_source_rgba(cr, 0, 0, 0, 0.035);
    cairo_fill(cr);
    cairo_set_line_width(cr, 0.6);
    set_rgb(f, C_AXIS, 0.6);
    cairo_move_to(cr, p->x, yz);
    cairo_line_to(cr, p->x + p->w, yz);
    cairo_stroke(cr);
    chosen_line(f, p);
    double cap = ax_inv(&f->yb, f->yb.t1), capl = ax_inv(&f->yb, f->yb.t0);
    /* the line through the values ('o-' in the user's note); clipped at the
     * panel, with the values off the scale marked on its edge */
    const rgb gc = C_CURVE[d->main_curve];
    set_rgb(f, gc, 0.9);
    cairo_set_line_width(cr, 0.9);
    polyline(f, f->grad, &f->yb, p, 0);
    double rr = d->n <= 200 ? 0.19 * f->fs : 0.1 * f->fs;
    dots seen;
    dots_init(&seen, f, p, rr);
    cairo_new_path(cr);
    for (size_t i = 0; i < d->n; i++) {
        double g = f->grad[i];
        if (!finite(g) || !ax_ok(&f->x, d->lrs[i]) || g > cap || g < capl) continue;
        double x = ax_map(&f->x, d->lrs[i]), y = ax_map(&f->yb, g);
        if (!dots_new(&seen, p, x, y)) continue;
        cairo_new_sub_path(cr);
        cairo_arc(cr, x, y, rr, 0, 2 * PI);
    }
    set_rgb(f, gc, 1);
    cairo_fill(cr);
    free(seen.seen);
    dots_init(&seen, f, p, 0);
    for (size_t i = 0; i < d->n; i++) {
        double g = f->grad[i];
        if (!finite(g) || !ax_ok(&f->x, d->lrs[i]) || !(g > cap || g < capl)) continue;
        double x = ax_map(&f->x, d->lrs[i]);
        if (dots_new(&seen, p, x, g > cap ? p->y : p->y + p->h))
            offscale(f, x, g > cap, p, gc, 0.8);
    }
    free(seen.seen);
    cairo_restore(cr);
    if (d->chosen < d->num_suggestions) {
        const lre_plot_suggestion *s = &d->suggestions[d->chosen];
        double g = s->index < d->n ? f->grad[s->index] : NAN;
        if (ax_ok(&f->x, s->lr) && ax_contains(&f->x, s->lr) && finite(g)) {
            double x = ax_map(&f->x, s->lr);
            double y = g > cap ? p->y : g < capl ? p->y + p->h : ax_map(&f->yb, g);
            draw_marker(f, M_CIRCLE, x, y, 0.45 * f->fs, C_CHOSEN);
            /* its name beside it, above when there is room (the curve runs
             * through its sides), on the side with room */
            const char *name = s->name ? s->name : "";
            double ls = 0.85 * f->fs, tw = text_w(f, name, ls, 1);
            int right = x + 0.6 * f->fs + tw < p->x + p->w - 2;
            double ty = y - 1.0 * f->fs;
            if (ty < p->y + 0.6 * f->fs) ty = y + 1.0 * f->fs;
            text_halo(f, right ? x + 0.5 * f->fs : x - 0.5 * f->fs, ty, name, ls, 1,
                      right ? 0 : 1, VA_CENTER, C_CHOSEN);        }
    }
}

/* ------------------------------------------------------- verification */

/* The score axis of the verification panel: the finite scores and their
 * spreads, padded; none finite: 0..1 */
static void yver_range(fig *f)
{
    const lre_plot_data *d = f->d;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < d->num_verify; i++) {
        const lre_plot_point *q = &d->verify[i];
        const double v[3] = {q->y, q->lo, q->hi};
        for (int k = 0; k < 3; k++)
            if (finite(v[k]) && (k == 0 || finite(q->y))) {
                lo = fmin(lo, v[k]);
                hi = fmax(hi, v[k]);
            }
    }
    if (!(lo <= hi)) {
        lo = 0;
        hi = 1;
    } else if (hi - lo < 1e-12 * fmax(1, fabs(hi))) {
        double w = fmax(fabs(lo) * 0.05, 1e-6);
        lo -= w;
        hi += w;
    }
    f->yv.kind = AX_LIN;
    f->yv.t0 = lo;
    f->yv.t1 = hi;
    ax_pad(&f->yv, 0.2, 0.2); /* room for the winner's ring */
}

/* Each candidate at its score with its spread as a whisker; a candidate
 * without a finite score (every trial diverged) as a triangle on the top
 * edge; the winner ringed in the chosen colour. */
static void draw_verify(fig *f)
{
    const lre_plot_data *d = f->d;
    const rect *p = &f->ver;
    cairo_t *cr = f->cr;
    grid_and_frame(f, p, &f->yvt, &f->yv);
    chosen_line(f, p);
    double r = 0.3 * f->fs, cap = 0.3 * f->fs;
    for (size_t i = 0; i < d->num_verify; i++) {
        const lre_plot_point *q = &d->verify[i];
        if (!ax_ok(&f->x, q->lr)) continue;
        double x = ax_map(&f->x, q->lr);
        if (!finite(q->y)) {
            offscale(f, x, 1, p, C_STOP, 0.9);
            continue;
        }
        if (finite(q->lo) && finite(q->hi)) {
            double y0 = ax_map(&f->yv, q->lo), y1 = ax_map(&f->yv, q->hi);
            set_rgb(f, C_CURVE[d->main_curve], 0.8);
            cairo_set_line_width(cr, 0.8);
            cairo_move_to(cr, x, y0);
            cairo_line_to(cr, x, y1);
            cairo_move_to(cr, x - cap, y0);
            cairo_line_to(cr, x + cap, y0);
            cairo_move_to(cr, x - cap, y1);
            cairo_line_to(cr, x + cap, y1);
            cairo_stroke(cr);
        }
        double y = ax_map(&f->yv, q->y);
        cairo_new_path(cr);
        cairo_arc(cr, x, y, r, 0, 2 * PI);
        set_rgb(f, C_CURVE[d->main_curve], 1);
        cairo_fill(cr);
        if (i == d->verify_winner) {
            cairo_new_path(cr);
            cairo_arc(cr, x, y, 2.2 * r, 0, 2 * PI);
            set_rgb(f, C_CHOSEN, 1);
            cairo_set_line_width(cr, 1.1);
            cairo_stroke(cr);
        }
    }
}

/* ------------------------------------------------------------- legend */

typedef enum swatch { SW_CURVE, SW_BAND, SW_MARKER } swatch;

typedef struct entry {
    swatch kind;
    rgb colour;
    marker m;
    int curve;
    int bold;
    char label[160];
} entry;

#define MAX_ENTRIES 24

/* A legend of n entries in ncol columns (filled column by column): its
 * size, and each column's width. */
static void legend_size(fig *f, const entry *e, int n, int ncol, double *bw, double *bh,
                        double colw[2])
{
    double ls = 0.85 * f->fs, row = 1.45 * ls, sw = 1.9 * f->fs, pad = 0.5 * f->fs;
    int rows = (n + ncol - 1) / ncol;
    *bw = pad * 2;
    for (int c = 0; c < ncol; c++) {
        double w = 0;
        for (int i = c * rows; i < n && i < (c + 1) * rows; i++)
            w = fmax(w, text_w(f, e[i].label, ls, e[i].bold));
        colw[c] = sw + 0.5 * f->fs + w;
        *bw += colw[c] + (c ? 1.2 * f->fs : 0);
    }
    *bh = pad * 1.4 + rows * row;
}

static void draw_legend(fig *f, const entry *e, int n)
{
    if (n == 0) return;
    double ls = 0.85 * f->fs, row = 1.45 * ls, sw = 1.9 * f->fs, pad = 0.5 * f->fs;
    const rect *p = &f->top;
    double m = 0.45 * f->fs;
    /* matplotlib's loc="best": the place, of six, that covers the fewest
     * points; in one column, or two when that covers fewer */
    /* ties go to the upper places first, then one column */
    static const double rank[6] = {0, 1, 3, 4, 2, 5};
    int best = 0, best_cols = 1;
    size_t best_count = (size_t)-1;
    double best_rank = 1e9;
    double bw = 0, bh = 0, colw[2] = {0, 0};
    for (int ncol = 1; ncol <= (n > 3 ? 2 : 1); ncol++) {
        double w, h, cw[2];
        legend_size(f, e, n, ncol, &w, &h, cw);
        if (w > p->w - 2 * m || h > p->h - 2 * m) continue;
        double cand[6][2] = {
            {p->x + m, p->y + m},                        /* upper left */
            {p->x + p->w - m - w, p->y + m},             /* upper right */
            {p->x + m, p->y + p->h - m - h},             /* lower left */
            {p->x + p->w - m - w, p->y + p->h - m - h},  /* lower right */
            {p->x + (p->w - w) / 2, p->y + m},           /* upper centre */
            {p->x + (p->w - w) / 2, p->y + p->h - m - h}, /* lower centre */
        };
        for (int c = 0; c < 6; c++) {
            size_t count = 0;
            for (size_t i = 0; i < f->np; i++)
                if (f->px[i] >= cand[c][0] - 2 && f->px[i] <= cand[c][0] + w + 2 &&
                    f->py[i] >= cand[c][1] - 2 && f->py[i] <= cand[c][1] + h + 2)
                    count++;
            double rk = rank[c] + (ncol - 1) * 0.5;
            if (count < best_count || (count == best_count && rk < best_rank)) {
                best_count = count;
                best_rank = rk;
                best = c;
                best_cols = ncol;
                bw = w;
                bh = h;
                colw[0] = cw[0];
                colw[1] = cw[1];
            }
        }
    }
    if (best_count == (size_t)-1) { /* a canvas too small for any: top left, one column */
        legend_size(f, e, n, 1, &bw, &bh, colw);
        best = 0;
        best_cols = 1;
    }
    double bx = best == 0 || best == 2 ? p->x + m
              : best == 1 || best == 3 ? p->x + p->w - m - bw
                                       : p->x + (p->w - bw) / 2;
    double by = best == 0 || best == 1 || best == 4 ? p->y + m : p->y + p->h - m - bh;
    int rows = (n + best_cols - 1) / best_cols;
    cairo_t *cr = f->cr;
    cairo_rectangle(cr, bx, by, bw, bh);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.88);
    cairo_fill_preserve(cr);
    cairo_set_source_rgba(cr, 0.75, 0.75, 0.75, 1);
    cairo_set_line_width(cr, 0.5);
    cairo_stroke(cr);
    for (int i = 0; i < n; i++) {
        int col = i / rows, r = i % rows;
        double cy = by + pad * 0.7 + row * (r + 0.5);
        double sx = bx + pad + (col ? colw[0] + 1.2 * f->fs : 0);
        if (e[i].kind == SW_CURVE) {
            double rr = 0.24 * f->fs;
            const lre_plot_curve *cv = &f->d->curves[e[i].curve];
            /* the raw points' dots where the figure draws them */
            for (int k = 0; k < 3 && cv->raw && f->o->raw_points; k++) {
                cairo_new_sub_path(cr);
                cairo_arc(cr, sx + sw * (0.17 + 0.33 * k), cy + (k == 1 ? -0.28 : 0.22) * f->fs, rr,
                          0, 2 * PI);
            }
            set_rgb(f, e[i].colour, 0.4);
            cairo_fill(cr);
            set_rgb(f, e[i].colour, 1);
            cairo_set_line_width(cr, e[i].curve == f->d->main_curve
                                         ? (f->d->per_curve ? 2.2 : 1.5)
                                         : 1.2);
            cairo_move_to(cr, sx, cy);
            cairo_line_to(cr, sx + sw, cy);
            cairo_stroke(cr);
        } else if (e[i].kind == SW_BAND) {
            cairo_rectangle(cr, sx, cy - 0.32 * f->fs, sw, 0.64 * f->fs);
            set_rgb(f, e[i].colour, 0.2);
            cairo_fill(cr);
        } else {
            draw_marker(f, e[i].m, sx + sw / 2, cy, 0.42 * f->fs, e[i].colour);
        }
        text(f, sx + sw + 0.5 * f->fs, cy, e[i].label, ls, e[i].bold, 0, VA_CENTER, C_TEXT);
    }
}

/* Why the test ended, in words: the finder's codes ("non_finite") never
 * reach the reader. */
static void stop_label(const lre_plot_data *d, char *out, size_t size)
{
    size_t planned = d->planned_steps ? d->planned_steps : d->n;
    const char *why = d->stop_reason && *d->stop_reason ? d->stop_reason : NULL;
    const char *s = d->n == 1 ? "" : "s";
    if (!why) {
        snprintf(out, size, "last step %zu/%zu", d->n, planned);
    } else if (strcmp(why, "completed") == 0) {
        snprintf(out, size, "completed %zu step%s", d->n, s);
    } else if (strcmp(why, "external") == 0 || strcmp(why, "imported") == 0) {
        snprintf(out, size, "imported curve, %zu step%s", d->n, s);
    } else if (strcmp(why, "stopped") == 0) {
        snprintf(out, size, "stopped at step %zu/%zu", d->n, planned);
    } else {
        char words[96];
        if (strcmp(why, "non_finite") == 0 || strcmp(why, "non-finite") == 0 ||
            strcmp(why, "nonfinite") == 0)
            snprintf(words, sizeof words, "loss not finite");
        else if (strcmp(why, "max_loss") == 0)
            snprintf(words, sizeof words, "loss too high");
        else {
            /* another rule's code: its underscores as spaces ("too_high") */
            snprintf(words, sizeof words, "%s", why);
            utf8_tail(words);
            for (char *c = words; *c; c++)
                if (*c == '_') *c = ' ';
        }
        snprintf(out, size, "stopped: %s at step %zu/%zu", words, d->n, planned);
    }
    utf8_tail(out);
}

static int legend_entries(fig *f, entry *e)
{
    const lre_plot_data *d = f->d;
    int n = 0;
    for (int c = 0; c < d->num_curves && n < MAX_ENTRIES - 2; c++, n++) {
        memset(&e[n], 0, sizeof e[n]);
        e[n].kind = SW_CURVE;
        e[n].colour = C_CURVE[c];
        e[n].curve = c;
        snprintf(e[n].label, sizeof e[n].label, "%s",
                 d->curves[c].label && *d->curves[c].label ? d->curves[c].label
                 : c == 0                                  ? "loss"
                                                           : "another curve");
        e[n].bold = d->per_curve && c == d->main_curve;
        utf8_tail(e[n].label);
        if (d->curves[c].band_lo && d->curves[c].band_hi) {
            n++;
            memset(&e[n], 0, sizeof e[n]);
            e[n].kind = SW_BAND;
            e[n].colour = C_CURVE[c];
            e[n].curve = c;
            snprintf(e[n].label, sizeof e[n].label, "%s",
                     d->curves[c].band_label && *d->curves[c].band_label ? d->curves[c].band_label
                                                                         : "min\xe2\x80\x93max");
            utf8_tail(e[n].label);
        }
    }
    /* suggestions at the same point share one entry ("steepest, steep
     * 2.6e-3"): their markers sit on top of each other anyway */
    for (size_t i = 0; i < d->num_suggestions && n < MAX_ENTRIES - 1; i++) {
        const lre_plot_suggestion *s = &d->suggestions[i];
        if (same_as_earlier(d, i) != (size_t)-1) continue;
        char names[120] = "", lr[32];
        size_t used = 0;
        for (size_t j = i; j < d->num_suggestions; j++) {
            if (j != i && same_as_earlier(d, j) != i) continue;
            const char *nm = d->suggestions[j].name ? d->suggestions[j].name : "?";
            int k = snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", nm);
            if (k < 0 || (size_t)k >= sizeof names - used) break;
            used += (size_t)k;
        }
        utf8_tail(names);
        fmt_lr(lr, sizeof lr, s->lr);
        memset(&e[n], 0, sizeof e[n]);
        e[n].kind = SW_MARKER;
        e[n].colour = suggestion_colour(d, i, &e[n].m);
        e[n].bold = group_has_chosen(d, i);
        if (e[n].bold && d->chosen != i) e[n].colour = suggestion_colour(d, d->chosen, &e[n].m);
        snprintf(e[n].label, sizeof e[n].label, "%s %s", names, lr);
        utf8_tail(e[n].label);
        n++;
    }
    if (d->per_curve) return n; /* a grid: each curve stopped on its own */
    memset(&e[n], 0, sizeof e[n]);
    e[n].kind = SW_MARKER;
    e[n].colour = C_STOP;
    e[n].m = M_CROSS;
    stop_label(d, e[n].label, sizeof e[n].label);
    return n + 1;
}

/* ------------------------------------------------------------ drawing */

static double max_tick_w(fig *f, const ticks *t, double size)
{
    double w = 0;
    for (int i = 0; i < t->n; i++)
        if (t->t[i].major) w = fmax(w, tick_w(f, &t->t[i], size));
    return w;
}

static int draw(fig *f)
{
    const lre_plot_data *d = f->d;
    cairo_t *cr = f->cr;
    double fs = f->fs, pad = 0.9 * fs;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);

    /* vertical layout: title, top panel, bottom panel, x labels */
    char title[512], subtitle[1024];
    snprintf(title, sizeof title, "%s", d->title && *d->title ? d->title
                                                             : "Learning-rate range test");
    snprintf(subtitle, sizeof subtitle, "%s", d->subtitle ? d->subtitle : "");
    utf8_tail(title);
    utf8_tail(subtitle);
    double ts = 1.15 * fs, ss = 0.88 * fs;
    double y = pad * 0.8;
    double title_y = y;
    y += ts * 1.05;
    double subtitle_y = y + 0.3 * fs;
    if (*subtitle) y += 0.3 * fs + ss * 1.1;
    y += 0.8 * fs;
    double xlab_h = 1.05 * fs, xtick_h = 0.45 * fs + 0.35 * fs + 1.25 * fs;
    double bottom = f->H - pad * 0.8 - xlab_h - 0.4 * fs - xtick_h;
    double gap = 0.7 * fs;
    const int ver = d->num_verify > 0;
    double area = bottom - y - gap * (ver ? 2 : 1);
    if (area < 4 * fs) area = 4 * fs; /* tiny canvases: overlap rather than fail */
    f->top.y = y;
    f->top.h = area * (ver ? 0.5 : 0.63);
    f->bot.y = y + f->top.h + gap;
    f->bot.h = ver ? area * 0.25 : area - f->top.h;
    if (ver) {
        f->ver.y = f->bot.y + f->bot.h + gap;
        f->ver.h = area - f->top.h - f->bot.h;
    }

    if (!compute_grad(f)) return 0;
    x_range(f);
    ytop_range(f);
    if (!ybot_range(f)) return 0;
    f->yt.p0 = f->top.y + f->top.h;
    f->yt.p1 = f->top.y;
    f->yb.p0 = f->bot.y + f->bot.h;
    f->yb.p1 = f->bot.y;
    if (ver) {
        yver_range(f);
        f->yv.p0 = f->ver.y + f->ver.h;
        f->yv.p1 = f->ver.y;
        lin_ticks(&f->yvt, &f->yv, (int)fmax(4, fmin(5, f->ver.h / (1.6 * fs))));
    }
    /* about one label per 2.6 font sizes of height (never fewer than 4) */
    lin_ticks(&f->ytt, &f->yt, (int)fmax(4, fmin(7, f->top.h / (2.6 * fs))));
    symlog_ticks(&f->ybt, &f->yb, (int)fmax(4, f->bot.h / (1.5 * fs)));

    /* horizontal layout: y label, tick labels, panels */
    double lab = 0.92 * fs;
    double ylab_x = pad * 0.6;
    double tickw = fmax(max_tick_w(f, &f->ytt, lab), max_tick_w(f, &f->ybt, lab));
    if (ver) tickw = fmax(tickw, max_tick_w(f, &f->yvt, lab));
    double left = ylab_x + 1.3 * fs + tickw + 0.45 * fs + 0.3 * fs;
    double right = f->W - pad * 1.2;
    if (right - left < 4 * fs) right = left + 4 * fs;
    f->top.x = f->bot.x = f->ver.x = left;
    f->top.w = f->bot.w = f->ver.w = right - left;
    f->x.p0 = left;
    f->x.p1 = right;
    /* the span of t0..t1 on the x axis is pad-adjusted already */
    /* as many labels as fit side by side, from 12 down (never fewer than 4) */
    for (int target = 12;; target--) {
        if (f->x.kind == AX_LOG) log_ticks(&f->xt, &f->x, target);
        else lin_ticks(&f->xt, &f->x, target);
        double need = 0;
        for (int i = 0; i < f->xt.n; i++)
            if (f->xt.t[i].major) need += tick_w(f, &f->xt.t[i], lab) + 0.8 * fs;
        if (need <= f->top.w || target <= MIN_LABELS) break;
    }

    draw_top(f);
    frame(f, &f->top, &f->ytt, &f->yt, 0);
    draw_bottom(f);
    frame(f, &f->bot, &f->ybt, &f->yb, !ver);
    if (ver) {
        draw_verify(f);
        frame(f, &f->ver, &f->yvt, &f->yv, 1);
        const char *vl = d->verify_label && *d->verify_label ? d->verify_label : "score";
        char vlab[160];
        snprintf(vlab, sizeof vlab, "%s", vl);
        utf8_tail(vlab);
        ellipsize(f, vlab, sizeof vlab, fs, 0, f->ver.h);
        ylabel(f, &f->ver, ylab_x, vlab);
    }
    ylabel(f, &f->top, ylab_x, "loss");
    {
        /* the bottom label says which difference it is, as long as fits */
        static const char *const fwd[] = {"\xce\x94 loss per step (forward difference)",
                                          "\xce\x94 loss (forward difference)",
                                          "\xce\x94 loss (forward)", "\xce\x94 loss, fwd"};
        static const char *const cen[] = {"\xce\x94 loss per step (central difference)",
                                          "\xce\x94 loss (central difference)",
                                          "\xce\x94 loss (central)", "\xce\x94 loss, ctr"};
        const char *const *lbl = d->delta == LRE_PLOT_DELTA_CENTRAL ? cen : fwd;
        int k = 0;
        while (k < 3 && text_w(f, lbl[k], fs, 0) > f->bot.h) k++;
        ylabel(f, &f->bot, ylab_x, lbl[k]);
    }

    entry e[MAX_ENTRIES];
    int ne = legend_entries(f, e);
    draw_legend(f, e, ne);

    /* axis label, title */
    text(f, (left + right) / 2, f->H - pad * 0.8, f->x.kind == AX_LOG ? "learning rate (log scale)"
                                                                      : "learning rate",
         fs, 0, 0.5, VA_BASE, C_TEXT);
    ellipsize(f, title, sizeof title, ts, 1, f->W - 2 * pad);
    text(f, pad, title_y, title, ts, 1, 0, VA_TOP, C_TEXT);
    if (*subtitle) {
        ellipsize(f, subtitle, sizeof subtitle, ss, 0, f->W - 2 * pad);
        text(f, pad, subtitle_y, subtitle, ss, 0, 0, VA_TOP, C_SUBTLE);
    }
    return 1;
}

/* ----------------------------------------------------------- the API */

lre_plot_data lre_plot_data_default(void)
{
    lre_plot_data d;
    memset(&d, 0, sizeof d);
    d.log_x = 1;
    d.chosen = 0;
    d.verify_winner = (size_t)-1;
    return d;
}

lre_plot_opts lre_plot_opts_default(void)
{
    lre_plot_opts o;
    memset(&o, 0, sizeof o);
    o.format = LRE_PLOT_AUTO;
    o.raw_points = 1;
    return o;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    if (m > n) return 0;
    for (size_t i = 0; i < m; i++) {
        char c = s[n - m + i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != suffix[i]) return 0;
    }
    return 1;
}

lre_plot_format lre_plot_format_of(const char *path)
{
    if (!path) return LRE_PLOT_AUTO;
    if (ends_with(path, ".png")) return LRE_PLOT_PNG;
    if (ends_with(path, ".svg")) return LRE_PLOT_SVG;
    if (ends_with(path, ".pdf")) return LRE_PLOT_PDF;
    return LRE_PLOT_AUTO;
}

const char *lre_plot_format_name(lre_plot_format f)
{
    switch (f) {
    case LRE_PLOT_PNG: return "png";
    case LRE_PLOT_SVG: return "svg";
    case LRE_PLOT_PDF: return "pdf";
    case LRE_PLOT_AUTO: break;
    }
    return "auto";
}

/* 0 when s is valid UTF-8 (no overlong forms, surrogates or code points
 * past U+10FFFF) holding no noncharacter (U+FDD0..U+FDEF, U+xxFFFE and
 * U+xxFFFF, which cairo refuses too), else the 1-based position of the
 * byte where the first bad sequence starts. cairo refuses such text with
 * "input string not valid UTF-8" halfway through drawing; check() names
 * the field instead. */
static size_t utf8_bad(const char *s)
{
    const unsigned char *b = (const unsigned char *)s, *p = b;
    while (*p) {
        unsigned c = *p, cp;
        int n;
        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) n = 1;
        else if (c >= 0xE0 && c <= 0xEF) n = 2;
        else if (c >= 0xF0 && c <= 0xF4) n = 3;
        else return (size_t)(p - b) + 1;
        cp = c & (0x3Fu >> n);
        for (int i = 1; i <= n; i++) { /* stops at the NUL: 0 is no continuation byte */
            if ((p[i] & 0xC0) != 0x80) return (size_t)(p - b) + 1;
            cp = cp << 6 | (p[i] & 0x3Fu);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0xFDD0 && cp <= 0xFDEF) ||
            (cp & 0xFFFE) == 0xFFFE)
            return (size_t)(p - b) + 1;
        p += n + 1;
    }
    return 0;
}

/* A printable excerpt of s for a message: ASCII as it is, other bytes as
 * \xHH, at most 40 bytes of s. */
static const char *shown(const char *s, char *out, size_t cap)
{
    size_t k = 0, i = 0;
    for (; s[i] && i < 40 && k + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F && c != '\\') out[k++] = (char)c;
        else k += (size_t)snprintf(out + k, cap - k, "\\x%02X", c);
    }
    if (s[i] && k + 4 < cap) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
    return out;
}

/* The text fields that reach the figure (and the SVG's and PDF's
 * metadata) must be valid UTF-8. */
static lre_status check_text(const lre_plot_data *d, char *errbuf, size_t size)
{
    static const char *const nth[LRE_PLOT_MAX_CURVES] = {"first", "second", "third", "fourth",
                                                         "fifth", "sixth", "seventh", "eighth"};
    const struct { const char *s, *name; } top[] = {
        {d->title, "title"}, {d->subtitle, "subtitle"}, {d->stop_reason, "stop_reason"},
        {d->verify_label, "verify_label"}};
    size_t bad;
    for (size_t i = 0; i < sizeof top / sizeof *top; i++)
        if (top[i].s && (bad = utf8_bad(top[i].s)))
            return fail(errbuf, size, LRE_EINVAL, "plot: %s is not valid UTF-8 (byte %zu)",
                        top[i].name, bad);
    for (int c = 0; c < d->num_curves; c++) {
        if (d->curves[c].label && (bad = utf8_bad(d->curves[c].label)))
            return fail(errbuf, size, LRE_EINVAL, "plot: the %s curve's label is not valid "
                        "UTF-8 (byte %zu)", nth[c], bad);
        if (d->curves[c].band_label && (bad = utf8_bad(d->curves[c].band_label)))
            return fail(errbuf, size, LRE_EINVAL, "plot: the %s curve's band_label is not "
                        "valid UTF-8 (byte %zu)", nth[c], bad);
    }
    for (size_t i = 0; i < d->num_suggestions; i++) {
        const char *nm = d->suggestions[i].name;
        char sh[200];
        if (nm && (bad = utf8_bad(nm)))
            return fail(errbuf, size, LRE_EINVAL, "plot: the name of suggestion \"%s\" is not "
                        "valid UTF-8 (byte %zu)", shown(nm, sh, sizeof sh), bad);
    }
    return LRE_OK;
}

static lre_status check(const lre_plot_data *d, const lre_plot_opts *o, lre_plot_format fmt,
                        char *errbuf, size_t size)
{
    if (!d) return fail(errbuf, size, LRE_EINVAL, "plot: no data");
    if (d->n == 0) return fail(errbuf, size, LRE_EINVAL, "plot: the curve has no points");
    if (!d->lrs) return fail(errbuf, size, LRE_EINVAL, "plot: lrs is NULL");
    if (d->num_curves < 1 || d->num_curves > LRE_PLOT_MAX_CURVES)
        return fail(errbuf, size, LRE_EINVAL, "plot: num_curves is %d, expected 1 to %d",
                    d->num_curves, LRE_PLOT_MAX_CURVES);
    if (d->main_curve < 0 || d->main_curve >= d->num_curves)
        return fail(errbuf, size, LRE_EINVAL, "plot: main_curve is %d, expected 0 to %d",
                    d->main_curve, d->num_curves - 1);
    if (d->num_verify && !d->verify)
        return fail(errbuf, size, LRE_EINVAL, "plot: %zu verify points but the array is NULL",
                    d->num_verify);
    if (d->num_verify && d->verify_winner != (size_t)-1 && d->verify_winner >= d->num_verify)
        return fail(errbuf, size, LRE_EINVAL, "plot: verify_winner is %zu, but there are %zu "
                    "verify points", d->verify_winner, d->num_verify);
    for (int c = 0; c < d->num_curves; c++)
        if (!d->curves[c].raw && !d->curves[c].smoothed)
            return fail(errbuf, size, LRE_EINVAL, "plot: curve %d has neither raw nor smoothed "
                        "values", c);
    for (int c = 0; c < d->num_curves; c++)
        if (!d->curves[c].band_lo != !d->curves[c].band_hi)
            return fail(errbuf, size, LRE_EINVAL, "plot: curve %d has band_%s but not band_%s", c,
                        d->curves[c].band_lo ? "lo" : "hi", d->curves[c].band_lo ? "hi" : "lo");
    if (d->delta != LRE_PLOT_DELTA_FORWARD && d->delta != LRE_PLOT_DELTA_CENTRAL)
        return fail(errbuf, size, LRE_EINVAL, "plot: delta is %d, expected forward (%d) or "
                    "central (%d)", (int)d->delta, LRE_PLOT_DELTA_FORWARD, LRE_PLOT_DELTA_CENTRAL);
    if (d->num_suggestions && !d->suggestions)
        return fail(errbuf, size, LRE_EINVAL, "plot: %zu suggestions but the array is NULL",
                    d->num_suggestions);
    if (d->per_curve && d->num_suggestions && !d->suggestion_curves)
        return fail(errbuf, size, LRE_EINVAL, "plot: per_curve without suggestion_curves");
    for (size_t i = 0; d->per_curve && i < d->num_suggestions; i++)
        if (d->suggestion_curves[i] < 0 || d->suggestion_curves[i] >= d->num_curves)
            return fail(errbuf, size, LRE_EINVAL, "plot: suggestion '%s' marks curve %d of %d",
                        d->suggestions[i].name ? d->suggestions[i].name : "?",
                        d->suggestion_curves[i], d->num_curves);
    for (size_t i = 0; i < d->num_suggestions; i++)
        if (d->suggestions[i].index >= d->n)
            return fail(errbuf, size, LRE_EINVAL, "plot: suggestion '%s' points at step %zu "
                        "(0-based) of a %zu-point curve", d->suggestions[i].name ?
                        d->suggestions[i].name : "?", d->suggestions[i].index, d->n);
    lre_status st = check_text(d, errbuf, size);
    if (st != LRE_OK) return st;
    double maxdim = fmt == LRE_PLOT_PNG ? MAX_PX : MAX_PT;
    const char *unit = fmt == LRE_PLOT_PNG ? "pixels" : "points";
    if (!(o->width >= 0 && o->width <= maxdim) || !(o->height >= 0 && o->height <= maxdim))
        return fail(errbuf, size, LRE_EINVAL, "plot: width and height must be in 1..%g %s "
                    "(got %g x %g)", maxdim, unit, o->width, o->height);
    if (o->width != 0 && o->width < 16) return fail(errbuf, size, LRE_EINVAL,
                                                    "plot: width %g is too small", o->width);
    if (o->height != 0 && o->height < 16) return fail(errbuf, size, LRE_EINVAL,
                                                      "plot: height %g is too small", o->height);
    if (fmt == LRE_PLOT_PNG && (o->width > 0 ? o->width : DEFAULT_PX_W) *
                                       (o->height > 0 ? o->height : DEFAULT_PX_H) > MAX_PIXELS)
        return fail(errbuf, size, LRE_EINVAL, "plot: %g x %g pixels is more than %g million",
                    o->width, o->height, MAX_PIXELS / 1e6);
    if (!(o->dpi >= 0 && o->dpi <= 2400))
        return fail(errbuf, size, LRE_EINVAL, "plot: dpi must be in 1..2400 (got %g)", o->dpi);
    if (!(o->font_size >= 0 && o->font_size <= 72))
        return fail(errbuf, size, LRE_EINVAL, "plot: font_size must be in 1..72 (got %g)",
                    o->font_size);
    return LRE_OK;
}

static void xml_escape(membuf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': membuf_add(b, "&amp;", 5); break;
        case '<': membuf_add(b, "&lt;", 4); break;
        case '>': membuf_add(b, "&gt;", 4); break;
        case '"': membuf_add(b, "&quot;", 6); break;
        default:
            /* control characters are not allowed in XML 1.0 */
            if ((unsigned char)*s >= 0x20 || *s == '\t' || *s == '\n') membuf_add(b, s, 1);
        }
    }
}

/* The suggestions and the stop as one sentence, for the SVG's <desc> and
 * the PDF's subject. */
static void describe(const lre_plot_data *d, membuf *b, int xml)
{
    char tmp[256];
    const char *sep = "";
    membuf_add(b, "Learning-rate range test, ", 26);
    snprintf(tmp, sizeof tmp, "%zu steps; suggestions: ", d->n);
    membuf_add(b, tmp, strlen(tmp));
    if (d->num_suggestions == 0) membuf_add(b, "none", 4);
    for (size_t i = 0; i < d->num_suggestions; i++) {
        char lr[32];
        fmt_lr(lr, sizeof lr, d->suggestions[i].lr);
        snprintf(tmp, sizeof tmp, "%s%s %s%s", sep, d->suggestions[i].name ? d->suggestions[i].name
                                                                          : "?",
                 lr, i == d->chosen ? " (chosen)" : "");
        if (xml) xml_escape(b, tmp);
        else membuf_add(b, tmp, strlen(tmp));
        sep = ", ";
    }
    char why[160];
    if (d->per_curve) snprintf(why, sizeof why, "%d curves, the best thicker", d->num_curves);
    else stop_label(d, why, sizeof why);
    snprintf(tmp, sizeof tmp, "; %s; below, the change in loss per step (%s differences)", why,
             d->delta == LRE_PLOT_DELTA_CENTRAL ? "central" : "forward");
    if (xml) xml_escape(b, tmp);
    else membuf_add(b, tmp, strlen(tmp));
    if (d->num_verify) {
        char lr[32] = "none";
        if (d->verify_winner < d->num_verify) fmt_lr(lr, sizeof lr, d->verify[d->verify_winner].lr);
        snprintf(tmp, sizeof tmp, "; then the verification by training: %zu candidates, the "
                 "winner %s", d->num_verify, lr);
        if (xml) xml_escape(b, tmp);
        else membuf_add(b, tmp, strlen(tmp));
    }
    membuf_add(b, ".", 1);
}

/* Inserts <title> and <desc> right after the root element's start tag. */
static int svg_annotate(const lre_plot_data *d, membuf *svg)
{
    membuf out = {0};
    const unsigned char *p = svg->p, *end = svg->p + svg->n;
    const unsigned char *root = NULL;
    for (const unsigned char *q = p; q + 4 < end; q++)
        if (memcmp(q, "<svg", 4) == 0) {
            root = q;
            break;
        }
    if (!root) return 1; /* nothing to annotate: leave cairo's output as is */
    const unsigned char *gt = memchr(root, '>', (size_t)(end - root));
    if (!gt) return 1;
    membuf_add(&out, p, (size_t)(gt + 1 - p));
    membuf_add(&out, "\n<title>", 8);
    xml_escape(&out, d->title && *d->title ? d->title : "Learning-rate range test");
    membuf_add(&out, "</title>\n<desc>", 15);
    describe(d, &out, 1);
    membuf_add(&out, "</desc>", 7);
    membuf_add(&out, gt + 1, (size_t)(end - gt - 1));
    if (out.failed) {
        free(out.p);
        return 0;
    }
    free(svg->p);
    *svg = out;
    return 1;
}

lre_status lre_plot_render(const lre_plot_data *data, const lre_plot_opts *opts,
                           lre_plot_format format, unsigned char **out, size_t *len,
                           char *errbuf, size_t errbuf_size)
{
    lre_plot_opts o = opts ? *opts : lre_plot_opts_default();
    if (errbuf && errbuf_size) errbuf[0] = '\0';
    if (!out || !len) return fail(errbuf, errbuf_size, LRE_EINVAL, "plot: out and len are NULL");
    *out = NULL;
    *len = 0;
    if (format != LRE_PLOT_PNG && format != LRE_PLOT_SVG && format != LRE_PLOT_PDF)
        return fail(errbuf, errbuf_size, LRE_EINVAL, "plot: unknown format %d", (int)format);
    lre_status st = check(data, &o, format, errbuf, errbuf_size);
    if (st != LRE_OK) return st;

    fig f;
    memset(&f, 0, sizeof f);
    f.d = data;
    f.o = &o;
    f.fs = o.font_size > 0 ? o.font_size : 8;
    const lre_plot_curve *c0 = &data->curves[data->main_curve];
    f.main = c0->smoothed ? c0->smoothed : c0->raw;

    membuf buf = {0};
    cairo_surface_t *surface = NULL;
    double scale = 1;
    int pw = 0, ph = 0;
    if (format == LRE_PLOT_PNG) {
        pw = (int)lround(o.width > 0 ? o.width : DEFAULT_PX_W);
        ph = (int)lround(o.height > 0 ? o.height : DEFAULT_PX_H);
        scale = o.dpi > 0 ? o.dpi / 72 : fmax(1, fmin(pw / DEFAULT_PT_W, ph / DEFAULT_PT_H));
        f.W = pw / scale;
        f.H = ph / scale;
        surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, pw, ph);
    } else {
        f.W = o.width > 0 ? o.width : DEFAULT_PT_W;
        f.H = o.height > 0 ? o.height : DEFAULT_PT_H;
        if (format == LRE_PLOT_SVG) {
            surface = cairo_svg_surface_create_for_stream(membuf_write, &buf, f.W, f.H);
            if (cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS)
                cairo_svg_surface_set_document_unit(surface, CAIRO_SVG_UNIT_PT);
        } else {
            surface = cairo_pdf_surface_create_for_stream(membuf_write, &buf, f.W, f.H);
            if (cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS) {
                membuf subj = {0};
                describe(data, &subj, 0);
                membuf_add(&subj, "", 1);
                cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE,
                                               data->title && *data->title ? data->title
                                               : "Learning-rate range test");
                if (!subj.failed)
                    cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_SUBJECT,
                                                   (const char *)subj.p);
                cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR,
                                               "lrengine " LRE_VERSION_STRING);
                free(subj.p);
            }
        }
    }
    cairo_status_t cs = cairo_surface_status(surface);
    if (cs != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(surface);
        free(buf.p);
        return fail(errbuf, errbuf_size, cs == CAIRO_STATUS_NO_MEMORY ? LRE_ENOMEM : LRE_EFORMAT,
                    "plot: cairo could not create the %s surface: %s",
                    lre_plot_format_name(format), cairo_status_to_string(cs));
    }
    f.cr = cairo_create(surface);
    if (scale != 1) cairo_scale(f.cr, scale, scale);
    int ok = draw(&f);
    cs = cairo_status(f.cr);
    cairo_destroy(f.cr);
    free(f.grad);
    free(f.px);
    free(f.py);
    if (ok && cs == CAIRO_STATUS_SUCCESS && format == LRE_PLOT_PNG)
        cs = cairo_surface_write_to_png_stream(surface, membuf_write, &buf);
    cairo_surface_finish(surface);
    if (cs == CAIRO_STATUS_SUCCESS) cs = cairo_surface_status(surface);
    cairo_surface_destroy(surface);
    if (!ok || buf.failed || cs == CAIRO_STATUS_NO_MEMORY) {
        free(buf.p);
        return fail(errbuf, errbuf_size, LRE_ENOMEM, "plot: out of memory while drawing");
    }
    if (cs != CAIRO_STATUS_SUCCESS) {
        free(buf.p);
        return fail(errbuf, errbuf_size, LRE_EFORMAT, "plot: cairo failed to draw the %s: %s",
                    lre_plot_format_name(format), cairo_status_to_string(cs));
    }
    if (format == LRE_PLOT_SVG && !svg_annotate(data, &buf)) {
        free(buf.p);
        return fail(errbuf, errbuf_size, LRE_ENOMEM, "plot: out of memory while drawing");
    }
    *out = buf.p;
    *len = buf.n;
    return LRE_OK;
}

lre_status lre_plot_write(const lre_plot_data *data, const lre_plot_opts *opts, const char *path,
                          char *errbuf, size_t errbuf_size)
{
    if (errbuf && errbuf_size) errbuf[0] = '\0';
    if (!path || !*path) return fail(errbuf, errbuf_size, LRE_EINVAL, "plot: empty output path");
    lre_plot_format fmt = opts ? opts->format : LRE_PLOT_AUTO;
    if (fmt == LRE_PLOT_AUTO) fmt = lre_plot_format_of(path);
    if (fmt == LRE_PLOT_AUTO)
        return fail(errbuf, errbuf_size, LRE_EINVAL,
                    "plot: cannot tell the format of '%s': use a .png, .svg or .pdf name", path);
    unsigned char *bytes;
    size_t len;
    lre_status st = lre_plot_render(data, opts, fmt, &bytes, &len, errbuf, errbuf_size);
    if (st != LRE_OK) return st;

    /* the engine's one writer: missing folders made, a temporary file
     * beside the target renamed over it */
    char err[1024];
    int rc = lre_write_file(path, bytes, len, err, sizeof err);
    free(bytes);
    if (rc != 0) return fail(errbuf, errbuf_size, LRE_EIO, "%s", err);
    return LRE_OK;
}

/* ------------------------------------------------------------ ticks */

int lre_plot_ticks(lre_plot_scale scale, double lo, double hi, double thresh, int target,
                   lre_plot_tick *out, int cap)
{
    if (!(isfinite(lo) && isfinite(hi) && lo < hi) || cap < 0 || (cap > 0 && !out)) return -1;
    axis a;
    memset(&a, 0, sizeof a);
    switch (scale) {
    case LRE_PLOT_SCALE_LINEAR: a.kind = AX_LIN; break;
    case LRE_PLOT_SCALE_LOG:
        if (!(lo > 0)) return -1;
        a.kind = AX_LOG;
        break;
    case LRE_PLOT_SCALE_SYMLOG:
        /* the band's edge is a power of ten, as the figure makes it */
        if (!(thresh > 0 && isfinite(thresh)) ||
            fabs(log10(thresh) - round(log10(thresh))) > 1e-9)
            return -1;
        a.kind = AX_SYMLOG;
        a.thresh = thresh;
        break;
    default: return -1;
    }
    a.t0 = ax_fwd(&a, lo);
    a.t1 = ax_fwd(&a, hi);
    ticks *ts = malloc(sizeof *ts);
    if (!ts) return -1;
    ts->n = 0;
    if (target <= 0) target = 6;
    if (a.kind == AX_LIN) lin_ticks(ts, &a, target);
    else if (a.kind == AX_LOG) log_ticks(ts, &a, target);
    else symlog_ticks(ts, &a, target);
    int n = 0;
    for (int i = 0; i < ts->n && n < cap; i++, n++) {
        const tick *t = &ts->t[i];
        out[n].value = t->v;
        out[n].labelled = t->major;
        if (!t->major) out[n].label[0] = '\0';
        else if (*t->sup) snprintf(out[n].label, sizeof out[n].label, "%s^%s", t->text, t->sup);
        else snprintf(out[n].label, sizeof out[n].label, "%s", t->text);
    }
    free(ts);
    return n;
}
