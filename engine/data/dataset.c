/*
 * dataset.c — datasets: immutable, shared row storage (features kept in
 * their stored type, u8 or f32; int labels or float targets) and cheap
 * dataset objects over it (a row index for subsets and splits, and the
 * transform applied while a batch is gathered: a scale, then a global or
 * per-feature mean/std), the statistics to normalise with, and the gather
 * itself — the one data loop of every step, so it is vectorised and
 * prefetches the next rows of a shuffled order.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "data/data.h"

lre_status lre_rows_new(lre_ctx *ctx, lre_rows **out, lre_dtype dtype, int64_t n, int row_ndim,
                        const int64_t *row_shape, void *x, int32_t *labels, float *targets,
                        int64_t target_dim, int64_t num_classes, const char *source)
{
    static const char fn[] = "dataset";
    if (!ctx) return LRE_EINVAL;
    if (!source) source = "data";
    if (!out) return lre_fail(ctx, LRE_EINVAL, "%s: out is NULL", fn);
    *out = NULL;
    if (dtype != LRE_F32 && dtype != LRE_U8)
        return lre_fail(ctx, LRE_EINVAL, "%s: %s: features must be f32 or u8, not %s", fn,
                        source, lre_dtype_name(dtype));
    if (n < 1) return lre_fail(ctx, LRE_EINVAL, "%s: %s has no rows", fn, source);
    if (row_ndim < 1 || row_ndim > LRE_MAX_DIMS || !row_shape)
        return lre_fail(ctx, LRE_EINVAL, "%s: %s: a row must have 1 to %d dimensions", fn,
                        source, LRE_MAX_DIMS);
    int64_t features = 1;
    for (int i = 0; i < row_ndim; i++) {
        if (row_shape[i] < 1 || row_shape[i] > INT32_MAX || features > INT32_MAX / row_shape[i])
            return lre_fail(ctx, LRE_EINVAL, "%s: %s: row dimension %d (%" PRId64
                            ") is out of range", fn, source, i, row_shape[i]);
        features *= row_shape[i];
    }
    if (!x) return lre_fail(ctx, LRE_EINVAL, "%s: %s: features are NULL", fn, source);
    if ((labels == NULL) == (targets == NULL))
        return lre_fail(ctx, LRE_EINVAL, "%s: %s: give either int labels or float targets", fn,
                        source);
    if (dtype == LRE_F32) {
        const float *fx = x;
        for (int64_t r = 0; r < n; r++)
            for (int64_t c = 0; c < features; c++)
                if (!isfinite(fx[r * features + c]))
                    return lre_fail(ctx, LRE_EINVAL,
                                    "%s: %s: feature at row %" PRId64 ", column %" PRId64
                                    " is %g (features must be finite)",
                                    fn, source, r + 1, c + 1, (double)fx[r * features + c]);
    }
    if (labels) {
        if (num_classes < 0)
            return lre_fail(ctx, LRE_EINVAL, "%s: %s: num_classes must be >= 0", fn, source);
        int32_t maxl = 0;
        for (int64_t r = 0; r < n; r++) {
            if (labels[r] < 0)
                return lre_fail(ctx, LRE_EINVAL,
                                "%s: %s: label at row %" PRId64 " is %" PRId32
                                " (labels must be >= 0)", fn, source, r + 1, labels[r]);
            if (num_classes && labels[r] >= num_classes)
                return lre_fail(ctx, LRE_EINVAL,
                                "%s: %s: label at row %" PRId64 " is %" PRId32
                                ", outside [0, %" PRId64 ")", fn, source, r + 1, labels[r],
                                num_classes);
            if (labels[r] > maxl) maxl = labels[r];
        }
        if (!num_classes) num_classes = (int64_t)maxl + 1;
    } else {
        if (target_dim < 1)
            return lre_fail(ctx, LRE_EINVAL, "%s: %s: target_dim must be >= 1", fn, source);
        for (int64_t k = 0; k < n * target_dim; k++)
            if (!isfinite(targets[k]))
                return lre_fail(ctx, LRE_EINVAL,
                                "%s: %s: target at row %" PRId64 " is not finite", fn, source,
                                k / target_dim + 1);
        num_classes = 0;
    }
    lre_rows *r = lre_calloc(ctx, 1, sizeof *r, "dataset rows");
    if (!r) return LRE_ENOMEM;
    r->refcount = 1;
    r->ctx = ctx;
    lre_ctx_retain(ctx);
    r->dtype = dtype;
    r->n = n;
    r->features = features;
    r->row_ndim = row_ndim;
    for (int i = 0; i < row_ndim; i++) r->row_shape[i] = row_shape[i];
    r->x = x;
    r->labels = labels;
    r->targets = targets;
    r->target_dim = labels ? 0 : target_dim;
    r->num_classes = num_classes;
    *out = r;
    return LRE_OK;
}

void lre_rows_release(lre_rows *r)
{
    if (!r || --r->refcount > 0) return;
    lre_ctx *ctx = r->ctx;
    lre_tensor_release(r->dev_x);
    lre_tensor_release(r->dev_labels);
    lre_tensor_release(r->dev_targets);
    lre_free(ctx, r->x, 0);
    lre_free(ctx, r->labels, 0);
    lre_free(ctx, r->targets, 0);
    lre_free(ctx, r, sizeof *r);
    lre_ctx_release(ctx);
}

static lre_dataset *dataset_alloc(lre_ctx *ctx, lre_rows *r)
{
    lre_dataset *d = lre_calloc(ctx, 1, sizeof *d, "dataset");
    if (!d) return NULL;
    d->refcount = 1;
    d->ctx = ctx;
    lre_ctx_retain(ctx);
    d->rows = r;
    r->refcount++;
    d->n = r->n;
    d->scale = 1.0f;
    d->mean = 0.0f;
    d->std = 1.0f;
    return d;
}

lre_status lre_dataset_from_rows(lre_ctx *ctx, lre_dataset **out, lre_rows *r)
{
    if (!ctx) return LRE_EINVAL;
    if (!out || !r) return lre_fail(ctx, LRE_EINVAL, "lre_dataset_from_rows: NULL argument");
    *out = dataset_alloc(ctx, r);
    return *out ? LRE_OK : LRE_ENOMEM;
}

lre_status lre_dataset_adopt(lre_ctx *ctx, lre_dataset **out, lre_dtype dtype, int64_t n,
                             int row_ndim, const int64_t *row_shape, void *x,
                             int32_t *labels, float *targets, int64_t target_dim,
                             int64_t num_classes, const char *source)
{
    lre_rows *r = NULL;
    lre_status s = lre_rows_new(ctx, &r, dtype, n, row_ndim, row_shape, x, labels, targets,
                                target_dim, num_classes, source);
    if (s) {
        lre_free(ctx, x, 0);
        lre_free(ctx, labels, 0);
        lre_free(ctx, targets, 0);
        return s;
    }
    s = lre_dataset_from_rows(ctx, out, r);
    lre_rows_release(r);
    return s;
}

static lre_status from_arrays(lre_ctx *ctx, lre_dataset **out, int64_t n, int64_t features,
                              const float *x, const int32_t *labels, const float *targets,
                              int64_t target_dim, int64_t num_classes)
{
    static const char fn[] = "lre_dataset_from_arrays";
    if (!ctx) return LRE_EINVAL;
    if (!out) return lre_fail(ctx, LRE_EINVAL, "%s: out is NULL", fn);
    *out = NULL;
    if (n < 1 || features < 1)
        return lre_fail(ctx, LRE_EINVAL, "%s: %" PRId64 " rows of %" PRId64
                        " features: both must be >= 1", fn, n, features);
    if (!x) return lre_fail(ctx, LRE_EINVAL, "%s: x is NULL", fn);
    if ((labels == NULL) == (targets == NULL))
        return lre_fail(ctx, LRE_EINVAL, "%s: give exactly one of labels and targets", fn);
    if (targets && target_dim < 1)
        return lre_fail(ctx, LRE_EINVAL, "%s: target_dim must be >= 1", fn);
    if (features > INT32_MAX || n > INT64_MAX / 4 / features ||
        (targets && n > INT64_MAX / 4 / target_dim))
        return lre_fail(ctx, LRE_EINVAL, "%s: dataset too large", fn);
    size_t xb = (size_t)(n * features) * sizeof(float);
    size_t lb = labels ? (size_t)n * sizeof(int32_t) : 0;
    size_t tb = targets ? (size_t)(n * target_dim) * sizeof(float) : 0;
    float *cx = lre_malloc(ctx, xb, "dataset features");
    int32_t *cl = labels ? lre_malloc(ctx, lb, "dataset labels") : NULL;
    float *ct = targets ? lre_malloc(ctx, tb, "dataset targets") : NULL;
    if (!cx || (labels && !cl) || (targets && !ct)) {
        lre_free(ctx, cx, xb);
        lre_free(ctx, cl, lb);
        lre_free(ctx, ct, tb);
        return LRE_ENOMEM;
    }
    memcpy(cx, x, xb);
    if (cl) memcpy(cl, labels, lb);
    if (ct) memcpy(ct, targets, tb);
    int64_t shape[1] = {features};
    return lre_dataset_adopt(ctx, out, LRE_F32, n, 1, shape, cx, cl, ct, target_dim,
                             num_classes, "from_arrays");
}

lre_status lre_dataset_from_arrays(lre_ctx *ctx, lre_dataset **out, int64_t n, int64_t features,
                                   const float *x, const int32_t *labels, const float *targets,
                                   int64_t target_dim)
{
    return from_arrays(ctx, out, n, features, x, labels, targets, target_dim, 0);
}

lre_status lre_dataset_from_arrays_classes(lre_ctx *ctx, lre_dataset **out, int64_t n,
                                           int64_t features, const float *x,
                                           const int32_t *labels, int64_t num_classes)
{
    if (ctx && num_classes < 1)
        return lre_fail(ctx, LRE_EINVAL, "lre_dataset_from_arrays_classes: num_classes must be "
                        ">= 1");
    return from_arrays(ctx, out, n, features, x, labels, NULL, 0, num_classes);
}

void lre_dataset_retain(lre_dataset *d)
{
    if (d) d->refcount++;
}

void lre_dataset_release(lre_dataset *d)
{
    if (!d || --d->refcount > 0) return;
    lre_ctx *ctx = d->ctx;
    lre_rows_release(d->rows);
    lre_tensor_release(d->dev_index);
    lre_tensor_release(d->dev_map);
    lre_free(ctx, d->index, 0);
    lre_free(ctx, d->pf, 0);
    lre_free(ctx, d, sizeof *d);
    lre_ctx_release(ctx);
}

int64_t lre_dataset_size(const lre_dataset *d) { return d->n; }
lre_ctx *lre_dataset_ctx(const lre_dataset *d) { return d->ctx; }
int64_t lre_dataset_features(const lre_dataset *d) { return d->rows->features; }
int lre_dataset_row_ndim(const lre_dataset *d)
{
    return d->row_ndim ? d->row_ndim : d->rows->row_ndim;
}
int64_t lre_dataset_row_dim(const lre_dataset *d, int i)
{
    if (d->row_ndim) return (i >= 0 && i < d->row_ndim) ? d->row_shape[i] : 0;
    return (i >= 0 && i < d->rows->row_ndim) ? d->rows->row_shape[i] : 0;
}
int64_t lre_dataset_num_classes(const lre_dataset *d) { return d->rows->num_classes; }
int64_t lre_dataset_target_dim(const lre_dataset *d) { return d->rows->target_dim; }
lre_dtype lre_dataset_feature_dtype(const lre_dataset *d) { return d->rows->dtype; }

/* A new dataset over the same rows with the same transform; `index` (n
 * entries, owned by the new dataset) or NULL to copy d's. */
