/*
 * lua_core.c — the bottom of the binding `lrengine.core`: the one engine
 * context per Lua state (kept in the registry, created on first use or
 * given by a C host with lrelua_use_ctx), its configuration (core.configure
 * and friends), and the helpers every object family uses (boxes and the
 * one close they share, option tables, numbers, errors). It calls no other
 * file of the binding; the module itself is put together in lua_embed.c.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrelua.h"

/* ------------------------------------------------------------ context */

#define CTXBOX "lrengine.context"

/* The registry entry: the options the context will be (or was) made with,
 * and the context once made, as the box's ctx (its reference, released by
 * the common close; obj.p stays NULL). Objects retain the context
 * themselves, so collecting this box first does no harm. */
typedef struct ctxbox {
    lrelua_obj obj;
    lre_ctx_opts opts;
    lre_precision precision; /* trainers' default (--precision, configure) */
    int quiet;
    int host;     /* options came from the `lrengine` command */
    int given;    /* ctx came from a C host (lrelua_use_ctx), not made here */
    long long grid_index; /* --grid-index (0: none): lrengine.grid runs that value alone */
    uint64_t accounted; /* the engine's live bytes the collector was last told of */
} ctxbox;

static const lrelua_class ctxbox_class = {CTXBOX, "context", NULL, NULL};

static const char ctxkey = 'c'; /* its address is the registry key */

static ctxbox *getbox(lua_State *L) {
    ctxbox *b;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ctxkey) == LUA_TUSERDATA) {
        b = (ctxbox *)lua_touserdata(L, -1);
    } else {
        lua_pop(L, 1);
        b = (ctxbox *)lua_newuserdatauv(L, sizeof *b, 0);
        b->obj.p = NULL;
        b->obj.ctx = NULL;
        b->opts = lre_ctx_opts_default();
        b->precision = LRE_PRECISION_FP32;
        b->quiet = b->host = b->given = 0;
        b->accounted = 0;
        b->grid_index = 0;
        if (luaL_getmetatable(L, CTXBOX) == LUA_TNIL)
            lrelua_newboxclass(L, &ctxbox_class, NULL, NULL);
        lua_pop(L, 1);
        luaL_setmetatable(L, CTXBOX);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &ctxkey);
    }
    lua_pop(L, 1); /* the registry keeps it alive */
    return b;
}

lre_ctx *lrelua_ctx(lua_State *L) {
    ctxbox *b = getbox(L);
    if (b->obj.ctx == NULL) {
        char err[256] = "";
        if (lre_ctx_new_err(&b->obj.ctx, &b->opts, err, sizeof err) != LRE_OK) {
            b->obj.ctx = NULL;
            luaL_error(L, "cannot create the lrengine context on %s: %s",
                       lre_device_name(b->opts.device), err);
        }
    }
    return b->obj.ctx;
}

static void checkdevice(lua_State *L, lre_device d) {
    if (!lre_device_compiled(d))
        luaL_error(L, "device '%s' is not compiled into this build of lrengine",
                   lre_device_name(d));
}

void lrelua_setoptions(lua_State *L, const lre_ctx_opts *o, int quiet) {
    ctxbox *b = getbox(L);
    checkdevice(L, o->device);
    b->opts = *o;
    b->quiet = quiet;
    b->host = 1;
}

uint64_t lrelua_defaultseed(lua_State *L) {
    return getbox(L)->opts.seed;
}

void lrelua_setprecision(lua_State *L, lre_precision p) {
    if ((unsigned)p >= LRE_PRECISION_COUNT) luaL_error(L, "unknown precision %d", (int)p);
    getbox(L)->precision = p;
}

void lrelua_setgridindex(lua_State *L, long long i) { getbox(L)->grid_index = i; }

lre_precision lrelua_defaultprecision(lua_State *L) {
    return getbox(L)->precision;
}

/* The state's engine objects live in `ctx` from now on (see
 * lrengine_lua.h: lrelua_use_ctx). */
void lrelua_setctx(lua_State *L, lre_ctx *ctx, const char *fname) {
    ctxbox *b = getbox(L);
    if (ctx == NULL) luaL_error(L, "%s: the context is NULL", fname);
    if (b->obj.ctx == ctx) return;
    if (b->obj.ctx && b->given)
        luaL_error(L, "%s: this Lua state already uses another engine context (one per state; "
                      "make every object the state sees in the context given to lrelua_use_ctx)",
                   fname);
    if (b->obj.ctx)
        luaL_error(L, "%s: this Lua state has already made its own engine context (something "
                      "in it used the engine); call lrelua_use_ctx before making any dataset, "
                      "model or trainer in the state", fname);
    lre_ctx_retain(ctx);
    b->obj.ctx = ctx;
    b->given = 1;
    b->opts.device = lre_ctx_device(ctx);
}

