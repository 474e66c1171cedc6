/*
 * test_safetensors.c — lre_trainer_save/load and the safetensors parser.
 *
 *   - save after some steps, load into a fresh trainer of the same
 *     architecture (different initial weights), continue: losses,
 *     parameters and optimizer state bit for bit equal to the uninterrupted
 *     run (SGD with and without momentum, Adam with L2, AdamW; with
 *     accumulation; across epoch boundaries);
 *   - the file read back independently (our own reading of the format):
 *     header length, padding, names, dtypes, shapes, contiguous offsets,
 *     metadata (version "2"), the bytes of weights, of optimizer buffers
 *     (optim.<i>.weight.exp_avg, ...) and of optim.step themselves;
 *   - the tensor names of a file are exactly the expected set for SGD
 *     without momentum, SGD with momentum, Adam and AdamW;
 *   - version-1 files (optim.state1/optim.state2 over the flat buffer,
 *     written by hand in the old layout) load and continue bit for bit as
 *     the run that wrote them; buffers the optimizer does not use are
 *     ignored; saved again they are version 2;
 *   - corrupt and mismatched files refused with a message naming the file
 *     and the fault, and the trainer left exactly as it was: truncated at
 *     every offset of the header and several of the data, header length
 *     huge, header not JSON, wrong dtype, wrong shape, missing / extra /
 *     duplicated tensor (parameters, optimizer buffers, optim.step, v1
 *     state tensors), overlapping offsets, a hole, trailing bytes,
 *     architecture, optimizer (an SGD-with-momentum file into Adam; SGD
 *     with momentum against SGD without), format and version mismatch,
 *     optim.step against the metadata steps, NaN/inf;
 *   - saving: into a missing directory fails with LRE_EIO and leaves no
 *     file; over an existing file replaces it; a save that fails part-way
 *     (file size limit, RLIMIT_FSIZE) leaves the old file intact and no
 *     temporary file. (Making the directory read-only would be the obvious
 *     simulation, but the tests may run as root, which ignores permissions.)
 *   - the parser alone on crafted and randomly mutated buffers (no crash,
 *     no leak through the engine's allocator).
 * LRE_TEST_VERBOSE=1 prints each refusal's message as a comment line.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkdtemp, setrlimit (the Makefile passes it too) */
#endif

#include <errno.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include <dirent.h>

#include "check.h"
#include "train/train.h"
#include "train/safetensors.h"

#define NROWS 50   /* not a multiple of the batch: short batches, epochs roll */
#define NFEAT 4
#define NCLASS 3
#define HIDDEN 16
#define BATCH 8

static char g_dir[256];

static const char *tpath(const char *name)
{
    static char bufs[4][512];
    static int k;
    char *b = bufs[k];
    k = (k + 1) % 4;
    snprintf(b, sizeof bufs[0], "%s/%s", g_dir, name);
    return b;
}

/* ------------------------------------------------------------- files */

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)(len > 0 ? len : 1));
    if (!b || fread(b, 1, (size_t)len, f) != (size_t)len) chk_fatal("read_all", "%s", path);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void write_all(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0) chk_fatal("write_all", "%s", path);
}

/* No temporary file of lre_write_file (".lre-tmp-XXXXXX") in folder dir. */
static int no_tmp_left(const char *dir)
{
    DIR *d = opendir(*dir ? dir : ".");
    if (!d) return 1;
    int clean = 1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, ".lre-tmp-", 9) == 0) clean = 0;
    closedir(d);
    return clean;
}


static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* ------------------------------------------------------------ set-up */

static lre_dataset *make_data(lre_ctx *ctx)
{
    float x[NROWS * NFEAT];
    int32_t y[NROWS];
    chk_rng r = {42};
    for (int i = 0; i < NROWS; i++) {
        chk_fill(&r, &x[i * NFEAT], NFEAT, -1, 1);
        y[i] = (x[i * NFEAT] + x[i * NFEAT + 1] > 0.3f) ? 2 : (x[i * NFEAT + 2] > 0 ? 1 : 0);
    }
    y[0] = 0; y[1] = 1; y[2] = 2;
    lre_dataset *ds = NULL;
    chk_must(ctx, lre_dataset_from_arrays(ctx, &ds, NROWS, NFEAT, x, y, NULL, 0),
             "lre_dataset_from_arrays");
    return ds;
}

/* linear(4,h) relu linear(h,h) tanh linear(h,3): linear layers 0, 2, 4. */
static lre_model *make_model(lre_ctx *ctx, int64_t hidden, uint64_t init_seed)
{
    lre_model *m = NULL;
    chk_must(ctx, lre_model_new(ctx, &m), "lre_model_new");
    chk_must(ctx, lre_model_add_linear(m, NFEAT, hidden), "add_linear");
    chk_must(ctx, lre_model_add_act(m, LRE_ACT_RELU, 0), "add_act");
    chk_must(ctx, lre_model_add_linear(m, hidden, hidden), "add_linear");
    chk_must(ctx, lre_model_add_act(m, LRE_ACT_TANH, 0), "add_act");
    chk_must(ctx, lre_model_add_linear(m, hidden, NCLASS), "add_linear");
    chk_must(ctx, lre_model_init(m, init_seed), "lre_model_init");
    return m;
}

static lre_trainer *make_trainer(lre_ctx *ctx, lre_dataset *ds, int64_t hidden,
                                 uint64_t init_seed, lre_optim_config oc, int accum)
{
    lre_model *m = make_model(ctx, hidden, init_seed);
    lre_trainer_opts o = lre_trainer_opts_default();
    o.optim = oc;
    o.batch_size = BATCH;
    o.accumulation_steps = accum;
    o.seed = 7;
    lre_trainer *t = NULL;
    chk_must(ctx, lre_trainer_new(ctx, &t, m, ds, &o), "lre_trainer_new");
    lre_model_release(m); /* the trainer keeps it */
    return t;
}

static float lr_at(int k, lre_optim_kind kind)
{
    float base = kind == LRE_OPTIM_SGD ? 0.05f : 0.01f;
    return base * (float)(1 + k % 3);
}

static void run_steps(lre_trainer *t, int from, int count, float *losses)
{
    lre_ctx *ctx = t->ctx;
    for (int k = 0; k < count; k++) {
        float l;
        chk_must(ctx, lre_trainer_step(t, lr_at(from + k, t->optim.kind), &l), "lre_trainer_step");
        if (losses) losses[k] = l;
    }
}

/* Everything a step reads, copied to the host: the parameters and each
 * optimizer buffer the trainer keeps (t->opt.buf[k], named t->opt.name[k]). */
typedef struct tstate {
    int64_t n;
    float *p;
    int nb;
    float *b[LRE_OPTIM_MAX_BUFFERS];
    const char *bname[LRE_OPTIM_MAX_BUFFERS];
    int64_t steps, epoch, cursor;
    uint64_t seed;
} tstate;

static tstate capture(lre_trainer *t)
{
    tstate s;
    memset(&s, 0, sizeof s);
    s.n = t->model->n_params;
    s.p = chk_download(t->ctx, t->model->params);
    s.nb = t->opt.n;
    for (int k = 0; k < t->opt.n; k++) {
        s.b[k] = chk_download(t->ctx, t->opt.buf[k]);
        s.bname[k] = t->opt.name[k];
    }
    s.steps = lre_trainer_steps(t);
    s.epoch = lre_trainer_epoch(t);
    s.cursor = lre_trainer_cursor(t);
    s.seed = t->batcher.seed;
    return s;
}

static void tstate_free(tstate *s)
{
    free(s->p);
    for (int k = 0; k < s->nb; k++) free(s->b[k]);
}

/* "" when equal, else what differs. */
static const char *tstate_diff(const tstate *a, const tstate *b)
{
    static char why[256];
    if (a->n != b->n) return "parameter count";
    if (memcmp(a->p, b->p, sizeof(float) * (size_t)a->n)) return "parameters";
    if (a->nb != b->nb) return "number of optimizer buffers";
    for (int k = 0; k < a->nb; k++)
        if (strcmp(a->bname[k], b->bname[k]) != 0 ||
            memcmp(a->b[k], b->b[k], sizeof(float) * (size_t)a->n)) {
            snprintf(why, sizeof why, "optimizer buffer %s", a->bname[k]);
            return why;
        }
    if (a->steps != b->steps || a->epoch != b->epoch || a->cursor != b->cursor ||
        a->seed != b->seed) {
        snprintf(why, sizeof why, "steps/epoch/cursor/seed %lld/%lld/%lld/%llu vs %lld/%lld/%lld/%llu",
                 (long long)a->steps, (long long)a->epoch, (long long)a->cursor,
                 (unsigned long long)a->seed, (long long)b->steps, (long long)b->epoch,
                 (long long)b->cursor, (unsigned long long)b->seed);
        return why;
    }
    return "";
}

/* ---------------------------------------------------- round trip */

