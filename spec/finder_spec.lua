-- The range-test driver: curves, stopping, state restoration, repeats,
-- results on disk, and the command's sweep and suggest modes.
local lre = require "lrengine"
local finder = require "lrengine.finder"
local results = require "lrengine.results"

local BIN = os.getenv("LRENGINE_BIN") or "build/lrengine"

-- Three separable blobs in 3-D: a curve that falls, then blows up.
local blobs = require "spec.blobs"

local function setup(seed, opt)
  local ds = blobs(600, 7)
  local train, val = ds:split(0.8, 1)
  local model = lre.nn.sequential { lre.nn.linear(3, 32), lre.nn.relu(), lre.nn.linear(32, 3) }
  local t = lre.trainer { model = model, data = train, batch_size = 32, seed = seed or 1,
    optimizer = opt or lre.optim.adam { weight_decay = 1e-2 } }
  return t, val, train
end

local function tmpname(ext)
  local p = os.tmpname()
  os.remove(p)
  return p .. ext
end

-- The next k losses of a trainer (to compare two trainers' futures).
local function future(t, k)
  local out = {}
  for i = 1, k do out[i] = t:step(1e-3) end
  return out
end

describe("range_test", function()
  it("records lr, train and validation losses step by step on the exp schedule", function()
    local t, val = setup()
    local r = finder.range_test { trainer = t, val = val, start_lr = 1e-6, end_lr = 1,
      num_iter = 30, diverge_th = false, suggest = { "steepest" } }
    assert.are.equal(30, #r.lrs)
    assert.are.equal("completed", r.stop_reason)
    assert.are.equal(1e-6, r.lrs[1])
    assert.are.equal(1, r.lrs[30])
    assert.are.equal(30, #r.train_losses)
    assert.are.equal(30, #r.val_losses)
    assert.are.equal("val", r.curve)
    for i = 1, 30 do
      assert.are.equal(r.val_losses[i], r.losses[i])
      assert.is_true(r.step_seconds[i] >= 0)
    end
    -- the smoothed curve is pytorch-lr-finder's EMA of the driving loss
    local S = require "lrengine.smoothing"
    local ema = S.ema(r.losses, 0.05)
    for i = 1, 30 do assert.are.equal(ema[i], r.smoothed[i]) end
  end)

  it("drives the test with the training loss when asked", function()
    local t, val = setup()
    local r = finder.range_test { trainer = t, val = val, curve = "train", num_iter = 10,
      start_lr = 1e-5, end_lr = 1e-3 }
    for i = 1, #r.lrs do assert.are.equal(r.train_losses[i], r.losses[i]) end
    assert.are.equal("train", r.curve)
  end)

  it("stops when the smoothed loss diverges and keeps the diverging point", function()
    local t, val = setup()
    local r = finder.range_test { trainer = t, val = val, start_lr = 1e-5, end_lr = 1e4,
      num_iter = 100 }
    assert.are.equal("diverged", r.stop_reason)
    local n = #r.lrs
    assert.is_true(n < 100)
    local best = math.huge
    for i = 1, n - 1 do best = math.min(best, r.smoothed[i]) end
    assert.is_true(r.smoothed[n] > 5 * best)
    for i = 1, n - 1 do
      local b = math.huge
      for j = 1, i do b = math.min(b, r.smoothed[j]) end
      assert.is_false(r.smoothed[i] > 5 * b)
    end
    assert.is_truthy(r.suggestions.steepest.lr)
  end)

  it("stops at a non-finite loss, records it, and restores the trainer", function()
    local t, val = setup(1, lre.optim.sgd {})
    local before = t:evaluate(val)
    local r = finder.range_test { trainer = t, val = val, start_lr = 1, end_lr = 1e30,
      num_iter = 60, diverge_th = false, smoothing = "none" }
    assert.are.equal("non_finite", r.stop_reason)
    local last = r.losses[#r.losses]
    assert.is_true(last ~= last or last == math.huge)
    assert.are.equal(before, t:evaluate(val))
    assert.are.equal(0, t:steps())
  end)

  it("leaves a trainer in the middle of training exactly as it was", function()
    local a, val = setup(5)
    local b = setup(5)
    future(a, 20)
    future(b, 20)
    finder.range_test { trainer = a, val = val, num_iter = 40, start_lr = 1e-5, end_lr = 10 }
    assert.are.equal(20, a:steps())
    assert.are.same(future(b, 15), future(a, 15))
  end)

  it("keeps the final state with keep_state = true", function()
    local t, val = setup()
    finder.range_test { trainer = t, val = val, num_iter = 12, keep_state = true,
      start_lr = 1e-5, end_lr = 1e-3 }
    assert.are.equal(12, t:steps())
  end)

  it("restores the trainer when a callback raises an error, and re-raises it", function()
    local t, val = setup()
    local twin = setup()
    local ok, err = pcall(finder.range_test, { trainer = t, val = val, num_iter = 30,
      on_step = function(s) if s.step == 7 then error("boom at 7") end end })
    assert.is_false(ok)
    assert.matches("boom at 7", err)
    assert.are.equal(0, t:steps())
    assert.are.same(future(twin, 5), future(t, 5))
  end)

  it("restores the trainer when interrupted (the host's 'interrupted!' error)", function()
    local t, val = setup()
    local twin = setup()
    local saved = tmpname(".json")
    local ok, err = pcall(finder.range_test, { trainer = t, val = val, num_iter = 30, save = saved,
      on_step = function(s) if s.step == 3 then error("interrupted!") end end })
    assert.is_false(ok)
    assert.matches("^interrupted at step 3/30; trainer restored", tostring(err))
    assert.matches("interrupted!", err.cause)
    assert.are.equal(3, #err.result.lrs)
    os.remove(saved)
    assert.are.same(future(twin, 5), future(t, 5))
  end)

  it("accepts custom schedules, stopping rules and heuristics", function()
    local t, val = setup()
    local r = finder.range_test { trainer = t, val = val, num_iter = 20,
      schedule = function(step, n, s, e) return s + (e - s) * (step - 1) / (n - 1) end,
      start_lr = 1e-4, end_lr = 1e-2,
      stop = function(state) return state.step == 9, "nine" end,
      suggest = { "steepest", function(lrs, losses) return lrs[2], 2 end } }
    assert.are.equal(9, #r.lrs)
    assert.are.equal("nine", r.stop_reason)
    assert.are.equal(1e-4 + (1e-2 - 1e-4) * 1 / 19, r.lrs[2])
    assert.are.equal(r.lrs[2], r.suggestions.custom2.lr)
    assert.is_nil(r.suggestions.steepest.lr) -- 9 points: too short after trimming
    assert.is_string(r.suggestions.steepest.reason)
  end)

  it("rejects bad options with a clear message", function()
    local t, val = setup()
    local function msg(o)
      local ok, err = pcall(finder.range_test, o)
      assert.is_false(ok)
      return err
    end
    assert.matches("unknown option 'num_iters'", msg { trainer = t, num_iters = 3 })
    assert.matches("'trainer' is required", msg { num_iter = 3 })
    assert.matches("start_lr", msg { trainer = t, start_lr = -1 })
    assert.matches("num_iter", msg { trainer = t, num_iter = 0 })
    assert.matches("unknown heuristic 'vally'", msg { trainer = t, suggest = { "vally" } })
    assert.matches("unknown schedule", msg { trainer = t, schedule = "cosine" })
    assert.matches("needs a validation set", msg { trainer = t, curve = "val" })
    assert.matches("smooth_f", msg { trainer = t, val = val, smooth_f = 2 })
    assert.are.equal(0, t:steps())
  end)

  it("refuses bad callbacks, seeds and a falling sweep before any step", function()
    local t = setup()
    local function msg(o)
      local ok, err = pcall(finder.range_test, o)
      assert.is_false(ok)
      return err
    end
    assert.matches("on_step must be a function", msg { trainer = t, on_step = 5 })
    assert.matches("progress must be a boolean or a function", msg { trainer = t, progress = "yes" })
    assert.matches("seed must be an integer >= 0", msg { trainer = t, seed = "x" })
    assert.matches("end_lr %(0.1%) must be larger than start_lr %(1%)",
      msg { trainer = t, start_lr = 1, end_lr = 0.1 })
    assert.are.equal(0, t:steps())
  end)

  it("runs with the batch order of `seed` when given, and records the seed used", function()
    local a, val = setup(1)
    local c = setup(1)
    local d = setup(1)
    local ra = finder.range_test { trainer = a, val = val, num_iter = 15, seed = 42 }
    local rc = finder.range_test { trainer = c, val = val, num_iter = 15, seed = 42 }
    local rd = finder.range_test { trainer = d, val = val, num_iter = 15 }
    assert.are.equal(42, ra.seed)
    assert.are.equal(1, rd.seed)
    assert.are.same(ra.train_losses, rc.train_losses)
    assert.are_not.same(ra.train_losses, rd.train_losses) -- another batch order
    -- the trainer's own order is back afterwards
    local twin = setup(1)
    assert.are.same(future(twin, 5), future(a, 5))
  end)

  it("repeats with different batch orders and reports median and spread", function()
    local t, val = setup()
    local r = finder.range_test { trainer = t, val = val, start_lr = 1e-5, end_lr = 10,
      num_iter = 60, repeats = 3, suggest = { "steepest", "valley" } }
    assert.are.equal(3, #r.runs)
    local v = r.repeats.valley
    assert.are.equal(3, #v.lrs)
    assert.is_true(v.min <= v.median and v.median <= v.max)
    assert.are.equal(math.log(v.max / v.min, 10), v.spread_decades)
    -- the runs saw different batches, so their curves differ
    assert.are_not.same(r.runs[1].losses, r.runs[2].losses)
    -- run 1 is the plain test from the trainer's own state
    local t2 = setup()
    local plain = finder.range_test { trainer = t2, val = val, start_lr = 1e-5, end_lr = 10,
      num_iter = 60, suggest = { "steepest", "valley" } }
    assert.are.same(plain.losses, r.runs[1].losses)
    assert.are.equal(0, t:steps())
  end)

  it("is reproducible: the same seed gives the same curve bit for bit", function()
    local a, val = setup(3)
    local b = setup(3)
    local ra = finder.range_test { trainer = a, val = val, num_iter = 40 }
    local rb = finder.range_test { trainer = b, val = val, num_iter = 40 }
    assert.are.same(ra.losses, rb.losses)
    assert.are.same(ra.train_losses, rb.train_losses)
  end)
end)

-- A trainer of our own whose loss follows `curve` step by step (restored
-- by the test like the engine's).
local function scripted(curve)
  local k = 0
  return { step = function() k = k + 1 return curve[k] or curve[#curve] end,
    snapshot = function() return k end, restore = function(_, s) k = s end }
end

describe("range_test options of named plug-ins", function()
  -- falls to 1, then climbs: 2x the best at step 8, 3x at step 9, 6x at step 10
  local CURVE = { 5, 4, 3, 2, 1, 1.2, 1.5, 2.1, 3.1, 6, 7, 8 }

  it("passes stop_opts to the named stopping rules of `stop`", function()
    local base = { num_iter = #CURVE, smoothing = "none", diverge_th = false, stop = { "divergence" } }
    local function with(extra)
      local o = {}
      for k, v in pairs(base) do o[k] = v end
      for k, v in pairs(extra) do o[k] = v end
      o.trainer = scripted(CURVE)
      return finder.range_test(o)
    end
    local r5 = with {}
    assert.are.equal(10, #r5.lrs) -- the default threshold, 5
    assert.are.equal("diverged", r5.stop_reason)
    local r2 = with { stop_opts = { divergence = { threshold = 2 } } }
    assert.are.equal(8, #r2.lrs)
    assert.are.equal("diverged", r2.stop_reason)
    local r3 = with { stop = "divergence", stop_opts = { divergence = { threshold = 3 } } }
    assert.are.equal(9, #r3.lrs)
  end)

  it("builds a user's {factory = f} stopping rule and heuristic with their options", function()
    local stopping = require "lrengine.stopping"
    local H = require "lrengine.heuristics"
    stopping.register("finder_spec_max_loss", { factory = function(opts)
      return function(state)
        if state.loss > opts.max then return true, "too_high" end
        return false
      end
    end })
    H.register("finder_spec_nth", { factory = function(opts)
      return function(lrs, _, o)
        assert(o.num_iter == #CURVE) -- the call's opts are still given
        return lrs[opts.n], opts.n
      end
    end })
    local r = finder.range_test { trainer = scripted(CURVE), num_iter = #CURVE, smoothing = "none",
      diverge_th = false, stop = { "finder_spec_max_loss" },
      stop_opts = { finder_spec_max_loss = { max = 5.5 } },
      suggest = { "finder_spec_nth" }, suggest_opts = { finder_spec_nth = { n = 4 } } }
    assert.are.equal(10, #r.lrs)
    assert.are.equal("too_high", r.stop_reason)
    assert.are.same({ lr = r.lrs[4], index = 4 }, r.suggestions.finder_spec_nth)
  end)

  it("refuses options for a rule that is not in `stop`, or that takes none", function()
    local function msg(o)
      o.trainer = o.trainer or scripted(CURVE)
      local ok, err = pcall(finder.range_test, o)
      assert.is_false(ok)
      return err
    end
    local err = msg { stop = { "divergence" }, stop_opts = { divergense = { threshold = 2 } } }
    assert.matches("range_test: stop_opts%.divergense: no stopping rule named 'divergense' in "
      .. "'stop' %(it has: divergence%)", err)
    err = msg { stop_opts = { divergence = { threshold = 2 } } }
    assert.matches("stop_opts%.divergence: no stopping rule named 'divergence' in 'stop' %(it names "
      .. "none%); the default rules take diverge_th", err)
    err = msg { stop = { "divergence" }, stop_opts = { divergence = 2 } }
    assert.matches("stop_opts%.divergence must be a table of options %(got number%)", err)
    err = msg { stop = { "divergence" }, stop_opts = "x" }
    assert.matches("stop_opts must be a table of name = {options}", err)
    err = msg { stop = { "divergence" }, stop_opts = { divergence = { threshold = -1 } } }
    assert.matches("stop%[1%]: .*'threshold' must be a finite number > 0", err)
    local stopping = require "lrengine.stopping"
    stopping.register("finder_spec_plain", function() return false end)
    err = msg { stop = { "finder_spec_plain" }, stop_opts = { finder_spec_plain = { x = 1 } } }
    assert.matches("stopping rule 'finder_spec_plain' is a plain function and takes no options", err)
    err = msg { suggest = { "valley" }, suggest_opts = { vally = { skip_start = 1 } } }
    assert.matches("suggest_opts%.vally: no heuristic named 'vally' in 'suggest' %(it has: valley%)", err)
  end)
end)

describe("results", function()
  it("round-trips through JSON, non-finite values included", function()
    local t, val = setup(1, lre.optim.sgd {})
    local r = finder.range_test { trainer = t, val = val, start_lr = 1, end_lr = 1e30,
      num_iter = 60, diverge_th = false, suggest = { "steepest", "valley", "ignite" } }
    local path = tmpname(".json")
    r:save_json(path)
    local back = results.load_json(path)
    os.remove(path)
    for _, name in ipairs(results.ARRAYS) do
      assert.are.equal(#r[name], #back[name])
      for i = 1, #r[name] do
        local x, y = r[name][i], back[name][i]
        if x ~= x then assert.is_true(y ~= y) else assert.are.equal(x, y) end
      end
    end
    assert.are.equal(r.stop_reason, back.stop_reason)
    assert.are.equal(r.config.num_iter, back.config.num_iter)
    for name, s in pairs(r.suggestions) do
      assert.are.equal(s.lr, back.suggestions[name].lr)
      assert.are.equal(s.index, back.suggestions[name].index)
    end
    -- heuristics run again on the loaded curve give the same answers
    local again = back:suggest { "steepest", "valley", "ignite" }
    for name, s in pairs(again) do assert.are.equal(r.suggestions[name].lr, s.lr) end
  end)

  it("keeps non-finite values of the repeated runs through JSON", function()
    local r = results.new { lrs = { 1, 2 }, losses = { 1, 0 / 0 },
      runs = { { lrs = { 1, 2 }, losses = { 1, 0 / 0 } }, { lrs = { 1, 2 }, losses = { 1, math.huge } } } }
    local path = tmpname(".json")
    r:save_json(path)
    local back = results.load_json(path)
    os.remove(path)
    local nan = back.runs[1].losses[2]
    assert.are.equal("number", type(nan))
    assert.is_true(nan ~= nan)
    assert.are.equal(math.huge, back.runs[2].losses[2])
  end)

  it("round-trips through CSV", function()
    local t, val = setup()
    local r = finder.range_test { trainer = t, val = val, num_iter = 25, start_lr = 1e-5,
      end_lr = 1 }
    local path = tmpname(".csv")
    r:save_csv(path)
    local back = results.load_csv(path)
    os.remove(path)
    assert.are.same(r.lrs, back.lrs)
    assert.are.same(r.losses, back.losses)
    assert.are.same(r.smoothed, back.smoothed)
  end)

  it("reads a two-column CSV from another framework and refuses bad ones", function()
    local path = tmpname(".csv")
    local f = io.open(path, "w")
    f:write("lr,loss\n1e-5,2.3\n1e-4,2.2\n1e-3,1.5\n1e-2,0.9\n1e-1,nan\n")
    f:close()
    local r = results.load_csv(path)
    assert.are.same({ 1e-5, 1e-4, 1e-3, 1e-2, 1e-1 }, r.lrs)
    assert.is_true(r.losses[5] ~= r.losses[5])
    f = io.open(path, "w")
    f:write("1e-5,2.3\n1e-4,oops\n")
    f:close()
    local ok, err = pcall(results.load_csv, path)
    os.remove(path)
    assert.is_false(ok)
    assert.matches(":2: column 2 %(loss%) is not a number: 'oops'", err)
  end)

  it("results.load reads JSON and CSV, by the extension or else by the content", function()
    local r = results.new { lrs = { 1e-3, 1e-2, 1e-1 }, losses = { 2, 1, 0 / 0 },
      config = { num_iter = 3 } }
    local json, csv = tmpname(".json"), tmpname(".csv")
    r:save_json(json)
    r:save_csv(csv)
    local a, b = results.load(json), results.load(csv)
    assert.are.same(r.lrs, a.lrs)
    assert.are.same(r.lrs, b.lrs)
    assert.are.equal(3, a.config.num_iter)
    assert.is_true(b.losses[3] ~= b.losses[3])
    assert.are.equal(getmetatable(r), getmetatable(a))
    -- no telling extension: '{' first means JSON, anything else CSV
    local plain_json, plain_csv = tmpname(".out"), tmpname("")
    os.rename(json, plain_json)
    os.rename(csv, plain_csv)
    assert.are.same(r.lrs, results.load(plain_json).lrs)
    assert.are.same(r.lrs, results.load(plain_csv).lrs)
    os.remove(plain_json)
    os.remove(plain_csv)
  end)

  it("results.load names the file in every failure", function()
    local function load_err(content, ext)
      local path = tmpname(ext)
      if content then
        local f = io.open(path, "w")
        f:write(content)
        f:close()
      end
      local ok, err = pcall(results.load, path)
      os.remove(path)
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find(path, 1, true), err)
      return err
    end
    assert.matches("No such file", load_err(nil, ".json"))
    assert.matches("invalid JSON", load_err("{ not json", ".json"))
    assert.matches("not an lrengine result", load_err('{"a": 1}', ".json"))
    assert.matches("lrs has 2 values but losses has 1", load_err('{"lrs": [1, 2], "losses": [1]}', ".json"))
    assert.matches(":2: column 2 %(loss%) is not a number: 'oops'", load_err("1e-5,2.3\n1e-4,oops\n", ".csv"))
    assert.matches("no data rows", load_err("lr,loss\n", ".csv"))
    assert.matches("invalid JSON", load_err("  {", ".txt"))
    local ok, err = pcall(results.load, 42)
    assert.is_false(ok)
    assert.matches("results.load: path must be a non%-empty string", err)
  end)

  it("refuses a file that is not a result, and leaves no partial file on a failed write", function()
    local path = tmpname(".json")
    local f = io.open(path, "w")
    f:write('{"lrs": [1, 2], "losses": [1]}')
    f:close()
    local ok, err = pcall(results.load_json, path)
    assert.is_false(ok)
    assert.matches("lrs has 2 values but losses has 1", err)
    os.remove(path)
    local r = results.new { lrs = { 1, 2 }, losses = { 3, 4 } }
    -- a missing folder is made (lre_write_file); a parent that is a file is an error
    local file = tmpname(".txt")
    local g = io.open(file, "w") g:write("x") g:close()
    local bad = file .. "/x.json"
    ok, err = pcall(r.save_json, r, bad)
    assert.is_false(ok)
    assert.truthy(err:find("cannot write " .. bad, 1, true), err)
    assert.truthy(err:find("is not a folder", 1, true), err)
    assert.is_nil(io.open(bad, "r"))
    os.remove(file)
  end)
end)

describe("the lrengine command", function()
  local function run(cmd)
    local p = io.popen(cmd .. " 2>&1; echo \"exit=$?\"")
    local out = p:read("a")
    p:close()
    local code = tonumber(out:match("exit=(%d+)%s*$"))
    return code, out
  end

  local function script(text)
    local path = tmpname(".lua")
    local f = io.open(path, "w")
    f:write(text)
    f:close()
    return path
  end

  local SWEEP = [[
local lre = require "lrengine"
local rows, labels = {}, {}
local x = 1
local function rnd() x = (x * 1103515245 + 12345) % 2147483648; return x / 2147483648 end
for i = 1, 300 do local c = i % 3; rows[i] = { rnd() + 2 * c, rnd() - c }; labels[i] = c end
local tr, va = lre.data.from_tables(rows, labels):split(0.8, 1)
return { data = tr, val = va, model = { 2, 16, 3 }, optimizer = { "adam" }, batch_size = 16,
  start_lr = 1e-5, end_lr = 10, num_iter = 40, suggest = { "steepest", "valley" },
  output = OUT }
]]

  it("runs a declarative sweep, prints the suggestions and writes the JSON", function()
    local out = tmpname(".json")
    local path = script(SWEEP:gsub("OUT", string.format("%q", out)))
    local code, text = run(BIN .. " -q " .. path)
    os.remove(path)
    assert.are.equal(0, code, text)
    assert.matches("steepest%s+%d%.%d+e[-+]%d+", text)
    assert.matches("valley", text)
    assert.matches("result: " .. out:gsub("%p", "%%%0"), text)
    local r = results.load_json(out)
    os.remove(out)
    assert.is_true(#r.lrs > 1)
  end)

  it("refuses a sweep table with an unknown key (exit 1, names the key)", function()
    local path = script("return { data = 1, model = {2, 3}, num_iters = 5 }")
    local code, text = run(BIN .. " " .. path)
    os.remove(path)
    assert.are.equal(1, code)
    assert.matches("unknown key 'num_iters'", text)
  end)

  it("suggest re-runs heuristics on a saved result and on a CSV", function()
    local path = tmpname(".csv")
    local f = io.open(path, "w")
    f:write("lr,loss\n")
    for i = 1, 40 do
      local lr = 1e-5 * 10 ^ ((i - 1) / 8)
      f:write(string.format("%.17g,%.17g\n", lr, 2 - math.tanh((i - 15) / 5)))
    end
    f:close()
    local code, text = run(BIN .. " suggest " .. path .. " --heuristic steepest --heuristic minimum")
    assert.are.equal(0, code, text)
    assert.matches("steepest", text)
    assert.matches("minimum", text)
    code, text = run(BIN .. " suggest " .. path .. " --json --heuristic ignite")
    assert.are.equal(0, code, text)
    assert.matches('"ignite"', text)
    os.remove(path)
  end)

  it("suggest: usage errors exit 2, unreadable files exit 1", function()
    local code, text = run(BIN .. " suggest")
    assert.are.equal(2, code)
    assert.matches("no file given", text)
    code, text = run(BIN .. " suggest x.json --heuristic nope")
    assert.are.equal(2, code)
    assert.matches("unknown heuristic 'nope'", text)
    code, text = run(BIN .. " suggest /nonexistent/x.json")
    assert.are.equal(1, code)
    assert.matches("No such file", text)
  end)

  it("exits 130 on SIGINT after the range test restored the trainer", function()
    local marker = tmpname(".txt")
    local path = script(string.format([[
local lre = require "lrengine"
local finder = require "lrengine.finder"
local rows, labels = {}, {}
for i = 1, 200 do rows[i] = { i %% 7, i %% 3 }; labels[i] = i %% 2 end
local ds = lre.data.from_tables(rows, labels)
local t = lre.trainer { model = lre.nn.sequential { lre.nn.linear(2, 8), lre.nn.relu(),
  lre.nn.linear(8, 2) }, data = ds, batch_size = 8, seed = 1 }
local before = t:evaluate(ds)
local ok, err = pcall(finder.range_test, { trainer = t, num_iter = 10000000,
  start_lr = 1e-9, end_lr = 1e-8, diverge_th = false,
  on_step = function(s) if s.step == 3 then local f = io.open(%q, "w"); f:write("ready"); f:close() end end })
print(err)
print(t:evaluate(ds) == before and t:steps() == 0 and "restored" or "NOT restored")
]], marker))
    local code, text = run(string.format(
      "%s %s & pid=$!; for i in $(seq 1 200); do [ -s %s ] && break; sleep 0.05; done; " ..
      "kill -INT $pid; wait $pid", BIN, path, marker))
    os.remove(path)
    os.remove(marker)
    assert.are.equal(130, code, text)
    assert.matches("interrupted at step %d+/10000000; trainer restored; partial curve saved to "
      .. "out/", text)
    assert.matches("\nrestored", text)
    -- the partial file (under out/, named after the script) reads back
    local saved = text:match("partial curve saved to (%S+)")
    assert.truthy(results.load_json(saved).lrs[1])
    os.remove(saved)
  end)
end)

describe("range_test on Fashion-MNIST", function()
  it("falls and then diverges on a subset, with both curves recorded", function()
    local train = lre.data.fashion_mnist("train"):scale(1 / 255):subset(6000)
    local val = lre.data.fashion_mnist("test"):scale(1 / 255):subset(1000)
    local t = lre.trainer { model = lre.nn.sequential { lre.nn.linear(784, 64), lre.nn.relu(),
      lre.nn.linear(64, 10) }, data = train, batch_size = 64, seed = 1,
      optimizer = lre.optim.adam { weight_decay = 1e-2 } }
    local r = finder.range_test { trainer = t, val = val, start_lr = 1e-6, end_lr = 100,
      num_iter = 80, suggest = { "steepest", "valley" } }
    assert.are.equal("diverged", r.stop_reason)
    local first, low, raw_low = r.smoothed[1], math.huge, math.huge
    for i, s in ipairs(r.smoothed) do
      low, raw_low = math.min(low, s), math.min(raw_low, r.losses[i])
    end
    assert.is_true(first > 2.2 and first < 2.45, "starts near ln 10: " .. first)
    -- the EMA (0.05) lags the raw curve: it falls less far
    assert.is_true(raw_low < 0.5 * first, "falls: " .. raw_low .. " vs " .. first)
    assert.is_true(low < 0.85 * first, "smoothed falls: " .. low .. " vs " .. first)
    assert.is_true(r.smoothed[#r.smoothed] > 5 * low)
    local s = r.suggestions.steepest
    assert.is_true(s.lr > 1e-5 and s.lr < 1, "steepest " .. s.lr)
    assert.is_true(r.smoothed[s.index] < first)
  end)

  it("runs the test with accumulation_steps and puts the trainer's own back", function()
    local train = lre.data.fashion_mnist("train"):scale(1 / 255):subset(2000)
    local t = lre.trainer { model = lre.nn.sequential { lre.nn.linear(784, 10) },
      data = train, batch_size = 32, seed = 1 }
    local seen
    finder.range_test { trainer = t, num_iter = 5, accumulation_steps = 4,
      on_step = function() seen = t:accumulation_steps() end }
    assert.are.equal(4, seen)
    assert.are.equal(1, t:accumulation_steps())
    local ok, err = pcall(finder.range_test, { trainer = t, accumulation_steps = 0 })
    assert.is_false(ok)
    assert.matches("accumulation_steps must be an integer >= 1", err)
  end)
end)

describe("presets", function()
  it("take each library's defaults, and explicit options still win", function()
    local t, val = setup()
    local r = finder.range_test { trainer = t, val = val, preset = "fastai", num_iter = 30 }
    assert.are.equal("fastai", r.config.schedule)
    assert.are.equal("debiased", r.config.smoothing)
    assert.are.equal(4, r.config.diverge_th)
    assert.are.equal(30, r.config.num_iter)
    assert.are.same({ "valley" }, r.config.suggest)
    -- fastai's schedule: start·(end/start)^((i-1)/n), never reaching end_lr
    assert.are.equal(1e-7, r.lrs[1])
    assert.are.equal(1e-7 * (10 / 1e-7) ^ (1 / 30), r.lrs[2])
    -- fastai's smoothing: debiased EMA, beta 0.98
    local S = require "lrengine.smoothing"
    assert.are.same(S.debiased(r.losses, 0.98), r.smoothed)
    local l = finder.range_test { trainer = t, val = val, preset = "lightning", num_iter = 20 }
    assert.are.equal(1e-8, l.lrs[1])
    assert.are.equal(1e-8 * (1 / 1e-8) ^ (2 / 20), l.lrs[2])
    assert.are.same(S.debiased(l.losses, 0.98, 2), l.smoothed)
    local ok, err = pcall(finder.range_test, { trainer = t, preset = "keras" })
    assert.is_false(ok)
    assert.matches("unknown preset 'keras' %(known: fastai, lightning, pytorch%-lr%-finder%)", err)
  end)
end)

describe("a heuristic that fails", function()
  it("is recorded as failed and the sweep, with the other suggestions, is kept", function()
    local t = setup(3)
    local function bad() error("boom at the end") end
    local function negative() return -1, 3 end
    local function badindex(lrs) return lrs[2], #lrs + 5 end
    local r = finder.range_test { trainer = t, start_lr = 1e-4, end_lr = 10, num_iter = 30,
      suggest = { "steepest", bad, negative, badindex } }
    local n = #r.lrs
    assert.is_true(n > 5)
    assert.truthy(r.suggestions.steepest.lr)
    local names = {}
    for name, s in pairs(r.suggestions) do if s.error then names[#names + 1] = name end end
    assert.are.equal(3, #names)
    local msgs = {}
    for _, s in pairs(r.suggestions) do if s.error then msgs[#msgs + 1] = s.error end end
    table.sort(msgs)
    assert.truthy(table.concat(msgs, "|"):find("boom at the end", 1, true))
    assert.truthy(table.concat(msgs, "|"):find("returned lr = -1, expected a positive finite number", 1, true))
    assert.truthy(table.concat(msgs, "|"):find(("returned index = %d, expected an integer in 1..%d")
      :format(n + 5, n), 1, true))
    -- and the record keeps it
    local path = tmpname(".json")
    r:save_json(path)
    local back = results.load_json(path)
    os.remove(path)
    local n = 0
    for _, s in pairs(back.suggestions) do if s.error then n = n + 1 end end
    assert.are.equal(3, n)
  end)

  it("a result saves into folders that do not exist yet", function()
    local t = setup(4)
    local r = finder.range_test { trainer = t, start_lr = 1e-4, end_lr = 1, num_iter = 5 }
    local dir = tmpname("")
    local path = dir .. "/a/b/sweep.json"
    r:save_json(path)
    r:save_csv(dir .. "/a/b/sweep.csv")
    assert.are.equal(5, #results.load_json(path).lrs)
    os.remove(path)
    os.remove(dir .. "/a/b/sweep.csv")
    os.remove(dir .. "/a/b")
    os.remove(dir .. "/a")
    os.remove(dir)
  end)
end)

describe("a result saved as JSON and as CSV", function()
  it("reads back the same, and gives the same suggestions from either file", function()
    local t = setup(5)
    local r = finder.range_test { trainer = t, start_lr = 1e-5, end_lr = 10, num_iter = 60,
      suggest = { "steepest", "valley", "minimum" } }
    local j, c = tmpname(".json"), tmpname(".csv")
    r:save_json(j)
    r:save_csv(c)
    local f = io.open(c) local first = f:read("l") f:close()
    assert.matches("^# lrengine {", first) -- pandas: read_csv(path, comment='#')
    local a, b = results.load(j), results.load(c)
    os.remove(j)
    os.remove(c)
    assert.are.same(a.config, b.config)
    assert.are.same(a.suggestions, b.suggestions)
    assert.are.equal(a.stop_reason, b.stop_reason)
    local names = { "steepest", "valley", "slide", "minimum", "lightning", "ignite", "steep" }
    assert.are.same(a:suggest(names), b:suggest(names))
  end)
end)

describe("an interrupt", function()
  it("restores the trainer, saves the curve so far and raises an object that prints one line", function()
    local k, restored = 0, nil
    local custom = {
      step = function()
        k = k + 1
        if k == 6 then error("interrupted!") end
        return 2 / k
      end,
      snapshot = function() return k end,
      restore = function(_, s) restored = s end,
    }
    local path = tmpname(".json")
    local ok, err = pcall(finder.range_test, { trainer = custom, start_lr = 1e-4, end_lr = 1,
      num_iter = 20, save = path })
    assert.is_false(ok)
    assert.are.equal(0, restored)
    assert.are.equal("table", type(err))
    assert.are.equal("interrupted at step 5/20; trainer restored; partial curve saved to " .. path,
      tostring(err))
    assert.are.equal(5, #err.result.lrs)
    assert.are.equal("interrupted", err.result.stop_reason)
    local back = results.load_json(path)
    os.remove(path)
    assert.are.same(err.result.losses, back.losses)
  end)
end)

describe("an interrupt at any line of the driver", function()
  -- The host raises "interrupted!" from a hook at whatever instruction
  -- runs when ^C comes. Here a line hook raises it, once, at each line of
  -- lrengine/finder.lua that a range test runs (validation, the steps, the
  -- heuristics' calls, the record, the restore itself): afterwards the
  -- trainer must be as it was — its weights (the same validation loss, bit
  -- for bit), its step count and its accumulation_steps.
  local function in_finder(level)
    local info = debug.getinfo(level, "S")
    return info and info.source:find("lrengine/finder.lua", 1, true) ~= nil
  end

  local function opts(t, val)
    return { trainer = t, val = val, num_iter = 4, start_lr = 1e-4, end_lr = 1e-2,
      accumulation_steps = 2, suggest = { "steepest", "valley" }, diverge_th = false }
  end

  it("leaves the trainer as it was, whichever line it lands on", function()
    local t, val = setup(3)
    local before, steps0, acc0 = t:evaluate(val), t:steps(), t:accumulation_steps()
    -- the lines a range test runs
    local lines = {}
    debug.sethook(function(_, line)
      if in_finder(3) then lines[line] = true end
    end, "l")
    local ok0, err0 = pcall(finder.range_test, opts(t, val))
    debug.sethook()
    assert.is_true(ok0, tostring(err0))
    local list = {}
    for line in pairs(lines) do list[#list + 1] = line end
    table.sort(list)
    assert.is_true(#list > 60, "only " .. #list .. " lines seen")
    local interrupted = 0
    for _, target in ipairs(list) do
      local fired = false
      debug.sethook(function(_, line)
        if line == target and not fired and in_finder(3) then
          fired = true
          debug.sethook() -- one-shot, as the host's hook
          error("interrupted!")
        end
      end, "l")
      local ok, err = pcall(finder.range_test, opts(t, val))
      debug.sethook()
      if fired then
        interrupted = interrupted + 1
        assert.is_false(ok, "line " .. target .. ": the interrupt was swallowed")
        assert.truthy(tostring(err):find("interrupted", 1, true),
          "line " .. target .. ": " .. tostring(err))
      end
      assert.are.equal(steps0, t:steps(), "line " .. target .. ": step count")
      assert.are.equal(acc0, t:accumulation_steps(), "line " .. target .. ": accumulation_steps")
      assert.are.equal(before, t:evaluate(val), "line " .. target .. ": weights")
    end
    assert.are.equal(#list, interrupted)
  end)
end)

describe("a wrong option", function()
  it("is reported as such, at the caller's line, not inside the library", function()
    local t = setup(6)
    local function mine() local r = finder.range_test { trainer = t, start_lr = "1e-7", num_iter = 5 } return r end
    local line = debug.getinfo(1, "l").currentline - 1
    local ok, err = pcall(mine)
    assert.is_false(ok)
    assert.truthy(err:find("finder_spec.lua:" .. line .. ": range_test: start_lr must be a number "
      .. '(got string "1e-7")', 1, true), err)
    assert.is_nil(err:find("finder.lua", 1, true), err)
    local function mine2() local r = finder.range_test { trainer = t, num_iter = 5, bogus = 1 } return r end
    ok, err = pcall(mine2)
    assert.is_false(ok)
    assert.truthy(err:find("finder_spec.lua:%d+: range_test"), err)
  end)
end)

describe("progress under the command", function()
  local has_script = os.execute("command -v script >/dev/null 2>&1")
  it("is on when stderr is a terminal, off with --quiet or when it is not", function()
    if not has_script then pending("util-linux's script is not installed: no terminal to test with") return end
    local path = tmpname(".lua")
    local f = io.open(path, "w")
    f:write([[
local lre = require "lrengine"
local finder = require "lrengine.finder"
local ds = lre.data.from_tables({ { 0, 1 }, { 1, 0 }, { 1, 1 }, { 0, 0 } }, { 0, 1, 1, 0 })
local t = lre.trainer{ model = lre.nn.sequential{ lre.nn.linear(2, 2) }, data = ds, batch_size = 2 }
finder.range_test{ trainer = t, num_iter = 20 }
print("finished")
]])
    f:close()
    local function run_tty(args)
      local p = io.popen(("script -qc '%s %s %s' /dev/null 2>&1"):format(BIN, args, path))
      local out = p:read("a")
      p:close()
      return out
    end
    local tty = run_tty("")
    assert.truthy(tty:find("20/20", 1, true), tty)
    assert.truthy(tty:find("finished", 1, true), tty)
    local quiet = run_tty("-q")
    assert.is_nil(quiet:find("20/20", 1, true), quiet)
    local p = io.popen(("%s %s 2>&1"):format(BIN, path))
    local piped = p:read("a")
    p:close()
    assert.is_nil(piped:find("20/20", 1, true), piped)
    os.remove(path)
  end)
end)

describe("a curve from another tool", function()
  it("reads a 'Learning Rate' header, ';' separators and quoted numbers", function()
    local path = tmpname(".csv")
    local f = io.open(path, "w")
    f:write('"Learning Rate";"Loss"\n"1e-05";"2.30"\n"2e-05";"2.29"\n"4e-05";"2.20"\n')
    f:close()
    local r = results.load(path)
    os.remove(path)
    assert.are.same({ 1e-05, 2e-05, 4e-05 }, r.lrs)
    assert.are.same({ 2.30, 2.29, 2.20 }, r.losses)
    path = tmpname(".csv")
    f = io.open(path, "w")
    f:write('learning rate,loss\n1e-05,"2.30"\n2e-05,2.29\n')
    f:close()
    r = results.load(path)
    os.remove(path)
    assert.are.same({ 2.30, 2.29 }, r.losses)
  end)
end)
