"""`ingest FILE...`: OpenTelemetry traces from OTLP/JSON files into executions (backfills)."""

from __future__ import annotations

import argparse
import uuid

from aa_notebooks.cli.context import CommandContext
from aa_notebooks.cli.options import Subcommands
from aa_notebooks.errors import InvalidInputError


def register(subcommands: Subcommands) -> list[argparse.ArgumentParser]:
    """Add ingest."""
    ingest = subcommands.add_parser(
        "ingest",
        help="read OTLP/JSON trace files (the OTel Collector's file exporter, .gz too)",
        description="Map OpenTelemetry GenAI and OpenInference spans to executions, steps and "
        "token usage, from files with one OTLP/JSON ExportTraceServiceRequest per line. A "
        "resent file doubles nothing. --user files every execution under that user (else "
        "each span's user.id).",
    )
    ingest.add_argument("files", nargs="+", metavar="FILE", help="OTLP/JSON files (.gz allowed)")
    ingest.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    ingest.set_defaults(handler=run_ingest)
    return [ingest]


def run_ingest(args: argparse.Namespace, context: CommandContext) -> object:
    """Ingest the files."""
    from aa_notebooks.otel.files import ingest_files

    user = None
    if context.user_id is not None:
        try:
            user = uuid.UUID(str(context.user_id))
        except ValueError:
            raise InvalidInputError(f"--user must be a UUID, got {context.user_id!r}") from None
    return ingest_files(
        context.database_url, args.files, user_id=user, progress=not args.no_progress
    )
