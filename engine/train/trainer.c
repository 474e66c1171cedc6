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

static void drop_graphs(lre_trainer *t);

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
    o.precision = LRE_PRECISION_FP32;
    return o;
}

/* ---------------------------------------------------------- workspace */

static void ws_free(lre_ctx *ctx, lre_workspace *ws, int n_layers)
{
    lre_pinned_free(ctx, ws->idx_host);
    lre_tensor_release(ws->idx);
    lre_free(ctx, ws->nrows, 0);
    lre_pinned_free(ctx, ws->rng_host);
    lre_tensor_release(ws->rng_dev);
    lre_tensor_release(ws->losses);
    lre_tensor_release(ws->counts);
    lre_pinned_free(ctx, ws->loss_host);
    lre_pinned_free(ctx, ws->count_host);
    lre_tensor_release(ws->x);
    lre_tensor_release(ws->y);
    lre_tensor_release(ws->t);
    for (int i = 0; ws->act && i < n_layers; i++) lre_tensor_release(ws->act[i]);
    for (int i = 0; ws->dact && i < n_layers; i++) lre_tensor_release(ws->dact[i]);
    for (int i = 0; ws->aux && i < n_layers; i++) lre_tensor_release(ws->aux[i]);
    for (int i = 0; ws->aux2 && i < n_layers; i++) lre_tensor_release(ws->aux2[i]);
    lre_tensor_release(ws->col);
    lre_free(ctx, ws->act, 0);
    lre_free(ctx, ws->dact, 0);
    lre_free(ctx, ws->aux, 0);
    lre_free(ctx, ws->aux2, 0);
    lre_free(ctx, ws->vact, 0);
    lre_free(ctx, ws->vdact, 0);
    lre_free(ctx, ws->vaux, 0);
    lre_free(ctx, ws->vaux2, 0);
    memset(ws, 0, sizeof *ws);
}

/* conv2d's im2col matrix: (C·KH·KW, OH·OW) */
static void col_shape(const lre_layer *l, int64_t s[2])
{
    s[0] = l->g.C * l->g.KH * l->g.KW;
    s[1] = l->g.OH * l->g.OW;
}

