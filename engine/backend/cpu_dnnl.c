/*
 * cpu_dnnl.c — oneDNN's matmul as the CPU backend's GEMM provider
 * (cpu_dnnl.h). Row-major operands with row strides map onto oneDNN
 * memory descriptors by strides: a (M,K) is {lda, 1}, its transpose stored
 * (K,M) is {1, lda}; likewise b; c (M,N) is {ldc, 1}. alpha is an output
 * scale and beta a sum post-op, a bias (the linear layer's) the matmul's
 * own bias argument, a ReLU after it an eltwise post-op. For bf16 the operands are first rounded into staging
 * buffers of the same layout.
 */
#ifdef LRE_WITH_DNNL

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dnnl.h>

#include "backend/cpu_dnnl.h"

void omp_set_num_threads(int n); /* libgomp, oneDNN's runtime here */

typedef struct prim {
    int trans_a, trans_b, bf16, bias, relu;
    int64_t M, N, K, lda, ldb, ldc;
    float alpha, beta;
    dnnl_primitive_t p;
    dnnl_memory_t ma, mb, mc, ms;  /* user pointers set per call */
    dnnl_memory_t mbias;           /* the bias (1,N), when the key has one */
    void *scratch;                 /* the scratchpad, owned */
} prim;

/* A convolution primitive: forward (with its bias and a fused ReLU), the
 * backward of the data, or of the weights (and bias), for one batch size
 * and geometry; images NCHW, weights OIHW as the engine stores them. */
/* One tensor argument of a convolution: the caller's memory in the
 * engine's layout (NCHW images, OIHW weights; its pointer set per call)
 * and, where oneDNN's kernel wants another layout (nChw16c, ...), its own
 * buffer in that layout and the reorder between the two (before the
 * convolution for an input, after it for an output). */
typedef struct carg {
    int arg;                       /* DNNL_ARG_SRC, ... */
    int out;                       /* written by the convolution */
    dnnl_memory_t user, inner;     /* inner: NULL when the layouts agree */
    dnnl_primitive_t reorder;
    void *buf;                     /* inner's buffer, owned */
} carg;

/* A convolution primitive: forward (with its bias and a fused ReLU), the
 * backward of the data, or of the weights (and bias), for one batch size
 * and geometry. */
typedef struct cprim {
    int kind;                      /* LRE_DNNL_CONV_FWD, _BWD_DATA, _BWD_WEIGHTS */
    int64_t B, O;
    lre_conv_geom g;
    int bias, relu, bf16;          /* bf16: the inputs rounded to bf16 (fp32 sums) */
    dnnl_primitive_t p;
    carg a[3];                     /* src, weights, dst (or their diffs) */
    dnnl_memory_t mbias, ms;
    void *scratch;
    float *acc;                    /* backward weights: O·C·KH·KW + O, to accumulate */
} cprim;

static void cprim_free(cprim *q)
{
    dnnl_primitive_destroy(q->p);
    for (int i = 0; i < 3; i++) {
        dnnl_memory_destroy(q->a[i].user);
        dnnl_memory_destroy(q->a[i].inner);
        dnnl_primitive_destroy(q->a[i].reorder);
        free(q->a[i].buf);
    }
    dnnl_memory_destroy(q->mbias);
    dnnl_memory_destroy(q->ms);
    free(q->scratch);
    free(q->acc);
}

/* The provider's own memory (primitives, scratchpads, staging) lives as long
 * as the context: plain malloc, each counted in n_allocs (so "a warm step
 * allocates nothing" stays checkable) but not in bytes_live (which reports
 * what the context's objects hold). */
static void *own_alloc(const lre_backend_env *env, size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (p) env->stats->n_allocs++;
    return p;
}

struct lre_dnnl {
    const lre_backend_env *env;
    dnnl_engine_t eng;
    dnnl_stream_t st;
    prim *prims;
    int n_prims, cap_prims;
    uint16_t *stage_a, *stage_b;   /* bf16 copies of the operands */
    size_t cap_a, cap_b;           /* elements */
    cprim *cprims;                 /* convolution primitives */
    int n_cprims, cap_cprims;
    struct nprim *nprims;          /* normalisation primitives */
    int n_nprims, cap_nprims;
};

