/*
 * data_npy.c — the NPY loader (numpy.org/doc/stable/reference/generated/
 * numpy.lib.format.html): "\x93NUMPY", version 1.0 (u16 header length),
 * 2.0 or 3.0 (u32), then a Python dict literal {'descr': '<f4',
 * 'fortran_order': False, 'shape': (N, ...)} padded with spaces, then the
 * data. The dict is parsed by a small strict parser (no eval), every size is
 * checked against what the file can hold and against the context's loading
 * limit before allocating (npy_load checks what the arrays take in memory
 * too: u1 labels grow fourfold into int32), and the data is
 * converted in chunks: u1 and f4 features are kept as u8/f32, f8, i4 and i8
 * become f32 (f8 values outside f32's range are refused). Labels become
 * i32 class labels (integer values, i8 range-checked; a float array whose
 * values are all integers is fine) or, with LRE_TASK_REGRESSION, f32
 * targets.
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "data/data.h"

#define NPY_MAX_HEADER (1u << 20)
#define NPY_MAX_DIMS 32
#define NPY_CHUNK 65536 /* bytes converted at a time */

typedef enum { NK_U1, NK_I4, NK_I8, NK_F4, NK_F8 } npy_kind;

typedef struct npy_head {
    npy_kind kind;
    size_t isize;
    int swap;               /* stored in the other byte order */
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    uint64_t numel, bytes;
    uint64_t hlen;          /* bytes before the data */
    char descr[24];
    char shape_s[160];      /* "(60000, 784)" */
} npy_head;

/* ------------------------------------------------------------- header */

typedef struct cur {
    const char *b, *p, *e;
} cur;

