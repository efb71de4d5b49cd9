"""`anomalies`: days on which an agent's or a model's cost, P95 latency or failure rate broke
from its own recent past.

The database sums each (UTC day, agent or model) over the window and the baseline days before it:
from the rollups' per-day (agent, model) rows where they hold those days (one read serves both
groupings), else one grouped pass per day (`per_bucket`, as `cost_timeseries` does); only that
small per-day series comes to Python. Each day is compared with a robust baseline from the group's
previous `baseline_days` days: their median, taken over the same weekday only when at least 3 of
them fall on it (weekly seasonality), and the MAD (median absolute deviation) of all of them. The
spread comes from all days because the MAD of 3-4 same-weekday days is too unsteady: on the kit's
seeded data it flagged dozens of ordinary days. The robust z is (value - median) / (1.4826 x MAD);
where MAD is 0 the scale is 1.2533 x the mean absolute deviation, and where that is 0 too (a
perfectly flat past) any change gives an infinite z. A day counts only with at least 10 executions
of the group (rates and percentiles of a handful of runs are noise), and is flagged when |z|
reaches the threshold *and* the change is material, so a quiet series does not alarm on noise.

Only complete days are judged, so a dashboard refresh usually reads the very rows the scan
before it read: the last few scans' findings are kept by a fingerprint of what they read (the
rollup rows, and the raw rows of partial hours and of hours changed behind the rollups), and a
late row, a delete or a rebuild that changes those figures makes a new scan.
"""

from __future__ import annotations

import math
import statistics
import threading
import uuid
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple, cast

import numpy as np
from sqlalchemy import Connection, RowMapping, func

from aa_notebooks.analytics.agent_names import newest_where_renamed
from aa_notebooks.analytics.buckets import per_bucket
from aa_notebooks.analytics.choices import ANOMALY_BY, AnomalyBy, choose
from aa_notebooks.analytics.filters import (
    EXECUTIONS,
    agent_column,
    in_scope,
    is_success,
    key_groups,
)
from aa_notebooks.analytics.frames import rounded, to_frame
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import Table
from aa_notebooks.analytics.rollup_buckets import Cells, KeyOf, read_cells, sketch_plan
from aa_notebooks.analytics.rollup_source import RAW, ROLLUP, sketch_note
from aa_notebooks.analytics.source import Source
from aa_notebooks.db.rollups.dims import as_uuid
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.validation import check_text

ANOMALY_COLUMNS = (
    "day", "by", "group", "metric", "value", "baseline_median", "baseline_mad", "z",
    "direction", "baseline", "baseline_points",
)  # fmt: skip
METRICS = ("cost_usd", "p95_ms", "failure_rate")
MIN_HISTORY = 14
"""Days with executions a group needs in its baseline before one of its days is judged."""
MIN_BASELINE_DAYS, MAX_BASELINE_DAYS = MIN_HISTORY, 365
MIN_RUNS = 10
"""Executions a group needs on a day for the day to count: rates and percentiles of a handful
of runs are noise."""
SEASONAL_POINTS = 3
"""Same-weekday days the baseline needs before it compares a day with its weekday only."""
MAD_SCALE = 1.4826  # MAD x this estimates the standard deviation of normal data
MEAN_AD_SCALE = 1.253314  # likewise for the mean absolute deviation (when MAD is 0)
COST_FLOOR_USD = 0.01
FAILURE_FLOOR_POINTS = 5.0
LATENCY_FLOOR_SHARE = 0.10
_DAY = timedelta(days=1)

Key = Any
Row = Mapping[str, Any] | RowMapping
"""A group: a model name, or an agent as (agent_id, name when it has no id)."""


class DayFigures(NamedTuple):
    """One group's figures on one UTC day (p95_ms None when no execution had a duration); a
    tuple, as a 90-day scan makes thousands."""

    cost_usd: float
    p95_ms: float | None
    failure_rate: float

    def metric(self, name: str) -> float | None:
        """The figure called `name` (one of METRICS)."""
        value: float | None = getattr(self, name)
        return value


