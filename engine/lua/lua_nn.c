/*
 * lua_nn.c — models from Lua: the layer descriptions `lre.nn.linear`,
 * `relu`, `leaky_relu`, `gelu`, `tanh`, `sigmoid` (plain tables, so users
 * can read and build them), `lre.nn.sequential{...}` that turns a list of
 * them into an engine model, and the model userdata.
 */
#include <math.h>
#include <string.h>

#include "lrelua.h"

lre_model *lrelua_checkmodel(lua_State *L, int arg) {
    return (lre_model *)lrelua_checkobj(L, arg, &lrelua_model_class);
}

/* --------------------------------------------------- layer descriptions */

static void newlayer(lua_State *L, const char *type) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, type);
    lua_setfield(L, -2, "type");
    luaL_setmetatable(L, LRELUA_LAYER);
}

static int nn_linear(lua_State *L) {
    lua_Integer in = luaL_checkinteger(L, 1), out = luaL_checkinteger(L, 2);
    luaL_argcheck(L, in >= 1, 1, "in_features must be at least 1");
    luaL_argcheck(L, out >= 1, 2, "out_features must be at least 1");
    newlayer(L, "linear");
    lua_pushinteger(L, in);
    lua_setfield(L, -2, "in_features");
    lua_pushinteger(L, out);
    lua_setfield(L, -2, "out_features");
    return 1;
}

static int nn_relu(lua_State *L) { newlayer(L, "relu"); return 1; }
static int nn_tanh(lua_State *L) { newlayer(L, "tanh"); return 1; }
static int nn_sigmoid(lua_State *L) { newlayer(L, "sigmoid"); return 1; }

static int nn_leaky_relu(lua_State *L) {
    lua_Number slope = luaL_optnumber(L, 1, 0.01);
    luaL_argcheck(L, isfinite(slope), 1, "negative_slope must be finite");
    newlayer(L, "leaky_relu");
    lua_pushnumber(L, slope);
    lua_setfield(L, -2, "negative_slope");
    return 1;
}

static const char *const approx_names[] = {"none", "tanh", NULL};

static int nn_gelu(lua_State *L) {
    int a = luaL_checkoption(L, 1, "none", approx_names);
    newlayer(L, "gelu");
    lua_pushstring(L, approx_names[a]);
    lua_setfield(L, -2, "approximate");
    return 1;
}

static int layer_tostring(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "type");
    const char *type = luaL_optstring(L, -1, "?");
    if (strcmp(type, "linear") == 0) {
        lua_getfield(L, 1, "in_features");
        const char *in = luaL_tolstring(L, -1, NULL);
        lua_getfield(L, 1, "out_features");
        const char *out = luaL_tolstring(L, -1, NULL);
        lua_pushfstring(L, "linear(%s,%s)", in, out);
    } else if (strcmp(type, "leaky_relu") == 0) {
        lua_getfield(L, 1, "negative_slope");
        lua_pushfstring(L, "leaky_relu(%s)", luaL_tolstring(L, -1, NULL));
    } else if (strcmp(type, "gelu") == 0 && lua_getfield(L, 1, "approximate") == LUA_TSTRING &&
               strcmp(lua_tostring(L, -1), "tanh") == 0) {
        lua_pushliteral(L, "gelu(tanh)");
    } else {
        lua_pushstring(L, type);
    }
    return 1;
}

/* ------------------------------------------------------------ sequential */

/* One checked layer, as the engine wants it. */
typedef struct layerspec {
    int linear;
    lua_Integer in, out;
    lre_act act;
    float param;
} layerspec;

/* Reads the description at the top of the stack (list item `i`) into *s
 * and pushes a normalised copy of it (what model:layers() returns). */
