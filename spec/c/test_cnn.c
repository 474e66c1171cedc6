/*
 * test_cnn.c — models with image layers (conv2d, max_pool2d, avg_pool2d,
 * adaptive_avg_pool2d, flatten) end to end: what lre_model_add_* and
 * lre_model_set_input_shape refuse and the messages that name the layer;
 * the description and parameter count of the LeNet (61706, as
 * torch counts it); a whole CNN's gradients, read after an SGD step at
 * lr = 0, against finite differences of the engine's own loss; the same
 * steps on every device against the CPU's; save, load and the
 * safetensors header (PyTorch's names and out×in×kh×kw); no allocation per
 * step.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "nn/nn.h"

#define NOMSG ((char *)NULL)

static lre_ctx *ctx;
static lre_device dev_now;

/* ------------------------------------------------------------ building */

static lre_model *lenet(void)
{
    lre_model *m = NULL;
    lre_window c1 = lre_conv_window(5), c2 = lre_conv_window(5), p = lre_pool_window(2);
    c1.ph = c1.pw = 2;
    chk_must(ctx, lre_model_new(ctx, &m), "model");
    chk_must(ctx, lre_model_add_conv2d(m, 1, 6, &c1), "conv2d(1,6,5,p=2)");
    chk_must(ctx, lre_model_add_act(m, LRE_ACT_RELU, 0), "relu");
    chk_must(ctx, lre_model_add_max_pool2d(m, &p), "max_pool2d(2)");
    chk_must(ctx, lre_model_add_conv2d(m, 6, 16, &c2), "conv2d(6,16,5)");
    chk_must(ctx, lre_model_add_act(m, LRE_ACT_RELU, 0), "relu");
    chk_must(ctx, lre_model_add_max_pool2d(m, &p), "max_pool2d(2)");
    chk_must(ctx, lre_model_add_flatten(m), "flatten");
    chk_must(ctx, lre_model_add_linear(m, 400, 120), "linear(400,120)");
    chk_must(ctx, lre_model_add_act(m, LRE_ACT_RELU, 0), "relu");
    chk_must(ctx, lre_model_add_linear(m, 120, 84), "linear(120,84)");
    chk_must(ctx, lre_model_add_act(m, LRE_ACT_RELU, 0), "relu");
    chk_must(ctx, lre_model_add_linear(m, 84, 10), "linear(84,10)");
    return m;
}

