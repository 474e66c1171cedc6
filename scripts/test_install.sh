#!/usr/bin/env bash
# test_install.sh — `make test-install` (run by `make test`): installs into
# a temporary PREFIX, builds examples/embed.c against the installed headers
# and libraries alone (the link line of README "Embedding in C", given by
# the Makefile as $1...), runs it from a folder outside the tree with no
# environment at all (the installed library must find its Lua modules by
# itself), runs the installed `lrengine` command, then uninstalls and checks
# that no file is left. Prints "test-install: ok" or the step that failed.
#
#   scripts/test_install.sh MAKE CC "LINK FLAGS"
set -euo pipefail
make_cmd=${1:?usage: test_install.sh MAKE CC LINKFLAGS}
cc=${2:?usage}
link=${3:?usage}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
prefix=$tmp/prefix
trap 'rm -rf "$tmp"' EXIT

fail() { echo "test-install: FAILED: $*" >&2; exit 1; }

"$make_cmd" -C "$root" --no-print-directory install PREFIX="$prefix" >"$tmp/install.log" 2>&1 ||
    { tail -20 "$tmp/install.log"; fail "make install PREFIX=$prefix"; }
for f in bin/lrengine include/lrengine.h include/lrengine_lua.h lib/liblrengine.a \
         lib/lua/5.4/lrengine/core.so share/lua/5.4/lrengine/finder.lua; do
    [ -f "$prefix/$f" ] || fail "$f was not installed"
done

mkdir "$tmp/app"
cd "$tmp/app"
# shellcheck disable=SC2086 # the link flags are words
"$cc" -std=c11 -O1 "$root/examples/embed.c" -o embed -I"$prefix/include" -L"$prefix/lib" \
    -llrengine_lua -llrengine_plot -llrengine $link ||
    fail "building examples/embed.c against $prefix"
env -i ./embed >"$tmp/embed.out" 2>&1 || { cat "$tmp/embed.out"; fail "the embedded finder"; }
grep -q "^suggestion steepest: lr = " "$tmp/embed.out" || { cat "$tmp/embed.out"; fail "no suggestion"; }
tail -n 1 "$tmp/embed.out" | grep -qx "ok" || { cat "$tmp/embed.out"; fail "embed's checks"; }

env -i "$prefix/bin/lrengine" -q -e '
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
"$make_cmd" -C "$root" --no-print-directory uninstall PREFIX="$prefix" >"$tmp/uninstall.log" 2>&1 ||
    fail "make uninstall"
left=$(find "$prefix" -type f)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "test-install: ok (installed, embedded from outside the tree, the command run, uninstalled clean)"
