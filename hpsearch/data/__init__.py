"""Datasets for the MLP: the IDX format, named datasets and their sources, the user's own
datasets (an IDX folder or an .npz), splits, user images.

Imports neither Optuna nor MLflow: the trainer and the CLI sit above it.
"""

from hpsearch.data._dataset import Dataset, load_dataset
from hpsearch.data._errors import DatasetError
from hpsearch.data._idx import read_idx, write_idx
from hpsearch.data._images import load_image_files, load_images
from hpsearch.data._registry import DATASET_NAMES, dataset_dims
from hpsearch.data._splits import Splits, load_splits, make_splits, release_loaded
from hpsearch.data._user import is_user_source

__all__ = [
    "DATASET_NAMES",
    "Dataset",
    "DatasetError",
    "Splits",
    "dataset_dims",
    "is_user_source",
    "load_dataset",
    "load_image_files",
    "load_images",
    "load_splits",
    "make_splits",
    "read_idx",
    "release_loaded",
    "write_idx",
]
