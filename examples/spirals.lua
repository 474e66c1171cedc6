--[[
spirals.lua — the interim `make demo`: an MLP learns the two-spirals
problem, and its loss falls well below where it started.

  lrengine examples/spirals.lua [steps] [lr]

1000 points on two interleaved spirals (made here, from a fixed seed), a
2-64-64-2 MLP with tanh, AdamW, cross-entropy, batches of 64. Prints the
loss over the whole set every 50 steps, then the accuracy.
]]

local lre = require "lrengine"

local steps = tonumber(arg and arg[1]) or 600
local lr = tonumber(arg and arg[2]) or 1e-2
local quiet = lre.options().quiet

-- A small LCG, so the points are the same under any Lua.
local state = 12345
local function uniform()
  state = (state * 1103515245 + 12345) % 2147483648
  return state / 2147483648
end

-- Two spirals of 1.5 turns each, the second the first turned by pi.
local function spirals(n)
  local rows, labels = {}, {}
  for i = 1, n do
    local class = (i - 1) % 2
    local t = 0.25 + 2.75 * math.pi * uniform()
    local r = t / (3 * math.pi)
    local a = t + class * math.pi
    rows[i] = { r * math.cos(a) + 0.02 * (uniform() - 0.5),
                r * math.sin(a) + 0.02 * (uniform() - 0.5) }
    labels[i] = class
  end
  return lre.data.from_tables(rows, labels)
end

local data = spirals(1000)
local model = lre.nn.sequential{
  lre.nn.linear(2, 64), lre.nn.tanh(),
  lre.nn.linear(64, 64), lre.nn.tanh(),
  lre.nn.linear(64, 2),
}
local trainer = lre.trainer{
  model = model, data = data, loss = lre.loss.cross_entropy(),
  optimizer = lre.optim.adamw{ lr = lr }, batch_size = 64, seed = 1,
}

print(("two spirals: %d points, %s"):format(data:size(), model:describe()))
print(("%s, %s"):format(trainer:optimizer(), trainer))
local first = trainer:evaluate(data)
print(("step %5d  loss %.4f"):format(0, first))
for step = 1, steps do
  trainer:step(lr)
  if step % 50 == 0 and (not quiet or step == steps) then
    print(("step %5d  loss %.4f"):format(step, trainer:evaluate(data)))
  end
end
local last = trainer:evaluate(data)
print(("loss %.4f -> %.4f (%.1f%% of the start), accuracy %.1f%%"):format(
  first, last, 100 * last / first, 100 * trainer:accuracy(data)))
if not (last < 0.5 * first) then
  error(("the loss did not fall: %.4f -> %.4f"):format(first, last))
end
