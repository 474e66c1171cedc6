/*
 * test_errors.c — bad input from C: every fallible call refuses it with a
 * status and a message that says what and where, and nothing crashes (this
 * binary runs under ASan/UBSan in `make asan`).
 *
 * Each check asserts the status (the specific code where the header implies
 * one: LRE_ESHAPE for shapes that do not fit, LRE_EINVAL for bad values,
 * types and NULLs, LRE_ESTATE for a call the object's state forbids), a
 * non-empty lre_ctx_error, and the pieces the message must name: the
 * shapes as "d0,d1" (spaces ignored, so "[3, 5]" and "f32[3,5]" both match),
 * the dtype, the row and column, the field. Rows and columns of a dataset
 * are named 1-based ("row 8, column 3" for x[7][2], like a file's lines);
 * a row of a tensor in an op (cross-entropy's labels) 0-based, like its
 * index. Choices the header leaves open, made here (tell the lead if they
 * change):
 *   - lr < 0 or NaN is refused (LRE_EINVAL) by lre_trainer_step and
 *     lre_optim_update, as torch.optim refuses lr < 0 (its check
 *     `0.0 <= lr` refuses NaN too); lr = 0 is valid; a refused step changes
 *     nothing;
 *   - lre_optim_update's step must be >= 1 (it is "the 1-based count");
 *   - normalize with std <= 0 or NaN is refused.
 * Every check runs once per device (CHK_FOR_EACH_DEVICE, check.h; tensors
 * are filled and read through host copies), except context creation and
 * status names, which no device changes (once, names without a device).
 */
#include "check.h"

static lre_ctx *ctx;

#define NOMSG ((char *)NULL)

static void test_tensors(void)
{
    lre_tensor *t = NULL;
    int64_t s5[5] = {1, 2, 3, 4, 5}, neg[2] = {3, -2}, ok2[2] = {3, 4};
    chk_err(ctx, lre_tensor_new(ctx, &t, LRE_F32, 5, s5), LRE_EINVAL,
            "tensor_new with 5 dims is refused, naming the limit 4", "4", NOMSG);
    CHECK(t == NULL, "failed tensor_new leaves *out NULL", "got %p", (void *)t);
    chk_err(ctx, lre_tensor_new(ctx, &t, LRE_F32, 2, neg), LRE_OK,
            "tensor_new with a negative dim is refused, naming it", "-2", NOMSG);
    chk_err(ctx, lre_tensor_new(ctx, &t, LRE_DTYPE_COUNT, 2, ok2), LRE_EINVAL,
            "tensor_new with an unknown dtype is refused", NOMSG);
    chk_err(ctx, lre_tensor_new(ctx, &t, LRE_F32, -1, ok2), LRE_EINVAL,
            "tensor_new with ndim -1 is refused", NOMSG);
    chk_err(ctx, lre_tensor_new(ctx, NULL, LRE_F32, 2, ok2), LRE_EINVAL,
            "tensor_new with out = NULL is refused", NOMSG);
    chk_err(ctx, lre_tensor_new(ctx, &t, LRE_F32, 2, NULL), LRE_EINVAL,
            "tensor_new with shape = NULL and ndim 2 is refused", NOMSG);

    lre_tensor *base = chk_t2(ctx, LRE_F32, 3, 4), *v = NULL;
    int64_t vs[1] = {5}, vs2[2] = {2, 4}, big[1] = {13};
    chk_ok(ctx, lre_tensor_view(&v, base, 7, 1, vs),
           "view of 5 elements at offset 7 of 12 is fine");
    if (v) lre_tensor_release(v);
    v = NULL;
    chk_err(ctx, lre_tensor_view(&v, base, 8, 1, vs), LRE_OK,
            "view of 5 elements at offset 8 of f32[3,4] is refused, naming them", "8", "3,4",
            NOMSG);
    chk_err(ctx, lre_tensor_view(&v, base, -1, 1, vs), LRE_OK, "view at offset -1 is refused",
            NOMSG);
    chk_err(ctx, lre_tensor_view(&v, base, 0, 1, big), LRE_OK,
            "view of 13 elements of 12 is refused", "13", NOMSG);
    chk_err(ctx, lre_tensor_view(&v, base, 6, 2, vs2), LRE_OK,
            "view (2,4) at offset 6 of 12 is refused", NOMSG);
    chk_err(ctx, lre_tensor_view(&v, base, 0, 5, s5), LRE_OK, "view with 5 dims is refused", NOMSG);
    CHECK(v == NULL, "failed views leave *out NULL", "got %p", (void *)v);

    float host[12] = {0};
    chk_err(ctx, lre_tensor_from_host(base, host, 11 * sizeof(float)), LRE_OK,
            "from_host with 44 bytes into f32[3,4] (48) is refused, naming both", "44", "48",
            NOMSG);
    chk_err(ctx, lre_tensor_to_host(base, host, 13 * sizeof(float)), LRE_OK,
            "to_host with 52 bytes from f32[3,4] (48) is refused", "52", "48", NOMSG);
    chk_err(ctx, lre_tensor_from_host(base, NULL, 48), LRE_EINVAL, "from_host from NULL is refused",
            NOMSG);
    lre_tensor_release(base);

    char buf[64];
    lre_tensor *d = chk_t2(ctx, LRE_F32, 128, 784);
    const char *desc = lre_tensor_describe(d, buf, sizeof buf);
    CHECK(desc && strcmp(desc, "f32[128,784]") == 0, "tensor_describe gives f32[128,784]",
          "got \"%s\"", desc ? desc : "NULL");
    lre_tensor_release(d);
}

