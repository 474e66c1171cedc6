/*
 * cuda.cu — the CUDA backend: the table of backend/backend.h on one GPU,
 * cuBLAS for every matrix product, our kernels for the rest. Element-wise
 * math comes from backend/elementwise.h, the very functions the CPU
 * backend runs; the CPU backend is the reference this one is tested
 * against (spec/c/test_backend_ops.c, with LRE_TEST_DEVICE=cuda).
 *
 * Every entry is issued on the state's stream and returns when issued;
 * to_host waits for the stream, so a result the caller reads is complete.
 * Every CUDA and cuBLAS call is checked and becomes LRE_EDEVICE with the
 * call, the file, the line and the library's message in env->err. No entry
 * allocates after its first call with a given size (the reduction scratch
 * grows once), so a step can be captured as a CUDA graph.
 *
 * Reductions (losses, bias gradients, counts) are fixed trees: the same
 * inputs give the same bits on every run (no atomics on floats).
 */
#include <cuda_runtime.h>
#include <cublas_v2.h>

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/elementwise.h"
#include "backend/gemm_map.h"

namespace {

/* cuBLAS is opened when the first CUDA context is made, not when the
 * program starts: libcublasLt alone is half a gigabyte, and a program that
 * runs on the CPU (most runs of the command) should not map it (about 200 MB
 * of resident memory and up to half a second at start-up). The names are
 * the library's exported ones (cublas_v2.h maps cublasCreate to
 * cublasCreate_v2 and so on); the SONAME is CUDA 13's, found through the
 * rpath the Makefile sets, or LD_LIBRARY_PATH. */
struct blas_api {
    decltype(&cublasCreate_v2) create;
    decltype(&cublasDestroy_v2) destroy;
    decltype(&cublasSetStream_v2) set_stream;
    decltype(&cublasSetMathMode) set_math_mode;
    decltype(&cublasSetWorkspace_v2) set_workspace;
    decltype(&cublasSgemm_v2) sgemm;
    /* the C symbol: the cublasComputeType_t form (C++ also sees an overload) */
    cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                              const void *, const void *, cudaDataType, int, const void *,
                              cudaDataType, int, const void *, void *, cudaDataType, int,
                              cublasComputeType_t, cublasGemmAlgo_t);
    decltype(&cublasGetStatusName) status_name;
    decltype(&cublasGetStatusString) status_string;
};

blas_api BLAS;
char blas_error[512];
pthread_once_t blas_once = PTHREAD_ONCE_INIT;

template <typename F> bool blas_sym(void *lib, F *fn, const char *name)
{
    *fn = reinterpret_cast<F>(dlsym(lib, name));
    if (!*fn && !blas_error[0])
        snprintf(blas_error, sizeof blas_error, "cuda: libcublas.so.13 has no %s", name);
    return *fn != NULL;
}

void blas_load()
{
    void *lib = dlopen("libcublas.so.13", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(blas_error, sizeof blas_error, "cuda: cannot open cuBLAS: %s", dlerror());
        return;
    }
    blas_api b;
    bool ok = blas_sym(lib, &b.create, "cublasCreate_v2") &
              blas_sym(lib, &b.destroy, "cublasDestroy_v2") &
              blas_sym(lib, &b.set_stream, "cublasSetStream_v2") &
              blas_sym(lib, &b.set_math_mode, "cublasSetMathMode") &
              blas_sym(lib, &b.set_workspace, "cublasSetWorkspace_v2") &
              blas_sym(lib, &b.sgemm, "cublasSgemm_v2") & blas_sym(lib, &b.gemm_ex, "cublasGemmEx") &
              blas_sym(lib, &b.status_name, "cublasGetStatusName") &
              blas_sym(lib, &b.status_string, "cublasGetStatusString");
    if (ok) BLAS = b; /* the library stays open for the process's life */
    else dlclose(lib);
}

struct alloc_rec {
    void *p;
    size_t n;
};

struct cuda_state {
    const lre_backend_env *env;
    int device;
    int cc_major;             /* compute capability (read once at init) */
    lre_precision precision;  /* the gemm compute type in force (set_precision) */
    cudaStream_t stream;
    cublasHandle_t blas;
    /* sizes of live device blocks, for the context's counters */
    alloc_rec *recs;
    size_t n_recs, cap_recs;
    /* reduction scratch: per-row or per-block partial sums (doubles); a
     * smaller one outgrown stays allocated until shutdown, as a captured
     * graph may still point at it */
    double *partial;
    size_t partial_n;
    double *retired[32];
    int n_retired;
    /* cuBLAS's workspace, set once so that captured GEMMs allocate nothing */
    void *blas_ws;
    /* 1 while a capture is open */
    int capturing;
};

#define ST(state) (static_cast<cuda_state *>(state))

lre_status cuda_fail(cuda_state *s, cudaError_t e, const char *what, const char *file, int line)
{
    (void)cudaGetLastError(); /* reported here: the next launch check must not see it again */
    return lre_backend_fail(s->env, LRE_EDEVICE, "cuda: %s failed at %s:%d: %s (%s)", what, file,
                            line, cudaGetErrorName(e), cudaGetErrorString(e));
}

lre_status cublas_fail(cuda_state *s, cublasStatus_t e, const char *what, const char *file,
                       int line)
{
    (void)cudaGetLastError();
    return lre_backend_fail(s->env, LRE_EDEVICE, "cublas: %s failed at %s:%d: %s (%s)", what,
                            file, line, BLAS.status_name(e), BLAS.status_string(e));
}

