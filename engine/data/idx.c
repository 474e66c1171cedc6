/*
 * data_idx.c — the IDX loader (the MNIST family's format) and Fashion-MNIST.
 *
 * An IDX file is a 4-byte magic 0x0000TTDD (TT the element type, 0x08 for
 * unsigned bytes; DD the number of dimensions), DD big-endian u32
 * dimensions, then the elements in row-major order. Images are u8 N×H×W
 * (magic 0x00000803), labels u8 N (0x00000801); either file may be gzipped.
 * Pixels stay u8 in the dataset. Every size in a header is checked, with
 * overflow-safe arithmetic, against what the file can hold and against the
 * context's loading limit before anything is allocated, so a hostile
 * header costs an error message, not memory (a gzip file can hold 1032
 * times its size: a 4 MB one may truly expand to 4 GB; the limit stops it).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/data.h"

#define IDX_MAX_DIMS (1 + LRE_MAX_DIMS)

typedef struct idx_head {
    int ndim;
    uint32_t dims[IDX_MAX_DIMS];
    uint64_t count;   /* dims[0] */
    uint64_t per;     /* elements per row: the product of the other dims */
    uint64_t bytes;   /* count × per */
    size_t hlen;      /* header bytes */
    char shape[96];   /* "60000×28×28" */
} idx_head;

static const char *idx_type_name(unsigned t)
{
    switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "short";
    case 0x0C: return "int";
    case 0x0D: return "float";
    case 0x0E: return "double";
    }
    return NULL;
}

static const char *what_of(int labels) { return labels ? "labels" : "images"; }

