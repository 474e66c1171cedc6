/*
 * lrelua.h — what the files of the Lua binding (`lrengine.core`) share: the
 * userdata box every engine object lives in and the one close all boxes
 * share, the context kept per Lua state, the checks of option tables, and
 * one opener per object family.
 *
 * The files, each using only those above it in this list (no cycles, and
 * no family borrows from a sibling):
 *   lua_core.c     the context, boxes and their one close, option tables
 *                  and the other helpers every family uses;
 *   lua_data.c, lua_nn.c, lua_optim.c, lua_io.c, lua_plot.c
 *                  the families, each on lua_core.c alone;
 *   lua_loaders.c  the file loaders, making datasets (lua_data.c);
 *   lua_trainer.c  the trainer, made of the objects of data, nn and optim
 *                  (declared at the end of this file);
 *   lua_embed.c    the API of lrengine_lua.h: luaopen_lrengine_core (every
 *                  family in one module), and the C host's side.
 *
 * Only engine/lua/ and engine/cli/main.c include Lua headers; the engine
 * itself never does.
 */
#ifndef LRELUA_H
#define LRELUA_H

#include <lua.h>
#include <lauxlib.h>

#include "lrengine.h"
#include "lrengine_lua.h"   /* the embedding API (lua_embed.c) */

/* Metatable names (also the `__name` shown in Lua's type errors). The
 * classes of boxes among them have a descriptor (lrelua_class). */
#define LRELUA_DATASET   "lrengine.dataset"
#define LRELUA_MODEL     "lrengine.model"
#define LRELUA_LAYER     "lrengine.layer"
#define LRELUA_OPTIM     "lrengine.optimizer"
#define LRELUA_LOSS      "lrengine.loss"
#define LRELUA_TRAINER   "lrengine.trainer"
#define LRELUA_SNAPSHOT  "lrengine.snapshot"

/* The box of a reference-counted engine object. `p` is NULL once the
 * object is closed (or before it was created: the box is made first, as
 * liolib's newprefile does, so a failed creation leaves an inert box). The
 * box holds its own reference on the context, for error messages.
 *
 * Every class of boxes begins its userdata with one (a box that is not an
 * engine object has ctx NULL; one that keeps more puts it after), so one
 * close serves them all. */
typedef struct lrelua_obj {
    void *p;
    lre_ctx *ctx;
} lrelua_obj;

/* A class of boxes: what its messages call it and how a box lets go of
 * what it holds. lrelua_newboxclass gives the class one __gc, __close and
 * close method for all (release p and the context once; closing again, or
 * collecting a closed box, does nothing) and one __tostring ("<tname>
 * (closed)" once closed); lrelua_checkobj makes a method on a closed box
 * the error "attempt to use a closed <what>". */
typedef struct lrelua_class {
    const char *tname;  /* the metatable name, e.g. LRELUA_MODEL */
    const char *what;   /* the class in messages: "model" */
    /* Releases p, what the box held (box->p is already NULL, so a close
     * from inside does nothing); box is the whole userdata, for a class
     * that keeps more than p. NULL: nothing but the context to release. */
    void (*release)(void *p, lrelua_obj *box);
    /* Pushes what tostring shows for the open object p; NULL: tname. */
    void (*describe)(lua_State *L, void *p);
} lrelua_class;

/* ------------------------------------------------------------ context */

/* The state's context, created on first use with the configured options. */
lre_ctx *lrelua_ctx(lua_State *L);
/* Options set by the host (engine/cli/main.c) before any script runs: the
 * context's device, seed and threads, and whether --quiet was given.
 * Raises a Lua error when the device is not compiled in. */
void lrelua_setoptions(lua_State *L, const lre_ctx_opts *o, int quiet);
/* The default seed (--seed, configure{seed=}), for seeds left out. */
uint64_t lrelua_defaultseed(lua_State *L);
/* The precision of trainers made without one (--precision, given by the
 * host before any script runs; configure{precision=}); fp32 unless set. */
