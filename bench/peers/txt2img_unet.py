"""The same training step as `npm run bench -- txt2img`, in PyTorch, for comparison.

genloom's text-to-image U-Net (src/models/diffusion/unet.ts with the text conditioning of
src/layers/cross-attention.ts), as the emoji starter trains it: latent diffusion on the small
autoencoder's 8x8x4 latents (no patches), batch 64, conditioned on 16 tokens of clip text states
(width 128) and the pooled text embedding (128). Conv 3x3 4->64; levels of 64 and 128 channels
(8x8, 4x4), one residual block each (group norm 16, SiLU, conv 3x3, plus a dense projection of the
SiLU'd embedding, group norm, SiLU, conv 3x3, and a 1x1 skip where the width changes), each followed
by cross-attention to the text, a 3x3 stride-2 conv between levels; middle: residual block,
single-head self-attention over the 16 pixels (group norm, dense qkv, softmax(q k^T / sqrt(128)) v,
dense out, residual), cross-attention, residual block; up: per level a residual block on [h, skip]
then cross-attention, nearest-neighbour resize to the skip's size and a 3x3 conv between levels;
group norm, SiLU, conv 3x3 64->4. Cross-attention: group norm, dense query from the pixels, dense key
and value from the text states, 4 heads, padding tokens masked with -1e9, dense out, residual.
Embedding: sinusoidal of the step (64) -> dense 256 -> SiLU -> dense 256, plus a dense projection
of the pooled text. Loss: mean squared error of the predicted noise at uniformly drawn steps of the
cosine schedule (T = 1000). Adam (learning rate 1e-3); then the weight average (decay
min(0.999, (1+t)/(10+t))). The text states are inputs, as in genloom's training, where the frozen
text encoder runs when the batch is made: captions of 4 to 16 tokens, the rest padding.
What differs, by design: NCHW instead of NHWC; the stride-2 conv pads 1 on each side where tfjs's
'same' pads 0 above and 1 below on 8x8 (the same shapes); genloom's first time dense layer is
computed twice for x * sigmoid(x), here once; attention is written out (Debian's torch 1.13 has no
scaled_dot_product_attention).
Prints one JSON line: {"ms_per_step": median, "latents_per_s": n, "params": n, "threads": n, "torch": version, "blas": name};
with --params as the fourth argument, only {"params": n} (the U-Net's parameter count), without timing.
Usage: python3 bench/peers/txt2img_unet.py [threads] [repeats] [batch] [--params]
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
count_only = len(sys.argv) > 4 and sys.argv[4] == "--params"
torch.set_num_threads(threads)
torch.manual_seed(1)
BASE, MULTIPLIERS, GROUPS, HEADS, STEPS = 64, (1, 2), 16, 4, 1000
LATENT_CHANNELS, LATENT_SIZE, TOKENS, CONTEXT_DIM, POOLED_DIM = 4, 8, 16, 128, 128
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


class CrossAttention(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.norm, self.query = norm(channels), nn.Linear(channels, channels)
        self.key, self.value = nn.Linear(CONTEXT_DIM, channels), nn.Linear(CONTEXT_DIM, channels)
        self.out = nn.Linear(channels, channels)

    def forward(self, x, states, padding):
        b, c, height, width = x.shape
        length, d = states.shape[1], c // HEADS
        q = self.query(self.norm(x).flatten(2).transpose(1, 2)).view(b, height * width, HEADS, d).transpose(1, 2)  # [B, heads, HW, d]
        k = self.key(states).view(b, length, HEADS, d).transpose(1, 2)
        v = self.value(states).view(b, length, HEADS, d).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) / math.sqrt(d) + padding  # [B, heads, HW, T]
        mixed = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, height * width, c)
        return x + self.out(mixed).transpose(1, 2).reshape(b, c, height, width)


class UNet(nn.Module):
    def __init__(self):
        super().__init__()
        widths = [BASE * m for m in MULTIPLIERS]
        self.time0, self.time1 = nn.Linear(BASE, EMBED), nn.Linear(EMBED, EMBED)
        self.pooled = nn.Linear(POOLED_DIM, EMBED)
        self.input = nn.Conv2d(LATENT_CHANNELS, BASE, 3, 1, 1)
        self.down, self.down_cross, self.downsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        current = BASE
        for level, width in enumerate(widths):
            self.down.append(ResBlock(current, width))
            self.down_cross.append(CrossAttention(width))
            current = width
            if level < len(widths) - 1:
                self.downsample.append(nn.Conv2d(width, width, 3, 2, 1))
        self.mid0, self.attention = ResBlock(current, current), Attention(current)
        self.mid_cross, self.mid1 = CrossAttention(current), ResBlock(current, current)
        self.up, self.up_cross, self.upsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for level in reversed(range(len(widths))):
            self.up.append(ResBlock(current + widths[level], widths[level]))
            self.up_cross.append(CrossAttention(widths[level]))
            current = widths[level]
            if level > 0:
                self.upsample.append(nn.Conv2d(current, current, 3, 1, 1))
        self.out_norm, self.out = norm(current), nn.Conv2d(current, LATENT_CHANNELS, 3, 1, 1)

    def forward(self, x, steps, states, mask, pooled):
        half = BASE // 2
        angles = steps[:, None].float() * torch.exp(-math.log(10_000) * torch.arange(half) / half)[None]
        embedding = self.time1(F.silu(self.time0(torch.cat([angles.sin(), angles.cos()], 1)))) + self.pooled(pooled)
        padding = ((mask - 1) * 1e9)[:, None, None, :]  # 0 for tokens, -1e9 for padding
        h = self.input(x)
        skips = []
        for level, (block, cross) in enumerate(zip(self.down, self.down_cross)):
            h = cross(block(h, embedding), states, padding)
            skips.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)
        h = self.mid1(self.mid_cross(self.attention(self.mid0(h, embedding)), states, padding), embedding)
        for i, (block, cross) in enumerate(zip(self.up, self.up_cross)):
            skip = skips[len(skips) - 1 - i]
            if h.shape[2:] != skip.shape[2:]:
                h = self.upsample[i - 1](F.interpolate(h, size=skip.shape[2:], mode="nearest"))
            h = cross(block(torch.cat([h, skip], 1), embedding), states, padding)
        return self.out(F.silu(self.out_norm(h)))


def cosine_alpha_bars(steps, s=0.008):
    f = lambda t: math.cos((t / steps + s) / (1 + s) * math.pi / 2) ** 2
    betas = torch.tensor([min(0.999, 1 - f(i + 1) / f(i)) for i in range(steps)], dtype=torch.float64)
    return torch.cumprod(1 - betas, 0).float()


model = UNet()
parameters = sum(p.numel() for p in model.parameters())
if count_only:
    print(json.dumps({"params": parameters}))
    sys.exit(0)
average = [p.detach().clone() for p in model.parameters()]
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
alpha_bars = cosine_alpha_bars(STEPS)
latents = torch.randn(batch, LATENT_CHANNELS, LATENT_SIZE, LATENT_SIZE)
states = torch.randn(batch, TOKENS, CONTEXT_DIM)
lengths = 4 + torch.arange(batch) % (TOKENS - 3)  # 4..16 tokens, as bench/txt2img.ts
mask = (torch.arange(TOKENS)[None, :] < lengths[:, None]).float()
pooled = F.normalize(torch.randn(batch, POOLED_DIM), dim=1)
step_count = 0


def step():
    global step_count
    steps = torch.randint(1, STEPS + 1, (batch,))
    alpha_bar = alpha_bars[steps - 1][:, None, None, None]
    noise = torch.randn_like(latents)
    noisy = latents * alpha_bar.sqrt() + noise * (1 - alpha_bar).sqrt()
    loss = (model(noisy, steps, states, mask, pooled) - noise).square().mean()
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
print(json.dumps(report(threads, ms_per_step=ms, latents_per_s=batch * 1000 / ms, params=parameters)))
