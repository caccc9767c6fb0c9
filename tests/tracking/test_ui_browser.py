"""The study in a real browser: `serve_ui`, headless Debian Chromium driven by Playwright.

Run under CI=true it must not skip. It never downloads a browser (no `playwright install`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import require

from hpsearch.settings import Settings
from hpsearch.tracking import StudyTracker
from hpsearch.train import EpochMetrics

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
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _study_with_two_trials(settings: Settings) -> StudyTracker:
    tracker = StudyTracker("browser-study", settings.mlflow_uri, settings.artifact_root)
    for number in (0, 1):
        run_id = tracker.start_trial(
            number,
            {"lr": 0.01 * (number + 1)},
            {"hidden": [8]},
            seed=number,
            dataset_fingerprint="f",
        )
        log_epoch = tracker.epoch_callback(run_id)
        for epoch in range(1, 6):
            accuracy = 0.4 + epoch / 20 + number / 10
            log_epoch(EpochMetrics(epoch, 1 / epoch, accuracy, 1.2 / epoch, accuracy, 0.1), None)  # type: ignore[arg-type]
        if number:
            tracker.finish_pruned(run_id, 5, "pruner")
        else:
            tracker.client.set_terminated(run_id, "FINISHED")
    return tracker


@pytest.mark.slow
@pytest.mark.browser
def test_trials_and_a_metric_chart_in_the_browser(settings: Settings, tmp_path: Path) -> None:
    require(CHROMIUM.exists(), f"{CHROMIUM} missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "Python Playwright is not installed")
    _study_with_two_trials(settings)
    SCREENSHOTS.mkdir(exist_ok=True)
    process = start_serve_ui("browser-study", tmp_path)
    try:
        url = read_url(process)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.goto(url)
                # the parent run, collapsed: expand it with the button in its name cell
                page.get_by_role("link", name="browser-study", exact=True).last.wait_for(
                    timeout=60_000
                )
                page.locator('button[data-component-id*="runnamecellrenderer"]').first.click()
                for trial in ("trial-0000", "trial-0001"):
                    page.get_by_role("link", name=trial).first.wait_for(timeout=30_000)
                page.screenshot(path=SCREENSHOTS / "mlflow-ui-runs.png")
                # the chart view: one chart per metric, a line per trial
                page.locator('label:has(input[name="runs-view-mode"][value="CHART"])').click()
                page.get_by_text("trial-0000 (val_accuracy)").first.wait_for(timeout=30_000)
                assert page.get_by_text("trial-0001 (val_accuracy)").count() >= 1
                page.screenshot(path=SCREENSHOTS / "mlflow-ui-charts.png")
            finally:
                browser.close()
    finally:
        stop_serve_ui(process)
    assert process.returncode == 0
    assert os.path.getsize(SCREENSHOTS / "mlflow-ui-charts.png") > 10_000
