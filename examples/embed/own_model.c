/*
 * own_model.c — lrengine's finder on a model of the program's own, in
 * plain C: logistic regression on a synthetic two-class dataset, behind the
 * callbacks of lrengine_lua.h (step, evaluate, snapshot, restore,
 * free_snapshot, error). The range test suggests a learning rate; the
 * program then trains with it, from the same starting point (the finder
 * restored the model), and reports the accuracy it reaches on held-out
 * data — the suggestion shown to be useful.
 *
 *     cc own_model.c -o own_model $(pkg-config --cflags --libs lrengine)
 *     ./own_model              # prints the suggestion and the accuracy
 *     ./own_model --fail-at 7  # the step callback fails at step 7: the
 *                              # finder restores the model and reports it
 *
 * Exit status: 0 when the accuracy reached is at least 85%; 1 with the
 * message on stderr otherwise (or when a callback failed); 2 on a usage
 * error.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lrengine_lua.h"

#ifndef LRE_SOURCE_LUA_DIR
#define LRE_SOURCE_LUA_DIR NULL /* the installed modules (lrelua_open finds them) */
#endif

enum { TRAIN = 512, VAL = 256, BATCH = 16, EPOCHS = 5 };

typedef struct model {
    double w[2], b;            /* the weights */
    int cursor;                /* the next training row */
    int steps, fail_at;        /* fail_at > 0: the step callback fails then */
    double x[TRAIN][2], vx[VAL][2];
    int y[TRAIN], vy[VAL];
    char err[128];
} model;

typedef struct state {         /* a snapshot: everything a step changes */
    double w[2], b;
    int cursor, steps;
} state;

static double sigmoid(double z) { return 1 / (1 + exp(-z)); }

/* Binary cross-entropy of row (x, y), computed stably from the logit. */
static double bce(const model *m, const double *x, int y) {
    double z = m->w[0] * x[0] + m->w[1] * x[1] + m->b;
    return (z > 0 ? z : 0) - z * y + log1p(exp(-fabs(z)));
}

static int step(void *user, double lr, double *loss) {
    model *m = user;
    if (m->fail_at > 0 && m->steps + 1 == m->fail_at) {
        snprintf(m->err, sizeof m->err, "own_model: the step callback failed at step %d",
                 m->fail_at);
        return 1;
    }
    double g0 = 0, g1 = 0, gb = 0, sum = 0;
    for (int k = 0; k < BATCH; k++) {
        int i = (m->cursor + k) % TRAIN;
        double p = sigmoid(m->w[0] * m->x[i][0] + m->w[1] * m->x[i][1] + m->b);
        sum += bce(m, m->x[i], m->y[i]);
        g0 += (p - m->y[i]) * m->x[i][0];
        g1 += (p - m->y[i]) * m->x[i][1];
        gb += p - m->y[i];
    }
    m->w[0] -= lr * g0 / BATCH;
    m->w[1] -= lr * g1 / BATCH;
    m->b -= lr * gb / BATCH;
    m->cursor = (m->cursor + BATCH) % TRAIN;
    m->steps++;
    *loss = sum / BATCH;
    return 0;
}

static int evaluate(void *user, double *loss) {
    const model *m = user;
    double sum = 0;
    for (int i = 0; i < VAL; i++) sum += bce(m, m->vx[i], m->vy[i]);
    *loss = sum / VAL;
    return 0;
}

static void *snapshot(void *user) {
    model *m = user;
    state *s = malloc(sizeof *s);
    if (!s) {
        snprintf(m->err, sizeof m->err, "own_model: no memory for a snapshot");
        return NULL;
    }
    *s = (state){{m->w[0], m->w[1]}, m->b, m->cursor, m->steps};
    return s;
}

static int restore(void *user, void *snap) {
    model *m = user;
    const state *s = snap;
    m->w[0] = s->w[0], m->w[1] = s->w[1], m->b = s->b;
    m->cursor = s->cursor, m->steps = s->steps;
    return 0;
}

static void free_snapshot(void *user, void *snap) { (void)user, free(snap); }
static const char *error(void *user) { return ((model *)user)->err; }

