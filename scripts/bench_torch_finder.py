"""bench_torch_finder.py — the time of pytorch-lr-finder's range test on the
sweep that scripts/bench_finder.lua times in lrengine (a report by hand or
from scripts/gpu_check.sh on a lent GPU; PyTorch is a reference here, never
a dependency of the project):

    python3 scripts/bench_torch_finder.py [--device cuda|cpu] [--data DIR] [--num-iter N]
                                          [--bf16-autocast] [--once]

The user's sweep: Fashion-MNIST (DIR holds the four IDX .gz files, default
$LRENGINE_DATA or /usr/share/datasets/fashion-mnist), pixels * float32(1/255),
nn.Sequential 784-256-256-10 with ReLU, Adam(lr=1e-7, weight_decay=1e-2),
exponential 1e-7 -> 500 over N steps (100), smooth_f 0.05, diverge_th 5,
batch 128 — once with the test set as val_loader (every step), once without;
with --bf16-autocast inside torch.autocast(device, dtype=torch.bfloat16), as
PyTorch's own mixed precision runs it (matmuls in bf16, the rest fp32).
With --once: only the sweep with the validation set, no warm-up (to time
the whole process with `time`, as a user runs it).
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
    x = idx(paths[0]).reshape(-1, 784).to(torch.float32) * torch.tensor(1 / 255, dtype=torch.float32)
    y = idx(paths[1]).to(torch.int64)
    return TensorDataset(x, y)


def sweep(train, val, device, num_iter, autocast=False):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 10))
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
    a = ap.parse_args()
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
          f"{torch.get_num_threads()} threads), {len(train)} training rows")
    print(f"with validation set   {tv:8.3f} s  {nv} steps")
    print(f"training loss only    {tt:8.3f} s  {nt} steps")
    print("JSON " + json.dumps({"device": a.device, "torch": torch.__version__, "mode": mode,
                                "train_rows": len(train), "with_val_s": tv, "with_val_steps": nv,
                                "train_only_s": tt, "train_only_steps": nt}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
