"""In-context classifier-free guidance (ICCFG, paper eqs. 4–6, DESIGN §7).

With u(x, m, y) the denoiser given video x, motion m and text y (∅ = absent):

    joint (4):  o_v, o_m = u(x,m,∅) + ω₁(u(x,m,y) − u(x,m,∅))
    m2v   (5):  o_v = u(x,∅,∅) + ω₁(u(x,m,y) − u(x,m,∅)) + ω₂(u(x,m,∅) − u(x,∅,∅))
    v2m   (6):  o_m = u(∅,m,∅) + ω₂(u(x,m,∅) − u(∅,m,∅))
    motion-only (phase-1 models, plain CFG): o_m = u(∅,m,∅) + ω₁(u(∅,m,y) − u(∅,m,∅))

Each equation is a weighted sum of its passes, Σ w_k·u_k (m2v: w = ω₁, ω₂ − ω₁, 1 − ω₂); a pass
whose weight is exactly 0 is not run, so ω₁ = 1 drops the ∅-text pass of (4), ω₂ = 1 drops the
cross-modal pass of (5) and (6), and m2v with ω₁ = ω₂ = 1 is the single pass u(x,m,y).

Decisions: the given modality (m in m2v, x in v2m) is clean, σ = 0, in every pass where it is
present; every pass uses the mode's task id, because training drops conditions within a paradigm
(DESIGN §6: an m2v step with its motion dropped is still task m2v); v2m never uses the prompt.
Passes with the same modalities present share a token layout and run as one forward with the
batch concatenated (cond rows first); ∅-text rows join that forward when the null condition is
given as embeddings (`null_text`), otherwise they run as their own forward with `text=None`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .denoiser import Denoiser, Latents, Modality, Prediction, Task, TextCondition

__all__ = ["GuidancePass", "GuidanceScales", "guidance_passes", "guided_velocity"]


@dataclass(frozen=True)
class GuidanceScales:
    """ω₁ (`text`) scales the prompt, ω₂ (`cross`) the other modality; 1 = no guidance.

    The paper samples with a guidance scale of 6.0 and does not state ω₂; we default ω₂ to 1
    (condition on the given modality without amplifying it, one pass fewer in m2v and v2m).
    `interval` = (lo, hi): the noise levels σ at which the scales apply (`at`); the default
    (0, 1) guides every step.
    """

    text: float = 6.0
    cross: float = 1.0
    interval: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        lo, hi = self.interval
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(
                f"interval: expected (lo, hi) with 0 ≤ lo < hi ≤ 1 (the noise levels σ where "
                f"guidance applies), got {self.interval}"
            )

    def at(self, sigma: float) -> GuidanceScales:
        """The scales a solver step at noise level `sigma` uses: these inside `interval`
        (lo ≤ σ ≤ hi), no guidance (ω₁ = ω₂ = 1: the fully conditioned pass alone) outside it.

        Guidance decides layout and content at high noise; at low noise it mostly amplifies the
        passes' disagreement about fine detail, which shows up as leftover noise in small
        models' videos. An interval such as (0.3, 1.0) keeps the first and skips the second, and
        the unguided steps cost one pass instead of two or three.
        """
        lo, hi = self.interval
        if lo <= sigma <= hi:
            return self
        return GuidanceScales(text=1.0, cross=1.0)


@dataclass(frozen=True)
class GuidancePass:
    """One denoiser evaluation in an ICCFG equation: which inputs are present, and its weight."""

    video: bool
    motion: bool
    text: bool
    weight: float

    @property
    def label(self) -> str:
        """The pass in the paper's notation, e.g. `u(x,m,∅)`."""
        return f"u({'x' if self.video else '∅'},{'m' if self.motion else '∅'},{'y' if self.text else '∅'})"


def guidance_passes(task: Task, scales: GuidanceScales) -> tuple[GuidancePass, ...]:
    """The passes `task`'s equation needs at these scales (zero-weight passes left out)."""
    w1, w2 = scales.text, scales.cross
    table: dict[Task, list[GuidancePass]] = {
        Task.JOINT: [GuidancePass(True, True, True, w1), GuidancePass(True, True, False, 1 - w1)],
        Task.M2V: [
            GuidancePass(True, True, True, w1),
            GuidancePass(True, True, False, w2 - w1),
            GuidancePass(True, False, False, 1 - w2),
        ],
        Task.V2M: [GuidancePass(True, True, False, w2), GuidancePass(False, True, False, 1 - w2)],
        Task.MOTION_ONLY: [
            GuidancePass(False, True, True, w1),
            GuidancePass(False, True, False, 1 - w1),
        ],
    }
    # The weights of each equation sum to 1, so at least one pass always remains.
    return tuple(p for p in table[Task(task)] if p.weight != 0)


