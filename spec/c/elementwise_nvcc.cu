/*
 * elementwise_nvcc.cu — ew_eval (ew_eval.h) compiled by nvcc's host pass,
 * for test_elementwise.c to compare with cc's build of the same lines.
 * Linked into the C tests in a CUDA build only.
 */
#include "ew_eval.h"

extern "C" void lre_ew_eval_nvcc(const float *x, int64_t n, float *out) { ew_eval(x, n, out); }
