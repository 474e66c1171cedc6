/*
 * lua_loaders.c — the dataset loaders in Lua: lre.data.idx(images, labels
 * [, {max_bytes =}]), lre.data.npy(features, labels [, {task =, max_bytes
 * =}]), lre.data.csv(path, {label =, header =, delimiter =, task =,
 * max_bytes =}) and lre.data.fashion_mnist(split [, {max_bytes =}]). task
 * is "classification" (the default: integer class labels) or "regression"
 * (float targets). max_bytes is the loading limit of that call (the most
 * bytes one buffer of the file's data may take, checked before it is
 * allocated: lre_ctx_set_max_load_bytes); without it the context's limit,
 * half of physical memory, holds. Each returns a dataset userdata; a file
 * that cannot be loaded raises a Lua error carrying the engine's message,
 * which names the file and the fault (and the line and column for CSV).
 */
#include <string.h>

#include "lrelua.h"

/* Option 'max_bytes' of the table at t (0: none): a positive integer,
 * else an error naming the option; 0 when absent. */
static uint64_t optmaxbytes(lua_State *L, int t, const char *fname)
{
    lua_Integer v = lrelua_optinteger(L, t, fname, "max_bytes", 0);
    if (t && v < 1) {
        lua_getfield(L, t, "max_bytes");
        int given = !lua_isnil(L, -1);
        lua_pop(L, 1);
        if (given)
            luaL_error(L, "%s: option 'max_bytes' = %I must be a positive number of bytes",
                       fname, v);
    }
    return (uint64_t)v;
}

/* The context's loading limit for the length of one loader call: set to
 * `max` (0: left as it is) by limit_begin, and the previous one back by
 * limit_end, which runs before the call returns or raises (nothing between
 * the two can raise). */
static uint64_t limit_begin(lre_ctx *ctx, uint64_t max)
{
    uint64_t prev = lre_ctx_max_load_bytes(ctx);
    if (max) lre_ctx_set_max_load_bytes(ctx, max);
    return prev;
}

static void limit_end(lre_ctx *ctx, uint64_t max, uint64_t prev)
{
    if (max) lre_ctx_set_max_load_bytes(ctx, prev);
}

/* lre.data.idx(images_path, labels_path [, {max_bytes = n}]) */
static int data_idx(lua_State *L)
{
    static const char *const valid[] = {"max_bytes", NULL};
    const char *images = lrelua_checkpath(L, 1, "idx: images");
    const char *labels = lrelua_checkpath(L, 2, "idx: labels");
    int t = lrelua_checkopts(L, 3, "idx", valid) ? 3 : 0;
    uint64_t max = optmaxbytes(L, t, "idx");
    lrelua_obj *box = lrelua_newobj(L, &lrelua_dataset_class, 0);
    lre_dataset *d = NULL;
    uint64_t prev = limit_begin(box->ctx, max);
    lre_status st = lre_dataset_idx(box->ctx, &d, images, labels);
    limit_end(box->ctx, max, prev);
    if (st != LRE_OK) return lrelua_fail(L, box->ctx);
    box->p = d;
    return 1;
}

/* lre.data.npy(features_path, labels_path [, {task = "classification" |
 * "regression", max_bytes = n}]) */
static int data_npy(lua_State *L)
{
    static const char *const valid[] = {"task", "max_bytes", NULL};
    const char *features = lrelua_checkpath(L, 1, "npy: features");
    const char *labels = lrelua_checkpath(L, 2, "npy: labels");
    int t = lrelua_checkopts(L, 3, "npy", valid) ? 3 : 0;
    lre_task task = lrelua_opttask(L, t, "npy", LRE_TASK_CLASSIFICATION);
    uint64_t max = optmaxbytes(L, t, "npy");
    lrelua_obj *box = lrelua_newobj(L, &lrelua_dataset_class, 0);
    lre_dataset *d = NULL;
    uint64_t prev = limit_begin(box->ctx, max);
    lre_status st = lre_dataset_npy_task(box->ctx, &d, features, labels, task);
    limit_end(box->ctx, max, prev);
    if (st != LRE_OK) return lrelua_fail(L, box->ctx);
    box->p = d;
    return 1;
}

