--[[
lrengine.finder — the learning-rate range test (Smith, arXiv 1506.01186).

  local finder = require "lrengine.finder"
  local result = finder.range_test{
    preset = nil,               -- "pytorch-lr-finder" | "fastai" | "lightning":
                                -- that library's defaults (schedule, smoothing,
                                -- divergence threshold, lr range, suggestion);
                                -- options given here still win
    trainer = trainer,          -- required: anything with step(lr), evaluate(ds),
                                -- snapshot(), restore(s) (the engine's trainer,
                                -- or a C application's own object)
    val = dataset,              -- optional validation set: evaluated every step
    start_lr = 1e-7, end_lr = 10, num_iter = 100,
    schedule = "exp",           -- "exp" | "linear" | fn(step, n, start, end)
    smoothing = "ema",          -- "ema" | "debiased" | "none" | a registered name |
                                -- fn(loss, prev_smoothed, k) | a smoother object
    smooth_f = 0.05,            -- ema factor (pytorch-lr-finder)
    beta = 0.98,                -- "debiased" factor (fastai, Lightning)
    diverge_th = 5,             -- stop when smoothed > diverge_th × best smoothed
                                -- (5: pytorch-lr-finder; fastai/Lightning use 4);
                                -- false disables
    stop = { fn, ... },         -- more stopping rules fn(state) -> stop, reason
                                -- (names of lrengine.stopping work too); the
                                -- non-finite rule always applies
    stop_opts = { name = {...} },  -- options of the named rules in `stop`:
                                -- stop = { "divergence" }, stop_opts =
                                -- { divergence = { threshold = 3 } } builds
                                -- stopping.get("divergence", {threshold = 3});
                                -- a key that names no rule in `stop` is an error
    accumulation_steps = nil,   -- micro-batches per step during the test
                                -- (pytorch-lr-finder's); default: the
                                -- trainer's own; restored afterwards
    curve = "val" | "train",    -- which loss drives smoothing, stopping and
                                -- suggestions (default "val" when val is given)
    suggest = { "steepest", "valley", fn, ... },
    suggest_opts = { name = {...} },  -- per-heuristic opts (each heuristic also
                                -- gets num_iter); a {factory = f} heuristic
                                -- is built with them; a key that names no
                                -- heuristic in `suggest` is an error
    on_step = fn(state),        -- called after each step (progress, logging)
    verify = { epochs = 1 },    -- then train each suggestion (and 1/3x, 3x the
                                -- chosen one) from the state the test
                                -- started from, for that budget:
                                -- finder.verify's options (lrengine.verify),
                                -- its record in result.verification; the
                                -- batch orders from `seed` when given. If the
                                -- verification fails, the error carries the
                                -- test's result (err.result)
    keep_state = false,         -- true: leave the trainer where the test ended
    repeats = 1,                -- k > 1: k tests with different batch orders
    reinit = false,             -- with repeats: also a new initialisation each run
    seed = nil,                 -- the batch order of the test: run r uses
                                -- seed + r - 1 (the trainer is reseeded, and
                                -- put back after). Default: run 1 goes on
                                -- with the trainer's own order from where it
                                -- stands; runs 2.. use the trainer's seed + r - 1
    progress = nil,             -- true: a progress line on stderr (default:
                                -- under the command, when stderr is a terminal)
                                -- (lrengine.progress: redrawn in place on a
                                -- terminal, a plain line every 10% of the
                                -- steps otherwise); a function: called like
                                -- on_step (the command turns it on unless
                                -- --quiet)
  }

What it does each step i = 1..num_iter: lr = schedule(i, num_iter, start_lr,
end_lr); train_loss = trainer:step(lr); with `val`, val_loss =
trainer:evaluate(val) (pytorch-lr-finder keeps only the validation loss in
that mode; Lightning refuses a validation curve; we record both). The
driving loss is smoothed; the stopping rules see the state; a non-finite
loss stops the test at once and is recorded (pytorch-lr-finder runs on
through NaN). Heuristics then run on the smoothed curve.

The result also records, when the trainer can say (the engine's can), what
was tested: `model` (its description), `optimizer`, `data` (descriptions)
and `batch_size`; lrengine.plot titles the figure with them.

State: the trainer is snapshotted before the test and restored after it —
on success, on an error, on a non-finite loss and on an interrupt — unless
keep_state is true. So a range test in the middle of training starts from
the current state and leaves it exactly as it was.
]]

local results = require "lrengine.results"
local schedules = require "lrengine.schedules"
local smoothing = require "lrengine.smoothing"
local stopping = require "lrengine.stopping"
local heuristics = require "lrengine.heuristics"
local registry = require "lrengine.registry"

local M = {}

-- The most steps a range test may plan (its curve lives in Lua tables:
-- about 200 bytes a step, 2 GB at this count).
M.MAX_NUM_ITER = 10000000
-- float32's largest finite value: the engine's learning rate is a float32.
local FLT_MAX = 3.4028234663852886e38

local DEFAULTS = {
  start_lr = 1e-7, end_lr = 10, num_iter = 100, schedule = "exp", smoothing = "ema",
  diverge_th = 5, keep_state = false, repeats = 1, reinit = false,
}

local VALID = {
  trainer = true, val = true, start_lr = true, end_lr = true, num_iter = true,
  schedule = true, smoothing = true, smooth_f = true, beta = true, diverge_th = true,
  stop = true, stop_opts = true, accumulation_steps = true, curve = true, suggest = true,
  suggest_opts = true, on_step = true, keep_state = true, repeats = true, reinit = true,
  save = true,
  seed = true, progress = true, preset = true, verify = true,
}
M.OPTIONS = VALID

local function fail(msg, level) error("range_test: " .. msg, (level or 1) + 2) end

local function finite(x) return x == x and x ~= math.huge and x ~= -math.huge end

local function check_number(o, name)
  local v = o[name]
  if type(v) ~= "number" then
    fail(string.format(type(v) == "string" and "%s must be a number (got string \"%s\")"
      or "%s must be a number (got %s)", name, type(v) == "string" and v or type(v)), 2)
  end
  if not finite(v) or v <= 0 then
    fail(string.format("%s must be a positive finite number, got %s", name, tostring(v)), 2)
  end
end

-- Runs `fn(...)` and turns its error into a range_test error.
local function checked(what, fn, ...)
  local ok, a, b = pcall(fn, ...)
  if not ok then fail(what .. ": " .. tostring(a):gsub("^[^:]*:%d+: ", ""), 3) end
  return a, b
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- The options as recorded in the result: functions by name, objects by
-- description, so the record is plain JSON.
local function config_record(o)
  local c = {}
  for k, v in pairs(o) do
    if k == "trainer" or k == "val" then
      c[k] = tostring(v)
    elseif type(v) == "function" then
      c[k] = "custom"
    elseif type(v) == "table" then
      local t = {}
      for i, x in ipairs(v) do t[i] = type(x) == "function" and "custom" or x end
      if #t > 0 then c[k] = t end
    elseif type(v) ~= "userdata" then
      c[k] = v
    end
  end
  return c
end

local clock = os.clock
do
  local ok, core = pcall(require, "lrengine.core")
  if ok and core.clock then clock = core.clock end
end

-- One range test from the trainer's current state. `run` and `runs` label
-- the progress line of repeats.
local function run_once(o, run, runs)
  local trainer, val, n = o.trainer, o.val, o.num_iter
  local smoother = smoothing.new(o.smoothing, o._smooth_opts)
  -- a smoother object given by the user is reused: start it afresh per run
  if type(smoother.reset) == "function" then smoother:reset() end
  local lrs, losses, smoothed, train, vals, secs = {}, {}, {}, {}, {}, {}
  local best = math.huge
  local stop_reason, stop_message, stop_step = "completed", nil, 0
  local use_val = o.curve == "val"
  local state = { num_iter = n, lrs = lrs, losses = losses, smoothed_losses = smoothed,
    train_losses = train, val_losses = vals }
  -- what is recorded so far, for an interrupt (range_test saves it)
  o._partial = { lrs = lrs, losses = losses, smoothed = smoothed, train_losses = train,
    val_losses = vals, step_seconds = secs }
  local bar
  if o.progress == true then
    bar = require("lrengine.progress").new { total = n,
      label = runs and runs > 1 and string.format("run %d/%d", run, runs) or nil }
    o._live_progress = bar
  end
  for i = 1, n do
    local lr = o._schedule(i, n, o.start_lr, o.end_lr)
    local t0 = clock()
    local tl = trainer:step(lr)
    local vl
    if val then vl = trainer:evaluate(val) end
    secs[i] = clock() - t0
    local loss = use_val and vl or tl
    lrs[i], losses[i], train[i] = lr, loss, tl
    if val then vals[i] = vl end
    local s = smoother:push(loss)
    smoothed[i] = s
    stop_step = i
    if s < best then best = s end
    state.step, state.lr, state.loss, state.smoothed, state.best = i, lr, loss, s, best
    state.train_loss, state.val_loss = tl, vl
    if o.on_step then o.on_step(state) end
    if o._progress then o._progress(state) end
    if bar then bar:update(state) end
    local stop, reason, message = o._stop(state)
    if stop then
      stop_reason, stop_message = reason or "stopped", message
      break
    end
  end
  if bar then
    bar:finish { step = stop_step, reason = stop_reason }
    o._live_progress = nil
  end
  return { lrs = lrs, losses = losses, smoothed = smoothed, train_losses = train,
    val_losses = vals, step_seconds = secs, stop_reason = stop_reason,
    stop_message = stop_message, stop_step = stop_step }
end

-- What a heuristic returned, checked: nil and a reason, or a positive
-- finite lr and (optionally) an integer index into the curve. Returns the
-- entry for result.suggestions, or nil and what is wrong.
local function checked_suggestion(n, lr, index)
  if lr == nil or lr == false then
    return { reason = index ~= nil and tostring(index) or "no suggestion" }
  end
  if type(lr) ~= "number" or lr ~= lr or lr <= 0 or lr == math.huge then
    return nil, string.format("returned lr = %s, expected a positive finite number",
      type(lr) == "number" and string.format("%.6g", lr) or type(lr))
  end
  if index ~= nil and (math.type(index) ~= "integer" and not (type(index) == "number"
      and index == math.floor(index)) or index < 1 or index > n) then
    return nil, string.format("returned index = %s, expected an integer in 1..%d",
      tostring(index), n)
  end
  return { lr = lr, index = index and math.tointeger(index) or nil }
end

-- Every heuristic on the curve. One that raises an error, or returns
-- something that is not a suggestion, is recorded as failed (its message in
-- .error) and the others still run: a sweep is never lost to a heuristic.
local function suggest_all(o, fields)
  local out = {}
  for _, h in ipairs(o._heuristics) do
    local fn, name = h.fn, h.name
    local ok, lr, index = pcall(fn, fields.lrs, fields.smoothed, copy(h.opts))
    local entry, why
    if ok then entry, why = checked_suggestion(#fields.lrs, lr, index) end
    if not ok then
      out[name] = { error = tostring(lr) }
    elseif not entry then
      out[name] = { error = why }
    else
      out[name] = entry
    end
  end
  return out
end

-- Median of positive learning rates, taken in log space for an even count.
local function median(xs)
  local s = copy(xs)
  table.sort(s)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return math.exp((math.log(s[n // 2]) + math.log(s[n // 2 + 1])) / 2)
end

local function summarize_repeats(runs)
  local rep = {}
  for name in pairs(runs[1].suggestions) do
    local xs = {}
    for r = 1, #runs do
      local s = runs[r].suggestions[name]
      if s and s.lr then xs[#xs + 1] = s.lr end
    end
    if #xs > 0 then
      local lo, hi = math.huge, -math.huge
      for _, x in ipairs(xs) do lo, hi = math.min(lo, x), math.max(hi, x) end
      rep[name] = { median = median(xs), min = lo, max = hi, lrs = xs, runs = #runs,
        spread_decades = lo > 0 and math.log(hi / lo, 10) or nil }
    else
      rep[name] = { reason = "no run gave a suggestion", runs = #runs }
    end
  end
  return rep
end

local function method(obj, name)
  local ok, f = pcall(function() return obj[name] end)
  return ok and type(f) == "function" and f or nil
end

-- What was tested, in words, when the trainer can say (the engine's can):
-- model, optimizer, data (descriptions) and batch_size, recorded in the
-- result for people and for the figure's title (lrengine.plot); and the
-- matmul precision, {requested =, effective =}, from a trainer whose
-- precision() returns effective, requested (the engine's does; a trainer
-- without the method gets no precision field).
local function describe(trainer)
  local function call(name)
    local f = method(trainer, name)
    if not f then return nil end
    local ok, v = pcall(f, trainer)
    if ok then return v end
  end
  local d = {}
  local m = call("model")
  if m ~= nil then
    local ok, s = pcall(function() return m:describe() end)
    d.model = ok and type(s) == "string" and s or tostring(m)
  end
  local opt = call("optimizer")
  if opt ~= nil then d.optimizer = tostring(opt) end
  local data = call("data")
  if data ~= nil then d.data = tostring(data) end
  local bs = call("batch_size")
  if math.type(bs) == "integer" then d.batch_size = bs end
  local prec = method(trainer, "precision")
  if prec then
    local ok, effective, requested = pcall(prec, trainer)
    if ok and type(effective) == "string" then
      d.precision = { requested = type(requested) == "string" and requested or effective,
        effective = effective }
    end
  end
  return d
end

-- Each library's own defaults, so its numbers can be reproduced with one
-- option (the heuristics' trimming follows from num_iter).
M.PRESETS = {
  -- torch_lr_finder 0.2.2 LRFinder.range_test + plot(suggest_lr=True)
  ["pytorch-lr-finder"] = { start_lr = 1e-7, end_lr = 10, num_iter = 100, schedule = "exp",
    smoothing = "ema", smooth_f = 0.05, diverge_th = 5, suggest = { "steepest" } },
  -- fastai 2.8 Learner.lr_find(start_lr=1e-7, end_lr=10, num_it=100,
  -- stop_div=True, suggest_funcs=(valley,)): SmoothenValue(0.98), 4× best
  fastai = { start_lr = 1e-7, end_lr = 10, num_iter = 100, schedule = "fastai",
    smoothing = "debiased", beta = 0.98, diverge_th = 4, suggest = { "valley" } },
  -- Lightning 2.6 Tuner.lr_find(min_lr=1e-8, max_lr=1, num_training=100,
  -- mode="exponential", early_stop_threshold=4.0): beta 0.98 debiased from
  -- k = 2 (its global step), suggestion() with skip_begin 10, skip_end 1
  lightning = { start_lr = 1e-8, end_lr = 1, num_iter = 100, schedule = "lightning",
    smoothing = "debiased", beta = 0.98, _first_k = 2, diverge_th = 4,
    suggest = { "lightning" } },
}

-- Checks o[key] (stop_opts, suggest_opts): a table of name -> options
-- table, each name one of `named` (the names in o[list_key]).
local function check_opts_table(o, key, list_key, kind, named, hint)
  local t = o[key]
  if t == nil then return end
  if type(t) ~= "table" then
    fail(string.format("%s must be a table of name = {options} (got %s)", key, type(t)), 3)
  end
  local known = {}
  for _, n in ipairs(named) do known[n] = true end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if not known[k] then
      fail(string.format("%s.%s: no %s named '%s' in '%s' (%s)%s", key, k, kind, k, list_key,
        #named > 0 and ("it has: " .. table.concat(named, ", ")) or "it names none",
        hint and ("; " .. hint) or ""), 3)
    end
    if type(t[k]) ~= "table" then
      fail(string.format("%s.%s must be a table of options (got %s)", key, k, type(t[k])), 3)
    end
  end
end

local function validate(opts)
  if type(opts) ~= "table" then error("range_test: expected a table of options", 3) end
  for k in pairs(opts) do
    if not VALID[k] then fail(string.format("unknown option '%s'", tostring(k)), 2) end
  end
  local o = copy(DEFAULTS)
  if opts.preset ~= nil then
    local p = M.PRESETS[opts.preset]
    if not p then
      local names = {}
      for k in pairs(M.PRESETS) do names[#names + 1] = k end
      table.sort(names)
      fail(string.format("unknown preset '%s' (known: %s)", tostring(opts.preset),
        table.concat(names, ", ")), 2)
    end
    for k, v in pairs(p) do o[k] = v end
  end
  for k, v in pairs(opts) do o[k] = v end
  if o.trainer == nil then fail("'trainer' is required", 2) end
  for _, m in ipairs { "step", "snapshot", "restore" } do
    if not method(o.trainer, m) then
      fail(string.format("the trainer has no method '%s' (it needs step, snapshot, restore, "
        .. "and evaluate for a validation set)", m), 2)
    end
  end
  -- a dataset (a C program's own trainer may take a table or a boolean)
  local vt = type(o.val)
  if vt == "number" or vt == "string" or vt == "function" or vt == "thread" then
    fail("val must be a dataset (got " .. vt .. ")", 2)
  end
  if o.val ~= nil and not method(o.trainer, "evaluate") then
    fail("a validation set needs a trainer with an 'evaluate' method", 2)
  end
  for _, k in ipairs { "keep_state", "reinit" } do
    if type(o[k]) ~= "boolean" then
      fail(string.format("%s must be a boolean (got %s)", k, type(o[k])), 2)
    end
  end
  -- both are checked, whichever smoothing is used (that one checks the range)
  for _, k in ipairs { "smooth_f", "beta" } do
    if o[k] ~= nil and type(o[k]) ~= "number" then
      fail(string.format("%s must be a number (got %s)", k, type(o[k])), 2)
    end
  end
  if o.suggest_opts ~= nil and type(o.suggest_opts) ~= "table" then
    fail(string.format("suggest_opts must be a table of name = {options} (got %s)",
      type(o.suggest_opts)), 2)
  end
  check_number(o, "start_lr")
  check_number(o, "end_lr")
  if o.end_lr <= o.start_lr then
    fail(string.format("end_lr (%g) must be larger than start_lr (%g)", o.end_lr, o.start_lr), 2)
  end
  if math.type(o.num_iter) ~= "integer" or o.num_iter < 1 then
    fail("num_iter must be an integer >= 1, got " .. tostring(o.num_iter), 2)
  end
  if o.num_iter > M.MAX_NUM_ITER then
    fail(string.format("num_iter must be at most %d (got %d): the curve is kept in memory",
      M.MAX_NUM_ITER, o.num_iter), 2)
  end
  if o.end_lr > FLT_MAX then
    fail(string.format("end_lr (%g) is above float32's largest finite value (%.8g): the "
      .. "engine's learning rate is a float32", o.end_lr, FLT_MAX), 2)
  end
  if math.type(o.repeats) ~= "integer" or o.repeats < 1 then
    fail("repeats must be an integer >= 1, got " .. tostring(o.repeats), 2)
  end
  o.curve = o.curve or (o.val and "val" or "train")
  if o.curve ~= "val" and o.curve ~= "train" then
    fail("curve must be 'val' or 'train', got " .. tostring(o.curve), 2)
  end
  if o.curve == "val" and not o.val then fail("curve = 'val' needs a validation set (val)", 2) end
  o._schedule = checked("schedule", schedules.get, o.schedule)
  checked("schedule", o._schedule, 1, o.num_iter, o.start_lr, o.end_lr)
  checked("schedule", o._schedule, o.num_iter, o.num_iter, o.start_lr, o.end_lr)
  o._smooth_opts = { smooth_f = o.smooth_f, beta = o.beta, first_k = o._first_k }
  checked("smoothing", smoothing.new, o.smoothing, o._smooth_opts)
  local rules = { checked("stopping", stopping.default, { diverge_th = o.diverge_th }) }
  local stop_list = {}
  if o.stop ~= nil then
    stop_list = (type(o.stop) == "table" and not getmetatable(o.stop)) and o.stop or { o.stop }
  end
  local stop_named = {}
  for _, f in ipairs(stop_list) do
    if type(f) == "string" then stop_named[#stop_named + 1] = f end
  end
  check_opts_table(o, "stop_opts", "stop", "stopping rule", stop_named,
    "the default rules take diverge_th")
  for i, f in ipairs(stop_list) do
    local sopts = type(f) == "string" and o.stop_opts and o.stop_opts[f] or nil
    rules[#rules + 1] = checked(string.format("stop[%d]", i), stopping.get, f, sopts)
  end
  o._stop = stopping.any(rules)
  if o.suggest == nil then o.suggest = { "steepest" } end
  if type(o.suggest) ~= "table" then o.suggest = { o.suggest } end
  -- each heuristic with its name and opts, built once (a {factory = f} one
  -- with its opts)
  o._heuristics = {}
  local suggest_named = {}
  for i, h in ipairs(o.suggest) do
    local name = type(h) == "string" and h or select(2, checked(string.format("suggest[%d]", i),
      heuristics.resolve, h, i))
    suggest_named[#suggest_named + 1] = name
    local hopts = {}
    if o.suggest_opts and type(o.suggest_opts[name]) == "table" then hopts = copy(o.suggest_opts[name]) end
    if hopts.num_iter == nil then hopts.num_iter = o.num_iter end
    local fn = checked(string.format("suggest[%d]", i), heuristics.resolve, h, i, hopts)
    -- a built-in heuristic's options are checked now, not after the run
    checked(string.format("suggest_opts.%s", name), heuristics.check_opts, fn, hopts)
    o._heuristics[i] = { fn = fn, name = name, opts = hopts }
  end
  check_opts_table(o, "suggest_opts", "suggest", "heuristic", suggest_named)
  if o.progress == nil then
    -- on by default under the lrengine command when stderr is a terminal
    -- (off with progress = false or --quiet); a C program that embeds the
    -- finder gets it only when it asks
    local okc, core = pcall(require, "lrengine.core")
    local opt = okc and type(core.options) == "function" and core.options() or {}
    o.progress = opt.host == true and not opt.quiet and core.isatty("stderr") or nil
  end
  if type(o.progress) == "function" then
    o._progress = o.progress
  elseif o.progress ~= nil and type(o.progress) ~= "boolean" then
    fail("progress must be a boolean or a function, got " .. type(o.progress), 2)
  end
  if o.on_step ~= nil and type(o.on_step) ~= "function" then
    fail("on_step must be a function, got " .. type(o.on_step), 2)
  end
  if o.seed ~= nil and (math.type(o.seed) ~= "integer" or o.seed < 0) then
    fail("seed must be an integer >= 0, got " .. tostring(o.seed), 2)
  end
  if o.reinit and not method(o.trainer, "reinit") then
    fail("reinit = true needs a trainer with a 'reinit' method", 2)
  end
  if o.verify ~= nil then
    if type(o.verify) ~= "table" then
      fail("verify must be a table of verify's options ({epochs = 1}, ...), got " .. type(o.verify), 2)
    end
    for _, k in ipairs { "trainer", "result", "val" } do
      if o.verify[k] ~= nil then
        fail(string.format("verify.%s: the range test's own %s is used", k, k), 2)
      end
    end
    -- its options are checked now, not after the test
    local names = {}
    for _, h in ipairs(o._heuristics) do names[#names + 1] = h.name end
    checked("verify", require("lrengine.verify").check, o.verify, o.trainer, o.val, names)
  end
  return o
end

--- Runs the range test; see the module comment for the options.
-- An interrupt (^C under the command) after the trainer is restored: the
-- error raised is an object that prints as one line and carries the curve
-- recorded so far (err.result); it is saved first, to range_test{save =
-- path}, or under the command to out/<script name>.partial.json.
local Interrupted = {}
Interrupted.__index = Interrupted
Interrupted.__tostring = function(e) return e.message end

local function default_partial_path()
  local okc, core = pcall(require, "lrengine.core")
  local host = okc and type(core.options) == "function" and core.options().host
  local script = type(arg) == "table" and type(arg[0]) == "string" and arg[0] or nil
  if not host or not script then return nil end
  local name = script:match("([^/]+)$"):gsub("%.lua$", "")
  return "out/" .. name .. ".partial.json"
end

local function interrupted(o, err)
  local p = o._partial
  -- the steps recorded whole: the interrupt may land between two of a
  -- step's assignments
  local n = math.min(#p.lrs, #p.losses, #p.smoothed)
  local fields = {}
  for k, v in pairs(p) do
    local t = {}
    for i = 1, math.min(#v, n) do t[i] = v[i] end
    fields[k] = t
  end
  fields.stop_reason, fields.stop_step, fields.curve = "interrupted", n, o.curve
  local okr, partial = pcall(results.new, fields)
  local path = o.save or default_partial_path()
  local saved
  if okr and path and n > 0 then
    local oks, serr = pcall(partial.save_json, partial, path)
    saved = oks and path or nil
    if not oks then path = tostring(serr) end
  end
  local msg = string.format("interrupted at step %d/%d; trainer %s; %s", n, o.num_iter,
    o.keep_state and "left as it was (keep_state)" or "restored",
    saved and ("partial curve saved to " .. saved)
      or (n == 0 and "no step was recorded")
      or (path and ("the partial curve could not be saved: " .. path))
      or "the partial curve is in err.result")
  return setmetatable({ message = msg, result = okr and partial or nil, saved = saved,
    cause = err }, Interrupted)
end

-- The guard of range_test's trainer (a to-be-closed value): put_back
-- restores the snapshot (unless keep_state) and the accumulation_steps the
-- trainer had, once; an interrupt inside a restore is retried (the
-- host's interrupt fires once). Returns true, or false and the restore's
-- error.
local GUARD = {}
GUARD.__index = GUARD

function GUARD.put_back(g)
  if g.done then return true end
  local rok, rerr = true, nil
  if g.old_accum then
    rok, rerr = pcall(g.set_accum, g.trainer, g.old_accum)
    if not rok then rok, rerr = pcall(g.set_accum, g.trainer, g.old_accum) end
  end
  if g.restore then
    local ok2, err2 = pcall(g.trainer.restore, g.trainer, g.snap)
    if not ok2 then ok2, err2 = pcall(g.trainer.restore, g.trainer, g.snap) end
    if not ok2 then rok, rerr = false, err2 end
  end
  g.done = true
  return rok, rerr
end

GUARD.__close = function(g) g:put_back() end
M._GUARD = GUARD -- lrengine.verify's trainer is guarded the same way

function M.range_test(opts)
  -- a mistake in the options is reported at the caller's line (the user's
  -- script), not inside this module
  local okv, o = pcall(validate, opts)
  if not okv then
    error((tostring(o):gsub("^[^\n]-%.lua:%d+: ", "")), 2)
  end
  if o.save ~= nil and (type(o.save) ~= "string" or o.save == "") then
    fail("save must be a file path (got " .. type(o.save) .. ")", 1)
  end
  local trainer = o.trainer
  local base_seed = o.seed
  if base_seed == nil then
    local f = method(trainer, "seed")
    base_seed = f and f(trainer) or 0
  end
  local reseed = method(trainer, "reseed")
  if (o.repeats > 1 or o.seed ~= nil) and not reseed then
    fail("repeats > 1 and seed need a trainer with a 'reseed' method", 1)
  end

  local accum = o.accumulation_steps
  local set_accum = accum ~= nil and method(trainer, "accumulation_steps")
  if accum ~= nil then
    if math.type(accum) ~= "integer" or accum < 1 then
      fail("accumulation_steps must be an integer >= 1, got " .. tostring(accum), 1)
    end
    if not set_accum then fail("accumulation_steps needs a trainer that can set it", 1) end
  end

  local snap = trainer:snapshot()
  -- From here on the trainer is put back (its state from `snap`, its
  -- accumulation_steps) however this function is left: by the code below,
  -- or, should an error or an interrupt land outside its pcalls, by the
  -- to-be-closed guard. The host raises an interrupt once per ^C (its hook
  -- is one-shot; a second ^C ends the process), so whichever of the two
  -- runs the restore is not itself interrupted twice.
  local guard <close> = setmetatable({ trainer = trainer, snap = snap, set_accum = set_accum,
    restore = not o.keep_state }, GUARD)
  if set_accum then guard.old_accum = set_accum(trainer, accum) end
  local runs = {}
  local ok, err = pcall(function()
    for r = 1, o.repeats do
      if r > 1 then
        -- every run starts from the same state, with its own batch order
        -- (and with reinit, its own initialisation)
        trainer:restore(snap)
        reseed(trainer, base_seed + r - 1)
        if o.reinit then trainer:reinit(base_seed + r - 1) end
      elseif o.seed ~= nil then
        reseed(trainer, base_seed)
      end
      runs[r] = run_once(o, r, o.repeats)
      runs[r].suggestions = suggest_all(o, runs[r])
    end
  end)
  -- an error or interrupt mid-run: end the progress line before the message
  if o._live_progress then
    o._live_progress:abort()
    o._live_progress = nil
  end
  -- put the trainer back: on success, on an error, on an interrupt
  local rok, rerr = guard:put_back()
  if not rok and ok then
    error("range_test: restoring the trainer failed: " .. tostring(rerr), 2)
  end
  if not ok then
    if type(err) == "string" and err:find("interrupted!", 1, true) and o._partial then
      error(interrupted(o, err), 0)
    end
    -- an error raised at this file's line by what it called on the user's
    -- behalf (trainer:evaluate(val) with a dataset that does not fit, ...)
    -- is reported at the caller's line
    registry.raise_at(err, 2, "range_test: ")
  end

  local fields = copy(runs[1])
  fields.curve = o.curve
  -- the options in force (a preset's and the defaults included)
  local effective = {}
  for k, v in pairs(o) do
    if VALID[k] then effective[k] = v end
  end
  fields.config = config_record(effective)
  fields.seed = base_seed
  local dev = method(trainer, "device")
  fields.device = dev and dev(trainer) or "unknown"
  for k, v in pairs(describe(trainer)) do fields[k] = v end
  local okc, core = pcall(require, "lrengine.core")
  fields.engine_version = okc and core.version or nil
  fields.lua_version = _VERSION
  fields.created = os.date("!%Y-%m-%dT%H:%M:%SZ")
  if o.repeats > 1 then
    fields.repeats = summarize_repeats(runs)
    fields.runs = {}
    for r = 1, o.repeats do
      fields.runs[r] = { lrs = runs[r].lrs, losses = runs[r].losses,
        smoothed = runs[r].smoothed, stop_reason = runs[r].stop_reason,
        suggestions = runs[r].suggestions }
    end
  end
  local res = results.new(fields)
  if o.verify then
    -- from the state the test started from (with keep_state, the trainer
    -- is put back where the test ended afterwards)
    local ended
    if o.keep_state then
      ended = trainer:snapshot()
      trainer:restore(snap)
    end
    local vo = copy(o.verify)
    vo.trainer, vo.result, vo.val = trainer, res, o.val
    if vo.seed == nil then vo.seed = o.seed end
    if vo.progress == nil and o.progress == true then vo.progress = true end
    local okv, v = pcall(require("lrengine.verify").verify, vo)
    if ended then trainer:restore(ended) end
    if not okv then
      -- the range test's result is not lost: it rides on the error
      local msg = tostring(v):gsub("^[^\n]-%.lua:%d+: ", "")
      if not msg:find("interrupted!", 1, true) then msg = "range_test: " .. msg end
      error(setmetatable({ message = msg .. " (the range test's result is in err.result)",
        result = res, cause = v }, Interrupted), 2)
    end
    res.verification = v
  end
  return res
end

--- lrengine.grid's grid: one range test per value of weight decay (or
-- another hyper-parameter), from the same initial weights.
function M.grid(opts)
  local ok, g = pcall(require("lrengine.grid").grid, opts)
  if not ok then error((tostring(g):gsub("^[^\n]-%.lua:%d+: ", "")), 2) end
  return g
end

--- lrengine.verify's verify: train each candidate learning rate for the
-- same budget from the trainer's state, then restore it.
function M.verify(opts)
  local ok, v = pcall(require("lrengine.verify").verify, opts)
  if not ok then error(v, 2) end
  return v
end

return M
