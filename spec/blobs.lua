-- blobs.lua — the specs' three separable blobs in 3-D (classes 0, 1, 2):
-- a range-test curve that falls, then blows up. Deterministic: a small LCG,
-- so the data never depends on math.random.
--   local blobs = require "spec.blobs"   -- in a spec
--   local blobs = dofile(path)           -- in a script the command runs
-- blobs(n [, seed]) -> an lrengine dataset of n rows.
local lre = require "lrengine"

return function(n, seed)
  local rows, labels = {}, {}
  local x = seed or 1
  local function rnd()
    x = (x * 1103515245 + 12345) % 2147483648
    return x / 2147483648
  end
  for i = 1, n do
    local c = i % 3
    rows[i] = { rnd() + 2 * c, rnd() - c, rnd() }
    labels[i] = c
  end
  return lre.data.from_tables(rows, labels)
end
