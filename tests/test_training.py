"""Training a 50-layer linear chain W_l = k I on the identity task: it halts where and when the
arithmetic below says, stalls for k < 1, and is rescued by clipping.

The task, and why everything about it can be computed by hand. Inputs x = a I_n (a batch of n basis
vectors scaled by a), targets y = x, no biases, loss = mean over the N = n^2 entries of (h_L - y)^2.
While every layer is W_l = k I:
    h_l = k^l a I                                          (forward)
    loss = a^2 (k^L - 1)^2 / n
    dL/dz_l = (2/N) a (k^L - 1) k^(L-l) I                  (backward: each layer multiplies by k)
    dL/dW_l = (dL/dz_l)^T h_(l-1) = g I,  g = (2/N) a^2 (k^L - 1) k^(L-1)
The weight gradient is the same for every layer, so an SGD step keeps W_l = k' I with k' = k - lr g
(a clipped step: k' = k - lr * max_norm / sqrt(L n) * sign(g), the global norm being sqrt(L n) |g|).
So the whole run is the scalar recurrence `predict` below, and the first non-finite value is:
the forward linear op of the first layer l with |k|^l a > finfo.max, if any (checked with logarithms).
"""
import json
import math

import numpy as np
import pytest

from tinygrad_vg import Tensor, nn, optim
from tinygrad_vg.optim import SGD, lr_scheduler
from tinygrad_vg.training import TrainingRecord, train

DEPTH, WIDTH, A = 50, 4, 1.0


def identity_task(dtype=np.float64):
    x = A * np.eye(WIDTH, dtype=dtype)
    return x, x


def identity_chain(k, dtype=np.float64):
    return nn.DeepChain(DEPTH, WIDTH, activation="linear", init="identity", scale=k, bias=False, dtype=dtype)


def predict(k, lr, steps, clip=None, dtype=np.float64):
    """The scalar recurrence of the module docstring: per-step losses and global gradient norms, and
    (step, layer l counted from 1) of the first forward overflow, or None."""
    L, n, N = DEPTH, WIDTH, WIDTH * WIDTH
    log_max = math.log(np.finfo(dtype).max)
    losses, grad_norms = [], []
    for step in range(steps):
        if k != 0 and L * math.log(abs(k)) + math.log(A) > log_max:
            layer = next(l for l in range(1, L + 1) if l * math.log(abs(k)) + math.log(A) > log_max)
            return losses, grad_norms, (step, layer)
        product = k ** L
        g = 2 / N * A ** 2 * (product - 1) * k ** (L - 1)
        for value in (A * (product - 1)) ** 2, g:   # the loss's square and the gradient stay finite here
            assert value < np.finfo(dtype).max, "this configuration would halt elsewhere"
        losses.append(A ** 2 * (product - 1) ** 2 / n)
        grad_norms.append(math.sqrt(L * n) * abs(g))
        if clip is not None and grad_norms[-1] > clip:
            k -= lr * clip / math.sqrt(L * n) * math.copysign(1.0, g)
        else:
            k -= lr * g
    return losses, grad_norms, None


def assert_never_trained_on_a_bad_loss(record):
    assert all(math.isfinite(v) for v in record.loss + record.grad_norm)
    json.dumps(record.to_dict(), allow_nan=False)         # JSON-ready, and no NaN or inf in it


def test_float32_chain_with_k_8_halts_at_step_0_in_the_layer_where_8_to_the_l_overflows():
    """k = 8 = 2^3 makes every activation exact: h_l = 2^(3l). float32's largest value is just under
    2^128, so h_l is finite for 3l <= 127 and the first overflow is l = 43, i.e. `layers.42`. The
    forward pass of the very first step overflows: training halts before any update."""
    log2_max = math.log2(np.finfo(np.float32).max)
    expected_layer = next(l for l in range(1, DEPTH + 1) if 3 * l > log2_max)
    assert expected_layer == 43
    x, y = identity_task(np.float32)
    record = train(identity_chain(8.0, np.float32), x, y, steps=5, lr=0.1)
    halted = record.halted
    assert (halted.step, halted.op, halted.kind, halted.phase) == (0, "linear", "inf", "forward")
    assert halted.module == f"layers.{expected_layer - 1} (Linear)"
    assert record.steps == 0 and "layers.42 (Linear)" in halted.message
    assert predict(8.0, 0.1, 5, dtype=np.float32)[2] == (0, expected_layer)
    assert_never_trained_on_a_bad_loss(record)


