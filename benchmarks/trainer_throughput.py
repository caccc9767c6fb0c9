"""Training throughput of hpsearch.nn against PyTorch CPU, and against the machine's sgemm.

One epoch of 60,000 samples (Fashion-MNIST's training images when installed, else synthetic
data of the same shape), float32, on 784-512-10 and 784-256-256-10 ReLU MLPs with
cross-entropy, for SGD and Adam at batch 32 and 128: eight cases in one run. Both loops do the
same work per batch: forward, loss, backward, optimizer step, and read back the batch loss and
correct count. Both use the same BLAS thread count.

Epochs of ours and PyTorch's alternate, each framework in its own process (so both see the same
machine load); the ratio is the median over pairs of neighbouring epochs, after a warm-up epoch.
The GEMM FLOPs of an epoch divided by its median time give our effective GEMM rate, compared
with np.matmul's sgemm rate measured here on the exact products a training step does.
On a loaded machine, --clock cpu times CPU seconds of each process instead of wall seconds
(fair only at --threads 1, where no idle thread spins).

Usage: python benchmarks/trainer_throughput.py [--threads N] [--repeats R] [--clock cpu]
       python benchmarks/trainer_throughput.py --phases   (one step's parts, both kernel paths)
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import itertools
import multiprocessing as mp
import os
import platform
import statistics
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from hpsearch.nn import LOSSES, MLP, Architecture, make_optimizer, train_step, use_kernels

ARCHS = ((512,), (256, 256))
CASE_BATCHES = (32, 128)
N_SAMPLES = 60_000
# The clock of every timing: wall time, or with --clock cpu the CPU time of this process (all
# its threads), which a loaded machine's preemption does not inflate (meaningful at 1 thread:
# idle BLAS threads spin, and CPU time would count the spinning).
clock = time.perf_counter
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
        start = clock()
        for _ in range(inner):
            fn()
        best = min(best, (clock() - start) / inner)
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
    def __init__(
        self, hidden: tuple[int, ...], optimizer: str, batch: int = 128, samples: int = N_SAMPLES
    ) -> None:
        self.batch = batch
        self.model = MLP(Architecture(784, hidden, 10), np.random.default_rng(0))
        self.opt = make_optimizer(optimizer, self.model.parameters(), lr=1e-3)
        self.loss = LOSSES["cross_entropy"]()
        self.rng = np.random.default_rng(1)
        X, y, _ = load_data()
        self.X, self.y = X[:samples], y[:samples]

    def epoch(self) -> float:
        X, y = self.X, self.y
        start = clock()
        for i in range(0, len(X), self.batch):
            xb, yb = X[i : i + self.batch], y[i : i + self.batch]
            train_step(self.model, self.opt, self.loss, xb, yb, l2=0.0, rng=self.rng)
        return clock() - start


class Torch:
    def __init__(
        self, hidden: tuple[int, ...], optimizer: str, batch: int = 128, samples: int = N_SAMPLES
    ) -> None:
        import torch

        self.batch = batch
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
        self.X, self.y = torch.from_numpy(X[:samples]), torch.from_numpy(y[:samples])

    def epoch(self) -> float:
        X, y = self.X, self.y
        start = clock()
        for i in range(0, len(X), self.batch):
            xb, yb = X[i : i + self.batch], y[i : i + self.batch]
            self.opt.zero_grad(set_to_none=True)
            logits = self.net(xb)
            loss = self.loss(logits, yb)
            loss.backward()
            self.opt.step()
            _ = (loss.item(), int((logits.argmax(1) == yb).sum()))
        return clock() - start


PHASE_BATCHES = (32, 128, 512)


def phase_times(
    hidden: tuple[int, ...], optimizer: str, batch: int, kernels: str, steps: int = 300
) -> dict[str, float]:
    """Milliseconds per step in forward, loss, backward and the optimizer, over `steps` steps."""
    with use_kernels(kernels):
        ours = Ours(hidden, optimizer)
    model, opt, loss = ours.model, ours.opt, ours.loss
    totals = dict.fromkeys(("forward", "loss", "backward", "optimizer"), 0.0)
    for i in range(steps + 30):  # the first 30 warm up
        j = (i * batch) % (len(ours.X) - batch)
        xb, yb = ours.X[j : j + batch], ours.y[j : j + batch]
        t0 = clock()
        logits = model.forward(xb, train=True, rng=ours.rng)
        t1 = clock()
        _, dlogits = loss.value_and_grad(logits, yb)
        t2 = clock()
        model.backward(dlogits)
        t3 = clock()
        opt.step()
        t4 = clock()
        if i >= 30:
            for key, seconds in zip(totals, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                totals[key] += seconds
    return {key: 1000 * seconds / steps for key, seconds in totals.items()}


def _print_phases(args: Any) -> None:
    """Both kernel paths, alternating, `args.repeats` times; the median of each phase."""
    with threadpool_limits(limits=args.threads):
        print("; ".join(_blas(i) for i in threadpool_info()))
        for hidden, optimizer, batch in itertools.product(ARCHS, ("sgd", "adam"), PHASE_BATCHES):
            runs: dict[str, list[dict[str, float]]] = {"reference": [], "blocked": []}
            for _ in range(args.repeats):
                for kernels, found in runs.items():
                    found.append(phase_times(hidden, optimizer, batch, kernels))
            name = "-".join(map(str, (784, *hidden, 10)))
            for kernels, found in runs.items():
                ms = {key: statistics.median(r[key] for r in found) for key in found[0]}
                parts = ", ".join(f"{key} {value:.3f}" for key, value in ms.items())
                total = statistics.median(sum(r.values()) for r in found)
                print(f"{name} {optimizer} batch {batch} {kernels:9}: ms per step: {parts}; "
                      f"total {total:.3f}", flush=True)  # fmt: skip


def _set_clock(name: str) -> None:
    global clock
    clock = time.process_time if name == "cpu" else time.perf_counter


Case = tuple[tuple[int, ...], str, int]  # hidden widths, optimizer, batch size


def _worker(conn: Connection, framework: str, case: Case, args: Any) -> None:
    """One framework in its own process: no two thread pools share (or spin on) the CPUs."""
    _set_clock(args.clock)
    with threadpool_limits(limits=args.threads):
        if framework == "torch":
            import torch

            torch.set_num_threads(args.threads)
            trainer: Ours | Torch = Torch(*case, samples=args.samples)
            info = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
        else:
            trainer = Ours(*case, samples=args.samples)
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


def _compare(case: Case, args: Any, frameworks: list[str]) -> dict[str, list[float]]:
    """Alternate epochs of each framework's worker process; their epoch times in seconds."""
    ctx = mp.get_context("spawn")
    workers = {}
    for name in frameworks:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(child, name, case, args), daemon=True)
        proc.start()
        workers[name] = (parent, proc)
    times: dict[str, list[float]] = {name: [] for name in frameworks}
    for name, (conn, _) in workers.items():
        print(f"  {name}: {conn.recv()}", flush=True)
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
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--phases", action="store_true", help="time the parts of one step")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    parser.add_argument("--samples", type=int, default=N_SAMPLES, help="per epoch")
    args = parser.parse_args()
    _set_clock(args.clock)
    if args.phases:
        _print_phases(args)
        return
    frameworks = ["ours"]
    if importlib.util.find_spec("torch") is not None:
        frameworks.append("torch")
    X, _, source = load_data()
    X = X[: args.samples]
    print(f"data: {source}, {len(X)} samples per epoch, float32, lr=1e-3, {args.clock} clock")
    print(
        f"threads: {args.threads} (threadpoolctl for NumPy, torch.set_num_threads for torch); "
        "each framework in its own process, epochs alternating, medians of "
        f"{args.repeats} after a warm-up epoch; host: {platform.node()} {platform.processor()} "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    if "torch" not in frameworks:
        print("torch: not installed, PyTorch column skipped")
    with threadpool_limits(limits=args.threads):
        square = sgemm_square_gflops()
        for case in itertools.product(ARCHS, ("sgd", "adam"), CASE_BATCHES):
            hidden, optimizer, batch = case
            widths = (784, *hidden, 10)
            print(f"\n{'-'.join(map(str, widths))} {optimizer} batch {batch}:", flush=True)
            at_size = sgemm_step_gflops(widths, batch)
            times = _compare(case, args, frameworks)
            # re-measured after the epochs, the better kept: a busy moment cannot flatter us
            at_size = max(at_size, sgemm_step_gflops(widths, batch))
            _report(widths, batch, times, at_size, len(X))
        square = max(square, sgemm_square_gflops())
    print(f"\nsgemm 2048x2048x2048 (best of two): {square:.1f} GFLOP/s")


def _report(
    widths: tuple[int, ...], batch: int, times: dict[str, list[float]], at_size: float, n: int
) -> None:
    ours = statistics.median(times["ours"])
    for name, label in (("ours", "hpsearch.nn"), ("torch", "torch CPU  ")):
        if name in times:
            print(f"  {label}  median {n / statistics.median(times[name]):9.0f} samples/s")
    if "torch" in times:
        paired = [t / o for t, o in zip(times["torch"], times["ours"], strict=True)]
        print(f"  ratio ours/torch: median of paired epochs {statistics.median(paired):.2f} "
              f"(range {min(paired):.2f}-{max(paired):.2f})")  # fmt: skip
    rate = gemm_flops_per_step(widths, batch) * (n / batch) / ours / 1e9
    print(f"  our GEMM rate {rate:.1f} GFLOP/s = {100 * rate / at_size:.0f}% of sgemm on the "
          f"same shapes ({at_size:.1f} GFLOP/s)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
