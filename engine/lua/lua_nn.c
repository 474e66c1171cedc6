/*
 * lua_nn.c — models from Lua: the layer descriptions `lre.nn.linear`,
 * `conv2d`, `max_pool2d`, `avg_pool2d`, `adaptive_avg_pool2d`, `flatten`,
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

/* lre.nn.dropout([p = 0.5]) */
static int nn_dropout(lua_State *L) {
    lua_Number p = luaL_optnumber(L, 1, 0.5);
    luaL_argcheck(L, p >= 0 && p < 1 && (float)p < 1.0f, 1, "p must be in [0, 1)");
    newlayer(L, "dropout");
    lua_pushnumber(L, lrelua_shortest((float)p));
    lua_setfield(L, -2, "p");
    return 1;
}
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

/* One checked layer, as the engine wants it. */
typedef struct layerspec {
    lre_layer_kind kind;
    lua_Integer in, out;      /* linear */
    lre_act act;
    float param;
    lua_Integer cin, cout;    /* conv2d */
    lre_window win;           /* conv2d, max_pool2d, avg_pool2d */
    lua_Integer oh, ow;       /* adaptive_avg_pool2d */
    lua_Integer norm_n;       /* layer_norm: n; batch_norm: channels */
    float eps, momentum;
    int affine;
    int dims;                 /* batch_norm: 1 or 2 */
} layerspec;

/* layer_norm's description from the table at t (checked), into *s */
static void readnorm(lua_State *L, int t, const char *fname, layerspec *s) {
    s->kind = LRE_LAYER_LAYER_NORM;
    s->norm_n = lrelua_optinteger(L, t, fname, "normalized_shape", 0);
    if (s->norm_n < 1 || s->norm_n > INT32_MAX)
        luaL_error(L, "%s: layer_norm needs normalized_shape in [1, 2^31)", fname);
    lua_Number eps = lrelua_optnumber(L, t, fname, "eps", 1e-5);
    if (!(eps > 0) || !isfinite(eps) || !((float)eps > 0.0f))
        luaL_error(L, "%s: layer_norm's eps must be > 0 and finite, got %f", fname, eps);
    s->eps = (float)eps;
    s->affine = lrelua_optboolean(L, t, fname, "elementwise_affine", 1);
}

static void pushnorm(lua_State *L, const layerspec *s) {
    newlayer(L, "layer_norm");
    lua_pushinteger(L, s->norm_n);
    lua_setfield(L, -2, "normalized_shape");
    lua_pushnumber(L, lrelua_shortest(s->eps));
    lua_setfield(L, -2, "eps");
    lua_pushboolean(L, s->affine);
    lua_setfield(L, -2, "elementwise_affine");
}

static const char *const norm_opts[] = {"eps", "elementwise_affine", NULL};
static const char *const bn_opts[] = {"eps", "momentum", "affine", NULL};

/* batch_norm1d/2d's description from the table at t (checked) */
static void readbn(lua_State *L, int t, const char *fname, int dims, layerspec *s) {
    s->kind = LRE_LAYER_BATCH_NORM;
    s->dims = dims;
    s->norm_n = lrelua_optinteger(L, t, fname, "num_features", 0);
    if (s->norm_n < 1 || s->norm_n > INT32_MAX)
        luaL_error(L, "%s: batch_norm%dd needs num_features in [1, 2^31)", fname, dims);
    lua_Number eps = lrelua_optnumber(L, t, fname, "eps", 1e-5);
    lua_Number mom = lrelua_optnumber(L, t, fname, "momentum", 0.1);
    if (!(eps > 0) || !isfinite(eps) || !((float)eps > 0.0f))
        luaL_error(L, "%s: batch_norm%dd's eps must be > 0 and finite, got %f", fname, dims, eps);
    if (!(mom >= 0 && mom <= 1))
        luaL_error(L, "%s: batch_norm%dd's momentum must be in [0, 1], got %f", fname, dims, mom);
    s->eps = (float)eps;
    s->momentum = (float)mom;
    s->affine = lrelua_optboolean(L, t, fname, "affine", 1);
}

static void pushbn(lua_State *L, const layerspec *s) {
    newlayer(L, s->dims == 1 ? "batch_norm1d" : "batch_norm2d");
    lua_pushinteger(L, s->norm_n);
    lua_setfield(L, -2, "num_features");
    lua_pushnumber(L, lrelua_shortest(s->eps));
    lua_setfield(L, -2, "eps");
    lua_pushnumber(L, lrelua_shortest(s->momentum));
    lua_setfield(L, -2, "momentum");
    lua_pushboolean(L, s->affine);
    lua_setfield(L, -2, "affine");
}

