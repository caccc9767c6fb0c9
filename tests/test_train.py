"""The training loop and `hpsearch train` / `hpsearch predict` on the bundled digits."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hpsearch.data import load_splits
from hpsearch.tracking.plots import plot_learning_curves
from hpsearch.train import TrainConfig, minibatches, train


@pytest.fixture(scope="module")
def small_digits():  # type: ignore[no-untyped-def]
    return load_splits("digits", train_subset=400, val_fraction=0.2, seed=0)


def _hpsearch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hpsearch", *args],
        capture_output=True, text=True, env=os.environ, timeout=300,
    )  # fmt: skip


def test_minibatches_cover_every_sample_once_per_epoch() -> None:
    rng = np.random.default_rng(0)
    batches = list(minibatches(103, 10, rng))
    assert [len(b) for b in batches] == [10] * 10 + [3]
    assert sorted(np.concatenate(batches).tolist()) == list(range(103))


def test_train_keeps_the_best_epoch_and_is_deterministic(small_digits) -> None:  # type: ignore[no-untyped-def]
    config = TrainConfig(hidden=(32,), optimizer="sgd", optimizer_params={"lr": 0.5}, epochs=6)
    first, second = train(config, small_digits), train(config, small_digits)
    accuracies = [m.val_accuracy for m in first.history]
    assert first.best_val_accuracy == max(accuracies)
    assert first.best_epoch == accuracies.index(max(accuracies)) + 1
    model_accuracy = (first.model.predict(small_digits.x_val) == small_digits.y_val).mean()
    assert model_accuracy == first.best_val_accuracy  # the model holds the best epoch's weights
    for a, b in zip(
        first.model.state_dict().values(), second.model.state_dict().values(), strict=True
    ):
        assert a.tobytes() == b.tobytes()
    assert first.history[0].epoch_seconds > 0 and first.samples_per_second > 0


def test_a_callback_can_stop_training(small_digits) -> None:  # type: ignore[no-untyped-def]
    seen: list[int] = []

    def stop_at_two(metrics, model) -> bool:  # type: ignore[no-untyped-def]
        seen.append(metrics.epoch)
        return metrics.epoch == 2

    result = train(TrainConfig(hidden=(8,), epochs=10), small_digits, [stop_at_two])
    assert result.outcome == "stopped" and seen == [1, 2] and len(result.history) == 2


def test_non_finite_loss_is_a_distinct_outcome(small_digits) -> None:  # type: ignore[no-untyped-def]
    config = TrainConfig(hidden=(8,), optimizer="sgd", optimizer_params={"lr": 1e20}, epochs=5)
    result = train(config, small_digits)
    assert result.outcome == "diverged" and len(result.history) == 1
    assert all(np.isfinite(v).all() for v in result.model.state_dict().values())


def test_cosine_schedule_anneals_the_optimizer_lr(small_digits) -> None:  # type: ignore[no-untyped-def]
    config = TrainConfig(hidden=(8,), epochs=4, optimizer_params={"lr": 0.02}, lr_schedule="cosine")
    assert [config.lr_at(e) for e in (1, 3)] == pytest.approx([0.02, 0.01])
    assert 0 < config.lr_at(4) < config.lr_at(3) and TrainConfig().lr_at(7) == 1e-3
    constant = train(dataclasses.replace(config, lr_schedule="constant"), small_digits)
    cosine = train(config, small_digits)
    # the first epoch runs at the full rate in both; later ones differ
    assert cosine.history[0] == dataclasses.replace(
        constant.history[0], epoch_seconds=cosine.history[0].epoch_seconds
    )
    assert cosine.history[-1].train_loss != constant.history[-1].train_loss


def test_learning_curve_png(tmp_path: Path, small_digits) -> None:  # type: ignore[no-untyped-def]
    result = train(TrainConfig(hidden=(8,), epochs=2), small_digits)
    path = plot_learning_curves(result.history, tmp_path / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_refilled_learning_curves_draw_what_fresh_ones_do(tmp_path: Path, small_digits) -> None:  # type: ignore[no-untyped-def]
    # the figure is built once per process: a short trial drawn after a long one shows no trace
    long = train(TrainConfig(hidden=(8,), epochs=6, optimizer="sgd"), small_digits).history
    short = train(TrainConfig(hidden=(8,), epochs=2), small_digits).history
    before = plot_learning_curves(short, tmp_path / "a.png").read_bytes()
    between = plot_learning_curves(long, tmp_path / "b.png").read_bytes()
    after = plot_learning_curves(short, tmp_path / "c.png").read_bytes()
    assert before == after and between != before


def test_train_command_reaches_97_percent_on_digits(tmp_path: Path) -> None:
    out = tmp_path / "model"
    result = _hpsearch("train", "--dataset", "digits", "--hidden", "256", "--optimizer", "adam",
                       "--lr", "3e-3", "--batch-size", "32", "--epochs", "60", "--seed", "0",
                       "--out", str(out), "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["test_accuracy"] >= 0.97
    assert {"val_accuracy", "test_accuracy", "epochs", "seconds", "samples_per_second"} <= set(
        report
    )
    assert {p.name for p in out.iterdir()} >= {
        "weights.npz",
        "architecture.json",
        "learning_curves.png",
    }
    predicted = _hpsearch("predict", str(out), "--dataset", "digits", "--split", "test", "--json")
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)["accuracy"] == report["test_accuracy"]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--activation", "swish"], "--activation: unknown value 'swish'; allowed: elu, gelu"),
        (["--optimizer", "lbfgs"], "--optimizer: unknown value 'lbfgs'; allowed: adagrad, adam"),
        (["--hidden", "10,0"], "--hidden: expected 1 to 4 comma-separated widths"),
        (["--lr", "-1"], "--lr: -1.0 is outside (0.0, 10.0]"),
        (["--dataset", "cifar"], "--dataset: unknown value 'cifar'"),
        (["--epochs", "many"], "Invalid value for '--epochs'"),
    ],
)
def test_bad_train_flags_exit_2_with_one_line(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    base = {"--dataset": "digits", "--out": str(tmp_path / "m")}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    result = _hpsearch("train", *[part for item in base.items() for part in item])
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr
    assert not (tmp_path / "m").exists()


def test_losses_are_data_losses_and_the_l2_penalty_is_its_own_metric(small_digits) -> None:  # type: ignore[no-untyped-def]
    """Runs with different l2 must compare on val_loss and train_loss: no penalty inside them."""
    from hpsearch.nn import LOSSES, l2_penalty

    config = TrainConfig(hidden=(16,), optimizer="sgd", optimizer_params={"lr": 0.3}, l2=0.05,
                         epochs=1)  # fmt: skip
    result = train(config, small_digits)  # one epoch: the model kept is that epoch's
    (metrics,) = result.history
    cross_entropy = LOSSES["cross_entropy"]()
    x_val, y_val = small_digits.x_val, small_digits.y_val
    val_data_loss = cross_entropy.value(result.model.forward(x_val), y_val)
    assert metrics.val_loss == pytest.approx(val_data_loss, rel=1e-6)
    assert metrics.l2_penalty == pytest.approx(l2_penalty(result.model, 0.05), rel=1e-6)
    assert metrics.l2_penalty > 0.01 * metrics.val_loss  # big enough to have shown before
    assert "l2_penalty" in metrics.as_dict()


def test_train_accuracy_is_measured_in_eval_mode_after_the_epoch(small_digits) -> None:  # type: ignore[no-untyped-def]
    """Not a running figure with dropout on while the weights move: the model as it stands."""
    from hpsearch.nn import LOSSES

    config = TrainConfig(hidden=(32,), dropout=0.5, optimizer_params={"lr": 3e-3}, epochs=1)
    result = train(config, small_digits)
    (metrics,) = result.history
    x, y = small_digits.x_train, small_digits.y_train  # 400 rows: all of them are evaluated
    assert metrics.train_accuracy == float((result.model.predict(x) == y).mean())
    loss = LOSSES["cross_entropy"]().value(result.model.forward(x), y)
    assert metrics.train_loss == pytest.approx(loss, rel=1e-6)


def _train_request(seed: int, **split: object):  # type: ignore[no-untyped-def]
    from hpsearch.standalone import TrainRequest

    options = {"val_fraction": 0.2, "train_subset": 300} | split
    return TrainRequest.from_cli(
        dataset="digits", hidden="16", activation="relu", optimizer="adam", lr=1e-2,
        batch_size=32, l2=0.0, dropout=0.0, epochs=2, seed=seed, loss="cross_entropy",
        lr_schedule="constant", **options,
    )  # fmt: skip


def test_the_split_has_its_own_seed_and_predict_uses_the_stored_one(tmp_path: Path) -> None:
    """A --seed 1 model once scored "val 1.0000" on rows it had trained on: predict rebuilt
    the split with seed 0 and fraction 0.1. Now the split is the model's own."""
    from hpsearch.standalone import predict_command, train_and_save

    one = train_and_save(_train_request(1), tmp_path / "one", None)
    two = train_and_save(_train_request(2), tmp_path / "two", None)
    assert one["dataset_fingerprint"] == two["dataset_fingerprint"]  # --seed leaves the split
    other = train_and_save(_train_request(1, split_seed=5), tmp_path / "o", None)
    assert other["dataset_fingerprint"] != one["dataset_fingerprint"]
    for split, key in (("val", "val_accuracy"), ("train", None)):
        got = predict_command(str(tmp_path / "one"), dataset="digits", split=split, images=None,
                              data_dir=None)  # fmt: skip
        carved = load_splits("digits", val_fraction=0.2, train_subset=300, seed=0)
        assert got["n"] == len(carved.y_val if split == "val" else carved.y_train)
        if key:
            assert got["accuracy"] == one[key]


def test_predict_val_or_train_refuses_a_model_without_its_split(tmp_path: Path) -> None:
    import shutil

    from hpsearch.errors import UserError
    from hpsearch.standalone import predict_command, train_and_save

    train_and_save(_train_request(0), tmp_path / "m", None)
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("weights.npz", "architecture.json"):
        shutil.copy(tmp_path / "m" / name, bare / name)
    with pytest.raises(UserError, match="split") as caught:
        predict_command(str(bare), dataset="digits", split="val", images=None, data_dir=None)
    assert "\n" not in str(caught.value)
    assert predict_command(str(bare), dataset="digits", split="test", images=None,
                           data_dir=None)["n"] > 0  # fmt: skip
