-- lrengine.schedules — learning-rate schedules for the range test.
--
-- A schedule is any `fn(step, num_iter, start_lr, end_lr) -> lr` with `step`
-- 1-based: step 1 gives start_lr, step num_iter gives end_lr, both exactly.
--
--   exp     start * (end/start)^((step-1)/(n-1))   (default)
--   linear  start + (end-start) * (step-1)/(n-1)
--
-- These are pytorch-lr-finder's ExponentialLR and LinearLR
-- (torch_lr_finder/lr_finder.py, v0.2.x: `r = last_epoch / (num_iter - 1)`
-- with last_epoch 0..num_iter-1), computed with the same operations, so every
-- learning rate is bit-identical to theirs except the last one, which is
-- end_lr exactly here (theirs is start * (end/start)^1.0, which can be one
-- rounding off). Where pytorch-lr-finder refuses num_iter <= 1, n = 1 here
-- gives start_lr.
--
-- The other finders use other sequences, also here by name (they break
-- the "step n gives end_lr" rule, as their libraries do):
--   fastai     lr_find (fastai/callback/schedule.py, 2.8): SchedExp at
--              train_iter/num_it, so it never reaches end_lr:
--              start * (end/start)^((step-1)/n)
--   lightning  lr_find (lightning/pytorch/tuner/lr_finder.py, 2.6): the
--              recorded lr of step s is start * (end/start)^(s/n) for
--              s > 1, start at s = 1 (it skips the first exponent)
--
-- Names (lrengine.registry, the same for all four kinds of plug-in):
--   sched.get(name_or_fn [, opts])   a schedule: a plain entry is the
--       function itself (sched.get("exp") == sched.exp) and takes no
--       options (non-empty opts are an error); a {factory = f} entry
--       returns f(opts); a function comes back as it is
--   sched.register(name, fn)              a plain schedule
--   sched.register(name, {factory = f})   f(opts) -> schedule
--       a name already known (a built-in one included) is replaced only
--       with a third argument {replace = true}
--   sched.names()

local registry = require "lrengine.registry"

local M = {}
local known = registry.new("schedule", { plain_opts = registry.refuse_opts })

local function finite(x) return x == x and x > -math.huge and x < math.huge end

-- Checks the common arguments; `who` names the schedule in messages.
local function check(who, step, n, start_lr, end_lr)
  local ni = math.type(n) and math.tointeger(n)
  if not ni or ni < 1 then
    error(("%s: 'num_iter' must be an integer >= 1 (got %s)"):format(who, tostring(n)), 3)
  end
  local si = math.type(step) and math.tointeger(step)
  if not si or si < 1 or si > ni then
    error(("%s: 'step' must be an integer in 1..%d (got %s)"):format(who, ni, tostring(step)), 3)
  end
  if type(start_lr) ~= "number" or not finite(start_lr) then
    error(("%s: 'start_lr' must be a finite number (got %s)"):format(who, tostring(start_lr)), 3)
  end
  if type(end_lr) ~= "number" or not finite(end_lr) then
    error(("%s: 'end_lr' must be a finite number (got %s)"):format(who, tostring(end_lr)), 3)
  end
  return si, ni
end

function M.exp(step, n, start_lr, end_lr)
  step, n = check("schedules.exp", step, n, start_lr, end_lr)
  if start_lr <= 0 then
    error(("schedules.exp: 'start_lr' must be > 0 (got %s)"):format(tostring(start_lr)), 2)
  end
  if end_lr <= 0 then
    error(("schedules.exp: 'end_lr' must be > 0 (got %s)"):format(tostring(end_lr)), 2)
  end
  if step == 1 then return start_lr end
  if step == n then return end_lr end
  return start_lr * (end_lr / start_lr) ^ ((step - 1) / (n - 1))
end

function M.linear(step, n, start_lr, end_lr)
  step, n = check("schedules.linear", step, n, start_lr, end_lr)
  if start_lr < 0 then
    error(("schedules.linear: 'start_lr' must be >= 0 (got %s)"):format(tostring(start_lr)), 2)
  end
  if end_lr < 0 then
    error(("schedules.linear: 'end_lr' must be >= 0 (got %s)"):format(tostring(end_lr)), 2)
  end
  if step == 1 then return start_lr end
  if step == n then return end_lr end
  return start_lr + (step - 1) / (n - 1) * (end_lr - start_lr)
end

function M.fastai(step, n, start_lr, end_lr)
  step, n = check("schedules.fastai", step, n, start_lr, end_lr)
  if start_lr <= 0 or end_lr <= 0 then
    error("schedules.fastai: 'start_lr' and 'end_lr' must be > 0", 2)
  end
  return start_lr * (end_lr / start_lr) ^ ((step - 1) / n)
end

function M.lightning(step, n, start_lr, end_lr)
  step, n = check("schedules.lightning", step, n, start_lr, end_lr)
  if start_lr <= 0 or end_lr <= 0 then
    error("schedules.lightning: 'start_lr' and 'end_lr' must be > 0", 2)
  end
  if step == 1 then return start_lr end
  return start_lr * (end_lr / start_lr) ^ (step / n)
end

for _, name in ipairs { "exp", "linear", "fastai", "lightning" } do
  known:add(name, M[name], nil, true)
end
known:install(M, "schedules")

return M
