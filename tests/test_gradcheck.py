"""gradcheck itself: it passes correct code, and it can fail — on a wrong vjp, a bad eps, at any scale."""
import numpy as np
import pytest

from tinygrad_vg import Tensor, gradcheck, ops
from tinygrad_vg.tensor import apply

X = np.array([0.3, -0.7, 1.2])


class ExpWrongAtOneElement(ops.Exp):
    """exp whose vjp is 1% off at flat element `wrong`."""
    wrong = 1

    def vjp(self, g, i):
        grad = g * self.y
        grad.flat[self.wrong] *= 1.01
        return grad


class MulOffByOnePercent(ops.Mul):
    """a * b whose vjp w.r.t. input `wrong` is 1% too large everywhere."""
    wrong = 0

    def vjp(self, g, i):
        return super().vjp(g, i) * (1.01 if i == self.wrong else 1.0)


class SumGradWrongShape(ops.Sum):
    def vjp(self, g, i):
        return super().vjp(g, i).reshape(-1, 1)


def wrong_exp(x):
    return apply(ExpWrongAtOneElement(), x)


def vanishing_chain(x, multiply=lambda a, b: a * b):
    """50 layers of tanh(0.2 h): d out / d x ~ 0.2^50 ~ 1e-35."""
    h = x
    for _ in range(50):
        h = multiply(h, Tensor(0.2)).tanh()
    return h


def exploding_chain(x, multiply=lambda a, b: a * b):
    """50 layers of 4 h + 0.01 tanh(h): d out / d x ~ 4^50 ~ 1e30."""
    h = x
    for _ in range(50):
        h = multiply(h, Tensor(4.0)) + h.tanh() * 0.01
    return h


def multiply_wrongly(a, b):
    return apply(MulOffByOnePercent(), a, b)


def test_passes_on_correct_code_in_both_modes():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    for mode in ("full", "random"):
        report = gradcheck(lambda a, b: (a @ b).tanh(), [a, b], mode=mode)
        assert report and report.passed, report
        assert "passed" in str(report)
        assert report.ratio <= 1 and report.error <= report.tolerance


def test_full_mode_counts_every_jacobian_entry():
    report = gradcheck(lambda a, b: (a * b, a.sum()), [np.ones(3), np.ones(2)[:, None]])
    # blocks: (a*b: 6 outputs) x (3 + 2 inputs) and (a.sum(): 1 output) x (3 + 2 inputs)
    assert report.checked == 6 * 5 + 1 * 5


def test_wrong_vjp_is_caught_and_named():
    report = gradcheck(wrong_exp, [X])
    assert not report
    assert (report.output, report.input, report.index) == (0, 0, ((1,), (1,)))
    assert report.numeric == pytest.approx(np.exp(X[1]), rel=1e-8)
    assert report.analytic == pytest.approx(1.01 * np.exp(X[1]), rel=1e-12)
    assert report.error == pytest.approx(0.01 * np.exp(X[1]), rel=1e-6)
    assert report.relative_error == pytest.approx(report.error / report.scale)
    text = str(report)
    assert "FAILED" in text and "output[0][1]" in text and "input[0][1]" in text
    assert f"{report.numeric:.6g}" in text and f"{report.analytic:.6g}" in text


def test_wrong_vjp_names_the_input_and_output():
    wrong_second = type("MulWrongInSecond", (MulOffByOnePercent,), {"wrong": 1})
    report = gradcheck(lambda a, b: (a + b, apply(wrong_second(), a, b)), [X, X[::-1].copy()])
    assert not report
    assert (report.output, report.input) == (1, 1)


def test_random_mode_catches_a_wrong_vjp_on_a_large_input():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((40, 30)), rng.standard_normal((40, 30))
    assert gradcheck(lambda a, b: (a * b).tanh(), [a, b], mode="random")
    report = gradcheck(lambda a, b: multiply_wrongly(a, b).tanh(), [a, b], mode="random", n_directions=2)
    assert not report and report.input == 0 and report.checked == 2 * 2
    assert "random direction" in str(report)