def test_float64_chain_with_k_1_5_survives_step_0_then_overflows_at_layer_20_of_step_1():
    """k = 1.5: step 0 is finite (1.5^50 = 6.4e8), but g = (2/16)(1.5^50 - 1) 1.5^49 = 3.4e16, so the
    update gives k1 = 1.5 - 0.1 g = -3.4e15, and in step 1, |k1|^l passes 1.8e308 at l = 20."""
    losses, grad_norms, halt = predict(1.5, 0.1, 5)
    k1 = 1.5 - 0.1 * 2 / 16 * (1.5 ** 50 - 1) * 1.5 ** 49
    layer = math.ceil(math.log(np.finfo(np.float64).max) / math.log(abs(k1)))
    assert halt == (1, layer) == (1, 20)
    # the prediction is nowhere near a rounding boundary: layers 19 and 20 miss the limit by 10^13 and 10^2
    assert 19 * math.log10(abs(k1)) < 308.25 - 13 and 20 * math.log10(abs(k1)) > 308.26 + 2
    x, y = identity_task()
    record = train(identity_chain(1.5), x, y, steps=5, lr=0.1)
    assert (record.halted.step, record.halted.module, record.halted.op, record.halted.phase) == (
        1, "layers.19 (Linear)", "linear", "forward")
    assert record.steps == 1
    assert record.loss[0] == pytest.approx(losses[0], rel=1e-12)
    assert record.grad_norm[0] == pytest.approx(grad_norms[0], rel=1e-12)
    # every layer gets the same weight gradient sqrt(n) |g|; activations grow as k^l a sqrt(n)
    np.testing.assert_allclose(record.weight_grad_norms[0], grad_norms[0] / math.sqrt(DEPTH), rtol=1e-12)
    np.testing.assert_allclose(record.activation_norms[0], 1.5 ** np.arange(1, 51) * A * math.sqrt(WIDTH), rtol=1e-12)
    assert_never_trained_on_a_bad_loss(record)


def test_k_below_1_stalls_because_every_gradient_carries_k_to_the_L_minus_1():
    """k = 0.5: the loss (0.5^50 - 1)^2 / 4 ~ 0.25 is far from its minimum 0 (at k = 1), yet
    g = (2/16)(0.5^50 - 1) 0.5^49 ~ -2.2e-16: each step moves k by lr |g| ~ 2.2e-17. Over S steps the
    loss moves by at most S lr |g| |dloss/dk| with dloss/dk = 2 L k^(L-1) (k^L - 1) / n: ~1e-29, below
    float64's resolution at 0.25. Reaching k = 1 would take ~0.5 / 2.2e-17 ~ 2e16 steps."""
    k, lr, steps = 0.5, 0.1, 20
    losses, grad_norms, halt = predict(k, lr, steps)
    g = 2 / 16 * (k ** 50 - 1) * k ** 49
    assert halt is None and abs(g) < 3e-16 and 0.5 / (lr * abs(g)) > 1e16
    x, y = identity_task()
    record = train(identity_chain(k), x, y, steps=steps, lr=lr)
    assert record.halted is None and record.steps == steps
    assert record.loss[0] == pytest.approx(0.25, rel=1e-14)
    bound = steps * lr * abs(g) * 2 * 50 * k ** 49 / 4 + 4 * np.finfo(float).eps * record.loss[0]
    assert max(abs(v - record.loss[0]) for v in record.loss) <= bound
    np.testing.assert_allclose(record.grad_norm, grad_norms, rtol=1e-12)
    assert_never_trained_on_a_bad_loss(record)


