--[[
lrengine — the facade: `local lre = require "lrengine"`.

The engine's objects come from the C module `lrengine.core` (the functions
are the C ones themselves, so an error points at the caller's line):

  lre.data.from_tables(rows, labels [, {num_classes=, task=}])
  lre.nn.sequential{...}, lre.nn.linear(in, out), lre.nn.relu(),
    lre.nn.leaky_relu(slope=0.01), lre.nn.gelu("none"|"tanh"),
    lre.nn.tanh(), lre.nn.sigmoid()
  lre.loss.cross_entropy{label_smoothing=0}, lre.loss.mse()
  lre.optim.sgd{lr=1e-3, momentum=0, dampening=0, nesterov=false, weight_decay=0}
  lre.optim.adam{lr=1e-3, betas={0.9, 0.999}, eps=1e-8, weight_decay=0}   (L2 in the gradient)
  lre.optim.adamw{lr=1e-3, betas={0.9, 0.999}, eps=1e-8, weight_decay=1e-2} (decoupled)
    (`lr` is only the default/initial rate, kept as opt.lr: the learning
    rate is an argument of every trainer:step(lr))
  lre.trainer{model=, data=, loss=cross_entropy, optimizer=adam, batch_size=32,
    seed=<--seed or 0>, accumulation_steps=1, shuffle=true, drop_last=false,
    device=<the engine's>, precision=<--precision or "fp32">}
    precision: the matmuls' compute type, "fp32", "tf32" or "bf16" (parameters,
    gradients and optimizer state stay fp32); a device without it runs fp32
    and one warning line goes to stderr; trainer:precision() -> effective,
    requested

  lre.configure{device=, seed=, threads=, quiet=, precision=}  before the
                     first object (precision, the trainers' default, at any time)
  lre.options()   -> {device=, seed=, threads=, precision=, quiet=, host=};
                     `host` is true under the `lrengine` command, whose
                     --device, --seed, --threads, --precision and --quiet
                     options these are
  lre.version, lre.lua_version, lre.device_compiled(name)

The range-test modules load on first use: lre.finder, lre.heuristics,
lre.smoothing, lre.schedules, lre.stopping, lre.results, lre.plot (the
figure), lre.chart (the terminal chart). The four plug-in registries
(heuristics, schedules, smoothing, stopping) share one contract:
lrengine.registry.
]]

local core = require "lrengine.core"

local lre = {
  core = core,
  version = core.version,
  lua_version = core.lua_version,
  configure = core.configure,
  options = core.options,
  device_compiled = core.device_compiled,
  data = core.data,
  nn = core.nn,
  loss = core.loss,
  optim = core.optim,
  trainer = core.trainer,
}

local lazy = {
  finder = true, heuristics = true, smoothing = true, schedules = true,
  stopping = true, results = true, plot = true, chart = true,
}

return setmetatable(lre, {
  __index = function(t, k)
    if lazy[k] then
      local m = require("lrengine." .. k)
      rawset(t, k, m)
      return m
    end
  end,
})
