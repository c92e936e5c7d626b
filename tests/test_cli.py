"""The command line: every subcommand with small arguments, its JSON, its errors, and the tour."""
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
from tinygrad_vg import cli, theory
from tinygrad_vg.views.jsondata import to_json

SMALL_CHAIN = ["--depth", "6", "--width", "4", "--batch", "3"]
OVERFLOW = ["--init", "identity", "--activation", "linear", "--scale", "4", "--dtype", "float32",
            "--depth", "80", "--width", "8", "--batch", "4"]


def reject_constant(name):
    raise AssertionError(f"bare {name} in the JSON output: not valid JSON")


def run_json(capsys, argv):
    """main(argv + --json): stdout must be exactly one strict JSON object (no bare NaN or Infinity)."""
    assert cli.main([*argv, "--json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out, parse_constant=reject_constant)
    assert isinstance(result, dict) and out.count("\n") == 1
    return result


# ---------------------------------------------------------------- chain

def test_chain_prints_the_report_with_theory_beside_each_gain(capsys):
    assert cli.main(["chain", *SMALL_CHAIN]) == 0
    out = capsys.readouterr().out
    assert "theory: mean-field" in out and "gain/theory" in out
    rows = [line for line in out.splitlines() if line.split()[:1] and line.split()[0].isdigit()]
    assert [int(row.split()[0]) for row in rows] == list(range(1, 7))
    assert "per-layer log10 gain" in out and "measured" in out


def test_chain_json_has_one_entry_per_layer_and_the_documented_keys(capsys):
    result = run_json(capsys, ["chain", *SMALL_CHAIN])
    assert result["command"] == "chain" and result["config"]["depth"] == 6
    assert {"loss", "layers", "theory", "log10_gain_per_layer", "end_to_end_ratio",
            "predicted_end_to_end_ratio", "predicted_grad_norms"} <= set(result)
    assert [layer["layer"] for layer in result["layers"]] == list(range(1, 7))
    for layer in result["layers"]:
        assert {"grad_norm", "weight_grad_norm", "gain", "predicted_gain", "activation_norm"} <= set(layer)
        assert layer["grad_norm"] > 0 and layer["weight_grad_norm"] > 0
    assert set(result["log10_gain_per_layer"]) == {"measured", "predicted"}


@pytest.mark.parametrize("k", [0.9, 1.1])
def test_identity_chain_measured_equals_the_exact_theory(capsys, k):
    """W = k I, linear: every gain is exactly |k| and |dL/dh_l| = |k|^(L-l) |G|; only rounding differs
    (about depth ulps through the repeated products, so 1e-12 relative is generous)."""
    argv = ["chain", "--init", "identity", "--activation", "linear", "--scale", str(k), *SMALL_CHAIN]
    result = run_json(capsys, argv)
    config = {key: result["config"][key] for key in cli.CHAIN_KEYS}
    _, x, target = cli.build_chain(config)
    exact = theory.identity_chain(k, 6, x, target)
    measured = [layer["grad_norm"] for layer in result["layers"]]
    np.testing.assert_allclose(measured, exact.grad_norms, rtol=1e-12)
    for layer in result["layers"]:
        assert layer["predicted_gain"] == k
        assert layer["gain"] == pytest.approx(k, rel=1e-12)
    fit = result["log10_gain_per_layer"]
    assert fit["measured"] == pytest.approx(math.log10(k), rel=1e-9)
    assert fit["predicted"] == pytest.approx(math.log10(k), rel=1e-9)


def test_he_initialisation_predicts_unit_gain_for_relu(capsys):
    """He: Var(W) = 2/n and E[relu'^2] = 1/2, so sigma_w^2 E[phi'^2] = 1 at every layer."""
    result = run_json(capsys, ["chain", "--activation", "relu", "--init", "he", *SMALL_CHAIN])
    assert [layer["predicted_gain"] for layer in result["layers"]] == pytest.approx([1.0] * 6, rel=1e-12)


def test_chain_gives_each_layer_the_size_of_one_unit_beside_the_norm_over_the_batch(capsys):
    """A tanh chain's |h_l| (16 x 64 numbers) is ~20, yet no unit leaves [-1, 1]."""
    result = run_json(capsys, ["chain", "--depth", "8"])
    for layer in result["layers"]:
        assert layer["activation_norm"] > 10
        assert layer["rms_activation"] == pytest.approx(layer["activation_norm"] / math.sqrt(16 * 64), rel=1e-12)
        assert layer["rms_activation"] <= layer["max_abs_activation"] <= 1.0
    cli.main(["chain", "--depth", "8"])
    assert "rms h_l  max|h_l|" in capsys.readouterr().out


def test_relu_chain_with_he_init_says_why_its_gradient_outgrows_mean_field_theory(capsys):
    """The MSE gradient at h_L points along h_L (cosine 0.80 measured), and a bias-free relu chain is
    homogeneous: |dL/dx| / |dL/dh_L| is 8.7 against theory's 1."""
    result = run_json(capsys, ["chain", "--activation", "relu", "--init", "he"])
    assert result["top_gradient_cosine"] > 0.5
    assert result["end_to_end_ratio"] > 5 * result["predicted_end_to_end_ratio"]
    assert "homogeneous" in result["theory_caveat"]
    tanh = run_json(capsys, ["chain"])
    assert tanh["theory_caveat"] is None
    assert tanh["end_to_end_ratio"] == pytest.approx(tanh["predicted_end_to_end_ratio"], rel=0.3)


@pytest.mark.parametrize("activation, rate", [("linear", math.sqrt(14 / 13)), ("relu", 1.26)])
def test_batchnorm_chain_s_gradient_grows_per_layer_at_the_mean_field_rate(capsys, activation, rate):
    """Yang et al. 2019 at batch 16: sqrt((B-2)/(B-3)) exactly for linear, ~1.26 (Monte Carlo) for relu;
    measured at width 256 over 50 layers 1.031 and 1.2605."""
    result = run_json(capsys, ["chain", "--norm", "batch", "--activation", activation, "--width", "256"])
    assert result["theory"].startswith("mean-field at BatchNorm's fixed point")
    assert result["layers"][0]["predicted_gain"] == pytest.approx(rate, rel=0.01)
    fit = result["log10_gain_per_layer"]
    assert 10 ** fit["measured"] == pytest.approx(10 ** fit["predicted"], rel=0.01)


@pytest.mark.parametrize("flags", [["--norm", "layer"], ["--norm", "batch", "--batch", "3"], ["--dropout", "0.2"],
                                   ["--residual"]])
def test_chain_says_when_no_theory_applies(capsys, flags):
    result = run_json(capsys, ["chain", *SMALL_CHAIN, *flags])
    assert result["theory"].startswith("none")
    assert all(layer["predicted_gain"] is None for layer in result["layers"])
    assert result["log10_gain_per_layer"]["predicted"] is None
    cli.main(["chain", *SMALL_CHAIN, *flags])
    assert "theory: none" in capsys.readouterr().out


@pytest.mark.parametrize("norm, module", [("none", None), ("layer", "LayerNorm"), ("batch", "BatchNorm1d")])
def test_norm_flag_puts_the_named_normalisation_before_each_activation(capsys, norm, module):
    result = run_json(capsys, ["chain", *SMALL_CHAIN, "--norm", norm])
    assert result["config"]["norm"] == (None if norm == "none" else norm)
    model, _, _ = cli.build_chain({key: result["config"][key] for key in cli.CHAIN_KEYS})
    assert [type(m).__name__ for m in model.norms or []] == ([module] * 6 if module else [])


def test_dropout_flag_masks_the_same_chain_and_changes_its_forward_pass(capsys):
    plain = run_json(capsys, ["chain", *SMALL_CHAIN])
    dropped = run_json(capsys, ["chain", *SMALL_CHAIN, "--dropout", "0.5"])
    assert dropped["config"]["dropout"] == 0.5 and plain["config"]["dropout"] == 0.0
    model, _, _ = cli.build_chain({key: dropped["config"][key] for key in cli.CHAIN_KEYS})
    same, _, _ = cli.build_chain({key: plain["config"][key] for key in cli.CHAIN_KEYS})
    assert all(np.array_equal(w.data, v.data) for w, v in zip(model.weights, same.weights))
    assert dropped["loss"] != plain["loss"]
    # inverted dropout keeps E[h] and zeroes units: some of layer 1's outputs are exactly 0
    assert dropped["layers"][0]["activation_norm"] != plain["layers"][0]["activation_norm"]


def test_float16_chain_halts_at_the_layer_theory_predicts(capsys):
    """W = 4 I in float16: |h_l| = 4^l |x| passes 65504 at the layer theory.overflow_layer finds."""
    argv = ["train", *OVERFLOW[:7], "float16", "--depth", "20", "--width", "8", "--batch", "4", "--steps", "3"]
    result = run_json(capsys, argv)
    _, x, _ = cli.build_chain({key: result["config"][key] for key in cli.CHAIN_KEYS})
    layer = theory.overflow_layer(4.0, x, np.float16, 20)
    assert layer is not None and result["halted"]["layer"] == layer and result["halted"]["kind"] == "inf"
    assert result["predicted_halt"] == {"step": 0, "phase": "forward", "layer": layer, "kind": "inf"}


def test_non_finite_values_are_strings_in_valid_json(capsys):
    result = run_json(capsys, ["chain", *OVERFLOW])
    encoded = {layer["grad_norm"] for layer in result["layers"]} | {layer["activation_norm"]
                                                                     for layer in result["layers"]}
    assert encoded & {"inf", "nan"}
    assert all(isinstance(value, float) or value in ("inf", "-inf", "nan") for value in encoded)


def test_json_ready_keeps_what_json_cannot_hold_as_strings():
    data = {"a": math.inf, "b": np.float32("nan"), "c": np.arange(3), "d": [-np.inf, np.float64(2.5)],
            "e": np.bool_(True), "f": None}
    text = to_json(data)
    assert json.loads(text, parse_constant=reject_constant) == {
        "a": "inf", "b": "nan", "c": [0, 1, 2], "d": ["-inf", 2.5], "e": True, "f": None}


# ---------------------------------------------------------------- train

def test_train_prints_the_per_step_story(capsys):
    assert cli.main(["train", *SMALL_CHAIN, "--steps", "4", "--every", "2"]) == 0
    out = capsys.readouterr().out
    assert "|dL/dW_1|" in out and "no halt: 4 steps" in out and "the loss of predicting the targets' mean" in out
    steps = [int(line.split()[0]) for line in out.splitlines() if line.split()[:1] and line.split()[0].isdigit()]
    assert steps == [0, 2, 3]


def test_train_json_without_a_halt(capsys):
    result = run_json(capsys, ["train", *SMALL_CHAIN, "--steps", "3", "--clip", "0.5"])
    assert result["halted"] is None and result["config"]["clip"] == 0.5
    assert [entry["step"] for entry in result["steps"]] == [0, 1, 2]
    for entry in result["steps"]:
        assert {"loss", "grad_norm", "weight_grad_norms", "activation_norms"} <= set(entry)
        assert len(entry["weight_grad_norms"]) == 6


def test_train_records_each_step_s_output_per_unit_and_its_largest_element(capsys):
    result = run_json(capsys, ["train", "--depth", "6", "--steps", "3"])
    for entry in result["steps"]:
        assert entry["rms_activations"] == pytest.approx(
            [value / math.sqrt(32 * 32) for value in entry["activation_norms"]], rel=1e-12)
        assert entry["rms_activations"][-1] <= entry["max_abs_output"] <= 1.0     # tanh
    cli.main(["train", "--depth", "6", "--steps", "3"])
    assert "rms h_L  max|h_L|" in capsys.readouterr().out


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
    cli.main(["train", *SMALL_CHAIN, "--steps", "2", *flags])
    assert f"; {settings['name']} lr " in capsys.readouterr().out


def test_momentum_s_first_step_is_plain_sgd_s_and_weight_decay_changes_only_the_updates(capsys):
    """PyTorch's momentum buffer starts as the first gradient, so the first update equals SGD's; the
    L2 term enters through the gradient the update uses, not the loss that is recorded."""
    def trained(*flags):
        return [entry["loss"] for entry in run_json(capsys, ["train", *SMALL_CHAIN, "--steps", "3", *flags])["steps"]]

    losses = {"sgd": trained(), "momentum": trained("--optimizer", "momentum"),
              "decay": trained("--weight-decay", "0.5")}
    assert losses["momentum"][:2] == losses["sgd"][:2] and losses["momentum"][2] != losses["sgd"][2]
    assert losses["decay"][0] == losses["sgd"][0] and losses["decay"][1] != losses["sgd"][1]


def test_a_chaotic_tanh_chain_explodes_stays_finite_and_ends_above_the_loss_of_predicting_the_mean(capsys):
    """sigma_w = 4: |grad| 1.2e4 at step 0, every value finite; the first step saturates the units and
    layer 1's gradient falls to 3e-11; the loss ends at 0.856, 2.3 x the mean's 0.377 (measured)."""
    result = run_json(capsys, ["train", "--sigma-w", "4"])
    steps = result["steps"]
    assert result["halted"] is None and len(steps) == 100
    assert steps[0]["grad_norm"] > 1e3 and all(math.isfinite(entry["grad_norm"]) for entry in steps)
    assert steps[-1]["weight_grad_norms"][0] < 1e-6 * steps[0]["weight_grad_norms"][0]
    _, _, target = cli.build_chain({key: result["config"][key] for key in cli.CHAIN_KEYS})
    assert result["best_constant_loss"] == pytest.approx(np.mean((target - target.mean(axis=0)) ** 2), rel=1e-12)
    assert steps[-1]["loss"] > 2 * result["best_constant_loss"]


def test_overflowing_chain_halts_at_the_layer_theory_predicts(capsys):
    """W = 4 I in float32: |h_l| = 4^l |x| passes float32's max at the layer theory.overflow_layer finds."""
    result = run_json(capsys, ["train", *OVERFLOW, "--steps", "5"])
    halted = result["halted"]
    assert {"step", "module", "op", "kind", "phase"} <= set(halted)
    config = {key: result["config"][key] for key in cli.CHAIN_KEYS}
    _, x, _ = cli.build_chain(config)
    layer = theory.overflow_layer(4.0, x, np.float32, 80)
    assert layer is not None and layer < 80
    assert halted == {**halted, "step": 0, "phase": "forward", "kind": "inf", "op": "matmul",
                      "module": f"layers.{layer - 1} (Linear)", "layer": layer}
    assert result["predicted_halt"] == {"step": 0, "phase": "forward", "layer": layer, "kind": "inf"}
    assert result["steps"] == []
    cli.main(["train", *OVERFLOW, "--steps", "5"])
    out = capsys.readouterr().out
    assert f"HALTED at step 0: matmul in layers.{layer - 1} (Linear)" in out and "the run agrees" in out


# ---------------------------------------------------------------- rnn

def test_rnn_gradient_through_time_respects_the_singular_value_bound(capsys):
    result = run_json(capsys, ["rnn", "-T", "8", "--width", "6", "--batch", "2", "--scale", "1.3"])
    assert [entry["t"] for entry in result["time_steps"]] == list(range(9))
    # an orthogonal W times 1.3 has every eigenvalue and singular value of modulus 1.3
    assert result["spectral_radius"] == pytest.approx(1.3, rel=1e-12)
    assert result["largest_singular_value"] == pytest.approx(1.3, rel=1e-12)
    for entry in result["time_steps"]:
        # |dL/dh_t| <= |dL/dh_T| sigma_max^(T-t) since |tanh'| <= 1; 1e-12 covers the rounding
        assert entry["grad_norm"] <= entry["bound"] * (1 + 1e-12)
    assert set(result["log10_gain_per_step"]) == {"measured", "log10_spectral_radius", "log10_largest_singular_value"}


def test_linear_regime_rnn_follows_the_spectral_radius(capsys):
    """W = 0.5 I on a relu RNN: with positive pre-activations dh_t/dh_(t-1) is exactly 0.5 on the
    active units, so the gradient halves per step back; here, measured per-step log-gain <= log10 rho."""
    result = run_json(capsys, ["rnn", "-T", "6", "--width", "4", "--batch", "2", "--init", "identity",
                               "--scale", "0.5", "--activation", "relu"])
    fit = result["log10_gain_per_step"]
    assert fit["log10_spectral_radius"] == pytest.approx(math.log10(0.5))
    assert fit["measured"] <= fit["log10_spectral_radius"] + 1e-9


def test_tanh_saturation_explains_the_rnn_gradient_falling_at_spectral_radius_one(capsys):
    """The defaults: W_hh orthogonal (rho = sigma_max = 1), yet |dL/dh_0| / |dL/dh_T| = 5.9e-6. The rms of
    tanh'(a_t) per step (0.66-0.76 on average) multiplies to 6.6e-6 over the 40 steps."""
    result = run_json(capsys, ["rnn"])
    steps = result["time_steps"]
    assert result["spectral_radius"] == pytest.approx(1.0, rel=1e-12)
    measured = steps[0]["grad_norm"] / steps[-1]["grad_norm"]
    assert measured < 1e-4 and steps[0]["radius_rate"] == pytest.approx(steps[-1]["grad_norm"], rel=1e-9)
    assert all(entry["mean_derivative"] < 0.8 for entry in steps[1:])
    assert result["derivative_product"]["rms"] == pytest.approx(
        np.prod([entry["rms_derivative"] for entry in steps[1:]]), rel=1e-12)
    # each step back is W^T diag(tanh'): with W orthogonal the estimate keeps rms tanh' per step
    assert steps[0]["saturation_estimate"] / steps[0]["grad_norm"] == pytest.approx(1.0, abs=0.25)
    cli.main(["rnn"])
    assert "at t = 0 the estimate is off by x1.12, rho^T by x1.69e+05" in capsys.readouterr().out


def test_rnn_prints_the_table(capsys):
    assert cli.main(["rnn", "-T", "5", "--width", "4", "--batch", "2", "--init", "default"]) == 0
    out = capsys.readouterr().out
    assert "spectral radius rho" in out and "Pascanu" in out and "per-step log10 gain" in out


# ---------------------------------------------------------------- paths

def test_paths_of_the_issue_example(capsys):
    assert cli.main(["paths", "tanh(x*w) * x", "--var", "x=1.5", "--var", "w=-0.5"]) == 0
    out = capsys.readouterr().out
    assert "dy/dx: 2 path(s)" in out and "dy/dw: 1 path(s)" in out
    result = run_json(capsys, ["paths", "tanh(x*w) * x", "--var", "x=1.5", "--var", "w=-0.5"])
    x, w = 1.5, -0.5
    assert result["value"] == pytest.approx(math.tanh(x * w) * x, rel=1e-15)
    dx = result["gradients"]["x"]
    assert len(dx["paths"]) == 2
    # d/dx tanh(xw) x = w (1 - tanh^2(xw)) x + tanh(xw): one path each
    assert sorted(p["product"] for p in dx["paths"]) == pytest.approx(
        sorted([w * (1 - math.tanh(x * w) ** 2) * x, math.tanh(x * w)]), rel=1e-14)
    assert dx["path_sum"] == pytest.approx(dx["backward"], rel=1e-14)
    first = dx["paths"][0]["edges"][0]
    assert set(first) == {"from", "op", "position", "to", "local_derivative"} and first["from"] == "x"


@pytest.mark.parametrize("expression", [
    "exp(x) / sqrt(y) + log(abs(x)) - sigmoid(x * y) ** 2 + relu(-y)",
    "x * x * x - 2 * x / (1 + x ** 2)",
    "tanh(tanh(tanh(x + y))) * y",
    "3",
    "y",
])
def test_path_sum_equals_backward(capsys, expression):
    result = run_json(capsys, ["paths", expression, "--var", "x=0.7", "--var", "y=1.3"])
    for gradient in result["gradients"].values():
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
    result = cli.run_paths(expression, {"x": x, "y": y})
    for gradient in result["gradients"].values():
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
    ["chain", "--plot", "/no/such/folder/figure.png"], ["frobnicate"], ["--frobnicate"],
    ["--plot", "/no/such/folder/figure.png"],
])
def test_bad_arguments_exit_with_status_2(capsys, argv):
    with pytest.raises(SystemExit) as exit:
        cli.main(argv)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


