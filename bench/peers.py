#!/usr/bin/env python3
"""bench/peers.py: the same MRInet in Zennit and Captum, on the same device, for scripts/gpu-check.

    bench/peers.py --model DIR --peers SRC [--device cuda] [--batches 1,2,4,8] [--repeats 3] [--tf32] [--json FILE]
    bench/peers.py --model DIR --peers SRC --composites   (Zennit's composites against mlens' maps, float64 CPU)

DIR is what `bench/lrp --export DIR` wrote: the network layer by layer (index.txt, weights.f32), the
phantom (input.f32) and mlens' preset-A map of it (relevance.f32). SRC holds the peers' sources as
checked out from GitHub (SRC/zennit/src/zennit, SRC/captum/captum): nothing is installed, but Python
needs what they import (torch, numpy, torchvision for Zennit; tqdm and matplotlib for Captum). Zennit
1.0 needs torch >= 2 (Debian's torch 1.13 runs Zennit 0.5.1).

Measured per batch, after one warm-up run, best of --repeats, with TF32 off unless --tf32 (PyTorch,
like LibTorch, allows it in cuDNN by default):
  zennit   LayerMapComposite: AlphaBeta(1, 0) on convolutions, Epsilon(0.1) on dense layers, Pass on
           ReLU (mlens' preset A), starting from the prediction; its map is compared with mlens' (relative
           L2; float32 rounding, ~4e-4 at 64³ on the CPU)
  captum   InputXGradient (Captum's LRP has no rule for Conv3d: captum/attr/_core/lrp.py,
           SUPPORTED_LAYERS_WITH_RULES)
Prints one line per method and batch, and writes flat JSON keys (zennit_b1_per_second, ...).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch


def tf_pad(values):
    """(before d, h, w, after d, h, w) -> torch's F.pad order (w_before, w_after, h_before, ..., d_after)."""
    b, a = values[:3], values[3:]
    return (b[2], a[2], b[1], a[1], b[0], a[0])


def build(model_dir):
    """The exported network as torch.nn.Sequential, with TensorFlow's padding as explicit pad layers."""
    weights = np.fromfile(os.path.join(model_dir, "weights.f32"), dtype="<f4")
    offset = 0

    def take(shape):
        nonlocal offset
        n = int(np.prod(shape))
        t = torch.from_numpy(weights[offset:offset + n].copy()).reshape(shape)
        offset += n
        return t

    layers, input_shape = [], None
    for line in open(os.path.join(model_dir, "index.txt")):
        f = line.split()
        kind, v = f[0], [int(x) for x in f[1:]]
        if kind == "input":
            input_shape = v
        elif kind == "conv":
            out, cin, kd, kh, kw, pads = v[0], v[1], v[2], v[3], v[4], v[5:]
            conv = torch.nn.Conv3d(cin, out, (kd, kh, kw))
            conv.weight.data = take((out, cin, kd, kh, kw))
            conv.bias.data = take((out,))
            if any(pads):
                layers.append(torch.nn.ConstantPad3d(tf_pad(pads), 0.0))
            layers.append(conv)
        elif kind in ("maxpool", "avgpool"):
            kernel, stride, pads = v[0:3], v[3:6], v[6:]
            if any(pads):
                layers.append(torch.nn.ConstantPad3d(tf_pad(pads), -float("inf") if kind == "maxpool" else 0.0))
            layers.append(torch.nn.MaxPool3d(kernel, stride) if kind == "maxpool" else torch.nn.AvgPool3d(kernel, stride))
        elif kind == "dense":
            out, cin = v
            dense = torch.nn.Linear(cin, out)
            dense.weight.data = take((out, cin))
            dense.bias.data = take((out,))
            layers.append(dense)
        elif kind == "relu":
            layers.append(torch.nn.ReLU())
        elif kind == "flatten":
            layers.append(torch.nn.Flatten())
        elif kind == "dropout":
            layers.append(torch.nn.Dropout(0.5))
        else:
            sys.exit(f"bench/peers.py: unknown layer kind {kind} in {model_dir}/index.txt")
    if offset != weights.size:
        sys.exit(f"bench/peers.py: {weights.size - offset} weights left over in {model_dir}/weights.f32")
    model = torch.nn.Sequential(*layers).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.from_numpy(np.fromfile(os.path.join(model_dir, "input.f32"), dtype="<f4").copy()).reshape([1] + input_shape)
    reference = np.fromfile(os.path.join(model_dir, "relevance.f32"), dtype="<f4").astype(np.float64)
    return model, x, reference


