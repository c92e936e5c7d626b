"""The per-layer chain report: gains telescope to the end-to-end ratio, spectra are the singular
values of the true Jacobians, and nothing in the graph is changed."""
import json

import numpy as np
import pytest

from tinygrad_vg import Tensor, chain_report, jacobian, nn
from tinygrad_vg.diagnostics import norm


def tanh_chain(depth=6, width=3, batch=2, sigma_w=1.5, seed=0):
    """h_l = tanh(h_(l-1) W_l^T + b_l), loss = mean((h_L - target)^2), back-propagated."""
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((batch, width)), requires_grad=True)
    h, outputs, weights = x, [], []
    for _ in range(depth):
        W = Tensor(rng.standard_normal((width, width)) * sigma_w / np.sqrt(width), requires_grad=True)
        b = Tensor(rng.standard_normal(width) * 0.1, requires_grad=True)
        h = (h @ W.T + b).tanh()
        outputs.append(h)
        weights.append((W, b))
    loss = ((h - rng.standard_normal(h.shape)) ** 2).mean()
    loss.backward(retain_grads=True)     # these tests read the intermediates' .grad themselves
    return x, outputs, weights, loss


def test_running_product_of_gains_is_the_measured_norm_ratio():
    x, outputs, weights, loss = tanh_chain()
    report = chain_report(outputs, loss, weights=weights, input=x)
    top = np.linalg.norm(outputs[-1].grad)
    below = [x] + outputs[:-1]              # the gradient leaving layer l downwards is dL/dh_(l-1)
    # The running product of L quotients of norms carries at most ~3L eps of relative rounding.
    for record, h in zip(report.layers, below):
        np.testing.assert_allclose(record.cumulative_gain, np.linalg.norm(h.grad) / top, rtol=1e-13)
    measured = np.linalg.norm(x.grad) / top
    np.testing.assert_allclose(report.end_to_end_ratio, measured, rtol=1e-15)
    np.testing.assert_allclose(report.layers[0].cumulative_gain, measured, rtol=1e-13)
    assert report.layers[0].cumulative_gain != report.layers[1].cumulative_gain


def test_layer_records_hold_the_measured_norms():
    x, outputs, weights, loss = tanh_chain()
    report = chain_report(outputs, loss, weights=weights, input=x)
    assert [r.layer for r in report.layers] == list(range(1, 7))
    for record, h, (W, b) in zip(report.layers, outputs, weights):
        assert record.shape == (2, 3)
        np.testing.assert_allclose(record.activation_norm, np.linalg.norm(h.data), rtol=1e-15)
        np.testing.assert_allclose(record.grad_norm, np.linalg.norm(h.grad), rtol=1e-15)
        np.testing.assert_allclose(record.weight_grad_norm,
                                   np.sqrt(np.sum(W.grad ** 2) + np.sum(b.grad ** 2)), rtol=1e-14)
    assert report.loss == loss.item()
    np.testing.assert_allclose(report.input_grad_norm, np.linalg.norm(x.grad), rtol=1e-15)


