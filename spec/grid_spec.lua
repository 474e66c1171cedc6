-- The learning-rate x weight-decay map (lrengine.grid, finder.grid): one
-- range test per value from the same initial weights, the best value, the
-- summary, save and load; the same grid in one process, in `jobs`
-- processes, and split with --grid-index then `lrengine merge`.
local lre = require "lrengine"
local finder = require "lrengine.finder"
local grid = require "lrengine.grid"
local cmd = require "spec.command"

teardown(cmd.cleanup)

local SETUP = string.format([[
local lre = require "lrengine"
local blobs = dofile(%q)
local function setup()
  local train, val = blobs(600, 7):split(0.8, 1)
  local model = lre.nn.sequential { lre.nn.linear(3, 32), lre.nn.relu(), lre.nn.linear(32, 3) }
  return lre.trainer { model = model, data = train, batch_size = 32, seed = 1,
    optimizer = lre.optim.adam {} }, val
end
]], cmd.absolute("spec/blobs.lua"))

local setup = load(SETUP .. "return setup")()

local function opts(val)
  return { val = val, start_lr = 1e-4, end_lr = 10, num_iter = 25, suggest = { "steepest", "valley" },
    progress = false }
end

describe("grid", function()
  it("runs one range test per weight decay from the same weights, and picks the best", function()
    local t, val = setup()
    local g = finder.grid { trainer = t, weight_decay = { 0, 1e-3, 0.3 }, range_test = opts(val) }
    assert.are.equal("weight_decay", g.name)
    assert.are.equal(3, #g.results)
    -- the same initial weights and batches: the first step's losses agree
    assert.are.equal(g.results[1].train_losses[1], g.results[3].train_losses[1])
    assert.are_not.equal(g.results[1].val_losses[10], g.results[3].val_losses[10])
    local lo, at = math.huge, nil
    for i, r in ipairs(g.results) do
      assert.are.same({ name = "weight_decay", value = ({ 0, 1e-3, 0.3 })[i], index = i, count = 3 },
        r.grid)
      assert.are.equal(grid.min_smoothed(r), g.scores[i])
      if g.scores[i] < lo then lo, at = g.scores[i], i end
    end
    assert.are.equal(at, g.best)
    assert.are.equal(0, t:steps()) -- the trainer itself untouched
    local s = g:summary()
    assert.matches("weight_decay%s+steepest%s+valley%s+min smoothed", s)
    assert.matches("\n%* " .. tostring(g.values[g.best]):gsub("%p", "%%%0"), s)
  end)

  it("takes a build function and any hyper-parameter, and a scoring rule", function()
    local built = {}
    local g = finder.grid { name = "width", values = { 4, 16 },
      build = function(w)
        built[#built + 1] = w
        local train = lre.data.from_tables({ { 0, 1 }, { 1, 0 }, { 1, 1 }, { 0, 0 } }, { 0, 1, 1, 0 })
        return lre.trainer { model = lre.nn.sequential { lre.nn.linear(2, w), lre.nn.relu(),
          lre.nn.linear(w, 2) }, data = train, batch_size = 2, seed = 3 }
      end,
      range_test = { num_iter = 10, progress = false },
      best = function(r) return -#r.lrs end }
    assert.are.same({ 4, 16 }, built)
    assert.are.same({ -10, -10 }, g.scores)
    assert.are.equal(1, g.best) -- ties: the first
  end)

  it("saves and loads a grid", function()
    local t, val = setup()
    local g = finder.grid { trainer = t, batch_size = { 16, 64 }, range_test = opts(val) }
    local path = cmd.tmpfile()
    g:save_json(path)
    local back = assert(grid.load(path))
    assert.are.equal("batch_size", back.name)
    assert.are.same({ 16, 64 }, back.values)
    assert.are.equal(g.best, back.best)
    assert.are.same(g.results[2].losses, back.results[2].losses)
    assert.are.same(g.results[2].grid, back.results[2].grid)
    -- a value the rule cannot score keeps its infinite score through the file
    local h = finder.grid { trainer = t, batch_size = { 16, 64 }, range_test = opts(val),
      best = function() return math.huge end }
    assert.is_nil(h.best)
    local hp = cmd.tmpfile()
    h:save_json(hp)
    local hb = assert(grid.load(hp))
    assert.are.same({ math.huge, math.huge }, hb.scores)
    assert.is_nil(hb.best)
    local r = cmd.tmpfile()
    g.results[1]:save_json(r)
    local none, why = grid.load(r)
    assert.is_nil(none)
    assert.matches("not a grid", why)
  end)

  it("draws one curve per value, a suggestion on each, the best thicker", function()
    local plot = require "lrengine.plot"
    local t, val = setup()
    local g = finder.grid { trainer = t, weight_decay = { 0, 1e-3, 0.3 }, range_test = opts(val) }
    local spec = plot.grid_spec(g)
    assert.are.equal(3, #spec.curves)
    assert.is_true(spec.per_curve)
    assert.are.equal(g.best, spec.main_curve)
    assert.matches("%(best%)$", spec.curves[g.best].label)
    assert.are.equal("weight_decay = 0.001" .. (g.best == 2 and " (best)" or ""), spec.curves[2].label)
    for i, s in ipairs(spec.suggestions) do
      assert.are.equal(i, s.curve)
      assert.are.equal(g.results[i].suggestions.steepest.lr, s.lr)
    end
    assert.are.equal(g.best, spec.chosen)
    assert.are.equal("valley", plot.grid_spec(g, { chosen = "valley" }).suggestions[1].name)
    local path = cmd.tmpfile() .. ".png"
    cmd.remove_later(path)
    g:plot(path)
    local f = assert(io.open(path, "rb"))
    assert.are.equal("\x89PNG", f:read(4))
    f:close()
    -- different schedules cannot share the x axis
    g.results[2].lrs[3] = g.results[2].lrs[3] * 2
    local ok, err = pcall(plot.grid_spec, g)
    assert.is_false(ok)
    assert.matches("ran different schedules", err)
  end)

  it("refuses bad options with a clear message", function()
    local t, val = setup()
    local cases = {
      { { trainer = t }, "with trainer, give exactly one of weight_decay, batch_size %(got none%)" },
      { { trainer = t, weight_decay = { 0 }, batch_size = { 8 } }, "with trainer, give exactly one of" },
      { { trainer = t, weight_decay = {} }, "weight_decay must be a non%-empty array" },
      { { build = function() end, values = { 1 } }, "name %(the hyper%-parameter's name%) is required" },
      { { trainer = t, weight_decay = { 0 }, jobs = 0 }, "jobs must be an integer >= 1" },
      { { trainer = t, weight_decay = { 0 }, best = "lowest" }, "best must be 'min_smoothed'" },
      { { trainer = t, weight_decay = { 0 }, range_test = { trainer = t } }, "range_test.trainer" },
      { { trainer = t, weight_decay = { 0 }, wd = 1 }, "unknown option 'wd'" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(finder.grid, c[1])
      assert.is_false(ok)
      assert.matches("^grid: " .. c[2], tostring(err))
    end
    local ok, err = pcall(finder.grid, { trainer = t, weight_decay = { -1 }, range_test = opts(val) })
    assert.is_false(ok)
    assert.matches("weight_decay", tostring(err))
  end)
end)

describe("grid across processes", function()
  local SCRIPT = SETUP .. [[
local finder = require "lrengine.finder"
local t, val = setup()
local g = finder.grid { trainer = t, weight_decay = { 0, 1e-2, 0.3 }, jobs = tonumber(arg[1]),
  dir = arg[2], range_test = { val = val, start_lr = 1e-4, end_lr = 10, num_iter = 25,
  suggest = { "steepest", "valley" }, progress = false } }
if not lre.options().grid_index then g:save_json(arg[3]) end
]]

  local function fields(g)
    local out = {}
    for i, r in ipairs(g.results) do
      out[i] = { r.lrs, r.losses, r.smoothed, r.suggestions, r.grid }
    end
    return { g.name, g.values, g.best, out }
  end

  it("gives the same grid in one process, in 2 jobs, and split by --grid-index then merged", function()
    local script = cmd.tmpfile(SCRIPT)
    local dir = os.tmpname()
    os.remove(dir)
    cmd.remove_later(dir)
    local q = cmd.shell_quote
    local one, two, merged = cmd.tmpfile(), cmd.tmpfile(), cmd.tmpfile()
    local code, _, err = cmd.run(table.concat({ q(script), "1", q(dir .. "/a"), q(one) }, " "))
    assert.are.equal(0, code, err)
    code, _, err = cmd.run(table.concat({ q(script), "2", q(dir .. "/b"), q(two) }, " "))
    assert.are.equal(0, code, err)
    local files = {}
    for i = 3, 1, -1 do
      code, _, err = cmd.run(table.concat({ "--grid-index", tostring(i), q(script), "1",
        q(dir .. "/c"), "unused" }, " "))
      assert.are.equal(0, code, err)
      files[#files + 1] = q(dir .. "/c/weight_decay-" .. i .. ".json")
    end
    local out
    code, out, err = cmd.run("merge " .. table.concat(files, " ") .. " -o " .. q(merged))
    assert.are.equal(0, code, err)
    assert.matches("weight_decay%s+steepest", out)
    local g1, g2, g3 = grid.load(one), grid.load(two), grid.load(merged)
    assert.are.same(fields(g1), fields(g2))
    assert.are.same(fields(g1), fields(g3))
    -- a value's file twice, a file of no grid, a grid index past the end
    code, _, err = cmd.run("merge " .. files[1] .. " " .. files[1] .. " -o " .. q(merged))
    assert.are.equal(1, code)
    assert.matches("value 3 is in", err)
    code, _, err = cmd.run("merge " .. q(one) .. " -o " .. q(merged))
    assert.are.equal(1, code)
    assert.matches("merge: .* is a whole grid already", err)
    local plain = cmd.tmpfile()
    finder.range_test { trainer = (setup()), num_iter = 5, progress = false }:save_json(plain)
    code, _, err = cmd.run("merge " .. q(plain) .. " -o " .. q(merged))
    assert.are.equal(1, code)
    assert.matches("merge: .* is not one value of a grid", err)
    code, _, err = cmd.run(table.concat({ "--grid-index", "4", q(script), "1", q(dir .. "/c"), "x" }, " "))
    assert.are_not.equal(0, code)
    assert.matches("grid: %-%-grid%-index 4, but the grid has 3 values", err)
    local png = merged .. ".png"
    cmd.remove_later(png)
    code, out, err = cmd.run("plot " .. q(merged) .. " -o " .. q(png))
    assert.are.equal(0, code, err)
    assert.matches("plot: ", out)
    code, out = cmd.run("plot " .. q(merged))
    assert.are.equal(0, code)
    assert.matches("weight_decay%s+steepest%s+valley", out)
    -- jobs > 1 needs a script file to re-run: not standard input
    code, _, err = cmd.run("- 2 " .. q(dir .. "/d") .. " x", { stdin = SCRIPT })
    assert.are_not.equal(0, code)
    assert.matches("jobs > 1 needs a script file run by the lrengine command", err)
    code, _, err = cmd.run("merge -o " .. q(merged))
    assert.are.equal(2, code)
    assert.matches("merge: no files given", err)
    os.execute("rm -rf " .. q(dir))
  end)
end)
