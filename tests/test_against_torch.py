"""tinygrad_vg against PyTorch as an oracle: random programs of the whole Tensor API, invalid
programs, and, as named cases, the conventions in which the two differ on purpose.

A program is written once as data (tests/torch_programs.py) and run by both engines; every node's
value, dtype and gradient (backward of a random-cotangent-weighted sum, intermediates included)
must agree, the dtype also with numpy's promotion rule. Each run compares 2000 programs from a
fixed list of seeds, and the hypothesis tests add their examples (30 each under the `ci` profile).

Tolerances: float64 within 1e-12 and float32 within 1e-5 of the magnitude. The generator keeps
inputs off kinks and poles and every step's condition number at most 20, so two correct engines
can only differ by rounding; over 30,000 programs the largest differences were 1e-15 (float64) and
6e-7 (float32) for values and 3e-15 and 2.3e-6 for gradients -- a gradient measured against the
scale of the terms it sums (the sum over paths of |path product| x |cotangent|): x / x has the
gradient 0, computed as 1/x - x/x^2, and its rounding is relative to 1/x, not to 0. Deliberately
wrong vjps (off by 1e-8, or scattering repeated indices without adding) are caught.

What happens at the kinks and poles is tested by name, as is every convention in which the
engines differ. Torch is optional: without it this file is skipped, unless
TINYGRAD_VG_REQUIRE_EXTRAS is set (as CI does), where a missing torch is an ImportError, a failure.
"""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import extras

torch = extras.require("torch")

import torch_programs as tp                       # noqa: E402 -- needs torch, imported above
import tinygrad_vg as tg
from tinygrad_vg import Tensor, no_grad, ops

F64 = torch.float64


def leaf(values, dtype=np.float64):
    """The same leaf in both engines: (tinygrad_vg Tensor, torch tensor), both requiring grad."""
    array = np.array(values, dtype=dtype)
    return Tensor(array.copy(), requires_grad=True), torch.tensor(array, requires_grad=True)


def gradients(fn_ours, fn_theirs, *values):
    """fn applied in each engine to leaves made of `values`, summed and backpropagated: the values
    and the leaves' gradients, as numpy arrays ((ours, theirs) pairs)."""
    with np.errstate(all="ignore"):
        pairs = [leaf(v) for v in values]
        out = fn_ours(*[a for a, _ in pairs])
        out.sum().backward()
        theirs = fn_theirs(*[b for _, b in pairs])
        theirs.sum().backward()
    return ((out.data, theirs.detach().numpy()),
            [(a.grad, b.grad.numpy()) for a, b in pairs])


def assert_same(pair):
    ours, theirs = pair
    np.testing.assert_array_equal(ours, theirs)


# ---- random programs ----
@st.composite
def programs(draw, ops=tp.OPS):
    return tp.generate(tp.HypothesisChooser(draw), ops=ops)


def check(program):
    problems, _ = tp.compare(program)
    assert not problems, f"{program}\n" + "\n".join(problems)


@given(programs())
def test_random_programs_agree_with_torch_in_values_dtypes_and_gradients(program):
    check(program)


@given(programs(ops=("getitem", "reshape", "transpose", "broadcast_to", "concatenate", "stack", "where",
                     "mul", "exp", "sum")))
def test_random_indexing_and_shape_programs_agree_with_torch(program):
    check(program)


@given(programs(ops=tp.UNARY + ("add", "sub", "mul", "div", "pow", "maximum", "matmul")))
def test_random_arithmetic_with_scalars_arrays_and_broadcasting_on_either_side_agrees_with_torch(program):
    check(program)


@given(programs(ops=tp.REDUCTIONS + ("softmax", "log_softmax", "maximum", "transpose", "relu", "abs")))
def test_random_reductions_softmaxes_and_ties_agree_with_torch(program):
    check(program)


