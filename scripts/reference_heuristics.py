#!/usr/bin/env python3
"""reference_heuristics.py — where the expected numbers in spec/schedules_spec.lua,
spec/smoothing_spec.lua, spec/stopping_spec.lua and spec/heuristics_spec.lua
come from: the real code of the learning-rate finders that lrengine's pure-Lua
modules (lua/lrengine/{schedules,smoothing,stopping,heuristics}.lua) mirror.

It is NOT run by the tests and nothing in lrengine depends on it; the specs
hard-code what it prints. Run it in a throwaway virtual environment:

    python3 -m venv /tmp/lrref
    /tmp/lrref/bin/pip install numpy torch fastai lightning pytorch-ignite torch-lr-finder
    /tmp/lrref/bin/python scripts/reference_heuristics.py            # the spec values
    /tmp/lrref/bin/python scripts/reference_heuristics.py --fuzz 500 # + random curves
                                                      # checked against the Lua code

Versions the specs' numbers were computed with:
    numpy 2.4.6, torch 2.15.0, torch-lr-finder 0.2.2, fastai 2.8.12 (fastcore 2.2.41),
    lightning 2.6.6, pytorch-ignite 0.5.5; Python 3.11.

What each part calls:
  schedules   torch_lr_finder.lr_finder.ExponentialLR / LinearLR on an SGD
              optimizer (the learning rates range_test records).
  smoothing   torch_lr_finder LRFinder.range_test on a scripted loss sequence
              (history["loss"] is its smoothed curve); fastai's AvgSmoothLoss;
              Lightning's _LRCallback.on_train_batch_end on a stand-in trainer.
  stopping    the same three runs: at which step each stops.
  heuristics  LRFinder.plot (pytorch-lr-finder's suggestion); fastai's valley,
              slide, minimum, steep after the array preparation of
              Learner.lr_find (its lines are repeated here: lr_find itself needs
              a Learner); Lightning's _LRFinder.suggestion; Ignite's
              FastaiLRFinder.lr_suggestion.
fastai, Lightning and Ignite turn the curve into float32 torch tensors. Every
heuristic is run twice, with float32 (as shipped) and in float64 (the default
dtype set to float64, and fastai's float32-only tensor() replaced by
torch.tensor), which is what lrengine computes (double); the spec curves are ones where both agree, and the script says so.
lrengine cuts a curve before its first non-finite loss BEFORE trimming; this
script applies that cut, then lets each library trim (see heuristics.lua).
"""
import argparse
import contextlib
import io
import logging
import math
import os
import random
import subprocess
import sys
import tempfile
import types

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from torch_lr_finder.lr_finder import ExponentialLR, LinearLR, LRFinder  # noqa: E402
from fastai.callback.schedule import valley, slide, minimum, steep  # noqa: E402
from fastai.callback.schedule import LRFinder as FastaiLRFinderCb  # noqa: E402
from fastai.callback.core import CancelFitException  # noqa: E402
from fastai.learner import AvgSmoothLoss  # noqa: E402
from fastai.torch_core import tensor as fastai_tensor  # noqa: E402
from lightning.pytorch.tuner.lr_finder import _LRFinder, _LRCallback  # noqa: E402
from ignite.handlers.lr_finder import FastaiLRFinder as IgniteLRFinder  # noqa: E402

logging.getLogger("lightning.pytorch.tuner.lr_finder").setLevel(logging.CRITICAL)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAN, INF = float("nan"), float("inf")


# ---- curves (the same ones the Lua specs build) -----------------------------

def exp_lrs(n, a, b):
    """lrengine's schedules.exp (pytorch-lr-finder's, with exact end points)."""
    return [a if s == 1 else b if s == n else a * (b / a) ** ((s - 1) / (n - 1))
            for s in range(1, n + 1)]


