"""`schedule add|list|remove|run|crontab`: make reports, or evaluate budgets, at cron times.

The schedules live in a JSON file (`$AA_SCHEDULES_FILE`, else the user's config directory) that
never holds the database URL or SMTP settings: those come from the environment when jobs run.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import shutil
import sys
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from aa_notebooks.cli.context import CommandContext
from aa_notebooks.cli.options import Subcommands, report_flag, report_options, report_parameters
from aa_notebooks.cli.parser import CommandParser
from aa_notebooks.errors import ConfigurationError, InvalidInputError
from aa_notebooks.reporting.folders import make_output_dir
from aa_notebooks.reporting.notebooks import DEFAULT_OUTPUT_DIR, REPORT_KINDS
from aa_notebooks.reporting.scheduler import PassResult, run_schedule, run_scheduler
from aa_notebooks.reporting.schedules import (
    CRON_HELP,
    EVALUATE_JOB,
    JOBS,
    REPORT_JOB,
    Schedule,
    ScheduleStore,
)

MISSED_RUNS = (
    "Missed runs: when the scheduler starts, or wakes late (e.g. after a suspend), a schedule "
    "whose fire times passed since its last run runs once to catch up, not once per missed "
    "time; a schedule it has never seen waits for its next fire time."
)
NO_SECRETS = (
    "schedules never store the database URL (it may hold a password): set AA_DATABASE_URL "
    "where `schedule run` or cron runs, or give --db to `schedule run`"
)
COLUMNS = ["name", "cron", "timezone", "job", "period", "user", "email", "next_run"]


def register(subcommands: Subcommands) -> list[argparse.ArgumentParser]:
    """Add `schedule` and its actions; returns the action parsers."""
    schedule = subcommands.add_parser(
        "schedule",
        help="make reports or evaluate budgets at cron times: add, list, remove, run, crontab",
        description="Make cost and budget reports, or evaluate the budgets (writing their spend "
        "back and emailing the alerts due), at cron times. " + MISSED_RUNS,
    )
    actions = schedule.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=CommandParser
    )

    add = actions.add_parser(
        "add",
        help="add a schedule",
        description="Add a schedule: a report (--report cost|budget), or the budgets' "
        f"evaluation (--job {EVALUATE_JOB}, which takes no report options).",
    )
    add.add_argument("name", help="letters, digits, - and _")
    add.add_argument("--cron", required=True, metavar="EXPR", help=CRON_HELP)
    add.add_argument(
        "--job", choices=JOBS, default=REPORT_JOB, help=f"what to run (default {REPORT_JOB})"
    )
    add.add_argument("--report", choices=REPORT_KINDS, help="which report (report jobs)")
    add.add_argument(
        "--email", action="append", metavar="ADDRESSES", help="send to a@x.com,b@y.com"
    )
    add.add_argument(
        "--output-dir",
        metavar="DIR",
        help=f"where the HTML goes, made absolute and created now (default ./{DEFAULT_OUTPUT_DIR})",
    )
    report_options(add, scheduled=True)
    add.add_argument("--replace", action="store_true", help="replace a schedule of that name")
    add.set_defaults(handler=run_add)

    listing = actions.add_parser("list", help="the schedules and their next run")
    listing.set_defaults(handler=run_list)

    remove = actions.add_parser("remove", help="remove a schedule")
    remove.add_argument("name")
    remove.set_defaults(handler=run_remove)

    run = actions.add_parser(
        "run",
        help="run the schedules in the foreground (for a service manager)",
        description="Run each due job at its cron time until SIGTERM or Ctrl-C; a failing "
        "job is logged and the others still run. " + MISSED_RUNS,
    )
    run.add_argument("--once", action="store_true", help="run what is due or missed now, then exit")
    run.set_defaults(handler=run_run)

    crontab = actions.add_parser(
        "crontab",
        help="print equivalent crontab lines",
        description="Print crontab lines that run the same jobs (use them or `schedule run`, "
        "not both). Cron does not catch up missed runs; CRON_TZ lines need cronie. Set "
        "AA_DATABASE_URL and the AA_SMTP_* variables in the crontab.",
    )
    crontab.set_defaults(handler=run_crontab)
    return [add, listing, remove, run, crontab]


def run_add(args: argparse.Namespace, context: CommandContext) -> str:
    """Store a new schedule (or replace one with --replace)."""
    if context.database_url is not None:
        raise InvalidInputError(NO_SECRETS)
    output_dir = args.output_dir
    if output_dir is None and args.job == REPORT_JOB:
        output_dir = DEFAULT_OUTPUT_DIR
    schedule = Schedule(
        name=args.name,
        cron=args.cron,
        report=args.report,
        email=tuple(args.email or ()),
        output_dir=output_dir and os.path.abspath(os.path.expanduser(output_dir)),
        job=args.job,
        parameters=report_parameters(args, context.user_id, "UTC"),
    )
    if schedule.output_dir is not None:
        make_output_dir(Path(schedule.output_dir))
    store = ScheduleStore()
    replaced = args.replace and any(s.name == schedule.name for s in store.load())
    store.add(schedule, replace=args.replace)
    return (
        f"{'replaced' if replaced else 'added'} schedule {schedule.name}: {schedule.describe} "
        f"at {schedule.cron} ({schedule.timezone}); it runs while `aa-notebooks schedule "
        "run` does, or from the lines of `aa-notebooks schedule crontab`"
    )


def run_list(args: argparse.Namespace, context: CommandContext) -> pd.DataFrame:
    """The schedules with their next run, in each schedule's own time zone."""
    now = context.now() if context.now else datetime.now(UTC)
    rows = []
    for s in ScheduleStore().load():
        upcoming = s.next_fire(now.astimezone(ZoneInfo(s.timezone)))
        p = s.parameters
        rows.append([s.name, s.cron, s.timezone, s.describe, p.period or "", p.user_id or "",
                     ", ".join(s.email), f"{upcoming:%Y-%m-%d %H:%M %Z}"])  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def run_remove(args: argparse.Namespace, context: CommandContext) -> str:
    """Delete a schedule."""
    ScheduleStore().remove(args.name)
    return f"removed schedule {args.name}"