static int batch_norm(lua_State *L, int dims) {
    const char *fname = dims == 1 ? "batch_norm1d" : "batch_norm2d";
    lua_settop(L, 2);
    lua_newtable(L);
    lua_pushinteger(L, luaL_checkinteger(L, 1));
    lua_setfield(L, 3, "num_features");
    if (lrelua_checkopts(L, 2, fname, bn_opts))
        for (int k = 0; bn_opts[k]; k++) {
            lua_getfield(L, 2, bn_opts[k]);
            lua_setfield(L, 3, bn_opts[k]);
        }
    layerspec s;
    memset(&s, 0, sizeof s);
    readbn(L, 3, fname, dims, &s);
    pushbn(L, &s);
    return 1;
}

static int nn_batch_norm1d(lua_State *L) { return batch_norm(L, 1); }
static int nn_batch_norm2d(lua_State *L) { return batch_norm(L, 2); }

/* lre.nn.layer_norm(n [, {eps =, elementwise_affine =}]) */
static int nn_layer_norm(lua_State *L) {
    lua_settop(L, 2);
    lua_newtable(L);
    lua_pushinteger(L, luaL_checkinteger(L, 1));
    lua_setfield(L, 3, "normalized_shape");
    if (lrelua_checkopts(L, 2, "layer_norm", norm_opts))
        for (int k = 0; norm_opts[k]; k++) {
            lua_getfield(L, 2, norm_opts[k]);
            lua_setfield(L, 3, norm_opts[k]);
        }
    layerspec s;
    memset(&s, 0, sizeof s);
    readnorm(L, 3, "layer_norm", &s);
    pushnorm(L, &s);
    return 1;
}

/* The size pair at stack index idx: an integer n (n, n) or a list {h, w}
 * of integers, each at least `min`, into out. */
static void pairat(lua_State *L, int idx, const char *fname, const char *key, lua_Integer min,
                   int64_t out[2]) {
    idx = lua_absindex(L, idx);
    if (lua_isinteger(L, idx)) {
        out[0] = out[1] = (int64_t)lua_tointeger(L, idx);
    } else if (lua_type(L, idx) == LUA_TTABLE && luaL_len(L, idx) == 2) {
        for (int k = 0; k < 2; k++) {
            lua_geti(L, idx, k + 1);
            if (!lua_isinteger(L, -1))
                luaL_error(L, "%s: %s[%d] is %s, expected an integer", fname, key, k + 1,
                           lrelua_typephrase(L, -1));
            out[k] = (int64_t)lua_tointeger(L, -1);
            lua_pop(L, 1);
        }
    } else {
        luaL_error(L, "%s: %s is %s, expected an integer or a pair {h, w} of integers", fname,
                   key, lrelua_typephrase(L, idx));
    }
    if (out[0] < min || out[1] < min || out[0] > INT32_MAX || out[1] > INT32_MAX) {
        if (out[0] == out[1])
            luaL_error(L, "%s: %s %I must be in [%I, 2^31)", fname, key, (lua_Integer)out[0],
                       min);
        luaL_error(L, "%s: %s {%I, %I} must be in [%I, 2^31)", fname, key, (lua_Integer)out[0],
                   (lua_Integer)out[1], min);
    }
}

/* Field `key` of the table at t as a size pair (def when absent). */
static void optpair(lua_State *L, int t, const char *fname, const char *key, lua_Integer min,
                    const int64_t def[2], int64_t out[2]) {
    if (lua_getfield(L, t, key) == LUA_TNIL) {
        out[0] = def[0];
        out[1] = def[1];
    } else {
        pairat(L, -1, fname, key, min, out);
    }
    lua_pop(L, 1);
}

/* Reads an image layer's description (the table at t, its type `kind`)
 * into *s, checked as lre_model_add_* will; errors name fname. */
