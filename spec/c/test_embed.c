/*
 * test_embed.c — the embedding API (lrengine_lua.h): a C program's Lua
 * state with lrengine opened in it.
 *
 *   - lrelua_open: refuses a state without the package library and a
 *     directory without the Lua modules (by name), and leaves the stack
 *     as it was on success;
 *   - lrelua_use_ctx: objects Lua makes live in the host's context; a
 *     second context, or one given after the state made its own, is an
 *     error naming that; configure{} cannot change a given context;
 *   - lrelua_push_trainer/_dataset: the same userdata the Lua API makes
 *     (model layers and parameters, data, optimizer, loss, step, snapshot,
 *     restore, evaluate on a dataset made in Lua), sharing the C object
 *     (steps seen from both sides), keeping it alive after the C reference
 *     is released; an object of another context is refused;
 *   - lrelua_push_custom_trainer: callbacks called as documented, each
 *     snapshot freed exactly once (close, <close>, collection, lua_close),
 *     failures raised with the program's message or "<what> failed",
 *     a snapshot of another trainer refused;
 *   - lrelua_range_test: on a custom and on an engine trainer, the model
 *     restored afterwards (also when a step fails midway), the caller's
 *     options table unchanged, bad options reported as a status and a
 *     message, one value pushed either way.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "check.h"
#include "lrengine_lua.h"

#ifndef LRE_SOURCE_LUA_DIR
#define LRE_SOURCE_LUA_DIR "lua"
#endif

/* ------------------------------------------------------------- helpers */

static lua_State *newstate(void)
{
    lua_State *L = luaL_newstate();
    if (!L) chk_fatal("luaL_newstate", "out of memory");
    luaL_openlibs(L);
    if (lrelua_open(L, LRE_SOURCE_LUA_DIR) != LUA_OK)
        chk_fatal("lrelua_open", "%s", lua_tostring(L, -1));
    return L;
}

/* Runs `code` with the top nargs values as its `...`; leaves its first
 * result or the error message; returns the status. */
static int run(lua_State *L, int nargs, const char *code)
{
    if (luaL_loadstring(L, code) != LUA_OK) return LUA_ERRSYNTAX;
    lua_insert(L, -nargs - 1);
    return lua_pcall(L, nargs, 1, 0);
}

/* The status must be LUA_OK; pops the value. */
static int expect_ok(lua_State *L, int status, const char *name)
{
    int r = CHECK(status == LUA_OK, name, "status %d: %s", status,
                  lua_isstring(L, -1) ? lua_tostring(L, -1) : "(no message)");
    lua_pop(L, 1);
    return r;
}

/* The status must be an error whose message contains `want`; pops it. */
static int expect_err(lua_State *L, int status, const char *want, const char *name)
{
    const char *msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "(no message)";
    int r = CHECK(status != LUA_OK && strstr(msg, want) != NULL, name,
                  "expected an error containing \"%s\", got status %d: %s", want, status, msg);
    lua_pop(L, 1);
    return r;
}

/* lrelua_push_* under lua_pcall, to see the errors they raise. */
typedef struct pushargs {
    lre_trainer *t;
    lre_dataset *d;
    const lrelua_trainer_ops *ops;
    void *user;
} pushargs;

static int push_call(lua_State *L)
{
    pushargs *a = (pushargs *)lua_touserdata(L, 1);
    if (a->ops) lrelua_push_custom_trainer(L, a->ops, a->user);
    else if (a->d) lrelua_push_dataset(L, a->d);
    else lrelua_push_trainer(L, a->t);
    return 1;
}

static int protected_push(lua_State *L, pushargs a)
{
    lua_pushcfunction(L, push_call);
    lua_pushlightuserdata(L, &a);
    return lua_pcall(L, 1, 1, 0);
}

/* ------------------------------------------------------------- opening */