#define DN(d, call)                                                                    \
    do {                                                                               \
        dnnl_status_t e_ = (call);                                                     \
        if (e_ != dnnl_success)                                                        \
            return lre_backend_fail((d)->env, LRE_EDEVICE, "onednn: %s failed (status %d)", \
                                    #call, (int)e_);                                   \
    } while (0)

lre_status lre_dnnl_new(const lre_backend_env *env, lre_dnnl **out)
{
    *out = NULL;
    lre_dnnl *d = own_alloc(env, sizeof *d);
    if (!d) return lre_backend_fail(env, LRE_ENOMEM, "onednn: out of memory");
    d->env = env;
    if (env->threads > 0) omp_set_num_threads(env->threads);
    if (dnnl_engine_create(&d->eng, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&d->st, d->eng, dnnl_stream_default_flags) != dnnl_success) {
        lre_dnnl_free(d);
        return lre_backend_fail(env, LRE_EDEVICE, "onednn: cannot create a CPU engine");
    }
    *out = d;
    return LRE_OK;
}

static void prim_free(prim *q)
{
    dnnl_primitive_destroy(q->p);
    dnnl_memory_destroy(q->ma);
    dnnl_memory_destroy(q->mb);
    dnnl_memory_destroy(q->mc);
    dnnl_memory_destroy(q->ms);
    dnnl_memory_destroy(q->mbias);
    free(q->scratch);
}

static void nprims_free(lre_dnnl *d);

void lre_dnnl_free(lre_dnnl *d)
{
    if (!d) return;
    for (int i = 0; i < d->n_prims; i++) prim_free(&d->prims[i]);
    free(d->prims);
    for (int i = 0; i < d->n_cprims; i++) cprim_free(&d->cprims[i]);
    free(d->cprims);
    nprims_free(d);
    free(d->stage_a);
    free(d->stage_b);
    if (d->st) dnnl_stream_destroy(d->st);
    if (d->eng) dnnl_engine_destroy(d->eng);
    free(d);
}

int lre_dnnl_has_bf16(void)
{
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    /* the ISA values are bit sets; avx512_core_bf16 and amx include bf16 */
    return (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16 ||
           (isa & dnnl_cpu_isa_avx512_core_amx) == dnnl_cpu_isa_avx512_core_amx;
}

const char *lre_dnnl_isa(void)
{
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if ((isa & dnnl_cpu_isa_avx512_core_amx) == dnnl_cpu_isa_avx512_core_amx) return "amx";
    if ((isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16)
        return "avx512_bf16";
    if ((isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core) return "avx512";
    if ((isa & dnnl_cpu_isa_avx2) == dnnl_cpu_isa_avx2) return "avx2";
    return "sse4.1";
}

/* The fixed table, from scripts/bench_gemm.c (`make bench`) on two 2-core
 * machines: on a Sapphire Rapids, oneDNN's fp32 matmul beat OpenBLAS's
 * sgemm by 1.3-1.8x on the MLP shapes of a step and of an evaluate pass and
 * tied it (1.0-1.05x) on a 1024 square; on an AVX-512 EPYC it beat it by
 * 1.9-2.3x on every shape, the square included (OpenBLAS 0.3.21 runs its
 * Haswell kernels there). So oneDNN serves every fp32 GEMM it can take
 * (sizes within int); OpenBLAS serves a build without oneDNN and
 * LRE_CPU_GEMM=openblas. */
int lre_dnnl_serves(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K)
{
    (void)trans_a;
    (void)trans_b;
    return M <= INT32_MAX && N <= INT32_MAX && K <= INT32_MAX;
}

/* One float to bf16: round to nearest even; a NaN stays a quiet NaN. */
static inline uint16_t bf16_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x40u : r);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__) && \
    (defined(__clang__) || __GNUC__ >= 12)
#include <immintrin.h>
/* 16 floats a time with AVX512-BF16's vcvtneps2bf16 (the same rounding):
 * only called when the CPU has bf16 (lre_dnnl_has_bf16: AMX implies it) */
__attribute__((target("avx512f,avx512bf16"))) static void row_bf16_avx512(uint16_t *o,
                                                                           const float *x,
                                                                           int64_t n)
{
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(x + j));
        _mm256_storeu_si256((__m256i *)(o + j), (__m256i)h);
    }
    for (; j < n; j++) o[j] = bf16_of(x[j]);
}
#define LRE_HAVE_BF16_ROW 1
#endif

/* x (rows, cols of a row stride ld) rounded to bf16 into o, same layout.
 * A large block (a 10,000-row validation batch: 7.8 M values, about two
 * thirds of a bf16 matmul's time when one core rounds it) is split by rows
 * over the OpenMP pool oneDNN runs on: each value is rounded alone, so the
 * bits are the same on any number of threads. */
static void to_bf16(uint16_t *restrict o, const float *restrict x, int64_t rows, int64_t cols,
                    int64_t ld)
{
#ifdef LRE_HAVE_BF16_ROW
    const int fast = (dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core_bf16) ==
                     dnnl_cpu_isa_avx512_core_bf16;
#else
    const int fast = 0;
#endif
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (rows > 1 && rows * cols >= 65536)
#endif
    for (int64_t i = 0; i < rows; i++) {
#ifdef LRE_HAVE_BF16_ROW
        if (fast) {
            row_bf16_avx512(o + i * ld, x + i * ld, cols);
            continue;
        }
#endif
        (void)fast;
        for (int64_t j = 0; j < cols; j++) o[i * ld + j] = bf16_of(x[i * ld + j]);
    }
}

static lre_status stage(lre_dnnl *d, uint16_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return LRE_OK;
    free(*buf);
    *cap = 0;
    *buf = own_alloc(d->env, need * sizeof **buf);
    if (!*buf) return lre_backend_fail(d->env, LRE_ENOMEM, "onednn: out of memory for bf16 staging");
    *cap = need;
    return LRE_OK;
}

