-- results_types_spec.lua — a saved result whose fields have the wrong
-- types ("config": 5, "lrs": "x", "losses": [1, "a"], "suggestions": 3,
-- "stop_reason": 7, "seed": "x", ...) is refused by lrengine.results.load
-- with one message naming the file and the field ("r.json: field 'config'
-- must be an object, got a number"), never a Lua traceback from deep inside
-- plot or suggest, nor accepted to break later; `lrengine plot` and
-- `lrengine suggest` print that one line and exit 1. results.new checks
-- the same fields, at the caller's line.

local results = require "lrengine.results"
local cmd = require "spec.command"

teardown(cmd.cleanup)

local CURVE = '"lrs": [0.0001, 0.001, 0.01, 0.1], "losses": [2, 1.5, 1, 3]'

-- A JSON result file: the curve above and `extra` (fields, JSON text).
local function json_file(extra)
  local path = cmd.tmpfile() .. ".json"
  cmd.remove_later(path)
  local f = assert(io.open(path, "wb"))
  f:write("{" .. CURVE .. (extra ~= "" and (", " .. extra) or "") .. "}\n")
  f:close()
  return path
end

-- The wrong types and the message each must give after "<file>: ".
local CASES = {
  { '"config": 5', "field 'config' must be an object, got a number" },
  { '"config": [1, 2]', "field 'config' must be an object, got an array" },
  { '"config": null', "field 'config' must be an object, got null" },
  { '"config": {"num_iter": "x"}', "field 'config.num_iter' must be a positive integer, got a string" },
  { '"config": {"num_iter": 2.5}', "field 'config.num_iter' must be a positive integer, got 2.5" },
  { '"config": {"smoothing": "ema", "smooth_f": "x"}',
    "field 'config.smooth_f' must be a number, got a string" },
  { '"config": {"schedule": 3}', "field 'config.schedule' must be a string, got a number" },
  { '"config": {"suggest": 5}',
    "field 'config.suggest' must be a heuristic's name or an array of them, got a number" },
  { '"suggestions": 3', "field 'suggestions' must be an object (name -> {lr =, index =}), got a number" },
  { '"suggestions": [{"lr": 0.001}]',
    "field 'suggestions' must be an object (name -> {lr =, index =}), got an array" },
  { '"suggestions": {"steepest": 5}',
    "field 'suggestions.steepest' must be an object ({lr =, index =} or {reason =}), got a number" },
  { '"suggestions": {"steepest": {"lr": "x", "index": 2}}',
    "field 'suggestions.steepest.lr' must be a number, got a string" },
  { '"suggestions": {"steepest": {"lr": 0.001, "index": "2"}}',
    "field 'suggestions.steepest.index' must be a positive integer, got a string" },
  { '"suggestions": {"steepest": {"reason": 5}}',
    "field 'suggestions.steepest.reason' must be a string, got a number" },
  { '"stop_reason": 7', "field 'stop_reason' must be a string, got a number" },
  { '"stop_step": "x"', "field 'stop_step' must be a non-negative integer, got a string" },
  { '"seed": "x"', "field 'seed' must be a non-negative integer, got a string" },
  { '"seed": -1', "field 'seed' must be a non-negative integer, got -1" },
  { '"curve": true', "field 'curve' must be a string, got a boolean" },
  { '"model": 5', "field 'model' must be a string, got a number" },
  { '"batch_size": 0', "field 'batch_size' must be a positive integer, got 0" },
  { '"precision": "bf16"',
    "field 'precision' must be an object ({requested =, effective =}), got a string" },
  { '"precision": {"requested": "bf16", "effective": 16}',
    "field 'precision.effective' must be a string, got a number" },
  { '"repeats": 5', "field 'repeats' must be an object (name -> {median =, ...}), got a number" },
  { '"repeats": {"steepest": {"median": "x"}}',
    "field 'repeats.steepest.median' must be a number, got a string" },
  { '"repeats": {"steepest": {"lrs": [0.001, "y"]}}',
    "repeats.steepest.lrs[2] is the string 'y', expected a number" },
  { '"runs": 5', "field 'runs' must be an array of runs ({lrs =, losses =, ...}), got a number" },
  { '"runs": [{"lrs": [1], "losses": ["a"]}]', "runs[1].losses[1] is the string 'a', expected a number" },
  { '"runs": [{"lrs": [1], "losses": [1], "suggestions": {"valley": {"lr": true}}}]',
    "field 'runs[1].suggestions.valley.lr' must be a number, got a boolean" },
  { '"val_losses": {"a": 1}', "field 'val_losses' must be an array of numbers, got an object" },
  { '"step_seconds": [1, 2, null, 4]', "step_seconds[3] is null, expected a number" },
}

describe("results.load of a JSON result with fields of the wrong type", function()
  it("names the file and the field, with no Lua position", function()
    for _, c in ipairs(CASES) do
      local path = json_file(c[1])
      local ok, err = pcall(results.load, path)
      assert.is_false(ok, c[1] .. ": accepted")
      assert.are.equal(path .. ": " .. c[2], tostring(err), c[1])
    end
  end)

  it("names lrs and losses of the wrong type, not 'not a result'", function()
    local path = cmd.tmpfile('{"lrs": "x", "losses": [1]}')
    local ok, err = pcall(results.load_json, path)
    assert.is_false(ok)
    assert.are.equal(path .. ": field 'lrs' must be an array of numbers, got a string", err)
    path = cmd.tmpfile('{"lrs": [1, 2], "losses": [1, "a"]}')
    ok, err = pcall(results.load_json, path)
    assert.is_false(ok)
    assert.are.equal(path .. ": losses[2] is the string 'a', expected a number", err)
    path = cmd.tmpfile('{"lrs": {"a": 1}, "losses": [1]}')
    ok, err = pcall(results.load_json, path)
    assert.is_false(ok)
    assert.are.equal(path .. ": field 'lrs' must be an array of numbers, got an object", err)
    -- a table without the curve is still not a result
    ok, err = pcall(results.load_json, cmd.tmpfile('{"config": 5}'))
    assert.is_false(ok)
    assert.truthy(err:find("not an lrengine result", 1, true), err)
  end)

  it("checks the '# lrengine' line of a CSV the same way", function()
    local path = cmd.tmpfile('# lrengine {"config": 5}\nstep,lr,loss\n1,0.1,2\n2,0.2,1\n')
    local ok, err = pcall(results.load, path)
    assert.is_false(ok)
    assert.are.equal(path .. ": field 'config' must be an object, got a number", err)
  end)

  it("still reads what the finder writes: empty tables, integer-valued floats, a seed past 2^53", function()
    local path = json_file('"config": [], "runs": [], "seed": 4611686018427387904, '
      .. '"stop_step": 4.0, "repeats": {"steepest": {"reason": "no run gave a suggestion", "runs": 3}}, '
      .. '"suggestions": {"valley": {"error": "boom"}, "steepest": {"lr": 0.001, "index": 2}}')
    local r = results.load(path)
    assert.are.equal(4, #r.lrs)
    assert.are.equal(4611686018427387904, r.seed)
    assert.are.equal(0.001, r.suggestions.steepest.lr)
  end)
end)

describe("results.new with fields of the wrong type", function()
  it("raises at the caller's line, naming the field", function()
    local ok, err = pcall(function()
      local r = results.new { lrs = { 1, 2 }, losses = { 1, 2 }, config = 5 }
      return r
    end)
    assert.is_false(ok)
    assert.matches("results_types_spec%.lua:%d+: results%.new: field 'config' must be an object, got a number$",
      err)
    ok, err = pcall(results.new, { lrs = { 1 }, losses = { 1 }, suggestions = { { lr = 1 } } })
    assert.is_false(ok)
    assert.truthy(err:find("results.new: field 'suggestions' must be an object", 1, true), err)
  end)

  it("gives a heuristic's non-string reason as a string, so the result reloads", function()
    local r = results.new { lrs = { 1e-3, 1e-2, 1e-1 }, losses = { 2, 1, 3 } }
    r:suggest(function() return nil, 42 end)
    assert.are.equal("42", r.suggestions.custom.reason)
    local path = cmd.tmpfile() .. ".json"
    cmd.remove_later(path)
    r:save_json(path)
    assert.are.equal("42", results.load(path).suggestions.custom.reason)
  end)
end)

describe("lrengine plot and suggest on such a file", function()
  it("print the one message and exit 1", function()
    for _, c in ipairs(CASES) do
      local path = json_file(c[1])
      local png = cmd.tmpfile() .. ".png"
      cmd.remove_later(png)
      for _, args in ipairs { "plot " .. cmd.shell_quote(path),
          "plot " .. cmd.shell_quote(path) .. " -o " .. cmd.shell_quote(png),
          "plot " .. cmd.shell_quote(path) .. " --heuristic valley",
          "suggest " .. cmd.shell_quote(path),
          "suggest " .. cmd.shell_quote(path) .. " --json" } do
        local code, out, err = cmd.run(args)
        assert.are.equal(1, code, args .. ": " .. err)
        assert.are.equal("", out, args)
        assert.are.equal("lrengine: " .. path .. ": " .. c[2] .. "\n", err, args)
      end
    end
  end)
end)