static void skip_ws(cur *c)
{
    while (c->p < c->e && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int eat(cur *c, char ch)
{
    skip_ws(c);
    if (c->p < c->e && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string without escapes ('...' or "..."). */
static int quoted(cur *c, const char **s, size_t *n)
{
    skip_ws(c);
    if (c->p >= c->e || (*c->p != '\'' && *c->p != '"')) return 0;
    char q = *c->p++;
    const char *st = c->p;
    while (c->p < c->e && *c->p != q) {
        if (*c->p == '\\' || *c->p == '\n') return 0;
        c->p++;
    }
    if (c->p >= c->e) return 0;
    *s = st;
    *n = (size_t)(c->p - st);
    c->p++;
    return 1;
}

static int word(cur *c, const char *w)
{
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->e - c->p) >= n && memcmp(c->p, w, n) == 0) {
        c->p += n;
        return 1;
    }
    return 0;
}

/* A non-negative Python int (an old 'L' suffix allowed). */
static int integer(cur *c, int64_t *v)
{
    skip_ws(c);
    if (c->p >= c->e || *c->p < '0' || *c->p > '9') return 0;
    int64_t x = 0;
    while (c->p < c->e && *c->p >= '0' && *c->p <= '9') {
        int d = *c->p++ - '0';
        if (x > (INT64_MAX - d) / 10) return 0;
        x = x * 10 + d;
    }
    if (c->p < c->e && *c->p == 'L') c->p++;
    *v = x;
    return 1;
}

/* Up to 60 characters of s for a message, non-printable bytes as '?'. */
static const char *snip(char *out, size_t outn, const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < outn && i < 60; i++)
        out[k++] = (s[i] >= 32 && s[i] < 127) ? s[i] : '?';
    if (n > 60 && k + 4 < outn) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = 0;
    return out;
}

static lre_status malformed(lre_src *s, const cur *c, const char *expected)
{
    char sn[80];
    return lre_fail(lre_src_ctx(s), LRE_EFORMAT, "npy: %s: malformed header dict at character "
                    "%td: expected %s, found \"%s\"", lre_src_name(s), c->p - c->b + 1, expected,
                    snip(sn, sizeof sn, c->p, (size_t)(c->e - c->p)));
}

static lre_status parse_dict(lre_src *s, const char *text, size_t n, npy_head *h, int *fortran)
{
    lre_ctx *ctx = lre_src_ctx(s);
    const char *name = lre_src_name(s);
    cur c = {text, text, text + n};
    int seen[3] = {0, 0, 0};
    const char *descr = NULL;
    size_t descr_n = 0;
    if (!eat(&c, '{')) return malformed(s, &c, "'{'");
    for (;;) {
        if (eat(&c, '}')) break;
        const char *k;
        size_t kn;
        if (!quoted(&c, &k, &kn)) return malformed(s, &c, "a quoted key or '}'");
        int which = (kn == 5 && !memcmp(k, "descr", 5))           ? 0
                    : (kn == 13 && !memcmp(k, "fortran_order", 13)) ? 1
                    : (kn == 5 && !memcmp(k, "shape", 5))           ? 2
                                                                    : -1;
        char sn[80];
        if (which < 0)
            return lre_fail(ctx, LRE_EFORMAT, "npy: %s: malformed header dict: unexpected key "
                            "'%s' (an NPY header has exactly 'descr', 'fortran_order' and "
                            "'shape')", name, snip(sn, sizeof sn, k, kn));
        if (seen[which]++)
            return lre_fail(ctx, LRE_EFORMAT, "npy: %s: malformed header dict: key '%s' "
                            "appears twice", name, snip(sn, sizeof sn, k, kn));
        if (!eat(&c, ':')) return malformed(s, &c, "':' after the key");
        if (which == 0) {
            skip_ws(&c);
            if (c.p < c.e && *c.p == '[')
                return lre_fail(ctx, LRE_EFORMAT, "npy: %s: unsupported dtype: a structured "
                                "array (a list of fields); save a plain numeric array", name);
            if (!quoted(&c, &descr, &descr_n)) return malformed(s, &c, "a quoted dtype string");
        } else if (which == 1) {
            if (word(&c, "True")) *fortran = 1;
            else if (word(&c, "False")) *fortran = 0;
            else return malformed(s, &c, "True or False");
        } else {
            if (!eat(&c, '(')) return malformed(s, &c, "a shape tuple '('");
            h->ndim = 0;
            while (!eat(&c, ')')) {
                int64_t v;
                if (!integer(&c, &v)) return malformed(s, &c, "a non-negative integer or ')'");
                if (h->ndim == NPY_MAX_DIMS)
                    return lre_fail(ctx, LRE_EFORMAT, "npy: %s: the shape has more than %d "
                                    "dimensions", name, NPY_MAX_DIMS);
                h->shape[h->ndim++] = v;
                if (!eat(&c, ',')) {
                    if (!eat(&c, ')')) return malformed(s, &c, "',' or ')' in the shape");
                    break;
                }
            }
        }
        if (!eat(&c, ',')) {
            if (!eat(&c, '}')) return malformed(s, &c, "',' or '}'");
            break;
        }
    }
    skip_ws(&c);
    if (c.p != c.e) return malformed(s, &c, "only padding after the dict");
    static const char *const keys[3] = {"descr", "fortran_order", "shape"};
    for (int i = 0; i < 3; i++)
        if (!seen[i])
            return lre_fail(ctx, LRE_EFORMAT, "npy: %s: malformed header dict: no '%s' key",
                            name, keys[i]);
    snip(h->descr, sizeof h->descr, descr, descr_n);
    /* the dtype: byte order, kind, size */
    const char *d = descr;
    size_t dn = descr_n;
    char order = '|';
    if (dn && (*d == '<' || *d == '>' || *d == '|' || *d == '=')) {
        order = *d++;
        dn--;
    }
    const uint16_t one = 1;
    const int little = *(const uint8_t *)&one == 1;
    if (dn >= 1 && d[0] == 'O')
        return lre_fail(ctx, LRE_EFORMAT, "npy: %s: object arrays (dtype '%s') are refused: "
                        "they hold pickled Python objects, not numbers", name, h->descr);
    struct { const char *code; npy_kind kind; size_t size; } tab[] = {
        {"u1", NK_U1, 1}, {"i4", NK_I4, 4}, {"i8", NK_I8, 8}, {"f4", NK_F4, 4}, {"f8", NK_F8, 8}};
    int found = 0;
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (dn == 2 && !memcmp(d, tab[i].code, 2)) {
            h->kind = tab[i].kind;
            h->isize = tab[i].size;
            found = 1;
        }
    if (!found)
        return lre_fail(ctx, LRE_EFORMAT, "npy: %s: unsupported dtype '%s' (supported: u1, i4, "
                        "i8, f4, f8 — uint8, int32, int64, float32, float64)", name, h->descr);
    h->swap = h->isize > 1 && ((order == '>' && little) || (order == '<' && !little));
    return LRE_OK;
}

static lre_status npy_header(lre_src *s, npy_head *h)
{
    lre_ctx *ctx = lre_src_ctx(s);
    const char *name = lre_src_name(s);
    uint8_t pre[12];
    size_t got;
    memset(h, 0, sizeof *h);
    lre_status rc = lre_src_read(s, pre, 10, &got);
    if (rc) return rc;
    if (got == 0) return lre_fail(ctx, LRE_EFORMAT, "npy: %s: empty file", name);
    if (got < 6 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        char sn[80];
        return lre_fail(ctx, LRE_EFORMAT, "npy: %s: wrong magic: not an NPY file (it starts "
                        "\"%s\", expected \"\\x93NUMPY\")", name,
                        snip(sn, sizeof sn, (const char *)pre, got < 6 ? got : 6));
    }
    if (got < 10)
        return lre_fail(ctx, LRE_EFORMAT, "npy: %s: truncated header: the file holds %zu bytes",
                        name, got);
    unsigned major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0)
        return lre_fail(ctx, LRE_EFORMAT, "npy: %s: unsupported NPY format version %u.%u "
                        "(1.0, 2.0 and 3.0 are)", name, major, minor);
    uint64_t hl = (uint64_t)pre[8] | (uint64_t)pre[9] << 8;
    h->hlen = 10;
    if (major >= 2) {
        rc = lre_src_read(s, pre + 10, 2, &got);
        if (rc) return rc;
        if (got < 2)
            return lre_fail(ctx, LRE_EFORMAT, "npy: %s: truncated header: the file holds %zu "
                            "bytes", name, 10 + got);
        hl |= (uint64_t)pre[10] << 16 | (uint64_t)pre[11] << 24;
        h->hlen = 12;
    }
    if (hl > NPY_MAX_HEADER)
        return lre_fail(ctx, LRE_EFORMAT, "npy: %s: header length %" PRIu64 " is implausible "
                        "(more than %u bytes)", name, hl, NPY_MAX_HEADER);
    if (hl > lre_src_bound(s))
        return lre_fail(ctx, LRE_EFORMAT, "npy: %s: truncated header: it says %" PRIu64
                        " bytes of header dict but the file holds %" PRIu64 " more", name, hl,
                        lre_src_bound(s));
    char what[LRE_WHAT_SIZE];
    char *text = lre_malloc(ctx, (size_t)hl + 1, lre_what_of(what, sizeof what, "npy header",
                                                             name));
    if (!text) return LRE_ENOMEM;
    rc = lre_src_read(s, text, (size_t)hl, &got);
    if (!rc && got < hl)
        rc = lre_fail(ctx, LRE_EFORMAT, "npy: %s: truncated header: it says %" PRIu64 " bytes "
                      "of header dict but the file holds %zu", name, hl, got);
    int fortran = 0;
    if (!rc) rc = parse_dict(s, text, (size_t)hl, h, &fortran);
    lre_free(ctx, text, hl + 1);
    if (rc) return rc;
    h->hlen += hl;
    size_t sl = 0;
    for (int i = 0; i < h->ndim; i++) {
        int k = snprintf(h->shape_s + sl, sizeof h->shape_s - sl, "%s%" PRId64,
                         i ? ", " : "(", h->shape[i]);
        if (k > 0 && (size_t)k < sizeof h->shape_s - sl) sl += (size_t)k;
    }
    snprintf(h->shape_s + sl, sizeof h->shape_s - sl, "%s", h->ndim == 1 ? ",)" : ")");
    if (h->ndim == 0) snprintf(h->shape_s, sizeof h->shape_s, "()");
    if (fortran)
        return lre_fail(ctx, LRE_EFORMAT, "npy: %s: the array is in Fortran order "
                        "(fortran_order: True); save it in C order "
                        "(numpy.ascontiguousarray)", name);
    if (h->ndim == 0)
        return lre_fail(ctx, LRE_EFORMAT, "npy: %s: the array is a scalar (shape ()); need "
                        "rows", name);
    h->numel = 1;
    for (int i = 0; i < h->ndim; i++) {
        if (h->shape[i] == 0)
            return lre_fail(ctx, LRE_EFORMAT, "npy: %s: shape %s holds no data (dimension %d "
                            "is 0)", name, h->shape_s, i + 1);
        if (h->numel > UINT64_MAX / h->isize / (uint64_t)h->shape[i])
            return lre_fail(ctx, LRE_EFORMAT, "npy: %s: shape %s overflows", name, h->shape_s);
        h->numel *= (uint64_t)h->shape[i];
    }
    h->bytes = h->numel * h->isize;
    if (h->bytes > lre_src_bound(s))
        return lre_fail(ctx, LRE_EFORMAT, "npy: %s: truncated: header says shape %s of '%s' "
                        "(%" PRIu64 " bytes) but the file %s %" PRIu64 " after its %" PRIu64
                        "-byte header", name, h->shape_s, h->descr, h->bytes,
                        lre_src_gzip(s) ? "can hold at most" : "holds", lre_src_bound(s),
                        h->hlen);
    if (h->bytes > ctx->max_load_bytes)
        return lre_fail_limit(ctx, "npy", name, "the header declares shape %s of '%s', %"
                              PRIu64 " bytes", h->shape_s, h->descr, h->bytes);
    return LRE_OK;
}