void lrelua_setprecision(lua_State *L, lre_precision p);
/* --grid-index N: lrengine.grid runs value N alone (0: every value) */
void lrelua_setgridindex(lua_State *L, long long i);
lre_precision lrelua_defaultprecision(lua_State *L);
/* Sets the state's context: its objects live in ctx from now on (the
 * public lrelua_use_ctx runs this under lua_pcall); raises an error naming
 * `fname` when the state already has another context or made its own. */
void lrelua_setctx(lua_State *L, lre_ctx *ctx, const char *fname);
/* Before an object made by the C host in `ctx` is boxed: checks that ctx
 * is the state's context, giving it to the state if it has none yet. */
void lrelua_checkhostctx(lua_State *L, lre_ctx *ctx, const char *fname);

/* -------------------------------------------------------------- boxes */

/* Pushes an empty box of class `c` with `nuv` user values, holding a
 * reference on the state's context. */
lrelua_obj *lrelua_newobj(lua_State *L, const lrelua_class *c, int nuv);
/* The open object at `arg`; "attempt to use a closed <what>" otherwise. */
void *lrelua_checkobj(lua_State *L, int arg, const lrelua_class *c);
/* Like lrelua_checkobj for a value found in an option table: `name` is the
 * option, `fname` the function, `hint` what makes one. */
void *lrelua_checkfield(lua_State *L, int idx, const char *fname, const char *name,
                        const lrelua_class *c, const char *hint);
/* Raises the context's last error message as a Lua error. */
int lrelua_fail(lua_State *L, lre_ctx *ctx);

/* Creates the metatable `tname` with `meta` (metamethods) and, as its
 * __index, a table of `methods` (either may be NULL); leaves it popped. */
void lrelua_newclass(lua_State *L, const char *tname, const luaL_Reg *meta,
                     const luaL_Reg *methods);
/* The same for a class of boxes, adding the common __gc, __close,
 * __tostring and method close of lrelua_class. `c` must outlive the state
 * (a static descriptor). */
void lrelua_newboxclass(lua_State *L, const lrelua_class *c, const luaL_Reg *meta,
                        const luaL_Reg *methods);

/* ---------------------------------------------------- option tables */

/* Checks that `arg` is a table (or nil/none: 0 returned, no options) whose
 * keys are all in `valid` (NULL terminated); an unknown key is an error
 * naming it and listing the valid ones. Returns 1 when a table is there. */
int lrelua_checkopts(lua_State *L, int arg, const char *fname, const char *const valid[]);
/* Field `name` of the table at `t`: the default when absent, else it must
 * have the type asked for (an error names the function and the option). */
lua_Number lrelua_optnumber(lua_State *L, int t, const char *fname, const char *name,
                            lua_Number def);
lua_Integer lrelua_optinteger(lua_State *L, int t, const char *fname, const char *name,
                              lua_Integer def);
int lrelua_optboolean(lua_State *L, int t, const char *fname, const char *name, int def);
/* Option 'task' ("classification" or "regression"; another value is an
 * error that names both). */
lre_task lrelua_opttask(lua_State *L, int t, const char *fname, lre_task def);
/* Option 'device' ("cpu" or "cuda", which must be compiled in). */
lre_device lrelua_optdevice(lua_State *L, int t, const char *fname, lre_device def);
/* Option 'precision' ("fp32", "tf32" or "bf16"; another name is an error
 * listing them). */
lre_precision lrelua_optprecision(lua_State *L, int t, const char *fname, lre_precision def);
/* A seed: a non-negative integer (argument or option). */
uint64_t lrelua_checkseed(lua_State *L, int arg);
uint64_t lrelua_optseed(lua_State *L, int arg, uint64_t def);
/* The file path at `arg`: a string (luaL_checklstring's error otherwise)
 * without an embedded NUL, which the C library would cut the name at (so
 * "a\0b" would open "a"): "<fname>: path contains a NUL byte (byte 2 of
 * 3); ..." otherwise. Every function of the binding that takes a path
 * reads it with this. */
