"""Workers x BLAS threads for this machine, chosen from a measurement instead of a rule.

cores / workers is the rule this replaced: on a loaded or oddly shaped machine two BLAS
threads can train slower than one (spinning threads fight for cores), and how far processes
scale depends on memory bandwidth. So, once per machine, W worker processes each with T
threads train a representative MLP (784-256-10, Adam, batch 128) side by side for a moment,
for the combinations that fill the cores, and their total samples/s are cached per user
($XDG_CACHE_HOME/hpsearch/machine-threads.json, under the machine's name, core count and BLAS
kernel; delete the file to measure again). A launch then takes the best measured combination
(or, with --workers W, the best T for that W; nothing is measured when W leaves one choice).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from hpsearch.nn import LOSSES, MLP, Architecture, make_optimizer, train_step
from hpsearch.places import cache_root

CACHE_FILE = "machine-threads.json"
MEASURE_SECONDS = 0.6
_BATCH = 128


@dataclass(frozen=True)
class ThreadChoice:
    workers: int
    threads: int
    samples_per_second: float | None  # all workers together, as measured; None: not measured
    how: str = "measured"  # or "given": set by the caller

    def describe(self) -> str:
        """What each trial records, e.g. '2x1 (measured 41000 samples/s)'."""
        if self.how == "given":
            return f"{self.workers}x{self.threads} (given)"
        if self.samples_per_second is None:
            return f"{self.workers}x{self.threads} (the only combination on {usable_cores()} cores)"
        return f"{self.workers}x{self.threads} (measured {self.samples_per_second:.0f} samples/s)"


def usable_cores() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cores or 1


def choose(workers: int | None, cache: Path | None = None) -> ThreadChoice:
    """The best measured combination; `workers` fixes W (then only T is chosen)."""
    cores = usable_cores()
    candidates = _candidates(workers, cores)
    if len(candidates) == 1:
        return ThreadChoice(*candidates[0], None)
    cache = cache or cache_root()
    rates = _cached_rates(cache)
    missing = [c for c in candidates if _key(*c) not in rates]
    if missing:
        rates.update({_key(*c): measure(*c) for c in missing})
        _store_rates(cache, rates)
    best = max(candidates, key=lambda c: (rates[_key(*c)], -c[0]))
    return ThreadChoice(best[0], best[1], rates[_key(*best)])


def _candidates(workers: int | None, cores: int) -> list[tuple[int, int]]:
    """(W, T) pairs worth measuring: every T up to cores/W for a fixed W, else full machines."""
    if workers is not None:
        return [(workers, t) for t in range(1, max(1, cores // workers) + 1)]
    return sorted({(w, cores // w) for w in range(1, cores + 1)})


def measure(workers: int, threads: int, seconds: float = MEASURE_SECONDS) -> float:
    """Total training samples/s of `workers` processes of `threads` BLAS threads each."""
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    results: Any = context.Queue()
    processes = [
        context.Process(
            target=_train_for_a_moment, args=(threads, seconds, start, results), daemon=True
        )
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    ready = [results.get(timeout=120) for _ in processes]  # each has built its model
    assert all(r == "ready" for r in ready)
    start.set()
    total = sum(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join()
    return float(total)


def _train_for_a_moment(threads: int, seconds: float, start: Any, results: Any) -> None:
    rng = np.random.default_rng(0)
    X, y = rng.random((_BATCH * 8, 784), dtype=np.float32), rng.integers(0, 10, _BATCH * 8)
    model = MLP(Architecture(784, (256,), 10), rng)
    opt, loss = make_optimizer("adam", model.parameters()), LOSSES["cross_entropy"]()
    with threadpool_limits(limits=threads):
        for _ in range(5):  # warm-up: buffers, thread pools
            train_step(model, opt, loss, X[:_BATCH], y[:_BATCH], l2=0.0, rng=rng)
        results.put("ready")
        start.wait()
        steps, began = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - began) < seconds:
            i = (steps % 8) * _BATCH
            train_step(model, opt, loss, X[i : i + _BATCH], y[i : i + _BATCH], l2=0.0, rng=rng)
            steps += 1
    results.put(steps * _BATCH / elapsed)


def _machine() -> str:
    kernels = sorted({str(i.get("architecture")) for i in threadpool_info()})
    return f"{socket.gethostname()}/{usable_cores()} cores/{'+'.join(kernels)}"


def _key(workers: int, threads: int) -> str:
    return f"{workers}x{threads}"


def _cached_rates(home: Path) -> dict[str, float]:
    try:
        cached = json.loads((home / CACHE_FILE).read_text())
        rates = cached.get(_machine(), {})
        return {str(k): float(v) for k, v in rates.items()}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}  # no cache yet, or one we cannot read: measure again


def _store_rates(home: Path, rates: dict[str, float]) -> None:
    path = home / CACHE_FILE
    try:
        machines = json.loads(path.read_text())
        if not isinstance(machines, dict):
            machines = {}
    except (OSError, ValueError):
        machines = {}
    machines[_machine()] = rates
    home.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(machines, indent=1, sort_keys=True))
    tmp.replace(path)  # atomic: a concurrent launch reads the old file or the new one