@pytest.fixture
def stub_tour(monkeypatch):
    """The tour's run and figure replaced by records of their calls (the real tour takes seconds)."""
    calls = []
    monkeypatch.setattr(cli, "run_tour", lambda: calls.append("run") or {"command": "tour", "stub": True})
    monkeypatch.setattr(cli, "plot_tour", lambda result, path: calls.append(("plot", path)))
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


@pytest.mark.parametrize("command", [[], ["tour"], ["chain"], ["train"], ["rnn"], ["paths"]])
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as exit:
        cli.main([*command, "--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tinygrad-vg")
    if command in (["chain"], ["train"]):
        assert all(flag in out for flag in ("--depth", "--sigma-w", "--residual", "--norm {none,layer,batch}",
                                            "--dropout P", "--dtype {float64,float32,float16}", "--json", "--plot"))
    if command == ["train"]:
        assert "--optimizer {sgd,momentum,adam,rmsprop}" in out and "--weight-decay W" in out


# ---------------------------------------------------------------- plots

PLOT_COMMANDS = [["chain", *SMALL_CHAIN], ["train", *SMALL_CHAIN, "--steps", "3"],
                 ["rnn", "-T", "4", "--width", "3", "--batch", "2"], ["paths", "x * exp(x)", "--var", "x=1"]]


def test_plot_without_matplotlib_says_how_to_install_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)      # makes `import matplotlib` fail
    figure = tmp_path / "chain.png"
    assert cli.main(["chain", *SMALL_CHAIN, "--plot", str(figure)]) == 0
    captured = capsys.readouterr()
    assert 'pip install -e ".[plot]"' in captured.err and "chain:" in captured.out
    assert not figure.exists()


