/*
 * lrengine.h — the public C API of the lrengine engine.
 *
 * lrengine runs the learning-rate range test (Smith, arXiv 1506.01186). This
 * header is the engine that runs every step: tensors, MLP layers, losses,
 * optimizers, datasets, a trainer and its snapshots. The range-test driver
 * itself lives in Lua (lua/lrengine/finder.lua) and drives a trainer through
 * step/evaluate/snapshot/restore.
 *
 * A short tour (error handling elided; every fallible call returns an
 * lre_status and leaves a message in the context, see lre_ctx_error):
 *
 *     lre_ctx *ctx;
 *     lre_ctx_new(&ctx, NULL);                              // CPU, defaults
 *
 *     float x[4 * 2] = {...}; int32_t y[4] = {0, 1, 1, 0};
 *     lre_dataset *ds;
 *     lre_dataset_from_arrays(ctx, &ds, 4, 2, x, y, NULL, 0);
 *
 *     lre_model *m;
 *     lre_model_new(ctx, &m);
 *     lre_model_add_linear(m, 2, 16);
 *     lre_model_add_act(m, LRE_ACT_RELU, 0);
 *     lre_model_add_linear(m, 16, 2);
 *
 *     lre_trainer_opts o = lre_trainer_opts_default();
 *     o.optim = lre_optim_adamw_default();
 *     o.batch_size = 4; o.seed = 1;
 *     lre_trainer *t;
 *     lre_trainer_new(ctx, &t, m, ds, &o);
 *     float loss;
 *     for (int i = 0; i < 100; i++) lre_trainer_step(t, 1e-2f, &loss);
 *
 *     lre_trainer_release(t); lre_model_release(m);
 *     lre_dataset_release(ds); lre_ctx_release(ctx);
 *
 * Conventions
 *   - Objects are reference counted (`*_retain` / `*_release`); an object
 *     keeps alive what it uses (a trainer retains its model and dataset, all
 *     objects retain their context).
 *   - Every function that can fail returns lre_status; LRE_OK is 0. The
 *     message of the last failure is lre_ctx_error(ctx); it names the call,
 *     the argument and the shapes at fault. Messages count rows, columns,
 *     lines and layers from 1 (as a spreadsheet, a text editor and Lua do);
 *     indices passed to and from functions count from 0.
 *   - The engine never exits or aborts the process.
 *   - Shapes are row-major; a linear layer's weight is (out, in) like
 *     PyTorch's nn.Linear, so weights move to and from PyTorch unchanged.
 *
 * Devices
 *   - A context runs on one device (lre_ctx_opts.device): the CPU, or CUDA
 *     when this build has it (lre_device_compiled) and a GPU is present.
 *     Every tensor, model, dataset and trainer of the context lives there.
 *   - Tensor memory is device memory: lre_tensor_data returns a device
 *     pointer, host memory only on the CPU. Move data with
 *     lre_tensor_from_host / lre_tensor_to_host (or lre_tensor_copy between
 *     tensors); never dereference lre_tensor_data off the CPU.
 *   - Every operation is synchronous from the caller's view: when it
 *     returns, its outputs are ready to read back. Losses, counts and
 *     accuracies come back as host scalars (float, int64_t, double).
 *   - Datasets are stored on the host as loaded (u8 pixels stay u8); a
 *     trainer on a device gathers batches there from a device copy of the
 *     rows it makes once.
 *   - Labels are checked where they enter: when a dataset is created (and
 *     by lre_cross_entropy on its own labels), not at every step.
 *   - The allocation counters (lre_ctx_alloc_count) count host and device
 *     allocations alike.
 *
 * Threads
 *   - A context and everything created from it belong to one thread at a
 *     time; nothing in the engine locks. Different contexts may be used
 *     from different threads at once.
 *   - lre_ctx_opts.threads sets the CPU backend's BLAS threads. OpenBLAS
 *     keeps one pool per process, so the last context created with
 *     threads > 0 sets it for all; 0 leaves the library's default
 *     (OPENBLAS_NUM_THREADS, else the cores).
 *   - The engine keeps no global mutable state of its own.
 */
#ifndef LRENGINE_H
#define LRENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LRE_VERSION_MAJOR 0
#define LRE_VERSION_MINOR 1
#define LRE_VERSION_PATCH 0
#define LRE_VERSION_STRING "0.1.0"

const char *lre_version(void);

/* ---------------------------------------------------------------- status */

typedef enum lre_status {
    LRE_OK = 0,
    LRE_EINVAL,    /* a bad argument (value out of range, wrong type)       */
    LRE_ESHAPE,    /* shapes that do not fit together                       */
    LRE_ENOMEM,    /* an allocation failed                                  */
    LRE_EIO,       /* a file could not be opened, read, written or renamed  */
    LRE_EFORMAT,   /* a file's content is malformed, truncated or mismatched */
    LRE_EDEVICE,   /* the device is unavailable or a device call failed     */
    LRE_ESTATE,    /* the object is not in a state that allows the call     */
    LRE_STATUS_COUNT
} lre_status;

/* A static, human-readable name for a status ("invalid argument", ...). */
const char *lre_status_string(lre_status s);

/* ------------------------------------------------------------- context */

typedef enum lre_device { LRE_DEVICE_CPU = 0, LRE_DEVICE_CUDA = 1 } lre_device;

typedef struct lre_ctx lre_ctx;

typedef struct lre_ctx_opts {
    lre_device device;   /* default LRE_DEVICE_CPU                           */
    uint64_t seed;       /* seed of the context's RNG (default 0)            */
    int threads;         /* BLAS threads; 0 leaves the library's default     */
} lre_ctx_opts;

lre_ctx_opts lre_ctx_opts_default(void);

/* Creates a context. `opts` may be NULL for the defaults. When creation
 * fails there is no context to keep the message: `errbuf` (may be NULL)
 * receives it. */
lre_status lre_ctx_new(lre_ctx **out, const lre_ctx_opts *opts);
lre_status lre_ctx_new_err(lre_ctx **out, const lre_ctx_opts *opts,
                           char *errbuf, size_t errbuf_size);
void lre_ctx_retain(lre_ctx *ctx);
void lre_ctx_release(lre_ctx *ctx);

/* The message of the last failure on this context ("" if none). */
const char *lre_ctx_error(const lre_ctx *ctx);
void lre_ctx_clear_error(lre_ctx *ctx);
lre_device lre_ctx_device(const lre_ctx *ctx);
const char *lre_device_name(lre_device d);
/* Whether this build has the backend compiled in (CUDA needs nvcc at build
 * time and a GPU at run time). */
int lre_device_compiled(lre_device d);

