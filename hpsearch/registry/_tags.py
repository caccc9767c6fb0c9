"""Names hpsearch gives to what it writes in the model registry."""

from __future__ import annotations

from hpsearch.tracking._tags import CHAMPION_ALIAS

ALIAS = CHAMPION_ALIAS
TEST_ACCURACY = "test_accuracy"  # metric logged on the trial's run

# model version tags
STUDY = "hpsearch.study"
TRIAL_NUMBER = "hpsearch.trial_number"
VAL_ACCURACY = "hpsearch.val_accuracy"
TEST_ACCURACY_TAG = "hpsearch.test_accuracy"
DATASET_FINGERPRINT = "hpsearch.dataset_fingerprint"
WEIGHTS_SHA256 = "hpsearch.weights_sha256"  # the run tag written at training, copied