static void test_roundtrip(lre_ctx *ctx, lre_dataset *ds, const char *label,
                           lre_optim_config oc, int accum, int k1, int k2)
{
    const char *path = tpath(chk_name("rt_%s.safetensors", label));
    float *la = malloc(sizeof(float) * (size_t)k2), *lb = malloc(sizeof(float) * (size_t)k2);

    lre_trainer *a = make_trainer(ctx, ds, HIDDEN, 1, oc, accum);
    run_steps(a, 0, k1, NULL);
    tstate at_save = capture(a);
    uint64_t live0 = lre_ctx_bytes_live(ctx);
    chk_ok(ctx, lre_trainer_save(a, path), chk_name("%s: save after %d steps", label, k1));
    CHECK(lre_ctx_bytes_live(ctx) == live0, chk_name("%s: save frees what it allocates", label),
          "bytes live %llu before, %llu after", (unsigned long long)live0,
          (unsigned long long)lre_ctx_bytes_live(ctx));
    tstate after_save = capture(a);
    CHECK(tstate_diff(&at_save, &after_save)[0] == 0,
          chk_name("%s: save leaves the trainer unchanged", label), "%s differ",
          tstate_diff(&at_save, &after_save));
    run_steps(a, k1, k2, la);
    tstate end_a = capture(a);

    /* A fresh trainer, other initial weights, a few steps of its own. */
    lre_trainer *b = make_trainer(ctx, ds, HIDDEN, 99, oc, accum);
    run_steps(b, 0, 3, NULL);
    live0 = lre_ctx_bytes_live(ctx);
    chk_ok(ctx, lre_trainer_load(b, path), chk_name("%s: load into a fresh trainer", label));
    CHECK(lre_ctx_bytes_live(ctx) == live0, chk_name("%s: load frees what it allocates", label),
          "bytes live %llu before, %llu after", (unsigned long long)live0,
          (unsigned long long)lre_ctx_bytes_live(ctx));
    tstate loaded = capture(b);
    CHECK(tstate_diff(&at_save, &loaded)[0] == 0,
          chk_name("%s: loaded state equals the saved state", label), "%s differ",
          tstate_diff(&at_save, &loaded));
    run_steps(b, k1, k2, lb);
    tstate end_b = capture(b);
    chk_bits(chk_name("%s: losses after load equal the uninterrupted run", label), la, lb, k2);
    chk_bits(chk_name("%s: parameters after load+%d steps", label, k2), end_a.p, end_b.p, end_a.n);
    CHECK(end_a.nb == end_b.nb, chk_name("%s: both trainers keep %d optimizer buffers", label,
                                         end_a.nb), "%d vs %d", end_a.nb, end_b.nb);
    for (int k = 0; k < end_a.nb && k < end_b.nb; k++)
        chk_bits(chk_name("%s: %s after load+%d steps", label, end_a.bname[k], k2), end_a.b[k],
                 end_b.b[k], end_a.n);
    CHECK(end_a.steps == end_b.steps && end_a.epoch == end_b.epoch && end_a.cursor == end_b.cursor,
          chk_name("%s: step count and batch position after continuing", label),
          "a %lld/%lld/%lld b %lld/%lld/%lld", (long long)end_a.steps, (long long)end_a.epoch,
          (long long)end_a.cursor, (long long)end_b.steps, (long long)end_b.epoch,
          (long long)end_b.cursor);

    /* Rewind: the trainer that saved loads its own past and replays it. */
    chk_ok(ctx, lre_trainer_load(a, path), chk_name("%s: load rewinds the saving trainer", label));
    run_steps(a, k1, k2, lb);
    chk_bits(chk_name("%s: losses after rewinding equal the first time", label), la, lb, k2);

    tstate_free(&at_save);
    tstate_free(&after_save);
    tstate_free(&end_a);
    tstate_free(&loaded);
    tstate_free(&end_b);
    lre_trainer_release(a);
    lre_trainer_release(b);
    free(la);
    free(lb);
}

/* ------------------------------------------------ the file, read back */

static int shape_is(const cJSON *sh, int n, int64_t a, int64_t b)
{
    if (!cJSON_IsArray(sh) || cJSON_GetArraySize(sh) != n) return 0;
    if (n == 0) return 1;
    if (cJSON_GetArrayItem(sh, 0)->valuedouble != (double)a) return 0;
    if (n == 2 && cJSON_GetArrayItem(sh, 1)->valuedouble != (double)b) return 0;
    return 1;
}

static void test_file_layout(lre_ctx *ctx, lre_dataset *ds)
{
    lre_optim_config oc = lre_optim_adam_default();
    oc.weight_decay = 1e-2f;
    oc.beta1 = 0.85f;
    oc.eps = 3e-7f;
    lre_trainer *t = make_trainer(ctx, ds, HIDDEN, 1, oc, 1);
    run_steps(t, 0, 9, NULL);
    const char *path = tpath("layout.safetensors");
    chk_must(ctx, lre_trainer_save(t, path), "save for layout");
    size_t n;
    uint8_t *b = read_all(path, &n);
    if (!b || n < 8) chk_fatal("layout: read back", "file of %zu bytes", n);
    uint64_t hl = le64(b);
    CHECK(hl % 8 == 0 && 8 + hl <= n, "layout: header length is a multiple of 8 within the file",
          "header length %llu, file %zu bytes", (unsigned long long)hl, n);
    CHECK(b[8] == '{', "layout: header starts with '{'", "first byte 0x%02x", b[8]);
    char *h = malloc(hl + 1);
    memcpy(h, b + 8, hl);
    h[hl] = 0;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(h, &end, 0);
    int pad_ok = root != NULL;
    for (const char *p = end; root && *p; p++)
        if (*p != ' ') pad_ok = 0;
    CHECK(root && pad_ok, "layout: header is one JSON object padded with spaces",
          "parse %s", root ? "ok, bad padding" : "failed");
    if (!root) chk_fatal("layout", "cannot continue without the header");

    /* The expected tensors, in file order, written out from the documented
     * layout: the step (I64 scalar, first so that it lies 8-byte aligned),
     * the parameters, then per layer, weight then bias, each of Adam's
     * buffers as torch.optim names them. */
    lre_model *m = t->model;
    struct { char name[64]; const char *dtype; int nd; int64_t d0, d1; } wt[32];
    int nw = 0;
    const int lin[3] = {0, 2, 4};
    const int64_t lin_in[3] = {NFEAT, HIDDEN, HIDDEN}, lin_out[3] = {HIDDEN, HIDDEN, NCLASS};
    const char *adam_bufs[2] = {"exp_avg", "exp_avg_sq"};
    snprintf(wt[nw].name, sizeof wt[nw].name, "optim.step");
    wt[nw].dtype = "I64", wt[nw].nd = 0, wt[nw].d0 = wt[nw].d1 = 0, nw++;
    for (int pass = 0; pass < 2; pass++)
        for (int l = 0; l < 3; l++)
            for (int wb = 0; wb < 2; wb++)
                for (int k = 0; k < (pass ? 2 : 1); k++) {
                    if (pass)
                        snprintf(wt[nw].name, sizeof wt[nw].name, "optim.%d.%s.%s", lin[l],
                                 wb ? "bias" : "weight", adam_bufs[k]);
                    else
                        snprintf(wt[nw].name, sizeof wt[nw].name, "%d.%s", lin[l],
                                 wb ? "bias" : "weight");
                    wt[nw].dtype = "F32";
                    wt[nw].nd = wb ? 1 : 2;
                    wt[nw].d0 = lin_out[l];
                    wt[nw].d1 = wb ? 0 : lin_in[l];
                    nw++;
                }
    int entries = 0;
    for (cJSON *it = root->child; it; it = it->next) entries++;
    CHECK(entries == nw + 1, chk_name("layout: %d tensors and __metadata__", nw), "%d entries",
          entries);
    uint64_t pos = 0;
    int ok = 1;
    char why[256] = "";
    for (int i = 0; i < nw; i++) {
        cJSON *e = cJSON_GetObjectItemCaseSensitive(root, wt[i].name);
        cJSON *dt = e ? cJSON_GetObjectItemCaseSensitive(e, "dtype") : NULL;
        cJSON *sh = e ? cJSON_GetObjectItemCaseSensitive(e, "shape") : NULL;
        cJSON *off = e ? cJSON_GetObjectItemCaseSensitive(e, "data_offsets") : NULL;
        uint64_t bytes = wt[i].nd == 0 ? 8
                         : (uint64_t)wt[i].d0 * (uint64_t)(wt[i].nd == 2 ? wt[i].d1 : 1) * 4;
        if (!e || !cJSON_IsString(dt) || strcmp(dt->valuestring, wt[i].dtype) != 0 ||
            !shape_is(sh, wt[i].nd, wt[i].d0, wt[i].d1) || cJSON_GetArraySize(off) != 2 ||
            cJSON_GetArrayItem(off, 0)->valuedouble != (double)pos ||
            cJSON_GetArrayItem(off, 1)->valuedouble != (double)(pos + bytes)) {
            ok = 0;
            char *txt = e ? cJSON_PrintUnformatted(e) : NULL;
            snprintf(why, sizeof why, "%.63s: %.150s (expected %s, offset %llu, %llu bytes)",
                     wt[i].name, txt ? txt : "missing", wt[i].dtype, (unsigned long long)pos,
                     (unsigned long long)bytes);
            free(txt);
            break;
        }
        pos += bytes;
    }
    CHECK(ok, "layout: optim.step I64 [], then the parameters and Adam's exp_avg/exp_avg_sq per "
              "parameter, F32, PyTorch shapes, contiguous offsets in that order", "%s", why);
    CHECK(8 + hl + pos == n, "layout: the data section ends the file",
          "8 + %llu + %llu != %zu", (unsigned long long)hl, (unsigned long long)pos, n);

    /* optim.step holds the step count, a little-endian int64 at offset 0. */
    {
        const uint8_t *p = b + 8 + hl;
        CHECK(8 + hl + 8 <= n && (int64_t)le64(p) == lre_trainer_steps(t),
              "layout: optim.step holds the step count (little-endian int64)", "%lld vs %lld",
              (long long)(8 + hl + 8 <= n ? (int64_t)le64(p) : -1),
              (long long)lre_trainer_steps(t));
    }

    /* The optimizer tensors are the slices of the flat buffers. */
    {
        struct { const char *name; int k, layer, bias; } sl[] = {
            {"optim.2.weight.exp_avg_sq", 1, 2, 0}, {"optim.4.bias.exp_avg", 0, 4, 1},
            {"optim.0.weight.exp_avg", 0, 0, 0}, {"optim.2.bias.exp_avg_sq", 1, 2, 1},
        };
        for (size_t i = 0; i < sizeof sl / sizeof sl[0]; i++) {
            const lre_layer *L = &m->layers[sl[i].layer];
            int64_t cnt = sl[i].bias ? L->out : L->out * L->in;
            float *all = chk_download(ctx, t->opt.buf[sl[i].k]);
            float *ff = malloc(sizeof(float) * (size_t)cnt);
            cJSON *e = cJSON_GetObjectItemCaseSensitive(root, sl[i].name);
            cJSON *eo = e ? cJSON_GetObjectItemCaseSensitive(e, "data_offsets") : NULL;
            uint64_t off = eo ? (uint64_t)cJSON_GetArrayItem(eo, 0)->valuedouble : 0;
            for (int64_t j = 0; j < cnt; j++) {
                const uint8_t *q = b + 8 + hl + off + 4 * (uint64_t)j;
                uint32_t u = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                             (uint32_t)q[3] << 24;
                memcpy(&ff[j], &u, 4);
            }
            CHECK(strcmp(t->opt.name[sl[i].k], sl[i].k ? "exp_avg_sq" : "exp_avg") == 0,
                  chk_name("layout: the trainer's buffer %d is %s", sl[i].k,
                           sl[i].k ? "exp_avg_sq" : "exp_avg"), "it is %s", t->opt.name[sl[i].k]);
            chk_bits(chk_name("layout: %s bytes are that slice of the optimizer's buffer",
                              sl[i].name),
                     all + (sl[i].bias ? L->b_off : L->w_off), ff, cnt);
            free(ff);
            free(all);
        }
    }

    /* The bytes of 2.weight are the layer's weights, little endian. */
    cJSON *w2 = cJSON_GetObjectItemCaseSensitive(root, "2.weight");
    uint64_t w2off = w2 ? (uint64_t)cJSON_GetArrayItem(
                              cJSON_GetObjectItemCaseSensitive(w2, "data_offsets"), 0)->valuedouble
                        : 0;
    float *w = chk_download(ctx, lre_model_weight(m, 2));
    float *fromfile = malloc(sizeof(float) * HIDDEN * HIDDEN);
    for (int i = 0; i < HIDDEN * HIDDEN && 8 + hl + w2off + 4 * i + 4 <= n; i++) {
        const uint8_t *p = b + 8 + hl + w2off + 4 * (uint64_t)i;
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24;
        memcpy(&fromfile[i], &u, 4);
    }
    chk_bits("layout: 2.weight bytes are the layer's weights (little endian)", w, fromfile,
             HIDDEN * HIDDEN);
    free(w);
    free(fromfile);

    /* Metadata. */
    cJSON *md = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    int all_strings = cJSON_IsObject(md);
    for (cJSON *it = md ? md->child : NULL; it; it = it->next)
        if (!cJSON_IsString(it)) all_strings = 0;
    CHECK(all_strings, "layout: __metadata__ is an object of strings", "not so");
    char arch[512];
    lre_model_describe(m, arch, sizeof arch);
    char steps[32], cursor[32], epoch[32];
    snprintf(steps, sizeof steps, "%lld", (long long)lre_trainer_steps(t));
    snprintf(epoch, sizeof epoch, "%lld", (long long)lre_trainer_epoch(t));
    snprintf(cursor, sizeof cursor, "%lld", (long long)lre_trainer_cursor(t));
    struct { const char *k, *v; } want[] = {
        {"format", "lrengine-snapshot"}, {"version", "2"}, {"architecture", arch},
        {"optimizer", "adam"}, {"loss", "cross_entropy"}, {"steps", steps}, {"seed", "7"},
        {"epoch", epoch}, {"cursor", cursor}, {"batch_size", "8"},
        {"accumulation_steps", "1"}, {"nesterov", "0"}, {"engine_version", lre_version()},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cJSON *v = md ? cJSON_GetObjectItemCaseSensitive(md, want[i].k) : NULL;
        CHECK(cJSON_IsString(v) && strcmp(v->valuestring, want[i].v) == 0,
              chk_name("layout: metadata %s = \"%s\"", want[i].k, want[i].v), "got \"%s\"",
              cJSON_IsString(v) ? v->valuestring : "(missing)");
    }
    struct { const char *k; float v; } fl[] = {
        {"weight_decay", oc.weight_decay}, {"beta1", oc.beta1}, {"beta2", oc.beta2},
        {"eps", oc.eps}, {"momentum", oc.momentum}, {"dampening", oc.dampening},
        {"label_smoothing", 0.0f},
    };
    for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++) {
        cJSON *v = md ? cJSON_GetObjectItemCaseSensitive(md, fl[i].k) : NULL;
        float got = cJSON_IsString(v) ? strtof(v->valuestring, NULL) : -1.0f;
        CHECK(cJSON_IsString(v) && memcmp(&got, &fl[i].v, sizeof got) == 0,
              chk_name("layout: metadata %s round-trips as a float", fl[i].k),
              "expected %.9g got \"%s\"", (double)fl[i].v,
              cJSON_IsString(v) ? v->valuestring : "(missing)");
    }
    cJSON_Delete(root);
    free(h);
    free(b);
    lre_trainer_release(t);
}

