/*
 * backend.c — what every backend shares: the table of the backends compiled
 * into this build (a context finds its backend here, not through an #ifdef
 * chain), the error sink and the counted, aligned host allocator.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"

static const lre_backend *const compiled[] = {
    &lre_backend_cpu,
#ifdef LRE_WITH_CUDA
    &lre_backend_cuda,
#endif
};
#define N_COMPILED ((int)(sizeof compiled / sizeof compiled[0]))

const lre_backend *lre_backend_at(int i)
{
    return i >= 0 && i < N_COMPILED ? compiled[i] : NULL;
}

const lre_backend *lre_backend_find(lre_device d)
{
    for (int i = 0; i < N_COMPILED; i++)
        if (compiled[i]->device == d) return compiled[i];
    return NULL;
}

lre_status lre_backend_fail(const lre_backend_env *env, lre_status s, const char *fmt, ...)
{
    if (!env || !env->err) return s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(env->err, LRE_ERRMSG_SIZE, fmt, ap);
    va_end(ap);
    return s;
}

/* Each block carries a 64-byte header holding its size, so lre_host_free
 * keeps bytes_live exact, and data stays 64-byte aligned for BLAS and SIMD. */
#define HDR 64

void *lre_host_alloc(lre_mem_stats *stats, size_t n, int zero)
{
    if (n > SIZE_MAX - 2 * HDR) return NULL;
    size_t total = (HDR + n + HDR - 1) / HDR * HDR;
    char *base = aligned_alloc(HDR, total);
    if (!base) return NULL;
    if (zero) memset(base + HDR, 0, n);
    memcpy(base, &n, sizeof n);
    stats->n_allocs++;
    stats->bytes_live += n;
    return base + HDR;
}

void lre_host_free(lre_mem_stats *stats, void *p)
{
    if (!p) return;
    char *base = (char *)p - HDR;
    size_t size;
    memcpy(&size, base, sizeof size);
    stats->bytes_live -= size;
    free(base);
}
