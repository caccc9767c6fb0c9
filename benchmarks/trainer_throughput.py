"""Training throughput of hpsearch.nn against PyTorch CPU, and against the machine's sgemm.

One epoch of 60,000 samples (Fashion-MNIST's training images when installed, else synthetic
data of the same shape), batch 128, float32, on 784-512-10 and 784-256-256-10 ReLU MLPs with
cross-entropy. Both loops do the same work per batch: forward, loss, backward, optimizer step,
and read back the batch loss and correct count. Both use the same BLAS thread count.

Epochs of ours and PyTorch's alternate (so both see the same machine load) and the best of
--repeats epochs is reported for each, after a warm-up epoch. The GEMM FLOPs of an epoch
divided by its time give our effective GEMM rate, compared with np.matmul's sgemm rate measured
here on a large square product and on the exact shapes a training step uses.

Usage: python benchmarks/trainer_throughput.py [--threads N] [--repeats R] [--optimizer adam]
       python benchmarks/trainer_throughput.py --phases   (where one step of ours spends its time)
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import itertools
import multiprocessing as mp
import os
import statistics
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from hpsearch.nn import LOSSES, MLP, Architecture, make_optimizer, train_step

ARCHS = ((512,), (256, 256))
BATCH = 128
N_SAMPLES = 60_000
FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def load_data() -> tuple[np.ndarray, np.ndarray, str]:
    """X (60000, 784) float32 in [0, 1], y (60000,) int64 and where they came from."""
    labels = FASHION.with_name("train-labels-idx1-ubyte.gz")
    if FASHION.exists() and labels.exists():
        images = np.frombuffer(gzip.decompress(FASHION.read_bytes())[16:], np.uint8)
        X = images.reshape(-1, 784).astype(np.float32) / np.float32(255)
        y = np.frombuffer(gzip.decompress(labels.read_bytes())[8:], np.uint8).astype(np.int64)
        return X[:N_SAMPLES], y[:N_SAMPLES], f"Fashion-MNIST ({FASHION.parent})"
    rng = np.random.default_rng(0)
    X = rng.random((N_SAMPLES, 784), dtype=np.float32)
    return X, rng.integers(0, 10, N_SAMPLES), "synthetic uniform"


def gemm_flops_per_step(widths: tuple[int, ...], n: int) -> int:
    """FLOPs of the matrix products in one step: forward, dW, and dX except for the input."""
    flops = 0
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        products = 2 if i == 0 else 3
        flops += products * 2 * n * a * b
    return flops


def best_seconds(fn: Callable[[], object], repeats: int = 7, inner: int = 20) -> float:
    """Best mean time of `inner` calls, over `repeats` tries."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - start) / inner)
    return best


def sgemm_square_gflops(size: int = 2048) -> float:
    rng = np.random.default_rng(0)
    a, b = rng.random((size, size), dtype=np.float32), rng.random((size, size), dtype=np.float32)
    out = np.empty((size, size), np.float32)
    return 2 * size**3 / best_seconds(lambda: np.matmul(a, b, out=out), inner=3) / 1e9


def sgemm_step_gflops(widths: tuple[int, ...], n: int) -> float:
    """sgemm rate on exactly the products one training step does, back to back."""
    rng = np.random.default_rng(0)
    calls = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        x = rng.random((n, a), dtype=np.float32)
        w = rng.random((a, b), dtype=np.float32)
        dz = rng.random((n, b), dtype=np.float32)
        z, dw, dx = np.empty((n, b), np.float32), np.empty_like(w), np.empty_like(x)
        calls.append(lambda x=x, w=w, z=z: np.matmul(x, w, out=z))
        calls.append(lambda x=x, dz=dz, dw=dw: np.matmul(x.T, dz, out=dw))
        if i > 0:
            calls.append(lambda dz=dz, w=w, dx=dx: np.matmul(dz, w.T, out=dx))

    def step() -> None:
        for call in calls:
            call()

    return gemm_flops_per_step(widths, n) / best_seconds(step) / 1e9


