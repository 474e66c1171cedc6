/*
 * data/data.h — datasets (shared row storage, index views, the gather
 * transform), the byte sources and loaders (IDX, NPY, CSV), and the batch
 * order (batcher.c), private to the engine.
 *
 * Layer 4 (README.md, "Layout"). May include: core/core.h (and what it includes).
 */
#ifndef LRE_DATA_H
#define LRE_DATA_H

#include "core/core.h"

/* ----------------------------------------------------------- dataset */

typedef struct lre_rows {     /* the shared, immutable row storage */
    int refcount;
    lre_ctx *ctx;
    lre_dtype dtype;          /* LRE_F32 or LRE_U8 features */
    int64_t n;                /* rows */
    int64_t features;         /* per row */
    int row_ndim;
    int64_t row_shape[LRE_MAX_DIMS];
    void *x;                  /* n × features of dtype */
    int32_t *labels;          /* n, or NULL */
    float *targets;           /* n × target_dim, or NULL */
    int64_t target_dim;
    int64_t num_classes;      /* 0 for targets */
    /* device copies of x, labels and targets, made on first use by a
     * trainer on a device whose memory is not the host's; else NULL */
    lre_tensor *dev_x, *dev_labels, *dev_targets;
} lre_rows;

struct lre_dataset {
    int refcount;
    lre_ctx *ctx;
    lre_rows *rows;           /* retained */
    int64_t n;                /* rows in this dataset */
    int64_t *index;           /* NULL: rows 0..n-1; else n indices into rows */
    float scale, mean, std;   /* x' = (x·scale − mean)/std */
    /* Per-feature normalisation, or NULL for the global mean/std above (then
     * 1 and 0). One block of 4 × features floats, owned: mean[F] and std[F]
     * as given, then the gather's affine map mul[F] = scale/std and
     * add[F] = −mean/std, kept in step with `scale`. */
    float *pf;
    /* device copies of index and of the per-feature map (mul, add), made
     * on first use off the host (datasets never change once made) */
    lre_tensor *dev_index, *dev_map;
    /* the row shape this dataset shows (lre_dataset_reshape: the stored
     * rows' own when row_ndim is 0) */
    int row_ndim;
    int64_t row_shape[LRE_MAX_DIMS];
};

static inline const float *lre_pf_mean(const lre_dataset *d) { return d->pf; }
static inline const float *lre_pf_std(const lre_dataset *d) { return d->pf + d->rows->features; }

/* Creates row storage that takes ownership of x (n × features of dtype,
 * allocated with lre_malloc), labels (n int32, lre_malloc'd, or NULL) and
 * targets (lre_malloc'd, or NULL). On failure frees nothing: the caller
 * still owns the buffers. num_classes 0 = computed as max label + 1.
 * Checks labels >= 0 and < num_classes (message names the row) and, for
 * f32 features, that every value is finite (message names row and column). */
lre_status lre_rows_new(lre_ctx *ctx, lre_rows **out, lre_dtype dtype,
                        int64_t n, int row_ndim, const int64_t *row_shape,
                        void *x, int32_t *labels, float *targets,
                        int64_t target_dim, int64_t num_classes,
                        const char *source);
void lre_rows_release(lre_rows *r);
/* A dataset over all rows of r (retains r), identity transform. */
lre_status lre_dataset_from_rows(lre_ctx *ctx, lre_dataset **out, lre_rows *r);
/* lre_rows_new + lre_dataset_from_rows, taking ownership of x, labels and
 * targets in every case: on failure they are freed. What the loaders end
 * with. */
lre_status lre_dataset_adopt(lre_ctx *ctx, lre_dataset **out, lre_dtype dtype, int64_t n,
                             int row_ndim, const int64_t *row_shape, void *x,
                             int32_t *labels, float *targets, int64_t target_dim,
                             int64_t num_classes, const char *source);

/* Where a batch of d is gathered from on its context's device: the stored
 * rows in place on a host backend; otherwise device copies of the rows,
 * the index and the per-feature map, made on the first call and kept. */
lre_status lre_dataset_gather_src(lre_dataset *d, lre_gather_src *src);
/* x (>= n rows, features), y (>= n) i32, t (>= n rows, target_dim): device
 * tensors of d's context; rows idx[0..n) (an i64 device tensor whose values
 * lie in [0, size): a batcher's order) of d through its transform, or rows
 * first..first+n-1 when idx is NULL. y and t may be NULL. No allocation
 * after the first call, no wait: a captured step may run it. */
lre_status lre_dataset_gather_rows(lre_dataset *d, const lre_tensor *idx, int64_t first,
                                   int64_t n, lre_tensor *x, lre_tensor *y, lre_tensor *t);

/* ------------------------------------------------ dataset loaders (data_*.c)
 * Every parser reads through an lre_src, a byte source over a file or a
 * memory buffer, plain or gzip-compressed (zlib), so the same code loads a
 * file and is driven by the fuzz targets (fuzz/) on memory. Messages start
 * with "<fmt>: <name>: " (fmt "idx", "npy", "csv"; name the path). */

typedef struct lre_src lre_src;

/* Opens a file (gzip detected from its first bytes). Missing, unreadable or
 * directory: LRE_EIO naming the path and the reason. */
lre_status lre_src_open_file(lre_ctx *ctx, lre_src **out, const char *fmt, const char *path);
/* A source over buf[0..n) (not copied; must outlive the source); gzip when
 * it starts with the gzip magic 1f 8b. `name` stands for the path. */
