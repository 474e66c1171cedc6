/*
 * main.c — the `lrengine` command: a Lua 5.4 host (modelled on Lua's own
 * lua.c) with the engine's module `lrengine.core` preloaded and the Lua
 * modules of lrengine on package.path.
 *
 *   lrengine [options] [script [args]]
 *   lrengine [options] suggest FILE [--heuristic NAME]... [--smoothing S] ...
 *   lrengine [options] plot FILE.json|FILE.csv [-o OUT.png|svg|pdf]
 *   lrengine [options]            (a terminal on stdin: the interactive prompt)
 *
 * The script sees `arg` and `...` exactly as under `lua`. A script that
 * returns a table is a declarative sweep: the host hands the table to
 * lrengine.cli.sweep. The subcommands are lrengine.cli.main. Host options are
 * handed to the binding (lrelua_setoptions) before anything runs; scripts
 * read them with require("lrengine").options(). With no script, no -e and a
 * terminal on stdin (or with -i, after the script) it reads Lua line by line
 * as lua.c does. Only this file decides the exit status: 0 success, 1 a Lua
 * error, 2 a usage error (one line and "see lrengine --help"), 130
 * interrupted by SIGINT (the script first gets an "interrupted!" error, so
 * the finder can restore the trainer; 130 even if the script catches it).
 *
 * A Lua error is printed with a traceback, except an error in what the user
 * gave the command rather than in user code: one raised on purpose (by
 * `error` or an engine function) while only lrengine's own modules are on
 * the stack — a bad key or value in a declarative sweep's table, a bad
 * option of a subcommand. That is one line, without the library's file and
 * line; --traceback prints the traceback always.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
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
    "                [--smoothing ema|debiased|none] [--skip-start N] [--skip-end N]\n"
    "       " PROGNAME " [options] plot FILE.json|FILE.csv [-o OUT.png|svg|pdf]\n"
    "       " PROGNAME " [options] merge FILE.json... -o GRID.json\n"
    "Runs a Lua 5.4 script with the lrengine engine loaded (require \"lrengine\").\n"
    "Everything after the script's name is the script's, options too: its\n"
    "arguments are arg[1], arg[2], ... (and ...), as under lua. A script that\n"
    "returns a table runs it as a declarative range test (see\n"
    "examples/declarative.lua) and prints the suggestions. 'suggest' re-runs the\n"
    "learning-rate heuristics on a saved curve (an lrengine result, or a CSV of\n"
    "lr,loss from any framework); 'plot' draws a saved curve (a terminal chart\n"
    "without -o) or grid; 'merge' joins the JSON files of a grid split across\n"
    "processes (finder.grid). Each has --help. With no script and no -e, Lua is\n"
    "read from standard input: a prompt on a terminal (as lua's; an expression\n"
    "prints its value; Ctrl-D exits), else the whole input as one script.\n"
    "Options:\n"
    "  -e CODE          run the Lua string CODE (before the script; may repeat)\n"
    "  -i               the interactive prompt after the script (even without a\n"
    "                   terminal)\n"
    "  -                run the script read from standard input\n"
    "  --device DEV     the engine's device: cpu or cuda (default cpu)\n"
    "  --seed N         default seed of the engine, trainers and splits (default 0)\n"
    "  --threads N      BLAS threads (default 0: the library's choice)\n"
    "  --precision P    matmul precision of trainers: fp32, tf32 or bf16 (default\n"
    "                   fp32); a device without it warns and runs fp32\n"
    "  -q, --quiet      ask scripts to print less\n"
    "  --grid-index I   run value I alone of the script's finder.grid (what\n"
    "                   grid{jobs = N} and a cluster's array jobs run)\n"
    "  --traceback      a traceback with every Lua error (by default a mistake in\n"
    "                   a sweep's table or a subcommand's input is one line)\n"
    "  -h, --help       show this help and exit\n"
    "  -v, --version    show the version and exit\n"
    "  --               stop handling options (the next argument is the script)\n"
    "Scripts read the options as require(\"lrengine\").options()\n"
    "({device=, seed=, threads=, precision=, quiet=, host=true}, and\n"
    "grid_index= under --grid-index).\n"
    "Environment: LRENGINE_LUA_PATH, Lua path templates (a;b, with '?') or\n"
    "directories searched for modules before the installed ones.\n"
    "Exit status: 0 success, 1 Lua error, 2 usage error, 130 interrupted.\n";

/* The subcommands (lrengine.cli.COMMANDS), and the long options, for "did
 * you mean" */
