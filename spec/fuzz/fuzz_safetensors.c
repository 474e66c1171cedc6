/*
 * fuzz_safetensors.c — libFuzzer target for the snapshot reader's parser,
 * lre_safetensors_parse (engine/safetensors.h): any bytes, a status, no
 * read outside the buffer, nothing leaked; a successful parse must describe
 * tensors that lie inside the buffer.
 */
#include "fuzz_common.h"
#include "train/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lre_ctx *ctx = fuzz_ctx();
    lre_st_file f;
    memset(&f, 0, sizeof f);
    lre_status s = lre_safetensors_parse(ctx, data, size, &f);
    if (s == LRE_OK) {
        for (size_t i = 0; i < f.n_tensors; i++) {
            const lre_st_tensor *t = &f.tensors[i];
            FUZZ_REQUIRE(t->begin <= t->end && t->end <= f.data_len);
            FUZZ_REQUIRE(t->data >= data && t->data + (t->end - t->begin) <= data + size);
            FUZZ_REQUIRE(lre_safetensors_find(&f, t->name) != NULL);
        }
        for (size_t i = 0; i < f.n_meta; i++)
            FUZZ_REQUIRE(lre_safetensors_meta(&f, f.meta[i].key) != NULL);
    } else {
        FUZZ_REQUIRE(lre_ctx_error(ctx)[0] != 0);
    }
    lre_safetensors_free(&f);
    fuzz_done(ctx);
    return 0;
}
