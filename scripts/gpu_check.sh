#!/usr/bin/env bash
# gpu_check.sh — checks lrengine's CUDA backend on a GPU machine that has none
# of our Debian libraries, from the self-contained folder `make gpu-bundle`
# builds (build/gpu-bundle: the command, the C tests and benchmarks, every
# library they need but libc's and the GPU's, the Lua modules, a
# Fashion-MNIST subset, fonts, compute-sanitizer and the torch-lr-finder
# wheel). Nothing is installed; README.md, "GPU", has the device `run` call.
#
#   gpu_check.sh [--bundle DIR] OUTDIR               the checks, on a GPU
#   gpu_check.sh --cpu-only [--bundle DIR] OUTDIR    (or GPU_CHECK_CPU=1) only
#                the bundle's CPU parts: proves here that it runs outside the
#                tree on its own libraries
#   gpu_check.sh --make-bundle DIR OPTIONS...        builds the bundle
#                (`make gpu-bundle` calls it; see make_bundle below)
#
# The bundle is DIR, else $GPU_BUNDLE, else this script's own folder when it
# holds MANIFEST.txt (the copy inside the bundle), else ../build/gpu-bundle.
#
# In order, each step under `timeout`, the whole within GPU_CHECK_BUDGET
# seconds (330; a step that no longer fits is reported as not run):
#   1. the machine: nvidia-smi, glibc against what the bundle needs; where
#      libcublas.so.13 and libcublasLt.so.13 are (ldconfig, the CUDA
#      toolkits, Python's nvidia/*/lib and torch/lib, then a search);
#      LD_LIBRARY_PATH = the bundle's lib/ (+ the big libraries unpacked) +
#      those folders (+ lib/compat/NAME for libstdc++, libgcc_s, libexpat,
#      only where the machine's are missing or too old); every binary's
#      libraries checked with ldd (none may come from outside the bundle but
#      libc's, CUDA's and those three)
#   2. every C test binary with LRE_TEST_DEVICE=cuda (cpu with --cpu-only),
#      counted by scripts/run_tests.sh --c-only, one binary at a time
#   3. the user's range test (100 steps) on the subset, on the CPU and on
#      CUDA; the steepest suggestions must agree within one schedule step
#   4. compute-sanitizer (memcheck) on test_backend_ops and a 20-step range
#      test: the machine's toolkit's, else the bundle's (status `clean`,
#      `errors (N)`, `incomplete (why)` or `not run (why)`)
#   5. bench_cuda, when the bundle has it
#   6. the same sweep timed by lrengine (scripts/bench_finder.lua) and by
#      torch-lr-finder (scripts/bench_torch_finder.py) on the GPU, when torch
#      imports and the wheel installs offline
# Writes OUTDIR/gpu_check.log (everything), OUTDIR/gpu_check.json (the
# figures) and OUTDIR/gpu_check_files.tar.gz (the range-test results, each
# step's output); exits 1 when a test failed, a step that must work did not,
# the suggestions disagree or the sanitizer found errors; 2 on a usage error.
#
# Environment: GPU_CHECK_BUDGET (330 s), GPU_CHECK_TEST_TIMEOUT (120 s per
# test binary), GPU_CHECK_BENCH_TIMEOUT (120 s), GPU_CHECK_KEEP=1 keeps the
# work folder (made next to the bundle, else in $TMPDIR), GPU_CHECK_CPU=1 as
# --cpu-only.
set -uo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
HERE=$(dirname "$SELF")

# Libraries a bundle never carries: libc's (they must match the machine's
# loader) and the GPU's (the driver's libcuda, and cuBLAS: 570 MB).
LIBC_RE='^(linux-vdso\.so|linux-gate\.so|ld-linux[^/]*\.so|libc\.so|libm\.so|libpthread\.so|libdl\.so|librt\.so|libutil\.so|libresolv\.so|libanl\.so|libmvec\.so)'
CUDA_RE='^(libcuda\.so|libcublas\.so|libcublasLt\.so|libnvidia-)'
# Copied, but used only when the machine's are missing or too old: every
# Linux has them, and Debian 12's need a newer glibc than the rest (libexpat
# 2.36, for arc4random: Ubuntu 22.04 has 2.35).
COMPAT_RE='^(libstdc\+\+\.so|libgcc_s\.so|libexpat\.so)'

die() { echo "gpu_check: $*" >&2; exit 2; }

