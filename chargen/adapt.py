"""Dynamic evaluation (Krause et al. 2018): a model that goes on learning the text it reads. After
each segment of text, one gradient step on that segment's loss, RMS-normalised, with the weights
pulled back toward the trained ones:

    ms <- b ms + (1 - b) g^2;   theta <- theta - lr s g / (sqrt(ms / (1 - b^t)) + eps) + decay (theta0 - theta)

where s, the *surprise gate*, is 0 while the text costs the model at most 15% more than its validation
text and rises to 1 at 45% more (a running average over about the last 30 segments): text like the
training corpus is not learned (a step there overfits), text unlike it fully.

Only the parameters of ``AdaptConfig.target`` adapt (``head``: the output layer; ``last``: the last
recurrent layer and the head; ``all``; ``auto``: ``last`` for models up to a size, else ``head``); the trained model is never changed: an :class:`Adapted` is
an immutable value (its tensors are new ones after every step), so a snapshot is a reference and
Forget is dropping it. The mean square ``ms`` is the session's own running estimate (Krause used
one measured on the training data, which a checkpoint does not ship), per parameter (one per tensor,
``normalise="tensor"``, did worse in the sweep). Usage:

    a = Adapted.start(predictor, AdaptConfig())
    a, loss = learn(predictor, a, start_row, ids, skip=0)       # one step on ids (row: the state before)
    stepper = a.stepper(predictor)                              # the keystroke path with these weights
"""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call

from .model import state_tensors

TARGETS = ("auto", "head", "last", "all")
AUTO_LIMIT = 1_500_000   # "auto": the last layer and the head up to this many parameters (~6 MB), else the head
STEP_SIZE = {"head": 1e-2, "last": 2e-3, "all": 1e-3}   # lr by what adapts (held-out sweep, README)
NORMALISE = ("param", "tensor")
SURPRISE = (0.15, 0.3)   # the step grows from nothing at 15% over the model's validation loss to full 30% above that
LOSS_EMA = 0.97          # the text's loss the gate reads: an average over about the last 30 segments
MS_DECAY = 0.99          # b: the mean square follows about the last 100 steps
EPS = 1e-6


@dataclass(frozen=True)
class AdaptConfig:
    """What adapts and how fast. The defaults were chosen on held-out text (README "Adaptation")."""
    target: str = field(default="auto", metadata={"help": "parameters that adapt", "choices": TARGETS})
    lr: float | None = field(default=None, metadata={"help": "RMS-normalised step size (default: by target, STEP_SIZE)"})
    decay: float = field(default=1e-3, metadata={"help": "pull toward the trained weights per step"})
    segment: int = field(default=40, metadata={"help": "characters per learned segment (it ends at a word boundary)"})
    normalise: str = field(default="param", metadata={"help": "RMS of the gradient per parameter tensor or per parameter",
                                                       "choices": NORMALISE})

    def validate(self) -> "AdaptConfig":
        if self.target not in TARGETS:
            raise ValueError(f"unknown adaptation target {self.target!r}: one of {', '.join(TARGETS)}")
        if self.normalise not in NORMALISE:
            raise ValueError(f"unknown normalisation {self.normalise!r}: one of {', '.join(NORMALISE)}")
        if not ((self.lr is None or self.lr > 0) and 0 <= self.decay < 1 and self.segment >= 1):
            raise ValueError("adaptation needs lr > 0, 0 <= decay < 1 and segment >= 1")
        return self


def resolved_target(model, target: str) -> str:
    """``target`` with ``auto`` decided: ``last`` where the last layer and the head hold at most
    AUTO_LIMIT parameters, else ``head`` (a session of a big model stays small)."""
    if target != "auto":
        return target
    last = target_names(model, "last")
    return "last" if sum(p.numel() for n, p in model.named_parameters() if n in last) <= AUTO_LIMIT else "head"


def step_size(model, config: AdaptConfig) -> float:
    return config.lr if config.lr is not None else STEP_SIZE[resolved_target(model, config.target)]


def target_names(model, target: str) -> list[str]:
    """The parameter names that adapt under ``target``."""
    last = model.config.num_layers - 1
    names = [n for n, _ in model.named_parameters()]
    target = resolved_target(model, target)
    if target == "head":
        return [n for n in names if n.startswith("head.")]
    if target == "last":
        return [n for n in names if n.startswith("head.") or n.endswith(f"_l{last}")]
    return names


@dataclass(frozen=True)
class Adapted:
    """One session's adapted parameters: {name: tensor}, their mean squared gradients, the steps taken."""
    config: AdaptConfig
    params: dict
    ms: dict
    steps: int = 0
    loss: float = 0.0            # running nats per token of the text learned (the surprise gate)

    @classmethod
    def start(cls, predictor, config: AdaptConfig) -> "Adapted":
        """The trained weights (no step taken yet): the tensors are the model's own, never written."""
        names = target_names(predictor.model, config.validate().target)
        params = {n: predictor.model.get_parameter(n).detach() for n in names}
        return cls(config, params, {n: torch.zeros(ms_shape(config, p)) for n, p in params.items()}, 0)

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for d in (self.params, self.ms) for t in d.values())

    def stepper(self, predictor):
        """The keystroke path's stepper for these weights (the trained one until a step is taken)."""
        return predictor.stepper if self.steps == 0 else predictor.stepper.with_params(self.params)


