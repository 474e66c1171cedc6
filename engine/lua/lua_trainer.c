/*
 * lua_trainer.c — the trainer and its snapshots from Lua: `lre.trainer{...}`
 * and the methods the finder drives (step, evaluate, snapshot, restore) and
 * the rest (accuracy, save, load, reinit, reseed, accessors).
 *
 * `trainer:step(lr)` is the one call made per range-test step: it checks
 * its two arguments, runs the engine's step and pushes a number, and
 * allocates nothing on the Lua side.
 */
#include <math.h>
#include <stdio.h>

#include "lrelua.h"

/* The trainer's user values: the Lua objects it was made from, so that
 * trainer:model() is the model the user passed. */
enum { UV_MODEL = 1, UV_DATA, UV_OPTIM, UV_LOSS, UV_COUNT = UV_LOSS };

static const lrelua_class trainer_class, snapshot_class; /* at the end */

static lre_trainer *checktrainer(lua_State *L) {
    return (lre_trainer *)lrelua_checkobj(L, 1, &trainer_class);
}

static lre_snapshot *checksnapshot(lua_State *L, int arg) {
    return (lre_snapshot *)lrelua_checkobj(L, arg, &snapshot_class);
}

static lre_ctx *ctxof(lua_State *L, int idx) {
    return ((lrelua_obj *)lua_touserdata(L, idx))->ctx;
}

/* One line on stderr when the device runs another precision than asked
 * for (the engine itself never prints). */
static void warn_precision(lre_trainer *t, lre_device dev) {
    lre_precision want, got = lre_trainer_precision(t, &want);
    if (want == got) return;
    fprintf(stderr, "lrengine: warning: %s is not available on %s%s; using %s\n",
            lre_precision_name(want), lre_device_name(dev),
            dev == LRE_DEVICE_CUDA ? " (it needs a GPU of compute capability 8.0 or later)" : "",
            lre_precision_name(got));
    fflush(stderr);
}