#define CU(s, call)                                                              \
    do {                                                                         \
        cudaError_t e_ = (call);                                                 \
        if (e_ != cudaSuccess) return cuda_fail((s), e_, #call, __FILE__, __LINE__); \
    } while (0)

#define CB(s, call)                                                                \
    do {                                                                           \
        cublasStatus_t e_ = (call);                                                \
        if (e_ != CUBLAS_STATUS_SUCCESS)                                           \
            return cublas_fail((s), e_, #call, __FILE__, __LINE__);                \
    } while (0)

/* after a launch: a bad configuration shows here, a fault at the next sync */
#define LAUNCHED(s, name) CU((s), cudaGetLastError())

const int THREADS = 256;
const size_t BLAS_WORKSPACE = (size_t)32 << 20; /* cuBLAS's advice for Hopper */

/* blocks for a grid-stride loop over n elements */
unsigned blocks_for(int64_t n)
{
    int64_t b = (n + THREADS - 1) / THREADS;
    if (b < 1) b = 1;
    if (b > 4096) b = 4096;
    return (unsigned)b;
}

/* ------------------------------------------------------------ set up */

lre_status cuda_init(const lre_backend_env *env, void **state)
{
    *state = NULL;
    int count = 0; /* cudaGetDeviceCount leaves it untouched on failure */
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* clear the sticky-free error state */
        const char *why = e == cudaErrorInsufficientDriver ? "no NVIDIA driver, or one too old "
                                                             "for this CUDA runtime"
                          : e == cudaErrorNoDevice        ? "no GPU"
                          : e == cudaErrorStubLibrary     ? "only the CUDA stub library, no driver"
                                                          : "the CUDA runtime could not start";
        return lre_backend_fail(env, LRE_EDEVICE, "cuda: %s (cudaGetDeviceCount: %s, %s)", why,
                                cudaGetErrorName(e), cudaGetErrorString(e));
    }
    if (count < 1) return lre_backend_fail(env, LRE_EDEVICE, "cuda: no GPU (the driver sees none)");
    pthread_once(&blas_once, blas_load);
    if (!BLAS.create) return lre_backend_fail(env, LRE_EDEVICE, "%s", blas_error);
    cuda_state *s = static_cast<cuda_state *>(calloc(1, sizeof *s));
    if (!s) return lre_backend_fail(env, LRE_ENOMEM, "cuda: out of host memory");
    s->env = env;
    s->device = 0;
    s->precision = LRE_PRECISION_FP32; /* the pedantic math mode set below */
    lre_status st = LRE_OK;
    cudaError_t ce;
    cublasStatus_t be;
    if ((ce = cudaSetDevice(s->device)) != cudaSuccess) {
        st = cuda_fail(s, ce, "cudaSetDevice", __FILE__, __LINE__);
    } else if ((ce = cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking)) != cudaSuccess) {
        st = cuda_fail(s, ce, "cudaStreamCreate", __FILE__, __LINE__);
    } else if ((be = BLAS.create(&s->blas)) != CUBLAS_STATUS_SUCCESS) {
        st = cublas_fail(s, be, "cublasCreate", __FILE__, __LINE__);
    } else if ((be = BLAS.set_stream(s->blas, s->stream)) != CUBLAS_STATUS_SUCCESS) {
        st = cublas_fail(s, be, "cublasSetStream", __FILE__, __LINE__);
    } else if ((be = BLAS.set_math_mode(s->blas, CUBLAS_PEDANTIC_MATH)) != CUBLAS_STATUS_SUCCESS) {
        /* fp32 by default: no TF32 behind the caller's back */
        st = cublas_fail(s, be, "cublasSetMathMode", __FILE__, __LINE__);
    } else if ((ce = cudaDeviceGetAttribute(&s->cc_major, cudaDevAttrComputeCapabilityMajor,
                                            s->device)) != cudaSuccess) {
        st = cuda_fail(s, ce, "cudaDeviceGetAttribute(cudaDevAttrComputeCapabilityMajor)",
                       __FILE__, __LINE__);
    } else if ((ce = cudaMalloc(&s->blas_ws, BLAS_WORKSPACE)) != cudaSuccess) {
        st = cuda_fail(s, ce, "cudaMalloc (cuBLAS workspace)", __FILE__, __LINE__);
    } else if ((be = BLAS.set_workspace(s->blas, s->blas_ws, BLAS_WORKSPACE)) !=
               CUBLAS_STATUS_SUCCESS) {
        st = cublas_fail(s, be, "cublasSetWorkspace", __FILE__, __LINE__);
    }
    if (st != LRE_OK) {
        if (s->blas) BLAS.destroy(s->blas);
        if (s->blas_ws) cudaFree(s->blas_ws);
        if (s->stream) cudaStreamDestroy(s->stream);
        free(s);
        return st;
    }
    *state = s;
    return LRE_OK;
}

void cuda_shutdown(void *state)
{
    cuda_state *s = ST(state);
    if (!s) return;
    cudaStreamSynchronize(s->stream);
    cudaFree(s->partial);
    for (int i = 0; i < s->n_retired; i++) cudaFree(s->retired[i]);
    BLAS.destroy(s->blas);
    cudaFree(s->blas_ws);
    cudaStreamDestroy(s->stream);
    free(s->recs);
    free(s);
}

lre_status cuda_synchronize(void *state)
{
    cuda_state *s = ST(state);
    CU(s, cudaStreamSynchronize(s->stream));
    return LRE_OK;
}

void *cuda_stream(void *state) { return ST(state)->stream; }

/* ------------------------------------------------------------ memory */

/* The size table: every live block, device or pinned, with its size, so
 * that freeing it keeps the context's counters exact. Room for one more is
 * made before a block is allocated (no block is ever left unrecorded). */
bool recs_reserve(cuda_state *s)
{
    if (s->n_recs < s->cap_recs) return true;
    size_t cap = s->cap_recs ? 2 * s->cap_recs : 64;
    alloc_rec *r = static_cast<alloc_rec *>(realloc(s->recs, cap * sizeof *r));
    if (!r) {
        lre_backend_fail(s->env, LRE_ENOMEM, "cuda: out of host memory");
        return false;
    }
    s->recs = r;
    s->cap_recs = cap;
    return true;
}

void *recs_add(cuda_state *s, void *p, size_t n)
{
    s->recs[s->n_recs].p = p;
    s->recs[s->n_recs].n = n;
    s->n_recs++;
    s->env->stats->n_allocs++;
    s->env->stats->bytes_live += n;
    return p;
}

void recs_remove(cuda_state *s, void *p)
{
    for (size_t i = 0; i < s->n_recs; i++)
        if (s->recs[i].p == p) {
            s->env->stats->bytes_live -= s->recs[i].n;
            s->recs[i] = s->recs[--s->n_recs];
            return;
        }
}

void *cuda_alloc(void *state, size_t n)
{
    cuda_state *s = ST(state);
    if (s->capturing) {
        lre_backend_fail(s->env, LRE_ESTATE, "cuda: allocation during a graph capture");
        return NULL;
    }
    if (!recs_reserve(s)) return NULL;
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, n ? n : 1);
    if (e == cudaSuccess) e = cudaMemsetAsync(p, 0, n, s->stream);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        if (p) cudaFree(p);
        lre_backend_fail(s->env, LRE_ENOMEM, "cuda: out of device memory for %zu bytes (%s)", n,
                         cudaGetErrorString(e));
        return NULL;
    }
    return recs_add(s, p, n);
}

void cuda_free(void *state, void *p)
{
    cuda_state *s = ST(state);
    if (!p) return;
    recs_remove(s, p);
    /* a block may still be in use by work on the stream */
    if (cudaStreamSynchronize(s->stream) != cudaSuccess || cudaFree(p) != cudaSuccess)
        (void)cudaGetLastError();
}


lre_status cuda_to_device(void *state, void *dst, const void *src, size_t n)
{
    cuda_state *s = ST(state);
    if (n) CU(s, cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, s->stream));
    return LRE_OK;
}

lre_status cuda_to_host(void *state, void *dst, const void *src, size_t n)
{
    cuda_state *s = ST(state);
    if (!n) return LRE_OK;
    CU(s, cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, s->stream));
    CU(s, cudaStreamSynchronize(s->stream));
    return LRE_OK;
}

lre_status cuda_to_host_async(void *state, void *dst, const void *src, size_t n)
{
    cuda_state *s = ST(state);
    if (n) CU(s, cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, s->stream));
    return LRE_OK;
}

lre_status cuda_copy(void *state, void *dst, const void *src, size_t n)
{
    cuda_state *s = ST(state);
    if (n && dst != src) CU(s, cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, s->stream));
    return LRE_OK;
}

lre_status cuda_zero(void *state, void *p, size_t n)
{
    cuda_state *s = ST(state);
    if (n) CU(s, cudaMemsetAsync(p, 0, n, s->stream));
    return LRE_OK;
}

/* The reduction scratch, grown (once per new size) before any capture. */
lre_status need_partial(cuda_state *s, size_t n)
{
    if (n <= s->partial_n) return LRE_OK;
    if (s->capturing)
        return lre_backend_fail(s->env, LRE_ESTATE,
                                "cuda: a captured step needs more reduction scratch than its "
                                "eager run did (internal error)");
    /* at least the most blocks a grid-stride reduction uses, and doubling,
     * so that a growing batch retires few buffers */
    size_t want = s->partial_n ? 2 * s->partial_n : 4096;
    while (want < n) want *= 2;
    n = want;
    if (s->partial) {
        if (s->n_retired == (int)(sizeof s->retired / sizeof s->retired[0]))
            return lre_backend_fail(s->env, LRE_ENOMEM, "cuda: reduction scratch grew too often");
        s->retired[s->n_retired++] = s->partial;
        s->partial = NULL;
        s->partial_n = 0;
    }
    CU(s, cudaMalloc(&s->partial, n * sizeof(double)));
    s->partial_n = n;
    return LRE_OK;
}

