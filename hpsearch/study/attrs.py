"""Names of the attributes hpsearch keeps on Optuna studies and trials: readers and writers agree.

Stored studies carry these names: changing one orphans what older versions wrote.
"""

from __future__ import annotations

from hpsearch import ranking, trial_counts

# study user attributes
CONFIG = "hpsearch.config"  # the study file's exact text
BUDGET = "hpsearch.n_trials"  # trials to finish in all
STOPPED = "hpsearch.stopped"  # why budget.target or budget.patience stopped the study
LAUNCH = "hpsearch.launch"  # launches of the study so far (1, 2, ...): seeds each one's sampler

# trial user attributes (HIDDEN and N_PARAMS are read by hpsearch.ranking's best-trial rule)
HIDDEN = ranking.HIDDEN  # the hidden widths
N_PARAMS = ranking.N_PARAMS  # the model's parameter count
SEED = "seed"  # a retry inherits it, so it trains exactly what the failed trial would have
HISTORY = "history"  # per-epoch metrics, compared by `hpsearch replay`
MLFLOW_RUN_ID = "mlflow_run_id"
FAIL_REASON = "fail_reason"  # what went wrong, in one line
PRUNED_REASON = "pruned_reason"  # "pruner" or "diverged"
PRUNED_STEP = "pruned_step"
STOPPED_EARLY = "stopped_early"  # the epoch pruner.early_stop ended a complete trial at
STOPPED_AT_DEADLINE = "stopped_at_deadline"  # the epoch budget.timeout ended a complete trial at
BLAS_THREADS = "blas_threads"  # replay uses the same BLAS split, hence the same sums
THREADS_CHOICE = "threads_choice"  # how launch chose workers x threads (study/threads.py)
WORKER = "worker"  # host:pid of the process that ran the trial
LAUNCH_NUMBER = "launch"  # the study's LAUNCH when the trial was sampled
SAMPLER_SEED = "sampler_seed"  # with LAUNCH_NUMBER: how to sample the trial's point again
TRAIN_SECONDS = "train_seconds"  # the trainer's own share of the trial (benchmarks/scale.py)
WARM_START = "hpsearch.warm_start"  # "STUDY#TRIAL": the earlier study's trial it repeats

# trial system attributes that take a trial out of the finished count (hpsearch.trial_counts)
RETRY_OF = trial_counts.RETRY_OF
CANCELLED = trial_counts.CANCELLED
# not counted, but marking: a trial failed for a crash (not by its own error), owed one retry
RETRY_DUE = "hpsearch.retry_due"