def test_random_mode_catches_one_wrong_element():
    assert not gradcheck(wrong_exp, [np.array([0.1, 3.0, 0.2])], mode="random")


@pytest.mark.parametrize("eps", [0.3, 0.1])
def test_too_large_an_eps_is_reported_as_unresolved(eps):
    # truncation error of central differences ~ eps^2 f'''/6: 1.5e-2 and 1.7e-3 relative, beyond
    # rtol = 1e-3: the three diagonal entries of exp's Jacobian are only checkable that coarsely
    report = gradcheck(lambda a: a.exp(), [X], eps=eps)
    assert report.unresolved == 3 and abs(report.numeric - report.analytic) > 1e-3 * abs(report.analytic)
    assert "3 entries only checkable" in str(report)
    assert gradcheck(lambda a: a.exp(), [X]).unresolved == 0


def test_a_zero_gradient_under_curvature_passes_and_a_wrong_one_beside_it_fails():
    # at 0, x^3 has the gradient 0 while each central difference of it is eps^2 = 1e-12
    report = gradcheck(lambda a: a * a * a, [np.zeros(3)])
    assert report and report.unresolved == 3 and report.numeric == pytest.approx(1e-12)
    wrong = gradcheck(lambda a: a * a * a + wrong_exp(a), [np.zeros(3)])
    assert not wrong and wrong.index == ((1,), (1,))


def test_too_small_an_eps_is_reported_as_unresolved():
    # rounding error ~ 1e-16 |f| / eps = 1e-1 relative: the check can only be that coarse, and says so
    report = gradcheck(lambda a: a.exp(), [X], eps=1e-15)
    assert report.unresolved == report.checked == 9
    assert "9 entries only checkable to finite-difference resolution" in str(report)
    assert gradcheck(lambda a: a.exp(), [X]).unresolved == 0


def test_jacobians_that_are_zero_up_to_rounding_pass():
    # sum(softmax(x)) = 1: numeric ~ 1e-10 of rounding noise against analytic ~ 1e-17
    report = gradcheck(lambda a: a.softmax().sum(), [np.zeros((2, 3))])
    assert report and report.unresolved == 6
    # a^b w.r.t. a is b a^(b-1) = 1e-200: (1 + 1e-6)^1e-200 rounds to 1, and the check says so
    report = gradcheck(lambda a, b: a ** b, [np.array(1.0), np.array(1e-200)])
    assert report and report.unresolved >= 1


@pytest.mark.parametrize("chain, magnitude", [(vanishing_chain, 1e-35), (exploding_chain, 1e30)])
@pytest.mark.parametrize("mode", ["full", "random"])
def test_tiny_and_huge_gradients(chain, magnitude, mode):
    report = gradcheck(chain, [X], mode=mode)
    assert report, report
    assert magnitude / 1e3 < report.scale < magnitude * 1e3 or mode == "random"
    wrong = gradcheck(lambda x: chain(x, multiply_wrongly), [X], mode=mode)
    assert not wrong, wrong
    # an absolute tolerance would have passed the wrong 1e-35 gradients and failed the right 1e30 ones
    assert abs(wrong.numeric) < 1e-25 if magnitude < 1 else abs(wrong.numeric) > 1e25


@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_a_constant_factor_changes_nothing_but_the_numbers(scale):
    plain = gradcheck(wrong_exp, [X])
    scaled = gradcheck(lambda x: wrong_exp(x) * scale, [X])
    assert not scaled and scaled.index == plain.index
    assert scaled.relative_error == pytest.approx(plain.relative_error, rel=1e-4)
    assert scaled.analytic == pytest.approx(plain.analytic * scale)


def exp_wrong_by(factor):
    """exp whose vjp is `factor` times the true one."""
    return type("ExpTooLarge", (ops.Exp,), {"vjp": lambda self, g, i: g * self.y * factor})


