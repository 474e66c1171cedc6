--[[
lrengine.plot — pictures of a range test.

  local plot = require "lrengine.plot"
  plot.plot(result, "out/sweep.png", opts)   -- also result:plot(path, opts)
  print(plot.terminal(result))               -- a Unicode chart for the terminal
  plot.command(args)                         -- `lrengine plot FILE.json -o OUT.png`

plot.plot draws the figure with cairo (engine/plot.c, also a C API in
engine/include/lrengine_plot.h) as PNG, SVG or PDF, chosen by the path's
extension; anything else is an error. The file is written to a temporary
name and renamed, so a failure never leaves a partial file.

  top     loss against learning rate: the raw loss of each step as faint
          points, the smoothed loss as a line; with a validation set both
          the validation and the training curves (the training one smoothed
          here the same way as the driving curve). Every suggestion is
          marked on the driving curve and named in the legend with its
          learning rate ("valley 3.2e-3"); a cross marks the last step, and
          the legend says why the test stopped. Log x axis, linear for a
          linear schedule. The loss axis is cut at the starting loss plus
          twice its fall; points above it sit on the top edge as triangles.
  bottom  the change in the smoothed loss per step (central differences,
          what pytorch-lr-finder's suggestion minimises: raw differences
          are mostly batch noise) on a symmetric-log axis, as in the
          user's matplotlib figure, with the chosen suggestion in red.

opts (all optional):
  width, height   PNG: pixels (1200 x 900); SVG/PDF: points (432 x 324,
                  6 x 4.5 in)
  dpi             PNG only (default: the 6 x 4.5 in figure scaled to fit)
  font_size       base size in points (8)
  title, subtitle the two title lines (default: model, optimizer, batch;
                  data, validation set, schedule)
  chosen          the suggestion drawn in red (default: the first asked for
                  in the test, else "steepest", else the first one)
  raw_points      false leaves the raw points out
  log_x           force the x axis scale (default: linear only for the
                  "linear" schedule)
  format          "png" | "svg" | "pdf" (default: from the extension)
]]

local M = {}

local function core() return require "lrengine.core" end

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
local function index_of(result, s)
  local n = #result.lrs
  local i = math.tointeger(s.index)
  if i and i >= 1 and i <= n and math.abs(result.lrs[i] - s.lr) <= 1e-9 * math.abs(s.lr) then
    return i
  end
  local best, bd = 1, math.huge
  for k = 1, n do
    local a, b = result.lrs[k], s.lr
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

local function curves(result)
  local has_val = #result.val_losses > 0
  local driving = result.curve
  local label
  if driving == "val" then label = "validation loss"
  elseif driving == "train" then label = "training loss"
  else label = "loss" end
  local list = { { label = label, raw = result.losses, smoothed = result.smoothed } }
  if has_val and (driving == "val" or driving == "train") then
    local other = driving == "val" and result.train_losses or result.val_losses
    if #other == #result.lrs then
      list[1].label = label .. " (used for suggestions)"
      list[2] = { label = driving == "val" and "training loss" or "validation loss",
        raw = other, smoothed = smooth_like(result, other) }
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
  return title, table.concat(sub, " · ")
end

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