static void test_ops(void)
{
    lre_tensor *a35 = chk_t2(ctx, LRE_F32, 3, 5), *b46 = chk_t2(ctx, LRE_F32, 4, 6);
    lre_tensor *b56 = chk_t2(ctx, LRE_F32, 5, 6), *c36 = chk_t2(ctx, LRE_F32, 3, 6);
    lre_tensor *c37 = chk_t2(ctx, LRE_F32, 3, 7), *i35 = chk_t2(ctx, LRE_I32, 3, 5);
    lre_tensor *a3d = chk_t3(ctx, LRE_F32, 3, 5, 1);

    /* matmul */
    chk_ok(ctx, lre_matmul(ctx, c36, a35, 0, b56, 0, 0), "matmul (3,5)·(5,6) -> (3,6) runs");
    chk_err(ctx, lre_matmul(ctx, c36, a35, 0, b46, 0, 0), LRE_ESHAPE,
            "matmul (3,5)·(4,6): inner mismatch names both shapes", "3,5", "4,6", NOMSG);
    chk_err(ctx, lre_matmul(ctx, c37, a35, 0, b56, 0, 0), LRE_ESHAPE,
            "matmul into (3,7) for (3,6) names the output shape", "3,7", NOMSG);
    chk_err(ctx, lre_matmul(ctx, c36, a35, 1, b56, 0, 0), LRE_ESHAPE,
            "matmul a^T (5,3)·(5,6) names the shapes", "3,5", "5,6", NOMSG);
    chk_err(ctx, lre_matmul(ctx, c36, i35, 0, b56, 0, 0), LRE_EINVAL,
            "matmul with an i32 operand names the dtype", "i32", NOMSG);
    chk_err(ctx, lre_matmul(ctx, c36, a3d, 0, b56, 0, 0), LRE_OK,
            "matmul with a 3-D operand is refused, naming its shape", "3,5,1", NOMSG);
    chk_err(ctx, lre_matmul(ctx, c36, NULL, 0, b56, 0, 0), LRE_EINVAL,
            "matmul with a = NULL is refused", NOMSG);
    chk_err(ctx, lre_matmul(ctx, NULL, a35, 0, b56, 0, 0), LRE_EINVAL,
            "matmul with c = NULL is refused", NOMSG);

    /* linear: x (4,5), w (3,5), b (3), y (4,3) */
    lre_tensor *x = chk_t2(ctx, LRE_F32, 4, 5), *w = chk_t2(ctx, LRE_F32, 3, 5);
    lre_tensor *b = chk_t1(ctx, LRE_F32, 3), *y = chk_t2(ctx, LRE_F32, 4, 3);
    lre_tensor *w36 = chk_t2(ctx, LRE_F32, 3, 6), *b7 = chk_t1(ctx, LRE_F32, 7);
    lre_tensor *y42 = chk_t2(ctx, LRE_F32, 4, 2), *dx = chk_t2(ctx, LRE_F32, 4, 5);
    lre_tensor *dx46 = chk_t2(ctx, LRE_F32, 4, 6), *dw = chk_t2(ctx, LRE_F32, 3, 5);
    lre_tensor *dw25 = chk_t2(ctx, LRE_F32, 2, 5), *dy = chk_t2(ctx, LRE_F32, 4, 3);
    lre_tensor *dy53 = chk_t2(ctx, LRE_F32, 5, 3), *yi = chk_t2(ctx, LRE_I32, 4, 3);
    chk_ok(ctx, lre_linear_forward(ctx, y, x, w, b), "linear_forward (4,5)·(3,5)^T+(3) runs");
    chk_err(ctx, lre_linear_forward(ctx, y, x, w36, b), LRE_ESHAPE,
            "linear_forward x (4,5) with w (3,6) names both", "4,5", "3,6", NOMSG);
    chk_err(ctx, lre_linear_forward(ctx, y, x, w, b7), LRE_ESHAPE,
            "linear_forward with bias (7) for 3 outputs names it", "7", NOMSG);
    chk_err(ctx, lre_linear_forward(ctx, y42, x, w, b), LRE_ESHAPE,
            "linear_forward into y (4,2) names it", "4,2", NOMSG);
    chk_err(ctx, lre_linear_forward(ctx, yi, x, w, b), LRE_EINVAL,
            "linear_forward into an i32 y names the dtype", "i32", NOMSG);
    chk_err(ctx, lre_linear_forward(ctx, y, NULL, w, b), LRE_EINVAL,
            "linear_forward with x = NULL is refused", NOMSG);
    chk_err(ctx, lre_linear_forward(ctx, y, x, NULL, b), LRE_EINVAL,
            "linear_forward with w = NULL is refused", NOMSG);
    chk_ok(ctx, lre_linear_backward(ctx, dx, dw, b, dy, x, w, 0), "linear_backward runs");
    chk_err(ctx, lre_linear_backward(ctx, dx46, dw, b, dy, x, w, 0), LRE_ESHAPE,
            "linear_backward dx (4,6) for x (4,5) names both", "4,6", "4,5", NOMSG);
    chk_err(ctx, lre_linear_backward(ctx, dx, dw25, b, dy, x, w, 0), LRE_ESHAPE,
            "linear_backward dw (2,5) for w (3,5) names both", "2,5", "3,5", NOMSG);
    chk_err(ctx, lre_linear_backward(ctx, dx, dw, b7, dy, x, w, 0), LRE_ESHAPE,
            "linear_backward db (7) for 3 outputs names it", "7", NOMSG);
    chk_err(ctx, lre_linear_backward(ctx, dx, dw, b, dy53, x, w, 0), LRE_ESHAPE,
            "linear_backward dy (5,3) for x (4,5) names both", "5,3", "4,5", NOMSG);
    chk_err(ctx, lre_linear_backward(ctx, dx, NULL, b, dy, x, w, 0), LRE_EINVAL,
            "linear_backward with dw = NULL is refused", NOMSG);

    /* activations */
    lre_tensor *u = chk_t2(ctx, LRE_F32, 4, 5), *u45 = chk_t2(ctx, LRE_F32, 4, 5);
    lre_tensor *u54 = chk_t2(ctx, LRE_F32, 5, 4), *ui = chk_t2(ctx, LRE_I32, 4, 5);
    chk_ok(ctx, lre_act_forward(ctx, LRE_ACT_RELU, 0, u45, u), "act_forward relu runs");
    chk_err(ctx, lre_act_forward(ctx, LRE_ACT_TANH, 0, u54, u), LRE_ESHAPE,
            "act_forward y (5,4) for x (4,5) names both", "5,4", "4,5", NOMSG);
    chk_err(ctx, lre_act_forward(ctx, LRE_ACT_COUNT, 0, u45, u), LRE_EINVAL,
            "act_forward with an unknown activation is refused", NOMSG);
    chk_err(ctx, lre_act_forward(ctx, (lre_act)-1, 0, u45, u), LRE_EINVAL,
            "act_forward with activation -1 is refused", NOMSG);
    chk_err(ctx, lre_act_forward(ctx, LRE_ACT_RELU, 0, u45, ui), LRE_EINVAL,
            "act_forward of an i32 tensor names the dtype", "i32", NOMSG);
    chk_err(ctx, lre_act_backward(ctx, LRE_ACT_SIGMOID, 0, u45, u54, u, u45), LRE_ESHAPE,
            "act_backward dy (5,4) for x (4,5) names both", "5,4", "4,5", NOMSG);
    chk_err(ctx, lre_act_backward(ctx, LRE_ACT_SIGMOID, 0, u45, u, u, NULL), LRE_EINVAL,
            "act_backward of sigmoid without y is refused", NOMSG);
    chk_err(ctx, lre_act_forward(ctx, LRE_ACT_RELU, 0, NULL, u), LRE_EINVAL,
            "act_forward with y = NULL is refused", NOMSG);

    /* cross-entropy: logits (4,3), labels (4) */
    lre_tensor *z = chk_t2(ctx, LRE_F32, 4, 3), *lab = chk_t1(ctx, LRE_I32, 4);
    lre_tensor *lab5 = chk_t1(ctx, LRE_I32, 5), *labf = chk_t1(ctx, LRE_F32, 4);
    lre_tensor *dz = chk_t2(ctx, LRE_F32, 4, 3), *dz43 = chk_t2(ctx, LRE_F32, 3, 4);
    lre_tensor *z1 = chk_t1(ctx, LRE_F32, 12);
    float loss = 0;
    chk_ok(ctx, lre_cross_entropy(ctx, &loss, dz, z, lab, 0, 1), "cross_entropy runs");
    chk_err(ctx, lre_cross_entropy(ctx, &loss, dz, z, lab5, 0, 1), LRE_ESHAPE,
            "cross_entropy logits (4,3) with 5 labels names both", "4,3", "5", NOMSG);
    chk_err(ctx, lre_cross_entropy(ctx, &loss, dz, z, labf, 0, 1), LRE_EINVAL,
            "cross_entropy with f32 labels names the dtype", "f32", NOMSG);
    chk_err(ctx, lre_cross_entropy(ctx, &loss, dz43, z, lab, 0, 1), LRE_ESHAPE,
            "cross_entropy dlogits (3,4) for logits (4,3) names both", "3,4", "4,3", NOMSG);
    chk_err(ctx, lre_cross_entropy(ctx, &loss, NULL, z1, lab, 0, 1), LRE_OK,
            "cross_entropy with 1-D logits is refused", "12", NOMSG);
    chk_err(ctx, lre_cross_entropy(ctx, &loss, dz, z, lab, -0.1f, 1), LRE_EINVAL,
            "cross_entropy smoothing -0.1 is refused", "smoothing", NOMSG);
    chk_err(ctx, lre_cross_entropy(ctx, &loss, dz, z, lab, 1.5f, 1), LRE_EINVAL,
            "cross_entropy smoothing 1.5 is refused", "smoothing", NOMSG);
    chk_err(ctx, lre_cross_entropy(ctx, &loss, dz, z, lab, NAN, 1), LRE_EINVAL,
            "cross_entropy smoothing NaN is refused", "smoothing", NOMSG);
    chk_err(ctx, lre_cross_entropy(ctx, NULL, dz, z, lab, 0, 1), LRE_EINVAL,
            "cross_entropy with loss = NULL is refused", NOMSG);
    int32_t labels[4] = {0, 0, 3, 0};
    chk_write(ctx, lab, labels);
    chk_err(ctx, lre_cross_entropy(ctx, &loss, dz, z, lab, 0, 1), LRE_EINVAL,
            "cross_entropy label 3 of 3 classes names the batch row (index 2, 1-based: row 3) "
            "and the value", "row 3", "label 3", NOMSG);
    labels[2] = -7;
    chk_write(ctx, lab, labels);
    chk_err(ctx, lre_cross_entropy(ctx, &loss, dz, z, lab, 0, 1), LRE_EINVAL,
            "cross_entropy label -7 is refused, naming it", "-7", NOMSG);
    labels[2] = 0;
    chk_write(ctx, lab, labels);

    /* mse */
    lre_tensor *p = chk_t2(ctx, LRE_F32, 4, 2), *tg = chk_t2(ctx, LRE_F32, 4, 2);
    lre_tensor *tg24 = chk_t2(ctx, LRE_F32, 2, 4), *dp = chk_t2(ctx, LRE_F32, 4, 2);
    lre_tensor *dp8 = chk_t1(ctx, LRE_F32, 8), *tgi = chk_t2(ctx, LRE_I32, 4, 2);
    chk_ok(ctx, lre_mse(ctx, &loss, dp, p, tg, 1), "mse runs");
    chk_err(ctx, lre_mse(ctx, &loss, dp, p, tg24, 1), LRE_ESHAPE,
            "mse pred (4,2) vs target (2,4) names both", "4,2", "2,4", NOMSG);
    chk_err(ctx, lre_mse(ctx, &loss, dp8, p, tg, 1), LRE_ESHAPE,
            "mse dpred (8) for pred (4,2) names both", "8", "4,2", NOMSG);
    chk_err(ctx, lre_mse(ctx, &loss, dp, p, tgi, 1), LRE_EINVAL,
            "mse with an i32 target names the dtype", "i32", NOMSG);

    lre_tensor *all[] = {a35, b46,  b56,  c36, c37,  i35, a3d,  x,  w,    b,   y,   w36, b7,
                         y42, dx,   dx46, dw,  dw25, dy,  dy53, yi, u,    u45, u54, ui,  z,
                         lab, lab5, labf, dz,  dz43, z1,  p,    tg, tg24, dp,  dp8, tgi};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) lre_tensor_release(all[i]);
}