SEEDS, CHUNKS = 2000, 4        # a fixed list of programs, compared in every run: 2000 per run


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_a_fixed_list_of_seeded_programs_all_agree_with_torch(chunk, record_property):
    seeds = range(chunk * SEEDS // CHUNKS, (chunk + 1) * SEEDS // CHUNKS)
    failures, compared = [], 0
    for seed in seeds:
        program = tp.generate(tp.RandomChooser(seed))
        problems, _ = tp.compare(program)
        compared += 1
        if problems:
            failures.append(f"seed {seed}:\n{program}\n" + "\n".join(problems))
    record_property("programs_compared", compared)
    print(f"compared {compared} programs with torch (seeds {seeds.start}-{seeds.stop - 1}), "
          f"{len(failures)} differed")
    assert compared == len(seeds) and not failures, "\n\n".join(failures[:3])


def seeded_programs():
    return [tp.generate(tp.RandomChooser(seed)) for seed in range(SEEDS)]


def test_the_seeded_programs_cover_every_op_ties_masks_negative_steps_scalars_and_mixed_dtypes():
    seen = set()
    for program in seeded_programs():
        values = []
        for node in program.nodes:
            if isinstance(node, tp.Leaf):
                values.append(tp.as_float_array(node.data))
                seen.add(("leaf", values[-1].dtype.name))
                continue
            args = [values[a.index] if isinstance(a, tp.Ref) else tp.as_operand(a) for a in node.args]
            seen.add(node.op)
            seen.add(("form", node.params.get("form")))
            for position, a in enumerate(node.args):
                if not isinstance(a, tp.Ref):
                    seen.add(("constant", type(a).__name__, position))
            if len({np.asarray(a).dtype for a in args if not tp.python_scalar(a)}) > 1:
                seen.add("mixed dtypes")
            if node.op == "max":
                top = np.sort(tp.reduced(np.asarray(args[0], dtype=np.float64), node.params.get("axis")), -1)
                if top.shape[-1] > 1 and np.any(top[..., -1] == top[..., -2]):
                    seen.add("max tie")
            if node.op == "maximum" and np.any(np.equal(*np.broadcast_arrays(*args))):
                seen.add("maximum tie")
            if node.op == "getitem":
                index = node.params["index"]
                for e in index if isinstance(index, tuple) else (index,):
                    if isinstance(e, slice) and (e.step or 1) < 0:
                        seen.add("negative step")
                    if isinstance(e, np.ndarray):
                        seen.add("mask" if e.dtype == bool else "integer array")
                    if e is None or e is Ellipsis:
                        seen.add(repr(e))
            if node.op in tp.REDUCTIONS and isinstance(node.params.get("axis"), (tuple, list)):
                seen.add("axis tuple")
            if node.op == "where" and "compare" in node.params:
                seen.add(("compare", node.params["compare"][1]))
            values.append(tp.shadow(node, values))
    wanted = set(tp.OPS) | {"max tie", "maximum tie", "negative step", "mask", "integer array", "None",
                            "Ellipsis", "axis tuple", "mixed dtypes", ("leaf", "float32"), ("leaf", "float64"),
                            ("form", "numpy")}
    wanted |= {("constant", kind, position) for position in (0, 1)
               for kind in ("float", "int", "bool", "float64", "float32", "ndarray", "list")}
    wanted |= {("compare", c) for c in tp.COMPARE}
    assert wanted <= seen, sorted(map(str, wanted - seen))


def test_the_comparison_catches_a_vjp_wrong_by_one_part_in_a_hundred_million(monkeypatch):
    x = tp.Leaf(np.array([0.3, -1.2, 0.7]), True)
    program = tp.Program([x, tp.Step("tanh", (tp.Ref(0),), {}, np.dtype(np.float64))], np.array([1.0, -0.5, 0.25]))
    assert not tp.compare(program)[0]
    right = ops.Tanh.vjp
    monkeypatch.setattr(ops.Tanh, "vjp", lambda self, g, i: right(self, g, i) * (1 + 1e-8))
    assert any("gradients differ" in p for p in tp.compare(program)[0])


def test_the_comparison_catches_repeated_indices_that_do_not_add_up(monkeypatch):
    x = tp.Leaf(np.array([0.3, -1.2, 0.7]), True)
    step = tp.Step("getitem", (tp.Ref(0),), {"index": np.array([2, 0, 2])}, np.dtype(np.float64))
    program = tp.Program([x, step], np.array([1.0, -0.5, 0.25]))
    assert not tp.compare(program)[0]

    def overwrite(self, g, i):            # scatter by assignment: the second pick of element 2 wins
        grad = np.zeros(self.input_shape, dtype=g.dtype)
        grad[self.index] = g
        return grad
    monkeypatch.setattr(ops.GetItem, "vjp", overwrite)
    assert any("gradients differ" in p for p in tp.compare(program)[0])


def test_without_torch_the_file_is_skipped_and_with_extras_required_it_fails(tmp_path):
    hide_torch = ("import sys; sys.modules['torch'] = None; import pytest; "
                  f"sys.exit(pytest.main(['-q', '-p', 'no:xdist', '-p', 'no:cacheprovider', {__file__!r}, "
                  "'-k', 'skipped_and_with_extras']))")
    environment = {k: v for k, v in os.environ.items() if k != "TINYGRAD_VG_REQUIRE_EXTRAS"}
    skipped = subprocess.run([sys.executable, "-c", hide_torch], env=environment, cwd=tmp_path,
                             capture_output=True, text=True)
    assert skipped.returncode in (0, 5) and "1 skipped" in skipped.stdout, skipped.stdout   # 5: none ran
    required = subprocess.run([sys.executable, "-c", hide_torch], cwd=tmp_path, capture_output=True, text=True,
                              env={**environment, "TINYGRAD_VG_REQUIRE_EXTRAS": "1"})
    assert required.returncode not in (0, 5) and "ImportError" in required.stdout, required.stdout


# ---- invalid programs: a clear error from tinygrad_vg that names the op, and torch refuses too ----
def shapes(min_dims=1, max_dims=3):
    return st.lists(st.integers(1, 4), min_size=min_dims, max_size=max_dims).map(tuple)


@st.composite
def mismatched_pair(draw):
    """Two shapes that do not broadcast: one axis, of size 2 or more in both, differs."""
    a = list(draw(shapes()))
    axis = draw(st.integers(0, len(a) - 1))
    a[axis] = draw(st.integers(2, 4))
    b = list(a[draw(st.integers(0, axis)):])
    b[axis - (len(a) - len(b))] = draw(st.sampled_from([n for n in (2, 3, 4, 5) if n != a[axis]]))
    return (tuple(a), tuple(b)) if draw(st.booleans()) else (tuple(b), tuple(a))


def ones(shape):
    return np.linspace(0.5, 1.5, int(np.prod(shape, dtype=int))).reshape(shape)


def invalid(op, arrays, **params):
    """A program of leaves and one step of `op` on them (PyTorch gets float64 operands)."""
    nodes = [tp.Leaf(ones(s), True) for s in arrays]
    return tp.Program(nodes + [tp.Step(op, tuple(tp.Ref(i) for i in range(len(arrays))), params, np.dtype(np.float64))])


@st.composite
def out_of_range_axis(draw, ndim):
    return draw(st.integers(ndim, ndim + 2) | st.integers(-ndim - 2, -ndim - 1))


@st.composite
def invalid_programs(draw, family):
    """An invalid use of `family`'s op, as a program (and a description of what is wrong)."""
    if family in ("add", "sub", "mul", "div", "pow", "maximum"):
        return invalid(family, draw(mismatched_pair()), form=draw(st.sampled_from(["operator", "numpy"])))
    if family == "where":
        a, b = draw(mismatched_pair())
        if draw(st.booleans()):
            return invalid("where", [a, a], mask=np.ones(b, dtype=bool))
        return invalid("where", [a, b], mask=np.ones(a[-1:], dtype=bool))
    if family == "matmul":
        a = draw(shapes())
        if draw(st.integers(0, 4)) == 0:
            return invalid("matmul", [a, ()] if draw(st.booleans()) else [(), a], form="operator")
        inner = a[-1]
        b = list(draw(shapes()))
        b[-2 if len(b) > 1 else 0] = draw(st.sampled_from([n for n in (1, 2, 3, 4, 5) if n != inner]))
        return invalid("matmul", [a, tuple(b)], form=draw(st.sampled_from(["operator", "numpy"])))
    if family in ("concatenate", "stack"):
        a = draw(shapes())
        kind = draw(st.sampled_from(["shape", "axis", "ndim"] + (["zero-d"] if family == "concatenate" else [])))
        if kind == "zero-d":
            return invalid(family, [(), ()])
        if kind == "axis":
            ndim = len(a) + (family == "stack")
            return invalid(family, [a, a], axis=draw(out_of_range_axis(ndim)))
        if kind == "ndim":
            return invalid(family, [a, a + (2,)])
        axis = draw(st.integers(0, len(a) - 1))
        b = list(a)
        if family == "concatenate":
            if len(a) == 1:
                return invalid(family, [a, a + (2,)])
            other = (axis + 1) % len(a)
            b[other] = a[other] + 1
        else:
            b[axis] = a[axis] + 1
        return invalid(family, [a, tuple(b)], axis=axis)
    if family == "reshape":
        a = draw(shapes())
        n = int(np.prod(a))
        kind = draw(st.sampled_from(["size", "two unknowns", "unknown does not divide"]))
        if kind == "size":
            shape = (n + draw(st.integers(1, 3)),)
        elif kind == "two unknowns":
            shape = (-1, -1)
        else:
            divisor = next(d for d in range(2, n + 2) if n % d)
            shape = (-1, divisor)
        return invalid("reshape", [a], shape=shape, form=draw(st.sampled_from(["star", "tuple"])))
    if family in tp.REDUCTIONS:
        a = draw(shapes())
        kind = draw(st.sampled_from(["int", "in a tuple", "repeated"]))
        if kind == "int":
            axis = draw(out_of_range_axis(len(a)))
        elif kind == "in a tuple":
            axis = (0, draw(out_of_range_axis(len(a))))
        else:
            axis = (len(a) - 1, -1)
        return invalid(family, [a], axis=axis, keepdims=draw(st.booleans()))
    if family in ("softmax", "log_softmax"):
        a = draw(shapes())
        return invalid(family, [a], axis=draw(out_of_range_axis(len(a))))
    if family == "transpose":
        a = draw(shapes(min_dims=2))
        kind = draw(st.sampled_from(["too few", "too many", "repeated", "out of range"]))
        axes = {"too few": tuple(range(len(a) - 1)), "too many": tuple(range(len(a) + 1)),
                "repeated": (0,) * len(a), "out of range": tuple(range(len(a) - 1)) + (len(a),)}[kind]
        return invalid("transpose", [a], axes=axes, form=draw(st.sampled_from(["star", "tuple"])))
    if family == "broadcast_to":
        a = draw(shapes())
        if draw(st.booleans()):
            a = (2,) + a
            return invalid("broadcast_to", [a], shape=a[1:])
        axis = draw(st.integers(0, len(a) - 1))
        target = list(a)
        target[axis] = a[axis] + 1 if a[axis] > 1 else 0
        if target[axis] == 0:
            target[axis] = 3
            a = a[:axis] + (2,) + a[axis + 1:]
        return invalid("broadcast_to", [a], shape=tuple(target))
    assert family == "getitem"
    a = draw(shapes())
    kind = draw(st.sampled_from(["int", "integer array", "mask shape", "too many", "float"]))
    axis = draw(st.integers(0, len(a) - 1))
    n = a[axis]
    if kind == "int":
        entry = draw(st.integers(n, n + 3) | st.integers(-n - 3, -n - 1))
    elif kind == "integer array":
        entry = np.array([0, draw(st.integers(n, n + 3) | st.integers(-n - 3, -n - 1))])
    elif kind == "mask shape":
        entry = np.ones(n + 1, dtype=bool)
    elif kind == "float":
        entry = draw(st.sampled_from([0.5, 1.0, np.float64(0.0)]))
    else:
        return invalid("getitem", [a], index=(0,) * (len(a) + 1))
    return invalid("getitem", [a], index=(slice(None),) * axis + (entry,))


FAMILIES = ["add", "sub", "mul", "div", "pow", "maximum", "where", "matmul", "concatenate", "stack", "reshape",
            "sum", "mean", "max", "logsumexp", "softmax", "log_softmax", "transpose", "broadcast_to", "getitem"]


def names(message, op):
    """Whether `message` names `op` as a word (max is not named by 'maximum')."""
    return re.search(rf"(?<![A-Za-z_]){op}(?![A-Za-z_])", message) is not None


@pytest.mark.parametrize("family", FAMILIES)
@given(data=st.data())
def test_an_invalid_program_is_a_clear_error_naming_the_op_and_torch_refuses_it_too(family, data):
    program = data.draw(invalid_programs(family))
    with pytest.raises((ValueError, IndexError, TypeError)) as raised:
        tp.run_tinygrad(program)
    assert names(str(raised.value), family), f"{program}\nraised: {raised.value}"
    with pytest.raises(Exception):        # noqa: B017 -- torch's types vary (RuntimeError, IndexError, ...)
        tp.run_torch(program)


@pytest.mark.parametrize("ours, theirs, op", [
    (lambda: tg.concatenate([]), lambda: torch.cat([]), "concatenate"),
    (lambda: tg.stack([]), lambda: torch.stack([]), "stack"),
    (lambda: Tensor(np.ones((0, 3))).max(), lambda: torch.ones(0, 3).amax(), "max"),
    (lambda: Tensor(np.ones((2, 0))).max(axis=1), lambda: torch.ones(2, 0).amax(dim=1), "max"),
    (lambda: Tensor(2.0) @ Tensor(3.0), lambda: torch.tensor(2.0) @ torch.tensor(3.0), "matmul"),
    (lambda: Tensor(np.ones(3))[np.array([True, False])], lambda: torch.ones(3)[torch.tensor([True, False])],
     "getitem"),
    (lambda: Tensor(np.ones((2, 3))).softmax(axis=2), lambda: torch.ones(2, 3).softmax(dim=2), "softmax"),
    (lambda: Tensor(np.ones(3)).broadcast_to((3, 2)), lambda: torch.ones(3).broadcast_to((3, 2)), "broadcast_to"),
], ids=["concatenate nothing", "stack nothing", "max of nothing", "max along an empty axis", "matmul of scalars",
        "mask too short", "softmax axis 2 of 2-d", "broadcast onto a smaller last axis"])
def test_named_invalid_programs_are_clear_errors_in_both(ours, theirs, op):
    with pytest.raises((ValueError, IndexError, TypeError), match=rf"^{op}\b"):
        ours()
    with pytest.raises(Exception):        # noqa: B017
        theirs()


def test_string_data_is_a_type_error_in_both_and_complex_data_only_here():
    for data in ("abc", ["a", "b"]):
        with pytest.raises(TypeError, match="Tensor"):
            Tensor(data)
        with pytest.raises((TypeError, ValueError)):
            torch.tensor(data)
    with pytest.raises(TypeError, match="complex"):
        Tensor([1j])
    assert torch.tensor([1j], requires_grad=True).dtype == torch.complex64      # torch differentiates complex


# ---- at kinks and poles: where the random programs do not go, the engines agree ----
def test_relu_and_abs_have_the_gradient_0_at_their_kink_in_both():
    for ours, theirs in ((Tensor.relu, torch.relu), (Tensor.abs, torch.abs)):
        value, (grad,) = gradients(ours, theirs, [0.0, -0.0, -1.0, 1.0])
        assert_same(value)
        assert_same(grad)
        np.testing.assert_array_equal(grad[0][:2], [0.0, 0.0])


def test_sqrt_and_log_at_zero_give_the_same_infinities_in_both():
    for ours, theirs in ((Tensor.sqrt, torch.sqrt), (Tensor.log, torch.log)):
        value, (grad,) = gradients(ours, theirs, [0.0, 1.0])
        assert_same(value)
        assert_same(grad)
        assert np.isinf(grad[0][0])


def test_division_by_zero_gives_the_same_infinities_and_nans_in_both():
    value, grads = gradients(lambda a, b: a / b, lambda a, b: a / b, [1.0, -1.0, 0.0], [0.0, 0.0, 0.0])
    assert_same(value)
    for grad in grads:
        assert_same(grad)


@pytest.mark.parametrize("exponent", [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, -1.0, -0.5, -2.0])
def test_pow_at_base_zero_has_torchs_values_and_gradients_for_every_exponent(exponent):
    value, (grad,) = gradients(lambda a: a ** exponent, lambda a: a ** exponent, [0.0, 1.0])
    assert_same(value)
    assert_same(grad)


def test_pow_of_tensors_at_base_zero_has_torchs_gradients_for_base_and_exponent():
    value, (base, exponent) = gradients(lambda a, b: a ** b, lambda a, b: a ** b,
                                        [0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 2.0, -1.0, 0.5, 1.0])
    assert_same(value)
    assert_same(base)
    assert_same(exponent)
    value, (exponent,) = gradients(lambda b: 0.0 ** b, lambda b: 0.0 ** b, [0.0, 2.0, -1.0, 0.5])
    assert_same(value)
    assert_same(exponent)


def test_pow_of_a_negative_base_gives_nan_for_the_exponent_gradient_in_both():
    value, (base, exponent) = gradients(lambda a, b: a ** b, lambda a, b: a ** b, [-2.0], [2.0])
    assert_same(value)
    assert_same(base)
    assert np.isnan(exponent[0]).all() and np.isnan(exponent[1]).all()


SOFTMAXES = {"logsumexp": (lambda a: a.logsumexp(axis=0), lambda a: torch.logsumexp(a, 0)),
             "softmax": (lambda a: a.softmax(), lambda a: torch.softmax(a, -1)),
             "log_softmax": (lambda a: a.log_softmax(), lambda a: torch.log_softmax(a, -1))}


@pytest.mark.parametrize("values", [[-np.inf, -np.inf], [np.inf, np.inf], [-np.inf, 0.0, 1.0]],
                         ids=["all -inf", "all inf", "one -inf"])
@pytest.mark.parametrize("name", SOFTMAXES)
def test_logsumexp_and_softmaxes_of_infinities_agree_with_torch(name, values):
    value, (grad,) = gradients(*SOFTMAXES[name], values)
    for ours, theirs in (value, grad):            # nan where torch has nan, and within an ulp elsewhere
        np.testing.assert_allclose(ours, theirs, rtol=1e-15, atol=0, equal_nan=True)


def test_with_plus_inf_in_a_row_torch_softmaxes_are_nan_throughout_and_ours_only_at_the_inf():
    value, (grad,) = gradients(*SOFTMAXES["logsumexp"], [np.inf, 1.0])
    assert_same(value)
    assert_same(grad)                                           # logsumexp agrees: inf, gradient [nan, 0]
    value, (grad,) = gradients(*SOFTMAXES["softmax"], [np.inf, 1.0])
    np.testing.assert_array_equal(value[0], [np.nan, 0.0])      # the finite entry's limit, 0
    np.testing.assert_array_equal(value[1], [np.nan, np.nan])
    np.testing.assert_array_equal(grad[0], [np.nan, np.nan])
    np.testing.assert_array_equal(grad[1], [np.nan, np.nan])
    value, (grad,) = gradients(*SOFTMAXES["log_softmax"], [np.inf, 1.0])
    np.testing.assert_array_equal(value[0], [np.nan, -np.inf])  # the finite entry's limit, -inf
    np.testing.assert_array_equal(value[1], [np.nan, np.nan])
    np.testing.assert_array_equal(grad[0], [np.nan, 1.0])
    np.testing.assert_array_equal(grad[1], [np.nan, np.nan])


# ---- the conventions that differ (or could be thought to) ----
def test_max_ties_split_the_gradient_evenly_like_torch_amax_and_unlike_torch_max_along_a_dim():
    values = [[1.0, 3.0, 3.0, 3.0], [2.0, 2.0, 0.0, 1.0]]
    value, (grad,) = gradients(lambda a: a.max(axis=1), lambda a: torch.amax(a, dim=1), values)
    assert_same(value)
    assert_same(grad)
    np.testing.assert_array_equal(grad[0], [[0, 1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0, 0]])
    _, (grad,) = gradients(lambda a: a.max(), lambda a: torch.max(a), values)       # no dim: evenly too
    assert_same(grad)
    _, (grad,) = gradients(lambda a: a.max(axis=1), lambda a: torch.max(a, dim=1).values, values)
    np.testing.assert_array_equal(grad[1], [[0, 1, 0, 0], [1, 0, 0, 0]])          # all to the index returned


def test_maximum_ties_split_the_gradient_in_halves_like_torch_maximum_unlike_clamp_min_and_fmax():
    value, grads = gradients(tg.maximum, torch.maximum, [1.0, 2.0], [1.0, 3.0])
    assert_same(value)
    for grad in grads:
        assert_same(grad)
    np.testing.assert_array_equal(grads[0][0], [0.5, 0.0])
    _, (grad,) = gradients(lambda a: tg.maximum(a, 1.0), lambda a: torch.maximum(a, torch.tensor(1.0, dtype=F64)),
                           [1.0, 2.0])
    assert_same(grad)                                                   # half of a tie goes to the constant
    _, (grad,) = gradients(lambda a: tg.maximum(a, 1.0), lambda a: torch.clamp_min(a, 1.0), [1.0, 2.0])
    np.testing.assert_array_equal(grad[1], [1.0, 1.0])                   # clamp_min: all of it to the tensor
    _, grads = gradients(tg.maximum, torch.fmax, [1.0], [1.0])
    np.testing.assert_array_equal([g[1] for g in grads], [[1.0], [0.0]])   # fmax: all to the first
    with pytest.raises(TypeError):
        torch.maximum(torch.ones(2), 0.5)                               # torch wants a tensor; we take a scalar


def test_float32_with_a_float64_numpy_scalar_or_0d_tensor_is_float64_here_as_in_numpy_and_float32_in_torch():
    x = np.ones(2, dtype=np.float32)
    assert (Tensor(x) * np.float64(2)).dtype == (x * np.float64(2)).dtype == np.float64
    assert (torch.from_numpy(x) * np.float64(2)).dtype == torch.float32
    assert (Tensor(x) * Tensor(2.0)).dtype == np.float64
    assert (torch.from_numpy(x) * torch.tensor(2.0, dtype=F64)).dtype == torch.float32
    assert (Tensor(x) * Tensor(np.ones(2))).dtype == np.float64                       # arrays: both promote
    assert (torch.from_numpy(x) * torch.ones(2, dtype=F64)).dtype == F64


def test_float32_with_integer_arrays_or_numpy_integers_is_float64_here_and_float32_in_torch():
    x = np.ones(2, dtype=np.float32)
    assert (Tensor(x) + np.arange(2)).dtype == np.float64
    assert (torch.from_numpy(x) + torch.arange(2)).dtype == torch.float32
    assert (Tensor(x) * np.int64(2)).dtype == np.float64
    assert (torch.from_numpy(x) * np.int64(2)).dtype == torch.float32
    assert (Tensor(x) * np.int8(2)).dtype == np.float64          # integers become float64 first (numpy: float32)
    assert (x * np.int8(2)).dtype == np.float32


def test_python_scalars_keep_float32_in_both():
    x = np.ones(2, dtype=np.float32)
    for scalar in (2, 2.5, True):
        assert (Tensor(x) * scalar).dtype == np.float32 and (torch.from_numpy(x) * scalar).dtype == torch.float32
        assert (scalar + Tensor(x)).dtype == np.float32 and (scalar + torch.from_numpy(x)).dtype == torch.float32


@pytest.mark.parametrize("x_shape, w_shape, b_shape", [
    ((3, 4), (5, 4), (5,)), ((3, 4), (5, 4), None), ((2, 3, 4), (5, 4), (1, 5)), ((4,), (5, 4), (5,)),
    ((3, 4), (4,), None), ((0, 4), (5, 4), (5,)), ((3, 0), (5, 0), (5,))])
def test_linear_agrees_with_torch_functional_linear_in_values_and_gradients(x_shape, w_shape, b_shape):
    rng = np.random.default_rng(len(x_shape) + 10 * len(w_shape))
    values = [rng.normal(size=shape) for shape in (x_shape, w_shape, b_shape) if shape is not None]
    (ours, theirs), grads = gradients(tg.nn.functional.linear, torch.nn.functional.linear, *values)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    for mine, torchs in grads:
        np.testing.assert_allclose(mine, torchs, rtol=1e-12, atol=1e-12)


def test_linear_with_a_1d_weight_takes_a_bias_here_and_torch_refuses_it():
    x, w, b = np.ones((3, 4)), np.ones(4), np.full((), 0.5)
    np.testing.assert_array_equal(tg.nn.functional.linear(Tensor(x), Tensor(w), Tensor(b)).data, x @ w + b)
    with pytest.raises(RuntimeError, match="matrix"):
        torch.nn.functional.linear(*map(torch.from_numpy, (x, w, b)))


def test_matmul_of_float32_and_float64_promotes_here_and_is_an_error_in_torch():
    a, b = np.ones((2, 2), dtype=np.float32), np.ones(2)
    assert (Tensor(a) @ Tensor(b)).dtype == np.float64
    with pytest.raises(RuntimeError, match="dtype"):
        torch.from_numpy(a) @ torch.from_numpy(b)


def test_integer_bool_and_list_data_become_float64_here_while_torch_keeps_int64_bool_and_float32():
    for data, theirs in (([1, 2], torch.int64), (np.arange(2), torch.int64), ([True, False], torch.bool),
                         ([1.5, 2.5], torch.float32), (2.0, torch.float32)):
        assert Tensor(data).dtype == np.float64
        assert torch.tensor(data).dtype == theirs
    assert Tensor([1, 2], requires_grad=True).dtype == np.float64
    with pytest.raises(RuntimeError, match="floating point"):
        torch.tensor([1, 2], requires_grad=True)


def test_a_negative_slice_step_works_here_and_is_a_value_error_in_torch():
    ours, theirs = leaf(np.arange(10.0).reshape(2, 5))
    out = ours[:, 4:0:-2]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        theirs[:, 4:0:-2]
    flipped = torch.flip(theirs, [1])[:, 0:4:2]                 # the same elements, as torch writes it
    np.testing.assert_array_equal(out.data, flipped.detach().numpy())
    out.backward(np.array([[1.0, 2.0], [3.0, 4.0]]))
    flipped.backward(torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=F64))
    np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())