static lre_status make_prim(lre_dnnl *d, prim *q)
{
    dnnl_memory_desc_t ad, bd, cd, biasd;
    dnnl_dims_t da = {q->M, q->K}, db = {q->K, q->N}, dc = {q->M, q->N}, dbias = {1, q->N};
    dnnl_dims_t sbias = {q->N, 1};
    dnnl_dims_t sa = {q->trans_a ? 1 : q->lda, q->trans_a ? q->lda : 1};
    dnnl_dims_t sb = {q->trans_b ? 1 : q->ldb, q->trans_b ? q->ldb : 1};
    dnnl_dims_t sc = {q->ldc, 1};
    dnnl_data_type_t in = q->bf16 ? dnnl_bf16 : dnnl_f32;
    DN(d, dnnl_memory_desc_init_by_strides(&ad, 2, da, in, sa));
    DN(d, dnnl_memory_desc_init_by_strides(&bd, 2, db, in, sb));
    DN(d, dnnl_memory_desc_init_by_strides(&cd, 2, dc, dnnl_f32, sc));
    DN(d, dnnl_memory_desc_init_by_strides(&biasd, 2, dbias, dnnl_f32, sbias));
    dnnl_matmul_desc_t md;
    DN(d, dnnl_matmul_desc_init(&md, &ad, &bd, q->bias ? &biasd : NULL, &cd));
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    lre_status s = LRE_EDEVICE;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) goto out;
    if (dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) != dnnl_success)
        goto out;
    if (q->alpha != 1.0f &&
        dnnl_primitive_attr_set_output_scales(attr, 1, 0, &q->alpha) != dnnl_success)
        goto out;
    if (q->beta != 0.0f || q->relu) {
        /* relu with alpha 0 is max(x, 0) in oneDNN's kernels: +0 for a
         * negative x, a -0 or a NaN, as lre_relu_fwd (backend-ops checks
         * the bits against the unfused pass) */
        if (dnnl_post_ops_create(&po) != dnnl_success ||
            (q->beta != 0.0f && dnnl_post_ops_append_sum(po, q->beta) != dnnl_success) ||
            (q->relu &&
             dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f) !=
                 dnnl_success) ||
            dnnl_primitive_attr_set_post_ops(attr, po) != dnnl_success)
            goto out;
    }
    if (dnnl_primitive_desc_create(&pd, &md, attr, d->eng, NULL) != dnnl_success) goto out;
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t ss = smd ? dnnl_memory_desc_get_size(smd) : 0;
    if (ss && !(q->scratch = own_alloc(d->env, ss))) {
        s = lre_backend_fail(d->env, LRE_ENOMEM, "onednn: out of memory for a scratchpad");
        goto out;
    }
    if (dnnl_primitive_create(&q->p, pd) != dnnl_success ||
        dnnl_memory_create(&q->ma, &ad, d->eng, DNNL_MEMORY_NONE) != dnnl_success ||
        dnnl_memory_create(&q->mb, &bd, d->eng, DNNL_MEMORY_NONE) != dnnl_success ||
        dnnl_memory_create(&q->mc, &cd, d->eng, DNNL_MEMORY_NONE) != dnnl_success ||
        (q->bias && dnnl_memory_create(&q->mbias, &biasd, d->eng, DNNL_MEMORY_NONE) !=
                        dnnl_success) ||
        (ss && dnnl_memory_create(&q->ms, smd, d->eng, q->scratch) != dnnl_success))
        goto out;
    s = LRE_OK;
out:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (s == LRE_EDEVICE)
        return lre_backend_fail(d->env, LRE_EDEVICE,
                                "onednn: no matmul for %lldx%lldx%lld (trans %d%d, %s%s%s)",
                                (long long)q->M, (long long)q->K, (long long)q->N, q->trans_a,
                                q->trans_b, q->bf16 ? "bf16" : "f32", q->bias ? ", bias" : "",
                                q->relu ? ", relu" : "");
    return s;
}

/* Room for one more entry in a cache of n entries (*arr, *cap of them). */
static lre_status grow(lre_dnnl *d, void **arr, int *cap, int n, size_t elem)
{
    if (n < *cap) return LRE_OK;
    int nc = *cap ? 2 * *cap : 16;
    void *np = own_alloc(d->env, (size_t)nc * elem);
    if (!np) return lre_backend_fail(d->env, LRE_ENOMEM, "onednn: out of memory");
    if (n) memcpy(np, *arr, (size_t)n * elem);
    free(*arr);
    *arr = np;
    *cap = nc;
    return LRE_OK;
}

/* The primitive of this GEMM: found, or made (first call of a shape). */
static lre_status find_prim(lre_dnnl *d, const prim *key, prim **out)
{
    for (int i = 0; i < d->n_prims; i++) {
        prim *q = &d->prims[i];
        if (q->trans_a == key->trans_a && q->trans_b == key->trans_b && q->bf16 == key->bf16 &&
            q->bias == key->bias && q->relu == key->relu &&
            q->M == key->M && q->N == key->N && q->K == key->K && q->lda == key->lda &&
            q->ldb == key->ldb && q->ldc == key->ldc && q->alpha == key->alpha &&
            q->beta == key->beta) {
            *out = q;
            return LRE_OK;
        }
    }
    lre_status g = grow(d, (void **)&d->prims, &d->cap_prims, d->n_prims, sizeof *d->prims);
    if (g) return g;
    prim *q = &d->prims[d->n_prims];
    *q = *key;
    lre_status s = make_prim(d, q);
    if (s) {
        prim_free(q);
        memset(q, 0, sizeof *q);
        return s;
    }
    d->n_prims++;
    *out = q;
    return LRE_OK;
}

static prim make_key(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                     int64_t lda, int64_t ldb, float beta, int64_t ldc, int bias, int relu,
                     int bf16)
{
    prim key;
    memset(&key, 0, sizeof key);
    key.trans_a = trans_a;
    key.trans_b = trans_b;
    key.bf16 = bf16;
    key.bias = bias;
    key.relu = relu;
    key.M = M;
    key.N = N;
    key.K = K;
    key.lda = lda;
    key.ldb = ldb;
    key.ldc = ldc;
    key.alpha = alpha;
    key.beta = beta;
    return key;
}

lre_status lre_dnnl_prepare(lre_dnnl *d, int trans_a, int trans_b, int64_t M, int64_t N,
                            int64_t K, float alpha, int64_t lda, int64_t ldb, float beta,
                            int64_t ldc, int has_bias, int relu, int bf16)
{
    prim key = make_key(trans_a, trans_b, M, N, K, alpha, lda, ldb, beta, ldc, has_bias != 0,
                        relu != 0, bf16),
         *q;
    lre_status s = find_prim(d, &key, &q);
    if (s || !bf16) return s;
    int64_t ar = trans_a ? K : M, ac = trans_a ? M : K;
    int64_t br = trans_b ? N : K, bc = trans_b ? K : N;
    if ((s = stage(d, &d->stage_a, &d->cap_a, (size_t)((ar - 1) * lda + ac)))) return s;
    return stage(d, &d->stage_b, &d->cap_b, (size_t)((br - 1) * ldb + bc));
}

