"""`ExecutionRows`: any row range of a sorted, filtered list, read from the nearest known row.

Each range must equal the same rows of one big `executions` page (plain OFFSET, tested on its
own), in every sort and direction, with NULL sort values last, whatever order ranges are read in.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from aa_notebooks.analytics import Analytics, connect
from aa_notebooks.analytics import execution_rows as module
from aa_notebooks.analytics.executions import SORT_COLUMNS
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import AgentExecution
from aa_notebooks.errors import InvalidInputError
from tests.analytics.dataset import NOW, E, eid
from tests.db.rollups.test_record import at, execution, write_batch

NULL_IDS = [eid(21), eid(22)]


@pytest.fixture
def with_nulls(loaded_url: str, analytics: Analytics) -> Analytics:
    """The dataset plus two executions in the 7d window whose numbers were never reported."""
    rows = [
        {
            "id": ident,
            "request_id": uuid.uuid4(),
            "session_id": uuid.uuid4(),
            "status": "success",
            "agent_name": None,
            "model_name": None,
            "input_tokens": None,
            "output_tokens": None,
            "total_tokens": None,
            "cost_usd": None,
            "execution_time_ms": None,
            "query_preview": None,
            "started_at": (NOW - timedelta(hours=k + 2)).replace(tzinfo=None),
        }
        for k, ident in enumerate(NULL_IDS)
    ]
    with get_engine(loaded_url).begin() as connection:
        connection.execute(insert(AgentExecution.__table__), rows)
    return analytics


def listed(frame) -> list[uuid.UUID]:  # type: ignore[no-untyped-def]
    return [uuid.UUID(i) for i in frame["id"]]


def test_cost_order_by_hand(with_nulls: Analytics) -> None:
    down = with_nulls.execution_rows(sort_by="cost_usd", sort_order="desc")
    assert (down.total, down.nulls, down.valued) == (10, 2, 8)
    expected = [E[n] for n in (8, 4, 2, 1, 3, 6, 7, 5)] + sorted(NULL_IDS, reverse=True)
    assert listed(down.rows(0, 100)) == expected
    up = with_nulls.execution_rows(sort_by="cost_usd", sort_order="asc")
    assert listed(up.rows(0, 100)) == [E[n] for n in (5, 7, 6, 3, 1, 2, 4, 8)] + NULL_IDS
    assert listed(up.rows(7, 2)) == [E[8], NULL_IDS[0]]  # across the NULLs' edge
    assert listed(up.rows(9, 5)) == [NULL_IDS[1]]
    assert up.rows(10, 5).empty and up.rows(1000, 5).empty


@pytest.mark.parametrize("sort_by", SORT_COLUMNS)
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_every_range_matches_plain_offset(with_nulls: Analytics, sort_by: str, order: str):
    whole = listed(with_nulls.executions(1, 1000, sort_by=sort_by, sort_order=order).rows)
    assert len(whole) == 10
    rows = with_nulls.execution_rows(sort_by=sort_by, sort_order=order)
    ranges = [(offset, limit) for offset in range(11) for limit in (1, 2, 3)]
    random.Random(15).shuffle(ranges)  # anchors from earlier ranges, in both directions
    for offset, limit in ranges:
        assert listed(rows.rows(offset, limit)) == whole[offset : offset + limit], (offset, limit)


@pytest.mark.parametrize(("known", "wanted"), [(2, 4), (1, 3), (6, 4), (5, 3)])
def test_seeks_from_a_known_row(analytics: Analytics, known: int, wanted: int) -> None:
    """A range two or three rows from one read before, closer than either end of the list, is
    read from that row (forwards or backwards) and must still be the right one."""
    expected = [E[n] for n in (8, 4, 2, 1, 3, 6, 7, 5)]  # cost, most expensive first
    rows = analytics.execution_rows(sort_by="cost_usd")
    assert listed(rows.rows(known, 1)) == [expected[known]]
    assert listed(rows.rows(wanted, 1)) == [expected[wanted]]


def test_filters_scope_and_window(analytics: Analytics, analytics_u1: Analytics) -> None:
    failed = analytics.execution_rows(status="failure", sort_by="execution_time_ms")
    assert failed.total == 2 and listed(failed.rows(0, 5)) == [E[3], E[7]]
    mine = analytics_u1.execution_rows(search="script", min_cost="0.0002")
    assert listed(mine.rows(0, 5)) == [E[6]]
    older = analytics.execution_rows(period="90d", sort_order="asc")
    assert listed(older.rows(0, 2)) == [E[12], E[10]]
    assert older.total == 11


def test_anchors_are_bounded(analytics: Analytics, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "MAX_ANCHORS", 3)
    rows = analytics.execution_rows(sort_by="total_tokens")
    for offset in range(8):
        rows.rows(offset, 1)
    assert rows.anchors == 3


def test_bad_arguments(analytics: Analytics) -> None:
    with pytest.raises(InvalidInputError, match="unknown filter colour; the filters are"):
        analytics.execution_rows(colour="red")
    with pytest.raises(InvalidInputError, match="sort_by must be one of"):
        analytics.execution_rows(sort_by="query_preview")
    with pytest.raises(InvalidInputError, match="min_cost must be a cost"):
        analytics.execution_rows(min_cost="-3")


@pytest.mark.parametrize("sort_by", SORT_COLUMNS)
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_mapped_positions_give_the_same_rows(
    with_nulls: Analytics, monkeypatch: pytest.MonkeyPatch, sort_by: str, order: str
) -> None:
    """The background walk marks every 2nd position of the 8 valued rows (1, 3, 5, 7); a jump
    then starts next to a mark, and every range is still the plain OFFSET one."""
    monkeypatch.setattr(module, "LANDMARK_EVERY", 2)
    whole = listed(with_nulls.executions(1, 1000, sort_by=sort_by, sort_order=order).rows)
    rows = with_nulls.execution_rows(sort_by=sort_by, sort_order=order)
    valued = rows.valued
    rows.start_mapping()
    assert rows.wait_mapped(timeout=30)
    assert rows.landmarks == len(range(1, valued, 2))
    assert rows.anchors == 0  # nothing read yet: seeks below can only use the marks
    for offset in range(valued):
        assert rows._seek(offset, offset + 1).steps <= 1
    for offset in range(11):
        assert listed(rows.rows(offset, 1)) == whole[offset : offset + 1], offset


def test_short_and_closed_lists_are_not_walked(
    analytics: Analytics, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = analytics.execution_rows(sort_by="cost_usd")
    short.start_mapping()  # 8 rows: under twice MIN_LANDMARK_DISTANCE
    assert short.wait_mapped(timeout=30) and short.landmarks == 0
    monkeypatch.setattr(module, "LANDMARK_EVERY", 2)
    closed = analytics.execution_rows(sort_by="cost_usd")
    closed.close()
    closed.start_mapping()
    assert closed.wait_mapped(timeout=30) and closed.landmarks == 0


def test_a_list_counted_later(analytics: Analytics, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over COUNT_AT_ONCE (3 here) rows, a count_later list starts with 3 and learns its 8
    from the background thread; its rows are the plain OFFSET ones before and after."""
    monkeypatch.setattr(module, "COUNT_AT_ONCE", 3)
    whole = listed(analytics.executions(1, 1000).rows)
    assert len(whole) == 8
    rows = analytics.execution_rows(count_later=True)
    assert (rows.total, rows.counted) == (3, False)
    assert listed(rows.rows(0, 5)) == whole[:3]  # only what is counted is listed yet
    told: list[int] = []
    rows.start_mapping(on_counted=told.append)
    assert rows.wait_mapped(timeout=30)
    assert told == [8] and (rows.total, rows.valued, rows.counted) == (8, 8, True)
    for offset in (7, 4, 0, 5):
        assert listed(rows.rows(offset, 2)) == whole[offset : offset + 2]


