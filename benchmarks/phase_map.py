"""Cells per second of a fixed small phase map (the gradient measure) on one worker, on a process
pool of all cores, and on a Dask LocalCluster of as many workers: the speed-up measured, not assumed,
and Dask's overhead per cell beside the pool's.

    python benchmarks/phase_map.py [--repeats 3] [--json results.json]

Every run computes the same map (the cells are seeded from their configs), and each run's cells are
checked equal to the one-worker run's. The clock is wall time (the workers are other processes);
a process pool's and a cluster's start-up are timed apart from the map. BLAS is pinned to one
thread, so two workers on two cores do not fight over them.
"""
import os

os.environ.update(dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), "1"))

import argparse  # noqa: E402  (the thread variables must be set before numpy is imported)
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

from tinygrad_vg.commands import phase  # noqa: E402
from tinygrad_vg.sweep import SerialExecutor, default_executor, sweep  # noqa: E402

MAP = dict(sigma_w=[0.5 + 0.25 * k for k in range(7)], sigma_b=[0.05], depths=[50, 100], width=128, batch=16, seeds=3)


def cells():
    return [{"sigma_w": w, "sigma_b": b, "depth": d, "seed": s, "width": MAP["width"], "batch": MAP["batch"]}
            for b in MAP["sigma_b"] for d in MAP["depths"] for w in MAP["sigma_w"] for s in range(MAP["seeds"])]


def timed_map(executor):
    start = time.perf_counter()
    results = sweep(phase.gradient_cell, cells(), executor, progress=None)
    return time.perf_counter() - start, results


def measure(name, start_executor, repeats, reference):
    start = time.perf_counter()
    executor, close = start_executor()
    startup = time.perf_counter() - start
    try:
        timed_map(executor)                       # warm-up: workers import the engine once
        times = []
        for _ in range(repeats):
            seconds, results = timed_map(executor)
            if reference is not None and results != reference:
                raise SystemExit(f"{name}: the map differs from the one-worker map")
            times.append(seconds)
    finally:
        close()
    median = statistics.median(times)
    return {"executor": name, "startup_s": startup, "median_s": median, "cells_per_s": len(cells()) / median}


def dask_cluster(workers):
    from distributed import Client, LocalCluster
    client = Client(LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None))
    return client.get_executor(pure=False), client.close


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    workers = os.cpu_count()
    _, reference = timed_map(SerialExecutor())
    rows = [measure("1 worker (this process)", lambda: (SerialExecutor(), lambda: None), args.repeats, reference)]
    pool = default_executor(workers)
    rows.append(measure(f"process pool, {workers} workers", lambda: (pool, pool.shutdown), args.repeats, reference))
    try:
        rows.append(measure(f"Dask LocalCluster, {workers} workers", lambda: dask_cluster(workers), args.repeats, reference))
    except ImportError:
        print('Dask is not installed (pip install -e ".[cluster]"): its row is left out')
    print(f"phase map: {len(cells())} cells (tanh, width {MAP['width']}, depths {MAP['depths']}), "
          f"load average {os.getloadavg()[0]:.2f}, {args.repeats} repeats")
    print(f"{'executor':<34}{'start-up s':>11}{'map s':>8}{'cells/s':>9}{'speed-up':>9}{'per cell ms':>12}")
    serial = rows[0]
    for row in rows:
        row["speed_up"] = serial["median_s"] / row["median_s"]
        row["ms_per_cell_beyond_ideal"] = 1000 * (row["median_s"] - serial["median_s"] / (1 if row is serial else workers)) / len(cells())
        print(f"{row['executor']:<34}{row['startup_s']:>11.2f}{row['median_s']:>8.2f}{row['cells_per_s']:>9.1f}"
              f"{row['speed_up']:>9.2f}{row['ms_per_cell_beyond_ideal']:>12.2f}")
    print("per cell ms: time per cell beyond a perfect split of the one-worker time over the workers")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(rows, file, indent=1)


if __name__ == "__main__":
    main()
