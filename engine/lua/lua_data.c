/*
 * lua_data.c — datasets from Lua: `lre.data.from_tables` and the dataset
 * userdata (size, shape, classes, split, subset, scale, normalize). The
 * file loaders (idx, npy, csv, fashion_mnist, lua_loaders.c) add
 * themselves to `data` afterwards.
 *
 * Input from Lua tables is checked here rather than in the engine so that
 * every message names the 1-based Lua index at fault ("rows[3][2]").
 */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "lrelua.h"

lre_dataset *lrelua_checkdataset(lua_State *L, int arg) {
    return (lre_dataset *)lrelua_checkobj(L, arg, &lrelua_dataset_class);
}

/* Pushes an empty dataset box; the caller fills box->p. */
static lrelua_obj *newdataset(lua_State *L) {
    return lrelua_newobj(L, &lrelua_dataset_class, 0);
}

void lrelua_boxdataset(lua_State *L, lre_dataset *d) {
    lrelua_obj *box = newdataset(L);
    lre_dataset_retain(d);
    box->p = d;
}

/* A scratch buffer owned by Lua (freed by the GC even if an error
 * unwinds), left on the stack. */
static void *scratch(lua_State *L, size_t count, size_t size, const char *fname) {
    if (count == 0) count = 1;
    if (count > SIZE_MAX / size) luaL_error(L, "%s: the data is too large", fname);
    return lua_newuserdatauv(L, count * size, 0);
}

/* The finite float at the top of the stack, popped; else an error naming
 * what[i] or what[i][j] (j = 0: no second index). */
static float popcell(lua_State *L, const char *what, lua_Integer i, lua_Integer j) {
    double v = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || !isfinite(v) || fabs(v) > FLT_MAX) {
        const char *type = lrelua_typephrase(L, -1);
        const char *where = j ? lua_pushfstring(L, "%s[%I][%I]", what, i, j)
                              : lua_pushfstring(L, "%s[%I]", what, i);
        if (lua_type(L, -3) != LUA_TNUMBER)
            luaL_error(L, "from_tables: %s is %s, expected a number", where, type);
        if (isnan(v)) luaL_error(L, "from_tables: %s is NaN", where);
        if (isinf(v)) luaL_error(L, "from_tables: %s is %sinf", where, v < 0 ? "-" : "");
        luaL_error(L, "from_tables: %s = %s does not fit a float", where,
                   luaL_tolstring(L, -3, NULL));
    }
    lua_pop(L, 1);
    return (float)v;
}

/* Reads the array of arrays at `t` (named `what`) into a float buffer of
 * n × width, left on the stack; width is the length of row 1. */
static float *readmatrix(lua_State *L, int t, const char *what, lua_Integer n,
                         lua_Integer *width) {
    float *buf = NULL;
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_geti(L, t, i) != LUA_TTABLE)
            luaL_error(L, "from_tables: %s[%I] is %s, expected a table of numbers", what, i,
                       lrelua_typephrase(L, -1));
        lua_Integer len = luaL_len(L, -1);
        if (i == 1) {
            if (len < 1) luaL_error(L, "from_tables: %s[1] is empty", what);
            /* lengths can come from __len: refuse sizes no buffer can hold */
            if (len > INT32_MAX || n > (lua_Integer)(INT64_MAX / 8) / len)
                luaL_error(L, "from_tables: %I rows of %I values (%s[1]) is too large", n, len,
                           what);
            *width = len;
            buf = (float *)scratch(L, (size_t)n * (size_t)len, sizeof *buf, "from_tables");
            lua_insert(L, -2); /* keep the buffer below the row */
        } else if (len != *width) {
            luaL_error(L, "from_tables: %s[%I] has %I values, %s[1] has %I", what, i, len,
                       what, *width);
        }
        for (lua_Integer j = 1; j <= len; j++) {
            lua_geti(L, -1, j);
            buf[(i - 1) * len + (j - 1)] = popcell(L, what, i, j);
        }
        lua_pop(L, 1);
    }
    return buf;
}

/* How the labels are read: class indices, or float targets. */
typedef enum { LABELS_CLASSES, LABELS_TARGETS } labelkind;

/* Tables of numbers (one vector of targets per row) or task "regression":
 * float targets (*tdim 0: as wide as labels[1]); else class labels, which
 * the caller checks are integers. */
