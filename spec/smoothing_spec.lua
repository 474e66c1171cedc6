-- spec/smoothing_spec.lua — lrengine.smoothing: pytorch-lr-finder's EMA and
-- fastai's debiased average, on whole curves and step by step.
--
-- Hand-computed values are in the comments. The library values were printed
-- by scripts/reference_heuristics.py (torch-lr-finder 0.2.2, fastai 2.8.12,
-- lightning 2.6.6, torch 2.15.0, float64): pytorch-lr-finder's
-- history["loss"] from range_test on the scripted losses below, fastai's
-- AvgSmoothLoss, Lightning's _LRCallback.

local S = require "lrengine.smoothing"

local RAW = { 2.5, 2.0, 2.25, 1.0, 0.5 }

local function close(want, got, rel)
  rel = rel or 1e-13
  assert.are.equal(#want, #got)
  for i = 1, #want do
    local d = math.abs(want[i] - got[i])
    assert.is_true(d <= rel * math.abs(want[i]),
      ("[%d]: want %.17g, got %.17g (diff %.3g)"):format(i, want[i], got[i], d))
  end
end

describe("smoothing.ema", function()
  it("keeps the first value and smooths against the previous smoothed value", function()
    -- 2.5; .05*2 + .95*2.5 = 2.475; .05*2.25 + .95*2.475 = 2.46375;
    -- .05*1 + .95*2.46375 = 2.3905625; .05*.5 + .95*2.3905625 = 2.296034375
    close({ 2.5, 2.475, 2.46375, 2.3905625, 2.296034375 }, S.ema(RAW, 0.05), 1e-15)
  end)

  it("is bit-identical to pytorch-lr-finder's history['loss']", function()
    assert.are.same({ 2.5, 2.475, 2.4637499999999997, 2.3905624999999993, 2.296034374999999 },
      S.ema(RAW, 0.05))
  end)

  it("defaults to smooth_f = 0.05", function()
    assert.are.same(S.ema(RAW, 0.05), S.ema(RAW))
  end)

  it("with smooth_f = 0 returns the losses unchanged (a copy)", function()
    local out = S.ema(RAW, 0)
    assert.are.same(RAW, out)
    assert.are_not.equal(RAW, out)
  end)

  it("does not change its input and handles an empty curve", function()
    local raw = { 3, 2, 1 }
    S.ema(raw, 0.5)
    assert.are.same({ 3, 2, 1 }, raw)
    assert.are.same({}, S.ema({}, 0.05))
  end)

  it("carries a NaN to every later value, as the libraries do", function()
    local out = S.ema({ 1, 0 / 0, 1, 1 }, 0.05)
    assert.are.equal(1, out[1])
    for i = 2, 4 do assert.is_true(out[i] ~= out[i], "index " .. i) end
  end)

  it("rejects a smoothing factor outside [0, 1) and non-numbers", function()
    for _, f in ipairs { 1, -0.01, 1.5, "0.1" } do
      local ok, err = pcall(S.ema, RAW, f)
      assert.is_false(ok)
      assert.is_truthy(err:find("'smooth_f' must be a number in [0, 1)", 1, true), err)
    end
    local ok, err = pcall(S.ema, "x", 0.1)
    assert.is_false(ok)
    assert.is_truthy(err:find("'losses' must be an array", 1, true), err)
    ok, err = pcall(S.ema, { 1, "2" }, 0.1)
    assert.is_false(ok)
    assert.is_truthy(err:find("'losses[2]' must be a number", 1, true), err)
  end)
end)

describe("smoothing.debiased", function()
  it("divides the running average by 1 - beta^k", function()
    -- v1 = .02*2.5 = .05 -> .05/.02 = 2.5
    -- v2 = .98*.05 + .02*2 = .089 -> .089/(1 - .98^2) = .089/.0396
    -- v3 = .98*.089 + .02*2.25 = .13222 -> .13222/(1 - .98^3) = .13222/.058808
    local out = S.debiased(RAW, 0.98)
    close({ 2.5, 0.089 / 0.0396, 0.13222 / 0.058808 }, { out[1], out[2], out[3] }, 1e-12)
  end)

  it("agrees with fastai's AvgSmoothLoss (torch.lerp, float64)", function()
    close({ 2.5, 2.2474747474747447, 2.2483335600598546, 1.9267300633348368, 1.6297396604554693 },
      S.debiased(RAW, 0.98), 1e-14)
  end)

  it("with first_k = 2 is bit-identical to Lightning's _LRCallback", function()
    -- Lightning divides by 1 - beta^(global_step + 1), global_step = 1 at the first loss
    assert.are.same({ 1.2626262626262612, 1.5133995374778935, 1.7031671540955349,
                      1.556794759097253, 1.3716481579162567 }, S.debiased(RAW, 0.98, 2))
  end)

  it("defaults to beta = 0.98; beta = 0 returns the losses", function()
    assert.are.same(S.debiased(RAW, 0.98), S.debiased(RAW))
    assert.are.same(RAW, S.debiased(RAW, 0))
  end)

  it("a constant curve stays constant (the bias correction is exact)", function()
    close({ 3, 3, 3, 3, 3, 3 }, S.debiased({ 3, 3, 3, 3, 3, 3 }, 0.98), 1e-13)
  end)

  it("rejects bad beta and first_k", function()
    for _, b in ipairs { 1, -0.5, 2, "x" } do
      local ok, err = pcall(S.debiased, RAW, b)
      assert.is_false(ok)
      assert.is_truthy(err:find("'beta' must be a number in [0, 1)", 1, true), err)
    end
    for _, k in ipairs { 0, 1.5, "2" } do
      local ok, err = pcall(S.debiased, RAW, 0.9, k)
      assert.is_false(ok)
      assert.is_truthy(err:find("'first_k' must be an integer >= 1", 1, true), err)
    end
  end)
end)

describe("smoothing step by step", function()
  it("S.new('ema') pushes to the same values as S.ema", function()
    local sm = S.new("ema", { smooth_f = 0.05 })
    assert.is_nil(sm:value())
    assert.are.equal(0, sm:count())
    local want = S.ema(RAW, 0.05)
    for i, l in ipairs(RAW) do
      assert.are.equal(want[i], sm:push(l))
      assert.are.equal(want[i], sm:value())
      assert.are.equal(i, sm:count())
    end
    sm:reset()
    assert.is_nil(sm:value())
    assert.are.equal(2.5, sm:push(2.5))
  end)

  it("S.new('debiased') pushes to the same values as S.debiased", function()
    local sm = S.new("debiased", { beta = 0.98, first_k = 2 })
    local want = S.debiased(RAW, 0.98, 2)
    for i, l in ipairs(RAW) do assert.are.equal(want[i], sm:push(l)) end
    local d = S.new("debiased")
    assert.are.equal(S.debiased(RAW)[1], d:push(RAW[1]))
  end)

  it("'none' passes losses through, and defaults apply without opts", function()
    local sm = S.new("none")
    assert.are.equal(7, sm:push(7))
    assert.are.equal(S.ema(RAW)[2], (function()
      local e = S.new("ema"); e:push(RAW[1]); return e:push(RAW[2])
    end)())
  end)

  it("wraps a function f(loss, previous, k) into a smoother", function()
    local seen = {}
    local sm = S.new(function(loss, prev, k)
      seen[#seen + 1] = { prev, k }
      return prev and math.max(prev, loss) or loss
    end)
    assert.are.equal(1, sm:push(1))
    assert.are.equal(3, sm:push(3))
    assert.are.equal(3, sm:push(2))
    assert.are.same({ { nil, 1 }, { 1, 2 }, { 3, 3 } }, seen)
  end)

  it("returns a smoother object as it is", function()
    local sm = S.new("ema")
    assert.are.equal(sm, S.new(sm))
  end)

  it("errors on an unknown name, listing the known ones, and on bad options", function()
    local ok, err = pcall(S.new, "median")
    assert.is_false(ok)
    assert.is_truthy(err:find("unknown smoothing 'median' (known: debiased, ema, none)", 1, true), err)
    ok, err = pcall(S.new, "ema", { smooth_f = 1 })
    assert.is_false(ok)
    assert.is_truthy(err:find("'smooth_f'", 1, true), err)
    ok, err = pcall(S.new, "ema", 0.1)
    assert.is_false(ok)
    assert.is_truthy(err:find("'opts' must be a table", 1, true), err)
    ok, err = pcall(S.new, 42)
    assert.is_false(ok)
    assert.is_truthy(err:find("'kind' must be a name, a function or a smoother", 1, true), err)
    ok, err = pcall(function() S.new("ema"):push("x") end)
    assert.is_false(ok)
    assert.is_truthy(err:find("'loss' must be a number", 1, true), err)
  end)

  -- (Before the one registry contract this spec registered the factory as a
  -- plain function and checked S.get == S.new; a factory is now
  -- {factory = f}, and S.get returns a smoothing function.)
  it("registers a user smoothing factory as {factory = f}", function()
    S.register("last2", { factory = function()
      local prev
      return S.new(function(loss)
        local out = prev and (prev + loss) / 2 or loss
        prev = loss
        return out
      end)
    end })
    local sm = S.new("last2")
    assert.are.equal(4, sm:push(4))
    assert.are.equal(3, sm:push(2))
    assert.is_truthy(table.concat(S.names(), ","):find("last2", 1, true))
    local fn = S.get("last2")
    assert.are.equal("function", type(fn))
    assert.are.equal(6, fn(6, nil, 1))
    assert.are.equal(5, fn(4, 6, 2))
  end)

  it("S.get returns a smoothing function fn(loss, prev, k), the same values as S.new", function()
    for _, name in ipairs { "ema", "debiased", "none" } do
      local fn = S.get(name, { smooth_f = 0.1, beta = 0.9 })
      assert.are.equal("function", type(fn), name)
      local sm = S.new(name, { smooth_f = 0.1, beta = 0.9 })
      local prev
      for k, l in ipairs(RAW) do
        prev = fn(l, prev, k)
        assert.are.equal(sm:push(l), prev, name .. " at " .. k)
      end
    end
    -- a fresh curve (prev nil) starts afresh, also for the stateful one
    local d = S.get("debiased")
    local first = d(RAW[1], nil, 1)
    d(RAW[2], first, 2)
    assert.are.equal(first, d(RAW[1], nil, 1))
    assert.are.same(S.debiased(RAW, 0.9), (function()
      local f, out = S.get("debiased", { beta = 0.9 }), {}
      for k, l in ipairs(RAW) do out[k] = f(l, out[k - 1], k) end
      return out
    end)())
  end)

  it("says so when a plain smoothing returns a table (an old-style factory)", function()
    S.register("old_style", function() return S.new("ema") end)
    local ok, err = pcall(function() S.new("old_style"):push(1) end)
    assert.is_false(ok)
    assert.is_truthy(err:find("smoothing 'old_style' returned a table, not a number", 1, true), err)
    assert.is_truthy(err:find("{factory = f}", 1, true), err)
  end)
end)