static lre_status derive(lre_dataset *d, lre_dataset **out, int64_t n, int64_t *index)
{
    lre_dataset *e = dataset_alloc(d->ctx, d->rows);
    if (!e) {
        lre_free(d->ctx, index, 0);
        return LRE_ENOMEM;
    }
    e->scale = d->scale;
    e->mean = d->mean;
    e->std = d->std;
    e->n = n;
    e->row_ndim = d->row_ndim; /* a reshaped dataset's views keep its shape */
    memcpy(e->row_shape, d->row_shape, sizeof e->row_shape);
    if (!index && d->index) {
        index = lre_malloc(d->ctx, (size_t)n * sizeof *index, "dataset index");
        if (!index) {
            lre_dataset_release(e);
            return LRE_ENOMEM;
        }
        memcpy(index, d->index, (size_t)n * sizeof *index);
    }
    e->index = index;
    if (d->pf) {
        size_t nb = 4 * (size_t)d->rows->features * sizeof *d->pf;
        e->pf = lre_malloc(d->ctx, nb, "per-feature normalisation");
        if (!e->pf) {
            lre_dataset_release(e);
            return LRE_ENOMEM;
        }
        memcpy(e->pf, d->pf, nb);
    }
    *out = e;
    return LRE_OK;
}

/* Recomputes the gather's per-feature map from mean, std and scale. */
static void pf_update(lre_dataset *d)
{
    const int64_t F = d->rows->features;
    float *m = d->pf, *s = m + F, *mul = s + F, *add = mul + F;
    for (int64_t c = 0; c < F; c++) {
        mul[c] = d->scale / s[c];
        add[c] = -m[c] / s[c];
    }
}