static labelkind guesskind(lua_State *L, int regression, int classification,
                           lua_Integer *tdim) {
    int t = lua_geti(L, 2, 1);
    lua_pop(L, 1);
    *tdim = t == LUA_TTABLE ? 0 : 1;
    if (t == LUA_TTABLE && classification)
        luaL_error(L, "from_tables: labels[1] is a table: task \"classification\" needs one "
                      "class label per row (vectors of targets need task \"regression\")");
    return t == LUA_TTABLE || regression ? LABELS_TARGETS : LABELS_CLASSES;
}

/* lre.data.from_tables(rows, labels [, {num_classes=, task=, regression=}]);
 * `regression = true` is the older spelling of task = "regression". */
static int data_from_tables(lua_State *L) {
    static const char *const valid[] = {"num_classes", "task", "regression", NULL};
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    int hasopts = lrelua_checkopts(L, 3, "from_tables", valid) ? 3 : 0;
    lua_Integer classes = lrelua_optinteger(L, hasopts, "from_tables", "num_classes",
                                            LUA_MININTEGER);
    int regression = lrelua_optboolean(L, hasopts, "from_tables", "regression", 0);
    int classification = 0;
    if (hasopts) {
        lre_task task = lrelua_opttask(L, hasopts, "from_tables", LRE_TASK_CLASSIFICATION);
        lua_getfield(L, hasopts, "task");
        classification = !lua_isnil(L, -1) && task == LRE_TASK_CLASSIFICATION;
        lua_pop(L, 1);
        if (classification && regression)
            return luaL_error(L, "from_tables: task \"classification\" and regression = true "
                                 "exclude each other");
        regression = regression || task == LRE_TASK_REGRESSION;
    }
    if (classes == LUA_MININTEGER) classes = 0; /* absent: max label + 1 */
    else if (classes < 1 || classes > INT32_MAX)
        return luaL_error(L, "from_tables: option 'num_classes' = %I is out of range", classes);
    lua_settop(L, 3);
    if (classes > 0 && regression)
        return luaL_error(L, "from_tables: 'num_classes' and task \"regression\" exclude each "
                             "other");

    lua_Integer n = luaL_len(L, 1), nl = luaL_len(L, 2);
    if (n < 1) return luaL_error(L, "from_tables: rows is empty");
    if (nl != n) return luaL_error(L, "from_tables: labels has %I values, rows has %I", nl, n);

    lua_Integer width = 0, tdim = 0;
    float *x = readmatrix(L, 1, "rows", n, &width);       /* stack 4 */
    labelkind kind = classes > 0 ? LABELS_CLASSES
                                 : guesskind(L, regression, classification, &tdim);
    if (kind == LABELS_TARGETS && tdim == 0) {
        lua_Integer w = 0;
        float *t = readmatrix(L, 2, "labels", n, &w);      /* stack 5 */
        tdim = w;
        lrelua_obj *box = newdataset(L);
        lre_dataset *d = NULL;
        if (lre_dataset_from_arrays(box->ctx, &d, n, width, x, NULL, t, tdim) != LRE_OK)
            return lrelua_fail(L, box->ctx);
        box->p = d;
        return 1;
    }

    lrelua_obj *box;
    lre_dataset *d = NULL;
    lre_status st;
    if (kind == LABELS_TARGETS) {
        float *t = (float *)scratch(L, (size_t)n, sizeof *t, "from_tables");
        box = newdataset(L);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_geti(L, 2, i);
            t[i - 1] = popcell(L, "labels", i, 0);
        }
        st = lre_dataset_from_arrays(box->ctx, &d, n, width, x, NULL, t, 1);
    } else {
        int32_t *y = (int32_t *)scratch(L, (size_t)n, sizeof *y, "from_tables");
        box = newdataset(L);
        for (lua_Integer i = 1; i <= n; i++) {
            int isint = 0;
            if (lua_geti(L, 2, i) != LUA_TNUMBER)
                return luaL_error(L, "from_tables: labels[%I] is %s, expected an integer", i,
                                  lrelua_typephrase(L, -1));
            lua_Integer v = lua_tointegerx(L, -1, &isint);
            if (!isint && !isfinite(lua_tonumber(L, -1))) {
                lua_pushvalue(L, -1);
                popcell(L, "labels", i, 0); /* names NaN or inf */
            }
            if (!isint)
                return luaL_error(L, "from_tables: labels[%I] = %s is not an integer: class "
                                     "labels are 0, 1, ...; for regression targets pass "
                                     "{task = \"regression\"}", i, luaL_tolstring(L, -1, NULL));
            if (v < 0)
                return luaL_error(L, "from_tables: labels[%I] = %I is negative (class labels "
                                     "count from 0; pass {task = \"regression\"} for float "
                                     "targets)",
                                  i, v);
            if (classes > 0 && v >= classes)
                return luaL_error(L, "from_tables: labels[%I] = %I is out of range for "
                                     "num_classes = %I", i, v, classes);
            if (v > INT32_MAX)
                return luaL_error(L, "from_tables: labels[%I] = %I is too large", i, v);
            y[i - 1] = (int32_t)v;
            lua_pop(L, 1);
        }
        st = classes > 0
                 ? lre_dataset_from_arrays_classes(box->ctx, &d, n, width, x, y, classes)
                 : lre_dataset_from_arrays(box->ctx, &d, n, width, x, y, NULL, 0);
    }
    if (st != LRE_OK) return lrelua_fail(L, box->ctx);
    box->p = d;
    return 1;
}

