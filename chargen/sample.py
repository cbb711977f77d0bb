"""Generation: temperature, top-k, top-p (nucleus), greedy; seeded; streamed as it is produced.

Usage:

    for piece in generate(model, tokenizer, "ROMEO:", length=200, temperature=0.8, seed=1):
        print(piece, end="", flush=True)
"""
from __future__ import annotations

from typing import Iterator

import torch

from .faststep import FastStepper


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
    c = ord(text[-1])
    if 0x1100 <= c <= 0x11FF or c == 0xFFFD or (0xAC00 <= c <= 0xD7A3 and (c - 0xAC00) % 28 == 0):
        return 1
    return 0


@torch.no_grad()
def generate(model, tokenizer, prompt: str = "", length: int = 500, temperature: float = 1.0,
             top_k: int = 0, top_p: float = 1.0, greedy: bool = False, seed: int | None = None,
             stop: list[str] | tuple[str, ...] = ()) -> Iterator[str]:
    """Yield the continuation of ``prompt`` piece by piece, ``length`` tokens at most.

    Stops early at the first of ``stop`` (the stop string itself is not yielded). Output is
    reproducible for a given seed.
    """
    if length < 0 or top_k < 0 or not 0 < top_p <= 1 or (not greedy and temperature <= 0):
        raise ValueError(f"invalid sampling settings: length {length} (>= 0), top_k {top_k} (>= 0), "
                         f"top_p {top_p} (0 < p <= 1), temperature {temperature} (> 0)")
    model.eval()
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    ids = tokenizer.encode(prompt) if prompt else []
    if not ids:   # nothing to condition on: start as if after a line break
        ids = tokenizer.encode("\n") or [1]
        ids = [i for i in ids if i != tokenizer.unk_id] or [1]
    logits, state = model(torch.tensor([ids]), None)
    logits = logits[:, -1]                                  # (1, V)
    stepper = FastStepper(model)                            # the one-token step without nn.LSTM overhead
    hold = max((len(s) for s in stop), default=1) - 1       # a stop string may be half-written
    text, yielded = "", 0        # text whose ids are all decoded for good; how much of it was yielded
    pending: list[int] = []      # ids whose text may still change (an open syllable, partial bytes)
    for _ in range(length):
        next_id = sample_next(logits, temperature, top_k, top_p, greedy, generator)   # (1,)
        pending.append(int(next_id))
        tail = tokenizer.decode(pending)
        if not _unsettled_tail(tail):
            text, pending, tail = text + tail, [], ""
        full = text + tail
        for s in stop:
            at = full.find(s, yielded) if s else -1
            if at >= 0:
                if at > yielded:
                    yield full[yielded:at]
                return
        if len(text) - hold > yielded:
            yield text[yielded:len(text) - hold]
            yielded = len(text) - hold
        logits, state = stepper.step(next_id.view(1), state)
    rest = (text + tokenizer.decode(pending))[yielded:]
    if rest:
        yield rest