/* Reads and checks the header; `labels` selects which kind is expected. */
static lre_status idx_header(lre_src *s, int labels, idx_head *h)
{
    lre_ctx *ctx = lre_src_ctx(s);
    const char *name = lre_src_name(s);
    uint8_t b[4 + 4 * IDX_MAX_DIMS];
    size_t got;
    lre_status rc = lre_src_read(s, b, 4, &got);
    if (rc) return rc;
    if (got == 0) return lre_fail(ctx, LRE_EFORMAT, "idx: %s: empty file", name);
    if (got < 4)
        return lre_fail(ctx, LRE_EFORMAT, "idx: %s: truncated header: the file holds %zu "
                        "bytes, an IDX header needs at least 8", name, got);
    uint32_t magic = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    const uint32_t want = labels ? 0x801u : 0x803u;
    unsigned type = b[2], nd = b[3];
    if (b[0] || b[1] || !idx_type_name(type) || nd == 0)
        return lre_fail(ctx, LRE_EFORMAT, "idx: %s: wrong magic number 0x%08" PRIx32
                        ": not an IDX file (expected 0x%08" PRIx32 ", %s)", name, magic, want,
                        labels ? "labels" : "u8 images");
    if (type != 0x08)
        return lre_fail(ctx, LRE_EFORMAT, "idx: %s: magic 0x%08" PRIx32 " says elements of "
                        "type %s; only unsigned bytes (0x%08" PRIx32 ") are supported", name,
                        magic, idx_type_name(type), want);
    if (labels && nd != 1)
        return lre_fail(ctx, LRE_EFORMAT, "idx: %s: magic 0x%08" PRIx32 " is a %u-dimensional "
                        "array (images?); a labels file has magic 0x00000801", name, magic, nd);
    if (!labels && (nd < 2 || nd > IDX_MAX_DIMS))
        return lre_fail(ctx, LRE_EFORMAT, "idx: %s: magic 0x%08" PRIx32 " is a %u-dimensional "
                        "array%s; an images file has 2 to %d dimensions (magic 0x00000803 "
                        "for N×H×W)", name, magic, nd, nd == 1 ? " (labels?)" : "",
                        IDX_MAX_DIMS);
    h->ndim = (int)nd;
    h->hlen = 4 + 4 * (size_t)nd;
    rc = lre_src_read(s, b + 4, 4 * (size_t)nd, &got);
    if (rc) return rc;
    if (got < 4 * (size_t)nd)
        return lre_fail(ctx, LRE_EFORMAT, "idx: %s: truncated header: magic 0x%08" PRIx32
                        " announces %u dimensions (a %zu-byte header) but the file holds %zu "
                        "bytes", name, magic, nd, h->hlen, 4 + got);
    size_t sl = 0;
    h->per = 1;
    int too_big = 0;
    for (int i = 0; i < h->ndim; i++) {
        const uint8_t *p = b + 4 + 4 * i;
        h->dims[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        int k = snprintf(h->shape + sl, sizeof h->shape - sl, "%s%" PRIu32, i ? "×" : "",
                         h->dims[i]);
        if (k > 0 && (size_t)k < sizeof h->shape - sl) sl += (size_t)k;
        if (i > 0) {
            if (h->dims[i] && h->per > INT32_MAX / h->dims[i]) too_big = 1;
            else h->per *= h->dims[i];
        }
    }
    h->count = h->dims[0];
    for (int i = 0; i < h->ndim; i++)
        if (h->dims[i] == 0)
            return lre_fail(ctx, LRE_EFORMAT, "idx: %s: header says %s %s: dimension %d is 0 "
                            "(no data)", name, h->shape, what_of(labels), i + 1);
    if (too_big)
        return lre_fail(ctx, LRE_EFORMAT, "idx: %s: header dimensions %s give rows of more "
                        "than 2^31 − 1 values (overflow)", name, h->shape);
    h->bytes = h->count * h->per; /* < 2^32 · 2^31: no overflow */
    uint64_t bound = lre_src_bound(s);
    if (h->bytes > bound) {
        if (lre_src_gzip(s))
            return lre_fail(ctx, LRE_EFORMAT, "idx: %s: truncated: header says %s %s (%" PRIu64
                            " bytes) but a gzip file of %" PRIu64 " bytes cannot hold that "
                            "many", name, h->shape, what_of(labels), h->bytes,
                            lre_src_stored(s));
        return lre_fail(ctx, LRE_EFORMAT, "idx: %s: truncated: header says %s %s (%" PRIu64
                        " bytes) but the file holds %" PRIu64 " after its %zu-byte header",
                        name, h->shape, what_of(labels), h->bytes, bound, h->hlen);
    }
    /* what the data takes in memory: a byte per pixel, an int32 per label */
    const uint64_t mem = labels ? 4 * h->count : h->bytes;
    if (mem > ctx->max_load_bytes)
        return lre_fail_limit(ctx, "idx", name, "the header declares %s %s, %" PRIu64
                              " bytes%s", h->shape, what_of(labels), mem,
                              labels ? " as int32" : "");
    return LRE_OK;
}

/* Reads the h->bytes of data into dst, then makes sure nothing follows. */
static lre_status idx_data(lre_src *s, int labels, const idx_head *h, uint8_t *dst)
{
    lre_ctx *ctx = lre_src_ctx(s);
    const char *name = lre_src_name(s);
    size_t got;
    lre_status rc = lre_src_read(s, dst, (size_t)h->bytes, &got);
    if (rc) return rc;
    if (got < h->bytes)
        return lre_fail(ctx, LRE_EFORMAT, "idx: %s: truncated: header says %s %s (%" PRIu64
                        " bytes) but the %sfile holds %zu after its %zu-byte header", name,
                        h->shape, what_of(labels), h->bytes,
                        lre_src_gzip(s) ? "decompressed " : "", got, h->hlen);
    uint8_t extra;
    rc = lre_src_read(s, &extra, 1, &got);
    if (rc) return rc;
    if (got)
        return lre_fail(ctx, LRE_EFORMAT, "idx: %s: more data than the header says: %s %s "
                        "take %" PRIu64 " bytes after the %zu-byte header, and the file "
                        "goes on", name, h->shape, what_of(labels), h->bytes, h->hlen);
    return LRE_OK;
}

lre_status lre_idx_load(lre_ctx *ctx, lre_dataset **out, lre_src *images, lre_src *labels,
                        int64_t num_classes)
{
    idx_head hi, hl;
    lre_status rc;
    *out = NULL;
    if ((rc = idx_header(images, 0, &hi)) || (rc = idx_header(labels, 1, &hl))) return rc;
    if (hi.count != hl.count)
        return lre_fail(ctx, LRE_EFORMAT, "idx: the counts disagree: %s holds %" PRIu64
                        " images (%s) but %s holds %" PRIu64 " labels",
                        lre_src_name(images), hi.count, hi.shape, lre_src_name(labels),
                        hl.count);
    const int64_t n = (int64_t)hi.count;
    char what[LRE_WHAT_SIZE];
    uint8_t *x = lre_malloc(ctx, (size_t)hi.bytes,
                            lre_what_of(what, sizeof what, "idx images", lre_src_name(images)));
    int32_t *y = x ? lre_malloc(ctx, (size_t)n * sizeof *y,
                                lre_what_of(what, sizeof what, "idx labels",
                                            lre_src_name(labels)))
                   : NULL;
    if (!x || !y) {
        rc = LRE_ENOMEM;
        goto fail;
    }
    if ((rc = idx_data(images, 0, &hi, x))) goto fail;
    /* the u8 labels go in the upper quarter of y, then widen in place from
     * the front: y[i] (bytes 4i..4i+3) never reaches an unread byte 3n+j, j>i */
    uint8_t *lb = (uint8_t *)y + 3 * (size_t)n;
    if ((rc = idx_data(labels, 1, &hl, lb))) goto fail;
    for (int64_t i = 0; i < n; i++) {
        int32_t v = lb[i];
        if (num_classes && v >= num_classes) {
            rc = lre_fail(ctx, LRE_EFORMAT, "idx: %s: label %" PRId32 " at row %" PRId64
                          " is outside [0, %" PRId64 ")", lre_src_name(labels), v, i + 1,
                          num_classes);
            goto fail;
        }
        y[i] = v;
    }
    int64_t shape[LRE_MAX_DIMS];
    for (int i = 1; i < hi.ndim; i++) shape[i - 1] = hi.dims[i];
    return lre_dataset_adopt(ctx, out, LRE_U8, n, hi.ndim - 1, shape, x, y, NULL, 0, num_classes,
                             lre_src_name(images));
fail:
    lre_free(ctx, x, 0);
    lre_free(ctx, y, 0);
    return rc;
}

lre_status lre_dataset_idx(lre_ctx *ctx, lre_dataset **out, const char *images_path,
                           const char *labels_path)
{
    if (!ctx) return LRE_EINVAL;
    if (!out) return lre_fail(ctx, LRE_EINVAL, "idx: out is NULL");
    *out = NULL;
    lre_src *im = NULL, *lb = NULL;
    lre_status rc = lre_src_open_file(ctx, &im, "idx", images_path);
    if (!rc) rc = lre_src_open_file(ctx, &lb, "idx", labels_path);
    if (!rc) rc = lre_idx_load(ctx, out, im, lb, 0);
    lre_src_close(im);
    lre_src_close(lb);
    return rc;
}

lre_status lre_dataset_idx_mem(lre_ctx *ctx, lre_dataset **out, const void *images,
                               size_t images_n, const void *labels, size_t labels_n)
{
    if (!ctx) return LRE_EINVAL;
    if (!out) return lre_fail(ctx, LRE_EINVAL, "idx: out is NULL");
    *out = NULL;
    lre_src *im = NULL, *lb = NULL;
    lre_status rc = lre_src_open_mem(ctx, &im, "idx", "<images>", images, images_n);
    if (!rc) rc = lre_src_open_mem(ctx, &lb, "idx", "<labels>", labels, labels_n);
    if (!rc) rc = lre_idx_load(ctx, out, im, lb, 0);
    lre_src_close(im);
    lre_src_close(lb);
    return rc;
}

/* ------------------------------------------------------ Fashion-MNIST */

/* dir/base.gz or dir/base into buf; 1 when readable. */
static int find_file(char *buf, size_t n, const char *dir, const char *base)
{
    int k = snprintf(buf, n, "%s/%s.gz", dir, base);
    if (k > 0 && (size_t)k < n && access(buf, R_OK) == 0) return 1;
    k = snprintf(buf, n, "%s/%s", dir, base);
    return k > 0 && (size_t)k < n && access(buf, R_OK) == 0;
}

lre_status lre_dataset_fashion_mnist(lre_ctx *ctx, lre_dataset **out, const char *split)
{
    return lre_fashion_mnist_in(ctx, out, split, getenv("LRENGINE_DATA"), LRE_FASHION_MNIST_DIR);
}

lre_status lre_fashion_mnist_in(lre_ctx *ctx, lre_dataset **out, const char *split,
                                const char *env, const char *system_dir)
{
    static const char fn[] = "fashion_mnist";
    if (!ctx) return LRE_EINVAL;
    if (!out) return lre_fail(ctx, LRE_EINVAL, "%s: out is NULL", fn);
    *out = NULL;
    const char *pre;
    if (split && strcmp(split, "train") == 0) pre = "train";
    else if (split && strcmp(split, "test") == 0) pre = "t10k";
    else
        return lre_fail(ctx, LRE_EINVAL, "%s: split must be \"train\" or \"test\", not %s%s%s",
                        fn, split ? "\"" : "", split ? split : "NULL", split ? "\"" : "");
    char ib[64], lb[64];
    snprintf(ib, sizeof ib, "%s-images-idx3-ubyte", pre);
    snprintf(lb, sizeof lb, "%s-labels-idx1-ubyte", pre);

    char dirs[3][1024];
    int nd = 0;
    if (env && *env) {
        /* a folder the user named must exist: no silent fall back to the system's copy */
        struct stat st;
        if (stat(env, &st) != 0 || !S_ISDIR(st.st_mode))
            return lre_fail(ctx, LRE_EIO, "%s: $LRENGINE_DATA=%s is not a folder (%s)", fn, env,
                            stat(env, &st) != 0 ? strerror(errno) : "a file");
        snprintf(dirs[nd++], sizeof dirs[0], "%s", env);
        snprintf(dirs[nd++], sizeof dirs[0], "%s/fashion-mnist", env);
    }
    snprintf(dirs[nd++], sizeof dirs[0], "%s", system_dir);
    char ip[1200], lp[1200];
    for (int i = 0; i < nd; i++) {
        if (!find_file(ip, sizeof ip, dirs[i], ib) || !find_file(lp, sizeof lp, dirs[i], lb))
            continue;
        lre_src *im = NULL, *ls = NULL;
        lre_status rc = lre_src_open_file(ctx, &im, "idx", ip);
        if (!rc) rc = lre_src_open_file(ctx, &ls, "idx", lp);
        if (!rc) rc = lre_idx_load(ctx, out, im, ls, 10);
        lre_src_close(im);
        lre_src_close(ls);
        if (!rc && (lre_dataset_row_ndim(*out) != 2 || lre_dataset_row_dim(*out, 0) != 28 ||
                    lre_dataset_row_dim(*out, 1) != 28)) {
            lre_dataset_release(*out);
            *out = NULL;
            rc = lre_fail(ctx, LRE_EFORMAT, "%s: %s: not Fashion-MNIST: images are not 28×28",
                          fn, ip);
        }
        return rc;
    }
    char searched[3200];
    size_t sl = 0;
    for (int i = 0; i < nd; i++) {
        int k = snprintf(searched + sl, sizeof searched - sl, "%s%s%s", i ? ", " : "",
                         (env && *env && i == 0) ? "$LRENGINE_DATA=" : "", dirs[i]);
        if (k > 0 && (size_t)k < sizeof searched - sl) sl += (size_t)k;
    }
    return lre_fail(ctx, LRE_EIO,
                    "%s: the %s split (%s.gz and %s.gz) was not found; searched %s. Install "
                    "Debian's package with `apt-get install dataset-fashion-mnist` (as root), "
                    "or set LRENGINE_DATA to a directory that holds the files",
                    fn, split, ib, lb, searched);
}
