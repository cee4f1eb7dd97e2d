"""Activation memory of the dual DiT, measured on tiny real forwards and fitted to a law in its
sizes, so that forwards of a few dozen tokens predict one of tens of thousands.

Dimension legend: ``B`` batch, ``Tv`` video tokens, ``Tm`` motion tokens, ``L`` text tokens,
``D`` hidden, ``F`` FFN width, ``N`` heads, ``Hd`` head dim (``D = N·Hd``), ``Dt`` text width,
``Cp`` numbers per video patch (``C·pt·ph·pw``).

**What is counted.** Every tensor autograd saves for backward in one training forward, seen
through ``torch.autograd.graph.saved_tensors_hooks`` and counted once per storage, minus the
weights: parameters and every copy made of one (an aten dispatch mode marks autocast's casts),
which FSDP2 or autocast hold whatever the tokens, and which the plan counts on their own. With
gradient checkpointing the tensors saved inside a checkpointed layer are freed at once; what stays
is the layer's inputs, which the checkpoint holds (counted by handing the model a checkpoint
function that records its arguments), and what is saved outside the layers.

**Precision.** ``"autocast"``: fp32 parameters under bf16 autocast (the trainer on one process
without FSDP). ``"fsdp"``: parameters and inputs cast to bf16, under the same autocast — what
FSDP2's ``MixedPrecisionPolicy(param_dtype=bf16)`` computes with. They differ: with fp32
parameters, an fp32 parameter added to a stream (the motion slot embedding) makes that stream fp32.

**The law** holds for one batch size ``B``, the one it was fitted at: the batch changes what is
copied (with ``B = 1`` a slice of the joint attention's output is a view, with ``B > 1`` a copy)
and the RoPE tables are shared by the batch, so a batch does not cost ``B`` × one sample. A layer
runs over the streams of its kind — ``joint`` (a dual layer, both streams), ``video`` (a
video-only layer, or the video alone), ``motion`` (the motion alone, as in phase 1) — and each
stream ``s`` contributes its own terms, because the two streams need not be stored alike:

    one layer, no checkpointing   Σₛ Tₛ·(aₛ₁D + aₛ₂F + aₛ₃N + aₛ₄Hd + aₛ₅) + L·(b₁D + b₂N + b₃) + b₄D
    one layer's inputs, checkpointing   Σₛ Tₛ·(cₛ₁D + cₛ₂)
    outside the layers   Σₛ Tₛ·(rₛ₁D + rₛ₂) + [Tv·r₃Cp] + L·(r₄D + r₅Dt + r₆) + r₇D + r₈

fitted by least squares on :data:`FIT_PROBES` (tiny configurations of the real model), each run
with 1 and 2 layers: the difference is one layer, the rest is outside. Every saved tensor is a
token count times at most one width, so the law is exact while the forward's structure does not
change with size; :attr:`ActivationLaw.max_residual` (the worst relative misfit on the probes)
says whether it held. Attention appears per token, never as ``T²``: the kernels (flash SDPA, the
Triton attention) save row statistics, not the score matrix.

**Kernels.** What the self-attention's QK-norm + MVS-RoPE and attention save depends on which
``echomotion_mvsrope`` kernels run: the Triton kernels (CUDA's default) save 12·D bytes a token
a layer less than the PyTorch reference (the CPU's: fp32 copies inside the norm) and keep no
RoPE tables (8·Hd bytes a token a layer, shared by the batch). Measured with bf16 weights at
``B = 2``, a joint layer per sample token: Triton ``116·D + 8·F + 16·N + 72``, reference
``140·D + 8·F + 16·N + 8·Hd + 72``. ``kernels="triton"`` measures them on the CPU too, through
Triton's interpreter (``TRITON_INTERPRET=1`` set before triton is imported; minutes for a fit
instead of seconds); on CUDA they run for real.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode

if TYPE_CHECKING:
    from echomotion_dualdit import DualDiT

__all__ = [
    "FIT_PROBES",
    "PASSES",
    "ActivationLaw",
    "LayerKind",
    "ModelDims",
    "Pass",
    "Precision",
    "Probe",
    "SavedCount",
    "TokenCounts",
    "build_probe_model",
    "fit_activation_law",
    "layer_runs",
    "measure_saved",
]

Pass = Literal["joint", "video", "motion"]  # which streams a forward carries
LayerKind = Literal["dual", "video"]  # a model layer: dual, or video-only (hybrid models)
Precision = Literal["autocast", "fsdp"]
PASSES: tuple[Pass, ...] = ("joint", "video", "motion")
STREAMS: dict[str, tuple[str, ...]] = {
    "joint": ("video", "motion"),
    "video": ("video",),
    "motion": ("motion",),
}


@dataclass(frozen=True)
class ModelDims:
    """The widths the law reads."""

    hidden: int  # D
    ffn: int  # F
    heads: int  # N
    head_dim: int  # Hd
    text_dim: int  # Dt
    patch_numbers: int  # Cp = C·pt·ph·pw


@dataclass(frozen=True)
class TokenCounts:
    """Tokens of one sample."""

    video: int  # Tv
    motion: int  # Tm
    text: int  # L

    def of(self, stream: str) -> int:
        return self.video if stream == "video" else self.motion


@dataclass(frozen=True)
class SavedCount:
    """Bytes one forward keeps for backward: tensors saved outside checkpointed layers, and the
    inputs the checkpoints hold (0 without checkpointing)."""

    saved: int
    checkpoint_inputs: int

    @property
    def total(self) -> int:
        return self.saved + self.checkpoint_inputs


# ---------------------------------------------------------------------------------- the law
def _layer_features(kind: str, d: ModelDims, t: TokenCounts) -> list[float]:
    row: list[float] = []
    for stream in STREAMS[kind]:
        n = float(t.of(stream))
        row += [n * d.hidden, n * d.ffn, n * d.heads, n * d.head_dim, n]
    return [*row, float(t.text) * d.hidden, float(t.text) * d.heads, float(t.text), float(d.hidden)]


def _input_features(kind: str, d: ModelDims, t: TokenCounts) -> list[float]:
    row: list[float] = []
    for stream in STREAMS[kind]:
        n = float(t.of(stream))
        row += [n * d.hidden, n]
    return row


def _outside_features(pass_: str, d: ModelDims, t: TokenCounts) -> list[float]:
    row = _input_features(pass_, d, t)
    if "video" in STREAMS[pass_]:
        row.append(float(t.video) * d.patch_numbers)
    text = float(t.text)
    return [*row, text * d.hidden, text * d.text_dim, text, float(d.hidden), 1.0]


def _dot(coefficients: Sequence[float], features: Sequence[float]) -> float:
    return sum(c * f for c, f in zip(coefficients, features, strict=True))


@dataclass(frozen=True)
class ActivationLaw:
    """Fitted coefficients, bytes per unit of each feature (module docstring).

    ``layer[kind]``: one layer without checkpointing; ``inputs[kind]``: one checkpointed layer's
    inputs; ``outside[(pass, checkpointing)]``: everything saved outside the layers.
    ``max_residual``: the worst relative misfit on the probes.
    """

    layer: dict[str, tuple[float, ...]]
    inputs: dict[str, tuple[float, ...]]
    outside: dict[tuple[str, bool], tuple[float, ...]]
    max_residual: float
    device: str
    precision: Precision
    batch: int
    kernels: str
    probes: int

    def layer_bytes(self, kind: str, dims: ModelDims, tokens: TokenCounts) -> float:
        """Bytes one layer of ``kind`` saves for the batch without checkpointing."""
        return _dot(self.layer[kind], _layer_features(kind, dims, tokens))

    def input_bytes(self, kind: str, dims: ModelDims, tokens: TokenCounts) -> float:
        """Bytes of one checkpointed layer's inputs for the batch."""
        return _dot(self.inputs[kind], _input_features(kind, dims, tokens))

    def outside_bytes(
        self, pass_: Pass, checkpointing: bool, dims: ModelDims, tokens: TokenCounts
    ) -> float:
        """Bytes saved outside the layers (embeddings, heads) for the batch."""
        return _dot(self.outside[(pass_, checkpointing)], _outside_features(pass_, dims, tokens))

    def per_token(self, kind: str, stream: str, dims: ModelDims) -> float:
        """Bytes one ``stream`` token of one sample costs in one layer of ``kind`` without
        checkpointing (the text and per-sample terms left out): the figure the law scales."""
        one = TokenCounts(video=1, motion=1, text=0)
        coefficients = self.layer[kind]
        index = STREAMS[kind].index(stream) * 5
        features = _layer_features(kind, dims, one)
        return _dot(coefficients[index : index + 5], features[index : index + 5]) / self.batch

    def saved_bytes(
        self,
        pass_: Pass,
        dims: ModelDims,
        tokens: TokenCounts,
        layers: Sequence[LayerKind],
        *,
        batch: int,
        checkpointing: bool,
    ) -> float:
        """What a whole forward keeps for backward: the quantity :func:`measure_saved` counts.
        ``batch`` must be the one the law was fitted at."""
        self._check_batch(batch)
        total = self.outside_bytes(pass_, checkpointing, dims, tokens)
        for kind in layer_runs(pass_, layers):
            if checkpointing:
                total += self.input_bytes(kind, dims, tokens)
            else:
                total += self.layer_bytes(kind, dims, tokens)
        return total

    def recompute_bytes(
        self,
        pass_: Pass,
        dims: ModelDims,
        tokens: TokenCounts,
        layers: Sequence[LayerKind],
        *,
        batch: int,
    ) -> float:
        """The largest layer's activations: what backward rebuilds at a time under checkpointing."""
        self._check_batch(batch)
        return max(
            (self.layer_bytes(k, dims, tokens) for k in layer_runs(pass_, layers)), default=0.0
        )

    def _check_batch(self, batch: int) -> None:
        if batch != self.batch:
            raise ValueError(
                f"this law was fitted at batch {self.batch}; fit one at batch {batch} "
                "(fit_activation_law(..., batch=...))"
            )