static void readimage(lua_State *L, int t, const char *fname, lre_layer_kind kind,
                      layerspec *s) {
    s->kind = kind;
    if (kind == LRE_LAYER_ADAPTIVE_AVG_POOL2D) {
        int64_t o[2];
        if (lua_getfield(L, t, "output_size") == LUA_TNIL)
            luaL_error(L, "%s: adaptive_avg_pool2d needs its output_size", fname);
        pairat(L, -1, fname, "output_size", 1, o);
        lua_pop(L, 1);
        s->oh = o[0];
        s->ow = o[1];
        return;
    }
    if (kind == LRE_LAYER_FLATTEN) return;
    int64_t k[2];
    if (lua_getfield(L, t, "kernel_size") == LUA_TNIL)
        luaL_error(L, "%s: %s needs its kernel_size", fname,
                   kind == LRE_LAYER_CONV2D ? "conv2d" : "pooling");
    pairat(L, -1, fname, "kernel_size", 1, k);
    lua_pop(L, 1);
    s->win = kind == LRE_LAYER_CONV2D ? lre_conv_window(k[0]) : lre_pool_window(k[0]);
    s->win.kw = k[1];
    if (kind != LRE_LAYER_CONV2D) s->win.sw = k[1];
    int64_t p[2];
    optpair(L, t, fname, "stride", 1, (int64_t[2]){s->win.sh, s->win.sw}, p);
    s->win.sh = p[0], s->win.sw = p[1];
    optpair(L, t, fname, "padding", 0, (int64_t[2]){0, 0}, p);
    s->win.ph = p[0], s->win.pw = p[1];
    if (kind != LRE_LAYER_AVG_POOL2D) {
        optpair(L, t, fname, "dilation", 1, (int64_t[2]){1, 1}, p);
        s->win.dh = p[0], s->win.dw = p[1];
    }
    if (kind == LRE_LAYER_CONV2D) {
        s->cin = lrelua_optinteger(L, t, fname, "in_channels", 0);
        s->cout = lrelua_optinteger(L, t, fname, "out_channels", 0);
        if (s->cin < 1 || s->cout < 1 || s->cin > INT32_MAX || s->cout > INT32_MAX)
            luaL_error(L, "%s: conv2d needs in_channels and out_channels in [1, 2^31)", fname);
        if (s->win.kh > INT32_MAX / s->win.kw ||
            s->win.kh * s->win.kw > INT32_MAX / (int64_t)s->cin)
            luaL_error(L, "%s: conv2d's in_channels x kernel_size is 2^31 or more", fname);
        s->win.bias = lrelua_optboolean(L, t, fname, "bias", 1);
    }
    if (kind == LRE_LAYER_AVG_POOL2D)
        s->win.count_include_pad = lrelua_optboolean(L, t, fname, "count_include_pad", 1);
    if (kind != LRE_LAYER_CONV2D && (2 * s->win.ph > s->win.dh * (s->win.kh - 1) + 1 ||
                                     2 * s->win.pw > s->win.dw * (s->win.kw - 1) + 1))
        luaL_error(L, "%s: padding {%I, %I} is more than half the %Ix%I window", fname,
                   (lua_Integer)s->win.ph, (lua_Integer)s->win.pw, (lua_Integer)s->win.kh,
                   (lua_Integer)s->win.kw);
}

static void setpair(lua_State *L, const char *key, int64_t a, int64_t b) {
    lua_createtable(L, 2, 0);
    lua_pushinteger(L, (lua_Integer)a);
    lua_rawseti(L, -2, 1);
    lua_pushinteger(L, (lua_Integer)b);
    lua_rawseti(L, -2, 2);
    lua_setfield(L, -2, key);
}

static const char *const kind_names[LRE_LAYER_COUNT] = {
    [LRE_LAYER_CONV2D] = "conv2d", [LRE_LAYER_MAX_POOL2D] = "max_pool2d",
    [LRE_LAYER_AVG_POOL2D] = "avg_pool2d",
    [LRE_LAYER_ADAPTIVE_AVG_POOL2D] = "adaptive_avg_pool2d", [LRE_LAYER_FLATTEN] = "flatten"};

/* Pushes the normalised description of image layer s (every option
 * written out, sizes as pairs). */
static void pushimage(lua_State *L, const layerspec *s) {
    newlayer(L, kind_names[s->kind]);
    if (s->kind == LRE_LAYER_ADAPTIVE_AVG_POOL2D) {
        setpair(L, "output_size", s->oh, s->ow);
        return;
    }
    if (s->kind == LRE_LAYER_FLATTEN) return;
    if (s->kind == LRE_LAYER_CONV2D) {
        lua_pushinteger(L, s->cin);
        lua_setfield(L, -2, "in_channels");
        lua_pushinteger(L, s->cout);
        lua_setfield(L, -2, "out_channels");
    }
    setpair(L, "kernel_size", s->win.kh, s->win.kw);
    setpair(L, "stride", s->win.sh, s->win.sw);
    setpair(L, "padding", s->win.ph, s->win.pw);
    if (s->kind != LRE_LAYER_AVG_POOL2D) setpair(L, "dilation", s->win.dh, s->win.dw);
    if (s->kind == LRE_LAYER_CONV2D) {
        lua_pushboolean(L, s->win.bias);
        lua_setfield(L, -2, "bias");
    }
    if (s->kind == LRE_LAYER_AVG_POOL2D) {
        lua_pushboolean(L, s->win.count_include_pad);
        lua_setfield(L, -2, "count_include_pad");
    }
}

/* A constructor's description from its arguments: the raw table (the
 * options copied in after their names are checked), read and pushed
 * normalised. */
