/*
 * lua_plot.c — the figure of a range test from Lua: a thin wrapper over
 * lre_plot_write (engine/plot.c). lua/lrengine/plot.lua builds the spec
 * from a result; this file only checks and converts it.
 *
 *   core.plot(path, spec)
 *     spec = {
 *       lrs = {...},                                   -- n numbers
 *       curves = { {label=, raw={...}, smoothed={...},  -- 1 to 8
 *                   band_lo={...}, band_hi={...}, band_label=}, ... },
 *       suggestions = { {name=, lr=, index=, curve=}, ... },  -- 1-based
 *       main_curve = 1,      -- the curve of the suggestions and the bottom panel
 *       per_curve = false,   -- a grid: each suggestion on its own `curve`
 *       verify = { {lr=, y=, lo=, hi=}, ... },  -- the third panel (optional)
 *       verify_winner = 1, verify_label = "val loss after 1 epoch",
 *       chosen = 1,          -- which suggestion is red (0: none)
 *       log_x = true, stop_reason = "diverged", planned_steps = 100,
 *       delta = "forward"|"central",   -- the bottom panel's difference
 *       title = "...", subtitle = "...",
 *       format = "png"|"svg"|"pdf" (default: from the path),
 *       width =, height =, dpi =, font_size =, raw_points = true,
 *     }
 *
 *
 *   core.plot_ticks(scale, lo, hi [, {thresh =, target =}])
 *     the ticks the figure puts on a "linear", "log" or "symlog" axis
 *     showing [lo, hi]: an array of {value =, label = (nil when minor)}
 *
 * Arrays are copied into userdata blocks (collected by Lua), so an error
 * halfway through a conversion leaks nothing. Errors name the spec field.
 */
#include <math.h>
#include <string.h>

#include "lrelua.h"
#include "lrengine_plot.h"

#define FN "plot"

/* A double array the garbage collector owns. */
static double *newarray(lua_State *L, size_t n)
{
    return (double *)lua_newuserdatauv(L, (n ? n : 1) * sizeof(double), 0);
}

/* The array field `name` of the table at t, exactly n numbers (n == 0: any
 * length, returned in *n). Leaves the block on the stack; NULL when the
 * field is absent and optional. */
