/*
 * backend/gemm_map.h — row-major GEMM as a column-major library (cuBLAS)
 * sees it. Row-major c (M,N) = op(a)·op(b) is, read column-major,
 * c^T (N,M) = op(b)^T·op(a)^T: the operands swap, M and N swap, each
 * keeps its own transpose flag, and the row strides become the leading
 * dimensions. The CUDA backend calls cuBLAS with exactly these fields;
 * spec/c/test_cuda_cpu_side.c checks them on the CPU against a column-major
 * cblas_sgemm for every transpose case.
 *
 * Part of the backend layer: includes only backend.h. Safe in C and C++.
 */
#ifndef LRE_GEMM_MAP_H
#define LRE_GEMM_MAP_H

#include <stdint.h>

#include "backend/backend.h"

typedef struct lre_colmajor_gemm {
    int trans_first, trans_second;   /* transpose flags of the two operands */
    int64_t m, n, k;                 /* the column-major problem: (m,k)·(k,n) */
    int first_is_b;                  /* the first operand is b (always: the swap) */
    int64_t ld_first, ld_second, ldc;
} lre_colmajor_gemm;

#if defined(__CUDACC__)
__host__ __device__
#endif
static inline lre_colmajor_gemm lre_gemm_to_colmajor(int trans_a, int trans_b, int64_t M,
                                                     int64_t N, int64_t K, int64_t lda,
                                                     int64_t ldb, int64_t ldc)
{
    lre_colmajor_gemm g;
    g.trans_first = trans_b;
    g.trans_second = trans_a;
    g.m = N;
    g.n = M;
    g.k = K;
    g.first_is_b = 1;
    g.ld_first = ldb;
    g.ld_second = lda;
    g.ldc = ldc;
    return g;
}

#endif /* LRE_GEMM_MAP_H */
