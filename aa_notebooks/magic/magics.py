"""The IPython magic: parses with the CLI's own parser, runs the same handlers, returns results.

Configuration is traitlets (`%config AgentAnalytics.database_url = ...`), defaulting to the same
environment variables as the library. Errors raise one-line exceptions (`_render_traceback_`),
so a failing cell stops papermill with a readable message instead of running on bad data.
"""

from __future__ import annotations

import os
import shlex
import uuid
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Integer, TraitError, Unicode, observe, validate
from traitlets.config import Configurable

from aa_notebooks.cli.commands import build_parser
from aa_notebooks.cli.context import CommandContext
from aa_notebooks.cli.parser import CommandLineError, HelpShown
from aa_notebooks.db.url import mask_url
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.magic.display import register_readable_frames, register_readable_records
from aa_notebooks.magic.frames import notebook_result
from aa_notebooks.validation import check_timezone


class MaskedUrl(str):
    """A database URL that shows itself with its password as *** (`%config AgentAnalytics`
    prints each setting's repr), while the kit connects with the text itself."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(mask_url(str(self)))


@magics_class
class AgentAnalytics(Magics, Configurable):
    """Run aa-notebooks commands in a notebook: `%agent_analytics overview --period 7d`."""

    database_url = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Database URL; default $AA_DATABASE_URL, else the SQLite file in your data dir.",
    )
    user_id = Unicode(
        None, allow_none=True, config=True, help="Show only this user's executions (a UUID)."
    )
    timezone = Unicode("UTC", config=True, help="Time zone for displayed timestamps.")
    page_size = Integer(20, config=True, help="Rows per page for `executions` (1-1000).")

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._context = CommandContext(front_end="magic")
        self._sync_context()

    @validate("page_size")
    def _check_page_size(self, proposal: dict[str, Any]) -> int:
        page_size: int = proposal["value"]
        if not 1 <= page_size <= 1000:
            raise TraitError(f"page_size must be between 1 and 1000, got {page_size}")
        return page_size

    @validate("database_url")
    def _hide_password(self, proposal: dict[str, Any]) -> str | None:
        url: str | None = proposal["value"]
        return None if url is None else MaskedUrl(url)

    @validate("user_id")
    def _check_user_id(self, proposal: dict[str, Any]) -> str | None:
        user: str | None = proposal["value"]
        if user is None:
            return None
        try:
            return str(uuid.UUID(user.strip()))
        except ValueError:
            raise TraitError(
                f"user_id must be a UUID (or None for every user), got {user!r}"
            ) from None

    @validate("timezone")
    def _check_timezone(self, proposal: dict[str, Any]) -> str:
        try:
            return check_timezone(proposal["value"])
        except InvalidInputError as exc:
            raise TraitError(str(exc)) from None

    @observe("database_url", "user_id", "timezone", "page_size")
    def _settings_changed(self, change: dict[str, Any]) -> None:
        self._sync_context()

    def _sync_context(self) -> None:
        url = self.database_url or os.environ.get("AA_DATABASE_URL") or None
        if (url, self.user_id) != (self._context.database_url, self._context.user_id):
            self._context.reconnect(url, self.user_id)
        self._context.timezone = self.timezone
        self._context.page_size = self.page_size

    @line_cell_magic
    def agent_analytics(self, line: str, cell: str | None = None) -> Any:
        """Run one aa-notebooks command; `%agent_analytics help` lists them. A `#` that starts a
        word begins a comment, as in the shell."""
        try:
            argv = shlex.split(_without_comment(line))
        except ValueError as exc:
            raise CommandLineError(f"cannot split the command line: {exc}") from None
        context = self._context
        context.namespace = self.shell.user_ns if self.shell is not None else {}
        context.cell = cell
        try:
            args = build_parser("magic").parse_args(argv or ["help"])
        except HelpShown:
            return None
        if cell is not None and args.command != "sql":
            raise CommandLineError(
                f"only `%%agent_analytics sql` takes a cell body; use `%agent_analytics "
                f"{args.command} ...` on one line"
            )
        scoped = self._scoped_context(args)
        result = notebook_result(args.handler(args, scoped), args, scoped)
        if args.command == "connect":
            self.database_url, self.user_id = scoped.database_url, scoped.user_id
        saved = getattr(args, "save", None)
        if saved:
            assert self.shell is not None  # IPython runs a magic in its shell
            self.shell.user_ns[saved] = result
        if isinstance(result, str):  # help, or an export's text: printed, unless it was saved
            if not saved:
                print(result)
            return None
        return result

    def _scoped_context(self, args: Any) -> CommandContext:
        """The shared context, or a one-off copy when --db/--user override it for one command."""
        url = getattr(args, "database_url", None)
        user = getattr(args, "user_id", None)
        if args.command == "connect" or (url is None and user is None):
            return self._context
        return CommandContext(
            database_url=url or self._context.database_url,
            user_id=user or self._context.user_id,
            page_size=self._context.page_size,
            timezone=self._context.timezone,
            front_end="magic",
            namespace=self._context.namespace,
            cell=self._context.cell,
        )


def _without_comment(line: str) -> str:
    """The line up to a `#` that starts a word outside quotes; a `#` inside a word (`bot#2`, a
    password in a URL) is part of it, as in the shell (`shlex`'s comments end words there)."""
    quote = ""
    escaped = False
    for position, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (position == 0 or line[position - 1].isspace()):
            return line[:position]
    return line


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext aa_notebooks`: register the magic, its config and readable tables."""
    magic = AgentAnalytics(shell=ipython, config=ipython.config)
    ipython.register_magics(magic)
    if magic not in ipython.configurables:
        ipython.configurables.append(magic)
    register_readable_frames(ipython, lambda: magic.timezone)
    register_readable_records(ipython)