def check_arguments(
    by: str | Sequence[str], baseline_days: int, threshold: float
) -> tuple[AnomalyBy, ...]:
    """`by` (one choice or several) as choices; InvalidInputError for an unknown one, none, or a
    baseline or threshold out of range."""
    given = [by] if isinstance(by, str) else list(by)
    choices = tuple(dict.fromkeys(choose(item, ANOMALY_BY, "by") for item in given))
    if not choices:
        raise InvalidInputError(f"by needs at least one of {', '.join(ANOMALY_BY)}; got none")
    if (
        isinstance(baseline_days, bool)
        or not isinstance(baseline_days, int)
        or not MIN_BASELINE_DAYS <= baseline_days <= MAX_BASELINE_DAYS
    ):
        raise InvalidInputError(
            f"baseline_days must be a whole number {MIN_BASELINE_DAYS}-{MAX_BASELINE_DAYS}; "
            f"got {baseline_days!r}"
        )
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not math.isfinite(threshold)
        or threshold <= 0
    ):
        raise InvalidInputError(f"threshold must be a number above 0, e.g. 3.5; got {threshold!r}")
    return choices


def judged_days(window: Window, now: datetime) -> list[date]:
    """The complete UTC days the window touches: a day still under way is not judged."""
    lower, upper = window.bounds()
    first = _midnight(lower.astimezone(UTC).date())
    end = min(upper, now)
    days = []
    while first + _DAY <= end:
        days.append(first.date())
        first += _DAY
    return days


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


Series = dict[Key, dict[date, DayFigures]]


def daily_figures(
    source: Source,
    span: Window,
    bys: Sequence[AnomalyBy],
    *,
    exact: bool = False,
) -> dict[AnomalyBy, tuple[Series, dict[Key, str | None]]]:
    """For each grouping in `bys`, per group and UTC day of `span`: its figures (days under
    MIN_RUNS executions left out), and each group's label (the model, or the agent's newest
    name, else its id). The figures an anomaly scan judges, for an audit of them (the scan
    itself reads through `_read_days`, to keep its findings by what it read).

    The rollups answer a span they hold (unless `exact`; a narrowed source narrows them too):
    sums from their (agent, model) rows per day, read once for every grouping, P95 from the raw
    rows up to EXACT_BUCKET_PERCENTILES_UP_TO executions, else from the merged sketches."""
    found = _read_days(source, span, bys, exact)
    if isinstance(found, tuple):
        cells, newest = found
        return {by: _rollup_series(cells, by, newest) for by in bys}
    return found


def _read_days(
    source: Source, span: Window, bys: Sequence[AnomalyBy], exact: bool
) -> tuple[Cells, dict[uuid.UUID, str]] | dict[AnomalyBy, tuple[Series, dict[Key, str | None]]]:
    """The span's rollup cells per day, with the newest names of the agents renamed in them;
    where the rollups do not answer it (or `exact`), each grouping's figures from the raw rows."""
    with source.connect() as connection:
        plan = None if exact else sketch_plan(source, span, connection)
        if plan is None:
            return {by: _raw_daily_figures(source, span, by, connection) for by in bys}
        cells = read_cells(source, plan, "day", connection)
        names = ((as_uuid(agent_id), name, name) for agent_id, name, _ in cells.combo_index)
        return cells, newest_where_renamed(source, connection, names, span.bounds()[1])


