/*
 * lua_optim.c — optimizer and loss configurations from Lua:
 * `lre.optim.sgd/adam/adamw{...}` and `lre.loss.cross_entropy{...}/mse()`.
 * They are value userdata (no engine object behind them): option names and
 * defaults are torch.optim's, unknown options are errors (a typo must not
 * pass silently), and the values read back exactly as given (`opt.eps`).
 *
 * `lr` is accepted and kept as `opt.lr` (default 1e-3, PyTorch's): it is
 * only the initial rate. The engine takes the learning rate at every step
 * (`trainer:step(lr)`), so the finder and training loops decide it.
 */
#include <math.h>
#include <string.h>

#include "lrelua.h"

typedef struct optbox {
    lre_optim_config c;
    /* the hyper-parameters as given (c holds them as floats) */
    double lr, weight_decay, momentum, dampening, beta1, beta2, eps;
} optbox;

typedef struct lossbox {
    lre_loss_config c;
    double label_smoothing;
} lossbox;

#define DEFAULT_LR LRELUA_DEFAULT_LR

const lre_optim_config *lrelua_checkoptim(lua_State *L, int arg) {
    return &((optbox *)luaL_checkudata(L, arg, LRELUA_OPTIM))->c;
}

const lre_loss_config *lrelua_checkloss(lua_State *L, int arg) {
    return &((lossbox *)luaL_checkudata(L, arg, LRELUA_LOSS))->c;
}

static optbox *newoptbox(lua_State *L, const lre_optim_config *c, double lr) {
    optbox *o = (optbox *)lua_newuserdatauv(L, sizeof *o, 0);
    o->c = *c;
    o->lr = lr;
    o->weight_decay = c->weight_decay;
    o->momentum = c->momentum;
    o->dampening = c->dampening;
    o->beta1 = c->beta1;
    o->beta2 = c->beta2;
    o->eps = c->eps;
    luaL_setmetatable(L, LRELUA_OPTIM);
    return o;
}

void lrelua_pushoptim(lua_State *L, const lre_optim_config *c, double lr) {
    newoptbox(L, c, lr);
}

/* A hyper-parameter: must be a finite number. */
static double hyper(lua_State *L, int t, const char *fname, const char *name, double def) {
    double v = lrelua_optnumber(L, t, fname, name, def);
    if (!isfinite(v)) luaL_error(L, "%s: option '%s' must be finite", fname, name);
    return v;
}

static int newoptim(lua_State *L, lre_optim_kind kind) {
    static const char *const sgdkeys[] = {"lr", "momentum", "dampening", "nesterov",
                                          "weight_decay", NULL};
    static const char *const adamkeys[] = {"lr", "betas", "eps", "weight_decay", "amsgrad",
                                           NULL};
    lre_optim_config c = kind == LRE_OPTIM_SGD    ? lre_optim_sgd_default()
                         : kind == LRE_OPTIM_ADAM ? lre_optim_adam_default()
                                                  : lre_optim_adamw_default();
    const char *fname = lre_optim_name(kind);
    int t = lrelua_checkopts(L, 1, fname, kind == LRE_OPTIM_SGD ? sgdkeys : adamkeys);
    lua_settop(L, 1);
    double lr = hyper(L, t, fname, "lr", DEFAULT_LR);
    if (lr < 0)
        return luaL_error(L, "%s: option 'lr' = %s must be non-negative", fname, lrelua_num(L, lr));
    /* defaults that read back as written, not as their float rounding */
    double wd = hyper(L, t, fname, "weight_decay", kind == LRE_OPTIM_ADAMW ? 1e-2 : 0);
    double momentum = 0, dampening = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    if (kind == LRE_OPTIM_SGD) {
        momentum = hyper(L, t, fname, "momentum", 0);
        dampening = hyper(L, t, fname, "dampening", 0);
        c.nesterov = lrelua_optboolean(L, t, fname, "nesterov", 0);
    } else {
        eps = hyper(L, t, fname, "eps", eps);
        if (lrelua_optboolean(L, t, fname, "amsgrad", 0))
            return luaL_error(L, "%s: amsgrad = true is not supported", fname);
        if (t && lua_getfield(L, 1, "betas") != LUA_TNIL) {
            int ok = lua_type(L, -1) == LUA_TTABLE && luaL_len(L, -1) == 2 &&
                     lua_geti(L, -1, 1) == LUA_TNUMBER && lua_geti(L, -2, 2) == LUA_TNUMBER;
            if (!ok)
                return luaL_error(L, "%s: option 'betas' must be a table of two numbers "
                                     "{beta1, beta2}", fname);
            beta1 = lua_tonumber(L, -2);
            beta2 = lua_tonumber(L, -1);
        }
        lua_settop(L, 1);
    }
    c.weight_decay = wd;
    c.momentum = momentum;
    c.dampening = dampening;
    c.beta1 = beta1;
    c.beta2 = beta2;
    c.eps = eps;
    lre_ctx *ctx = lrelua_ctx(L);
    if (lre_optim_config_check(ctx, &c) != LRE_OK) return lrelua_fail(L, ctx);
    optbox *o = newoptbox(L, &c, lr);
    o->weight_decay = wd;
    o->momentum = momentum;
    o->dampening = dampening;
    o->beta1 = beta1;
    o->beta2 = beta2;
    o->eps = eps;
    return 1;
}

