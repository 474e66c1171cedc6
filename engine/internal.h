/*
 * internal.h — the engine's private structures and helpers, shared by the
 * engine's .c files (never by the Lua binding or by users).
 */
#ifndef LRE_INTERNAL_H
#define LRE_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>

#include "include/lrengine.h"
#include "backend.h"

#define LRE_ERRMSG_SIZE 1024

struct lre_ctx {
    int refcount;
    lre_device device;
    const lre_backend *be;
    void *be_state;          /* backend private state (cuBLAS handle, ...) */
    lre_rng rng;
    int threads;
    uint64_t n_allocs;       /* host allocations made through lre_malloc */
    uint64_t bytes_live;
    char err[LRE_ERRMSG_SIZE];
};

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

/* Sets *out to a tensor of `rows` leading rows of t (a cheap in-place
 * reshape of an existing tensor struct; no allocation): used for the last,
 * short batch of an epoch. */
void lre_tensor_set_rows(lre_tensor *view, const lre_tensor *full, int64_t rows);

/* ------------------------------------------------------------- model */

typedef struct lre_layer {
    lre_layer_kind kind;
    lre_act act;
    float act_param;
    int64_t in, out;          /* linear; for act: width of its input */
    int64_t w_off, b_off;     /* element offsets in the flat buffers */
    lre_tensor *w, *b;        /* views into params (linear only)     */
    lre_tensor *dw, *db;      /* views into grads                    */
} lre_layer;

struct lre_model {
    int refcount;
    lre_ctx *ctx;             /* retained */
    int n_layers, cap_layers;
    lre_layer *layers;
    int64_t n_params;
    bool initialized;
    lre_tensor *params;       /* (n_params) f32 */
    lre_tensor *grads;        /* (n_params) f32 */
};

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
 * truncated gzip stream is LRE_EFORMAT, a read error LRE_EIO. */
lre_status lre_src_read(lre_src *s, void *dst, size_t n, size_t *got);
/* The rest of the data in one lre_malloc'd block (*n bytes, followed by
 * `pad` zero bytes); free with lre_free. */
lre_status lre_src_read_all(lre_src *s, uint8_t **out, size_t *n, size_t pad);
/* An upper bound on the bytes still to come: exact for plain data, the
 * deflate limit (1032:1) of the compressed size for gzip. Parsers check
 * header sizes against it before allocating, so no header can make them
 * allocate more than the input could hold. */
uint64_t lre_src_bound(const lre_src *s);
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
                               size_t features_n, const void *labels, size_t labels_n);
/* CSV text from memory (the CSV fuzz target); opts may be NULL. */
lre_status lre_dataset_csv_mem(lre_ctx *ctx, lre_dataset **out, const char *name,
                               const void *text, size_t n, const lre_csv_opts *opts);

/* ----------------------------------------------------------- trainer */

typedef struct lre_batcher {
    uint64_t seed;
    int64_t epoch;
    int64_t cursor;           /* position in perm of the next row */
    int64_t *perm;            /* n indices, the order of this epoch */
    int64_t n;
    int shuffle, drop_last;
} lre_batcher;

typedef struct lre_workspace {
    int64_t rows;             /* capacity: >= the micro-batch size (evaluate
                                 runs in chunks of this many rows) */
    float *x_host;            /* rows × in, gathered batch on the host */
    int32_t *y_host;          /* rows */
    float *t_host;            /* rows × target_dim */
    int64_t *idx;             /* rows, the gathered indices */
    lre_tensor *x;            /* (rows, in) on the device */
    lre_tensor *y;            /* (rows) i32 labels on the device */
    lre_tensor *t;            /* (rows, target_dim) f32 targets */
    lre_tensor **act;         /* n_layers outputs, (rows, width) */
    lre_tensor **dact;        /* n_layers gradients w.r.t. outputs */
    /* row-limited views for a short batch (set per batch, no allocation) */
    lre_tensor vx, vy, vt;
    lre_tensor *vact, *vdact; /* arrays of n_layers tensor structs */
} lre_workspace;

struct lre_trainer {
    int refcount;
    lre_ctx *ctx;
    lre_model *model;         /* retained */
    lre_dataset *data;        /* retained */
    lre_loss_config loss;
    lre_optim_config optim;
    int64_t batch_size;
    int accumulation_steps;
    uint64_t seed;
    int64_t steps;            /* optimizer steps taken */
    lre_tensor *state1, *state2; /* optimizer state, n_params each (state2
                                    unused by SGD but allocated) */
    lre_batcher batcher;
    lre_workspace ws;
};

struct lre_snapshot {
    lre_ctx *ctx;
    int64_t n_params;
    char arch[512];           /* lre_model_describe of the model */
    lre_optim_kind optim_kind;
    float *params, *state1, *state2;  /* host copies */
    int64_t steps;
    uint64_t seed;
    int64_t epoch, cursor;
};

/* Rebuilds the permutation of the batcher's current epoch from its seed.
 * The permutation of epoch e is a Fisher–Yates shuffle driven by the Philox
 * stream (seed, e); identity when shuffle is off. */
void lre_batcher_permute(lre_batcher *b);

#endif /* LRE_INTERNAL_H */
