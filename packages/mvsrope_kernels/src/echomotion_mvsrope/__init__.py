"""EchoMotion MVS-RoPE: positions, a PyTorch reference, fused Triton kernels and dispatch.

Tensors are ``[B, S, N, D]`` (batch, tokens, heads, head dim); positions ``[S, 3]`` or
``[B, S, 3]`` float ``(t, h, w)``. Triton modules are imported lazily, on the first Triton call,
so ``TRITON_INTERPRET`` may still be set after importing this package.
"""

from echomotion_mvsrope.api import (
    BACKEND_ENV,
    Backend,
    mvs_attention,
    mvs_rope,
    qk_norm_rope,
    resolve_backend,
)
from echomotion_mvsrope.positions import (
    MOTION_SLOTS,
    POSITION_MODES,
    PositionMode,
    joint_positions,
    motion_positions,
    video_positions,
)
from echomotion_mvsrope.reference import (
    DEFAULT_THETA,
    attention_reference,
    qk_norm_rope_reference,
    rms_norm_heads_reference,
    rope_angles,
    rope_axis_dims,
    rope_pair_frequencies,
    rope_reference,
)

__version__ = "0.1.0"

__all__ = [
    "BACKEND_ENV",
    "DEFAULT_THETA",
    "MOTION_SLOTS",
    "POSITION_MODES",
    "Backend",
    "PositionMode",
    "__version__",
    "attention_reference",
    "joint_positions",
    "motion_positions",
    "mvs_attention",
    "mvs_rope",
    "qk_norm_rope",
    "qk_norm_rope_reference",
    "resolve_backend",
    "rms_norm_heads_reference",
    "rope_angles",
    "rope_axis_dims",
    "rope_pair_frequencies",
    "rope_reference",
    "video_positions",
]