/* ------------------------------------------- editing a saved file */

/* The file split into its header (a cJSON tree) and its data section. */
typedef struct stfile {
    cJSON *root;
    const uint8_t *data;
    size_t data_len;
} stfile;

static stfile st_split(const uint8_t *b, size_t n)
{
    stfile s;
    uint64_t hl = le64(b);
    char *h = malloc(hl + 1);
    memcpy(h, b + 8, hl);
    h[hl] = 0;
    s.root = cJSON_Parse(h);
    free(h);
    if (!s.root) chk_fatal("st_split", "the saved header does not parse");
    s.data = b + 8 + hl;
    s.data_len = n - 8 - hl;
    return s;
}

/* Serialises root + data (data copied as is) into a new malloc'd file. */
static uint8_t *st_join(const cJSON *root, const uint8_t *data, size_t data_len, size_t *n)
{
    char *txt = cJSON_PrintUnformatted(root);
    size_t jn = strlen(txt), hn = (jn + 7) / 8 * 8;
    *n = 8 + hn + data_len;
    uint8_t *b = malloc(*n);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hn >> (8 * i));
    memcpy(b + 8, txt, jn);
    memset(b + 8 + jn, ' ', hn - jn);
    if (data_len) memcpy(b + 8 + hn, data, data_len);
    free(txt);
    return b;
}

static size_t dsize(const char *dt)
{
    if (!strcmp(dt, "F16") || !strcmp(dt, "BF16") || !strcmp(dt, "I16")) return 2;
    if (!strcmp(dt, "F64") || !strcmp(dt, "I64")) return 8;
    if (!strcmp(dt, "U8") || !strcmp(dt, "I8") || !strcmp(dt, "BOOL")) return 1;
    return 4;
}

/* Lays the tensors of root out again, contiguously in header order: each
 * keeps the bytes its old data_offsets pointed at (zeros for an entry with
 * no data_offsets, sized from dtype × shape). */
static uint8_t *st_relayout(cJSON *root, const uint8_t *data, size_t *n)
{
    size_t total = 0;
    for (cJSON *e = root->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) continue;
        size_t bytes = dsize(cJSON_GetObjectItem(e, "dtype")->valuestring);
        for (cJSON *d = cJSON_GetObjectItem(e, "shape")->child; d; d = d->next)
            bytes *= (size_t)d->valuedouble;
        total += bytes;
    }
    uint8_t *nd = calloc(total ? total : 1, 1);
    size_t pos = 0;
    for (cJSON *e = root->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) continue;
        size_t bytes = dsize(cJSON_GetObjectItem(e, "dtype")->valuestring);
        for (cJSON *d = cJSON_GetObjectItem(e, "shape")->child; d; d = d->next)
            bytes *= (size_t)d->valuedouble;
        cJSON *off = cJSON_GetObjectItem(e, "data_offsets");
        if (off) memcpy(nd + pos, data + (size_t)cJSON_GetArrayItem(off, 0)->valuedouble, bytes);
        cJSON_DeleteItemFromObject(e, "data_offsets");
        cJSON *no = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(no, cJSON_CreateNumber((double)pos));
        cJSON_AddItemToArray(no, cJSON_CreateNumber((double)(pos + bytes)));
        pos += bytes;
    }
    uint8_t *b = st_join(root, nd, total, n);
    free(nd);
    return b;
}

static void set_meta(cJSON *root, const char *k, const char *v)
{
    cJSON *md = cJSON_GetObjectItem(root, "__metadata__");
    cJSON_DeleteItemFromObject(md, k);
    cJSON_AddStringToObject(md, k, v);
}

static void set_offsets(cJSON *root, const char *name, double b, double e)
{
    cJSON *t = cJSON_GetObjectItem(root, name);
    cJSON_DeleteItemFromObject(t, "data_offsets");
    cJSON *no = cJSON_AddArrayToObject(t, "data_offsets");
    cJSON_AddItemToArray(no, cJSON_CreateNumber(b));
    cJSON_AddItemToArray(no, cJSON_CreateNumber(e));
}

static double offset_of(cJSON *root, const char *name, int which)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(root, name),
                                                  "data_offsets"), which)->valuedouble;
}

/* ------------------------------------------------ refused files */

typedef struct refusal_ctx {
    lre_ctx *ctx;
    lre_trainer *t;
    tstate before;
    int unchanged_failures;
    char first_change[256];
} refusal_ctx;

/* Writes bytes to a file, loads it, expects `want` and the substrings
 * (NULL-terminated, the path is added), and checks the trainer did not
 * change. `quiet`: count a pass without printing (for the offset sweeps);
 * returns whether all held. */
static int refuse_v(refusal_ctx *rc, const char *name, const uint8_t *b, size_t n,
                    lre_status want, va_list ap)
{
    const char *path = tpath("bad.safetensors");
    write_all(path, b, n);
    lre_status s = lre_trainer_load(rc->t, path);
    const char *subs[8] = {NULL};
    int k = 0;
    subs[k++] = path;
    const char *x;
    while (k < 7 && (x = va_arg(ap, const char *)) != NULL) subs[k++] = x;
    subs[k] = NULL;
    if (getenv("LRE_TEST_VERBOSE")) printf("# %s -> %s\n", name, lre_ctx_error(rc->ctx));
    int ok = chk_err(rc->ctx, s, want, name, subs[0], subs[1], subs[2], subs[3], subs[4],
                     subs[5], subs[6], subs[7]);
    tstate now = capture(rc->t);
    const char *d = tstate_diff(&rc->before, &now);
    tstate_free(&now);
    if (d[0]) {
        if (rc->unchanged_failures++ == 0)
            snprintf(rc->first_change, sizeof rc->first_change, "%s: %s changed", name, d);
        ok = 0;
    }
    return ok;
}

static int refuse(refusal_ctx *rc, const char *name, const uint8_t *b, size_t n,
                  lre_status want, ...)
{
    va_list ap;
    va_start(ap, want);
    int ok = refuse_v(rc, name, b, n, want, ap);
    va_end(ap);
    return ok;
}

/* ------------------------------------------- version 1, and names */

/* A version-1 file of t's current state, written by hand as version 1
 * wrote it: the parameter tensors and metadata of a save (version "1"), no
 * optim.step, and the optimizer state as two whole-buffer tensors
 * "optim.state1" and "optim.state2", F32 [n_params], after the parameters:
 * state1 the first buffer (momentum_buffer or exp_avg), state2 exp_avg_sq;
 * what an optimizer did not use was zeros (junk: filled with finite
 * non-zero values instead, to show that the loader ignores them). */
