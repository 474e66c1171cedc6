-- spec/heuristics_spec.lua — lrengine.heuristics against the libraries they
-- mirror, on fixed curves: the user's note, NaN / inf / -inf in the middle
-- and first, monotone, flat, short, and fastai's valley and slide corners.
--
-- Every expected index below was computed by scripts/reference_heuristics.py
-- with the libraries' own code — torch-lr-finder 0.2.2 (LRFinder.plot),
-- fastai 2.8.12 (valley, slide, minimum, steep after lr_find's trimming),
-- lightning 2.6.6 (_LRFinder.suggestion), pytorch-ignite 0.5.5
-- (FastaiLRFinder.lr_suggestion); numpy 2.4.6, torch 2.15.0 — in float64,
-- after lrengine's cut before the first non-finite loss. Each of these also
-- comes out the same in float32 (what fastai, Lightning and Ignite use),
-- except Lightning on the flat curve, where rounding noise breaks the tie.

local H = require "lrengine.heuristics"
local S = require "lrengine.smoothing"
local sched = require "lrengine.schedules"
local stop = require "lrengine.stopping"

local NAN, INF = 0 / 0, math.huge
local NAMES = { "steepest", "steep", "valley", "slide", "minimum", "lightning", "ignite" }

local function exp_lrs(n, a, b)
  local t = {}
  for s = 1, n do t[s] = sched.exp(s, n, a, b) end
  return t
end

local function concat(...)
  local out = {}
  for _, t in ipairs { ... } do for _, v in ipairs(t) do out[#out + 1] = v end end
  return out
end

local function rep(v, n)
  local t = {}
  for i = 1, n do t[i] = v end
  return t
end

local function range(n, f)
  local t = {}
  for i = 0, n - 1 do t[#t + 1] = f(i) end
  return t
end

-- The user's note: raw validation losses over exp 1e-7 -> 500, 100 steps.
local NOTE_RAW = require "spec.note_curve"

local FALL = { 3.0, 2.9, 2.95, 2.7, 2.5, 2.6, 2.2, 1.9, 1.95, 1.5, 1.2, 1.25, 1.0, 0.9, 0.95,
               0.8, 0.85, 1.1, 1.6, 2.4 }
local BUMPY = range(16, function(i) return 2 - i * i / 256 + (i % 3 == 0 and 1 / 32 or 0) end)

-- name -> { lrs, losses }, as curves() in the reference script.
local CURVES = {
  note = { exp_lrs(100, 1e-7, 500), NOTE_RAW },
  note_smoothed = { exp_lrs(100, 1e-7, 500), S.ema(NOTE_RAW, 0.05) },
  nan_mid = { exp_lrs(30, 1e-6, 1), concat(FALL, { NAN }, rep(0.1, 9)) },
  inf_mid = { exp_lrs(30, 1e-6, 1), concat(FALL, { INF }, rep(0.1, 9)) },
  neg_inf_mid = { exp_lrs(30, 1e-6, 1), concat(FALL, { -INF }, rep(0.1, 9)) },
  nan_first = { exp_lrs(30, 1e-6, 1), concat({ NAN }, FALL, rep(0.1, 9)) },
  decreasing = { exp_lrs(30, 1e-6, 1), range(30, function(i) return 20 - i * i / 64 end) },
  increasing = { exp_lrs(30, 1e-6, 1), range(30, function(i) return 1 + i * i / 64 end) },
  flat = { exp_lrs(30, 1e-6, 1), rep(1.0, 30) },
  valley_two_first = { exp_lrs(5, 1e-4, 1), { 2.0, 1.0, 3.0, 3.0, 3.0 } },
  short0 = { {}, {} },
  short1 = { { 1e-3 }, { 1.0 } },
  short2 = { { 1e-3, 1e-2 }, { 1.0, 0.5 } },
  short3 = { { 1e-3, 1e-2, 1e-1 }, { 1.0, 0.5, 0.75 } },
  slide16 = { exp_lrs(16, 1e-4, 1), BUMPY },
  slide15 = { exp_lrs(15, 1e-4, 1), { table.unpack(BUMPY, 1, 15) } },
}

local NONE = { skip_start = 0, skip_end = 0 }
-- { curve, opts, expected 1-based index per heuristic (false: no suggestion) }
local EXPECT = {
  { "note", {}, { steepest = 41, steep = 40, valley = 35, slide = 35, minimum = 55, lightning = 11, ignite = 41 } },
  { "note", NONE, { steepest = 41, steep = 40, valley = 34, slide = 35, minimum = 55, lightning = 8, ignite = 41 } },
  { "note", { num_iter = 200 }, { steepest = 41, steep = 40, valley = 37, slide = 35, minimum = 55, lightning = 11, ignite = 41 } },
  { "note_smoothed", {}, { steepest = 49, steep = 48, valley = 37, slide = 43, minimum = 65, lightning = 16, ignite = 49 } },
  { "note_smoothed", NONE, { steepest = 49, steep = 48, valley = 37, slide = 43, minimum = 65, lightning = 9, ignite = 49 } },
  { "nan_mid", {}, { steepest = 13, steep = 9, valley = 9, slide = false, minimum = 14, lightning = 13, ignite = 10 } },
  { "inf_mid", {}, { steepest = 13, steep = 9, valley = 9, slide = false, minimum = 14, lightning = 13, ignite = 10 } },
  { "neg_inf_mid", {}, { steepest = 13, steep = 9, valley = 9, slide = false, minimum = 14, lightning = 13, ignite = 10 } },
  { "nan_first", {}, { steepest = false, steep = false, valley = false, slide = false, minimum = false, lightning = false, ignite = false } },
  { "nan_mid", NONE, { steepest = 10, steep = 9, valley = 9, slide = 1, minimum = 16, lightning = 1, ignite = 10 } },
  { "decreasing", {}, { steepest = 25, steep = 24, valley = 13, slide = 4, minimum = 25, lightning = 11, ignite = 29 } },
  { "increasing", {}, { steepest = 11, steep = 4, valley = 4, slide = 4, minimum = 4, lightning = 29, ignite = false } },
  { "flat", {}, { steepest = 11, steep = 4, valley = 4, slide = 10, minimum = 4, ignite = false } },
  { "decreasing", NONE, { steepest = 30, steep = 29, valley = 15, slide = 1, minimum = 30, lightning = 3, ignite = 29 } },
  { "increasing", NONE, { steepest = 1, steep = 1, valley = 1, slide = 1, minimum = 1, lightning = 30, ignite = false } },
  { "flat", NONE, { steepest = 1, steep = 1, valley = 1, slide = 15, minimum = 1, ignite = false } },
  { "valley_two_first", NONE, { steepest = 1, steep = 1, valley = 5, slide = false, minimum = 2, lightning = 1, ignite = false } },
  { "short0", NONE, { steepest = false, steep = false, valley = false, slide = false, minimum = false, lightning = false, ignite = false } },
  { "short1", NONE, { steepest = false, steep = false, valley = 1, slide = false, minimum = 1, lightning = false, ignite = false } },
  { "short2", NONE, { steepest = 1, steep = 1, valley = 2, slide = false, minimum = 2, lightning = 1, ignite = false } },
  { "short3", NONE, { steepest = 1, steep = 1, valley = 3, slide = false, minimum = 2, lightning = 1, ignite = false } },
  { "short3", {}, { steepest = false, steep = false, valley = false, slide = false, minimum = false, lightning = false, ignite = false } },
  { "slide16", NONE, { steepest = 14, steep = 13, valley = 8, slide = 1, minimum = 16, lightning = 1, ignite = 14 } },
  { "slide15", NONE, { steepest = 14, steep = 13, valley = 7, slide = false, minimum = 15, lightning = 1, ignite = 14 } },
}

local function opts_str(o)
  local parts = {}
  for k, v in pairs(o) do parts[#parts + 1] = k .. "=" .. tostring(v) end
  table.sort(parts)
  return "{" .. table.concat(parts, ",") .. "}"
end

describe("heuristics against the libraries", function()
  for _, case in ipairs(EXPECT) do
    local cname, opts, want = case[1], case[2], case[3]
    for _, name in ipairs(NAMES) do
      local w = want[name]
      if w ~= nil then
        it(("%s on %s %s -> %s"):format(name, cname, opts_str(opts), tostring(w)), function()
          local lrs, losses = CURVES[cname][1], CURVES[cname][2]
          local lr, idx = H[name](lrs, losses, opts)
          if w == false then
            assert.is_nil(lr)
            assert.are.equal("string", type(idx))
          else
            assert.are.equal(w, idx)
            local expect_lr = lrs[w]
            if name == "minimum" then expect_lr = lrs[w] / 10 end
            assert.are.equal(expect_lr, lr)
          end
        end)
      end
    end
  end

  it("lightning on a flat curve returns a point of its window (float32 would break the tie elsewhere)", function()
    local lrs, losses = CURVES.flat[1], CURVES.flat[2]
    local lr, idx = H.lightning(lrs, losses)
    assert.is_true(idx >= 11 and idx <= 29, tostring(idx))
    assert.are.equal(lrs[idx], lr)
  end)
end)

describe("the user's note", function()
  local lrs = CURVES.note[1]

  it("np.gradient(losses).argmin() over the untrimmed curve: point 41", function()
    local lr, idx = H.steepest(lrs, NOTE_RAW, { skip_start = 0, skip_end = 0 })
    assert.are.equal(41, idx)
    assert.are.equal(sched.exp(41, 100, 1e-7, 500), lr)
    assert.is_true(lr > 8e-4 and lr < 9e-4, tostring(lr))
  end)

  it("the whole flow: EMA 0.05, stop at 5x (89 points), np.gradient on the history: point 49", function()
    local sm, rule = S.new("ema", { smooth_f = 0.05 }), stop.default { diverge_th = 5 }
    local st = { num_iter = 100, lrs = {}, losses = {}, smoothed_losses = {} }
    for step = 1, 100 do
      local s = sm:push(NOTE_RAW[step])
      if st.best == nil or s < st.best then st.best = s end
      st.step, st.lr, st.loss, st.smoothed = step, lrs[step], NOTE_RAW[step], s
      st.lrs[step], st.losses[step], st.smoothed_losses[step] = st.lr, st.loss, s
      if rule(st) then break end
    end
    assert.are.equal(89, #st.smoothed_losses)
    local lr, idx = H.steepest(st.lrs, st.smoothed_losses, { skip_start = 0, skip_end = 0 })
    assert.are.equal(49, idx)
    assert.are.equal(lrs[49], lr)
    -- pytorch-lr-finder's own plot() trimming on that history gives the same point
    assert.are.equal(49, select(2, H.steepest(st.lrs, st.smoothed_losses)))
  end)
end)

describe("heuristic details", function()
  it("slide takes lr_diff, thresh and adjust_value", function()
    local lrs, losses = CURVES.note[1], CURVES.note[2]
    local lr, idx = H.slide(lrs, losses, { adjust_value = 0.5 })
    assert.are.equal(35, idx)
    assert.are.equal(lrs[35] * 0.5, lr)
    local _, i2 = H.slide(lrs, losses, { thresh = 1e9 })   -- never slides: lrs[-16]
    assert.are.equal(100 - 5 - 15, i2)
    local _, i3 = H.slide(CURVES.slide15[1], CURVES.slide15[2], { skip_start = 0, skip_end = 0, lr_diff = 14 })
    assert.are.equal(1, i3)
    local none, why = H.slide(CURVES.slide15[1], CURVES.slide15[2], NONE)
    assert.is_nil(none)
    assert.is_truthy(why:find("slide needs at least 16 points, 15 left", 1, true), why)
  end)

  it("fastai's trimming follows num_iter: num_it // 10 from the start, 5 from the end", function()
    local lrs, losses = CURVES.decreasing[1], CURVES.decreasing[2]
    -- 30 points: skip 3 and 5 -> the lowest loss left is point 25
    assert.are.equal(25, select(2, H.minimum(lrs, losses)))
    assert.are.equal(25, select(2, H.minimum(lrs, losses, { num_iter = 100 })))
    local _, why = H.minimum(lrs, losses, { num_iter = 300 })   -- skips 30: nothing left
    assert.is_truthy(why:find("minimum needs at least 1 points, 0 left (30 given", 1, true), why)
  end)

  it("lightning accepts skip_begin as well as skip_start", function()
    local lrs, losses = CURVES.note[1], CURVES.note[2]
    assert.are.same({ H.lightning(lrs, losses, { skip_begin = 30 }) },
                    { H.lightning(lrs, losses, { skip_start = 30 }) })
    assert.are.equal(31, select(2, H.lightning(lrs, losses, { skip_begin = 30 })))
  end)

  it("ignite refuses a curve whose minimum comes too early", function()
    local lr, why = H.ignite({ 1, 2, 3, 4 }, { 1.0, 0.5, 0.9, 2.0 })
    assert.is_nil(lr)
    assert.is_truthy(why:find("U-shaped", 1, true), why)
    local lr2, idx = H.ignite({ 1, 2, 3, 4 }, { 1.0, 0.7, 0.5, 2.0 })
    assert.are.equal(2, idx)
    assert.are.equal(2, lr2)
  end)

  it("the reason for a cut curve says how many points were left and why", function()
    local _, why = H.steepest(CURVES.nan_first[1], CURVES.nan_first[2])
    assert.are.equal("steepest needs at least 2 points, 0 left (30 given, 0 before the "
      .. "first non-finite loss, 10 skipped at the start and 5 at the end)", why)
  end)

  it("does not change its arguments", function()
    local lrs, losses = exp_lrs(30, 1e-6, 1), concat(FALL, { NAN }, rep(0.1, 9))
    for _, name in ipairs(NAMES) do H[name](lrs, losses, {}) end
    assert.are.same(exp_lrs(30, 1e-6, 1), lrs)
    assert.are.equal(30, #losses)
    assert.are.equal(0.1, losses[30])
  end)

  it("rejects bad arguments, naming them", function()
    local lrs, losses = { 1, 2, 3 }, { 3, 2, 1 }
    local bad = {
      { { "x", losses }, "'lrs' must be an array of numbers" },
      { { lrs, nil }, "'losses' must be an array of numbers" },
      { { lrs, { 1, 2 } }, "'lrs' and 'losses' must have the same length (got 3 and 2)" },
      { { lrs, { 1, "2", 3 } }, "'losses[2]' must be a number" },
      { { { 1, true, 3 }, losses }, "'lrs[2]' must be a number" },
      { { lrs, losses, 5 }, "'opts' must be a table" },
      { { lrs, losses, { skip_start = -1 } }, "'opts.skip_start' must be an integer >= 0" },
      { { lrs, losses, { skip_end = 1.5 } }, "'opts.skip_end' must be an integer >= 0" },
    }
    for _, name in ipairs(NAMES) do
      for _, b in ipairs(bad) do
        local a = b[1]
        local ok, err = pcall(H[name], a[1], a[2], a[3])
        assert.is_false(ok, name)
        assert.is_truthy(err:find(b[2], 1, true), name .. ": " .. err)
        assert.is_truthy(err:find("heuristics." .. name, 1, true), err)
      end
    end
    local ok, err = pcall(H.valley, lrs, losses, { num_iter = -3 })
    assert.is_false(ok)
    assert.is_truthy(err:find("'opts.num_iter' must be an integer >= 0", 1, true), err)
    ok, err = pcall(H.slide, lrs, losses, { thresh = "x" })
    assert.is_false(ok)
    assert.is_truthy(err:find("'opts.thresh' must be a number", 1, true), err)
    ok, err = pcall(function()
      local lr = H.steepest(lrs, losses, { skip_start = -1 })
      return lr
    end)
    assert.is_truthy(err:find("heuristics_spec.lua:%d+:"), err)
  end)
end)

describe("heuristic names", function()
  it("knows the seven built-in names", function()
    assert.are.same({ "ignite", "lightning", "minimum", "slide", "steep", "steepest", "valley" }, H.names())
    for _, name in ipairs(NAMES) do assert.are.equal(H[name], H.get(name)) end
  end)

  it("errors on an unknown name, listing the known ones", function()
    local ok, err = pcall(H.get, "stepest")
    assert.is_false(ok)
    assert.is_truthy(err:find("heuristics.get: unknown heuristic 'stepest' (known: ignite, "
      .. "lightning, minimum, slide, steep, steepest, valley)", 1, true), err)
  end)

  it("registers a user heuristic, usable by name and in suggest", function()
    -- the lowest loss, cut at the first non-finite one: a new rule in a few lines
    local function lowest(lrs, losses)
      local best
      for i, l in ipairs(losses) do
        if l ~= l or l == math.huge or l == -math.huge then break end
        if not best or l < losses[best] then best = i end
      end
      if not best then return nil, "empty curve" end
      return lrs[best], best
    end
    H.register("lowest", lowest)
    assert.are.equal(lowest, H.get("lowest"))
    local r = H.suggest(CURVES.nan_mid[1], CURVES.nan_mid[2], { "lowest", "steepest", "slide" })
    assert.are.same({ lr = CURVES.nan_mid[1][16], index = 16 }, r.lowest)
    assert.are.same({ lr = CURVES.nan_mid[1][13], index = 13 }, r.steepest)
    assert.are.equal("string", type(r.slide.reason))
    local ok, err = pcall(H.register, "bad", "not a function")
    assert.is_false(ok)
    assert.is_truthy(err:find("heuristics.register: heuristic 'bad' must be a function", 1, true), err)
  end)

  it("suggest names functions, merges per-heuristic opts and runs all by default", function()
    local lrs, losses = CURVES.note[1], CURVES.note[2]
    local anon = function(l) return l[1], 1 end
    local r = H.suggest(lrs, losses, { H.valley, anon, mine = anon, "steepest" },
      { steepest = { skip_start = 0, skip_end = 0 } })
    assert.are.same({ lr = lrs[35], index = 35 }, r.valley)
    assert.are.same({ lr = lrs[1], index = 1 }, r.custom2)
    assert.are.same({ lr = lrs[1], index = 1 }, r.mine)
    assert.are.equal(41, r.steepest.index)
    local all = H.suggest(lrs, losses)
    for _, name in ipairs(NAMES) do assert.is_not_nil(all[name], name) end
    local ok, err = pcall(H.suggest, lrs, losses, { "nope" })
    assert.is_false(ok)
    assert.is_truthy(err:find("which[1]: unknown heuristic 'nope'", 1, true), err)
  end)

  it("resolve gives the function and the name to file it under", function()
    assert.are.same({ H.valley, "valley" }, { H.resolve("valley") })
    assert.are.same({ H.valley, "valley" }, { H.resolve(H.valley, 3) })
    local f = function() end
    assert.are.same({ f, "custom" }, { H.resolve(f) })
    assert.are.same({ f, "custom" }, { H.resolve(f, 1) })
    assert.are.same({ f, "custom4" }, { H.resolve(f, 4) })
    local ok, err = pcall(H.resolve, "nope")
    assert.is_false(ok)
    assert.is_truthy(err:find("heuristics.resolve: unknown heuristic 'nope' (known:", 1, true), err)
  end)
end)

describe("built-in heuristics' options", function()
  local H = require "lrengine.heuristics"
  local lrs, losses = {}, {}
  for i = 1, 50 do lrs[i], losses[i] = 10 ^ (-5 + i / 10), 1 / i end
  it("refuse an unknown key, naming it and the ones they take", function()
    for _, name in ipairs { "steepest", "steep", "valley", "slide", "minimum", "lightning", "ignite" } do
      local ok, err = pcall(H[name], lrs, losses, { skip_strat = 1 })
      assert.is_false(ok, name)
      assert.truthy(err:find("unknown option 'skip_strat'", 1, true), err)
      assert.truthy(err:find("skip_start", 1, true), err)
      assert.is_true((pcall(H[name], lrs, losses, { num_iter = 50 })), name)
    end
  end)
end)

describe("valley on long curves", function()
  local H = require "lrengine.heuristics"
  -- fastai's O(n^2) programme, quirks and all (the module's before it
  -- became O(n log n)): the index it picks in a window first..first+n-1
  local function fastai_valley(losses, first, n)
    local L, lds = {}, {}
    for i = 0, n - 1 do L[i], lds[i] = losses[first + i], 1 end
    local max_start, max_end = 0, 0
    for i = 1, n - 1 do
      for j = 0, i - 1 do
        if L[i] < L[j] and lds[i] < lds[j] + 1 then lds[i] = lds[j] + 1 end
        if lds[max_end] < lds[i] then
          max_end = i
          max_start = max_end - lds[max_end]
        end
      end
    end
    local sections = (max_end - max_start) / 3
    local idx = max_start + math.floor(sections) + math.floor(sections / 2)
    if idx < 0 then idx = idx + n end
    return first + idx
  end

  it("picks what fastai's O(n^2) programme picks, on 4,000 random curves", function()
    local seed = 12345
    local function rnd(k) -- a small LCG: the same curves on every Lua
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % k
    end
    for trial = 1, 4000 do
      local n = 1 + rnd(70)
      local lrs, losses = {}, {}
      local levels = 1 + rnd(9) -- few levels: many ties
      for i = 1, n do
        lrs[i] = 10 ^ (-6 + i / 10)
        losses[i] = rnd(levels) + (trial % 4 == 0 and rnd(1000) / 1000 or 0)
      end
      local s = trial % 3 == 0 and rnd(4) or 0
      local _, got = H.valley(lrs, losses, { skip_start = s, skip_end = 0 })
      if n - s >= 1 then
        assert.are.equal(fastai_valley(losses, 1 + s, n - s), got,
          ("trial %d: n %d skip %d, losses %s"):format(trial, n, s, table.concat(losses, ",")))
      end
    end
  end)
end)
