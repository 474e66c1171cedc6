# scripts/mk/gpu.mk — a self-contained bundle for checking the CUDA backend on a
# GPU machine that has none of our Debian libraries (included by the Makefile,
# which defines BUILD, SUBMAKE, WITH_CUDA, CUDA_MSG, TEST_BINS, BENCH_BINS and
# CLI; data.mk defines FMNIST_DIRS). README.md, "GPU", has the device `run` call.
#
#   make gpu-bundle    build the command, the C tests and the benchmarks again in
#                      BUILD/gpu-build (SASS for GPU_BUNDLE_ARCH only, no
#                      oneDNN: its 40 MB would not fit; OpenBLAS serves the CPU;
#                      test_embed looking for the Lua modules in ./lua), then
#                      gather them in BUILD/gpu-bundle with every library they
#                      need but libc's and the GPU's (libcuda, cuBLAS), the Lua
#                      modules, a Fashion-MNIST subset, fonts, compute-sanitizer
#                      and the torch-lr-finder wheel; fails over GPU_BUNDLE_MAX_MIB.
#                      scripts/gpu_check.sh OUTDIR then runs the checks from it
#                      (--cpu-only: its CPU parts, here).
#
# Options:
#   GPU_BUNDLE_ARCH=90        SM versions of the bundle's device code (H200: 90)
#   GPU_BUNDLE_TRAIN=10000    training rows of the Fashion-MNIST subset (the 10000
#                             test rows are all taken)
#   GPU_BUNDLE_MAX_MIB=60     size limit (`run`'s carry takes 64 MiB in all)
#   GPU_BUNDLE_SANITIZER=nvidia-cuda-sanitizer-api==13.0.85
#                             compute-sanitizer from PyPI (10 MiB), for a machine
#                             whose toolkit has none; empty: leave it out
#   GPU_BUNDLE_FINDER=torch-lr-finder==0.2.2   the wheel for the torch comparison
#   GPU_BUNDLE_STRIP=1        strip the binaries' debug info (symbols stay)
#   GPU_BUNDLE_CPU=1          allow a bundle without the CUDA backend (to try
#                             gpu_check.sh --cpu-only on a machine without nvcc)
#   GPU_BUNDLE_PIP=python3 -m pip
# Wheels are downloaded once, into BUILD/gpu-downloads.

GPU_BUNDLE          ?= $(BUILD)/gpu-bundle
GPU_BUNDLE_BUILD    ?= $(BUILD)/gpu-build
GPU_BUNDLE_ARCH     ?= 90
GPU_BUNDLE_TRAIN    ?= 10000
GPU_BUNDLE_MAX_MIB  ?= 60
GPU_BUNDLE_SANITIZER ?= nvidia-cuda-sanitizer-api==13.0.85
GPU_BUNDLE_FINDER   ?= torch-lr-finder==0.2.2
GPU_BUNDLE_STRIP    ?= 1
GPU_BUNDLE_CPU      ?=
GPU_BUNDLE_PIP      ?= python3 -m pip

# The bundle's own build: the same sources and flags but the SM list, and
# test_embed's LRE_SOURCE_LUA_DIR relative ("lua", its default), since the
# tree's absolute path does not exist on the GPU machine.
GPU_BUNDLE_BINDIR = $(patsubst $(BUILD)/%,$(GPU_BUNDLE_BUILD)/%,$(1))

.PHONY: gpu-bundle
gpu-bundle:
ifeq ($(WITH_CUDA)$(GPU_BUNDLE_CPU),0)
	@echo "gpu-bundle: this build has no CUDA backend ($(CUDA_MSG)); on the GPU every" \
	     "test would fail. GPU_BUNDLE_CPU=1 builds one anyway, for gpu_check.sh --cpu-only." >&2
	@exit 1
endif
	@$(SUBMAKE) BUILD=$(GPU_BUNDLE_BUILD) CUDA_ARCH="$(GPU_BUNDLE_ARCH)" DNNL=0 \
	    SRC_LUA_DIR="-DLRE_SOURCE_LUA_DIR='\"lua\"'" cli tests bench-bins
	@bash scripts/gpu_check.sh --make-bundle $(GPU_BUNDLE) \
	    --cli $(call GPU_BUNDLE_BINDIR,$(CLI)) \
	    --tests "$(call GPU_BUNDLE_BINDIR,$(TEST_BINS))" \
	    --bench "$(call GPU_BUNDLE_BINDIR,$(BENCH_BINS))" \
	    --lua lua --scripts "scripts/run_tests.sh scripts/compare_torch.py scripts/compare_torch.lua scripts/bench_finder.lua scripts/bench_torch_finder.py" \
	    --data-dirs "$(FMNIST_DIRS)" --train $(GPU_BUNDLE_TRAIN) --max-mib $(GPU_BUNDLE_MAX_MIB) \
	    --with-cuda $(WITH_CUDA) --arch "$(GPU_BUNDLE_ARCH)" --nvcc "$(NVCC)" --strip $(GPU_BUNDLE_STRIP) \
	    --downloads $(BUILD)/gpu-downloads --pip "$(GPU_BUNDLE_PIP)" \
	    --sanitizer "$(GPU_BUNDLE_SANITIZER)" --finder "$(GPU_BUNDLE_FINDER)"