def test_clipping_rescues_the_exploding_chain():
    """The k = 1.5 chain that halted at step 1, now clipped to a global norm of 2: each clipped step
    moves every layer's k by lr * 2 / sqrt(L n) = 0.2 / sqrt(200) = 0.014, straight down towards 1,
    so ~35 steps reach k ~ 1 (the gradient norm there, sqrt(200) * 6.25 (k - 1), falls below 2 for
    |k - 1| < 0.023), after which plain SGD shrinks k - 1 by a factor ~(1 - 0.1 * 2 L / N) = 0.375
    per step. The engine follows the recurrence step by step and the loss goes from 1e17 to ~0."""
    steps, clip = 60, 2.0
    losses, grad_norms, halt = predict(1.5, 0.1, steps, clip=clip)
    assert halt is None
    assert 30 <= sum(norm > clip for norm in grad_norms) <= 40       # (1.5 - 1) / 0.014 ~ 35
    x, y = identity_task()
    record = train(identity_chain(1.5), x, y, steps=steps, lr=0.1, clip=clip)
    assert record.halted is None and record.steps == steps
    # Tolerance: while k is far from 1 the engine matches to a few ulps (rtol 1e-12 is generous). Near
    # k = 1, loss and gradient are proportional to P - 1 with P = prod_l k_l: P carries ~L ulps of
    # absolute rounding (1e-14), so both carry an absolute error of at most ~sqrt(L n) (2/N) 1e-14
    # ~ 2e-14 (measured: 4e-15): atol 1e-13.
    np.testing.assert_allclose(record.loss, losses, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(record.grad_norm, grad_norms, rtol=1e-12, atol=1e-13)
    assert record.loss[0] > 1e17 and record.loss[-1] < 1e-12
    assert_never_trained_on_a_bad_loss(record)


def test_an_update_that_overflows_a_weight_halts_in_the_update_phase():
    """lr = 1e300 times the step-0 gradient 3.4e16 overflows float64 in SGD's update itself."""
    x, y = identity_task()
    record = train(identity_chain(1.5), x, y, steps=3, lr=1e300)
    halted = record.halted
    assert (halted.step, halted.op, halted.module, halted.kind, halted.phase) == (
        0, "sgd", "layers.0 (Linear)", "inf", "update")
    assert record.steps == 1 and "layers.0.weight inf" in halted.message


def test_non_finite_data_halts_on_the_loss_without_blaming_an_op():
    x, y = identity_task()
    y = y.copy()
    y[0, 0] = np.nan
    record = train(identity_chain(1.0), x, y, steps=3)
    assert (record.halted.op, record.halted.module, record.halted.kind, record.halted.phase) == (
        None, None, "nan", "forward")
    assert record.steps == 0 and "inputs and targets" in record.halted.message


def test_any_module_trains_and_records_its_layers_for_json():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(3, 8, rng=rng), nn.Tanh(), nn.Linear(8, 2, rng=rng))
    x = rng.normal(size=(16, 3))
    labels = (x[:, 0] > 0).astype(int)
    seen = []
    record = train(model, x, labels, steps=30, lr=0.5, momentum=0.5, loss_fn=nn.cross_entropy,
                   on_step=lambda step, rec: seen.append(step))
    assert isinstance(record, TrainingRecord) and record.halted is None and seen == list(range(30))
    assert record.loss[-1] < 0.5 * record.loss[0]
    assert record.weight_names == ["0", "2"] and record.activation_names == ["0", "1", "2"]
    data = record.to_dict()
    assert data["halted"] is None and len(data["steps"]) == 30
    assert set(data["steps"][0]) == {"step", "loss", "grad_norm", "weight_grad_norms", "activation_norms"}
    assert len(data["steps"][5]["weight_grad_norms"]) == 2 and len(data["steps"][5]["activation_norms"]) == 3
    assert_never_trained_on_a_bad_loss(record)