def _raw_daily_figures(
    source: Source,
    span: Window,
    by: AnomalyBy,
    connection: Connection,
) -> tuple[Series, dict[Key, str | None]]:
    """`daily_figures` from the raw rows, one grouped pass per day."""
    c = EXECUTIONS.c
    measures = [
        func.count(c.started_at).label("executions"),
        func.sum(is_success()).label("successes"),
        source.dialect.latency_percentiles(c.execution_time_ms).label("percentiles"),
        source.dialect.money_sum(c.cost_usd).label("cost"),
    ]
    keys, groups = key_groups(source.dialect, by)
    queries = per_bucket(span, "day", measures, in_scope(source), keys, groups)
    rows = [r._mapping for query in queries for r in connection.execute(query)]
    newest = {}
    if by == "agent":
        names = ((row["agent_id"], row["least_name"], row["agent_name"]) for row in rows)
        newest = newest_where_renamed(source, connection, names, span.bounds()[1])
    series: Series = {}
    labels: dict[Key, str | None] = {}
    for row in rows:
        key = _key(by, row)
        executions = row["executions"]
        renamed = newest.get(key[0]) if by == "agent" else None
        labels[key] = renamed or _label(by, key, row, labels.get(key))
        if executions < MIN_RUNS:
            continue
        series.setdefault(key, {})[row["bucket"].date()] = DayFigures(
            cost_usd=float(source.dialect.to_money(row["cost"])),
            p95_ms=source.dialect.read_percentiles(row["percentiles"]).p95,
            failure_rate=(executions - (row["successes"] or 0)) / executions * 100,
        )
    return series, labels


def _grouping(by: AnomalyBy) -> KeyOf:
    """The group key of an (agent_id, agent_name, model) for `by`."""
    if by == "model":
        return lambda _agent_id, _agent_name, model: model
    return lambda agent_id, agent_name, _model: (agent_id, None if agent_id else agent_name)


def _rollup_series(
    cells: Cells, by: AnomalyBy, newest: Mapping[uuid.UUID, str]
) -> tuple[Series, dict[Key, str | None]]:
    """One grouping's figures per day (P95 from the merged sketches) and its labels (`newest`
    for a renamed agent), from the rollups' per-day (agent, model) rows and the raw pieces."""
    group = _grouping(by)
    series: Series = {}
    for (start, key), day in cells.figures(group, 0.95).items():
        if start is None or day.executions < MIN_RUNS:
            continue
        series.setdefault(key, {})[start.date()] = DayFigures(
            cost_usd=float(day.cost),
            p95_ms=rounded(day.quantile),
            failure_rate=(day.executions - day.successes) / day.executions * 100,
        )
    if by == "model":
        return series, {key: cast(str | None, key) for key in cells.names(group)}
    labels: dict[Key, str | None] = {}
    for key, name in cells.names(group).items():
        agent_id = cast(tuple[Any, Any], key)[0]
        labels[key] = newest.get(agent_id) or name or (None if agent_id is None else str(agent_id))
    return series, labels


def _key(by: AnomalyBy, row: Row) -> Key:
    return row["model"] if by == "model" else (row["agent_id"], row["by_name"])


def _label(by: AnomalyBy, key: Key, row: Row, known: str | None) -> str | None:
    if by == "model":
        return row["model"]  # type: ignore[no-any-return]
    name = max(filter(None, (known, row["agent_name"])), default=None)
    return name or (None if key[0] is None else str(key[0]))


def material(metric: str, value: float, median: float) -> bool:
    """Whether a change is big enough to matter whatever the z: $0.01 of cost, 5 points of
    failure rate, 10 % of latency."""
    change = abs(value - median)
    if metric == "cost_usd":
        return change >= COST_FLOOR_USD
    if metric == "failure_rate":
        return change >= FAILURE_FLOOR_POINTS
    return change > 0 and change >= LATENCY_FLOOR_SHARE * abs(median)


@dataclass(frozen=True)
class Judged:
    """A metric's judged days of one group, as arrays with one entry per day."""

    rows: np.ndarray
    """Which of the days given to `judge` these are (their indices)."""
    value: np.ndarray
    median: np.ndarray
    """The baseline's median: of the same weekday's past days, or of all of them."""
    mad: np.ndarray
    """The MAD of all past days."""
    z: np.ndarray
    """Robust z; infinite against a perfectly flat past, NaN when that past is not left."""
    weekday: np.ndarray
    """Whether the median is of the same weekday's days."""
    points: np.ndarray
    """How many days the median is of."""