lre_status lre_dnnl_gemm(lre_dnnl *d, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                         float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                         float beta, float *c, int64_t ldc, const float *bias, int relu,
                         int bf16)
{
    prim key = make_key(trans_a, trans_b, M, N, K, alpha, lda, ldb, beta, ldc, bias != NULL,
                        relu != 0, bf16);
    prim *q = NULL;
    lre_status s = find_prim(d, &key, &q);
    if (s) return s;
    const void *pa = a, *pb = b;
    if (bf16) { /* stored blocks: a is (M,K) or (K,M) rows of stride lda; likewise b */
        int64_t ar = trans_a ? K : M, ac = trans_a ? M : K;
        int64_t br = trans_b ? N : K, bc = trans_b ? K : N;
        if ((s = stage(d, &d->stage_a, &d->cap_a, (size_t)((ar - 1) * lda + ac))) ||
            (s = stage(d, &d->stage_b, &d->cap_b, (size_t)((br - 1) * ldb + bc))))
            return s;
        to_bf16(d->stage_a, a, ar, ac, lda);
        to_bf16(d->stage_b, b, br, bc, ldb);
        pa = d->stage_a;
        pb = d->stage_b;
    }
    DN(d, dnnl_memory_set_data_handle(q->ma, (void *)pa));
    DN(d, dnnl_memory_set_data_handle(q->mb, (void *)pb));
    DN(d, dnnl_memory_set_data_handle(q->mc, c));
    dnnl_exec_arg_t args[5] = {
        {DNNL_ARG_SRC, q->ma}, {DNNL_ARG_WEIGHTS, q->mb}, {DNNL_ARG_DST, q->mc}};
    int nargs = 3;
    if (bias) {
        DN(d, dnnl_memory_set_data_handle(q->mbias, (void *)bias));
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, q->mbias};
    }
    if (q->ms) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, q->ms};
    DN(d, dnnl_primitive_execute(q->p, d->st, nargs, args));
    DN(d, dnnl_stream_wait(d->st));
    return LRE_OK;
}

/* ------------------------------------------------------- convolution */

/* Readies argument a of q: `want` is the layout the primitive chose
 * (pd's), `user` the engine's. */
static lre_status make_carg(lre_dnnl *d, carg *a, const dnnl_memory_desc_t *user,
                            const dnnl_memory_desc_t *want)
{
    if (dnnl_memory_create(&a->user, user, d->eng, DNNL_MEMORY_NONE) != dnnl_success)
        return LRE_EDEVICE;
    if (dnnl_memory_desc_equal(user, want)) return LRE_OK;
    size_t n = dnnl_memory_desc_get_size(want);
    if (!(a->buf = own_alloc(d->env, n)))
        return lre_backend_fail(d->env, LRE_ENOMEM, "onednn: out of memory for a convolution");
    dnnl_primitive_desc_t rpd = NULL;
    lre_status s = LRE_EDEVICE;
    if (dnnl_memory_create(&a->inner, want, d->eng, a->buf) == dnnl_success &&
        dnnl_reorder_primitive_desc_create(&rpd, a->out ? want : user, d->eng,
                                           a->out ? user : want, d->eng, NULL) == dnnl_success &&
        dnnl_primitive_create(&a->reorder, rpd) == dnnl_success)
        s = LRE_OK;
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    return s;
}

/* Which arguments oneDNN may lay out its own way (bits: 1 src, 2 weights,
 * 4 dst), per kind, as measured on LeNet's layers on a 2-core AVX-512 EPYC
 * (every combination, three runs each). The forward keeps the images'
 * NCHW (its JIT kernels read it for few input channels) and writes its
 * own blocked output, reordered back: a validation pass 206 -> 111 ms
 * against the NCHW-only GEMM kernel. The weights' gradient with all
 * three its own: a step 5.7 -> 4.4 ms. The data's gradient: no clear
 * difference either way, so no reorders. */
static const int conv_any[3] = {
    [LRE_DNNL_CONV_FWD] = 2 | 4,
    [LRE_DNNL_CONV_BWD_DATA] = 0,
    [LRE_DNNL_CONV_BWD_WEIGHTS] = 1 | 2 | 4,
};

