"""hpsearch's catalog of studies and launches; `hpsearch db upgrade` of all three schemas."""

from hpsearch.catalog.catalog import (
    Catalog,
    ConfigChangedError,
    LaunchRecord,
    StudyRecord,
    UnknownStudyError,
    config_sha256,
    open_catalog,
)
from hpsearch.catalog.migrate import check_catalog_current, head_revision
from hpsearch.catalog.upgrade import refuse_shared_databases, store_urls, upgrade_all
from hpsearch.errors import UPGRADE_COMMAND

__all__ = [
    "UPGRADE_COMMAND",
    "Catalog",
    "ConfigChangedError",
    "LaunchRecord",
    "StudyRecord",
    "UnknownStudyError",
    "check_catalog_current",
    "config_sha256",
    "head_revision",
    "open_catalog",
    "refuse_shared_databases",
    "store_urls",
    "upgrade_all",
]
