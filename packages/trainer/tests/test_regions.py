"""The person mask (projected bone capsules pooled onto the latent grid) and the
region-weighted video loss."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from echomotion_trainer.flow import flow_loss
from echomotion_trainer.regions import (
    latent_person_mask,
    person_mask,
    pool_to_latents,
    region_weight,
)


def _points(where: torch.Tensor, pelvis: torch.Tensor | None = None) -> torch.Tensor:
    """(1, 1, 24, 3): every joint at `where`, the pelvis at `pelvis` (default: there too)."""
    j = where.expand(1, 1, 24, 3).clone()
    if pelvis is not None:
        j[0, 0, 0] = pelvis
    return j


def test_coincident_joints_project_to_a_disc_of_the_projected_radius() -> None:
    # all joints at (0.5, 0, 2) m, f = 20 px: centre (8 + 5, 8) px, radius 20·0.2/2 = 2 px
    mask = person_mask(
        _points(torch.tensor([0.5, 0.0, 2.0])), torch.tensor([20.0]), 16, 16, radius=0.2
    )
    v, u = np.mgrid[0:16, 0:16] + 0.5
    want = np.hypot(u - 13.0, v - 8.0) < 2.0
    assert mask.shape == (1, 1, 16, 16)
    np.testing.assert_array_equal(mask[0, 0].numpy(), want)
    assert want.sum() == 12  # a non-trivial disc


def test_a_bone_is_a_capsule_between_its_projected_ends() -> None:
    # pelvis at y = −0.5 m, every other joint at y = +0.5 m, z = 2: bones pelvis→hips/spine run
    # from pixel row 8 − 5 = 3 to row 8 + 5 = 13 down column 8, 1 px wide each side
    j = _points(torch.tensor([0.0, 0.5, 2.0]), pelvis=torch.tensor([0.0, -0.5, 2.0]))
    mask = person_mask(j, torch.tensor([20.0]), 16, 16, radius=0.1)[0, 0]
    assert mask[3:13, 7:9].all()  # pixel centres within 1 px of the segment
    assert not mask[:, :6].any() and not mask[:, 10:].any()
    assert not mask[0].any() and not mask[15].any()


def test_unknown_focal_or_a_person_behind_the_camera_gives_an_empty_mask() -> None:
    front = _points(torch.tensor([0.0, 0.0, 2.0]))
    behind = _points(torch.tensor([0.0, 0.0, -2.0]))
    joints = torch.cat([front, front, behind])  # (3, 1, 24, 3)
    mask = person_mask(joints, torch.tensor([20.0, 0.0, 20.0]), 16, 16)
    assert mask[0].any() and not mask[1].any() and not mask[2].any()


def test_bad_shapes_name_the_field() -> None:
    with pytest.raises(ValueError, match="joints"):
        person_mask(torch.zeros(1, 24, 3), torch.ones(1), 8, 8)
    with pytest.raises(ValueError, match="focal"):
        person_mask(torch.zeros(2, 1, 24, 3), torch.ones(1), 8, 8)
    with pytest.raises(ValueError, match="latent_grid"):
        pool_to_latents(torch.zeros(1, 9, 8, 8, dtype=torch.bool), (4, 4, 4))
    with pytest.raises(ValueError, match="latent_grid"):
        pool_to_latents(torch.zeros(1, 9, 8, 8, dtype=torch.bool), (3, 3, 3))
    with pytest.raises(ValueError, match="weight"):
        region_weight(torch.zeros(2), 0.5)


def test_pooling_follows_the_causal_time_layout() -> None:
    mask = torch.zeros(1, 9, 8, 8, dtype=torch.bool)
    mask[0, 5, 3, 6] = True  # frame 5 → latent frame 2 (frames 5…8); pixel (3, 6) → cell (1, 3)
    mask[0, 0, 0, 0] = True  # frame 0 → latent frame 0 alone
    cells = pool_to_latents(mask, (3, 4, 4))
    assert cells.shape == (1, 1, 3, 4, 4)
    assert cells.sum() == 2
    assert cells[0, 0, 2, 1, 3] == 1 and cells[0, 0, 0, 0, 0] == 1
    same = pool_to_latents(mask, (9, 8, 8))  # one latent frame per frame, one cell per pixel
    torch.testing.assert_close(same[:, 0], mask.float())


def test_the_mask_covers_the_rendered_person() -> None:
    """Known answer from the synthetic world: the pixels that change when the mannequin's
    colours change are the person's; the mask of its joints covers (nearly) all of them."""
    from echomotion_trainer.evaluation import make_clips, render_motion

    clip = make_clips(1, seed=3, width=32, height=32, num_frames=5, fps=8.0)[0]
    a = clip.appearance
    other = replace(a, shirt="yellow" if a.shirt != "yellow" else "blue",
                    trousers="white" if a.trousers != "white" else "black", skin=(20, 200, 20))  # fmt: skip
    person = (
        np.abs(
            render_motion(clip.motion, clip, a).astype(int)
            - render_motion(clip.motion, clip, other).astype(int)
        ).sum(-1)
        > 30
    )  # (T, H, W)
    focal = torch.tensor([clip.camera.pinhole(32, 32).focal])
    mask = person_mask(clip.motion.joints[None], focal, 32, 32)[0].numpy()
    assert person.sum() > 20
    assert (mask & person).sum() / person.sum() > 0.9  # the person is inside the mask
    assert mask.sum() < 3 * person.sum()  # … which is not the whole frame
    latents = latent_person_mask(clip.motion.joints[None], focal, (32, 32), (2, 16, 16))
    assert 0 < latents.mean() < 0.5


def test_region_weighted_loss_is_the_weighted_mean() -> None:
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(2, 3, 2, 4, 4, generator=g), torch.randn(2, 3, 2, 4, 4, generator=g)
    mask = (torch.rand(2, 1, 2, 4, 4, generator=g) > 0.7).float()
    region = region_weight(mask, 4.0)
    assert set(region.unique().tolist()) == {1.0, 4.0}
    err = (pred - target).pow(2)
    r = region.expand_as(err)
    torch.testing.assert_close(flow_loss(pred, target, region=region), (err * r).sum() / r.sum())
    # a uniform region is the plain mean; a weight of 1 is no weighting
    torch.testing.assert_close(flow_loss(pred, target, region=torch.full_like(mask, 3.0)),
                               flow_loss(pred, target))  # fmt: skip
    torch.testing.assert_close(flow_loss(pred, target, region=region_weight(mask, 1.0)),
                               flow_loss(pred, target))  # fmt: skip
    # the person's errors count 4× as much as the backdrop's
    only_person = torch.where(mask.bool().expand_as(pred), pred, target)
    n_person = mask.expand_as(err).sum()
    want = (err * mask).sum() * 4 / r.sum()
    torch.testing.assert_close(flow_loss(only_person, target, region=region), want)
    assert n_person > 0