def test_an_int_beside_an_integer_array_across_a_slice_is_advanced_here_as_in_numpy_and_applied_first_in_torch():
    x = np.arange(2 * 3 * 4.0).reshape(2, 3, 4)
    index = np.array([0, 2, 2, 1, 3])
    assert Tensor(x)[0, :, index].shape == x[0, :, index].shape == (5, 3)     # the array's axis first
    assert tuple(torch.from_numpy(x)[0, :, torch.from_numpy(index)].shape) == (3, 5)
    assert tuple(torch.from_numpy(x)[torch.tensor([0]), :, torch.from_numpy(index)].shape) == (5, 3)


def test_a_0d_tensor_takes_axis_0_and_minus_1_in_both_but_a_tuple_of_them_only_in_torch():
    for axis in (0, -1):
        assert Tensor(2.0).sum(axis=axis).item() == torch.tensor(2.0).sum(dim=axis).item() == 2.0
        with pytest.raises(ValueError, match="sum: axis"):
            Tensor(2.0).sum(axis=(axis,))
        assert torch.tensor(2.0).sum(dim=(axis,)).item() == 2.0


def test_an_empty_axis_tuple_reduces_nothing_here_as_in_numpy_and_everything_in_torch():
    x = np.ones((2, 3))
    assert Tensor(x).sum(axis=()).shape == x.sum(axis=()).shape == (2, 3)
    assert Tensor(x).max(axis=()).shape == (2, 3)
    assert tuple(torch.from_numpy(x).sum(dim=()).shape) == () and torch.from_numpy(x).sum(dim=()).item() == 6