@pytest.mark.parametrize("argv", PLOT_COMMANDS)
def test_plot_writes_a_png(capsys, tmp_path, argv):
    extras.require("matplotlib")
    figure = tmp_path / "figure.png"
    assert cli.main([*argv, "--plot", str(figure)]) == 0
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- the tour

def test_tour_sections_with_small_arguments_are_json_ready_and_agree_with_theory():
    identity = cli.tour_identity(depth=10)
    assert all(run["max_relative_error"] < 1e-12 for run in identity["runs"])
    training = cli.tour_training(depth=6, width=8, batch=16, steps=3)
    assert len(training["loss"]) == 3 and len(training["first_layer_weight_grad"]) == 3
    overflow = cli.tour_overflow()
    assert overflow["halted"]["layer"] == overflow["predicted_layer"] is not None
    assert overflow["unchecked_nonfinite_weight_grads"] > 0
    tanh = cli.tour_tanh(depth=8, width=16)
    assert [run["chi1"] < 1 for run in tanh["runs"]] == [True, False]
    sections = {"identity": identity, "training": training, "overflow": overflow, "tanh": tanh}
    json.loads(to_json(sections), parse_constant=reject_constant)


# `python -m tinygrad_vg` from this checkout, whatever is installed
ENVIRONMENT = {**os.environ, "PYTHONPATH": os.pathsep.join(
    [os.path.dirname(os.path.dirname(os.path.abspath(cli.__file__))), os.environ.get("PYTHONPATH", "")])}


