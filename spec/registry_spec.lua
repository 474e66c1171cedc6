-- registry_spec.lua — the one contract of the four plug-in registries
-- (lrengine.registry): heuristics, schedules, smoothing and stopping rules
-- all register a plain function as it is, a {factory = f} entry that takes
-- options, give a ready-to-call function from get, and refuse to replace a
-- name without {replace = true}. Each spec loads the modules afresh, so
-- what one registers does not leak into the next.

-- Fresh copies of the four modules (their registries are module state).
local function fresh()
  for _, name in ipairs { "lrengine.registry", "lrengine.heuristics", "lrengine.schedules",
    "lrengine.smoothing", "lrengine.stopping" } do
    package.loaded[name] = nil
  end
  return {
    heuristics = require "lrengine.heuristics",
    schedules = require "lrengine.schedules",
    smoothing = require "lrengine.smoothing",
    stopping = require "lrengine.stopping",
  }
end

-- One module's kind for messages, a built-in name, and a plain function of
-- the module's kind.
local KIND = {
  heuristics = { kind = "heuristic", builtin = "steepest",
    plain = function(lrs) return lrs[1], 1 end },
  schedules = { kind = "schedule", builtin = "exp",
    plain = function(_, _, a) return a end },
  smoothing = { kind = "smoothing", builtin = "ema",
    plain = function(loss) return loss end },
  stopping = { kind = "stopping rule", builtin = "divergence",
    plain = function() return false end },
}
local MODULES = { "heuristics", "schedules", "smoothing", "stopping" }