def test_a_list_with_nulls_counted_later(
    with_nulls: Analytics, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By cost, the 8 valued rows come first (3 counted at once), then the 2 without a cost."""
    monkeypatch.setattr(module, "COUNT_AT_ONCE", 3)
    whole = listed(with_nulls.executions(1, 1000, sort_by="cost_usd", sort_order="asc").rows)
    rows = with_nulls.execution_rows(sort_by="cost_usd", sort_order="asc", count_later=True)
    assert (rows.total, rows.counted) == (3, False)
    rows.start_mapping()
    assert rows.wait_mapped(timeout=30)
    assert (rows.total, rows.nulls, rows.valued, rows.counted) == (10, 2, 8, True)
    for offset in (9, 6, 0, 7):
        assert listed(rows.rows(offset, 2)) == whole[offset : offset + 2]
    monkeypatch.setattr(module, "COUNT_AT_ONCE", 8)
    short = with_nulls.execution_rows(sort_by="cost_usd", count_later=True)
    assert (short.total, short.nulls, short.counted) == (10, 2, True)  # 8 valued: counted


def test_a_list_told_to_stop_walking_is_still_counted(
    analytics: Analytics, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`stop_walk` (a new list is being read) leaves out the marks, not the count: the list
    learns its 8 rows and still reads the plain OFFSET ones."""
    monkeypatch.setattr(module, "COUNT_AT_ONCE", 3)
    monkeypatch.setattr(module, "LANDMARK_EVERY", 2)
    monkeypatch.setattr(module, "MIN_LANDMARK_DISTANCE", 2)
    whole = listed(analytics.executions(1, 1000).rows)
    rows = analytics.execution_rows(count_later=True)
    rows.stop_walk()
    rows.start_mapping()
    assert rows.wait_mapped(timeout=30)
    assert (rows.total, rows.counted, rows.landmarks) == (8, True, 0)
    assert listed(rows.rows(4, 3)) == whole[4:7]
    walked = analytics.execution_rows(count_later=True)
    walked.start_mapping()
    assert walked.wait_mapped(timeout=30) and walked.landmarks == 4  # positions 1, 3, 5, 7


def test_an_unfiltered_list_is_counted_later_from_the_rollups(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over COUNT_AT_ONCE (3 here) rows, the background count of a list with no filter sums the
    rollups (every row but one, written by the writer) and counts raw only the hour an INSERT
    changed behind them: 8 + 1, without counting the window's rows. A filtered list counts its
    rows."""
    written = [execution(at(h, 10, day=2), status="failure" if h < 2 else "success")
               for h in range(8)]  # fmt: skip
    write_batch(get_engine(db_url), written)
    behind = {**written[0].execution, "id": uuid.uuid4(), "started_at": at(9, 30, day=2)}
    with get_engine(db_url).begin() as connection:
        connection.execute(insert(AgentExecution.__table__), [behind])
    monkeypatch.setattr(module, "COUNT_AT_ONCE", 3)
    whole_counts: list[str] = []
    count = module.ExecutionRows._count

    def watched(self, connection, extra, limit=None):  # type: ignore[no-untyped-def]
        if not extra and limit is None:
            whole_counts.append(self.filters.status or "all")
        return count(self, connection, extra, limit)

    monkeypatch.setattr(module.ExecutionRows, "_count", watched)
    client = connect(db_url, now=lambda: datetime(2024, 6, 3, tzinfo=UTC))
    rows = client.execution_rows(period="7d", count_later=True)
    assert (rows.total, rows.counted) == (3, False)
    rows.start_mapping()
    assert rows.wait_mapped(timeout=30)
    assert (rows.total, rows.counted, whole_counts) == (9, True, [])
    failed = client.execution_rows(period="7d", status="failure", count_later=True)
    assert failed.counted and failed.total == 3  # 2 written + the copy of the first
    many = client.execution_rows(period="7d", status="success", count_later=True)
    many.start_mapping()
    assert many.wait_mapped(timeout=30)
    assert (many.total, whole_counts) == (6, ["failure", "success"])  # counted at once, later
