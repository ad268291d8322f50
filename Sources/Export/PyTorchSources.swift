/// The fixed files of an exported PyTorch package (PyTorchExport.swift): the LRP
/// operations, the ISNet loss, dataset folders and the training entry point. Written as
/// Python, kept here so the isnetc binary carries them.

import Training

enum PyTorchSources {
  /// The placeholders of `train.py`'s defaults (each `@NAME@` in its text) and their values
  /// from `settings`, as Python literals.
  static func trainDefaults(_ settings: TrainingSettings) -> [String: String] {
    let distillation = DistillationSettings(teacherModel: "", teacherWeights: "")
    return [
      "P": "\(settings.heatmapWeight)", "AUTO_BATCHES": "\(settings.autoScaleBatches)",
      "STABILIZER": "\(settings.heatmapStabilizer)", "NORM": settings.heatmapNormalization.rawValue,
      "EPOCHS": "\(settings.epochs)", "WARMUP": "\(settings.warmupEpochs)", "BATCH": "\(settings.batchSize)",
      "OPTIMIZER": settings.optimizer.kind.rawValue, "LOSS": settings.loss.rawValue, "LR": "\(settings.optimizer.learningRate)",
      "MOMENTUM": "\(settings.optimizer.momentum)", "CLIP": "\(settings.optimizer.clipNorm ?? 0)",
      "WEIGHT_DECAY": "\(settings.optimizer.weightDecay)", "AUGMENT": settings.augment ? "True" : "False",
      "SEED": "\(settings.seed)", "HEATMAPS": settings.selection.rawValue, "GWRP_E": "\(settings.gwrpScale)",
      "DECAY": "\(settings.gwrpDecay)", "BACKGROUND_WEIGHT": "\(settings.backgroundWeight)",
      "FOREGROUND_WEIGHT": "\(settings.foregroundWeight)", "BAND_PENALTY": settings.bandPenalty.rawValue,
      "BEST_BY": settings.bestBy.rawValue, "TEACHER_INPUT": distillation.teacherInput.rawValue,
      "EXPLAIN": distillation.classes.rawValue,
      "EPSILON_RANGE": distillation.epsilonRange.map { $0.map { "\($0)" }.joined(separator: ",") } ?? "none",
      "DISTILL_CE": "\(distillation.crossEntropyWeight)", "FREEZE_HEAD": distillation.freezeHead ? "True" : "False",
      "PYRAMID": distillation.pyramid ? "True" : "False", "DISTILL_NORM": distillation.normalization.rawValue,
      "DISTILL_LR": "\(DistillationSettings.learningRate)", "EXCHANGE": "\(TrainingSettings.defaultBackgroundExchange)",
      "LR_SCHEDULE": settings.learningRateSchedule.rawValue,
      "STANDARD_LR": "\(TrainingSettings.defaultOptimizer(isnet: false).learningRate)",
      "STANDARD_SCHEDULE": TrainingSettings.defaultSchedule(isnet: false).rawValue,
    ]
  }
  static let trainDefaultNames = [
    "LOSS", "P", "AUTO_BATCHES", "STABILIZER", "NORM", "EPOCHS", "WARMUP", "BATCH", "OPTIMIZER", "LR", "MOMENTUM", "CLIP",
    "WEIGHT_DECAY", "AUGMENT", "SEED", "HEATMAPS", "GWRP_E", "DECAY", "BACKGROUND_WEIGHT", "FOREGROUND_WEIGHT",
    "BAND_PENALTY", "BEST_BY", "TEACHER_INPUT", "EXPLAIN", "EPSILON_RANGE", "DISTILL_CE", "FREEZE_HEAD", "PYRAMID",
    "DISTILL_NORM", "DISTILL_LR", "EXCHANGE", "LR_SCHEDULE", "STANDARD_LR", "STANDARD_SCHEDULE",
  ]

  /// The support files, `train.py` with its defaults filled in (every placeholder must be given).
  static func files(trainDefaults values: [String: String]) throws(ExportError) -> [(String, String)] {
    var text = train
    for key in trainDefaultNames {
      guard let value = values[key] else { throw ExportError("the PyTorch trainer's default '\(key)' was not given") }
      text = text.replacingOccurrences(of: "@\(key)@", with: value)
    }
    return [("ops.py", ops), ("loss.py", loss), ("data.py", data), ("distill.py", distill), ("train.py", text)]
  }

