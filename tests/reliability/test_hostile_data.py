"""Hostile images, IDX files and model folders: refused in one line against stated limits, in
bounded memory and time; a multi-image IDX prints one line per image. (Issue 11 item 25.)"""

from __future__ import annotations

import gzip
import json
import os
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hpsearch.data import write_idx
from hpsearch.limits import MAX_IDX_BYTES, MAX_IMAGE_PIXELS, MAX_MODEL_PARAMS
from hpsearch.nn import MLP, Architecture, save_model
from reliability.hostile import Result, run_bounded


def _model(directory: Path) -> Path:
    model = MLP(Architecture(input_dim=64, hidden=(8,), n_classes=10), np.random.default_rng(0))
    save_model(model, directory / "model")
    return directory / "model"


def _idx_images(n: int) -> Callable[[Path], Path]:
    def make(directory: Path) -> Path:
        write_idx(
            directory / "images.idx",
            np.random.default_rng(0).integers(0, 256, (n, 8, 8), dtype=np.uint8),
        )
        return directory / "images.idx"

    return make


def _strip_png(directory: Path) -> Path:
    """A few kB of PNG that decodes to 1 x (the limit + 1) pixels."""
    Image.new("L", (MAX_IMAGE_PIXELS + 1, 1)).save(directory / "strip.png")
    return directory / "strip.png"


def _thin_png(directory: Path) -> Path:
    """Inside the pixel limit, but 1 pixel tall: resizing it must not need gigabytes."""
    Image.new("L", (MAX_IMAGE_PIXELS // 2, 1), 255).save(directory / "thin.png")
    return directory / "thin.png"


def _gzip_declaring(size: int) -> Callable[[Path], Path]:
    """A small gzip IDX whose header declares `size` bytes of uint8 images (64 x 64 each)."""

    def make(directory: Path) -> Path:
        header = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", size // 4096, 64, 64)
        path = directory / "bomb.idx.gz"
        path.write_bytes(gzip.compress(header + bytes(1024**2)))
        return path

    return make


def _fifo(name: str) -> Callable[[Path], Path]:
    def make(directory: Path) -> Path:
        os.mkfifo(directory / name)
        return directory / name

    return make


def _model_with(change: Callable[[Path], None]) -> Callable[[Path], Path]:
    """The case's model folder, changed by `change`; predicted on a real image."""

    def make(directory: Path) -> Path:
        change(directory / "model")
        return _idx_images(1)(directory)

    return make


def _huge_architecture(model: Path) -> None:
    arch = json.loads((model / "architecture.json").read_text())
    (model / "architecture.json").write_text(json.dumps({**arch, "hidden": [8192, 8192, 8192]}))


def _fifo_architecture(model: Path) -> None:
    (model / "architecture.json").unlink()
    os.mkfifo(model / "architecture.json")


def _fifo_weights(model: Path) -> None:
    (model / "weights.npz").unlink()
    os.mkfifo(model / "weights.npz")


# case -> (makes the --images file, what the error line says; None: it must succeed)
CASES: dict[str, tuple[Callable[[Path], Path], str | None]] = {
    "png-over-the-pixel-limit": (_strip_png, f"{MAX_IMAGE_PIXELS}-pixel limit"),
    "png-one-pixel-tall": (_thin_png, None),
    "gzip-idx-declaring-2-gib": (_gzip_declaring(2 * 1024**3), "byte limit"),
    "gzip-idx-over-the-idx-limit": (_gzip_declaring(MAX_IDX_BYTES + 4096), "byte limit"),
    "idx-with-no-images": (_idx_images(0), "(0, 8, 8)"),
    "fifo-as-image": (_fifo("image.png"), "not a regular file (a FIFO)"),
    "dev-zero-as-image": (lambda _: Path("/dev/zero"), "not a regular file"),
    "fifo-as-architecture": (_model_with(_fifo_architecture), "not a regular file (a FIFO)"),
    "fifo-as-weights": (_model_with(_fifo_weights), "not a regular file (a FIFO)"),
    "model-declaring-too-many-weights": (_model_with(_huge_architecture),
                                         f"exceed the limit of {MAX_MODEL_PARAMS}"),
}  # fmt: skip


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    root = tmp_path_factory.mktemp("hostile-data")

    def run(case: str) -> Result:
        directory = root / case
        directory.mkdir()
        model = _model(directory)
        image = CASES[case][0](directory)
        return run_bounded(["predict", str(model), "--images", str(image)], directory / "home",
                           timeout=60)  # fmt: skip

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(CASES, pool.map(run, CASES), strict=True))


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_images_and_models_are_bounded(results: dict[str, Result], case: str) -> None:
    result, expected = results[case], CASES[case][1]
    if expected is None:
        assert result.returncode == 0, result.stderr[-2000:]
        assert len(result.stdout.strip().splitlines()) == 1, result.stdout
        return
    line = result.one_line_error()
    assert expected in line, line


def test_predict_prints_one_line_per_image_of_an_idx_file(tmp_path: Path) -> None:
    model, images = _model(tmp_path), _idx_images(3)(tmp_path)
    text = run_bounded(["predict", str(model), "--images", str(images), str(images)], tmp_path)
    assert text.returncode == 0, text.stderr[-2000:]
    names = [line.rsplit(None, 1)[0] for line in text.stdout.strip().splitlines()]
    assert names == [f"{images}[{i}]" for i in range(3)] * 2
    as_json = run_bounded(["predict", str(model), "--images", str(images), "--json"], tmp_path)
    report = json.loads(as_json.stdout)
    assert len(report["images"]) == len(report["predictions"]) == 3
