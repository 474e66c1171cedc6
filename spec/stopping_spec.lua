-- spec/stopping_spec.lua — lrengine.stopping: divergence at 5x (pytorch-lr-
-- finder) and 4x (fastai, Lightning) the best smoothed loss, non-finite
-- losses, user rules and their combination.
--
-- The library step counts were printed by scripts/reference_heuristics.py
-- (torch-lr-finder 0.2.2, fastai 2.8.12, lightning 2.6.6, torch 2.15.0),
-- which runs each library's own loop (range_test, LRFinder.after_batch,
-- _LRCallback.on_train_batch_end) on the same raw losses.

local stop = require "lrengine.stopping"
local S = require "lrengine.smoothing"
local sched = require "lrengine.schedules"

-- The user's note: raw validation losses over exp 1e-7 -> 500, 100 steps.
local NOTE_RAW = require "spec.note_curve"

-- What the finder's driver does with a rule: record the step, then ask.
-- Returns the number of points kept, the reason and the last state.
local function drive(raw, smoother, rule)
  local n = #raw
  local st = { num_iter = n, lrs = {}, losses = {}, smoothed_losses = {} }
  for step, loss in ipairs(raw) do
    local s = smoother:push(loss)
    if s == s and (st.best == nil or s < st.best) then st.best = s end
    st.step, st.lr, st.loss, st.smoothed = step, sched.exp(step, n, 1e-7, 500), loss, s
    st.lrs[step], st.losses[step], st.smoothed_losses[step] = st.lr, loss, s
    local stopped, reason = rule(st)
    if stopped then return step, reason, st end
  end
  return n, nil, st
end