static lre_status make_cprim(lre_dnnl *d, cprim *q, int bf16)
{
    const lre_conv_geom *g = &q->g;
    dnnl_memory_desc_t user[3], want[3], biasd;
    dnnl_dims_t ds = {q->B, g->C, g->H, g->W}, dw = {q->O, g->C, g->KH, g->KW},
                dd = {q->B, q->O, g->OH, g->OW}, db = {q->O};
    /* torch pads both sides alike and drops what the strides leave over;
     * oneDNN wants the right padding that gives this output size */
    dnnl_dims_t strides = {g->SH, g->SW}, dil = {g->DH - 1, g->DW - 1}, pl = {g->PH, g->PW},
                pr = {(g->OH - 1) * g->SH + g->DH * (g->KH - 1) + 1 - g->H - g->PH,
                      (g->OW - 1) * g->SW + g->DW * (g->KW - 1) + 1 - g->W - g->PW};
    const dnnl_format_tag_t tags[3] = {dnnl_nchw, dnnl_oihw, dnnl_nchw};
    int64_t *dims[3] = {ds, dw, dd};
    const int any = conv_any[q->kind];
    /* bf16: what the convolution reads (the outputs stay fp32), rounded by
     * the reorders that lay it out */
    static const int reads[3] = {[LRE_DNNL_CONV_FWD] = 1 | 2, [LRE_DNNL_CONV_BWD_DATA] = 2 | 4,
                                 [LRE_DNNL_CONV_BWD_WEIGHTS] = 1 | 4};
    for (int i = 0; i < 3; i++) {
        const int half = bf16 && ((reads[q->kind] >> i) & 1);
        DN(d, dnnl_memory_desc_init_by_tag(&user[i], 4, dims[i], dnnl_f32, tags[i]));
        DN(d, dnnl_memory_desc_init_by_tag(&want[i], 4, dims[i], half ? dnnl_bf16 : dnnl_f32,
                                           (any >> i) & 1 ? dnnl_format_tag_any : tags[i]));
    }
    DN(d, dnnl_memory_desc_init_by_tag(&biasd, 1, db, dnnl_f32, dnnl_x));
    dnnl_convolution_desc_t fwd, cd;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t hint = NULL, pd = NULL;
    lre_status s = LRE_EDEVICE;
    if (dnnl_dilated_convolution_forward_desc_init(
            &fwd, q->kind == LRE_DNNL_CONV_FWD ? dnnl_forward_inference : dnnl_forward_training,
            dnnl_convolution_direct, &want[0], &want[1], q->bias ? &biasd : NULL, &want[2],
            strides, dil, pl, pr) != dnnl_success)
        goto out;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success ||
        dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) != dnnl_success)
        goto out;
    if (q->kind == LRE_DNNL_CONV_FWD) {
        if (q->relu && (dnnl_post_ops_create(&po) != dnnl_success ||
                        dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f) !=
                            dnnl_success ||
                        dnnl_primitive_attr_set_post_ops(attr, po) != dnnl_success))
            goto out;
        if (dnnl_primitive_desc_create(&pd, &fwd, attr, d->eng, NULL) != dnnl_success) goto out;
    } else {
        if (dnnl_primitive_desc_create(&hint, &fwd, NULL, d->eng, NULL) != dnnl_success) goto out;
        if (q->kind == LRE_DNNL_CONV_BWD_DATA
                ? dnnl_dilated_convolution_backward_data_desc_init(
                      &cd, dnnl_convolution_direct, &want[0], &want[1], &want[2], strides, dil,
                      pl, pr)
                : dnnl_dilated_convolution_backward_weights_desc_init(
                      &cd, dnnl_convolution_direct, &want[0], &want[1], q->bias ? &biasd : NULL,
                      &want[2], strides, dil, pl, pr))
            goto out;
        if (dnnl_primitive_desc_create(&pd, &cd, attr, d->eng, hint) != dnnl_success) goto out;
    }
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t ss = smd ? dnnl_memory_desc_get_size(smd) : 0;
    size_t nacc = (size_t)(q->O * g->C * g->KH * g->KW + q->O);
    if ((ss && !(q->scratch = own_alloc(d->env, ss))) ||
        (q->kind == LRE_DNNL_CONV_BWD_WEIGHTS && !(q->acc = own_alloc(d->env, nacc * 4)))) {
        s = lre_backend_fail(d->env, LRE_ENOMEM, "onednn: out of memory for a convolution");
        goto out;
    }
    /* the arguments as the primitive names them, and which it writes */
    static const int args[3][3] = {
        [LRE_DNNL_CONV_FWD] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST},
        [LRE_DNNL_CONV_BWD_DATA] = {DNNL_ARG_DIFF_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_DST},
        [LRE_DNNL_CONV_BWD_WEIGHTS] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_DST},
    };
    static const int outs[3] = {4, 1, 2};
    for (int i = 0; i < 3; i++) {
        carg *a = &q->a[i];
        a->arg = args[q->kind][i];
        a->out = (outs[q->kind] >> i) & 1;
        const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md,
                                                                     a->arg);
        if (!md) goto out;
        if ((s = make_carg(d, a, &user[i], md)) != LRE_OK) goto out;
        s = LRE_EDEVICE;
    }
    if (dnnl_primitive_create(&q->p, pd) != dnnl_success ||
        (q->bias && dnnl_memory_create(&q->mbias, &biasd, d->eng, DNNL_MEMORY_NONE) !=
                        dnnl_success) ||
        (ss && dnnl_memory_create(&q->ms, smd, d->eng, q->scratch) != dnnl_success))
        goto out;
    s = LRE_OK;
out:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (hint) dnnl_primitive_desc_destroy(hint);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (s == LRE_EDEVICE)
        return lre_backend_fail(d->env, LRE_EDEVICE,
                                "onednn: no convolution (%s) of %lld images %lldx%lldx%lld, "
                                "%lld outputs, kernel %lldx%lld",
                                q->kind == LRE_DNNL_CONV_FWD        ? "forward"
                                : q->kind == LRE_DNNL_CONV_BWD_DATA ? "backward data"
                                                                    : "backward weights",
                                (long long)q->B, (long long)g->C, (long long)g->H,
                                (long long)g->W, (long long)q->O, (long long)g->KH,
                                (long long)g->KW);
    return s;
}

static int same_geom(const lre_conv_geom *a, const lre_conv_geom *b)
{
    return a->C == b->C && a->H == b->H && a->W == b->W && a->KH == b->KH && a->KW == b->KW &&
           a->SH == b->SH && a->SW == b->SW && a->PH == b->PH && a->PW == b->PW &&
           a->DH == b->DH && a->DW == b->DW;
}

static lre_status find_cprim(lre_dnnl *d, int kind, int64_t B, int64_t O,
                             const lre_conv_geom *g, int bias, int relu, int bf16, cprim **out)
{
    for (int i = 0; i < d->n_cprims; i++) {
        cprim *q = &d->cprims[i];
        if (q->kind == kind && q->B == B && q->O == O && q->bias == bias && q->relu == relu &&
            q->bf16 == bf16 && same_geom(&q->g, g)) {
            *out = q;
            return LRE_OK;
        }
    }
    lre_status gs = grow(d, (void **)&d->cprims, &d->cap_cprims, d->n_cprims, sizeof *d->cprims);
    if (gs) return gs;
    cprim *q = &d->cprims[d->n_cprims];
    memset(q, 0, sizeof *q);
    q->kind = kind;
    q->B = B;
    q->O = O;
    q->g = *g;
    q->bias = bias;
    q->relu = relu;
    q->bf16 = bf16;
    lre_status s = make_cprim(d, q, bf16);
    if (s && bf16) { /* no bf16 kernel for this one (a weights' gradient of one
                      * input channel): it computes in fp32 */
        cprim_free(q);
        cprim k = *q;
        memset(q, 0, sizeof *q);
        q->kind = k.kind, q->B = k.B, q->O = k.O, q->g = k.g, q->bias = k.bias,
        q->relu = k.relu, q->bf16 = k.bf16;
        s = make_cprim(d, q, 0);
    }
    if (s) {
        cprim_free(q);
        memset(q, 0, sizeof *q);
        return s;
    }
    d->n_cprims++;
    *out = q;
    return LRE_OK;
}

