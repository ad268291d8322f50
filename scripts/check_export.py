"""Checks `isnetc export --format onnx` against isnetc itself (run by scripts/check-export).

For every model in models/ and the reference fixtures: exports the deployment graph and
the heatmap graph, checks both files with onnx.checker (full_check), runs them in ONNX
Runtime on seeded inputs and compares with `isnetc run --strip-lrp` (logits) and
`isnetc heatmap --format safetensors` (raw maps, [C, H, W] per class) on the same inputs.
Prints one line per check, `PASS|FAIL name: measured (bound)`, then `N passed, N failed`.

Bounds: logits max |ONNX − isnetc| / max |logit| ≤ 1e-5; heatmaps ‖ONNX − isnetc‖₂ / ‖isnetc‖₂
≤ 1e-4 per sample and class. Both graphs compute the same operations in float32 in a
different summation order (ONNX Runtime's convolutions against isnetc's GEMM, Winograd and
direct kernels); the logits' difference is a few float32 roundings of a sum over
thousands of terms (~1e-7 relative), the heatmaps' larger because the ε-rule divides by
pre-activations that can be small (docs/lrp.md measures one ulp of input change moving
deep's heatmaps by 0.8e-4 at the worst element; the L2 norm over a map is far below that).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from safetensors.numpy import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOGIT_BOUND = 1e-5
HEATMAP_BOUND = 1e-4
CLASSES = 3

# Model, input size (None: the model's own: 224x224 for ResNet-18 and the DenseNets).
# Every model runs with 3 classes (the heatmap graph computes one map per class).
MODELS = [
    ("tiny", None, None),
    ("deep", None, None),
    ("vgg_small", None, None),
    ("vgg_small_nobn", None, None),
    ("resnet18", None, None),
    ("densenet121", None, None),
    ("densenet169", None, None),
    ("densenet201", None, None),
    ("ag_sononet_small", None, None),
    ("unet_tiny", None, None),
    ("ag_sononet", 64, "64x64 (16.5 GMAC per image at its 224x224)"),
]
# Without a float64 reference, the floor of a float32 comparison is measured: how far the
# maps move when every input value moves by one float32 ulp. Two float32 evaluations in
# different orders differ by their rounding errors, each layer's of the size of such a
# perturbation; above the bound, a difference within FLOOR_FACTOR times it is that floor.
FLOOR_FACTOR = 4
FIXTURES = ["tiny", "deep"]


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def report(self, ok, name, detail):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)

    def bound(self, name, value, bound, what, floor=None, ties=None):
        """floor: for a fixture with a float64 reference, (isnetc's error against it, ONNX
        Runtime's error against it). Above the bound the check still passes when ONNX
        Runtime is at least as close to the float64 result as isnetc: the two then differ
        by float32 rounding in different orders, the floor of any float32 comparison."""
        ok = bool(np.isfinite(value) and value <= bound)
        detail = f"{what} {value:.2e} (bound {bound:.0e})"
        if not ok and ties:
            sample, gap, pool, c, h, w = ties[0]
            ok = bool(np.isfinite(value))
            detail += (f" (max-pool near-tie: sample {sample}, pool {pool}, channel {c}, window ({h},{w}): its two largest "
                       f"values differ by {gap:.1e} relative, within the engines' float32 differences; winner-take-all "
                       f"routes the relevance to either; {len(ties)} such window(s))")
        elif floor is not None and floor[0] == "ulp":
            sensitivity = floor[1]
            detail += f"; maps' change under a one-ulp input change {sensitivity:.2e}"
            if not ok and np.isfinite(value) and value <= FLOOR_FACTOR * sensitivity:
                ok = True
                detail += f" (float32 floor: within {FLOOR_FACTOR}x of it)"
        elif floor is not None:
            ours, theirs = floor
            detail += f"; against the float64 reference: isnetc {ours:.2e}, ONNX Runtime {theirs:.2e}"
            if not ok and np.isfinite(value) and theirs <= ours:
                ok = True
                detail += " (float32 floor: ONNX Runtime is as exact as isnetc)"
        self.report(ok, name, detail)


def isnetc(binary, *args, check=True):
    result = subprocess.run([binary, *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"isnetc {' '.join(args)} failed:\n{result.stderr}")
    return result


def session(path, threads=2):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def logit_error(ours, theirs):
    """Max |difference| relative to the largest |logit| of `ours` (the reference side)."""
    return float(np.abs(ours - theirs).max() / np.abs(ours).max())


def max_pool_near_ties(path, x, gap=1e-5):
    """The max-pool windows of ONNX Runtime's forward pass whose two largest values differ
    by less than `gap` relative to the larger, per sample: (sample, relative gap, pool,
    channel, row, column), smallest gaps first. The engines' forward values agree to about
    1e-6 relative (the logits' measured agreement); within ten times that, float32
    rounding can make winner-take-all route a window's relevance to another position."""
    model = onnx.load(path)
    pools = [n for n in model.graph.node if n.op_type == "MaxPool"]
    for n in pools:
        model.graph.output.append(onnx.helper.make_tensor_value_info(n.input[0], onnx.TensorProto.FLOAT, None))
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    values = s.run([n.input[0] for n in pools], {"input": x})
    ties = []
    for p, (node, a) in enumerate(zip(pools, values)):
        attrs = {at.name: list(at.ints) for at in node.attribute}
        (kh, kw), (sh, sw), pads = attrs["kernel_shape"], attrs.get("strides", [1, 1]), attrs.get("pads", [0, 0, 0, 0])
        padded = np.pad(a, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])), constant_values=-np.inf)
        windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
        flat = windows.reshape(*windows.shape[:4], -1)
        top = -np.sort(-flat, axis=-1)[..., :2]
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = (top[..., 0] - top[..., 1]) / np.abs(top[..., 0])
        rel = np.where((top[..., 0] > 0) & np.isfinite(rel), rel, np.inf)
        for index in zip(*np.nonzero(rel < gap)):
            ties.append((int(index[0]), float(rel[index]), p, *map(int, index[1:])))
    return sorted(ties, key=lambda t: t[1])


