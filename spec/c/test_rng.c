/*
 * test_rng.c — the engine's Philox4x32-10 generator.
 *
 * Known answers: Random123's tests/kat_vectors (DEShawResearch/random123)
 * give three philox4x32 10 lines (counter[4] key[2] -> out[4]):
 *   00000000 00000000 00000000 00000000  00000000 00000000 -> 6627e8d5 e169c58d bc57ac4c 9b00dbd8
 *   ffffffff ffffffff ffffffff ffffffff  ffffffff ffffffff -> 408f276d 41c83b0e a20bc7c6 6d5451fd
 *   243f6a88 85a308d3 13198a2e 03707344  a4093822 299f31d0 -> d16cfe09 94fdcceb 5001e420 24126ea1
 * lre_philox4x32_10(key, counter) fixes counter words 2 and 3 at zero, so
 * only the first line reaches the engine directly. The others check an
 * independent reference written here from the published round function
 * (Salmon et al., SC'11), and that reference is then compared with the
 * engine over many (key, counter) pairs, which pins the word order of the
 * key and counter packing: key = key0 | key1 << 32, counter = ctr0 | ctr1 << 32.
 *
 * Then the stream: seeding reproducibility, the documented state (the next
 * block is philox(key, counter), words handed out in order), uniform floats
 * in [0, 1) with 24 bits, and below(n) without modulo bias.
 */
#include "check.h"

/* ------------------------------------------------ independent reference */

static void ref_philox(const uint32_t ctr_in[4], const uint32_t key_in[2], uint32_t out[4])
{
    uint32_t c[4] = {ctr_in[0], ctr_in[1], ctr_in[2], ctr_in[3]};
    uint32_t k[2] = {key_in[0], key_in[1]};
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k[0] += 0x9E3779B9u; /* Weyl key schedule */
            k[1] += 0xBB67AE85u;
        }
        uint64_t p0 = (uint64_t)0xD2511F53u * c[0];
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c[2];
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        uint32_t n0 = hi1 ^ c[1] ^ k[0], n2 = hi0 ^ c[3] ^ k[1];
        c[0] = n0;
        c[1] = lo1;
        c[2] = n2;
        c[3] = lo0;
    }
    memcpy(out, c, sizeof c);
}

static int same4(const uint32_t a[4], const uint32_t b[4])
{
    return memcmp(a, b, 16) == 0;
}

static void test_kat(void)
{
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
         0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
         0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int v = 0; v < 3; v++) {
        uint32_t out[4];
        ref_philox(&kat[v][0], &kat[v][4], out);
        CHECK(same4(out, &kat[v][6]), chk_name("reference philox4x32_10 KAT line %d", v + 1),
              "test's own reference: expected %08x %08x %08x %08x got %08x %08x %08x %08x",
              kat[v][6], kat[v][7], kat[v][8], kat[v][9], out[0], out[1], out[2], out[3]);
    }

    uint32_t e[4];
    lre_philox4x32_10(0, 0, e);
    CHECK(same4(e, &kat[0][6]), "lre_philox4x32_10 KAT counter 0 key 0",
          "expected 6627e8d5 e169c58d bc57ac4c 9b00dbd8 got %08x %08x %08x %08x", e[0], e[1], e[2],
          e[3]);
}

