"""backward() keeps the leaves' gradients (and the output's, and those asked for with retain_grad);
the inspection tools show every intermediate's gradient anyway, computed again from the output's."""
import numpy as np

from tinygrad_vg import Tensor, chain_report, graph, nn, to_dot
from tinygrad_vg.chain_rule import gradients


def fan_out_graph():
    """x feeds three paths that meet again, so several gradients are sums of contributions."""
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    W = Tensor(rng.standard_normal((3, 3)), requires_grad=True)
    h = (x @ W.T).tanh()
    y = h * x + h.sigmoid() + (h * h).exp()
    return x, W, (y ** 2).mean()


def test_gradients_are_those_backward_keeps_with_retain_grads_true_to_the_last_bit():
    x, W, loss = fan_out_graph()
    loss.backward(retain_grads=True)
    kept = {id(node): node.grad for node in graph.nodes(loss) if node.requires_grad}
    x.zero_grad(), W.zero_grad()
    for node in graph.nodes(loss):
        node.zero_grad()
    loss.backward()
    computed = gradients(loss)
    assert computed.keys() == kept.keys() and len(kept) > 10
    for key, grad in kept.items():
        np.testing.assert_array_equal(computed[key], grad)


def test_gradients_after_two_backward_calls_are_their_sum_and_nothing_without_a_backward():
    x, W, loss = fan_out_graph()
    assert gradients(loss) == {}
    loss.backward()
    loss.backward()
    np.testing.assert_allclose(gradients(loss)[id(x)], x.grad, rtol=1e-15)


def test_the_drawing_shows_an_intermediates_gradient_that_backward_freed():
    def drawn(retain_grads):
        x = Tensor(1.5, requires_grad=True, name="x")
        h = (x * x).tanh()
        y = h * 3.0
        y.backward(retain_grads=retain_grads)
        assert (h.grad is None) == (retain_grads is None)
        return to_dot(y)
    dot = drawn(retain_grads=None)
    assert f"grad {3 * (1 - np.tanh(2.25) ** 2):.4g}" in dot            # dy/dh = 3 tanh'(x^2)
    assert dot == drawn(retain_grads=True)


def test_chain_report_of_outputs_that_did_not_ask_equals_the_report_of_outputs_that_did():
    def report(ask):
        rng = np.random.default_rng(1)
        x = Tensor(rng.standard_normal((2, 4)), requires_grad=True)
        h, outputs, weights = x, [], []
        for _ in range(5):
            W = Tensor(rng.standard_normal((4, 4)), requires_grad=True)
            h = (h @ W.T).tanh()
            if ask:
                h.retain_grad()
            outputs.append(h)
            weights.append(W)
        loss = (h ** 2).mean()
        loss.backward()
        assert (outputs[0].grad is not None) == ask
        return chain_report(outputs, loss, weights=weights, input=x).to_dict()
    assert report(ask=False) == report(ask=True)


def test_deep_chain_outputs_keep_their_gradients_after_a_plain_backward():
    chain = nn.DeepChain(3, 4, activation="tanh", init="normal", rng=0)
    x = Tensor(np.ones((2, 4)), requires_grad=True)
    output, outputs = chain.forward_with_outputs(x)
    (output ** 2).sum().backward()
    assert all(h.retains_grad and h.grad is not None for h in outputs)
    np.testing.assert_array_equal(outputs[-1].grad, 2 * output.data)
