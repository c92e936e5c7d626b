"""Modules: registration and names, Linear against numpy, containers, and every layer's gradient
against central differences (gradcheck, float64)."""
import json

import numpy as np
import pytest

from tinygrad_vg import Tensor, anomaly, gradcheck, nn, theory


def make_parameter(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).normal(size=shape), requires_grad=True)


class TwoLayers(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Linear(3, 4, rng=0)
        self.body = nn.Sequential(nn.Tanh(), nn.Linear(4, 2, rng=1))
        self.scale = make_parameter(2)
        self.note = "not registered"
        self.cache = Tensor(np.ones(2), requires_grad=True) * 2     # an intermediate: not a parameter

    def forward(self, x):
        return self.body(self.first(x)) * self.scale


def test_parameters_and_modules_are_registered_by_attribute_with_dotted_names():
    model = TwoLayers()
    assert [name for name, _ in model.named_parameters()] == [
        "scale", "first.weight", "first.bias", "body.1.weight", "body.1.bias"]
    assert [name for name, _ in model.named_modules()] == ["", "first", "body", "body.0", "body.1"]
    assert model.body[1].path == "body.1" and model.body[1].label == "body.1 (Linear)"
    assert model.label == "TwoLayers"
    assert len(model.parameters()) == 5 and model.children() == [model.first, model.body]


def test_a_module_moved_into_a_parent_is_renamed_with_its_whole_subtree():
    inner = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    assert inner[1].path == "1"
    outer = nn.Sequential(nn.Identity(), inner)
    assert inner[1].path == "1.1" and inner[1].label == "1.1 (Linear)"
    outer.extra = nn.Identity()
    assert outer.extra.path == "extra"


def test_reassigning_an_attribute_unregisters_it_and_shared_parameters_appear_once():
    model = TwoLayers()
    model.first = None
    assert [name for name, _ in model.named_parameters()][0:1] == ["scale"]
    assert "first" not in dict(model.named_modules())
    shared = nn.Linear(2, 2)
    twice = nn.Sequential(shared, shared)
    assert len(twice.parameters()) == 2


def test_replacing_a_child_or_parameter_keeps_its_place_in_the_order_as_in_pytorch():
    model = TwoLayers()
    model.first = nn.Linear(3, 4)
    model.scale = make_parameter(2, seed=1)
    assert [name for name, _ in model.named_modules()] == ["", "first", "body", "body.0", "body.1"]
    assert [name for name, _ in model.named_parameters()][:3] == ["scale", "first.weight", "first.bias"]
    assert model.first.label == "first (Linear)"


def test_assigning_before_super_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_zero_grad_clears_every_parameter_gradient():
    model = TwoLayers()
    (model(Tensor(np.ones((5, 3)))) ** 2).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_train_and_eval_set_training_on_every_descendant_and_return_self():
    model = TwoLayers()
    assert all(m.training for _, m in model.named_modules())
    assert model.eval() is model and not any(m.training for _, m in model.named_modules())
    assert model.body.train() is model.body
    assert [name for name, m in model.named_modules() if m.training] == ["body", "body.0", "body.1"]
    assert model.train(True) is model and all(m.training for _, m in model.named_modules())
    with pytest.raises(ValueError, match="train: training mode is expected to be boolean, got 1"):
        model.train(1)


def test_train_reaches_each_child_through_its_own_train_as_in_pytorch():
    calls = []

    class Frozen(nn.Linear):
        def train(self, mode=True):         # a module that refuses training mode, as users write them
            calls.append(mode)
            self.training = False
            return self

    model = nn.Sequential(nn.Tanh(), nn.Sequential(Frozen(2, 2)))
    model.train()
    assert calls == [True] and not model[1][0].training and model[1].training


def test_linear_matches_a_hand_written_numpy_layer_and_its_gradients():
    layer = nn.Linear(3, 4, rng=0)
    x = np.random.default_rng(1).normal(size=(5, 3))
    upstream = np.random.default_rng(2).normal(size=(5, 4))
    y = layer(Tensor(x))
    w, b = layer.weight.data, layer.bias.data
    np.testing.assert_allclose(y.data, x @ w.T + b, rtol=1e-15, atol=1e-15)
    y.backward(upstream)
    np.testing.assert_allclose(layer.weight.grad, upstream.T @ x, rtol=1e-13)     # dL/dW = G^T X
    np.testing.assert_allclose(layer.bias.grad, upstream.sum(axis=0), rtol=1e-13)  # dL/db = sum_rows G


def test_linear_default_init_is_pytorchs_uniform_bound_and_seeded():
    fan_in = 400
    layer = nn.Linear(fan_in, 300, rng=5)
    bound = 1 / np.sqrt(fan_in)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound
    # U(-b, b) has variance b^2 / 3; its sample variance over n = 120000 draws has standard error
    # b^2 sqrt((1/5 - 1/9) / n) ~ 9e-4 b^2: 5 standard errors is ~0.5% of the variance.
    assert abs(layer.weight.data.var() - bound ** 2 / 3) < 5 * bound ** 2 * np.sqrt((1 / 5 - 1 / 9) / 120000)
    np.testing.assert_array_equal(layer.weight.data, nn.Linear(fan_in, 300, rng=5).weight.data)
    assert nn.Linear(3, 2, bias=False).bias is None
    assert nn.Linear(3, 2, dtype=np.float32).weight.dtype == np.float32


def test_linear_with_no_inputs_outputs_its_bias_which_starts_at_zero():
    layer = nn.Linear(0, 3, rng=0)
    assert layer.weight.shape == (3, 0)
    np.testing.assert_array_equal(layer.bias.data, np.zeros(3))     # PyTorch's bound 1/sqrt(fan_in) is 0 here
    layer.bias.data[...] = [1.0, 2.0, 3.0]
    x = Tensor(np.empty((2, 0)), requires_grad=True)
    y = layer(x)
    np.testing.assert_array_equal(y.data, [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    y.backward(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(layer.bias.grad, [3.0, 5.0, 7.0])  # dL/db = sum_rows G
    assert layer.weight.grad.shape == (3, 0) and x.grad.shape == (2, 0)


def test_linear_with_no_outputs_maps_a_batch_to_empty_rows_and_passes_no_gradient_back():
    layer = nn.Linear(3, 0, rng=0)
    assert layer.weight.shape == (0, 3) and layer.bias.shape == (0,)
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = layer(x)
    assert y.shape == (2, 0)
    y.backward(np.empty((2, 0)))
    np.testing.assert_array_equal(x.grad, np.zeros((2, 3)))
    assert layer.weight.grad.shape == (0, 3) and layer.bias.grad.shape == (0,)


def test_module_names_the_layer_only_while_it_runs():
    model = TwoLayers()
    seen = []

    class Spy(nn.Module):
        def forward(self, x):
            seen.append(anomaly.current_module())
            return x

    model.body.append(Spy())
    model(Tensor(np.ones((1, 3))))
    assert seen == ["body.2 (Spy)"] and anomaly.module_stack == []


def gradcheck_module(module, inputs, parameter_names, output=lambda out: out):
    """gradcheck of output(module(*inputs)) with respect to the inputs and the named parameters."""
    originals = {name: getattr(module, name) for name in parameter_names}

    def fn(*tensors):
        for name, tensor in zip(parameter_names, tensors[len(inputs):]):
            setattr(module, name, tensor)
        return output(module(*tensors[:len(inputs)]))

    try:
        return gradcheck(fn, list(inputs) + [originals[name].data for name in parameter_names])
    finally:
        for name, tensor in originals.items():
            setattr(module, name, tensor)


def test_residual_computes_x_plus_alpha_block_and_passes_gradcheck():
    block = nn.Sequential(nn.Linear(3, 3, rng=0), nn.Tanh())
    residual = nn.Residual(block, alpha=0.5)
    x = np.random.default_rng(1).normal(size=(4, 3))
    np.testing.assert_allclose(residual(Tensor(x)).data, x + 0.5 * block(Tensor(x)).data, rtol=1e-15)
    inner = block[0]
    report = gradcheck(lambda x, w: nn.Residual(lambda_module(inner, w), alpha=0.5)(x), [x, inner.weight.data])
    assert report, report


def lambda_module(linear, weight):
    """A Linear-then-tanh module whose weight is `weight` (gradcheck needs the weight as an input)."""
    class Block(nn.Module):
        def forward(self, x):
            return (x @ weight.T + linear.bias).tanh()
    return Block()


def test_layer_norm_normalises_the_last_axis_and_passes_gradcheck():
    norm = nn.LayerNorm(5, eps=1e-5)
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(4, 5))
    y = norm(Tensor(x)).data
    # mean 0 and (biased) variance var / (var + eps) per row
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-14)
    np.testing.assert_allclose(y.var(axis=1), x.var(axis=1) / (x.var(axis=1) + 1e-5), rtol=1e-12)
    norm.weight = make_parameter(5, seed=1)
    norm.bias = make_parameter(5, seed=2)
    report = gradcheck_module(norm, [x], ["weight", "bias"])
    assert report, report
    plain = nn.LayerNorm(5, elementwise_affine=False)
    assert plain.parameters() == [] and gradcheck(plain, [x])


def test_rnn_shapes_states_and_gradients_through_time_pass_gradcheck():
    rnn = nn.RNN(3, 4, rng=0)
    x = np.random.default_rng(1).normal(size=(5, 2, 3))
    outputs, last = rnn(Tensor(x))
    assert outputs.shape == (5, 2, 4) and last is rnn.hidden_states[-1] and len(rnn.hidden_states) == 6
    np.testing.assert_array_equal(outputs.data[2], rnn.hidden_states[3].data)
    # h_1 by hand
    h1 = np.tanh(x[0] @ rnn.weight_ih.data.T + rnn.bias.data)
    np.testing.assert_allclose(rnn.hidden_states[1].data, h1, rtol=1e-14)
    weights = np.random.default_rng(2).normal(size=(5, 2, 4))
    report = gradcheck_module(rnn, [x], ["weight_ih", "weight_hh", "bias"],
                              output=lambda result: (result[0] * weights).sum())
    assert report, report
    relu = nn.RNN(3, 4, nonlinearity="relu", rng=3)
    assert gradcheck(lambda x, h0: relu(x, h0)[0], [x, np.random.default_rng(4).normal(size=(2, 4))])


def test_rnn_hidden_state_gradient_is_the_gradient_of_the_rest_of_the_sequence():
    """BPTT: hidden_states[t].grad of a loss of h_T equals the gradient of the same loss computed
    by restarting the RNN at h_t (as a fresh leaf) on steps t+1..T."""
    rnn = nn.RNN(2, 3, rng=0)
    x = np.random.default_rng(1).normal(size=(6, 1, 2))
    _, last = rnn(Tensor(x))
    (last * last).sum().backward()
    states = rnn.hidden_states
    for t in (1, 3, 5):
        restart = Tensor(states[t].data.copy(), requires_grad=True)
        _, rerun_last = rnn(Tensor(x[t:]), restart)
        (rerun_last * rerun_last).sum().backward()
        np.testing.assert_allclose(states[t].grad, restart.grad, rtol=1e-12, atol=1e-15)


def test_rnn_rejects_a_wrong_input_shape_and_nonlinearity():
    with pytest.raises(ValueError, match=r"RNN: input must have shape \(T, batch, 3\)"):
        nn.RNN(3, 4)(Tensor(np.ones((2, 3))))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")


def test_mse_loss_value_and_gradcheck():
    a, b = np.random.default_rng(0).normal(size=(2, 3, 4))
    assert nn.mse_loss(Tensor(a), Tensor(b)).item() == pytest.approx(np.mean((a - b) ** 2), rel=1e-14)
    assert gradcheck(nn.mse_loss, [a, b])


def test_mse_loss_takes_a_tensor_ndarray_or_list_target_of_the_prediction_shape():
    prediction = Tensor(np.array([[1.0], [3.0]]), requires_grad=True)
    for target in (Tensor(np.array([[0.0], [1.0]])), np.array([[0.0], [1.0]]), [[0.0], [1.0]]):
        prediction.zero_grad()
        loss = nn.mse_loss(prediction, target)
        loss.backward()
        assert loss.item() == 2.5                                        # (1^2 + 2^2) / 2
        np.testing.assert_array_equal(prediction.grad, [[1.0], [2.0]])  # 2 (p - t) / N


def test_mse_loss_refuses_to_broadcast_a_column_prediction_against_a_flat_target():
    prediction = Tensor(np.zeros((4, 1)))
    for target in (Tensor(np.zeros(4)), np.zeros(4), [0.0] * 4):
        with pytest.raises(ValueError, match=r"mse_loss: prediction shape \(4, 1\) and target shape \(4,\)"):
            nn.mse_loss(prediction, target)
    with pytest.raises(ValueError, match=r"mse_loss: prediction shape \(4, 1\) and target shape \(\)"):
        nn.mse_loss(prediction, 0.0)


def test_cross_entropy_value_is_stable_for_huge_logits_and_passes_gradcheck():
    logits = np.random.default_rng(0).normal(size=(4, 3))
    target = np.array([0, 2, 1, 2])
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -log_p[np.arange(4), target].mean()
    assert nn.cross_entropy(Tensor(logits), target).item() == pytest.approx(expected, rel=1e-14)
    assert gradcheck(lambda z: nn.cross_entropy(z, target), [logits])
    # logits 1e4 apart: exp overflows naively; from logits the loss is exactly the gap (or 0)
    huge = Tensor(np.array([[1e4, 0.0], [0.0, 1e4]]))
    assert nn.cross_entropy(huge, np.array([1, 1])).item() == pytest.approx(0.5e4, rel=1e-15)


def test_cross_entropy_rejects_bad_targets():
    logits = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 3\)"):
        nn.cross_entropy(logits, np.array([0, 3]))
    with pytest.raises(TypeError, match="integer class indices"):
        nn.cross_entropy(logits, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"logits \(N, C\) and targets \(N,\)"):
        nn.cross_entropy(logits, np.array([0, 1, 2]))


def test_deep_chain_computes_the_convention_layer_by_layer():
    chain = nn.DeepChain(4, 3, activation="tanh", init="normal", sigma_w=1.5, sigma_b=0.2, rng=0)
    x = np.random.default_rng(1).normal(size=(2, 3))
    out, outputs = chain.forward_with_outputs(x)
    h = x
    for layer, measured in zip(chain.layers, outputs):
        h = np.tanh(h @ layer.weight.data.T + layer.bias.data)
        np.testing.assert_allclose(measured.data, h, rtol=1e-14)
    assert out is outputs[-1] and chain.output_names == ["layers.0", "layers.1", "layers.2", "layers.3"]
    assert chain.layers[3].label == "layers.3 (Linear)" and chain.activations[0].label == "activations.0 (Tanh)"
    assert [w.shape for w in chain.weights] == [(3, 3)] * 4


def test_deep_chain_inits_and_options():
    identity = nn.DeepChain(3, 4, init="identity", scale=0.9, rng=0)
    np.testing.assert_array_equal(identity.weights[1].data, 0.9 * np.eye(4))
    assert not identity.layers[1].bias.data.any()
    orthogonal = nn.DeepChain(2, 4, init="orthogonal", scale=2.0, rng=0).weights[0].data
    np.testing.assert_allclose(orthogonal @ orthogonal.T, 4 * np.eye(4), atol=1e-13)
    np.testing.assert_array_equal(nn.DeepChain(2, 5, init="he", rng=7).weights[1].data,
                                  nn.DeepChain(2, 5, init="he", rng=7).weights[1].data)
    half = nn.DeepChain(2, 3, init="identity", scale=0.5, dtype=np.float32, bias=False)
    assert half.parameters()[0].dtype == np.float32 and half(np.ones((1, 3))).dtype == np.float32
    with pytest.raises(ValueError, match="unknown init"):
        nn.DeepChain(2, 3, init="glorot")
    with pytest.raises(ValueError, match="unknown name"):
        nn.DeepChain(2, 3, activation="gelu")


def test_residual_and_normalised_chain_match_their_formula_and_pass_gradcheck():
    chain = nn.DeepChain(3, 4, activation="relu", init="he", residual=True, alpha=0.5, norm="layer", rng=0)
    x = np.random.default_rng(1).normal(size=(2, 4))
    h = x
    for layer in chain.layers:
        z = h @ layer.weight.data.T + layer.bias.data
        z = (z - z.mean(-1, keepdims=True)) / np.sqrt(z.var(-1, keepdims=True) + 1e-5)
        h = h + 0.5 * np.maximum(z, 0)
    np.testing.assert_allclose(chain(x).data, h, rtol=1e-13)
    assert [name for name, _ in chain.named_parameters()][-2:] == ["norms.2.weight", "norms.2.bias"]
    assert gradcheck(lambda x: (chain(x) ** 2).sum(), [x])


def test_deep_chain_with_batch_norm_and_dropout_names_its_modules_and_keeps_its_weights():
    chain = nn.DeepChain(3, 4, activation="tanh", init="normal", norm="batch", dropout=0.25, rng=0)
    children = [name for name, _ in chain.named_modules() if name.count(".") == 1]
    assert children == [f"{part}.{l}" for part in ("layers", "norms", "activations", "dropouts") for l in range(3)]
    assert chain.norms[2].label == "norms.2 (BatchNorm1d)" and chain.dropouts[0].label == "dropouts.0 (Dropout)"
    assert [name for name, _ in chain.named_buffers()][-2:] == ["norms.2.running_mean", "norms.2.running_var"]
    plain = nn.DeepChain(3, 4, activation="tanh", init="normal", rng=0)
    for ours, theirs in zip(chain.weights, plain.weights):        # dropout's seeds come after the weights
        np.testing.assert_array_equal(ours.data, theirs.data)


def test_deep_chain_with_batch_norm_and_dropout_is_the_formula_in_both_modes():
    """Training: BatchNorm1d on the batch, then tanh, then dropout (its mask read off the output);
    evaluation: the running statistics and no dropout."""
    chain = nn.DeepChain(3, 4, activation="tanh", init="normal", norm="batch", dropout=0.5, rng=0)
    x = np.random.default_rng(1).normal(size=(6, 4))
    _, outputs = chain.forward_with_outputs(x)
    h, running = x, []
    for layer, measured in zip(chain.layers, outputs):
        z = h @ layer.weight.data.T + layer.bias.data
        running.append(0.9 * np.array([0.0, 0, 0, 0]) + 0.1 * z.mean(0))
        a = np.tanh((z - z.mean(0)) / np.sqrt(z.var(0) + 1e-5))
        kept = measured.data != 0
        assert 0 < kept.mean() < 1
        h = np.where(kept, a / 0.5, 0.0)
        np.testing.assert_allclose(measured.data, h, rtol=1e-13)
    np.testing.assert_allclose([norm.running_mean.data for norm in chain.norms], running, rtol=1e-13, atol=1e-16)
    chain.eval()
    h = x
    for layer, norm in zip(chain.layers, chain.norms):
        z = h @ layer.weight.data.T + layer.bias.data
        h = np.tanh((z - norm.running_mean.data) / np.sqrt(norm.running_var.data + 1e-5))
    np.testing.assert_allclose(chain(x).data, h, rtol=1e-13)
    assert gradcheck(lambda x: (chain(x) ** 2).sum(), [x])


def test_a_seeded_chain_with_dropout_draws_the_same_masks():
    x = np.random.default_rng(1).normal(size=(5, 4))
    chains = [nn.DeepChain(2, 4, activation="relu", init="he", dropout=0.5, rng=3) for _ in range(2)]
    runs = [[chain(x).data for _ in range(2)] for chain in chains]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0][0], runs[0][1])         # each call draws new masks