static void test_open(void)
{
    lua_State *bare = luaL_newstate();
    if (!bare) chk_fatal("luaL_newstate", "out of memory");
    expect_err(bare, lrelua_open(bare, NULL), "package library is not open",
               "open: a state without the standard libraries is refused");
    lua_close(bare);

    lua_State *L = luaL_newstate();
    if (!L) chk_fatal("luaL_newstate", "out of memory");
    luaL_openlibs(L);
    expect_err(L, lrelua_open(L, "/nonexistent/lrengine-lua"), "/nonexistent/lrengine-lua",
               "open: a directory without the modules is named");
    int st = lrelua_open(L, LRE_SOURCE_LUA_DIR);
    CHECK(st == LUA_OK && lua_gettop(L) == 0, "open: succeeds and leaves the stack empty",
          "status %d, %d values on the stack", st, lua_gettop(L));
    lua_pushstring(L, lre_version());
    expect_ok(L, run(L, 1, "local v = ...\n"
                           "assert(require('lrengine.core').version == v)\n"
                           "assert(type(require('lrengine.finder').range_test) == 'function')\n"
                           "return true"),
              "open: lrengine.core preloaded and the finder on package.path");
    lua_close(L);
}

/* ------------------------------------------------------------ contexts */

static void test_ctx(void)
{
    lre_ctx *ctx = chk_ctx(1), *other = chk_ctx(2);
    lua_State *L = newstate();
    expect_err(L, lrelua_use_ctx(L, NULL), "NULL", "use_ctx: a NULL context is refused");
    CHECK(lrelua_use_ctx(L, ctx) == LUA_OK && lrelua_use_ctx(L, ctx) == LUA_OK,
          "use_ctx: given, and the same one again", "%s", lua_tostring(L, -1));
    expect_err(L, lrelua_use_ctx(L, other), "already uses another engine context",
               "use_ctx: a second, different context is refused");
    uint64_t before = lre_ctx_alloc_count(ctx);
    expect_ok(L, run(L, 0, "local lre = require 'lrengine'\n"
                           "local d = lre.data.from_tables({{1, 2}, {3, 4}}, {0, 1})\n"
                           "assert(d:size() == 2)\n"
                           "assert(lre.options().device == 'cpu')\n"
                           "return true"),
              "use_ctx: Lua makes objects after it");
    CHECK(lre_ctx_alloc_count(ctx) > before, "use_ctx: those objects live in the given context",
          "alloc count %llu before, %llu after", (unsigned long long)before,
          (unsigned long long)lre_ctx_alloc_count(ctx));
    expect_err(L, run(L, 0, "require('lrengine.core').configure{seed = 5}"), "lrelua_use_ctx",
               "use_ctx: configure cannot change the host's context");
    lua_close(L);

    L = newstate();
    expect_ok(L, run(L, 0, "return require('lrengine.core').alloc_count()"),
              "use_ctx: a state that used the engine");
    expect_err(L, lrelua_use_ctx(L, ctx), "already made its own engine context",
               "use_ctx: after the state made its own context, an error naming that");
    lua_close(L);
    lre_ctx_release(other);
    lre_ctx_release(ctx);
}

/* ----------------------------------------------------- engine objects */

static lre_trainer *small_trainer(lre_ctx *ctx, lre_dataset **data)
{
    chk_rng r = {7};
    const int64_t sizes[] = {4, 8, 3};
    lre_model *m = chk_mlp(ctx, sizes, 3, LRE_ACT_LEAKY_RELU, 0.1f);
    *data = chk_random_dataset(ctx, &r, 64, 4, 3);
    lre_trainer_opts o = lre_trainer_opts_default();
    o.batch_size = 16;
    o.seed = 3;
    lre_trainer *t = chk_trainer(ctx, m, *data, &o);
    lre_model_release(m);
    return t;
}

