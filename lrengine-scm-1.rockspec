-- lrengine-scm-1.rockspec — lrengine for a Lua 5.4 of one's own: `luarocks
-- make` in a checkout builds the engine's module with the Makefile
-- (Debian's build dependencies first: scripts/deps.sh) and installs
-- lrengine/*.lua, lrengine/core.so and the `lrengine` command into the
-- rocks tree; then `require "lrengine"` works from plain lua5.4.
rockspec_format = "3.0"
package = "lrengine"
version = "scm-1"
source = {
   url = "git+file://.",
}
description = {
   summary = "Learning-rate range tests (C/CUDA engine, scripted in Lua 5.4)",
   detailed = [[
The LR range test of Smith (arXiv 1506.01186) with the heuristics of
pytorch-lr-finder, fastai and PyTorch Lightning: a C engine (tensors, MLPs,
cross-entropy, Adam/AdamW/SGD, snapshots; CPU with OpenBLAS and oneDNN, CUDA
where built) and Lua modules for the driver, schedules, stopping rules,
heuristics and the figure.]],
   license = "MIT",
   labels = { "machine-learning", "learning-rate" },
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
build = {
   type = "make",
   build_target = "rock",
   build_variables = {},
   install_target = "install-rock",
   install_variables = {
      LUADIR = "$(LUADIR)",
      LIBDIR = "$(LIBDIR)",
      BINDIR = "$(BINDIR)",
   },
}
