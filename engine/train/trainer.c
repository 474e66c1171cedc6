/*
 * trainer.c — model + loss + optimizer + dataset + batch order. A step is
 * forward, loss, backward and update over `accumulation_steps` micro-batches
 * of the next rows; every buffer it touches is allocated when the trainer is
 * created, so a step allocates nothing.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "train/train.h"

#define CHECK(expr)                        \
    do {                                   \
        lre_status s_ = (expr);            \
        if (s_ != LRE_OK) return s_;       \
    } while (0)

lre_trainer_opts lre_trainer_opts_default(void)
{
    lre_trainer_opts o;
    memset(&o, 0, sizeof o);
    o.loss.kind = LRE_LOSS_CROSS_ENTROPY;
    o.optim = lre_optim_adam_default();
    o.batch_size = 32;
    o.accumulation_steps = 1;
    o.seed = 0;
    o.shuffle = 1;
    o.drop_last = 0;
    return o;
}

/* ---------------------------------------------------------- workspace */

static void ws_free(lre_ctx *ctx, lre_workspace *ws, int n_layers)
{
    lre_free(ctx, ws->idx_host, 0);
    lre_tensor_release(ws->idx);
    lre_tensor_release(ws->x);
    lre_tensor_release(ws->y);
    lre_tensor_release(ws->t);
    for (int i = 0; ws->act && i < n_layers; i++) lre_tensor_release(ws->act[i]);
    for (int i = 0; ws->dact && i < n_layers; i++) lre_tensor_release(ws->dact[i]);
    lre_free(ctx, ws->act, 0);
    lre_free(ctx, ws->dact, 0);
    lre_free(ctx, ws->vact, 0);
    lre_free(ctx, ws->vdact, 0);
    memset(ws, 0, sizeof *ws);
}

static lre_status ws_alloc(lre_ctx *ctx, lre_workspace *ws, const lre_model *m, int64_t rows,
                           int64_t target_dim)
{
    const int L = m->n_layers;
    int64_t in = lre_model_in_features(m);
    ws->rows = rows;
    ws->idx_host = lre_malloc(ctx, (size_t)rows * sizeof *ws->idx_host, "batch indices");
    ws->act = lre_calloc(ctx, (size_t)L, sizeof *ws->act, "activations");
    ws->dact = lre_calloc(ctx, (size_t)L, sizeof *ws->dact, "activation gradients");
    ws->vact = lre_calloc(ctx, (size_t)L, sizeof *ws->vact, "activation views");
    ws->vdact = lre_calloc(ctx, (size_t)L, sizeof *ws->vdact, "activation views");
    if (!ws->idx_host || !ws->act || !ws->dact || !ws->vact || !ws->vdact) return LRE_ENOMEM;
    int64_t xs[2] = {rows, in}, ys[1] = {rows}, ts[2] = {rows, target_dim ? target_dim : 1};
    CHECK(lre_tensor_new(ctx, &ws->idx, LRE_I64, 1, ys));
    CHECK(lre_tensor_new(ctx, &ws->x, LRE_F32, 2, xs));
    CHECK(lre_tensor_new(ctx, &ws->y, LRE_I32, 1, ys));
    if (target_dim) CHECK(lre_tensor_new(ctx, &ws->t, LRE_F32, 2, ts));
    for (int i = 0; i < L; i++) {
        int64_t s[2] = {rows, m->layers[i].out};
        CHECK(lre_tensor_new(ctx, &ws->act[i], LRE_F32, 2, s));
        CHECK(lre_tensor_new(ctx, &ws->dact[i], LRE_F32, 2, s));
    }
    return LRE_OK;
}

/* Rows of the workspace: the batch size, or more so that evaluate runs
 * its forward passes in chunks of at least LRE_EVAL_ROWS rows (GEMMs of
 * 128 rows run ~20% slower than of 512 on the reference MLP), unless that
 * would take more than LRE_EVAL_BYTES for the activations. Steps use the
 * first batch_size rows. */
#define LRE_EVAL_ROWS 512
#define LRE_EVAL_BYTES ((int64_t)64 << 20)

