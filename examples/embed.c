/*
 * embed.c — lrengine's range-test finder inside a C program, without a line
 * of Lua: (a) on a trainer built with the engine's C API (lrengine.h), and
 * (b) on a model of the program's own — a least-squares line fit by SGD in
 * plain C — registered through lrelua_push_custom_trainer (lrengine_lua.h).
 * The suggestions are read back with lrengine_lua.h's result API,
 * and the program checks that each model is left as it was before the test.
 *
 * Build and run, in the repository:
 *     make examples && build/examples/embed [LUA_DIR]
 * LUA_DIR holds lrengine/finder.lua and the other Lua modules (default: the
 * tree's lua/, compiled in as LRE_SOURCE_LUA_DIR). Against an installed
 * lrengine (make install, PREFIX=/usr/local):
 *     cc -std=c11 -O2 embed.c -o embed $(pkg-config --cflags lua5.4) \
 *         -llrengine_lua -llrengine_plot -llrengine \
 *         $(pkg-config --libs lua5.4 openblas libcjson cairo) -ldnnl -lgomp -lz -lm
 *     ./embed          (the installed library finds its Lua modules itself)
 * Exit status: 0 when every check holds; 1, with a message on stderr, on
 * any failure; 2 on a usage error.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lrengine.h"
#include "lrengine_lua.h"

#ifndef LRE_SOURCE_LUA_DIR
#define LRE_SOURCE_LUA_DIR NULL /* then package.path (LUA_PATH) must find them */
#endif

static int fail(const char *fmt, ...) {
    va_list ap;
    fputs("embed: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

/* A deterministic generator for the synthetic data (splitmix64). */
static uint64_t rng_state = 42;

static double uniform(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0; /* [0, 1) */
}

static double gaussian(void) {
    const double pi = 3.14159265358979323846;
    double u = 1.0 - uniform(); /* (0, 1] */
    return sqrt(-2.0 * log(u)) * cos(2.0 * pi * uniform());
}

/* A fresh Lua state with lrengine opened; NULL (message printed) on failure. */
static lua_State *open_lua(const char *lua_dir) {
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        fail("cannot create a Lua state: out of memory");
        return NULL;
    }
    luaL_openlibs(L);
    if (lrelua_open(L, lua_dir) != LUA_OK) {
        fail("%s", lua_tostring(L, -1));
        lua_close(L);
        return NULL;
    }
    return L;
}

/* Pushes the options of both range tests: a test from 1e-5 to 10 over 100
 * steps, validation loss driving it, two heuristics. The caller adds val. */
static void push_options(lua_State *L) {
    lua_createtable(L, 0, 6);
    lua_pushnumber(L, 1e-5);
    lua_setfield(L, -2, "start_lr");
    lua_pushnumber(L, 10);
    lua_setfield(L, -2, "end_lr");
    lua_pushinteger(L, 100);
    lua_setfield(L, -2, "num_iter");
    lua_createtable(L, 2, 0);
    lua_pushliteral(L, "steepest");
    lua_rawseti(L, -2, 1);
    lua_pushliteral(L, "valley");
    lua_rawseti(L, -2, 2);
    lua_setfield(L, -2, "suggest");
}

/* Prints what the result at the top of the stack says: how the test
 * ended and each suggestion (lrengine_lua.h's result API: no Lua tables
 * walked by hand). Returns the number of suggestions found. */
static int print_result(lua_State *L) {
    static const char *const names[] = {"steepest", "valley"};
    int found = 0;
    size_t steps = lrelua_result_curve(L, -1, "lrs", NULL, 0);
    const char *stop = lrelua_result_stop_reason(L, -1);
    printf("stop: %s after %zu of 100 steps\n", stop ? stop : "?", steps);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        double lr;
        int64_t index;
        if (lrelua_result_suggestion(L, -1, names[i], &lr, &index)) {
            printf("suggestion %s: lr = %.4g (step %lld)\n", names[i], lr, (long long)index);
            found++;
        } else {
            const char *why = lrelua_result_reason(L, -1, names[i]);
            printf("suggestion %s: none (%s)\n", names[i], why ? why : "no entry");
        }
    }
    return found;
}

/* ------------------------------------------- (a) the engine's own trainer */

enum { CLASSES = 3, TRAIN_ROWS = 600, VAL_ROWS = 300 };

/* Three Gaussian blobs in the plane, centred on a circle of radius 2. */
static void blobs(int64_t n, float *x, int32_t *y) {
    const double pi = 3.14159265358979323846;
    for (int64_t i = 0; i < n; i++) {
        int c = (int)(i % CLASSES);
        double angle = 2.0 * pi * c / CLASSES;
        x[2 * i] = (float)(2.0 * cos(angle) + 0.8 * gaussian());
        x[2 * i + 1] = (float)(2.0 * sin(angle) + 0.8 * gaussian());
        y[i] = c;
    }
}

