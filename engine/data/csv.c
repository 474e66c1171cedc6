/*
 * data_csv.c — the CSV loader: numeric cells, an optional header line, the
 * label column chosen by name or 1-based number, a delimiter option.
 *
 * The file (plain or gzip) is read whole, then parsed in one pass with
 * explicit bounds (no NUL terminator is relied on): each cell is trimmed,
 * unquoted when quoted ("" is a quote), copied into a small buffer and read
 * with strtod, which must consume it entirely: decimal numbers only (a cell
 * with an x, hexadecimal to strtod, is not a number), at most 127
 * characters (a longer cell is reported as too long). A UTF-8 byte order
 * mark at the start is skipped; a file whose lines end with a carriage
 * return alone (old Mac OS) is refused with how to convert it. The curve
 * reader of lrengine.results (lua/lrengine/results.lua) reads cells the
 * same way. Every error names the
 * file, the 1-based line and column, and the column's header name when
 * there is one. The row buffer is sized from the text before parsing: a
 * data line of C cells takes at least 2·C − 1 bytes, which bounds the rows
 * (and so the allocation) by the input's length. Both the decompressed
 * text (lre_src_read_all) and the row buffer are held to the context's
 * loading limit before they are allocated: a 1 MB gzip file can hold a
 * gigabyte of text.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"

#define CSV_MAX_CELL 128 /* characters in a numeric cell */

lre_csv_opts lre_csv_opts_default(void)
{
    lre_csv_opts o = {NULL, 0, -1, ',', LRE_TASK_CLASSIFICATION};
    return o;
}

typedef struct cell {
    const char *p;   /* content (inside the quotes when quoted) */
    size_t n;
    int quoted;
} cell;

typedef struct csv {
    lre_ctx *ctx;
    const char *name;
    const char *t;     /* text */
    size_t n, pos;
    int64_t line;      /* 1-based number of the current line */
    char delim;
    const char *hdr;   /* the header line's text, for column names */
    size_t hdr_n;
    int64_t ncols;
} csv;

static int is_space(char c, char delim) { return (c == ' ' || c == '\t') && c != delim; }

/* The header name of column `col` (0-based) into out ("" without header). */
static const char *col_name(const csv *c, int64_t col, char *out, size_t outn);

/* Splits the next cell of the line [*p, e) at the delimiter; returns 0 and
 * sets *bad to a description on a quoting error. */
static int next_cell(const csv *c, const char **p, const char *e, cell *out, const char **bad)
{
    const char *s = *p;
    while (s < e && is_space(*s, c->delim)) s++;
    out->quoted = 0;
    if (s < e && *s == '"') {
        const char *q = ++s;
        for (;;) {
            while (q < e && *q != '"') q++;
            if (q >= e) {
                *bad = "an unterminated quoted cell";
                return 0;
            }
            if (q + 1 < e && q[1] == '"') {
                q += 2;
                continue;
            }
            break;
        }
        out->p = s;
        out->n = (size_t)(q - s);
        out->quoted = 1;
        q++;
        while (q < e && is_space(*q, c->delim)) q++;
        if (q < e && *q != c->delim) {
            *bad = "text after a closing quote";
            return 0;
        }
        *p = q;
        return 1;
    }
    const char *q = s;
    while (q < e && *q != c->delim) q++;
    const char *end = q;
    while (end > s && is_space(end[-1], c->delim)) end--;
    out->p = s;
    out->n = (size_t)(end - s);
    *p = q;
    return 1;
}

/* Copies the cell's text, quotes unescaped, into buf; returns its length,
 * or 0 when it is empty or does not fit. */
static size_t cell_text(const cell *cl, char *buf, size_t bufn)
{
    size_t k = 0;
    for (size_t i = 0; i < cl->n; i++) {
        if (k + 1 >= bufn) return 0;
        buf[k++] = cl->p[i];
        if (cl->quoted && cl->p[i] == '"') i++; /* "" */
    }
    buf[k] = 0;
    return k;
}

/* A printable excerpt of a cell for messages. */
static const char *show(const cell *cl, char *out, size_t outn)
{
    size_t k = 0;
    for (size_t i = 0; i < cl->n && k + 5 < outn && i < 40; i++)
        out[k++] = (cl->p[i] >= 32 && cl->p[i] < 127) ? cl->p[i] : '?';
    if (cl->n > 40 && k + 4 < outn) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = 0;
    return out;
}