static uint8_t *make_v1(lre_ctx *ctx, lre_trainer *t, int junk, size_t *n)
{
    const char *src = tpath("v1src.safetensors");
    chk_must(ctx, lre_trainer_save(t, src), "save for a version-1 file");
    size_t sn;
    uint8_t *sb = read_all(src, &sn);
    remove(src);
    stfile sf = st_split(sb, sn);
    size_t np = (size_t)t->model->n_params;
    uint8_t *blob = malloc(sf.data_len + 8 * np);
    memcpy(blob, sf.data, sf.data_len);
    for (int k = 0; k < 2; k++) {
        float *v = NULL;
        if (k < t->opt.n) {
            v = chk_download(ctx, t->opt.buf[k]);
        } else {
            v = calloc(np ? np : 1, sizeof(float));
            for (size_t i = 0; junk && i < np; i++) v[i] = 0.25f + (float)(i % 7) * (k ? 3 : -2);
        }
        uint8_t *dst = blob + sf.data_len + (size_t)k * 4 * np;
        for (size_t i = 0; i < np; i++) {
            uint32_t u;
            memcpy(&u, &v[i], 4);
            for (int j = 0; j < 4; j++) dst[4 * i + (size_t)j] = (uint8_t)(u >> (8 * j));
        }
        free(v);
    }
    /* Drop the v2 optimizer tensors; add state1/state2 pointing into blob. */
    cJSON *root = sf.root;
    for (cJSON *e = root->child, *next; e; e = next) {
        next = e->next;
        if (strncmp(e->string, "optim.", 6) == 0) cJSON_DeleteItemFromObject(root, e->string);
    }
    set_meta(root, "version", "1");
    for (int k = 0; k < 2; k++) {
        cJSON *x = cJSON_AddObjectToObject(root, k ? "optim.state2" : "optim.state1");
        cJSON_AddStringToObject(x, "dtype", "F32");
        cJSON *sh = cJSON_AddArrayToObject(x, "shape");
        cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)np));
        cJSON *off = cJSON_AddArrayToObject(x, "data_offsets");
        size_t at = sf.data_len + (size_t)k * 4 * np;
        cJSON_AddItemToArray(off, cJSON_CreateNumber((double)at));
        cJSON_AddItemToArray(off, cJSON_CreateNumber((double)(at + 4 * np)));
    }
    uint8_t *b = st_relayout(root, blob, n);
    cJSON_Delete(root);
    free(blob);
    free(sb);
    return b;
}

/* A v1 file loads into a fresh trainer and continues bit for bit as the
 * run that wrote it; saved again, it is written as version 2. */
static void test_v1_roundtrip(lre_ctx *ctx, lre_dataset *ds, const char *label,
                              lre_optim_config oc, int k1, int k2, int junk)
{
    const char *path = tpath(chk_name("v1_%s.safetensors", label));
    float *la = malloc(sizeof(float) * (size_t)k2), *lb = malloc(sizeof(float) * (size_t)k2);
    lre_trainer *a = make_trainer(ctx, ds, HIDDEN, 1, oc, 1);
    run_steps(a, 0, k1, NULL);
    tstate at_save = capture(a);
    size_t n;
    uint8_t *v1 = make_v1(ctx, a, junk, &n);
    write_all(path, v1, n);
    free(v1);
    run_steps(a, k1, k2, la);
    tstate end_a = capture(a);

    lre_trainer *b = make_trainer(ctx, ds, HIDDEN, 99, oc, 1);
    run_steps(b, 0, 3, NULL);
    uint64_t live0 = lre_ctx_bytes_live(ctx);
    chk_ok(ctx, lre_trainer_load(b, path), chk_name("v1 %s: a version-1 file loads", label));
    CHECK(lre_ctx_bytes_live(ctx) == live0, chk_name("v1 %s: load frees what it allocates", label),
          "bytes live %llu before, %llu after", (unsigned long long)live0,
          (unsigned long long)lre_ctx_bytes_live(ctx));
    tstate loaded = capture(b);
    CHECK(tstate_diff(&at_save, &loaded)[0] == 0,
          chk_name("v1 %s: loaded state equals the state that wrote it", label), "%s differ",
          tstate_diff(&at_save, &loaded));

    /* Saved again: version 2, and that loads to the same state. */
    const char *again = tpath(chk_name("v1again_%s.safetensors", label));
    chk_must(ctx, lre_trainer_save(b, again), "save after loading a v1 file");
    {
        size_t an;
        uint8_t *ab = read_all(again, &an);
        stfile ss = st_split(ab, an);
        cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(ss.root, "__metadata__"), "version");
        CHECK(cJSON_IsString(v) && strcmp(v->valuestring, "2") == 0 &&
                  cJSON_GetObjectItem(ss.root, "optim.state1") == NULL &&
                  cJSON_GetObjectItem(ss.root, "optim.step") != NULL,
              chk_name("v1 %s: saved again, the file is version 2", label), "version %s",
              cJSON_IsString(v) ? v->valuestring : "(missing)");
        cJSON_Delete(ss.root);
        free(ab);
        lre_trainer *c = make_trainer(ctx, ds, HIDDEN, 5, oc, 1);
        chk_ok(ctx, lre_trainer_load(c, again), chk_name("v1 %s: the version-2 copy loads", label));
        tstate cs = capture(c);
        CHECK(tstate_diff(&at_save, &cs)[0] == 0,
              chk_name("v1 %s: the version-2 copy holds the same state", label), "%s differ",
              tstate_diff(&at_save, &cs));
        tstate_free(&cs);
        lre_trainer_release(c);
        remove(again);
    }

    run_steps(b, k1, k2, lb);
    tstate end_b = capture(b);
    chk_bits(chk_name("v1 %s: losses after load equal the run that wrote it", label), la, lb, k2);
    chk_bits(chk_name("v1 %s: parameters after load+%d steps", label, k2), end_a.p, end_b.p,
             end_a.n);
    for (int k = 0; k < end_a.nb && k < end_b.nb; k++)
        chk_bits(chk_name("v1 %s: %s after load+%d steps", label, end_a.bname[k], k2), end_a.b[k],
                 end_b.b[k], end_a.n);
    CHECK(tstate_diff(&end_a, &end_b)[0] == 0,
          chk_name("v1 %s: the whole state after continuing equals the run that wrote it", label),
          "%s differ", tstate_diff(&end_a, &end_b));

    remove(path);
    tstate_free(&at_save);
    tstate_free(&end_a);
    tstate_free(&loaded);
    tstate_free(&end_b);
    lre_trainer_release(a);
    lre_trainer_release(b);
    free(la);
    free(lb);
}

/* The tensor names of a version-2 file are exactly the expected set. */
static void names_case(lre_ctx *ctx, lre_dataset *ds, const char *label, lre_optim_config oc,
                       const char *const *want, int nwant)
{
    lre_trainer *t = make_trainer(ctx, ds, HIDDEN, 1, oc, 1);
    run_steps(t, 0, 3, NULL);
    const char *path = tpath("names.safetensors");
    chk_must(ctx, lre_trainer_save(t, path), "save for names");
    size_t n;
    uint8_t *b = read_all(path, &n);
    stfile sf = st_split(b, n);
    char why[512] = "";
    int got = 0, ok = 1;
    for (cJSON *e = sf.root->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) continue;
        got++;
        int found = 0;
        for (int i = 0; i < nwant; i++) found |= strcmp(e->string, want[i]) == 0;
        if (!found && ok) {
            ok = 0;
            snprintf(why, sizeof why, "unexpected tensor %.200s", e->string);
        }
    }
    for (int i = 0; i < nwant && ok; i++)
        if (!cJSON_GetObjectItemCaseSensitive(sf.root, want[i])) {
            ok = 0;
            snprintf(why, sizeof why, "no tensor %s", want[i]);
        }
    if (ok && got != nwant) {
        ok = 0;
        snprintf(why, sizeof why, "%d tensors, expected %d", got, nwant);
    }
    CHECK(ok, chk_name("names %s: the file's tensors are exactly the %d expected", label, nwant),
          "%s", why);
    cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(sf.root, "__metadata__"), "version");
    CHECK(cJSON_IsString(v) && strcmp(v->valuestring, "2") == 0,
          chk_name("names %s: metadata version \"2\"", label), "%s",
          cJSON_IsString(v) ? v->valuestring : "(missing)");
    lre_trainer *u = make_trainer(ctx, ds, HIDDEN, 9, oc, 1);
    chk_ok(ctx, lre_trainer_load(u, path), chk_name("names %s: the file loads back", label));
    lre_trainer_release(u);
    cJSON_Delete(sf.root);
    free(b);
    remove(path);
    lre_trainer_release(t);
}

static void test_names(lre_ctx *ctx, lre_dataset *ds)
{
    static const char *const plain[] = {"optim.step", "0.weight", "0.bias", "2.weight", "2.bias",
                                        "4.weight", "4.bias"};
    static const char *const momentum[] = {
        "optim.step", "0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias",
        "optim.0.weight.momentum_buffer", "optim.0.bias.momentum_buffer",
        "optim.2.weight.momentum_buffer", "optim.2.bias.momentum_buffer",
        "optim.4.weight.momentum_buffer", "optim.4.bias.momentum_buffer"};
    static const char *const adam[] = {
        "optim.step", "0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias",
        "optim.0.weight.exp_avg", "optim.0.weight.exp_avg_sq",
        "optim.0.bias.exp_avg", "optim.0.bias.exp_avg_sq",
        "optim.2.weight.exp_avg", "optim.2.weight.exp_avg_sq",
        "optim.2.bias.exp_avg", "optim.2.bias.exp_avg_sq",
        "optim.4.weight.exp_avg", "optim.4.weight.exp_avg_sq",
        "optim.4.bias.exp_avg", "optim.4.bias.exp_avg_sq"};
    lre_optim_config sgd = lre_optim_sgd_default();
    sgd.momentum = 0;
    lre_optim_config sgdm = lre_optim_sgd_default();
    sgdm.momentum = 0.9f;
    names_case(ctx, ds, "sgd without momentum", sgd, plain, 7);
    names_case(ctx, ds, "sgd with momentum", sgdm, momentum, 13);
    names_case(ctx, ds, "adam", lre_optim_adam_default(), adam, 19);
    names_case(ctx, ds, "adamw", lre_optim_adamw_default(), adam, 19);
}

/* SGD with and without momentum: a version-2 file holds momentum buffers
 * exactly when its SGD had momentum; loading it into an SGD of the other
 * kind is refused, naming the tensor. A version-1 file always held both
 * state tensors: SGD without momentum ignores them. */
