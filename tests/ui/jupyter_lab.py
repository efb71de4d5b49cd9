"""A JupyterLab server for browser tests: localhost, a port of its choosing, no token, its own
dirs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

START_SECONDS = 60


def _wait_until_up(server: subprocess.Popen[bytes], runtime: Path, log: Path) -> str:
    """The server's URL once it answers; it picked its own port and wrote it to its runtime
    file (a port chosen here and freed could be taken by another test worker meanwhile)."""
    info = runtime / f"jpserver-{server.pid}.json"
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            url = f"http://127.0.0.1:{json.loads(info.read_text(encoding='utf-8'))['port']}"
            with urllib.request.urlopen(f"{url}/api/status", timeout=2) as response:
                if response.status == 200:
                    return url
        except (OSError, ValueError, KeyError):  # no file yet, half written, or not answering
            time.sleep(0.3)
    raise RuntimeError(f"JupyterLab did not start: {log.read_text(errors='replace')[-2000:]}")


@contextmanager
def jupyter_lab(root: Path, env: dict[str, str]) -> Iterator[str]:
    """Run `jupyter lab` on `root` (its settings and runtime files under it); yield its URL."""
    home = root / ".jupyter-test"
    environment = {
        **os.environ,
        **env,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
    }
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
        "--port=0", "--ServerApp.port_retries=0", "--IdentityProvider.token=",
        "--ServerApp.password=", "--ServerApp.open_browser=False", f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    if os.geteuid() == 0:  # CI and containers run as root
        command.append("--allow-root")
    news = (
        home
        / "settings"
        / "@jupyterlab"
        / "apputils-extension"
        / "notification.jupyterlab-settings"
    )
    news.parent.mkdir(parents=True, exist_ok=True)
    news.write_text('{"fetchNews": "false"}', encoding="utf-8")  # no "get news?" toast
    log = home / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(command, env=environment, stdout=output, stderr=output, cwd=root)
        try:
            yield _wait_until_up(server, home / "runtime", log)
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(5)