static int64_t workspace_rows(const lre_model *m, int64_t batch_size)
{
    if (batch_size >= LRE_EVAL_ROWS) return batch_size;
    int64_t width = lre_model_in_features(m);
    for (int i = 0; i < m->n_layers; i++) width += 2 * m->layers[i].out;
    if (width * LRE_EVAL_ROWS * (int64_t)sizeof(float) > LRE_EVAL_BYTES) return batch_size;
    return LRE_EVAL_ROWS;
}

/* ------------------------------------------------------------ checks */

/* Does `data` fit the model and loss? Names the first offending row. */
static lre_status check_data(lre_trainer *t, lre_dataset *d, const char *fn)
{
    lre_ctx *ctx = t->ctx;
    const lre_model *m = t->model;
    char arch[256];
    int64_t in = lre_model_in_features(m), out = lre_model_out_features(m);
    if (d->rows->features != in)
        return lre_fail(ctx, LRE_ESHAPE,
                        "%s: the data has %" PRId64 " features per row but the model (%s) takes "
                        "%" PRId64, fn, d->rows->features,
                        lre_model_describe(m, arch, sizeof arch), in);
    if (t->loss.kind == LRE_LOSS_CROSS_ENTROPY) {
        if (!d->rows->labels)
            return lre_fail(ctx, LRE_EINVAL,
                            "%s: cross_entropy needs integer class labels, the data has float "
                            "targets", fn);
        if (d->rows->num_classes > out) {
            for (int64_t i = 0; i < d->n; i++) {
                int64_t row = d->index ? d->index[i] : i;
                int32_t y = d->rows->labels[row];
                if (y >= out)
                    return lre_fail(ctx, LRE_EINVAL,
                                    "%s: label %" PRId32 " at row %" PRId64
                                    " is outside [0, %" PRId64 "): the model (%s) has %" PRId64
                                    " outputs", fn, y, i + 1, out,
                                    lre_model_describe(m, arch, sizeof arch), out);
            }
        }
    } else {
        if (!d->rows->targets)
            return lre_fail(ctx, LRE_EINVAL,
                            "%s: mse needs float targets, the data has integer labels", fn);
        if (d->rows->target_dim != out)
            return lre_fail(ctx, LRE_ESHAPE,
                            "%s: the data has %" PRId64 " targets per row but the model (%s) "
                            "gives %" PRId64 " outputs", fn, d->rows->target_dim,
                            lre_model_describe(m, arch, sizeof arch), out);
    }
    return LRE_OK;
}

/* ------------------------------------------------------------ create */

