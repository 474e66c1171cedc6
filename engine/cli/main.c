/*
 * main.c — the `lrengine` command: a Lua 5.4 host (modelled on Lua's own
 * lua.c) with the engine's module `lrengine.core` preloaded and the Lua
 * modules of lrengine on package.path.
 *
 *   lrengine [options] [script [args]]
 *   lrengine [options] suggest FILE [--heuristic NAME]...
 *   lrengine [options] plot FILE.json|FILE.csv [-o OUT.png|svg|pdf]
 *
 * The script sees `arg` and `...` exactly as under `lua`. A script that
 * returns a table is a declarative sweep: the host hands the table to
 * lrengine.cli.sweep. The subcommands are lrengine.cli.main. Host options are
 * handed to the binding (lrelua_setoptions) before anything runs; scripts
 * read them with require("lrengine").options(). Only this file decides
 * the exit status: 0 success, 1 a Lua error (printed with a traceback),
 * 2 a usage error, 130 interrupted by SIGINT (the script first gets an
 * "interrupted!" error, so the finder can restore the trainer; 130 even if
 * the script catches it).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lrengine.h"
#include "lua/lrelua.h"

#define PROGNAME "lrengine"

enum { EXIT_LUA = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

static const char usage_text[] =
    "usage: " PROGNAME " [options] [script [args]]\n"
    "       " PROGNAME " [options] suggest FILE.json|FILE.csv [--heuristic NAME]... [--json]\n"
    "       " PROGNAME " [options] plot FILE.json|FILE.csv [-o OUT.png|svg|pdf]\n"
    "Runs a Lua 5.4 script with the lrengine engine loaded (require \"lrengine\").\n"
    "A script that returns a table runs it as a declarative range test (see\n"
    "examples/declarative.lua) and prints the suggestions. 'suggest' re-runs the\n"
    "learning-rate heuristics on a saved curve (an lrengine result, or a CSV of\n"
    "lr,loss from any framework); 'plot' draws a saved curve (a terminal chart\n"
    "without -o). Each has --help.\n"
    "Options:\n"
    "  -e CODE          run the Lua string CODE (before the script; may repeat)\n"
    "  -                run the script read from standard input\n"
    "  --device DEV     the engine's device: cpu or cuda (default cpu)\n"
    "  --seed N         default seed of the engine, trainers and splits (default 0)\n"
    "  --threads N      BLAS threads (default 0: the library's choice)\n"
    "  --precision P    matmul precision of trainers: fp32, tf32 or bf16 (default\n"
    "                   fp32); a device without it warns and runs fp32\n"
    "  -q, --quiet      ask scripts to print less\n"
    "  -h, --help       show this help and exit\n"
    "  -v, --version    show the version and exit\n"
    "  --               stop handling options\n"
    "Scripts read the options as require(\"lrengine\").options()\n"
    "({device=, seed=, threads=, precision=, quiet=, host=true}).\n"
    "Environment: LRENGINE_LUA_PATH, Lua path templates (a;b, with '?') or\n"
    "directories searched for modules before the installed ones.\n"
    "Exit status: 0 success, 1 Lua error, 2 usage error, 130 interrupted.\n";

/* What the command line asked for. */
typedef struct host {
    int argc;
    char **argv;
    int script;          /* index of the script in argv; argc when none */
    int command;         /* index of a subcommand (suggest, plot); 0: none */
    int has_e;
    lre_ctx_opts opts;
    int quiet;
    int status;          /* the exit status */
    lre_precision precision; /* trainers' default (--precision) */
} host;

static lua_State *globalL = NULL;
static volatile sig_atomic_t interrupted = 0;

/* --------------------------------------------------------- messages */

static void message(const char *msg) {
    fprintf(stderr, "%s: %s\n", PROGNAME, msg);
    fflush(stderr);
}

static int usage_error(host *h, const char *fmt, const char *what) {
    fprintf(stderr, "%s: ", PROGNAME);
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\n%s", usage_text);
    fflush(stderr);
    h->status = EXIT_USAGE;
    return 0;
}

static void print_version(void) {
    printf("%s %s (%s, engine built %s CUDA)\n", PROGNAME, lre_version(), LUA_RELEASE,
           lre_device_compiled(LRE_DEVICE_CUDA) ? "with" : "without");
    fflush(stdout);
}

