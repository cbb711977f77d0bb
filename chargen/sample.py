"""Generation: temperature, top-k, top-p (nucleus), greedy; seeded; streamed as it is produced.
``SampleConfig`` holds the user-facing defaults (the CLI's ``sample`` flags, the app's Generate tab,
the samples shown while training). Usage:

    for piece in generate(model, tokenizer, "ROMEO:", length=200, temperature=0.8, seed=1):
        print(piece, end="", flush=True)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch

from .faststep import FastStepper, pack_state
from .hangul import is_jamo, is_syllable, syllable_jamo
from .tokenizer import CHAR, Tokenizer


def start_ids(tokenizer: Tokenizer) -> list[int]:
    """The ids a text with nothing typed yet starts after: a line break (how documents continue);
    id 1 if the vocabulary has no line break."""
    return [i for i in tokenizer.encode("\n") if i != tokenizer.unk_id] or [1]


@dataclass
class SampleConfig:
    """How to sample, as a user asks for it: every interface starts from these defaults."""
    temperature: float = field(default=0.8, metadata={"help": "softmax temperature (> 0)"})
    top_k: int = field(default=0, metadata={"help": "sample among the k most probable (0: all)"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling mass (1: off)"})
    length: int = field(default=500, metadata={"help": "tokens to generate"})
    greedy: bool = field(default=False, metadata={"help": "always take the most probable token"})
    seed: int | None = field(default=None, metadata={"help": "random seed for reproducible output (default: random)"})


def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """(..., V) logits -> probabilities after temperature, top-k and top-p truncation."""
    if temperature <= 0:
        raise ValueError("temperature must be > 0 (use greedy=True for argmax decoding)")
    logits = logits.float() / temperature
    if top_k and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if top_p < 1.0:
        sorted_p, order = torch.sort(probs, dim=-1, descending=True)
        # keep the smallest prefix whose mass reaches top_p (always at least the top token)
        drop = sorted_p.cumsum(-1) - sorted_p >= top_p
        sorted_p = sorted_p.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
        probs = probs / probs.sum(-1, keepdim=True)
    return probs


def sample_next(logits: torch.Tensor, temperature=1.0, top_k=0, top_p=1.0, greedy=False,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, V) logits -> (B,) next ids."""
    if greedy:
        return logits.argmax(-1)
    probs = filter_logits(logits, temperature, top_k, top_p)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def _unsettled_tail(text: str) -> int:
    """How many trailing characters may still change as more ids arrive (held back from output).

    A Hangul syllable without a final consonant may still take one (jamo models), a lone conjoining
    jamo may still compose, and U+FFFD may be the first bytes of a character still being spelled out
    by byte-fallback pieces.
    """
    if not text:
        return 0
    c = text[-1]
    if is_jamo(c) or c == "\ufffd" or (is_syllable(c) and syllable_jamo(c) == 2):
        return 1
    return 0


class _Draw:
    """Draws next ids from (V,) numpy logits at one or two ops per token.

    Sampling uses the Gumbel-max trick: argmax(logits / T + G) with G standard Gumbel noise is a
    draw from softmax(logits / T). The noise comes from the seeded generator in blocks, so a seed
    gives the same text every time. top-k / top-p mask the logits first (see filter_logits).
    """

    BLOCK = 256

    def __init__(self, vocab: int, temperature=1.0, top_k=0, top_p=1.0, greedy=False, generator=None):
        self.vocab, self.greedy, self.generator = vocab, greedy, generator
        self.inv_t, self.top_k, self.top_p = 1.0 / temperature if not greedy else 1.0, top_k, top_p
        self.noise, self.used = None, self.BLOCK

    def __call__(self, logits: np.ndarray) -> int:
        if self.greedy:
            return int(logits.argmax())
        if self.top_k or self.top_p < 1.0:
            probs = filter_logits(torch.from_numpy(logits)[None], 1.0 / self.inv_t, self.top_k, self.top_p)[0]
            with np.errstate(divide="ignore"):
                logits = np.log(probs.numpy())                          # -inf where filtered out
        else:
            logits = logits * self.inv_t
        if self.used == self.BLOCK:
            u = torch.rand(self.BLOCK, self.vocab, generator=self.generator).clamp_(1e-20, 1.0)
            self.noise, self.used = (-torch.log(-torch.log(u))).numpy(), 0
        self.used += 1
        logits += self.noise[self.used - 1]
        return int(logits.argmax())


@torch.no_grad()
def generate(model, tokenizer, prompt: str = "", length: int = 500, temperature: float = 1.0,
             top_k: int = 0, top_p: float = 1.0, greedy: bool = False, seed: int | None = None,
             stop: list[str] | tuple[str, ...] = (), stepper: FastStepper | None = None) -> Iterator[str]:
    """Yield the continuation of ``prompt`` piece by piece, ``length`` tokens at most.

    Stops early at the first of ``stop`` (the stop string itself is not yielded). Output is
    reproducible for a given seed. ``stepper``: the model's FastStepper, if one is at hand.
    """
    if length < 0 or top_k < 0 or not 0 < top_p <= 1 or (not greedy and temperature <= 0):
        raise ValueError(f"invalid sampling settings: length {length} (>= 0), top_k {top_k} (>= 0), "
                         f"top_p {top_p} (0 < p <= 1), temperature {temperature} (> 0)")
    model.eval()
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    ids = (tokenizer.encode(prompt) if prompt else []) or start_ids(tokenizer)   # nothing typed: after a line break
    logits, state = model(torch.tensor([ids]), None)
    logits = logits[0, -1].float().numpy()                  # (V,)
    stepper = stepper or FastStepper(model)                 # the one-token step without nn.LSTM overhead
    row = pack_state(state, stepper.cell)                   # (1, S): numpy throughout, no tensor per token
    draw = _Draw(logits.size, temperature, top_k, top_p, greedy, generator)
    # a char model's ids are whole characters: no composition, no byte pieces, no decode call
    texts = [tokenizer.token_text(i) for i in range(logits.size)] if tokenizer.kind == CHAR else None
    stop = [s for s in stop if s]
    hold = max((len(s) for s in stop), default=1) - 1       # a stop string may be half-written
    buf = ""                     # settled text not yielded yet (the last `hold` chars are held back)
    pending: list[int] = []      # ids whose text may still change (an open syllable, partial bytes)
    for _ in range(length):
        next_id = draw(logits)
        if texts is not None:
            buf, tail = buf + texts[next_id], ""
        else:
            pending.append(next_id)
            tail = tokenizer.decode(pending)
            if not _unsettled_tail(tail):
                buf, pending, tail = buf + tail, [], ""
        if stop:
            full = buf + tail
            for s in stop:
                at = full.find(s)
                if at >= 0:
                    if at > 0:
                        yield full[:at]
                    return
        if len(buf) > hold:
            yield buf[:len(buf) - hold]
            buf = buf[len(buf) - hold:]
        out, row = stepper.step_rows([next_id], row)
        logits = out[0]
    rest = buf + (tokenizer.decode(pending) if pending else "")
    if rest:
        yield rest