/* The cell's length once unquoted ("" is one character). */
static size_t cell_len(const cell *cl)
{
    size_t k = 0;
    for (size_t i = 0; i < cl->n; i++, k++)
        if (cl->quoted && cl->p[i] == '"') i++;
    return k;
}

/* Reads the cell as a decimal number: 1, or 0 when it is not one, or
 * CELL_TOO_LONG when it has more than CSV_MAX_CELL - 1 characters.
 * strtod also reads hexadecimal ("0x10", "0x1p4"), which no CSV writer
 * means: a cell with an x is not a number (as for lrengine.results'
 * curve reader). */
#define CELL_TOO_LONG (-1)
static int parse_float(const cell *cl, double *v, int *range)
{
    char buf[CSV_MAX_CELL];
    size_t k = cell_text(cl, buf, sizeof buf);
    if (!k) return cl->n && cell_len(cl) >= sizeof buf ? CELL_TOO_LONG : 0;
    if (memchr(buf, 'x', k) || memchr(buf, 'X', k)) return 0;
    char *end;
    errno = 0;
    *v = strtod(buf, &end);
    *range = errno == ERANGE;
    return end == buf + k; /* all of it (a NUL inside the cell is not a number) */
}

/* The next line: [*ls, *le) without its line ending; 0 at the end. */
static int next_line(csv *c, const char **ls, const char **le)
{
    if (c->pos >= c->n) return 0;
    const char *s = c->t + c->pos, *e = memchr(s, '\n', c->n - c->pos);
    if (!e) e = c->t + c->n;
    c->pos = (size_t)(e - c->t) + (e < c->t + c->n);
    c->line++;
    *ls = s;
    *le = (e > s && e[-1] == '\r') ? e - 1 : e;
    return 1;
}