def ms_shape(config: AdaptConfig, param: torch.Tensor) -> tuple:
    """The mean square's shape: the parameter's (per parameter) or a scalar (per tensor)."""
    return tuple(param.shape) if config.normalise == "param" else ()


_local = threading.local()


def _module(model):
    """This thread's private copy of ``model`` for functional calls: ``functional_call`` swaps a
    module's parameters while it runs, so the shared model (which other threads read) never serves."""
    clones = getattr(_local, "clones", None)
    if clones is None:
        clones = _local.clones = {}
    entry = clones.get(id(model))
    if entry is None or entry[0] is not model:
        entry = clones[id(model)] = (model, copy.deepcopy(model).eval().requires_grad_(False))
    return entry[1]


def _logits(predictor, params: dict, start_row: np.ndarray, ids: list[int]) -> torch.Tensor:
    """(T, V) logits predicting each of ``ids`` from the state ``start_row`` (S,) before them."""
    module = _module(predictor.model)
    state = predictor.unpack(start_row[None])
    top = state_tensors(state)[0][-1]                                                # (1, H)
    first = F.linear(top, params.get("head.weight", module.head.weight), params.get("head.bias", module.head.bias))
    if len(ids) < 2:
        return first
    x = torch.tensor([ids[:-1]])
    out, _ = functional_call(module, params, (x, state))                             # (1, T-1, V)
    return torch.cat([first, out[0]], 0)


@torch.no_grad()
def loss_of(predictor, adapted: "Adapted | None", start_row: np.ndarray, ids: list[int], skip: int = 0) -> float:
    """Total nats of ids[skip:] read from ``start_row`` (the trained weights if ``adapted`` is None)."""
    params = adapted.params if adapted is not None else {}
    logits = _logits(predictor, params, start_row, ids)
    return float(F.cross_entropy(logits[skip:], torch.tensor(ids[skip:]), reduction="sum"))


def learn(predictor, adapted: Adapted, start_row: np.ndarray, ids: list[int], skip: int = 0) -> tuple[Adapted, float]:
    """One dynamic-evaluation step on ids[skip:] (ids[:skip] only carry the state from ``start_row``
    to the segment). Returns the new weights and the segment's loss (nats, summed) before the step."""
    c = adapted.config
    with torch.enable_grad():
        params = {n: p.detach().requires_grad_(True) for n, p in adapted.params.items()}
        logits = _logits(predictor, params, start_row, ids)
        targets = torch.tensor(ids[skip:])
        loss = F.cross_entropy(logits[skip:], targets, reduction="sum")
        grads = torch.autograd.grad(loss / max(len(targets), 1), list(params.values()), allow_unused=True)
    per_token = float(loss.detach()) / max(len(targets), 1)
    val_loss = getattr(predictor, "val_loss", None)
    before = adapted.loss if adapted.steps else (val_loss or per_token)   # the average starts at the model's own
    running = LOSS_EMA * before + (1 - LOSS_EMA) * per_token
    lr = step_size(predictor.model, c) * surprise_gate(running, val_loss)
    steps = adapted.steps + 1
    correction = 1 - MS_DECAY ** steps
    new_params, new_ms = {}, {}
    with torch.no_grad():
        for (name, p), g in zip(adapted.params.items(), grads):
            g = torch.zeros_like(p) if g is None else g
            g2 = g * g if c.normalise == "param" else (g * g).mean()
            ms = MS_DECAY * adapted.ms[name] + (1 - MS_DECAY) * g2
            theta0 = predictor.model.get_parameter(name).detach()
            new_params[name] = p - lr * g / ((ms / correction).sqrt() + EPS) + c.decay * (theta0 - p)
            new_ms[name] = ms
    return Adapted(c, new_params, new_ms, steps, running), float(loss.detach())


def surprise_gate(loss: float, val_loss: float | None) -> float:
    """How much of the step to take: nothing while the text costs the model at most 15% more than its
    validation text, all of it from 45% more (SURPRISE); all of it when the validation loss is unknown.
    In-domain text gains little from a step and loses from a large one (README, bench/adapt_sweep.py)."""
    if not val_loss:
        return 1.0
    margin, width = SURPRISE
    return min(1.0, max(0.0, (loss / val_loss - 1 - margin) / width))


@torch.no_grad()
def forward(predictor, adapted: "Adapted | None", ids, state):
    """The module's forward pass with the adapted weights (a long paste runs through it)."""
    if adapted is None or adapted.steps == 0:
        return predictor.model(ids, state)
    return functional_call(_module(predictor.model), adapted.params, (ids, state))