static int optim_sgd(lua_State *L) { return newoptim(L, LRE_OPTIM_SGD); }
static int optim_adam(lua_State *L) { return newoptim(L, LRE_OPTIM_ADAM); }
static int optim_adamw(lua_State *L) { return newoptim(L, LRE_OPTIM_ADAMW); }

/* Pushes field `k` of the optimizer (nil for a field of another kind). */
static void pushoptfield(lua_State *L, const optbox *o, const char *k) {
    int sgd = o->c.kind == LRE_OPTIM_SGD;
    if (strcmp(k, "name") == 0) lua_pushstring(L, lre_optim_name(o->c.kind));
    else if (strcmp(k, "lr") == 0) lua_pushnumber(L, o->lr);
    else if (strcmp(k, "weight_decay") == 0) lua_pushnumber(L, o->weight_decay);
    else if (sgd && strcmp(k, "momentum") == 0) lua_pushnumber(L, o->momentum);
    else if (sgd && strcmp(k, "dampening") == 0) lua_pushnumber(L, o->dampening);
    else if (sgd && strcmp(k, "nesterov") == 0) lua_pushboolean(L, o->c.nesterov);
    else if (!sgd && strcmp(k, "eps") == 0) lua_pushnumber(L, o->eps);
    else if (!sgd && strcmp(k, "amsgrad") == 0) lua_pushboolean(L, 0);
    else if (!sgd && strcmp(k, "betas") == 0) {
        lua_createtable(L, 2, 0);
        lua_pushnumber(L, o->beta1);
        lua_rawseti(L, -2, 1);
        lua_pushnumber(L, o->beta2);
        lua_rawseti(L, -2, 2);
    } else lua_pushnil(L);
}

static const char *const sgdfields[] = {"name", "lr", "momentum", "dampening", "nesterov",
                                        "weight_decay", NULL};
static const char *const adamfields[] = {"name", "lr", "betas", "eps", "weight_decay",
                                         "amsgrad", NULL};

/* opt:config() -> a plain table of every field (for records and JSON) */
static int optim_config(lua_State *L) {
    optbox *o = (optbox *)luaL_checkudata(L, 1, LRELUA_OPTIM);
    const char *const *f = o->c.kind == LRE_OPTIM_SGD ? sgdfields : adamfields;
    lua_newtable(L);
    for (int i = 0; f[i]; i++) {
        pushoptfield(L, o, f[i]);
        lua_setfield(L, -2, f[i]);
    }
    return 1;
}

static int optim_index(lua_State *L) {
    optbox *o = (optbox *)luaL_checkudata(L, 1, LRELUA_OPTIM);
    const char *k = luaL_checkstring(L, 2);
    if (strcmp(k, "config") == 0) lua_pushcfunction(L, optim_config);
    else pushoptfield(L, o, k);
    return 1;
}

static int optim_tostring(lua_State *L) {
    optbox *o = (optbox *)luaL_checkudata(L, 1, LRELUA_OPTIM);
    const char *name = lre_optim_name(o->c.kind);
    const char *lr = lrelua_num(L, o->lr), *wd = lrelua_num(L, o->weight_decay);
    if (o->c.kind == LRE_OPTIM_SGD)
        lua_pushfstring(L, "lrengine.optim.%s(lr=%s, momentum=%s, dampening=%s, nesterov=%s, "
                           "weight_decay=%s)", name, lr, lrelua_num(L, o->momentum),
                        lrelua_num(L, o->dampening), o->c.nesterov ? "true" : "false", wd);
    else
        lua_pushfstring(L, "lrengine.optim.%s(lr=%s, betas={%s, %s}, eps=%s, weight_decay=%s)",
                        name, lr, lrelua_num(L, o->beta1), lrelua_num(L, o->beta2),
                        lrelua_num(L, o->eps), wd);
    return 1;
}

