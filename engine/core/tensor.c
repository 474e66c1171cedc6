/*
 * tensor.c — contiguous tensors of up to four dimensions over ref-counted,
 * device-tagged storage. Views share storage; every copy to and from the
 * host goes through the backend, so callers never touch device memory.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

_Static_assert(LRE_DTYPE_COUNT == 4, "dtype tables below must match lre_dtype");
static const size_t dtype_sizes[LRE_DTYPE_COUNT] = {4, 4, 1, 8};
static const char *const dtype_names[LRE_DTYPE_COUNT] = {"f32", "i32", "u8", "i64"};

size_t lre_dtype_size(lre_dtype t) { return (unsigned)t < LRE_DTYPE_COUNT ? dtype_sizes[t] : 0; }
const char *lre_dtype_name(lre_dtype t)
{
    return (unsigned)t < LRE_DTYPE_COUNT ? dtype_names[t] : "?";
}

static lre_status check_shape(lre_ctx *ctx, const char *fn, int ndim, const int64_t *shape,
                              int64_t *numel)
{
    if (ndim < 1 || ndim > LRE_MAX_DIMS)
        return lre_fail(ctx, LRE_EINVAL, "%s: ndim %d is outside [1, %d]", fn, ndim,
                        LRE_MAX_DIMS);
    if (!shape) return lre_fail(ctx, LRE_EINVAL, "%s: shape is NULL", fn);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return lre_fail(ctx, LRE_EINVAL, "%s: dimension %d is negative (%" PRId64 ")", fn,
                            i, shape[i]);
        if (shape[i] > 0 && n > INT64_MAX / 8 / shape[i])
            return lre_fail(ctx, LRE_EINVAL, "%s: shape overflows (dimension %d = %" PRId64 ")",
                            fn, i, shape[i]);
        n *= shape[i];
    }
    *numel = n;
    return LRE_OK;
}

lre_status lre_tensor_new(lre_ctx *ctx, lre_tensor **out, lre_dtype dtype, int ndim,
                          const int64_t *shape)
{
    if (!ctx) return LRE_EINVAL;
    if (!out) return lre_fail(ctx, LRE_EINVAL, "lre_tensor_new: out is NULL");
    *out = NULL;
    if ((unsigned)dtype >= LRE_DTYPE_COUNT)
        return lre_fail(ctx, LRE_EINVAL, "lre_tensor_new: unknown dtype %d", (int)dtype);
    int64_t numel;
    lre_status s = check_shape(ctx, "lre_tensor_new", ndim, shape, &numel);
    if (s) return s;
    lre_tensor *t = lre_calloc(ctx, 1, sizeof *t, "tensor");
    lre_storage *st = lre_calloc(ctx, 1, sizeof *st, "tensor storage");
    if (!t || !st) {
        lre_free(ctx, t, sizeof *t);
        lre_free(ctx, st, sizeof *st);
        return LRE_ENOMEM;
    }
    st->nbytes = (size_t)numel * dtype_sizes[dtype];
    st->data = ctx->be->alloc(ctx->be_state, st->nbytes);
    if (!st->data) {
        lre_free(ctx, t, sizeof *t);
        lre_free(ctx, st, sizeof *st);
        return lre_fail(ctx, LRE_ENOMEM, "lre_tensor_new: out of %s memory for %zu bytes",
                        lre_device_name(ctx->device), (size_t)numel * dtype_sizes[dtype]);
    }
    st->refcount = 1;
    st->ctx = ctx;
    st->device = ctx->device;
    lre_ctx_retain(ctx);
    t->refcount = 1;
    t->st = st;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->numel = numel;
    *out = t;
    return LRE_OK;
}

lre_status lre_tensor_view(lre_tensor **out, lre_tensor *t, int64_t offset, int ndim,
                           const int64_t *shape)
{
    if (!t) return LRE_EINVAL;
    lre_ctx *ctx = t->st->ctx;
    if (!out) return lre_fail(ctx, LRE_EINVAL, "lre_tensor_view: out is NULL");
    *out = NULL;
    int64_t numel;
    lre_status s = check_shape(ctx, "lre_tensor_view", ndim, shape, &numel);
    if (s) return s;
    if (offset < 0 || offset > t->numel || numel > t->numel - offset) {
        char buf[64];
        return lre_fail(ctx, LRE_ESHAPE,
                        "lre_tensor_view: %" PRId64 " elements at offset %" PRId64
                        " do not fit in %s",
                        numel, offset, lre_tensor_describe(t, buf, sizeof buf));
    }
    lre_tensor *v = lre_calloc(ctx, 1, sizeof *v, "tensor view");
    if (!v) return LRE_ENOMEM;
    v->refcount = 1;
    v->st = t->st;
    v->st->refcount++;
    v->offset = t->offset + (size_t)offset * dtype_sizes[t->dtype];
    v->dtype = t->dtype;
    v->ndim = ndim;
    for (int i = 0; i < ndim; i++) v->shape[i] = shape[i];
    v->numel = numel;
    *out = v;
    return LRE_OK;
}

void lre_tensor_retain(lre_tensor *t)
{
    if (t) t->refcount++;
}

void lre_tensor_release(lre_tensor *t)
{
    if (!t || --t->refcount > 0) return;
    lre_storage *st = t->st;
    lre_ctx *ctx = st->ctx;
    if (--st->refcount == 0) {
        ctx->be->free(ctx->be_state, st->data);
        lre_free(ctx, st, sizeof *st);
        lre_free(ctx, t, sizeof *t);
        lre_ctx_release(ctx);
        return;
    }
    lre_free(ctx, t, sizeof *t);
}

void lre_tensor_set_rows(lre_tensor *view, const lre_tensor *full, int64_t rows)
{
    *view = *full;
    view->refcount = 1;
    view->shape[0] = rows;
    view->numel = full->shape[0] ? full->numel / full->shape[0] * rows : 0;
}

void lre_tensor_set_row_range(lre_tensor *view, const lre_tensor *full, int64_t first,
                              int64_t rows)
{
    lre_tensor_set_rows(view, full, rows);
    int64_t row_elems = full->shape[0] ? full->numel / full->shape[0] : 0;
    view->offset = full->offset + (size_t)(first * row_elems) * dtype_sizes[full->dtype];
}

lre_status lre_tensor_to_pinned_async(const lre_tensor *src, void *dst, size_t nbytes)
{
    lre_ctx *ctx = src->st->ctx;
    if (!nbytes) return LRE_OK;
    return ctx->be->to_host_async(ctx->be_state, dst, (const char *)src->st->data + src->offset,
                                  nbytes);
}

lre_dtype lre_tensor_dtype(const lre_tensor *t) { return t->dtype; }
lre_device lre_tensor_device(const lre_tensor *t) { return t->st->device; }
int lre_tensor_ndim(const lre_tensor *t) { return t->ndim; }
int64_t lre_tensor_dim(const lre_tensor *t, int i)
{
    return (i >= 0 && i < t->ndim) ? t->shape[i] : 0;
}
int64_t lre_tensor_numel(const lre_tensor *t) { return t->numel; }
void *lre_tensor_data(lre_tensor *t) { return (char *)t->st->data + t->offset; }

const char *lre_tensor_describe(const lre_tensor *t, char *buf, size_t n)
{
    if (!buf || !n) return buf;
    if (!t) {
        snprintf(buf, n, "(null)");
        return buf;
    }
    size_t len = (size_t)snprintf(buf, n, "%s[", lre_dtype_name(t->dtype));
    for (int i = 0; i < t->ndim && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%" PRId64, i ? "," : "", t->shape[i]);
    if (len < n) snprintf(buf + len, n - len, "]");
    return buf;
}

static lre_status check_nbytes(const lre_tensor *t, size_t nbytes, const char *fn)
{
    size_t want = (size_t)t->numel * dtype_sizes[t->dtype];
    if (nbytes != want) {
        char buf[64];
        return lre_fail(t->st->ctx, LRE_ESHAPE, "%s: %zu bytes given, %s holds %zu", fn, nbytes,
                        lre_tensor_describe(t, buf, sizeof buf), want);
    }
    return LRE_OK;
}

lre_status lre_tensor_from_host(lre_tensor *t, const void *src, size_t nbytes)
{
    if (!t) return LRE_EINVAL;
    lre_ctx *ctx = t->st->ctx;
    if (!src) return lre_fail(ctx, LRE_EINVAL, "lre_tensor_from_host: src is NULL");
    lre_status s = check_nbytes(t, nbytes, "lre_tensor_from_host");
    if (s) return s;
    if (!nbytes) return LRE_OK;
    return ctx->be->to_device(ctx->be_state, lre_tensor_data(t), src, nbytes);
}

lre_status lre_tensor_to_host(const lre_tensor *t, void *dst, size_t nbytes)
{
    if (!t) return LRE_EINVAL;
    lre_ctx *ctx = t->st->ctx;
    if (!dst) return lre_fail(ctx, LRE_EINVAL, "lre_tensor_to_host: dst is NULL");
    lre_status s = check_nbytes(t, nbytes, "lre_tensor_to_host");
    if (s) return s;
    if (!nbytes) return LRE_OK;
    return ctx->be->to_host(ctx->be_state, dst, (const char *)t->st->data + t->offset, nbytes);
}

lre_status lre_tensor_copy(lre_tensor *dst, const lre_tensor *src)
{
    if (!dst || !src) return dst ? lre_fail(dst->st->ctx, LRE_EINVAL, "lre_tensor_copy: src is NULL")
                                 : LRE_EINVAL;
    lre_ctx *ctx = dst->st->ctx;
    if (src->st->ctx != ctx)
        return lre_fail(ctx, LRE_EINVAL, "lre_tensor_copy: src belongs to another context");
    if (src->dtype != dst->dtype || src->numel != dst->numel) {
        char a[64], b[64];
        return lre_fail(ctx, LRE_ESHAPE, "lre_tensor_copy: src %s does not fit dst %s",
                        lre_tensor_describe(src, a, sizeof a),
                        lre_tensor_describe(dst, b, sizeof b));
    }
    size_t n = (size_t)src->numel * dtype_sizes[src->dtype];
    if (!n) return LRE_OK;
    return ctx->be->copy(ctx->be_state, lre_tensor_data(dst),
                         (const char *)src->st->data + src->offset, n);
}

lre_status lre_tensor_zero(lre_tensor *t)
{
    if (!t) return LRE_EINVAL;
    lre_ctx *ctx = t->st->ctx;
    size_t n = (size_t)t->numel * dtype_sizes[t->dtype];
    if (!n) return LRE_OK;
    return ctx->be->zero(ctx->be_state, lre_tensor_data(t), n);
}
