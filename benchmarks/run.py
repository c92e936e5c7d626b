"""Benchmarks of issues 6 and 15: tinygrad_vg against a hand-written numpy forward/backward of the same model.

    python benchmarks/run.py                 # the full suite, a few minutes
    python benchmarks/run.py --quick         # reduced sizes, seconds: a smoke run
    python benchmarks/run.py -w W1 W3 --repeats 9 --json results.json
    python benchmarks/run.py --deep          # adds W3 at 1,000,000 steps

Workloads (defined in benchmarks/workloads.py):
  W1  50-layer tanh MLP, batch 64, one SGD step: widths 64, 256, 1024 in float64, 256 in float32
  W2  2000 elementwise ops on shape (16,): x <- exp(tanh(x * a + b)), build + backward
  W3  scalar chain x <- tanh(x * a + b), 10,000 and 100,000 steps (3 ops each), build + backward
  W4  vanilla tanh RNN, T=200, hidden 128, batch 32, loss on the final state, BPTT + SGD step, its
      step linear(x, U) + linear(h, W, b) as nn.RNN's, and again written x @ U.T + h @ W.T + b

Method. Every implementation first takes one step whose gradients are checked against the
hand-written numpy ones (this step is also the warm-up). Then the implementations take turns, one
timed step each, `repeats` times, with gc.collect() before each timed step, outside the timing (the
collector itself stays on, as users have it, and the time spent inside it is read through gc.callbacks
and reported as a share of the step: that is what a graph of 10^5+ nodes can lose to it). The clock is the process's CPU time by default: with
BLAS on one thread it equals wall time on an idle machine, and it does not count the time the
process waits while other load on a shared machine runs (`--clock wall` for wall time; the header
prints the load average). Reported: median and min-max time per step, the ratio
tinygrad_vg/numpy of the medians, microseconds per op for W2 and W3, and, from one more untimed
step per side, the peak memory traced by tracemalloc (numpy reports its array buffers to it) and the
memory still held once the step has returned (the gradients kept in .grad, plus anything that only
the cyclic garbage collector could free). PyTorch and HIPS autograd become extra columns when they
are installed; they are never required. Each peer is timed in a Python process of its own, taking
turns with numpy there: importing torch adds ~150,000 Python objects that every full collection of
the garbage collector then walks, which would tax the tinygrad_vg steps of a shared process (W3 at
100,000 steps: 5.0 instead of 4.4 us/op).

BLAS threads are pinned to 1, so that ratios measure the engine and not thread scheduling:
OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS are set to 1 before numpy (or torch) is
imported, and when threadpoolctl is installed threadpool_limits(1) is applied as well and reports
the BLAS library and its thread count. The header says which BLAS was used and how it was pinned.

The allocator is pinned too. glibc's malloc hands freed heap memory back to the operating system
as soon as more than 128 KiB of it lies free at the top of the heap, and the next step faults it
back in, page by page (~1 us a page on the development VM). Which implementation pays for that
depends on where each one's long-lived arrays happen to sit, so the same code measured 35 or 44 ms
for W4 depending on which side was set up first (346 page faults per step against 8,077). Run as
a script, this file re-executes itself with GLIBC_TUNABLES set so that malloc keeps what it was
given (no trimming, no mmap below 32 MiB), the same for every implementation; --system-malloc
keeps glibc's defaults, to see what a program left to them may pay. The minor page faults of each
step are reported either way.

Two paths of the engine are timed, each against numpy in the same process. The training path
(the main table, under the pinned malloc above) calls backward(retain_grads=False). The default
path (issue 15) is what a user's loop does: plain loss.backward() under glibc's default malloc, with
no GLIBC_TUNABLES; the full run times it and numpy each alone in fresh child processes, --rounds per
side and case taking turns (what ran in the heap before changes a step's page faults, as above), with page
faults and peak memory, and prints it as a second table (--default-path alone times the two in
turns in one process; --heap-padding BYTES, passed on to every child, moves the heap's long-lived
blocks, to see how much of a default-path figure is where they happened to sit).

Exit status 1 when an implementation fails or its gradients disagree with numpy's; a missed budget
is reported in the table but is not an error.
"""
import os

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
STEADY_MALLOC = "glibc.malloc.trim_threshold=4294967296:glibc.malloc.mmap_threshold=33554432"

import argparse  # noqa: E402  (the thread variables must be set before numpy is imported)
import contextlib  # noqa: E402
import dataclasses  # noqa: E402
import gc  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tinygrad_vg, installed or not
from workloads import (IMPLEMENTATIONS, Workload, elementwise_chain, mlp, rnn,  # noqa: E402
                       scalar_chain)

