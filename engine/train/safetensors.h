/*
 * safetensors.h — the engine's safetensors parser (private to the engine;
 * the fuzz target includes it).
 *
 * The format (github.com/huggingface/safetensors): 8 bytes N (u64, little
 * endian), N bytes of UTF-8 JSON starting with '{' (trailing whitespace
 * allowed, writers pad with spaces), then the data section. Each header
 * entry is "name": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}
 * with b, e relative to the data section; "__metadata__" is an optional
 * object of string → string.
 *
 * lre_safetensors_parse checks everything the reference implementation
 * checks, with checked arithmetic and no read outside [buf, buf + n), so it
 * can be fed any bytes (it is the target of the fuzz harness):
 *   - N ≤ 100 MiB and 8 + N ≤ n; the header starts with '{', is valid
 *     UTF-8 without NUL bytes, is one JSON object followed only by
 *     whitespace;
 *   - every entry has a known dtype, a shape of at most LRE_ST_MAX_DIMS
 *     non-negative integers, data_offsets [b, e] with b ≤ e and
 *     e − b = Π shape × dtype size; names are unique;
 *   - sorted by offset, the tensors tile the data section exactly: the
 *     first begins at 0, each begins where the previous ends (no hole, no
 *     overlap), the last ends at the end of the file (no truncation, no
 *     trailing bytes).
 * It does not know about trainers: lre_trainer_load (checkpoint.c) parses,
 * then checks the result against the trainer.
 *
 * Messages left in the context name the fault and the tensor but not the
 * file (the caller knows the path and prefixes it).
 */
#ifndef LRE_SAFETENSORS_H
#define LRE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include <string.h>

#include "lrengine.h"

#define LRE_ST_MAX_HEADER ((uint64_t)100 * 1024 * 1024) /* as the reference */
#define LRE_ST_MAX_DIMS 8

typedef struct lre_st_tensor {
    const char *name;          /* owned by the lre_st_file */
    const char *dtype;         /* "F32", ... (a static string) */
    size_t dtype_size;         /* bytes per element */
    int ndim;
    uint64_t shape[LRE_ST_MAX_DIMS];
    uint64_t numel;
    uint64_t begin, end;       /* byte offsets in the data section */
    const uint8_t *data;       /* points into the parsed buffer (begin) */
} lre_st_tensor;

typedef struct lre_st_meta {
    const char *key, *value;   /* owned by the lre_st_file */
} lre_st_meta;

typedef struct lre_st_file {
    lre_ctx *ctx;              /* not retained; the allocator of the arrays */
    uint64_t header_len;       /* N */
    const uint8_t *data;       /* the data section inside the buffer */
    size_t data_len;
    size_t n_tensors;
    lre_st_tensor *tensors;    /* in header order */
    const lre_st_tensor **by_name; /* the tensors sorted by name */
    int has_metadata;          /* "__metadata__" present (and not null) */
    size_t n_meta;
    lre_st_meta *meta;         /* in header order */
    const lre_st_meta **meta_by_key; /* sorted by key */
    /* private */
    void *json;                /* the cJSON tree that owns the strings */
    char *text;                /* NUL-terminated copy of the header */
    size_t text_size;
} lre_st_file;

/* Parses and checks buf[0..n) as a safetensors file. On success *out
 * describes it (its data pointers point into buf, which must outlive it) and
 * must be freed with lre_safetensors_free; on failure *out is left empty
 * (freeing it is harmless) and the context's message names the fault:
 * LRE_EFORMAT for a malformed file, LRE_ENOMEM when memory ran out. */
lre_status lre_safetensors_parse(lre_ctx *ctx, const uint8_t *buf, size_t n,
                                 lre_st_file *out);
void lre_safetensors_free(lre_st_file *f);

/* The tensor called `name`, or NULL. O(log n). */
const lre_st_tensor *lre_safetensors_find(const lre_st_file *f, const char *name);
/* The metadata value for `key`, or NULL. */
const char *lre_safetensors_meta(const lre_st_file *f, const char *key);

/* The size in bytes of a safetensors dtype name ("F32" → 4), 0 if unknown
 * (sub-byte types such as F4 count as unknown). */
size_t lre_safetensors_dtype_size(const char *dtype);

/* "[2,3]": a shape for messages. */
const char *lre_st_shape_str(char *buf, size_t n, int ndim, const uint64_t *shape);

/* Little-endian fields and checked products, shared by the parser and the
 * checkpoint writer/reader. */
static inline uint64_t lre_st_get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static inline void lre_st_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline float lre_st_get_f32(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* *r = a·b; 0 when it overflows. */
static inline int lre_st_mul_u64(uint64_t a, uint64_t b, uint64_t *r)
{
    if (a != 0 && b > UINT64_MAX / a) return 0;
    *r = a * b;
    return 1;
}

#endif /* LRE_SAFETENSORS_H */
