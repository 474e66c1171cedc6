-- embed_spec.lua — examples/embed.c, the C program that embeds the finder
-- (lrengine_lua.h): it runs, range-tests the engine's trainer and its own
-- plain-C model, prints both suggestions for each and finds each model
-- restored. The binary is $LRENGINE_EMBED, else examples/embed next to
-- $LRENGINE_BIN (set by scripts/run_tests.sh: build/ or build-asan/), else
-- build/examples/embed. The API itself is tested in spec/c/test_embed.c.

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function embed_bin()
  local explicit = os.getenv("LRENGINE_EMBED")
  if explicit and explicit ~= "" then return explicit end
  local cli = os.getenv("LRENGINE_BIN")
  if cli and cli ~= "" then return (cli:gsub("[^/]*$", "")) .. "examples/embed" end
  return "build/examples/embed"
end

local BIN = embed_bin()

local function slurp(path)
  local f = assert(io.open(path, "r"))
  local s = f:read("a")
  f:close()
  return s
end

-- Runs BIN with `args`; returns the exit status, stdout and stderr.
local function run(args)
  local out, err = os.tmpname(), os.tmpname()
  local _, how, code = os.execute(("%s %s >%s 2>%s"):format(shell_quote(BIN), args or "",
    shell_quote(out), shell_quote(err)))
  local o, e = slurp(out), slurp(err)
  os.remove(out)
  os.remove(err)
  assert.are.equal("exit", how, "embed was killed by a signal; stderr:\n" .. e)
  return code, o, e
end

-- The lines of `text` from the header that starts with `mark` to the next header.
local function section(text, mark)
  local start = assert(text:find(mark, 1, true), "no section '" .. mark .. "' in:\n" .. text)
  local rest = text:sub(start + #mark)
  local stop = rest:find("\n== ", 1, true)
  return stop and rest:sub(1, stop) or rest
end

describe("examples/embed (a C program embedding the finder)", function()
  local code, out, err

  setup(function()
    local f = io.open(BIN, "r")
    assert(f, BIN .. " is missing: build it with `make examples`")
    f:close()
    code, out, err = run()
  end)

  it("exits 0 and says ok", function()
    assert.are.equal(0, code, "stderr:\n" .. err .. "\nstdout:\n" .. out)
    assert.truthy(out:match("\nok\n$"), out)
  end)

  for _, part in ipairs { "== (a)", "== (b)" } do
    it(part .. ": prints a learning rate for steepest and valley", function()
      local s = section(out, part)
      for _, name in ipairs { "steepest", "valley" } do
        local lr = s:match("suggestion " .. name .. ": lr = ([%d%.e+-]+)")
        assert.is_not_nil(lr, "no " .. name .. " suggestion in:\n" .. s)
        lr = tonumber(lr)
        assert.is_true(lr > 1e-5 and lr < 10, name .. " lr " .. tostring(lr) .. " outside the range tested")
      end
      assert.truthy(s:match("stop: [%a_]+ after %d+ of 100 steps"), s)
    end)
  end

  it("(a): the engine trainer is restored (steps = 0, parameters unchanged)", function()
    local s = section(out, "== (a)")
    assert.truthy(s:match("restored: steps = 0, %d+ parameters unchanged"), s)
  end)

  it("(b): the plain-C model is restored and its snapshot freed", function()
    local s = section(out, "== (b)")
    local taken, freed = s:match("restored: a = 0, b = 0, cursor = 0; (%d+) snapshots? taken, (%d+) freed")
    assert.is_not_nil(taken, s)
    assert.are.equal(taken, freed)
  end)

  it("names a wrong Lua directory and exits 1", function()
    local c, o, e = run("/nonexistent/lrengine-lua")
    assert.are.equal(1, c, o)
    assert.truthy(e:find("/nonexistent/lrengine-lua", 1, true), e)
  end)

  it("rejects extra arguments with a usage line and exit status 2", function()
    local c, _, e = run("a b")
    assert.are.equal(2, c)
    assert.truthy(e:match("usage:"), e)
  end)
end)
