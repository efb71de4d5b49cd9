"""What several benchmarks share: bench/analytics.py loaded as a module, for its seeding rules,
database locations and NOW (the scripts run as files, so it is not a package import), and the
options that choose its databases."""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
from pathlib import Path
from types import ModuleType

from platformdirs import user_cache_dir


@functools.cache
def analytics_bench() -> ModuleType:
    """bench/analytics.py, for its seeding rules, database locations and NOW."""
    spec = importlib.util.spec_from_file_location(
        "bench_analytics", Path(__file__).parent / "analytics.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def database_options(parser: argparse.ArgumentParser) -> None:
    """--executions, --sqlite, --postgres-url, --skip-sqlite and --skip-postgres: which of
    bench/analytics.py's databases to time."""
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--sqlite", type=Path, help="SQLite file (default: bench/analytics.py's)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("AA_BENCH_POSTGRES_URL", analytics_bench().DEFAULT_ADMIN_URL),
        help="admin URL; the scratch database is bench/analytics.py's, next to its database",
    )
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")


def database_urls(args: argparse.Namespace, seeding: ModuleType) -> dict[str, str]:
    """The databases `database_options` chose, by name ("SQLite", "PostgreSQL")."""
    urls = {}
    if not args.skip_sqlite:
        path = args.sqlite or Path(user_cache_dir("aa-notebooks")) / "bench" / "analytics.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        urls["SQLite"] = f"sqlite:///{path}"
    if not args.skip_postgres:
        urls["PostgreSQL"] = seeding.postgres_url(args.postgres_url, args.executions)
    return urls