static int image_layer(lua_State *L, lre_layer_kind kind, const char *const valid[]) {
    const char *fname = kind_names[kind];
    int opts = 0;
    lua_settop(L, kind == LRE_LAYER_CONV2D ? 4 : kind == LRE_LAYER_FLATTEN ? 0 :
                  kind == LRE_LAYER_ADAPTIVE_AVG_POOL2D ? 1 : 2);
    lua_newtable(L);
    int raw = lua_gettop(L);
    if (kind == LRE_LAYER_CONV2D) {
        lua_pushinteger(L, luaL_checkinteger(L, 1));
        lua_setfield(L, raw, "in_channels");
        lua_pushinteger(L, luaL_checkinteger(L, 2));
        lua_setfield(L, raw, "out_channels");
        luaL_checkany(L, 3);
        lua_pushvalue(L, 3);
        lua_setfield(L, raw, "kernel_size");
        opts = 4;
    } else if (kind == LRE_LAYER_ADAPTIVE_AVG_POOL2D) {
        luaL_checkany(L, 1);
        lua_pushvalue(L, 1);
        lua_setfield(L, raw, "output_size");
    } else if (kind != LRE_LAYER_FLATTEN) {
        luaL_checkany(L, 1);
        lua_pushvalue(L, 1);
        lua_setfield(L, raw, "kernel_size");
        opts = 2;
    }
    if (opts && lrelua_checkopts(L, opts, fname, valid)) {
        for (int k = 0; valid[k]; k++) {
            lua_getfield(L, opts, valid[k]);
            lua_setfield(L, raw, valid[k]);
        }
    }
    layerspec s;
    memset(&s, 0, sizeof s);
    readimage(L, raw, fname, kind, &s);
    pushimage(L, &s);
    return 1;
}

static const char *const conv_opts[] = {"stride", "padding", "dilation", "bias", NULL};
static const char *const maxpool_opts[] = {"stride", "padding", "dilation", NULL};
static const char *const avgpool_opts[] = {"stride", "padding", "count_include_pad", NULL};
static const char *const no_opts[] = {NULL};

static int nn_conv2d(lua_State *L) { return image_layer(L, LRE_LAYER_CONV2D, conv_opts); }
static int nn_max_pool2d(lua_State *L) { return image_layer(L, LRE_LAYER_MAX_POOL2D, maxpool_opts); }
static int nn_avg_pool2d(lua_State *L) { return image_layer(L, LRE_LAYER_AVG_POOL2D, avgpool_opts); }
static int nn_adaptive_avg_pool2d(lua_State *L) {
    return image_layer(L, LRE_LAYER_ADAPTIVE_AVG_POOL2D, no_opts);
}
static int nn_flatten(lua_State *L) { return image_layer(L, LRE_LAYER_FLATTEN, no_opts); }

/* The kind of an image layer's type name, or -1. */
static int image_kind(const char *type) {
    for (int k = 0; k < LRE_LAYER_COUNT; k++)
        if (kind_names[k] && strcmp(kind_names[k], type) == 0) return k;
    return -1;
}

/* tostring of an image layer's description (the table at 1): as
 * model:describe() writes the layer; run protected. */
static int describe_image(lua_State *L) {
    lua_getfield(L, 1, "type");
    int kind = image_kind(lua_tostring(L, -1));
    layerspec s;
    memset(&s, 0, sizeof s);
    const char *type = lua_tostring(L, -1);
    if (kind < 0 && strcmp(type, "layer_norm") == 0)
        readnorm(L, 1, "tostring", &s);
    else if (kind < 0)
        readbn(L, 1, "tostring", type[10] == '1' ? 1 : 2, &s);
    else
        readimage(L, 1, "tostring", (lre_layer_kind)kind, &s);
    lre_layer_info info;
    memset(&info, 0, sizeof info);
    info.kind = s.kind;
    info.in_channels = s.cin;
    info.out_channels = s.cout;
    info.window = s.win;
    info.out_h = s.oh;
    info.out_w = s.ow;
    info.norm_size = s.norm_n;
    info.eps = s.eps;
    info.affine = s.affine;
    info.momentum = s.momentum;
    info.dims = s.dims;
    char buf[256];
    lua_pushstring(L, lre_layer_describe(&info, buf, sizeof buf));
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
    } else if (strcmp(type, "dropout") == 0) {
        lua_getfield(L, 1, "p");
        lua_pushfstring(L, "dropout(%s)", luaL_tolstring(L, -1, NULL));
    } else if (strcmp(type, "residual") == 0) { /* as model:describe() writes it */
        int sc = lua_getfield(L, 1, "shortcut") == LUA_TTABLE ? lua_gettop(L) : 0;
        lua_pushliteral(L, "residual{"); /* the string so far, at the top */
        for (int part = 0; part < (sc ? 2 : 1); part++) {
            int t = part ? sc : 1;
            if (part) {
                lua_pushliteral(L, ";shortcut{");
                lua_concat(L, 2);
            }
            lua_Integer len = (lua_Integer)lua_rawlen(L, t);
            for (lua_Integer j = 1; j <= len; j++) {
                if (j > 1) {
                    lua_pushliteral(L, " ");
                    lua_concat(L, 2);
                }
                lua_rawgeti(L, t, j);
                luaL_tolstring(L, -1, NULL);
                lua_remove(L, -2);
                lua_concat(L, 2);
            }
            if (part) {
                lua_pushliteral(L, "}");
                lua_concat(L, 2);
            }
        }
        lua_pushliteral(L, "}");
        lua_concat(L, 2);
    } else if (image_kind(type) >= 0 || strcmp(type, "layer_norm") == 0 ||
               strcmp(type, "batch_norm1d") == 0 || strcmp(type, "batch_norm2d") == 0) {
        lua_pushcfunction(L, describe_image);
        lua_pushvalue(L, 1);
        if (lua_pcall(L, 1, 1, 0) != LUA_OK) lua_pushstring(L, type); /* a malformed one */
    } else if (strcmp(type, "gelu") == 0 && lua_getfield(L, 1, "approximate") == LUA_TSTRING &&
               strcmp(lua_tostring(L, -1), "tanh") == 0) {
        lua_pushliteral(L, "gelu(tanh)");
    } else {
        lua_pushstring(L, type);
    }
    return 1;
}