/* ---------------------------------------------------------- signals */

static void setsignal(int sig, void (*handler)(int)) {
    struct sigaction sa;
    sa.sa_handler = handler;
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

/* The hook set by the signal handler: raise the error in the script. */
static void lstop(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

/* As lua.c: a hook is all a signal handler may safely set; a second ^C
 * kills the process with the default action. */
static void laction(int sig) {
    int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
    setsignal(sig, SIG_DFL);
    interrupted = 1;
    lua_sethook(globalL, lstop, flag, 1);
}

/* ------------------------------------------------------------ calls */

static int msghandler(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Calls the function below `narg` arguments with the message handler and
 * with ^C turned into a Lua error. */
static int docall(lua_State *L, int narg, int nres) {
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    globalL = L;
    setsignal(SIGINT, laction);
    int status = lua_pcall(L, narg, nres, base);
    setsignal(SIGINT, SIG_DFL);
    lua_remove(L, base);
    return status;
}

/* Reports a failed load or call; the exit status follows from it. */
static int report(lua_State *L, host *h, int status) {
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        message(msg ? msg : "(error object is not a string)");
        lua_pop(L, 1);
        h->status = interrupted ? EXIT_INTERRUPTED : EXIT_LUA;
    }
    return status;
}

static int dochunk(lua_State *L, host *h, int status) {
    if (status == LUA_OK) status = docall(L, 0, 0);
    return report(L, h, status);
}

/* `arg` as lua.c makes it: the script at 0, its arguments from 1, the
 * interpreter and its options at negative indices. */
static void createargtable(lua_State *L, char **argv, int argc, int script) {
    if (script == argc) script = 0; /* no script: arg[0] is the program */
    lua_createtable(L, argc - (script + 1), script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

static int pushargs(lua_State *L) {
    if (lua_getglobal(L, "arg") != LUA_TTABLE) luaL_error(L, "'arg' is not a table");
    int n = (int)luaL_len(L, -1);
    luaL_checkstack(L, n + 3, "too many arguments to script");
    int i;
    for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
    lua_remove(L, -i);
    return n;
}

/* Pushes require("lrengine.cli")[fn]. */
static void pushcli(lua_State *L, const char *fn) {
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lrengine.cli");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
}

static int handle_script(lua_State *L, host *h) {
    const char *fname = h->argv[h->script];
    if (strcmp(fname, "-") == 0 && strcmp(h->argv[h->script - 1], "--") != 0)
        fname = NULL; /* stdin */
    int status = luaL_loadfile(L, fname);
    if (status == LUA_OK) {
        int n = pushargs(L);
        status = docall(L, n, 1);
    }
    if (status == LUA_OK && lua_istable(L, -1)) { /* a declarative sweep */
        pushcli(L, "sweep");
        lua_insert(L, -2);
        lua_pushstring(L, fname ? fname : "stdin");
        status = docall(L, 2, 0);
    } else if (status == LUA_OK) {
        lua_pop(L, 1);
    }
    return report(L, h, status);
}

/* `lrengine suggest|plot ...`: lrengine.cli.main(cmd, {args}) returns the
 * exit status. */
static int handle_command(lua_State *L, host *h) {
    pushcli(L, "main");
    lua_pushstring(L, h->argv[h->command]);
    lua_createtable(L, h->argc - h->command - 1, 0);
    for (int i = h->command + 1; i < h->argc; i++) {
        lua_pushstring(L, h->argv[i]);
        lua_rawseti(L, -2, i - h->command);
    }
    int status = docall(L, 2, 1);
    if (status == LUA_OK) {
        h->status = (int)luaL_optinteger(L, -1, 0);
        lua_pop(L, 1);
    }
    return report(L, h, status);
}

/* ------------------------------------------------------------- paths */

static int isdir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Pushes "dir/?.lua;dir/?/init.lua;" for an existing dir (else ""). */
static void pushdirpath(lua_State *L, const char *dir) {
    if (isdir(dir))
        lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
    else
        lua_pushliteral(L, "");
}

/* Prepends to package.path: LRENGINE_LUA_PATH, then the Lua modules next
 * to the executable: <prefix>/lua (the build tree, build/lrengine) and
 * <prefix>/share/lrengine/lua (installed, <prefix>/bin/lrengine). */
static void setpaths(lua_State *L) {
    int top = lua_gettop(L);
    const char *env = getenv("LRENGINE_LUA_PATH");
    if (env && *env) {
        const char *p = env;
        while (*p) {
            size_t len = strcspn(p, ";");
            if (len > 0) {
                lua_pushlstring(L, p, len);
                if (memchr(p, '?', len)) {
                    lua_pushliteral(L, ";");
                    lua_concat(L, 2);
                } else {
                    const char *dir = lua_tostring(L, -1);
                    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
                    lua_remove(L, -2);
                }
            }
            p += len + (p[len] == ';');
        }
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        for (int up = 0; up < 2; up++) { /* strip the file, then its directory */
            char *slash = strrchr(exe, '/');
            if (slash == NULL) break;
            *slash = '\0';
        }
        lua_pushfstring(L, "%s/lua", exe);
        pushdirpath(L, lua_tostring(L, -1));
        lua_remove(L, -2);
        lua_pushfstring(L, "%s/share/lrengine/lua", exe);
        pushdirpath(L, lua_tostring(L, -1));
        lua_remove(L, -2);
    }
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_remove(L, -2);
    lua_concat(L, lua_gettop(L) - top);
    lua_getglobal(L, "package");
    lua_insert(L, -2);
    lua_setfield(L, -2, "path");
    lua_settop(L, top);
}

static void preload_core(lua_State *L) {
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_lrengine_core);
    lua_setfield(L, -2, "lrengine.core");
    lua_pop(L, 1);
}

/* --------------------------------------------------------- options */

/* A non-negative decimal integer up to max, else -1. */
static long long parsenum(const char *s, unsigned long long max) {
    if (s == NULL || *s < '0' || *s > '9') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max) return -1;
    return (long long)v;
}

/* The value of an option given as "--opt VALUE" or "--opt=VALUE". */
static const char *optvalue(host *h, int *i, const char *name) {
    const char *a = h->argv[*i];
    size_t len = strlen(name);
    if (a[len] == '=') return a + len + 1;
    if (*i + 1 >= h->argc) return NULL;
    return h->argv[++*i];
}

static int isopt(const char *a, const char *name) {
    size_t len = strlen(name);
    return strncmp(a, name, len) == 0 && (a[len] == '\0' || a[len] == '=');
}

/* Reads the options; returns 0 when the command is done (help, version or
 * a usage error, with h->status set). */
static int collectargs(host *h) {
    char **argv = h->argv;
    int i;
    h->script = h->argc;
    for (i = 1; i < h->argc; i++) {
        const char *a = argv[i], *v;
        if (a[0] != '-' || strcmp(a, "-") == 0) { /* the script (or stdin) */
            h->script = i;
            if (strcmp(a, "suggest") == 0 || strcmp(a, "plot") == 0) h->command = i;
            return 1;
        }
        if (strcmp(a, "--") == 0) {
            if (i + 1 < h->argc) h->script = i + 1;
            return 1;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
            print_version();
            return 0;
        }
        if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            h->quiet = 1;
        } else if (strncmp(a, "-e", 2) == 0) {
            if (a[2] == '\0' && (i + 1 >= h->argc || argv[i + 1] == NULL))
                return usage_error(h, "'%s' needs an argument", "-e");
            if (a[2] == '\0') i++;
            h->has_e = 1;
        } else if (isopt(a, "--device")) {
            if ((v = optvalue(h, &i, "--device")) == NULL)
                return usage_error(h, "'%s' needs an argument (cpu or cuda)", "--device");
            if (strcmp(v, "cpu") == 0) h->opts.device = LRE_DEVICE_CPU;
            else if (strcmp(v, "cuda") == 0) h->opts.device = LRE_DEVICE_CUDA;
            else return usage_error(h, "unknown device '%s' (cpu or cuda)", v);
        } else if (isopt(a, "--seed")) {
            long long s;
            if ((v = optvalue(h, &i, "--seed")) == NULL)
                return usage_error(h, "'%s' needs an argument", "--seed");
            if ((s = parsenum(v, (unsigned long long)LLONG_MAX)) < 0)
                return usage_error(h, "--seed needs a non-negative integer, got '%s'", v);
            h->opts.seed = (uint64_t)s;
        } else if (isopt(a, "--precision")) {
            if ((v = optvalue(h, &i, "--precision")) == NULL)
                return usage_error(h, "'%s' needs an argument (fp32, tf32 or bf16)",
                                   "--precision");
            int p = 0;
            while (p < LRE_PRECISION_COUNT && strcmp(v, lre_precision_name((lre_precision)p)))
                p++;
            if (p == LRE_PRECISION_COUNT)
                return usage_error(h, "unknown precision '%s' (fp32, tf32 or bf16)", v);
            h->precision = (lre_precision)p;
        } else if (isopt(a, "--threads")) {
            long long n;
            if ((v = optvalue(h, &i, "--threads")) == NULL)
                return usage_error(h, "'%s' needs an argument", "--threads");
            if ((n = parsenum(v, 4096)) < 0)
                return usage_error(h, "--threads needs an integer in 0..4096, got '%s'", v);
            h->opts.threads = (int)n;
        } else {
            return usage_error(h, "unrecognized option '%s'", a);
        }
    }
    return 1;
}

/* Runs the -e chunks in order. */
static int runargs(lua_State *L, host *h) {
    for (int i = 1; i < h->script; i++) {
        const char *a = h->argv[i];
        if (strncmp(a, "-e", 2) != 0) continue;
        const char *chunk = a[2] ? a + 2 : h->argv[++i];
        if (dochunk(L, h, luaL_loadbuffer(L, chunk, strlen(chunk), "=(command line)")) != LUA_OK)
            return 0;
    }
    return 1;
}

/* A device other than the CPU is checked before any script runs, so that
 * `--device cuda` without a GPU (or without CUDA in this build) is one line
 * and exit status 1, not an error at the first engine call. */
static int device_available(host *h) {
    if (h->opts.device == LRE_DEVICE_CPU) return 1;
    char err[512] = "";
    lre_ctx *probe = NULL;
    if (lre_ctx_new_err(&probe, &h->opts, err, sizeof err) == LRE_OK) {
        lre_ctx_release(probe);
        return 1;
    }
    fprintf(stderr, "%s: --device %s: %s\n", PROGNAME, lre_device_name(h->opts.device), err);
    fflush(stderr);
    h->status = EXIT_LUA;
    return 0;
}

/* ------------------------------------------------------------- main */

static int pmain(lua_State *L) {
    host *h = (host *)lua_touserdata(L, 1);
    luaL_checkversion(L);
    if (!collectargs(h)) return 0;
    if (!device_available(h)) return 0;
    luaL_openlibs(L);
    lrelua_setoptions(L, &h->opts, h->quiet);
    lrelua_setprecision(L, h->precision);
    preload_core(L);
    setpaths(L);
    createargtable(L, h->argv, h->argc, h->script);
    lua_gc(L, LUA_GCRESTART);
    lua_gc(L, LUA_GCGEN, 0, 0);
    if (!runargs(L, h)) return 0;
    if (h->command) {
        handle_command(L, h);
    } else if (h->script < h->argc) {
        handle_script(L, h);
    } else if (!h->has_e) {
        if (isatty(STDIN_FILENO)) {
            usage_error(h, "%s", "no script given");
        } else {
            dochunk(L, h, luaL_loadfile(L, NULL));
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        message("cannot create the Lua state: not enough memory");
        return EXIT_LUA;
    }
    host h = {argc, argv, argc, 0, 0, lre_ctx_opts_default(), 0, EXIT_SUCCESS,
              LRE_PRECISION_FP32};
    lua_gc(L, LUA_GCSTOP);
    lua_pushcfunction(L, pmain);
    lua_pushlightuserdata(L, &h);
    int status = lua_pcall(L, 1, 0, 0);
    if (status != LUA_OK) { /* an error outside the script (set-up) */
        const char *msg = lua_tostring(L, -1);
        message(msg ? msg : "(error object is not a string)");
        h.status = EXIT_LUA;
    }
    lua_close(L);
    if (interrupted) h.status = EXIT_INTERRUPTED; /* even if the script caught it */
    return h.status;
}