static double accuracy(const model *m) {
    int right = 0;
    for (int i = 0; i < VAL; i++) {
        double z = m->w[0] * m->vx[i][0] + m->w[1] * m->vx[i][1] + m->b;
        right += (z > 0) == (m->vy[i] == 1);
    }
    return (double)right / VAL;
}

/* Two Gaussian classes centred at (-1.2, -0.6) and (1.2, 0.6): about 93%
 * separable by a line. A fixed generator: the same data on every run. */
static void make_data(model *m) {
    unsigned long long s = 12345;
    for (int i = 0; i < TRAIN + VAL; i++) {
        double g[2];
        for (int k = 0; k < 2; k++) { /* Box-Muller on a 64-bit LCG */
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            double u1 = ((s >> 11) + 1.0) / 9007199254740993.0;
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            double u2 = (s >> 11) / 9007199254740992.0;
            g[k] = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
        }
        int y = i % 2;
        double cx = y ? 1.2 : -1.2, cy = y ? 0.6 : -0.6;
        if (i < TRAIN) {
            m->x[i][0] = cx + g[0], m->x[i][1] = cy + g[1], m->y[i] = y;
        } else {
            m->vx[i - TRAIN][0] = cx + g[0], m->vx[i - TRAIN][1] = cy + g[1];
            m->vy[i - TRAIN] = y;
        }
    }
}

int main(int argc, char **argv) {
    static model m;
    if (argc == 3 && strcmp(argv[1], "--fail-at") == 0) {
        m.fail_at = atoi(argv[2]);
    } else if (argc != 1) {
        fprintf(stderr, "usage: %s [--fail-at STEP]\n", argv[0]);
        return 2;
    }
    make_data(&m);
    static const lrelua_trainer_ops ops = {.step = step, .evaluate = evaluate,
                                           .snapshot = snapshot, .restore = restore,
                                           .free_snapshot = free_snapshot, .error = error};
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    if (lrelua_open(L, LRE_SOURCE_LUA_DIR) != LUA_OK) {
        fprintf(stderr, "own_model: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    lrelua_push_custom_trainer(L, &ops, &m);
    lua_createtable(L, 0, 4); /* from 1e-4 to 100 over 100 steps, the validation loss */
    lua_pushnumber(L, 1e-4);
    lua_setfield(L, -2, "start_lr");
    lua_pushnumber(L, 100);
    lua_setfield(L, -2, "end_lr");
    lua_pushinteger(L, 100);
    lua_setfield(L, -2, "num_iter");
    lua_pushboolean(L, 1); /* the model evaluates its own validation data */
    lua_setfield(L, -2, "val");
    if (lrelua_range_test(L, -2, -1) != LUA_OK) {
        fprintf(stderr, "own_model: range test: %s\n", lua_tostring(L, -1));
        fprintf(stderr, "own_model: the model is back as it was: w = (%g, %g), b = %g, "
                        "%d steps\n", m.w[0], m.w[1], m.b, m.steps);
        lua_close(L);
        return 1;
    }
    double lr;
    int64_t at;
    int have = lrelua_result_suggestion(L, -1, "steepest", &lr, &at);
    if (!have)
        fprintf(stderr, "own_model: no suggestion: %s\n",
                lrelua_result_reason(L, -1, "steepest"));
    lua_close(L);
    if (!have) return 1;
    if (m.steps != 0 || m.w[0] != 0 || m.w[1] != 0 || m.b != 0) {
        fprintf(stderr, "own_model: the finder did not restore the model\n");
        return 1;
    }
    printf("suggested lr: %.3g (step %lld of the range test)\n", lr, (long long)at);
    printf("accuracy before training: %.1f%%\n", 100 * accuracy(&m));
    for (int s = 0; s < EPOCHS * TRAIN / BATCH; s++) {
        double loss;
        step(&m, lr, &loss);
    }
    double acc = accuracy(&m);
    printf("accuracy after %d epochs at that lr: %.1f%%\n", EPOCHS, 100 * acc);
    if (acc < 0.85) {
        fprintf(stderr, "own_model: %.1f%% is below 85%%: the suggestion did not train well\n",
                100 * acc);
        return 1;
    }
    return 0;
}