/* ------------------------------------------------------------ sequential */

/* Reads the description at the top of the stack (list item `i`) into *s
 * and pushes a normalised copy of it (what model:layers() returns). */
static void readlayer_at(lua_State *L, const char *where, layerspec *s) {
    int t = lua_gettop(L);
    if (lua_type(L, t) != LUA_TTABLE) {
        if (lua_type(L, t) == LUA_TFUNCTION)
            luaL_error(L, "%s is a function; call it to make a layer (lre.nn.relu(), not "
                          "lre.nn.relu)", where);
        luaL_error(L, "%s is %s, expected a layer from lre.nn", where, lrelua_typephrase(L, t));
    }
    if (lua_getfield(L, t, "type") != LUA_TSTRING)
        luaL_error(L, "%s has no 'type' (make layers with lre.nn.linear, lre.nn.relu, ...)",
                   where);
    const char *type = lua_tostring(L, -1);
    if (strcmp(type, "residual") == 0)
        luaL_error(L, "%s: residual blocks do not nest", where);
    const char *fname = lua_pushstring(L, where);
    memset(s, 0, sizeof *s);
    s->kind = LRE_LAYER_ACT;
    int kind = image_kind(type);
    if (kind >= 0) {
        readimage(L, t, fname, (lre_layer_kind)kind, s);
        pushimage(L, s);
    } else if (strcmp(type, "layer_norm") == 0) {
        readnorm(L, t, fname, s);
        pushnorm(L, s);
    } else if (strcmp(type, "batch_norm1d") == 0 || strcmp(type, "batch_norm2d") == 0) {
        readbn(L, t, fname, type[10] == '1' ? 1 : 2, s);
        pushbn(L, s);
    } else if (strcmp(type, "dropout") == 0) {
        lua_Number p = lrelua_optnumber(L, t, fname, "p", 0.5);
        if (!(p >= 0 && p < 1 && (float)p < 1.0f))
            luaL_error(L, "%s: dropout's p must be in [0, 1), got %f", fname, p);
        s->kind = LRE_LAYER_DROPOUT;
        s->param = (float)p;
        lua_pushcfunction(L, nn_dropout);
        lua_pushnumber(L, p);
        lua_call(L, 1, 1);
    } else if (strcmp(type, "linear") == 0) {
        s->kind = LRE_LAYER_LINEAR;
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
        luaL_error(L, "%s: unknown layer type '%s' (known: linear, conv2d, max_pool2d, "
                      "avg_pool2d, adaptive_avg_pool2d, flatten, layer_norm, batch_norm1d, "
                      "batch_norm2d, dropout, relu, leaky_relu, gelu, tanh, sigmoid)", fname, type);
    }
    lua_replace(L, t);   /* the copy takes the description's place */
    lua_settop(L, t);
}

static void readlayer(lua_State *L, lua_Integer i, layerspec *s) {
    const char *where = lua_pushfstring(L, "sequential: layer %I", i);
    lua_insert(L, -2); /* keep it below the description */
    readlayer_at(L, where, s);
    lua_remove(L, -2);
}

/* The normalised residual block of the description at the top (its
 * layers and its optional shortcut, each read as readlayer_at reads a
 * layer) replaces it; with specs, the block's flat layers are written
 * there (start, its layers, [shortcut start, its layers], end) and their
 * count returned. */