local function errors(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

describe("every registry", function()
  for _, modname in ipairs(MODULES) do
    local k = KIND[modname]

    describe(modname, function()
      it("get returns a ready-to-call function for every built-in name", function()
        local M = fresh()[modname]
        for _, name in ipairs(M.names()) do
          assert.are.equal("function", type(M.get(name)), modname .. ".get('" .. name .. "')")
        end
      end)

      it("stores a plain function as it is: get returns it, names lists it", function()
        local M = fresh()[modname]
        assert.are.equal(k.plain, M.register("mine", k.plain))
        assert.are.equal(k.plain, M.get("mine"))
        assert.is_truthy(table.concat(M.names(), ","):find("mine", 1, true))
        assert.are.equal(k.plain, M.get(k.plain))
      end)

      it("refuses to replace a built-in name without {replace = true}", function()
        local M = fresh()[modname]
        local before = M.get(k.builtin)
        local err = errors(M.register, k.builtin, k.plain)
        assert.is_truthy(err:find(("%s.register: %s '%s' is already registered (a built-in one); "
          .. "pass {replace = true} as the third argument"):format(modname, k.kind, k.builtin), 1, true), err)
        assert.are.equal(type(before), type(M.get(k.builtin)))
        assert.are_not.equal(k.plain, M.get(k.builtin))
        M.register(k.builtin, k.plain, { replace = true })
        assert.are.equal(k.plain, M.get(k.builtin))
      end)

      it("refuses to re-register a user name without {replace = true}", function()
        local M = fresh()[modname]
        M.register("mine", k.plain)
        local other = function(...) return k.plain(...) end
        local err = errors(M.register, "mine", other)
        assert.is_truthy(err:find(("%s 'mine' is already registered (by an earlier register)")
          :format(k.kind), 1, true), err)
        assert.are.equal(k.plain, M.get("mine"))
        M.register("mine", other, { replace = true })
        assert.are.equal(other, M.get("mine"))
      end)

      it("checks the entry and the third argument", function()
        local M = fresh()[modname]
        local err = errors(M.register, "x", 42)
        assert.is_truthy(err:find(("%s 'x' must be a function or {factory = f} (got number)")
          :format(k.kind), 1, true), err)
        err = errors(M.register, "x", { factory = 1 })
        assert.is_truthy(err:find("'factory' must be a function (got number)", 1, true), err)
        err = errors(M.register, "x", { factory = k.plain, fn = k.plain })
        assert.is_truthy(err:find("unknown key 'fn' in the entry", 1, true), err)
        err = errors(M.register, "x", k.plain, { replce = true })
        assert.is_truthy(err:find("unknown option 'replce' (known: replace)", 1, true), err)
        err = errors(M.register, "x", k.plain, true)
        assert.is_truthy(err:find("must be a table such as {replace = true}", 1, true), err)
        err = errors(M.get, k.builtin, 5)
        assert.is_truthy(err:find("'opts' must be a table (got number)", 1, true), err)
      end)

      it("builds a {factory = f} entry with the options get is given", function()
        local M = fresh()[modname]
        local seen = {}
        local made = function(...) return k.plain(...) end
        M.register("made", { factory = function(opts)
          seen[#seen + 1] = opts
          return made
        end })
        assert.are.equal(made, M.get("made", { a = 1 }))
        assert.are.same({ a = 1 }, seen[1])
        assert.are.equal(made, M.get("made"))
        assert.are.same({}, seen[2]) -- {} when none are given
      end)

      it("checks what a factory returns, naming the entry", function()
        local M = fresh()[modname]
        M.register("broken", { factory = function() return 42 end })
        local err = errors(M.get, "broken")
        assert.is_truthy(err:find(("%s.get: the factory of %s 'broken' returned a number, not a function")
          :format(modname, k.kind), 1, true), err)
        M.register("picky", { factory = function(opts)
          if not opts.level then return nil, "picky: 'level' is required" end
          return k.plain
        end })
        err = errors(M.get, "picky")
        assert.is_truthy(err:find("picky: 'level' is required", 1, true), err)
        assert.are.equal(k.plain, M.get("picky", { level = 1 }))
        M.register("raises", { factory = function(opts)
          error("raises: 'x' must be a number (got " .. type(opts.x) .. ")", 2)
        end })
        err = errors(M.get, "raises")
        assert.is_truthy(err:find("raises: 'x' must be a number (got nil)", 1, true), err)
        assert.is_nil(err:find("registry.lua", 1, true), err)
      end)

      it("an unknown name is an error listing the known ones", function()
        local M = fresh()[modname]
        local err = errors(M.get, "no_such_entry")
        assert.is_truthy(err:find(("%s.get: unknown %s 'no_such_entry' (known: ")
          :format(modname, k.kind), 1, true), err)
      end)
    end)
  end
end)

describe("options for a plain entry", function()
  it("heuristics bind them as defaults the caller's opts override", function()
    local H = fresh().heuristics
    local got
    H.register("echo", function(lrs, _, o)
      got = o
      return lrs[1], 1
    end)
    local fn = H.get("echo", { skip_start = 3, a = 1 })
    assert.are.equal(1e-3, (fn({ 1e-3 }, { 2 })))
    assert.are.same({ skip_start = 3, a = 1 }, got)
    fn({ 1e-3 }, { 2 }, { a = 2, b = 3 })
    assert.are.same({ skip_start = 3, a = 2, b = 3 }, got)
    -- the built-in ones too: valley with a different trimming
    local lrs, losses = {}, {}
    for i = 1, 40 do lrs[i], losses[i] = 1e-5 * 1.2 ^ i, 3 - 0.05 * i + 0.002 * i * i end
    local bound = H.get("steepest", { skip_start = 0, skip_end = 0 })
    assert.are.same({ H.steepest(lrs, losses, { skip_start = 0, skip_end = 0 }) },
      { bound(lrs, losses) })
    assert.are.equal(H.steepest, H.get("steepest"))
  end)

  it("schedules and stopping rules refuse them, naming the entry", function()
    local M = fresh()
    local err = errors(M.schedules.get, "exp", { warmup = 3 })
    assert.is_truthy(err:find("schedules.get: schedule 'exp' is a plain function and takes no "
      .. "options (got warmup); register it as {factory = f}", 1, true), err)
    assert.are.equal(M.schedules.exp, M.schedules.get("exp", {}))
    local rule = function() return false end
    err = errors(M.stopping.get, rule, { x = 1 })
    assert.is_truthy(err:find("the stopping rule given as a function is a plain function", 1, true), err)
  end)

  it("smoothing ignores them (the finder passes smooth_f and beta to any smoothing)", function()
    local S = fresh().smoothing
    local f = function(loss) return loss * 2 end
    S.register("double", f)
    assert.are.equal(f, S.get("double", { smooth_f = 0.1, beta = 0.9 }))
    assert.are.equal(f, S.get(f, { smooth_f = 0.1 }))
  end)
end)

describe("factory entries of the built-in modules", function()
  it("stopping.get builds the built-in rules with their options", function()
    local stop = fresh().stopping
    local r4 = stop.get("divergence", { threshold = 4 })
    assert.is_true((r4 { step = 2, loss = 4.5, smoothed = 4.5, best = 1 }))
    assert.is_false((stop.get("divergence") { step = 2, loss = 4.5, smoothed = 4.5, best = 1 }))
    local err = errors(stop.get, "divergence", { threshold = -1 })
    assert.is_truthy(err:find("'threshold' must be a finite number > 0", 1, true), err)
  end)

  it("a heuristic factory is built with the opts of H.suggest and result:suggest", function()
    local H = fresh().heuristics
    H.register("nth", { factory = function(opts)
      local n = opts.n or 1
      return function(lrs) return lrs[n], n end
    end })
    local lrs, losses = { 1, 2, 3, 4 }, { 4, 3, 2, 1 }
    local r = H.suggest(lrs, losses, { "nth" }, { nth = { n = 3 } })
    assert.are.same({ lr = 3, index = 3 }, r.nth)
    assert.are.equal(2, (H.get("nth", { n = 2 })(lrs, losses)))
    package.loaded["lrengine.results"] = nil
    local results = require "lrengine.results"
    local res = results.new { lrs = lrs, losses = losses }
    assert.are.same({ lr = 4, index = 4 }, res:suggest({ "nth" }, { n = 4 }).nth)
  end)
end)
