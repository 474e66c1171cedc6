"""compare_torch.py — check lrengine's range test against PyTorch + pytorch-lr-finder.

A side-by-side check run by hand, never by the tests or CI: PyTorch is only a
reference here, not a dependency of the project. First run lrengine's half,
then this one (in a throwaway venv with torch, torch-lr-finder, safetensors,
numpy and matplotlib):

    build/lrengine scripts/compare_torch.lua /tmp/cmp 100 12000 2000
    /tmp/refenv/bin/python scripts/compare_torch.py /tmp/cmp

`compare_torch.py --bench [--device cpu|cuda] [--bf16-autocast]` times
torch-lr-finder on the sweep scripts/bench_finder.lua times in lrengine
(it runs scripts/bench_torch_finder.py; `make bench` calls it fp32 and
under torch.autocast("cpu", dtype=torch.bfloat16)).

It reads the same Fashion-MNIST rows (the first n_train training and n_val
test rows, uint8 -> float32 times float32(1/255), exactly lrengine's
scale(1/255)), builds the user's nn.Sequential 784-256-256-10 MLP (or, when
lrengine's half ran with MODEL lenet, the LeNet-style CNN on 1x28x28
images, whose state_dict names are lrengine's too), loads
lrengine's initial weights (OUTDIR/init.safetensors) and compares:

 (a) pytorch-lr-finder's LRFinder.range_test (Adam lr 1e-7, weight_decay 1e-2,
     exp 1e-7 -> 500, smooth_f 0.05, diverge_th 5, val_loader, DataLoader
     batch 128, shuffle=False, drop_last=False: consecutive batches, the
     short last batch, then the next epoch from row 1 — like lrengine's
     trainer with shuffle = false) with lrengine's lrs and smoothed curve,
     and its plot() "steepest" suggestion with lrengine's;
 (b) a plain loop without the finder: torch.optim.Adam stepped with
     lrengine's own learning rates on the same batches, comparing every
     step's training loss and raw validation loss with lrengine's, in
     float32 and (the yardstick) float64.
Both are also run with Adam's betas rounded to float32 ("b32"), a
sensitivity check: lrengine once stored them as float32, which this script
caught (the curves parted near the loss minimum, step ~57); lrengine now
keeps torch's double hyper-parameters and forms the float32 scalars as
torch.optim does, and matches the double-beta run more closely than b32.

Expect float32 rounding (different summation orders in matmuls and
reductions): ~1e-7 relative at first, growing as training amplifies it,
and unrelated values once the loss diverges. Takes ~2.5 min on 2 cores
(the float64 run is most of it).
"""
import gzip
import json
import os
import sys

os.environ.setdefault("TQDM_DISABLE", "1")  # pytorch-lr-finder's progress bar

if __name__ == "__main__" and sys.argv[1:2] == ["--bench"]:
    # compare_torch.py --bench [--device cpu|cuda] [--bf16-autocast] [--num-iter N] ...:
    # the timing half, scripts/bench_torch_finder.py (which `make bench` runs,
    # fp32 and under bf16 autocast); it needs only torch and torch-lr-finder.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_torch_finder

    sys.argv = [sys.argv[0]] + sys.argv[2:]
    sys.exit(bench_torch_finder.main())
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch_lr_finder import LRFinder

DATA = "/usr/share/datasets/fashion-mnist"


def idx(path):
    """An IDX file (gzip): big-endian header, then uint8 data."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def dataset(split, n):
    """The first n rows, in file order, scaled as lrengine's scale(1/255)."""
    x = idx(f"{DATA}/{split}-images-idx3-ubyte.gz")[:n]
    x = x.reshape(n, 1, 28, 28) if MODEL in ("lenet", "bn", "resnet") else x.reshape(n, -1)
    y = idx(f"{DATA}/{split}-labels-idx1-ubyte.gz")[:n]
    x = torch.from_numpy(x.astype(np.float32) * np.float32(1 / 255))
    return TensorDataset(x, torch.from_numpy(y.astype(np.int64)))


MODEL = "mlp"  # or "lenet", "bn", "resnet", as lrengine's half recorded (compare.model)


