-- plot_spec.lua — pictures of a range test: the PNG/SVG/PDF figure
-- (lrengine.plot over engine/plot.c), the terminal chart, the progress line,
-- and the `lrengine plot` command (and issue 11: tick labels, forward
-- differences, stop reasons in words, curves from other tools, repeats).
-- Results are synthetic curves made with
-- results.new, so the specs are fast; one small real range test checks what
-- the finder records for the title.
local lre = require "lrengine"
local results = require "lrengine.results"
local plot = require "lrengine.plot"
local progress = require "lrengine.progress"
local S = require "lrengine.smoothing"
local H = require "lrengine.heuristics"

local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  local p = assert(io.popen("pwd"))
  local dir = p:read("l")
  p:close()
  return dir .. "/" .. path
end

local BIN = absolute(os.getenv("LRENGINE_BIN") or "build/lrengine")

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- A fresh directory per spec file, removed at the end.
local DIR
do
  local p = assert(io.popen("mktemp -d /tmp/lrengine_plot_spec.XXXXXX"))
  DIR = p:read("l")
  p:close()
end
teardown(function() os.execute("rm -rf " .. q(DIR)) end)

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function exists(path) return slurp(path) ~= nil end

local function listdir(dir)
  local p = assert(io.popen("ls -A " .. q(dir)))
  local names = {}
  for l in p:lines() do names[#names + 1] = l end
  p:close()
  table.sort(names)
  return names
end

-- Runs the command; returns exit status, stdout, stderr.
local function run(args)
  local out, err = DIR .. "/.stdout", DIR .. "/.stderr"
  local _, how, code = os.execute(string.format("%s %s >%s 2>%s", q(BIN), args, q(out), q(err)))
  assert.are.equal("exit", how, "killed by a signal: " .. args)
  local o, e = slurp(out), slurp(err)
  os.remove(out)
  os.remove(err)
  return code, o, e
end

-- The user's note, synthetically: exp 1e-7 -> 500 over 100 steps, a loss
-- that falls from 2.3, bottoms out and explodes; validation and training
-- curves; the finder's default stop at 5x the best smoothed loss.
local function note_result(opts)
  opts = opts or {}
  local seed = 11
  local function rnd()
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed / 2147483648
  end
  local n = opts.n or 100
  local lrs, val, train = {}, {}, {}
  for i = 1, n do
    local lr = 1e-7 * (500 / 1e-7) ^ ((i - 1) / (n - 1))
    local t = math.log(lr, 10)
    local v = 2.31 - 1.8 / (1 + math.exp(-(t + 3.6) * 2.2)) + (t > -1.5 and 10 ^ ((t + 1.5) * 2.2) - 1 or 0)
    lrs[i], val[i], train[i] = lr, v + 0.03 * (rnd() - 0.5), v + 0.2 * (rnd() - 0.5)
  end
  local sm = S.ema(val, 0.05)
  local stop, best = n, math.huge
  for i = 1, n do
    best = math.min(best, sm[i])
    if sm[i] > 5 * best then stop = i break end
  end
  for _, a in ipairs { lrs, val, train, sm } do
    for i = #a, stop + 1, -1 do a[i] = nil end
  end
  local names = opts.suggest or { "steepest", "valley", "slide", "minimum" }
  local r = results.new {
    lrs = lrs, losses = val, smoothed = sm, train_losses = train, val_losses = val,
    curve = "val", stop_reason = stop < n and "diverged" or "completed",
    config = { schedule = "exp", start_lr = 1e-7, end_lr = 500, num_iter = n, smoothing = "ema",
      smooth_f = 0.05, suggest = names,
      trainer = "lrengine.trainer(model=linear(784,256) relu linear(256,10), optim=adam, batch=128, steps=0)",
      val = "lrengine.dataset(10000 rows of 28x28 u8, 10 classes)" },
  }
  r:suggest(names)
  return r
end

local function simple(lrs, losses, fields)
  local f = { lrs = lrs, losses = losses, curve = "train", stop_reason = "completed",
    config = { schedule = "exp", num_iter = #lrs } }
  for k, v in pairs(fields or {}) do f[k] = v end
  return results.new(f)
end

local function png_size(path)
  local s = assert(slurp(path), "no file " .. path)
  assert.are.equal("\137PNG\r\n\26\n", s:sub(1, 8), "PNG signature")
  assert.are.equal("IHDR", s:sub(13, 16), "first chunk is IHDR")
  local w, h = string.unpack(">I4I4", s, 17)
  return w, h
end

-- Parses with expat (lua-expat, installed by scripts/deps.sh); returns the
-- root element's name and attributes, the text of <title> and <desc>.
local function parse_xml(text)
  local lxp = require "lxp"
  local root, cur, texts = nil, nil, {}
  local p = lxp.new {
    StartElement = function(_, name, attrs)
      root = root or { name = name, attrs = attrs }
      cur = name
    end,
    EndElement = function() cur = nil end,
    CharacterData = function(_, s) if cur then texts[cur] = (texts[cur] or "") .. s end end,
  }
  local ok, err, line = p:parse(text)
  assert.is_truthy(ok, string.format("SVG is not well-formed XML: %s at line %s", tostring(err), tostring(line)))
  ok, err, line = p:parse()
  assert.is_truthy(ok, string.format("SVG is not well-formed XML at its end: %s at line %s", tostring(err), tostring(line)))
  p:close()
  return root, texts
end

describe("result:plot", function()
  local r = note_result()

  it("writes a PNG of the default 1200x900 and of a requested size", function()
    local path = DIR .. "/note.png"
    assert.are.equal(path, r:plot(path))
    local w, h = png_size(path)
    assert.are.equal(1200, w)
    assert.are.equal(900, h)
    r:plot(path, { width = 640, height = 360 })
    w, h = png_size(path)
    assert.are.equal(640, w)
    assert.are.equal(360, h)
    assert.is_true(#slurp(path) > 10000, "a figure, not an empty image")
  end)

  it("writes an SVG that parses as XML, 6 x 4.5 in, naming every suggestion with its lr", function()
    local path = DIR .. "/note.svg"
    r:plot(path)
    local root, texts = parse_xml(slurp(path))
    assert.are.equal("svg", root.name)
    assert.are.equal("432pt", root.attrs.width)
    assert.are.equal("324pt", root.attrs.height)
    assert.matches("MLP 784%-256%-10 %(relu%)", texts.title)
    for _, name in ipairs { "steepest", "valley", "slide", "minimum" } do
      local label = name .. " " .. plot.fmt_lr(r.suggestions[name].lr)
      assert.is_truthy(texts.desc:find(label, 1, true), "desc lacks '" .. label .. "': " .. texts.desc)
    end
    assert.matches("steepest [%d.e-]+ %(chosen%)", texts.desc)
    assert.matches("stopped: diverged", texts.desc)
  end)

  it("writes a PDF that starts with %PDF and ends with %%EOF, of the size asked in points", function()
    local path = DIR .. "/note.pdf"
    r:plot(path, { width = 504, height = 360 })
    local s = slurp(path)
    assert.are.equal("%PDF-", s:sub(1, 5))
    assert.matches("%%%%EOF%s*$", s)
    assert.matches("/MediaBox %[ 0 0 504 360 %]", s)
  end)

  it("formats learning rates as the legend does", function()
    assert.are.equal("3.2e-3", plot.fmt_lr(3.2e-3))
    assert.are.equal("5.0e2", plot.fmt_lr(500))
    assert.are.equal("1.0e-7", plot.fmt_lr(1e-7))
  end)

  it("draws NaN, inf and huge losses without breaking (the axes come from finite values)", function()
    local lrs, l = {}, {}
    for i = 1, 40 do
      lrs[i] = 1e-5 * 10 ^ ((i - 1) / 8)
      l[i] = 2 - math.tanh((i - 15) / 5)
    end
    l[30], l[35], l[38], l[39], l[40] = 1e300, -math.huge, math.huge, 1e30, 0 / 0
    local rr = simple(lrs, l, { stop_reason = "non-finite loss" })
    rr:suggest { "steepest", "valley" }
    for _, ext in ipairs { "png", "svg", "pdf" } do
      local path = DIR .. "/nan." .. ext
      rr:plot(path)
      assert.is_true(exists(path), ext)
    end
    local spec = plot.spec(rr)
    assert.are.equal(40, #spec.lrs)
    local all = {}
    for i = 1, 40 do all[i] = 0 / 0 end
    local path = DIR .. "/allnan.png"
    simple(lrs, all):plot(path)
    assert.are.equal(1200, (png_size(path)))
  end)

  it("draws a single point", function()
    local path = DIR .. "/one.png"
    simple({ 1e-3 }, { 2.3 }):plot(path)
    assert.are.equal(1200, (png_size(path)))
    simple({ 1e-3 }, { 2.3 }):plot(DIR .. "/one.svg")
    parse_xml(slurp(DIR .. "/one.svg"))
  end)

  it("uses a linear x axis for a linear schedule, a log one otherwise", function()
    local lrs, l = {}, {}
    for i = 1, 50 do
      lrs[i] = 0.01 + (i - 1) * 0.02
      l[i] = 1 + (lrs[i] - 0.4) ^ 2
    end
    local rl = simple(lrs, l, { config = { schedule = "linear", num_iter = 50 } })
    rl:suggest { "steepest" }
    assert.is_false(plot.spec(rl).log_x)
    assert.is_true(plot.spec(r).log_x)
    assert.is_true(plot.spec(rl, { log_x = true }).log_x)
    local path = DIR .. "/linear.png"
    rl:plot(path)
    assert.are.equal(1200, (png_size(path)))
  end)

  it("draws the validation and training curves, the first asked-for suggestion chosen", function()
    local spec = plot.spec(r)
    assert.are.equal(2, #spec.curves)
    assert.matches("^validation", spec.curves[1].label)
    assert.matches("^training", spec.curves[2].label)
    assert.are.equal(#r.lrs, #spec.curves[2].smoothed)
    assert.are.equal("steepest", spec.suggestions[spec.chosen].name)
    assert.are.equal("valley", spec.suggestions[plot.spec(r, { chosen = "valley" }).chosen].name)
    -- the order asked for, so the legend reads like the test's suggest list
    local names = {}
    for i, s in ipairs(spec.suggestions) do names[i] = s.name end
    assert.are.same({ "steepest", "valley", "slide", "minimum" }, names)
    -- fastai's minimum is (lowest point's lr) / 10: marked on the curve at that lr
    local m = spec.suggestions[4]
    assert.is_true(math.abs(math.log(r.lrs[m.index] / m.lr)) < math.log(10) * 0.1)
    local rr = note_result { suggest = { "valley", "steepest" } }
    spec = plot.spec(rr)
    assert.are.equal("valley", spec.suggestions[spec.chosen].name)
  end)

  it("titles the figure with the model, optimizer, batch and data", function()
    local title, subtitle = plot.describe(r)
    assert.are.equal("MLP 784-256-10 (relu) · adam · batch 128", title)
    assert.matches("val 10000 × 28x28 u8", subtitle)
    assert.matches("exp 1e%-7 → 500, 100 steps", subtitle)
    local rr = note_result()
    rr.model = "linear(2,8) relu linear(8,2)"
    rr.optimizer = "lrengine.optim.adamw(lr=0.001, betas={0.9, 0.999}, eps=1e-08, weight_decay=0.05)"
    title = plot.describe(rr)
    assert.are.equal("MLP 2-8-2 (relu) · adamw(weight_decay=0.05) · batch 128", title)
    rr.model = "linear(2,8) relu linear(8,8) tanh linear(8,2)" -- mixed: as it is
    assert.matches("^linear%(2,8%) relu linear%(8,8%) tanh linear%(8,2%) ·", (plot.describe(rr)))
    rr.model = "linear(2,8)"
    assert.matches("^linear%(2,8%) ·", (plot.describe(rr)))
  end)

  it("shows a precision other than fp32 in the subtitle", function()
    local rr = note_result()
    rr.precision = { requested = "fp32", effective = "fp32" }
    assert.is_nil((select(2, plot.describe(rr))):find("fp32", 1, true))
    rr.precision = { requested = "bf16", effective = "bf16" }
    assert.matches(" · bf16$", (select(2, plot.describe(rr))))
    rr.precision = { requested = "tf32", effective = "fp32" }
    assert.matches(" · fp32 %(tf32 asked%)$", (select(2, plot.describe(rr))))
  end)

  it("refuses an unknown extension, leaving no file", function()
    local path = DIR .. "/figure.jpg"
    local ok, err = pcall(r.plot, r, path)
    assert.is_false(ok)
    assert.matches("cannot tell the format of '.-figure%.jpg': use a %.png, %.svg or %.pdf name", err)
    assert.is_false(exists(path))
  end)

  it("a bad output path is a clear error naming it, and leaves no partial file", function()
    -- missing folders are made; a parent that is a file is an error naming the path
    local made = DIR .. "/no/such/dir/fig.png"
    assert.is_true((pcall(r.plot, r, made)))
    assert.is_true(exists(made))
    local afile = DIR .. "/afile"
    local g = assert(io.open(afile, "w")) g:close()
    local path = afile .. "/fig.png"
    local ok, err = pcall(r.plot, r, path)
    assert.is_false(ok)
    assert.is_truthy(err:find("cannot write " .. path, 1, true), err)
    assert.matches("is not a folder", err)
    -- a target that cannot be replaced (a directory): the temporary is removed
    local sub = DIR .. "/clean"
    os.execute("mkdir -p " .. q(sub .. "/taken.png"))
    ok, err = pcall(r.plot, r, sub .. "/taken.png")
    assert.is_false(ok)
    assert.is_truthy(err:find("cannot write " .. sub .. "/taken.png", 1, true), err)
    assert.are.same({ "taken.png" }, listdir(sub))
  end)

  it("a failure leaves an existing file as it was", function()
    local path = DIR .. "/keep.png"
    local f = assert(io.open(path, "wb"))
    f:write("old")
    f:close()
    assert.has_error(function() r:plot(path, { width = 1e9 }) end)
    assert.has_error(function() r:plot(path, { chosen = "nope" }) end)
    assert.are.equal("old", slurp(path))
  end)

  it("checks its options", function()
    local path = DIR .. "/opts.png"
    local ok, err = pcall(r.plot, r, path, { colour = "red" })
    assert.is_false(ok)
    assert.matches("unknown option 'colour'", err)
    ok, err = pcall(r.plot, r, path, { width = "wide" })
    assert.is_false(ok)
    assert.matches("option 'width' must be a number", err)
    ok, err = pcall(r.plot, r, path, { chosen = "nope" })
    assert.is_false(ok)
    assert.matches("chosen = 'nope' is not a suggestion of this result %(it has: steepest, valley, slide, minimum%)", err)
    ok, err = pcall(r.plot, r, "")
    assert.is_false(ok)
    assert.matches("path must be a non%-empty string", err)
    ok, err = pcall(plot.plot, { lrs = {}, losses = {} }, path)
    assert.is_false(ok)
    assert.matches("no points", err)
    assert.is_false(exists(path))
  end)

  it("refuses text that is not valid UTF-8, naming the field and the byte (not a cairo error)", function()
    local path = DIR .. "/latin1.png"
    for field, want in pairs { title = "plot: title is not valid UTF-8 (byte 4)",
                               subtitle = "plot: subtitle is not valid UTF-8 (byte 4)" } do
      local ok, err = pcall(r.plot, r, path, { [field] = "caf\xe9" })
      assert.is_false(ok)
      assert.truthy(tostring(err):find(want, 1, true), err)
      assert.is_nil(tostring(err):find("cairo", 1, true), err)
    end
    -- a suggestion's name reaches the legend; a stop reason its words
    local rs = simple({ 1e-4, 1e-3, 1e-2 }, { 2, 1, 3 },
      { suggestions = { ["caf\xe9"] = { lr = 1e-3, index = 2 } } })
    local ok, err = pcall(rs.plot, rs, path)
    assert.is_false(ok)
    assert.truthy(tostring(err):find('plot: the name of suggestion "caf\\xE9" is not valid UTF-8 (byte 4)',
      1, true), err)
    rs = simple({ 1e-4, 1e-3, 1e-2 }, { 2, 1, 3 }, { stop_reason = "trop_\xe9lev\xe9" })
    ok, err = pcall(rs.plot, rs, path)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("plot: stop_reason is not valid UTF-8 (byte 6)", 1, true), err)
    assert.is_false(exists(path))
    -- the same text in UTF-8 draws
    assert.are.equal(path, r:plot(path, { title = "caf\xc3\xa9", subtitle = "\xe2\x82\xac" }))
    -- and the command says it in one line, exit 1
    local saved = DIR .. "/latin1.json"
    r:save_json(saved)
    os.remove(path)
    local code, _, e = run("plot " .. q(saved) .. " -o " .. q(path) .. " --title " .. q("caf\xe9"))
    assert.are.equal(1, code, e)
    assert.are.equal("lrengine: plot: title is not valid UTF-8 (byte 4)\n", e)
    assert.is_false(exists(path))
  end)
end)

describe("the three parts: figure, chart, command", function()
  it("lrengine.chart draws the terminal chart (plot.terminal is the same)", function()
    local chart = require "lrengine.chart"
    local r = note_result()
    assert.are.equal(chart.terminal(r), plot.terminal(r))
    assert.are.equal(chart.terminal(r, { chosen = "valley", width = 40 }),
      plot.terminal(r, { chosen = "valley", width = 40 }))
    assert.matches("● valley", chart.terminal(r, { chosen = "valley" }))
  end)

  it("the chart and the figure agree on the suggestions and the chosen one", function()
    local r = note_result()
    local list = plot.suggestion_list(r)
    local spec = plot.spec(r)
    assert.are.equal(#spec.suggestions, #list)
    for i, s in ipairs(list) do
      assert.are.same({ name = spec.suggestions[i].name, lr = spec.suggestions[i].lr,
        index = spec.suggestions[i].index }, s)
    end
    assert.are.equal(spec.chosen, plot.chosen_index(list, r))
    assert.are.equal(2, plot.chosen_index(list, r, "valley"))
    assert.is_nil((plot.chosen_index(list, r, "nope")))
  end)

  it("the `plot` command is lrengine.cli's, and reads files with results.load", function()
    local cli = require "lrengine.cli"
    assert.are.equal(cli.plot, cli.COMMANDS.plot)
    assert.is_nil(plot.command)
    -- a CSV without a telling extension: results.load decides by the content
    local path = DIR .. "/curve.txt"
    local f = assert(io.open(path, "w"))
    f:write("lr,loss\n")
    for i = 1, 40 do
      local lr = 1e-5 * 1.3 ^ i
      f:write(string.format("%.17g,%.17g\n", lr, 3 - 0.04 * i + 0.0012 * i * i))
    end
    f:close()
    local code, out, err = run("plot " .. q(path))
    assert.are.equal(0, code, err)
    assert.matches("smoothed loss vs learning rate", out)
  end)
end)

describe("plot.terminal", function()
  it("charts the loss against log lr in about 70 x 16 cells, with suggestions and lr labels", function()
    local r = note_result()
    local text = plot.terminal(r)
    local lines = {}
    for l in (text .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = l end
    assert.is_true(#lines >= 16 + 3 and #lines <= 16 + 7, "lines: " .. #lines)
    local braille = 0
    for _, l in ipairs(lines) do
      assert.is_true(utf8.len(l) <= 80, "a line wider than 80 columns: " .. l)
      for _, cp in utf8.codes(l) do if cp > 0x2800 and cp <= 0x28FF then braille = braille + 1 end end
    end
    assert.is_true(braille > 50, "the curve is drawn in braille dots")
    assert.matches("1e%-7", text)
    assert.matches("1e%-3", text)
    assert.matches("● steepest " .. plot.fmt_lr(r.suggestions.steepest.lr):gsub("%-", "%%-") .. " %(chosen%)", text)
    assert.matches("valley", text)
    assert.matches("stopped: diverged at step", text)
    assert.matches("learning rate", text)
    assert.is_nil(text:find("\n$"))
  end)

  it("gives suggestions at the same point one mark and one entry", function()
    local r = note_result()
    r.suggestions.steep = { lr = r.suggestions.steepest.lr, index = r.suggestions.steepest.index }
    r.config.suggest = { "steepest", "valley", "steep" }
    local text = plot.terminal(r)
    assert.matches("● steepest, steep [%d.e-]+ %(chosen%)", text)
  end)

  it("copes with NaN, a single point and a linear schedule", function()
    assert.is_string(plot.terminal(simple({ 1e-3 }, { 2.3 })))
    assert.matches("no finite points", plot.terminal(simple({ 1e-3, 1e-2 }, { 0 / 0, 0 / 0 })))
    local lrs, l = {}, {}
    for i = 1, 30 do lrs[i], l[i] = i / 30, 1 + (i / 30 - 0.5) ^ 2 end
    l[30] = math.huge
    local text = plot.terminal(simple(lrs, l, { config = { schedule = "linear" } }))
    assert.matches("0%.2", text)
    assert.is_nil(text:find("1e", 1, true))
  end)
end)

-- A stream that records what is written.
local function sink()
  local s = { parts = {} }
  function s:write(...) for _, v in ipairs { ... } do self.parts[#self.parts + 1] = tostring(v) end return self end
  function s:flush() end
  function s:text() return table.concat(self.parts) end
  return s
end

describe("lrengine.progress", function()
  local function fake_clock()
    local t = 0
    return function() t = t + 0.01 return t end
  end

  it("prints plain lines about every 10% of the steps when not a terminal", function()
    local out = sink()
    local p = progress.new { total = 100, stream = out, tty = false, clock = fake_clock() }
    for i = 1, 77 do
      p:update { step = i, num_iter = 100, lr = 1e-7 * 1.2 ^ i, loss = 2 - i / 100, smoothed = 2, best = 1.5 }
    end
    p:finish { step = 77, reason = "diverged" }
    local text = out:text()
    local lines = {}
    for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal(9, #lines, text) -- step 1, 10, 20, ..., 70, done
    assert.matches("^step   1/100  lr 1%.20e%-07  loss 1%.99 %(smoothed 2, best 1%.5%)  [%d.]+s$", lines[1])
    assert.matches("^step  10/100", lines[2])
    assert.matches("^step  70/100", lines[8])
    assert.matches("^done: diverged at step 77/100 in [%d.]+s, best smoothed loss 1%.5$", lines[9])
    assert.is_nil(text:find("\r", 1, true))
  end)

  it("redraws one line in place on a terminal, and ends it", function()
    local out = sink()
    local p = progress.new { total = 20, stream = out, tty = true, interval = 0, clock = fake_clock(),
      label = "run 1/2", width = 200 }
    for i = 1, 20 do p:update { step = i, lr = 0.1, loss = 1, best = 1 } end
    p:finish { step = 20, reason = "completed" }
    local text = out:text()
    local redraws = select(2, text:gsub("\r\27%[K", ""))
    assert.is_true(redraws >= 20, "redraws: " .. redraws)
    assert.matches("run 1/2  %[████████████████████%]  20/20", text)
    assert.matches("\nrun 1/2  done: completed at step 20/20", text)
    assert.matches("eta", text)
    -- never wider than the terminal: the bar goes first
    local narrow = sink()
    local p3 = progress.new { total = 100, stream = narrow, tty = true, interval = 0, width = 80,
      clock = fake_clock() }
    p3:update { step = 37, lr = 3.16e-4, loss = 0.5123, smoothed = 0.5301, best = 0.4988 }
    local line = narrow:text():gsub("^\r\27%[K", "")
    assert.is_true(utf8.len(line) < 80, line)
    assert.matches("^ 37/100  lr 3%.16e%-04  loss 0%.5123 %(smoothed 0%.5301, best 0%.4988%)", line)
    -- an error in the middle ends the open line
    local out2 = sink()
    local p2 = progress.new { total = 10, stream = out2, tty = true, interval = 0, clock = fake_clock() }
    p2:update { step = 3, lr = 0.1, loss = 1, best = 1 }
    p2:abort()
    assert.matches("\n$", out2:text())
  end)

  it("checks its options", function()
    assert.has_error(function() progress.new { every = 0 } end, "progress.new: 'every' must be in (0, 1]")
    assert.has_error(function() progress.new { total = "x" } end)
  end)

  it("is what the finder's progress = true prints on stderr (plain lines when not a terminal)", function()
    local script = DIR .. "/prog.lua"
    local f = assert(io.open(script, "w"))
    f:write([[
local finder = require "lrengine.finder"
local k = 0
local t = { step = function(_, lr) k = k + 1 return 2 / (1 + k) end,
  snapshot = function() return k end, restore = function(_, s) k = s end }
local r = finder.range_test { trainer = t, num_iter = 30, progress = true, diverge_th = false }
print("steps", #r.lrs)
]])
    f:close()
    local code, out, err = run(q(script))
    assert.are.equal(0, code, err)
    assert.matches("steps\t30", out)
    assert.matches("step  1/30  lr 1%.00e%-07", err)
    assert.matches("step 30/30", err)
    assert.matches("done: completed at step 30/30", err)
    assert.is_nil(err:find("\r", 1, true))
  end)
end)

describe("the finder's record for the title", function()
  it("records model, optimizer, data and batch size of the engine's trainer", function()
    local rows, labels = {}, {}
    for i = 1, 64 do rows[i], labels[i] = { i % 5, i % 3 }, i % 2 end
    local ds = lre.data.from_tables(rows, labels)
    local t = lre.trainer { model = lre.nn.sequential { lre.nn.linear(2, 8), lre.nn.relu(),
      lre.nn.linear(8, 2) }, data = ds, batch_size = 16, seed = 1,
      optimizer = lre.optim.adamw { weight_decay = 0.05 } }
    local r = require("lrengine.finder").range_test { trainer = t, num_iter = 12, diverge_th = false }
    assert.are.equal("linear(2,8) relu linear(8,2)", r.model)
    assert.matches("adamw", r.optimizer)
    assert.matches("64 rows", r.data)
    assert.are.equal(16, r.batch_size)
    assert.are.equal("MLP 2-8-2 (relu) · adamw(weight_decay=0.05) · batch 16", (plot.describe(r)))
    local path = DIR .. "/real.png"
    r:plot(path)
    assert.are.equal(1200, (png_size(path)))
  end)
end)

describe("lrengine plot", function()
  local json = DIR .. "/saved.json"
  setup(function() note_result():save_json(json) end)

  it("draws a saved result without retraining: PNG, SVG, PDF", function()
    for _, ext in ipairs { "png", "svg", "pdf" } do
      local out = DIR .. "/cli." .. ext
      local code, stdout, stderr = run("plot " .. q(json) .. " -o " .. q(out))
      assert.are.equal(0, code, stderr)
      assert.matches("plot: " .. out:gsub("%p", "%%%0"), stdout)
      assert.is_true(exists(out))
    end
    local code, _, stderr = run("plot " .. q(json) .. " --output=" .. q(DIR .. "/cli2.png")
      .. " --width 800 --height 600 --title Mine --chosen valley --no-raw")
    assert.are.equal(0, code, stderr)
    assert.are.same({ 800, 600 }, { png_size(DIR .. "/cli2.png") })
  end)

  it("prints the terminal chart without -o, and re-runs heuristics with --heuristic", function()
    local code, out, err = run("plot " .. q(json))
    assert.are.equal(0, code, err)
    assert.matches("smoothed validation loss vs learning rate", out)
    code, out, err = run("plot " .. q(json) .. " --heuristic lightning")
    assert.are.equal(0, code, err)
    assert.matches("● lightning", out)
    assert.is_nil(out:find("valley", 1, true))
  end)

  it("exits 2 on usage errors", function()
    local cases = {
      { "plot", "no file given" },
      { "plot " .. q(json) .. " -o " .. q(DIR .. "/x.jpg"), "cannot tell the format" },
      { "plot " .. q(json) .. " --width", "'%-%-width' needs a value" },
      { "plot " .. q(json) .. " --width -5 -o " .. q(DIR .. "/x.png"), "positive number" },
      { "plot " .. q(json) .. " --frobnicate", "unrecognized option '%-%-frobnicate'" },
      { "plot a.json b.json", "one file at a time" },
      { "plot " .. q(json) .. " --heuristic nope", "unknown heuristic 'nope'" },
      { "plot " .. q(json) .. " --chosen nope -o " .. q(DIR .. "/x.png"), "chosen = 'nope'" },
    }
    for _, c in ipairs(cases) do
      local code, _, err = run(c[1])
      assert.are.equal(2, code, c[1] .. ": " .. err)
      assert.matches(c[2], err)
    end
    assert.is_false(exists(DIR .. "/x.jpg"))
    assert.is_false(exists(DIR .. "/x.png"))
  end)

  it("exits 1 on a file it cannot read or a figure it cannot write", function()
    local bad = DIR .. "/bad.json"
    local f = assert(io.open(bad, "w"))
    f:write("{ not json")
    f:close()
    local code, _, err = run("plot " .. q(bad) .. " -o " .. q(DIR .. "/y.png"))
    assert.are.equal(1, code)
    assert.matches("invalid JSON at line 1", err)
    code, _, err = run("plot " .. q(DIR .. "/missing.json") .. " -o " .. q(DIR .. "/y.png"))
    assert.are.equal(1, code)
    assert.matches("No such file", err)
    local afile = DIR .. "/plainfile"
    local g = assert(io.open(afile, "w")) g:close()
    code, _, err = run("plot " .. q(json) .. " -o " .. q(afile .. "/y.png"))
    assert.are.equal(1, code)
    assert.matches("cannot write .-/plainfile/y%.png", err)
    assert.is_false(exists(DIR .. "/y.png"))
  end)
end)

-- Issue 11: tick labels, the bottom panel's difference, stop reasons in
-- words, curves from other tools, repeats.
describe("issue 11", function()
  -- a label as a number: U+2212 is '-', "×10^k" is "ek", a bare "10^k" "1ek"
  local function parse(label)
    local s = label:gsub("\u{2212}", "-")
    s = s:gsub("×10%^", "e")
    s = s:gsub("^(%-?)10%^", "%11e")
    return tonumber(s)
  end
  local function labels(ticks)
    local out = {}
    for _, t in ipairs(ticks) do if t.label then out[#out + 1] = t.label end end
    return out
  end
  local function check_axis(scale, lo, hi, opts)
    local ticks = plot.ticks(scale, lo, hi, opts)
    local lab = labels(ticks)
    assert.is_true(#lab >= 4, string.format("%s [%g, %g]: %d labels (%s)", scale, lo, hi, #lab,
      table.concat(lab, " ")))
    local gap = math.huge
    local prev
    for _, t in ipairs(ticks) do
      if t.label then
        if prev then gap = math.min(gap, t.value - prev) end
        prev = t.value
      end
    end
    for _, t in ipairs(ticks) do
      if t.label then
        local v = parse(t.label)
        assert.is_truthy(v, "label does not parse: " .. t.label)
        assert.is_true(math.abs(v - t.value) <= math.max(1e-6 * gap, 1e-13 * math.abs(t.value)),
          string.format("%s [%g, %g]: label '%s' for %.17g", scale, lo, hi, t.label, t.value))
      end
    end
    return lab
  end

  describe("tick labels", function()
    it("print a 0.25 step with two decimals (not 0.2, 0.8)", function()
      assert.are.same({ "0.00", "0.25", "0.50", "0.75", "1.00" },
        labels(plot.ticks("linear", 0, 1, { target = 5 })))
      assert.are.same({ "1.75", "2.00", "2.25", "2.50" },
        labels(plot.ticks("linear", 1.6, 2.6, { target = 5 })))
      assert.are.same({ "0.0025", "0.0050", "0.0075", "0.0100" },
        labels(plot.ticks("linear", 0.002, 0.0101, { target = 4 })))
      assert.are.same({ "2.5", "5.0", "7.5", "10.0" },
        labels(plot.ticks("linear", 2, 10.2, { target = 4 })))
    end)

    it("parse back to their ticks' values, at least 4 per axis, over many ranges", function()
      for _, lo in ipairs { -2.5, 0, 0.3, 1.7, 2.29, 40 } do
        for _, span in ipairs { 1e-5, 0.004, 0.05, 0.12, 0.3, 0.75, 1, 2.5, 9 } do
          for _, target in ipairs { 2, 4, 5, 7 } do
            check_axis("linear", lo, lo + span, { target = target })
          end
        end
      end
      for a = -8, 2, 0.45 do
        for _, span in ipairs { 0.04, 0.2, 0.5, 0.9, 1.05, 1.6, 3, 10 } do
          check_axis("log", 10 ^ a, 10 ^ (a + span), { target = 8 })
        end
      end
      for _, th in ipairs { 1e-4, 1e-2, 1 } do
        for _, tlo in ipairs { -1.16, -1.5, -1.8, -2.6, -6 } do
          for _, thi in ipairs { 1.16, 1.6, 3.2 } do
            check_axis("symlog", -th * 10 ^ (-tlo - 1), th * 10 ^ (thi - 1), { thresh = th, target = 6 })
          end
        end
      end
    end)

    it("give a one-decade x axis and a dip within a decade of the band at least 4 labels", function()
      -- the figure pads 1e-3 .. 1e-2 by 2.5% of the span each side
      local lab = check_axis("log", 10 ^ -3.025, 10 ^ -1.975, { target = 12 })
      assert.are.same({ "0.001", "0.002", "0.005", "0.01" }, lab)
      -- the symlog panel of a dip to -5e-2 with the band at 1e-2
      lab = check_axis("symlog", -0.07, 0.012, { thresh = 0.01 })
      assert.is_true(#lab >= 6, table.concat(lab, " "))
      assert.is_truthy(table.concat(lab, " "):find("\u{2212}5×10^\u{2212}2", 1, true))
      check_axis("symlog", -0.012, 0.012, { thresh = 0.01 })
    end)

    it("refuse a range they cannot tick", function()
      assert.has_error(function() plot.ticks("log", -1, 10) end)
      assert.has_error(function() plot.ticks("linear", 2, 1) end)
      assert.has_error(function() plot.ticks("cubic", 0, 1) end)
    end)

    it("a one-decade sweep and a shallow dip draw", function()
      local lrs, l = {}, {}
      for i = 1, 30 do
        lrs[i] = 1e-3 * 10 ^ ((i - 1) / 29)
        l[i] = 2 - 0.002 * i
      end
      local r = simple(lrs, l)
      r:suggest { "steepest" }
      local path = DIR .. "/decade.png"
      r:plot(path)
      assert.are.equal(1200, (png_size(path)))
    end)
  end)

  describe("the bottom panel", function()
    local r = note_result()

    it("draws forward differences by default, central with delta = 'central', and says which", function()
      assert.are.equal("forward", plot.spec(r).delta)
      assert.are.equal("central", plot.spec(r, { delta = "central" }).delta)
      local path = DIR .. "/fwd.svg"
      r:plot(path)
      local _, texts = parse_xml(slurp(path))
      assert.matches("change in loss per step %(forward differences%)", texts.desc)
      r:plot(path, { delta = "central" })
      _, texts = parse_xml(slurp(path))
      assert.matches("change in loss per step %(central differences%)", texts.desc)
      -- the PNGs differ
      r:plot(DIR .. "/fwd.png")
      r:plot(DIR .. "/cen.png", { delta = "central" })
      assert.are_not.equal(slurp(DIR .. "/fwd.png"), slurp(DIR .. "/cen.png"))
    end)

    it("refuses another delta", function()
      local ok, err = pcall(r.plot, r, DIR .. "/d.png", { delta = "sideways" })
      assert.is_false(ok)
      assert.matches("delta = 'sideways': expected \"forward\" or \"central\"", err)
      ok, err = pcall(r.plot, r, DIR .. "/d.png", { delta = 1 })
      assert.is_false(ok)
      assert.matches("option 'delta' must be a string", err)
    end)
  end)

  describe("stop reasons", function()
    it("are words, never the finder's codes", function()
      assert.are.equal("stopped: diverged at step 64/100", plot.stop_text("diverged", 64, 100))
      assert.are.equal("stopped: loss not finite at step 12/100", plot.stop_text("non_finite", 12, 100))
      assert.are.equal("imported curve, 40 steps", plot.stop_text("external", 40))
      assert.are.equal("completed 100 steps", plot.stop_text("completed", 100, 100))
      assert.are.equal("stopped: too high at step 9/20", plot.stop_text("too_high", 9, 20))
    end)

    it("in the figure and the terminal chart", function()
      local lrs, l = {}, {}
      for i = 1, 30 do
        lrs[i] = 1e-5 * 10 ^ ((i - 1) / 6)
        l[i] = 2 - math.tanh((i - 15) / 5)
      end
      l[30] = 0 / 0
      local r = simple(lrs, l, { stop_reason = "non_finite", config = { schedule = "exp", num_iter = 100 } })
      r:suggest { "steepest" }
      local path = DIR .. "/nonfinite.svg"
      r:plot(path)
      local _, texts = parse_xml(slurp(path))
      assert.matches("stopped: loss not finite at step 30/100", texts.desc)
      assert.is_nil(texts.desc:find("non_finite", 1, true))
      local chart = plot.terminal(r)
      assert.matches("✕ stopped: loss not finite at step 30/100", chart)
      assert.is_nil(chart:find("non_finite", 1, true))
    end)
  end)

  describe("a curve from another tool", function()
    local csv = DIR .. "/theirs.csv"
    setup(function()
      local f = assert(io.open(csv, "w"))
      f:write("lr,loss\n")
      for i = 1, 60 do
        local lr = 1e-6 * 10 ^ ((i - 1) / 10)
        local t = math.log(lr, 10)
        f:write(string.format("%.17g,%.17g\n", lr, 2.3 - 1.5 / (1 + math.exp(-(t + 3) * 2.5))
          + (t > -0.5 and 10 ^ ((t + 0.5) * 2) - 1 or 0)))
      end
      f:close()
    end)

    it("gets the suggestions `lrengine suggest` computes, steepest chosen, the result untouched", function()
      local r = results.load(csv)
      assert.is_nil(next(r.suggestions))
      local spec = plot.spec(r)
      assert.is_nil(next(r.suggestions), "plot.spec must not change the result")
      assert.are.equal("steepest", spec.suggestions[spec.chosen].name)
      assert.are.equal("external", spec.stop_reason)
      local want = results.load(csv)
      want:suggest(H.names())
      local n = 0
      for name, s in pairs(want.suggestions) do
        if s.lr then
          n = n + 1
          local found
          for _, g in ipairs(spec.suggestions) do if g.name == name then found = g end end
          assert.is_truthy(found, "no " .. name)
          assert.are.equal(s.lr, found.lr)
        end
      end
      assert.are.equal(n, #spec.suggestions)
      assert.are.equal("valley", spec.suggestions[plot.spec(r, { chosen = "valley" }).chosen].name)
    end)

    it("`lrengine plot theirs.csv -o theirs.png --chosen steepest` draws it", function()
      local png = DIR .. "/theirs.png"
      local code, _, err = run("plot " .. q(csv) .. " -o " .. q(png) .. " --chosen steepest")
      assert.are.equal(0, code, err)
      assert.are.equal(1200, (png_size(png)))
      local svg = DIR .. "/theirs.svg"
      code, _, err = run("plot " .. q(csv) .. " -o " .. q(svg))
      assert.are.equal(0, code, err)
      local _, texts = parse_xml(slurp(svg))
      assert.matches("steepest [%d.e-]+ %(chosen%)", texts.desc)
      assert.matches("imported curve, 60 steps", texts.desc)
      local out
      code, out, err = run("plot " .. q(csv))
      assert.are.equal(0, code, err)
      assert.matches("● steepest", out)
      assert.matches("imported curve", out)
    end)
  end)

  describe("repeats", function()
    -- three runs of one schedule, stopped at different steps
    local function repeated()
      local base = note_result { suggest = { "steepest" } }
      local runs = {}
      for k, len in ipairs { #base.lrs, #base.lrs - 3, #base.lrs - 6 } do
        local lrs, losses, sm = {}, {}, {}
        for i = 1, len do
          lrs[i] = base.lrs[i]
          losses[i] = base.losses[i] + 0.05 * (k - 2)
          sm[i] = base.smoothed[i] + 0.04 * (k - 2) * (1 + i / 50)
        end
        runs[k] = { lrs = lrs, losses = losses, smoothed = sm, stop_reason = k == 1 and "diverged" or "completed",
          suggestions = {} }
      end
      base.runs = runs
      return base
    end

    it("draw the median curve with the runs' min-max as a band", function()
      local r = repeated()
      local spec = plot.spec(r)
      local c = spec.curves[1]
      assert.matches("median of 3 runs", c.label)
      assert.are.equal("min–max of 3 runs", c.band_label)
      assert.are.equal(#r.runs[1].lrs, #spec.lrs)
      assert.are.equal(#spec.lrs, #c.band_lo)
      -- step 10: all three runs; the last step: run 1 only
      local v = { r.runs[1].smoothed[10], r.runs[2].smoothed[10], r.runs[3].smoothed[10] }
      table.sort(v)
      assert.are.equal(v[2], c.smoothed[10])
      assert.are.equal(v[1], c.band_lo[10])
      assert.are.equal(v[3], c.band_hi[10])
      local n = #spec.lrs
      assert.are.equal(r.runs[1].smoothed[n], c.smoothed[n])
      -- two runs at a step: numpy's median, the mean of the two
      local m = #r.runs[2].lrs
      assert.is_true(math.abs(c.smoothed[m] - (r.runs[1].smoothed[m] + r.runs[2].smoothed[m]) / 2) < 1e-12)
      assert.matches("run 1", spec.curves[2].label)
      assert.are.equal(n, #spec.curves[2].smoothed)
      for _, ext in ipairs { "png", "svg" } do r:plot(DIR .. "/runs." .. ext) end
      assert.are.equal(1200, (png_size(DIR .. "/runs.png")))
    end)

    it("of a real range test with repeats = 3", function()
      local rows, lbls = {}, {}
      for i = 1, 64 do rows[i], lbls[i] = { i % 5, i % 3 }, i % 2 end
      local ds = lre.data.from_tables(rows, lbls)
      local t = lre.trainer { model = lre.nn.sequential { lre.nn.linear(2, 8), lre.nn.relu(),
        lre.nn.linear(8, 2) }, data = ds, batch_size = 16, seed = 1, optimizer = lre.optim.sgd {} }
      local r = require("lrengine.finder").range_test { trainer = t, num_iter = 20, repeats = 3,
        start_lr = 1e-4, end_lr = 1, diverge_th = false }
      local spec = plot.spec(r)
      assert.is_table(spec.curves[1].band_lo)
      assert.matches("median of 3 runs", spec.curves[1].label)
      for i = 1, #spec.lrs do
        assert.is_true(spec.curves[1].band_lo[i] <= spec.curves[1].smoothed[i] + 1e-12)
        assert.is_true(spec.curves[1].smoothed[i] <= spec.curves[1].band_hi[i] + 1e-12)
      end
      local path = DIR .. "/real_runs.png"
      r:plot(path)
      assert.are.equal(1200, (png_size(path)))
    end)
  end)
end)