/* ---------------------------------------------------------------- losses */

static lossbox *newlossbox(lua_State *L, const lre_loss_config *c) {
    lossbox *o = (lossbox *)lua_newuserdatauv(L, sizeof *o, 0);
    o->c = *c;
    o->label_smoothing = lrelua_shortest(c->label_smoothing);
    luaL_setmetatable(L, LRELUA_LOSS);
    return o;
}

void lrelua_pushloss(lua_State *L, const lre_loss_config *c) {
    newlossbox(L, c);
}

static int loss_cross_entropy(lua_State *L) {
    static const char *const valid[] = {"label_smoothing", NULL};
    int t = lrelua_checkopts(L, 1, "cross_entropy", valid);
    double ls = hyper(L, t, "cross_entropy", "label_smoothing", 0);
    if (ls < 0 || ls > 1)
        return luaL_error(L, "cross_entropy: option 'label_smoothing' = %s must be in [0, 1]",
                          lrelua_num(L, ls));
    lre_loss_config c = {LRE_LOSS_CROSS_ENTROPY, (float)ls};
    newlossbox(L, &c)->label_smoothing = ls;
    return 1;
}

static int loss_mse(lua_State *L) {
    static const char *const valid[] = {NULL};
    lrelua_checkopts(L, 1, "mse", valid);
    lre_loss_config c = {LRE_LOSS_MSE, 0};
    newlossbox(L, &c);
    return 1;
}

static void pushlossfield(lua_State *L, const lossbox *o, const char *k) {
    if (strcmp(k, "name") == 0)
        lua_pushstring(L, o->c.kind == LRE_LOSS_MSE ? "mse" : "cross_entropy");
    else if (o->c.kind == LRE_LOSS_CROSS_ENTROPY && strcmp(k, "label_smoothing") == 0)
        lua_pushnumber(L, o->label_smoothing);
    else
        lua_pushnil(L);
}

static int loss_config(lua_State *L) {
    lossbox *o = (lossbox *)luaL_checkudata(L, 1, LRELUA_LOSS);
    lua_newtable(L);
    pushlossfield(L, o, "name");
    lua_setfield(L, -2, "name");
    pushlossfield(L, o, "label_smoothing");
    lua_setfield(L, -2, "label_smoothing");
    return 1;
}

static int loss_index(lua_State *L) {
    lossbox *o = (lossbox *)luaL_checkudata(L, 1, LRELUA_LOSS);
    const char *k = luaL_checkstring(L, 2);
    if (strcmp(k, "config") == 0) lua_pushcfunction(L, loss_config);
    else pushlossfield(L, o, k);
    return 1;
}

static int loss_tostring(lua_State *L) {
    lossbox *o = (lossbox *)luaL_checkudata(L, 1, LRELUA_LOSS);
    if (o->c.kind == LRE_LOSS_MSE)
        lua_pushliteral(L, "lrengine.loss.mse()");
    else
        lua_pushfstring(L, "lrengine.loss.cross_entropy(label_smoothing=%s)",
                        lrelua_num(L, o->label_smoothing));
    return 1;
}

/* ---------------------------------------------------------------- module */

static const luaL_Reg optim_meta[] = {
    {"__index", optim_index},
    {"__tostring", optim_tostring},
    {NULL, NULL}
};

static const luaL_Reg loss_meta[] = {
    {"__index", loss_index},
    {"__tostring", loss_tostring},
    {NULL, NULL}
};

static const luaL_Reg optimfuncs[] = {
    {"sgd", optim_sgd},
    {"adam", optim_adam},
    {"adamw", optim_adamw},
    {NULL, NULL}
};

static const luaL_Reg lossfuncs[] = {
    {"cross_entropy", loss_cross_entropy},
    {"mse", loss_mse},
    {NULL, NULL}
};

void lrelua_open_optim(lua_State *L) {
    lrelua_newclass(L, LRELUA_OPTIM, optim_meta, NULL);
    lrelua_newclass(L, LRELUA_LOSS, loss_meta, NULL);
    luaL_newlib(L, optimfuncs);
    lua_setfield(L, -2, "optim");
    luaL_newlib(L, lossfuncs);
    lua_setfield(L, -2, "loss");
}
