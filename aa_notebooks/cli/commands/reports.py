"""`report cost|budget`: run a report notebook, save its HTML, optionally email it."""

from __future__ import annotations

import argparse
from typing import Any

from aa_notebooks.cli.context import CommandContext
from aa_notebooks.cli.options import Subcommands, report_options, report_parameters
from aa_notebooks.reporting.notebooks import DEFAULT_OUTPUT_DIR, REPORT_KINDS


def register(subcommands: Subcommands) -> list[argparse.ArgumentParser]:
    """Add the report subcommand."""
    report = subcommands.add_parser(
        "report",
        help="make the cost or budget report as standalone HTML, and email it if asked",
        description=(
            "Execute reports/KIND_report.ipynb in a real kernel (papermill), export it as HTML "
            "without code (charts as images, nothing loaded from the network) and optionally "
            "email it. The database comes from --db or AA_DATABASE_URL, email settings from "
            "AA_SMTP_HOST, AA_SMTP_PORT, AA_SMTP_USER, AA_SMTP_PASSWORD, AA_SMTP_FROM, "
            "AA_SMTP_SECURITY (starttls, ssl or none) and AA_SMTP_TIMEOUT (seconds per reply)."
        ),
    )
    report.add_argument("kind", choices=REPORT_KINDS, help="which report")
    report_options(report, scheduled=False)
    output = report.add_mutually_exclusive_group()
    output.add_argument(
        "--output-dir",
        default=DEFAULT_OUTPUT_DIR,
        help=f"the folder the HTML goes to, under a time-stamped name ({DEFAULT_OUTPUT_DIR})",
    )
    output.add_argument("--output", metavar="FILE.html", help="write the HTML to this file")
    report.add_argument("--email", metavar="a@x,b@y", default="", help="send it to these")
    report.add_argument(
        "--keep-notebook", action="store_true", help="keep the executed notebook next to the HTML"
    )
    report.add_argument(
        "--notebook",
        metavar="PATH",
        help="your own report notebook instead of the built-in one",
    )
    report.set_defaults(handler=run_report_command)
    return [report]


def run_report_command(args: argparse.Namespace, context: CommandContext) -> Any:
    """Make the report; ReportError (non-zero exit) when it fails or cannot be sent."""
    from aa_notebooks.reporting import run_report

    return run_report(
        args.kind,
        report_parameters(args, context.user_id, context.timezone),
        output_dir=args.output_dir,
        output=args.output,
        email=args.email,
        keep_notebook=args.keep_notebook,
        database_url=context.database_url,
        notebook=args.notebook,
    )
