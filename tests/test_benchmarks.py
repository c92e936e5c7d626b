"""Each benchmark workload at a tiny size: tinygrad_vg's gradients equal the hand-written numpy ones.

The benchmarks time the two against each other; this is what makes that comparison fair (the same
computation), and it checks the hand-written backward passes in benchmarks/workloads.py as well.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from workloads import (elementwise_chain, mlp, namespace, numpy_step, rnn,  # noqa: E402
                       scalar_chain, tinygrad_vg_step)

TINY = [mlp(depth=3, width=8, batch=4), mlp(depth=3, width=8, batch=4, layer="operators"),
        mlp(depth=3, width=8, batch=4, dtype=np.float32),
        elementwise_chain(n_ops=40, size=5), scalar_chain(steps=50), rnn(steps=5, hidden=6, batch=3, n_in=4),
        rnn(steps=5, hidden=6, batch=3, n_in=4, layer="operators")]
# Both sides run the same float ops, up to the order of a few sums: a few ulps apart, measured
# against the largest entry (small entries are sums that cancel; their rounding is on the terms' scale).
RTOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}


@pytest.mark.parametrize("default_path", [False, True], ids=["training path", "default path"])
@pytest.mark.parametrize("workload", TINY, ids=lambda w: w.name)
def test_engine_gradients_equal_hand_written_numpy(workload, default_path):
    engine_step, baseline_step = tinygrad_vg_step(workload, default_path), numpy_step(workload)
    for _ in range(2):      # the second step starts from the parameters the first SGD update left
        got, want = engine_step(), baseline_step()
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=RTOL[w.dtype], atol=RTOL[w.dtype] * np.abs(w).max())


@pytest.mark.parametrize("workload", TINY, ids=lambda w: w.name)
def test_hand_written_backward_matches_central_differences(workload):
    """The baseline's own backward agrees with the slope of its loss, so it is a true reference."""
    if workload.make()[0][0].dtype != np.float64:
        pytest.skip("central differences need float64")
    params, data = workload.make()
    grads = workload.numpy_grads(params, data)
    eps = 1e-6
    rng = np.random.default_rng(0)
    for p, g in zip(params, grads):
        index = tuple(rng.integers(n) for n in p.shape)   # one random entry per parameter
        original = p[index].copy()
        p[index] = original + eps
        up = workload.loss(params, data, namespace("numpy"))
        p[index] = original - eps
        down = workload.loss(params, data, namespace("numpy"))
        p[index] = original
        # central differences: error O(eps^2 * f''') ~ 1e-12, rounding ~ 1e-16 / eps ~ 1e-10
        assert (up - down) / (2 * eps) == pytest.approx(g[index], rel=1e-5, abs=1e-9)


def test_the_benchmark_command_prints_the_table_and_writes_json(tmp_path, capsys):
    import json
    import run
    out = tmp_path / "results.json"
    assert run.main(["--quick", "-w", "W2", "--no-peers", "--repeats", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "W2 elementwise 200 ops" in printed and "in gc vg" in printed and "Peak memory" in printed
    (case,) = json.loads(out.read_text())["cases"]
    engine = case["implementations"]["tinygrad_vg"]
    assert engine["grad_problem"] is None and engine["us_per_op"] > 0 and 0 <= engine["gc_share"] <= 1
    assert case["memory_ratio"] > 0 and case["unit"] == "us/op"
    # the default path, loss.backward() under glibc's default malloc, each side alone in a process
    assert "Default path (issue 15)" in printed
    default = case["default_path"]["implementations"]
    assert default["tinygrad_vg"]["status"] == "ok" and default["numpy"]["status"] == "ok"
    assert default["tinygrad_vg"]["grad_problem"] is None and default["tinygrad_vg"]["page_faults"] >= 0
    assert case["default_path"]["implementations"]["tinygrad_vg"]["ratio"] > 0


def test_the_budgets_of_issue_15_apply_to_the_default_path_only():
    import run
    cases = {case.workload.name: case for case in run.suite(quick=False, deep=False, repeats=None)}
    w256 = cases["W1 mlp L50 w256 float64"]
    assert (w256.budget, w256.default_budget, w256.default_memory_budget) == (1.10, 1.15, 1.5)
    assert run.default_budgets(w256).budget == 1.15 and run.default_budgets(w256).memory_budget == 1.5
    assert cases["W4 rnn T200 h128 b32"].default_budget == 1.4
    assert cases["W1 mlp L50 w64 float64"].default_budget == 1.6
