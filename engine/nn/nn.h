/*
 * nn/nn.h — layers, the Sequential model and its flat parameter and
 * gradient buffers, private to the engine. The ops (ops.c) and optimizer
 * updates (optim.c) are declared in the public header.
 *
 * Layer 3 (DESIGN.md). May include: core/core.h (and what it includes).
 */
#ifndef LRE_NN_H
#define LRE_NN_H

#include "core/core.h"

/* ------------------------------------------------------------- model */

typedef struct lre_layer {
    lre_layer_kind kind;
    lre_act act;
    float act_param;
    int64_t in, out;          /* linear; for act: width of its input */
    int64_t w_off, b_off;     /* element offsets in the flat buffers */
    lre_tensor *w, *b;        /* views into params (linear only)     */
    lre_tensor *dw, *db;      /* views into grads                    */
} lre_layer;

struct lre_model {
    int refcount;
    lre_ctx *ctx;             /* retained */
    int n_layers, cap_layers;
    lre_layer *layers;
    int64_t n_params;
    bool initialized;
    lre_tensor *params;       /* (n_params) f32 */
    lre_tensor *grads;        /* (n_params) f32 */
};


#endif /* LRE_NN_H */
