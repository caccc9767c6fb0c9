"""deploy/: the kustomize tree renders, every object validates offline, the SLURM script parses."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import require

ROOT = Path(__file__).resolve().parents[1]
KUSTOMIZE = ROOT / "deploy" / "kubernetes"
SLURM = ROOT / "deploy" / "slurm" / "hpsearch-workers.sbatch"
KUBERNETES_VERSION = "1.32.0"  # the schemas the objects are checked against (kubectl's own)


def _render(folder: Path) -> list[dict[str, Any]]:
    require(shutil.which("kubectl") is not None, "kubectl (for `kubectl kustomize`) not installed")
    text = subprocess.run(
        ["kubectl", "kustomize", str(folder)], check=True, capture_output=True, text=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return _render(KUSTOMIZE)


@pytest.fixture(scope="module")
def with_proxy(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The same tree with the optional gRPC proxy component switched on."""
    copy = tmp_path_factory.mktemp("kustomize") / "kubernetes"
    shutil.copytree(KUSTOMIZE, copy)
    kustomization = copy / "kustomization.yaml"
    text = kustomization.read_text().replace("# components:\n#   - components/grpc-proxy",
                                             "components:\n  - components/grpc-proxy")  # fmt: skip
    kustomization.write_text(text)
    return _render(copy)


def _by_kind(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def test_every_object_validates_against_the_kubernetes_schemas(
    objects: list[dict[str, Any]], with_proxy: list[dict[str, Any]]
) -> None:
    import kubernetes_validate

    for obj in [*objects, *with_proxy]:  # strict: an unknown or misplaced field fails too
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    broken = {**objects[-1], "spec": {**objects[-1]["spec"], "paralelism": 4}}
    with pytest.raises(kubernetes_validate.ValidationError):  # the check can fail
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_service_topology_is_all_there(
    objects: list[dict[str, Any]], with_proxy: list[dict[str, Any]]
) -> None:
    found = _by_kind(objects)
    for key in [("Secret", "hpsearch-db"), ("Job", "hpsearch-migrate"), ("Deployment", "mlflow"),
                ("Service", "mlflow"), ("Job", "hpsearch-workers"), ("StatefulSet", "postgres"),
                ("Service", "postgres")]:  # fmt: skip
        assert key in found, key
    assert all(o["metadata"].get("namespace", "hpsearch") == "hpsearch" for o in objects)
    migrate = found[("Job", "hpsearch-migrate")]["spec"]["template"]["spec"]["containers"][0]
    assert migrate["args"] == ["db", "upgrade"]
    workers = found[("Job", "hpsearch-workers")]["spec"]
    assert workers["parallelism"] >= 2 and "completions" not in workers  # a work queue
    assert workers["template"]["spec"]["containers"][0]["args"] == ["worker", "$(STUDY)"]
    assert ("Deployment", "optuna-grpc") not in found  # optional: only with the component
    assert ("Deployment", "optuna-grpc") in _by_kind(with_proxy)
    assert ("Service", "optuna-grpc") in _by_kind(with_proxy)


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec", {})
    pod = spec.get("template", {}).get("spec", {})
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def test_the_password_is_only_in_the_secret(with_proxy: list[dict[str, Any]]) -> None:
    (secret,) = [o for o in with_proxy if o["kind"] == "Secret"]
    password = secret["stringData"]["POSTGRES_PASSWORD"]
    for obj in with_proxy:
        if obj is not secret:
            assert password not in yaml.safe_dump(obj), obj["metadata"]["name"]
        for container in _containers(obj):  # URLs only in the environment, never in argv
            assert "postgresql" not in " ".join(container.get("args", [])), container["name"]
            for env in container.get("env", []):
                if env["name"] == "POSTGRES_PASSWORD":
                    assert env["valueFrom"]["secretKeyRef"]["name"] == "hpsearch-db"


def test_the_slurm_script_parses_and_runs_workers(tmp_path: Path) -> None:
    subprocess.run(["bash", "-n", str(SLURM)], check=True)
    text = SLURM.read_text()
    assert "#SBATCH --array=" in text and 'exec hpsearch worker "$study"' in text
    broken = tmp_path / "broken.sbatch"  # bash -n does catch a broken script
    broken.write_text(text.replace("fi\n", "", 1))
    assert subprocess.run(["bash", "-n", str(broken)], capture_output=True).returncode != 0