static lre_status ws_alloc(lre_ctx *ctx, lre_workspace *ws, const lre_model *m, int64_t rows,
                           int64_t target_dim)
{
    const int L = m->n_layers;
    int64_t in = lre_model_in_features(m);
    ws->rows = rows;
    ws->act = lre_calloc(ctx, (size_t)L, sizeof *ws->act, "activations");
    ws->dact = lre_calloc(ctx, (size_t)L, sizeof *ws->dact, "activation gradients");
    ws->aux = lre_calloc(ctx, (size_t)L, sizeof *ws->aux, "layer workspaces");
    ws->aux2 = lre_calloc(ctx, (size_t)L, sizeof *ws->aux2, "layer workspaces");
    ws->vact = lre_calloc(ctx, (size_t)L, sizeof *ws->vact, "activation views");
    ws->vdact = lre_calloc(ctx, (size_t)L, sizeof *ws->vdact, "activation views");
    ws->vaux = lre_calloc(ctx, (size_t)L, sizeof *ws->vaux, "workspace views");
    ws->vaux2 = lre_calloc(ctx, (size_t)L, sizeof *ws->vaux2, "workspace views");
    if (!ws->act || !ws->dact || !ws->aux || !ws->aux2 || !ws->vact || !ws->vdact ||
        !ws->vaux || !ws->vaux2)
        return LRE_ENOMEM;
    int64_t xs[2] = {rows, in}, ys[1] = {rows}, ts[2] = {rows, target_dim ? target_dim : 1};
    CHECK(lre_tensor_new(ctx, &ws->x, LRE_F32, 2, xs));
    CHECK(lre_tensor_new(ctx, &ws->y, LRE_I32, 1, ys));
    if (target_dim) CHECK(lre_tensor_new(ctx, &ws->t, LRE_F32, 2, ts));
    int64_t col = 0;
    for (int i = 0; i < L; i++) {
        const lre_layer *l = &m->layers[i];
        if (l->kind == LRE_LAYER_FLATTEN) { /* the same values, seen flat */
            ws->act[i] = i ? ws->act[i - 1] : ws->x;
            ws->dact[i] = i ? ws->dact[i - 1] : NULL;
            lre_tensor_retain(ws->act[i]);
            lre_tensor_retain(ws->dact[i]);
            continue;
        }
        int64_t s[2] = {rows, l->out};
        if (l->kind == LRE_LAYER_RESIDUAL || l->kind == LRE_LAYER_SHORTCUT) {
            /* the block's input, seen again (a shortcut's: the block start's);
             * the gradient its side sends back has a buffer of its own */
            int from = l->kind == LRE_LAYER_RESIDUAL ? i - 1 : i - 1;
            while (l->kind == LRE_LAYER_SHORTCUT && m->layers[from].kind != LRE_LAYER_RESIDUAL)
                from--;
            ws->act[i] = from >= 0 ? ws->act[from] : ws->x;
            lre_tensor_retain(ws->act[i]);
            CHECK(lre_tensor_new(ctx, &ws->dact[i], LRE_F32, 2, s));
            continue;
        }
        CHECK(lre_tensor_new(ctx, &ws->act[i], LRE_F32, 2, s));
        CHECK(lre_tensor_new(ctx, &ws->dact[i], LRE_F32, 2, s));
        if (l->kind == LRE_LAYER_RESIDUAL_END) {
            /* the block's output gradient is the gradient of both its sides'
             * outputs: one buffer for the three */
            for (int k = 0; k < 2; k++) {
                int side = k ? l->res_b : l->res_a;
                if (m->layers[side].kind == LRE_LAYER_RESIDUAL) continue; /* the input */
                lre_tensor_release(ws->dact[side]);
                ws->dact[side] = ws->dact[i];
                lre_tensor_retain(ws->dact[i]);
            }
        }
        if (l->kind == LRE_LAYER_MAX_POOL2D)
            CHECK(lre_tensor_new(ctx, &ws->aux[i], LRE_I32, 2, s));
        if (l->kind == LRE_LAYER_DROPOUT) /* the step's keep factors */
            CHECK(lre_tensor_new(ctx, &ws->aux[i], LRE_F32, 2, s));
        if (l->kind == LRE_LAYER_BATCH_NORM) { /* a mean and a 1/std per channel */
            CHECK(lre_tensor_new(ctx, &ws->aux[i], LRE_F32, 1, &l->norm_n));
            CHECK(lre_tensor_new(ctx, &ws->aux2[i], LRE_F32, 1, &l->norm_n));
        }
        if (l->kind == LRE_LAYER_LAYER_NORM) { /* a mean and a 1/std per group */
            int64_t gs[2] = {rows, l->out / l->norm_n};
            CHECK(lre_tensor_new(ctx, &ws->aux[i], LRE_F32, 2, gs));
            CHECK(lre_tensor_new(ctx, &ws->aux2[i], LRE_F32, 2, gs));
        }
        if (l->kind == LRE_LAYER_CONV2D) {
            int64_t c[2];
            col_shape(l, c);
            if (c[0] * c[1] > col) col = c[0] * c[1];
        }
    }
    if (col) {
        CHECK(lre_tensor_new(ctx, &ws->col, LRE_F32, 1, &col));
        for (int i = 0; i < L; i++)
            if (m->layers[i].kind == LRE_LAYER_CONV2D) {
                int64_t c[2];
                col_shape(&m->layers[i], c);
                CHECK(lre_tensor_view(&ws->aux[i], ws->col, 0, 2, c));
            }
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
    int64_t width = lre_model_in_features(m); /* values per row: activations, their
                                                 gradients, max pooling's indices */
    for (int i = 0; i < m->n_layers; i++) {
        const lre_layer_kind k = m->layers[i].kind;
        if (k != LRE_LAYER_FLATTEN) /* max pooling's indices, dropout's masks: a third */
            width += (k == LRE_LAYER_MAX_POOL2D || k == LRE_LAYER_DROPOUT ? 3 : 2) *
                     m->layers[i].out;
        if (k == LRE_LAYER_LAYER_NORM) width += 2 * m->layers[i].out / m->layers[i].norm_n;
    }
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
    if (in && d->rows->features != in) /* 0: the input shape decides (lre_model_set_input_shape) */
        return lre_fail(ctx, LRE_ESHAPE,
                        "%s: the data has %" PRId64 " features per row but the model (%s) takes "
                        "%" PRId64, fn, d->rows->features,
                        lre_model_describe(m, arch, sizeof arch), in);
    if (!out) return LRE_OK; /* the outputs are known once the input shape is */
    if (t->loss.kind == LRE_LOSS_CROSS_ENTROPY) {
        if (!d->rows->labels)
            return lre_fail(ctx, LRE_EINVAL,
                            "%s: cross_entropy needs integer class labels, the data has float "
                            "targets (loaded with task \"regression\"? use loss \"mse\", or "
                            "load the labels as classes)", fn);
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
                            "%s: mse needs float targets, the data has integer class labels (load "
                            "them with task \"regression\", or use loss \"cross_entropy\")", fn);
        if (d->rows->target_dim != out)
            return lre_fail(ctx, LRE_ESHAPE,
                            "%s: the data has %" PRId64 " targets per row but the model (%s) "
                            "gives %" PRId64 " outputs", fn, d->rows->target_dim,
                            lre_model_describe(m, arch, sizeof arch), out);
    }
    return LRE_OK;
}

/* Does a ReLU follow layer i (a linear or conv2d one)? A pass without a
 * backward (evaluate, accuracy) then runs the two as one
 * (lre_linear_relu_forward, lre_conv2d_relu_forward); a step keeps both
 * outputs, which its backward reads. */
static int relu_follows(const lre_model *m, int i)
{
    return i + 1 < m->n_layers && m->layers[i + 1].kind == LRE_LAYER_ACT &&
           m->layers[i + 1].act == LRE_ACT_RELU;
}

/* Readies the backend for every GEMM (and oneDNN normalisation) the
 * trainer's steps and its passes over its own data will run (full and
 * short micro-batches, evaluate's chunks), in the trainer's precision:
 * the first step then creates nothing a later one would not. A pass over
 * another dataset may still prepare its last chunk's shape on its first
 * call. */