static void test_build(void)
{
    lre_model *m = lenet();
    char d[512];
    lre_model_describe(m, d, sizeof d);
    CHECK(strcmp(d, "conv2d(1,6,k=5,p=2) relu max_pool2d(k=2) conv2d(6,16,k=5) relu "
                    "max_pool2d(k=2) flatten linear(400,120) relu linear(120,84) relu "
                    "linear(84,10)") == 0,
          "LeNet's description", "got \"%s\"", d);
    CHECK(lre_model_num_params(m) == 61706, "LeNet has 61706 parameters (as torch counts)",
          "got %lld", (long long)lre_model_num_params(m));
    CHECK(lre_model_in_features(m) == 0, "a conv-first model's input width is unknown before "
          "its input shape", "got %lld", (long long)lre_model_in_features(m));
    static const int64_t img[2] = {28, 28}, chw[3] = {1, 28, 28}, flat[1] = {784},
                         small[2] = {8, 8}, three[3] = {3, 28, 28};
    chk_must(ctx, lre_model_set_input_shape(m, 2, img), "LeNet on 28x28");
    CHECK(lre_model_in_features(m) == 784 && lre_model_out_features(m) == 10,
          "LeNet on 28x28 rows: 784 in, 10 out", "%lld in, %lld out",
          (long long)lre_model_in_features(m), (long long)lre_model_out_features(m));
    lre_layer_info li = lre_model_layer_info(m, 2);
    CHECK(li.in == 6 * 28 * 28 && li.out == 6 * 14 * 14, "layer 3 pools 6x28x28 to 6x14x14",
          "%lld -> %lld", (long long)li.in, (long long)li.out);
    chk_must(ctx, lre_model_set_input_shape(m, 3, chw), "LeNet on 1x28x28");
    chk_err(ctx, lre_model_set_input_shape(m, 1, flat), LRE_ESHAPE,
            "flat rows into a conv2d: the layer named and the reshape hinted", "layer 1",
            "conv2d(1,6,k=5,p=2)", "784", "reshape", NOMSG);
    chk_err(ctx, lre_model_set_input_shape(m, 3, three), LRE_ESHAPE,
            "3 channels into conv2d(1,6): both numbers named", "layer 1", "expects 1 channels",
            "gets 3", NOMSG);
    chk_err(ctx, lre_model_set_input_shape(m, 2, small), LRE_ESHAPE,
            "8x8 images: layer 4's 5x5 kernel is larger than its 2x2 input", "layer 4",
            "conv2d(6,16,k=5)", "larger than the padded input", NOMSG);
    lre_model_release(m);

    /* the message: a linear whose in_features the flatten before does not give */
    m = NULL;
    lre_window c = lre_conv_window(3), p = lre_pool_window(2);
    c.ph = c.pw = 1;
    chk_must(ctx, lre_model_new(ctx, &m), "model");
    chk_must(ctx, lre_model_add_conv2d(m, 1, 2, &c), "conv2d");
    chk_must(ctx, lre_model_add_max_pool2d(m, &p), "pool");
    chk_must(ctx, lre_model_add_flatten(m), "flatten");
    chk_must(ctx, lre_model_add_linear(m, 784, 10), "linear(784,10)");
    chk_err(ctx, lre_model_set_input_shape(m, 2, img), LRE_ESHAPE,
            "linear(784,10) after a flatten of 2x14x14: layer, both counts and the source named",
            "layer 4 (linear(784,10)) expects 784 features, gets 392 from layer 3 (flatten",
            NOMSG);
    lre_model_release(m);

    /* refused when added: the numbers that do not depend on the input */
    chk_must(ctx, lre_model_new(ctx, &m), "model");
    lre_window w = lre_conv_window(3);
    w.sh = 0;
    chk_err(ctx, lre_model_add_conv2d(m, 1, 4, &w), LRE_EINVAL, "a stride of 0 is refused",
            "layer 1", "stride 0x1", NOMSG);
    w = lre_conv_window(0);
    chk_err(ctx, lre_model_add_conv2d(m, 1, 4, &w), LRE_EINVAL, "a kernel of 0 is refused",
            "kernel_size 0x0", NOMSG);
    w = lre_conv_window(3);
    w.ph = -1;
    chk_err(ctx, lre_model_add_conv2d(m, 1, 4, &w), LRE_EINVAL, "a padding of -1 is refused",
            "padding -1", NOMSG);
    w = lre_conv_window(3);
    chk_err(ctx, lre_model_add_conv2d(m, 0, 4, &w), LRE_EINVAL, "0 in_channels are refused",
            "channels", NOMSG);
    chk_err(ctx, lre_model_add_conv2d(m, 1, 4, NULL), LRE_EINVAL, "a NULL window is refused",
            NOMSG);
    chk_must(ctx, lre_model_add_conv2d(m, 1, 4, &w), "conv2d(1,4,3)");
    chk_err(ctx, lre_model_add_conv2d(m, 3, 8, &w), LRE_ESHAPE,
            "conv2d(3,8) after conv2d(1,4): channels named when added", "layer 2",
            "expects 3 channels", "gives 4", NOMSG);
    lre_window pw = lre_pool_window(2);
    pw.ph = 2;
    chk_err(ctx, lre_model_add_max_pool2d(m, &pw), LRE_EINVAL,
            "max_pool2d(2, padding 2): more than half the window", "more than half", NOMSG);
    pw = lre_pool_window(2);
    pw.dh = 2;
    chk_err(ctx, lre_model_add_avg_pool2d(m, &pw), LRE_EINVAL,
            "avg_pool2d with a dilation is refused", "no dilation", NOMSG);
    chk_err(ctx, lre_model_add_adaptive_avg_pool2d(m, 0, 1), LRE_EINVAL,
            "adaptive_avg_pool2d(0) is refused", "[1, 2^31)", NOMSG);
    CHECK(lre_model_num_layers(m) == 1, "refused layers are not added", "%d layers",
          lre_model_num_layers(m));
    chk_must(ctx, lre_model_add_adaptive_avg_pool2d(m, 3, 3), "adaptive_avg_pool2d(3)");
    chk_must(ctx, lre_model_add_flatten(m), "flatten");
    chk_must(ctx, lre_model_add_linear(m, 36, 2), "linear(36,2)");
    /* sizes whose products would overflow: refused, not wrapped */
    lre_model *big = NULL;
    chk_must(ctx, lre_model_new(ctx, &big), "model");
    lre_window huge = lre_conv_window(1 << 21);
    chk_err(ctx, lre_model_add_conv2d(big, 1 << 22, 4, &huge), LRE_EINVAL,
            "conv2d(2^22, 4, k=2^21): in_channels x kernel past 2^31 is refused", "2^31", NOMSG);
    lre_window p20 = lre_conv_window(1);
    p20.ph = p20.pw = 1 << 20;
    chk_must(ctx, lre_model_add_conv2d(big, 1, 4096, &p20), "conv2d(1,4096,k=1,p=2^20)");
    chk_err(ctx, lre_model_set_input_shape(big, 3, (int64_t[3]){1, 1, 1}), LRE_ESHAPE,
            "a last layer of 4096x(2^21+1)^2 values per row is refused, naming it", "layer 1",
            "2^31 values or more", NOMSG);
    lre_model_release(big);
    chk_must(ctx, lre_model_new(ctx, &big), "model");
    chk_must(ctx, lre_model_add_act(big, LRE_ACT_RELU, 0), "relu");
    chk_err(ctx, lre_model_set_input_shape(big, 4, (int64_t[4]){65536, 65536, 65536, 65536}),
            LRE_ESHAPE, "an input of 65536^4 values is refused, not wrapped to 0",
            "the input's rows", "65536x65536x65536x65536", NOMSG);
    lre_model_release(big);
    chk_must(ctx, lre_model_new(ctx, &big), "model");
    chk_must(ctx, lre_model_add_adaptive_avg_pool2d(big, INT32_MAX, 1), "adaptive 2^31-1");
    chk_err(ctx, lre_model_set_input_shape(big, 3, (int64_t[3]){4, 1, 1}), LRE_ESHAPE,
            "adaptive_avg_pool2d(2^31-1) on 4 channels: 2^31 values or more, refused",
            "layer 1", "2^31 values or more", NOMSG);
    lre_model_release(big);

    static const int64_t s11[2] = {11, 11}, s12[2] = {12, 12};
    chk_must(ctx, lre_model_set_input_shape(m, 2, s11),
             "adaptive_avg_pool2d(3) on the 9x9 maps of 11x11 images");
    CHECK(lre_model_in_features(m) == 121 && lre_model_out_features(m) == 2,
          "11x11 rows: 121 in, 2 out", "%lld in, %lld out", (long long)lre_model_in_features(m),
          (long long)lre_model_out_features(m));
    chk_must(ctx, lre_model_set_input_shape(m, 2, s12),
             "adaptive_avg_pool2d(3) on 10x10 maps (windows of 3 and 4, as torch's)");
    CHECK(lre_model_layer_info(m, 1).out == 36, "adaptive_avg_pool2d(3) gives 4x3x3",
          "%lld values", (long long)lre_model_layer_info(m, 1).out);
    lre_model_release(m);
}

/* A temporary path (the file made, empty): fatal on failure. */
static void temp_path(char *path)
{
    int fd = mkstemp(path);
    if (fd < 0) chk_fatal("mkstemp", "cannot make a temporary file");
    close(fd);
}

/* The JSON header of the safetensors file at path (past its 8-byte length),
 * its first n - 1 bytes, into buf. */
static const char *file_header(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(buf, 1, n - 1, f) : 0;
    if (f) fclose(f);
    buf[got] = '\0';
    return got > 8 ? buf + 8 : "";
}

/* ------------------------------------------------------------ numbers */

/* rows of C×H×W in [-1, 1), labels in [0, classes) */
static lre_dataset *images(chk_rng *r, int64_t n, int64_t C, int64_t H, int64_t W,
                           int64_t classes)
{
    lre_dataset *flat = chk_random_dataset(ctx, r, n, C * H * W, classes), *d = NULL;
    const int64_t shape[3] = {C, H, W};
    chk_must(ctx, lre_dataset_reshape(flat, &d, 3, shape), "reshape");
    lre_dataset_release(flat);
    return d;
}

/* 2x8x8 -> conv(2,3,k3,p1) tanh -> avg_pool2d(2) -> conv(3,4,k=2x3,p=0x1,d=2x1)
 * sigmoid -> adaptive_avg_pool2d(1x2) -> flatten -> linear(8,3): smooth,
 * every image layer and option but max pooling (its argmax would move
 * under a finite difference; its gradient has its own f64 check in
 * test_gradcheck). */
