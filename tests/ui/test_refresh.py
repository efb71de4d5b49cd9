"""Refreshing: the dashboard says so while it runs, and changes made meanwhile coalesce."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

from aa_notebooks.analytics import Analytics
from aa_notebooks.ui import Dashboard
from aa_notebooks.ui.refresher import Refresher
from aa_notebooks.ui.snapshot import query_threads
from tests.ui.test_kpis import expected_kpis


def test_changes_during_a_refresh_coalesce_into_one_more(
    dashboard: Dashboard, analytics: Analytics
):
    seen: dict[str, Any] = {}

    def during_refresh(_change: object) -> None:
        if seen:
            return
        seen["busy"] = dashboard.busy
        seen["status"] = dashboard.controls.status.value
        seen["thread"] = threading.current_thread().name
        dashboard.controls.period.value = "30d"  # two user changes while the refresh runs
        dashboard.controls.period.value = "90d"

    runs = dashboard.refresh_runs
    dashboard.kpi_panel.widget.observe(during_refresh, "value")
    dashboard.set_period("24h")
    assert seen["busy"] is True and "Refreshing…" in seen["status"]
    assert seen["thread"] == "aa-dashboard-refresh"
    assert dashboard.refresh_runs == runs + 2  # the 24h run, then one run for both changes
    assert dashboard.period == "90d" and dashboard.window == analytics.window("90d")
    assert dashboard.kpis == expected_kpis(analytics.overview("90d"))
    assert not dashboard.busy and "Updated 2026-11-25 12:00:00 UTC" in (
        dashboard.controls.status.value
    )


def test_concurrent_changes_never_overlap(dashboard: Dashboard, analytics: Analytics):
    active, overlaps = [0], [0]
    lock = threading.Lock()
    run = dashboard._run

    def counted(parts: frozenset[str]) -> None:
        with lock:
            active[0] += 1
            overlaps[0] += active[0] > 1
        try:
            run(parts)
        finally:
            with lock:
                active[0] -= 1

    dashboard._refresher._work = counted  # instrumentation only: the real refresh runs
    runs = dashboard.refresh_runs
    start = threading.Barrier(3)

    def change(period: str) -> None:
        start.wait()
        dashboard.set_period(period)

    threads = [threading.Thread(target=change, args=(p,)) for p in ("30d", "90d", "24h")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    dashboard.wait()
    assert overlaps[0] == 0
    assert 1 <= dashboard.refresh_runs - runs <= 3
    shown = dashboard.period
    assert dashboard.window == analytics.window(shown)
    assert dashboard.kpis == expected_kpis(analytics.overview(shown))


def test_refresh_button_requests_and_returns(dashboard: Dashboard):
    runs = dashboard.refresh_runs
    dashboard.controls.refresh.click()
    dashboard.wait()
    assert dashboard.refresh_runs == runs + 1
    assert dashboard.kpis["Total Executions"] == "5"


def test_refresher_merges_requests_and_survives_errors():
    release, started = threading.Event(), threading.Event()
    calls: list[frozenset[str]] = []
    states: list[bool] = []
    errors: list[Exception] = []

    def work(parts: frozenset[str]) -> None:
        calls.append(parts)
        if len(calls) == 1:
            started.set()
            assert release.wait(10)
            raise RuntimeError("first run fails")

    refresher = Refresher(work, states.append, errors.append)
    refresher.request({"all"})
    assert started.wait(10) and refresher.busy
    refresher.request({"page"})
    refresher.request({"all"})
    release.set()
    assert refresher.wait(10)
    assert calls == [frozenset({"all"}), frozenset({"all", "page"})]
    assert refresher.runs == 2 and [str(e) for e in errors] == ["first run fails"]
    assert states == [True, False] and not refresher.busy


def test_a_refresh_stops_the_shown_lists_walk_before_it_reads(
    dashboard: Dashboard, monkeypatch: Any
):
    """The executions list on screen stops marking positions before the new panels are read
    (its walk would compete with their queries); its pages keep working."""
    shown = dashboard.recent.listing
    assert shown is not None and not shown._no_walk.is_set()
    stopped_before_read: list[bool] = []
    listing_for = dashboard.recent.listing_for

    def recorded(client: Analytics, window: Any) -> Any:
        stopped_before_read.append(shown._no_walk.is_set())
        return listing_for(client, window)

    monkeypatch.setattr(dashboard.recent, "listing_for", recorded)
    dashboard.set_period("30d")
    assert stopped_before_read == [True]
    assert len(shown.rows(0, 2)) == 2


def test_closing_the_dashboard_stops_its_lists_background_work(dashboard: Dashboard):
    """A closed dashboard's 90-day list would otherwise go on counting and marking a million
    rows beside whatever runs next in the kernel."""
    dashboard.set_period("90d")
    shown = dashboard.recent.listing
    assert shown is not None and not shown.closed
    dashboard.close()
    assert shown.closed


def test_a_refresh_still_running_when_the_dashboard_closes_leaves_no_list_working(
    dashboard: Dashboard, monkeypatch: Any
):
    """The list that refresh makes after close() is closed on arrival: it never starts its
    background count or walk, and the closed grid keeps the list it had."""
    dashboard.wait()
    shown = dashboard.recent.listing
    made: list[Any] = []
    listing_for = dashboard.recent.listing_for
    release = threading.Event()

    def held(client: Analytics, window: Any) -> Any:
        release.wait(10)  # close() comes first
        made.append(listing_for(client, window))
        return made[-1]

    monkeypatch.setattr(dashboard.recent, "listing_for", held)
    dashboard.set_period("90d", wait=False)
    dashboard.close()
    release.set()
    dashboard.wait()
    [late] = made
    assert late.closed and late._walker is None
    assert dashboard.recent.listing is shown and shown is not None and shown.closed


def test_a_refresh_runs_no_more_sqlite_queries_at_once_than_there_are_cores(
    analytics: Analytics, monkeypatch: pytest.MonkeyPatch
):
    """SQLite's queries run in this process: threads past the cores only take turns. A server
    database gets every thread, whatever this machine has."""
    sqlite = analytics.url.get_backend_name() == "sqlite"
    for cores, threads in ((1, 1), (2, 2), (3, 3), (16, 4), (None, 1)):
        monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
        assert query_threads(analytics) == (threads if sqlite else 4)
