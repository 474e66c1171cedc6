/*
 * data_io.c — byte sources for the dataset loaders. A file is read through
 * zlib's gz* API, which passes plain files through and inflates gzip ones,
 * so a 47 MB image file streams straight into the dataset's buffer with no
 * second copy. A memory buffer (the fuzz targets' path) is copied out as is
 * or inflated with zlib's inflate. The parsers only see lre_src_read.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data/data.h"

/* Deflate's largest expansion: a 258-byte match coded in 2 bits. */
#define LRE_DEFLATE_MAX_RATIO 1032u

struct lre_src {
    lre_ctx *ctx;
    const char *fmt, *name;  /* message prefix; not owned */
    int gzip;
    uint64_t stored;         /* bytes in the file or buffer */
    uint64_t pos;            /* bytes delivered */
    gzFile gz;               /* file */
    const uint8_t *buf;      /* memory */
    size_t n, off;
    z_stream zs;
    int zinit, zdone;
};

static lre_status src_new(lre_ctx *ctx, lre_src **out, const char *fmt, const char *name)
{
    *out = lre_calloc(ctx, 1, sizeof **out, "data source");
    if (!*out) return LRE_ENOMEM;
    (*out)->ctx = ctx;
    (*out)->fmt = fmt;
    (*out)->name = name;
    return LRE_OK;
}