def run_run(args: argparse.Namespace, context: CommandContext) -> PassResult | None:
    """The foreground scheduler; with --once, one pass (exit 1 when a job failed)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.WARNING if args.once else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    runner = partial(run_schedule, database_url=context.database_url)
    result = run_scheduler(ScheduleStore(), once=args.once, runner=runner)
    return result if args.once else None


def run_crontab(args: argparse.Namespace, context: CommandContext) -> str:
    """Crontab lines running the same jobs (CRON_TZ before each change of time zone)."""
    if context.database_url is not None:
        raise InvalidInputError(NO_SECRETS)
    command = _executable()
    lines, zone = [], None
    for schedule in ScheduleStore().load():
        if schedule.timezone != zone:
            zone = schedule.timezone
            lines.append(f"CRON_TZ={zone}")
        words = [command, *job_arguments(schedule)]
        lines.append(
            f"{schedule.cron} " + " ".join(shlex.quote(w) for w in words).replace("%", r"\%")
        )
    return "\n".join(lines) or "# no schedules: add one with `aa-notebooks schedule add`"


def job_arguments(schedule: Schedule) -> list[str]:
    """The `aa-notebooks ...` arguments that run the schedule's job: `report KIND ...`, or
    `budgets evaluate`."""
    given = schedule.parameters.given()
    if schedule.job == EVALUATE_JOB:
        user = ["--user", given["user_id"]] if "user_id" in given else []
        return ["budgets", "evaluate", *user]
    words = ["report", str(schedule.report)]
    if schedule.email:
        words += ["--email", ",".join(schedule.email)]
    if schedule.output_dir:
        words += ["--output-dir", schedule.output_dir]
    for name, value in given.items():
        words += [report_flag(name), str(value)]
    return words


def _executable() -> str:
    """The aa-notebooks command installed with this Python, else the one on PATH."""
    beside = Path(sys.executable).parent / "aa-notebooks"
    found = str(beside) if beside.is_file() else shutil.which("aa-notebooks")
    if found is None:
        raise ConfigurationError(
            "cannot find the aa-notebooks command for cron to run: install the package "
            "(pip install 'aa-notebooks[notebook]') so that the command exists"
        )
    return os.path.abspath(found)
