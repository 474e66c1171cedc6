/*
 * test_data.c — the dataset loaders (IDX plain and gzip, NPY, CSV,
 * Fashion-MNIST) and the dataset transforms (per-feature normalisation,
 * statistics, standardisation, gather).
 *
 * Good files are checked value by value. Every bad input the data issue
 * lists is written into a fresh mkdtemp directory and must give the right
 * status and a message that names the file (and the line and column for
 * CSV) and the fault. Nothing may leak: the context's live-bytes counter is
 * zero at the end. Runs clean under ASan+UBSan (make asan).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "data/data.h"

/* ------------------------------------------------------------ temp files */

static char g_dir[256];
static char g_paths[192][320];
static int g_npaths;

/* Writes bytes to <tmpdir>/name; returns the path (static storage). */
static const char *put(const char *name, const void *data, size_t n)
{
    if (g_npaths == 192) chk_fatal("put", "too many temp files");
    char *p = g_paths[g_npaths++];
    snprintf(p, sizeof g_paths[0], "%s/%s", g_dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0)
        chk_fatal("put", "cannot write %s", p);
    return p;
}

static const char *put_s(const char *name, const char *text) { return put(name, text, strlen(text)); }

/* gzip-compresses bytes at `level` (0: stored blocks) into a malloc'd buffer. */
static uint8_t *gzip_level(const void *src, size_t n, int level, size_t *out_n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        chk_fatal("gzip", "deflateInit2");
    size_t cap = deflateBound(&z, (uLong)n) + 64;
    uint8_t *buf = malloc(cap);
    if (!buf) chk_fatal("gzip", "out of memory");
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)n;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) chk_fatal("gzip", "deflate");
    *out_n = cap - z.avail_out;
    deflateEnd(&z);
    return buf;
}

static uint8_t *gzip_bytes(const void *src, size_t n, size_t *out_n)
{
    return gzip_level(src, n, 9, out_n);
}

static const char *put_gz(const char *name, const void *data, size_t n)
{
    size_t gn;
    uint8_t *g = gzip_bytes(data, n, &gn);
    const char *p = put(name, g, gn);
    free(g);
    return p;
}

/* --------------------------------------------------------------- builders */

typedef struct buf {
    uint8_t b[4096];
    size_t n;
} buf;

static void be32(buf *b, uint32_t v)
{
    b->b[b->n++] = (uint8_t)(v >> 24);
    b->b[b->n++] = (uint8_t)(v >> 16);
    b->b[b->n++] = (uint8_t)(v >> 8);
    b->b[b->n++] = (uint8_t)v;
}

static void bytes(buf *b, const void *p, size_t n)
{
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

/* An IDX file: magic 0x0000080<nd>, dims, then `n` data bytes from data. */
static buf idx(int nd, const uint32_t *dims, const uint8_t *data, size_t n)
{
    buf b = {.n = 0};
    be32(&b, 0x800u | (uint32_t)nd);
    for (int i = 0; i < nd; i++) be32(&b, dims[i]);
    bytes(&b, data, n);
    return b;
}

/* An NPY file with the given header dict (padded as numpy pads it). */
static buf npy_raw(int version, const char *dict, const void *data, size_t n)
{
    buf b = {.n = 0};
    size_t pre = version == 1 ? 10 : 12, hl = strlen(dict) + 1;
    size_t pad = (64 - (pre + hl) % 64) % 64;
    hl += pad;
    bytes(&b, "\x93NUMPY", 6);
    b.b[b.n++] = (uint8_t)version;
    b.b[b.n++] = 0;
    b.b[b.n++] = (uint8_t)hl;
    b.b[b.n++] = (uint8_t)(hl >> 8);
    if (version > 1) {
        b.b[b.n++] = (uint8_t)(hl >> 16);
        b.b[b.n++] = (uint8_t)(hl >> 24);
    }
    bytes(&b, dict, strlen(dict));
    memset(b.b + b.n, ' ', pad);
    b.n += pad;
    b.b[b.n++] = '\n';
    bytes(&b, data, n);
    return b;
}

static buf npy(const char *descr, const char *shape, const void *data, size_t n)
{
    char dict[256];
    snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr,
             shape);
    return npy_raw(1, dict, data, n);
}

/* ------------------------------------------------------------------ IDX */

static const uint8_t PIX[12] = {0, 255, 7, 8, 1, 2, 3, 4, 9, 10, 11, 12};
static const uint8_t LAB[3] = {2, 0, 1};

static void test_idx_good(lre_ctx *ctx)
{
    const uint32_t di[3] = {3, 2, 2}, dl[1] = {3};
    buf im = idx(3, di, PIX, 12), lb = idx(1, dl, LAB, 3);
    const char *ip = put("good-images-idx3-ubyte", im.b, im.n);
    const char *lp = put("good-labels-idx1-ubyte", lb.b, lb.n);
    const char *ipz = put_gz("good-images-idx3-ubyte.gz", im.b, im.n);
    const char *lpz = put_gz("good-labels-idx1-ubyte.gz", lb.b, lb.n);
    for (int z = 0; z < 2; z++) {
        const char *tag = z ? "gzip" : "plain";
        lre_dataset *d = NULL, *s = NULL;
        if (!chk_ok(ctx, lre_dataset_idx(ctx, &d, z ? ipz : ip, z ? lpz : lp),
                    chk_name("idx %s: loads", tag)))
            continue;
        CHECK(lre_dataset_size(d) == 3 && lre_dataset_features(d) == 4 &&
                  lre_dataset_row_ndim(d) == 2 && lre_dataset_row_dim(d, 0) == 2 &&
                  lre_dataset_row_dim(d, 1) == 2 && lre_dataset_num_classes(d) == 3,
              chk_name("idx %s: 3 rows of 2x2, 3 classes", tag), "got %lld rows of %lld, %lld classes",
              (long long)lre_dataset_size(d), (long long)lre_dataset_features(d),
              (long long)lre_dataset_num_classes(d));
        CHECK(lre_dataset_feature_dtype(d) == LRE_U8, chk_name("idx %s: pixels stay u8", tag),
              "dtype %s", lre_dtype_name(lre_dataset_feature_dtype(d)));
        chk_must(ctx, lre_dataset_scale(d, &s, 1.0f / 255), "scale");
        int64_t ix[3] = {2, 0, 1};
        float x[12], want[12];
        int32_t y[3];
        chk_must(ctx, lre_dataset_gather(s, ix, 3, x, y, NULL), "gather");
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 4; c++) want[r * 4 + c] = (float)PIX[ix[r] * 4 + c] * (1.0f / 255);
        chk_close_ff(chk_name("idx %s: gathered pixels x/255", tag), want, x, 12, 1e-7, 1e-6);
        CHECK(y[0] == 1 && y[1] == 2 && y[2] == 0, chk_name("idx %s: gathered labels", tag),
              "got %d %d %d, want 1 2 0", y[0], y[1], y[2]);
        lre_dataset_release(s);
        lre_dataset_release(d);
    }
    /* concatenated gzip members are one stream, as gzip -d reads them */
    size_t n1, n2;
    uint8_t *g1 = gzip_bytes(im.b, 9, &n1), *g2 = gzip_bytes(im.b + 9, im.n - 9, &n2);
    buf cat = {.n = 0};
    bytes(&cat, g1, n1);
    bytes(&cat, g2, n2);
    free(g1);
    free(g2);
    lre_dataset *d = NULL;
    chk_ok(ctx, lre_dataset_idx(ctx, &d, put("two-members.gz", cat.b, cat.n), lpz),
           "idx: a gzip file of two members loads");
    lre_dataset_release(d);
}

