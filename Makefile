# lrengine — build, test, sanitizers, benchmarks, demo, install.
#
#   make              library, Lua module, `lrengine` command, C tests, benchmarks,
#                     C examples
#   make test         install missing Debian packages, check that every engine
#                     #include goes down the layers (scripts/check_layers.sh),
#                     build, run every C test and busted spec; ends with
#                     `N passed, N failed`
#   make asan         the same tests built with -fsanitize=address,undefined in
#                     build-asan/ (clang if present, else gcc), CPU-only
#   make valgrind     the C tests under valgrind
#   make bench        build and run scripts/bench_*.c and scripts/bench_*.lua
#   make run-examples run every examples/*.lua
#                     (and torch-lr-finder's, where TORCH_PYTHON imports it)
#   make bench-cuda   the CUDA backend's figures (scripts/bench_cuda.c)
#   make fuzz         libFuzzer targets of every parser, FUZZ_SECONDS (60) each
#   make demo         install missing packages, build, run the example sweep
#   make deps         install missing Debian packages (scripts/deps.sh)
#   make install      PREFIX=/usr/local DESTDIR=  (make uninstall undoes it)
#   make test-install install into a temporary prefix, embed and run from
#                     outside the tree, uninstall (part of make test)
#   make clean
#
# Options (make VAR=value):
#   CUDA=auto|0|1     auto: build the CUDA backend when nvcc is found (default);
#                     0: CPU-only; 1: require nvcc
#   DNNL=auto|0|1     auto: use oneDNN (libdnnl-dev) for CPU matmuls and bf16
#                     when found (default); 0: OpenBLAS only; 1: require it
#   CUDA_HOME=/usr/local/cuda   where nvcc, headers and libcudart/libcublas live
#   CUDA_ARCH="75 80 86 89 90 100 120"  SM versions to compile .cu files for
#                               (SASS for each, plus PTX of the first so newer
#                               GPUs can JIT it)
#   CC=cc  OPT=-O2  EXTRA_CFLAGS=  EXTRA_LDFLAGS=
#   SAN_CC=clang      compiler for `make asan`
#   PREFIX=/usr/local DESTDIR=
#   V=0|1             0: one short line per step (`CC engine/core/ctx.c`,
#                     `AR build/liblrengine.a`, `LD build/lrengine`, `NVCC ...`);
#                     1: the full commands
#
# Layout of the outputs (BUILD is build/, or build-asan/ for `make asan`):
#   BUILD/liblrengine.a      engine/{backend,core,nn,data,train}/*.c (+
#                            engine/backend/cuda/*.cu), -fPIC; needs no cairo
#   BUILD/liblrengine_plot.a engine/plot/*.c: the range-test figure (cairo)
#   BUILD/lib/lrengine/core.so  engine/lua/*.c + both libraries: require "lrengine.core"
#                            with package.cpath = "BUILD/lib/?.so" (not BUILD/lrengine/:
#                            that name is the command)
#   BUILD/liblrengine_lua.a  engine/lua/*.c: the binding, for C programs that embed
#                            the finder (engine/include/lrengine_lua.h)
#   BUILD/lrengine           engine/cli/main.c + engine/lua/*.c + the libraries
#   BUILD/tests/test_*       spec/c/test_*.c (+ other spec/c/*.c as helpers)
#   BUILD/bench/bench_*      scripts/bench_*.c
#   BUILD/examples/*         examples/*.c (embedding programs), linked as an
#                            embedder links: liblrengine_lua.a + liblrengine_plot.a
#                            + liblrengine.a

MAKEFLAGS += --no-builtin-rules
.SUFFIXES:
.DELETE_ON_ERROR:
.SECONDARY:
.DEFAULT_GOAL := all

# ---- options ---------------------------------------------------------------
CC        ?= cc
OPT       ?= -O2
CUDA      ?= auto
DNNL      ?= auto
TORCH_PYTHON ?= python3
# a toolkit scripts/deps.sh installed from PyPI into .cuda/ comes first
CUDA_LOCAL := $(wildcard $(CURDIR)/.cuda/toolkit/bin/nvcc)
CUDA_HOME  ?= $(if $(CUDA_LOCAL),$(CURDIR)/.cuda/toolkit,/usr/local/cuda)
CUDA_ARCH ?= 75 80 86 89 90 100 120
SAN_CC    ?= $(if $(shell command -v clang 2>/dev/null),clang,$(CC))
PREFIX    ?= /usr/local
DESTDIR   ?=
EXTRA_CFLAGS  ?=
EXTRA_LDFLAGS ?=
V         ?= 0
# internal: set by `make asan` on its sub-make
BUILD     ?= build
SAN       ?= 0

ifeq ($(filter $(CUDA),auto 0 1),)
  $(error CUDA must be auto, 0 or 1 (got '$(CUDA)'))
endif
ifeq ($(filter $(DNNL),auto 0 1),)
  $(error DNNL must be auto, 0 or 1 (got '$(DNNL)'))
