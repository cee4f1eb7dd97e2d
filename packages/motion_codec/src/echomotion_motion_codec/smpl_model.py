"""`SMPLBodyModel`: the real SMPL body model through `smplx`, from user-supplied model files.

Model files are read without pickles: an `.npz` holding SMPL's arrays (`v_template`,
`shapedirs`, `posedirs`, `J_regressor`, `weights`, `kintree_table`, `f`), or a folder holding
`SMPL_{NEUTRAL,MALE,FEMALE}.npz`. (Official SMPL `.pkl` files hold chumpy objects; convert them
once to `.npz` with a trusted tool — this package never unpickles.) Needs the `smpl` extra.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .skeleton import NUM_BETAS, NUM_JOINTS, SMPL_PARENTS, forward_kinematics

__all__ = ["SMPLBodyModel"]

_REQUIRED = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
# smplx selects 21 surface landmarks by vertex index; SMPL-H/SMPL share these.
_SMPL_LANDMARK_NAMES = (
    "nose", "reye", "leye", "rear", "lear", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe",
    "RHeel", "lthumb", "lindex", "lmiddle", "lring", "lpinky", "rthumb", "rindex", "rmiddle", "rring",
    "rpinky",
)  # fmt: skip


def _resolve(model_path: str | os.PathLike[str], gender: str) -> Path:
    path = Path(model_path)
    if path.is_dir():
        path = path / f"SMPL_{gender.upper()}.npz"
    if not path.is_file():
        raise FileNotFoundError(
            f"SMPL model file not found: {path} (expected an .npz of SMPL's arrays)"
        )
    if path.suffix != ".npz":
        raise ValueError(
            f"model_path: expected an .npz model file (no pickles are read), got {path.name!r}"
        )
    return path


class SMPLBodyModel(torch.nn.Module):
    """SMPL rest joints J(β) = J_regressor·(v_template + shapedirs·β); FK along SMPL's tree;
    vertices by smplx's linear blend skinning."""

    v_template: Tensor
    shapedirs: Tensor
    j_regressor: Tensor

    def __init__(self, model_path: str | os.PathLike[str], *, gender: str = "neutral") -> None:
        super().__init__()
        try:
            import smplx
        except ImportError as err:  # pragma: no cover - only without the extra
            raise ImportError(
                "SMPLBodyModel needs smplx: pip install 'echomotion-motion-codec[smpl]'"
            ) from err
        path = _resolve(model_path, gender)
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in _REQUIRED if k not in data]
            if missing:
                raise ValueError(f"{path}: not an SMPL model file, missing arrays {missing}")
            arrays: dict[str, Any] = {k: np.asarray(data[k]) for k in _REQUIRED}
        parents = tuple(int(p) for p in arrays["kintree_table"][0][1:])
        if (-1, *parents) != SMPL_PARENTS:
            raise ValueError(f"{path}: kintree_table is not SMPL's 24-joint tree")
        num_vertices = arrays["v_template"].shape[0]
        vertex_ids = {n: min(i, num_vertices - 1) for n, i in _default_vertex_ids().items()}
        self._smpl = smplx.SMPL(
            model_path=str(path.parent),
            data_struct=smplx.utils.Struct(**arrays),
            vertex_ids=vertex_ids,
            num_betas=NUM_BETAS,
            create_betas=False,
            create_global_orient=False,
            create_body_pose=False,
            create_transl=False,
        )
        self.register_buffer(
            "v_template",
            torch.as_tensor(arrays["v_template"], dtype=torch.float32),
            persistent=False,
        )
        self.register_buffer(
            "shapedirs",
            torch.as_tensor(arrays["shapedirs"][:, :, :NUM_BETAS], dtype=torch.float32),
            persistent=False,
        )
        self.register_buffer(
            "j_regressor",
            torch.as_tensor(arrays["J_regressor"], dtype=torch.float32),
            persistent=False,
        )

    @property
    def parents(self) -> tuple[int, ...]:
        return SMPL_PARENTS

    def rest_joints(self, betas: Tensor) -> Tensor:
        if betas.shape[-1] != NUM_BETAS:
            raise ValueError(f"betas: expected shape (..., {NUM_BETAS}), got {tuple(betas.shape)}")
        shaped = self.v_template.to(betas) + torch.einsum(
            "...k,vck->...vc", betas, self.shapedirs.to(betas)
        )
        return torch.einsum("jv,...vc->...jc", self.j_regressor.to(betas), shaped)  # (..., 24, 3)

    def forward_kinematics(self, rotations: Tensor, betas: Tensor, transl: Tensor) -> Tensor:
        return forward_kinematics(rotations, self.rest_joints(betas), transl, SMPL_PARENTS)

    def vertices(self, rotations: Tensor, betas: Tensor, transl: Tensor) -> Tensor:
        """Posed mesh vertices (..., V, 3); rotations (..., 24, 3, 3), betas (..., 10), transl (..., 3)."""
        lead = torch.broadcast_shapes(rotations.shape[:-3], betas.shape[:-1], transl.shape[:-1])
        rot = rotations.expand(*lead, NUM_JOINTS, 3, 3).reshape(-1, NUM_JOINTS, 3, 3)
        out = self._smpl(
            betas=betas.expand(*lead, NUM_BETAS).reshape(-1, NUM_BETAS),
            global_orient=rot[:, :1],
            body_pose=rot[:, 1:],
            transl=transl.expand(*lead, 3).reshape(-1, 3),
            pose2rot=False,
        )
        return out.vertices.reshape(*lead, -1, 3)

    def smplx_joints(self, rotations: Tensor, betas: Tensor, transl: Tensor) -> Tensor:
        """smplx's own 24 SMPL joints for (N, 24, 3, 3) rotations — for cross-checks."""
        out = self._smpl(
            betas=betas,
            global_orient=rotations[:, :1],
            body_pose=rotations[:, 1:],
            transl=transl,
            pose2rot=False,
        )
        return out.joints[:, :NUM_JOINTS]


def _default_vertex_ids() -> dict[str, int]:
    from smplx.vertex_ids import vertex_ids

    ids = vertex_ids["smplh"]
    return {n: int(ids[n]) for n in _SMPL_LANDMARK_NAMES}