def test_inputs_not_float64_without_a_tolerance_are_a_type_error_naming_the_dtypes():
    # float32 rounding (1e-7) over a step of 1e-6 is ~10%: at the float64 defaults a vjp 7.6% off passed
    wrong = exp_wrong_by(1.076)
    with pytest.raises(TypeError, match=r"gradcheck: inputs of dtypes \['float64', 'float32'\] are not all "
                                        r"float64.*atol= and/or rtol="):
        gradcheck(lambda a, b: apply(wrong(), a) * b, [X, X.astype(np.float32)])


def test_inputs_not_float64_are_checked_at_an_explicit_tolerance():
    x = X.astype(np.float32)
    # float32 rounding over a step of 1e-3 is ~1e-4, so a 7.6% error shows and rtol = 1e-2 is resolvable
    assert gradcheck(lambda a: a.exp(), x, eps=1e-3, rtol=1e-2)
    report = gradcheck(lambda a: apply(exp_wrong_by(1.076)(), a), x, eps=1e-3, atol=1e-2)
    assert not report and report.relative_error == pytest.approx(0.076 / 1.076, rel=1e-3)
    # over the default step of 1e-6 nothing is resolved to rtol = 1e-3, and the report says so
    report = gradcheck(lambda a: a.exp(), x, rtol=1e-3)
    assert report.unresolved == report.checked == 9 and "9 entries only checkable" in str(report)


def test_no_tolerance_means_the_float64_defaults_atol_1e_minus_5_and_rtol_1e_minus_3():
    default, explicit = gradcheck(wrong_exp, [X]), gradcheck(wrong_exp, [X], atol=1e-5, rtol=1e-3)
    assert default.tolerance == explicit.tolerance
    assert default.tolerance == pytest.approx(1e-5 * default.scale + 1e-3 * abs(default.numeric), rel=1e-3)


@pytest.mark.parametrize("single", [X, Tensor(X)], ids=["ndarray", "Tensor"])
def test_a_single_array_or_tensor_is_one_input(single):
    report = gradcheck(lambda a: a.exp(), single)
    assert report and report.checked == 9
    wrong = gradcheck(wrong_exp, single)
    assert not wrong and wrong.index == ((1,), (1,)) and wrong.error == gradcheck(wrong_exp, [X]).error


@pytest.mark.parametrize("result, what", [
    (lambda a: np.exp(a.data), "got ndarray"),
    (lambda a: 1.5, "got float"),
    (lambda a: [1.0, 2.0], "got a list of float"),
    (lambda a: (a.exp(), np.ones(3)), "got a tuple of Tensor, ndarray"),
])
def test_fn_returning_anything_but_tensors_is_a_type_error_saying_what_it_returned(result, what):
    with pytest.raises(TypeError, match=rf"^gradcheck: fn must return a Tensor or a tuple of Tensors, {what}"):
        gradcheck(result, [X])


def test_leaves_the_callers_gradients_alone():
    x = Tensor(X, requires_grad=True)
    weight = Tensor([2.0, 3.0, 4.0], requires_grad=True)
    scaled = weight * 0.5                            # a result made outside fn, captured by it
    x.grad, weight.grad = np.full(3, 7.0), np.full(3, 5.0)
    assert gradcheck(lambda x: (x * scaled).tanh(), [x])
    assert np.array_equal(x.grad, np.full(3, 7.0)) and np.array_equal(weight.grad, np.full(3, 5.0))
    assert scaled.grad is None and np.array_equal(x.data, X)


def test_outputs_that_do_not_depend_on_an_input():
    report = gradcheck(lambda a, b: (a.exp(), Tensor(np.ones(2))), [X, np.ones(2)])
    assert report and report.checked == 3 * 3 + 3 * 2 + 2 * 3 + 2 * 2


def test_wrong_gradient_shape_is_an_error():
    with pytest.raises(ValueError, match=r"shape \(3, 1\).*\(3,\)"):
        gradcheck(lambda a: apply(SumGradWrongShape(), a), [X])


def test_non_finite_gradients_fail():
    with np.errstate(divide="ignore", invalid="ignore"):
        report = gradcheck(lambda a: a.log(), [np.array([0.0, 1.0])])
    assert not report and report.index == ((0,), (0,))


def test_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        gradcheck(lambda a: a, [X], mode="fast")
