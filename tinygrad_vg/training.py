"""A training loop that records every step per layer and halts, with a report, at the first
non-finite value.

Each step runs under detect_anomaly(): if a forward value, the loss or a gradient becomes inf or
NaN, the op that produced it raises NonFiniteError and training stops there, recording the step, the
op, the layer, inf or nan, and forward or backward. If the optimiser's update overflows a parameter
(no op checks that), training stops the same way with phase "update". A halt is never hidden behind
a NaN loss that keeps "training".
"""
from dataclasses import asdict, dataclass, field

import numpy as np

from .anomaly import NonFiniteError, detect_anomaly
from .nn.losses import mse_loss
from .norms import global_norm
from .optim import SGD, clip_grad_norm_, global_grad_norm
from .tensor import Tensor
from .views.notebook import Shown
from .views.text import table


def halt_panel(halted):
    """The views' "halt" panel from a Halt as a dict (asdict; a command may add its "layer" number)."""
    where = halted.get("module") or "the loss"
    return {"title": f"where training halted: step {halted['step']}, {halted['phase']}, {where}",
            "halt": {"step": halted["step"], "layer": halted.get("layer") or where, "op": halted["op"],
                     "phase": halted["phase"], "kind": halted["kind"], "message": halted["message"]}}


def record_panels(data):
    """The views' panels of a TrainingRecord as a dict (to_dict(), or a command's result built on it):
    loss and gradient norm per step on a log axis, the step x layer heatmap of |dL/dW_l|, and the
    halt panel if training halted (alone when it halted at step 0, before any step was recorded)."""
    steps, halted = data["steps"], data["halted"]
    panels = []
    if steps:
        numbers = [entry["step"] for entry in steps]
        marks = [] if halted is None else [{"x": halted["step"], "label": f"halted at step {halted['step']}"}]
        panels.append({"title": "loss and gradient norm per step", "xlabel": "step", "ylabel": "value",
                       "marks": marks, "lines": [
                           {"label": "loss", "x": numbers, "y": [entry["loss"] for entry in steps], "style": "-"},
                           {"label": "|dL/dθ| before clipping", "x": numbers,
                            "y": [entry["grad_norm"] for entry in steps], "style": "C1-"}]})
        panels.append({"title": "log10 |dL/dW_l|: a row per step, a column per layer", "xlabel": "layer l",
                       "ylabel": "step", "x0": 1, "y0": numbers[0], "colorbar": "log10 |dL/dW_l|",
                       "heatmap": [entry["weight_grad_norms"] for entry in steps]})
    if halted is not None:
        panels.append(halt_panel(halted))
    return panels


@dataclass
class Halt(Shown):
    """Where training stopped: `module` is e.g. "layers.37 (Linear)", or None for the loss."""
    step: int
    op: str | None
    module: str | None
    kind: str            # "inf" or "nan"
    phase: str           # "forward", "backward" or "update"
    message: str

    def display_title(self):
        return f"training halted at step {self.step}: {self.kind} in the {self.phase} pass"

    def panels(self):
        return [halt_panel(asdict(self))]

    def __str__(self):
        return (f"halted at step {self.step}, {self.phase} phase, {self.module or 'the loss'}, op {self.op}, "
                f"{self.kind}: {self.message}")


