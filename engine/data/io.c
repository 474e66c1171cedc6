/*
 * data_io.c — byte sources for the dataset loaders. A file is read with
 * read(): a plain one straight into the caller's buffer, a gzip one (magic
 * 1f 8b) through a 128 KiB input buffer and zlib's inflate, which writes
 * straight into the caller's buffer too, so a 47 MB image file streams into
 * the dataset with no second copy. A memory buffer (the fuzz targets' path)
 * is copied out as is or inflated by the same loop, whose only difference
 * is where the input comes from (refill). zlib's gz* functions are not
 * used: gzread ignores whatever follows the last gzip member, and a file
 * with bytes after its data is damaged or not what it seems, so both paths
 * refuse them. The parsers only see lre_src_read.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data/data.h"

/* Deflate's largest expansion: a 258-byte match coded in 2 bits. */
#define LRE_DEFLATE_MAX_RATIO 1032u
/* The input buffer of a gzip file, as gzbuffer was given before. */
#define LRE_SRC_INBUF (1u << 17)

struct lre_src {
    lre_ctx *ctx;
    const char *fmt, *name;  /* message prefix; not owned */
    int gzip;
    uint64_t stored;         /* bytes in the file or buffer */
    uint64_t pos;            /* bytes delivered */
    int fd;                  /* file, else -1 */
    uint64_t taken;          /* file: bytes read from it so far */
    uint8_t *in;             /* gzip file: LRE_SRC_INBUF bytes after the struct */
    const uint8_t *buf;      /* memory */
    size_t n, off;           /* memory: size, bytes handed to zlib or copied */
    int eof;                 /* gzip: the input has no more bytes */
    z_stream zs;
    int zinit, zdone;
};

/* A source with `extra` bytes after the struct (the input buffer). */
static lre_status src_new(lre_ctx *ctx, lre_src **out, const char *fmt, const char *name,
                          size_t extra)
{
    *out = lre_malloc(ctx, sizeof **out + extra, "data source");
    if (!*out) return LRE_ENOMEM;
    memset(*out, 0, sizeof **out);
    (*out)->ctx = ctx;
    (*out)->fmt = fmt;
    (*out)->name = name;
    (*out)->fd = -1;
    if (extra) (*out)->in = (uint8_t *)(*out + 1);
    return LRE_OK;
}

static lre_status zstart(lre_src *s)
{
    if (inflateInit2(&s->zs, 16 + MAX_WBITS) != Z_OK)
        return lre_fail(s->ctx, LRE_ENOMEM, "%s: %s: out of memory starting zlib", s->fmt,
                        s->name);
    s->zinit = 1;
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
    const int gzip = m == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    lre_src *s;
    lre_status rc = src_new(ctx, &s, fmt, path, gzip ? LRE_SRC_INBUF : 0);
    if (rc) {
        close(fd);
        return rc;
    }
    s->fd = fd;
    s->stored = (uint64_t)st.st_size;
    s->gzip = gzip;
    if (gzip && (rc = zstart(s))) {
        lre_src_close(s);
        return rc;
    }
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
    lre_status rc = src_new(ctx, &s, fmt, name ? name : "<memory>", 0);
    if (rc) return rc;
    s->buf = buf;
    s->n = n;
    s->stored = n;
    s->gzip = n >= 2 && s->buf[0] == 0x1f && s->buf[1] == 0x8b;
    if (s->gzip && (rc = zstart(s))) {
        lre_src_close(s);
        return rc;
    }
    *out = s;
    return LRE_OK;
}

void lre_src_close(lre_src *s)
{
    if (!s) return;
    if (s->fd >= 0) close(s->fd);
    if (s->zinit) inflateEnd(&s->zs);
    lre_free(s->ctx, s, sizeof *s);
}

/* read(2) until n bytes or the end of the file (*got < n), through EINTR. */
static lre_status read_fd(lre_src *s, uint8_t *dst, size_t n, size_t *got)
{
    size_t done = 0;
    while (done < n) {
        size_t want = n - done;
        ssize_t r = read(s->fd, dst + done, want > (1u << 30) ? (1u << 30) : want);
        if (r < 0) {
            if (errno == EINTR) continue;
            return lre_fail(s->ctx, LRE_EIO, "%s: %s: read error: %s", s->fmt, s->name,
                            strerror(errno));
        }
        if (r == 0) break;
        done += (size_t)r;
    }
    s->taken += done;
    *got = done;
    return LRE_OK;
}

/* Gives zlib more input, keeping the `keep` unread bytes it has (moved to
 * the front of a file's buffer); sets eof when nothing more came. */