int lre_dnnl_conv_serves(int64_t B, int64_t O, const lre_conv_geom *g)
{
    const int64_t big = INT32_MAX;
    return B >= 1 && B <= big && O <= big && g->C * g->H * g->W <= big &&
           O * g->OH * g->OW <= big && g->C * g->KH * g->KW <= big;
}

lre_status lre_dnnl_conv_prepare(lre_dnnl *d, int kind, int64_t B, int64_t O,
                                 const lre_conv_geom *g, int bias, int relu, int bf16)
{
    cprim *q;
    return find_cprim(d, kind, B, O, g, bias != 0, relu != 0, bf16 != 0, &q);
}

static lre_status run_reorder(lre_dnnl *d, carg *a)
{
    dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, a->out ? a->inner : a->user},
                             {DNNL_ARG_TO, a->out ? a->user : a->inner}};
    DN(d, dnnl_primitive_execute(a->reorder, d->st, 2, ra));
    return LRE_OK;
}

static lre_status run_cprim(lre_dnnl *d, cprim *q, const void *src, const void *wei,
                            const void *bias, const void *dst)
{
    const void *ptr[3] = {src, wei, dst};
    dnnl_exec_arg_t args[5];
    int nargs = 0;
    lre_status s;
    for (int i = 0; i < 3; i++) {
        carg *a = &q->a[i];
        DN(d, dnnl_memory_set_data_handle(a->user, (void *)ptr[i]));
        if (a->inner && !a->out && (s = run_reorder(d, a))) return s;
        args[nargs++] = (dnnl_exec_arg_t){a->arg, a->inner ? a->inner : a->user};
    }
    if (q->bias && bias) {
        DN(d, dnnl_memory_set_data_handle(q->mbias, (void *)bias));
        args[nargs++] = (dnnl_exec_arg_t){
            q->kind == LRE_DNNL_CONV_FWD ? DNNL_ARG_BIAS : DNNL_ARG_DIFF_BIAS, q->mbias};
    }
    if (q->ms) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, q->ms};
    DN(d, dnnl_primitive_execute(q->p, d->st, nargs, args));
    for (int i = 0; i < 3; i++)
        if (q->a[i].inner && q->a[i].out && (s = run_reorder(d, &q->a[i]))) return s;
    DN(d, dnnl_stream_wait(d->st));
    return LRE_OK;
}

lre_status lre_dnnl_conv_forward(lre_dnnl *d, float *y, const float *x, const float *w,
                                 const float *bias, int64_t B, int64_t O,
                                 const lre_conv_geom *g, int relu, int bf16)
{
    cprim *q;
    lre_status s =
        find_cprim(d, LRE_DNNL_CONV_FWD, B, O, g, bias != NULL, relu != 0, bf16 != 0, &q);
    return s ? s : run_cprim(d, q, x, w, bias, y);
}

lre_status lre_dnnl_conv_backward_data(lre_dnnl *d, float *dx, const float *dy, const float *w,
                                       int64_t B, int64_t O, const lre_conv_geom *g, int bf16)
{
    cprim *q;
    lre_status s = find_cprim(d, LRE_DNNL_CONV_BWD_DATA, B, O, g, 0, 0, bf16 != 0, &q);
    return s ? s : run_cprim(d, q, dx, w, NULL, dy);
}

lre_status lre_dnnl_conv_backward_weights(lre_dnnl *d, float *dw, float *db, const float *dy,
                                          const float *x, int64_t B, int64_t O,
                                          const lre_conv_geom *g, int accumulate, int bf16)
{
    cprim *q;
    lre_status s =
        find_cprim(d, LRE_DNNL_CONV_BWD_WEIGHTS, B, O, g, db != NULL, 0, bf16 != 0, &q);
    if (s) return s;
    if (!accumulate) return run_cprim(d, q, x, dw, db, dy);
    const int64_t nw = O * g->C * g->KH * g->KW;
    if ((s = run_cprim(d, q, x, q->acc, db ? q->acc + nw : NULL, dy))) return s;
    for (int64_t i = 0; i < nw; i++) dw[i] += q->acc[i];
    for (int64_t i = 0; db && i < O; i++) db[i] += q->acc[nw + i];
    return LRE_OK;
}

/* ------------------------------------------------------- normalisation */

/* A normalisation primitive: layer norm's forward (training: it returns
 * the statistics) or backward over `groups` rows of n, or batch norm's
 * training forward over B rows of C channels of S values (NCHW as
 * (B, C, S, 1)). Its memory objects take the caller's pointers per call;
 * the variance (oneDNN's statistic, where the engine keeps 1/std) and the
 * backward's sums to accumulate are its own. */
enum { NORM_LN_FWD, NORM_LN_BWD, NORM_BN_FWD };
enum { NA_SRC, NA_DST, NA_MEAN, NA_VAR, NA_SCALE, NA_SHIFT, NA_DSRC, NA_DSCALE, NA_DSHIFT,
       NA_DDST, NA_COUNT };

typedef struct nprim {
    int kind, affine;
    int64_t a, b, c;               /* LN: groups, n; BN: B, C, S */
    float eps;
    dnnl_primitive_t p;
    dnnl_memory_t m[NA_COUNT];     /* NULL: not an argument of this one */
    dnnl_memory_t ms;
    void *scratch;
    float *var;                    /* groups or C */
    float *acc;                    /* LN backward: dw, db (2n) */
} nprim;

static const int nargs_of[NA_COUNT] = {
    DNNL_ARG_SRC,       DNNL_ARG_DST,        DNNL_ARG_MEAN,       DNNL_ARG_VARIANCE,
    DNNL_ARG_SCALE,     DNNL_ARG_SHIFT,      DNNL_ARG_DIFF_SRC,   DNNL_ARG_DIFF_SCALE,
    DNNL_ARG_DIFF_SHIFT, DNNL_ARG_DIFF_DST};

