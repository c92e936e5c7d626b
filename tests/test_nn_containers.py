"""Containers: Sequential runs plain callables in order as Lambda modules, ModuleList registers
what it holds, and a plain list of modules on a Module is refused instead of silently lost."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_vg import Tensor, anomaly, nn


def test_sequential_wraps_plain_callables_as_lambda_modules_and_runs_them_in_order():
    model = nn.Sequential(nn.Linear(2, 2, rng=0), lambda t: t.tanh(), lambda t: t * 100)
    assert len(model) == 3 and [type(m) for m in model] == [nn.Linear, nn.Lambda, nn.Lambda]
    x = np.array([[0.5, -1.0]])
    w, b = model[0].weight.data, model[0].bias.data
    np.testing.assert_allclose(model(Tensor(x)).data, np.tanh(x @ w.T + b) * 100, rtol=1e-15)
    assert [name for name, _ in model.named_children()] == ["0", "1", "2"]
    assert len(model.parameters()) == 2


def test_a_numpy_ufunc_in_a_sequential_runs_as_a_layer_of_the_graph():
    model = nn.Sequential(nn.Linear(2, 2, rng=0), np.tanh, lambda t: t * 100)
    x = Tensor(np.array([[0.5, -1.0]]), requires_grad=True)
    z = x.data @ model[0].weight.data.T + model[0].bias.data
    y = model(x)
    np.testing.assert_allclose(y.data, 100 * np.tanh(z), rtol=1e-15)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 100 * (1 - np.tanh(z) ** 2) @ model[0].weight.data, rtol=1e-14)


def test_a_lambda_names_its_function_in_its_label_and_repr():
    def double(t):
        return t * 2

    model = nn.Sequential(nn.Identity(), double, lambda t: t)
    assert model[1].label == "1 (Lambda: double)" and model[2].label == "2 (Lambda: <lambda>)"
    assert nn.Sequential(np.tanh)[0].label == "0 (Lambda: tanh)"
    assert repr(model) == "Sequential(\n  (0): Identity()\n  (1): Lambda(double)\n  (2): Lambda(<lambda>)\n)"
    seen = []
    nn.Sequential(lambda t: seen.append(anomaly.current_module()) or t)(Tensor(1.0))
    assert seen == ["0 (Lambda: <lambda>)"]


def test_sequential_rejects_what_is_neither_a_module_nor_callable_naming_position_and_type():
    with pytest.raises(TypeError, match=r"Sequential: item 1 is of type int, neither a Module nor callable"):
        nn.Sequential(nn.Identity(), 3)
    with pytest.raises(TypeError, match=r"Sequential: item 1 is the class Tanh; did you mean Tanh\(\)\?"):
        nn.Sequential(nn.Identity(), nn.Tanh)
    with pytest.raises(TypeError, match=r"Sequential: item 1 is of type str"):
        nn.Sequential(nn.Identity()).append("tanh")


def test_module_list_registers_its_modules_under_their_positions():
    class Tower(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(2, 2, rng=0), nn.Linear(2, 2, rng=1)])

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x

    tower = Tower()
    assert [name for name, _ in tower.named_parameters()] == [
        "blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias"]
    assert tower.blocks[1].label == "blocks.1 (Linear)"
    x = np.ones((1, 2))
    w0, b0, w1, b1 = (p.data for p in tower.parameters())
    np.testing.assert_allclose(tower(Tensor(x)).data, (x @ w0.T + b0) @ w1.T + b1, rtol=1e-15)


def test_module_list_append_extend_insert_and_setitem_keep_the_names_in_order():
    a, b, c, d, e = (nn.Identity() for _ in range(5))
    modules = nn.ModuleList()
    assert modules.append(a) is modules and modules.extend([b, c]) is modules
    modules.insert(1, d)
    assert list(modules) == [a, d, b, c] and len(modules) == 4
    assert [name for name, _ in modules.named_children()] == ["0", "1", "2", "3"]
    assert (d.path, b.path, c.path) == ("1", "2", "3")
    modules[-1] = e
    assert list(modules) == [a, d, b, e] and e.path == "3" and modules[-1] is e
    modules.insert(-1, c)                                            # as list.insert: before the last
    assert list(modules) == [a, d, b, c, e]
    modules.insert(100, a)
    assert modules[5] is a and len(modules) == 6
    with pytest.raises(IndexError):
        modules[6] = b


@given(st.lists(st.tuples(st.sampled_from(["append", "insert", "setitem"]), st.integers(-6, 6)), max_size=12))
def test_module_list_edits_match_the_same_edits_of_a_python_list_and_rename_every_moved_module(edits):
    modules, expected = nn.ModuleList(), []
    for edit, index in edits:
        module = nn.Identity()
        if edit == "append":
            modules.append(module)
            expected.append(module)
        elif edit == "insert":
            modules.insert(index, module)
            expected.insert(index, module)
        elif -len(expected) <= index < len(expected):
            modules[index] = module
            expected[index] = module
        else:
            with pytest.raises(IndexError):
                modules[index] = module
    assert list(modules) == expected and len(modules) == len(expected)
    names = [str(k) for k in range(len(expected))]
    assert [name for name, _ in modules.named_children()] == names == [m.path for m in modules]


def test_a_slice_is_a_container_of_the_same_kind_that_leaves_the_layers_names_alone():
    model = nn.Sequential(nn.Linear(2, 3, rng=0), nn.Tanh(), nn.Linear(3, 1, rng=1))
    head = model[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [model[0], model[1]]
    assert [name for name, _ in head.named_children()] == ["0", "1"]
    assert head(Tensor(np.ones((1, 2)))).shape == (1, 3)
    tail = nn.ModuleList(model)[1:]
    assert type(tail) is nn.ModuleList and list(tail) == [model[1], model[2]]
    assert model[2].label == "2 (Linear)"                          # still named within the model


def test_module_list_holds_only_modules_and_has_no_forward():
    with pytest.raises(TypeError, match=r"ModuleList: item 1 is of type function, not a Module"):
        nn.ModuleList([nn.Identity(), lambda t: t])
    with pytest.raises(NotImplementedError, match="ModuleList must define forward"):
        nn.ModuleList([nn.Identity()])(Tensor(1.0))


def test_a_plain_list_of_modules_on_a_module_is_refused_because_it_would_not_be_registered():
    class Plain(nn.Module):
        def __init__(self, container):
            super().__init__()
            self.layers = container([nn.Linear(2, 2), nn.Linear(2, 2)])

    for container in (list, tuple):
        with pytest.raises(TypeError, match=r"Plain\.layers: a " + container.__name__
                           + r" of modules would not be registered.*nn\.ModuleList.*nn\.Sequential"):
            Plain(container)
    with pytest.raises(TypeError, match=r"Plain\.layers: a dict of modules would not be registered"):
        Plain(lambda layers: dict(enumerate(layers)))


def test_lists_without_modules_and_aliases_of_registered_modules_are_allowed():
    class Aliased(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(2, 2), nn.Tanh())
            self.head = nn.Linear(2, 1)
            self.order = [self.body[0], self.head]            # both registered already
            self.sizes, self.states = [2, 1], [Tensor(1.0)]

    model = Aliased()
    assert model.order == [model.body[0], model.head] and len(model.parameters()) == 4