# ============================================================================
# make_bundle: build/gpu-bundle from the binaries `make gpu-bundle` built
# ============================================================================
make_bundle() {
    local out="" cli="" tests="" bench="" lua="" scripts="" data_dirs="" train=10000
    local max_mib=60 with_cuda=0 arch="" strip=1 downloads="" pip="python3 -m pip" nvcc=""
    local sanitizer_pkg="" finder_pkg="torch-lr-finder==0.2.2"
    out=${1:?--make-bundle needs a directory}; shift
    while [ $# -gt 0 ]; do
        case "$1" in
            --cli) cli=$2 ;; --tests) tests=$2 ;; --bench) bench=$2 ;; --lua) lua=$2 ;;
            --scripts) scripts=$2 ;; --data-dirs) data_dirs=$2 ;; --train) train=$2 ;;
            --max-mib) max_mib=$2 ;; --with-cuda) with_cuda=$2 ;; --arch) arch=$2 ;;
            --strip) strip=$2 ;; --downloads) downloads=$2 ;; --pip) pip=$2 ;;
            --sanitizer) sanitizer_pkg=$2 ;; --finder) finder_pkg=$2 ;; --nvcc) nvcc=$2 ;;
            *) die "--make-bundle: unknown option '$1'" ;;
        esac
        shift 2 || die "--make-bundle: $1 needs a value"
    done
    [ -x "$cli" ] || die "--make-bundle: no command at '$cli'"
    [[ $train =~ ^[1-9][0-9]*$ ]] || die "--make-bundle: --train must be a number of rows"
    set -e
    shopt -s nullglob
    local tmp="$out.tmp" f n
    rm -rf "$tmp" "$out" # no stale bundle survives a failed build
    mkdir -p "$tmp"/{bin,tests,bench,lib/compat,lib/packed,data,fonts,wheels,tools,scripts}
    bb() { echo "gpu-bundle: $*"; }

    # --- our binaries (debug info stripped: symbols stay for backtraces)
    copy_bin() {
        if [ "$strip" = 1 ]; then strip --strip-debug -o "$2" "$1"; else cp "$1" "$2"; fi
    }
    copy_bin "$cli" "$tmp/bin/lrengine"
    for f in $tests; do copy_bin "$f" "$tmp/tests/${f##*/}"; done
    for f in $bench; do copy_bin "$f" "$tmp/bench/${f##*/}"; done
    local elves=("$tmp"/bin/* "$tmp"/tests/* "$tmp"/bench/*)
    bb "$(ls "$tmp/tests" | wc -l) tests, $(ls "$tmp/bench" | wc -l) benchmarks, the command"

    # --- their libraries (ldd lists the whole tree)
    local from_machine="" line name path dest
    declare -A seen=()
    while read -r name path; do
        [ -n "${seen[$name]:-}" ] && continue
        seen[$name]=1
        if [[ $name =~ $LIBC_RE ]]; then continue; fi
        if [[ $name =~ $CUDA_RE ]]; then from_machine="$from_machine $name"; continue; fi
        [ "$path" = "not" ] && { echo "gpu-bundle: $name: not found by ldd here" >&2; exit 1; }
        # each compat library in its own folder: gpu_check.sh adds only those the machine lacks
        if [[ $name =~ $COMPAT_RE ]]; then dest=$tmp/lib/compat/$name; mkdir -p "$dest"; else dest=$tmp/lib; fi
        # a big library travels gzip'ed and is unpacked by gpu_check.sh
        if [ "$(stat -L -c %s "$path")" -gt $((8 * 1024 * 1024)) ]; then
            gzip -6 -n -c "$path" >"$tmp/lib/packed/$name.gz"
        else
            cp -L "$path" "$dest/$name"
        fi
        chmod 644 "$dest/$name" "$tmp/lib/packed/$name.gz" 2>/dev/null || true
    done < <(for f in "${elves[@]}"; do ldd "$f"; done |
             awk '$2 == "=>" { print $1, $3 } $1 ~ /^\// { n = $1; sub(/.*\//, "", n); print n, $1 }' |
             sort -u)
    from_machine=$(printf '%s\n' $from_machine | sort -u | paste -sd ' ')
    bb "libraries: $(ls "$tmp/lib" "$tmp/lib/compat" "$tmp/lib/packed" | grep -c '\.so')" \
       "(from the GPU machine: ${from_machine:-none})"

    # --- what they need of the machine's glibc and libstdc++
    local glibc glibc_compat glibcxx
    glibc=$(for f in "${elves[@]}" "$tmp"/lib/*.so*; do
                [ -f "$f" ] && objdump -T "$f" 2>/dev/null; done |
            grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1 || true)
    glibc_compat=$(for f in "$tmp"/lib/compat/*/*.so*; do objdump -T "$f" 2>/dev/null; done |
            grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1 || true)
    glibcxx=$(for f in "${elves[@]}" "$tmp"/lib/*.so*; do
                  [ -f "$f" ] && objdump -T "$f" 2>/dev/null; done |
              grep -o 'GLIBCXX_[0-9][0-9.]*' | sed 's/GLIBCXX_//' | sort -uV | tail -n 1 || true)

    # --- the Lua modules, the runner, the comparison
    cp -R "$lua" "$tmp/lua"
    find "$tmp/lua" -type f ! -name '*.lua' -delete
    for f in $scripts; do cp "$f" "$tmp/scripts/"; done
    cp "$SELF" "$tmp/gpu_check.sh"
    chmod 755 "$tmp/gpu_check.sh" "$tmp"/scripts/*.sh 2>/dev/null || true

    # --- Fashion-MNIST: the first $train training rows, the whole test set
    local src="" d
    for d in $data_dirs; do
        for n in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
                 t10k-labels-idx1-ubyte; do
            [ -r "$d/$n.gz" ] || [ -r "$d/$n" ] || continue 2
        done
        src=$d; break
    done
    [ -n "$src" ] || { echo "gpu-bundle: Fashion-MNIST not found (searched: $data_dirs); make data says how to get it" >&2; exit 1; }
    idxfile() { if [ -r "$1.gz" ]; then echo "$1.gz"; else echo "$1"; fi; }
    be32() { printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 >> 24 & 255)) \
                       $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)))"; }
    # IDX: magic, dims, then uint8 rows; the subset keeps the first rows
    subset() { # SRC DST MAGIC HEADER_BYTES ROW_BYTES DIMS...
        local s=$1 dst=$2 magic=$3 hdr=$4 row=$5; shift 5
        ( set +o pipefail
          { printf "$magic"; be32 "$train"; for n in "$@"; do be32 "$n"; done
            gzip -dcf "$s" | tail -c +$((hdr + 1)) | head -c $((train * row)); } | gzip -6 -n >"$dst" )
        local got; got=$(gzip -dc "$dst" | wc -c)
        [ "$got" -eq $((hdr + train * row)) ] ||
            { echo "gpu-bundle: $dst: $got bytes, expected $((hdr + train * row)) (fewer than $train rows in $s?)" >&2; exit 1; }
    }
    subset "$(idxfile "$src/train-images-idx3-ubyte")" "$tmp/data/train-images-idx3-ubyte.gz" \
           '\x00\x00\x08\x03' 16 784 28 28
    subset "$(idxfile "$src/train-labels-idx1-ubyte")" "$tmp/data/train-labels-idx1-ubyte.gz" \
           '\x00\x00\x08\x01' 8 1
    for n in t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
        f=$(idxfile "$src/$n")
        case "$f" in *.gz) cp "$f" "$tmp/data/$n.gz" ;; *) gzip -6 -n -c "$f" >"$tmp/data/$n.gz" ;; esac
    done
    # the bundle's command (its Lua modules next to it) reads them back:
    # $train and 10000 rows, 10 classes
    n=$(env LRENGINE_DATA="$tmp/data" "$tmp/bin/lrengine" -q -e 'local lre = require "lrengine"
        local a, b = lre.data.fashion_mnist("train"), lre.data.fashion_mnist("test")
        print(a:size() .. " " .. b:size() .. " " .. a:num_classes())') ||
        { echo "gpu-bundle: the command cannot read the subset back" >&2; exit 1; }
    [ "$n" = "$train 10000 10" ] || { echo "gpu-bundle: the subset reads back as '$n'" >&2; exit 1; }
    bb "Fashion-MNIST from $src: $train training rows, 10000 test rows"

    # --- fonts: the figure's text (test_plot) on a machine without any
    local fdir=/usr/share/fonts/truetype/dejavu
    for n in DejaVuSans.ttf DejaVuSans-Bold.ttf; do
        if [ -r "$fdir/$n" ]; then cp "$fdir/$n" "$tmp/fonts/"
        else echo "gpu-bundle: warning: $fdir/$n missing (fonts-dejavu-core): test_plot may fail there" >&2; fi
    done

    # --- from PyPI (cached in $downloads): the torch-lr-finder wheel, and
    # compute-sanitizer for a machine whose toolkit has none
    mkdir -p "$downloads"
    fetch() { # PKG==VERSION -> the wheel's path, or nothing (offline)
        local want=${1%%==*} ver=${1#*==} w
        w=("$downloads"/"${want//-/_}"-"$ver"-*.whl)
        if [ ${#w[@]} -eq 0 ]; then
            $pip download --quiet --disable-pip-version-check --no-deps -d "$downloads" "$1" >&2 ||
                echo "gpu-bundle: warning: pip download $1 failed" >&2
            w=("$downloads"/"${want//-/_}"-"$ver"-*.whl)
        fi
        echo "${w[0]:-}"
    }
    local wheel="" san_wheel="" san_note=none
    wheel=$(fetch "$finder_pkg")
    if [ -n "$wheel" ]; then cp "$wheel" "$tmp/wheels/"; bb "wheel: ${wheel##*/}"
    else echo "gpu-bundle: warning: no torch-lr-finder wheel: the torch comparison will be skipped" >&2; fi
    if [ -n "$sanitizer_pkg" ]; then
        san_wheel=$(fetch "$sanitizer_pkg")
        if [ -n "$san_wheel" ]; then
            local x="$tmp/tools/x"
            mkdir -p "$x"
            python3 -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
