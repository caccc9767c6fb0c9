"""Hostile store URLs and paths: one line each, the password never shown, nothing written
(issue 11 items 26, 27); a '%' in HPSEARCH_HOME keeps the stores inside it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from study.tiny import TINY_STUDY

from hpsearch.settings import mask_password
from reliability.hostile import Result, files_under, run_bounded

SECRET = "5ecret"  # in every password below: it must appear nowhere in what the command prints
PG = "postgresql+psycopg"
STORAGE, CATALOG, TRACKING = "HPSEARCH_STORAGE_URL", "HPSEARCH_DATABASE_URL", "MLFLOW_TRACKING_URI"
# case -> (environment, a word the error line must contain)
CASES: dict[str, tuple[dict[str, str], str]] = {
    "port-not-a-number": ({STORAGE: f"{PG}://u@127.0.0.1:abc/db"}, "not a database URL"),
    "port-out-of-range": ({STORAGE: f"{PG}://u@127.0.0.1:99999/db"}, "invalid port"),
    "unclosed-ipv6-bracket": ({STORAGE: f"{PG}://u@[::1/db"}, "not a database URL"),
    "mysql-no-driver": ({STORAGE: "mysql://u@127.0.0.1/db"}, "no database driver"),
    "sqlite-without-path": ({STORAGE: "sqlite://"}, "needs a file"),
    "sqlite-under-proc": ({STORAGE: "sqlite:////proc/self/optuna.db"}, "not a place"),
    "catalog-under-sys": ({CATALOG: "sqlite:////sys/hpsearch.db"}, "not a place"),
    "server-not-answering": ({TRACKING: "http://127.0.0.1:1"}, "does not answer"),
    "password-with-slash": ({STORAGE: f"{PG}://u:Sl/ash{SECRET}@127.0.0.1/db"},
                            "percent-encode"),
    "password-with-hash": ({CATALOG: f"{PG}://u:a#{SECRET}@127.0.0.1/db"},
                           "percent-encode"),
    "password-with-question-mark": ({TRACKING: f"{PG}://u:a?{SECRET}@127.0.0.1/db"},
                                    "percent-encode"),
    "password-with-at": ({STORAGE: f"{PG}://u:a@{SECRET}@127.0.0.1/db"},
                         "percent-encode"),
}  # fmt: skip


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Result, Path]]:
    root = tmp_path_factory.mktemp("hostile-urls")

    def run(case: str) -> tuple[Result, Path]:
        directory = root / case
        directory.mkdir()
        study = directory / "tiny.yaml"
        study.write_text(yaml.safe_dump(TINY_STUDY))
        args = ["launch", str(study), "--workers", "0"]
        return run_bounded(args, directory / "home", env=CASES[case][0], timeout=60), directory

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(CASES, pool.map(run, CASES), strict=True))


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_url_is_one_line_hides_the_password_and_writes_nothing(
    results: dict[str, tuple[Result, Path]], case: str
) -> None:
    result, directory = results[case]
    line = result.one_line_error()
    assert CASES[case][1] in line, line
    assert SECRET not in result.stderr + result.stdout
    assert files_under(directory) == ["tiny.yaml"], files_under(directory)


def test_a_percent_sign_in_home_keeps_the_stores_inside_it(tmp_path: Path) -> None:
    study = tmp_path / "tiny.yaml"
    study.write_text(yaml.safe_dump(TINY_STUDY))
    home = tmp_path / "a%41b"  # %41 is 'A': decoded, the stores went to a sibling 'aAb'
    result = run_bounded(["launch", str(study), "--workers", "0"], home, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert {"optuna.db", "hpsearch.db"} <= set(files_under(home))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a%41b", "tiny.yaml"]


@pytest.mark.parametrize("password", ["Sl/ash", "h#sh", "qu?ery", "a@t", "pl:ain", "%2Fenc"])
def test_mask_password_hides_what_was_typed(password: str) -> None:
    masked = mask_password(f"{PG}://user:{password}{SECRET}@127.0.0.1:5432/db?x=1")
    assert masked == f"{PG}://user:***@127.0.0.1:5432/db?x=1"