/* -------------------------------------------------------------- gemm */

/* c (M,N) = beta·c, row stride ldc (K = 0; beta = 0 writes zeros, NaN or not) */
__global__ void gemm_k0(float *c, int64_t M, int64_t N, int64_t ldc, float beta)
{
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < M * N;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = e / N, j = e % N;
        c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    }
}

/* Row-major c = op(a)·op(b) is column-major c^T = op(b)^T·op(a)^T: cuBLAS
 * gets the operands swapped, with the row strides as leading dimensions
 * (backend/gemm_map.h, checked on the CPU by test_cuda_cpu_side). */
lre_status cuda_gemm(void *state, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                     float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                     float beta, float *c, int64_t ldc)
{
    cuda_state *s = ST(state);
    if (M == 0 || N == 0) return LRE_OK;
    if (K == 0) {
        gemm_k0<<<blocks_for(M * N), THREADS, 0, s->stream>>>(c, M, N, ldc, beta);
        LAUNCHED(s, "gemm_k0");
        return LRE_OK;
    }
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX || lda > INT_MAX || ldb > INT_MAX ||
        ldc > INT_MAX)
        return lre_backend_fail(s->env, LRE_EINVAL,
                                "gemm: dimensions exceed the cuBLAS integer range");
    const lre_colmajor_gemm g = lre_gemm_to_colmajor(trans_a, trans_b, M, N, K, lda, ldb, ldc);
    const cublasOperation_t op_first = g.trans_first ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_second = g.trans_second ? CUBLAS_OP_T : CUBLAS_OP_N;
    const float *first = g.first_is_b ? b : a, *second = g.first_is_b ? a : b;
    if (s->precision == LRE_PRECISION_BF16) {
        /* fp32 in and out, products on bfloat16 tensor cores, fp32 sums */
        CB(s, BLAS.gemm_ex(s->blas, op_first, op_second, (int)g.m, (int)g.n, (int)g.k, &alpha,
                           first, CUDA_R_32F, (int)g.ld_first, second, CUDA_R_32F,
                           (int)g.ld_second, &beta, c, CUDA_R_32F, (int)g.ldc,
                           CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT));
    } else {
        /* fp32 or tf32: the handle's math mode (cuda_set_precision) decides */
        CB(s, BLAS.sgemm(s->blas, op_first, op_second, (int)g.m, (int)g.n, (int)g.k, &alpha,
                          first, (int)g.ld_first, second, (int)g.ld_second, &beta, c,
                          (int)g.ldc));
    }
    return LRE_OK;
}

/* The compute type of the gemm calls that follow. fp32: cublasSgemm under
 * CUBLAS_PEDANTIC_MATH (no TF32); tf32: cublasSgemm under
 * CUBLAS_TF32_TENSOR_OP_MATH; bf16: cublasGemmEx with fp32 operands and
 * CUBLAS_COMPUTE_32F_FAST_16BF (an explicit compute type, which the math
 * mode does not override; the handle stays pedantic for anything else).
 * TF32 and BF16 tensor cores need compute capability 8.0 (Ampere) or
 * later: on an older GPU both run fp32. Host-side state only. */
lre_status cuda_set_precision(void *state, lre_precision want, lre_precision *got)
{
    cuda_state *s = ST(state);
    lre_precision p = want;
    if ((unsigned)p >= LRE_PRECISION_COUNT)
        return lre_backend_fail(s->env, LRE_EINVAL, "cuda: unknown precision %d", (int)want);
    if (p != LRE_PRECISION_FP32 && s->cc_major < 8) p = LRE_PRECISION_FP32;
    CB(s, BLAS.set_math_mode(s->blas, p == LRE_PRECISION_TF32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                              : CUBLAS_PEDANTIC_MATH));
    s->precision = p;
    *got = p;
    return LRE_OK;
}

/* ---------------------------------------------------------------- bias */

/* y (rows,cols) += bias (cols) */
__global__ void bias_add_forward_kernel(float *y, const float *bias, int64_t rows, int64_t cols)
{
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < rows * cols;
         e += (int64_t)gridDim.x * blockDim.x)
        y[e] += bias[e % cols];
}

/* db (cols) (+)= Σ_rows dy (rows,cols): one thread a column, rows in order
 * (the CPU's order), coalesced across the threads of a warp */
__global__ void bias_add_backward_kernel(float *db, const float *dy, int64_t rows, int64_t cols,
                                         int accumulate)
{
    for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < cols;
         j += (int64_t)gridDim.x * blockDim.x) {
        float acc = accumulate ? db[j] : 0.0f;
        for (int64_t i = 0; i < rows; i++) acc += dy[i * cols + j];
        db[j] = acc;
    }
}

lre_status cuda_bias_add_forward(void *state, float *y, const float *bias, int64_t rows,
                                 int64_t cols)
{
    cuda_state *s = ST(state);
    if (rows * cols == 0) return LRE_OK;
    bias_add_forward_kernel<<<blocks_for(rows * cols), THREADS, 0, s->stream>>>(y, bias, rows,
                                                                                cols);
    LAUNCHED(s, "bias_add_forward");
    return LRE_OK;
}

lre_status cuda_bias_add_backward(void *state, float *db, const float *dy, int64_t rows,
                                  int64_t cols, int accumulate)
{
    cuda_state *s = ST(state);
    if (cols == 0) return LRE_OK;
    bias_add_backward_kernel<<<blocks_for(cols), THREADS, 0, s->stream>>>(db, dy, rows, cols,
                                                                          accumulate);
    LAUNCHED(s, "bias_add_backward");
    return LRE_OK;
}

/* --------------------------------------------------------- convolution */

/* col (C·KH·KW, OH·OW) = the patches of x (C,H,W): one thread an entry */
__global__ void im2col_kernel(float *col, const float *x, lre_conv_geom g)
{
    const int64_t P = g.OH * g.OW, n = g.C * g.KH * g.KW * P;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t p = e % P, r = e / P;
        int64_t kw = r % g.KW, kh = (r / g.KW) % g.KH, c = r / (g.KW * g.KH);
        int64_t h = (p / g.OW) * g.SH - g.PH + kh * g.DH;
        int64_t w = (p % g.OW) * g.SW - g.PW + kw * g.DW;
        col[e] = h >= 0 && h < g.H && w >= 0 && w < g.W ? x[(c * g.H + h) * g.W + w] : 0.0f;
    }
}

/* dx (C,H,W) (+)= col folded back: one thread a pixel, the CPU's order */
__global__ void col2im_kernel(float *dx, const float *col, lre_conv_geom g, int accumulate)
{
    const int64_t P = g.OH * g.OW, n = g.C * g.H * g.W;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t w = e % g.W, h = (e / g.W) % g.H, c = e / (g.W * g.H);
        dx[e] = lre_col2im_pixel(col, &g, P, c, h, w, accumulate ? dx[e] : 0.0f);
    }
}

__global__ void bias_rows_forward_kernel(float *y, const float *bias, int64_t rows, int64_t cols)
{
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < rows * cols;
         e += (int64_t)gridDim.x * blockDim.x)
        y[e] += bias[e / cols];
}