def layer_runs(pass_: Pass, layers: Sequence[LayerKind]) -> list[str]:
    """The law kind each layer runs as in ``pass_`` (layers that do not run are left out).

    In the joint pass a dual layer is ``joint`` and a video-only layer ``video`` (the motion
    tokens pass it unchanged: a checkpoint holding them holds the previous layer's storage).
    In a motion pass only dual layers run (``motion``); in a video pass every layer (``video``).
    """
    if pass_ == "joint":
        return ["joint" if layer == "dual" else "video" for layer in layers]
    if pass_ == "motion":
        return ["motion" for layer in layers if layer == "dual"]
    return ["video" for _ in layers]


# ---------------------------------------------------------------------------------- measuring
@dataclass(frozen=True)
class Probe:
    """A tiny configuration of the real model (the ``tiny`` preset resized; patch 1×2×2)."""

    heads: int
    head_dim: int
    ffn: int
    in_channels: int
    text_dim: int
    latent: tuple[int, int, int]  # (F, h, w): latent frames and cells; h, w even
    motion_frames: int
    text_tokens: int

    def dims(self) -> ModelDims:
        return ModelDims(
            hidden=self.heads * self.head_dim,
            ffn=self.ffn,
            heads=self.heads,
            head_dim=self.head_dim,
            text_dim=self.text_dim,
            patch_numbers=self.in_channels * 4,
        )

    def tokens(self) -> TokenCounts:
        frames, h, w = self.latent
        return TokenCounts(
            video=frames * (h // 2) * (w // 2),
            motion=self.motion_frames * 51,
            text=self.text_tokens,
        )

    def model_kwargs(self) -> dict[str, Any]:
        """``DualDiT.from_preset("tiny", **kwargs)`` overrides."""
        return {
            "num_attention_heads": self.heads,
            "attention_head_dim": self.head_dim,
            "ffn_dim": self.ffn,
            "in_channels": self.in_channels,
            "out_channels": self.in_channels,
            "text_dim": self.text_dim,
        }


# Head dims 16 and 32 (the Triton kernels want powers of two ≥ 16) with 2–5 heads, so that D, N
# and Hd vary apart; FFN widths, channels, text widths and all three token counts spread so that
# each of the 14 coefficients of a joint layer is pinned (16 probes ≥ 14 unknowns). No size is 1:
# a dimension of 1 turns some copies into views (one motion frame saves less than the law says),
# which the real shapes never see.
FIT_PROBES: tuple[Probe, ...] = (
    Probe(2, 16, 64, 4, 8, (2, 4, 4), 2, 4),
    Probe(4, 16, 96, 8, 16, (2, 4, 6), 2, 7),
    Probe(2, 32, 48, 16, 24, (3, 4, 4), 3, 5),
    Probe(3, 16, 128, 4, 32, (2, 6, 4), 2, 12),
    Probe(2, 32, 80, 8, 8, (3, 4, 6), 2, 9),
    Probe(5, 16, 32, 4, 16, (2, 4, 8), 3, 3),
    Probe(4, 32, 64, 16, 12, (2, 4, 4), 2, 6),
    Probe(3, 32, 112, 8, 20, (2, 6, 6), 3, 10),
    Probe(2, 16, 48, 16, 24, (4, 4, 4), 2, 8),
    Probe(5, 32, 96, 4, 32, (2, 6, 4), 4, 11),
    Probe(4, 16, 40, 8, 8, (3, 4, 4), 3, 4),
    Probe(3, 16, 72, 12, 16, (2, 8, 4), 2, 14),
    Probe(2, 32, 56, 4, 20, (4, 4, 6), 2, 6),
    Probe(5, 16, 120, 12, 8, (2, 4, 4), 4, 9),
    Probe(3, 32, 36, 16, 28, (3, 6, 4), 3, 5),
    Probe(4, 16, 104, 4, 12, (2, 4, 10), 4, 13),
)


def _storage_key(t: Tensor) -> int:
    return int(t.untyped_storage().data_ptr())


class _WeightCopies(TorchDispatchMode):
    """Marks the storage of every copy made of a parameter (autocast's casts), and keeps each
    alive so that no later tensor can take its address."""

    def __init__(self, parameter_storages: set[int]) -> None:
        super().__init__()
        self.parameter_storages = parameter_storages
        self.storages: set[int] = set()
        self._alive: list[Tensor] = []

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        if (
            func is torch.ops.aten._to_copy.default
            and isinstance(out, Tensor)
            and _storage_key(args[0]) in self.parameter_storages
        ):
            self.storages.add(_storage_key(out))
            self._alive.append(out)
        return out


class _Counter:
    """Bytes of unique storages by what held them first (saved for backward, or a checkpoint's
    input), weights excluded; keeps every tensor it saw alive, so that no address is reused
    within one count."""

    def __init__(self, excluded: Callable[[int], bool]) -> None:
        self.excluded = excluded
        self.bytes: dict[int, tuple[int, bool]] = {}  # storage → (bytes, is a checkpoint input)
        self._alive: list[Tensor] = []

    def add(self, t: Tensor, *, checkpoint_input: bool) -> None:
        self._alive.append(t)
        storage = t.untyped_storage()
        key = int(storage.data_ptr())
        if storage.nbytes() and key not in self.bytes and not self.excluded(key):
            self.bytes[key] = (int(storage.nbytes()), checkpoint_input)

    def count(self) -> SavedCount:
        inputs = sum(n for n, is_input in self.bytes.values() if is_input)
        return SavedCount(
            saved=sum(n for n, _ in self.bytes.values()) - inputs, checkpoint_inputs=inputs
        )


@contextmanager
def _counting(model: nn.Module) -> Iterator[_Counter]:
    """Within: a counter that every tensor saved for backward goes to."""
    params = {_storage_key(p) for p in model.parameters()}
    copies = _WeightCopies(params)
    counter = _Counter(lambda k: k in params or k in copies.storages)

    def pack(t: Tensor) -> Tensor:
        counter.add(t, checkpoint_input=False)
        return t

    with copies, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield counter


def _recording_checkpoint(counter: _Counter) -> Callable[..., Any]:
    """diffusers' default checkpoint function (non-reentrant), recording the tensor arguments
    the checkpoint holds."""

    def checkpoint(module: Callable[..., Any], *args: Any) -> Any:
        for arg in args:
            if isinstance(arg, Tensor):
                counter.add(arg, checkpoint_input=True)
        return torch.utils.checkpoint.checkpoint(module, *args, use_reentrant=False)

    return checkpoint


@contextmanager
def _one_thread(device: torch.device) -> Iterator[None]:
    """Tiny CPU forwards run fastest on one thread (and leave the other cores alone)."""
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def measure_saved(
    model: DualDiT,
    pass_: Pass,
    *,
    latent: tuple[int, int, int, int],
    motion_frames: int,
    text_tokens: int,
    batch: int = 1,
    checkpointing: bool = False,
    device: torch.device | str = "cpu",
) -> SavedCount:
    """Count what one training forward of ``model`` (a DualDiT on ``device``) keeps for backward.

    The forward runs under bf16 autocast with the trainer's trainable set (the motion pass is
    phase 1: the motion branch and the task embedding; otherwise every parameter) on random
    inputs in the parameters' dtype: latents ``(B, *latent)``, motion ``(B, motion_frames, 235)``,
    text ``(B, text_tokens, Dt)``. ``checkpointing`` turns the model's gradient checkpointing on
    (with a recording checkpoint function) for this forward only.
    """
    from echomotion_dualdit.embeddings import Task
    from echomotion_motion_codec import MOTION_DIM

    from .loop import is_motion_parameter

    dev = torch.device(device)
    dtype = next(model.parameters()).dtype
    text_dim = model.dual_config.text_dim
    for name, p in model.named_parameters():
        p.requires_grad_(pass_ != "motion" or is_motion_parameter(name))
    g = torch.Generator().manual_seed(0)
    video = motion = None
    if pass_ != "motion":
        video = torch.randn((batch, *latent), generator=g).to(dev, dtype)  # (B, C, F, h, w)
    if pass_ != "video":
        motion = torch.randn((batch, motion_frames, MOTION_DIM), generator=g).to(dev, dtype)
    text = torch.randn((batch, text_tokens, text_dim), generator=g).to(dev, dtype)  # (B, L, Dt)
    timestep = (torch.rand(batch, generator=g) * 1000).to(dev, dtype)  # (B,)
    task = {"joint": Task.JOINT, "video": Task.M2V, "motion": Task.MOTION_ONLY}[pass_]
    task_ids = torch.full((batch,), int(task), dtype=torch.long, device=dev)  # (B,)
    with _one_thread(dev), _counting(model) as counter:
        if checkpointing:
            model.enable_gradient_checkpointing(
                gradient_checkpointing_func=_recording_checkpoint(counter)
            )
        try:
            with torch.autocast(dev.type, dtype=torch.bfloat16):
                model(
                    video,
                    motion,
                    None if video is None else timestep,
                    None if motion is None else timestep,
                    text,
                    task_ids,
                )
        finally:
            if checkpointing:
                model.disable_gradient_checkpointing()
        return counter.count()


def build_probe_model(
    probe: Probe,
    num_layers: int,
    *,
    dual_blocks: Sequence[int] | None = None,
    precision: Precision = "autocast",
    kernels: str | None = None,
    device: torch.device | str = "cpu",
) -> DualDiT:
    """The ``tiny`` preset at ``probe``'s sizes with ``num_layers`` layers, on ``device``; fp32
    parameters for ``"autocast"``, bf16 for ``"fsdp"``; mvsrope ``kernels`` pinned (``"triton"``,
    ``"reference"``) or None (by device)."""
    from echomotion_dualdit import DualDiT

    kwargs = probe.model_kwargs()
    if dual_blocks is not None:
        kwargs["dual_blocks"] = list(dual_blocks)
    with torch.device(device):
        model = DualDiT.from_preset("tiny", num_layers=num_layers, **kwargs)
    if precision == "fsdp":  # every weight, as MixedPrecisionPolicy casts them (diffusers' `to`
        nn.Module.to(model, torch.bfloat16)  # would warn about its fp32-kept modules)
    if kernels is not None:
        model.set_kernel_backend(kernels)
    return model.train()


def _lstsq(rows: list[list[float]], targets: list[float]) -> tuple[tuple[float, ...], float]:
    """Least-squares coefficients, and the largest residual relative to its target."""
    a = torch.tensor(rows, dtype=torch.float64)
    b = torch.tensor(targets, dtype=torch.float64)
    scale = a.abs().amax(dim=0).clamp_min(1.0)  # column scaling keeps the solve well conditioned
    fit = torch.linalg.lstsq(a / scale, b[:, None], driver="gelsd")
    if int(fit.rank) < a.shape[1]:
        raise ValueError(
            f"the probes pin {int(fit.rank)} of {a.shape[1]} coefficients; vary them more"
        )
    solution = fit.solution[:, 0] / scale
    residual = float(((a @ solution - b).abs() / b.abs().clamp_min(1.0)).max())
    return tuple(float(c) for c in solution), residual


Rows = tuple[list[list[float]], list[float]]


def fit_activation_law(
    device: str = "cpu",
    precision: Precision = "autocast",
    batch: int = 1,
    kernels: str | None = None,
    probes: tuple[Probe, ...] = FIT_PROBES,
) -> ActivationLaw:
    """Measure every probe at ``batch`` with 1 and 2 layers, in each pass, with and without
    checkpointing (12 tiny forwards a probe: about 10 s on one CPU core with the reference
    kernels, minutes through Triton's interpreter), and fit the law for that batch. ``kernels``:
    mvsrope's backend, ``"triton"`` or ``"reference"`` (None: the device's, Triton on CUDA).
    Cached per process."""
    if batch < 1:
        raise ValueError(f"batch must be ≥ 1, got {batch}")
    if kernels is None:
        kernels = "triton" if torch.device(device).type == "cuda" else "reference"
    if kernels not in ("triton", "reference"):
        raise ValueError(f"kernels must be 'triton', 'reference' or None, got {kernels!r}")
    return _fit(device, precision, batch, kernels, probes)


@functools.cache
def _fit(
    device: str, precision: Precision, batch: int, kernels: str, probes: tuple[Probe, ...]
) -> ActivationLaw:
    layer: dict[str, Rows] = {k: ([], []) for k in PASSES}
    inputs: dict[str, Rows] = {k: ([], []) for k in PASSES}
    outside: dict[tuple[str, bool], Rows] = {
        (p, c): ([], []) for p in PASSES for c in (False, True)
    }
    for probe in probes:
        dims, tokens = probe.dims(), probe.tokens()
        totals: dict[tuple[str, bool, int], int] = {}
        for num_layers in (1, 2):
            model = build_probe_model(
                probe, num_layers, precision=precision, kernels=kernels, device=device
            )
            for pass_ in PASSES:
                for ckpt in (False, True):
                    totals[(pass_, ckpt, num_layers)] = measure_saved(
                        model,
                        pass_,
                        latent=(probe.in_channels, *probe.latent),
                        motion_frames=probe.motion_frames,
                        text_tokens=probe.text_tokens,
                        batch=batch,
                        checkpointing=ckpt,
                        device=device,
                    ).total
        for pass_ in PASSES:
            for ckpt in (False, True):
                one_layer = totals[(pass_, ckpt, 1)]
                per_layer = totals[(pass_, ckpt, 2)] - one_layer
                rows, features = (inputs, _input_features) if ckpt else (layer, _layer_features)
                rows[pass_][0].append(features(pass_, dims, tokens))
                rows[pass_][1].append(float(per_layer))
                outside[(pass_, ckpt)][0].append(_outside_features(pass_, dims, tokens))
                outside[(pass_, ckpt)][1].append(float(one_layer - per_layer))
    residuals: list[float] = []

    def solve(rows: Rows) -> tuple[float, ...]:
        coefficients, residual = _lstsq(*rows)
        residuals.append(residual)
        return coefficients

    return ActivationLaw(
        layer={k: solve(v) for k, v in layer.items()},
        inputs={k: solve(v) for k, v in inputs.items()},
        outside={k: solve(v) for k, v in outside.items()},
        max_residual=max(residuals),
        device=device,
        precision=precision,
        batch=batch,
        kernels=kernels,
        probes=len(probes),
    )