/* ----------------------------------------------------------------- data */

static void load(void *dst, const uint8_t *p, size_t n, int swap)
{
    uint8_t b[8];
    if (swap) {
        for (size_t i = 0; i < n; i++) b[i] = p[n - 1 - i];
        p = b;
    }
    memcpy(dst, p, n);
}

static int64_t load_int(const uint8_t *p, npy_kind k, int swap)
{
    if (k == NK_U1) return *p;
    if (k == NK_I4) {
        int32_t v;
        load(&v, p, 4, swap);
        return v;
    }
    int64_t v;
    load(&v, p, 8, swap);
    return v;
}

static double load_flt(const uint8_t *p, npy_kind k, int swap)
{
    if (k == NK_F4) {
        float v;
        load(&v, p, 4, swap);
        return v;
    }
    if (k == NK_F8) {
        double v;
        load(&v, p, 8, swap);
        return v;
    }
    return (double)load_int(p, k, swap);
}

/* What a row of the array is called in messages: features have columns. */
typedef enum { AS_FEATURES, AS_LABELS, AS_TARGETS } npy_role;

/* Reads the data and converts it: features to u8 (u1) or f32, labels to
 * i32, targets to f32; per = values per row, for messages. */
static lre_status npy_data(lre_src *s, const npy_head *h, npy_role role, uint64_t per,
                           void *dst)
{
    lre_ctx *ctx = lre_src_ctx(s);
    const char *name = lre_src_name(s);
    const int direct = h->kind == NK_U1 ? (role == AS_FEATURES)
                                        : (h->kind == NK_F4 && !h->swap && role != AS_LABELS);
    uint8_t *tmp = NULL;
    lre_status rc = LRE_OK;
    size_t got;
    if (!direct) {
        tmp = lre_malloc(ctx, NPY_CHUNK, "npy conversion buffer");
        if (!tmp) return LRE_ENOMEM;
    }
    const size_t per_chunk = NPY_CHUNK / h->isize;
    for (uint64_t e = 0; e < h->numel;) {
        size_t k = (size_t)(h->numel - e < per_chunk ? h->numel - e : per_chunk);
        uint8_t *src;
        if (direct) { /* everything in one read, straight into place */
            k = (size_t)h->numel;
            src = (uint8_t *)dst;
        } else {
            src = tmp;
        }
        rc = lre_src_read(s, src, k * h->isize, &got);
        if (rc) goto out;
        if (got < k * h->isize) {
            rc = lre_fail(ctx, LRE_EFORMAT, "npy: %s: truncated: header says shape %s of '%s' "
                          "(%" PRIu64 " bytes) but the %sfile holds %" PRIu64 " after its %"
                          PRIu64 "-byte header", name, h->shape_s, h->descr, h->bytes,
                          lre_src_gzip(s) ? "decompressed " : "", e * h->isize + got, h->hlen);
            goto out;
        }
        for (size_t i = 0; i < k; i++) {
            const uint8_t *p = src + i * h->isize;
            uint64_t at = e + i, row = at / per + 1, col = at % per + 1;
            if (role == AS_LABELS && (h->kind == NK_F4 || h->kind == NK_F8)) {
                double v = load_flt(p, h->kind, h->swap);
                if (!(v == floor(v)) || v < 0 || v >= INT32_MAX) {
                    rc = lre_fail(ctx, LRE_EFORMAT, "npy: %s: label %.9g at row %" PRIu64
                                  " is %s", name, v, row,
                                  v != v || isinf(v) ? "not finite"
                                  : v < 0 ? "negative (labels are classes 0, 1, ...)"
                                  : v != floor(v) ? "not an integer: class labels are 0, 1, ...; "
                                                    "for regression targets load with task "
                                                    "\"regression\""
                                                  : "too large (labels must be below 2^31 - 1)");
                    goto out;
                }
                ((int32_t *)dst)[at] = (int32_t)v;
            } else if (role == AS_LABELS) {
                int64_t v = load_int(p, h->kind, h->swap);
                if (v < 0 || v >= INT32_MAX) {
                    rc = lre_fail(ctx, LRE_EFORMAT, "npy: %s: label %" PRId64 " at row %" PRIu64
                                  " is %s", name, v, row,
                                  v < 0 ? "negative (labels are classes 0, 1, ...)"
                                        : "too large (labels must be below 2^31 - 1)");
                    goto out;
                }
                ((int32_t *)dst)[at] = (int32_t)v;
            } else if (h->kind == NK_U1 && role == AS_FEATURES) {
                break; /* read in place */
            } else {
                double v = load_flt(p, h->kind, h->swap);
                float f = (float)v;
                if (!isfinite(v) || !isfinite(f)) {
                    rc = lre_fail(ctx, LRE_EFORMAT, "npy: %s: %s at row %" PRIu64 ", column %"
                                  PRIu64 " is %g%s", name,
                                  role == AS_FEATURES ? "feature" : "target", row, col, v,
                                  isfinite(v) ? ", outside float32's range"
                                              : " (values must be finite)");
                    goto out;
                }
                ((float *)dst)[at] = f;
            }
        }
        e += k;
    }
    uint8_t extra;
    rc = lre_src_read(s, &extra, 1, &got);
    if (!rc && got)
        rc = lre_fail(ctx, LRE_EFORMAT, "npy: %s: more data than the header says: shape %s of "
                      "'%s' takes %" PRIu64 " bytes after the %" PRIu64 "-byte header, and the "
                      "file goes on", name, h->shape_s, h->descr, h->bytes, h->hlen);
out:
    lre_free(ctx, tmp, NPY_CHUNK);
    return rc;
}