class Ours:
    def __init__(self, hidden: tuple[int, ...], optimizer: str) -> None:
        self.model = MLP(Architecture(784, hidden, 10), np.random.default_rng(0))
        self.opt = make_optimizer(optimizer, self.model.parameters(), lr=1e-3)
        self.loss = LOSSES["cross_entropy"]()
        self.rng = np.random.default_rng(1)
        self.X, self.y, _ = load_data()

    def epoch(self) -> float:
        X, y = self.X, self.y
        start = time.perf_counter()
        for i in range(0, len(X), BATCH):
            xb, yb = X[i : i + BATCH], y[i : i + BATCH]
            train_step(self.model, self.opt, self.loss, xb, yb, l2=0.0, rng=self.rng)
        return time.perf_counter() - start


class Torch:
    def __init__(self, hidden: tuple[int, ...], optimizer: str) -> None:
        import torch

        self.torch = torch
        torch.manual_seed(0)
        layers, width = [], 784
        for h in hidden:
            layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
            width = h
        self.net = torch.nn.Sequential(*layers, torch.nn.Linear(width, 10))
        cls = torch.optim.Adam if optimizer == "adam" else torch.optim.SGD
        self.opt = cls(self.net.parameters(), lr=1e-3)
        self.loss = torch.nn.CrossEntropyLoss()
        X, y, _ = load_data()
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)

    def epoch(self) -> float:
        X, y = self.X, self.y
        start = time.perf_counter()
        for i in range(0, len(X), BATCH):
            xb, yb = X[i : i + BATCH], y[i : i + BATCH]
            self.opt.zero_grad(set_to_none=True)
            logits = self.net(xb)
            loss = self.loss(logits, yb)
            loss.backward()
            self.opt.step()
            _ = (loss.item(), int((logits.argmax(1) == yb).sum()))
        return time.perf_counter() - start