lre_status lre_src_open_file(lre_ctx *ctx, lre_src **out, const char *fmt, const char *path)
{
    if (!ctx) return LRE_EINVAL;
    if (!out) return lre_fail(ctx, LRE_EINVAL, "%s: out is NULL", fmt);
    *out = NULL;
    if (!path || !*path) return lre_fail(ctx, LRE_EINVAL, "%s: no file name given", fmt);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lre_fail(ctx, LRE_EIO, "%s: %s: cannot open: %s", fmt, path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return lre_fail(ctx, LRE_EIO, "%s: %s: cannot read: %s", fmt, path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return lre_fail(ctx, LRE_EIO, "%s: %s: cannot read: %s", fmt, path,
                        S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file");
    }
    unsigned char magic[2] = {0, 0};
    ssize_t m = pread(fd, magic, 2, 0);
    lre_src *s;
    lre_status rc = src_new(ctx, &s, fmt, path);
    if (rc) {
        close(fd);
        return rc;
    }
    s->stored = (uint64_t)st.st_size;
    s->gzip = m == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    s->gz = gzdopen(fd, "rb");
    if (!s->gz) {
        close(fd);
        lre_free(ctx, s, sizeof *s);
        return lre_fail(ctx, LRE_ENOMEM, "%s: %s: out of memory opening the file", fmt, path);
    }
    gzbuffer(s->gz, 1u << 17);
    *out = s;
    return LRE_OK;
}

lre_status lre_src_open_mem(lre_ctx *ctx, lre_src **out, const char *fmt, const char *name,
                            const void *buf, size_t n)
{
    if (!ctx) return LRE_EINVAL;
    if (!out || (!buf && n)) return lre_fail(ctx, LRE_EINVAL, "%s: NULL argument", fmt);
    *out = NULL;
    lre_src *s;
    lre_status rc = src_new(ctx, &s, fmt, name ? name : "<memory>");
    if (rc) return rc;
    s->buf = buf;
    s->n = n;
    s->stored = n;
    s->gzip = n >= 2 && s->buf[0] == 0x1f && s->buf[1] == 0x8b;
    if (s->gzip) {
        if (inflateInit2(&s->zs, 16 + MAX_WBITS) != Z_OK) {
            lre_free(ctx, s, sizeof *s);
            return lre_fail(ctx, LRE_ENOMEM, "%s: %s: out of memory starting zlib", fmt,
                            s->name);
        }
        s->zinit = 1;
        s->zs.next_in = (Bytef *)s->buf;
        s->zs.avail_in = n > UINT_MAX ? UINT_MAX : (uInt)n;
        s->off = s->zs.avail_in;
    }
    *out = s;
    return LRE_OK;
}

void lre_src_close(lre_src *s)
{
    if (!s) return;
    if (s->gz) gzclose(s->gz);
    if (s->zinit) inflateEnd(&s->zs);
    lre_free(s->ctx, s, sizeof *s);
}

static lre_status gz_fault(lre_src *s, const char *zmsg, int eof)
{
    if (eof)
        return lre_fail(s->ctx, LRE_EFORMAT,
                        "%s: %s: the gzip stream is truncated (it ends after %" PRIu64
                        " decompressed bytes)", s->fmt, s->name, s->pos);
    return lre_fail(s->ctx, LRE_EFORMAT, "%s: %s: corrupt gzip data after %" PRIu64
                    " decompressed bytes: %s", s->fmt, s->name, s->pos,
                    zmsg && *zmsg ? zmsg : "unknown zlib error");
}

/* Inflates from memory into dst; handles concatenated gzip members and, as
 * gzread does, ignores anything after the last one. */
static lre_status mem_inflate(lre_src *s, uint8_t *dst, size_t n, size_t *got)
{
    z_stream *z = &s->zs;
    size_t done = 0;
    while (done < n && !s->zdone) {
        if (z->avail_in == 0 && s->off < s->n) { /* buffers beyond 4 GiB */
            size_t left = s->n - s->off;
            z->next_in = (Bytef *)s->buf + s->off;
            z->avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
            s->off += z->avail_in;
        }
        size_t want = n - done;
        z->next_out = dst + done;
        z->avail_out = want > UINT_MAX ? UINT_MAX : (uInt)want;
        uInt before = z->avail_out;
        int r = inflate(z, Z_NO_FLUSH);
        size_t made = before - z->avail_out;
        done += made;
        s->pos += made;
        if (r == Z_STREAM_END) {
            if (z->avail_in >= 2 && z->next_in[0] == 0x1f && z->next_in[1] == 0x8b) {
                if (inflateReset(z) != Z_OK) return gz_fault(s, z->msg, 0);
            } else {
                s->zdone = 1;
            }
        } else if (r == Z_MEM_ERROR) {
            return lre_fail(s->ctx, LRE_ENOMEM, "%s: %s: out of memory in zlib", s->fmt, s->name);
        } else if (r != Z_OK && r != Z_BUF_ERROR) {
            return gz_fault(s, z->msg, 0);
        } else if (made == 0 && z->avail_in == 0 && s->off >= s->n) {
            return gz_fault(s, NULL, 1);
        }
    }
    *got = done;
    return LRE_OK;
}

lre_status lre_src_read(lre_src *s, void *dst, size_t n, size_t *got)
{
    *got = 0;
    if (n == 0) return LRE_OK;
    if (s->gz) {
        size_t done = 0;
        while (done < n) {
            size_t want = n - done;
            unsigned chunk = want > (1u << 30) ? (1u << 30) : (unsigned)want;
            int r = gzread(s->gz, (char *)dst + done, chunk);
            int errno_read = errno, err = Z_OK;
            const char *msg = gzerror(s->gz, &err);
            if (r > 0) {
                done += (size_t)r;
                s->pos += (uint64_t)r;
            }
            if (r < 0 || (err != Z_OK && err != Z_BUF_ERROR)) {
                if (err == Z_ERRNO)
                    return lre_fail(s->ctx, LRE_EIO, "%s: %s: read error: %s", s->fmt, s->name,
                                    strerror(errno_read));
                if (err == Z_MEM_ERROR)
                    return lre_fail(s->ctx, LRE_ENOMEM, "%s: %s: out of memory in zlib",
                                    s->fmt, s->name);
                return gz_fault(s, msg, 0);
            }
            /* zlib flags a cut stream as soon as its input runs out, while
             * output is still buffered: report it when that runs dry */
            if (r < (int)chunk) {
                if (err == Z_BUF_ERROR) return gz_fault(s, msg, 1);
                if (r == 0) break; /* the end */
            }
        }
        *got = done;
        return LRE_OK;
    }
    if (s->gzip) return mem_inflate(s, dst, n, got);
    size_t left = s->n - s->off;
    size_t k = n < left ? n : left;
    if (k) memcpy(dst, s->buf + s->off, k);
    s->off += k;
    s->pos += k;
    *got = k;
    return LRE_OK;
}

uint64_t lre_src_bound(const lre_src *s)
{
    if (!s->gzip) return s->stored > s->pos ? s->stored - s->pos : 0;
    if (s->stored > UINT64_MAX / LRE_DEFLATE_MAX_RATIO) return UINT64_MAX;
    uint64_t b = s->stored * LRE_DEFLATE_MAX_RATIO;
    return b > s->pos ? b - s->pos : 0;
}

lre_ctx *lre_src_ctx(const lre_src *s) { return s->ctx; }
uint64_t lre_src_pos(const lre_src *s) { return s->pos; }
uint64_t lre_src_stored(const lre_src *s) { return s->stored; }
int lre_src_gzip(const lre_src *s) { return s->gzip; }
const char *lre_src_name(const lre_src *s) { return s->name; }
const char *lre_src_fmt(const lre_src *s) { return s->fmt; }

lre_status lre_src_read_all(lre_src *s, uint8_t **out, size_t *n, size_t pad)
{
    lre_ctx *ctx = s->ctx;
    *out = NULL;
    *n = 0;
    uint64_t bound = lre_src_bound(s);
    /* plain: the exact size; gzip: grow from a guess, never past the bound */
    uint64_t cap = s->gzip ? (s->stored < (UINT64_MAX >> 3) ? 4 * s->stored + 4096 : bound)
                           : bound;
    if (cap > bound) cap = bound;
    if (cap > SIZE_MAX - pad - 1)
        return lre_fail(ctx, LRE_ENOMEM, "%s: %s: too large to hold in memory", s->fmt,
                        s->name);
    uint8_t *buf = lre_malloc(ctx, (size_t)cap + pad + 1, "file contents");
    if (!buf) return LRE_ENOMEM;
    size_t len = 0;
    for (;;) {
        size_t got;
        lre_status rc = lre_src_read(s, buf + len, (size_t)cap + 1 - len, &got);
        if (rc) {
            lre_free(ctx, buf, 0);
            return rc;
        }
        len += got;
        if (len <= cap) break; /* short read: the end */
        /* full (the extra byte came too): grow */
        uint64_t ncap = cap * 2 > bound ? bound : cap * 2;
        if (ncap <= cap || ncap > SIZE_MAX - pad - 1) {
            lre_free(ctx, buf, 0);
            return lre_fail(ctx, LRE_EFORMAT, "%s: %s: more data than the file can hold",
                            s->fmt, s->name);
        }
        uint8_t *nb = lre_malloc(ctx, (size_t)ncap + pad + 1, "file contents");
        if (!nb) {
            lre_free(ctx, buf, 0);
            return LRE_ENOMEM;
        }
        memcpy(nb, buf, len);
        lre_free(ctx, buf, 0);
        buf = nb;
        cap = ncap;
    }
    memset(buf + len, 0, pad);
    *out = buf;
    *n = len;
    return LRE_OK;
}
