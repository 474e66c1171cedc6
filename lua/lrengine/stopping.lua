-- lrengine.stopping — when a range test stops before num_iter.
--
-- A stopping rule is any `fn(state) -> stop, reason, message`: `stop` true
-- ends the test, `reason` is a short code for the results ("diverged",
-- "non_finite", or the rule's own), `message` an optional sentence for
-- people. The driver calls the rules after it has recorded the step, so the
-- point that triggers a stop is kept in the curve.
--
-- `state`, as the finder builds it at every step:
--   step             1-based index of the point just recorded
--   num_iter         the number of steps planned
--   lr               the learning rate of this step
--   loss             the raw loss of this step (of the curve that drives
--                    the test: validation when given, else training)
--   smoothed         the smoothed loss of this step (= loss when unsmoothed)
--   best             the lowest smoothed loss of steps 1..step, this one
--                    included (NaN never becomes best)
--   lrs, losses, smoothed_losses   arrays over steps 1..step
--   train_loss, val_loss           this step's losses, when recorded
-- Rules must not change `state`.
--
--   stop.divergence{ threshold = 5 }   smoothed > threshold * best
--   stop.non_finite()                  loss or smoothed is NaN or +-inf
--   stop.any{ rule_or_name, ... }      the first rule that says stop
--   stop.default{ diverge_th = 5 }     any{ non_finite(), divergence{...} }
--
-- Names (lrengine.registry, the same for all four kinds of plug-in):
--   stop.get(name_or_fn [, opts])      always a rule. The three above are
--       {factory = f} entries: stop.get("divergence", { threshold = 4 })
--       is stop.divergence{ threshold = 4 }. A plain entry, or a function,
--       comes back as it is and takes no options (non-empty opts are an
--       error naming the entry)
--   stop.register(name, rule)               a plain rule, stored as it is
--   stop.register(name, {factory = f})      f(opts) -> rule
--       a name already known (a built-in one, or one registered before) is
--       replaced only with a third argument {replace = true}
--   stop.names()
-- (Before: stop.register(name, f) took a factory. A factory registered
-- that way is now a rule that returns a function; stop.any, and so the
-- finder, stop with an error saying so.)

local registry = require "lrengine.registry"

local M = {}
local known = registry.new("stopping rule", { plain_opts = registry.refuse_opts })

local function finite(x) return x == x and x > -math.huge and x < math.huge end

-- A number for messages ("nan", not the platform's "-nan").
local function num(x)
  if x ~= x then return "nan" end
  return ("%.6g"):format(x)
end

local function check_opts(who, opts, level, keys)
  if opts ~= nil and type(opts) ~= "table" then
    error(("%s: 'opts' must be a table (got %s)"):format(who, type(opts)), level + 1)
  end
  -- a key it does not take is refused: a typo must not keep the default
  registry.check_keys(who, opts, keys, level + 1)
  return opts or {}
end

-- Divergence: smoothed loss > threshold * best smoothed loss so far.
-- pytorch-lr-finder (torch_lr_finder/lr_finder.py, v0.2.2): threshold 5,
--   `if loss > diverge_th * self.best_loss`, best updated first (loss <
--   best), the first step sets best.
-- fastai (fastai/callback/schedule.py LRFinder.after_batch, 2.8.12): 4,
--   `if self.smooth_loss > 4*self.best_loss`, best updated first.
-- Lightning (lightning/pytorch/tuner/lr_finder.py _LRCallback, 2.6.6): 4,
--   `current_loss > early_stop_threshold * best_loss` against the best of
--   the earlier steps, skipped at the first step.
-- PyTorch-Ignite (FastaiLRFinder, 0.5.5): 5, as pytorch-lr-finder.
-- For positive losses the three orders decide alike. Deliberate difference:
-- the rule never fires while best <= 0 — with a negative loss the libraries'
-- test `loss > 5 * loss` holds at once and they stop at the first step.
function M.divergence(opts)
  opts = check_opts("stopping.divergence", opts, 2, { "threshold" })
  local th = opts.threshold
  if th == nil then th = 5 end
  if type(th) ~= "number" or not finite(th) or th <= 0 then
    error(("stopping.divergence: 'threshold' must be a finite number > 0 (got %s)")
      :format(tostring(th)), 2)
  end
  return function(state)
    local s = state.smoothed
    if s == nil then s = state.loss end
    local best = state.best
    if best == nil then best = s end
    if best > 0 and s > th * best then
      return true, "diverged",
        ("smoothed loss %s > %g x best %s at step %s"):format(num(s), th, num(best), tostring(state.step))
    end
    return false
  end
end

-- A NaN or infinite loss (raw or smoothed) stops the test at once; the
-- point is kept. pytorch-lr-finder and Lightning run on through NaN (their
-- comparisons with NaN are false), fastai too (`stop_div` only tests the
-- ratio); their smoothed curves then stay NaN to the end.
function M.non_finite(opts)
  check_opts("stopping.non_finite", opts, 2, {})
  return function(state)
    local l, s = state.loss, state.smoothed
    if (l ~= nil and not finite(l)) or (s ~= nil and not finite(s)) then
      return true, "non_finite",
        ("non-finite loss %s (smoothed %s) at step %s")
          :format(l == nil and "?" or num(l), s == nil and "?" or num(s), tostring(state.step))
    end
    return false
  end
end

-- Combines rules (functions or registered names, built without options);
-- the first that says stop decides, in the order given. A rule that
-- answers with a function or a table (a factory registered as a plain
-- rule, most likely) is an error.
function M.any(rules)
  if type(rules) ~= "table" then
    error(("stopping.any: 'rules' must be an array of rules (got %s)"):format(type(rules)), 2)
  end
  local list, labels = {}, {}
  for i = 1, #rules do
    local fn, err = known:build(rules[i])
    if not fn then error(("stopping.any: rules[%d]: %s"):format(i, err), 2) end
    list[i] = fn
    labels[i] = type(rules[i]) == "string" and ("'" .. rules[i] .. "'") or ("rules[" .. i .. "]")
  end
  return function(state)
    for i = 1, #list do
      local stop, reason, message = list[i](state)
      local t = type(stop)
      if t == "function" or t == "table" then
        error(("stopping: rule %s answered with a %s instead of true/false: a factory "
          .. "registered as a plain rule? register it as {factory = f}"):format(labels[i], t), 0)
      end
      if stop then return true, reason, message end
    end
    return false
  end
end

-- The finder's default: non-finite loss, then divergence at `diverge_th`
-- (5, pytorch-lr-finder's; fastai and Lightning use 4). diverge_th = false
-- turns divergence off (fastai's stop_div=False, Lightning's None).
function M.default(opts)
  opts = check_opts("stopping.default", opts, 2, { "diverge_th" })
  local th = opts.diverge_th
  if th == nil then th = 5 end
  local rules = { M.non_finite() }
  if th ~= false then
    local ok, rule = pcall(M.divergence, { threshold = th })
    if not ok then
      error(("stopping.default: 'diverge_th' must be a finite number > 0 or false (got %s)")
        :format(tostring(th)), 2)
    end
    rules[2] = rule
  end
  return M.any(rules)
end

for _, name in ipairs { "divergence", "non_finite", "default" } do
  known:add(name, { factory = M[name] }, nil, true)
end
known:install(M, "stopping")

return M
