-- spec/schedules_spec.lua — lrengine.schedules: exact end points, agreement
-- with pytorch-lr-finder's ExponentialLR/LinearLR, monotonicity, n = 1,
-- argument errors and names.
--
-- The "pytorch-lr-finder" values were printed by scripts/reference_heuristics.py
-- from torch_lr_finder 0.2.2 (torch 2.15.0): the learning rates its
-- range_test records, as %.17g (bit-exact).

local sched = require "lrengine.schedules"

describe("schedules.exp", function()
  it("gives start_lr at step 1 and end_lr at step n, exactly", function()
    for _, c in ipairs { { 1e-7, 500, 100 }, { 1e-7, 10, 100 }, { 3e-5, 7.3, 2 },
                         { 1e-8, 1, 37 }, { 0.1, 1e-3, 11 } } do
      local a, b, n = c[1], c[2], c[3]
      assert.are.equal(a, sched.exp(1, n, a, b))
      assert.are.equal(b, sched.exp(n, n, a, b))
    end
  end)

  it("matches pytorch-lr-finder's ExponentialLR bit for bit", function()
    assert.are.equal(1.2530528654877047e-07, sched.exp(2, 100, 1e-7, 500))
    assert.are.equal(0.006316846231687715, sched.exp(50, 100, 1e-7, 500))
    assert.are.equal(399.0254631478728, sched.exp(99, 100, 1e-7, 500))
    assert.are.equal(1.2045035402587822e-07, sched.exp(2, 100, 1e-7, 10))
    assert.are.equal(0.0009111627561154895, sched.exp(50, 100, 1e-7, 10))
    assert.are.equal(8.302175681319753, sched.exp(99, 100, 1e-7, 10))
  end)

  it("is geometric: a constant ratio between steps", function()
    local r = 10 ^ (1 / 9)   -- 1e-3 -> 1e-2 over 10 points
    for s = 1, 9 do
      local q = sched.exp(s + 1, 10, 1e-3, 1e-2) / sched.exp(s, 10, 1e-3, 1e-2)
      assert.is_true(math.abs(q - r) < 1e-12, ("step %d: ratio %.17g, want %.17g"):format(s, q, r))
    end
  end)

  it("rises strictly from start to end, and falls when end < start", function()
    local prev = 0
    for s = 1, 100 do
      local lr = sched.exp(s, 100, 1e-7, 500)
      assert.is_true(lr > prev, ("step %d: %.17g after %.17g"):format(s, lr, prev))
      prev = lr
    end
    prev = math.huge
    for s = 1, 20 do
      local lr = sched.exp(s, 20, 1, 1e-4)
      assert.is_true(lr < prev, ("step %d: %.17g after %.17g"):format(s, lr, prev))
      prev = lr
    end
  end)

  it("gives start_lr for n = 1 (no division by zero)", function()
    assert.are.equal(1e-7, sched.exp(1, 1, 1e-7, 500))
  end)

  it("accepts integral floats for step and n", function()
    assert.are.equal(sched.exp(5, 10, 1e-5, 1), sched.exp(5.0, 10.0, 1e-5, 1))
  end)

  it("rejects bad arguments, naming them", function()
    local bad = {
      { { 0, 10, 1e-7, 1 }, "'step' must be an integer in 1..10" },
      { { 11, 10, 1e-7, 1 }, "'step' must be an integer in 1..10" },
      { { 1.5, 10, 1e-7, 1 }, "'step'" },
      { { "1", 10, 1e-7, 1 }, "'step'" },
      { { 1, 0, 1e-7, 1 }, "'num_iter' must be an integer >= 1" },
      { { 1, 2.5, 1e-7, 1 }, "'num_iter'" },
      { { 1, 10, 0, 1 }, "'start_lr' must be > 0" },
      { { 1, 10, -1e-3, 1 }, "'start_lr' must be > 0" },
      { { 1, 10, 1e-7, 0 }, "'end_lr' must be > 0" },
      { { 1, 10, 0 / 0, 1 }, "'start_lr' must be a finite number" },
      { { 1, 10, 1e-7, math.huge }, "'end_lr' must be a finite number" },
      { { 1, 10, nil, 1 }, "'start_lr'" },
    }
    for _, b in ipairs(bad) do
      local a = b[1]
      local ok, err = pcall(sched.exp, a[1], a[2], a[3], a[4])
      assert.is_false(ok)
      assert.is_truthy(err:find(b[2], 1, true), err)
      assert.is_truthy(err:find("schedules.exp", 1, true), err)
    end
  end)

  it("reports errors at the caller's line", function()
    local ok, err = pcall(function()
      local lr = sched.exp(0, 10, 1e-7, 1)
      return lr
    end)
    assert.is_false(ok)
    assert.is_truthy(err:find("schedules_spec.lua:%d+:"), err)
  end)
end)

