#!/usr/bin/env bash
# run_tests.sh — runs lrengine's C tests and busted specs and prints one
# closing line `N passed, N failed` (`, N skipped` when any were skipped).
# Called by `make test`, `make asan` and `make valgrind`; run it from the
# repository root after the build.
#
#   scripts/run_tests.sh [--build DIR] [--c-tests "BIN..."] [--host]
#                        [--valgrind] [--c-only]
#
#   --build DIR  where the binaries are (default build): DIR/tests/test_*,
#                DIR/lrengine, DIR/lib/?.so
#   --c-tests L  the C test binaries to run (the Makefile passes those of
#                the current spec/c/test_*.c, so a stale binary of a deleted
#                test is not run); default: every DIR/tests/test_*
#   --host       run busted inside DIR/lrengine (the engine preloaded,
#                so an instrumented build tests its own code) instead of
#                stock lua5.4
#   --valgrind   run each C test under valgrind (implies --c-only)
#   --c-only     skip the busted specs
#
# Counting:
#   C tests    every `PASS name` line is a pass, every `FAIL name: ...` a
#              failure, every `SKIP name: ...` a skip. A binary that exits
#              non-zero (a crash, a sanitizer report, a timeout) without a
#              FAIL line counts as one failure; one that exits 0 without any
#              PASS/FAIL/SKIP line counts as one failure (a test that checks
#              nothing is a bug).
#   busted     TAP output: `ok` a pass, `ok N - # SKIP` a skip, `not ok` a
#              failure (busted reports errors as `not ok` too). A run that
#              exits non-zero without a `not ok`, or that never prints its
#              closing `1..N` plan (it crashed, or the file did not load),
#              counts as one more failure. Each spec file runs in its own
#              busted process.
#
# Environment: LRE_TEST_TIMEOUT (seconds per test binary and per spec file,
# default 900), LRE_BUSTED (default /usr/bin/busted), LRE_LUA (default
# lua5.4: runs busted without --host, and parses each spec first).
set -uo pipefail

build=build
use_host=0
use_valgrind=0
c_only=0
c_list= c_list_set=0
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build=${2:?--build needs a directory}; shift 2 ;;
        --c-tests) c_list=${2?--c-tests needs a list}; c_list_set=1; shift 2 ;;
        --host) use_host=1; shift ;;
        --valgrind) use_valgrind=1; c_only=1; shift ;;
        --c-only) c_only=1; shift ;;
        *) echo "usage: $0 [--build DIR] [--c-tests LIST] [--host] [--valgrind] [--c-only]" >&2; exit 2 ;;
    esac
done

root=$(pwd)
timeout_s=${LRE_TEST_TIMEOUT:-900}
busted=${LRE_BUSTED:-/usr/bin/busted}
lua=${LRE_LUA:-lua5.4}
export LRENGINE_BIN="$root/$build/lrengine"

passed=0 failed=0 skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

describe_rc() {
    case "$1" in
        124) echo "timed out after ${timeout_s}s" ;;
        13[0-9]|1[4-9][0-9]|2[0-5][0-9])
            echo "killed by signal $(( $1 - 128 )) ($(kill -l $(( $1 - 128 )) 2>/dev/null || echo '?'))" ;;
        *) echo "exit status $1" ;;
    esac
}

# ---- C tests ---------------------------------------------------------------
c_bins=()
if [ "$c_list_set" -eq 1 ]; then
    read -r -a c_bins <<<"$c_list"
else
    for f in "$build"/tests/test_*; do
        [ -f "$f" ] && [ -x "$f" ] && c_bins+=("$f")
    done
fi
echo "== C tests: ${#c_bins[@]} binaries in $build/tests"
for bin in "${c_bins[@]}"; do
    name=${bin##*/}
    echo "-- $name"
    if [ "$use_valgrind" -eq 1 ]; then
        # third-party leaks we cannot fix (each with its proof in the file)
        supp=()
        [ -f "$root/scripts/valgrind.supp" ] && supp=(--suppressions="$root/scripts/valgrind.supp")
        timeout -k 10 "$timeout_s" valgrind -q --error-exitcode=1 "${supp[@]}" \
            --leak-check=full --errors-for-leak-kinds=definite \
            "$bin" >"$log" 2>&1
    else
        timeout -k 10 "$timeout_s" "$bin" >"$log" 2>&1
    fi
    rc=$?
    cat "$log"
    p=$(grep -c '^PASS ' "$log")
    f=$(grep -c '^FAIL ' "$log")
    s=$(grep -c '^SKIP ' "$log")
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: $(describe_rc "$rc") without a FAIL line"
        failed=$((failed + 1))
    elif [ "$rc" -eq 0 ] && [ $((p + f + s)) -eq 0 ]; then
        echo "FAIL $name: exited 0 but printed no PASS/FAIL/SKIP line"
        failed=$((failed + 1))
    fi
done
c_passed=$passed c_failed=$failed c_skipped=$skipped
echo "== C tests total: $c_passed pass, $c_failed fail, $c_skipped skip"

# ---- busted specs ----------------------------------------------------------
if [ "$c_only" -eq 0 ]; then
    specs=()
    for f in spec/*_spec.lua; do
        [ -f "$f" ] && specs+=("$f")
    done
    echo "== busted: ${#specs[@]} spec files"
    if [ "$use_host" -eq 1 ]; then
        runner=("$root/$build/lrengine" "$busted")
    else
        runner=("$lua" "$busted")
    fi
    b_ok=0 b_notok=0 b_skip=0
    # One busted run per file: a spec that does not load (busted's TAP
    # handler itself crashes on a syntax error) or that crashes the process
    # must not hide the results of the others.
    for spec in "${specs[@]}"; do
        echo "-- $spec"
        # Parse it first: busted 2.1's TAP handler crashes on a file that
        # does not compile and hides the compiler's message.
        if ! "$lua" - "$spec" >"$log" 2>&1 <<'EOF'
local f, err = loadfile(arg[1])
if not f then io.stderr:write(err, "\n") os.exit(1) end
EOF
        then
            cat "$log"
            echo "FAIL $spec: does not compile"
            b_notok=$((b_notok + 1))
            continue
        fi
        timeout -k 10 "$timeout_s" "${runner[@]}" -o TAP \
            --lpath="./lua/?.lua;./lua/?/init.lua" \
            --cpath="./$build/lib/?.so" \
            "$spec" </dev/null >"$log" 2>&1
        rc=$?
        cat "$log"
        notok=$(grep -cE '^not ok [0-9]+' "$log")
        skip=$(grep -cE '^ok [0-9]+ - # SKIP' "$log")
        ok=$(( $(grep -cE '^ok [0-9]+' "$log") - skip ))
        if ! grep -qE '^1\.\.[0-9]+$' "$log"; then
            echo "FAIL $spec: busted $(describe_rc "$rc"), it did not finish (no TAP plan line)"
            notok=$((notok + 1))
        elif [ "$rc" -ne 0 ] && [ "$notok" -eq 0 ]; then
            echo "FAIL $spec: busted $(describe_rc "$rc") without a failing test"
            notok=$((notok + 1))
        fi
        b_ok=$((b_ok + ok)) b_notok=$((b_notok + notok)) b_skip=$((b_skip + skip))
    done
    passed=$((passed + b_ok)) failed=$((failed + b_notok)) skipped=$((skipped + b_skip))
    echo "== busted total: $b_ok pass, $b_notok fail, $b_skip skip"
fi

if [ $((passed + failed + skipped)) -eq 0 ]; then
    echo "FAIL: no test ran (no $build/tests/test_* and no spec/*_spec.lua)"
    failed=1
fi

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