/* lre.trainer{model=, data=, loss=, optimizer=, batch_size=, ...} */
static int trainer_new(lua_State *L) {
    static const char *const valid[] = {"model", "data", "loss", "optimizer", "batch_size",
                                        "seed", "accumulation_steps", "shuffle", "drop_last",
                                        "device", "precision", NULL};
    luaL_checktype(L, 1, LUA_TTABLE);
    lrelua_checkopts(L, 1, "trainer", valid);
    lua_settop(L, 1);
    lre_trainer_opts o = lre_trainer_opts_default();

    if (lua_getfield(L, 1, "model") == LUA_TNIL)                       /* 2 */
        return luaL_error(L, "trainer: option 'model' is missing (make one with "
                             "lre.nn.sequential{...})");
    lre_model *model = (lre_model *)lrelua_checkfield(L, 2, "trainer", "model",
                                                      &lrelua_model_class,
                                                      "from lre.nn.sequential");
    if (lua_getfield(L, 1, "data") == LUA_TNIL)                        /* 3 */
        return luaL_error(L, "trainer: option 'data' is missing (a dataset, e.g. from "
                             "lre.data.from_tables)");
    lre_dataset *data = (lre_dataset *)lrelua_checkfield(L, 3, "trainer", "data",
                                                         &lrelua_dataset_class, "from lre.data");
    if (lua_getfield(L, 1, "optimizer") == LUA_TNIL) {                 /* 4 */
        lua_pop(L, 1);
        lrelua_pushoptim(L, &o.optim, LRELUA_DEFAULT_LR);
    } else if (!luaL_testudata(L, 4, LRELUA_OPTIM)) {
        return luaL_error(L, "trainer: option 'optimizer' is %s, expected %s (from "
                             "lre.optim.sgd/adam/adamw)", lrelua_typephrase(L, 4), LRELUA_OPTIM);
    }
    o.optim = *lrelua_checkoptim(L, 4);
    if (lua_getfield(L, 1, "loss") == LUA_TNIL) {                      /* 5 */
        lua_pop(L, 1);
        lrelua_pushloss(L, &o.loss);
    } else if (!luaL_testudata(L, 5, LRELUA_LOSS)) {
        return luaL_error(L, "trainer: option 'loss' is %s, expected %s (from "
                             "lre.loss.cross_entropy/mse)", lrelua_typephrase(L, 5), LRELUA_LOSS);
    }
    o.loss = *lrelua_checkloss(L, 5);

    lua_Integer bs = lrelua_optinteger(L, 1, "trainer", "batch_size", o.batch_size);
    if (bs < 1) return luaL_error(L, "trainer: option 'batch_size' = %I must be at least 1", bs);
    lua_Integer acc = lrelua_optinteger(L, 1, "trainer", "accumulation_steps",
                                        o.accumulation_steps);
    if (acc < 1 || acc > 1 << 20)
        return luaL_error(L, "trainer: option 'accumulation_steps' = %I is out of range", acc);
    lua_Integer seed = lrelua_optinteger(L, 1, "trainer", "seed",
                                         (lua_Integer)lrelua_defaultseed(L));
    if (seed < 0) return luaL_error(L, "trainer: option 'seed' = %I is negative", seed);
    o.batch_size = bs;
    o.accumulation_steps = (int)acc;
    o.seed = (uint64_t)seed;
    o.shuffle = lrelua_optboolean(L, 1, "trainer", "shuffle", o.shuffle);
    o.drop_last = lrelua_optboolean(L, 1, "trainer", "drop_last", o.drop_last);
    o.precision = lrelua_optprecision(L, 1, "trainer", lrelua_defaultprecision(L));

    lrelua_obj *box = lrelua_newobj(L, &trainer_class, UV_COUNT);       /* 6 */
    lre_device have = lre_ctx_device(box->ctx);
    lre_device want = lrelua_optdevice(L, 1, "trainer", have);
    if (want != have)
        return luaL_error(L, "trainer: device '%s' asked for, but the engine runs on '%s' "
                             "(choose it first: lrengine --device %s, or "
                             "lre.configure{device = \"%s\"} before making any object)",
                          lre_device_name(want), lre_device_name(have), lre_device_name(want),
                          lre_device_name(want));
    for (int uv = UV_MODEL; uv <= UV_COUNT; uv++) {
        lua_pushvalue(L, 1 + uv);
        lua_setiuservalue(L, 6, uv);
    }
    lre_trainer *t = NULL;
    if (lre_trainer_new(box->ctx, &t, model, data, &o) != LRE_OK)
        return lrelua_fail(L, box->ctx);
    box->p = t;
    warn_precision(t, have);
    return 1;
}

/* A trainer made in C, boxed as trainer_new boxes one. */
void lrelua_boxtrainer(lua_State *L, lre_trainer *t) {
    lrelua_obj *box = lrelua_newobj(L, &trainer_class, UV_COUNT);
    lre_model *m = lre_trainer_model(t);
    lrelua_pushlayers(L, m);
    lrelua_boxmodel(L, m, -1);
    lua_setiuservalue(L, -3, UV_MODEL);
    lua_pop(L, 1);
    lrelua_boxdataset(L, lre_trainer_data(t));
    lua_setiuservalue(L, -2, UV_DATA);
    lrelua_pushoptim(L, lre_trainer_optim(t), LRELUA_DEFAULT_LR);
    lua_setiuservalue(L, -2, UV_OPTIM);
    lrelua_pushloss(L, lre_trainer_loss(t));
    lua_setiuservalue(L, -2, UV_LOSS);
    lre_trainer_retain(t);
    box->p = t;
}

/* ------------------------------------------------------------ methods */

/* trainer:step(lr) -> loss of the step (mean over its micro-batches) */
static int trainer_step(lua_State *L) {
    lre_trainer *t = checktrainer(L);
    lua_Number lr = luaL_checknumber(L, 2);
    luaL_argcheck(L, lr >= 0 && lr <= 3.4e38, 2, "lr must be a non-negative finite number");
    float loss;
    if (lre_trainer_step(t, lr, &loss) != LRE_OK) return lrelua_fail(L, ctxof(L, 1));
    lua_pushnumber(L, (lua_Number)loss);
    return 1;
}

