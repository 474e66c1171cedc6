-- Does the suggestion train well? The user's Fashion-MNIST range test
-- (examples/fashion_mnist.lua: the 784-256-256-10 MLP, Adam with weight
-- decay 1e-2, exp schedule 1e-7 -> 500 over 100 steps, validation loss on
-- the test set, batch 128), then every distinct suggestion, and 1/3x and
-- 3x the steepest one, trained for one epoch (469 steps) from the same
-- initial weights at a constant learning rate, three batch orders each,
-- scored by the test set's loss and accuracy. Prints the table with the
-- winner marked; writes out/verify.json (the result, verification
-- included) and out/verify.png.
--
--   lrengine examples/verify.lua [epochs] [repeats] [schedule]
local lre = require "lrengine"
local finder = require "lrengine.finder"
local cli = require "lrengine.cli"

local epochs = tonumber(arg and arg[1] or "") or 1
local repeats = math.tointeger(tonumber(arg and arg[2] or "")) or 3
local schedule = arg and arg[3] or "constant"

local train = lre.data.fashion_mnist("train"):scale(1 / 255)
local test = lre.data.fashion_mnist("test"):scale(1 / 255)

local trainer = lre.trainer {
  model = lre.nn.sequential {
    lre.nn.linear(784, 256), lre.nn.relu(),
    lre.nn.linear(256, 256), lre.nn.relu(),
    lre.nn.linear(256, 10),
  },
  data = train, batch_size = 128, seed = lre.options().seed,
  loss = lre.loss.cross_entropy(),
  optimizer = lre.optim.adam { lr = 1e-7, weight_decay = 1e-2 },
}

local suggest = { "steepest", "valley", "steep", "slide", "minimum", "lightning", "ignite" }
local result = finder.range_test {
  trainer = trainer, val = test,
  start_lr = 1e-7, end_lr = 500, num_iter = 100, schedule = "exp",
  suggest = suggest,
  verify = { epochs = epochs, repeats = repeats, schedule = schedule },
  progress = not lre.options().quiet,
}

result:save_json("out/verify.json")
local png
if pcall(require, "lrengine.plot") and require("lrengine.plot").plot then
  png = "out/verify.png"
  result:plot(png)
end
cli.report(result, "out/verify.json", suggest, png)