static void test_sgd_momentum_mismatch(lre_ctx *ctx, lre_dataset *ds)
{
    lre_optim_config plain = lre_optim_sgd_default();
    lre_optim_config mom = lre_optim_sgd_default();
    mom.momentum = 0.9f;
    lre_trainer *sp = make_trainer(ctx, ds, HIDDEN, 1, plain, 1);
    lre_trainer *sm = make_trainer(ctx, ds, HIDDEN, 1, mom, 1);
    run_steps(sp, 0, 4, NULL);
    run_steps(sm, 0, 4, NULL);
    chk_must(ctx, lre_trainer_save(sp, tpath("sgd-plain.safetensors")), "save sgd plain");
    chk_must(ctx, lre_trainer_save(sm, tpath("sgd-momentum.safetensors")), "save sgd momentum");
    size_t pn, mn;
    uint8_t *pb = read_all(tpath("sgd-plain.safetensors"), &pn);
    uint8_t *mb = read_all(tpath("sgd-momentum.safetensors"), &mn);
    uint64_t live0 = lre_ctx_bytes_live(ctx);

    refusal_ctx rc;
    memset(&rc, 0, sizeof rc);
    rc.ctx = ctx;
    rc.t = make_trainer(ctx, ds, HIDDEN, 5, plain, 1);
    run_steps(rc.t, 0, 2, NULL);
    rc.before = capture(rc.t);
    refuse(&rc, "an SGD-with-momentum file loaded into SGD without momentum is refused", mb, mn,
           LRE_EFORMAT, "optim.0.weight.momentum_buffer", "no momentum", NULL);
    refusal_ctx rm;
    memset(&rm, 0, sizeof rm);
    rm.ctx = ctx;
    rm.t = make_trainer(ctx, ds, HIDDEN, 5, mom, 1);
    run_steps(rm.t, 0, 2, NULL);
    rm.before = capture(rm.t);
    refuse(&rm, "an SGD-without-momentum file loaded into SGD with momentum is refused", pb, pn,
           LRE_EFORMAT, "optim.0.weight.momentum_buffer", "missing", "without momentum", NULL);
    CHECK(rc.unchanged_failures == 0 && rm.unchanged_failures == 0,
          "the refused SGD loads left the trainers unchanged", "%s%s", rc.first_change,
          rm.first_change);

    /* A version-1 SGD-with-momentum file into SGD without momentum: the
     * state tensors are ignored, the parameters and position loaded. */
    size_t vn;
    uint8_t *v1 = make_v1(ctx, sm, 0, &vn);
    write_all(tpath("v1-sgd.safetensors"), v1, vn);
    free(v1);
    chk_ok(ctx, lre_trainer_load(rc.t, tpath("v1-sgd.safetensors")),
           "a v1 SGD-with-momentum file loads into SGD without momentum (state ignored)");
    float *want = chk_download(ctx, sm->model->params);
    float *got = chk_download(ctx, rc.t->model->params);
    chk_bits("v1 SGD-with-momentum into SGD without momentum: the parameters loaded", want, got,
             sm->model->n_params);
    CHECK(lre_trainer_steps(rc.t) == 4, "v1 SGD into SGD without momentum: the step count loaded",
          "%lld", (long long)lre_trainer_steps(rc.t));
    free(want);
    free(got);

    tstate_free(&rc.before);
    tstate_free(&rm.before);
    lre_trainer_release(rc.t);
    lre_trainer_release(rm.t);
    CHECK(lre_ctx_bytes_live(ctx) == live0, "SGD mismatch loads free what they allocate",
          "bytes live %llu before, %llu after", (unsigned long long)live0,
          (unsigned long long)lre_ctx_bytes_live(ctx));
    lre_trainer_release(sp);
    lre_trainer_release(sm);
    free(pb);
    free(mb);
    remove(tpath("sgd-plain.safetensors"));
    remove(tpath("sgd-momentum.safetensors"));
    remove(tpath("v1-sgd.safetensors"));
}