def test_local_spectra_are_those_of_the_analytic_layer_jacobian_and_bound_the_gains():
    x, outputs, weights, loss = tanh_chain()
    report = chain_report(outputs, loss, weights=weights, input=x)
    for record, h, previous, (W, _) in zip(report.layers, outputs, [x] + outputs[:-1], weights):
        # per sample, dh_l/dh_(l-1) = diag(1 - h_l^2) W_l; across the batch the blocks sit on a diagonal
        blocks = [np.diag(1 - row ** 2) @ W.data for row in h.data]
        analytic = np.zeros((6, 6))
        analytic[:3, :3], analytic[3:, 3:] = blocks
        expected = np.linalg.svd(analytic, compute_uv=False)
        np.testing.assert_allclose(record.jacobian_singular_values, expected, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(expected, np.linalg.svd(jacobian(h, previous).reshape(6, 6),
                                                           compute_uv=False), rtol=1e-12, atol=1e-14)
        # g_(l-1) = g_l J_l, so |J_l^T g_l| / |g_l| lies between the extreme singular values
        s = record.jacobian_singular_values
        assert s[-1] * (1 - 1e-12) <= record.gain <= s[0] * (1 + 1e-12)


def test_end_to_end_spectrum_is_the_svd_of_the_jacobian():
    x, outputs, weights, loss = tanh_chain()
    report = chain_report(outputs, loss, input=x)
    full = jacobian(outputs[-1], x).reshape(6, 6)
    np.testing.assert_allclose(report.end_to_end_singular_values, np.linalg.svd(full, compute_uv=False),
                               rtol=1e-12, atol=1e-14)
    # and it is the product of the local Jacobians (the chain rule along the only path of layers)
    product = np.eye(6)
    for h, previous in zip(outputs, [x] + outputs[:-1]):
        product = jacobian(h, previous).reshape(6, 6) @ product
    np.testing.assert_allclose(full, product, rtol=1e-12, atol=1e-14)


def test_without_the_input_layer_one_has_no_gain_and_the_product_ends_at_layer_one():
    _, outputs, _, loss = tanh_chain()
    report = chain_report(outputs, loss)
    first = report.layers[0]
    assert first.gain is None and first.cumulative_gain is None and first.jacobian_singular_values is None
    assert first.weight_grad_norm is None
    ratio = np.linalg.norm(outputs[0].grad) / np.linalg.norm(outputs[-1].grad)
    np.testing.assert_allclose(report.end_to_end_ratio, ratio, rtol=1e-15)
    np.testing.assert_allclose(report.layers[1].cumulative_gain, ratio, rtol=1e-13)
    assert report.input_grad_norm is None


def test_big_layers_get_no_spectra():
    x, outputs, weights, loss = tanh_chain()
    report = chain_report(outputs, loss, input=x, spectra_max_size=5)
    assert all(r.jacobian_singular_values is None for r in report.layers)
    assert report.end_to_end_singular_values is None


def test_report_changes_no_gradient():
    x, outputs, weights, loss = tanh_chain()
    before = [h.grad.copy() for h in [x] + outputs]
    chain_report(outputs, loss, weights=weights, input=x)
    for h, grad in zip([x] + outputs, before):
        np.testing.assert_array_equal(h.grad, grad)


def test_report_prints_a_table_and_converts_to_json():
    x, outputs, weights, loss = tanh_chain(depth=4)
    report = chain_report(outputs, loss, weights=weights, input=x)
    text = str(report)
    lines = text.splitlines()
    header = next(k for k, line in enumerate(lines) if line.lstrip().startswith("layer"))
    rows = lines[header + 1: header + 5]
    assert [row.split()[0] for row in rows] == ["1", "2", "3", "4"]
    assert all("█" in row for row in rows[1:])            # the smallest gradient may get an empty bar
    assert len({row.index(row.split()[2]) + len(row.split()[2]) for row in rows}) == 1   # aligned column
    assert f"{report.end_to_end_ratio:.3e}" in text
    data = json.loads(json.dumps(report.to_dict()))
    assert [d["layer"] for d in data["layers"]] == [1, 2, 3, 4]
    assert set(data["layers"][0]) == {"layer", "shape", "activation_norm", "grad_norm", "gain",
                                      "cumulative_gain", "weight_grad_norm", "jacobian_singular_values"}
    assert data["layers"][2]["grad_norm"] == report.layers[2].grad_norm
    assert report.to_dicts() == report.to_dict()["layers"]


def test_a_vanishing_chain_shows_where_the_gradient_shrinks():
    x, outputs, _, loss = tanh_chain(depth=30, sigma_w=0.5)
    report = chain_report(outputs, loss, input=x, spectra_max_size=0)
    assert report.end_to_end_ratio < 1e-6
    assert np.median([r.gain for r in report.layers]) < 1     # a single layer may still amplify


def test_norm_neither_overflows_nor_underflows():
    assert norm(np.full(4, 1e200)) == pytest.approx(2e200, rel=1e-15)
    assert norm(np.full(4, 1e-200)) == pytest.approx(2e-200, rel=1e-15)
    assert norm(np.zeros(3)) == 0.0 and norm(np.array([1.0, np.inf])) == np.inf


def test_errors_name_the_problem():
    x, outputs, weights, loss = tanh_chain(depth=2)
    fresh = Tensor(np.ones((2, 3)), requires_grad=True).tanh()
    with pytest.raises(RuntimeError, match="layer 3's output .* has no .grad; call loss.backward"):
        chain_report(outputs + [fresh], loss)
    with pytest.raises(ValueError, match="1 weight entries for 2 layers"):
        chain_report(outputs, loss, weights=weights[:1])
    with pytest.raises(ValueError, match="no layer outputs"):
        chain_report([], loss)


def test_a_model_given_for_the_layer_outputs_is_a_type_error_that_says_how_to_get_them():
    x, outputs, weights, loss = tanh_chain(depth=2)
    model = nn.Linear(3, 3)
    with pytest.raises(TypeError, match=r"layer_outputs .* got Linear.*forward_with_outputs\(x\)"):
        chain_report(model, loss)
    with pytest.raises(TypeError, match=r"layer_outputs .* got Tensor.*forward_with_outputs\(x\)"):
        chain_report(outputs[-1], loss)
    with pytest.raises(TypeError, match=r"layer_outputs .* got float"):
        chain_report(1.0, loss)
    with pytest.raises(TypeError, match=r"layer_outputs\[1\] is of type ndarray, not a Tensor"):
        chain_report([outputs[0], outputs[1].data], loss)
    with pytest.raises(TypeError, match=r"layer_outputs\[0\] is of type Linear, not a Tensor.*forward_with_outputs"):
        chain_report(nn.Sequential(model, nn.Tanh()), loss)


def test_a_loss_or_weights_that_are_not_tensors_are_type_errors():
    x, outputs, weights, loss = tanh_chain(depth=2)
    with pytest.raises(TypeError, match=r"loss must be a Tensor, got float"):
        chain_report(outputs, loss.item())
    with pytest.raises(TypeError, match=r"weights\[1\] must be None, a Tensor or a sequence of Tensors, got ndarray"):
        chain_report(outputs, loss, weights=[weights[0], weights[1][0].data])
    with pytest.raises(TypeError, match=r"weights\[0\]\[1\] is of type float, not a Tensor"):
        chain_report(outputs, loss, weights=[(weights[0][0], 2.0), None])
    with pytest.raises(TypeError, match=r"weights must be a sequence .* got Linear"):
        chain_report(outputs, loss, weights=nn.Linear(3, 3))
    with pytest.raises(TypeError, match=r"input must be None or a Tensor, got ndarray"):
        chain_report(outputs, loss, input=x.data)
