"""Downloads never write outside the destination: `..`, absolute, percent-encoded, symlinks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mlflow.entities import FileInfo

from hpsearch.errors import UserError
from hpsearch.registry import check_out, safe_destination
from hpsearch.registry._fetch import ModelSource, fetch_model

ESCAPES = [
    "../evil",
    "data/../../evil",
    "..",
    "/etc/passwd",
    "//server/share",
    "%2e%2e/evil",
    "%2E%2E%2Fevil",
    "data/%2e%2e/%2e%2e/evil",
    "%252e%252e/evil",  # encoded twice
    "..\\evil",
    "C:/evil",
    "",
    "a\x00b",
]


@pytest.mark.parametrize("path", ESCAPES)
def test_escapes_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(UserError, match="refusing artifact path"):
        safe_destination(tmp_path / "out", path)


@pytest.mark.parametrize("path", ["MLmodel", "data/mlp/weights.npz", "a..b/c", "%41"])
def test_ordinary_paths_land_inside(tmp_path: Path, path: str) -> None:
    target = safe_destination(tmp_path, path)
    assert target.is_relative_to(tmp_path.resolve())
    assert target != tmp_path.resolve()


def test_a_symlink_under_the_destination_cannot_redirect(tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "data").symlink_to(elsewhere)
    with pytest.raises(UserError, match="outside"):
        safe_destination(out, "data/mlp/weights.npz")
    (out / "inside").symlink_to(out / "real")  # a symlink that stays inside is harmless
    assert safe_destination(out, "inside/x") == (out / "real" / "x").resolve()


class HostileRepository:
    """An artifact store whose listing tries to escape; downloads write what they are asked."""

    def __init__(self, listing: list[str]) -> None:
        self.listing = listing

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        return [FileInfo(p, False, 1) for p in self.listing] if path is None else []

    def download_artifacts(self, artifact_path: str, dst_path: str) -> str:
        # what a naive repository does: join and write, wherever that is
        target = os.path.join(dst_path, artifact_path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        Path(target).write_text("pwned")
        return target


@pytest.mark.parametrize("evil", ["../evil", "%2e%2e/evil", "/tmp/hpsearch-evil"])
def test_fetch_refuses_a_hostile_listing_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, evil: str
) -> None:
    repo = HostileRepository(["MLmodel", evil])
    monkeypatch.setattr("hpsearch.registry._fetch.get_artifact_repository", lambda *a, **k: repo)
    out = tmp_path / "deep" / "out"
    source = ModelSource("runs:/x/model", "file:///nowhere", "x", None)
    with pytest.raises(UserError, match="refusing artifact path"):
        fetch_model(source, out, tracking_uri="sqlite:///unused.db")
    assert sorted(p.name for p in tmp_path.rglob("*")) == []
    assert not Path("/tmp/hpsearch-evil").exists()


def test_out_must_be_new_or_empty(tmp_path: Path) -> None:
    assert check_out(tmp_path / "new") == (tmp_path / "new").resolve()
    assert not (tmp_path / "new").exists()  # nothing is created before the model is verified
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        check_out(tmp_path / "file")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(UserError, match="not empty"):
        check_out(tmp_path / "full")
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    with pytest.raises(UserError, match="dangling"):
        check_out(tmp_path / "dangling")
