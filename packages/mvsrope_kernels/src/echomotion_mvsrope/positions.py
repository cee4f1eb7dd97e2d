"""MVS-RoPE positions: one fp32 ``(t, h, w)`` triple per token (DESIGN.md §4, paper §3.1, A.8.1).

Dimension legend: ``F`` latent video frames, ``H, W`` video patch grid, ``Tm`` motion frames,
``P`` persons, ``S`` motion slots per person and frame (51).

- video token at latent frame t, patch row h, column w: ``(t·s, h, w)``, token order (t, h, w)
  row-major, as Wan flattens its patch grid;
- motion token at motion frame f, person p, slot i: ``(f·s/4, H + S·p + i, W + S·p + i)``
  (the diagonal extension, eq. 3/14), token order (f, p, i) row-major;
- ``mode="collision"`` (the ablation, eq. 15): ``(f·s/4, S·p + i, S·p + i)``.

``s`` is the video time stride: 1 keeps Wan's pretrained video RoPE exactly, 4 is eq. (2) read
literally. Wan's causal VAE puts pixel frame f at latent time f/4, hence the motion's f·s/4.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import torch

MOTION_SLOTS = 51
"""Motion tokens per frame and person (DESIGN.md §3)."""

PositionMode = Literal["mvs", "collision"]
POSITION_MODES: tuple[str, ...] = get_args(PositionMode)
"""The names :data:`PositionMode` allows, for run-time checks of untyped input (configs)."""


def _check_count(name: str, value: int, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def _check_stride(time_stride: float) -> None:
    if (
        not isinstance(time_stride, int | float)
        or not math.isfinite(time_stride)
        or time_stride <= 0
    ):
        raise ValueError(f"time_stride must be a finite number > 0, got {time_stride!r}")


def video_positions(
    frames: int,
    height: int,
    width: int,
    *,
    time_stride: float = 1.0,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Positions of a video patch grid in Wan's token order.

    Args:
        frames: latent frames ``F`` (after temporal patching).
        height: patch-grid rows ``H``.
        width: patch-grid columns ``W``.
        time_stride: ``s``; video time is ``t·s``.
        device: where the tensor is built.

    Returns:
        ``(F*H*W, 3)`` float32 ``(t·s, h, w)``, (t, h, w) row-major.
    """
    _check_count("frames", frames)
    _check_count("height", height)
    _check_count("width", width)
    _check_stride(time_stride)
    t = torch.arange(frames, dtype=torch.float64, device=device) * float(time_stride)
    h = torch.arange(height, dtype=torch.float64, device=device)
    w = torch.arange(width, dtype=torch.float64, device=device)
    grid = torch.stack(torch.meshgrid(t, h, w, indexing="ij"), dim=-1)  # (F, H, W, 3)
    return grid.reshape(-1, 3).to(torch.float32)  # (F*H*W, 3)


def motion_positions(
    num_frames: int,
    grid_height: int,
    grid_width: int,
    *,
    time_stride: float = 1.0,
    slots: int = MOTION_SLOTS,
    persons: int = 1,
    mode: PositionMode = "mvs",
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Positions of a motion token sequence, synchronized with a video patch grid.

    Args:
        num_frames: motion frames ``Tm`` (never downsampled in time).
        grid_height: the video's patch-grid height ``H`` (where the diagonal starts).
        grid_width: the video's patch-grid width ``W``.
        time_stride: the video time stride ``s``; motion time is ``f·s/4``.
        slots: tokens per frame and person ``S`` (51).
        persons: ``P``; person p's slots continue the diagonal at offset ``S·p``.
        mode: ``"mvs"`` (diagonal extension) or ``"collision"`` (the ablation, from the origin).
        device: where the tensor is built.

    Returns:
        ``(Tm*P*S, 3)`` float32, (f, p, i) row-major: ``(f·s/4, H+S·p+i, W+S·p+i)`` in ``"mvs"``
        mode, ``(f·s/4, S·p+i, S·p+i)`` in ``"collision"`` mode.
    """
    _check_count("num_frames", num_frames)
    _check_count("grid_height", grid_height, minimum=0)
    _check_count("grid_width", grid_width, minimum=0)
    _check_count("slots", slots)
    _check_count("persons", persons)
    _check_stride(time_stride)
    if mode not in POSITION_MODES:
        raise ValueError(f"mode must be one of {POSITION_MODES}, got {mode!r}")
    t = torch.arange(num_frames, dtype=torch.float64, device=device) * (float(time_stride) / 4.0)
    diag = torch.arange(persons * slots, dtype=torch.float64, device=device)  # (P*S,) = S·p + i
    h0, w0 = (float(grid_height), float(grid_width)) if mode == "mvs" else (0.0, 0.0)
    tt = t[:, None].expand(num_frames, persons * slots)  # (Tm, P*S)
    hh = (h0 + diag)[None, :].expand_as(tt)
    ww = (w0 + diag)[None, :].expand_as(tt)
    return torch.stack([tt, hh, ww], dim=-1).reshape(-1, 3).to(torch.float32)  # (Tm*P*S, 3)


def joint_positions(
    frames: int,
    height: int,
    width: int,
    num_motion_frames: int,
    *,
    time_stride: float = 1.0,
    slots: int = MOTION_SLOTS,
    persons: int = 1,
    mode: PositionMode = "mvs",
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Positions of the joint sequence ``[video; motion]`` (video tokens first, eq. 1).

    Returns:
        ``(F*H*W + Tm*P*S, 3)`` float32: :func:`video_positions` then :func:`motion_positions`
        with the same ``H, W`` and ``time_stride``.
    """
    video = video_positions(frames, height, width, time_stride=time_stride, device=device)
    motion = motion_positions(
        num_motion_frames,
        height,
        width,
        time_stride=time_stride,
        slots=slots,
        persons=persons,
        mode=mode,
        device=device,
    )
    return torch.cat([video, motion], dim=0)  # (F*H*W + Tm*P*S, 3)