lre_status lre_trainer_new(lre_ctx *ctx, lre_trainer **out, lre_model *model, lre_dataset *data,
                           const lre_trainer_opts *opts)
{
    static const char fn[] = "trainer";
    if (!ctx) return LRE_EINVAL;
    if (!out) return lre_fail(ctx, LRE_EINVAL, "%s: out is NULL", fn);
    *out = NULL;
    if (!model) return lre_fail(ctx, LRE_EINVAL, "%s: model is missing", fn);
    if (!data) return lre_fail(ctx, LRE_EINVAL, "%s: data is missing", fn);
    if (model->ctx != ctx || data->ctx != ctx)
        return lre_fail(ctx, LRE_EINVAL, "%s: model and data must belong to this context", fn);
    lre_trainer_opts o = opts ? *opts : lre_trainer_opts_default();
    if (o.batch_size < 1 || o.batch_size > (1 << 24))
        return lre_fail(ctx, LRE_EINVAL, "%s: batch_size %" PRId64 " must be in [1, 2^24]", fn,
                        o.batch_size);
    if (o.accumulation_steps < 1)
        return lre_fail(ctx, LRE_EINVAL, "%s: accumulation_steps %d must be >= 1", fn,
                        o.accumulation_steps);
    if ((unsigned)o.loss.kind >= LRE_LOSS_COUNT)
        return lre_fail(ctx, LRE_EINVAL, "%s: unknown loss %d", fn, (int)o.loss.kind);
    if (!(o.loss.label_smoothing >= 0.0f && o.loss.label_smoothing <= 1.0f))
        return lre_fail(ctx, LRE_EINVAL, "%s: label_smoothing %g is outside [0, 1]", fn,
                        (double)o.loss.label_smoothing);
    CHECK(lre_optim_config_check(ctx, &o.optim));
    if (model->n_layers == 0) return lre_fail(ctx, LRE_ESTATE, "%s: the model has no layers", fn);
    if (data->n > (int64_t)UINT32_MAX)
        return lre_fail(ctx, LRE_EINVAL, "%s: datasets of more than 2^32 rows are not supported",
                        fn);
    if (o.drop_last && data->n < o.batch_size)
        return lre_fail(ctx, LRE_EINVAL,
                        "%s: drop_last with batch_size %" PRId64 " and only %" PRId64
                        " rows gives no batch at all", fn, o.batch_size, data->n);

    lre_trainer *t = lre_calloc(ctx, 1, sizeof *t, "trainer");
    if (!t) return LRE_ENOMEM;
    t->refcount = 1;
    t->ctx = ctx;
    lre_ctx_retain(ctx);
    t->model = model;
    lre_model_retain(model);
    t->data = data;
    lre_dataset_retain(data);
    t->loss = o.loss;
    t->optim = o.optim;
    t->batch_size = o.batch_size;
    t->accumulation_steps = o.accumulation_steps;
    t->seed = o.seed;
    lre_status s = check_data(t, data, fn);
    if (!s && !model->initialized) s = lre_model_init(model, o.seed);
    if (s) goto fail;
    if ((s = lre_optim_state_init(ctx, &t->opt, &o.optim, model->n_params))) goto fail;
    t->batcher.seed = o.seed;
    t->batcher.n = data->n;
    t->batcher.shuffle = o.shuffle != 0;
    t->batcher.drop_last = o.drop_last != 0;
    t->batcher.perm = lre_malloc(ctx, (size_t)data->n * sizeof(int64_t), "batch order");
    if (!t->batcher.perm) {
        s = LRE_ENOMEM;
        goto fail;
    }
    lre_batcher_permute(&t->batcher);
    s = ws_alloc(ctx, &t->ws, model, workspace_rows(model, o.batch_size),
                 data->rows->target_dim);
    if (s) goto fail;
    *out = t;
    return LRE_OK;
fail:
    lre_trainer_release(t);
    return s;
}

void lre_trainer_retain(lre_trainer *t)
{
    if (t) t->refcount++;
}

void lre_trainer_release(lre_trainer *t)
{
    if (!t || --t->refcount > 0) return;
    lre_ctx *ctx = t->ctx;
    ws_free(ctx, &t->ws, t->model->n_layers);
    lre_free(ctx, t->batcher.perm, 0);
    lre_optim_state_free(&t->opt);
    lre_model_release(t->model);
    lre_dataset_release(t->data);
    lre_free(ctx, t, sizeof *t);
    lre_ctx_release(ctx);
}

/* ---------------------------------------------------- forward/backward */

/* Gathers rows idx_host[0..n) of d into the workspace (through the device:
 * the indices go up, the dataset's rows never leave it) and sets the row
 * views. */
static lre_status load_batch(lre_trainer *t, lre_dataset *d, int64_t n)
{
    lre_workspace *ws = &t->ws;
    lre_tensor_set_rows(&ws->vidx, ws->idx, n);
    CHECK(lre_tensor_from_host(&ws->vidx, ws->idx_host, (size_t)n * sizeof *ws->idx_host));
    CHECK(lre_dataset_gather_rows(d, &ws->vidx, n, ws->x, ws->y, ws->t));
    lre_tensor_set_rows(&ws->vx, ws->x, n);
    lre_tensor_set_rows(&ws->vy, ws->y, n);
    if (ws->t) lre_tensor_set_rows(&ws->vt, ws->t, n);
    for (int i = 0; i < t->model->n_layers; i++) {
        lre_tensor_set_rows(&ws->vact[i], ws->act[i], n);
        lre_tensor_set_rows(&ws->vdact[i], ws->dact[i], n);
    }
    return LRE_OK;
}

