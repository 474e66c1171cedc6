-- A declarative sweep: the script returns a table and the lrengine command
-- runs the range test, prints the suggestions and writes the JSON.
--   lrengine examples/declarative.lua
local lre = require "lrengine"
return {
  data = lre.data.fashion_mnist("train"):scale(1 / 255):subset(12000),
  val = lre.data.fashion_mnist("test"):scale(1 / 255):subset(2000),
  model = { 784, 256, 10, activation = "relu" },
  optimizer = { "adam", weight_decay = 1e-2 },
  batch_size = 128,
  seed = 1,
  start_lr = 1e-7, end_lr = 10, num_iter = 80,
  suggest = { "valley", "steepest", "lightning" },
  output = "out/declarative.json",
}