static lre_status npy_load(lre_ctx *ctx, lre_dataset **out, lre_src *fs, lre_src *ls,
                           lre_task task)
{
    npy_head hf, hl;
    lre_status rc;
    *out = NULL;
    if ((rc = npy_header(fs, &hf)) || (rc = npy_header(ls, &hl))) return rc;
    const char *fname = lre_src_name(fs), *lname = lre_src_name(ls);
    if (hf.ndim > 1 + LRE_MAX_DIMS)
        return lre_fail(ctx, LRE_EFORMAT, "npy: %s: features of shape %s: at most %d "
                        "dimensions (rows, then up to %d per row)", fname, hf.shape_s,
                        1 + LRE_MAX_DIMS, LRE_MAX_DIMS);
    if (task != LRE_TASK_CLASSIFICATION && task != LRE_TASK_REGRESSION)
        return lre_fail(ctx, LRE_EINVAL, "npy: %s: task %d is neither classification nor "
                        "regression", lname, (int)task);
    const int is_int = task == LRE_TASK_CLASSIFICATION; /* class labels, else targets */
    if (hl.ndim > 2 || (is_int && hl.ndim == 2 && hl.shape[1] != 1))
        return lre_fail(ctx, LRE_EFORMAT, "npy: %s: labels of shape %s: %s", lname, hl.shape_s,
                        is_int ? "class labels need (N,) or (N, 1); for k regression targets "
                                 "per row load with task \"regression\""
                               : "regression targets need (N,) or (N, k)");
    if (hf.shape[0] != hl.shape[0])
        return lre_fail(ctx, LRE_EFORMAT, "npy: the counts disagree: %s holds %" PRId64
                        " rows (shape %s) but %s holds %" PRId64 " (shape %s)", fname,
                        hf.shape[0], hf.shape_s, lname, hl.shape[0], hl.shape_s);
    const int64_t n = hf.shape[0];
    const uint64_t per = hf.numel / (uint64_t)n;
    if (per > INT32_MAX)
        return lre_fail(ctx, LRE_EFORMAT, "npy: %s: rows of shape %s hold more than 2^31 − 1 "
                        "values", fname, hf.shape_s);
    const uint64_t tdim = is_int ? 0 : hl.numel / (uint64_t)n;
    const lre_dtype dt = hf.kind == NK_U1 ? LRE_U8 : LRE_F32;
    /* in memory: features as u8 or f32 (never more than the header's bytes,
     * checked in npy_header), labels as int32 and targets as f32, which
     * can be four times the bytes of a u1 array */
    const uint64_t lmem = (is_int ? (uint64_t)n : hl.numel) * 4;
    if (lmem > ctx->max_load_bytes)
        return lre_fail_limit(ctx, "npy", lname, "the header declares shape %s of '%s', %"
                              PRIu64 " bytes as %s", hl.shape_s, hl.descr, lmem,
                              is_int ? "int32 labels" : "float32 targets");
    char what[LRE_WHAT_SIZE];
    void *x = lre_malloc(ctx, (size_t)(hf.numel * lre_dtype_size(dt)),
                         lre_what_of(what, sizeof what, "npy features", fname));
    int32_t *y = NULL;
    float *t = NULL;
    if (x && is_int)
        y = lre_malloc(ctx, (size_t)n * sizeof *y, lre_what_of(what, sizeof what, "npy labels",
                                                                lname));
    else if (x)
        t = lre_malloc(ctx, (size_t)hl.numel * sizeof *t,
                       lre_what_of(what, sizeof what, "npy targets", lname));
    if (!x || (!y && !t)) {
        rc = LRE_ENOMEM;
        goto fail;
    }
    if ((rc = npy_data(fs, &hf, AS_FEATURES, per, x)) ||
        (rc = npy_data(ls, &hl, is_int ? AS_LABELS : AS_TARGETS, is_int ? 1 : tdim,
                       is_int ? (void *)y : (void *)t)))
        goto fail;
    int64_t shape[LRE_MAX_DIMS] = {1};
    for (int i = 1; i < hf.ndim; i++) shape[i - 1] = hf.shape[i];
    return lre_dataset_adopt(ctx, out, dt, n, hf.ndim > 1 ? hf.ndim - 1 : 1, shape, x, y, t,
                             (int64_t)tdim, 0, fname);
fail:
    lre_free(ctx, x, 0);
    lre_free(ctx, y, 0);
    lre_free(ctx, t, 0);
    return rc;
}

