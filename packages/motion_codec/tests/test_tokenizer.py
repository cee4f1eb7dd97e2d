import pytest
import torch

from echomotion_motion_codec import MotionDetokenizer, MotionLayout, MotionTokenizer


def test_shapes_and_slot_grouping() -> None:
    tok = MotionTokenizer(hidden_dim=16)
    det = MotionDetokenizer(hidden_dim=16)
    x = torch.randn(2, 5, 235)
    t = tok(x)
    assert t.shape == (2, 5, 51, 16)
    assert det(t).shape == (2, 5, 235)


def test_each_slot_sees_only_its_own_values() -> None:
    torch.manual_seed(0)
    tok = MotionTokenizer(hidden_dim=8)
    layout = MotionLayout()
    x = torch.randn(1, 3, 235)
    base = tok(x)
    for slot in (
        layout.slots[0],
        layout.slots[7],
        layout.slots[25],
        layout.slots[40],
        layout.slots[50],
    ):
        y = x.clone()
        y[..., slot.start] += 1.0
        changed = (tok(y) - base).abs().sum(-1)[0]  # (T, 51)
        assert changed[:, slot.index].min() > 0
        others = torch.ones(51, dtype=torch.bool)
        others[slot.index] = False
        assert changed[:, others].max() == 0


def test_groups_share_weights_and_slot_embedding_distinguishes() -> None:
    tok = MotionTokenizer(hidden_dim=8)
    layout = MotionLayout()
    x = torch.zeros(1, 1, 235)
    # two joint slots with equal values differ only by their slot embeddings
    out = tok(x)[0, 0]
    torch.testing.assert_close(out[3] - out[4], tok.slot_embedding[3] - tok.slot_embedding[4])
    assert set(tok.encoders) == {"position", "rotation", "shape"}
    assert layout.slots[3].group == layout.slots[4].group == "position"


def test_decoder_is_trainable_to_reconstruct() -> None:
    torch.manual_seed(0)
    tok, det = MotionTokenizer(32), MotionDetokenizer(32)
    opt = torch.optim.Adam([*tok.parameters(), *det.parameters()], lr=3e-3)
    x = torch.randn(4, 6, 235)
    first = None
    for _ in range(200):
        loss = (det(tok(x)) - x).pow(2).mean()
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * first


def test_bad_input_shapes() -> None:
    with pytest.raises(ValueError, match=r"motion: expected shape \(B, T, 235\)"):
        MotionTokenizer(8)(torch.zeros(2, 5, 200))
    with pytest.raises(ValueError, match=r"tokens: expected shape \(B, T, 51, 8\)"):
        MotionDetokenizer(8)(torch.zeros(2, 5, 50, 8))
