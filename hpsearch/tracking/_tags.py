"""Names of the tags and metrics hpsearch writes, in one place so readers and writers agree."""

from __future__ import annotations

# the parent run of a study
ROLE = "hpsearch.role"
ROLE_STUDY = "study"
ROLE_TRIAL = "trial"

# links between Optuna and MLflow
STUDY_NAME = "optuna.study_name"
TRIAL_NUMBER = "optuna.trial_number"
TRIAL_ID = "optuna.trial_id"
PARENT_RUN_ID = "mlflow.parentRunId"
RUN_NAME = "mlflow.runName"

# what the trial ran on
DATASET_FINGERPRINT = "hpsearch.dataset_fingerprint"
SEED = "hpsearch.seed"
WARM_START = "hpsearch.warm_start"  # "STUDY#TRIAL": the earlier study's trial it repeats

# how the trial ended
GIT_COMMIT = "hpsearch.git_commit"
STATE = "hpsearch.state"  # complete, pruned, failed, killed
OUTCOME = "hpsearch.outcome"  # the trainer's: completed, stopped, diverged
PRUNED_STEP = "hpsearch.pruned_step"
PRUNED_REASON = "hpsearch.pruned_reason"  # "pruner" or "diverged"
KILLED_REASON = "hpsearch.killed_reason"
# the model checksum, nn.model_sha256 (architecture.json + weights.npz); the name is older:
# models logged before it covered the architecture hold the SHA-256 of weights.npz alone
WEIGHTS_SHA256 = "hpsearch.weights_sha256"
MODEL_ID = "hpsearch.model_id"  # the logged model (models:/m-...) of a complete trial
BEST_RUN_ID = "hpsearch.best_run_id"

# artifact paths inside a run
MODEL_PATH = "model"
ERROR_FILE = "error.txt"
LEARNING_CURVES = "learning_curves.png"
CONFUSION_MATRIX = "confusion_matrix_val.png"
TRIALS_CSV = "trials.csv"

RESOLVED_PREFIX = "resolved."


CHAMPION_ALIAS = "champion"  # the registered model's alias `hpsearch best` moves
