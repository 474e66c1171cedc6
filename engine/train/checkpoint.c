/*
 * checkpoint.c — a trainer's state on disk: lre_trainer_save/load through a
 * safetensors file (the parser is safetensors.c).
 *
 * What a snapshot file holds (version 2)
 *   tensors, in this order in the header and in the data section:
 *     "optim.step"  I64, shape [] (a scalar): the optimizer steps taken.
 *             torch.optim keeps `step` as a float32 scalar per parameter;
 *             one exact 64-bit integer is kept here instead (float32 counts
 *             exactly only to 2^24), and it comes first so that it lies
 *             8-byte aligned, as the reference writer aligns wider dtypes.
 *             The metadata "steps" says the same; a file where the two
 *             differ is refused.
 *     "<i>.weight" F32 [out,in] and "<i>.bias" F32 [out] for every linear
 *             layer i, numbered over all layers as torch.nn.Sequential
 *             numbers its children (activations count), so
 *             Sequential(Linear, ReLU, Linear).load_state_dict(...) works
 *             on the tensors without the "optim." prefix;
 *     "optim.<i>.weight.<buf>" F32 [out,in] and "optim.<i>.bias.<buf>" F32
 *             [out]: the optimizer's state of that parameter, per parameter
 *             as torch.optim keeps it, layer by layer, weight then bias,
 *             and for each parameter the optimizer's buffers in this order:
 *               SGD with momentum  momentum_buffer
 *               SGD, momentum 0    (none: no optimizer tensor but the step)
 *               Adam, AdamW        exp_avg, exp_avg_sq
 *             (torch's optimizer.state[p][<buf>] of the parameter p that
 *             "<i>.weight" / "<i>.bias" names).
 *   metadata  all strings: format "lrengine-snapshot", version "2",
 *             architecture (lre_model_describe), optimizer and its
 *             hyper-parameters, loss and label_smoothing, steps, seed, epoch,
 *             cursor, batch_size, accumulation_steps, shuffle, drop_last,
 *             engine_version. Floats are printed with %.9g (float32) or
 *             %.17g (the double hyper-parameters), so they round-trip.
 *
 * Version 1 (read, never written) held the same parameter tensors and
 * metadata (version "1"), no "optim.step", and the optimizer state as two
 * whole-buffer tensors "optim.state1" and "optim.state2", F32 [n_params],
 * over the flat parameter buffer. Loading one maps state1 to the first
 * buffer (momentum_buffer or exp_avg) and state2 to exp_avg_sq; SGD ignores
 * state2 (it was zeros) and SGD without momentum ignores both. Both must
 * still be present, F32 [n_params] and finite, as version 1 required.
 *
 * Saving goes through lre_write_file (core/file.c): missing folders are
 * made, a temporary file beside <path> is written, flushed, synced and
 * renamed over it: <path> is either the old file or the new one, never
 * half of one. Any failure removes the temporary file.
 *
 * Loading reads the whole file, parses it (lre_safetensors_parse), checks it
 * against the trainer, decodes every tensor into host buffers and only then
 * touches the trainer, so a refused file leaves the trainer as it was.
 * Policy:
 *   - format, version (1 or 2), architecture and optimizer kind must match;
 *     a missing, extra, mistyped or misshapen tensor is refused, named.
 *     An SGD file whose momentum buffers the trainer has no use for (or
 *     lacks those the trainer's momentum needs) is refused as such.
 *   - the trainer's own configuration stays in force: hyper-parameters,
 *     loss, batch size, accumulation steps that differ from the file's are
 *     accepted (the file's values are a record of the run that wrote it),
 *     like torch's load_state_dict followed by an optimizer of the caller's
 *     choosing.
 *   - a NaN or infinity in the parameters or any optimizer buffer is
 *     refused (message names the tensor and the element): such a state
 *     cannot train and is almost always a diverged run or a corrupt file.
 *     Saving does not check, so a diverged state can still be written and
 *     inspected in PyTorch.
 *   - "optim.step" must equal the metadata "steps".
 *   - the cursor must lie within the trainer's dataset.
 */
#include "train/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cJSON.h>

#include "train/train.h"

#define SNAP_FORMAT "lrengine-snapshot"
#define SNAP_VERSION "2"    /* written; "1" is read too */
#define STEP_NAME "optim.step"

/* ------------------------------------------------- trainer ↔ snapshot */

static const char *loss_name(lre_loss_kind k)
{
    switch (k) {
    case LRE_LOSS_CROSS_ENTROPY: return "cross_entropy";
    case LRE_LOSS_MSE: return "mse";
    default: return "unknown";
    }
}

/* lre_model_describe into a heap buffer large enough for any model (64
 * bytes per layer is more than any layer's description takes). */
static char *describe_model(lre_ctx *ctx, const lre_model *m, size_t *size)
{
    size_t n = 200 * ((size_t)m->n_layers + 1) + 64;
    char *buf = lre_malloc(ctx, n, "architecture description");
    if (!buf) return NULL;
    buf[0] = '\0';
    lre_model_describe(m, buf, n);
    buf[n - 1] = '\0';
    *size = n;
    return buf;
}

