import pytest
import torch

from echomotion_motion_codec import SkeletonBodyModel, SMPLMotion
from echomotion_motion_codec.rotations import axis_angle_to_matrix


def random_motion(
    batch: tuple[int, ...] = (),
    frames: int = 7,
    seed: int = 0,
    body_model: SkeletonBodyModel | None = None,
) -> SMPLMotion:
    g = torch.Generator().manual_seed(seed)
    body_model = body_model or SkeletonBodyModel()
    aa = 0.6 * torch.randn(*batch, frames, 24, 3, generator=g)
    pose = axis_angle_to_matrix(aa)
    transl = torch.randn(*batch, frames, 3, generator=g)
    betas = torch.randn(*batch, 10, generator=g)
    return SMPLMotion.from_rotations(
        transl, pose[..., 0, :, :], pose, betas, fps=30.0, body_model=body_model
    )


@pytest.fixture
def body_model() -> SkeletonBodyModel:
    return SkeletonBodyModel()
