"""Time the cost and budget reports end to end at 1M executions, and measure the email's size.

End to end is `run_report(...)`: parameter checks, papermill starting a kernel and executing the
notebook (imports, queries, charts as PNG), nbconvert's HTML export and writing the file. The
baseline, measured in the same run, is papermill executing a notebook that only imports what a
report imports: the kernel and import cost every report pays, whatever the data. The email size
is that of the message `run_report` would send (text, HTML body with CID charts, the standalone
page attached), built without sending it.

The databases are those of bench/analytics.py (its seeding and reuse rules; reports are made as
of its fixed NOW).

    python bench/reports.py                     # 1,000,000 executions, both databases
    python bench/reports.py --skip-postgres --runs 1
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
import papermill
from _shared import analytics_bench, database_options, database_urls
from nbformat.v4 import new_code_cell, new_notebook

from aa_notebooks.reporting import run_report
from aa_notebooks.reporting.mail import report_message
from aa_notebooks.reporting.page import render
from aa_notebooks.reporting.parameters import ReportParameters

IMPORTS = """from IPython.display import display
import aa_notebooks.reporting.cost_report
import aa_notebooks.reporting.budget_report
import vl_convert"""


def median_s(work, runs: int) -> float:
    """Median wall time of `runs` calls, in seconds (no warm-up: each call starts a kernel)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def kernel_baseline(folder: Path) -> None:
    """papermill running a notebook that only imports what the reports import."""
    notebook = new_notebook(cells=[new_code_cell(IMPORTS)])
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                       "display_name": "Python 3"}  # fmt: skip
    source = folder / "imports.ipynb"
    nbformat.write(notebook, source)
    papermill.execute_notebook(
        str(source), str(folder / "imports-out.ipynb"), kernel_name="python3", progress_bar=False
    )


def report(kind: str, url: str, as_of: str, folder: Path) -> None:
    """One report, end to end, as `aa-notebooks report KIND` makes it."""
    run_report(kind, database_url=url, as_of=as_of, output_dir=folder, progress=False)


def email_bytes(kind: str, url: str, as_of: str, folder: Path) -> tuple[int, int]:
    """The size of the report's email and of its attached page, in bytes."""
    result = run_report(
        kind, database_url=url, as_of=as_of, output_dir=folder, keep_notebook=True,
        progress=False,
    )  # fmt: skip
    parameters = ReportParameters(title=f"Agent {kind} report", as_of=as_of)
    rendered = render(nbformat.read(result.notebook_path, as_version=4), parameters.title)
    message = report_message(
        rendered, parameters, result.html_path, ["cfo@example.com"], "reports@example.com"
    )
    return len(message.as_bytes()), len(rendered.page.encode())


def cell_seconds(url: str, as_of: str, folder: Path) -> list[tuple[str, float]]:
    """Where the cost report's time goes, per cell (papermill's own timing)."""
    result = run_report(
        "cost", database_url=url, as_of=as_of, output_dir=folder, keep_notebook=True,
        progress=False,
    )  # fmt: skip
    notebook = nbformat.read(result.notebook_path, as_version=4)
    return [
        (cell.source.splitlines()[-1][:40], cell.metadata.papermill.duration or 0.0)
        for cell in notebook.cells
        if cell.cell_type == "code" and "parameters" not in cell.metadata.get("tags", [])
    ]


def main() -> None:
    """Seed (or reuse) the databases, time both reports and the baseline, print the table."""
    bench = analytics_bench()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    database_options(parser)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per step (median)")
    args = parser.parse_args()
    urls = database_urls(args, bench)
    as_of = bench.NOW.isoformat()
    rows: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for name, url in urls.items():
            bench.seeded(url, args.executions)
            baseline = median_s(lambda: kernel_baseline(folder), args.runs)
            cost = median_s(lambda url=url: report("cost", url, as_of, folder), args.runs)
            budget = median_s(lambda url=url: report("budget", url, as_of, folder), args.runs)
            cost_mail, cost_page = email_bytes("cost", url, as_of, folder)
            budget_mail, _ = email_bytes("budget", url, as_of, folder)
            rows[name] = {
                "kernel + imports only (baseline)": f"{baseline:.1f} s",
                "cost report, end to end": f"{cost:.1f} s",
                "cost report / baseline": f"{cost / baseline:.2f}x",
                "budget report, end to end": f"{budget:.1f} s",
                "budget report / baseline": f"{budget / baseline:.2f}x",
                "cost report email": f"{cost_mail / 1000:.0f} KB",
                "cost report page (attached)": f"{cost_page / 1000:.0f} KB",
                "budget report email": f"{budget_mail / 1000:.0f} KB",
            }
            print(f"\n{name}: where the cost report's time goes (s per cell)")
            for source, seconds in cell_seconds(url, as_of, folder):
                print(f"  {seconds:6.2f}  {source}")
    print(f"\n{args.executions:,} executions; median of {args.runs} runs\n")
    print("| step | " + " | ".join(rows) + " |")
    print("|---|" + "---:|" * len(rows))
    for step in next(iter(rows.values())):
        print(f"| {step} | " + " | ".join(r[step] for r in rows.values()) + " |")


if __name__ == "__main__":
    main()
