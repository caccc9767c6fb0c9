"""The model commands: `hpsearch train`, `predict` and `best` (registered on the CLI's app).

Each command imports what it runs inside its own body: start-up stays fast (see cli.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hpsearch.cli_app import (
    DataDir,
    Json,
    Seed,
    Storage,
    TrackingUri,
    app,
    console,
    print_json,
    settings_for,
)
from hpsearch.cli_views import epoch_bar
from hpsearch.errors import UserError
from hpsearch.limits import MAX_SEED
from hpsearch.places import check_writable_folder
from hpsearch.signals import stop_signals_interrupt


@app.command()
def train(
    dataset: Annotated[
        str, typer.Option(help="digits, mnist, fashion-mnist, or a path to an IDX folder or .npz")
    ],
    out: Annotated[Path, typer.Option(help="Folder for the model and its plot.")],
    hidden: Annotated[str, typer.Option(help="Widths of the hidden layers, e.g. 256,128")] = "256",
    activation: str = "relu",
    optimizer: str = "adam",
    lr: float = 1e-3,
    batch_size: int = 128,
    l2: float = 0.0,
    dropout: float = 0.0,
    epochs: int = 20,
    seed: Seed = 0,
    loss: str = "cross_entropy",
    lr_schedule: Annotated[str, typer.Option(help="constant or cosine")] = "constant",
    val_fraction: float = 0.1,
    train_subset: Annotated[int | None, typer.Option(min=10)] = None,
    split_seed: Annotated[
        int,
        typer.Option(
            min=0, max=MAX_SEED, help="Seed of the validation split (and subset); --seed leaves it."
        ),
    ] = 0,
    data_dir: DataDir = None,
    json_output: Json = False,
) -> None:
    """Train one MLP, save it, print validation and test accuracy."""
    from hpsearch.standalone import TrainRequest, train_and_save

    request = TrainRequest.from_cli(
        dataset=dataset,
        hidden=hidden,
        activation=activation,
        optimizer=optimizer,
        lr=lr,
        batch_size=batch_size,
        l2=l2,
        dropout=dropout,
        epochs=epochs,
        seed=seed,
        loss=loss,
        lr_schedule=lr_schedule,
        val_fraction=val_fraction,
        train_subset=train_subset,
        split_seed=split_seed,
    )
    check_writable_folder(out, "--out")  # before training, not after
    with epoch_bar(request.config.epochs, shown=not json_output) as on_epoch:
        report = train_and_save(request, out, data_dir, on_epoch=on_epoch)
    if json_output:
        print_json(report)
    else:
        console.print(
            f"val_accuracy {report['val_accuracy']:.4f}  "
            f"test_accuracy {report['test_accuracy']:.4f}"
            f"  ({report['epochs']} epochs, {report['seconds']:.1f} s) -> {out}"
        )


@app.command()
def predict(
    model: Annotated[
        str, typer.Argument(help="A model folder, models:/NAME@ALIAS or runs:/ID/model")
    ],
    files: Annotated[
        list[Path] | None, typer.Argument(help="With --images: image files (PNG, JPEG, IDX).")
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="Evaluate on this dataset.")] = None,
    split: Annotated[str, typer.Option(help="test, val or train")] = "test",
    # a flag, and the files as arguments: `--images a.png b.png` (an option takes one value)
    images: Annotated[bool, typer.Option("--images", help="Predict the FILES given.")] = False,
    data_dir: DataDir = None,
    json_output: Json = False,
) -> None:
    """Accuracy on a dataset split, or one predicted digit per image (--images FILE...)."""
    from hpsearch.standalone import predict_command

    if bool(files) != images:
        raise UserError("image files go with --images: hpsearch predict MODEL --images FILE...")
    report = predict_command(model, dataset=dataset, split=split, images=files, data_dir=data_dir)
    if json_output:
        print_json(report)
    elif "accuracy" in report:
        console.print(
            f"{report['split']} accuracy {report['accuracy']:.4f} ({report['n']} samples)"
        )
    else:
        for path, label in zip(report["images"], report["predictions"], strict=True):
            # one line per image, as written: no wrapping, no markup in file names
            console.print(f"{path}\t{label}", soft_wrap=True, markup=False, highlight=False)


@app.command()
def best(
    study_name: str,
    out: Annotated[
        Path | None, typer.Option(help="Download the model into this new folder.")
    ] = None,
    no_register: Annotated[bool, typer.Option(help="Skip the Model Registry.")] = False,
    force: Annotated[
        bool, typer.Option(help="Move the champion alias even if not better.")
    ] = False,
    storage: Storage = None,
    tracking_uri: TrackingUri = None,
    json_output: Json = False,
) -> None:
    """Take the best trial: test it once, register it as NAME@champion, optionally download it."""
    from hpsearch.registry import best as take_best

    # SIGTERM as Ctrl-C: the temporary folders are removed and a half-copied --out undone
    with stop_signals_interrupt():
        report = take_best(
            settings_for(storage, tracking_uri),
            study_name,
            out=out,
            register=not no_register,
            force=force,
        )
    if json_output:
        print_json({key: value for key, value in report.items() if key != "message"})
        return
    console.print(
        f"trial {report['trial']}: val {report['val_accuracy']:.4f}, "
        f"test {report['test_accuracy']:.4f}, {report['model_uri']}"
    )
    console.print(report["message"])
    if report["path"]:
        console.print(f"model downloaded to {report['path']}")
