-- lrengine.registry — named entries for the pluggable parts (heuristics,
-- schedules, smoothings, stopping rules), all four the same way.
--
-- "A name is accepted wherever a function is": each module keeps one
-- registry, resolves a string through it and passes a function through.
-- `install` gives the module its public trio:
--
--   M.register(name, fn [, {replace = true}])
--       a plain entry: the function is stored as it is, and get(name)
--       returns it (the same function)
--   M.register(name, {factory = f} [, {replace = true}])
--       an entry that takes options: get(name, opts) returns f(opts) (opts
--       is {} when none are given), which must be a ready-to-call function;
--       f may also return nil and a message for bad options
--   M.get(name_or_fn [, opts])
--       always a ready-to-call function of the module's kind. A factory
--       entry is built with opts. A plain entry, or a function given
--       instead of a name, meets opts as the module decides (heuristics
--       bind them as defaults, schedules and stopping rules refuse them,
--       smoothings ignore them: see each module's header). An unknown name
--       is an error that lists the known ones.
--   M.names()
--       the known names, sorted
--
-- A name is registered once: registering a built-in name, or a name
-- registered before, is an error unless the third argument is
-- {replace = true}.
--
-- Plain use: local reg = registry.new("heuristic"); reg:add("mine", fn);
-- reg:build("mine") --> fn; reg:build("nope") --> nil, "unknown ...".

local M = {}

local Registry = {}
Registry.__index = Registry

local function callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end
M.callable = callable

-- ---------------------------------------------------------------------------
-- Errors at the user's line. A mistake in what the user passed must be
-- reported at the user's line, not inside the library: a check raises with
-- the right level, and where the library calls something on the user's
-- behalf (a C function, a heuristic, a factory) that then complains at its
-- caller -- this library -- the error is raised again at the user's line.

-- the directory of the library's files, as their chunk names give it
local LIBDIR = (debug.getinfo(1, "S").source:match("^@(.*[/\\])[^/\\]*$")) or ""

-- Is `file` (a position's file, as Lua writes it: maybe cut to "...tail")
-- one of the library's own files?
local function library_file(file)
  local name = file:match("[/\\]?([%w_]+)%.lua$")
  if not name then return false end
  local full = LIBDIR .. name .. ".lua"
  if file == full then return true end
  if file:sub(1, 3) == "..." then
    local tail = file:sub(4)
    return #tail > 0 and full:sub(-#tail) == tail
  end
  return false
end

--- The message `err` without its position when that position is inside the
-- library (lua/lrengine/*.lua); nil when it has another position (the
-- user's own code, which must keep it) or is not a string. A message with
-- no position comes back as it is.
function M.library_message(err)
  if type(err) ~= "string" then return nil end
  local file, rest = err:match("^([^\n]-):%d+: (.*)$")
  if not file then return err end
  if library_file(file) then return rest end
  return nil
end

--- Raises `err` again at `level` (error's, counted from the function that
-- calls raise_at) when it points into the library or nowhere, with `prefix`
-- (optional) before it; any other error goes through as it is.
function M.raise_at(err, level, prefix)
  local msg = M.library_message(err)
  if msg == nil then error(err, 0) end
  error((prefix or "") .. msg, level + 1)
end

--- Calls fn(...) and returns what it returns; an error is raised again as
-- raise_at does (level counted from relay's caller).
function M.relay(level, prefix, fn, ...)
  local r = table.pack(pcall(fn, ...))
  if not r[1] then M.raise_at(r[2], level + 1, prefix) end
  return table.unpack(r, 2, r.n)
end

--- Checks that `opts` (nil or a table) has only the keys of `keys` (an
-- array of names); raises "who: unknown option 'k' (it takes ...)" at
-- `level` (error's, counted from check_keys's caller).
function M.check_keys(who, opts, keys, level)
  if type(opts) ~= "table" then return end
  local known = {}
  for _, k in ipairs(keys) do known[k] = true end
  local bad = {}
  for k in pairs(opts) do
    if not known[k] then bad[#bad + 1] = tostring(k) end
  end
  if #bad > 0 then
    table.sort(bad)
    error(("%s: unknown option '%s' (it takes %s)"):format(who, bad[1],
      #keys > 0 and table.concat(keys, ", ") or "none"), level + 1)
  end
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  return keys
end

-- What get does with opts for a plain entry (or a function given instead of
-- a name): fn(plain, opts, label) -> function, or nil and a message. `opts`
-- is a table or nil; `label` names the entry for messages.

--- Refuses non-empty opts: the plain function has no way to take them.
function M.refuse_opts(fn, opts, label)
  if opts ~= nil and next(opts) ~= nil then
    return nil, ("%s is a plain function and takes no options (got %s); register it as "
      .. "{factory = f} to take options"):format(label, table.concat(sorted_keys(opts), ", "))
  end
  return fn
end

--- Ignores opts: the function is returned as it is.
function M.ignore_opts(fn) return fn end

-- kind: what an entry is, for messages ("heuristic", "schedule", ...).
-- how (optional):
--   plain_opts  what get does with opts for a plain entry (default
--               M.refuse_opts)
--   adapt       fn(product) -> function or nil: turns a factory's product
--               into a function before it is checked (smoothing uses it for
--               factories that return a smoother object)
function M.new(kind, how)
  assert(type(kind) == "string" and kind ~= "", "registry.new: kind must be a string")
  how = how or {}
  return setmetatable({ kind = kind, entries = {}, plain_opts = how.plain_opts or M.refuse_opts,
    adapt = how.adapt }, Registry)
end

-- A register() argument -> the stored record ({fn = f} or {factory = f}),
-- or nil and a message.
local function record(self, name, entry)
  if callable(entry) then return { fn = entry } end
  if type(entry) == "table" and getmetatable(entry) == nil then
    for k in pairs(entry) do
      if k ~= "factory" then
        return nil, ("%s '%s': unknown key '%s' in the entry (expected a function or "
          .. "{factory = f})"):format(self.kind, name, tostring(k))
      end
    end
    if not callable(entry.factory) then
      return nil, ("%s '%s': 'factory' must be a function (got %s)")
        :format(self.kind, name, type(entry.factory))
    end
    return { factory = entry.factory }
  end
  return nil, ("%s '%s' must be a function or {factory = f} (got %s)")
    :format(self.kind, name, type(entry))
end

-- Adds an entry: a function or {factory = f}. opts: {replace = true} to
-- replace an existing name. `builtin` marks the module's own entries (for
-- messages). Returns the stored record, or nil and a message.
function Registry:add(name, entry, opts, builtin)
  if type(name) ~= "string" or name == "" then
    return nil, ("the %s name must be a non-empty string (got %s)"):format(self.kind, type(name))
  end
  if opts ~= nil and type(opts) ~= "table" then
    return nil, ("the third argument must be a table such as {replace = true} (got %s)")
      :format(type(opts))
  end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "replace" then
      return nil, ("unknown option '%s' (known: replace)"):format(tostring(k))
    end
  end
  local rec, err = record(self, name, entry)
  if not rec then return nil, err end
  local old = self.entries[name]
  if old and not opts.replace then
    return nil, ("%s '%s' is already registered (%s); pass {replace = true} as the third "
      .. "argument to replace it"):format(self.kind, name,
        old.builtin and "a built-in one" or "by an earlier register")
  end
  rec.builtin = builtin and true or nil
  self.entries[name] = rec
  return rec
end

function Registry:names()
  local out = {}
  for name in pairs(self.entries) do out[#out + 1] = name end
  table.sort(out)
  return out
end

-- The record of a name, or nil and a message naming the known ones.
function Registry:entry(name)
  if type(name) ~= "string" then
    return nil, ("%s must be a name or a function (got %s)"):format(self.kind, type(name))
  end
  local rec = self.entries[name]
  if rec then return rec end
  return nil, ("unknown %s '%s' (known: %s)")
    :format(self.kind, name, table.concat(self:names(), ", "))
end

-- The registered name of a plain entry's function, or nil.
function Registry:name_of(fn)
  for name, rec in pairs(self.entries) do
    if rec.fn == fn then return name end
  end
  return nil
end

-- A name or a function -> a ready-to-call function, or nil, a message and
-- `own` (true when the message is the factory's own, to be raised as it
-- is). With `as_is`, a plain entry (or a function) comes back unchanged
-- whatever opts are (for callers that pass opts at call time).
function Registry:build(v, opts, as_is)
  if opts ~= nil and type(opts) ~= "table" then
    return nil, ("'opts' must be a table (got %s)"):format(type(opts))
  end
  if callable(v) then
    if as_is then return v end
    return self.plain_opts(v, opts, ("the %s given as a function"):format(self.kind))
  end
  local rec, err = self:entry(v)
  if not rec then return nil, err end
  if rec.fn then
    if as_is then return rec.fn end
    return self.plain_opts(rec.fn, opts, ("%s '%s'"):format(self.kind, v))
  end
  local ok, product, ferr = pcall(rec.factory, opts or {})
  if not ok then
    -- raised again at get's caller; a factory's "error(msg, 2)" (a bad
    -- option) pointed at this file, which would tell the user nothing
    if type(product) ~= "string" then product = tostring(product) end
    return nil, (product:gsub("^[^\n]-registry%.lua:%d+: ", "")), true
  end
  if product == nil and type(ferr) == "string" then return nil, ferr, true end
  if self.adapt and not callable(product) then product = self.adapt(product) or product end
  if not callable(product) then
    return nil, ("the factory of %s '%s' returned %s, not a function")
      :format(self.kind, v, product == nil and "nil" or ("a " .. type(product)))
  end
  return product
end

-- Adds register/get/names to module table `mod`, whose name (for messages)
-- is `modname`. Errors point at the caller of those functions.
function Registry:install(mod, modname)
  local reg = self
  function mod.register(name, entry, opts)
    local ok, err = reg:add(name, entry, opts)
    if not ok then error(modname .. ".register: " .. err, 2) end
    return entry
  end
  function mod.get(name_or_fn, opts)
    local fn, err, own = reg:build(name_or_fn, opts)
    if not fn then error(own and err or (modname .. ".get: " .. err), 2) end
    return fn
  end
  function mod.names() return reg:names() end
  return mod
end

return M
