"""Hostile model folders given to `hpsearch predict`: refused in one line, no code run, no big
allocation. tests/nn/test_serialize.py covers the reader itself; these go through the CLI."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import tracemalloc
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from hpsearch.nn import MLP, Architecture, save_model


class Payload:
    """Unpickling this creates a folder: proof that code ran."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str]]:
        return (os.mkdir, (self.target,))


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=True)
    return buf.getvalue()


def _huge_header() -> bytes:
    buf = io.BytesIO()
    header = {"descr": "<f4", "fortran_order": False, "shape": (1 << 40, 1 << 20)}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + b"\0" * 64


def _replace_member(directory: Path, member: str, data: bytes) -> None:
    path = directory / "weights.npz"
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members[member] = data
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)


def _model(directory: Path) -> Path:
    model = MLP(Architecture(input_dim=64, hidden=(8,), n_classes=10), np.random.default_rng(0))
    save_model(model, directory)
    return directory


def _hostile(root: Path, marker: Path) -> dict[str, Path]:
    """case -> a model folder whose weights or architecture were tampered with."""
    cases = ("object-array", "pickle-member", "huge-shape", "truncated", "json-disagrees")
    folders = {case: _model(root / case) for case in cases}
    payload = Payload(str(marker))
    _replace_member(folders["object-array"], "layers.0.W.npy",
                    _npy(np.array([payload], dtype=object)))  # fmt: skip
    _replace_member(folders["pickle-member"], "layers.0.W.npy", pickle.dumps(payload))
    _replace_member(folders["huge-shape"], "layers.0.W.npy", _huge_header())
    weights = folders["truncated"] / "weights.npz"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    arch_path = folders["json-disagrees"] / "architecture.json"
    arch = json.loads(arch_path.read_text())
    arch_path.write_text(json.dumps({**arch, "hidden": [16]}))
    return folders


@pytest.fixture(scope="module")
def predictions(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """Run `hpsearch predict FOLDER --dataset digits` on every hostile folder, side by side."""
    root = tmp_path_factory.mktemp("hostile-models")
    marker = root / "code-ran"
    folders = _hostile(root, marker)
    env = {**os.environ, "HPSEARCH_HOME": str(root / "home")}

    def predict(folder: Path) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "hpsearch", "predict", str(folder), "--dataset", "digits"],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        return f"{done.returncode}\n{done.stderr}"

    with ThreadPoolExecutor(max_workers=len(folders)) as pool:
        outputs = dict(zip(folders, pool.map(predict, folders.values()), strict=True))
    return outputs, marker


@pytest.mark.parametrize(
    "case, expected",
    [
        ("object-array", "dtype object"),
        ("pickle-member", "bad .npy header"),
        ("huge-shape", "shape (1099511627776, 1048576)"),
        ("truncated", "weights.npz"),
        ("json-disagrees", "shape"),
    ],
)
def test_predict_refuses_a_hostile_model_folder(
    predictions: tuple[dict[str, str], Path], case: str, expected: str
) -> None:
    outputs, marker = predictions
    code, stderr = outputs[case].split("\n", 1)
    assert code == "2", stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert expected in stderr
    assert not marker.exists(), "a pickle inside the model ran code"


def test_a_huge_declared_shape_allocates_nothing_big(tmp_path: Path) -> None:
    from hpsearch.errors import UserError
    from hpsearch.registry import load_model

    folder = _model(tmp_path / "model")
    _replace_member(folder, "layers.0.W.npy", _huge_header())
    tracemalloc.start()
    try:
        with pytest.raises(UserError, match="shape"):
            load_model(folder)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes while refusing an 4 PiB header"


def test_a_pickled_pyfunc_model_beside_the_weights_is_never_loaded(tmp_path: Path) -> None:
    """A downloaded MLflow model folder: predict reads data/mlp/, never python_model.pkl."""
    from hpsearch.registry import load_model

    folder = tmp_path / "downloaded"
    _model(folder / "data" / "mlp")
    marker = tmp_path / "code-ran"
    (folder / "python_model.pkl").write_bytes(pickle.dumps(Payload(str(marker))))
    (folder / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: mlflow.pyfunc.model\n"
        "    python_model: python_model.pkl\n"
    )
    model = load_model(folder)
    assert model.arch.hidden == (8,)
    assert not marker.exists()