static double *numbers(lua_State *L, int t, const char *name, const char *where, size_t *n,
                       int required)
{
    int tt = lua_getfield(L, t, name);
    if (tt == LUA_TNIL) {
        lua_pop(L, 1);
        if (required) luaL_error(L, FN ": %s needs '%s' (an array of numbers)", where, name);
        return NULL;
    }
    if (tt != LUA_TTABLE)
        luaL_error(L, FN ": %s.%s is %s, expected an array of numbers", where, name,
                   lrelua_typephrase(L, -1));
    size_t len = (size_t)luaL_len(L, -1);
    if (*n && len != *n)
        luaL_error(L, FN ": %s.%s has %d values, lrs has %d", where, name, (int)len, (int)*n);
    double *a = newarray(L, len);
    for (size_t i = 0; i < len; i++) {
        if (lua_geti(L, -2, (lua_Integer)i + 1) != LUA_TNUMBER)
            luaL_error(L, FN ": %s.%s[%d] is %s, expected a number", where, name, (int)i + 1,
                       lrelua_typephrase(L, -1));
        a[i] = (double)lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    lua_remove(L, -2); /* the table; the block stays */
    *n = len;
    return a;
}

static const char *optstring(lua_State *L, int t, const char *name, const char *where)
{
    int tt = lua_getfield(L, t, name);
    const char *s = NULL;
    if (tt == LUA_TSTRING) s = lua_tostring(L, -1); /* the spec keeps it alive */
    else if (tt != LUA_TNIL)
        luaL_error(L, FN ": %s.%s is %s, expected a string", where, name,
                   lrelua_typephrase(L, -1));
    lua_pop(L, 1);
    return s;
}

static int l_plot(lua_State *L)
{
    static const char *const valid[] = {
        "lrs", "curves", "suggestions", "chosen", "log_x", "stop_reason", "planned_steps",
        "title", "subtitle", "format", "width", "height", "dpi", "font_size", "raw_points",
        "delta", "main_curve", "per_curve", "verify", "verify_winner", "verify_label", NULL};
    const char *path = lrelua_checkpath(L, 1, FN);
    luaL_checktype(L, 2, LUA_TTABLE);
    lrelua_checkopts(L, 2, FN, valid);
    lua_settop(L, 2);
    luaL_checkstack(L, 64, "plot spec"); /* 8 curves: a table and 4 blocks each */

    lre_plot_data d = lre_plot_data_default();
    lre_plot_opts o = lre_plot_opts_default();
    size_t n = 0;
    d.lrs = numbers(L, 2, "lrs", "spec", &n, 1);
    d.n = n;
    if (n == 0) return luaL_error(L, FN ": the curve has no points (lrs is empty)");

    if (lua_getfield(L, 2, "curves") != LUA_TTABLE)
        return luaL_error(L, FN ": spec.curves must be an array of 1 to %d curves",
                          LRE_PLOT_MAX_CURVES);
    int curves = lua_gettop(L);
    lua_Integer nc = luaL_len(L, curves);
    if (nc < 1 || nc > LRE_PLOT_MAX_CURVES)
        return luaL_error(L, FN ": spec.curves has %d curves, expected 1 to %d", (int)nc,
                          LRE_PLOT_MAX_CURVES);
    d.num_curves = (int)nc;
    for (int c = 0; c < d.num_curves; c++) {
        char where[32];
        snprintf(where, sizeof where, "curves[%d]", c + 1);
        if (lua_geti(L, curves, c + 1) != LUA_TTABLE)
            return luaL_error(L, FN ": spec.%s is %s, expected a table", where,
                              lrelua_typephrase(L, -1));
        int ct = lua_gettop(L);
        d.curves[c].label = optstring(L, ct, "label", where);
        size_t m = n;
        d.curves[c].raw = numbers(L, ct, "raw", where, &m, 0);
        m = n;
        d.curves[c].smoothed = numbers(L, ct, "smoothed", where, &m, 0);
        if (!d.curves[c].raw && !d.curves[c].smoothed)
            return luaL_error(L, FN ": spec.%s needs 'raw' or 'smoothed'", where);
        m = n;
        d.curves[c].band_lo = numbers(L, ct, "band_lo", where, &m, 0);
        m = n;
        d.curves[c].band_hi = numbers(L, ct, "band_hi", where, &m, 0);
        if (!d.curves[c].band_lo != !d.curves[c].band_hi)
            return luaL_error(L, FN ": spec.%s needs both 'band_lo' and 'band_hi'", where);
        d.curves[c].band_label = optstring(L, ct, "band_label", where);
        /* the blocks and the curve table stay on the stack until the end */
    }

    lua_Integer mc = lrelua_optinteger(L, 2, FN, "main_curve", 1);
    if (mc < 1 || mc > d.num_curves)
        return luaL_error(L, FN ": spec.main_curve = %d is outside 1..%d", (int)mc, d.num_curves);
    d.main_curve = (int)mc - 1;
    d.per_curve = lrelua_optboolean(L, 2, FN, "per_curve", 0);
    int st = lua_getfield(L, 2, "suggestions");
    if (st == LUA_TTABLE) {
        int sidx = lua_gettop(L);
        size_t ns = (size_t)luaL_len(L, sidx);
        lre_plot_suggestion *s =
            (lre_plot_suggestion *)lua_newuserdatauv(L, (ns ? ns : 1) * sizeof *s, 0);
        int *sc = (int *)lua_newuserdatauv(L, (ns ? ns : 1) * sizeof *sc, 0);
        for (size_t i = 0; i < ns; i++) {
            char where[40];
            snprintf(where, sizeof where, "suggestions[%d]", (int)i + 1);
            if (lua_geti(L, sidx, (lua_Integer)i + 1) != LUA_TTABLE)
                return luaL_error(L, FN ": spec.%s is %s, expected {name=, lr=, index=}", where,
                                  lrelua_typephrase(L, -1));
            int e = lua_gettop(L);
            static const char *const skeys[] = {"name", "lr", "index", "curve", NULL};
            char fw[64];
            snprintf(fw, sizeof fw, FN ": spec.%s", where);
            lrelua_checkopts(L, e, fw, skeys);
            s[i].name = optstring(L, e, "name", where);
            s[i].lr = lrelua_optnumber(L, e, FN, "lr", NAN);
            lua_Integer idx = lrelua_optinteger(L, e, FN, "index", 0);
            if (idx < 1 || (size_t)idx > n)
                return luaL_error(L, FN ": spec.%s.index = %d is outside 1..%d", where, (int)idx,
                                  (int)n);
            s[i].index = (size_t)(idx - 1);
            lua_Integer cv = lrelua_optinteger(L, e, FN, "curve", mc);
            if (cv < 1 || cv > d.num_curves)
                return luaL_error(L, FN ": spec.%s.curve = %d is outside 1..%d", where, (int)cv,
                                  d.num_curves);
            sc[i] = (int)cv - 1;
            /* keep the table (and its name) referenced: it is in the spec */
            lua_pop(L, 1);
        }
        d.suggestions = s;
        d.num_suggestions = ns;
        d.suggestion_curves = sc;
    } else if (st != LUA_TNIL) {
        return luaL_error(L, FN ": spec.suggestions must be an array");
    }

    int vt = lua_getfield(L, 2, "verify");
    if (vt == LUA_TTABLE) {
        int vidx = lua_gettop(L);
        size_t nv = (size_t)luaL_len(L, vidx);
        lre_plot_point *v = (lre_plot_point *)lua_newuserdatauv(L, (nv ? nv : 1) * sizeof *v, 0);
        for (size_t i = 0; i < nv; i++) {
            if (lua_geti(L, vidx, (lua_Integer)i + 1) != LUA_TTABLE)
                return luaL_error(L, FN ": spec.verify[%d] is %s, expected {lr=, y=, lo=, hi=}",
                                  (int)i + 1, lrelua_typephrase(L, -1));
            int e = lua_gettop(L);
            static const char *const vkeys[] = {"lr", "y", "lo", "hi", NULL};
            char where[40];
            snprintf(where, sizeof where, "verify[%d]", (int)i + 1);
            char fw[64];
            snprintf(fw, sizeof fw, FN ": spec.%s", where);
            lrelua_checkopts(L, e, fw, vkeys);
            if (lua_getfield(L, e, "lr") != LUA_TNUMBER || lua_getfield(L, e, "y") != LUA_TNUMBER)
                return luaL_error(L, FN ": spec.%s needs numbers lr and y (y NaN: diverged)",
                                  where);
            lua_pop(L, 2);
            v[i].lr = lrelua_optnumber(L, e, FN, "lr", NAN);
            v[i].y = lrelua_optnumber(L, e, FN, "y", NAN);
            v[i].lo = lrelua_optnumber(L, e, FN, "lo", NAN);
            v[i].hi = lrelua_optnumber(L, e, FN, "hi", NAN);
            lua_pop(L, 1);
        }
        d.verify = v;
        d.num_verify = nv;
        lua_Integer w = lrelua_optinteger(L, 2, FN, "verify_winner", 0);
        if (w < 0 || (size_t)w > nv)
            return luaL_error(L, FN ": spec.verify_winner = %d is outside 0..%d", (int)w, (int)nv);
        d.verify_winner = w > 0 ? (size_t)(w - 1) : (size_t)-1;
        d.verify_label = optstring(L, 2, "verify_label", "spec");
    } else if (vt != LUA_TNIL) {
        return luaL_error(L, FN ": spec.verify must be an array of {lr=, y=, lo=, hi=}");
    } else if (lua_getfield(L, 2, "verify_winner") != LUA_TNIL ||
               lua_getfield(L, 2, "verify_label") != LUA_TNIL) {
        return luaL_error(L, FN ": spec.verify_winner and verify_label go with spec.verify");
    }

    lua_Integer chosen = lrelua_optinteger(L, 2, FN, "chosen", 1);
    d.chosen = chosen >= 1 && (size_t)chosen <= d.num_suggestions ? (size_t)(chosen - 1)
                                                                  : (size_t)-1;
    d.log_x = lrelua_optboolean(L, 2, FN, "log_x", 1);
    d.stop_reason = optstring(L, 2, "stop_reason", "spec");
    lua_Integer planned = lrelua_optinteger(L, 2, FN, "planned_steps", 0);
    d.planned_steps = planned > 0 ? (size_t)planned : 0;
    d.title = optstring(L, 2, "title", "spec");
    d.subtitle = optstring(L, 2, "subtitle", "spec");
    const char *delta = optstring(L, 2, "delta", "spec");
    if (!delta || strcmp(delta, "forward") == 0) d.delta = LRE_PLOT_DELTA_FORWARD;
    else if (strcmp(delta, "central") == 0) d.delta = LRE_PLOT_DELTA_CENTRAL;
    else return luaL_error(L, FN ": delta '%s' is not forward or central", delta);

    const char *format = optstring(L, 2, "format", "spec");
    if (format) {
        if (strcmp(format, "png") == 0) o.format = LRE_PLOT_PNG;
        else if (strcmp(format, "svg") == 0) o.format = LRE_PLOT_SVG;
        else if (strcmp(format, "pdf") == 0) o.format = LRE_PLOT_PDF;
        else return luaL_error(L, FN ": format '%s' is not png, svg or pdf", format);
    }
    o.width = lrelua_optnumber(L, 2, FN, "width", 0);
    o.height = lrelua_optnumber(L, 2, FN, "height", 0);
    o.dpi = lrelua_optnumber(L, 2, FN, "dpi", 0);
    o.font_size = lrelua_optnumber(L, 2, FN, "font_size", 0);
    o.raw_points = lrelua_optboolean(L, 2, FN, "raw_points", 1);

    char err[512];
    if (lre_plot_write(&d, &o, path, err, sizeof err) != LRE_OK)
        return luaL_error(L, "%s", err);
    lua_pushstring(L, path);
    return 1;
}

/* core.plot_format(path) -> "png"|"svg"|"pdf" or nil */
static int l_plot_format(lua_State *L)
{
    lre_plot_format f = lre_plot_format_of(lrelua_checkpath(L, 1, "plot_format"));
    if (f == LRE_PLOT_AUTO) lua_pushnil(L);
    else lua_pushstring(L, lre_plot_format_name(f));
    return 1;
}

/* core.plot_ticks(scale, lo, hi [, opts]) -> {{value =, label =}, ...} */
static int l_plot_ticks(lua_State *L)
{
    static const char *const scales[] = {"linear", "log", "symlog", NULL};
    static const char *const valid[] = {"thresh", "target", NULL};
    int scale = luaL_checkoption(L, 1, NULL, scales);
    double lo = luaL_checknumber(L, 2), hi = luaL_checknumber(L, 3);
    double thresh = 1;
    lua_Integer target = 0;
    if (!lua_isnoneornil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        lrelua_checkopts(L, 4, "plot_ticks", valid);
        thresh = lrelua_optnumber(L, 4, "plot_ticks", "thresh", 1);
        target = lrelua_optinteger(L, 4, "plot_ticks", "target", 0);
    }
    lre_plot_tick *t =
        (lre_plot_tick *)lua_newuserdatauv(L, LRE_PLOT_MAX_TICKS * sizeof *t, 0);
    int n = lre_plot_ticks((lre_plot_scale)scale, lo, hi, thresh, (int)target, t,
                           LRE_PLOT_MAX_TICKS);
    if (n < 0)
        return luaL_error(L, "plot_ticks: cannot tick a %s axis from %g to %g%s", scales[scale], lo,
                          hi, scale == 2 ? " (thresh must be a power of ten)" : "");
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 2);
        lua_pushnumber(L, t[i].value);
        lua_setfield(L, -2, "value");
        if (t[i].labelled) {
            lua_pushstring(L, t[i].label);
            lua_setfield(L, -2, "label");
        }
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static const luaL_Reg plot_funcs[] = {
    {"plot", l_plot},
    {"plot_ticks", l_plot_ticks},
    {"plot_format", l_plot_format},
    {NULL, NULL},
};

void lrelua_open_plot(lua_State *L)
{
    luaL_setfuncs(L, plot_funcs, 0);
}
