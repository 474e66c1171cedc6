--[[
lrengine.plot — the figure of a range test.

  local plot = require "lrengine.plot"
  plot.plot(result, "out/sweep.png", opts)   -- also result:plot(path, opts)
  plot.spec(result, opts)                    -- what the renderer is given
  plot.describe(result)                      -- the title and subtitle

The other two pictures live next door: lrengine.chart draws the Unicode
chart for the terminal (plot.terminal is chart.terminal), and the
`lrengine plot FILE -o OUT.png` command is lrengine.cli's (cli.plot).
Both read the suggestions the way the figure does, through
plot.suggestion_list and plot.chosen_index below.

plot.plot draws the figure with cairo (engine/plot.c, also a C API in
engine/include/lrengine_plot.h) as PNG, SVG or PDF, chosen by the path's
extension; anything else is an error. The file is written to a temporary
name and renamed, so a failure never leaves a partial file.

  top     loss against learning rate: the raw loss of each step as faint
          points, the smoothed loss as a line; with a validation set both
          the validation and the training curves (the training one smoothed
          here the same way as the driving curve). A test run with
          `repeats` draws the median of its runs' curves, with their
          min-max as a shaded band. Every suggestion is marked on the
          driving curve and named in the legend with its learning rate
          ("valley 3.2e-3"); a cross marks the last step, and the legend
          says in words why the test stopped ("diverged", "loss not
          finite", "imported curve"). Log x axis, linear for a linear
          schedule. The loss axis is cut at the starting loss plus twice
          its fall; points above it sit on the top edge as triangles.
  bottom  the change in the smoothed loss per step on a symmetric-log
          axis, with the chosen suggestion in red: by default the forward
          difference loss[i+1] - loss[i] at lr[i], the user's note's
          picture (`losses[1:] - losses[:-1]` against `lrs[:-1]`);
          delta = "central" draws numpy.gradient instead, what
          pytorch-lr-finder's suggestion takes the minimum of. The axis
          label says which.

  third   with result.verification (lrengine.verify): each candidate
          learning rate at its median validation loss after the budget,
          min–max whiskers, a diverged one on the top edge, the winner
          ringed; the same x axis (opts.verification = false: none).

plot.plot_grid(g, path, opts) (also g:plot(path), `lrengine plot
grid.json -o OUT`) draws a grid of range tests (lrengine.grid): a curve
per value, each value's chosen suggestion on its curve in its colour, the
best value thicker with its suggestion in red; plot.grid_spec(g, opts) is
its spec.

A result without suggestions (a curve from another tool: `lrengine plot
theirs.csv`) gets those `lrengine suggest` prints — every registered
heuristic on the saved curve — with steepest chosen; the result itself is
not changed (plot.with_suggestions).

opts (all optional):
  width, height   PNG: pixels (1200 x 900); SVG/PDF: points (432 x 324,
                  6 x 4.5 in)
  dpi             PNG only (default: the 6 x 4.5 in figure scaled to fit)
  font_size       base size in points (8)
  title, subtitle the two title lines (default: model, optimizer, batch;
                  data, validation set, schedule)
  chosen          the suggestion drawn in red (default: the first asked for
                  in the test, else "steepest", else the first one)
  delta           "forward" (default) | "central": the bottom panel
  raw_points      false leaves the raw points out
  log_x           force the x axis scale (default: linear only for the
                  "linear" schedule)
  format          "png" | "svg" | "pdf" (default: from the extension)
  verification    false leaves out the verification panel
]]

local M = {}

local function core() return require "lrengine.core" end

-- Mistakes in what the caller gave are raised at `level` (error's, counted
-- from the function that calls these): the caller's line, not this file.
local function check_result(who, result, level)
  if type(result) ~= "table" or type(result.lrs) ~= "table" or type(result.losses) ~= "table" then
    error(string.format("%s: expected a range-test result (with lrs and losses), got %s", who,
      type(result)), level + 1)
  end
end

local function check_opts(who, opts, keys, level)
  if opts ~= nil and type(opts) ~= "table" then
    error(string.format("%s: opts must be a table (got %s)", who, type(opts)), level + 1)
  end
  for k, v in pairs(opts or {}) do
    if not keys[k] then error(string.format("%s: unknown option '%s'", who, tostring(k)), level + 1) end
    if type(v) ~= keys[k] then
      error(string.format("%s: option '%s' must be a %s, got %s", who, k, keys[k], type(v)), level + 1)
    end
  end
end
M.check_result, M.check_opts = check_result, check_opts

local function finite(x) return type(x) == "number" and x == x and x ~= math.huge and x ~= -math.huge end

--- A learning rate the way the legend writes it: 3.2e-3, 5.0e2.
function M.fmt_lr(v)
  if type(v) ~= "number" then return tostring(v) end
  if v == 0 then return "0" end
  if not finite(v) then return tostring(v) end
  local s = string.format("%.1e", v)
  local mant, ex = s:match("^(.-)e([-+]%d+)$")
  if not mant then return s end
  return mant .. "e" .. tostring(math.tointeger(tonumber(ex)))
end

-- ------------------------------------------------------------ the data

local STOP_WORDS = { non_finite = "loss not finite", ["non-finite"] = "loss not finite",
  nonfinite = "loss not finite", max_loss = "loss too high" }

--- Why a test ended, in words, as the figure's legend and the terminal
-- chart write it: "completed 100 steps", "stopped: diverged at step
-- 64/100", "stopped: loss not finite at step 12/100", "imported curve, 40
-- steps" (a curve read from a CSV). `n` the steps recorded, `planned` the
-- test's num_iter (default n).
function M.stop_text(reason, n, planned)
  planned = planned or n
  local s = n == 1 and "" or "s"
  if type(reason) ~= "string" or reason == "" then
    return string.format("last step %d/%d", n, planned)
  elseif reason == "completed" then
    return string.format("completed %d step%s", n, s)
  elseif reason == "external" or reason == "imported" then
    return string.format("imported curve, %d step%s", n, s)
  elseif reason == "stopped" then
    return string.format("stopped at step %d/%d", n, planned)
  end
  local words = STOP_WORDS[reason] or (reason:gsub("_", " "))
  return string.format("stopped: %s at step %d/%d", words, n, planned)
end

local function shallow(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return setmetatable(c, getmetatable(t))
end

--- The result with suggestions to draw: `result` itself when it has any;
-- else (a curve from another tool) a shallow copy with those `lrengine
-- suggest` computes — every registered heuristic on the saved curve —
-- steepest first, so that it is the chosen one. A heuristic that fails on
-- the curve is left out.
function M.with_suggestions(result)
  check_result("plot.with_suggestions", result, 2)
  if type(result.suggestions) == "table" and next(result.suggestions) ~= nil then return result end
  local H = require "lrengine.heuristics"
  local names = { }
  local ok, all = pcall(H.names)
  if not ok then return result end
  for _, n in ipairs(all) do if n == "steepest" then names[1] = n end end
  for _, n in ipairs(all) do if n ~= "steepest" then names[#names + 1] = n end end
  local c = shallow(result)
  c.suggestions = {}
  c.config = shallow(type(result.config) == "table" and result.config or {})
  c.config.suggest = names
  if type(c.smoothed) ~= "table" or #c.smoothed ~= #result.lrs then c.smoothed = result.losses end
  local suggest = require("lrengine.results").Result.suggest
  for _, n in ipairs(names) do pcall(suggest, c, n) end
  return c
end

-- numpy.median of the values that are not NaN; NaN when there are none.
local function median(xs)
  local v = {}
  for _, x in ipairs(xs) do if x == x then v[#v + 1] = x end end
  local n = #v
  if n == 0 then return 0 / 0 end
  table.sort(v)
  if n % 2 == 1 then return v[(n + 1) // 2] end
  return (v[n // 2] + v[n // 2 + 1]) / 2
end

-- A test run with repeats (result.runs, one curve per run): the median of
-- the runs' curves step by step (over the runs that reached the step), the
-- min and max of their smoothed curves, the longest run's lrs and stop.
-- nil for a single run.
local function over_runs(result)
  local runs = result.runs
  if type(runs) ~= "table" or #runs < 2 then return nil end
  local longest
  for _, r in ipairs(runs) do
    if type(r) ~= "table" or type(r.lrs) ~= "table" or type(r.losses) ~= "table" then return nil end
    if not longest or #r.lrs > #longest.lrs then longest = r end
  end
  local n = #longest.lrs
  local raw, smoothed, lo, hi = {}, {}, {}, {}
  for i = 1, n do
    local rv, sv = {}, {}
    for _, r in ipairs(runs) do
      if r.losses[i] ~= nil then rv[#rv + 1] = r.losses[i] end
      local sm = type(r.smoothed) == "table" and #r.smoothed == #r.lrs and r.smoothed or r.losses
      if sm[i] ~= nil then sv[#sv + 1] = sm[i] end
    end
    raw[i], smoothed[i] = median(rv), median(sv)
    local a, b = math.huge, -math.huge
    for _, v in ipairs(sv) do
      if v == v then a, b = math.min(a, v), math.max(b, v) end
    end
    lo[i], hi[i] = a <= b and a or 0 / 0, a <= b and b or 0 / 0
  end
  return { k = #runs, lrs = longest.lrs, raw = raw, smoothed = smoothed, lo = lo, hi = hi,
    stop_reason = longest.stop_reason }
end

-- Suggestion names in the order the test asked for them, then the rest
-- sorted; only those with a learning rate.
local function ordered_suggestions(result)
  local names, seen = {}, {}
  local asked = type(result.config) == "table" and result.config.suggest or nil
  if type(asked) == "table" then
    for i, v in ipairs(asked) do
      local name = v
      if v == "custom" then name = i == 1 and "custom" or ("custom" .. i) end
      if type(name) == "string" and not seen[name] then
        names[#names + 1], seen[name] = name, true
      end
    end
  end
  local rest = {}
  for name in pairs(result.suggestions or {}) do
    if not seen[name] then rest[#rest + 1] = name end
  end
  table.sort(rest)
  for _, n in ipairs(rest) do names[#names + 1] = n end
  local out = {}
  for _, n in ipairs(names) do
    local s = (result.suggestions or {})[n]
    if type(s) == "table" and finite(s.lr) then out[#out + 1] = { name = n, lr = s.lr, index = s.index } end
  end
  return out
end

-- The step a suggestion is drawn at: its index when that step has its
-- learning rate, else the step with the nearest one (fastai's "minimum" is
-- the lowest point's lr / 10: its mark belongs on the curve at that lr).
local function index_of(lrs, s)
  local n = #lrs
  local i = math.tointeger(s.index)
  if i and i >= 1 and i <= n and math.abs(lrs[i] - s.lr) <= 1e-9 * math.abs(s.lr) then
    return i
  end
  local best, bd = 1, math.huge
  for k = 1, n do
    local a, b = lrs[k], s.lr
    local d = (a > 0 and b > 0) and math.abs(math.log(a) - math.log(b)) or math.abs(a - b)
    if d < bd then best, bd = k, d end
  end
  return best
end

-- The other curve of a test with a validation set, smoothed as the driving
-- one was (the result keeps only the driving curve smoothed).
local function smooth_like(result, losses)
  local S = require "lrengine.smoothing"
  local c = result.config or {}
  local kind = c.smoothing
  if type(kind) ~= "string" or kind == "custom" then kind = "ema" end
  local ok, sm = pcall(S.new, kind, { smooth_f = c.smooth_f, beta = c.beta })
  if not ok then sm = S.new("ema", {}) end
  local out = {}
  for i, v in ipairs(losses) do out[i] = sm:push(v) end
  return out
end

local function curves(result, runs)
  local has_val = type(result.val_losses) == "table" and #result.val_losses > 0
  local driving = result.curve
  local label
  if driving == "val" then label = "validation loss"
  elseif driving == "train" then label = "training loss"
  else label = "loss" end
  local smoothed = type(result.smoothed) == "table" and #result.smoothed == #result.lrs
    and result.smoothed or nil
  local list = { { label = label, raw = result.losses, smoothed = smoothed } }
  local n = #result.lrs
  if runs then
    n = #runs.lrs
    list[1] = { label = string.format("%s, median of %d runs", label, runs.k), raw = runs.raw,
      smoothed = runs.smoothed, band_lo = runs.lo, band_hi = runs.hi,
      band_label = string.format("min–max of %d runs", runs.k) }
  end
  if has_val and (driving == "val" or driving == "train") then
    local other = driving == "val" and result.train_losses or result.val_losses
    if #other == #result.lrs then
      local sm = smooth_like(result, other)
      local name = driving == "val" and "training loss" or "validation loss"
      if runs then
        -- the runs keep only the driving curve: the other one is run 1's
        name = name .. " (run 1)"
        local raw = {}
        for i = 1, n do raw[i], sm[i] = other[i] or 0 / 0, sm[i] or 0 / 0 end
        other = raw
      else
        list[1].label = label .. " (used for suggestions)"
      end
      list[2] = { label = name, raw = other, smoothed = sm }
    end
  end
  return list
end

-- "lrengine.dataset(60000 rows of 28x28 u8, 10 classes)" -> "60000 × 28x28 u8, 10 classes"
local function unwrap(s)
  if type(s) ~= "string" then return nil end
  if s:match("^table: ") or s:match("^userdata: ") then return nil end
  s = s:match("^lrengine%.[%w_.]+%((.*)%)$") or s
  local rows, rest = s:match("^(%d+) rows of (.*)$")
  return rows and (rows .. " × " .. rest) or s
end

-- PyTorch's defaults, which go without saying; and the initial lr, which
-- the test sweeps anyway
local OPTIM_DEFAULTS = { ["betas={0.9, 0.999}"] = true, ["eps=1e-08"] = true,
  ["momentum=0"] = true, ["dampening=0"] = true, ["nesterov=false"] = true,
  ["weight_decay=0"] = true, ["amsgrad=false"] = true }

-- "lrengine.optim.adam(lr=0.001, betas={0.9, 0.999}, eps=1e-08, weight_decay=0.01)"
-- -> "adam(weight_decay=0.01)"
local function short_optimizer(s)
  if type(s) ~= "string" or s:match("^table: ") or s:match("^userdata: ") then return nil end
  local name, args = s:match("([%w_]+)%((.*)%)$")
  if not name then return s end
  local keep, depth, cur = {}, 0, {}
  for ch in (args .. ","):gmatch(".") do
    if ch == "," and depth == 0 then
      local item = table.concat(cur):match("^%s*(.-)%s*$")
      if item ~= "" and not OPTIM_DEFAULTS[item] and not item:match("^lr=") then
        keep[#keep + 1] = item
      end
      cur = {}
    else
      if ch == "{" or ch == "(" then depth = depth + 1 elseif ch == "}" or ch == ")" then depth = depth - 1 end
      cur[#cur + 1] = ch
    end
  end
  return #keep > 0 and (name .. "(" .. table.concat(keep, ", ") .. ")") or name
end

-- "linear(784,256) relu linear(256,256) relu linear(256,10)" -> "MLP
-- 784-256-256-10 (relu)": a chain of linear layers with one activation
-- between them reads shorter as its widths; anything else stays as it is.
local function short_model(s)
  if type(s) ~= "string" then return nil end
  local widths, act, want_linear = {}, nil, true
  for tok in s:gmatch("%S+") do
    if want_linear then
      local a, b = tok:match("^linear%((%d+),(%d+)%)$")
      if not a or (#widths > 0 and widths[#widths] ~= a) then return s end
      if #widths == 0 then widths[1] = a end
      widths[#widths + 1] = b
    else
      if tok:match("^linear%(") or (act and act ~= tok) then return s end
      act = tok
    end
    want_linear = not want_linear
  end
  if want_linear or #widths < 3 then return s end
  return string.format("MLP %s (%s)", table.concat(widths, "-"), act)
end

-- 1e-07 -> 1e-7, 500 -> 500
local function g(v)
  local s = string.format("%g", v)
  return (s:gsub("e([-+])0*(%d)", function(sign, d) return "e" .. (sign == "-" and "-" or "") .. d end))
end

--- The figure's title and subtitle from what the result recorded.
function M.describe(result)
  check_result("plot.describe", result, 2)
  local c = result.config or {}
  local tr = type(c.trainer) == "string" and c.trainer or ""
  local model = short_model(result.model or tr:match("model=(.-), optim="))
  local optim = short_optimizer(result.optimizer) or tr:match("optim=([%w_]+)")
  local batch = result.batch_size or tonumber(tr:match("batch=(%d+)"))
  local parts = {}
  if model and model ~= "" then parts[#parts + 1] = model end
  if optim then parts[#parts + 1] = optim end
  if batch then parts[#parts + 1] = "batch " .. tostring(batch) end
  local title = #parts > 0 and table.concat(parts, " · ") or "Learning-rate range test"
  local sub = {}
  local data = unwrap(result.data)
  if data then sub[#sub + 1] = "train " .. data end
  local val = unwrap(c.val)
  if val then sub[#sub + 1] = "val " .. val:gsub(", %d+ classes$", "") end
  if type(c.schedule) == "string" and finite(c.start_lr) and finite(c.end_lr) then
    sub[#sub + 1] = string.format("%s %s → %s, %s steps", c.schedule, g(c.start_lr), g(c.end_lr),
      tostring(c.num_iter or #result.lrs))
  end
  if type(c.smoothing) == "string" and c.smoothing ~= "none" then
    local f = c.smoothing == "ema" and (c.smooth_f or 0.05) or c.smoothing == "debiased" and (c.beta or 0.98)
    sub[#sub + 1] = f and string.format("%s %s", c.smoothing, g(f)) or c.smoothing
  end
  if type(c.source) == "string" then sub[#sub + 1] = c.source end
  -- the GEMM precision, when it is not plain fp32 (and what was asked for,
  -- when the device ran another)
  local pr = type(result.precision) == "table" and result.precision
  if pr and type(pr.effective) == "string" and (pr.effective ~= "fp32" or pr.requested ~= "fp32") then
    sub[#sub + 1] = pr.requested ~= pr.effective
      and string.format("%s (%s asked)", pr.effective, tostring(pr.requested)) or pr.effective
  end
  return title, table.concat(sub, " · ")
end

-- Which suggestion of `list` is drawn as the chosen one: its position, 0
-- when there is none; nil and the name when `want` is not in the list.
local function chosen_of(list, result, want)
  local pos = {}
  for i, s in ipairs(list) do pos[s.name] = i end
  if want ~= nil then
    if pos[want] then return pos[want] end
    return nil, want
  end
  if pos.steepest and not (type(result.config) == "table" and type(result.config.suggest) == "table"
      and #result.config.suggest > 0) then
    return pos.steepest
  end
  return #list > 0 and 1 or 0
end

local DELTAS = { forward = true, central = true }

local OPTS = {
  width = "number", height = "number", dpi = "number", font_size = "number", title = "string",
  subtitle = "string", chosen = "string", raw_points = "boolean", log_x = "boolean",
  format = "string", delta = "string", verification = "boolean",
}

-- The verification by training (result.verification) as the third
-- panel's points: each candidate at the median of its score, its min–max
-- the whisker (NaN where every trial diverged), the winner, and the y
-- axis' label ("val loss, 1 epoch").
local function verify_panel(v)
  if type(v) ~= "table" or type(v.candidates) ~= "table" or #v.candidates == 0 then return nil end
  local metric = v.metric == "train_loss" and "train_loss" or "val_loss"
  local pts = {}
  for i, c in ipairs(v.candidates) do
    local m = type(c) == "table" and c[metric] or nil
    pts[i] = { lr = type(c) == "table" and c.lr or 0 / 0,
      y = type(m) == "table" and m.median or 0 / 0,
      lo = type(m) == "table" and m.min or 0 / 0, hi = type(m) == "table" and m.max or 0 / 0 }
  end
  local budget
  if type(v.epochs) == "number" then
    budget = string.format("%g epoch%s", v.epochs, v.epochs == 1 and "" or "s")
  elseif math.type(math.tointeger(v.steps)) == "integer" then
    local k = math.tointeger(v.steps)
    budget = string.format("%d step%s", k, k == 1 and "" or "s")
  end
  local label = (metric == "val_loss" and "val loss" or "train loss")
    .. (budget and (", " .. budget) or "")
  return pts, math.tointeger(v.winner) or 0, label
end


-- The spec; errors at `level` (error's, counted from make_spec).
local function make_spec(result, opts, level)
  opts = opts or {}
  check_result("plot", result, level)
  if #result.lrs == 0 then error("plot: the result has no points", level) end
  if opts.delta ~= nil and not DELTAS[opts.delta] then
    error(string.format("plot: delta = '%s': expected \"forward\" or \"central\"",
      tostring(opts.delta)), level)
  end
  local title, subtitle = M.describe(result)
  result = M.with_suggestions(result)
  local runs = over_runs(result)
  local lrs = runs and runs.lrs or result.lrs
  local list = ordered_suggestions(result)
  local chosen, missing = chosen_of(list, result, opts.chosen)
  if not chosen then
    local names = {}
    for _, s in ipairs(list) do names[#names + 1] = s.name end
    error(string.format("plot: chosen = '%s' is not a suggestion of this result (it has: %s)",
      tostring(missing), #names > 0 and table.concat(names, ", ") or "none"), level)
  end
  local sugg = {}
  for i, s in ipairs(list) do sugg[i] = { name = s.name, lr = s.lr, index = index_of(lrs, s) } end
  local log_x = opts.log_x
  if log_x == nil then log_x = not (type(result.config) == "table" and result.config.schedule == "linear") end
  local vpts, vwin, vlabel
  if opts.verification ~= false then vpts, vwin, vlabel = verify_panel(result.verification) end
  local planned = type(result.config) == "table" and math.tointeger(result.config.num_iter) or nil
  local stop = runs and runs.stop_reason or result.stop_reason
  if stop == nil and result.curve == "external" then stop = "external" end
  return {
    lrs = lrs, curves = curves(result, runs), suggestions = sugg, chosen = chosen,
    log_x = log_x, stop_reason = type(stop) == "string" and stop or nil, planned_steps = planned,
    title = opts.title or title, subtitle = opts.subtitle or subtitle,
    format = opts.format, width = opts.width, height = opts.height, dpi = opts.dpi,
    font_size = opts.font_size, raw_points = opts.raw_points, delta = opts.delta or "forward",
    verify = vpts, verify_winner = vwin, verify_label = vlabel,
  }
end

-- ------------------------------------------------------------- a grid

local GRID_OPTS = {
  width = "number", height = "number", dpi = "number", font_size = "number", title = "string",
  subtitle = "string", chosen = "string", log_x = "boolean", format = "string", delta = "string",
}

-- The spec of a grid's figure (lrengine.grid): one curve per value (its
-- driving loss, smoothed), each value's `chosen` suggestion on its curve,
-- the best value's curve thicker and its suggestion in red, the bottom
-- panel that curve's change per step.
local function make_grid_spec(g, opts, level)
  opts = opts or {}
  if type(g) ~= "table" or type(g.results) ~= "table" or #g.results == 0 then
    error("plot: expected a grid (lrengine.grid) with results", level)
  end
  local nv = #g.results
  if nv > 8 then
    error(string.format("plot: a grid figure draws at most 8 values, this grid has %d", nv), level)
  end
  if opts.delta ~= nil and not DELTAS[opts.delta] then
    error(string.format("plot: delta = '%s': expected \"forward\" or \"central\"",
      tostring(opts.delta)), level)
  end
  local longest = g.results[1]
  for _, r in ipairs(g.results) do
    check_result("plot", r, level)
    if #r.lrs > #longest.lrs then longest = r end
  end
  local lrs = longest.lrs
  for i, r in ipairs(g.results) do
    for k = 1, #r.lrs do
      if math.abs(r.lrs[k] - lrs[k]) > 1e-9 * math.abs(lrs[k]) then
        error(string.format("plot: the grid's range tests ran different schedules (value %d's "
          .. "step %d is at lr %g, the longest test's at %g)", i, k, r.lrs[k], lrs[k]), level)
      end
    end
  end
  local best = math.tointeger(g.best)
  local n = #lrs
  local curves, sugg, chosen = {}, {}, 0
  for i, r in ipairs(g.results) do
    local sm = type(r.smoothed) == "table" and #r.smoothed == #r.lrs and r.smoothed or r.losses
    local v = {}
    for k = 1, n do v[k] = sm[k] or 0 / 0 end
    local label = string.format("%s = %s", g.name or "value", tostring(g.values[i]))
    if best == i then label = label .. " (best)" end
    curves[i] = { label = label, smoothed = v }
    local list = ordered_suggestions(r)
    local at = chosen_of(list, r, opts.chosen)
    if at == nil then
      error(string.format("plot: chosen = '%s' is not a suggestion of value %d", opts.chosen, i), level)
    end
    if at > 0 then
      local s = list[at]
      sugg[#sugg + 1] = { name = s.name, lr = s.lr, index = index_of(r.lrs, s), curve = i }
      if best == i then chosen = #sugg end
    end
  end
  local first = g.results[1]
  local _, subtitle = M.describe(first)
  local log_x = opts.log_x
  if log_x == nil then log_x = not (type(first.config) == "table" and first.config.schedule == "linear") end
  return {
    lrs = lrs, curves = curves, suggestions = sugg, chosen = chosen, per_curve = true,
    main_curve = best or 1, log_x = log_x,
    title = opts.title or string.format("Range tests over %s", g.name or "a grid"),
    subtitle = opts.subtitle or subtitle, format = opts.format, width = opts.width,
    height = opts.height, dpi = opts.dpi, font_size = opts.font_size, raw_points = false,
    delta = opts.delta or "forward",
  }
end

--- The spec of a grid's figure (exposed for tests).
function M.grid_spec(g, opts)
  check_opts("plot.grid_spec", opts, GRID_OPTS, 2)
  return make_grid_spec(g, opts, 3)
end

--- Draws a grid (lrengine.grid: g:plot(path) too) into `path`: one curve
-- per value, each with its suggestion, the best value highlighted.
function M.plot_grid(g, path, opts)
  if type(path) ~= "string" or path == "" then
    error("plot: path must be a non-empty string ending in .png, .svg or .pdf", 2)
  end
  check_opts("plot", opts, GRID_OPTS, 2)
  if not (opts and opts.format) and not core().plot_format(path) then
    error(string.format("plot: cannot tell the format of '%s': use a .png, .svg or .pdf name",
      path), 2)
  end
  local spec = make_grid_spec(g, opts, 3)
  local ok, err = pcall(core().plot, path, spec)
  if not ok then error(err, 2) end
  return path
end

--- The spec core.plot draws (exposed for tests and custom front ends).
function M.spec(result, opts)
  check_opts("plot.spec", opts, OPTS, 2)
  local spec = make_spec(result, opts, 3)
  return spec
end

--- Draws `result` into `path` (.png, .svg or .pdf). Returns the path.
function M.plot(result, path, opts)
  if type(path) ~= "string" or path == "" then
    error("plot: path must be a non-empty string ending in .png, .svg or .pdf", 2)
  end
  local nul = require("lrengine.results").nul_in_path("plot", path)
  if nul then error(nul, 2) end
  check_opts("plot", opts, OPTS, 2)
  if not (opts and opts.format) and not core().plot_format(path) then
    error(string.format("plot: cannot tell the format of '%s': use a .png, .svg or .pdf name",
      path), 2)
  end
  local spec = make_spec(result, opts, 3)
  local ok, err = pcall(core().plot, path, spec)
  if not ok then error(err, 2) end
  return path
end


-- ------------------------------------------------- shared with the chart

--- The suggestions with a learning rate, in the order the test asked for
-- them (then the rest sorted), each {name =, lr =, index =} with `index`
-- the step it is drawn at.
function M.suggestion_list(result)
  check_result("plot.suggestion_list", result, 2)
  result = M.with_suggestions(result)
  local list = ordered_suggestions(result)
  for _, s in ipairs(list) do s.index = index_of(result.lrs, s) end
  return list
end

--- The position in `list` of the suggestion drawn as chosen: `want` when
-- given (nil and the name when it is not in the list), else the first one
-- asked for in the test, else "steepest", else the first; 0 when the list
-- is empty.
function M.chosen_index(list, result, want)
  if type(list) ~= "table" then
    error(string.format("plot.chosen_index: 'list' must be a table (got %s)", type(list)), 2)
  end
  check_result("plot.chosen_index", result, 2)
  if want ~= nil and type(want) ~= "string" then
    error(string.format("plot.chosen_index: 'want' must be a suggestion's name (got %s)",
      type(want)), 2)
  end
  local i, missing = chosen_of(list, M.with_suggestions(result), want)
  return i, missing
end

--- The ticks the figure puts on an axis: core.plot_ticks.
function M.ticks(scale, lo, hi, opts)
  -- the C function's "bad argument" is the caller's: raised at its line
  local t = require("lrengine.registry").relay(2, nil, core().plot_ticks, scale, lo, hi, opts)
  return t
end

--- The Unicode chart for the terminal: lrengine.chart's terminal.
function M.terminal(result, opts)
  local text = require("lrengine.registry").relay(2, nil, require("lrengine.chart").terminal, result, opts)
  return text
end

return M
