-- lrengine.smoothing — loss smoothing for the range test.
--
-- Whole curves:
--   S.ema(losses, smooth_f = 0.05)     pytorch-lr-finder's smoothing
--   S.debiased(losses, beta = 0.98, first_k = 1)   fastai's (and Lightning's)
-- Both return a new array as long as `losses`; neither changes its input.
--
-- A smoothing is a function `fn(loss, prev, k) -> smoothed`: called once per
-- point of a curve, in order, with the raw loss, the smoothed value it
-- returned for the previous point (nil at the first point) and k = 1, 2,
-- ... It may keep state between calls (the "debiased" one keeps its running
-- average) but must start afresh when prev is nil; so one function serves
-- one curve at a time. This is the function the finder's
-- `smoothing = fn` takes, and what S.get returns.
--
-- Names (lrengine.registry, the same for all four kinds of plug-in):
--   S.get(name_or_fn [, opts])   a smoothing function. "ema" (opts.smooth_f)
--       and "debiased" (opts.beta, opts.first_k) are {factory = f} entries,
--       each get gives a fresh function; "none" is a plain one. A plain
--       entry, or a function, comes back as it is and ignores opts (the
--       finder passes smooth_f, beta and first_k to whichever smoothing is
--       chosen, as ema ignores beta)
--   S.register(name, fn)              a plain smoothing fn(loss, prev, k)
--   S.register(name, {factory = f})   f(opts) -> a smoothing function (or a
--       smoother object, which is turned into one), or nil and a message
--       a name already known (a built-in one, or one registered before) is
--       replaced only with a third argument {replace = true}
--   S.names()
-- (Before: S.register(name, f) took a factory of smoother objects and S.get
-- was S.new. Such a factory is now registered as {factory = f}.)
--
-- Step by step, as an object (what the finder's driver uses):
--   local sm = S.new("ema", { smooth_f = 0.05 })
--   local s = sm:push(loss)   -- the smoothed value after this loss
--   sm:value()                -- the last smoothed value (nil before any push)
--   sm:count()                -- losses pushed so far
--   sm:reset()                -- back to the start
-- S.new(kind, opts): kind is a name (built with S.get(kind, opts)), a
-- smoothing function, or a smoother object (anything with :push), returned
-- as it is.
--
-- A non-finite loss makes every later smoothed value non-finite, as in the
-- libraries; the finder stops at the first one anyway.

local registry = require "lrengine.registry"

local M = {}

local Smoother = {}
Smoother.__index = Smoother

function Smoother:value() return self.smoothed end
function Smoother:count() return self.k end
function Smoother:reset() self.k, self.smoothed = 0, nil end
function Smoother:push(loss)
  if type(loss) ~= "number" then
    error(("push: 'loss' must be a number (got %s)"):format(type(loss)), 2)
  end
  local s = self.fn(loss, self.smoothed, self.k + 1)
  if type(s) ~= "number" then
    local t = type(s)
    error(("push: smoothing %s returned %s, not a number%s"):format(self.label,
      s == nil and "nil" or ("a " .. t),
      (t == "table" or t == "function")
        and " (a factory registered as a plain smoothing? register it as {factory = f})" or ""), 2)
  end
  self.k, self.smoothed = self.k + 1, s
  return s
end

local function smoother(fn, label)
  local o = setmetatable({ fn = fn, label = label or "(a function)" }, Smoother)
  o:reset()
  return o
end

-- The factories below return a smoothing function, or nil and a message;
-- the public functions raise it at their caller.
local function bad_fraction(who, name, v)
  if type(v) ~= "number" or not (v >= 0 and v < 1) then
    return ("%s: '%s' must be a number in [0, 1) (got %s)"):format(who, name, tostring(v))
  end
end

-- pytorch-lr-finder (torch_lr_finder/lr_finder.py, v0.2.2, range_test): the
-- first loss is kept as it is, then
--   loss = smooth_f * loss + (1 - smooth_f) * history["loss"][-1]
-- i.e. against the previous SMOOTHED value; smooth_f = 0 disables it.
-- Same operations in the same order, so the values are bit-identical.
-- (PyTorch-Ignite's FastaiLRFinder, v0.5.5, smooths the same way.)
-- The options of the built-in smoothings: one table serves them all (the
-- range test passes smooth_f and beta whichever is used); any other key is
-- refused, so that a typo does not silently keep the default.
local KEYS = { smooth_f = true, beta = true, first_k = true }
local function unknown_key(who, opts)
  local bad = {}
  for k in pairs(opts) do if not KEYS[k] then bad[#bad + 1] = tostring(k) end end
  if #bad > 0 then
    table.sort(bad)
    return ("%s: unknown option '%s' (it takes smooth_f, beta, first_k)"):format(who, bad[1])
  end
end

local function ema_factory(opts)
  local kerr = unknown_key("smoothing.ema", opts)
  if kerr then return nil, kerr end
  local f = opts.smooth_f
  if f == nil then f = 0.05 end
  local err = bad_fraction("smoothing.ema", "smooth_f", f)
  if err then return nil, err end
  return function(loss, prev)
    if prev == nil or f == 0 then return loss end
    return f * loss + (1 - f) * prev
  end
end

-- fastai v1's SmoothenValue (fastai/callback.py), used by its Recorder:
--   mov_avg = beta * mov_avg + (1 - beta) * loss   (mov_avg starts at 0)
--   smooth  = mov_avg / (1 - beta ** n)            (n = 1, 2, ...)
-- fastai v2 (fastai/learner.py AvgSmoothLoss, 2.8.12) computes the same with
-- torch.lerp in float32, so its values agree up to float32 rounding.
-- Lightning's _LRCallback (lightning/pytorch/tuner/lr_finder.py, 2.6.6) uses
-- the same formula with n = trainer.global_step + 1, which is already 2 at
-- the first recorded loss of a fresh trainer: first_k = 2 reproduces it.
local function debiased_factory(opts)
  local kerr = unknown_key("smoothing.debiased", opts)
  if kerr then return nil, kerr end
  local beta = opts.beta
  if beta == nil then beta = 0.98 end
  local err = bad_fraction("smoothing.debiased", "beta", beta)
  if err then return nil, err end
  local k0 = opts.first_k or 1
  if math.type(k0) ~= "integer" or k0 < 1 then
    return nil, ("smoothing.debiased: 'first_k' must be an integer >= 1 (got %s)")
      :format(tostring(k0))
  end
  local avg, n = 0.0, 0
  return function(loss, prev)
    if prev == nil then avg, n = 0.0, 0 end -- a new curve
    n = n + 1
    avg = beta * avg + (1 - beta) * loss
    return avg / (1 - beta ^ (n + k0 - 1))
  end
end

local function none(loss) return loss end

-- A {factory = f} may return a smoother object (the old way): it becomes a
-- function that restarts the object at the first point of a curve.
local function adapt(product)
  if type(product) == "table" and type(product.push) == "function" then
    return function(loss, prev)
      if prev == nil and type(product.reset) == "function" then product:reset() end
      return product:push(loss)
    end
  end
end

local known = registry.new("smoothing", { plain_opts = registry.ignore_opts, adapt = adapt })
known:add("ema", { factory = ema_factory }, nil, true)
known:add("debiased", { factory = debiased_factory }, nil, true)
known:add("none", none, nil, true)
known:install(M, "smoothing")

function M.new(kind, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error(("smoothing.new: 'opts' must be a table (got %s)"):format(type(opts)), 2)
  end
  if type(kind) == "table" and type(kind.push) == "function" then return kind end
  if type(kind) == "string" or registry.callable(kind) then
    local fn, err, own = known:build(kind, opts)
    if not fn then error(own and err or ("smoothing.new: " .. err), 2) end
    return smoother(fn, type(kind) == "string" and ("'" .. kind .. "'") or nil)
  end
  error(("smoothing.new: 'kind' must be a name, a function or a smoother (got %s)")
    :format(type(kind)), 2)
end

-- Smooths a whole array; errors are raised at the caller of the caller.
local function run(who, fn, err, losses)
  if not fn then error(err, 3) end
  if type(losses) ~= "table" then
    error(("%s: 'losses' must be an array of numbers (got %s)"):format(who, type(losses)), 3)
  end
  local out = {}
  for i = 1, #losses do
    local l = losses[i]
    if type(l) ~= "number" then
      error(("%s: 'losses[%d]' must be a number (got %s)"):format(who, i, type(l)), 3)
    end
    out[i] = fn(l, out[i - 1], i)
  end
  return out
end

function M.ema(losses, smooth_f)
  local fn, err = ema_factory({ smooth_f = smooth_f })
  local out = run("smoothing.ema", fn, err, losses)
  return out
end

function M.debiased(losses, beta, first_k)
  local fn, err = debiased_factory({ beta = beta, first_k = first_k })
  local out = run("smoothing.debiased", fn, err, losses)
  return out
end

return M
