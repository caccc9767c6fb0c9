"""Where each named dataset comes from: file names, system directories, mirrors and digests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DATASET_NAMES = ("digits", "mnist", "fashion-mnist")
DIGITS_IMAGE_SHAPE, DIGITS_CLASSES = (8, 8), 10  # scikit-learn's bundled set

# Array name -> IDX file stem; each file may be stored raw or as `stem.gz`.
IDX_FILES: Mapping[str, str] = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class IdxSpec:
    """An MNIST-like dataset of four IDX files: uint8 images (N, H, W) and uint8 labels (N,)."""

    name: str
    n_classes: int
    image_shape: tuple[int, int]
    system_dirs: tuple[Path, ...]
    mirrors: tuple[str, ...]  # base URLs; a file's URL is base + "stem.gz"
    sha256: Mapping[str, str]  # "stem.gz" -> SHA-256 of the file the mirrors serve


# SHA-256 of the published .gz files, as listed by tensorflow-datasets and many pinned projects
# (MNIST: 9912422 / 28881 / 1648877 / 4542 bytes; Fashion-MNIST: the files on its S3 bucket, whose
# MD5s are in zalandoresearch/fashion-mnist's README). Debian recompresses its copy, so these
# digests check downloads only; local files are checked by the IDX reader and the shapes.
IDX_DATASETS: dict[str, IdxSpec] = {
    "mnist": IdxSpec(
        name="mnist",
        n_classes=10,
        image_shape=(28, 28),
        system_dirs=(Path("/usr/share/datasets/mnist"),),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        sha256={
            "train-images-idx3-ubyte.gz": (
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
            ),
            "train-labels-idx1-ubyte.gz": (
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
            ),
        },
    ),
    "fashion-mnist": IdxSpec(
        name="fashion-mnist",
        n_classes=10,
        image_shape=(28, 28),
        # Debian's package `dataset-fashion-mnist` installs the four .gz files here.
        system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        sha256={
            "train-images-idx3-ubyte.gz": (
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
            ),
            "train-labels-idx1-ubyte.gz": (
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
            ),
        },
    ),
}


def dataset_dims(name: str) -> tuple[int, int]:
    """(input_dim, n_classes) of a named dataset, known without loading it."""
    if name == "digits":
        return DIGITS_IMAGE_SHAPE[0] * DIGITS_IMAGE_SHAPE[1], DIGITS_CLASSES
    spec = IDX_DATASETS[name]
    return spec.image_shape[0] * spec.image_shape[1], spec.n_classes
