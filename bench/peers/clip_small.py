"""The same training step as `npm run bench -- clip`, in PyTorch, for comparison.

genloom's default ("small") clip model. Image encoder on 32x32 RGB in [-1, 1]: per level a 3x3 conv
(padding 1) then a 4x4 stride-2 conv (padding 1), each with ReLU, for 32, 64, 128 channels
(32->16->8->4); dense 2048->256 with ReLU, dense 256->128; L2-normalised. Text encoder: GPT-2 blocks
(2 layers, width 128, 4 heads, GELU MLP of width 512, pre-LayerNorm, learned positions over a
context of 32, tied embedding of 1025 tokens), the final LayerNorm's output at each caption's end
token, dense 128->128, L2-normalised. Logits: cosine x exp(min(t, log 100)); symmetric
cross-entropy; AdamW. Batch 128 of random images and random 16-token captions.
Prints one JSON line: {"ms_per_step": median, "pairs_per_s": n, "threads": n, "torch": version, "blas": name}.
Usage: python3 bench/peers/clip_small.py [threads] [repeats] [batch]
"""
import json
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from timing import median_ms, report

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 10
batch = int(sys.argv[3]) if len(sys.argv) > 3 else 128
torch.set_num_threads(threads)
torch.manual_seed(1)
VOCAB, CONTEXT, TOKENS, DIM, HEADS, LAYERS, EMBED = 1025, 32, 16, 128, 4, 2, 128


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(DIM), nn.LayerNorm(DIM)
        self.qkv, self.out = nn.Linear(DIM, 3 * DIM), nn.Linear(DIM, DIM)
        self.mlp = nn.Sequential(nn.Linear(DIM, 4 * DIM), nn.GELU(approximate="tanh"), nn.Linear(4 * DIM, DIM))

    def forward(self, x):
        b, t, _ = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, HEADS, DIM // HEADS).permute(2, 0, 3, 1, 4)
        # Written out: Debian's torch 1.13 has no scaled_dot_product_attention.
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(DIM // HEADS)
        scores = scores.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
        attended = scores.softmax(-1) @ v
        x = x + self.out(attended.transpose(1, 2).reshape(b, t, DIM))
        return x + self.mlp(self.norm2(x))


class Clip(nn.Module):
    def __init__(self):
        super().__init__()
        layers, inputs = [], 3
        for channels in (32, 64, 128):
            layers += [nn.Conv2d(inputs, channels, 3, 1, 1), nn.ReLU(), nn.Conv2d(channels, channels, 4, 2, 1), nn.ReLU()]
            inputs = channels
        self.image = nn.Sequential(*layers, nn.Flatten(), nn.Linear(128 * 4 * 4, 256), nn.ReLU(), nn.Linear(256, EMBED))
        self.tokens, self.positions = nn.Embedding(VOCAB, DIM), nn.Parameter(torch.zeros(CONTEXT, DIM))
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.final, self.text_project = nn.LayerNorm(DIM), nn.Linear(DIM, EMBED)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, images, tokens, ends):
        image = F.normalize(self.image(images * 2 - 1), dim=1)
        x = self.tokens(tokens) + self.positions[: tokens.shape[1]]
        for block in self.blocks:
            x = block(x)
        text = F.normalize(self.text_project(self.final(x)[torch.arange(tokens.shape[0]), ends]), dim=1)
        logits = image @ text.t() * self.logit_scale.clamp(max=math.log(100)).exp()
        labels = torch.arange(logits.shape[0])
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


model = Clip()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
images = torch.rand(batch, 3, 32, 32)
tokens = torch.randint(0, VOCAB - 1, (batch, TOKENS))
ends = torch.full((batch,), TOKENS - 1)


def step():
    loss = model(images, tokens, ends)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


ms = median_ms(step, repeats, 2)
print(json.dumps(report(threads, ms_per_step=ms, pairs_per_s=batch * 1000 / ms)))