/* Checks that layer i's parameters lie inside the flat buffer. */
static lre_status check_layer_offsets(lre_ctx *ctx, const lre_model *m, int i, const char *what)
{
    const lre_layer *L = &m->layers[i];
    if (L->wn <= 0 || L->bn < 0 || L->w_off < 0 || L->b_off < 0 ||
        L->w_off > m->n_params - L->wn || L->b_off > m->n_params - L->bn)
        return lre_fail(ctx, LRE_ESTATE,
                        "%s: layer %d's parameters lie outside the flat parameter buffer "
                        "(internal error)", what, i);
    return LRE_OK;
}

/* A tensor's name: "<i>.weight", or "optim.<i>.weight.exp_avg" when buf is
 * an optimizer buffer's name. */
#define PNAME_MAX 128
static void param_name(char *out, const char *layer, const char *which, const char *buf)
{
    if (buf)
        snprintf(out, PNAME_MAX, "optim.%s.%s.%s", layer, which, buf);
    else
        snprintf(out, PNAME_MAX, "%s.%s", layer, which);
}

/* ---------------------------------------------------------------- save */

static int add_str(cJSON *o, const char *k, const char *v)
{
    return cJSON_AddStringToObject(o, k, v) != NULL;
}

static int add_fmt(cJSON *o, const char *k, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int add_fmt(cJSON *o, const char *k, const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return add_str(o, k, buf);
}

/* Adds "name": {"dtype": dtype, "shape": [...], "data_offsets": [b, e]}.
 * Integers go in as raw JSON text so that every value prints exactly (cJSON
 * would print large doubles in exponent form). */
static int add_tensor_entry(cJSON *root, const char *name, const char *dtype, int ndim,
                            const int64_t *shape, uint64_t begin, uint64_t end)
{
    char num[32];
    cJSON *e = cJSON_CreateObject();
    if (!e) return 0;
    if (!cJSON_AddItemToObject(root, name, e)) { cJSON_Delete(e); return 0; }
    if (!cJSON_AddStringToObject(e, "dtype", dtype)) return 0;
    cJSON *sh = cJSON_AddArrayToObject(e, "shape");
    if (!sh) return 0;
    for (int i = 0; i < ndim; i++) {
        snprintf(num, sizeof num, "%" PRId64, shape[i]);
        cJSON *v = cJSON_CreateRaw(num);
        if (!v || !cJSON_AddItemToArray(sh, v)) { cJSON_Delete(v); return 0; }
    }
    cJSON *off = cJSON_AddArrayToObject(e, "data_offsets");
    if (!off) return 0;
    uint64_t be[2] = {begin, end};
    for (int i = 0; i < 2; i++) {
        snprintf(num, sizeof num, "%" PRIu64, be[i]);
        cJSON *v = cJSON_CreateRaw(num);
        if (!v || !cJSON_AddItemToArray(off, v)) { cJSON_Delete(v); return 0; }
    }
    return 1;
}

/* The JSON header of t's snapshot (cJSON_free it). */
static lre_status build_header(lre_trainer *t, const char *path, char **json)
{
    lre_ctx *ctx = t->ctx;
    lre_model *m = t->model;
    const lre_optim_config *o = &t->optim;
    size_t asz = 0;
    char *arch = describe_model(ctx, m, &asz);
    if (!arch) return LRE_ENOMEM;

    int ok = 1;
    cJSON *root = cJSON_CreateObject();
    cJSON *md = root ? cJSON_AddObjectToObject(root, "__metadata__") : NULL;
    ok = md != NULL;
    ok = ok && add_str(md, "format", SNAP_FORMAT);
    ok = ok && add_str(md, "version", SNAP_VERSION);
    ok = ok && add_str(md, "architecture", arch);
    ok = ok && add_str(md, "optimizer", lre_optim_name(o->kind));
    ok = ok && add_fmt(md, "weight_decay", "%.17g", o->weight_decay);
    ok = ok && add_fmt(md, "momentum", "%.17g", o->momentum);
    ok = ok && add_fmt(md, "dampening", "%.17g", o->dampening);
    ok = ok && add_fmt(md, "nesterov", "%d", o->nesterov ? 1 : 0);
    ok = ok && add_fmt(md, "beta1", "%.17g", o->beta1);
    ok = ok && add_fmt(md, "beta2", "%.17g", o->beta2);
    ok = ok && add_fmt(md, "eps", "%.17g", o->eps);
    ok = ok && add_str(md, "loss", loss_name(t->loss.kind));
    ok = ok && add_fmt(md, "label_smoothing", "%.9g", (double)t->loss.label_smoothing);
    ok = ok && add_fmt(md, "steps", "%" PRId64, t->steps);
    ok = ok && add_fmt(md, "seed", "%" PRIu64, t->batcher.seed);
    ok = ok && add_fmt(md, "epoch", "%" PRId64, t->batcher.epoch);
    ok = ok && add_fmt(md, "cursor", "%" PRId64, t->batcher.cursor);
    ok = ok && add_fmt(md, "dropout_position", "%" PRId64, t->rng_pos);
    ok = ok && add_fmt(md, "batch_size", "%" PRId64, t->batch_size);
    ok = ok && add_fmt(md, "accumulation_steps", "%d", t->accumulation_steps);
    ok = ok && add_fmt(md, "shuffle", "%d", t->batcher.shuffle ? 1 : 0);
    ok = ok && add_fmt(md, "drop_last", "%d", t->batcher.drop_last ? 1 : 0);
    ok = ok && add_str(md, "engine_version", lre_version());
    lre_free(ctx, arch, asz);

    /* The order here is the order of the data written by lre_trainer_save. */
    uint64_t pos = 8;
    ok = ok && add_tensor_entry(root, STEP_NAME, "I64", 0, NULL, 0, pos);
    char name[PNAME_MAX];
    for (int pass = 0; pass < 2; pass++) /* the parameters, then the optimizer's */
        for (int i = 0; ok && i < m->n_layers; i++) {
            const lre_layer *L = &m->layers[i];
            if (!lre_layer_has_params(L)) continue;
            uint64_t wb = (uint64_t)L->wn * 4, bb = (uint64_t)L->bn * 4;
            int nb = pass == 0 ? 1 : t->opt.n;
            for (int k = 0; ok && k < nb; k++) {
                param_name(name, m->layers[i].pname, "weight", pass ? t->opt.name[k] : NULL);
                ok = add_tensor_entry(root, name, "F32", L->w_ndim, L->w_shape, pos, pos + wb);
                pos += wb;
            }
            for (int k = 0; ok && L->bn && k < nb; k++) {
                param_name(name, m->layers[i].pname, "bias", pass ? t->opt.name[k] : NULL);
                ok = add_tensor_entry(root, name, "F32", 1, &L->bn, pos, pos + bb);
                pos += bb;
            }
        }

    /* batch norm's running statistics and num_batches_tracked, as torch's
     * state_dict names them (buffers, after the optimizer's state) */
    for (int i = 0; ok && i < m->n_layers; i++) {
        const lre_layer *L = &m->layers[i];
        if (L->kind != LRE_LAYER_BATCH_NORM) continue;
        uint64_t cb = (uint64_t)L->norm_n * 4;
        snprintf(name, sizeof name, "%s.running_mean", m->layers[i].pname);
        ok = add_tensor_entry(root, name, "F32", 1, &L->norm_n, pos, pos + cb);
        pos += cb;
        snprintf(name, sizeof name, "%s.running_var", m->layers[i].pname);
        ok = ok && add_tensor_entry(root, name, "F32", 1, &L->norm_n, pos, pos + cb);
        pos += cb;
        snprintf(name, sizeof name, "%s.num_batches_tracked", m->layers[i].pname);
        ok = ok && add_tensor_entry(root, name, "I64", 0, NULL, pos, pos + 8);
        pos += 8;
    }

    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return lre_fail(ctx, LRE_ENOMEM, "save: %s: out of memory building the header", path);
    *json = text;
    return LRE_OK;
}

/* fwrite of n floats as little-endian F32, in chunks (any host order). */
static int write_f32(FILE *f, const float *x, size_t n)
{
    uint8_t buf[4096];
    while (n > 0) {
        size_t k = n < sizeof buf / 4 ? n : sizeof buf / 4;
        for (size_t i = 0; i < k; i++) {
            uint32_t u;
            memcpy(&u, &x[i], 4);
            buf[4 * i] = (uint8_t)u;
            buf[4 * i + 1] = (uint8_t)(u >> 8);
            buf[4 * i + 2] = (uint8_t)(u >> 16);
            buf[4 * i + 3] = (uint8_t)(u >> 24);
        }
        if (fwrite(buf, 1, 4 * k, f) != 4 * k) return -1;
        x += k;
        n -= k;
    }
    return 0;
}

/* What the file holds past the header, in build_header's order. */
typedef struct save_job {
    const char *json;
    size_t jn, hn;
    int64_t steps;
    const lre_model *m;
    const float *host;        /* parameters, then each optimizer buffer */
    size_t stride;
    int nbuf;
    const float *stats;       /* the running statistics (model->buffers), or NULL */
} save_job;

static int write_checkpoint(FILE *f, void *ud)
{
    const save_job *j = ud;
    uint8_t len8[8], step8[8];
    lre_st_put_le64(len8, (uint64_t)j->hn);
    if (fwrite(len8, 1, 8, f) != 8 || fwrite(j->json, 1, j->jn, f) != j->jn) return -1;
    for (size_t i = j->jn; i < j->hn; i++)
        if (fputc(' ', f) == EOF) return -1;
    lre_st_put_le64(step8, (uint64_t)j->steps);
    if (fwrite(step8, 1, 8, f) != 8) return -1;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < j->m->n_layers; i++) {
            const lre_layer *L = &j->m->layers[i];
            if (!lre_layer_has_params(L)) continue;
            int k0 = pass == 0 ? 0 : 1, k1 = pass == 0 ? 1 : 1 + j->nbuf;
            for (int k = k0; k < k1; k++)
                if (write_f32(f, j->host + j->stride * (size_t)k + L->w_off, (size_t)L->wn))
                    return -1;
            for (int k = k0; L->bn && k < k1; k++)
                if (write_f32(f, j->host + j->stride * (size_t)k + L->b_off, (size_t)L->bn))
                    return -1;
        }
    for (int i = 0; i < j->m->n_layers; i++) {
        const lre_layer *L = &j->m->layers[i];
        if (L->kind != LRE_LAYER_BATCH_NORM) continue;
        uint8_t n8[8];
        lre_st_put_le64(n8, (uint64_t)L->nbt);
        if (write_f32(f, j->stats + L->buf_off, (size_t)(2 * L->norm_n)) ||
            fwrite(n8, 1, 8, f) != 8)
            return -1;
    }
    return 0;
}

