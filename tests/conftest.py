"""Shared fixtures: where the real data lives (a missing folder fails under CI=true), and a
store imported through the real CLI from real files cut at a time."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.testing.cut_copy import CutImport, FileSpec, copy_cut
from flushwatch.testing.shared import shared_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Return ``<shared>/data``; skip locally, fail under CI, when it is missing."""
    root = shared_dir()
    if root is None:
        message = "shared data folder not found (set FLUSHWATCH_SHARED)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return root / "data"


@pytest.fixture(scope="session")
def cut_import(shared_data: Path) -> CutImport:
    """Copy real ``files`` into ``base/files`` cut at ``cut_ms`` (None: whole; see
    :func:`~flushwatch.testing.cut_copy.copy_cut`) and ``flushwatch import`` them into
    ``base/store``, as a user with a download made at that time would."""

    def make(
        base: Path,
        files: Sequence[FileSpec],
        cut_ms: int | None,
        *,
        keep_from_ms: int | None = None,
    ) -> Path:
        copy_cut(shared_data, base / "files", files, cut_ms, keep_from_ms=keep_from_ms)
        r = CliRunner().invoke(app, ["import", "--store", str(base / "store"), str(base / "files")])
        assert r.exit_code == 0, r.stderr
        return base / "store"

    return make
