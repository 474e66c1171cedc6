/*
 * safetensors.c — the safetensors parser (safetensors.h): checks a whole
 * file in memory with checked arithmetic, so it can be fed any bytes (the
 * fuzz target spec/fuzz/fuzz_safetensors.c). A trainer's checkpoint on disk
 * (checkpoint.c) is written and read through it.
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

#include "core/core.h"

/* ------------------------------------------------------------ helpers */

/* A JSON number that is an integer in [0, 2^53] (exactly representable). */
static int json_u64(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0.0) || d > 9007199254740992.0) return 0;
    uint64_t u = (uint64_t)d;
    if ((double)u != d) return 0;
    *out = u;
    return 1;
}

/* Strict UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
 * Returns the offset of the first bad byte, or n when all is well. */
static size_t utf8_check(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else return i;
        if (len > n - i) return i;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += len;
    }
    return n;
}

const char *lre_st_shape_str(char *buf, size_t n, int ndim, const uint64_t *shape)
{
    size_t k = 0;
    buf[0] = '\0';
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%" PRIu64, i ? "," : "", shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

/* The safetensors dtypes of whole bytes; sub-byte ones (F4, F6_*) are not
 * supported and count as unknown. */
static const struct { const char *name; size_t size; } st_dtypes[] = {
    {"BOOL", 1}, {"U8", 1}, {"I8", 1}, {"F8_E5M2", 1}, {"F8_E4M3", 1},
    {"F8_E8M0", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2}, {"BF16", 2},
    {"I32", 4}, {"U32", 4}, {"F32", 4}, {"F64", 8}, {"I64", 8}, {"U64", 8},
    {"C64", 8},
};

static const char *dtype_lookup(const char *name, size_t *size)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(name, st_dtypes[i].name) == 0) {
            *size = st_dtypes[i].size;
            return st_dtypes[i].name;
        }
    *size = 0;
    return NULL;
}

size_t lre_safetensors_dtype_size(const char *dtype)
{
    size_t s = 0;
    if (dtype) dtype_lookup(dtype, &s);
    return s;
}

/* ------------------------------------------------------------- parser */

#define NAMEFMT "%.200s" /* names in messages are cut to keep them readable */

static int cmp_name(const void *a, const void *b)
{
    const lre_st_tensor *x = *(const lre_st_tensor *const *)a;
    const lre_st_tensor *y = *(const lre_st_tensor *const *)b;
    return strcmp(x->name, y->name);
}

static int cmp_key(const void *a, const void *b)
{
    const lre_st_meta *x = *(const lre_st_meta *const *)a;
    const lre_st_meta *y = *(const lre_st_meta *const *)b;
    return strcmp(x->key, y->key);
}

