"""The anchors of bench/train: one training step of the paper's DenseNet-121 in PyTorch,
timed the way `isnetc bench --train` times itself.

Usage: train_anchors.py WEIGHTS.safetensors --engine pytorch --batch B --size S [--classes K] [--threads 2] [--iterations N]
       train_anchors.py WEIGHTS.safetensors --engine reference --reference DIR --batch B --size S [...]

Both engines train the same network isnetc trains, models/densenet121.isnet: torchvision's
DenseNet-121 with the paper's extra ReLU after each transition conv and dropout 0.5 before
the classifier, loaded with isnetc's weights; train mode (batch statistics, dropout on),
plain SGD with learning rate 1e-3 and momentum 0.99, gradient norm clipped to 1. One step
is zero_grad, forward, loss, backward, clip, update.

- pytorch: the standard classifier (the anchor of `isnetc bench --train --P 0`), built by
  anchors.py's paper_densenet121; the loss is cross-entropy.
- reference: the ISNet authors' own training step (the anchor of `--train --P 0.7`). DIR is
  a checkout of their code at the paper's version (commit 38f957c, 2023-02-07) with the two
  fixes of bench/reference_lrp.py, which change no amount of work. The model is their
  DenseNet with the classifier their training module builds (dropout 0.5, then the linear
  layer) wrapped in their `IsDense` (ε = 0.01, Zᴮ first layer, heatmaps on); the forward
  pass returns logits and all K heatmaps, and the loss is their training module's:
  (1 − P)·cross-entropy + P·LRPLossActivated(heatmaps, mask, E, eps), P = 0.7, E = 10,
  eps = 1e-4, backpropagated through classifier and LRP block alike.

Inputs are uniform in [0, 1], labels uniform over the classes and the foreground mask a
random half of the pixels (the same for the three channels), all drawn from seed 0; the
cost of a step does not depend on them. One warm-up step, then N timed steps. Prints one
JSON object: median seconds per step and this process's peak RSS.
"""
import argparse
import json
import re
import resource
import sys
import time
import warnings

import numpy as np

from anchors import paper_densenet121, read_safetensors

warnings.filterwarnings("ignore")

LEARNING_RATE, MOMENTUM, CLIP = 1e-3, 0.99, 1.0
P, E, LOSS_EPS = 0.7, 10.0, 1e-4  # the paper's heatmap-loss settings
LRP_EPSILON = 0.01


def load_state(model, weights, rename=lambda k: k):
    import torch

    state = {rename(k): torch.from_numpy(v) for k, v in read_safetensors(weights).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("num_batches_tracked")]
    assert not missing and not unexpected, (missing, unexpected)


def with_dropout(model):
    """Puts dropout 0.5 before the (loaded) linear classifier, as models/densenet121.isnet
    and the reference's training module have it."""
    import torch

    model.classifier = torch.nn.Sequential(torch.nn.Dropout(p=0.5), model.classifier)
    return model


def reference_isnet(reference, weights, classes):
    """The reference's IsDense around its DenseNet-121, and its function module."""
    import torch

    sys.path.insert(0, reference)
    import ISNetFunctions  # the reference's heatmap loss and LRP rules
    import ISNetLayers  # the reference's LRP block
    import LRPDenseNet  # the reference's DenseNet

    torch.backends.cudnn.deterministic = True  # the reference refuses to build without it
    model = LRPDenseNet.densenet121(num_classes=classes)
    # Legacy torchvision keys (denselayer1.norm.1.weight) become norm1.weight, as the reference renames them.
    legacy = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12])\.")
    load_state(model, weights, lambda k: legacy.sub(r"\1\2.", k))
    net = ISNetLayers.IsDense(with_dropout(model), e=LRP_EPSILON, heat=True, Zb=True)  # Zb: l = 0, h = 1
    return net, ISNetFunctions


def reference_loss(functions, logits, heatmaps, labels, masks):
    """The reference training module's ISNet loss: returns (total, classification, heatmap)."""
    import torch

    classification = torch.nn.functional.cross_entropy(logits, labels)
    heatmap = functions.LRPLossActivated(heatmaps, masks, eps=LOSS_EPS, E=E)
    return (1 - P) * classification + P * heatmap, classification, heatmap


def make_step(model, loss_of):
    """One training step of `model`: loss_of() runs the forward pass and returns the loss."""
    import torch

    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(parameters, lr=LEARNING_RATE, momentum=MOMENTUM, weight_decay=0)

    def step():
        optimizer.zero_grad()
        loss = loss_of()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, CLIP)
        optimizer.step()
        return float(loss.detach())

    return step


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("weights")
    parser.add_argument("--engine", choices=["pytorch", "reference"], required=True)
    parser.add_argument("--reference", help="checkout of the authors' ISNet code (engine reference)")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=3)
    args = parser.parse_args()
    if args.engine == "reference" and not args.reference:
        parser.error("--engine reference needs --reference DIR")

    import torch

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.random((args.batch, 3, args.size, args.size), dtype=np.float32))
    labels = torch.from_numpy(rng.integers(0, args.classes, args.batch))
    mask = rng.random((args.batch, 1, args.size, args.size)) < 0.5
    masks = torch.from_numpy(np.repeat(mask, 3, axis=1).astype(np.float32))

    if args.engine == "pytorch":
        model = paper_densenet121(args.classes)
        load_state(model, args.weights)
        model = with_dropout(model)
        model.train()
        step = make_step(model, lambda: torch.nn.functional.cross_entropy(model(x), labels))
    else:
        net, functions = reference_isnet(args.reference, args.weights, args.classes)
        net.train()

        def loss_of():
            logits, heatmaps = net(x)
            assert heatmaps.shape == (args.batch, args.classes, 3, args.size, args.size)
            return reference_loss(functions, logits, heatmaps, labels, masks)[0]

        step = make_step(net, loss_of)

    loss = step()  # warm-up
    times = []
    for _ in range(args.iterations):
        start = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - start)
    assert np.isfinite(loss), loss
    median = sorted(times)[len(times) // 2]
    print(json.dumps({
        "engine": args.engine, "batch": args.batch, "size": args.size, "iterations": args.iterations,
        "seconds_per_step": median, "loss": loss,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
