-- binding_spec.lua — the Lua binding `lrengine.core` through the facade
-- `require "lrengine"`: construction and defaults, argument checking,
-- shape errors, training, snapshots, save/load, closed objects (every
-- class, one close).

local lre = require "lrengine"

-- Calls fn, which must fail with a message containing `text` (plain).
local function fails(text, fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error containing '" .. text .. "', but the call succeeded")
  err = tostring(err)
  assert(err:find(text, 1, true),
         "expected an error containing '" .. text .. "', got: " .. err)
  return err
end

-- Two Gaussian-ish blobs in 2-D, classes 0 and 1 (deterministic).
local function blobs(n)
  local state = 7
  local function u()
    state = (state * 1103515245 + 12345) % 2147483648
    return state / 2147483648 - 0.5
  end
  local rows, labels = {}, {}
  for i = 1, n do
    local c = i % 2
    rows[i] = { (c == 1 and 1 or -1) + u(), (c == 1 and 0.5 or -0.5) + u() }
    labels[i] = c
  end
  return lre.data.from_tables(rows, labels)
end

local function mlp()
  return lre.nn.sequential{ lre.nn.linear(2, 16), lre.nn.relu(), lre.nn.linear(16, 2) }
end

local function trainer(opts)
  opts = opts or {}
  opts.model = opts.model or mlp()
  opts.data = opts.data or blobs(64)
  opts.batch_size = opts.batch_size or 16
  opts.seed = opts.seed or 3
  return lre.trainer(opts)
end

local function steps(t, n, lr)
  local out = {}
  for i = 1, n do out[i] = t:step(lr or 1e-2) end
  return out
end

describe("lrengine.core", function()
  it("is the module behind the facade", function()
    assert.are.equal(require "lrengine.core", lre.core)
    assert.are.equal("0.1.0", lre.version)
    assert.is_true(lre.device_compiled("cpu"))
    local o = lre.options()
    assert.are.equal("cpu", o.device)
    assert.are.equal("number", type(o.seed))
    assert.are.equal("boolean", type(o.quiet))
  end)

  it("configure rejects unknown keys and devices, and changes after first use", function()
    fails("unknown option 'devise'", lre.configure, { devise = "cpu" })
    fails("option 'device' must be \"cpu\" or \"cuda\"", lre.configure, { device = "tpu" })
    blobs(4) -- the context is in use from here on
    lre.configure{ device = "cpu" } -- no change: accepted
    fails("already in use", lre.configure, { threads = 3 })
  end)
end)

describe("layers", function()
  it("are plain descriptions with PyTorch's names and defaults", function()
    local l = lre.nn.linear(784, 256)
    assert.are.same({ type = "linear", in_features = 784, out_features = 256 },
                    setmetatable(l, nil))
    assert.are.equal("relu", lre.nn.relu().type)
    assert.are.equal("tanh", lre.nn.tanh().type)
    assert.are.equal("sigmoid", lre.nn.sigmoid().type)
    assert.are.equal(0.01, lre.nn.leaky_relu().negative_slope)
    assert.are.equal(0.2, lre.nn.leaky_relu(0.2).negative_slope)
    assert.are.equal("none", lre.nn.gelu().approximate)
    assert.are.equal("tanh", lre.nn.gelu("tanh").approximate)
  end)

  it("print like the model's description", function()
    assert.are.equal("linear(2,3)", tostring(lre.nn.linear(2, 3)))
    assert.are.equal("relu", tostring(lre.nn.relu()))
    assert.are.equal("gelu(tanh)", tostring(lre.nn.gelu("tanh")))
    assert.are.equal("leaky_relu(0.2)", tostring(lre.nn.leaky_relu(0.2)))
  end)

  it("check their arguments, naming them", function()
    fails("bad argument #1 to 'linear' (number expected, got string)", function() return lre.nn.linear("a", 2) end)
    fails("bad argument #2 to 'linear' (number expected, got no value)", function() return lre.nn.linear(2) end)
    fails("bad argument #2 to 'linear' (out_features must be at least 1)", function() return lre.nn.linear(2, 0) end)
    fails("bad argument #1 to 'gelu' (invalid option 'exact')", function() return lre.nn.gelu("exact") end)
    fails("bad argument #1 to 'leaky_relu' (number expected, got table)", function() return lre.nn.leaky_relu({}) end)
  end)
end)

describe("sequential", function()
  it("builds a model", function()
    local m = mlp()
    assert.are.equal(2 * 16 + 16 + 16 * 2 + 2, m:num_params())
    assert.are.equal(2, m:in_features())
    assert.are.equal(2, m:out_features())
    assert.are.equal(3, m:num_layers())
    assert.are.equal("linear(2,16) relu linear(16,2)", m:describe())
    assert.are.equal("lrengine.model(linear(2,16) relu linear(16,2); 82 params)", tostring(m))
    assert.is_false(m:initialized())
    assert.are.equal(m, m:init(1))
    assert.is_true(m:initialized())
  end)

  it("builds every activation", function()
    local m = lre.nn.sequential{
      lre.nn.linear(4, 8), lre.nn.leaky_relu(0.1), lre.nn.linear(8, 8), lre.nn.gelu(),
      lre.nn.linear(8, 8), lre.nn.gelu("tanh"), lre.nn.linear(8, 8), lre.nn.tanh(),
      lre.nn.linear(8, 8), lre.nn.sigmoid(), lre.nn.linear(8, 3) }
    assert.are.equal(11, m:num_layers())
    assert.are.equal(3, m:out_features())
    assert.are.equal(4 * 8 + 8 + 4 * (8 * 8 + 8) + 8 * 3 + 3, m:num_params())
  end)

  it("lists parameters with PyTorch's state_dict names", function()
    local p = mlp():parameters()
    assert.are.same({
      { name = "0.weight", shape = { 16, 2 } }, { name = "0.bias", shape = { 16 } },
      { name = "2.weight", shape = { 2, 16 } }, { name = "2.bias", shape = { 2 } },
    }, p)
    local layers = mlp():layers()
    assert.are.equal(3, #layers)
    assert.are.equal("linear(16,2)", tostring(layers[3]))
  end)

  it("names the layers and shapes that do not fit", function()
    fails("sequential: layer 3 linear(128,10) expects 128 inputs but layer 1 gives 256",
          lre.nn.sequential, { lre.nn.linear(784, 256), lre.nn.relu(), lre.nn.linear(128, 10) })
    fails("sequential: layer 2 is a function; call it", lre.nn.sequential,
          { lre.nn.linear(2, 2), lre.nn.relu })
    fails("sequential: layer 1 is a number", lre.nn.sequential, { 3 })
    fails("unknown layer type 'conv'", lre.nn.sequential, { { type = "conv" } })
    fails("the list of layers is empty", lre.nn.sequential, {})
    fails("at least one linear or conv2d layer", lre.nn.sequential, { lre.nn.relu() })
    fails("bad argument #1 to 'sequential' (table expected, got no value)", function() return lre.nn.sequential() end)
  end)
end)

describe("losses", function()
  it("have PyTorch's names and defaults", function()
    local ce = lre.loss.cross_entropy()
    assert.are.equal("cross_entropy", ce.name)
    assert.are.equal(0, ce.label_smoothing)
    assert.are.equal(0.1, lre.loss.cross_entropy{ label_smoothing = 0.1 }.label_smoothing)
    assert.are.equal("mse", lre.loss.mse().name)
    assert.are.equal("lrengine.loss.cross_entropy(label_smoothing=0.1)",
                     tostring(lre.loss.cross_entropy{ label_smoothing = 0.1 }))
    assert.are.equal("lrengine.loss.mse()", tostring(lre.loss.mse()))
  end)

  it("reject unknown keys and bad values", function()
    fails("cross_entropy: unknown option 'smoothing'", lre.loss.cross_entropy, { smoothing = 0.1 })
    fails("must be in [0, 1]", lre.loss.cross_entropy, { label_smoothing = 1.5 })
    fails("option 'label_smoothing' is a string, expected a number",
          lre.loss.cross_entropy, { label_smoothing = "x" })
    fails("mse: unknown option 'reduction'", lre.loss.mse, { reduction = "sum" })
  end)
end)

describe("optimizers", function()
  it("have torch.optim's defaults, readable as fields", function()
    local sgd = lre.optim.sgd()
    assert.are.equal("sgd", sgd.name)
    assert.are.equal(0, sgd.momentum)
    assert.are.equal(0, sgd.dampening)
    assert.is_false(sgd.nesterov)
    assert.are.equal(0, sgd.weight_decay)
    assert.are.equal(1e-3, sgd.lr)
    assert.is_nil(sgd.betas)
    local adam = lre.optim.adam()
    assert.are.same({ 0.9, 0.999 }, adam.betas)
    assert.are.equal(1e-8, adam.eps)
    assert.are.equal(0, adam.weight_decay)
    assert.is_nil(adam.momentum)
    assert.are.equal(1e-2, lre.optim.adamw().weight_decay)
    assert.are.same({ name = "adamw", lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8,
                      weight_decay = 1e-2, amsgrad = false }, lre.optim.adamw():config())
  end)

  it("keep what is given, lr included", function()
    local o = lre.optim.adam{ lr = 1e-7, weight_decay = 1e-2, betas = { 0.8, 0.99 }, eps = 1e-6 }
    assert.are.equal(1e-7, o.lr)
    assert.are.equal(1e-2, o.weight_decay)
    assert.are.same({ 0.8, 0.99 }, o.betas)
    assert.are.equal(1e-6, o.eps)
    local s = lre.optim.sgd{ momentum = 0.9, nesterov = true, weight_decay = 5e-4 }
    assert.are.equal(0.9, s.momentum)
    assert.is_true(s.nesterov)
    assert.are.equal("lrengine.optim.sgd(lr=0.001, momentum=0.9, dampening=0, nesterov=true, "
                     .. "weight_decay=0.0005)", tostring(s))
    assert.are.equal("lrengine.optim.adamw(lr=0.001, betas={0.9, 0.999}, eps=1e-08, "
                     .. "weight_decay=0.01)", tostring(lre.optim.adamw()))
  end)

  it("reject unknown keys, naming them", function()
    fails("sgd: unknown option 'momentun'", lre.optim.sgd, { momentun = 0.9 })
    fails("adam: unknown option 'momentum'", lre.optim.adam, { momentum = 0.9 })
    fails("adamw: unknown option 'beta1'", lre.optim.adamw, { beta1 = 0.9 })
    fails("options are named", lre.optim.sgd, { 0.1 })
  end)

  it("reject wrong types and values", function()
    fails("sgd: option 'momentum' is a string, expected a number", lre.optim.sgd, { momentum = "0.9" })
    fails("sgd: option 'nesterov' is a number, expected a boolean", lre.optim.sgd, { nesterov = 1 })
    fails("bad argument #1 to 'adam' (table expected, got number)", function() return lre.optim.adam(0.1) end)
    fails("option 'betas' must be a table of two numbers", lre.optim.adam, { betas = { 0.9 } })
    fails("amsgrad = true is not supported", lre.optim.adam, { amsgrad = true })
    fails("option 'lr' = -1 must be non-negative", lre.optim.sgd, { lr = -1 })
    fails("nesterov", lre.optim.sgd, { nesterov = true }) -- needs momentum > 0
    fails("momentum", lre.optim.sgd, { momentum = -0.5 })
    fails("eps", lre.optim.adam, { eps = -1 })
  end)
end)

describe("data.from_tables", function()
  it("refuses sizes no buffer can hold, even when __len lies", function()
    local row = setmetatable({}, { __len = function() return 1 << 31 end,
      __index = function() return 1.0 end })
    local rows = setmetatable({}, { __len = function() return 1 << 33 end,
      __index = function() return row end })
    local labels = setmetatable({}, { __len = function() return 1 << 33 end,
      __index = function() return 0 end })
    local ok, err = pcall(lre.data.from_tables, rows, labels)
    assert.is_false(ok)
    assert.matches("is too large", err)
  end)

  it("refuses a scale that a float cannot hold, naming the value", function()
    local ds = lre.data.from_tables({ { 1 }, { 2 } }, { 0, 1 })
    local ok, err = pcall(ds.scale, ds, 1e-50)
    assert.is_false(ok)
    assert.matches("factor 1e%-50", err)
  end)

  it("makes a classification dataset", function()
    local ds = lre.data.from_tables({ { 1, 2 }, { 3, 4 }, { 5, 6 } }, { 0, 2, 1 })
    assert.are.equal(3, ds:size())
    assert.are.equal(3, #ds)
    assert.are.same({ 2 }, ds:shape())
    assert.are.equal(2, ds:features())
    assert.are.equal(3, ds:num_classes())
    assert.are.equal("lrengine.dataset(3 rows of 2 f32, 3 classes)", tostring(ds))
    local ds10 = lre.data.from_tables({ { 1 }, { 2 } }, { 0, 1 }, { num_classes = 10 })
    assert.are.equal(10, ds10:num_classes())
  end)

  it("makes a regression dataset from float targets", function()
    local ds = lre.data.from_tables({ { 1 }, { 2 } }, { 0.5, 1.5 }, { task = "regression" })
    assert.are.equal(0, ds:num_classes())
    assert.are.equal(1, ds:target_dim())
    local ds2 = lre.data.from_tables({ { 1 }, { 2 } }, { { 1, 2 }, { 3, 4 } })
    assert.are.equal(2, ds2:target_dim())
    local ds3 = lre.data.from_tables({ { 1 }, { 2 } }, { 1, 2 }, { regression = true })
    assert.are.equal(0, ds3:num_classes())
    assert.are.equal(1, ds3:target_dim())
    local ds4 = lre.data.from_tables({ { 1 } }, { { 1, 2, 3 } }, { regression = true })
    assert.are.equal(3, ds4:target_dim())
    fails("from_tables: labels[2] has 1 values, labels[1] has 2",
          lre.data.from_tables, { { 1 }, { 2 } }, { { 1, 2 }, { 3 } })
  end)

  it("never turns a fractional label into regression by itself", function()
    local F = lre.data.from_tables
    fails('from_tables: labels[2] = 1.5 is not an integer: class labels are 0, 1, ...; for '
          .. 'regression targets pass {task = "regression"}', F, { { 1 }, { 2 } }, { 0, 1.5 })
    local ds = F({ { 1 }, { 2 } }, { 0, 2.0 })
    assert.are.equal(3, ds:num_classes())
    assert.are.equal(0, ds:target_dim())
    local cls = F({ { 1 }, { 2 } }, { 1, 0 }, { task = "classification" })
    assert.are.equal(2, cls:num_classes())
    fails('from_tables: option \'task\' = "regresion" is not a task', F, { { 1 } }, { 0 },
          { task = "regresion" })
    fails("from_tables: option 'task' is a number, expected a string", F, { { 1 } }, { 0 }, { task = 1 })
    fails('labels[1] is a table: task "classification" needs one class label per row', F,
          { { 1 } }, { { 1, 2 } }, { task = "classification" })
    fails('task "classification" and regression = true exclude each other', F, { { 1 } }, { 0 },
          { task = "classification", regression = true })
    fails("'num_classes' and task \"regression\" exclude each other", F, { { 1 } }, { 0 },
          { num_classes = 2, task = "regression" })
  end)

  it("names the row, column and type at fault", function()
    local F = lre.data.from_tables
    fails("from_tables: rows[3][2] is a string, expected a number",
          F, { { 1, 2 }, { 3, 4 }, { 5, "6" } }, { 0, 1, 0 })
    fails("from_tables: rows[5] has 3 values, rows[1] has 2",
          F, { { 1, 2 }, { 1, 2 }, { 1, 2 }, { 1, 2 }, { 1, 2, 3 } }, { 0, 0, 0, 0, 0 })
    fails("from_tables: labels[4] = -1 is negative", F, { { 1 }, { 2 }, { 3 }, { 4 } }, { 0, 1, 0, -1 })
    fails("from_tables: rows[2] is a number, expected a table", F, { { 1 }, 2 }, { 0, 1 })
    fails("from_tables: labels has 1 values, rows has 2", F, { { 1 }, { 2 } }, { 0 })
    fails("from_tables: labels[2] is a string", F, { { 1 }, { 2 } }, { 0, "1" })
    fails("from_tables: labels[2] = 5 is out of range for num_classes = 3",
          F, { { 1 }, { 2 } }, { 0, 5 }, { num_classes = 3 })
    fails("from_tables: labels[1] = 1.5 is not an integer", F, { { 1 } }, { 1.5 }, { num_classes = 2 })
    fails("'num_classes' and task \"regression\" exclude each other",
          F, { { 1 } }, { 0 }, { num_classes = 2, regression = true })
    fails("from_tables: rows is empty", F, {}, {})
    fails("from_tables: unknown option 'classes'", F, { { 1 } }, { 0 }, { classes = 2 })
    fails("bad argument #2 to 'from_tables' (table expected, got no value)", function() return lre.data.from_tables({ { 1 } }) end)
  end)

  it("rejects NaN and infinities", function()
    fails("from_tables: rows[2][1] is NaN", lre.data.from_tables, { { 1 }, { 0 / 0 } }, { 0, 1 })
    fails("from_tables: rows[1][1] is inf", lre.data.from_tables, { { math.huge } }, { 0 })
    fails("from_tables: labels[1] is NaN", lre.data.from_tables, { { 1 } }, { 0 / 0 })
  end)

  it("splits, subsets, scales and normalizes", function()
    local ds = blobs(100)
    local a, b = ds:split(0.8, 1)
    assert.are.equal(80, a:size())
    assert.are.equal(20, b:size())
    assert.are.equal(10, ds:subset(10):size())
    assert.are.equal(3, ds:subset{ 1, 50, 100 }:size())
    assert.are.equal(100, ds:scale(1 / 255):size())
    assert.are.equal(100, ds:normalize{ mean = 0.5, std = 2 }:size())
    fails("subset: indices[2] = 101 is out of range 1..100", ds.subset, ds, { 1, 101 })
    fails("bad argument #1 to 'subset' (n must be in 1..100)", function() return ds:subset(0) end)
    fails("bad argument #1 to 'split' (fraction must be between 0 and 1", function() return ds:split(1.5) end)
    fails("normalize: std = 0 must be positive", ds.normalize, ds, { std = 0 })
    fails("normalize: unknown option 'sd'", ds.normalize, ds, { sd = 1 })
  end)

  it("scale and normalize change the features the model sees", function()
    local ds = blobs(64)
    local t = trainer{ data = ds }
    local plain = t:evaluate(ds)
    assert.are_not.equal(plain, t:evaluate(ds:scale(3)))
    assert.are_not.equal(plain, t:evaluate(ds:normalize{ mean = 1, std = 2 }))
    assert.are.equal(plain, t:evaluate(ds:normalize{ mean = 0, std = 1 }))
  end)
end)

describe("trainer", function()
  it("is made with defaults", function()
    local t = lre.trainer{ model = mlp(), data = blobs(64) }
    assert.are.equal(32, t:batch_size())
    assert.are.equal(1, t:accumulation_steps())
    assert.are.equal(0, t:steps())
    assert.are.equal(0, t:epoch())
    assert.are.equal("cpu", t:device())
    assert.are.equal("adam", t:optimizer().name)
    assert.are.equal("cross_entropy", t:loss().name)
    assert.are.equal("lrengine.trainer(model=linear(2,16) relu linear(16,2), optim=adam, "
                     .. "batch=32, steps=0)", tostring(t))
  end)

  it("hands back the objects it was made with", function()
    local m, ds, opt = mlp(), blobs(64), lre.optim.sgd{ lr = 0.1 }
    local t = lre.trainer{ model = m, data = ds, optimizer = opt }
    assert.are.equal(m, t:model())
    assert.are.equal(ds, t:data())
    assert.are.equal(opt, t:optimizer())
    assert.are.equal(0.1, t:optimizer().lr)
    assert.is_true(m:initialized()) -- the trainer initialised it
  end)

  it("rejects unknown, missing and mistyped options", function()
    fails("trainer: unknown option 'batchsize'", lre.trainer,
          { model = mlp(), data = blobs(8), batchsize = 4 })
    fails("trainer: option 'model' is missing", lre.trainer, { data = blobs(8) })
    fails("trainer: option 'data' is missing", lre.trainer, { model = mlp() })
    fails("trainer: option 'model' is a table, expected lrengine.model", lre.trainer,
          { model = { lre.nn.linear(2, 2) }, data = blobs(8) })
    fails("trainer: option 'optimizer' is a string", lre.trainer,
          { model = mlp(), data = blobs(8), optimizer = "adam" })
    fails("trainer: option 'batch_size' = 0 must be at least 1", lre.trainer,
          { model = mlp(), data = blobs(8), batch_size = 0 })
    fails("trainer: option 'batch_size' = 1.5 is not an integer", lre.trainer,
          { model = mlp(), data = blobs(8), batch_size = 1.5 })
    fails("trainer: option 'shuffle' is a number, expected a boolean", lre.trainer,
          { model = mlp(), data = blobs(8), shuffle = 1 })
    fails("bad argument #1 to 'trainer' (table expected, got no value)", function() return lre.trainer() end)
  end)

  it("refuses data that does not fit the model", function()
    local three = lre.data.from_tables({ { 1, 2, 3 }, { 4, 5, 6 } }, { 0, 1 })
    local err = fails("3", lre.trainer, { model = mlp(), data = three })
    assert.truthy(err:find("2", 1, true), err)
    local labels = lre.data.from_tables({ { 1, 2 }, { 3, 4 }, { 5, 6 } }, { 0, 1, 4 })
    err = fails("4", lre.trainer, { model = mlp(), data = labels })
    assert.truthy(err:find("row", 1, true) or err:find("label", 1, true), err)
  end)

  it("checks step's and evaluate's arguments", function()
    local t = trainer()
    fails("bad argument #1 to 'step' (number expected, got string)", function() return t:step("x") end)
    fails("bad argument #1 to 'step' (number expected, got no value)", function() return t:step() end)
    fails("lr must be a non-negative finite number", t.step, t, -1)
    fails("lr must be a non-negative finite number", t.step, t, math.huge)
    fails("lrengine.trainer expected, got nil", t.step, nil, 1)
    fails("lrengine.dataset expected, got number", t.evaluate, t, 3)
    assert.are.equal(0, t:steps())
  end)

  it("lowers the loss on a small problem", function()
    local ds = blobs(128)
    local t = trainer{ data = ds, optimizer = lre.optim.adam(), batch_size = 32 }
    local before = t:evaluate(ds)
    steps(t, 100, 1e-2)
    local after = t:evaluate(ds)
    assert.are.equal(100, t:steps())
    assert.is_true(after < 0.5 * before, ("loss %g -> %g"):format(before, after))
    assert.is_true(t:accuracy(ds) > 0.9)
    assert.is_true(t:epoch() >= 1)
  end)

  it("trains with SGD, AdamW, MSE and accumulation", function()
    for _, opt in ipairs{ lre.optim.sgd{ momentum = 0.9, nesterov = true },
                          lre.optim.adamw(), lre.optim.adam{ weight_decay = 1e-2 } } do
      local t = trainer{ optimizer = opt, accumulation_steps = 2 }
      local before = t:evaluate()
      steps(t, 60, opt.name == "sgd" and 0.1 or 1e-2)
      assert.is_true(t:evaluate() < before, opt.name)
    end
    local rows, targets = {}, {}
    for i = 1, 64 do rows[i] = { i / 64, 1 - i / 64 } targets[i] = { 2 * i / 64 - 1 } end
    local reg = lre.data.from_tables(rows, targets)
    local m = lre.nn.sequential{ lre.nn.linear(2, 8), lre.nn.tanh(), lre.nn.linear(8, 1) }
    local t = lre.trainer{ model = m, data = reg, loss = lre.loss.mse(), batch_size = 16, seed = 1 }
    local before = t:evaluate()
    steps(t, 100, 1e-2)
    assert.is_true(t:evaluate() < 0.5 * before)
  end)

  it("is reproducible from its seed", function()
    local a = steps(trainer{ seed = 9 }, 10)
    local b = steps(trainer{ seed = 9 }, 10)
    for i = 1, 10 do assert.are.equal(a[i], b[i]) end
    local c = steps(trainer{ seed = 10 }, 10)
    assert.are_not.same(a, c)
  end)

  it("step allocates nothing, in the engine or in Lua", function()
    local t = trainer()
    t:step(1e-3)
    local engine = lre.core.alloc_count()
    collectgarbage("collect")
    collectgarbage("stop")
    local kb = collectgarbage("count")
    for _ = 1, 200 do t:step(1e-3) end
    local grown = collectgarbage("count") - kb
    collectgarbage("restart")
    assert.are.equal(engine, lre.core.alloc_count())
    assert.are.equal(0, grown)
  end)

  it("evaluate changes no state", function()
    local ds = blobs(64)
    local t1, t2 = trainer{ data = ds, seed = 5 }, trainer{ data = ds, seed = 5 }
    steps(t1, 3) steps(t2, 3)
    local e1 = t1:evaluate(ds)
    assert.are.equal(e1, t1:evaluate(ds))
    assert.are.equal(3, t1:steps())
    t1:accuracy(ds)
    local a, b = steps(t1, 5), steps(t2, 5)
    for i = 1, 5 do assert.are.equal(b[i], a[i]) end
  end)

  it("snapshot and restore give identical losses, bit for bit", function()
    local t = trainer{ optimizer = lre.optim.adamw() }
    steps(t, 7)
    local s = t:snapshot()
    assert.are.equal(7, s:steps())
    assert.are.equal("lrengine.snapshot(steps=7)", tostring(s))
    local first = steps(t, 12)
    t:restore(s)
    assert.are.equal(7, t:steps())
    local again = steps(t, 12)
    for i = 1, 12 do
      assert.are.equal(first[i], again[i], ("step %d: %.17g vs %.17g"):format(i, first[i], again[i]))
    end
  end)

  it("restores after a diverging run", function()
    local t = trainer{ optimizer = lre.optim.sgd() }
    local s = t:snapshot()
    local before = t:evaluate()
    steps(t, 5, 1e4) -- blows up
    t:restore(s)
    assert.are.equal(before, t:evaluate())
  end)

  it("saves and loads through a file", function()
    local path = os.tmpname()
    local t = trainer{ optimizer = lre.optim.sgd{ momentum = 0.9 } }
    steps(t, 4, 0.05)
    t:save(path)
    local first = steps(t, 6, 0.05)
    local u = trainer{ optimizer = lre.optim.sgd{ momentum = 0.9 } }
    u:load(path)
    assert.are.equal(4, u:steps())
    local again = steps(u, 6, 0.05)
    for i = 1, 6 do assert.are.equal(first[i], again[i]) end
    t:load(path)
    assert.are.equal(first[1], t:step(0.05))
    local f = assert(io.open(path, "r+b"))
    f:write("garbage!")
    f:close()
    fails(path, t.load, t, path)
    os.remove(path)
    fails("nonexistent", t.load, t, path .. ".nonexistent")
  end)

  it("reinit and reseed", function()
    local t = trainer{ seed = 4 }
    local a = steps(t, 5)
    t:reinit(4)
    t:reseed(4)
    assert.are.equal(0, t:epoch())
    assert.are.equal(0, t:cursor())
    local b = steps(t, 5)
    for i = 1, 5 do assert.are.equal(a[i], b[i]) end
    t:reinit(99)
    assert.are_not.equal(a[1], t:step(1e-2))
    fails("bad argument #1 to 'reinit' (seed must be a non-negative integer)", function() return t:reinit(-1) end)
  end)
end)

describe("object lifetime", function()
  it("a closed object is a clear error, and closing twice is harmless", function()
    local t = trainer()
    t:close()
    t:close()
    fails("attempt to use a closed trainer", t.step, t, 1e-3)
    assert.are.equal("lrengine.trainer (closed)", tostring(t))
    local ds = blobs(8)
    ds:close()
    fails("attempt to use a closed dataset", ds.size, ds)
    local m = mlp()
    m:close()
    fails("attempt to use a closed model", m.num_params, m)
    fails("trainer: option 'model' is a closed model", lre.trainer, { model = m, data = blobs(8) })
    local s = trainer():snapshot()
    s:close()
    fails("attempt to use a closed snapshot", s.steps, s)
  end)

  it("to-be-closed variables release early", function()
    local escaped
    do
      local t <close> = trainer()
      t:step(1e-3)
      escaped = t
    end
    fails("attempt to use a closed trainer", escaped.steps, escaped)
  end)

  it("objects outlive the handles they were made from, in any GC order", function()
    local m, ds = mlp(), blobs(64)
    local t = lre.trainer{ model = m, data = ds, seed = 1 }
    local s = t:snapshot()
    m:close()
    ds:close()
    local a = t:step(1e-2)
    t:restore(s)
    assert.are.equal(a, t:step(1e-2))
    local m2 = t:model() -- a new handle on the same model
    assert.are.equal(82, m2:num_params())
    assert.are.equal(64, t:data():size())
    t = nil
    collectgarbage("collect")
    assert.are.equal(82, m2:num_params())
    s = nil
    collectgarbage("collect")
  end)
end)

-- Every class of engine objects shares one close (lrelua_newboxclass):
-- the same promises, checked for each class Lua can make. (The custom
-- trainer's snapshot, made from C, is checked in spec/c/test_embed.c.)
describe("closing, for every class", function()
  local classes = {
    { name = "dataset", make = function() return blobs(8) end },
    { name = "model", make = mlp },
    { name = "trainer", make = function() return trainer() end },
    { name = "snapshot", make = function() return trainer():snapshot() end },
  }

  local function settle()
    collectgarbage("collect")
    collectgarbage("collect")
  end

  for _, class in ipairs(classes) do
    local name, make = class.name, class.make

    it(name .. ": close releases at once, and closing again or collecting does nothing", function()
      settle()
      local before = lre.core.bytes_live()
      local x = make()
      local open = lre.core.bytes_live()
      assert.is_true(open > before, "making a " .. name .. " allocates")
      x:close()
      assert.is_true(lre.core.bytes_live() < open, "close released the " .. name)
      x:close()
      getmetatable(x).__close(x)
      assert.are.equal("lrengine." .. name .. " (closed)", tostring(x))
      x = nil
      settle() -- __gc on a closed box
      assert.are.equal(before, lre.core.bytes_live())
    end)

    it(name .. ": every method of a closed one is an error naming the class", function()
      local x = make()
      local methods = getmetatable(x).__index
      x:close()
      local n = 0
      for method, fn in pairs(methods) do
        if method ~= "close" then
          local ok, err = pcall(fn, x)
          assert.is_false(ok, name .. ":" .. method .. "() on a closed " .. name .. " succeeded")
          assert.are.equal("attempt to use a closed " .. name, err,
                           name .. ":" .. method .. "()")
          n = n + 1
        end
      end
      assert.is_true(n >= 1)
    end)

    it(name .. ": a <close> variable closes at the end of its block, and on an error", function()
      local escaped
      do
        local x <close> = make()
        escaped = x
      end
      assert.are.equal("lrengine." .. name .. " (closed)", tostring(escaped))
      assert.is_false(pcall(function()
        local x <close> = make()
        escaped = x
        error("unwinding")
      end))
      assert.are.equal("lrengine." .. name .. " (closed)", tostring(escaped))
      do
        local x <close> = make()
        x:close() -- then __close at the end of the block: harmless
      end
    end)
  end

  it("a closed object given as an argument is an error naming its class", function()
    local t, ds, s = trainer(), blobs(8), trainer():snapshot()
    ds:close()
    s:close()
    fails("attempt to use a closed dataset", t.evaluate, t, ds)
    fails("attempt to use a closed dataset", t.accuracy, t, ds)
    fails("attempt to use a closed snapshot", t.restore, t, s)
    fails("trainer: option 'data' is a closed dataset", lre.trainer, { model = mlp(), data = ds })
    fails("attempt to use a closed dataset", function() return #ds end)
  end)

  it("a trainer's own objects outlive a closed trainer", function()
    local m, ds = mlp(), blobs(16)
    local t = lre.trainer{ model = m, data = ds, seed = 1 }
    t:close()
    assert.are.equal(82, m:num_params())
    assert.are.equal(16, ds:size())
  end)
end)