static void test_refusals(lre_ctx *ctx, lre_dataset *ds)
{
    lre_optim_config adam = lre_optim_adam_default();
    adam.weight_decay = 1e-2f;
    /* The file: an Adam trainer after 9 steps. */
    lre_trainer *src = make_trainer(ctx, ds, HIDDEN, 1, adam, 1);
    run_steps(src, 0, 9, NULL);
    char good[512];
    snprintf(good, sizeof good, "%s", tpath("good.safetensors"));
    chk_must(ctx, lre_trainer_save(src, good), "save the good file");
    size_t n;
    uint8_t *orig = read_all(good, &n);
    uint64_t hl = le64(orig);

    /* The victim: same architecture, its own weights and position. */
    refusal_ctx rc;
    memset(&rc, 0, sizeof rc);
    rc.ctx = ctx;
    rc.t = make_trainer(ctx, ds, HIDDEN, 5, adam, 1);
    run_steps(rc.t, 0, 4, NULL);
    rc.before = capture(rc.t);
    uint64_t live0 = lre_ctx_bytes_live(ctx);

    /* Truncated at every offset up to the end of the header, then at several
     * offsets inside the data. */
    int bad = 0;
    char first[512] = "";
    for (size_t cut = 0; cut <= 8 + hl; cut++) {
        write_all(tpath("cut.safetensors"), orig, cut);
        lre_status s = lre_trainer_load(rc.t, tpath("cut.safetensors"));
        const char *msg = lre_ctx_error(ctx);
        const char *want = cut < 8 ? "too short" : "truncated";
        if (s != LRE_EFORMAT || !strstr(msg, want) || !strstr(msg, tpath("cut.safetensors"))) {
            if (bad++ == 0)
                snprintf(first, sizeof first, "cut at %zu: status %d, \"%s\"", cut, (int)s, msg);
        }
        lre_ctx_clear_error(ctx);
    }
    CHECK(bad == 0, chk_name("truncated at each of the %llu offsets of the header: refused, "
                             "\"truncated\"", (unsigned long long)(8 + hl + 1)),
          "%d offsets not refused as expected; first: %s", bad, first);
    size_t cuts[] = {8 + hl + 1, 8 + hl + 4, 8 + hl + 100, 8 + hl + (n - 8 - hl) / 2, n - 4,
                     n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        refuse(&rc, chk_name("truncated in the data at byte %zu of %zu", cuts[i], n), orig,
               cuts[i], LRE_EFORMAT, "truncated", NULL);

    uint8_t *b = malloc(n + 16);
    /* header length */
    memcpy(b, orig, n);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(((uint64_t)1 << 40) >> (8 * i));
    refuse(&rc, "header length 2^40 refused", b, n, LRE_EFORMAT, "header length", "limit", NULL);
    memcpy(b, orig, n);
    for (int i = 0; i < 8; i++) b[i] = 0xff;
    refuse(&rc, "header length 2^64-1 refused", b, n, LRE_EFORMAT, "header length", NULL);
    memcpy(b, orig, n);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)(n - 7) >> (8 * i));
    refuse(&rc, "header length past the end of the file refused", b, n, LRE_EFORMAT,
           "header length", "past the end", NULL);

    /* header not JSON */
    memcpy(b, orig, n);
    b[8] = '[';
    refuse(&rc, "header not starting with '{' refused", b, n, LRE_EFORMAT, "'{'", NULL);
    memcpy(b, orig, n);
    {
        char *colon = memchr(b + 8, ':', hl);
        *colon = '#';
    }
    refuse(&rc, "header not JSON refused", b, n, LRE_EFORMAT, "not valid JSON", NULL);
    memcpy(b, orig, n);
    b[8 + 3] = 0xff; /* inside the first key */
    refuse(&rc, "header not UTF-8 refused", b, n, LRE_EFORMAT, "UTF-8", NULL);

    /* extra bytes */
    memcpy(b, orig, n);
    memset(b + n, 0, 4);
    refuse(&rc, "4 trailing bytes refused", b, n + 4, LRE_EFORMAT, "4 trailing bytes", NULL);

    stfile sf = st_split(orig, n);
    uint8_t *e;
    size_t en;

    /* garbage after the JSON object, inside the header */
    {
        char *txt = cJSON_PrintUnformatted(sf.root);
        size_t jn = strlen(txt), hn = (jn + 2 + 7) / 8 * 8;
        en = 8 + hn + sf.data_len;
        e = malloc(en);
        for (int i = 0; i < 8; i++) e[i] = (uint8_t)((uint64_t)hn >> (8 * i));
        memset(e + 8, ' ', hn);
        memcpy(e + 8, txt, jn);
        e[8 + jn + 1] = 'x';
        memcpy(e + 8 + hn, sf.data, sf.data_len);
        refuse(&rc, "garbage after the header's JSON refused", e, en, LRE_EFORMAT,
               "after its JSON", NULL);
        free(e);
        free(txt);
    }

    /* wrong dtype, same size: the model's check */
    cJSON *root = cJSON_Duplicate(sf.root, 1);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "0.weight"), "dtype",
                              cJSON_CreateString("I32"));
    e = st_join(root, sf.data, sf.data_len, &en);
    refuse(&rc, "wrong dtype (I32) refused", e, en, LRE_EFORMAT, "0.weight", "dtype I32",
           "expects F32", NULL);
    free(e);
    cJSON_Delete(root);
    /* wrong dtype, other size: the parser's check */
    root = cJSON_Duplicate(sf.root, 1);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "0.weight"), "dtype",
                              cJSON_CreateString("F16"));
    e = st_join(root, sf.data, sf.data_len, &en);
    refuse(&rc, "wrong dtype (F16) refused", e, en, LRE_EFORMAT, "0.weight", "F16", "bytes", NULL);
    free(e);
    cJSON_Delete(root);
    root = cJSON_Duplicate(sf.root, 1);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "2.bias"), "dtype",
                              cJSON_CreateString("Q7"));
    e = st_join(root, sf.data, sf.data_len, &en);
    refuse(&rc, "unknown dtype refused", e, en, LRE_EFORMAT, "2.bias", "unknown dtype", NULL);
    free(e);
    cJSON_Delete(root);

    /* wrong shape: transposed weight (same bytes) */
    root = cJSON_Duplicate(sf.root, 1);
    {
        cJSON *sh = cJSON_CreateArray();
        cJSON_AddItemToArray(sh, cJSON_CreateNumber(NFEAT));
        cJSON_AddItemToArray(sh, cJSON_CreateNumber(HIDDEN));
        cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "0.weight"), "shape", sh);
    }
    e = st_join(root, sf.data, sf.data_len, &en);
    refuse(&rc, "transposed weight refused", e, en, LRE_EFORMAT,
           "tensor 0.weight has shape [4,16], the model expects [16,4]", NULL);
    free(e);
    cJSON_Delete(root);

    /* missing tensor (data removed too, so the file itself is valid) */
    root = cJSON_Duplicate(sf.root, 1);
    cJSON_DeleteItemFromObject(root, "4.bias");
    e = st_relayout(root, sf.data, &en);
    refuse(&rc, "missing tensor refused", e, en, LRE_EFORMAT, "tensor 4.bias is missing", NULL);
    free(e);
    cJSON_Delete(root);
    root = cJSON_Duplicate(sf.root, 1);
    cJSON_DeleteItemFromObject(root, "optim.0.weight.exp_avg");
    e = st_relayout(root, sf.data, &en);
    refuse(&rc, "a v2 file missing optim.0.weight.exp_avg refused naming it", e, en, LRE_EFORMAT,
           "tensor optim.0.weight.exp_avg is missing", NULL);
    free(e);
    cJSON_Delete(root);
    root = cJSON_Duplicate(sf.root, 1);
    cJSON_DeleteItemFromObject(root, "optim.4.bias.exp_avg_sq");
    e = st_relayout(root, sf.data, &en);
    refuse(&rc, "a v2 file missing optim.4.bias.exp_avg_sq refused naming it", e, en,
           LRE_EFORMAT, "tensor optim.4.bias.exp_avg_sq is missing", NULL);
    free(e);
    cJSON_Delete(root);

    /* a misshapen and a mistyped optimizer tensor */
    root = cJSON_Duplicate(sf.root, 1);
    {
        cJSON *sh = cJSON_CreateArray();
        cJSON_AddItemToArray(sh, cJSON_CreateNumber(HIDDEN * HIDDEN));
        cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "optim.2.weight.exp_avg_sq"), "shape",
                                  sh);
    }
    e = st_join(root, sf.data, sf.data_len, &en);
    refuse(&rc, "flattened optim.2.weight.exp_avg_sq refused", e, en, LRE_EFORMAT,
           "tensor optim.2.weight.exp_avg_sq has shape [256], the optimizer expects [16,16]", NULL);
    free(e);
    cJSON_Delete(root);
    root = cJSON_Duplicate(sf.root, 1);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "optim.0.bias.exp_avg"), "dtype",
                              cJSON_CreateString("U32"));
    e = st_join(root, sf.data, sf.data_len, &en);
    refuse(&rc, "optim.0.bias.exp_avg of dtype U32 refused", e, en, LRE_EFORMAT,
           "optim.0.bias.exp_avg", "dtype U32", "expects F32", NULL);
    free(e);
    cJSON_Delete(root);

    /* a v2 file relabelled version 1: read as version 1, so state1 is missing */
    root = cJSON_Duplicate(sf.root, 1);
    set_meta(root, "version", "1");
    e = st_join(root, sf.data, sf.data_len, &en);
    refuse(&rc, "a v2 file labelled version 1 refused", e, en, LRE_EFORMAT,
           "tensor optim.state1 is missing", NULL);
    free(e);
    cJSON_Delete(root);

    /* the relayout helper itself reproduces a loadable file */
    root = cJSON_Duplicate(sf.root, 1);
    e = st_relayout(root, sf.data, &en);
    CHECK(en == n && memcmp(e, orig, n) == 0, "test helper: relayout of the saved file is identical",
          "%zu vs %zu bytes", en, n);
    free(e);
    cJSON_Delete(root);

    /* extra tensor */
    root = cJSON_Duplicate(sf.root, 1);
    {
        cJSON *x = cJSON_AddObjectToObject(root, "extra.scale");
        cJSON_AddStringToObject(x, "dtype", "F32");
        cJSON *sh = cJSON_AddArrayToObject(x, "shape");
        cJSON_AddItemToArray(sh, cJSON_CreateNumber(2));
    }
    e = st_relayout(root, sf.data, &en);
    refuse(&rc, "extra tensor refused", e, en, LRE_EFORMAT, "extra.scale", "not part", NULL);
    free(e);
    cJSON_Delete(root);
    {
        const char *extras[] = {"optim.0.weight.momentum_buffer", "optim.1.weight.exp_avg",
                                "optim.6.bias.exp_avg", "optim.state1", "optim.02.bias.exp_avg",
                                "optim.2.weight.exp_avg.x", "optim.2.weights.exp_avg"};
        for (size_t i = 0; i < sizeof extras / sizeof extras[0]; i++) {
            root = cJSON_Duplicate(sf.root, 1);
            cJSON *x = cJSON_AddObjectToObject(root, extras[i]);
            cJSON_AddStringToObject(x, "dtype", "F32");
            cJSON *sh = cJSON_AddArrayToObject(x, "shape");
            cJSON_AddItemToArray(sh, cJSON_CreateNumber(NCLASS));
            e = st_relayout(root, sf.data, &en);
            refuse(&rc, chk_name("extra tensor %s refused", extras[i]), e, en, LRE_EFORMAT,
                   extras[i], "not part", NULL);
            free(e);
            cJSON_Delete(root);
        }
    }

    /* duplicated name */
    root = cJSON_Duplicate(sf.root, 1);
    cJSON_AddItemToObject(root, "0.bias",
                          cJSON_Duplicate(cJSON_GetObjectItem(root, "0.bias"), 1));
    e = st_join(root, sf.data, sf.data_len, &en);
    refuse(&rc, "duplicated tensor name refused", e, en, LRE_EFORMAT, "0.bias", "twice", NULL);
    free(e);
    cJSON_Delete(root);

    /* overlapping offsets, a hole */
    root = cJSON_Duplicate(sf.root, 1);
    set_offsets(root, "0.bias", offset_of(root, "0.bias", 0) - 4, offset_of(root, "0.bias", 1) - 4);
    e = st_join(root, sf.data, sf.data_len, &en);
    refuse(&rc, "overlapping data_offsets refused", e, en, LRE_EFORMAT, "overlap", "0.weight",
           "0.bias", NULL);
    free(e);
    cJSON_Delete(root);
    root = cJSON_Duplicate(sf.root, 1);
    set_offsets(root, "0.bias", offset_of(root, "0.bias", 0) + 4, offset_of(root, "0.bias", 1) + 4);
    e = st_join(root, sf.data, sf.data_len, &en);
    refuse(&rc, "a hole between tensors refused", e, en, LRE_EFORMAT, "hole", "0.bias", NULL);
    free(e);
    cJSON_Delete(root);
    root = cJSON_Duplicate(sf.root, 1);
    set_offsets(root, "0.bias", offset_of(root, "0.bias", 0), offset_of(root, "0.bias", 1) + 4);
    e = st_join(root, sf.data, sf.data_len, &en);
    refuse(&rc, "data_offsets that disagree with the shape refused", e, en, LRE_EFORMAT, "0.bias",
           "span", NULL);
    free(e);
    cJSON_Delete(root);

    /* metadata */
    struct { const char *k, *v, *name, *w1, *w2; } metas[] = {
        {"format", "pt", "format mismatch refused", "format", "lrengine-snapshot"},
        {"version", "3", "version 3 refused", "version", "3"},
        {"architecture", "linear(4,16) relu linear(16,3)", "architecture metadata mismatch refused",
         "architecture", "does not match"},
        {"optimizer", "adamw", "optimizer metadata mismatch refused", "optimizer", "adamw"},
        {"steps", "-3", "negative steps refused", "steps", "-3"},
        {"cursor", "51", "cursor past the dataset refused", "cursor", "50 rows"},
        {"seed", "0x10", "non-decimal seed refused", "seed", "0x10"},
    };
    for (size_t i = 0; i < sizeof metas / sizeof metas[0]; i++) {
        root = cJSON_Duplicate(sf.root, 1);
        set_meta(root, metas[i].k, metas[i].v);
        e = st_join(root, sf.data, sf.data_len, &en);
        refuse(&rc, metas[i].name, e, en, LRE_EFORMAT, metas[i].w1, metas[i].w2, NULL);
        free(e);
        cJSON_Delete(root);
    }
    root = cJSON_Duplicate(sf.root, 1);
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(root, "__metadata__"), "epoch");
    e = st_join(root, sf.data, sf.data_len, &en);
    refuse(&rc, "missing epoch metadata refused", e, en, LRE_EFORMAT, "epoch", NULL);
    free(e);
    cJSON_Delete(root);
    root = cJSON_Duplicate(sf.root, 1);
    cJSON_DeleteItemFromObject(root, "__metadata__");
    e = st_join(root, sf.data, sf.data_len, &en);
    refuse(&rc, "a plain safetensors file without metadata refused", e, en, LRE_EFORMAT,
           "__metadata__", NULL);
    free(e);
    cJSON_Delete(root);
    root = cJSON_Duplicate(sf.root, 1);
    cJSON_AddNumberToObject(cJSON_GetObjectItem(root, "__metadata__"), "answer", 42);
    e = st_join(root, sf.data, sf.data_len, &en);
    refuse(&rc, "non-string metadata value refused", e, en, LRE_EFORMAT, "answer",
           "not a string", NULL);
    free(e);
    cJSON_Delete(root);

    /* NaN / inf in the values */
    memcpy(b, orig, n);
    {
        size_t at = 8 + hl + (size_t)offset_of(sf.root, "2.weight", 0) + 4 * (1 * HIDDEN + 3);
        uint32_t qnan = 0x7fc00000u;
        for (int i = 0; i < 4; i++) b[at + i] = (uint8_t)(qnan >> (8 * i));
    }
    refuse(&rc, "NaN in a weight refused", b, n, LRE_EFORMAT, "2.weight", "non-finite", "nan",
           "[1,3]", NULL);
    memcpy(b, orig, n);
    {
        size_t at = 8 + hl + (size_t)offset_of(sf.root, "optim.2.weight.exp_avg_sq", 0) + 4 * 10;
        uint32_t inf = 0x7f800000u;
        for (int i = 0; i < 4; i++) b[at + i] = (uint8_t)(inf >> (8 * i));
    }
    refuse(&rc, "inf in the optimizer state refused", b, n, LRE_EFORMAT,
           "optim.2.weight.exp_avg_sq", "inf", "[0,10]", NULL);
    memcpy(b, orig, n);
    {
        size_t at = 8 + hl + (size_t)offset_of(sf.root, "optim.4.bias.exp_avg", 0) + 4 * 2;
        uint32_t ninf = 0xff800000u;
        for (int i = 0; i < 4; i++) b[at + i] = (uint8_t)(ninf >> (8 * i));
    }
    refuse(&rc, "-inf in a bias's exp_avg refused", b, n, LRE_EFORMAT, "optim.4.bias.exp_avg",
           "-inf", "[2]", NULL);

    /* optim.step: must agree with the metadata, be an I64 scalar, not negative. */
    memcpy(b, orig, n);
    {
        size_t at = 8 + hl + (size_t)offset_of(sf.root, "optim.step", 0);
        for (int i = 0; i < 8; i++) b[at + i] = (uint8_t)((uint64_t)5 >> (8 * i));
    }
    refuse(&rc, "optim.step disagreeing with the metadata steps refused", b, n, LRE_EFORMAT,
           "optim.step", "5", "steps is 9", NULL);
    memcpy(b, orig, n);
    {
        size_t at = 8 + hl + (size_t)offset_of(sf.root, "optim.step", 0);
        for (int i = 0; i < 8; i++) b[at + i] = 0xff;
    }
    refuse(&rc, "negative optim.step refused", b, n, LRE_EFORMAT, "optim.step", "negative", NULL);
    root = cJSON_Duplicate(sf.root, 1);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "optim.step"), "dtype",
                              cJSON_CreateString("F64"));
    e = st_join(root, sf.data, sf.data_len, &en);
    refuse(&rc, "optim.step of dtype F64 refused", e, en, LRE_EFORMAT, "optim.step", "dtype F64",
           "expects I64", NULL);
    free(e);
    cJSON_Delete(root);
    root = cJSON_Duplicate(sf.root, 1);
    {
        cJSON *sh = cJSON_CreateArray();
        cJSON_AddItemToArray(sh, cJSON_CreateNumber(1));
        cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "optim.step"), "shape", sh);
    }
    e = st_join(root, sf.data, sf.data_len, &en);
    refuse(&rc, "optim.step of shape [1] refused", e, en, LRE_EFORMAT,
           "tensor optim.step has shape [1], the optimizer expects []", NULL);
    free(e);
    cJSON_Delete(root);
    root = cJSON_Duplicate(sf.root, 1);
    cJSON_DeleteItemFromObject(root, "optim.step");
    e = st_relayout(root, sf.data, &en);
    refuse(&rc, "missing optim.step refused", e, en, LRE_EFORMAT, "tensor optim.step is missing",
           NULL);
    free(e);
    cJSON_Delete(root);

    /* A real file of another architecture, and of another optimizer. */
    lre_trainer *other = make_trainer(ctx, ds, 8, 1, adam, 1);
    run_steps(other, 0, 2, NULL);
    chk_must(ctx, lre_trainer_save(other, tpath("arch.safetensors")), "save other arch");
    lre_trainer_release(other);
    size_t an;
    uint8_t *ab = read_all(tpath("arch.safetensors"), &an);
    refuse(&rc, "architecture mismatch refused", ab, an, LRE_EFORMAT, "architecture",
           "linear(4,8) relu linear(8,8) tanh linear(8,3)",
           "linear(4,16) relu linear(16,16) tanh linear(16,3)", NULL);
    free(ab);
    lre_optim_config sgd = lre_optim_sgd_default();
    sgd.momentum = 0.9f;
    other = make_trainer(ctx, ds, HIDDEN, 1, sgd, 1);
    run_steps(other, 0, 2, NULL);
    chk_must(ctx, lre_trainer_save(other, tpath("sgd.safetensors")), "save sgd");
    lre_trainer_release(other);
    ab = read_all(tpath("sgd.safetensors"), &an);
    {
        stfile ss = st_split(ab, an);
        CHECK(cJSON_GetObjectItem(ss.root, "optim.0.weight.momentum_buffer") != NULL,
              "the SGD file holds momentum buffers", "optim.0.weight.momentum_buffer missing");
        cJSON_Delete(ss.root);
    }
    refuse(&rc, "an SGD-with-momentum file loaded into an Adam trainer is refused", ab, an,
           LRE_EFORMAT, "optimizer", "sgd", "adam", NULL);
    free(ab);

    /* Version-1 files refused as version 1 refused them. */
    {
        size_t vn;
        uint8_t *v1 = make_v1(ctx, src, 0, &vn);
        stfile vs = st_split(v1, vn);
        root = cJSON_Duplicate(vs.root, 1);
        cJSON_DeleteItemFromObject(root, "optim.state2");
        e = st_relayout(root, vs.data, &en);
        refuse(&rc, "a v1 file missing optim.state2 refused naming it", e, en, LRE_EFORMAT,
               "tensor optim.state2 is missing", NULL);
        free(e);
        cJSON_Delete(root);
        root = cJSON_Duplicate(vs.root, 1);
        {
            cJSON *x = cJSON_AddObjectToObject(root, "optim.step");
            cJSON_AddStringToObject(x, "dtype", "I64");
            cJSON_AddArrayToObject(x, "shape");
        }
        e = st_relayout(root, vs.data, &en);
        refuse(&rc, "a v1 file with an optim.step refused", e, en, LRE_EFORMAT, "optim.step",
               "not part", "version 1", NULL);
        free(e);
        cJSON_Delete(root);
        root = cJSON_Duplicate(vs.root, 1);
        cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "optim.state1"), "dtype",
                                  cJSON_CreateString("I32"));
        e = st_join(root, vs.data, vs.data_len, &en);
        refuse(&rc, "a v1 file with optim.state1 of dtype I32 refused", e, en, LRE_EFORMAT,
               "optim.state1", "dtype I32", NULL);
        free(e);
        cJSON_Delete(root);
        uint64_t vhl = le64(v1);
        size_t at = 8 + vhl + (size_t)offset_of(vs.root, "optim.state1", 0) + 4 * 7;
        uint32_t qnan = 0x7fc00000u;
        for (int i = 0; i < 4; i++) v1[at + i] = (uint8_t)(qnan >> (8 * i));
        refuse(&rc, "a v1 file with NaN in optim.state1 refused", v1, vn, LRE_EFORMAT,
               "optim.state1", "nan", "[7]", NULL);
        cJSON_Delete(vs.root);
        free(v1);
    }

    /* Not a file at all. */
    lre_status s = lre_trainer_load(rc.t, tpath("no-such-file.safetensors"));
    chk_err(ctx, s, LRE_EIO, "missing file refused with LRE_EIO", tpath("no-such-file.safetensors"),
            strerror(ENOENT), NULL);
    s = lre_trainer_load(rc.t, g_dir);
    chk_err(ctx, s, LRE_EIO, "a directory refused with LRE_EIO", "not a regular file", NULL);

    CHECK(rc.unchanged_failures == 0, "every refused load left the trainer unchanged",
          "%d loads changed it; first: %s", rc.unchanged_failures, rc.first_change);
    CHECK(lre_ctx_bytes_live(ctx) == live0, "refused loads free what they allocate",
          "bytes live %llu before, %llu after", (unsigned long long)live0,
          (unsigned long long)lre_ctx_bytes_live(ctx));

    /* And the good file still loads into the victim afterwards. */
    chk_ok(ctx, lre_trainer_load(rc.t, good), "the good file loads after all the refusals");

    cJSON_Delete(sf.root);
    free(b);
    free(orig);
    tstate_free(&rc.before);
    lre_trainer_release(rc.t);
    lre_trainer_release(src);
}