class Residual(nn.Module):
    """lrengine's residual block: y = f(x) + x, or f(x) + shortcut(x), its
    layers named as lrengine names them (4.0.weight, 4.shortcut.0.weight)."""

    def __init__(self, *layers, shortcut=None):
        super().__init__()
        for j, layer in enumerate(layers):
            self.add_module(str(j), layer)
        self.n = len(layers)
        self.shortcut = nn.Sequential(*shortcut) if shortcut else None

    def forward(self, x):
        h = x
        for j in range(self.n):
            h = getattr(self, str(j))(h)
        return h + (self.shortcut(x) if self.shortcut is not None else x)


def model_from(path):
    def cb(cin, cout, stride=1):
        return [nn.Conv2d(cin, cout, 3, padding=1, stride=stride, bias=False), nn.BatchNorm2d(cout)]

    if MODEL == "resnet":  # examples/fashion_mnist_resnet.lua's
        m = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                          Residual(*cb(8, 8), nn.ReLU(), *cb(8, 8)), nn.ReLU(),
                          Residual(*cb(8, 16, 2), nn.ReLU(), *cb(16, 16),
                                   shortcut=[nn.Conv2d(8, 16, 1, stride=2, bias=False),
                                             nn.BatchNorm2d(16)]),
                          nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
    elif MODEL == "bn":  # conv / batch norm: running statistics in the state_dict too
        m = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 14 * 14, 10))
    elif MODEL == "lenet":  # the LeNet-style net; the same state_dict names as ours
        m = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                          nn.Linear(84, 10))
    else:
        m = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    sd = load_file(path)
    m.load_state_dict({k: v for k, v in sd.items() if not k.startswith("optim.")})
    return m


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.abs(a - b) / np.maximum(np.abs(b), 1e-30)


def report(name, ours, theirs, tol=1e-3):
    n = min(len(ours), len(theirs))
    r = rel(ours[:n], theirs[:n])
    spans = "  ".join(f"first {k}: {r[:k].max():.2e}" for k in (1, 10, 30) if k <= n)
    apart = np.nonzero(~(r <= tol))[0]
    part = f"step {apart[0] + 1}" if len(apart) else "never"
    print(f"  {name:<22} max rel diff  {spans}  all {n}: {r.max():.2e}   parts >{tol:g} at: {part}")


BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults (Python floats: doubles)
BETAS32 = tuple(float(np.float32(b)) for b in BETAS)  # the sensitivity check