/* trainer:clone([{batch_size =, accumulation_steps =, weight_decay =,
 * optimizer =, precision =, shuffle =, drop_last =}]) -> a new trainer on
 * the same data with a copy of the model, of the optimizer state, step
 * count and batch order (lre_trainer_clone), and these options changed.
 * A model belongs to one trainer: this is how a second one is made. */
static int trainer_clone(lua_State *L) {
    static const char *const valid[] = {"batch_size", "accumulation_steps", "weight_decay",
                                        "optimizer", "precision", "shuffle", "drop_last",
                                        NULL};
    lre_trainer *t = checktrainer(L);
    int o_at = lrelua_checkopts(L, 2, "clone", valid) ? 2 : 0;
    lre_trainer_opts o = lre_trainer_options(t);
    if (o_at) {
        if (lua_getfield(L, 2, "optimizer") != LUA_TNIL) {
            if (!luaL_testudata(L, -1, LRELUA_OPTIM))
                return luaL_error(L, "clone: option 'optimizer' is %s, expected %s (from "
                                     "lre.optim.sgd/adam/adamw)",
                                  lrelua_typephrase(L, -1), LRELUA_OPTIM);
            o.optim = *lrelua_checkoptim(L, lua_gettop(L));
        }
        lua_pop(L, 1);
        lua_Integer bs = lrelua_optinteger(L, 2, "clone", "batch_size", o.batch_size);
        if (bs < 1) return luaL_error(L, "clone: option 'batch_size' = %I must be at least 1", bs);
        lua_Integer acc = lrelua_optinteger(L, 2, "clone", "accumulation_steps",
                                            o.accumulation_steps);
        if (acc < 1 || acc > 1 << 20)
            return luaL_error(L, "clone: option 'accumulation_steps' = %I is out of range", acc);
        lua_Number wd = lrelua_optnumber(L, 2, "clone", "weight_decay", o.optim.weight_decay);
        if (!(wd >= 0) || wd == HUGE_VAL)
            return luaL_error(L, "clone: option 'weight_decay' = %f must be a finite number >= 0",
                              (double)wd);
        o.batch_size = bs;
        o.accumulation_steps = (int)acc;
        o.optim.weight_decay = wd;
        o.shuffle = lrelua_optboolean(L, 2, "clone", "shuffle", o.shuffle);
        o.drop_last = lrelua_optboolean(L, 2, "clone", "drop_last", o.drop_last);
        o.precision = lrelua_optprecision(L, 2, "clone", o.precision);
    }
    lre_trainer *c = NULL;
    if (lre_trainer_clone(t, &c, &o) != LRE_OK) return lrelua_fail(L, ctxof(L, 1));
    lrelua_boxtrainer(L, c);
    lre_trainer_release(c); /* the box holds it */
    warn_precision(c, lre_ctx_device(ctxof(L, 1)));
    return 1;
}

/* The dataset argument at 2, or the trainer's own data when absent. */
static lre_dataset *optdata(lua_State *L, lre_trainer *t) {
    return lua_isnoneornil(L, 2) ? lre_trainer_data(t) : lrelua_checkdataset(L, 2);
}

/* trainer:evaluate([ds]) -> mean loss over ds; changes no state */
static int trainer_evaluate(lua_State *L) {
    lre_trainer *t = checktrainer(L);
    float loss;
    if (lre_trainer_evaluate(t, optdata(L, t), &loss) != LRE_OK)
        return lrelua_fail(L, ctxof(L, 1));
    lua_pushnumber(L, (lua_Number)loss);
    return 1;
}

/* trainer:accuracy([ds]) -> fraction of rows classified right */
static int trainer_accuracy(lua_State *L) {
    lre_trainer *t = checktrainer(L);
    double acc;
    if (lre_trainer_accuracy(t, optdata(L, t), &acc) != LRE_OK)
        return lrelua_fail(L, ctxof(L, 1));
    lua_pushnumber(L, acc);
    return 1;
}

static int trainer_snapshot(lua_State *L) {
    lre_trainer *t = checktrainer(L);
    lrelua_obj *box = lrelua_newobj(L, &snapshot_class, 0);
    lre_snapshot *s = NULL;
    if (lre_trainer_snapshot(t, &s) != LRE_OK) return lrelua_fail(L, box->ctx);
    box->p = s;
    return 1;
}