z.extractall(sys.argv[2], [m for m in z.namelist() if m.startswith(("nvidia/cu13/bin/", "nvidia/cu13/lib/"))])' \
                "$san_wheel" "$x"
            # the wheel holds libsanitizer-collection.so twice: one copy, hard-linked
            for f in "$x"/nvidia/cu13/lib/*; do
                [ -f "$x/nvidia/cu13/bin/${f##*/}" ] && cmp -s "$f" "$x/nvidia/cu13/bin/${f##*/}" &&
                    ln -f "$x/nvidia/cu13/bin/${f##*/}" "$f"
            done
            chmod 755 "$x"/nvidia/cu13/bin/compute-sanitizer
            tar -czf "$tmp/tools/compute-sanitizer.tar.gz" -C "$x/nvidia/cu13" bin lib
            rm -rf "$x"
            san_note="tools/compute-sanitizer.tar.gz from ${san_wheel##*/}"
            bb "compute-sanitizer: ${san_wheel##*/}"
        else
            echo "gpu-bundle: warning: no compute-sanitizer wheel: only a machine's own will run" >&2
        fi
    fi

    # --- the C tests travel as one xz tarball: each carries the engine and
    # its CUDA kernels, which xz's window finds again from one to the next
    # (14 MiB -> about 2); gpu_check.sh unpacks them into its work folder
    if command -v xz >/dev/null 2>&1; then
        tar -C "$tmp" -cf - tests | xz -9 -c >"$tmp/tests.tar.xz"
        rm -rf "$tmp/tests"
        bb "tests: packed as tests.tar.xz ($(du -h "$tmp/tests.tar.xz" | cut -f1))"
    fi

    # --- what it is, and the size limit
    local bytes mib
    bytes=$(du -sb "$tmp" | cut -f1)
    {
        echo "lrengine GPU bundle (make gpu-bundle; run: bash gpu_check.sh OUTDIR)"
        echo "format: 1"
        echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-?}") $(uname -m)"
        # (GIT_OPTIONAL_LOCKS=0: status must not rewrite the index)
        echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(
            [ -n "$(GIT_OPTIONAL_LOCKS=0 git status --porcelain --untracked-files=no 2>/dev/null)" ] &&
            echo "-dirty")"
        echo "engine: $("$cli" --version 2>/dev/null | head -n 1)"
        echo "with_cuda: $with_cuda"
        echo "cuda_arch: $arch"
        echo "nvcc: ${nvcc:-none}${nvcc:+ $("$nvcc" --version 2>/dev/null | grep -o 'V[0-9][0-9.]*' | head -n 1)}"
        echo "from_machine: $from_machine"
        echo "glibc_needed: ${glibc:-unknown}"
        echo "glibc_needed_compat: ${glibc_compat:-none} (lib/compat/*: only where the machine lacks them)"
        echo "glibcxx_needed: ${glibcxx:-none}"
        echo "train_rows: $train"
        echo "lua_dir: lua (test_embed looks in ./lua: gpu_check.sh runs tests where ./lua is the bundle's)"
        echo "sanitizer: $san_note"
        echo "torch_lr_finder: ${wheel:+wheels/${wheel##*/}}"
        echo "size_bytes: $bytes"
        echo "files:"
        (cd "$tmp" && find . -type f -printf '%s %p\n' | sort -k2)
    } >"$tmp/MANIFEST.txt"
    mib=$(( (bytes + 1048575) / 1048576 ))
    if [ "$bytes" -gt $((max_mib * 1024 * 1024)) ]; then
        echo "gpu-bundle: $tmp is $mib MiB, over the limit of $max_mib MiB (carry takes 64 MiB)." >&2
        echo "gpu-bundle: the biggest parts:" >&2
        (cd "$tmp" && du -ab . | sort -rn | sed -n '2,9p') >&2
        echo "gpu-bundle: try GPU_BUNDLE_SANITIZER= (no compute-sanitizer, -10 MiB), a smaller" \
             "GPU_BUNDLE_TRAIN, or fewer GPU_BUNDLE_ARCH" >&2
        rm -rf "$tmp"
        exit 1
    fi
    rm -rf "$out"
    mv "$tmp" "$out"
    bb "$out: $mib MiB (limit $max_mib MiB), glibc >= ${glibc:-?} needed"
}

# ============================================================================
# The checks
# ============================================================================
cpu_only=${GPU_CHECK_CPU:-0}
[ "$cpu_only" = 1 ] || cpu_only=0
B=${GPU_BUNDLE:-}
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --make-bundle) shift; make_bundle "$@"; exit $? ;;
        --cpu-only) cpu_only=1; shift ;;
        --bundle) B=${2:?--bundle needs a directory}; shift 2 ;;
        -h|--help) sed -n '2,/^set -uo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *) [ -z "$OUT" ] || die "one OUTDIR only"; OUT=$1; shift ;;
    esac
done
[ -n "$OUT" ] || die "usage: gpu_check.sh [--cpu-only] [--bundle DIR] OUTDIR"
if [ -z "$B" ]; then
    if [ -f "$HERE/MANIFEST.txt" ]; then B=$HERE; else B=$HERE/../build/gpu-bundle; fi
fi
[ -f "$B/MANIFEST.txt" ] || die "no bundle at $B (make gpu-bundle builds build/gpu-bundle)"
B=$(cd "$B" && pwd)
mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
LOG=$OUT/gpu_check.log
: >"$LOG"

T0=$(date +%s%N)
BUDGET=${GPU_CHECK_BUDGET:-330}
TEST_TIMEOUT=${GPU_CHECK_TEST_TIMEOUT:-120}
ms() { echo $(( ($(date +%s%N) - T0) / 1000000 )); }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1000 }'; } # ms ms -> s
stamp() { awk -v m="$(ms)" 'BEGIN { printf "[%6.1fs]", m / 1000 }'; }
say() { printf '%s %s\n' "$(stamp)" "$*" | tee -a "$LOG"; }
note() { printf '%s %s\n' "$(stamp)" "$*" >>"$LOG"; }