endif
ifeq ($(filter $(SAN),0 1),)
  $(error SAN must be 0 or 1 (got '$(SAN)'))
endif
ifeq ($(filter $(V),0 1),)
  $(error V must be 0 or 1 (got '$(V)'))
endif
ifeq ($(strip $(PREFIX)),)
  $(error PREFIX must not be empty)
endif
ifeq ($(strip $(BUILD)),)
  $(error BUILD must not be empty)
endif
ifneq ($(words $(BUILD)),1)
  $(error BUILD must be one directory without spaces (got '$(BUILD)'))
endif
ifeq ($(strip $(CC)),)
  $(error CC must not be empty)
endif
ifneq ($(strip $(CUDA_ARCH)),)
  ifneq ($(shell echo '$(CUDA_ARCH)' | grep -Eq '^[0-9 ]+$$' && echo ok),ok)
    $(error CUDA_ARCH must be SM numbers such as "80 90" (got '$(CUDA_ARCH)'))
  endif
endif

# ---- sources ---------------------------------------------------------------
# The engine's layers (README.md, "Layout"), lowest first; each folder's main header
# says what it may include (scripts/check_layers.sh checks it).
ENGINE_LAYERS := backend core nn data train
LIB_SRCS   := $(foreach d,$(ENGINE_LAYERS),$(sort $(wildcard engine/$(d)/*.c)))
CU_SRCS    := $(sort $(wildcard engine/backend/cuda/*.cu))
PLOT_SRCS  := $(sort $(wildcard engine/plot/*.c))
LUA_SRCS   := $(sort $(wildcard engine/lua/*.c))
MAIN_SRC   := $(wildcard engine/cli/main.c)
TEST_SRCS  := $(sort $(wildcard spec/c/test_*.c))
THELP_SRCS := $(filter-out $(TEST_SRCS),$(sort $(wildcard spec/c/*.c)))
BENCH_SRCS := $(sort $(wildcard scripts/bench_*.c))
CUDA_BENCH := scripts/bench_cuda.c
EX_SRCS    := $(sort $(wildcard examples/*.c))
EMB_SRCS   := $(sort $(wildcard examples/embed/*.c))
PUB_HDRS   := $(sort $(wildcard engine/include/*.h))

OBJ := $(BUILD)/obj
obj = $(patsubst %.c,$(OBJ)/%.o,$(1))

LIB_OBJS   := $(call obj,$(LIB_SRCS))
PLOT_OBJS  := $(call obj,$(PLOT_SRCS))
LUA_OBJS   := $(call obj,$(LUA_SRCS))
MAIN_OBJ   := $(call obj,$(MAIN_SRC))
THELP_OBJS := $(call obj,$(THELP_SRCS))

LIB       := $(BUILD)/liblrengine.a
PLOT_LIB  := $(BUILD)/liblrengine_plot.a
LUA_LIB   := $(BUILD)/liblrengine_lua.a
# The shared libraries: 0.x promises no ABI between minor versions, so the
# soname carries major.minor (liblrengine.so.0.1 for 0.1.x) and changes with
# each minor; the file is the full version, with the usual two links.
VERSION   := $(shell sed -n 's/^\#define LRE_VERSION_STRING "\(.*\)"/\1/p' engine/include/lrengine.h)
SOVER     := $(word 1,$(subst ., ,$(VERSION))).$(word 2,$(subst ., ,$(VERSION)))
SO_NAMES  := liblrengine liblrengine_plot liblrengine_lua
SO_FILES  := $(foreach n,$(SO_NAMES),$(BUILD)/$(n).so.$(VERSION))
MODULE    := $(BUILD)/lib/lrengine/core.so
CLI       := $(BUILD)/lrengine
TEST_BINS := $(patsubst spec/c/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
BENCH_BINS = $(patsubst scripts/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))
EX_BINS   := $(patsubst examples/%.c,$(BUILD)/examples/%,$(EX_SRCS)) \
             $(patsubst examples/embed/%.c,$(BUILD)/examples/embed_%,$(EMB_SRCS))

# ---- CUDA detection --------------------------------------------------------
# $(CUDA_HOME)'s nvcc first; never Debian's /usr/bin/nvcc (CUDA 11.8)
NVCC_FOUND := $(firstword $(wildcard $(CUDA_HOME)/bin/nvcc) \
                $(filter-out /usr/bin/nvcc,$(shell command -v nvcc 2>/dev/null)))
ifeq ($(CUDA),0)
  WITH_CUDA := 0
  CUDA_MSG  := CUDA=0: CPU-only build
else ifeq ($(NVCC_FOUND),)
  ifeq ($(CUDA),1)
    $(error CUDA=1 but nvcc was found neither on PATH nor at $(CUDA_HOME)/bin/nvcc)
  endif
  WITH_CUDA := 0
  CUDA_MSG  := nvcc not found: CPU-only build
else ifeq ($(CU_SRCS),)
  # Nothing to compile yet: enabling the backend would only add a link
  # dependency on libcudart for no code.
  WITH_CUDA := 0
  CUDA_MSG  := nvcc found: $(NVCC_FOUND) (no engine/backend/cuda/*.cu yet: CPU-only build)
else
  WITH_CUDA := 1
  CUDA_MSG  := nvcc found: $(NVCC_FOUND) (CUDA backend enabled)
endif
NVCC := $(NVCC_FOUND)

# ---- oneDNN detection -------------------------------------------------------
# Debian's libdnnl-dev (oneDNN 2.6; scripts/deps.sh installs it): the CPU
# backend's second GEMM provider and its bf16 path (engine/backend/cpu_dnnl.c)
# with OpenBLAS's OpenMP build (libopenblas0-openmp), loaded through an rpath
# instead of Debian's default pthread build: oneDNN runs on OpenMP, and two
# thread pools spinning on 2 cores made a step 10x slower (measured with
# scripts/bench_core.c); one OpenMP pool serves both
DNNL_FOUND := $(wildcard /usr/include/oneapi/dnnl/dnnl.h)
OPENBLAS_OMP_DIR := $(wildcard /usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0)
ifeq ($(DNNL),0)
  WITH_DNNL := 0
  DNNL_MSG  := DNNL=0: OpenBLAS only
else ifeq ($(DNNL_FOUND)$(if $(OPENBLAS_OMP_DIR),,missing),$(DNNL_FOUND))
  WITH_DNNL := 1
  DNNL_MSG  := oneDNN found: CPU matmuls through oneDNN by a fixed table, bf16 on AMX/AVX512-BF16
else
  ifeq ($(DNNL),1)
    $(error DNNL=1 but oneDNN (libdnnl-dev) or OpenBLAS's OpenMP build (libopenblas0-openmp) was not found: run `make deps` or scripts/deps.sh)
  endif
  WITH_DNNL := 0
  DNNL_MSG  := oneDNN or OpenBLAS's OpenMP build not found: OpenBLAS only (make deps installs libdnnl-dev and libopenblas0-openmp)
endif
ifeq ($(WITH_DNNL),1)
  DNNL_DEFS := -DLRE_WITH_DNNL
  DNNL_LIBS := -ldnnl -lgomp -Wl,-rpath,$(dir $(OPENBLAS_OMP_DIR))
else
  DNNL_DEFS :=
  DNNL_LIBS :=
endif

# Say it once per top-level make that builds something.
ifeq ($(LRE_QUIET_CONFIG),)
  ifneq ($(filter-out clean uninstall deps help asan,$(or $(MAKECMDGOALS),all)),)
    $(info $(CUDA_MSG))
    $(info $(DNNL_MSG))
  endif
endif
SUBMAKE := $(MAKE) --no-print-directory LRE_QUIET_CONFIG=1

# ---- flags -----------------------------------------------------------------
comma := ,
# pkg-config is asked lazily (once, on first use), so that `make deps` and
# `make test` can install it before anything needs it.
PKG_ENGINE := openblas libcjson
PKG_PLOT   := cairo
PKG_LUA    := lua5.4
pkg = $(shell pkg-config $(1) $(2) 2>/dev/null || echo PKG_CONFIG_FAILED)
pkgchk = $(if $(filter PKG_CONFIG_FAILED,$(1)),$(error pkg-config could not find $(2): run `make deps` (or scripts/deps.sh)),$(1))
ENG_CFLAGS = $(eval ENG_CFLAGS := $$(call pkgchk,$$(call pkg,--cflags,$(PKG_ENGINE)),$(PKG_ENGINE)))$(ENG_CFLAGS)
ENG_LIBS   = $(eval ENG_LIBS := $$(call pkgchk,$$(call pkg,--libs,$(PKG_ENGINE)),$(PKG_ENGINE)) $(DNNL_LIBS) -lz -lm)$(ENG_LIBS)
PLOT_CFLAGS = $(eval PLOT_CFLAGS := $$(call pkgchk,$$(call pkg,--cflags,$(PKG_PLOT)),$(PKG_PLOT)))$(PLOT_CFLAGS)
PLOT_LIBS   = $(eval PLOT_LIBS := $$(call pkgchk,$$(call pkg,--libs,$(PKG_PLOT)),$(PKG_PLOT)))$(PLOT_LIBS)
LUA_CFLAGS = $(eval LUA_CFLAGS := $$(call pkgchk,$$(call pkg,--cflags,$(PKG_LUA)),$(PKG_LUA)))$(LUA_CFLAGS)
LUA_LIBS   = $(eval LUA_LIBS := $$(call pkgchk,$$(call pkg,--libs,$(PKG_LUA)),$(PKG_LUA)))$(LUA_LIBS)

WARN     := -Wall -Wextra -Werror
# -fopenmp-simd: honour `#pragma omp simd` on the hot elementwise loops
# (no OpenMP runtime is linked).
BASE_CFLAGS := -std=c11 $(WARN) -g -fno-math-errno -fopenmp-simd -D_POSIX_C_SOURCE=200809L \
               -fPIC -MMD -MP -Iengine -Iengine/include
ifeq ($(SAN),1)
  SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
               -fno-sanitize-recover=all
  OPT_FLAGS := -O1
else
  SAN_FLAGS :=
  OPT_FLAGS := $(OPT)
endif
CFLAGS_ALL  = $(BASE_CFLAGS) $(OPT_FLAGS) $(SAN_FLAGS) $(CUDA_DEFS) $(DNNL_DEFS) $(EXTRA_CFLAGS)
LDFLAGS_ALL = $(SAN_FLAGS) $(EXTRA_LDFLAGS)

ifeq ($(WITH_CUDA),1)
  CUDA_DEFS  := -DLRE_WITH_CUDA
  # the libraries of the toolkit whose nvcc we use (none: the system's path)
  CUDA_LIBDIR := $(firstword $(wildcard $(abspath $(dir $(NVCC))../lib64) $(CUDA_HOME)/lib64))
  CUDA_LIBS  := $(if $(CUDA_LIBDIR),-L$(CUDA_LIBDIR) -Wl$(comma)-rpath$(comma)$(CUDA_LIBDIR)) \
                -lcudart -ldl -lpthread -lstdc++
  # cuBLAS is opened by the backend when the first CUDA context is made
  # (engine/backend/cuda/cuda.cu: a CPU run does not map it); bench_cuda
  # calls it directly
  CUBLAS_LIBS := -l:libcublas.so.13 -l:libcublasLt.so.13
  # SASS for each listed SM, and PTX of the oldest so any later GPU can JIT it
  NVCC_GENCODE := $(foreach a,$(CUDA_ARCH),-gencode arch=compute_$(a)$(comma)code=sm_$(a)) \
                  $(if $(CUDA_ARCH),-gencode arch=compute_$(firstword $(CUDA_ARCH))$(comma)code=compute_$(firstword $(CUDA_ARCH)))
  # -ffp-contract=off: the host pass rounds element-wise math as cc does
  # (backend/elementwise.h); ptxas: no spills, no local memory, no warning
  NVCCFLAGS  := -std=c++17 -O3 -g -lineinfo $(NVCC_GENCODE) -Iengine -Iengine/include \
                -DLRE_WITH_CUDA -Xcompiler -fPIC,-Wall,-Wextra,-ffp-contract=off \
                -Xptxas -warn-spills,-warn-lmem-usage,-Werror -Werror all-warnings
else
  CUDA_DEFS  :=
  CUDA_LIBS  :=
  CU_SRCS    :=
endif
CU_OBJS := $(patsubst %.cu,$(OBJ)/%.o,$(CU_SRCS))
# bench_cuda.c calls cuBLAS itself: built only with the CUDA backend
ifeq ($(WITH_CUDA),1)
  CUDA_INC := -I$(abspath $(dir $(NVCC))../include)
  $(OBJ)/scripts/bench_cuda.o: GROUP_CFLAGS = $(ENG_CFLAGS) $(CUDA_INC)
else
  BENCH_SRCS := $(filter-out $(CUDA_BENCH),$(BENCH_SRCS))
endif
# spec/c/*.cu: test helpers compiled by nvcc (a CUDA build only), linked into
# every C test like spec/c/*.c helpers
ifeq ($(WITH_CUDA),1)
  THELP_OBJS += $(patsubst %.cu,$(OBJ)/%.o,$(sort $(wildcard spec/c/*.cu)))
endif

# Per-group include paths: the engine's layers get no Lua and no cairo
# headers, so an engine file that includes one fails to compile (README.md, "Layout":
# the engine never includes Lua; the figure is its own library).
$(OBJ)/engine/%.o:      GROUP_CFLAGS = $(ENG_CFLAGS)
$(OBJ)/engine/plot/%.o: GROUP_CFLAGS = $(PLOT_CFLAGS)
# the CPU backend's optimizer updates and bf16 rounding share oneDNN's OpenMP pool (gcc's
# libgomp; not in sanitizer builds, whose clang would want its own libomp)
ifeq ($(WITH_DNNL)$(SAN),10)
$(OBJ)/engine/backend/cpu.o: GROUP_CFLAGS = $(ENG_CFLAGS) -fopenmp
$(OBJ)/engine/backend/cpu_dnnl.o: GROUP_CFLAGS = $(ENG_CFLAGS) -fopenmp
endif
$(OBJ)/engine/lua/%.o:  GROUP_CFLAGS = $(ENG_CFLAGS) $(LUA_CFLAGS)
# an installed library finds its Lua modules without being told
# (lrelua_open(L, NULL)): the prefix is compiled into lua_embed.o alone,
# rebuilt when PREFIX changes (prefix.txt is rewritten only then)
$(OBJ)/engine/lua/lua_embed.o: GROUP_CFLAGS = $(ENG_CFLAGS) $(LUA_CFLAGS) \
    -DLRE_INSTALL_PREFIX='"$(PREFIX)"'
$(OBJ)/engine/lua/lua_embed.o: $(BUILD)/prefix.txt
$(OBJ)/engine/cli/%.o:  GROUP_CFLAGS = $(ENG_CFLAGS) $(LUA_CFLAGS)
# Tests and examples find the Lua modules of this tree (lua/) by default.
SRC_LUA_DIR := -DLRE_SOURCE_LUA_DIR='"$(CURDIR)/lua"'
$(OBJ)/spec/%.o:       GROUP_CFLAGS = $(ENG_CFLAGS) $(LUA_CFLAGS) -Ispec/c $(SRC_LUA_DIR)
$(OBJ)/scripts/%.o:    GROUP_CFLAGS = $(ENG_CFLAGS)
$(OBJ)/examples/%.o:   GROUP_CFLAGS = $(ENG_CFLAGS) $(LUA_CFLAGS) $(SRC_LUA_DIR)

# ---- build -----------------------------------------------------------------
# $(call say,CC,FILE) starts a recipe line: with V=0 it prints `CC   FILE`
# and hides the command (a failing one still prints its diagnostics and
# make's error line), with V=1 it is nothing and make echoes the command.
ifeq ($(V),1)
  say =
else
  say = @printf '%-4s %s\n' '$(1)' '$(2)';
endif

.PHONY: all lib plotlib lualib module cli tests bench-bins examples
all: lib plotlib lualib module cli tests bench-bins examples
lib: $(LIB) $(BUILD)/liblrengine.so.$(VERSION)
plotlib: $(PLOT_LIB) $(BUILD)/liblrengine_plot.so.$(VERSION)
lualib: $(LUA_LIB) $(BUILD)/liblrengine_lua.so.$(VERSION)
module: $(MODULE)
cli: $(CLI)
tests: $(TEST_BINS)
bench-bins: $(BENCH_BINS)
examples: $(EX_BINS)

# Objects are rebuilt when the flags change (CUDA=0 after CUDA=1, OPT=...):
# config.txt is rewritten only when its text differs.
CONFIG_NOW = $(CC) $(CFLAGS_ALL) | $(NVCC) $(NVCCFLAGS) | $(ENG_LIBS) $(CUDA_LIBS)
.PHONY: FORCE
$(BUILD)/config.txt: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' '$(subst ','\'',$(CONFIG_NOW))' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi

$(BUILD)/prefix.txt: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' '$(subst ','\'',$(PREFIX))' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi

$(OBJ)/%.o: %.c $(BUILD)/config.txt
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CFLAGS_ALL) $(GROUP_CFLAGS) -c $< -o $@

$(OBJ)/%.o: %.cu $(BUILD)/config.txt
	@mkdir -p $(@D)
	$(call say,NVCC,$<)$(NVCC) $(NVCCFLAGS) -MMD -MP -MF $(@:.o=.d) -c $< -o $@

$(LIB): $(LIB_OBJS) $(CU_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	$(call say,AR,$@)$(AR) rcs $@ $^

$(PLOT_LIB): $(PLOT_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	$(call say,AR,$@)$(AR) rcs $@ $^

$(LUA_LIB): $(LUA_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	$(call say,AR,$@)$(AR) rcs $@ $^

# $(call shared,NAME,OBJECTS,LIBS): BUILD/NAME.so.VERSION with its soname
# and the links NAME.so.SOVER and NAME.so beside it; each finds the others
# in its own folder ($ORIGIN: wherever they are installed together, never
# the build tree), as a program's RUNPATH does not reach a library's own
# dependencies
define shared
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) -shared -Wl,-soname,$(1).so.$(SOVER) -Wl,-rpath,'$$ORIGIN' -o $@ \
	    $(2) $(3) $(LDFLAGS_ALL)
	@ln -sf $(1).so.$(VERSION) $(BUILD)/$(1).so.$(SOVER)
	@ln -sf $(1).so.$(SOVER) $(BUILD)/$(1).so
endef

$(BUILD)/liblrengine.so.$(VERSION): $(LIB_OBJS) $(CU_OBJS)
	$(call shared,liblrengine,$^,$(ENG_LIBS) $(CUDA_LIBS))

$(BUILD)/liblrengine_plot.so.$(VERSION): $(PLOT_OBJS) $(BUILD)/liblrengine.so.$(VERSION)
	$(call shared,liblrengine_plot,$(PLOT_OBJS),-L$(BUILD) -llrengine $(PLOT_LIBS))

$(BUILD)/liblrengine_lua.so.$(VERSION): $(LUA_OBJS) $(BUILD)/liblrengine_plot.so.$(VERSION) \
    $(BUILD)/liblrengine.so.$(VERSION)
	$(call shared,liblrengine_lua,$(LUA_OBJS),-L$(BUILD) -llrengine_plot -llrengine $(LUA_LIBS))

# The module keeps the engine's own symbols local (--exclude-libs) so it
# exports luaopen_lrengine_core and does not clash with a host that links
# the library too. Lua's symbols come from the interpreter that loads it.
$(MODULE): $(LUA_OBJS) $(PLOT_LIB) $(LIB)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) -shared -o $@ $(LUA_OBJS) $(PLOT_LIB) $(LIB) -Wl,--exclude-libs,ALL \
	    $(ENG_LIBS) $(PLOT_LIBS) $(CUDA_LIBS) $(LDFLAGS_ALL)
	@nm -D --defined-only $@ | grep -q ' luaopen_lrengine_core$$' || \
	    { echo "$@ does not export luaopen_lrengine_core" >&2; rm -f $@; exit 1; }

# -Wl,-E: C modules the host loads (busted's, or core.so itself) resolve
# Lua's API against the host.
$(CLI): $(MAIN_OBJ) $(LUA_OBJS) $(PLOT_LIB) $(LIB)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) -o $@ $(MAIN_OBJ) $(LUA_OBJS) $(PLOT_LIB) $(LIB) -Wl,-E \
	    $(ENG_LIBS) $(PLOT_LIBS) $(LUA_LIBS) $(CUDA_LIBS) $(LDFLAGS_ALL)

# The binding library comes first: a test that embeds the finder
# (test_embed) pulls its objects, the others none.
$(BUILD)/tests/%: $(OBJ)/spec/c/%.o $(THELP_OBJS) $(LUA_LIB) $(PLOT_LIB) $(LIB)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) -o $@ $< $(THELP_OBJS) $(LUA_LIB) $(PLOT_LIB) $(LIB) $(ENG_LIBS) $(PLOT_LIBS) \
	    $(LUA_LIBS) $(CUDA_LIBS) $(LDFLAGS_ALL)

# As a program that embeds the finder links (README: Embedding in C); -Wl,-E
# as for the command, so C modules its scripts load find Lua's API.
$(BUILD)/examples/%: $(OBJ)/examples/%.o $(LUA_LIB) $(PLOT_LIB) $(LIB)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) -o $@ $< $(LUA_LIB) $(PLOT_LIB) $(LIB) -Wl,-E $(ENG_LIBS) $(PLOT_LIBS) \
	    $(LUA_LIBS) $(CUDA_LIBS) $(LDFLAGS_ALL)

# examples/embed/*.c (built against an install by their own Makefile) in
# the tree too: build/examples/embed_<name>, with this tree's Lua modules
$(BUILD)/examples/embed_%: $(OBJ)/examples/embed/%.o $(LUA_LIB) $(PLOT_LIB) $(LIB)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) -o $@ $< $(LUA_LIB) $(PLOT_LIB) $(LIB) -Wl,-E $(ENG_LIBS) $(PLOT_LIBS) \
	    $(LUA_LIBS) $(CUDA_LIBS) $(LDFLAGS_ALL)

$(BUILD)/bench/%: $(OBJ)/scripts/%.o $(LIB)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) -o $@ $< $(LIB) \
	    $(ENG_LIBS) $(CUDA_LIBS) $(if $(filter bench_cuda,$*),$(CUBLAS_LIBS)) $(LDFLAGS_ALL)

-include $(wildcard $(OBJ)/*/*.d $(OBJ)/*/*/*.d $(OBJ)/*/*/*/*.d)

# make data / bench-data / fuzz-corpus, and make fuzz (libFuzzer targets of
# every parser, FUZZ_SECONDS each)
include scripts/mk/data.mk scripts/mk/fuzz.mk
include scripts/mk/gpu.mk

# ---- running ---------------------------------------------------------------
SAN_ENV := ASAN_OPTIONS=detect_leaks=1 \
           UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
           $(if $(wildcard scripts/lsan.supp),LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/lsan.supp:print_suppressions=0)

.PHONY: deps test check asan valgrind bench demo
deps:
	@bash scripts/deps.sh

test: deps
	@bash scripts/check_layers.sh
	@$(SUBMAKE) all
	@bash scripts/run_tests.sh --build $(BUILD) --c-tests "$(TEST_BINS)"
	@$(SUBMAKE) test-install
	@$(SUBMAKE) test-rock
check: test

asan: deps
	@echo "asan: $(SAN_CC) -fsanitize=address,undefined in build-asan/ (CPU-only)"
	@$(SUBMAKE) BUILD=build-asan SAN=1 CUDA=0 CC=$(SAN_CC) cli tests examples
	@$(SAN_ENV) bash scripts/run_tests.sh --build build-asan --host \
	    --c-tests "$(patsubst spec/c/%.c,build-asan/tests/%,$(TEST_SRCS))"
	@# the install, its examples and the command under the sanitizers too
	@LRE_TEST_RUNENV="$(SAN_ENV)" bash scripts/test_install.sh "$(MAKE)" \
	    "$(SAN_CC) -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    BUILD=build-asan SAN=1 CUDA=0 CC=$(SAN_CC) LRE_QUIET_CONFIG=1

valgrind: deps
	@$(SUBMAKE) tests
	@bash scripts/run_tests.sh --build $(BUILD) --valgrind --c-tests "$(TEST_BINS)"

# bench_core and bench_finder.lua run three ways side by side: OpenBLAS
# alone, the fixed table (oneDNN fp32 where built), and bf16 (oneDNN on AMX)
bench: bench-bins
	@$(SUBMAKE) cli
	@set -e; for b in $(BENCH_BINS); do \
	    case $$b in *bench_core) \
	        echo "== $$b (LRE_CPU_GEMM=openblas)"; LRE_CPU_GEMM=openblas $$b; \
	        echo "== $$b (the fixed table)"; $$b; \
	        echo "== $$b (LRE_BENCH_PRECISION=bf16)"; LRE_BENCH_PRECISION=bf16 $$b ;; \
	    *) echo "== $$b"; $$b ;; esac; done
	@set -e; for s in $(filter-out scripts/bench_curves.lua scripts/bench_cnn.lua,$(wildcard scripts/bench_*.lua)); do \
	    echo "== $$s (LRE_CPU_GEMM=openblas)"; LRE_CPU_GEMM=openblas $(CLI) -q $$s; \
	    echo "== $$s (the fixed table)"; $(CLI) -q $$s; \
	    echo "== $$s (--precision bf16)"; $(CLI) -q --precision bf16 $$s; done
	@echo "== scripts/bench_curves.lua (long curves: heuristics, CSV reader, figure)"
	@$(CLI) -q scripts/bench_curves.lua
	@if $(TORCH_PYTHON) -c 'import torch, torch_lr_finder' 2>/dev/null; then \
	    echo "== torch-lr-finder, the same sweep (scripts/compare_torch.py --bench)"; \
	    $(TORCH_PYTHON) scripts/compare_torch.py --bench --device cpu; \
	    $(TORCH_PYTHON) scripts/compare_torch.py --bench --device cpu --bf16-autocast; \
	    echo "== the whole process, as a user runs it (scripts/bench_process.sh)"; \
	    bash scripts/bench_process.sh $(CLI) $(TORCH_PYTHON); \
	    echo "== the LeNet-style CNN beside PyTorch's (scripts/bench_cnn.lua; bench_torch_finder.py --model lenet --micro)"; \
	    mkdir -p $(BUILD)/bench; \
	    $(TORCH_PYTHON) scripts/compare_torch.py --bench --device cpu --model lenet --micro > $(BUILD)/bench/torch_lenet.txt; \
	    grep -v '^JSON' $(BUILD)/bench/torch_lenet.txt | grep -v 'diverged\|search finished'; \
	    TORCH_JSON=$(BUILD)/bench/torch_lenet.txt $(CLI) -q scripts/bench_cnn.lua; \
	else echo "== torch-lr-finder: not importable by $(TORCH_PYTHON) (TORCH_PYTHON=... names a python with torch and torch-lr-finder; a reference, never a dependency)"; \
	    echo "== the LeNet-style CNN (scripts/bench_cnn.lua)"; $(CLI) -q scripts/bench_cnn.lua; fi

# The CUDA figures alone (scripts/bench_cuda.c; one line and nothing else
# without a GPU)
.PHONY: bench-cuda
bench-cuda:
ifeq ($(WITH_CUDA),1)
	@$(SUBMAKE) $(BUILD)/bench/bench_cuda
	$(BUILD)/bench/bench_cuda
else
	@echo "bench-cuda: this build has no CUDA backend ($(CUDA_MSG))"
endif

demo: deps
	@$(SUBMAKE) cli
	$(CLI) examples/fashion_mnist.lua

# Every Lua example, one after the other (each prints its report and writes
# under out/): about two minutes on two cores, most of it the CNN, ResNet,
# verification and weight-decay-map examples
.PHONY: run-examples
run-examples: deps
	@$(SUBMAKE) cli
	@set -e; for s in examples/*.lua; do echo "== $$s"; $(CLI) -q $$s; done

# ---- install ---------------------------------------------------------------
# Installs into a temporary prefix, builds examples/embed.c with pkg-config
# alone (shared and --static) and runs it from outside the tree, runs the
# installed command, uninstalls (scripts/test_install.sh; `make test` runs it)
.PHONY: test-install
test-install:
	@bash scripts/test_install.sh "$(MAKE)" "$(CC)"

# LuaRocks (lrengine-scm-1.rockspec, `luarocks make`): the module and the
# command built, then the Lua modules, core.so and the command installed
# where the rocks tree wants them (LUADIR, LIBDIR, BINDIR, which LuaRocks
# gives)
.PHONY: rock install-rock test-rock
rock: module cli

install-rock: rock
	@test -n "$(LUADIR)" -a -n "$(LIBDIR)" -a -n "$(BINDIR)" || \
	    { echo "install-rock: LUADIR, LIBDIR and BINDIR come from luarocks make" >&2; exit 2; }
	install -d $(LUADIR)/lrengine $(LIBDIR)/lrengine $(BINDIR)
	install -m 644 $(addprefix lua/,$(LUA_MODS)) $(LUADIR)/lrengine/
	install -m 755 $(MODULE) $(LIBDIR)/lrengine/core.so
	install -m 755 $(CLI) $(BINDIR)/lrengine

# `luarocks make` into a temporary tree, then a range test from plain
# lua5.4 (scripts/test_rock.sh; a visible skip without luarocks)
test-rock:
	@bash scripts/test_rock.sh

.PHONY: install uninstall
# The layout (README: Installing): the command, the static libraries and the
# headers; the Lua modules where Lua 5.4 looks under a prefix
# (share/lua/5.4/lrengine/, lib/lua/5.4/lrengine/core.so). `make uninstall`
# removes exactly these files (the same lists), then the folders of
# lrengine's own that are left empty.
LUA_MODS    := $(sort $(patsubst lua/%,%,$(wildcard lua/lrengine/*.lua)))
INST         = $(DESTDIR)$(PREFIX)
INST_SO      = $(foreach n,$(SO_NAMES),$(INST)/lib/$(n).so.$(VERSION) $(INST)/lib/$(n).so.$(SOVER) \
                 $(INST)/lib/$(n).so)
INST_FILES   = $(INST)/bin/lrengine $(INST)/lib/liblrengine.a $(INST)/lib/liblrengine_lua.a \
               $(INST)/lib/liblrengine_plot.a $(INST_SO) \
               $(addprefix $(INST)/include/,$(notdir $(PUB_HDRS))) \
               $(INST)/lib/pkgconfig/lrengine.pc $(INST)/lib/pkgconfig/lrengine-core.pc \
               $(INST)/lib/lua/5.4/lrengine/core.so $(addprefix $(INST)/share/lua/5.4/,$(LUA_MODS)) \
               $(INST)/share/man/man1/lrengine.1
# pkg-config: a prefix outside the system's library path gets an rpath, so
# a program built with `pkg-config --libs` runs without LD_LIBRARY_PATH;
# Libs.private holds what a --static link needs (this build's own flags:
# OpenBLAS's OpenMP build and oneDNN where built, CUDA's runtime in a CUDA
# build)
PC_RPATH = $(if $(filter /usr /usr/local,$(PREFIX)),,-Wl$(comma)-rpath$(comma)$${libdir})
define PC_HEAD
prefix=$(PREFIX)
libdir=$${prefix}/lib
includedir=$${prefix}/include

endef
export PC_HEAD
install: lib plotlib lualib module cli
	install -d $(INST)/bin $(INST)/lib $(INST)/include $(INST)/lib/lua/5.4/lrengine \
	    $(INST)/share/lua/5.4/lrengine $(INST)/lib/pkgconfig $(INST)/share/man/man1
	install -m 755 $(CLI) $(INST)/bin/lrengine
	install -m 644 engine/cli/lrengine.1 $(INST)/share/man/man1/lrengine.1
	install -m 644 $(LIB) $(LUA_LIB) $(PLOT_LIB) $(INST)/lib/
	install -m 755 $(SO_FILES) $(INST)/lib/
	for n in $(SO_NAMES); do ln -sf $$n.so.$(VERSION) $(INST)/lib/$$n.so.$(SOVER); \
	    ln -sf $$n.so.$(SOVER) $(INST)/lib/$$n.so; done
	install -m 644 $(PUB_HDRS) $(INST)/include/
	install -m 755 $(MODULE) $(INST)/lib/lua/5.4/lrengine/core.so
	install -m 644 $(addprefix lua/,$(LUA_MODS)) $(INST)/share/lua/5.4/lrengine/
	{ printf '%s' "$$PC_HEAD"; \
	  printf 'Name: lrengine\nDescription: learning-rate range tests: the engine, its Lua binding and the figure\n'; \
	  printf 'Version: $(VERSION)\nRequires: lua5.4\nRequires.private: cairo\n'; \
	  printf 'Cflags: -I$${includedir}\n'; \
	  printf 'Libs: -L$${libdir} $(PC_RPATH) -llrengine_lua -llrengine_plot -llrengine -lm\n'; \
	  printf 'Libs.private: %s\n' '$(strip $(ENG_LIBS) $(CUDA_LIBS))'; \
	} > $(INST)/lib/pkgconfig/lrengine.pc
	{ printf '%s' "$$PC_HEAD"; \
	  printf 'Name: lrengine-core\nDescription: learning-rate range tests: the engine alone (lrengine.h; no Lua, no cairo)\n'; \
	  printf 'Version: $(VERSION)\nCflags: -I$${includedir}\n'; \
	  printf 'Libs: -L$${libdir} $(PC_RPATH) -llrengine\n'; \
	  printf 'Libs.private: %s\n' '$(strip $(ENG_LIBS) $(CUDA_LIBS))'; \
	} > $(INST)/lib/pkgconfig/lrengine-core.pc

uninstall:
	rm -f $(INST_FILES)
	-rmdir $(INST)/lib/lua/5.4/lrengine $(INST)/share/lua/5.4/lrengine 2>/dev/null

# ---- clean -----------------------------------------------------------------
.PHONY: clean help
clean:
	rm -rf build build-asan build-fuzz build-nodnnl

help:
	@sed -n '1,/^$$/p' $(firstword $(MAKEFILE_LIST)) | sed 's/^# \{0,1\}//'
