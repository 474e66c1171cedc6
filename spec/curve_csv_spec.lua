-- curve_csv_spec.lua — the curve reader (lrengine.results.load_csv, what
-- `lrengine plot` and `lrengine suggest` read a CSV from another tool
-- with): decimal numbers only, clear messages for what it cannot read.
local results = require "lrengine.results"

local function tmp(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

local function load_err(text)
  local path = tmp(text)
  local ok, err = pcall(results.load_csv, path)
  os.remove(path)
  assert.is_false(ok, "loaded: " .. text:sub(1, 60))
  return tostring(err)
end

describe("the CSV curve reader", function()
  it("reads lr,loss with and without a header, CRLF, quotes and NaN", function()
    local path = tmp('lr,loss\r\n1e-5,2.5\r\n"2e-5",2.25\r\n3e-5,nan\r\n')
    local r = results.load_csv(path)
    os.remove(path)
    assert.are.same({ 1e-5, 2e-5, 3e-5 }, r.lrs)
    assert.are.equal(2.25, r.losses[2])
    assert.is_true(r.losses[3] ~= r.losses[3])
  end)

  it("skips a UTF-8 byte order mark before the header", function()
    local path = tmp("\239\187\191lr,loss\n0.001,2\n0.01,1.5\n")
    local r = results.load_csv(path)
    os.remove(path)
    assert.are.same({ 0.001, 0.01 }, r.lrs)
    assert.are.same({ 2, 1.5 }, r.losses)
  end)

  it("refuses hexadecimal numbers like any other non-decimal text", function()
    for _, cell in ipairs { "0x10", "0X1p4", "-0x2", " 0x10 " } do
      local err = load_err("lr,loss\n0.001,2\n" .. cell .. ",1.5\n")
      assert.truthy(err:find(":3: column 1 (lr) is not a number: '" .. cell .. "'", 1, true), err)
    end
    local err = load_err("0.001,0x3\n")
    assert.truthy(err:find(":1: column 2 (loss) is not a number: '0x3'", 1, true), err)
  end)

  it("reports a cell over 127 characters as too long, not as not a number", function()
    local long = "1" .. string.rep("0", 150)
    local err = load_err("lr,loss\n0.001,2\n0.01," .. long .. "\n")
    assert.truthy(err:find(":3: column 2 (loss) is too long (151 characters; at most 127)", 1,
      true), err)
    -- 127 characters still read
    local ok_cell = "0." .. string.rep("1", 125)
    local path = tmp("lr,loss\n0.001," .. ok_cell .. "\n")
    local r = results.load_csv(path)
    os.remove(path)
    assert.is_true(math.abs(r.losses[1] - 0.1111111) < 1e-6)
  end)

  it("names lines that end with a carriage return alone", function()
    local err = load_err("lr,loss\r0.001,2\r0.01,1.5\r")
    assert.truthy(err:find("its lines end with a carriage return alone", 1, true), err)
    assert.truthy(err:find("convert them to LF or CRLF", 1, true), err)
    err = load_err("lr,loss\n0.001,2\r0.01,1.5\n")
    assert.truthy(err:find(":2: a carriage return inside the line", 1, true), err)
  end)
end)
