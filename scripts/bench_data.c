/*
 * bench_data.c — data-layer figures for `make bench`: the time to load
 * Fashion-MNIST's training set from its .gz files, the resident memory it
 * takes (VmRSS before and after, from /proc/self/status), and batch-gather
 * throughput at batch 128 with the 1/255 transform (and with per-feature
 * standardisation), over a shuffled order as the trainer draws it.
 * A report, not a test: a missing data set prints why and exits 0.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lrengine.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* VmRSS in kB, or -1. */
static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

/* Samples per second gathering batches of `bs` rows of d in a shuffled
 * order, for about `secs` seconds. */
static double gather_rate(lre_ctx *ctx, lre_dataset *d, int64_t bs, double secs, float *x,
                          int32_t *y)
{
    int64_t n = lre_dataset_size(d);
    int64_t *perm = malloc(sizeof *perm * (size_t)n);
    if (!perm) return 0;
    lre_rng r;
    lre_rng_seed(&r, 1);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = lre_rng_below(&r, (uint32_t)(i + 1)), k = perm[i];
        perm[i] = perm[j];
        perm[j] = k;
    }
    int64_t done = 0, pos = 0;
    double t0 = now(), t;
    do {
        for (int b = 0; b < 64; b++) {
            if (pos + bs > n) pos = 0;
            if (lre_dataset_gather(d, perm + pos, bs, x, y, NULL) != LRE_OK) {
                fprintf(stderr, "gather: %s\n", lre_ctx_error(ctx));
                free(perm);
                return 0;
            }
            pos += bs;
            done += bs;
        }
        t = now() - t0;
    } while (t < secs);
    free(perm);
    return (double)done / t;
}

int main(void)
{
    lre_ctx *ctx;
    if (lre_ctx_new(&ctx, NULL) != LRE_OK) return 1;
    long rss0 = rss_kb();
    uint64_t live0 = lre_ctx_bytes_live(ctx);
    double t0 = now();
    lre_dataset *train = NULL;
    if (lre_dataset_fashion_mnist(ctx, &train, "train") != LRE_OK) {
        printf("bench_data: skipped: %s\n", lre_ctx_error(ctx));
        lre_ctx_release(ctx);
        return 0;
    }
    double tl = now() - t0;
    long rss1 = rss_kb();
    printf("fashion-mnist train: %" PRId64 " rows of %" PRId64 "x%" PRId64 " %s, %" PRId64
           " classes\n", lre_dataset_size(train), lre_dataset_row_dim(train, 0),
           lre_dataset_row_dim(train, 1), lre_dtype_name(lre_dataset_feature_dtype(train)),
           lre_dataset_num_classes(train));
    printf("load from .gz:       %.3f s (%.1f MB/s of pixels)\n", tl,
           (double)lre_dataset_size(train) * 784 / 1e6 / tl);
    printf("resident memory:     %.1f MB (VmRSS delta); engine allocations %.1f MB\n",
           (double)(rss1 - rss0) * 1024.0 / 1e6,
           (double)(lre_ctx_bytes_live(ctx) - live0) / 1e6);

    const int64_t bs = 128, F = lre_dataset_features(train);
    float *x = malloc(sizeof *x * (size_t)(bs * F));
    int32_t *y = malloc(sizeof *y * (size_t)bs);
    lre_dataset *scaled = NULL, *std = NULL;
    if (!x || !y || lre_dataset_scale(train, &scaled, 1.0f / 255) != LRE_OK ||
        lre_dataset_standardize(scaled, &std, 1) != LRE_OK) {
        fprintf(stderr, "bench_data: %s\n", lre_ctx_error(ctx));
        return 1;
    }
    double r1 = gather_rate(ctx, scaled, bs, 1.0, x, y);
    printf("gather batch %" PRId64 ", x/255:            %.3g samples/s (%.2f GB/s of f32 "
           "written)\n", bs, r1, r1 * (double)F * 4 / 1e9);
    double r2 = gather_rate(ctx, std, bs, 1.0, x, y);
    printf("gather batch %" PRId64 ", per-feature std:  %.3g samples/s\n", bs, r2);

    t0 = now();
    lre_dataset *test = NULL;
    if (lre_dataset_fashion_mnist(ctx, &test, "test") == LRE_OK)
        printf("load test split:     %.3f s\n", now() - t0);
    lre_dataset_release(test);
    lre_dataset_release(std);
    lre_dataset_release(scaled);
    lre_dataset_release(train);
    free(x);
    free(y);
    lre_ctx_release(ctx);
    return 0;
}