ENGINE, BASELINE = "tinygrad_vg", "numpy"
PEERS = ("torch", "autograd")
# Every implementation runs the same ops in the same order, up to the order of a few sums: results
# differ by a few ulps per op, growing at most linearly along a 50-layer or 100,000-step chain.
GRAD_RTOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}


@dataclass(frozen=True)
class Case:
    group: str                   # "W1".."W4", what --workload selects
    workload: Workload
    budget: float | None         # on us/op when the workload counts ops, else on the time ratio
    memory_budget: float | None  # on the peak-memory ratio tinygrad_vg/numpy
    repeats: int
    default_budget: float | None = None         # issue 15's, for the default path (--default-path)
    default_memory_budget: float | None = None


def suite(quick, deep, repeats):
    """The cases of issue 6 with its budgets; --quick shrinks every size (budgets stay as a guide)."""
    depth, rnn_steps, n_ops, chain_steps = (5, 20, 200, [1_000, 10_000]) if quick else \
                                           (50, 200, 2000, [10_000, 100_000])
    if deep:
        chain_steps.append(1_000_000)

    def repeats_or(default):
        return repeats or (3 if quick else default)

    cases = [
        Case("W1", mlp(depth, 64, 64), 1.6, 1.5, repeats_or(9), 1.6),
        Case("W1", mlp(depth, 256, 64), 1.10, 1.5, repeats_or(9), 1.15, 1.5),
        Case("W1", mlp(depth, 256, 64, layer="operators"), None, 1.5, repeats_or(9)),
        Case("W1", mlp(depth, 1024, 64), None, 1.5, repeats_or(5)),
        Case("W1", mlp(depth, 256, 64, np.float32), 1.2, 1.5, repeats_or(9)),
        Case("W2", elementwise_chain(n_ops), 5.0, None, repeats_or(9)),
    ]
    cases += [Case("W3", scalar_chain(steps), 5.0, None, repeats_or(min(9, max(1, 300_000 // steps))))
              for steps in chain_steps]
    cases += [Case("W4", rnn(rnn_steps, 128, 32, 128), 1.25, None, repeats_or(9), 1.4),
              Case("W4", rnn(rnn_steps, 128, 32, 128, layer="operators"), None, None, repeats_or(9))]
    return cases


# ---------------------------------------------------------------------------------------------
# measuring one case

def grad_problem(got, want):
    """None when got matches the reference gradients want (dtype, shape, values), else what differs."""
    if len(got) != len(want):
        return f"{len(got)} gradients, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        g = np.asarray(g)
        if g.dtype != w.dtype or g.shape != w.shape:
            return f"gradient {i} is {g.dtype} {g.shape}, expected {w.dtype} {w.shape}"
        # relative to the largest entry: small entries are sums that cancel, rounding is on the terms' scale
        error = np.max(np.abs(g - w)) / max(np.max(np.abs(w)), np.finfo(w.dtype).tiny)
        if error > GRAD_RTOL[w.dtype]:
            return f"gradient {i} {w.shape} differs: max |diff| / max |numpy| = {error:.1e}"
    return None


def memory_of(step):
    """(peak bytes allocated during one step, bytes still allocated after it returned)."""
    gc.collect()
    tracemalloc.start()
    try:
        step()
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, kept


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


@contextlib.contextmanager
def collector_time(clock, spent):
    """While active, add to spent[0] the clock time Python's cyclic garbage collector runs for."""
    started = []

    def on_collection(phase, info):
        if phase == "start":
            started.append(clock())
        else:
            spent[0] += clock() - started.pop()

    gc.callbacks.append(on_collection)
    try:
        yield
    finally:
        gc.callbacks.remove(on_collection)


def warmed_up(case, names, default_path):
    """(results, steps): each implementation's step, after a first step whose gradients are
    checked against the first implementation's."""
    results, steps, reference = {}, {}, None
    for name in names:
        try:
            if name == ENGINE:
                step = IMPLEMENTATIONS[name](case.workload, default_path=default_path)
            else:
                step = IMPLEMENTATIONS[name](case.workload)
            grads = step()          # the warm-up, checked against numpy's gradients
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            results[name] = {"status": "not installed"}
            continue
        except Exception as error:  # a failing engine is a result to report, e.g. RecursionError
            results[name] = {"status": f"error: {type(error).__name__}: {str(error)[:200]}"}
            continue
        if reference is None:
            reference = [np.asarray(g) for g in grads]
        steps[name] = step
        results[name] = {"status": "ok", "grad_problem": grad_problem(grads, reference)}
        del grads
    return results, steps


def run_case(case, names, clock, default_path=False, alone=None):
    """Time the implementations in turns, after checking their gradients against the first's; or
    time only `alone`, in a heap no other implementation has touched, and check it afterwards."""
    results, steps = warmed_up(case, [alone] if alone else names, default_path)
    seconds = {name: [] for name in steps}
    in_collector = {name: [] for name in steps}
    faults = {name: [] for name in steps}
    for _ in range(case.repeats):
        for name, step in steps.items():
            gc.collect()
            spent = [0.0]
            faulted = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            with collector_time(clock, spent):
                start = clock()
                step()
                seconds[name].append(clock() - start)
            faults[name].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faulted)
            in_collector[name].append(spent[0])

    for name, times in seconds.items():
        median = statistics.median(times)
        results[name].update(seconds=times, median_s=median, min_s=min(times), max_s=max(times),
                             gc_share=statistics.median(c / t for c, t in zip(in_collector[name], times) if t),
                             page_faults=statistics.median(faults[name]))
        if case.workload.ops:
            results[name]["us_per_op"] = median / case.workload.ops * 1e6
    for name in (ENGINE, BASELINE):
        if name in steps:
            results[name]["peak_bytes"], results[name]["kept_bytes"] = memory_of(steps[name])
    if alone in steps and alone != names[0]:
        del steps
        checked, _ = warmed_up(case, names, default_path)     # fresh copies of each
        results[alone]["grad_problem"] = checked[alone].get("grad_problem", checked[alone]["status"])
    return summarize(default_budgets(case) if default_path else case, results)


def default_budgets(case):
    return dataclasses.replace(case, budget=case.default_budget, memory_budget=case.default_memory_budget)


def summarize(case, results):
    baseline = results.get(BASELINE, {})
    for result in results.values():
        if "median_s" in result and "median_s" in baseline:
            # the figure the budget speaks of: us/op for the chains, the time ratio otherwise
            result["ratio"] = result["median_s"] / baseline["median_s"]
            result["figure"] = result.get("us_per_op", result["ratio"])
    engine = results.get(ENGINE, {})
    memory_ratio = (engine["peak_bytes"] / baseline["peak_bytes"]
                    if "peak_bytes" in engine and "peak_bytes" in baseline else None)
    return {
        "case": case.workload.name, "group": case.group, "ops": case.workload.ops,
        "repeats": case.repeats, "unit": "us/op" if case.workload.ops else "x numpy",
        "budget": case.budget, "memory_budget": case.memory_budget, "memory_ratio": memory_ratio,
        "meets_budget": within(engine.get("figure"), case.budget),
        "meets_memory_budget": within(memory_ratio, case.memory_budget),
        "implementations": results,
    }


def within(value, budget):
    return None if value is None or budget is None else bool(value <= budget)


# ---------------------------------------------------------------------------------------------
# printing

def seconds_text(s):
    for unit, scale in (("s", 1.0), ("ms", 1e-3)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s * 1e6:.3g} us"


def bytes_text(n):
    return f"{n / 2 ** 20:.1f} MiB" if n >= 2 ** 20 else f"{n / 2 ** 10:.1f} KiB"


def figure_text(value, unit):
    return f"{value:.2f}x" if unit == "x numpy" else f"{value:.2f} us/op"


def verdict_text(meets):
    return {True: "pass", False: "MISS", None: "-"}[meets]


def timing_text(result):
    if "median_s" not in result:
        return result["status"]
    return f"{seconds_text(result['median_s'])} ({seconds_text(result['min_s'])}-{seconds_text(result['max_s'])})"


def peer_text(result, unit):
    return figure_text(result["figure"], unit) if "figure" in result else result["status"]


def print_table(headers, rows):
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    for row in [headers, ["-" * w for w in widths], *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())


def print_report(reports, peers, clock):
    print(f"\nTime per step ({clock} clock): median (min-max); the figure is the ratio tinygrad_vg/numpy or us/op;"
          "\n\"in gc vg\" is the median share of a tinygrad_vg step spent inside the cyclic garbage collector;"
          "\n\"faults\" the median minor page faults of a step")
    headers = ["case", "tinygrad_vg", "numpy", "vg/numpy", "us/op vg | numpy", "budget", "", "in gc vg",
               "faults vg | numpy"] + list(peers)
    rows = []
    for report in reports:
        engine, baseline = report["implementations"][ENGINE], report["implementations"][BASELINE]
        unit = report["unit"]
        per_op = (f"{engine['us_per_op']:.2f} | {baseline['us_per_op']:.2f}"
                  if "us_per_op" in engine and "us_per_op" in baseline else "-")
        rows.append([report["case"], timing_text(engine), timing_text(baseline),
                     f"{engine['ratio']:.2f}x" if "ratio" in engine else "-", per_op,
                     "<= " + figure_text(report["budget"], unit) if report["budget"] else "-",
                     verdict_text(report["meets_budget"]),
                     f"{engine['gc_share']:.0%}" if "gc_share" in engine else "-",
                     f"{engine['page_faults']:.0f} | {baseline['page_faults']:.0f}"
                     if "page_faults" in engine and "page_faults" in baseline else "-"]
                    + [peer_text(report["implementations"][peer], unit) for peer in peers])
    print_table(headers, rows)

    print("\nPeak memory of one step (tracemalloc); kept = still allocated when the step returned")
    headers = ["case", "peak vg", "peak numpy", "vg/numpy", "budget", "", "kept vg", "kept numpy"]
    rows = []
    for report in reports:
        engine, baseline = report["implementations"][ENGINE], report["implementations"][BASELINE]
        if report["memory_ratio"] is None:
            continue
        rows.append([report["case"], bytes_text(engine["peak_bytes"]), bytes_text(baseline["peak_bytes"]),
                     f"{report['memory_ratio']:.2f}x",
                     f"<= {report['memory_budget']:.2f}x" if report["memory_budget"] else "-",
                     verdict_text(report["meets_memory_budget"]),
                     bytes_text(engine["kept_bytes"]), bytes_text(baseline["kept_bytes"])])
    print_table(headers, rows)

    if any("default_path" in report for report in reports):
        print_default_path(reports)

    print("\nGradients checked against the hand-written numpy backward before timing:")
    for report in reports:
        checks = [f"{name} {result.get('grad_problem') or 'ok'}"
                  for name, result in report["implementations"].items()
                  if name != BASELINE and result["status"] == "ok"]
        print(f"  {report['case']}: {', '.join(checks) or 'nothing to check'}")


def print_default_path(reports):
    """The second table: plain loss.backward() under glibc's default malloc, beside numpy's step."""
    print("\nDefault path (issue 15): the step a user's loop takes, loss.backward() (which keeps .grad on the"
          "\nleaves and on what asked with retain_grad()), under glibc's default malloc (no GLIBC_TUNABLES);"
          "\nit and numpy each timed alone in fresh Python processes (--rounds per side and case, taking turns)")
    headers = ["case", "tinygrad_vg", "numpy", "vg/numpy", "budget", "", "faults vg | numpy",
               "peak vg/numpy", "budget", ""]
    rows = []
    for report in reports:
        default = report.get("default_path")
        if default is None:
            continue
        if "implementations" not in default:
            rows.append([report["case"], default["status"]] + ["-"] * (len(headers) - 2))
            continue
        engine, baseline = default["implementations"][ENGINE], default["implementations"][BASELINE]
        unit = default["unit"]
        rows.append([report["case"], timing_text(engine), timing_text(baseline),
                     figure_text(engine["figure"], unit) if "figure" in engine else "-",
                     "<= " + figure_text(default["budget"], unit) if default["budget"] else "-",
                     verdict_text(default["meets_budget"]),
                     f"{engine['page_faults']:.0f} | {baseline['page_faults']:.0f}"
                     if "page_faults" in engine and "page_faults" in baseline else "-",
                     f"{default['memory_ratio']:.2f}x" if default["memory_ratio"] is not None else "-",
                     f"<= {default['memory_budget']:.2f}x" if default["memory_budget"] else "-",
                     verdict_text(default["meets_memory_budget"])])
    print_table(headers, rows)


# ---------------------------------------------------------------------------------------------

def blas_threads():
    """A context pinning BLAS to one thread, and a sentence saying which BLAS that is."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ModuleNotFoundError:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        pinned = ", ".join(f"{v}={os.environ[v]}" for v in THREAD_VARIABLES)
        return contextlib.nullcontext(), f"{blas['name']} {blas['version']}, pinned by {pinned}"
    limits = threadpool_limits(limits=1)
    pools = ", ".join(f"{p['internal_api']} {p['version']} ({p['num_threads']} thread)"
                      for p in threadpool_info())
    return limits, f"{pools}; pinned by threadpoolctl and {', '.join(THREAD_VARIABLES)}=1"


def installed_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Time tinygrad_vg against hand-written numpy forward/backward (issue 6).",
        epilog="BLAS (one thread) and malloc are pinned; see the module docstring for the method.")
    parser.add_argument("-w", "--workload", nargs="+", choices=["W1", "W2", "W3", "W4"],
                        help="run only these workloads (default: all)")
    parser.add_argument("-r", "--repeats", type=int,
                        help="timed steps per implementation (default: 9 for most, fewer for big cases)")
    parser.add_argument("--clock", choices=CLOCKS, default="cpu",
                        help="cpu: process CPU time (default, robust to other load); wall: wall time")
    parser.add_argument("--quick", action="store_true", help="reduced sizes: a smoke run of seconds")
    parser.add_argument("--deep", action="store_true", help="also run W3 at 1,000,000 steps")
    parser.add_argument("--no-peers", action="store_true", help="skip torch and autograd even if installed")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    parser.add_argument("--system-malloc", action="store_true",
                        help="keep glibc's malloc defaults (by default the script re-executes itself "
                             "with GLIBC_TUNABLES so that freed memory stays in the process)")
    parser.add_argument("--default-path", action="store_true",
                        help="time the engine's plain loss.backward() instead of the training path, under glibc's "
                             "default malloc (the full run does this in a process of its own)")
    parser.add_argument("--no-default-path", action="store_true",
                        help="skip the default-path run (the second table)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="fresh processes per side and case on the default path, taking turns (default 3); "
                             "its figures move by 10-20%% between processes, so more rounds give a steadier median")
    parser.add_argument("--heap-padding", type=int, default=0, metavar="BYTES",
                        help="keep a block of BYTES allocated in every process from the start: it moves where "
                             "the long-lived blocks sit in glibc's heap, which decides whether a default-path "
                             "step refaults its whole peak (see the README's Performance)")
    parser.add_argument("--as-child", action="store_true", help=argparse.SUPPRESS)  # write --json, print no table
    parser.add_argument("--alone", choices=(BASELINE, ENGINE), help=argparse.SUPPRESS)  # time only this one
    parser.add_argument("--only-case", type=int, help=argparse.SUPPRESS)   # the k-th of the selected cases
    parser.add_argument("--peer", choices=PEERS,
                        help="time only this peer against numpy (what the full run does for each "
                             "installed peer, in a process of its own)")
    return parser.parse_args(argv)


def child_cases(argv, flags, environment=None):
    """The cases this script reports when run with `flags` added in a fresh Python process, or the
    sentence saying why it failed."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "child.json"
        child = subprocess.run([sys.executable, __file__, *argv, *flags, "--as-child", "--json", str(path)],
                               stdout=subprocess.DEVNULL, env=environment)
        if child.returncode != 0:
            return f"error: its process exited with {child.returncode}"
        return json.loads(path.read_text())["cases"]


def peer_results(peer, argv, n_cases):
    """`peer`'s result in each case, timed against numpy by this script in a fresh Python process."""
    print(f"  {peer}: in a process of its own", flush=True)
    cases = child_cases(argv, ["--peer", peer])
    if isinstance(cases, str):
        return [{"status": cases}] * n_cases
    return [case["implementations"][peer] for case in cases]


def default_path_results(argv, cases, rounds):
    """Each case's default-path report: plain loss.backward() and numpy, each timed alone in fresh
    Python processes (`rounds` each, in turns) under glibc's default malloc. Alone and fresh, because that is how a user's
    program runs, and because what else ran in the heap before (the other implementation, an
    earlier case) changes a step's page faults: where long-lived arrays sit decides whether glibc
    can return the freed memory above them (W4's engine step: 115 faults alone, 8,132 after one numpy
    step; W1 width 256: 11,265 alone, 4,832 after it). The gradients are checked after the timing."""
    print("  the default path, loss.backward() under glibc's default malloc: numpy and tinygrad_vg "
          "each alone in a fresh process per case", flush=True)
    environment = {key: value for key, value in os.environ.items() if key != "GLIBC_TUNABLES"}
    reports = []
    for k, case in enumerate(cases):
        timed = {BASELINE: [], ENGINE: []}
        for _ in range(rounds):          # the two sides take turns by process, as they do by step elsewhere
            for name, done in timed.items():
                flags = ["--default-path", "--alone", name, "--only-case", str(k),
                         "--repeats", str(-(-case.repeats // rounds))]
                child = child_cases(argv, flags, environment)
                done.append({"status": child} if isinstance(child, str) else child[0]["implementations"][name])
        reports.append(summarize(default_budgets(case), {name: merged(done, case) for name, done in timed.items()}))
    return reports


def merged(rounds, case):
    """One result from the rounds of one implementation: their steps' times together, the median of
    their faults, the first round's memory and any round's gradient problem."""
    if any(r["status"] != "ok" for r in rounds):
        return next(r for r in rounds if r["status"] != "ok")
    times = [t for r in rounds for t in r["seconds"]]
    median = statistics.median(times)
    result = {**rounds[0], "seconds": times, "median_s": median, "min_s": min(times), "max_s": max(times),
              "gc_share": statistics.median(r["gc_share"] for r in rounds),
              "page_faults": statistics.median(r["page_faults"] for r in rounds),
              "grad_problem": next((r["grad_problem"] for r in rounds if r.get("grad_problem")), None)}
    if case.workload.ops:
        result["us_per_op"] = median / case.workload.ops * 1e6
    return result


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.peer and not args.json:
        sys.exit("--peer writes its results to the file given by --json")
    cases = [case for case in suite(args.quick, args.deep, args.repeats)
             if args.workload is None or case.group in args.workload]
    if args.only_case is not None:
        cases = cases[args.only_case:args.only_case + 1]
    peers = () if args.no_peers else PEERS
    limits, blas = blas_threads()
    environment = {"python": platform.python_version(), "numpy": np.__version__, "blas": blas,
                   "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()[0],
                   "clock": args.clock, "quick": args.quick,
                   "malloc": os.environ.get("GLIBC_TUNABLES") or "glibc defaults",
                   **{peer: installed_version(peer) for peer in PEERS}}
    print(f"tinygrad_vg benchmarks: python {environment['python']}, numpy {environment['numpy']}, "
          f"{environment['cpus']} cpus (load average {environment['load_average_at_start']:.1f}); peers: "
          + ", ".join(f"{peer} {environment[peer]}" for peer in PEERS))
    print(f"BLAS: {blas}")
    print(f"malloc: {environment['malloc']}")
    if args.quick:
        print("quick mode: reduced sizes, so the budgets (set for the full sizes) are only a guide")

    heap_padding = bytearray(args.heap_padding)  # noqa: F841 -- alive until main returns: it is what moves the heap
    reports = []
    with limits:
        for case in cases:
            print(f"  {case.workload.name}: ", end="", flush=True)
            reports.append(run_case(case, (BASELINE, args.peer or ENGINE), CLOCKS[args.clock], args.default_path,
                                    args.alone))
            print(", ".join(f"{name} {timing_text(result)}"
                            for name, result in reports[-1]["implementations"].items()))
    if args.peer or args.as_child:       # a child of the full run, which reads the JSON
        Path(args.json).write_text(json.dumps({"cases": reports}))
        return 0
    passed_on = [arg for arg in argv if arg not in ("--json", args.json)]
    if args.default_path:
        peers = ()
    elif not args.no_default_path:
        for report, default in zip(reports, default_path_results(passed_on, cases, args.rounds)):
            report["default_path"] = default
    for peer in peers:
        results = (peer_results(peer, passed_on, len(reports)) if environment[peer] != "not installed" else
                   [{"status": "not installed"}] * len(reports))
        for report, result in zip(reports, results):
            report["implementations"][peer] = result
    print_report(reports, peers, args.clock)

    if args.json:
        Path(args.json).write_text(json.dumps({"environment": environment, "cases": reports}, indent=1))
        print(f"\nwrote {args.json}")
    failed = [f"{report['case']}: {name}"
              for report in reports for name, result in report["implementations"].items()
              if name in (BASELINE, ENGINE) and (result["status"] != "ok" or result.get("grad_problem"))]
    if failed:
        print("\nFAILED: " + "; ".join(failed))
    return 1 if failed else 0


def steady_malloc_wanted():
    """True when this script should re-execute itself under STEADY_MALLOC (glibc only)."""
    return (not {"--system-malloc", "--default-path"} & set(sys.argv) and platform.libc_ver()[0] == "glibc"
            and os.environ.get("GLIBC_TUNABLES") != STEADY_MALLOC)


if __name__ == "__main__":
    if steady_malloc_wanted():
        os.execve(sys.executable, [sys.executable, *sys.argv],
                  {**os.environ, "GLIBC_TUNABLES": STEADY_MALLOC})
    sys.exit(main())