def judge(line: np.ndarray, rows: np.ndarray, baseline_days: int) -> Judged:
    """Robust z of the days at `rows` of a daily series (NaN: no figure) against the
    `baseline_days` before each (see the module's docstring), for every day at once; days
    without a figure or with under MIN_HISTORY past days are left out."""
    windows = np.lib.stride_tricks.sliding_window_view(line, baseline_days)[rows - baseline_days]
    past = (~np.isnan(windows)).sum(axis=1)
    kept = ~np.isnan(line[rows]) & (past >= MIN_HISTORY)
    windows, past, rows = windows[kept], past[kept], rows[kept]
    value = line[rows]
    centre = _row_medians(windows)
    deviations = np.abs(windows - centre[:, None])
    mad = _row_medians(deviations)
    like = windows[:, np.arange(baseline_days - 7, -1, -7)]  # 7, 14, ... days before
    like_points = (~np.isnan(like)).sum(axis=1)
    weekday = like_points >= SEASONAL_POINTS
    median = centre.copy()
    median[weekday] = _row_medians(like[weekday])
    scale = MAD_SCALE * mad
    for row in np.flatnonzero(scale == 0).tolist():  # a MAD of 0: the mean absolute deviation
        found = deviations[row][~np.isnan(deviations[row])]
        scale[row] = MEAN_AD_SCALE * statistics.fmean(found.tolist())
    change = value - median
    with np.errstate(divide="ignore", invalid="ignore"):  # a flat past: any change is infinite
        z = np.where(scale != 0, change / scale, np.sign(change) * np.inf)  # no change: NaN
    points = np.where(weekday, like_points, past)
    return Judged(rows, value, median, mad, z, weekday, points)


