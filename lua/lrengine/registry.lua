-- lrengine.registry — named entries for the pluggable parts (schedules,
-- smoothings, stopping rules, heuristics).
--
-- "A name is accepted wherever a function is": each module keeps one
-- registry, resolves a string through it and passes a function through as
-- it is. `install` gives the module its public trio:
--
--   M.register(name, fn)   adds a name, or replaces an existing one
--   M.get(name_or_fn)      the function; an unknown name is an error that
--                          lists the known ones
--   M.names()              the known names, sorted
--
-- Plain use: local reg = registry.new("heuristic"); reg:add("mine", fn);
-- reg:lookup("mine") --> fn; reg:lookup("nope") --> nil, "unknown ...".

local M = {}

local Registry = {}
Registry.__index = Registry

local function callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end
M.callable = callable

-- kind: what an entry is, for messages ("heuristic", "schedule", ...).
function M.new(kind)
  assert(type(kind) == "string" and kind ~= "", "registry.new: kind must be a string")
  return setmetatable({ kind = kind, entries = {} }, Registry)
end

-- Returns fn, or nil and a message.
function Registry:add(name, fn)
  if type(name) ~= "string" or name == "" then
    return nil, ("the %s name must be a non-empty string (got %s)"):format(self.kind, type(name))
  end
  if not callable(fn) then
    return nil, ("%s '%s' must be a function (got %s)"):format(self.kind, name, type(fn))
  end
  self.entries[name] = fn
  return fn
end

function Registry:names()
  local out = {}
  for name in pairs(self.entries) do out[#out + 1] = name end
  table.sort(out)
  return out
end

-- A function (or callable table) comes back unchanged; a string is looked
-- up. Returns nil and a message naming the known entries otherwise.
function Registry:lookup(v)
  if callable(v) then return v end
  if type(v) ~= "string" then
    return nil, ("%s must be a name or a function (got %s)"):format(self.kind, type(v))
  end
  local fn = self.entries[v]
  if fn then return fn end
  return nil, ("unknown %s '%s' (known: %s)")
    :format(self.kind, v, table.concat(self:names(), ", "))
end

-- Adds register/get/names to module table `mod`, whose name (for messages)
-- is `modname`. Errors point at the caller of those functions.
function Registry:install(mod, modname)
  local reg = self
  function mod.register(name, fn)
    local ok, err = reg:add(name, fn)
    if not ok then error(modname .. ".register: " .. err, 2) end
    return ok
  end
  function mod.get(name_or_fn)
    local fn, err = reg:lookup(name_or_fn)
    if not fn then error(modname .. ".get: " .. err, 2) end
    return fn
  end
  function mod.names() return reg:names() end
  return mod
end

return M