static const char *const commands[] = {"suggest", "plot", "merge", NULL};
static const char *const long_options[] = {"--device",    "--seed",      "--threads",
                                           "--precision", "--quiet",     "--help",
                                           "--version",   "--traceback", "--grid-index",
                                           NULL};

/* What the command line asked for. */
typedef struct host {
    int argc;
    char **argv;
    int script;          /* index of the script in argv; argc when none */
    int command;         /* index of a subcommand (suggest, plot); 0: none */
    int has_e;
    int interactive;     /* -i */
    int traceback;       /* --traceback */
    lre_ctx_opts opts;
    int quiet;
    int status;          /* the exit status */
    lre_precision precision; /* trainers' default (--precision) */
    long long grid_index;    /* --grid-index (0: none) */
} host;

static lua_State *globalL = NULL;
static volatile sig_atomic_t interrupted = 0;
static int force_traceback = 0; /* --traceback */
static int input_error_seen = 0; /* the last error was the user's input (no traceback) */
static const char *script_name = NULL; /* the script's chunk name, for position() */

/* --------------------------------------------------------- messages */

static void message(const char *msg) {
    fprintf(stderr, "%s: %s\n", PROGNAME, msg);
    fflush(stderr);
}

/* A usage error: one line, then where the help is; exit status 2. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int usage_error(host *h, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: ", PROGNAME);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nsee %s --help\n", PROGNAME);
    fflush(stderr);
    h->status = EXIT_USAGE;
    return 0;
}

/* Levenshtein distance of a and b (INT_MAX for words over 63 bytes). */
static int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    int row[64];
    if (la > 63 || lb > 63) return INT_MAX;
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int v = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < v) v = up + 1;
            if (row[j - 1] + 1 < v) v = row[j - 1] + 1;
            row[j] = v;
            diag = up;
        }
    }
    return row[lb];
}

/* The name of `names` nearest to word, at most 2 edits away (the first on
 * a tie); NULL when none is. `len` bytes of word count (the option's name
 * before '='). */
static const char *nearest(const char *word, size_t len, const char *const *names) {
    char w[64];
    if (len >= sizeof w) return NULL;
    memcpy(w, word, len);
    w[len] = '\0';
    const char *best = NULL;
    int bestd = 3;
    for (int i = 0; names[i]; i++) {
        int d = edit_distance(w, names[i]);
        if (d > 0 && d < bestd) best = names[i], bestd = d;
    }
    return best;
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

/* Is `source` (a chunk's source) one of lrengine's own Lua modules,
 * "@.../lrengine/NAME.lua"? */
static int library_source(const char *source) {
    size_t n = strlen(source);
    if (source[0] != '@' || n < 5 || strcmp(source + n - 4, ".lua") != 0) return 0;
    const char *slash = strrchr(source, '/');
    if (slash == NULL || slash - source < 9 || strncmp(slash - 8, "lrengine", 8) != 0) return 0;
    return slash[-9] == '/' || slash[-9] == '@';
}

/* An error in the user's input rather than in code: raised on purpose (by
 * `error` or an engine function: a C function at level 1; a runtime error
 * in Lua code is a bug, and keeps its traceback) while no frame of user
 * code (a script, -e, the prompt, the user's own modules and callbacks) is
 * on the stack: only lrengine's modules and C. */
static int input_error(lua_State *L) {
    lua_Debug ar;
    if (!lua_getstack(L, 1, &ar)) return 0;
    lua_getinfo(L, "S", &ar);
    if (strcmp(ar.what, "C") != 0) return 0;
    for (int level = 2; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "S", &ar);
        if (strcmp(ar.what, "C") != 0 && !library_source(ar.source)) return 0;
    }
    return 1;
}

/* Where msg says it was raised: 0 nowhere, 1 in lrengine's own modules
 * ("<...>/lrengine/NAME.lua:LINE: ", and *rest is what follows), 2 in user
 * code ("the-script:3: ", "other.lua:3: ", "stdin:1: ", "(command
 * line):1: ", "[string ...]:1: "). */
