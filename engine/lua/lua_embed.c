/*
 * lua_embed.c — the API of lrengine_lua.h, the top of the binding: the
 * module lrengine.core made of every family, opening it in a C program's
 * Lua state, giving the state the program's engine context, pushing the
 * program's trainers and datasets (boxed where their classes live:
 * lrelua_boxtrainer, lrelua_boxdataset), a trainer backed by the program's
 * own callbacks (lrengine.custom_trainer) and a protected call of the
 * finder.
 *
 * The functions that return a status run their work under lua_pcall, so
 * a C host gets a message on the stack instead of a panic.
 */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrelua.h"

#define CUSTOM_TRAINER  "lrengine.custom_trainer"
#define CUSTOM_SNAPSHOT "lrengine.custom_snapshot"

/* Runs f(ud) under lua_pcall; leaves nothing (LUA_OK) or the message. */
static int protect(lua_State *L, lua_CFunction f, void *ud) {
    lua_pushcfunction(L, f);
    lua_pushlightuserdata(L, ud);
    return lua_pcall(L, 1, 0, 0);
}

/* -------------------------------------------------------------- module */

int luaopen_lrengine_core(lua_State *L) {
    luaL_checkversion(L);
    lua_newtable(L);
    lrelua_open_context(L);
    lrelua_open_data(L);
    lrelua_open_loaders(L);
    lrelua_open_nn(L);
    lrelua_open_optim(L);
    lrelua_open_trainer(L);
    lrelua_open_json(L);
    lrelua_open_plot(L);
    return 1;
}

/* ------------------------------------------------------------- opening */

/* Where `make install` put the Lua modules (<prefix>/share/lua/5.4),
 * compiled in; a build outside make has none. */
#ifdef LRE_INSTALL_PREFIX
#define LRE_INSTALLED_LUA_DIR LRE_INSTALL_PREFIX "/share/lua/5.4"
#else
#define LRE_INSTALLED_LUA_DIR NULL
#endif

/* The folder of the Lua modules beside this library when it is a shared
 * one (<dir>/liblrengine_lua.so -> <dir>/../share/lua/5.4, when that holds
 * lrengine/finder.lua): an install moved elsewhere still finds its
 * modules. Pushed, or nothing pushed and 0. */
static int push_beside_library(lua_State *L) {
    Dl_info info;
    if (!dladdr((void *)&lrelua_open, &info) || !info.dli_fname) return 0;
    const char *lib = info.dli_fname, *slash = strrchr(lib, '/');
    if (!slash || !strstr(slash, ".so")) return 0; /* a program, not the shared library */
    lua_pushfstring(L, "%s", lib);
    lua_pushlstring(L, lib, (size_t)(slash - lib));
    lua_pushfstring(L, "%s/../share/lua/5.4", lua_tostring(L, -1));
    lua_pushfstring(L, "%s/lrengine/finder.lua", lua_tostring(L, -1));
    FILE *f = fopen(lua_tostring(L, -1), "r");
    lua_pop(L, 1);
    if (!f) {
        lua_pop(L, 3);
        return 0;
    }
    fclose(f);
    lua_replace(L, -3);
    lua_pop(L, 1);
    return 1;
}

/* Does package.path (at the top of the stack: the package table) already
 * find lrengine.finder? */
static int path_finds_finder(lua_State *L) {
    int top = lua_gettop(L);
    lua_getglobal(L, "package");
    int found = 0;
    if (lua_getfield(L, -1, "searchpath") == LUA_TFUNCTION) {
        lua_pushliteral(L, "lrengine.finder");
        lua_getfield(L, -3, "path");
        found = lua_pcall(L, 2, 1, 0) == LUA_OK && lua_isstring(L, -1);
    }
    lua_settop(L, top);
    return found;
}