static int blank(const char *s, const char *e)
{
    for (; s < e; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') return 0;
    return 1;
}

static lre_status fail_at(const csv *c, int64_t col, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static lre_status fail_at(const csv *c, int64_t col, const char *fmt, ...)
{
    char what[512], nm[80];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (col < 0)
        return lre_fail(c->ctx, LRE_EFORMAT, "csv: %s: line %" PRId64 ": %s", c->name, c->line,
                        what);
    col_name(c, col, nm, sizeof nm);
    return lre_fail(c->ctx, LRE_EFORMAT, "csv: %s: line %" PRId64 ", column %" PRId64 "%s: %s",
                    c->name, c->line, col + 1, nm, what);
}

static const char *col_name(const csv *c, int64_t col, char *out, size_t outn)
{
    out[0] = 0;
    if (!c->hdr) return out;
    const char *p = c->hdr, *e = c->hdr + c->hdr_n, *bad;
    cell cl;
    for (int64_t i = 0; i <= col; i++) {
        if (!next_cell(c, &p, e, &cl, &bad)) return out;
        if (i == col) {
            char sh[64];
            snprintf(out, outn, " (\"%s\")", show(&cl, sh, sizeof sh));
            return out;
        }
        if (p >= e) return out;
        p++;
    }
    return out;
}

/* Counts the cells of [s, e); -1 (and *bad) on a quoting error. */
static int64_t count_cells(const csv *c, const char *s, const char *e, const char **bad)
{
    int64_t k = 0;
    cell cl;
    for (;;) {
        if (!next_cell(c, &s, e, &cl, bad)) return -1;
        k++;
        if (s >= e) return k;
        s++;
    }
}

/* Does the cell text equal `name` (quotes unescaped)? */
static int cell_is(const cell *cl, const char *name)
{
    char buf[256];
    size_t k = cell_text(cl, buf, sizeof buf);
    return k && k == strlen(name) && memcmp(buf, name, k) == 0;
}

static lre_status csv_parse(lre_ctx *ctx, lre_dataset **out, const char *name, const char *text,
                            size_t n, const lre_csv_opts *o)
{
    csv c = {.ctx = ctx, .name = name, .t = text, .n = n, .delim = o->delimiter};
    const char *ls, *le, *bad = NULL;
    if (n >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) c.pos = 3; /* UTF-8 BOM */
    if (blank(text + c.pos, text + n))
        return lre_fail(ctx, LRE_EFORMAT, "csv: %s: empty file%s", name,
                        n ? " (only blank lines)" : "");
    /* old Mac OS line endings: one line of cells such as "0\r3" otherwise */
    if (!memchr(text + c.pos, '\n', n - c.pos) && memchr(text + c.pos, '\r', n - c.pos))
        return lre_fail(ctx, LRE_EFORMAT, "csv: %s: its lines end with a carriage return alone "
                        "(old Mac OS); convert them to LF or CRLF (e.g. tr '\\r' '\\n')",
                        name);
    next_line(&c, &ls, &le);
    if (blank(ls, le)) return fail_at(&c, -1, "the first line is empty");
    c.ncols = count_cells(&c, ls, le, &bad);
    if (c.ncols < 0) return fail_at(&c, -1, "%s", bad);
    if (c.ncols < 2)
        return fail_at(&c, -1, "one column; a CSV dataset needs feature columns and a label "
                       "column (is the delimiter '%c' right?)", c.delim);
    /* header: given, or detected (any non-numeric cell) */
    int header = o->header;
    if (header < 0) {
        header = 0;
        const char *p = ls;
        cell cl = {ls, 0, 0};
        double v;
        int range;
        for (int64_t i = 0; i < c.ncols; i++) {
            if (!next_cell(&c, &p, le, &cl, &bad) || parse_float(&cl, &v, &range) != 1)
                header = 1;
            if (p < le) p++;
        }
    }
    if (header) {
        c.hdr = ls;
        c.hdr_n = (size_t)(le - ls);
    }
    /* the label column */
    int64_t lab = -1;
    if (o->label_name) {
        if (!header)
            return lre_fail(ctx, LRE_EFORMAT, "csv: %s: line 1: the label column \"%s\" is "
                            "asked by name but the file has no header line%s", name,
                            o->label_name, o->header == 0 ? " (header = false)" :
                            " (line 1 is all numbers)");
        const char *p = ls;
        cell cl;
        for (int64_t i = 0; i < c.ncols && lab < 0; i++) {
            if (next_cell(&c, &p, le, &cl, &bad) && cell_is(&cl, o->label_name)) lab = i;
            if (p < le) p++;
        }
        if (lab < 0) {
            char sh[200];
            cell all = {ls, (size_t)(le - ls), 0};
            return lre_fail(ctx, LRE_EFORMAT, "csv: %s: line 1: no column named \"%s\" for "
                            "the labels (the header is: %s)", name, o->label_name,
                            show(&all, sh, sizeof sh));
        }
    } else if (o->label_index) {
        if (o->label_index < 1 || o->label_index > c.ncols)
            return lre_fail(ctx, LRE_EFORMAT, "csv: %s: line 1: label column %" PRId64
                            " does not exist: the file has %" PRId64 " columns (1 to %" PRId64
                            ")", name, o->label_index, c.ncols, c.ncols);
        lab = o->label_index - 1;
    } else {
        lab = c.ncols - 1;
        if (header) {
            const char *p = ls;
            cell cl;
            for (int64_t i = 0; i < c.ncols; i++) {
                if (next_cell(&c, &p, le, &cl, &bad) && cell_is(&cl, "label")) {
                    lab = i;
                    break;
                }
                if (p < le) p++;
            }
        }
    }
    if (header) {
        if (!next_line(&c, &ls, &le) || blank(ls, text + n))
            return fail_at(&c, -1, "no data after the header line");
    }
    /* capacity: lines left, and at most one row per 2·ncols − 1 bytes */
    const int64_t F = c.ncols - 1;
    size_t rest = n - (size_t)(ls - text);
    uint64_t cap = 1;
    for (const char *q = ls; (q = memchr(q, '\n', (size_t)(text + n - q))); q++) cap++;
    uint64_t by_len = rest / (2 * (uint64_t)c.ncols - 1) + 1;
    if (by_len < cap) cap = by_len;
    if (cap > SIZE_MAX / sizeof(float) / (uint64_t)F)
        return lre_fail(ctx, LRE_ENOMEM, "csv: %s: too large", name);
    /* the parsed rows (features, and labels or targets: a float or int32
     * per cell) against the loading limit; the text was, but a short cell
     * ("1,") becomes 4 bytes */
    if ((uint64_t)c.ncols > ctx->max_load_bytes / 4 / cap)
        return lre_fail_limit(ctx, "csv", name, "up to %" PRIu64 " rows of %" PRId64
                              " columns parse into %" PRIu64 " bytes", cap, c.ncols,
                              cap * (uint64_t)c.ncols * 4);
    char what[LRE_WHAT_SIZE];
    float *x = lre_malloc(ctx, (size_t)(cap * (uint64_t)F) * sizeof *x,
                          lre_what_of(what, sizeof what, "csv features", name));
    const int regression = o->task == LRE_TASK_REGRESSION;
    int32_t *y = NULL;
    float *t = NULL;
    if (x && !regression)
        y = lre_malloc(ctx, (size_t)cap * sizeof *y, lre_what_of(what, sizeof what,
                                                                 "csv labels", name));
    else if (x)
        t = lre_malloc(ctx, (size_t)cap * sizeof *t, lre_what_of(what, sizeof what,
                                                                 "csv targets", name));
    lre_status rc = LRE_ENOMEM;
    int64_t rows = 0;
    if (!x || (!y && !t)) goto fail;
    for (;;) {
        if (blank(ls, le)) {
            if (blank(ls, text + n)) break; /* blank lines close the file */
            rc = fail_at(&c, -1, "empty line in the middle of the data (rows go on at a later "
                         "line)");
            goto fail;
        }
        if ((uint64_t)rows >= cap) { /* cannot happen: each row takes 2·ncols − 1 bytes */
            rc = fail_at(&c, -1, "more rows than the file can hold (internal error)");
            goto fail;
        }
        const char *p = ls;
        float *xr = x + rows * F;
        int64_t f = 0;
        for (int64_t col = 0;; col++) {
            cell cl;
            if (col == c.ncols) {
                int64_t k = count_cells(&c, ls, le, &bad);
                rc = fail_at(&c, col, "an extra cell: this line has %" PRId64 " columns, line "
                             "%s has %" PRId64, k, header ? "1 (the header)" : "1", c.ncols);
                goto fail;
            }
            if (!next_cell(&c, &p, le, &cl, &bad)) {
                rc = fail_at(&c, col, "%s", bad);
                goto fail;
            }
            double v;
            int range;
            char sh[64];
            if (cl.n == 0) {
                rc = fail_at(&c, col, "empty cell");
                goto fail;
            }
            int num = parse_float(&cl, &v, &range);
            if (num == CELL_TOO_LONG) {
                rc = fail_at(&c, col, "the cell is too long (%zu characters; at most %d)",
                             cell_len(&cl), CSV_MAX_CELL - 1);
                goto fail;
            }
            if (!num) {
                rc = fail_at(&c, col, "\"%s\" is not a number", show(&cl, sh, sizeof sh));
                goto fail;
            }
            if (col == lab && regression) {
                float fv = (float)v;
                if (!isfinite(v) || !isfinite(fv)) {
                    rc = fail_at(&c, col, "target \"%s\" is %s", show(&cl, sh, sizeof sh),
                                 isfinite(v) || range ? "outside float32's range"
                                                      : "not finite (targets must be finite)");
                    goto fail;
                }
                t[rows] = fv;
            } else if (col == lab) {
                if (!(v == floor(v)) || v < 0 || v >= INT32_MAX) {
                    rc = fail_at(&c, col, "label \"%s\" is %s", show(&cl, sh, sizeof sh),
                                 v != v || isinf(v) ? "not finite"
                                 : v < 0            ? "negative (labels are classes 0, 1, ...)"
                                 : v != floor(v)    ? "not an integer: class labels are 0, 1, "
                                                      "...; for regression targets load with "
                                                      "task \"regression\""
                                                    : "too large (at most 2^31 - 2)");
                    goto fail;
                }
                y[rows] = (int32_t)v;
            } else {
                float fv = (float)v;
                if (!isfinite(v) || !isfinite(fv)) {
                    rc = fail_at(&c, col, "\"%s\" is %s", show(&cl, sh, sizeof sh),
                                 isfinite(v) || range ? "outside float32's range"
                                                      : "not finite (features must be finite)");
                    goto fail;
                }
                xr[f++] = fv;
            }
            if (p >= le) {
                if (col + 1 < c.ncols) {
                    rc = fail_at(&c, col + 1, "missing: this line has %" PRId64 " columns, "
                                 "line 1 has %" PRId64, col + 1, c.ncols);
                    goto fail;
                }
                break;
            }
            p++; /* the delimiter */
        }
        rows++;
        if (!next_line(&c, &ls, &le)) break;
    }
    int64_t shape[1] = {F};
    return lre_dataset_adopt(ctx, out, LRE_F32, rows, 1, shape, x, y, t, regression ? 1 : 0, 0,
                             name);
fail:
    lre_free(ctx, x, 0);
    lre_free(ctx, y, 0);
    lre_free(ctx, t, 0);
    return rc;
}

static lre_status check_opts(lre_ctx *ctx, const char *name, const lre_csv_opts *o)
{
    char d = o->delimiter;
    if (d == 0 || d == '"' || d == '\n' || d == '\r' || d == '.' || d == '-' || d == '+' ||
        (d >= '0' && d <= '9'))
        return lre_fail(ctx, LRE_EINVAL, "csv: %s: the delimiter cannot be %s", name,
                        d == 0 ? "NUL" : d == '\n' ? "a newline" : d == '\r' ? "a CR"
                        : d == '"' ? "'\"'" : "part of a number");
    if (o->header < -1 || o->header > 1)
        return lre_fail(ctx, LRE_EINVAL, "csv: %s: header must be 1, 0 or -1 (detect)", name);
    if (o->label_name && o->label_index)
        return lre_fail(ctx, LRE_EINVAL, "csv: %s: give the label column by name or by "
                        "number, not both", name);
    if (o->label_index < 0)
        return lre_fail(ctx, LRE_EINVAL, "csv: %s: label column %" PRId64 ": columns count "
                        "from 1", name, o->label_index);
    if (!lre_task_name(o->task))
        return lre_fail(ctx, LRE_EINVAL, "csv: %s: task %d is neither classification nor "
                        "regression", name, (int)o->task);
    return LRE_OK;
}

lre_status lre_dataset_csv_mem(lre_ctx *ctx, lre_dataset **out, const char *name,
                               const void *text, size_t n, const lre_csv_opts *opts)
{
    if (!ctx) return LRE_EINVAL;
    if (!out || (!text && n)) return lre_fail(ctx, LRE_EINVAL, "csv: NULL argument");
    *out = NULL;
    lre_csv_opts o = opts ? *opts : lre_csv_opts_default();
    if (!name) name = "<memory>";
    lre_status rc = check_opts(ctx, name, &o);
    if (rc) return rc;
    if (n >= 2 && ((const uint8_t *)text)[0] == 0x1f && ((const uint8_t *)text)[1] == 0x8b) {
        lre_src *s;
        uint8_t *buf;
        size_t len;
        if ((rc = lre_src_open_mem(ctx, &s, "csv", name, text, n))) return rc;
        rc = lre_src_read_all(s, &buf, &len, 0);
        lre_src_close(s);
        if (rc) return rc;
        rc = csv_parse(ctx, out, name, (const char *)buf, len, &o);
        lre_free(ctx, buf, len);
        return rc;
    }
    return csv_parse(ctx, out, name, text, n, &o);
}

lre_status lre_dataset_csv(lre_ctx *ctx, lre_dataset **out, const char *path,
                           const lre_csv_opts *opts)
{
    if (!ctx) return LRE_EINVAL;
    if (!out) return lre_fail(ctx, LRE_EINVAL, "csv: out is NULL");
    *out = NULL;
    lre_csv_opts o = opts ? *opts : lre_csv_opts_default();
    lre_status rc = check_opts(ctx, path ? path : "(null)", &o);
    if (rc) return rc;
    lre_src *s;
    uint8_t *buf;
    size_t len;
    if ((rc = lre_src_open_file(ctx, &s, "csv", path))) return rc;
    rc = lre_src_read_all(s, &buf, &len, 0);
    lre_src_close(s);
    if (rc) return rc;
    rc = csv_parse(ctx, out, path, (const char *)buf, len, &o);
    lre_free(ctx, buf, len);
    return rc;
}