def steepest(lrs, losses):
    """pytorch-lr-finder's plot() rule: skip 10 / 5, argmin of np.gradient; (lr, 1-based step)."""
    i = int(np.gradient(losses[10:-5]).argmin())
    return lrs[10 + i], 10 + i + 1


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: compare_torch.py OUTDIR   (after build/lrengine scripts/compare_torch.lua OUTDIR)\n"
                 "       compare_torch.py --bench [--device cpu|cuda] [--bf16-autocast]   (timings)")
    out = sys.argv[1]
    ours = json.load(open(f"{out}/lrengine.json"))
    cfg = ours["compare"]
    global MODEL
    MODEL = cfg.get("model", "mlp")
    nonfinite = {"NaN": np.nan, "Infinity": np.inf, "-Infinity": -np.inf}
    for k in ("lrs", "smoothed", "train_losses", "val_losses"):
        ours[k] = np.array([nonfinite.get(v, v) for v in ours[k]], np.float64)
    train, val = dataset("train", cfg["n_train"]), dataset("t10k", cfg["n_val"])
    bs = cfg["batch_size"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, model {MODEL}; "
          f"{cfg['n_train']} train / {cfg['n_val']} val rows, batch {bs}, {cfg['num_iter']} steps asked")

    s = ours["suggestions"]["steepest"]
    print(f"lrengine: {len(ours['lrs'])} steps ({ours['stop_reason']}), steepest {s['lr']:.6g} "
          f"(step {s['index']}; torch's rule on our curve: {steepest(ours['lrs'], ours['smoothed'])[0]:.6g})")

    # (a) pytorch-lr-finder, as in the user's note; then again with Adam's
    # betas rounded to float32 first: lrengine keeps betas as float32, so it
    # computes 1-beta2 = 1-0.999f = 9.99987e-4 (torch: float32(1e-3)) and the
    # bias corrections from 0.999f (torch: from 0.999) — Adam's update then
    # differs by ~2e-7 relative at step 60, which the curve may amplify.
    for label, betas in (("", BETAS), (", float32 betas", BETAS32)):
        model = model_from(f"{out}/init.safetensors")
        opt = torch.optim.Adam(model.parameters(), lr=1e-7, betas=betas, weight_decay=1e-2)
        lf = LRFinder(model, opt, nn.CrossEntropyLoss(), device="cpu")
        lf.range_test(DataLoader(train, batch_size=bs, shuffle=False),
                      val_loader=DataLoader(val, batch_size=bs, shuffle=False),
                      start_lr=1e-7, end_lr=500, num_iter=cfg["num_iter"], step_mode="exp",
                      smooth_f=0.05, diverge_th=5)
        t_lrs, t_loss = np.array(lf.history["lr"]), np.array(lf.history["loss"])
        _, t_sugg = lf.plot(skip_start=10, skip_end=5, ax=plt.subplots()[1], suggest_lr=True)
        plt.close("all")
        print(f"(a) pytorch-lr-finder{label}: {len(t_lrs)} steps, steepest {t_sugg:.6g} "
              f"(step {steepest(t_lrs, t_loss)[1]})")
        report("lr", ours["lrs"], t_lrs)
        report("smoothed val loss", ours["smoothed"], t_loss)

    # (b) plain torch Adam with lrengine's learning rates, no finder: every
    # step's training loss (before the update) and raw validation loss (after
    # it). float64 is the yardstick that tells float32 noise from a real
    # difference: lrengine should stay as close to torch as torch-float32
    # stays to torch-float64.
    def plain(dtype, betas):
        model = model_from(f"{out}/init.safetensors").to(dtype)
        opt = torch.optim.Adam(model.parameters(), lr=1e-7, betas=betas, weight_decay=1e-2)
        crit, vx, vy = nn.CrossEntropyLoss(), val.tensors[0].to(dtype), val.tensors[1]
        batches = list(DataLoader(train, batch_size=bs, shuffle=False))
        tr, va = [], []
        for k, lr in enumerate(ours["lrs"]):
            x, y = batches[k % len(batches)]
            for g in opt.param_groups:
                g["lr"] = float(lr)
            model.train()  # batch norm: the batch's statistics, running ones moved
            opt.zero_grad()
            loss = crit(model(x.to(dtype)), y)
            loss.backward()
            opt.step()
            tr.append(loss.item())
            model.eval()  # the running statistics, as torch-lr-finder's evaluate
            with torch.no_grad():
                va.append(crit(model(vx), vy).item())
        return np.array(tr), np.array(va)

    (tr, va), (tr64, va64) = plain(torch.float32, BETAS), plain(torch.float64, BETAS)
    tr32b, va32b = plain(torch.float32, BETAS32)
    n20 = min(20, len(tr))
    d = np.abs(tr[:n20] - ours["train_losses"][:n20])
    print(f"(b) torch.optim.Adam, lrengine's lrs, {len(tr)} steps: train loss, first "
          f"{n20} steps max abs diff {d.max():.2e}, max rel {rel(ours['train_losses'][:n20], tr[:n20]).max():.2e}")
    report("train: ours vs f32", ours["train_losses"], tr)
    report("train: f32 vs f64", tr, tr64)
    report("train: ours vs f32 b32", ours["train_losses"], tr32b)
    report("val: ours vs f32", ours["val_losses"], va)
    report("val: f32 vs f64", va, va64)
    report("val: ours vs f32 b32", ours["val_losses"], va32b)

    # How much rounding alone moves the suggestion: the finder's smoothing
    # (smooth_f 0.05) and steepest rule on each plain run's validation
    # curve, cut where lrengine's stopped. Where torch float32 and float64
    # disagree, the curve is past the point where training amplifies
    # rounding (the runs part there), and no float32 engine can promise
    # torch-float32's suggestion.
    def smoothed(v):
        out, avg = [], None
        for x in v:
            avg = x if avg is None else 0.05 * x + 0.95 * avg
            out.append(avg)
        return np.array(out)

    n = len(ours["lrs"])
    for name, v in (("ours", ours["val_losses"]), ("torch f32", va), ("torch f64", va64),
                    ("torch f32 b32", va32b)):
        lr, step = steepest(ours["lrs"][:n], smoothed(v[:n]))
        print(f"  steepest of {name:<14} (plain run, smoothed): {lr:.6g} (step {step})")

if __name__ == "__main__":
    main()
