"""Maps of many independent runs: a grid of cells (a config in, a result dict out) through any
concurrent.futures.Executor, a local process pool by default or a Dask cluster.

Three rules make a map the same wherever it runs and cheap to resume:
- a cell's random numbers come from its config alone (cell_seed), never from the order the cells
  run in or the worker they land on, so 1 process, 8 processes or a cluster give the same map;
- each finished cell is appended to a JSON-lines file at once (one line: {"config", "result"}),
  so a map interrupted half way resumes by skipping the configs the file already holds;
- progress (cells done / total, the rate, an ETA) goes to stderr, never to stdout.
"""
import concurrent.futures
import functools
import hashlib
import json
import os
import sys
import threading
import time

from .views.jsondata import json_ready


def config_key(config):
    """The config as canonical JSON text: equal configs, equal keys, in any process."""
    return json.dumps(json_ready(config), sort_keys=True)


def cell_seed(config):
    """A 63-bit seed from the config's text (SHA-256; Python's hash() differs between processes)."""
    return int.from_bytes(hashlib.sha256(config_key(config).encode()).digest()[:8], "big") >> 1


def finished_cells(path):
    """{config_key: result} of the cells already in a JSON-lines file (none when it does not exist).
    A last line cut short by an interruption is ignored, and its cell runs again."""
    if not path or not os.path.exists(path):
        return {}
    done = {}
    with open(path, encoding="utf-8") as file:
        for line in file:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            done[config_key(record["config"])] = record["result"]
    return done


def ends_with_newline(path):
    with open(path, "rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1) == b"\n"


class Progress:
    """`[label] 12/40 cells, 3.1/s, ETA 0:09` on stderr, redrawn at most 4 times a second."""

    def __init__(self, label, total, already, stream=None):
        self.label, self.total, self.already = label, total, already
        self.stream = stream or sys.stderr
        self.start = self.last = time.monotonic()

    def __call__(self, done, force=False):
        now = time.monotonic()
        if not force and now - self.last < 0.25:
            return
        self.last = now
        ran = done - self.already
        rate = ran / (now - self.start) if now > self.start else 0.0
        eta = f"{int((self.total - done) / rate) // 60}:{int((self.total - done) / rate) % 60:02d}" if rate else "?"
        end = "\n" if done == self.total else ""
        print(f"\r[{self.label}] {done}/{self.total} cells, {rate:.1f}/s, ETA {eta}", end=end,
              file=self.stream, flush=True)


class SerialExecutor(concurrent.futures.Executor):
    """Runs each cell at submit, in this process: the one-worker map, with no process to start."""

    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:          # the error is the future's, raised where its result is read;
            future.set_exception(error)     # Ctrl-C (KeyboardInterrupt) stops the map here and now
        return future


def default_executor(workers=None):
    """A process pool of `workers` processes (default: one per core)."""
    return concurrent.futures.ProcessPoolExecutor(max_workers=workers or os.cpu_count())


def sweep(cell, configs, executor=None, path=None, progress="sweep"):
    """[cell(config) for config in configs], computed through `executor` (default_executor() when
    None, shut down at the end; an executor you pass stays yours), appending each result to the
    JSON-lines file `path` the moment it finishes and skipping the configs that file already holds.

    `cell` must be picklable (a module-level function) and return JSON-ready data. `progress` is
    the label of the progress line on stderr, or None for none. A cell's error is raised here.
    """
    configs = list(configs)
    results = finished_cells(path)
    todo = {config_key(config): config for config in configs if config_key(config) not in results}
    finished = len(configs) - len(todo)
    report = Progress(progress, len(configs), finished) if progress else None
    own_executor = executor is None
    executor = default_executor() if own_executor else executor
    lock, written = threading.Lock(), threading.Semaphore(0)
    with open(path, "a", encoding="utf-8") if path else open(os.devnull, "w") as stream:
        if path and stream.tell() and not ends_with_newline(path):
            stream.write("\n")          # after a line cut short, so that the next one starts clean

        def record(future, key):
            """Write a finished cell at once, from whichever thread the executor finishes it on (for
            the one-worker executor, before the next cell starts), so an interruption loses none."""
            nonlocal finished
            try:
                if not future.cancelled() and future.exception() is None:
                    with lock:
                        results[key] = json_ready(future.result())
                        stream.write(json.dumps({"config": json.loads(key), "result": results[key]}) + "\n")
                        stream.flush()
                        finished += 1
                        if report:
                            report(finished)
            finally:
                written.release()

        try:
            futures = []
            for key, config in todo.items():
                futures.append(executor.submit(cell, config))
                futures[-1].add_done_callback(functools.partial(record, key=key))
            for future in concurrent.futures.as_completed(futures):
                future.result()
            for _ in futures:               # as_completed can wake before a future's callback has run
                written.acquire()
        finally:
            if own_executor:
                executor.shutdown(cancel_futures=True)
    if report:
        report(len(configs), force=True)
    return [results[config_key(config)] for config in configs]
