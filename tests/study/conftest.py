"""Fixtures of the study tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from study.tiny import write_study


@pytest.fixture
def study_file(tmp_path: Path) -> Callable[..., Path]:
    return lambda **changes: write_study(tmp_path, **changes)