static lre_model *smooth_cnn(void)
{
    lre_model *m = NULL;
    lre_window c1 = lre_conv_window(3), c2 = lre_conv_window(2), p = lre_pool_window(2);
    c1.ph = c1.pw = 1;
    c2.kw = 3;
    c2.pw = 1;
    c2.dh = 2;
    chk_must(ctx, lre_model_new(ctx, &m), "model");
    chk_must(ctx, lre_model_add_conv2d(m, 2, 3, &c1), "conv2d(2,3)");
    chk_must(ctx, lre_model_add_act(m, LRE_ACT_TANH, 0), "tanh");
    chk_must(ctx, lre_model_add_avg_pool2d(m, &p), "avg_pool2d(2)");
    chk_must(ctx, lre_model_add_conv2d(m, 3, 4, &c2), "conv2d(3,4)");
    chk_must(ctx, lre_model_add_act(m, LRE_ACT_SIGMOID, 0), "sigmoid");
    chk_must(ctx, lre_model_add_adaptive_avg_pool2d(m, 1, 2), "adaptive_avg_pool2d(1x2)");
    chk_must(ctx, lre_model_add_flatten(m), "flatten");
    chk_must(ctx, lre_model_add_linear(m, 8, 3), "linear(8,3)");
    return m;
}

typedef struct eval_ud {
    lre_trainer *t;
} eval_ud;

static double engine_loss(void *ud)
{
    eval_ud *e = ud;
    float loss = NAN;
    chk_must(ctx, lre_trainer_evaluate(e->t, lre_trainer_data(e->t), &loss), "evaluate");
    return loss;
}

static void test_gradients(void)
{
    chk_rng r = {77};
    lre_dataset *d = images(&r, 12, 2, 8, 8, 3);
    lre_model *m = smooth_cnn();
    lre_trainer_opts o = lre_trainer_opts_default();
    o.optim = lre_optim_sgd_default();
    o.batch_size = 12;
    o.shuffle = 0;
    lre_trainer *t = chk_trainer(ctx, m, d, &o);
    char desc[256];
    lre_model_describe(m, desc, sizeof desc);
    CHECK(strcmp(desc, "conv2d(2,3,k=3,p=1) tanh avg_pool2d(k=2) conv2d(3,4,k=2x3,p=0x1,d=2x1) "
                       "sigmoid adaptive_avg_pool2d(1x2) flatten linear(8,3)") == 0,
          "the smooth CNN's description", "got \"%s\"", desc);
    float *before = chk_params(ctx, m), loss;
    chk_ok(ctx, lre_trainer_step(t, 0.0, &loss), "CNN: SGD step at lr=0");
    float *after = chk_params(ctx, m);
    chk_bits("CNN: SGD at lr=0 leaves the parameters unchanged", before, after,
             lre_model_num_params(m));
    float ev = NAN;
    chk_must(ctx, lre_trainer_evaluate(t, d, &ev), "evaluate");
    chk_close1("CNN: the step's loss is evaluate's (the same rows, the same forward)", ev, loss,
               1e-7, 1e-6);
    float *g = chk_download(ctx, lre_model_grads(m));
    double gmax = 0;
    for (int64_t i = 0; i < lre_model_num_params(m); i++)
        if (fabs(g[i]) > gmax) gmax = fabs(g[i]);
    CHECK(gmax > 1e-3, "CNN: the gradients are not all zero", "max |g| = %g", gmax);
    eval_ud e = {t};
    chk_fd_tensor("CNN: every parameter's gradient vs finite differences of evaluate (f32, "
                  "h=1e-2)", ctx, lre_model_params(m), 1, g, engine_loss, &e, 1e-2f, 1e-4, 1e-2);
    free(g);
    free(before);
    free(after);
    lre_trainer_release(t);
    lre_model_release(m);
    lre_dataset_release(d);
}

/* A LeNet-like net on 1x12x12 images (max pooling, relu, a conv2d without
 * bias), Adam, 6 steps: the losses and the parameters on every device
 * against the CPU's (kept from the CPU's pass, which comes first). */
#define SAME_STEPS 6
static float cpu_losses[SAME_STEPS];
static float *cpu_params;

static lre_model *small_lenet(void)
{
    lre_model *m = NULL;
    lre_window c1 = lre_conv_window(3), c2 = lre_conv_window(3), p = lre_pool_window(2);
    c1.ph = c1.pw = 1;
    c2.bias = 0;
    chk_must(ctx, lre_model_new(ctx, &m), "model");
    chk_must(ctx, lre_model_add_conv2d(m, 1, 4, &c1), "conv2d(1,4,3,p=1)");
    chk_must(ctx, lre_model_add_act(m, LRE_ACT_RELU, 0), "relu");
    chk_must(ctx, lre_model_add_max_pool2d(m, &p), "max_pool2d(2)");
    chk_must(ctx, lre_model_add_conv2d(m, 4, 6, &c2), "conv2d(4,6,3,bias=false)");
    chk_must(ctx, lre_model_add_act(m, LRE_ACT_RELU, 0), "relu");
    chk_must(ctx, lre_model_add_max_pool2d(m, &p), "max_pool2d(2)");
    chk_must(ctx, lre_model_add_flatten(m), "flatten");
    chk_must(ctx, lre_model_add_linear(m, 24, 5), "linear(24,5)");
    return m;
}

