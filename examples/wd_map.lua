-- The learning-rate x weight-decay map (Smith, arXiv 1803.09820): the
-- user's Fashion-MNIST range test (examples/fashion_mnist.lua: the
-- 784-256-256-10 MLP, Adam, exp 1e-7 -> 500 over 100 steps, validation
-- loss on the test set, batch 128) once per weight decay in {0, 1e-4,
-- 1e-3, 1e-2}, from the same initial weights. Prints each value's
-- suggestions and its lowest smoothed validation loss, the best marked;
-- writes out/wd_map.json (the grid) and, per value, out/grid/weight_decay-i.json
-- with jobs > 1 or under --grid-index.
--
--   lrengine examples/wd_map.lua [jobs]
--   lrengine --grid-index 2 examples/wd_map.lua     (value 2 alone: a cluster's array task)
local lre = require "lrengine"
local finder = require "lrengine.finder"

local jobs = math.tointeger(tonumber(arg and arg[1] or "")) or 1

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
  optimizer = lre.optim.adam { lr = 1e-7 },
}

local g = finder.grid {
  trainer = trainer, weight_decay = { 0, 1e-4, 1e-3, 1e-2 }, jobs = jobs,
  range_test = { val = test, start_lr = 1e-7, end_lr = 500, num_iter = 100,
    suggest = { "steepest", "valley" }, progress = false },
}
if lre.options().grid_index then return end -- one value of a split grid: its file is written
require("lrengine.cli").ensure_dir("out/wd_map.json")
g:save_json("out/wd_map.json")
print(g:summary())
print("grid: out/wd_map.json")
