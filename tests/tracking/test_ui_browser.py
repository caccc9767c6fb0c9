"""A small tracked study in a real browser: `hpsearch ui`, headless Debian Chromium driven by
Playwright. Under CI=true it must not skip. It never downloads a browser (no `playwright
install`). Screenshots go to test-artifacts/; with HPSEARCH_DOCS_SCREENSHOTS=1 the README's
copies under docs/ui/ are refreshed too (small palette PNGs).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import mlflow
import pytest
from conftest import require
from PIL import Image
from study.tiny import run_launch, write_study

from hpsearch.registry import best
from hpsearch.settings import get_settings

from .test_ui import read_url, start_serve_ui, stop_serve_ui

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts"
DOCS = ROOT / "docs" / "ui"
STUDY = "browser-study"
FIXED = {"activation": "relu", "optimizer": "adam", "lr": 0.01, "batch_size": 32, "l2": 0}
ENQUEUE = [
    FIXED | {"hidden": [32]},  # completes
    FIXED | {"hidden": [8], "activation": "tanh", "optimizer": "sgd", "lr": 1e-3},  # pruned
    FIXED | {"hidden": [24]},  # completes
]


def _tracked_study(tmp_path: Path) -> dict[str, Any]:
    """3 trials of 5 epochs on digits, one or two pruned at epoch 3; `best` registers one."""
    pruner = {"type": "median", "n_startup_trials": 1, "n_warmup_steps": 2}
    path = write_study(tmp_path, name=STUDY, epochs=5, enqueue=ENQUEUE, pruner=pruner,
                       budget={"n_trials": 3})  # fmt: skip
    status = run_launch(path, workers=1)
    # the first completes and the second (lr 1e-3, sgd) is far behind it at epoch 3; the third
    # usually completes, but a loaded machine's BLAS can tip it under the median
    assert status["complete"] >= 1 and status["pruned"] >= 1
    return best(get_settings(), STUDY, out=None)


def _shot(page: Any, name: str) -> None:
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path)
    if os.environ.get("HPSEARCH_DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as image:  # 64 colours: a UI screenshot stays sharp and small
            image.convert("RGB").quantize(64).save(DOCS / f"{name}.png", optimize=True)


def _close_assistant(page: Any) -> None:
    """MLflow 3.17 opens its assistant panel beside every page; the screenshots need the room.
    A nicety: when its close button is not found, the page is shot with the panel."""
    header = page.get_by_text("MLflow Assistant", exact=True)
    if not header.count():
        return
    panel = header.first.locator("xpath=ancestor::div[.//button][1]")
    buttons = panel.locator("button")
    if buttons.count():
        buttons.last.click()
        page.wait_for_timeout(500)


@pytest.mark.slow
@pytest.mark.browser
def test_a_tracked_study_in_the_browser(tmp_path: Path) -> None:
    require(CHROMIUM.exists(), f"{CHROMIUM} missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "Python Playwright is not installed")
    report = _tracked_study(tmp_path)
    client = mlflow.MlflowClient(get_settings().mlflow_uri)
    experiment = client.get_experiment_by_name(STUDY)
    assert experiment is not None
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    pruned = next(name for name, r in runs.items() if r.data.tags.get("hpsearch.state") == "pruned")
    complete = sorted(n for n, r in runs.items() if r.data.tags.get("hpsearch.state") == "complete")
    parent = runs[STUDY]
    SCREENSHOTS.mkdir(exist_ok=True)
    process = start_serve_ui(STUDY, tmp_path)
    try:
        url = read_url(process)
        base = url.split("/#/")[0]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1600, "height": 900})
                _runs_table(page, url, [*complete, pruned])
                _charts(page, pruned)
                _models_tab(page, base, experiment.experiment_id, complete)
                _parent_page(page, base, experiment.experiment_id, parent.info.run_id, report)
            finally:
                browser.close()
    finally:
        stop_serve_ui(process)
    assert process.returncode == 0
    for name in ("mlflow-ui-runs", "mlflow-ui-charts", "mlflow-ui-models", "mlflow-ui-study"):
        assert os.path.getsize(SCREENSHOTS / f"{name}.png") > 10_000


def _runs_table(page: Any, url: str, trials: list[str]) -> None:
    """Trials sorted by best_val_accuracy (the URL `hpsearch ui` prints); the Dataset column."""
    page.goto(url)
    for trial in trials:
        page.get_by_role("link", name=trial).first.wait_for(timeout=60_000)
    training = page.get_by_text("Model training", exact=True)
    if training.count():  # the UI's mode switch: training runs and models, not GenAI names
        training.first.click()
    _close_assistant(page)
    # the Dataset column fills in after the run names: wait for its last cell, then count
    datasets = page.get_by_text("digits (", exact=False)
    datasets.nth(len(trials) - 1).wait_for(timeout=30_000)
    assert datasets.count() >= len(trials)
    time.sleep(1)
    _shot(page, "mlflow-ui-runs")


def _charts(page: Any, pruned: str) -> None:
    """The chart view draws val_accuracy for every trial, the pruned one too."""
    page.locator('label:has(input[name="runs-view-mode"][value="CHART"])').click()
    page.get_by_placeholder("Search metric charts").fill("val_accuracy")
    page.get_by_text(f"{pruned} (val_accuracy)").first.wait_for(timeout=30_000)
    time.sleep(1)
    _shot(page, "mlflow-ui-charts")


def _models_tab(page: Any, base: str, experiment_id: str, complete: list[str]) -> None:
    """The experiment's Models tab: one logged model per complete trial, from its run."""
    page.goto(f"{base}/#/experiments/{experiment_id}/models")
    for trial in complete:
        page.get_by_role("link", name=trial).first.wait_for(timeout=60_000)
    assert page.get_by_text("Ready", exact=True).count() == len(complete)
    _close_assistant(page)
    _shot(page, "mlflow-ui-models")


def _parent_page(
    page: Any, base: str, experiment_id: str, run_id: str, report: dict[str, Any]
) -> None:
    """The study's parent run shows its markdown description, champion included."""
    page.goto(f"{base}/#/experiments/{experiment_id}/runs/{run_id}")
    page.get_by_text(f"Best trial: {report['trial']}").first.wait_for(timeout=60_000)
    more = page.get_by_text("Show more", exact=True)
    if more.count():
        more.first.click()
    page.get_by_text(f"models:/{STUDY}@champion").first.wait_for(timeout=10_000)
    _close_assistant(page)
    page.get_by_text("Description", exact=True).first.scroll_into_view_if_needed()
    _shot(page, "mlflow-ui-study")
