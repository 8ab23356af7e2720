"""The same training step as `npm run bench -- pixelcnn`, in PyTorch, for comparison.

genloom's default ("small") Gated PixelCNN (src/models/pixelcnn/pixelcnn.ts) on 64 binary 28x28
images, unconditional: p = 32 feature maps, an input layer with 7-wide kernels (type A) and 6 gated
layers with 3-wide ones (type B). Each layer: the vertical stack convolves (c+1)xk over a top- and
side-padded input; the horizontal one 1x(c+1) over a left-padded input (the first layer shifted one
more column); the vertical pre-activation, moved down a row, joins the horizontal one through a 1x1
conv 2p->2p without bias; tanh(a) * sigmoid(b) gates on 2p channels; the horizontal output gets a
1x1 out conv p->p with bias and a residual (not in the first layer) and a 1x1 skip p->64 without
bias. Head: ReLU(sum of skips + bias), 1x1 conv 64->1. Loss: the summed binary cross-entropy with
logits per image, averaged over the batch; the input is centred (2x - 1). Adam (learning rate 1e-3).
What differs, by design: NCHW instead of NHWC; the 1x1 convolutions are torch convolutions where
genloom multiplies [B*H*W, C] matrices.
Prints one JSON line: {"ms_per_step": median, "images_per_s": n, "threads": n, "torch": version, "blas": name}.
Usage: python3 bench/peers/pixelcnn_small.py [threads] [repeats] [batch]
"""
import json
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
FEATURES, INPUT_KERNEL, KERNEL, LAYERS, HEAD = 32, 7, 3, 6, 64


def gate(x):
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


class GatedLayer(nn.Module):
    def __init__(self, first):
        super().__init__()
        k, inputs, p = (INPUT_KERNEL, 1, FEATURES) if first else (KERNEL, FEATURES, FEATURES)
        self.first, self.c = first, k // 2
        self.vertical = nn.Conv2d(inputs, 2 * p, (self.c + 1, k))
        self.horizontal = nn.Conv2d(inputs, 2 * p, (1, self.c + 1))
        self.link = nn.Conv2d(2 * p, 2 * p, 1, bias=False)
        self.out = None if first else nn.Conv2d(p, p, 1)
        self.skip = nn.Conv2d(p, HEAD, 1, bias=False)

    def forward(self, vertical, horizontal):
        c, width = self.c, horizontal.shape[3]
        vertical_pre = self.vertical(F.pad(vertical, (c, c, c, 0)))  # rows i-c..i, columns j-c..j+c
        shift = 1 if self.first else 0
        horizontal_pre = self.horizontal(F.pad(horizontal, (c + shift, 0, 0, 0))[:, :, :, : width + c])
        down = F.pad(vertical_pre, (0, 0, 1, 0))[:, :, :-1]
        horizontal_pre = horizontal_pre + self.link(down)
        gated = gate(horizontal_pre)
        out = gated if self.first else horizontal + self.out(gated)
        return gate(vertical_pre), out, self.skip(gated)


class PixelCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList(GatedLayer(layer == 0) for layer in range(LAYERS + 1))
        self.hidden_bias = nn.Parameter(torch.zeros(1, HEAD, 1, 1))
        self.head = nn.Conv2d(HEAD, 1, 1)

    def forward(self, images):
        vertical = horizontal = images * 2 - 1
        skips = 0
        for layer in self.layers:
            vertical, horizontal, skip = layer(vertical, horizontal)
            skips = skips + skip
        logits = self.head(F.relu(skips + self.hidden_bias))
        return F.binary_cross_entropy_with_logits(logits, images, reduction="none").sum((1, 2, 3)).mean()


model = PixelCnn()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
images = (torch.rand(batch, 1, 28, 28) < 0.15).float()


def step():
    loss = model(images)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


ms = median_ms(step, repeats, 1)
print(json.dumps(report(threads, ms_per_step=ms, images_per_s=batch * 1000 / ms)))