def test_softmax_over_a_tuple_of_axes_works_here_and_is_a_type_error_in_torch():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(Tensor(x).softmax(axis=(0, 1)).data, np.exp(x) / np.exp(x).sum(), rtol=1e-15)
    with pytest.raises(TypeError):
        torch.from_numpy(x).softmax(dim=(0, 1))


def test_T_reverses_every_axis_silently_here_and_torch_warns_for_other_than_2d():
    x = np.ones((2, 3, 4))
    assert Tensor(x).T.shape == (4, 3, 2)
    with pytest.warns(UserWarning, match="deprecated"):
        assert tuple(torch.from_numpy(x).T.shape) == (4, 3, 2)


def test_a_python_bool_operand_is_the_number_1_here_and_torch_refuses_it_in_subtraction():
    np.testing.assert_array_equal((Tensor([1.0, 2.0]) - True).data, [0.0, 1.0])
    np.testing.assert_array_equal((torch.tensor([1.0, 2.0]) + True).numpy(), [2.0, 3.0])
    with pytest.raises(RuntimeError, match="bool"):
        torch.tensor([1.0, 2.0]) - True


def test_in_place_ops_on_a_graph_node_are_recorded_by_both_with_different_refusals():
    ours, theirs = leaf([1.0, 2.0])
    y, z = ours * 2, theirs * 2
    y *= 3.0
    z *= 3.0
    y.sum().backward()
    z.sum().backward()
    np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())
    ours, theirs = leaf([1.0, 2.0])
    y, z = ours * 2, theirs * 2
    y *= y                               # here: y = y * y, the old y kept as the input
    z *= z                               # torch: mul_ overwrote the z it saved
    y.sum().backward()
    np.testing.assert_array_equal(ours.grad, 8.0 * ours.data)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
    ours, theirs = leaf([1.0, 2.0])
    y, z = ours * 2, theirs * 2
    y_used, z_used = y * 3, z * 3        # use the value before it changes
    y += 1
    z += 1
    (z_used + z).sum().backward()        # torch follows the old edge (add saved nothing)
    np.testing.assert_array_equal(theirs.grad.numpy(), [8.0, 8.0])
    with pytest.raises(RuntimeError, match="before an in-place op changed that tensor"):
        (y_used + y).sum().backward()