/* db (rows) (+)= each row's sum: one thread a row, in order (the CPU's) */
__global__ void bias_rows_backward_kernel(float *db, const float *dy, int64_t rows, int64_t cols,
                                          int accumulate)
{
    for (int64_t r = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; r < rows;
         r += (int64_t)gridDim.x * blockDim.x) {
        float acc = accumulate ? db[r] : 0.0f;
        for (int64_t c = 0; c < cols; c++) acc += dy[r * cols + c];
        db[r] = acc;
    }
}

lre_status cuda_im2col(void *state, float *col, const float *x, const lre_conv_geom *g)
{
    cuda_state *s = ST(state);
    int64_t n = g->C * g->KH * g->KW * g->OH * g->OW;
    if (n == 0) return LRE_OK;
    im2col_kernel<<<blocks_for(n), THREADS, 0, s->stream>>>(col, x, *g);
    LAUNCHED(s, "im2col");
    return LRE_OK;
}

lre_status cuda_col2im(void *state, float *dx, const float *col, const lre_conv_geom *g,
                       int accumulate)
{
    cuda_state *s = ST(state);
    int64_t n = g->C * g->H * g->W;
    if (n == 0) return LRE_OK;
    col2im_kernel<<<blocks_for(n), THREADS, 0, s->stream>>>(dx, col, *g, accumulate);
    LAUNCHED(s, "col2im");
    return LRE_OK;
}

lre_status cuda_bias_rows_forward(void *state, float *y, const float *bias, int64_t rows,
                                  int64_t cols)
{
    cuda_state *s = ST(state);
    if (rows * cols == 0) return LRE_OK;
    bias_rows_forward_kernel<<<blocks_for(rows * cols), THREADS, 0, s->stream>>>(y, bias, rows,
                                                                                 cols);
    LAUNCHED(s, "bias_rows_forward");
    return LRE_OK;
}

lre_status cuda_bias_rows_backward(void *state, float *db, const float *dy, int64_t rows,
                                   int64_t cols, int accumulate)
{
    cuda_state *s = ST(state);
    if (rows == 0) return LRE_OK;
    bias_rows_backward_kernel<<<blocks_for(rows), THREADS, 0, s->stream>>>(db, dy, rows, cols,
                                                                           accumulate);
    LAUNCHED(s, "bias_rows_backward");
    return LRE_OK;
}

/* ------------------------------------------------------------- pooling */

__global__ void max_pool_forward_kernel(float *y, int32_t *idx, const float *x, lre_conv_geom g)
{
    const int64_t P = g.OH * g.OW, n = g.C * P;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t c = e / P, p = e % P;
        y[e] = lre_max_pool1(x + c * g.H * g.W, &g, p / g.OW, p % g.OW, &idx[e]);
    }
}

__global__ void max_pool_backward_kernel(float *dx, const float *dy, const int32_t *idx,
                                         lre_conv_geom g)
{
    const int64_t P = g.OH * g.OW, HW = g.H * g.W, n = g.C * HW;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t c = e / HW, i = e % HW;
        dx[e] = lre_max_pool_back1(dy + c * P, idx + c * P, &g, i / g.W, i % g.W);
    }
}

__global__ void avg_pool_forward_kernel(float *y, const float *x, lre_conv_geom g, int inc)
{
    const int64_t P = g.OH * g.OW, n = g.C * P;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t c = e / P, p = e % P;
        y[e] = lre_avg_pool1(x + c * g.H * g.W, &g, p / g.OW, p % g.OW, inc);
    }
}

__global__ void avg_pool_backward_kernel(float *dx, const float *dy, lre_conv_geom g, int inc)
{
    const int64_t P = g.OH * g.OW, HW = g.H * g.W, n = g.C * HW;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t c = e / HW, i = e % HW;
        dx[e] = lre_avg_pool_back1(dy + c * P, &g, i / g.W, i % g.W, inc);
    }
}

__global__ void add_kernel(float *y, const float *a, const float *b, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = a[i] + b[i];
}

lre_status cuda_add(void *state, float *y, const float *a, const float *b, int64_t n)
{
    cuda_state *s = ST(state);
    if (n == 0) return LRE_OK;
    add_kernel<<<blocks_for(n), THREADS, 0, s->stream>>>(y, a, b, n);
    LAUNCHED(s, "add");
    return LRE_OK;
}

__global__ void dropout_kernel(float *y, float *mask, const float *x, int64_t n,
                               const uint64_t *rng, uint64_t salt, uint32_t threshold, float scale)
{
    const uint64_t key = rng[0] ^ salt, sr = rng[1];
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        const float m = lre_dropout_mask1(key, sr, (uint64_t)e, threshold, scale);
        mask[e] = m;
        y[e] = x[e] * m;
    }
}

lre_status cuda_dropout_forward(void *state, float *y, float *mask, const float *x, int64_t n,
                                const uint64_t *rng, uint64_t salt, uint32_t threshold,
                                float scale)
{
    cuda_state *s = ST(state);
    if (n == 0) return LRE_OK;
    dropout_kernel<<<blocks_for(n), THREADS, 0, s->stream>>>(y, mask, x, n, rng, salt,
                                                             threshold, scale);
    LAUNCHED(s, "dropout_forward");
    return LRE_OK;
}

__global__ void adaptive_avg_forward_kernel(float *y, const float *x, lre_conv_geom g)
{
    const int64_t P = g.OH * g.OW, n = g.C * P;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t c = e / P, p = e % P;
        y[e] = lre_adaptive_avg1(x + c * g.H * g.W, &g, p / g.OW, p % g.OW);
    }
}

__global__ void adaptive_avg_backward_kernel(float *dx, const float *dy, lre_conv_geom g)
{
    const int64_t P = g.OH * g.OW, HW = g.H * g.W, n = g.C * HW;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t c = e / HW, i = e % HW;
        dx[e] = lre_adaptive_avg_back1(dy + c * P, &g, i / g.W, i % g.W);
    }
}

lre_status cuda_adaptive_avg_pool_forward(void *state, float *y, const float *x,
                                          const lre_conv_geom *g)
{
    cuda_state *s = ST(state);
    int64_t n = g->C * g->OH * g->OW;
    if (n == 0) return LRE_OK;
    adaptive_avg_forward_kernel<<<blocks_for(n), THREADS, 0, s->stream>>>(y, x, *g);
    LAUNCHED(s, "adaptive_avg_pool_forward");
    return LRE_OK;
}

lre_status cuda_adaptive_avg_pool_backward(void *state, float *dx, const float *dy,
                                           const lre_conv_geom *g)
{
    cuda_state *s = ST(state);
    int64_t n = g->C * g->H * g->W;
    if (n == 0) return LRE_OK;
    adaptive_avg_backward_kernel<<<blocks_for(n), THREADS, 0, s->stream>>>(dx, dy, *g);
    LAUNCHED(s, "adaptive_avg_pool_backward");
    return LRE_OK;
}

lre_status cuda_max_pool_forward(void *state, float *y, int32_t *idx, const float *x,
                                 const lre_conv_geom *g)
{
    cuda_state *s = ST(state);
    int64_t n = g->C * g->OH * g->OW;
    if (n == 0) return LRE_OK;
    max_pool_forward_kernel<<<blocks_for(n), THREADS, 0, s->stream>>>(y, idx, x, *g);
    LAUNCHED(s, "max_pool_forward");
    return LRE_OK;
}

