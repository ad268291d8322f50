"""The ISNet authors' own LRP block for the paper's DenseNet-121, timed the way
`isnetc bench --lrp` times itself: the reference anchor of bench/heatmap.

Usage: reference_lrp.py WEIGHTS.safetensors --reference DIR --batch B [--size S] [--classes K] [--threads 2] [--iterations N]

DIR is a checkout of the authors' PyTorch code at the paper's version (commit 38f957c,
2023-02-07) with the two fixes the golden fixtures were made with (fixtures/README.md:
consumer selection by the full dense-layer number, summing max unpooling); neither fix
changes the amount of work. The model is the reference's own DenseNet (the paper's extra
ReLU after each transition conv; torchvision parameter names, so isnetc's weights load as
they are), wrapped in its `IsDense` ISNet: eval mode, ε = 0.01, Zᴮ first layer with
l = 0, h = 1. One timed run is the reference's forward (its hooks store every activation)
followed by its LRP block, which returns all K heatmaps [B, K, 3, S, S] at once; it runs
under no_grad, as heatmaps for inference need no autograd graph. Prints one JSON object.
"""
import argparse
import re
import sys
import warnings

import numpy as np

from anchors import read_safetensors, report_heatmap_timing

warnings.filterwarnings("ignore")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("weights")
    parser.add_argument("--reference", required=True, help="checkout of the authors' ISNet code")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=3)
    args = parser.parse_args()

    import torch

    sys.path.insert(0, args.reference)
    import ISNetLayers  # the reference's LRP block
    import LRPDenseNet  # the reference's DenseNet

    torch.set_num_threads(args.threads)
    torch.backends.cudnn.deterministic = True  # the reference refuses to build without it
    model = LRPDenseNet.densenet121(num_classes=args.classes)
    # Legacy torchvision keys (denselayer1.norm.1.weight) become norm1.weight, as the reference renames them.
    legacy = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12])\.")
    state = {legacy.sub(r"\1\2.", k): torch.from_numpy(v) for k, v in read_safetensors(args.weights).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("num_batches_tracked")]
    assert not missing and not unexpected, (missing, unexpected)
    net = ISNetLayers.IsDense(model, e=0.01, heat=True, Zb=True)  # Zb: l = 0, h = 1
    net.eval()
    x = torch.from_numpy(np.random.default_rng(0).random((args.batch, 3, args.size, args.size), dtype=np.float32))

    def heatmaps():
        with torch.no_grad():
            logits, maps = net(x)
        assert maps.shape == (args.batch, args.classes, 3, args.size, args.size)
        return maps

    report_heatmap_timing("reference", heatmaps, args.batch, args.classes, args.iterations)


if __name__ == "__main__":
    main()