static void readlayer(lua_State *L, lua_Integer i, layerspec *s) {
    int t = lua_gettop(L);
    if (lua_type(L, t) != LUA_TTABLE) {
        if (lua_type(L, t) == LUA_TFUNCTION)
            luaL_error(L, "sequential: layer %I is a function; call it to make a layer "
                          "(lre.nn.relu(), not lre.nn.relu)", i);
        luaL_error(L, "sequential: layer %I is %s, expected a layer from lre.nn", i,
                   lrelua_typephrase(L, t));
    }
    if (lua_getfield(L, t, "type") != LUA_TSTRING)
        luaL_error(L, "sequential: layer %I has no 'type' (make layers with lre.nn.linear, "
                      "lre.nn.relu, ...)", i);
    const char *type = lua_tostring(L, -1);
    const char *fname = lua_pushfstring(L, "sequential: layer %I", i);
    memset(s, 0, sizeof *s);
    if (strcmp(type, "linear") == 0) {
        s->linear = 1;
        s->in = lrelua_optinteger(L, t, fname, "in_features", 0);
        s->out = lrelua_optinteger(L, t, fname, "out_features", 0);
        if (s->in < 1 || s->out < 1)
            luaL_error(L, "%s: linear needs in_features and out_features of at least 1", fname);
        lua_pushcfunction(L, nn_linear);
        lua_pushinteger(L, s->in);
        lua_pushinteger(L, s->out);
        lua_call(L, 2, 1);
    } else if (strcmp(type, "leaky_relu") == 0) {
        lua_Number slope = lrelua_optnumber(L, t, fname, "negative_slope", 0.01);
        s->act = LRE_ACT_LEAKY_RELU;
        s->param = (float)slope;
        lua_pushcfunction(L, nn_leaky_relu);
        lua_pushnumber(L, slope);
        lua_call(L, 1, 1);
    } else if (strcmp(type, "gelu") == 0) {
        int tanh = 0;
        if (lua_getfield(L, t, "approximate") != LUA_TNIL) {
            const char *a = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
            tanh = strcmp(a, "tanh") == 0;
            if (!tanh && strcmp(a, "none") != 0)
                luaL_error(L, "%s: gelu's 'approximate' must be \"none\" or \"tanh\"", fname);
        }
        lua_pop(L, 1);
        s->act = tanh ? LRE_ACT_GELU_TANH : LRE_ACT_GELU;
        lua_pushcfunction(L, nn_gelu);
        lua_pushstring(L, tanh ? "tanh" : "none");
        lua_call(L, 1, 1);
    } else if (strcmp(type, "relu") == 0) {
        s->act = LRE_ACT_RELU;
        newlayer(L, "relu");
    } else if (strcmp(type, "tanh") == 0) {
        s->act = LRE_ACT_TANH;
        newlayer(L, "tanh");
    } else if (strcmp(type, "sigmoid") == 0) {
        s->act = LRE_ACT_SIGMOID;
        newlayer(L, "sigmoid");
    } else {
        luaL_error(L, "%s: unknown layer type '%s' (known: linear, relu, leaky_relu, gelu, "
                      "tanh, sigmoid)", fname, type);
    }
    lua_replace(L, t);   /* the copy takes the description's place */
    lua_settop(L, t);
}

/* lre.nn.sequential{layer, ...} -> model */
static int nn_sequential(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    if (n < 1) return luaL_error(L, "sequential: the list of layers is empty");
    if (n > 4096) return luaL_error(L, "sequential: %I layers is too many", n);
    layerspec *specs = (layerspec *)lua_newuserdatauv(L, (size_t)n * sizeof *specs, 0);
    lua_createtable(L, (int)n, 0);                       /* the layer list: 3 */
    lua_Integer last = 0;                                /* last linear layer */
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        readlayer(L, i, &specs[i - 1]);
        if (specs[i - 1].linear) {
            if (last && specs[last - 1].out != specs[i - 1].in) {
                lua_pushfstring(L, "linear(%I,%I)", specs[i - 1].in, specs[i - 1].out);
                return luaL_error(L, "sequential: layer %I %s expects %I inputs but layer %I "
                                     "gives %I", i, lua_tostring(L, -1), specs[i - 1].in,
                                  last, specs[last - 1].out);
            }
            last = i;
        }
        lua_rawseti(L, 3, i);
    }
    if (last == 0)
        return luaL_error(L, "sequential: a model needs at least one linear layer");

    lrelua_obj *box = lrelua_newobj(L, &lrelua_model_class, 1);
    lua_pushvalue(L, 3);
    lua_setiuservalue(L, -2, 1);
    lre_model *m = NULL;
    if (lre_model_new(box->ctx, &m) != LRE_OK) return lrelua_fail(L, box->ctx);
    box->p = m;
    for (lua_Integer i = 0; i < n; i++) {
        lre_status st = specs[i].linear ? lre_model_add_linear(m, specs[i].in, specs[i].out)
                                        : lre_model_add_act(m, specs[i].act, specs[i].param);
        if (st != LRE_OK) return lrelua_fail(L, box->ctx);
    }
    return 1;
}