/* Every allocation the engine makes, host or device, goes through the
 * context's counters, so tests can prove a code path allocates nothing. */
uint64_t lre_ctx_alloc_count(const lre_ctx *ctx);
uint64_t lre_ctx_bytes_live(const lre_ctx *ctx);
/* The loading limit: the most bytes a dataset loader (IDX, NPY, CSV,
 * Fashion-MNIST) may put in one buffer, checked before it is allocated:
 * the data a file's header declares, the decompressed text of a CSV, the
 * rows parsed from it. A gzip file can expand 1032-fold, so without it a
 * 4 MB file whose header declares 4 GB would take 4 GB. Above the limit a
 * load fails with LRE_EINVAL and a message naming the file, the size and
 * the limit. Default: half of physical memory (8 GiB where the system does
 * not say); `bytes` 0 restores it. From Lua: the loaders' option
 * max_bytes, for one call. */
lre_status lre_ctx_set_max_load_bytes(lre_ctx *ctx, uint64_t bytes);
/* The limit in force (0 for a NULL ctx). */
uint64_t lre_ctx_max_load_bytes(const lre_ctx *ctx);
/* Waits for all work issued on the context's device (a no-op on the CPU;
 * operations are already synchronous from the caller's view: this is for
 * timing and for C code that shares the device with other libraries). */
lre_status lre_ctx_synchronize(lre_ctx *ctx);

/* -------------------------------------------------------------- files */

/* Writes path whole or not at all: missing parent folders are created, the
 * bytes go to a new temporary file beside it (mkstemp), flushed, synced
 * and renamed over it. On failure (-1) nothing is left behind, the old
 * file is intact and err (may be NULL) names the path and the reason.
 * A write past the file-size limit fails with EFBIG: SIGXFSZ is blocked
 * in the calling thread while the writer runs (and a pending one taken),
 * the process's handlers untouched. A link is followed (its target is
 * replaced, the link stays); a FIFO or a character device is written in
 * place (no temporary file, no rename); a folder, socket or block device
 * is refused; "-" is standard output (stdout is flushed first).
 * Every file the engine writes (results, figures, checkpoints) goes
 * through it. lre_write_file_with streams: fill(f, ud) writes the contents
 * and returns 0, or non-zero to abandon the file. */
int lre_write_file(const char *path, const void *data, size_t n, char *err, size_t errn);
int lre_write_file_with(const char *path, int (*fill)(FILE *f, void *ud), void *ud, char *err,
                        size_t errn);

/* ------------------------------------------------------------------ RNG */

/* Philox4x32-10 (Salmon et al., SC'11): counter based, so any device can
 * draw the same stream. The state is (key, counter). */
typedef struct lre_rng {
    uint64_t key;
    uint64_t counter; /* index of the next 128-bit block */
    uint32_t buf[4];  /* the current block                */
    int used;         /* words of buf already handed out (4 = empty) */
} lre_rng;