static lre_status forward(lre_trainer *t)
{
    lre_workspace *ws = &t->ws;
    const lre_tensor *h = &ws->vx;
    for (int i = 0; i < t->model->n_layers; i++) {
        lre_layer *l = &t->model->layers[i];
        if (l->kind == LRE_LAYER_LINEAR)
            CHECK(lre_linear_forward(t->ctx, &ws->vact[i], h, l->w, l->b));
        else
            CHECK(lre_act_forward(t->ctx, l->act, l->act_param, &ws->vact[i], h));
        h = &ws->vact[i];
    }
    return LRE_OK;
}

/* Loss of the batch; with `grad` writes its gradient into the last dact. */
static lre_status loss_of(lre_trainer *t, float *loss, int grad, float grad_scale)
{
    lre_workspace *ws = &t->ws;
    int last = t->model->n_layers - 1;
    lre_tensor *dout = grad ? &ws->vdact[last] : NULL;
    if (t->loss.kind == LRE_LOSS_CROSS_ENTROPY)
        return lre_cross_entropy_trusted(t->ctx, loss, dout, &ws->vact[last], &ws->vy,
                                         t->loss.label_smoothing, grad_scale);
    return lre_mse(t->ctx, loss, dout, &ws->vact[last], &ws->vt, grad_scale);
}

static lre_status backward(lre_trainer *t, int accumulate)
{
    lre_workspace *ws = &t->ws;
    for (int i = t->model->n_layers - 1; i >= 0; i--) {
        lre_layer *l = &t->model->layers[i];
        const lre_tensor *in = i > 0 ? &ws->vact[i - 1] : &ws->vx;
        lre_tensor *din = i > 0 ? &ws->vdact[i - 1] : NULL;
        if (l->kind == LRE_LAYER_LINEAR)
            CHECK(lre_linear_backward(t->ctx, din, l->dw, l->db, &ws->vdact[i], in, l->w,
                                      accumulate));
        else if (din)
            CHECK(lre_act_backward(t->ctx, l->act, l->act_param, din, &ws->vdact[i], in,
                                   &ws->vact[i]));
    }
    return LRE_OK;
}

/* -------------------------------------------------------------- step */

lre_status lre_trainer_step(lre_trainer *t, double lr, float *loss)
{
    if (!t) return LRE_EINVAL;
    lre_ctx *ctx = t->ctx;
    if (!loss) return lre_fail(ctx, LRE_EINVAL, "step: loss is NULL");
    if (!isfinite(lr) || lr < 0.0)
        return lre_fail(ctx, LRE_EINVAL, "step: learning rate %g must be finite and >= 0", lr);
    const int K = t->accumulation_steps;
    const float scale = 1.0f / (float)K;
    double total = 0.0;
    for (int k = 0; k < K; k++) {
        int64_t n;
        lre_batcher_next(&t->batcher, t->batch_size, t->ws.idx_host, &n);
        CHECK(load_batch(t, t->data, n));
        CHECK(forward(t));
        float l;
        CHECK(loss_of(t, &l, 1, scale));
        CHECK(backward(t, k > 0));
        total += (double)l;
    }
    lre_model *m = t->model;
    CHECK(lre_optim_state_update(ctx, &t->optim, &t->opt, lr, t->steps + 1, m->params, m->grads));
    t->steps++;
    *loss = (float)(total / K);
    return LRE_OK;
}

/* Runs f over every row of d in order, in chunks of the batch size. */
static lre_status over_dataset(lre_trainer *t, lre_dataset *d, double *sum_loss,
                               int64_t *correct)
{
    lre_workspace *ws = &t->ws;
    double total = 0.0;
    int64_t right = 0;
    for (int64_t start = 0; start < d->n; start += ws->rows) {
        int64_t n = d->n - start < ws->rows ? d->n - start : ws->rows;
        for (int64_t i = 0; i < n; i++) ws->idx_host[i] = start + i;
        CHECK(load_batch(t, d, n));
        CHECK(forward(t));
        if (sum_loss) {
            float l;
            CHECK(loss_of(t, &l, 0, 1.0f));
            total += (double)l * (double)n;
        }
        if (correct) {
            int64_t c;
            int last = t->model->n_layers - 1;
            CHECK(lre_count_correct_trusted(t->ctx, &c, &ws->vact[last], &ws->vy));
            right += c;
        }
    }
    if (sum_loss) *sum_loss = total;
    if (correct) *correct = right;
    return LRE_OK;
}

