# mypy: disable-error-code="no-untyped-def"
# (Triton reads @triton.jit signatures itself: kernel parameters stay unannotated.)
"""Triton kernel 1: fused QK-RMSNorm (across all heads) + MVS-RoPE, forward and backward.

Dimension legend: ``B`` batch, ``S`` tokens, ``N`` heads, ``D`` head dim, ``T = B·S`` tokens
flattened. q and k are contiguous ``[B, S, N, D]``; positions ``[S, 3]`` or ``[B, S, 3]``.

One program handles ``BLOCK_T`` tokens × all ``N·D`` channels of q *and* k, so the token's
angles are computed once (in-kernel, from the positions and a ``D/2`` frequency vector; no
cos/sin table) and shared by every head of both tensors. Math is fp32 (fp64 for fp64 inputs);
results are rounded once to the input dtype.

Rotation of channel ``d`` needs its pair partner ``d ^ 1``: the kernel loads the tile twice
(direct and partner-swapped offsets; the second load hits L1/L2, not DRAM), so no register
shuffle is needed. ``y[d] = u[d]·cos + sign(d)·u[d^1]·sin`` with ``sign = -1`` on even and
``+1`` on odd channels; the inverse rotation flips the sign.

Angle accuracy: ``pos·freq`` in fp32 loses up to half an ulp of the angle (2.4e-4 rad at 4096).
The frequency is split on the host into a 10-significant-bit ``hi`` part and a ``lo`` rest, so
``pos·hi`` is exact for positions with ≤ 14 significant bits (integers < 16384, quarters
< 4096); that product is reduced modulo 2π with a three-part Cody-Waite constant (exact steps),
and ``pos·lo`` (small) is added after. The angle fed to sin/cos lies in about [-π, π] and is
accurate to ~3e-7 rad at positions of several thousand.
"""

from __future__ import annotations

import functools
import os

import torch
import triton
import triton.language as tl

from echomotion_mvsrope.reference import DEFAULT_THETA, rope_axis_dims, rope_pair_frequencies

_HI_BITS = 10  # significant bits kept in the hi part of each frequency