lre_status cuda_max_pool_backward(void *state, float *dx, const float *dy, const int32_t *idx,
                                  const lre_conv_geom *g)
{
    cuda_state *s = ST(state);
    int64_t n = g->C * g->H * g->W;
    if (n == 0) return LRE_OK;
    max_pool_backward_kernel<<<blocks_for(n), THREADS, 0, s->stream>>>(dx, dy, idx, *g);
    LAUNCHED(s, "max_pool_backward");
    return LRE_OK;
}

lre_status cuda_avg_pool_forward(void *state, float *y, const float *x, const lre_conv_geom *g,
                                 int count_include_pad)
{
    cuda_state *s = ST(state);
    int64_t n = g->C * g->OH * g->OW;
    if (n == 0) return LRE_OK;
    avg_pool_forward_kernel<<<blocks_for(n), THREADS, 0, s->stream>>>(y, x, *g,
                                                                      count_include_pad);
    LAUNCHED(s, "avg_pool_forward");
    return LRE_OK;
}

lre_status cuda_avg_pool_backward(void *state, float *dx, const float *dy,
                                  const lre_conv_geom *g, int count_include_pad)
{
    cuda_state *s = ST(state);
    int64_t n = g->C * g->H * g->W;
    if (n == 0) return LRE_OK;
    avg_pool_backward_kernel<<<blocks_for(n), THREADS, 0, s->stream>>>(dx, dy, *g,
                                                                       count_include_pad);
    LAUNCHED(s, "avg_pool_backward");
    return LRE_OK;
}

/* --------------------------------------------------------- activations */

/* y (n) = f(x (n)) */
__global__ void act_forward_kernel(lre_act a, float param, float *y, const float *x, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = lre_act_fwd1(a, param, x[i]);
}

/* dx (n) = f'(x) ⊙ dy */
__global__ void act_backward_kernel(lre_act a, float param, float *dx, const float *dy,
                                    const float *x, const float *y, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        dx[i] = lre_act_bwd1(a, param, x[i], y[i], dy[i]);
}

lre_status cuda_act_forward(void *state, lre_act a, float param, float *y, const float *x,
                            int64_t n)
{
    cuda_state *s = ST(state);
    if (n == 0) return LRE_OK;
    act_forward_kernel<<<blocks_for(n), THREADS, 0, s->stream>>>(a, param, y, x, n);
    LAUNCHED(s, "act_forward");
    return LRE_OK;
}

lre_status cuda_act_backward(void *state, lre_act a, float param, float *dx, const float *dy,
                             const float *x, const float *y, int64_t n)
{
    cuda_state *s = ST(state);
    if (n == 0) return LRE_OK;
    act_backward_kernel<<<blocks_for(n), THREADS, 0, s->stream>>>(a, param, dx, dy, x, y, n);
    LAUNCHED(s, "act_backward");
    return LRE_OK;
}

/* ---------------------------------------------------------- reductions */

const int RED = 256; /* threads of a reducing block (a power of two) */

/* The block's sum of v (every thread passes one value), in a fixed tree
 * order; returned to every thread (read after a barrier: the norms'
 * kernels use it in all their threads). sh: RED doubles of shared memory. */
__device__ double block_sum(double v, double *sh)
{
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int k = RED / 2; k > 0; k >>= 1) {
        if ((int)threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

__device__ double block_max(double v, double *sh)
{
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int k = RED / 2; k > 0; k >>= 1) {
        if ((int)threadIdx.x < k) sh[threadIdx.x] = fmax(sh[threadIdx.x], sh[threadIdx.x + k]);
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

/* out (1 float) = Σ part[0..n) / div, one block, fixed order */
__global__ void finish_sum(float *out, const double *part, int64_t n, double div)
{
    __shared__ double sh[RED];
    double acc = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += RED) acc += part[i];
    double t = block_sum(acc, sh);
    if (threadIdx.x == 0) *out = (float)(t / div);
}

/* ---------------------------------------------------------- batch norm
 * Training: a block per channel (RED threads striding over its B·S values,
 * sums in double combined by block_sum's fixed tree), so the statistics
 * and the backward's sums are the C loops' to rounding, not the same bits.
 * Evaluation: a thread per channel reads the running statistics. y: a
 * thread per value. */

/* value i of channel c's B·S values */
__device__ inline int64_t bn_at(int64_t i, int64_t c, int64_t C, int64_t S)
{
    return (i / S * C + c) * S + i % S;
}

__global__ void batch_norm_stats_kernel(float *mean, float *rstd, float *run_mean,
                                        float *run_var, const float *x, int64_t B, int64_t C,
                                        int64_t S, float eps, float momentum)
{
    __shared__ double sh[RED];
    const int64_t c = blockIdx.x, n = B * S;
    double acc = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += RED) acc += x[bn_at(i, c, C, S)];
    const double m = block_sum(acc, sh) / (double)n;
    acc = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += RED) {
        const double d = (double)x[bn_at(i, c, C, S)] - m;
        acc += d * d;
    }
    const double q = block_sum(acc, sh);
    if (threadIdx.x != 0) return;
    const double var = q / (double)n;
    mean[c] = (float)m;
    rstd[c] = (float)(1.0 / sqrt(var + (double)eps));
    if (run_mean) {
        const double unbiased = n > 1 ? q / (double)(n - 1) : var;
        run_mean[c] = (1.0f - momentum) * run_mean[c] + momentum * (float)m;
        run_var[c] = (1.0f - momentum) * run_var[c] + momentum * (float)unbiased;
    }
}

__global__ void batch_norm_eval_stats_kernel(float *mean, float *rstd, float *run_mean,
                                             float *run_var, const float *x, int64_t B,
                                             int64_t C, int64_t S, float eps)
{
    for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < C;
         c += (int64_t)gridDim.x * blockDim.x)
        lre_batch_norm_stats1(mean, rstd, run_mean, run_var, x, B, C, S, c, eps, 0.0f, 0);
}

__global__ void batch_norm_apply_kernel(float *y, const float *x, const float *mean,
                                        const float *rstd, const float *w, const float *b,
                                        int64_t n, int64_t C, int64_t S)
{
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x)
        y[e] = lre_batch_norm1(x[e], (e / S) % C, mean, rstd, w, b);
}

/* lre_batch_norm_back1's formulas, a block per channel */
__global__ void batch_norm_backward_kernel(float *dx, float *dw, float *db, const float *dy,
                                           const float *x, const float *mean,
                                           const float *rstd, const float *w, int64_t B,
                                           int64_t C, int64_t S, int accumulate)
{
    __shared__ double sh[RED];
    const int64_t c = blockIdx.x, n = B * S;
    const float m = mean[c], r = rstd[c], wc = w ? w[c] : 1.0f;
    double a1 = 0.0, a2 = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += RED) {
        const int64_t e = bn_at(i, c, C, S);
        a1 += dy[e];
        a2 += (double)dy[e] * ((x[e] - m) * r);
    }
    const double sdy = block_sum(a1, sh), sdyx = block_sum(a2, sh);
    if (dw && threadIdx.x == 0) {
        dw[c] = (accumulate ? dw[c] : 0.0f) + (float)sdyx;
        db[c] = (accumulate ? db[c] : 0.0f) + (float)sdy;
    }
    if (!dx) return;
    const float mg = (float)(wc * sdy / (double)n), mgx = (float)(wc * sdyx / (double)n);
    for (int64_t i = threadIdx.x; i < n; i += RED) {
        const int64_t e = bn_at(i, c, C, S);
        dx[e] = r * (dy[e] * wc - mg - ((x[e] - m) * r) * mgx);
    }
}