describe("stopping.divergence", function()
  it("stops the note curve where pytorch-lr-finder does (EMA 0.05, 5x): 89 points", function()
    local kept, reason, st = drive(NOTE_RAW, S.new("ema", { smooth_f = 0.05 }), stop.default())
    assert.are.equal(89, kept)
    assert.are.equal("diverged", reason)
    -- pytorch-lr-finder's last smoothed value and best, bit for bit
    assert.are.equal(7.140627623959354, st.smoothed)
    assert.are.equal(1.2708906892735958, st.best)
    assert.is_true(st.smoothed > 5 * st.best)
    assert.is_false(st.smoothed_losses[88] > 5 * st.best)
  end)

  it("stops the note curve where fastai does (debiased 0.98, 4x): step 92", function()
    local kept, reason = drive(NOTE_RAW, S.new("debiased", { beta = 0.98 }),
      stop.divergence { threshold = 4 })
    assert.are.equal(92, kept)
    assert.are.equal("diverged", reason)
  end)

  it("stops the note curve where Lightning does (debiased from k = 2, 4x): step 90", function()
    local kept = drive(NOTE_RAW, S.new("debiased", { beta = 0.98, first_k = 2 }),
      stop.divergence { threshold = 4 })
    assert.are.equal(90, kept)
  end)

  it("keeps the diverging point; 4x and 5x stop at different steps", function()
    local raw = { 1.0, 0.5, 0.4, 1.8, 2.1 }   -- best 0.4: 1.8 > 1.6, 2.1 > 2.0
    local kept4, _, st4 = drive(raw, S.new("none"), stop.divergence { threshold = 4 })
    local kept5, _, st5 = drive(raw, S.new("none"), stop.divergence { threshold = 5 })
    assert.are.equal(4, kept4)
    assert.are.equal(1.8, st4.losses[#st4.losses])
    assert.are.equal(5, kept5)
    assert.are.equal(2.1, st5.losses[#st5.losses])
  end)

  it("matches pytorch-lr-finder with smooth_f = 0 (5 of 6 points kept)", function()
    local kept = drive({ 1.0, 0.5, 0.4, 1.0, 2.1, 3.0 }, S.new("ema", { smooth_f = 0 }), stop.default())
    assert.are.equal(5, kept)
  end)

  it("uses a strict comparison and defaults to threshold 5", function()
    local rule = stop.divergence()
    assert.is_false(rule { step = 2, loss = 5, smoothed = 5, best = 1 })
    assert.is_true(rule { step = 2, loss = 5.000001, smoothed = 5.000001, best = 1 })
    -- the smoothed value decides, not the raw loss
    assert.is_false(rule { step = 2, loss = 100, smoothed = 2, best = 1 })
  end)

  it("falls back to loss without smoothed and to the current value without best", function()
    local rule = stop.divergence { threshold = 2 }
    assert.is_true(rule { step = 3, loss = 3, best = 1 })
    assert.is_false(rule { step = 1, loss = 3 })
  end)

  it("never fires on NaN, nor while best <= 0 (deliberate: the libraries stop at step 1)", function()
    local rule = stop.divergence { threshold = 4 }
    assert.is_false(rule { step = 3, loss = 0 / 0, smoothed = 0 / 0, best = 1 })
    assert.is_false(rule { step = 1, loss = -2, smoothed = -2, best = -2 })
    assert.is_false(rule { step = 5, loss = 3, smoothed = 3, best = 0 })
  end)

  it("returns a reason and a message", function()
    local stopped, reason, msg = stop.divergence { threshold = 4 } { step = 7, loss = 9, smoothed = 9, best = 2 }
    assert.is_true(stopped)
    assert.are.equal("diverged", reason)
    assert.are.equal("smoothed loss 9 > 4 x best 2 at step 7", msg)
  end)

  it("rejects a bad threshold", function()
    for _, th in ipairs { 0, -1, 0 / 0, math.huge, "5" } do
      local ok, err = pcall(stop.divergence, { threshold = th })
      assert.is_false(ok)
      assert.is_truthy(err:find("'threshold' must be a finite number > 0", 1, true), err)
    end
    local ok, err = pcall(stop.divergence, 5)
    assert.is_false(ok)
    assert.is_truthy(err:find("'opts' must be a table", 1, true), err)
  end)
end)

describe("stopping.non_finite", function()
  it("stops at the first NaN and keeps it (pytorch-lr-finder runs on through it)", function()
    local raw = { 1.0, 0.9, 0 / 0, 0.5, 0.4 }
    local kept, reason, st = drive(raw, S.new("ema"), stop.default())
    assert.are.equal(3, kept)
    assert.are.equal("non_finite", reason)
    assert.is_true(st.losses[3] ~= st.losses[3])
    assert.are.equal(0.9 * 0.05 + 0.95 * 1.0, st.best)
  end)

  it("stops on +inf and -inf", function()
    for _, bad in ipairs { math.huge, -math.huge } do
      local kept, reason = drive({ 1, 0.8, 0.7, bad, 0.5 }, S.new("none"), stop.non_finite())
      assert.are.equal(4, kept)
      assert.are.equal("non_finite", reason)
    end
  end)

  it("also looks at the smoothed value, and says which", function()
    local rule = stop.non_finite()
    local stopped, reason, msg = rule { step = 4, loss = 1, smoothed = math.huge }
    assert.is_true(stopped)
    assert.are.equal("non_finite", reason)
    assert.are.equal("non-finite loss 1 (smoothed inf) at step 4", msg)
    local _, _, msg2 = rule { step = 2, loss = 0 / 0, smoothed = 0 / 0 }
    assert.are.equal("non-finite loss nan (smoothed nan) at step 2", msg2)
    assert.is_false(rule { step = 1, loss = 1, smoothed = 1 })
  end)

  it("the divergence rule alone would run on through NaN", function()
    local kept, reason = drive({ 1.0, 0.9, 0 / 0, 0.5, 0.4 }, S.new("ema"), stop.divergence())
    assert.are.equal(5, kept)
    assert.is_nil(reason)
  end)
end)

describe("user rules and combinations", function()
  it("any function of state is a rule; state has the documented fields", function()
    local fields
    local rising = function(state)
      fields = state
      local l = state.losses
      local k = state.step
      if k >= 3 and l[k] > l[k - 1] and l[k - 1] > l[k - 2] then
        return true, "rising", "three rising losses"
      end
      return false
    end
    local kept, reason = drive({ 3, 2, 1, 1.5, 2, 2.5, 0.1 }, S.new("none"), rising)
    assert.are.equal(5, kept)
    assert.are.equal("rising", reason)
    for _, f in ipairs { "step", "lr", "loss", "smoothed", "best", "num_iter", "lrs", "losses",
                         "smoothed_losses" } do
      assert.is_not_nil(fields[f], f)
    end
  end)

  it("stop.any: the first rule that says stop decides, names and functions mixed", function()
    local calls = {}
    local function spy(name, result)
      return function() calls[#calls + 1] = name; return result, name end
    end
    local rule = stop.any { spy("a", false), "non_finite", spy("b", true), spy("c", true) }
    local stopped, reason = rule { step = 1, loss = 1, smoothed = 1, best = 1 }
    assert.is_true(stopped)
    assert.are.equal("b", reason)
    assert.are.same({ "a", "b" }, calls)
    local _, r2 = rule { step = 2, loss = 0 / 0, smoothed = 0 / 0, best = 1 }
    assert.are.equal("non_finite", r2)
    assert.is_false(stop.any {} { step = 1, loss = 1 })
  end)

  it("stop.any rejects unknown names, listing the known ones", function()
    local ok, err = pcall(stop.any, { "non_finite", "patience" })
    assert.is_false(ok)
    assert.is_truthy(err:find("rules[2]: unknown stopping rule 'patience' "
      .. "(known: default, divergence, non_finite)", 1, true), err)
    ok, err = pcall(stop.any, "divergence")
    assert.is_false(ok)
    assert.is_truthy(err:find("'rules' must be an array", 1, true), err)
  end)

  it("stop.default: non-finite first, then divergence at diverge_th (5); false turns it off", function()
    local d = stop.default()
    assert.is_true(d { step = 3, loss = 5.5, smoothed = 5.5, best = 1 })
    assert.is_false(d { step = 3, loss = 4.5, smoothed = 4.5, best = 1 })
    local _, reason = d { step = 3, loss = 0 / 0, smoothed = 0 / 0, best = 1 }
    assert.are.equal("non_finite", reason)
    local d4 = stop.default { diverge_th = 4 }
    assert.is_true(d4 { step = 3, loss = 4.5, smoothed = 4.5, best = 1 })
    local off = stop.default { diverge_th = false }
    assert.is_false(off { step = 3, loss = 1e9, smoothed = 1e9, best = 1 })
    assert.is_true(off { step = 3, loss = math.huge, smoothed = math.huge, best = 1 })
    local ok, err = pcall(stop.default, { diverge_th = "x" })
    assert.is_false(ok)
    assert.is_truthy(err:find("'diverge_th' must be a finite number > 0 or false", 1, true), err)
  end)

  it("stop.get builds a rule from a name and options; a function passes through", function()
    local r = stop.get("divergence", { threshold = 4 })
    assert.is_true(r { step = 2, loss = 4.5, smoothed = 4.5, best = 1 })
    local f = function() return false end
    assert.are.equal(f, stop.get(f))
    local ok, err = pcall(stop.get, "nope")
    assert.is_false(ok)
    assert.is_truthy(err:find("stopping.get: unknown stopping rule 'nope'", 1, true), err)
  end)

  -- (Before the one registry contract, stop.register(name, f) took a bare
  -- factory; a factory is now {factory = f}, as in the other registries.)
  it("stop.register adds a named factory as {factory = f}", function()
    stop.register("max_loss", { factory = function(opts)
      return function(state)
        if state.loss > opts.max then return true, "max_loss" end
        return false
      end
    end })
    local rule = stop.get("max_loss", { max = 10 })
    assert.is_true(rule { step = 1, loss = 11 })
    local combined = stop.any { stop.get("max_loss", { max = 3 }), "divergence" }
    local kept, reason = drive({ 1, 2, 3, 4, 5 }, S.new("none"), combined)
    assert.are.equal(4, kept)
    assert.are.equal("max_loss", reason)
    assert.is_truthy(table.concat(stop.names(), ","):find("max_loss", 1, true))
  end)

  it("stop.register stores a plain rule as it is; stop.any says so about an old-style factory", function()
    local rule = function(state) return state.step >= 3, "three" end
    stop.register("three", rule)
    assert.are.equal(rule, stop.get("three"))
    local kept, reason = drive({ 1, 1, 1, 1 }, S.new("none"), stop.any { "three" })
    assert.are.equal(3, kept)
    assert.are.equal("three", reason)
    local ok, err = pcall(stop.get, "three", { n = 2 })
    assert.is_false(ok)
    assert.is_truthy(err:find("stopping rule 'three' is a plain function and takes no options (got n)",
      1, true), err)
    stop.register("old_style", function() return function() return false end end)
    ok, err = pcall(stop.any { "old_style" }, { step = 1, loss = 1 })
    assert.is_false(ok)
    assert.is_truthy(err:find("rule 'old_style' answered with a function", 1, true), err)
    assert.is_truthy(err:find("{factory = f}", 1, true), err)
  end)
end)