def heatmap_error(ours, theirs):
    """Worst relative L2 error over samples and classes; ours, theirs: [N, K, C, H, W]."""
    worst = 0.0
    for n in range(ours.shape[0]):
        for k in range(ours.shape[1]):
            norm = np.linalg.norm(ours[n, k])
            worst = max(worst, float(np.linalg.norm(ours[n, k] - theirs[n, k]) / (norm if norm > 0 else 1)))
    return worst


def isnetc_outputs(binary, model, model_args, weights, inputs_path, count, work, tag):
    """isnetc's logits [N, K] (deployment graph) and raw heatmaps [N, K, C, H, W]."""
    run = isnetc(binary, "run", model, *model_args, "--weights", weights, "--strip-lrp", "--batch", str(count), "--json", inputs_path)
    logits = np.array([r["logits"] for r in json.loads(run.stdout)["results"]], dtype=np.float32)
    out = os.path.join(work, f"maps-{tag}")
    isnetc(binary, "heatmap", model, *model_args, "--weights", weights, "--batch", str(count), "--format", "safetensors", "--out", out, inputs_path)
    stem = os.path.splitext(os.path.basename(inputs_path))[0]
    maps, heat_logits = [], []
    for n in range(count):
        f = load_file(os.path.join(out, f"{stem}_{n}.heatmaps.safetensors"))
        maps.append(np.stack([f[f"heatmap.{k}"] for k in range(len(f) - 1)]))
        heat_logits.append(f["logits"])
    return logits, np.stack(maps), np.stack(heat_logits)


