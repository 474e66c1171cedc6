/*
 * fuzz_csv.c — libFuzzer target for the CSV parser. Layout: an options
 * byte, then the text. Bits 0-1: header (detect, false, true, detect);
 * bits 2-3: delimiter (',' ';' tab space); bits 4-6: the label column
 * (default, 1, 2, named "label", named "y", 3, default, default); bit 7:
 * the task (classification, regression).
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned m = data[0];
    static const int headers[4] = {-1, 0, 1, -1};
    static const char delims[4] = {',', ';', '\t', ' '};
    lre_csv_opts o = lre_csv_opts_default();
    o.header = headers[m & 3];
    o.delimiter = delims[(m >> 2) & 3];
    switch ((m >> 4) & 7) {
    case 1: o.label_index = 1; break;
    case 2: o.label_index = 2; break;
    case 3: o.label_name = "label"; break;
    case 4: o.label_name = "y"; break;
    case 5: o.label_index = 3; break;
    default: break;
    }
    if (m & 0x80) o.task = LRE_TASK_REGRESSION;
    lre_ctx *ctx = fuzz_ctx();
    lre_dataset *d = NULL;
    lre_status s = lre_dataset_csv_mem(ctx, &d, "<csv>", data + 1, size - 1, &o);
    fuzz_check_status(ctx, s, d, "<csv>", NULL);
    if (d) fuzz_workout(d);
    lre_dataset_release(d);
    fuzz_done(ctx);
    return 0;
}