def _row_medians(matrix: np.ndarray) -> np.ndarray:
    """The median of each row's numbers (NaN left out; every row has one), the middle one or
    the mean of the middle two, as `statistics.median` gives."""
    ordered = np.sort(matrix, axis=1)  # NaN last
    counts = (~np.isnan(matrix)).sum(axis=1)
    low = np.take_along_axis(ordered, ((counts - 1) // 2)[:, None], axis=1)[:, 0]
    high = np.take_along_axis(ordered, (counts // 2)[:, None], axis=1)[:, 0]
    return (low + high) / 2  # type: ignore[no-any-return]


def find_anomalies(
    series: Mapping[Key, Mapping[date, DayFigures]],
    labels: Mapping[Key, str | None],
    days: Sequence[date],
    by: AnomalyBy,
    baseline_days: int,
    threshold: float,
) -> list[dict[str, Any]]:
    """The flagged (day, group, metric) records, most extreme |z| first."""
    records: list[dict[str, Any]] = []
    for key, figures in series.items():
        judged = sorted(day for day in days if day in figures)
        if not judged:
            continue
        first = judged[0] - timedelta(days=baseline_days)
        rows = np.array([(day - first).days for day in judged])
        span = int(rows[-1]) + 1
        for metric in METRICS:
            line = np.full(span, np.nan)
            for day, figure in figures.items():
                offset = (day - first).days
                if 0 <= offset < span and (value := figure.metric(metric)) is not None:
                    line[offset] = value
            found = judge(line, rows, baseline_days)
            for at in np.flatnonzero(np.abs(found.z) >= threshold).tolist():
                value, median = float(found.value[at]), float(found.median[at])
                if not material(metric, value, median):
                    continue
                z = float(found.z[at])
                day = first + timedelta(days=int(found.rows[at]))
                records.append({
                    "day": _midnight(day), "by": by, "group": labels[key], "metric": metric,
                    "value": rounded(value), "baseline_median": rounded(median),
                    "baseline_mad": rounded(float(found.mad[at])),
                    "z": z if math.isinf(z) else rounded(z), "direction": "up" if z > 0 else "down",
                    "baseline": "weekday" if found.weekday[at] else "all days",
                    "baseline_points": int(found.points[at]),
                })  # fmt: skip
    records.sort(key=lambda r: (-abs(r["z"]), r["day"], r["group"] or "", r["metric"]))
    return records


def _flag(
    figures: Mapping[AnomalyBy, tuple[Series, dict[Key, str | None]]],
    days: Sequence[date],
    baseline_days: int,
    threshold: float,
) -> list[dict[str, Any]]:
    """Every grouping's flagged records, most extreme |z| first (ties keep the groupings' order)."""
    records: list[dict[str, Any]] = []
    for by, (series, labels) in figures.items():
        records += find_anomalies(series, labels, days, by, baseline_days, threshold)
    records.sort(key=lambda record: -abs(record["z"]))  # stable: each grouping's own order
    return records


class _Scans:
    """The flagged records of the last few scans from the rollups, by what they read.

    A scan judges complete days only, so a refresh usually reads exactly what the scan before
    it read; the figures and the judgement are then most of its time (a 90-day scan at 1M
    executions: about 40 of 70 ms), and the same cells give the same records. A late row, a
    delete or a rebuild changes the cells, and so the scan."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[Hashable, list[dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()  # the dashboard loads its panels on several threads

    def get(self, scan: Hashable) -> list[dict[str, Any]] | None:
        """The findings kept for `scan`, if any (the most recently used are kept longest)."""
        with self._lock:
            if (found := self._kept.get(scan)) is not None:
                self._kept.move_to_end(scan)
            return found

    def clear(self) -> None:
        """Forget every scan."""
        with self._lock:
            self._kept.clear()

    def keep(self, scan: Hashable, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Keep `records` as `scan`'s findings (the least recently used go first); returns them."""
        with self._lock:
            self._kept[scan] = records
            if len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return records


_SCANS = _Scans(size=8)


def forget_scans() -> None:
    """Forget the findings kept from earlier scans (to time a first scan, or after changing
    this module's thresholds)."""
    _SCANS.clear()


def narrowed(source: Source, agent: uuid.UUID | str | None, model: str | None) -> Source:
    """`source` kept to one agent's (id or name) and/or one model's executions."""
    if agent is not None:
        source = source.narrowed(*agent_column(agent))
    if model is not None:
        source = source.narrowed("model_name", check_text(model, "model"))
    return source


def anomalies(
    source: Source,
    window: Window,
    now: datetime,
    by: str | Sequence[str] = "agent",
    baseline_days: int = 28,
    threshold: float = 3.5,
    *,
    exact: bool = False,
) -> Table:
    """The window's anomalous days per agent or model (or both, `by` a list: one read of the
    database for both), most extreme first.

    Columns: day (its 00:00, aware UTC), by ("agent" or "model"), group (the agent's name,
    else its id; or the model), metric ("cost_usd", "p95_ms" or "failure_rate": % failed or
    timed out), value, baseline_median, baseline_mad, z (robust z; inf against a perfectly flat
    past), direction ("up" or "down"), baseline ("weekday" or "all days") and baseline_points.
    Only complete UTC days with executions are judged, and only once the group has MIN_HISTORY
    days of history. With several groupings, ties in |z| keep the order of `by`.
    """
    choices = check_arguments(by, baseline_days, threshold)
    days = judged_days(window, now)
    records: list[dict[str, Any]] = []
    origin = RAW
    if days:
        first, last = _midnight(days[0]), _midnight(days[-1]) + _DAY
        span = Window(first - baseline_days * _DAY, last, False, f"{window.label} and baseline")
        found = _read_days(source, span, choices, exact)
        if isinstance(found, tuple):
            origin = ROLLUP
            cells, newest = found
            names = tuple(sorted((str(agent), name) for agent, name in newest.items()))
            scan = (cells.digest(), names, tuple(days), choices, baseline_days, threshold)
            flagged = _SCANS.get(scan)
            if flagged is None:
                figures = {by: _rollup_series(cells, by, newest) for by in choices}
                flagged = _SCANS.keep(scan, _flag(figures, days, baseline_days, threshold))
            records = flagged  # to_frame only reads them
        else:
            records = _flag(found, days, baseline_days, threshold)
    frame = to_frame(
        records,
        ANOMALY_COLUMNS,
        times=("day",),
        floats=("value", "baseline_median", "baseline_mad", "z"),
    )
    notes: tuple[str, ...] = () if days else ("the window holds no complete UTC day to judge",)
    if origin == ROLLUP:
        notes = (*notes, sketch_note("P95 per day"))
    return Table(
        f"Anomalies by {' and '.join(choices)}", window, source.scope, frame, notes,
        source=origin,
    )  # fmt: skip
