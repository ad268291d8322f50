"""zennit's LRP heatmaps for the paper's DenseNet-121, timed the way `isnetc bench --lrp`
times itself: the anchor of bench/heatmap.

Usage: zennit_lrp.py WEIGHTS.safetensors --batch B [--size S] [--classes K] [--threads 2] [--iterations N]

zennit's best mode for K heatmaps: one forward pass with the rules' hooks, then one
backward per class with the graph retained. Rules: Epsilon(0.01) for convolutions and
linear layers, ZBox(0, 1) for the first convolution, Pass for ReLUs; zennit has no
canonizer for DenseNet's pre-activation batch norms, so they pass relevance unchanged
(the same work as isnetc's batch-norm step, a different rule). Prints one JSON object.
"""
import argparse
import warnings

import numpy as np

from anchors import paper_densenet121, read_safetensors, report_heatmap_timing

warnings.filterwarnings("ignore")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("weights")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=3)
    args = parser.parse_args()

    import torch
    from torch import nn
    from zennit.composites import SpecialFirstLayerMapComposite
    from zennit.rules import Epsilon, Pass, ZBox
    from zennit.types import Convolution, Linear

    torch.set_num_threads(args.threads)
    model = paper_densenet121(args.classes)
    state = {k: torch.from_numpy(v) for k, v in read_safetensors(args.weights).items()}
    model.load_state_dict(state, strict=False)
    model.eval()
    composite = SpecialFirstLayerMapComposite(
        layer_map=[(nn.ReLU, Pass()), (Convolution, Epsilon(0.01)), (Linear, Epsilon(0.01))],
        first_map=[(Convolution, ZBox(low=0.0, high=1.0))])
    x = torch.from_numpy(np.random.default_rng(0).random((args.batch, 3, args.size, args.size), dtype=np.float32))

    def heatmaps():
        with composite.context(model) as modified:
            inp = x.clone().requires_grad_(True)
            scores = modified(inp)
            maps = []
            for k in range(args.classes):
                start = torch.zeros_like(scores)
                start[:, k] = scores[:, k].detach()
                (grad,) = torch.autograd.grad(scores, inp, grad_outputs=start, retain_graph=k + 1 < args.classes)
                maps.append(grad)  # zennit's rules return relevance as the input's gradient
            return torch.stack(maps, 1)

    report_heatmap_timing("zennit", heatmaps, args.batch, args.classes, args.iterations)


if __name__ == "__main__":
    main()
