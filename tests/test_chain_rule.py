"""The chain rule as a sum over paths: exact path lists, path counts, log-scale products, and on
random graphs, sum of path products == jacobian == what backward computes."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_vg import Tensor, count_paths, jacobian, local_jacobian, paths
from tinygrad_vg.chain_rule import chain_product
from tinygrad_vg.graph import topological_order


def positions(found):
    """Each path as the input positions its edges take, from the input to the output."""
    return [tuple(position for _, _, position in p.edges) for p in found]


# ---- exact small cases ----

def test_x_times_x_has_two_paths_each_with_product_x():
    x = Tensor(3.0, requires_grad=True)
    y = x * x
    found = paths(y, x)
    assert [p.edges for p in found] == [((x, y, 0),), ((x, y, 1),)]
    assert [p.product.item() for p in found] == [3.0, 3.0]
    assert count_paths(y, x) == 2
    assert jacobian(y, x).item() == 6.0
    y.backward()
    assert x.grad.item() == 6.0


def test_a_plus_a_twice_has_four_paths_of_product_one():
    a = Tensor([1.0, -2.0], requires_grad=True)
    b = a + a
    c = b + b
    found = paths(c, a)
    # walking back from c, position 0 first: c.0 then b.0, b.1; then c.1 then b.0, b.1
    assert positions(found) == [(0, 0), (1, 0), (0, 1), (1, 1)]
    assert [tuple(edge[1] for edge in p.edges) for p in found] == [(b, c)] * 4
    for p in found:
        np.testing.assert_array_equal(p.product, np.eye(2))
    assert count_paths(c, a) == 4
    np.testing.assert_array_equal(jacobian(c, a), 4 * np.eye(2))


def test_diamond_paths_carry_their_own_products():
    a = Tensor(0.5, requires_grad=True)
    u = a * 2.0                 # du/da = 2
    v = a.exp()                 # dv/da = e^a
    d = u * v                   # dd/du = v, dd/dv = u
    found = paths(d, a)
    assert [[edge[1] for edge in p.edges] for p in found] == [[u, d], [v, d]]
    e = np.exp(0.5)
    np.testing.assert_allclose([p.product.item() for p in found], [2 * e, 1.0 * e], rtol=1e-15)
    np.testing.assert_allclose([p.local_jacobians[1].item() for p in found], [e, 1.0], rtol=1e-15)
    assert count_paths(d, a) == 2
    np.testing.assert_allclose(jacobian(d, a).item(), 3 * e, rtol=1e-15)


def test_input_is_output_and_unconnected_input():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    other = Tensor(2.0, requires_grad=True)
    y = x.tanh()
    assert count_paths(x, x) == 1
    (only,) = paths(x, x)
    assert only.edges == ()
    np.testing.assert_array_equal(only.product, np.eye(3))
    np.testing.assert_array_equal(jacobian(x, x), np.eye(3))
    assert count_paths(y, other) == 0 and paths(y, other) == []
    np.testing.assert_array_equal(jacobian(y, other), np.zeros((3,)))


def diamond_lattice(n):
    """n diamonds in a row, a -> (a*0.5, a*0.5) -> sum: 2 paths each, 2^n in all."""
    x = Tensor(1.0, requires_grad=True)
    a = x
    for _ in range(n):
        a = a * 0.5 + a * 0.5
    return x, a


def test_sixty_diamond_lattice_is_counted_not_listed():
    x, y = diamond_lattice(60)
    assert count_paths(y, x) == 2 ** 60
    with pytest.raises(ValueError, match=f"there are {2 ** 60} paths.*max_paths=10000"):
        paths(y, x)


def test_lattice_paths_sum_to_the_jacobian():
    x, y = diamond_lattice(6)
    found = paths(y, x)
    assert len(found) == 64 == count_paths(y, x)
    assert len(set(positions(found))) == 64
    # every path multiplies 6 halves: 64 * 2^-6 = 1, exactly in binary floating point
    assert all(p.product.item() == 2.0 ** -6 for p in found)
    assert sum(p.product for p in found).item() == jacobian(y, x).item() == 1.0


# ---- log-scale products ----

def test_log10_norm_of_400_steps_of_1e_minus_3_is_minus_1200():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x
    for _ in range(400):
        y = y * 1e-3
    (path,) = paths(y, x)
    # the product itself underflows (1e-1200); its log does not. Each factor is the double nearest
    # 1e-3, off by < 1.1e-16 relatively: 400 of them move log10 by < 2e-14, far inside 1e-9.
    assert abs(path.log10_norm - (-1200 + np.log10(np.sqrt(2)))) < 1e-9
    np.testing.assert_array_equal(path.product, np.zeros((2, 2)))


def test_log10_norm_of_exploding_path_stays_finite():
    x = Tensor(1.0, requires_grad=True)
    y = x
    with np.errstate(over="ignore"):        # the forward values overflow too: not what is tested
        for _ in range(400):
            y = y * 1e3
    (path,) = paths(y, x)
    assert abs(path.log10_norm - 1200) < 1e-9
    assert path.product.item() == np.inf


def test_log10_norm_of_a_zero_path_is_minus_infinity():
    x = Tensor(-1.0, requires_grad=True)
    (path,) = paths(x.relu() * 3.0, x)
    assert path.log10_norm == -np.inf and path.product.item() == 0.0


# ---- local Jacobians ----

def test_local_jacobian_of_elementwise_op_is_diagonal():
    x = Tensor([0.3, -1.2, 2.0], requires_grad=True)
    y = x.tanh()
    np.testing.assert_array_equal(local_jacobian(y, 0), np.diag(1 - np.tanh(x.data) ** 2))


def test_local_jacobian_of_matmul_is_built_from_the_other_operand():
    rng = np.random.default_rng(1)
    a = Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    c = a @ b
    # c[i, j] = sum_k a[i, k] b[k, j]:  dc[i,j]/da[p,k] = [i == p] b[k, j],  dc[i,j]/db[k,q] = a[i,k] [j == q]
    np.testing.assert_array_equal(local_jacobian(c, 0), np.einsum("ip,kj->ijpk", np.eye(2), b.data))
    np.testing.assert_array_equal(local_jacobian(c, 1), np.einsum("ik,jq->ijkq", a.data, np.eye(4)))


def test_local_jacobian_of_broadcast_input_sums_the_copies():
    a = Tensor([[1.0], [2.0]], requires_grad=True)       # (2, 1) broadcast against (2, 3)
    b = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    c = a * b
    expected = np.zeros((2, 3, 2, 1))
    for i in range(2):
        expected[i, :, i, 0] = b.data[i]
    np.testing.assert_array_equal(local_jacobian(c, 0), expected)


def test_local_jacobian_errors_name_the_problem():
    x = Tensor(1.0, requires_grad=True)
    with pytest.raises(ValueError, match="leaf"):
        local_jacobian(x, 0)
    with pytest.raises(IndexError, match="mul has 2 inputs, asked for input 2"):
        local_jacobian(x * x, 2)


def test_reading_changes_no_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    jacobian(y, x), paths(y, x), count_paths(y, x), local_jacobian(y, 0)
    assert all(node.grad is None for node in topological_order(y))


# ---- random graphs ----

def build_random_graph(steps, seed):
    """A graph over leaves x (2, 3), w (3, 3), s (): each step combines earlier nodes (fan-out and
    reuse: an index may repeat), with broadcasting (sum/mean kept as (1, 3) or (2, 1)), matmul,
    reductions and elementwise ops; every node is (2, 3)."""
    rng = np.random.default_rng(seed)
    x = Tensor(rng.uniform(-1, 1, (2, 3)), requires_grad=True)
    w = Tensor(rng.uniform(-1, 1, (3, 3)) / np.sqrt(3), requires_grad=True)
    s = Tensor(rng.uniform(0.5, 1.5), requires_grad=True)
    pool = [x]
    for op, i, j in steps:
        a, b = pool[i % len(pool)], pool[j % len(pool)]
        pool.append({
            "add": lambda: a + b,
            "mul": lambda: a * b,
            "square": lambda: a * a,
            "tanh": lambda: a.tanh(),
            "matmul": lambda: a @ w,
            "scale": lambda: a * s,
            "column_sum": lambda: a - b.sum(axis=0, keepdims=True),
            "row_mean": lambda: a * b.mean(axis=1, keepdims=True).exp(),
            "sigmoid_div": lambda: a / (1.0 + b.sigmoid()),
        }[op]())
    return (x, w, s), pool[-1]


ops = st.sampled_from(["add", "mul", "square", "tanh", "matmul", "scale", "column_sum", "row_mean",
                       "sigmoid_div"])
graphs = st.lists(st.tuples(ops, st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=6)


@given(graphs, st.integers(0, 2 ** 32 - 1))
def test_random_graph_paths_sum_to_jacobian_and_jacobian_matches_backward(steps, seed):
    leaves, y = build_random_graph(steps, seed)
    cotangent = np.random.default_rng(seed + 1).standard_normal(y.shape)
    y.backward(cotangent)
    for leaf in leaves:
        J = jacobian(y, leaf)
        assert J.shape == y.shape + leaf.shape
        found = paths(y, leaf)
        assert len(found) == count_paths(y, leaf)
        if found:
            total = sum(p.product for p in found)
            # the same chains with every local Jacobian made elementwise |J|: they bound the
            # magnitude of every term that any order of summing the products adds up
            scale = sum(chain_product([np.abs(J) for J in p.local_jacobians], y.shape, leaf.shape)[0]
                        for p in found)
        else:
            total = scale = np.zeros(J.shape)
        # Both sides add up the same products of the same local factors (read from the same vjps),
        # in different orders. Each of the <= 2^6 path products of <= ~12 factors carries rounding
        # ~12 eps of its |J_k|...|J_1| and the sums ~64 eps, so entries differ by at most ~1e-13 of
        # the sum of those absolute chains (a cancellation inside one product, like the rows of
        # x - mean(x) summing to 0, cannot hide below it); 1e-11 leaves a margin.
        np.testing.assert_array_less(np.abs(total - J), 1e-11 * scale + 1e-300)
        # backward pulled one cotangent through the same vjps: grad = cotangent . J
        grad = leaf.grad if leaf.grad is not None else np.zeros(leaf.shape)
        contracted = np.tensordot(cotangent, J, axes=y.ndim)
        bound = np.tensordot(np.abs(cotangent), scale, axes=y.ndim)
        np.testing.assert_array_less(np.abs(contracted - grad), 1e-11 * bound + 1e-300)