lre_status cuda_batch_norm_forward(void *state, float *y, float *mean, float *rstd,
                                   float *run_mean, float *run_var, const float *x,
                                   const float *w, const float *b, int64_t B, int64_t C,
                                   int64_t S, float eps, float momentum, int training)
{
    cuda_state *s = ST(state);
    if (C == 0) return LRE_OK;
    if (training && C > INT_MAX)
        return lre_backend_fail(s->env, LRE_EINVAL, "batch_norm: too many channels");
    if (training)
        batch_norm_stats_kernel<<<(unsigned)C, RED, 0, s->stream>>>(mean, rstd, run_mean, run_var,
                                                                   x, B, C, S, eps, momentum);
    else
        batch_norm_eval_stats_kernel<<<blocks_for(C), THREADS, 0, s->stream>>>(
            mean, rstd, run_mean, run_var, x, B, C, S, eps);
    LAUNCHED(s, "batch_norm_forward (statistics)");
    const int64_t n = B * C * S;
    if (n == 0) return LRE_OK;
    batch_norm_apply_kernel<<<blocks_for(n), THREADS, 0, s->stream>>>(y, x, mean, rstd, w, b, n,
                                                                      C, S);
    LAUNCHED(s, "batch_norm_forward");
    return LRE_OK;
}

lre_status cuda_batch_norm_backward(void *state, float *dx, float *dw, float *db,
                                    const float *dy, const float *x, const float *mean,
                                    const float *rstd, const float *w, int64_t B, int64_t C,
                                    int64_t S, int accumulate)
{
    cuda_state *s = ST(state);
    if (C == 0) return LRE_OK;
    if (C > INT_MAX) return lre_backend_fail(s->env, LRE_EINVAL, "batch_norm: too many channels");
    batch_norm_backward_kernel<<<(unsigned)C, RED, 0, s->stream>>>(dx, dw, db, dy, x, mean, rstd,
                                                                  w, B, C, S, accumulate);
    LAUNCHED(s, "batch_norm_backward");
    return LRE_OK;
}

/* ---------------------------------------------------------- layer norm
 * A block per group for the forward and dx (RED threads striding over its
 * n values, sums in double combined by block_sum); a thread per feature
 * for the affine gradients (adjacent threads read adjacent values),
 * running elementwise.h's loop in group order. */
__global__ void layer_norm_forward_kernel(float *y, float *mean, float *rstd, const float *x,
                                          const float *w, const float *b, int64_t n, float eps)
{
    __shared__ double sh[RED];
    const int64_t gi = blockIdx.x;
    const float *xg = x + gi * n;
    double acc = 0.0;
    for (int64_t j = threadIdx.x; j < n; j += RED) acc += xg[j];
    const double m = block_sum(acc, sh) / (double)n;
    acc = 0.0;
    for (int64_t j = threadIdx.x; j < n; j += RED) acc += ((double)xg[j] - m) * ((double)xg[j] - m);
    const double q = block_sum(acc, sh);
    const float mf = (float)m, r = (float)(1.0 / sqrt(q / (double)n + (double)eps));
    for (int64_t j = threadIdx.x; j < n; j += RED) {
        const float v = (xg[j] - mf) * r;
        y[gi * n + j] = w ? v * w[j] + b[j] : v;
    }
    if (threadIdx.x == 0) {
        mean[gi] = mf;
        rstd[gi] = r;
    }
}

/* lre_layer_norm_back1's formulas, a block per group */
__global__ void layer_norm_dx_kernel(float *dx, const float *dy, const float *x,
                                     const float *mean, const float *rstd, const float *w,
                                     int64_t n)
{
    __shared__ double sh[RED];
    const int64_t gi = blockIdx.x, o = gi * n;
    const float m = mean[gi], r = rstd[gi];
    double a1 = 0.0, a2 = 0.0;
    for (int64_t j = threadIdx.x; j < n; j += RED) {
        const float g = w ? dy[o + j] * w[j] : dy[o + j], xh = (x[o + j] - m) * r;
        a1 += g;
        a2 += (double)g * xh;
    }
    const float mg = (float)(block_sum(a1, sh) / (double)n);
    const float mgx = (float)(block_sum(a2, sh) / (double)n);
    for (int64_t j = threadIdx.x; j < n; j += RED) {
        const float g = w ? dy[o + j] * w[j] : dy[o + j], xh = (x[o + j] - m) * r;
        dx[o + j] = r * (g - mg - xh * mgx);
    }
}

__global__ void layer_norm_dparam_kernel(float *dw, float *db, const float *dy, const float *x,
                                         const float *mean, const float *rstd, int64_t groups,
                                         int64_t n, int accumulate)
{
    for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < n;
         j += (int64_t)gridDim.x * blockDim.x)
        lre_layer_norm_dparam1(dw, db, dy, x, mean, rstd, groups, n, j, accumulate);
}

lre_status cuda_layer_norm_forward(void *state, float *y, float *mean, float *rstd,
                                   const float *x, const float *w, const float *b,
                                   int64_t groups, int64_t n, float eps)
{
    cuda_state *s = ST(state);
    if (groups == 0) return LRE_OK;
    if (groups > INT_MAX) return lre_backend_fail(s->env, LRE_EINVAL, "layer_norm: too many groups");
    layer_norm_forward_kernel<<<(unsigned)groups, RED, 0, s->stream>>>(y, mean, rstd, x, w, b, n,
                                                                      eps);
    LAUNCHED(s, "layer_norm_forward");
    return LRE_OK;
}

lre_status cuda_layer_norm_backward(void *state, float *dx, float *dw, float *db,
                                    const float *dy, const float *x, const float *mean,
                                    const float *rstd, const float *w, int64_t groups, int64_t n,
                                    int accumulate)
{
    cuda_state *s = ST(state);
    if (groups > INT_MAX) return lre_backend_fail(s->env, LRE_EINVAL, "layer_norm: too many groups");
    if (dx && groups > 0) {
        layer_norm_dx_kernel<<<(unsigned)groups, RED, 0, s->stream>>>(dx, dy, x, mean, rstd, w, n);
        LAUNCHED(s, "layer_norm_backward (dx)");
    }
    if (dw && n > 0) {
        layer_norm_dparam_kernel<<<blocks_for(n), THREADS, 0, s->stream>>>(dw, db, dy, x, mean,
                                                                           rstd, groups, n,
                                                                           accumulate);
        LAUNCHED(s, "layer_norm_backward (dw, db)");
    }
    return LRE_OK;
}

/* ------------------------------------------------------- cross-entropy */

/* One block a row of logits z (B,C): m = max, lse = m + log Σ exp(z - m)
 * (double), the row's loss into part[row] and, with dz, its gradient.
 * A label outside [0,C) gives a NaN loss and a zero gradient row. */
