"""The NumPy engine: an MLP with its activations, losses, optimizers, training step and files.

Imports nothing above it (no Optuna, no MLflow). Everything public is re-exported here.
"""

from hpsearch.nn._activations import ACTIVATIONS, Activation, get_activation
from hpsearch.nn._architecture import MAX_DEPTH, MAX_WIDTH, Architecture
from hpsearch.nn._errors import ConfigError, ModelFileError
from hpsearch.nn._init import init_weight
from hpsearch.nn._kernels import KERNELS, kernels, use_kernels
from hpsearch.nn._layers import Dense, Dropout
from hpsearch.nn._losses import LOSSES, CrossEntropy, Loss, MeanSquaredError, softmax
from hpsearch.nn._model import MLP
from hpsearch.nn._optimizers import (
    OPTIMIZERS,
    SGD,
    Adagrad,
    Adam,
    AdamW,
    Momentum,
    Nesterov,
    Optimizer,
    RMSprop,
    hyperparameters,
    make_optimizer,
)
from hpsearch.nn._parameter import Parameter
from hpsearch.nn._regularization import add_l2_grad, l2_penalty
from hpsearch.nn._serialize import model_sha256, read_model_dir, save_model, weights_sha256
from hpsearch.nn._training import evaluate, train_step

__all__ = [
    "ACTIVATIONS",
    "KERNELS",
    "LOSSES",
    "MAX_DEPTH",
    "MAX_WIDTH",
    "MLP",
    "OPTIMIZERS",
    "SGD",
    "Activation",
    "Adagrad",
    "Adam",
    "AdamW",
    "Architecture",
    "ConfigError",
    "CrossEntropy",
    "Dense",
    "Dropout",
    "Loss",
    "MeanSquaredError",
    "ModelFileError",
    "Momentum",
    "Nesterov",
    "Optimizer",
    "Parameter",
    "RMSprop",
    "add_l2_grad",
    "evaluate",
    "get_activation",
    "hyperparameters",
    "init_weight",
    "kernels",
    "l2_penalty",
    "make_optimizer",
    "model_sha256",
    "read_model_dir",
    "save_model",
    "softmax",
    "train_step",
    "use_kernels",
    "weights_sha256",
]
