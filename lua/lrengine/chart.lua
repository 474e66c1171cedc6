--[[
lrengine.chart — the range test as a Unicode chart for the terminal.

  local chart = require "lrengine.chart"
  print(chart.terminal(result))          -- also require("lrengine.plot").terminal

The smoothed loss against the learning rate in braille dots (log x axis
unless the schedule was linear), the loss axis cut as the figure cuts it
(lrengine.plot), every suggestion marked and listed with its learning rate,
the chosen one as "●", the last step as "✕" with why the test stopped, in
words (plot.stop_text). A result without suggestions (a curve from another
tool) gets those `lrengine suggest` computes, as the figure does. The
command prints it after a sweep (unless --quiet) and `lrengine plot FILE`
prints it when no -o is given.
]]

local plot = require "lrengine.plot"

local M = {}

local function finite(x) return type(x) == "number" and x == x and x ~= math.huge and x ~= -math.huge end

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
-- marked, axes labelled. opts: width (cells, 70), height (rows, 16),
-- chosen (a suggestion's name), log_x. Returns a string (no trailing
-- newline).
local OPTS = { width = "number", height = "number", chosen = "string", log_x = "boolean" }

function M.terminal(result, opts)
  plot.check_result("chart.terminal", result, 2)
  plot.check_opts("chart.terminal", opts, OPTS, 2)
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
  local list = plot.suggestion_list(result)
  local chosen = plot.chosen_index(list, result, opts.chosen) or 0
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
    local idx = s.index
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
      plot.fmt_lr(grp.lr), grp.chosen and " (chosen)" or "")
  end
  -- why the test ended, in words, as the figure's legend says it
  local reason = result.stop_reason
  if reason == nil and result.curve == "external" then reason = "external" end
  local planned = type(result.config) == "table" and math.tointeger(result.config.num_iter) or n
  legend[#legend + 1] = "✕ " .. plot.stop_text(reason, n, planned)
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

return M
