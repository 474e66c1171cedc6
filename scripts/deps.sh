#!/usr/bin/env bash
# deps.sh — installs the Debian packages that lrengine's build, tests, demo
# and sanitizer builds need, and nothing when they are all there already.
#
#   scripts/deps.sh          install what is missing (as root), else print
#                            the exact command to run and exit 1
#   scripts/deps.sh --check  only report; exit 1 if anything is missing
#
# Used by `make deps`, `make test`, `make demo` and CI (root, no stdin).
set -euo pipefail

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
    libcairo2-dev           # the range-test figure: PNG, SVG, PDF (engine/plot.c)
    fonts-dejavu-core       # its text (cairo asks fontconfig for "sans-serif")
    lua-expat               # spec/plot_spec.lua parses the SVG as XML
)

check_only=0
case "${1:-}" in
    --check) check_only=1 ;;
    "") ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
    # dpkg -s succeeds for removed-but-not-purged packages too; ask for the
    # status word instead.
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = "installed" ] || missing+=("$p")
done

[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get update && apt-get install -y ${missing[*]}"
if [ "$check_only" -eq 1 ]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: install them with: sudo sh -c '$cmd'" >&2
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