static void test_optim_update(void)
{
    lre_tensor *p = chk_t1(ctx, LRE_F32, 10), *g = chk_t1(ctx, LRE_F32, 10);
    lre_tensor *g9 = chk_t1(ctx, LRE_F32, 9), *s1 = chk_t1(ctx, LRE_F32, 10);
    lre_tensor *s2 = chk_t1(ctx, LRE_F32, 10), *s11 = chk_t1(ctx, LRE_F32, 11);
    lre_tensor *gi = chk_t1(ctx, LRE_I32, 10);
    lre_optim_config c = lre_optim_adam_default();
    float ph[10], gh[10];
    for (int i = 0; i < 10; i++) ph[i] = 1, gh[i] = 0.5f;
    chk_write(ctx, p, ph);
    chk_write(ctx, g, gh);
    chk_ok(ctx, lre_optim_update(ctx, &c, 0.01f, 1, p, g, s1, s2), "optim_update runs");
    chk_ok(ctx, lre_optim_update(ctx, &c, 0.0f, 2, p, g, s1, s2), "optim_update at lr 0 runs");
    chk_err(ctx, lre_optim_update(ctx, &c, 0.01f, 3, p, g9, s1, s2), LRE_ESHAPE,
            "optim_update with 9 gradients for 10 parameters names both", "9", "10", NOMSG);
    chk_err(ctx, lre_optim_update(ctx, &c, 0.01f, 3, p, g, s11, s2), LRE_ESHAPE,
            "optim_update with state1 of 11 for 10 parameters names both", "11", "10", NOMSG);
    chk_err(ctx, lre_optim_update(ctx, &c, 0.01f, 3, p, g, s1, NULL), LRE_EINVAL,
            "Adam optim_update without state2 is refused", NOMSG);
    chk_err(ctx, lre_optim_update(ctx, &c, 0.01f, 3, p, gi, s1, s2), LRE_EINVAL,
            "optim_update with i32 gradients names the dtype", "i32", NOMSG);
    chk_err(ctx, lre_optim_update(ctx, NULL, 0.01f, 3, p, g, s1, s2), LRE_EINVAL,
            "optim_update with config = NULL is refused", NOMSG);

    float before[10], after[10];
    chk_read(ctx, p, before);
    chk_err(ctx, lre_optim_update(ctx, &c, -0.01f, 3, p, g, s1, s2), LRE_EINVAL,
            "optim_update with lr -0.01 is refused, naming the value", "-0.01", NOMSG);
    chk_err(ctx, lre_optim_update(ctx, &c, NAN, 3, p, g, s1, s2), LRE_EINVAL,
            "optim_update with lr NaN is refused, naming the value", "nan", NOMSG);
    chk_err(ctx, lre_optim_update(ctx, &c, 0.01f, 0, p, g, s1, s2), LRE_EINVAL,
            "optim_update with step 0 (1-based) is refused, naming step", "step", NOMSG);
    chk_read(ctx, p, after);
    chk_bits("refused optim_updates leave the parameters", before, after, 10);

    lre_tensor *all[] = {p, g, g9, s1, s2, s11, gi};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) lre_tensor_release(all[i]);
}

