"""The loss of a text as a keyboard session reads it: once, in order, one token at a time, each token
scored before it is learned. Without learning this is the model's exact loss of the text (read after
a line break, as a session starts); with it (``learn``), the loss of dynamic evaluation as the
keyboard does it: a segment is learned once the text is a word past it (see chargen.learner).
``chargen eval --adapt`` and bench/adapt.py report it. Usage:

    report = typed_loss(predictor, text, learn=AdaptConfig())   # val_nats, val_bpc, ... (loss_report)
"""
from __future__ import annotations

from tqdm import tqdm

from .adapt import AdaptConfig
from .evaluate import loss_report


def typed_loss(predictor, text: str, learn: AdaptConfig | None = None, profile=None, progress: bool = False,
               prefix: str = "val") -> dict:
    """Total loss of ``text`` read through a session (learning in order if ``learn``): the
    ``loss_report`` figures, plus the adaptation's steps and words when it learns."""
    if not text:
        raise ValueError("the text is empty: nothing to score")
    s = predictor.session(learn=learn, profile=profile, background=False)
    nats, bar = 0.0, tqdm(total=len(text), unit="char", disable=not progress, desc="adapting" if learn else "scoring")
    for c in text:                       # as typed: a finished segment is learned before the next key
        n0 = len(s.ids)
        s.type(c)
        for j in range(n0, len(s.ids)):      # a jamo model's syllable is 2-3 tokens
            nats -= float(s._token_logp(j)[s.ids[j]])
        bar.update(1)
    bar.close()
    report = loss_report(nats, len(s.ids), len(text), prefix)
    if s.learner is not None:
        st = s.learner.status()
        report.update(adapt_steps=st["steps"], adapt_words=st["words_learned"], adapt_new_words=st["new_words"])
    return report
