-- bf16_spec.lua — precision = "bf16" on the CPU (oneDNN on AMX or
-- AVX512-BF16): the user's range test on Fashion-MNIST (the demo's model,
-- optimizer and schedule) in bf16 against fp32, for three seeds: the same
-- steepest suggestion or one a schedule step away, and a smoothed curve
-- within 1% of fp32's up to fp32's steepest point. (Past it the learning
-- rates are large enough for any rounding to grow: seed 2's curve parts
-- from fp32's by 1.8% between the steepest point and the minimum.) On a CPU
-- without bf16 hardware, or in a build without oneDNN, the trainer runs
-- fp32 and these specs are skipped, visibly.
local lre = require "lrengine"
local finder = require "lrengine.finder"

local function has_bf16()
  local ds = lre.data.from_tables({ { 0, 1 }, { 1, 0 } }, { 0, 1 })
  local m = lre.nn.sequential{ lre.nn.linear(2, 2) }
  local t = lre.trainer{ model = m, data = ds, batch_size = 2, precision = "bf16" }
  return (t:precision()) == "bf16"
end

local function sweep(train, val, seed, precision)
  local model = lre.nn.sequential{ lre.nn.linear(784, 256), lre.nn.relu(),
                                   lre.nn.linear(256, 256), lre.nn.relu(),
                                   lre.nn.linear(256, 10) }
  local t = lre.trainer{ model = model, loss = lre.loss.cross_entropy(),
    optimizer = lre.optim.adam{ weight_decay = 1e-2 }, data = train, batch_size = 128,
    seed = seed, precision = precision }
  return finder.range_test{ trainer = t, val = val, start_lr = 1e-7, end_lr = 500,
                            num_iter = 100, schedule = "exp", suggest = { "steepest" } }
end

describe("bf16 on the CPU", function()
  if not has_bf16() then
    it("needs AMX or AVX512-BF16 and a build with oneDNN", function()
      pending("this CPU or build runs bf16 as fp32: nothing to compare")
    end)
    return
  end
  local train = lre.data.fashion_mnist("train"):scale(1 / 255)
  local val = lre.data.fashion_mnist("test"):scale(1 / 255)
  for _, seed in ipairs{ 1, 2, 3 } do
    it(("seed %d: the steepest suggestion of fp32 within one step, the curve within 1%%")
       :format(seed), function()
      local a, b = sweep(train, val, seed, "fp32"), sweep(train, val, seed, "bf16")
      assert.are.same({ requested = "bf16", effective = "bf16" }, b.precision)
      local ia, ib = a.suggestions.steepest.index, b.suggestions.steepest.index
      assert.is_true(math.abs(ia - ib) <= 1, ("steepest at step %d (fp32) and %d (bf16)")
        :format(ia, ib))
      for i = 1, ia do
        local rel = math.abs(b.smoothed[i] - a.smoothed[i]) / a.smoothed[i]
        assert.is_true(rel <= 0.01, ("step %d: smoothed loss %.6g (bf16) vs %.6g (fp32)")
          :format(i, b.smoothed[i], a.smoothed[i]))
      end
    end)
  end
end)
