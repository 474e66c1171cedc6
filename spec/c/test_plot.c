/*
 * test_plot.c — the range-test figure from C (lrengine_plot.h), as an
 * embedder without Lua uses it: each format renders into memory with its
 * signature and size, bad data and options are refused with a status and a
 * message naming the fault, NaN/inf/huge values and a single point draw,
 * and a failed write leaves neither the target nor a temporary file. Runs
 * under ASan/UBSan in `make asan`.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "lrengine_plot.h"

#define N 80

static double lrs[N], raw[N], smooth[N];

static void curve(void)
{
    for (int i = 0; i < N; i++) {
        lrs[i] = 1e-7 * pow(10, 9.0 * i / (N - 1));
        double t = log10(lrs[i]);
        raw[i] = 2.3 - 1.5 / (1 + exp(-(t + 3.5) * 2)) + (t > -1 ? pow(10, (t + 1) * 3) - 1 : 0) +
                 0.02 * sin(i * 1.7);
        smooth[i] = i == 0 ? raw[0] : 0.05 * raw[i] + 0.95 * smooth[i - 1];
    }
}

static lre_plot_data data(const lre_plot_suggestion *s, size_t ns)
{
    lre_plot_data d = lre_plot_data_default();
    d.n = N;
    d.lrs = lrs;
    d.curves[0].label = "training loss";
    d.curves[0].raw = raw;
    d.curves[0].smoothed = smooth;
    d.num_curves = 1;
    d.suggestions = s;
    d.num_suggestions = ns;
    d.stop_reason = "diverged";
    d.title = "test figure";
    return d;
}

static unsigned be32(const unsigned char *p)
{
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

static void test_formats(void)
{
    lre_plot_suggestion s[2] = {{"steepest", lrs[40], 40}, {"valley", lrs[30], 30}};
    lre_plot_data d = data(s, 2);
    char err[256];
    unsigned char *out = NULL;
    size_t len = 0;

    lre_plot_opts o = lre_plot_opts_default();
    o.width = 640;
    o.height = 480;
    lre_status st = lre_plot_render(&d, &o, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_OK && len > 33 && memcmp(out, "\x89PNG\r\n\x1a\n", 8) == 0,
          "png: renders with the PNG signature", "status %d (%s), %zu bytes", st, err, len);
    if (st == LRE_OK && len > 24)
        CHECK(be32(out + 16) == 640 && be32(out + 20) == 480, "png: IHDR says 640x480",
              "got %ux%u", be32(out + 16), be32(out + 20));
    free(out);

    st = lre_plot_render(&d, NULL, LRE_PLOT_PDF, &out, &len, err, sizeof err);
    CHECK(st == LRE_OK && len > 5 && memcmp(out, "%PDF-", 5) == 0, "pdf: starts with %PDF-",
          "status %d (%s)", st, err);
    free(out);

    st = lre_plot_render(&d, NULL, LRE_PLOT_SVG, &out, &len, err, sizeof err);
    int has = 0;
    if (st == LRE_OK) {
        char *text = malloc(len + 1);
        if (text) {
            memcpy(text, out, len);
            text[len] = '\0';
            has = strstr(text, "<svg") && strstr(text, "<desc>") &&
                  strstr(text, "steepest 3.6e-3 (chosen)") && strstr(text, "valley") &&
                  strstr(text, "width=\"432pt\"");
            free(text);
        }
    }
    CHECK(has, "svg: 6 in wide, a <desc> naming the suggestions with their lr",
          "status %d (%s)", st, err);
    free(out);
}

static void test_refusals(void)
{
    char err[256];
    unsigned char *out = NULL;
    size_t len = 0;
    lre_plot_suggestion bad = {"far", 1, N + 5};
    lre_plot_data d = data(&bad, 1);
    lre_status st = lre_plot_render(&d, NULL, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "far") && strstr(err, "85") && out == NULL,
          "a suggestion past the curve is refused, naming it and its step", "status %d: %s", st,
          err);

    d = data(NULL, 0);
    d.n = 0;
    st = lre_plot_render(&d, NULL, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "no points"), "an empty curve is refused",
          "status %d: %s", st, err);

    d = data(NULL, 0);
    d.curves[0].raw = d.curves[0].smoothed = NULL;
    st = lre_plot_render(&d, NULL, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "curve 0"), "a curve without values is refused",
          "status %d: %s", st, err);

    d = data(NULL, 0);
    lre_plot_opts o = lre_plot_opts_default();
    o.width = -3;
    st = lre_plot_render(&d, &o, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "width"), "a negative width is refused",
          "status %d: %s", st, err);
    o.width = 1e9;
    st = lre_plot_render(&d, &o, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "pixels"), "a width past 16384 px is refused",
          "status %d: %s", st, err);

    st = lre_plot_write(&d, NULL, "figure.jpg", err, sizeof err);
    CHECK(st == LRE_EINVAL && strstr(err, "figure.jpg") && strstr(err, ".png"),
          "an unknown extension is refused, naming the path and the formats", "status %d: %s",
          st, err);
    CHECK(lre_plot_format_of("A.PDF") == LRE_PLOT_PDF && lre_plot_format_of("a.svg") ==
          LRE_PLOT_SVG && lre_plot_format_of("a.png.txt") == LRE_PLOT_AUTO,
          "formats come from the extension, case-insensitively", "wrong format");
}

static void test_hard_data(void)
{
    char err[256];
    unsigned char *out = NULL;
    size_t len = 0;
    double r2[N], s2[N];
    memcpy(r2, raw, sizeof r2);
    memcpy(s2, smooth, sizeof s2);
    r2[70] = 1e300;
    s2[70] = 1e30;
    r2[75] = INFINITY;
    s2[75] = INFINITY;
    r2[N - 1] = NAN;
    s2[N - 1] = NAN;
    r2[3] = -INFINITY;
    lre_plot_suggestion s = {"steepest", lrs[40], 40};
    lre_plot_data d = data(&s, 1);
    d.curves[0].raw = r2;
    d.curves[0].smoothed = s2;
    d.curves[1].label = "validation";
    d.curves[1].raw = raw;
    d.num_curves = 2;
    lre_status st = lre_plot_render(&d, NULL, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_OK, "NaN, inf and 1e300 losses draw", "status %d: %s", st, err);
    free(out);

    for (int i = 0; i < N; i++) r2[i] = NAN;
    d = data(NULL, 0);
    d.curves[0].raw = r2;
    d.curves[0].smoothed = NULL;
    st = lre_plot_render(&d, NULL, LRE_PLOT_SVG, &out, &len, err, sizeof err);
    CHECK(st == LRE_OK, "an all-NaN curve draws (empty panels with a note)", "status %d: %s",
          st, err);
    free(out);

    d = data(NULL, 0);
    d.n = 1;
    d.log_x = 0;
    st = lre_plot_render(&d, NULL, LRE_PLOT_PDF, &out, &len, err, sizeof err);
    CHECK(st == LRE_OK, "a single point on a linear axis draws", "status %d: %s", st, err);
    free(out);

    double neg[3] = {-1, 0, 2}; /* log axis with non-positive lrs: those are skipped */
    d = data(NULL, 0);
    d.n = 3;
    d.lrs = neg;
    st = lre_plot_render(&d, NULL, LRE_PLOT_PNG, &out, &len, err, sizeof err);
    CHECK(st == LRE_OK, "non-positive lrs on a log axis are skipped", "status %d: %s", st, err);
    free(out);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void test_writes(void)
{
    char dir[] = "/tmp/lre_plot_XXXXXX";
    if (!mkdtemp(dir)) {
        chk_fail("write: temporary directory", "mkdtemp: %s", strerror(errno));
        return;
    }
    char path[256], tmp[300], err[512];
    lre_plot_suggestion s = {"steepest", lrs[40], 40};
    lre_plot_data d = data(&s, 1);

    snprintf(path, sizeof path, "%s/fig.svg", dir);
    lre_status st = lre_plot_write(&d, NULL, path, err, sizeof err);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CHECK(st == LRE_OK && exists(path) && !exists(tmp), "write: the file, and no temporary left",
          "status %d: %s", st, err);
    remove(path);

    /* the target is a directory: the rename fails, the temporary goes */
    snprintf(path, sizeof path, "%s/taken.png", dir);
    mkdir(path, 0700);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    st = lre_plot_write(&d, NULL, path, err, sizeof err);
    CHECK(st == LRE_EIO && strstr(err, path) && !exists(tmp),
          "write: a failed rename is LRE_EIO naming the path, and removes the temporary",
          "status %d: %s", st, err);
    rmdir(path);

    snprintf(path, sizeof path, "%s/missing/fig.pdf", dir);
    st = lre_plot_write(&d, NULL, path, err, sizeof err);
    CHECK(st == LRE_EIO && strstr(err, path) && strstr(err, "No such file"),
          "write: a missing directory is LRE_EIO naming the path", "status %d: %s", st, err);
    rmdir(dir);
}

int main(void)
{
    curve();
    test_formats();
    test_refusals();
    test_hard_data();
    test_writes();
    return chk_done("test_plot");
}
