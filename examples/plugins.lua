--[[
plugins.lua — the four plug-in registries, one contract (lrengine.registry):
a schedule, a smoothing, a stopping rule and a heuristic of our own, each
registered either as a plain function or as {factory = f} that takes
options, then used by name in a range test on a small synthetic problem.

  lrengine examples/plugins.lua
]]

local lre = require "lrengine"
local finder = require "lrengine.finder"
local H = require "lrengine.heuristics"
local sched = require "lrengine.schedules"
local S = require "lrengine.smoothing"
local stop = require "lrengine.stopping"

-- A plain schedule: geometric, as "exp", but with a floor of 10 steps at
-- start_lr first (a warm start). Plain entries take no options.
sched.register("flat_then_exp", function(step, n, a, b)
  local flat = math.min(10, n - 1)
  if step <= flat then return a end
  return a * (b / a) ^ ((step - flat) / (n - flat))
end)

-- A plain smoothing fn(loss, prev, k): the mean of this loss and the last
-- smoothed value (prev is nil at the first point).
S.register("half", function(loss, prev) return prev and (loss + prev) / 2 or loss end)

-- A stopping rule with an option: stop once the loss is above `max`.
stop.register("max_loss", { factory = function(opts)
  local max = opts.max or 10
  return function(state)
    if state.loss > max then
      return true, "max_loss", string.format("loss %.3g > %g at step %d", state.loss, max, state.step)
    end
    return false
  end
end })

-- A heuristic with an option: the learning rate `fraction` of the way (in
-- log lr) from the start to the lowest loss.
H.register("before_min", { factory = function(opts)
  local fraction = opts.fraction or 0.5
  return function(lrs, losses)
    local lo
    for i, l in ipairs(losses) do
      if l ~= l or l == math.huge then break end
      if not lo or l < losses[lo] then lo = i end
    end
    if not lo or lo < 2 then return nil, "the loss never fell" end
    local i = math.max(1, math.floor(1 + fraction * (lo - 1) + 0.5))
    return lrs[i], i
  end
end })

-- A synthetic problem: two overlapping blobs in 2-D (the loss cannot reach
-- zero, so a large enough learning rate makes it climb).
local x = 7
local function rnd()
  x = (x * 1103515245 + 12345) % 2147483648
  return x / 2147483648
end
local rows, labels = {}, {}
for i = 1, 512 do
  local c = i % 2
  rows[i], labels[i] = { rnd() + 0.3 * c, rnd() - 0.3 * c }, c
end
local trainer = lre.trainer {
  model = lre.nn.sequential { lre.nn.linear(2, 16), lre.nn.relu(), lre.nn.linear(16, 2) },
  data = lre.data.from_tables(rows, labels), batch_size = 32, seed = 1,
  optimizer = lre.optim.sgd { momentum = 0.9 },
}

local r = finder.range_test {
  trainer = trainer, start_lr = 1e-5, end_lr = 1000, num_iter = 80,
  schedule = "flat_then_exp", smoothing = "half",
  stop = { "max_loss" }, stop_opts = { max_loss = { max = 1 } },
  suggest = { "before_min", "steepest" }, suggest_opts = { before_min = { fraction = 0.7 } },
}
print(string.format("stopped: %s after %d steps", r.stop_reason, #r.lrs))
for _, name in ipairs { "before_min", "steepest" } do
  local s = r.suggestions[name]
  print(string.format("%-11s %s", name, s.lr and string.format("%.3e", s.lr) or s.reason))
end

-- The same entries straight from the registries: get always gives a function.
print(sched.get("flat_then_exp")(1, 80, 1e-5, 100), type(S.get("ema", { smooth_f = 0.1 })),
  type(stop.get("max_loss", { max = 1 })), type(H.get("before_min", { fraction = 0.2 })))
