# mypy: disable-error-code="no-untyped-def"
# (Triton reads @triton.jit signatures itself: kernel parameters stay unannotated.)
"""Triton kernel 2: flash attention over the joint sequence with MVS-RoPE inside, fwd + bwd.

Dimension legend: ``B`` batch, ``Sq``/``Sk`` query/key tokens, ``N`` heads, ``D`` head dim
(≤ 128, padded to a power of two with masks), tensors contiguous ``[B, S, N, D]``.

Forward (FA2, online softmax in base 2, non-causal, any length: tails are masked):

- q is rotated in the **prologue**: each program loads its ``[BLOCK_M, D]`` q tile (and the
  pair-swapped tile), computes the angles from ``q_positions`` in-kernel, rotates, rounds to
  the input dtype (as the reference does) and keeps it in registers for the whole K loop;
- k is **pre-rotated** by kernel 1's RoPE path (one memory-bound pass, ~2·Sk·N·D·bytes) and
  the rotated k is kept for backward. Rotating k inside the loop instead would recompute
  ``Sq/BLOCK_M`` times the sin/cos of every key (≈ 300× at 37k tokens) on the FP32/SFU units,
  which costs a sizable fraction of the tensor-core time of the two matmuls; the pre-pass costs
  well under 1% of the attention at the Wan shapes. ``benchmarks/bench.py`` times both paths
  (fused-q vs. pre-rotated q and k) so the choice can be checked on a GPU.

Backward (FA2): a preprocess kernel computes ``delta = rowsum(dO·O)``; q is re-rotated by the
RoPE pass; one kernel accumulates dK, dV over q blocks, another dQ over k blocks. Both apply
the **inverse rotation** to their gradient in the epilogue (register pairs via reshape/split/
join), so the gradients are w.r.t. the un-rotated q and k.

Math: scores and softmax in fp32 (fp64 for fp64 inputs); ``tl.dot`` on the input dtype (fp16/
bf16 tensor cores; fp32 in IEEE mode). Under the CPU interpreter bf16 ``tl.dot`` is wrong, so
bf16 operands are upcast to fp32 there.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from echomotion_mvsrope.reference import DEFAULT_THETA
from echomotion_mvsrope.triton_norm_rope import (
    axis_pair_bounds,
    compute_dtype,
    frequency_table,
    interpreting,
    position_strides,
    rope_cos_sin,
    rope_forward,
    triton_dtype,
)

_LOG2E = 1.4426950408889634


@triton.jit
def _inverse_rotate_rows(
    x,
    pos_ptr,
    pos_row,
    row_mask,
    freq_ptr,
    BLOCK_R: tl.constexpr,
    BLOCK_D: tl.constexpr,
    HALF_D: tl.constexpr,
    T_PAIRS: tl.constexpr,
    TH_PAIRS: tl.constexpr,
    F64: tl.constexpr,
):
    """Rotate each row of ``x [R, BLOCK_D]`` (registers) by minus its RoPE angles."""
    even = tl.arange(0, BLOCK_D // 2) * 2
    cos, sin = rope_cos_sin(
        pos_ptr, pos_row, row_mask, even, freq_ptr, HALF_D, T_PAIRS, TH_PAIRS, F64
    )
    x_even, x_odd = tl.split(tl.reshape(x, (BLOCK_R, BLOCK_D // 2, 2)))  # (R, BD/2) each
    y_even = x_even * cos + x_odd * sin
    y_odd = x_odd * cos - x_even * sin
    return tl.reshape(tl.join(y_even, y_odd), (BLOCK_R, BLOCK_D))


@triton.jit
def _attn_fwd_kernel(
    q_ptr,
    k_ptr,
    v_ptr,
    o_ptr,
    lse_ptr,
    qpos_ptr,
    freq_ptr,
    seq_q,
    seq_k,
    qpos_stride_b,
    qpos_stride_s,
    qk_scale,
    N: tl.constexpr,
    D: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    T_PAIRS: tl.constexpr,
    TH_PAIRS: tl.constexpr,
    ROTATE_Q: tl.constexpr,
    F64: tl.constexpr,
    CT: tl.constexpr,
    DOT: tl.constexpr,
    PREC: tl.constexpr,
):
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // N
    h = pid_bh % N
    row: tl.constexpr = N * D
    q_base = q_ptr + b.to(tl.int64) * seq_q * row + h * D
    k_base = k_ptr + b.to(tl.int64) * seq_k * row + h * D
    v_base = v_ptr + b.to(tl.int64) * seq_k * row + h * D
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    m_mask = offs_m < seq_q
    d_mask = offs_d < D
    q_mask = m_mask[:, None] & d_mask[None, :]
    q = tl.load(
        q_base + offs_m[:, None] * row + offs_d[None, :], mask=q_mask, other=0.0
    )  # (BM, BD)
    if ROTATE_Q:  # prologue: rotate the q tile once, keep it for the whole K loop
        q_sw = tl.load(
            q_base + offs_m[:, None] * row + (offs_d ^ 1)[None, :], mask=q_mask, other=0.0
        )
        cos, sin = rope_cos_sin(
            qpos_ptr, b * qpos_stride_b + offs_m * qpos_stride_s, m_mask, offs_d, freq_ptr,
            D // 2, T_PAIRS, TH_PAIRS, F64,
        )  # fmt: skip
        sign = tl.where(offs_d % 2 == 0, -1.0, 1.0)
        q = q.to(CT) * cos + q_sw.to(CT) * (sin * sign[None, :])
        q = q.to(q_ptr.dtype.element_ty)  # round like the reference's rotated q
    q = q.to(DOT)
    m_i = tl.full((BLOCK_M,), float("-inf"), dtype=CT)
    l_i = tl.zeros((BLOCK_M,), dtype=CT)
    acc = tl.zeros((BLOCK_M, BLOCK_D), dtype=CT)
    for start_n in range(0, seq_k, BLOCK_N):
        cols = start_n + offs_n
        n_mask = cols < seq_k
        kv_mask_t = d_mask[:, None] & n_mask[None, :]
        k_t = tl.load(
            k_base + cols[None, :] * row + offs_d[:, None], mask=kv_mask_t, other=0.0
        )  # (BD, BN)
        s = (
            tl.dot(q, k_t.to(DOT), input_precision=PREC, out_dtype=CT) * qk_scale
        )  # (BM, BN), log2 units
        s = tl.where(n_mask[None, :], s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, axis=1))
        p = tl.exp2(s - m_new[:, None])
        alpha = tl.exp2(m_i - m_new)
        l_i = l_i * alpha + tl.sum(p, axis=1)
        v = tl.load(
            v_base + cols[:, None] * row + offs_d[None, :],
            mask=n_mask[:, None] & d_mask[None, :],
            other=0.0,
        )  # (BN, BD)
        acc = acc * alpha[:, None] + tl.dot(
            p.to(DOT), v.to(DOT), input_precision=PREC, out_dtype=CT
        )
        m_i = m_new
    out = acc / l_i[:, None]
    o_base = o_ptr + b.to(tl.int64) * seq_q * row + h * D
    tl.store(
        o_base + offs_m[:, None] * row + offs_d[None, :],
        out.to(o_ptr.dtype.element_ty),
        mask=q_mask,
    )
    tl.store(lse_ptr + pid_bh.to(tl.int64) * seq_q + offs_m, m_i + tl.log2(l_i), mask=m_mask)


@triton.jit
def _attn_bwd_preprocess_kernel(
    o_ptr,
    do_ptr,
    delta_ptr,
    seq_q,
    N: tl.constexpr,
    D: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_M: tl.constexpr,
    CT: tl.constexpr,
):
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // N
    h = pid_bh % N
    row: tl.constexpr = N * D
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    mask = (offs_m < seq_q)[:, None] & (offs_d < D)[None, :]
    offs = b.to(tl.int64) * seq_q * row + h * D + offs_m[:, None] * row + offs_d[None, :]
    o = tl.load(o_ptr + offs, mask=mask, other=0.0).to(CT)
    do = tl.load(do_ptr + offs, mask=mask, other=0.0).to(CT)
    tl.store(
        delta_ptr + pid_bh.to(tl.int64) * seq_q + offs_m,
        tl.sum(o * do, axis=1),
        mask=offs_m < seq_q,
    )


@triton.jit
def _attn_bwd_dkdv_kernel(
    q_ptr,
    k_ptr,
    v_ptr,
    do_ptr,
    lse_ptr,
    delta_ptr,
    dk_ptr,
    dv_ptr,
    kpos_ptr,
    freq_ptr,
    seq_q,
    seq_k,
    kpos_stride_b,
    kpos_stride_s,
    qk_scale,
    sm_scale,
    N: tl.constexpr,
    D: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    T_PAIRS: tl.constexpr,
    TH_PAIRS: tl.constexpr,
    ROTATE_K: tl.constexpr,
    F64: tl.constexpr,
    CT: tl.constexpr,
    DOT: tl.constexpr,
    PREC: tl.constexpr,
):
    pid_n = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // N
    h = pid_bh % N
    row: tl.constexpr = N * D
    q_off = b.to(tl.int64) * seq_q * row + h * D
    k_off = b.to(tl.int64) * seq_k * row + h * D
    cols = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_m = tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    n_mask = cols < seq_k
    d_mask = offs_d < D
    kv_mask = n_mask[:, None] & d_mask[None, :]
    kv_offs = k_off + cols[:, None] * row + offs_d[None, :]
    k = tl.load(k_ptr + kv_offs, mask=kv_mask, other=0.0).to(DOT)  # (BN, BD), rotated
    v = tl.load(v_ptr + kv_offs, mask=kv_mask, other=0.0).to(DOT)
    dk = tl.zeros((BLOCK_N, BLOCK_D), dtype=CT)
    dv = tl.zeros((BLOCK_N, BLOCK_D), dtype=CT)
    stat = lse_ptr + pid_bh.to(tl.int64) * seq_q
    dstat = delta_ptr + pid_bh.to(tl.int64) * seq_q
    for start_m in range(0, seq_q, BLOCK_M):
        rows = start_m + offs_m
        m_mask = rows < seq_q
        q_t = tl.load(
            q_ptr + q_off + rows[None, :] * row + offs_d[:, None],
            mask=d_mask[:, None] & m_mask[None, :],
            other=0.0,
        ).to(DOT)  # (BD, BM), rotated
        do = tl.load(
            do_ptr + q_off + rows[:, None] * row + offs_d[None, :],
            mask=m_mask[:, None] & d_mask[None, :],
            other=0.0,
        ).to(DOT)  # (BM, BD)
        lse = tl.load(stat + rows, mask=m_mask, other=0.0)
        delta = tl.load(dstat + rows, mask=m_mask, other=0.0)
        s_t = tl.dot(k, q_t, input_precision=PREC, out_dtype=CT) * qk_scale  # (BN, BM)
        p_t = tl.where(m_mask[None, :], tl.exp2(s_t - lse[None, :]), 0.0)
        dv += tl.dot(p_t.to(DOT), do, input_precision=PREC, out_dtype=CT)
        dp_t = tl.dot(v, tl.trans(do), input_precision=PREC, out_dtype=CT)  # (BN, BM)
        ds_t = p_t * (dp_t - delta[None, :])
        dk += tl.dot(ds_t.to(DOT), tl.trans(q_t), input_precision=PREC, out_dtype=CT)
    dk = dk * sm_scale
    if ROTATE_K:  # epilogue: gradient w.r.t. the un-rotated k
        dk = _inverse_rotate_rows(
            dk, kpos_ptr, b * kpos_stride_b + cols * kpos_stride_s, n_mask, freq_ptr,
            BLOCK_N, BLOCK_D, D // 2, T_PAIRS, TH_PAIRS, F64,
        )  # fmt: skip
    tl.store(dk_ptr + kv_offs, dk.to(dk_ptr.dtype.element_ty), mask=kv_mask)
    tl.store(dv_ptr + kv_offs, dv.to(dv_ptr.dtype.element_ty), mask=kv_mask)


@triton.jit
def _attn_bwd_dq_kernel(
    q_ptr,
    k_ptr,
    v_ptr,
    do_ptr,
    lse_ptr,
    delta_ptr,
    dq_ptr,
    qpos_ptr,
    freq_ptr,
    seq_q,
    seq_k,
    qpos_stride_b,
    qpos_stride_s,
    qk_scale,
    sm_scale,
    N: tl.constexpr,
    D: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    T_PAIRS: tl.constexpr,
    TH_PAIRS: tl.constexpr,
    ROTATE_Q: tl.constexpr,
    F64: tl.constexpr,
    CT: tl.constexpr,
    DOT: tl.constexpr,
    PREC: tl.constexpr,
):
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // N
    h = pid_bh % N
    row: tl.constexpr = N * D
    q_off = b.to(tl.int64) * seq_q * row + h * D
    k_off = b.to(tl.int64) * seq_k * row + h * D
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    m_mask = rows < seq_q
    d_mask = offs_d < D
    q_mask = m_mask[:, None] & d_mask[None, :]
    q_offs = q_off + rows[:, None] * row + offs_d[None, :]
    q = tl.load(q_ptr + q_offs, mask=q_mask, other=0.0).to(DOT)  # (BM, BD), rotated
    do = tl.load(do_ptr + q_offs, mask=q_mask, other=0.0).to(DOT)
    lse = tl.load(lse_ptr + pid_bh.to(tl.int64) * seq_q + rows, mask=m_mask, other=0.0)
    delta = tl.load(delta_ptr + pid_bh.to(tl.int64) * seq_q + rows, mask=m_mask, other=0.0)
    dq = tl.zeros((BLOCK_M, BLOCK_D), dtype=CT)
    for start_n in range(0, seq_k, BLOCK_N):
        cols = start_n + offs_n
        n_mask = cols < seq_k
        t_mask = d_mask[:, None] & n_mask[None, :]
        t_offs = k_off + cols[None, :] * row + offs_d[:, None]
        k_t = tl.load(k_ptr + t_offs, mask=t_mask, other=0.0).to(DOT)  # (BD, BN)
        v_t = tl.load(v_ptr + t_offs, mask=t_mask, other=0.0).to(DOT)
        s = tl.dot(q, k_t, input_precision=PREC, out_dtype=CT) * qk_scale  # (BM, BN)
        p = tl.where(n_mask[None, :], tl.exp2(s - lse[:, None]), 0.0)
        dp = tl.dot(do, v_t, input_precision=PREC, out_dtype=CT)
        ds = p * (dp - delta[:, None])
        dq += tl.dot(ds.to(DOT), tl.trans(k_t), input_precision=PREC, out_dtype=CT)
    dq = dq * sm_scale
    if ROTATE_Q:  # epilogue: gradient w.r.t. the un-rotated q
        dq = _inverse_rotate_rows(
            dq, qpos_ptr, b * qpos_stride_b + rows * qpos_stride_s, m_mask, freq_ptr,
            BLOCK_M, BLOCK_D, D // 2, T_PAIRS, TH_PAIRS, F64,
        )  # fmt: skip
    tl.store(dq_ptr + q_offs, dq.to(dq_ptr.dtype.element_ty), mask=q_mask)


def _dot_dtype(dtype: torch.dtype) -> tuple[tl.dtype, str | None]:
    """``(tl.dot operand dtype, input_precision)`` for an input dtype (None: Triton's default)."""
    if dtype == torch.bfloat16 and interpreting():
        return tl.float32, "ieee"  # the interpreter's bf16 dot is wrong
    if dtype in (torch.float32, torch.float64):
        return triton_dtype(dtype), "ieee"  # no TF32 for fp32 inputs
    return triton_dtype(dtype), None  # 16-bit operands: the precision flag does not apply


def _blocks(head_dim: int, backward: bool) -> tuple[int, int, int, int, int]:
    """``(BLOCK_D, BLOCK_M, BLOCK_N, num_warps, num_stages)``."""
    block_d = max(16, triton.next_power_of_2(head_dim))
    if interpreting():
        return block_d, 32, 32, 4, 1
    if backward:
        return block_d, 64, 64, 8 if block_d >= 128 else 4, 2
    return block_d, 128, 64, 8 if block_d >= 128 else 4, 3


def _positions_arg(
    positions: torch.Tensor | None, dtype: torch.dtype, like: torch.Tensor
) -> tuple[torch.Tensor, int, int]:
    if positions is None:
        return like, 0, 0  # never read: the ROTATE flag is off
    pos = positions.to(device=like.device, dtype=compute_dtype(dtype)).contiguous()
    stride_b, stride_s = position_strides(pos)
    return pos, stride_b, stride_s


def attention_forward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    q_positions: torch.Tensor | None,
    k_positions: torch.Tensor | None,
    theta: float = DEFAULT_THETA,
    sm_scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run kernel 2 forward.

    Args:
        q: ``[B, Sq, N, D]`` (un-rotated if ``q_positions`` is given).
        k: ``[B, Sk, N, D]`` (un-rotated if ``k_positions`` is given).
        v: ``[B, Sk, N, D]``.
        q_positions, k_positions: ``[S, 3]`` / ``[B, S, 3]`` or None.
        theta: RoPE base.
        sm_scale: softmax scale (default ``1/sqrt(D)``).

    Returns:
        ``(out [B, Sq, N, D], lse [B*N*Sq] (base 2, compute dtype), k_rot [B, Sk, N, D])``.
    """
    q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
    bsz, seq_q, heads, head_dim = q.shape
    seq_k = k.shape[1]
    scale = sm_scale if sm_scale is not None else 1.0 / math.sqrt(head_dim)
    ct = compute_dtype(q.dtype)
    k_rot = rope_forward(k, k_positions, theta) if k_positions is not None else k
    qpos, qs_b, qs_s = _positions_arg(q_positions, q.dtype, q)
    freqs = frequency_table(head_dim, theta, q.dtype, q.device)
    out = torch.empty_like(q)
    lse = torch.empty(bsz * heads * seq_q, dtype=ct, device=q.device)
    block_d, block_m, block_n, num_warps, num_stages = _blocks(head_dim, backward=False)
    dot, prec = _dot_dtype(q.dtype)
    t_pairs, th_pairs = axis_pair_bounds(head_dim)
    grid = (triton.cdiv(seq_q, block_m), bsz * heads)
    _attn_fwd_kernel[grid](
        q, k_rot, v, out, lse, qpos, freqs, seq_q, seq_k, qs_b, qs_s, scale * _LOG2E,
        N=heads, D=head_dim, BLOCK_D=block_d, BLOCK_M=block_m, BLOCK_N=block_n,
        T_PAIRS=t_pairs, TH_PAIRS=th_pairs, ROTATE_Q=q_positions is not None,
        F64=ct == torch.float64, CT=triton_dtype(ct), DOT=dot, PREC=prec,
        num_warps=num_warps, num_stages=num_stages,
    )  # fmt: skip
    return out, lse, k_rot


def attention_backward(
    grad_out: torch.Tensor,
    q: torch.Tensor,
    k_rot: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    q_positions: torch.Tensor | None,
    k_positions: torch.Tensor | None,
    theta: float = DEFAULT_THETA,
    sm_scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run kernel 2 backward.

    Args:
        grad_out: ``[B, Sq, N, D]``.
        q: ``[B, Sq, N, D]`` as given to the forward (un-rotated if ``q_positions``).
        k_rot: ``[B, Sk, N, D]`` rotated k returned by :func:`attention_forward`.
        v, out, lse: the forward's v, output and log-sum-exp.
        q_positions, k_positions, theta, sm_scale: as in the forward.

    Returns:
        ``(dq, dk, dv)`` w.r.t. the forward's (un-rotated) q, k and v.
    """
    q, grad_out = q.contiguous(), grad_out.contiguous()
    bsz, seq_q, heads, head_dim = q.shape
    seq_k = k_rot.shape[1]
    scale = sm_scale if sm_scale is not None else 1.0 / math.sqrt(head_dim)
    ct = compute_dtype(q.dtype)
    q_rot = rope_forward(q, q_positions, theta) if q_positions is not None else q
    qpos, qs_b, qs_s = _positions_arg(q_positions, q.dtype, q)
    kpos, ks_b, ks_s = _positions_arg(k_positions, q.dtype, q)
    freqs = frequency_table(head_dim, theta, q.dtype, q.device)
    block_d, block_m, block_n, num_warps, num_stages = _blocks(head_dim, backward=True)
    dot, prec = _dot_dtype(q.dtype)
    t_pairs, th_pairs = axis_pair_bounds(head_dim)
    f64 = ct == torch.float64
    delta = torch.empty_like(lse)
    _attn_bwd_preprocess_kernel[(triton.cdiv(seq_q, block_m), bsz * heads)](
        out,
        grad_out,
        delta,
        seq_q,
        N=heads,
        D=head_dim,
        BLOCK_D=block_d,
        BLOCK_M=block_m,
        CT=triton_dtype(ct),
    )
    dq = torch.empty_like(q)
    dk = torch.empty_like(k_rot)
    dv = torch.empty_like(v)
    common = {
        "N": heads, "D": head_dim, "BLOCK_D": block_d, "BLOCK_M": block_m, "BLOCK_N": block_n,
        "T_PAIRS": t_pairs, "TH_PAIRS": th_pairs, "F64": f64, "CT": triton_dtype(ct),
        "DOT": dot, "PREC": prec, "num_warps": num_warps, "num_stages": num_stages,
    }  # fmt: skip
    _attn_bwd_dkdv_kernel[(triton.cdiv(seq_k, block_n), bsz * heads)](
        q_rot, k_rot, v, grad_out, lse, delta, dk, dv, kpos, freqs,
        seq_q, seq_k, ks_b, ks_s, scale * _LOG2E, scale, ROTATE_K=k_positions is not None, **common,
    )  # fmt: skip
    _attn_bwd_dq_kernel[(triton.cdiv(seq_q, block_m), bsz * heads)](
        q_rot, k_rot, v, grad_out, lse, delta, dq, qpos, freqs,
        seq_q, seq_k, qs_b, qs_s, scale * _LOG2E, scale, ROTATE_Q=q_positions is not None, **common,
    )  # fmt: skip
    return dq, dk, dv