static void test_idx_bad(lre_ctx *ctx)
{
    const uint32_t di[3] = {3, 2, 2}, dl[1] = {3}, dl2[1] = {2};
    buf im = idx(3, di, PIX, 12), lb = idx(1, dl, LAB, 3);
    const char *lp = put("labels-ok", lb.b, lb.n);
    const char *ip = put("images-ok", im.b, im.n);
    lre_dataset *d = NULL;
    char missing[320];
    snprintf(missing, sizeof missing, "%s/no-such-file", g_dir);

    chk_err(ctx, lre_dataset_idx(ctx, &d, missing, lp), LRE_EIO, "idx: missing file",
            missing, "cannot open", "No such file", NULL);
    chk_err(ctx, lre_dataset_idx(ctx, &d, g_dir, lp), LRE_EIO, "idx: a directory", g_dir,
            "directory", NULL);
    const char *p = put("empty", "", 0);
    chk_err(ctx, lre_dataset_idx(ctx, &d, p, lp), LRE_EFORMAT, "idx: empty file", p, "empty",
            NULL);
    p = put("trunc-header", im.b, 7);
    chk_err(ctx, lre_dataset_idx(ctx, &d, p, lp), LRE_EFORMAT, "idx: truncated header", p,
            "truncated header", "16-byte", NULL);
    p = put("trunc-header2", im.b, 2);
    chk_err(ctx, lre_dataset_idx(ctx, &d, p, lp), LRE_EFORMAT, "idx: truncated magic", p,
            "truncated header", NULL);
    p = put("trunc-data", im.b, 16 + 5);
    chk_err(ctx, lre_dataset_idx(ctx, &d, p, lp), LRE_EFORMAT, "idx: truncated data", p,
            "truncated", "3×2×2 images (12 bytes)", "holds 5", NULL);
    p = put_gz("trunc-data.gz", im.b, 16 + 5);
    chk_err(ctx, lre_dataset_idx(ctx, &d, p, lp), LRE_EFORMAT, "idx: truncated data (gzip)", p,
            "truncated", "12 bytes", "decompressed file holds 5", NULL);
    p = put("trunc-labels", lb.b, lb.n - 1);
    chk_err(ctx, lre_dataset_idx(ctx, &d, ip, p), LRE_EFORMAT, "idx: truncated labels", p,
            "3 labels (3 bytes)", "holds 2", NULL);

    buf bad = im;
    bad.b[0] = 0x12, bad.b[1] = 0x34, bad.b[2] = 0x56, bad.b[3] = 0x78;
    p = put("wrong-magic", bad.b, bad.n);
    chk_err(ctx, lre_dataset_idx(ctx, &d, p, lp), LRE_EFORMAT, "idx: wrong magic", p,
            "wrong magic", "0x12345678", "0x00000803", NULL);
    chk_err(ctx, lre_dataset_idx(ctx, &d, lp, ip), LRE_EFORMAT, "idx: files swapped", lp,
            "labels?", NULL);
    bad = im;
    bad.b[2] = 0x0D; /* float elements */
    p = put("float-idx", bad.b, bad.n);
    chk_err(ctx, lre_dataset_idx(ctx, &d, p, lp), LRE_EFORMAT, "idx: element type float", p,
            "type float", "only unsigned bytes", NULL);

    buf l2 = idx(1, dl2, LAB, 2);
    p = put("labels-2", l2.b, l2.n);
    chk_err(ctx, lre_dataset_idx(ctx, &d, ip, p), LRE_EFORMAT, "idx: image and label counts disagree",
            ip, p, "3 images", "2 labels", NULL);

    const uint32_t huge[3] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    buf h = idx(3, huge, PIX, 12);
    p = put("overflow", h.b, h.n);
    chk_err(ctx, lre_dataset_idx(ctx, &d, p, lp), LRE_EFORMAT, "idx: header dims overflow", p,
            "4294967295×4294967295×4294967295", "overflow", NULL);
    const uint32_t big[3] = {60000, 28, 28};
    h = idx(3, big, PIX, 12);
    p = put("train-images-idx3-ubyte", h.b, h.n);
    chk_err(ctx, lre_dataset_idx(ctx, &d, p, lp), LRE_EFORMAT,
            "idx: header dims exceed the file", p,
            "truncated: header says 60000×28×28 images (47040000 bytes) but the file holds 12",
            NULL);
    p = put_gz("big.gz", h.b, h.n);
    chk_err(ctx, lre_dataset_idx(ctx, &d, p, lp), LRE_EFORMAT,
            "idx: header dims exceed a gzip file", p, "47040000 bytes", "cannot hold", NULL);
    const uint32_t zero[3] = {3, 0, 2};
    h = idx(3, zero, PIX, 0);
    p = put("zero-dim", h.b, h.n);
    chk_err(ctx, lre_dataset_idx(ctx, &d, p, lp), LRE_EFORMAT, "idx: a zero dimension", p,
            "dimension 2 is 0", NULL);
    buf tr = im;
    tr.b[tr.n++] = 0;
    p = put("trailing", tr.b, tr.n);
    chk_err(ctx, lre_dataset_idx(ctx, &d, p, lp), LRE_EFORMAT, "idx: trailing bytes", p,
            "more data than the header says", NULL);

    /* corrupt gzip: a damaged deflate stream, a bad CRC, a cut stream */
    size_t gn;
    const uint32_t d64[3] = {64, 8, 8};
    static uint8_t pix[64 * 64];
    for (size_t i = 0; i < sizeof pix; i++) pix[i] = (uint8_t)(i * 7 % 13);
    buf raw = {.n = 0};
    be32(&raw, 0x803);
    for (int i = 0; i < 3; i++) be32(&raw, d64[i]);
    uint8_t *big_raw = malloc(16 + sizeof pix);
    memcpy(big_raw, raw.b, 16);
    memcpy(big_raw + 16, pix, sizeof pix);
    uint8_t *g = gzip_bytes(big_raw, 16 + sizeof pix, &gn);
    uint8_t *c = malloc(gn);
    memcpy(c, g, gn);
    for (size_t i = 12; i < gn - 8 && i < 40; i++) c[i] ^= 0xA5;
    p = put("corrupt.gz", c, gn);
    chk_err(ctx, lre_dataset_idx(ctx, &d, p, lp), LRE_EFORMAT, "idx: corrupt gzip stream", p,
            "gzip", NULL);
    memcpy(c, g, gn);
    c[gn - 6] ^= 0xFF; /* CRC-32 */
    p = put("bad-crc.gz", c, gn);
    /* 64 labels: the CRC is only met at the end of the data (nothing reads
     * ahead), so the counts must agree for the load to get there */
    static const uint8_t zeros64[64];
    const uint32_t dl64[1] = {64};
    buf l64 = idx(1, dl64, zeros64, 64);
    chk_err(ctx, lre_dataset_idx(ctx, &d, p, put("labels-64", l64.b, l64.n)), LRE_EFORMAT,
            "idx: gzip CRC mismatch", p, "corrupt gzip", "incorrect data check", NULL);
    p = put("cut.gz", g, gn / 2);
    chk_err(ctx, lre_dataset_idx(ctx, &d, p, lp), LRE_EFORMAT, "idx: gzip stream cut short", p,
            "gzip", "truncated", NULL);
    /* the same faults through the memory path the fuzzers drive */
    memcpy(c, g, gn);
    for (size_t i = 12; i < gn - 8 && i < 40; i++) c[i] ^= 0xA5;
    chk_err(ctx, lre_dataset_idx_mem(ctx, &d, c, gn, lb.b, lb.n), LRE_EFORMAT,
            "idx (memory): corrupt gzip stream", "<images>", "gzip", NULL);
    chk_err(ctx, lre_dataset_idx_mem(ctx, &d, g, gn / 2, lb.b, lb.n), LRE_EFORMAT,
            "idx (memory): gzip stream cut short", "<images>", "truncated", NULL);
    free(g);
    free(c);
    free(big_raw);
    CHECK(d == NULL, "idx: failed loads leave *out NULL", "out is %p", (void *)d);
}

/* ------------------------------------------------------------------ NPY */

static void test_npy(lre_ctx *ctx)
{
    const float f[6] = {0.5f, -1, 2, 3.25f, 1e-3f, 7};
    const int64_t l8[3] = {2, 0, 1};
    lre_dataset *d = NULL;
    buf fb = npy("<f4", "(3, 2)", f, sizeof f), lb = npy("<i8", "(3,)", l8, sizeof l8);
    const char *fp = put("x.npy", fb.b, fb.n), *lp = put("y.npy", lb.b, lb.n);
    if (chk_ok(ctx, lre_dataset_npy(ctx, &d, fp, lp), "npy: f4 features, i8 labels load")) {
        float x[6];
        int32_t y[3];
        int64_t ix[3] = {0, 1, 2};
        chk_must(ctx, lre_dataset_gather(d, ix, 3, x, y, NULL), "gather");
        chk_close_ff("npy: f4 values", f, x, 6, 0, 0);
        CHECK(y[0] == 2 && y[1] == 0 && y[2] == 1 && lre_dataset_num_classes(d) == 3,
              "npy: i8 labels and classes", "got %d %d %d, %lld classes", y[0], y[1], y[2],
              (long long)lre_dataset_num_classes(d));
        lre_dataset_release(d);
    }
    /* u1 stays u8; rows of 2x2 */
    const uint8_t u[8] = {0, 1, 2, 3, 4, 5, 6, 255};
    const uint8_t lu[2] = {1, 0};
    buf ub = npy("|u1", "(2, 2, 2)", u, 8), lub = npy("|u1", "(2,)", lu, 2);
    if (chk_ok(ctx, lre_dataset_npy(ctx, &d, put("u.npy", ub.b, ub.n), put("lu.npy", lub.b, lub.n)),
               "npy: u1 features load")) {
        CHECK(lre_dataset_feature_dtype(d) == LRE_U8 && lre_dataset_row_ndim(d) == 2 &&
                  lre_dataset_features(d) == 4,
              "npy: u1 stays u8, rows of 2x2", "dtype %s, %d dims",
              lre_dtype_name(lre_dataset_feature_dtype(d)), lre_dataset_row_ndim(d));
        lre_dataset_release(d);
    }
    /* f8 → f32 at load, version 2 header; i4 labels of shape (N, 1) */
    const double f8[4] = {1.5, -2.25, 1e-3, 1e30};
    const int32_t l4[2] = {0, 4};
    buf b8 = npy_raw(2, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", f8, 32);
    buf b4 = npy("<i4", "(2, 1)", l4, 8);
    if (chk_ok(ctx, lre_dataset_npy(ctx, &d, put("f8.npy", b8.b, b8.n), put("i4.npy", b4.b, b4.n)),
               "npy: f8 features (v2 header), i4 (N,1) labels load")) {
        float x[4], want[4] = {1.5f, -2.25f, 1e-3f, 1e30f};
        int64_t ix[2] = {0, 1};
        chk_must(ctx, lre_dataset_gather(d, ix, 2, x, NULL, NULL), "gather");
        CHECK(lre_dataset_feature_dtype(d) == LRE_F32, "npy: f8 converted to f32", "dtype %s",
              lre_dtype_name(lre_dataset_feature_dtype(d)));
        chk_close_ff("npy: f8 values rounded to f32", want, x, 4, 0, 0);
        CHECK(lre_dataset_num_classes(d) == 5, "npy: i4 labels, 5 classes", "%lld",
              (long long)lre_dataset_num_classes(d));
        lre_dataset_release(d);
    }
    /* big-endian, version 3; float labels become regression targets with
     * the regression task */
    const uint8_t be[8] = {0x3f, 0x80, 0, 0, 0x40, 0, 0, 0}; /* 1.0f, 2.0f */
    buf bb = npy_raw(3, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", be, 8);
    const float tg[4] = {0.5f, 1, 2, 3};
    buf tb = npy("<f4", "(2, 2)", tg, sizeof tg);
    if (chk_ok(ctx, lre_dataset_npy_task(ctx, &d, put("be.npy", bb.b, bb.n),
                                         put("t.npy", tb.b, tb.n), LRE_TASK_REGRESSION),
               "npy: big-endian f4 (v3 header) with float targets loads")) {
        float x[2], t[4], want[2] = {1, 2};
        int64_t ix[2] = {0, 1};
        chk_must(ctx, lre_dataset_gather(d, ix, 2, x, NULL, t), "gather");
        chk_close_ff("npy: big-endian values", want, x, 2, 0, 0);
        chk_close_ff("npy: float labels are targets", tg, t, 4, 0, 0);
        CHECK(lre_dataset_num_classes(d) == 0 && lre_dataset_target_dim(d) == 2,
              "npy: targets of dimension 2", "classes %lld, target_dim %lld",
              (long long)lre_dataset_num_classes(d), (long long)lre_dataset_target_dim(d));
        lre_dataset_release(d);
    }

    /* the task: classification (the default) refuses what is not a class
     * label, naming its row and the regression task; regression keeps values */
    const float fl[3] = {2, 0, 1}, frac[3] = {1, 0.5f, 2};
    buf flb = npy("<f4", "(3,)", fl, sizeof fl), frb = npy("<f4", "(3,)", frac, sizeof frac);
    if (chk_ok(ctx, lre_dataset_npy(ctx, &d, fp, put("fl.npy", flb.b, flb.n)),
               "npy: float labels that are all integers are class labels")) {
        int32_t y[3];
        int64_t ix[3] = {0, 1, 2};
        chk_must(ctx, lre_dataset_gather(d, ix, 3, NULL, y, NULL), "gather");
        CHECK(y[0] == 2 && y[1] == 0 && y[2] == 1 && lre_dataset_num_classes(d) == 3,
              "npy: integer-valued float labels give classes", "got %d %d %d, %lld classes",
              y[0], y[1], y[2], (long long)lre_dataset_num_classes(d));
        lre_dataset_release(d);
    }
    const char *frp = put("frac.npy", frb.b, frb.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, fp, frp), LRE_EFORMAT,
            "npy: a fractional label is refused, not silently regression", frp, "label 0.5",
            "row 2", "not an integer", "task \"regression\"", NULL);
    chk_err(ctx, lre_dataset_npy_task(ctx, &d, fp, frp, LRE_TASK_CLASSIFICATION), LRE_EFORMAT,
            "npy: an explicit classification refuses it too", "row 2", NULL);
    chk_err(ctx, lre_dataset_npy(ctx, &d, fp, put("t32.npy", tb.b, tb.n)), LRE_EFORMAT,
            "npy: (N, k) float labels need the regression task", "(2, 2)", "regression", NULL);
    if (chk_ok(ctx, lre_dataset_npy_task(ctx, &d, fp, frp, LRE_TASK_REGRESSION),
               "npy: fractional labels load as targets with the regression task")) {
        float t[3];
        int64_t ix[3] = {0, 1, 2};
        chk_must(ctx, lre_dataset_gather(d, ix, 3, NULL, NULL, t), "gather");
        chk_close_ff("npy: regression targets", frac, t, 3, 0, 0);
        CHECK(lre_dataset_num_classes(d) == 0 && lre_dataset_target_dim(d) == 1,
              "npy: regression gives no classes, 1 target", "classes %lld, target_dim %lld",
              (long long)lre_dataset_num_classes(d), (long long)lre_dataset_target_dim(d));
        lre_dataset_release(d);
    }
    if (chk_ok(ctx, lre_dataset_npy_task(ctx, &d, fp, lp, LRE_TASK_REGRESSION),
               "npy: integer labels load as targets with the regression task")) {
        float t[3], want[3] = {2, 0, 1};
        int64_t ix[3] = {0, 1, 2};
        chk_must(ctx, lre_dataset_gather(d, ix, 3, NULL, NULL, t), "gather");
        chk_close_ff("npy: i8 labels as float targets", want, t, 3, 0, 0);
        lre_dataset_release(d);
    }
    chk_err(ctx, lre_dataset_npy_task(ctx, &d, fp, lp, (lre_task)7), LRE_EINVAL,
            "npy: a task outside the enum", "task 7", NULL);

    /* bad files */
    const char *p;
    char missing[320];
    snprintf(missing, sizeof missing, "%s/missing.npy", g_dir);
    chk_err(ctx, lre_dataset_npy(ctx, &d, missing, lp), LRE_EIO, "npy: missing file", missing,
            "cannot open", NULL);
    p = put("empty.npy", "", 0);
    chk_err(ctx, lre_dataset_npy(ctx, &d, p, lp), LRE_EFORMAT, "npy: empty file", p, "empty",
            NULL);
    p = put_s("magic.npy", "PK\x03\x04 not numpy at all");
    chk_err(ctx, lre_dataset_npy(ctx, &d, p, lp), LRE_EFORMAT, "npy: wrong magic", p,
            "not an NPY file", NULL);
    p = put("trunc-head.npy", fb.b, 30);
    chk_err(ctx, lre_dataset_npy(ctx, &d, p, lp), LRE_EFORMAT, "npy: truncated header", p,
            "truncated header", NULL);
    p = put("trunc-data.npy", fb.b, fb.n - 5);
    chk_err(ctx, lre_dataset_npy(ctx, &d, p, lp), LRE_EFORMAT, "npy: truncated data", p,
            "truncated", "(3, 2)", "24 bytes", "holds 19", NULL);
    buf m = npy_raw(1, "{'descr': '<f4' 'fortran_order': False, 'shape': (3, 2), }", f, 24);
    p = put("dict.npy", m.b, m.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, p, lp), LRE_EFORMAT, "npy: malformed header dict", p,
            "malformed header dict", "character 17", "expected ',' or '}'", NULL);
    m = npy_raw(1, "{'descr': '<f4', 'fortran_order': False}", f, 24);
    p = put("noshape.npy", m.b, m.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, p, lp), LRE_EFORMAT, "npy: header without shape", p,
            "no 'shape' key", NULL);
    m = npy_raw(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), 'x': 1}", f, 24);
    p = put("extrakey.npy", m.b, m.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, p, lp), LRE_EFORMAT, "npy: unexpected key", p,
            "unexpected key 'x'", NULL);
    m = npy("<f2", "(3, 2)", f, 12);
    p = put("f2.npy", m.b, m.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, p, lp), LRE_EFORMAT, "npy: unsupported dtype", p,
            "unsupported dtype '<f2'", NULL);
    m = npy("|O", "(3,)", f, 24);
    p = put("obj.npy", m.b, m.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, p, lp), LRE_EFORMAT, "npy: object array refused", p,
            "object arrays", NULL);
    m = npy_raw(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }", f, 12);
    p = put("struct.npy", m.b, m.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, p, lp), LRE_EFORMAT, "npy: structured dtype refused", p,
            "structured", NULL);
    m = npy_raw(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }", f, 24);
    p = put("fortran.npy", m.b, m.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, p, lp), LRE_EFORMAT, "npy: Fortran order refused", p,
            "Fortran order", NULL);
    m = fb;
    m.b[6] = 4;
    p = put("v4.npy", m.b, m.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, p, lp), LRE_EFORMAT, "npy: unsupported version", p,
            "version 4.0", NULL);
    m = npy("<f4", "(18446744073709551615, 2)", f, 24);
    p = put("overflow.npy", m.b, m.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, p, lp), LRE_EFORMAT, "npy: huge shape", p, NULL);
    m = npy("<f4", "(4611686018427387904, 4611686018427387904)", f, 24);
    p = put("overflow2.npy", m.b, m.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, p, lp), LRE_EFORMAT, "npy: shape product overflows", p,
            "overflows", NULL);
    m = npy("<f4", "(0, 2)", f, 0);
    p = put("zero.npy", m.b, m.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, p, lp), LRE_EFORMAT, "npy: no rows", p, "holds no data",
            NULL);
    buf l2 = npy("<i8", "(2,)", l8, 16);
    p = put("y2.npy", l2.b, l2.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, fp, p), LRE_EFORMAT, "npy: feature and label counts disagree",
            fp, p, "3 rows", NULL);
    /* non-finite features: refused with row and column */
    float fn[6] = {0, 1, 2, 3, NAN, 5};
    m = npy("<f4", "(3, 2)", fn, 24);
    p = put("nan.npy", m.b, m.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, p, lp), LRE_EFORMAT, "npy: NaN feature refused", p,
            "row 3, column 1", "nan", "finite", NULL);
    double dn[4] = {0, 1, INFINITY, 3};
    m = npy("<f8", "(2, 2)", dn, 32);
    p = put("inf.npy", m.b, m.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, p, put("i4b.npy", b4.b, b4.n)), LRE_EFORMAT,
            "npy: inf feature refused", p, "row 2, column 1", "inf", NULL);
    double dbig[4] = {0, 1e300, 2, 3};
    m = npy("<f8", "(2, 2)", dbig, 32);
    p = put("big.npy", m.b, m.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, p, put("i4c.npy", b4.b, b4.n)), LRE_EFORMAT,
            "npy: f8 outside f32's range refused", p, "row 1, column 2", "float32", NULL);
    /* labels: negative, beyond int32 */
    const int64_t neg[3] = {0, -3, 1}, huge[3] = {0, 1, (int64_t)1 << 40};
    m = npy("<i8", "(3,)", neg, 24);
    p = put("neg.npy", m.b, m.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, fp, p), LRE_EFORMAT, "npy: negative label", p,
            "label -3 at row 2", "negative", NULL);
    m = npy("<i8", "(3,)", huge, 24);
    p = put("huge.npy", m.b, m.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, fp, p), LRE_EFORMAT, "npy: label beyond int32", p,
            "label 1099511627776 at row 3", "too large", NULL);
    static const uint8_t zeros[64];
    m = npy("<i8", "(3, 2)", zeros, 48);
    p = put("ylab2d.npy", m.b, m.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, fp, p), LRE_EFORMAT, "npy: 2-D integer labels", p,
            "(3, 2)", NULL);
    m = fb;
    m.b[m.n++] = 1;
    p = put("trail.npy", m.b, m.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, p, lp), LRE_EFORMAT, "npy: trailing bytes", p,
            "more data", NULL);
    /* gzip-compressed .npy works too */
    p = put_gz("x.npy.gz", fb.b, fb.n);
    if (chk_ok(ctx, lre_dataset_npy(ctx, &d, p, lp), "npy: a gzipped .npy loads"))
        lre_dataset_release(d);
    d = NULL;
}

