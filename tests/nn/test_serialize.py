"""save_model / read_model_dir: round trips, and every way a file is refused."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpsearch.errors import UserError
from hpsearch.nn import MLP, Architecture, ModelFileError, model_sha256, read_model_dir, save_model

ARCH = Architecture(6, (5, 4), 3, activation="tanh", dropout=0.2)


def _saved(tmp_path: Path, arch: Architecture = ARCH) -> tuple[MLP, Path]:
    model = MLP(arch, np.random.default_rng(0))
    directory = tmp_path / "model"
    save_model(model, directory)
    return model, directory


def _write_npz(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=True)
    return buf.getvalue()


def _members(directory: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(directory / "weights.npz") as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _refused(directory: Path, match: str) -> ModelFileError:
    with pytest.raises(ModelFileError, match=match) as info:
        read_model_dir(directory)
    assert isinstance(info.value, UserError)
    return info.value


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip(tmp_path: Path, dtype: str):
    arch = Architecture(6, (5, 4), 3, activation="gelu", dropout=0.1, dtype=dtype)
    model, directory = _saved(tmp_path, arch)
    digest = model_sha256(directory)
    loaded = read_model_dir(directory)
    assert loaded.arch == arch
    for (k, v), (k2, v2) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert k == k2 and v.dtype == v2.dtype and v.tobytes() == v2.tobytes()
    X = np.random.default_rng(1).normal(size=(9, 6))
    np.testing.assert_array_equal(model.predict_proba(X), loaded.predict_proba(X))
    assert save_model(loaded, tmp_path / "again") == digest  # same weights -> same bytes
    assert json.loads((directory / "architecture.json").read_text())["hidden"] == [5, 4]
    assert sorted(p.name for p in directory.iterdir()) == ["architecture.json", "weights.npz"]


def test_the_checksum_covers_the_architecture(tmp_path: Path):
    _, directory = _saved(tmp_path)
    before = model_sha256(directory)
    arch = json.loads((directory / "architecture.json").read_text())
    arch["activation"] = "sigmoid"
    (directory / "architecture.json").write_text(json.dumps(arch))
    assert read_model_dir(directory).arch.activation == "sigmoid"  # still a valid model...
    assert model_sha256(directory) != before  # ...but not the one that was saved


def test_the_file_is_a_plain_npz_without_pickles(tmp_path: Path):
    model, directory = _saved(tmp_path)
    with np.load(directory / "weights.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(model.state_dict())


def test_object_array_is_refused(tmp_path: Path):
    _, directory = _saved(tmp_path)
    members = _members(directory)
    members["layers.0.b.npy"] = _npy(np.array([1, "x", None, 2, 3], dtype=object))
    _write_npz(directory / "weights.npz", members)
    _refused(directory, r"weights\.npz: layers\.0\.b: dtype object")


class _Payload:
    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def test_a_pickle_inside_the_npz_never_runs(tmp_path: Path):
    _, directory = _saved(tmp_path)
    marker = tmp_path / "pwned"
    members = _members(directory)
    members["layers.0.W.npy"] = pickle.dumps(_Payload(str(marker)))
    _write_npz(directory / "weights.npz", members)
    _refused(directory, "layers.0.W: bad .npy header")
    # An object array whose pickled payload would run code: refused by its header alone.
    members["layers.0.W.npy"] = _npy(np.array([_Payload(str(marker))], dtype=object))
    _write_npz(directory / "weights.npz", members)
    _refused(directory, "dtype object")
    assert not marker.exists()


def test_a_huge_shape_in_a_header_is_refused_before_allocation(tmp_path: Path):
    _, directory = _saved(tmp_path)
    members = _members(directory)
    header = {"descr": "<f4", "fortran_order": False, "shape": (1 << 40, 1 << 20)}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    members["layers.0.W.npy"] = buf.getvalue() + b"\0" * 16
    _write_npz(directory / "weights.npz", members)
    _refused(directory, r"layers\.0\.W: shape \(1099511627776, 1048576\)")


def test_wrong_dtype_and_fortran_order_are_refused(tmp_path: Path):
    model, directory = _saved(tmp_path)
    members = _members(directory)
    W = model.state_dict()["layers.0.W"]
    _write_npz(directory / "weights.npz", {**members, "layers.0.W.npy": _npy(W.astype(">f4"))})
    _refused(directory, "dtype >f4")
    _write_npz(directory / "weights.npz", {**members, "layers.0.W.npy": _npy(np.asfortranarray(W))})
    _refused(directory, "Fortran")


def test_truncated_npz_is_refused(tmp_path: Path):
    _, directory = _saved(tmp_path)
    path = directory / "weights.npz"
    data = path.read_bytes()
    for cut in (len(data) // 2, 40, 0):
        path.write_bytes(data[:cut])
        _refused(directory, "weights.npz")


def test_truncated_member_is_refused(tmp_path: Path):
    _, directory = _saved(tmp_path)
    members = _members(directory)
    members["layers.0.W.npy"] = members["layers.0.W.npy"][:-8]
    _write_npz(directory / "weights.npz", members)
    _refused(directory, "layers.0.W|array data")


def test_trailing_bytes_are_refused(tmp_path: Path):
    _, directory = _saved(tmp_path)
    members = _members(directory)
    members["layers.1.b.npy"] += b"junk"
    _write_npz(directory / "weights.npz", members)
    _refused(directory, "unexpected bytes")


def test_missing_and_extra_arrays_are_refused(tmp_path: Path):
    _, directory = _saved(tmp_path)
    members = _members(directory)
    extra = {**members, "layers.9.W.npy": members["layers.1.b.npy"]}
    _write_npz(directory / "weights.npz", extra)
    _refused(directory, r"extra \['layers\.9\.W\.npy'\]")
    missing = {k: v for k, v in members.items() if k != "layers.2.b.npy"}
    _write_npz(directory / "weights.npz", missing)
    _refused(directory, r"missing \['layers\.2\.b'\]")


def test_architecture_disagreeing_with_the_arrays_is_refused(tmp_path: Path):
    _, directory = _saved(tmp_path)
    path = directory / "architecture.json"
    d = json.loads(path.read_text())
    path.write_text(json.dumps({**d, "hidden": [5, 7]}))
    _refused(directory, r"layers\.1\.W: shape \(5, 4\) where the architecture says \(5, 7\)")
    path.write_text(json.dumps({**d, "dtype": "float64"}))
    _refused(directory, "dtype float32 where the architecture says float64")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not an hpsearch model"),
        ('{"input_dim": 6, "hidden": [5], "n_classes": 3}', "not an hpsearch model"),
        ("[" * 100_000, "not valid JSON|byte limit"),
    ],
)
def test_bad_architecture_json_is_refused(tmp_path: Path, text: str, match: str):
    _, directory = _saved(tmp_path)
    (directory / "architecture.json").write_text(text)
    error = _refused(directory, match)
    assert "architecture.json" in str(error)


@pytest.mark.parametrize(
    "change",
    [
        {"hidden": [1 << 20]},
        {"input_dim": 1 << 30},
        {"hidden": [4] * 9},
        {"n_classes": 0},
        {"activation": "__import__('os')"},
        {"dropout": "0.1"},
        {"hidden": [True]},
    ],
)
def test_architecture_fields_are_bounded(tmp_path: Path, change: dict):
    _, directory = _saved(tmp_path)
    path = directory / "architecture.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    _refused(directory, "architecture.json: invalid architecture")


def test_missing_files_are_refused(tmp_path: Path):
    _, directory = _saved(tmp_path)
    (directory / "weights.npz").unlink()
    _refused(directory, "weights.npz: cannot read the model weights: No such file")
    (directory / "architecture.json").unlink()
    _refused(directory, "architecture.json: cannot read")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_corrupted_bytes_load_or_raise_model_file_error(tmp_path: Path, data):
    model, directory = _saved(tmp_path)
    path = directory / "weights.npz"
    original = bytearray(path.read_bytes())
    corrupted = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(corrupted) - 1))
        corrupted[i] = data.draw(st.integers(0, 255))
    path.write_bytes(bytes(corrupted))
    try:
        loaded = read_model_dir(directory)
    except ModelFileError:
        pass
    else:  # a change the CRC cannot see (zip metadata) must still give the same weights
        for v, w in zip(model.state_dict().values(), loaded.state_dict().values(), strict=True):
            assert v.tobytes() == w.tobytes()
    finally:
        path.write_bytes(bytes(original))


def test_the_image_shape_of_non_square_images_round_trips(tmp_path: Path) -> None:
    arch = Architecture(input_dim=84, hidden=(8,), n_classes=3, image_shape=(12, 7))
    _model, folder = _saved(tmp_path, arch)
    assert read_model_dir(folder).arch.image_shape == (12, 7)
    assert "image_shape" not in json.dumps(ARCH.to_dict())  # square models' files unchanged
    with pytest.raises(UserError, match="image_shape must be two positive integers"):
        Architecture(input_dim=84, hidden=(8,), n_classes=3, image_shape=(9, 9))
