/*
 * lrengine_lua.h — the range-test finder for a C program, without writing
 * Lua.
 *
 * The engine (lrengine.h) runs the steps; the finder around it (schedules,
 * smoothing, stopping rules, learning-rate heuristics) is a set of small Lua
 * modules (lua/lrengine/, installed under share/lua/5.4/lrengine/). A C
 * program embeds a Lua 5.4 state, opens lrengine in it, hands the finder a
 * trainer — one made with lrengine.h, or the program's own model behind
 * four callbacks — and reads the suggestions back with the Lua C API.
 *
 * Worked example (error handling shortened; examples/embed.c is the full,
 * runnable program):
 *
 *     // ctx, t: a context and a trainer made with lrengine.h
 *     lua_State *L = luaL_newstate();
 *     luaL_openlibs(L);
 *     if (lrelua_open(L, NULL) != LUA_OK ||          // the installed modules
 *         lrelua_use_ctx(L, ctx) != LUA_OK)
 *         return fail(lua_tostring(L, -1));
 *
 *     lrelua_push_trainer(L, t);                      // stack: trainer
 *     lua_createtable(L, 0, 4);                       // stack: trainer opts
 *     lua_pushnumber(L, 1e-6);  lua_setfield(L, -2, "start_lr");
 *     lua_pushnumber(L, 10);    lua_setfield(L, -2, "end_lr");
 *     lua_pushinteger(L, 100);  lua_setfield(L, -2, "num_iter");
 *     lrelua_push_dataset(L, val);  lua_setfield(L, -2, "val");
 *     if (lrelua_range_test(L, -2, -1) != LUA_OK)     // stack: trainer opts result
 *         return fail(lua_tostring(L, -1));
 *     double lr;
 *     int64_t step;                                   // 1-based, as in Lua
 *     if (lrelua_result_suggestion(L, -1, "steepest", &lr, &step))
 *         printf("lr = %g (step %lld)\n", lr, (long long)step);
 *     else                                            // why there is none
 *         printf("none: %s\n", lrelua_result_reason(L, -1, "steepest"));
 *     if (lrelua_result_plot(L, -1, "sweep.png") != LUA_OK)
 *         return fail(lua_tostring(L, -1));
 *     lua_settop(L, 0);
 *     lua_close(L);             // then release t, val and ctx as usual
 *
 * The trainer is back in the state it was in before the test (steps,
 * parameters, optimizer state, batch order), as the finder promises.
 * lrelua_range_test is require("lrengine.finder").range_test(opts) with
 * opts.trainer set: every option of lua/lrengine/finder.lua works
 * (schedule, suggest = {"steepest", "valley"}, diverge_th, ...).
 *
 * A model of the program's own (any framework, or plain C) needs four
 * callbacks, and optionally a validation loss and an error message:
 *
 *     static const lrelua_trainer_ops ops = {
 *         .step = my_step, .evaluate = my_val_loss, .snapshot = my_copy,
 *         .restore = my_paste, .free_snapshot = my_free, .error = my_message,
 *     };
 *     lrelua_push_custom_trainer(L, &ops, &my_model);  // then as above; with
 *                                                      // evaluate, val = true
 *
 * Errors: lrelua_open, lrelua_use_ctx and lrelua_range_test never raise;
 * they return a Lua status (LUA_OK is 0) and leave the message on the stack
 * in its place. The push functions are like lua_push*: they may raise a Lua
 * error (out of memory, or an object of another context), which outside a
 * lua_pcall is Lua's panic.
 *
 * Linking: cc app.c $(pkg-config --cflags --libs lrengine) against an
 * installed lrengine (make install); in the build tree,
 * build/liblrengine_lua.a, build/liblrengine_plot.a and build/liblrengine.a,
 * then the engine's dependencies (see the Makefile's ENG_LIBS).
 *
 * Version 0.x makes no ABI promise between minor versions: the shared
 * libraries' soname carries major.minor (liblrengine_lua.so.0.1) and
 * changes with each; rebuild against a new minor version.
 */
#ifndef LRENGINE_LUA_H
#define LRENGINE_LUA_H

#include "lrengine.h"