lre_status lre_dataset_scale(lre_dataset *d, lre_dataset **out, float scale)
{
    if (!d) return LRE_EINVAL;
    if (!out) return lre_fail(d->ctx, LRE_EINVAL, "scale: out is NULL");
    if (!isfinite(scale) || scale == 0.0f)
        return lre_fail(d->ctx, LRE_EINVAL, "scale: factor %g must be finite and non-zero",
                        (double)scale);
    lre_status s = derive(d, out, d->n, NULL);
    if (s) return s;
    /* the factor applies to the stored values, before normalisation */
    (*out)->scale = d->scale * scale;
    if ((*out)->pf) pf_update(*out);
    return LRE_OK;
}

lre_status lre_dataset_reshape(lre_dataset *d, lre_dataset **out, int ndim, const int64_t *shape)
{
    if (!d) return LRE_EINVAL;
    if (!out) return lre_fail(d->ctx, LRE_EINVAL, "reshape: out is NULL");
    if (ndim < 1 || ndim > LRE_MAX_DIMS || !shape)
        return lre_fail(d->ctx, LRE_EINVAL, "reshape: a row shape has 1 to %d sizes (got %d)",
                        LRE_MAX_DIMS, ndim);
    int64_t prod = 1;
    char want[96] = "", have[96] = "";
    size_t wl = 0, hl = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1)
            return lre_fail(d->ctx, LRE_EINVAL, "reshape: size %d is %" PRId64 " (each must be >= 1)",
                            i + 1, shape[i]);
        prod = prod <= INT64_MAX / shape[i] ? prod * shape[i] : INT64_MAX;
        int k = snprintf(want + wl, sizeof want - wl, "%s%" PRId64, i ? "×" : "", shape[i]);
        if (k > 0 && (size_t)k < sizeof want - wl) wl += (size_t)k;
    }
    for (int i = 0; i < lre_dataset_row_ndim(d); i++) {
        int k = snprintf(have + hl, sizeof have - hl, "%s%" PRId64, i ? "×" : "",
                         lre_dataset_row_dim(d, i));
        if (k > 0 && (size_t)k < sizeof have - hl) hl += (size_t)k;
    }
    if (prod != d->rows->features)
        return lre_fail(d->ctx, LRE_ESHAPE, "reshape: rows of %s (%" PRId64 " values) cannot be "
                        "%s (%" PRId64 " values)", have, d->rows->features, want, prod);
    lre_status s = derive(d, out, d->n, NULL);
    if (s) return s;
    (*out)->row_ndim = ndim;
    for (int i = 0; i < ndim; i++) (*out)->row_shape[i] = shape[i];
    return LRE_OK;
}