def timed(device, repeats, fn):
    """Best of `repeats` after one warm-up run, and the peak GPU memory of those runs (MiB)."""
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    result = fn()
    sync()
    result = None  # freed before the peak is measured, as bench/lrp frees its previous map
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    best = float("inf")
    for _ in range(repeats):
        result = None
        start = time.perf_counter()
        result = fn()
        sync()
        best = min(best, time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else 0.0
    return best, peak, result


def compare_composites(args):
    """Zennit's composites against mlens' maps of the same model and phantom, float64 on the CPU."""
    from zennit.attribution import Gradient
    from zennit.composites import EpsilonAlpha2Beta1, EpsilonGammaBox, EpsilonPlus, EpsilonPlusFlat
    model, x, _ = build(args.model)
    model, x = model.double(), x.double()
    composites = {"epsilon-plus": EpsilonPlus(), "epsilon-plus-flat": EpsilonPlusFlat(),
                  "epsilon-alpha2-beta1": EpsilonAlpha2Beta1(), "epsilon-gamma-box": EpsilonGammaBox(low=0.0, high=1.0)}
    results = {}
    for name, composite in composites.items():
        with Gradient(model=model, composite=composite) as attributor:
            relevance = attributor(x)[1][0].detach().numpy().ravel()
        mlens = np.fromfile(os.path.join(args.model, f"relevance_{name}.f64"), dtype="<f8")
        error = float(np.linalg.norm(relevance - mlens) / np.linalg.norm(mlens))
        results[f"zennit_{name}_rel_l2_vs_mlens"] = error
        print(f"zennit {name:<22} vs mlens: rel L2 {error:.3e}   (sums: zennit {relevance.sum():.6g}, mlens {mlens.sum():.6g})")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="folder written by bench/lrp --export")
    parser.add_argument("--peers", required=True, help="folder holding zennit/ and captum/ source checkouts")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batches", default="1,2,4,8")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tf32", action="store_true", help="allow TF32 in cuDNN and cuBLAS (as bench/lrp --tf32 on)")
    parser.add_argument("--json")
    parser.add_argument("--composites", action="store_true",
                        help="only compare Zennit's EpsilonPlus, EpsilonPlusFlat, EpsilonAlpha2Beta1 and EpsilonGammaBox "
                             "maps (float64, CPU) with mlens' (relevance_<name>.f64)")
    args = parser.parse_args()
    sys.path[:0] = [os.path.join(args.peers, "zennit", "src"), os.path.join(args.peers, "captum")]
    if args.composites:
        return compare_composites(args)
    from zennit.attribution import Gradient
    from zennit.composites import LayerMapComposite
    from zennit.rules import AlphaBeta, Epsilon, Pass
    from zennit.types import Activation, Convolution, Linear
    from captum.attr import InputXGradient

    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    device = torch.device(args.device)
    model, x1, reference = build(args.model)
    model = model.to(device)
    results = {"device": str(device), "torch": torch.__version__}
    print(f"{'peer':<34} {'batch':>5} {'seconds':>9} {'per second':>11} {'peak GPU MiB':>13}")
    for batch in [int(b) for b in args.batches.split(",")]:
        x = x1.repeat(batch, 1, 1, 1, 1).to(device)
        composite = LayerMapComposite(layer_map=[(Activation, Pass()), (Convolution, AlphaBeta(alpha=1, beta=0)),
                                                 (Linear, Epsilon(epsilon=0.1))])
        with Gradient(model=model, composite=composite) as attributor:
            def zennit_once():
                # No attr_output: Zennit then starts from the output itself, as mlens and iNNvestigate do.
                return attributor(x)[1]
            seconds, peak, relevance = timed(device, args.repeats, zennit_once)
        r = relevance[0].detach().double().cpu().numpy().ravel()
        error = float(np.linalg.norm(r - reference) / np.linalg.norm(reference))
        results.update({f"zennit_b{batch}_seconds": seconds, f"zennit_b{batch}_per_second": batch / seconds,
                        f"zennit_b{batch}_peak_gpu_mib": peak, f"zennit_b{batch}_rel_l2_vs_mlens": error})
        print(f"{'zennit preset-a (AlphaBeta/Epsilon)':<34} {batch:>5} {seconds:>9.3f} {batch / seconds:>11.2f} {peak:>13.0f}"
              f"   map vs mlens: rel L2 {error:.2e}")
        del relevance, attributor

        ixg = InputXGradient(model)
        seconds, peak, _ = timed(device, args.repeats, lambda: ixg.attribute(x.clone().requires_grad_(True)).detach())
        results.update({f"captum_b{batch}_seconds": seconds, f"captum_b{batch}_per_second": batch / seconds,
                        f"captum_b{batch}_peak_gpu_mib": peak})
        print(f"{'captum InputXGradient':<34} {batch:>5} {seconds:>9.3f} {batch / seconds:>11.2f} {peak:>13.0f}")
        del x
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out)


if __name__ == "__main__":
    main()
