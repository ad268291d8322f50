"""Plots bench/growth's table: step time and peak RSS against the classes K (128², batch 4),
the image side (K 3, batch 4) and the batch (224², K 3), every class's heatmap against one
relevance pass per image.

Usage: plot_growth.py TABLE PNG (TABLE: bench/growth's rows, size K batch heatmaps s/step
arena peak plan).
"""
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

rows = []
for line in open(sys.argv[1]):
    size, k, batch, heatmaps, seconds, arena, peak, _ = line.split()
    rows.append(dict(size=int(size), k=int(k), batch=int(batch), heatmaps=heatmaps, seconds=float(seconds), peak=float(peak) / 1024))

sweeps = [
    ("classes K (128², batch 4)", "k", lambda r: r["size"] == 128 and r["batch"] == 4, True),
    ("image side (K 3, batch 4)", "size", lambda r: r["k"] == 3 and r["batch"] == 4, False),
    ("batch (224², K 3)", "batch", lambda r: r["size"] == 224 and r["k"] == 3, False),
]
figure, axes = plt.subplots(2, 3, figsize=(12, 6.5), constrained_layout=True)
for column, (title, key, selected, logarithmic) in enumerate(sweeps):
    for heatmaps, style in (("all", "o-"), ("selective", "s--")):
        # A configuration on two sweeps (K 3 at 128² batch 4, say) ran twice: their mean.
        runs = {}
        for r in rows:
            if selected(r) and r["heatmaps"] == heatmaps:
                runs.setdefault(r[key], []).append((r["seconds"], r["peak"]))
        if not runs:
            continue
        xs = sorted(runs)
        seconds = [sum(t for t, _ in runs[x]) / len(runs[x]) for x in xs]
        peaks = [sum(m for _, m in runs[x]) / len(runs[x]) for x in xs]
        label = "every class (all)" if heatmaps == "all" else "one per image (selective)"
        axes[0][column].plot(xs, seconds, style, label=label)
        axes[1][column].plot(xs, peaks, style, label=label)
    for row, unit in ((0, "seconds per step"), (1, "peak RSS, GiB")):
        axis = axes[row][column]
        axis.set_xlabel(title)
        axis.set_ylabel(unit)
        axis.grid(alpha=0.3)
        if logarithmic:
            axis.set_xscale("log")
            axis.set_yscale("log")
    axes[0][column].legend(fontsize=8)
figure.suptitle("DenseNet-121 ISNet training step (P 0.7, 2 threads): how time and memory grow")
figure.savefig(sys.argv[2], dpi=110)
