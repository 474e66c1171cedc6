#!/usr/bin/env bash
# test_install.sh — `make test-install` (run by `make test`): installs into
# a temporary PREFIX, builds examples/embed.c with `pkg-config --cflags
# --libs lrengine` alone (PKG_CONFIG_PATH pointing at the install), shared
# and with --static, runs both from a folder outside the tree with no
# environment at all (the shared build finds its libraries through the
# rpath the .pc gives a non-system prefix, and the installed library its
# Lua modules by itself), checks lrengine-core.pc, runs the installed
# `lrengine` command, then uninstalls and checks that no file is left.
# Prints "test-install: ok" or the step that failed.
#
#   scripts/test_install.sh MAKE CC [MAKE-ARGS...]
#
# MAKE-ARGS go to make install/uninstall (`make asan` passes BUILD=build-asan
# SAN=1 ...: the sanitizer build installed, its programs built with CC, which
# then carries -fsanitize). LRE_TEST_RUNENV (e.g. the sanitizers' options)
# is the one thing the programs' otherwise empty environment gets.
set -euo pipefail
make_cmd=${1:?usage: test_install.sh MAKE CC [MAKE-ARGS...]}
cc=${2:?usage: test_install.sh MAKE CC [MAKE-ARGS...]}
shift 2
make_args=("$@")
read -r -a ccv <<<"$cc" # a compiler and its flags (the sanitizers' under make asan)
read -r -a runenv <<<"${LRE_TEST_RUNENV:-}"
# a program run with no environment but LRE_TEST_RUNENV
clean_env() { env -i "${runenv[@]}" "$@"; }
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
prefix=$tmp/prefix
trap 'rm -rf "$tmp"' EXIT

fail() { echo "test-install: FAILED: $*" >&2; exit 1; }

"$make_cmd" -C "$root" --no-print-directory "${make_args[@]}" install PREFIX="$prefix" \
    >"$tmp/install.log" 2>&1 ||
    { tail -20 "$tmp/install.log"; fail "make install PREFIX=$prefix"; }
for f in bin/lrengine include/lrengine.h include/lrengine_lua.h lib/liblrengine.a \
         lib/liblrengine_lua.so lib/pkgconfig/lrengine.pc lib/pkgconfig/lrengine-core.pc \
         lib/lua/5.4/lrengine/core.so share/lua/5.4/lrengine/finder.lua \
         share/man/man1/lrengine.1; do
    [ -f "$prefix/$f" ] || fail "$f was not installed"
done

mkdir "$tmp/app"
cd "$tmp/app"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
for kind in shared static; do
    extra=; [ "$kind" = static ] && extra=--static
    # shellcheck disable=SC2086
    flags=$(pkg-config --cflags --libs $extra lrengine) ||
        fail "pkg-config --libs lrengine ($kind)"
    # shellcheck disable=SC2086 # the flags are words
    "${ccv[@]}" -std=c11 -O1 "$root/examples/embed.c" -o "embed-$kind" $flags ||
        fail "building examples/embed.c with pkg-config alone ($kind)"
    clean_env "./embed-$kind" >"$tmp/embed.out" 2>&1 ||
        { cat "$tmp/embed.out"; fail "the embedded finder ($kind)"; }
    grep -q "^suggestion steepest: lr = " "$tmp/embed.out" ||
        { cat "$tmp/embed.out"; fail "no suggestion ($kind)"; }
    tail -n 1 "$tmp/embed.out" | grep -qx "ok" || { cat "$tmp/embed.out"; fail "embed's checks ($kind)"; }
done
# examples/embed/: its own Makefile, pkg-config alone, shared and static
for kind in shared static; do
    rm -rf "$tmp/ex" && cp -r "$root/examples/embed" "$tmp/ex"
    static=; [ "$kind" = static ] && static=STATIC=1
    "$make_cmd" -C "$tmp/ex" --no-print-directory CC="$cc" $static >"$tmp/ex.log" 2>&1 ||
        { cat "$tmp/ex.log" >&2; fail "examples/embed/Makefile ($kind)"; }
    (cd "$tmp/ex" && clean_env ./mlp) >"$tmp/mlp.out" 2>&1 || { cat "$tmp/mlp.out"; fail "mlp ($kind)"; }
    grep -q "^steepest: lr = " "$tmp/mlp.out" && [ -s "$tmp/ex/mlp.png" ] ||
        { cat "$tmp/mlp.out"; fail "mlp's suggestion and figure ($kind)"; }
    (cd "$tmp/ex" && clean_env ./own_model) >"$tmp/own.out" 2>&1 ||
        { cat "$tmp/own.out"; fail "own_model: the suggestion did not train to 85% ($kind)"; }
    grep -q "^accuracy after 5 epochs at that lr: " "$tmp/own.out" || { cat "$tmp/own.out"; fail "own_model's accuracy"; }
    # a callback that reports an error: a clean failure with its message
    set +e
    (cd "$tmp/ex" && clean_env ./own_model --fail-at 7) >"$tmp/fail.out" 2>&1
    code=$?
    set -e
    [ "$code" = 1 ] && grep -q "the step callback failed at step 7" "$tmp/fail.out" &&
        grep -q "back as it was: w = (0, 0), b = 0, 0 steps" "$tmp/fail.out" ||
        { cat "$tmp/fail.out"; fail "a failing callback (exit $code): not a clean failure ($kind)"; }