void lrelua_checkhostctx(lua_State *L, lre_ctx *ctx, const char *fname) {
    ctxbox *b = getbox(L);
    if (b->obj.ctx == NULL) lrelua_setctx(L, ctx, fname);
    else if (b->obj.ctx != ctx)
        luaL_error(L, "%s: the object was made in another engine context than this Lua "
                      "state's (give the state that context with lrelua_use_ctx before making "
                      "anything in it)", fname);
}

/* core.configure{device=, seed=, threads=, quiet=, precision=}: the
 * context's options before the first object is made (afterwards only a
 * call that changes none of them is accepted); precision, the default of
 * trainers made from now on, at any time. */
static int core_configure(lua_State *L) {
    static const char *const valid[] = {"device", "seed", "threads", "quiet", "precision", NULL};
    ctxbox *b = getbox(L);
    lre_ctx_opts o = b->opts;
    int quiet = b->quiet;
    if (!lrelua_checkopts(L, 1, "configure", valid)) return 0;
    lre_precision prec = lrelua_optprecision(L, 1, "configure", b->precision);
    o.device = lrelua_optdevice(L, 1, "configure", o.device);
    lua_Integer seed = lrelua_optinteger(L, 1, "configure", "seed", (lua_Integer)o.seed);
    if (seed < 0) return luaL_error(L, "configure: option 'seed' must be non-negative");
    o.seed = (uint64_t)seed;
    lua_Integer th = lrelua_optinteger(L, 1, "configure", "threads", o.threads);
    if (th < 0 || th > 4096)
        return luaL_error(L, "configure: option 'threads' = %I is out of range 0..4096", th);
    o.threads = (int)th;
    quiet = lrelua_optboolean(L, 1, "configure", "quiet", quiet);
    if (b->obj.ctx && (o.device != b->opts.device || o.seed != b->opts.seed ||
                   o.threads != b->opts.threads))
        return luaL_error(L, b->given
                                 ? "configure: the engine context was given by the host "
                                   "program (lrelua_use_ctx), which configured it"
                                 : "configure: the engine context is already in use; "
                                   "configure it before making any dataset, model or trainer");
    if (!b->obj.ctx && o.device != LRE_DEVICE_CPU) {
        /* say now, at the configure call, when the device cannot be had */
        char err[512] = "";
        lre_ctx *probe = NULL;
        if (lre_ctx_new_err(&probe, &o, err, sizeof err) != LRE_OK)
            return luaL_error(L, "configure: device '%s' is not available: %s",
                              lre_device_name(o.device), err);
        lre_ctx_release(probe);
    }
    b->opts = o;
    b->quiet = quiet;
    b->precision = prec;
    return 0;
}

/* core.options() -> {device=, seed=, threads=, quiet=, precision=, host=,
 * grid_index= (only when --grid-index was given)} */
static int core_options(lua_State *L) {
    ctxbox *b = getbox(L);
    lua_createtable(L, 0, 6);
    lua_pushstring(L, lre_device_name(b->opts.device));
    lua_setfield(L, -2, "device");
    lua_pushstring(L, lre_precision_name(b->precision));
    lua_setfield(L, -2, "precision");
    lua_pushinteger(L, (lua_Integer)b->opts.seed);
    lua_setfield(L, -2, "seed");
    lua_pushinteger(L, b->opts.threads);
    lua_setfield(L, -2, "threads");
    lua_pushboolean(L, b->quiet);
    lua_setfield(L, -2, "quiet");
    lua_pushboolean(L, b->host);
    lua_setfield(L, -2, "host");
    if (b->grid_index > 0) {
        lua_pushinteger(L, (lua_Integer)b->grid_index);
        lua_setfield(L, -2, "grid_index");
    }
    return 1;
}

static int core_device_compiled(lua_State *L) {
    static const char *const devices[] = {"cpu", "cuda", NULL};
    int i = luaL_checkoption(L, 1, NULL, devices);
    lua_pushboolean(L, lre_device_compiled(i == 0 ? LRE_DEVICE_CPU : LRE_DEVICE_CUDA));
    return 1;
}

