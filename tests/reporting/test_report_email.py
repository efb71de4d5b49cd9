"""A report sent through a real SMTP server on localhost, and one whose server is down."""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest

from aa_notebooks.cli import main
from aa_notebooks.errors import ConfigurationError, InvalidInputError
from aa_notebooks.reporting import run_report
from tests.notify.smtp_server import Credentials, RefusingSome, free_port, smtp_server
from tests.reporting.conftest import AS_OF

pytestmark = pytest.mark.slow
PASSWORD = "smtp-s3cret-pw"
MAX_EMAIL_BYTES = 300_000


def _smtp_environment(monkeypatch: pytest.MonkeyPatch, port: int, *, user: bool = False) -> None:
    monkeypatch.setenv("AA_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("AA_SMTP_PORT", str(port))
    monkeypatch.setenv("AA_SMTP_SECURITY", "none")
    monkeypatch.setenv("AA_SMTP_FROM", "reports@example.com")
    if user:
        monkeypatch.setenv("AA_SMTP_USER", "reporter")
        monkeypatch.setenv("AA_SMTP_PASSWORD", PASSWORD)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_cost_report_arrives_with_its_parts(
    report_db: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with smtp_server(Credentials("reporter", PASSWORD)) as (port, inbox):
        _smtp_environment(monkeypatch, port, user=True)
        result = run_report(
            "cost", database_url=report_db, as_of=AS_OF, output_dir=tmp_path,
            email="cfo@example.com, ops@example.com", keep_notebook=True, progress=False,
        )  # fmt: skip
    assert result.emailed_to == ("cfo@example.com", "ops@example.com")
    assert inbox.envelopes == [["cfo@example.com", "ops@example.com"]]
    message: EmailMessage = inbox.messages[0]
    assert message["Subject"] == "Agent cost report: Total cost: $0.02 (▼ 98.4% vs previous 7d)"
    assert message.get_content_type() == "multipart/mixed"

    alternative, attachment = message.get_payload()
    plain, related = alternative.get_payload()
    assert plain.get_content_type() == "text/plain"
    assert "Total cost: $0.02 (▼ 98.4% vs previous 7d)" in plain.get_content()
    assert "Executions: 8 (▲ 7 vs previous 7d)" in plain.get_content()
    body, *images = related.get_payload()
    assert body.get_content_type() == "text/html"
    html = body.get_content()
    referenced = set(re.findall(r'src="cid:([^"]+)"', html))
    content_ids = {image["Content-ID"].strip("<>") for image in images}
    assert referenced == content_ids and len(images) == 3
    assert all(image.get_content_type() == "image/png" for image in images)
    assert all(image.get_content().startswith(b"\x89PNG") for image in images)
    assert "data:" not in html and "<style" not in html  # mail clients drop both
    assert 'style="' in html  # the stylesheet inlined

    assert attachment.get_filename() == result.html_path.name
    assert attachment.get_payload(decode=True) == result.html_path.read_bytes()
    raw = message.as_bytes()
    assert len(raw) < MAX_EMAIL_BYTES
    assert PASSWORD.encode() not in raw
    assert PASSWORD not in result.notebook_path.read_text()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_down_server_is_retried_and_the_report_kept(
    report_db: str, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys, caplog
) -> None:
    _smtp_environment(monkeypatch, free_port())  # nothing listens there
    code = main([
        "--db", report_db, "report", "cost", "--as-of", AS_OF, "--output-dir", str(tmp_path),
        "--email", "cfo@example.com",
    ])  # fmt: skip
    error = capsys.readouterr().err
    assert code == 1
    kept = list(tmp_path.glob("cost-report-*.html"))
    assert len(kept) == 1 and kept[0].stat().st_size > 0
    assert "the cost report was made but not sent" in error
    assert "after 4 attempts" in error and f"kept at {kept[0]}" in error
    retries = [r for r in caplog.records if "sending email via" in r.getMessage()]
    assert [r.getMessage().split("(")[1].split(")")[0] for r in retries] == [
        "attempt 1 of 4", "attempt 2 of 4", "attempt 3 of 4", "attempt 4 of 4"
    ]  # fmt: skip


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_recipient_the_server_refuses_fails_the_command_and_names_it(
    report_db: str, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    with smtp_server(inbox=RefusingSome()) as (port, inbox):
        _smtp_environment(monkeypatch, port)
        code = main([
            "--db", report_db, "report", "cost", "--as-of", AS_OF, "--output-dir", str(tmp_path),
            "--email", "cfo@example.com,bad@example.com",
        ])  # fmt: skip
    out, error = capsys.readouterr()
    assert code == 1 and "emailed to" not in out
    assert inbox.envelopes == [["cfo@example.com"]]
    (kept,) = tmp_path.glob("cost-report-*.html")
    assert error.strip().splitlines()[-1] == (
        f"aa-notebooks: error: the cost report was not sent to everyone: the email went out via "
        f"127.0.0.1:{port}, but the server refused it for bad@example.com (550 5.1.1 No such "
        f"user here); the other recipients have it. Check those addresses; the report is kept "
        f"at {kept}"
    )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_recipients_with_display_names(
    report_db: str, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The form AA_SMTP_FROM takes works for recipients too: names in the To header, bare
    addresses in the envelope."""
    with smtp_server() as (port, inbox):
        _smtp_environment(monkeypatch, port)
        code = main([
            "--db", report_db, "report", "cost", "--as-of", AS_OF, "--output-dir", str(tmp_path),
            "--email", '"Finance, EU" <cfo@example.com>,ops@example.com',
        ])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert inbox.envelopes == [["cfo@example.com", "ops@example.com"]]
    assert inbox.messages[0]["To"] == '"Finance, EU" <cfo@example.com>, ops@example.com'


def test_email_without_smtp_settings_fails_before_running(db_url: str, tmp_path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ConfigurationError, match="email is not configured: set AA_SMTP_HOST"):
        run_report("cost", database_url=db_url, output_dir=out, email="a@example.com")
    assert not out.exists()


def test_a_bad_address_is_refused(db_url: str, tmp_path) -> None:
    with pytest.raises(InvalidInputError, match="'cfo-at-example' is not an email address"):
        run_report("cost", database_url=db_url, output_dir=tmp_path, email="cfo-at-example")