static int position(const char *msg, const char **rest) {
    const char *colon = strstr(msg, ": ");
    if (colon == NULL || colon == msg) return 0;
    for (const char *c = msg; c < colon; c++)
        if (*c == '\n') return 0;
    const char *d = colon;
    while (d > msg && isdigit((unsigned char)d[-1])) d--;
    if (d == colon || d == msg || d[-1] != ':') return 0;
    const char *end = d - 1; /* the chunk's name is msg..end */
    size_t len = (size_t)(end - msg);
    size_t sl = script_name ? strlen(script_name) : 0;
    if ((sl == len && strncmp(msg, script_name, len) == 0) ||
        (len > 3 && sl >= len - 3 && strncmp(msg, "...", 3) == 0 && /* a long name, cut */
         strncmp(msg + 3, script_name + sl - (len - 3), len - 3) == 0) ||
        (len == 5 && strncmp(msg, "stdin", 5) == 0) ||
        (len == 14 && strncmp(msg, "(command line)", 14) == 0) || strncmp(msg, "[string ", 8) == 0)
        return 2;
    if (len < 4 || strncmp(end - 4, ".lua", 4) != 0) return 0;
    const char *name = end;
    while (name > msg && name[-1] != '/') name--;
    if (name - msg >= 9 && strncmp(name - 9, "lrengine/", 9) == 0 &&
        (name - msg == 9 || name[-10] == '/' || name[-10] == '.')) {
        *rest = colon + 2;
        return 1;
    }
    return 2;
}