  static let ops = #"""
"""The operations the generated model.py calls: parameter modules under torchvision names,
batch norm in training and evaluation (synchronised across processes under DDP), and the
LRP block's operations (paper sections 4.4-4.7) written as ordinary differentiable torch
operations on the classifier's own parameters.

Layout: forward values are [N, ...]; relevance is [N, K, ...], one slice per explained class.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

# The process group batch norms and the heatmap loss synchronise over (None: one process).
_SYNC = {"group": None}


def set_sync_group(group):
    """Batch statistics and the heatmap normalisation over every process of `group` (DDP)."""
    _SYNC["group"] = group


def sync_group():
    return _SYNC["group"]


def all_sum(t):
    """The sum of `t` over the processes of the sync group, differentiable (autograd sends
    each process its share of the gradient); `t` itself in one process."""
    group = _SYNC["group"]
    if group is None:
        return t
    import warnings
    import torch.distributed.nn.functional as dist_nn
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the autograd-aware collective
        return dist_nn.all_reduce(t, group=group)


def all_sum_detached(t):
    group = _SYNC["group"]
    if group is None:
        return t
    import torch.distributed as dist
    t = t.clone()
    dist.all_reduce(t, group=group)
    return t


class Affine(nn.Module):
    """A convolution's or linear layer's parameters: `weight` and optional `bias`."""

    def __init__(self, shape, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(shape))
        if bias:
            self.bias = nn.Parameter(torch.zeros(shape[0]))
        else:
            self.register_parameter("bias", None)


class BatchNorm(nn.Module):
    """A batch norm's parameters and buffers, as torchvision's BatchNorm2d names them."""

    def __init__(self, channels, eps, momentum):
        super().__init__()
        self.eps = eps
        self.momentum = momentum
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))


def place(root, name, module):
    """Registers `module` under the dotted torchvision name (containers made as needed)."""
    parts = name.split(".")
    parent = root
    for part in parts[:-1]:
        child = parent._modules.get(part)
        if child is None:
            child = nn.Module()
            parent.add_module(part, child)
        parent = child
    parent.add_module(parts[-1], module)
    root.layers[name] = module


def _channel_shape(x):
    return [1, -1] + [1] * (x.dim() - 2)


def _moments64(x):
    """The batch's per-channel mean and unbiased variance in float64, over every process."""
    dims = [0] + list(range(2, x.dim()))
    x = x.detach().double()
    count = all_sum_detached(torch.tensor(float(x.numel() // x.shape[1]), dtype=torch.float64, device=x.device))
    mean = all_sum_detached(x.sum(dims)) / count
    centred = x - mean.view(_channel_shape(x))
    variance = all_sum_detached((centred * centred).sum(dims)) / torch.clamp(count - 1, min=1)
    return mean, variance, count


def batch_norm(bn, x, training, stats, name):
    """Batch norm. Training: the batch's statistics (over every process under DDP), running
    statistics updated with the unbiased variance (PyTorch's rule). With `stats` (the LRP
    block runs), records what the block fuses: (mean, 1/sqrt(var + eps)) with the batch's
    unbiased variance in training (detached, as the reference), the running ones in
    evaluation."""
    shape = _channel_shape(x)
    # A frozen sub-model's norm (its γ fixed: --freeze) runs as in evaluation, as isnetc's.
    if not training or not bn.weight.requires_grad:
        y = F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
        if stats is not None:
            stats[name] = (bn.running_mean, torch.rsqrt(bn.running_var + bn.eps))
        return y
    with torch.no_grad():
        bn.num_batches_tracked.add_(1)
    if _SYNC["group"] is None:
        y = F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, True, bn.momentum, bn.eps)
        if stats is not None:
            mean, variance, _ = _moments64(x)
            stats[name] = (mean.to(x.dtype), torch.rsqrt(variance + bn.eps).to(x.dtype))
        return y
    # Synchronised: the statistics of the whole batch, differentiable through the sums.
    dims = [0] + list(range(2, x.dim()))
    count = float(all_sum_detached(torch.tensor(float(x.numel() // x.shape[1]), device=x.device)).item())
    mean = all_sum(x.sum(dims)) / count
    centred = x - mean.view(shape)
    variance = all_sum((centred * centred).sum(dims)) / count
    y = centred * (bn.weight * torch.rsqrt(variance + bn.eps)).view(shape) + bn.bias.view(shape)
    mean64, unbiased64, _ = _moments64(x)
    with torch.no_grad():
        bn.running_mean.mul_(1 - bn.momentum).add_(bn.momentum * mean64.to(x.dtype))
        bn.running_var.mul_(1 - bn.momentum).add_(bn.momentum * unbiased64.to(x.dtype))
    if stats is not None:
        stats[name] = (mean64.to(x.dtype), torch.rsqrt(unbiased64 + bn.eps).to(x.dtype))
    return y


def batch_norm_view(bn, x, stats):
    """The batch norm as the LRP block reads its output z: gamma*(x - mu)/sigma + beta with the
    recorded statistics and beta detached (only gamma and x receive gradients)."""
    mean, inverse = stats
    scale = bn.weight * inverse
    shift = bn.bias.detach() - mean * scale
    shape = _channel_shape(x)
    return x * scale.view(shape) + shift.view(shape)


def conv2d_accurate(x, weight, bias, stride, padding, dilation, groups):
    """A convolution accumulated in float64 and rounded to x's type (the first layer: its
    output's rounding is what the ISNet gradient is most sensitive to; float64 stays)."""
    if x.dtype == torch.float64:
        return F.conv2d(x, weight, bias, stride, padding, dilation, groups)
    wide = lambda t: None if t is None else t.double()
    return F.conv2d(x.double(), wide(weight), wide(bias), stride, padding, dilation, groups).to(x.dtype)


def through(value, view):
    """`value`'s numbers with `view`'s gradient."""
    return value.detach() + (view - view.detach())


def step(x):
    """The Heaviside step, 1 where x > 0 (isnetc's `step`): flat, so no gradient."""
    return (x > 0).to(x.dtype)


def dropout(x, p, training):
    """Inverted dropout; returns the output and the mask (None when inactive)."""
    if not training or p <= 0:
        return x, None
    if p >= 1:
        mask = torch.zeros_like(x)
    else:
        mask = (torch.rand_like(x) >= p).to(x.dtype) / (1 - p)
    return x * mask, mask


def lrp_seed(logits, explain=None):
    """[N, K] -> [N, K', K]: row j of sample n holds logit j alone, for every class (K' = K,
    `explain` None) or for the class explain[n] (K' = 1; `explain` may be a function of
    the detached logits giving the classes, e.g. a stochastic choice)."""
    if explain is None:
        return torch.diag_embed(logits)
    if callable(explain):
        explain = explain(logits.detach())
    pick = F.one_hot(explain.long().to(logits.device), logits.shape[1]).to(logits.dtype)
    return (pick * logits).unsqueeze(1)


def stabilize(z, epsilon):
    """z + eps*sign(z) with sign(0) = +1 (the epsilon-rule's denominator, eq. 2); `epsilon`
    a number or one per sample ([N], along z's first axis)."""
    if torch.is_tensor(epsilon):
        epsilon = epsilon.to(device=z.device, dtype=z.dtype).view([-1] + [1] * (z.dim() - 1))
    return z + epsilon * (2 * (z >= 0).to(z.dtype) - 1)


def batch_norm_transpose(r, bn, stats):
    """Relevance [N, K, C, ...] scaled per channel by gamma/sigma (BN fusion, eqs. 14-15)."""
    _, inverse = stats
    scale = bn.weight * inverse
    return r * scale.view([1, 1, -1] + [1] * (r.dim() - 3))


def conv_transpose(r, weight, stride, padding, dilation, groups, output_padding):
    """[N, K, out, Ho, Wo] -> [N, K, in, H, W]: the transposed convolution (no bias)."""
    rows = r.flatten(0, 1)
    y = F.conv_transpose2d(rows, weight, None, stride, padding, output_padding, groups, dilation)
    return y.unflatten(0, r.shape[:2])


def avg_pool_transpose(r, kernel, stride, padding, dilation, groups, output_padding):
    """The transpose of average pooling (zero padding counted): a depthwise transposed
    convolution with weights 1/(kh*kw)."""
    weight = torch.full((groups, 1) + tuple(kernel), 1.0 / (kernel[0] * kernel[1]), dtype=r.dtype, device=r.device)
    return conv_transpose(r, weight, stride, padding, dilation, groups, output_padding)


_ADAPTIVE = {}


def _adaptive_matrix(in_size, out_size, dtype, device):
    """[oh*ow, H*W]: entry 1/(window size) where input pixel p lies in output o's window
    (PyTorch's windows: floor(i*in/out) .. ceil((i+1)*in/out) - 1)."""
    key = (in_size, out_size, dtype, device)
    if key not in _ADAPTIVE:
        def axis(n_in, n_out):
            a = torch.zeros(n_out, n_in, dtype=torch.float64)
            for i in range(n_out):
                start, end = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
                a[i, start:end] = 1.0
            return a
        ah, aw = axis(in_size[0], out_size[0]), axis(in_size[1], out_size[1])
        ah, aw = ah / ah.sum(1, keepdim=True), aw / aw.sum(1, keepdim=True)
        m = torch.einsum("ih,jw->ijhw", ah, aw)
        _ADAPTIVE[key] = m.reshape(out_size[0] * out_size[1], in_size[0] * in_size[1]).to(dtype=dtype, device=device)
    return _ADAPTIVE[key]


def adaptive_avg_pool_transpose(r, in_size):
    """[N, K, C, oh, ow] -> [N, K, C, H, W]: each value spread evenly over its window."""
    m = _adaptive_matrix(tuple(in_size), tuple(r.shape[-2:]), r.dtype, r.device)
    return (r.flatten(-2) @ m).unflatten(-1, tuple(in_size))


def max_unpool(r, indices, in_size):
    """Winner-take-all (section 4.4.1): each value of [N, K, C, Ho, Wo] goes to its window's
    arg-max (`indices` [N, C, Ho, Wo] from the forward max pool, positions in the plane);
    values sharing one are summed."""
    n, k, c = r.shape[:3]
    flat = r.flatten(3)
    index = indices.flatten(2).unsqueeze(1).expand(n, k, c, flat.shape[3])
    out = flat.new_zeros(n, k, c, in_size[0] * in_size[1]).scatter_add(3, index, flat)
    return out.unflatten(3, tuple(in_size))


def zb_fold(conv, norm, norm_name, stats):
    """The Z^B layer's W' and b' (the convolution with its batch norm folded in by the
    recorded statistics); only W and gamma receive gradients (b, mu, sigma, beta detached)."""
    weight = conv.weight
    out = weight.shape[0]
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros(out, dtype=weight.dtype, device=weight.device)
    if norm is None:
        return weight, bias
    mean, inverse = stats[norm_name]
    scale = norm.weight * inverse
    return weight * scale.view(-1, 1, 1, 1), (bias - mean) * scale + norm.bias.detach()


def _signed_parts(w):
    """max(0, w) and min(0, w), each passing the gradient where it is the nonzero part."""
    return F.relu(w), w * (w < 0).to(w.dtype)


def zb_preactivation(x, weight, bias, low, high, stride, padding, dilation, groups):
    """z = conv(x, W', b') - conv(L, W'+, l*b'+) - conv(H, W'-, h*b'-), L and H images of the
    input's bounds zero-padded like x (section 4.4.3)."""
    wp, wn = _signed_parts(weight)
    bp, bn = _signed_parts(bias)
    z = F.conv2d(x, weight, bias, stride, padding, dilation, groups)
    lows = torch.full((1,) + tuple(x.shape[1:]), float(low), dtype=x.dtype, device=x.device)
    highs = torch.full((1,) + tuple(x.shape[1:]), float(high), dtype=x.dtype, device=x.device)
    bounds = F.conv2d(lows, wp, low * bp, stride, padding, dilation, groups) + F.conv2d(highs, wn, high * bn, stride, padding, dilation, groups)
    return z - bounds


def zb_relevance(x, s, weight, low, high, stride, padding, dilation, groups, output_padding):
    """R_x = (x - l)*conv^T(s, W'+) + (x - h)*conv^T(s, W'-), per class."""
    wp, wn = _signed_parts(weight)
    positive = conv_transpose(s, wp, stride, padding, dilation, groups, output_padding)
    negative = conv_transpose(s, wn, stride, padding, dilation, groups, output_padding)
    xb = x.unsqueeze(1)
    return (xb - low) * positive + (xb - high) * negative


# MARK: weights

def load_weights(model, path):
    """Loads a safetensors file named as the model's state_dict (torchvision's names; what
    isnetc reads and writes). `num_batches_tracked` counters may be absent. Every problem is
    reported at once, naming the tensor; nothing is loaded then."""
    from safetensors.torch import load_file
    try:
        tensors = load_file(path)
    except Exception as error:  # the file's own message names what is wrong
        raise ValueError(f"{path}: cannot read weights ({error})") from None
    state = model.state_dict()
    problems = []
    for name, expected in state.items():
        tensor = tensors.get(name)
        if tensor is None:
            if not name.endswith(".num_batches_tracked"):
                problems.append(f"missing tensor '{name}' (expected shape {list(expected.shape)})")
            continue
        if tuple(tensor.shape) != tuple(expected.shape):
            problems.append(f"tensor '{name}' has shape {list(tensor.shape)}, the model needs {list(expected.shape)}")
        elif tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            problems.append(f"tensor '{name}' holds a non-finite value")
    for name in sorted(tensors):
        if name not in state:
            problems.append(f"unexpected tensor '{name}': the model has no parameter of that name")
    if problems:
        shown = "\n  ".join(problems[:10])
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise ValueError(f"{path}: weights do not fit the model:\n  {shown}{more}")
    merged = {name: (tensors[name].to(value.dtype) if name in tensors else value) for name, value in state.items()}
    model.load_state_dict(merged, strict=True)


def save_weights(model, path, metadata=None):
    """Writes the state_dict (float32, counters int64) as safetensors, atomically: a
    temporary file beside `path`, renamed over it once complete."""
    import os
    from safetensors.torch import save_file
    tensors = {}
    for name, value in model.state_dict().items():
        value = value.detach().to("cpu").contiguous()
        tensors[name] = value if name.endswith(".num_batches_tracked") else value.to(torch.float32)
    temporary = f"{path}.tmp{os.getpid()}"
    save_file(tensors, temporary, metadata=metadata)
    os.replace(temporary, path)
"""#

  static let loss = #"""
"""The ISNet loss exactly as `isnetc train` computes it: in float64 from the float32 logits
and heatmaps, L = (1 - P)*L_C + P*L_H, with L_H one of two heatmap losses (docs/training.md):

`Paper` (paper section 4.3, eqs. 4-11):
1. H <- H / s, s = sqrt(Var(H) + e) with one unbiased variance over the whole
   [B, K, C, H, W] tensor (`std`, the paper's), s = mean |H| over it (`mean-abs`), or one s
   per map, its own mean |H| (`per-map`); all-zero maps: s = 1;
2. u[b, k] = sum over c, y, x of (1 - M) * |H| (mask M: 1 = foreground);
3. f = u / (u + E) clamped to [0, 1 - e]; L_H = mean over b, k of -log(1 - f).

`GWRP` (the authors' later loss), per sample b and explained class k:
1. F = sum of |R| over the foreground; m = F / n_fg + 1e-10; R' = |R| / m;
2. per channel, the background's R' sorted in descending order (foreground entries as
   zeros), g = sum_i d^i x_(i) / sum_i d^i (Global Weighted Ranked Pooling);
3. l_bg = -log(1 - q), q = g / (g + E) clamped at 1 - 1e-7, averaged over channels;
4. l_fg = the band penalty of F: ((C1 - F)/C1)^2 below C1, 0 in [C1, C2], above C2
   ((F - C2)/C1)^2 (`quadratic`), or that up to C1 + C2 and 1 + (F - C1 - C2) beyond
   (`hybrid`);
5. L_H = mean over b, k of A*l_bg + B*l_fg.

Which heatmaps L_H sees (Faster-ISNet): all K per sample, or one chosen per sample
(`choose`: the label's, or the top class with probability 5/11 and another otherwise);
the model then runs one relevance pass per sample (`model(x, heatmaps=True, explain=...)`).

Under DDP the paper loss's normalisation sums run over the whole batch (every process), so
each process's loss is its share of the full batch's and DDP's gradient average is the
gradient of the full batch's loss (`per-map` and GWRP have no cross-sample term). New heatmap losses are
classes with `__call__(heatmaps, masks)`, registered in HEATMAP_LOSSES.
"""

import dataclasses
import math

import torch
import torch.nn.functional as F

from . import ops

MASK64 = (1 << 64) - 1


def _count(h):
    return ops.all_sum_detached(torch.tensor(float(h.numel()), dtype=torch.float64, device=h.device))


def normalize_std(h, stabilizer):
    """sqrt(Var(H) + e), the unbiased variance of every element of the batch's heatmaps."""
    n = _count(h)
    mean = ops.all_sum(h.sum()) / n
    centred = h - mean
    variance = ops.all_sum((centred * centred).sum()) / torch.clamp(n - 1, min=1)
    return torch.sqrt(variance + stabilizer)


def normalize_mean_abs(h, stabilizer):
    """mean |H| over the batch's heatmaps (0 for all-zero heatmaps is replaced by 1)."""
    s = ops.all_sum(h.abs().sum()) / _count(h)
    return torch.where(s > 0, s, torch.ones_like(s))


def normalize_per_map(h, stabilizer):
    """[B, K, 1, 1, 1]: each map's own mean |H| (1 for an all-zero map); no cross-sample term."""
    s = h.abs().flatten(2).mean(2)[..., None, None, None]
    return torch.where(s > 0, s, torch.ones_like(s))


NORMALIZATIONS = {"std": normalize_std, "mean-abs": normalize_mean_abs, "per-map": normalize_per_map}


def _masks(masks, heatmaps):
    """M as [B, 1, C|1, H, W] in float64, broadcast over classes (and channels for [B, H, W])."""
    m = masks.to(torch.float64)
    if m.dim() == 3:
        m = m.unsqueeze(1)
    return m.unsqueeze(1)


def background_sums(heatmaps, masks, stabilizer=1e-4, normalization="std"):
    """u [B, K]: the background sum of the normalised |H|."""
    h = heatmaps.to(torch.float64)
    s = NORMALIZATIONS[normalization](h, stabilizer)
    return ((1 - _masks(masks, h)) * (h / s).abs()).flatten(2).sum(2)


@dataclasses.dataclass
class Paper:
    """The paper's L_H with E = `scale`."""
    scale: float
    stabilizer: float = 1e-4
    normalization: str = "std"

    def __call__(self, heatmaps, masks):
        """L_H of heatmaps [B, K, C, H, W] and masks [B, C|1, H, W] or [B, H, W]: this
        process's mean over its samples and classes (float64)."""
        u = background_sums(heatmaps, masks, self.stabilizer, self.normalization)
        f = torch.clamp(u / (u + self.scale), 0.0, 1.0 - self.stabilizer)
        return (-torch.log(1 - f)).mean()


def ranked_pool(x, decay):
    """GWRP_d over the last axis: sorted descending, weighted d^i / sum d^i (d = 1 the
    mean, d = 0 the maximum; the sort's gradient goes to each entry's rank weight)."""
    n = x.shape[-1]
    weights = torch.pow(torch.full((n,), float(decay), dtype=torch.float64, device=x.device),
                        torch.arange(n, dtype=torch.float64, device=x.device))
    ordered, _ = torch.sort(x, dim=-1, descending=True, stable=True)
    return (ordered * (weights / weights.sum())).sum(-1)


def band_penalty(f, lower, upper, penalty):
    """The foreground term of F: zero inside [lower, upper]."""
    below = ((lower - f) / lower) ** 2
    above = ((f - upper) / lower) ** 2
    if penalty == "hybrid":
        above = torch.where(f > lower + upper, 1 + (f - lower - upper), above)
    return torch.where(f < lower, below, torch.where(f <= upper, torch.zeros_like(f), above))


@dataclasses.dataclass
class GWRP:
    """The authors' later L_H: ranked-pooled background against E, foreground band [C1, C2]."""
    band: tuple
    scale: float = 1.0
    decay: float = 0.9
    background_weight: float = 1.0
    foreground_weight: float = 1.0
    penalty: str = "hybrid"

    def __call__(self, heatmaps, masks):
        h = heatmaps.to(torch.float64)
        m = _masks(masks, h).expand_as(h)
        a = h.abs()
        foreground = (a * m).flatten(2).sum(2)
        count = m.flatten(2).sum(2).clamp(min=1)
        divisor = foreground / count + 1e-10
        x = (a * (1 - m)) / divisor[:, :, None, None, None]
        g = ranked_pool(x.flatten(3), self.decay)
        q = torch.clamp(g / (g + self.scale), max=1 - 1e-7)
        background = (-torch.log(1 - q)).mean(2)
        lower, upper = self.band
        term = self.background_weight * background + self.foreground_weight * band_penalty(foreground, lower, upper, self.penalty)
        return term.mean()


HEATMAP_LOSSES = {"paper": Paper, "gwrp": GWRP}
SELECTIONS = ("all", "selective", "stochastic")


def band(totals):
    """The authors' band rule on the initial model: of each sample's sum of |R| (averaged
    over its explained maps), C1 = max(mu/5, mu - 3 sigma), C2 = 25 C1 (isnetc's
    GWRPHeatmapLoss.band: without the authors' cap of C2 at mu + 3 sigma)."""
    n = len(totals)
    mean = sum(totals) / n
    variance = sum((t - mean) ** 2 for t in totals) / max(n - 1, 1)
    lower = max(mean / 5, mean - 3 * variance ** 0.5)
    return lower, 25 * lower


def relevance_totals(heatmaps):
    """Per sample, the sum of |R| over the whole map averaged over its explained maps."""
    return heatmaps.to(torch.float64).abs().flatten(2).sum(2).mean(1)


def foreground_relevance(heatmaps, masks):
    """The mean over the explained maps of F = sum of |R| over the foreground."""
    h = heatmaps.to(torch.float64)
    return (h.abs() * _masks(masks, h)).flatten(2).sum(2).mean()


def selection_seed(seed, step):
    """The seed of optimizer step `step`'s stochastic choice (isnetc's Trainer.selectionSeed)."""
    return ((seed ^ 0xA0761D6478BD642F) + step * 0xE7037ED1A0B428DB) & MASK64


def _splitmix(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


def choose(selection, logits, labels, seed, positions):
    """The class whose heatmap each sample's loss sees ([B], on the logits' device), or None
    for all. `positions`: each sample's place in the whole batch (isnetc's draw depends on
    it); `stochastic` keeps the top class with probability 5/11, else a uniform other."""
    if selection == "all":
        return None
    if selection == "selective":
        return labels.long()
    classes = logits.shape[1]
    tops = logits.detach().argmax(1).tolist()
    chosen = []
    for top, b in zip(tops, positions):
        state = seed ^ (((b + 1) * 0xD1B54A32D192ED03) & MASK64)
        state, z = _splitmix(state)
        if z % 11 > 5 or classes == 1:
            chosen.append(top)
            continue
        state, z = _splitmix(state)
        other = z % (classes - 1)
        chosen.append(other if other < top else other + 1)
    return torch.tensor(chosen, dtype=torch.long, device=logits.device)


EXPLAINED = ("stochastic", "label", "top", "all")


def distillation_classes(rule, teacher_logits, labels, seed, positions):
    """The class whose maps are matched per sample ([B]), or None for all: isnetc's
    DistillationClasses. `stochastic` keeps the teacher's top class with probability 1/2,
    else a uniform other, drawn from (seed, the sample's place in the whole batch)."""
    if rule == "all":
        return None
    if rule == "label":
        return labels.long()
    tops = teacher_logits.detach().argmax(1)
    if rule == "top":
        return tops
    classes = teacher_logits.shape[1]
    chosen = []
    for top, b in zip(tops.tolist(), positions):
        state, z = _splitmix(seed ^ (((b + 1) * 0xD1B54A32D192ED03) & MASK64))
        if classes == 1 or z & 1:
            chosen.append(top)
            continue
        state, z = _splitmix(state)
        other = z % (classes - 1)
        chosen.append(other if other < top else other + 1)
    return torch.tensor(chosen, dtype=torch.long, device=teacher_logits.device)


def sample_epsilons(low, high, seed, positions):
    """Each sample's epsilon, 10^u with u uniform in [log10 low, log10 high], drawn from
    (seed, the sample's place in the whole batch) as isnetc's DistillationSettings.epsilons."""
    values = []
    a, b = math.log10(low), math.log10(high)
    for position in positions:
        _, z = _splitmix(seed ^ (((position + 1) * 0x94D049BB133111EB) & MASK64))
        values.append(10.0 ** (a + (b - a) * ((z >> 11) * 2.0 ** -53)))
    return torch.tensor(values, dtype=torch.float32)


@dataclasses.dataclass
class Distillation:
    """The explanation-distillation loss (isnetc's DistillationLoss): per pair of maps
    [C, H, W] and per scale (the map, then its 2x, 4x, ... average pools while the side is
    at least `minimum_side`), `separate`: mean |S/m_S - T/m_T| with m the mean |.| + 1e-10,
    or `geometric`: mean |S - T| / (sqrt(mean |S|) sqrt(mean |T|) + 1e-10); the mean over
    scales and pairs (this process's pairs)."""
    pyramid: bool = True
    normalization: str = "separate"
    minimum_side: int = 8

    def factors(self, height, width):
        factors = [1]
        while self.pyramid and min(height // (factors[-1] * 2), width // (factors[-1] * 2)) >= self.minimum_side:
            factors.append(factors[-1] * 2)
        return factors

    def __call__(self, student, teacher):
        s, t = student.to(torch.float64), teacher.to(torch.float64)
        factors = self.factors(s.shape[-2], s.shape[-1])
        total = s.new_zeros(())
        for f in factors:
            ps = F.avg_pool2d(s, f) if f > 1 else s
            pt = F.avg_pool2d(t, f) if f > 1 else t
            ps, pt = ps.flatten(1), pt.flatten(1)
            if self.normalization == "separate":
                ms = ps.abs().mean(1, keepdim=True) + 1e-10
                mt = pt.abs().mean(1, keepdim=True) + 1e-10
                pair = (ps / ms - pt / mt).abs().mean(1)
            else:
                # sqrt's derivative at 0 is infinite where isnetc takes the term as 0.
                root_s = torch.sqrt(ps.abs().mean(1).clamp(min=1e-300))
                root_t = torch.sqrt(pt.abs().mean(1))
                pair = (ps - pt).abs().mean(1) / (root_s * root_t + 1e-10)
            total = total + pair.sum()
        return total / (len(factors) * s.shape[0])


def classification_loss(logits, labels, kind="softmax", positive_weights=None):
    """Cross-entropy (softmax models; `labels` [B] class indices) or binary cross-entropy
    with logits (sigmoid models; `labels` [B, K] targets), means as PyTorch's defaults."""
    z = logits.to(torch.float64)
    if kind == "softmax":
        return F.cross_entropy(z, labels)
    targets = labels.to(torch.float64)
    weights = None if positive_weights is None else torch.as_tensor(positive_weights, dtype=torch.float64, device=z.device)
    return F.binary_cross_entropy_with_logits(z, targets, pos_weight=weights)


def isnet_loss(logits, heatmaps, labels, masks, P, heatmap_loss, kind="softmax"):
    """(total, L_C, L_H), float64 scalars. `heatmap_loss`: a `Paper` or `GWRP`; `heatmaps`
    (all K, or the chosen one per sample) may be None when P = 0."""
    lc = classification_loss(logits, labels, kind)
    if heatmaps is None or P == 0:
        lh = torch.zeros((), dtype=torch.float64, device=logits.device)
    else:
        lh = heatmap_loss(heatmaps, masks)
    return (1 - P) * lc + P * lh, lc, lh
"""#

  static let data = #"""
"""isnetc's dataset folders for training: `images/NAME`, `masks/NAME` (1 or 255 =
foreground) and `labels.csv` (header with `file` and `label`, optionally `split`; a
multi-label sample lists its classes separated by `;`). Images are read as `isnetc train`
reads them: alpha dropped, gray and RGB converted to the model's channels, resized
bilinearly (PyTorch's align_corners=False arithmetic) to the input size, scaled to the
input range; masks binarised. The paper's augmentation (section 4.11) and the epoch order
are isnetc's own, drawn from the same SplitMix64 streams, so a seed gives the same batches
and the same transforms in both.

PNG is decoded here with the standard library (zlib); other formats need Pillow or
torchvision, used when installed.
"""

import csv
import math
import os
import struct
import zlib

import torch
import torch.nn.functional as F

MASK64 = (1 << 64) - 1


class DataError(Exception):
    pass


class SplitMix64:
    """isnetc's generator (Sources/SeededRandom): the same seed gives the same stream."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def unit(self):
        return (self.next() >> 11) * 2.0 ** -53

    def int(self, low, high):
        return low + self.next() % (high - low + 1)

    def shuffle(self, items):
        """isnetc's SplitMix64.shuffle: Fisher-Yates from the last element down, in place."""
        for i in range(len(items) - 1, 0, -1):
            j = self.int(0, i)
            items[i], items[j] = items[j], items[i]


def epoch_order(count, seed, epoch):
    """isnetc's shuffle of epoch `epoch` (Trainer.batches): a seeded Fisher-Yates."""
    order = list(range(count))
    SplitMix64(seed ^ 0x5DEECE66D1CE4E5B ^ ((epoch * 0x9E3779B97F4A7C15) & MASK64)).shuffle(order)
    return order


def augmentation_parameters(seed, epoch, sample, size):
    """isnetc's draw for (seed, epoch, sample): translation up to 28 px at 224 (scaled to
    `size`), rotation up to +-40 degrees, a flip half of the time."""
    random = SplitMix64(seed ^ ((epoch * 0x9E3779B97F4A7C15) & MASK64) ^ ((sample * 0xD1B54A32D192ED03) & MASK64))
    shift = 28.0 * size / 224
    dx = (random.unit() * 2 - 1) * shift
    dy = (random.unit() * 2 - 1) * shift
    degrees = (random.unit() * 2 - 1) * 40.0
    flip = random.unit() < 0.5
    return dx, dy, degrees, flip


def _wrap(value):
    """An unsigned 64-bit constant as the int64 with the same bits."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _shift(z, bits):
    """Logical right shift of int64 bit patterns."""
    return (z >> bits) & ((1 << (64 - bits)) - 1)


def splitmix_units(seed, count):
    """The first `count` draws of SplitMix64(seed).unit(), as isnetc's MaskFill takes them,
    vectorised: draw i mixes seed + (i + 1)*0x9E3779B97F4A7C15 (int64 arithmetic wraps)."""
    steps = torch.arange(1, count + 1, dtype=torch.int64)
    z = _wrap(seed & MASK64) + steps * _wrap(0x9E3779B97F4A7C15)
    z = (z ^ _shift(z, 30)) * _wrap(0xBF58476D1CE4E5B9)
    z = (z ^ _shift(z, 27)) * _wrap(0x94D049BB133111EB)
    z = z ^ _shift(z, 31)
    return _shift(z, 11).to(torch.float64) * 2.0 ** -53


def mask_fill_seed(seed, epoch, sample):
    """isnetc's MaskFill.seed: the draws of sample `sample`'s fill in `epoch`."""
    return ((seed ^ 0x2545F4914F6CDD1D) + epoch * 0x9E3779B97F4A7C15 + sample * 0xBF58476D1CE4E5B9) & MASK64


def fill_background(image, mask, fill, input_range, seed):
    """`image` [C, H, W] with its background (mask [H, W] <= 0) replaced as isnetc's
    MaskFill does: `zero`, or `noise` uniform over the input's range, drawn for every
    element (foreground too) in channel-major order from SplitMix64(seed)."""
    if fill == "none":
        return image
    if fill == "zero":
        values = torch.zeros_like(image)
    else:
        low, high = (torch.tensor(v, dtype=torch.float32) for v in input_range)
        values = (low + splitmix_units(seed, image.numel()).to(torch.float32) * (high - low)).view_as(image)
    background = (mask <= 0).expand_as(image)
    return torch.where(background, values, image)


def augment(image, mask, parameters):
    """Applies one draw to image [C, H, W] (bilinear, zeros outside) and mask [H, W] or
    [C', H, W] (nearest), as isnetc's Augmentation.apply: flip, rotate about the centre,
    translate."""
    dx, dy, degrees, flip = parameters
    _, height, width = image.shape
    cx, cy = (width - 1) / 2, (height - 1) / 2
    angle = degrees * math.pi / 180
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64), indexing="ij")
    tx, ty = xs - dx - cx, ys - dy - cy
    sx = cos_a * tx + sin_a * ty + cx
    sy = -sin_a * tx + cos_a * ty + cy
    if flip:
        sx = (width - 1) - sx

    def inside(ix, iy):
        return (ix >= 0) & (iy >= 0) & (ix < width) & (iy < height)

    def gather(plane, ix, iy):
        ok = inside(ix, iy)
        flat = (iy.clamp(0, height - 1) * width + ix.clamp(0, width - 1)).flatten()
        values = plane.flatten(-2)[..., flat].unflatten(-1, (height, width))
        return torch.where(ok, values, torch.zeros_like(values))

    # Nearest neighbour for the mask (rounding half away from zero, as Swift's rounded()).
    nx = (torch.sign(sx) * torch.floor(sx.abs() + 0.5)).long()
    ny = (torch.sign(sy) * torch.floor(sy.abs() + 0.5)).long()
    out_mask = None if mask is None else gather(mask, nx, ny)
    x0, y0 = torch.floor(sx).long(), torch.floor(sy).long()
    fx, fy = (sx - x0).float(), (sy - y0).float()
    top = gather(image, x0, y0) * (1 - fx) + gather(image, x0 + 1, y0) * fx
    bottom = gather(image, x0, y0 + 1) * (1 - fx) + gather(image, x0 + 1, y0 + 1) * fx
    return top * (1 - fy) + bottom * fy, out_mask


# MARK: images

def _unfilter(raw, width, height, bpp, stride):
    out = bytearray(height * stride)
    previous = bytearray(stride)
    position = 0
    for row in range(height):
        kind = raw[position]
        line = bytearray(raw[position + 1:position + 1 + stride])
        position += 1 + stride
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind == 2:
            for i in range(stride):
                line[i] = (line[i] + previous[i]) & 255
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 255
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = previous[i]
                c = previous[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + predictor) & 255
        elif kind != 0:
            raise DataError(f"bad PNG filter type {kind} in row {row}")
        out[row * stride:(row + 1) * stride] = line
        previous = line
    return bytes(out)


def decode_png(path):
    """A PNG as float32 [C, H, W] in [0, 1] (gray, gray+alpha, RGB, RGBA, palette; 8 or 16
    bits; not interlaced)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise DataError(f"{path}: not a PNG file")
    position, chunks, palette, header = 8, [], None, None
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IDAT":
            chunks.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise DataError(f"{path}: PNG without IHDR")
    width, height, depth, color, _, _, interlace = header
    if interlace:
        raise DataError(f"{path}: interlaced PNG is not supported here (install Pillow)")
    if depth not in (8, 16) and not (color == 3 and depth == 8):
        raise DataError(f"{path}: PNG bit depth {depth} is not supported here (install Pillow)")
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(color)
    if channels is None:
        raise DataError(f"{path}: PNG colour type {color} is not supported")
    bytes_per_sample = depth // 8
    bpp = channels * bytes_per_sample
    try:
        raw = zlib.decompress(b"".join(chunks))
    except zlib.error as error:
        raise DataError(f"{path}: corrupt PNG data ({error})")
    if len(raw) < height * (1 + width * bpp):
        raise DataError(f"{path}: truncated PNG data")
    pixels = _unfilter(raw, width, height, bpp, width * bpp)
    if depth == 16:
        values = torch.tensor(struct.unpack(f">{len(pixels) // 2}H", pixels), dtype=torch.float32) / 65535
    else:
        values = torch.frombuffer(bytearray(pixels), dtype=torch.uint8).to(torch.float32) / 255
    image = values.view(height, width, channels).permute(2, 0, 1)
    if color == 3:
        if palette is None:
            raise DataError(f"{path}: palette PNG without PLTE")
        table = torch.frombuffer(bytearray(palette), dtype=torch.uint8).view(-1, 3).to(torch.float32) / 255
        image = table[(image[0] * 255).round().long()].permute(2, 0, 1)
    return image.contiguous()


def read_image(path):
    """float32 [C, H, W] in [0, 1], C = 1 to 4."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    if path.lower().endswith(".png"):
        return decode_png(path)
    try:
        from PIL import Image
        import numpy
        with Image.open(path) as picture:
            array = numpy.asarray(picture)
        t = torch.from_numpy(array.copy())
        scale = 65535.0 if t.dtype in (torch.int32, torch.int16) or array.dtype.itemsize == 2 else 255.0
        t = t.to(torch.float32) / scale
        return (t.unsqueeze(0) if t.dim() == 2 else t.permute(2, 0, 1)).contiguous()
    except ImportError:
        pass
    try:
        import torchvision.io
        return torchvision.io.decode_image(torchvision.io.read_file(path)).to(torch.float32) / 255
    except ImportError:
        raise DataError(f"{path}: only PNG is read without Pillow or torchvision; install one of them")


def load_image(path, channels, height, width, low, high):
    """As isnetc's loadImage: alpha dropped, channels converted, resized, scaled to range."""
    image = read_image(path)
    if image.shape[0] in (2, 4):
        image = image[:-1]
    if image.shape[0] == 1 and channels == 3:
        image = image.expand(3, -1, -1)
    elif image.shape[0] == 3 and channels == 1:
        image = (0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2]).unsqueeze(0)
    if tuple(image.shape[1:]) != (height, width):
        image = F.interpolate(image.unsqueeze(0), size=(height, width), mode="bilinear", align_corners=False, antialias=False)[0]
    return (low + image * (high - low)).contiguous()


class DatasetFolder(torch.utils.data.Dataset):
    """A dataset folder: item i is (image [C, H, W], mask [H, W] or an empty tensor, label)."""

    def __init__(self, directory, input_shape, input_range, classes, needs_masks, multi_label=False):
        self.directory = directory
        self.shape = input_shape
        self.range = input_range
        self.classes = classes
        self.needs_masks = needs_masks
        self.multi_label = multi_label
        labels_path = os.path.join(directory, "labels.csv")
        try:
            with open(labels_path, newline="") as f:
                rows = list(csv.reader(f))
        except OSError as error:
            raise DataError(f"{labels_path}: cannot read the labels file ({error.strerror}); a dataset folder holds images/, labels.csv and optionally masks/")
        if not rows or "file" not in [c.strip() for c in rows[0]] or "label" not in [c.strip() for c in rows[0]]:
            raise DataError(f"{labels_path}:1: the header must name the columns 'file' and 'label'")
        header = [c.strip() for c in rows[0]]
        file_column, label_column = header.index("file"), header.index("label")
        self.entries = []
        for number, row in enumerate(rows[1:], start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise DataError(f"{labels_path}:{number}: {len(row)} fields, the header has {len(header)}")
            cell = row[label_column].strip()
            labels = []
            for part in (cell.split(";") if cell else []):
                part = part.strip()
                if not part.isdigit():
                    raise DataError(f"{labels_path}:{number}: label '{cell}' is not a class index (or indices separated by ';')")
                if int(part) >= classes:
                    raise DataError(f"{labels_path}:{number}: label {part}; the model has {classes} classes")
                if int(part) not in labels:
                    labels.append(int(part))
            if not multi_label and len(labels) != 1:
                raise DataError(f"{labels_path}:{number}: '{row[file_column].strip()}' has {len(labels)} labels; a single-label (softmax) model needs exactly one")
            self.entries.append((row[file_column].strip(), labels))
        if not self.entries:
            raise DataError(f"{labels_path}: no samples")
        if needs_masks and not os.path.isdir(os.path.join(directory, "masks")):
            raise DataError(f"{directory}: no masks/ folder; the heatmap loss (P > 0) needs a mask per image (or train with --P 0)")

    def __len__(self):
        return len(self.entries)

    def load(self, index):
        name, labels = self.entries[index]
        c, h, w = self.shape
        image = load_image(os.path.join(self.directory, "images", name), c, h, w, *self.range)
        mask = torch.zeros(0)
        if self.needs_masks:
            raw = load_image(os.path.join(self.directory, "masks", name), 1, h, w, 0.0, 1.0)[0]
            threshold = 0.5 / 255 if float(raw.max()) <= 1.5 / 255 else 0.5
            mask = (raw > threshold).to(torch.float32)
        if self.multi_label:
            label = torch.zeros(self.classes)
            label[labels] = 1
        else:
            label = torch.tensor(labels[0])
        return image, mask, label

    def __getitem__(self, index):
        return self.load(index)


class AugmentedDataset(torch.utils.data.Dataset):
    """`DatasetFolder` with isnetc's augmentation for the current epoch (`set_epoch`), then
    the background fills: item i is (image with `own_fill`, mask, label, the teacher's
    image with `teacher_fill` or an empty tensor, i). `ExchangeCollate` batches them."""

    def __init__(self, folder, seed, augment_images, own_fill="none", teacher_fill=None):
        self.folder = folder
        self.seed = seed
        self.augment_images = augment_images
        self.own_fill = own_fill
        self.teacher_fill = teacher_fill
        self.epoch = 1

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.folder)

    def __getitem__(self, index):
        image, mask, label = self.folder.load(index)
        if self.augment_images:
            parameters = augmentation_parameters(self.seed, self.epoch, index, image.shape[2])
            image, moved = augment(image, mask if mask.numel() else None, parameters)
            if moved is not None:
                mask = moved
        return (*with_fills(image, mask, label, self.own_fill, self.teacher_fill, self.folder.range, mask_fill_seed(self.seed, self.epoch, index)), index)


class ExchangeCollate:
    """Batches `AugmentedDataset` items as (images, masks, labels, teachers) after isnetc's
    background exchange (BackgroundExchange.swift): with probability `probability` a sample
    keeps its foreground (mask > 0) and takes each background pixel from the first of the
    batch's other samples, in a seeded order, whose background that pixel is. The draws
    are isnetc's, so one process gets isnetc's pictures; under DDP the donors are the
    process's part of the batch."""

    def __init__(self, probability, seed):
        self.probability = probability
        self.seed = seed
        self.epoch = 1

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __call__(self, items):
        images, masks, labels, teachers, indices = torch.utils.data.default_collate(items)
        if self.probability > 0 and len(items) >= 2 and masks.numel():
            images = exchange_backgrounds(images, masks, indices.tolist(), self.probability, self.seed, self.epoch)
        return images, masks, labels, teachers


def exchange_backgrounds(images, masks, indices, probability, seed, epoch):
    """images [N, C, H, W], masks [N, H, W] or [N, C', H, W]: isnetc's exchange."""
    n = images.shape[0]
    foreground = (masks.reshape(n, -1, images.shape[2] * images.shape[3]) > 0).any(dim=1)
    flat = images.reshape(n, images.shape[1], -1)
    out = flat.clone()
    for k in range(n):
        random = SplitMix64(exchange_seed(seed, epoch, indices[k]))
        if not random.unit() < probability:
            continue
        donors = [j for j in range(n) if j != k]
        random.shuffle(donors)
        # A pixel takes the first donor whose background it is; a pixel no donor has as background stays.
        unfilled = ~foreground[k]
        for donor in donors:
            take = unfilled & ~foreground[donor]
            out[k][:, take] = flat[donor][:, take]
            unfilled &= ~take
    return out.view_as(images)


def exchange_seed(seed, epoch, sample):
    """isnetc's BackgroundExchange.seed."""
    return ((seed ^ 0x7A646E0C3B9F11D5) + epoch * 0xD6E8FEB86659FD93 + sample * 0x94D049BB133111EB) & MASK64


def with_fills(image, mask, label, own_fill, teacher_fill, input_range, seed):
    """(image with its own fill, mask, label, the teacher's image or an empty tensor), both
    fills from the same draws, as isnetc's MaskedInput."""
    teacher = torch.zeros(0)
    if teacher_fill is not None:
        teacher = fill_background(image, mask, teacher_fill, input_range, seed)
    return fill_background(image, mask, own_fill, input_range, seed), mask, label, teacher


class IsnetcOrderSampler(torch.utils.data.distributed.DistributedSampler):
    """DistributedSampler over isnetc's epoch order: with a per-process batch of B/W, the
    W processes' k-th batches together are isnetc's k-th batch of B (rank r takes positions
    r, r + W, ... of the epoch's order). Epochs count from 1, as in isnetc."""

    def __init__(self, dataset, num_replicas, rank, seed, global_batch):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False, seed=seed, drop_last=False)
        self.isnetc_seed = seed
        self.global_batch = global_batch
        self.isnetc_epoch = 1

    def set_epoch(self, epoch):
        super().set_epoch(epoch)
        self.isnetc_epoch = epoch

    def batches(self):
        """isnetc's batches of the epoch that every process takes (a last batch too small
        to share out is dropped, as isnetc drops one of a single sample)."""
        order = epoch_order(len(self.dataset), self.isnetc_seed, self.isnetc_epoch)
        full = [order[i:i + self.global_batch] for i in range(0, len(order), self.global_batch)]
        return [b for b in full if len(b) >= 2 and len(b) % self.num_replicas == 0 and len(b) // self.num_replicas >= (2 if self.num_replicas == 1 else 1)]

    def __iter__(self):
        for batch in self.batches():
            yield from batch[self.rank::self.num_replicas]

    def __len__(self):
        return sum(len(b) // self.num_replicas for b in self.batches())


def batch_sampler(sampler, global_batch):
    """Per-process batches of `sampler` cut where isnetc's batches are cut."""
    class _Batches:
        def __iter__(self_inner):
            for batch in sampler.batches():
                yield batch[sampler.rank::sampler.num_replicas]

        def __len__(self_inner):
            return len(sampler.batches())
    return _Batches()
"""#

  static let distill = #"""
"""Explanation distillation as `isnetc train --distill-from` does it: a frozen teacher (a
classifier trained on images whose background was replaced) explains each image with its
background filled; the student learns to make its own LRP heatmaps of the raw image match
(loss.Distillation), plus a small cross-entropy term. Per step one epsilon per sample
(log-uniform in --epsilon-range, shared by teacher and student) and one explained class
per sample (--explain), drawn from isnetc's streams, so a seed gives isnetc's draws.
"""

import importlib
import os
import sys

import torch

from . import loss, ops
from .model import CONFIG, build_model


def load_teacher(package_dir, weights, device):
    """The teacher in evaluation mode with its parameters frozen: the model of the exported
    package in `package_dir`, or this package's own architecture when None."""
    if package_dir:
        directory = os.path.abspath(package_dir.rstrip("/"))
        sys.path.insert(0, os.path.dirname(directory))
        try:
            package = importlib.import_module(os.path.basename(directory))
        except ImportError as error:
            raise SystemExit(f"--distill-from {package_dir}: not an exported package ({error})")
        finally:
            sys.path.pop(0)
        model, config, weight_ops = package.build_model(), package.CONFIG, package.ops
    else:
        model, config, weight_ops = build_model(), CONFIG, ops
    for key in ("input_shape", "input_range", "classes"):
        if config[key] != CONFIG[key]:
            raise SystemExit(f"the teacher '{config['name']}' has {key} {config[key]}, the student '{CONFIG['name']}' {CONFIG[key]}: their maps could not be compared")
    weight_ops.load_weights(model, weights)
    model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, config


def copy_head(teacher, teacher_config, student):
    """Copies the teacher's last layer into the student and freezes it there (isnetc's
    --freeze-head-from-teacher); returns the frozen parameters' names."""
    source, target = teacher_config.get("head"), CONFIG.get("head")
    if source is None or target is None:
        raise SystemExit("--freeze-head-from-teacher: the logits of the teacher or the student are not a named linear layer's output")
    theirs, ours = dict(teacher.named_parameters()), dict(student.named_parameters())
    frozen = []
    for suffix in ("weight", "bias"):
        name = f"{target}.{suffix}"
        if name not in ours:
            continue
        value = theirs.get(f"{source}.{suffix}")
        if value is None or value.shape != ours[name].shape:
            raise SystemExit(f"--freeze-head-from-teacher: the teacher's '{source}.{suffix}' does not fit the student's '{name}' {tuple(ours[name].shape)}")
        with torch.no_grad():
            ours[name].copy_(value)
        ours[name].requires_grad_(False)
        frozen.append(name)
    return frozen


def epsilons(args, seed, positions):
    """Each sample's epsilon, or None for the compiled one."""
    if args.epsilon_range is None:
        return None
    return loss.sample_epsilons(args.epsilon_range[0], args.epsilon_range[1], seed, positions)


def step(network, teacher, args, images, teacher_images, labels, seed, positions, kind):
    """(total, L_C, L_D, the student's explained maps): the teacher explains the filled
    images (no gradient), the student the raw ones, for the same classes and epsilons."""
    sample_epsilons = epsilons(args, seed, positions)
    chosen = {}

    def pick(logits):
        chosen["classes"] = loss.distillation_classes(args.explain, logits, labels, seed, positions)
        return chosen["classes"]
    with torch.no_grad():
        _, taught = teacher(teacher_images, heatmaps=True, explain=None if args.explain == "all" else pick, epsilons=sample_epsilons)
    logits, maps = network(images, heatmaps=True, explain=chosen.get("classes"), epsilons=sample_epsilons)
    ld = loss.Distillation(args.pyramid, args.distill_norm)(maps.flatten(0, 1), taught.flatten(0, 1))
    lc = loss.classification_loss(logits, labels, kind)
    return ld + args.distill_ce * lc, lc, ld, logits
"""#

  static let train = #"""
"""Trains the exported ISNet as `isnetc train` does, on one process or many:

    python -m PKG.train --data DIR --val DIR --out RUN [--P 0.7 --E auto ...]
    torchrun --nproc_per_node 8 -m PKG.train --data DIR --val DIR --out RUN [...]

The flags are isnetc train's. Under torchrun the batch (--batch, the whole step's) is
split across the processes (DistributedSampler over isnetc's epoch order), the model is
wrapped in DistributedDataParallel (nccl on CUDA, gloo on CPU), and batch statistics and the
heatmap loss's normalisation run over the whole batch, so a step equals the one-process
step on the full batch. RUN/weights.safetensors (every epoch) and RUN/best.safetensors
(best validation loss, or training loss without --val) hold the state_dict under
torchvision's names: isnetc run, heatmap and eval read them unchanged.
"""

import argparse
import gc
import json
import math
import os
import sys
import time

import torch
import torch.distributed as dist

from . import data, distill, loss, ops
from .model import CONFIG, WEIGHTS, build_model


def parse_scale(text):
    if text == "auto":
        return None, 1.0
    if text.startswith("auto/"):
        try:
            d = float(text[5:])
        except ValueError:
            d = float("nan")
        if d > 0 and math.isfinite(d):
            return None, d
    else:
        try:
            e = float(text)
        except ValueError:
            e = float("nan")
        if e > 0 and math.isfinite(e):
            return e, 1.0
    raise argparse.ArgumentTypeError(f"--E must be a positive number, auto or auto/D, got '{text}'")


def parse_band(text):
    if text == "auto":
        return None
    try:
        lower, upper = (float(v) for v in text.split(","))
    except ValueError:
        lower = upper = float("nan")
    if 0 < lower <= upper and math.isfinite(upper):
        return (lower, upper)
    raise argparse.ArgumentTypeError(f"--band must be C1,C2 with 0 < C1 <= C2, or auto, got '{text}'")


def parse_range(text):
    if text == "none":
        return None
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        low = high = float("nan")
    if 0 < low <= high and math.isfinite(high):
        return (low, high)
    raise argparse.ArgumentTypeError(f"--epsilon-range must be LOW,HIGH with 0 < LOW <= HIGH, or none, got '{text}'")


def parse_arguments(argv):
    p = argparse.ArgumentParser(prog=f"python -m {__package__}.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="the training dataset folder (images/, masks/, labels.csv)")
    p.add_argument("--val", help="a validation dataset folder: evaluated after every epoch, picks the best checkpoint")
    p.add_argument("--out", help="the run directory")
    p.add_argument("--resume", metavar="RUN", help="continue the run in this directory")
    p.add_argument("--weights", help="initial weights (safetensors); default: the package's weights.safetensors")
    p.add_argument("--P", type=float, default=@P@, help="the heatmap loss's weight P; 0 trains the standard classifier")
    p.add_argument("--loss", choices=sorted(loss.HEATMAP_LOSSES), default="@LOSS@", help="the heatmap loss: paper (eqs. 5-10) or gwrp (the authors' later loss: ranked-pooled background, foreground band)")
    p.add_argument("--heatmaps", choices=loss.SELECTIONS, default="@HEATMAPS@", help="which heatmaps the loss sees: all, selective (the label's class) or stochastic (the top class with probability 5/11, else another); one relevance pass per sample unless all")
    p.add_argument("--E", type=parse_scale, default=None, help="the heatmap loss's E: a number; for the paper's loss also auto or auto/D (defaults: paper auto, gwrp @GWRP_E@)")
    p.add_argument("--auto-batches", type=int, default=@AUTO_BATCHES@, help="batches over which the initial model is measured (E auto, --band auto)")
    p.add_argument("--stabilizer", type=float, default=@STABILIZER@, help="paper loss: e, H / sqrt(Var(H) + e), f clamped to 1 - e")
    p.add_argument("--heatmap-norm", choices=sorted(loss.NORMALIZATIONS), default="@NORM@", help="paper loss: the heatmaps' divisor before the background sum")
    p.add_argument("--decay", type=float, default=@DECAY@, help="gwrp loss: the ranked pooling's decay d in [0, 1]; 1 averages the background, 0 takes its maximum")
    p.add_argument("--background-weight", type=float, default=@BACKGROUND_WEIGHT@, help="gwrp loss: A, the background term's weight")
    p.add_argument("--foreground-weight", type=float, default=@FOREGROUND_WEIGHT@, help="gwrp loss: B, the foreground band term's weight")
    p.add_argument("--band", type=parse_band, default=None, metavar="C1,C2|auto", help="gwrp loss: the band for the foreground relevance, or auto: the authors' rule on the initial model (default auto)")
    p.add_argument("--band-penalty", choices=["hybrid", "quadratic"], default="@BAND_PENALTY@", help="gwrp loss: the penalty above the band")
    p.add_argument("--epochs", type=int, default=@EPOCHS@)
    p.add_argument("--warmup", type=int, default=@WARMUP@, help="epochs trained as the standard classifier (P 0) before the heatmap loss joins, counted in --epochs")
    p.add_argument("--batch", type=int, default=@BATCH@, help="samples per step, over all processes")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="@OPTIMIZER@")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default @LR@ with --P > 0; @STANDARD_LR@ with --P 0; distillation @DISTILL_LR@)")
    p.add_argument("--lr-schedule", choices=["constant", "cosine"], default=None, help="the learning rate over the epochs: constant, or half a cosine from --lr towards 0 after the last epoch (default @LR_SCHEDULE@ with --P > 0, else @STANDARD_SCHEDULE@)")
    p.add_argument("--momentum", type=float, default=@MOMENTUM@)
    p.add_argument("--clip", type=float, default=@CLIP@, help="clip the gradient's global L2 norm to this (0: no clipping)")
    p.add_argument("--weight-decay", type=float, default=@WEIGHT_DECAY@, help="weight decay (L2); the paper uses none")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=@AUGMENT@, help="the paper's augmentation of image and mask")
    p.add_argument("--seed", type=int, default=@SEED@, help="seed for the epoch order, augmentation, the fills and the stochastic choices (dropout draws from torch's generator)")
    p.add_argument("--best-by", choices=["loss", "f1", "last"], default="@BEST_BY@", help="which epoch best.safetensors keeps: the lowest validation loss (training loss without --val), the highest validation macro F1, or the last")
    p.add_argument("--exchange-backgrounds", type=float, default=None, metavar="Q", help="the probability that a training image's background (mask 0) is exchanged for other images' of the batch (default @EXCHANGE@ with --P > 0, else 0)")
    p.add_argument("--mask-input", choices=["none", "zero", "noise"], default=None, help="replace the images' background (mask 0): zero, or noise uniform over the input's range; trains a teacher on masked images; with --teacher-weights, the teacher's input (default none; distillation @TEACHER_INPUT@)")
    p.add_argument("--teacher-weights", help="explanation distillation: the frozen teacher's weights; the model learns to match its heatmaps")
    p.add_argument("--distill-from", metavar="PACKAGE", help="distillation: the teacher's exported package directory (default: this package's architecture)")
    p.add_argument("--explain", choices=loss.EXPLAINED, default="@EXPLAIN@", help="distillation: whose maps are matched: stochastic (the teacher's top class half of the time, else another), label, top, all")
    p.add_argument("--epsilon-range", type=parse_range, default=parse_range("@EPSILON_RANGE@"), metavar="LOW,HIGH|none", help="distillation: epsilon per sample, log-uniform in [LOW, HIGH], shared by teacher and student; none: the exported epsilon (default @EPSILON_RANGE@)")
    p.add_argument("--distill-ce", type=float, default=@DISTILL_CE@, help="distillation: the weight of a cross-entropy term on the labels; 0 trains by the explanations alone")
    p.add_argument("--freeze", action="append", default=[], metavar="SCOPE", help="keep the parameters under SCOPE as loaded (a pipeline's trained segmenter; repeatable): no gradient, its batch norms in evaluation mode")
    p.add_argument("--freeze-head-from-teacher", action=argparse.BooleanOptionalAction, default=@FREEZE_HEAD@, help="distillation: copy the teacher's last layer into the student and keep it fixed")
    p.add_argument("--pyramid", action=argparse.BooleanOptionalAction, default=@PYRAMID@, help="distillation: compare the maps' 2x, 4x, ... average pools too")
    p.add_argument("--distill-norm", choices=["separate", "geometric"], default="@DISTILL_NORM@", help="distillation: each map divided by its own mean |R| (separate) or each pair by the geometric mean of theirs (geometric, the authors')")
    p.add_argument("--device", default="auto", help="cpu, cuda, or auto (CUDA when available)")
    p.add_argument("--workers", type=int, default=2, help="data loading processes per training process")
    p.add_argument("--steps", type=int, help="stop after this many optimizer steps (for checks)")
    args = p.parse_args(argv)
    # isnetc's recipes: an ISNet's rate and schedule, a standard classifier's, a student's.
    isnet = args.P > 0 and args.teacher_weights is None
    if args.lr is None:
        args.lr = @DISTILL_LR@ if args.teacher_weights is not None else (@LR@ if isnet else @STANDARD_LR@)
    if args.lr_schedule is None:
        args.lr_schedule = "@LR_SCHEDULE@" if isnet else "@STANDARD_SCHEDULE@"
    if args.resume is None and (args.data is None or args.out is None):
        p.error("--data and --out are needed (or --resume RUN)")
    problems = []
    if not 0 <= args.P <= 1:
        problems.append(f"--P must be in [0, 1], got {args.P}")
    if not 0 < args.stabilizer < 1:
        problems.append(f"--stabilizer must be in (0, 1), got {args.stabilizer}")
    if args.batch < 2:
        problems.append(f"--batch must be at least 2 (batch statistics), got {args.batch}")
    if args.epochs < 1:
        problems.append(f"--epochs must be at least 1, got {args.epochs}")
    if not args.lr > 0:
        problems.append(f"--lr must be positive, got {args.lr}")
    if not 0 <= args.momentum < 1:
        problems.append(f"--momentum must be in [0, 1), got {args.momentum}")
    if args.weight_decay < 0 or args.clip < 0:
        problems.append("--weight-decay and --clip must not be negative")
    if args.auto_batches < 1:
        problems.append("--auto-batches must be at least 1")
    if args.teacher_weights is not None:
        given = {a.split("=")[0] for a in (argv if argv is not None else sys.argv[1:]) if a.startswith("--")}
        isnet_only = sorted(given & {"--P", "--E", "--loss", "--heatmaps", "--warmup", "--band", "--decay"})
        if isnet_only:
            problems.append(f"{', '.join(isnet_only)}: the ISNet loss's, not distillation's (--teacher-weights)")
        if args.distill_ce < 0:
            problems.append(f"--distill-ce must not be negative, got {args.distill_ce}")
        if args.mask_input is None:
            args.mask_input = "@TEACHER_INPUT@"
    elif args.distill_from is not None:
        problems.append("--distill-from needs --teacher-weights")
    if args.exchange_backgrounds is None:
        args.exchange_backgrounds = @EXCHANGE@ if args.P > 0 and args.teacher_weights is None and args.mask_input in (None, "none") else 0.0
    if not 0 <= args.exchange_backgrounds <= 1:
        problems.append(f"--exchange-backgrounds must be in [0, 1], got {args.exchange_backgrounds}")
    if args.exchange_backgrounds > 0 and args.mask_input not in (None, "none"):
        problems.append("--exchange-backgrounds with --mask-input: the fill replaces the background the exchange brings")
    if args.E is None:
        args.E = (None, 1.0) if args.loss == "paper" else (@GWRP_E@, 1.0)
    elif args.loss == "gwrp" and args.E[0] is None:
        problems.append("--E auto belongs to the paper's loss; the gwrp loss takes a number (default @GWRP_E@)")
    if not 0 <= args.decay <= 1:
        problems.append(f"--decay must be in [0, 1], got {args.decay}")
    if args.background_weight < 0 or args.foreground_weight < 0:
        problems.append("--background-weight and --foreground-weight must not be negative")
    if args.heatmaps == "selective" and CONFIG["output_kind"] == "sigmoid" and args.P > 0:
        problems.append("--heatmaps selective explains each sample's one label; a multi-label (sigmoid) model has several: use all or stochastic")
    if problems:
        p.error("; ".join(problems))
    return args


class Run:
    """The process's share of a training run."""

    def __init__(self, args):
        self.args = args
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        wanted = args.device
        if wanted == "auto":
            wanted = "cuda" if torch.cuda.is_available() else "cpu"
        # TF32 would round every product to 10 bits: the ISNet gradient is too sensitive.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        if wanted == "cuda":
            if not torch.cuda.is_available():
                raise SystemExit("--device cuda: CUDA is not available")
            torch.cuda.set_device(local)
            self.device = torch.device("cuda", local)
        else:
            self.device = torch.device(wanted)
        if self.world > 1:
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
            ops.set_sync_group(dist.group.WORLD)
        if args.batch % self.world:
            raise SystemExit(f"--batch {args.batch} does not divide among {self.world} processes")

    def say(self, line):
        if self.rank == 0:
            print(line, flush=True)

    def mean(self, value):
        """The mean of a per-process float over the processes."""
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t.item()) / self.world


def lr_scale(schedule, epoch, epochs):
    """isnetc's LearningRateSchedule: constant, or half a cosine from 1 at epoch 1 towards 0
    after the last epoch."""
    return 1.0 if schedule == "constant" else 0.5 * (1 + math.cos(math.pi * (epoch - 1) / max(epochs, 1)))


def fills(args, distilling, heatmaps):
    """(the model's own background fill, the teacher's or None, whether masks are read):
    --mask-input fills the teacher's input when distilling, else the model's own."""
    own, teacher = ("none", args.mask_input) if distilling else (args.mask_input or "none", None)
    return own, teacher, heatmaps or own != "none" or teacher not in (None, "none") or args.exchange_backgrounds > 0


def write_json(path, value):
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "w") as f:
        json.dump(value, f, indent=1)
    os.replace(temporary, path)


def main(argv=None):
    args = parse_arguments(argv)
    state = {"history": [], "epochs_done": 0, "steps": 0, "E": None, "band": None, "foreground0": None, "best_epoch": None, "best_loss": None}
    if args.resume:
        directory = args.resume
        with open(os.path.join(directory, "run.json")) as f:
            saved = json.load(f)
        resumed_epochs = args.epochs if "--epochs" in (argv or sys.argv) else None
        for key, value in saved["settings"].items():
            setattr(args, key, value)
        if resumed_epochs:
            args.epochs = resumed_epochs
        args.E = tuple(args.E)
        state.update({k: saved[k] for k in state if k in saved})
    else:
        directory = args.out
    run = Run(args)
    if args.weight_decay > 0:
        run.say("warning: weight decay drives the ISNet towards the zero solution, whose heatmaps are empty (paper section 4.11); the paper trains without it")
    torch.manual_seed(args.seed * 1000003 + run.rank)
    model = build_model()
    initial = os.path.join(directory, "weights.safetensors") if args.resume else (args.weights or WEIGHTS)
    ops.load_weights(model, initial)
    model.to(run.device)
    for scope in args.freeze:
        under = [p for name, p in model.named_parameters() if name.startswith(scope + ".")]
        if not under:
            raise SystemExit(f"--freeze {scope}: no parameter of '{CONFIG['name']}' lies under scope '{scope}'")
        for p in under:
            p.requires_grad_(False)
    distilling = args.teacher_weights is not None
    teacher = None
    if distilling:
        if CONFIG["input_rule"] != "epsilon":
            run.say("warning: this package's LRP block uses the Z^B rule at the input; isnetc distils with the epsilon rule there, under which a zeroed background gets no relevance (export with --input-rule epsilon)")
        teacher, teacher_config = distill.load_teacher(args.distill_from, args.teacher_weights, run.device)
        if args.freeze_head_from_teacher:
            distill.copy_head(teacher, teacher_config, model)
    network = model
    if run.world > 1:
        network = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[run.device.index] if run.device.type == "cuda" else None)
    P, heatmaps = args.P, args.P > 0 and not distilling
    kind = CONFIG["output_kind"]
    own_fill, teacher_fill, needs_masks = fills(args, distilling, heatmaps)
    folder = data.DatasetFolder(args.data, CONFIG["input_shape"], CONFIG["input_range"], CONFIG["classes"], needs_masks, kind == "sigmoid")
    dataset = data.AugmentedDataset(folder, args.seed, args.augment, own_fill, teacher_fill)
    sampler = data.IsnetcOrderSampler(dataset, run.world, run.rank, args.seed, args.batch)
    collate = data.ExchangeCollate(args.exchange_backgrounds, args.seed)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=data.batch_sampler(sampler, args.batch), num_workers=args.workers, collate_fn=collate)
    trained = [p for p in model.parameters() if p.requires_grad]  # a head copied from the teacher stays fixed
    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(trained, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    else:
        optimizer = torch.optim.Adam(trained, lr=args.lr, weight_decay=args.weight_decay)
    if args.resume and os.path.exists(os.path.join(directory, "optimizer.pt")):
        optimizer.load_state_dict(torch.load(os.path.join(directory, "optimizer.pt"), map_location=run.device))
    os.makedirs(directory, exist_ok=True)

    def to_device(batch):
        return [t.to(run.device, non_blocking=True) for t in batch]

    scale, divisor = args.E if state["E"] is None else (state["E"], 1.0)
    positions = [run.rank + j * run.world for j in range(args.batch // run.world)]

    def explain_for(labels, step):
        """The per-sample classes of the step's heatmaps (None: all K)."""
        if args.heatmaps == "all":
            return None
        seed = loss.selection_seed(args.seed, step)
        return lambda logits: loss.choose(args.heatmaps, logits, labels, seed, positions[:logits.shape[0]])

    def heatmap_term():
        if args.loss == "gwrp":
            return loss.GWRP(tuple(state["band"] or (1.0, 1.0)), scale, args.decay, args.background_weight, args.foreground_weight, args.band_penalty)
        return loss.Paper(state["E"] or 1.0, args.stabilizer, args.heatmap_norm)

    def measure_initial():
        """The model the ISNet phase starts from (batch statistics, running statistics left
        as they are, the run's heatmap choice) over the first batches of epoch 1: E auto's
        mean background sum, the band's per-sample relevance, the guard's foreground F."""
        buffers = {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}
        sampler.set_epoch(1)
        dataset.set_epoch(1)
        collate.set_epoch(1)
        model.train()
        background, foreground, count, totals = 0.0, 0.0, 0, []
        with torch.no_grad():
            for index, (images, masks, labels, _) in enumerate(loader):
                if index == args.auto_batches:
                    break
                images, masks, labels = to_device((images, masks, labels))
                _, maps = network(images, heatmaps=True, explain=explain_for(labels, 0))
                background += float(loss.background_sums(maps, masks, args.stabilizer, args.heatmap_norm).mean())
                foreground += float(loss.foreground_relevance(maps, masks))
                totals += loss.relevance_totals(maps).tolist()
                count += 1
        model.load_state_dict({**model.state_dict(), **buffers})
        if run.world > 1:
            # Every process holds the same number of samples (the batches divide evenly).
            mine = torch.tensor(totals, dtype=torch.float64, device=run.device)
            gathered = [torch.empty_like(mine) for _ in range(run.world)]
            dist.all_gather(gathered, mine)
            totals = torch.cat(gathered).tolist()
        state["foreground0"] = run.mean(foreground / max(count, 1))
        if args.loss == "paper" and scale is None:
            mean = run.mean(background / max(count, 1))
            measured = mean / divisor
            if not (measured > 0 and math.isfinite(measured)):
                raise SystemExit(f"E auto: the initial mean background sum is {mean}; give E explicitly")
            run.say(f"E auto: mean background sum {mean:.4g}, E = {measured:.4g}")
            state["E"] = measured
        elif args.loss == "paper":
            state["E"] = scale
        if args.loss == "gwrp":
            if args.band is not None:
                state["band"] = list(args.band)
            else:
                lower, upper = loss.band(totals)
                if not (lower > 0 and math.isfinite(upper)):
                    raise SystemExit(f"--band auto: the initial model's relevance is {lower}...{upper}; give --band C1,C2 explicitly")
                state["band"] = [lower, upper]
                run.say(f"band auto: C1 = {lower:.4g}, C2 = {upper:.4g}")

    settings = {k: v for k, v in vars(args).items() if k not in ("resume",)}
    while state["epochs_done"] < args.epochs:
        epoch = state["epochs_done"] + 1
        # The warm-up trains the standard classifier; the heatmap loss joins after it, with
        # E and the band measured on the model it starts from, and the ISNet phase picks its
        # best epoch.
        warming = epoch <= args.warmup
        if heatmaps and not warming and state["foreground0"] is None:
            measure_initial()
            if epoch > 1:
                state["best_loss"] = None
        term = heatmap_term()
        start = time.time()
        for group in optimizer.param_groups:
            group["lr"] = args.lr * lr_scale(args.lr_schedule, epoch, args.epochs)
        sampler.set_epoch(epoch)
        dataset.set_epoch(epoch)
        collate.set_epoch(epoch)
        model.train()
        sums = {"loss": 0.0, "lc": 0.0, "lh": 0.0, "correct": 0.0, "samples": 0.0, "steps": 0, "foreground": 0.0}
        for images, masks, labels, teacher_images in loader:
            images, masks, labels, teacher_images = to_device((images, masks, labels, teacher_images))
            explain = heatmaps and not warming
            step = state["steps"] + 1
            if distilling:
                seed = loss.selection_seed(args.seed, step)
                total, lc, lh, logits = distill.step(network, teacher, args, images, teacher_images, labels, seed, positions[:images.shape[0]], kind)
            elif explain:
                logits, maps = network(images, heatmaps=True, explain=explain_for(labels, step))
            else:
                logits, maps = network(images), None
            if not distilling:
                total, lc, lh = loss.isnet_loss(logits, maps, labels, masks, P if explain else 0.0, term, kind)
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            state["steps"] = step
            grads = [p.grad for p in model.parameters() if p.grad is not None]
            finite = torch.stack([torch.isfinite(g).all() for g in grads]).all() & torch.isfinite(total)
            if not bool(finite):
                raise SystemExit(f"step {step} (epoch {epoch}): the loss or a gradient is not finite; stopped, the last checkpoint in {directory} is kept")
            if args.clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            n = float(images.shape[0])
            sums["loss"] += total.item() * n
            sums["lc"] += lc.item() * n
            sums["lh"] += lh.item() * n
            if explain:
                sums["foreground"] += float(loss.foreground_relevance(maps.detach(), masks)) * n
            if kind == "softmax":
                sums["correct"] += float((logits.argmax(1) == labels).sum())
            sums["samples"] += n
            sums["steps"] += 1
            if args.steps and state["steps"] >= args.steps:
                break
        samples = run.mean(sums["samples"]) * run.world
        record = {"epoch": epoch, "steps": sums["steps"], "trainLoss": run.mean(sums["loss"]) * run.world / samples,
                  "trainClassificationLoss": run.mean(sums["lc"]) * run.world / samples,
                  "trainHeatmapLoss": run.mean(sums["lh"]) * run.world / samples,
                  "trainAccuracy": run.mean(sums["correct"]) * run.world / samples}
        if heatmaps and not warming:
            record["foregroundRelevance"] = run.mean(sums["foreground"]) * run.world / samples
        if args.val and run.rank == 0:
            record.update(validate(model, args, term, run.device, teacher))
        record["seconds"] = time.time() - start
        finding = zero_solution(record, state["history"], state["foreground0"], args)
        if finding:
            record["warning"] = finding
        # The kept epoch's criterion, lower is better: the loss, minus macro F1, or the epoch.
        if args.best_by == "f1" and "validationMacroF1" in record:
            criterion = -record["validationMacroF1"]
        elif args.best_by == "last":
            criterion = -epoch
        else:
            criterion = record.get("validationLoss", record["trainLoss"])
        best = math.isfinite(criterion) and (state["best_loss"] is None or criterion < state["best_loss"])
        if best:
            state["best_epoch"], state["best_loss"] = epoch, criterion
        state["history"].append(record)
        state["epochs_done"] = epoch
        if run.rank == 0:
            ops.save_weights(model, os.path.join(directory, "weights.safetensors"))
            if best:
                ops.save_weights(model, os.path.join(directory, "best.safetensors"))
            temporary = os.path.join(directory, f"optimizer.pt.tmp{os.getpid()}")
            torch.save(optimizer.state_dict(), temporary)
            os.replace(temporary, os.path.join(directory, "optimizer.pt"))
            write_json(os.path.join(directory, "run.json"), {**state, "model": CONFIG["name"], "settings": settings, "processes": run.world})
        term_name = "L_D" if distilling else "L_H"
        line = f"epoch {epoch}/{args.epochs}: train loss {record['trainLoss']:.4f} (L_C {record['trainClassificationLoss']:.4f}, {term_name} {record['trainHeatmapLoss']:.4f}, accuracy {record['trainAccuracy']:.3f})"
        if "validationLoss" in record:
            line += f", validation loss {record['validationLoss']:.4f} (accuracy {record['validationAccuracy']:.3f}, macro F1 {record['validationMacroF1']:.3f})"
        run.say(line + f", {record['seconds']:.1f} s" + ("  [best]" if best else ""))
        if finding:
            run.say(f"warning: {finding}")
        if run.world > 1:
            dist.barrier()
        if args.steps and state["steps"] >= args.steps:
            break
    if run.world > 1:
        # DDP's reducer must go before its process group does (a reducer collected at exit,
        # after the group, aborts the process).
        network = None
        gc.collect()
        dist.destroy_process_group()


def zero_solution(record, history, foreground0, args, tolerance=0.02, collapse=0.05, patience=3):
    """isnetc's zero-solution guard (paper section 4.11): the classifier at chance (L_C
    within 2% of ln K, or ln 2 for sigmoid outputs) while the foreground relevance fell
    below 5% of the initial model's, or at chance for 3 epochs. Never stops the run."""
    classes = CONFIG["classes"]
    chance = math.log(classes) if CONFIG["output_kind"] == "softmax" else math.log(2)

    def at_chance(r):
        return r["trainClassificationLoss"] >= (1 - tolerance) * chance
    if not at_chance(record):
        return None
    f = record.get("foregroundRelevance")
    text = f"L_C {record['trainClassificationLoss']:.4f}, chance {chance:.4f}"
    if args.P > 0 and f is not None and foreground0 and f < collapse * foreground0:
        advice = (["--loss gwrp (its foreground band forbids empty heatmaps)"] if args.loss == "paper" else []) \
            + (["--weight-decay 0"] if args.weight_decay > 0 else []) \
            + ["a lower --P", "--weights of a standard classifier (train one with --P 0)"] \
            + (["a larger --decay or a lower --lr"] if args.loss == "gwrp" else [])
        return (f"zero solution: the foreground relevance fell to {f:.3g}, {foreground0 / f:.0f}x below the initial {foreground0:.3g}, "
                f"while the classifier is at chance ({text}); the heatmap loss is being met by removing all relevance. Change: " + "; ".join(advice))
    stuck = sum(1 for r in history[-(patience - 1):] + [record] if at_chance(r))
    if record["epoch"] < patience or stuck < patience:
        return None
    return (f"at chance for {stuck} epochs ({text}): the classifier is not learning. Change: a lower --lr or --optimizer adam"
            + ("; a lower --P; --weights of a standard classifier" if args.P > 0 else ""))


def validate(model, args, term, device, teacher=None):
    """Loss, accuracy and macro F1 on the validation folder in evaluation mode (running
    statistics, no dropout), on this process alone, with the fills and the heatmap choices
    drawn as isnetc draws them (the same draws every epoch)."""
    kind = CONFIG["output_kind"]
    distilling = teacher is not None
    heatmaps = args.P > 0 and not distilling
    own_fill, teacher_fill, needs_masks = fills(args, distilling, heatmaps)
    folder = data.DatasetFolder(args.val, CONFIG["input_shape"], CONFIG["input_range"], CONFIG["classes"], needs_masks, kind == "sigmoid")
    group = ops.sync_group()
    ops.set_sync_group(None)
    model.eval()
    classes = CONFIG["classes"]
    confusion = torch.zeros(classes, classes)
    sums = {"loss": 0.0, "lc": 0.0, "lh": 0.0, "correct": 0.0, "samples": 0.0}
    inverted = ~args.seed & loss.MASK64
    try:
        with torch.no_grad():
            for start in range(0, len(folder), args.batch):
                indices = range(start, min(start + args.batch, len(folder)))
                items = [data.with_fills(*folder.load(i), own_fill, teacher_fill, folder.range, data.mask_fill_seed(inverted, 0, i)) for i in indices]
                images, masks, labels, teacher_images = (torch.stack([item[k] for item in items]).to(device) for k in range(4))
                seed = loss.selection_seed(inverted, start + len(items))
                positions = range(len(items))
                if distilling:
                    total, lc, lh, logits = distill.step(model, teacher, args, images, teacher_images, labels, seed, positions, kind)
                elif heatmaps:
                    explain = None
                    if args.heatmaps != "all":
                        explain = lambda logits: loss.choose(args.heatmaps, logits, labels, seed, positions)
                    logits, maps = model(images, heatmaps=True, explain=explain)
                    total, lc, lh = loss.isnet_loss(logits, maps, labels, masks, args.P, term, kind)
                else:
                    logits = model(images)
                    total, lc, lh = loss.isnet_loss(logits, None, labels, masks, 0.0, term, kind)
                n = float(len(items))
                sums["loss"] += float(total) * n
                sums["lc"] += float(lc) * n
                sums["lh"] += float(lh) * n
                sums["samples"] += n
                if kind == "softmax":
                    predicted = logits.argmax(1)
                    sums["correct"] += float((predicted == labels).sum())
                    for t, q in zip(labels.tolist(), predicted.tolist()):
                        confusion[t, q] += 1
    finally:
        ops.set_sync_group(group)
        model.train()
    f1 = []
    for c in range(classes):
        tp, fp, fn = confusion[c, c], confusion[:, c].sum() - confusion[c, c], confusion[c, :].sum() - confusion[c, c]
        f1.append(float(2 * tp / (2 * tp + fp + fn)) if (2 * tp + fp + fn) > 0 else 0.0)
    n = sums["samples"]
    return {"validationLoss": sums["loss"] / n, "validationClassificationLoss": sums["lc"] / n,
            "validationHeatmapLoss": sums["lh"] / n, "validationAccuracy": sums["correct"] / n,
            "validationMacroF1": sum(f1) / classes}


if __name__ == "__main__":
    try:
        main()
    except (data.DataError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
"""#

}
