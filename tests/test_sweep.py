"""sweep: a map is the same on any executor, streams to JSON lines, and resumes without recomputing."""
import concurrent.futures
import json

import numpy as np
import pytest

import extras
from tinygrad_vg import sweep as sweeps

CONFIGS = [{"a": a, "b": b} for a in range(4) for b in (0.5, 1.5)]


def noisy_cell(config):
    """A cell whose value depends on its seeded random numbers: any seeding slip changes it."""
    rng = np.random.default_rng(sweeps.cell_seed(config))
    return {"value": float(config["a"] * config["b"] + rng.standard_normal())}


CALLS = []


def counted_cell(config):
    CALLS.append(config)
    return noisy_cell(config)


def test_a_cell_seed_depends_on_the_config_only_not_on_key_order():
    assert sweeps.cell_seed({"a": 1, "b": 2.0}) == sweeps.cell_seed({"b": 2.0, "a": 1})
    assert sweeps.cell_seed({"a": 1, "b": 2.0}) != sweeps.cell_seed({"a": 1, "b": 2.5})
    assert 0 <= sweeps.cell_seed({"a": np.int64(1)}) < 2 ** 63


@pytest.mark.parametrize("make_executor", [sweeps.SerialExecutor, lambda: concurrent.futures.ThreadPoolExecutor(3),
                                           lambda: concurrent.futures.ProcessPoolExecutor(2)],
                         ids=["serial", "threads", "processes"])
def test_the_map_is_the_same_on_every_executor_and_in_config_order(make_executor):
    expected = [noisy_cell(config) for config in CONFIGS]
    with make_executor() as executor:
        assert sweeps.sweep(noisy_cell, CONFIGS, executor, progress=None) == expected


def test_the_same_map_on_a_dask_local_cluster():
    extras.require("distributed")
    from distributed import Client, LocalCluster
    with Client(LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)) as client:
        got = sweeps.sweep(noisy_cell, CONFIGS, client.get_executor(pure=False), progress=None)
    assert got == [noisy_cell(config) for config in CONFIGS]


def test_results_stream_to_json_lines_and_a_resumed_map_skips_finished_cells(tmp_path):
    path = tmp_path / "cells.jsonl"
    CALLS.clear()
    first = sweeps.sweep(counted_cell, CONFIGS[:3], sweeps.SerialExecutor(), path=path, progress=None)
    lines = [json.loads(line) for line in path.read_text().splitlines()]    # in the order cells finished
    assert sorted((sweeps.config_key(line["config"]), line["result"]["value"]) for line in lines) == sorted(
        (sweeps.config_key(config), result["value"]) for config, result in zip(CONFIGS[:3], first))
    with open(path, "a") as file:            # an interruption in the middle of writing a line
        file.write('{"config": {"a": 3, "b"')
    CALLS.clear()
    whole = sweeps.sweep(counted_cell, CONFIGS, sweeps.SerialExecutor(), path=path, progress=None)
    assert CALLS == CONFIGS[3:]              # only the unfinished cells ran
    assert whole == [noisy_cell(config) for config in CONFIGS]
    CALLS.clear()
    assert sweeps.sweep(counted_cell, CONFIGS, sweeps.SerialExecutor(), path=path, progress=None) == whole
    assert CALLS == []


def test_progress_counts_cells_on_stderr(capsys):
    sweeps.sweep(noisy_cell, CONFIGS, sweeps.SerialExecutor(), progress="map")
    out, err = capsys.readouterr()
    assert out == "" and f"[map] {len(CONFIGS)}/{len(CONFIGS)} cells" in err


def test_a_failing_cell_raises_its_error():
    def broken(config):
        raise ValueError(f"cell {config} broke")
    with pytest.raises(ValueError, match="broke"):
        sweeps.sweep(broken, CONFIGS[:1], sweeps.SerialExecutor(), progress=None)


def test_a_map_that_fails_half_way_has_its_finished_cells_on_file_even_on_one_worker(tmp_path):
    path = tmp_path / "cells.jsonl"

    def fails_on_the_fifth(config):
        if config == CONFIGS[4]:
            raise KeyboardInterrupt("stopped by hand")
        return noisy_cell(config)
    with pytest.raises(KeyboardInterrupt):
        sweeps.sweep(fails_on_the_fifth, CONFIGS, sweeps.SerialExecutor(), path=path, progress=None)
    assert [json.loads(line)["config"] for line in path.read_text().splitlines()] == CONFIGS[:4]
