/*
 * lua_io.c — I/O helpers for the Lua side: JSON through cJSON (results,
 * configs), atomic file writes (content goes to a temporary file in the
 * target's directory, is flushed to disk, then renamed over the target, so
 * a crash or an error never leaves half a file), a monotonic clock for step
 * timings, and whether a standard stream is a terminal.
 *
 *   core.json_encode(value [, pretty]) -> string
 *   core.json_decode(string [, chunkname]) -> value
 *   core.write_atomic(path, string)
 *   core.json_null                      -- the value JSON null decodes to
 *   core.clock() -> seconds (monotonic, wall time, for intervals)
 *   core.isatty("stdin"|"stdout"|"stderr") -> boolean
 *
 * Numbers: Lua integers are written as integers, floats with enough digits
 * to read back exactly (%.17g). JSON has no NaN or infinity, so non-finite
 * floats are written as the strings "NaN", "Infinity" and "-Infinity"
 * (Python's spellings); the Lua result loader turns them back into numbers.
 * Tables that are sequences (keys 1..n, or empty) become arrays; others
 * become objects with their keys sorted, so output is reproducible.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "lrelua.h"

#define JSON_MAX_DEPTH 64

/* A cJSON tree owned by a to-be-closed box (p: the root; no engine
 * context), so a Lua error while building or converting never leaks it. */
static void release_json(void *root, lrelua_obj *box)
{
    (void)box;
    cJSON_Delete(root);
}

static const lrelua_class jsonbox_class = {"lrengine.jsonbox", "JSON tree", release_json, NULL};

static lrelua_obj *push_box(lua_State *L)
{
    lrelua_obj *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->p = NULL;
    b->ctx = NULL;
    luaL_setmetatable(L, jsonbox_class.tname);
    return b;
}

/* Encoding builds the tree top-down: every node is attached to its parent
 * (ultimately to the box's root) before it is filled, so a Lua error at any
 * depth frees everything through the box. */

/* cJSON prints doubles with 15 digits whenever they read back within an
 * epsilon, which can lose the last bit: write the shortest of %.15g, %.16g
 * and %.17g that reads back exactly, as raw JSON. */
static cJSON *encode_number(lua_State *L, int idx)
{
    char buf[64];
    if (lua_isinteger(L, idx)) {
        snprintf(buf, sizeof buf, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
        return cJSON_CreateRaw(buf);
    }
    double v = lua_tonumber(L, idx);
    if (isnan(v)) return cJSON_CreateString("NaN");
    if (isinf(v)) return cJSON_CreateString(v > 0 ? "Infinity" : "-Infinity");
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) break;
    }
    /* keep it a float in JSON readers that care ("1" -> "1.0") */
    if (!strpbrk(buf, ".eEn")) strncat(buf, ".0", sizeof buf - strlen(buf) - 1);
    return cJSON_CreateRaw(buf);
}

/* Number of elements if the table at idx is a sequence 1..n, else -1. */
static lua_Integer sequence_length(lua_State *L, int idx)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1)) {
            lua_pop(L, 1);
            return -1;
        }
        lua_Integer k = lua_tointeger(L, -1);
        if (k < 1 || k > n) {
            lua_pop(L, 1);
            return -1;
        }
        count++;
    }
    return count == n ? n : -1;
}

/* A new, unattached node for the value at idx: a leaf, or an empty array
 * or object. Raises on values JSON cannot hold (nothing is allocated yet). */
static cJSON *make_node(lua_State *L, int idx, const char *path)
{
    cJSON *node = NULL;
    switch (lua_type(L, idx)) {
    case LUA_TNIL: node = cJSON_CreateNull(); break;
    case LUA_TBOOLEAN: node = cJSON_CreateBool(lua_toboolean(L, idx)); break;
    case LUA_TNUMBER: node = encode_number(L, idx); break;
    case LUA_TSTRING: node = cJSON_CreateString(lua_tostring(L, idx)); break;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) != NULL) goto bad;
        node = cJSON_CreateNull();
        break;
    case LUA_TTABLE:
        node = sequence_length(L, idx) >= 0 ? cJSON_CreateArray() : cJSON_CreateObject();
        break;
    default:
        goto bad;
    }
    if (!node) luaL_error(L, "json_encode: out of memory");
    return node;
bad:
    luaL_error(L, "json_encode: %s is a %s, which JSON cannot hold", path, luaL_typename(L, idx));
    return NULL;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void fill(lua_State *L, int idx, cJSON *node, int depth, const char *path);

/* Creates the child for the value on top of the stack, attaches it and
 * fills it; pops the value. */
static void add_child(lua_State *L, cJSON *parent, const char *key, int depth, const char *path)
{
    int top = lua_gettop(L);
    cJSON *child = make_node(L, top, path);
    cJSON_bool ok = key ? cJSON_AddItemToObject(parent, key, child)
                        : cJSON_AddItemToArray(parent, child);
    if (!ok) {
        cJSON_Delete(child);
        luaL_error(L, "json_encode: out of memory");
    }
    fill(L, top, child, depth + 1, path);
    lua_pop(L, 1);
}

