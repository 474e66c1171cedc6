/*
 * lrengine_plot.h — the range-test figure as PNG, SVG or PDF, drawn with
 * cairo. The same figure `result:plot(path)` and `lrengine plot` draw, for a
 * C program that ran its own range test.
 *
 *     double lrs[N], loss[N], smooth[N];            // your recorded curve
 *     lre_plot_curve c = {"training", loss, smooth};
 *     lre_plot_suggestion s = {"steepest", 3.2e-3, 41}; // index 0-based
 *     lre_plot_data d = lre_plot_data_default();
 *     d.n = N; d.lrs = lrs; d.curves[0] = c; d.num_curves = 1;
 *     d.suggestions = &s; d.num_suggestions = 1;
 *     d.stop_reason = "diverged";
 *     char err[256];
 *     if (lre_plot_write(&d, NULL, "sweep.png", err, sizeof err) != LRE_OK)
 *         fprintf(stderr, "%s\n", err);
 *
 * The figure (one code path for the three formats; text is real text):
 *   - top panel: loss against learning rate (log x axis unless log_x is 0);
 *     each curve's raw loss as faint points and its smoothed loss as a
 *     line, with a shaded band where the curve has one (the min-max of
 *     repeated runs around their median); every suggestion marked on the
 *     first curve's smoothed line and named in the legend with its
 *     learning rate ("valley 3.2e-3"); where the test stopped and why, in
 *     words ("stopped: diverged at step 64/100", "imported curve").
 *   - bottom panel, same x axis: the change in the first curve's smoothed
 *     loss per step on a symmetric-log y axis, with the chosen suggestion
 *     in red. By default the forward difference loss[i+1] - loss[i] drawn
 *     at lr[i], as the user's matplotlib note draws it; with delta =
 *     LRE_PLOT_DELTA_CENTRAL the central one (numpy.gradient: what
 *     pytorch-lr-finder's suggestion minimises). The axis label says which.
 *   - optional third panel (verify): each candidate learning rate of a
 *     verification by training at its score, with its spread as a
 *     whisker, the winner ringed; a candidate that diverged sits on the
 *     top edge as a triangle.
 *   - a grid of range tests: up to LRE_PLOT_MAX_CURVES curves (one per
 *     value), per_curve set, each suggestion on its own curve in the
 *     curve's colour, main_curve (the best) thicker.
 *   - The y range comes from finite values only and its top is capped at
 *     the starting loss plus twice its fall (fastai and pytorch-lr-finder
 *     cut the diverging end the same way); points off the scale, infinite
 *     or NaN are drawn as small triangles on the panel's edge.
 *   - Every axis has at least 4 labelled ticks, each printing its value
 *     exactly (lre_plot_ticks below).
 *
 * Errors: no context is needed, so the message of a failure goes to the
 * caller's buffer (errbuf may be NULL); the status says what kind it was:
 * LRE_EINVAL (bad data or options, an unknown file extension), LRE_EIO
 * (the file could not be written: the message names the path), LRE_ENOMEM,
 * LRE_EFORMAT (cairo failed to render). Nothing is ever half-written: the
 * file is produced in memory and written by lre_write_file (lrengine.h: a
 * temporary file beside PATH, synced and renamed over it; on failure it is
 * removed and PATH untouched; a FIFO or character device written in place,
 * "-" standard output).
 */
#ifndef LRENGINE_PLOT_H
#define LRENGINE_PLOT_H

#include <stddef.h>

#include "lrengine.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LRE_PLOT_MAX_CURVES 8

typedef enum lre_plot_format {
    LRE_PLOT_AUTO = 0, /* from the path's extension: .png, .svg, .pdf */
    LRE_PLOT_PNG,
    LRE_PLOT_SVG,
    LRE_PLOT_PDF
} lre_plot_format;

/* One loss curve over the data's n steps. Either array may be NULL (not
 * both); values may be NaN or infinite. */
typedef struct lre_plot_curve {
    const char *label;      /* "validation", "training", ...               */
    const double *raw;      /* n raw losses: drawn as faint points         */
    const double *smoothed; /* n smoothed losses: drawn as a line          */
    /* optional (NULL): a shaded band from band_lo[i] to band_hi[i] (NaN
     * where there is none), e.g. the min and max of repeated runs around
     * their median in `smoothed`; band_label names it in the legend
     * (NULL: "min–max") */
    const double *band_lo, *band_hi;
    const char *band_label;
} lre_plot_curve;

typedef struct lre_plot_suggestion {
    const char *name;       /* "steepest", "valley", ...                   */
    double lr;
    size_t index;           /* 0-based step of the curve it points at      */
} lre_plot_suggestion;

/* One candidate of a verification by training (the third panel): its
 * learning rate, its score (say the validation loss after one epoch: the
 * median over its trials; not finite when every trial diverged) and the
 * spread of the score (lo..hi; NaN: none). */
typedef struct lre_plot_point {
    double lr, y, lo, hi;
} lre_plot_point;

/* Which change in loss the bottom panel draws. */
typedef enum lre_plot_delta {
    LRE_PLOT_DELTA_FORWARD = 0, /* loss[i+1] - loss[i] at lr[i] (the note's) */
    LRE_PLOT_DELTA_CENTRAL      /* numpy.gradient: (loss[i+1] - loss[i-1]) / 2 */
} lre_plot_delta;