def structure_checks(checks, name, path, graph, parameter_names):
    model = onnx.load(path)
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    domains = {n.domain for n in model.graph.node} - {"", "ai.onnx"}
    batch = model.graph.input[0].type.tensor_type.shape.dim[0]
    init = [t.name for t in model.graph.initializer]
    folded = re.compile(r"^(.+)\.(weight|bias)\+(.+)$")
    strange = [n for n in init if n not in parameter_names and not (folded.match(n) and f"{folded.match(n).group(3)}.weight" in parameter_names)]
    outputs = [o.name for o in model.graph.output]
    expected = ["logits"] if graph == "deploy" else ["logits", "heatmaps"]
    ok = opset >= 17 and not domains and batch.dim_param != "" and not strange and outputs == expected
    detail = f"opset {opset}, {len(init)} initializers named as the model's parameters" + (
        "" if not strange else f" except {strange[:3]}") + f", batch axis '{batch.dim_param}', outputs {outputs}" + (
        f", custom domains {domains}" if domains else "")
    checks.report(ok, f"{name} {graph} structure", detail)


def check_model(checks, binary, work, name, model, model_args, weights, x, label, parameter_names, reference=None):
    inputs_path = os.path.join(work, f"{label}.npy")
    np.save(inputs_path, x)
    logits, maps, heat_logits = isnetc_outputs(binary, model, model_args, weights, inputs_path, x.shape[0], work, label)
    for graph in ["deploy", "heatmaps"]:
        path = os.path.join(work, f"{label}.{graph}.onnx")
        isnetc(binary, "export", model, *model_args, "--weights", weights, "--graph", graph, "-o", path)
        try:
            onnx.checker.check_model(path, full_check=True)
            checks.report(True, f"{name} {graph} onnx.checker", "full_check passed")
        except Exception as error:  # noqa: BLE001 - any checker failure is a failed check
            checks.report(False, f"{name} {graph} onnx.checker", str(error).splitlines()[0])
        structure_checks(checks, name, path, graph, parameter_names)
        s = session(path)
        out = s.run(None, {"input": x})
        one = s.run(None, {"input": x[:1]})

        if graph == "deploy":
            ref = reference["logits"] if reference else None
            checks.bound(f"{name} deploy logits", logit_error(logits, out[0]), LOGIT_BOUND, "max error / max |logit|",
                         None if ref is None else (logit_error(ref, logits), logit_error(ref, out[0])))
            checks.bound(f"{name} deploy batch 1 (dynamic axis)", logit_error(logits[:1], one[0]), LOGIT_BOUND, "max error / max |logit|",
                         None if ref is None else (logit_error(ref[:1], logits[:1]), logit_error(ref[:1], one[0])))
        else:
            ref = reference["logits"] if reference else None
            checks.bound(f"{name} heatmaps logits", logit_error(heat_logits, out[0]), LOGIT_BOUND, "max error / max |logit|",
                         None if ref is None else (logit_error(ref, heat_logits), logit_error(ref, out[0])))
            ref = reference["heatmaps"] if reference else None
            nudged = s.run(None, {"input": np.nextafter(x, np.float32(np.inf))})[1]
            ulp = ("ulp", heatmap_error(out[1], nudged))
            def near_ties(ours, theirs, inputs):
                # The near-tied pooling windows of the samples over the bound, when every
                # such sample has one; otherwise None (no excuse).
                over = {n for n in range(len(inputs)) if heatmap_error(ours[n:n + 1], theirs[n:n + 1]) > HEATMAP_BOUND}
                if not over:
                    return None
                ties = [t for t in max_pool_near_ties(path, inputs) if t[0] in over]
                return ties if {t[0] for t in ties} == over else None

            checks.bound(f"{name} heatmaps maps", heatmap_error(maps, out[1]), HEATMAP_BOUND, "worst relative L2 error",
                         ulp if ref is None else (heatmap_error(ref, maps), heatmap_error(ref, out[1])), near_ties(maps, out[1], x))
            checks.bound(f"{name} heatmaps batch 1 (dynamic axis)", heatmap_error(maps[:1], one[1]), HEATMAP_BOUND, "worst relative L2 error",
                         ulp if ref is None else (heatmap_error(ref[:1], maps[:1]), heatmap_error(ref[:1], one[1])), near_ties(maps[:1], one[1], x[:1]))
    return logits, maps


def parameter_names_of(binary, model, model_args):
    text = isnetc(binary, "compile", model, *model_args, "--emit", "params").stdout
    return {line.split()[0] for line in text.splitlines() if line.strip()}


