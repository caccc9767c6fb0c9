"""The study catalog: register a study's YAML, refuse silent changes, record every launch."""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from hpsearch import stores
from hpsearch.catalog.migrate import check_catalog_current, upgrade_catalog
from hpsearch.catalog.models import Launch, Study, StudyVersion, utcnow
from hpsearch.errors import UserError
from hpsearch.settings import Settings, mask_password


class ConfigChangedError(UserError):
    """A study name is launched again with a different YAML."""


class UnknownStudyError(UserError):
    """No study of that name in the catalog."""


@dataclass(frozen=True)
class StudyRecord:
    """A catalog row as the CLI shows it. `version` counts the YAMLs launched so far."""

    name: str
    config_yaml: str
    config_sha256: str
    dataset_fingerprint: str | None
    storage_url: str  # password masked
    mlflow_experiment_id: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    version: int
    n_launches: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO 8601 strings, the YAML left out (it can be long)."""
        return {
            "name": self.name,
            "config_sha256": self.config_sha256,
            "dataset_fingerprint": self.dataset_fingerprint,
            "storage_url": self.storage_url,
            "mlflow_experiment_id": self.mlflow_experiment_id,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "version": self.version,
            "n_launches": self.n_launches,
        }


@dataclass(frozen=True)
class LaunchRecord:
    id: int
    study_name: str
    config_sha256: str
    host: str
    pid: int
    user: str
    workers: int
    n_trials: int | None
    started_at: datetime
    ended_at: datetime | None
    exit_status: int | None


def config_sha256(config_yaml: str) -> str:
    return hashlib.sha256(config_yaml.encode("utf-8")).hexdigest()


class Catalog:
    """hpsearch's tables behind a small API; one short transaction per call."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def register_study(
        self,
        name: str,
        config_yaml: str,
        *,
        dataset_fingerprint: str | None = None,
        storage_url: str,
        allow_changed: bool = False,
    ) -> StudyRecord:
        """Insert a new study, touch a known one, or refuse (or record) a changed YAML."""
        try:
            return self._register(
                name, config_yaml, dataset_fingerprint, storage_url, allow_changed
            )
        except sa.exc.IntegrityError:
            # Another launch inserted the same name between our read and our insert: the row
            # exists now, so the second attempt takes the "known study" path.
            return self._register(
                name, config_yaml, dataset_fingerprint, storage_url, allow_changed
            )

    def _register(
        self,
        name: str,
        config_yaml: str,
        dataset_fingerprint: str | None,
        storage_url: str,
        allow_changed: bool,
    ) -> StudyRecord:
        sha = config_sha256(config_yaml)
        now = utcnow()
        with self._sessions.begin() as session:
            study = _find(session, name)
            if study is None:
                study = Study(name=name, config_yaml=config_yaml, config_sha256=sha,
                              status="created", created_at=now)  # fmt: skip
                session.add(study)
                session.add(_version(study, 1, config_yaml, sha, now))
            elif study.config_sha256 != sha:
                if not allow_changed:
                    raise ConfigChangedError(
                        f"study {name!r} exists with a different configuration "
                        f"(sha256 {study.config_sha256[:12]}, now {sha[:12]}): rename the study "
                        "or pass --allow-changed-config to record the new version"
                    )
                study.config_yaml, study.config_sha256 = config_yaml, sha
                session.add(_version(study, len(study.versions) + 1, config_yaml, sha, now))
            study.storage_url = mask_password(storage_url)
            if dataset_fingerprint is not None:
                study.dataset_fingerprint = dataset_fingerprint
            study.updated_at = now
            session.flush()
            return _record(session, study)

    def set_experiment_id(self, name: str, experiment_id: str) -> None:
        with self._sessions.begin() as session:
            study = _get(session, name)
            study.mlflow_experiment_id, study.updated_at = experiment_id, utcnow()

    def set_status(self, name: str, status: str) -> None:
        with self._sessions.begin() as session:
            study = _get(session, name)
            study.status, study.updated_at = status, utcnow()

    def start_launch(self, name: str, *, workers: int, n_trials: int | None) -> int:
        """Record who launches `name` from where; returns the launch id for `end_launch`."""
        with self._sessions.begin() as session:
            study = _get(session, name)
            launch = Launch(
                study=study,
                config_sha256=study.config_sha256,
                host=socket.gethostname(),
                pid=os.getpid(),
                user=_user(),
                workers=workers,
                n_trials=n_trials,
                started_at=utcnow(),
            )
            session.add(launch)
            session.flush()
            return launch.id

    def end_launch(self, launch_id: int, exit_status: int) -> None:
        with self._sessions.begin() as session:
            launch = session.get(Launch, launch_id)
            if launch is None:
                raise LookupError(f"no launch with id {launch_id}")
            launch.ended_at, launch.exit_status = utcnow(), exit_status

    def get_study(self, name: str) -> StudyRecord | None:
        with self._sessions() as session:
            study = _find(session, name)
            return None if study is None else _record(session, study)

    def list_studies(self) -> list[StudyRecord]:
        with self._sessions() as session:
            studies = session.scalars(sa.select(Study).order_by(Study.name)).all()
            return [_record(session, study) for study in studies]

    def list_launches(self, name: str) -> list[LaunchRecord]:
        """The launches of `name`, oldest first."""
        with self._sessions() as session:
            study = _get(session, name)
            return [
                LaunchRecord(
                    id=launch.id,
                    study_name=study.name,
                    config_sha256=launch.config_sha256,
                    host=launch.host,
                    pid=launch.pid,
                    user=launch.user,
                    workers=launch.workers,
                    n_trials=launch.n_trials,
                    started_at=_aware(launch.started_at),
                    ended_at=None if launch.ended_at is None else _aware(launch.ended_at),
                    exit_status=launch.exit_status,
                )
                for launch in study.launches
            ]

    def config_history(self, name: str) -> list[tuple[int, str, datetime]]:
        """(version, sha256, recorded at) of every YAML `name` was launched with, oldest first."""
        with self._sessions() as session:
            study = _get(session, name)
            return [(v.version, v.config_sha256, _aware(v.created_at)) for v in study.versions]


