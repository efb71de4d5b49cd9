"""The wheel, installed with each set of extras into a fresh venv (no dev tools), works alone.

One wheel is built; each venv installs it with its dependencies from the package index (pip's
cache makes later runs cheap), with an environment that does not leak this checkout or the dev
venv (no PYTHONPATH, a fresh HOME). Then, in that venv: `aa-notebooks --help`, `seed` and
`overview` on a new SQLite file, and per extra what it is for: PostgreSQL through psycopg, the
HTTP API's `create_app`, and `%load_ext aa_notebooks` in a real kernel of the venv's own
ipykernel, run by the venv's own nbconvert.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from tests.conftest import drop_postgres_database, new_postgres_database
from tests.otel.builders import genai_run, to_json_document

REPO = Path(__file__).resolve().parents[1]
EXTRA_SETS = ("", "postgres", "notebook", "api", "otel", "notebook,postgres,api")
SEEDED = 40  # executions seeded over the last 30 days, all inside a 90d overview
pytestmark = pytest.mark.slow


def clean_environment(home: Path, bin_dir: Path | None = None) -> dict[str, str]:
    """The environment of a user's shell: no PYTHONPATH or venv of ours, nothing of the kit's."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AA_", "PYTHON", "JUPYTER", "XDG_", "VIRTUAL_ENV", "IPYTHON"))
    }
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    if bin_dir is not None:
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(argv: list[str | Path], env: dict[str, str], cwd: Path) -> str:
    """Run a command; on failure the assertion shows its output."""
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def install(wheel: Path, extras: str, root: Path) -> Path:
    """A fresh venv holding the wheel with `extras` and their dependencies; returns its bin/."""
    name = extras.replace(",", "-") or "base"
    target = root / name
    venv.create(target, with_pip=True, clear=True)
    requirement = f"{wheel}[{extras}]" if extras else str(wheel)
    run(
        [target / "bin" / "python", "-m", "pip", "install", "-q", "--no-compile",
         "--disable-pip-version-check", requirement],
        clean_environment(root / "home"), root,
    )  # fmt: skip
    return target / "bin"


@pytest.fixture(scope="module")
def venvs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Build the wheel once (from a copy: a stale build/ in the checkout cannot leak into it)
    and install it with each extra set, two venvs at a time."""
    root = tmp_path_factory.mktemp("install")
    source, wheels = root / "source", root / "wheels"
    skip = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__")
    shutil.copytree(REPO, source, ignore=skip)
    run(
        [sys.executable, "-m", "pip", "wheel", source, "--no-deps", "-q", "-w", wheels],
        clean_environment(root / "home"), root,
    )  # fmt: skip
    (wheel,) = wheels.glob("aa_notebooks-*.whl")
    with ThreadPoolExecutor(max_workers=2) as pool:
        bins = pool.map(lambda extras: install(wheel, extras, root), EXTRA_SETS)
        yield dict(zip(EXTRA_SETS, bins, strict=True))


@pytest.fixture(params=EXTRA_SETS, ids=lambda e: e or "base")
def extras(request: pytest.FixtureRequest) -> str:
    return request.param


def test_help_seed_and_overview(venvs: dict[str, Path], extras: str, tmp_path: Path) -> None:
    bin_dir = venvs[extras]
    env = clean_environment(tmp_path / "home", bin_dir)
    cli = bin_dir / "aa-notebooks"
    assert "check-db" in run([cli, "--help"], env, tmp_path)
    url = f"sqlite:///{tmp_path / 'kit.db'}"
    seed = ["seed", "--executions", str(SEEDED), "--days", "30", "--no-progress"]
    run([cli, "--db", url, *seed], env, tmp_path)
    overview = json.loads(
        run([cli, "--db", url, "overview", "--period", "90d", "--format", "json"], env, tmp_path)
    )
    assert overview["total_executions"] == SEEDED


def test_report_notebooks_are_installed(venvs: dict[str, Path], tmp_path: Path) -> None:
    bin_dir = venvs[""]
    found = run(
        [bin_dir / "python", "-c", "from aa_notebooks.reporting.notebooks import report_notebook "
         "as r; print(r('cost')); print(r('budget'))"],
        clean_environment(tmp_path / "home", bin_dir), tmp_path,
    ).split()  # fmt: skip
    share = bin_dir.parent / "share" / "aa-notebooks" / "reports"
    assert found == [str(share / "cost_report.ipynb"), str(share / "budget_report.ipynb")]
    assert (share / "cost_report.ipynb").read_bytes() == (
        REPO / "reports" / "cost_report.ipynb"
    ).read_bytes()


def test_widget_front_end_is_installed(venvs: dict[str, Path], tmp_path: Path) -> None:
    """The custom widgets load their ES modules and CSS from the venv, not from a checkout."""
    bin_dir = venvs["notebook"]
    code = (
        "from aa_notebooks.ui import ExecutionsGrid, TraceWaterfall\n"
        "from aa_notebooks.ui.assets import asset\n"
        "print(asset('executions_grid.js')); print(asset('trace_waterfall.css'))\n"
        "print(len(ExecutionsGrid()._esm) > 0, len(TraceWaterfall([])._css) > 0)"
    )
    found = run([bin_dir / "python", "-c", code], clean_environment(tmp_path / "home", bin_dir),
                tmp_path).split()  # fmt: skip
    share = bin_dir.parent / "share" / "aa-notebooks" / "widgets"
    assert found == [
        str(share / "executions_grid.js"), str(share / "trace_waterfall.css"), "True", "True",
    ]  # fmt: skip
    assert (share / "executions_grid.js").read_bytes() == (
        REPO / "widgets" / "executions_grid.js"
    ).read_bytes()


@pytest.mark.postgres
@pytest.mark.parametrize("extras", ["postgres", "notebook,postgres,api"])
def test_postgres_extra_reaches_postgresql(
    venvs: dict[str, Path], extras: str, tmp_path: Path
) -> None:
    url, name = new_postgres_database()
    try:
        bin_dir = venvs[extras]
        env = clean_environment(tmp_path / "home", bin_dir)
        cli = bin_dir / "aa-notebooks"
        run([cli, "--db", url, "init-db"], env, tmp_path)
        run([cli, "--db", url, "seed", "--executions", "5", "--days", "3", "--no-progress"],
            env, tmp_path)  # fmt: skip
        shown = run([cli, "--db", url, "overview", "--format", "json"], env, tmp_path)
        assert json.loads(shown)["total_executions"] == 5
    finally:
        drop_postgres_database(url, name)


@pytest.mark.parametrize("extras", ["api", "notebook,postgres,api"])
def test_api_extra_imports_the_app(venvs: dict[str, Path], extras: str, tmp_path: Path) -> None:
    bin_dir = venvs[extras]
    code = "from aa_notebooks.api import create_app; print(create_app.__name__)"
    env = clean_environment(tmp_path / "home", bin_dir)
    assert run([bin_dir / "python", "-c", code], env, tmp_path).strip() == "create_app"


def test_otel_extra_ingests_a_collector_file(venvs: dict[str, Path], tmp_path: Path) -> None:
    """`ingest` of an OTLP/JSON line (tests/otel/builders.py's GenAI run: agent "Weather", two
    LLM calls of 2,500 input and 300 output tokens in all) and the SDK exporter's import."""
    root, *children = genai_run()
    lines = tmp_path / "traces.jsonl"
    lines.write_text(json.dumps(to_json_document([root, *children])) + "\n")
    bin_dir = venvs["otel"]
    env = clean_environment(tmp_path / "home", bin_dir)
    cli, url = bin_dir / "aa-notebooks", f"sqlite:///{tmp_path / 'kit.db'}"
    said = run([cli, "--db", url, "ingest", "--no-progress", lines], env, tmp_path)
    assert said.startswith("1 file(s), 1 line(s), 5 span(s): 1 execution(s) written")
    query = "SELECT agent_name, input_tokens, output_tokens FROM agentexecutions"
    rows = json.loads(run([cli, "--db", url, "sql", query, "--format", "json"], env, tmp_path))
    assert rows == [{"agent_name": "Weather", "input_tokens": 2500, "output_tokens": 300}]
    code = "from aa_notebooks.otel import SpanExporter; print(SpanExporter.__name__)"
    assert run([bin_dir / "python", "-c", code], env, tmp_path).strip() == "SpanExporter"


