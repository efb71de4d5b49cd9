"""Row ranges of a filtered, sorted executions list, for grids that scroll through millions.

A plain `OFFSET n` makes the database step over n rows, so a page deep in a million-row list
costs as much as reading up to it. `ExecutionRows` counts the list once, then answers each range
from the closest place it knows: the start, the end (the order reversed), or a row it has served
before (a keyset seek from that row's sort key and id), stepping only over the rows in between.
It keeps those places (sort key and id, never rows), a bounded number of them.

A jump far into a list it has not read there (a scrollbar dragged to the middle) would still
step over half the list. `start_mapping` walks a long list once in a background thread, marking
positions at most LANDMARK_EVERY rows apart (at most MAX_LANDMARKS of them; a sparse list such as
a text search, whose rows lie far apart in the table, gets marks closer together), so that
afterwards any jump steps over at most half the distance between two marks.
A list made with `count_later` counts only its first `COUNT_AT_ONCE` rows before it is shown and
the rest in that same background thread: counting a text search over a million rows reads every
one of them.

The order is the sort column, then id; NULLs last in both directions (as `executions` sorts).
The rows with a value come first, then those without (by id), each part read through its own
index range, so both directions seek through an index on (column, id).
"""

from __future__ import annotations

import copy
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, String, and_, cast, func, literal, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from aa_notebooks.analytics.filters import EXECUTIONS, ExecutionFilter, in_scope
from aa_notebooks.analytics.frames import to_frame
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.rollup_source import read_plan, window_executions
from aa_notebooks.analytics.source import Source
from aa_notebooks.errors import AnalyticsError

logger = logging.getLogger(__name__)

MAX_ANCHORS = 64
"""Known positions kept per list (two per range served); the oldest are forgotten first."""
TEXT_SORTS = ("agent_name", "model_name", "status")
SORT_IN_INDEX_ABOVE = 50_000
"""Lists longer than this, sorted by another column than started_at, are read in the order of
that column's index; shorter ones are sorted after reading the window through its index."""
LANDMARK_EVERY = 10_000
"""The most rows between two positions marked by `start_mapping`."""
MAX_LANDMARKS = 100
MIN_LANDMARK_DISTANCE = 500
"""Lists up to twice this are not walked: a jump in them steps over a few hundred rows."""
COUNT_AT_ONCE = 1_000
"""Rows a `count_later` list counts before it is shown; the rest are counted in the background."""


@dataclass(frozen=True)
class _Seek:
    """One way to reach a range: from `anchor` (or the list's edge) stepping `skip` rows."""

    steps: int
    reverse: bool
    skip: int
    anchor: tuple[Any, uuid.UUID] | None