static void test_push(void)
{
    lre_ctx *ctx = chk_ctx(1), *other = chk_ctx(2);
    lre_dataset *data = NULL, *odata = NULL;
    lre_trainer *t = small_trainer(ctx, &data);
    lre_trainer *foreign = small_trainer(other, &odata);
    lua_State *L = newstate(); /* no use_ctx: the first push gives the context */

    lrelua_push_trainer(L, t);
    lrelua_push_dataset(L, data);
    expect_ok(L, run(L, 2,
        "local t, ds = ...\n"
        "assert(tostring(t):match('^lrengine.trainer'), tostring(t))\n"
        "assert(t:steps() == 0 and t:batch_size() == 16 and t:seed() == 3)\n"
        "local L = t:model():layers()\n"
        "assert(#L == 3, #L)\n"
        "assert(L[1].type == 'linear' and L[1].in_features == 4 and L[1].out_features == 8)\n"
        "assert(L[2].type == 'leaky_relu' and L[2].negative_slope == 0.1, L[2].negative_slope)\n"
        "assert(L[3].type == 'linear' and L[3].out_features == 3)\n"
        "local p = t:model():parameters()\n"
        "assert(#p == 4 and p[1].name == '0.weight' and p[4].name == '2.bias')\n"
        "assert(t:model():num_params() == 4 * 8 + 8 + 8 * 3 + 3)\n"
        "assert(t:data():size() == 64 and ds:size() == 64 and ds:num_classes() == 3)\n"
        "assert(tostring(t:optimizer()):match('adam'), tostring(t:optimizer()))\n"
        "assert(t:loss().name == 'cross_entropy')\n"
        "local s = t:snapshot()\n"
        "assert(type(t:step(1e-2)) == 'number' and t:steps() == 1)\n"
        "t:restore(s)\n"
        "assert(t:steps() == 0)\n"
        "assert(t:evaluate(ds) > 0)\n"
        "local mine = require('lrengine').data.from_tables({{1, 2, 3, 4}, {0, 0, 0, 0}}, {0, 2})\n"
        "assert(t:evaluate(mine) > 0)\n"
        "return true"),
        "push: the trainer and dataset work as Lua-made ones (model, data, optimizer, loss, "
        "snapshot, a dataset made in Lua)");

    float loss;
    chk_must(ctx, lre_trainer_step(t, 1e-3, &loss), "lre_trainer_step");
    lrelua_push_trainer(L, t);
    expect_ok(L, run(L, 1, "local t = ...; assert(t:steps() == 1, t:steps()); return true"),
              "push: the box shares the C object (a step in C is seen from Lua)");
    lrelua_push_trainer(L, t);
    expect_ok(L, run(L, 1, "local t = ...; t:step(1e-3); return true"), "push: a step from Lua");
    CHECK(lre_trainer_steps(t) == 2, "push: a step from Lua is seen in C", "steps = %lld",
          (long long)lre_trainer_steps(t));

    expect_err(L, protected_push(L, (pushargs){.t = foreign}), "another engine context",
               "push: a trainer of another context is refused");
    expect_err(L, protected_push(L, (pushargs){.d = odata}), "another engine context",
               "push: a dataset of another context is refused");
    expect_err(L, protected_push(L, (pushargs){0}), "NULL", "push: a NULL trainer is refused");
    CHECK(lua_gettop(L) == 0, "push: the stack is balanced", "%d values left", lua_gettop(L));

    /* Lua's reference keeps the trainer alive once C lets go of it */
    lrelua_push_trainer(L, t);
    lua_setglobal(L, "kept");
    lre_trainer_release(t);
    lre_dataset_release(data);
    expect_ok(L, run(L, 0, "kept:step(1e-3); kept:evaluate(kept:data()); return true"),
              "push: the Lua box keeps the trainer alive after lre_trainer_release");
    lua_close(L);
    lre_trainer_release(foreign);
    lre_dataset_release(odata);
    lre_ctx_release(other);
    lre_ctx_release(ctx);
}

/* ------------------------------------------------------ custom trainers */

/* Minimises (w - 3)^2 by gradient descent: stable for lr < 1. */
typedef struct fake {
    double w;
    int steps;
    int fail_at;          /* the step that fails (0: none) */
    int fail_snapshot;
    int snaps, frees, restores;
    const char *msg;
} fake;

static int fake_step(void *user, double lr, double *loss)
{
    fake *f = user;
    if (f->fail_at && f->steps + 1 == f->fail_at) return 1;
    *loss = (f->w - 3) * (f->w - 3);
    f->w -= lr * 2 * (f->w - 3);
    f->steps++;
    return 0;
}