lre_status lre_trainer_save(lre_trainer *t, const char *path)
{
    if (!t) return LRE_EINVAL;
    lre_ctx *ctx = t->ctx;
    lre_model *m = t->model;
    lre_status s;
    if (!path || !*path) return lre_fail(ctx, LRE_EINVAL, "save: path is empty");
    if (!m->initialized || !m->params)
        return lre_fail(ctx, LRE_ESTATE, "save: %s: the model is not initialised", path);
    for (int i = 0; i < m->n_layers; i++)
        if (lre_layer_has_params(&m->layers[i]) &&
            (s = check_layer_offsets(ctx, m, i, "save")) != LRE_OK)
            return s;

    /* Everything that can fail for want of memory, and every copy from the
     * device, happens before the file is written (lre_write_file). */
    char *json = NULL;
    if ((s = build_header(t, path, &json)) != LRE_OK) return s;
    size_t np = (size_t)m->n_params, stride = np ? np : 1;
    int nbuf = t->opt.n;
    size_t hostn = stride * sizeof(float) * (size_t)(1 + nbuf);
    float *host = lre_malloc(ctx, hostn, "save: host copy"), *stats = NULL;
    size_t statn = (size_t)m->n_buffers * sizeof(float);
    if (!host) {
        cJSON_free(json);
        return LRE_ENOMEM;
    }
    if ((s = lre_tensor_to_host(m->params, host, np * sizeof(float))) != LRE_OK) goto out;
    for (int k = 0; k < nbuf; k++)
        if ((s = lre_tensor_to_host(t->opt.buf[k], host + stride * (size_t)(1 + k),
                                    np * sizeof(float))) != LRE_OK)
            goto out;
    if (m->buffers) {
        if (!(stats = lre_malloc(ctx, statn, "save: running statistics"))) {
            s = LRE_ENOMEM;
            goto out;
        }
        if ((s = lre_tensor_to_host(m->buffers, stats, statn)) != LRE_OK) goto out;
    }
    size_t jn = strlen(json);
    save_job job = {json, jn, (jn + 7) / 8 * 8 /* spaces: data 8-byte aligned */, t->steps,
                    m, host, stride, nbuf, stats};
    char err[LRE_ERRMSG_SIZE - 16];
    if (lre_write_file_with(path, write_checkpoint, &job, err, sizeof err) != 0)
        s = lre_fail(ctx, LRE_EIO, "save: %s", err);
out:
    lre_free(ctx, stats, statn);
    lre_free(ctx, host, hostn);
    cJSON_free(json);
    return s;
}

