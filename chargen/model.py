"""The language model: embedding -> stacked LSTM / GRU / tanh RNN -> dropout -> linear head.

A pure ``nn.Module`` (no I/O, no printing). Usage:

    model = CharLM(ModelConfig(vocab_size=66, hidden_size=256))
    logits, state = model(ids)            # ids (B, T) -> logits (B, T, V)
    logits, state = model(next_ids, state)  # carry the state: continue the same text
"""
from __future__ import annotations

from dataclasses import dataclass, field, asdict

import torch
import torch.nn as nn

CELLS = ("lstm", "gru", "rnn")
STATE_TENSORS = {"lstm": 2, "gru": 1, "rnn": 1}     # an LSTM carries (h, c), the others h


# How a recurrent state is packed, written once: an LSTM's is the tuple (h, c), the others' the
# tensor h, each (num_layers, batch, hidden). Everything that handles states goes through these.
def state_tensors(state) -> tuple:
    """A state's tensors, as a tuple ((h, c) or (h,))."""
    return state if isinstance(state, tuple) else (state,)


def state_from(tensors):
    """Inverse of state_tensors: (h, c) stays a tuple, (h,) becomes h."""
    tensors = tuple(tensors)
    return tensors if len(tensors) == 2 else tensors[0]


def map_state(fn, state):
    """``fn`` applied to each tensor of a state (None stays None)."""
    return None if state is None else state_from(fn(t) for t in state_tensors(state))


def join_states(states: list, dim: int = 1):
    """States of separate batches side by side along ``dim`` (the batch axis)."""
    return state_from(torch.cat(parts, dim=dim) for parts in zip(*map(state_tensors, states)))


@dataclass
class ModelConfig:
    """Architecture. ``None`` means "choose for me" (see ``train.auto_size``)."""
    vocab_size: int = field(default=0, metadata={"help": "set from the tokenizer", "cli": False})
    cell: str = field(default="lstm", metadata={"help": "recurrent cell", "choices": CELLS})
    num_layers: int | None = field(default=None, metadata={"help": "stacked recurrent layers (default: sized from the time budget)"})
    hidden_size: int | None = field(default=None, metadata={"help": "units per recurrent layer (default: sized from the time budget)"})
    embed_size: int | None = field(default=None, metadata={"help": "embedding width (default: hidden size)"})
    dropout: float | None = field(default=None, metadata={"help": "dropout between layers and before the head (default: sized from the budget)"})
    tie_weights: bool = field(default=False, metadata={"help": "share the embedding and output matrices (needs embed size == hidden size)"})

    def resolved(self) -> "ModelConfig":
        """A copy with every ``None`` filled by a plain default (for code paths that skip auto-sizing)."""
        c = ModelConfig(**asdict(self))
        c.num_layers = 2 if c.num_layers is None else c.num_layers
        c.hidden_size = 256 if c.hidden_size is None else c.hidden_size
        c.embed_size = c.hidden_size if c.embed_size is None else c.embed_size
        c.dropout = 0.0 if c.dropout is None else c.dropout
        return c

    def validate(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"unknown cell {self.cell!r}: choose one of {', '.join(CELLS)}")
        if self.vocab_size < 2:
            raise ValueError(f"vocab_size must be at least 2, got {self.vocab_size}")
        for name in ("num_layers", "hidden_size", "embed_size"):
            if getattr(self, name) is None or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.tie_weights and self.embed_size != self.hidden_size:
            raise ValueError(f"--tie-weights needs embed_size == hidden_size "
                             f"(got {self.embed_size} and {self.hidden_size})")


class CharLM(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        config = config.resolved()
        config.validate()
        self.config = config
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embed_size)
        rnn_cls = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[c.cell]
        # nn.RNN's default nonlinearity is tanh: the classic Elman cell.
        self.rnn = rnn_cls(c.embed_size, c.hidden_size, c.num_layers, batch_first=True,
                           dropout=c.dropout if c.num_layers > 1 else 0.0)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden_size, c.vocab_size)
        if c.tie_weights:
            self.head.weight = self.embedding.weight

    def forward(self, ids: torch.Tensor, state=None):
        """ids (B, T) int64 -> logits (B, T, V), new state (same structure as ``init_state``)."""
        x = self.embedding(ids)                 # (B, T, E)
        out, state = self.rnn(x, state)         # (B, T, H)
        return self.head(self.drop(out)), state  # (B, T, V)

    def init_state(self, batch: int, device=None):
        c = self.config
        return state_from(torch.zeros(c.num_layers, batch, c.hidden_size, device=device)
                          for _ in range(STATE_TENSORS[c.cell]))

    @staticmethod
    def detach(state):
        """Cut the backward graph but keep the values: the heart of truncated BPTT."""
        return map_state(torch.Tensor.detach, state)

    def num_params(self, non_embedding: bool = True) -> int:
        n = sum(p.numel() for p in self.parameters())
        if non_embedding and not self.config.tie_weights:
            n -= self.embedding.weight.numel()
        return n

    def flops_per_token(self) -> int:
        """Training FLOPs per token: 2 per weight use in the forward pass, 4 in the backward."""
        return 6 * self.num_params(non_embedding=True)
