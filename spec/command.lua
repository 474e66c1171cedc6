-- command.lua — what the specs that run the `lrengine` command share
-- (`local cmd = require "spec.command"`): the binary ($LRENGINE_BIN, set by
-- scripts/run_tests.sh, else build/lrengine), shell quoting, temporary
-- files (removed by cmd.cleanup(), which a spec's teardown calls) and
-- cmd.run(args [, {prefix =, stdin =}]) -> exit status, stdout, stderr.

local M = {}

function M.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function M.absolute(path)
  if path:sub(1, 1) == "/" then return path end
  local p = assert(io.popen("pwd"))
  local dir = p:read("l")
  p:close()
  return dir .. "/" .. path
end

M.BIN = M.absolute(os.getenv("LRENGINE_BIN") or "build/lrengine")

local tmpfiles = {}

--- A new temporary file's path, holding `content` when given.
function M.tmpfile(content)
  local path = os.tmpname()
  tmpfiles[#tmpfiles + 1] = path
  if content then
    local f = assert(io.open(path, "w"))
    f:write(content)
    f:close()
  end
  return path
end

function M.slurp(path)
  local f = assert(io.open(path, "r"))
  local s = f:read("a")
  f:close()
  return s
end

--- Runs `BIN args` through sh (args already quoted as needed), after
-- opts.prefix (e.g. "VAR=1 ") and with opts.stdin as its standard input;
-- returns the exit status, stdout and stderr. A command killed by a signal
-- fails the calling test.
function M.run(args, opts)
  opts = opts or {}
  local out, err = M.tmpfile(), M.tmpfile()
  local cmd = ("%s%s %s >%s 2>%s"):format(opts.prefix or "", M.shell_quote(M.BIN), args,
                                          M.shell_quote(out), M.shell_quote(err))
  if opts.stdin then cmd = cmd .. " <" .. M.shell_quote(M.tmpfile(opts.stdin)) end
  local _, how, code = os.execute(cmd)
  if how ~= "exit" then error("the command was killed by a signal: " .. cmd, 2) end
  return code, M.slurp(out), M.slurp(err)
end

--- Has cleanup remove `path` too (a file made another way).
function M.remove_later(path) tmpfiles[#tmpfiles + 1] = path end

--- Removes every file tmpfile made.
function M.cleanup()
  for _, p in ipairs(tmpfiles) do os.remove(p) end
  tmpfiles = {}
end

return M
