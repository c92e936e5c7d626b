"""q8: the engine's gradient through time beside theory.eigen and theory.rnn, on the same draws."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_vg.examples import q8_eigendecomposition as q8
from tinygrad_vg.script import main


@pytest.fixture(scope="module")
def result():
    return q8.run()


def test_the_linear_rnn_gradient_is_the_eigendecomposition_prediction_to_rounding(result):
    e = result["eigendecomposition"]
    assert e["largest_relative_difference"] < 1e-12
    assert np.allclose(e["measured_modes"], e["predicted_modes"], rtol=1e-9)
    assert e["measured_rate"] == pytest.approx(e["predicted_rate"], rel=1e-10)
    # over s = 30..59 the second mode is a (0.95/1.08)^s <= 0.02 a of the first (a = 0.82: the ratio
    # of their contributions at s = 0, seed 0) and fading, which moves the fitted slope off ln rho by
    # about 0.02 a ln(1.08/0.95) = 2.1e-3 at most; measured 3.0e-4
    assert e["ln_rho"] == pytest.approx(math.log(1.08), rel=1e-12)
    assert abs(e["measured_rate"] - e["ln_rho"]) < 2.1e-3


@settings(max_examples=15)
@given(st.lists(st.floats(0.2, 1.2), min_size=1, max_size=5, unique=True), st.integers(4, 25),
       st.integers(0, 2 ** 32 - 1), st.booleans())
def test_on_any_draw_the_engine_follows_v_diag_lambda_s_v_inverse(moduli, steps, seed, negate):
    eigenvalues = [-m if negate and n % 2 else m for n, m in enumerate(moduli)]
    e = q8.eigendecomposition_part(eigenvalues, steps, np.random.default_rng(seed))
    # the engine's chain of matmuls and the prediction through V^-1 round to ~kappa eps per step: over
    # 150 draws the difference was at most 6.7e-15 kappa T, 15 times below this
    assert e["largest_relative_difference"] < 1e-13 * e["condition_number"] * steps


def test_a_non_normal_w_with_rho_below_1_grows_the_gradient_2000_fold_then_decays(result):
    t = result["transient"]
    assert t["rho"] == pytest.approx(0.85) and t["sigma_max"] > 1
    weight = np.diag(np.linspace(0.6, 0.85, 8)) + np.eye(8, k=1)
    exact = [np.linalg.norm(np.linalg.matrix_power(weight, s), 2) for s in range(t["steps"])]
    assert np.allclose(t["power_norms"], exact, rtol=1e-10)
    assert t["peak_step"] == 26 and t["peak"] == pytest.approx(2032.89, rel=1e-5)
    # the engine: the worst cotangent reaches the peak exactly, a random one stays below it everywhere
    assert t["measured_worst"][t["peak_step"]] == pytest.approx(t["peak"], rel=1e-12)
    assert np.all(np.array(t["measured_random"]) <= np.array(t["power_norms"]) * (1 + 1e-12))
    assert np.all(np.array(t["measured_worst"]) <= np.array(t["power_norms"]) * (1 + 1e-12))
    assert max(t["measured_random"]) > 1000 and t["measured_random"][-1] < 1e-4
    assert np.all(np.array(t["measured_worst"]) <= np.array(t["sigma_max_powers"]) * (1 + 1e-12))
    assert t["rho_powers"][t["peak_step"]] < 0.02                  # what the eigenvalues alone would say
    assert 600 < t["kreiss"][0] <= t["peak"] <= t["kreiss"][1]     # what the resolvent says


def test_with_sigma_max_below_1_there_is_no_transient():
    t = q8.transient_part(8, (0.3, 0.5), 0.4, 40, np.random.default_rng(0))
    assert t["sigma_max"] < 1 and t["peak_step"] == 0
    assert np.all(np.diff(t["measured_random"]) < 0)


def test_the_tanh_rnn_gradient_vanishes_at_the_mean_field_rate_although_rho_exceeds_1(result):
    h = result["tanh"]
    assert h["rho"] > 1.4 and h["predicted_rate"] == pytest.approx(-0.14183, rel=1e-4)
    # 30 seeds at width 256 (T = 80, burn-in 20): measured minus predicted rate has mean 0.0002 and sd
    # 0.0056 (largest 0.0135); 0.025 is 4.4 sd. The rate without the input's variance would be +0.065.
    assert h["measured_rate"] == pytest.approx(h["predicted_rate"], abs=0.025)
    # mean h_t^2 of the settled states over the same 30 seeds: relative sd 0.0033; 0.015 is 4.5 sd
    assert h["measured_mean_square_state"] == pytest.approx(h["predicted_mean_square_state"], rel=0.015)


def test_the_tanh_rnn_rate_on_a_second_seed_and_sigma_w():
    h = q8.tanh_part(256, 1.0, 0.5, 80, 20, np.random.default_rng(7))
    # 30 seeds at sigma_w = 1, input variance 0.25: measured minus predicted has mean 0.0036, sd 0.0072
    # (largest 0.0198); 0.03 is 3.7 sd from the mean
    assert h["measured_rate"] == pytest.approx(h["predicted_rate"], abs=0.03)


def test_show_prints_measured_beside_predicted_and_help_states_the_answer(result, capsys):
    text = result.show()
    assert "V^-T diag(lambda^s) V^T c" in text and "||W^s||_2" in text and "mean field" in text
    assert [panel["title"] for panel in result.figure()][1].startswith("non-normal W")
    with pytest.raises(SystemExit) as exit:
        main(q8, ["--help"])
    assert exit.value.code == 0 and "Short answer" in capsys.readouterr().out


def test_options_that_do_not_go_together_are_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit:
        main(q8, ["--tanh-steps", "10", "--burn-in", "20"])
    assert exit.value.code == 2 and "--burn-in (20)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(q8, ["--eigenvalues", "0.5", "0.5"])