static void test_devices(void)
{
    chk_rng r = {91};
    lre_dataset *d = images(&r, 40, 1, 12, 12, 5);
    lre_model *m = small_lenet();
    lre_trainer_opts o = lre_trainer_opts_default();
    o.batch_size = 16; /* 40 rows: a short batch at the epoch's end */
    o.seed = 3;
    lre_trainer *t = chk_trainer(ctx, m, d, &o);
    CHECK(lre_model_num_params(m) == 4 * 9 + 4 + 6 * 4 * 9 + 24 * 5 + 5,
          "a conv2d without bias has no bias parameters", "%lld parameters",
          (long long)lre_model_num_params(m));
    float losses[SAME_STEPS];
    for (int i = 0; i < SAME_STEPS; i++)
        chk_must(ctx, lre_trainer_step(t, 1e-2, &losses[i]), "step");
    CHECK(losses[SAME_STEPS - 1] < losses[0], "the CNN learns: the loss falls over 6 Adam steps",
          "%g -> %g", (double)losses[0], (double)losses[SAME_STEPS - 1]);
    float *p = chk_params(ctx, m);
    const int64_t np = lre_model_num_params(m);
    if (dev_now == LRE_DEVICE_CPU) {
        memcpy(cpu_losses, losses, sizeof losses);
        free(cpu_params);
        cpu_params = p;
        p = NULL;
    } else if (cpu_params) {
        chk_close_ff(chk_name("%s: 6 CNN step losses match the CPU's", lre_device_name(dev_now)),
                     cpu_losses, losses, SAME_STEPS, 1e-5, 1e-4);
        chk_close_ff(chk_name("%s: the CNN's parameters after 6 steps match the CPU's",
                              lre_device_name(dev_now)), cpu_params, p, np, 1e-5, 1e-3);
    }
    free(p);

    /* no allocation per step, short batches and reshuffles included */
    float loss;
    uint64_t a0 = lre_ctx_alloc_count(ctx), b0 = lre_ctx_bytes_live(ctx);
    for (int i = 0; i < 12; i++) chk_must(ctx, lre_trainer_step(t, 1e-3, &loss), "step");
    uint64_t a1 = lre_ctx_alloc_count(ctx), b1 = lre_ctx_bytes_live(ctx);
    CHECK(a1 == a0 && b1 == b0, "12 more CNN steps allocate nothing",
          "alloc count %llu -> %llu, bytes live %llu -> %llu", (unsigned long long)a0,
          (unsigned long long)a1, (unsigned long long)b0, (unsigned long long)b1);
    lre_trainer_release(t);
    lre_model_release(m);
    lre_dataset_release(d);
}

/* bf16 (where the device has it): the convolutions read bf16 as the
 * matrix products do: the losses of 4 steps within bf16's rounding of
 * fp32's, and not the same bits (the rounding happened). */
static void test_bf16(void)
{
    chk_rng r = {12};
    lre_dataset *d = images(&r, 64, 1, 12, 12, 5);
    float l32[4], l16[4];
    lre_precision eff = LRE_PRECISION_FP32;
    for (int k = 0; k < 2; k++) {
        lre_model *m = small_lenet();
        lre_trainer_opts o = lre_trainer_opts_default();
        o.batch_size = 32;
        o.seed = 4;
        o.precision = k ? LRE_PRECISION_BF16 : LRE_PRECISION_FP32;
        lre_trainer *t = chk_trainer(ctx, m, d, &o);
        if (k) eff = lre_trainer_precision(t, NULL);
        for (int i = 0; i < 4; i++)
            chk_must(ctx, lre_trainer_step(t, 1e-2, k ? &l16[i] : &l32[i]), "step");
        lre_trainer_release(t);
        lre_model_release(m);
    }
    lre_dataset_release(d);
    if (eff != LRE_PRECISION_BF16) {
        chk_skip("CNN in bf16", "this device runs bf16 as fp32");
        return;
    }
    chk_close_ff("CNN in bf16: 4 step losses within 2% of fp32's", l32, l16, 4, 0, 2e-2);
    CHECK(memcmp(l32, l16, sizeof l32) != 0, "CNN in bf16: not fp32's bits (bf16 was used)",
          "the same losses");
}

/* save: PyTorch's names and shapes in the header, no bias where the conv2d
 * has none; load into a differently initialised copy: the same loss, bit
 * for bit. */
static void test_save_load(void)
{
    chk_rng r = {5};
    lre_dataset *d = images(&r, 20, 1, 12, 12, 5);
    lre_model *m = small_lenet(), *m2 = small_lenet();
    lre_trainer_opts o = lre_trainer_opts_default();
    o.batch_size = 10;
    lre_trainer *t = chk_trainer(ctx, m, d, &o);
    o.seed = 99; /* other initial weights */
    lre_trainer *t2 = chk_trainer(ctx, m2, d, &o);
    float loss, a = NAN, b = NAN;
    chk_must(ctx, lre_trainer_step(t, 1e-2, &loss), "step");
    char path[] = "/tmp/lre_test_cnn_XXXXXX", head[4096];
    temp_path(path);
    chk_ok(ctx, lre_trainer_save(t, path), "CNN: save");
    const char *h = file_header(path, head, sizeof head);
    CHECK(strstr(h, "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[4,1,3,3]") &&
              strstr(h, "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[4]") &&
              strstr(h, "\"3.weight\":{\"dtype\":\"F32\",\"shape\":[6,4,3,3]") &&
              !strstr(h, "\"3.bias\"") &&
              strstr(h, "\"7.weight\":{\"dtype\":\"F32\",\"shape\":[5,24]"),
          "CNN: the header has PyTorch's names and shapes (conv2d weight out x in x kh x kw, "
          "no bias for bias=false)", "header: %.600s", h);
    CHECK(strstr(h, "\"optim.3.weight.exp_avg\"") && !strstr(h, "\"optim.3.bias"),
          "CNN: the optimizer's state follows the same names", "header: %.600s", h);
    chk_ok(ctx, lre_trainer_load(t2, path), "CNN: load into another initialisation");
    chk_must(ctx, lre_trainer_evaluate(t, d, &a), "evaluate");
    chk_must(ctx, lre_trainer_evaluate(t2, d, &b), "evaluate");
    CHECK(memcmp(&a, &b, sizeof a) == 0, "CNN: loaded, the same loss bit for bit", "%.9g vs %.9g",
          (double)a, (double)b);
    remove(path);
    lre_trainer_release(t);
    lre_trainer_release(t2);
    lre_model_release(m);
    lre_model_release(m2);
    lre_dataset_release(d);
}

/* layer_norm in a model: its shape rules, PyTorch's initialisation (weight
 * 1, bias 0) and names, and every gradient of an MLP with it against
 * finite differences of the engine's own loss. */
