/*
 * backend/elementwise.h — the element-wise math every backend runs, written
 * once: each activation and its derivative, the optimizer updates of one
 * parameter, the per-row cross-entropy terms and the batch transform.
 * Under nvcc the functions are __host__ __device__ (the CUDA kernels call
 * them); under cc they are plain static inline (the CPU loops call them),
 * so the CPU tests run the very lines the GPU runs.
 *
 * Part of the backend layer: includes only backend.h. Safe in C and C++.
 *
 * Rounding: each function spells out its operations and their order (no
 * fused multiply-add is asked for). cc builds with -std=c11, which does not
 * contract a*b+c into an FMA, and so does nvcc's host pass
 * (-Xcompiler -ffp-contract=off), so the two give identical results
 * (spec/c/test_elementwise*.c). nvcc's device pass contracts by default
 * (--fmad=true): results there can differ from the CPU by a few ulp per
 * operation, which the backend-ops test's tolerances allow.
 */
#ifndef LRE_ELEMENTWISE_H
#define LRE_ELEMENTWISE_H

#include <math.h>
#include <stdint.h>

#include "backend/backend.h"

#if defined(__CUDACC__)
#define LRE_EW __host__ __device__ static inline
#else
#define LRE_EW static inline
#endif

#define LRE_SQRT1_2 0.70710678118654752440
#define LRE_INV_SQRT_2PI 0.39894228040143267794
#define LRE_SQRT_2_OVER_PI 0.79788456080286535588

/* ------------------------------------------------------- activations
 * y = f(x); dx = f'(x)·dy (tanh and sigmoid from y = f(x), as PyTorch). */

LRE_EW float lre_relu_fwd(float x) { return x > 0.0f ? x : 0.0f; }
LRE_EW float lre_relu_bwd(float x, float dy) { return x > 0.0f ? dy : 0.0f; }

LRE_EW float lre_leaky_relu_fwd(float x, float slope) { return x > 0.0f ? x : slope * x; }
LRE_EW float lre_leaky_relu_bwd(float x, float dy, float slope)
{
    return x > 0.0f ? dy : slope * dy;
}

/* exact GELU, x·Φ(x), in double as the reference */
LRE_EW float lre_gelu_fwd(float x)
{
    double v = x;
    return (float)(0.5 * v * (1.0 + erf(v * LRE_SQRT1_2)));
}
LRE_EW float lre_gelu_bwd(float x, float dy)
{
    double v = x;
    double cdf = 0.5 * (1.0 + erf(v * LRE_SQRT1_2));
    double pdf = LRE_INV_SQRT_2PI * exp(-0.5 * v * v);
    return (float)((cdf + v * pdf) * dy);
}

/* GELU's tanh approximation (approximate='tanh') */
LRE_EW float lre_gelu_tanh_fwd(float x)
{
    double v = x;
    return (float)(0.5 * v * (1.0 + tanh(LRE_SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))));
}
LRE_EW float lre_gelu_tanh_bwd(float x, float dy)
{
    double v = x;
    double inner = LRE_SQRT_2_OVER_PI * (v + 0.044715 * v * v * v);
    double t = tanh(inner);
    double dinner = LRE_SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * v * v);
    double d = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * dinner;
    return (float)(d * dy);
}

LRE_EW float lre_tanh_fwd(float x) { return tanhf(x); }
LRE_EW float lre_tanh_bwd(float y, float dy) { return (1.0f - y * y) * dy; }

LRE_EW float lre_sigmoid_fwd(float x)
{
    /* two branches keep exp from overflowing */
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}
LRE_EW float lre_sigmoid_bwd(float y, float dy) { return y * (1.0f - y) * dy; }

/* Any activation by its enum (the CUDA kernels switch per launch, not per
 * element, through these). */
