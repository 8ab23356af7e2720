"""The same training step as `npm run bench -- diffusion`, in PyTorch, for comparison.

genloom's default ("small") conditional 28x28 diffusion U-Net (src/models/diffusion/unet.ts), batch
64, 10 labels plus the "no label" one: 2x2 patches folded into channels (28x28x1 -> 14x14x4), conv
3x3 4->32; levels of 32, 64, 64 channels (14x14, 7x7, 4x4), one residual block each (group norm 8,
SiLU, conv 3x3, plus a dense projection of the SiLU'd embedding, group norm, SiLU, conv 3x3, and a
1x1 skip where the width changes), a 3x3 stride-2 conv between levels; middle: residual block,
single-head self-attention over the 16 pixels (group norm, dense qkv, softmax(q k^T / sqrt(64)) v,
dense out, residual), residual block; up: per level a residual block on [h, skip], nearest-neighbour
resize to the skip's size and a 3x3 conv between levels; group norm, SiLU, conv 3x3 32->4, patches
unfolded. Embedding: sinusoidal of the step (32) -> dense 128 -> SiLU -> dense 128, plus a label
embedding (label dropout 0.1). Loss: mean squared error of the predicted noise at uniformly drawn
steps of the cosine schedule (T = 1000). Adam (learning rate 1e-3); then the weight average
(decay min(0.999, (1+t)/(10+t))).
What differs, by design: NCHW instead of NHWC; the stride-2 convs pad 1 on each side where tfjs's
'same' pads 0 above and 1 below on 14x14 (the same shapes); genloom's first time dense layer is
computed twice for x * sigmoid(x), here once; the label embedding is indexed, not a one-hot product.
Prints one JSON line: {"ms_per_step": median, "images_per_s": n, "threads": n, "torch": version, "blas": name}.
Usage: python3 bench/peers/unet_small.py [threads] [repeats] [batch]
"""
import json
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from timing import median_ms, report

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
batch = int(sys.argv[3]) if len(sys.argv) > 3 else 64
torch.set_num_threads(threads)
torch.manual_seed(1)
BASE, MULTIPLIERS, GROUPS, PATCH, CLASSES, STEPS, LABEL_DROPOUT = 32, (1, 2, 2), 8, 2, 10, 1000, 0.1
EMBED = 4 * BASE


def norm(channels):
    return nn.GroupNorm(min(GROUPS, channels), channels, eps=1e-5)


class ResBlock(nn.Module):
    def __init__(self, inputs, outputs):
        super().__init__()
        self.norm0, self.conv0 = norm(inputs), nn.Conv2d(inputs, outputs, 3, 1, 1)
        self.time = nn.Linear(EMBED, outputs)
        self.norm1, self.conv1 = norm(outputs), nn.Conv2d(outputs, outputs, 3, 1, 1)
        self.skip = nn.Conv2d(inputs, outputs, 1) if inputs != outputs else None

    def forward(self, h, embedding):
        out = self.conv0(F.silu(self.norm0(h))) + self.time(F.silu(embedding))[:, :, None, None]
        out = self.conv1(F.silu(self.norm1(out)))
        return (self.skip(h) if self.skip is not None else h) + out


class Attention(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.norm, self.qkv, self.out = norm(channels), nn.Linear(channels, 3 * channels), nn.Linear(channels, channels)

    def forward(self, x):
        b, c, height, width = x.shape
        tokens = self.norm(x).flatten(2).transpose(1, 2)  # [B, HW, C]
        q, k, v = self.qkv(tokens).chunk(3, dim=2)
        weights = (q @ k.transpose(1, 2) / math.sqrt(c)).softmax(-1)
        return x + self.out(weights @ v).transpose(1, 2).reshape(b, c, height, width)


class UNet(nn.Module):
    def __init__(self):
        super().__init__()
        widths = [BASE * m for m in MULTIPLIERS]
        self.time0, self.time1 = nn.Linear(BASE, EMBED), nn.Linear(EMBED, EMBED)
        self.label = nn.Embedding(CLASSES + 1, EMBED)
        self.input = nn.Conv2d(PATCH * PATCH, BASE, 3, 1, 1)
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        current = BASE
        for level, width in enumerate(widths):
            self.down.append(ResBlock(current, width))
            current = width
            if level < len(widths) - 1:
                self.downsample.append(nn.Conv2d(width, width, 3, 2, 1))
        self.mid0, self.attention, self.mid1 = ResBlock(current, current), Attention(current), ResBlock(current, current)
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for level in reversed(range(len(widths))):
            self.up.append(ResBlock(current + widths[level], widths[level]))
            current = widths[level]
            if level > 0:
                self.upsample.append(nn.Conv2d(current, current, 3, 1, 1))
        self.out_norm, self.out = norm(current), nn.Conv2d(current, PATCH * PATCH, 3, 1, 1)

    def forward(self, x, steps, labels):
        half = BASE // 2
        angles = steps[:, None].float() * torch.exp(-math.log(10_000) * torch.arange(half) / half)[None]
        embedding = self.time1(F.silu(self.time0(torch.cat([angles.sin(), angles.cos()], 1)))) + self.label(labels)
        h = self.input(F.pixel_unshuffle(x, PATCH))
        skips = []
        for level, block in enumerate(self.down):
            h = block(h, embedding)
            skips.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)
        h = self.mid1(self.attention(self.mid0(h, embedding)), embedding)
        for i, block in enumerate(self.up):
            skip = skips[len(skips) - 1 - i]
            if h.shape[2:] != skip.shape[2:]:
                h = self.upsample[i - 1](F.interpolate(h, size=skip.shape[2:], mode="nearest"))
            h = block(torch.cat([h, skip], 1), embedding)
        return F.pixel_shuffle(self.out(F.silu(self.out_norm(h))), PATCH)


def cosine_alpha_bars(steps, s=0.008):
    f = lambda t: math.cos((t / steps + s) / (1 + s) * math.pi / 2) ** 2
    betas = torch.tensor([min(0.999, 1 - f(i + 1) / f(i)) for i in range(steps)], dtype=torch.float64)
    return torch.cumprod(1 - betas, 0).float()


model = UNet()
average = [p.detach().clone() for p in model.parameters()]
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
alpha_bars = cosine_alpha_bars(STEPS)
images = torch.rand(batch, 1, 28, 28)
labels = torch.arange(batch) % CLASSES
step_count = 0


def step():
    global step_count
    steps = torch.randint(1, STEPS + 1, (batch,))
    alpha_bar = alpha_bars[steps - 1][:, None, None, None]
    noise = torch.randn_like(images)
    noisy = (images * 2 - 1) * alpha_bar.sqrt() + noise * (1 - alpha_bar).sqrt()
    given = torch.where(torch.rand(batch) < LABEL_DROPOUT, torch.full_like(labels, CLASSES), labels)
    loss = (model(noisy, steps, given) - noise).square().mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    loss.item()
    decay = min(0.999, (1 + step_count) / (10 + step_count))
    with torch.no_grad():
        torch._foreach_mul_(average, decay)
        torch._foreach_add_(average, [p.detach() for p in model.parameters()], alpha=1 - decay)
    step_count += 1


ms = median_ms(step, repeats, 1)
print(json.dumps(report(threads, ms_per_step=ms, images_per_s=batch * 1000 / ms)))