lre_status lre_dataset_normalize(lre_dataset *d, lre_dataset **out, float mean, float std)
{
    if (!d) return LRE_EINVAL;
    if (!out) return lre_fail(d->ctx, LRE_EINVAL, "normalize: out is NULL");
    if (!isfinite(mean) || !isfinite(std) || !(std > 0.0f))
        return lre_fail(d->ctx, LRE_EINVAL,
                        "normalize: mean %g must be finite and std %g finite and > 0",
                        (double)mean, (double)std);
    lre_status s = derive(d, out, d->n, NULL);
    if (s) return s;
    (*out)->mean = mean;
    (*out)->std = std;
    lre_free(d->ctx, (*out)->pf, 0); /* replaces a per-feature normalisation */
    (*out)->pf = NULL;
    return LRE_OK;
}

lre_status lre_dataset_normalize_per_feature(lre_dataset *d, lre_dataset **out,
                                             const float *mean, const float *std)
{
    static const char fn[] = "normalize_per_feature";
    if (!d) return LRE_EINVAL;
    if (!out) return lre_fail(d->ctx, LRE_EINVAL, "%s: out is NULL", fn);
    *out = NULL;
    if (!mean || !std) return lre_fail(d->ctx, LRE_EINVAL, "%s: mean or std is NULL", fn);
    const int64_t F = d->rows->features;
    for (int64_t c = 0; c < F; c++)
        if (!isfinite(mean[c]) || !isfinite(std[c]) || !(std[c] > 0.0f))
            return lre_fail(d->ctx, LRE_EINVAL, "%s: feature %" PRId64 " of %" PRId64
                            ": mean %g must be finite and std %g finite and > 0", fn, c + 1,
                            F, (double)mean[c], (double)std[c]);
    float *pf = lre_malloc(d->ctx, 4 * (size_t)F * sizeof *pf, "per-feature normalisation");
    if (!pf) return LRE_ENOMEM;
    memcpy(pf, mean, (size_t)F * sizeof *pf);
    memcpy(pf + F, std, (size_t)F * sizeof *pf);
    lre_status s = derive(d, out, d->n, NULL);
    if (s) {
        lre_free(d->ctx, pf, 0);
        return s;
    }
    lre_free(d->ctx, (*out)->pf, 0);
    (*out)->pf = pf;
    (*out)->mean = 0.0f;
    (*out)->std = 1.0f;
    pf_update(*out);
    return LRE_OK;
}