static void test_layer_norm_model(void)
{
    lre_model *m = NULL;
    chk_must(ctx, lre_model_new(ctx, &m), "model");
    chk_must(ctx, lre_model_add_linear(m, 6, 8), "linear(6,8)");
    chk_err(ctx, lre_model_add_layer_norm(m, 7, 1e-5f, 1), LRE_ESHAPE,
            "layer_norm(7) after linear(6,8) is refused, naming both", "7", "8", NOMSG);
    chk_err(ctx, lre_model_add_layer_norm(m, 8, 0.0f, 1), LRE_EINVAL,
            "layer_norm with eps 0 is refused", "eps", NOMSG);
    chk_must(ctx, lre_model_add_layer_norm(m, 8, 1e-5f, 1), "layer_norm(8)");
    chk_must(ctx, lre_model_add_act(m, LRE_ACT_TANH, 0), "tanh");
    chk_must(ctx, lre_model_add_layer_norm(m, 8, 1e-3f, 0), "layer_norm(8, no affine)");
    chk_must(ctx, lre_model_add_linear(m, 8, 3), "linear(8,3)");
    char d[256];
    lre_model_describe(m, d, sizeof d);
    CHECK(strcmp(d, "linear(6,8) layer_norm(8) tanh layer_norm(8,eps=0.001,"
                    "elementwise_affine=false) linear(8,3)") == 0,
          "layer_norm's description", "got \"%s\"", d);
    CHECK(lre_model_num_params(m) == 6 * 8 + 8 + 16 + 8 * 3 + 3,
          "layer_norm(8) has 16 parameters, without affine none", "%lld",
          (long long)lre_model_num_params(m));
    chk_rng r = {21};
    lre_dataset *ds = chk_random_dataset(ctx, &r, 12, 6, 3);
    lre_trainer_opts o = lre_trainer_opts_default();
    o.optim = lre_optim_sgd_default();
    o.batch_size = 12;
    o.shuffle = 0;
    lre_trainer *t = chk_trainer(ctx, m, ds, &o);
    float *p = chk_params(ctx, m);
    int init = 1;
    for (int k = 0; k < 8; k++) init = init && p[56 + k] == 1.0f && p[64 + k] == 0.0f;
    CHECK(init, "layer_norm starts as torch's: weight 1, bias 0", "weight[0] %g, bias[0] %g",
          (double)p[56], (double)p[64]);
    free(p);
    float loss;
    chk_ok(ctx, lre_trainer_step(t, 0.0, &loss), "layer_norm MLP: SGD step at lr=0");
    float *g = chk_download(ctx, lre_model_grads(m));
    eval_ud e = {t};
    chk_fd_tensor("layer_norm MLP: every gradient vs finite differences of evaluate (f32, "
                  "h=1e-2)", ctx, lre_model_params(m), 1, g, engine_loss, &e, 1e-2f, 1e-4, 1e-2);
    free(g);
    lre_trainer_release(t);
    lre_model_release(m);
    lre_dataset_release(ds);

    /* on images: the last dimension is the one normalised */
    chk_must(ctx, lre_model_new(ctx, &m), "model");
    chk_must(ctx, lre_model_add_layer_norm(m, 28, 1e-5f, 1), "layer_norm(28)");
    chk_must(ctx, lre_model_set_input_shape(m, 2, (int64_t[2]){28, 28}),
             "layer_norm(28) on 28x28 rows (each image row)");
    chk_err(ctx, lre_model_set_input_shape(m, 1, (int64_t[1]){784}), LRE_ESHAPE,
            "layer_norm(28) on rows of 784: refused, naming both", "layer 1", "28", "784",
            NOMSG);
    lre_model_release(m);
}

/* batch norm in a model: training moves the running statistics and
 * evaluate does not; a snapshot and its restore carry them (and
 * num_batches_tracked) so that the steps after a restore repeat bit for
 * bit; save and load carry them under torch's names; a batch of one value
 * per channel is refused when the trainer is made. */
static lre_model *bn_net(void)
{
    lre_model *m = NULL;
    lre_window c = lre_conv_window(3), p = lre_pool_window(2);
    c.ph = c.pw = 1;
    chk_must(ctx, lre_model_new(ctx, &m), "model");
    chk_must(ctx, lre_model_add_conv2d(m, 1, 4, &c), "conv2d");
    chk_must(ctx, lre_model_add_batch_norm(m, 2, 4, 1e-5f, 0.1f, 1), "batch_norm2d(4)");
    chk_must(ctx, lre_model_add_act(m, LRE_ACT_RELU, 0), "relu");
    chk_must(ctx, lre_model_add_max_pool2d(m, &p), "max_pool2d");
    chk_must(ctx, lre_model_add_flatten(m), "flatten");
    chk_must(ctx, lre_model_add_linear(m, 36, 8), "linear(36,8)");
    chk_must(ctx, lre_model_add_batch_norm(m, 1, 8, 1e-3f, 0.2f, 0), "batch_norm1d(8)");
    chk_must(ctx, lre_model_add_linear(m, 8, 3), "linear(8,3)");
    return m;
}