static void fill(lua_State *L, int idx, cJSON *node, int depth, const char *path)
{
    if (!cJSON_IsArray(node) && !cJSON_IsObject(node)) return;
    if (depth > JSON_MAX_DEPTH)
        luaL_error(L, "json_encode: %s nests deeper than %d levels (a cycle?)", path,
                   JSON_MAX_DEPTH);
    luaL_checkstack(L, 8, "json_encode");
    char sub[256];
    if (cJSON_IsArray(node)) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
        for (lua_Integer i = 1; i <= n; i++) {
            snprintf(sub, sizeof sub, "%s[%lld]", path, (long long)i);
            lua_rawgeti(L, idx, i);
            add_child(L, node, NULL, depth, sub);
        }
        return;
    }
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "json_encode: %s has a key of type %s (object keys must be strings)",
                       path, luaL_typename(L, -1));
        n++;
    }
    const char **keys = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *keys, 0);
    int k = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        keys[k++] = lua_tostring(L, -1); /* anchored by the table itself */
    }
    qsort(keys, (size_t)n, sizeof *keys, cmp_keys);
    for (int i = 0; i < n; i++) {
        snprintf(sub, sizeof sub, "%s.%s", path, keys[i]);
        lua_getfield(L, idx, keys[i]);
        add_child(L, node, keys[i], depth, sub);
    }
    lua_pop(L, 1); /* keys */
}

static int l_json_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    int pretty = lua_toboolean(L, 2);
    lua_settop(L, 2);
    lrelua_obj *box = push_box(L);
    lua_toclose(L, 3);
    cJSON *root = box->p = make_node(L, 1, "value");
    fill(L, 1, root, 0, "value");
    char *s = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
    if (!s) return luaL_error(L, "json_encode: out of memory");
    lua_pushstring(L, s);
    cJSON_free(s);
    return 1;
}

static void decode_value(lua_State *L, const cJSON *j, int depth)
{
    luaL_checkstack(L, 4, "json_decode");
    if (depth > JSON_MAX_DEPTH) luaL_error(L, "json_decode: nesting deeper than %d", JSON_MAX_DEPTH);
    if (cJSON_IsNull(j)) {
        lua_pushlightuserdata(L, NULL);
    } else if (cJSON_IsBool(j)) {
        lua_pushboolean(L, cJSON_IsTrue(j));
    } else if (cJSON_IsNumber(j)) {
        double v = j->valuedouble;
        if (v == floor(v) && fabs(v) < 9007199254740992.0)
            lua_pushinteger(L, (lua_Integer)v);
        else
            lua_pushnumber(L, v);
    } else if (cJSON_IsString(j)) {
        lua_pushstring(L, j->valuestring);
    } else if (cJSON_IsArray(j)) {
        lua_createtable(L, cJSON_GetArraySize(j), 0);
        lua_Integer i = 1;
        for (const cJSON *c = j->child; c; c = c->next) {
            decode_value(L, c, depth + 1);
            lua_rawseti(L, -2, i++);
        }
    } else if (cJSON_IsObject(j)) {
        lua_newtable(L);
        for (const cJSON *c = j->child; c; c = c->next) {
            decode_value(L, c, depth + 1);
            lua_setfield(L, -2, c->string ? c->string : "");
        }
    } else {
        lua_pushnil(L);
    }
}

static int l_json_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, "string");
    lua_settop(L, 2);
    lrelua_obj *box = push_box(L);
    lua_toclose(L, 3);
    const char *end = NULL;
    cJSON *root = box->p = cJSON_ParseWithLengthOpts(s, len, &end, 0);
    if (!root) {
        size_t off = end && end >= s && end <= s + len ? (size_t)(end - s) : 0;
        /* cJSON reports the position where it gave up: give line and column */
        size_t line = 1, col = 1;
        for (size_t i = 0; i < off && i < len; i++) {
            if (s[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return luaL_error(L, "%s: invalid JSON at line %d, column %d", name, (int)line,
                          (int)col);
    }
    decode_value(L, root, 0);
    return 1;
}

static int l_write_atomic(lua_State *L)
{
    const char *path = lrelua_checkpath(L, 1, "write_atomic");
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    if (!*path) return luaL_argerror(L, 1, "empty path");
    char err[1024];
    if (lre_write_file(path, data, len, err, sizeof err) != 0) return luaL_error(L, "%s", err);
    return 0;
}

static int l_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

static int l_isatty(lua_State *L)
{
    static const char *const names[] = {"stdin", "stdout", "stderr", NULL};
    int fd = luaL_checkoption(L, 1, "stderr", names);
    lua_pushboolean(L, isatty(fd));
    return 1;
}

static const luaL_Reg json_funcs[] = {
    {"clock", l_clock},
    {"isatty", l_isatty},
    {"json_encode", l_json_encode},
    {"json_decode", l_json_decode},
    {"write_atomic", l_write_atomic},
    {NULL, NULL},
};

void lrelua_open_json(lua_State *L)
{
    lrelua_newboxclass(L, &jsonbox_class, NULL, NULL);
    luaL_setfuncs(L, json_funcs, 0);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "json_null");
}