# --- JSON, by hand (no jq, no python needed)
jstr() {
    local s
    s=$(printf '%s' "$1" | tr -d '\000-\010\013\014\016-\037')
    s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; s=${s//$'\t'/\\t}; s=${s//$'\r'/}
    printf '"%s"' "$s"
}
jnum() { if [[ ${1:-} =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; then printf '%s' "$1"; else printf null; fi; }
jbool() { if [ "${1:-0}" = 1 ]; then printf true; else printf false; fi; }
FAILURES=()
fail() { FAILURES+=("$1"); say "FAILED: $1"; }

# The work folder: next to the bundle (a /tmp mounted noexec would refuse the
# unpacked libraries), else in $TMPDIR.
WORK=$(mktemp -d "$(dirname "$B")/gpu_check.XXXXXX" 2>/dev/null) ||
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX") || die "no work folder"
mkdir -p "$WORK"/{logs,lib,tmp,run,fccache}
finish() {
    (cd "$WORK" && tar -czf "$OUT/gpu_check_files.tar.gz" logs results 2>/dev/null)
    if [ "${GPU_CHECK_KEEP:-0}" = 1 ]; then note "work folder kept: $WORK"; else rm -rf "$WORK"; fi
}
trap finish EXIT
mkdir -p "$WORK/results"

mf() { sed -n "s/^$1: //p" "$B/MANIFEST.txt" | head -n 1; }
MODE=cuda; [ "$cpu_only" = 1 ] && MODE=cpu-only
say "gpu_check: bundle $B ($(mf git), built $(mf built)); mode $MODE; output $OUT"
say "machine: $(uname -srm), $(hostname 2>/dev/null), $(nproc 2>/dev/null) CPUs; work folder $WORK"
WITH_CUDA=$(mf with_cuda)
if [ "$MODE" = cuda ] && [ "$WITH_CUDA" != 1 ]; then
    fail "the bundle was built without the CUDA backend (with_cuda: $WITH_CUDA)"
fi

# ---------------------------------------------------------------- 1. machine
say "== 1. the machine"
glibc_have=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
glibc_need=$(mf glibc_needed)
glibc_ok=1
if [ -n "$glibc_have" ] && [ -n "$glibc_need" ] && [ "$glibc_need" != unknown ] &&
   [ "$(printf '%s\n%s\n' "$glibc_need" "$glibc_have" | sort -V | head -n 1)" != "$glibc_need" ]; then
    glibc_ok=0
    fail "glibc $glibc_have here, the bundle needs $glibc_need (built on $(mf built | sed 's/.* on //'))"
fi
say "glibc ${glibc_have:-?} (bundle needs ${glibc_need:-?})"

gpu_name="" driver="" cuda_drv="" gpu_mem="" gpu_cc=""
if [ "$MODE" = cuda ]; then
    if command -v nvidia-smi >/dev/null 2>&1; then
        timeout -k 5 30 nvidia-smi >"$WORK/logs/nvidia-smi.txt" 2>&1
        cat "$WORK/logs/nvidia-smi.txt" | tee -a "$LOG"
        IFS=, read -r gpu_name driver gpu_mem gpu_cc < <(timeout -k 5 30 nvidia-smi \
            --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>/dev/null |
            head -n 1 | sed 's/, */,/g')
        cuda_drv=$(grep -o 'CUDA Version: *[0-9.]*' "$WORK/logs/nvidia-smi.txt" | grep -o '[0-9.]*$')
        say "GPU: ${gpu_name:-?}, driver ${driver:-?} (CUDA ${cuda_drv:-?}), ${gpu_mem:-?}, compute capability ${gpu_cc:-?}"
        timeout -k 5 30 nvidia-smi -q >"$WORK/logs/nvidia-smi-q.txt" 2>&1
    else
        say "nvidia-smi: not found"
    fi
fi

# where the machine keeps the CUDA libraries the bundle leaves out
py_lib_dirs() {
    command -v python3 >/dev/null 2>&1 || return 0
    timeout -k 5 30 python3 - <<'EOF' 2>/dev/null
import importlib.util, os
for name in ("nvidia", "torch"):
    try:
        spec = importlib.util.find_spec(name)
    except Exception:
        continue
    for p in (spec.submodule_search_locations or []) if spec else []:
        if name == "torch":
            print(os.path.join(p, "lib"))
        else:
            for d in sorted(os.listdir(p)):
                print(os.path.join(p, d, "lib"))
EOF
}
find_lib() { # SONAME -> a path on this machine, or nothing
    local so=$1 d p ldc
    ldc=$(command -v ldconfig || echo /sbin/ldconfig)
    p=$("$ldc" -p 2>/dev/null | awk -v s="$so" '$1 == s && /x86-64|64bit|AArch64/ { print $NF; exit }')
    [ -n "$p" ] && [ -e "$p" ] && { echo "$p"; return; }
    for d in ${CUDA_HOME:+"$CUDA_HOME/lib64" "$CUDA_HOME/lib"} /usr/local/cuda/lib64 /usr/local/cuda/lib \
             /usr/local/cuda-*/lib64 /usr/local/cuda-*/targets/*/lib /opt/nvidia/*/lib64 \
             $(py_lib_dirs); do
        [ -e "$d/$so" ] && { echo "$d/$so"; return; }
    done
    p=$(timeout -k 5 30 find /usr /opt /root /home /workspace -xdev -name "$so" \
            \( -type f -o -type l \) 2>/dev/null | grep -v "^$B/" | head -n 1)
    [ -n "$p" ] && echo "$p"
}
CUDA_DIRS=""
cublas_path=""
for so in $(mf from_machine); do
    p=$(find_lib "$so")
    if [ -z "$p" ]; then
        fail "$so: not found on this machine (ldconfig, /usr/local/cuda*, Python's nvidia/*/lib and torch/lib, a search of /usr /opt /root /home)"
        continue
    fi
    say "$so: $p ($(readlink -f "$p" | sed 's/.*\///'))"
    [[ $so == libcublas.so* ]] && cublas_path=$p
    case ":$CUDA_DIRS:" in *":$(dirname "$p"):"*) ;; *) CUDA_DIRS=${CUDA_DIRS:+$CUDA_DIRS:}$(dirname "$p") ;; esac
done

# the big libraries travel gzip'ed
for f in "$B"/lib/packed/*.gz; do
    [ -e "$f" ] || continue
    n=${f##*/}; n=${n%.gz}
    gzip -dc "$f" >"$WORK/lib/$n" || fail "cannot unpack $f"
done
LDP=$B/lib:$WORK/lib${CUDA_DIRS:+:$CUDA_DIRS}

# the C tests: tests.tar.xz (the bundle packs them), else tests/
TB=$B/tests
if [ -f "$B/tests.tar.xz" ]; then
    TB=$WORK/tests
    if command -v xz >/dev/null 2>&1; then
        xz -dc "$B/tests.tar.xz" | tar -C "$WORK" -xf - || fail "cannot unpack tests.tar.xz"
    else
        python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
            "$B/tests.tar.xz" "$WORK" || fail "cannot unpack tests.tar.xz (no xz, python3 failed)"
    fi
fi
compat=0

# fonts for the figure: the bundle's, whatever the machine has
cat >"$WORK/fonts.conf" <<EOF
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig><dir>$B/fonts</dir><cachedir>$WORK/fccache</cachedir></fontconfig>
EOF
# test_embed finds the Lua modules in ./lua
ln -s "$B/lua" "$WORK/run/lua"

# Runs a bundle program with the bundle's environment and nothing else:
#   bx SECONDS LOGFILE CMD...   (status 125 when the budget has no room left)
BX_SECS=0
bx() {
    local t=$1 lf=$2 left rc t1
    shift 2
    left=$((BUDGET - $(ms) / 1000 - 5))
    [ "$t" -gt "$left" ] && t=$left
    if [ "$t" -lt 5 ]; then
        echo "not run: the time budget (${BUDGET}s) is spent" >"$lf"
        note "skipped (budget): $*"
        return 125
    fi
    local envv=(PATH="$PATH" HOME="${HOME:-/tmp}" TMPDIR="$WORK/tmp" LANG=C.UTF-8
                LD_LIBRARY_PATH="$LDP" LRENGINE_DATA="$B/data" FONTCONFIG_FILE="$WORK/fonts.conf"
                LRE_TEST_TIMEOUT="$((t > 15 ? t - 10 : t))")
    [ -n "${CUDA_VISIBLE_DEVICES:-}" ] && envv+=(CUDA_VISIBLE_DEVICES="$CUDA_VISIBLE_DEVICES")
    [ -n "${LRE_TEST_DEVICE:-}" ] && envv+=(LRE_TEST_DEVICE="$LRE_TEST_DEVICE")
    t1=$(ms)
    (cd "$WORK/run" && env -i "${envv[@]}" timeout -k 10 "$t" "$@") >"$lf" 2>&1
    rc=$?
    BX_SECS=$(secs "$t1" "$(ms)")
    { echo "\$ $* (LD_LIBRARY_PATH=$LDP)"; cat "$lf"; echo "(exit status $rc, ${BX_SECS}s)"; } >>"$LOG"
    return $rc
}