/* ------------------------------------------------------------------ CSV */

static void test_csv(lre_ctx *ctx)
{
    lre_dataset *d = NULL;
    lre_csv_opts o = lre_csv_opts_default();
    const char *p = put_s("iris.csv", "sepal,petal,species,width\n"
                                      "1.5, 2,0,3\n"
                                      "-4e2,5,2,6\n"
                                      "7,8,1,9\n");
    o.label_name = "species";
    if (chk_ok(ctx, lre_dataset_csv(ctx, &d, p, &o), "csv: header, label by name")) {
        float x[9], want[9] = {1.5f, 2, 3, -400, 5, 6, 7, 8, 9};
        int32_t y[3];
        int64_t ix[3] = {0, 1, 2};
        chk_must(ctx, lre_dataset_gather(d, ix, 3, x, y, NULL), "gather");
        chk_close_ff("csv: feature values (label column left out)", want, x, 9, 0, 0);
        CHECK(y[0] == 0 && y[1] == 2 && y[2] == 1 && lre_dataset_num_classes(d) == 3 &&
                  lre_dataset_features(d) == 3,
              "csv: labels", "got %d %d %d", y[0], y[1], y[2]);
        lre_dataset_release(d);
    }
    o = lre_csv_opts_default();
    o.label_index = 1;
    o.delimiter = ';';
    p = put_s("semi.csv", "1;\"2.5\";3\r\n0; 4 ;\"5\"\r\n\r\n\n");
    if (chk_ok(ctx, lre_dataset_csv(ctx, &d, p, &o),
               "csv: no header, label column 1, ';', quotes, CRLF, trailing blank lines")) {
        float x[4], want[4] = {2.5f, 3, 4, 5};
        int32_t y[2];
        int64_t ix[2] = {0, 1};
        chk_must(ctx, lre_dataset_gather(d, ix, 2, x, y, NULL), "gather");
        chk_close_ff("csv: values", want, x, 4, 0, 0);
        CHECK(y[0] == 1 && y[1] == 0 && lre_dataset_size(d) == 2, "csv: labels from column 1",
              "got %d %d, %lld rows", y[0], y[1], (long long)lre_dataset_size(d));
        lre_dataset_release(d);
    }
    /* the task: a fractional label is an error pointing to regression, which
     * reads the column as float targets */
    p = put_s("price.csv", "a,price\n1,3\n2,4.25\n");
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT,
            "csv: a fractional label is refused, not silently regression", p, "line 3",
            "4.25", "not an integer", "task \"regression\"", NULL);
    o = lre_csv_opts_default();
    o.task = LRE_TASK_REGRESSION;
    if (chk_ok(ctx, lre_dataset_csv(ctx, &d, p, &o), "csv: task regression reads targets")) {
        float x[2], t[2], wx[2] = {1, 2}, wt[2] = {3, 4.25f};
        int64_t ix[2] = {0, 1};
        chk_must(ctx, lre_dataset_gather(d, ix, 2, x, NULL, t), "gather");
        chk_close_ff("csv: regression features", wx, x, 2, 0, 0);
        chk_close_ff("csv: regression targets", wt, t, 2, 0, 0);
        CHECK(lre_dataset_num_classes(d) == 0 && lre_dataset_target_dim(d) == 1,
              "csv: regression gives 1 target, no classes", "classes %lld, target_dim %lld",
              (long long)lre_dataset_num_classes(d), (long long)lre_dataset_target_dim(d));
        lre_dataset_release(d);
    }
    p = put_s("nantarget.csv", "a,y\n1,nan\n");
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, &o), LRE_EFORMAT, "csv: a NaN target is refused",
            p, "line 2", "target", "not finite", NULL);
    o.task = (lre_task)-1;
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, &o), LRE_EINVAL, "csv: a task outside the enum",
            "task -1", NULL);
    o = lre_csv_opts_default();
    p = put_s("default.csv", "label,a,b\n3,1,2\n0,3,4\n");
    if (chk_ok(ctx, lre_dataset_csv(ctx, &d, p, NULL), "csv: defaults find the 'label' column")) {
        CHECK(lre_dataset_num_classes(d) == 4 && lre_dataset_features(d) == 2,
              "csv: 'label' column used", "classes %lld", (long long)lre_dataset_num_classes(d));
        lre_dataset_release(d);
    }
    p = put_s("last.csv", "1,2,1\n3,4,0\n");
    if (chk_ok(ctx, lre_dataset_csv(ctx, &d, p, NULL), "csv: defaults: no header, last column")) {
        int32_t y[2];
        int64_t ix[2] = {0, 1};
        chk_must(ctx, lre_dataset_gather(d, ix, 2, NULL, y, NULL), "gather");
        CHECK(y[0] == 1 && y[1] == 0, "csv: last column as labels", "got %d %d", y[0], y[1]);
        lre_dataset_release(d);
    }
    const char *gzt = "a,b,label\n1,2,0\n";
    p = put_gz("z.csv.gz", gzt, strlen(gzt));
    if (chk_ok(ctx, lre_dataset_csv(ctx, &d, p, NULL), "csv: gzipped CSV loads"))
        lre_dataset_release(d);
    d = NULL;

    /* bad files: the message names file, line and column */
    char missing[320];
    snprintf(missing, sizeof missing, "%s/missing.csv", g_dir);
    chk_err(ctx, lre_dataset_csv(ctx, &d, missing, NULL), LRE_EIO, "csv: missing file", missing,
            "cannot open", NULL);
    p = put_s("empty.csv", "");
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT, "csv: empty file", p, "empty",
            NULL);
    p = put_s("blank.csv", "\n\n  \n");
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT, "csv: only blank lines", p,
            "empty", NULL);
    p = put_s("nonnum.csv", "a,b,label\n1,2,0\n3,abc,1\n");
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT, "csv: non-numeric cell", p,
            "line 3, column 2", "(\"b\")", "\"abc\" is not a number", NULL);
    p = put_s("short.csv", "a,b,label\n1,2,0\n3,4\n");
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT, "csv: ragged row (short)", p,
            "line 3, column 3", "missing", "2 columns", NULL);
    p = put_s("long.csv", "1,2,0\n3,4,1,5\n");
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT, "csv: ragged row (long)", p,
            "line 2, column 4", "extra cell", "4 columns", NULL);
    p = put_s("gap.csv", "a,b,label\n1,2,0\n\n3,4,1\n");
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT, "csv: empty line in the middle",
            p, "line 3", "empty line", NULL);
    p = put_s("emptycell.csv", "1,2,0\n1,,0\n");
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT, "csv: empty cell", p,
            "line 2, column 2", "empty cell", NULL);
    p = put_s("quote.csv", "1,\"2,0\n");
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT, "csv: unterminated quote", p,
            "line 1", "unterminated", NULL);
    p = put_s("cols.csv", "a,b,c\n1,2,0\n");
    o = lre_csv_opts_default();
    o.label_name = "species";
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, &o), LRE_EFORMAT, "csv: missing label column (name)",
            p, "line 1", "no column named \"species\"", "a,b,c", NULL);
    o = lre_csv_opts_default();
    o.label_index = 7;
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, &o), LRE_EFORMAT, "csv: missing label column (index)",
            p, "label column 7", "3 columns", NULL);
    o = lre_csv_opts_default();
    o.label_name = "a";
    o.header = 0;
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, &o), LRE_EFORMAT, "csv: label by name, header off",
            p, "no header line", NULL);
    p = put_s("one.csv", "1\n2\n");
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT, "csv: one column", p,
            "one column", NULL);
    p = put_s("nan.csv", "a,b,label\n1,2,0\nnan,4,1\n");
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT, "csv: NaN feature", p,
            "line 3, column 1", "not finite", NULL);
    p = put_s("inf.csv", "1,-inf,0\n");
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT, "csv: inf feature", p,
            "line 1, column 2", "not finite", NULL);
    p = put_s("range.csv", "1,1e39,0\n");
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT, "csv: beyond float32", p,
            "line 1, column 2", "float32", NULL);
    p = put_s("neg.csv", "1,2,0\n1,2,-1\n");
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT, "csv: negative label", p,
            "line 2, column 3", "negative", NULL);
    p = put_s("frac.csv", "1,2,0.5\n");
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT, "csv: fractional label", p,
            "line 1, column 3", "not an integer", NULL);
    p = put_s("bigl.csv", "1,2,3000000000\n");
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT, "csv: label too large", p,
            "line 1, column 3", "too large", NULL);
    p = put_s("hdronly.csv", "a,b,label\n");
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT, "csv: header only", p,
            "no data", NULL);
    o = lre_csv_opts_default();
    o.delimiter = '"';
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, &o), LRE_EINVAL, "csv: bad delimiter", "delimiter",
            NULL);
    CHECK(d == NULL, "csv: failed loads leave *out NULL", "out is %p", (void *)d);
}

