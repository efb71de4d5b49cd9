"""What a command runs against: the database URL, the user scope, and a lazily made client.

The CLI builds one from its options; the IPython magic builds one from its `%config` settings,
so both front ends hand the same handlers the same thing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from aa_notebooks.analytics import Analytics

FrontEnd = Literal["cli", "magic"]
"""The two front ends of the command registry: the terminal and the IPython magic."""


@dataclass
class CommandContext:
    """Settings shared by every command in one front end."""

    database_url: str | None = None
    user_id: str | None = None
    page_size: int = 20
    timezone: str = "UTC"
    now: Callable[[], datetime] | None = None
    front_end: FrontEnd = "cli"  # which options the parser offers
    namespace: dict[str, Any] | None = None  # the notebook's variables, for the magic
    cell: str | None = None  # the body of a %%agent_analytics cell
    _client: Analytics | None = field(default=None, repr=False)

    def analytics(self) -> Analytics:
        """The Analytics client for these settings, connected on first use."""
        if self._client is None:
            from aa_notebooks.analytics import connect

            self._client = connect(self.database_url, user_id=self.user_id, now=self.now)
        return self._client

    def reconnect(self, database_url: str | None, user_id: str | None) -> None:
        """Point later commands at another database or user scope."""
        self.database_url, self.user_id, self._client = database_url, user_id, None