# The user's note: validation loss of an MLP on Fashion-MNIST-like data over a
# 100-step exp schedule 1e-7 -> 500 (raw, before pytorch-lr-finder smooths it).
NOTE_RAW = [
    2.3004, 2.303, 2.3004, 2.3041, 2.2996, 2.305, 2.3064, 2.3039, 2.2987, 2.3003,
    2.3064, 2.3023, 2.3037, 2.301, 2.3011, 2.2954, 2.2961, 2.2992, 2.2927, 2.2927,
    2.2837, 2.284, 2.2805, 2.2722, 2.2603, 2.252, 2.239, 2.223, 2.1977, 2.1724,
    2.1489, 2.1141, 2.0728, 2.0267, 1.9749, 1.9026, 1.8368, 1.7604, 1.6758, 1.586,
    1.4846, 1.3895, 1.2974, 1.2073, 1.117, 1.0455, 0.9727, 0.9088, 0.8547, 0.8124,
    0.7875, 0.7651, 0.7437, 0.7426, 0.7365, 0.7505, 0.763, 0.791, 0.8177, 0.8676,
    0.9127, 0.9679, 1.0468, 1.1229, 1.2277, 1.3339, 1.4692, 1.6155, 1.793, 2.0007,
    2.2372, 2.5017, 2.8188, 3.1758, 3.5872, 4.0665, 4.617, 5.2501, 5.9891, 6.8283,
    7.8003, 8.9274, 10.2108, 11.7023, 13.4231, 15.3993, 17.6785, 20.3172, 23.3411, 26.8354,
    30.8685, 35.5095, 40.859, 47.0253, 54.1348, 62.3208, 71.7715, 82.654, 95.2042, 109.657,
]


def curves():
    """name -> (lrs, losses). Mirrored literally in spec/heuristics_spec.lua."""
    c = {}
    c["note"] = (exp_lrs(100, 1e-7, 500), list(NOTE_RAW))
    c["note_smoothed"] = (exp_lrs(100, 1e-7, 500), ptlf_range_test(NOTE_RAW, 1e-7, 500, 0.05, 1e9)[1])
    fall = [3.0, 2.9, 2.95, 2.7, 2.5, 2.6, 2.2, 1.9, 1.95, 1.5, 1.2, 1.25, 1.0, 0.9, 0.95,
            0.8, 0.85, 1.1, 1.6, 2.4]
    # 30 points: 20 falling-then-rising, NaN, then finite junk below everything
    c["nan_mid"] = (exp_lrs(30, 1e-6, 1), fall + [NAN] + [0.1] * 9)
    c["inf_mid"] = (exp_lrs(30, 1e-6, 1), fall + [INF] + [0.1] * 9)
    c["neg_inf_mid"] = (exp_lrs(30, 1e-6, 1), fall + [-INF] + [0.1] * 9)
    c["nan_first"] = (exp_lrs(30, 1e-6, 1), [NAN] + fall + [0.1] * 9)
    # Exact binary fractions, so that no tie is decided by rounding.
    c["decreasing"] = (exp_lrs(30, 1e-6, 1), [20 - i * i / 64 for i in range(30)])
    c["increasing"] = (exp_lrs(30, 1e-6, 1), [1 + i * i / 64 for i in range(30)])
    c["flat"] = (exp_lrs(30, 1e-6, 1), [1.0] * 30)
    c["valley_two_first"] = (exp_lrs(5, 1e-4, 1), [2.0, 1.0, 3.0, 3.0, 3.0])
    c["short0"] = ([], [])
    c["short1"] = ([1e-3], [1.0])
    c["short2"] = ([1e-3, 1e-2], [1.0, 0.5])
    c["short3"] = ([1e-3, 1e-2, 1e-1], [1.0, 0.5, 0.75])
    bumpy = [2 - i * i / 256 + (1 / 32 if i % 3 == 0 else 0) for i in range(16)]
    c["slide16"] = (exp_lrs(16, 1e-4, 1), bumpy)
    c["slide15"] = (exp_lrs(15, 1e-4, 1), bumpy[:15])
    return c


def cut(lrs, losses):
    """lrengine's cut: everything before the first non-finite loss."""
    m = 0
    while m < len(losses) and math.isfinite(losses[m]):
        m += 1
    return lrs[:m], losses[:m]


# ---- the libraries -----------------------------------------------------------