/* Releases a dataset a load that should have failed made (so that a broken
 * loader fails its own checks, not the leak check at the end). */
static void drop(lre_dataset **d)
{
    lre_dataset_release(*d);
    *d = NULL;
}

/* The text of a CSV as lrengine.results' curve reader takes it
 * (spec/curve_csv_spec.lua): decimal numbers only, a cell of at most 127
 * characters, a UTF-8 byte order mark skipped, lines ending with a CR
 * alone named. Gzip files go through the same parser after decompression;
 * the checks on the start of the text are run on both. */
static void test_csv_text(lre_ctx *ctx)
{
    lre_dataset *d = NULL;
    /* hexadecimal, which strtod reads: "not a number" as any other text */
    static const char *const hex[] = {"0x10", "0X1p4", "-0x2", "\"0x10\"", " 0x3 "};
    static const char *const shown[] = {"0x10", "0X1p4", "-0x2", "0x10", "0x3"};
    for (size_t i = 0; i < sizeof hex / sizeof *hex; i++) {
        char text[128];
        snprintf(text, sizeof text, "a,b,label\n1,2,0\n%s,2,1\n", hex[i]);
        const char *p = put_s(chk_name("hex%zu.csv", i), text);
        char want[64];
        snprintf(want, sizeof want, "\"%s\" is not a number", shown[i]);
        chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT,
                chk_name("csv text: hexadecimal %s is not a number", hex[i]), p,
                "line 3, column 1", "(\"a\")", want, NULL);
        drop(&d);
    }
    const char *p = put_s("hexlabel.csv", "a,b,label\n1,2,0x1\n");
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT,
            "csv text: a hexadecimal label is not a number", p, "line 2, column 3",
            "\"0x1\" is not a number", NULL);
    drop(&d);
    const char *hexz = "a,b,label\n1,2,0\n0x10,2,1\n";
    p = put_gz("hex.csv.gz", hexz, strlen(hexz));
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT,
            "csv text: gzip: hexadecimal is not a number", p, "line 3, column 1",
            "\"0x10\" is not a number", NULL);
    drop(&d);

    /* lines ending with a carriage return alone (old Mac OS) */
    static const char *const cr[] = {"a,b,label\r1,2,0\r3,4,1\r", "1,2,0\r3,4,1\r",
                                     "1,2,0\r3,4,1"};
    for (size_t i = 0; i < sizeof cr / sizeof *cr; i++) {
        p = put_s(chk_name("cr%zu.csv", i), cr[i]);
        chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT,
                chk_name("csv text: CR-only line endings named (%zu)", i), p,
                "its lines end with a carriage return alone (old Mac OS)",
                "convert them to LF or CRLF", NULL);
        drop(&d);
    }
    p = put_gz("cr.csv.gz", cr[0], strlen(cr[0]));
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT,
            "csv text: gzip: CR-only line endings named", p, "carriage return alone",
            "LF or CRLF", NULL);
    drop(&d);
    chk_err(ctx, lre_dataset_csv_mem(ctx, &d, "mem.csv", cr[1], strlen(cr[1]), NULL),
            LRE_EFORMAT, "csv text: memory: CR-only line endings named", "mem.csv",
            "carriage return alone", NULL);
    drop(&d);
    const char *bomcr = "\xEF\xBB\xBF" "a,b,label\r1,2,0\r";
    p = put_s("bomcr.csv", bomcr);
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT,
            "csv text: CR-only line endings after a byte order mark", p,
            "carriage return alone", NULL);
    drop(&d);

    /* a cell over 127 characters: too long, not "not a number" */
    char text[600], cellbuf[256];
    memset(cellbuf, '1', 200);
    cellbuf[200] = 0;
    snprintf(text, sizeof text, "a,b,label\n1,2,0\n3,%s,1\n", cellbuf);
    p = put_s("longcell.csv", text);
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT,
            "csv text: a 200-character cell is too long", p, "line 3, column 2", "(\"b\")",
            "too long (200 characters; at most 127)", NULL);
    drop(&d);
    snprintf(text, sizeof text, "1,2,0\n3,\"%.148s\"\"\",1\n", cellbuf);
    p = put_s("longquoted.csv", text);
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT,
            "csv text: a quoted cell counts its characters unquoted", p, "line 2, column 2",
            "too long (149 characters; at most 127)", NULL);
    drop(&d);
    snprintf(text, sizeof text, "1,2,0\n3,1,%.128s\n", cellbuf);
    p = put_s("longlabel.csv", text);
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT,
            "csv text: 128 characters are one too many", p, "line 2, column 3",
            "too long (128 characters; at most 127)", NULL);
    drop(&d);
    p = put_gz("longcell.csv.gz", text, strlen(text));
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT,
            "csv text: gzip: a long cell is too long", p, "line 2, column 3", "too long", NULL);
    drop(&d);
    /* 127 characters are still read: 0.111...1 */
    char ok_cell[128];
    ok_cell[0] = '0';
    ok_cell[1] = '.';
    memset(ok_cell + 2, '1', 125);
    ok_cell[127] = 0;
    snprintf(text, sizeof text, "a,b,label\n1,%s,0\n", ok_cell);
    p = put_s("cell127.csv", text);
    if (chk_ok(ctx, lre_dataset_csv(ctx, &d, p, NULL), "csv text: a 127-character cell reads")) {
        float x[2];
        int64_t ix[1] = {0};
        chk_must(ctx, lre_dataset_gather(d, ix, 1, x, NULL, NULL), "gather");
        CHECK(fabsf(x[1] - 0.1111111f) < 1e-6f, "csv text: the 127-character value",
              "got %.9g", (double)x[1]);
    }
    drop(&d);

    /* a UTF-8 byte order mark before the header or the first data line */
    static const char bomhdr[] = "\xEF\xBB\xBF" "a,b,label\n1,2,0\n3,4,1\n";
    static const char bomdata[] = "\xEF\xBB\xBF" "5,6,1\n7,8,0\n";
    for (int z = 0; z < 2; z++) {
        const char *what = z ? "gzip" : "plain";
        p = z ? put_gz("bomhdr.csv.gz", bomhdr, strlen(bomhdr)) : put_s("bomhdr.csv", bomhdr);
        lre_csv_opts o = lre_csv_opts_default();
        o.label_name = "a"; /* the first header cell: found only without the mark */
        if (chk_ok(ctx, lre_dataset_csv(ctx, &d, p, &o),
                   chk_name("csv text: %s: BOM before the header skipped (column \"a\")", what)) &&
            CHECK(lre_dataset_size(d) == 2, chk_name("csv text: %s: BOM + header: 2 rows", what),
                  "%lld rows", (long long)lre_dataset_size(d))) {
            float x[4], want[4] = {2, 0, 4, 1};
            int32_t y[2];
            int64_t ix[2] = {0, 1};
            chk_must(ctx, lre_dataset_gather(d, ix, 2, x, y, NULL), "gather");
            chk_close_ff(chk_name("csv text: %s: BOM + header: features", what), want, x, 4, 0,
                         0);
            CHECK(y[0] == 1 && y[1] == 3,
                  chk_name("csv text: %s: BOM + header: labels from column \"a\"", what),
                  "got %d %d", y[0], y[1]);
        }
        drop(&d);
        p = z ? put_gz("bomdata.csv.gz", bomdata, strlen(bomdata))
              : put_s("bomdata.csv", bomdata);
        if (chk_ok(ctx, lre_dataset_csv(ctx, &d, p, NULL),
                   chk_name("csv text: %s: BOM before the first data line skipped", what)) &&
            CHECK(lre_dataset_size(d) == 2,
                  chk_name("csv text: %s: BOM + data: every row kept", what), "%lld rows",
                  (long long)lre_dataset_size(d))) {
            float x[4], want[4] = {5, 6, 7, 8};
            int32_t y[2];
            int64_t ix[2] = {0, 1};
            chk_must(ctx, lre_dataset_gather(d, ix, 2, x, y, NULL), "gather");
            chk_close_ff(chk_name("csv text: %s: BOM + data: features", what), want, x, 4, 0, 0);
            CHECK(y[0] == 1 && y[1] == 0, chk_name("csv text: %s: BOM + data: labels", what),
                  "got %d %d", y[0], y[1]);
        }
        drop(&d);
    }
}