def test_an_in_place_op_on_a_leaf_that_requires_grad_is_refused_by_both_outside_no_grad():
    ours, theirs = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="no_grad"):
        ours += 1
    with pytest.raises(RuntimeError, match="leaf"):
        theirs += 1
    with no_grad():
        ours -= 0.5
    with torch.no_grad():
        theirs -= 0.5
    np.testing.assert_array_equal(ours.data, theirs.detach().numpy())
    assert ours.requires_grad and theirs.requires_grad


def test_backward_refuses_a_value_its_vjp_reads_that_was_changed_in_place_in_both():
    (a, ta), (b, tb) = leaf([1.0, 2.0]), leaf([1.0, 2.0])
    product, tproduct, total, ttotal = a * a, ta * ta, b + b, tb + tb
    with no_grad():
        a += 10
        b += 10
    with torch.no_grad():
        ta += 10
        tb += 10
    with pytest.raises(RuntimeError, match="modified in place"):
        product.sum().backward()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        tproduct.sum().backward()
    total.sum().backward()           # add's vjp reads no value: both go ahead
    ttotal.sum().backward()
    np.testing.assert_array_equal(b.grad, tb.grad.numpy())


def test_numpy_ufuncs_on_a_tensor_that_requires_grad_are_ops_here_and_refused_by_torch():
    ours, theirs = leaf([0.5, 1.5])
    out = np.exp(ours)
    out.sum().backward()
    np.testing.assert_allclose(ours.grad, np.exp([0.5, 1.5]), rtol=1e-15)
    with pytest.raises(RuntimeError, match="requires grad"):
        np.exp(theirs)
    with pytest.raises(TypeError, match="np.sin"):
        np.sin(Tensor([1.0]))                                  # no vjp here: refused even for a constant
    np.testing.assert_allclose(np.sin(torch.tensor([1.0], dtype=F64)).numpy(), np.sin([1.0]))


