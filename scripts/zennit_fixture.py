#!/usr/bin/env python3
"""Make the zennit fixture: LRP heatmaps of models/vgg_small_nobn.isnet computed by zennit.

Usage: scripts/zennit_fixture.py OUT_DIR   (needs torch, zennit and safetensors; bench/infer's
virtual environment has them after `bench/.venv/bin/pip install zennit safetensors`)

Writes OUT_DIR/vgg_small_nobn.weights.safetensors (F16 values, so they are exact in any
precision) and OUT_DIR/vgg_small_nobn.zennit.safetensors: `input` [2,3,32,32] (F32),
`logits` [2,3] and `heatmaps` [2,3,3,32,32] (F64). The network is vgg_small_nobn at 32x32
with 3 classes, computed in float64. zennit's rules: Epsilon(0.01) for every conv and
linear layer, ZBox(0, 1) with stabiliser 0.01 for the first conv, Pass for ReLUs, max
pooling by its gradient (winner-take-all). Heatmap k starts from logit k alone.

zennit's ZBox subtracts conv(L, W+, b+) and conv(H, W-, b-); the ISNet reference (and
isnetc) subtract conv(L, W+, l*b+) and conv(H, W-, h*b-). The conventions agree when the
first conv has no bias, so its bias is zero here; every other bias is random.
"""
import sys

import torch
from safetensors.torch import save_file
from torch import nn
from zennit.composites import LayerMapComposite, SpecialFirstLayerMapComposite
from zennit.rules import Epsilon, Pass, ZBox
from zennit.types import Convolution, Linear


def vgg_small_nobn(classes=3, size=32):
    features = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(), nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    )
    flat = 128 * (size // 16) ** 2
    classifier = nn.Sequential(nn.Linear(flat, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, classes))
    model = nn.Module()
    model.features = features
    model.classifier = classifier
    model.forward = lambda x: classifier(torch.flatten(features(x), 1))
    return model


def main(out):
    torch.manual_seed(0)
    model = vgg_small_nobn()
    with torch.no_grad():
        for name, p in model.named_parameters():  # activations neither vanish nor drown in biases
            if name.endswith("bias"):
                p.uniform_(-0.002, 0.002)
            else:
                p.mul_(2.5)
        model.features[0].bias.zero_()
        for p in model.parameters():  # exactly representable in float16
            p.copy_(p.half().float())
    model = model.double().eval()
    x = torch.rand(2, 3, 32, 32).float().double()

    layer_map = [(nn.ReLU, Pass()), (Convolution, Epsilon(epsilon=0.01)), (Linear, Epsilon(epsilon=0.01))]
    composite = SpecialFirstLayerMapComposite(
        layer_map=layer_map, first_map=[(Convolution, ZBox(low=0.0, high=1.0, stabilizer=0.01))])
    with torch.no_grad():
        logits = model.forward(x)
    heatmaps = torch.zeros(2, 3, 3, 32, 32, dtype=torch.float64)
    with composite.context(model) as modified:
        for k in range(3):
            inp = x.clone().requires_grad_(True)
            scores = modified.forward(inp)
            start = torch.zeros_like(scores)
            start[:, k] = scores[:, k].detach()
            (grad,) = torch.autograd.grad(scores, inp, grad_outputs=start)
            heatmaps[:, k] = grad  # zennit's rules return relevance as the input's gradient
    weights = {name: p.detach().half().contiguous() for name, p in model.named_parameters()}
    save_file(weights, f"{out}/vgg_small_nobn.weights.safetensors")
    save_file({"input": x.float(), "logits": logits, "heatmaps": heatmaps}, f"{out}/vgg_small_nobn.zennit.safetensors",
              metadata={"tool": "zennit", "rules": "Epsilon(0.01); first conv ZBox(0, 1, stabilizer 0.01)"})
    print("logits", logits.tolist())
    print("heatmap sums", heatmaps.sum(dim=(2, 3, 4)).tolist())


if __name__ == "__main__":
    main(sys.argv[1])
