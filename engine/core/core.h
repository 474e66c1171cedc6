/*
 * core/core.h — the engine's core, private to the engine: the context
 * (backend, RNG, last error message, allocation counters), the host
 * allocator, and tensors over ref-counted, device-tagged storage.
 *
 * Layer 2 (README.md, "Layout"). May include: the public header and backend/backend.h.
 * The backend's table is called from core/ (tensors, copies), nn/ (ops,
 * optimizer updates) and data/ (the batch gather) only; the trainer (train/)
 * goes through those functions and never branches on the device.
 * Every layer above (nn/, data/, train/) includes this header.
 */
#ifndef LRE_CORE_H
#define LRE_CORE_H

#include <stdarg.h>
#include <stdbool.h>

#include "lrengine.h"
#include "backend/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Device memory every context keeps for the scalars that cross between the
 * host and the device: a loss or a count coming back, an optimizer's
 * per-step scalars going out. Allocated once with the context. */
typedef struct lre_scratch {
    float loss;
    int32_t pad_;
    int64_t correct;
    lre_optim_scalars optim;
} lre_scratch;

struct lre_ctx {
    int refcount;
    lre_device device;
    const lre_backend *be;
    void *be_state;          /* backend private state (cuBLAS handle, ...) */
    lre_backend_env env;     /* what the backend was given: err, stats, threads */
    lre_mem_stats stats;     /* every allocation, host and device */
    lre_scratch *scratch;    /* on the device */
    lre_scratch *scratch_host; /* its host side, in host_alloc (pinned) memory */
    lre_rng rng;
    int threads;
    /* the gemm precision last set on the backend (lre_ctx_use_precision) */
    int prec_valid;          /* 0 until the first call */
    lre_precision prec_want, prec_got;
    /* The most bytes a dataset loader may put in one buffer: the data a
     * header declares, a decompressed text, a CSV's parsed rows. Checked
     * before the buffer is allocated, so a small gzip file that expands
     * (deflate allows 1032:1) cannot take the machine's memory.
     * lre_ctx_set_max_load_bytes; half of physical memory by default. */
    uint64_t max_load_bytes;
    char err[LRE_ERRMSG_SIZE];
};

/* Does the backend's memory live on the host (CPU)? A capability, for the
 * data layer's choice between reading rows in place and mirroring them. */
static inline int lre_ctx_is_host(const lre_ctx *ctx) { return ctx->be->is_host; }

/* Host memory the device copies from and to without waiting (pinned on
 * CUDA): the buffers a captured step reads and writes. Counted. */
void *lre_pinned_alloc(lre_ctx *ctx, size_t n, const char *what);
void lre_pinned_free(lre_ctx *ctx, void *p);

/* dst (pinned, nbytes) = the first nbytes of src, issued without waiting:
 * valid after lre_ctx_synchronize. */
lre_status lre_tensor_to_pinned_async(const lre_tensor *src, void *dst, size_t nbytes);

/* Graphs: does the backend capture? Then capture_begin ... capture_end
 * records the entries issued in between (which must not allocate or wait)
 * into *graph, and graph_launch replays it. */
static inline int lre_ctx_can_capture(const lre_ctx *ctx) { return ctx->be->capture_begin != NULL; }
lre_status lre_capture_begin(lre_ctx *ctx);
/* Ends the capture begun; on failure *graph is NULL and the stream is
 * usable again. */
lre_status lre_capture_end(lre_ctx *ctx, void **graph);
lre_status lre_graph_launch(lre_ctx *ctx, void *graph);
void lre_graph_destroy(lre_ctx *ctx, void *graph);

/* Sets the compute type of the gemm calls that follow to `want` and writes
 * into *got the one the device does (`want`, or LRE_PRECISION_FP32 where
 * the device lacks it; always FP32 on a backend without set_precision).
 * The mode in force is cached: a call with the same `want` as the last
 * one costs nothing (no backend call). Allocates nothing. */
lre_status lre_ctx_use_precision(lre_ctx *ctx, lre_precision want, lre_precision *got);

/* The scalar (host) the last loss or count entry wrote into the scratch. */
lre_status lre_scratch_loss(lre_ctx *ctx, float *loss);
lre_status lre_scratch_correct(lre_ctx *ctx, int64_t *correct);

/* Sets the context's message (printf style) and returns `s`. */
lre_status lre_fail(lre_ctx *ctx, lre_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Host allocation through the context's counters. lre_malloc zero-fills
 * nothing; lre_calloc does. Failure sets an LRE_ENOMEM message naming
 * `what`. */
void *lre_malloc(lre_ctx *ctx, size_t n, const char *what);
void *lre_calloc(lre_ctx *ctx, size_t count, size_t size, const char *what);
/* `n` is informational: each block records its own size. */
void lre_free(lre_ctx *ctx, void *p, size_t n);

/* ----------------------------------------------------------- tensors */

typedef struct lre_storage {
    int refcount;
    lre_ctx *ctx;            /* retained */
    lre_device device;
    size_t nbytes;
    void *data;              /* device pointer (host memory for the CPU) */
} lre_storage;

struct lre_tensor {
    int refcount;
    lre_storage *st;
    size_t offset;           /* bytes from st->data */
    lre_dtype dtype;
    int ndim;
    int64_t shape[LRE_MAX_DIMS];
    int64_t numel;
};

static inline float *lre_f32(lre_tensor *t) { return (float *)((char *)t->st->data + t->offset); }
static inline const float *lre_cf32(const lre_tensor *t) { return (const float *)((const char *)t->st->data + t->offset); }
static inline int32_t *lre_i32(lre_tensor *t) { return (int32_t *)((char *)t->st->data + t->offset); }
static inline const int32_t *lre_ci32(const lre_tensor *t) { return (const int32_t *)((const char *)t->st->data + t->offset); }
static inline const int64_t *lre_ci64(const lre_tensor *t) { return (const int64_t *)((const char *)t->st->data + t->offset); }

/* Sets *out to a tensor of `rows` leading rows of t (a cheap in-place
 * reshape of an existing tensor struct; no allocation): used for the last,
 * short batch of an epoch. */
void lre_tensor_set_rows(lre_tensor *view, const lre_tensor *full, int64_t rows);
/* The same for rows [first, first + rows) of full. */
void lre_tensor_set_row_range(lre_tensor *view, const lre_tensor *full, int64_t first,
                              int64_t rows);


#ifdef __cplusplus
}
#endif

#endif /* LRE_CORE_H */
