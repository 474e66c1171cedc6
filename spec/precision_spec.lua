-- precision_spec.lua — the trainer's matmul precision from Lua and from the
-- command: lre.trainer{precision = ...}, trainer:precision(),
-- configure/options, `--precision`, the one warning line per trainer where
-- the device runs fp32 instead, and the record in the range test's result
-- (JSON round trip; absent for a trainer that does not say). The specs run
-- on the CPU, which runs fp32 only: tf32 and bf16 fall back there.
-- Trainers asking for tf32 or bf16 are made in child processes (the
-- command), so their warning lines are read instead of mixed into this
-- process's output.

local lre = require "lrengine"
local finder = require "lrengine.finder"
local results = require "lrengine.results"

local cmd = require "spec.command"
local shell_quote, tmpfile, run = cmd.shell_quote, cmd.tmpfile, cmd.run

local function lines(s)
  local t = {}
  for l in s:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

teardown(cmd.cleanup)

-- Calls fn, which must fail with a message containing every text (plain).
local function fails(fn, ...)
  local texts = { ... }
  return function(...)
    local ok, err = pcall(fn, ...)
    assert(not ok, "expected an error, but the call succeeded")
    err = tostring(err)
    for _, text in ipairs(texts) do
      assert(err:find(text, 1, true), "expected an error containing '" .. text .. "', got: " .. err)
    end
  end
end

local function small()
  local ds = lre.data.from_tables({ { 0, 1 }, { 1, 0 }, { 1, 1 }, { 0, 0 } }, { 0, 1, 1, 0 })
  local m = lre.nn.sequential{ lre.nn.linear(2, 4), lre.nn.relu(), lre.nn.linear(4, 2) }
  return m, ds
end

-- A script for the command: a small trainer (options `topts`, Lua source),
-- then `tail` (Lua source, sees `t`, `finder`, `lre`).
local function script(topts, tail)
  return tmpfile(([[
local lre = require "lrengine"
local finder = require "lrengine.finder"
local ds = lre.data.from_tables({ { 0, 1 }, { 1, 0 }, { 1, 1 }, { 0, 0 } }, { 0, 1, 1, 0 })
local m = lre.nn.sequential{ lre.nn.linear(2, 4), lre.nn.relu(), lre.nn.linear(4, 2) }
local t = lre.trainer{ model = m, data = ds, batch_size = 2%s }
%s
]]):format(topts, tail or ""))
end

