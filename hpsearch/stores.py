"""What kind of store a URL names, and the file behind a SQLite URL: answered here only.

A store URL is a SQLAlchemy database URL (sqlite:///FILE, postgresql+psycopg://..., mysql://...)
or, for MLflow only, a tracking server (http[s]://...). Everything hpsearch keeps lives in one
of the two kinds; the embedded default is a SQLite file per store.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import sqlalchemy as sa

from hpsearch.errors import CREDENTIALS, UserError, mask_password, shown

# Databases on a server: their schemas change only through `hpsearch db upgrade`
SERVER_DATABASES = frozenset({"postgresql", "mysql", "mssql"})
DATABASES = SERVER_DATABASES | {"sqlite"}  # what MLflow can use as its backend store


def parse(url: str | sa.URL) -> sa.URL | None:
    """The parsed database URL, or None for anything else (http(s)://, a folder, garbage)."""
    if isinstance(url, sa.URL):
        return url
    try:
        return sa.make_url(url)
    except sa.exc.ArgumentError:
        return None


def backend(url: str | sa.URL) -> str | None:
    """SQLAlchemy's backend name ("sqlite", "postgresql", "http"); None for what it cannot
    parse (a folder)."""
    parsed = parse(url)
    return parsed.get_backend_name() if parsed is not None else None


def is_tracking_server(url: str) -> bool:
    """True for an MLflow tracking server (it decides where artifacts go), not a database."""
    return url.startswith(("http://", "https://"))


def is_database(url: str | sa.URL) -> bool:
    return backend(url) in DATABASES


def is_server_database(url: str | sa.URL) -> bool:
    """True for a database on a server; False for SQLite, http(s) and paths."""
    return backend(url) in SERVER_DATABASES


def is_sqlite(url: str | sa.URL) -> bool:
    return backend(url) == "sqlite"


def sqlite_path(url: str | sa.URL) -> Path | None:
    """The file behind a SQLite URL; None for in-memory databases and every other store."""
    parsed = parse(url)
    if parsed is None or parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def exists(url: str) -> bool:
    """False only for a SQLite store whose file is not there: reading must not create it."""
    path = sqlite_path(url)
    return path is None or path.is_file()


def first_line(exc: BaseException) -> str:
    """What a database error says, in one line: its driver's message (DBAPI errors wrap one),
    else its own, else its type's name."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


_UNSAFE_IN_PASSWORD = "/#?@"
_NOT_FOR_DATABASES = (Path("/proc"), Path("/sys"), Path("/dev"))


def check_url(url: str, what: str) -> None:
    """UserError, in one line that never shows the password, for a store URL that cannot work:
    an unencoded '/', '#', '?' or '@' in the password, a bad port or IPv6 address, a database
    without its driver, SQLite without a file or on /proc, /sys or /dev."""
    shown_url = mask_password(url)
    match = CREDENTIALS.match(url)
    if match and any(char in match["password"] for char in _UNSAFE_IN_PASSWORD):
        raise UserError(
            f"{what} {shown_url}: the password holds one of / # ? @ unencoded, so the URL "
            "cannot be read as written: percent-encode it (/ %2F, # %23, ? %3F, @ %40)"
        )
    if is_tracking_server(url):
        return
    try:
        parsed = sa.make_url(url)
        parsed.port  # noqa: B018 - parsing the port is the check
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise UserError(f"{what} {shown_url}: not a database URL ({exc})") from None
    if parsed.get_backend_name() == "sqlite":
        _check_sqlite(parsed, shown_url, what)
        return
    try:
        parsed.get_dialect().import_dbapi()
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        raise UserError(
            f"{what} {shown_url}: no database driver ({exc}); name one, e.g. "
            "postgresql+psycopg:// or mysql+pymysql://"
        ) from None


def _check_sqlite(parsed: sa.URL, shown_url: str, what: str) -> None:
    path = sqlite_path(parsed)
    if path is None:
        raise UserError(f"{what} {shown_url}: a store needs a file (sqlite:////ABSOLUTE/PATH.db)")
    absolute = Path(os.path.abspath(path))
    if any(absolute.is_relative_to(root) for root in _NOT_FOR_DATABASES):
        raise UserError(f"{what} {shown_url}: not a place for a database file")


def check_sqlite_file(url: str, what: str) -> None:
    """UserError naming the file when a SQLite store exists but is not a sound database (not
    one at all, truncated, corrupt): probed read-only before any store is written, so that a
    launch does not change one store and then crash on the next."""
    path = sqlite_path(url)
    if path is None or not path.is_file():
        return
    try:
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
            verdict = db.execute("PRAGMA quick_check(1)").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        verdict = str(exc)
    if verdict != "ok":
        raise UserError(
            f"{what} {path}: not a sound SQLite database ({shown(verdict, 120)}): "
            "restore it from a backup or move it away"
        )
