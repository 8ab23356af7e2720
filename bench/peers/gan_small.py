"""The same training step as `npm run bench -- gan`, in PyTorch, for comparison.

genloom's default ("small") conditional 28x28 GAN (src/models/gan/gan.ts), batch 64, 10 labels:
generator [z (64), one-hot label (10)] -> dense 74->7*7*64 -> pixel norm, ReLU -> transposed conv
4x4/2 64->32 and 32->16 (7->14->28), each with pixel norm and ReLU -> conv 3x3 16->1 -> tanh;
discriminator conv 4x4/2 1->32 and 32->64 (28->14->7) with leaky ReLU 0.2 -> flatten 3136 ->
dense 3136->1 plus the projection <embed(y), features>, every weight spectrally normalised with
its own stored u, v (one power-iteration step per training step, outside the gradient; sigma =
v^T W u differentiated, as genloom does). One step is: the power iteration; the discriminator's
hinge-loss update on the real batch (mapped to [-1, 1]) and fresh fakes of its labels; the
generator's update on fresh latents and random labels; the weight average of the generator
(decay min(0.999, (1+t)/(10+t))). Both optimizers Adam (beta1 0, beta2 0.9, learning rate 2e-4).
What differs, by design: NCHW instead of NHWC; the fakes the discriminator learns from are drawn
without recording the generator's graph (torch.no_grad), and the generator's update backpropagates
into the generator only (backward(inputs=...)), which is what genloom's tape computes too; a
label's embedding row is indexed rather than taken by a one-hot product.
Prints one JSON line: {"ms_per_step": median, "images_per_s": n, "threads": n, "torch": version, "blas": name}.
Usage: python3 bench/peers/gan_small.py [threads] [repeats] [batch]
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
LATENT, CLASSES, G_CHANNELS, D_CHANNELS, START = 64, 10, (32, 16), (32, 64), 7
FLAT = START * START * D_CHANNELS[-1]


def pixel_norm(x):
    return x * torch.rsqrt(x.square().mean(1, keepdim=True) + 1e-8)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.project = nn.Linear(LATENT + CLASSES, START * START * 2 * G_CHANNELS[0])
        self.up = nn.ModuleList([nn.ConvTranspose2d(2 * G_CHANNELS[0], G_CHANNELS[0], 4, 2, 1), nn.ConvTranspose2d(G_CHANNELS[0], G_CHANNELS[1], 4, 2, 1)])
        self.out = nn.Conv2d(G_CHANNELS[1], 1, 3, 1, 1)

    def forward(self, z, labels):
        h = self.project(torch.cat([z, F.one_hot(labels, CLASSES).float()], 1)).view(-1, 2 * G_CHANNELS[0], START, START)
        h = F.relu(pixel_norm(h))
        for up in self.up:
            h = F.relu(pixel_norm(up(h)))
        return torch.tanh(self.out(h))


class SpectralWeight(nn.Module):
    """A weight seen as a [fan_in, out] matrix W, used as W / (v^T W u) with u, v from the power iteration."""

    def __init__(self, shape, matrix, out_first=True):
        super().__init__()
        self.matrix = matrix  # (fan_in, out) of the weight as genloom lays it out
        self.out_first = out_first
        self.weight = nn.Parameter(torch.randn(shape) / matrix[0] ** 0.5)
        self.register_buffer("u", F.normalize(torch.randn(matrix[1]), dim=0))
        self.register_buffer("v", torch.zeros(matrix[0]))

    def as_matrix(self):
        # PyTorch lays conv and dense weights out as [out, in, ...]: W^T, row by row.
        return self.weight.reshape(self.matrix[1], self.matrix[0]).t() if self.out_first else self.weight.reshape(self.matrix)

    @torch.no_grad()
    def power_iterate(self):
        matrix = self.as_matrix()
        self.v.copy_(F.normalize(matrix @ self.u, dim=0, eps=1e-12))
        self.u.copy_(F.normalize(self.v @ matrix, dim=0, eps=1e-12))

    def forward(self):
        return self.weight / torch.dot(self.v, self.as_matrix() @ self.u)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        inputs = (1, D_CHANNELS[0])
        self.convs = nn.ModuleList(SpectralWeight((out, inp, 4, 4), (16 * inp, out)) for inp, out in zip(inputs, D_CHANNELS))
        self.conv_biases = nn.ParameterList(nn.Parameter(torch.zeros(out)) for out in D_CHANNELS)
        self.out = SpectralWeight((1, FLAT), (FLAT, 1))
        self.out_bias = nn.Parameter(torch.zeros(1))
        self.embed = SpectralWeight((CLASSES, FLAT), (CLASSES, FLAT), out_first=False)

    def power_iterate(self):
        for weight in (*self.convs, self.out, self.embed):
            weight.power_iterate()

    def forward(self, pixels, labels):
        h = pixels
        for conv, bias in zip(self.convs, self.conv_biases):
            h = F.leaky_relu(F.conv2d(h, conv(), bias, 2, 1), 0.2)
        features = h.flatten(1)
        logits = F.linear(features, self.out(), self.out_bias).view(-1)
        return logits + (self.embed()[labels] * features).sum(1)


generator, discriminator = Generator(), Discriminator()
average = [p.detach().clone() for p in generator.parameters()]
d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.0, 0.9))
g_optimizer = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.0, 0.9))
images = torch.rand(batch, 1, 28, 28)
labels = torch.arange(batch) % CLASSES
step_count = 0


def step():
    global step_count
    discriminator.power_iterate()
    # The discriminator's update.
    with torch.no_grad():
        fake = generator(torch.randn(batch, LATENT), labels)
    real_logits = discriminator(images * 2 - 1, labels)
    fake_logits = discriminator(fake, labels)
    d_loss = F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    (real_logits > 0).float().mean(), (fake_logits < 0).float().mean()  # the accuracies genloom logs
    d_optimizer.zero_grad(set_to_none=True)
    d_loss.backward()
    d_optimizer.step()
    d_loss.item()
    # The generator's update.
    fake_labels = torch.randint(0, CLASSES, (batch,))
    g_loss = -discriminator(generator(torch.randn(batch, LATENT), fake_labels), fake_labels).mean()
    g_optimizer.zero_grad(set_to_none=True)
    g_loss.backward(inputs=list(generator.parameters()))
    g_optimizer.step()
    g_loss.item()
    # The generator's weight average.
    decay = min(0.999, (1 + step_count) / (10 + step_count))
    with torch.no_grad():
        torch._foreach_mul_(average, decay)
        torch._foreach_add_(average, [p.detach() for p in generator.parameters()], alpha=1 - decay)
    step_count += 1


ms = median_ms(step, repeats, 2)
print(json.dumps(report(threads, ms_per_step=ms, images_per_s=batch * 1000 / ms)))
