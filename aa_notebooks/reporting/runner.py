"""`run_report`: execute a report notebook in a real kernel, save its HTML, optionally email it.

Parameters are checked, the database opened and the SMTP settings read before a kernel starts,
so a typo fails in a second, not after the notebook ran. The database URL reaches the kernel
through AA_DATABASE_URL, never as a parameter (papermill writes those into the notebook). A
failing notebook is kept next to where the HTML would have gone; an email that cannot be sent
leaves the HTML on disk. Both raise ReportError, which the CLI turns into a non-zero exit.
"""

from __future__ import annotations

import ast
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import URL

from aa_notebooks.analytics import connect
from aa_notebooks.db.url import ENV_DATABASE_URL, mask_url, require_database
from aa_notebooks.errors import InvalidInputError, ReportError, first_line
from aa_notebooks.notify import SmtpSettings, parse_recipients
from aa_notebooks.pricing.resolver import ENV_PRICING_FILE
from aa_notebooks.reporting.folders import unusable_folder
from aa_notebooks.reporting.kernel import declared_parameters, execute_notebook
from aa_notebooks.reporting.mail import send_report
from aa_notebooks.reporting.notebooks import (
    DEFAULT_OUTPUT_DIR,
    REPORT_KINDS,
    ReportKind,
    report_notebook,
)
from aa_notebooks.reporting.parameters import DEFAULT_TITLES, ReportParameters

if TYPE_CHECKING:
    from nbformat import NotebookNode