def _batch_size(latents: Latents, task: Task) -> int:
    sizes: dict[str, int] = {}
    for modality in sorted(task.generated | task.given):
        tensor = latents.get(modality)
        if tensor is None:
            role = "generated" if modality in task.generated else "given (clean)"
            raise ValueError(
                f"latents.{modality.value}: task {task.name} needs the {role} {modality.value} "
                "tensor, got None"
            )
        sizes[modality.value] = int(tensor.shape[0])
    if len(set(sizes.values())) != 1:
        raise ValueError(f"latents: batch sizes differ between modalities: {sizes}")
    return next(iter(sizes.values()))


def _sigma_rows(sigma: float | Tensor, batch: int, device: torch.device) -> Tensor:
    rows = torch.as_tensor(sigma, dtype=torch.float32, device=device)
    if rows.ndim == 0:
        return rows.expand(batch).clone()
    if rows.shape != (batch,):
        raise ValueError(
            f"sigma: expected a number or a ({batch},) tensor, got shape {tuple(rows.shape)}"
        )
    return rows


def guided_velocity(
    denoiser: Denoiser,
    task: Task,
    latents: Latents,
    sigma: float | Tensor,
    *,
    text: TextCondition | None,
    null_text: TextCondition | None = None,
    scales: GuidanceScales | None = None,
    batch_passes: bool = True,
) -> Prediction:
    """The ICCFG velocity of `task`'s generated modalities at noise level `sigma`.

    latents: the generated modalities at `sigma` and the given modality clean; video (B, C, F, H, W),
        motion (B, Tm, P). sigma: the generated modalities' noise level, a number or (B,).
    text: the prompt for every row (batch B); ignored by v2m. null_text: what ∅ means, as
        embeddings (batch 1 or B; e.g. the encoded negative prompt), or None for the denoiser's own
        ∅ (`text=None`).
    batch_passes: run passes that share a token layout as one forward (False: one forward per
        pass, the same result for less peak memory).
    Returns a Prediction holding only the generated modalities (same shape and dtype as latents).
    """
    task = Task(task)
    scales = scales if scales is not None else GuidanceScales()
    passes = guidance_passes(task, scales)
    batch = _batch_size(latents, task)
    if any(p.text for p in passes):
        if text is None:
            raise ValueError(
                f"text: task {task.name} with text guidance ω₁ = {scales.text} needs a prompt; "
                "pass text, or GuidanceScales(text=0) to sample without one"
            )
        if text.batch_size != batch:
            raise ValueError(f"text: expected batch size {batch}, got {text.batch_size}")
    null = null_text.expand(batch) if null_text is not None else None

    reference = latents.get(sorted(task.generated)[0])
    assert reference is not None  # checked by _batch_size
    noisy = _sigma_rows(sigma, batch, reference.device)
    clean = torch.zeros_like(noisy)

    def level(modality: Modality) -> Tensor:
        return noisy if modality in task.generated else clean

    # Group the passes that share a token layout (and a text form) into one forward.
    groups: dict[tuple[bool, bool, bool, int], list[int]] = {}
    for k, p in enumerate(passes):
        pass_text = text if p.text else null
        alone = -1 if batch_passes else k
        groups.setdefault((p.video, p.motion, pass_text is None, alone), []).append(k)

    outputs: dict[int, Prediction] = {}
    for (has_video, has_motion, text_is_none, _), members in groups.items():
        n = len(members)
        texts = [text if passes[k].text else null for k in members]
        group_text = (
            None if text_is_none else TextCondition.concat([t for t in texts if t is not None])
        )
        video = latents.video if has_video else None
        motion = latents.motion if has_motion else None
        prediction = denoiser(
            video=None if video is None else torch.cat([video] * n),
            motion=None if motion is None else torch.cat([motion] * n),
            video_sigma=level(Modality.VIDEO).repeat(n) if has_video else None,
            motion_sigma=level(Modality.MOTION).repeat(n) if has_motion else None,
            text=group_text,
            task=task,
        )
        for j, k in enumerate(members):
            outputs[k] = Prediction(
                video=_rows(prediction.video, j, batch) if has_video else None,
                motion=_rows(prediction.motion, j, batch) if has_motion else None,
            )

    guided: dict[Modality, Tensor | None] = {m: None for m in Modality}
    for modality in sorted(task.generated):
        target = latents.get(modality)
        assert target is not None
        total = torch.zeros(target.shape, dtype=torch.float32, device=target.device)
        for k, p in enumerate(passes):
            u = outputs[k].get(modality)
            if u is None or u.shape != target.shape:
                raise ValueError(
                    f"denoiser: pass {p.label} of task {task.name} returned "
                    f"{'no' if u is None else tuple(u.shape)} {modality.value} prediction, "
                    f"expected shape {tuple(target.shape)}"
                )
            total += p.weight * u.float()
        guided[modality] = total.to(target.dtype)
    return Prediction(video=guided[Modality.VIDEO], motion=guided[Modality.MOTION])


def _rows(tensor: Tensor | None, chunk: int, batch: int) -> Tensor | None:
    """Rows [chunk·batch, (chunk + 1)·batch) of a batched prediction."""
    return None if tensor is None else tensor[chunk * batch : (chunk + 1) * batch]
