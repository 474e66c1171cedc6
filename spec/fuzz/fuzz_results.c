/*
 * fuzz_results.c — libFuzzer target for the results reader (what `lrengine
 * plot` and `lrengine suggest` read: lrengine.results.load of a JSON or
 * CSV file from anywhere) and the figure drawn from what it accepts.
 * Layout: an options byte, then the file. Bit 0: the file is named .json
 * (else .csv); bit 1: a loaded result is also drawn (SVG into /dev/null,
 * the writer's in-place path for a character device, through
 * lrengine.plot and the C plot library); bit 2: its suggestions are re-run
 * (every built-in heuristic). Each input gets a fresh Lua state with the
 * engine's modules (this tree's lua/).
 * Checks: nothing crashes or trips a sanitizer; a file that does not load
 * gives an error string naming it (results.load's promise); whatever
 * loaded draws or fails with a message, never a crash.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lrengine_lua.h"

#define FUZZ_REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

static const char SCRIPT[] =
    "local path, plot, suggest = ...\n"
    "local results = require 'lrengine.results'\n"
    "local ok, r = pcall(results.load, path)\n"
    "if not ok then\n"
    "  assert(type(r) == 'string' and r:find(path, 1, true), 'unnamed: ' .. tostring(r))\n"
    "  return 'refused'\n"
    "end\n"
    "if suggest then\n"
    "  pcall(r.suggest, r, { 'steepest', 'steep', 'valley', 'slide', 'minimum', 'lightning',\n"
    "    'ignite' })\n"
    "end\n"
    "if plot then\n"
    "  local pok, perr = pcall(r.plot, r, '/dev/null', { format = 'svg' })\n"
    "  assert(pok or type(perr) == 'string', 'plot raised a non-string')\n"
    "end\n"
    "return 'loaded'\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1 << 20)) return 0;
    unsigned m = data[0];
    char path[64];
    snprintf(path, sizeof path, "/tmp/lre_fuzz_results_%ld.%s", (long)getpid(),
             (m & 1) ? "json" : "csv");
    FILE *f = fopen(path, "wb");
    FUZZ_REQUIRE(f);
    FUZZ_REQUIRE(fwrite(data + 1, 1, size - 1, f) == size - 1 || size == 1);
    FUZZ_REQUIRE(fclose(f) == 0);

    lua_State *L = luaL_newstate();
    FUZZ_REQUIRE(L);
    luaL_openlibs(L);
    FUZZ_REQUIRE(lrelua_open(L, LRE_SOURCE_LUA_DIR) == LUA_OK);
    FUZZ_REQUIRE(luaL_loadbuffer(L, SCRIPT, sizeof SCRIPT - 1, "=fuzz_results") == LUA_OK);
    lua_pushstring(L, path);
    lua_pushboolean(L, (m & 2) != 0);
    lua_pushboolean(L, (m & 4) != 0);
    int st = lua_pcall(L, 3, 1, 0);
    if (st != LUA_OK) {
        fprintf(stderr, "fuzz_results: %s\n", lua_tostring(L, -1));
        FUZZ_REQUIRE(0);
    }
    lua_close(L);
    unlink(path);
    return 0;
}