static void test_datasets(void)
{
    float x[10 * 3];
    int32_t y[10];
    float tg[10 * 2];
    for (int i = 0; i < 30; i++) x[i] = (float)i * 0.1f;
    for (int i = 0; i < 10; i++) y[i] = i % 3;
    for (int i = 0; i < 20; i++) tg[i] = (float)i;
    lre_dataset *d = NULL;

    x[7 * 3 + 2] = NAN;
    chk_err(ctx, lre_dataset_from_arrays(ctx, &d, 10, 3, x, y, NULL, 0), LRE_EINVAL,
            "dataset with NaN at row 7, column 2 names both (1-based: row 8, column 3)", "row 8",
            "column 3", NOMSG);
    CHECK(d == NULL, "a refused dataset leaves *out NULL", "got %p", (void *)d);
    x[7 * 3 + 2] = INFINITY;
    chk_err(ctx, lre_dataset_from_arrays(ctx, &d, 10, 3, x, y, NULL, 0), LRE_EINVAL,
            "dataset with inf at row 7, column 2 names both (1-based: row 8, column 3)", "row 8",
            "column 3", NOMSG);
    x[7 * 3 + 2] = 0.5f;
    y[5] = -1;
    chk_err(ctx, lre_dataset_from_arrays(ctx, &d, 10, 3, x, y, NULL, 0), LRE_EINVAL,
            "dataset with label -1 at row 5 names the row (1-based: row 6)", "row 6", "-1", NOMSG);
    y[5] = 2;
    y[6] = 4;
    chk_err(ctx, lre_dataset_from_arrays_classes(ctx, &d, 10, 3, x, y, 3), LRE_EINVAL,
            "dataset with label 4 at row 6 for 3 classes names row (1-based: 7) and value", "row 7",
            "4", NOMSG);
    y[6] = 0;
    chk_err(ctx, lre_dataset_from_arrays_classes(ctx, &d, 10, 3, x, y, 0), LRE_EINVAL,
            "dataset with num_classes 0 is refused", NOMSG);
    chk_err(ctx, lre_dataset_from_arrays(ctx, &d, 10, 3, x, NULL, NULL, 0), LRE_EINVAL,
            "dataset with neither labels nor targets is refused", NOMSG);
    chk_err(ctx, lre_dataset_from_arrays(ctx, &d, 10, 3, x, y, tg, 2), LRE_EINVAL,
            "dataset with both labels and targets is refused", NOMSG);
    chk_err(ctx, lre_dataset_from_arrays(ctx, &d, 10, 3, NULL, y, NULL, 0), LRE_EINVAL,
            "dataset with x = NULL is refused", NOMSG);
    chk_err(ctx, lre_dataset_from_arrays(ctx, &d, -1, 3, x, y, NULL, 0), LRE_EINVAL,
            "dataset with n = -1 is refused", NOMSG);
    chk_err(ctx, lre_dataset_from_arrays(ctx, &d, 10, 0, x, y, NULL, 0), LRE_EINVAL,
            "dataset with 0 features is refused", NOMSG);
    chk_err(ctx, lre_dataset_from_arrays(ctx, &d, 10, 3, x, NULL, tg, 0), LRE_EINVAL,
            "dataset with targets of dim 0 is refused", NOMSG);
    tg[9 * 2 + 1] = NAN;
    chk_err(ctx, lre_dataset_from_arrays(ctx, &d, 10, 3, x, NULL, tg, 2), LRE_EINVAL,
            "dataset with a NaN target at row 9 names the row (1-based: 10)", "row 10", NOMSG);
    tg[9 * 2 + 1] = 0;

    chk_must(ctx, lre_dataset_from_arrays(ctx, &d, 10, 3, x, y, NULL, 0), "valid dataset");
    lre_dataset *o = NULL, *o2 = NULL;
    int64_t idx[3] = {1, 10, 2}, gidx[2] = {0, 12};
    chk_err(ctx, lre_dataset_subset(d, &o, 11, NULL), LRE_OK,
            "subset of 11 rows of 10 is refused, naming both", "11", "10", NOMSG);
    chk_err(ctx, lre_dataset_subset(d, &o, 3, idx), LRE_OK,
            "subset with row index 10 of 10 is refused, naming it", "10", NOMSG);
    chk_err(ctx, lre_dataset_split(d, &o, &o2, 0.0, 1), LRE_EINVAL,
            "split with fraction 0 is refused", NOMSG);
    chk_err(ctx, lre_dataset_split(d, &o, &o2, 1.5, 1), LRE_EINVAL,
            "split with fraction 1.5 is refused", NOMSG);
    chk_err(ctx, lre_dataset_split(d, &o, &o2, NAN, 1), LRE_EINVAL,
            "split with fraction NaN is refused", NOMSG);
    chk_err(ctx, lre_dataset_normalize(d, &o, 0.5f, 0.0f), LRE_EINVAL,
            "normalize with std 0 is refused", "std", NOMSG);
    chk_err(ctx, lre_dataset_normalize(d, &o, 0.5f, NAN), LRE_EINVAL,
            "normalize with std NaN is refused", "std", NOMSG);
    chk_err(ctx, lre_dataset_scale(d, &o, NAN), LRE_EINVAL, "scale NaN is refused", NOMSG);
    float gx[2 * 3];
    int32_t gy[2];
    chk_err(ctx, lre_dataset_gather(d, gidx, 2, gx, gy, NULL), LRE_OK,
            "gather of row 12 of 10 is refused, naming it", "12", NOMSG);
    CHECK(o == NULL && o2 == NULL, "refused subset/split/normalize leave *out NULL", "got %p %p",
          (void *)o, (void *)o2);

    lre_dataset *one = NULL, *a = NULL, *b = NULL;
    chk_must(ctx, lre_dataset_subset(d, &one, 1, NULL), "subset 1");
    chk_err(ctx, lre_dataset_split(one, &a, &b, 0.5, 1), LRE_OK,
            "split of a 1-row dataset is refused (each side needs a row)", NOMSG);
    lre_dataset_release(one);
    lre_dataset_release(d);
}

