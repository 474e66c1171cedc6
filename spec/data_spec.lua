-- data_spec.lua — the dataset loaders from Lua: lre.data.idx, lre.data.npy,
-- lre.data.csv (options label/header/delimiter) and lre.data.fashion_mnist,
-- and the loading limit each takes as option max_bytes.
-- The files are written at test time into a temporary directory with
-- string.pack; a load that fails must raise an error naming the file and
-- the fault (and the line and column for CSV). The C side (every bad-input
-- case, gzip, NPY dtypes) is tested in spec/c/test_data.c.

local lre = require "lrengine"

local function fails(text, fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error containing '" .. text .. "', but the call succeeded")
  err = tostring(err)
  assert(err:find(text, 1, true), "expected an error containing '" .. text .. "', got: " .. err)
  return err
end

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "'"))
local written = {}

local function put(name, bytes)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
  written[#written + 1] = path
  return path
end

-- An IDX file: u8 data with the given dimensions.
local function idx(dims, data)
  local parts = { string.pack(">I4", 0x800 + #dims) }
  for _, d in ipairs(dims) do parts[#parts + 1] = string.pack(">I4", d) end
  for _, v in ipairs(data) do parts[#parts + 1] = string.char(v) end
  return table.concat(parts)
end

-- An NPY (version 1.0) file.
local function npy(descr, shape, payload)
  local dict = string.format("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape)
  local pad = (64 - (10 + #dict + 1) % 64) % 64
  dict = dict .. string.rep(" ", pad) .. "\n"
  return "\x93NUMPY\1\0" .. string.pack("<I2", #dict) .. dict .. payload
end

teardown(function()
  for _, p in ipairs(written) do os.remove(p) end
  os.remove(dir)
end)

describe("lre.data.idx", function()
  local images = put("images-idx3-ubyte", idx({ 3, 2, 2 }, { 0, 255, 7, 8, 1, 2, 3, 4, 9, 9, 9, 9 }))
  local labels = put("labels-idx1-ubyte", idx({ 3 }, { 2, 0, 1 }))

  it("loads u8 images and labels", function()
    local d = lre.data.idx(images, labels)
    assert.are.equal(3, d:size())
    assert.are.same({ 2, 2 }, d:shape())
    assert.are.equal(3, d:num_classes())
    assert.truthy(tostring(d):find("u8", 1, true))
    local s = d:scale(1 / 255)
    assert.are.equal(3, s:size())
  end)

  it("names the missing file", function()
    local missing = dir .. "/nope-idx3-ubyte"
    fails(missing, lre.data.idx, missing, labels)
    fails("cannot open", lre.data.idx, missing, labels)
  end)

  it("names a truncated file and what its header says", function()
    local cut = put("cut-idx3-ubyte", idx({ 3, 2, 2 }, { 1, 2, 3 }))
    local err = fails(cut, lre.data.idx, cut, labels)
    assert.truthy(err:find("truncated", 1, true), err)
    assert.truthy(err:find("3×2×2 images (12 bytes)", 1, true), err)
  end)

  it("refuses images and labels whose counts disagree", function()
    local two = put("two-idx1-ubyte", idx({ 2 }, { 0, 1 }))
    fails("counts disagree", lre.data.idx, images, two)
  end)

  it("checks its arguments", function()
    fails("bad argument #2", lre.data.idx, images)
  end)
end)

describe("lre.data.npy", function()
  local x = put("x.npy", npy("<f4", "(3, 2)", string.pack("<ffffff", 0.5, -1, 2, 3, 4, 5)))
  local y = put("y.npy", npy("<i8", "(3,)", string.pack("<i8i8i8", 0, 2, 1)))

  it("loads f4 features and i8 labels", function()
    local d = lre.data.npy(x, y)
    assert.are.equal(3, d:size())
    assert.are.same({ 2 }, d:shape())
    assert.are.equal(3, d:num_classes())
  end)

  it("refuses Fortran order, naming the file", function()
    local dict = "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }"
    local f = put("fortran.npy", "\x93NUMPY\1\0" .. string.pack("<I2", #dict + 1) .. dict .. "\n"
      .. string.rep("\0", 24))
    local err = fails(f, lre.data.npy, f, y)
    assert.truthy(err:find("Fortran order", 1, true), err)
  end)

  it("refuses an unsupported dtype", function()
    local f = put("f2.npy", npy("<f2", "(3, 2)", string.rep("\0", 12)))
    fails("unsupported dtype '<f2'", lre.data.npy, f, y)
  end)

  it("refuses a negative label with its row", function()
    local neg = put("neg.npy", npy("<i8", "(3,)", string.pack("<i8i8i8", 0, -1, 1)))
    fails("label -1 at row 2", lre.data.npy, x, neg)
  end)

  it("takes task = \"regression\" for float targets, and never guesses it", function()
    local frac = put("frac.npy", npy("<f4", "(3,)", string.pack("<fff", 1, 0.25, 2)))
    fails('label 0.25 at row 2 is not an integer: class labels are 0, 1, ...; for regression '
          .. 'targets load with task "regression"', lre.data.npy, x, frac)
    local d = lre.data.npy(x, frac, { task = "regression" })
    assert.are.equal(0, d:num_classes())
    assert.are.equal(1, d:target_dim())
    local whole = put("whole.npy", npy("<f8", "(3,)", string.pack("<ddd", 1, 0, 2)))
    assert.are.equal(3, lre.data.npy(x, whole):num_classes())
    assert.are.equal(3, lre.data.npy(x, y, { task = "classification" }):num_classes())
    fails("npy: option 'task' = \"classify\" is not a task", lre.data.npy, x, y,
          { task = "classify" })
    fails("npy: unknown option 'tsk'", lre.data.npy, x, y, { tsk = "regression" })
  end)

  it("checks the task against the loss when a trainer is made", function()
    local frac = put("frac2.npy", npy("<f4", "(3,)", string.pack("<fff", 1, 0.25, 2)))
    local d = lre.data.npy(x, frac, { task = "regression" })
    local model = lre.nn.sequential { lre.nn.linear(2, 1) }
    fails("cross_entropy needs integer class labels, the data has float targets",
          lre.trainer, { model = model, data = d })
    local c = lre.data.npy(x, y)
    fails('mse needs float targets, the data has integer class labels (load them with task '
          .. '"regression"', lre.trainer, { model = lre.nn.sequential { lre.nn.linear(2, 3) },
                                           data = c, loss = lre.loss.mse() })
  end)
end)

describe("lre.data.csv", function()
  local iris = put("iris.csv", "sepal;petal;species\n1.5;2;0\n3;4;2\n5;6;1\n")

  it("takes the label column by name, with a header and a delimiter", function()
    local d = lre.data.csv(iris, { label = "species", header = true, delimiter = ";" })
    assert.are.equal(3, d:size())
    assert.are.same({ 2 }, d:shape())
    assert.are.equal(3, d:num_classes())
  end)

  it("takes the label column by index from 1", function()
    local p = put("first.csv", "1,10,20\n0,30,40\n")
    local d = lre.data.csv(p, { label = 1, header = false })
    assert.are.equal(2, d:size())
    assert.are.equal(2, d:num_classes())
  end)

  it("uses the 'label' column, else the last, by default", function()
    local p = put("default.csv", "label,a\n4,1\n0,2\n")
    assert.are.equal(5, lre.data.csv(p):num_classes())
  end)

  it("names file, line and column of a non-numeric cell", function()
    local p = put("bad.csv", "a,b,label\n1,2,0\n3,abc,1\n")
    local err = fails(p, lre.data.csv, p)
    assert.truthy(err:find("line 3, column 2", 1, true), err)
    assert.truthy(err:find('"abc" is not a number', 1, true), err)
  end)

  it("names the line of a ragged row and of an empty line in the middle", function()
    local p = put("ragged.csv", "1,2,0\n3,4\n")
    fails("line 2, column 3", lre.data.csv, p)
    p = put("gap.csv", "1,2,0\n\n3,4,1\n")
    fails("line 2: empty line", lre.data.csv, p)
  end)

  it("refuses NaN features and a missing label column", function()
    fails("not finite", lre.data.csv, put("nan.csv", "1,nan,0\n"))
    fails('no column named "y"', lre.data.csv, iris, { label = "y", delimiter = ";" })
    fails("label column 9 does not exist", lre.data.csv, iris, { label = 9, delimiter = ";" })
  end)

  it("checks its options", function()
    fails("count from 1", lre.data.csv, iris, { label = 0 })
    fails("one-character", lre.data.csv, iris, { delimiter = ";;" })
    fails("unknown option 'sep'", lre.data.csv, iris, { sep = ";" })
    fails("column name", lre.data.csv, iris, { label = true })
    fails("csv: option 'task' = \"reg\" is not a task", lre.data.csv, iris, { task = "reg" })
  end)

  it("refuses a fractional label unless task = \"regression\"", function()
    local p = put("price.csv", "rooms,price\n3,120.5\n4,180\n")
    local err = fails("line 2, column 2", lre.data.csv, p)
    assert.truthy(err:find('label "120.5" is not an integer', 1, true), err)
    assert.truthy(err:find('task "regression"', 1, true), err)
    local d = lre.data.csv(p, { task = "regression" })
    assert.are.equal(2, d:size())
    assert.are.equal(0, d:num_classes())
    assert.are.equal(1, d:target_dim())
    assert.are.equal(3, lre.data.csv(iris, { delimiter = ";", task = "classification" })
      :num_classes())
  end)
end)

-- The cells read as lrengine.results' curve reader reads them
-- (spec/curve_csv_spec.lua): decimal only, at most 127 characters, a byte
-- order mark skipped, CR-only line endings named.
describe("lre.data.csv reads cells as the curve reader does", function()
  it("refuses hexadecimal numbers like any other non-decimal text", function()
    for i, cell in ipairs { "0x10", "0X1p4", "-0x2" } do
      local p = put("hex" .. i .. ".csv", "a,b,label\n1,2,0\n" .. cell .. ",2,1\n")
      local err = fails(p, lre.data.csv, p)
      assert.truthy(err:find('line 3, column 1 ("a"): "' .. cell .. '" is not a number', 1, true),
        err)
    end
  end)

  it("names lines that end with a carriage return alone, and how to convert them", function()
    local p = put("mac.csv", "a,b,label\r1,2,0\r3,4,1\r")
    local err = fails(p, lre.data.csv, p)
    assert.truthy(err:find("its lines end with a carriage return alone (old Mac OS)", 1, true), err)
    assert.truthy(err:find("convert them to LF or CRLF", 1, true), err)
  end)

  it("reports a cell over 127 characters as too long, and reads one of 127", function()
    local p = put("longcell.csv", "a,b,label\n1,2,0\n3," .. "1" .. string.rep("0", 150) .. ",1\n")
    local err = fails(p, lre.data.csv, p)
    assert.truthy(err:find('line 3, column 2 ("b"): the cell is too long (151 characters; at most 127)',
      1, true), err)
    p = put("cell127.csv", "a,b,label\n1,0." .. string.rep("1", 125) .. ",0\n")
    assert.are.equal(1, lre.data.csv(p):size())
  end)

  it("skips a UTF-8 byte order mark before the header or the first data line", function()
    local p = put("bomhdr.csv", "\239\187\191a,b,label\n1,2,0\n3,4,1\n")
    local d = lre.data.csv(p, { label = "a" }) -- the first column's name, without the mark
    assert.are.equal(2, d:size())
    assert.are.equal(4, d:num_classes())
    p = put("bomdata.csv", "\239\187\1915,6,1\n7,8,0\n")
    assert.are.equal(2, lre.data.csv(p):size())
  end)
end)

describe("lre.data.fashion_mnist", function()
  it("refuses an unknown split", function()
    fails("split must be", lre.data.fashion_mnist, "validation")
  end)

  -- scripts/deps.sh installs dataset-fashion-mnist, so this always runs
  it("loads the test split from Debian's package", function()
    local d = lre.data.fashion_mnist("test")
    assert.are.equal(10000, d:size())
    assert.are.same({ 28, 28 }, d:shape())
    assert.are.equal(10, d:num_classes())
  end)
end)

describe("the loading limit: option max_bytes", function()
  -- 3×2×2 images: 12 bytes; 3 labels: 12 bytes as int32
  local images = put("lim-images-idx3-ubyte", idx({ 3, 2, 2 }, { 0, 255, 7, 8, 1, 2, 3, 4, 9, 9, 9, 9 }))
  local labels = put("lim-labels-idx1-ubyte", idx({ 3 }, { 2, 0, 1 }))
  -- f4 (3, 2): 24 bytes; i8 (3,): 24 bytes
  local x = put("lim-x.npy", npy("<f4", "(3, 2)", string.pack("<ffffff", 0.5, -1, 2, 3, 4, 5)))
  local y = put("lim-y.npy", npy("<i8", "(3,)", string.pack("<i8i8i8", 0, 2, 1)))
  -- 40 bytes of text, whose 4 rows (at most) of 3 columns parse into 48 bytes
  local csv = put("lim.csv", "sepal,petal,species\n1.5,2,0\n3,4,2\n5,6,1\n")

  it("refuses an IDX file whose header declares more, naming file, size and limit", function()
    local err = fails(images, lre.data.idx, images, labels, { max_bytes = 11 })
    assert.truthy(err:find("the header declares 3×2×2 images, 12 bytes, more than the loading "
      .. "limit of 11 bytes", 1, true), err)
    assert.truthy(err:find("max_bytes", 1, true), err)
    assert.are.equal(3, lre.data.idx(images, labels, { max_bytes = 12 }):size())
  end)

  it("refuses an NPY file whose header declares more", function()
    local err = fails(x, lre.data.npy, x, y, { max_bytes = 23 })
    assert.truthy(err:find("(3, 2) of '<f4', 24 bytes, more than the loading limit of 23 bytes",
      1, true), err)
    assert.are.equal(3, lre.data.npy(x, y, { max_bytes = 24 }):size())
    assert.are.equal(1, lre.data.npy(x, y, { max_bytes = 24, task = "regression" }):target_dim())
  end)

  it("refuses a CSV text, or the rows parsed from it, larger than the limit", function()
    local err = fails(csv, lre.data.csv, csv, { max_bytes = 39 })
    assert.truthy(err:find("the file holds 40 bytes, more than the loading limit of 39 bytes",
      1, true), err)
    err = fails(csv, lre.data.csv, csv, { max_bytes = 40 })
    assert.truthy(err:find("up to 4 rows of 3 columns parse into 48 bytes, more than the loading "
      .. "limit of 40 bytes", 1, true), err)
    assert.are.equal(3, lre.data.csv(csv, { max_bytes = 48, label = "species" }):size())
  end)

  it("holds for Fashion-MNIST", function()
    fails("more than the loading limit of 1000 bytes", lre.data.fashion_mnist, "test",
          { max_bytes = 1000 })
  end)

  it("refuses a value that is not a positive integer, naming max_bytes", function()
    for _, bad in ipairs({ 0, -1 }) do
      fails("idx: option 'max_bytes' = " .. bad .. " must be a positive number of bytes",
            lre.data.idx, images, labels, { max_bytes = bad })
    end
    fails("npy: option 'max_bytes' = 1.5 is not an integer", lre.data.npy, x, y,
          { max_bytes = 1.5 })
    fails("csv: option 'max_bytes' is a string, expected an integer", lre.data.csv, csv,
          { max_bytes = "1e6" })
    fails("fashion_mnist: option 'max_bytes' is a boolean", lre.data.fashion_mnist, "test",
          { max_bytes = true })
    fails("npy: option 'max_bytes' = 0 must be a positive", lre.data.npy, x, y, { max_bytes = 0 })
  end)

  it("refuses unknown options as before", function()
    fails("idx: unknown option 'max_byte' (valid options: max_bytes)", lre.data.idx, images,
          labels, { max_byte = 10 })
    fails("fashion_mnist: unknown option 'maxbytes'", lre.data.fashion_mnist, "test",
          { maxbytes = 10 })
    fails("npy: unknown option 'limit'", lre.data.npy, x, y, { limit = 10 })
    fails("csv: unknown option 'bytes'", lre.data.csv, csv, { bytes = 10 })
    local err = fails("bad argument #3", lre.data.idx, images, labels, 10)
    assert.truthy(err:find("table expected, got number", 1, true), err)
  end)

  it("applies to its call only: the previous limit is back after a failure", function()
    fails("loading limit of 11 bytes", lre.data.idx, images, labels, { max_bytes = 11 })
    assert.are.equal(3, lre.data.idx(images, labels):size())
    fails("loading limit of 23 bytes", lre.data.npy, x, y, { max_bytes = 23 })
    assert.are.equal(3, lre.data.npy(x, y):size())
    fails("loading limit of 39 bytes", lre.data.csv, csv, { max_bytes = 39 })
    assert.are.equal(3, lre.data.csv(csv):size())
    fails("loading limit of 1000 bytes", lre.data.fashion_mnist, "test", { max_bytes = 1000 })
    assert.are.equal(10000, lre.data.fashion_mnist("test"):size())
    -- and after a success
    assert.are.equal(3, lre.data.idx(images, labels, { max_bytes = 12 }):size())
    assert.are.equal(3, lre.data.npy(x, y):size())
  end)
end)

describe("dataset transforms", function()
  local ds = lre.data.from_tables({ { 0, 10 }, { 2, 20 }, { 4, 30 } }, { 0, 1, 0 })

  it("computes mean and std (population) globally and per feature, after the scale", function()
    local m, s = ds:scale(0.5):stats()
    assert.are.equal(5.5, m) -- mean of 0,5,1,10,2,15
    assert.is_true(math.abs(s - math.sqrt(((0 - 5.5) ^ 2 + (5 - 5.5) ^ 2 + (1 - 5.5) ^ 2
      + (10 - 5.5) ^ 2 + (2 - 5.5) ^ 2 + (15 - 5.5) ^ 2) / 6)) < 1e-5)
    local mf, sf = ds:stats { per_feature = true }
    assert.are.same({ 2, 20 }, mf)
    assert.is_true(math.abs(sf[1] - math.sqrt(8 / 3)) < 1e-5)
    assert.is_true(math.abs(sf[2] - math.sqrt(200 / 3)) < 1e-5)
  end)

  it("normalizes per feature with given values or with the data's own", function()
    -- the values a batch gets are checked in spec/c/test_data.c; here the
    -- binding's paths and its errors
    local a = ds:normalize { mean = { 2, 20 }, std = { 2, 10 } }
    local b = ds:normalize { per_feature = true }
    assert.are.equal(3, a:size())
    assert.are.equal(3, b:size())
    fails("has 3 values, the dataset has 2 features", ds.normalize, ds, { mean = { 1, 2, 3 } })
    fails("std[2] must be a finite number", ds.normalize, ds, { mean = { 1, 2 }, std = { 1, 0 / 0 } })
    fails("unknown option 'avg'", ds.normalize, ds, { avg = 1 })
  end)
end)

describe("dataset:reshape", function()
  local rows, labels = {}, {}
  for i = 1, 12 do
    local r = {}
    for j = 1, 12 do r[j] = ((i * 7 + j * 3) % 11) / 11 end
    rows[i], labels[i] = r, i % 3
  end

  it("shows the same rows with another row shape, kept by its views", function()
    local ds = lre.data.from_tables(rows, labels)
    assert.are.same({ 12 }, ds:shape())
    local r = ds:reshape { 3, 2, 2 }
    assert.are.same({ 3, 2, 2 }, r:shape())
    assert.are.equal(12, r:features())
    assert.are.equal(12, r:size())
    assert.truthy(tostring(r):find("12 rows of 3x2x2", 1, true), tostring(r))
    assert.are.same({ 3, 2, 2 }, r:scale(0.5):subset(5):shape())
    local ok, err = pcall(r.subset, r, 1, 5)
    assert.is_false(ok)
    assert.matches("subset takes n %(the first n rows%) or a list of indices, got 2 arguments", err)
    assert.are.same({ 12 }, ds:shape()) -- the original keeps its own
    -- the same values: a trainer sees the same loss on either
    local function loss(d)
      local t = lre.trainer { model = lre.nn.sequential { lre.nn.linear(12, 3) }, data = d,
        batch_size = 4, seed = 7 }
      return t:evaluate(d)
    end
    assert.are.equal(loss(ds), loss(r))
  end)

  it("refuses a shape of another size, naming both, and sizes that are not integers", function()
    local ds = lre.data.from_tables(rows, labels)
    fails("reshape: rows of 12 (12 values) cannot be 5×3 (15 values)", ds.reshape, ds, { 5, 3 })
    fails("reshape: size 2 is a string, expected an integer", ds.reshape, ds, { 3, "4" })
    fails("reshape: a row shape has 1 to 4 sizes (got 0)", ds.reshape, ds, {})
    fails("reshape: size 1 is 0 (each must be >= 1)", ds.reshape, ds, { 0, 12 })
  end)
end)
