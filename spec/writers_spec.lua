-- writers_spec.lua — every file the command writes (results JSON and CSV,
-- figures PNG/SVG/PDF, safetensors checkpoints) is written whole or not at
-- all, through the engine's one writer: a write that fails part-way (past
-- the file-size limit, `ulimit -f`) keeps the old file byte for byte,
-- leaves no temporary file, names the reason, and the command reports it
-- instead of dying of SIGXFSZ. `plot -o -` writes the figure to standard
-- output; a FIFO is written in place; a folder is refused. The C side
-- (spec/c/test_files.c) covers links, devices, sockets and a full disk.
local cmd = require "spec.command"

local function q(s) return cmd.shell_quote(s) end

-- a fresh folder under the system's temporary one
local function tmpdir()
  local p = io.popen("mktemp -d")
  local d = p:read("l")
  p:close()
  return d
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function leftovers(dir)
  local p = io.popen("ls -A " .. q(dir))
  local names = {}
  for name in p:lines() do
    if name:find("^%.lre%-tmp%-") then names[#names + 1] = name end
  end
  p:close()
  return names
end

-- A 400-point curve (its JSON, CSV and figures are all over 8 KiB).
local CURVE = [[
local res = require "lrengine.results"
local lrs, losses = {}, {}
for i = 1, 400 do
  lrs[i] = 1e-6 * 10 ^ (i / 60)
  losses[i] = 2.3 - math.sin(i / 80) + 0.01 * math.cos(i * 7.1)
end
local r = res.new { lrs = lrs, losses = losses, smoothed = losses, curve = "train",
  stop_reason = "completed", stop_step = 400, config = {} }
]]

describe("writers", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function()
    os.execute("rm -rf " .. q(dir))
    cmd.cleanup()
  end)

  it("keep the old file whole when a write fails past the file-size limit", function()
    local names = { "r.json", "r.csv", "f.png", "f.svg", "f.pdf", "t.safetensors" }
    for _, n in ipairs(names) do write(dir .. "/" .. n, "old " .. n) end
    local script = cmd.tmpfile(CURVE .. ([[
local lre = require "lrengine"
local dir = %q
local function try(what, f, ...)
  local ok, err = pcall(f, ...)
  print(what, ok and "ok" or tostring(err))
end
try("json", r.save_json, r, dir .. "/r.json")
try("csv", r.save_csv, r, dir .. "/r.csv")
try("png", r.plot, r, dir .. "/f.png")
try("svg", r.plot, r, dir .. "/f.svg")
try("pdf", r.plot, r, dir .. "/f.pdf")
local ds = lre.data.from_tables({ {0, 1, 2, 3}, {1, 2, 3, 4} }, { 0, 1 })
local t = lre.trainer { model = lre.nn.sequential { lre.nn.linear(4, 512), lre.nn.relu(),
  lre.nn.linear(512, 2) }, data = ds, batch_size = 2, loss = lre.loss.cross_entropy(),
  optimizer = lre.optim.adam { lr = 1e-3 } }
try("safetensors", t.save, t, dir .. "/t.safetensors")
]]):format(dir))
    -- 16 blocks: 8 KiB under dash (512-byte blocks), 16 KiB under bash
    local code, out, err = cmd.run("-q " .. q(script), { prefix = "ulimit -f 16; " })
    assert.are.equal(0, code, err)
    for _, what in ipairs { "json", "csv", "png", "svg", "pdf", "safetensors" } do
      local line = out:match(what .. "\t([^\n]*)")
      assert.truthy(line, what .. " was not tried:\n" .. out .. err)
      assert.truthy(line:find("File too large", 1, true), what .. ": " .. line)
    end
    for _, n in ipairs(names) do
      assert.are.equal("old " .. n, read(dir .. "/" .. n), n .. " changed")
    end
    assert.are.same({}, leftovers(dir))
  end)

  it("report a write past the file-size limit from the command, exit 1, not SIGXFSZ", function()
    local json = dir .. "/r.json"
    local script = cmd.tmpfile(CURVE .. ("r:save_json(%q)\n"):format(json))
    local code, _, err = cmd.run("-q " .. q(script), { prefix = "ulimit -f 4; " })
    assert.are.equal(1, code, err)
    assert.truthy(err:find("cannot write " .. json .. ": File too large", 1, true), err)
    assert.is_nil(read(json))
    assert.are.same({}, leftovers(dir))
  end)

  it("write the figure to standard output with -o -", function()
    local json = dir .. "/r.json"
    local script = cmd.tmpfile(CURVE .. ("r:save_json(%q)\n"):format(json))
    assert.are.equal(0, (cmd.run("-q " .. q(script))))
    local code, out, err = cmd.run("plot " .. q(json) .. " -o -")
    assert.are.equal(0, code, err)
    assert.are.equal("\137PNG\r\n\26\n", out:sub(1, 8))
    assert.truthy(err:find("plot: -", 1, true), err)
    code, out, err = cmd.run("plot " .. q(json) .. " -o - --format svg")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("^<%?xml") and out:find("</svg>"), out:sub(1, 200))
    code, _, err = cmd.run("plot " .. q(json) .. " -o - --format gif")
    assert.are.equal(2, code)
    assert.truthy(err:find("--format needs png, svg or pdf, got 'gif'", 1, true), err)
  end)

  it("write a FIFO in place and refuse a folder", function()
    local json = dir .. "/r.json"
    local script = cmd.tmpfile(CURVE .. ("r:save_json(%q)\n"):format(json))
    assert.are.equal(0, (cmd.run("-q " .. q(script))))
    local fifo, copy = dir .. "/fifo", dir .. "/copy.svg"
    assert.truthy(os.execute("mkfifo " .. q(fifo)))
    -- the reader in the background, bounded so a failure cannot hang the spec
    local code, _, err = cmd.run(("plot %s -o %s --format svg"):format(q(json), q(fifo)),
      { prefix = ("(timeout 20 cat %s > %s &) ; "):format(q(fifo), q(copy)) })
    assert.are.equal(0, code, err)
    os.execute("sleep 0.2")
    assert.truthy((read(copy) or ""):find("</svg>"), "the FIFO's reader got no figure")
    local p = io.popen("stat -c %F " .. q(fifo))
    assert.are.equal("fifo", p:read("l"))
    p:close()

    os.execute("mkdir " .. q(dir .. "/a.png"))
    code, _, err = cmd.run(("plot %s -o %s"):format(q(json), q(dir .. "/a.png")))
    assert.are.equal(1, code, err)
    assert.truthy(err:find("a.png: it is a folder", 1, true), err)
  end)
end)
