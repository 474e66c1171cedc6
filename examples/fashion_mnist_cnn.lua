-- The user's range test (../shared/seeds: pytorch-lr-finder on Fashion-MNIST)
-- on a LeNet-style convolutional net: conv 1→6 k5 pad 2, relu, max-pool 2;
-- conv 6→16 k5, relu, max-pool 2; flatten; linear 400→120→84→10. Adam with
-- weight decay 1e-2, an exponential schedule from 1e-7 to 500 over 100
-- steps, the validation loss on the test set at every step, batch 128.
-- The images keep their 28×28 shape (dataset:shape()), which conv2d reads
-- as one channel. Writes out/fashion_mnist_cnn.json (and the figure,
-- out/fashion_mnist_cnn.png) and prints every heuristic's suggestion.
--
--   lrengine examples/fashion_mnist_cnn.lua [num_iter]
local lre = require "lrengine"
local finder = require "lrengine.finder"
local cli = require "lrengine.cli"

local num_iter = math.tointeger(tonumber(arg and arg[1] or "")) or 100

local train = lre.data.fashion_mnist("train"):scale(1 / 255)
local test = lre.data.fashion_mnist("test"):scale(1 / 255)

local model = lre.nn.sequential {
  lre.nn.conv2d(1, 6, 5, { padding = 2 }), lre.nn.relu(), lre.nn.max_pool2d(2),
  lre.nn.conv2d(6, 16, 5), lre.nn.relu(), lre.nn.max_pool2d(2),
  lre.nn.flatten(),
  lre.nn.linear(400, 120), lre.nn.relu(),
  lre.nn.linear(120, 84), lre.nn.relu(),
  lre.nn.linear(84, 10),
}
local trainer = lre.trainer {
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

result:save_json("out/fashion_mnist_cnn.json")
local png
if pcall(require, "lrengine.plot") and require("lrengine.plot").plot then
  png = "out/fashion_mnist_cnn.png"
  result:plot(png)
end
cli.report(result, "out/fashion_mnist_cnn.json", suggest, png)