static lre_status prepare_gemms(lre_trainer *t)
{
    lre_ctx *ctx = t->ctx;
    lre_precision got;
    CHECK(lre_ctx_use_precision(ctx, t->precision_requested, &got));
    const int64_t n = t->data->n, bs = t->batch_size, rows = t->ws.rows;
    const int64_t step_rows[2] = {bs < n ? bs : n, n % bs};
    const int64_t pass_rows[2] = {rows < n ? rows : n, n % rows};
    for (int i = 0; i < t->model->n_layers; i++) {
        const lre_layer *l = &t->model->layers[i];
        if (l->kind == LRE_LAYER_CONV2D)
            for (int k = 0; k < 2; k++) {
                CHECK(lre_conv2d_prepare(ctx, step_rows[k], &l->g, l->cout, l->bn > 0, 0, 1,
                                         i > t->first_param));
                CHECK(lre_conv2d_prepare(ctx, pass_rows[k], &l->g, l->cout, l->bn > 0,
                                         relu_follows(t->model, i), 0, 0));
            }
        if (l->kind == LRE_LAYER_LAYER_NORM)
            for (int k = 0; k < 2; k++) {
                const int64_t per_row = l->in / l->norm_n;
                CHECK(lre_layer_norm_prepare(ctx, step_rows[k] * per_row, l->norm_n, l->wn > 0,
                                             l->eps, i > t->first_param)); /* dx: not the first */
                CHECK(lre_layer_norm_prepare(ctx, pass_rows[k] * per_row, l->norm_n, l->wn > 0,
                                             l->eps, 0));
            }
        if (l->kind == LRE_LAYER_BATCH_NORM) /* a pass evaluates: running statistics */
            for (int k = 0; k < 2; k++)
                CHECK(lre_batch_norm_prepare(ctx, step_rows[k], l->norm_n, l->bn_S, l->wn > 0,
                                             l->eps));
        if (l->kind != LRE_LAYER_LINEAR) continue;
        for (int k = 0; k < 2; k++) { /* backward: dx for all but the first layer with weights */
            CHECK(lre_linear_prepare(ctx, step_rows[k], l->in, l->out, 1, i > t->first_param,
                                     t->accumulation_steps > 1, 0));
            CHECK(lre_linear_prepare(ctx, pass_rows[k], l->in, l->out, 0, 0, 0,
                                     relu_follows(t->model, i)));
        }
    }
    return LRE_OK;
}

/* A batch_norm that trains on micro-batches with one value per channel
 * fails (torch: "Expected more than 1 value per channel when training"):
 * refused here, naming the layer, rather than at the step that has it. */