def test_a_tensor_index_is_a_type_error_here_and_an_index_in_torch():
    with pytest.raises(TypeError, match="getitem"):
        Tensor([1.0, 2.0])[Tensor([1.0])]
    assert torch.tensor([1.0, 2.0])[torch.tensor([1])].item() == 2.0


def test_at_minus_zero_torch_computes_x_to_the_half_as_sqrt_and_x_to_minus_half_as_rsqrt_and_we_as_ieee_pow():
    with np.errstate(all="ignore"):
        ours, theirs = leaf([-0.0])
        (ours ** 0.5).sum().backward()
        (theirs ** 0.5).sum().backward()
        assert ours.grad[0] == np.inf and theirs.grad.item() == -np.inf     # torch: 1 / (2 sqrt(-0)) = -inf
        ours, theirs = leaf([-0.0])
        (ours ** Tensor(0.5)).sum().backward()
        (theirs ** torch.tensor(0.5, dtype=F64)).sum().backward()
        assert ours.grad[0] == theirs.grad.item() == np.inf                  # a tensor exponent: pow's rule in both
        assert (Tensor(-0.0) ** -0.5).item() == np.inf and (torch.tensor(-0.0, dtype=F64) ** -0.5).item() == -np.inf
        ours, theirs = leaf([-0.0])
        ours.sqrt().sum().backward()
        theirs.sqrt().sum().backward()
        assert ours.grad[0] == theirs.grad.item() == -np.inf                 # sqrt itself: the same in both