const char *lre_task_name(lre_task task)
{
    return task == LRE_TASK_CLASSIFICATION ? "classification"
           : task == LRE_TASK_REGRESSION   ? "regression"
                                           : NULL;
}

lre_status lre_dataset_npy(lre_ctx *ctx, lre_dataset **out, const char *features_path,
                           const char *labels_path)
{
    return lre_dataset_npy_task(ctx, out, features_path, labels_path, LRE_TASK_CLASSIFICATION);
}

lre_status lre_dataset_npy_task(lre_ctx *ctx, lre_dataset **out, const char *features_path,
                                const char *labels_path, lre_task task)
{
    if (!ctx) return LRE_EINVAL;
    if (!out) return lre_fail(ctx, LRE_EINVAL, "npy: out is NULL");
    *out = NULL;
    lre_src *fs = NULL, *ls = NULL;
    lre_status rc = lre_src_open_file(ctx, &fs, "npy", features_path);
    if (!rc) rc = lre_src_open_file(ctx, &ls, "npy", labels_path);
    if (!rc) rc = npy_load(ctx, out, fs, ls, task);
    lre_src_close(fs);
    lre_src_close(ls);
    return rc;
}

lre_status lre_dataset_npy_mem(lre_ctx *ctx, lre_dataset **out, const void *features,
                               size_t features_n, const void *labels, size_t labels_n,
                               lre_task task)
{
    if (!ctx) return LRE_EINVAL;
    if (!out) return lre_fail(ctx, LRE_EINVAL, "npy: out is NULL");
    *out = NULL;
    lre_src *fs = NULL, *ls = NULL;
    lre_status rc = lre_src_open_mem(ctx, &fs, "npy", "<features>", features, features_n);
    if (!rc) rc = lre_src_open_mem(ctx, &ls, "npy", "<labels>", labels, labels_n);
    if (!rc) rc = npy_load(ctx, out, fs, ls, task);
    lre_src_close(fs);
    lre_src_close(ls);
    return rc;
}