/* ---------------------------------------------------------------- load */

#define LOADFAIL(st, ...) lre_fail(ctx, (st), "load: %s: " __VA_ARGS__)

/* Reads the whole regular file at path into a new buffer. max: the largest
 * size accepted (anything larger cannot be a snapshot of this trainer). */
static lre_status read_file(lre_ctx *ctx, const char *path, uint64_t max, uint8_t **out,
                            size_t *outn, size_t *cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return LOADFAIL(LRE_EIO, "cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return LOADFAIL(LRE_EIO, "cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return LOADFAIL(LRE_EIO, "not a regular file", path);
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > max || (uint64_t)st.st_size > SIZE_MAX - 1) {
        close(fd);
        return LOADFAIL(LRE_EFORMAT,
                        "the file is %lld bytes, more than a snapshot of this trainer can be "
                        "(%" PRIu64 ")", path, (long long)st.st_size, max);
    }
    size_t n = (size_t)st.st_size;
    size_t c = n ? n : 1;
    uint8_t *buf = lre_malloc(ctx, c, "load: file contents");
    if (!buf) { close(fd); return LRE_ENOMEM; }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            close(fd);
            lre_free(ctx, buf, c);
            if (r == 0)
                return LOADFAIL(LRE_EIO, "the file shrank while it was read (%zu of %zu bytes)",
                                path, got, n);
            return LOADFAIL(LRE_EIO, "read failed: %s", path, strerror(e));
        }
        got += (size_t)r;
    }
    close(fd);
    *out = buf;
    *outn = n;
    *cap = c;
    return LRE_OK;
}

/* A metadata value that must be a decimal integer in [0, hi]. */
static lre_status meta_int(lre_ctx *ctx, const char *path, const lre_st_file *f, const char *key,
                           uint64_t hi, uint64_t *out)
{
    const char *v = lre_safetensors_meta(f, key);
    if (!v) return LOADFAIL(LRE_EFORMAT, "the metadata has no \"%s\"", path, key);
    uint64_t x = 0;
    const char *p = v;
    if (!*p) goto bad;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') goto bad;
        unsigned d = (unsigned)(*p - '0');
        if (x > (UINT64_MAX - d) / 10) goto bad;
        x = x * 10 + d;
    }
    if (x > hi)
        return LOADFAIL(LRE_EFORMAT, "metadata %s %" PRIu64 " is out of range (at most %" PRIu64
                        ")", path, key, x, hi);
    *out = x;
    return LRE_OK;
