-- compare_torch.lua — lrengine's half of a by-hand check against PyTorch +
-- pytorch-lr-finder (scripts/compare_torch.py is the other half). Not a test:
-- PyTorch is only a reference here and never a dependency of the project.
--
-- Runs the user's range test (../shared/seeds: 784-256-256-10 ReLU MLP, or
-- with MODEL "lenet" the issue's LeNet-style CNN on the 28x28 images: conv
-- 1->6 k5 pad 2, relu, max-pool 2; conv 6->16 k5, relu, max-pool 2; flatten;
-- linear 400->120->84->10; with "bn" a conv / batch-norm net,
-- Adam with weight decay 1e-2, batch 128, exp 1e-7 -> 500, validation loss
-- every step, diverge_th 5) on the first n_train Fashion-MNIST training rows
-- and the first n_val test rows, with shuffle = false so that the batches are
-- consecutive rows (step k trains on rows (k-1)*128+1 .. k*128, wrapping at
-- the end of the subset with a short last batch, as a DataLoader with
-- shuffle=False, drop_last=False does) — reproducible in PyTorch without
-- sharing an RNG. Writes into OUTDIR:
--   init.safetensors  the initial weights (PyTorch state_dict names, plus
--                     optim.* keys that the Python side drops)
--   lrengine.json     the result (lrs, smoothed, train_losses, val_losses,
--                     suggestions.steepest, ...)
--
--   build/lrengine scripts/compare_torch.lua OUTDIR [num_iter] [n_train] [n_val] [mlp|lenet|bn|resnet]
--   /tmp/refenv/bin/python scripts/compare_torch.py OUTDIR
local lre = require "lrengine"
local finder = require "lrengine.finder"

local outdir = arg and arg[1]
if not outdir or outdir == "" then
  io.stderr:write("usage: lrengine scripts/compare_torch.lua OUTDIR [num_iter] [n_train] [n_val] [mlp|lenet|bn|resnet]\n")
  os.exit(2)
end
local function int_arg(i, default) return math.tointeger(tonumber(arg[i] or "")) or default end
local num_iter, n_train, n_val = int_arg(2, 100), int_arg(3, 12000), int_arg(4, 2000)
local which = arg[5] or "mlp"
if which ~= "mlp" and which ~= "lenet" and which ~= "bn" and which ~= "resnet" then
  io.stderr:write("compare_torch.lua: MODEL is mlp, lenet, bn or resnet, not '" .. which .. "'\n")
  os.exit(2)
end
assert(os.execute("mkdir -p '" .. outdir:gsub("'", "'\\''") .. "'"), "cannot create " .. outdir)

-- subset(n) = the first n rows in file order; the Python side reads the same
-- rows and scales them the same way (uint8 -> float32, times float32(1/255)).
local train = lre.data.fashion_mnist("train"):scale(1 / 255):subset(n_train)
local val = lre.data.fashion_mnist("test"):scale(1 / 255):subset(n_val)

local models = {}
-- the batch-norm net: conv 1->8 k3 pad 1, batch_norm2d, relu, max-pool 2,
-- flatten, linear 1568->10 (steps in train mode, the validation curve in
-- eval mode on the running statistics, as torch-lr-finder)
models.bn = lre.nn.sequential {
  lre.nn.conv2d(1, 8, 3, { padding = 1 }), lre.nn.batch_norm2d(8), lre.nn.relu(),
  lre.nn.max_pool2d(2), lre.nn.flatten(), lre.nn.linear(8 * 14 * 14, 10),
}
-- the small ResNet of examples/fashion_mnist_resnet.lua (two residual
-- blocks with batch norm, the second with a strided shortcut)
do
  local nn = lre.nn
  local function cb(cin, cout, stride)
    return nn.conv2d(cin, cout, 3, { padding = 1, stride = stride, bias = false }),
      nn.batch_norm2d(cout)
  end
  local c1, b1 = cb(8, 8, 1)
  local c2, b2 = cb(8, 8, 1)
  local c3, b3 = cb(8, 16, 2)
  local c4, b4 = cb(16, 16, 1)
  models.resnet = nn.sequential {
    nn.conv2d(1, 8, 3, { padding = 1, bias = false }), nn.batch_norm2d(8), nn.relu(),
    nn.residual { c1, b1, nn.relu(), c2, b2 }, nn.relu(),
    nn.residual { c3, b3, nn.relu(), c4, b4,
      shortcut = { nn.conv2d(8, 16, 1, { stride = 2, bias = false }), nn.batch_norm2d(16) } },
    nn.relu(), nn.adaptive_avg_pool2d(1), nn.flatten(), nn.linear(16, 10),
  }
end
local model = models[which] or which == "mlp" and lre.nn.sequential {
  lre.nn.linear(784, 256), lre.nn.relu(),
  lre.nn.linear(256, 256), lre.nn.relu(),
  lre.nn.linear(256, 10),
} or lre.nn.sequential { -- the rows keep their 28x28 shape: one channel
  lre.nn.conv2d(1, 6, 5, { padding = 2 }), lre.nn.relu(), lre.nn.max_pool2d(2),
  lre.nn.conv2d(6, 16, 5), lre.nn.relu(), lre.nn.max_pool2d(2),
  lre.nn.flatten(),
  lre.nn.linear(400, 120), lre.nn.relu(),
  lre.nn.linear(120, 84), lre.nn.relu(),
  lre.nn.linear(84, 10),
}
local trainer = lre.trainer {
  model = model, data = train, batch_size = 128, seed = 1, shuffle = false,
  loss = lre.loss.cross_entropy(),
  optimizer = lre.optim.adam { lr = 1e-7, weight_decay = 1e-2 },
}
trainer:save(outdir .. "/init.safetensors") -- before any step: the start point

local result = finder.range_test {
  trainer = trainer, val = val,
  start_lr = 1e-7, end_lr = 500, num_iter = num_iter, schedule = "exp",
  diverge_th = 5, suggest = { "steepest" },
}
result.compare = { num_iter = num_iter, n_train = n_train, n_val = n_val, batch_size = 128,
                   model = which }
result:save_json(outdir .. "/lrengine.json")

local s = result.suggestions.steepest
print(string.format("lrengine: %d steps (%s), steepest lr %.6g (step %s); wrote %s/{init.safetensors,lrengine.json}",
  #result.lrs, tostring(result.stop_reason), s and s.lr or 0 / 0, s and tostring(s.index) or "-", outdir))