/* --------------------------------------------------------- Fashion-MNIST */

static void test_fashion_mnist(lre_ctx *ctx)
{
    lre_dataset *d = NULL;
    char dir[320], sub[340], none[340];
    snprintf(dir, sizeof dir, "%s/fmnist", g_dir);
    snprintf(none, sizeof none, "%s/nowhere", g_dir);
    /* $LRENGINE_DATA naming a folder that is not there: an error naming it,
     * not a silent fall back to the system's copy */
    chk_err(ctx, lre_fashion_mnist_in(ctx, &d, "train", dir, LRE_FASHION_MNIST_DIR), LRE_EIO,
            "fashion_mnist: $LRENGINE_DATA naming a missing folder is an error naming it",
            "$LRENGINE_DATA=", dir, "is not a folder", NULL);
    if (mkdir(dir, 0700) != 0) chk_fatal("mkdir", "%s", dir);
    chk_err(ctx, lre_fashion_mnist_in(ctx, &d, "train", dir, none), LRE_EIO,
            "fashion_mnist: missing data names the directories and the install command",
            "apt-get install dataset-fashion-mnist", dir, none, "train-images-idx3-ubyte.gz",
            NULL);
    chk_err(ctx, lre_dataset_fashion_mnist(ctx, &d, "validation"), LRE_EINVAL,
            "fashion_mnist: unknown split", "\"validation\"", "train", NULL);

    /* a tiny stand-in in $LRENGINE_DATA/fashion-mnist: 2 images of 28x28 */
    snprintf(sub, sizeof sub, "%s/fashion-mnist", dir);
    if (mkdir(sub, 0700) != 0) chk_fatal("mkdir", "%s", sub);
    static uint8_t img[16 + 2 * 784];
    buf h = {.n = 0};
    be32(&h, 0x803);
    be32(&h, 2);
    be32(&h, 28);
    be32(&h, 28);
    memcpy(img, h.b, 16);
    for (int i = 0; i < 2 * 784; i++) img[16 + i] = (uint8_t)i;
    const uint32_t dl[1] = {2};
    const uint8_t lab[2] = {9, 3};
    buf lb = idx(1, dl, lab, 2);
    char name[400];
    snprintf(name, sizeof name, "fmnist/fashion-mnist/t10k-images-idx3-ubyte.gz");
    put_gz(name, img, sizeof img);
    snprintf(name, sizeof name, "fmnist/fashion-mnist/t10k-labels-idx1-ubyte");
    put(name, lb.b, lb.n);
    if (chk_ok(ctx, lre_fashion_mnist_in(ctx, &d, "test", dir, none),
               "fashion_mnist: found in $LRENGINE_DATA/fashion-mnist (.gz and plain)")) {
        CHECK(lre_dataset_size(d) == 2 && lre_dataset_num_classes(d) == 10 &&
                  lre_dataset_feature_dtype(d) == LRE_U8,
              "fashion_mnist: stand-in has 2 rows, 10 classes, u8",
              "%lld rows, %lld classes", (long long)lre_dataset_size(d),
              (long long)lre_dataset_num_classes(d));
        lre_dataset_release(d);
        d = NULL;
    }
    /* labels above 9 are not Fashion-MNIST */
    const uint8_t bad[2] = {10, 3};
    buf lb2 = idx(1, dl, bad, 2);
    put(name, lb2.b, lb2.n);
    chk_err(ctx, lre_fashion_mnist_in(ctx, &d, "test", dir, none), LRE_EFORMAT,
            "fashion_mnist: a label of 10 is refused", "label 10 at row 1", "[0, 10)", NULL);

    /* the real data, when Debian's package is installed */
    if (access(LRE_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0) {
        printf("SKIP fashion_mnist: real data: %s is not installed "
               "(apt-get install dataset-fashion-mnist)\n", LRE_FASHION_MNIST_DIR);
        return;
    }
    uint64_t live0 = lre_ctx_bytes_live(ctx);
    if (!chk_ok(ctx, lre_fashion_mnist_in(ctx, &d, "train", NULL, LRE_FASHION_MNIST_DIR),
                "fashion_mnist: train split loads from " LRE_FASHION_MNIST_DIR))
        return;
    uint64_t used = lre_ctx_bytes_live(ctx) - live0;
    CHECK(lre_dataset_size(d) == 60000 && lre_dataset_row_dim(d, 0) == 28 &&
              lre_dataset_row_dim(d, 1) == 28 && lre_dataset_num_classes(d) == 10,
          "fashion_mnist: train is 60000 x 28x28, 10 classes", "%lld rows",
          (long long)lre_dataset_size(d));
    CHECK(used < 48u * 1000 * 1000, "fashion_mnist: train takes < 48 MB (u8 pixels)",
          "%.1f MB", (double)used / 1e6);
    /* the label histogram: 6000 of each class */
    int64_t *ix = malloc(sizeof *ix * 60000);
    int32_t *y = malloc(sizeof *y * 60000);
    int cnt[10] = {0}, ok = 1;
    for (int64_t i = 0; i < 60000; i++) ix[i] = i;
    chk_must(ctx, lre_dataset_gather(d, ix, 60000, NULL, y, NULL), "gather labels");
    for (int i = 0; i < 60000; i++) cnt[y[i]]++;
    for (int c = 0; c < 10; c++) ok &= cnt[c] == 6000;
    CHECK(ok, "fashion_mnist: 6000 training images per class", "class 0: %d", cnt[0]);
    float mean, std;
    lre_dataset *s = NULL;
    chk_must(ctx, lre_dataset_scale(d, &s, 1.0f / 255), "scale");
    chk_must(ctx, lre_dataset_stats(s, 0, &mean, &std), "stats");
    /* torchvision's usual FashionMNIST normalisation is (0.2860, 0.3530) */
    chk_close1("fashion_mnist: pixel mean after /255 (0.2860)", 0.2860, mean, 5e-4, 0);
    chk_close1("fashion_mnist: pixel std after /255 (0.3530)", 0.3530, std, 5e-4, 0);
    lre_dataset_release(s);
    lre_dataset_release(d);
    free(ix);
    free(y);
}

/* ------------------------------------------------- transforms and stats */

static void test_transforms(lre_ctx *ctx)
{
    /* u8 rows: feature 0 varies, feature 1 is constant, feature 2 varies */
    const uint32_t di[2] = {4, 3}, dl[1] = {4};
    const uint8_t px[12] = {0, 5, 10, 100, 5, 20, 200, 5, 30, 50, 5, 40};
    const uint8_t lab[4] = {0, 1, 0, 1};
    buf im = idx(2, di, px, 12), lb = idx(1, dl, lab, 4);
    lre_dataset *d = NULL, *s = NULL, *n = NULL, *z = NULL, *sub = NULL;
    chk_must(ctx, lre_dataset_idx_mem(ctx, &d, im.b, im.n, lb.b, lb.n), "idx_mem");
    chk_must(ctx, lre_dataset_scale(d, &s, 0.5f), "scale");

    /* reference statistics in double, after the scale */
    double gm = 0, gv = 0, fm[3] = {0}, fv[3] = {0};
    for (int i = 0; i < 12; i++) gm += px[i] * 0.5 / 12;
    for (int i = 0; i < 12; i++) gv += (px[i] * 0.5 - gm) * (px[i] * 0.5 - gm) / 12;
    for (int c = 0; c < 3; c++) {
        for (int r = 0; r < 4; r++) fm[c] += px[r * 3 + c] * 0.5 / 4;
        for (int r = 0; r < 4; r++) fv[c] += (px[r * 3 + c] * 0.5 - fm[c]) * (px[r * 3 + c] * 0.5 - fm[c]) / 4;
    }
    float m1, s1, m3[3], s3[3];
    chk_must(ctx, lre_dataset_stats(s, 0, &m1, &s1), "stats");
    double got[2] = {m1, s1}, want[2] = {gm, sqrt(gv)};
    float gotf[2] = {(float)got[0], (float)got[1]};
    chk_close("stats: global mean and std of u8 x 0.5", want, gotf, 2, 1e-6, 1e-6);
    chk_must(ctx, lre_dataset_stats(s, 1, m3, s3), "stats per feature");
    double w6[6] = {fm[0], fm[1], fm[2], sqrt(fv[0]), sqrt(fv[1]), sqrt(fv[2])};
    float g6[6] = {m3[0], m3[1], m3[2], s3[0], s3[1], s3[2]};
    chk_close("stats: per-feature mean and std of u8 x 0.5", w6, g6, 6, 1e-6, 1e-6);

    /* per-feature normalisation in gather */
    const float mean[3] = {1, 2, 3}, sd[3] = {2, 4, 0.5f};
    chk_must(ctx, lre_dataset_normalize_per_feature(s, &n, mean, sd), "normalize_per_feature");
    int64_t ix[4] = {3, 1, 0, 2};
    float x[12], wx[12];
    chk_must(ctx, lre_dataset_gather(n, ix, 4, x, NULL, NULL), "gather");
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 3; c++)
            wx[r * 3 + c] = ((float)px[ix[r] * 3 + c] * 0.5f - mean[c]) / sd[c];
    chk_close_ff("normalize_per_feature: gather gives (x*scale - mean[c]) / std[c]", wx, x, 12,
                 1e-6, 1e-6);
    float ts, tm[3], tsd[3];
    CHECK(lre_dataset_transform(n, &ts, tm, tsd) == 1 && ts == 0.5f && tm[2] == 3 && tsd[1] == 4,
          "transform: reports per-feature mean/std and the scale", "scale %g", (double)ts);
    /* scaling after normalising changes the stored-value factor only */
    lre_dataset *n2 = NULL;
    chk_must(ctx, lre_dataset_scale(n, &n2, 2.0f), "scale after normalize");
    chk_must(ctx, lre_dataset_gather(n2, ix, 4, x, NULL, NULL), "gather");
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 3; c++)
            wx[r * 3 + c] = ((float)px[ix[r] * 3 + c] * 1.0f - mean[c]) / sd[c];
    chk_close_ff("normalize_per_feature then scale(2): x*1 - mean[c]", wx, x, 12, 1e-6, 1e-6);
    lre_dataset_release(n2);
    /* subsets and splits keep the transform */
    int64_t pick[2] = {2, 0};
    chk_must(ctx, lre_dataset_subset(n, &sub, 2, pick), "subset");
    int64_t i01[2] = {0, 1};
    float xs[6];
    chk_must(ctx, lre_dataset_gather(sub, i01, 2, xs, NULL, NULL), "gather");
    for (int c = 0; c < 3; c++) {
        wx[c] = ((float)px[2 * 3 + c] * 0.5f - mean[c]) / sd[c];
        wx[3 + c] = ((float)px[c] * 0.5f - mean[c]) / sd[c];
    }
    chk_close_ff("subset keeps the per-feature normalisation", wx, xs, 6, 1e-6, 1e-6);
    /* a global normalize replaces the per-feature one */
    lre_dataset *g = NULL;
    chk_must(ctx, lre_dataset_normalize(n, &g, 1.0f, 2.0f), "normalize");
    CHECK(lre_dataset_transform(g, NULL, NULL, NULL) == 0, "normalize replaces per-feature",
          "still per feature");
    lre_dataset_release(g);

    /* standardize: mean 0, std 1; the constant feature becomes 0, not NaN */
    chk_must(ctx, lre_dataset_standardize(s, &z, 1), "standardize");
    int64_t all[4] = {0, 1, 2, 3};
    chk_must(ctx, lre_dataset_gather(z, all, 4, x, NULL, NULL), "gather");
    double cm[3] = {0}, cv[3] = {0};
    int finite = 1;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 3; c++) {
            cm[c] += x[r * 3 + c] / 4.0;
            finite &= isfinite(x[r * 3 + c]);
        }
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 3; c++) cv[c] += (x[r * 3 + c] - cm[c]) * (x[r * 3 + c] - cm[c]) / 4;
    double wz[6] = {0, 0, 0, 1, 0, 1};
    float gz6[6] = {(float)cm[0], (float)cm[1], (float)cm[2], (float)cv[0], (float)cv[1],
                    (float)cv[2]};
    CHECK(finite, "standardize: all values finite (constant feature)", "NaN or inf in output");
    chk_close("standardize per feature: means 0, variances 1 (constant feature 0)", wz, gz6, 6,
              1e-5, 1e-5);
    lre_dataset *zg = NULL;
    chk_must(ctx, lre_dataset_standardize(s, &zg, 0), "standardize global");
    float zm, zs;
    lre_dataset_transform(zg, NULL, &zm, &zs);
    float wzz[2] = {(float)gm, (float)sqrt(gv)}, gzz[2] = {zm, zs};
    chk_close_ff("standardize global: uses the global mean and std", wzz, gzz, 2, 1e-6, 1e-6);
    lre_dataset_release(zg);

    /* bad arguments */
    lre_dataset *bad = NULL;
    const float sd0[3] = {1, 0, 1}, mnan[3] = {0, NAN, 0};
    chk_err(ctx, lre_dataset_normalize_per_feature(s, &bad, mean, sd0), LRE_EINVAL,
            "normalize_per_feature: std 0 refused, naming the feature", "feature 2", NULL);
    chk_err(ctx, lre_dataset_normalize_per_feature(s, &bad, mnan, sd), LRE_EINVAL,
            "normalize_per_feature: NaN mean refused", "feature 2", NULL);

    /* gather allocates nothing */
    uint64_t a0 = lre_ctx_alloc_count(ctx);
    for (int k = 0; k < 10; k++) lre_dataset_gather(n, ix, 4, x, NULL, NULL);
    CHECK(lre_ctx_alloc_count(ctx) == a0, "gather: no allocation", "%llu allocations",
          (unsigned long long)(lre_ctx_alloc_count(ctx) - a0));

    /* f32 statistics (two-pass, double) */
    const float fx[6] = {1, 10, 2, 20, 3, 60};
    const int32_t fy[3] = {0, 1, 0};
    lre_dataset *f = NULL;
    chk_must(ctx, lre_dataset_from_arrays(ctx, &f, 3, 2, fx, fy, NULL, 0), "from_arrays");
    float fm2[2], fs2[2];
    chk_must(ctx, lre_dataset_stats(f, 1, fm2, fs2), "stats f32");
    double wf[4] = {2, 30, sqrt(2.0 / 3), sqrt((400 + 100 + 900) / 3.0)};
    float gf[4] = {fm2[0], fm2[1], fs2[0], fs2[1]};
    chk_close("stats: per-feature mean and std of f32 data", wf, gf, 4, 1e-5, 1e-6);
    lre_dataset_release(f);

    lre_dataset_release(sub);
    lre_dataset_release(z);
    lre_dataset_release(n);
    lre_dataset_release(s);
    lre_dataset_release(d);
}

