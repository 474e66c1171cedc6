"""bench_torch_finder.py — the time of pytorch-lr-finder's range test on the
sweep that scripts/bench_finder.lua times in lrengine (a report by hand or
from scripts/gpu_check.sh on a lent GPU; PyTorch is a reference here, never
a dependency of the project):

    python3 scripts/bench_torch_finder.py [--device cuda|cpu] [--data DIR] [--num-iter N]
                                          [--bf16-autocast] [--once] [--model mlp|lenet]
                                          [--micro]

The user's sweep: Fashion-MNIST (DIR holds the four IDX .gz files, default
$LRENGINE_DATA or /usr/share/datasets/fashion-mnist), pixels * float32(1/255),
nn.Sequential 784-256-256-10 with ReLU, Adam(lr=1e-7, weight_decay=1e-2),
exponential 1e-7 -> 500 over N steps (100), smooth_f 0.05, diverge_th 5,
batch 128 — once with the test set as val_loader (every step), once without;
with --bf16-autocast inside torch.autocast(device, dtype=torch.bfloat16), as
PyTorch's own mixed precision runs it (matmuls in bf16, the rest fp32).
With --once: only the sweep with the validation set, no warm-up (to time
the whole process with `time`, as a user runs it). --model lenet: the
LeNet-style CNN of scripts/bench_cnn.lua on 1x28x28 images instead of the
MLP; --micro: also one training step and one validation pass, in ms.
Prints one line each and a JSON line:
    JSON {"device": ..., "with_val_s": ..., "with_val_steps": ..., "train_only_s": ..., ...}
Needs only torch and torch-lr-finder (no numpy, no matplotlib).
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

os.environ.setdefault("TQDM_DISABLE", "1")
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch_lr_finder import LRFinder


def idx(path):
    """An IDX file (gzip or plain) as a uint8 tensor of its shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = torch.frombuffer(bytearray(raw[4 + 4 * ndim:]), dtype=torch.uint8)
    return data.reshape(shape)


def load(data_dir, split):
    pre = "train" if split == "train" else "t10k"
    paths = [os.path.join(data_dir, f"{pre}-{k}-ubyte") for k in ("images-idx3", "labels-idx1")]
    paths = [p + ".gz" if os.path.exists(p + ".gz") else p for p in paths]
    shape = (-1, 1, 28, 28) if MODEL == "lenet" else (-1, 784)
    x = idx(paths[0]).reshape(shape).to(torch.float32) * torch.tensor(1 / 255, dtype=torch.float32)
    y = idx(paths[1]).to(torch.int64)
    return TensorDataset(x, y)


MODEL = "mlp"  # --model: the user's MLP, or the LeNet-style CNN of scripts/bench_cnn.lua


def make_model():
    if MODEL == "lenet":
        return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                             nn.Linear(84, 10))
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def micro(train, val, device, autocast=False):
    """ms per training step at batch 128 (Adam, weight decay 1e-2) and per
    pass over the validation set (batches of 512, no gradient), each the
    median of a few after a warm-up."""
    torch.manual_seed(1)
    model = make_model().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-2)
    crit = nn.CrossEntropyLoss()
    x, y = train.tensors[0][:128].to(device), train.tensors[1][:128].to(device)

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def step():
        with torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=autocast):
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()

    def evaluate():
        with torch.no_grad(), torch.autocast(device.split(":")[0], dtype=torch.bfloat16,
                                             enabled=autocast):
            for vx, vy in DataLoader(val, batch_size=512):
                crit(model(vx.to(device)), vy.to(device)).item()

    def timed(fn, reps, inner):
        fn()
        ts = []
        for _ in range(reps):
            sync()
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            sync()
            ts.append((time.perf_counter() - t0) / inner)
        return 1e3 * sorted(ts)[len(ts) // 2]

    return timed(step, 5, 20), timed(evaluate, 3, 1)


def sweep(train, val, device, num_iter, autocast=False):
    torch.manual_seed(1)
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-7, weight_decay=1e-2)
    finder = LRFinder(model, opt, nn.CrossEntropyLoss(), device=device)
    loader = DataLoader(train, batch_size=128, shuffle=True)
    val_loader = DataLoader(val, batch_size=512) if val is not None else None
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=autocast):
        finder.range_test(loader, val_loader=val_loader, start_lr=1e-7, end_lr=500,
                          num_iter=num_iter, step_mode="exp", smooth_f=0.05, diverge_th=5)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    return dt, len(finder.history["lr"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--data", default=os.environ.get("LRENGINE_DATA") or
                    "/usr/share/datasets/fashion-mnist")
    ap.add_argument("--num-iter", type=int, default=100)
    ap.add_argument("--bf16-autocast", action="store_true")
    ap.add_argument("--once", action="store_true")
    ap.add_argument("--model", choices=("mlp", "lenet"), default="mlp")
    ap.add_argument("--micro", action="store_true",
                    help="also time one training step and one validation pass")
    a = ap.parse_args()
    global MODEL
    MODEL = a.model
    train, val = load(a.data, "train"), load(a.data, "test")
    if a.once:
        tv, nv = sweep(train, val, a.device, a.num_iter, a.bf16_autocast)
        print(f"with validation set   {tv:8.3f} s  {nv} steps")
        return 0
    sweep(train, None, a.device, 5, a.bf16_autocast)  # warm-up: CUDA context, cuBLAS handles
    tv, nv = sweep(train, val, a.device, a.num_iter, a.bf16_autocast)
    tt, nt = sweep(train, None, a.device, a.num_iter, a.bf16_autocast)
    mode = "bf16 autocast" if a.bf16_autocast else "fp32"
    print(f"torch-lr-finder on {a.device}, {mode} (torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads), model {a.model}, {len(train)} training rows")
    print(f"with validation set   {tv:8.3f} s  {nv} steps")
    print(f"training loss only    {tt:8.3f} s  {nt} steps")
    rec = {"device": a.device, "torch": torch.__version__, "mode": mode, "model": a.model,
           "train_rows": len(train), "with_val_s": tv, "with_val_steps": nv,
           "train_only_s": tt, "train_only_steps": nt}
    if a.micro:
        rec["step_ms"], rec["eval_ms"] = micro(train, val, a.device, a.bf16_autocast)
        print(f"one step, batch 128   {rec['step_ms']:8.3f} ms")
        print(f"validation pass       {rec['eval_ms']:8.3f} ms  ({len(val)} rows)")
    print("JSON " + json.dumps(rec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
