-- cli_spec.lua — the `lrengine` command: options, exit statuses, messages,
-- "did you mean", the `arg` table, -e, stdin, the interactive prompt, module
-- paths, SIGINT, suggest's curve options and make's short output. The
-- binary is $LRENGINE_BIN (set by scripts/run_tests.sh), else build/lrengine.

local cmd = require "spec.command"
local shell_quote, absolute, tmpfile, slurp, run = cmd.shell_quote, cmd.absolute, cmd.tmpfile,
  cmd.slurp, cmd.run
local BIN = cmd.BIN
local REPO = absolute(".")

teardown(cmd.cleanup)

describe("lrengine command", function()
  it("--help prints every option and exits 0", function()
    local code, out, err = run("--help")
    assert.are.equal(0, code)
    assert.are.equal("", err)
    assert.truthy(out:find("^usage: lrengine %[options%] %[script %[args%]%]"), out)
    for _, opt in ipairs{ "-e CODE", "--device", "--seed", "--threads", "--quiet", "--help",
                          "--version", "LRENGINE_LUA_PATH", "130", "-i ", "--traceback" } do
      assert.truthy(out:find(opt, 1, true), "usage lacks " .. opt)
    end
    assert.are.equal(0, (run("-h")))
  end)

  it("--version names the engine, Lua and CUDA", function()
    local code, out = run("--version")
    assert.are.equal(0, code)
    assert.truthy(out:match("^lrengine 0%.1%.0 %(Lua 5%.4%.%d+, engine built with%a* CUDA%)\n$"), out)
  end)

  it("an unknown option is a usage error: exit 2, one line and where the help is", function()
    local code, out, err = run("--bogus")
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.are.equal("lrengine: unrecognized option '--bogus'\nsee lrengine --help\n", err)
  end)

  it("a missing or bad option value is a usage error: one line, no usage text", function()
    for _, args in ipairs{ "--seed", "--seed abc", "--seed -1", "--threads", "--threads x",
                           "--device", "--device tpu", "-e" } do
      local code, _, err = run(args)
      assert.are.equal(2, code, args)
      assert.matches("^lrengine: [^\n]+\nsee lrengine %-%-help\n$", err, 1, args)
      assert.is_nil(err:find("usage:", 1, true), args .. ": " .. err)
    end
  end)

  it("a mistyped option gets 'did you mean'", function()
    for args, want in pairs{ ["--thread 2"] = "unrecognized option '--thread' (did you mean '--threads'?)",
                             ["--thread=2"] = "unrecognized option '--thread=2' (did you mean '--threads'?)",
                             ["--sed 3"] = "(did you mean '--seed'?)",
                             ["--precison bf16"] = "(did you mean '--precision'?)",
                             ["--tracebak"] = "(did you mean '--traceback'?)" } do
      local code, out, err = run(args)
      assert.are.equal(2, code, args)
      assert.are.equal("", out)
      assert.truthy(err:find(want, 1, true), args .. ": " .. err)
      assert.truthy(err:find("\nsee lrengine %-%-help\n$"), err)
    end
  end)

  it("a near-miss of a command that is no file is 'unknown command', exit 2", function()
    for args, want in pairs{ ["sugest f.json"] = "unknown command 'sugest' (did you mean 'suggest'?)",
                             ["suggets f.json"] = "(did you mean 'suggest'?)",
                             ["plott f.json"] = "unknown command 'plott' (did you mean 'plot'?)" } do
      local code, out, err = run(args, { prefix = "cd / && " })
      assert.are.equal(2, code, args .. ": " .. err)
      assert.are.equal("", out)
      assert.matches("^lrengine: unknown command '[a-z]+' %(did you mean '[a-z]+'%?%)\n" ..
                     "see lrengine %-%-help\n$", err)
      assert.truthy(err:find(want, 1, true), args .. ": " .. err)
    end
    -- far from every command: still a script that cannot be opened (exit 1)
    local code, _, err = run("/nonexistent/sugest")
    assert.are.equal(1, code)
    assert.truthy(err:find("cannot open /nonexistent/sugest", 1, true), err)
    code, _, err = run("frobnicate", { prefix = "cd / && " })
    assert.are.equal(1, code)
    assert.truthy(err:find("cannot open frobnicate", 1, true), err)
    -- a file by that name is a script
    local dir = tmpfile()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. shell_quote(dir)))
    local f = assert(io.open(dir .. "/sugest", "w"))
    f:write("print('a script named sugest', arg[1])\n")
    f:close()
    local out
    code, out = run("sugest x", { prefix = "cd " .. shell_quote(dir) .. " && " })
    os.remove(dir .. "/sugest")
    os.remove(dir)
    assert.are.equal(0, code)
    assert.are.equal("a script named sugest\tx\n", out)
  end)

  it("a subcommand's mistyped option or name gets 'did you mean' and its own help", function()
    local csv = tmpfile("lr,loss\n1e-4,2\n1e-3,1.5\n1e-2,1\n1e-1,3\n")
    for args, want in pairs{
      ["suggest --smoothng ema " .. csv] =
        "lrengine: suggest: unrecognized option '--smoothng' (did you mean '--smoothing'?)\n" ..
        "see lrengine suggest --help\n",
      ["suggest " .. csv .. " --heuristic valey"] =
        "lrengine: suggest: unknown heuristic 'valey' (did you mean 'valley'?)\n" ..
        "see lrengine suggest --help\n",
      ["suggest " .. csv .. " --jsn"] =
        "lrengine: suggest: unrecognized option '--jsn' (did you mean '--json'?)\n" ..
        "see lrengine suggest --help\n",
      ["suggest " .. csv .. " --smoothing emma"] =
        "lrengine: suggest: unknown smoothing 'emma' (did you mean 'ema'?)\n" ..
        "see lrengine suggest --help\n",
      ["plot " .. csv .. " --widht 300"] =
        "lrengine: plot: unrecognized option '--widht' (did you mean '--width'?)\n" ..
        "see lrengine plot --help\n",
      ["plot " .. csv .. " --heuristic steepst"] =
        "lrengine: plot: unknown heuristic 'steepst' (did you mean 'steepest'?)\n" ..
        "see lrengine plot --help\n",
    } do
      local code, out, err = run(args)
      assert.are.equal(2, code, args)
      assert.are.equal("", out)
      assert.are.equal(want, err)
    end
    -- no near name: the known ones
    local code, _, err = run("suggest " .. csv .. " --heuristic nope")
    assert.are.equal(2, code)
    assert.truthy(err:find("unknown heuristic 'nope' (known: ignite, lightning, ", 1, true), err)
  end)

  it("a mistake in a declarative sweep's table is one line naming the script, exit 1", function()
    local data = "local lre = require 'lrengine'\n" ..
      "local ds = lre.data.from_tables({ { 0, 1 }, { 1, 0 }, { 1, 1 }, { 0, 0 } }, { 0, 1, 1, 0 })\n"
    for body, want in pairs{
      ["num_iter = -3"] = "range_test: num_iter must be an integer >= 1, got -3",
      ["schedule = 'nope'"] = "unknown schedule 'nope'",
      ["batch_size = 0"] = "trainer: option 'batch_size' = 0 must be at least 1",
      ["suggest = { 'nope' }"] = "unknown heuristic 'nope'",
    } do
      local script = tmpfile(data .. "return { data = ds, model = { 2, 2 }, num_iter = 5, "
                             .. "progress = false, output = " .. ("%q"):format(tmpfile()) .. ", "
                             .. body .. " }\n")
      local code, out, err = run("-q " .. shell_quote(script))
      assert.are.equal(1, code, body .. ": " .. err)
      assert.are.equal("", out)
      assert.truthy(err:find("^lrengine: " .. script:gsub("%p", "%%%0") .. ": "), body .. ": " .. err)
      assert.truthy(err:find(want, 1, true), body .. ": " .. err)
      assert.are.equal(1, select(2, err:gsub("\n", "")), body .. ": " .. err)
      assert.is_nil(err:find("lrengine/cli.lua", 1, true), err)
      -- --traceback: the traceback as well
      code, _, err = run("-q --traceback " .. shell_quote(script))
      assert.are.equal(1, code)
      assert.truthy(err:find(want, 1, true), err)
      assert.truthy(err:find("stack traceback:", 1, true), err)
    end
    -- an unknown key: one line, and the nearest known key
    local script = tmpfile(data .. "return { data = ds, model = { 2, 2 }, num_iters = 5 }\n")
    local code, _, err = run(shell_quote(script))
    assert.are.equal(1, code)
    assert.are.equal("lrengine: sweep: unknown key 'num_iters' in the table returned by " ..
                     script .. " (did you mean 'num_iter'?)\n", err)
    -- no key near it: every key is listed
    script = tmpfile(data .. "return { data = ds, model = { 2, 2 }, zzz = 5 }\n")
    code, _, err = run(shell_quote(script))
    assert.are.equal(1, code)
    assert.truthy(err:find("unknown key 'zzz' in the table returned by " .. script ..
                           " (the keys: accumulation_steps, batch_size, ", 1, true), err)
    assert.truthy(err:find(", data, ", 1, true) and err:find(", start_lr, ", 1, true), err)
    -- a wrong value names the values
    for _, case in ipairs {
      { "loss = 'ce'", "unknown loss 'ce' (the losses: 'cross_entropy', 'mse', or an lre.loss" },
      { "activation = 'relux'", "unknown activation 'relux' (the activations: relu, leaky_relu" },
    } do
      local model = case[1]:find("activation") and "{ 2, 2, " .. case[1] .. " }" or "{ 2, 2 }"
      script = tmpfile(data .. "return { data = ds, model = " .. model .. ", "
        .. (case[1]:find("activation") and "" or case[1] .. ", ") .. "num_iter = 5 }\n")
      code, _, err = run(shell_quote(script))
      assert.are.equal(1, code)
      assert.truthy(err:find(case[2], 1, true), err)
    end
  end)

  it("an error in user code called by a sweep keeps its traceback", function()
    local script = tmpfile("local lre = require 'lrengine'\n" ..
      "local ds = lre.data.from_tables({ { 0, 1 }, { 1, 0 }, { 1, 1 }, { 0, 0 } }, { 0, 1, 1, 0 })\n" ..
      "return { data = ds, model = { 2, 2 }, num_iter = 5, progress = false,\n" ..
      "  on_step = function() error('callback broke') end }\n")
    local code, _, err = run("-q " .. shell_quote(script))
    assert.are.equal(1, code)
    assert.truthy(err:find("lrengine: " .. script .. ":4: callback broke", 1, true), err)
    assert.truthy(err:find("stack traceback:", 1, true), err)
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

  it("options after the script belong to the script, as --help says", function()
    local script = tmpfile("print(arg[1], arg[2])\n")
    local code, out = run(shell_quote(script) .. " --bogus --help")
    assert.are.equal(0, code)
    assert.are.equal("--bogus\t--help\n", out)
    local _, help = run("--help")
    assert.truthy(help:find("Everything after the script's name is the script's, options too",
                            1, true), help)
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

  it("no script, stdin not a terminal: runs stdin as one script, no prompt", function()
    local code, out = run("", { stdin = "print('piped')\n" })
    assert.are.equal(0, code)
    assert.are.equal("piped\n", out)
  end)

  it("-i: the prompt, as lua's (expressions print, statements go on, errors do not end it)", function()
    local code, out, err = run("-i", { stdin = "1+1\nx = 1\nfunction f()\n  return x + 41\nend\n" ..
                                               "f()\nerror('oops')\n'after', nil\n" })
    assert.are.equal(0, code, err)
    assert.truthy(out:find("^lrengine 0%.1%.0 %(Lua"), out)
    assert.truthy(out:find("\n> 2\n", 1, true), out)
    assert.truthy(out:find(">> >> > 42\n", 1, true), out)
    assert.truthy(out:find("> after\tnil\n> \n$"), out)
    assert.truthy(err:find("lrengine: stdin:1: oops", 1, true), err)
    -- after the script, in its globals; -q leaves out the banner
    local script = tmpfile("answer = 42\n")
    code, out = run("-q -i " .. shell_quote(script), { stdin = "answer\n" })
    assert.are.equal(0, code)
    assert.are.equal("> 42\n> \n", out)
    -- not with a subcommand
    code, _, err = run("-i suggest x.csv")
    assert.are.equal(2, code)
    assert.truthy(err:find("-i does not go with 'suggest'", 1, true), err)
  end)

  it("no script and a terminal on stdin: the prompt (through a pseudo-terminal)", function()
    local ok = os.execute("command -v script >/dev/null 2>&1")
    if not ok then
      pending("no `script` (util-linux) to give the command a pseudo-terminal; -i is tested above")
      return
    end
    local out = tmpfile()
    local cmd = ("script -qec %s /dev/null <%s >%s 2>&1"):format(shell_quote(shell_quote(BIN)),
      shell_quote(tmpfile("1+1\nprint(io.stdin ~= nil)\n")), shell_quote(out))
    local _, how, code = os.execute("timeout 20 " .. cmd)
    local text = slurp(out)
    assert.are.equal("exit", how)
    assert.are.equal(0, code, text)
    assert.truthy(text:find("lrengine 0%.1%.0 %(Lua"), text)
    assert.truthy(text:find("> 2\r?\n"), text)
    assert.truthy(text:find("> true\r?\n"), text)
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
    cmd.remove_later(mod)
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

describe("lrengine suggest: the curve and the trimming", function()
  -- a curve with a clear dip, some noise and a diverging end
  local lrs, losses = {}, {}
  for i = 1, 60 do
    lrs[i] = 1e-6 * 10 ^ ((i - 1) / 10)
    losses[i] = 2.3 - 1.2 * (math.tanh((i - 30) / 4) + 1) / 2 + 0.15 * math.sin(i * 1.7)
      + (i > 50 and (i - 50) ^ 2 * 0.2 or 0)
  end
  local lines = { "lr,loss" }
  for i = 1, #lrs do lines[#lines + 1] = ("%.17g,%.17g"):format(lrs[i], losses[i]) end
  local CSV = tmpfile(table.concat(lines, "\n") .. "\n")

  -- numpy.gradient(f).argmin() over the whole array, 1-based
  local function np_steepest(f)
    local best, bi
    for i = 1, #f do
      local g = i == 1 and f[2] - f[1] or i == #f and f[i] - f[i - 1] or (f[i + 1] - f[i - 1]) / 2
      if not best or g < best then best, bi = g, i end
    end
    return bi
  end
  local function ema(f)
    local out = { f[1] }
    for i = 2, #f do out[i] = 0.05 * f[i] + 0.95 * out[i - 1] end
    return out
  end
  local function steepest_of(args)
    local code, out, err = run("suggest " .. shell_quote(CSV) .. " --json --heuristic steepest " .. args)
    assert.are.equal(0, code, err)
    local idx = out:match('"index"%s*:%s*(%d+)')
    assert.truthy(idx, out)
    return tonumber(idx)
  end

  it("--smoothing none --skip-start 0 --skip-end 0: numpy.gradient's argmin over the raw curve", function()
    assert.are.equal(np_steepest(losses), steepest_of("--smoothing none --skip-start 0 --skip-end 0"))
  end)

  it("--smoothing ema --skip-start 0 --skip-end 0: the user's note's rule (pytorch-lr-finder's history)", function()
    local want = np_steepest(ema(losses))
    assert.are.equal(want, steepest_of("--smoothing=ema --skip-start=0 --skip-end=0"))
    -- the default trimming (10 and 5) gives another point on this curve
    assert.are_not.equal(np_steepest(losses), want)
  end)

  it("--skip-start/--skip-end reach every heuristic; --smoothing debiased runs", function()
    local code, out, err = run("suggest " .. shell_quote(CSV) .. " --skip-start 55 --skip-end 0")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("skip-start 55, skip-end 0", 1, true), out)
    assert.truthy(out:find("ignite       -", 1, true), out) -- too short after the trimming
    code, out, err = run("suggest " .. shell_quote(CSV) .. " --smoothing debiased")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("debiased-smoothed", 1, true), out)
  end)

  it("bad values are usage errors (exit 2)", function()
    for _, args in ipairs{ "--skip-start x", "--skip-start -1", "--skip-end 1.5", "--skip-end",
                           "--smoothing", "--smoothing spline" } do
      local code, out, err = run("suggest " .. shell_quote(CSV) .. " " .. args)
      assert.are.equal(2, code, args .. ": " .. err)
      assert.are.equal("", out)
      assert.matches("^lrengine: suggest: [^\n]+\nsee lrengine suggest %-%-help\n$", err)
    end
    local _, help = run("suggest --help")
    for _, opt in ipairs{ "--smoothing", "--skip-start", "--skip-end" } do
      assert.truthy(help:find(opt, 1, true), help)
    end
  end)
end)

describe("make", function()
  -- a build of two targets in a fresh directory, outside any make that runs
  -- this spec
  local function make(args)
    local out = tmpfile()
    local cmd = ("env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make --no-print-directory -C %s CUDA=0 %s >%s 2>&1")
      :format(shell_quote(REPO), args, shell_quote(out))
    local _, _, code = os.execute(cmd)
    return code, slurp(out)
  end

  it("prints one short line per step; V=1 the commands", function()
    if not os.execute("command -v make >/dev/null 2>&1") or
       not io.open(REPO .. "/engine/cli/main.c", "r") then
      pending("no make or no sources here")
      return
    end
    local dir = tmpfile()
    os.remove(dir)
    local code, out = make(("BUILD=%s %s/liblrengine_lua.a %s/obj/engine/cli/main.o")
      :format(shell_quote(dir), shell_quote(dir), shell_quote(dir)))
    assert.are.equal(0, code, out)
    assert.truthy(out:find("\nCC   engine/lua/lua_core.c\n", 1, true), out)
    assert.truthy(out:find("\nCC   engine/cli/main.c\n", 1, true), out)
    assert.truthy(out:find("\nAR   " .. dir .. "/liblrengine_lua.a\n", 1, true), out)
    for line in out:gmatch("[^\n]*") do
      assert.is_nil(line:find("-std=c11", 1, true), out)
    end
    assert.is_nil(out:find("\n%s*\n"), "a blank line:\n" .. out)
    code, out = make(("BUILD=%s V=1 -B %s/obj/engine/cli/main.o"):format(shell_quote(dir), shell_quote(dir)))
    assert.are.equal(0, code, out)
    assert.truthy(out:find("-std=c11 -Wall -Wextra -Werror", 1, true), out)
    assert.truthy(out:find("-c engine/cli/main.c -o " .. dir .. "/obj/engine/cli/main.o", 1, true), out)
    assert.is_nil(out:find("\nCC   ", 1, true), out)
    os.execute("rm -rf " .. shell_quote(dir))
  end)
end)

describe("lrengine plot --delta", function()
  it("draws central differences when asked and refuses another word", function()
    local json = tmpfile()
    local png = tmpfile() .. ".png"
    local code, _, err = run("-e " .. shell_quote(([[
local r = require("lrengine.results").new{ lrs = { 1e-4, 1e-3, 1e-2, 1e-1, 1 },
  losses = { 2.3, 2.2, 1.9, 1.5, 3 } }
r:save_json(%q)
]]):format(json)))
    assert.are.equal(0, code, err)
    code, _, err = run("plot " .. shell_quote(json) .. " -o " .. shell_quote(png) .. " --delta central")
    assert.are.equal(0, code, err)
    assert.truthy(io.open(png, "rb"), "no figure written")
    os.remove(png)
    code, _, err = run("plot " .. shell_quote(json) .. " -o " .. shell_quote(png) .. " --delta sideways")
    assert.are.equal(2, code, err)
    assert.truthy(err:find("delta", 1, true), err)
  end)
end)
