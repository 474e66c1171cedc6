-- bench_cnn.lua — the convolutional figures (a report, not a test): the
-- LeNet-style net of examples/fashion_mnist_cnn.lua (conv 1->6 k5 pad 2,
-- relu, max-pool 2; conv 6->16 k5, relu, max-pool 2; flatten; linear
-- 400->120->84->10) on Fashion-MNIST: one training step at batch 128 (Adam,
-- weight decay 1e-2), one pass over the 10,000 test images, the two conv
-- layers' own rates (GFLOP/s, each alone in a net whose other layers cost
-- next to nothing), and the user's range test with the validation set
-- (exp 1e-7 -> 500, 100 steps), in fp32 and in bf16 (where the CPU has it).
--
-- With TORCH_JSON=FILE, the JSON line of `scripts/bench_torch_finder.py
-- --model lenet --micro` (PyTorch on the same net: its step, its validation
-- pass, torch-lr-finder's range test), each figure is printed next to
-- PyTorch's with the ratio (make bench does this when torch is installed).
--
--   lrengine scripts/bench_cnn.lua [num_iter]
local lre = require "lrengine"
local finder = require "lrengine.finder"
local core = require "lrengine.core"
local clock = core.clock

local num_iter = math.tointeger(tonumber(arg and arg[1] or "")) or 100
local train = lre.data.fashion_mnist("train"):scale(1 / 255)
local test = lre.data.fashion_mnist("test"):scale(1 / 255)

local torch
do
  local path = os.getenv("TORCH_JSON")
  local f = path and path ~= "" and io.open(path)
  if f then
    local text = f:read("a")
    f:close()
    local line = text:match("JSON (%b{})")
    if line then
      torch = {}
      for k, v in line:gmatch('"([%w_]+)":%s*([%d%.eE+-]+)') do torch[k] = tonumber(v) end
    end
  end
end

local function lenet()
  return lre.nn.sequential {
    lre.nn.conv2d(1, 6, 5, { padding = 2 }), lre.nn.relu(), lre.nn.max_pool2d(2),
    lre.nn.conv2d(6, 16, 5), lre.nn.relu(), lre.nn.max_pool2d(2),
    lre.nn.flatten(),
    lre.nn.linear(400, 120), lre.nn.relu(), lre.nn.linear(120, 84), lre.nn.relu(),
    lre.nn.linear(84, 10),
  }
end

local function trainer(model, data, precision)
  return lre.trainer { model = model, data = data, batch_size = 128, seed = 1,
    optimizer = lre.optim.adam { lr = 1e-4, weight_decay = 1e-2 }, precision = precision }
end

-- the median of `reps` timings of `inner` calls of fn, in ms per call
local function timed(fn, reps, inner)
  fn()
  local ts = {}
  for r = 1, reps do
    local t0 = clock()
    for _ = 1, inner do fn() end
    ts[r] = (clock() - t0) / inner * 1e3
  end
  table.sort(ts)
  return ts[(reps + 1) // 2]
end

local function versus(ours, theirs, unit, smaller_is_better)
  if not theirs then return "" end
  local ratio = smaller_is_better and theirs / ours or ours / theirs
  return string.format("   PyTorch %9.3f %s   %.2fx %s", theirs, unit, ratio,
    ratio >= 1 and "faster" or "slower")
end

-- a conv layer alone: rows of c x h x w (random), the conv, then a global
-- average and a small linear (next to nothing); FLOP of the conv's forward
local function conv_alone(c, h, w, o, k, pad, precision)
  local n = 512
  local rows, labels = {}, {}
  local state = 3
  for i = 1, n do
    local r = {}
    for j = 1, c * h * w do
      state = (state * 1103515245 + 12345) % 2147483648
      r[j] = state / 2147483648 - 0.5
    end
    rows[i], labels[i] = r, i % 10
  end
  local data = lre.data.from_tables(rows, labels):reshape { c, h, w }
  local t = trainer(lre.nn.sequential {
    lre.nn.conv2d(c, o, k, { padding = pad }), lre.nn.adaptive_avg_pool2d(1), lre.nn.flatten(),
    lre.nn.linear(o, 10) }, data, precision)
  local oh = h + 2 * pad - k + 1
  local fwd = 2 * o * oh * oh * c * k * k -- per image
  local step = timed(function() t:step(1e-4) end, 5, 10)
  local eval = timed(function() t:evaluate(data) end, 5, 2)
  -- a step: the forward and the weights' gradient (the first layer has no dx)
  return 2 * fwd * 128 / step / 1e6, fwd * n / eval / 1e6
end

local has_bf16 = select(2, pcall(function()
  return trainer(lenet(), train, "bf16"):precision() == "bf16"
end)) == true

print(string.format("lrengine %s, bench_cnn: LeNet-style net on Fashion-MNIST, batch 128%s",
  lre.version, torch and string.format(" (PyTorch %s on %s beside it)", "CPU", "the same machine") or ""))
for _, precision in ipairs { "fp32", "bf16" } do
  if precision == "bf16" and not has_bf16 then
    print("bf16: this CPU has no bf16 (the trainer would run fp32)")
    break
  end
  print("== " .. precision .. (precision == "bf16" and " (PyTorch: fp32)" or ""))
  local t = trainer(lenet(), train, precision)
  local step = timed(function() t:step(1e-4) end, 5, 20)
  local eval = timed(function() t:evaluate(test) end, 3, 1)
  print(string.format("one step, batch 128        %9.3f ms%s", step,
    versus(step, torch and torch.step_ms, "ms", true)))
  print(string.format("validation pass (10,000)   %9.3f ms%s", eval,
    versus(eval, torch and torch.eval_ms, "ms", true)))
  local s1, e1 = conv_alone(1, 28, 28, 6, 5, 2, precision)
  local s2, e2 = conv_alone(6, 14, 14, 16, 5, 0, precision)
  print(string.format("conv 1->6 k5 p2 on 28x28   %7.1f GFLOP/s forward, %7.1f GFLOP/s step "
    .. "(forward + weight gradient)", e1, s1))
  print(string.format("conv 6->16 k5 on 14x14     %7.1f GFLOP/s forward, %7.1f GFLOP/s step "
    .. "(forward + weight gradient)", e2, s2))
  local rt = trainer(lenet(), train, precision)
  local t0 = clock()
  local r = finder.range_test { trainer = rt, val = test, start_lr = 1e-7, end_lr = 500,
    num_iter = num_iter, suggest = { "steepest", "valley" } }
  local total = clock() - t0
  print(string.format("range test with validation %9.3f s  (%d steps, %s)%s", total, #r.lrs,
    r.stop_reason, versus(total, torch and torch.with_val_s, "s", true)))
  if torch and torch.with_val_steps and torch.with_val_steps ~= #r.lrs then
    print(string.format("  (torch-lr-finder ran %d steps: per step %.3f s vs ours %.3f s, %.2fx)",
      torch.with_val_steps, torch.with_val_s / torch.with_val_steps, total / #r.lrs,
      (torch.with_val_s / torch.with_val_steps) / (total / #r.lrs)))
  end
end