static void test_engine_vs_reference(void)
{
    /* Edge words, the KAT's key and low counter words, and a sweep. */
    static const uint64_t keys[] = {0, 1, 0xffffffffULL, 0xffffffff00000000ULL,
                                    0xffffffffffffffffULL, 0x299f31d0a4093822ULL,
                                    0x0123456789abcdefULL};
    static const uint64_t ctrs[] = {0, 1, 2, 0xffffffffULL, 0x100000000ULL,
                                    0xffffffffffffffffULL, 0x85a308d3243f6a88ULL};
    int bad = 0, total = 0;
    char first[256] = "";
    chk_rng g = {42};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0] + 20; i++) {
        for (size_t j = 0; j < sizeof ctrs / sizeof ctrs[0] + 20; j++) {
            uint64_t key = i < sizeof keys / sizeof keys[0] ? keys[i] : chk_u64(&g);
            uint64_t ctr = j < sizeof ctrs / sizeof ctrs[0] ? ctrs[j] : chk_u64(&g);
            uint32_t c[4] = {(uint32_t)ctr, (uint32_t)(ctr >> 32), 0, 0};
            uint32_t k[2] = {(uint32_t)key, (uint32_t)(key >> 32)};
            uint32_t want[4], got[4];
            ref_philox(c, k, want);
            lre_philox4x32_10(key, ctr, got);
            total++;
            if (!same4(want, got) && bad++ == 0)
                snprintf(first, sizeof first,
                         "key %016llx counter %016llx: expected %08x %08x %08x %08x got %08x "
                         "%08x %08x %08x",
                         (unsigned long long)key, (unsigned long long)ctr, want[0], want[1],
                         want[2], want[3], got[0], got[1], got[2], got[3]);
        }
    }
    CHECK(bad == 0, "lre_philox4x32_10 equals the reference (key/counter as lo32,hi32)",
          "%d of %d blocks differ; first: %s", bad, total, first);
}

/* ------------------------------------------------------------- stream */

static void test_stream(void)
{
    lre_rng a, b;
    enum { N = 1000 };
    uint32_t xa[N], xb[N];

    lre_rng_seed(&a, 12345);
    lre_rng_seed(&b, 12345);
    for (int i = 0; i < N; i++) {
        xa[i] = lre_rng_u32(&a);
        xb[i] = lre_rng_u32(&b);
    }
    CHECK(memcmp(xa, xb, sizeof xa) == 0, "same seed gives the same u32 stream",
          "two generators seeded 12345 disagree");

    lre_rng_seed(&b, 12346);
    int same = 0;
    for (int i = 0; i < N; i++) same += lre_rng_u32(&b) == xa[i];
    CHECK(same < 5, "different seeds give different streams",
          "seeds 12345 and 12346 agree on %d of %d words", same, N);

    /* Reseeding restarts the stream. */
    lre_rng_seed(&a, 12345);
    int restart = 1;
    for (int i = 0; i < N; i++) restart &= lre_rng_u32(&a) == xa[i];
    CHECK(restart, "reseeding restarts the stream", "stream after reseeding differs");

    /* The documented state: the next block is philox(key, counter), its
     * words handed out in order, then the counter moves on. */
    lre_rng_seed(&a, 777);
    lre_rng s0 = a;
    int bad = -1;
    uint32_t want[4] = {0}, got = 0;
    for (int blk = 0; blk < 8 && bad < 0; blk++) {
        lre_philox4x32_10(s0.key, s0.counter + (uint64_t)blk, want);
        for (int w = 0; w < 4; w++)
            if ((got = lre_rng_u32(&a)) != want[w]) {
                bad = blk * 4 + w;
                break;
            }
    }
    CHECK(s0.used == 4 && bad < 0, "u32 stream is philox(key, counter + i) word by word",
          "after seeding used=%d (want 4, empty buffer); word %d: expected %08x got %08x", s0.used,
          bad, bad >= 0 ? want[bad % 4] : 0, got);

    /* Copying the struct copies the stream (what snapshots rely on). */
    lre_rng c = a;
    int copy_ok = 1;
    for (int i = 0; i < 37; i++) copy_ok &= lre_rng_u32(&c) == lre_rng_u32(&a);
    CHECK(copy_ok, "a copied lre_rng continues identically", "copy diverged");
}