typedef struct lre_plot_data {
    size_t n;                      /* steps recorded (>= 1)                */
    const double *lrs;             /* n learning rates                      */
    /* curves[0] drives the suggestions and the bottom panel; curves[1]
     * (optional) is drawn beside it, e.g. training beside validation */
    lre_plot_curve curves[LRE_PLOT_MAX_CURVES];
    int num_curves;
    const lre_plot_suggestion *suggestions;
    size_t num_suggestions;
    /* which suggestion is "the" answer: drawn in red (default 0, the first;
     * (size_t)-1 for none) */
    size_t chosen;
    int log_x;                     /* 1: log learning-rate axis (default)   */
    /* why the test ended: "completed", "diverged", "non_finite", "external"
     * (a curve imported from another tool) or any other words; the legend
     * writes the codes in words ("loss not finite", "imported curve") */
    const char *stop_reason;
    size_t planned_steps;          /* num_iter, for "stopped at 77 of 100"; 0: n */
    const char *title;             /* first title line (NULL: a default)    */
    const char *subtitle;          /* second, smaller line (NULL: none)     */
    lre_plot_delta delta;          /* the bottom panel (default: forward)   */
    /* The curve the suggestions (curve 0), the stop and the bottom panel
     * read, drawn thicker (default 0). A grid of range tests (one curve per
     * value) sets the best one. */
    int main_curve;
    /* 1: a grid's figure: suggestion i marks curve suggestion_curves[i],
     * in that curve's colour (the chosen still in red), and the stop is not
     * marked (each curve stopped on its own). Default 0: every suggestion
     * on main_curve. */
    int per_curve;
    const int *suggestion_curves;  /* num_suggestions, with per_curve       */
    /* Optional: a third panel below the others, on the same x axis, the
     * verification by training: num_verify candidates, verify_winner
     * ringed ((size_t)-1, the default: none), verify_label its y axis
     * ("val loss after 1 epoch"; NULL: "score"). */
    const lre_plot_point *verify;
    size_t num_verify;
    size_t verify_winner;
    const char *verify_label;
} lre_plot_data;

typedef struct lre_plot_opts {
    lre_plot_format format;        /* default LRE_PLOT_AUTO                 */
    /* PNG: pixels (default 1200 x 900); SVG and PDF: points, 1/72 inch
     * (default 432 x 324, 6 x 4.5 inches) */
    double width, height;
    /* PNG only: pixels per inch; 0 (default) scales the figure so that its
     * shorter side reads like the 6 x 4.5 inch one (1200 x 900 is 200 dpi) */
    double dpi;
    double font_size;              /* base size in points (default 8)       */
    int raw_points;                /* draw the raw losses (default 1)       */
} lre_plot_opts;

lre_plot_data lre_plot_data_default(void);
lre_plot_opts lre_plot_opts_default(void);

/* The format named by path's extension (case-insensitive), or
 * LRE_PLOT_AUTO when it is none of .png, .svg, .pdf. */
lre_plot_format lre_plot_format_of(const char *path);
const char *lre_plot_format_name(lre_plot_format f);

/* Draws the figure into `path` (opts may be NULL: the defaults). */
lre_status lre_plot_write(const lre_plot_data *data, const lre_plot_opts *opts,
                          const char *path, char *errbuf, size_t errbuf_size);

/* The same, into memory: *out (malloc'ed, the caller frees it) and *len. */
lre_status lre_plot_render(const lre_plot_data *data, const lre_plot_opts *opts,
                           lre_plot_format format, unsigned char **out, size_t *len,
                           char *errbuf, size_t errbuf_size);

/* ------------------------------------------------------------ ticks
 * The tick generator the figure uses for its three kinds of axis, for
 * tests and for front ends that draw their own axes. */
typedef enum lre_plot_scale {
    LRE_PLOT_SCALE_LINEAR = 0,
    LRE_PLOT_SCALE_LOG,     /* log10; lo and hi > 0 */
    LRE_PLOT_SCALE_SYMLOG   /* linear in [-thresh, thresh], log10 outside */
} lre_plot_scale;

typedef struct lre_plot_tick {
    double value;           /* where the tick is, in data units            */
    int labelled;           /* 1: it carries a label; 0: a minor tick      */
    /* the label as drawn (UTF-8, U+2212 for minus), "" when unlabelled; a
     * raised exponent is written after '^': "10^−2", "−5×10^−3" */
    char label[48];
} lre_plot_tick;

#define LRE_PLOT_MAX_TICKS 256

/* The ticks of an axis showing [lo, hi] (data units, lo < hi; for SYMLOG
 * thresh is the half-width of the linear band, a power of ten), about
 * `target` of them labelled (0: 6) and never fewer than 4 labelled ones.
 * Every label prints its tick's value exactly, with the decimals its step
 * needs (0.25 steps print 0.25, 0.50, 0.75). Writes at most cap ticks to out
 * in increasing order; returns how many, or -1 for a bad range (not finite,
 * lo >= hi, lo <= 0 on a log axis, thresh not a power of ten). */
int lre_plot_ticks(lre_plot_scale scale, double lo, double hi, double thresh, int target,
                   lre_plot_tick *out, int cap);

#ifdef __cplusplus
}
#endif

#endif /* LRENGINE_PLOT_H */