@dataclass(frozen=True)
class ReportResult:
    """What a report run produced."""

    kind: ReportKind
    html_path: Path
    notebook_path: Path | None
    emailed_to: tuple[str, ...] = field(default=())
    seconds: float = 0.0

    def __str__(self) -> str:
        lines = [f"{self.kind} report: {self.html_path} ({self.seconds:.1f} s)"]
        if self.notebook_path is not None:
            lines.append(f"executed notebook: {self.notebook_path}")
        if self.emailed_to:
            lines.append(f"emailed to {', '.join(self.emailed_to)}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return "<br>".join(escape(line) for line in str(self).splitlines())


def run_report(
    kind: ReportKind,
    parameters: ReportParameters | None = None,
    *,
    output_dir: str | os.PathLike[str] = DEFAULT_OUTPUT_DIR,
    output: str | os.PathLike[str] | None = None,
    email: str | Sequence[str] = (),
    keep_notebook: bool = False,
    database_url: str | URL | None = None,
    notebook: str | os.PathLike[str] | None = None,
    progress: bool = True,
    **values: Any,
) -> ReportResult:
    """Make the "cost" or "budget" report as HTML in `output_dir` (a time-stamped name), or at
    `output` (that file, replaced if there), and email it to `email`.

    The report's parameters are `parameters`, or the `ReportParameters` fields given as keywords
    (`period="7d"`, `start_date=`, `end_date=`, `user_id=`, `title=`, `timezone=`, `top_n=`,
    `as_of=`). `notebook` runs a report notebook of your own (with a `parameters` cell) instead
    of the built-in one of `kind`.
    """
    began = time.perf_counter()
    source = _notebook_of(kind, notebook)
    parameters = _parameters(kind, parameters, values, source if notebook else None)
    recipients, settings = _mail_settings(email)
    price_file = _checked_price_file()
    url = _reachable_database(database_url, parameters)
    notebook_path, html_path = _output_paths(kind, output_dir, output)
    try:
        executed = _execute(kind, source, parameters, url, price_file, notebook_path, progress)
    except BaseException:
        if notebook_path.exists() and not notebook_path.stat().st_size:  # only its name claimed
            notebook_path.unlink()
        raise
    rendered = _write_html(executed, parameters, html_path)
    if not keep_notebook:
        notebook_path.unlink(missing_ok=True)
    if settings is not None:
        send_report(rendered, parameters, kind, html_path, recipients, settings)
    return ReportResult(
        kind=kind,
        html_path=html_path,
        notebook_path=notebook_path if keep_notebook else None,
        emailed_to=recipients,
        seconds=time.perf_counter() - began,
    )


def _notebook_of(kind: ReportKind, notebook: str | os.PathLike[str] | None) -> Path:
    """The built-in notebook of `kind`, or the user's own."""
    if kind not in REPORT_KINDS:
        raise InvalidInputError(f"unknown report {kind!r}: choose one of {', '.join(REPORT_KINDS)}")
    return report_notebook(kind) if notebook is None else _own_notebook(notebook)


def _parameters(
    kind: ReportKind, given: ReportParameters | None, values: dict[str, Any], own: Path | None
) -> ReportParameters:
    """The checked parameters, titled: the user's notebook keeps its own default title."""
    if given is not None and values:
        raise InvalidInputError(
            f"give the report's parameters as a ReportParameters or as keywords, not both "
            f"(got {', '.join(sorted(values))} beside one)"
        )
    parameters = given if given is not None else ReportParameters.of(**values)
    if own is not None and parameters.title is None:
        return replace(parameters, title=_declared_title(own) or DEFAULT_TITLES[kind])
    return parameters.titled(kind)


def _declared_title(notebook: Path) -> str | None:
    """The default of a `title` in a notebook's parameters cell, if it is plain text."""
    declared = declared_parameters(notebook).get("title")
    try:
        value = ast.literal_eval(declared["default"]) if declared else None
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


def _mail_settings(email: str | Sequence[str]) -> tuple[tuple[str, ...], SmtpSettings | None]:
    """The recipients, and the SMTP settings when there are any (read now: a missing one fails
    before the kernel starts)."""
    recipients = parse_recipients(email)
    return recipients, SmtpSettings.from_env() if recipients else None


def _reachable_database(database_url: str | URL | None, parameters: ReportParameters) -> URL:
    """The database URL, after checking it can be read and has the tables."""
    url = require_database(database_url)
    connect(url, user_id=parameters.user_id).overview("1h")
    return url


def _output_paths(
    kind: ReportKind, output_dir: str | os.PathLike[str], output: str | os.PathLike[str] | None
) -> tuple[Path, Path]:
    """Where the executed notebook and the HTML go (the folder is made): time-stamped names in
    `output_dir`; or `output`, with the notebook beside it under a time-stamped name (a plain
    `NAME.ipynb` could be the user's own, which the run would replace and then delete). The
    notebook's name is claimed at once (`_claim`), so reports made in the same second, by one
    process or several, never replace one another."""
    now = datetime.now(UTC)
    if output is not None:
        html_path = Path(output).expanduser()
        if html_path.suffix.lower() not in (".html", ".htm") or html_path.is_dir():
            raise InvalidInputError(
                f"the report's output must be an .html file, got {str(output)!r}; give "
                "--output-dir for a folder of time-stamped reports"
            )
        folder = html_path.parent
    else:
        folder = Path(output_dir).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if output is not None:
            notebook = _claim(folder, f"{html_path.stem}-executed-{now:%Y%m%d-%H%M%S-%f}")
        else:
            notebook = _claim(folder, f"{kind}-report-{now:%Y%m%d-%H%M%S}")
            html_path = notebook.with_suffix(".html")
    except OSError as exc:  # a file of that name, no permission, a read-only place
        instead = "--output a file" if output is not None else None
        raise unusable_folder(folder, exc, instead) from None
    return notebook, html_path


def _claim(folder: Path, stem: str) -> Path:
    """A new `STEM.ipynb` in `folder` (then `STEM-2.ipynb`...), created empty so that no other
    run takes the name, whose `.html` does not exist either: a finished run deletes its
    notebook after writing its page."""
    number = 1
    while True:
        notebook = folder / (f"{stem}.ipynb" if number == 1 else f"{stem}-{number}.ipynb")
        try:
            notebook.open("x").close()
        except FileExistsError:
            number += 1
            continue
        if not notebook.with_suffix(".html").exists():
            return notebook
        notebook.unlink()
        number += 1


def _write_html(executed: NotebookNode, parameters: ReportParameters, html_path: Path) -> Any:
    """The executed notebook as the standalone page, written to `html_path`."""
    from aa_notebooks.reporting.page import render

    rendered = render(executed, parameters.title or "")
    html_path.write_text(rendered.page, encoding="utf-8")
    return rendered


def _own_notebook(notebook: str | os.PathLike[str]) -> Path:
    path = Path(notebook).expanduser()
    if path.suffix != ".ipynb" or not path.is_file():
        raise InvalidInputError(f"no report notebook at {path}: give the path of an .ipynb file")
    return path


def _checked_price_file() -> str | None:
    """The price file in force here (the kernel gets the same), read once so that a malformed
    one fails now, not in the middle of the notebook."""
    from aa_notebooks.pricing.resolver import active_price_file
    from aa_notebooks.pricing.user_file import load_price_file

    path = active_price_file()
    if path is not None:
        load_price_file(path)
    return path


def _execute(
    kind: ReportKind,
    source: Path,
    parameters: ReportParameters,
    url: URL,
    price_file: str | None,
    target: Path,
    progress: bool,
) -> NotebookNode:
    """Run the notebook with papermill; ReportError (notebook kept) when a cell fails."""
    from papermill.exceptions import PapermillExecutionError

    declared = declared_parameters(source)
    values = {k: v for k, v in parameters.injected_values().items() if k in declared}
    try:
        with kernel_environment(url, price_file):
            return execute_notebook(
                source, target, parameters=values, cwd=target.parent, progress=progress
            )
    except PapermillExecutionError as exc:
        raise ReportError(
            f"the {kind} report failed in cell {exc.exec_count}: {exc.ename}: "
            f"{first_line(exc.evalue)}; the partly executed notebook is kept at {target}"
        ) from None
    except (RuntimeError, TimeoutError, OSError) as exc:
        kept = ""
        if target.exists() and target.stat().st_size:  # not just the name claimed
            kept = f"; the partly executed notebook is kept at {target}"
        raise ReportError(
            f"the {kind} report could not run on {mask_url(url)}: {first_line(exc)}{kept}"
        ) from None


@contextmanager
def kernel_environment(url: URL, price_file: str | None = None) -> Iterator[None]:
    """AA_DATABASE_URL (and AA_PRICING_FILE) set while a kernel starts: it inherits the
    environment, and neither becomes a notebook parameter."""
    values = {ENV_DATABASE_URL: url.render_as_string(hide_password=False)}
    if price_file is not None:
        values[ENV_PRICING_FILE] = price_file
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