/* ------------------------------------------------------------ saving */

static void test_save_failures(lre_ctx *ctx, lre_dataset *ds)
{
    lre_trainer *t = make_trainer(ctx, ds, HIDDEN, 1, lre_optim_adamw_default(), 1);
    run_steps(t, 0, 5, NULL);
    /* Folders that do not exist are made (lre_write_file). */
    const char *p = tpath("missing-dir/deeper/x.safetensors");
    lre_status s = lre_trainer_save(t, p);
    chk_ok(ctx, s, "save into missing folders makes them");
    lre_trainer *w = make_trainer(ctx, ds, HIDDEN, 1, lre_optim_adamw_default(), 1);
    chk_ok(ctx, lre_trainer_load(w, p), "the file saved into new folders loads");
    lre_trainer_release(w);
    CHECK(no_tmp_left(tpath("missing-dir/deeper")), "no temporary file left in the new folder",
          "a .lre-tmp- file remains");
    /* A parent that is a file, not a folder: LRE_EIO naming it. */
    write_all(tpath("plainfile"), (const uint8_t *)"x", 1);
    s = lre_trainer_save(t, tpath("plainfile/x.safetensors"));
    chk_err(ctx, s, LRE_EIO, "save under a file that is not a folder: LRE_EIO naming it",
            "plainfile", "not a folder", NULL);

    /* Over an existing file: replaced. */
    p = tpath("replace.safetensors");
    chk_must(ctx, lre_trainer_save(t, p), "first save");
    size_t n1;
    uint8_t *old = read_all(p, &n1);
    run_steps(t, 5, 4, NULL);
    chk_ok(ctx, lre_trainer_save(t, p), "save over an existing file");
    lre_trainer *u = make_trainer(ctx, ds, HIDDEN, 3, lre_optim_adamw_default(), 1);
    chk_ok(ctx, lre_trainer_load(u, p), "the replacing file loads");
    CHECK(lre_trainer_steps(u) == 9, "the replacing file holds the new state (9 steps)",
          "loaded %lld steps", (long long)lre_trainer_steps(u));
    CHECK(no_tmp_left(tpath("")), "no temporary file left after a save", "a .lre-tmp- file remains");

    /* A save that fails while writing (the process's file size limit):
     * LRE_EIO, the old file intact, no temporary file. */
    write_all(p, old, n1);
    struct rlimit lim, small;
    /* SIGXFSZ stays at what the runner gave (its default: kill): the
     * writer keeps it from ending the process (test_files checks that in
     * a child with the default action) */
    if (getrlimit(RLIMIT_FSIZE, &lim) == 0) {
        small = lim;
        small.rlim_cur = 256;
        if (setrlimit(RLIMIT_FSIZE, &small) == 0) {
            s = lre_trainer_save(t, p);
            setrlimit(RLIMIT_FSIZE, &lim);
            chk_err(ctx, s, LRE_EIO, "save failing mid-write: LRE_EIO naming the path", p,
                    strerror(EFBIG), NULL);
            size_t n2;
            uint8_t *now = read_all(p, &n2);
            CHECK(now && n2 == n1 && memcmp(now, old, n1) == 0,
                  "save failing mid-write leaves the old file intact", "%zu vs %zu bytes", n2, n1);
            free(now);
            CHECK(no_tmp_left(tpath("")), "save failing mid-write removes its temporary file",
                  "a .lre-tmp- file remains");
        } else {
            chk_fail("save failing mid-write", "setrlimit: %s", strerror(errno));
        }
    }

    /* The rename fails (the path is a directory): LRE_EIO, no temp left. */
    p = tpath("a-directory");
    mkdir(p, 0755);
    s = lre_trainer_save(t, p);
    chk_err(ctx, s, LRE_EIO, "save onto a directory: LRE_EIO naming it a folder", p, "folder",
            NULL);
    struct stat st;
    int left = !no_tmp_left(tpath(""));
    CHECK(!left && stat(p, &st) == 0 && S_ISDIR(st.st_mode),
          "save onto a directory removes its temporary file and keeps the directory",
          "temp %s, directory %s", left ? "left" : "gone", stat(p, &st) == 0 ? "kept" : "gone");
    rmdir(p);

    s = lre_trainer_save(t, "");
    chk_err(ctx, s, LRE_EINVAL, "save to an empty path: LRE_EINVAL", "empty", NULL);

    free(old);
    lre_trainer_release(u);
    lre_trainer_release(t);
}

/* --------------------------------------------------- the parser alone */

static uint8_t *mkfile_n(const char *header, size_t hn, const uint8_t *data, size_t dn,
                         size_t *n)
{
    *n = 8 + hn + dn;
    uint8_t *b = malloc(*n ? *n : 1);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hn >> (8 * i));
    memcpy(b + 8, header, hn);
    if (dn) memcpy(b + 8 + hn, data, dn);
    return b;
}

static uint8_t *mkfile(const char *header, const uint8_t *data, size_t dn, size_t *n)
{
    return mkfile_n(header, strlen(header), data, dn, n);
}

/* Parses a crafted file (header of hn bytes, 0 = strlen, then dn zero
 * bytes of data) and expects `want` with `sub` in the message. */
