from pathlib import Path

import pytest
import torch
from conftest import random_motion

from echomotion_motion_codec import MOTION_DIM, NUM_SLOTS, MotionLayout, MotionNormalizer


def test_layout_slots() -> None:
    layout = MotionLayout()
    assert NUM_SLOTS == 51
    assert MOTION_DIM == 235
    groups = [s.group for s in layout.slots]
    assert groups.count("position") == 25
    assert groups.count("rotation") == 25
    assert groups.count("shape") == 1
    assert layout.slots[0].name == "transl"
    assert layout.slots[25].name == "global_orient"
    assert layout.slots[26].name == "pose.pelvis"
    assert layout.slots[50].name == "betas"
    assert sum(s.width for s in layout.slots) == 235
    # spans tile the vector
    assert [s.start for s in layout.slots[1:]] == [s.stop for s in layout.slots[:-1]]


def test_pack_unpack_round_trip_is_exact() -> None:
    m = random_motion((2,), frames=5)
    layout = MotionLayout()
    v = layout.pack(m)
    assert v.shape == (2, 5, 235)
    back = layout.unpack(v, fps=m.fps, frame=m.frame)
    for f in ("transl", "global_orient", "pose", "betas", "joints"):
        assert torch.equal(getattr(back, f), getattr(m, f)), f
    # slot spans point at the right fields
    s = layout.slots[1 + 7]  # joint.left_ankle
    assert torch.equal(v[..., s.start : s.stop], m.joints[..., 7, :])
    s = layout.slots[26 + 16]
    assert torch.equal(v[..., s.start : s.stop], m.pose[..., 16, :])


def test_unpack_rejects_bad_width() -> None:
    with pytest.raises(ValueError, match=r"vector: expected shape \(\.\.\., T, 235\)"):
        MotionLayout().unpack(torch.zeros(4, 234), fps=30)


def test_normalizer_fit_invert_and_save(tmp_path: Path) -> None:
    layout = MotionLayout()
    data = [layout.pack(random_motion((3,), frames=6, seed=s)) for s in range(4)]
    # make β constant for the whole data set: zero variance channels
    for d in data:
        d[..., 225:235] = 0.5
    norm = MotionNormalizer.fit(data)
    flat = torch.cat([d.reshape(-1, 235) for d in data]).double()
    torch.testing.assert_close(norm.mean.double(), flat.mean(0), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(
        norm.std[:225].double(), flat.std(0, unbiased=False)[:225], atol=1e-5, rtol=1e-5
    )
    assert torch.equal(norm.std[225:], torch.ones(10))
    x = data[0]
    z = norm.normalize(x)
    assert torch.isfinite(z).all()
    torch.testing.assert_close(norm.denormalize(z), x, atol=1e-5, rtol=1e-5)
    zs = norm.normalize(torch.cat([d.reshape(-1, 235) for d in data]))
    torch.testing.assert_close(zs[:, :225].mean(0), torch.zeros(225), atol=1e-4, rtol=0)
    norm.save(tmp_path / "n.safetensors")
    assert [p.name for p in tmp_path.iterdir()] == ["n.safetensors"]  # no temp file left
    loaded = MotionNormalizer.load(tmp_path / "n.safetensors")
    assert torch.equal(loaded.mean, norm.mean)
    assert torch.equal(loaded.std, norm.std)


def test_normalizer_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no frames"):
        MotionNormalizer.fit([])
    with pytest.raises(ValueError, match=r"\(\.\.\., 235\)"):
        MotionNormalizer.fit([torch.zeros(3, 10)])
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(ValueError, match="missing tensors"):
        MotionNormalizer.load(tmp_path / "bad.safetensors")
