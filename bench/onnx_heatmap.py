"""ONNX Runtime running isnetc's exported heatmap graph (`isnetc export --graph heatmaps`):
the anchor of bench/heatmap that serves heatmaps without isnetc. Timed the way
`isnetc bench --lrp` times itself.

Usage: onnx_heatmap.py MODEL.onnx --batch B [--threads 2] [--iterations N]
Prints one JSON object (see anchors.report_heatmap_timing).
"""
import argparse

import numpy as np
import onnxruntime as ort

from anchors import report_heatmap_timing


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=3)
    args = parser.parse_args()
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    dims = [d for d in session.get_inputs()[0].shape[1:]]
    classes = session.get_outputs()[1].shape[1]
    x = np.random.default_rng(0).random((args.batch, *dims), dtype=np.float32)
    report_heatmap_timing("onnxruntime", lambda: session.run(None, {"input": x}), args.batch, classes, args.iterations)


if __name__ == "__main__":
    main()
