"""The same training step as `npm run bench -- vae`, in PyTorch, for comparison.

genloom's default ("small") MNIST VAE: encoder conv 4x4/2 1->32, conv 4x4/2 32->64 (28->14->7),
dense 3136->128, dense 128->2*16; decoder dense 16->128, dense 128->3136, transposed conv 4x4/2
64->32 and 32->1 (7->14->28), ReLU between layers; Bernoulli likelihood on dynamically binarized
images plus the closed-form KL; Adam. Batch 64 of random 28x28 images.
With "colour" as the fourth argument, the colour emoji VAE instead (the "base" preset on 32x32 RGB,
models/vae-emoji's shape): convs 4x4/2 3->32->64->128 (32->16->8->4), dense 2048->512, 512->2*64;
decoder dense 64->512, 512->2048, transposed convs 128->64->32->3; the sigma-VAE Gaussian
likelihood of continuous pixels with one learned log-scale per channel (floored at -7) around the
sigmoid of the decoder's output.
Prints one JSON line: {"ms_per_step": median, "images_per_s": n, "threads": n, "torch": version, "blas": name}.
Usage: python3 bench/peers/vae_small.py [threads] [repeats] [batch] [mnist|colour]
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
batch = int(sys.argv[3]) if len(sys.argv) > 3 else 64
colour = len(sys.argv) > 4 and sys.argv[4] == "colour"
torch.set_num_threads(threads)
torch.manual_seed(1)
LATENT, HIDDEN = 16, 128
HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)


class ColourVae(nn.Module):
    def __init__(self, latent=64, hidden=512, channels=(32, 64, 128)):
        super().__init__()
        enc, inputs = [], 3
        for out in channels:
            enc += [nn.Conv2d(inputs, out, 4, 2, 1), nn.ReLU()]
            inputs = out
        flat = channels[-1] * 4 * 4
        self.enc = nn.Sequential(*enc, nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent))
        dec = [nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, flat), nn.ReLU(), nn.Unflatten(1, (channels[-1], 4, 4))]
        reversed_channels = list(reversed(channels)) + [3]
        for i, (inp, out) in enumerate(zip(reversed_channels, reversed_channels[1:])):
            dec.append(nn.ConvTranspose2d(inp, out, 4, 2, 1))
            if i < len(channels) - 1:
                dec.append(nn.ReLU())
        self.dec = nn.Sequential(*dec)
        self.log_scale = nn.Parameter(torch.full((1, 3, 1, 1), math.log(0.1)))

    def forward(self, images):
        mean, log_variance = self.enc(images).chunk(2, dim=1)
        z = mean + torch.exp(0.5 * log_variance) * torch.randn_like(mean)
        log_scale = self.log_scale.clamp(min=-7)
        squared = 0.5 * ((images - torch.sigmoid(self.dec(z))) / log_scale.exp()).square()
        reconstruction = (squared + log_scale + HALF_LOG_TWO_PI).sum((1, 2, 3))
        kl = 0.5 * (mean.square() + log_variance.exp() - 1 - log_variance).sum(1)
        return (reconstruction + kl).mean()


class Vae(nn.Module):
    def __init__(self):
        super().__init__()
        # tfjs 'same' padding of a 4x4 stride-2 conv on an even size is 1 on each side.
        self.enc = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(), nn.Flatten(),
                                 nn.Linear(64 * 7 * 7, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 2 * LATENT))
        self.dec = nn.Sequential(nn.Linear(LATENT, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 64 * 7 * 7), nn.ReLU(),
                                 nn.Unflatten(1, (64, 7, 7)), nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
                                 nn.ConvTranspose2d(32, 1, 4, 2, 1))

    def forward(self, images):
        targets = (torch.rand_like(images) < images).float()
        mean, log_variance = self.enc(targets).chunk(2, dim=1)
        z = mean + torch.exp(0.5 * log_variance) * torch.randn_like(mean)
        logits = self.dec(z)
        reconstruction = F.binary_cross_entropy_with_logits(logits, targets, reduction="none").sum((1, 2, 3))
        kl = 0.5 * (mean.square() + log_variance.exp() - 1 - log_variance).sum(1)
        return (reconstruction + kl).mean()


model = ColourVae() if colour else Vae()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
images = torch.rand(batch, 3, 32, 32) if colour else torch.rand(batch, 1, 28, 28)


def step():
    loss = model(images)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


ms = median_ms(step, repeats, 2)
print(json.dumps(report(threads, ms_per_step=ms, images_per_s=batch * 1000 / ms)))