LRE_EW float lre_act_fwd1(lre_act a, float param, float x)
{
    switch (a) {
    case LRE_ACT_RELU: return lre_relu_fwd(x);
    case LRE_ACT_LEAKY_RELU: return lre_leaky_relu_fwd(x, param);
    case LRE_ACT_GELU: return lre_gelu_fwd(x);
    case LRE_ACT_GELU_TANH: return lre_gelu_tanh_fwd(x);
    case LRE_ACT_TANH: return lre_tanh_fwd(x);
    case LRE_ACT_SIGMOID: return lre_sigmoid_fwd(x);
    default: return x;
    }
}

LRE_EW float lre_act_bwd1(lre_act a, float param, float x, float y, float dy)
{
    switch (a) {
    case LRE_ACT_RELU: return lre_relu_bwd(x, dy);
    case LRE_ACT_LEAKY_RELU: return lre_leaky_relu_bwd(x, dy, param);
    case LRE_ACT_GELU: return lre_gelu_bwd(x, dy);
    case LRE_ACT_GELU_TANH: return lre_gelu_tanh_bwd(x, dy);
    case LRE_ACT_TANH: return lre_tanh_bwd(y, dy);
    case LRE_ACT_SIGMOID: return lre_sigmoid_bwd(y, dy);
    default: return dy;
    }
}

/* -------------------------------------------------------- optimizers */

/* torch.optim.SGD (foreach=False) on one parameter: d = g + wd·p; with
 * momentum μ: buf = first ? d : μ·buf + (1-dampening)·d, d = nesterov ?
 * d + μ·buf : buf; p -= lr·d. `buf` is untouched without momentum. */
LRE_EW void lre_sgd1(float *p, float g, float *buf, float lr, float momentum, float keep,
                     int nesterov, float weight_decay, int first_step)
{
    float d = g;
    if (weight_decay != 0.0f) d += weight_decay * *p;
    if (momentum != 0.0f) {
        float b = first_step ? d : momentum * *buf + keep * d;
        *buf = b;
        d = nesterov ? d + momentum * b : b;
    }
    *p -= lr * d;
}

/* torch.optim.Adam / AdamW (foreach=False, amsgrad=False) on one
 * parameter: AdamW first decays p *= 1 - lr·wd (decay); Adam adds wd·p to
 * the gradient (l2). m = lerp(m, g, 1-β1) (torch's lerp for a weight below
 * 0.5: m + w·(g - m)); v = β2·v + (1-β2)·g²;
 * p -= (lr/bc1) · m / (sqrt(v)/sqrt(bc2) + eps). */
LRE_EW void lre_adam1(float *p, float g, float *m, float *v, float step_size, float bc2_sqrt,
                      float w1, float beta2, float w2, float eps, float decay, float l2)
{
    float pi = *p * decay;
    float gi = g + l2 * pi;
    float mi = *m + w1 * (gi - *m);
    float vi = beta2 * *v + w2 * gi * gi;
    *m = mi;
    *v = vi;
    *p = pi - step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
}

/* ------------------------------------------------------ cross-entropy
 * For one row of logits z (C) with max m and log-sum-exp lse (double):
 * loss = (1-ε)(lse - z_y) + ε/C Σ_c (lse - z_c) = on·(lse - z_y) + off·(C·lse - Σz),
 * dz_c = (softmax_c - target_c)·gs with target_c = on·[c == y] + off. */

LRE_EW double lre_ce_row_loss(double lse, double z_y, double sum_z, double on, double off,
                              int64_t C)
{
    double li = on * (lse - z_y);
    if (off != 0.0) li += off * ((double)C * lse - sum_z);
    return li;
}

LRE_EW float lre_ce_grad1(double z, double lse, int is_label, double on, double off, double gs)
{
    double p = exp(z - lse);
    double target = (is_label ? on : 0.0) + off;
    return (float)((p - target) * gs);
}

/* --------------------------------------------------------- convolution */

/* One input pixel (c, h, w) of col2im: `start` plus, in (kh, kw) order,
 * every entry of col (C·KH·KW rows of P = OH·OW) whose window put this
 * pixel there: (h + PH − kh·DH) must be a multiple of SH landing in
 * [0, OH), and alike for w. The sum's order is fixed, so each device that
 * runs this gives the same bits. */