def ptlf_range_test(raw, start_lr, end_lr, smooth_f, diverge_th, step_mode="exp"):
    """pytorch-lr-finder's range_test on a model whose loss is scripted:
    returns (history["lr"], history["loss"])."""
    w = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    model = torch.nn.Module()
    model.w = w
    model.forward = lambda x: w * x
    it = iter(raw)
    crit = lambda out, y: (out * 0).sum() + torch.tensor(next(it), dtype=torch.float64)  # noqa: E731
    ds = torch.utils.data.TensorDataset(torch.zeros(len(raw), 1, dtype=torch.float64),
                                        torch.zeros(len(raw), dtype=torch.float64))
    opt = torch.optim.SGD([w], lr=start_lr)
    f = LRFinder(model, opt, crit, device="cpu")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        f.range_test(torch.utils.data.DataLoader(ds, batch_size=1), end_lr=end_lr,
                     num_iter=len(raw), step_mode=step_mode, smooth_f=smooth_f, diverge_th=diverge_th)
    return list(f.history["lr"]), list(f.history["loss"])


def ptlf_schedule(kind, start_lr, end_lr, n):
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w], lr=start_lr)
    s = (ExponentialLR if kind == "exp" else LinearLR)(opt, end_lr, n)
    out = []
    for _ in range(n):
        out.append(s.get_lr()[0])
        opt.step()
        s.step()
    return out


@contextlib.contextmanager
def default_dtype(dt):
    old = torch.get_default_dtype()
    torch.set_default_dtype(dt)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def fastai_smooth(raw, beta=0.98, dt=torch.float64):
    """fastai's AvgSmoothLoss (float32 as shipped; float64 to compare)."""
    with default_dtype(dt):
        m = AvgSmoothLoss(beta)
        m.reset()
        m.val = torch.tensor(0.0)  # fastai's tensor(0.) is float32 whatever the default
        out = []
        for v in raw:
            m.accumulate(types.SimpleNamespace(loss=torch.tensor(v)))
            out.append(float(m.value))
    return out


def fastai_stop_step(smoothed, lrs):
    """fastai's LRFinder.after_batch on each smoothed loss: the 1-based step
    it cancels the fit at (divergence at 4x best), or None."""
    cb = FastaiLRFinderCb(start_lr=lrs[0], end_lr=lrs[-1], num_it=len(smoothed) + 1)
    cb.hps, cb.best_loss = {"lr": []}, float("inf")
    for k, (s, lr) in enumerate(zip(smoothed, lrs)):
        cb.learn = types.SimpleNamespace(smooth_loss=torch.tensor(s, dtype=torch.float64),
                                         opt=types.SimpleNamespace(hypers=[{"lr": lr}]),
                                         train_iter=k + 1)
        try:
            cb.after_batch()
        except CancelFitException:
            return k + 1
    return None


def lightning_run(raw, lrs, threshold=4.0):
    """Lightning's _LRCallback: (smoothed losses it records, 1-based stop step)."""
    cb = _LRCallback(num_training=len(raw), early_stop_threshold=threshold)
    tr = types.SimpleNamespace(
        fit_loop=types.SimpleNamespace(batch_idx=0), accumulate_grad_batches=1,
        lr_scheduler_configs=[types.SimpleNamespace(scheduler=types.SimpleNamespace(lr=[0.0]))],
        global_step=0, should_stop=False, strategy=types.SimpleNamespace(broadcast=lambda x: x))
    for k, (v, lr) in enumerate(zip(raw, lrs)):
        tr.lr_scheduler_configs[0].scheduler.lr = [lr]
        cb.on_train_batch_start(tr, None, None, k)
        tr.global_step = k + 1  # the optimizer step of this batch is done
        cb.on_train_batch_end(tr, None, {"loss": torch.tensor(v, dtype=torch.float64)}, None, k)
        if tr.should_stop:
            return cb.losses, k + 1
    return cb.losses, None


def quiet(fn, *a, **kw):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn(*a, **kw)


def ref_steepest(lrs, losses, skip_start=10, skip_end=5):
    lrs, losses = cut(lrs, losses)
    fig, ax = plt.subplots()
    try:
        r = quiet(LRFinder.plot, types.SimpleNamespace(history={"lr": lrs, "loss": losses}),
                  skip_start=skip_start, skip_end=skip_end, ax=ax)
    except (RuntimeError, ValueError):  # 0.2.2: "Need at least ... iterations"
        return None
    finally:
        plt.close(fig)
    if not isinstance(r, tuple):
        return None
    return skip_start + lrs[skip_start:].index(r[1])


