#!/usr/bin/env python3
"""The explanation-distillation loss (docs/training.md, "Explanation distillation") written
from its equations in float64 numpy, independently of Sources/Training/DistillationLoss.swift,
and evaluated on the reference training step's heatmaps
(Tests/Fixtures/train/tiny.train.safetensors): the student's maps are class 0's of both
samples, the teacher's class 1's. Prints the values that
DistillationLossTests.matchesTheNumpyImplementationOnTheReferenceStep holds isnetc to.

Usage: scripts/distillation_loss_reference.py [FIXTURE]   (numpy only; the tests do not run it)

Per pair and scale: g = sqrt(mean|S|) * sqrt(mean|T|) + 1e-10, l = mean|S - T| / g; scales are
the map and its average pools with kernel = stride 2, 4, ... while the pooled side is >= 8;
the loss is the mean over scales and pairs. The gradient is by the chain rule written out
(no autograd library), with d|x|/dx = sign(x), 0 at 0.
"""
import sys

import numpy as np

from safetensors_numpy import read_safetensors

DELTA, MIN_SIDE = 1e-10, 8


def pool(x, f):
    """[C, H, W] -> average pool, kernel = stride = f (edge remainder dropped)."""
    c, h, w = x.shape
    h2, w2 = h // f, w // f
    return x[:, :h2 * f, :w2 * f].reshape(c, h2, f, w2, f).mean(axis=(2, 4))


def unpool(g, f, shape):
    """The transpose of pool: each pooled gradient spread evenly over its window."""
    out = np.zeros(shape)
    c, h2, w2 = g.shape
    out[:, :h2 * f, :w2 * f] = np.repeat(np.repeat(g, f, axis=1), f, axis=2) / (f * f)
    return out


def scale_loss(s, t):
    n = s.size
    ms, mt = np.abs(s).mean(), np.abs(t).mean()
    g = np.sqrt(ms) * np.sqrt(mt) + DELTA
    a = np.abs(s - t).mean()
    l = a / g
    # dl/ds = (da/ds) / g - a / g^2 * dg/ds;  dg/ds = sqrt(mt) / (2 sqrt(ms)) * sign(s) / n
    dg = np.sqrt(mt) / (2 * np.sqrt(ms)) * np.sign(s) / n if ms > 0 else np.zeros_like(s)
    return l, np.sign(s - t) / n / g - a / g ** 2 * dg


def loss_and_gradient(S, T):
    pairs, _, h, w = S.shape
    factors = [1]
    while min(h // (factors[-1] * 2), w // (factors[-1] * 2)) >= MIN_SIDE:
        factors.append(factors[-1] * 2)
    total, grad = 0.0, np.zeros_like(S)
    weight = 1.0 / (len(factors) * pairs)
    for p in range(pairs):
        for f in factors:
            l, d = scale_loss(pool(S[p], f) if f > 1 else S[p], pool(T[p], f) if f > 1 else T[p])
            total += weight * l
            grad[p] += weight * (unpool(d, f, S[p].shape) if f > 1 else d)
    return total, grad, factors


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "Tests/Fixtures/train/tiny.train.safetensors"
    R = read_safetensors(path)["heatmaps"].astype(np.float64)
    S, T = R[:, 0], R[:, 1]
    loss, grad, factors = loss_and_gradient(S, T)
    flat = grad.reshape(-1)
    print(f"scales {factors}")
    print(f"loss {loss:.17g}")
    print(f"gradient L2 norm {np.linalg.norm(flat):.17g}")
    print(f"gradient L1 norm {np.abs(flat).sum():.17g}")
    for i in [0, 4095, 5000, 12345, 20000, 24575]:
        print(f"gradient[{i}] {flat[i]:.17g}")


if __name__ == "__main__":
    main()