/* lre.data.csv(path [, {label = name_or_index, header = bool, delimiter = ",",
 * task = "classification" | "regression", max_bytes = n}]); a label index
 * counts from 1, as Lua does. */
static int data_csv(lua_State *L)
{
    static const char *const valid[] = {"label", "header", "delimiter", "task", "max_bytes",
                                        NULL};
    const char *path = lrelua_checkpath(L, 1, "csv");
    lre_csv_opts o = lre_csv_opts_default();
    uint64_t max = 0;
    if (lrelua_checkopts(L, 2, "csv", valid)) {
        max = optmaxbytes(L, 2, "csv");
        int t = lua_getfield(L, 2, "label");
        if (t == LUA_TSTRING) {
            o.label_name = lua_tostring(L, -1); /* kept alive by the options table */
        } else if (t == LUA_TNUMBER && lua_isinteger(L, -1)) {
            lua_Integer i = lua_tointeger(L, -1);
            if (i < 1) return luaL_error(L, "csv: option 'label' = %I: column numbers count from 1", i);
            o.label_index = (int64_t)i;
        } else if (t != LUA_TNIL) {
            return luaL_error(L, "csv: option 'label' must be a column name (string) or a "
                              "column number from 1 (integer), not %s", lrelua_typephrase(L, -1));
        }
        lua_pop(L, 1);
        o.header = lrelua_optboolean(L, 2, "csv", "header", -1); /* -1: detect */
        o.task = lrelua_opttask(L, 2, "csv", o.task);
        t = lua_getfield(L, 2, "delimiter");
        if (t != LUA_TNIL) {
            size_t n = 0;
            const char *s = t == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
            if (!s || n != 1)
                return luaL_error(L, "csv: option 'delimiter' must be a one-character string "
                                  "such as \",\", \";\" or \"\\t\"");
            o.delimiter = s[0];
        }
        lua_pop(L, 1);
    }
    lrelua_obj *box = lrelua_newobj(L, &lrelua_dataset_class, 0);
    lre_dataset *d = NULL;
    uint64_t prev = limit_begin(box->ctx, max);
    lre_status st = lre_dataset_csv(box->ctx, &d, path, &o);
    limit_end(box->ctx, max, prev);
    if (st != LRE_OK) return lrelua_fail(L, box->ctx);
    box->p = d;
    return 1;
}

/* lre.data.fashion_mnist(["train" | "test"] [, {max_bytes = n}]) */
static int data_fashion_mnist(lua_State *L)
{
    static const char *const valid[] = {"max_bytes", NULL};
    const char *split = luaL_optstring(L, 1, "train");
    luaL_argcheck(L, strcmp(split, "train") == 0 || strcmp(split, "test") == 0, 1,
                  "split must be \"train\" or \"test\"");
    int t = lrelua_checkopts(L, 2, "fashion_mnist", valid) ? 2 : 0;
    uint64_t max = optmaxbytes(L, t, "fashion_mnist");
    lrelua_obj *box = lrelua_newobj(L, &lrelua_dataset_class, 0);
    lre_dataset *d = NULL;
    uint64_t prev = limit_begin(box->ctx, max);
    lre_status st = lre_dataset_fashion_mnist(box->ctx, &d, split);
    limit_end(box->ctx, max, prev);
    if (st != LRE_OK) return lrelua_fail(L, box->ctx);
    box->p = d;
    return 1;
}

static const luaL_Reg loaders[] = {
    {"idx", data_idx},
    {"npy", data_npy},
    {"csv", data_csv},
    {"fashion_mnist", data_fashion_mnist},
    {NULL, NULL}
};

/* Adds the loaders to the module's `data` table (after lrelua_open_data). */
void lrelua_open_loaders(lua_State *L)
{
    lua_getfield(L, -1, "data");
    luaL_setfuncs(L, loaders, 0);
    lua_pop(L, 1);
}
