-- clone_spec.lua — a model belongs to one trainer (two would step the same
-- parameters, a range test on one undoing the other's updates), and
-- trainer:clone{...} makes the second: a copy of the model, the optimizer
-- state, the step count and the batch order, with options of its own.
local lre = require "lrengine"
local finder = require "lrengine.finder"

local function data()
  local rows, labels = {}, {}
  for i = 1, 120 do
    rows[i] = { (i * 7) % 11 / 11, (i * 3) % 5 / 5, (i % 13) / 13 }
    labels[i] = i % 3
  end
  return lre.data.from_tables(rows, labels)
end

local function model()
  return lre.nn.sequential { lre.nn.linear(3, 16), lre.nn.relu(), lre.nn.linear(16, 3) }
end

local function steps(t, k, lr)
  local out = {}
  for i = 1, k do out[i] = t:step(lr or 1e-2) end
  return out
end

describe("a model and its trainer", function()
  it("refuses a second trainer on a model another trainer holds, pointing to clone", function()
    local ds, m = data(), model()
    local t = lre.trainer { model = m, data = ds, batch_size = 8, seed = 1 }
    local ok, err = pcall(lre.trainer, { model = m, data = ds })
    assert.is_false(ok)
    assert.truthy(err:find("the model already belongs to another trainer", 1, true), err)
    assert.truthy(err:find("trainer:clone{...}", 1, true), err)
    -- closed, the first lets it go
    t:close()
    local t2 = lre.trainer { model = m, data = ds, batch_size = 8, seed = 1 }
    assert.is_true(t2:steps() == 0)
  end)

  it("clones into a trainer that continues exactly as the original would", function()
    local ds = data()
    local t = lre.trainer { model = model(), data = ds, batch_size = 8, seed = 3,
      optimizer = lre.optim.adam { weight_decay = 1e-2 } }
    steps(t, 7) -- mid-epoch, Adam's buffers filled
    local c = t:clone()
    assert.are.equal(t:steps(), c:steps())
    assert.are.equal(t:cursor(), c:cursor())
    assert.are.same(steps(t, 20), steps(c, 20)) -- across the epoch's end too
  end)

  it("trains independently of the original", function()
    local ds = data()
    local t = lre.trainer { model = model(), data = ds, batch_size = 8, seed = 2 }
    local twin = lre.trainer { model = model(), data = ds, batch_size = 8, seed = 2 }
    steps(t, 3)
    steps(twin, 3)
    local c = t:clone()
    steps(c, 10, 0.5) -- big steps on the clone
    finder.range_test { trainer = c, num_iter = 10, start_lr = 1e-4, end_lr = 1, keep_state = true }
    assert.are.same(steps(twin, 5), steps(t, 5))
  end)

  it("takes options of its own: weight_decay, batch_size, optimizer", function()
    local ds = data()
    local t = lre.trainer { model = model(), data = ds, batch_size = 8, seed = 4,
      optimizer = lre.optim.adam { weight_decay = 0 } }
    steps(t, 2)
    local w = t:clone { weight_decay = 0.1, batch_size = 16 }
    assert.are.equal(16, w:batch_size())
    assert.truthy(tostring(w:optimizer()):find("weight_decay=0.1", 1, true), tostring(w:optimizer()))
    assert.truthy(tostring(t:optimizer()):find("weight_decay=0", 1, true))
    assert.are.equal(8, t:batch_size())
    -- the same starting weights: the same loss on the data before any step
    assert.are.equal(t:evaluate(ds), w:evaluate(ds))
    local s = t:clone { optimizer = lre.optim.sgd { momentum = 0.9 } }
    assert.are.equal(t:evaluate(ds), s:evaluate(ds))
    assert.are.equal(t:steps(), s:steps())
    assert.truthy(tostring(s:optimizer()):find("sgd", 1, true))
    local ok, err = pcall(t.clone, t, { weight_decay = -1 })
    assert.is_false(ok)
    assert.truthy(err:find("clone: option 'weight_decay'", 1, true), err)
    ok, err = pcall(t.clone, t, { seed = 1 })
    assert.is_false(ok)
    assert.truthy(err:find("unknown option 'seed'", 1, true), err)
  end)
end)