bad:
    return LOADFAIL(LRE_EFORMAT, "metadata %s \"%.40s\" is not a non-negative decimal integer",
                    path, key, v);
}

/* Checks a tensor's presence, dtype and shape against what `who` (the
 * model, the optimizer) expects. */
static lre_status expect_tensor(lre_ctx *ctx, const char *path, const lre_st_file *f,
                                const char *name, const char *who, const char *dtype, int ndim,
                                const int64_t *shape, const lre_st_tensor **out)
{
    const lre_st_tensor *t = lre_safetensors_find(f, name);
    if (!t) return LOADFAIL(LRE_EFORMAT, "tensor %s is missing", path, name);
    if (strcmp(t->dtype, dtype) != 0)
        return LOADFAIL(LRE_EFORMAT, "tensor %s has dtype %s, the %s expects %s", path, name,
                        t->dtype, who, dtype);
    int same = t->ndim == ndim;
    uint64_t want[LRE_ST_MAX_DIMS];
    for (int i = 0; i < ndim; i++) {
        want[i] = (uint64_t)shape[i];
        if (same && t->shape[i] != want[i]) same = 0;
    }
    if (!same) {
        char a[256], b[256];
        return LOADFAIL(LRE_EFORMAT, "tensor %s has shape %s, the %s expects %s", path, name,
                        lre_st_shape_str(a, sizeof a, t->ndim, t->shape), who,
                        lre_st_shape_str(b, sizeof b, ndim, want));
    }
    if (out) *out = t;
    return LRE_OK;
}

/* Decodes a checked F32 tensor into dst, refusing NaN and infinity. */
static lre_status decode_f32(lre_ctx *ctx, const char *path, const lre_st_tensor *t, float *dst)
{
    const uint8_t *p = t->data;
    for (uint64_t i = 0; i < t->numel; i++, p += 4) {
        float v = lre_st_get_f32(p);
        uint32_t u;
        memcpy(&u, &v, 4);
        if ((u & 0x7F800000u) == 0x7F800000u) {
            const char *what = (u & 0x007FFFFFu) ? "nan" : (u >> 31) ? "-inf" : "inf";
            if (t->ndim == 2 && t->shape[1] > 0)
                return LOADFAIL(LRE_EFORMAT, "tensor %s has a non-finite value (%s) at [%" PRIu64
                                ",%" PRIu64 "]", path, t->name, what, i / t->shape[1],
                                i % t->shape[1]);
            return LOADFAIL(LRE_EFORMAT, "tensor %s has a non-finite value (%s) at [%" PRIu64 "]",
                            path, t->name, what, i);
        }
        dst[i] = v;
    }
    return LRE_OK;
}

/* Is `name` one of the tensors that a file of this version holds for this
 * model and optimizer? */
static int expected_name(const lre_model *m, const lre_optim_state *opt, int version,
                         const char *name)
{
    if (version == 1 && strncmp(name, "optim.", 6) == 0)
        return strcmp(name + 6, "state1") == 0 || strcmp(name + 6, "state2") == 0;
    if (version == 2 && strcmp(name, STEP_NAME) == 0) return 1;
    char want[PNAME_MAX];
    for (int i = 0; i < m->n_layers; i++) { /* every name this model writes */
        const lre_layer *L = &m->layers[i];
        if (L->kind == LRE_LAYER_BATCH_NORM) {
            static const char *const bufs[] = {"running_mean", "running_var",
                                               "num_batches_tracked"};
            for (int k = 0; k < 3; k++) {
                snprintf(want, sizeof want, "%s.%s", L->pname, bufs[k]);
                if (strcmp(name, want) == 0) return 1;
            }
        }
        if (!lre_layer_has_params(L)) continue;
        for (int which = 0; which < (L->bn ? 2 : 1); which++)
            for (int k = -1; k < (version == 2 ? opt->n : 0); k++) {
                param_name(want, L->pname, which ? "bias" : "weight", k < 0 ? NULL : opt->name[k]);
                if (strcmp(name, want) == 0) return 1;
            }
    }
    return 0;
}

/* An SGD file holds momentum buffers exactly when its SGD had momentum;
 * a mismatch with the trainer's SGD gets its own message (rather than a
 * tensor "missing" or "not part of this model"). Version 2 only. */
