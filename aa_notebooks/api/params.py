"""Query parameters shared by the analytics endpoints, as the data contract names them."""

from datetime import date
from typing import Annotated, Any

from fastapi import Query

from aa_notebooks.analytics.choices import SORT_COLUMNS

PERIOD_HELP = "24h, 7d, 30d, 90d, or any positive Nh / Nd / Nw; default 7d"
SORT_HELP = f"one of {', '.join(SORT_COLUMNS)}"


def window_params(
    period: Annotated[str | None, Query(description=PERIOD_HELP, examples=["7d"])] = None,
    start_date: Annotated[
        date | None, Query(description="first day (UTC), inclusive; with end_date")
    ] = None,
    end_date: Annotated[date | None, Query(description="last day (UTC), inclusive")] = None,
) -> dict[str, Any]:
    """The window: a period, or start_date/end_date (inclusive UTC dates), not both."""
    return {"period": period, "start_date": start_date, "end_date": end_date}