@dataclass
class TrainingRecord(Shown):
    """Per step: loss, total gradient norm before clipping, each layer's weight-gradient norm (for the
    modules named in `weight_names`) and activation norm (for the outputs named in `activation_names`)."""
    weight_names: list
    activation_names: list
    loss: list = field(default_factory=list)
    grad_norm: list = field(default_factory=list)
    weight_grad_norms: list = field(default_factory=list)     # [step][layer]
    activation_norms: list = field(default_factory=list)      # [step][layer]
    halted: Halt | None = None

    @property
    def steps(self):
        """The number of steps completed (forward, backward and update)."""
        return len(self.loss)

    def to_dict(self):
        """JSON-ready: lists of floats and strings; `halted` is None or a dict."""
        return {"weight_names": self.weight_names, "activation_names": self.activation_names,
                "steps": [{"step": s, "loss": self.loss[s], "grad_norm": self.grad_norm[s],
                           "weight_grad_norms": self.weight_grad_norms[s],
                           "activation_norms": self.activation_norms[s]} for s in range(self.steps)],
                "halted": None if self.halted is None else asdict(self.halted)}

    def display_title(self):
        ending = "finished" if self.halted is None else f"halted at step {self.halted.step}"
        return f"training record: {self.steps} steps, {ending}"

    def panels(self):
        return record_panels(self.to_dict())

    def __str__(self):
        """A line per step (every k-th of a long run, and the last), then where it halted."""
        every = max(1, self.steps // 10)
        shown = sorted(set(range(0, self.steps, every)) | ({self.steps - 1} if self.steps else set()))
        rows = [[s, f"{self.loss[s]:.6g}", f"{self.grad_norm[s]:.4e}"] for s in shown]
        lines = [self.display_title(), table(["step", "loss", "|dL/dθ|"], rows) if rows else "(no step completed)"]
        return "\n".join(lines + ([str(self.halted)] if self.halted is not None else []))


def halt_from_error(step, error):
    return Halt(step, error.op, error.module, error.kind, error.phase, str(error))


def train(model, inputs, targets, steps, lr=0.1, momentum=0.0, loss_fn=mse_loss, optimizer=None,
          clip=None, on_step=None, scheduler=None):
    """Full-batch training of `model` on (inputs, targets) for up to `steps` steps; returns a
    TrainingRecord. `optimizer`: any of optim's (SGD, Adam, AdamW, RMSprop), by default
    SGD(model.parameters(), lr, momentum); `scheduler` (optim.lr_scheduler, over that optimizer) steps
    after each update, so one training step is one of its epochs. `clip`: a max global gradient norm
    (clip_grad_norm_). `on_step(step, record)` is called after each step (e.g. for progress). Inputs
    and float targets are cast to the dtype of the model's parameters, so a float32 model overflows
    where float32 does. If the model has `forward_with_outputs`, each of its outputs' norms is
    recorded; otherwise the model output's."""
    params = model.parameters()
    named = dict(model.named_parameters())
    dtype = params[0].dtype if params else np.float64
    x = inputs if isinstance(inputs, Tensor) else Tensor(inputs, dtype=dtype)
    if not isinstance(targets, Tensor) and np.asarray(targets).dtype.kind == "f":
        targets = Tensor(targets, dtype=dtype)     # class indices (integers) stay as they are
    optimizer = optimizer or SGD(params, lr, momentum)
    if scheduler is not None and scheduler.optimizer is not optimizer:
        raise ValueError(f"train: the scheduler adjusts another optimizer than the {type(optimizer).__name__} "
                         "that trains: pass optimizer= the one the scheduler was made with")
    weighted = [(path, m.weight) for path, m in model.named_modules() if "weight" in m._parameters]
    with_outputs = hasattr(model, "forward_with_outputs")
    record = TrainingRecord([path or type(model).__name__ for path, _ in weighted],
                            list(model.output_names) if with_outputs else ["output"])
    with detect_anomaly(check_underflow=False), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for step in range(steps):
            optimizer.zero_grad()
            try:
                if with_outputs:
                    out, outputs = model.forward_with_outputs(x)
                else:
                    out = model(x)
                    outputs = [out]
                loss = loss_fn(out, targets)
                if not np.isfinite(loss.data).all():   # only possible if the data itself is not finite
                    kind = "nan" if np.isnan(loss.data).any() else "inf"
                    record.halted = Halt(step, None, None, kind, "forward",
                                         f"the loss is {kind} although no op produced a non-finite value "
                                         "from finite inputs: check the inputs and targets")
                    break
                loss.backward(retain_grads=False)   # the parameters' gradients are all it reads
            except NonFiniteError as error:
                record.halted = halt_from_error(step, error)
                break
            record.loss.append(float(loss.data))
            record.grad_norm.append(global_grad_norm(params))
            record.weight_grad_norms.append([global_norm([w.grad]) for _, w in weighted])
            record.activation_norms.append([global_norm([h.data]) for h in outputs])
            if clip is not None:
                clip_grad_norm_(params, clip)
            optimizer.step()
            bad = next((name for name, p in named.items() if not np.isfinite(p.data).all()), None)
            if bad is not None:
                kind = "nan" if np.isnan(named[bad].data).any() else "inf"
                module = bad.rpartition(".")[0]
                owner = dict(model.named_modules())[module]
                record.halted = Halt(step, type(optimizer).__name__.lower(), owner.label, kind, "update",
                                     f"the {type(optimizer).__name__} update made {bad} {kind} at step {step}")
                break
            if scheduler is not None:
                scheduler.step()
            if on_step is not None:
                on_step(step, record)
    return record
