"""The same training step as `npm run bench -- music`, in PyTorch, for comparison.

genloom's default ("small") music model (src/models/music/rnn.ts) with the bench's event encoding
(4 steps per quarter, shifts up to 32, no velocities: 290 events): event embedding 290->64 plus a
style embedding (1 style) plus the sounding notes' embedding (a 128-wide multi-hot, about four notes
on, times a 128x64 matrix), 2 recurrent layers of 256 units (LSTM with one bias, or GRU with input and
recurrent biases, the same equations as torch's nn.LSTM and nn.GRU), inverted dropout 0.3 on the
embeddings, between the layers and before the output, dense 256->290, and the mean cross-entropy
over the unmasked positions (a mask of ones). 32 windows of 256 random events, time-major inside as
in genloom; Adam (learning rate 1e-3).
What differs, by design: torch runs its own fused LSTM/GRU layers (aten::lstm, aten::gru) where
genloom has hand-written backpropagation through time (src/layers/recurrent.ts); gate order
within the weights differs, which changes nothing computed.
Prints one JSON line: {"ms_per_step": median, "events_per_s": n, "threads": n, "torch": version, "blas": name}.
Usage: python3 bench/peers/music_rnn.py [threads] [repeats] [lstm|gru]
"""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from timing import median_ms, report

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
cell = sys.argv[3] if len(sys.argv) > 3 else "lstm"
torch.set_num_threads(threads)
torch.manual_seed(1)
VOCABULARY, EMBEDDING, HIDDEN, LAYERS, DROPOUT, WINDOWS, LENGTH = 256 + 32 + 0 + 2, 64, 256, 2, 0.3, 32, 256


class MusicRnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(VOCABULARY, EMBEDDING)
        self.style = nn.Embedding(1, EMBEDDING)
        self.sounding = nn.Linear(128, EMBEDDING, bias=False)
        # torch's dropout argument applies between the layers; the other two are explicit below.
        self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(EMBEDDING, HIDDEN, LAYERS, dropout=DROPOUT, bias=True)
        if cell == "lstm":
            # genloom's LSTM has one bias per layer; torch's two are summed, so train one of them only.
            for layer in range(LAYERS):
                getattr(self.rnn, f"bias_hh_l{layer}").requires_grad_(False).zero_()
        self.out = nn.Linear(HIDDEN, VOCABULARY)

    def forward(self, inputs, styles, sounding, targets, mask):
        x = (self.embedding(inputs) + self.style(styles)[:, None] + self.sounding(sounding)).transpose(0, 1)  # [T, B, E]
        h, _ = self.rnn(F.dropout(x, DROPOUT, self.training))
        logits = self.out(F.dropout(h, DROPOUT, self.training))  # [T, B, V]
        nll = F.cross_entropy(logits.reshape(-1, VOCABULARY), targets.t().reshape(-1), reduction="none")
        return (nll * mask.t().reshape(-1)).sum() / mask.sum()


model = MusicRnn()
optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
inputs = torch.randint(0, VOCABULARY, (WINDOWS, LENGTH))
targets = torch.randint(0, VOCABULARY, (WINDOWS, LENGTH))
mask = torch.ones(WINDOWS, LENGTH)
styles = torch.zeros(WINDOWS, dtype=torch.long)
sounding = (torch.rand(WINDOWS, LENGTH, 128) < 4 / 128).float()


def step():
    loss = model(inputs, styles, sounding, targets, mask)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


ms = median_ms(step, repeats, 1)
print(json.dumps(report(threads, ms_per_step=ms, events_per_s=WINDOWS * LENGTH * 1000 / ms, cell=cell)))