/* ------------------------------------------------------------ methods */

static int ds_size(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)lre_dataset_size(lrelua_checkdataset(L, 1)));
    return 1;
}

static int ds_features(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)lre_dataset_features(lrelua_checkdataset(L, 1)));
    return 1;
}

static int ds_shape(lua_State *L) {
    lre_dataset *d = lrelua_checkdataset(L, 1);
    int nd = lre_dataset_row_ndim(d);
    lua_createtable(L, nd, 0);
    for (int i = 0; i < nd; i++) {
        lua_pushinteger(L, (lua_Integer)lre_dataset_row_dim(d, i));
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int ds_num_classes(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)lre_dataset_num_classes(lrelua_checkdataset(L, 1)));
    return 1;
}

static int ds_target_dim(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)lre_dataset_target_dim(lrelua_checkdataset(L, 1)));
    return 1;
}

/* ds:split(fraction [, seed]) -> a, b */
static int ds_split(lua_State *L) {
    lre_dataset *d = lrelua_checkdataset(L, 1);
    lua_Number f = luaL_checknumber(L, 2);
    luaL_argcheck(L, f > 0 && f < 1, 2, "fraction must be between 0 and 1 (exclusive)");
    uint64_t seed = lrelua_optseed(L, 3, lrelua_defaultseed(L));
    lrelua_obj *a = newdataset(L);
    lrelua_obj *b = newdataset(L);
    lre_dataset *da = NULL, *db = NULL;
    if (lre_dataset_split(d, &da, &db, f, seed) != LRE_OK) return lrelua_fail(L, a->ctx);
    a->p = da;
    b->p = db;
    return 2;
}

/* ds:subset(n) (the first n rows) or ds:subset{i1, i2, ...} (1-based) */
static int ds_subset(lua_State *L) {
    lre_dataset *d = lrelua_checkdataset(L, 1);
    int64_t size = lre_dataset_size(d);
    /* ds:subset(first, last) is not a range: say so rather than take n = first */
    if (lua_gettop(L) > 2)
        return luaL_error(L, "subset takes n (the first n rows) or a list of indices, got %d "
                          "arguments", lua_gettop(L) - 1);
    lre_dataset *out = NULL;
    lrelua_obj *box;
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_Integer n = luaL_len(L, 2);
        luaL_argcheck(L, n >= 1, 2, "the list of indices is empty");
        int64_t *idx = (int64_t *)scratch(L, (size_t)n, sizeof *idx, "subset");
        for (lua_Integer i = 1; i <= n; i++) {
            int isint = 0;
            lua_geti(L, 2, i);
            lua_Integer v = lua_tointegerx(L, -1, &isint);
            if (lua_type(L, -1) != LUA_TNUMBER || !isint)
                return luaL_error(L, "subset: indices[%I] is %s, expected an integer", i,
                                  lrelua_typephrase(L, -1));
            if (v < 1 || v > size)
                return luaL_error(L, "subset: indices[%I] = %I is out of range 1..%I", i, v,
                                  (lua_Integer)size);
            idx[i - 1] = (int64_t)(v - 1);
            lua_pop(L, 1);
        }
        box = newdataset(L);
        if (lre_dataset_subset(d, &out, n, idx) != LRE_OK) return lrelua_fail(L, box->ctx);
    } else {
        lua_Integer n = luaL_checkinteger(L, 2);
        luaL_argcheck(L, n >= 1 && n <= size, 2,
                      lua_pushfstring(L, "n must be in 1..%I", (lua_Integer)size));
        box = newdataset(L);
        if (lre_dataset_subset(d, &out, n, NULL) != LRE_OK) return lrelua_fail(L, box->ctx);
    }
    box->p = out;
    return 1;
}