def test_a_nested_list_index_is_one_integer_array_here_as_in_numpy_and_a_tuple_of_indices_in_torch():
    x = np.arange(12.0).reshape(3, 4)
    assert Tensor(x)[[[0, 1], [2, 2]]].shape == x[np.array([[0, 1], [2, 2]])].shape == (2, 2, 4)
    np.testing.assert_array_equal(torch.from_numpy(x)[[[0, 1], [2, 2]]].numpy(), x[[0, 1], [2, 2]])   # (2,)


def test_where_of_two_python_scalars_is_float64_here_and_float32_in_torch():
    mask = np.array([True, False])
    assert tg.where(mask, 1.0, 2.0).dtype == np.float64
    assert torch.where(torch.from_numpy(mask), 1.0, 2.0).dtype == torch.float32


def test_a_float64_cotangent_for_a_float32_output_is_cast_to_float32_in_both():
    ours, theirs = leaf([1.0, 2.0], dtype=np.float32)
    (ours * 2).backward(np.ones(2))
    (theirs * 2).backward(torch.ones(2, dtype=F64))
    assert ours.grad.dtype == np.float32 and theirs.grad.dtype == torch.float32


def test_gradients_accumulate_over_two_backward_calls_in_both_and_a_freed_graph_refuses_a_second():
    ours, theirs = leaf([1.0, 2.0])
    y, z = (ours * ours).sum(), (theirs * theirs).sum()
    y.backward()
    y.backward()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())
    y, z = (ours * ours).sum(), (theirs * theirs).sum()
    y.backward(retain_grads=False)                  # our way of freeing the graph, torch's default
    z.backward()
    with pytest.raises(RuntimeError, match="freed"):
        y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        z.backward()