/* The layer list of a model made in C (lre_model_add_*), as
 * lre.nn.sequential keeps it: what model:layers() and parameters() read. */
void lrelua_pushlayers(lua_State *L, lre_model *m) {
    int n = lre_model_num_layers(m);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lre_layer_info l = lre_model_layer_info(m, i);
        if (l.kind == LRE_LAYER_LINEAR) {
            newlayer(L, "linear");
            lua_pushinteger(L, (lua_Integer)l.in);
            lua_setfield(L, -2, "in_features");
            lua_pushinteger(L, (lua_Integer)l.out);
            lua_setfield(L, -2, "out_features");
        } else if (l.act == LRE_ACT_LEAKY_RELU) {
            newlayer(L, "leaky_relu");
            lua_pushnumber(L, lrelua_shortest(l.param));
            lua_setfield(L, -2, "negative_slope");
        } else if (l.act == LRE_ACT_GELU || l.act == LRE_ACT_GELU_TANH) {
            newlayer(L, "gelu");
            lua_pushstring(L, l.act == LRE_ACT_GELU_TANH ? "tanh" : "none");
            lua_setfield(L, -2, "approximate");
        } else {
            newlayer(L, lre_act_name(l.act));
        }
        lua_rawseti(L, -2, i + 1);
    }
}

/* ------------------------------------------------------------ models */

void lrelua_boxmodel(lua_State *L, lre_model *m, int layers) {
    layers = layers ? lua_absindex(L, layers) : 0;
    lrelua_obj *box = lrelua_newobj(L, &lrelua_model_class, 1);
    if (layers) {
        lua_pushvalue(L, layers);
        lua_setiuservalue(L, -2, 1);
    }
    lre_model_retain(m);
    box->p = m;
}

static int model_num_params(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)lre_model_num_params(lrelua_checkmodel(L, 1)));
    return 1;
}

static int model_in_features(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)lre_model_in_features(lrelua_checkmodel(L, 1)));
    return 1;
}

static int model_out_features(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)lre_model_out_features(lrelua_checkmodel(L, 1)));
    return 1;
}

static int model_num_layers(lua_State *L) {
    lua_pushinteger(L, lre_model_num_layers(lrelua_checkmodel(L, 1)));
    return 1;
}

static int model_initialized(lua_State *L) {
    lua_pushboolean(L, lre_model_initialized(lrelua_checkmodel(L, 1)));
    return 1;
}

static void pushdescribe(lua_State *L, lre_model *m) {
    size_t n = 48 * (size_t)lre_model_num_layers(m) + 64;
    luaL_Buffer b;
    char *s = luaL_buffinitsize(L, &b, n);
    s[0] = '\0';
    lre_model_describe(m, s, n);
    luaL_pushresultsize(&b, strlen(s));
}

static int model_describe(lua_State *L) {
    pushdescribe(L, lrelua_checkmodel(L, 1));
    return 1;
}

/* model:init([seed]) -> model: PyTorch's default initialisation. */
static int model_init(lua_State *L) {
    lre_model *m = lrelua_checkmodel(L, 1);
    uint64_t seed = lrelua_optseed(L, 2, lrelua_defaultseed(L));
    if (lre_model_init(m, seed) != LRE_OK)
        return lrelua_fail(L, ((lrelua_obj *)lua_touserdata(L, 1))->ctx);
    lua_settop(L, 1);
    return 1;
}

