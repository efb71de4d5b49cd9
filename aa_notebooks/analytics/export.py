"""`export`: the window's executions as CSV or JSON, streamed in chunks of CHUNK_ROWS.

Rows come from a server-side cursor (PostgreSQL) or an incremental cursor (SQLite) and are
written chunk by chunk, so a million executions never sit in memory at once. With
`include_traces`/`include_token_usage`, each chunk's trace steps and token usage are read with
one query each and nested under every execution as `trace_steps` and `token_usage`.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from sqlalchemy import select

from aa_notebooks.analytics.executions import execution_columns, execution_record
from aa_notebooks.analytics.filters import EXECUTIONS, in_scope, in_window
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import ExportResult
from aa_notebooks.analytics.source import Source
from aa_notebooks.analytics.steps import token_usage, trace_steps
from aa_notebooks.analytics.writers import CsvWriter, JsonWriter, RecordWriter
from aa_notebooks.errors import InvalidInputError, SchemaError

EXPORT_FORMATS = ("csv", "json")
CHUNK_ROWS = 1000


def _stream(
    source: Source, window: Window, writer: RecordWriter, nested: Sequence[tuple[str, str]]
) -> int:
    query = (
        select(*execution_columns(source))
        .where(in_window(window), *in_scope(source))
        .order_by(EXECUTIONS.c.started_at, EXECUTIONS.c.id)
    )
    rows = 0
    with source.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(
            query
        )
        for chunk in result.partitions():
            records = [execution_record(source, row) for row in chunk]
            ids = [record["id"] for record in records]
            for _, key in nested:
                by_execution = (
                    trace_steps(connection, ids)
                    if key == "trace_steps"
                    else token_usage(source, connection, ids)
                )
                for record in records:
                    record[key] = by_execution.get(record["id"], [])
            writer.write(records)
            rows += len(records)
    writer.close()
    return rows


def export(
    source: Source,
    window: Window,
    format: str,
    path: str | os.PathLike[str] | None,
    include_traces: bool,
    include_token_usage: bool,
    escape_formulas: bool,
) -> str | ExportResult:
    """The window's executions, oldest first, as CSV or JSON text, or written to `path`."""
    if format not in EXPORT_FORMATS:
        raise InvalidInputError(
            f"format must be one of {', '.join(EXPORT_FORMATS)}; got {format!r}"
        )
    nested = [
        (table, key)
        for table, key, wanted in (
            ("executiontraces", "trace_steps", include_traces),
            ("tokenusages", "token_usage", include_token_usage),
        )
        if wanted
    ]
    for table, _ in nested:
        if not source.has(table):
            raise SchemaError(f"the database has no {table} table, so it cannot be exported")
    columns = [c.key for c in execution_columns(source)] + [key for _, key in nested]

    def write_to(stream: TextIO) -> int:
        writer: RecordWriter = (
            CsvWriter(stream, columns, escape_formulas)
            if format == "csv"
            else JsonWriter(stream, columns)
        )
        return _stream(source, window, writer, nested)

    if path is None:
        buffer = io.StringIO()
        write_to(buffer)
        return buffer.getvalue()
    target = _writable(Path(path).expanduser())
    try:
        if target.is_symlink() or (target.exists() and not target.is_file()):
            # a device, a pipe or a link (/dev/null; /dev/stdout, a link to whatever the output
            # goes to) is written to, never replaced: a rename over /dev/null left a regular
            # file in its place, for every program
            with target.open("w", encoding="utf-8", newline="") as stream:
                rows = write_to(stream)
        else:
            rows = _write_whole(target, write_to)
    except OSError as exc:
        raise InvalidInputError(f"cannot write {target}: {exc.strerror or exc}") from None
    return ExportResult(target, rows, format, window, source.scope)


def _write_whole(target: Path, write_to: Callable[[TextIO], int]) -> int:
    """Write a file through a `.partial` beside it, renamed over `target` once whole: a failed
    export leaves no file, and an older one stays whole until then."""
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as stream:
            rows = write_to(stream)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return rows


_SQLITE_HEADER = b"SQLite format 3\x00"


def _writable(target: Path) -> Path:
    """`target` if an export may be written there: not a folder, and not an SQLite database
    (the one being read, say: an export over it would leave CSV where the data was)."""
    if not target.parent.is_dir():
        raise InvalidInputError(f"cannot write {target}: folder {target.parent} does not exist")
    if target.is_dir():
        raise InvalidInputError(f"cannot write {target}: it is a folder; give a file name")
    database = False
    if target.is_file():  # a regular file (a pipe or a device would block or be consumed)
        try:
            with target.open("rb") as existing:
                database = existing.read(len(_SQLITE_HEADER)) == _SQLITE_HEADER
        except OSError:  # not readable: writing says what is wrong
            pass
    if database:
        raise InvalidInputError(
            f"refusing to write over {target}: it is an SQLite database; give another file name"
        )
    return target
