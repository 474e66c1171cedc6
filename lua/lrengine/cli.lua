--[[
lrengine.cli — what the `lrengine` command does beyond running a script:

  lrengine SCRIPT.lua          a script that returns a table runs it as a
                               declarative sweep (M.sweep)
  lrengine suggest FILE [--heuristic NAME]... [--json] [--smoothing S]
                   [--skip-start N] [--skip-end N]
                               re-runs heuristics on a saved curve: a result
                               JSON, or a two-column CSV (lr, loss) from any
                               framework
  lrengine plot FILE [-o OUT.(png|svg|pdf)] [options]
                               draws a saved result (lrengine.plot), or
                               without -o prints the terminal chart
                               (lrengine.chart)

Both subcommands read FILE with lrengine.results.load (JSON or CSV).

Functions return the exit status; usage errors print one line and "see
lrengine CMD --help" to stderr and return 2. A name or an option that is
not known but is at most two edits from one that is gets "did you mean"
(M.did_you_mean). The host sets M.traceback (--traceback): the commands'
own protected calls then keep the traceback too.

A declarative sweep is a table:

  return {
    data = lre.data.fashion_mnist("train"):scale(1/255),  -- a dataset, or
           -- "fashion_mnist:train" (scaled 1/255); required
    val = "fashion_mnist:test",        -- optional validation set
    model = { 784, 256, 256, 10, activation = "relu" },    -- widths, or a
           -- model from lre.nn.sequential
    loss = "cross_entropy",            -- or lre.loss.*{...}
    optimizer = { "adam", weight_decay = 1e-2 },  -- or "sgd", or lre.optim.*
    batch_size = 128, seed = 1, accumulation_steps = 1,
    output = "out/sweep.json",         -- the JSON record (default
                                       -- out/<script name>.json)
    plot = "out/sweep.png",            -- optional figure
    -- and any option of finder.range_test: start_lr, end_lr, num_iter,
    -- schedule, smoothing, suggest, repeats, curve, ...
  }
]]

local M = {}

local function lre() return require "lrengine" end

local function opts()
  local ok, o = pcall(function() return lre().options() end)
  return ok and o or {}
end

-- A usage error: one line, then where the help is; returns 2.
local function usage(msg, cmd)
  io.stderr:write("lrengine: ", msg, "\nsee lrengine ", cmd and (cmd .. " ") or "", "--help\n")
  return 2
end

-- Levenshtein distance of two strings.
local function edit_distance(a, b)
  local la, lb = #a, #b
  local row = {}
  for j = 0, lb do row[j] = j end
  for i = 1, la do
    local diag = row[0]
    row[0] = i
    for j = 1, lb do
      local up = row[j]
      local v = diag + (a:byte(i) == b:byte(j) and 0 or 1)
      if up + 1 < v then v = up + 1 end
      if row[j - 1] + 1 < v then v = row[j - 1] + 1 end
      row[j], diag = v, up
    end
  end
  return row[lb]
end
M.edit_distance = edit_distance

--- The candidate nearest to `word`, at most `max` (2) edits away (the first
-- on a tie), or nil.
function M.nearest(word, candidates, max)
  max = max or 2
  local best, bestd
  for _, c in ipairs(candidates) do
    local d = edit_distance(word, c)
    if d > 0 and d <= max and (not bestd or d < bestd) then best, bestd = c, d end
  end
  return best
end

--- " (did you mean 'x'?)" for the nearest candidate, else `otherwise` or "".
function M.did_you_mean(word, candidates, otherwise)
  local near = M.nearest(word, candidates)
  if near then return " (did you mean '" .. near .. "'?)" end
  return otherwise or ""
end