static int open_call(lua_State *L) {
    const char *dir = *(const char **)lua_touserdata(L, 1);
    if (lua_getglobal(L, "package") != LUA_TTABLE)
        return luaL_error(L, "lrelua_open: the package library is not open (call "
                             "luaL_openlibs(L) first)");
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_lrengine_core);
    lua_setfield(L, -2, "lrengine.core");
    lua_pop(L, 1);
    if (dir == NULL) {
        /* the modules' folder: LRENGINE_LUA_PATH, else where package.path
         * already finds them, else where this library was installed */
        const char *env = getenv("LRENGINE_LUA_PATH");
        if (env && *env) dir = env;
        else if (path_finds_finder(L)) return 0;
        else if (push_beside_library(L)) {
            dir = lua_tostring(L, -1);
            lua_insert(L, -2); /* kept alive below the package table */
        }
        else dir = LRE_INSTALLED_LUA_DIR;
        if (dir == NULL)
            return luaL_error(L, "lrelua_open: lrengine's Lua modules are not on package.path "
                                 "and this build has no install prefix: give their folder, "
                                 "or set LRENGINE_LUA_PATH");
    }
    /* a wrong directory fails here, by name, rather than at the first require */
    const char *probe = lua_pushfstring(L, "%s/lrengine/finder.lua", dir);
    FILE *f = fopen(probe, "r");
    if (f == NULL)
        return luaL_error(L, "lrelua_open: '%s' does not hold lrengine's Lua modules (no %s)",
                          dir, probe);
    fclose(f);
    lua_pop(L, 1);
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir,
                    lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
    lua_setfield(L, -3, "path");
    return 0;
}

int lrelua_open(lua_State *L, const char *lua_dir) {
    return protect(L, open_call, &lua_dir);
}

static int use_ctx_call(lua_State *L) {
    lrelua_setctx(L, (lre_ctx *)lua_touserdata(L, 1), "lrelua_use_ctx");
    return 0;
}

int lrelua_use_ctx(lua_State *L, lre_ctx *ctx) {
    return protect(L, use_ctx_call, ctx);
}

/* ------------------------------------------------- objects made in C */

/* Before an object made by the C host is boxed: opens lrengine.core if it
 * was not yet (its classes must exist), and checks the object's context. */
static void hostobj(lua_State *L, lre_ctx *ctx, const char *fname) {
    luaL_requiref(L, "lrengine.core", luaopen_lrengine_core, 0);
    lua_pop(L, 1);
    lrelua_checkhostctx(L, ctx, fname);
}

void lrelua_push_trainer(lua_State *L, lre_trainer *t) {
    if (t == NULL) luaL_error(L, "lrelua_push_trainer: the trainer is NULL");
    hostobj(L, lre_trainer_ctx(t), "lrelua_push_trainer");
    lrelua_boxtrainer(L, t);
}

void lrelua_push_dataset(lua_State *L, lre_dataset *d) {
    if (d == NULL) luaL_error(L, "lrelua_push_dataset: the dataset is NULL");
    hostobj(L, lre_dataset_ctx(d), "lrelua_push_dataset");
    lrelua_boxdataset(L, d);
}

/* ------------------------------------------------------ custom trainer */

typedef struct custom {
    lrelua_trainer_ops ops;
    void *user;
} custom;

/* A snapshot box: obj.p is the program's snapshot (NULL once freed; no
 * engine context: obj.ctx stays NULL), followed by what freeing it needs.
 * Its trainer is user value 1 (restore checks it; it keeps the trainer
 * alive). */
typedef struct customsnap {
    lrelua_obj obj;
    void (*free_snapshot)(void *user, void *snap);
    void *user;
} customsnap;

static void release_customsnap(void *snap, lrelua_obj *box) {
    customsnap *s = (customsnap *)box;
    if (s->free_snapshot) s->free_snapshot(s->user, snap);
}

static const lrelua_class customsnap_class = {CUSTOM_SNAPSHOT, "snapshot", release_customsnap,
                                              NULL};

static custom *checkcustom(lua_State *L) {
    return (custom *)luaL_checkudata(L, 1, CUSTOM_TRAINER);
}

/* Raises the program's message for a failed callback. */
static int callbackfail(lua_State *L, const custom *c, const char *what) {
    const char *msg = c->ops.error ? c->ops.error(c->user) : NULL;
    if (msg && *msg) return luaL_error(L, "%s", msg);
    return luaL_error(L, "%s failed", what);
}

/* t:step(lr) -> training loss */
static int custom_step(lua_State *L) {
    custom *c = checkcustom(L);
    lua_Number lr = luaL_checknumber(L, 2);
    luaL_argcheck(L, lr >= 0 && isfinite(lr), 2, "lr must be a non-negative finite number");
    double loss = 0;
    if (c->ops.step(c->user, lr, &loss) != 0) return callbackfail(L, c, "step");
    lua_pushnumber(L, loss);
    return 1;
}

