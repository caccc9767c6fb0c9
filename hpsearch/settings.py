"""One settings object, read from the environment; the embedded defaults are SQLite files."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hpsearch.errors import mask_password

__all__ = ["Settings", "get_settings", "mask_password"]  # mask_password: where callers look


class Settings(BaseSettings):
    """Where hpsearch keeps things. Every store defaults to a file under `home`."""

    model_config = SettingsConfigDict(env_prefix="HPSEARCH_", extra="ignore", populate_by_name=True)

    home: Path = Path("hpsearch-data")
    database_url: str | None = None  # hpsearch's catalog
    storage_url: str | None = None  # Optuna's RDB storage
    data_dir: Path | None = None
    tracking_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "HPSEARCH_TRACKING_URI")
    )
    artifacts_destination: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_ARTIFACTS_DESTINATION", "HPSEARCH_ARTIFACTS"),
    )

    def _sqlite(self, filename: str) -> str:
        # '%' escaped: SQLAlchemy decodes %XX in the path (a home with '%41' went elsewhere)
        return "sqlite:///" + str((self.home / filename).resolve()).replace("%", "%25")

    @property
    def catalog_url(self) -> str:
        return self.database_url or self._sqlite("hpsearch.db")

    @property
    def optuna_url(self) -> str:
        return self.storage_url or self._sqlite("optuna.db")

    @property
    def mlflow_uri(self) -> str:
        return self.tracking_uri or self._sqlite("mlflow.db")

    @property
    def artifact_root(self) -> str:
        return self.artifacts_destination or (self.home / "mlartifacts").resolve().as_uri()

    def ensure_home(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)


def get_settings(**overrides: object) -> Settings:
    """A fresh object each call so that tests changing the environment see their change."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**clean)  # type: ignore[arg-type]
