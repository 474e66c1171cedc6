/*
 * fuzz_idx.c — libFuzzer target for the IDX parser: an images file and a
 * labels file from memory (layout: u16 split, images bytes, labels bytes).
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *im, *lb;
    size_t ni, nl;
    fuzz_split2(data, size, &im, &ni, &lb, &nl);
    lre_ctx *ctx = fuzz_ctx();
    lre_dataset *d = NULL;
    lre_status s = lre_dataset_idx_mem(ctx, &d, im, ni, lb, nl);
    fuzz_check_status(ctx, s, d, "<images>", "<labels>");
    if (d) fuzz_workout(d);
    lre_dataset_release(d);
    fuzz_done(ctx);
    return 0;
}
