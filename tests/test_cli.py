"""The command line and its commands: each command's run() data (measured beside theory), its flags,
errors and exit codes, the JSON contract, the --plot and --html views, the lessons and the tour."""
import html
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import extras
from tinygrad_vg import cli, script, theory
from tinygrad_vg.commands import chain, paths, rnn, train
from tinygrad_vg.experiments.chains import CHAIN_KEYS, build_chain
from tinygrad_vg.nn import DeepChain
from tinygrad_vg.tensor import Tensor
from tinygrad_vg.theory.mean_field import aligned_cotangent_gain_bound
from tinygrad_vg.views.jsondata import to_json

SMALL = dict(depth=6, width=4, batch=3)
SMALL_CHAIN = ["--depth", "6", "--width", "4", "--batch", "3"]
OVERFLOW = dict(init="identity", activation="linear", scale=4.0, dtype="float32", depth=80, width=8, batch=4)
OVERFLOW_FLAGS = ["--init", "identity", "--activation", "linear", "--scale", "4", "--dtype", "float32",
                  "--depth", "80", "--width", "8", "--batch", "4"]
TOUR = cli.COMMANDS["tour"]


def reject_constant(name):
    raise AssertionError(f"bare {name} in the JSON output: not valid JSON")


def run_json(capsys, argv):
    """main(argv + --json): stdout must be exactly one strict JSON object (no bare NaN or Infinity)."""
    assert cli.main([*argv, "--json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out, parse_constant=reject_constant)
    assert isinstance(result, dict) and out.count("\n") == 1
    return result


def chain_of(result):
    """The chain, input and target a run's JSON config builds again."""
    return build_chain({key: result["config"][key] for key in CHAIN_KEYS})


# ---------------------------------------------------------------- chain

def test_chain_json_has_one_entry_per_layer_and_the_documented_keys(capsys):
    result = run_json(capsys, ["chain", *SMALL_CHAIN])
    assert result["command"] == "chain" and result["config"]["depth"] == 6
    assert {"loss", "layers", "theory", "theory_caveat", "top_gradient_cosine", "log10_gain_per_layer",
            "end_to_end_ratio", "predicted_end_to_end_ratio", "predicted_grad_norms"} <= set(result)
    assert [layer["layer"] for layer in result["layers"]] == list(range(1, 7))
    for layer in result["layers"]:
        assert {"layer", "shape", "activation_norm", "rms_activation", "max_abs_activation", "grad_norm", "gain",
                "cumulative_gain", "weight_grad_norm", "jacobian_singular_values", "predicted_gain"} <= set(layer)
        assert layer["grad_norm"] > 0 and layer["weight_grad_norm"] > 0
    assert set(result["log10_gain_per_layer"]) == {"measured", "predicted"}
    assert result["theory"].startswith("mean-field")


def test_chain_shows_one_row_per_layer_with_theory_beside_each_gain():
    result = chain.run(**SMALL)
    text = result.show()
    assert text.startswith("chain: 6 layers of width 4, batch 3, tanh") and "gain/theory" in text
    rows = [line for line in text.splitlines() if line.split()[:1] and line.split()[0].isdigit()]
    assert [int(row.split()[0]) for row in rows] == list(range(1, 7))
    assert "per-layer log10 gain" in text


@pytest.mark.parametrize("k", [0.9, 1.1])
def test_identity_chain_measured_equals_the_exact_theory(k):
    """W = k I, linear: every gain is exactly |k| and |dL/dh_l| = |k|^(L-l) |G|; only rounding differs
    (about depth ulps through the repeated products, so 1e-12 relative is generous)."""
    result = chain.run(init="identity", activation="linear", scale=k, **SMALL)
    _, x, target = chain_of(result)
    exact = theory.identity_chain(k, 6, x, target)
    np.testing.assert_allclose([layer["grad_norm"] for layer in result["layers"]], exact.grad_norms, rtol=1e-12)
    for layer in result["layers"]:
        assert layer["predicted_gain"] == k
        assert layer["gain"] == pytest.approx(k, rel=1e-12)
    fit = result["log10_gain_per_layer"]
    assert fit["measured"] == pytest.approx(math.log10(k), rel=1e-9)
    assert fit["predicted"] == pytest.approx(math.log10(k), rel=1e-9)


def test_he_initialisation_predicts_unit_gain_for_relu():
    """He: Var(W) = 2/n and E[relu'^2] = 1/2, so sigma_w^2 E[phi'^2] = 1 at every layer."""
    result = chain.run(activation="relu", init="he", **SMALL)
    assert [layer["predicted_gain"] for layer in result["layers"]] == pytest.approx([1.0] * 6, rel=1e-12)


def test_chain_gives_each_layer_the_size_of_one_unit_beside_the_norm_over_the_batch():
    """A tanh chain's |h_l| (16 x 64 numbers) is ~20, yet no unit leaves [-1, 1]."""
    result = chain.run(depth=8)
    for layer in result["layers"]:
        assert layer["activation_norm"] > 10
        assert layer["rms_activation"] == pytest.approx(layer["activation_norm"] / math.sqrt(16 * 64), rel=1e-12)
        assert layer["rms_activation"] <= layer["max_abs_activation"] <= 1.0
    assert "rms h_l  max|h_l|" in result.show()


def test_relu_chain_with_he_init_says_why_its_gradient_outgrows_mean_field_theory():
    """The MSE gradient at h_L points along h_L (cosine 0.80 measured), and a bias-free relu chain is
    homogeneous: |dL/dx| / |dL/dh_L| is 8.7 against theory's 1."""
    result = chain.run(activation="relu", init="he")
    assert result["top_gradient_cosine"] > 0.5
    assert result["end_to_end_ratio"] > 5 * result["predicted_end_to_end_ratio"]
    assert "homogeneous" in result["theory_caveat"] and "why theory misses" in result.show()
    tanh = chain.run()
    assert tanh["theory_caveat"] is None
    assert tanh["end_to_end_ratio"] == pytest.approx(tanh["predicted_end_to_end_ratio"], rel=0.3)


@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_a_cotangent_along_the_output_of_a_homogeneous_chain_meets_the_cauchy_schwarz_bound(scale):
    """theory.mean_field.aligned_cotangent_gain_bound: dL/dh_L = h_L gives |dL/dx| / |dL/dh_L| >= |h_L| / |x|,
    with equality when J = k Q (J^T J x = k^2 x): a random linear chain exceeds it, k Q meets it to rounding."""
    x = np.random.default_rng(0).standard_normal((3, 8))
    for init, equal in (("xavier", False), ("orthogonal", True)):
        model = DeepChain(5, 8, activation="linear", init=init, scale=scale, rng=np.random.default_rng(1))
        leaf = Tensor(x, requires_grad=True)
        output = model(leaf)
        output.backward(output.data.copy())
        measured = np.linalg.norm(leaf.grad) / np.linalg.norm(output.data)
        bound = aligned_cotangent_gain_bound(np.linalg.norm(x), np.linalg.norm(output.data))
        assert measured >= bound * (1 - 1e-12)
        assert (measured == pytest.approx(bound, rel=1e-12)) == equal


@pytest.mark.parametrize("activation, rate", [("linear", math.sqrt(14 / 13)), ("relu", 1.26)])
def test_batchnorm_chain_s_gradient_grows_per_layer_at_the_mean_field_rate(activation, rate):
    """Yang et al. 2019 at batch 16: sqrt((B-2)/(B-3)) exactly for linear, ~1.26 (Monte Carlo) for relu;
    measured at width 256 over 50 layers 1.031 and 1.2605."""
    result = chain.run(norm="batch", activation=activation, width=256)
    assert result["theory"].startswith("mean-field at BatchNorm's fixed point")
    assert result["layers"][0]["predicted_gain"] == pytest.approx(rate, rel=0.01)
    fit = result["log10_gain_per_layer"]
    assert 10 ** fit["measured"] == pytest.approx(10 ** fit["predicted"], rel=0.01)


@pytest.mark.parametrize("options", [dict(norm="layer"), dict(norm="batch", batch=3), dict(dropout=0.2),
                                     dict(residual=True)])
def test_chain_says_when_no_theory_applies(options):
    result = chain.run(**{**SMALL, **options})
    assert result["theory"].startswith("none")
    assert all(layer["predicted_gain"] is None for layer in result["layers"])
    assert result["log10_gain_per_layer"]["predicted"] is None
    assert "theory: none" in result.show()


@pytest.mark.parametrize("norm, module", [("none", None), ("layer", "LayerNorm"), ("batch", "BatchNorm1d")])
def test_norm_flag_puts_the_named_normalisation_before_each_activation(capsys, norm, module):
    result = run_json(capsys, ["chain", *SMALL_CHAIN, "--norm", norm])
    assert result["config"]["norm"] == (None if norm == "none" else norm)
    model, _, _ = chain_of(result)
    assert [type(m).__name__ for m in model.norms or []] == ([module] * 6 if module else [])


def test_dropout_masks_the_same_chain_and_changes_its_forward_pass():
    plain, dropped = chain.run(**SMALL), chain.run(dropout=0.5, **SMALL)
    assert dropped["config"]["dropout"] == 0.5 and plain["config"]["dropout"] == 0.0
    model, same = chain_of(dropped)[0], chain_of(plain)[0]
    assert all(np.array_equal(w.data, v.data) for w, v in zip(model.weights, same.weights))
    assert dropped["loss"] != plain["loss"]
    # inverted dropout keeps E[h] and zeroes units: some of layer 1's outputs are exactly 0
    assert dropped["layers"][0]["activation_norm"] != plain["layers"][0]["activation_norm"]


def test_non_finite_values_are_strings_in_valid_json(capsys):
    result = run_json(capsys, ["chain", *OVERFLOW_FLAGS])
    encoded = {layer["grad_norm"] for layer in result["layers"]} | {layer["activation_norm"]
                                                                     for layer in result["layers"]}
    assert encoded & {"inf", "nan"}
    assert all(isinstance(value, float) or value in ("inf", "-inf", "nan") for value in encoded)


def test_json_ready_keeps_what_json_cannot_hold_as_strings():
    data = {"a": math.inf, "b": np.float32("nan"), "c": np.arange(3), "d": [-np.inf, np.float64(2.5)],
            "e": np.bool_(True), "f": None}
    assert json.loads(to_json(data), parse_constant=reject_constant) == {
        "a": "inf", "b": "nan", "c": [0, 1, 2], "d": ["-inf", 2.5], "e": True, "f": None}


DEFAULT_INIT_CHAIN = dict(init="default", width=256, depth=20, batch=16)


def test_chain_default_init_theory_is_mean_field_with_sigma_w2_one_third_and_sigma_b2_one_over_3n():
    """U(-1/sqrt(n), 1/sqrt(n)) has variance 1/(3n): sigma_w^2 = n Var(W) = 1/3 and sigma_b^2 = Var(b) = 1/(3n)."""
    result = chain.run(**DEFAULT_INIT_CHAIN)
    x = chain_of(result)[1]
    expected = np.sqrt(theory.backward_gains(math.sqrt(1 / 3), math.sqrt(1 / (3 * 256)), 20,
                                             float(np.mean(x ** 2)), "tanh"))
    np.testing.assert_allclose([layer["predicted_gain"] for layer in result["layers"]], expected, rtol=1e-12)
    assert result["theory"].startswith("mean-field") and "sigma_w = 0.5774, sigma_b = 0.03608" in result["theory"]
    assert "PyTorch's default W, b ~ U(-1/sqrt(n), 1/sqrt(n))" in result.show()


@pytest.mark.parametrize("seed", [0, 1])
def test_chain_default_init_measured_gains_agree_with_mean_field_at_width_256(seed):
    """Tanh, width 256, depth 20, batch 16, seeds 0-9: every gain/theory in 0.960-1.033 (each gain is a norm
    ratio over 16 x 256 numbers, ~1% noise per layer) and the fitted log10 gain per layer within 0.0023
    of theory's (-0.240, x0.575 per layer); the tolerances 0.05 and 0.005 are about twice those spreads."""
    result = chain.run(seed=seed, **DEFAULT_INIT_CHAIN)
    for layer in result["layers"]:
        assert layer["gain"] / layer["predicted_gain"] == pytest.approx(1.0, abs=0.05)
    fit = result["log10_gain_per_layer"]
    assert fit["predicted"] == pytest.approx(-0.240, abs=0.001)
    assert fit["measured"] == pytest.approx(fit["predicted"], abs=0.005)


def test_chain_figure_numbers_layers_from_one_and_draws_measured_points_beside_theory_lines():
    panels = chain.run(**SMALL).figure()
    norms = next(panel for panel in panels if panel["title"] == "|dLoss/dh_l| per layer")["lines"]
    assert [line["x"] for line in norms] == [list(range(1, 7))] * 2
    assert [line["style"] for line in norms] == ["o", "-"]
    assert any(panel["title"].startswith("one unit's size") for panel in panels)     # tanh is bounded
    table = panels[-1]["table"]
    assert table["header"][:2] == ["layer", "|h_l|"] and [row[0] for row in table["rows"]] == list(range(1, 7))
    assert not any(panel["title"].startswith("one unit's size") for panel in chain.run(activation="relu").figure())


# ---------------------------------------------------------------- train

def test_train_json_without_a_halt(capsys):
    result = run_json(capsys, ["train", *SMALL_CHAIN, "--steps", "3", "--clip", "0.5"])
    assert {"command", "config", "optimizer", "best_constant_loss", "weight_names", "activation_names", "steps",
            "halted", "predicted_halt", "theory"} <= set(result)
    assert result["halted"] is None and result["config"]["clip"] == 0.5
    assert [entry["step"] for entry in result["steps"]] == [0, 1, 2]
    for entry in result["steps"]:
        assert {"step", "loss", "grad_norm", "weight_grad_norms", "activation_norms", "rms_activations",
                "max_abs_output"} <= set(entry)
        assert len(entry["weight_grad_norms"]) == 6


def test_train_shows_the_per_step_story_every_n_steps_and_the_last():
    result = train.run(steps=4, every=2, **SMALL)
    text = result.show()
    assert "|dL/dW_1|" in text and "no halt: 4 steps" in text and "the loss of predicting the targets' mean" in text
    steps = [int(line.split()[0]) for line in text.splitlines() if line.split()[:1] and line.split()[0].isdigit()]
    assert steps == [0, 2, 3] and result["every"] == 2
    assert train.run(steps=30, **SMALL)["every"] == 3      # steps / 10 by default


def test_train_records_each_step_s_output_per_unit_and_its_largest_element():
    result = train.run(depth=6, steps=3)
    for entry in result["steps"]:
        assert entry["rms_activations"] == pytest.approx(
            [value / math.sqrt(32 * 32) for value in entry["activation_norms"]], rel=1e-12)
        assert entry["rms_activations"][-1] <= entry["max_abs_output"] <= 1.0     # tanh
    assert "rms h_L  max|h_L|" in result.show()


@pytest.mark.parametrize("flags, settings", [
    ([], {"name": "SGD", "lr": 0.1, "momentum": 0, "weight_decay": 0.0}),
    (["--optimizer", "momentum"], {"name": "SGD", "lr": 0.1, "momentum": 0.9, "dampening": 0, "nesterov": False}),
    (["--optimizer", "momentum", "--momentum", "0.5"], {"name": "SGD", "momentum": 0.5}),
    (["--optimizer", "adam", "--lr", "0.01", "--weight-decay", "0.001"],
     {"name": "Adam", "lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.001}),
    (["--optimizer", "rmsprop", "--lr", "0.01"], {"name": "RMSprop", "lr": 0.01, "alpha": 0.99, "eps": 1e-8,
                                                  "momentum": 0.0}),
])
def test_train_uses_the_optimizer_named_with_pytorch_s_defaults_but_lr(capsys, flags, settings):
    result = run_json(capsys, ["train", *SMALL_CHAIN, "--steps", "2", *flags])
    assert result["optimizer"] == {**result["optimizer"], **settings}
    assert result["config"]["optimizer"] == (flags[1] if flags else "sgd")
    assert cli.main(["train", *SMALL_CHAIN, "--steps", "2", *flags]) == 0
    assert f"; {settings['name']} lr " in capsys.readouterr().out


def test_momentum_s_first_step_is_plain_sgd_s_and_weight_decay_changes_only_the_updates():
    """PyTorch's momentum buffer starts as the first gradient, so the first update equals SGD's; the
    L2 term enters through the gradient the update uses, not the loss that is recorded."""
    def losses(**options):
        return [entry["loss"] for entry in train.run(steps=3, **SMALL, **options)["steps"]]

    sgd, momentum, decay = losses(), losses(optimizer="momentum"), losses(weight_decay=0.5)
    assert momentum[:2] == sgd[:2] and momentum[2] != sgd[2]
    assert decay[0] == sgd[0] and decay[1] != sgd[1]


def test_a_chaotic_tanh_chain_explodes_stays_finite_and_ends_above_the_loss_of_predicting_the_mean():
    """sigma_w = 4: |grad| 1.2e4 at step 0, every value finite; the first step saturates the units and
    layer 1's gradient falls to 3e-11; the loss ends at 0.856, 2.3 x the mean's 0.377 (measured)."""
    result = train.run(sigma_w=4.0)
    steps = result["steps"]
    assert result["halted"] is None and len(steps) == 100
    assert steps[0]["grad_norm"] > 1e3 and all(math.isfinite(entry["grad_norm"]) for entry in steps)
    assert steps[-1]["weight_grad_norms"][0] < 1e-6 * steps[0]["weight_grad_norms"][0]
    _, _, target = chain_of(result)
    assert result["best_constant_loss"] == pytest.approx(np.mean((target - target.mean(axis=0)) ** 2), rel=1e-12)
    assert steps[-1]["loss"] > 2 * result["best_constant_loss"]


@pytest.mark.parametrize("dtype, depth", [("float32", 80), ("float16", 20)])
def test_an_overflowing_chain_halts_at_the_layer_theory_predicts(capsys, dtype, depth):
    """W = 4 I: |h_l| = 4^l |x| passes the dtype's max at the layer theory.overflow_layer finds."""
    flags = [*OVERFLOW_FLAGS[:7], dtype, "--depth", str(depth), "--width", "8", "--batch", "4", "--steps", "5"]
    result = run_json(capsys, ["train", *flags])
    halted = result["halted"]
    _, x, _ = chain_of(result)
    layer = theory.overflow_layer(4.0, x, np.dtype(dtype).type, depth)
    assert layer is not None and layer < depth
    assert halted == {"step": 0, "phase": "forward", "kind": "inf", "op": "linear",
                      "module": f"layers.{layer - 1} (Linear)", "layer": layer, "message": halted["message"]}
    assert result["predicted_halt"] == {"step": 0, "phase": "forward", "layer": layer, "kind": "inf"}
    assert result["steps"] == []
    # the halting step's forward pass, run again unchecked: finite below the layer that overflowed, inf at it
    norms = result["halted_step_activation_norms"]
    assert len(norms) == depth and all(isinstance(n, float) for n in norms[:layer - 1]) and norms[layer - 1] == "inf"
    # theory's |h_l| = 4^l |x|: times 4 is exact in binary, so only the rounding of x to the dtype and of
    # the norm's sum differ (measured 1e-8 in float32); 2 eps of the dtype (2.4e-7, 2e-3) bounds both
    rounding = 2 * np.finfo(dtype).eps
    np.testing.assert_allclose(norms[:layer - 1], result["predicted_activation_norms"][:layer - 1], rtol=rounding)
    assert cli.main(["train", *flags]) == 0
    out = capsys.readouterr().out
    assert f"HALTED at step 0: linear in layers.{layer - 1} (Linear)" in out and "the run agrees" in out


def test_a_run_halted_at_step_0_still_has_a_figure_the_halt_and_the_forward_pass_that_overflowed():
    result = train.run(steps=5, **OVERFLOW)
    panels = {("halt" in panel, "lines" in panel, "heatmap" in panel): panel for panel in result.figure()}
    halt = panels[True, False, False]["halt"]
    assert {key: halt[key] for key in ("step", "layer", "op", "phase", "kind")} == {
        key: result["halted"][key] for key in ("step", "layer", "op", "phase", "kind")}
    forward = panels[False, True, False]
    assert forward["lines"][0]["x"] == list(range(1, 81)) and forward["marks"][0]["x"] == result["halted"]["layer"]
    assert [line["style"] for line in forward["lines"]] == ["o", "--", "-"]     # measured, the dtype's max, theory
    assert (False, False, True) not in panels      # no steps, no heatmap


def test_the_train_heatmap_has_a_row_per_step_and_a_column_per_layer_numbered_from_one():
    result = train.run(steps=3, **SMALL)
    heatmap = next(panel for panel in result.figure() if "heatmap" in panel)
    assert len(heatmap["heatmap"]) == 3 and all(len(row) == 6 for row in heatmap["heatmap"])
    assert (heatmap["x0"], heatmap["y0"], heatmap["xlabel"], heatmap["ylabel"]) == (1, 0, "layer l", "step")


# ---------------------------------------------------------------- rnn

def test_rnn_json_has_the_documented_keys(capsys):
    result = run_json(capsys, ["rnn", "-T", "8", "--width", "6", "--batch", "2", "--scale", "1.3"])
    assert {"command", "config", "loss", "spectral_radius", "largest_singular_value", "derivative_product",
            "time_steps", "log10_gain_per_step"} <= set(result)
    assert [entry["t"] for entry in result["time_steps"]] == list(range(9))
    assert set(result["time_steps"][1]) == {"t", "grad_norm", "bound", "radius_rate", "saturation_estimate",
                                            "mean_derivative", "rms_derivative"}
    assert set(result["log10_gain_per_step"]) == {"measured", "log10_spectral_radius", "log10_largest_singular_value"}


def test_rnn_gradient_through_time_respects_the_singular_value_bound():
    result = rnn.run(length=8, width=6, batch=2, scale=1.3)
    # an orthogonal W times 1.3 has every eigenvalue and singular value of modulus 1.3
    assert result["spectral_radius"] == pytest.approx(1.3, rel=1e-12)
    assert result["largest_singular_value"] == pytest.approx(1.3, rel=1e-12)
    for entry in result["time_steps"]:
        # |dL/dh_t| <= |dL/dh_T| sigma_max^(T-t) since |tanh'| <= 1; 1e-12 covers the rounding
        assert entry["grad_norm"] <= entry["bound"] * (1 + 1e-12)


def test_linear_regime_rnn_follows_the_spectral_radius():
    """W = 0.5 I on a relu RNN: with positive pre-activations dh_t/dh_(t-1) is exactly 0.5 on the
    active units, so the gradient halves per step back; here, measured per-step log-gain <= log10 rho."""
    fit = rnn.run(length=6, width=4, batch=2, init="identity", scale=0.5, activation="relu")["log10_gain_per_step"]
    assert fit["log10_spectral_radius"] == pytest.approx(math.log10(0.5))
    assert fit["measured"] <= fit["log10_spectral_radius"] + 1e-9


def test_tanh_saturation_explains_the_rnn_gradient_falling_at_spectral_radius_one():
    """The defaults: W_hh orthogonal (rho = sigma_max = 1), yet |dL/dh_0| / |dL/dh_T| = 5.9e-6. The rms of
    tanh'(a_t) per step (0.66-0.76 on average) multiplies to 6.6e-6 over the 40 steps."""
    result = rnn.run()
    steps = result["time_steps"]
    assert result["spectral_radius"] == pytest.approx(1.0, rel=1e-12)
    measured = steps[0]["grad_norm"] / steps[-1]["grad_norm"]
    assert measured < 1e-4 and steps[0]["radius_rate"] == pytest.approx(steps[-1]["grad_norm"], rel=1e-9)
    assert all(entry["mean_derivative"] < 0.8 for entry in steps[1:])
    assert result["derivative_product"]["rms"] == pytest.approx(
        np.prod([entry["rms_derivative"] for entry in steps[1:]]), rel=1e-12)
    # each step back is W^T diag(tanh'): with W orthogonal the estimate keeps rms tanh' per step
    assert steps[0]["saturation_estimate"] / steps[0]["grad_norm"] == pytest.approx(1.0, abs=0.25)
    assert "at t = 0 the estimate is off by x1.12, rho^T by x1.69e+05" in result.show()


def test_linear_rnn_has_derivative_one_so_the_estimate_is_the_spectral_radius_rate():
    """phi(z) = z: every phi' is 1, so the saturation estimate is |dL/dh_T| rho^(T-t) exactly; with the
    default W_hh orthogonal (rho = sigma_max = 1) each step back is an isometry, |dL/dh_t| = |dL/dh_T| to rounding."""
    result = rnn.run(length=10, width=5, batch=3, activation="linear")
    steps = result["time_steps"]
    assert all(entry["mean_derivative"] == entry["rms_derivative"] == 1.0 for entry in steps[1:])
    assert result["derivative_product"] == {"mean": 1.0, "rms": 1.0}
    last = steps[-1]["grad_norm"]
    for entry in steps:
        assert entry["saturation_estimate"] == pytest.approx(entry["radius_rate"], rel=1e-12)
        for key in ("grad_norm", "bound", "radius_rate"):
            assert entry[key] == pytest.approx(last, rel=1e-12)
    for entry in rnn.run(length=10, width=5, batch=3, activation="linear", init="default")["time_steps"]:
        assert entry["saturation_estimate"] == pytest.approx(entry["radius_rate"], rel=1e-12)
        assert entry["grad_norm"] <= entry["bound"] * (1 + 1e-12)


def test_rnn_shows_the_table_and_its_figure_the_measured_points_beside_the_bound():
    result = rnn.run(length=5, width=4, batch=2, init="default")
    text = result.show()
    assert "spectral radius rho" in text and "Pascanu" in text and "per-step log10 gain" in text
    lines = result.figure()[0]["lines"]
    assert lines[0]["style"] == "o" and lines[0]["x"] == list(range(6))
    assert lines[1]["y"] == [entry["bound"] for entry in result["time_steps"]]


# ---------------------------------------------------------------- paths

def test_paths_of_the_issue_example(capsys):
    result = run_json(capsys, ["paths", "tanh(x*w) * x", "--var", "x=1.5", "--var", "w=-0.5"])
    assert {"command", "expression", "variables", "value", "gradients"} <= set(result)
    x, w = 1.5, -0.5
    assert result["value"] == pytest.approx(math.tanh(x * w) * x, rel=1e-15)
    dx = result["gradients"]["x"]
    assert len(dx["paths"]) == 2 and len(result["gradients"]["w"]["paths"]) == 1
    # d/dx tanh(xw) x = w (1 - tanh^2(xw)) x + tanh(xw): one path each
    assert sorted(p["product"] for p in dx["paths"]) == pytest.approx(
        sorted([w * (1 - math.tanh(x * w) ** 2) * x, math.tanh(x * w)]), rel=1e-14)
    assert dx["path_sum"] == pytest.approx(dx["backward"], rel=1e-14)
    first = dx["paths"][0]["edges"][0]
    assert set(first) == {"from", "op", "position", "to", "local_derivative"} and first["from"] == "x"
    text = paths.run("tanh(x*w) * x", [("x", 1.5), ("w", -0.5)]).show()
    assert "dy/dx: 2 path(s)" in text and "dy/dw: 1 path(s)" in text


def test_the_paths_figure_draws_the_graph_once_per_variable_with_its_paths_summing_to_backward():
    result = paths.run("tanh(x*w) * x", {"x": 1.5, "w": -0.5})
    graphs = {panel["title"].split(":")[0]: panel["graph"] for panel in result.figure() if "graph" in panel}
    assert list(graphs) == ["dy/dx", "dy/dw"]
    for name, count in (("x", 2), ("w", 1)):
        graph = graphs[f"dy/d{name}"]
        assert graph["dot"].startswith("digraph") and len(graph["paths"]) == count
        edges = {(edge["from"], edge["to"]) for edge in graph["edges"]}
        assert all(tuple(edge) in edges for path in graph["paths"] for edge in path["edges"])
        assert sum(path["product"] for path in graph["paths"]) == pytest.approx(
            result["gradients"][name]["backward"], rel=1e-14)
    assert [panel["graph"]["paths"] for panel in paths.run("3", {}).figure() if "graph" in panel] == [[]]


@pytest.mark.parametrize("expression", [
    "exp(x) / sqrt(y) + log(abs(x)) - sigmoid(x * y) ** 2 + relu(-y)",
    "x * x * x - 2 * x / (1 + x ** 2)",
    "tanh(tanh(tanh(x + y))) * y",
    "3",
    "y",
])
def test_path_sum_equals_backward(expression):
    for gradient in paths.run(expression, {"x": 0.7, "y": 1.3})["gradients"].values():
        # the same products summed in another order: a few ulps apart at most
        assert gradient["path_sum"] == pytest.approx(gradient["backward"], rel=1e-13, abs=1e-15)


LEAVES = st.sampled_from(["x", "y", "0.5", "2"])


def expressions(depth=3):
    """Random expressions over the whitelist, away from poles (no division, log or sqrt) and from
    overflow (no exp of exp of exp)."""
    if depth == 0:
        return LEAVES
    smaller = expressions(depth - 1)
    return st.one_of(
        LEAVES,
        st.builds(lambda a, op, b: f"({a} {op} {b})", smaller, st.sampled_from(["+", "-", "*"]), smaller),
        st.builds(lambda f, a: f"{f}({a})", st.sampled_from(["tanh", "sigmoid", "-"]), smaller))


@given(expression=expressions(), x=st.floats(-1.5, 1.5), y=st.floats(-1.5, 1.5))
def test_path_sum_equals_backward_on_random_expressions(expression, x, y):
    for gradient in paths.run(expression, {"x": x, "y": y})["gradients"].values():
        # the same products summed in another order: values are O(10) at most, so 1e-12 is ~1e3 ulps
        assert gradient["path_sum"] == pytest.approx(gradient["backward"], rel=1e-12, abs=1e-12)


BAD_EXPRESSIONS = [
    "__import__('os').system('true')", "x.real", "x[0]", "lambda: x", "open('f')", "x if y else y",
    "x // 2", "x % 2", "x @ x", "z + 1", "exp(x, y)", "exp(x=1)", "exp()", "1 +", "True + x", "'a'",
    "x == y", "(x, y)", "[x]", "exp(*x)", "f(x)", "x.exp()", "not x", "+x", "1e999999 * x",
    "(" * 300 + "x" + ")" * 300, "x + " * 1000 + "x", "~x", "x; y", "y := x",
]


@pytest.mark.parametrize("expression", BAD_EXPRESSIONS)
def test_bad_expressions_are_argument_errors_not_tracebacks(capsys, expression):
    with pytest.raises(SystemExit) as exit:
        cli.main(["paths", expression, "--var", "x=1", "--var", "y=2"])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert "error: cannot use the expression" in err and "Traceback" not in err


# ---------------------------------------------------------------- arguments

@pytest.mark.parametrize("argv", [
    ["chain", "--depth", "0"], ["chain", "--depth", "abc"], ["chain", "--width", "-3"],
    ["chain", "--activation", "softmax"], ["chain", "--init", "zeros"], ["chain", "--dtype", "bfloat16"],
    ["chain", "--norm"], ["chain", "--norm", "group"], ["chain", "--dropout", "1"], ["train", "--dropout", "-0.1"],
    ["train", "--optimizer", "lbfgs"], ["train", "--weight-decay", "-1"], ["train", "--momentum", "0.5"],
    ["train", "--optimizer", "adam", "--momentum", "0.5"],
    ["chain", "--sigma-w", "-1"], ["chain", "--scale", "nan"], ["chain", "--scale", "inf"],
    ["train", "--lr", "-1"], ["train", "--clip", "0"], ["train", "--steps", "0"],
    ["rnn", "--activation", "sigmoid"], ["rnn", "-T", "0"],
    ["paths"], ["paths", "x", "--var", "x"], ["paths", "x", "--var", "1x=2"], ["paths", "x", "--var", "exp=1"],
    ["paths", "x", "--var", "x=abc"], ["paths", "x", "--var", "x=1", "--var", "x=2"],
    ["chain", "--plot", "/no/such/folder/figure.png"], ["chain", "--html", "/no/such/folder/page.html"],
    ["frobnicate"], ["--frobnicate"], ["--plot", "/no/such/folder/figure.png"], ["lesson", "q999"],
])
def test_bad_arguments_exit_with_status_2(capsys, argv):
    with pytest.raises(SystemExit) as exit:
        cli.main(argv)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


def test_options_that_do_not_go_together_are_refused_by_run_too():
    with pytest.raises(script.OptionError, match="--momentum: --optimizer adam has no momentum"):
        train.run(optimizer="adam", momentum=0.5)
    with pytest.raises(script.OptionError, match="--var: a variable is given twice"):
        paths.run("x", [("x", 1.0), ("x", 2.0)])


@pytest.fixture
def stub_tour(monkeypatch):
    """The tour's run and the PNG view replaced by records of their calls (the real tour takes seconds)."""
    calls = []
    monkeypatch.setattr(TOUR, "run", lambda **options: calls.append("run") or script.Result(
        {"command": "tour", "stub": True}, TOUR))
    monkeypatch.setattr(script.Result, "save_png", lambda result, path: calls.append(("plot", path)))
    return calls


def test_options_without_a_command_go_to_the_tour(capsys, stub_tour):
    assert cli.main(["--json"]) == 0
    alone = capsys.readouterr().out
    assert cli.main(["tour", "--json"]) == 0
    assert alone == capsys.readouterr().out and json.loads(alone) == {"command": "tour", "stub": True}
    assert cli.main(["--json", "--plot", "x.png"]) == 0
    assert stub_tour == ["run", "run", "run", ("plot", "x.png")]


def test_help_and_version_without_a_command_stay_top_level(capsys, stub_tour):
    for flag in ("-h", "--help"):
        with pytest.raises(SystemExit) as exit:
            cli.main([flag])
        assert exit.value.code == 0
        assert capsys.readouterr().out.startswith("usage: tinygrad-vg [-h] [--version] COMMAND")
    with pytest.raises(SystemExit) as exit:
        cli.main(["--version"])
    assert exit.value.code == 0 and capsys.readouterr().out == f"tinygrad-vg {cli.__version__}\n"
    assert stub_tour == []


@pytest.mark.parametrize("command", [[], ["tour"], ["chain"], ["train"], ["rnn"], ["paths"], ["phase"], ["lesson"],
                                     ["lesson", "q1"]])
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as exit:
        cli.main([*command, "--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: tinygrad-vg {' '.join(command)}".rstrip())
    if command and command != ["lesson"]:
        assert all(flag in out for flag in ("--json", "--plot FILE.png", "--html FILE.html"))
    if command in (["chain"], ["train"]):
        assert all(flag in out for flag in ("--depth", "--sigma-w", "--residual", "--norm {none,layer,batch}",
                                            "--dropout P", "--dtype {float64,float32,float16}"))
    if command == ["train"]:
        assert "--optimizer {sgd,momentum,adam,rmsprop}" in out and "--weight-decay W" in out
    if command == ["lesson"]:
        assert "q1" in out and "q2" in out


def test_a_lesson_runs_from_the_cli_as_its_own_script(capsys):
    assert cli.main(["lesson", "q1", "--depth", "5", "--k", "0.5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out, parse_constant=reject_constant)
    assert result["depth"] == 5 and result["chains"][0]["k"] == 0.5


# ---------------------------------------------------------------- views: --plot and --html

VIEW_COMMANDS = {"chain": ["chain", *SMALL_CHAIN], "train": ["train", *SMALL_CHAIN, "--steps", "3"],
                 "rnn": ["rnn", "-T", "4", "--width", "3", "--batch", "2"],
                 "paths": ["paths", "x * exp(x)", "--var", "x=1"],
                 "phase": ["phase", "--sigma-w", "1,2", "--depth", "2,4", "--width", "4", "--batch", "2", "--seeds", "1",
                           "--workers", "1"]}


def test_plot_without_matplotlib_says_how_to_install_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)      # makes `import matplotlib` fail
    figure = tmp_path / "chain.png"
    assert cli.main([*VIEW_COMMANDS["chain"], "--plot", str(figure)]) == 0
    captured = capsys.readouterr()
    assert 'pip install -e ".[plot]"' in captured.err and "chain:" in captured.out
    assert not figure.exists()


@pytest.mark.parametrize("argv", [*VIEW_COMMANDS.values(), ["train", *OVERFLOW_FLAGS, "--steps", "2"]],
                         ids=[*VIEW_COMMANDS, "train-halted-at-step-0"])
def test_plot_writes_a_png(tmp_path, argv):
    extras.require("matplotlib")
    figure = tmp_path / "figure.png"
    assert cli.main([*argv, "--plot", str(figure)]) == 0
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def assert_one_self_contained_page(path, title):
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<html") == 1 and page.rstrip().endswith("</html>")
    assert html.escape(title) in page
    for fetch in ("<link", "src=\"http", "href=\"http", "@import", "url(http"):    # nothing from the network
        assert fetch not in page
    return page


@pytest.mark.parametrize("name", VIEW_COMMANDS)
def test_html_writes_one_self_contained_page_with_the_command_s_title(capsys, tmp_path, name):
    page_path = tmp_path / f"{name}.html"
    assert cli.main([*VIEW_COMMANDS[name], "--html", str(page_path)]) == 0
    assert f"wrote {page_path}" in capsys.readouterr().err
    page = assert_one_self_contained_page(page_path, script.title_and_description(cli.COMMANDS[name])[0])
    if name == "paths":
        assert "digraph" in page or "<svg" in page     # the graph: drawn by dot, or its DOT text without dot


def test_every_command_shows_text_and_a_figure_of_known_panels():
    kinds = {"lines", "heatmap", "table", "halt", "graph"}
    for result in (chain.run(**SMALL), train.run(steps=2, **SMALL), train.run(steps=2, **OVERFLOW),
                   rnn.run(length=3, width=2, batch=1), paths.run("x * x", {"x": 2.0})):
        assert result.show().strip()
        for panel in result.figure():
            assert len(kinds & set(panel)) == 1 and panel["title"]


# ---------------------------------------------------------------- the tour and the process

# `python -m tinygrad_vg` from this checkout, whatever is installed
ENVIRONMENT = {**os.environ, "PYTHONPATH": os.pathsep.join(
    [os.path.dirname(os.path.dirname(os.path.abspath(cli.__file__))), os.environ.get("PYTHONPATH", "")])}


def test_python_dash_m_runs_the_tour_and_writes_its_page(tmp_path):
    """The tour is the lessons q1-q4 (commands/tour.py), each under its question, with one page for all."""
    page = tmp_path / "tour.html"
    done = subprocess.run([sys.executable, "-m", "tinygrad_vg", "--html", str(page)], capture_output=True, text=True,
                          env=ENVIRONMENT, timeout=600)
    assert done.returncode == 0, done.stderr
    questions = [script.title_and_description(lesson)[0] for lesson, _ in TOUR.LESSONS]
    assert [f"{n}. {question}" in done.stdout for n, question in enumerate(questions, 1)] == [True] * 4
    assert_one_self_contained_page(page, script.title_and_description(TOUR)[0])


def test_a_reader_that_closes_the_pipe_early_ends_the_command_quietly_with_status_141():
    """`tinygrad-vg rnn ... | head -1`. The table is ~210 kB, beyond the pipe's 64 kB and both 8 kB
    buffers, so the command is still writing when the reader closes."""
    argv = [sys.executable, "-m", "tinygrad_vg", "rnn", "-T", "3000", "--width", "2", "--batch", "1"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENVIRONMENT) as process:
        first = process.stdout.readline()
        process.stdout.close()
        err = process.stderr.read().decode()
        status = process.wait(timeout=300)
    assert first.startswith(b"rnn: T = 3000 steps")
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert status == 141     # 128 + SIGPIPE, what a shell reports for a writer killed by a closed pipe