describe("trainer precision", function()
  it("is fp32 by default, and reports effective, requested", function()
    local m, ds = small()
    local t = lre.trainer{ model = m, data = ds, batch_size = 2 }
    local eff, req = t:precision()
    assert.are.equal("fp32", eff)
    assert.are.equal("fp32", req)
    t = lre.trainer{ model = small(), data = ds, batch_size = 2, precision = "fp32" }
    assert.are.same({ "fp32", "fp32" }, { t:precision() })
    assert.are.equal("fp32", lre.options().precision)
  end)

  it("refuses an unknown name, listing fp32, tf32 and bf16", function()
    local m, ds = small()
    for _, bad in ipairs{ "fp16", "FP32", "", "bfloat16" } do
      fails(lre.trainer, "trainer: option 'precision'", ('"%s"'):format(bad), "fp32", "tf32",
            "bf16")({ model = m, data = ds, precision = bad })
    end
    fails(lre.trainer, "trainer: option 'precision' is a number", "fp32", "tf32", "bf16")(
      { model = m, data = ds, precision = 16 })
    fails(lre.configure, "configure: option 'precision'", "fp32", "tf32", "bf16")(
      { precision = "half" })
    assert.are.equal("fp32", lre.options().precision)
  end)

  it("configure{precision=} sets the default of trainers made afterwards", function()
    local code, out, err = run("-e " .. shell_quote([[
local lre = require "lrengine"
lre.configure{ precision = "tf32" }
print(lre.options().precision)
local ds = lre.data.from_tables({ { 0, 1 }, { 1, 0 } }, { 0, 1 })
print(lre.trainer{ model = lre.nn.sequential{ lre.nn.linear(2, 2) }, data = ds }:precision())
print(lre.trainer{ model = lre.nn.sequential{ lre.nn.linear(2, 2) }, data = ds,
  precision = "fp32" }:precision())
]]))
    assert.are.equal(0, code, err)
    -- a CPU never has TF32: the default reaches the trainer, which runs fp32
    assert.are.equal("tf32\nfp32\ttf32\nfp32\tfp32\n", out)
    assert.are.equal(1, #lines(err), err)
  end)
end)

describe("--precision", function()
  it("is listed by --help", function()
    local code, out = run("--help")
    assert.are.equal(0, code)
    assert.truthy(out:find("--precision", 1, true), out)
    assert.truthy(out:find("fp32, tf32 or bf16", 1, true), out)
  end)

  it("a bad or missing value is a usage error: exit 2, one line and where the help is", function()
    local code, out, err = run("--precision bogus -e 'print(1)'")
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.are.equal("lrengine: unknown precision 'bogus' (fp32, tf32 or bf16)\n" ..
                     "see lrengine --help\n", err)
    for _, args in ipairs{ "--precision", "--precision=fp16", "--precision BF16" } do
      code, _, err = run(args)
      assert.are.equal(2, code, args)
      assert.truthy(err:find("see lrengine --help", 1, true), args .. ": " .. err)
    end
  end)

  it("is the default of trainers, reported by options() and trainer:precision()", function()
    local s = script("", [[
print(lre.options().precision)
print(t:precision())
]])
    for _, form in ipairs{ "--precision tf32 ", "--precision=tf32 " } do
      local code, out, err = run(form .. shell_quote(s))
      assert.are.equal(0, code, err)
      assert.are.equal("tf32\nfp32\ttf32\n", out)
    end
    local code, out, err = run("--precision fp32 " .. shell_quote(s))
    assert.are.equal(0, code, err)
    assert.are.equal("fp32\nfp32\tfp32\n", out)
    assert.are.equal("", err)
  end)

  -- a CPU never has TF32 (bf16 it may have: oneDNN on AMX or AVX512-BF16)
  it("where the device lacks it: exactly one warning line, and fp32", function()
    local s = script("", [[
for i = 1, 3 do t:step(1e-2) end
t:evaluate()
print(t:precision())
]])
    local code, out, err = run("--precision tf32 " .. shell_quote(s))
    assert.are.equal(0, code, err)
    assert.are.equal("fp32\ttf32\n", out)
    assert.are.same({ "lrengine: warning: tf32 is not available on cpu; using fp32" }, lines(err))
  end)

  it("warns once per trainer, and not for a trainer that gets what it asks", function()
    local s = script(', precision = "tf32"', [[
local t2 = t:clone()
local t3 = t:clone{ precision = "fp32" }
print(t:precision()) print(t2:precision()) print(t3:precision())
]])
    local code, out, err = run("--precision tf32 " .. shell_quote(s))
    assert.are.equal(0, code, err)
    assert.are.equal("fp32\ttf32\nfp32\ttf32\nfp32\tfp32\n", out)
    assert.are.same({ "lrengine: warning: tf32 is not available on cpu; using fp32",
                      "lrengine: warning: tf32 is not available on cpu; using fp32" }, lines(err))
  end)
end)

describe("the result records the precision", function()
  it("requested and effective, through the JSON file", function()
    local json = tmpfile()
    local s = script("", ([[
local r = finder.range_test{ trainer = t, start_lr = 1e-3, end_lr = 1, num_iter = 5 }
r:save_json(%q)
print(r.precision.requested, r.precision.effective)
]]):format(json))
    local code, out, err = run("--precision tf32 " .. shell_quote(s))
    assert.are.equal(0, code, err)
    assert.are.equal("tf32\tfp32\n", out)
    assert.are.equal(1, #lines(err), err)
    local back = results.load_json(json)
    assert.are.same({ requested = "tf32", effective = "fp32" }, back.precision)
    assert.are.equal("cpu", back.device)
    -- and saved again, unchanged
    local again = tmpfile()
    back:save_json(again)
    assert.are.same(back.precision, results.load(again).precision)
  end)

  it("fp32 with the engine's trainer by default", function()
    local m, ds = small()
    local t = lre.trainer{ model = m, data = ds, batch_size = 2 }
    local r = finder.range_test{ trainer = t, start_lr = 1e-3, end_lr = 1, num_iter = 4 }
    assert.are.same({ requested = "fp32", effective = "fp32" }, r.precision)
  end)

  it("is absent for a trainer without precision()", function()
    local k = 0
    local custom = { step = function() k = k + 1 return 1 / k end,
      snapshot = function() return k end, restore = function(_, s) k = s end }
    local r = finder.range_test{ trainer = custom, start_lr = 1e-3, end_lr = 1, num_iter = 4 }
    assert.is_nil(r.precision)
    local json = tmpfile()
    r:save_json(json)
    assert.is_nil(results.load_json(json).precision)
  end)

  it("is absent when precision() fails or answers something else", function()
    local k = 0
    local function custom(prec)
      return { step = function() k = k + 1 return 1 / k end,
        snapshot = function() return k end, restore = function(_, s) k = s end,
        precision = prec }
    end
    local r = finder.range_test{ trainer = custom(function() error("no") end), num_iter = 3 }
    assert.is_nil(r.precision)
    r = finder.range_test{ trainer = custom(function() return 32 end), num_iter = 3 }
    assert.is_nil(r.precision)
    r = finder.range_test{ trainer = custom(function() return "bf16" end), num_iter = 3 }
    assert.are.same({ requested = "bf16", effective = "bf16" }, r.precision)
  end)
end)