static int trainer_restore(lua_State *L) {
    lre_trainer *t = checktrainer(L);
    lre_snapshot *s = checksnapshot(L, 2);
    if (lre_trainer_restore(t, s) != LRE_OK) return lrelua_fail(L, ctxof(L, 1));
    return 0;
}

static int trainer_save(lua_State *L) {
    lre_trainer *t = checktrainer(L);
    if (lre_trainer_save(t, lrelua_checkpath(L, 2, "trainer:save")) != LRE_OK)
        return lrelua_fail(L, ctxof(L, 1));
    return 0;
}

static int trainer_load(lua_State *L) {
    lre_trainer *t = checktrainer(L);
    if (lre_trainer_load(t, lrelua_checkpath(L, 2, "trainer:load")) != LRE_OK)
        return lrelua_fail(L, ctxof(L, 1));
    return 0;
}

/* trainer:reinit([seed]): fresh parameters, optimizer state reset */
static int trainer_reinit(lua_State *L) {
    lre_trainer *t = checktrainer(L);
    if (lre_trainer_reinit(t, lrelua_optseed(L, 2, lre_trainer_seed(t))) != LRE_OK)
        return lrelua_fail(L, ctxof(L, 1));
    return 0;
}

/* trainer:reseed([seed]): a new batch order from epoch 0 */
static int trainer_reseed(lua_State *L) {
    lre_trainer *t = checktrainer(L);
    if (lre_trainer_reseed(t, lrelua_optseed(L, 2, lre_trainer_seed(t))) != LRE_OK)
        return lrelua_fail(L, ctxof(L, 1));
    return 0;
}

static int trainer_steps(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)lre_trainer_steps(checktrainer(L)));
    return 1;
}

static int trainer_steps_per_epoch(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)lre_trainer_steps_per_epoch(checktrainer(L)));
    return 1;
}

static int trainer_epoch(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)lre_trainer_epoch(checktrainer(L)));
    return 1;
}

static int trainer_cursor(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)lre_trainer_cursor(checktrainer(L)));
    return 1;
}

static int trainer_batch_size(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)lre_trainer_batch_size(checktrainer(L)));
    return 1;
}

/* t:accumulation_steps() -> k; t:accumulation_steps(k) sets it, returns
 * the previous value. */
static int trainer_accumulation_steps(lua_State *L) {
    lre_trainer *t = checktrainer(L);
    int old = lre_trainer_accumulation_steps(t);
    if (!lua_isnoneornil(L, 2)) {
        lua_Integer k = luaL_checkinteger(L, 2);
        luaL_argcheck(L, k >= 1 && k <= INT32_MAX, 2, "accumulation_steps must be >= 1");
        if (lre_trainer_set_accumulation_steps(t, (int)k) != LRE_OK)
            return lrelua_fail(L, ctxof(L, 1));
    }
    lua_pushinteger(L, old);
    return 1;
}

static int trainer_seed(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)lre_trainer_seed(checktrainer(L)));
    return 1;
}

/* trainer:precision() -> effective, requested ("fp32", "tf32", "bf16"):
 * what the GEMMs run in, and what the trainer was asked for */
static int trainer_precision(lua_State *L) {
    lre_precision want, got = lre_trainer_precision(checktrainer(L), &want);
    lua_pushstring(L, lre_precision_name(got));
    lua_pushstring(L, lre_precision_name(want));
    return 2;
}

static int trainer_device(lua_State *L) {
    checktrainer(L);
    lua_pushstring(L, lre_device_name(lre_ctx_device(ctxof(L, 1))));
    return 1;
}

/* trainer:model(): the model the trainer was made with (a new handle on
 * it if the user closed theirs). */
static int trainer_model(lua_State *L) {
    lre_trainer *t = checktrainer(L);
    lre_model *m = lre_trainer_model(t);
    lua_getiuservalue(L, 1, UV_MODEL);
    lrelua_obj *old = (lrelua_obj *)lua_touserdata(L, -1);
    if (old && old->p == m) return 1;
    lua_getiuservalue(L, -1, 1);  /* the layer list survives a close */
    lrelua_boxmodel(L, m, lua_istable(L, -1) ? -1 : 0);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, UV_MODEL);
    return 1;
}

