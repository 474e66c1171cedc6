-- bench_finder.lua — the finder's figures (a report, not a test): the time
-- of the Fashion-MNIST sweep of examples/fashion_mnist.lua (784-256-256-10,
-- Adam wd 1e-2, exp 1e-7 -> 500, batch 128) with the validation set (the
-- 10,000 test images every step) and without, and the share of the time
-- spent outside the engine's C calls (the Lua driver's overhead).
--   lrengine scripts/bench_finder.lua [num_iter]   (make bench runs it)
local lre = require "lrengine"
local finder = require "lrengine.finder"
local core = require "lrengine.core"
local clock = core.clock

local num_iter = math.tointeger(tonumber(arg and arg[1] or "")) or 100
local train = lre.data.fashion_mnist("train"):scale(1 / 255)
local test = lre.data.fashion_mnist("test"):scale(1 / 255)

-- A trainer whose C calls are timed: everything else the range test spends
-- is the Lua side (schedule, smoothing, stopping, bookkeeping, heuristics).
local function timed(t)
  local inside = 0
  local proxy = { seconds = function() return inside end }
  for _, m in ipairs { "step", "evaluate", "snapshot", "restore", "seed", "device", "reseed" } do
    proxy[m] = function(_, ...)
      local t0 = clock()
      local a, b = t[m](t, ...)
      inside = inside + (clock() - t0)
      return a, b
    end
  end
  return proxy
end

local function sweep(with_val)
  local trainer = lre.trainer {
    model = lre.nn.sequential { lre.nn.linear(784, 256), lre.nn.relu(), lre.nn.linear(256, 256),
      lre.nn.relu(), lre.nn.linear(256, 10) },
    data = train, batch_size = 128, seed = 1, optimizer = lre.optim.adam { weight_decay = 1e-2 },
  }
  local p = timed(trainer)
  local t0 = clock()
  local r = finder.range_test { trainer = p, val = with_val and test or nil,
    start_lr = 1e-7, end_lr = 500, num_iter = num_iter,
    suggest = { "steepest", "valley", "steep", "slide", "minimum", "lightning", "ignite" } }
  local total = clock() - t0
  local c = p.seconds()
  return total, c, #r.lrs, r.stop_reason
end

print(string.format("lrengine %s, bench_finder: Fashion-MNIST sweep, %d planned steps",
  lre.version, num_iter))
for _, with_val in ipairs { true, false } do
  local total, c, n, why = sweep(with_val)
  print(string.format("%-22s %7.3f s  %3d steps (%s)  %6.2f ms/step  outside C %.3f s = %.2f%% (target < 2%%)",
    with_val and "with validation set" or "training loss only", total, n, why,
    1e3 * total / n, total - c, 100 * (total - c) / total))
end