def interpreting() -> bool:
    """True when Triton runs kernels through its CPU interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "yes", "on")


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The kernels' math dtype for an input dtype: fp64 for fp64, else fp32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def triton_dtype(dtype: torch.dtype) -> tl.dtype:
    """The Triton dtype of a torch floating dtype."""
    table = {
        torch.float64: tl.float64,
        torch.float32: tl.float32,
        torch.float16: tl.float16,
        torch.bfloat16: tl.bfloat16,
    }
    if dtype not in table:
        raise ValueError(
            f"unsupported dtype {dtype}; expected one of float64, float32, float16, bfloat16"
        )
    return table[dtype]


@functools.lru_cache(maxsize=64)
def _frequency_table_cpu(head_dim: int, theta: float, f64: bool) -> torch.Tensor:
    freqs = rope_pair_frequencies(head_dim, theta)  # (D/2,) float64
    if f64:
        return torch.stack([freqs, torch.zeros_like(freqs)])  # (2, D/2)
    mantissa, exponent = torch.frexp(freqs)  # freqs = mantissa · 2^exponent, mantissa in [0.5, 1)
    hi = torch.round(mantissa * 2.0**_HI_BITS) * torch.pow(
        2.0, (exponent - _HI_BITS).to(torch.float64)
    )
    return torch.stack([hi, freqs - hi]).to(torch.float32)  # (2, D/2): hi (exact in fp32), lo


def frequency_table(
    head_dim: int, theta: float, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """``(2, D/2)`` per-pair frequency split ``(hi, lo)`` in the compute dtype (fp64: ``lo = 0``)."""
    table = _frequency_table_cpu(head_dim, float(theta), compute_dtype(dtype) == torch.float64)
    return table.to(device)


def axis_pair_bounds(head_dim: int) -> tuple[int, int]:
    """``(t_pairs, t_pairs + h_pairs)``: pair j drives axis t below the first, h below the second."""
    t_dim, h_dim, _ = rope_axis_dims(head_dim)
    return t_dim // 2, (t_dim + h_dim) // 2


def position_strides(positions: torch.Tensor) -> tuple[int, int]:
    """``(stride_b, stride_s)`` of a contiguous ``[S, 3]`` (batch stride 0) or ``[B, S, 3]`` tensor."""
    if positions.dim() == 2:
        return 0, positions.stride(0)
    return positions.stride(0), positions.stride(1)


@triton.jit
def rope_cos_sin(
    pos_ptr,
    pos_row,
    row_mask,
    d,
    freq_ptr,
    HALF_D: tl.constexpr,
    T_PAIRS: tl.constexpr,
    TH_PAIRS: tl.constexpr,
    F64: tl.constexpr,
):
    """cos and sin of the MVS-RoPE angle, ``[R, C]`` for rows at ``pos_row [R]`` and channels ``d [C]``."""
    j = d // 2
    jmask = j < HALF_D
    axis = (j >= T_PAIRS).to(tl.int32) + (j >= TH_PAIRS).to(tl.int32)
    pmask = row_mask[:, None] & jmask[None, :]
    pos = tl.load(pos_ptr + pos_row[:, None] + axis[None, :], mask=pmask, other=0.0)
    f_hi = tl.load(freq_ptr + j, mask=jmask, other=0.0)
    if F64:
        angle = pos * f_hi[None, :]
    else:
        f_lo = tl.load(freq_ptr + HALF_D + j, mask=jmask, other=0.0)
        a = pos * f_hi[None, :]  # exact for positions with <= 14 significant bits
        n = tl.floor(a * 0.15915494309189535 + 0.5)  # a / 2π, rounded
        r = a - n * 6.283203125  # 2π = 6.283203125 - 1.7814338207244873e-05 - 3.482206523131026e-09
        r = r + n * 1.7814338207244873e-05
        r = r + n * 3.482206523131026e-09
        angle = r + pos * f_lo[None, :]
    return tl.cos(angle), tl.sin(angle)


@triton.jit
def _norm_rope_one(
    x_ptr,
    w_ptr,
    o_ptr,
    rstd_ptr,
    offs,
    offs_sw,
    mask,
    inner,
    inner_sw,
    inner_mask,
    tok,
    tok_mask,
    cos,
    sin,
    eps,
    ND: tl.constexpr,
    NORM: tl.constexpr,
    F64: tl.constexpr,
    CT: tl.constexpr,
):
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(CT)  # (T, BN, BD)
    x_sw = tl.load(x_ptr + offs_sw, mask=mask, other=0.0).to(CT)
    if NORM:
        mean_sq = tl.sum(tl.sum(x * x, axis=2), axis=1) / ND  # (T,)
        if F64:  # noqa: SIM108 (a constexpr branch; fp64 has no sqrt_rn)
            rstd = 1.0 / tl.sqrt(mean_sq + eps)
        else:
            rstd = 1.0 / tl.sqrt_rn(mean_sq + eps)
        tl.store(rstd_ptr + tok, rstd, mask=tok_mask)
        w = tl.load(w_ptr + inner, mask=inner_mask, other=0.0).to(CT)  # (BN, BD)
        w_sw = tl.load(w_ptr + inner_sw, mask=inner_mask, other=0.0).to(CT)
        x = x * rstd[:, None, None] * w[None, :, :]
        x_sw = x_sw * rstd[:, None, None] * w_sw[None, :, :]
    y = x * cos + x_sw * sin
    tl.store(o_ptr + offs, y.to(o_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _norm_rope_fwd_kernel(
    q_ptr,
    k_ptr,
    qw_ptr,
    kw_ptr,
    qo_ptr,
    ko_ptr,
    q_rstd_ptr,
    k_rstd_ptr,
    pos_ptr,
    freq_ptr,
    num_tokens,
    seq_len,
    pos_stride_b,
    pos_stride_s,
    eps,
    N: tl.constexpr,
    D: tl.constexpr,
    BLOCK_T: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
    T_PAIRS: tl.constexpr,
    TH_PAIRS: tl.constexpr,
    HAS_K: tl.constexpr,
    NORM: tl.constexpr,
    INVERSE: tl.constexpr,
    F64: tl.constexpr,
    CT: tl.constexpr,
):
    pid = tl.program_id(0)
    tok = pid * BLOCK_T + tl.arange(0, BLOCK_T)  # (T,)
    tok_mask = tok < num_tokens
    b = tok // seq_len
    s = tok - b * seq_len
    d = tl.arange(0, BLOCK_D)
    hh = tl.arange(0, BLOCK_N)
    cos, sin = rope_cos_sin(
        pos_ptr,
        b * pos_stride_b + s * pos_stride_s,
        tok_mask,
        d,
        freq_ptr,
        D // 2,
        T_PAIRS,
        TH_PAIRS,
        F64,
    )  # (T, BD)
    sign = tl.where(d % 2 == 0, -1.0, 1.0)
    if INVERSE:
        sign = -sign
    cos3 = cos[:, None, :]  # (T, 1, BD)
    sin3 = (sin * sign[None, :])[:, None, :]
    inner = hh[:, None] * D + d[None, :]  # (BN, BD)
    inner_sw = hh[:, None] * D + (d ^ 1)[None, :]
    inner_mask = (hh < N)[:, None] & (d < D)[None, :]
    row = tok.to(tl.int64)[:, None, None] * (N * D)
    offs = row + inner[None, :, :]  # (T, BN, BD)
    offs_sw = row + inner_sw[None, :, :]
    mask = tok_mask[:, None, None] & inner_mask[None, :, :]
    _norm_rope_one(
        q_ptr, qw_ptr, qo_ptr, q_rstd_ptr, offs, offs_sw, mask, inner, inner_sw, inner_mask,
        tok, tok_mask, cos3, sin3, eps, N * D, NORM, F64, CT,
    )  # fmt: skip
    if HAS_K:
        _norm_rope_one(
            k_ptr, kw_ptr, ko_ptr, k_rstd_ptr, offs, offs_sw, mask, inner, inner_sw, inner_mask,
            tok, tok_mask, cos3, sin3, eps, N * D, NORM, F64, CT,
        )  # fmt: skip


@triton.jit
def _norm_rope_bwd_one(
    dy_ptr,
    x_ptr,
    w_ptr,
    rstd_ptr,
    dx_ptr,
    offs,
    offs_sw,
    mask,
    inner,
    inner_mask,
    tok,
    tok_mask,
    cos,
    sin,
    ND: tl.constexpr,
    CT: tl.constexpr,
):
    dy = tl.load(dy_ptr + offs, mask=mask, other=0.0).to(CT)  # (T, BN, BD)
    dy_sw = tl.load(dy_ptr + offs_sw, mask=mask, other=0.0).to(CT)
    g = dy * cos + dy_sw * sin  # inverse rotation: gradient w.r.t. the normalized, weighted x
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(CT)
    rstd = tl.load(rstd_ptr + tok, mask=tok_mask, other=0.0)[:, None, None]  # (T, 1, 1)
    w = tl.load(w_ptr + inner, mask=inner_mask, other=0.0).to(CT)[None, :, :]
    dn = g * w
    c = tl.sum(tl.sum(dn * x, axis=2), axis=1)[:, None, None] / ND  # (T, 1, 1)
    dx = rstd * dn - rstd * rstd * rstd * c * x
    tl.store(dx_ptr + offs, dx.to(dx_ptr.dtype.element_ty), mask=mask)
    return tl.sum(g * x * rstd, axis=0)  # (BN, BD): this block's share of dweight


@triton.jit
def _norm_rope_bwd_kernel(
    dqo_ptr,
    dko_ptr,
    q_ptr,
    k_ptr,
    qw_ptr,
    kw_ptr,
    q_rstd_ptr,
    k_rstd_ptr,
    dq_ptr,
    dk_ptr,
    dqw_ptr,
    dkw_ptr,
    pos_ptr,
    freq_ptr,
    num_tokens,
    seq_len,
    pos_stride_b,
    pos_stride_s,
    N: tl.constexpr,
    D: tl.constexpr,
    BLOCK_T: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
    T_PAIRS: tl.constexpr,
    TH_PAIRS: tl.constexpr,
    F64: tl.constexpr,
    CT: tl.constexpr,
):
    pid = tl.program_id(0)
    num_programs = tl.num_programs(0)
    d = tl.arange(0, BLOCK_D)
    hh = tl.arange(0, BLOCK_N)
    inner = hh[:, None] * D + d[None, :]  # (BN, BD)
    inner_sw = hh[:, None] * D + (d ^ 1)[None, :]
    inner_mask = (hh < N)[:, None] & (d < D)[None, :]
    sign = tl.where(d % 2 == 0, 1.0, -1.0)  # inverse rotation
    dqw = tl.zeros((BLOCK_N, BLOCK_D), dtype=CT)
    dkw = tl.zeros((BLOCK_N, BLOCK_D), dtype=CT)
    num_blocks = tl.cdiv(num_tokens, BLOCK_T)
    for blk in range(
        pid, num_blocks, num_programs
    ):  # grid-stride: dweight partials stay in registers
        tok = blk * BLOCK_T + tl.arange(0, BLOCK_T)
        tok_mask = tok < num_tokens
        b = tok // seq_len
        s = tok - b * seq_len
        cos, sin = rope_cos_sin(
            pos_ptr,
            b * pos_stride_b + s * pos_stride_s,
            tok_mask,
            d,
            freq_ptr,
            D // 2,
            T_PAIRS,
            TH_PAIRS,
            F64,
        )
        cos3 = cos[:, None, :]
        sin3 = (sin * sign[None, :])[:, None, :]
        row = tok.to(tl.int64)[:, None, None] * (N * D)
        offs = row + inner[None, :, :]
        offs_sw = row + inner_sw[None, :, :]
        mask = tok_mask[:, None, None] & inner_mask[None, :, :]
        dqw += _norm_rope_bwd_one(
            dqo_ptr, q_ptr, qw_ptr, q_rstd_ptr, dq_ptr, offs, offs_sw, mask, inner, inner_mask,
            tok, tok_mask, cos3, sin3, N * D, CT,
        )  # fmt: skip
        dkw += _norm_rope_bwd_one(
            dko_ptr, k_ptr, kw_ptr, k_rstd_ptr, dk_ptr, offs, offs_sw, mask, inner, inner_mask,
            tok, tok_mask, cos3, sin3, N * D, CT,
        )  # fmt: skip
    tl.store(dqw_ptr + pid * (N * D) + inner, dqw, mask=inner_mask)
    tl.store(dkw_ptr + pid * (N * D) + inner, dkw, mask=inner_mask)


def _launch_shape(num_heads: int, head_dim: int, num_tokens: int) -> tuple[int, int, int, int]:
    """``(BLOCK_T, BLOCK_N, BLOCK_D, num_warps)``: about 8k channels of each tensor per program."""
    block_n = triton.next_power_of_2(num_heads)
    block_d = triton.next_power_of_2(head_dim)
    block_t = max(1, min(triton.next_power_of_2(num_tokens), 8192 // (block_n * block_d)))
    num_warps = 8 if block_t * block_n * block_d >= 4096 else 4
    return block_t, block_n, block_d, num_warps


def _prepare_positions(
    positions: torch.Tensor, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    return positions.to(device=device, dtype=compute_dtype(dtype)).contiguous()


def _check_device(*tensors: torch.Tensor) -> None:
    for t in tensors:
        if t.device.type != "cuda" and not interpreting():
            raise ValueError(
                f"the Triton backend needs CUDA tensors (got {t.device}); on CPU use backend='reference' "
                "or set TRITON_INTERPRET=1 before importing triton (slow, for tests)"
            )


def norm_rope_forward(
    q: torch.Tensor,
    k: torch.Tensor,
    q_weight: torch.Tensor,
    k_weight: torch.Tensor,
    positions: torch.Tensor,
    eps: float,
    theta: float = DEFAULT_THETA,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Launch kernel 1 forward on contiguous ``q, k [B, S, N, D]``.

    Returns:
        ``(q_out, k_out, q_rstd, k_rstd)``: rotated ``[B, S, N, D]`` in the input dtype and the
        per-token ``1/rms`` ``[B*S]`` in the compute dtype (saved for backward).
    """
    _check_device(q, k)
    bsz, seq, heads, head_dim = q.shape
    num_tokens = bsz * seq
    ct = compute_dtype(q.dtype)
    pos = _prepare_positions(positions, q.dtype, q.device)
    freqs = frequency_table(head_dim, theta, q.dtype, q.device)
    q_out, k_out = torch.empty_like(q), torch.empty_like(k)
    q_rstd = torch.empty(num_tokens, dtype=ct, device=q.device)
    k_rstd = torch.empty(num_tokens, dtype=ct, device=q.device)
    block_t, block_n, block_d, num_warps = _launch_shape(heads, head_dim, num_tokens)
    t_pairs, th_pairs = axis_pair_bounds(head_dim)
    stride_b, stride_s = position_strides(pos)
    grid = (triton.cdiv(num_tokens, block_t),)
    _norm_rope_fwd_kernel[grid](
        q, k, q_weight, k_weight, q_out, k_out, q_rstd, k_rstd, pos, freqs,
        num_tokens, seq, stride_b, stride_s, eps,
        N=heads, D=head_dim, BLOCK_T=block_t, BLOCK_N=block_n, BLOCK_D=block_d,
        T_PAIRS=t_pairs, TH_PAIRS=th_pairs, HAS_K=True, NORM=True, INVERSE=False,
        F64=ct == torch.float64, CT=triton_dtype(ct), num_warps=num_warps,
    )  # fmt: skip
    return q_out, k_out, q_rstd, k_rstd