static int ds_scale(lua_State *L) {
    lre_dataset *d = lrelua_checkdataset(L, 1);
    lua_Number f = luaL_checknumber(L, 2);
    /* checked here, in double: the engine's float would turn 1e-50 into 0 */
    if (!isfinite(f) || f == 0 || fabs(f) < FLT_MIN || fabs(f) > FLT_MAX)
        return luaL_error(L, "scale: factor %s must be finite, non-zero and within the "
                          "range of a float", lrelua_num(L, f));
    lrelua_obj *box = newdataset(L);
    lre_dataset *out = NULL;
    if (lre_dataset_scale(d, &out, (float)f) != LRE_OK) return lrelua_fail(L, box->ctx);
    box->p = out;
    return 1;
}

/* ds:reshape{C, H, W} -> the same rows with this row shape (no copy) */
static int ds_reshape(lua_State *L) {
    lre_dataset *d = lrelua_checkdataset(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
    if (n < 1 || n > LRE_MAX_DIMS)
        return luaL_error(L, "reshape: a row shape has 1 to %d sizes (got %I)", LRE_MAX_DIMS, n);
    int64_t shape[LRE_MAX_DIMS];
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, i);
        int isint = 0;
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (!isint || lua_type(L, -1) != LUA_TNUMBER)
            return luaL_error(L, "reshape: size %I is %s, expected an integer", i,
                              lrelua_typephrase(L, -1));
        shape[i - 1] = (int64_t)v;
        lua_pop(L, 1);
    }
    lrelua_obj *box = newdataset(L);
    lre_dataset *out = NULL;
    if (lre_dataset_reshape(d, &out, (int)n, shape) != LRE_OK) return lrelua_fail(L, box->ctx);
    box->p = out;
    return 1;
}

/* Reads option `name` of the table at 2 as `n` finite floats into out
 * (a table of n numbers); returns 0 when the option is a plain number. */
static int featurevalues(lua_State *L, const char *name, float *out, lua_Integer n) {
    if (lua_getfield(L, 2, name) != LUA_TTABLE) {
        lua_pop(L, 1);
        return 0;
    }
    if ((lua_Integer)luaL_len(L, -1) != n)
        luaL_error(L, "normalize: option '%s' has %d values, the dataset has %d features", name,
                   (int)luaL_len(L, -1), (int)n);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        int isnum;
        lua_Number v = lua_tonumberx(L, -1, &isnum);
        if (!isnum || !isfinite(v))
            luaL_error(L, "normalize: %s[%d] must be a finite number", name, (int)i);
        out[i - 1] = (float)v;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 1;
}

/* ds:normalize{mean=, std=} — global numbers, or tables of one value per
 * feature; ds:normalize(mean, std); ds:normalize() or
 * ds:normalize{per_feature=true} — with the data's own statistics (after
 * the scale): mean 0 and std 1, globally or per feature. */
static int ds_normalize(lua_State *L) {
    static const char *const valid[] = {"mean", "std", "per_feature", NULL};
    lre_dataset *d = lrelua_checkdataset(L, 1);
    lua_Number mean = 0, std = 1;
    int own = 0, per_feature = 0;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        mean = luaL_checknumber(L, 2);
        std = luaL_checknumber(L, 3);
    } else if (lua_isnoneornil(L, 2)) {
        own = 1;
    } else {
        luaL_checktype(L, 2, LUA_TTABLE);
        lrelua_checkopts(L, 2, "normalize", valid);
        per_feature = lrelua_optboolean(L, 2, "normalize", "per_feature", 0);
        int has_mean = lua_getfield(L, 2, "mean") != LUA_TNIL;
        int has_std = lua_getfield(L, 2, "std") != LUA_TNIL;
        lua_pop(L, 2);
        if (!has_mean && !has_std) {
            own = 1;
        } else {
            lua_Integer n = lre_dataset_features(d);
            float *m = lua_newuserdatauv(L, (size_t)n * sizeof(float), 0);
            float *sd = lua_newuserdatauv(L, (size_t)n * sizeof(float), 0);
            int pm = featurevalues(L, "mean", m, n), ps = featurevalues(L, "std", sd, n);
            if (pm || ps || per_feature) {
                /* a number given for the other one applies to every feature */
                mean = pm ? 0 : lrelua_optnumber(L, 2, "normalize", "mean", 0);
                std = ps ? 1 : lrelua_optnumber(L, 2, "normalize", "std", 1);
                for (lua_Integer i = 0; i < n; i++) {
                    if (!pm) m[i] = (float)mean;
                    if (!ps) sd[i] = (float)std;
                }
                lrelua_obj *box = newdataset(L);
                lre_dataset *out = NULL;
                if (lre_dataset_normalize_per_feature(d, &out, m, sd) != LRE_OK)
                    return lrelua_fail(L, box->ctx);
                box->p = out;
                return 1;
            }
            mean = lrelua_optnumber(L, 2, "normalize", "mean", 0);
            std = lrelua_optnumber(L, 2, "normalize", "std", 1);
        }
    }
    lrelua_obj *box = newdataset(L);
    lre_dataset *out = NULL;
    if (own) {
        if (lre_dataset_standardize(d, &out, per_feature) != LRE_OK)
            return lrelua_fail(L, box->ctx);
        box->p = out;
        return 1;
    }
    if (!isfinite(mean)) return luaL_error(L, "normalize: mean must be finite");
    if (!(std > 0) || !isfinite(std))
        return luaL_error(L, "normalize: std = %s must be positive and finite",
                          lrelua_num(L, std));
    if (lre_dataset_normalize(d, &out, (float)mean, (float)std) != LRE_OK)
        return lrelua_fail(L, box->ctx);
    box->p = out;
    return 1;
}

