-- lrengine.heuristics — learning-rate suggestions from a range-test curve.
--
-- A heuristic is `fn(lrs, losses, opts) -> lr, index`, or `nil, reason` when
-- the curve is too short for it. `lrs` and `losses` are the whole recorded
-- arrays (same length); `index` is 1-based into them. Each built-in one
-- first cuts the curve before its first non-finite loss, then applies its
-- library's own trimming (opts.skip_start / opts.skip_end override it; a
-- skip_end of 0 trims nothing), then runs that library's rule on what is
-- left, operation for operation.
--
--   steepest   pytorch-lr-finder's plot() suggestion (the user's note)
--   steep, valley, slide, minimum   fastai's suggestion functions
--   lightning  PyTorch Lightning's suggestion()
--   ignite     PyTorch-Ignite's FastaiLRFinder.lr_suggestion()
--
-- Common deliberate differences, for all of them:
-- * the cut at the first non-finite loss comes before the trimming (fastai
--   trims, then cuts at the first NaN; Lightning trims, then drops every
--   non-finite point; pytorch-lr-finder and Ignite do neither);
-- * arithmetic is in double precision. pytorch-lr-finder works in float64
--   (numpy) and is reproduced bit for bit; fastai, Lightning and Ignite
--   convert the curve to float32 tensors first, so a near-tie that float32
--   rounding decides can pick a neighbouring point there;
-- * the returned lr is the double from `lrs` (fastai returns its float32
--   rounding, or a value derived from that).
--
-- Names (lrengine.registry, the same for all four kinds of plug-in):
--   H.register(name, fn)              a plain heuristic, stored as it is:
--                                     H.get(name) returns fn itself
--   H.register(name, {factory = f})   one that is built with options:
--                                     H.get(name, opts) returns f(opts),
--                                     which must be a heuristic
--       a name already known (a built-in one, or one registered before) is
--       replaced only with a third argument {replace = true}
--   H.get(name_or_fn [, opts])        a heuristic. For a plain one (or a
--       function) with opts, the opts are bound as defaults: the result is
--       fn(lrs, losses, o) -> H.mine(lrs, losses, opts overridden by o);
--       without opts the function itself
--   H.names()
--   H.resolve(name_or_fn, i [, opts]) -> fn, name: the function to call
--       with (lrs, losses, opts) and the name to file its suggestion under;
--       a factory entry is built with opts, a plain one is returned as it is
--   H.suggest(lrs, losses, which, opts) runs several at once.

local registry = require "lrengine.registry"

local H = {}
local known -- the registry, made below (its get binds opts to a plain heuristic)

local function finite(x) return x == x and x > -math.huge and x < math.huge end

-- numpy.argmin / torch.argmin over a[i..j]: the first NaN if there is one,
-- else the first of the smallest values.
local function argmin(a, i, j)
  local best = i
  for k = i, j do
    local v = a[k]
    if v ~= v then return k end
    if v < a[best] then best = k end
  end
  return best
end

-- The options each built-in takes (num_iter, the planned length of the
-- curve, for all: the range test passes it to every heuristic). A key not
-- listed is refused: a typo must not silently keep the default.
local OPTION_KEYS = {
  ["heuristics.steepest"] = { "num_iter", "skip_start", "skip_end" },
  ["heuristics.steep"] = { "num_iter", "skip_start", "skip_end" },
  ["heuristics.valley"] = { "num_iter", "skip_start", "skip_end" },
  ["heuristics.slide"] = { "num_iter", "skip_start", "skip_end", "lr_diff", "thresh",
                           "adjust_value" },
  ["heuristics.minimum"] = { "num_iter", "skip_start", "skip_end" },
  ["heuristics.lightning"] = { "num_iter", "skip_begin", "skip_start", "skip_end" },
  ["heuristics.ignite"] = { "num_iter", "skip_start", "skip_end" },
}

local function check_keys(who, opts, level)
  local keys = OPTION_KEYS[who]
  if not keys or type(opts) ~= "table" then return end
  for k in pairs(opts) do
    local ok = false
    for _, name in ipairs(keys) do if k == name then ok = true end end
    if not ok then
      error(("%s: unknown option '%s' (it takes %s)"):format(who, tostring(k),
        table.concat(keys, ", ")), level + 1)
    end
  end
