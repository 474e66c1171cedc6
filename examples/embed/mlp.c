/*
 * mlp.c — the smallest complete program that embeds lrengine: an MLP built
 * with the engine's C API on synthetic data (three blobs in the plane),
 * the range test run by the finder, the suggestion read back and the
 * figure drawn, without a line of Lua. Against an installed lrengine:
 *
 *     cc mlp.c -o mlp $(pkg-config --cflags --libs lrengine) && ./mlp
 *
 * (or `make` in this folder). Prints the steepest suggestion and writes
 * mlp.png; exit status 0, or 1 with the message on stderr.
 */
#include <math.h>
#include <stdio.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lrengine_lua.h"

#ifndef LRE_SOURCE_LUA_DIR
#define LRE_SOURCE_LUA_DIR NULL /* the installed modules (lrelua_open finds them) */
#endif

enum { ROWS = 600 };

int main(void) {
    static float x[ROWS * 2];
    static int32_t y[ROWS];
    for (int i = 0; i < ROWS; i++) { /* three blobs on a circle, a little noise */
        double a = 2.0943951023931953 * (i % 3), r = 0.3 * sin(i * 12.9898);
        x[2 * i] = (float)(2 * cos(a) + r);
        x[2 * i + 1] = (float)(2 * sin(a) + 0.3 * cos(i * 78.233));
        y[i] = i % 3;
    }
    lre_ctx *ctx = NULL;
    lre_dataset *data = NULL;
    lre_model *m = NULL;
    lre_trainer *t = NULL;
    lre_trainer_opts o = lre_trainer_opts_default(); /* Adam, cross-entropy */
    o.batch_size = 32;
    if (lre_ctx_new(&ctx, NULL) || lre_dataset_from_arrays(ctx, &data, ROWS, 2, x, y, NULL, 0) ||
        lre_model_new(ctx, &m) || lre_model_add_linear(m, 2, 32) ||
        lre_model_add_act(m, LRE_ACT_RELU, 0) || lre_model_add_linear(m, 32, 3) ||
        lre_trainer_new(ctx, &t, m, data, &o)) {
        fprintf(stderr, "mlp: %s\n", ctx ? lre_ctx_error(ctx) : "no context");
        return 1;
    }
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    int rc = 1;
    if (lrelua_open(L, LRE_SOURCE_LUA_DIR) != LUA_OK || lrelua_use_ctx(L, ctx) != LUA_OK)
        goto fail;
    lrelua_push_trainer(L, t);
    lua_createtable(L, 0, 3); /* the options: from 1e-5 to 10 over 100 steps */
    lua_pushnumber(L, 1e-5);
    lua_setfield(L, -2, "start_lr");
    lua_pushnumber(L, 10);
    lua_setfield(L, -2, "end_lr");
    lua_pushinteger(L, 100);
    lua_setfield(L, -2, "num_iter");
    if (lrelua_range_test(L, -2, -1) != LUA_OK) goto fail;
    double lr;
    int64_t step;
    if (!lrelua_result_suggestion(L, -1, "steepest", &lr, &step)) {
        fprintf(stderr, "mlp: no suggestion: %s\n", lrelua_result_reason(L, -1, "steepest"));
        goto done;
    }
    printf("steepest: lr = %.3g (step %lld of %zu)\n", lr, (long long)step,
           lrelua_result_curve(L, -1, "lrs", NULL, 0));
    if (lrelua_result_plot(L, -1, "mlp.png") != LUA_OK) goto fail;
    puts("figure: mlp.png");
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "mlp: %s\n", lua_tostring(L, -1));
done:
    lua_close(L);
    lre_trainer_release(t);
    lre_model_release(m);
    lre_dataset_release(data);
    lre_ctx_release(ctx);
    return rc;
}