LRE_EW float lre_col2im_pixel(const float *col, const lre_conv_geom *g, int64_t P, int64_t c,
                              int64_t h, int64_t w, float start)
{
    float acc = start;
    for (int64_t kh = 0; kh < g->KH; kh++) {
        int64_t th = h + g->PH - kh * g->DH;
        if (th < 0 || th % g->SH != 0) continue;
        int64_t oh = th / g->SH;
        if (oh >= g->OH) continue;
        for (int64_t kw = 0; kw < g->KW; kw++) {
            int64_t tw = w + g->PW - kw * g->DW;
            if (tw < 0 || tw % g->SW != 0) continue;
            int64_t ow = tw / g->SW;
            if (ow >= g->OW) continue;
            acc += col[((c * g->KH + kh) * g->KW + kw) * P + oh * g->OW + ow];
        }
    }
    return acc;
}

/* ------------------------------------------------------------- pooling */

/* The max of the window of output (oh, ow) over plane x (H·W), and its
 * position h·W + w in *arg: -inf padding (an all-padding window gives -inf
 * and -1); a NaN replaces the max whenever met, as torch's kernel does. */
LRE_EW float lre_max_pool1(const float *x, const lre_conv_geom *g, int64_t oh, int64_t ow,
                           int32_t *arg)
{
    float best = -INFINITY;
    int32_t at = -1;
    for (int64_t kh = 0; kh < g->KH; kh++) {
        int64_t h = oh * g->SH - g->PH + kh * g->DH;
        if (h < 0 || h >= g->H) continue;
        for (int64_t kw = 0; kw < g->KW; kw++) {
            int64_t w = ow * g->SW - g->PW + kw * g->DW;
            if (w < 0 || w >= g->W) continue;
            float v = x[h * g->W + w];
            if (v > best || v != v) {
                best = v;
                at = (int32_t)(h * g->W + w);
            }
        }
    }
    *arg = at;
    return best;
}

/* The range of outputs along one axis whose windows can hold input
 * position i (size k, stride s, padding p, dilation d, n outputs): o in
 * [lo, hi). */
LRE_EW void lre_pool_range(int64_t i, int64_t k, int64_t s, int64_t p, int64_t d, int64_t n,
                           int64_t *lo, int64_t *hi)
{
    int64_t a = i + p - d * (k - 1); /* o·s >= a */
    int64_t l = a <= 0 ? 0 : (a + s - 1) / s;
    int64_t h = (i + p) / s + 1; /* o·s <= i + p */
    *lo = l;
    *hi = h < n ? h : n;
}

/* One input pixel (h, w) of the max-pool backward: the sum, in window
 * order (oh, then ow), of dy where idx names this pixel. */
LRE_EW float lre_max_pool_back1(const float *dy, const int32_t *idx, const lre_conv_geom *g,
                                int64_t h, int64_t w)
{
    int64_t oh0, oh1, ow0, ow1;
    lre_pool_range(h, g->KH, g->SH, g->PH, g->DH, g->OH, &oh0, &oh1);
    lre_pool_range(w, g->KW, g->SW, g->PW, g->DW, g->OW, &ow0, &ow1);
    const int32_t me = (int32_t)(h * g->W + w);
    float acc = 0.0f;
    for (int64_t oh = oh0; oh < oh1; oh++)
        for (int64_t ow = ow0; ow < ow1; ow++)
            if (idx[oh * g->OW + ow] == me) acc += dy[oh * g->OW + ow];
    return acc;
}

/* The divisor of avg-pool window (oh, ow): torch's AvgPool2d (ceil_mode
 * off, no divisor_override) */