@pytest.mark.parametrize("norm", [True, False, "none", "Batch", "instance"])
def test_deep_chain_norm_is_none_layer_or_batch_and_nothing_else(norm):
    with pytest.raises(ValueError, match=rf"DeepChain: unknown norm {norm!r}; choose None, 'layer' \(LayerNorm\) "
                                         r"or 'batch' \(BatchNorm1d\)"):
        nn.DeepChain(2, 3, norm=norm)


def test_deep_chain_config_records_norm_and_dropout_as_json():
    chain = nn.DeepChain(2, 3, norm="layer", dropout=0.1, rng=0)
    assert json.loads(json.dumps(chain.config)) == chain.config
    assert (chain.config["norm"], chain.config["dropout"]) == ("layer", 0.1)
    assert nn.DeepChain(2, 3).config["norm"] is None and nn.DeepChain(2, 3).dropouts is None
    with pytest.raises(ValueError, match="Dropout: probability has to be between 0 and 1, but got 1.5"):
        nn.DeepChain(2, 3, dropout=1.5)


def linear_rnn_gradients(seed, weight_hh=None, cotangent=None, length=7, batch=2, width=4):
    """A linear RNN's hidden_states[t].grad for the loss sum(h_T * cotangent), so dL/dh_T = cotangent."""
    rng = np.random.default_rng(seed)
    rnn = nn.RNN(3, width, nonlinearity="linear", rng=rng)
    if weight_hh is not None:
        rnn.weight_hh.data[...] = weight_hh
    cotangent = rng.normal(size=(batch, width)) if cotangent is None else cotangent
    h0 = Tensor(np.zeros((batch, width)), requires_grad=True)       # a leaf, so that h_0 keeps its .grad
    _, last = rnn(Tensor(rng.normal(size=(length, batch, 3))), h0)
    (last * Tensor(cotangent)).sum().backward()
    return rnn, cotangent, [h.grad for h in rnn.hidden_states]


