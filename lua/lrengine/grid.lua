--[[
lrengine.grid — one range test per value of another hyper-parameter (Smith,
arXiv 1803.09820: the learning rate read together with weight decay), from
the same initial weights. finder.grid is this module's grid.

  local g = finder.grid{
    trainer = t, weight_decay = { 0, 1e-4, 1e-3, 1e-2 },
                                -- or batch_size = {...}: t:clone{...} per value
                                -- (the same weights, optimizer state, order);
    -- or: build = function(value) return trainer end, values = {...},
    --     name = "weight_decay"  (any hyper-parameter; build the trainers
    --     from the same seed for the same initial weights)
    range_test = { val = ds, start_lr = 1e-7, end_lr = 10, num_iter = 100,
                   suggest = { "steepest", "valley" }, ... },
                                -- every test's options (range_test's)
    best = "min_smoothed",      -- the best value: the lowest minimum of the
                                -- smoothed curve, or fn(result) -> score
                                -- (lower is better)
    jobs = 1,                   -- N > 1: N processes at a time, each the
                                -- command re-running this script with
                                -- --grid-index i (lrengine only)
    dir = "out/grid",           -- where each value's result is written
                                -- (<dir>/<name>-<i>.json) with jobs > 1
                                -- and under --grid-index
  }
  g.results[i]                  -- value i's range-test result (r.grid =
                                -- {name =, value =, index =, count =})
  g.best, g.scores              -- the best value's index, every score
  print(g:summary())            -- a table: value, suggestions, score
  g:save_json("out/grid.json"); grid.load("out/grid.json"); g:plot(path)