int lre_dataset_transform(const lre_dataset *d, float *scale, float *mean, float *std)
{
    if (scale) *scale = d->scale;
    if (!d->pf) {
        if (mean) *mean = d->mean;
        if (std) *std = d->std;
        return 0;
    }
    const size_t nb = (size_t)d->rows->features * sizeof *d->pf;
    if (mean) memcpy(mean, lre_pf_mean(d), nb);
    if (std) memcpy(std, lre_pf_std(d), nb);
    return 1;
}

static int64_t row_of(const lre_dataset *d, int64_t i) { return d->index ? d->index[i] : i; }

lre_status lre_dataset_subset(lre_dataset *d, lre_dataset **out, int64_t n,
                              const int64_t *indices)
{
    if (!d) return LRE_EINVAL;
    if (!out) return lre_fail(d->ctx, LRE_EINVAL, "subset: out is NULL");
    *out = NULL;
    if (n < 1 || (!indices && n > d->n))
        return lre_fail(d->ctx, LRE_EINVAL, "subset: %" PRId64
                        " rows requested, the dataset has %" PRId64 " (need 1..%" PRId64 ")",
                        n, d->n, d->n);
    if (n > INT64_MAX / 8) return lre_fail(d->ctx, LRE_EINVAL, "subset: too many indices");
    int64_t *idx = lre_malloc(d->ctx, (size_t)n * sizeof *idx, "dataset index");
    if (!idx) return LRE_ENOMEM;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = indices ? indices[i] : i;
        if (k < 0 || k >= d->n) {
            lre_free(d->ctx, idx, 0);
            return lre_fail(d->ctx, LRE_EINVAL,
                            "subset: index %" PRId64 " (entry %" PRId64
                            ") is outside the dataset's %" PRId64 " rows",
                            k, i + 1, d->n);
        }
        idx[i] = row_of(d, k);
    }
    return derive(d, out, n, idx);
}

lre_status lre_dataset_split(lre_dataset *d, lre_dataset **a, lre_dataset **b, double fraction,
                             uint64_t seed)
{
    if (!d) return LRE_EINVAL;
    if (!a || !b) return lre_fail(d->ctx, LRE_EINVAL, "split: output is NULL");
    *a = *b = NULL;
    if (!(fraction > 0.0 && fraction < 1.0))
        return lre_fail(d->ctx, LRE_EINVAL, "split: fraction %g must be in (0, 1)", fraction);
    if (d->n < 2) return lre_fail(d->ctx, LRE_EINVAL, "split: a dataset of one row cannot split");
    int64_t na = (int64_t)floor(fraction * (double)d->n);
    if (na < 1) na = 1;
    if (na > d->n - 1) na = d->n - 1;
    int64_t *perm = lre_malloc(d->ctx, (size_t)d->n * sizeof *perm, "split order");
    if (!perm) return LRE_ENOMEM;
    lre_batcher bt = {.seed = seed, .epoch = 0, .perm = perm, .n = d->n, .shuffle = 1};
    lre_batcher_permute(&bt);
    lre_status s = lre_dataset_subset(d, a, na, perm);
    if (!s) s = lre_dataset_subset(d, b, d->n - na, perm + na);
    lre_free(d->ctx, perm, 0);
    if (s) {
        lre_dataset_release(*a);
        *a = NULL;
    }
    return s;
}

