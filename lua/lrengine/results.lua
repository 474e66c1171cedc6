--[[
lrengine.results — the record of a range test.

A result holds, step by step (1-based, all arrays of equal length):
  lrs            learning rate of each step
  losses         the loss that drove the test (validation when `curve` is
                 "val", else training), raw
  smoothed       that loss smoothed (the curve stopping and heuristics read)
  train_losses   training loss of each step
  val_losses     validation loss of each step (empty without a validation set)
  step_seconds   wall time of each step (train step + validation)
and
  curve          "val" or "train"
  stop_reason    "completed", "diverged", "non_finite", or a custom
                 rule's reason (an interrupt raises an error instead: there
                 is no result)
  stop_step      the last step recorded
  suggestions    name -> {lr =, index =} (or {reason =} when a heuristic
                 had no answer)
  repeats        with repeats > 1: name -> {median =, min =, max =,
                 spread_decades =, lrs = {...}} over the runs
  config         the range test's options (functions recorded by name)
  model, optimizer, data, batch_size
                 what was tested, in words, when the trainer can say
  precision      {requested =, effective =}: the matmul precision asked for
                 and the one the device ran ("fp32", "tf32", "bf16"; they
                 differ where the device lacks the one asked for); absent
                 when the trainer does not say (no precision() method)
  seed, device, engine_version, lua_version, created (UTC, ISO 8601)
  verification   with range_test{verify = ...}: lrengine.verify's record
                 (candidates with their validation loss, accuracy and
                 training loss over the trials, the winner)

Methods: result:save_json(path), result:save_csv(path),
result:suggest(names [, opts]) (re-runs heuristics on the saved curve,
without retraining), result:plot(path, opts) (lrengine.plot).
Module functions:
  load(path)       a saved result, JSON or CSV: by the extension (.json,
                   .csv), else by the content (a file whose first non-blank
                   character is '{' is JSON). Every failure (a missing file,
                   bad JSON, a bad CSV cell, a table that is not a result, a
                   field of the wrong type: "r.json: field 'config' must be
                   an object, got a number") is an error naming the file
                   (and the line for CSV, the field for a type); under
                   pcall it carries no Lua position, so the command prints
                   it as it is. The `plot` and `suggest` commands use it.
  load_json(path), load_csv(path)   one format each (load_csv reads any
                   two-column lr,loss CSV, e.g. from another framework)
  new(fields)      the fields above are checked (types of every field the
                   figure, the chart and suggest read, nested ones
                   included: config.num_iter, suggestions.NAME.lr, runs[i],
                   ...); others are kept as they are

JSON uses these field names; non-finite numbers are written as the strings
"NaN", "Infinity", "-Infinity" and read back as numbers.
]]

local M = {}

local Result = {}
Result.__index = Result
M.Result = Result

local ARRAYS = { "lrs", "losses", "smoothed", "train_losses", "val_losses", "step_seconds" }
M.ARRAYS = ARRAYS

local function core() return require "lrengine.core" end

