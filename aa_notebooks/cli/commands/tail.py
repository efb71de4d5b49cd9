"""`tail`: follow executions as they complete, one line each (or one JSON object per line)."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aa_notebooks.analytics.filters import STATUSES
from aa_notebooks.analytics.follow import FollowFilters, FollowMark, completed_since
from aa_notebooks.analytics.periods import FIRST_DATE, LAST_DATE, parse_period
from aa_notebooks.cli.context import CommandContext
from aa_notebooks.cli.options import Subcommands
from aa_notebooks.cli.output import json_row
from aa_notebooks.db.engine import connection_errors, get_engine
from aa_notebooks.db.url import require_database
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.validation import as_utc

PREVIEW_CHARS = 60


_MINUTES = re.compile(r"(\d{1,6})\s*m(?:in)?")
"""`10m`, `90min`: minutes (periods elsewhere start at hours)."""


def register(subcommands: Subcommands) -> list[argparse.ArgumentParser]:
    """Add `tail`; returns its parser."""
    tail = subcommands.add_parser(
        "tail",
        help="follow executions as they complete, one line each (Ctrl-C to stop)",
        description="Print each execution when it completes: time, agent, status, duration, "
        "tokens, cost and query preview. Polls only rows completed after the last one seen.",
    )
    tail.add_argument("--agent", metavar="NAME", help="only this agent")
    tail.add_argument("--status", choices=STATUSES, help="only this status")
    tail.add_argument("--model", metavar="NAME", help="only this model")
    tail.add_argument(
        "--every", metavar="SECONDS", type=float, default=1.0, help="poll interval (default 1)"
    )
    tail.add_argument(
        "--since",
        metavar="PERIOD|TIME",
        help="also show executions completed since then: a period like 10m or an ISO time "
        "(default: now, only new ones)",
    )
    tail.add_argument("--format", choices=("table", "json"), default="table", dest="tail_format")
    tail.set_defaults(handler=run_tail)
    return [tail]


def _since(text: str | None) -> datetime:
    """The starting mark: now, now minus minutes (`10m`) or a period (`2h`, `1d`), or an ISO
    timestamp (UTC if naive)."""
    now = datetime.now(UTC)
    if text is None:
        return now
    if minutes := _MINUTES.fullmatch(text.strip().lower()):
        return now - timedelta(minutes=int(minutes.group(1)))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            return now - parse_period(text)
        except InvalidInputError:
            raise InvalidInputError(
                f"--since takes minutes (10m), a period (2h, 1d, 1w) or an ISO time "
                f"(2026-12-01T08:00:00, UTC if no offset); got {text!r}"
            ) from None
    if not FIRST_DATE <= moment.date() <= LAST_DATE:
        raise InvalidInputError(f"--since must be from {FIRST_DATE} to {LAST_DATE}; got {text}")
    return as_utc(moment)


def _clean(value: object) -> str:
    """Agent data made safe for a terminal: control characters become spaces."""
    return "".join(" " if ord(ch) < 32 or 127 <= ord(ch) < 160 else ch for ch in str(value))


def _line(row: dict[str, Any], form: str) -> str:
    """One execution as a terminal line or a JSON object."""
    status = getattr(row["status"], "value", row["status"])
    if form == "json":
        return json.dumps(json_row({**row, "status": status}), default=str, ensure_ascii=True)
    preview = _clean(row["query_preview"] or "")[:PREVIEW_CHARS]
    return (
        f"{row['completed_at']:%Y-%m-%d %H:%M:%S}  {_clean(row['agent_name'] or '-'):<20}  "
        f"{status:<9}  {row['execution_time_ms'] or 0:>7} ms  {row['total_tokens'] or 0:>7} tok  "
        f"${float(row['cost_usd'] or 0):.4f}  {preview}"
    )


MIN_EVERY_S, MAX_EVERY_S = 0.1, 3600.0
"""The poll intervals taken: faster would keep the database busy for nothing."""


def run_tail(args: argparse.Namespace, context: CommandContext) -> None:
    """Poll for newly completed executions until Ctrl-C (which exits 0)."""
    if not MIN_EVERY_S <= args.every <= MAX_EVERY_S:  # NaN too
        raise InvalidInputError(
            f"--every must be from {MIN_EVERY_S:g} to {MAX_EVERY_S:g} seconds, e.g. --every 1; "
            f"got {args.every:g}"
        )
    user = context.user_id
    try:
        user_id = uuid.UUID(str(user)) if user else None
    except ValueError:
        raise InvalidInputError(f"--user must be a user id (UUID); got {user!r}") from None
    engine = get_engine(require_database(context.database_url))
    filters = FollowFilters(args.agent, args.status, user_id, args.model)
    mark = FollowMark(_since(args.since))
    try:
        while True:
            with connection_errors(engine.url):
                rows, mark = completed_since(engine, mark, filters)
            for row in rows:
                print(_line(row, args.tail_format), flush=True)
            time.sleep(args.every)
    except KeyboardInterrupt:
        sys.stdout.flush()