def open_catalog(settings: Settings) -> Catalog:
    """Open the catalog at `settings.catalog_url`.

    SQLite (one laptop, zero set-up) is created or upgraded here. Elsewhere the schema must
    already be at head: UserError naming `hpsearch db upgrade` otherwise.
    """
    url = settings.catalog_url
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise UserError(
            f"HPSEARCH_DATABASE_URL is not a database URL: {mask_password(url)!r}"
        ) from None
    if stores.sqlite_path(parsed) is not None:
        upgrade_catalog(url)
        # Several local workers write here: wait for the file lock instead of failing at once.
        return Catalog(sa.create_engine(url, connect_args={"timeout": 30}))
    check_catalog_current(url)
    return Catalog(sa.create_engine(url, pool_pre_ping=True))


def _version(study: Study, number: int, config_yaml: str, sha: str, now: datetime) -> StudyVersion:
    return StudyVersion(
        study=study, version=number, config_yaml=config_yaml, config_sha256=sha, created_at=now
    )


def _find(session: Session, name: str) -> Study | None:
    return session.scalars(sa.select(Study).where(Study.name == name)).one_or_none()


def _get(session: Session, name: str) -> Study:
    study = _find(session, name)
    if study is None:
        raise UnknownStudyError(f"no study named {name!r} in the catalog")
    return study


def _record(session: Session, study: Study) -> StudyRecord:
    n_launches = session.scalar(
        sa.select(sa.func.count()).select_from(Launch).where(Launch.study_id == study.id)
    )
    n_versions = session.scalar(
        sa.select(sa.func.max(StudyVersion.version)).where(StudyVersion.study_id == study.id)
    )
    return StudyRecord(
        name=study.name,
        config_yaml=study.config_yaml,
        config_sha256=study.config_sha256,
        dataset_fingerprint=study.dataset_fingerprint,
        storage_url=study.storage_url,
        mlflow_experiment_id=study.mlflow_experiment_id,
        status=study.status,
        created_at=_aware(study.created_at),
        updated_at=_aware(study.updated_at),
        version=n_versions or 1,
        n_launches=n_launches or 0,
    )


def _aware(moment: datetime) -> datetime:
    # SQLite stores no time zone: every timestamp we write is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # a container user without a passwd entry
        return str(os.getuid())