static lre_status check_batch_norm_rows(lre_trainer *t, lre_dataset *d,
                                        const lre_trainer_opts *o, const char *fn)
{
    const lre_model *m = t->model;
    const int64_t tail = o->drop_last ? 0 : d->n % o->batch_size,
                  least = d->n < o->batch_size ? d->n : tail ? tail : o->batch_size;
    for (int i = 0; i < m->n_layers; i++) {
        const lre_layer *l = &m->layers[i];
        if (l->kind != LRE_LAYER_BATCH_NORM || least * l->bn_S > 1) continue;
        char me[96];
        snprintf(me, sizeof me, "batch_norm%dd(%" PRId64 ")", l->bn_dims, l->norm_n);
        return lre_fail(t->ctx, LRE_EINVAL,
                        "%s: layer %d (%s) would train on a batch of one value per channel "
                        "(%s); batch norm needs more: a larger batch_size%s", fn, i + 1, me,
                        least == o->batch_size ? "batch_size 1"
                                               : "the epoch's last batch has one row",
                        least == o->batch_size ? "" : ", or drop_last");
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
    if ((unsigned)o.precision >= LRE_PRECISION_COUNT)
        return lre_fail(ctx, LRE_EINVAL,
                        "%s: unknown precision %d (LRE_PRECISION_FP32, _TF32 or _BF16: fp32, "
                        "tf32 or bf16)", fn, (int)o.precision);
    if (model->owner)
        return lre_fail(ctx, LRE_EINVAL,
                        "%s: the model already belongs to another trainer: two trainers on one "
                        "model step the same parameters, and a range test on one would undo "
                        "the other's training; make the second with trainer:clone{...} (Lua) "
                        "or lre_trainer_clone / lre_model_clone (C), or build it its own model",
                        fn);
    /* what the device does with it (fp32 where it lacks the one asked for) */
    lre_precision effective;
    CHECK(lre_ctx_use_precision(ctx, o.precision, &effective));

    lre_trainer *t = lre_calloc(ctx, 1, sizeof *t, "trainer");
    if (!t) return LRE_ENOMEM;
    t->refcount = 1;
    t->graphs = 1;
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
    t->precision_requested = o.precision;
    t->precision = effective;
    t->first_param = 0;
    while (!lre_layer_has_params(&model->layers[t->first_param])) /* the model has one: */
        if (++t->first_param == model->n_layers) break;         /* lre_model_add_* */
    /* the shapes of this data's rows (a model may have seen another shape) */
    model->in_ndim = 0;
    lre_status s = check_data(t, data, fn);
    if (!s) s = lre_model_set_input_shape(model, lre_dataset_row_ndim(data), data->row_ndim ?
                                          data->row_shape : data->rows->row_shape);
    if (!s) s = check_data(t, data, fn);
    if (!s) s = check_batch_norm_rows(t, data, &o, fn);
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
    if (!s) s = prepare_gemms(t);
    if (s) goto fail;
    model->owner = t;
    *out = t;
    return LRE_OK;
fail:
    lre_trainer_release(t);
    return s;
}

lre_trainer_opts lre_trainer_options(const lre_trainer *t)
{
    lre_trainer_opts o = lre_trainer_opts_default();
    if (!t) return o;
    o.loss = t->loss;
    o.optim = t->optim;
    o.batch_size = t->batch_size;
    o.accumulation_steps = t->accumulation_steps;
    o.seed = t->seed;
    o.shuffle = t->batcher.shuffle;
    o.drop_last = t->batcher.drop_last;
    o.precision = t->precision_requested;
    return o;
}

lre_status lre_trainer_clone(lre_trainer *t, lre_trainer **out, const lre_trainer_opts *opts)
{
    if (!t) return LRE_EINVAL;
    lre_ctx *ctx = t->ctx;
    if (!out) return lre_fail(ctx, LRE_EINVAL, "clone: out is NULL");
    *out = NULL;
    lre_trainer_opts o = opts ? *opts : lre_trainer_options(t);
    lre_model *m = NULL;
    lre_trainer *c = NULL;
    lre_snapshot *snap = NULL;
    lre_status s = lre_model_clone(t->model, &m);
    if (!s) s = lre_trainer_new(ctx, &c, m, t->data, &o);
    lre_model_release(m); /* the clone holds it */
    if (!s && c->optim.kind == t->optim.kind) {
        /* parameters, optimizer state, steps, batch position */
        s = lre_trainer_snapshot(t, &snap);
        if (!s) s = lre_trainer_restore(c, snap);
        lre_snapshot_release(snap);
    } else if (!s) { /* another optimizer: its own fresh state, the same batch position */
        c->steps = t->steps;
        c->batcher.seed = t->batcher.seed;
        c->seed = t->batcher.seed;
        c->batcher.epoch = t->batcher.epoch;
        c->batcher.cursor = t->batcher.cursor;
        c->rng_pos = t->rng_pos;
        lre_batcher_permute(&c->batcher);
    }
    if (s) {
        lre_trainer_release(c);
        return s;
    }
    *out = c;
    return LRE_OK;
}

void lre_trainer_retain(lre_trainer *t)
{
    if (t) t->refcount++;
}

void lre_trainer_release(lre_trainer *t)
{
    if (!t || --t->refcount > 0) return;
    lre_ctx *ctx = t->ctx;
    drop_graphs(t);
    lre_free(ctx, t->tail_ns, 0);
    ws_free(ctx, &t->ws, t->model->n_layers);
    lre_free(ctx, t->batcher.perm, 0);
    lre_optim_state_free(&t->opt);
    if (t->model->owner == t) t->model->owner = NULL;
    lre_model_release(t->model);
    lre_dataset_release(t->data);
    lre_free(ctx, t, sizeof *t);
    lre_ctx_release(ctx);
}

/* ------------------------------------------------------------ graphs */

/* Destroys the captured step and passes (before a buffer they point into
 * is replaced, and when the trainer goes). */
static void drop_graphs(lre_trainer *t)
{
    lre_graph_destroy(t->ctx, t->step_graph);
    t->step_graph = NULL;
    t->step_runs = 0;
    lre_graph_destroy(t->ctx, t->tail_graph);
    t->tail_graph = NULL;
    t->tail_runs = t->tail_k = 0;
    for (int i = 0; i < 2; i++) {
        lre_graph_destroy(t->ctx, t->eval[i].exec);
        lre_dataset_release(t->eval[i].data);
        memset(&t->eval[i], 0, sizeof t->eval[i]);
    }
}

/* Room for K micro-batches of indices: grown (and graphs dropped) only when
 * accumulation_steps grows. */
static lre_status ensure_step_space(lre_trainer *t, int K)
{
    lre_workspace *ws = &t->ws;
    int64_t need = (int64_t)K * t->batch_size;
    if (need <= ws->idx_cap) return LRE_OK;
    lre_ctx *ctx = t->ctx;
    drop_graphs(t);
    lre_pinned_free(ctx, ws->idx_host);
    lre_tensor_release(ws->idx);
    lre_free(ctx, ws->nrows, 0);
    lre_pinned_free(ctx, ws->rng_host);
    lre_tensor_release(ws->rng_dev);
    ws->idx_cap = 0;
    ws->idx = NULL;
    ws->rng_dev = NULL;
    ws->idx_host = lre_pinned_alloc(ctx, (size_t)need * sizeof *ws->idx_host, "batch indices");
    ws->nrows = lre_malloc(ctx, (size_t)K * sizeof *ws->nrows, "micro-batch sizes");
    ws->rng_host = lre_pinned_alloc(ctx, (size_t)2 * (size_t)K * sizeof *ws->rng_host, "dropout");
    lre_free(ctx, t->tail_ns, 0);
    t->tail_ns = lre_calloc(ctx, (size_t)K, sizeof *t->tail_ns, "micro-batch sizes");
    if (!ws->idx_host || !ws->nrows || !ws->rng_host || !t->tail_ns) return LRE_ENOMEM;
    int64_t two_k = 2 * (int64_t)K;
    CHECK(lre_tensor_new(ctx, &ws->rng_dev, LRE_I64, 1, &two_k));
    CHECK(lre_tensor_new(ctx, &ws->idx, LRE_I64, 1, &need));
    ws->idx_cap = need;
    return LRE_OK;
}

/* Room for n losses and counts on the device and their pinned host side. */
static lre_status ensure_out(lre_trainer *t, int64_t n)
{
    lre_workspace *ws = &t->ws;
    if (n <= ws->out_cap) return LRE_OK;
    lre_ctx *ctx = t->ctx;
    int64_t cap = n > 2 * ws->out_cap ? n : 2 * ws->out_cap;
    if (cap < 64) cap = 64;
    drop_graphs(t);
    lre_tensor_release(ws->losses);
    lre_tensor_release(ws->counts);
    lre_pinned_free(ctx, ws->loss_host);
    lre_pinned_free(ctx, ws->count_host);
    ws->losses = ws->counts = NULL;
    ws->out_cap = 0;
    ws->loss_host = lre_pinned_alloc(ctx, (size_t)cap * sizeof *ws->loss_host, "losses");
    ws->count_host = lre_pinned_alloc(ctx, (size_t)cap * sizeof *ws->count_host, "counts");
    if (!ws->loss_host || !ws->count_host) return LRE_ENOMEM;
    CHECK(lre_tensor_new(ctx, &ws->losses, LRE_F32, 1, &cap));
    CHECK(lre_tensor_new(ctx, &ws->counts, LRE_I64, 1, &cap));
    ws->out_cap = cap;
    return LRE_OK;
}

/* Runs body(t, arg) once: eagerly where the backend has no graphs, for the
 * first run of a key (it warms the allocations and caches a capture must
 * not make), or if capturing fails (graphs are then off for this trainer,
 * and the eager run reports any real error); else captured into *g on the
 * second run and replayed from then on. Issued, not waited for. */
static lre_status run_graph(lre_trainer *t, void **g, int *runs,
                            lre_status (*body)(lre_trainer *, const void *), const void *arg)
{
    lre_ctx *ctx = t->ctx;
    if (!t->graphs || !lre_ctx_can_capture(ctx)) return body(t, arg);
    if (!*g && *runs < 1) { /* counted once it ran through: a capture must not be a first touch */
        lre_status s = body(t, arg);
        if (!s) (*runs)++;
        return s;
    }
    if (!*g) {
        void *graph = NULL;
        lre_status s = lre_capture_begin(ctx);
        if (!s) {
            s = body(t, arg);
            lre_status e = lre_capture_end(ctx, &graph);
            if (!s) s = e;
        }
        if (s) { /* this step runs eagerly, and the trainer stays eager */
            lre_graph_destroy(ctx, graph);
            t->graphs = 0;
            lre_ctx_clear_error(ctx);
            return body(t, arg);
        }
        *g = graph; /* its GEMMs keep the math mode (precision) of the capture */
    }
    lre_status s = lre_graph_launch(ctx, *g);
    if (s) { /* a graph that does not launch is dropped; the trainer goes eager */
        lre_graph_destroy(ctx, *g);
        *g = NULL;
        t->graphs = 0;
        lre_ctx_clear_error(ctx);
        return body(t, arg);
    }
    return LRE_OK;
}

/* ---------------------------------------------------- forward/backward */

/* The row views of an n-row batch (set per batch, no allocation). */
static void set_views(lre_trainer *t, int64_t n)
{
    lre_workspace *ws = &t->ws;
    lre_tensor_set_rows(&ws->vx, ws->x, n);
    lre_tensor_set_rows(&ws->vy, ws->y, n);
    if (ws->t) lre_tensor_set_rows(&ws->vt, ws->t, n);
    for (int i = 0; i < t->model->n_layers; i++) {
        lre_tensor_set_rows(&ws->vact[i], ws->act[i], n);
        if (ws->dact[i]) lre_tensor_set_rows(&ws->vdact[i], ws->dact[i], n);
        if (t->model->layers[i].kind == LRE_LAYER_MAX_POOL2D ||
            t->model->layers[i].kind == LRE_LAYER_LAYER_NORM ||
            t->model->layers[i].kind == LRE_LAYER_DROPOUT)
            lre_tensor_set_rows(&ws->vaux[i], ws->aux[i], n);
        if (t->model->layers[i].kind == LRE_LAYER_LAYER_NORM)
            lre_tensor_set_rows(&ws->vaux2[i], ws->aux2[i], n);
    }
}

/* Dropout's seed and serial for the micro-batch a step runs (device
 * memory, uploaded by step_body), and layer i's stream within it. */
static const uint64_t *dropout_rng(lre_trainer *t)
{
    return (const uint64_t *)lre_tensor_data(t->ws.rng_dev) + 2 * t->cur_k;
}

static uint64_t dropout_salt(int i)
{
    return ((uint64_t)i + 1) * 0x9E3779B97F4A7C15ull;
}

/* The forward pass; `pass` (no backward follows): a linear layer and the
 * ReLU after it in one call, into the ReLU's output (the linear's own stays
 * unwritten), the same bits as two. */
static lre_status forward(lre_trainer *t, int pass)
{
    lre_workspace *ws = &t->ws;
    const lre_tensor *h = &ws->vx;
    for (int i = 0; i < t->model->n_layers; i++) {
        lre_layer *l = &t->model->layers[i];
        lre_tensor *y = &ws->vact[i];
        switch (l->kind) {
        case LRE_LAYER_LINEAR: {
            const int fuse = pass && relu_follows(t->model, i);
            CHECK(lre_linear_relu_forward(t->ctx, &ws->vact[i + fuse], h, l->w, l->b, fuse));
            i += fuse;
            break;
        }
        case LRE_LAYER_ACT:
            CHECK(lre_act_forward(t->ctx, l->act, l->act_param, y, h));
            break;
        case LRE_LAYER_CONV2D: {
            const int fuse = pass && relu_follows(t->model, i);
            CHECK(lre_conv2d_relu_forward(t->ctx, &ws->vact[i + fuse], h, l->w, l->b, &l->g,
                                          ws->aux[i], fuse));
            i += fuse;
            break;
        }
        case LRE_LAYER_MAX_POOL2D:
            CHECK(lre_max_pool2d_forward(t->ctx, y, &ws->vaux[i], h, &l->g));
            break;
        case LRE_LAYER_AVG_POOL2D:
            CHECK(lre_avg_pool2d_forward(t->ctx, y, h, &l->g, l->win.count_include_pad));
            break;
        case LRE_LAYER_ADAPTIVE_AVG_POOL2D:
            CHECK(lre_adaptive_avg_pool2d_forward(t->ctx, y, h, &l->g));
            break;
        case LRE_LAYER_LAYER_NORM:
            CHECK(lre_layer_norm_forward(t->ctx, y, &ws->vaux[i], &ws->vaux2[i], h, l->w, l->b,
                                         l->norm_n, l->eps));
            break;
        case LRE_LAYER_RESIDUAL_END:
            CHECK(lre_add_dev(t->ctx, y, &ws->vact[l->res_a], &ws->vact[l->res_b]));
            break;
        case LRE_LAYER_DROPOUT: /* a pass lets the values through */
            if (pass)
                CHECK(lre_tensor_copy(y, h));
            else
                CHECK(lre_dropout_dev(t->ctx, y, &ws->vaux[i], h, l->act_param,
                                      dropout_rng(t), dropout_salt(i)));
            break;
        case LRE_LAYER_BATCH_NORM: /* a step trains; a pass evaluates (running statistics) */
            CHECK(lre_batch_norm_forward(t->ctx, y, ws->aux[i], ws->aux2[i], l->rm, l->rv, h,
                                         l->w, l->b, l->norm_n, l->bn_S, l->eps, l->momentum,
                                         !pass));
            break;
        default: /* flatten: its output is its input */
            break;
        }
        h = &ws->vact[i];
    }
    return LRE_OK;
}

/* Loss of the batch into loss_dev (device memory); with `grad` its
 * gradient into the last dact. */
static lre_status loss_of(lre_trainer *t, float *loss_dev, int grad, float grad_scale)
{
    lre_workspace *ws = &t->ws;
    int last = t->model->n_layers - 1;
    lre_tensor *dout = grad ? &ws->vdact[last] : NULL;
    if (t->loss.kind == LRE_LOSS_CROSS_ENTROPY)
        return lre_cross_entropy_dev(t->ctx, loss_dev, dout, &ws->vact[last], &ws->vy,
                                     t->loss.label_smoothing, grad_scale);
    return lre_mse_dev(t->ctx, loss_dev, dout, &ws->vact[last], &ws->vt, grad_scale);
}

static lre_status backward(lre_trainer *t, int accumulate)
{
    lre_workspace *ws = &t->ws;
    for (int i = t->model->n_layers - 1; i >= t->first_param; i--) {
        lre_layer *l = &t->model->layers[i];
        const lre_tensor *in = i > 0 ? &ws->vact[i - 1] : &ws->vx;
        /* no gradient below the first layer with weights */
        lre_tensor *din = i > t->first_param ? &ws->vdact[i - 1] : NULL;
        const lre_tensor *dy = &ws->vdact[i];
        switch (l->kind) {
        case LRE_LAYER_LINEAR:
            CHECK(lre_linear_backward(t->ctx, din, l->dw, l->db, dy, in, l->w, accumulate));
            break;
        case LRE_LAYER_CONV2D:
            CHECK(lre_conv2d_backward(t->ctx, din, l->dw, l->db, dy, in, l->w, &l->g,
                                      ws->aux[i], accumulate));
            break;
        case LRE_LAYER_ACT:
            CHECK(lre_act_backward(t->ctx, l->act, l->act_param, din, dy, in, &ws->vact[i]));
            break;
        case LRE_LAYER_MAX_POOL2D:
            CHECK(lre_max_pool2d_backward(t->ctx, din, dy, &ws->vaux[i], &l->g));
            break;
        case LRE_LAYER_AVG_POOL2D:
            CHECK(lre_avg_pool2d_backward(t->ctx, din, dy, &l->g, l->win.count_include_pad));
            break;
        case LRE_LAYER_ADAPTIVE_AVG_POOL2D:
            CHECK(lre_adaptive_avg_pool2d_backward(t->ctx, din, dy, &l->g));
            break;
        case LRE_LAYER_LAYER_NORM:
            CHECK(lre_layer_norm_backward(t->ctx, din, l->dw, l->db, dy, in, &ws->vaux[i],
                                          &ws->vaux2[i], l->w, l->norm_n, accumulate));
            break;
        case LRE_LAYER_RESIDUAL: { /* the branch's gradient + the shortcut's (or dy) */
            const int other = l->res_a >= 0 ? l->res_a : l->res_b;
            CHECK(lre_add_dev(t->ctx, din, dy, &ws->vdact[other]));
            break;
        }
        case LRE_LAYER_DROPOUT: /* the same mask again, on dy */
            CHECK(lre_dropout_dev(t->ctx, din, &ws->vaux[i], dy, l->act_param, dropout_rng(t),
                                  dropout_salt(i)));
            break;
        case LRE_LAYER_BATCH_NORM:
            CHECK(lre_batch_norm_backward(t->ctx, din, l->dw, l->db, dy, in, ws->aux[i],
                                          ws->aux2[i], l->w, l->norm_n, l->bn_S, accumulate));
            break;
        default: /* flatten: its gradient is its input's */
            break;
        }
    }
    return LRE_OK;
}

/* -------------------------------------------------------------- step */

typedef struct step_arg {
    int K;
    float scale;
} step_arg;

/* The device's part of a step, everything the host decided (batch indices
 * in idx_host, micro-batch sizes in nrows, the optimizer's scalars staged)
 * already in pinned memory: for each micro-batch the indices go up, the
 * batch is gathered from the device's rows, forward, loss, backward; then
 * the update, and the losses come back. No allocation, no wait: capturable. */
static lre_status step_body(lre_trainer *t, const void *argp)
{
    const step_arg *a = argp;
    lre_workspace *ws = &t->ws;
    const int64_t bs = t->batch_size;
    float *losses = lre_f32(ws->losses);
    /* dropout's seed and serials go up with the indices (pinned: a captured
     * step copies what the host wrote for its turn) */
    lre_tensor_set_row_range(&ws->vrng, ws->rng_dev, 0, (int64_t)2 * a->K);
    CHECK(lre_tensor_from_host(&ws->vrng, ws->rng_host,
                               (size_t)2 * (size_t)a->K * sizeof *ws->rng_host));
    for (int k = 0; k < a->K; k++) {
        int64_t n = ws->nrows[k];
        t->cur_k = k;
        lre_tensor_set_row_range(&ws->vidx, ws->idx, k * bs, n);
        CHECK(lre_tensor_from_host(&ws->vidx, ws->idx_host + k * bs, (size_t)n * sizeof(int64_t)));
        CHECK(lre_dataset_gather_rows(t->data, &ws->vidx, 0, n, ws->x, ws->y, ws->t));
        set_views(t, n);
        CHECK(forward(t, 0));
        CHECK(loss_of(t, losses + k, 1, a->scale));
        CHECK(backward(t, k > 0));
    }
    CHECK(lre_optim_state_apply(t->ctx, &t->optim, &t->opt, t->model->params, t->model->grads));
    return lre_tensor_to_pinned_async(ws->losses, ws->loss_host, (size_t)a->K * sizeof(float));
}

/* Puts the context's device in this trainer's precision before its GEMMs
 * (trainers of one context may differ; a graph captured afterwards holds
 * the GEMMs of this precision); free when it is already there. */
static lre_status apply_precision(lre_trainer *t)
{
    lre_precision got;
    return lre_ctx_use_precision(t->ctx, t->precision, &got);
}

lre_status lre_trainer_step(lre_trainer *t, double lr, float *loss)
{
    if (!t) return LRE_EINVAL;
    lre_ctx *ctx = t->ctx;
    if (!loss) return lre_fail(ctx, LRE_EINVAL, "step: loss is NULL");
    if (!isfinite(lr) || lr < 0.0)
        return lre_fail(ctx, LRE_EINVAL, "step: learning rate %g must be finite and >= 0", lr);
    CHECK(apply_precision(t));
    const int K = t->accumulation_steps;
    CHECK(ensure_step_space(t, K));
    CHECK(ensure_out(t, K));
    lre_workspace *ws = &t->ws;
    int full = 1;
    for (int k = 0; k < K; k++) {
        lre_batcher_next(&t->batcher, t->batch_size, ws->idx_host + k * t->batch_size,
                         &ws->nrows[k]);
        full = full && ws->nrows[k] == t->batch_size;
    }
    lre_optim_scalars_stage(ctx, &t->optim, lr, t->steps + 1);
    for (int k = 0; k < K; k++) {
        ws->rng_host[2 * k] = t->seed;
        ws->rng_host[2 * k + 1] = (uint64_t)(t->rng_pos + k);
    }
    const step_arg a = {K, 1.0f / (float)K};
    if (full) {
        if (t->step_k != K) {
            lre_graph_destroy(ctx, t->step_graph);
            t->step_graph = NULL;
            t->step_runs = 0;
            t->step_k = K;
        }
        CHECK(run_graph(t, &t->step_graph, &t->step_runs, step_body, &a));
    } else { /* a short micro-batch (an epoch's last): the graph of its shape */
        if (t->tail_k != K || memcmp(t->tail_ns, ws->nrows, (size_t)K * sizeof *ws->nrows)) {
            lre_graph_destroy(ctx, t->tail_graph);
            t->tail_graph = NULL;
            t->tail_runs = 0;
            t->tail_k = K;
            memcpy(t->tail_ns, ws->nrows, (size_t)K * sizeof *ws->nrows);
        }
        CHECK(run_graph(t, &t->tail_graph, &t->tail_runs, step_body, &a));
    }
    CHECK(lre_ctx_synchronize(ctx));
    double total = 0.0;
    for (int k = 0; k < K; k++) total += (double)ws->loss_host[k];
    t->steps++;
    t->rng_pos += K;
    for (int i = 0; i < t->model->n_layers; i++) /* one per training forward, as torch */
        if (t->model->layers[i].kind == LRE_LAYER_BATCH_NORM) t->model->layers[i].nbt += K;
    *loss = (float)(total / K);
    return LRE_OK;
}

/* --------------------------------------------------- evaluate, accuracy */

typedef struct eval_arg {
    lre_dataset *d;
    int mode; /* 1: losses, 2: counts */
} eval_arg;

/* One pass over the rows of d in order, in chunks of the workspace's rows:
 * gather, forward, the chunk's mean loss and/or count of right answers
 * into losses[c]/counts[c], then both come back. Capturable. */
static lre_status eval_body(lre_trainer *t, const void *argp)
{
    const eval_arg *a = argp;
    lre_workspace *ws = &t->ws;
    const int last = t->model->n_layers - 1;
    float *losses = lre_f32(ws->losses);
    int64_t *counts = (int64_t *)lre_tensor_data(ws->counts);
    int64_t c = 0;
    for (int64_t start = 0; start < a->d->n; start += ws->rows, c++) {
        int64_t n = a->d->n - start < ws->rows ? a->d->n - start : ws->rows;
        CHECK(lre_dataset_gather_rows(a->d, NULL, start, n, ws->x, ws->y, ws->t));
        set_views(t, n);
        CHECK(forward(t, 1));
        if (a->mode & 1) CHECK(loss_of(t, losses + c, 0, 1.0f));
        if (a->mode & 2) CHECK(lre_count_correct_dev(t->ctx, counts + c, &ws->vact[last], &ws->vy));
    }
    if (a->mode & 1) CHECK(lre_tensor_to_pinned_async(ws->losses, ws->loss_host, (size_t)c * 4));
    if (a->mode & 2) CHECK(lre_tensor_to_pinned_async(ws->counts, ws->count_host, (size_t)c * 8));
    return LRE_OK;
}

/* The pass over d: the sum of the per-row losses (mean × rows per chunk,
 * in order, in double) and/or the count of right answers. */
static lre_status over_dataset(lre_trainer *t, lre_dataset *d, double *sum_loss,
                               int64_t *correct)
{
    lre_workspace *ws = &t->ws;
    const int64_t chunks = (d->n + ws->rows - 1) / ws->rows;
    CHECK(ensure_out(t, chunks));
    const eval_arg a = {d, (sum_loss ? 1 : 0) | (correct ? 2 : 0)};
    lre_eval_graph *g = NULL;
    for (int i = 0; i < 2 && !g; i++)
        if (t->eval[i].data == d && t->eval[i].mode == a.mode) g = &t->eval[i];
    if (!g) { /* the slot used least: a new key starts with an eager run */
        g = t->eval[0].runs <= t->eval[1].runs ? &t->eval[0] : &t->eval[1];
        lre_graph_destroy(t->ctx, g->exec);
        lre_dataset_release(g->data);
        memset(g, 0, sizeof *g);
        g->data = d;
        lre_dataset_retain(d);
        g->mode = a.mode;
    }
    CHECK(run_graph(t, &g->exec, &g->runs, eval_body, &a));
    CHECK(lre_ctx_synchronize(t->ctx));
    double total = 0.0;
    int64_t right = 0;
    for (int64_t c = 0; c < chunks; c++) {
        int64_t n = d->n - c * ws->rows < ws->rows ? d->n - c * ws->rows : ws->rows;
        if (sum_loss) total += (double)ws->loss_host[c] * (double)n;
        if (correct) right += ws->count_host[c];
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
    CHECK(apply_precision(t));
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
    CHECK(apply_precision(t));
    int64_t right;
    CHECK(over_dataset(t, data, NULL, &right));
    *acc = (double)right / (double)data->n;
    return LRE_OK;
}

int lre_trainer_graphs(const lre_trainer *t)
{
    return t && t->graphs && lre_ctx_can_capture(t->ctx);
}

lre_status lre_trainer_set_graphs(lre_trainer *t, int on)
{
    if (!t) return LRE_EINVAL;
    if (!on) drop_graphs(t);
    t->graphs = on != 0;
    return LRE_OK;
}

lre_status lre_trainer_reinit(lre_trainer *t, uint64_t seed)
{
    if (!t) return LRE_EINVAL;
    CHECK(lre_model_init(t->model, seed));
    CHECK(lre_optim_state_zero(&t->opt));
    t->steps = 0;
    t->rng_pos = 0;
    return LRE_OK;
}

lre_status lre_trainer_reseed(lre_trainer *t, uint64_t seed)
{
    if (!t) return LRE_EINVAL;
    t->seed = seed;
    t->batcher.seed = seed;
    t->batcher.epoch = 0;
    t->batcher.cursor = 0;
    t->rng_pos = 0; /* dropout's masks start again, from the new seed */
    lre_batcher_permute(&t->batcher);
    return LRE_OK;
}

int64_t lre_trainer_steps(const lre_trainer *t) { return t->steps; }
int64_t lre_trainer_epoch(const lre_trainer *t) { return t->batcher.epoch; }
int64_t lre_trainer_cursor(const lre_trainer *t) { return t->batcher.cursor; }
int64_t lre_trainer_batch_size(const lre_trainer *t) { return t->batch_size; }
int64_t lre_trainer_steps_per_epoch(const lre_trainer *t)
{
    const int64_t n = t->data->n, bs = t->batch_size, k = t->accumulation_steps;
    const int64_t batches = t->batcher.drop_last ? n / bs : (n + bs - 1) / bs;
    return (batches + k - 1) / k;
}
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

lre_precision lre_trainer_precision(const lre_trainer *t, lre_precision *requested)
{
    if (requested) *requested = t->precision_requested;
    return t->precision;
}
