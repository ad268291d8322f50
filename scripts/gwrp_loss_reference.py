#!/usr/bin/env python3
"""The later ISNet heatmap loss (docs/training.md, "The later loss") written from its
equations in float64 numpy, independently of Sources/Training/GWRPHeatmapLoss.swift, and
evaluated on the reference training step's heatmaps and mask
(Tests/Fixtures/train/tiny.train.safetensors). Prints the loss and gradient values that
GWRPLossTests.matchesTheNumpyImplementationOnTheReferenceStep holds isnetc to.

Usage: scripts/gwrp_loss_reference.py [FIXTURE]   (numpy only; the tests do not run it)

The gradient is by reverse-mode over the same equations, written out step by step (no
autograd library): |R| -> m -> R_hat -> sorted ranks -> g -> log(1 + g/E), and F -> band.
"""
import sys

import numpy as np

from safetensors_numpy import read_safetensors

DECAY, E, A, B, C1, C2 = 0.9, 1.0, 1.0, 1.0, 0.7, 0.95
DELTA, CLAMP = 1e-10, 1e-7


def band(f):
    """The hybrid band penalty and its derivative."""
    if f < C1:
        return ((C1 - f) / C1) ** 2, -2 * (C1 - f) / C1 ** 2
    if f <= C2:
        return 0.0, 0.0
    if f > C1 + C2:
        return 1 + (f - C1 - C2), 1.0
    return ((f - C2) / C1) ** 2, 2 * (f - C2) / C1 ** 2


def loss_and_gradient(R, M):
    """R: [B, K, C, H, W]; M: [B, H, W] (1 = foreground). Returns L_H and dL_H/dR."""
    b_, k_, c_, h_, w_ = R.shape
    fg = np.broadcast_to(M[:, None, :, :] > 0, (b_, c_, h_, w_))
    weights = DECAY ** np.arange(h_ * w_, dtype=np.float64)
    weights /= weights.sum()
    total, grad = 0.0, np.zeros_like(R)
    terms = b_ * k_
    for b in range(b_):
        n_fg = fg[b].sum()
        for k in range(k_):
            a = np.abs(R[b, k])
            F = a[fg[b]].sum()
            m = F / n_fg + DELTA
            d_a = np.zeros_like(a)  # dL/d|R|
            d_m = 0.0
            for c in range(c_):
                x = np.where(fg[b, c], 0.0, a[c] / m).ravel()
                order = np.argsort(-x, kind="stable")
                g = float((weights * x[order]).sum())
                q = g / (g + E)
                total += A * -np.log(1 - min(q, 1 - CLAMP)) / c_ / terms
                if q > 1 - CLAMP:
                    continue
                dg = A / (g + E) / c_ / terms
                dx = np.zeros(h_ * w_)
                dx[order] = weights * dg
                dx = dx.reshape(h_, w_) * ~fg[b, c]
                d_a[c] += dx / m
                d_m += -(dx * a[c]).sum() / m ** 2
            p, dp = band(F)
            total += B * p / terms
            d_a += np.where(fg[b], B * dp / terms + d_m / n_fg, 0.0)
            grad[b, k] = np.sign(R[b, k]) * d_a
    return total, grad


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "Tests/Fixtures/train/tiny.train.safetensors"
    t = read_safetensors(path)
    R, M = t["heatmaps"].astype(np.float64), t["mask"][:, 0].astype(np.float64)
    loss, grad = loss_and_gradient(R, M)
    flat = grad.ravel()
    print(f"loss {loss:.17g}")
    print(f"gradient L2 norm {np.linalg.norm(flat):.17g}")
    print(f"gradient L1 norm {np.abs(flat).sum():.17g}")
    # The largest entries (background pixels of high rank) and one foreground pixel per map.
    for i in sorted(np.argsort(-np.abs(flat), kind="stable")[:4]):
        print(f"gradient[{i}] {flat[i]:.17g}")
    fg = np.flatnonzero(np.broadcast_to(M[:, None, None] > 0, R.shape).ravel())
    for i in fg[::len(fg) // 3][:3]:
        print(f"gradient[{i}] {flat[i]:.17g}")


if __name__ == "__main__":
    main()