static void test_models(void)
{
    lre_model *m = NULL;
    chk_must(ctx, lre_model_new(ctx, &m), "model");
    chk_must(ctx, lre_model_add_linear(m, 2, 8), "linear(2,8)");
    chk_must(ctx, lre_model_add_act(m, LRE_ACT_RELU, 0), "relu");
    chk_err(ctx, lre_model_add_linear(m, 16, 2), LRE_ESHAPE,
            "linear(16,2) after linear(2,8) is refused, naming 8 and 16", "8", "16", NOMSG);
    chk_err(ctx, lre_model_add_linear(m, 8, 0), LRE_EINVAL, "linear(8,0) is refused", NOMSG);
    chk_err(ctx, lre_model_add_linear(m, 8, -3), LRE_EINVAL, "linear(8,-3) is refused", "-3",
            NOMSG);
    chk_err(ctx, lre_model_add_act(m, LRE_ACT_COUNT, 0), LRE_EINVAL,
            "an unknown activation is refused", NOMSG);
    chk_err(ctx, lre_model_add_act(m, LRE_ACT_LEAKY_RELU, NAN), LRE_EINVAL,
            "leaky_relu with slope NaN is refused", NOMSG);
    CHECK(lre_model_num_layers(m) == 2, "refused layers are not added", "%d layers",
          lre_model_num_layers(m));
    chk_must(ctx, lre_model_add_linear(m, 8, 3), "linear(8,3)");
    chk_must(ctx, lre_model_init(m, 1), "init");
    chk_err(ctx, lre_model_add_linear(m, 3, 3), LRE_ESTATE, "adding a layer after init is refused",
            NOMSG);
    chk_err(ctx, lre_model_add_act(m, LRE_ACT_TANH, 0), LRE_ESTATE,
            "adding an activation after init is refused", NOMSG);

    /* parameter counts that would overflow: refused at the layer, not when
     * the buffers are allocated */
    lre_model *huge = NULL;
    chk_must(ctx, lre_model_new(ctx, &huge), "huge model");
    chk_err(ctx, lre_model_add_linear(huge, 2147483647, 2147483647), LRE_EINVAL,
            "linear(2^31-1,2^31-1) is refused: too many parameters", "2^40", NOMSG);
    chk_must(ctx, lre_model_add_linear(huge, 1 << 20, 1 << 19), "linear(2^20,2^19)");
    chk_err(ctx, lre_model_add_linear(huge, 1 << 19, 1 << 20), LRE_EINVAL,
            "a second layer past 2^40 parameters in all is refused", "2^40", NOMSG);
    CHECK(lre_model_num_params(huge) > 0, "the parameter count stays positive", "%lld",
          (long long)lre_model_num_params(huge));
    lre_model_release(huge);

    lre_model *empty = NULL;
    chk_must(ctx, lre_model_new(ctx, &empty), "empty model");
    chk_err(ctx, lre_model_init(empty, 1), LRE_OK, "initialising a model without layers is refused",
            NOMSG);
    lre_model *acts = NULL;
    chk_must(ctx, lre_model_new(ctx, &acts), "model");
    chk_must(ctx, lre_model_add_act(acts, LRE_ACT_RELU, 0),
             "an activation may come first (its width is the input's)");
    chk_err(ctx, lre_model_init(acts, 1), LRE_ESTATE,
            "a model without a linear or conv2d layer is refused at init, saying so",
            "no layer with parameters", NOMSG);

    /* Trainers that do not fit. */
    float x[12 * 3];
    int32_t y[12];
    float tg[12 * 3];
    for (int i = 0; i < 36; i++) x[i] = (float)i / 36, tg[i] = 0;
    for (int i = 0; i < 12; i++) y[i] = i % 3;
    lre_dataset *d3 = NULL, *d5 = NULL, *dreg = NULL, *dreg3 = NULL;
    chk_must(ctx, lre_dataset_from_arrays(ctx, &d3, 12, 3, x, y, NULL, 0), "dataset 3 features");
    y[9] = 4;
    chk_must(ctx, lre_dataset_from_arrays(ctx, &d5, 12, 3, x, y, NULL, 0), "dataset 5 classes");
    chk_must(ctx, lre_dataset_from_arrays(ctx, &dreg, 12, 3, x, NULL, tg, 2), "regression");
    chk_must(ctx, lre_dataset_from_arrays(ctx, &dreg3, 12, 3, x, NULL, tg, 3), "regression 3");
    static const int64_t s2[] = {2, 8, 3}, s3[] = {3, 8, 3};
    lre_model *m2 = chk_mlp(ctx, s2, 3, LRE_ACT_RELU, 0),
              *m3 = chk_mlp(ctx, s3, 3, LRE_ACT_RELU, 0);
    lre_trainer *t = NULL;
    lre_trainer_opts o = lre_trainer_opts_default();
    o.batch_size = 4;
    chk_err(ctx, lre_trainer_new(ctx, &t, m2, d3, &o), LRE_ESHAPE,
            "trainer: 3-feature data for a 2-input model names both", "3", "2", NOMSG);
    CHECK(t == NULL, "a refused trainer leaves *out NULL", "got %p", (void *)t);
    chk_err(ctx, lre_trainer_new(ctx, &t, m3, d5, &o), LRE_OK,
            "trainer: label 4 for a 3-output model names the first offending row (1-based: 10)",
            "row 10", NOMSG);
    lre_trainer_opts ob = o;
    ob.batch_size = 0;
    chk_err(ctx, lre_trainer_new(ctx, &t, m3, d3, &ob), LRE_EINVAL,
            "trainer: batch_size 0 is refused, naming batch_size", "batch", NOMSG);
    ob.batch_size = -4;
    chk_err(ctx, lre_trainer_new(ctx, &t, m3, d3, &ob), LRE_EINVAL,
            "trainer: batch_size -4 is refused", "batch", NOMSG);
    ob = o;
    ob.accumulation_steps = 0;
    chk_err(ctx, lre_trainer_new(ctx, &t, m3, d3, &ob), LRE_EINVAL,
            "trainer: accumulation_steps 0 is refused, naming it", "accumulation", NOMSG);
    ob = o;
    ob.optim.nesterov = 1;
    ob.optim.kind = LRE_OPTIM_SGD;
    chk_err(ctx, lre_trainer_new(ctx, &t, m3, d3, &ob), LRE_EINVAL,
            "trainer: an invalid optimizer config is refused, naming the field", "nesterov", NOMSG);
    ob = o;
    ob.loss.label_smoothing = 1.5f;
    chk_err(ctx, lre_trainer_new(ctx, &t, m3, d3, &ob), LRE_EINVAL,
            "trainer: label_smoothing 1.5 is refused", "smoothing", NOMSG);
    ob = o;
    ob.loss.kind = LRE_LOSS_COUNT;
    chk_err(ctx, lre_trainer_new(ctx, &t, m3, d3, &ob), LRE_EINVAL,
            "trainer: an unknown loss is refused", NOMSG);
    ob = o;
    ob.loss.kind = LRE_LOSS_MSE;
    chk_err(ctx, lre_trainer_new(ctx, &t, m3, d3, &ob), LRE_OK,
            "trainer: MSE on a classification dataset (no targets) is refused", NOMSG);
    chk_err(ctx, lre_trainer_new(ctx, &t, m3, dreg, &ob), LRE_ESHAPE,
            "trainer: MSE targets of 2 for a 3-output model names both", "2", "3", NOMSG);
    chk_err(ctx, lre_trainer_new(ctx, &t, m3, dreg3, &o), LRE_OK,
            "trainer: cross-entropy on a regression dataset (no labels) is refused", NOMSG);
    chk_err(ctx, lre_trainer_new(ctx, &t, m3, NULL, &o), LRE_EINVAL,
            "trainer: data = NULL is refused", NOMSG);
    chk_err(ctx, lre_trainer_new(ctx, &t, NULL, d3, &o), LRE_EINVAL,
            "trainer: model = NULL is refused", NOMSG);

    /* A working trainer, then bad calls on it. */
    chk_must(ctx, lre_trainer_new(ctx, &t, m3, d3, &o), "trainer");
    float loss = 0, e = 0;
    chk_must(ctx, lre_trainer_step(t, 1e-2f, &loss), "step");
    float *p0 = chk_params(ctx, m3);
    int64_t st = lre_trainer_steps(t), cu = lre_trainer_cursor(t);
    chk_err(ctx, lre_trainer_step(t, -1e-3f, &loss), LRE_EINVAL,
            "trainer_step with lr -1e-3 is refused, naming the value", "-0.001", NOMSG);
    chk_err(ctx, lre_trainer_step(t, NAN, &loss), LRE_EINVAL,
            "trainer_step with lr NaN is refused, naming the value", "nan", NOMSG);
    float *p1 = chk_params(ctx, m3);
    chk_bits("refused steps leave the parameters", p0, p1, lre_model_num_params(m3));
    CHECK(lre_trainer_steps(t) == st && lre_trainer_cursor(t) == cu,
          "refused steps leave the step count and the cursor",
          "steps %lld -> %lld, cursor %lld -> %lld", (long long)st, (long long)lre_trainer_steps(t),
          (long long)cu, (long long)lre_trainer_cursor(t));
    chk_ok(ctx, lre_trainer_step(t, 0.0f, &loss), "trainer_step at lr 0 runs");
    lre_dataset *d2 = NULL;
    float x2[4 * 2] = {0};
    int32_t y2[4] = {0, 1, 2, 0};
    chk_must(ctx, lre_dataset_from_arrays(ctx, &d2, 4, 2, x2, y2, NULL, 0), "2-feature data");
    chk_err(ctx, lre_trainer_evaluate(t, d2, &e), LRE_ESHAPE,
            "evaluate on 2-feature data for a 3-input model names both", "2", "3", NOMSG);
    chk_err(ctx, lre_trainer_evaluate(t, d5, &e), LRE_OK,
            "evaluate on data with label 4 for 3 outputs names row 9 (1-based: 10)", "row 10",
            NOMSG);
    chk_err(ctx, lre_trainer_evaluate(t, NULL, &e), LRE_EINVAL, "evaluate of NULL is refused",
            NOMSG);
    double acc = 0;
    lre_trainer *tr = NULL;
    chk_err(ctx, lre_trainer_new(ctx, &tr, m3, d3, &o), LRE_EINVAL,
            "a second trainer on a model another trainer holds is refused, naming the clone",
            "already belongs to another trainer", "lre_trainer_clone", NOMSG);
    lre_model *m3b = NULL;
    chk_must(ctx, lre_model_clone(m3, &m3b), "a copy of the model");
    chk_must(ctx, lre_trainer_new(ctx, &tr, m3b, dreg3, &ob), "MSE trainer");
    lre_model_release(m3b); /* the trainer holds it */
    chk_err(ctx, lre_trainer_accuracy(tr, dreg3, &acc), LRE_OK,
            "accuracy on a regression dataset is refused", NOMSG);

    free(p0);
    free(p1);
    lre_trainer_release(t);
    lre_trainer_release(tr);
    lre_model_release(m);
    lre_model_release(empty);
    lre_model_release(acts);
    lre_model_release(m2);
    lre_model_release(m3);
    lre_dataset_release(d2);
    lre_dataset_release(d3);
    lre_dataset_release(d5);
    lre_dataset_release(dreg);
    lre_dataset_release(dreg3);
}