/* ---------------------------------------------- loaded data in a trainer */

static void test_trainer(lre_ctx *ctx)
{
    /* 8 rows of 2x2 u8 pixels; labels up to 12 */
    const uint32_t di[3] = {8, 2, 2}, dl[1] = {8};
    uint8_t px[32], lab[8] = {0, 1, 2, 3, 12, 5, 6, 7};
    for (int i = 0; i < 32; i++) px[i] = (uint8_t)(i * 37);
    buf im = idx(3, di, px, 32), lb = idx(1, dl, lab, 8);
    const char *ip = put("t-images", im.b, im.n), *lp = put("t-labels", lb.b, lb.n);
    lre_dataset *d = NULL, *s = NULL;
    chk_must(ctx, lre_dataset_idx(ctx, &d, ip, lp), "idx");
    chk_must(ctx, lre_dataset_scale(d, &s, 1.0f / 255), "scale");
    lre_model *m = NULL;
    chk_must(ctx, lre_model_new(ctx, &m), "model");
    chk_must(ctx, lre_model_add_linear(m, 4, 8), "linear");
    chk_must(ctx, lre_model_add_act(m, LRE_ACT_RELU, 0), "relu");
    chk_must(ctx, lre_model_add_linear(m, 8, 10), "linear");
    lre_trainer_opts o = lre_trainer_opts_default();
    o.batch_size = 4;
    o.seed = 1;
    lre_trainer *t = NULL;
    chk_err(ctx, lre_trainer_new(ctx, &t, m, s, &o), LRE_OK,
            "trainer: a loaded label (12) outside the model's 10 classes is caught before "
            "the first step", "label 12 at row 5", "[0, 10)", NULL);
    /* the rows with valid labels train */
    int64_t keep[7] = {0, 1, 2, 3, 5, 6, 7};
    lre_dataset *ok = NULL;
    chk_must(ctx, lre_dataset_subset(s, &ok, 7, keep), "subset");
    if (chk_ok(ctx, lre_trainer_new(ctx, &t, m, ok, &o), "trainer: accepts the loaded u8 data")) {
        float loss = NAN;
        int fine = 1;
        for (int k = 0; k < 5; k++) fine &= lre_trainer_step(t, 1e-2f, &loss) == LRE_OK && isfinite(loss);
        CHECK(fine, "trainer: steps on loaded u8 data give finite losses", "loss %g",
              (double)loss);
        lre_trainer_release(t);
    }
    lre_dataset_release(ok);
    lre_model_release(m);
    lre_dataset_release(s);
    lre_dataset_release(d);
}

/* ------------------------------------------------------- loading limit */

/* A malloc'd IDX file of dims[0..nd) whose data bytes are fill(i). */
static uint8_t *idx_big(int nd, const uint32_t *dims, size_t *len)
{
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= dims[i];
    size_t hl = 4 + 4 * (size_t)nd;
    uint8_t *b = malloc(hl + n);
    if (!b) chk_fatal("idx_big", "out of memory");
    buf h = idx(nd, dims, PIX, 0);
    memcpy(b, h.b, hl);
    for (size_t i = 0; i < n; i++) b[hl + i] = (uint8_t)(i * 31 % 251);
    *len = hl + n;
    return b;
}

/* Half of physical memory, as the engine's default is documented. */
static uint64_t half_of_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || size <= 0) return (uint64_t)8 << 30;
    return (uint64_t)pages * (uint64_t)size / 2;
}

static void test_limit_ctx(lre_ctx *ctx)
{
    const uint64_t half = half_of_memory(), def = lre_ctx_max_load_bytes(ctx);
    CHECK(def == half && def > 0, "limit: the default is half of physical memory",
          "got %llu, want %llu", (unsigned long long)def, (unsigned long long)half);
    chk_must(ctx, lre_ctx_set_max_load_bytes(ctx, 12345), "set the limit");
    CHECK(lre_ctx_max_load_bytes(ctx) == 12345, "limit: set and read back", "got %llu",
          (unsigned long long)lre_ctx_max_load_bytes(ctx));
    chk_must(ctx, lre_ctx_set_max_load_bytes(ctx, 0), "set the limit to 0");
    CHECK(lre_ctx_max_load_bytes(ctx) == half, "limit: 0 restores the default", "got %llu",
          (unsigned long long)lre_ctx_max_load_bytes(ctx));
    CHECK(lre_ctx_set_max_load_bytes(NULL, 1) == LRE_EINVAL && lre_ctx_max_load_bytes(NULL) == 0,
          "limit: a NULL context", "not refused");
    lre_ctx *fresh = chk_ctx(3);
    CHECK(lre_ctx_max_load_bytes(fresh) == half, "limit: a new context has the default",
          "got %llu", (unsigned long long)lre_ctx_max_load_bytes(fresh));
    lre_ctx_release(fresh);
}

