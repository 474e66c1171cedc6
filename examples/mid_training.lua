-- A range test in the middle of training: train a while, run the test,
-- continue. The test starts from the current state and leaves it exactly as
-- it was (Lightning's issue #4846 stops after one batch in this case).
local lre = require "lrengine"
local finder = require "lrengine.finder"

local train = lre.data.fashion_mnist("train"):scale(1 / 255):subset(12000)
local val = lre.data.fashion_mnist("test"):scale(1 / 255):subset(2000)
local function make()
  return lre.trainer {
    model = lre.nn.sequential { lre.nn.linear(784, 128), lre.nn.relu(), lre.nn.linear(128, 10) },
    data = train, batch_size = 128, seed = 1, optimizer = lre.optim.adam {},
  }
end
local trainer, twin = make(), make()       -- the twin never sees a range test

for _ = 1, 200 do trainer:step(1e-3); twin:step(1e-3) end
print(string.format("after 200 steps: val loss %.4f", trainer:evaluate(val)))

local r = finder.range_test { trainer = trainer, val = val, start_lr = 1e-6, end_lr = 10,
  num_iter = 60, suggest = { "valley" } }
print(string.format("range test: %d steps, %s; valley suggests %.3e", #r.lrs, r.stop_reason,
  r.suggestions.valley.lr))

local same = true
for _ = 1, 100 do same = same and trainer:step(1e-3) == twin:step(1e-3) end
print(string.format("after 100 more steps: val loss %.4f; identical to the twin that never "
  .. "ran the test: %s", trainer:evaluate(val), tostring(same)))
assert(same, "the range test changed the training state")
