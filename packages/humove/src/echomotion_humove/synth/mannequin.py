"""A shaded capsule mannequin rasterized with numpy: no GL, deterministic, fast at small sizes.

Every bone is a capsule (a segment with a radius); the head is a sphere. Each capsule is drawn
as an impostor: a pixel is inside when its distance to the projected segment is below the
projected radius; its depth is the segment's depth minus the bulge of a round cross-section,
and its normal comes from the same bulge, so limbs are shaded like cylinders. A z-buffer over
all capsules of all people gives depth ordering (an arm in front of the torso hides it).
The backdrop is a plain wall and the floor plane (y = 0 of the world) with a soft shadow under
each person. Frames are rendered at `supersample`× and box-filtered down (anti-aliasing).

Dimension legend: T frames, C capsules, N pixels of the region being shaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from echomotion_motion_codec import SMPL_JOINT_NAMES

from .appearance import SHOE_COLOR, Appearance

__all__ = ["Person", "Stage", "render_frames"]

_J = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}

# (from joint, to joint, radius in meters for a 1.70 m body, material)
_CAPSULES: tuple[tuple[str, str, float, str], ...] = (
    ("pelvis", "spine1", 0.115, "shirt"),
    ("spine1", "spine2", 0.125, "shirt"),
    ("spine2", "spine3", 0.13, "shirt"),
    ("spine3", "neck", 0.1, "shirt"),
    ("spine3", "left_collar", 0.075, "shirt"),
    ("spine3", "right_collar", 0.075, "shirt"),
    ("left_collar", "left_shoulder", 0.065, "shirt"),
    ("right_collar", "right_shoulder", 0.065, "shirt"),
    ("pelvis", "left_hip", 0.105, "trousers"),
    ("pelvis", "right_hip", 0.105, "trousers"),
    ("left_hip", "left_knee", 0.075, "trousers"),
    ("right_hip", "right_knee", 0.075, "trousers"),
    ("left_knee", "left_ankle", 0.055, "trousers"),
    ("right_knee", "right_ankle", 0.055, "trousers"),
    ("left_ankle", "left_foot", 0.045, "shoes"),
    ("right_ankle", "right_foot", 0.045, "shoes"),
    ("left_shoulder", "left_elbow", 0.05, "shirt"),
    ("right_shoulder", "right_elbow", 0.05, "shirt"),
    ("left_elbow", "left_wrist", 0.042, "sleeve"),
    ("right_elbow", "right_wrist", 0.042, "sleeve"),
    ("left_wrist", "left_hand", 0.04, "skin"),
    ("right_wrist", "right_hand", 0.04, "skin"),
    ("neck", "head", 0.05, "skin"),
)
_HEAD_RADIUS = 0.105
_LIGHT = np.array([-0.35, -0.7, -0.62], dtype=np.float32)
_LIGHT /= np.linalg.norm(_LIGHT)


@dataclass(frozen=True)
class Person:
    """One mannequin: camera-frame joints (T, 24, 3) (OpenCV axes, meters), its look and size."""

    joints: np.ndarray
    appearance: Appearance
    scale: float = 1.0  # body size relative to 1.70 m (radii scale with it)


@dataclass(frozen=True)
class Stage:
    """The backdrop and camera intrinsics. `floor_normal`/`floor_offset`: the world floor
    (y = 0) as the plane n·x = offset in camera coordinates, n pointing up (out of the floor)."""

    width: int
    height: int
    focal: float
    wall_rgb: tuple[int, int, int]
    floor_rgb: tuple[int, int, int]
    floor_normal: np.ndarray  # (3,)
    floor_offset: float


def _colors(person: Person) -> np.ndarray:
    a = person.appearance
    table = {
        "shirt": a.shirt_rgb,
        "trousers": a.trousers_rgb,
        "skin": a.skin,
        "shoes": SHOE_COLOR,
        "sleeve": a.shirt_rgb if a.long_sleeves else a.skin,
    }
    rows = [table[m] for *_, m in _CAPSULES] + [a.skin]  # last: the head sphere
    return np.asarray(rows, dtype=np.float32) / 255.0  # (C, 3)


def _segments(person: Person) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, C, 3) capsule ends A, B and (C,) radii; the head sphere is a zero-length capsule."""
    j = person.joints.astype(np.float32)
    ia = [_J[a] for a, *_ in _CAPSULES]
    ib = [_J[b] for _, b, *_ in _CAPSULES]
    up = j[:, _J["head"]] - j[:, _J["neck"]]
    up /= np.linalg.norm(up, axis=-1, keepdims=True) + 1e-8
    head = j[:, _J["head"]] + 0.07 * person.scale * up  # (T, 3)
    a = np.concatenate([j[:, ia], head[:, None]], axis=1)
    b = np.concatenate([j[:, ib], head[:, None]], axis=1)
    radii = np.asarray([r for *_, r, _ in _CAPSULES] + [_HEAD_RADIUS], dtype=np.float32)
    return a, b, radii * person.scale