-- The names a valued-option table and a list of flags know, sorted.
local function option_names(valued, flags)
  local names = {}
  for k in pairs(valued) do names[#names + 1] = k end
  for _, k in ipairs(flags) do names[#names + 1] = k end
  table.sort(names)
  return names
end

-- "unrecognized option" with a suggestion (the part before '=' is compared).
local function unknown_option(cmd, a, names)
  return usage(string.format("%s: unrecognized option '%s'%s", cmd, a,
    M.did_you_mean(a:match("^([^=]*)"), names)), cmd)
end

-- nil when `name` is a known heuristic, else the message.
local function heuristic_error(name)
  local H = require "lrengine.heuristics"
  local ok, err = pcall(H.get, name)
  if ok then return nil end
  if type(name) == "string" then
    local known = H.names()
    table.sort(known)
    for _, n in ipairs(known) do if n == name then return (tostring(err):gsub("^.-get: ", "")) end end
    return string.format("unknown heuristic '%s'%s", name,
      M.did_you_mean(name, known, " (known: " .. table.concat(known, ", ") .. ")"))
  end
  return (tostring(err):gsub("^.-get: ", ""))
end

-- pcall, or with M.traceback (--traceback) xpcall with the traceback.
local function protected(f, ...)
  if M.traceback then return xpcall(f, debug.traceback, ...) end
  return pcall(f, ...)
end

-- What each heuristic mirrors, for the table.
local MIRRORS = {
  steepest = "pytorch-lr-finder plot()",
  steep = "fastai steep",
  valley = "fastai valley (default)",
  slide = "fastai slide",
  minimum = "fastai minimum (min/10)",
  lightning = "Lightning suggestion()",
  ignite = "Ignite lr_suggestion()",
}

local function sorted_names(t)
  local names = {}
  for k in pairs(t) do names[#names + 1] = k end
  table.sort(names)
  return names
end

--- The suggestions of a result as a text table.
function M.format_suggestions(result, order)
  local names = {}
  local seen = {}
  for _, n in ipairs(order or {}) do
    if type(n) == "string" and result.suggestions[n] and not seen[n] then
      names[#names + 1], seen[n] = n, true
    end
  end
  for _, n in ipairs(sorted_names(result.suggestions)) do
    if not seen[n] then names[#names + 1] = n end
  end
  local lines = { string.format("%-12s %-11s %5s  %s", "heuristic", "lr", "step", "rule") }
  for _, n in ipairs(names) do
    local s = result.suggestions[n]
    if s.lr then
      lines[#lines + 1] = string.format("%-12s %-11s %5d  %s", n, string.format("%.3e", s.lr),
        s.index or 0, MIRRORS[n] or "custom")
    else
      lines[#lines + 1] = string.format("%-12s %-11s %5s  %s", n, "-", "-",
        s.error and ("failed: " .. tostring(s.error)) or ("no suggestion: " .. tostring(s.reason)))
    end
  end
  if result.repeats then
    lines[#lines + 1] = ""
    lines[#lines + 1] = string.format("%-12s %-11s %-21s %s", "over runs", "median", "min .. max",
      "spread")
    for _, n in ipairs(names) do
      local r = result.repeats[n]
      if r and r.median then
        lines[#lines + 1] = string.format("%-12s %-11s %-21s %.2f decades (%d runs)", n,
          string.format("%.3e", r.median), string.format("%.2e .. %.2e", r.min, r.max),
          r.spread_decades or 0, #r.lrs)
      end
    end
  end
  return table.concat(lines, "\n")
end

-- ------------------------------------------------------------- sweeps

local SWEEP_KEYS = {
  data = true, val = true, model = true, loss = true, optimizer = true, batch_size = true,
  seed = true, accumulation_steps = true, output = true, plot = true, shuffle = true,
  drop_last = true,
}

local function dataset(v, what)
  if type(v) == "string" then
    local kind, arg = v:match("^([%w_]+):(.+)$")
    if kind == "fashion_mnist" and (arg == "train" or arg == "test") then
      return lre().data.fashion_mnist(arg):scale(1 / 255)
    end
    local near = kind == "fashion_mnist" and M.nearest(arg, { "train", "test" })
      or (kind and M.nearest(kind, { "fashion_mnist" }))
    error(string.format("sweep: %s = '%s': expected a dataset or 'fashion_mnist:train|test'%s",
      what, v, near and (" (did you mean '" .. (kind == "fashion_mnist"
        and ("fashion_mnist:" .. near) or (near .. ":" .. arg)) .. "'?)") or ""), 0)
  end
  return v
end

local ACTIVATIONS = { "relu", "leaky_relu", "gelu", "tanh", "sigmoid" }

local function model_of(v)
  if type(v) ~= "table" and not (type(v) == "userdata" and getmetatable(v)) then
    error(string.format("sweep: model must be a table of widths such as {784, 256, 10} (with "
      .. "activation = 'relu', ...) or an lre.nn.sequential model, not %s", type(v)), 0)
  end
  if type(v) ~= "table" or getmetatable(v) then return v end
  local nn = lre().nn
  local act = v.activation or "relu"
  local make = nn[act]
  if type(make) ~= "function" then
    error("sweep: unknown activation '" .. tostring(act) .. "' (the activations: "
      .. table.concat(ACTIVATIONS, ", ") .. ")", 0)
  end
  if #v < 2 then error("sweep: model needs at least two widths, e.g. {784, 256, 10}", 0) end
  local layers = {}
  for i = 1, #v - 1 do
    if math.type(v[i]) ~= "integer" or math.type(v[i + 1]) ~= "integer" then
      error(string.format("sweep: model[%d] must be an integer width", math.type(v[i]) and i + 1 or i), 0)
    end
    layers[#layers + 1] = nn.linear(v[i], v[i + 1])
    if i < #v - 1 then layers[#layers + 1] = make() end
  end
  return nn.sequential(layers)
end

local function optimizer_of(v)
  if v == nil then return nil end
  if type(v) == "string" then v = { v } end
  if type(v) ~= "table" or getmetatable(v) then return v end
  local name = v[1] or v.name
  local make = lre().optim[name or ""]
  if type(make) ~= "function" then
    error("sweep: optimizer must be 'sgd', 'adam', 'adamw' or an lre.optim object", 0)
  end
  local o = {}
  for k, x in pairs(v) do if k ~= 1 and k ~= "name" then o[k] = x end end
  return make(o)
end

local function loss_of(v)
  if v == nil then return nil end
  if type(v) == "string" then
    local make = lre().loss[v]
    if type(make) ~= "function" then
      error("sweep: unknown loss '" .. v .. "' (the losses: 'cross_entropy', 'mse', or an "
        .. "lre.loss object)", 0)
    end
    return make()
  end
  return v
end

--- Runs a declarative sweep (a table returned by a script). Returns the
-- result.
function M.sweep(spec, source)
  local finder = require "lrengine.finder"
  local rt = {}
  for k, v in pairs(spec) do
    if not SWEEP_KEYS[k] then
      if not finder.OPTIONS[k] or k == "trainer" then
        local keys = {}
        for name in pairs(SWEEP_KEYS) do keys[#keys + 1] = name end
        for name in pairs(finder.OPTIONS) do
          if name ~= "trainer" and not SWEEP_KEYS[name] then keys[#keys + 1] = name end
        end
        table.sort(keys)
        error(string.format("sweep: unknown key '%s' in the table returned by %s%s", tostring(k),
          source or "the script",
          M.did_you_mean(tostring(k), keys, " (the keys: " .. table.concat(keys, ", ") .. ")")), 0)
      end
      rt[k] = v
    end
  end
  if spec.data == nil then error("sweep: 'data' is required (a dataset)", 0) end
  if spec.model == nil then error("sweep: 'model' is required", 0) end
  local train = dataset(spec.data, "data")
  local val = spec.val ~= nil and dataset(spec.val, "val") or nil
  local trainer = lre().trainer {
    model = model_of(spec.model), data = train, loss = loss_of(spec.loss),
    optimizer = optimizer_of(spec.optimizer), batch_size = spec.batch_size,
    seed = spec.seed, accumulation_steps = spec.accumulation_steps,
    shuffle = spec.shuffle, drop_last = spec.drop_last,
  }
  rt.trainer, rt.val = trainer, val
  local o = opts()
  -- the progress line on stderr: redrawn in place on a terminal, a plain
  -- line every 10% of the steps otherwise (lrengine.progress)
  if rt.progress == nil and not o.quiet then rt.progress = true end
  local result = finder.range_test(rt)
  local name = (source or "sweep"):match("([^/]+)%.lua$") or "sweep"
  local out = spec.output or ("out/" .. name .. ".json")
  M.ensure_dir(out)
  result:save_json(out)
  if spec.plot then
    M.ensure_dir(spec.plot)
    result:plot(spec.plot)
  end
  M.report(result, out, rt.suggest, spec.plot)
  return result
end

--- Creates the directory part of `path` if it is missing (one level deep
-- or more), with mkdir -p.
function M.ensure_dir(path)
  local dir = path:match("^(.*)/[^/]*$")
  if dir and dir ~= "" then
    local f = io.open(dir .. "/.", "r")
    if f then f:close() return end
    local ok = os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'")
    if not ok then error("cannot create directory " .. dir, 0) end
  end
end

--- Prints the end-of-sweep report on stdout.
function M.report(result, json_path, order, plot_path)
  local o = opts()
  if not o.quiet then
    io.write(require("lrengine.chart").terminal(result), "\n")
  end
  io.write(string.format("stopped: %s after %d of %d steps (%s curve)\n", result.stop_reason,
    #result.lrs, result.config.num_iter or #result.lrs, result.curve or "?"))
  io.write(M.format_suggestions(result, order), "\n")
  if result.verification then
    io.write(require("lrengine.verify").format(result.verification), "\n")
  end
  if json_path then io.write("result: ", json_path, "\n") end
  if plot_path then io.write("plot: ", plot_path, "\n") end
end

-- ------------------------------------------------- reading a saved result

-- FILE of a subcommand -> the result, or nil after printing why on stderr
-- (the caller exits 1).
local function load_result(file)
  local ok, r = protected(require("lrengine.results").load, file)
  if not ok then
    io.stderr:write("lrengine: ", tostring(r), "\n")
    return nil
  end
  return r
end

-- ------------------------------------------------------------ suggest

local SUGGEST_USAGE = [[
usage: lrengine suggest FILE [--heuristic NAME]... [--json] [--smoothing S]
                        [--skip-start N] [--skip-end N]
  FILE              a result saved by lrengine (.json) or a CSV of lr,loss
  --heuristic NAME  run this heuristic (repeatable; default: all known)
  --smoothing S     smooth the raw loss again with S (ema: smooth_f 0.05, as
                    pytorch-lr-finder; debiased: beta 0.98, as fastai; none:
                    the raw loss) instead of reading the saved smoothed curve
  --skip-start N    points every heuristic leaves out at the start, and
  --skip-end N      at the end (default: each library's own trimming)
  --json            print the suggestions as JSON
  -h, --help        this text
The argmin of numpy.gradient over the whole ema-smoothed curve (pytorch-lr-finder's
history["loss"]; --smoothing none for the raw loss):
  lrengine suggest FILE --heuristic steepest --smoothing ema --skip-start 0 --skip-end 0
Exit status: 0 done, 1 the file could not be read, 2 a usage error.]]

local SUGGEST_VALUED = { ["--heuristic"] = "heuristic", ["-H"] = "heuristic",
  ["--smoothing"] = "smoothing", ["--skip-start"] = "skip_start", ["--skip-end"] = "skip_end" }
local SUGGEST_FLAGS = { "--json", "--help", "-h" }

-- `lrengine suggest` with the option `name` = `value` (nil: the next
-- argument was missing): a usage error's message, or nil.
local function suggest_option(o, name, key, value)
  if value == nil then return string.format("'%s' needs a value", key) end
  if name == "heuristic" then
    o.names[#o.names + 1] = value
  elseif name == "smoothing" then
    local known = require("lrengine.smoothing").names()
    table.sort(known)
    local found = false
    for _, n in ipairs(known) do found = found or n == value end
    if not found then
      return string.format("unknown smoothing '%s'%s", value,
        M.did_you_mean(value, known, " (known: " .. table.concat(known, ", ") .. ")"))
    end
    o.smoothing = value
  else -- skip_start, skip_end
    local n = value:match("^%d+$") and math.tointeger(tonumber(value))
    if not n then return string.format("%s needs an integer >= 0, got '%s'", key, value) end
    o.opts[name] = n
  end
end

function M.suggest(args)
  local file, as_json = nil, false
  local o = { names = {}, opts = {}, smoothing = nil }
  local i = 1
  while i <= #args do
    local a = args[i]
    local key, value = a:match("^(%-%-[%w-]+)=(.*)$")
    if not key then key = a end
    if SUGGEST_VALUED[key] then
      if value == nil then
        value = args[i + 1]
        i = i + 1
      end
      local err = suggest_option(o, SUGGEST_VALUED[key], key, value)
      if err then return usage("suggest: " .. err, "suggest") end
    elseif a == "--json" then
      as_json = true
    elseif a == "-h" or a == "--help" then
      io.write(SUGGEST_USAGE, "\n")
      return 0
    elseif a:sub(1, 1) == "-" then
      return unknown_option("suggest", a, option_names(SUGGEST_VALUED, SUGGEST_FLAGS))
    elseif file then
      return usage("suggest: one file at a time (got '" .. file .. "' and '" .. a .. "')",
        "suggest")
    else
      file = a
    end
    i = i + 1
  end
  if not file then return usage("suggest: no file given", "suggest") end
  local H = require "lrengine.heuristics"
  local names = o.names
  for _, n in ipairs(names) do
    local err = heuristic_error(n)
    if err then return usage("suggest: " .. err, "suggest") end
  end
  if #names == 0 then names = H.names() end
  local r = load_result(file)
  if not r then return 1 end
  local how = {}
  if o.smoothing then
    -- the driving loss again, smoothed as asked (with the library's
    -- default factor: smooth_f 0.05, beta 0.98)
    local sm = require("lrengine.smoothing").new(o.smoothing)
    local smoothed = {}
    for k = 1, #r.losses do smoothed[k] = sm:push(r.losses[k]) end
    r.smoothed = smoothed
    how[#how + 1] = o.smoothing == "none" and "raw loss" or (o.smoothing .. "-smoothed")
  end
  if o.opts.skip_start then how[#how + 1] = "skip-start " .. o.opts.skip_start end
  if o.opts.skip_end then how[#how + 1] = "skip-end " .. o.opts.skip_end end
  r.suggestions = {}
  r.repeats = nil
  r:suggest(names, o.opts)
  if as_json then
    io.write(require("lrengine.core").json_encode(r.suggestions, true), "\n")
  else
    io.write(string.format("%s: %d points, lr %.3g .. %.3g%s\n", file, #r.lrs, r.lrs[1] or 0,
      r.lrs[#r.lrs] or 0, #how > 0 and (" (" .. table.concat(how, ", ") .. ")") or ""))
    io.write(M.format_suggestions(r, names), "\n")
  end
  return 0
end

-- ------------------------------------------------------------ plot

local PLOT_USAGE = [[
usage: lrengine plot FILE.json|FILE.csv [-o OUT.png|OUT.svg|OUT.pdf] [options]
  Draws a saved range test (no retraining); with its verification by
  training, a third panel. A grid file (lrengine merge, g:save_json) is
  drawn one curve per value, each with its chosen suggestion, the best
  value highlighted. Without -o, prints a chart in the terminal instead
  (for a grid, its summary).
  -o, --output PATH  the figure; the format comes from the extension; '-' is
                     standard output (PNG unless --format says otherwise); a
                     FIFO or a device such as /dev/null is written in place
  --format png|svg|pdf
                     the format whatever the name says
  --width N          PNG: pixels (default 1200); SVG/PDF: points (default 432, 6 in)
  --height N         PNG: pixels (default 900); SVG/PDF: points (default 324, 4.5 in)
  --dpi N            PNG only: pixels per inch (default: fit the 6 x 4.5 in figure)
  --title TEXT       the title (default: model, optimizer and batch size)
  --chosen NAME      the suggestion drawn in red (default: the first one asked for)
  --heuristic NAME   re-run this heuristic on the saved curve (repeatable)
                     and draw its suggestion instead of the saved ones
  --delta forward|central
                     the bottom panel: forward differences (default, the
                     note's) or central ones (numpy.gradient)
  --no-raw           leave out the raw loss points
  -h, --help         this text
Exit status: 0 done, 1 the file could not be read or the figure not written,
2 a usage error.]]

local function plot_usage(msg) return usage("plot: " .. msg, "plot") end

local PLOT_FLAGS = { "--no-raw", "--help", "-h" }

local function quiet() return opts().quiet end

--- `lrengine plot ...`: draws a saved result (lrengine.plot), or prints the
-- terminal chart (lrengine.chart) without -o. Returns the exit status.
function M.plot(args)
  local core = require "lrengine.core"
  local plot = require "lrengine.plot"
  local file, out, opts, heuristics = nil, nil, {}, {}
  local valued = { ["-o"] = "output", ["--output"] = "output", ["--width"] = "width",
    ["--height"] = "height", ["--dpi"] = "dpi", ["--title"] = "title", ["--chosen"] = "chosen",
    ["--heuristic"] = "heuristic", ["--delta"] = "delta", ["--format"] = "format" }
  local i = 1
  while i <= #args do
    local a = args[i]
    local key, value = a:match("^(%-%-[%w-]+)=(.*)$")
    if not key then key = a end
    if valued[key] then
      if value == nil then
        value = args[i + 1]
        i = i + 1
        if value == nil then return plot_usage(string.format("'%s' needs a value", key)) end
      end
      local name = valued[key]
      if name == "output" then
        out = value
      elseif name == "heuristic" then
        heuristics[#heuristics + 1] = value
      elseif name == "format" then
        if value ~= "png" and value ~= "svg" and value ~= "pdf" then
          return plot_usage(string.format("--format needs png, svg or pdf, got '%s'", value))
        end
        opts.format = value
      elseif name == "title" or name == "chosen" or name == "delta" then
        opts[name] = value
      else
        local v = tonumber(value)
        if not v or not (v > 0) or v == math.huge then
          return plot_usage(string.format("%s needs a positive number, got '%s'", key, value))
        end
        opts[name] = v
      end
    elseif a == "--no-raw" then
      opts.raw_points = false
    elseif a == "-h" or a == "--help" then
      io.write(PLOT_USAGE, "\n")
      return 0
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      return unknown_option("plot", a, option_names(valued, PLOT_FLAGS))
    elseif file then
      return plot_usage("one file at a time (got '" .. file .. "' and '" .. a .. "')")
    else
      file = a
    end
    i = i + 1
  end
  if not file then return plot_usage("no file given") end
  if out == "-" and not opts.format then opts.format = "png" end
  if out and not opts.format and not core.plot_format(out) then
    return plot_usage(string.format(
      "cannot tell the format of '%s': use a .png, .svg or .pdf name, or --format", out))
  end
  for _, h in ipairs(heuristics) do
    local err = heuristic_error(h)
    if err then return plot_usage(err) end
  end
  -- a grid (lrengine merge, g:save_json): one curve per value. Only a
  -- file that can be read twice is looked at first (a pipe is read once,
  -- as a result)
  local gok, g = true, nil
  local fh = io.open(file, "rb")
  local seekable = fh and fh:seek("end") ~= nil
  if fh then fh:close() end
  if seekable then gok, g = pcall(require("lrengine.grid").load, file) end
  if not gok and not tostring(g):find(": cannot read: ", 1, true) then
    io.stderr:write("lrengine: ", (tostring(g):gsub("^[^\n]-%.lua:%d+: ", "")), "\n")
    return 1
  end
  if gok and g then
    if #heuristics > 0 then return plot_usage("--heuristic applies to a result, not a grid") end
    if not out then
      io.write(g:summary(), "\n")
      return 0
    end
    opts.raw_points = nil
    local pok, perr = pcall(plot.plot_grid, g, out, opts)
    if not pok then
      local msg = tostring(perr):gsub("^[^\n]-%.lua:%d+: ", "")
      io.stderr:write("lrengine: ", msg, "\n")
      return msg:match("^plot: chosen = ") and 2 or 1
    end
    if not quiet() then (out == "-" and io.stderr or io.stdout):write("plot: ", out, "\n") end
    return 0
  end
  local r = load_result(file)
  if not r then return 1 end
  if #r.lrs == 0 then
    io.stderr:write("lrengine: ", file, ": the result has no points\n")
    return 1
  end
  if #heuristics > 0 then
    r.suggestions = {}
    r.config.suggest = heuristics
    local sok, serr = pcall(r.suggest, r, heuristics)
    if not sok then
      io.stderr:write("lrengine: ", tostring(serr), "\n")
      return 1
    end
  end
  if not out then
    local tok, text = pcall(require("lrengine.chart").terminal, r, { chosen = opts.chosen })
    if not tok then
      io.stderr:write("lrengine: ", tostring(text), "\n")
      return 1
    end
    io.write(text, "\n")
    return 0
  end
  local pok, perr = pcall(plot.plot, r, out, opts)
  if not pok then
    local msg = tostring(perr):gsub("^[^\n]-%.lua:%d+: ", "")
    io.stderr:write("lrengine: ", msg, "\n")
    -- an unknown --chosen is the command line's fault
    return (msg:match("^plot: chosen = ") or msg:match("^plot: delta = ")) and 2 or 1
  end
  -- the figure itself may be on standard output
  if not quiet() then (out == "-" and io.stderr or io.stdout):write("plot: ", out, "\n") end
  return 0
end

-- --------------------------------------------------------------- merge

local MERGE_USAGE = [[
usage: lrengine merge FILE.json... -o GRID.json

Puts the results of a grid's values, each run alone (lrengine --grid-index
I script.lua, a cluster's array job per value), into one grid file: the
values in their order, the best marked (the lowest minimum of the smoothed
curve), the summary printed. Every FILE must be one value of the same
grid, each value once.

  -o, --output GRID.json   the merged grid (required)
  -h, --help               this text

Exit status: 0 done, 1 a file could not be read or does not belong,
2 a usage error.]]

function M.merge(args)
  local files, out = {}, nil
  local i = 1
  while i <= #args do
    local a = args[i]
    local key, value = a:match("^(%-%-[%w-]+)=(.*)$")
    if a == "-h" or a == "--help" then
      io.write(MERGE_USAGE, "\n")
      return 0
    elseif a == "-o" or a == "--output" or key == "--output" then
      out = value or args[i + 1]
      if not value then i = i + 1 end
      if out == nil or out == "" then return usage("merge: '-o' needs a file name", "merge") end
    elseif a:sub(1, 1) == "-" then
      return unknown_option("merge", a, { "-o", "--output", "--help" })
    else
      files[#files + 1] = a
    end
    i = i + 1
  end
  if #files == 0 then return usage("merge: no files given", "merge") end
  if not out then return usage("merge: no output file: -o GRID.json", "merge") end
  local grid = require "lrengine.grid"
  local ok, g = pcall(grid.merge, files)
  if ok then ok, g = pcall(function() M.ensure_dir(out) g:save_json(out) return g end) end
  if not ok then
    io.stderr:write("lrengine: ", (tostring(g):gsub("^[^\n]-%.lua:%d+: ", "")), "\n")
    return 1
  end
  if not quiet() then io.write(g:summary(), "\n", "grid: ", out, "\n") end
  return 0
end

-- ------------------------------------------------------------ dispatch

M.COMMANDS = { suggest = M.suggest, plot = M.plot, merge = M.merge }

--- Runs subcommand `cmd` with the array `args`; returns the exit status.
function M.main(cmd, args)
  local f = M.COMMANDS[cmd]
  if not f then
    return usage(string.format("unknown command '%s'%s", tostring(cmd),
      M.did_you_mean(tostring(cmd), sorted_names(M.COMMANDS))))
  end
  return f(args)
end

return M