static void test_batch_norm_model(void)
{
    chk_rng r = {31};
    lre_dataset *d = images(&r, 40, 1, 6, 6, 3);
    lre_model *m = bn_net();
    char desc[256];
    lre_model_describe(m, desc, sizeof desc);
    CHECK(strcmp(desc, "conv2d(1,4,k=3,p=1) batch_norm2d(4) relu max_pool2d(k=2) flatten "
                       "linear(36,8) batch_norm1d(8,eps=0.001,momentum=0.2,affine=false) "
                       "linear(8,3)") == 0,
          "batch norm's description", "got \"%s\"", desc);
    lre_trainer_opts o = lre_trainer_opts_default();
    o.batch_size = 8;
    o.seed = 6;
    lre_trainer *t = chk_trainer(ctx, m, d, &o);
    lre_model *mm = lre_trainer_model(t);
    float *b0 = chk_download(ctx, mm->buffers);
    CHECK(b0[0] == 0.0f && b0[4] == 1.0f && mm->layers[1].nbt == 0,
          "running statistics start at mean 0, variance 1, no batches", "mean %g var %g",
          (double)b0[0], (double)b0[4]);
    float loss, e1, e2;
    chk_must(ctx, lre_trainer_evaluate(t, d, &e1), "evaluate");
    float *b1 = chk_download(ctx, mm->buffers);
    chk_bits("evaluate leaves the running statistics alone", b0, b1, mm->n_buffers);
    chk_must(ctx, lre_trainer_step(t, 1e-2, &loss), "step");
    float *b2 = chk_download(ctx, mm->buffers);
    CHECK(memcmp(b1, b2, sizeof *b1 * (size_t)mm->n_buffers) != 0 && mm->layers[1].nbt == 1 &&
              mm->layers[6].nbt == 1,
          "a step moves the running statistics and counts the batch", "nbt %lld",
          (long long)mm->layers[1].nbt);
    lre_snapshot *snap = NULL;
    chk_must(ctx, lre_trainer_snapshot(t, &snap), "snapshot");
    float a[4], b[4];
    for (int i = 0; i < 4; i++) chk_must(ctx, lre_trainer_step(t, 1e-2, &a[i]), "step");
    chk_must(ctx, lre_trainer_evaluate(t, d, &e1), "evaluate");
    float *ba = chk_download(ctx, mm->buffers);
    chk_ok(ctx, lre_trainer_restore(t, snap), "restore");
    CHECK(mm->layers[1].nbt == 1, "restore puts num_batches_tracked back", "%lld",
          (long long)mm->layers[1].nbt);
    for (int i = 0; i < 4; i++) chk_must(ctx, lre_trainer_step(t, 1e-2, &b[i]), "step");
    chk_must(ctx, lre_trainer_evaluate(t, d, &e2), "evaluate");
    float *bb = chk_download(ctx, mm->buffers);
    chk_bits("batch norm: the 4 steps after a restore repeat bit for bit", a, b, 4);
    chk_bits("batch norm: and so do the running statistics", ba, bb, mm->n_buffers);
    CHECK(e1 == e2, "batch norm: and evaluate's loss", "%.9g vs %.9g", (double)e1, (double)e2);
    lre_snapshot_release(snap);

    /* save, then load into a fresh trainer of the same net */
    char path[] = "/tmp/lre_test_bn_XXXXXX", head[8192];
    temp_path(path);
    chk_ok(ctx, lre_trainer_save(t, path), "batch norm: save");
    const char *h = file_header(path, head, sizeof head);
    CHECK(strstr(h, "\"1.running_mean\":{\"dtype\":\"F32\",\"shape\":[4]") &&
              strstr(h, "\"1.running_var\":{\"dtype\":\"F32\",\"shape\":[4]") &&
              strstr(h, "\"1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[]") &&
              strstr(h, "\"6.running_mean\"") && !strstr(h, "\"6.weight\""),
          "batch norm: the file has torch's buffer names (num_batches_tracked an I64 scalar)",
          "header: %.800s", h);
    lre_model *m2 = bn_net();
    lre_trainer *t2 = chk_trainer(ctx, m2, d, &o);
    chk_ok(ctx, lre_trainer_load(t2, path), "batch norm: load");
    float *bl = chk_download(ctx, lre_trainer_model(t2)->buffers);
    chk_bits("batch norm: load restores the running statistics", bb, bl, mm->n_buffers);
    CHECK(lre_trainer_model(t2)->layers[6].nbt == 5, "batch norm: and num_batches_tracked",
          "%lld", (long long)lre_trainer_model(t2)->layers[6].nbt);
    float e3;
    chk_must(ctx, lre_trainer_evaluate(t2, d, &e3), "evaluate");
    CHECK(e3 == e2, "batch norm: the loaded trainer evaluates the same", "%.9g vs %.9g",
          (double)e3, (double)e2);
    remove(path);
    free(b0);
    free(b1);
    free(b2);
    free(ba);
    free(bb);
    free(bl);
    lre_trainer_release(t2);
    lre_model_release(m2);
    lre_trainer_release(t);
    lre_model_release(m);

    /* one value per channel: refused when made, not at the step */
    lre_model *m3 = NULL;
    chk_must(ctx, lre_model_new(ctx, &m3), "model");
    chk_must(ctx, lre_model_add_linear(m3, 36, 4), "linear");
    chk_must(ctx, lre_model_add_batch_norm(m3, 1, 4, 1e-5f, 0.1f, 1), "batch_norm1d(4)");
    lre_trainer *t3 = NULL;
    lre_trainer_opts o3 = o;
    o3.batch_size = 13; /* 40 rows: the last batch has one */
    lre_dataset *flat = NULL;
    chk_must(ctx, lre_dataset_reshape(d, &flat, 1, (int64_t[1]){36}), "flat");
    chk_err(ctx, lre_trainer_new(ctx, &t3, m3, flat, &o3), LRE_EINVAL,
            "batch_norm1d with a last batch of one row is refused at creation, naming the layer",
            "layer 2", "batch_norm1d(4)", "drop_last", NOMSG);
    o3.drop_last = 1;
    chk_ok(ctx, lre_trainer_new(ctx, &t3, m3, flat, &o3), "with drop_last it is made");
    chk_err(ctx, lre_model_add_batch_norm(m3, 3, 4, 1e-5f, 0.1f, 1), LRE_EINVAL,
            "batch norm of 3 dims is refused", "dims 3", NOMSG);
    lre_trainer_release(t3);
    lre_model_release(m3);
    lre_dataset_release(flat);
    lre_dataset_release(d);
}

/* dropout: the mask's rate and scaling, the same mask for the same seed,
 * serial and layer and another otherwise; in a trainer: p = 0 gives the
 * steps of the net without it, the same seed replays the same losses,
 * another seed does not, a restore repeats the steps after it bit for bit,
 * and evaluate lets the values through. */
