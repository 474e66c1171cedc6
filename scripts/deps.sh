#!/usr/bin/env bash
# deps.sh — installs the Debian packages that lrengine's build, tests, demo
# and sanitizer builds need, and nothing when they are all there already;
# then, for the CUDA backend, CUDA 13.0 from PyPI where it is wanted and
# missing (see "CUDA" below).
#
#   scripts/deps.sh          install what is missing (Debian packages as
#                            root, else print the exact command to run and
#                            exit 1)
#   scripts/deps.sh --check  only report; exit 1 if anything is missing
#
# Used by `make deps`, `make test`, `make demo` and CI (root, no stdin); the
# Makefile's CUDA=auto|0|1 reaches it as $CUDA when given on make's command
# line or in the environment (unset: auto).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

# One package per line, with why we need it.
PACKAGES=(
    lua5.4                  # the Lua interpreter busted runs on
    liblua5.4-dev           # Lua headers and liblua5.4 for the module and host
    lua-busted              # the Lua spec runner
    libcjson-dev            # JSON for results and safetensors headers
    libopenblas-dev         # cblas_sgemm on the CPU
    zlib1g-dev              # gzip-compressed IDX files
    pkg-config              # the Makefile asks it for flags
    clang                   # sanitizer (make asan) and fuzz builds
    libclang-rt-14-dev      # clang-14's ASan/UBSan/libFuzzer runtimes
    valgrind                # make valgrind
    dataset-fashion-mnist   # the default data set (/usr/share/datasets/fashion-mnist)
    libdnnl-dev             # oneDNN: CPU matmuls and bf16 on AMX (engine/backend/cpu_dnnl.c)
    libopenblas0-openmp     # OpenBLAS on OpenMP, oneDNN's thread pool (one pool, not two)
    libcairo2-dev           # the range-test figure: PNG, SVG, PDF (engine/plot/plot.c)
    fonts-dejavu-core       # its text (cairo asks fontconfig for "sans-serif")
    lua-expat               # spec/plot_spec.lua parses the SVG as XML
    luarocks                # make test-rock: the rockspec, luarocks make into a temporary tree
)

check_only=0
case "${1:-}" in
    --check) check_only=1 ;;
    "") ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

# ---- CUDA ----------------------------------------------------------------
# The CUDA backend needs nvcc and cuBLAS of CUDA 12 or later; Debian's own
# nvidia-cuda-toolkit (CUDA 11.8, /usr/bin/nvcc) is never used. A toolkit is
# looked for at $CUDA_HOME, .cuda/toolkit (an earlier run of this script),
# /usr/local/cuda and nvcc on PATH. When none is found and the machine has
# an NVIDIA GPU (a driver: /proc/driver/nvidia/version, or nvidia-smi works)
# or CUDA=1 is asked, NVIDIA's CUDA 13.0 wheels are installed from PyPI into
# .cuda/ (pip --target: no root needed, ~1.1 GB; git ignores it) and
# .cuda/toolkit is laid out as a CUDA_HOME (lib64, targets/, unversioned
# .so links). With a driver too old for CUDA 13 (before 580) auto mode
# leaves it out. No GPU and no toolkit: the CPU build, no download, one line.
# CUDA=0: nothing at all.
CUDA_MODE=${CUDA:-auto}
# cuda-toolkit 13.0.3.0 pins nvcc/crt/nvvm 13.0.88, cudart 13.0.96,
# cccl 13.0.85 and cuBLAS 13.1.1.3 (with nvrtc 13.0.88, which cuBLAS needs).
CUDA_PIP="cuda-toolkit[nvcc,crt,nvvm,cccl,cudart,cublas]==13.0.3.0"
CUDA_LOCAL=$root/.cuda

# NVCC -> success when it is a usable toolkit: CUDA >= 12, not a Debian
# package, libcublas next to it
cuda_usable() {
    local n=$1 v d
    [ -n "$n" ] && [ -x "$n" ] || return 1
    n=$(readlink -f "$n")
    dpkg-query -S "$n" 2>/dev/null | grep -q '^nvidia-cuda' && return 1
    v=$("$n" --version 2>/dev/null | sed -n 's/.*release \([0-9][0-9]*\)\..*/\1/p' | head -n 1)
    [ -n "$v" ] && [ "$v" -ge 12 ] || return 1
    d=$(dirname "$n")/..
    compgen -G "$d/lib64/libcublas.so*" >/dev/null || compgen -G "$d/lib/libcublas.so*" >/dev/null ||
        compgen -G "$d/targets/*/lib/libcublas.so*" >/dev/null
}
cuda_found=""
for n in ${CUDA_HOME:+"$CUDA_HOME/bin/nvcc"} "$CUDA_LOCAL/toolkit/bin/nvcc" /usr/local/cuda/bin/nvcc \
         "$(command -v nvcc 2>/dev/null || true)"; do
    if cuda_usable "$n"; then cuda_found=$n; break; fi
done
gpu_present() { [ -r /proc/driver/nvidia/version ] || nvidia-smi -L >/dev/null 2>&1; }
cuda_action=none
if [ "$CUDA_MODE" != 0 ] && [ -z "$cuda_found" ]; then
    if [ "$CUDA_MODE" = 1 ]; then
        cuda_action=install
    elif gpu_present; then
        drv=$(nvidia-smi 2>/dev/null | grep -o 'CUDA Version: *[0-9][0-9.]*' | grep -o '[0-9.]*$' || true)
        if [ -n "$drv" ] && [ "${drv%%.*}" -lt 13 ]; then cuda_action=old_driver; else cuda_action=install; fi
    else
        cuda_action=cpu
    fi