LRE_EW float lre_avg_pool_div(const lre_conv_geom *g, int64_t oh, int64_t ow, int include_pad)
{
    int64_t h0 = oh * g->SH - g->PH, w0 = ow * g->SW - g->PW;
    int64_t h1 = h0 + g->KH, w1 = ow * g->SW - g->PW + g->KW;
    int64_t ph1 = h1 < g->H + g->PH ? h1 : g->H + g->PH, pw1 = w1 < g->W + g->PW ? w1 : g->W + g->PW;
    int64_t pool = (ph1 - h0) * (pw1 - w0);
    if (h0 < 0) h0 = 0;
    if (w0 < 0) w0 = 0;
    if (h1 > g->H) h1 = g->H;
    if (w1 > g->W) w1 = g->W;
    return (float)(include_pad ? pool : (h1 - h0) * (w1 - w0));
}

/* The mean of window (oh, ow) over plane x (H·W) */
LRE_EW float lre_avg_pool1(const float *x, const lre_conv_geom *g, int64_t oh, int64_t ow,
                           int include_pad)
{
    float acc = 0.0f;
    for (int64_t kh = 0; kh < g->KH; kh++) {
        int64_t h = oh * g->SH - g->PH + kh;
        if (h < 0 || h >= g->H) continue;
        for (int64_t kw = 0; kw < g->KW; kw++) {
            int64_t w = ow * g->SW - g->PW + kw;
            if (w >= 0 && w < g->W) acc += x[h * g->W + w];
        }
    }
    return acc / lre_avg_pool_div(g, oh, ow, include_pad);
}

/* ---------------------------------------------------------- layer norm */

/* One group x (n values) of torch's LayerNorm: mean and variance (biased)
 * summed in order in double, y = (x − mean)·rstd·w + b (w and b NULL: no
 * affine), rstd = 1/sqrt(var + eps); *mean and *rstd kept for the
 * backward. */
LRE_EW void lre_layer_norm1(float *y, float *mean, float *rstd, const float *x, const float *w,
                            const float *b, int64_t n, float eps)
{
    double s = 0.0, q = 0.0;
    for (int64_t j = 0; j < n; j++) s += x[j];
    const double m = s / (double)n;
    for (int64_t j = 0; j < n; j++) q += ((double)x[j] - m) * ((double)x[j] - m);
    const float mf = (float)m, r = (float)(1.0 / sqrt(q / (double)n + (double)eps));
    for (int64_t j = 0; j < n; j++) {
        float v = (x[j] - mf) * r;
        y[j] = w ? v * w[j] + b[j] : v;
    }
    *mean = mf;
    *rstd = r;
}

/* dx of one group: with x̂ = (x − mean)·rstd and g = dy·w (dy without
 * affine), dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), the means in double */
LRE_EW void lre_layer_norm_back1(float *dx, const float *dy, const float *x, float mean,
                                 float rstd, const float *w, int64_t n)
{
    double sg = 0.0, sgx = 0.0;
    for (int64_t j = 0; j < n; j++) {
        const float g = w ? dy[j] * w[j] : dy[j], xh = (x[j] - mean) * rstd;
        sg += g;
        sgx += (double)g * xh;
    }
    const float mg = (float)(sg / (double)n), mgx = (float)(sgx / (double)n);
    for (int64_t j = 0; j < n; j++) {
        const float g = w ? dy[j] * w[j] : dy[j], xh = (x[j] - mean) * rstd;
        dx[j] = rstd * (g - mg - xh * mgx);
    }
}

/* The affine gradients of feature j over `groups` groups, in group order:
 * dw_j (+)= Σ dy·x̂, db_j (+)= Σ dy */
LRE_EW void lre_layer_norm_dparam1(float *dw, float *db, const float *dy, const float *x,
                                   const float *mean, const float *rstd, int64_t groups,
                                   int64_t n, int64_t j, int accumulate)
{
    float aw = accumulate ? dw[j] : 0.0f, ab = accumulate ? db[j] : 0.0f;
    for (int64_t gi = 0; gi < groups; gi++) {
        const float d = dy[gi * n + j];
        aw += d * ((x[gi * n + j] - mean[gi]) * rstd[gi]);
        ab += d;
    }
    dw[j] = aw;
    db[j] = ab;
}