static void nprim_free(nprim *q)
{
    dnnl_primitive_destroy(q->p);
    for (int i = 0; i < NA_COUNT; i++) dnnl_memory_destroy(q->m[i]);
    dnnl_memory_destroy(q->ms);
    free(q->scratch);
    free(q->var);
    free(q->acc);
}

static void nprims_free(lre_dnnl *d)
{
    for (int i = 0; i < d->n_nprims; i++) nprim_free(&d->nprims[i]);
    free(d->nprims);
}

static lre_status make_nprim(lre_dnnl *d, nprim *q)
{
    lre_status s = LRE_EDEVICE;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_memory_desc_t md, sd;
    const unsigned flags = q->affine ? dnnl_use_scale | dnnl_use_shift : 0;
    const int64_t nstat = q->kind == NORM_BN_FWD ? q->b : q->a;
    if (q->kind == NORM_BN_FWD) {
        dnnl_dims_t dims = {q->a, q->b, q->c, 1};
        if (dnnl_memory_desc_init_by_tag(&md, 4, dims, dnnl_f32, dnnl_nchw) != dnnl_success)
            goto out;
    } else {
        dnnl_dims_t dims = {q->a, q->b}, sdims = {q->a};
        if (dnnl_memory_desc_init_by_tag(&md, 2, dims, dnnl_f32, dnnl_ab) != dnnl_success ||
            dnnl_memory_desc_init_by_tag(&sd, 1, sdims, dnnl_f32, dnnl_a) != dnnl_success)
            goto out;
    }
    if (dnnl_primitive_attr_create(&attr) != dnnl_success ||
        dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) != dnnl_success)
        goto out;
    if (q->kind == NORM_BN_FWD) {
        dnnl_batch_normalization_desc_t od;
        if (dnnl_batch_normalization_forward_desc_init(&od, dnnl_forward_training, &md, q->eps,
                                                       flags) != dnnl_success ||
            dnnl_primitive_desc_create(&pd, &od, attr, d->eng, NULL) != dnnl_success)
            goto out;
    } else if (q->kind == NORM_LN_FWD) {
        dnnl_layer_normalization_desc_t od;
        if (dnnl_layer_normalization_forward_desc_init(&od, dnnl_forward_training, &md, &sd,
                                                       q->eps, flags) != dnnl_success ||
            dnnl_primitive_desc_create(&pd, &od, attr, d->eng, NULL) != dnnl_success)
            goto out;
    } else {
        dnnl_layer_normalization_desc_t od;
        if (dnnl_layer_normalization_backward_desc_init(
                &od, q->affine ? dnnl_backward : dnnl_backward_data, &md, &md, &sd, q->eps,
                flags) != dnnl_success ||
            dnnl_primitive_desc_create(&pd, &od, attr, d->eng, NULL) != dnnl_success)
            goto out;
    }
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t ss = smd ? dnnl_memory_desc_get_size(smd) : 0;
    if ((ss && !(q->scratch = own_alloc(d->env, ss))) ||
        !(q->var = own_alloc(d->env, (size_t)nstat * sizeof *q->var)) ||
        (q->kind == NORM_LN_BWD && q->affine &&
         !(q->acc = own_alloc(d->env, (size_t)(2 * q->b) * sizeof *q->acc)))) {
        s = lre_backend_fail(d->env, LRE_ENOMEM, "onednn: out of memory for a normalisation");
        goto out;
    }
    if (dnnl_primitive_create(&q->p, pd) != dnnl_success ||
        (ss && dnnl_memory_create(&q->ms, smd, d->eng, q->scratch) != dnnl_success))
        goto out;
    for (int i = 0; i < NA_COUNT; i++) { /* the arguments this primitive takes */
        const dnnl_memory_desc_t *am =
            dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, nargs_of[i]);
        if (am && am->ndims > 0 &&
            dnnl_memory_create(&q->m[i], am, d->eng, DNNL_MEMORY_NONE) != dnnl_success)
            goto out;
    }
    s = LRE_OK;
out:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (s == LRE_EDEVICE)
        return lre_backend_fail(d->env, LRE_EDEVICE,
                                "onednn: no %s of %lld x %lld x %lld",
                                q->kind == NORM_BN_FWD   ? "batch norm"
                                : q->kind == NORM_LN_FWD ? "layer norm"
                                                         : "layer norm backward",
                                (long long)q->a, (long long)q->b, (long long)q->c);
    return s;
}

static lre_status find_nprim(lre_dnnl *d, int kind, int64_t a, int64_t b, int64_t c, int affine,
                             float eps, nprim **out)
{
    for (int i = 0; i < d->n_nprims; i++) {
        nprim *q = &d->nprims[i];
        if (q->kind == kind && q->a == a && q->b == b && q->c == c && q->affine == affine &&
            q->eps == eps) {
            *out = q;
            return LRE_OK;
        }
    }
    lre_status s = grow(d, (void **)&d->nprims, &d->cap_nprims, d->n_nprims, sizeof *d->nprims);
    if (s) return s;
    nprim *q = &d->nprims[d->n_nprims];
    memset(q, 0, sizeof *q);
    q->kind = kind, q->a = a, q->b = b, q->c = c, q->affine = affine, q->eps = eps;
    if ((s = make_nprim(d, q))) {
        nprim_free(q);
        memset(q, 0, sizeof *q);
        return s;
    }
    d->n_nprims++;
    *out = q;
    return LRE_OK;
}

static lre_status run_nprim(lre_dnnl *d, nprim *q, const void *const ptr[NA_COUNT])
{
    dnnl_exec_arg_t args[NA_COUNT + 1];
    int n = 0;
    for (int i = 0; i < NA_COUNT; i++) {
        if (!q->m[i]) continue;
        DN(d, dnnl_memory_set_data_handle(q->m[i], (void *)ptr[i]));
        args[n++] = (dnnl_exec_arg_t){nargs_of[i], q->m[i]};
    }
    if (q->ms) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, q->ms};
    DN(d, dnnl_primitive_execute(q->p, d->st, n, args));
    DN(d, dnnl_stream_wait(d->st));
    return LRE_OK;
}