def test_without_the_otel_extra_json_ingests_and_the_exporter_names_the_extra(
    venvs: dict[str, Path], tmp_path: Path
) -> None:
    """OTLP/JSON files need only the base install; the SDK exporter says which extra it needs."""
    bin_dir = venvs[""]
    env = clean_environment(tmp_path / "home", bin_dir)
    lines = tmp_path / "traces.jsonl"
    lines.write_text(json.dumps(to_json_document(genai_run())) + "\n")
    cli, url = bin_dir / "aa-notebooks", f"sqlite:///{tmp_path / 'kit.db'}"
    said = run([cli, "--db", url, "ingest", "--no-progress", lines], env, tmp_path)
    assert said.startswith("1 file(s), 1 line(s), 5 span(s): 1 execution(s) written")
    code = "from aa_notebooks.otel import SpanExporter"
    done = subprocess.run([bin_dir / "python", "-c", code], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode != 0
    assert "aa-notebooks[otel]" in done.stderr


KERNEL_CELL = """\
import sys, aa_notebooks
print(sys.prefix)
print(aa_notebooks.__file__)
%load_ext aa_notebooks
frame = %agent_analytics executions --period 90d --page-size 5
print(type(frame).__name__, len(frame), frame.attrs["total"])
%agent_analytics overview --period 90d
"""


@pytest.mark.parametrize("extras", ["notebook", "notebook,postgres,api"])
def test_notebook_extra_runs_the_magic_in_its_own_kernel(
    venvs: dict[str, Path], extras: str, tmp_path: Path
) -> None:
    bin_dir = venvs[extras]
    env = clean_environment(tmp_path / "home", bin_dir)
    url = f"sqlite:///{tmp_path / 'kit.db'}"
    run([bin_dir / "aa-notebooks", "--db", url, "seed", "--executions", str(SEEDED),
         "--days", "30", "--no-progress"], env, tmp_path)  # fmt: skip
    notebook = {
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                   "source": KERNEL_CELL}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip
    (tmp_path / "check.ipynb").write_text(json.dumps(notebook))
    env["AA_DATABASE_URL"] = url
    run([bin_dir / "jupyter", "nbconvert", "--to", "notebook", "--execute", "check.ipynb",
         "--output", "done.ipynb"], env, tmp_path)  # fmt: skip
    outputs = nbformat.read(tmp_path / "done.ipynb", as_version=4).cells[0].outputs
    printed = "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
    prefix, module, frame_line = printed.splitlines()
    venv_dir = bin_dir.parent
    assert Path(prefix) == venv_dir  # the venv's own kernel, not the dev venv's
    assert Path(module).is_relative_to(venv_dir)
    assert frame_line == f"DataFrame 5 {SEEDED}"
    (shown,) = [o for o in outputs if o["output_type"] == "execute_result"]
    assert f"Total executions         {SEEDED}" in shown["data"]["text/plain"]