/* ------------------------------------------------------------ random */

/* Philox4x32-10 (Salmon, Moraes, Dror, Shaw, SC'11): block `counter` of
 * stream `key`, a pure function of the two, the same on every device (the
 * core's lre_philox4x32_10 is this). */
LRE_EW void lre_philox(uint64_t key, uint64_t counter, uint32_t out[4])
{
    uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        const uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        const uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        const uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* Dropout of value e of a micro-batch: kept when the e-th 32-bit draw of
 * block (serial << 32 | e / 4) of stream `key` is at least `threshold`
 * (p·2^32), then scaled by 1/(1 − p); the mask keeps that factor (or 0). */
LRE_EW float lre_dropout_mask1(uint64_t key, uint64_t serial, uint64_t e, uint32_t threshold,
                               float scale)
{
    uint32_t r[4];
    lre_philox(key, (serial << 32) | (e >> 2), r);
    return r[e & 3] >= threshold ? scale : 0.0f;
}

/* ---------------------------------------------------------- batch norm
 * x and y: B rows of C channels of S values each (C·S per row). */

/* Channel c's normalisation: in training, the batch's mean and (biased)
 * variance over its B·S values, summed in (row, position) order in double,
 * and the running statistics moved by `momentum` (the variance unbiased,
 * as torch); in evaluation, the running ones. mean[c] and rstd[c] =
 * 1/sqrt(var + eps) are kept for the backward. */
LRE_EW void lre_batch_norm_stats1(float *mean, float *rstd, float *run_mean, float *run_var,
                                  const float *x, int64_t B, int64_t C, int64_t S, int64_t c,
                                  float eps, float momentum, int training)
{
    if (!training) {
        mean[c] = run_mean[c];
        rstd[c] = (float)(1.0 / sqrt((double)run_var[c] + (double)eps));
        return;
    }
    double s = 0.0, q = 0.0;
    const int64_t n = B * S;
    for (int64_t b = 0; b < B; b++)
        for (int64_t k = 0; k < S; k++) s += x[(b * C + c) * S + k];
    const double m = s / (double)n;
    for (int64_t b = 0; b < B; b++)
        for (int64_t k = 0; k < S; k++) {
            const double d = (double)x[(b * C + c) * S + k] - m;
            q += d * d;
        }
    const double var = q / (double)n;
    mean[c] = (float)m;
    rstd[c] = (float)(1.0 / sqrt(var + (double)eps));
    if (run_mean) {
        const double unbiased = n > 1 ? q / (double)(n - 1) : var;
        run_mean[c] = (1.0f - momentum) * run_mean[c] + momentum * (float)m;
        run_var[c] = (1.0f - momentum) * run_var[c] + momentum * (float)unbiased;
    }
}

/* One value of y: (x − mean)·rstd·w + b of its channel (w NULL: no affine) */
LRE_EW float lre_batch_norm1(float x, int64_t c, const float *mean, const float *rstd,
                             const float *w, const float *b)
{
    const float v = (x - mean[c]) * rstd[c];
    return w ? v * w[c] + b[c] : v;
}

/* Channel c's backward in training: with x̂ = (x − mean)·rstd, g = dy·w,
 * sums over the B·S values in order (double): dw (+)= Σ dy·x̂, db (+)= Σ
 * dy, and dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) (dx may be NULL) */
LRE_EW void lre_batch_norm_back1(float *dx, float *dw, float *db, const float *dy,
                                 const float *x, const float *mean, const float *rstd,
                                 const float *w, int64_t B, int64_t C, int64_t S, int64_t c,
                                 int accumulate)
{
    double sdy = 0.0, sdyx = 0.0;
    const float m = mean[c], r = rstd[c], wc = w ? w[c] : 1.0f;
    for (int64_t b = 0; b < B; b++)
        for (int64_t k = 0; k < S; k++) {
            const int64_t e = (b * C + c) * S + k;
            sdy += dy[e];
            sdyx += (double)dy[e] * ((x[e] - m) * r);
        }
    if (dw) {
        dw[c] = (accumulate ? dw[c] : 0.0f) + (float)sdyx;
        db[c] = (accumulate ? db[c] : 0.0f) + (float)sdy;
    }
    if (!dx) return;
    const double n = (double)(B * S);
    const float mg = (float)(wc * sdy / n), mgx = (float)(wc * sdyx / n);
    for (int64_t b = 0; b < B; b++)
        for (int64_t k = 0; k < S; k++) {
            const int64_t e = (b * C + c) * S + k;
            dx[e] = r * (dy[e] * wc - mg - ((x[e] - m) * r) * mgx);
        }
}

/* Adaptive average pooling (torch's AdaptiveAvgPool2d): output i of n
 * over an input of size m averages [floor(i·m/n), ceil((i+1)·m/n)). */
LRE_EW int64_t lre_adaptive_start(int64_t i, int64_t m, int64_t n) { return i * m / n; }
LRE_EW int64_t lre_adaptive_end(int64_t i, int64_t m, int64_t n)
{
    return ((i + 1) * m + n - 1) / n;
}

/* The mean of adaptive window (oh, ow) over plane x (H·W): the sum in
 * (h, w) order, divided by the window's size */
LRE_EW float lre_adaptive_avg1(const float *x, const lre_conv_geom *g, int64_t oh, int64_t ow)
{
    const int64_t h0 = lre_adaptive_start(oh, g->H, g->OH), h1 = lre_adaptive_end(oh, g->H, g->OH);
    const int64_t w0 = lre_adaptive_start(ow, g->W, g->OW), w1 = lre_adaptive_end(ow, g->W, g->OW);
    float acc = 0.0f;
    for (int64_t h = h0; h < h1; h++)
        for (int64_t w = w0; w < w1; w++) acc += x[h * g->W + w];
    return acc / (float)((h1 - h0) * (w1 - w0));
}

/* One input pixel (h, w) of the adaptive backward: each window holding it
 * gives dy / its size, summed in window order. The windows holding h are
 * oh = floor(h·OH/H) (the first whose end passes h: ends grow with oh) and
 * those after it that start at or before h. */
LRE_EW float lre_adaptive_avg_back1(const float *dy, const lre_conv_geom *g, int64_t h, int64_t w)
{
    float acc = 0.0f;
    for (int64_t oh = h * g->OH / g->H; oh < g->OH && lre_adaptive_start(oh, g->H, g->OH) <= h;
         oh++) {
        const int64_t nh = lre_adaptive_end(oh, g->H, g->OH) - lre_adaptive_start(oh, g->H, g->OH);
        for (int64_t ow = w * g->OW / g->W;
             ow < g->OW && lre_adaptive_start(ow, g->W, g->OW) <= w; ow++) {
            const int64_t nw =
                lre_adaptive_end(ow, g->W, g->OW) - lre_adaptive_start(ow, g->W, g->OW);
            acc += dy[oh * g->OW + ow] / (float)(nh * nw);
        }
    }
    return acc;
}

/* One input pixel (h, w) of the avg-pool backward: each window holding it
 * gives dy / its divisor, summed in window order */
LRE_EW float lre_avg_pool_back1(const float *dy, const lre_conv_geom *g, int64_t h, int64_t w,
                                int include_pad)
{
    int64_t oh0, oh1, ow0, ow1;
    lre_pool_range(h, g->KH, g->SH, g->PH, 1, g->OH, &oh0, &oh1);
    lre_pool_range(w, g->KW, g->SW, g->PW, 1, g->OW, &ow0, &ow1);
    float acc = 0.0f;
    for (int64_t oh = oh0; oh < oh1; oh++)
        for (int64_t ow = ow0; ow < ow1; ow++)
            acc += dy[oh * g->OW + ow] / lre_avg_pool_div(g, oh, ow, include_pad);
    return acc;
}

#endif /* LRE_ELEMENTWISE_H */
