-- cli_spec.lua — the `lrengine` command: options, exit statuses, messages,
-- the `arg` table, -e, stdin, module paths and SIGINT. The binary is
-- $LRENGINE_BIN (set by scripts/run_tests.sh), else build/lrengine.

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  local p = assert(io.popen("pwd"))
  local dir = p:read("l")
  p:close()
  return dir .. "/" .. path
end

local BIN = absolute(os.getenv("LRENGINE_BIN") or "build/lrengine")
local REPO = absolute(".")

local tmpfiles = {}
local function tmpfile(content)
  local path = os.tmpname()
  tmpfiles[#tmpfiles + 1] = path
  if content then
    local f = assert(io.open(path, "w"))
    f:write(content)
    f:close()
  end
  return path
end

local function slurp(path)
  local f = assert(io.open(path, "r"))
  local s = f:read("a")
  f:close()
  return s
end

-- Runs `BIN args` through sh (args already quoted as needed); returns the
-- exit status, stdout and stderr.
local function run(args, opts)
  opts = opts or {}
  local out, err = tmpfile(), tmpfile()
  local cmd = ("%s%s %s >%s 2>%s"):format(opts.prefix or "", shell_quote(BIN), args,
                                          shell_quote(out), shell_quote(err))
  if opts.stdin then cmd = cmd .. " <" .. shell_quote(tmpfile(opts.stdin)) end
  local _, how, code = os.execute(cmd)
  assert.are.equal("exit", how, "the command was killed by a signal: " .. cmd)
  return code, slurp(out), slurp(err)
end

teardown(function()
  for _, p in ipairs(tmpfiles) do os.remove(p) end
end)

describe("lrengine command", function()
  it("--help prints every option and exits 0", function()
    local code, out, err = run("--help")
    assert.are.equal(0, code)
    assert.are.equal("", err)
    assert.truthy(out:find("^usage: lrengine %[options%] %[script %[args%]%]"), out)
    for _, opt in ipairs{ "-e CODE", "--device", "--seed", "--threads", "--quiet", "--help",
                          "--version", "LRENGINE_LUA_PATH", "130" } do
      assert.truthy(out:find(opt, 1, true), "usage lacks " .. opt)
    end
    assert.are.equal(0, (run("-h")))
  end)

  it("--version names the engine, Lua and CUDA", function()
    local code, out = run("--version")
    assert.are.equal(0, code)
    assert.truthy(out:match("^lrengine 0%.1%.0 %(Lua 5%.4%.%d+, engine built with%a* CUDA%)\n$"), out)
  end)

  it("an unknown option is a usage error: exit 2, usage on stderr", function()
    local code, out, err = run("--bogus")
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.truthy(err:find("lrengine: unrecognized option '--bogus'", 1, true), err)
    assert.truthy(err:find("usage: lrengine", 1, true), err)
  end)

  it("a missing or bad option value is a usage error", function()
    for _, args in ipairs{ "--seed", "--seed abc", "--seed -1", "--threads", "--threads x",
                           "--device", "--device tpu", "-e" } do
      local code, _, err = run(args)
      assert.are.equal(2, code, args)
      assert.truthy(err:find("usage:", 1, true), args .. ": " .. err)
    end
  end)

  it("a Lua error exits 1 with file:line and a traceback", function()
    local script = tmpfile("local x = 1\nerror('boom')\n")
    local code, _, err = run(shell_quote(script))
    assert.are.equal(1, code)
    assert.truthy(err:find("lrengine: " .. script .. ":2: boom", 1, true), err)
    assert.truthy(err:find("stack traceback:", 1, true), err)
  end)

  it("an engine error in a script names the script's line", function()
    local script = tmpfile([[
local lre = require "lrengine"
local ds = lre.data.from_tables({ { 1, 2 }, { 3, "x" } }, { 0, 1 })
]])
    local code, _, err = run(shell_quote(script))
    assert.are.equal(1, code)
    assert.truthy(err:find(script .. ":2: from_tables: rows[2][2] is a string, expected a number",
                           1, true), err)
  end)

  it("a missing script or a syntax error exits 1", function()
    local code, _, err = run("/nonexistent/script.lua")
    assert.are.equal(1, code)
    assert.truthy(err:find("cannot open /nonexistent/script.lua", 1, true), err)
    code, _, err = run(shell_quote(tmpfile("x = = 1\n")))
    assert.are.equal(1, code)
    assert.truthy(err:find("unexpected symbol", 1, true), err)
  end)

  it("sets arg and ... as lua does", function()
    local script = tmpfile([[
print(#arg, arg[0], arg[1], arg[2], arg[-1], arg[-2], arg[-3] ~= nil, arg[-4])
print(select("#", ...), ...)
]])
    local code, out = run("--seed 7 " .. shell_quote(script) .. " a 'b c'")
    assert.are.equal(0, code)
    assert.are.equal(("2\t%s\ta\tb c\t7\t--seed\ttrue\tnil\n2\ta\tb c\n"):format(script), out)
  end)

  it("options after the script belong to the script", function()
    local script = tmpfile("print(arg[1], arg[2])\n")
    local code, out = run(shell_quote(script) .. " --bogus --help")
    assert.are.equal(0, code)
    assert.are.equal("--bogus\t--help\n", out)
  end)

  it("-e runs code, in order, before the script", function()
    local code, out = run("-e 'print(1 + 1)' -e 'x = 40'")
    assert.are.equal(0, code)
    assert.are.equal("2\n", out)
    local script = tmpfile("print(x + 2)\n")
    code, out = run("-e 'x = 40' " .. shell_quote(script))
    assert.are.equal(0, code)
    assert.are.equal("42\n", out)
    local err
    code, _, err = run("-e 'error(\"bad\")'")
    assert.are.equal(1, code)
    assert.truthy(err:find("lrengine: (command line):1: bad", 1, true), err)
  end)

  it("- runs the script from stdin", function()
    local code, out = run("- x", { stdin = "print('stdin', arg[1])\n" })
    assert.are.equal(0, code)
    assert.are.equal("stdin\tx\n", out)
  end)

  it("hands its options to scripts", function()
    local code, out = run("--seed 7 --threads 1 --quiet -e " .. shell_quote(
      "local o = require('lrengine').options() print(o.device, o.seed, o.threads, o.quiet, o.host)"))
    assert.are.equal(0, code)
    assert.are.equal("cpu\t7\t1\ttrue\ttrue\n", out)
    code, out = run("--device=cpu --seed=3 -e " .. shell_quote(
      "local o = require('lrengine').options() print(o.device, o.seed, o.quiet)"))
    assert.are.equal(0, code)
    assert.are.equal("cpu\t3\tfalse\n", out)
  end)

  it("--device cuda without a usable GPU (or without CUDA) is one line and exit 1, before the script", function()
    -- where a GPU is there the script runs: then it must print its line
    local code, out, err = run("--device cuda -e " .. shell_quote("print('ran')"))
    if code == 0 then
      assert.are.equal("ran\n", out)
      return
    end
    assert.are.equal(1, code)
    assert.are.equal("", out)
    local lines = select(2, err:gsub("\n", ""))
    assert.are.equal(1, lines, err)
    assert.matches("^lrengine: %-%-device cuda: ", err)
    assert.truthy(err:find("not compiled into this build", 1, true) or err:find("cuda: ", 1, true), err)
  end)

  it("lre.configure{device = 'cuda'} says at the call when the device cannot be had", function()
    local code, out, err = run("-e " .. shell_quote(
      "local lre = require 'lrengine' local ok, e = pcall(lre.configure, { device = 'cuda' }) " ..
      "print(ok, e)"))
    assert.are.equal(0, code, err)
    if out:match("^true") then return end -- a GPU is there
    -- a build with the CUDA backend but no GPU, or a build without it
    assert.truthy(out:match("^false\t.*configure: device 'cuda' is not available: ")
                  or out:match("^false\t.*device 'cuda' is not compiled into this build"), out)
  end)

  it("--seed is the default seed of trainers", function()
    local script = tmpfile([[
local lre = require "lrengine"
local ds = lre.data.from_tables({ { 0, 1 }, { 1, 0 }, { 1, 1 }, { 0, 0 } }, { 0, 1, 1, 0 })
local m = lre.nn.sequential{ lre.nn.linear(2, 4), lre.nn.relu(), lre.nn.linear(4, 2) }
local t = lre.trainer{ model = m, data = ds, batch_size = 2 }
print(t:seed(), ("%.9g"):format(t:step(0.1)))
]])
    local _, a = run("--seed 5 " .. shell_quote(script))
    local _, b = run("--seed 5 " .. shell_quote(script))
    local _, c = run("--seed 6 " .. shell_quote(script))
    assert.truthy(a:find("^5\t"), a)
    assert.are.equal(a, b)
    assert.are_not.equal(a:match("\t(.*)"), c:match("\t(.*)"))
  end)

  it("finds the lrengine modules from any directory", function()
    local code, out, err = run("-e " .. shell_quote("print(require('lrengine').version)"),
                               { prefix = "cd / && " })
    assert.are.equal(0, code, err)
    assert.are.equal("0.1.0\n", out)
  end)

  it("searches LRENGINE_LUA_PATH first", function()
    local dir = tmpfile()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. shell_quote(dir)))
    local mod = dir .. "/lre_spec_probe.lua"
    local f = assert(io.open(mod, "w"))
    f:write("return 'probe'\n")
    f:close()
    tmpfiles[#tmpfiles + 1] = mod
    local code, out = run("-e " .. shell_quote("print((require 'lre_spec_probe'))"),
                          { prefix = "LRENGINE_LUA_PATH=" .. shell_quote(dir) .. " " })
    assert.are.equal(0, code)
    assert.are.equal("probe\n", out)
    os.remove(mod)
    os.remove(dir)
  end)

  it("runs busted", function()
    local code, out = run("/usr/bin/busted --version")
    assert.are.equal(0, code)
    assert.truthy(out:match("^%d+%.%d+"), out)
  end)

  it("SIGINT raises 'interrupted!' in the script, then exits 130", function()
    -- the script says when it is in its loop (a start-up that loads the
    -- CUDA libraries can take longer than any fixed delay)
    local ready = tmpfile()
    local script = tmpfile(([[
local ok, err = pcall(function()
  local f = assert(io.open(%q, "w")) f:write("ready") f:close()
  local t0 = os.clock()
  while os.clock() - t0 < 20 do end
end)
io.stderr:write("caught: ", tostring(err), "\n")
error(err, 0)
]]):format(ready))
    local out, err = tmpfile(), tmpfile()
    local cmd = ("%s %s >%s 2>%s & pid=$!; i=0; while [ ! -s %s ] && [ $i -lt 400 ]; do "
      .. "sleep 0.05; i=$((i+1)); done; sleep 0.1; kill -INT $pid; wait $pid; exit $?")
      :format(shell_quote(BIN), shell_quote(script), shell_quote(out), shell_quote(err),
              shell_quote(ready))
    local _, _, code = os.execute(cmd)
    local msg = slurp(err)
    assert.are.equal(130, code, msg)
    assert.truthy(msg:find("caught: " .. script .. ":4: interrupted!", 1, true), msg)
    assert.truthy(msg:find("lrengine: " .. script .. ":4: interrupted!", 1, true), msg)
  end)

  it("runs the spirals example to a falling loss", function()
    local code, out, err = run(shell_quote(REPO .. "/examples/spirals.lua") .. " 300")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("accuracy", 1, true), out)
  end)
end)
