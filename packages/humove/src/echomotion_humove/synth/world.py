"""The synthetic world: one seed → a procedural SMPL motion, a camera, a look, a rendered video
and the three-part caption of all of it.

Everything is drawn from one `random.Random(seed)`, so a seed always gives the same clip.
The motion is returned in the camera frame (what the renderer saw, DESIGN §3) and in the
world frame (y up, floor at y = 0), with the world-from-camera transform.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from echomotion_motion_codec import BodyModel, SkeletonBodyModel, SMPLMotion
from echomotion_motion_codec.rotations import euler_to_matrix

from ..schema import Caption
from ..virtual_camera import CameraRange, VirtualCamera, place_in_camera, sample_camera
from .actions import ACTIONS, ActionParams
from .appearance import Appearance, Backdrop, sample_appearance, sample_backdrop
from .mannequin import Person, Stage, render_frames

__all__ = ["SyntheticClip", "SyntheticMotion", "synthesize_clip", "synthesize_motion"]

_CONTACT_JOINTS = (7, 8, 10, 11)  # ankles and feet: the lowest one touches the floor


@dataclass(frozen=True)
class SyntheticMotion:
    """A procedural motion in the world frame and the labels it was made from."""

    motion: SMPLMotion  # world frame, (T, …)
    action: str
    params: ActionParams
    heading: float  # initial facing, radians about y (0 = +z)
    category: str
    subcategory: str


@dataclass(frozen=True)
class SyntheticClip:
    """A rendered synthetic clip.

    frames: (T, H, W, 3) uint8 RGB; motion: camera frame (OpenCV axes) at the video's fps;
    motion_world: the same motion in the world frame; world_from_camera: (4, 4) float64.
    """

    seed: int
    frames: np.ndarray
    motion: SMPLMotion
    motion_world: SMPLMotion
    world_from_camera: Tensor
    camera: VirtualCamera
    caption: Caption
    action: str
    category: str
    subcategory: str
    params: ActionParams
    appearance: Appearance
    backdrop: Backdrop
    focal: float

    @property
    def fps(self) -> float:
        return self.motion.fps


def _sample_params(rng: random.Random, action: str) -> ActionParams:
    spec = ACTIONS[action]
    speed = rng.uniform(2.2, 3.2) if action == "run" else rng.uniform(0.8, 1.5)
    return ActionParams(
        reps=rng.randint(*spec.reps_range),
        amplitude=rng.uniform(0.75, 1.15),
        speed=speed,
        side=rng.choice(("left", "right")),
        turn=rng.choice((-1.0, 1.0)),
    )


def _sample_betas(rng: random.Random) -> Tensor:
    main = [max(-2.0, min(2.0, rng.gauss(0.0, 0.8))) for _ in range(5)]
    rest = [max(-1.0, min(1.0, rng.gauss(0.0, 0.3))) for _ in range(5)]
    return torch.tensor(main + rest, dtype=torch.float32)


def _yaw_matrix(angle: Tensor) -> Tensor:
    zeros = torch.zeros_like(angle)
    return euler_to_matrix(torch.stack([zeros, angle, zeros], dim=-1), "XYZ")


def synthesize_motion(
    seed: int,
    *,
    num_frames: int = 33,
    fps: float = 16.0,
    action: str | None = None,
    body_model: BodyModel | None = None,
    rng: random.Random | None = None,
) -> SyntheticMotion:
    """A procedural motion (world frame, feet on the floor) and its labels. `action` picks one of
    `ACTIONS` (default: drawn from the seed)."""
    if num_frames < 2:
        raise ValueError(f"num_frames: expected >= 2, got {num_frames}")
    rng = rng or random.Random(seed)
    body_model = body_model or SkeletonBodyModel()
    name = action if action is not None else rng.choice(sorted(ACTIONS))
    if name not in ACTIONS:
        raise ValueError(f"action: expected one of {sorted(ACTIONS)}, got {name!r}")
    spec = ACTIONS[name]
    params = _sample_params(rng, name)
    betas = _sample_betas(rng)
    heading = rng.uniform(-math.pi, math.pi)
    t = torch.arange(num_frames, dtype=torch.float32) / fps  # (T,)
    duration = num_frames / fps
    frames = spec.make(t, duration, params)
    local = euler_to_matrix(frames.euler, "XYZ")  # (T, 24, 3, 3)
    root = _yaw_matrix(heading + frames.yaw) @ local[:, 0]  # (T, 3, 3)
    pose = torch.cat([root[:, None], local[:, 1:]], dim=1)
    facing = torch.tensor([math.sin(heading), 0.0, math.cos(heading)])
    left = torch.tensor([math.cos(heading), 0.0, -math.sin(heading)])
    forward = frames.forward - 0.5 * frames.forward[-1]  # centre the path on the origin
    ground = forward[:, None] * facing + frames.lateral[:, None] * left  # (T, 3)
    # Put the lowest ankle/foot on the floor, then add the flight height.
    rest = body_model.rest_joints(betas)  # (24, 3)
    posed = body_model.forward_kinematics(pose, betas[None], torch.zeros(num_frames, 3))
    contact = (posed[:, _CONTACT_JOINTS, 1] - rest[None, _CONTACT_JOINTS, 1]).min(-1).values
    transl = ground + torch.stack(
        [torch.zeros_like(t), -contact + frames.lift, torch.zeros_like(t)], dim=-1
    )
    motion = SMPLMotion.from_rotations(
        transl, root, pose, betas, fps=fps, body_model=body_model, frame="world"
    )
    return SyntheticMotion(motion, name, params, heading, spec.category, spec.subcategory)


def _direction_words(camera: VirtualCamera, heading: float) -> str:
    d = camera.rotation.double() @ torch.tensor(
        [math.sin(heading), 0.0, math.cos(heading)], dtype=torch.float64
    )
    if abs(float(d[2])) >= abs(float(d[0])):
        return "toward the camera" if float(d[2]) < 0 else "away from the camera"
    return "to the right" if float(d[0]) > 0 else "to the left"


def synthesize_clip(
    seed: int,
    *,
    width: int = 64,
    height: int = 64,
    num_frames: int = 33,
    fps: float = 16.0,
    action: str | None = None,
    people: int = 1,
    body_model: BodyModel | None = None,
    camera_range: CameraRange | None = None,
    supersample: int = 2,
) -> SyntheticClip:
    """Render one synthetic clip. `people` other than 1 (0, or extra bystanders standing beside
    the subject, each with its own motion) makes test input for the single-person filter; the
    motion and caption are always the subject's."""
    if width % 2 or height % 2 or width < 8 or height < 8:
        raise ValueError(f"width, height: expected even sizes >= 8 (H.264), got {width}x{height}")
    if people < 0:
        raise ValueError(f"people: expected >= 0, got {people}")
    rng = random.Random(seed)
    body_model = body_model or SkeletonBodyModel()
    subject = synthesize_motion(
        seed, num_frames=num_frames, fps=fps, action=action, body_model=body_model, rng=rng
    )
    world = subject.motion
    backdrop = sample_backdrop(rng)
    appearance = sample_appearance(rng, backdrop, float(world.betas[0]))
    bystanders: list[tuple[Tensor, Appearance, float]] = []
    for k in range(max(people - 1, 0)):
        other = synthesize_motion(
            seed * 7919 + k + 1, num_frames=num_frames, fps=fps, body_model=body_model
        )
        side = torch.tensor([math.cos(subject.heading), 0.0, -math.sin(subject.heading)])
        shift = (1.1 + 0.9 * k) * (1 if k % 2 == 0 else -1) * side
        joints = (
            other.motion.joints
            - other.motion.joints[:1, :1] * torch.tensor([1.0, 0.0, 1.0])
            + world.joints[:1, :1] * torch.tensor([1.0, 0.0, 1.0])
            + shift
        )
        bystanders.append(
            (
                joints,
                sample_appearance(rng, backdrop, float(other.motion.betas[0])),
                1.0 + 0.06 * float(other.motion.betas[0]),
            )
        )
    all_joints = torch.cat([world.joints, *[b[0] for b in bystanders]], dim=0)
    camera = sample_camera(
        all_joints, rng, camera_range, facing_yaw=subject.heading, aspect=width / height
    )
    motion = place_in_camera(world, camera, body_model=body_model)
    pin = camera.pinhole(width, height)
    normal = (camera.rotation.double() @ torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)).numpy()
    stage = Stage(
        width=width,
        height=height,
        focal=pin.focal,
        wall_rgb=backdrop.wall_rgb,
        floor_rgb=backdrop.floor_rgb,
        floor_normal=normal,
        floor_offset=float(normal @ camera.translation.double().numpy()),
    )
    cast: list[Person] = []
    if people >= 1:
        cast.append(Person(motion.joints.numpy(), appearance, 1.0 + 0.06 * float(world.betas[0])))
    for joints, look, scale in bystanders:
        cam_joints = joints @ camera.rotation.T + camera.translation
        cast.append(Person(cam_joints.numpy(), look, scale))
    if cast:
        frames = render_frames(cast, stage, supersample=supersample)
    else:
        frames = render_frames(
            [Person(np.full((num_frames, 24, 3), -1.0, np.float32), appearance)],
            stage,
            supersample=supersample,
        )  # everyone behind the camera: an empty stage
    spec = ACTIONS[subject.action]
    action_text = spec.describe(subject.params, _direction_words(camera, subject.heading))
    caption = Caption.from_parts(appearance.caption(), backdrop.caption(), action_text)
    return SyntheticClip(
        seed=seed,
        frames=frames,
        motion=motion,
        motion_world=world,
        world_from_camera=camera.world_from_camera(),
        camera=camera,
        caption=caption,
        action=subject.action,
        category=subject.category,
        subcategory=subject.subcategory,
        params=subject.params,
        appearance=appearance,
        backdrop=backdrop,
        focal=pin.focal,
    )