/* The model's flat parameters, copied to a new host buffer (NULL on failure). */
static float *copy_params(lre_model *m) {
    lre_tensor *p = lre_model_params(m);
    size_t n = (size_t)lre_tensor_numel(p);
    float *buf = malloc(n * sizeof *buf);
    if (buf && lre_tensor_to_host(p, buf, n * sizeof *buf) != LRE_OK) {
        free(buf);
        buf = NULL;
    }
    return buf;
}

static int engine_trainer(const char *lua_dir) {
    static float xtrain[TRAIN_ROWS * 2], xval[VAL_ROWS * 2];
    static int32_t ytrain[TRAIN_ROWS], yval[VAL_ROWS];
    lre_ctx *ctx = NULL;
    lre_dataset *train = NULL, *val = NULL;
    lre_model *model = NULL;
    lre_trainer *t = NULL;
    lua_State *L = NULL;
    float *before = NULL, *after = NULL;
    int rc = 1;

    puts("== (a) the engine's trainer, made with the C API");
    blobs(TRAIN_ROWS, xtrain, ytrain);
    blobs(VAL_ROWS, xval, yval);
    if (lre_ctx_new(&ctx, NULL) != LRE_OK) return fail("cannot create the engine context");
    lre_trainer_opts o = lre_trainer_opts_default(); /* Adam, cross-entropy */
    o.batch_size = 32;
    o.seed = 1;
    if (lre_dataset_from_arrays(ctx, &train, TRAIN_ROWS, 2, xtrain, ytrain, NULL, 0) != LRE_OK ||
        lre_dataset_from_arrays(ctx, &val, VAL_ROWS, 2, xval, yval, NULL, 0) != LRE_OK ||
        lre_model_new(ctx, &model) != LRE_OK || lre_model_add_linear(model, 2, 32) != LRE_OK ||
        lre_model_add_act(model, LRE_ACT_RELU, 0) != LRE_OK ||
        lre_model_add_linear(model, 32, CLASSES) != LRE_OK ||
        lre_trainer_new(ctx, &t, model, train, &o) != LRE_OK) {
        fail("engine set-up: %s", lre_ctx_error(ctx));
        goto done;
    }
    char desc[128];
    printf("model: %s, %s, batch %lld\n", lre_model_describe(model, desc, sizeof desc),
           lre_optim_name(o.optim.kind), (long long)o.batch_size);
    if ((before = copy_params(model)) == NULL) {
        fail("cannot copy the parameters: %s", lre_ctx_error(ctx));
        goto done;
    }

    if ((L = open_lua(lua_dir)) == NULL) goto done;
    if (lrelua_use_ctx(L, ctx) != LUA_OK) {
        fail("%s", lua_tostring(L, -1));
        goto done;
    }
    lrelua_push_trainer(L, t);       /* stack: trainer */
    push_options(L);                 /* stack: trainer opts */
    lrelua_push_dataset(L, val);
    lua_setfield(L, -2, "val");
    if (lrelua_range_test(L, -2, -1) != LUA_OK) { /* stack: trainer opts result */
        fail("range test: %s", lua_tostring(L, -1));
        goto done;
    }
    if (print_result(L) != 2) {
        fail("the engine trainer's test gave no suggestion for each heuristic");
        goto done;
    }

    /* the finder restored the trainer: no step taken, parameters as before */
    int64_t steps = lre_trainer_steps(t);
    size_t n = (size_t)lre_model_num_params(model);
    if ((after = copy_params(model)) == NULL) {
        fail("cannot copy the parameters: %s", lre_ctx_error(ctx));
        goto done;
    }
    if (steps != 0 || memcmp(before, after, n * sizeof *before) != 0) {
        fail("the trainer was not restored: %lld steps, parameters %s", (long long)steps,
             memcmp(before, after, n * sizeof *before) ? "changed" : "unchanged");
        goto done;
    }
    printf("restored: steps = %lld, %zu parameters unchanged\n", (long long)steps, n);
    rc = 0;
done:
    if (L) lua_close(L); /* first: the Lua objects hold references */
    free(before);
    free(after);
    lre_trainer_release(t);
    lre_model_release(model);
    lre_dataset_release(val);
    lre_dataset_release(train);
    lre_ctx_release(ctx);
    return rc;
}

/* --------------------------------------- (b) a model of the program's own */

/* y ≈ a·x + b fitted by minibatch SGD on the mean squared error. */
enum { FIT_ROWS = 256, FIT_VAL = 64, FIT_BATCH = 16 };