static void test_dropout(void)
{
    const int64_t n = 200000;
    lre_tensor *x = chk_t2(ctx, LRE_F32, 1, n), *y = chk_t2(ctx, LRE_F32, 1, n);
    lre_tensor *mask = chk_t2(ctx, LRE_F32, 1, n), *rng = chk_t1(ctx, LRE_I64, 4);
    chk_set_all(ctx, x, 2.0f);
    uint64_t r[4] = {7, 100, 7, 101};
    chk_write(ctx, rng, r);
    const uint64_t *dev = (const uint64_t *)lre_tensor_data(rng);
    chk_must(ctx, lre_dropout_dev(ctx, y, mask, x, 0.3f, dev, 11), "dropout");
    float *m1 = chk_download(ctx, mask), *y1 = chk_download(ctx, y);
    int64_t zeros = 0, bad = 0;
    for (int64_t i = 0; i < n; i++) {
        if (m1[i] == 0.0f) zeros++;
        else if (m1[i] != 1.0f / 0.7f) bad++;
        if (y1[i] != 2.0f * m1[i]) bad++;
    }
    const double rate = (double)zeros / (double)n; /* sd of the rate: ~0.001 */
    CHECK(fabs(rate - 0.3) < 0.005 && bad == 0,
          "dropout(0.3): 30% dropped (within 5 sd), the rest scaled by 1/0.7, y = x·mask",
          "rate %.4f, %lld bad values", rate, (long long)bad);
    chk_must(ctx, lre_dropout_dev(ctx, y, mask, x, 0.3f, dev, 11), "dropout again");
    float *m2 = chk_download(ctx, mask);
    chk_bits("dropout: the same seed, serial and layer give the same mask", m1, m2, n);
    chk_must(ctx, lre_dropout_dev(ctx, y, mask, x, 0.3f, dev + 2, 11), "next serial");
    float *m3 = chk_download(ctx, mask);
    chk_must(ctx, lre_dropout_dev(ctx, y, mask, x, 0.3f, dev, 12), "another layer");
    float *m4 = chk_download(ctx, mask);
    CHECK(memcmp(m1, m3, sizeof *m1 * (size_t)n) != 0 && memcmp(m1, m4, sizeof *m1 * (size_t)n),
          "dropout: another serial or another layer gives another mask", "the same bits");
    chk_err(ctx, lre_dropout_dev(ctx, y, mask, x, 1.0f, dev, 1), LRE_EINVAL,
            "dropout with p 1 is refused", "[0, 1)", NOMSG);
    free(m1);
    free(y1);
    free(m2);
    free(m3);
    free(m4);
    lre_tensor *ts[] = {x, y, mask, rng};
    for (int i = 0; i < 4; i++) lre_tensor_release(ts[i]);

    chk_rng rr = {41};
    lre_dataset *d = chk_random_dataset(ctx, &rr, 48, 10, 3);
    float l[5][5];
    const float ps[5] = {0.0f, -1.0f, 0.5f, 0.5f, 0.5f}; /* -1: no dropout layer */
    const uint64_t seeds[5] = {1, 1, 1, 2, 1};
    for (int k = 0; k < 5; k++) {
        lre_model *m = NULL;
        chk_must(ctx, lre_model_new(ctx, &m), "model");
        chk_must(ctx, lre_model_add_linear(m, 10, 16), "linear");
        chk_must(ctx, lre_model_add_act(m, LRE_ACT_RELU, 0), "relu");
        if (ps[k] >= 0) chk_must(ctx, lre_model_add_dropout(m, ps[k]), "dropout");
        chk_must(ctx, lre_model_add_linear(m, 16, 3), "linear");
        chk_must(ctx, lre_model_init(m, 5), "init"); /* the same weights for every k */
        lre_trainer_opts o = lre_trainer_opts_default();
        o.batch_size = 8;
        o.seed = seeds[k];
        o.shuffle = 0; /* the same batches for every seed: only the masks differ */
        lre_trainer *t = chk_trainer(ctx, m, d, &o);
        for (int i = 0; i < 5; i++) chk_must(ctx, lre_trainer_step(t, 1e-2, &l[k][i]), "step");
        if (k == 2) { /* evaluate: no dropout, so the same twice; restore: exact */
            float e1, e2, a[3], b[3];
            chk_must(ctx, lre_trainer_evaluate(t, d, &e1), "evaluate");
            chk_must(ctx, lre_trainer_evaluate(t, d, &e2), "evaluate");
            CHECK(e1 == e2, "dropout: evaluate lets the values through (the same loss twice)",
                  "%g vs %g", (double)e1, (double)e2);
            lre_snapshot *snap = NULL;
            chk_must(ctx, lre_trainer_snapshot(t, &snap), "snapshot");
            for (int i = 0; i < 3; i++) chk_must(ctx, lre_trainer_step(t, 1e-2, &a[i]), "step");
            chk_must(ctx, lre_trainer_restore(t, snap), "restore");
            for (int i = 0; i < 3; i++) chk_must(ctx, lre_trainer_step(t, 1e-2, &b[i]), "step");
            chk_bits("dropout: the steps after a restore repeat bit for bit (the masks too)", a,
                     b, 3);
            lre_snapshot_release(snap);
        }
        lre_trainer_release(t);
        lre_model_release(m);
    }
    chk_bits("dropout(0): the steps of the net without it", l[1], l[0], 5);
    CHECK(memcmp(l[2], l[1], sizeof l[1]) != 0, "dropout(0.5) changes the steps",
          "the same losses");
    CHECK(memcmp(l[3], l[2], sizeof l[2]) != 0, "another seed draws other masks (the same "
          "batches)", "the same losses");
    chk_bits("the same seed replays the same masks: the same losses", l[2], l[4], 5);
    lre_dataset_release(d);
}

/* residual blocks: what is refused and when; the names torch gives the
 * nested parameters; every gradient of a net with an identity block and a
 * block with a shortcut against finite differences of the engine's loss;
 * save and load. */
