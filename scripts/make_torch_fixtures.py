#!/usr/bin/env python3
"""Make Tests/Fixtures/torch: small checkpoints written by torch.save, each beside the same
weights as safetensors, for the tests of isnetc's native .pth reader (which need neither
Python nor torch).

Usage: scripts/make_torch_fixtures.py [OUT_DIR]   (default: Tests/Fixtures/torch; needs torch
and safetensors: `python3 -m venv venv && venv/bin/pip install torch safetensors`)

Every file is described in Tests/Fixtures/torch/README.md. The values are drawn from
torch.manual_seed(0), so a second run writes the same bytes, except in the legacy-format
files, whose storage keys are memory addresses.
"""
import collections
import os
import pickle
import sys

import torch
from safetensors.torch import save_file
from torch import nn

# What the malicious checkpoints would run if unpickled by Python: it creates this file in the
# current directory. The tests check that the file never appears.
PAYLOAD_MARKER = "isnetc-pickle-payload-ran"


class DenseLayer(nn.Module):
    """torchvision's _DenseLayer: BN-ReLU-conv1x1, BN-ReLU-conv3x3."""

    def __init__(self, channels, growth, bn_size):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)


def tiny_densenet():
    """models/tiny.isnet's parameters, named as torchvision's DenseNet names them (growth 8,
    bn_size 2, blocks of 2 and 3 layers, 16 initial features, 3 classes)."""
    features = nn.Module()
    features.conv0 = nn.Conv2d(3, 16, 7, stride=2, padding=3, bias=False)
    features.norm0 = nn.BatchNorm2d(16)
    channels = 16
    for b, layers in enumerate([2, 3], start=1):
        block = nn.Module()
        for i in range(1, layers + 1):
            block.add_module(f"denselayer{i}", DenseLayer(channels, 8, 2))
            channels += 8
        features.add_module(f"denseblock{b}", block)
        if b == 1:
            transition = nn.Module()
            transition.norm = nn.BatchNorm2d(channels)
            transition.conv = nn.Conv2d(channels, channels // 2, 1, bias=False)
            features.transition1 = transition
            channels //= 2
    features.norm5 = nn.BatchNorm2d(channels)
    model = nn.Module()
    model.features = features
    model.classifier = nn.Linear(channels, 3)
    # Batch norms with non-trivial statistics and affine parameters, as after training.
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0, 0.1)
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.num_batches_tracked.fill_(1234)
    return model


def legacy_densenet_key(name):
    """The key spelling of torchvision's ImageNet DenseNet checkpoints: `norm1` -> `norm.1`."""
    parts = name.split(".")
    if len(parts) >= 3 and parts[-3].startswith("denselayer") and parts[-2][:-1] in ("norm", "conv"):
        parts[-2:-1] = [parts[-2][:-1], parts[-2][-1]]
    return ".".join(parts)


def small_state():
    """A few float32 tensors of several ranks, a scalar and an empty tensor."""
    return collections.OrderedDict(
        [
            ("conv.weight", torch.randn(4, 3, 3, 3)),
            ("conv.bias", torch.randn(4)),
            ("fc.weight", torch.randn(2, 4) * 1000),
            ("scale", torch.tensor(0.3333333432674408)),
            ("empty", torch.zeros(0, 3)),
        ]
    )


def strided_state():
    """Tensors whose strides are not row-major, or that share a storage."""
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 7
    cube = torch.randn(2, 3, 4, 5)
    return collections.OrderedDict(
        [
            ("transposed", base.t()),
            ("every_other_column", base[:, ::2]),
            ("offset_rows", base[1:3]),
            ("expanded", torch.randn(1, 5).expand(3, 5)),
            ("permuted", cube.permute(3, 1, 0, 2)),
            ("column", base[:, 4]),
        ]
    )


class Payload:
    """Unpickled by Python, this runs a shell command. isnetc must refuse it."""

    def __reduce__(self):
        return (os.system, (f"touch {PAYLOAD_MARKER}",))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "Tests/Fixtures/torch"
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)

    # The DenseNet: torchvision's format (legacy keys, num_batches_tracked, state_dict's
    # _metadata), zip and legacy serialisation; the twin holds the current names, float32.
    state = tiny_densenet().state_dict()
    legacy = collections.OrderedDict((legacy_densenet_key(k), v) for k, v in state.items())
    legacy._metadata = state._metadata
    torch.save(legacy, f"{out}/tiny.pth")
    torch.save(legacy, f"{out}/tiny.legacy.pth", _use_new_zipfile_serialization=False)
    save_file({k: v for k, v in state.items() if v.is_floating_point()}, f"{out}/tiny.safetensors")

    # Small tensors in float32 (pickle protocol 4; legacy format), float16, bfloat16, float64.
    small = small_state()
    save_file(dict(small), f"{out}/small.safetensors")
    torch.save(small, f"{out}/small.protocol4.pth", pickle_protocol=4)
    torch.save(small, f"{out}/small.legacy.pth", _use_new_zipfile_serialization=False)
    for dtype, name in [(torch.float16, "f16"), (torch.bfloat16, "bf16")]:
        converted = collections.OrderedDict((k, v.to(dtype)) for k, v in small.items())
        torch.save(converted, f"{out}/small.{name}.pth")
        save_file(dict(converted), f"{out}/small.{name}.safetensors")
    wide = collections.OrderedDict((k, v.double() + 1e-9 * torch.randn(v.shape, dtype=torch.float64)) for k, v in small.items())
    torch.save(wide, f"{out}/small.f64.pth")
    save_file(dict(wide), f"{out}/small.f64.safetensors")

    # Lightning-style: the state dict under "state_dict", keys prefixed by DDP's "module.",
    # next to the training state Lightning keeps.
    lightning = {
        "epoch": 3,
        "global_step": 120,
        "pytorch-lightning_version": "2.4.0",
        "state_dict": collections.OrderedDict((f"module.{k}", v) for k, v in small.items()),
        "optimizer_states": [
            {
                "state": {0: {"momentum_buffer": torch.ones(4)}},
                "param_groups": [{"lr": 0.01, "momentum": 0.9, "nesterov": False, "params": [0, 1]}],
            }
        ],
        "hyper_parameters": {"lr": 0.01, "arch": "tiny", "betas": (0.9, 0.999), "seed": None},
    }
    torch.save(lightning, f"{out}/lightning.pth")

    # Non-contiguous strides; the twin holds contiguous copies.
    strided = strided_state()
    torch.save(strided, f"{out}/strided.pth")
    save_file({k: v.contiguous() for k, v in strided.items()}, f"{out}/strided.safetensors")

    # Checkpoints whose pickle calls os.system: zip, legacy, and a bare protocol-4 pickle.
    torch.save({"state_dict": Payload()}, f"{out}/malicious.pth")
    torch.save({"state_dict": Payload()}, f"{out}/malicious.legacy.pth", _use_new_zipfile_serialization=False)
    with open(f"{out}/malicious.protocol4.pth", "wb") as f:
        pickle.dump(Payload(), f, protocol=4)

    # Not state_dicts: a whole module (torch.save(model)) and a TorchScript archive.
    linear = nn.Linear(2, 3)
    torch.save(linear, f"{out}/whole-model.pth")
    torch.jit.save(torch.jit.script(linear), f"{out}/torchscript.pt")

    print(f"torch {torch.__version__}: wrote", ", ".join(sorted(os.listdir(out))))


if __name__ == "__main__":
    main()
