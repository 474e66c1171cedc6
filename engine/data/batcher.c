/*
 * batcher.c — the order of a trainer's batches: a seeded Fisher–Yates
 * permutation per epoch (Philox stream (seed, epoch)) and a cursor. Also
 * what dataset:split shuffles with.
 */
#include <string.h>

#include "data/data.h"

void lre_batcher_permute(lre_batcher *b)
{
    for (int64_t i = 0; i < b->n; i++) b->perm[i] = i;
    if (!b->shuffle) return;
    /* Epoch e draws from the Philox stream of `seed` starting at block e·2^32:
     * each epoch's order is independent of how many draws earlier epochs made. */
    lre_rng r;
    lre_rng_seed(&r, b->seed);
    r.counter = (uint64_t)b->epoch << 32;
    for (int64_t i = b->n - 1; i > 0; i--) {
        int64_t j = (int64_t)lre_rng_below(&r, (uint32_t)(i + 1));
        int64_t tmp = b->perm[i];
        b->perm[i] = b->perm[j];
        b->perm[j] = tmp;
    }
}

void lre_batcher_next(lre_batcher *b, int64_t bs, int64_t *idx, int64_t *count)
{
    int64_t left = b->n - b->cursor;
    if (left <= 0 || (b->drop_last && left < bs)) {
        b->epoch++;
        b->cursor = 0;
        lre_batcher_permute(b);
        left = b->n;
    }
    int64_t k = left < bs ? left : bs;
    memcpy(idx, b->perm + b->cursor, (size_t)k * sizeof *idx);
    b->cursor += k;
    *count = k;
}