def ref_fastai(func, lrs, losses, num_it=None, skip_start=None, skip_end=5, **kw):
    n = len(losses) if num_it is None else num_it
    lrs, losses = cut(lrs, losses)
    s = n // 10 if skip_start is None else skip_start
    # Learner.lr_find (fastai 2.8.12): tensor(recorder.lrs[num_it//10:-5]) ...
    tl = lrs[s:-skip_end] if skip_end else lrs[s:]
    tL = losses[s:-skip_end] if skip_end else losses[s:]
    # fastai's tensor() always gives float32; the float64 run builds float64 ones.
    if torch.get_default_dtype() == torch.float64:
        lrs_t, losses_t = torch.tensor(tl), torch.tensor(tL)
    else:
        lrs_t, losses_t = fastai_tensor(tl), fastai_tensor(tL)
    nan_idxs = torch.nonzero(torch.isnan(losses_t.view(-1)))
    if len(nan_idxs) > 0:
        drop = min(nan_idxs)
        lrs_t, losses_t = lrs_t[:drop], losses_t[:drop]
    try:
        lr, pnt = func(lrs_t, losses_t, n, **kw)
    except (IndexError, RuntimeError, ValueError):
        return None
    return s + lrs_t.tolist().index(pnt[0] / kw.get("adjust_value", 1.0)), lr


def ref_lightning(lrs, losses, skip_begin=10, skip_end=1):
    lrs, losses = cut(lrs, losses)
    if skip_end == 0:
        # Lightning's [skip_begin:-0] is empty; lrengine trims nothing. The
        # same through Lightning: one throwaway point that skip_end=1 drops.
        lrs, losses, skip_end = lrs + [1.0], losses + [0.0], 1
    f = _LRFinder("exponential", 1e-7, 1.0, max(len(lrs), 1))
    f.results = {"lr": lrs, "loss": losses}
    lr = quiet(f.suggestion, skip_begin=skip_begin, skip_end=skip_end)
    return None if lr is None else f._optimal_idx


def ref_ignite(lrs, losses):
    lrs, losses = cut(lrs, losses)
    f = IgniteLRFinder()
    f._history = {"lr": lrs, "loss": losses}
    try:
        lr = f.lr_suggestion()
    except (RuntimeError, IndexError):
        return None
    return lrs.index(lr)


def all_refs(lrs, losses, opts):
    """heuristic name -> 0-based index (or None), each with lrengine's
    default trimming unless `opts` (the Lua opts, same names) says otherwise."""
    o = dict(opts)
    s, e = o.get("skip_start"), o.get("skip_end")
    num_it = o.get("num_iter", len(losses))  # the points given, before the cut
    lrs, losses = cut(lrs, losses)
    res = {"steepest": ref_steepest(lrs, losses, 10 if s is None else s, 5 if e is None else e)}
    for name, f in (("steep", steep), ("valley", valley), ("slide", slide), ("minimum", minimum)):
        r = ref_fastai(f, lrs, losses, num_it=num_it, skip_start=s, skip_end=5 if e is None else e)
        res[name] = None if r is None else r[0]
    res["lightning"] = ref_lightning(lrs, losses, 10 if s is None else s, 1 if e is None else e)
    # Ignite does not trim; lrengine's opts.skip_start/skip_end (default 0) do.
    s0, e0 = s or 0, e or 0
    r = ref_ignite(lrs[s0:max(s0, len(lrs) - e0)], losses[s0:max(s0, len(losses) - e0)])
    res["ignite"] = None if r is None else r + s0
    return res


def both_dtypes(lrs, losses, opts):
    with default_dtype(torch.float32):
        r32 = all_refs(lrs, losses, opts)
    with default_dtype(torch.float64):
        r64 = all_refs(lrs, losses, opts)
    return r64, {k for k in r64 if r64[k] != r32[k]}


# ---- printing -----------------------------------------------------------------

def lua_num(x):
    if x != x:
        return "0/0"
    if x in (INF, -INF):
        return "math.huge" if x > 0 else "-math.huge"
    return repr(float(x))


