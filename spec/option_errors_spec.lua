-- A mistake in what the user passes -- an option of the wrong type, an
-- unknown option, a wrong argument -- is reported as such and at the user's
-- line, never at a line inside the library (lua/lrengine/*.lua) or at "[C]":
-- for every public function, also where the library passes the value on to
-- another function (a C function, a heuristic, a factory) that complains.
local lre = require "lrengine"
local finder = require "lrengine.finder"
local results = require "lrengine.results"
local schedules = require "lrengine.schedules"
local smoothing = require "lrengine.smoothing"
local stopping = require "lrengine.stopping"
local heuristics = require "lrengine.heuristics"
local plot = require "lrengine.plot"
local chart = require "lrengine.chart"
local progress = require "lrengine.progress"

local SRC = debug.getinfo(1, "S").short_src

local rows, labels = {}, {}
for i = 1, 60 do
  rows[i] = { i % 3, (i * 7) % 5, 1 }
  labels[i] = i % 3
end
local ds = lre.data.from_tables(rows, labels)
local ds2 = lre.data.from_tables({ { 1, 2 }, { 2, 1 } }, { 0, 1 }) -- 2 features, not 3
local model = lre.nn.sequential { lre.nn.linear(3, 8), lre.nn.relu(), lre.nn.linear(8, 3) }
local tr = lre.trainer { model = model, data = ds, batch_size = 8, seed = 1 }
local L, S = {}, {}
for i = 1, 30 do
  L[i] = 1e-5 * 10 ^ (i / 6)
  S[i] = 2 - math.sin(i / 10)
end
local res = results.new { lrs = L, losses = S, suggestions = { steepest = { lr = L[12], index = 12 } } }

-- case(name, what the message must say, fn): fn calls the function on the
-- line of the case (not as a tail call, which would hide that line).
local cases = {}
local function case(name, want, fn)
  cases[#cases + 1] = { name = name, want = want, fn = fn, line = debug.getinfo(2, "l").currentline }
end
local function rt(o) o.trainer = o.trainer or tr; o.num_iter = o.num_iter or 5; o.progress = false return o end

-- the range test
case("range_test start_lr", 'range_test: start_lr must be a number (got string "1e-7")', function() local r = finder.range_test(rt { start_lr = "1e-7" }) return r end)
case("range_test num_iter", "range_test: num_iter must be an integer >= 1, got x", function() local r = finder.range_test(rt { num_iter = "x" }) return r end)
case("range_test num_iter too large", "range_test: num_iter must be at most 10000000 (got 1000000000): the curve is kept in memory", function() local r = finder.range_test(rt { num_iter = 1000000000 }) return r end)
case("range_test end_lr beyond float32", "range_test: end_lr (1e+39) is above float32's largest finite value (3.4028235e+38)", function() local r = finder.range_test(rt { end_lr = 1e39 }) return r end)
case("range_test unknown option", "range_test: unknown option 'bogus'", function() local r = finder.range_test(rt { bogus = 1 }) return r end)
case("range_test val", "range_test: val must be a dataset (got number)", function() local r = finder.range_test(rt { val = 5 }) return r end)
case("range_test val that does not fit", "range_test: evaluate: the data has 2 features", function() local r = finder.range_test(rt { val = ds2, num_iter = 3 }) return r end)
case("range_test keep_state", "range_test: keep_state must be a boolean (got string)", function() local r = finder.range_test(rt { keep_state = "yes" }) return r end)
case("range_test reinit", "range_test: reinit must be a boolean (got number)", function() local r = finder.range_test(rt { reinit = 1 }) return r end)
case("range_test smooth_f", "range_test: smooth_f must be a number (got string)", function() local r = finder.range_test(rt { smooth_f = "0.1" }) return r end)
case("range_test beta", "range_test: beta must be a number (got string)", function() local r = finder.range_test(rt { beta = "0.9" }) return r end)
case("range_test suggest_opts", "range_test: suggest_opts must be a table", function() local r = finder.range_test(rt { suggest_opts = 5 }) return r end)
case("range_test suggest_opts value", "suggest_opts.steepest: heuristics.steepest: 'opts.skip_start' must be an integer >= 0 (got x)", function() local r = finder.range_test(rt { suggest = { "steepest" }, suggest_opts = { steepest = { skip_start = "x" } } }) return r end)
case("range_test suggest_opts unknown", "suggest_opts.valley: heuristics.valley: unknown option 'bogus'", function() local r = finder.range_test(rt { suggest = { "valley" }, suggest_opts = { valley = { bogus = 1 } } }) return r end)
case("range_test stop_opts value", "'threshold' must be a finite number > 0 (got x)", function() local r = finder.range_test(rt { stop = { "divergence" }, stop_opts = { divergence = { threshold = "x" } } }) return r end)

-- the engine's objects (C functions)
case("from_tables num_classes", "option 'num_classes' is a string", function() local d = lre.data.from_tables(rows, labels, { num_classes = "3" }) return d end)
case("nn.leaky_relu slope", "bad argument #1 to 'leaky_relu' (number expected, got string)", function() local m = lre.nn.leaky_relu("x") return m end)
case("loss.cross_entropy label_smoothing", "option 'label_smoothing' is a string, expected a number", function() local l = lre.loss.cross_entropy { label_smoothing = "0" } return l end)
case("optim.adam lr", "adam: option 'lr' is a string, expected a number", function() local o = lre.optim.adam { lr = "1e-3" } return o end)
case("trainer batch_size", "trainer: option 'batch_size' is a string, expected an integer", function() local t = lre.trainer { model = model, data = ds, batch_size = "8" } return t end)
case("trainer:step lr", "bad argument #1 to 'step' (number expected, got string)", function() local l = tr:step("x") return l end)
case("configure seed", "configure: option 'seed' is a string, expected an integer", function() local c = lre.configure { seed = "x" } return c end)

-- the registries and their built-ins
case("schedules.exp start_lr", "schedules.exp: 'start_lr' must be a finite number (got x)", function() local v = schedules.exp(1, 10, "x", 1) return v end)
case("schedules.get opts", "schedules.get: 'opts' must be a table (got number)", function() local f = schedules.get("exp", 5) return f end)
case("smoothing.new unknown option", "smoothing.ema: unknown option 'bogus'", function() local s = smoothing.new("ema", { bogus = 1 }) return s end)
case("smoothing.get smooth_f", "smoothing.ema: 'smooth_f' must be a number in [0, 1) (got x)", function() local f = smoothing.get("ema", { smooth_f = "x" }) return f end)
case("stopping.divergence unknown option", "stopping.divergence: unknown option 'bogus'", function() local f = stopping.divergence { bogus = 1 } return f end)
case("stopping.get unknown option", "stopping.divergence: unknown option 'treshold'", function() local f = stopping.get("divergence", { treshold = 3 }) return f end)
case("stopping.default unknown option", "stopping.default: unknown option 'bogus'", function() local f = stopping.default { bogus = 1 } return f end)
case("stopping.non_finite unknown option", "stopping.non_finite: unknown option 'bogus'", function() local f = stopping.non_finite { bogus = 1 } return f end)
case("heuristics.steepest skip_start", "heuristics.steepest: 'opts.skip_start' must be an integer >= 0 (got x)", function() local lr = heuristics.steepest(L, S, { skip_start = "x" }) return lr end)
case("heuristics.get skip_start", "heuristics.steepest: 'opts.skip_start' must be an integer >= 0 (got x)", function() local f = heuristics.get("steepest", { skip_start = "x" }) return f end)
case("heuristics.suggest lrs", "heuristics.suggest: 'lrs' must be an array of numbers (got number)", function() local s = heuristics.suggest(5, S, { "steepest" }) return s end)
case("heuristics.suggest opts value", "heuristics.steepest: 'opts.skip_end' must be an integer >= 0 (got x)", function() local s = heuristics.suggest(L, S, { "steepest" }, { skip_end = "x" }) return s end)
case("heuristics.register entry", "heuristics.register: heuristic 'mine' must be a function or {factory = f} (got number)", function() local f = heuristics.register("mine", 5) return f end)

-- results
case("results.new fields", "results.new: 'fields' must be a table (got number)", function() local r = results.new(5) return r end)
case("results.new lrs", "results.new: field 'lrs' must be an array of numbers, got a number", function() local r = results.new { lrs = 5, losses = {} } return r end)
case("results.load path", "results.load: path must be a non-empty string", function() local r = results.load(5) return r end)
case("result:save_json path", "save_json: path must be a non-empty string", function() local p = res:save_json(5) return p end)
case("result:suggest names", "suggest: heuristics.resolve: heuristic must be a name or a function (got number)", function() local s = res:suggest(5) return s end)
case("result:suggest opts", "suggest: 'opts' must be a table (got number)", function() local s = res:suggest("steepest", 5) return s end)
case("result:suggest unknown option", "suggest: heuristics.steepest: unknown option 'bogus'", function() local s = res:suggest("steepest", { bogus = 1 }) return s end)
case("result:plot width", "plot: option 'width' must be a number, got string", function() local p = res:plot(os.tmpname() .. ".png", { width = "x" }) return p end)

-- the figure and the chart
case("plot.plot result", "plot: expected a range-test result (with lrs and losses), got number", function() local p = plot.plot(5, "x.png") return p end)
case("plot.spec result", "plot: expected a range-test result (with lrs and losses), got number", function() local s = plot.spec(5) return s end)
case("plot.spec opts", "plot.spec: opts must be a table (got number)", function() local s = plot.spec(res, 5) return s end)
case("plot.spec unknown option", "plot.spec: unknown option 'bogus'", function() local s = plot.spec(res, { bogus = 1 }) return s end)
case("plot.spec delta", "plot: delta = 'backward'", function() local s = plot.spec(res, { delta = "backward" }) return s end)
case("plot.describe result", "plot.describe: expected a range-test result", function() local t = plot.describe(5) return t end)
case("plot.with_suggestions result", "plot.with_suggestions: expected a range-test result", function() local r = plot.with_suggestions(5) return r end)
case("plot.suggestion_list result", "plot.suggestion_list: expected a range-test result", function() local l = plot.suggestion_list(5) return l end)
case("plot.ticks scale", "bad argument #1", function() local t = plot.ticks("cubic", 1, 10) return t end)
case("plot.ticks lo", "bad argument #2", function() local t = plot.ticks("log", "x", 10) return t end)
case("plot.terminal result", "chart.terminal: expected a range-test result", function() local s = plot.terminal(5) return s end)
case("plot.terminal opts", "chart.terminal: opts must be a table (got number)", function() local s = plot.terminal(res, 5) return s end)
case("chart.terminal width", "chart.terminal: option 'width' must be a number, got string", function() local s = chart.terminal(res, { width = "x" }) return s end)
case("chart.terminal unknown option", "chart.terminal: unknown option 'bogus'", function() local s = chart.terminal(res, { bogus = 1 }) return s end)
case("progress.new unknown option", "progress.new: unknown option 'bogus'", function() local p = progress.new { total = 5, bogus = 1 } return p end)
case("progress.new total", "progress.new: 'total' must be a number, got string", function() local p = progress.new { total = "5" } return p end)

describe("a mistake in the user's input", function()
  for _, c in ipairs(cases) do
    it("is reported at the user's line: " .. c.name, function()
      local ok, err = pcall(c.fn)
      assert.is_false(ok, c.name .. ": no error")
      assert.are.equal("string", type(err))
      local where = SRC .. ":" .. c.line .. ": "
      assert.are.equal(where, err:sub(1, #where), err)
      assert.truthy(err:find(c.want, 1, true), err)
    end)
  end

  it("leaves the trainer usable (the wrong option changed nothing)", function()
    assert.is_number(tr:step(1e-3))
  end)
end)