/* Host allocations the engine made so far (tests prove a step makes none). */
static int core_alloc_count(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)lre_ctx_alloc_count(lrelua_ctx(L)));
    return 1;
}

static int core_bytes_live(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)lre_ctx_bytes_live(lrelua_ctx(L)));
    return 1;
}

/* -------------------------------------------------------------- boxes */

/* The collector sees a small box per engine object, not the megabytes
 * behind it (a snapshot holds the parameters and optimizer state; a
 * dataset its rows), so a loop dropping them would grow without bound
 * before a cycle ran. Each new object first tells the collector of what the
 * engine's live memory grew by since it last did (lua_gc's step "as if n KB
 * were allocated"), at least LRELUA_GC_NUDGE bytes at a time, unless the
 * program stopped the collector. */
#define LRELUA_GC_NUDGE ((uint64_t)256 << 10)
static void gc_nudge(lua_State *L, ctxbox *b) {
    if (b->obj.ctx == NULL) return;
    uint64_t live = lre_ctx_bytes_live(b->obj.ctx);
    if (live < b->accounted) b->accounted = live;
    uint64_t grew = live - b->accounted;
    if (grew < LRELUA_GC_NUDGE || !lua_gc(L, LUA_GCISRUNNING)) return;
    b->accounted = live;
    uint64_t kb = grew >> 10;
    lua_gc(L, LUA_GCSTEP, (int)(kb > INT_MAX ? INT_MAX : kb));
    /* what the cycle freed lowers the mark for the next nudge */
    live = lre_ctx_bytes_live(b->obj.ctx);
    if (live < b->accounted) b->accounted = live;
}

lrelua_obj *lrelua_newobj(lua_State *L, const lrelua_class *c, int nuv) {
    lre_ctx *ctx = lrelua_ctx(L);
    gc_nudge(L, getbox(L));
    lrelua_obj *o = (lrelua_obj *)lua_newuserdatauv(L, sizeof *o, nuv);
    o->p = NULL;
    o->ctx = NULL;
    luaL_setmetatable(L, c->tname);
    lre_ctx_retain(ctx);
    o->ctx = ctx;
    return o;
}

void *lrelua_checkobj(lua_State *L, int arg, const lrelua_class *c) {
    lrelua_obj *o = (lrelua_obj *)luaL_checkudata(L, arg, c->tname);
    if (o->p == NULL) luaL_error(L, "attempt to use a closed %s", c->what);
    return o->p;
}

void *lrelua_checkfield(lua_State *L, int idx, const char *fname, const char *name,
                        const lrelua_class *c, const char *hint) {
    lrelua_obj *o = (lrelua_obj *)luaL_testudata(L, idx, c->tname);
    if (o == NULL)
        luaL_error(L, "%s: option '%s' is %s, expected %s (%s)", fname, name,
                   lrelua_typephrase(L, idx), c->tname, hint);
    if (o->p == NULL) luaL_error(L, "%s: option '%s' is a closed %s", fname, name, c->what);
    return o->p;
}

int lrelua_fail(lua_State *L, lre_ctx *ctx) {
    const char *msg = lre_ctx_error(ctx);
    return luaL_error(L, "%s", msg && *msg ? msg : "the engine failed without a message");
}