def norm_rope_backward(
    dq_out: torch.Tensor,
    dk_out: torch.Tensor,
    q: torch.Tensor,
    k: torch.Tensor,
    q_weight: torch.Tensor,
    k_weight: torch.Tensor,
    q_rstd: torch.Tensor,
    k_rstd: torch.Tensor,
    positions: torch.Tensor,
    theta: float = DEFAULT_THETA,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Launch kernel 1 backward.

    Returns:
        ``(dq, dk, dq_weight, dk_weight)``: ``[B, S, N, D]`` in the input dtype and ``[N*D]`` in
        the weights' dtype.
    """
    bsz, seq, heads, head_dim = q.shape
    num_tokens = bsz * seq
    ct = compute_dtype(q.dtype)
    pos = _prepare_positions(positions, q.dtype, q.device)
    freqs = frequency_table(head_dim, theta, q.dtype, q.device)
    dq_out, dk_out = dq_out.contiguous(), dk_out.contiguous()
    dq, dk = torch.empty_like(q), torch.empty_like(k)
    block_t, block_n, block_d, num_warps = _launch_shape(heads, head_dim, num_tokens)
    num_blocks = triton.cdiv(num_tokens, block_t)
    if q.device.type == "cuda":
        max_programs = 4 * torch.cuda.get_device_properties(q.device).multi_processor_count
    else:
        max_programs = 4
    programs = max(1, min(num_blocks, max_programs))
    dqw = torch.empty(programs, heads * head_dim, dtype=ct, device=q.device)
    dkw = torch.empty(programs, heads * head_dim, dtype=ct, device=q.device)
    t_pairs, th_pairs = axis_pair_bounds(head_dim)
    stride_b, stride_s = position_strides(pos)
    _norm_rope_bwd_kernel[(programs,)](
        dq_out, dk_out, q, k, q_weight, k_weight, q_rstd, k_rstd, dq, dk, dqw, dkw, pos, freqs,
        num_tokens, seq, stride_b, stride_s,
        N=heads, D=head_dim, BLOCK_T=block_t, BLOCK_N=block_n, BLOCK_D=block_d,
        T_PAIRS=t_pairs, TH_PAIRS=th_pairs, F64=ct == torch.float64, CT=triton_dtype(ct),
        num_warps=num_warps,
    )  # fmt: skip
    return dq, dk, dqw.sum(0).to(q_weight.dtype), dkw.sum(0).to(k_weight.dtype)


def rope_forward(
    x: torch.Tensor,
    positions: torch.Tensor,
    theta: float = DEFAULT_THETA,
    *,
    inverse: bool = False,
) -> torch.Tensor:
    """Kernel 1 without the norm: rotate (or inverse-rotate) ``x [B, S, N, D]``; same shape and dtype."""
    _check_device(x)
    x = x.contiguous()
    bsz, seq, heads, head_dim = x.shape
    num_tokens = bsz * seq
    ct = compute_dtype(x.dtype)
    pos = _prepare_positions(positions, x.dtype, x.device)
    freqs = frequency_table(head_dim, theta, x.dtype, x.device)
    out = torch.empty_like(x)
    block_t, block_n, block_d, num_warps = _launch_shape(heads, head_dim, num_tokens)
    t_pairs, th_pairs = axis_pair_bounds(head_dim)
    stride_b, stride_s = position_strides(pos)
    grid = (triton.cdiv(num_tokens, block_t),)
    _norm_rope_fwd_kernel[grid](
        x, x, x, x, out, out, out, out, pos, freqs,
        num_tokens, seq, stride_b, stride_s, 0.0,
        N=heads, D=head_dim, BLOCK_T=block_t, BLOCK_N=block_n, BLOCK_D=block_d,
        T_PAIRS=t_pairs, TH_PAIRS=th_pairs, HAS_K=False, NORM=False, INVERSE=inverse,
        F64=ct == torch.float64, CT=triton_dtype(ct), num_warps=num_warps,
    )  # fmt: skip
    return out