void lre_rng_seed(lre_rng *r, uint64_t seed);
uint32_t lre_rng_u32(lre_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float lre_rng_uniform(lre_rng *r);
/* Uniform integer in [0, n), without modulo bias. n > 0. */
uint32_t lre_rng_below(lre_rng *r, uint32_t n);
/* The raw Philox4x32-10 block for (key, counter). */
void lre_philox4x32_10(uint64_t key, uint64_t counter, uint32_t out[4]);

/* --------------------------------------------------------------- tensors */

typedef enum lre_dtype { LRE_F32 = 0, LRE_I32 = 1, LRE_U8 = 2, LRE_I64 = 3, LRE_DTYPE_COUNT } lre_dtype;

#define LRE_MAX_DIMS 4

typedef struct lre_tensor lre_tensor;

size_t lre_dtype_size(lre_dtype t);
const char *lre_dtype_name(lre_dtype t);

/* A new contiguous tensor, zero-filled, on the context's device. */
lre_status lre_tensor_new(lre_ctx *ctx, lre_tensor **out, lre_dtype dtype,
                          int ndim, const int64_t *shape);
/* A view sharing `t`'s storage: `ndim`/`shape` over the elements starting
 * at element `offset` of t (must lie inside t). */
lre_status lre_tensor_view(lre_tensor **out, lre_tensor *t, int64_t offset,
                           int ndim, const int64_t *shape);
void lre_tensor_retain(lre_tensor *t);
void lre_tensor_release(lre_tensor *t);

lre_dtype lre_tensor_dtype(const lre_tensor *t);
lre_device lre_tensor_device(const lre_tensor *t);
int lre_tensor_ndim(const lre_tensor *t);
int64_t lre_tensor_dim(const lre_tensor *t, int i);
int64_t lre_tensor_numel(const lre_tensor *t);
/* The element pointer on the tensor's device (host memory on the CPU). */
void *lre_tensor_data(lre_tensor *t);
/* "f32[128,784]" into buf; returns buf. */
const char *lre_tensor_describe(const lre_tensor *t, char *buf, size_t n);

/* Copies between a tensor and host memory of exactly numel*dtype bytes. */
lre_status lre_tensor_from_host(lre_tensor *t, const void *src, size_t nbytes);
lre_status lre_tensor_to_host(const lre_tensor *t, void *dst, size_t nbytes);
/* dst = src, device to device: same dtype and number of elements, same
 * context. */
lre_status lre_tensor_copy(lre_tensor *dst, const lre_tensor *src);
/* Sets every element to zero. */
lre_status lre_tensor_zero(lre_tensor *t);

/* ----------------------------------------------------------------- ops
 * Each op checks dtypes and shapes and writes into preallocated outputs.
 * Backward ops accumulate into parameter gradients when `accumulate` is set
 * (gradient accumulation over micro-batches) and overwrite otherwise.     */

/* c (M,N) = op(a) · op(b), op = transpose when the flag is set;
 * a is (M,K) or (K,M), b is (K,N) or (N,K). beta = 1 accumulates into c. */
lre_status lre_matmul(lre_ctx *ctx, lre_tensor *c, const lre_tensor *a, int trans_a,
                      const lre_tensor *b, int trans_b, float beta);

/* y (B,out) = x (B,in) · w(out,in)^T + b(out); b may be NULL. */
lre_status lre_linear_forward(lre_ctx *ctx, lre_tensor *y, const lre_tensor *x,
                              const lre_tensor *w, const lre_tensor *b);
/* From dy (B,out): dx (B,in) = dy·w (dx may be NULL: first layer),
 * dw (out,in) = dy^T·x, db (out) = Σ_rows dy (db may be NULL). */
lre_status lre_linear_backward(lre_ctx *ctx, lre_tensor *dx, lre_tensor *dw,
                               lre_tensor *db, const lre_tensor *dy,
                               const lre_tensor *x, const lre_tensor *w,
                               int accumulate);

/* The geometry of a 2-D convolution window over C×H×W images, as
 * torch.nn.Conv2d: a KH×KW kernel, strides SH, SW, zero padding PH, PW,
 * dilations DH, DW; the output is OH×OW with
 * OH = (H + 2·PH − DH·(KH − 1) − 1) / SH + 1 (OW alike). */
typedef struct lre_conv_geom {
    int64_t C, H, W, KH, KW, SH, SW, PH, PW, DH, DW;
    int64_t OH, OW; /* set by lre_conv_geom_init */
} lre_conv_geom;

/* Fills *g (OH and OW computed): LRE_EINVAL, with the numbers at fault in
 * ctx's message, for a size, stride or dilation below 1, a negative
 * padding, or a kernel larger than the padded input. */
lre_status lre_conv_geom_init(lre_ctx *ctx, lre_conv_geom *g, int64_t C, int64_t H, int64_t W,
                              int64_t KH, int64_t KW, int64_t SH, int64_t SW, int64_t PH,
                              int64_t PW, int64_t DH, int64_t DW);

/* y (B, O·OH·OW) = conv2d(x (B, C·H·W), w (O, C·KH·KW)) + b (O, or NULL),
 * as torch.nn.functional.conv2d on images stored channel-major (C, H, W)
 * per row: one image at a time, its patches unfolded into `col` (a
 * C·KH·KW × OH·OW workspace the caller owns: no allocation), then one
 * matrix product. */
lre_status lre_conv2d_forward(lre_ctx *ctx, lre_tensor *y, const lre_tensor *x,
                              const lre_tensor *w, const lre_tensor *b,
                              const lre_conv_geom *g, lre_tensor *col);
/* 2-D pooling of a batch of C×H×W images (rows of x (B, C·H·W)) into
 * y (B, C·OH·OW), with the window of g (lre_conv_geom_init; C is the
 * images' channels), as torch.nn.MaxPool2d and AvgPool2d (ceil_mode
 * off). Max: the padding is -inf; a NaN in a window wins (the last one, as
 * torch); idx (B, C·OH·OW, i32) gets each output's input position h·W + w
 * for the backward. Avg: dilation 1; with count_include_pad the divisor is
 * the window's size clipped to the padded input (torch's default), else
 * the pixels inside the input. The backwards write dx (B, C·H·W), each
 * pixel gathering its windows' gradients in a fixed order (the same bits
 * on every device). */
lre_status lre_max_pool2d_forward(lre_ctx *ctx, lre_tensor *y, lre_tensor *idx,
                                  const lre_tensor *x, const lre_conv_geom *g);
lre_status lre_max_pool2d_backward(lre_ctx *ctx, lre_tensor *dx, const lre_tensor *dy,
                                   const lre_tensor *idx, const lre_conv_geom *g);
lre_status lre_avg_pool2d_forward(lre_ctx *ctx, lre_tensor *y, const lre_tensor *x,
                                  const lre_conv_geom *g, int count_include_pad);
lre_status lre_avg_pool2d_backward(lre_ctx *ctx, lre_tensor *dx, const lre_tensor *dy,
                                   const lre_conv_geom *g, int count_include_pad);

/* torch.nn.AdaptiveAvgPool2d: rows of C×H×W images (x (B, C·H·W)) to
 * y (B, C·OH·OW), output (i, j) the mean of rows [floor(i·H/OH),
 * ceil((i+1)·H/OH)) and likewise columns; only g's C, H, W, OH and OW are
 * read. The backward writes dx (B, C·H·W), each pixel gathering its
 * windows' dy / their sizes in window order. */
lre_status lre_adaptive_avg_pool2d_forward(lre_ctx *ctx, lre_tensor *y, const lre_tensor *x,
                                           const lre_conv_geom *g);
lre_status lre_adaptive_avg_pool2d_backward(lre_ctx *ctx, lre_tensor *dx, const lre_tensor *dy,
                                            const lre_conv_geom *g);

/* torch.nn.LayerNorm over groups of the last n values of each row:
 * x (B, k·n), y like x, mean and rstd (B, k) kept for the backward
 * (rstd = 1/sqrt(var + eps), the variance biased); w and b (n) the affine
 * map, or both NULL. The backward writes dx (or NULL) and, with w, dw and
 * db (+)= (accumulate) their sums over the groups. The CPU runs oneDNN's
 * layer-norm primitives (float sums, vectorised) where built with it
 * (sizes within int; a backward without dx runs the loops), else (and
 * with LRE_CPU_GEMM=openblas) loops summing in order in double. */
lre_status lre_layer_norm_forward(lre_ctx *ctx, lre_tensor *y, lre_tensor *mean,
                                  lre_tensor *rstd, const lre_tensor *x, const lre_tensor *w,
                                  const lre_tensor *b, int64_t n, float eps);
lre_status lre_layer_norm_backward(lre_ctx *ctx, lre_tensor *dx, lre_tensor *dw, lre_tensor *db,
                                   const lre_tensor *dy, const lre_tensor *x,
                                   const lre_tensor *mean, const lre_tensor *rstd,
                                   const lre_tensor *w, int64_t n, int accumulate);

/* torch.nn.BatchNorm1d/2d over x (B, C·S): C channels of S values per
 * row (S = 1 for BatchNorm1d on vectors, H·W for BatchNorm2d). Training:
 * each channel's mean and biased variance over its B·S values (sums in
 * double; on a CPU with oneDNN, the training forward of S = 1 runs its
 * batch-norm primitive, float sums, and so does every training forward
 * with LRE_CPU_GEMM=onednn), and the running statistics (C, or NULL) moved by momentum with
 * the unbiased variance; evaluation: the running ones. mean and rstd (C)
 * = the ones used, kept for the backward; w, b (C) the affine map or
 * NULL. The backward (of training) writes dx (or NULL) and, with w, dw
 * and db (+)= their sums. */
lre_status lre_batch_norm_forward(lre_ctx *ctx, lre_tensor *y, lre_tensor *mean,
                                  lre_tensor *rstd, lre_tensor *run_mean, lre_tensor *run_var,
                                  const lre_tensor *x, const lre_tensor *w, const lre_tensor *b,
                                  int64_t C, int64_t S, float eps, float momentum, int training);
lre_status lre_batch_norm_backward(lre_ctx *ctx, lre_tensor *dx, lre_tensor *dw, lre_tensor *db,
                                   const lre_tensor *dy, const lre_tensor *x,
                                   const lre_tensor *mean, const lre_tensor *rstd,
                                   const lre_tensor *w, int64_t C, int64_t S, int accumulate);

/* The gradients of lre_conv2d_forward: dw (O, C·KH·KW) and db (O, or NULL)
 * (+)= (accumulate) the sums over the batch, dx (B, C·H·W, or NULL) =
 * the input's; col as above. */
lre_status lre_conv2d_backward(lre_ctx *ctx, lre_tensor *dx, lre_tensor *dw, lre_tensor *db,
                               const lre_tensor *dy, const lre_tensor *x,
                               const lre_tensor *w, const lre_conv_geom *g,
                               lre_tensor *col, int accumulate);

typedef enum lre_act {
    LRE_ACT_RELU = 0,
    LRE_ACT_LEAKY_RELU,  /* param: negative slope (PyTorch default 0.01) */
    LRE_ACT_GELU,        /* exact: 0.5·x·(1 + erf(x/√2))                  */
    LRE_ACT_GELU_TANH,   /* approximate='tanh'                            */
    LRE_ACT_TANH,
    LRE_ACT_SIGMOID,
    LRE_ACT_COUNT
} lre_act;

const char *lre_act_name(lre_act a);
/* y = f(x), elementwise, any shape (x and y same shape). */
lre_status lre_act_forward(lre_ctx *ctx, lre_act a, float param, lre_tensor *y,
                           const lre_tensor *x);
/* dx = f'(x) ⊙ dy; y is the forward output (used by tanh and sigmoid). */
lre_status lre_act_backward(lre_ctx *ctx, lre_act a, float param, lre_tensor *dx,
                            const lre_tensor *dy, const lre_tensor *x,
                            const lre_tensor *y);

/* Softmax cross-entropy on logits (B,C) against labels (B) int32 in [0,C),
 * mean over the batch, label smoothing ε as PyTorch's CrossEntropyLoss:
 * loss_i = (1-ε)·(-log p_{y_i}) + ε/C · Σ_c -log p_c.
 * Writes the mean loss to *loss; when dlogits is not NULL writes
 * dloss/dlogits multiplied by `grad_scale` (1 for a plain mean; 1/k for
 * accumulation over k micro-batches). Stable for logits of any magnitude. */
lre_status lre_cross_entropy(lre_ctx *ctx, float *loss, lre_tensor *dlogits,
                             const lre_tensor *logits, const lre_tensor *labels,
                             float smoothing, float grad_scale);
/* Mean squared error over all elements of pred and target (same shape). */
lre_status lre_mse(lre_ctx *ctx, float *loss, lre_tensor *dpred,
                   const lre_tensor *pred, const lre_tensor *target,
                   float grad_scale);
/* *correct = the number of rows of logits (B,C) whose largest logit (the
 * first one on a tie) is at the row's label (B) int32. Labels outside
 * [0,C) are refused, as by lre_cross_entropy. */
lre_status lre_count_correct(lre_ctx *ctx, int64_t *correct, const lre_tensor *logits,
                             const lre_tensor *labels);

/* ---------------------------------------------------------- optimizers */

typedef enum lre_optim_kind { LRE_OPTIM_SGD = 0, LRE_OPTIM_ADAM, LRE_OPTIM_ADAMW, LRE_OPTIM_COUNT } lre_optim_kind;

/* torch.optim's hyper-parameters and defaults. The learning rate is not
 * here: it is an argument of every step. They are doubles, as PyTorch's
 * Python floats are, and enter the float32 update exactly as torch.optim's
 * do (e.g. Adam's 1 - beta2 is computed in double, then rounded), so the
 * updates match torch's bit for bit where the arithmetic allows. */
typedef struct lre_optim_config {
    lre_optim_kind kind;
    double weight_decay; /* SGD/Adam: coupled L2 (g += wd·p); AdamW: decoupled */
    /* SGD */
    double momentum;
    double dampening;
    int nesterov;
    /* Adam / AdamW */
    double beta1, beta2;
    double eps;
} lre_optim_config;

lre_optim_config lre_optim_sgd_default(void);   /* momentum 0, dampening 0, wd 0 */
lre_optim_config lre_optim_adam_default(void);  /* betas (0.9, 0.999), eps 1e-8, wd 0 */
lre_optim_config lre_optim_adamw_default(void); /* as Adam, wd 1e-2 */
const char *lre_optim_name(lre_optim_kind k);
/* Checks a configuration as torch.optim does (e.g. nesterov needs momentum
 * > 0 and dampening 0); the message names the field. */
lre_status lre_optim_config_check(lre_ctx *ctx, const lre_optim_config *c);

/* One update of n parameters p with gradients g, in place, as torch.optim
 * does (foreach=False, maximize=False, amsgrad=False). `step` is the
 * 1-based count of this update; buf1/buf2 are the optimizer's state of n
 * floats each, named as torch.optim names them: SGD's momentum_buffer in
 * buf1 (both may be NULL without momentum; buf2 is unused), Adam's and
 * AdamW's exp_avg in buf1 and exp_avg_sq in buf2; zero before the first
 * step. Used by the trainer; public so that tests and embedders can check
 * it against the formulas. */
lre_status lre_optim_update(lre_ctx *ctx, const lre_optim_config *c, double lr,
                            int64_t step, lre_tensor *p, const lre_tensor *g,
                            lre_tensor *buf1, lre_tensor *buf2);

/* -------------------------------------------------------------- models */

typedef struct lre_model lre_model;

typedef enum lre_layer_kind {
    LRE_LAYER_LINEAR = 0,
    LRE_LAYER_ACT,
    LRE_LAYER_CONV2D,
    LRE_LAYER_MAX_POOL2D,
    LRE_LAYER_AVG_POOL2D,
    LRE_LAYER_ADAPTIVE_AVG_POOL2D,
    LRE_LAYER_FLATTEN,
    LRE_LAYER_LAYER_NORM,
    LRE_LAYER_BATCH_NORM,
    LRE_LAYER_DROPOUT,
    LRE_LAYER_RESIDUAL,     /* a residual block's start (its input goes on unchanged) */
    LRE_LAYER_SHORTCUT,     /* its shortcut's start (from the block's input) */
    LRE_LAYER_RESIDUAL_END, /* its end: the branch's output + the shortcut's (or the input) */
    LRE_LAYER_COUNT
} lre_layer_kind;

/* The window of a conv2d or pooling layer, as torch.nn.Conv2d, MaxPool2d
 * and AvgPool2d take it: kernel KH×KW, stride, zero padding, dilation
 * (max pooling and conv2d only), and the layer's flags. */
typedef struct lre_window {
    int64_t kh, kw, sh, sw, ph, pw, dh, dw;
    int bias;              /* conv2d: a bias per output channel (default 1) */
    int count_include_pad; /* avg_pool2d: padding counts in the divisor (default 1) */
} lre_window;
/* conv2d's defaults: a k×k kernel, stride 1, no padding, dilation 1, bias. */
lre_window lre_conv_window(int64_t k);
/* pooling's defaults: a k×k window, stride k, no padding, dilation 1,
 * count_include_pad. */
lre_window lre_pool_window(int64_t k);

lre_status lre_model_new(lre_ctx *ctx, lre_model **out);
void lre_model_retain(lre_model *m);
void lre_model_release(lre_model *m);
/* Appends a layer. A linear layer's `in` must equal the previous linear's
 * `out`. Layers can be added until the model is first initialised. */
lre_status lre_model_add_linear(lre_model *m, int64_t in, int64_t out);
lre_status lre_model_add_act(lre_model *m, lre_act a, float param);
/* Image layers: rows are C×H×W images (a 2-D row H×W is one channel), and
 * their sizes are known once the input's row shape is
 * (lre_model_set_input_shape, which lre_trainer_new calls with its
 * dataset's). Parameters are checked here (a stride of 0, a padding over
 * half a pooling window, channels that do not follow the conv2d before),
 * shapes there. */
lre_status lre_model_add_conv2d(lre_model *m, int64_t in_channels, int64_t out_channels,
                                const lre_window *w);
lre_status lre_model_add_max_pool2d(lre_model *m, const lre_window *w);
lre_status lre_model_add_avg_pool2d(lre_model *m, const lre_window *w);
/* Output oh×ow of any input size, as torch.nn.AdaptiveAvgPool2d. */
lre_status lre_model_add_adaptive_avg_pool2d(lre_model *m, int64_t oh, int64_t ow);
/* A row of any shape as a vector (no data moves). */
lre_status lre_model_add_flatten(lre_model *m);
/* torch.nn.LayerNorm(n, eps, elementwise_affine): each row's last
 * dimension (which must be n) normalised; with `affine` a weight (ones)
 * and a bias (zeros) of n each. */
lre_status lre_model_add_layer_norm(lre_model *m, int64_t n, float eps, int affine);
/* torch.nn.BatchNorm1d(c) (dims 1: rows of c values, or c×L) and
 * BatchNorm2d(c) (dims 2: rows of c×H×W, or H×W as one channel), with
 * eps, momentum and affine; running statistics (mean 0, variance 1 at
 * init) moved by every training step and used by evaluate, and
 * num_batches_tracked, carried by snapshots and checkpoints. */
lre_status lre_model_add_batch_norm(lre_model *m, int dims, int64_t c, float eps,
                                    float momentum, int affine);
/* torch.nn.Dropout(p), p in [0, 1): in a step each value is kept with
 * probability 1 − p and scaled by 1/(1 − p), the masks drawn from Philox
 * keyed by the trainer's seed and its dropout position (which snapshots
 * and checkpoints carry: a seed replays its masks); evaluate passes the
 * values through. */
lre_status lre_model_add_dropout(lre_model *m, float p);
/* A residual block, y = f(x) + x or f(x) + shortcut(x), as one layer of
 * torch's nn.Sequential: lre_model_begin_residual, f's layers, optionally
 * lre_model_begin_shortcut and the shortcut's layers, then
 * lre_model_end_residual. Its parameters are named as a module whose
 * children are f's layers ("4.0.weight", "4.2.bias") and a Sequential
 * "shortcut" ("4.shortcut.0.weight"). Blocks do not nest; f and a
 * shortcut have at least one layer; the two sides' shapes must agree
 * (checked with the input shape). */
lre_status lre_model_begin_residual(lre_model *m);
lre_status lre_model_begin_shortcut(lre_model *m);
lre_status lre_model_end_residual(lre_model *m);
/* Layer i's name in torch's state_dict ("3", "4.0", "4.shortcut.1"), to
 * which ".weight", ".bias", ".running_mean", ... are appended. */
const char *lre_model_layer_name(const lre_model *m, int i);
/* Works out every layer's input and output shape for rows of `shape`
 * (ndim 1 to LRE_MAX_DIMS): LRE_ESHAPE, with the layer at fault named
 * ("layer 4 (linear(784,10)) expects 784 features, gets 1568 from layer 3
 * (flatten)"), when they do not fit. A model without image layers fits
 * any shape of its first linear's in_features elements. */
lre_status lre_model_set_input_shape(lre_model *m, int ndim, const int64_t *shape);
/* Allocates the flat parameter and gradient buffers (if not yet) and
 * initialises every linear layer as PyTorch's nn.Linear does: weight and
 * bias uniform in ±1/sqrt(in), drawn from a Philox stream of `seed`. */
lre_status lre_model_init(lre_model *m, uint64_t seed);
int lre_model_initialized(const lre_model *m);
/* A new model with m's layers and, when m is initialised, a copy of its
 * parameter values (*out, released by the caller). A model's parameters
 * are stepped by one trainer (lre_trainer_new refuses a model another
 * trainer holds): a second trainer needs its own copy, this one or
 * lre_trainer_clone's. */
lre_status lre_model_clone(const lre_model *m, lre_model **out);
int lre_model_num_layers(const lre_model *m);
lre_layer_kind lre_model_layer_kind(const lre_model *m, int i);
/* What layer i (0 <= i < num_layers) is: a linear layer's features, an
 * activation's function and parameter (what lre_model_add_* was given). */
typedef struct lre_layer_info {
    lre_layer_kind kind;
    int64_t in, out;   /* linear: in and out features; other layers: values per
                          row in and out (0 until the input shape is known) */
    lre_act act;       /* activation only */
    float param;       /* activation only: leaky_relu's negative slope, else 0 */
    int64_t in_channels, out_channels; /* conv2d */
    lre_window window;                 /* conv2d and pooling */
    int64_t out_h, out_w;              /* adaptive_avg_pool2d's output size */
    int64_t norm_size;                 /* layer_norm: n; batch_norm: channels */
    float eps;                         /* layer_norm, batch_norm */
    int affine;                        /* layer_norm, batch_norm: a weight and a bias */
    float momentum;                    /* batch_norm */
    int dims;                          /* batch_norm: 1 or 2 (BatchNorm1d, 2d) */
} lre_layer_info;
lre_layer_info lre_model_layer_info(const lre_model *m, int i);
/* One layer as lre_model_describe writes it ("conv2d(1,6,k=5,p=2)"). */
const char *lre_layer_describe(const lre_layer_info *l, char *buf, size_t n);
/* Values per input and output row: those of the input shape once set
 * (lre_model_set_input_shape); before, the first linear's in_features and
 * the last linear's out_features (0 where an image layer comes first, or
 * after the last linear). */
int64_t lre_model_in_features(const lre_model *m);
int64_t lre_model_out_features(const lre_model *m);
int64_t lre_model_num_params(const lre_model *m);
/* "linear(784,256) relu linear(256,10)" into buf; image layers as
 * "conv2d(1,6,k=5,p=2)", "max_pool2d(k=2)", "adaptive_avg_pool2d(1)", "flatten". */
const char *lre_model_describe(const lre_model *m, char *buf, size_t n);
/* The flat buffers (the model must be initialised). Borrowed references. */
lre_tensor *lre_model_params(lre_model *m);
lre_tensor *lre_model_grads(lre_model *m);
/* Views of layer i's weight and bias inside the flat buffers (NULL for a
 * layer without parameters). Borrowed references. */
lre_tensor *lre_model_weight(lre_model *m, int i);
lre_tensor *lre_model_bias(lre_model *m, int i);
lre_tensor *lre_model_weight_grad(lre_model *m, int i);
lre_tensor *lre_model_bias_grad(lre_model *m, int i);

/* -------------------------------------------------------------- datasets */

typedef struct lre_dataset lre_dataset;

/* A dataset of n rows of `features` floats, with int labels in [0, C) (C =
 * max label + 1 unless num_classes is given, > 0) or float targets of
 * `target_dim` per row (for MSE); exactly one of labels/targets is non-NULL.
 * The data is copied. NaN or inf in the features is an error naming the row
 * and column. */
lre_status lre_dataset_from_arrays(lre_ctx *ctx, lre_dataset **out, int64_t n,
                                   int64_t features, const float *x,
                                   const int32_t *labels, const float *targets,
                                   int64_t target_dim);
/* The same with labels and an explicit class count (labels must be in
 * [0, num_classes)). */
lre_status lre_dataset_from_arrays_classes(lre_ctx *ctx, lre_dataset **out,
                                           int64_t n, int64_t features,
                                           const float *x, const int32_t *labels,
                                           int64_t num_classes);
void lre_dataset_retain(lre_dataset *d);
void lre_dataset_release(lre_dataset *d);
int64_t lre_dataset_size(const lre_dataset *d);
/* The context the dataset was made in (borrowed). */
lre_ctx *lre_dataset_ctx(const lre_dataset *d);
/* Features per row (the product of the per-row shape). */
int64_t lre_dataset_features(const lre_dataset *d);
/* Per-row shape (e.g. 28,28 for images; 1 dim for tables). */
int lre_dataset_row_ndim(const lre_dataset *d);
int64_t lre_dataset_row_dim(const lre_dataset *d, int i);
/* 0 for a regression dataset (float targets). */
int64_t lre_dataset_num_classes(const lre_dataset *d);
int64_t lre_dataset_target_dim(const lre_dataset *d);
lre_dtype lre_dataset_feature_dtype(const lre_dataset *d);

/* The transform applied while a batch is gathered: x' = (x·scale - mean)/std
 * (mean and std global). New datasets have scale 1, mean 0, std 1. These
 * return a new dataset sharing the rows. */
lre_status lre_dataset_scale(lre_dataset *d, lre_dataset **out, float scale);
/* The same rows shown with another row shape (ndim sizes, 1 to
 * LRE_MAX_DIMS, whose product is the feature count: a 28×28 image as
 * 1×28×28, 784 values as 28×28), without copying them; its views (scale,
 * subset, split, ...) keep the shape. LRE_ESHAPE naming both shapes when
 * the counts differ. */
lre_status lre_dataset_reshape(lre_dataset *d, lre_dataset **out, int ndim, const int64_t *shape);
lre_status lre_dataset_normalize(lre_dataset *d, lre_dataset **out, float mean, float std);
/* The first n rows, or the listed rows (0-based), as a new dataset sharing
 * storage. */
lre_status lre_dataset_subset(lre_dataset *d, lre_dataset **out, int64_t n,
                              const int64_t *indices);
/* A seeded random split: `fraction` of the rows (rounded down, at least 1,
 * at most n-1) in *a, the rest in *b. */
lre_status lre_dataset_split(lre_dataset *d, lre_dataset **a, lre_dataset **b,
                             double fraction, uint64_t seed);

/* Gathers rows idx[0..n) into x (n × features floats, transform applied)
 * and their labels into y (int32) or targets into t (floats); y/t may be
 * NULL. The batch interface the trainer uses; allocates nothing. */
lre_status lre_dataset_gather(lre_dataset *d, const int64_t *idx, int64_t n,
                              float *x, int32_t *y, float *t);

/* ------------------------------------------------ dataset loaders
 * Datasets from files. Features keep their stored type where the engine has
 * it (u8 pixels stay u8: Fashion-MNIST's training set is 47 MB in memory,
 * not 188 MB) and become f32 only in lre_dataset_gather, through the
 * dataset's transform. Policy on bad values: non-finite features (NaN, inf)
 * are refused, never silently kept or dropped; class labels must be
 * integers in [0, 2^31 − 1). A failed load returns a status and a message
 * naming the file and the fault ("idx: /path/x.gz: truncated: header says
 * 60000×28×28 images (47040000 bytes) but the file holds 1234 after its
 * 16-byte header"); it never leaves a half-built dataset. A gzip file may
 * hold several members (as gzip -d reads them) but nothing after the last:
 * trailing bytes are LRE_EFORMAT. No buffer may exceed the context's
 * loading limit (lre_ctx_set_max_load_bytes), checked before allocating. */

/* IDX files, the MNIST family (yann.lecun.com/exdb/mnist): images with
 * magic 0x00000803 (u8, N×H×W; 0x00000802..05 give rows of 1 to 4 dims)
 * and labels with magic 0x00000801 (u8, N); each file plain or gzip. The
 * classes are max label + 1. */
lre_status lre_dataset_idx(lre_ctx *ctx, lre_dataset **out, const char *images_path,
                           const char *labels_path);

/* What a loader makes of the label column or array. Classification (the
 * default) wants integer class labels 0, 1, ... (a float array or column
 * is fine when every value is an integer) and refuses a fractional one,
 * naming its row and pointing to LRE_TASK_REGRESSION: a column of prices
 * never silently becomes 'classes'. Regression keeps the values as float
 * targets (for the mse loss), integers included. */
typedef enum lre_task {
    LRE_TASK_CLASSIFICATION = 0,
    LRE_TASK_REGRESSION = 1
} lre_task;
/* "classification" / "regression"; NULL for a value outside the enum. */
const char *lre_task_name(lre_task task);

/* NumPy .npy files, format versions 1, 2 and 3, C order (Fortran order and
 * object arrays are refused), either byte order; plain or gzip.
 * Features (N, d1, ..., dk), k ≤ 4 (a 1-D array gives one feature): u1
 * stays u8; f4 stays f32; f8, i4 and i8 are converted to f32 at load (f8
 * values outside f32's range are refused; integers above 2^24 lose
 * precision). Labels (u1, i4, i8, f4, f8): for classification shape (N) or
 * (N,1), integer values, i8 range-checked into i32; for regression shape
 * (N) or (N,k), k targets per row for MSE. lre_dataset_npy is
 * lre_dataset_npy_task with LRE_TASK_CLASSIFICATION. */
lre_status lre_dataset_npy(lre_ctx *ctx, lre_dataset **out, const char *features_path,
                           const char *labels_path);
lre_status lre_dataset_npy_task(lre_ctx *ctx, lre_dataset **out, const char *features_path,
                                const char *labels_path, lre_task task);

typedef struct lre_csv_opts {
    const char *label_name; /* the label column by header name, or NULL      */
    int64_t label_index;    /* or by 1-based column number (0: not given)    */
    int header;             /* 1: line 1 names the columns; 0: it is data;
                               -1 (default): a header when any of its cells
                               is not a number                               */
    char delimiter;         /* default ','                                   */
    lre_task task;          /* default classification: integer labels        */
} lre_csv_opts;

lre_csv_opts lre_csv_opts_default(void);

/* A CSV file (plain or gzip) of numeric cells: every column but the label
 * column is a feature (f32). The label column is the one named or numbered
 * in opts, else the column named "label" when the header has one, else the
 * last column; its cells must be non-negative integers (classification,
 * the default) or finite numbers (opts.task = LRE_TASK_REGRESSION: one
 * float target per row). Cells may be
 * quoted; spaces around cells are ignored; lines end in LF or CRLF; empty
 * lines may only close the file. Errors name the file, line and column. */
lre_status lre_dataset_csv(lre_ctx *ctx, lre_dataset **out, const char *path,
                           const lre_csv_opts *opts);

/* Fashion-MNIST (Xiao et al. 2017; 10 classes, 28×28 u8 images), split
 * "train" (60000 rows) or "test" (10000): the IDX files
 * {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from the directory
 * $LRENGINE_DATA (or its fashion-mnist/ subdirectory) when set, else from
 * Debian's dataset-fashion-mnist package (/usr/share/datasets/fashion-mnist).
 * When none has them the message lists the directories searched and the
 * command that installs the package (apt-get install dataset-fashion-mnist). */
lre_status lre_dataset_fashion_mnist(lre_ctx *ctx, lre_dataset **out, const char *split);
#define LRE_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Per-feature normalisation: x'[c] = (x[c]·scale − mean[c]) / std[c], with
 * `features` values in each array (finite; std > 0). A new dataset sharing
 * the rows; replaces any earlier normalisation (the scale stays). */
lre_status lre_dataset_normalize_per_feature(lre_dataset *d, lre_dataset **out,
                                             const float *mean, const float *std);
/* Mean and population standard deviation (divide by n) of the scaled
 * features x·scale over this dataset's rows — one value each when
 * per_feature is 0, `features` values each otherwise: what normalize needs
 * to give mean 0 and std 1. Computed in double (exactly for u8 data). */
lre_status lre_dataset_stats(lre_dataset *d, int per_feature, float *mean, float *std);
/* normalize (per_feature 0) or normalize_per_feature with this dataset's
 * own statistics. A std of 0 (a constant feature, such as a pixel that is
 * black in every image) is replaced by 1, as scikit-learn's StandardScaler
 * does, so that feature becomes 0 instead of NaN. */
lre_status lre_dataset_standardize(lre_dataset *d, lre_dataset **out, int per_feature);
/* The transform of a dataset: its scale, and whether the normalisation is
 * per feature (1) or global (0). mean and std (either may be NULL) receive
 * 1 value (global) or `features` values (per feature). */
int lre_dataset_transform(const lre_dataset *d, float *scale, float *mean, float *std);

/* ------------------------------------------------------------- trainer */

typedef enum lre_loss_kind { LRE_LOSS_CROSS_ENTROPY = 0, LRE_LOSS_MSE, LRE_LOSS_COUNT } lre_loss_kind;

typedef struct lre_loss_config {
    lre_loss_kind kind;
    float label_smoothing; /* cross-entropy only, in [0, 1] */
} lre_loss_config;

/* The compute type of the trainer's matrix products (forward and backward
 * GEMMs). Parameters, gradients, activations and optimizer state stay fp32
 * whatever the precision; only the multiply-accumulate inside the GEMMs
 * changes:
 *   FP32  plain fp32 (the default; on CUDA with TF32 tensor cores off);
 *   TF32  inputs rounded to TF32 (10-bit mantissa), fp32 accumulation:
 *         CUDA on compute capability 8.0 or later;
 *   BF16  inputs rounded to bfloat16 (7-bit mantissa), fp32 accumulation:
 *         CUDA on compute capability 8.0 or later.
 * A device that cannot do the one asked for runs fp32: the trainer keeps
 * both, and lre_trainer_precision tells them apart (the engine prints
 * nothing; the `lrengine` command warns). The CPU runs BF16 through oneDNN
 * on AMX or AVX512-BF16 (a build with oneDNN), never TF32. */
typedef enum lre_precision {
    LRE_PRECISION_FP32 = 0,
    LRE_PRECISION_TF32,
    LRE_PRECISION_BF16,
    LRE_PRECISION_COUNT
} lre_precision;

/* "fp32", "tf32", "bf16" ("unknown" for any other value). */
const char *lre_precision_name(lre_precision p);

typedef struct lre_trainer_opts {
    lre_loss_config loss;     /* default: cross-entropy, no smoothing       */
    lre_optim_config optim;   /* default: Adam                              */
    int64_t batch_size;       /* default 32 (rows per micro-batch)          */
    int accumulation_steps;   /* default 1: micro-batches per step          */
    uint64_t seed;            /* shuffling (and model init if needed); 0    */
    int shuffle;              /* default 1: a new order every epoch         */
    int drop_last;            /* default 0, as torch's DataLoader           */
    lre_precision precision;  /* default LRE_PRECISION_FP32: GEMM compute type */
} lre_trainer_opts;

lre_trainer_opts lre_trainer_opts_default(void);

typedef struct lre_trainer lre_trainer;

/* Creates a trainer; initialises the model from `seed` if it was never
 * initialised; refuses a model that another trainer holds (the two would
 * step the same parameters, each undoing the other's range tests:
 * lre_trainer_clone or lre_model_clone make a copy); checks that the data fits the model (feature count, every
 * label below the model's outputs — the message names the first offending
 * row); allocates every buffer a step needs. */
lre_status lre_trainer_new(lre_ctx *ctx, lre_trainer **out, lre_model *model,
                           lre_dataset *data, const lre_trainer_opts *opts);
void lre_trainer_retain(lre_trainer *t);
void lre_trainer_release(lre_trainer *t);

/* The options t was made with (its current accumulation_steps). */
lre_trainer_opts lre_trainer_options(const lre_trainer *t);

/* A new trainer on t's data with a copy of t's model (lre_model_clone), of
 * its optimizer state, step count and batch order (the position in the
 * current epoch's order), as lre_trainer_snapshot and _restore carry them;
 * with `opts` (NULL: t's own, lre_trainer_options) — a batch size, a
 * weight decay, a precision of its own. An optimizer of another kind than
 * t's starts with fresh state. The two trainers then train independently:
 * what grids of weight decays or batch sizes, and verification runs, use. */
lre_status lre_trainer_clone(lre_trainer *t, lre_trainer **out, const lre_trainer_opts *opts);

/* One optimizer step on the next batch(es) at learning rate lr; *loss gets
 * the mean loss of the step (over accumulation_steps micro-batches). A
 * non-finite loss is returned as is (the finder decides what it means).
 * No heap allocation. */
lre_status lre_trainer_step(lre_trainer *t, double lr, float *loss);
/* The mean loss over all of `data` (in batches of the trainer's batch
 * size); changes no state. */
lre_status lre_trainer_evaluate(lre_trainer *t, lre_dataset *data, float *loss);
/* Fraction of rows whose argmax output equals the label (classification). */
lre_status lre_trainer_accuracy(lre_trainer *t, lre_dataset *data, double *acc);
/* Replaces the parameters with a fresh initialisation from `seed` and
 * resets the optimizer state (used by repeated range tests). */
lre_status lre_trainer_reinit(lre_trainer *t, uint64_t seed);
/* Reseeds the batch order: epoch 0, cursor 0, permutation from `seed`. */
lre_status lre_trainer_reseed(lre_trainer *t, uint64_t seed);

int64_t lre_trainer_steps(const lre_trainer *t);   /* optimizer steps taken */
int64_t lre_trainer_epoch(const lre_trainer *t);
int64_t lre_trainer_cursor(const lre_trainer *t);  /* rows consumed this epoch */
int64_t lre_trainer_batch_size(const lre_trainer *t);
/* Optimizer steps that cover one pass over the training data: its batches
 * (the last short one counted unless drop_last) over accumulation_steps,
 * rounded up (with accumulation, the last step may take micro-batches of
 * the next epoch). */
int64_t lre_trainer_steps_per_epoch(const lre_trainer *t);
int lre_trainer_accumulation_steps(const lre_trainer *t);
/* Micro-batches per step from now on (>= 1); no buffer depends on it.
 * pytorch-lr-finder's range_test(accumulation_steps=) sets it for a test. */
lre_status lre_trainer_set_accumulation_steps(lre_trainer *t, int k);
uint64_t lre_trainer_seed(const lre_trainer *t);
lre_model *lre_trainer_model(lre_trainer *t);      /* borrowed */
lre_dataset *lre_trainer_data(lre_trainer *t);     /* borrowed */
lre_ctx *lre_trainer_ctx(const lre_trainer *t);    /* borrowed: the context it was made in */
const lre_optim_config *lre_trainer_optim(const lre_trainer *t);
const lre_loss_config *lre_trainer_loss(const lre_trainer *t);
/* The precision the trainer's GEMMs run in (effective: what the device
 * does), and in *requested (may be NULL) the one lre_trainer_opts asked
 * for; they differ where the device lacks the requested one (then the
 * effective one is LRE_PRECISION_FP32). Trainers of one context may use
 * different precisions: each step, evaluate and accuracy sets its own.
 * Other calls on the context (lre_matmul, lre_linear_forward, ...) run in
 * whatever precision the context's device was last set to by a trainer
 * (fp32 until a trainer asks for another). */
lre_precision lre_trainer_precision(const lre_trainer *t, lre_precision *requested);
/* CUDA graphs: where the backend captures (CUDA), a trainer records its
 * step the second time it runs one of full micro-batches and replays it
 * from then on (one launch a step; a step with an epoch's short last
 * batch has a graph of its own), and a pass of evaluate/accuracy over a
 * dataset likewise; the
 * results are the same bits as eager runs. On by default; off runs every
 * step eagerly (for comparison). lre_trainer_graphs says whether graphs are
 * in use (0 on the CPU, or if a capture ever failed on this trainer). */
lre_status lre_trainer_set_graphs(lre_trainer *t, int on);
int lre_trainer_graphs(const lre_trainer *t);

/* ------------------------------------------------------------ snapshots */

typedef struct lre_snapshot lre_snapshot;

/* Captures parameters, optimizer state and step count, the batch order
 * (seed, epoch, cursor) — everything a step reads. */
lre_status lre_trainer_snapshot(lre_trainer *t, lre_snapshot **out);
/* Puts the trainer back in the captured state; the snapshot must come from
 * a trainer of the same model architecture and optimizer. Restoring then
 * stepping equals the original run bit for bit on the CPU. */
lre_status lre_trainer_restore(lre_trainer *t, const lre_snapshot *s);
void lre_snapshot_release(lre_snapshot *s);
int64_t lre_snapshot_steps(const lre_snapshot *s);

/* The same state as a safetensors file (PyTorch state_dict names "0.weight",
 * "0.bias", ...; optimizer state per parameter as torch.optim names it,
 * "optim.0.weight.exp_avg", "optim.0.weight.exp_avg_sq" (Adam, AdamW) or
 * "optim.0.weight.momentum_buffer" (SGD with momentum), and "optim.step";
 * files of version 1, with "optim.state1"/"optim.state2", still load;
 * metadata
 * with the architecture, optimizer and loss hyper-parameters, step count
 * and batch position). Written to a temporary file and renamed, so a crash
 * never leaves half a file. Loading checks that the file matches the
 * trainer's architecture and optimizer kind, and refuses a corrupt or
 * truncated file, or one with non-finite parameters, with a message naming
 * the file and the fault; nothing is changed unless the whole file is good.
 * The trainer's own hyper-parameters stay in force (as torch's
 * load_state_dict followed by the caller's optimizer). In PyTorch:
 *   sd = safetensors.torch.load_file(path)
 *   model.load_state_dict({k: v for k, v in sd.items()
 *                          if not k.startswith("optim.")}) */
lre_status lre_trainer_save(lre_trainer *t, const char *path);
lre_status lre_trainer_load(lre_trainer *t, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* LRENGINE_H */
