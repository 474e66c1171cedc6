--[[
lrengine.progress — the live progress line of a range test, on stderr.

  local P = require "lrengine.progress"
  local p = P.new{ total = 100 }          -- options below
  p:update{ step = 3, lr = 1e-6, loss = 2.31, smoothed = 2.305, best = 2.30 }
  p:finish{ step = 77, reason = "diverged" }
  p:abort()                               -- on an error: ends the line

On a terminal the line is redrawn in place ("\r" and clear to the end of
the line), at most every `interval` seconds and always on the last step
(the bar shows when the terminal is wide enough):

  [███████▌            ]  37/100  lr 3.16e-04  loss 0.5123 (smoothed 0.5301, best 0.4988)  1.2s  eta 2.0s

Elsewhere (a log file, CI) it prints plain lines instead: the first step,
then one each time another `every` fraction of the steps is done (10%: about
ten lines per test), and the end:

  step  10/100  lr 5.01e-06  loss 2.301 (smoothed 2.3, best 2.299)  0.4s
  done: diverged at step 77/100 in 3.4s, best smoothed loss 0.4988

Options of P.new (all optional):
  total      the planned number of steps (else each update's num_iter)
  stream     a file (default io.stderr)
  tty        redraw in place (default: whether stderr is a terminal, when
             stream is io.stderr; false otherwise)
  every      fraction of the steps between plain lines (default 0.1)
  interval   seconds between redraws on a terminal (default 0.1)
  label      a prefix, e.g. "run 2/3"
  width      the terminal's columns (default $COLUMNS, else 80): the
             redrawn line stays narrower, dropping the bar, then the
             estimate of the time left
  clock      fn() -> seconds (default lrengine.core.clock, else os.clock)

The finder makes one per run when `progress = true`.
]]

local M = {}

local Progress = {}
Progress.__index = Progress

local function default_clock()
  local ok, core = pcall(require, "lrengine.core")
  if ok and core.clock then return core.clock end
  return os.clock
end

local function isatty_stderr()
  local ok, core = pcall(require, "lrengine.core")
  return ok and core.isatty and core.isatty("stderr") or false
end

local function check(opts, name, kind)
  local v = opts[name]
  if v ~= nil and type(v) ~= kind then
    error(string.format("progress.new: '%s' must be a %s, got %s", name, kind, type(v)), 3)
  end
end

local KEYS = { total = true, every = true, interval = true, label = true, clock = true,
  tty = true, width = true, stream = true }

function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("progress.new: expected a table of options", 2) end
  for k in pairs(opts) do
    if not KEYS[k] then
      error(string.format("progress.new: unknown option '%s' (it takes total, every, interval, "
        .. "label, clock, tty, width, stream)", tostring(k)), 2)
    end
  end
  check(opts, "total", "number")
  check(opts, "every", "number")
  check(opts, "interval", "number")
  check(opts, "label", "string")
  check(opts, "clock", "function")
  check(opts, "tty", "boolean")
  check(opts, "width", "number")
  local stream = opts.stream or io.stderr
  local tty = opts.tty
  if tty == nil then tty = stream == io.stderr and isatty_stderr() end
  local every = opts.every or 0.1
  if not (every > 0 and every <= 1) then error("progress.new: 'every' must be in (0, 1]", 2) end
  local clock = opts.clock or default_clock()
  local p = setmetatable({
    stream = stream, tty = tty, every = every, interval = opts.interval or 0.1,
    label = opts.label, clock = clock, total = opts.total, t0 = clock(),
    width = opts.width or math.tointeger(tonumber(os.getenv("COLUMNS") or "")) or 80,
    last_draw = -math.huge, last_bucket = -1, open = false, best = nil, step = 0,
  }, Progress)
  return p
end

local function fmt_time(s)
  if s < 60 then return string.format("%.1fs", s) end
  if s < 3600 then return string.format("%dm%02ds", s // 60, math.floor(s % 60)) end
  return string.format("%dh%02dm", s // 3600, math.floor(s % 3600 / 60))
end

local function num(v, f)
  if type(v) ~= "number" then return "-" end
  return string.format(f, v)
end

local function bar(frac, width)
  local eighths = { "", "▏", "▎", "▍", "▌", "▋", "▊", "▉" }
  frac = math.max(0, math.min(1, frac))
  local full = math.floor(frac * width)
  local rest = math.floor((frac * width - full) * 8)
  local s = string.rep("█", full)
  if full < width then s = s .. eighths[rest + 1] .. string.rep(" ", width - full - 1) end
  return "[" .. s .. "]"
end

-- The fields of a line: step/total, lr, loss, best, elapsed (and eta).
function Progress:text(state, with_eta)
  local total = self.total or state.num_iter or state.step
  local elapsed = self.clock() - self.t0
  local width = #tostring(total)
  -- the finder's best is of the smoothed loss (what its stopping rule
  -- compares), so the smoothed value goes beside it
  local best = num(state.best, "%.4g")
  if type(state.smoothed) == "number" then
    best = string.format("(smoothed %s, best %s)", num(state.smoothed, "%.4g"), best)
  else
    best = "best " .. best
  end
  local s = string.format("%" .. width .. "d/%d  lr %s  loss %s %s  %s",
    state.step, total, num(state.lr, "%.2e"), num(state.loss, "%.4g"), best, fmt_time(elapsed))
  if with_eta and state.step > 0 and state.step < total then
    s = s .. "  eta " .. fmt_time(elapsed / state.step * (total - state.step))
  end
  return s, total
end

-- The terminal's line, kept narrower than the terminal (a wrapped line
-- cannot be redrawn in place): the bar goes first, then the estimate.
function Progress:tty_line(prefix, state, total, with_eta)
  local width = self.width - 1
  local function len(x) return utf8.len(x) or #x end
  local text = prefix .. bar(state.step / total, 20) .. "  " .. self:text(state, with_eta)
  if len(text) > width then text = prefix .. self:text(state, with_eta) end
  if len(text) > width then text = prefix .. self:text(state, false) end
  if len(text) > width then text = text:sub(1, utf8.offset(text, width + 1) - 1) end
  return text
end

--- After each step: state.step, state.lr, state.loss, state.smoothed and
-- state.best (optional), and state.num_iter when the total was not given.
function Progress:update(state)
  self.step = state.step
  self.best = state.best
  self.last_state = state
  local total = self.total or state.num_iter or state.step
  local now = self.clock()
  local prefix = self.label and (self.label .. "  ") or ""
  if self.tty then
    if state.step < total and now - self.last_draw < self.interval then return end
    self.last_draw = now
    self.stream:write("\r\27[K", self:tty_line(prefix, state, total, true))
    self.stream:flush()
    self.open = true
  else
    local bucket = math.floor(state.step / total / self.every + 1e-9)
    if state.step == 1 or bucket > self.last_bucket then
      self.last_bucket = bucket
      self.stream:write(prefix, "step ", (self:text(state, false)), "\n")
      self.stream:flush()
    end
  end
end

--- At the end: info.step (last step), info.reason (why it stopped).
function Progress:finish(info)
  info = info or {}
  local prefix = self.label and (self.label .. "  ") or ""
  local total = self.total or (self.last_state and self.last_state.num_iter) or self.step
  local step = info.step or self.step
  local elapsed = self.clock() - self.t0
  if self.tty then
    if self.last_state and self.last_state.step == step then
      -- the last step may have been skipped by the redraw interval
      self.stream:write("\r\27[K", prefix, bar(step / total, 20), "  ", (self:text(self.last_state, false)))
    end
    self.stream:write("\n")
    self.open = false
  end
  self.stream:write(prefix, string.format("done: %s at step %d/%d in %s, best smoothed loss %s\n",
    info.reason or "completed", step, total, fmt_time(elapsed), num(self.best, "%.4g")))
  self.stream:flush()
end

--- Ends an open line (after an error or an interrupt), so the message
-- that follows starts on its own line.
function Progress:abort()
  if self.open then
    self.stream:write("\n")
    self.stream:flush()
    self.open = false
  end
end

return M
