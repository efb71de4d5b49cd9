"""Open the widgets from a database URL (or a client factory), saying in words when there is no
database yet, it cannot be reached, or it lacks the kit's tables, instead of raising."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar, cast

import ipywidgets as widgets

from aa_notebooks.analytics import Analytics, connect
from aa_notebooks.errors import ConfigurationError, DatabaseUnavailableError, SchemaError
from aa_notebooks.ui.dashboard import Dashboard
from aa_notebooks.ui.markup import STYLE, notice
from aa_notebooks.ui.trace import TraceExplorer

UNAVAILABLE = (ConfigurationError, DatabaseUnavailableError, SchemaError)
Shown = TypeVar("Shown")


class NoDatabase:
    """What is shown instead of a widget when the database cannot be used: the reason, in words."""

    def __init__(self, error: Exception) -> None:
        self.message = f"No analytics to show: {error}"
        self.widget = widgets.HTML(STYLE + notice(self.message, "error"))

    def _repr_mimebundle_(self, **kwargs: object) -> dict[str, object] | None:
        return cast(dict[str, object] | None, self.widget._repr_mimebundle_(**kwargs))


def opened(get: Callable[[], Analytics], build: Callable[[Analytics], Shown]) -> Shown | NoDatabase:
    """`build(get())`, or NoDatabase when `get` cannot connect to a usable database."""
    try:
        analytics = get()
    except UNAVAILABLE as exc:
        return NoDatabase(exc)
    return build(analytics)


def open_dashboard(
    url: str | None = None,
    *,
    user_id: str | None = None,
    period: str = "7d",
    now: Callable[[], datetime] | None = None,
    timezone: str = "UTC",
) -> Dashboard | NoDatabase:
    """The dashboard of the database at `url` (default: $AA_DATABASE_URL, else the default file)."""
    return opened(
        lambda: connect(url, user_id=user_id, now=now),
        lambda analytics: Dashboard(analytics, period, timezone=timezone),
    )


def open_trace(
    execution_id: uuid.UUID | str,
    url: str | None = None,
    *,
    user_id: str | None = None,
    timezone: str = "UTC",
) -> TraceExplorer | NoDatabase:
    """The trace explorer of one execution in the database at `url`."""
    return opened(
        lambda: connect(url, user_id=user_id),
        lambda analytics: TraceExplorer(analytics, execution_id, timezone=timezone),
    )