class ExecutionRows:
    """A window's executions matching `filters`, sorted, read by row range (`rows`).

    `total` is counted when the list is made: it is a view of the database at that moment, and
    rows recorded later show up only in a new list. With `count_later`, a list holding more
    than COUNT_AT_ONCE rows with a sort value starts with that many (`counted` False) and gets
    its exact total from `start_mapping`'s thread.
    """

    def __init__(
        self,
        source: Source,
        window: Window,
        filters: ExecutionFilter,
        sort_by: str,
        sort_order: str,
        *,
        count_later: bool = False,
    ) -> None:
        # Imported here: executions.py builds pages on top of this module.
        from aa_notebooks.analytics.executions import _check_paging, execution_columns

        self._source = source
        self.window = window
        self.filters = filters
        self.sort_by = sort_by
        self.sort_order = _check_paging(1, 1, sort_by, sort_order)
        self._columns = execution_columns(source)
        self._clauses = [*in_scope(source), *filters.clauses()]
        self._anchors: OrderedDict[int, tuple[Any, uuid.UUID]] = OrderedDict()
        self._landmarks: dict[int, tuple[Any, uuid.UUID]] = {}
        self._stop = threading.Event()
        self._no_walk = threading.Event()
        self._walker: threading.Thread | None = None
        key: ColumnElement[Any] = EXECUTIONS.c[sort_by]
        self._raw_key = key
        if sort_by in TEXT_SORTS:
            key = source.dialect.text_order(cast(key, String))
        self._key = key
        self.total = 0
        self.counted = True
        """Whether `total` is exact (False while a count_later list is counted)."""
        self.nulls = 0
        with source.connect() as connection:
            if count_later:
                first = self._count(connection, self._has_value(), limit=COUNT_AT_ONCE + 1)
                self.counted = first <= COUNT_AT_ONCE
            if self.counted:
                self.total, self.nulls = self._totals(connection)
            else:
                self.total = COUNT_AT_ONCE  # rows with a value: the NULLs come after them
        self.valued = self.total - self.nulls
        """Rows with a sort value (they come before the NULLs)."""

    def _has_value(self) -> list[ColumnElement[bool]]:
        """Rows with a sort value; started_at is never NULL inside a window, others may be."""
        return [] if self.sort_by == "started_at" else [self._raw_key.isnot(None)]

    def _totals(self, connection: Connection, *, rollups: bool = False) -> tuple[int, int]:
        """The rows of the list and those of them without a sort value. With `rollups`, a list
        without filters (only the window and the scope) counts from the rollups where they hold
        the window: a few summed rows instead of every row of a million-row window."""
        total = self._rollup_count(connection) if rollups else None
        if total is None:
            total = self._count(connection, [])
        nulls = (
            0
            if self.sort_by == "started_at"
            else self._count(connection, [self._raw_key.is_(None)])
        )
        return total, nulls

    def _rollup_count(self, connection: Connection) -> int | None:
        """The window's executions as the rollups count them (exactly the raw count; hours
        changed behind them are counted raw); None for a filtered list or where they do not
        hold the window."""
        if self.filters.clauses():
            return None
        plan = read_plan(self._source, self.window, connection)
        return None if plan is None else window_executions(self._source, plan, connection)

    def grown(self, window: Window, added: int) -> ExecutionRows:
        """This list over `window` (the same start, a later end) holding `added` more rows that
        the caller counted (a live tick), without counting the window again. Only for a list
        sorted by started_at without filters; known positions are dropped (rows moved)."""
        if self.sort_by != "started_at" or self.filters.clauses() or not self.counted:
            raise ValueError("only a counted started_at list without filters grows by a count")
        grown = copy.copy(self)
        grown.window, grown.total, grown.valued = window, self.total + added, self.valued + added
        grown._anchors = OrderedDict()
        grown._landmarks, grown._stop, grown._walker = {}, threading.Event(), None
        grown._no_walk = threading.Event()
        return grown

    @property
    def takes_count(self) -> bool:
        """Whether `take_count` may give this list its total: one not yet counted, sorted by
        started_at without filters, so its rows are exactly the window's executions."""
        return (
            not self.counted
            and self._walker is None
            and self.sort_by == "started_at"
            and not self.filters.clauses()
        )

    def take_count(self, total: int) -> None:
        """Take the list's exact total from the caller instead of counting it in the background:
        the dashboard's overview of the same window and scope, which the rollups sum without
        reading every row (a count of a million executions competed with the next refresh)."""
        if not self.takes_count:
            raise ValueError("only a list not yet counted, by started_at without filters")
        self.total = self.valued = total
        self.nulls = 0
        self.counted = True

    @property
    def anchors(self) -> int:
        """How many known positions the list keeps (bounded by MAX_ANCHORS)."""
        return len(self._anchors)

    @property
    def landmarks(self) -> int:
        """How many positions the background walk has marked so far."""
        return len(self._landmarks)

    def start_mapping(self, on_counted: Callable[[int], None] | None = None) -> None:
        """In a background thread (once; `close` stops it): count a list not yet counted, then
        call `on_counted` with its total; mark positions of a long list.
        Pages read meanwhile use what is known so far."""
        if self.closed or self._walker is not None:
            return
        if self.counted and self.valued <= 2 * self._distance():
            return
        self._walker = threading.Thread(
            target=self._background, args=(on_counted,), name="aa-execution-rows", daemon=True
        )
        self._walker.start()

    def wait_mapped(self, timeout: float | None = None) -> bool:
        """Wait for the background walk to end; whether it has (True when none was started)."""
        if self._walker is not None:
            self._walker.join(timeout)
            return not self._walker.is_alive()
        return True

    def close(self) -> None:
        """Stop the background walk (the list is no longer shown); pages still work."""
        self._stop.set()

    def stop_walk(self) -> None:
        """Stop marking positions (another list is about to replace this one and its queries
        should not wait behind the walk); a count in progress still finishes, pages still work."""
        self._no_walk.set()

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._stop.is_set()

    def _background(self, on_counted: Callable[[int], None] | None) -> None:
        """The exact count when it was put off, then the walk."""
        try:
            if not self.counted:
                with self._source.connect() as connection:
                    total, nulls = self._totals(connection, rollups=True)
                if self._stop.is_set():
                    return
                self.total, self.nulls, self.valued = total, nulls, total - nulls
                self.counted = True
                if on_counted is not None:
                    on_counted(total)
            if self.valued > 2 * self._distance():
                self._walk()
        except (SQLAlchemyError, AnalyticsError) as exc:  # the database went away, or a row
            # another program wrote cannot be read: this list stays as it is
            logger.warning("stopped counting or marking the executions list: %s", exc)

    def _distance(self) -> int:
        """Rows between two marks: LANDMARK_EVERY, closer in shorter lists, down to
        MIN_LANDMARK_DISTANCE."""
        return min(LANDMARK_EVERY, max(MIN_LANDMARK_DISTANCE, -(-self.valued // MAX_LANDMARKS)))

    def _walk(self) -> None:
        """Seek `_distance()` rows on from the last mark, one short query at a time, so the
        database is never held for long and `close` stops the walk between two steps."""
        position, anchor, distance = -1, None, self._distance()
        while not (self._stop.is_set() or self._no_walk.is_set()):
            target = position + distance
            if target >= self.valued:
                return
            skip = target if anchor is None else target - position - 1
            with self._source.connect() as connection:
                found = self._valued_ids(connection, _Seek(skip, False, skip, anchor), 1)
            if not found:
                return  # rows deleted since the count: the marks so far stay right
            position, anchor = target, found[0]
            self._landmarks[position] = anchor

    # --- SQL pieces -------------------------------------------------------------------------

    def _window(self, seek_bound: str | None) -> list[ColumnElement[bool]]:
        """The window's bounds; for a started_at keyset, the side the seek bounds is left out,
        since SQLite would range over the window's bound instead of the tighter seek.

        Sorted by another column, a long list is read in that column's index order, checking
        the window on each row; SQLite would rather sort the whole window (0.6 s at 1M rows),
        so there the window's bounds are kept off the started_at index.
        """
        lower, upper = self.window.bounds()
        started: ColumnElement[Any] = EXECUTIONS.c.started_at
        if self.sort_by != "started_at" and self.total > SORT_IN_INDEX_ABOVE:
            started = self._source.dialect.group_key(started)
        return [
            *([started >= lower] if seek_bound != "lower" else []),
            *([started < upper] if seek_bound != "upper" else []),
        ]

    def _count(
        self, connection: Connection, extra: list[ColumnElement[bool]], limit: int | None = None
    ) -> int:
        """Rows of the list (matching `extra` too); at most `limit` of them when given."""
        where = [*self._window(None), *self._clauses, *extra]
        if limit is None:
            query = select(func.count()).where(*where)
        else:
            first = select(literal(1).label("one")).where(*where).limit(limit).subquery()
            query = select(func.count()).select_from(first)
        return int(connection.execute(query).scalar_one())

    def _descending(self, reverse: bool) -> bool:
        return (self.sort_order == "desc") != reverse

    def _after(self, anchor: tuple[Any, uuid.UUID], descending: bool) -> ColumnElement[bool]:
        """Rows strictly after `anchor` in the order (key, id) read in that direction."""
        key, ident = anchor
        column, ids = self._key, EXECUTIONS.c.id
        if descending:
            return and_(column <= key, or_(column < key, ids < ident))
        return and_(column >= key, or_(column > key, ids > ident))

    def _valued_ids(
        self, connection: Connection, seek: _Seek, limit: int
    ) -> list[tuple[Any, uuid.UUID]]:
        """(key, id) of `limit` valued rows after the seek's anchor, in the list's order."""
        descending = self._descending(seek.reverse)
        where = [*self._clauses]
        bound = None
        if seek.anchor is not None:
            where.append(self._after(seek.anchor, descending))
            if self.sort_by == "started_at":
                bound = "upper" if descending else "lower"
        if self.sort_by != "started_at":
            where.append(self._raw_key.isnot(None))
        order = [self._key, EXECUTIONS.c.id]
        query = (
            select(self._key.label("sort_key"), EXECUTIONS.c.id)
            .where(*self._window(bound), *where)
            .order_by(*(c.desc() if descending else c.asc() for c in order))
            .limit(limit)
            .offset(seek.skip)
        )
        found = [(row.sort_key, row.id) for row in connection.execute(query)]
        return found[::-1] if seek.reverse else found

    def _null_ids(self, connection: Connection, offset: int, limit: int) -> list[uuid.UUID]:
        ids = EXECUTIONS.c.id
        query = (
            select(ids)
            .where(*self._window(None), *self._clauses, self._raw_key.is_(None))
            .order_by(ids.desc() if self.sort_order == "desc" else ids.asc())
            .limit(limit)
            .offset(offset)
        )
        return list(connection.execute(query).scalars())

    # --- choosing where to start ----------------------------------------------------------

    def _seek(self, start: int, stop: int) -> _Seek:
        """The cheapest way to read valued rows [start, stop): fewest rows stepped over."""
        options = [_Seek(start, False, start, None)]
        if self.counted:  # the end is known
            options.append(_Seek(self.valued - stop, True, self.valued - stop, None))
        known = {**self._landmarks.copy(), **self._anchors}
        for position, anchor in known.items():
            if position < start:
                skip = start - position - 1
                options.append(_Seek(skip, False, skip, anchor))
            elif position >= stop:
                skip = position - stop
                options.append(_Seek(skip, True, skip, anchor))
        return min(options, key=lambda option: option.steps)

    def _remember(self, position: int, anchor: tuple[Any, uuid.UUID]) -> None:
        self._anchors[position] = anchor
        self._anchors.move_to_end(position)
        while len(self._anchors) > MAX_ANCHORS:
            self._anchors.popitem(last=False)

    # --- reading ----------------------------------------------------------------------------

    def ids(self, offset: int, limit: int) -> list[uuid.UUID]:
        """The ids of rows [offset, offset + limit) of the list (fewer at its end)."""
        stop = min(offset + limit, self.total)
        if offset >= stop:
            return []
        found: list[uuid.UUID] = []
        with self._source.connect() as connection:
            if offset < self.valued:
                valued_stop = min(stop, self.valued)
                seek = self._seek(offset, valued_stop)
                keyed = self._valued_ids(connection, seek, valued_stop - offset)
                if keyed:
                    self._remember(offset, keyed[0])
                    self._remember(offset + len(keyed) - 1, keyed[-1])
                found = [ident for _, ident in keyed]
            if stop > self.valued:
                first = max(offset - self.valued, 0)
                found += self._null_ids(connection, first, stop - self.valued - first)
        return found

    def rows(self, offset: int, limit: int) -> pd.DataFrame:
        """Rows [offset, offset + limit) of the list, every column of `executions`."""
        ids = self.ids(offset, limit)
        return self._records(ids)

    def _records(self, ids: Sequence[uuid.UUID]) -> pd.DataFrame:
        from aa_notebooks.analytics.executions import execution_record

        records: dict[uuid.UUID, dict[str, Any]] = {}
        if ids:
            query = select(*self._columns).where(EXECUTIONS.c.id.in_(ids))
            with self._source.connect() as connection:
                for row in connection.execute(query):
                    record = execution_record(self._source, row)
                    records[record["id"]] = record
        ordered = [records[i] for i in ids if i in records]  # a row deleted since is left out
        names = [str(c.key) for c in self._columns]
        return to_frame(ordered, names, times=("started_at", "completed_at"), money=("cost_usd",))
