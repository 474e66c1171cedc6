-- bench_curves.lua — long curves (a curve from another tool, or a range
-- test of a million steps): the heuristics, the CSV curve reader and the
-- figure, timed. valley is timed side by side with fastai's O(n^2)
-- programme (as lrengine ran it before) at 30,000 points. Run by `make
-- bench` (once), or: build/lrengine -q scripts/bench_curves.lua [N]
-- (N, default 1,000,000: the long curve's points). Prints times and the
-- process's peak RSS; never run by the tests.
local H = require "lrengine.heuristics"
local results = require "lrengine.results"

local N = math.tointeger(tonumber(arg and arg[1] or "")) or 1000000

local function clock() return os.clock() end

local function peak_mb()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  for l in f:lines() do
    local kb = l:match("^VmHWM:%s+(%d+)")
    if kb then
      f:close()
      return tonumber(kb) / 1024
    end
  end
  f:close()
end

local function curve(n)
  local lrs, losses = {}, {}
  for i = 1, n do
    lrs[i] = 1e-7 * 10 ^ (9 * i / n)
    losses[i] = 2.3 - math.sin(3 * i / n) + 0.01 * math.sin(i * 7.3)
  end
  return lrs, losses
end

-- fastai's valley as it is written (lrengine's before it went O(n log n))
local function fastai_valley(losses, n)
  local L, lds = {}, {}
  for i = 0, n - 1 do L[i], lds[i] = losses[1 + i], 1 end
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
  return 1 + idx
end

print(string.format("lrengine bench_curves: heuristics, CSV reader and figure on long curves"))
do
  local n = 30000
  local lrs, losses = curve(n)
  local t0 = clock()
  local _, got = H.valley(lrs, losses, { skip_start = 0, skip_end = 0 })
  local t_new = clock() - t0
  t0 = clock()
  local want = fastai_valley(losses, n)
  local t_old = clock() - t0
  print(string.format("valley, %d points: %.3f s; fastai's O(n^2) programme %.2f s (%.0fx); "
    .. "the same point: %s", n, t_new, t_old, t_old / math.max(t_new, 1e-6),
    tostring(got == want)))
end

local lrs, losses = curve(N)
for _, name in ipairs { "steepest", "steep", "valley", "slide", "minimum", "lightning", "ignite" } do
  local t0 = clock()
  local _, idx = H[name](lrs, losses, {})
  print(string.format("%-10s %d points: %.3f s (index %s)", name, N, clock() - t0, tostring(idx)))
end

local csv = os.tmpname()
do
  local f = assert(io.open(csv, "wb"))
  f:write("lr,loss\n")
  local buf = {}
  for i = 1, N do
    buf[#buf + 1] = string.format("%.9g,%.9g\n", lrs[i], losses[i])
    if #buf == 4096 then
      f:write(table.concat(buf))
      buf = {}
    end
  end
  f:write(table.concat(buf))
  f:close()
end
lrs, losses = nil, nil
collectgarbage()

local t0 = clock()
local r = results.load_csv(csv)
local t_load = clock() - t0
print(string.format("load_csv   %d points: %.3f s", #r.lrs, t_load))
local ok_plot = pcall(require, "lrengine.plot")
if ok_plot then
  local png = os.tmpname() .. ".png"
  t0 = clock()
  r:plot(png)
  local t_plot = clock() - t0
  os.remove(png)
  print(string.format("plot (PNG) %d points: %.3f s; load and plot %.3f s (target < 5 s)", #r.lrs,
    t_plot, t_load + t_plot))
end
os.remove(csv)
local mb = peak_mb()
if mb then print(string.format("peak RSS of this process: %.0f MB (target < 500 MB)", mb)) end
