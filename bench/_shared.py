"""What several benchmarks share: bench/analytics.py loaded as a module, for its seeding rules,
database locations and NOW (the scripts run as files, so it is not a package import)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def analytics_bench() -> ModuleType:
    """bench/analytics.py, for its seeding rules, database locations and NOW."""
    spec = importlib.util.spec_from_file_location(
        "bench_analytics", Path(__file__).parent / "analytics.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