static int fake_evaluate(void *user, double *loss)
{
    fake *f = user;
    *loss = (f->w - 3) * (f->w - 3) + 0.5;
    return 0;
}

typedef struct fakesnap { double w; int steps; } fakesnap;

static void *fake_snapshot(void *user)
{
    fake *f = user;
    if (f->fail_snapshot) return NULL;
    fakesnap *s = malloc(sizeof *s);
    if (s) {
        s->w = f->w;
        s->steps = f->steps;
        f->snaps++;
    }
    return s;
}

static int fake_restore(void *user, void *snap)
{
    fake *f = user;
    const fakesnap *s = snap;
    f->w = s->w;
    f->steps = s->steps;
    f->restores++;
    return 0;
}

static void fake_free(void *user, void *snap)
{
    ((fake *)user)->frees++;
    free(snap);
}

static const char *fake_error(void *user) { return ((fake *)user)->msg; }

static const lrelua_trainer_ops fake_ops = {fake_step, fake_evaluate, fake_snapshot,
                                            fake_restore, fake_free, fake_error};

static void test_custom(void)
{
    lua_State *L = newstate();
    fake f = {.w = 0}, g = {.w = 0};
    lrelua_trainer_ops bad = fake_ops;
    bad.restore = NULL;
    expect_err(L, protected_push(L, (pushargs){.ops = &bad, .user = &f}), "ops->restore is NULL",
               "custom: a missing required callback is named");

    lrelua_push_custom_trainer(L, &fake_ops, &f);
    expect_ok(L, run(L, 1,
        "local t = ...\n"
        "assert(tostring(t) == 'lrengine.custom_trainer', tostring(t))\n"
        "local s = t:snapshot()\n"
        "local l1 = t:step(0.1)\n"
        "assert(l1 == 9, l1)\n"
        "t:restore(s)\n"
        "assert(t:step(0.1) == l1)\n"
        "assert(t:evaluate('ignored') > 0.5)\n"
        "do local s2 <close> = t:snapshot() end\n"
        "s:close(); s:close()\n"
        "local ok, err = pcall(t.restore, t, s)\n"
        "assert(not ok and err:match('closed snapshot'), err)\n"
        "ok, err = pcall(t.step, t, -1)\n"
        "assert(not ok and err:match('lr must be'), err)\n"
        "return true"),
        "custom: step, evaluate, snapshot, restore, close");
    CHECK(f.snaps == 2 && f.frees == 2 && f.restores == 1,
          "custom: each closed snapshot freed once", "%d snapshots, %d freed, %d restores",
          f.snaps, f.frees, f.restores);

    lrelua_push_custom_trainer(L, &fake_ops, &f);
    lrelua_push_custom_trainer(L, &fake_ops, &g);
    expect_err(L, run(L, 2, "local a, b = ...; b:restore(a:snapshot())"), "another trainer",
               "custom: a snapshot of another trainer is refused");
    lua_gc(L, LUA_GCCOLLECT);
    CHECK(f.snaps == 3 && f.frees == 3, "custom: a collected snapshot is freed",
          "%d snapshots, %d freed", f.snaps, f.frees);

    f.fail_at = f.steps + 1;
    f.msg = "fake: the step blew up";
    lrelua_push_custom_trainer(L, &fake_ops, &f);
    expect_err(L, run(L, 1, "local t = ...; t:step(0.1)"), "fake: the step blew up",
               "custom: a failed step raises the program's message");
    lrelua_trainer_ops quiet = fake_ops;
    quiet.error = NULL;
    quiet.evaluate = NULL;
    lrelua_push_custom_trainer(L, &quiet, &f);
    expect_err(L, run(L, 1, "local t = ...; t:step(0.1)"), "step failed",
               "custom: without an error callback, \"step failed\"");
    lrelua_push_custom_trainer(L, &quiet, &f);
    expect_err(L, run(L, 1, "local t = ...; t:evaluate()"), "no evaluate callback",
               "custom: evaluate without the callback is an error naming it");
    f.fail_at = 0;
    f.fail_snapshot = 1;
    lrelua_push_custom_trainer(L, &quiet, &f);
    expect_err(L, run(L, 1, "local t = ...; t:snapshot()"), "snapshot failed",
               "custom: a failed snapshot is an error");
    f.fail_snapshot = 0;

    /* pending snapshots are freed by lua_close */
    lrelua_push_custom_trainer(L, &fake_ops, &f);
    expect_ok(L, run(L, 1, "local t = ...; keep = t:snapshot(); return true"),
              "custom: a snapshot kept in a global");
    int before_close = f.frees;
    lua_close(L);
    CHECK(f.snaps == f.frees && f.frees == before_close + 1,
          "custom: lua_close frees the pending snapshots", "%d snapshots, %d freed",
          f.snaps, f.frees);
}

