-- memory_spec.lua — engine memory the Lua collector cannot see: a snapshot
-- or a dataset is a small box for Lua, megabytes for the engine. Each new
-- engine object tells the collector what the engine's live memory grew by,
-- so loops that drop them stay bounded. Measured in a fresh `lrengine`
-- process (its peak RSS from /proc/self/status, Linux).
local cmd = require "spec.command"

local RSS = [[
local function rss_mb()
  for l in io.lines("/proc/self/status") do
    local kb = l:match("^VmRSS:%s+(%d+)")
    if kb then return tonumber(kb) / 1024 end
  end
end
local peak = 0
local function sample() local r = rss_mb(); if r > peak then peak = r end end
]]

-- Under AddressSanitizer (make asan) freed memory waits in a quarantine
-- (256 MB by default) before it is reused, which RSS would count: keep it
-- small there (the variable means nothing to other builds).
local ASAN = "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1 "

local function run_script(body)
  local code, out, err = cmd.run("-q " .. cmd.shell_quote(cmd.tmpfile(RSS .. body)),
    { prefix = ASAN })
  assert.are.equal(0, code, err)
  return out
end

describe("engine memory and the Lua collector", function()
  local have_proc = io.open("/proc/self/status") ~= nil
  after_each(cmd.cleanup)

  it("keeps 2,000 dropped snapshots of the reference MLP under 200 MB", function()
    if not have_proc then return pending("no /proc/self/status here (not Linux)") end
    local out = run_script [[
local lre = require "lrengine"
local rows, labels = {}, {}
for i = 1, 8 do
  local r = {}
  for j = 1, 784 do r[j] = (i * j) % 7 / 7 end
  rows[i], labels[i] = r, i % 10
end
local t = lre.trainer { model = lre.nn.sequential { lre.nn.linear(784, 256), lre.nn.relu(),
  lre.nn.linear(256, 256), lre.nn.relu(), lre.nn.linear(256, 10) },
  data = lre.data.from_tables(rows, labels, { num_classes = 10 }), batch_size = 8,
  loss = lre.loss.cross_entropy(), optimizer = lre.optim.adam { lr = 1e-3 } }
t:step(1e-3) -- Adam's buffers exist: a snapshot holds 3 copies of 269,322 floats
sample()
local base = peak
for _ = 1, 2000 do
  local s = t:snapshot() -- dropped at once, never closed
  sample()
end
print(string.format("base %.1f peak %.1f", base, peak))
]]
    local base, peak = out:match("base ([%d.]+) peak ([%d.]+)")
    assert.truthy(peak, out)
    -- 2,000 x 3.2 MB = 6.4 GB if nothing were collected before the end
    assert.is_true(tonumber(peak) < 200, out)
    assert.is_true(tonumber(peak) - tonumber(base) < 150, out)
  end)

  it("keeps 60 dropped datasets bounded", function()
    if not have_proc then return pending("no /proc/self/status here (not Linux)") end
    local have = cmd.run("-q -e " .. cmd.shell_quote('require("lrengine").data.fashion_mnist("test")'),
      { prefix = ASAN })
    if have ~= 0 then return pending("Fashion-MNIST is not installed (make deps installs it)") end
    local out = run_script [[
local lre = require "lrengine"
lre.data.fashion_mnist("test"):close()
sample()
local base = peak
for _ = 1, 60 do
  -- 10,000 images of 784 bytes: 470 MB for 60 if none were collected
  local d = lre.data.fashion_mnist("test")
  sample()
end
print(string.format("base %.1f peak %.1f", base, peak))
]]
    local base, peak = out:match("base ([%d.]+) peak ([%d.]+)")
    assert.truthy(peak, out)
    assert.is_true(tonumber(peak) - tonumber(base) < 120, out)
  end)

  it("frees a snapshot at once when closed (local s <close>)", function()
    local out = run_script [[
local lre = require "lrengine"
local core = require "lrengine.core"
local rows = {}
for i = 1, 4 do
  local r = {}
  for j = 1, 64 do r[j] = j / 64 end
  rows[i] = r
end
local t = lre.trainer { model = lre.nn.sequential { lre.nn.linear(64, 64) },
  data = lre.data.from_tables(rows, { 0, 1, 2, 3 }, { num_classes = 64 }), batch_size = 4,
  loss = lre.loss.cross_entropy(), optimizer = lre.optim.adam { lr = 1e-3 } }
t:step(1e-3)
local before = core.bytes_live()
do
  local s <close> = t:snapshot()
  print("held " .. core.bytes_live() - before)
end
print("after " .. core.bytes_live() - before)
]]
    local held, after = out:match("held (%d+)%s+after (%-?%d+)")
    assert.truthy(held, out)
    -- weights, bias and Adam's two buffers of each: 3 x (64 x 64 + 64) floats
    assert.is_true(tonumber(held) >= 3 * (64 * 64 + 64) * 4, out)
    assert.are.equal(0, tonumber(after), out)
  end)

end)