void lrelua_newclass(lua_State *L, const char *tname, const luaL_Reg *meta,
                     const luaL_Reg *methods) {
    luaL_newmetatable(L, tname);
    if (meta) luaL_setfuncs(L, meta, 0);
    if (methods) {
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}

/* The class of a box function: its upvalue (see lrelua_newboxclass). */
static const lrelua_class *upclass(lua_State *L) {
    return (const lrelua_class *)lua_touserdata(L, lua_upvalueindex(1));
}

/* __gc, __close and box:close() of every class of boxes. */
static int closebox(lua_State *L) {
    const lrelua_class *c = upclass(L);
    lrelua_obj *o = (lrelua_obj *)luaL_checkudata(L, 1, c->tname);
    void *p = o->p;
    lre_ctx *ctx = o->ctx;
    o->p = NULL; /* closed before releasing: once, even if the release came back here */
    o->ctx = NULL;
    if (p && c->release) c->release(p, o);
    if (ctx) lre_ctx_release(ctx);
    return 0;
}

static int tostringbox(lua_State *L) {
    const lrelua_class *c = upclass(L);
    lrelua_obj *o = (lrelua_obj *)luaL_checkudata(L, 1, c->tname);
    if (o->p == NULL) lua_pushfstring(L, "%s (closed)", c->tname);
    else if (c->describe) c->describe(L, o->p);
    else lua_pushstring(L, c->tname);
    return 1;
}

void lrelua_newboxclass(lua_State *L, const lrelua_class *c, const luaL_Reg *meta,
                        const luaL_Reg *methods) {
    static const luaL_Reg boxmeta[] = {
        {"__gc", closebox},
        {"__close", closebox},
        {"__tostring", tostringbox},
        {NULL, NULL}
    };
    static const luaL_Reg boxmethods[] = {
        {"close", closebox},
        {NULL, NULL}
    };
    static const luaL_Reg nomethods[] = {{NULL, NULL}};
    lrelua_newclass(L, c->tname, meta, methods ? methods : nomethods);
    luaL_getmetatable(L, c->tname);
    lua_pushlightuserdata(L, (void *)c);
    luaL_setfuncs(L, boxmeta, 1);
    lua_getfield(L, -1, "__index");
    lua_pushlightuserdata(L, (void *)c);
    luaL_setfuncs(L, boxmethods, 1);
    lua_pop(L, 2);
}

/* ---------------------------------------------------- option tables */

const char *lrelua_num(lua_State *L, double v) {
    char buf[40];
    snprintf(buf, sizeof buf, "%.14g", v);
    return lua_pushstring(L, buf);
}

double lrelua_shortest(float f) {
    char buf[32];
    for (int digits = 6; digits < 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
        double d = strtod(buf, NULL);
        if ((float)d == f) return d;
    }
    return f;
}

const char *lrelua_typephrase(lua_State *L, int idx) {
    const char *name = NULL;
    if (lua_type(L, idx) == LUA_TUSERDATA && luaL_getmetafield(L, idx, "__name") != LUA_TNIL) {
        name = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    if (name == NULL) name = luaL_typename(L, idx);
    return lua_pushfstring(L, "%s %s", strchr("aeio", name[0]) ? "an" : "a", name);
}

const char *lrelua_checkpath(lua_State *L, int arg, const char *fname) {
    size_t n;
    const char *s = luaL_checklstring(L, arg, &n);
    size_t k = strlen(s);
    if (k != n)
        luaL_error(L, "%s: path contains a NUL byte (byte %d of %d); a file name cannot hold one",
                   fname, (int)k + 1, (int)n);
    return s;
}

int lrelua_checkopts(lua_State *L, int arg, const char *fname, const char *const valid[]) {
    if (lua_isnoneornil(L, arg)) return 0;
    luaL_checktype(L, arg, LUA_TTABLE);
    arg = lua_absindex(L, arg);
    lua_pushnil(L);
    while (lua_next(L, arg)) {
        int known = 0;
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -1);
            for (int i = 0; valid[i] && !known; i++) known = strcmp(valid[i], k) == 0;
        }
        if (!known) {
            luaL_Buffer b;
            int keyidx = lua_gettop(L);
            luaL_buffinit(L, &b);
            for (int i = 0; valid[i]; i++) {
                if (i) luaL_addstring(&b, ", ");
                luaL_addstring(&b, valid[i]);
            }
            if (valid[0] == NULL) luaL_addstring(&b, "none");
            luaL_pushresult(&b);
            if (lua_type(L, keyidx) == LUA_TSTRING)
                return luaL_error(L, "%s: unknown option '%s' (valid options: %s)", fname,
                                  lua_tostring(L, keyidx), lua_tostring(L, -1));
            const char *key = luaL_tolstring(L, keyidx, NULL);
            return luaL_error(L, "%s: options are named, found a value at key [%s] "
                                 "(valid options: %s)", fname, key, lua_tostring(L, -2));
        }
    }
    return 1;
}

static int typeerror(lua_State *L, const char *fname, const char *name, const char *expected) {
    return luaL_error(L, "%s: option '%s' is %s, expected %s", fname, name,
                      lrelua_typephrase(L, -1), expected);
}