static lre_status check_sgd_momentum(lre_trainer *t, const char *path, const lre_st_file *f)
{
    lre_ctx *ctx = t->ctx;
    lre_model *m = t->model;
    static const char suffix[] = ".momentum_buffer";
    const size_t sn = sizeof suffix - 1;
    const char *found = NULL;
    for (size_t k = 0; k < f->n_tensors && !found; k++) {
        const char *nm = f->tensors[k].name;
        size_t len = strlen(nm);
        if (strncmp(nm, "optim.", 6) == 0 && len > sn && strcmp(nm + len - sn, suffix) == 0)
            found = nm;
    }
    if (found && t->opt.n == 0)
        return LOADFAIL(LRE_EFORMAT, "tensor %.200s: the file's SGD kept momentum buffers, the "
                        "trainer's SGD has no momentum (momentum 0)", path, found);
    if (!found && t->opt.n > 0)
        for (int i = 0; i < m->n_layers; i++)
            if (lre_layer_has_params(&m->layers[i])) {
                char name[PNAME_MAX];
                param_name(name, m->layers[i].pname, "weight", t->opt.name[0]);
                return LOADFAIL(LRE_EFORMAT, "tensor %s is missing: the file was saved by SGD "
                                "without momentum, the trainer's SGD uses momentum %g", path,
                                name, (double)t->optim.momentum);
            }
    return LRE_OK;
}

#if LRE_OPTIM_MAX_BUFFERS < 2
#error "version-1 files hold two optimizer buffers"
#endif

/* bufs: LRE_OPTIM_MAX_BUFFERS host buffers of n_params floats; those the
 * optimizer uses start as the trainer's current values, like params. */