/* model:layers() -> a copy of the list of layer descriptions */
static int model_layers(lua_State *L) {
    lrelua_checkmodel(L, 1);
    lua_newtable(L);
    if (lua_getiuservalue(L, 1, 1) == LUA_TTABLE) {
        lua_Integer n = luaL_len(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_geti(L, -1, i);
            lua_newtable(L);
            lua_pushnil(L);
            while (lua_next(L, -3)) {
                lua_pushvalue(L, -2);
                lua_insert(L, -2);
                lua_rawset(L, -4);
            }
            luaL_setmetatable(L, LRELUA_LAYER);
            lua_remove(L, -2);
            lua_rawseti(L, -3, i);
        }
    }
    lua_pop(L, 1);
    return 1;
}

static void pushshape(lua_State *L, lua_Integer a, lua_Integer b) {
    lua_createtable(L, 2, 0);
    lua_pushinteger(L, a);
    lua_rawseti(L, -2, 1);
    if (b) {
        lua_pushinteger(L, b);
        lua_rawseti(L, -2, 2);
    }
}

/* model:parameters() -> {{name="0.weight", shape={out,in}}, {name="0.bias", ...}, ...}
 * with PyTorch's state_dict names (layers counted from 0, activations too). */
static int model_parameters(lua_State *L) {
    lrelua_checkmodel(L, 1);
    lua_newtable(L);
    if (lua_getiuservalue(L, 1, 1) != LUA_TTABLE) {
        lua_pop(L, 1);
        return 1;
    }
    lua_Integer n = luaL_len(L, -1), k = 0;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, -1, i);
        lua_getfield(L, -1, "in_features");
        lua_getfield(L, -2, "out_features");
        lua_Integer in = lua_tointeger(L, -2), out = lua_tointeger(L, -1);
        lua_pop(L, 3);
        if (in == 0) continue; /* an activation */
        for (int bias = 0; bias <= 1; bias++) {
            lua_createtable(L, 0, 2);
            lua_pushfstring(L, "%I.%s", i - 1, bias ? "bias" : "weight");
            lua_setfield(L, -2, "name");
            pushshape(L, out, bias ? 0 : in);
            lua_setfield(L, -2, "shape");
            lua_rawseti(L, -3, ++k);
        }
    }
    lua_pop(L, 1);
    return 1;
}

static void release_model(void *m, lrelua_obj *box) {
    (void)box;
    lre_model_release((lre_model *)m);
}

static void describe_model(lua_State *L, void *p) {
    lre_model *m = (lre_model *)p;
    pushdescribe(L, m);
    lua_pushfstring(L, "lrengine.model(%s; %I params)", lua_tostring(L, -1),
                    (lua_Integer)lre_model_num_params(m));
}

const lrelua_class lrelua_model_class = {LRELUA_MODEL, "model", release_model, describe_model};

static const luaL_Reg model_methods[] = {
    {"num_params", model_num_params},
    {"in_features", model_in_features},
    {"out_features", model_out_features},
    {"num_layers", model_num_layers},
    {"initialized", model_initialized},
    {"describe", model_describe},
    {"init", model_init},
    {"layers", model_layers},
    {"parameters", model_parameters},
    {NULL, NULL}
};

static const luaL_Reg layer_meta[] = {
    {"__tostring", layer_tostring},
    {NULL, NULL}
};

static const luaL_Reg nnfuncs[] = {
    {"sequential", nn_sequential},
    {"linear", nn_linear},
    {"relu", nn_relu},
    {"leaky_relu", nn_leaky_relu},
    {"gelu", nn_gelu},
    {"tanh", nn_tanh},
    {"sigmoid", nn_sigmoid},
    {NULL, NULL}
};

void lrelua_open_nn(lua_State *L) {
    lrelua_newboxclass(L, &lrelua_model_class, NULL, model_methods);
    lrelua_newclass(L, LRELUA_LAYER, layer_meta, NULL);
    luaL_newlib(L, nnfuncs);
    lua_setfield(L, -2, "nn");
}