static void parse_case_n(lre_ctx *ctx, const char *name, const char *header, size_t hn,
                         size_t dn, lre_status want, const char *sub)
{
    uint8_t data[64] = {0};
    size_t n;
    uint8_t *b = mkfile_n(header, hn ? hn : strlen(header), data, dn, &n);
    lre_st_file f;
    lre_status s = lre_safetensors_parse(ctx, b, n, &f);
    if (want == LRE_OK)
        chk_ok(ctx, s, name);
    else
        chk_err(ctx, s, want, name, sub, NULL);
    lre_safetensors_free(&f);
    free(b);
}

static void parse_case(lre_ctx *ctx, const char *name, const char *header, size_t dn,
                       lre_status want, const char *sub)
{
    parse_case_n(ctx, name, header, 0, dn, want, sub);
}

static void test_parser(lre_ctx *ctx)
{
    uint64_t live0 = lre_ctx_bytes_live(ctx);
    parse_case(ctx, "parse: empty object, no data", "{}", 0, LRE_OK, NULL);
    parse_case(ctx, "parse: padded with spaces", "{}      ", 0, LRE_OK, NULL);
    parse_case(ctx, "parse: zero-size tensor",
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]},"
               "\"b\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}", 1, LRE_OK, NULL);
    parse_case(ctx, "parse: null metadata", "{\"__metadata__\":null}", 0, LRE_OK, NULL);
    parse_case(ctx, "parse: data with no tensor", "{}", 4, LRE_EFORMAT, "trailing");
    parse_case(ctx, "parse: first tensor not at 0",
               "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", 4, LRE_EFORMAT,
               "hole");
    parse_case(ctx, "parse: offsets beyond 2^53",
               "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,18446744073709551615]}}",
               0, LRE_EFORMAT, "data_offsets");
    parse_case(ctx, "parse: end before begin",
               "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4, LRE_EFORMAT,
               "before they begin");
    parse_case(ctx, "parse: huge offsets are a truncation",
               "{\"a\":{\"dtype\":\"U8\",\"shape\":[4000000000000],\"data_offsets\":[0,4000000000000]}}",
               0, LRE_EFORMAT, "truncated");
    parse_case(ctx, "parse: shape product overflows",
               "{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296,4294967296],"
               "\"data_offsets\":[0,8]}}", 8, LRE_EFORMAT, "overflows");
    parse_case(ctx, "parse: negative dimension",
               "{\"a\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0, LRE_EFORMAT,
               "non-negative");
    parse_case(ctx, "parse: fractional offset",
               "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,0.5]}}", 1, LRE_EFORMAT,
               "data_offsets");
    parse_case(ctx, "parse: nine dimensions",
               "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
               LRE_EFORMAT, "dimensions");
    parse_case(ctx, "parse: entry not an object", "{\"a\":[1,2]}", 0, LRE_EFORMAT, "not a JSON object");
    parse_case(ctx, "parse: missing dtype",
               "{\"a\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1, LRE_EFORMAT, "dtype");
    parse_case(ctx, "parse: two __metadata__", "{\"__metadata__\":{},\"__metadata__\":{}}", 0,
               LRE_EFORMAT, "twice");
    parse_case(ctx, "parse: duplicate metadata key",
               "{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, LRE_EFORMAT, "twice");
    parse_case_n(ctx, "parse: NUL in the header", "{\"a\0\":1}", 8, 0, LRE_EFORMAT, "NUL");
    parse_case(ctx, "parse: overlong UTF-8", "{\"\xc0\xaf\":{}}", 0, LRE_EFORMAT, "UTF-8");
    parse_case(ctx, "parse: UTF-8 surrogate", "{\"\xed\xa0\x80\":{}}", 0, LRE_EFORMAT, "UTF-8");
    parse_case(ctx, "parse: valid UTF-8 names accepted",
               "{\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\":{\"dtype\":\"U8\",\"shape\":[1],"
               "\"data_offsets\":[0,1]}}", 1, LRE_OK, NULL);

    /* Deep nesting must not blow the stack. */
    {
        size_t depth = 200000;
        char *h = malloc(depth + 16);
        strcpy(h, "{\"a\":");
        size_t k = strlen(h);
        for (size_t i = 0; i < depth; i++) h[k++] = '[';
        h[k++] = '}';
        h[k] = 0;
        parse_case(ctx, "parse: 200000 nested arrays refused without a crash", h, 0, LRE_EFORMAT,
                   "JSON");
        free(h);
    }

    /* Fewer than 8 bytes, and the lookups on a good file. */
    {
        lre_st_file f;
        uint8_t three[3] = {1, 2, 3};
        chk_err(ctx, lre_safetensors_parse(ctx, three, 3, &f), LRE_EFORMAT,
                "parse: 3 bytes refused", "too short", NULL);
        lre_safetensors_free(&f);
        uint8_t data[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
        size_t n;
        uint8_t *b = mkfile("{\"z\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[4,12]},"
                            "\"__metadata__\":{\"who\":\"me\"},"
                            "\"a\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[0,4]}}   ",
                            data, 12, &n);
        lre_status s = lre_safetensors_parse(ctx, b, n, &f);
        chk_ok(ctx, s, "parse: a small file out of name order");
        if (s == LRE_OK) {
            const lre_st_tensor *z = lre_safetensors_find(&f, "z"), *a = lre_safetensors_find(&f, "a");
            size_t hn = (size_t)le64(b);
            CHECK(z && a && z->data == b + 8 + hn + 4 && a->data == b + 8 + hn &&
                      z->numel == 2 && a->dtype_size == 2 && !lre_safetensors_find(&f, "q") &&
                      f.has_metadata && lre_safetensors_meta(&f, "who") &&
                      !strcmp(lre_safetensors_meta(&f, "who"), "me") &&
                      !lre_safetensors_meta(&f, "what"),
                  "parse: find and meta lookups", "lookups wrong");
        }
        lre_safetensors_free(&f);
        lre_safetensors_free(&f); /* twice is harmless */

        /* Mutations of that file: any outcome but a crash (ASan watches). */
        chk_rng r = {2024};
        int oks = 0, errs = 0, other = 0;
        uint8_t *m = malloc(n + 8);
        for (int it = 0; it < 3000; it++) {
            memcpy(m, b, n);
            size_t mn = n;
            int edits = 1 + (int)(chk_u64(&r) % 4);
            for (int k = 0; k < edits; k++) {
                uint64_t x = chk_u64(&r);
                size_t at = (size_t)(x >> 8) % mn;
                switch (x % 4) {
                case 0: m[at] = (uint8_t)(x >> 40); break;
                case 1: m[at] ^= (uint8_t)(1u << ((x >> 40) % 8)); break;
                case 2: mn = at ? at : 1; break;
                default: m[at] = "{}[]\",:0123456789e-. "[(x >> 40) % 21]; break;
                }
            }
            s = lre_safetensors_parse(ctx, m, mn, &f);
            if (s == LRE_OK) oks++;
            else if (s == LRE_EFORMAT) errs++;
            else other++;
            lre_safetensors_free(&f);
        }
        CHECK(other == 0 && oks + errs == 3000,
              "parse: 3000 random mutations give OK or LRE_EFORMAT, never a crash",
              "%d ok, %d format errors, %d other", oks, errs, other);
        free(m);
        free(b);
    }
    CHECK(lre_ctx_bytes_live(ctx) == live0, "parse: frees everything it allocates",
          "bytes live %llu before, %llu after", (unsigned long long)live0,
          (unsigned long long)lre_ctx_bytes_live(ctx));
}

/* --------------------------------------------------------------- main */

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/lre_st_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) chk_fatal("mkdtemp", "%s: %s", g_dir, strerror(errno));

    lre_ctx *ctx = chk_ctx(1);
    lre_dataset *ds = make_data(ctx);

    lre_optim_config sgd = lre_optim_sgd_default();
    sgd.momentum = 0.9f;
    sgd.weight_decay = 1e-3f;
    lre_optim_config nesterov = sgd;
    nesterov.nesterov = 1;
    nesterov.weight_decay = 0;
    lre_optim_config adam = lre_optim_adam_default();
    adam.weight_decay = 1e-2f;
    lre_optim_config adamw = lre_optim_adamw_default();

    /* 50 rows in batches of 8: 7 batches per epoch; 9 steps cross an epoch,
     * the 12 after the load cross another. */
    test_roundtrip(ctx, ds, "sgd-momentum", sgd, 1, 9, 12);
    test_roundtrip(ctx, ds, "sgd-nesterov", nesterov, 1, 5, 10);
    test_roundtrip(ctx, ds, "adam-l2", adam, 1, 9, 12);
    test_roundtrip(ctx, ds, "adamw", adamw, 1, 7, 12);
    test_roundtrip(ctx, ds, "adamw-accum2", adamw, 2, 4, 8);
    test_roundtrip(ctx, ds, "adam-at-step-0", adam, 1, 0, 5);
    lre_optim_config sgd_plain = lre_optim_sgd_default();
    sgd_plain.weight_decay = 1e-3f;
    test_roundtrip(ctx, ds, "sgd-plain", sgd_plain, 1, 9, 12);
    test_file_layout(ctx, ds);
    test_names(ctx, ds);
    /* Version-1 files (written by hand as version 1 wrote them). */
    test_v1_roundtrip(ctx, ds, "sgd-momentum", sgd, 9, 12, 0);
    test_v1_roundtrip(ctx, ds, "sgd-momentum-state2-junk", sgd, 9, 12, 1);
    test_v1_roundtrip(ctx, ds, "sgd-plain-states-junk", sgd_plain, 9, 12, 1);
    test_v1_roundtrip(ctx, ds, "adam-l2", adam, 9, 12, 0);
    test_v1_roundtrip(ctx, ds, "adamw", adamw, 7, 12, 0);
    test_sgd_momentum_mismatch(ctx, ds);
    test_refusals(ctx, ds);
    test_save_failures(ctx, ds);
    test_parser(ctx);

    lre_dataset_release(ds);
    lre_ctx_release(ctx);

    /* Clean up the scratch directory (only our own files are in it). */
    const char *files[] = {"layout.safetensors", "good.safetensors", "bad.safetensors",
                           "cut.safetensors", "arch.safetensors", "sgd.safetensors",
                           "replace.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) remove(tpath(files[i]));
    const char *rts[] = {"sgd-momentum", "sgd-nesterov", "adam-l2", "adamw", "adamw-accum2",
                         "adam-at-step-0", "sgd-plain"};
    for (size_t i = 0; i < sizeof rts / sizeof rts[0]; i++)
        remove(tpath(chk_name("rt_%s.safetensors", rts[i])));
    if (rmdir(g_dir) != 0) printf("# note: could not remove %s: %s\n", g_dir, strerror(errno));
    return chk_done("test_safetensors");
}