static lre_status refill(lre_src *s)
{
    z_stream *z = &s->zs;
    if (s->fd < 0) { /* memory: from the first unread byte on, at most 4 GiB at a time */
        size_t at = s->off - z->avail_in, left = s->n - at, before = s->off;
        z->next_in = (Bytef *)s->buf + at;
        z->avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
        s->off = at + z->avail_in;
        if (s->off == before) s->eof = 1;
        return LRE_OK;
    }
    size_t keep = z->avail_in, got;
    if (keep) memmove(s->in, z->next_in, keep);
    lre_status rc = read_fd(s, s->in + keep, LRE_SRC_INBUF - keep, &got);
    if (rc) return rc;
    z->next_in = s->in;
    z->avail_in = (uInt)(keep + got);
    if (got == 0) s->eof = 1;
    return LRE_OK;
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

/* A gzip member has ended: what follows is another member (as gzip -d
 * reads concatenated files, zlib starts over), nothing (the end), or
 * anything else, which is refused: gzread would silently drop it. */
static lre_status member_end(lre_src *s)
{
    z_stream *z = &s->zs;
    while (z->avail_in < 2 && !s->eof) { /* the magic may straddle two reads */
        lre_status rc = refill(s);
        if (rc) return rc;
    }
    if (z->avail_in == 0) {
        s->zdone = 1;
        return LRE_OK;
    }
    if (z->avail_in >= 2 && z->next_in[0] == 0x1f && z->next_in[1] == 0x8b)
        return inflateReset(z) == Z_OK ? LRE_OK : gz_fault(s, z->msg, 0);
    /* what is left: in zlib's hands, plus the rest of the file or buffer */
    uint64_t rest = z->avail_in;
    if (s->fd >= 0) rest += s->stored > s->taken ? s->stored - s->taken : 0;
    else rest += s->n - s->off;
    return lre_fail(s->ctx, LRE_EFORMAT, "%s: %s: %" PRIu64 " byte%s of trailing garbage after "
                    "the gzip data (which ends after %" PRIu64 " decompressed bytes)", s->fmt,
                    s->name, rest, rest == 1 ? "" : "s", s->pos);
}

/* Inflates into dst from the file or the memory buffer; handles
 * concatenated gzip members and refuses anything after the last one. */
static lre_status gz_read(lre_src *s, uint8_t *dst, size_t n, size_t *got)
{
    z_stream *z = &s->zs;
    size_t done = 0;
    lre_status rc;
    while (done < n && !s->zdone) {
        if (z->avail_in == 0 && !s->eof && (rc = refill(s))) return rc;
        size_t want = n - done;
        z->next_out = dst + done;
        z->avail_out = want > UINT_MAX ? UINT_MAX : (uInt)want;
        uInt before = z->avail_out;
        int r = inflate(z, Z_NO_FLUSH);
        size_t made = before - z->avail_out;
        done += made;
        s->pos += made;
        if (r == Z_STREAM_END) {
            if ((rc = member_end(s))) return rc;
        } else if (r == Z_MEM_ERROR) {
            return lre_fail(s->ctx, LRE_ENOMEM, "%s: %s: out of memory in zlib", s->fmt, s->name);
        } else if (r != Z_OK && r != Z_BUF_ERROR) {
            return gz_fault(s, z->msg, 0);
        } else if (made == 0 && z->avail_in == 0 && s->eof) {
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
    if (s->gzip) return gz_read(s, dst, n, got);
    if (s->fd >= 0) {
        lre_status rc = read_fd(s, dst, n, got);
        s->pos += *got;
        return rc;
    }
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

lre_status lre_fail_limit(lre_ctx *ctx, const char *fmt, const char *name, const char *what, ...)
{
    char w[400];
    va_list ap;
    va_start(ap, what);
    vsnprintf(w, sizeof w, what, ap);
    va_end(ap);
    return lre_fail(ctx, LRE_EINVAL, "%s: %s: %s, more than the loading limit of %" PRIu64
                    " bytes (max_bytes; raise it with lre.data.%s(..., {max_bytes = N}) or "
                    "lre_ctx_set_max_load_bytes)", fmt, name, w, ctx->max_load_bytes, fmt);
}

const char *lre_what_of(char *buf, size_t n, const char *what, const char *name)
{
    snprintf(buf, n, "%s of %s", what, name);
    return buf;
}

lre_status lre_src_read_all(lre_src *s, uint8_t **out, size_t *n, size_t pad)
{
    lre_ctx *ctx = s->ctx;
    *out = NULL;
    *n = 0;
    const uint64_t bound = lre_src_bound(s), limit = ctx->max_load_bytes;
    char what[LRE_WHAT_SIZE];
    lre_what_of(what, sizeof what, "the contents", s->name);
    if (!s->gzip && bound > limit)
        return lre_fail_limit(ctx, s->fmt, s->name, "the file holds %" PRIu64 " bytes", bound);
    /* plain: the exact size; gzip: grow from a guess, never past the bound
     * nor the limit: a text that goes on past the limit is refused as soon
     * as its next byte comes, the buffer never above limit + pad + 1 */
    uint64_t cap = s->gzip ? (s->stored < (UINT64_MAX >> 3) ? 4 * s->stored + 4096 : bound)
                           : bound;
    if (cap > bound) cap = bound;
    if (cap > limit) cap = limit;
    if (cap > SIZE_MAX - pad - 1)
        return lre_fail(ctx, LRE_ENOMEM, "%s: %s: too large to hold in memory", s->fmt,
                        s->name);
    uint8_t *buf = lre_malloc(ctx, (size_t)cap + pad + 1, what);
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
        if (cap >= limit) {
            lre_free(ctx, buf, 0);
            return lre_fail_limit(ctx, s->fmt, s->name, "the gzip data decompresses to %"
                                  PRIu64 " bytes or more", limit + 1);
        }
        uint64_t ncap = cap * 2 > bound ? bound : cap * 2;
        if (ncap > limit) ncap = limit;
        if (ncap <= cap || ncap > SIZE_MAX - pad - 1) {
            lre_free(ctx, buf, 0);
            return lre_fail(ctx, LRE_EFORMAT, "%s: %s: more data than the file can hold",
                            s->fmt, s->name);
        }
        uint8_t *nb = lre_malloc(ctx, (size_t)ncap + pad + 1, what);
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