def show_schedules():
    print("-- schedules: pytorch-lr-finder's ExponentialLR/LinearLR, %.17g")
    for kind, a, b, n in (("exp", 1e-7, 500, 100), ("exp", 1e-7, 10, 100), ("linear", 1e-4, 1, 11)):
        got = ptlf_schedule(kind, a, b, n)
        mine = exp_lrs(n, a, b) if kind == "exp" else [
            a if s == 1 else b if s == n else a + (s - 1) / (n - 1) * (b - a) for s in range(1, n + 1)]
        diff = [i + 1 for i in range(n) if got[i] != mine[i]]
        print(f"--   {kind}({a}, {b}, {n}): steps that differ from lrengine: {diff}"
              f" (last: theirs {got[-1]!r}, ours {mine[-1]!r})")
        for s in (2, n // 2, n - 1):
            print(f"--   step {s}: {got[s - 1]!r}")


def show_smoothing():
    raw = [2.5, 2.0, 2.25, 1.0, 0.5]
    print("-- smoothing on", raw)
    print("--   pytorch-lr-finder history['loss'] (smooth_f 0.05):", ptlf_range_test(raw, 1e-3, 1, 0.05, 1e9)[1])
    print("--   fastai AvgSmoothLoss (beta 0.98, float64):", fastai_smooth(raw))
    print("--   fastai AvgSmoothLoss (beta 0.98, float32 as shipped):", fastai_smooth(raw, dt=torch.float32))
    print("--   Lightning _LRCallback (beta 0.98):", lightning_run(raw, exp_lrs(5, 1e-3, 1), None)[0])


def show_stopping():
    lrs = exp_lrs(100, 1e-7, 500)
    lrs_h, hist = ptlf_range_test(NOTE_RAW, 1e-7, 500, 0.05, 5)
    print(f"-- stopping on the note curve: pytorch-lr-finder (ema 0.05, 5x) keeps {len(hist)} points,"
          f" last smoothed {hist[-1]!r}, best {min(hist)!r}")
    sm = fastai_smooth(NOTE_RAW)
    print(f"--   fastai (debiased 0.98, 4x) stops at step {fastai_stop_step(sm, lrs)}")
    ls, st = lightning_run(NOTE_RAW, lrs, 4.0)
    print(f"--   Lightning (debiased 0.98 from k=2, 4x) stops at step {st}")
    raw = [1.0, 0.5, 0.4, 1.0, 2.1, 3.0]
    print(f"--   pytorch-lr-finder smooth_f=0 diverge_th=5 on {raw}: keeps"
          f" {len(ptlf_range_test(raw, 1e-3, 1, 0.0, 5)[1])}")
    print(f"--   fastai 4x on the same unsmoothed: stops at step {fastai_stop_step(raw, exp_lrs(6, 1e-3, 1))}")
    raw = [1.0, 0.9, float('nan'), 0.5, 0.4]
    h = ptlf_range_test(raw, 1e-3, 1, 0.05, 5)[1]
    print(f"--   pytorch-lr-finder runs through NaN: {len(h)} points {h}")


def show_heuristics():
    print("-- heuristics: 1-based indices, lrengine's default trimming unless opts say otherwise")
    cases = [
        ("note", {}), ("note", {"skip_start": 0, "skip_end": 0}),
        ("note_smoothed", {}), ("note_smoothed", {"skip_start": 0, "skip_end": 0}),
        ("nan_mid", {}), ("inf_mid", {}), ("neg_inf_mid", {}), ("nan_first", {}),
        ("nan_mid", {"skip_start": 0, "skip_end": 0}),
        ("decreasing", {}), ("increasing", {}), ("flat", {}),
        ("decreasing", {"skip_start": 0, "skip_end": 0}),
        ("increasing", {"skip_start": 0, "skip_end": 0}),
        ("flat", {"skip_start": 0, "skip_end": 0}),
        ("valley_two_first", {"skip_start": 0, "skip_end": 0}),
        ("short0", {"skip_start": 0, "skip_end": 0}), ("short1", {"skip_start": 0, "skip_end": 0}),
        ("short2", {"skip_start": 0, "skip_end": 0}), ("short3", {"skip_start": 0, "skip_end": 0}),
        ("short3", {}),
        ("slide16", {"skip_start": 0, "skip_end": 0}), ("slide15", {"skip_start": 0, "skip_end": 0}),
        ("note", {"num_iter": 200}),
    ]
    cs = curves()
    for name, opts in cases:
        lrs, losses = cs[name]
        r, differ = both_dtypes(lrs, losses, opts)
        cells = ", ".join(f"{k} = {'nil' if v is None else v + 1}" for k, v in r.items())
        o = ", ".join(f"{k} = {v}" for k, v in opts.items())
        note = f"  -- float32 differs: {sorted(differ)}" if differ else ""
        print(f"{{ '{name}', {{ {o} }}, {{ {cells} }} }},{note}")
    # The note's own computation: np.gradient over the untrimmed history.
    _, hist = ptlf_range_test(NOTE_RAW, 1e-7, 500, 0.05, 5)
    print(f"-- note: np.gradient(losses).argmin() on pytorch-lr-finder's history (stopped, "
          f"{len(hist)} points): {int(np.gradient(np.array(hist)).argmin()) + 1}")
    print(f"-- note: np.gradient(raw).argmin(): {int(np.gradient(np.array(NOTE_RAW)).argmin()) + 1}")


# ---- fuzz: random curves against the Lua code --------------------------------

LUA_CHECK = r"""
package.path = arg[1] .. "/lua/?.lua;" .. arg[1] .. "/lua/?/init.lua;" .. package.path
local H = require "lrengine.heuristics"
local cases = dofile(arg[2])
local bad = 0
for ci, c in ipairs(cases) do
  for name, want in pairs(c.want) do
    local _, idx = H[name](c.lrs, c.losses, c.opts)
    if want == false then want = nil end
    if type(idx) ~= "number" then idx = nil end
    if idx ~= want then
      bad = bad + 1
      print(("case %d %s: lua %s, library %s"):format(ci, name, tostring(idx), tostring(want)))
    end
  end
end
print(("%d cases, %d mismatches"):format(#cases, bad))
os.exit(bad == 0 and 0 or 1)
"""


def fuzz(count, seed):
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        n = rng.choice([0, 1, 2, 3, 5, 8, 16, 17, 25, 40, 60])
        lrs = exp_lrs(n, 10 ** rng.uniform(-8, -5), 10 ** rng.uniform(-1, 3)) if n > 1 else [1e-3] * n
        level = rng.uniform(0.5, 3)
        losses = []
        for i in range(n):
            level += rng.gauss(-0.05 if i < n * 0.6 else 0.2, 0.1)
            losses.append(round(level, rng.choice([1, 2, 6])))  # coarse rounding makes ties
        if n and rng.random() < 0.2:
            losses[rng.randrange(n)] = rng.choice([NAN, INF, -INF])
        opts = rng.choice([{}, {"skip_start": 0, "skip_end": 0}, {"skip_start": 2, "skip_end": 1}])
        with default_dtype(torch.float64):
            want = all_refs(lrs, losses, opts)
        cases.append((lrs, losses, opts, want))
    with tempfile.TemporaryDirectory() as d:
        data, check = os.path.join(d, "cases.lua"), os.path.join(d, "check.lua")
        with open(data, "w") as f:
            f.write("return {\n")
            for lrs, losses, opts, want in cases:
                f.write("{ lrs = {%s}, losses = {%s}, opts = {%s}, want = {%s} },\n" % (
                    ", ".join(lua_num(x) for x in lrs), ", ".join(lua_num(x) for x in losses),
                    ", ".join(f"{k} = {v}" for k, v in opts.items()),
                    ", ".join(f"{k} = {'false' if v is None else v + 1}" for k, v in want.items())))
            f.write("}\n")
        with open(check, "w") as f:
            f.write(LUA_CHECK)
        return subprocess.run(["lua5.4", check, ROOT, data]).returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fuzz", type=int, default=0, help="also check N random curves against the Lua code")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    from importlib.metadata import version
    print("-- " + ", ".join(f"{p} {version(p)}" for p in (
        "numpy", "torch", "torch-lr-finder", "fastai", "lightning", "pytorch-ignite")))
    show_schedules()
    show_smoothing()
    show_stopping()
    show_heuristics()
    if a.fuzz:
        sys.exit(fuzz(a.fuzz, a.seed))


if __name__ == "__main__":
    main()
