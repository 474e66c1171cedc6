#!/usr/bin/env bash
# test_rock.sh — `make test-rock` (run by `make test`): `luarocks make` of
# lrengine-scm-1.rockspec into a temporary rocks tree, then `require
# "lrengine"` and a small range test from Debian's plain lua5.4 (not the
# `lrengine` command), and the rock's `lrengine` command. Where LuaRocks is
# not installed (Debian's `luarocks` package) it says so and skips.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v luarocks >/dev/null 2>&1; then
    echo "test-rock: SKIP: luarocks is not installed (apt-get install luarocks to run it)"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test-rock: FAILED: $*" >&2; exit 1; }

cd "$root"
luarocks --lua-version 5.4 --tree "$tmp/tree" make lrengine-scm-1.rockspec >"$tmp/make.log" 2>&1 ||
    { tail -30 "$tmp/make.log"; fail "luarocks make"; }
paths=$(luarocks --lua-version 5.4 --tree "$tmp/tree" path) || fail "luarocks path"
cd "$tmp"
env -i bash -c "$paths"'
lua5.4 -e "
local lre = require \"lrengine\"
local finder = require \"lrengine.finder\"
assert(package.searchpath(\"lrengine.core\", package.cpath):find(\"'"$tmp"'/tree\", 1, true),
  \"lrengine.core is not the rock'"'"'s\")
local rows, labels = {}, {}
for i = 1, 64 do rows[i] = { i % 7, i % 3 }; labels[i] = i % 2 end
local t = lre.trainer { model = lre.nn.sequential { lre.nn.linear(2, 8), lre.nn.relu(),
  lre.nn.linear(8, 2) }, data = lre.data.from_tables(rows, labels), batch_size = 8, seed = 1 }
local r = finder.range_test { trainer = t, num_iter = 20, start_lr = 1e-4, end_lr = 1 }
print(#r.lrs > 0 and \"lua5.4 ok\")
"' >"$tmp/lua.out" 2>&1 || { cat "$tmp/lua.out"; fail "require \"lrengine\" from plain lua5.4"; }
grep -qx "lua5.4 ok" "$tmp/lua.out" || { cat "$tmp/lua.out"; fail "the range test from lua5.4"; }
env -i "$tmp/tree/bin/lrengine" -q -e 'print(require("lrengine.finder") ~= nil and "command ok")' \
    >"$tmp/cli.out" 2>&1 || { cat "$tmp/cli.out"; fail "the rock's lrengine command"; }
grep -qx "command ok" "$tmp/cli.out" || { cat "$tmp/cli.out"; fail "the rock's command's modules"; }
echo "test-rock: ok (luarocks make into a temporary tree; require \"lrengine\" and a range test from plain lua5.4; the rock's command)"
