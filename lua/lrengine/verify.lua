--[[
lrengine.verify — does the suggested learning rate train well? Train each
candidate for the same budget from the state the range test started from,
then restore it. (finder.verify is this module's verify; range_test{verify
= {...}} runs it after the test and keeps its record in result.verification.)

  local finder = require "lrengine.finder"
  local v = finder.verify{
    trainer = t,                -- required: step(lr), snapshot(), restore(s),
                                -- reseed(seed); evaluate(ds) and accuracy(ds)
                                -- with `val`
    result = r,                 -- a range test's result: the default candidates
    val = dataset,              -- scored after each trial: validation loss and
                                -- accuracy (without it: the training loss)
    candidates = { 3e-3, { lr = 1e-2, from = "mine" }, ... },
                                -- default: every distinct suggestion of
                                -- `result`, and 1/3x and 3x the chosen one
    chosen = "steepest",        -- the suggestion whose 1/3x and 3x are tried
                                -- (default: the first the test asked for)
    steps = N | epochs = E,     -- the budget of every trial (default: 1 epoch,
                                -- trainer:steps_per_epoch())
    repeats = 1,                -- k trials per candidate, batch orders seed,
                                -- seed + 1, ... (the same for every candidate)
    seed = nil,                 -- default: the trainer's seed
    schedule = "constant",      -- "constant" | "onecycle" (the candidate the
                                -- peak: torch's OneCycleLR, pct_start 0.3,
                                -- div_factor 25, final_div_factor 1e4, cosine;
                                -- the learning rate only, no momentum cycling;
                                -- under 4 steps its warm-up is cut short)
                                -- | fn(step, total, lr) -> lr
    progress = nil,             -- true: a progress line per trial on stderr
  }

v (also result.verification) is plain data, saved with the result:
  candidates   in increasing lr, each { lr =, from = { "steepest", ... },
               val_loss =, accuracy =, train_loss = (each { median =, min =,
               max = } over the finished trials, or absent),
               trials = { { val_loss =, accuracy =, train_loss =,
               status = "ok" | "diverged", step = (where it diverged) } },
               diverged = (trials that did) }
  winner       the index of the candidate with the lowest median validation
               loss (training loss without val) among those none of whose
               trials diverged; absent when every one did
  steps, epochs, repeats, seed, schedule, metric ("val_loss" | "train_loss")

train_loss is the mean training loss of a trial's last tenth of its steps
(at least one). A trial whose training or validation loss is not finite
stops there and is recorded as diverged; it never stops the verification.
The trainer is restored to the state it had before every trial and after
the last one — also on an error and on an interrupt.
]]

local M = {}

local VALID = {
  trainer = true, result = true, val = true, candidates = true, chosen = true, steps = true,
  epochs = true, repeats = true, seed = true, schedule = true, progress = true,
}
M.OPTIONS = VALID

local function fail(msg, level) error("verify: " .. msg, (level or 1) + 1) end
local function finite(x) return type(x) == "number" and x == x and x ~= math.huge and x ~= -math.huge end

local function method(obj, name)
  local ok, f = pcall(function() return obj[name] end)
  return ok and type(f) == "function" and f or nil
end

-- torch.optim.lr_scheduler.OneCycleLR with its defaults, step 1..total:
-- cosine from peak/25 up to the peak over the first 30% of the steps, then
-- cosine down to peak/25/1e4
local function onecycle(step, total, peak)
  local init, final = peak / 25, peak / 25 / 1e4
  local s, up_end, down_end = step - 1, 0.3 * total - 1, total - 1
  local function anneal(a, b, pct) return b + (a - b) / 2 * (1 + math.cos(math.pi * pct)) end
  if s <= up_end then
    return up_end > 0 and anneal(init, peak, s / up_end) or peak
  end
  local span = down_end - up_end
  return span > 0 and anneal(peak, final, (s - up_end) / span) or final
end

M.SCHEDULES = {
  constant = function(_, _, lr) return lr end,
  onecycle = onecycle,
}