# lib/compat/NAME (libstdc++, libgcc_s, libexpat): the machine's, unless the
# loader says it is missing or too old
compat_used=""
for _ in 1 2 3 4; do
    bx 60 "$WORK/logs/probe.txt" "$B/bin/lrengine" --version && break
    added=0
    for d in "$B"/lib/compat/*/; do
        d=${d%/}
        [ -d "$d" ] && grep -qF "${d##*/}" "$WORK/logs/probe.txt" || continue
        case ":$LDP:" in *":$d:"*) continue ;; esac
        LDP=$LDP:$d compat=1 added=1 compat_used="$compat_used ${d##*/}"
    done
    [ "$added" = 1 ] || break
done
say "the command: $(head -n 1 "$WORK/logs/probe.txt")"
say "LD_LIBRARY_PATH=$LDP"
[ "$compat" = 1 ] && say "from lib/compat (the machine's are missing or too old):$compat_used"

# every library of every binary from the bundle, libc's or CUDA's
outside=() missing=()
command -v ldd >/dev/null 2>&1 || fail "ldd is missing here: the bundle's libraries were not checked"
for f in "$B"/bin/* "$TB"/* "$B"/bench/*; do
    [ -f "$f" ] || continue
    while read -r name arrow path _; do
        [ "$arrow" = "=>" ] || continue
        if [ "$path" = not ]; then missing+=("${f##*/}: $name"); continue; fi
        case "$path" in "$B"/*|"$WORK"/*) continue ;; esac
        [[ $name =~ $LIBC_RE || $name =~ $CUDA_RE ]] && continue
        [[ $name =~ $COMPAT_RE ]] && continue
        outside+=("${f##*/}: $name => $path")
    done < <(env -i PATH="$PATH" LD_LIBRARY_PATH="$LDP" ldd "$f" 2>&1)
