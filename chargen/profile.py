"""A user's profile: what a keyboard learned from its user (the adapted parameters, their mean
squared gradients and the user's lexicon), saved only when the user asks, in one small safetensors
file (no pickle: loading never runs code). It belongs to one model: the file records the model's
fingerprint (a sha256 of its weights), and loading it for another model is refused with one clear
message. Usage:

    save_profile("me.profile", predictor, session.learner)
    base, lexicon = load_profile("me.profile", predictor)       # ProfileError if it does not fit
    session = predictor.session(learn=AdaptConfig(), profile="me.profile")
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .adapt import AdaptConfig, Adapted, ms_shape, target_names
from .lexicon import Lexicon

FORMAT, VERSION = "chargen-profile", 1


class ProfileError(ValueError):
    """A profile that cannot be used: the message says why."""


def fingerprint(model) -> str:
    """sha256 of the model's weights (float32, in parameter order): which model a profile is for."""
    cached = getattr(model, "_chargen_fingerprint", None)
    if cached is None:
        h = hashlib.sha256()
        for name, p in model.named_parameters():
            h.update(name.encode())
            h.update(p.detach().float().contiguous().numpy().tobytes())
        cached = h.hexdigest()
        model._chargen_fingerprint = cached        # weights never change once a predictor serves them
    return cached


def save_profile(path, predictor, learner) -> Path:
    """Write the learner's adapted weights and lexicon to ``path`` (atomically: a temporary file, then
    a rename). Returns the path."""
    path = Path(path)
    a = learner.current
    tensors = {f"param.{n}": t.detach().float().contiguous() for n, t in a.params.items()}
    tensors.update({f"ms.{n}": t.detach().float().contiguous() for n, t in a.ms.items()})
    meta = {"format": FORMAT, "version": str(VERSION), "model": fingerprint(predictor.model),
            "config": json.dumps(asdict(a.config)), "steps": str(a.steps), "loss": repr(a.loss),
            "lexicon": json.dumps(learner.lexicon.to_json(), ensure_ascii=False)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, path)
    return path


def load_profile(path, predictor) -> tuple[Adapted, Lexicon]:
    """(adapted weights, lexicon) from a profile, checked against ``predictor``'s model."""
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"profile {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise ProfileError(f"{path} is not a chargen profile (or it is damaged): {e}") from None
    if meta.get("format") != FORMAT or meta.get("version") != str(VERSION):
        raise ProfileError(f"{path} is not a chargen profile (version {VERSION})")
    if meta.get("model") != fingerprint(predictor.model):
        raise ProfileError(f"{path} was learned by another model: a profile works only with the model it was "
                           f"made for (pick that model, or start a new profile)")
    try:
        config = AdaptConfig(**json.loads(meta["config"])).validate()
        names = target_names(predictor.model, config.target)
        params = {n: tensors[f"param.{n}"] for n in names}
        ms = {n: tensors[f"ms.{n}"] for n in names}
        lexicon = Lexicon.from_json(json.loads(meta.get("lexicon", "{}")))
        steps, loss = int(meta["steps"]), float(meta.get("loss", 0.0))
    except (KeyError, TypeError, ValueError) as e:
        raise ProfileError(f"{path} is damaged: {e}") from None
    for n in names:
        if params[n].shape != predictor.model.get_parameter(n).shape or tuple(ms[n].shape) != ms_shape(config, params[n]):
            raise ProfileError(f"{path} is damaged: {n} has the wrong shape")
    return Adapted(config, params, ms, steps, loss), lexicon


def wipe(path) -> bool:
    """Delete a profile (Forget). True if there was one."""
    try:
        Path(path).unlink()
        return True
    except FileNotFoundError:
        return False
    except OSError as e:
        raise ProfileError(f"cannot delete {path}: {e.strerror or e}") from None