const char *lrelua_checkpath(lua_State *L, int arg, const char *fname);
/* Pushes and returns v formatted as "%.14g" ("0", "1e-08", "0.001"). */
const char *lrelua_num(lua_State *L, double v);
/* The shortest decimal that rounds to the float f (0.1f gives 0.1), for
 * values the engine keeps as floats and Lua reads back. */
double lrelua_shortest(float f);
/* Lua type name of the value at idx, with "an"/"a" ("a string"). */
const char *lrelua_typephrase(lua_State *L, int idx);

/* ------------------------------------------------ object families */

/* Each registers its classes and adds its functions to the module table at
 * the top of the stack (luaopen_lrengine_core calls them all).
 * lrelua_open_context: core.configure, options, device_compiled,
 * alloc_count, bytes_live, version and lua_version (lua_core.c). */
void lrelua_open_context(lua_State *L);
void lrelua_open_data(lua_State *L);
/* The file loaders (lua_loaders.c), into `data`: after lrelua_open_data. */
void lrelua_open_loaders(lua_State *L);
void lrelua_open_nn(lua_State *L);
void lrelua_open_optim(lua_State *L);
void lrelua_open_trainer(lua_State *L);
/* JSON and atomic writes for the Lua modules (lua_io.c): adds its
 * functions to the module table itself. */
void lrelua_open_json(lua_State *L);
/* The range-test figure through cairo (lua_plot.c): core.plot(path, spec),
 * core.plot_format(path); adds its functions to the module table itself. */
void lrelua_open_plot(lua_State *L);

/* Objects of the families that lua_trainer.c and lua_embed.c use (the
 * trainer's own: lrelua_boxtrainer). A new dataset is made
 * like this (box first, so a Lua memory error cannot leak the dataset):
 *     lrelua_obj *box = lrelua_newobj(L, &lrelua_dataset_class, 0);
 *     lre_dataset *d = NULL;
 *     if (lre_dataset_xxx(box->ctx, &d, ...) != LRE_OK) lrelua_fail(L, box->ctx);
 *     box->p = d;                                                           */
extern const lrelua_class lrelua_dataset_class;  /* lua_data.c */
extern const lrelua_class lrelua_model_class;    /* lua_nn.c */
lre_dataset *lrelua_checkdataset(lua_State *L, int arg);
lre_model *lrelua_checkmodel(lua_State *L, int arg);
/* Boxes an existing model `m` of the state's context (a new reference is
 * taken) with the table at `layers` as its layer list (0: none). */
void lrelua_boxmodel(lua_State *L, lre_model *m, int layers);
/* The layer list of a model built in C (what lre.nn.sequential keeps). */
void lrelua_pushlayers(lua_State *L, lre_model *m);
/* Boxes an existing dataset `d` of the state's context (a new reference is
 * taken). The public lrelua_push_dataset checks a dataset from the C host
 * first (lrelua_checkhostctx), then boxes it with this. */
void lrelua_boxdataset(lua_State *L, lre_dataset *d);
/* Optimizer and loss configurations (value userdata). */
const lre_optim_config *lrelua_checkoptim(lua_State *L, int arg);
const lre_loss_config *lrelua_checkloss(lua_State *L, int arg);
void lrelua_pushoptim(lua_State *L, const lre_optim_config *c, double lr);
void lrelua_pushloss(lua_State *L, const lre_loss_config *c);
/* The initial lr an optimizer box shows when none was given (PyTorch's). */
#define LRELUA_DEFAULT_LR 1e-3
/* Boxes an existing trainer `t` of the state's context as lre.trainer
 * boxes one (a new reference is taken): its user values are boxes for its
 * model (with the layer list), data, optimizer and loss. Behind
 * lrelua_push_trainer (lua_embed.c). */
void lrelua_boxtrainer(lua_State *L, lre_trainer *t);

/* luaopen_lrengine_core (lua_embed.c) is declared in lrengine_lua.h. */

#endif /* LRELUA_H */