Under `lrengine --grid-index i script.lua`, the script's first grid call
runs value i alone, writes <dir>/<name>-<i>.json and ends the process
(status 0; the rest of the script is the parent's business): so a
cluster's array job runs one value per task, and `lrengine merge
<dir>/*.json -o grid.json` (grid.merge) puts them together; `lrengine
plot grid.json` draws them (one curve per value). A script may call grid
more than once, but jobs > 1 and --grid-index serve its first call only.
]]

local results = require "lrengine.results"

local M = {}

local VALID = {
  trainer = true, build = true, values = true, name = true, range_test = true, best = true,
  jobs = true, dir = true, weight_decay = true, batch_size = true,
}
M.OPTIONS = VALID
-- what trainer:clone{...} can change, so `trainer =` grids can use them
M.CLONE_OPTIONS = { "weight_decay", "batch_size" }

local function fail(msg, level) error("grid: " .. msg, (level or 1) + 1) end
local function finite(x) return type(x) == "number" and x == x and x ~= math.huge and x ~= -math.huge end

local function copy(t)
  local c = {}
  for k, v in pairs(t or {}) do c[k] = v end
  return c
end

--- The score of a result under the "min_smoothed" rule: the lowest finite
-- point of its smoothed curve (math.huge when none is).
function M.min_smoothed(r)
  local best = math.huge
  for _, v in ipairs(r.smoothed or {}) do
    if finite(v) and v < best then best = v end
  end
  return best
end

local Grid = {}
Grid.__index = Grid
M.Grid = Grid

-- A grid from its results (each carrying r.grid), scored by `rule`.
local function assemble(name, values, res, rule, rule_name)
  local g = setmetatable({ name = name, values = values, results = res, scores = {},
    rule = rule_name }, Grid)
  local best
  for i, r in ipairs(res) do
    local s = rule(r)
    if not finite(s) then s = math.huge end
    g.scores[i] = s
    if s < math.huge and (best == nil or s < g.scores[best]) then best = i end
  end
  g.best = best
  return g
end

local function validate(opts)
  if type(opts) ~= "table" then fail("expected a table of options", 3) end
  for k in pairs(opts) do
    if not VALID[k] then fail(string.format("unknown option '%s'", tostring(k)), 3) end
  end
  local o = copy(opts)
  local given = {}
  for _, k in ipairs(M.CLONE_OPTIONS) do
    if o[k] ~= nil then given[#given + 1] = k end
  end
  if o.build ~= nil then
    if type(o.build) ~= "function" then fail("build must be a function(value) -> trainer", 3) end
    if o.trainer ~= nil or #given > 0 then
      fail("give build and values, or trainer and one of weight_decay, batch_size", 3)
    end
    if type(o.name) ~= "string" or o.name == "" then
      fail("name (the hyper-parameter's name) is required with build", 3)
    end
  else
    if o.trainer == nil then fail("give trainer (and weight_decay or batch_size), or build", 3) end
    if #given ~= 1 then
      fail("with trainer, give exactly one of weight_decay, batch_size (got "
        .. (#given == 0 and "none" or table.concat(given, ", ")) .. ")", 3)
    end
    if o.values ~= nil then fail("values goes with build; with trainer give " .. given[1] .. " = {...}", 3) end
    o.name = o.name or given[1]
    if o.name ~= given[1] then fail("name is " .. given[1] .. " here", 3) end
    o.values = o[given[1]]
  end
  if type(o.values) ~= "table" or #o.values == 0 then
    fail(string.format("%s must be a non-empty array of values", o.build and "values" or o.name), 3)
  end
  for i, v in ipairs(o.values) do
    if type(v) ~= "number" and type(v) ~= "string" and type(v) ~= "boolean" then
      fail(string.format("values[%d] must be a number, string or boolean, got %s", i, type(v)), 3)
    end
    if o.name == "weight_decay" and not o.build and not (finite(v) and v >= 0) then
      fail(string.format("weight_decay[%d] = %s must be a finite number >= 0", i, tostring(v)), 3)
    end
    if o.name == "batch_size" and not o.build and not (math.type(v) == "integer" and v >= 1) then
      fail(string.format("batch_size[%d] = %s must be an integer >= 1", i, tostring(v)), 3)
    end
  end
  if o.range_test ~= nil and type(o.range_test) ~= "table" then
    fail("range_test must be a table of range_test's options", 3)
  end
  if o.range_test and o.range_test.trainer ~= nil then
    fail("range_test.trainer: each value's trainer is the grid's", 3)
  end
  o.best = o.best or "min_smoothed"
  if o.best == "min_smoothed" then
    o._rule = M.min_smoothed
  elseif type(o.best) == "function" then
    o._rule = o.best
  else
    fail("best must be 'min_smoothed' or a function(result) -> score, got " .. tostring(o.best), 3)
  end
  o.jobs = o.jobs or 1
  if math.type(o.jobs) ~= "integer" or o.jobs < 1 then
    fail("jobs must be an integer >= 1, got " .. tostring(o.jobs), 3)
  end
  o.dir = o.dir or "out/grid"
  if type(o.dir) ~= "string" or o.dir == "" then fail("dir must be a directory path", 3) end
  return o
end

local function file_of(o, i)
  local safe = o.name:gsub("[^%w_.-]", "_")
  return string.format("%s/%s-%d.json", o.dir, safe, i)
end

-- Value i's range test, in this process
local function run_value(o, i)
  local finder = require "lrengine.finder"
  local v = o.values[i]
  local t
  if o.build then
    t = o.build(v)
  else
    t = o.trainer:clone { [o.name] = v }
  end
  local ro = copy(o.range_test)
  ro.trainer = t
  local r = finder.range_test(ro)
  r.grid = { name = o.name, value = v, index = i, count = #o.values }
  return r
end

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- The command line re-running this script for value i: the program and
-- its options (arg's negative indices, without an earlier --grid-index),
-- --grid-index i -q, the script and its arguments.
local function command_for(i)
  local lo = 0
  while type(arg) == "table" and arg[lo - 1] ~= nil do lo = lo - 1 end
  local script = type(arg) == "table" and arg[0] or nil
  if lo == 0 or type(script) ~= "string" or script == "-" then
    fail("jobs > 1 needs a script file run by the lrengine command (it is re-run with "
      .. "--grid-index; standard input or -e alone cannot be)", 4)
  end
  local f = io.open(script, "r")
  if not f then fail("jobs > 1: cannot re-run the script '" .. script .. "': not readable", 4) end
  f:close()
  -- the program, --grid-index, then its options but --grid-index, -i and --
  local parts = { shell_quote(arg[lo]), "--grid-index " .. i, "-q" }
  local k = lo + 1
  while k < 0 do
    local a = arg[k]
    if a == "--grid-index" then
      k = k + 1
    elseif not (a == "-i" or a == "--" or a:match("^%-%-grid%-index=")) then
      parts[#parts + 1] = shell_quote(a)
    end
    k = k + 1
  end
  parts[#parts + 1] = shell_quote(script)
  for j = 1, #arg do parts[#parts + 1] = shell_quote(arg[j]) end
  return table.concat(parts, " ")
end

-- Runs the values in child processes, `jobs` at a time; each writes its
-- file; their results are read back.
local function run_jobs(o)
  require("lrengine.cli").ensure_dir(file_of(o, 1))
  local res, running, next_i, failure = {}, {}, 1, nil
  -- waits for a child; the first failure is kept, the others still waited for
  local function finish(job)
    job.pipe:read("a")
    local ok, how, code = job.pipe:close()
    local path = file_of(o, job.i)
    local log = io.open(job.log, "r")
    local text = log and log:read("a") or ""
    if log then log:close() end
    os.remove(job.log)
    local why
    if not ok then
      why = string.format("%s %s", how == "signal" and "killed by signal" or "exit", tostring(code))
    elseif not io.open(path, "r") then
      why = "it wrote no result (" .. path .. ")"
    else
      local lok, r = pcall(results.load, path)
      if lok then res[job.i] = r else why = tostring(r) end
    end
    if why and not failure then
      failure = string.format("value %d (%s = %s) failed, %s: %s", job.i, o.name,
        tostring(o.values[job.i]), why, (text:gsub("%s+$", ""):sub(-2000)))
    end
  end
  while next_i <= #o.values or #running > 0 do
    while not failure and next_i <= #o.values and #running < o.jobs do
      local path = file_of(o, next_i)
      os.remove(path) -- an earlier run's file is never taken for this one's
      local log = path:gsub("%.json$", ".log")
      local cmd = command_for(next_i) .. " > " .. shell_quote(log) .. " 2>&1"
      running[#running + 1] = { i = next_i, log = log, pipe = assert(io.popen(cmd, "r")) }
      next_i = next_i + 1
    end
    if #running == 0 then break end
    finish(table.remove(running, 1))
  end
  if failure then fail(failure, 4) end
  return res
end

local calls = 0 -- grid calls of this process: --grid-index and jobs serve the first

--- Runs the grid; see the module comment.
function M.grid(opts)
  local okv, o = pcall(validate, opts)
  if not okv then error((tostring(o):gsub("^[^\n]-%.lua:%d+: ", "")), 2) end
  calls = calls + 1
  local okc, core = pcall(require, "lrengine.core")
  local host = okc and type(core.options) == "function" and core.options() or {}
  local rule_name = type(o.best) == "string" and o.best or "custom"
  local only = host.grid_index
  if only then
    if only > #o.values then
      fail(string.format("--grid-index %d, but the grid has %d values", only, #o.values), 2)
    end
    local r = run_value(o, only)
    local path = file_of(o, only)
    require("lrengine.cli").ensure_dir(path)
    r:save_json(path)
    if host.host then os.exit(0, true) end -- the value's task is done (module comment)
    return assemble(o.name, { o.values[only] }, { r }, o._rule, rule_name)
  end
  local res
  if o.jobs > 1 then
    if not host.host then
      fail("jobs > 1 needs the lrengine command (it re-runs the script with --grid-index)", 2)
    end
    if calls > 1 then
      fail("jobs > 1 serves a script's first grid call only (its processes re-run the script, "
        .. "whose first grid takes --grid-index)", 2)
    end
    res = run_jobs(o)
  else
    res = {}
    for i = 1, #o.values do res[i] = run_value(o, i) end
  end
  return assemble(o.name, o.values, res, o._rule, rule_name)
end

--- A grid from the files of its values' runs (--grid-index, array jobs):
-- every file a result of the same grid (the same name and count), each
-- value once. `best` as grid's (default "min_smoothed").
local function mfail(msg) error("merge: " .. msg, 0) end

function M.merge(paths, best)
  if type(paths) ~= "table" or #paths == 0 then mfail("no files given") end
  local by, name, count = {}, nil, nil
  for _, p in ipairs(paths) do
    local gok, whole = pcall(M.load, p)
    if gok and whole then
      mfail(string.format("%s is a whole grid already (merge takes the files of its values)", p))
    end
    local r = results.load(p)
    local g = r.grid
    if type(g) ~= "table" or type(g.name) ~= "string" or math.type(math.tointeger(g.index)) ~= "integer" then
      mfail(string.format("%s is not one value of a grid (no 'grid' field: run with "
        .. "--grid-index)", p))
    end
    local i = math.tointeger(g.index)
    if name and g.name ~= name then
      mfail(string.format("%s is of the grid over %s, the others over %s", p, g.name, name))
    end
    if count and g.count ~= count then
      mfail(string.format("%s is of a grid of %s values, the others of %s", p,
        tostring(g.count), tostring(count)))
    end
    if i < 1 or (g.count and i > g.count) then
      mfail(string.format("%s is value %d of a grid of %s", p, i, tostring(g.count)))
    end
    if by[i] then mfail(string.format("value %d is in %s and in %s", i, by[i].path, p)) end
    name, count = g.name, g.count
    by[i] = { r = r, path = p }
  end
  local idx = {}
  for i in pairs(by) do idx[#idx + 1] = i end
  table.sort(idx)
  local values, res = {}, {}
  for k, i in ipairs(idx) do values[k], res[k] = by[i].r.grid.value, by[i].r end
  local rule = best == nil and M.min_smoothed or best
  if type(rule) ~= "function" then mfail("best must be a function(result) -> score") end
  local g = assemble(name, values, res, rule, best == nil and "min_smoothed" or "custom")
  if count and #idx < count then g.missing = count - #idx end
  return g
end

--- The summary as a text table, the best value marked with '*'.
function Grid:summary()
  local names, seen = {}, {}
  for _, r in ipairs(self.results) do
    local order = type(r.config) == "table" and r.config.suggest or {}
    for _, n in ipairs(type(order) == "table" and order or {}) do
      if type(n) == "string" and not seen[n] then names[#names + 1], seen[n] = n, true end
    end
  end
  local head = { string.format("  %-12s", self.name) }
  for _, n in ipairs(names) do head[#head + 1] = string.format("%-11s", n) end
  head[#head + 1] = self.rule == "min_smoothed" and "min smoothed" or "score"
  local lines = { table.concat(head, " ") }
  for i, r in ipairs(self.results) do
    local row = { string.format("%s %-12s", self.best == i and "*" or " ", tostring(self.values[i])) }
    for _, n in ipairs(names) do
      local s = r.suggestions and r.suggestions[n]
      row[#row + 1] = string.format("%-11s", s and s.lr and string.format("%.3e", s.lr) or "-")
    end
    row[#row + 1] = self.scores[i] < math.huge and string.format("%.4f", self.scores[i]) or "-"
    lines[#lines + 1] = table.concat(row, " ")
  end
  if self.missing then
    lines[#lines + 1] = string.format("(%d value%s of the grid missing)", self.missing,
      self.missing == 1 and "" or "s")
  end
  return table.concat(lines, "\n")
end

local function plain(g)
  local rs = {}
  for i, r in ipairs(g.results) do
    local t = {}
    for k, v in pairs(r) do t[k] = v end
    rs[i] = t
  end
  return { grid = { name = g.name, values = g.values, best = g.best, rule = g.rule,
    scores = g.scores, missing = g.missing }, results = rs }
end

--- The figure (lrengine.plot.plot_grid): one curve per value.
function Grid:plot(path, opts)
  local ok, err = pcall(require("lrengine.plot").plot_grid, self, path, opts)
  if not ok then error(err, 2) end
  return path
end

function Grid:to_json() return require("lrengine.core").json_encode(plain(self), true) end

function Grid:save_json(path)
  if type(path) ~= "string" or path == "" then error("save_json: path must be a non-empty string", 2) end
  require("lrengine.core").write_atomic(path, self:to_json() .. "\n")
  return path
end

--- A grid saved by save_json (or `lrengine merge`), or nil and why when
-- the file is not a grid (a single result: use results.load).
function M.load(path)
  local f, err = io.open(path, "r")
  if not f then error(string.format("%s: cannot read: %s", path, err), 0) end
  local text = f:read("a")
  f:close()
  local ok, t = pcall(require("lrengine.core").json_decode, text)
  if not ok or type(t) ~= "table" or type(t.grid) ~= "table" or t.results == nil then
    return nil, path .. ": not a grid (no 'grid' and 'results' fields)"
  end
  if type(t.results) ~= "table" or #t.results == 0 then
    error(path .. ": field 'results' must be a non-empty array of results", 0)
  end
  local res = {}
  for i, r in ipairs(t.results) do res[i] = results.new(r, string.format("%s: results[%d]", path, i)) end
  local g = setmetatable({ name = t.grid.name, values = t.grid.values, results = res,
    best = math.tointeger(t.grid.best), rule = t.grid.rule, scores = {},
    missing = t.grid.missing }, Grid)
  local NONFINITE = { Infinity = math.huge, ["-Infinity"] = -math.huge, NaN = 0 / 0 }
  for i, r in ipairs(res) do
    local s = type(t.grid.scores) == "table" and t.grid.scores[i] or nil
    if type(s) == "string" then s = NONFINITE[s] end
    g.scores[i] = type(s) == "number" and s or M.min_smoothed(r)
  end
  return g
end

return M
