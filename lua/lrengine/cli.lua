--[[
lrengine.cli — what the `lrengine` command does beyond running a script:

  lrengine SCRIPT.lua          a script that returns a table runs it as a
                               declarative sweep (M.sweep)
  lrengine suggest FILE [--heuristic NAME]... [--json]
                               re-runs heuristics on a saved curve: a result
                               JSON, or a two-column CSV (lr, loss) from any
                               framework
  lrengine plot FILE.json -o OUT.(png|svg|pdf)   (lrengine.plot)

Functions return the exit status; usage errors print to stderr and return 2.

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

local function usage(msg, text)
  io.stderr:write("lrengine: ", msg, "\n", text or "", text and "\n" or "")
  return 2
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
        "no suggestion: " .. tostring(s.reason))
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
    if kind == "fashion_mnist" then
      return lre().data.fashion_mnist(arg):scale(1 / 255)
    end
    error(string.format("sweep: %s = '%s': expected a dataset or 'fashion_mnist:train|test'",
      what, v), 0)
  end
  return v
end

local function model_of(v)
  if type(v) ~= "table" or getmetatable(v) then return v end
  local nn = lre().nn
  local act = v.activation or "relu"
  local make = nn[act]
  if type(make) ~= "function" then error("sweep: unknown activation '" .. tostring(act) .. "'", 0) end
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
    if type(make) ~= "function" then error("sweep: unknown loss '" .. v .. "'", 0) end
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
        error(string.format("sweep: unknown key '%s' in the table returned by %s", tostring(k),
          source or "the script"), 0)
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
    local ok, plot = pcall(require, "lrengine.plot")
    if ok and plot.terminal then io.write(plot.terminal(result), "\n") end
  end
  io.write(string.format("stopped: %s after %d of %d steps (%s curve)\n", result.stop_reason,
    #result.lrs, result.config.num_iter or #result.lrs, result.curve or "?"))
  io.write(M.format_suggestions(result, order), "\n")
  if json_path then io.write("result: ", json_path, "\n") end
  if plot_path then io.write("plot: ", plot_path, "\n") end
end

-- ------------------------------------------------------------ suggest

local SUGGEST_USAGE = [[
usage: lrengine suggest FILE [--heuristic NAME]... [--json]
  FILE             a result saved by lrengine (.json) or a CSV of lr,loss
  --heuristic NAME run this heuristic (repeatable; default: all known)
  --json           print the suggestions as JSON]]

function M.suggest(args)
  local file, names, as_json = nil, {}, false
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--heuristic" or a == "-H" then
      if not args[i + 1] then return usage("'--heuristic' needs a name", SUGGEST_USAGE) end
      names[#names + 1] = args[i + 1]
      i = i + 1
    elseif a:match("^%-%-heuristic=") then
      names[#names + 1] = a:match("=(.*)$")
    elseif a == "--json" then
      as_json = true
    elseif a == "-h" or a == "--help" then
      io.write(SUGGEST_USAGE, "\n")
      return 0
    elseif a:sub(1, 1) == "-" then
      return usage("suggest: unrecognized option '" .. a .. "'", SUGGEST_USAGE)
    elseif file then
      return usage("suggest: one file at a time", SUGGEST_USAGE)
    else
      file = a
    end
    i = i + 1
  end
  if not file then return usage("suggest: no file given", SUGGEST_USAGE) end
  local H = require "lrengine.heuristics"
  for _, n in ipairs(names) do
    local ok, err = pcall(H.get, n)
    if not ok then return usage("suggest: " .. tostring(err):gsub("^.-get: ", "")) end
  end
  if #names == 0 then names = H.names() end
  local results = require "lrengine.results"
  local load = file:lower():match("%.csv$") and results.load_csv or results.load_json
  local ok, r = pcall(load, file)
  if not ok then
    io.stderr:write("lrengine: ", (tostring(r):gsub("^[^\n]-%.lua:%d+: ", "")), "\n")
    return 1
  end
  r.suggestions = {}
  r.repeats = nil
  r:suggest(names)
  if as_json then
    io.write(require("lrengine.core").json_encode(r.suggestions, true), "\n")
  else
    io.write(string.format("%s: %d points, lr %.3g .. %.3g\n", file, #r.lrs, r.lrs[1] or 0,
      r.lrs[#r.lrs] or 0))
    io.write(M.format_suggestions(r, names), "\n")
  end
  return 0
end

-- ------------------------------------------------------------ dispatch

M.COMMANDS = { suggest = M.suggest }

--- Runs subcommand `cmd` with the array `args`; returns the exit status.
function M.main(cmd, args)
  local f = M.COMMANDS[cmd]
  if not f then
    local ok, plot = pcall(require, "lrengine.plot")
    if cmd == "plot" and ok and plot.command then return plot.command(args) end
    return usage("unknown command '" .. tostring(cmd) .. "'")
  end
  return f(args)
end

return M