static void test_limit_idx(lre_ctx *ctx)
{
    /* 64×64×64 pixels (262144 bytes) in a gzip file of a few KB */
    const uint32_t dims[3] = {64, 64, 64}, dl[1] = {64};
    size_t ni;
    uint8_t *im = idx_big(3, dims, &ni);
    static const uint8_t zeros[64];
    buf lb = idx(1, dl, zeros, 64);
    const char *ip = put_gz("limit-images.gz", im, ni);
    const char *lp = put_gz("limit-labels.gz", lb.b, lb.n);
    im[0] = 0x12; /* wrong magic: refused at the header, before any data buffer */
    const char *mp = put_gz("limit-magic.gz", im, ni);
    free(im);
    lre_dataset *d = NULL;

    chk_must(ctx, lre_ctx_set_max_load_bytes(ctx, 100000), "set the limit");
    uint64_t a0 = lre_ctx_alloc_count(ctx);
    chk_err(ctx, lre_dataset_idx(ctx, &d, mp, lp), LRE_EFORMAT, "limit: (baseline) wrong magic",
            mp, "wrong magic", NULL);
    const uint64_t base = lre_ctx_alloc_count(ctx) - a0;
    a0 = lre_ctx_alloc_count(ctx);
    chk_err(ctx, lre_dataset_idx(ctx, &d, ip, lp), LRE_EINVAL,
            "limit: idx: a gzip file whose header declares more than the limit", ip,
            "the header declares 64×64×64 images, 262144 bytes",
            "more than the loading limit of 100000 bytes", "max_bytes",
            "lre.data.idx(..., {max_bytes = N})", "lre_ctx_set_max_load_bytes", NULL);
    const uint64_t used = lre_ctx_alloc_count(ctx) - a0;
    CHECK(used == base && lre_ctx_bytes_live(ctx) == 0,
          "limit: idx: refused before anything is allocated for the data",
          "%llu allocations (a header refused at its magic: %llu), %llu bytes live",
          (unsigned long long)used, (unsigned long long)base,
          (unsigned long long)lre_ctx_bytes_live(ctx));
    lre_dataset_release(d);
    d = NULL;
    /* the memory path (the fuzzers') holds to it as well */
    size_t gn;
    uint8_t *g = gzip_bytes(im = idx_big(3, dims, &ni), ni, &gn);
    free(im);
    chk_err(ctx, lre_dataset_idx_mem(ctx, &d, g, gn, lb.b, lb.n), LRE_EINVAL,
            "limit: idx (memory): above the limit", "<images>", "262144 bytes", "100000", NULL);
    lre_dataset_release(d);
    d = NULL;
    free(g);

    chk_must(ctx, lre_ctx_set_max_load_bytes(ctx, 262144), "set the limit");
    if (chk_ok(ctx, lre_dataset_idx(ctx, &d, ip, lp), "limit: idx: loads at the limit"))
        CHECK(lre_dataset_size(d) == 64 && lre_dataset_features(d) == 64 * 64,
              "limit: idx: 64 rows of 64×64", "%lld rows", (long long)lre_dataset_size(d));
    lre_dataset_release(d);
    d = NULL;

    /* labels take 4 bytes each in memory (int32): 4 labels, 16 bytes */
    const uint32_t ds[3] = {4, 1, 2}, dl4[1] = {4};
    buf im4 = idx(3, ds, PIX, 8), lb4 = idx(1, dl4, LAB, 3);
    lb4.b[lb4.n++] = 1;
    const char *ip4 = put("limit-small-images", im4.b, im4.n);
    const char *lp4 = put("limit-small-labels", lb4.b, lb4.n);
    chk_must(ctx, lre_ctx_set_max_load_bytes(ctx, 10), "set the limit");
    chk_err(ctx, lre_dataset_idx(ctx, &d, ip4, lp4), LRE_EINVAL,
            "limit: idx: labels above the limit as int32 (plain files)", lp4,
            "4 labels, 16 bytes as int32", "loading limit of 10 bytes", NULL);
    lre_dataset_release(d);
    d = NULL;
    chk_must(ctx, lre_ctx_set_max_load_bytes(ctx, 16), "set the limit");
    chk_ok(ctx, lre_dataset_idx(ctx, &d, ip4, lp4), "limit: idx: small files load at the limit");
    lre_dataset_release(d);
    chk_must(ctx, lre_ctx_set_max_load_bytes(ctx, 0), "restore the limit");
}

static void test_limit_npy(lre_ctx *ctx)
{
    /* f4 (256, 256): 262144 bytes of zeros, gzip */
    const size_t nf = 256 * 256 * sizeof(float);
    float *zf = calloc(256 * 256, sizeof *zf);
    uint8_t *fb = malloc(nf + 256);
    if (!zf || !fb) chk_fatal("npy limit", "out of memory");
    buf h = npy("<f4", "(256, 256)", PIX, 0);
    memcpy(fb, h.b, h.n);
    memcpy(fb + h.n, zf, nf);
    static const uint8_t z256[256];
    buf l = npy("|u1", "(256,)", z256, 256);
    const char *fp = put_gz("limit-x.npy.gz", fb, h.n + nf);
    const char *lp = put("limit-y.npy", l.b, l.n);
    buf f2 = npy("<f2", "(256, 256)", PIX, 0); /* refused at its dtype: the baseline */
    memcpy(fb, f2.b, f2.n);
    const char *bp = put_gz("limit-f2.npy.gz", fb, f2.n + nf);
    free(zf);
    free(fb);
    lre_dataset *d = NULL;

    chk_must(ctx, lre_ctx_set_max_load_bytes(ctx, 100000), "set the limit");
    uint64_t a0 = lre_ctx_alloc_count(ctx);
    chk_err(ctx, lre_dataset_npy(ctx, &d, bp, lp), LRE_EFORMAT, "limit: (baseline) npy dtype f2",
            bp, "unsupported dtype", NULL);
    const uint64_t base = lre_ctx_alloc_count(ctx) - a0;
    a0 = lre_ctx_alloc_count(ctx);
    chk_err(ctx, lre_dataset_npy(ctx, &d, fp, lp), LRE_EINVAL,
            "limit: npy: a gzip file whose header declares more than the limit", fp,
            "the header declares shape (256, 256) of '<f4', 262144 bytes",
            "more than the loading limit of 100000 bytes", "max_bytes",
            "lre.data.npy(..., {max_bytes = N})", NULL);
    const uint64_t used = lre_ctx_alloc_count(ctx) - a0;
    CHECK(used == base && lre_ctx_bytes_live(ctx) == 0,
          "limit: npy: refused before anything is allocated for the data",
          "%llu allocations (a header refused at its dtype: %llu), %llu bytes live",
          (unsigned long long)used, (unsigned long long)base,
          (unsigned long long)lre_ctx_bytes_live(ctx));
    lre_dataset_release(d);
    d = NULL;
    chk_must(ctx, lre_ctx_set_max_load_bytes(ctx, 262144), "set the limit");
    chk_ok(ctx, lre_dataset_npy(ctx, &d, fp, lp), "limit: npy: loads at the limit");
    lre_dataset_release(d);
    d = NULL;

    /* plain files; and u1 labels, which take four times their bytes as int32 */
    const float f[6] = {1, 2, 3, 4, 5, 6};
    buf x = npy("<f4", "(3, 2)", f, sizeof f);
    const char *xp = put("limit-x.npy", x.b, x.n);
    const uint8_t y3[3] = {0, 1, 2};
    buf y = npy("|u1", "(3,)", y3, 3);
    const char *yp = put("limit-y3.npy", y.b, y.n);
    chk_must(ctx, lre_ctx_set_max_load_bytes(ctx, 20), "set the limit");
    chk_err(ctx, lre_dataset_npy(ctx, &d, xp, yp), LRE_EINVAL, "limit: npy: a plain file", xp,
            "(3, 2) of '<f4', 24 bytes", "loading limit of 20 bytes", NULL);
    lre_dataset_release(d);
    d = NULL;
    const uint8_t u6[6] = {1, 2, 3, 4, 5, 6};
    buf xu = npy("|u1", "(3, 2)", u6, 6);
    const char *xup = put("limit-xu.npy", xu.b, xu.n);
    chk_must(ctx, lre_ctx_set_max_load_bytes(ctx, 10), "set the limit");
    chk_err(ctx, lre_dataset_npy(ctx, &d, xup, yp), LRE_EINVAL,
            "limit: npy: u1 labels above the limit as int32", yp, "12 bytes as int32 labels",
            "loading limit of 10 bytes", NULL);
    lre_dataset_release(d);
    d = NULL;
    chk_must(ctx, lre_ctx_set_max_load_bytes(ctx, 12), "set the limit");
    chk_ok(ctx, lre_dataset_npy(ctx, &d, xup, yp), "limit: npy: small files load at the limit");
    lre_dataset_release(d);
    chk_must(ctx, lre_ctx_set_max_load_bytes(ctx, 0), "restore the limit");
}

static void test_limit_csv(lre_ctx *ctx)
{
    /* 33334 lines "1,2,0": 200004 bytes of text, a few hundred of gzip */
    const size_t lines = 33334, tn = lines * 6;
    char *text = malloc(tn + 1);
    if (!text) chk_fatal("csv limit", "out of memory");
    for (size_t i = 0; i < lines; i++) memcpy(text + 6 * i, "1,2,0\n", 6);
    text[tn] = 0;
    const char *pp = put("limit.csv", text, tn);
    const char *gp = put_gz("limit.csv.gz", text, tn);
    lre_dataset *d = NULL;

    chk_must(ctx, lre_ctx_set_max_load_bytes(ctx, 50000), "set the limit");
    uint64_t a0 = lre_ctx_alloc_count(ctx);
    chk_err(ctx, lre_dataset_csv(ctx, &d, pp, NULL), LRE_EINVAL,
            "limit: csv: a plain file above the limit", pp, "the file holds 200004 bytes",
            "more than the loading limit of 50000 bytes", "lre.data.csv(..., {max_bytes = N})",
            NULL);
    CHECK(lre_ctx_alloc_count(ctx) - a0 == 1 && lre_ctx_bytes_live(ctx) == 0,
          "limit: csv: a plain file is refused before its text is allocated",
          "%llu allocations (the source is 1)", (unsigned long long)(lre_ctx_alloc_count(ctx) - a0));
    lre_dataset_release(d);
    d = NULL;
    chk_err(ctx, lre_dataset_csv(ctx, &d, gp, NULL), LRE_EINVAL,
            "limit: csv: a gzip file whose text goes past the limit", gp,
            "decompresses to 50001 bytes or more", "loading limit of 50000 bytes", NULL);
    lre_dataset_release(d);
    d = NULL;
    size_t gn;
    uint8_t *g = gzip_bytes(text, tn, &gn);
    chk_err(ctx, lre_dataset_csv_mem(ctx, &d, "mem.csv.gz", g, gn, NULL), LRE_EINVAL,
            "limit: csv (memory): gzip text past the limit", "mem.csv.gz",
            "50001 bytes or more", NULL);
    lre_dataset_release(d);
    d = NULL;
    /* the text fits, its rows do not: 33335 rows (at most) × 3 columns × 4 bytes */
    chk_must(ctx, lre_ctx_set_max_load_bytes(ctx, 300000), "set the limit");
    chk_err(ctx, lre_dataset_csv(ctx, &d, gp, NULL), LRE_EINVAL,
            "limit: csv: rows above the limit, the text below", gp,
            "up to 33335 rows of 3 columns parse into 400020 bytes",
            "loading limit of 300000 bytes", NULL);
    lre_dataset_release(d);
    d = NULL;
    chk_err(ctx, lre_dataset_csv_mem(ctx, &d, "mem.csv", text, tn, NULL), LRE_EINVAL,
            "limit: csv (memory): rows above the limit", "mem.csv", "400020 bytes", NULL);
    lre_dataset_release(d);
    d = NULL;
    chk_must(ctx, lre_ctx_set_max_load_bytes(ctx, 400020), "set the limit");
    for (int z = 0; z < 2; z++) {
        if (chk_ok(ctx, lre_dataset_csv(ctx, &d, z ? gp : pp, NULL),
                   chk_name("limit: csv %s: loads at the limit", z ? "gzip" : "plain")))
            CHECK(lre_dataset_size(d) == (int64_t)lines,
                  chk_name("limit: csv %s: every row", z ? "gzip" : "plain"), "%lld rows",
                  (long long)lre_dataset_size(d));
        lre_dataset_release(d);
        d = NULL;
    }
    free(g);
    free(text);
    chk_must(ctx, lre_ctx_set_max_load_bytes(ctx, 0), "restore the limit");
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#endif

/* Running out of memory while loading names the file: in a child whose
 * address space is capped just above what it uses, an IDX header declaring
 * 64 MiB (which the gzip file could hold: 70 KB of random bytes) gets to
 * the allocation and fails there. Not under ASan or valgrind, which need
 * the address space themselves. */
static void test_oom_names_file(void)
{
    const char *name = "oom: an allocation that fails names the file";
#ifdef TEST_ASAN
    chk_skip(name, "AddressSanitizer reserves the address space a cap would take");
    return;
#else
    const char *pre = getenv("LD_PRELOAD");
    if (pre && strstr(pre, "vgpreload")) {
        chk_skip(name, "under valgrind");
        return;
    }
    const size_t rnd = 70000;
    uint8_t *b = malloc(16 + rnd);
    if (!b) chk_fatal("oom", "out of memory");
    const uint32_t dims[3] = {1024, 256, 256};
    buf h = idx(3, dims, PIX, 0);
    memcpy(b, h.b, 16);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < rnd; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        b[16 + i] = (uint8_t)(x >> 24);
    }
    const char *ip = put_gz("oom-images.gz", b, 16 + rnd);
    free(b);
    const uint32_t dl[1] = {1024};
    static uint8_t zl[1024];
    uint8_t *lbuf = malloc(8 + 1024);
    buf lh = idx(1, dl, PIX, 0);
    memcpy(lbuf, lh.b, 8);
    memcpy(lbuf + 8, zl, 1024);
    const char *lp = put("oom-labels", lbuf, 8 + 1024);
    free(lbuf);

    int fds[2];
    if (pipe(fds) != 0) chk_fatal("oom", "pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) chk_fatal("oom", "fork");
    if (pid == 0) {
        close(fds[0]);
        char out[LRE_ERRMSG_SIZE + 16] = "";
        lre_ctx *ctx = NULL;
        long vm_pages = 0;
        FILE *sf = fopen("/proc/self/statm", "r");
        if (lre_ctx_new(&ctx, NULL) == LRE_OK && sf && fscanf(sf, "%ld", &vm_pages) == 1) {
            struct rlimit rl;
            rl.rlim_cur = rl.rlim_max =
                (rlim_t)vm_pages * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)16 << 20);
            lre_dataset *d = NULL;
            if (setrlimit(RLIMIT_AS, &rl) == 0) {
                lre_status st = lre_dataset_idx(ctx, &d, ip, lp);
                snprintf(out, sizeof out, "%d %s", (int)st, lre_ctx_error(ctx));
            }
        }
        if (write(fds[1], out, strlen(out)) < 0) _exit(2);
        _exit(0);
    }
    close(fds[1]);
    char got[LRE_ERRMSG_SIZE + 16];
    size_t n = 0;
    ssize_t r;
    while (n + 1 < sizeof got && (r = read(fds[0], got + n, sizeof got - 1 - n)) > 0) n += (size_t)r;
    got[n] = 0;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    char want[400];
    snprintf(want, sizeof want, "%d out of memory allocating 67108864 bytes for idx images of %s",
             (int)LRE_ENOMEM, ip);
    CHECK(strcmp(got, want) == 0, name, "got \"%s\", want \"%s\"", got, want);