def explain_checks(checks, binary, work, model, weights, x, maps, logits):
    """--explain top and a list select the right maps from the same computation."""
    for explain, expected in [("top", maps[np.arange(len(x)), logits.argmax(axis=1)][:, None]), ("2,0", maps[:, [2, 0]])]:
        path = os.path.join(work, f"explain-{explain.replace(',', '_')}.onnx")
        isnetc(binary, "export", model, "--weights", weights, "--graph", "heatmaps", "--explain", explain, "-o", path)
        out = session(path).run(None, {"input": x})[1]
        ok_shape = out.shape == expected.shape
        error = heatmap_error(expected, out) if ok_shape else float("inf")
        checks.bound(f"tiny heatmaps --explain {explain}", error, HEATMAP_BOUND, f"shape {list(out.shape)}, worst relative L2 error")


def external_data_check(checks, binary, work, model, weights, x, logits):
    path = os.path.join(work, "external.onnx")
    isnetc(binary, "export", model, "--weights", weights, "--graph", "deploy", "--external-data", "-o", path)
    m = onnx.load(path, load_external_data=False)
    external = sum(1 for t in m.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL)
    try:
        onnx.checker.check_model(path, full_check=True)
        out = session(path).run(None, {"input": x})[0]
        error = logit_error(logits, out)
        ok = external == len(m.graph.initializer) and os.path.exists(path + ".data") and error <= LOGIT_BOUND
        checks.report(ok, "tiny deploy --external-data", f"{external}/{len(m.graph.initializer)} initializers in {os.path.basename(path)}.data, logits error {error:.2e} (bound {LOGIT_BOUND:.0e})")
    except Exception as error:  # noqa: BLE001
        checks.report(False, "tiny deploy --external-data", str(error).splitlines()[0])


def refusal_check(checks, binary, work, weights_dir):
    """An op ONNX cannot express (adaptive pooling with unequal windows): an error naming
    the op and its source position, exit status 1, no file."""
    model = os.path.join(work, "uneven.isnet")
    with open(model, "w") as f:
        f.write("isnet 1;\nmodel uneven(input: f32[3, 10, 10] in [0, 1], classes: int = 3) {\n"
                "  x = relu(conv(input, out: 4, k: 3, pad: 1) @ \"conv\");\n"
                "  x = adaptive_avgpool(x, out: 3);\n  x = flatten(x);\n"
                "  return linear(x, out: classes) @ \"fc\";\n}\n")
    weights = os.path.join(weights_dir, "uneven.safetensors")
    isnetc(binary, "init", model, "-o", weights, "--seed", "0")
    out = os.path.join(work, "uneven.onnx")
    result = isnetc(binary, "export", model, "--weights", weights, "--graph", "deploy", "-o", out, check=False)
    message = result.stderr.strip()
    ok = (result.returncode == 1 and f"{model}:4:7: cannot export op 'adaptive_avgpool'" in message
          and not os.path.exists(out) and not any(n.startswith(".uneven.onnx") for n in os.listdir(work)))
    checks.report(ok, "refusal of an inexpressible op", f"exit {result.returncode}, no file written: {not os.path.exists(out)}; {message.splitlines()[0] if message else ''}")


