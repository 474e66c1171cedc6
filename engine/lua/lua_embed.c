/*
 * lua_embed.c — the embedding API of lrengine_lua.h: opening lrengine in a
 * C program's Lua state, giving it the program's engine context, a trainer
 * backed by the program's own callbacks (lrengine.custom_trainer) and a
 * protected call of the finder. The boxes of engine objects made in C are
 * made where their classes live (lrelua_push_trainer in lua_trainer.c,
 * lrelua_push_dataset in lua_data.c).
 *
 * The functions that return a status run their work under lua_pcall, so
 * a C host gets a message on the stack instead of a panic.
 */
#include <math.h>
#include <stdio.h>

#include "lrelua.h"

#define CUSTOM_TRAINER  "lrengine.custom_trainer"
#define CUSTOM_SNAPSHOT "lrengine.custom_snapshot"

/* Runs f(ud) under lua_pcall; leaves nothing (LUA_OK) or the message. */
static int protect(lua_State *L, lua_CFunction f, void *ud) {
    lua_pushcfunction(L, f);
    lua_pushlightuserdata(L, ud);
    return lua_pcall(L, 1, 0, 0);
}

/* ------------------------------------------------------------- opening */

static int open_call(lua_State *L) {
    const char *dir = *(const char **)lua_touserdata(L, 1);
    if (lua_getglobal(L, "package") != LUA_TTABLE)
        return luaL_error(L, "lrelua_open: the package library is not open (call "
                             "luaL_openlibs(L) first)");
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_lrengine_core);
    lua_setfield(L, -2, "lrengine.core");
    lua_pop(L, 1);
    if (dir == NULL) return 0;
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
    lrelua_usectx(L, (lre_ctx *)lua_touserdata(L, 1), "lrelua_use_ctx");
    return 0;
}

int lrelua_use_ctx(lua_State *L, lre_ctx *ctx) {
    return protect(L, use_ctx_call, ctx);
}

/* ------------------------------------------------------ custom trainer */

typedef struct custom {
    lrelua_trainer_ops ops;
    void *user;
} custom;

/* A snapshot keeps what freeing it needs, and its trainer as user value 1
 * (restore checks it; it keeps the trainer alive). */
typedef struct customsnap {
    void *snap;   /* NULL once freed */
    void (*free_snapshot)(void *user, void *snap);
    void *user;
} customsnap;

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
    s->snap = NULL;
    s->free_snapshot = c->ops.free_snapshot;
    s->user = c->user;
    luaL_setmetatable(L, CUSTOM_SNAPSHOT);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    s->snap = c->ops.snapshot(c->user);
    if (s->snap == NULL) return callbackfail(L, c, "snapshot");
    return 1;
}

static int custom_restore(lua_State *L) {
    custom *c = checkcustom(L);
    customsnap *s = (customsnap *)luaL_checkudata(L, 2, CUSTOM_SNAPSHOT);
    if (s->snap == NULL) return luaL_error(L, "attempt to use a closed snapshot");
    lua_getiuservalue(L, 2, 1);
    if (!lua_rawequal(L, -1, 1))
        return luaL_argerror(L, 2, "the snapshot was taken from another trainer");
    if (c->ops.restore(c->user, s->snap) != 0) return callbackfail(L, c, "restore");
    return 0;
}

static int custom_tostring(lua_State *L) {
    checkcustom(L);
    lua_pushliteral(L, CUSTOM_TRAINER);
    return 1;
}

static int snap_close(lua_State *L) {
    customsnap *s = (customsnap *)luaL_checkudata(L, 1, CUSTOM_SNAPSHOT);
    void *snap = s->snap;
    s->snap = NULL; /* once, even if free_snapshot were to come back here */
    if (snap && s->free_snapshot) s->free_snapshot(s->user, snap);
    return 0;
}

static int snap_tostring(lua_State *L) {
    customsnap *s = (customsnap *)luaL_checkudata(L, 1, CUSTOM_SNAPSHOT);
    lua_pushstring(L, s->snap ? CUSTOM_SNAPSHOT : CUSTOM_SNAPSHOT " (closed)");
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

static const luaL_Reg snap_meta[] = {
    {"__gc", snap_close},
    {"__close", snap_close},
    {"__tostring", snap_tostring},
    {NULL, NULL}
};

static const luaL_Reg snap_methods[] = {
    {"close", snap_close},
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
        lrelua_newclass(L, CUSTOM_SNAPSHOT, snap_meta, snap_methods);
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

int lrelua_range_test(lua_State *L, int trainer_idx, int opts_idx) {
    trainer_idx = lua_absindex(L, trainer_idx);
    opts_idx = opts_idx ? lua_absindex(L, opts_idx) : 0;
    lua_pushcfunction(L, range_test_call);
    lua_pushvalue(L, trainer_idx);
    if (opts_idx) lua_pushvalue(L, opts_idx);
    else lua_pushnil(L);
    return lua_pcall(L, 2, 1, 0);
}