fi
# what pip and nvcc need of Debian: pip itself, and nvcc's host compiler
if [ "$cuda_action" = install ]; then
    python3 -m pip --version >/dev/null 2>&1 || PACKAGES+=(python3-pip)
    command -v g++ >/dev/null 2>&1 || PACKAGES+=(g++)
fi

cuda_layout() { # the wheels' tree (bin, include, lib, nvvm) -> a CUDA_HOME
    local h=$1 t f base
    case "$(uname -m)" in x86_64) t=x86_64-linux ;; aarch64) t=sbsa-linux ;; *) t=$(uname -m)-linux ;; esac
    ln -sfn lib "$h/lib64"
    mkdir -p "$h/targets/$t"
    ln -sfn ../../include "$h/targets/$t/include"
    ln -sfn ../../lib "$h/targets/$t/lib"
    for f in "$h"/lib/lib*.so.[0-9]*; do # wheels carry no links: libcudart.so -> libcudart.so.13, ...
        base=${f##*/}
        base=${base%%.so.*}.so
        [ -e "$h/lib/$base" ] || ln -s "${f##*/}" "$h/lib/$base"
    done
}

cuda_install() {
    local tmp="$CUDA_LOCAL/pip.tmp" h smoke
    echo "deps: installing CUDA 13.0 from PyPI into .cuda/ ($CUDA_PIP, ~1.1 GB)"
    rm -rf "$tmp"
    mkdir -p "$CUDA_LOCAL"
    python3 -m pip install --quiet --disable-pip-version-check --no-input --no-cache-dir \
        --no-warn-script-location --root-user-action=ignore --target "$tmp" "$CUDA_PIP" </dev/null
    h=$(dirname "$(dirname "$(find "$tmp/nvidia" -maxdepth 3 -path '*/bin/nvcc' | head -n 1)")")
    for f in bin/nvcc lib/libcudart.so.13 lib/libcublas.so.13 lib/libcublasLt.so.13 include/cublas_v2.h; do
        [ -e "$h/$f" ] || { echo "deps: the CUDA wheels have no $f (in $tmp)" >&2; exit 1; }
    done
    cuda_layout "$h"
    rm -rf "$CUDA_LOCAL/pip"
    mv "$tmp" "$CUDA_LOCAL/pip"
    ln -sfn "pip/${h#"$tmp"/}" "$CUDA_LOCAL/toolkit"
    h=$CUDA_LOCAL/toolkit
    # it compiles and links against cuBLAS (nothing runs: there may be no GPU)
    smoke=$(mktemp -d)
    printf '%s\n' '#include <cublas_v2.h>' '__global__ void k(float *x) { x[threadIdx.x] = 1.0f; }' \
        'int main(void) { cublasHandle_t c; return cublasCreate(&c) != CUBLAS_STATUS_SUCCESS; }' \
        >"$smoke/smoke.cu"
    if ! "$h/bin/nvcc" -o "$smoke/smoke" "$smoke/smoke.cu" -L"$h/lib" -lcublas >"$smoke/log" 2>&1; then
        cat "$smoke/log" >&2
        rm -rf "$smoke"
        echo "deps: nvcc from .cuda/toolkit cannot build a cuBLAS program (above)" >&2
        exit 1
    fi
    rm -rf "$smoke"
    echo "deps: CUDA in .cuda/toolkit: nvcc $("$h/bin/nvcc" --version | grep -o 'V[0-9][0-9.]*' | head -n 1)," \
         "cuBLAS $(readlink -f "$h/lib/libcublas.so.13" | sed 's/.*libcublas\.so\.//')"
}

cuda_step() {
    case "$cuda_action" in
        install)
            if [ "$check_only" -eq 1 ]; then
                echo "deps: no CUDA toolkit: would install $CUDA_PIP into .cuda/" >&2
                return 1
            fi
            cuda_install
            if grep -q '\.cuda/toolkit' "$root/Makefile" 2>/dev/null; then
                echo "deps: the Makefile builds the CUDA backend with it (CUDA_HOME=.cuda/toolkit)"
            else
                echo "deps: build the CUDA backend with: make CUDA_HOME=$CUDA_LOCAL/toolkit"
            fi ;;
        old_driver)
            echo "deps: the NVIDIA driver supports CUDA $drv only (CUDA 13 needs driver 580 or later):" \
                 "CPU-only build; CUDA=1 installs CUDA 13.0 into .cuda/ anyway" ;;
        cpu)
            echo "deps: no NVIDIA GPU and no CUDA toolkit: CPU-only build (for the CUDA backend:" \
                 "make deps CUDA=1 installs CUDA 13.0 from PyPI into .cuda/)" ;;
    esac
    return 0
}

# ---- Debian packages -------------------------------------------------------
missing=()
for p in "${PACKAGES[@]}"; do
    # dpkg -s succeeds for removed-but-not-purged packages too; ask for the
    # status word instead.
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    cuda_step
    exit $?
fi

cmd="apt-get update && apt-get install -y ${missing[*]}"
if [ "$check_only" -eq 1 ]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: install them with: sudo sh -c '$cmd'" >&2
    cuda_step || true
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: run this as root, then rerun make:" >&2
    echo "    sudo sh -c 'DEBIAN_FRONTEND=noninteractive $cmd'" >&2
    exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q </dev/null
apt-get install -y -q "${missing[@]}" </dev/null

# Verify: a package that apt could not install must not pass silently.
still=()
for p in "${missing[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = "installed" ] || still+=("$p")
done
if [ ${#still[@]} -ne 0 ]; then
    echo "deps: still missing after apt-get: ${still[*]}" >&2
    exit 1
fi
echo "deps: done"
cuda_step