static int trainer_data(lua_State *L) {
    lre_trainer *t = checktrainer(L);
    lre_dataset *d = lre_trainer_data(t);
    lua_getiuservalue(L, 1, UV_DATA);
    lrelua_obj *old = (lrelua_obj *)lua_touserdata(L, -1);
    if (old && old->p == d) return 1;
    lrelua_boxdataset(L, d);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, UV_DATA);
    return 1;
}

static int trainer_optimizer(lua_State *L) {
    checktrainer(L);
    lua_getiuservalue(L, 1, UV_OPTIM);
    return 1;
}

static int trainer_loss(lua_State *L) {
    checktrainer(L);
    lua_getiuservalue(L, 1, UV_LOSS);
    return 1;
}

static void release_trainer(void *t, lrelua_obj *box) {
    (void)box;
    lre_trainer_release((lre_trainer *)t);
}

static void describe_trainer(lua_State *L, void *p) {
    lre_trainer *t = (lre_trainer *)p;
    lre_model *m = lre_trainer_model(t);
    size_t n = 48 * (size_t)lre_model_num_layers(m) + 64;
    char *desc = (char *)lua_newuserdatauv(L, n, 0);
    desc[0] = '\0';
    lre_model_describe(m, desc, n);
    lua_pushfstring(L, "lrengine.trainer(model=%s, optim=%s, batch=%I, steps=%I)", desc,
                    lre_optim_name(lre_trainer_optim(t)->kind),
                    (lua_Integer)lre_trainer_batch_size(t), (lua_Integer)lre_trainer_steps(t));
}

/* ----------------------------------------------------------- snapshots */

static int snapshot_steps(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)lre_snapshot_steps(checksnapshot(L, 1)));
    return 1;
}

static void release_snapshot(void *s, lrelua_obj *box) {
    (void)box;
    lre_snapshot_release((lre_snapshot *)s);
}

static void describe_snapshot(lua_State *L, void *s) {
    lua_pushfstring(L, "lrengine.snapshot(steps=%I)",
                    (lua_Integer)lre_snapshot_steps((lre_snapshot *)s));
}

/* ---------------------------------------------------------------- module */

static const lrelua_class trainer_class = {LRELUA_TRAINER, "trainer", release_trainer,
                                           describe_trainer};
static const lrelua_class snapshot_class = {LRELUA_SNAPSHOT, "snapshot", release_snapshot,
                                            describe_snapshot};

static const luaL_Reg trainer_methods[] = {
    {"step", trainer_step},
    {"evaluate", trainer_evaluate},
    {"accuracy", trainer_accuracy},
    {"snapshot", trainer_snapshot},
    {"restore", trainer_restore},
    {"clone", trainer_clone},
    {"save", trainer_save},
    {"load", trainer_load},
    {"reinit", trainer_reinit},
    {"reseed", trainer_reseed},
    {"steps", trainer_steps},
    {"epoch", trainer_epoch},
    {"steps_per_epoch", trainer_steps_per_epoch},
    {"cursor", trainer_cursor},
    {"batch_size", trainer_batch_size},
    {"accumulation_steps", trainer_accumulation_steps},
    {"seed", trainer_seed},
    {"device", trainer_device},
    {"precision", trainer_precision},
    {"model", trainer_model},
    {"data", trainer_data},
    {"optimizer", trainer_optimizer},
    {"loss", trainer_loss},
    {NULL, NULL}
};

static const luaL_Reg snapshot_methods[] = {
    {"steps", snapshot_steps},
    {NULL, NULL}
};

void lrelua_open_trainer(lua_State *L) {
    lrelua_newboxclass(L, &trainer_class, NULL, trainer_methods);
    lrelua_newboxclass(L, &snapshot_class, NULL, snapshot_methods);
    lua_pushcfunction(L, trainer_new);
    lua_setfield(L, -2, "trainer");
}
