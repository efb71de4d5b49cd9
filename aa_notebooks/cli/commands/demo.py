"""`aa-notebooks demo`: the README's first command, on the embedded default database.

Seeds demo data when the database is empty, prints the overview and the budgets (evaluating
them records their alerts), executes the example notebooks of the checkout into `demo-output/`
with papermill in a real kernel, and writes the cost and budget reports there as HTML.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from aa_notebooks.budgets.client import BudgetClient
from aa_notebooks.cli.context import CommandContext
from aa_notebooks.cli.options import Subcommands
from aa_notebooks.cli.output import render
from aa_notebooks.db.inspection import database_info
from aa_notebooks.db.url import mask_url, resolve_url

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

CHECKOUT = Path(__file__).resolve().parents[3]
DEMO_NOTEBOOKS = ("quickstart.ipynb", "dashboard.ipynb")
BUDGET_COLUMNS = ("name", "scope", "target", "user_id", "alert_type", "threshold_usd", "spend_usd",
                  "percent_used", "status", "projected_exhaustion")  # fmt: skip


def register(subcommands: Subcommands) -> list[argparse.ArgumentParser]:
    """Add the demo subcommand."""
    demo = subcommands.add_parser(
        "demo",
        help="seed demo data (when empty), show the overview, run the example notebooks, "
        "write the HTML reports",
    )
    demo.add_argument("--reset", action="store_true", help="reseed even if data exists")
    demo.add_argument(
        "--output-dir", type=Path, default=Path("demo-output"), help="where results go"
    )
    demo.set_defaults(handler=run_demo)
    return [demo]


def run_demo(args: argparse.Namespace, context: CommandContext) -> None:
    """Seed when empty, print the 30-day overview and budgets, run the notebooks and reports."""
    from aa_notebooks.analytics import connect
    from aa_notebooks.db.setup import init_db
    from aa_notebooks.reporting import REPORT_KINDS, run_report
    from aa_notebooks.seed import seed_database

    url = resolve_url(context.database_url)
    init_db(url)
    if args.reset or not database_info(url).row_counts.get("agentexecutions"):
        print(seed_database(url, reset=args.reset, progress=True))
    print(database_info(url))
    print()
    analytics = connect(url)
    print(analytics.overview("30d"))
    print()
    statuses = BudgetClient.of(analytics).evaluate().to_frame()  # records the alerts due
    print(
        render(
            statuses[list(BUDGET_COLUMNS)].fillna({"target": "", "user_id": ""}),
            timezone=context.timezone,
        )
    )
    args.output_dir.mkdir(parents=True, exist_ok=True)
    written = [
        name
        for name in DEMO_NOTEBOOKS
        if _execute_notebook(CHECKOUT / "notebooks" / name, args.output_dir, url)
    ]
    for kind in REPORT_KINDS:
        print(f"\nmaking the {kind} report")
        print(run_report(kind, database_url=url, period="30d", output_dir=args.output_dir))
    opened = (
        f"`jupyter lab {args.output_dir / 'dashboard.ipynb'}`, then Run All Cells,"
        if "dashboard.ipynb" in written
        else "`%load_ext aa_notebooks` then `%agent_analytics dashboard` in a notebook"
    )
    print(
        f"\nThe widgets need a live kernel: {opened} shows the dashboard (drag across its "
        "executions chart to narrow it), the executions grid and a trace waterfall."
    )


def _execute_notebook(source: Path, output_dir: Path, url: URL) -> bool:
    """Run one notebook in a real kernel (the database reaches it through the environment);
    whether it was there to run."""
    if not source.exists():
        print(f"skipped {source.name}: not found (the example notebooks come with a checkout)")
        return False
    from aa_notebooks.reporting.kernel import execute_notebook
    from aa_notebooks.reporting.runner import kernel_environment

    target = output_dir / source.name
    print(f"\nrunning {source.name} on {mask_url(url)}")
    with kernel_environment(url):
        execute_notebook(source, target, cwd=output_dir)
    print(f"wrote {target}")
    return True