static void test_uniform(void)
{
    lre_rng r;
    lre_rng_seed(&r, 2024);
    const int n = 1000000;
    double sum = 0, sum2 = 0;
    float lo = 1, hi = 0;
    int out_of_range = 0, not_24bit = 0;
    for (int i = 0; i < n; i++) {
        float u = lre_rng_uniform(&r);
        if (!(u >= 0.0f && u < 1.0f)) out_of_range++;
        float scaled = u * 16777216.0f; /* exact for multiples of 2^-24 */
        if (scaled != floorf(scaled)) not_24bit++;
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
        sum += u;
        sum2 += (double)u * u;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    CHECK(out_of_range == 0, "uniform in [0, 1)", "%d of %d draws outside [0,1)", out_of_range, n);
    CHECK(not_24bit == 0, "uniform is a multiple of 2^-24", "%d of %d draws are not k/2^24",
          not_24bit, n);
    /* σ of the mean is 0.289/√n = 2.9e-4; 6σ. */
    CHECK(fabs(mean - 0.5) < 1.8e-3 && fabs(var - 1.0 / 12) < 1.5e-3,
          "uniform mean 1/2 and variance 1/12",
          "mean %.6f (want 0.5 ± 1.8e-3), variance %.6f (want 0.083333 ± 1.5e-3)", mean, var);
    CHECK(lo < 1e-5f && hi > 1 - 1e-5f, "uniform covers [0, 1)", "min %.9g max %.9g over %d draws",
          (double)lo, (double)hi, n);
}

static void test_below(void)
{
    lre_rng r;
    lre_rng_seed(&r, 99);

    int bad1 = 0;
    for (int i = 0; i < 1000; i++) bad1 += lre_rng_below(&r, 1) != 0;
    CHECK(bad1 == 0, "below(1) is always 0", "%d of 1000 draws non-zero", bad1);

    /* Histogram over 10 bins: chi-square with 9 degrees of freedom;
     * 27.88 is the 0.999 quantile. */
    enum { BINS = 10 };
    const int n = 200000;
    int hist[BINS] = {0}, outside = 0;
    for (int i = 0; i < n; i++) {
        uint32_t v = lre_rng_below(&r, BINS);
        if (v >= BINS)
            outside++;
        else
            hist[v]++;
    }
    double chi2 = 0, e = (double)n / BINS;
    for (int b = 0; b < BINS; b++) chi2 += (hist[b] - e) * (hist[b] - e) / e;
    CHECK(outside == 0, "below(10) < 10", "%d of %d draws >= 10", outside, n);
    CHECK(chi2 < 27.88, "below(10) histogram is uniform (chi2, 9 dof, p=0.001)",
          "chi2 = %.2f >= 27.88; counts %d %d %d %d %d %d %d %d %d %d", chi2, hist[0], hist[1],
          hist[2], hist[3], hist[4], hist[5], hist[6], hist[7], hist[8], hist[9]);

    /* n = 3·2^30: u32 % n would put values below 2^30 twice as often
     * (probability 1/2 instead of 1/3). */
    const uint32_t big = 0xC0000000u;
    const int m = 60000;
    int low = 0, over = 0;
    for (int i = 0; i < m; i++) {
        uint32_t v = lre_rng_below(&r, big);
        if (v >= big) over++;
        if (v < 0x40000000u) low++;
    }
    double frac = (double)low / m; /* σ = 0.0019 */
    CHECK(over == 0 && fabs(frac - 1.0 / 3) < 0.012, "below(3*2^30) has no modulo bias",
          "fraction below 2^30 is %.4f (unbiased 0.3333, modulo 0.5), %d draws >= n", frac, over);

    /* Largest n. */
    int any_high = 0;
    for (int i = 0; i < 64; i++) any_high |= lre_rng_below(&r, 0xffffffffu) >= 0x80000000u;
    CHECK(any_high, "below(2^32-1) reaches the upper half", "64 draws all below 2^31");

    lre_rng a, b;
    lre_rng_seed(&a, 5);
    lre_rng_seed(&b, 5);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= lre_rng_below(&a, 1000) == lre_rng_below(&b, 1000);
    CHECK(same, "below is reproducible from the seed", "two streams seeded 5 disagree");
}

int main(void)
{
    test_kat();
    test_engine_vs_reference();
    test_stream();
    test_uniform();
    test_below();
    return chk_done("test_rng");
}