def phase_times(hidden: tuple[int, ...], optimizer: str, steps: int = 500) -> dict[str, float]:
    """Milliseconds per step in forward, loss, backward and the optimizer, over `steps` steps."""
    ours = Ours(hidden, optimizer)
    model, opt, loss = ours.model, ours.opt, ours.loss
    totals = dict.fromkeys(("forward", "loss", "backward", "optimizer"), 0.0)
    for i in range(steps + 50):  # the first 50 warm up
        j = (i * BATCH) % (len(ours.X) - BATCH)
        xb, yb = ours.X[j : j + BATCH], ours.y[j : j + BATCH]
        t0 = time.perf_counter()
        logits = model.forward(xb, train=True, rng=ours.rng)
        t1 = time.perf_counter()
        _, dlogits = loss.value_and_grad(logits, yb)
        t2 = time.perf_counter()
        model.backward(dlogits)
        t3 = time.perf_counter()
        opt.step()
        t4 = time.perf_counter()
        if i >= 50:
            for key, seconds in zip(totals, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                totals[key] += seconds
    return {key: 1000 * seconds / steps for key, seconds in totals.items()}


def _print_phases(args: Any) -> None:
    with threadpool_limits(limits=args.threads):
        print("; ".join(_blas(i) for i in threadpool_info()))
        for hidden in ARCHS:
            ms = phase_times(hidden, args.optimizer)
            parts = ", ".join(f"{key} {value:.2f}" for key, value in ms.items())
            print(f"{'-'.join(map(str, (784, *hidden, 10)))}: ms per step: {parts}; "
                  f"total {sum(ms.values()):.2f}")  # fmt: skip


def _worker(conn: Connection, framework: str, hidden: tuple[int, ...], args: Any) -> None:
    """One framework in its own process: no two thread pools share (or spin on) the CPUs."""
    with threadpool_limits(limits=args.threads):
        if framework == "torch":
            import torch

            torch.set_num_threads(args.threads)
            trainer: Ours | Torch = Torch(hidden, args.optimizer)
            info = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
        else:
            trainer = Ours(hidden, args.optimizer)
            info = "; ".join(_blas(i) for i in threadpool_info())
        trainer.epoch()  # warm-up: buffers, thread pools, page faults
        conn.send(info)
        while conn.recv():
            conn.send(trainer.epoch())


def _blas(info: dict) -> str:
    return (
        f"{info['internal_api']} {info.get('version')} kernel={info.get('architecture')} "
        f"threads={info['num_threads']}"
    )


def _compare(hidden: tuple[int, ...], args: Any, frameworks: list[str]) -> dict[str, list[float]]:
    """Alternate epochs of each framework's worker process; their epoch times in seconds."""
    ctx = mp.get_context("spawn")
    workers = {}
    for name in frameworks:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(child, name, hidden, args), daemon=True)
        proc.start()
        workers[name] = (parent, proc)
    times: dict[str, list[float]] = {name: [] for name in frameworks}
    for name, (conn, _) in workers.items():
        print(f"  {name}: {conn.recv()}")
    for _ in range(args.repeats):
        for name, (conn, _) in workers.items():
            time.sleep(0.3)  # the other worker's BLAS/OpenMP threads stop spinning meanwhile
            conn.send(True)
            times[name].append(conn.recv())
    for conn, proc in workers.values():
        conn.send(False)
        proc.join()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    parser.add_argument("--phases", action="store_true", help="time the parts of one step")
    args = parser.parse_args()
    if args.phases:
        _print_phases(args)
        return
    frameworks = ["ours"]
    if importlib.util.find_spec("torch") is not None:
        frameworks.append("torch")

    X, _, source = load_data()
    n = len(X)
    print(f"data: {source}, {n} samples, batch {BATCH}, float32, {args.optimizer} lr=1e-3")
    print(
        f"threads: {args.threads} (threadpoolctl for NumPy, torch.set_num_threads for torch); "
        "each framework in its own process, epochs alternating, best of "
        f"{args.repeats} after a warm-up epoch"
    )
    if "torch" not in frameworks:
        print("torch: not installed, PyTorch column skipped")
    # The machine may be shared: every rate is a best-of, and the sgemm references are
    # re-measured around each comparison so that a busy moment cannot flatter our percentage.
    results = []
    with threadpool_limits(limits=args.threads):
        square = sgemm_square_gflops()
        for hidden in ARCHS:
            widths = (784, *hidden, 10)
            at_size = sgemm_step_gflops(widths, BATCH)
            print(f"\n{'-'.join(map(str, widths))}:")
            times = _compare(hidden, args, frameworks)
            at_size = max(at_size, sgemm_step_gflops(widths, BATCH))
            square = max(square, sgemm_square_gflops())
            results.append((widths, times, at_size))
    print(f"\nsgemm 2048x2048x2048 (best of all measurements): {square:.1f} GFLOP/s")
    for widths, times, at_size in results:
        _report(widths, times, at_size, square, n)


def _report(
    widths: tuple[int, ...], times: dict[str, list[float]], at_size: float, square: float, n: int
) -> None:
    print(f"\n{'-'.join(map(str, widths))}: sgemm on this step's shapes {at_size:.1f} GFLOP/s")
    best = min(times["ours"])
    for name, label in (("ours", "hpsearch.nn"), ("torch", "torch CPU  ")):
        if name in times:
            print(
                f"  {label}  best {n / min(times[name]):9.0f} samples/s  "
                f"(median {n / statistics.median(times[name]):9.0f})"
            )
    if "torch" in times:
        print(f"  ratio ours/torch (best epochs): {min(times['torch']) / best:.2f}")
    rate = gemm_flops_per_step(widths, BATCH) * (n / BATCH) / best / 1e9
    print(
        f"  our GEMM rate: {rate:.1f} GFLOP/s = {100 * rate / square:.0f}% of square "
        f"sgemm, {100 * rate / at_size:.0f}% of sgemm on the same shapes"
    )


if __name__ == "__main__":
    main()