def _backdrop(stage: Stage, ss: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H, W, 3) background image at the supersampled size, (H, W) floor mask, (H, W, 3) the
    camera-frame floor point seen at each pixel (undefined off the floor)."""
    h, w, f = stage.height * ss, stage.width * ss, stage.focal * ss
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    rays = np.stack([(u + 0.5 - w / 2) / f, (v + 0.5 - h / 2) / f, np.ones_like(u)], axis=-1)
    denom = rays @ stage.floor_normal.astype(np.float32)  # (H, W)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(np.abs(denom) > 1e-6, stage.floor_offset / denom, -1.0)
    floor = (s > 0) & (s < 80.0)
    points = rays * np.where(floor, s, 0.0)[..., None]
    wall = np.asarray(stage.wall_rgb, dtype=np.float32) / 255.0
    ground = np.asarray(stage.floor_rgb, dtype=np.float32) / 255.0
    fade = (0.8 + 0.25 * np.exp(-np.where(floor, s, 0.0) / 6.0))[..., None]
    image = np.where(floor[..., None], np.clip(ground * fade, 0, 1), wall)
    # a soft horizon band keeps the wall/floor boundary from aliasing
    return image.astype(np.float32), floor, points.astype(np.float32)


def render_frames(people: list[Person], stage: Stage, *, supersample: int = 2) -> np.ndarray:
    """(T, H, W, 3) uint8 frames of the people (all with the same T) on the stage."""
    if not people:
        raise ValueError("people: expected at least one person")
    ss = int(supersample)
    h, w, f = stage.height * ss, stage.width * ss, stage.focal * ss
    num_frames = people[0].joints.shape[0]
    for p in people:
        if p.joints.shape != (num_frames, 24, 3):
            raise ValueError(
                f"Person.joints: expected shape ({num_frames}, 24, 3), got {p.joints.shape}"
            )
    ends = [_segments(p) for p in people]
    seg_a = np.concatenate([e[0] for e in ends], axis=1)  # (T, C, 3)
    seg_b = np.concatenate([e[1] for e in ends], axis=1)
    radii = np.concatenate([e[2] for e in ends])  # (C,)
    colors = np.concatenate([_colors(p) for p in people])  # (C, 3)
    background, floor, floor_pts = _backdrop(stage, ss)
    normal = stage.floor_normal.astype(np.float32)
    out = np.empty((num_frames, stage.height, stage.width, 3), dtype=np.uint8)
    center = np.array([w / 2, h / 2], dtype=np.float32)
    for t in range(num_frames):
        img = background.copy()
        # soft contact shadows: darken the floor near each pelvis's foot point
        for p in people:
            pelvis = p.joints[t, 0].astype(np.float32)
            foot = pelvis - (pelvis @ normal - stage.floor_offset) * normal
            dx, dy, dz = (floor_pts[..., k] - foot[k] for k in range(3))
            d2 = dx * dx + dy * dy + dz * dz
            shade = 1.0 - 0.45 * np.exp(-d2 / (2 * (0.28 * p.scale) ** 2))
            img *= np.where(floor, shade, 1.0)[..., None]
        a3, b3 = seg_a[t], seg_b[t]  # (C, 3)
        ok = (a3[:, 2] > 0.2) & (b3[:, 2] > 0.2)
        if ok.any():
            _draw_capsules(img, a3[ok], b3[ok], radii[ok], colors[ok], f, center)
        small = sum(img[i::ss, j::ss] for i in range(ss) for j in range(ss)) * (255.0 / (ss * ss))
        out[t] = np.clip(small + 0.5, 0, 255).astype(np.uint8)
    return out


def _draw_capsules(
    img: np.ndarray,
    a3: np.ndarray,
    b3: np.ndarray,
    radii: np.ndarray,
    colors: np.ndarray,
    focal: float,
    center: np.ndarray,
) -> None:
    """Z-buffered impostor capsules into `img` (H, W, 3) float, in place."""
    h, w = img.shape[:2]
    a2 = focal * a3[:, :2] / a3[:, 2:] + center  # (C, 2) pixels
    b2 = focal * b3[:, :2] / b3[:, 2:] + center
    ra = focal * radii / a3[:, 2]  # (C,) projected radii
    rb = focal * radii / b3[:, 2]
    lo = np.floor(np.minimum(a2 - ra[:, None], b2 - rb[:, None]).min(0)).astype(int)
    hi = np.ceil(np.maximum(a2 + ra[:, None], b2 + rb[:, None]).max(0)).astype(int) + 1
    x0, y0 = max(lo[0], 0), max(lo[1], 0)
    x1, y1 = min(hi[0], w), min(hi[1], h)
    if x1 <= x0 or y1 <= y0:
        return
    v, u = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    px = u.ravel()[None, :] + 0.5  # (1, N)
    py = v.ravel()[None, :] + 0.5
    abx, aby = (b2[:, 0] - a2[:, 0])[:, None], (b2[:, 1] - a2[:, 1])[:, None]  # (C, 1)
    len2 = np.maximum(abx * abx + aby * aby, 1e-6)
    apx, apy = px - a2[:, 0:1], py - a2[:, 1:2]  # (C, N)
    s = np.clip((apx * abx + apy * aby) / len2, 0.0, 1.0)  # (C, N) closest point parameter
    offx, offy = apx - s * abx, apy - s * aby  # pixel − closest point on the segment
    dist = np.sqrt(offx * offx + offy * offy)  # (C, N)
    rad = ra[:, None] + s * (rb - ra)[:, None]  # (C, N) projected radius there
    inside = dist < rad
    q = np.where(inside, dist / np.maximum(rad, 1e-6), 1.0)
    bulge = np.sqrt(np.clip(1.0 - q * q, 0.0, 1.0))  # (C, N)
    radius_m = radii[:, None]
    depth = a3[:, None, 2] + s * (b3[:, 2] - a3[:, 2])[:, None] - radius_m * bulge
    depth = np.where(inside, depth, np.inf)
    nearest = depth.argmin(0)  # (N,)
    hit = np.isfinite(depth.min(0))
    if not hit.any():
        return
    idx = np.nonzero(hit)[0]
    c = nearest[idx]
    inv = 1.0 / np.maximum(rad[c, idx], 1e-6)
    nx, ny = offx[c, idx] * inv, offy[c, idx] * inv  # (M,) in-plane normal
    nz = -bulge[c, idx]  # toward the camera
    lambert = np.clip(nx * _LIGHT[0] + ny * _LIGHT[1] + nz * _LIGHT[2], 0.0, 1.0)
    shade = (0.42 + 0.7 * lambert)[:, None]
    rgb = np.clip(colors[c] * shade, 0.0, 1.0)
    flat = img[y0:y1, x0:x1].reshape(-1, 3)
    flat[idx] = rgb
    img[y0:y1, x0:x1] = flat.reshape(y1 - y0, x1 - x0, 3)
