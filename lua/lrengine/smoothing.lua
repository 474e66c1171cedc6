-- lrengine.smoothing — loss smoothing for the range test.
--
-- Whole curves:
--   S.ema(losses, smooth_f = 0.05)     pytorch-lr-finder's smoothing
--   S.debiased(losses, beta = 0.98, first_k = 1)   fastai's (and Lightning's)
-- Both return a new array as long as `losses`; neither changes its input.
--
-- Step by step (what the finder's driver does):
--   local sm = S.new("ema", { smooth_f = 0.05 })
--   local s = sm:push(loss)   -- the smoothed value after this loss
--   sm:value()                -- the last smoothed value (nil before any push)
--   sm:count()                -- losses pushed so far
--   sm:reset()                -- back to the start
-- S.new(kind, opts): kind is a registered name ("ema", "debiased", "none"),
-- a smoother object (anything with :push), returned as it is, or a function
-- `f(loss, previous_smoothed, k) -> smoothed` (previous is nil at k = 1),
-- which is wrapped into an object. S.register(name, factory) adds a name;
-- factory(opts) returns an object with push, value, count and reset (or nil
-- and a message for bad options). S.names() lists the names; S.get is S.new.
--
-- A non-finite loss makes every later smoothed value non-finite, as in the
-- libraries; the finder stops at the first one anyway.

local registry = require "lrengine.registry"

local M = {}
local known = registry.new("smoothing")

local Smoother = {}
Smoother.__index = Smoother

function Smoother:value() return self.smoothed end
function Smoother:count() return self.k end
function Smoother:reset() self.k, self.smoothed, self.avg = 0, nil, 0.0 end
function Smoother:push(loss)
  if type(loss) ~= "number" then
    error(("push: 'loss' must be a number (got %s)"):format(type(loss)), 2)
  end
  self.k = self.k + 1
  self.smoothed = self.step(self, loss)
  return self.smoothed
end

local function smoother(step)
  local o = setmetatable({ step = step }, Smoother)
  o:reset()
  return o
end

-- The factories below return a smoother, or nil and a message; the public
-- functions raise it at their caller.
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
local function ema_factory(opts)
  local f = opts.smooth_f
  if f == nil then f = 0.05 end
  local err = bad_fraction("smoothing.ema", "smooth_f", f)
  if err then return nil, err end
  return smoother(function(self, loss)
    if self.k == 1 or f == 0 then return loss end
    return f * loss + (1 - f) * self.smoothed
  end)
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
  local beta = opts.beta
  if beta == nil then beta = 0.98 end
  local err = bad_fraction("smoothing.debiased", "beta", beta)
  if err then return nil, err end
  local k0 = opts.first_k or 1
  if math.type(k0) ~= "integer" or k0 < 1 then
    return nil, ("smoothing.debiased: 'first_k' must be an integer >= 1 (got %s)")
      :format(tostring(k0))
  end
  return smoother(function(self, loss)
    self.avg = beta * self.avg + (1 - beta) * loss
    return self.avg / (1 - beta ^ (self.k + k0 - 1))
  end)
end

local function none_factory()
  return smoother(function(_, loss) return loss end)
end

known:add("ema", ema_factory)
known:add("debiased", debiased_factory)
known:add("none", none_factory)
known:install(M, "smoothing")

function M.new(kind, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error(("smoothing.new: 'opts' must be a table (got %s)"):format(type(opts)), 2)
  end
  opts = opts or {}
  if type(kind) == "table" and type(kind.push) == "function" then return kind end
  if type(kind) == "string" then
    local factory, err = known:lookup(kind)
    if not factory then error("smoothing.new: " .. err, 2) end
    local sm, ferr = factory(opts)
    if not sm then error(ferr, 2) end
    return sm
  end
  if registry.callable(kind) then
    return smoother(function(self, loss) return kind(loss, self.smoothed, self.k) end)
  end
  error(("smoothing.new: 'kind' must be a name, a function or a smoother (got %s)")
    :format(type(kind)), 2)
end
M.get = M.new

-- Smooths a whole array; errors are raised at the caller of the caller.
local function run(who, sm, err, losses)
  if not sm then error(err, 3) end
  if type(losses) ~= "table" then
    error(("%s: 'losses' must be an array of numbers (got %s)"):format(who, type(losses)), 3)
  end
  local out = {}
  for i = 1, #losses do
    local l = losses[i]
    if type(l) ~= "number" then
      error(("%s: 'losses[%d]' must be a number (got %s)"):format(who, i, type(l)), 3)
    end
    out[i] = sm:push(l)
  end
  return out
end

function M.ema(losses, smooth_f)
  local sm, err = ema_factory({ smooth_f = smooth_f })
  local out = run("smoothing.ema", sm, err, losses)
  return out
end

function M.debiased(losses, beta, first_k)
  local sm, err = debiased_factory({ beta = beta, first_k = first_k })
  local out = run("smoothing.debiased", sm, err, losses)
  return out
end

return M