static lre_status load_checked(lre_trainer *t, const char *path, const lre_st_file *f,
                               float *params, float **bufs)
{
    lre_ctx *ctx = t->ctx;
    lre_model *m = t->model;
    const lre_optim_state *opt = &t->opt;
    lre_status s;

    if (!f->has_metadata)
        return LOADFAIL(LRE_EFORMAT, "no __metadata__: not an lrengine snapshot", path);
    const char *fmt = lre_safetensors_meta(f, "format");
    if (!fmt || strcmp(fmt, SNAP_FORMAT) != 0)
        return LOADFAIL(LRE_EFORMAT, "metadata format is \"%.40s\", not \"" SNAP_FORMAT "\"", path,
                        fmt ? fmt : "(none)");
    const char *ver = lre_safetensors_meta(f, "version");
    int version = !ver ? 0 : strcmp(ver, "1") == 0 ? 1 : strcmp(ver, SNAP_VERSION) == 0 ? 2 : 0;
    if (!version)
        return LOADFAIL(LRE_EFORMAT, "snapshot version \"%.40s\", this engine reads versions 1 "
                        "and " SNAP_VERSION, path, ver ? ver : "(none)");

    size_t asz = 0;
    char *arch = describe_model(ctx, m, &asz);
    if (!arch) return LRE_ENOMEM;
    const char *farch = lre_safetensors_meta(f, "architecture");
    if (!farch || strcmp(farch, arch) != 0) {
        s = LOADFAIL(LRE_EFORMAT, "architecture \"%.300s\" does not match the trainer's model "
                     "\"%.300s\"", path, farch ? farch : "(none)", arch);
        lre_free(ctx, arch, asz);
        return s;
    }
    lre_free(ctx, arch, asz);
    const char *fopt = lre_safetensors_meta(f, "optimizer");
    const char *topt = lre_optim_name(t->optim.kind);
    if (!fopt || strcmp(fopt, topt) != 0)
        return LOADFAIL(LRE_EFORMAT, "optimizer \"%.40s\" does not match the trainer's "
                        "optimizer \"%s\"", path, fopt ? fopt : "(none)", topt);

    uint64_t steps, seed, epoch, cursor;
    if ((s = meta_int(ctx, path, f, "steps", INT64_MAX, &steps)) != LRE_OK ||
        (s = meta_int(ctx, path, f, "seed", UINT64_MAX, &seed)) != LRE_OK ||
        (s = meta_int(ctx, path, f, "epoch", INT64_MAX, &epoch)) != LRE_OK ||
        (s = meta_int(ctx, path, f, "cursor", INT64_MAX, &cursor)) != LRE_OK)
        return s;
    uint64_t rng_pos = 0; /* dropout's position: absent from files before dropout */
    if (lre_safetensors_meta(f, "dropout_position") &&
        (s = meta_int(ctx, path, f, "dropout_position", INT64_MAX, &rng_pos)) != LRE_OK)
        return s;
    if ((int64_t)cursor > t->batcher.n)
        return LOADFAIL(LRE_EFORMAT, "cursor %" PRIu64 " lies past the end of the trainer's "
                        "dataset (%" PRId64 " rows)", path, cursor, t->batcher.n);

    /* Tensors: every expected one present and well typed, nothing else.
     * The parameters first, then the optimizer's. */
    size_t n_expected = 0;
    char name[PNAME_MAX];
    for (int i = 0; i < m->n_layers; i++) {
        const lre_layer *L = &m->layers[i];
        if (!lre_layer_has_params(L)) continue;
        if ((s = check_layer_offsets(ctx, m, i, "load")) != LRE_OK) return s;
        param_name(name, m->layers[i].pname, "weight", NULL);
        if ((s = expect_tensor(ctx, path, f, name, "model", "F32", L->w_ndim, L->w_shape,
                               NULL)))
            return s;
        n_expected += 1;
        if (!L->bn) continue;
        param_name(name, m->layers[i].pname, "bias", NULL);
        if ((s = expect_tensor(ctx, path, f, name, "model", "F32", 1, &L->bn, NULL))) return s;
        n_expected += 1;
    }
    const lre_st_tensor *tstep = NULL, *ts1 = NULL, *ts2 = NULL;
    if (version == 1) {
        const int64_t *np = &m->n_params;
        if ((s = expect_tensor(ctx, path, f, "optim.state1", "optimizer", "F32", 1, np, &ts1)) ||
            (s = expect_tensor(ctx, path, f, "optim.state2", "optimizer", "F32", 1, np, &ts2)))
            return s;
        n_expected += 2;
    } else {
        if (t->optim.kind == LRE_OPTIM_SGD && (s = check_sgd_momentum(t, path, f)) != LRE_OK)
            return s;
        if ((s = expect_tensor(ctx, path, f, STEP_NAME, "optimizer", "I64", 0, NULL, &tstep)))
            return s;
        n_expected += 1;
        for (int i = 0; i < m->n_layers; i++) {
            const lre_layer *L = &m->layers[i];
            if (!lre_layer_has_params(L)) continue;
            for (int k = 0; k < opt->n; k++) {
                param_name(name, m->layers[i].pname, "weight", opt->name[k]);
                if ((s = expect_tensor(ctx, path, f, name, "optimizer", "F32", L->w_ndim,
                                       L->w_shape, NULL)))
                    return s;
                n_expected += 1;
                if (!L->bn) continue;
                param_name(name, m->layers[i].pname, "bias", opt->name[k]);
                if ((s = expect_tensor(ctx, path, f, name, "optimizer", "F32", 1, &L->bn, NULL)))
                    return s;
                n_expected += 1;
            }
        }
    }
    for (int i = 0; i < m->n_layers; i++) { /* batch norm's running statistics */
        const lre_layer *L = &m->layers[i];
        if (L->kind != LRE_LAYER_BATCH_NORM) continue;
        snprintf(name, sizeof name, "%s.running_mean", m->layers[i].pname);
        if ((s = expect_tensor(ctx, path, f, name, "model", "F32", 1, &L->norm_n, NULL))) return s;
        snprintf(name, sizeof name, "%s.running_var", m->layers[i].pname);
        if ((s = expect_tensor(ctx, path, f, name, "model", "F32", 1, &L->norm_n, NULL))) return s;
        snprintf(name, sizeof name, "%s.num_batches_tracked", m->layers[i].pname);
        if ((s = expect_tensor(ctx, path, f, name, "model", "I64", 0, NULL, NULL))) return s;
        n_expected += 3;
    }
    if (f->n_tensors != n_expected) /* names are unique, so there are extras */
        for (size_t k = 0; k < f->n_tensors; k++)
            if (!expected_name(m, opt, version, f->tensors[k].name))
                return LOADFAIL(LRE_EFORMAT, "tensor %.200s is not part of this model and "
                                "optimizer (snapshot version %d)", path, f->tensors[k].name,
                                version);
    if (tstep) {
        uint64_t fs = lre_st_get_le64(tstep->data);
        if (fs > INT64_MAX)
            return LOADFAIL(LRE_EFORMAT, "tensor " STEP_NAME " holds a negative step count "
                            "(%" PRId64 ")", path, (int64_t)fs);
        if (fs != steps)
            return LOADFAIL(LRE_EFORMAT, "tensor " STEP_NAME " holds %" PRIu64 " steps but the "
                            "metadata steps is %" PRIu64, path, fs, steps);
    }

    /* Decode into host buffers (params and the buffers start as the current
     * values, so any part of the flat buffer outside the layers is kept). */
    for (int i = 0; i < m->n_layers; i++) {
        const lre_layer *L = &m->layers[i];
        if (!lre_layer_has_params(L)) continue;
        for (int k = -1; k < (version == 2 ? opt->n : 0); k++) {
            float *dst = k < 0 ? params : bufs[k];
            const char *bn = k < 0 ? NULL : opt->name[k];
            param_name(name, m->layers[i].pname, "weight", bn);
            if ((s = decode_f32(ctx, path, lre_safetensors_find(f, name), dst + L->w_off)))
                return s;
            if (!L->bn) continue;
            param_name(name, m->layers[i].pname, "bias", bn);
            if ((s = decode_f32(ctx, path, lre_safetensors_find(f, name), dst + L->b_off)))
                return s;
        }
    }
    /* Version 1: state1 is the first buffer, state2 exp_avg_sq; decoded (and
     * checked) whether the optimizer uses them or not. */
    if (version == 1 && ((s = decode_f32(ctx, path, ts1, bufs[0])) != LRE_OK ||
                         (s = decode_f32(ctx, path, ts2, bufs[1])) != LRE_OK))
        return s;

    /* The running statistics, decoded into a host copy of the buffers
     * (freed before returning) and their counts checked. */
    float *stats = NULL;
    size_t statn = (size_t)m->n_buffers * sizeof(float);
    int64_t *nbts = NULL;
    if (m->buffers) {
        stats = lre_malloc(ctx, statn, "load: running statistics");
        nbts = lre_calloc(ctx, (size_t)m->n_layers, sizeof *nbts, "load: counts");
        if (!stats || !nbts) {
            s = LRE_ENOMEM;
            goto stats_out;
        }
        for (int i = 0; i < m->n_layers; i++) {
            const lre_layer *L = &m->layers[i];
            if (L->kind != LRE_LAYER_BATCH_NORM) continue;
            snprintf(name, sizeof name, "%s.running_mean", m->layers[i].pname);
            if ((s = decode_f32(ctx, path, lre_safetensors_find(f, name), stats + L->buf_off)))
                goto stats_out;
            snprintf(name, sizeof name, "%s.running_var", m->layers[i].pname);
            if ((s = decode_f32(ctx, path, lre_safetensors_find(f, name),
                                stats + L->buf_off + L->norm_n)))
                goto stats_out;
            snprintf(name, sizeof name, "%s.num_batches_tracked", m->layers[i].pname);
            uint64_t v = lre_st_get_le64(lre_safetensors_find(f, name)->data);
            if (v > INT64_MAX) {
                s = LOADFAIL(LRE_EFORMAT, "tensor %s is negative (%" PRId64 ")", path, name,
                             (int64_t)v);
                goto stats_out;
            }
            nbts[i] = (int64_t)v;
        }
    }

    /* Apply. On the CPU nothing below can fail; on a device a failed copy
     * is reported (and the trainer may then hold part of the file). */
    size_t nb = (size_t)m->n_params * sizeof(float);
    if ((s = lre_tensor_from_host(m->params, params, nb)) != LRE_OK) goto stats_out;
    for (int k = 0; k < opt->n; k++)
        if ((s = lre_tensor_from_host(opt->buf[k], bufs[k], nb)) != LRE_OK) goto stats_out;
    if (m->buffers) {
        if ((s = lre_tensor_from_host(m->buffers, stats, statn)) != LRE_OK) goto stats_out;
        for (int i = 0; i < m->n_layers; i++) m->layers[i].nbt = nbts[i];
    }
    t->steps = (int64_t)steps;
    t->seed = seed;
    t->batcher.seed = seed;
    t->batcher.epoch = (int64_t)epoch;
    t->batcher.cursor = (int64_t)cursor;
    t->rng_pos = (int64_t)rng_pos;
    lre_batcher_permute(&t->batcher);
    s = LRE_OK;
stats_out:
    lre_free(ctx, stats, statn);
    lre_free(ctx, nbts, 0);
    return s;
}