end

-- Checks the arguments and finds the cut. Returns n (points given), m (points
-- before the first non-finite loss) and opts (a table). `level` is the
-- caller's level for errors.
local function prepare(who, lrs, losses, opts, level)
  level = level + 1
  if type(lrs) ~= "table" then
    error(("%s: 'lrs' must be an array of numbers (got %s)"):format(who, type(lrs)), level)
  end
  if type(losses) ~= "table" then
    error(("%s: 'losses' must be an array of numbers (got %s)"):format(who, type(losses)), level)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(("%s: 'opts' must be a table (got %s)"):format(who, type(opts)), level)
  end
  check_keys(who, opts, level)
  local n = #losses
  if #lrs ~= n then
    error(("%s: 'lrs' and 'losses' must have the same length (got %d and %d)")
      :format(who, #lrs, n), level)
  end
  for i = 1, n do
    if type(lrs[i]) ~= "number" then
      error(("%s: 'lrs[%d]' must be a number (got %s)"):format(who, i, type(lrs[i])), level)
    end
    if type(losses[i]) ~= "number" then
      error(("%s: 'losses[%d]' must be a number (got %s)"):format(who, i, type(losses[i])), level)
    end
  end
  local m = 0
  while m < n and finite(losses[m + 1]) do m = m + 1 end
  return n, m, opts or {}
end

-- An integer option >= 0 (a count of points).
local function count_opt(who, opts, name, default, level)
  local v = opts[name]
  if v == nil then return default end
  local iv = math.type(v) and math.tointeger(v)
  if not iv or iv < 0 then
    error(("%s: 'opts.%s' must be an integer >= 0 (got %s)"):format(who, name, tostring(v)), level + 1)
  end
  return iv
end

-- The points left after the cut at m and the trimming, as Python's
-- `a[skip_start:-skip_end]` (or `a[skip_start:]` when skip_end is 0) would
-- leave them: indices first..last, `count` of them (0 when empty).
local function window(m, skip_start, skip_end)
  local first, last = skip_start + 1, m - skip_end
  return first, last, math.max(0, last - first + 1)
end

local function too_short(who, need, count, n, m, s, e)
  return ("%s needs at least %d points, %d left (%d given, %d before the first "
    .. "non-finite loss, %d skipped at the start and %d at the end)")
    :format(who, need, count, n, m, s, e)
end

-- numpy.gradient(f) over f[first..last] with unit spacing and edge_order=1
-- (numpy/lib/_function_base_impl.py): (f[i+1] - f[i-1]) / 2. inside,
-- one-sided differences / 1. at both ends. Needs at least 2 points.
-- Returns an array 1..count.
local function np_gradient(f, first, last)
  local g, c = {}, last - first + 1
  g[1] = (f[first + 1] - f[first]) / 1.0
  for i = 2, c - 1 do
    local k = first + i - 1
    g[i] = (f[k + 1] - f[k - 1]) / 2.0
  end
  g[c] = (f[last] - f[last - 1]) / 1.0
  return g
end

-- torch.gradient(f, spacing=[x]) over f[first..last] with the coordinates
-- x[first..last], edge_order=1 (aten/src/ATen/native/ReduceOps.cpp,
-- gradient_helper): the second-order non-uniform formula inside,
--   a = -dx2 / (dx1*(dx1+dx2)), b = (dx2-dx1) / (dx1*dx2),
--   c = dx1 / (dx2*(dx1+dx2)), g = a*f[i-1] + b*f[i] + c*f[i+1],
-- and one-sided differences divided by the spacing at both ends.
local function torch_gradient(f, x, first, last)
  local g, c = {}, last - first + 1
  g[1] = (f[first + 1] - f[first]) / (x[first + 1] - x[first])
  for i = 2, c - 1 do
    local k = first + i - 1
    local dx1, dx2 = x[k] - x[k - 1], x[k + 1] - x[k]
    local a = -dx2 / (dx1 * (dx1 + dx2))
    local b = (dx2 - dx1) / (dx1 * dx2)
    local cc = dx1 / (dx2 * (dx1 + dx2))
    g[i] = a * f[k - 1] + b * f[k] + cc * f[k + 1]
  end
  g[c] = (f[last] - f[last - 1]) / (x[last] - x[last - 1])
  return g
end

-- ---------------------------------------------------------------------------
-- steepest — pytorch-lr-finder (davidtvs/pytorch-lr-finder,
-- torch_lr_finder/lr_finder.py, LRFinder.plot, v0.2.2, the last release):
--   lrs = lrs[skip_start:-skip_end]; losses likewise (skip_end=0 handled)
--   min_grad_idx = np.gradient(np.array(losses)).argmin()
-- skip_start = 10, skip_end = 5. Fewer than 2 points left: 0.2.2 raises
-- "Need at least skip_start+skip_end+2 iterations", the repository's master
-- prints "Failed to compute the gradients"; here nil, reason. The user's note takes np.gradient over the untrimmed
-- curve: opts = { skip_start = 0, skip_end = 0 }.
-- Difference: pytorch-lr-finder does not cut at NaN; numpy's argmin then
-- returns the first NaN gradient (one point before the first NaN loss).
function H.steepest(lrs, losses, opts)
  local who = "heuristics.steepest"
  local n, m
  n, m, opts = prepare(who, lrs, losses, opts, 2)
  local s = count_opt(who, opts, "skip_start", 10, 2)
  local e = count_opt(who, opts, "skip_end", 5, 2)
  local first, last, count = window(m, s, e)
  if count < 2 then return nil, too_short("steepest", 2, count, n, m, s, e) end
  local k = argmin(np_gradient(losses, first, last), 1, count)
  local idx = first + k - 1
  return lrs[idx], idx
end

-- ---------------------------------------------------------------------------
-- fastai (fastai/fastai, fastai/callback/schedule.py, release 2.8.12):
-- Learner.lr_find passes its suggestion functions
--   lrs[num_it//10:-5], losses[num_it//10:-5]
-- where num_it is lr_find's num_it (100 by default) and the losses are the
-- Recorder's smoothed ones. Here num_it is opts.num_iter, or the number of
-- points given; skip_start = num_it // 10 and skip_end = 5 unless opts say
-- otherwise. The index returned is that of the point the suggestion comes
-- from (for `minimum` and `slide` the lr is derived from that point's lr).

local function fastai_window(who, lrs, losses, opts)
  local n, m
  n, m, opts = prepare(who, lrs, losses, opts, 3)
  local num_it = count_opt(who, opts, "num_iter", n, 3)
  local s = count_opt(who, opts, "skip_start", num_it // 10, 3)
  local e = count_opt(who, opts, "skip_end", 5, 3)
  local first, last, count = window(m, s, e)
  return first, last, count, opts, function(need, name)
    return too_short(name, need, count, n, m, s, e)
  end
end

-- steep: `grads = (losses[1:]-losses[:-1]) / (lrs[1:].log()-lrs[:-1].log())`,
-- `lrs[grads.argmin()]`: the left point of the steepest segment per unit of
-- log(lr). Needs 2 points (torch's argmin of an empty tensor raises).
function H.steep(lrs, losses, opts)
  local first, _, count, _, short = fastai_window("heuristics.steep", lrs, losses, opts)
  if count < 2 then return nil, short(2, "steep") end
  local g = {}
  for i = 1, count - 1 do
    local k = first + i - 1
    g[i] = (losses[k + 1] - losses[k]) / (math.log(lrs[k + 1]) - math.log(lrs[k]))
  end
  local idx = first + argmin(g, 1, count - 1) - 1
  return lrs[idx], idx
end

-- valley (fastai's default): the longest strictly decreasing subsequence,
-- which fastai finds by an O(n^2) dynamic programme
--   lds[i] = 1 + max{lds[j] : j < i, L[j] > L[i]}  (1 when there is none)
-- moving max_end to i (inside the inner loop) whenever lds[i] grows past
-- lds[max_end], and recording max_start = max_end - lds[max_end] then;
-- the suggestion is the point about 2/3 of the way along:
--   sections = (max_end - max_start) / 3
--   idx = max_start + int(sections) + int(sections/2)
-- lds[max_end] is the largest lds so far, so lds[i] can only pass it by
-- reaching it plus one, its final value: max_end ends as the first point
-- where the longest length is reached and max_start = max_end - lds[max_end]
-- with final values. So the same answer comes from the O(n log n)
-- patience method: tails[k] holds the largest last value of a strictly
-- decreasing subsequence of length k (a decreasing array), and lds[i] is one
-- more than the number of tails above L[i]. A NaN compares false with
-- everything, as in fastai: it neither extends nor is extended (lds 1).
-- Kept from fastai: max_start is one before the valley's first point, and
-- when it is -1 (a valley from the very first point) idx can be -1, which
-- Python reads as the LAST point — e.g. two falling points, or a curve
-- whose longest valley is its first two points, give the last learning
-- rate. spec/heuristics_spec.lua checks it against the O(n^2) programme.
-- Needs 1 point.
function H.valley(lrs, losses, opts)
  local first, _, n, _, short = fastai_window("heuristics.valley", lrs, losses, opts)
  if n < 1 then return nil, short(1, "valley") end
  local tails, len = {}, 0
  local best, max_end = 0, 0
  for i = 0, n - 1 do
    local x, l = losses[first + i], 1
    if x == x then
      -- the first k (1..len) with tails[k] <= x: x extends the length k-1
      local lo, hi = 1, len + 1
      while lo < hi do
        local mid = (lo + hi) // 2
        if tails[mid] > x then lo = mid + 1 else hi = mid end
      end
      l = lo
      if lo > len then len = lo end
      tails[lo] = x -- the old tails[lo] (if any) was <= x
    end
    if l > best then best, max_end = l, i end
  end
  -- max_end never moved from 0 (no two points fall): both stay 0
  local max_start = best > 1 and max_end - best or 0
  local sections = (max_end - max_start) / 3
  local idx = max_start + math.floor(sections) + math.floor(sections / 2)
  if idx < 0 then idx = idx + n end
  idx = first + idx
  return lrs[idx], idx
end

-- slide: np.gradient of the losses, then from the end a pair of points
-- lr_diff apart slides left while their gradients differ by more than
-- thresh; the suggestion is lrs[l_idx] * adjust_value for the last l_idx
-- where they did (lrs[-1-lr_diff] when they never did). Options lr_diff =
-- 15, thresh = 0.005, adjust_value = 1 as in fastai. Needs lr_diff + 1
-- points (fastai's `lrs[-16]` raises IndexError below that) and at least 2.
function H.slide(lrs, losses, opts)
  local who = "heuristics.slide"
  local first, last, count, o, short = fastai_window(who, lrs, losses, opts)
  local lr_diff = count_opt(who, o, "lr_diff", 15, 2)
  local thresh = o.thresh == nil and 0.005 or o.thresh
  local adjust = o.adjust_value == nil and 1.0 or o.adjust_value
  if type(thresh) ~= "number" then
    error(("%s: 'opts.thresh' must be a number (got %s)"):format(who, type(thresh)), 2)
  end
  if type(adjust) ~= "number" then
    error(("%s: 'opts.adjust_value' must be a number (got %s)"):format(who, type(adjust)), 2)
  end
  local need = math.max(2, lr_diff + 1)
  if count < need then return nil, short(need, "slide") end
  local g = np_gradient(losses, first, last)
  -- Python's negative indices: a[-k] is a[count + 1 - k] here.
  local r_idx, l_idx = -1, -1 - lr_diff
  local pick = l_idx
  while l_idx >= -count and math.abs(g[count + 1 + r_idx] - g[count + 1 + l_idx]) > thresh do
    pick = l_idx
    r_idx, l_idx = r_idx - 1, l_idx - 1
  end
  local idx = first + (count + pick)
  return lrs[idx] * adjust, idx
end

-- minimum: `lrs[losses.argmin()] / 10`, one tenth of the lr at the lowest
-- loss (the first one on a tie). Needs 1 point.
function H.minimum(lrs, losses, opts)
  local first, last, count, _, short = fastai_window("heuristics.minimum", lrs, losses, opts)
  if count < 1 then return nil, short(1, "minimum") end
  local idx = argmin(losses, first, last)
  return lrs[idx] / 10, idx
end

-- ---------------------------------------------------------------------------
-- lightning — PyTorch Lightning (Lightning-AI/pytorch-lightning,
-- src/lightning/pytorch/tuner/lr_finder.py, _LRFinder.suggestion, 2.6.6):
--   losses = tensor(results["loss"][skip_begin:-skip_end]); lrs likewise
--   keep the finite losses; fewer than 2 left -> None (logged)
--   torch.gradient(losses, spacing=[lrs])[0].argmin(), mapped back to the
--   index in the full arrays
-- skip_begin = 10 (opts.skip_begin or opts.skip_start), skip_end = 1.
-- The gradient is with respect to the learning rate itself (not its log),
-- with torch's non-uniform second-order formula, so on an exp schedule the
-- tiny early spacings dominate and the pick often lands just after the
-- skipped start. Older releases (before the fix for Lightning issue
-- #14248) used np.gradient(loss).argmin() with unit spacing — that is
-- `steepest` with skip_start 10, skip_end 1; an open pull request (#21171)
-- would use log10(lr) as spacing in exponential mode.
-- Differences: Lightning's `[skip_begin:-skip_end]` is empty for skip_end 0
-- (it then always returns None); here 0 trims nothing. Points after the
-- first non-finite loss are cut, not only the non-finite ones dropped.
function H.lightning(lrs, losses, opts)
  local who = "heuristics.lightning"
  local n, m
  n, m, opts = prepare(who, lrs, losses, opts, 2)
  local s = count_opt(who, opts, "skip_begin", nil, 2)
  if s == nil then s = count_opt(who, opts, "skip_start", 10, 2) end
  local e = count_opt(who, opts, "skip_end", 1, 2)
  local first, last, count = window(m, s, e)
  if count < 2 then return nil, too_short("lightning", 2, count, n, m, s, e) end
  local k = argmin(torch_gradient(losses, lrs, first, last), 1, count)
  local idx = first + k - 1
  return lrs[idx], idx
end

-- ---------------------------------------------------------------------------
-- ignite — PyTorch-Ignite (pytorch/ignite, ignite/handlers/lr_finder.py,
-- FastaiLRFinder.lr_suggestion, 0.5.5): no trimming (skip_start/skip_end
-- only shape its plot); the curve up to and including its lowest loss (the
-- first one on a tie), then the central differences
--   grads = [0.5 * (losses[i+1] - losses[i-1]) for i in 1..len-2]
-- and lrs[grads.argmin() + 1]: never the first point nor the minimum
-- itself. Fewer than 3 points up to the minimum: Ignite raises "the curve
-- should be somehow U-shaped"; here nil, reason (a monotone rising curve
-- is such a case). opts.skip_start / skip_end (default 0) trim first.
function H.ignite(lrs, losses, opts)
  local who = "heuristics.ignite"
  local n, m
  n, m, opts = prepare(who, lrs, losses, opts, 2)
  local s = count_opt(who, opts, "skip_start", 0, 2)
  local e = count_opt(who, opts, "skip_end", 0, 2)
  local first, last, count = window(m, s, e)
  if count < 3 then return nil, too_short("ignite", 3, count, n, m, s, e) end
  local lo = argmin(losses, first, last)
  local d = lo - first + 1
  if d < 3 then
    return nil, ("ignite needs at least 3 points up to the lowest loss, got %d: "
      .. "the curve should be somehow U-shaped (lower start_lr or raise end_lr)"):format(d)
  end
  local g = {}
  for i = 1, d - 2 do
    local k = first + i
    g[i] = 0.5 * (losses[k + 1] - losses[k - 1])
  end
  local idx = first + argmin(g, 1, d - 2)
  return lrs[idx], idx
end

-- ---------------------------------------------------------------------------

-- get(plain, opts): the opts become defaults that the caller's opts override.
local function bind_opts(fn, opts)
  if opts == nil or next(opts) == nil then return fn end
  -- a built-in one's options are checked now, not at its first call
  local ok, err = pcall(H.check_opts, fn, opts)
  if not ok then return nil, registry.library_message(err) or tostring(err), true end
  local bound = {}
  for k, v in pairs(opts) do bound[k] = v end
  return function(lrs, losses, o)
    if o ~= nil and type(o) ~= "table" then return fn(lrs, losses, o) end -- its own error
    local merged = {}
    for k, v in pairs(bound) do merged[k] = v end
    for k, v in pairs(o or {}) do merged[k] = v end
    return fn(lrs, losses, merged)
  end
end

known = registry.new("heuristic", { plain_opts = bind_opts })
for _, name in ipairs { "steepest", "steep", "valley", "slide", "minimum", "lightning", "ignite" } do
  known:add(name, H[name], nil, true)
end
known:install(H, "heuristics")

-- A name or a function -> the function and the name to file its suggestion
-- under: a string is itself; a registered function its registered name;
-- any other function "custom" (i nil or 1) or "custom<i>" (i = its place in
-- a list). A {factory = f} entry is built with `opts`; a plain one comes
-- back as it is (the caller passes opts when it calls it). An unknown name
-- is an error listing the known ones.
function H.resolve(v, i, opts)
  local fn, err, own = known:build(v, opts, true)
  if not fn then error(own and err or ("heuristics.resolve: " .. err), 2) end
  if type(v) == "string" then return fn, v end
  local name = known:name_of(fn)
  if name then return fn, name end
  return fn, (i == nil or i == 1) and "custom" or ("custom" .. i)
end

-- Checks `opts` for the heuristic `fn` before any curve is there, when fn
-- is a built-in one (its option names and their types: what it would
-- otherwise find wrong only when it runs); other functions are not called.
-- An error is raised at `level` (error's, counted from check_opts's caller).
function H.check_opts(fn, opts, level)
  local name = known:name_of(fn)
  if not name or H[name] ~= fn or not OPTION_KEYS["heuristics." .. name] then return end
  -- an empty curve: the options are checked before its length is
  registry.relay((level or 1) + 1, nil, fn, {}, {}, opts)
end

-- Runs several heuristics on one curve. `which` is an array of names and
-- functions (default: every registered name), named as H.resolve names
-- them; string keys (`{ mine = fn }`) name functions explicitly. `opts` goes
-- to every heuristic, merged with opts[name] when that is a table. Returns
-- name -> { lr = lr, index = index } or { reason = reason }.
function H.suggest(lrs, losses, which, opts)
  if which ~= nil and type(which) ~= "table" then
    error(("heuristics.suggest: 'which' must be an array (got %s)"):format(type(which)), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(("heuristics.suggest: 'opts' must be a table (got %s)"):format(type(opts)), 2)
  end
  which, opts = which or known:names(), opts or {}
  -- the opts of one heuristic: the shared ones, merged with opts[name]
  -- (per-heuristic tables are not options of the others)
  local function opts_for(name)
    local o = {}
    for k, v in pairs(opts) do
      if type(v) ~= "table" then o[k] = v end
    end
    if type(opts[name]) == "table" then
      for k, v in pairs(opts[name]) do o[k] = v end
    end
    return o
  end
  local todo = {}
  for k, v in pairs(which) do
    local name = type(k) == "string" and k or (type(v) == "string" and v) or nil
    local ok, fn, rname = pcall(H.resolve, v, k, name and opts_for(name) or opts)
    if not ok then
      error(("heuristics.suggest: which[%s]: %s"):format(tostring(k), (fn:gsub("^.-resolve: ", ""))), 2)
    end
    name = name or rname
    todo[#todo + 1] = { name, fn, type(k) == "number" and k or math.huge }
  end
  table.sort(todo, function(a, b)
    if a[3] ~= b[3] then return a[3] < b[3] end
    return a[1] < b[1]
  end)
  -- the curve is checked here, once: a heuristic that found it wrong would
  -- report it at this file's line
  prepare("heuristics.suggest", lrs, losses, nil, 2)
  local out = {}
  for _, t in ipairs(todo) do
    local name, fn = t[1], t[2]
    -- a bad option in opts is the caller's: raised at the caller's line
    local lr, index = registry.relay(2, nil, fn, lrs, losses, opts_for(name))
    if lr == nil then
      out[name] = { reason = index or "no suggestion" }
    else
      out[name] = { lr = lr, index = index }
    end
  end
  return out
end

return H
