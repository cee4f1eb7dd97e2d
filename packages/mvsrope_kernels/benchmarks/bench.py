"""Benchmark the MVS-RoPE kernels at the Wan joint shapes and print a markdown table.

    python packages/mvsrope_kernels/benchmarks/bench.py            # on a CUDA GPU
    python packages/mvsrope_kernels/benchmarks/bench.py --dry-run  # tiny shapes, CPU ok (CI)

Shapes (bf16, D = 128): Wan-1.3B joint = 32,760 video + 4,131 motion tokens, 12 heads;
Wan-5B joint = 27,280 + 6,171 tokens, 24 heads; B = 1 and 2.

Kernel 1 (fused QK-RMSNorm + MVS-RoPE for q and k): time, GB/s (bytes the kernel must move:
fwd reads q, k and writes q', k'; bwd reads dq', dk', q, k and writes dq, dk) and % of the
device's copy bandwidth, measured here with ``dst.copy_(src)`` (read + write counted), against
eager diffusers-style ``RMSNorm`` + table RoPE.

Kernel 2 (attention, RoPE + norm included in every path; FLOPs = 4·B·N·Sq·Sk·D forward, 2.5×
that backward):
- ``k1+k2``: kernel 1 (norm + rope) then kernel 2 on pre-rotated q/k;
- ``norm+k2(rope)``: eager norm, then kernel 2 with positions (q rotated in its prologue, k
  pre-rotated) — the fused-rope path;
- ``eager+sdpa``: eager diffusers-style norm + table rope, then the fastest
  ``scaled_dot_product_attention`` backend available (cuDNN, flash or efficient);
- ``k1+sdpa``: kernel 1 then that SDPA backend.

In ``--dry-run`` mode the shapes are tiny, kernels run through the Triton CPU interpreter when
there is no GPU, and the timings mean nothing: it only proves that the script runs.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

if "--dry-run" in sys.argv and not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported

import torch.nn.functional as F

from echomotion_mvsrope import (
    joint_positions,
    mvs_attention,
    qk_norm_rope,
    rope_angles,
)


@dataclass(frozen=True)
class Shape:
    name: str
    batch: int
    frames: int
    height: int
    width: int
    motion_frames: int
    heads: int
    head_dim: int = 128

    @property
    def positions(self) -> torch.Tensor:
        return joint_positions(self.frames, self.height, self.width, self.motion_frames)

    @property
    def tokens(self) -> int:
        return self.frames * self.height * self.width + self.motion_frames * 51


# 1.3B: 81 frames 480x832 -> 21 x 30 x 52 = 32,760 video tokens; 81 x 51 = 4,131 motion tokens
# 5B: 121 frames 704x1280 (VAE /16, patch 2) -> 31 x 22 x 40 = 27,280; 121 x 51 = 6,171
FULL_SHAPES = [
    Shape("wan-1.3B", 1, 21, 30, 52, 81, 12),
    Shape("wan-1.3B", 2, 21, 30, 52, 81, 12),
    Shape("wan-5B", 1, 31, 22, 40, 121, 24),
    Shape("wan-5B", 2, 31, 22, 40, 121, 24),
]
DRY_SHAPES = [Shape("dry-run", 1, 2, 3, 4, 1, 2, 64)]


def bench(fn: Callable[[], object], device: torch.device, reps: int, warmup: int) -> float:
    """Median seconds per call."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def copy_bandwidth(device: torch.device, nbytes: int, reps: int, warmup: int) -> float:
    """Bytes per second of ``dst.copy_(src)``, counting the read and the write."""
    src = torch.empty(nbytes // 2, dtype=torch.bfloat16, device=device).normal_()
    dst = torch.empty_like(src)
    return 2 * nbytes / bench(lambda: dst.copy_(src), device, reps, warmup)


def eager_norm_rope(
    q: torch.Tensor,
    k: torch.Tensor,
    qw: torch.Tensor,
    kw: torch.Tensor,
    cos: torch.Tensor,
    sin: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """What diffusers' Wan processor does: ``nn.RMSNorm(N*D)`` then table RoPE (cos/sin ``[1, S, 1, D]``)."""

    def rot(x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
        c, s = cos[..., 0::2], sin[..., 1::2]
        out = torch.empty_like(x)
        out[..., 0::2] = x1 * c - x2 * s
        out[..., 1::2] = x1 * s + x2 * c
        return out

    n, d = q.shape[2], q.shape[3]
    qn = F.rms_norm(q.flatten(2), (n * d,), qw, 1e-6).unflatten(2, (n, d))
    kn = F.rms_norm(k.flatten(2), (n * d,), kw, 1e-6).unflatten(2, (n, d))
    return rot(qn), rot(kn)


def eager_norm(q: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    n, d = q.shape[2], q.shape[3]
    return F.rms_norm(q.flatten(2), (n * d,), w, 1e-6).unflatten(2, (n, d))


def sdpa_backends(device: torch.device) -> list[tuple[str, Callable[..., torch.Tensor]]]:
    """SDPA, once per available backend (``[B, S, N, D]`` in and out)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    def make(backend: SDPBackend | None) -> Callable[..., torch.Tensor]:
        def run(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            if backend is None:
                out = F.scaled_dot_product_attention(
                    q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
                )
            else:
                with sdpa_kernel(backend):
                    out = F.scaled_dot_product_attention(
                        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
                    )
            return out.transpose(1, 2)

        return run

    if device.type != "cuda":
        return [("default", make(None))]
    names = ["CUDNN_ATTENTION", "FLASH_ATTENTION", "EFFICIENT_ATTENTION"]
    return [(n.lower(), make(getattr(SDPBackend, n))) for n in names if hasattr(SDPBackend, n)]


def fwd_bwd(fn: Callable[[], torch.Tensor | tuple[torch.Tensor, ...]]) -> Callable[[], None]:
    def run() -> None:
        out = fn()
        outs = out if isinstance(out, tuple) else (out,)
        torch.autograd.backward(list(outs), [torch.ones_like(o) for o in outs])

    return run


def run_shape(
    shape: Shape, device: torch.device, dtype: torch.dtype, reps: int, warmup: int, copy_bps: float
) -> list[str]:
    b, s, n, d = shape.batch, shape.tokens, shape.heads, shape.head_dim
    pos = shape.positions.to(device)
    cos_sin = rope_angles(pos, d)  # (S, D/2)
    cos = torch.cos(cos_sin).float().repeat_interleave(2, -1)[None, :, None, :]  # diffusers' table
    sin = torch.sin(cos_sin).float().repeat_interleave(2, -1)[None, :, None, :]

    def leaf(*size: int) -> torch.Tensor:
        return torch.randn(*size, device=device, dtype=dtype).requires_grad_()

    q, k, v = leaf(b, s, n, d), leaf(b, s, n, d), leaf(b, s, n, d)
    qw, kw = leaf(n * d), leaf(n * d)
    rows = []
    elem = q.element_size() * b * s * n * d  # bytes of one of q, k

    # kernel 1: forward and backward, vs eager
    with torch.no_grad():
        t_k1 = bench(lambda: qk_norm_rope(q, k, qw, kw, pos), device, reps, warmup)
        t_e1 = bench(lambda: eager_norm_rope(q, k, qw, kw, cos, sin), device, reps, warmup)
    t_k1_fb = bench(fwd_bwd(lambda: qk_norm_rope(q, k, qw, kw, pos)), device, reps, warmup)
    t_e1_fb = bench(fwd_bwd(lambda: eager_norm_rope(q, k, qw, kw, cos, sin)), device, reps, warmup)
    t_k1_b = max(t_k1_fb - t_k1, 1e-9)
    t_e1_b = max(t_e1_fb - t_e1, 1e-9)
    for label, t, moved, t_eager in (
        ("fwd", t_k1, 4 * elem, t_e1),
        ("bwd", t_k1_b, 6 * elem, t_e1_b),
    ):
        gbs = moved / t / 1e9
        rows.append(
            f"| {shape.name} B={b} | k1 norm+rope {label} | {t * 1e3:.3f} ms | {gbs:.0f} GB/s "
            f"({100 * moved / t / copy_bps:.0f}% of copy) | eager {t_eager * 1e3:.3f} ms, "
            f"{t_eager / t:.2f}x |"
        )

    # kernel 2 paths, rope + norm included everywhere
    flops = 4.0 * b * n * s * s * d
    best_name, best_sdpa, best_t = "", None, float("inf")
    for name, candidate in sdpa_backends(device):
        try:
            with torch.no_grad():
                t = bench(functools.partial(candidate, q, k, v), device, reps, warmup)
        except RuntimeError:  # this backend does not support the shape/device
            continue
        if t < best_t:
            best_name, best_sdpa, best_t = name, candidate, t
    if best_sdpa is None:
        raise RuntimeError("no scaled_dot_product_attention backend ran")
    sdpa = best_sdpa

    def k1_k2() -> torch.Tensor:
        qr, kr = qk_norm_rope(q, k, qw, kw, pos)
        return mvs_attention(qr, kr, v)

    def norm_k2() -> torch.Tensor:
        return mvs_attention(
            eager_norm(q, qw), eager_norm(k, kw), v, q_positions=pos, k_positions=pos
        )

    def eager_sdpa() -> torch.Tensor:
        return sdpa(*eager_norm_rope(q, k, qw, kw, cos, sin), v)

    def k1_sdpa() -> torch.Tensor:
        return sdpa(*qk_norm_rope(q, k, qw, kw, pos), v)

    paths = [
        ("k1+k2", k1_k2),
        ("norm+k2(rope)", norm_k2),
        (f"eager+sdpa[{best_name}]", eager_sdpa),
        (f"k1+sdpa[{best_name}]", k1_sdpa),
    ]
    timings: dict[str, tuple[float, float]] = {}
    for label, fn in paths:
        with torch.no_grad():
            t_f = bench(fn, device, reps, warmup)
        t_fb = bench(fwd_bwd(fn), device, reps, warmup)
        timings[label] = (t_f, t_fb)
    base_f, base_fb = timings[f"eager+sdpa[{best_name}]"]
    for label, (t_f, t_fb) in timings.items():
        rows.append(
            f"| {shape.name} B={b} | attn {label} | fwd {t_f * 1e3:.2f} ms, {flops / t_f / 1e12:.0f} TFLOP/s "
            f"| fwd+bwd {t_fb * 1e3:.2f} ms, {3.5 * flops / t_fb / 1e12:.0f} TFLOP/s "
            f"| vs eager+sdpa: fwd {base_f / t_f:.2f}x, fwd+bwd {base_fb / t_fb:.2f}x |"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="tiny shapes; runs on CPU through the interpreter"
    )
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args(argv)
    cuda = torch.cuda.is_available()
    if not cuda and not args.dry_run:
        parser.error("no CUDA device: run with --dry-run (tiny shapes on CPU) or on a GPU")
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda else torch.float32
    shapes = DRY_SHAPES if args.dry_run else FULL_SHAPES
    reps, warmup = (1, 0) if args.dry_run else (args.reps, args.warmup)
    if args.dry_run and not cuda:
        os.environ.setdefault("ECHOMOTION_MVSROPE_BACKEND", "triton")
    else:
        os.environ.setdefault("ECHOMOTION_MVSROPE_BACKEND", "auto")
    name = torch.cuda.get_device_name(device) if cuda else "cpu (Triton interpreter)"
    copy_bps = copy_bandwidth(
        device, (1 << 30) if cuda and not args.dry_run else (1 << 20), reps, warmup
    )
    print(
        f"device: {name}; date: {datetime.date.today().isoformat()}; torch {torch.__version__}; dtype {dtype}"
    )
    print(f"measured copy bandwidth: {copy_bps / 1e9:.0f} GB/s (read + write)")
    print("\n| shape | what | time | throughput | comparison |\n|---|---|---|---|---|")
    for shape in shapes:
        for row in run_shape(shape, device, dtype, reps, warmup, copy_bps):
            print(row)
        if cuda:
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
