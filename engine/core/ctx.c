/*
 * ctx.c — the engine context: backend choice, RNG, the last error message and
 * the host allocator whose counters let tests prove a path allocates nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#include <cblas.h>

_Static_assert(LRE_STATUS_COUNT == 8, "status table below must match lre_status");
static const char *const status_names[LRE_STATUS_COUNT] = {
    "ok", "invalid argument", "shape mismatch", "out of memory",
    "i/o error", "bad file format", "device error", "invalid state",
};

const char *lre_version(void) { return LRE_VERSION_STRING; }

const char *lre_status_string(lre_status s)
{
    if ((int)s < 0 || s >= LRE_STATUS_COUNT) return "unknown status";
    return status_names[s];
}

const char *lre_device_name(lre_device d)
{
    switch (d) {
    case LRE_DEVICE_CPU: return "cpu";
    case LRE_DEVICE_CUDA: return "cuda";
    }
    return "unknown";
}

int lre_device_compiled(lre_device d)
{
    if (d == LRE_DEVICE_CPU) return 1;
#ifdef LRE_WITH_CUDA
    if (d == LRE_DEVICE_CUDA) return 1;
#endif
    return 0;
}

lre_ctx_opts lre_ctx_opts_default(void)
{
    lre_ctx_opts o = {LRE_DEVICE_CPU, 0, 0};
    return o;
}

lre_status lre_ctx_new(lre_ctx **out, const lre_ctx_opts *opts)
{
    return lre_ctx_new_err(out, opts, NULL, 0);
}

static lre_status early_fail(char *errbuf, size_t n, lre_status s, const char *msg)
{
    if (errbuf && n) snprintf(errbuf, n, "%s", msg);
    return s;
}

lre_status lre_ctx_new_err(lre_ctx **out, const lre_ctx_opts *opts, char *errbuf,
                           size_t errbuf_size)
{
    if (!out) return early_fail(errbuf, errbuf_size, LRE_EINVAL, "lre_ctx_new: out is NULL");
    *out = NULL;
    lre_ctx_opts o = opts ? *opts : lre_ctx_opts_default();
    const lre_backend *be = NULL;
    if (o.device == LRE_DEVICE_CPU) {
        be = &lre_backend_cpu;
#ifdef LRE_WITH_CUDA
    } else if (o.device == LRE_DEVICE_CUDA) {
        be = &lre_backend_cuda;
#endif
    } else if (o.device == LRE_DEVICE_CUDA) {
        return early_fail(errbuf, errbuf_size, LRE_EDEVICE,
                          "lre_ctx_new: device 'cuda' is not compiled into this build "
                          "(rebuild with nvcc present, or CUDA=1)");
    } else {
        return early_fail(errbuf, errbuf_size, LRE_EINVAL, "lre_ctx_new: unknown device");
    }
    if (o.threads < 0)
        return early_fail(errbuf, errbuf_size, LRE_EINVAL, "lre_ctx_new: threads must be >= 0");
    lre_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return early_fail(errbuf, errbuf_size, LRE_ENOMEM, "lre_ctx_new: out of memory");
    ctx->refcount = 1;
    ctx->device = o.device;
    ctx->be = be;
    ctx->threads = o.threads;
    lre_rng_seed(&ctx->rng, o.seed);
    if (o.threads > 0) openblas_set_num_threads(o.threads);
    if (be->init) {
        char msg[LRE_ERRMSG_SIZE] = "";
        lre_status s = be->init(ctx, &ctx->be_state, msg, sizeof msg);
        if (s != LRE_OK) {
            free(ctx);
            return early_fail(errbuf, errbuf_size, s, msg);
        }
    }
    *out = ctx;
    return LRE_OK;
}

void lre_ctx_retain(lre_ctx *ctx)
{
    if (ctx) ctx->refcount++;
}

void lre_ctx_release(lre_ctx *ctx)
{
    if (!ctx || --ctx->refcount > 0) return;
    if (ctx->be->shutdown) ctx->be->shutdown(ctx->be_state);
    free(ctx);
}

const char *lre_ctx_error(const lre_ctx *ctx) { return ctx ? ctx->err : "no context"; }
void lre_ctx_clear_error(lre_ctx *ctx)
{
    if (ctx) ctx->err[0] = '\0';
}
lre_device lre_ctx_device(const lre_ctx *ctx) { return ctx->device; }
uint64_t lre_ctx_alloc_count(const lre_ctx *ctx) { return ctx->n_allocs; }
uint64_t lre_ctx_bytes_live(const lre_ctx *ctx) { return ctx->bytes_live; }

lre_status lre_fail(lre_ctx *ctx, lre_status s, const char *fmt, ...)
{
    if (!ctx) return s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
    va_end(ap);
    return s;
}

/* Each block carries a 64-byte header holding its size, so lre_free can
 * keep bytes_live exact, and data stays 64-byte aligned for BLAS and SIMD. */
#define LRE_ALLOC_HDR 64

static void *alloc_block(lre_ctx *ctx, size_t n, int zero, const char *what)
{
    if (n > SIZE_MAX - 2 * LRE_ALLOC_HDR) {
        lre_fail(ctx, LRE_ENOMEM, "allocation of %zu bytes for %s is too large", n, what);
        return NULL;
    }
    size_t total = (LRE_ALLOC_HDR + n + LRE_ALLOC_HDR - 1) / LRE_ALLOC_HDR * LRE_ALLOC_HDR;
    char *base = aligned_alloc(LRE_ALLOC_HDR, total);
    if (!base) {
        lre_fail(ctx, LRE_ENOMEM, "out of memory allocating %zu bytes for %s", n, what);
        return NULL;
    }
    if (zero) memset(base + LRE_ALLOC_HDR, 0, n);
    memcpy(base, &n, sizeof n);
    ctx->n_allocs++;
    ctx->bytes_live += n;
    return base + LRE_ALLOC_HDR;
}

void *lre_malloc(lre_ctx *ctx, size_t n, const char *what)
{
    return alloc_block(ctx, n, 0, what);
}

void *lre_calloc(lre_ctx *ctx, size_t count, size_t size, const char *what)
{
    if (size && count > SIZE_MAX / size) {
        lre_fail(ctx, LRE_ENOMEM, "allocation for %s overflows (%zu x %zu bytes)", what,
                 count, size);
        return NULL;
    }
    return alloc_block(ctx, count * size, 1, what);
}

void lre_free(lre_ctx *ctx, void *p, size_t n)
{
    (void)n; /* the block's header knows its size */
    if (!p) return;
    char *base = (char *)p - LRE_ALLOC_HDR;
    size_t size;
    memcpy(&size, base, sizeof size);
    ctx->bytes_live -= size;
    free(base);
}