done
env -i PATH="$PATH" LD_LIBRARY_PATH="$LDP" ldd "$B/bin/lrengine" >>"$LOG" 2>&1
if [ ${#missing[@]} -gt 0 ]; then
    fail "libraries not found: $(printf '%s; ' "${missing[@]}" | sort -u | head -c 600)"
fi
if [ ${#outside[@]} -gt 0 ]; then
    fail "libraries from outside the bundle: $(printf '%s\n' "${outside[@]}" | sort -u | head -n 8 | tr '\n' ';')"
else
    say "ldd: every library of bin/, tests/, bench/ is the bundle's, libc's or CUDA's"
fi

# ---------------------------------------------------------------- 2. tests
DEV=cuda; [ "$MODE" = cpu-only ] && DEV=cpu
say "== 2. C tests, LRE_TEST_DEVICE=$DEV"
export LRE_TEST_DEVICE=$DEV
tp=0 tf=0 ts=0 JTESTS=""
for bin in "$TB"/test_*; do
    [ -x "$bin" ] || continue
    name=${bin##*/}
    bx "$TEST_TIMEOUT" "$WORK/logs/$name.txt" bash "$B/scripts/run_tests.sh" --build "$B" --c-only \
        --c-tests "$bin"
    rc=$?
    read -r p f s < <(sed -n 's/^== C tests total: \([0-9]*\) pass, \([0-9]*\) fail, \([0-9]*\) skip$/\1 \2 \3/p' \
                      "$WORK/logs/$name.txt")
    if [ "$rc" -eq 125 ]; then
        p=0 f=0 s=0
        fail "$name: not run (the time budget, ${BUDGET}s, is spent)"
    elif [ -z "${p:-}" ]; then # the runner itself did not finish
        p=0 f=1 s=0
        echo "FAIL $name: the runner did not finish (exit status $rc)" >>"$WORK/logs/$name.txt"
    fi
    tp=$((tp + p)) tf=$((tf + f)) ts=$((ts + s))
    say "$(printf '%-22s %4d pass %3d fail %3d skip  %6ss' "$name" "$p" "$f" "$s" "$BX_SECS")"
    grep -E '^FAIL ' "$WORK/logs/$name.txt" | head -n 15 | sed 's/^/    /' | tee -a "$LOG"
    [ "$f" -gt 0 ] && fail "$name: $f failed"
    JTESTS="$JTESTS${JTESTS:+, }$(jstr "$name"): {\"pass\": $p, \"fail\": $f, \"skip\": $s, \"exit\": $rc, \"seconds\": $BX_SECS}"
    unset p f s
done
unset LRE_TEST_DEVICE
say "C tests ($DEV): $tp passed, $tf failed, $ts skipped"

# ---------------------------------------------------------------- 3. range tests
cat >"$WORK/run/range_test.lua" <<'EOF'
-- gpu_check.sh's range test: the user's sweep (784-256-256-10 ReLU MLP, Adam
-- with weight decay 1e-2, batch 128, exp 1e-7 -> 500, the validation loss at
-- every step) on the bundle's Fashion-MNIST subset, on `--device`'s device;
-- MODEL lenet: the LeNet-style CNN of examples/fashion_mnist_cnn.lua; resnet:
-- the small ResNet of examples/fashion_mnist_resnet.lua (batch norm, residual).
--   lrengine --device D range_test.lua OUT.json NUM_ITER [N_VAL [MODEL]]
--   lrengine range_test.lua --compare A.json B.json
local lre = require "lrengine"
if arg[1] == "--compare" then
  local results = require "lrengine.results"
  local a, b = results.load(arg[2]), results.load(arg[3])
  local n, maxrel, first = math.min(#a.losses, #b.losses), 0, nil
  for i = 1, n do
    local rel = math.abs(a.losses[i] - b.losses[i]) / math.max(math.abs(b.losses[i]), 1e-30)
    if i <= 10 and rel > maxrel then maxrel = rel end
    if not first and not (rel <= 1e-3) then first = i end
  end
  print(string.format("COMPARE max_rel_first10=%.3g first_step_rel_over_1e-3=%s",
    maxrel, first and tostring(first) or "none"))
  return
end
local finder = require "lrengine.finder"
local out, num_iter, n_val = arg[1], math.tointeger(tonumber(arg[2] or "")) or 100,
  math.tointeger(tonumber(arg[3] or ""))
local train = lre.data.fashion_mnist("train"):scale(1 / 255)
local val = lre.data.fashion_mnist("test"):scale(1 / 255)
if n_val then val = val:subset(n_val) end
local nn = lre.nn
local function cb(cin, cout, stride)
  return nn.conv2d(cin, cout, 3, { padding = 1, stride = stride, bias = false }), nn.batch_norm2d(cout)
end
local c1, b1 = cb(8, 8, 1)
local c2, b2 = cb(8, 8, 1)
local c3, b3 = cb(8, 16, 2)
local c4, b4 = cb(16, 16, 1)
local resnet = arg[4] == "resnet" and nn.sequential { -- examples/fashion_mnist_resnet.lua's
  nn.conv2d(1, 8, 3, { padding = 1, bias = false }), nn.batch_norm2d(8), nn.relu(),
  nn.residual { c1, b1, nn.relu(), c2, b2 }, nn.relu(),
  nn.residual { c3, b3, nn.relu(), c4, b4,
    shortcut = { nn.conv2d(8, 16, 1, { stride = 2, bias = false }), nn.batch_norm2d(16) } },
  nn.relu(), nn.adaptive_avg_pool2d(1), nn.flatten(), nn.linear(16, 10),
}
local model = resnet or arg[4] == "lenet" and lre.nn.sequential {
  lre.nn.conv2d(1, 6, 5, { padding = 2 }), lre.nn.relu(), lre.nn.max_pool2d(2),
  lre.nn.conv2d(6, 16, 5), lre.nn.relu(), lre.nn.max_pool2d(2),
  lre.nn.flatten(),
  lre.nn.linear(400, 120), lre.nn.relu(), lre.nn.linear(120, 84), lre.nn.relu(),
  lre.nn.linear(84, 10),
} or lre.nn.sequential {
  lre.nn.linear(784, 256), lre.nn.relu(),
  lre.nn.linear(256, 256), lre.nn.relu(),
  lre.nn.linear(256, 10),
}
local trainer = lre.trainer {
  model = model, data = train, batch_size = 128, seed = 1,
  loss = lre.loss.cross_entropy(),
  optimizer = lre.optim.adam { lr = 1e-7, weight_decay = 1e-2 },
}
local r = finder.range_test {
  trainer = trainer, val = val, start_lr = 1e-7, end_lr = 500, num_iter = num_iter,
  schedule = "exp", suggest = { "steepest", "valley" }, progress = false,
}
r:save_json(out)
local secs = 0
for _, s in ipairs(r.step_seconds) do secs = secs + s end
local function sug(name, field)
  local s = r.suggestions[name]
  return s and s[field] and tostring(s[field]) or "none"
end
local minl = math.huge
for _, l in ipairs(r.smoothed) do if l < minl then minl = l end end
print(string.format("RANGE device=%s steps=%d stop=%s steepest_lr=%s steepest_index=%s " ..
  "valley_lr=%s valley_index=%s first_loss=%.6g min_smoothed=%.6g step_seconds=%.3f",
  tostring(r.device), #r.lrs, tostring(r.stop_reason), sug("steepest", "lr"),
  sug("steepest", "index"), sug("valley", "lr"), sug("valley", "index"), r.losses[1], minl, secs))
EOF
kv() { sed -n "s/^RANGE.* $1=\([^ ]*\).*/\1/p" "$2" | head -n 1; }
declare -A RT=()
range_test() { # DEVICE
    local dev=$1 lf="$WORK/logs/range_$1.txt"
    bx 150 "$lf" "$B/bin/lrengine" --device "$dev" -q "$WORK/run/range_test.lua" \
        "$WORK/results/range_$dev.json" 100
    local rc=$?
    RT[$dev.rc]=$rc RT[$dev.wall]=$BX_SECS
    if [ $rc -ne 0 ] || ! grep -q '^RANGE ' "$lf"; then
        tail -n 5 "$lf" | sed 's/^/    /' | tee -a "$LOG"
        fail "range test on $dev: exit status $rc"
        return 1
    fi
    local k
    for k in device steps stop steepest_lr steepest_index valley_lr valley_index first_loss \
             min_smoothed step_seconds; do RT[$dev.$k]=$(kv "$k" "$lf"); done
    [ "${RT[$dev.device]}" = "$dev" ] || fail "range test on $dev ran on '${RT[$dev.device]}'"
    say "$(printf '%-4s %s steps (%s), steepest %s (step %s), valley %s (step %s), %ss of steps, %ss in all' \
        "$dev" "${RT[$dev.steps]}" "${RT[$dev.stop]}" "${RT[$dev.steepest_lr]}" "${RT[$dev.steepest_index]}" \
        "${RT[$dev.valley_lr]}" "${RT[$dev.valley_index]}" "${RT[$dev.step_seconds]}" "${RT[$dev.wall]}")"
}
say "== 3. range test, 100 steps, $(mf train_rows) training rows, 10000 validation rows"
range_test cpu
agree="" idiff="" cmp_line=""
if [ "$MODE" = cuda ]; then
    range_test cuda
    ic=${RT[cpu.steepest_index]:-} ig=${RT[cuda.steepest_index]:-}
    if [[ $ic =~ ^[0-9]+$ && $ig =~ ^[0-9]+$ ]]; then
        idiff=$((ic > ig ? ic - ig : ig - ic))
        if [ "$idiff" -le 1 ]; then agree=1; else agree=0; fi
        say "steepest: cpu ${RT[cpu.steepest_lr]} (step $ic), cuda ${RT[cuda.steepest_lr]} (step $ig):" \
            "$([ "$agree" = 1 ] && echo "agree" || echo "DISAGREE") ($idiff schedule steps apart)"
        [ "$agree" = 1 ] || fail "steepest suggestions $idiff schedule steps apart (cpu step $ic, cuda step $ig)"
        bx 60 "$WORK/logs/range_compare.txt" "$B/bin/lrengine" -q "$WORK/run/range_test.lua" --compare \
            "$WORK/results/range_cuda.json" "$WORK/results/range_cpu.json"
        cmp_line=$(grep '^COMPARE ' "$WORK/logs/range_compare.txt" | sed 's/^COMPARE //')
        [ -n "$cmp_line" ] && say "loss curves, cuda against cpu: $cmp_line"
        # the CNN (conv2d, max pooling, flatten: im2col + cuBLAS and the
        # pooling kernels in the step's graph), 60 steps on 2000 validation
        # rows: its curves must agree for the first 10 steps (past a loss
        # minimum, training amplifies rounding: compare_torch.py lenet)
        # and the small ResNet (batch norm in train and eval mode, residual
        # blocks, the add kernel), the same way
        for net in lenet resnet; do
            for dev in cpu cuda; do
                bx 150 "$WORK/logs/range_${net}_$dev.txt" "$B/bin/lrengine" --device "$dev" -q \
                    "$WORK/run/range_test.lua" "$WORK/results/range_${net}_$dev.json" 60 2000 \
                    "$net" || fail "$net range test on $dev: exit status $?"
                say "$net $dev: $(grep '^RANGE ' "$WORK/logs/range_${net}_$dev.txt" | sed 's/^RANGE //')"
            done
            bx 60 "$WORK/logs/range_${net}_compare.txt" "$B/bin/lrengine" -q \
                "$WORK/run/range_test.lua" --compare "$WORK/results/range_${net}_cuda.json" \
                "$WORK/results/range_${net}_cpu.json"
            net_cmp=$(grep '^COMPARE ' "$WORK/logs/range_${net}_compare.txt" | sed 's/^COMPARE //')
            say "$net loss curves, cuda against cpu: ${net_cmp:-none}"
            first=$(sed -n 's/.*first_step_rel_over_1e-3=\([0-9a-z]*\).*/\1/p' <<<"$net_cmp")
            if [ -z "$first" ] || { [ "$first" != none ] && [ "$first" -le 10 ]; }; then
                fail "$net: cuda's loss curve departs from the cpu's in the first 10 steps ($net_cmp)"
            fi
        done
    elif [ "${RT[cpu.rc]:-1}" = 0 ] && [ "${RT[cuda.rc]:-1}" = 0 ]; then
        agree=0
        fail "steepest suggestion missing (cpu '${ic:-none}', cuda '${ig:-none}')"
    fi
fi

# ---------------------------------------------------------------- 4. sanitizer
declare -A SAN=()
san_tool="" san_from=""
if [ "$MODE" = cuda ]; then
    say "== 4. compute-sanitizer"
    cands=()
    for c in "$(command -v compute-sanitizer 2>/dev/null)" ${CUDA_HOME:+"$CUDA_HOME/bin/compute-sanitizer"} \
             /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda-*/bin/compute-sanitizer \
             /usr/local/cuda*/compute-sanitizer/compute-sanitizer /opt/nvidia/*/compute-sanitizer/compute-sanitizer \
             $(py_lib_dirs | sed 's,/lib$,/bin/compute-sanitizer,'); do
        [ -n "$c" ] && [ -x "$c" ] || continue
        c=$(readlink -f "$c")
        case " ${cands[*]} " in *" $c "*) ;; *) cands+=("$c") ;; esac
    done
    if [ -f "$B/tools/compute-sanitizer.tar.gz" ]; then
        mkdir -p "$WORK/sanitizer" && tar -xzf "$B/tools/compute-sanitizer.tar.gz" -C "$WORK/sanitizer" &&
            cands+=("$WORK/sanitizer/bin/compute-sanitizer")
    fi
    san_why="not found (no compute-sanitizer on PATH, in /usr/local/cuda*, Python's nvidia/*, nor in the bundle)"
    # One run: sets SAN[$key.status] from its ERROR SUMMARY line
    sanitize() { # KEY TIMEOUT CMD...
        local key=$1 t=$2 lf="$WORK/logs/sanitizer_$1.txt" rc n why
        shift 2
        bx "$t" "$lf" "$san_tool" --tool memcheck --leak-check full --error-exitcode 86 \
            --print-limit 50 "$@"
        rc=$?
        SAN[$key.secs]=$BX_SECS SAN[$key.exit]=$rc
        n=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) error.*/\1/p' "$lf" | tail -n 1)
        if [ -n "$n" ] && [ "$n" -eq 0 ]; then
            SAN[$key.status]=clean
            [ "$rc" -ne 0 ] && SAN[$key.status]="clean (the program itself exited $rc)"
        elif [ -n "$n" ]; then
            SAN[$key.status]="errors ($n)"
        elif [ "$rc" -eq 125 ]; then
            SAN[$key.status]="not run (the time budget is spent)"
        elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            SAN[$key.status]="incomplete (timed out after ${t}s)"
        else
            why=$(grep -iE 'error|unable|fail|not supported|cannot' "$lf" | head -n 1)
            [ -n "$why" ] || why=$(tail -n 1 "$lf")
            SAN[$key.status]="not run (exit status $rc: ${why:-no output})"
        fi
    }
    for c in "${cands[@]}"; do
        san_tool=$c
        san_from=$c
        LRE_TEST_DEVICE=cuda sanitize test_backend_ops 150 "$TB/test_backend_ops"
        case "${SAN[test_backend_ops.status]}" in
            "not run (exit"*) san_why="$c: ${SAN[test_backend_ops.status]#not run (}"; san_why=${san_why%)}
                              say "compute-sanitizer $c does not start: $san_why"; san_tool="" ;;
            *) break ;;
        esac
    done
    if [ -n "$san_tool" ]; then
        say "compute-sanitizer: $san_tool ($("$san_tool" --version 2>/dev/null | grep -o 'Version [^ ]*' | head -n 1))"
        sanitize range 150 "$B/bin/lrengine" --device cuda -q "$WORK/run/range_test.lua" \
            "$WORK/results/range_sanitizer.json" 20 1000
    else
        san_from=""
        SAN[test_backend_ops.status]="not run ($san_why)"
        SAN[range.status]="not run ($san_why)"
    fi
    for k in test_backend_ops range; do
        say "compute-sanitizer: $k: ${SAN[$k.status]}${SAN[$k.secs]:+ (${SAN[$k.secs]}s)}"
        case "${SAN[$k.status]}" in errors*) fail "compute-sanitizer on $k: ${SAN[$k.status]}" ;; esac
    done
    grep -h -A3 -E '^========= (Invalid|Program hit|Leaked|Uninitialized|Race)' \
        "$WORK"/logs/sanitizer_*.txt 2>/dev/null | head -n 30 | tee -a "$LOG"
fi

# ---------------------------------------------------------------- 5. bench_cuda
bench_status="absent" bench_tail="" bench_fig=null
if [ "$MODE" = cuda ]; then
    say "== 5. bench_cuda"
    if [ -x "$B/bench/bench_cuda" ]; then
        bx "${GPU_CHECK_BENCH_TIMEOUT:-120}" "$WORK/logs/bench_cuda.txt" "$B/bench/bench_cuda"
        rc=$?
        bench_status="exit status $rc"
        bench_secs=$BX_SECS
        bench_tail=$(tail -n 40 "$WORK/logs/bench_cuda.txt")
        tail -n 40 "$WORK/logs/bench_cuda.txt"
        # its closing JSON line of figures goes into gpu_check.json as it is
        line=$(grep -E '^[[:space:]]*\{.*\}[[:space:]]*$' "$WORK/logs/bench_cuda.txt" | tail -n 1)
        if [ -n "$line" ] && printf '%s' "$line" | python3 -c 'import json, sys; json.load(sys.stdin)' 2>/dev/null; then
            bench_fig=$line
        elif [ -n "$line" ]; then
            bench_fig=$(jstr "$line")
        fi
        [ $rc -eq 0 ] || fail "bench_cuda: exit status $rc"
    else
        say "bench_cuda: not in this bundle"
    fi
fi

# ---------------------------------------------------------------- 6. torch
torch_status="" torch_info=""
if [ "$MODE" = cuda ]; then
    say "== 6. the PyTorch comparison"
    whl=$(ls "$B"/wheels/torch_lr_finder-*.whl 2>/dev/null | head -n 1)
    if ! command -v python3 >/dev/null 2>&1; then
        torch_status="skipped: no python3"
    elif ! torch_info=$(timeout -k 5 90 python3 -c 'import torch
print(torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1 | tail -n 1) ||
         [[ $torch_info != *available* ]]; then
        torch_status="skipped: import torch failed: $torch_info"
        torch_info=""
    elif [ -z "$whl" ]; then
        torch_status="skipped: no torch-lr-finder wheel in the bundle"
    elif ! timeout -k 5 60 python3 -m pip install --quiet --disable-pip-version-check --no-index --no-deps \
             --target "$WORK/py" "$whl" >"$WORK/logs/pip.txt" 2>&1; then
        torch_status="skipped: the wheel does not install offline: $(tail -n 1 "$WORK/logs/pip.txt")"
    else
        # the same sweep timed on both sides: lrengine's bench_finder.lua on
        # CUDA, torch-lr-finder's range_test on CUDA (scripts/bench_torch_finder.py)
        bx 120 "$WORK/logs/bench_finder_cuda.txt" "$B/bin/lrengine" --device cuda -q \
            "$B/scripts/bench_finder.lua"
        left=$((BUDGET - $(ms) / 1000 - 5))
        if [ "$left" -lt 20 ]; then
            torch_status="not run: the time budget is spent"
        else
            (cd "$WORK/run" && PYTHONPATH="$WORK/py${PYTHONPATH:+:$PYTHONPATH}" \
                timeout -k 5 "$((left < 150 ? left : 150))" python3 "$B/scripts/bench_torch_finder.py" \
                --device cuda --data "$B/data") >"$WORK/logs/bench_torch_finder.txt" 2>&1
            rc=$?
            tail -n 4 "$WORK/logs/bench_finder_cuda.txt" "$WORK/logs/bench_torch_finder.txt" | tee -a "$LOG"
            ours=$(awk '/^with validation set/ {print $4; exit}' "$WORK/logs/bench_finder_cuda.txt")
            theirs=$(awk '/^with validation set/ {print $4; exit}' "$WORK/logs/bench_torch_finder.txt")
            ours_t=$(awk '/^training loss only/ {print $4; exit}' "$WORK/logs/bench_finder_cuda.txt")
            theirs_t=$(awk '/^training loss only/ {print $4; exit}' "$WORK/logs/bench_torch_finder.txt")
            if [ $rc -eq 0 ] && [ -n "$ours" ] && [ -n "$theirs" ]; then
                torch_status=$(awk -v a="$ours" -v b="$theirs" -v c="${ours_t:-0}" -v d="${theirs_t:-0}" \
                    'BEGIN { printf "ran: with the validation set lrengine %.3f s, torch-lr-finder %.3f s (%.1fx); training loss only %.3f s vs %.3f s (%.1fx)", a, b, b / a, c, d, (c > 0 ? d / c : 0) }')
            else
                torch_status="ran: exit status $rc (see bench_torch_finder.txt)"
            fi
        fi
    fi
    say "torch: ${torch_info:+$torch_info; }$torch_status"
fi

# ---------------------------------------------------------------- the record
total_s=$(secs 0 "$(ms)")
rt_json() { # DEVICE
    local d=$1
    [ -n "${RT[$d.rc]:-}" ] || { printf null; return; }
    printf '{"exit": %s, "device": %s, "steps": %s, "stop_reason": %s, "steepest_lr": %s, "steepest_index": %s, "valley_lr": %s, "valley_index": %s, "first_loss": %s, "min_smoothed_loss": %s, "step_seconds": %s, "wall_seconds": %s}' \
        "${RT[$d.rc]}" "$(jstr "${RT[$d.device]:-}")" "$(jnum "${RT[$d.steps]:-}")" "$(jstr "${RT[$d.stop]:-}")" \
        "$(jnum "${RT[$d.steepest_lr]:-}")" "$(jnum "${RT[$d.steepest_index]:-}")" \
        "$(jnum "${RT[$d.valley_lr]:-}")" "$(jnum "${RT[$d.valley_index]:-}")" \
        "$(jnum "${RT[$d.first_loss]:-}")" "$(jnum "${RT[$d.min_smoothed]:-}")" \
        "$(jnum "${RT[$d.step_seconds]:-}")" "$(jnum "${RT[$d.wall]:-}")"
}
san_json() { # KEY
    [ -n "${SAN[$1.status]:-}" ] || { printf null; return; }
    printf '{"status": %s, "exit": %s, "seconds": %s}' "$(jstr "${SAN[$1.status]}")" \
        "$(jnum "${SAN[$1.exit]:-}")" "$(jnum "${SAN[$1.secs]:-}")"
}
fails_json=""
for f in "${FAILURES[@]}"; do fails_json="$fails_json${fails_json:+, }$(jstr "$f")"; done
result=pass; [ ${#FAILURES[@]} -eq 0 ] || result=fail
{
    echo "{"
    echo "  \"result\": $(jstr "$result"),"
    echo "  \"failures\": [$fails_json],"
    echo "  \"mode\": $(jstr "$MODE"),"
    echo "  \"seconds\": $total_s,"
    echo "  \"bundle\": {\"path\": $(jstr "$B"), \"git\": $(jstr "$(mf git)"), \"built\": $(jstr "$(mf built)"), \"with_cuda\": $(jbool "$WITH_CUDA"), \"cuda_arch\": $(jstr "$(mf cuda_arch)"), \"engine\": $(jstr "$(mf engine)")},"
    echo "  \"machine\": {\"uname\": $(jstr "$(uname -srm)"), \"cpus\": $(jnum "$(nproc 2>/dev/null)"), \"glibc\": $(jstr "$glibc_have"), \"glibc_needed\": $(jstr "$glibc_need"), \"glibc_ok\": $(jbool "$glibc_ok"), \"gpu\": $(jstr "$gpu_name"), \"driver\": $(jstr "$driver"), \"driver_cuda\": $(jstr "$cuda_drv"), \"gpu_memory\": $(jstr "$gpu_mem"), \"compute_capability\": $(jstr "$gpu_cc")},"
    echo "  \"libraries\": {\"ld_library_path\": $(jstr "$LDP"), \"cuda_dirs\": $(jstr "$CUDA_DIRS"), \"cublas\": $(jstr "$cublas_path"), \"cublas_file\": $(jstr "$( [ -n "$cublas_path" ] && readlink -f "$cublas_path")"), \"compat_used\": $(jstr "${compat_used# }"), \"outside_bundle\": ${#outside[@]}, \"not_found\": ${#missing[@]}},"
    echo "  \"tests\": {\"device\": $(jstr "$DEV"), \"pass\": $tp, \"fail\": $tf, \"skip\": $ts, \"binaries\": {$JTESTS}},"
    echo "  \"range_test\": {\"num_iter\": 100, \"train_rows\": $(jnum "$(mf train_rows)"), \"val_rows\": 10000, \"cpu\": $(rt_json cpu), \"cuda\": $(rt_json cuda), \"steepest_agree\": $( [ -n "$agree" ] && jbool "$agree" || printf null), \"steepest_index_diff\": $(jnum "$idiff"), \"loss_curves\": $(jstr "$cmp_line")},"
    echo "  \"sanitizer\": {\"tool\": $(jstr "$san_from"), \"test_backend_ops\": $(san_json test_backend_ops), \"range_test_20_steps\": $(san_json range)},"
    echo "  \"bench_cuda\": {\"status\": $(jstr "$bench_status"), \"seconds\": $(jnum "${bench_secs:-}"), \"figures\": $bench_fig, \"output_tail\": $(jstr "$bench_tail")},"
    echo "  \"torch_compare\": {\"torch\": $(jstr "$torch_info"), \"status\": $(jstr "$torch_status")}"
    echo "}"
} >"$OUT/gpu_check.json"
if python3 -c pass >/dev/null 2>&1 && ! python3 -m json.tool "$OUT/gpu_check.json" >/dev/null 2>&1; then
    say "warning: gpu_check.json is not valid JSON (a bug in gpu_check.sh)"
fi

say "== summary ($MODE, ${total_s}s)"
say "tests ($DEV): $tp passed, $tf failed, $ts skipped"
if [ -n "${RT[cpu.rc]:-}" ]; then
    say "range test: cpu steepest ${RT[cpu.steepest_lr]:-?} (step ${RT[cpu.steepest_index]:-?})${RT[cuda.rc]:+, cuda steepest ${RT[cuda.steepest_lr]:-?} (step ${RT[cuda.steepest_index]:-?})}"
fi
[ "$MODE" = cuda ] && say "sanitizer: test_backend_ops ${SAN[test_backend_ops.status]:-?}; range test ${SAN[range.status]:-?}"
[ "$MODE" = cuda ] && say "bench_cuda: $bench_status; torch: $torch_status"
if [ "$result" = pass ]; then
    say "gpu_check: PASS (written: $OUT/gpu_check.log, gpu_check.json, gpu_check_files.tar.gz)"
    exit 0
fi
say "gpu_check: FAIL (${#FAILURES[@]}): $(printf '%s; ' "${FAILURES[@]}")"
exit 1
