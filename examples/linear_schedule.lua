-- A linear schedule (pytorch-lr-finder's step_mode="linear"): useful to
-- zoom into a range found by a first, exponential sweep.
local lre = require "lrengine"
local finder = require "lrengine.finder"
local cli = require "lrengine.cli"

local train = lre.data.fashion_mnist("train"):scale(1 / 255):subset(12000)
local val = lre.data.fashion_mnist("test"):scale(1 / 255):subset(2000)
local trainer = lre.trainer {
  model = lre.nn.sequential { lre.nn.linear(784, 128), lre.nn.relu(), lre.nn.linear(128, 10) },
  data = train, batch_size = 128, seed = 1, optimizer = lre.optim.sgd { momentum = 0.9 },
}
local r = finder.range_test { trainer = trainer, val = val, schedule = "linear",
  start_lr = 1e-3, end_lr = 1.0, num_iter = 60, suggest = { "steepest", "minimum" } }
cli.report(r, nil, { "steepest", "minimum" })