lre_status lre_trainer_evaluate(lre_trainer *t, lre_dataset *data, float *loss)
{
    if (!t) return LRE_EINVAL;
    if (!loss) return lre_fail(t->ctx, LRE_EINVAL, "evaluate: loss is NULL");
    if (!data) return lre_fail(t->ctx, LRE_EINVAL, "evaluate: dataset is NULL");
    if (data->ctx != t->ctx)
        return lre_fail(t->ctx, LRE_EINVAL, "evaluate: the dataset belongs to another context");
    CHECK(check_data(t, data, "evaluate"));
    double total;
    CHECK(over_dataset(t, data, &total, NULL));
    *loss = (float)(total / (double)data->n);
    return LRE_OK;
}

lre_status lre_trainer_accuracy(lre_trainer *t, lre_dataset *data, double *acc)
{
    if (!t) return LRE_EINVAL;
    if (!acc) return lre_fail(t->ctx, LRE_EINVAL, "accuracy: acc is NULL");
    if (!data) return lre_fail(t->ctx, LRE_EINVAL, "accuracy: dataset is NULL");
    if (t->loss.kind != LRE_LOSS_CROSS_ENTROPY || !data->rows->labels)
        return lre_fail(t->ctx, LRE_EINVAL, "accuracy: needs a classifier and labelled data");
    CHECK(check_data(t, data, "accuracy"));
    int64_t right;
    CHECK(over_dataset(t, data, NULL, &right));
    *acc = (double)right / (double)data->n;
    return LRE_OK;
}

lre_status lre_trainer_reinit(lre_trainer *t, uint64_t seed)
{
    if (!t) return LRE_EINVAL;
    CHECK(lre_model_init(t->model, seed));
    CHECK(lre_optim_state_zero(&t->opt));
    t->steps = 0;
    return LRE_OK;
}

lre_status lre_trainer_reseed(lre_trainer *t, uint64_t seed)
{
    if (!t) return LRE_EINVAL;
    t->seed = seed;
    t->batcher.seed = seed;
    t->batcher.epoch = 0;
    t->batcher.cursor = 0;
    lre_batcher_permute(&t->batcher);
    return LRE_OK;
}

int64_t lre_trainer_steps(const lre_trainer *t) { return t->steps; }
int64_t lre_trainer_epoch(const lre_trainer *t) { return t->batcher.epoch; }
int64_t lre_trainer_cursor(const lre_trainer *t) { return t->batcher.cursor; }
int64_t lre_trainer_batch_size(const lre_trainer *t) { return t->batch_size; }
int lre_trainer_accumulation_steps(const lre_trainer *t) { return t->accumulation_steps; }

lre_status lre_trainer_set_accumulation_steps(lre_trainer *t, int k)
{
    if (!t) return LRE_EINVAL;
    if (k < 1)
        return lre_fail(t->ctx, LRE_EINVAL, "accumulation_steps %d must be >= 1", k);
    t->accumulation_steps = k;
    return LRE_OK;
}
uint64_t lre_trainer_seed(const lre_trainer *t) { return t->seed; }
lre_model *lre_trainer_model(lre_trainer *t) { return t->model; }
lre_ctx *lre_trainer_ctx(const lre_trainer *t) { return t->ctx; }
lre_dataset *lre_trainer_data(lre_trainer *t) { return t->data; }
const lre_optim_config *lre_trainer_optim(const lre_trainer *t) { return &t->optim; }
const lre_loss_config *lre_trainer_loss(const lre_trainer *t) { return &t->loss; }
