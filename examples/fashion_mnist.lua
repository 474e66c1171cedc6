-- The user's range test (../shared/seeds: pytorch-lr-finder on Fashion-MNIST)
-- in lrengine: a 784-256-256-10 MLP with ReLU, Adam with weight decay 1e-2
-- (coupled L2, as torch.optim.Adam), an exponential schedule from 1e-7 to
-- 500 over 100 steps, the validation loss on the test set at every step,
-- batch 128. Writes out/fashion_mnist.json (and the figure, out/fashion_mnist.png)
-- and prints every heuristic's suggestion.
--
--   lrengine examples/fashion_mnist.lua [num_iter]     (make demo runs it)
local lre = require "lrengine"
local finder = require "lrengine.finder"
local cli = require "lrengine.cli"

local num_iter = math.tointeger(tonumber(arg and arg[1] or "")) or 100

local train = lre.data.fashion_mnist("train"):scale(1 / 255)
local test = lre.data.fashion_mnist("test"):scale(1 / 255)

local model = lre.nn.sequential {
  lre.nn.linear(784, 256), lre.nn.relu(),
  lre.nn.linear(256, 256), lre.nn.relu(),
  lre.nn.linear(256, 10),
}
local trainer = lre.trainer {
  -- the seed: --seed (0 when not given), as the README's example
  model = model, data = train, batch_size = 128, seed = lre.options().seed,
  loss = lre.loss.cross_entropy(),
  optimizer = lre.optim.adam { lr = 1e-7, weight_decay = 1e-2 },
}

local suggest = { "steepest", "valley", "steep", "slide", "minimum", "lightning", "ignite" }
local result = finder.range_test {
  trainer = trainer, val = test,
  start_lr = 1e-7, end_lr = 500, num_iter = num_iter, schedule = "exp",
  suggest = suggest,
  progress = not lre.options().quiet,
}

result:save_json("out/fashion_mnist.json")
local png
if pcall(require, "lrengine.plot") and require("lrengine.plot").plot then
  png = "out/fashion_mnist.png"
  result:plot(png)
end
cli.report(result, "out/fashion_mnist.json", suggest, png)