/* t:evaluate([val]) -> the program's validation loss (val is ignored) */
static int custom_evaluate(lua_State *L) {
    custom *c = checkcustom(L);
    if (c->ops.evaluate == NULL)
        return luaL_error(L, "evaluate: this custom trainer has no evaluate callback "
                             "(lrelua_trainer_ops.evaluate is NULL), so it takes no validation "
                             "set");
    double loss = 0;
    if (c->ops.evaluate(c->user, &loss) != 0) return callbackfail(L, c, "evaluate");
    lua_pushnumber(L, loss);
    return 1;
}

static int custom_snapshot(lua_State *L) {
    custom *c = checkcustom(L);
    /* the box first, so a memory error cannot lose a snapshot */
    customsnap *s = (customsnap *)lua_newuserdatauv(L, sizeof *s, 1);
    s->obj.p = NULL;
    s->obj.ctx = NULL;
    s->free_snapshot = c->ops.free_snapshot;
    s->user = c->user;
    luaL_setmetatable(L, CUSTOM_SNAPSHOT);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    s->obj.p = c->ops.snapshot(c->user);
    if (s->obj.p == NULL) return callbackfail(L, c, "snapshot");
    return 1;
}

static int custom_restore(lua_State *L) {
    custom *c = checkcustom(L);
    void *snap = lrelua_checkobj(L, 2, &customsnap_class);
    lua_getiuservalue(L, 2, 1);
    if (!lua_rawequal(L, -1, 1))
        return luaL_argerror(L, 2, "the snapshot was taken from another trainer");
    if (c->ops.restore(c->user, snap) != 0) return callbackfail(L, c, "restore");
    return 0;
}

static int custom_tostring(lua_State *L) {
    checkcustom(L);
    lua_pushliteral(L, CUSTOM_TRAINER);
    return 1;
}

static const luaL_Reg custom_meta[] = {
    {"__tostring", custom_tostring},
    {NULL, NULL}
};

static const luaL_Reg custom_methods[] = {
    {"step", custom_step},
    {"evaluate", custom_evaluate},
    {"snapshot", custom_snapshot},
    {"restore", custom_restore},
    {NULL, NULL}
};

void lrelua_push_custom_trainer(lua_State *L, const lrelua_trainer_ops *ops, void *user) {
    if (ops == NULL) luaL_error(L, "lrelua_push_custom_trainer: ops is NULL");
    const char *missing = !ops->step ? "step" : !ops->snapshot ? "snapshot"
                        : !ops->restore ? "restore" : NULL;
    if (missing)
        luaL_error(L, "lrelua_push_custom_trainer: ops->%s is NULL (step, snapshot and "
                      "restore are required)", missing);
    if (luaL_getmetatable(L, CUSTOM_TRAINER) == LUA_TNIL) {
        lrelua_newclass(L, CUSTOM_TRAINER, custom_meta, custom_methods);
        lrelua_newboxclass(L, &customsnap_class, NULL, NULL);
    }
    lua_pop(L, 1);
    custom *c = (custom *)lua_newuserdatauv(L, sizeof *c, 0);
    c->ops = *ops;
    c->user = user;
    luaL_setmetatable(L, CUSTOM_TRAINER);
}

/* ---------------------------------------------------------- range test */

/* 1: the trainer, 2: the options (a table or nil) */
static int range_test_call(lua_State *L) {
    if (!lua_isnoneornil(L, 2) && !lua_istable(L, 2))
        return luaL_error(L, "lrelua_range_test: the options are %s, expected a table",
                          lrelua_typephrase(L, 2));
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lrengine.finder");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "range_test");
    lua_newtable(L);
    if (lua_istable(L, 2)) {
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_settable(L, -4);
        }
    }
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "trainer");
    lua_call(L, 1, 1);
    return 1;
}

/* An error object that prints (the range test's interrupt carries its
 * partial result) becomes its string: the C caller gets a message. */
static int message_of(lua_State *L) {
    if (!lua_isstring(L, 1) && luaL_callmeta(L, 1, "__tostring") &&
        lua_type(L, -1) == LUA_TSTRING)
        return 1;
    lua_settop(L, 1);
    return 1;
}

int lrelua_range_test(lua_State *L, int trainer_idx, int opts_idx) {
    trainer_idx = lua_absindex(L, trainer_idx);
    opts_idx = opts_idx ? lua_absindex(L, opts_idx) : 0;
    lua_pushcfunction(L, message_of);
    int h = lua_gettop(L);
    lua_pushcfunction(L, range_test_call);
    lua_pushvalue(L, trainer_idx);
    if (opts_idx) lua_pushvalue(L, opts_idx);
    else lua_pushnil(L);
    int st = lua_pcall(L, 2, 1, h);
    lua_remove(L, h);
    return st;
}

