from __future__ import annotations

from pathlib import Path

import pytest
from humove_helpers import make_synthetic


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic dataset shared by read-only tests (do not modify it)."""
    return make_synthetic(tmp_path_factory.mktemp("synthetic") / "ds")
