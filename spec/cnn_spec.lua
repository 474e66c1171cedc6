-- cnn_spec.lua — image layers from Lua: lre.nn.conv2d, max_pool2d,
-- avg_pool2d, adaptive_avg_pool2d and flatten (their descriptions, options
-- and refusals), sequential models of them, the shape check at trainer
-- creation with the layer named, PyTorch's parameter names and shapes, and
-- a small CNN that learns on images given their shape by dataset:reshape.

local lre = require "lrengine"

local function fails(text, fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error containing '" .. text .. "', but the call succeeded")
  err = tostring(err)
  assert(err:find(text, 1, true), "expected an error containing '" .. text .. "', got: " .. err)
  return err
end

-- n images of c×h×w (as flat rows), labels 0..k-1: class j lights up the
-- j-th band of rows of the image (so a CNN can learn it).
local function bands(n, c, h, w, k)
  local state = 11
  local function u()
    state = (state * 1103515245 + 12345) % 2147483648
    return state / 2147483648 - 0.5
  end
  local rows, labels = {}, {}
  for i = 1, n do
    local y = i % k
    local r = {}
    for ch = 1, c do
      for yy = 1, h do
        for xx = 1, w do
          local band = math.floor((yy - 1) * k / h)
          r[#r + 1] = (band == y and 1 or 0) + 0.3 * u() + 0 * ch * xx
        end
      end
    end
    rows[i], labels[i] = r, y
  end
  return lre.data.from_tables(rows, labels)
end

describe("image layer descriptions", function()
  it("conv2d normalises its sizes to pairs and keeps PyTorch's defaults", function()
    local c = lre.nn.conv2d(1, 6, 5, { padding = 2 })
    assert.are.equal("conv2d", c.type)
    assert.are.equal(1, c.in_channels)
    assert.are.equal(6, c.out_channels)
    assert.are.same({ 5, 5 }, c.kernel_size)
    assert.are.same({ 1, 1 }, c.stride)
    assert.are.same({ 2, 2 }, c.padding)
    assert.are.same({ 1, 1 }, c.dilation)
    assert.is_true(c.bias)
    assert.are.equal("conv2d(1,6,k=5,p=2)", tostring(c))
    local d = lre.nn.conv2d(3, 8, { 3, 5 }, { stride = { 2, 1 }, dilation = 2, bias = false })
    assert.are.equal("conv2d(3,8,k=3x5,s=2x1,d=2,bias=false)", tostring(d))
  end)

  it("pooling's stride defaults to its kernel; avg_pool2d counts the padding by default", function()
    local m = lre.nn.max_pool2d(2)
    assert.are.same({ 2, 2 }, m.stride)
    assert.are.equal("max_pool2d(k=2)", tostring(m))
    assert.are.equal("max_pool2d(k=3,s=1,p=1)", tostring(lre.nn.max_pool2d(3, { stride = 1, padding = 1 })))
    local a = lre.nn.avg_pool2d(2, { count_include_pad = false, padding = 1 })
    assert.is_false(a.count_include_pad)
    assert.are.equal("avg_pool2d(k=2,p=1,count_include_pad=false)", tostring(a))
    assert.are.same({ 1, 1 }, lre.nn.adaptive_avg_pool2d(1).output_size)
    assert.are.equal("adaptive_avg_pool2d(2x3)", tostring(lre.nn.adaptive_avg_pool2d({ 2, 3 })))
    assert.are.equal("flatten", tostring(lre.nn.flatten()))
  end)

  it("refuses bad numbers and unknown options, naming them", function()
    fails("stride 0 must be in [1, 2^31)", lre.nn.conv2d, 1, 6, 5, { stride = 0 })
    fails("kernel_size 0", lre.nn.max_pool2d, 0)
    fails("padding -1", lre.nn.conv2d, 1, 6, 3, { padding = -1 })
    fails("unknown option 'strides'", lre.nn.conv2d, 1, 6, 3, { strides = 2 })
    fails("unknown option 'dilation'", lre.nn.avg_pool2d, 2, { dilation = 2 })
    fails("kernel_size is a string", lre.nn.conv2d, 1, 6, "5")
    fails("kernel_size[2] is a string", lre.nn.conv2d, 1, 6, { 5, "x" })
    fails("more than half the 2x2 window", lre.nn.max_pool2d, 2, { padding = 2 })
    fails("in_channels and out_channels", lre.nn.conv2d, 0, 6, 5)
    fails("output_size 0", lre.nn.adaptive_avg_pool2d, 0)
  end)
end)

local function lenet()
  return lre.nn.sequential {
    lre.nn.conv2d(1, 6, 5, { padding = 2 }), lre.nn.relu(), lre.nn.max_pool2d(2),
    lre.nn.conv2d(6, 16, 5), lre.nn.relu(), lre.nn.max_pool2d(2),
    lre.nn.flatten(),
    lre.nn.linear(400, 120), lre.nn.relu(), lre.nn.linear(120, 84), lre.nn.relu(),
    lre.nn.linear(84, 10),
  }
end

describe("sequential models with image layers", function()
  it("describes LeNet and counts its parameters as torch does", function()
    local m = lenet()
    assert.are.equal("conv2d(1,6,k=5,p=2) relu max_pool2d(k=2) conv2d(6,16,k=5) relu "
                     .. "max_pool2d(k=2) flatten linear(400,120) relu linear(120,84) relu "
                     .. "linear(84,10)", m:describe())
    assert.are.equal(61706, m:num_params())
    assert.are.equal(12, #m:layers())
    assert.are.equal("conv2d(6,16,k=5)", tostring(m:layers()[4]))
  end)

  it("names parameters as PyTorch's state_dict, conv weights out x in x kh x kw", function()
    local m = lre.nn.sequential {
      lre.nn.conv2d(1, 4, 3), lre.nn.relu(), lre.nn.conv2d(4, 2, { 3, 1 }, { bias = false }),
      lre.nn.flatten(), lre.nn.linear(8, 3),
    }
    local p = m:parameters()
    assert.are.same({
      { name = "0.weight", shape = { 4, 1, 3, 3 } }, { name = "0.bias", shape = { 4 } },
      { name = "2.weight", shape = { 2, 4, 3, 1 } },
      { name = "4.weight", shape = { 3, 8 } }, { name = "4.bias", shape = { 3 } },
    }, p)
  end)

  it("refuses channels that do not follow, and models without weights", function()
    fails("layer 3 conv2d expects 8 channels but layer 1 (conv2d) gives 6",
          lre.nn.sequential, { lre.nn.conv2d(1, 6, 3), lre.nn.relu(), lre.nn.conv2d(8, 4, 3) })
    fails("at least one linear or conv2d layer", lre.nn.sequential,
          { lre.nn.flatten(), lre.nn.relu() })
    fails("sequential: layer 2: stride 0", lre.nn.sequential,
          { lre.nn.conv2d(1, 2, 3), { type = "max_pool2d", kernel_size = 2, stride = 0 } })
  end)

  it("checks shapes at trainer creation, naming the layer and the numbers", function()
    local flat = bands(8, 1, 8, 8, 2)
    local m = lre.nn.sequential {
      lre.nn.conv2d(1, 2, 3, { padding = 1 }), lre.nn.max_pool2d(2), lre.nn.flatten(),
      lre.nn.linear(64, 2),
    }
    fails("layer 1 (conv2d(1,2,k=3,p=1)) needs images", lre.trainer, { model = m, data = flat })
    local err = fails("ds:reshape{C, H, W}", lre.trainer, { model = m, data = flat })
    assert.truthy(err:find("rows of 64", 1, true), err)
    local imgs = flat:reshape { 1, 8, 8 }
    fails("layer 4 (linear(64,2)) expects 64 features, gets 32 from layer 3 (flatten",
          lre.trainer, { model = m, data = imgs })
    -- adaptive windows of any size: 8x8 maps to 3x3 (windows of 3 and 4 rows)
    local ada = lre.nn.sequential { lre.nn.conv2d(1, 2, 3, { padding = 1 }),
      lre.nn.adaptive_avg_pool2d(3), lre.nn.flatten(), lre.nn.linear(18, 2) }
    assert.are.equal("lrengine.trainer", (tostring(lre.trainer { model = ada, data = imgs }):match("^lrengine%.trainer")))
    local big = lre.nn.sequential { lre.nn.conv2d(1, 2, 9), lre.nn.flatten(), lre.nn.linear(2, 2) }
    fails("larger than the padded input 8", lre.trainer, { model = big, data = imgs })
  end)

  it("trains a small CNN on images shaped by dataset:reshape (2-D rows: one channel)", function()
    local data = bands(64, 1, 8, 8, 4):reshape { 8, 8 } -- 2-D rows: one channel
    local m = lre.nn.sequential {
      lre.nn.conv2d(1, 4, 3, { padding = 1 }), lre.nn.relu(), lre.nn.max_pool2d(2),
      lre.nn.avg_pool2d(2), lre.nn.flatten(), lre.nn.linear(16, 4),
    }
    local t = lre.trainer { model = m, data = data, batch_size = 16, seed = 1,
                            optimizer = lre.optim.adam { lr = 1e-2 } }
    local before = t:evaluate(data)
    for _ = 1, 40 do t:step(1e-2) end
    local after = t:evaluate(data)
    assert.is_true(after < 0.5 * before, ("loss %g -> %g"):format(before, after))
    assert.is_true(t:accuracy(data) > 0.9)
  end)
end)

describe("layer_norm", function()
  it("has torch's defaults, prints as the model describes it, refuses bad values", function()
    local l = lre.nn.layer_norm(64)
    assert.are.equal(64, l.normalized_shape)
    assert.are.equal(1e-5, l.eps)
    assert.is_true(l.elementwise_affine)
    assert.are.equal("layer_norm(64)", tostring(l))
    assert.are.equal("layer_norm(8,eps=0.001,elementwise_affine=false)",
      tostring(lre.nn.layer_norm(8, { eps = 1e-3, elementwise_affine = false })))
    fails("eps must be > 0", lre.nn.layer_norm, 8, { eps = 0 })
    fails("unknown option 'affine'", lre.nn.layer_norm, 8, { affine = false })
    fails("layer 3 (layer_norm) expects 32 values but layer 1 gives 16",
      lre.nn.sequential, { lre.nn.linear(4, 16), lre.nn.relu(), lre.nn.layer_norm(32) })
  end)

  it("names its parameters as torch, and trains", function()
    local m = lre.nn.sequential { lre.nn.linear(64, 16), lre.nn.layer_norm(16), lre.nn.relu(),
      lre.nn.linear(16, 4) }
    local names = {}
    for _, p in ipairs(m:parameters()) do names[#names + 1] = p.name .. "[" .. table.concat(p.shape, ",") .. "]" end
    assert.are.equal("0.weight[16,64] 0.bias[16] 1.weight[16] 1.bias[16] 3.weight[4,16] 3.bias[4]",
      table.concat(names, " "))
    local data = bands(64, 1, 8, 8, 4)
    local t = lre.trainer { model = m, data = data, batch_size = 16, seed = 2,
      optimizer = lre.optim.adam { lr = 1e-2 } }
    local before = t:evaluate(data)
    for _ = 1, 30 do t:step(1e-2) end
    assert.is_true(t:evaluate(data) < 0.5 * before)
  end)
end)

describe("batch_norm1d and batch_norm2d", function()
  it("have torch's defaults and names, and refuse bad values", function()
    local b = lre.nn.batch_norm2d(8)
    assert.are.equal(8, b.num_features)
    assert.are.equal(0.1, b.momentum)
    assert.is_true(b.affine)
    assert.are.equal("batch_norm2d(8)", tostring(b))
    assert.are.equal("batch_norm1d(4,momentum=0.01,affine=false)",
      tostring(lre.nn.batch_norm1d(4, { momentum = 0.01, affine = false })))
    fails("momentum must be in [0, 1]", lre.nn.batch_norm2d, 8, { momentum = 2 })
    fails("unknown option 'track_running_stats'", lre.nn.batch_norm1d, 8,
      { track_running_stats = false })
    local m = lre.nn.sequential { lre.nn.conv2d(1, 4, 3), lre.nn.batch_norm2d(4), lre.nn.relu(),
      lre.nn.flatten(), lre.nn.linear(144, 3) }
    local names = {}
    for _, p in ipairs(m:parameters()) do names[#names + 1] = p.name end
    assert.are.equal("0.weight 0.bias 1.weight 1.bias 4.weight 4.bias", table.concat(names, " "))
  end)

  it("trains in train mode and evaluates on its running statistics; restore is exact", function()
    local data = bands(64, 1, 8, 8, 4):reshape { 1, 8, 8 }
    local m = lre.nn.sequential { lre.nn.conv2d(1, 4, 3, { padding = 1 }), lre.nn.batch_norm2d(4),
      lre.nn.relu(), lre.nn.max_pool2d(2), lre.nn.flatten(), lre.nn.linear(64, 4) }
    local t = lre.trainer { model = m, data = data, batch_size = 16, seed = 3,
      optimizer = lre.optim.adam { lr = 1e-2 } }
    local e0 = t:evaluate(data)
    assert.are.equal(e0, t:evaluate(data)) -- evaluate changes nothing
    local s = t:snapshot()
    local a = {}
    for i = 1, 20 do a[i] = t:step(1e-2) end
    local ea = t:evaluate(data)
    assert.is_true(ea < 0.5 * e0, ("%g -> %g"):format(e0, ea))
    t:restore(s)
    for i = 1, 20 do assert.are.equal(a[i], t:step(1e-2)) end
    assert.are.equal(ea, t:evaluate(data))
  end)
end)

describe("dropout", function()
  it("has torch's default, prints as the model describes it, refuses p outside [0, 1)", function()
    assert.are.equal(0.5, lre.nn.dropout().p)
    assert.are.equal("dropout(0.25)", tostring(lre.nn.dropout(0.25)))
    fails("p must be in [0, 1)", lre.nn.dropout, 1)
    fails("p must be in [0, 1)", lre.nn.dropout, -0.1)
    fails("dropout's p must be in [0, 1)", lre.nn.sequential,
      { lre.nn.linear(2, 2), { type = "dropout", p = 1.5 } })
    local m = lre.nn.sequential { lre.nn.linear(4, 8), lre.nn.dropout(0.2), lre.nn.linear(8, 2) }
    assert.are.equal("linear(4,8) dropout(0.2) linear(8,2)", m:describe())
  end)

  it("a saved trainer resumes the same dropout masks", function()
    local data = bands(64, 1, 4, 4, 2)
    local function make()
      return lre.trainer { model = lre.nn.sequential { lre.nn.linear(16, 32), lre.nn.relu(),
        lre.nn.dropout(0.5), lre.nn.linear(32, 2) }, data = data, batch_size = 8, seed = 9 }
    end
    local a = make()
    for _ = 1, 3 do a:step(1e-2) end
    local path = os.tmpname()
    a:save(path)
    local b = make()
    b:load(path)
    os.remove(path)
    for _ = 1, 4 do assert.are.equal(a:step(1e-2), b:step(1e-2)) end
  end)
end)

describe("residual", function()
  it("describes its blocks and names their parameters as torch's nesting", function()
    local b = lre.nn.residual { lre.nn.conv2d(4, 4, 3, { padding = 1 }), lre.nn.relu() }
    assert.are.equal("residual{conv2d(4,4,k=3,p=1) relu}", tostring(b))
    local m = lre.nn.sequential {
      lre.nn.conv2d(1, 4, 3, { padding = 1 }), b,
      lre.nn.residual { lre.nn.conv2d(4, 8, 3, { padding = 1, stride = 2 }),
        shortcut = { lre.nn.conv2d(4, 8, 1, { stride = 2, bias = false }) } },
      lre.nn.adaptive_avg_pool2d(1), lre.nn.flatten(), lre.nn.linear(8, 4) }
    assert.are.equal("conv2d(1,4,k=3,p=1) residual{conv2d(4,4,k=3,p=1) relu} "
      .. "residual{conv2d(4,8,k=3,s=2,p=1);shortcut{conv2d(4,8,k=1,s=2,bias=false)}} "
      .. "adaptive_avg_pool2d(1) flatten linear(8,4)", m:describe())
    local names = {}
    for _, p in ipairs(m:parameters()) do names[#names + 1] = p.name end
    assert.are.equal("0.weight 0.bias 1.0.weight 1.0.bias 2.0.weight 2.0.bias 2.shortcut.0.weight "
      .. "5.weight 5.bias", table.concat(names, " "))
    assert.are.equal(6, #m:layers())
    local data = bands(64, 1, 8, 8, 4):reshape { 1, 8, 8 }
    local t = lre.trainer { model = m, data = data, batch_size = 16, seed = 4,
      optimizer = lre.optim.adam { lr = 1e-2 } }
    local before = t:evaluate(data)
    for _ = 1, 30 do t:step(1e-2) end
    assert.is_true(t:evaluate(data) < 0.5 * before)
  end)

  it("refuses what torch would not build or run, naming it", function()
    fails("residual blocks do not nest", lre.nn.residual,
      { lre.nn.residual { lre.nn.relu() } })
    fails("the block has no layers", lre.nn.residual, {})
    fails("shortcut must be a list of layers", lre.nn.residual, { lre.nn.relu(), shortcut = {} })
    fails("no flatten inside", lre.nn.sequential,
      { lre.nn.linear(2, 2), lre.nn.residual { lre.nn.flatten() } })
    local m = lre.nn.sequential { lre.nn.linear(4, 4), lre.nn.residual { lre.nn.linear(4, 2) } }
    fails("residual block 1 adds its branch's rows of 2 to its input's rows of 4", lre.trainer,
      { model = m, data = bands(8, 1, 2, 2, 2) })
  end)
end)

describe("layers after review", function()
  it("a step after lowering accumulation_steps, a clone's layer list, a residual's tostring", function()
    local data = bands(8, 1, 2, 2, 2)
    local t = lre.trainer { model = lre.nn.sequential { lre.nn.linear(4, 4), lre.nn.dropout(0.5),
      lre.nn.linear(4, 2) }, data = data, batch_size = 2 }
    t:accumulation_steps(2)
    t:step(1e-3)
    t:accumulation_steps(1)
    assert.is_number(t:step(1e-3))
    local layers = t:clone():model():layers()
    assert.are.equal("dropout", layers[2].type)
    assert.are.equal("dropout(0.5)", tostring(layers[2]))
    local plain = setmetatable({ type = "residual" }, getmetatable(lre.nn.relu()))
    for i = 1, 200 do plain[i] = i end
    assert.are.equal("residual{1 2 3", tostring(plain):sub(1, 14))
  end)

  it("restore refuses a snapshot of another model with as many parameters", function()
    local data = bands(8, 1, 2, 2, 2)
    local a = lre.trainer { model = lre.nn.sequential { lre.nn.linear(4, 2),
      lre.nn.batch_norm1d(2, { affine = false }) }, data = data, batch_size = 4 }
    local b = lre.trainer { model = lre.nn.sequential { lre.nn.linear(4, 2), lre.nn.dropout(0.5) },
      data = data, batch_size = 4 }
    fails("restore: the snapshot is of model", b.restore, b, a:snapshot())
    fails("restore: the snapshot is of model", a.restore, a, b:snapshot())
  end)
end)
