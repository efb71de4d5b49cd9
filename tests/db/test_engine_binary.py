"""`BINARY_RESULTS`: a rollup read asks PostgreSQL for its rows in the binary format; the values
are the ones the text format gives, and other statements keep the text format."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import event, select

from aa_notebooks.db.engine import BINARY_RESULTS, get_engine
from aa_notebooks.db.rollups.sketch import Sketch
from aa_notebooks.db.schema import LatencyRollupDay
from tests.db.rollups.helpers import ALICE

DAY = LatencyRollupDay.__table__


def test_rollup_rows_read_in_binary_equal_the_text_ones(db_url: str) -> None:
    engine = get_engine(db_url)
    sketch = Sketch.of([5, 70, 70, 9_000]).encode()
    row = {
        "bucket": datetime(2024, 6, 1), "dims_key": "k", "user_id": ALICE, "agent_id": ALICE,
        "agent_name": "writer", "model_name": "claude", "executions": 4, "cost_micro_usd": 12,
        "latency_sketch": sketch,
    }  # fmt: skip
    formats: list[object] = []

    def seen(_conn: object, cursor: object, *_: object) -> None:
        formats.append(getattr(cursor, "format", None))  # psycopg's pq.Format; none in sqlite3

    event.listen(engine, "after_cursor_execute", seen)
    try:
        with engine.begin() as connection:
            connection.execute(DAY.insert(), row)
            formats.clear()
            query = select(*(DAY.c[name] for name in row))
            text_rows = connection.execute(query).all()
            binary_rows = connection.execute(
                query.execution_options(**{BINARY_RESULTS: True})
            ).all()
    finally:
        event.remove(engine, "after_cursor_execute", seen)
    assert binary_rows == text_rows
    [found] = binary_rows
    assert (found.agent_id, found.executions, bytes(found.latency_sketch)) == (ALICE, 4, sketch)
    if engine.dialect.name == "postgresql":
        from psycopg import pq

        assert formats == [pq.Format.TEXT, pq.Format.BINARY]
    else:
        assert formats == [None, None]