__global__ void cross_entropy_rows(double *part, float *dz, const float *logits,
                                   const int32_t *labels, int64_t C, double on, double off,
                                   double gs)
{
    __shared__ double sh[RED];
    const int64_t row = blockIdx.x;
    const float *z = logits + row * C;
    /* the label's logit, read before any thread writes the gradient (dz may
     * be logits itself; block_sum's barriers order this read first) */
    const int32_t y = labels[row];
    const int ok = y >= 0 && y < C;
    const double zy = ok ? (double)z[y] : 0.0;
    double m = -INFINITY;
    for (int64_t c = threadIdx.x; c < C; c += RED) m = fmax(m, (double)z[c]);
    m = block_max(m, sh);
    double se = 0.0, sz = 0.0;
    for (int64_t c = threadIdx.x; c < C; c += RED) {
        se += exp((double)z[c] - m);
        sz += z[c];
    }
    se = block_sum(se, sh);
    sz = block_sum(sz, sh);
    const double lse = m + log(se);
    if (threadIdx.x == 0) part[row] = ok ? lre_ce_row_loss(lse, zy, sz, on, off, C) : NAN;
    if (dz)
        for (int64_t c = threadIdx.x; c < C; c += RED)
            dz[row * C + c] = ok ? lre_ce_grad1(z[c], lse, c == y, on, off, gs) : 0.0f;
}

lre_status cuda_cross_entropy(void *state, float *loss, float *dlogits, const float *logits,
                              const int32_t *labels, int64_t B, int64_t C, float smoothing,
                              float grad_scale)
{
    cuda_state *s = ST(state);
    if (B == 0) {
        CU(s, cudaMemsetAsync(loss, 0, sizeof *loss, s->stream));
        return LRE_OK;
    }
    if (B > INT_MAX) return lre_backend_fail(s->env, LRE_EINVAL, "cross_entropy: too many rows");
    lre_status st = need_partial(s, (size_t)B);
    if (st) return st;
    const double eps = smoothing, on = 1.0 - eps, off = eps / (double)C;
    const double gs = (double)grad_scale / (double)B;
    cross_entropy_rows<<<(unsigned)B, RED, 0, s->stream>>>(s->partial, dlogits, logits, labels, C,
                                                          on, off, gs);
    LAUNCHED(s, "cross_entropy_rows");
    finish_sum<<<1, RED, 0, s->stream>>>(loss, s->partial, B, (double)B);
    LAUNCHED(s, "finish_sum");
    return LRE_OK;
}

/* ----------------------------------------------------------------- mse */

/* Block b sums (p - t)² over its grid-stride share into part[b]; dpred =
 * 2(p - t)·gs. */
__global__ void mse_blocks(double *part, float *dpred, const float *pred, const float *target,
                           int64_t n, double gs)
{
    __shared__ double sh[RED];
    double acc = 0.0;
    for (int64_t i = blockIdx.x * (int64_t)RED + threadIdx.x; i < n; i += (int64_t)gridDim.x * RED) {
        double d = (double)pred[i] - (double)target[i];
        acc += d * d;
        if (dpred) dpred[i] = (float)(d * gs);
    }
    double t = block_sum(acc, sh);
    if (threadIdx.x == 0) part[blockIdx.x] = t;
}

lre_status cuda_mse(void *state, float *loss, float *dpred, const float *pred, const float *target,
                    int64_t n, float grad_scale)
{
    cuda_state *s = ST(state);
    if (n == 0) {
        CU(s, cudaMemsetAsync(loss, 0, sizeof *loss, s->stream));
        return LRE_OK;
    }
    unsigned nb = blocks_for(n);
    lre_status st = need_partial(s, nb);
    if (st) return st;
    mse_blocks<<<nb, RED, 0, s->stream>>>(s->partial, dpred, pred, target, n,
                                          2.0 * (double)grad_scale / (double)n);
    LAUNCHED(s, "mse_blocks");
    finish_sum<<<1, RED, 0, s->stream>>>(loss, s->partial, nb, (double)n);
    LAUNCHED(s, "finish_sum");
    return LRE_OK;
}

/* ------------------------------------------------------- count_correct */

/* One thread a row: is the first maximal logit at the label? Counts per
 * block in part (as doubles: exact below 2^53), summed by finish_count. */
__global__ void count_rows(double *part, const float *logits, const int32_t *labels, int64_t B,
                           int64_t C)
{
    __shared__ double sh[RED];
    double hit = 0.0;
    for (int64_t i = blockIdx.x * (int64_t)RED + threadIdx.x; i < B; i += (int64_t)gridDim.x * RED) {
        const float *z = logits + i * C;
        int64_t best = 0;
        for (int64_t c = 1; c < C; c++)
            if (z[c] > z[best]) best = c;
        hit += best == labels[i] ? 1.0 : 0.0;
    }
    double t = block_sum(hit, sh);
    if (threadIdx.x == 0) part[blockIdx.x] = t;
}

__global__ void finish_count(int64_t *out, const double *part, int64_t n)
{
    __shared__ double sh[RED];
    double acc = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += RED) acc += part[i];
    double t = block_sum(acc, sh);
    if (threadIdx.x == 0) *out = (int64_t)t;
}

lre_status cuda_count_correct(void *state, int64_t *correct, const float *logits,
                              const int32_t *labels, int64_t B, int64_t C)
{
    cuda_state *s = ST(state);
    if (B == 0) {
        CU(s, cudaMemsetAsync(correct, 0, sizeof *correct, s->stream));
        return LRE_OK;
    }
    unsigned nb = blocks_for(B);
    lre_status st = need_partial(s, nb);
    if (st) return st;
    count_rows<<<nb, RED, 0, s->stream>>>(s->partial, logits, labels, B, C);
    LAUNCHED(s, "count_rows");
    finish_count<<<1, RED, 0, s->stream>>>(correct, s->partial, nb);
    LAUNCHED(s, "finish_count");
    return LRE_OK;
}

/* -------------------------------------------------------------- gather */

/* x (n, F) = transform(rows idx[0..n) of src): one thread an element, the
 * u8 → f32 conversion and the affine map done here, as the CPU does them */
__global__ void gather_x(float *x, lre_gather_src src, const int64_t *idx, int64_t first,
                         int64_t n)
{
    const int64_t F = src.features;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n * F;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = e / F, c = e % F;
        int64_t k = idx ? idx[i] : first + i;
        int64_t row = src.index ? src.index[k] : k;
        float v = src.dtype == LRE_U8 ? (float)((const uint8_t *)src.x)[row * F + c]
                                      : ((const float *)src.x)[row * F + c];
        /* the CPU's v·a + b, rounded twice as there (no FMA) */
        if (src.mul) v = __fadd_rn(__fmul_rn(v, src.mul[c]), src.add[c]);
        else if (!src.identity) v = __fadd_rn(__fmul_rn(v, src.scale), src.shift);
        x[e] = v;
    }
}

/* y (n) labels, t (n, target_dim) targets of the same rows */
__global__ void gather_yt(int32_t *y, float *t, lre_gather_src src, const int64_t *idx,
                          int64_t first, int64_t n)
{
    const int64_t D = src.target_dim;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n * (D > 0 ? D : 1);
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = D > 0 ? e / D : e;
        int64_t k = idx ? idx[i] : first + i;
        int64_t row = src.index ? src.index[k] : k;
        if (y && src.labels && (D == 0 || e % D == 0)) y[i] = src.labels[row];
        if (t && src.targets) t[e] = src.targets[row * D + e % D];
    }
}

lre_status cuda_gather(void *state, const lre_gather_src *src, const int64_t *idx, int64_t first,
                       int64_t n, float *x, int32_t *y, float *t)
{
    cuda_state *s = ST(state);
    if (n == 0) return LRE_OK;
    if (x && src->features > 0) {
        gather_x<<<blocks_for(n * src->features), THREADS, 0, s->stream>>>(x, *src, idx, first, n);
        LAUNCHED(s, "gather_x");
    }
    if ((y && src->labels) || (t && src->targets)) {
        int64_t m = n * (src->target_dim > 0 ? src->target_dim : 1);
        gather_yt<<<blocks_for(m), THREADS, 0, s->stream>>>(src->labels ? y : NULL,
                                                            src->targets ? t : NULL, *src, idx,
                                                            first, n);
        LAUNCHED(s, "gather_yt");
    }
    return LRE_OK;
}

