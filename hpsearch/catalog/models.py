"""hpsearch's own tables: which studies exist, which YAML each ran with, and who launched them.

The tables live in their own database (SQLite file or PostgreSQL `hpsearch`), versioned by
Alembic in `hpsearch_alembic_version` so that they never share `alembic_version` with Optuna
or MLflow. Any change here needs a new revision in `migrations/versions/`; a test compares
these models with the migrations.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints: Alembic can only drop or alter (SQLite batch mode) what has a name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Never `alembic_version`: Optuna and MLflow keep theirs under that name.
VERSION_TABLE = "hpsearch_alembic_version"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class Study(Base):
    """One row per study name: the YAML of its latest launch and where its trials live."""

    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    config_yaml: Mapped[str] = mapped_column(sa.Text)
    config_sha256: Mapped[str] = mapped_column(sa.String(64))
    dataset_fingerprint: Mapped[str | None] = mapped_column(sa.String(64))
    storage_url: Mapped[str] = mapped_column(sa.Text)  # Optuna's storage, password masked
    mlflow_experiment_id: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(32), default="created")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    versions: Mapped[list[StudyVersion]] = relationship(
        back_populates="study", order_by="StudyVersion.version"
    )
    launches: Mapped[list[Launch]] = relationship(back_populates="study", order_by="Launch.id")


class StudyVersion(Base):
    """Every YAML a study has been launched with: version 1 is the first, the highest is current."""

    __tablename__ = "study_versions"
    __table_args__ = (sa.UniqueConstraint("study_id", "version", name="uq_study_versions_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(sa.ForeignKey("studies.id", ondelete="CASCADE"))
    version: Mapped[int]
    config_yaml: Mapped[str] = mapped_column(sa.Text)
    config_sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    study: Mapped[Study] = relationship(back_populates="versions")


class Launch(Base):
    """One `hpsearch launch` (or worker start): who ran it, where, with how many workers."""

    __tablename__ = "launches"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(
        sa.ForeignKey("studies.id", ondelete="CASCADE"), index=True
    )
    config_sha256: Mapped[str] = mapped_column(sa.String(64))  # the YAML this launch ran
    host: Mapped[str] = mapped_column(sa.String(255))
    pid: Mapped[int]
    user: Mapped[str] = mapped_column(sa.String(255))
    workers: Mapped[int]
    n_trials: Mapped[int | None]  # None: until the timeout or Ctrl-C
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    exit_status: Mapped[int | None]

    study: Mapped[Study] = relationship(back_populates="launches")