/* Context creation: does not depend on the device under test (runs once,
 * its names untagged). */
static void test_context_creation(void)
{
    /* A context on a device this build lacks: refused with a message in
     * errbuf (there is no context to hold it). */
    if (!lre_device_compiled(LRE_DEVICE_CUDA)) {
        lre_ctx_opts o = lre_ctx_opts_default();
        lre_ctx *c = NULL;
        char err[256] = "";
        o.device = LRE_DEVICE_CUDA;
        lre_status s = lre_ctx_new_err(&c, &o, err, sizeof err);
        CHECK(s == LRE_EDEVICE && c == NULL && chk_stristr(err, "cuda"),
              "a CUDA context in a CPU-only build is refused with a message naming CUDA",
              "status %d, ctx %p, message \"%s\"", (int)s, (void *)c, err);
        if (c) lre_ctx_release(c);
    } else {
        chk_skip("a CUDA context in a CPU-only build is refused", "this build has CUDA");
    }
    lre_ctx_opts o = lre_ctx_opts_default();
    o.device = (lre_device)7;
    lre_ctx *c = NULL;
    char err[256] = "";
    lre_status s = lre_ctx_new_err(&c, &o, err, sizeof err);
    CHECK(s != LRE_OK && c == NULL && err[0], "a context on device 7 is refused with a message",
          "status %d, message \"%s\"", (int)s, err);
    if (c) lre_ctx_release(c);

    /* Statuses have distinct names. */
    int distinct = 1;
    for (int i = 0; i < LRE_STATUS_COUNT; i++)
        for (int j = 0; j < i; j++) {
            const char *a = lre_status_string((lre_status)i), *b = lre_status_string((lre_status)j);
            distinct &= a && b && a[0] && strcmp(a, b) != 0;
        }
    CHECK(distinct, "lre_status_string gives a distinct name to every status",
          "a name repeats or is empty");
    const char *bad = lre_status_string((lre_status)99);
    CHECK(bad != NULL, "lre_status_string of an unknown status is not NULL", "NULL");
}

/* The context of the device under test keeps its message, then clears it. */
static void test_context_message(void)
{
    lre_tensor *t = NULL;
    int64_t s5[5] = {1, 1, 1, 1, 1};
    lre_tensor_new(ctx, &t, LRE_F32, 5, s5);
    CHECK(lre_ctx_error(ctx)[0] != 0, "the context keeps the last message", "empty");
    lre_ctx_clear_error(ctx);
    CHECK(lre_ctx_error(ctx) && lre_ctx_error(ctx)[0] == 0, "lre_ctx_clear_error clears it",
          "still \"%s\"", lre_ctx_error(ctx));
}

int main(void)
{
    CHK_FOR_EACH_DEVICE(dev)
    {
        ctx = chk_ctx_on(dev, 1);
        test_tensors();
        test_ops();
        test_optim_update();
        test_datasets();
        test_models();
        test_context_message();
        lre_ctx_release(ctx);
    }
    test_context_creation();
    return chk_done("test_errors");
}