describe("schedules.linear", function()
  it("gives start_lr at step 1 and end_lr at step n, exactly", function()
    for _, c in ipairs { { 1e-4, 1, 11 }, { 0.1, 0.3, 7 }, { 1e-7, 10, 100 }, { 0, 1, 3 } } do
      local a, b, n = c[1], c[2], c[3]
      assert.are.equal(a, sched.linear(1, n, a, b))
      assert.are.equal(b, sched.linear(n, n, a, b))
    end
  end)

  it("matches pytorch-lr-finder's LinearLR bit for bit", function()
    assert.are.equal(0.10009000000000001, sched.linear(2, 11, 1e-4, 1))
    assert.are.equal(0.40006, sched.linear(5, 11, 1e-4, 1))
    assert.are.equal(0.90001, sched.linear(10, 11, 1e-4, 1))
  end)

  it("takes equal steps and rises strictly", function()
    local prev = -1
    for s = 1, 11 do
      local lr = sched.linear(s, 11, 0, 1)
      assert.is_true(math.abs(lr - (s - 1) / 10) < 1e-15, ("step %d: %.17g"):format(s, lr))
      assert.is_true(lr > prev)
      prev = lr
    end
  end)

  it("gives start_lr for n = 1", function()
    assert.are.equal(0.25, sched.linear(1, 1, 0.25, 4))
  end)

  it("rejects bad arguments, naming them", function()
    local bad = {
      { { 0, 5, 0.1, 1 }, "'step'" },
      { { 6, 5, 0.1, 1 }, "'step'" },
      { { 1, -1, 0.1, 1 }, "'num_iter'" },
      { { 1, 5, -0.1, 1 }, "'start_lr' must be >= 0" },
      { { 1, 5, 0.1, -1 }, "'end_lr' must be >= 0" },
      { { 1, 5, 0.1, 0 / 0 }, "'end_lr' must be a finite number" },
    }
    for _, b in ipairs(bad) do
      local a = b[1]
      local ok, err = pcall(sched.linear, a[1], a[2], a[3], a[4])
      assert.is_false(ok)
      assert.is_truthy(err:find(b[2], 1, true), err)
      assert.is_truthy(err:find("schedules.linear", 1, true), err)
    end
  end)
end)

describe("schedule names", function()
  it("resolves names and passes functions through", function()
    assert.are.equal(sched.exp, sched.get("exp"))
    assert.are.equal(sched.linear, sched.get("linear"))
    local f = function(_, _, a) return a end
    assert.are.equal(f, sched.get(f))
    assert.are.same({ "exp", "fastai", "lightning", "linear" }, sched.names())
  end)

  it("errors on an unknown name, listing the known ones", function()
    local ok, err = pcall(sched.get, "cosine")
    assert.is_false(ok)
    assert.is_truthy(err:find("unknown schedule 'cosine' (known: exp, fastai, lightning, linear)", 1, true), err)
    ok, err = pcall(sched.get, 42)
    assert.is_false(ok)
    assert.is_truthy(err:find("must be a name or a function", 1, true), err)
  end)

  it("registers a user schedule under a new name", function()
    -- fastai's lr_find sequence: never reaches end_lr
    local fastai = function(s, n, a, b) return a * (b / a) ^ ((s - 1) / n) end
    sched.register("fastai_exp_test", fastai)
    assert.are.equal(fastai, sched.get("fastai_exp_test"))
    assert.are.equal(1e-7, sched.get("fastai_exp_test")(1, 100, 1e-7, 10))
    local ok, err = pcall(sched.register, "x", 3)
    assert.is_false(ok)
    assert.is_truthy(err:find("schedules.register: schedule 'x' must be a function", 1, true), err)
    ok, err = pcall(sched.register, "", fastai)
    assert.is_false(ok)
    assert.is_truthy(err:find("non-empty string", 1, true), err)
  end)
end)

describe("the other libraries' schedules", function()
  it("fastai: start·(end/start)^((step-1)/n), never reaching end_lr", function()
    assert.are.equal(1e-7, sched.fastai(1, 100, 1e-7, 10))
    assert.are.equal(1e-7 * (10 / 1e-7) ^ (99 / 100), sched.fastai(100, 100, 1e-7, 10))
    assert.is_true(sched.fastai(100, 100, 1e-7, 10) < 10)
  end)

  it("lightning: start at step 1, then start·(end/start)^(step/n), reaching end_lr", function()
    assert.are.equal(1e-8, sched.lightning(1, 100, 1e-8, 1))
    assert.are.equal(1e-8 * (1 / 1e-8) ^ (2 / 100), sched.lightning(2, 100, 1e-8, 1))
    assert.are.equal(1e-8 * (1 / 1e-8) ^ 1.0, sched.lightning(100, 100, 1e-8, 1))
  end)
end)
