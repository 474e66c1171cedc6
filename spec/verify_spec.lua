-- Verification by training (lrengine.verify, finder.verify and
-- range_test{verify = ...}): the state restored exactly, the same seed the
-- same table, diverging candidates recorded, the record saved and read
-- back, the schedules, and the refusals.
local lre = require "lrengine"
local finder = require "lrengine.finder"
local results = require "lrengine.results"
local verify = require "lrengine.verify"

-- Three separable blobs in 3-D (as finder_spec).
local blobs = require "spec.blobs"

local function setup(seed)
  local ds = blobs(600, 7)
  local train, val = ds:split(0.8, 1)
  local model = lre.nn.sequential { lre.nn.linear(3, 32), lre.nn.relu(), lre.nn.linear(32, 3) }
  local t = lre.trainer { model = model, data = train, batch_size = 32, seed = seed or 1,
    optimizer = lre.optim.sgd { momentum = 0.9 } }
  return t, val
end

local function future(t, k)
  local out = {}
  for i = 1, k do out[i] = t:step(1e-2) end
  return out
end

local function tmpname(ext)
  local p = os.tmpname()
  os.remove(p)
  return p .. ext
end

describe("verify", function()
  it("trains each candidate for an epoch and leaves the trainer exactly as it was", function()
    local t, val = setup()
    local twin = setup()
    t:step(1e-3) -- mid-training: verification starts from here
    twin:step(1e-3)
    local v = finder.verify { trainer = t, val = val, candidates = { 1e-3, 3e-2, 0.3 } }
    assert.are.equal(15, v.steps) -- 480 rows, batch 32
    assert.are.equal(15, t:steps_per_epoch())
    assert.are.equal(1, v.epochs)
    assert.are.equal(3, #v.candidates)
    for _, c in ipairs(v.candidates) do
      assert.are.equal(1, #c.trials)
      assert.are.equal("ok", c.trials[1].status)
      assert.is_true(c.val_loss.median > 0 and c.accuracy.median >= 0 and c.accuracy.median <= 1)
    end
    assert.are.equal(1, t:steps())
    assert.are.same(future(twin, 6), future(t, 6))
  end)

  it("ranks by validation loss: the winner has the lowest median of the candidates", function()
    local t, val = setup()
    local v = finder.verify { trainer = t, val = val, candidates = { 1e-5, 3e-2 }, steps = 20 }
    -- 20 steps at 1e-5 barely move the weights; at 3e-2 the blobs separate
    assert.are.equal(2, v.winner)
    assert.is_true(v.candidates[2].val_loss.median < v.candidates[1].val_loss.median)
    assert.is_true(v.candidates[2].accuracy.median > 0.9)
    assert.are.equal("val_loss", v.metric)
  end)

  it("gives the same table for the same seed, and another batch order for another", function()
    local t, val = setup()
    local a = finder.verify { trainer = t, val = val, candidates = { 1e-2 }, steps = 8, repeats = 3 }
    local b = finder.verify { trainer = t, val = val, candidates = { 1e-2 }, steps = 8, repeats = 3 }
    assert.are.same(a, b)
    local ta, tb = a.candidates[1].trials, b.candidates[1].trials
    assert.are_not.equal(ta[1].val_loss, ta[2].val_loss) -- runs 1 and 2: other batch orders
    local c = finder.verify { trainer = t, val = val, candidates = { 1e-2 }, steps = 8, repeats = 3,
      seed = 99 }
    assert.are_not.equal(ta[1].val_loss, c.candidates[1].trials[1].val_loss)
    local m = a.candidates[1].val_loss
    assert.is_true(m.min <= m.median and m.median <= m.max and m.min < m.max)
  end)

  it("starts every trial from the same state: a candidate scores the same alone or with others", function()
    local t, val = setup()
    local alone = finder.verify { trainer = t, val = val, candidates = { 1e-2 }, steps = 6,
      repeats = 2 }
    local with = finder.verify { trainer = t, val = val, candidates = { 3e-2, 1e-3, 1e-2 },
      steps = 6, repeats = 2 }
    assert.are.equal(1e-2, with.candidates[2].lr)
    assert.are.same(alone.candidates[1].trials, with.candidates[2].trials)
  end)

  it("does not crown a candidate one of whose trials diverged", function()
    local t, val = setup()
    local seed_now
    -- the second run (seed + 1) of lr 0.05 gives a NaN loss at its third step
    local proxy = setmetatable({
      reseed = function(_, s) seed_now = s return t:reseed(s) end,
      step = function(_, lr)
        local loss = t:step(lr)
        if lr == 0.05 and seed_now == 2 and t:steps() == 3 then return 0 / 0 end
        return loss
      end,
    }, { __index = function(_, k) return function(_, ...) return t[k](t, ...) end end })
    local v = finder.verify { trainer = proxy, val = val, candidates = { 1e-5, 0.05 }, steps = 10,
      repeats = 2, seed = 1 }
    local c = v.candidates[2]
    assert.are.equal(1, c.diverged)
    assert.are.same({ status = "diverged", step = 3 }, c.trials[2])
    -- its finished trial beats 1e-5 by far, yet 1e-5 wins
    assert.is_true(c.val_loss.median < v.candidates[1].val_loss.median)
    assert.are.equal(1, v.winner)
    assert.matches("%(1 diverged%)", verify.format(v))
  end)

  it("records a diverging candidate and never lets it win; the others still run", function()
    local t, val = setup()
    local twin = setup()
    local v = finder.verify { trainer = t, val = val, candidates = { 1e-2, 1e30 }, steps = 10,
      repeats = 2 }
    local bad = v.candidates[2]
    assert.are.equal(1e30, bad.lr)
    assert.are.equal(2, bad.diverged)
    assert.are.equal("diverged", bad.trials[1].status)
    assert.is_true(bad.trials[1].step >= 1 and bad.trials[1].step <= 10)
    assert.is_nil(bad.val_loss)
    assert.are.equal(1, v.winner)
    assert.matches("diverged", verify.format(v))
    assert.are.same(future(twin, 4), future(t, 4))
    local all = finder.verify { trainer = t, val = val, candidates = { 1e30 }, steps = 5 }
    assert.is_nil(all.winner)
    assert.matches("winner: none", verify.format(all))
  end)

  it("restores the trainer when interrupted mid-trial, and re-raises", function()
    local t, val = setup()
    local twin = setup()
    local calls = 0
    local proxy = setmetatable({
      step = function(_, lr)
        calls = calls + 1
        if calls == 12 then error("interrupted!", 0) end
        return t:step(lr)
      end,
    }, { __index = function(_, k) return function(_, ...) return t[k](t, ...) end end })
    local ok, err = pcall(finder.verify, { trainer = proxy, val = val, candidates = { 1e-2, 0.1 },
      steps = 10 })
    assert.is_false(ok)
    assert.matches("interrupted!", tostring(err))
    assert.are.same(future(twin, 5), future(t, 5))
  end)

  it("defaults to every distinct suggestion and 1/3x and 3x the chosen one", function()
    local r = results.new { lrs = { 1, 2, 3 }, losses = { 3, 2, 1 },
      config = { suggest = { "valley", "steepest" } },
      suggestions = { steepest = { lr = 0.01 }, valley = { lr = 0.003 }, slide = { lr = 0.01 },
        minimum = { reason = "no minimum" } } }
    local t, val = setup()
    local v = finder.verify { trainer = t, val = val, result = r, steps = 2 }
    local got = {}
    for i, c in ipairs(v.candidates) do got[i] = { c.lr, table.concat(c.from, "+") } end
    assert.are.same({ { 0.003 / 3, "1/3 x valley" }, { 0.003, "valley" }, { 0.003 * 3, "3 x valley" },
      { 0.01, "steepest+slide" } }, got)
    local v2 = finder.verify { trainer = t, val = val, result = r, steps = 2, chosen = "steepest" }
    assert.are.equal(4, #v2.candidates) -- valley, 1/3x steepest, steepest (+slide), 3x
    assert.are.equal("1/3 x steepest", v2.candidates[2].from[1])
    assert.near(0.01 / 3, v2.candidates[2].lr, 1e-15)
    assert.are.equal("3 x steepest", v2.candidates[4].from[1])
  end)

  it("ranks by the training loss without a validation set", function()
    local t = setup()
    local v = finder.verify { trainer = t, candidates = { 1e-5, 3e-2 }, steps = 20 }
    assert.are.equal("train_loss", v.metric)
    assert.are.equal(2, v.winner)
    assert.is_nil(v.candidates[1].val_loss)
    assert.matches("train loss", verify.format(v))
  end)

  it("runs the onecycle and a custom schedule with the candidate as the peak", function()
    local s = verify.SCHEDULES.onecycle
    assert.near(0.1 / 25, s(1, 100, 0.1), 1e-15)            -- torch: initial_lr
    assert.near(0.1, s(30, 100, 0.1), 1e-12)                -- the peak at 30% (step 29, 0-based)
    assert.near(0.1 / 25 / 1e4, s(100, 100, 0.1), 1e-15)    -- min_lr at the last step
    local seen = {}
    local t, val = setup()
    finder.verify { trainer = t, val = val, candidates = { 0.2 }, steps = 4,
      schedule = function(step, total, lr)
        seen[#seen + 1] = { step, total, lr }
        return lr / step
      end }
    assert.are.same({ { 1, 4, 0.2 }, { 2, 4, 0.2 }, { 3, 4, 0.2 }, { 4, 4, 0.2 } }, seen)
    local v = finder.verify { trainer = t, val = val, candidates = { 0.2 }, steps = 6,
      schedule = "onecycle" }
    assert.are.equal("onecycle", v.schedule)
  end)

  it("refuses bad options with a clear message", function()
    local t, val = setup()
    local cases = {
      { { val = val, candidates = { 1 } }, "'trainer' is required" },
      { { trainer = t, candidates = { 1 }, step = 3 }, "unknown option 'step'" },
      { { trainer = t, candidates = { 1 }, steps = 3, epochs = 1 }, "give steps or epochs, not both" },
      { { trainer = t, candidates = { 1 }, steps = 0 }, "steps must be an integer >= 1" },
      { { trainer = t, candidates = { -1 } }, "candidates%[1%] must be a positive finite" },
      { { trainer = t, candidates = {} }, "candidates must be a non%-empty array" },
      { { trainer = t }, "give candidates, or the result" },
      { { trainer = t, candidates = { 1 }, schedule = "cosine" }, "schedule 'cosine' is not" },
      { { trainer = t, candidates = { 1 }, repeats = 0 }, "repeats must be" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(finder.verify, c[1])
      assert.is_false(ok)
      assert.matches("^verify: " .. c[2], tostring(err))
    end
    local r = results.new { lrs = { 1 }, losses = { 1 }, suggestions = { steepest = { lr = 1 } } }
    local ok, err = pcall(finder.verify, { trainer = t, result = r, chosen = "valley" })
    assert.is_false(ok)
    assert.matches("chosen = 'valley' is not a suggestion of the result %(it has: steepest%)", err)
  end)
end)

describe("range_test{verify = ...}", function()
  it("verifies the suggestions after the test and keeps the record through JSON and CSV", function()
    local t, val = setup()
    local twin = setup()
    local r = finder.range_test { trainer = t, val = val, start_lr = 1e-5, end_lr = 10,
      num_iter = 40, suggest = { "steepest", "valley" }, verify = { steps = 10 } }
    local v = r.verification
    assert.is_table(v)
    assert.are.equal(10, v.steps)
    assert.is_true(#v.candidates >= 3)
    assert.is_number(v.winner)
    assert.are.same(future(twin, 4), future(t, 4))
    for _, ext in ipairs { ".json", ".csv" } do
      local path = tmpname(ext)
      if ext == ".json" then r:save_json(path) else r:save_csv(path) end
      local back = results.load(path)
      os.remove(path)
      assert.are.equal(v.winner, back.verification.winner)
      assert.are.equal(#v.candidates, #back.verification.candidates)
      for i, c in ipairs(v.candidates) do
        local b = back.verification.candidates[i]
        assert.are.equal(c.lr, b.lr)
        assert.are.same(c.from, b.from)
        assert.are.equal(c.val_loss and c.val_loss.median, b.val_loss and b.val_loss.median)
      end
    end
  end)

  it("draws the verification as the figure's third panel, the winner ringed", function()
    local plot = require "lrengine.plot"
    local t, val = setup()
    local r = finder.range_test { trainer = t, val = val, start_lr = 1e-5, end_lr = 10,
      num_iter = 30, suggest = { "steepest" }, verify = { candidates = { 1e-3, 1e-2, 1e30 }, steps = 5 } }
    local spec = plot.spec(r)
    assert.are.equal(3, #spec.verify)
    local v = r.verification
    for i, c in ipairs(v.candidates) do
      assert.are.equal(c.lr, spec.verify[i].lr)
      if c.val_loss then
        assert.are.equal(c.val_loss.median, spec.verify[i].y)
        assert.are.equal(c.val_loss.min, spec.verify[i].lo)
      else
        assert.is_true(spec.verify[i].y ~= spec.verify[i].y) -- diverged: NaN, drawn on the edge
      end
    end
    assert.are.equal(v.winner, spec.verify_winner)
    assert.are.equal("val loss, 5 steps", spec.verify_label)
    assert.is_nil(plot.spec(r, { verification = false }).verify)
    local path = tmpname(".svg")
    r:plot(path)
    local f = assert(io.open(path))
    local svg = f:read("a")
    f:close()
    os.remove(path)
    assert.matches("verification by training: 3 candidates, the winner", svg)
  end)

  it("runs from a declarative sweep under the command, which prints the table", function()
    local cmd = require "spec.command"
    local out = tmpname(".json")
    local script = cmd.tmpfile(string.format([[
local lre = require "lrengine"
local rows, labels = {}, {}
for i = 1, 300 do rows[i] = { (i %% 3) + 0.01 * (i %% 7), -(i %% 3) }; labels[i] = i %% 3 end
local ds = lre.data.from_tables(rows, labels)
return { data = ds, val = ds, model = { 2, 16, 3, activation = "relu" }, num_iter = 20,
  start_lr = 1e-4, end_lr = 10, suggest = { "steepest" },
  verify = { candidates = { 1e-3, 1e-1 }, steps = 10 }, output = %q }
]], out))
    local code, stdout, err = cmd.run("-q " .. cmd.shell_quote(script))
    assert.are.equal(0, code, err)
    assert.matches("verification: 10 steps, constant schedule, 1 run per candidate", stdout)
    assert.matches("\nwinner: ", stdout)
    local back = results.load(out)
    os.remove(out)
    assert.are.equal(2, #back.verification.candidates)
    cmd.cleanup()
  end)

  it("verifies from the state the test started from, also with keep_state", function()
    local t, val = setup()
    local twin = setup()
    local plain = finder.verify { trainer = twin, val = val, candidates = { 1e-2 }, steps = 6 }
    local r = finder.range_test { trainer = t, val = val, num_iter = 10, keep_state = true,
      suggest = { "steepest" }, verify = { candidates = { 1e-2 }, steps = 6 } }
    assert.are.same(plain.candidates[1].trials, r.verification.candidates[1].trials)
    assert.are.equal(10, t:steps()) -- left where the test ended (keep_state)
  end)

  it("keeps the range test's result on the error when the verification fails", function()
    local t, val = setup()
    local calls = 0
    local proxy = setmetatable({
      step = function(_, lr)
        calls = calls + 1
        if calls == 14 then error("the device fell over", 0) end
        return t:step(lr)
      end,
    }, { __index = function(_, k) return function(_, ...) return t[k](t, ...) end end })
    local ok, err = pcall(finder.range_test, { trainer = proxy, val = val, num_iter = 10,
      suggest = { "steepest" }, verify = { candidates = { 1e-2 }, steps = 6 } })
    assert.is_false(ok)
    assert.matches("^range_test: the device fell over %(the range test's result is in err.result%)",
      tostring(err))
    assert.are.equal(10, #err.result.lrs)
    assert.is_nil(err.result.verification)
    assert.are.equal(0, t:steps())
  end)

  it("merges given candidates of the same lr, and refuses chosen with them", function()
    local t, val = setup()
    local v = finder.verify { trainer = t, val = val, steps = 2,
      candidates = { 1e-2, { lr = 1e-2, from = "mine" }, 3e-2 } }
    assert.are.equal(2, #v.candidates)
    assert.are.same({ "given", "mine" }, v.candidates[1].from)
    local ok, err = pcall(finder.verify, { trainer = t, candidates = { 1 }, chosen = "steepest" })
    assert.is_false(ok)
    assert.matches("chosen picks among a result's suggestions: not with candidates", err)
    local r = results.new { lrs = { 1 }, losses = { 1 }, suggestions = {
      steepest = { lr = 1 }, valley = { reason = "too short" } } }
    ok, err = pcall(finder.verify, { trainer = t, result = r, chosen = "valley" })
    assert.is_false(ok)
    assert.matches("chosen = 'valley' gave no learning rate %(too short%)", err)
  end)

  it("checks the verify options before the test runs", function()
    local t, val = setup()
    local ok, err = pcall(finder.range_test, { trainer = t, val = val, num_iter = 5,
      verify = { steps = -2 } })
    assert.is_false(ok)
    assert.matches("range_test: verify: verify: steps must be an integer >= 1", err)
    assert.are.equal(0, t:steps())
    ok, err = pcall(finder.range_test, { trainer = t, num_iter = 5, verify = { val = val } })
    assert.is_false(ok)
    assert.matches("verify.val: the range test's own val is used", err)
    ok, err = pcall(finder.range_test, { trainer = t, num_iter = 5, suggest = { "steepest" },
      verify = { chosen = "valley" } })
    assert.is_false(ok)
    assert.matches("chosen = 'valley' is not among the heuristics asked for %(steepest%)", err)
    assert.are.equal(0, t:steps())
  end)

  it("refuses a saved verification of the wrong shape, naming the field", function()
    local ok, err = pcall(results.new, { lrs = { 1 }, losses = { 1 },
      verification = { candidates = { { lr = 1 } }, winner = 3 } })
    assert.is_false(ok)
    assert.matches("verification.winner' is 3, but there are 1 candidates", err)
    ok, err = pcall(results.new, { lrs = { 1 }, losses = { 1 },
      verification = { candidates = { { lr = "x" } } } })
    assert.is_false(ok)
    assert.matches("verification.candidates%[1%].lr' must be a number", err)
  end)
end)