/* ------------------------------------------------------- result API */

/* result[key] pushed (rawget, no metamethods); nil when idx is no table. */
static int rawfield(lua_State *L, int idx, const char *key) {
    if (lua_type(L, idx) != LUA_TTABLE) {
        lua_pushnil(L);
        return LUA_TNIL;
    }
    lua_pushstring(L, key);
    return lua_rawget(L, idx);
}

int lrelua_result_suggestion(lua_State *L, int idx, const char *name, double *lr,
                             int64_t *index) {
    idx = lua_absindex(L, idx);
    int top = lua_gettop(L), found = 0;
    if (name && rawfield(L, idx, "suggestions") == LUA_TTABLE &&
        rawfield(L, top + 1, name) == LUA_TTABLE) {
        int s = top + 2;
        rawfield(L, s, "lr");
        rawfield(L, s, "index");
        int isnum = 0;
        lua_Integer k = lua_tointegerx(L, -1, &isnum);
        if (lua_type(L, -2) == LUA_TNUMBER) {
            found = 1;
            if (lr) *lr = lua_tonumber(L, -2);
            if (index) *index = isnum ? (int64_t)k : 0;
        }
    }
    lua_settop(L, top);
    return found;
}

const char *lrelua_result_reason(lua_State *L, int idx, const char *name) {
    idx = lua_absindex(L, idx);
    int top = lua_gettop(L);
    const char *r = NULL;
    if (name && rawfield(L, idx, "suggestions") == LUA_TTABLE &&
        rawfield(L, top + 1, name) == LUA_TTABLE) {
        /* the strings stay alive while the result table holds them */
        if (rawfield(L, top + 2, "reason") == LUA_TSTRING) {
            r = lua_tostring(L, -1);
        } else {
            lua_pop(L, 1);
            if (rawfield(L, top + 2, "error") == LUA_TSTRING) r = lua_tostring(L, -1);
        }
    }
    lua_settop(L, top);
    return r;
}

size_t lrelua_result_curve(lua_State *L, int idx, const char *which, double *out, size_t cap) {
    idx = lua_absindex(L, idx);
    int top = lua_gettop(L);
    size_t n = 0;
    if (which && rawfield(L, idx, which) == LUA_TTABLE) {
        n = (size_t)lua_rawlen(L, -1);
        for (size_t i = 0; i < n && i < cap && out; i++) {
            lua_rawgeti(L, top + 1, (lua_Integer)i + 1);
            out[i] = lua_type(L, -1) == LUA_TNUMBER ? (double)lua_tonumber(L, -1) : NAN;
            lua_pop(L, 1);
        }
    }
    lua_settop(L, top);
    return n;
}

const char *lrelua_result_stop_reason(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    int top = lua_gettop(L);
    const char *r = rawfield(L, idx, "stop_reason") == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    lua_settop(L, top);
    return r; /* the result table keeps the string alive */
}

/* result:METHOD(path) under pcall: the method's name at 1, the result at
 * 2, the path at 3. */
static int result_method_call(lua_State *L) {
    const char *method = lua_tostring(L, 1);
    if (lua_type(L, 2) != LUA_TTABLE) return luaL_error(L, "%s: not a result table", method);
    if (lua_getfield(L, 2, method) != LUA_TFUNCTION)
        return luaL_error(L, "%s: the result has no %s method (not a lrengine.results table)",
                          method, method);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_call(L, 2, 0);
    return 0;
}

static int result_method(lua_State *L, int idx, const char *method, const char *path) {
    idx = lua_absindex(L, idx);
    lua_pushcfunction(L, message_of);
    int h = lua_gettop(L);
    lua_pushcfunction(L, result_method_call);
    lua_pushstring(L, method);
    lua_pushvalue(L, idx);
    if (path) lua_pushstring(L, path);
    else lua_pushnil(L);
    int st = lua_pcall(L, 3, 0, h);
    lua_remove(L, h);
    return st;
}

int lrelua_result_save_json(lua_State *L, int idx, const char *path) {
    return result_method(L, idx, "save_json", path);
}

int lrelua_result_save_csv(lua_State *L, int idx, const char *path) {
    return result_method(L, idx, "save_csv", path);
}

int lrelua_result_plot(lua_State *L, int idx, const char *path) {
    return result_method(L, idx, "plot", path);
}