/* ds:stats{per_feature=false} -> mean, std of the scaled features x·scale
 * (before any normalisation: what normalize needs) — numbers,
 * or tables of one value per feature). */
static int ds_stats(lua_State *L) {
    static const char *const valid[] = {"per_feature", NULL};
    lre_dataset *d = lrelua_checkdataset(L, 1);
    int t = lrelua_checkopts(L, 2, "stats", valid);
    int per_feature = t ? lrelua_optboolean(L, 2, "stats", "per_feature", 0) : 0;
    lua_Integer n = per_feature ? lre_dataset_features(d) : 1;
    float *m = lua_newuserdatauv(L, (size_t)n * sizeof(float), 0);
    float *sd = lua_newuserdatauv(L, (size_t)n * sizeof(float), 0);
    lre_ctx *ctx = ((lrelua_obj *)lua_touserdata(L, 1))->ctx;
    if (lre_dataset_stats(d, per_feature, m, sd) != LRE_OK) return lrelua_fail(L, ctx);
    if (!per_feature) {
        lua_pushnumber(L, m[0]);
        lua_pushnumber(L, sd[0]);
        return 2;
    }
    lua_createtable(L, (int)n, 0);
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 0; i < n; i++) {
        lua_pushnumber(L, m[i]);
        lua_rawseti(L, -3, i + 1);
        lua_pushnumber(L, sd[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 2;
}

/* ------------------------------------------------------------- class */

static void release_dataset(void *d, lrelua_obj *box) {
    (void)box;
    lre_dataset_release((lre_dataset *)d);
}

static void describe_dataset(lua_State *L, void *p) {
    lre_dataset *d = (lre_dataset *)p;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "lrengine.dataset(%I rows of ", (lua_Integer)lre_dataset_size(d));
    luaL_addvalue(&b);
    for (int i = 0; i < lre_dataset_row_ndim(d); i++) {
        lua_pushfstring(L, i ? "x%I" : "%I", (lua_Integer)lre_dataset_row_dim(d, i));
        luaL_addvalue(&b);
    }
    lua_pushfstring(L, " %s, ", lre_dtype_name(lre_dataset_feature_dtype(d)));
    luaL_addvalue(&b);
    if (lre_dataset_num_classes(d) > 0)
        lua_pushfstring(L, "%I classes)", (lua_Integer)lre_dataset_num_classes(d));
    else
        lua_pushfstring(L, "targets of %I)", (lua_Integer)lre_dataset_target_dim(d));
    luaL_addvalue(&b);
    luaL_pushresult(&b);
}

const lrelua_class lrelua_dataset_class = {LRELUA_DATASET, "dataset", release_dataset,
                                           describe_dataset};

static const luaL_Reg ds_meta[] = {
    {"__len", ds_size},
    {NULL, NULL}
};

static const luaL_Reg ds_methods[] = {
    {"size", ds_size},
    {"features", ds_features},
    {"shape", ds_shape},
    {"num_classes", ds_num_classes},
    {"target_dim", ds_target_dim},
    {"split", ds_split},
    {"subset", ds_subset},
    {"scale", ds_scale},
    {"reshape", ds_reshape},
    {"normalize", ds_normalize},
    {"stats", ds_stats},
    {NULL, NULL}
};

static const luaL_Reg datafuncs[] = {
    {"from_tables", data_from_tables},
    {NULL, NULL}
};

void lrelua_open_data(lua_State *L) {
    lrelua_newboxclass(L, &lrelua_dataset_class, ds_meta, ds_methods);
    luaL_newlib(L, datafuncs);
    lua_setfield(L, -2, "data");
}