-- Adds a candidate to `out`: the same lr (to 1e-9) twice is one
-- candidate, from both.
local function add_candidate(out, lr, from)
  for _, c in ipairs(out) do
    if math.abs(c.lr - lr) <= 1e-9 * lr then
      c.from[#c.from + 1] = from
      return
    end
  end
  out[#out + 1] = { lr = lr, from = { from } }
end

-- The suggestions of `result` as candidates: one per distinct lr, with the
-- names that gave it; and 1/3x and 3x the chosen one.
local function default_candidates(result, chosen)
  if type(result) ~= "table" or type(result.suggestions) ~= "table" then
    fail("give candidates, or the result of a range test (result =)", 3)
  end
  local order = type(result.config) == "table" and result.config.suggest or nil
  if type(order) == "string" then order = { order } end
  local names = {}
  local seen = {}
  for _, n in ipairs(type(order) == "table" and order or {}) do
    if type(n) == "string" and not seen[n] then names[#names + 1], seen[n] = n, true end
  end
  local rest = {}
  for n in pairs(result.suggestions) do
    if not seen[n] then rest[#rest + 1] = n end
  end
  table.sort(rest)
  for _, n in ipairs(rest) do names[#names + 1] = n end
  local out = {}
  local function add(lr, from) add_candidate(out, lr, from) end
  local first
  local with_lr = {}
  for _, n in ipairs(names) do
    local s = result.suggestions[n]
    if type(s) == "table" and finite(s.lr) and s.lr > 0 then
      add(s.lr, n)
      first = first or n
      with_lr[#with_lr + 1] = n
    end
  end
  local pick = chosen or first
  if chosen ~= nil then
    local s = result.suggestions[chosen]
    if type(s) ~= "table" then
      fail(string.format("chosen = '%s' is not a suggestion of the result (it has: %s)",
        tostring(chosen), #with_lr > 0 and table.concat(with_lr, ", ") or "none"), 3)
    elseif not (finite(s.lr) and s.lr > 0) then
      fail(string.format("chosen = '%s' gave no learning rate (%s)", chosen,
        tostring(s.reason or s.error or "no suggestion")), 3)
    end
  end
  if not pick then fail("the result has no suggestion to verify: give candidates", 3) end
  local lr = result.suggestions[pick].lr
  add(lr / 3, "1/3 x " .. pick)
  add(lr * 3, "3 x " .. pick)
  return out
end

local function given_candidates(list)
  if type(list) ~= "table" or #list == 0 then
    fail("candidates must be a non-empty array of learning rates or {lr =, from =} tables", 3)
  end
  local out = {}
  for i, c in ipairs(list) do
    local lr, from = c, nil
    if type(c) == "table" then lr, from = c.lr, c.from end
    if not finite(lr) or lr <= 0 then
      fail(string.format("candidates[%d] must be a positive finite learning rate, got %s", i,
        tostring(lr)), 3)
    end
    if from ~= nil and type(from) ~= "string" then
      fail(string.format("candidates[%d].from must be a string, got %s", i, type(from)), 3)
    end
    add_candidate(out, lr, from or "given")
  end
  return out
end

local function validate(opts)
  if type(opts) ~= "table" then fail("expected a table of options", 3) end
  for k in pairs(opts) do
    if not VALID[k] then fail(string.format("unknown option '%s'", tostring(k)), 3) end
  end
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  if o.trainer == nil then fail("'trainer' is required", 3) end
  for _, m in ipairs { "step", "snapshot", "restore", "reseed" } do
    if not method(o.trainer, m) then
      fail(string.format("the trainer has no method '%s' (it needs step, snapshot, restore, "
        .. "reseed, and evaluate for a validation set)", m), 3)
    end
  end
  if o.val ~= nil and not method(o.trainer, "evaluate") then
    fail("a validation set needs a trainer with an 'evaluate' method", 3)
  end
  if o.steps ~= nil and o.epochs ~= nil then fail("give steps or epochs, not both", 3) end
  if o.steps ~= nil and (math.type(o.steps) ~= "integer" or o.steps < 1) then
    fail("steps must be an integer >= 1, got " .. tostring(o.steps), 3)
  end
  if o.epochs ~= nil and (type(o.epochs) ~= "number" or not finite(o.epochs) or o.epochs <= 0) then
    fail("epochs must be a positive number, got " .. tostring(o.epochs), 3)
  end
  if o.steps == nil then
    local spe = method(o.trainer, "steps_per_epoch")
    if not spe then fail("epochs needs a trainer with 'steps_per_epoch': give steps", 3) end
    o.epochs = o.epochs or 1
    o.steps = math.max(1, math.ceil(o.epochs * spe(o.trainer) - 1e-9))
  end
  o.repeats = o.repeats or 1
  if math.type(o.repeats) ~= "integer" or o.repeats < 1 then
    fail("repeats must be an integer >= 1, got " .. tostring(o.repeats), 3)
  end
  if o.seed ~= nil and (math.type(o.seed) ~= "integer" or o.seed < 0) then
    fail("seed must be an integer >= 0, got " .. tostring(o.seed), 3)
  end
  o.schedule = o.schedule or "constant"
  if type(o.schedule) == "string" then
    o._schedule = M.SCHEDULES[o.schedule]
    if not o._schedule then
      fail(string.format("schedule '%s' is not constant, onecycle or a function", o.schedule), 3)
    end
  elseif type(o.schedule) == "function" then
    o._schedule = o.schedule
  else
    fail("schedule must be 'constant', 'onecycle' or a function, got " .. type(o.schedule), 3)
  end
  if o.chosen ~= nil and type(o.chosen) ~= "string" then
    fail("chosen must be a heuristic's name, got " .. type(o.chosen), 3)
  end
  if o.chosen ~= nil and o.candidates ~= nil then
    fail("chosen picks among a result's suggestions: not with candidates", 3)
  end
  if o.progress ~= nil and type(o.progress) ~= "boolean" then
    fail("progress must be a boolean, got " .. type(o.progress), 3)
  end
  o._candidates = o.candidates ~= nil and given_candidates(o.candidates)
    or default_candidates(o.result, o.chosen)
  table.sort(o._candidates, function(a, b) return a.lr < b.lr end)
  return o
end

--- The options of a verification to come (range_test{verify = ...}),
-- checked now: raises the error verify would.
function M.check(opts, trainer, val, suggest_names)
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.trainer, o.val = trainer, val
  if o.chosen ~= nil and type(o.chosen) == "string" and suggest_names then
    local known = false
    for _, n in ipairs(suggest_names) do known = known or n == o.chosen end
    if not known then
      fail(string.format("chosen = '%s' is not among the heuristics asked for (%s)", o.chosen,
        table.concat(suggest_names, ", ")), 2)
    end
  end
  if o.candidates == nil and o.chosen == nil then o.candidates = { 1 } end
  if o.candidates == nil then
    o.result = { suggestions = { [o.chosen] = { lr = 1 } } }
  end
  validate(o)
end

local function stats(xs)
  if #xs == 0 then return nil end
  local s = {}
  for i, x in ipairs(xs) do s[i] = x end
  table.sort(s)
  local n = #s
  local med = n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
  return { median = med, min = s[1], max = s[n] }
end

-- One trial: `steps` steps of the schedule from the candidate's lr, then
-- the validation set; returns its record.
local function trial(o, lr, label)
  local t, n = o.trainer, o.steps
  local tail = math.max(1, n // 10)
  local sum, bar = 0, nil
  if o.progress then
    bar = require("lrengine.progress").new { total = n, label = label }
    o._bar = bar
  end
  for i = 1, n do
    local r = o._schedule(i, n, lr)
    if not finite(r) or r < 0 then
      error(string.format("verify: the schedule gave lr = %s at step %d of %d", tostring(r), i, n), 0)
    end
    local loss = t:step(r)
    if bar then bar:update { step = i, lr = r, loss = loss } end
    if not finite(loss) then
      if bar then bar:finish { step = i, reason = "non_finite" } end
      o._bar = nil
      return { status = "diverged", step = i }
    end
    if i > n - tail then sum = sum + loss end
  end
  if bar then bar:finish { step = n, reason = "completed" } end
  o._bar = nil
  local rec = { status = "ok", train_loss = sum / tail }
  if o.val ~= nil then
    local vl = t:evaluate(o.val)
    if not finite(vl) then return { status = "diverged", step = n, train_loss = rec.train_loss } end
    rec.val_loss = vl
    local acc = method(t, "accuracy")
    if acc then
      local ok, a = pcall(acc, t, o.val)
      if ok and finite(a) then rec.accuracy = a end
    end
  end
  return rec
end

--- Trains every candidate; see the module comment.
function M.verify(opts)
  local okv, o = pcall(validate, opts)
  if not okv then error((tostring(o):gsub("^[^\n]-%.lua:%d+: ", "")), 2) end
  local t = o.trainer
  local seed = o.seed
  if seed == nil then
    local f = method(t, "seed")
    seed = f and f(t) or 0
  end
  local snap = t:snapshot()
  local guard <close> = setmetatable({ trainer = t, snap = snap, restore = true },
    require("lrengine.finder")._GUARD)
  local cands = o._candidates
  local ok, err = pcall(function()
    for ci, c in ipairs(cands) do
      c.trials = {}
      for r = 1, o.repeats do
        t:restore(snap)
        t:reseed(seed + r - 1)
        local label = string.format("verify %d/%d lr %.2e%s", ci, #cands, c.lr,
          o.repeats > 1 and string.format(" run %d/%d", r, o.repeats) or "")
        c.trials[r] = trial(o, c.lr, label)
      end
    end
  end)
  if o._bar then
    o._bar:abort()
    o._bar = nil
  end
  local rok, rerr = guard:put_back()
  if not ok then error(err, 0) end
  if not rok then error("verify: restoring the trainer failed: " .. tostring(rerr), 2) end

  local metric = o.val ~= nil and "val_loss" or "train_loss"
  local best, winner
  for ci, c in ipairs(cands) do
    local v, a, tl = {}, {}, {}
    local div = 0
    for _, tr in ipairs(c.trials) do
      if tr.status == "ok" then
        v[#v + 1], a[#a + 1], tl[#tl + 1] = tr.val_loss, tr.accuracy, tr.train_loss
      else
        div = div + 1
      end
    end
    c.val_loss, c.accuracy, c.train_loss, c.diverged = stats(v), stats(a), stats(tl), div
    local m = c[metric]
    if div == 0 and m and (best == nil or m.median < best) then best, winner = m.median, ci end
  end
  local sched = type(o.schedule) == "string" and o.schedule or "custom"
  return { candidates = cands, winner = winner, steps = o.steps, epochs = o.epochs,
    repeats = o.repeats, seed = seed, schedule = sched, metric = metric }
end

--- The verification as a text table (the command prints it), the winner
-- marked with '*'.
function M.format(v)
  local has_acc = false
  for _, c in ipairs(v.candidates) do has_acc = has_acc or c.accuracy ~= nil end
  local metric = v.metric == "train_loss" and "train loss" or "val loss"
  local lines = {
    string.format("verification: %d step%s%s, %s schedule, %d run%s per candidate", v.steps,
      v.steps == 1 and "" or "s", v.epochs and string.format(" (%g epoch%s)", v.epochs,
        v.epochs == 1 and "" or "s") or "", v.schedule, v.repeats, v.repeats == 1 and "" or "s"),
    string.format("  %-10s %-26s %-10s %-9s %s", "lr", "from", metric, has_acc and "accuracy" or "",
      v.repeats > 1 and "min-max" or ""),
  }
  for i, c in ipairs(v.candidates) do
    local m = v.metric == "train_loss" and c.train_loss or c.val_loss
    local from = table.concat(c.from, ", ")
    if #from > 26 then from = from:sub(1, 25) .. "~" end
    local score, acc, spread
    if m then
      score = string.format("%.4f", m.median)
      spread = v.repeats > 1 and string.format("%.4f-%.4f", m.min, m.max) or ""
    else
      score, spread = "diverged", ""
    end
    acc = c.accuracy and string.format("%.2f%%", 100 * c.accuracy.median) or ""
    if c.diverged > 0 and m then spread = spread .. string.format(" (%d diverged)", c.diverged) end
    lines[#lines + 1] = string.format("%s %-10s %-26s %-10s %-9s %s", v.winner == i and "*" or " ",
      string.format("%.3e", c.lr), from, score, acc, spread)
  end
  if v.winner then
    lines[#lines + 1] = string.format("winner: %.3e (%s)", v.candidates[v.winner].lr,
      table.concat(v.candidates[v.winner].from, ", "))
  else
    lines[#lines + 1] = "winner: none (every candidate diverged)"
  end
  return table.concat(lines, "\n")
end

return M