lre_status lre_src_open_mem(lre_ctx *ctx, lre_src **out, const char *fmt, const char *name,
                            const void *buf, size_t n);
void lre_src_close(lre_src *s);
/* Reads up to n bytes; *got < n only at the end of the data. A corrupt or
 * truncated gzip stream is LRE_EFORMAT, and so is anything after the last
 * gzip member that is not another member (trailing garbage, which gzread
 * would drop); a read error is LRE_EIO. */
lre_status lre_src_read(lre_src *s, void *dst, size_t n, size_t *got);
/* The rest of the data in one lre_malloc'd block (*n bytes, followed by
 * `pad` zero bytes); free with lre_free. More than the loading limit is
 * refused (lre_fail_limit) before the block is allocated for a plain
 * file, as soon as the decompressed data goes past it for gzip: the block
 * never exceeds limit + pad + 1 bytes. */
lre_status lre_src_read_all(lre_src *s, uint8_t **out, size_t *n, size_t pad);
/* An upper bound on the bytes still to come: exact for plain data, the
 * deflate limit (1032:1) of the compressed size for gzip. Parsers check
 * header sizes against it before allocating, so no header can make them
 * allocate more than the input could hold. */
uint64_t lre_src_bound(const lre_src *s);
/* The loading limit (lre_ctx.max_load_bytes): a loader checks each buffer
 * it fills with a file's data against it before allocating it (the size
 * a header declares, a CSV's parsed rows), and lre_src_read_all stops a
 * text as soon as it goes past it. lre_fail_limit formats the refusal:
 * "<fmt>: <name>: <what>, more than the loading limit of N bytes
 * (max_bytes; raise it with lre.data.<fmt>(..., {max_bytes = N}) or
 * lre_ctx_set_max_load_bytes)", LRE_EINVAL; `what` (printf style) says
 * what and how many bytes, e.g. "the header declares 60000×28×28 images,
 * 47040000 bytes". */
lre_status lre_fail_limit(lre_ctx *ctx, const char *fmt, const char *name, const char *what,
                          ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* "<what> of <name>" into buf (cut to fit): the `what` of a loader's
 * lre_malloc, so that running out of memory names the file ("out of
 * memory allocating N bytes for idx images of /path/x.gz"). */
#define LRE_WHAT_SIZE 512
const char *lre_what_of(char *buf, size_t n, const char *what, const char *name);
lre_ctx *lre_src_ctx(const lre_src *s);
uint64_t lre_src_pos(const lre_src *s);      /* (decompressed) bytes read so far */
uint64_t lre_src_stored(const lre_src *s);   /* bytes in the file or buffer */
int lre_src_gzip(const lre_src *s);
const char *lre_src_name(const lre_src *s);
const char *lre_src_fmt(const lre_src *s);

/* An IDX pair (images: u8, 2 to 5 dims; labels: u8, 1 dim) as a dataset of
 * u8 rows; num_classes 0 = max label + 1. Reads both headers before any
 * data, so mismatched counts fail fast. */
lre_status lre_idx_load(lre_ctx *ctx, lre_dataset **out, lre_src *images, lre_src *labels,
                        int64_t num_classes);
/* The same from memory (the IDX fuzz targets). */
lre_status lre_dataset_idx_mem(lre_ctx *ctx, lre_dataset **out, const void *images,
                               size_t images_n, const void *labels, size_t labels_n);
/* lre_dataset_fashion_mnist with the directories given: `env` stands for
 * $LRENGINE_DATA (NULL or "" when unset), `system_dir` for
 * LRE_FASHION_MNIST_DIR (tests use it to check the not-found message). */
lre_status lre_fashion_mnist_in(lre_ctx *ctx, lre_dataset **out, const char *split,
                                const char *env, const char *system_dir);
/* An NPY pair from memory (the NPY fuzz target). */
lre_status lre_dataset_npy_mem(lre_ctx *ctx, lre_dataset **out, const void *features,
                               size_t features_n, const void *labels, size_t labels_n,
                               lre_task task);
/* CSV text from memory (the CSV fuzz target); opts may be NULL. */
lre_status lre_dataset_csv_mem(lre_ctx *ctx, lre_dataset **out, const char *name,
                               const void *text, size_t n, const lre_csv_opts *opts);

/* ------------------------------------------------------------- batcher */

/* The order in which a trainer visits a dataset's rows: one permutation per
 * epoch, a pure function of (seed, epoch), and a cursor into it. */
typedef struct lre_batcher {
    uint64_t seed;
    int64_t epoch;
    int64_t cursor;           /* position in perm of the next row */
    int64_t *perm;            /* n indices, the order of this epoch */
    int64_t n;
    int shuffle, drop_last;
} lre_batcher;

/* Rebuilds the permutation of the batcher's current epoch from its seed.
 * The permutation of epoch e is a Fisher–Yates shuffle driven by the Philox
 * stream (seed, e); identity when shuffle is off. */
void lre_batcher_permute(lre_batcher *b);

/* The next `*count` (at most bs) row indices of the epoch into idx (rolls
 * over into the next epoch when this one is used up, or when drop_last and
 * fewer than bs rows are left). */
void lre_batcher_next(lre_batcher *b, int64_t bs, int64_t *idx, int64_t *count);

#endif /* LRE_DATA_H */