done
# relocatable: the install moved elsewhere, the compiled-in prefix gone,
# the shared library finds its Lua modules beside itself (dladdr)
mv "$prefix" "$tmp/moved"
clean_env LD_LIBRARY_PATH="$tmp/moved/lib" ./embed-shared >"$tmp/moved.out" 2>&1 ||
    { mv "$tmp/moved" "$prefix"; cat "$tmp/moved.out"; fail "a moved install (dladdr)"; }
mv "$tmp/moved" "$prefix"
tail -n 1 "$tmp/moved.out" | grep -qx "ok" || { cat "$tmp/moved.out"; fail "a moved install's run"; }

# README "Embedding in C": its first C block, built with its one cc line
awk '/^### Embedding in C/ {on = 1} on && /^```c$/ {c = 1; next} c && /^```$/ {exit} c' \
    "$root/README.md" > app.c
[ -s app.c ] || fail "no C block in README's Embedding in C section"
# shellcheck disable=SC2046
"${ccv[@]}" -std=c11 -Wall -Wextra -Werror app.c -o app $(pkg-config --cflags --libs lrengine) ||
    fail "building README's program (with -Wall -Wextra -Werror)"
clean_env ./app >"$tmp/app.out" 2>&1 || { cat "$tmp/app.out"; fail "README's program"; }
grep -q "^steepest: lr = " "$tmp/app.out" && [ -s sweep.png ] ||
    { cat "$tmp/app.out"; fail "README's program: no suggestion or figure"; }

# the shared build loads the installed libraries, not the build tree's
# (ldd's output kept whole: grep -q under pipefail would cut it with SIGPIPE)
deps=$(ldd ./embed-shared)
grep -q "$prefix/lib/liblrengine_lua.so.[0-9]" <<<"$deps" ||
    { echo "$deps"; fail "embed-shared does not load $prefix/lib/liblrengine_lua.so"; }
# the engine alone: no Lua, no cairo
core=$(pkg-config --libs lrengine-core) || fail "pkg-config --libs lrengine-core"
case "$core" in *lua*|*cairo*) fail "lrengine-core.pc brings Lua or cairo: $core" ;; esac
cat > core.c <<'C'
#include <stdio.h>
#include "lrengine.h"
int main(void) { printf("%s\n", lre_version()); return 0; }
C
# shellcheck disable=SC2046
"${ccv[@]}" -std=c11 core.c -o core $(pkg-config --cflags --libs lrengine-core) ||
    fail "building a program of lrengine.h alone with lrengine-core.pc"
clean_env ./core | grep -qx "$(pkg-config --modversion lrengine-core)" || fail "lrengine-core's version"

clean_env "$prefix/bin/lrengine" -q -e '
local lre = require "lrengine"
local finder = require "lrengine.finder"
local rows, labels = {}, {}
for i = 1, 64 do rows[i] = { i % 7, i % 3 }; labels[i] = i % 2 end
local t = lre.trainer { model = lre.nn.sequential { lre.nn.linear(2, 8), lre.nn.relu(),
  lre.nn.linear(8, 2) }, data = lre.data.from_tables(rows, labels), batch_size = 8, seed = 1 }
local r = finder.range_test { trainer = t, num_iter = 20, start_lr = 1e-4, end_lr = 1 }
print(#r.lrs > 0 and "command ok")' >"$tmp/cli.out" 2>&1 || { cat "$tmp/cli.out"; fail "the installed command"; }
grep -qx "command ok" "$tmp/cli.out" || { cat "$tmp/cli.out"; fail "the installed command's run"; }

cd "$root"
"$make_cmd" -C "$root" --no-print-directory "${make_args[@]}" uninstall PREFIX="$prefix" \
    >"$tmp/uninstall.log" 2>&1 ||
    fail "make uninstall"
left=$(find "$prefix" -type f)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "test-install: ok (installed; embed.c and examples/embed/ built with pkg-config alone, shared and --static, run from outside the tree: suggestions, own_model trained to its accuracy, a failing callback a clean failure; a moved install; lrengine-core.pc; the command run; uninstalled clean)"
