"""SmtpSettings.from_env reads AA_SMTP_*, picks security by port, and never shows the password."""

from __future__ import annotations

import pytest

from aa_notebooks.errors import ConfigurationError
from aa_notebooks.notify import SmtpSettings

BASE = {"AA_SMTP_HOST": "smtp.example.com", "AA_SMTP_FROM": "alerts@example.com"}


@pytest.mark.parametrize(
    ("extra", "port", "security"),
    [
        ({}, 587, "starttls"),
        ({"AA_SMTP_PORT": "465"}, 465, "ssl"),
        ({"AA_SMTP_PORT": "25"}, 25, "none"),
        ({"AA_SMTP_PORT": "2525"}, 2525, "starttls"),
        ({"AA_SMTP_SECURITY": "ssl"}, 465, "ssl"),
        ({"AA_SMTP_SECURITY": "NONE"}, 25, "none"),
        ({"AA_SMTP_PORT": "465", "AA_SMTP_SECURITY": "starttls"}, 465, "starttls"),
    ],
)
def test_port_and_security_defaults(extra: dict[str, str], port: int, security: str) -> None:
    settings = SmtpSettings.from_env({**BASE, **extra})
    assert (settings.host, settings.sender) == ("smtp.example.com", "alerts@example.com")
    assert (settings.port, settings.security) == (port, security)
    assert settings.address == f"smtp.example.com:{port}"


def test_credentials_and_hidden_password() -> None:
    env = {**BASE, "AA_SMTP_USER": "mailer", "AA_SMTP_PASSWORD": "s3cr3t-pw"}
    settings = SmtpSettings.from_env(env)
    assert (settings.user, settings.password) == ("mailer", "s3cr3t-pw")
    assert "s3cr3t-pw" not in repr(settings) and "s3cr3t-pw" not in str(settings)


def test_timeout_per_reply() -> None:
    assert SmtpSettings.from_env(BASE).timeout == 30
    assert SmtpSettings.from_env({**BASE, "AA_SMTP_TIMEOUT": " 7.5 "}).timeout == 7.5


def test_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    assert SmtpSettings.from_env().host == "smtp.example.com"
    for sender in ("Agent reports <r@example.com>", "alerts@localhost", '"aa reports"@x.org'):
        assert SmtpSettings.from_env({**BASE, "AA_SMTP_FROM": sender}).sender == sender


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "set AA_SMTP_HOST and AA_SMTP_FROM"),
        ({"AA_SMTP_HOST": "smtp.example.com"}, "set AA_SMTP_FROM"),
        ({"AA_SMTP_FROM": "a@example.com", "AA_SMTP_HOST": "  "}, "set AA_SMTP_HOST"),
        ({**BASE, "AA_SMTP_PORT": "smtp"}, "AA_SMTP_PORT must be a port number"),
        ({**BASE, "AA_SMTP_PORT": "70000"}, "AA_SMTP_PORT must be a port number"),
        ({**BASE, "AA_SMTP_SECURITY": "tls"}, "must be one of starttls, ssl, none"),
        (
            {**BASE, "AA_SMTP_FROM": "not an email"},
            "AA_SMTP_FROM must be an email address like "
            "reports@example.com or 'Reports <reports@example.com>'; got 'not an email'",
        ),
        ({**BASE, "AA_SMTP_FROM": "Reports <nobody>"}, "got 'Reports <nobody>'"),
        ({**BASE, "AA_SMTP_TIMEOUT": "10s"}, "AA_SMTP_TIMEOUT must be a number of seconds"),
        ({**BASE, "AA_SMTP_TIMEOUT": "0"}, r"more than 0, at most 3600\), got '0'"),
        ({**BASE, "AA_SMTP_TIMEOUT": "nan"}, "AA_SMTP_TIMEOUT must be a number of seconds"),
    ],
)
def test_configuration_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        SmtpSettings.from_env(env)
