/*
 * ew_eval.h — evaluates every function of backend/elementwise.h over a
 * table of inputs into one array of floats. Included twice: by
 * test_elementwise.c (compiled by cc) and by elementwise_nvcc.cu (compiled
 * by nvcc's host pass, in a CUDA build), so the test can compare what the
 * two compilers make of the same lines, bit for bit.
 */
#ifndef LRE_EW_EVAL_H
#define LRE_EW_EVAL_H

#include "backend/elementwise.h"

/* Outputs per input value. */
#define EW_PER_INPUT 23

/* out[EW_PER_INPUT * n] from x[n] (any floats, specials included). */
static inline void ew_eval(const float *x, int64_t n, float *out)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i], dy = 0.75f - 0.5f * v, *o = out + i * EW_PER_INPUT;
        int k = 0;
        for (int a = 0; a < LRE_ACT_COUNT; a++) {
            float param = a == LRE_ACT_LEAKY_RELU ? 0.01f : 0.0f;
            float y = lre_act_fwd1((lre_act)a, param, v);
            o[k++] = y;
            o[k++] = lre_act_bwd1((lre_act)a, param, v, y, dy);
        }
        /* optimizers: one parameter v with gradient dy */
        float p = v, buf = 0.25f * v;
        lre_sgd1(&p, dy, &buf, 0.1f, 0.9f, 0.95f, 0, 0.01f, 0);
        o[k++] = p;
        o[k++] = buf;
        p = v, buf = 0.25f * v;
        lre_sgd1(&p, dy, &buf, 0.05f, 0.9f, 1.0f, 1, 0.0f, 1);
        o[k++] = p;
        o[k++] = buf;
        float m = 0.1f * v, w = 0.01f * v * v;
        p = v;
        lre_adam1(&p, dy, &m, &w, 1e-3f / 0.1f, 0.0316069f, 0.1f, 0.999f, 0.001f, 1e-8f, 1.0f,
                  0.01f);
        o[k++] = p;
        o[k++] = m;
        o[k++] = w;
        p = v, m = 0.1f * v, w = 0.01f * v * v;
        lre_adam1(&p, dy, &m, &w, 0.5f, 0.7f, 0.1f, 0.999f, 0.001f, 1e-8f, 0.995f, 0.0f);
        o[k++] = p;
        /* cross-entropy terms, with v as a logit and lse near it */
        double lse = (double)v + 0.6931471805599453;
        o[k++] = (float)lre_ce_row_loss(lse, v, 3.0 * v, 0.9, 0.01, 10);
        o[k++] = lre_ce_grad1(v, lse, 1, 0.9, 0.01, 1.0 / 128);
        o[k++] = lre_ce_grad1(v, lse, 0, 0.9, 0.01, 1.0 / 128);
        (void)k;
    }
}

#endif /* LRE_EW_EVAL_H */
