/*
 * rng.c — Philox4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers:
 * as easy as 1, 2, 3", SC'11). Counter based: block i of stream `key` is a
 * pure function of (key, i), so the CPU and a GPU kernel draw the same
 * numbers, and the state is two integers that snapshot trivially.
 */
#include "core/core.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void lre_philox4x32_10(uint64_t key, uint64_t counter, uint32_t out[4])
{
    uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
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