def test_in_the_far_tail_our_sigmoid_keeps_the_subnormal_values_torch_flushes_to_0():
    x = np.array([-745.0, -740.0, -700.0])
    ours, theirs = Tensor(x).sigmoid().data, torch.sigmoid(torch.from_numpy(x)).numpy()
    exact = np.exp(x)                                  # sigmoid(x) = e^x (1 + O(e^x)) here
    np.testing.assert_allclose(ours, exact, rtol=0.02)    # subnormal: within the spacing of 5e-324
    np.testing.assert_array_equal(theirs[:2], [0.0, 0.0])
    assert theirs[2] == ours[2]                         # where the result is normal, the same
    x32 = np.array([-100.0], dtype=np.float32)          # float32: e^-100 = 3.7e-44 is subnormal
    assert Tensor(x32).sigmoid().data[0] > 0 and torch.sigmoid(torch.from_numpy(x32)).item() == 0.0


def test_at_nan_relu_passes_no_gradient_here_and_all_of_it_in_torch():
    _, (grad,) = gradients(Tensor.relu, torch.relu, [np.nan, -1.0, 1.0])
    np.testing.assert_array_equal(grad[0], [0.0, 0.0, 1.0])     # 1 where x > 0, and nan > 0 is false
    np.testing.assert_array_equal(grad[1], [1.0, 0.0, 1.0])     # 0 where relu(x) <= 0, and nan <= 0 is false


def test_at_nan_abs_gives_a_nan_gradient_here_and_0_in_torch():
    _, (grad,) = gradients(Tensor.abs, torch.abs, [np.nan, -1.0])
    np.testing.assert_array_equal(grad[0], [np.nan, -1.0])      # np.sign(nan) is nan
    np.testing.assert_array_equal(grad[1], [0.0, -1.0])         # torch's sgn(nan) is 0


def test_at_nan_maximum_gives_neither_operand_a_gradient_here_and_both_all_of_it_in_torch():
    value, (a, b) = gradients(tg.maximum, torch.maximum, [np.nan, 1.0, np.nan], [1.0, np.nan, np.nan])
    assert_same(value)                                           # nan in both
    np.testing.assert_array_equal(a[0] + b[0], [0.0, 0.0, 0.0])  # neither larger nor tied: the gradient is lost
    np.testing.assert_array_equal(a[1], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(b[1], [1.0, 1.0, 1.0])
    _, (grad,) = gradients(lambda x: x.max(), torch.amax, [1.0, np.nan])
    assert_same(grad)                                            # max over a nan: nan everywhere in both
