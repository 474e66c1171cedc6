/*
 * ctx.c — the engine context: backend choice, RNG, the last error message and
 * the host allocator whose counters let tests prove a path allocates nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

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

int lre_device_compiled(lre_device d) { return lre_backend_find(d) != NULL; }

_Static_assert(LRE_PRECISION_COUNT == 3, "precision names below must match lre_precision");
const char *lre_precision_name(lre_precision p)
{
    switch (p) {
    case LRE_PRECISION_FP32: return "fp32";
    case LRE_PRECISION_TF32: return "tf32";
    case LRE_PRECISION_BF16: return "bf16";
    case LRE_PRECISION_COUNT: break;
    }
    return "unknown";
}

lre_status lre_ctx_use_precision(lre_ctx *ctx, lre_precision want, lre_precision *got)
{
    if (!ctx || !got) return lre_fail(ctx, LRE_EINVAL, "use_precision: got is NULL");
    if ((unsigned)want >= LRE_PRECISION_COUNT)
        return lre_fail(ctx, LRE_EINVAL, "use_precision: unknown precision %d", (int)want);
    if (ctx->prec_valid && ctx->prec_want == want) {
        *got = ctx->prec_got;
        return LRE_OK;
    }
    lre_precision p = LRE_PRECISION_FP32;
    if (ctx->be->set_precision) {
        lre_status s = ctx->be->set_precision(ctx->be_state, want, &p);
        if (s != LRE_OK) {
            ctx->prec_valid = 0; /* the device's mode is unknown now */
            return s;
        }
    }
    ctx->prec_valid = 1;
    ctx->prec_want = want;
    ctx->prec_got = p;
    *got = p;
    return LRE_OK;
}

/* Half of physical memory: a load may take that much and still leave
 * the rest of the process (and the machine) room. 8 GiB where sysconf
 * does not know. */
static uint64_t default_max_load_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || size <= 0) return (uint64_t)8 << 30;
    if ((uint64_t)pages > UINT64_MAX / (uint64_t)size) return UINT64_MAX / 2;
    return (uint64_t)pages * (uint64_t)size / 2;
}

lre_status lre_ctx_set_max_load_bytes(lre_ctx *ctx, uint64_t bytes)
{
    if (!ctx) return LRE_EINVAL;
    ctx->max_load_bytes = bytes ? bytes : default_max_load_bytes();
    return LRE_OK;
}

uint64_t lre_ctx_max_load_bytes(const lre_ctx *ctx) { return ctx ? ctx->max_load_bytes : 0; }

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
    if ((unsigned)o.device > LRE_DEVICE_CUDA)
        return early_fail(errbuf, errbuf_size, LRE_EINVAL, "lre_ctx_new: unknown device");
    const lre_backend *be = lre_backend_find(o.device);
    if (!be) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "lre_ctx_new: device '%s' is not compiled into this build%s",
                 lre_device_name(o.device),
                 o.device == LRE_DEVICE_CUDA ? " (rebuild with nvcc present, or CUDA=1)" : "");
        return early_fail(errbuf, errbuf_size, LRE_EDEVICE, msg);
    }
    if (o.threads < 0)
        return early_fail(errbuf, errbuf_size, LRE_EINVAL, "lre_ctx_new: threads must be >= 0");
    lre_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return early_fail(errbuf, errbuf_size, LRE_ENOMEM, "lre_ctx_new: out of memory");
    ctx->refcount = 1;
    ctx->device = o.device;
    ctx->be = be;
    ctx->threads = o.threads;
    ctx->max_load_bytes = default_max_load_bytes();
    ctx->env.err = ctx->err;
    ctx->env.stats = &ctx->stats;
    ctx->env.threads = o.threads;
    lre_rng_seed(&ctx->rng, o.seed);
    lre_status s = be->init(&ctx->env, &ctx->be_state);
    if (s == LRE_OK) {
        ctx->scratch = be->alloc(ctx->be_state, sizeof *ctx->scratch);
        ctx->scratch_host = be->host_alloc(ctx->be_state, sizeof *ctx->scratch_host);
        if (!ctx->scratch || !ctx->scratch_host) {
            s = LRE_ENOMEM;
            if (ctx->scratch) be->free(ctx->be_state, ctx->scratch);
            if (ctx->scratch_host) be->host_free(ctx->be_state, ctx->scratch_host);
            if (be->shutdown) be->shutdown(ctx->be_state);
        }
    }
    /* the counters report what the context's objects hold, not its own
     * fixed scratch (freed, uncounted, with the context) */
    ctx->stats = (lre_mem_stats){0, 0};
    if (s != LRE_OK) {
        early_fail(errbuf, errbuf_size, s, ctx->err[0] ? ctx->err : lre_status_string(s));
        free(ctx);
        return s;
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
    ctx->be->free(ctx->be_state, ctx->scratch);
    ctx->be->host_free(ctx->be_state, ctx->scratch_host);
    if (ctx->be->shutdown) ctx->be->shutdown(ctx->be_state);
    free(ctx);
}

