"""hpsearch: hyperparameter search for a from-scratch NumPy MLP."""

__version__ = "0.1.0"