typedef struct linfit {
    double a, b;                   /* the weights */
    int cursor;                    /* next training row */
    double x[FIT_ROWS], y[FIT_ROWS], vx[FIT_VAL], vy[FIT_VAL];
    int snapshots, freed;          /* counted, checked after lua_close */
    char err[96];
} linfit;

typedef struct linfit_state {      /* a snapshot: all a step changes */
    double a, b;
    int cursor;
} linfit_state;

static int linfit_step(void *user, double lr, double *loss) {
    linfit *m = user;
    double ga = 0, gb = 0, sum = 0;
    for (int k = 0; k < FIT_BATCH; k++) {
        int i = (m->cursor + k) % FIT_ROWS;
        double r = m->a * m->x[i] + m->b - m->y[i];
        sum += r * r;
        ga += 2 * r * m->x[i];
        gb += 2 * r;
    }
    m->cursor = (m->cursor + FIT_BATCH) % FIT_ROWS;
    m->a -= lr * ga / FIT_BATCH;
    m->b -= lr * gb / FIT_BATCH;
    *loss = sum / FIT_BATCH; /* the loss of the batch before the update */
    return 0;
}

static int linfit_evaluate(void *user, double *loss) {
    linfit *m = user;
    double sum = 0;
    for (int i = 0; i < FIT_VAL; i++) {
        double r = m->a * m->vx[i] + m->b - m->vy[i];
        sum += r * r;
    }
    *loss = sum / FIT_VAL;
    return 0;
}

static void *linfit_snapshot(void *user) {
    linfit *m = user;
    linfit_state *s = malloc(sizeof *s);
    if (s == NULL) {
        snprintf(m->err, sizeof m->err, "linfit: no memory for a snapshot");
        return NULL;
    }
    *s = (linfit_state){m->a, m->b, m->cursor};
    m->snapshots++;
    return s;
}

static int linfit_restore(void *user, void *snap) {
    linfit *m = user;
    const linfit_state *s = snap;
    m->a = s->a;
    m->b = s->b;
    m->cursor = s->cursor;
    return 0;
}

static void linfit_free(void *user, void *snap) {
    ((linfit *)user)->freed++;
    free(snap);
}

static const char *linfit_error(void *user) { return ((linfit *)user)->err; }

static int custom_trainer(const char *lua_dir) {
    static linfit m; /* zero weights, cursor 0 */
    static const lrelua_trainer_ops ops = {
        .step = linfit_step,
        .evaluate = linfit_evaluate,
        .snapshot = linfit_snapshot,
        .restore = linfit_restore,
        .free_snapshot = linfit_free,
        .error = linfit_error,
    };
    puts("== (b) a model in plain C: y = a*x + b by SGD, through lrelua_trainer_ops");
    for (int i = 0; i < FIT_ROWS + FIT_VAL; i++) {
        double x = 2 * uniform() - 1, y = 3 * x - 1 + 0.1 * gaussian();
        if (i < FIT_ROWS) {
            m.x[i] = x;
            m.y[i] = y;
        } else {
            m.vx[i - FIT_ROWS] = x;
            m.vy[i - FIT_ROWS] = y;
        }
    }
    lua_State *L = open_lua(lua_dir);
    if (L == NULL) return 1;
    lrelua_push_custom_trainer(L, &ops, &m); /* stack: trainer */
    push_options(L);                          /* stack: trainer opts */
    lua_pushboolean(L, 1);                    /* the model evaluates its own data */
    lua_setfield(L, -2, "val");
    if (lrelua_range_test(L, -2, -1) != LUA_OK) {
        fail("range test: %s", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    int found = print_result(L);
    lua_close(L); /* frees the snapshot the finder took */
    if (found != 2) return fail("the custom model's test gave no suggestion for each heuristic");
    if (m.a != 0 || m.b != 0 || m.cursor != 0)
        return fail("the model was not restored: a = %g, b = %g, cursor = %d", m.a, m.b,
                    m.cursor);
    if (m.snapshots < 1 || m.freed != m.snapshots)
        return fail("%d snapshots taken, %d freed", m.snapshots, m.freed);
    printf("restored: a = %g, b = %g, cursor = %d; %d snapshot taken, %d freed\n", m.a, m.b,
           m.cursor, m.snapshots, m.freed);
    return 0;
}

int main(int argc, char **argv) {
    const char *lua_dir = argc > 1 ? argv[1] : LRE_SOURCE_LUA_DIR;
    if (argc > 2) {
        fprintf(stderr, "usage: %s [LUA_DIR]\n", argv[0]);
        return 2;
    }
    if (engine_trainer(lua_dir) != 0 || custom_trainer(lua_dir) != 0) return 1;
    puts("ok");
    return 0;
}
