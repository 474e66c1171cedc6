-- paths_spec.lua — a file path with an embedded NUL byte ("a\0b") is
-- refused by every function that takes one, naming the function, instead
-- of the C library silently using the part before the NUL ("a"): results'
-- save_json, save_csv and load, result:plot, the dataset loaders, the
-- trainer's save and load, and the core functions under them
-- (core.write_atomic, core.plot, core.plot_format: lrelua_checkpath in
-- engine/lua/lua_core.c). Each case first makes the file the truncated name
-- would reach, or checks that nothing was written under it.

local lre = require "lrengine"
local core = require "lrengine.core"
local results = require "lrengine.results"

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "'"))
local written = {}

local function at(name)
  local path = dir .. "/" .. name
  written[#written + 1] = path
  return path
end

local function put(name, bytes)
  local path = at(name)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
  return path
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

teardown(function()
  for _, p in ipairs(written) do os.remove(p) end
  os.remove(dir)
end)

-- fn(...) must fail with "<who>: path contains a NUL byte" and no Lua
-- position of this library's files.
local function refused(who, fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, who .. ": a path with a NUL byte was accepted")
  err = tostring(err)
  local want = who .. ": path contains a NUL byte"
  assert(err:find(want, 1, true), "expected '" .. want .. "', got: " .. err)
  assert(not err:find("lrengine/[%w_]+%.lua:%d+:"), "a position inside the library: " .. err)
  return err
end

local function result()
  return results.new { lrs = { 1e-4, 1e-3, 1e-2, 1e-1 }, losses = { 2, 1.5, 1, 3 },
    curve = "train", stop_reason = "completed", config = { num_iter = 4 } }
end

describe("a path with a NUL byte", function()
  it("is refused by result:save_json and save_csv, which write nothing", function()
    local r = result()
    local json, csv = at("r.json"), at("r.csv")
    local err = refused("save_json", r.save_json, r, json .. "\0.bak")
    assert.truthy(err:find("(byte " .. (#json + 1) .. " of " .. (#json + 5) .. ")", 1, true), err)
    refused("save_csv", r.save_csv, r, csv .. "\0.bak")
    assert.is_false(exists(json))
    assert.is_false(exists(csv))
    -- the same names without the NUL are written
    r:save_json(json)
    r:save_csv(csv)
    assert.is_true(exists(json) and exists(csv))
  end)

  it("is refused by results.load, load_json and load_csv", function()
    local r = result()
    local json, csv = at("l.json"), at("l.csv")
    r:save_json(json)
    r:save_csv(csv)
    refused("results.load", results.load, json .. "\0x")
    refused("load_json", results.load_json, json .. "\0x")
    refused("load_csv", results.load_csv, csv .. "\0x")
  end)

  it("is refused by result:plot, which draws nothing", function()
    local r = result()
    local png, g = at("f.png"), at("g")
    refused("plot", r.plot, r, png .. "\0.svg")
    refused("plot", r.plot, r, g .. "\0.png")
    assert.is_false(exists(png))
    assert.is_false(exists(g))
  end)

  it("is refused by core.write_atomic, core.plot and core.plot_format", function()
    local p = at("w.txt")
    refused("write_atomic", core.write_atomic, p .. "\0x", "text")
    assert.is_false(exists(p))
    local spec = require("lrengine.plot").spec(result())
    local png = at("c.png")
    refused("plot", core.plot, png .. "\0x", spec)
    assert.is_false(exists(png))
    refused("plot_format", core.plot_format, "x.png\0.svg")
  end)

  it("is refused by lre.data.csv, idx and npy, naming the argument", function()
    local csv = put("d.csv", "a,b,label\n1,2,0\n3,4,1\n")
    assert.are.equal(2, lre.data.csv(csv):size())
    refused("csv", lre.data.csv, csv .. "\0junk")
    refused("csv", lre.data.csv, csv .. "\0junk", { header = true })

    local images = put("images-idx3-ubyte",
      string.pack(">I4I4I4I4", 0x803, 2, 1, 1) .. "\1\2")
    local labels = put("labels-idx1-ubyte", string.pack(">I4I4", 0x801, 2) .. "\0\1")
    assert.are.equal(2, lre.data.idx(images, labels):size())
    refused("idx: images", lre.data.idx, images .. "\0x", labels)
    refused("idx: labels", lre.data.idx, images, labels .. "\0x")

    local function npy(descr, shape, payload)
      local dict = string.format("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr,
        shape)
      dict = dict .. string.rep(" ", (64 - (10 + #dict + 1) % 64) % 64) .. "\n"
      return "\x93NUMPY\1\0" .. string.pack("<I2", #dict) .. dict .. payload
    end
    local x = put("x.npy", npy("<f4", "(2, 1)", string.pack("<ff", 1, 2)))
    local y = put("y.npy", npy("<i8", "(2,)", string.pack("<i8i8", 0, 1)))
    assert.are.equal(2, lre.data.npy(x, y):size())
    refused("npy: features", lre.data.npy, x .. "\0x", y)
    refused("npy: labels", lre.data.npy, x, y .. "\0x")
  end)

  -- Passes once engine/lua/lua_trainer.c reads its path with
  -- lrelua_checkpath (trainer_save and trainer_load).
  it("is refused by trainer:save and trainer:load", function()
    local rows, ys = {}, {}
    for i = 1, 8 do rows[i], ys[i] = { i % 2, 1 - i % 2 }, i % 2 end
    local t = lre.trainer { model = lre.nn.sequential { lre.nn.linear(2, 2) },
      data = lre.data.from_tables(rows, ys), batch_size = 4, seed = 1 }
    local ckpt = at("t.ckpt")
    refused("trainer:save", t.save, t, ckpt .. "\0x")
    assert.is_false(exists(ckpt))
    t:save(ckpt) -- the name without the NUL: a checkpoint load would find
    refused("trainer:load", t.load, t, ckpt .. "\0x")
  end)
end)
