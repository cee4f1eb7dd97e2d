"""Where the person is: a mask of the video latents covered by the projected skeleton.

The person is a small part of a human video (a few per cent of the pixels at the synthetic
world's framing), so a plain mean-squared video loss spends almost all its weight on the
backdrop; `flow.person_loss_weight` raises the weight of the latent cells this mask marks.
The mask needs only what every HuMoVe clip with a camera-frame motion has: the 24 SMPL joints
in the camera frame and the focal length in pixels (principal point at the image centre, the
HuMoVe convention). Each SMPL bone (joint → parent) becomes a capsule of radius
`radius` metres, projected with the pinhole; a pixel is the person's when its centre lies in
a projected capsule. The pixel mask is then pooled (max) onto the latent grid with Wan's
causal time layout: latent frame 0 holds pixel frame 0, latent frame j ≥ 1 holds pixel frames
r·(j−1)+1 … r·j.

Dimension legend: ``B`` batch, ``T`` pixel frames, ``H, W`` pixels, ``F, h, w`` latent grid.
"""

from __future__ import annotations

import torch
from torch import Tensor

from echomotion_motion_codec import SMPL_PARENTS

__all__ = ["latent_person_mask", "person_mask", "pool_to_latents", "region_weight"]

_NEAR = 0.05  # metres: joints closer to (or behind) the camera than this are not drawn


def person_mask(
    joints: Tensor, focal: Tensor, height: int, width: int, *, radius: float = 0.13
) -> Tensor:
    """(B, T, H, W) bool: pixels whose centre lies in a projected bone capsule.

    joints: (B, T, 24, 3) camera-frame joints (x right, y down, z forward, metres);
    focal: (B,) pixels; a clip with focal ≤ 0 (unknown) gets an empty mask."""
    if joints.dim() != 4 or joints.shape[-2:] != (24, 3):
        raise ValueError(f"joints: expected (B, T, 24, 3), got {tuple(joints.shape)}")
    if focal.shape != joints.shape[:1]:
        raise ValueError(f"focal: expected ({joints.shape[0]},), got {tuple(focal.shape)}")
    if height < 1 or width < 1:
        raise ValueError(f"height, width: expected ≥ 1, got {height}, {width}")
    if radius <= 0:
        raise ValueError(f"radius: expected > 0 metres, got {radius}")
    j = joints.float()
    f = focal.float().reshape(-1, 1, 1)  # (B, 1, 1)
    child = torch.arange(1, 24)
    parent = torch.tensor(SMPL_PARENTS[1:])
    a3, b3 = j[:, :, child], j[:, :, parent]  # (B, T, 23, 3)
    visible = (a3[..., 2] > _NEAR) & (b3[..., 2] > _NEAR) & (f > 0)  # (B, T, 23)
    za, zb = a3[..., 2].clamp_min(_NEAR), b3[..., 2].clamp_min(_NEAR)
    centre = torch.tensor([width / 2, height / 2])
    a2 = f[..., None] * a3[..., :2] / za[..., None] + centre  # (B, T, 23, 2) pixels
    b2 = f[..., None] * b3[..., :2] / zb[..., None] + centre
    ra, rb = f * radius / za, f * radius / zb  # (B, T, 23) projected radii
    v, u = torch.meshgrid(
        torch.arange(height, dtype=torch.float32) + 0.5,
        torch.arange(width, dtype=torch.float32) + 0.5,
        indexing="ij",
    )
    pix = torch.stack([u.reshape(-1), v.reshape(-1)], dim=-1)  # (H·W, 2)
    ab = (b2 - a2)[..., None, :]  # (B, T, 23, 1, 2)
    ap = pix - a2[..., None, :]  # (B, T, 23, H·W, 2)
    len2 = (ab * ab).sum(-1).clamp_min(1e-6)  # (B, T, 23, 1)
    s = ((ap * ab).sum(-1) / len2).clamp(0.0, 1.0)  # (B, T, 23, H·W) closest point on the bone
    dist = (ap - s[..., None] * ab).norm(dim=-1)
    rad = ra[..., None] + s * (rb - ra)[..., None]
    inside = (dist < rad) & visible[..., None]
    return inside.any(dim=2).reshape(*joints.shape[:2], height, width)


def pool_to_latents(mask: Tensor, latent_grid: tuple[int, int, int]) -> Tensor:
    """(B, T, H, W) pixel mask → (B, 1, F, h, w) float in {0, 1}: a latent cell is marked when
    any pixel of any frame it holds is (Wan's causal time layout; H, W multiples of h, w)."""
    if mask.dim() != 4:
        raise ValueError(f"mask: expected (B, T, H, W), got {tuple(mask.shape)}")
    frames, height, width = mask.shape[1:]
    latent_frames, h, w = latent_grid
    if height % h or width % w:
        raise ValueError(f"latent_grid: {h}×{w} cells do not tile {height}×{width} pixels evenly")
    if latent_frames == frames:
        groups = mask
    elif latent_frames > 1 and (frames - 1) % (latent_frames - 1) == 0:
        r = (frames - 1) // (latent_frames - 1)
        rest = mask[:, 1:].reshape(mask.shape[0], latent_frames - 1, r, height, width).any(2)
        groups = torch.cat([mask[:, :1], rest], dim=1)  # (B, F, H, W)
    else:
        raise ValueError(
            f"latent_grid: {latent_frames} latent frames do not fit {frames} pixel frames "
            "(expected F = T or T = r·(F − 1) + 1)"
        )
    cells = groups.reshape(mask.shape[0], latent_frames, h, height // h, w, width // w)
    return cells.any(dim=5).any(dim=3).float()[:, None]  # (B, 1, F, h, w)


def latent_person_mask(
    joints: Tensor,
    focal: Tensor,
    pixel_size: tuple[int, int],
    latent_grid: tuple[int, int, int],
    *,
    radius: float = 0.13,
) -> Tensor:
    """(B, 1, F, h, w) float: `person_mask` at `pixel_size` (H, W) pooled onto `latent_grid`."""
    height, width = pixel_size
    return pool_to_latents(person_mask(joints, focal, height, width, radius=radius), latent_grid)


def region_weight(mask: Tensor, weight: float) -> Tensor:
    """1 outside the person, `weight` on it (same shape as `mask`)."""
    if weight < 1.0:
        raise ValueError(f"weight: expected ≥ 1, got {weight}")
    return 1.0 + (weight - 1.0) * mask.float()