#endif
}

/* ------------------------------------------------------------ gzip tails */

static void test_gzip_tail(lre_ctx *ctx)
{
    const uint32_t di[3] = {3, 2, 2}, dl[1] = {3};
    buf im = idx(3, di, PIX, 12), lb = idx(1, dl, LAB, 3);
    const char *lp = put("tail-labels", lb.b, lb.n);
    size_t gn, g1n, g2n;
    uint8_t *g = gzip_bytes(im.b, im.n, &gn);
    uint8_t *g1 = gzip_bytes(im.b, 9, &g1n), *g2 = gzip_bytes(im.b + 9, im.n - 9, &g2n);
    lre_dataset *d = NULL;
    struct { const char *tag; const char *tail; size_t n; const char *count; } tails[] = {
        {"text", "garbage!", 8, "8 bytes of trailing garbage"},
        {"one zero byte", "\0", 1, "1 byte of trailing garbage"},
        {"a lone 1f", "\x1f", 1, "1 byte of trailing garbage"},
        {"1f then not 8b", "\x1f\x8c\x08\x00", 4, "4 bytes of trailing garbage"},
    };
    for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
        for (int two = 0; two < 2; two++) {
            buf b = {.n = 0};
            if (two) {
                bytes(&b, g1, g1n);
                bytes(&b, g2, g2n);
            } else {
                bytes(&b, g, gn);
            }
            bytes(&b, tails[t].tail, tails[t].n);
            const char *p = put(chk_name("tail-%zu-%d.gz", t, two), b.b, b.n);
            chk_err(ctx, lre_dataset_idx(ctx, &d, p, lp), LRE_EFORMAT,
                    chk_name("gzip tail: %s after %s refused", tails[t].tag,
                             two ? "two members" : "one member"),
                    p, tails[t].count, "after the gzip data", NULL);
            lre_dataset_release(d);
            d = NULL;
            chk_err(ctx, lre_dataset_idx_mem(ctx, &d, b.b, b.n, lb.b, lb.n), LRE_EFORMAT,
                    chk_name("gzip tail (memory): %s after %s refused", tails[t].tag,
                             two ? "two members" : "one member"),
                    "<images>", tails[t].count, NULL);
            lre_dataset_release(d);
            d = NULL;
        }
    }
    /* 512 zero bytes (a tar block's padding) */
    static uint8_t pad[512];
    buf b = {.n = 0};
    bytes(&b, g, gn);
    bytes(&b, pad, sizeof pad);
    const char *p = put("tail-pad.gz", b.b, b.n);
    chk_err(ctx, lre_dataset_idx(ctx, &d, p, lp), LRE_EFORMAT, "gzip tail: 512 zero bytes", p,
            "512 bytes of trailing garbage", NULL);
    lre_dataset_release(d);
    d = NULL;
    /* two members, and three (an empty one in the middle), still load */
    b.n = 0;
    bytes(&b, g1, g1n);
    bytes(&b, g2, g2n);
    chk_ok(ctx, lre_dataset_idx_mem(ctx, &d, b.b, b.n, lb.b, lb.n),
           "gzip tail (memory): two members load");
    lre_dataset_release(d);
    d = NULL;
    size_t gen;
    uint8_t *ge = gzip_bytes("", 0, &gen);
    b.n = 0;
    bytes(&b, g1, g1n);
    bytes(&b, ge, gen);
    bytes(&b, g2, g2n);
    chk_ok(ctx, lre_dataset_idx(ctx, &d, put("tail-three.gz", b.b, b.n), lp),
           "gzip tail: three members, one empty, load");
    lre_dataset_release(d);
    d = NULL;
    /* a CSV and an NPY refuse it too */
    uint8_t *gc = gzip_bytes("1,2,0\n3,4,1\n", 12, &gn);
    b.n = 0;
    bytes(&b, gc, gn);
    bytes(&b, "xy", 2);
    p = put("tail.csv.gz", b.b, b.n);
    chk_err(ctx, lre_dataset_csv(ctx, &d, p, NULL), LRE_EFORMAT, "gzip tail: csv", p,
            "2 bytes of trailing garbage", NULL);
    lre_dataset_release(d);
    d = NULL;
    free(gc);
    const float f[6] = {1, 2, 3, 4, 5, 6};
    const int64_t y8[3] = {0, 1, 2};
    buf x = npy("<f4", "(3, 2)", f, sizeof f), y = npy("<i8", "(3,)", y8, sizeof y8);
    gc = gzip_bytes(x.b, x.n, &gn);
    b.n = 0;
    bytes(&b, gc, gn);
    bytes(&b, "\n", 1);
    p = put("tail.npy.gz", b.b, b.n);
    chk_err(ctx, lre_dataset_npy(ctx, &d, p, put("tail-y.npy", y.b, y.n)), LRE_EFORMAT,
            "gzip tail: npy", p, "1 byte of trailing garbage", NULL);
    lre_dataset_release(d);
    d = NULL;
    free(gc);
    free(ge);
    free(g);
    free(g1);
    free(g2);
}

/* A member boundary where the file's 128 KiB input buffer ends: the first
 * member (stored blocks, so its size can be chosen) ends 1 byte short of
 * the buffer's end, or at it, and the next member's magic straddles two
 * reads. The pixels must come out whole; garbage there is still refused. */
static void test_gzip_boundary(lre_ctx *ctx)
{
    const uint32_t dims[3] = {547, 16, 16}, dl[1] = {547};
    size_t ni;
    uint8_t *im = idx_big(3, dims, &ni);
    uint8_t *lb = calloc(1, 8 + 547);
    buf lh = idx(1, dl, PIX, 0);
    memcpy(lb, lh.b, 8);
    const char *lp = put("boundary-labels", lb, 8 + 547);
    free(lb);
    for (size_t target = (1u << 17) - 1; target <= (1u << 17); target++) {
        size_t k = 0, g1n = 0, g2n;
        uint8_t *g1 = NULL;
        for (k = target - 40; k < target; k++) {
            free(g1);
            g1 = gzip_level(im, k, 0, &g1n);
            if (g1n >= target) break;
        }
        if (g1n != target) {
            chk_fail(chk_name("gzip boundary %zu: a member of that size", target),
                     "stored gzip of %zu bytes is %zu", k, g1n);
            free(g1);
            continue;
        }
        uint8_t *g2 = gzip_bytes(im + k, ni - k, &g2n);
        uint8_t *cat = malloc(g1n + g2n + 4);
        memcpy(cat, g1, g1n);
        memcpy(cat + g1n, g2, g2n);
        lre_dataset *d = NULL;
        const char *p = put(chk_name("boundary-%zu.gz", target), cat, g1n + g2n);
        if (chk_ok(ctx, lre_dataset_idx(ctx, &d, p, lp),
                   chk_name("gzip boundary %zu: two members load", target))) {
            int64_t ix[2] = {0, 546};
            float x[2 * 256];
            int32_t y[2];
            chk_must(ctx, lre_dataset_gather(d, ix, 2, x, y, NULL), "gather");
            int same = 1;
            for (int r = 0; r < 2; r++)
                for (int c = 0; c < 256; c++)
                    same &= x[r * 256 + c] == (float)im[16 + (size_t)ix[r] * 256 + (size_t)c];
            CHECK(same, chk_name("gzip boundary %zu: the pixels come out whole", target),
                  "row 1 or 547 differs");
        }
        lre_dataset_release(d);
        d = NULL;
        memcpy(cat + g1n, "\x1f\x00", 2);
        p = put(chk_name("boundary-bad-%zu.gz", target), cat, g1n + 2);
        chk_err(ctx, lre_dataset_idx(ctx, &d, p, lp), LRE_EFORMAT,
                chk_name("gzip boundary %zu: 1f 00 after the member refused", target), p,
                "2 bytes of trailing garbage", NULL);
        lre_dataset_release(d);
        free(cat);
        free(g1);
        free(g2);
    }
    free(im);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "%s/lre_test_data.XXXXXX",
             getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir)) chk_fatal("mkdtemp", "%s", g_dir);
    lre_ctx *ctx = chk_ctx(1);

    test_idx_good(ctx);
    test_idx_bad(ctx);
    test_npy(ctx);
    test_csv(ctx);
    test_csv_text(ctx);
    test_fashion_mnist(ctx);
    test_transforms(ctx);
    test_trainer(ctx);
    test_limit_ctx(ctx);
    test_limit_idx(ctx);
    test_limit_npy(ctx);
    test_limit_csv(ctx);
    test_oom_names_file();
    test_gzip_tail(ctx);
    test_gzip_boundary(ctx);

    CHECK(lre_ctx_bytes_live(ctx) == 0, "data: every engine allocation released",
          "%llu bytes still live", (unsigned long long)lre_ctx_bytes_live(ctx));
    lre_ctx_release(ctx);
    for (int i = g_npaths - 1; i >= 0; i--) unlink(g_paths[i]);
    char sub[400];
    snprintf(sub, sizeof sub, "%s/fmnist/fashion-mnist", g_dir);
    rmdir(sub);
    snprintf(sub, sizeof sub, "%s/fmnist", g_dir);
    rmdir(sub);
    if (rmdir(g_dir) != 0) printf("# could not remove %s\n", g_dir);
    return chk_done("test_data");
}
