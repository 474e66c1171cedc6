/*
 * rng.c — Philox4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers:
 * as easy as 1, 2, 3", SC'11). Counter based: block i of stream `key` is a
 * pure function of (key, i), so the CPU and a GPU kernel draw the same
 * numbers, and the state is two integers that snapshot trivially.
 */
#include "core/core.h"
#include "backend/elementwise.h"

void lre_philox4x32_10(uint64_t key, uint64_t counter, uint32_t out[4])
{
    lre_philox(key, counter, out); /* backend/elementwise.h: the kernels' very lines */
}

void lre_rng_seed(lre_rng *r, uint64_t seed)
{
    r->key = seed;
    r->counter = 0;
    r->used = 4;
    r->buf[0] = r->buf[1] = r->buf[2] = r->buf[3] = 0;
}

uint32_t lre_rng_u32(lre_rng *r)
{
    if (r->used >= 4) {
        lre_philox4x32_10(r->key, r->counter++, r->buf);
        r->used = 0;
    }
    return r->buf[r->used++];
}

float lre_rng_uniform(lre_rng *r)
{
    return (float)(lre_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

uint32_t lre_rng_below(lre_rng *r, uint32_t n)
{
    /* Lemire's multiply-shift with rejection: unbiased, one draw usually. */
    uint64_t m = (uint64_t)lre_rng_u32(r) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (uint64_t)lre_rng_u32(r) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}
