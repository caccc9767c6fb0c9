"""Errors a user can cause. The CLI prints them as one line and exits with code 2."""

UPGRADE_COMMAND = "hpsearch db upgrade"  # the one step that migrates every schema


class UserError(Exception):
    """Bad input: a wrong flag, file, name or URL. Shown without a traceback."""

    exit_code = 2


class OutdatedSchema(UserError):
    """A database whose schema is not at the head its code expects; only the command fixes it."""

    def __init__(self, what: str, where: str, revision: str | None, head: str) -> None:
        state = f"has no {what} tables" if revision is None else f"is at revision {revision}"
        super().__init__(f"the {what} database at {where} {state}, expected {head}: "
                         f"run `{UPGRADE_COMMAND}`")  # fmt: skip