static void test_residual(void)
{
    lre_model *m = NULL;
    chk_must(ctx, lre_model_new(ctx, &m), "model");
    chk_err(ctx, lre_model_begin_shortcut(m), LRE_EINVAL, "a shortcut outside a block is refused",
            "none is open", NOMSG);
    chk_err(ctx, lre_model_end_residual(m), LRE_EINVAL, "an end without a block is refused",
            "no residual block is open", NOMSG);
    chk_must(ctx, lre_model_add_linear(m, 6, 6), "linear(6,6)");
    chk_must(ctx, lre_model_add_act(m, LRE_ACT_TANH, 0), "tanh");
    chk_must(ctx, lre_model_begin_residual(m), "residual");
    chk_err(ctx, lre_model_begin_residual(m), LRE_EINVAL, "blocks do not nest", "nest", NOMSG);
    chk_err(ctx, lre_model_end_residual(m), LRE_EINVAL, "an empty branch is refused",
            "branch has no layers", NOMSG);
    chk_must(ctx, lre_model_add_linear(m, 6, 6), "linear(6,6)");
    chk_must(ctx, lre_model_add_act(m, LRE_ACT_TANH, 0), "tanh");
    chk_err(ctx, lre_model_add_flatten(m), LRE_EINVAL, "flatten inside a block is refused",
            "no flatten inside", NOMSG);
    chk_must(ctx, lre_model_end_residual(m), "end");
    chk_must(ctx, lre_model_begin_residual(m), "residual");
    chk_must(ctx, lre_model_add_linear(m, 6, 4), "linear(6,4)");
    chk_must(ctx, lre_model_add_act(m, LRE_ACT_SIGMOID, 0), "sigmoid");
    chk_must(ctx, lre_model_begin_shortcut(m), "shortcut");
    chk_must(ctx, lre_model_add_linear(m, 6, 4), "shortcut linear(6,4)");
    chk_must(ctx, lre_model_end_residual(m), "end");
    chk_must(ctx, lre_model_add_linear(m, 4, 3), "linear(4,3)");
    char d[400];
    lre_model_describe(m, d, sizeof d);
    CHECK(strcmp(d, "linear(6,6) tanh residual{linear(6,6) tanh} residual{linear(6,4) sigmoid;"
                    "shortcut{linear(6,4)}} linear(4,3)") == 0,
          "residual blocks' description", "got \"%s\"", d);
    static const char *const names[] = {"0", "1", "2", "2.0", "2.1", "2", "3", "3.0", "3.1",
                                        "3.shortcut", "3.shortcut.0", "3", "4"};
    int named = lre_model_num_layers(m) == 13;
    for (int i = 0; named && i < 13; i++) named = strcmp(lre_model_layer_name(m, i), names[i]) == 0;
    CHECK(named, "layer names follow torch's nesting (2.0, 3.shortcut.0)", "layer 10 is %s",
          lre_model_layer_name(m, 10));
    chk_rng r = {61};
    lre_dataset *ds = chk_random_dataset(ctx, &r, 12, 6, 3);
    lre_trainer_opts o = lre_trainer_opts_default();
    o.optim = lre_optim_sgd_default();
    o.batch_size = 12;
    o.shuffle = 0;
    lre_trainer *t = chk_trainer(ctx, m, ds, &o);
    float loss;
    chk_ok(ctx, lre_trainer_step(t, 0.0, &loss), "residual net: SGD step at lr=0");
    float *g = chk_download(ctx, lre_model_grads(m));
    eval_ud e = {t};
    chk_fd_tensor("residual net: every gradient vs finite differences of evaluate (f32, h=1e-2)",
                  ctx, lre_model_params(m), 1, g, engine_loss, &e, 1e-2f, 1e-4, 1e-2);
    free(g);
    char path[] = "/tmp/lre_test_res_XXXXXX", head[8192];
    temp_path(path);
    chk_ok(ctx, lre_trainer_save(t, path), "residual net: save");
    const char *hj = file_header(path, head, sizeof head);
    CHECK(strstr(hj, "\"2.0.weight\"") && strstr(hj, "\"3.shortcut.0.bias\"") &&
              strstr(hj, "\"4.weight\"") && !strstr(hj, "\"3.weight\""),
          "residual net: the file names the nested parameters as torch", "header: %.600s",
          head + 8);
    lre_model *m2 = NULL;
    chk_must(ctx, lre_model_clone(m, &m2), "clone");
    chk_must(ctx, lre_model_init(m2, 99), "other weights");
    lre_trainer *t2 = chk_trainer(ctx, m2, ds, &o);
    chk_ok(ctx, lre_trainer_load(t2, path), "residual net: load");
    float e1, e2;
    chk_must(ctx, lre_trainer_evaluate(t, ds, &e1), "evaluate");
    chk_must(ctx, lre_trainer_evaluate(t2, ds, &e2), "evaluate");
    CHECK(e1 == e2, "residual net: loaded, the same loss", "%g vs %g", (double)e1, (double)e2);
    remove(path);
    lre_trainer_release(t2);
    lre_model_release(m2);
    lre_trainer_release(t);
    lre_model_release(m);
    lre_dataset_release(ds);

    /* a block that changes the shape without a shortcut: refused with the input shape */
    chk_must(ctx, lre_model_new(ctx, &m), "model");
    chk_must(ctx, lre_model_begin_residual(m), "residual");
    chk_must(ctx, lre_model_add_linear(m, 6, 4), "linear(6,4)");
    chk_err(ctx, lre_model_init(m, 1), LRE_ESTATE, "an unclosed block is refused at init",
            "not closed", NOMSG);
    chk_must(ctx, lre_model_end_residual(m), "end");
    chk_err(ctx, lre_model_set_input_shape(m, 1, (int64_t[1]){6}), LRE_ESHAPE,
            "residual{linear(6,4)} on 6 values: refused, naming the block and both shapes",
            "residual block 0", "rows of 4", "rows of 6", "shortcut", NOMSG);
    lre_model_release(m);
}

/* A first layer without weights (flatten, then an MLP on 2-D rows), and
 * the clone of a trainer of a CNN. */
static void test_flatten_first(void)
{
    chk_rng r = {8};
    lre_dataset *flat = chk_random_dataset(ctx, &r, 16, 12, 3), *d = NULL;
    chk_must(ctx, lre_dataset_reshape(flat, &d, 2, (int64_t[2]){3, 4}), "reshape 3x4");
    lre_model *m = NULL, *plain = NULL;
    chk_must(ctx, lre_model_new(ctx, &m), "model");
    chk_must(ctx, lre_model_add_flatten(m), "flatten");
    chk_must(ctx, lre_model_add_linear(m, 12, 3), "linear(12,3)");
    plain = chk_mlp(ctx, (int64_t[2]){12, 3}, 2, LRE_ACT_RELU, 0);
    lre_trainer_opts o = lre_trainer_opts_default();
    o.batch_size = 4;
    lre_trainer *t = chk_trainer(ctx, m, d, &o), *u = chk_trainer(ctx, plain, flat, &o);
    float a[3], b[3];
    for (int i = 0; i < 3; i++) {
        chk_must(ctx, lre_trainer_step(t, 1e-2, &a[i]), "step");
        chk_must(ctx, lre_trainer_step(u, 1e-2, &b[i]), "step");
    }
    chk_bits("flatten then linear on 3x4 rows: the same steps as linear on 12", b, a, 3);
    lre_trainer *c = NULL;
    chk_ok(ctx, lre_trainer_clone(t, &c, NULL), "clone of a trainer whose first layer is flatten");
    float e1, e2;
    chk_must(ctx, lre_trainer_evaluate(t, d, &e1), "evaluate");
    if (c) chk_must(ctx, lre_trainer_evaluate(c, d, &e2), "evaluate");
    CHECK(c && e1 == e2, "the clone gives the same loss", "%g vs %g", (double)e1, (double)e2);
    lre_trainer_release(c);
    lre_trainer_release(t);
    lre_trainer_release(u);
    lre_model_release(m);
    lre_model_release(plain);
    lre_dataset_release(d);
    lre_dataset_release(flat);
}

int main(void)
{
    CHK_FOR_EACH_DEVICE(dev)
    {
        dev_now = dev;
        ctx = chk_ctx_on(dev, 1);
        if (dev == LRE_DEVICE_CPU) test_build();
        test_gradients();
        test_devices();
        test_save_load();
        test_flatten_first();
        test_bf16();
        test_layer_norm_model();
        test_batch_norm_model();
        test_dropout();
        test_residual();
        lre_ctx_release(ctx);
    }
    free(cpu_params);
    return chk_done("test_cnn");
}
