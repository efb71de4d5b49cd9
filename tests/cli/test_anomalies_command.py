"""`aa-notebooks anomalies` through the CLI entry point, over the hand-made series of
tests/analytics/series.py (spikes: beta P95 on 11-25, alpha cost on 11-26, weekly cost on
11-24, gamma failure rate on 11-27)."""

from __future__ import annotations

import csv
import io

import pytest

from aa_notebooks.cli import main
from tests.analytics import series

WINDOW = ["--start-date", series.START_DATE, "--end-date", series.END_DATE]


@pytest.fixture
def url(db_url: str) -> str:
    series.load(db_url)
    return db_url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_anomalies_csv(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--db", url, "anomalies", *WINDOW, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["day"][:10], r["group"], r["metric"]) for r in rows] == [
        ("2026-11-25", "beta", "p95_ms"),
        ("2026-11-26", "alpha", "cost_usd"),
        ("2026-11-24", "weekly", "cost_usd"),
        ("2026-11-27", "gamma", "failure_rate"),
    ]


def test_anomalies_by_model_with_threshold(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--db", url, "anomalies", "--by", "model", "--threshold", "100", *WINDOW]
    code, out, _ = run(capsys, *argv, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["group"], r["metric"], r["by"]) for r in rows] == [("claude", "p95_ms", "model")]


def test_anomalies_table_names_the_spike(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--db", url, "anomalies", "--agent", "alpha", *WINDOW)
    assert code == 0
    assert "Anomalies by agent" in out
    assert "alpha" in out and "cost_usd" in out and "beta" not in out


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--baseline-days", "7"], "baseline_days must be a whole number 14-365; got 7"),
        (["--threshold", "-1"], "must be a number above 0, got -1"),
        (["--by", "user"], "--by: 'user' is not one of agent, model"),
    ],
)
def test_bad_options_are_one_line(
    url: str, capsys: pytest.CaptureFixture[str], option: list[str], message: str
) -> None:
    code, _, err = run(capsys, "--db", url, "anomalies", *option, *WINDOW)
    assert code != 0
    assert message in err
    assert "Traceback" not in err


def test_alert_posts_each_anomaly_once(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.notify.http_server import http_server

    for name in ("AA_SMTP_HOST", "AA_SMTP_FROM", "AA_BUDGET_ALERT_EMAILS"):
        monkeypatch.delenv(name, raising=False)
    with http_server() as server:
        monkeypatch.setenv("AA_ALERT_WEBHOOKS", f"json:{server.at('/hook')}")
        code, out, _ = run(capsys, "--db", url, "anomalies", *WINDOW, "--alert")
        assert (code, out.strip()) == (
            0, "4 anomalies found; 0 newly emailed, 4 newly posted to webhooks"
        )  # fmt: skip
        code, out, _ = run(capsys, "--db", url, "anomalies", *WINDOW, "--alert")
        assert (code, out.strip()) == (
            0, "4 anomalies found; 0 newly emailed, 0 newly posted to webhooks"
        )  # fmt: skip
        assert len(server.received) == 1