#ifdef __cplusplus
extern "C" { /* Lua's headers are C, as lua.hpp includes them */
#endif

#include <lua.h>

/* Makes lrengine loadable in L, whose standard libraries are open
 * (luaL_openlibs): `require "lrengine.core"` finds the engine's module
 * (package.preload), and `require "lrengine.finder"` and the other Lua
 * modules are searched first in lua_dir (prepended to package.path as
 * "lua_dir/?.lua;lua_dir/?/init.lua"; lua_dir must hold
 * lrengine/finder.lua). lua_dir NULL: the folder in $LRENGINE_LUA_PATH
 * when set, else package.path (LUA_PATH) when it finds them, else, for the
 * shared library, ../share/lua/5.4 beside it (dladdr: an install moved
 * elsewhere still works), else where `make install` put them
 * (<prefix>/share/lua/5.4, the prefix compiled in): an installed library
 * finds its modules without being told. Returns
 * LUA_OK, or an error status with the message on the stack. */
int lrelua_open(lua_State *L, const char *lua_dir);

/* The engine objects of L (those Lua makes, and those pushed from C) live
 * in `ctx`, which L retains: trainers and datasets made in C can then be
 * used from Lua. Call it before anything in L makes an engine object;
 * afterwards, or with a second, different context, it is an error (the
 * same context again is fine). Without it, the first
 * lrelua_push_trainer/_dataset gives L that object's context, unless Lua
 * made objects before: then L has its own CPU context, and objects of
 * another one are refused. Returns LUA_OK, or an error status with the
 * message on the stack. */
int lrelua_use_ctx(lua_State *L, lre_ctx *ctx);

/* Pushes an engine object made in C as the userdata the Lua API makes
 * (lrengine.trainer, lrengine.dataset), with all its methods —
 * trainer:model(), :data(), :optimizer(), :loss() included. Each takes a new
 * reference (release yours whenever you like). The object must belong to
 * L's context (see lrelua_use_ctx). Raises a Lua error on failure. */
void lrelua_push_trainer(lua_State *L, lre_trainer *t);
void lrelua_push_dataset(lua_State *L, lre_dataset *d);

/* A model of the program's own, driven by the finder through callbacks.
 * `user` is handed back to each of them. Those returning int return 0 on
 * success; non-zero raises a Lua error whose message is error(user) (or
 * "step failed", "evaluate failed", ...), and the finder then restores the
 * snapshot it took and reports the error. */
typedef struct lrelua_trainer_ops {
    /* One optimizer step at learning rate lr on the next batch; *loss gets
     * its training loss (a non-finite loss is a result, not a failure: the
     * finder stops and records it). Required. */
    int (*step)(void *user, double lr, double *loss);
    /* The validation loss, on the program's own validation data; changes no
     * state. Optional (NULL: the finder cannot be given `val`). */
    int (*evaluate)(void *user, double *loss);
    /* A copy of all the state a step changes (weights, optimizer state,
     * batch position); NULL is a failure. Required. */
    void *(*snapshot)(void *user);
    /* Puts the model back in the state of `snap`; the snapshot stays
     * valid (it may be restored again). Required. */
    int (*restore)(void *user, void *snap);
    /* Frees a snapshot; called exactly once for each one, when Lua collects
     * or closes it (at the latest in lua_close). Optional (NULL: snapshots
     * need no freeing). */
    void (*free_snapshot)(void *user, void *snap);
    /* The message of the last failure, or NULL. Optional. */
    const char *(*error)(void *user);
} lrelua_trainer_ops;

/* Pushes a trainer (class "lrengine.custom_trainer") whose methods call
 * ops: step(lr) -> loss, evaluate(val) -> loss (val is ignored: the program
 * evaluates its own validation data; an error when ops->evaluate is NULL),
 * snapshot() -> a snapshot userdata (its __gc and __close call
 * free_snapshot once), restore(snapshot) (of this trainer only). *ops is
 * copied; `user` and what the callbacks use must stay valid until L is
 * closed (lua_close runs the pending free_snapshot calls). Raises a Lua
 * error when ops, step, snapshot or restore is NULL. */
void lrelua_push_custom_trainer(lua_State *L, const lrelua_trainer_ops *ops, void *user);

/* Runs require("lrengine.finder").range_test(opts) on the trainer at
 * trainer_idx (an engine or custom trainer, or any Lua object with step,
 * snapshot and restore) with the options of the table at opts_idx (0: the
 * defaults; the table is not changed: the options are copied and `trainer`
 * set in the copy). Pushes the result (a lrengine.results table: lrs,
 * losses, suggestions = {name = {lr =, index =} or {reason =}},
 * stop_reason, ...; result:save_json(path) and the rest work) and returns
 * LUA_OK, or pushes the error message and returns an error status. */
int lrelua_range_test(lua_State *L, int trainer_idx, int opts_idx);

/* Reading a result from C (the table lrelua_range_test pushed, at idx)
 * without walking Lua tables. None of these raises; they leave the stack
 * as they found it.
 *
 * lrelua_result_suggestion: 1 and *lr, *index (1-based, as in Lua; either
 * may be NULL) when the result has suggestion `name` with a learning
 * rate; 0 when it has none (lrelua_result_reason then says why: too few
 * points, a heuristic's error) or no such suggestion was asked for. */
int lrelua_result_suggestion(lua_State *L, int idx, const char *name, double *lr,
                             int64_t *index);
/* Why suggestion `name` has no learning rate, or NULL. The string lives as
 * long as the result does. */
const char *lrelua_result_reason(lua_State *L, int idx, const char *name);
/* The per-step array `which` ("lrs", "losses", "smoothed", "train_losses",
 * "val_losses", "step_seconds"): copies up to cap values into out (NaN for
 * a missing one) and returns the array's length (0 when absent): call with
 * cap 0 to size out. */
size_t lrelua_result_curve(lua_State *L, int idx, const char *which, double *out, size_t cap);
/* "completed", "diverged", "non_finite", a custom rule's reason; NULL when
 * absent. The string lives as long as the result does. */
const char *lrelua_result_stop_reason(lua_State *L, int idx);
/* result:save_json(path), :save_csv(path) and :plot(path) (PNG, SVG or PDF
 * by the extension): LUA_OK, or an error status with the message pushed
 * (a path that cannot be written, a build without the plot library). */
int lrelua_result_save_json(lua_State *L, int idx, const char *path);
int lrelua_result_save_csv(lua_State *L, int idx, const char *path);
int lrelua_result_plot(lua_State *L, int idx, const char *path);

/* The engine's Lua module, for hosts that register it themselves
 * (lrelua_open does). */
int luaopen_lrengine_core(lua_State *L);

#ifdef __cplusplus
}
#endif
#endif /* LRENGINE_LUA_H */