/* ----------------------------------------------------------- range test */

/* {start_lr = 1e-4, end_lr = 10, num_iter = n, suggest = {"steepest"}} */
static void push_opts(lua_State *L, int n)
{
    lua_createtable(L, 0, 4);
    lua_pushnumber(L, 1e-4);
    lua_setfield(L, -2, "start_lr");
    lua_pushnumber(L, 10);
    lua_setfield(L, -2, "end_lr");
    lua_pushinteger(L, n);
    lua_setfield(L, -2, "num_iter");
    lua_createtable(L, 1, 0);
    lua_pushliteral(L, "steepest");
    lua_rawseti(L, -2, 1);
    lua_setfield(L, -2, "suggest");
}

static void test_range_custom(void)
{
    lua_State *L = newstate();
    fake f = {.w = 0};
    lrelua_push_custom_trainer(L, &fake_ops, &f); /* 1 */
    push_opts(L, 60);                             /* 2 */
    lua_pushboolean(L, 1);
    lua_setfield(L, 2, "val");
    int st = lrelua_range_test(L, 1, 2);          /* 3: the result */
    CHECK(st == LUA_OK && lua_gettop(L) == 3, "range: a custom trainer's test runs",
          "status %d: %s", st, lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
    if (st == LUA_OK) {
        expect_ok(L, run(L, 1,
            "local r = ...\n"
            "assert(r.stop_reason == 'diverged', r.stop_reason)\n"
            "assert(#r.val_losses == #r.lrs and r.val_losses[1] > 0.5)\n"
            "local s = r.suggestions.steepest\n"
            "assert(s.lr and s.lr > 1e-3 and s.lr < 1, s.lr or s.reason)\n"
            "return true"),
            "range: the result records the curve, the divergence and a suggestion");
    } else {
        lua_pop(L, 1);
    }
    CHECK(f.w == 0 && f.steps == 0 && f.restores == 1, "range: the custom model is restored",
          "w = %g, steps = %d, %d restores", f.w, f.steps, f.restores);
    CHECK(lua_getfield(L, 2, "trainer") == LUA_TNIL, "range: the options table is not changed",
          "options.trainer is %s", luaL_typename(L, -1));
    lua_pop(L, 1);

    /* a step that fails midway: an error, and the model put back */
    f.fail_at = 10;
    f.msg = "fake: a NaN in the weights";
    expect_err(L, lrelua_range_test(L, 1, 2), "fake: a NaN in the weights",
               "range: a failing step gives its message");
    CHECK(f.w == 0 && f.steps == 0 && f.restores == 2,
          "range: the model is restored after a failing step", "w = %g, steps = %d",
          f.w, f.steps);
    f.fail_at = 0;

    lua_pushinteger(L, 5);
    expect_err(L, lrelua_range_test(L, 1, -1), "expected a table",
               "range: options that are not a table are refused");
    lua_pop(L, 1);
    lua_pushinteger(L, 1);
    lua_setfield(L, 2, "bogus");
    expect_err(L, lrelua_range_test(L, 1, 2), "unknown option 'bogus'",
               "range: the finder's own errors come back as a message");
    lua_pushnil(L);
    lua_setfield(L, 2, "bogus");

    /* an interrupt: the finder raises an object carrying the partial
     * curve; the C caller still gets one string (its __tostring) */
    if (luaL_dostring(L, "local p = os.tmpname() os.remove(p) return { num_iter = 10, "
                         "save = p .. '.json', on_step = function(s) if s.step == 2 then "
                         "error('interrupted!') end end }") != LUA_OK)
        chk_fatal("embed", "dostring: %s", lua_tostring(L, -1));
    expect_err(L, lrelua_range_test(L, 1, -1), "interrupted at step 2/10; trainer restored",
               "range: an interrupt comes back as one line naming the step");
    lua_pop(L, 1);

    lrelua_trainer_ops noeval = fake_ops;
    noeval.evaluate = NULL;
    lrelua_push_custom_trainer(L, &noeval, &f);
    expect_err(L, lrelua_range_test(L, -1, 2), "no evaluate callback",
               "range: val without an evaluate callback is an error");
    lua_pop(L, 1);
    CHECK(lua_gettop(L) == 2, "range: the stack is balanced", "%d values", lua_gettop(L));
    lua_close(L);
    CHECK(f.snaps == f.frees, "range: every snapshot freed", "%d snapshots, %d freed", f.snaps,
          f.frees);
}

static void test_range_engine(void)
{
    lre_ctx *ctx = chk_ctx(1);
    lre_dataset *data = NULL;
    lre_trainer *t = small_trainer(ctx, &data);
    lua_State *L = newstate();
    CHECK(lrelua_use_ctx(L, ctx) == LUA_OK, "range: use_ctx", "%s", lua_tostring(L, -1));
    lrelua_push_trainer(L, t);
    push_opts(L, 30);
    lrelua_push_dataset(L, data);
    lua_setfield(L, -2, "val");
    int st = lrelua_range_test(L, -2, -1);
    if (CHECK(st == LUA_OK, "range: an engine trainer's test runs", "status %d: %s", st,
              lua_tostring(L, -1))) {
        expect_ok(L, run(L, 1,
            "local r = ...\n"
            "assert(#r.lrs == r.stop_step and #r.val_losses == #r.lrs)\n"
            "assert(r.model:match('linear%(4,8%)'), r.model)\n"
            "assert(r.device == 'cpu' and r.batch_size == 16)\n"
            "return true"),
            "range: the result describes the engine trainer");
    } else {
        lua_pop(L, 1);
    }
    CHECK(lre_trainer_steps(t) == 0, "range: the engine trainer is restored", "steps = %lld",
          (long long)lre_trainer_steps(t));
    lua_close(L);
    lre_trainer_release(t);
    lre_dataset_release(data);
    lre_ctx_release(ctx);
}

/* ------------------------------------------------------ the result API */

/* A result made in Lua (results.new: a known curve, one suggestion with an
 * lr, one without), read back through lrelua_result_*. */
static void test_result_api(void)
{
    lua_State *L = newstate();
    int st = run(L, 0,
                 "local r = require('lrengine.results').new {\n"
                 "  lrs = {1e-4, 1e-3, 1e-2, 1e-1}, losses = {2.0, 1.5, 0.5, 9.0},\n"
                 "  smoothed = {2.0, 1.7, 1.2, 3.0}, curve = 'train',\n"
                 "  stop_reason = 'diverged', stop_step = 4,\n"
                 "  suggestions = { steepest = { lr = 1e-2, index = 3 },\n"
                 "                  valley = { reason = 'too few points' } } }\n"
                 "return r");
    if (!CHECK(st == LUA_OK, "result api: a result to read", "%s", lua_tostring(L, -1))) {
        lua_close(L);
        return;
    }
    int top = lua_gettop(L);
    double lr = 0;
    int64_t index = 0;
    CHECK(lrelua_result_suggestion(L, -1, "steepest", &lr, &index) == 1 && lr == 1e-2 &&
              index == 3,
          "result api: a suggestion's lr and 1-based index", "lr %g index %lld", lr,
          (long long)index);
    lr = -1;
    CHECK(lrelua_result_suggestion(L, -1, "valley", &lr, &index) == 0 && lr == -1,
          "result api: a suggestion without an lr gives 0 and leaves *lr", "lr %g", lr);
    const char *why = lrelua_result_reason(L, -1, "valley");
    CHECK(why && strcmp(why, "too few points") == 0, "result api: the reason it has none",
          "%s", why ? why : "(NULL)");
    CHECK(lrelua_result_suggestion(L, -1, "nope", NULL, NULL) == 0 &&
              lrelua_result_reason(L, -1, "nope") == NULL,
          "result api: a suggestion never asked for gives 0 and no reason", "it did not");
    double c[8] = {0};
    size_t n = lrelua_result_curve(L, -1, "losses", NULL, 0);
    size_t m = lrelua_result_curve(L, -1, "losses", c, 2);
    CHECK(n == 4 && m == 4 && c[0] == 2.0 && c[1] == 1.5 && c[2] == 0.0,
          "result api: a curve's length, and at most cap values copied", "n %zu m %zu", n, m);
    n = lrelua_result_curve(L, -1, "smoothed", c, 8);
    CHECK(n == 4 && c[3] == 3.0, "result api: the smoothed curve", "n %zu c[3] %g", n, c[3]);
    CHECK(lrelua_result_curve(L, -1, "val_losses", c, 8) == 0,
          "result api: an empty curve has length 0", "it did not");
    const char *stop = lrelua_result_stop_reason(L, -1);
    CHECK(stop && strcmp(stop, "diverged") == 0, "result api: the stop reason", "%s",
          stop ? stop : "(NULL)");
    CHECK(lua_gettop(L) == top, "result api: the readers leave the stack as it was",
          "%d values, was %d", lua_gettop(L), top);

    char dir[] = "/tmp/lre_embed_XXXXXX";
    if (!mkdtemp(dir)) chk_fatal("mkdtemp", "%s", strerror(errno));
    char json[64], png[64];
    snprintf(json, sizeof json, "%s/r.json", dir);
    snprintf(png, sizeof png, "%s/r.png", dir);
    st = lrelua_result_save_json(L, -1, json);
    CHECK(st == LUA_OK && lua_gettop(L) == top, "result api: save_json writes the file",
          "status %d: %s", st, st ? lua_tostring(L, -1) : "");
    if (st) lua_pop(L, 1);
    lua_pushstring(L, json);
    expect_ok(L, run(L, 1, "local r = require('lrengine.results').load(...)\n"
                           "assert(r.suggestions.steepest.index == 3 and #r.lrs == 4)\n"),
              "result api: the JSON written reads back");
    st = lrelua_result_plot(L, -1, png);
    CHECK(st == LUA_OK, "result api: plot draws the figure", "status %d: %s", st,
          st ? lua_tostring(L, -1) : "");
    if (st) lua_pop(L, 1);
    FILE *f = fopen(png, "rb");
    unsigned char sig[8] = {0};
    CHECK(f && fread(sig, 1, 8, f) == 8 && memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0,
          "result api: the figure is a PNG", "it is not");
    if (f) fclose(f);
    char under_file[80];
    snprintf(under_file, sizeof under_file, "%s/x.json", png); /* r.png is a file */
    expect_err(L, lrelua_result_save_json(L, -1, under_file), "is not a folder",
               "result api: a path that cannot be written is an error status with the message");
    expect_err(L, lrelua_result_plot(L, -1, "r.gif"), "r.gif",
               "result api: an unknown figure format is an error naming it");
    lua_pushinteger(L, 5);
    expect_err(L, lrelua_result_save_json(L, -1, json), "not a result table",
               "result api: save_json on a number is an error, not a crash");
    lua_pop(L, 1);
    CHECK(lrelua_result_suggestion(L, -1, "steepest", NULL, NULL) == 1,
          "result api: the result is still there after the errors", "it is not");
    remove(json);
    remove(png);
    rmdir(dir);
    lua_close(L);
}

int main(void)
{
    test_open();
    test_ctx();
    test_push();
    test_custom();
    test_range_custom();
    test_range_engine();
    test_result_api();
    return chk_done("test_embed");
}
