-- The user's range test (../shared/seeds: pytorch-lr-finder on Fashion-MNIST)
-- on a small ResNet: a stem (conv 1->8 k3 pad 1, batch norm, relu), a
-- residual block of two 3x3 convolutions with batch norm, a second one that
-- halves the image and doubles the channels (its shortcut a strided 1x1
-- convolution with batch norm), global average pooling and a linear layer.
-- Adam with weight decay 1e-2, an exponential schedule from 1e-7 to 500 over
-- 100 steps, the validation loss on the test set at every step (in eval
-- mode: batch norm on its running statistics), batch 128. Writes
-- out/fashion_mnist_resnet.json (and the figure, out/fashion_mnist_resnet.png)
-- and prints every heuristic's suggestion.
--
--   lrengine examples/fashion_mnist_resnet.lua [num_iter]
local lre = require "lrengine"
local finder = require "lrengine.finder"
local cli = require "lrengine.cli"

local num_iter = math.tointeger(tonumber(arg and arg[1] or "")) or 100

local train = lre.data.fashion_mnist("train"):scale(1 / 255)
local test = lre.data.fashion_mnist("test"):scale(1 / 255)

local nn = lre.nn
local function conv_bn(cin, cout, stride)
  return nn.conv2d(cin, cout, 3, { padding = 1, stride = stride, bias = false }), nn.batch_norm2d(cout)
end
local c1, b1 = conv_bn(8, 8, 1)
local c2, b2 = conv_bn(8, 8, 1)
local c3, b3 = conv_bn(8, 16, 2)
local c4, b4 = conv_bn(16, 16, 1)
local model = nn.sequential {
  nn.conv2d(1, 8, 3, { padding = 1, bias = false }), nn.batch_norm2d(8), nn.relu(),
  nn.residual { c1, b1, nn.relu(), c2, b2 }, nn.relu(),
  nn.residual { c3, b3, nn.relu(), c4, b4,
    shortcut = { nn.conv2d(8, 16, 1, { stride = 2, bias = false }), nn.batch_norm2d(16) } },
  nn.relu(),
  nn.adaptive_avg_pool2d(1), nn.flatten(), nn.linear(16, 10),
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

result:save_json("out/fashion_mnist_resnet.json")
local png
if pcall(require, "lrengine.plot") and require("lrengine.plot").plot then
  png = "out/fashion_mnist_resnet.png"
  result:plot(png)
end
cli.report(result, "out/fashion_mnist_resnet.json", suggest, png)
