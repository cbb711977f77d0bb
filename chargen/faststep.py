"""One recurrent step for a few rows, written with the layers' own weights: the keystroke path.

``nn.LSTM`` spends most of a batch-1, one-token call on per-call overhead (about 0.3 ms for a
2 x 192 model here); the same arithmetic as a few ``addmm`` calls costs about a third of that.
For a few rows numpy does better still: its BLAS matrix-vector product and its per-call cost are
both lower than torch's at this size (2 x 256, one row, one thread: 67 us a step against 122 us for
``addmm``), so up to NUMPY_MAX_ROWS rows run in numpy float32. Wide batched search steps run in
torch, in bfloat16 (``bf16=True``). The first layer's input projection is folded into a table, one
row per token. Matches the module to float tolerance (tested). Usage:

    stepper = FastStepper(model)           # an LSTM CharLM; other cells fall back to the module
    logits, state = stepper.step(ids, state)   # ids (K,) -> logits (K, V); state as model.init_state(K)
    logits, hs, cs = stepper.step_np(ids, hs, cs)   # numpy arrays throughout: the sampling loop
"""
from __future__ import annotations

import numpy as np
import torch

NUMPY_MAX_ROWS = 4      # measured: numpy fp32 beats torch up to here; torch bf16 wins from 8 rows


class FastStepper:
    def __init__(self, model):
        self.model = model
        c = model.config
        self.fast = c.cell == "lstm"
        if not self.fast:
            return
        rnn = model.rnn
        with torch.no_grad():
            emb = model.embedding.weight.float()                                       # (V, E)
            # (V, 4H): embedding row -> layer-0 input gates, both biases folded in
            self.table0 = emb @ rnn.weight_ih_l0.float().T + rnn.bias_ih_l0.float() + rnn.bias_hh_l0.float()
            self.w_hh0 = rnn.weight_hh_l0.float().T.contiguous()                       # (H, 4H)
            self.upper = []                                                            # layers >= 1
            for layer in range(1, c.num_layers):
                w = torch.cat([getattr(rnn, f"weight_ih_l{layer}"), getattr(rnn, f"weight_hh_l{layer}")], 1)
                b = getattr(rnn, f"bias_ih_l{layer}") + getattr(rnn, f"bias_hh_l{layer}")
                self.upper.append((w.float().T.contiguous(), b.float()))               # (2H, 4H), (4H,)
            self.w_head = model.head.weight.float().T.contiguous()                     # (H, V)
            self.b_head = model.head.bias.float()
            # bf16 copies for batched search steps: about twice the matmul speed for 4+ rows on a
            # CPU with bf16 instructions, and the same matmul precision the model was trained in
            bf = torch.bfloat16
            self.low = (self.table0, self.w_hh0.to(bf), [(w.to(bf), b) for w, b in self.upper],
                        self.w_head.to(bf), self.b_head)
            arr = lambda t: t.detach().contiguous().numpy()                                # noqa: E731
            self.np32 = (arr(self.table0), arr(self.w_hh0), [(arr(w), arr(b)) for w, b in self.upper],
                         arr(self.w_head), arr(self.b_head))

    @staticmethod
    def _cell(gates, c):
        hidden = c.size(-1)
        act = torch.sigmoid(gates)                                   # i, f, (unused), o
        g = torch.tanh(gates[:, 2 * hidden:3 * hidden])
        c = torch.addcmul(act[:, hidden:2 * hidden] * c, act[:, :hidden], g)
        return act[:, 3 * hidden:] * torch.tanh(c), c

    @staticmethod
    def _cell_np(gates, c):
        hidden = c.shape[-1]
        act = np.tanh(gates * 0.5)                 # sigmoid(x) = (1 + tanh(x / 2)) / 2: one ufunc
        act *= 0.5
        act += 0.5
        g = np.tanh(gates[:, 2 * hidden:3 * hidden])
        c = act[:, hidden:2 * hidden] * c + act[:, :hidden] * g
        return act[:, 3 * hidden:] * np.tanh(c), c

    def step_np(self, ids, hs: list, cs: list):
        """The step in numpy float32: ids (K,) ints, per-layer states as lists of (K, H) float32
        arrays -> logits (K, V), new hs, new cs. For a few rows (NUMPY_MAX_ROWS); LSTM only."""
        table0, w_hh0, upper, w_head, b_head = self.np32
        gates = hs[0] @ w_hh0                                                          # (K, 4H)
        gates += table0[ids]
        h, c = self._cell_np(gates, cs[0])
        new_h, new_c = [h], [c]
        for layer, (w, b) in enumerate(upper, start=1):
            gates = np.concatenate([h, hs[layer]], 1) @ w
            gates += b
            h, c = self._cell_np(gates, cs[layer])
            new_h.append(h), new_c.append(c)
        logits = h @ w_head                                                            # (K, V)
        logits += b_head
        return logits, new_h, new_c

    @torch.no_grad()
    def step(self, ids: torch.Tensor, state, bf16: bool = False):
        """ids (K,) int64, state ((L, K, H), (L, K, H)) or None -> logits (K, V), new state.
        ``bf16``: bfloat16 matmuls allowed (search steps); they are used for more than
        NUMPY_MAX_ROWS rows, while up to that many rows run in numpy float32 (faster, and exact).
        States and logits stay float32."""
        if not self.fast:
            logits, state = self.model(ids.view(-1, 1), state)
            return logits[:, -1], state
        if state is None:
            state = self.model.init_state(ids.numel())
        if ids.numel() <= NUMPY_MAX_ROWS:
            h0, c0 = state[0].numpy(), state[1].numpy()                              # (L, K, H) views
            logits, hs, cs = self.step_np(ids.numpy(), list(h0), list(c0))
            return torch.from_numpy(logits), (torch.from_numpy(np.stack(hs)), torch.from_numpy(np.stack(cs)))
        logits, hs, cs = self.step_layers(ids, list(state[0]), list(state[1]), bf16)
        return logits, (torch.stack(hs), torch.stack(cs))

    def step_layers(self, ids, hs: list, cs: list, bf16: bool = False):
        """The step in torch on per-layer states (lists of (K, H) tensors): the path for more rows
        than NUMPY_MAX_ROWS (call it under no_grad)."""
        if bf16 and torch.backends.mkldnn.is_available():
            table0, w_hh0, upper, w_head, b_head = self.low
            dt = torch.bfloat16
        else:
            table0, w_hh0, upper, w_head, b_head = self.table0, self.w_hh0, self.upper, self.w_head, self.b_head
            dt = torch.float32

        def affine(bias, x, w):     # bias + x @ w, the product in the weights' precision
            return torch.addmm(bias, x, w) if dt is torch.float32 else bias + torch.mm(x.to(dt), w)
        h, c = self._cell(affine(table0[ids], hs[0], w_hh0), cs[0])               # (K, 4H) gates
        new_h, new_c = [h], [c]
        for layer, (w, b) in enumerate(upper, start=1):
            h, c = self._cell(affine(b, torch.cat([h, hs[layer]], 1), w), cs[layer])
            new_h.append(h), new_c.append(c)
        logits = affine(b_head, h, w_head)                                             # (K, V)
        return logits.float(), new_h, new_c