lre_status lre_trainer_load(lre_trainer *t, const char *path)
{
    if (!t) return LRE_EINVAL;
    lre_ctx *ctx = t->ctx;
    lre_model *m = t->model;
    lre_status s;
    if (!path || !*path) return lre_fail(ctx, LRE_EINVAL, "load: path is empty");
    if (!m->initialized || !m->params)
        return lre_fail(ctx, LRE_ESTATE, "load: %s: the model is not initialised", path);

    /* The largest plausible file: length, header, the parameters and at
     * most LRE_OPTIM_MAX_BUFFERS flat buffers of optimizer state (version 1
     * always held two), the step. */
    uint64_t data_max, max = 0;
    if (m->n_params < 0 ||
        !lre_st_mul_u64((uint64_t)m->n_params, 4 * (1 + LRE_OPTIM_MAX_BUFFERS), &data_max) ||
        data_max > UINT64_MAX - 16 - LRE_ST_MAX_HEADER)
        return lre_fail(ctx, LRE_ESTATE, "load: %s: the model is too large", path);
    max = 8 + LRE_ST_MAX_HEADER + data_max + 8;

    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    if ((s = read_file(ctx, path, max, &buf, &n, &cap)) != LRE_OK) return s;

    lre_st_file f;
    s = lre_safetensors_parse(ctx, buf, n, &f);
    if (s != LRE_OK) {
        if (s == LRE_EFORMAT) {
            char msg[LRE_ERRMSG_SIZE];
            snprintf(msg, sizeof msg, "%s", lre_ctx_error(ctx));
            lre_fail(ctx, s, "load: %s: %s", path, msg);
        }
        lre_free(ctx, buf, cap);
        return s;
    }

    size_t np = (size_t)m->n_params;
    size_t hostn = (np ? np : 1) * sizeof(float);
    float *params = lre_malloc(ctx, hostn, "load: parameters");
    float *bufs[LRE_OPTIM_MAX_BUFFERS] = {NULL};
    int have = params != NULL;
    for (int k = 0; have && k < LRE_OPTIM_MAX_BUFFERS; k++)
        have = (bufs[k] = lre_malloc(ctx, hostn, "load: optimizer state")) != NULL;
    if (!have) {
        s = LRE_ENOMEM;
    } else {
        s = lre_tensor_to_host(m->params, params, np * sizeof(float));
        for (int k = 0; s == LRE_OK && k < t->opt.n; k++)
            s = lre_tensor_to_host(t->opt.buf[k], bufs[k], np * sizeof(float));
        if (s == LRE_OK) s = load_checked(t, path, &f, params, bufs);
    }
    if (params) lre_free(ctx, params, hostn);
    for (int k = 0; k < LRE_OPTIM_MAX_BUFFERS; k++)
        if (bufs[k]) lre_free(ctx, bufs[k], hostn);
    lre_safetensors_free(&f);
    lre_free(ctx, buf, cap);
    return s;
}