def test_a_model_without_forward_with_outputs_records_its_output_and_a_given_optimizer_is_used():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(2, 2, bias=False)

        def forward(self, x):
            return self.layer(x)

    model = Scale()
    nn.init.identity_(model.layer.weight, 3.0)
    x = np.eye(2)
    record = train(model, x, x, steps=1, optimizer=SGD(model.parameters(), lr=0.0))
    assert record.activation_names == ["output"] and record.weight_names == ["layer"]
    np.testing.assert_array_equal(model.layer.weight.data, 3.0 * np.eye(2))      # lr 0: unchanged
    assert record.activation_norms[0] == [pytest.approx(3.0 * math.sqrt(2))]


OPTIMISERS = {
    "SGD": lambda params: optim.SGD(params, lr=0.2, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "Adam": lambda params: optim.Adam(params, lr=0.05, amsgrad=True),
    "AdamW": lambda params: optim.AdamW(params, lr=0.05, weight_decay=0.1),
    "RMSprop": lambda params: optim.RMSprop(params, lr=0.01, momentum=0.5, centered=True),
}


def small_classifier(seed=0):
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Linear(3, 8, rng=rng), nn.Tanh(), nn.Linear(8, 2, rng=rng))
    x = rng.normal(size=(16, 3))
    return model, x, (x[:, 0] > 0).astype(int)


@pytest.mark.parametrize("name", OPTIMISERS)
def test_every_optimiser_trains_and_train_steps_it_as_a_hand_written_loop_would(name):
    model, x, labels = small_classifier()
    record = train(model, x, labels, steps=25, loss_fn=nn.cross_entropy, optimizer=OPTIMISERS[name](model.parameters()))
    assert record.halted is None and record.loss[-1] < 0.5 * record.loss[0]
    same, x, labels = small_classifier()
    optimizer = OPTIMISERS[name](same.parameters())
    losses = []
    for _ in range(25):
        optimizer.zero_grad()
        loss = nn.cross_entropy(same(Tensor(x)), labels)
        loss.backward()
        losses.append(float(loss.data))
        optimizer.step()
    assert record.loss == losses
    for (path, p), q in zip(model.named_parameters(), same.parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=path)


def test_an_adam_update_that_overflows_float32_halts_in_the_update_phase_naming_adam():
    """Adam's first step is lr g / (|g| + eps), about lr per element, so only an lr past float32's
    3.4e38 overflows it: the step size lr / (1 - b1) = 1e40 is itself inf in float32, and inf times
    the zero gradient of an off-diagonal weight (the chain is k I) is nan."""
    x, y = identity_task(np.float32)
    model = identity_chain(1.5, np.float32)
    record = train(model, x, y, steps=3, optimizer=optim.Adam(model.parameters(), lr=1e39))
    halted = record.halted
    assert (halted.step, halted.op, halted.module, halted.kind, halted.phase) == (
        0, "adam", "layers.0 (Linear)", "nan", "update")
    assert record.steps == 1 and "the Adam update made layers.0.weight nan" in halted.message
    assert np.isinf(np.diag(model.layers[0].weight.data)).all()


def test_a_scheduler_steps_once_after_each_update():
    """StepLR(step_size=2, gamma=0.5) from lr 0.2: steps 0 and 1 use 0.2, steps 2 and 3 use 0.1, ...;
    on_step, called after the scheduler, sees the lr of the next step."""
    model, x, labels = small_classifier()
    optimizer = optim.SGD(model.parameters(), lr=0.2)
    scheduler = lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    seen = []
    train(model, x, labels, steps=5, loss_fn=nn.cross_entropy, optimizer=optimizer, scheduler=scheduler,
          on_step=lambda step, record: seen.append(optimizer.param_groups[0]["lr"]))
    assert seen == [0.2, 0.1, 0.1, 0.05, 0.05] and scheduler.last_epoch == 5


def test_a_scheduler_over_another_optimizer_is_refused():
    model, x, labels = small_classifier()
    elsewhere = optim.SGD(model.parameters(), lr=0.2)
    with pytest.raises(ValueError, match="the scheduler adjusts another optimizer than the SGD that trains"):
        train(model, x, labels, steps=1, loss_fn=nn.cross_entropy,
              scheduler=lr_scheduler.ExponentialLR(elsewhere, gamma=0.9))
