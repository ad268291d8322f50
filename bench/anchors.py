"""The anchors of bench/infer: the paper's DenseNet in PyTorch (eager) and in ONNX Runtime,
with the same weights isnetc runs, timed the way `isnetc bench` times itself.

Usage: anchors.py WEIGHTS.safetensors --export MODEL.onnx [--classes K]
       anchors.py WEIGHTS.safetensors --engine torch --batch B --size S [--threads 2] [--iterations N]
       anchors.py MODEL.onnx --engine onnxruntime --batch B --size S [--threads 2] [--iterations N]
       (either engine) ... --logits-of INPUT.npy   prints the logits instead of timing
Prints one JSON object: ms per batch and image (median), images/s, peak RSS of this
process. Each engine runs in its own process, and ONNX Runtime's without torch imported,
so each peak RSS is the engine's own.
"""
import argparse
import json
import os
import resource
import struct
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        assert info["dtype"] == "F32", name
        out[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"]).copy()
    return out


def report_heatmap_timing(engine, run, batch, classes, iterations):
    """Times `run` (one warm-up, then `iterations` runs) and prints the heatmap anchors'
    JSON line: median ms per batch and per heatmap, and this process's peak RSS."""
    run()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    median = sorted(times)[len(times) // 2]
    print(json.dumps({
        "engine": engine, "batch": batch, "ms_per_batch": median * 1e3,
        "ms_per_heatmap": median * 1e3 / (batch * classes),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def paper_densenet121(classes):
    """torchvision's densenet121 with the ISNet paper's extra ReLU after each transition
    conv (its parameter names are unchanged, so isnetc's weights load as they are)."""
    import torch
    import torchvision

    model = torchvision.models.densenet121(weights=None, num_classes=classes)
    for name, module in model.features.named_children():
        if name.startswith("transition"):
            module.add_module("relu2", torch.nn.ReLU(inplace=False))
            # Reorder so the ReLU follows the conv and precedes the pool.
            pool = module.pool
            del module.pool
            module.add_module("pool", pool)
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model", help="weights (.safetensors) for torch and --export, .onnx for onnxruntime")
    parser.add_argument("--engine", choices=["torch", "onnxruntime"])
    parser.add_argument("--export", help="write the model as ONNX to this path")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--logits-of", help="print the logits of this .npy input instead of timing")
    args = parser.parse_args()

    if args.logits_of:
        x = np.load(args.logits_of)
    else:
        x = np.random.default_rng(0).random((args.batch, 3, args.size, args.size), dtype=np.float32)

    if args.engine == "onnxruntime":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])

        def run():
            return session.run(None, {"input": x})[0]
    else:
        import torch

        torch.set_num_threads(args.threads)
        model = paper_densenet121(args.classes)
        state = {k: torch.from_numpy(v) for k, v in read_safetensors(args.model).items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [m for m in missing if not m.endswith("num_batches_tracked")]
        assert not missing and not unexpected, (missing, unexpected)
        model.eval()
        if args.export:
            torch.onnx.export(model, torch.from_numpy(x), args.export, input_names=["input"],
                              output_names=["logits"], dynamic_axes={"input": {0: "batch", 2: "h", 3: "w"}},
                              opset_version=17, dynamo=False)
            return
        tensor = torch.from_numpy(x)

        def run():
            with torch.no_grad():
                return model(tensor).numpy()

    if args.logits_of:
        print(json.dumps({"logits": run().tolist()}))
        return
    run()
    times = []
    for _ in range(args.iterations):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    median = sorted(times)[len(times) // 2]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "engine": args.engine, "batch": args.batch, "size": args.size,
        "ms_per_batch": median * 1e3, "ms_per_image": median * 1e3 / args.batch,
        "images_per_second": args.batch / median, "peak_rss_mib": peak,
    }))


if __name__ == "__main__":
    sys.exit(main())
