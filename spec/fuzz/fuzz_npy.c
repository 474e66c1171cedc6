/*
 * fuzz_npy.c — libFuzzer target for the NPY parser: a features file and a
 * labels file from memory (layout: u16 split, features bytes, labels bytes).
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *f, *l;
    size_t nf, nl;
    fuzz_split2(data, size, &f, &nf, &l, &nl);
    lre_ctx *ctx = fuzz_ctx();
    lre_dataset *d = NULL;
    /* the last byte's low bit picks the task: both label paths are fuzzed */
    lre_task task = size && (data[size - 1] & 1) ? LRE_TASK_REGRESSION : LRE_TASK_CLASSIFICATION;
    lre_status s = lre_dataset_npy_mem(ctx, &d, f, nf, l, nl, task);
    fuzz_check_status(ctx, s, d, "<features>", "<labels>");
    if (d) fuzz_workout(d);
    lre_dataset_release(d);
    fuzz_done(ctx);
    return 0;
}