/* ---------------------------------------------------------- optimizers */

/* p, g, buf (n): torch.optim.SGD, scalars read from device memory */
__global__ void sgd_update_kernel(float *p, const float *g, float *buf, int64_t n,
                                  const lre_optim_scalars *sc)
{
    const lre_optim_scalars s = *sc;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        lre_sgd1(&p[i], g[i], buf ? &buf[i] : NULL, s.lr, buf ? s.momentum : 0.0f, s.keep,
                 s.nesterov, s.weight_decay, s.first_step);
}

/* p, g, m, v (n): torch.optim.Adam/AdamW */
__global__ void adam_update_kernel(float *p, const float *g, float *m, float *v, int64_t n,
                                   const lre_optim_scalars *sc)
{
    const lre_optim_scalars s = *sc;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        lre_adam1(&p[i], g[i], &m[i], &v[i], s.step_size, s.bc2_sqrt, s.w1, s.beta2, s.w2, s.eps,
                  s.decay, s.l2);
}

lre_status cuda_sgd_update(void *state, float *p, const float *g, float *buf, int64_t n,
                           const lre_optim_scalars *sc)
{
    cuda_state *s = ST(state);
    if (n == 0) return LRE_OK;
    sgd_update_kernel<<<blocks_for(n), THREADS, 0, s->stream>>>(p, g, buf, n, sc);
    LAUNCHED(s, "sgd_update");
    return LRE_OK;
}

lre_status cuda_adam_update(void *state, float *p, const float *g, float *m, float *v, int64_t n,
                            const lre_optim_scalars *sc)
{
    cuda_state *s = ST(state);
    if (n == 0) return LRE_OK;
    adam_update_kernel<<<blocks_for(n), THREADS, 0, s->stream>>>(p, g, m, v, n, sc);
    LAUNCHED(s, "adam_update");
    return LRE_OK;
}

/* ------------------------------------------------------- pinned host */


void *cuda_host_alloc(void *state, size_t n)
{
    cuda_state *s = ST(state);
    if (s->capturing) {
        lre_backend_fail(s->env, LRE_ESTATE, "cuda: allocation during a graph capture");
        return NULL;
    }
    if (!recs_reserve(s)) return NULL;
    void *p = NULL;
    cudaError_t e = cudaHostAlloc(&p, n ? n : 1, cudaHostAllocDefault);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        lre_backend_fail(s->env, LRE_ENOMEM, "cuda: out of pinned host memory for %zu bytes (%s)",
                         n, cudaGetErrorString(e));
        return NULL;
    }
    memset(p, 0, n);
    return recs_add(s, p, n);
}

void cuda_host_free(void *state, void *p)
{
    cuda_state *s = ST(state);
    if (!p) return;
    recs_remove(s, p);
    /* a copy may still read it */
    if (cudaStreamSynchronize(s->stream) != cudaSuccess || cudaFreeHost(p) != cudaSuccess)
        (void)cudaGetLastError();
}

/* ------------------------------------------------------------- graphs */

lre_status cuda_capture_begin(void *state)
{
    cuda_state *s = ST(state);
    CU(s, cudaStreamBeginCapture(s->stream, cudaStreamCaptureModeThreadLocal));
    s->capturing = 1;
    return LRE_OK;
}

lre_status cuda_capture_end(void *state, void **graph)
{
    cuda_state *s = ST(state);
    *graph = NULL;
    cudaGraph_t g = NULL;
    s->capturing = 0;
    CU(s, cudaStreamEndCapture(s->stream, &g));
    cudaGraphExec_t exec = NULL;
    cudaError_t e = cudaGraphInstantiate(&exec, g, 0);
    cudaGraphDestroy(g);
    if (e != cudaSuccess) return cuda_fail(s, e, "cudaGraphInstantiate", __FILE__, __LINE__);
    *graph = exec;
    return LRE_OK;
}

lre_status cuda_graph_launch(void *state, void *graph)
{
    cuda_state *s = ST(state);
    CU(s, cudaGraphLaunch(static_cast<cudaGraphExec_t>(graph), s->stream));
    return LRE_OK;
}

void cuda_graph_destroy(void *state, void *graph)
{
    (void)state;
    if (graph) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(graph));
}

lre_backend make_table()
{
    lre_backend b;
    memset(&b, 0, sizeof b);
    b.name = "cuda";
    b.device = LRE_DEVICE_CUDA;
    b.is_host = 0;
    b.init = cuda_init;
    b.shutdown = cuda_shutdown;
    b.synchronize = cuda_synchronize;
    b.stream = cuda_stream;
    b.host_alloc = cuda_host_alloc;
    b.host_free = cuda_host_free;
    b.capture_begin = cuda_capture_begin;
    b.capture_end = cuda_capture_end;
    b.graph_launch = cuda_graph_launch;
    b.graph_destroy = cuda_graph_destroy;
    b.alloc = cuda_alloc;
    b.free = cuda_free;
    b.to_device = cuda_to_device;
    b.to_host = cuda_to_host;
    b.to_host_async = cuda_to_host_async;
    b.copy = cuda_copy;
    b.zero = cuda_zero;
    b.gemm = cuda_gemm;
    b.set_precision = cuda_set_precision;
    b.bias_add_forward = cuda_bias_add_forward;
    b.bias_add_backward = cuda_bias_add_backward;
    b.im2col = cuda_im2col;
    b.col2im = cuda_col2im;
    b.bias_rows_forward = cuda_bias_rows_forward;
    b.bias_rows_backward = cuda_bias_rows_backward;
    b.max_pool_forward = cuda_max_pool_forward;
    b.max_pool_backward = cuda_max_pool_backward;
    b.avg_pool_forward = cuda_avg_pool_forward;
    b.avg_pool_backward = cuda_avg_pool_backward;
    b.dropout_forward = cuda_dropout_forward;
    b.add = cuda_add;
    b.batch_norm_forward = cuda_batch_norm_forward;
    b.batch_norm_backward = cuda_batch_norm_backward;
    b.layer_norm_forward = cuda_layer_norm_forward;
    b.layer_norm_backward = cuda_layer_norm_backward;
    b.adaptive_avg_pool_forward = cuda_adaptive_avg_pool_forward;
    b.adaptive_avg_pool_backward = cuda_adaptive_avg_pool_backward;
    b.act_forward = cuda_act_forward;
    b.act_backward = cuda_act_backward;
    b.cross_entropy = cuda_cross_entropy;
    b.mse = cuda_mse;
    b.count_correct = cuda_count_correct;
    b.gather = cuda_gather;
    b.sgd_update = cuda_sgd_update;
    b.adam_update = cuda_adam_update;
    return b;
}

} // namespace

extern "C" const lre_backend lre_backend_cuda = make_table();

/* Opens cuBLAS as the first CUDA context would: 1 when every entry point
 * the backend calls is there, else 0 with the reason in err. Needs no GPU
 * (spec/c/test_cuda_cpu_side.c checks the build's rpath and symbols). */
extern "C" int lre_cuda_blas_available(char *err, size_t n)
{
    pthread_once(&blas_once, blas_load);
    if (!BLAS.create && err && n) snprintf(err, n, "%s", blas_error);
    return BLAS.create != NULL;
}
