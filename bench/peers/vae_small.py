"""The same training step as `npm run bench -- vae`, in PyTorch, for comparison.

genloom's default ("small") MNIST VAE: encoder conv 4x4/2 1->32, conv 4x4/2 32->64 (28->14->7),
dense 3136->128, dense 128->2*16; decoder dense 16->128, dense 128->3136, transposed conv 4x4/2
64->32 and 32->1 (7->14->28), ReLU between layers; Bernoulli likelihood on dynamically binarized
images plus the closed-form KL; Adam. Batch 64 of random 28x28 images.
Prints one JSON line: {"ms_per_step": median, "images_per_s": n, "threads": n, "torch": version, "blas": name}.
Usage: python3 bench/peers/vae_small.py [threads] [repeats] [batch]
"""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from timing import median_ms, report

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 10
batch = int(sys.argv[3]) if len(sys.argv) > 3 else 64
torch.set_num_threads(threads)
torch.manual_seed(1)
LATENT, HIDDEN = 16, 128


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


model = Vae()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
images = torch.rand(batch, 1, 28, 28)


def step():
    loss = model(images)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


ms = median_ms(step, repeats, 2)
print(json.dumps(report(threads, ms_per_step=ms, images_per_s=batch * 1000 / ms)))
