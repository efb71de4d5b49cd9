"""`ingest_files`: OTLP/JSON files as the OTel Collector's file exporter writes them, for backfills.

Each line is one ExportTraceServiceRequest in OTLP/JSON; a file ending in `.gz` is read through
gzip. Spans are handed to the Ingestor in batches of lines, so a trace split over nearby lines is
usually whole in one batch; at the end every trace still held is written (a file has every span
there will be). A line that is not a request is skipped and named in the report.
"""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy.engine import URL

from aa_notebooks.errors import InvalidInputError
from aa_notebooks.otel.decode import TraceDecodeError, decode_json
from aa_notebooks.otel.ingest import Ingestor, Outcome
from aa_notebooks.otel.spans import Span
from aa_notebooks.tracking.spool import REJECTED_FILE
from aa_notebooks.tracking.writer import BatchWriter

BATCH_SPANS = 5_000
MAX_NAMED_PROBLEMS = 5


@dataclass
class IngestReport:
    """What an ingest of files did."""

    files: int = 0
    lines: int = 0
    outcome: Outcome = field(default_factory=Outcome)
    bad_lines: int = 0
    problems: list[str] = field(default_factory=list)
    """The first few lines skipped, or spans refused, as "file:line: why"."""

    @property
    def ok(self) -> bool:
        """Whether every line was read and every run written: the CLI exits 1 otherwise, so
        that a scheduled backfill that skipped or lost something shows as failed."""
        return self.bad_lines == 0 and self.outcome.rejected == 0

    def __str__(self) -> str:
        o = self.outcome
        text = (
            f"{self.files} file(s), {self.lines} line(s), {o.spans} span(s): "
            f"{o.executions} execution(s) written, {o.ignored} span(s) of no agent or LLM call "
            f"ignored, {o.rejected} refused, {self.bad_lines} line(s) skipped"
        )
        return "\n".join([text, *(f"  {problem}" for problem in self.problems)])


def ingest_files(
    url: str | URL | None,
    paths: Sequence[str | Path],
    *,
    user_id: uuid.UUID | None = None,
    progress: bool = False,
) -> IngestReport:
    """Ingest every OTLP/JSON line of `paths` into the database at `url`; `user_id` files the
    executions under that user (else the spans' own user)."""
    files = [Path(path) for path in paths]
    for path in files:
        if not path.is_file():
            raise InvalidInputError(f"{path}: no such file (give OTLP/JSON files, .gz allowed)")
    report = IngestReport(files=len(files))
    ingestor = Ingestor(url)
    ingestor.flush()  # the spool a process left is replayed first: its refusals are not ours
    refused_before = ingestor.writer.refused
    bar = _progress_bar(sum(path.stat().st_size for path in files), progress)
    try:
        batch: list[Span] = []
        for path in files:
            for number, line, size in _lines(path):
                bar.update(size)
                if not line.strip():
                    continue
                report.lines += 1
                try:
                    decoded = decode_json(line)
                except TraceDecodeError as error:
                    report.bad_lines += 1
                    _note(report, f"{path}:{number}: {error}")
                    continue
                for reason in decoded.refused:
                    report.outcome.rejected += 1
                    _note(report, f"{path}:{number}: {reason}")
                batch.extend(decoded.spans)
                if len(batch) >= BATCH_SPANS:
                    report.outcome.add(ingestor.ingest(batch, user_id))
                    batch = []
        if batch:
            report.outcome.add(ingestor.ingest(batch, user_id))
        held = ingestor.write_unwritten(user_id)
        report.outcome.executions += held.executions
        report.outcome.ignored += held.ignored
        ingestor.flush()
        _count_refused(report, ingestor.writer, refused_before)
    finally:
        bar.close()
        ingestor.close()
    return report


def _lines(path: Path) -> Iterator[tuple[int, bytes, int]]:
    """(line number, line, bytes of the file read for it) of a file, gunzipped if `.gz`."""
    with path.open("rb") as raw:
        stream: IO[bytes] = (
            gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw  # type: ignore[assignment]
        )
        position = 0
        try:
            for number, line in enumerate(stream, start=1):
                yield number, line, raw.tell() - position
                position = raw.tell()
        except (OSError, EOFError) as error:  # a truncated or corrupt .gz
            raise InvalidInputError(f"{path}: cannot be read as gzip ({error})") from None


def _count_refused(report: IngestReport, writer: BatchWriter, before: int) -> None:
    """Count the executions set aside as they were written (refused by the database, such as a
    user missing from an AgentOS database's users, or a value out of range) as refused, not
    written, and say where they are kept."""
    if refused := min(writer.refused - before, report.outcome.executions):
        report.outcome.executions -= refused
        report.outcome.rejected += refused
        kept = writer.spool.directory / REJECTED_FILE
        _note(report, f"{refused} execution(s) refused when written, kept with why in {kept}")


def _note(report: IngestReport, problem: str) -> None:
    if len(report.problems) < MAX_NAMED_PROBLEMS:
        report.problems.append(problem)


class _NoBar:
    def update(self, _: int) -> None:
        """Nothing to show."""

    def close(self) -> None:
        """Nothing to close."""


def _progress_bar(total: int, shown: bool) -> _NoBar:
    """A tqdm bar over the files' bytes, or nothing."""
    if not shown:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc="ingest")  # type: ignore[return-value]