static int cmp_offset(const void *a, const void *b)
{
    const lre_st_tensor *x = *(const lre_st_tensor *const *)a;
    const lre_st_tensor *y = *(const lre_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

void lre_safetensors_free(lre_st_file *f)
{
    if (!f) return;
    if (f->json) cJSON_Delete((cJSON *)f->json);
    if (f->ctx) {
        if (f->text) lre_free(f->ctx, f->text, f->text_size);
        if (f->tensors) lre_free(f->ctx, f->tensors, f->n_tensors * sizeof *f->tensors);
        if (f->by_name) lre_free(f->ctx, (void *)f->by_name, f->n_tensors * sizeof *f->by_name);
        if (f->meta) lre_free(f->ctx, f->meta, f->n_meta * sizeof *f->meta);
        if (f->meta_by_key)
            lre_free(f->ctx, (void *)f->meta_by_key, f->n_meta * sizeof *f->meta_by_key);
    }
    lre_ctx *ctx = f->ctx;
    memset(f, 0, sizeof *f);
    f->ctx = ctx;
}

static lre_status parse_metadata(lre_ctx *ctx, const cJSON *m, lre_st_file *out)
{
    if (cJSON_IsNull(m)) return LRE_OK; /* serde's Option: null means none */
    if (!cJSON_IsObject(m))
        return lre_fail(ctx, LRE_EFORMAT, "__metadata__ is not a JSON object");
    out->has_metadata = 1;
    size_t n = 0;
    for (const cJSON *it = m->child; it; it = it->next) n++;
    if (n == 0) return LRE_OK;
    out->meta = lre_malloc(ctx, n * sizeof *out->meta, "safetensors metadata");
    if (!out->meta) return LRE_ENOMEM;
    out->meta_by_key = lre_malloc(ctx, n * sizeof *out->meta_by_key, "safetensors metadata");
    if (!out->meta_by_key) {
        lre_free(ctx, out->meta, n * sizeof *out->meta);
        out->meta = NULL;
        return LRE_ENOMEM;
    }
    out->n_meta = n;
    size_t i = 0;
    for (const cJSON *it = m->child; it; it = it->next, i++) {
        if (!it->string)
            return lre_fail(ctx, LRE_EFORMAT, "__metadata__ has an entry without a key");
        if (!cJSON_IsString(it) || !it->valuestring)
            return lre_fail(ctx, LRE_EFORMAT,
                            "__metadata__ value of " NAMEFMT " is not a string", it->string);
        out->meta[i].key = it->string;
        out->meta[i].value = it->valuestring;
        out->meta_by_key[i] = &out->meta[i];
    }
    qsort((void *)out->meta_by_key, n, sizeof *out->meta_by_key, cmp_key);
    for (i = 1; i < n; i++)
        if (strcmp(out->meta_by_key[i - 1]->key, out->meta_by_key[i]->key) == 0)
            return lre_fail(ctx, LRE_EFORMAT, "__metadata__ key " NAMEFMT " appears twice",
                            out->meta_by_key[i]->key);
    return LRE_OK;
}

static lre_status parse_tensor(lre_ctx *ctx, const cJSON *e, lre_st_tensor *t)
{
    const char *name = e->string;
    t->name = name;
    if (!cJSON_IsObject(e))
        return lre_fail(ctx, LRE_EFORMAT, "tensor " NAMEFMT ": its entry is not a JSON object", name);

    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!cJSON_IsString(dt) || !dt->valuestring)
        return lre_fail(ctx, LRE_EFORMAT, "tensor " NAMEFMT ": no \"dtype\" string", name);
    t->dtype = dtype_lookup(dt->valuestring, &t->dtype_size);
    if (!t->dtype)
        return lre_fail(ctx, LRE_EFORMAT, "tensor " NAMEFMT ": unknown dtype \"%.32s\"", name,
                        dt->valuestring);

    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    if (!cJSON_IsArray(sh))
        return lre_fail(ctx, LRE_EFORMAT, "tensor " NAMEFMT ": no \"shape\" array", name);
    int nd = 0;
    uint64_t numel = 1;
    for (const cJSON *d = sh->child; d; d = d->next) {
        if (nd == LRE_ST_MAX_DIMS)
            return lre_fail(ctx, LRE_EFORMAT,
                            "tensor " NAMEFMT ": more than %d dimensions", name, LRE_ST_MAX_DIMS);
        if (!json_u64(d, &t->shape[nd]))
            return lre_fail(ctx, LRE_EFORMAT,
                            "tensor " NAMEFMT ": shape dimension %d is not a non-negative integer",
                            name, nd);
        if (!lre_st_mul_u64(numel, t->shape[nd], &numel))
            return lre_fail(ctx, LRE_EFORMAT, "tensor " NAMEFMT ": shape overflows", name);
        nd++;
    }
    t->ndim = nd;
    t->numel = numel;

    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 ||
        !json_u64(off->child, &t->begin) || !json_u64(off->child->next, &t->end))
        return lre_fail(ctx, LRE_EFORMAT,
                        "tensor " NAMEFMT ": \"data_offsets\" is not [begin, end] of two "
                        "non-negative integers", name);
    if (t->end < t->begin)
        return lre_fail(ctx, LRE_EFORMAT,
                        "tensor " NAMEFMT ": data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin",
                        name, t->begin, t->end);
    uint64_t bytes;
    char sbuf[256];
    if (!lre_st_mul_u64(numel, t->dtype_size, &bytes))
        return lre_fail(ctx, LRE_EFORMAT, "tensor " NAMEFMT ": shape %s overflows", name,
                        lre_st_shape_str(sbuf, sizeof sbuf, nd, t->shape));
    if (bytes != t->end - t->begin)
        return lre_fail(ctx, LRE_EFORMAT,
                        "tensor " NAMEFMT ": shape %s of %s is %" PRIu64 " bytes but data_offsets "
                        "[%" PRIu64 ", %" PRIu64 "] span %" PRIu64,
                        name, lre_st_shape_str(sbuf, sizeof sbuf, nd, t->shape), t->dtype, bytes,
                        t->begin, t->end, t->end - t->begin);
    return LRE_OK;
}