def segmentation_checks(checks, binary, work):
    """Segmentation heads: a segmenter's deploy graph has one output `segmentation`
    [N, 1, H, W]; a multi-task U-Net's deploy and heatmap graphs add it after their other
    outputs, and the two graphs (batch norms folded in one, not in the other) give the same
    maps; a heatmap graph of a segmenter is refused by name. isnetc prints no segmentation
    values to compare with (its `eval` reports IoU), so the check is the two lowerings'
    agreement and the logits and heatmaps beside them against isnetc's."""
    rng = np.random.default_rng(7)
    x = rng.random((2, 3, 64, 64), dtype=np.float32)
    for name, expected in [("unet_small", {"deploy": ["segmentation"]}),
                           ("multitask_unet_small", {"deploy": ["logits", "segmentation"], "heatmaps": ["logits", "heatmaps", "segmentation"]})]:
        model = os.path.join(ROOT, "models", f"{name}.isnet")
        weights = os.path.join(work, f"{name}.safetensors")
        isnetc(binary, "init", model, "-o", weights, "--seed", "0")
        maps = {}
        for graph, names in expected.items():
            path = os.path.join(work, f"{name}.{graph}.onnx")
            isnetc(binary, "export", model, "--weights", weights, "--graph", graph, "-o", path)
            onnx.checker.check_model(path, full_check=True)
            outputs = [o.name for o in onnx.load(path).graph.output]
            out = dict(zip(outputs, session(path).run(None, {"input": x})))
            shape = out["segmentation"].shape if "segmentation" in out else None
            checks.report(outputs == names and shape == (2, 1, 64, 64), f"{name} {graph} segmentation output", f"outputs {outputs}, segmentation {shape}")
            maps[graph] = out["segmentation"]
        if len(maps) == 2:
            difference = float(np.abs(maps["deploy"] - maps["heatmaps"]).max() / max(np.abs(maps["heatmaps"]).max(), 1e-30))
            checks.bound(f"{name} segmentation, folded against unfolded", difference, LOGIT_BOUND, "max error / max |logit|")
        else:
            result = isnetc(binary, "export", model, "--weights", weights, "--graph", "heatmaps", "-o", os.path.join(work, "refused.onnx"), check=False)
            checks.report(result.returncode == 1 and "segmentation model" in result.stderr, f"{name} heatmaps refused",
                          result.stderr.strip().splitlines()[0] if result.stderr.strip() else f"exit {result.returncode}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--isnetc", default=os.path.join(ROOT, ".build/release/isnetc"))
    parser.add_argument("--models", nargs="*", help="only these models (default: all)")
    args = parser.parse_args()
    checks = Checks()
    with tempfile.TemporaryDirectory() as work:
        for seed, (name, size, why) in enumerate(MODELS):
            rng = np.random.default_rng(seed)
            if args.models and name not in args.models:
                continue
            model = os.path.join(ROOT, "models", f"{name}.isnet")
            model_args = ["--classes", str(CLASSES)] + (["--input-size", f"{size},{size}"] if size else [])
            if why:
                print(f"note: {name} at {why}", flush=True)
            weights = os.path.join(work, f"{name}.safetensors")
            isnetc(args.isnetc, "init", model, *model_args, "-o", weights, "--seed", "0")
            dims = [int(d) for d in re.search(r"f32\[([0-9, ]+)\]", open(model).read()).group(1).split(",")]
            if size:
                dims[1:] = [size, size]
            x = rng.random((2, *dims), dtype=np.float32)
            started = time.time()
            logits, maps = check_model(checks, args.isnetc, work, name, model, model_args, weights, x, name, parameter_names_of(args.isnetc, model, model_args))
            print(f"note: {name} checked in {time.time() - started:.0f} s", flush=True)
            if name == "tiny":
                explain_checks(checks, args.isnetc, work, model, weights, x, maps, logits)
                external_data_check(checks, args.isnetc, work, model, weights, x, logits)
        for name in FIXTURES:
            if args.models and f"fixture-{name}" not in args.models and name not in args.models:
                continue
            model = os.path.join(ROOT, "models", f"{name}.isnet")
            fixture = os.path.join(ROOT, "Tests/Fixtures/reference")
            weights = os.path.join(fixture, f"{name}.weights.safetensors")
            reference = load_file(os.path.join(fixture, f"{name}.eval.safetensors"))
            x = reference["input"].astype(np.float32)
            check_model(checks, args.isnetc, work, f"fixture {name}", model, [], weights, x, f"fixture-{name}",
                        parameter_names_of(args.isnetc, model, []), reference={"logits": reference["logits"], "heatmaps": reference["heatmaps"]})
        if not args.models:
            refusal_check(checks, args.isnetc, work, work)
        if not args.models or "segmentation" in args.models:
            segmentation_checks(checks, args.isnetc, work)
    print(f"{checks.passed} passed, {checks.failed} failed")
    sys.exit(1 if checks.failed else 0)


if __name__ == "__main__":
    main()