static int readresidual(lua_State *L, const char *where, layerspec *specs, lua_Integer cap) {
    int t = lua_gettop(L), n = 0;
    lua_createtable(L, 0, 2);
    int out = lua_gettop(L);
    lua_pushliteral(L, "residual");
    lua_setfield(L, out, "type");
    luaL_setmetatable(L, LRELUA_LAYER);
#define ROOM()                                                                          \
    do {                                                                                \
        if (specs && n >= cap)                                                          \
            luaL_error(L, "%s (residual): the block changed while it was read", where); \
    } while (0)
    ROOM();
    if (specs) specs[n].kind = LRE_LAYER_RESIDUAL;
    n++;
    lua_Integer len = luaL_len(L, t);
    if (len < 1) luaL_error(L, "%s (residual): the block has no layers", where);
    for (lua_Integer j = 1; j <= len; j++) {
        const char *w = lua_pushfstring(L, "%s (residual), its layer %I", where, j);
        lua_geti(L, t, j);
        ROOM();
        layerspec tmp, *sp = specs ? &specs[n] : &tmp;
        readlayer_at(L, w, sp);
        lua_rawseti(L, out, j);
        lua_pop(L, 1);
        n++;
    }
    if (lua_getfield(L, t, "shortcut") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TTABLE || luaL_len(L, -1) < 1)
            luaL_error(L, "%s (residual): shortcut must be a list of layers (at least one)",
                       where);
        int sc = lua_gettop(L);
        ROOM();
        if (specs) specs[n].kind = LRE_LAYER_SHORTCUT;
        n++;
        lua_Integer sl = luaL_len(L, sc);
        lua_createtable(L, (int)sl, 0);
        for (lua_Integer j = 1; j <= sl; j++) {
            const char *w = lua_pushfstring(L, "%s (residual), its shortcut's layer %I", where, j);
            lua_geti(L, sc, j);
            ROOM();
            layerspec tmp, *sp = specs ? &specs[n] : &tmp;
            readlayer_at(L, w, sp);
            lua_rawseti(L, -3, j);
            lua_pop(L, 1);
            n++;
        }
        lua_setfield(L, out, "shortcut");
    }
    lua_pop(L, 1);
    ROOM();
    if (specs) specs[n].kind = LRE_LAYER_RESIDUAL_END;
    n++;
#undef ROOM
    lua_replace(L, t);
    lua_settop(L, t);
    return n;
}

/* Is the value at idx a residual block's description? */
static int isresidual(lua_State *L, int idx) {
    if (lua_type(L, idx) != LUA_TTABLE) return 0;
    lua_getfield(L, idx, "type");
    int r = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "residual") == 0;
    lua_pop(L, 1);
    return r;
}

/* lre.nn.residual{layer, ..., shortcut = {layer, ...}} -> its description */
static int nn_residual(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_pushvalue(L, 1);
    readresidual(L, "residual", NULL, 0);
    return 1;
}