lre_status lre_safetensors_parse(lre_ctx *ctx, const uint8_t *buf, size_t n, lre_st_file *out)
{
    lre_status s;
    if (!out) return lre_fail(ctx, LRE_EINVAL, "safetensors parse: out is NULL");
    memset(out, 0, sizeof *out);
    out->ctx = ctx;
    if (!buf && n > 0) return lre_fail(ctx, LRE_EINVAL, "safetensors parse: buf is NULL");

    if (n < 8)
        return lre_fail(ctx, LRE_EFORMAT,
                        "the file is %zu bytes, too short for the 8-byte header length", n);
    uint64_t hl = lre_st_get_le64(buf);
    if (hl > LRE_ST_MAX_HEADER)
        return lre_fail(ctx, LRE_EFORMAT,
                        "header length %" PRIu64 " is larger than the limit of %" PRIu64 " bytes",
                        hl, LRE_ST_MAX_HEADER);
    if (hl > n - 8)
        return lre_fail(ctx, LRE_EFORMAT,
                        "header length %" PRIu64 " runs past the end of the file (%zu bytes "
                        "after the length): the file is truncated", hl, n - 8);
    if (hl == 0) return lre_fail(ctx, LRE_EFORMAT, "the header is empty");
    const uint8_t *h = buf + 8;
    size_t hn = (size_t)hl;
    if (h[0] != '{')
        return lre_fail(ctx, LRE_EFORMAT, "the header does not start with '{'");
    const uint8_t *nul = memchr(h, 0, hn);
    if (nul)
        return lre_fail(ctx, LRE_EFORMAT, "the header has a NUL byte at header byte %zu",
                        (size_t)(nul - h));
    size_t bad = utf8_check(h, hn);
    if (bad != hn)
        return lre_fail(ctx, LRE_EFORMAT, "the header is not valid UTF-8 (header byte %zu)", bad);

    /* cJSON gets a NUL-terminated copy, so even a stray read past the given
     * length stays inside our buffer. */
    out->text_size = hn + 1;
    out->text = lre_malloc(ctx, out->text_size, "safetensors header");
    if (!out->text) { out->text_size = 0; return LRE_ENOMEM; }
    memcpy(out->text, h, hn);
    out->text[hn] = '\0';

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(out->text, hn, &end, 0);
    if (!root) {
        size_t pos = (end && end >= out->text && end <= out->text + hn) ? (size_t)(end - out->text) : 0;
        lre_safetensors_free(out);
        return lre_fail(ctx, LRE_EFORMAT,
                        "the header is not valid JSON (error near header byte %zu)", pos);
    }
    out->json = root;
    for (const char *p = end ? end : out->text + hn; p < out->text + hn; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            s = lre_fail(ctx, LRE_EFORMAT,
                         "the header has bytes after its JSON object (header byte %zu)",
                         (size_t)(p - out->text));
            goto fail;
        }
    if (!cJSON_IsObject(root)) {
        s = lre_fail(ctx, LRE_EFORMAT, "the header is not a JSON object");
        goto fail;
    }

    size_t count = 0;
    const cJSON *meta = NULL;
    for (const cJSON *it = root->child; it; it = it->next) {
        if (!it->string) {
            s = lre_fail(ctx, LRE_EFORMAT, "the header has an entry without a name");
            goto fail;
        }
        if (strcmp(it->string, "__metadata__") == 0) {
            if (meta) {
                s = lre_fail(ctx, LRE_EFORMAT, "__metadata__ appears twice");
                goto fail;
            }
            meta = it;
        } else {
            count++;
        }
    }
    if (meta && (s = parse_metadata(ctx, meta, out)) != LRE_OK) goto fail;

    if (count > 0) {
        out->tensors = lre_calloc(ctx, count, sizeof *out->tensors, "safetensors index");
        if (!out->tensors) { s = LRE_ENOMEM; goto fail; }
        out->by_name = lre_malloc(ctx, count * sizeof *out->by_name, "safetensors index");
        if (!out->by_name) {
            lre_free(ctx, out->tensors, count * sizeof *out->tensors);
            out->tensors = NULL;
            s = LRE_ENOMEM;
            goto fail;
        }
        out->n_tensors = count;
    }
    size_t i = 0;
    for (const cJSON *it = root->child; it; it = it->next) {
        if (it == meta) continue;
        if ((s = parse_tensor(ctx, it, &out->tensors[i])) != LRE_OK) goto fail;
        out->by_name[i] = &out->tensors[i];
        i++;
    }
    if (count > 1) {
        qsort((void *)out->by_name, count, sizeof *out->by_name, cmp_name);
        for (i = 1; i < count; i++)
            if (strcmp(out->by_name[i - 1]->name, out->by_name[i]->name) == 0) {
                s = lre_fail(ctx, LRE_EFORMAT, "tensor " NAMEFMT " appears twice in the header",
                             out->by_name[i]->name);
                goto fail;
            }
    }

    /* The data section must be tiled exactly. Sort a scratch list by offset
     * (by_name is sorted by name; this one is freed at the end). */
    out->data = h + hn;
    out->data_len = n - 8 - hn;
    uint64_t pos = 0;
    const lre_st_tensor *last = NULL;
    if (count > 0) {
        const lre_st_tensor **ord = lre_malloc(ctx, count * sizeof *ord, "safetensors index");
        if (!ord) { s = LRE_ENOMEM; goto fail; }
        for (i = 0; i < count; i++) ord[i] = &out->tensors[i];
        qsort((void *)ord, count, sizeof *ord, cmp_offset);
        s = LRE_OK;
        for (i = 0; i < count; i++) {
            const lre_st_tensor *t = ord[i];
            if (t->begin < pos) {
                s = lre_fail(ctx, LRE_EFORMAT,
                             "tensors " NAMEFMT " [%" PRIu64 ", %" PRIu64 "] and " NAMEFMT
                             " [%" PRIu64 ", %" PRIu64 "] overlap",
                             last->name, last->begin, last->end, t->name, t->begin, t->end);
                break;
            }
            if (t->begin > pos) {
                if (last)
                    s = lre_fail(ctx, LRE_EFORMAT,
                                 "a hole in the data: tensor " NAMEFMT " begins at byte %" PRIu64
                                 " but tensor " NAMEFMT " ends at byte %" PRIu64,
                                 t->name, t->begin, last->name, pos);
                else
                    s = lre_fail(ctx, LRE_EFORMAT,
                                 "a hole in the data: the first tensor, " NAMEFMT
                                 ", begins at byte %" PRIu64 ", not 0", t->name, t->begin);
                break;
            }
            pos = t->end;
            last = t;
        }
        lre_free(ctx, (void *)ord, count * sizeof *ord);
        if (s != LRE_OK) goto fail;
    }
    if (pos > out->data_len) {
        s = lre_fail(ctx, LRE_EFORMAT,
                     "tensor " NAMEFMT " ends at data byte %" PRIu64 " but the data section has "
                     "only %zu bytes: the file is truncated", last->name, pos, out->data_len);
        goto fail;
    }
    if (pos < out->data_len) {
        s = lre_fail(ctx, LRE_EFORMAT,
                     "%zu trailing bytes after the last tensor (the data section is %zu bytes, "
                     "the tensors end at byte %" PRIu64 ")",
                     (size_t)(out->data_len - pos), out->data_len, pos);
        goto fail;
    }
    for (i = 0; i < count; i++) out->tensors[i].data = out->data + out->tensors[i].begin;
    return LRE_OK;

fail:
    lre_safetensors_free(out);
    return s;
}

const lre_st_tensor *lre_safetensors_find(const lre_st_file *f, const char *name)
{
    if (!f || !name || f->n_tensors == 0) return NULL;
    lre_st_tensor key;
    memset(&key, 0, sizeof key);
    key.name = name;
    const lre_st_tensor *kp = &key;
    const lre_st_tensor *const *r =
        bsearch(&kp, f->by_name, f->n_tensors, sizeof *f->by_name, cmp_name);
    return r ? *r : NULL;
}

const char *lre_safetensors_meta(const lre_st_file *f, const char *key)
{
    if (!f || !key || f->n_meta == 0) return NULL;
    lre_st_meta k = {key, NULL};
    const lre_st_meta *kp = &k;
    const lre_st_meta *const *r =
        bsearch(&kp, f->meta_by_key, f->n_meta, sizeof *f->meta_by_key, cmp_key);
    return r ? (*r)->value : NULL;
}