lua_Number lrelua_optnumber(lua_State *L, int t, const char *fname, const char *name,
                            lua_Number def) {
    if (t == 0 || lua_getfield(L, t, name) == LUA_TNIL) {
        if (t) lua_pop(L, 1);
        return def;
    }
    if (lua_type(L, -1) != LUA_TNUMBER) typeerror(L, fname, name, "a number");
    lua_Number v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

lua_Integer lrelua_optinteger(lua_State *L, int t, const char *fname, const char *name,
                              lua_Integer def) {
    if (t == 0 || lua_getfield(L, t, name) == LUA_TNIL) {
        if (t) lua_pop(L, 1);
        return def;
    }
    if (lua_type(L, -1) != LUA_TNUMBER) typeerror(L, fname, name, "an integer");
    int isint;
    lua_Integer v = lua_tointegerx(L, -1, &isint);
    if (!isint)
        luaL_error(L, "%s: option '%s' = %s is not an integer", fname, name,
                   luaL_tolstring(L, -1, NULL));
    lua_pop(L, 1);
    return v;
}

int lrelua_optboolean(lua_State *L, int t, const char *fname, const char *name, int def) {
    if (t == 0 || lua_getfield(L, t, name) == LUA_TNIL) {
        if (t) lua_pop(L, 1);
        return def;
    }
    if (lua_type(L, -1) != LUA_TBOOLEAN) typeerror(L, fname, name, "a boolean");
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

lre_device lrelua_optdevice(lua_State *L, int t, const char *fname, lre_device def) {
    if (t == 0 || lua_getfield(L, t, "device") == LUA_TNIL) {
        if (t) lua_pop(L, 1);
        return def;
    }
    const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    lre_device d;
    if (strcmp(name, "cpu") == 0) d = LRE_DEVICE_CPU;
    else if (strcmp(name, "cuda") == 0) d = LRE_DEVICE_CUDA;
    else return (lre_device)luaL_error(L, "%s: option 'device' must be \"cpu\" or \"cuda\"", fname);
    lua_pop(L, 1);
    checkdevice(L, d);
    return d;
}

lre_precision lrelua_optprecision(lua_State *L, int t, const char *fname, lre_precision def) {
    if (t == 0 || lua_getfield(L, t, "precision") == LUA_TNIL) {
        if (t) lua_pop(L, 1);
        return def;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        typeerror(L, fname, "precision", "a string (\"fp32\", \"tf32\" or \"bf16\")");
    const char *name = lua_tostring(L, -1);
    for (int p = 0; p < LRE_PRECISION_COUNT; p++)
        if (strcmp(name, lre_precision_name((lre_precision)p)) == 0) {
            lua_pop(L, 1);
            return (lre_precision)p;
        }
    return (lre_precision)luaL_error(L, "%s: option 'precision' = \"%s\" is not a precision "
                                        "(fp32, tf32 or bf16)", fname, name);
}

lre_task lrelua_opttask(lua_State *L, int t, const char *fname, lre_task def) {
    if (t == 0 || lua_getfield(L, t, "task") == LUA_TNIL) {
        if (t) lua_pop(L, 1);
        return def;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        typeerror(L, fname, "task", "a string (\"classification\" or \"regression\")");
    const char *name = lua_tostring(L, -1);
    for (int k = LRE_TASK_CLASSIFICATION; k <= LRE_TASK_REGRESSION; k++)
        if (strcmp(name, lre_task_name((lre_task)k)) == 0) {
            lua_pop(L, 1);
            return (lre_task)k;
        }
    return (lre_task)luaL_error(L, "%s: option 'task' = \"%s\" is not a task (\"classification\": "
                                   "integer class labels, or \"regression\": float targets)",
                                fname, name);
}

uint64_t lrelua_checkseed(lua_State *L, int arg) {
    lua_Integer s = luaL_checkinteger(L, arg);
    luaL_argcheck(L, s >= 0, arg, "seed must be a non-negative integer");
    return (uint64_t)s;
}

uint64_t lrelua_optseed(lua_State *L, int arg, uint64_t def) {
    return lua_isnoneornil(L, arg) ? def : lrelua_checkseed(L, arg);
}

/* ------------------------------------------------------------ module */

static const luaL_Reg corefuncs[] = {
    {"configure", core_configure},
    {"options", core_options},
    {"device_compiled", core_device_compiled},
    {"alloc_count", core_alloc_count},
    {"bytes_live", core_bytes_live},
    {NULL, NULL}
};

void lrelua_open_context(lua_State *L) {
    luaL_setfuncs(L, corefuncs, 0);
    lua_pushstring(L, lre_version());
    lua_setfield(L, -2, "version");
    lua_pushstring(L, LUA_RELEASE);
    lua_setfield(L, -2, "lua_version");
}