def test_python_dash_m_runs_the_tour():
    done = subprocess.run([sys.executable, "-m", "tinygrad_vg"], capture_output=True, text=True, env=ENVIRONMENT,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    for heading in ("1. Weights a bit smaller or larger", "2. Won't training fix", "3. Forward overflow",
                    "4. tanh is bounded"):
        assert heading in done.stdout
    assert "as predicted" in done.stdout


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


# ---------------------------------------------------------------- issue 16: linear RNN, chain --init default

def test_linear_rnn_has_derivative_one_so_the_estimate_is_the_spectral_radius_rate(capsys):
    """phi(z) = z: every phi' is 1, so the saturation estimate is |dL/dh_T| rho^(T-t) exactly; with the
    default W_hh orthogonal (rho = sigma_max = 1) each step back is an isometry, |dL/dh_t| = |dL/dh_T| to rounding."""
    result = run_json(capsys, ["rnn", "-T", "10", "--width", "5", "--batch", "3", "--activation", "linear"])
    steps = result["time_steps"]
    assert all(entry["mean_derivative"] == entry["rms_derivative"] == 1.0 for entry in steps[1:])
    assert result["derivative_product"] == {"mean": 1.0, "rms": 1.0}
    last = steps[-1]["grad_norm"]
    for entry in steps:
        assert entry["saturation_estimate"] == pytest.approx(entry["radius_rate"], rel=1e-12)
        for key in ("grad_norm", "bound", "radius_rate"):
            assert entry[key] == pytest.approx(last, rel=1e-12)
    uniform = run_json(capsys, ["rnn", "-T", "10", "--width", "5", "--batch", "3", "--activation", "linear",
                                "--init", "default"])
    for entry in uniform["time_steps"]:
        assert entry["saturation_estimate"] == pytest.approx(entry["radius_rate"], rel=1e-12)
        assert entry["grad_norm"] <= entry["bound"] * (1 + 1e-12)


DEFAULT_INIT_CHAIN = ["--init", "default", "--width", "256", "--depth", "20", "--batch", "16"]


def test_chain_default_init_theory_is_mean_field_with_sigma_w2_one_third_and_sigma_b2_one_over_3n(capsys):
    """U(-1/sqrt(n), 1/sqrt(n)) has variance 1/(3n): sigma_w^2 = n Var(W) = 1/3 and sigma_b^2 = Var(b) = 1/(3n)."""
    result = run_json(capsys, ["chain", *DEFAULT_INIT_CHAIN])
    config = result["config"]
    x = cli.build_chain(config)[1]
    expected = np.sqrt(theory.backward_gains(math.sqrt(1 / 3), math.sqrt(1 / (3 * 256)), 20,
                                             float(np.mean(x ** 2)), "tanh"))
    np.testing.assert_allclose([layer["predicted_gain"] for layer in result["layers"]], expected, rtol=1e-12)
    assert result["theory"].startswith("mean-field") and "sigma_w = 0.5774, sigma_b = 0.03608" in result["theory"]
    cli.main(["chain", *DEFAULT_INIT_CHAIN])
    assert "PyTorch's default W, b ~ U(-1/sqrt(n), 1/sqrt(n))" in capsys.readouterr().out


@pytest.mark.parametrize("seed", [0, 1])
def test_chain_default_init_measured_gains_agree_with_mean_field_at_width_256(capsys, seed):
    """Tanh, width 256, depth 20, batch 16, seeds 0-9: every gain/theory in 0.960-1.033 (each gain is a norm
    ratio over 16 x 256 numbers, ~1% noise per layer) and the fitted log10 gain per layer within 0.0023
    of theory's (-0.240, x0.575 per layer); the tolerances 0.05 and 0.005 are about twice those spreads."""
    result = run_json(capsys, ["chain", *DEFAULT_INIT_CHAIN, "--seed", str(seed)])
    for layer in result["layers"]:
        assert layer["gain"] / layer["predicted_gain"] == pytest.approx(1.0, abs=0.05)
    fit = result["log10_gain_per_layer"]
    assert fit["predicted"] == pytest.approx(-0.240, abs=0.001)
    assert fit["measured"] == pytest.approx(fit["predicted"], abs=0.005)