/* The table, from scripts/bench_norm.c (`make bench`) on the 2-core
 * AVX-512 EPYC, in the engine: oneDNN 2.6's layer norm ran 8-20x faster
 * than the C loops (forward and backward, 128x256 to 10,000x256); its
 * batch norm on NCHW data (an ncsp kernel, not jitted) 0.72-0.94x the C
 * loops forward in training on the CNN shapes (28x28 to 4x4), 1.26-1.28x
 * on a BatchNorm1d (S = 1), and (measured standalone) 0.65x backward. So
 * oneDNN serves layer norm and batch norm's training forward of S = 1,
 * sizes within int; the other batch norms run the C loops unless oneDNN
 * is forced (LRE_CPU_GEMM=onednn), which the tests and bench_norm use to
 * keep that path checked and measured. */
int lre_dnnl_norm_serves(int64_t a, int64_t b, int64_t c)
{
    /* an empty batch runs the loops, which do nothing */
    return a >= 1 && b >= 1 && c >= 1 && a <= INT32_MAX && b <= INT32_MAX && c <= INT32_MAX &&
           a * b <= INT32_MAX / c;
}

lre_status lre_dnnl_norm_prepare(lre_dnnl *d, int batch, int64_t a, int64_t b, int64_t c,
                                 int affine, float eps, int backward)
{
    nprim *q;
    if (batch) return find_nprim(d, NORM_BN_FWD, a, b, c, affine != 0, eps, &q);
    lre_status s = find_nprim(d, NORM_LN_FWD, a, b, 1, affine != 0, eps, &q);
    return s || !backward ? s : find_nprim(d, NORM_LN_BWD, a, b, 1, affine != 0, 0.0f, &q);
}

lre_status lre_dnnl_layer_norm_forward(lre_dnnl *d, float *y, float *mean, float *rstd,
                                       const float *x, const float *w, const float *b,
                                       int64_t groups, int64_t n, float eps)
{
    nprim *q;
    lre_status s = find_nprim(d, NORM_LN_FWD, groups, n, 1, w != NULL, eps, &q);
    if (s) return s;
    const void *ptr[NA_COUNT] = {[NA_SRC] = x, [NA_DST] = y, [NA_MEAN] = mean,
                                 [NA_VAR] = q->var, [NA_SCALE] = w, [NA_SHIFT] = b};
    if ((s = run_nprim(d, q, ptr))) return s;
    for (int64_t g = 0; g < groups; g++)
        rstd[g] = (float)(1.0 / sqrt((double)q->var[g] + (double)eps));
    return LRE_OK;
}

/* The backward takes the variance where the engine keeps 1/std: it gets
 * 1/rstd² with eps 0 (oneDNN reads only var + eps), so what it divides by
 * is the forward's sqrt(var + eps) to a rounding. Its SHIFT argument is
 * required but not read: w stands in. */
lre_status lre_dnnl_layer_norm_backward(lre_dnnl *d, float *dx, float *dw, float *db,
                                        const float *dy, const float *x, const float *mean,
                                        const float *rstd, const float *w, int64_t groups,
                                        int64_t n, int accumulate)
{
    nprim *q;
    lre_status s = find_nprim(d, NORM_LN_BWD, groups, n, 1, w != NULL, 0.0f, &q);
    if (s) return s;
    for (int64_t g = 0; g < groups; g++)
        q->var[g] = (float)(1.0 / ((double)rstd[g] * (double)rstd[g]));
    float *ow = accumulate && w ? q->acc : dw, *ob = accumulate && w ? q->acc + n : db;
    const void *ptr[NA_COUNT] = {[NA_SRC] = x,     [NA_DDST] = dy,   [NA_MEAN] = mean,
                                 [NA_VAR] = q->var, [NA_SCALE] = w,  [NA_SHIFT] = w,
                                 [NA_DSRC] = dx,    [NA_DSCALE] = ow, [NA_DSHIFT] = ob};
    if ((s = run_nprim(d, q, ptr))) return s;
    if (accumulate && w)
        for (int64_t j = 0; j < n; j++) dw[j] += q->acc[j], db[j] += q->acc[n + j];
    return LRE_OK;
}

lre_status lre_dnnl_batch_norm_train(lre_dnnl *d, float *y, float *mean, float *rstd,
                                     float *run_mean, float *run_var, const float *x,
                                     const float *w, const float *b, int64_t B, int64_t C,
                                     int64_t S, float eps, float momentum)
{
    nprim *q;
    lre_status s = find_nprim(d, NORM_BN_FWD, B, C, S, w != NULL, eps, &q);
    if (s) return s;
    const void *ptr[NA_COUNT] = {[NA_SRC] = x,       [NA_DST] = y,     [NA_MEAN] = mean,
                                 [NA_VAR] = q->var,  [NA_SCALE] = w,  [NA_SHIFT] = b};
    if ((s = run_nprim(d, q, ptr))) return s;
    const int64_t n = B * S;
    for (int64_t c = 0; c < C; c++) {
        const double var = q->var[c];
        rstd[c] = (float)(1.0 / sqrt(var + (double)eps));
        if (!run_mean) continue;
        const double unbiased = n > 1 ? var * (double)n / (double)(n - 1) : var;
        run_mean[c] = (1.0f - momentum) * run_mean[c] + momentum * mean[c];
        run_var[c] = (1.0f - momentum) * run_var[c] + momentum * (float)unbiased;
    }
    return LRE_OK;
}

#else
typedef int lre_cpu_dnnl_not_built; /* a build without oneDNN (DNNL=0) */
#endif /* LRE_WITH_DNNL */