const char *lre_ctx_error(const lre_ctx *ctx) { return ctx ? ctx->err : "no context"; }
void lre_ctx_clear_error(lre_ctx *ctx)
{
    if (ctx) ctx->err[0] = '\0';
}
lre_device lre_ctx_device(const lre_ctx *ctx) { return ctx->device; }
uint64_t lre_ctx_alloc_count(const lre_ctx *ctx) { return ctx->stats.n_allocs; }
uint64_t lre_ctx_bytes_live(const lre_ctx *ctx) { return ctx->stats.bytes_live; }

lre_status lre_ctx_synchronize(lre_ctx *ctx)
{
    if (!ctx) return LRE_EINVAL;
    return ctx->be->synchronize(ctx->be_state);
}

lre_status lre_scratch_loss(lre_ctx *ctx, float *loss)
{
    lre_status s = ctx->be->to_host(ctx->be_state, &ctx->scratch_host->loss, &ctx->scratch->loss,
                                    sizeof *loss);
    if (!s) *loss = ctx->scratch_host->loss;
    return s;
}

lre_status lre_scratch_correct(lre_ctx *ctx, int64_t *correct)
{
    lre_status s = ctx->be->to_host(ctx->be_state, &ctx->scratch_host->correct,
                                    &ctx->scratch->correct, sizeof *correct);
    if (!s) *correct = ctx->scratch_host->correct;
    return s;
}

void *lre_pinned_alloc(lre_ctx *ctx, size_t n, const char *what)
{
    void *p = ctx->be->host_alloc(ctx->be_state, n);
    if (!p) lre_fail(ctx, LRE_ENOMEM, "out of pinned host memory allocating %zu bytes for %s", n,
                     what);
    return p;
}

void lre_pinned_free(lre_ctx *ctx, void *p)
{
    if (p) ctx->be->host_free(ctx->be_state, p);
}

lre_status lre_capture_begin(lre_ctx *ctx)
{
    if (!lre_ctx_can_capture(ctx))
        return lre_fail(ctx, LRE_ESTATE, "the %s backend does not capture graphs", ctx->be->name);
    return ctx->be->capture_begin(ctx->be_state);
}

lre_status lre_capture_end(lre_ctx *ctx, void **graph)
{
    *graph = NULL;
    return ctx->be->capture_end(ctx->be_state, graph);
}

lre_status lre_graph_launch(lre_ctx *ctx, void *graph)
{
    return ctx->be->graph_launch(ctx->be_state, graph);
}

void lre_graph_destroy(lre_ctx *ctx, void *graph)
{
    if (graph && ctx->be->graph_destroy) ctx->be->graph_destroy(ctx->be_state, graph);
}

lre_status lre_fail(lre_ctx *ctx, lre_status s, const char *fmt, ...)
{
    if (!ctx) return s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
    va_end(ap);
    return s;
}

static void *alloc_block(lre_ctx *ctx, size_t n, int zero, const char *what)
{
    void *p = lre_host_alloc(&ctx->stats, n, zero);
    if (!p) lre_fail(ctx, LRE_ENOMEM, "out of memory allocating %zu bytes for %s", n, what);
    return p;
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
    lre_host_free(&ctx->stats, p);
}
