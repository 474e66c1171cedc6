/*
 * fuzz_common.h — what the libFuzzer targets share: a fresh context per
 * input, the checks every input must pass (a failure leaves a non-empty
 * message naming the input; nothing leaks through the engine's allocator),
 * and a workout of a loaded dataset (gather with transforms, statistics,
 * subset, split) so the code behind the parsers is exercised too.
 * A violated check calls __builtin_trap, which libFuzzer reports as a crash.
 */
#ifndef LRE_FUZZ_COMMON_H
#define LRE_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "train/train.h"

#define FUZZ_REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

static inline lre_ctx *fuzz_ctx(void)
{
    lre_ctx *ctx = NULL;
    FUZZ_REQUIRE(lre_ctx_new(&ctx, NULL) == LRE_OK);
    return ctx;
}

/* A failed load names the input (`name`, or any of the NULL-terminated
 * alternatives) in its message. */
static inline void fuzz_check_status(lre_ctx *ctx, lre_status s, lre_dataset *d, const char *name1,
                              const char *name2)
{
    if (s == LRE_OK) {
        FUZZ_REQUIRE(d != NULL);
        return;
    }
    FUZZ_REQUIRE(d == NULL);
    const char *m = lre_ctx_error(ctx);
    FUZZ_REQUIRE(m && m[0]);
    if (s == LRE_EFORMAT) FUZZ_REQUIRE(strstr(m, name1) || (name2 && strstr(m, name2)));
}

static inline void fuzz_workout(lre_dataset *d)
{
    int64_t n = lre_dataset_size(d), F = lre_dataset_features(d);
    FUZZ_REQUIRE(n >= 1 && F >= 1);
    int64_t rows = n < 8 ? n : 8;
    if (F > (1 << 16)) return; /* keep each input cheap */
    float *x = malloc(sizeof *x * (size_t)(rows * F));
    int32_t *y = malloc(sizeof *y * (size_t)rows);
    float *t = malloc(sizeof *t * (size_t)(rows * (lre_dataset_target_dim(d) + 1)));
    float *ms = malloc(sizeof *ms * (size_t)(2 * F));
    int64_t idx[8];
    for (int64_t i = 0; i < rows; i++) idx[i] = (i * 7) % n;
    lre_dataset *a = NULL, *b = NULL, *c = NULL, *e = NULL;
    FUZZ_REQUIRE(x && y && t && ms);
    FUZZ_REQUIRE(lre_dataset_gather(d, idx, rows, x, y, t) == LRE_OK);
    if (lre_dataset_scale(d, &a, 1.0f / 255) == LRE_OK) {
        FUZZ_REQUIRE(lre_dataset_gather(a, idx, rows, x, y, t) == LRE_OK);
        if (lre_dataset_standardize(a, &b, 1) == LRE_OK)
            FUZZ_REQUIRE(lre_dataset_gather(b, idx, rows, x, y, t) == LRE_OK);
        FUZZ_REQUIRE(lre_dataset_stats(a, 0, ms, ms + 1) == LRE_OK);
    }
    if (n >= 2 && lre_dataset_split(d, &c, &e, 0.5, 1) == LRE_OK)
        FUZZ_REQUIRE(lre_dataset_gather(c, idx, 1, x, y, t) == LRE_OK);
    lre_dataset_release(a);
    lre_dataset_release(b);
    lre_dataset_release(c);
    lre_dataset_release(e);
    free(x);
    free(y);
    free(t);
    free(ms);
}

/* Every engine allocation is back: nothing leaked, on success or failure. */
static inline void fuzz_done(lre_ctx *ctx)
{
    FUZZ_REQUIRE(lre_ctx_bytes_live(ctx) == 0);
    lre_ctx_release(ctx);
}

/* Input layout shared by the two-file targets: a little-endian u16 split
 * point, then the first file's bytes, then the second's. */
static inline void fuzz_split2(const uint8_t *data, size_t size, const uint8_t **a, size_t *na,
                        const uint8_t **b, size_t *nb)
{
    size_t cut = size >= 2 ? (size_t)(data[0] | data[1] << 8) : 0;
    data += size >= 2 ? 2 : size;
    size -= size >= 2 ? 2 : size;
    if (cut > size) cut = size;
    *a = data;
    *na = cut;
    *b = data + cut;
    *nb = size - cut;
}

#endif /* LRE_FUZZ_COMMON_H */