-- A path with a NUL byte in it: the C library would cut the name there
-- ("a\0b" would be "a"). The message of lrelua_checkpath (engine/lua),
-- which core.write_atomic checks too, naming `who`; nil for a good path.
local function nul_in_path(who, path)
  local k = path:find("\0", 1, true)
  if not k then return nil end
  return string.format("%s: path contains a NUL byte (byte %d of %d); a file name cannot hold one",
    who, k, #path)
end
M.nul_in_path = nul_in_path

local NONFINITE = { NaN = 0 / 0, Infinity = math.huge, ["-Infinity"] = -math.huge }

-- JSON's null as json_decode gives it (nil when the core is not there).
local function json_null()
  local ok, c = pcall(core)
  return ok and c.json_null or nil
end

-- Is t (a table) an array: no keys but 1..#t? (An empty table is both an
-- array and an object, as JSON's [] and {} both decode to one.)
local function is_array(t)
  local n, k = #t, 0
  for _ in pairs(t) do
    k = k + 1
    if k > n then return false end
  end
  return k == n
end

-- What v is, for messages: "a number", "a string", "an array", "an
-- object", "null", ...
local function kind(v)
  local t = type(v)
  if t == "table" then return is_array(v) and next(v) ~= nil and "an array" or "an object" end
  if v ~= nil and v == json_null() then return "null" end
  if t == "nil" then return "nothing" end
  return (t:match("^[aeiou]") and "an " or "a ") .. t
end

local function bad_field(where, name, want, v)
  error(string.format("%s: field '%s' must be %s, got %s", where, name, want, kind(v)), 0)
end

-- The array of numbers at field `name` (nil: none); the JSON strings of
-- non-finite numbers are taken as numbers.
local function check_numbers(t, name, where)
  if type(t) ~= "table" or not is_array(t) then bad_field(where, name, "an array of numbers", t) end
  for i = 1, #t do
    local v = t[i]
    if type(v) ~= "number" and not (type(v) == "string" and NONFINITE[v]) then
      error(string.format("%s: %s[%d] is %s, expected a number", where, name, i,
        type(v) == "string" and ("the string '" .. v .. "'") or kind(v)), 0)
    end
  end
  return t
end

local function numeric_array(t, name, where)
  if t == nil then return {} end
  check_numbers(t, name, where)
  local out = {}
  for i = 1, #t do
    local v = t[i]
    out[i] = type(v) == "string" and NONFINITE[v] or v
  end
  return out
end

-- An integer, or a float holding one (JSON's numbers past 2^53, a seed of
-- 2^62, decode as floats).
local function is_integer(v)
  return math.type(v) == "integer" or (type(v) == "number" and v == math.floor(v)
    and v ~= math.huge and v ~= -math.huge)
end

-- The checks of the other fields a result may have (README: the result
-- table): what reads them (plot, suggest, the terminal chart, the
-- commands) can then rely on their types. A field that is absent is left
-- alone; one of the wrong type (JSON's null included) is an error naming
-- the file and the field: "r.json: field 'config' must be an object, got a
-- number".
local function opt_string(t, key, name, where)
  local v = t[key]
  if v ~= nil and type(v) ~= "string" then bad_field(where, name, "a string", v) end
end

local function opt_number(t, key, name, where)
  local v = t[key]
  if v ~= nil and type(v) ~= "number" and not (type(v) == "string" and NONFINITE[v]) then
    bad_field(where, name, "a number", v)
  end
end

local function opt_integer(t, key, name, where, min)
  local v = t[key]
  if v ~= nil and not (is_integer(v) and v >= min) then
    local want = min == 0 and "a non-negative integer" or "a positive integer"
    if type(v) ~= "number" then bad_field(where, name, want, v) end
    error(string.format("%s: field '%s' must be %s, got %s", where, name, want,
      string.format("%.17g", v)), 0)
  end
end

local function opt_object(t, key, name, where, what)
  local v = t[key]
  if v ~= nil and (type(v) ~= "table" or (next(v) ~= nil and is_array(v))) then
    bad_field(where, name, what or "an object", v)
  end
  return v
end

-- name -> {lr =, index =} or {reason =} (or {error =}: a heuristic that failed)
local function check_suggestions(t, key, name, where)
  local s = opt_object(t, key, name, where, "an object (name -> {lr =, index =})")
  if s == nil then return end
  for k, e in pairs(s) do
    local en = name .. "." .. tostring(k)
    if type(k) ~= "string" then bad_field(where, name, "an object (name -> {lr =, index =})", s) end
    opt_object(s, k, en, where, "an object ({lr =, index =} or {reason =})")
    opt_number(e, "lr", en .. ".lr", where)
    opt_integer(e, "index", en .. ".index", where, 1)
    opt_string(e, "reason", en .. ".reason", where)
    opt_string(e, "error", en .. ".error", where)
  end
end

local function check_fields(r, where)
  for _, k in ipairs { "curve", "stop_reason", "model", "optimizer", "data", "device",
      "engine_version", "lua_version", "created" } do
    opt_string(r, k, k, where)
  end
  opt_integer(r, "stop_step", "stop_step", where, 0)
  opt_integer(r, "seed", "seed", where, 0)
  opt_integer(r, "batch_size", "batch_size", where, 1)
  local c = opt_object(r, "config", "config", where)
  if c ~= nil then
    opt_integer(c, "num_iter", "config.num_iter", where, 1)
    for _, k in ipairs { "start_lr", "end_lr", "smooth_f", "beta" } do
      opt_number(c, k, "config." .. k, where)
    end
    for _, k in ipairs { "schedule", "smoothing", "curve", "trainer", "val", "source" } do
      opt_string(c, k, "config." .. k, where)
    end
    local sg = c.suggest
    if sg ~= nil and type(sg) ~= "string" and not (type(sg) == "table" and is_array(sg)) then
      bad_field(where, "config.suggest", "a heuristic's name or an array of them", sg)
    end
  end
  check_suggestions(r, "suggestions", "suggestions", where)
  local p = opt_object(r, "precision", "precision", where, "an object ({requested =, effective =})")
  if p ~= nil then
    opt_string(p, "requested", "precision.requested", where)
    opt_string(p, "effective", "precision.effective", where)
  end
  local rep = opt_object(r, "repeats", "repeats", where, "an object (name -> {median =, ...})")
  if rep ~= nil then
    for k, e in pairs(rep) do
      local en = "repeats." .. tostring(k)
      opt_object(rep, k, en, where)
      for _, f in ipairs { "median", "min", "max", "spread_decades" } do
        opt_number(e, f, en .. "." .. f, where)
      end
      if e.lrs ~= nil then check_numbers(e.lrs, en .. ".lrs", where) end
      opt_integer(e, "runs", en .. ".runs", where, 1)
      opt_string(e, "reason", en .. ".reason", where)
    end
  end
  local v = opt_object(r, "verification", "verification", where,
    "an object ({candidates =, winner =, ...})")
  if v ~= nil then
    local cs = v.candidates
    if type(cs) ~= "table" or not is_array(cs) then
      bad_field(where, "verification.candidates", "an array of candidates ({lr =, ...})", cs)
    end
    for i, c in ipairs(cs) do
      local cn = string.format("verification.candidates[%d]", i)
      if type(c) ~= "table" or is_array(c) then bad_field(where, cn, "an object ({lr =, ...})", c) end
      if type(c.lr) ~= "number" then bad_field(where, cn .. ".lr", "a number", c.lr) end
      for _, f in ipairs { "val_loss", "accuracy", "train_loss" } do
        local e = opt_object(c, f, cn .. "." .. f, where, "an object ({median =, min =, max =})")
        if e ~= nil then
          for _, g in ipairs { "median", "min", "max" } do opt_number(e, g, cn .. "." .. f .. "." .. g, where) end
        end
      end
      opt_integer(c, "diverged", cn .. ".diverged", where, 0)
    end
    opt_integer(v, "winner", "verification.winner", where, 1)
    if v.winner ~= nil and v.winner > #cs then
      error(string.format("%s: field 'verification.winner' is %d, but there are %d candidates",
        where, v.winner, #cs), 0)
    end
    for _, k in ipairs { "steps", "repeats" } do opt_integer(v, k, "verification." .. k, where, 1) end
    for _, k in ipairs { "schedule", "metric" } do opt_string(v, k, "verification." .. k, where) end
  end
  local runs = r.runs
  if runs ~= nil then
    if type(runs) ~= "table" or not is_array(runs) then
      bad_field(where, "runs", "an array of runs ({lrs =, losses =, ...})", runs)
    end
    for i, run in ipairs(runs) do
      local rn = string.format("runs[%d]", i)
      if type(run) ~= "table" or (next(run) ~= nil and is_array(run)) then
        bad_field(where, rn, "an object ({lrs =, losses =, ...})", run)
      end
      for _, f in ipairs { "lrs", "losses", "smoothed" } do
        if run[f] ~= nil then check_numbers(run[f], rn .. "." .. f, where) end
      end
      opt_string(run, "stop_reason", rn .. ".stop_reason", where)
      check_suggestions(run, "suggestions", rn .. ".suggestions", where)
    end
  end
end

--- A result from a table of fields (arrays are checked and copied).
-- `where` (the file read, for the loaders) starts the messages; without it
-- a mistake in `fields` is reported at the caller's line.
local build
function M.new(fields, where)
  if where ~= nil then return build(fields, where) end
  if type(fields) ~= "table" then
    error(string.format("results.new: 'fields' must be a table (got %s)", type(fields)), 2)
  end
  local ok, r = pcall(build, fields, "results.new")
  if not ok then error(r, 2) end
  return r
end

function build(fields, where)
  local r = setmetatable({}, Result)
  for k, v in pairs(fields) do r[k] = v end
  for _, name in ipairs(ARRAYS) do r[name] = numeric_array(fields[name], name, where) end
  check_fields(r, where)
  local n = #r.lrs
  if #r.losses ~= n then
    error(string.format("%s: lrs has %d values but losses has %d", where, n, #r.losses), 0)
  end
  if #r.smoothed == 0 and n > 0 then
    r.smoothed = {}
    for i = 1, n do r.smoothed[i] = r.losses[i] end
  end
  for _, name in ipairs(ARRAYS) do
    if #r[name] ~= 0 and #r[name] ~= n then
      error(string.format("%s: %s has %d values, lrs has %d", where, name, #r[name], n), 0)
    end
  end
  r.suggestions = r.suggestions or {}
  r.config = r.config or {}
  r.stop_step = r.stop_step or n
  return r
end

local function plain(r)
  local t = {}
  for k, v in pairs(r) do t[k] = v end
  return t
end

function Result:to_json()
  return core().json_encode(plain(self), true)
end

function Result:save_json(path)
  if type(path) ~= "string" or path == "" then
    error("save_json: path must be a non-empty string", 2)
  end
  local nul = nul_in_path("save_json", path)
  if nul then error(nul, 2) end
  core().write_atomic(path, self:to_json() .. "\n")
  return path
end

local function fmt(v)
  if v == nil then return "" end
  if v ~= v then return "nan" end
  if v == math.huge then return "inf" end
  if v == -math.huge then return "-inf" end
  return string.format("%.17g", v)
end

-- The per-step arrays: the CSV's columns. Everything else of a result (the
-- config, suggestions, stop reason, seed, device, precision, ...) is the
-- CSV's first line, "# lrengine " and that JSON on one line, so that the
-- same curve gives the same suggestions from either file (fastai's
-- trimming reads num_iter from the config). pandas reads such a file with
-- comment='#'.
local COLUMNS = { lrs = true, losses = true, smoothed = true, train_losses = true,
  val_losses = true, step_seconds = true }

function Result:to_csv()
  local meta = {}
  for k, v in pairs(self) do
    if not COLUMNS[k] then meta[k] = v end
  end
  local lines = { "# lrengine " .. core().json_encode(meta),
    "step,lr,loss,smoothed,train_loss,val_loss,seconds" }
  for i = 1, #self.lrs do
    lines[#lines + 1] = table.concat({ tostring(i), fmt(self.lrs[i]), fmt(self.losses[i]),
      fmt(self.smoothed[i]), fmt(self.train_losses[i]), fmt(self.val_losses[i]),
      fmt(self.step_seconds[i]) }, ",")
  end
  return table.concat(lines, "\n") .. "\n"
end

function Result:save_csv(path)
  if type(path) ~= "string" or path == "" then
    error("save_csv: path must be a non-empty string", 2)
  end
  local nul = nul_in_path("save_csv", path)
  if nul then error(nul, 2) end
  core().write_atomic(path, self:to_csv())
  return path
end

--- Runs heuristics on the recorded (smoothed) curve, without retraining.
-- `names`: a name, a function, or an array of them; opts are passed on.
-- Returns the suggestions table (also stored in result.suggestions).
function Result:suggest(names, opts)
  local H = require "lrengine.heuristics"
  local relay = require("lrengine.registry").relay
  if opts ~= nil and type(opts) ~= "table" then
    error(string.format("suggest: 'opts' must be a table (got %s)", type(opts)), 2)
  end
  if names == nil then names = { "steepest" } end
  if type(names) ~= "table" then names = { names } end
  local out = {}
  for i, h in ipairs(names) do
    -- the planned length of the test, as the finder passed it (fastai's
    -- trimming depends on it)
    local o = {}
    for k, v in pairs(opts or {}) do o[k] = v end
    if o.num_iter == nil and math.type(self.config.num_iter) == "integer" then
      o.num_iter = self.config.num_iter
    end
    -- a bad name or option is the caller's: raised at the caller's line
    local fn, name = relay(2, "suggest: ", H.resolve, h, i, o)
    local lr, index = relay(2, "suggest: ", fn, self.lrs, self.smoothed, o)
    if lr then
      out[name] = { lr = lr, index = index }
    else
      out[name] = { reason = index ~= nil and tostring(index) or "no suggestion" }
    end
    self.suggestions[name] = out[name]
  end
  return out
end

function Result:plot(path, opts)
  return require("lrengine.plot").plot(self, path, opts)
end

local function read_file(path, what)
  if type(path) ~= "string" then error(what .. ": path must be a string", 3) end
  local nul = nul_in_path(what, path)
  if nul then error(nul, 3) end
  local f, err = io.open(path, "rb")
  if not f then error(what .. ": " .. err, 3) end
  local s = f:read("a")
  f:close()
  return s
end

-- Turns the strings JSON needs for non-finite numbers back into numbers,
-- in every array of the tree (runs[r].losses, repeats, ... as well as the
-- top-level curves).
local function restore_nonfinite(t, depth)
  if depth > 16 then return end
  for k, v in pairs(t) do
    if type(v) == "table" then
      restore_nonfinite(v, depth + 1)
    elseif type(v) == "string" and NONFINITE[v] and math.type(k) == "integer" then
      t[k] = NONFINITE[v]
    end
  end
end

-- A result from the text `s` of the JSON file `path`.
local function from_json(s, path)
  local ok, t = pcall(core().json_decode, s, path)
  if not ok then error(t, 2) end
  if type(t) == "table" then restore_nonfinite(t, 0) end
  -- (lrs and losses of another type: build names the field)
  if type(t) ~= "table" or is_array(t) or t.lrs == nil or t.losses == nil then
    error(path .. ": not an lrengine result (no 'lrs' and 'losses' arrays)", 2)
  end
  local ok2, r = pcall(M.new, t, path)
  if not ok2 then error(r, 2) end
  return r
end

--- Reads a result written by save_json.
function M.load_json(path)
  local s = read_file(path, "load_json")
  local ok, r = pcall(from_json, s, path)
  if not ok then error(r, 2) end
  return r
end

-- The longest cell read as a number, as the dataset loader's CSV reader
-- (engine/data/csv.c) allows: a longer one is reported as too long.
local MAX_CELL = 127

-- A cell's number, or nil, "too long". Decimal only: Lua's tonumber would
-- also take hexadecimal ("0x10", "0x1p4"), which no CSV writer means.
local function parse_number(cell)
  local v = tonumber(cell)
  if v and not cell:find("[xX]") then
    if #cell > MAX_CELL then return nil, "too long" end
    return v
  end
  if #cell > MAX_CELL then return nil, "too long" end
  cell = cell:match("^%s*(.-)%s*$")
  cell = cell:match('^"(.*)"$') or cell:match("^'(.*)'$") or cell -- a quoted number
  local low = cell:lower()
  if low == "nan" or low == "-nan" then return 0 / 0 end
  if low == "inf" or low == "+inf" or low == "infinity" then return math.huge end
  if low == "-inf" or low == "-infinity" then return -math.huge end
  if cell:find("[xX]") then return nil end
  return tonumber(cell)
end

-- Cells of a line: separated by `sep` ("," or ";"), a cell in double
-- quotes may hold the separator ("" is a quote).
local function split_csv(line, sep)
  sep = sep or ","
  local cells, i, n = {}, 1, #line
  while i <= n + 1 do
    if line:sub(i, i) == '"' then
      local j, buf = i + 1, {}
      while j <= n do
        local c = line:sub(j, j)
        if c == '"' and line:sub(j + 1, j + 1) == '"' then buf[#buf + 1] = '"'; j = j + 2
        elseif c == '"' then j = j + 1; break
        else buf[#buf + 1] = c; j = j + 1 end
      end
      cells[#cells + 1] = table.concat(buf)
      local k = line:find(sep, j, true)
      i = (k or n + 1) + 1
    else
      local k = line:find(sep, i, true)
      cells[#cells + 1] = line:sub(i, (k or n + 1) - 1)
      i = (k or n + 1) + 1
    end
  end
  return cells
end

-- One data cell of line `lineno` as a number, or an error naming the
-- line, the column and what is wrong.
local function csv_num(cells, col, what, path, lineno)
  local cell = cells[col] or ""
  local v, why = parse_number(cell)
  if v then return v end
  if why == "too long" then
    error(string.format("%s:%d: column %d (%s) is too long (%d characters; at most %d)", path,
      lineno, col, what, #cell, MAX_CELL), 3)
  end
  error(string.format("%s:%d: column %d (%s) is not a number: '%s'", path, lineno, col, what,
    cell), 3)
end

-- A result from the text `s` of the CSV file `path` (see load_csv).
local function from_csv(s, path)
  if s:sub(1, 3) == "\239\187\191" then s = s:sub(4) end -- a UTF-8 byte order mark
  if s:find("\r", 1, true) and not s:find("\n", 1, true) then
    error(string.format("%s: its lines end with a carriage return alone (old Mac OS); "
      .. "convert them to LF or CRLF (e.g. tr '\\r' '\\n')", path), 2)
  end
  local lrs, losses, smoothed = {}, {}, {}
  local lr_col, loss_col, sm_col, width = 1, 2, nil, nil
  local lineno, header_done, meta, sep = 0, false, nil, nil
  local nl = 0 -- data rows
  for line in (s .. "\n"):gmatch("([^\n]*)\n") do
    lineno = lineno + 1
    if line:byte(-1) == 13 then line = line:sub(1, -2) end -- CRLF
    -- the common case first: two plain numbers once the header is read
    if width == 2 and lr_col == 1 and loss_col == 2 and sep == "," then
      local a, b = line:match('^([^,"]*),([^,"]*)$')
      if a then
        local x, y = parse_number(a), parse_number(b)
        if x and y then
          nl = nl + 1
          lrs[nl], losses[nl] = x, y
          goto continue
        end
      end
    end
    if line:match("^%s*$") then goto continue end
    if line:byte(1) == 35 then -- "#": a comment; lrengine's own first line holds the rest of the result
      local js = lineno == 1 and line:match("^# lrengine (.*)$")
      if js then
        local ok, t = pcall(core().json_decode, js, path .. ":1")
        if not ok or type(t) ~= "table" then
          error(string.format("%s:1: the '# lrengine' line is not the JSON of a result: %s", path,
            tostring(ok and type(t) or t)), 2)
        end
        restore_nonfinite(t, 0)
        meta = t
      end
      goto continue
    end
    if line:find("\r", 1, true) then
      error(string.format("%s:%d: a carriage return inside the line (mixed line endings?)",
        path, lineno), 2)
    end
    if not sep then -- the first data or header line decides: ";" when it has no ","
      sep = (line:find(";", 1, true) and not line:find(",", 1, true)) and ";" or ","
    end
    local cells = split_csv(line, sep)
    if not header_done then
      header_done = true
      if not parse_number(cells[1] or "") then -- a header line
        local names = {}
        for i, c in ipairs(cells) do -- "Learning Rate", "learning_rate" and "lr" alike
          names[c:match("^%s*(.-)%s*$"):lower():gsub("[%s%-]+", "_")] = i
        end
        if #cells > 2 or names.lr or names.learning_rate then
          lr_col = names.lr or names.learning_rate
          loss_col = names.loss
          sm_col = names.smoothed
          if not lr_col or not loss_col then
            error(string.format("%s:%d: the header needs 'lr' and 'loss' columns", path, lineno), 2)
          end
        end
        width = #cells
        goto continue
      end
    end
    if width and #cells ~= width then
      error(string.format("%s:%d: %d columns, the first line has %d", path, lineno, #cells, width), 2)
    end
    width = width or #cells
    if #cells < 2 then
      error(string.format("%s:%d: expected at least two columns 'lr,loss'", path, lineno), 2)
    end
    nl = nl + 1
    lrs[nl] = csv_num(cells, lr_col, "lr", path, lineno)
    losses[nl] = csv_num(cells, loss_col, "loss", path, lineno)
    if sm_col then smoothed[#smoothed + 1] = csv_num(cells, sm_col, "smoothed", path, lineno) end
    ::continue::
  end
  if #lrs == 0 then error(path .. ": no data rows", 2) end
  if meta then -- lrengine's CSV: the result it was, columns and all
    meta.lrs, meta.losses, meta.smoothed = lrs, losses, smoothed
    local ok, r = pcall(M.new, meta, path)
    if not ok then error(r, 2) end
    return r
  end
  return M.new({ lrs = lrs, losses = losses, smoothed = smoothed, curve = "external",
    stop_reason = "external", config = { source = path } }, path)
end

--- Reads a CSV curve so a curve recorded by any framework can be judged:
-- either two columns (lr, loss), with or without a header, or a header
-- naming an `lr` (or `learning_rate`) and a `loss` column, and optionally a
-- `smoothed` one — so the CSV that save_csv writes reads back too.
function M.load_csv(path)
  local s = read_file(path, "load_csv")
  local ok, r = pcall(from_csv, s, path)
  if not ok then error(r, 2) end
  return r
end

--- Reads a saved result, JSON or CSV (see the module comment). Every
-- failure — a missing file, bad JSON, a CSV cell that is not a number, a
-- table that is not a result — is an error naming the file.
function M.load(path)
  if type(path) ~= "string" or path == "" then
    error("results.load: path must be a non-empty string", 2)
  end
  local nul = nul_in_path("results.load", path)
  if nul then error(nul, 2) end
  local f, err = io.open(path, "rb")
  if not f then error("results.load: " .. err, 2) end
  local s, rerr = f:read("a")
  f:close()
  if not s then error("results.load: " .. path .. ": " .. tostring(rerr), 2) end
  local ext = path:lower():match("%.(%w+)$")
  local json
  if ext == "json" then json = true
  elseif ext == "csv" then json = false
  else json = s:match("^%s*(.)") == "{" end
  -- (the parsers raise at their caller, pcall here: their messages carry
  -- no Lua position)
  local ok, r = pcall(json and from_json or from_csv, s, path)
  if not ok then error(r, 2) end
  return r
end

return M
