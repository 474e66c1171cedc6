-- A learning-rate rule of your own in a dozen lines, next to the built-in
-- ones. This one takes the middle (in log lr) of the stretch where the
-- smoothed loss is within 10% of the way from its start to its minimum —
-- "somewhere safe on the way down".
local lre = require "lrengine"
local finder = require "lrengine.finder"
local H = require "lrengine.heuristics"

local function safe_middle(lrs, losses)
  local lo, hi, start = math.huge, nil, losses[1]
  local imin = 1
  for i, l in ipairs(losses) do
    if l ~= l then break end                    -- stop at the first NaN
    if l < lo then lo, imin = l, i end
  end
  local first
  for i = 1, imin do
    if losses[i] < start - 0.1 * (start - lo) then first = first or i; hi = i end
  end
  if not first then return nil, "the loss never fell" end
  local mid = math.exp((math.log(lrs[first]) + math.log(lrs[hi])) / 2)
  return mid, first
end
H.register("safe_middle", safe_middle)          -- usable by name from now on

local train = lre.data.fashion_mnist("train"):scale(1 / 255):subset(12000)
local val = lre.data.fashion_mnist("test"):scale(1 / 255):subset(2000)
local trainer = lre.trainer {
  model = lre.nn.sequential { lre.nn.linear(784, 128), lre.nn.relu(), lre.nn.linear(128, 10) },
  data = train, batch_size = 128, seed = 1, optimizer = lre.optim.adamw {},
}
local r = finder.range_test { trainer = trainer, val = val, start_lr = 1e-6, end_lr = 10,
  num_iter = 80, suggest = { "safe_middle", "steepest", "valley" } }
for _, name in ipairs { "safe_middle", "steepest", "valley" } do
  local s = r.suggestions[name]
  print(string.format("%-12s %s", name, s.lr and string.format("%.3e", s.lr) or s.reason))
end
