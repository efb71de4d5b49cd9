"""`aa-notebooks token` and `aa-notebooks serve`: tokens are printed once and listed without
secrets; `serve` really serves the API (a subprocess called over HTTP) and will not face the
network without a token."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from aa_notebooks.api.otlp_route import REQUESTS_PER_CONNECTION
from aa_notebooks.cli import main
from tests.api import dataset
from tests.otel.builders import genai_run, to_json

COMMAND = str(Path(sys.executable).with_name("aa-notebooks"))
ADMIN_TOKEN = "an-admin-token-for-serve-0123456789"
TOKEN = re.compile(r"^aan_[A-Za-z0-9_-]{43}$", re.MULTILINE)
MARCH = {"start_date": "2025-03-03", "end_date": "2025-03-10"}  # A1-A4 of the dataset


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_token_create_list_revoke(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--db", db_url, "token", "create", "--admin", "--name", "ops")
    assert code == 0 and out.startswith("created admin token 'ops' (id ")
    [secret] = TOKEN.findall(out)
    token_id = re.search(r"\(id ([0-9a-f-]{36})\)", out).group(1)
    code, out, _ = run(capsys, "--db", db_url, "token", "create", "--user", str(dataset.U1))
    assert code == 0 and out.startswith(f"created user {dataset.U1} token (id ")

    code, out, _ = run(capsys, "--db", db_url, "token", "list", "--format", "json")
    listed = json.loads(out)
    assert [(t["id"], t["name"], t["role"], t["user_id"]) for t in listed] == [
        (token_id, "ops", "admin", None), (listed[1]["id"], None, "user", str(dataset.U1)),
    ]  # fmt: skip
    assert secret not in out and secret[4:] not in out

    code, out, _ = run(capsys, "--db", db_url, "token", "revoke", token_id)
    assert code == 0 and out.startswith(f"token {token_id} is revoked (since ")
    code, out, _ = run(capsys, "--db", db_url, "token", "list", "--format", "json")
    assert json.loads(out)[0]["revoked_at"] is not None


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["token", "create"], "`token create` takes exactly one of --admin and --user ID"),
        (["--user", str(dataset.U1), "token", "create", "--admin"], "exactly one of --admin"),
        (["token", "create", "--user", "bob"], "--user must be a UUID"),
        (["token", "revoke"], "`token revoke` needs the token id"),
        (["token", "list", "--admin"], "--admin and --name go with `token create`"),
        (["serve", "--port", "70000"], "a port is 1-65535, got 70000"),
        (["serve", "--user", str(dataset.U1)], "serve takes no --user"),
        (["serve", "--workers", "0"], "--workers is 1-64, got 0"),
        (["serve", "--workers", "two"], "expected a number of processes, got 'two'"),
    ],
)
def test_token_and_serve_usage_errors(
    db_url: str, capsys: pytest.CaptureFixture[str], argv: list[str], error: str
) -> None:
    code, _, err = run(capsys, "--db", db_url, *argv)
    assert code == 2 and error in err and err.count("\n") == 1


def test_serve_refuses_the_network_without_a_token(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AA_API_TOKEN", raising=False)
    code, _, err = run(capsys, "--db", db_url, "serve", "--host", "0.0.0.0", "--port", "1")
    assert code == 2
    assert err.startswith("aa-notebooks: error: refusing to serve on 0.0.0.0 without an API token")
    assert "aa-notebooks token create --admin" in err and "AA_API_TOKEN" in err


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(url: str, *options: str, **env: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`aa-notebooks serve [options]` on a free loopback port, until the block ends."""
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if k != "AA_API_TOKEN"} | env
    server = subprocess.Popen(
        [COMMAND, "--db", url, "serve", "--port", str(port), *options],
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if server.poll() is not None:
                pytest.fail(f"serve exited {server.returncode}: {server.stderr.read()}")
            try:
                httpx.get(f"{base}/docs", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_serve_answers_with_tokens(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    dataset.load(db_url)
    _, out, _ = run(capsys, "--db", db_url, "token", "create", "--user", str(dataset.U1))
    [user_token] = TOKEN.findall(out)
    with serving(db_url, AA_API_TOKEN=ADMIN_TOKEN) as (base, _):
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        everyone = httpx.get(f"{base}/api/analytics/overview", params=MARCH, headers=admin)
        assert (everyone.status_code, everyone.json()["total_executions"]) == (200, 4)
        user = {"Authorization": f"Bearer {user_token}"}
        own = httpx.get(f"{base}/api/analytics/overview", params=MARCH, headers=user).json()
        assert (own["scope"], own["total_executions"], own["total_cost_usd"]) == (
            f"user {dataset.U1}", 2, "0.004620",
        )  # fmt: skip
        anonymous = httpx.get(f"{base}/api/analytics/overview")
        assert (anonymous.status_code, anonymous.headers["www-authenticate"]) == (401, "Bearer")


def test_serve_on_loopback_without_a_token_makes_a_one_time_token(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'alone.db'}"
    assert main(["--db", url, "init-db"]) == 0
    with serving(url) as (base, server):
        assert httpx.get(f"{base}/api/analytics/overview").status_code == 401
        banner = ""
        while "Bearer" not in banner:
            banner += server.stderr.readline()
        [run_token] = re.findall(r"Bearer (aan_[A-Za-z0-9_-]{43})$", banner, re.MULTILINE)
        admin = {"Authorization": f"Bearer {run_token}"}
        assert httpx.get(f"{base}/api/analytics/overview", headers=admin).status_code == 200
    assert "one-time admin token" in banner


def _workers(pid: int) -> list[int]:
    """The server processes uvicorn spawned under `pid` (Linux's /proc; multiprocessing's
    resource tracker is a child too, and not one of them)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [
        int(child)
        for child in children
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def test_serve_with_workers_runs_that_many_processes_sharing_one_port(tmp_path: Path) -> None:
    """Two uvicorn workers, made from the environment the parent passes (database URL and the
    one-time token): every request is answered, and twenty runs posted as OTLP, each in two
    requests (children, then the agent span), are twenty whole executions."""
    url = f"sqlite:///{tmp_path / 'workers.db'}"
    assert main(["--db", url, "init-db"]) == 0
    with serving(url, "--workers", "2") as (base, server):
        banner = ""
        while "Bearer" not in banner:
            banner += server.stderr.readline()
        [run_token] = re.findall(r"Bearer (aan_[A-Za-z0-9_-]{43})$", banner, re.MULTILINE)
        headers = {"Authorization": f"Bearer {run_token}", "Content-Type": "application/json"}
        for _ in range(100):
            if len(_workers(server.pid)) == 2:
                break
            time.sleep(0.1)
        assert len(_workers(server.pid)) == 2
        runs = [genai_run(trace=f"{n + 1:032x}") for n in range(20)]
        with httpx.Client(timeout=30) as client:
            for spans in runs:
                for part in (spans[1:], spans[:1]):
                    answer = client.post(
                        f"{base}/v1/traces", content=to_json(part), headers=headers
                    )
                    assert answer.status_code == 200
            overview = client.get(f"{base}/api/analytics/overview", headers=headers)
            assert overview.status_code == 200
    engine = create_engine(url)
    with engine.connect() as connection:
        counts = connection.execute(text(
            "SELECT COUNT(*), SUM(total_tokens), (SELECT COUNT(*) FROM executiontraces) "
            "FROM agentexecutions"
        )).one()  # fmt: skip
    engine.dispose()
    assert tuple(counts) == (20, 20 * 2800, 20 * 4)


def test_a_bad_setting_with_workers_is_one_line_before_any_worker_starts(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'workers.db'}"
    assert main(["--db", url, "init-db"]) == 0
    environment = os.environ | {"AA_OTEL_HOLD_SECONDS": "soon", "AA_API_TOKEN": ADMIN_TOKEN}
    done = subprocess.run(
        [COMMAND, "--db", url, "serve", "--port", str(_free_port()), "--workers", "2"],
        env=environment, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (
        2,
        "aa-notebooks: error: AA_OTEL_HOLD_SECONDS must be a number of seconds above 0, "
        "not 'soon'\n",
    )


def test_a_long_lived_exporter_connection_is_asked_to_reconnect(tmp_path: Path) -> None:
    """One keep-alive connection (a Collector's) would tie every export to the worker that
    accepted it: every REQUESTS_PER_CONNECTION-th answer says `Connection: close`, and the
    exporter's next request comes on a new connection, which any worker may accept."""
    url = f"sqlite:///{tmp_path / 'turns.db'}"
    assert main(["--db", url, "init-db"]) == 0
    every = REQUESTS_PER_CONNECTION
    with serving(url, "--workers", "2", AA_API_TOKEN=ADMIN_TOKEN) as (base, _):
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
        closing, ports = [], []
        with httpx.Client(timeout=30) as client:
            for n in range(2 * every + 1):
                body = to_json(genai_run(trace=f"{n + 1:032x}"))
                answer = client.post(f"{base}/v1/traces", content=body, headers=headers)
                assert answer.status_code == 200
                closing.append(answer.headers.get("connection") == "close")
                if not closing[-1]:  # a closed connection's socket has no address any more
                    stream = answer.extensions["network_stream"]
                    ports.append(stream.get_extra_info("client_addr")[1])
    assert [n + 1 for n, closed in enumerate(closing) if closed] == [every, 2 * every]
    # three connections, one per turn: the first's every - 1 open answers, then the second's
    turns = [ports[: every - 1], ports[every - 1 : 2 * every - 2], ports[2 * every - 2 :]]
    assert [len(set(turn)) for turn in turns] == [1, 1, 1]
    assert len({turn[0] for turn in turns}) == 3


def test_a_served_trace_is_recorded_without_a_warning_the_user_cannot_act_on(
    tmp_path: Path,
) -> None:
    """The receiver's writer starts in a request's thread: `serve` installs the signal handlers
    from its main thread, so no 'call flush_on_signals()' warning, and SIGTERM keeps the run."""
    url = f"sqlite:///{tmp_path / 'served.db'}"
    assert main(["--db", url, "init-db"]) == 0
    with serving(url, AA_API_TOKEN=ADMIN_TOKEN) as (base, server):
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
        answer = httpx.post(f"{base}/v1/traces", content=to_json(genai_run()), headers=headers)
        assert answer.status_code == 200
    assert "flush_on_signals" not in server.stderr.read()
    engine = create_engine(url)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT COUNT(*) FROM agentexecutions")).scalar_one()
    engine.dispose()
    assert stored == 1