/* lre.nn.sequential{layer, ...} -> model */
static int nn_sequential(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    if (n < 1) return luaL_error(L, "sequential: the list of layers is empty");
    if (n > 4096) return luaL_error(L, "sequential: %I layers is too many", n);
    /* the flat layers: a residual block is its start, layers and end */
    lua_Integer flat = 0;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        if (isresidual(L, -1)) {
            lua_Integer a = luaL_len(L, -1), b = 0;
            if (lua_getfield(L, -1, "shortcut") == LUA_TTABLE) b = 1 + luaL_len(L, -1);
            lua_pop(L, 1);
            if (a < 0 || a > 4096 || b < 0 || b > 4097)
                return luaL_error(L, "sequential: layer %I (residual) has %I layers", i, a + b);
            flat += 2 + a + b;
        } else {
            flat++;
        }
        lua_pop(L, 1);
        if (flat > 4096) return luaL_error(L, "sequential: %I layers is too many", flat);
    }
    layerspec *specs = (layerspec *)lua_newuserdatauv(L, (size_t)flat * sizeof *specs, 0);
    memset(specs, 0, (size_t)flat * sizeof *specs);
    lua_createtable(L, (int)n, 0);                       /* the layer list: 3 */
    lua_Integer last = 0, lastconv = 0, weights = 0, lastf = 0, lastcf = 0;
    lua_Integer f = 0; /* flat layers so far */
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        if (isresidual(L, -1)) {
            const char *where = lua_pushfstring(L, "sequential: layer %I", i);
            lua_insert(L, -2);
            int k = readresidual(L, where, specs + f, flat - f);
            for (int q = 0; q < k; q++)
                if (specs[f + q].kind == LRE_LAYER_LINEAR || specs[f + q].kind == LRE_LAYER_CONV2D)
                    weights = 1;
            f += k;
            last = lastconv = 0; /* shapes across a block: checked with the input's */
            lua_rawseti(L, 3, i);
            lua_pop(L, 1);
            continue;
        }
        layerspec *sp = &specs[f++];
        readlayer(L, i, sp);
        /* last, lastconv: the top-level numbers of the last linear and
         * conv2d; lastf, lastcf: their flat places */
        if (sp->kind == LRE_LAYER_LINEAR) {
            if (last && specs[lastf].out != sp->in) {
                lua_pushfstring(L, "linear(%I,%I)", sp->in, sp->out);
                return luaL_error(L, "sequential: layer %I %s expects %I inputs but layer %I "
                                     "gives %I", i, lua_tostring(L, -1), sp->in,
                                  last, specs[lastf].out);
            }
            last = i, lastf = f - 1;
            lastconv = 0;
            weights = 1;
        } else if (sp->kind == LRE_LAYER_CONV2D) {
            if (lastconv && specs[lastcf].cout != sp->cin)
                return luaL_error(L, "sequential: layer %I conv2d expects %I channels but "
                                     "layer %I (conv2d) gives %I", i, sp->cin, lastconv,
                                  specs[lastcf].cout);
            lastconv = i, lastcf = f - 1;
            last = 0;
            weights = 1;
        } else if (sp->kind == LRE_LAYER_FLATTEN) {
            lastconv = 0;
        } else if (sp->kind == LRE_LAYER_LAYER_NORM ||
                   (sp->kind == LRE_LAYER_BATCH_NORM && sp->dims == 1)) {
            if (last && specs[lastf].out != sp->norm_n)
                return luaL_error(L, "sequential: layer %I (%s) expects %I values but layer %I "
                                     "gives %I", i, sp->kind == LRE_LAYER_LAYER_NORM ? "layer_norm"
                                                                                   : "batch_norm1d",
                                  sp->norm_n, last, specs[lastf].out);
        } else if (sp->kind != LRE_LAYER_ACT && sp->kind != LRE_LAYER_DROPOUT) {
            last = 0; /* pooling: the width depends on the image's size */
        }
        lua_rawseti(L, 3, i);
    }
    if (!weights)
        return luaL_error(L, "sequential: a model needs at least one linear or conv2d layer");

    lrelua_obj *box = lrelua_newobj(L, &lrelua_model_class, 1);
    lua_pushvalue(L, 3);
    lua_setiuservalue(L, -2, 1);
    lre_model *m = NULL;
    if (lre_model_new(box->ctx, &m) != LRE_OK) return lrelua_fail(L, box->ctx);
    box->p = m;
    for (lua_Integer i = 0; i < flat; i++) {
        const layerspec *sp = &specs[i];
        lre_status st;
        switch (sp->kind) {
        case LRE_LAYER_LINEAR: st = lre_model_add_linear(m, sp->in, sp->out); break;
        case LRE_LAYER_ACT: st = lre_model_add_act(m, sp->act, sp->param); break;
        case LRE_LAYER_CONV2D: st = lre_model_add_conv2d(m, sp->cin, sp->cout, &sp->win); break;
        case LRE_LAYER_MAX_POOL2D: st = lre_model_add_max_pool2d(m, &sp->win); break;
        case LRE_LAYER_AVG_POOL2D: st = lre_model_add_avg_pool2d(m, &sp->win); break;
        case LRE_LAYER_ADAPTIVE_AVG_POOL2D:
            st = lre_model_add_adaptive_avg_pool2d(m, sp->oh, sp->ow);
            break;
        case LRE_LAYER_LAYER_NORM:
            st = lre_model_add_layer_norm(m, sp->norm_n, sp->eps, sp->affine);
            break;
        case LRE_LAYER_BATCH_NORM:
            st = lre_model_add_batch_norm(m, sp->dims, sp->norm_n, sp->eps, sp->momentum,
                                          sp->affine);
            break;
        case LRE_LAYER_DROPOUT: st = lre_model_add_dropout(m, sp->param); break;
        case LRE_LAYER_RESIDUAL: st = lre_model_begin_residual(m); break;
        case LRE_LAYER_SHORTCUT: st = lre_model_begin_shortcut(m); break;
        case LRE_LAYER_RESIDUAL_END: st = lre_model_end_residual(m); break;
        default: st = lre_model_add_flatten(m); break;
        }
        if (st != LRE_OK) return lrelua_fail(L, box->ctx);
    }
    return 1;
}

/* The layer list of a model made in C (lre_model_add_*), as
 * lre.nn.sequential keeps it: what model:layers() and parameters() read. */