--- The spec core.plot draws (exposed for tests and custom front ends).
function M.spec(result, opts)
  opts = opts or {}
  if type(result) ~= "table" or type(result.lrs) ~= "table" or type(result.losses) ~= "table" then
    error("plot: expected a range-test result (with lrs and losses)", 3)
  end
  if #result.lrs == 0 then error("plot: the result has no points", 3) end
  local title, subtitle = M.describe(result)
  local list = ordered_suggestions(result)
  local chosen, missing = chosen_of(list, result, opts.chosen)
  if not chosen then
    local names = {}
    for _, s in ipairs(list) do names[#names + 1] = s.name end
    error(string.format("plot: chosen = '%s' is not a suggestion of this result (it has: %s)",
      tostring(missing), #names > 0 and table.concat(names, ", ") or "none"), 3)
  end
  local sugg = {}
  for i, s in ipairs(list) do sugg[i] = { name = s.name, lr = s.lr, index = index_of(result, s) } end
  local log_x = opts.log_x
  if log_x == nil then log_x = not (type(result.config) == "table" and result.config.schedule == "linear") end
  local planned = type(result.config) == "table" and math.tointeger(result.config.num_iter) or nil
  return {
    lrs = result.lrs, curves = curves(result), suggestions = sugg, chosen = chosen,
    log_x = log_x, stop_reason = result.stop_reason, planned_steps = planned,
    title = opts.title or title, subtitle = opts.subtitle or subtitle,
    format = opts.format, width = opts.width, height = opts.height, dpi = opts.dpi,
    font_size = opts.font_size, raw_points = opts.raw_points,
  }
end

local OPTS = {
  width = "number", height = "number", dpi = "number", font_size = "number", title = "string",
  subtitle = "string", chosen = "string", raw_points = "boolean", log_x = "boolean",
  format = "string",
}

--- Draws `result` into `path` (.png, .svg or .pdf). Returns the path.
function M.plot(result, path, opts)
  if type(path) ~= "string" or path == "" then
    error("plot: path must be a non-empty string ending in .png, .svg or .pdf", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then error("plot: opts must be a table", 2) end
  for k, v in pairs(opts or {}) do
    if not OPTS[k] then error(string.format("plot: unknown option '%s'", tostring(k)), 2) end
    if type(v) ~= OPTS[k] then
      error(string.format("plot: option '%s' must be a %s, got %s", k, OPTS[k], type(v)), 2)
    end
  end
  if not (opts and opts.format) and not core().plot_format(path) then
    error(string.format("plot: cannot tell the format of '%s': use a .png, .svg or .pdf name",
      path), 2)
  end
  local spec = M.spec(result, opts)
  local ok, err = pcall(core().plot, path, spec)
  if not ok then error(err, 2) end
  return path
end

-- ----------------------------------------------------------- terminal

local BRAILLE = { { 0x01, 0x02, 0x04, 0x40 }, { 0x08, 0x10, 0x20, 0x80 } } -- [col][row]
local MARKS = { "●", "■", "◆", "▲", "▼", "★", "✚" }

local function utf8char(cp) return utf8.char(cp) end

-- The same robust range as the figure: finite values, the top cut at the
-- start plus twice the fall.
local function y_range(values, main)
  local lo, hi, start, mlo = math.huge, -math.huge, nil, math.huge
  for _, v in ipairs(values) do
    if finite(v) then lo, hi = math.min(lo, v), math.max(hi, v) end
  end
  for _, v in ipairs(main) do
    if finite(v) then
      start = start or v
      mlo = math.min(mlo, v)
    end
  end
  if lo > hi then return nil end
  if start then
    local fall = math.max(start - mlo, 0)
    local cap = start + math.max(2 * fall, 0.25 * math.abs(start) + 1e-12)
    if hi > cap then hi = cap end
  end
  if hi - lo < 1e-12 * math.max(1, math.abs(hi)) then
    local w = math.max(math.abs(lo) * 0.05, 1e-6)
    lo, hi = lo - w, hi + w
  end
  return lo, hi
end

local function num_label(v)
  local s = string.format("%.3g", v)
  return s
end

--- A compact Unicode chart of the smoothed loss against the learning rate
-- (log scale unless the schedule was linear), braille dots, suggestions
-- marked, axes labelled. opts: width (cells, 70), height (rows, 16).
-- Returns a string (no trailing newline).
function M.terminal(result, opts)
  opts = opts or {}
  local W = math.max(10, math.tointeger(opts.width) or 70)
  local H = math.max(4, math.tointeger(opts.height) or 16)
  local lrs = result.lrs or {}
  local main = (#(result.smoothed or {}) == #lrs and #lrs > 0) and result.smoothed or result.losses or {}
  local log_x = opts.log_x
  if log_x == nil then log_x = not (result.config and result.config.schedule == "linear") end
  local function xt(lr)
    if log_x then return lr > 0 and math.log(lr, 10) or nil end
    return lr
  end
  local x0, x1 = math.huge, -math.huge
  for _, lr in ipairs(lrs) do
    local t = finite(lr) and xt(lr)
    if t then x0, x1 = math.min(x0, t), math.max(x1, t) end
  end
  local ylo, yhi = y_range(main, main)
  if x0 > x1 or not ylo then return "(no finite points to chart)" end
  if x1 - x0 < 1e-12 then x0, x1 = x0 - 0.5, x1 + 0.5 end
  local DW, DH = W * 2, H * 4
  local cells = {}
  for r = 1, H do
    cells[r] = {}
    for c = 1, W do cells[r][c] = 0 end
  end
  local function dot(px, py) -- dot coordinates, 0-based, py 0 at the top
    if px ~= px or py ~= py then return end -- NaN (overflowing ranges)
    if px < 0 or px >= DW or py < 0 or py >= DH then return end
    local c, r = px // 2 + 1, py // 4 + 1
    cells[r][c] = cells[r][c] | BRAILLE[px % 2 + 1][py % 4 + 1]
  end
  local function to_dot(lr, v)
    local t = xt(lr)
    local px = (t - x0) / (x1 - x0) * (DW - 1)
    local py = (yhi / 2 - v / 2) / (yhi / 2 - ylo / 2) * (DH - 1) -- halves: no overflow
    return px, py
  end
  local prev
  for i, lr in ipairs(lrs) do
    local v = main[i]
    if finite(lr) and xt(lr) and finite(v) then
      local px, py = to_dot(lr, v)
      if prev then
        -- a line to the previous point, one dot per step of the longer side
        local steps = math.max(1, math.ceil(math.max(math.abs(px - prev[1]), math.abs(py - prev[2]))))
        steps = math.min(steps, 4 * DH)
        for k = 1, steps do
          local a = k / steps
          local qx, qy = prev[1] + (px - prev[1]) * a, prev[2] + (py - prev[2]) * a
          dot(math.floor(qx + 0.5), math.floor(qy + 0.5))
        end
      else
        dot(math.floor(px + 0.5), math.floor(py + 0.5))
      end
      prev = { px, py }
    else
      prev = nil
    end
  end
  local grid = {}
  for r = 1, H do
    grid[r] = {}
    for c = 1, W do grid[r][c] = utf8char(0x2800 + cells[r][c]) end
  end
  -- marks: suggestions, then the last step
  local list = ordered_suggestions(result)
  local chosen = chosen_of(list, result, opts.chosen) or 0
  local legend = {}
  local function place(lr, v, mark)
    if not (finite(lr) and xt(lr)) then return end
    local px, py = to_dot(lr, finite(v) and math.min(math.max(v, ylo), yhi) or yhi)
    local c = math.min(W, math.max(1, math.floor(px + 0.5) // 2 + 1))
    local r = math.min(H, math.max(1, math.floor(py + 0.5) // 4 + 1))
    grid[r][c] = mark
  end
  -- suggestions at the same step share a mark and a legend entry, as in
  -- the figure; the chosen one's group is "●" and drawn last (it wins a
  -- shared cell)
  local groups, by_key = {}, {}
  for i, s in ipairs(list) do
    local idx = index_of(result, s)
    local key = tostring(idx) .. "/" .. string.format("%.17g", s.lr)
    local grp = by_key[key]
    if not grp then
      grp = { names = {}, lr = s.lr, index = idx }
      by_key[key] = grp
      groups[#groups + 1] = grp
    end
    grp.names[#grp.names + 1] = s.name
    if i == chosen then grp.chosen = true end
  end
  local n = #lrs
  if n > 0 then place(lrs[n], main[n], "✕") end
  local k = 0
  for _, grp in ipairs(groups) do
    if grp.chosen then grp.mark = MARKS[1]
    else
      grp.mark = MARKS[k % (#MARKS - 1) + 2]
      k = k + 1
    end
  end
  for gi = #groups, 1, -1 do
    if not groups[gi].chosen then place(groups[gi].lr, main[groups[gi].index], groups[gi].mark) end
  end
  for _, grp in ipairs(groups) do
    if grp.chosen then place(grp.lr, main[grp.index], grp.mark) end
  end
  for _, grp in ipairs(groups) do
    legend[#legend + 1] = string.format("%s %s %s%s", grp.mark, table.concat(grp.names, ", "),
      M.fmt_lr(grp.lr), grp.chosen and " (chosen)" or "")
  end
  local reason = result.stop_reason or "end"
  legend[#legend + 1] = reason == "completed" and string.format("✕ completed %d step%s", n, n == 1 and "" or "s")
    or string.format("✕ stopped: %s at step %d", reason, n)
  -- y labels at the top, middle and bottom rows
  local labels = { [1] = num_label(yhi), [H] = num_label(ylo) }
  labels[(H + 1) // 2] = num_label((yhi + ylo) / 2)
  local lw = 0
  for _, s in pairs(labels) do lw = math.max(lw, #s) end
  local lines = {}
  local what = result.curve == "val" and "validation" or result.curve == "train" and "training" or ""
  lines[1] = string.rep(" ", lw + 1) .. string.format("smoothed %sloss vs learning rate%s",
    what ~= "" and (what .. " ") or "", log_x and " (log)" or "")
  for r = 1, H do
    local lab = labels[r] or ""
    lines[#lines + 1] = string.rep(" ", lw - #lab) .. lab .. (labels[r] and "┤" or "│")
      .. table.concat(grid[r])
  end
  -- x axis: a tick and a label per decade (or per nice step), if they fit
  local ticks = {}
  if log_x then
    for k = math.ceil(x0 - 1e-9), math.floor(x1 + 1e-9) do ticks[#ticks + 1] = { k, "1e" .. k } end
    if #ticks > 12 then
      local t2 = {}
      for i, t in ipairs(ticks) do if i % 2 == 1 then t2[#t2 + 1] = t end end
      ticks = t2
    end
  else
    local span = x1 - x0
    local raw = span / 5
    local mag = 10 ^ math.floor(math.log(raw, 10))
    local step = mag * ((raw / mag <= 2) and 2 or (raw / mag <= 5) and 5 or 10)
    for k = math.ceil(x0 / step), math.floor(x1 / step) do
      ticks[#ticks + 1] = { k * step, string.format("%g", k * step) }
    end
  end
  local axis, labline = {}, {}
  for c = 1, W do axis[c], labline[c] = "─", " " end
  local last_end = 0
  for _, t in ipairs(ticks) do
    local c = math.floor((t[1] - x0) / (x1 - x0) * (DW - 1) + 0.5) // 2 + 1
    if c >= 1 and c <= W then
      axis[c] = "┬"
      local s = t[2]
      local start = math.max(1, math.min(c - #s // 2, W - #s + 1))
      if start > last_end + 1 or last_end == 0 then
        for k = 1, #s do labline[start + k - 1] = s:sub(k, k) end
        last_end = start + #s - 1
      end
    end
  end
  lines[#lines + 1] = string.rep(" ", lw) .. "└" .. table.concat(axis)
  lines[#lines + 1] = string.rep(" ", lw + 1) .. table.concat(labline)
  -- the legend, wrapped to the chart's width
  local row = string.rep(" ", lw + 1)
  local width = lw + 1
  for _, item in ipairs(legend) do
    local len = utf8.len(item) or #item
    if width + len + 3 > lw + 1 + W and width > lw + 1 then
      lines[#lines + 1] = row
      row, width = string.rep(" ", lw + 1), lw + 1
    end
    if width > lw + 1 then row, width = row .. "   ", width + 3 end
    row, width = row .. item, width + len
  end
  lines[#lines + 1] = row
  return table.concat(lines, "\n")
end

-- ------------------------------------------------------------ command

local USAGE = [[
usage: lrengine plot FILE.json|FILE.csv [-o OUT.png|OUT.svg|OUT.pdf] [options]
  Draws a saved range test (no retraining). Without -o, prints a chart in
  the terminal instead.
  -o, --output PATH  the figure; the format comes from the extension
  --width N          PNG: pixels (default 1200); SVG/PDF: points (default 432, 6 in)
  --height N         PNG: pixels (default 900); SVG/PDF: points (default 324, 4.5 in)
  --dpi N            PNG only: pixels per inch (default: fit the 6 x 4.5 in figure)
  --title TEXT       the title (default: model, optimizer and batch size)
  --chosen NAME      the suggestion drawn in red (default: the first one asked for)
  --heuristic NAME   re-run this heuristic on the saved curve (repeatable)
                     and draw its suggestion instead of the saved ones
  --no-raw           leave out the raw loss points
  -h, --help         this text
Exit status: 0 done, 1 the file could not be read or the figure not written,
2 a usage error.]]

local function usage(msg)
  io.stderr:write("lrengine: plot: ", msg, "\n", USAGE, "\n")
  return 2
end

local function quiet()
  local ok, o = pcall(function() return core().options() end)
  return ok and o.quiet
end

--- `lrengine plot ...`: returns the exit status.
function M.command(args)
  local file, out, opts, heuristics = nil, nil, {}, {}
  local valued = { ["-o"] = "output", ["--output"] = "output", ["--width"] = "width",
    ["--height"] = "height", ["--dpi"] = "dpi", ["--title"] = "title", ["--chosen"] = "chosen",
    ["--heuristic"] = "heuristic" }
  local i = 1
  while i <= #args do
    local a = args[i]
    local key, value = a:match("^(%-%-[%w-]+)=(.*)$")
    if not key then key = a end
    if valued[key] then
      if value == nil then
        value = args[i + 1]
        i = i + 1
        if value == nil then return usage(string.format("'%s' needs a value", key)) end
      end
      local name = valued[key]
      if name == "output" then
        out = value
      elseif name == "heuristic" then
        heuristics[#heuristics + 1] = value
      elseif name == "title" or name == "chosen" then
        opts[name] = value
      else
        local v = tonumber(value)
        if not v or not (v > 0) or v == math.huge then
          return usage(string.format("%s needs a positive number, got '%s'", key, value))
        end
        opts[name] = v
      end
    elseif a == "--no-raw" then
      opts.raw_points = false
    elseif a == "-h" or a == "--help" then
      io.write(USAGE, "\n")
      return 0
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      return usage("unrecognized option '" .. a .. "'")
    elseif file then
      return usage("one file at a time (got '" .. file .. "' and '" .. a .. "')")
    else
      file = a
    end
    i = i + 1
  end
  if not file then return usage("no file given") end
  if out and not core().plot_format(out) then
    return usage(string.format("cannot tell the format of '%s': use a .png, .svg or .pdf name", out))
  end
  for _, h in ipairs(heuristics) do
    local ok, err = pcall(require("lrengine.heuristics").get, h)
    if not ok then return usage(tostring(err):gsub("^.-get: ", "")) end
  end
  local results = require "lrengine.results"
  local load = file:lower():match("%.csv$") and results.load_csv or results.load_json
  local ok, r = pcall(load, file)
  if not ok then
    io.stderr:write("lrengine: ", (tostring(r):gsub("^[^\n]-%.lua:%d+: ", "")), "\n")
    return 1
  end
  if #r.lrs == 0 then
    io.stderr:write("lrengine: ", file, ": the result has no points\n")
    return 1
  end
  if #heuristics > 0 then
    r.suggestions = {}
    r.config.suggest = heuristics
    local sok, serr = pcall(r.suggest, r, heuristics)
    if not sok then
      io.stderr:write("lrengine: ", tostring(serr), "\n")
      return 1
    end
  end
  if not out then
    local tok, text = pcall(M.terminal, r, { chosen = opts.chosen })
    if not tok then
      io.stderr:write("lrengine: ", tostring(text), "\n")
      return 1
    end
    io.write(text, "\n")
    return 0
  end
  local pok, perr = pcall(M.plot, r, out, opts)
  if not pok then
    local msg = tostring(perr):gsub("^[^\n]-%.lua:%d+: ", "")
    io.stderr:write("lrengine: ", msg, "\n")
    -- an unknown --chosen is the command line's fault
    return msg:match("^plot: chosen = ") and 2 or 1
  end
  if not quiet() then io.write("plot: ", out, "\n") end
  return 0
end

return M