def test_linear_rnn_has_no_nonlinearity_and_its_gradient_through_time_is_powers_of_weight_hh():
    """h_t = h_(t-1) W^T + ..., so dL/dh_(t-1) = dL/dh_t W and dL/dh_t = dL/dh_T W^(T-t) exactly; the
    engine and numpy's matrix_power multiply in different orders, so they agree to rounding only."""
    rnn, cotangent, grads = linear_rnn_gradients(seed=0)
    x = np.random.default_rng(1).normal(size=(3, 2, 3))
    _, last = rnn(Tensor(x))
    h = np.zeros((2, 4))
    for x_t in x:
        h = x_t @ rnn.weight_ih.data.T + h @ rnn.weight_hh.data.T + rnn.bias.data
    np.testing.assert_allclose(last.data, h, rtol=1e-13)
    length = len(grads) - 1
    for t, grad in enumerate(grads):
        expected = cotangent @ np.linalg.matrix_power(rnn.weight_hh.data, length - t)
        np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-15)
    assert "nonlinearity='linear'" in repr(rnn)


def test_linear_rnn_gradient_norms_bound_the_engine_and_are_attained_for_a_symmetric_weight():
    """theory.linear_rnn_gradient_norms[s] = ||W^s||_2 bounds |dL/dh_(T-s)| / |dL/dh_T| for any W and
    cotangent (Frobenius over the batch: |G W^s|_F <= ||W^s||_2 |G|_F); for a symmetric W (normal) and
    dL/dh_T along the eigenvector of the largest |eigenvalue| the ratio is that bound, |lambda|^s, to rounding."""
    rnn, cotangent, grads = linear_rnn_gradients(seed=2, length=12)
    norms = theory.linear_rnn_gradient_norms(rnn.weight_hh.data, 12)
    measured = np.array([np.linalg.norm(grad) for grad in grads[::-1]]) / np.linalg.norm(cotangent)
    assert np.all(measured <= norms * (1 + 1e-12)) and np.all(measured[1:] < norms[1:])

    symmetric = np.random.default_rng(3).normal(size=(4, 4))
    symmetric = (symmetric + symmetric.T) / 4
    eigenvalues, eigenvectors = np.linalg.eigh(symmetric)
    top = np.argmax(np.abs(eigenvalues))
    _, cotangent, grads = linear_rnn_gradients(seed=4, weight_hh=symmetric, cotangent=eigenvectors[:, top][None],
                                               length=12, batch=1)
    norms = theory.linear_rnn_gradient_norms(symmetric, 12)
    measured = np.array([np.linalg.norm(grad) for grad in grads[::-1]])
    np.testing.assert_allclose(measured, norms, rtol=1e-12)
    np.testing.assert_allclose(norms, np.abs(eigenvalues[top]) ** np.arange(13), rtol=1e-12)