/* -------------------------------------------------------------- statistics */

lre_status lre_dataset_stats(lre_dataset *d, int per_feature, float *mean, float *std)
{
    static const char fn[] = "stats";
    if (!d) return LRE_EINVAL;
    if (!mean || !std) return lre_fail(d->ctx, LRE_EINVAL, "%s: mean or std is NULL", fn);
    const lre_rows *r = d->rows;
    const int64_t F = r->features, n = d->n;
    const double N = per_feature ? (double)n : (double)n * (double)F, sc = d->scale;
    const int64_t K = per_feature ? F : 1;
    if (r->dtype == LRE_U8) {
        /* exact integer sums: a histogram (global) or per-feature sums */
        const size_t slots = per_feature ? 2 * (size_t)F : 256;
        uint64_t *acc = lre_calloc(d->ctx, slots, sizeof *acc, "statistics");
        if (!acc) return LRE_ENOMEM;
        for (int64_t i = 0; i < n; i++) {
            const uint8_t *x = (const uint8_t *)r->x + row_of(d, i) * F;
            if (per_feature)
                for (int64_t c = 0; c < F; c++) {
                    acc[c] += x[c];
                    acc[F + c] += (uint64_t)x[c] * x[c];
                }
            else
                for (int64_t c = 0; c < F; c++) acc[x[c]]++;
        }
        for (int64_t k = 0; k < K; k++) {
            double s1 = 0, s2 = 0;
            if (per_feature) {
                s1 = (double)acc[k];
                s2 = (double)acc[F + k];
            } else {
                for (int v = 0; v < 256; v++) {
                    s1 += (double)v * (double)acc[v];
                    s2 += (double)v * v * (double)acc[v];
                }
            }
            double m = s1 / N, var = s2 / N - m * m;
            mean[k] = (float)(m * sc);
            std[k] = (float)(sqrt(var > 0 ? var : 0) * fabs(sc));
        }
        lre_free(d->ctx, acc, 0);
        return LRE_OK;
    }
    /* f32: two passes in double (the mean, then squared deviations) */
    double *acc = lre_calloc(d->ctx, 2 * (size_t)K, sizeof *acc, "statistics");
    if (!acc) return LRE_ENOMEM;
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t i = 0; i < n; i++) {
            const float *x = (const float *)r->x + row_of(d, i) * F;
            for (int64_t c = 0; c < F; c++) {
                const int64_t k = per_feature ? c : 0;
                const double v = (double)x[c] * sc;
                if (pass == 0) acc[k] += v;
                else acc[K + k] += (v - acc[k]) * (v - acc[k]);
            }
        }
        if (pass == 0)
            for (int64_t k = 0; k < K; k++) acc[k] /= N;
    }
    for (int64_t k = 0; k < K; k++) {
        mean[k] = (float)acc[k];
        std[k] = (float)sqrt(acc[K + k] / N);
    }
    lre_free(d->ctx, acc, 0);
    return LRE_OK;
}

lre_status lre_dataset_standardize(lre_dataset *d, lre_dataset **out, int per_feature)
{
    if (!d) return LRE_EINVAL;
    if (!out) return lre_fail(d->ctx, LRE_EINVAL, "standardize: out is NULL");
    *out = NULL;
    const size_t K = per_feature ? (size_t)d->rows->features : 1;
    float *ms = lre_malloc(d->ctx, 2 * K * sizeof *ms, "statistics");
    if (!ms) return LRE_ENOMEM;
    lre_status s = lre_dataset_stats(d, per_feature, ms, ms + K);
    for (size_t k = 0; !s && k < K; k++)
        if (!(ms[K + k] > 0.0f)) ms[K + k] = 1.0f; /* a constant feature */
    if (!s)
        s = per_feature ? lre_dataset_normalize_per_feature(d, out, ms, ms + K)
                        : lre_dataset_normalize(d, out, ms[0], ms[1]);
    lre_free(d->ctx, ms, 0);
    return s;
}

/* ------------------------------------------------------------------ gather */