void lrelua_pushlayers(lua_State *L, lre_model *m) {
    int n = lre_model_num_layers(m);
    lua_createtable(L, n, 0);
    int list = lua_gettop(L), top = 0, block = 0, side = 0, k = 0; /* the open block's list */
    for (int i = 0; i < n; i++) {
        lre_layer_info l = lre_model_layer_info(m, i);
        if (l.kind == LRE_LAYER_RESIDUAL) { /* {type = "residual", layers..., shortcut = {...}} */
            newlayer(L, "residual");
            block = side = lua_gettop(L);
            k = 0;
            continue;
        }
        if (l.kind == LRE_LAYER_SHORTCUT) {
            lua_newtable(L);
            lua_pushvalue(L, -1);
            lua_setfield(L, block, "shortcut");
            side = lua_gettop(L);
            k = 0;
            continue;
        }
        if (l.kind == LRE_LAYER_RESIDUAL_END) {
            lua_settop(L, block);
            lua_rawseti(L, list, ++top);
            block = 0;
            continue;
        }
        if (l.kind == LRE_LAYER_LAYER_NORM || l.kind == LRE_LAYER_BATCH_NORM) {
            layerspec s = {.kind = l.kind, .norm_n = l.norm_size, .eps = l.eps,
                           .momentum = l.momentum, .affine = l.affine, .dims = l.dims};
            if (l.kind == LRE_LAYER_LAYER_NORM) pushnorm(L, &s);
            else pushbn(L, &s);
        } else if (l.kind == LRE_LAYER_DROPOUT) {
            newlayer(L, "dropout");
            lua_pushnumber(L, lrelua_shortest(l.param));
            lua_setfield(L, -2, "p");
        } else if (l.kind != LRE_LAYER_LINEAR && l.kind != LRE_LAYER_ACT) {
            layerspec s = {.kind = l.kind, .cin = l.in_channels, .cout = l.out_channels,
                           .win = l.window, .oh = l.out_h, .ow = l.out_w};
            pushimage(L, &s);
        } else if (l.kind == LRE_LAYER_LINEAR) {
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
        if (block)
            lua_rawseti(L, side, ++k);
        else
            lua_rawseti(L, list, ++top);
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
    size_t n = 200 * (size_t)lre_model_num_layers(m) + 64;
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

/* A list of n integers. */
static void pushshape(lua_State *L, int n, const lua_Integer *v) {
    lua_createtable(L, n, 0);
    for (int k = 0; k < n; k++) {
        lua_pushinteger(L, v[k]);
        lua_rawseti(L, -2, k + 1);
    }
}

/* model:parameters() -> {{name="0.weight", shape={out,in}}, {name="0.bias", ...}, ...}
 * with PyTorch's state_dict names and shapes (layers counted from 0,
 * activations too; a conv2d weight is out x in x kh x kw). */
static int model_parameters(lua_State *L) {
    lre_model *m = lrelua_checkmodel(L, 1);
    lua_newtable(L);
    lua_Integer k = 0;
    for (int i = 0; i < lre_model_num_layers(m); i++) {
        lre_layer_info l = lre_model_layer_info(m, i);
        lua_Integer w[4], nw = 0, nb = 0;
        if (l.kind == LRE_LAYER_LINEAR) {
            w[0] = l.out, w[1] = l.in, nw = 2, nb = l.out;
        } else if (l.kind == LRE_LAYER_CONV2D) {
            w[0] = l.out_channels, w[1] = l.in_channels, w[2] = l.window.kh, w[3] = l.window.kw;
            nw = 4;
            nb = l.window.bias ? l.out_channels : 0;
        } else if ((l.kind == LRE_LAYER_LAYER_NORM || l.kind == LRE_LAYER_BATCH_NORM) &&
                   l.affine) {
            w[0] = l.norm_size, nw = 1, nb = l.norm_size;
        }
        for (int bias = 0; nw && bias <= (nb > 0); bias++) {
            lua_createtable(L, 0, 2);
            lua_pushfstring(L, "%s.%s", lre_model_layer_name(m, i), bias ? "bias" : "weight");
            lua_setfield(L, -2, "name");
            if (bias) pushshape(L, 1, &nb);
            else pushshape(L, (int)nw, w);
            lua_setfield(L, -2, "shape");
            lua_rawseti(L, -2, ++k);
        }
    }
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
    {"conv2d", nn_conv2d},
    {"max_pool2d", nn_max_pool2d},
    {"avg_pool2d", nn_avg_pool2d},
    {"adaptive_avg_pool2d", nn_adaptive_avg_pool2d},
    {"flatten", nn_flatten},
    {"layer_norm", nn_layer_norm},
    {"dropout", nn_dropout},
    {"residual", nn_residual},
    {"batch_norm1d", nn_batch_norm1d},
    {"batch_norm2d", nn_batch_norm2d},
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
