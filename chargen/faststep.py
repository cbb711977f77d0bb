"""One recurrent step for a few rows, written with the layers' own weights: the keystroke path.

``nn.LSTM`` spends most of a batch-1, one-token call on per-call overhead (about 0.3 ms for a
2 x 192 model here); the same arithmetic as a few ``addmm`` calls costs about a third of that.
The first layer's input projection is folded into a table, one row per token. Matches the module
to float tolerance (tested). Usage:

    stepper = FastStepper(model)           # an LSTM CharLM; other cells fall back to the module
    logits, state = stepper.step(ids, state)   # ids (K,) -> logits (K, V); state as model.init_state(K)
"""
from __future__ import annotations

import torch


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

    @staticmethod
    def _cell(gates, c):
        i, f, g, o = gates.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    @torch.no_grad()
    def step(self, ids: torch.Tensor, state):
        """ids (K,) int64, state ((L, K, H), (L, K, H)) or None -> logits (K, V), new state."""
        if not self.fast:
            logits, state = self.model(ids.view(-1, 1), state)
            return logits[:, -1], state
        k = ids.numel()
        if state is None:
            state = self.model.init_state(k)
        h_all, c_all = state
        hs, cs = [], []
        gates = torch.addmm(self.table0[ids], h_all[0], self.w_hh0)                   # (K, 4H)
        h, c = self._cell(gates, c_all[0])
        hs.append(h), cs.append(c)
        for layer, (w, b) in enumerate(self.upper, start=1):
            gates = torch.addmm(b, torch.cat([h, h_all[layer]], 1), w)
            h, c = self._cell(gates, c_all[layer])
            hs.append(h), cs.append(c)
        logits = torch.addmm(self.b_head, h, self.w_head)                              # (K, V)
        return logits, (torch.stack(hs), torch.stack(cs))