static int msghandler(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    /* an error that names a place in user code keeps its traceback, even
     * when it was caught and raised again by the library (the finder does,
     * to restore the trainer) */
    const char *rest = msg;
    int where = position(msg, &rest);
    input_error_seen = !force_traceback && where != 2 && input_error(L);
    if (input_error_seen) {
        lua_pushstring(L, rest);
        return 1;
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

/* Pushes require("lrengine.cli")[fn], having set the module's `traceback`
 * (--traceback: its own protected calls keep the traceback too). */
static void pushcli(lua_State *L, const char *fn) {
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lrengine.cli");
    lua_call(L, 1, 1);
    lua_pushboolean(L, force_traceback);
    lua_setfield(L, -2, "traceback");
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
}

static int handle_script(lua_State *L, host *h) {
    const char *fname = h->argv[h->script];
    if (strcmp(fname, "-") == 0 && strcmp(h->argv[h->script - 1], "--") != 0)
        fname = NULL; /* stdin */
    int status = luaL_loadfile(L, fname);
    script_name = fname;
    if (status == LUA_OK) {
        int n = pushargs(L);
        status = docall(L, n, 1);
    }
    if (status == LUA_OK && lua_istable(L, -1)) { /* a declarative sweep */
        const char *name = fname ? fname : "stdin";
        pushcli(L, "sweep");
        lua_insert(L, -2);
        lua_pushstring(L, name);
        input_error_seen = 0;
        status = docall(L, 2, 0);
        /* a mistake in the table: one line that names the script */
        const char *msg = status != LUA_OK ? lua_tostring(L, -1) : NULL;
        if (input_error_seen && msg && strstr(msg, name) == NULL) {
            lua_pushfstring(L, "%s: %s", name, msg);
            lua_remove(L, -2);
        }
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

/* ------------------------------------------------------ interactive */

/* The prompt, as lua.c's: "> " for a statement, ">> " for its next lines;
 * an expression prints its values; Ctrl-D ends it. */
#define EOFMARK "<eof>"

/* Pushes the next line of stdin without its newline, after the prompt; 0 at
 * the end of the input. */
static int pushline(lua_State *L, int firstline) {
    fputs(firstline ? "> " : ">> ", stdout);
    fflush(stdout);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return 0;
    }
    if (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
    lua_pushlstring(L, line, (size_t)n);
    free(line);
    return 1;
}

/* A syntax error at the end of the chunk: the statement goes on. */
static int incomplete(lua_State *L, int status) {
    if (status != LUA_ERRSYNTAX) return 0;
    size_t len, mark = sizeof EOFMARK - 1;
    const char *msg = lua_tolstring(L, -1, &len);
    return msg && len >= mark && strcmp(msg + len - mark, EOFMARK) == 0;
}

/* The line at index `li`: "return LINE;" when that compiles (an
 * expression), else the line and as many more as the statement needs.
 * Leaves the line, then the function or the error message; returns the
 * load status. */
static int loadline(lua_State *L, int li) {
    const char *retline = lua_pushfstring(L, "return %s;", lua_tostring(L, li));
    int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
    lua_remove(L, -2);
    if (status == LUA_OK) return status;
    lua_pop(L, 1);
    for (;;) {
        size_t len;
        const char *chunk = lua_tolstring(L, li, &len);
        status = luaL_loadbuffer(L, chunk, len, "=stdin");
        if (!incomplete(L, status) || !pushline(L, 0)) return status;
        lua_remove(L, -2); /* the message */
        lua_pushliteral(L, "\n");
        lua_insert(L, -2);
        lua_concat(L, 3); /* line .. "\n" .. next line, at li */
    }
}

/* Prints the values above `top` with the global print. */
static void printresults(lua_State *L, int top) {
    int n = lua_gettop(L) - top;
    if (n <= 0) return;
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_getglobal(L, "print");
    lua_insert(L, top + 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK) {
        message(lua_pushfstring(L, "error calling 'print' (%s)", lua_tostring(L, -1)));
        lua_pop(L, 2);
    }
}

/* Reads, evaluates and prints until the end of stdin. Errors are printed
 * and do not change the exit status (lua.c's REPL). */
static void repl(lua_State *L) {
    int top = lua_gettop(L);
    while (pushline(L, 1)) {
        int status = loadline(L, top + 1);
        lua_remove(L, top + 1); /* the line */
        if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
        if (status == LUA_OK) {
            printresults(L, top);
        } else {
            const char *msg = lua_tostring(L, -1);
            message(msg ? msg : "(error object is not a string)");
        }
        interrupted = 0; /* a ^C stopped that line, not the session */
        lua_settop(L, top);
    }
    fputs("\n", stdout);
    fflush(stdout);
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
 * <prefix>/share/lua/5.4 (installed, <prefix>/bin/lrengine: where Lua 5.4
 * itself looks under a prefix). */
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
        lua_pushfstring(L, "%s/share/lua/5.4", exe);
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
            for (int c = 0; commands[c]; c++)
                if (strcmp(a, commands[c]) == 0) h->command = i;
            if (h->command && h->interactive)
                return usage_error(h, "-i does not go with '%s'", a);
            /* a near-miss of a command that is no file: a typo, not a script */
            const char *near = NULL;
            if (!h->command && strcmp(a, "-") != 0 && strchr(a, '/') == NULL &&
                access(a, F_OK) != 0 && (near = nearest(a, strlen(a), commands)) != NULL)
                return usage_error(h, "unknown command '%s' (did you mean '%s'?)", a, near);
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
        } else if (strcmp(a, "-i") == 0) {
            h->interactive = 1;
        } else if (strcmp(a, "--traceback") == 0) {
            h->traceback = 1;
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
        } else if (isopt(a, "--grid-index")) {
            long long n;
            if ((v = optvalue(h, &i, "--grid-index")) == NULL)
                return usage_error(h, "'%s' needs an argument", "--grid-index");
            if ((n = parsenum(v, (unsigned long long)INT_MAX)) < 1)
                return usage_error(h, "--grid-index needs an integer >= 1, got '%s'", v);
            h->grid_index = n;
        } else if (isopt(a, "--threads")) {
            long long n;
            if ((v = optvalue(h, &i, "--threads")) == NULL)
                return usage_error(h, "'%s' needs an argument", "--threads");
            if ((n = parsenum(v, 4096)) < 0)
                return usage_error(h, "--threads needs an integer in 0..4096, got '%s'", v);
            h->opts.threads = (int)n;
        } else {
            const char *near = a[1] == '-' ? nearest(a, strcspn(a, "="), long_options) : NULL;
            if (near) return usage_error(h, "unrecognized option '%s' (did you mean '%s'?)", a, near);
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
    force_traceback = h->traceback;
    if (!device_available(h)) return 0;
    luaL_openlibs(L);
    lrelua_setoptions(L, &h->opts, h->quiet);
    lrelua_setprecision(L, h->precision);
    lrelua_setgridindex(L, h->grid_index);
    preload_core(L);
    setpaths(L);
    createargtable(L, h->argv, h->argc, h->script);
    lua_gc(L, LUA_GCRESTART);
    lua_gc(L, LUA_GCGEN, 0, 0);
    if (!runargs(L, h)) return 0;
    if (h->command) {
        handle_command(L, h);
    } else if (h->script < h->argc) {
        if (handle_script(L, h) != LUA_OK) return 0;
        if (h->interactive) {
            if (!h->quiet) print_version();
            repl(L);
        }
    } else if (h->interactive || (!h->has_e && isatty(STDIN_FILENO))) {
        if (!h->quiet) print_version();
        repl(L);
    } else if (!h->has_e) {
        dochunk(L, h, luaL_loadfile(L, NULL));
    }
    return 0;
}

int main(int argc, char **argv) {
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        message("cannot create the Lua state: not enough memory");
        return EXIT_LUA;
    }
    host h = {argc, argv, argc, 0, 0, 0, 0, lre_ctx_opts_default(), 0, EXIT_SUCCESS,
              LRE_PRECISION_FP32, 0};
    /* past a file-size limit (ulimit -f) a write fails with EFBIG, which is
     * reported, instead of the signal killing the command mid-file */
    setsignal(SIGXFSZ, SIG_IGN);
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