/* A device copy of host data (n elements of dtype), made once. */
static lre_status mirror(lre_ctx *ctx, lre_tensor **dev, lre_dtype dtype, int64_t n,
                         const void *host)
{
    if (*dev || !host) return LRE_OK;
    int64_t shape[1] = {n};
    lre_tensor *t;
    lre_status s = lre_tensor_new(ctx, &t, dtype, 1, shape);
    if (!s) s = lre_tensor_from_host(t, host, (size_t)n * lre_dtype_size(dtype));
    if (s) {
        lre_tensor_release(t);
        return s;
    }
    *dev = t;
    return LRE_OK;
}

/* The gather source over the rows as stored on the host. */
static void host_src(const lre_dataset *d, lre_gather_src *src)
{
    const lre_rows *r = d->rows;
    const int64_t F = r->features;
    memset(src, 0, sizeof *src);
    src->dtype = r->dtype;
    src->features = F;
    src->target_dim = r->target_dim;
    src->n = d->n;
    src->scale = d->scale / d->std;
    src->shift = -d->mean / d->std;
    src->identity = r->dtype == LRE_F32 && !d->pf && d->scale == 1.0f && d->mean == 0.0f &&
                    d->std == 1.0f;
    src->x = r->x;
    src->labels = r->labels;
    src->targets = r->targets;
    src->index = d->index;
    src->mul = d->pf ? d->pf + 2 * F : NULL;
    src->add = d->pf ? d->pf + 3 * F : NULL;
}

lre_status lre_dataset_gather_src(lre_dataset *d, lre_gather_src *src)
{
    host_src(d, src);
    if (lre_ctx_is_host(d->ctx)) return LRE_OK;
    lre_rows *r = d->rows;
    const int64_t F = r->features;
    lre_ctx *ctx = d->ctx;
    lre_status s;
    if ((s = mirror(ctx, &r->dev_x, r->dtype, r->n * F, r->x)) ||
        (s = mirror(ctx, &r->dev_labels, LRE_I32, r->n, r->labels)) ||
        (s = mirror(ctx, &r->dev_targets, LRE_F32, r->n * r->target_dim, r->targets)) ||
        (s = mirror(ctx, &d->dev_index, LRE_I64, d->n, d->index)) ||
        (s = mirror(ctx, &d->dev_map, LRE_F32, 2 * F, d->pf ? d->pf + 2 * F : NULL)))
        return s;
    src->x = lre_tensor_data(r->dev_x);
    src->labels = r->dev_labels ? lre_tensor_data(r->dev_labels) : NULL;
    src->targets = r->dev_targets ? lre_tensor_data(r->dev_targets) : NULL;
    src->index = d->dev_index ? lre_tensor_data(d->dev_index) : NULL;
    src->mul = d->dev_map ? lre_tensor_data(d->dev_map) : NULL;
    src->add = d->dev_map ? src->mul + F : NULL;
    return LRE_OK;
}

lre_status lre_dataset_gather_rows(lre_dataset *d, const lre_tensor *idx, int64_t first,
                                   int64_t n, lre_tensor *x, lre_tensor *y, lre_tensor *t)
{
    lre_ctx *ctx = d->ctx;
    lre_gather_src src;
    lre_status s = lre_dataset_gather_src(d, &src);
    if (s) return s;
    return ctx->be->gather(ctx->be_state, &src, idx ? lre_ci64(idx) : NULL, first, n, lre_f32(x),
                           y && src.labels ? lre_i32(y) : NULL,
                           t && src.targets ? lre_f32(t) : NULL);
}

lre_status lre_dataset_gather(lre_dataset *d, const int64_t *idx, int64_t n, float *x,
                              int32_t *y, float *t)
{
    if (!d) return LRE_EINVAL;
    if (!idx && n > 0) return lre_fail(d->ctx, LRE_EINVAL, "gather: idx is NULL");
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= d->n)
            return lre_fail(d->ctx, LRE_EINVAL, "gather: row %" PRId64 " outside [0, %" PRId64 ")",
                            idx[i], d->n);
    /* host arrays in, host arrays out: the CPU backend's gather, over the
     * rows as stored (whatever the context's device) */
    lre_gather_src src;
    host_src(d, &src);
    return n > 0 ? lre_backend_cpu.gather(NULL, &src, idx, 0, n, x, y, t) : LRE_OK;
}
