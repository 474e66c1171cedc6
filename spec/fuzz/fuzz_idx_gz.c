/*
 * fuzz_idx_gz.c — libFuzzer target for gzip-compressed IDX files. Layout:
 * a mode byte, then as fuzz_idx (u16 split, images, labels). Mode bit 0
 * (bit 1): the harness gzips the images (labels) part first, so the parser
 * sees a valid stream of fuzzed content; otherwise the part is passed as is,
 * which fuzzes corrupt and truncated gzip streams (the seeds are real ones).
 */
#include <zlib.h>

#include "fuzz_common.h"

/* gzip-compresses src into a malloc'd buffer. */
static uint8_t *gz(const uint8_t *src, size_t n, size_t *out_n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)n;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int r = deflate(&z, Z_FINISH);
    *out_n = cap - z.avail_out;
    deflateEnd(&z);
    if (r != Z_STREAM_END) {
        free(buf);
        return NULL;
    }
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned mode = data[0];
    const uint8_t *im, *lb;
    size_t ni, nl;
    fuzz_split2(data + 1, size - 1, &im, &ni, &lb, &nl);
    uint8_t *gi = NULL, *gl = NULL;
    if (mode & 1) {
        gi = gz(im, ni, &ni);
        if (!gi) return 0;
        im = gi;
    }
    if (mode & 2) {
        gl = gz(lb, nl, &nl);
        if (!gl) {
            free(gi);
            return 0;
        }
        lb = gl;
    }
    lre_ctx *ctx = fuzz_ctx();
    lre_dataset *d = NULL;
    lre_status s = lre_dataset_idx_mem(ctx, &d, im, ni, lb, nl);
    fuzz_check_status(ctx, s, d, "<images>", "<labels>");
    if (d) fuzz_workout(d);
    lre_dataset_release(d);
    fuzz_done(ctx);
    free(gi);
    free(gl);
    return 0;
}
