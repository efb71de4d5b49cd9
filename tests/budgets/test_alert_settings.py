"""Whether budget alerts can be emailed with the settings in the environment, the warning when
they cannot, and how recipients are shown: each missing or malformed setting named."""

from __future__ import annotations

import pytest

from aa_notebooks.budgets import AlertMailer
from aa_notebooks.budgets.alert_settings import email_problem, mask_address, unsent_warning
from aa_notebooks.errors import ConfigurationError

COMPLETE = {"AA_SMTP_HOST": "mail.example.com", "AA_SMTP_FROM": "budgets@example.com",
            "AA_BUDGET_ALERT_EMAILS": "ops@example.com, cfo@example.com"}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({}, None),
        ({"AA_SMTP_HOST": ""}, "AA_SMTP_HOST is not set"),
        ({"AA_SMTP_FROM": "  "}, "AA_SMTP_FROM is not set"),
        ({"AA_BUDGET_ALERT_EMAILS": " , "}, "AA_BUDGET_ALERT_EMAILS is not set"),
        ({"AA_SMTP_HOST": "", "AA_BUDGET_ALERT_EMAILS": ""},
         "AA_SMTP_HOST and AA_BUDGET_ALERT_EMAILS are not set"),
        ({"AA_SMTP_PORT": "smtp"}, "AA_SMTP_PORT must be a port number (1-65535), got 'smtp'"),
        ({"AA_SMTP_SECURITY": "tls"},
         "AA_SMTP_SECURITY must be one of starttls, ssl, none, got 'tls'"),
        ({"AA_BUDGET_ALERT_EMAILS": "ops@example.com, ops"},
         "AA_BUDGET_ALERT_EMAILS: 'ops' is not an email address: give addresses like "
         "a@example.com or 'Ops <ops@example.com>', separated by commas"),
    ],
)  # fmt: skip
def test_each_missing_or_malformed_setting_is_named(
    changes: dict[str, str], problem: str | None
) -> None:
    environ = {**COMPLETE, **changes}
    assert email_problem(environ) == problem
    if problem is None:
        mailer = AlertMailer.from_env(environ)
        assert mailer.recipients == ("ops@example.com", "cfo@example.com")
        assert (mailer.settings.host, mailer.settings.sender) == (
            "mail.example.com", "budgets@example.com"
        )  # fmt: skip
    else:
        with pytest.raises(ConfigurationError) as refused:
            AlertMailer.from_env(environ)
        assert str(refused.value) == f"budget alerts cannot be emailed: {problem}"


def test_nothing_set_names_all_three() -> None:
    assert email_problem({}) == (
        "AA_SMTP_HOST, AA_SMTP_FROM and AA_BUDGET_ALERT_EMAILS are not set"
    )


def test_the_warning_line() -> None:
    assert unsent_warning(1, "AA_SMTP_FROM is not set") == (
        "WARNING: 1 budget alert is due but cannot be emailed: AA_SMTP_FROM is not set. Complete "
        "the email settings where `aa-notebooks budgets evaluate` runs; until then no alert "
        "email is sent."
    )
    assert unsent_warning(2, "AA_SMTP_FROM is not set").startswith(
        "WARNING: 2 budget alerts are due but cannot be emailed: "
    )
    assert unsent_warning(0, "AA_SMTP_FROM is not set") is None  # nothing due: nothing to say
    assert unsent_warning(4, None) is None  # email works


def test_recipients_are_masked() -> None:
    given = ("ops@example.com", "a@b.io", "first.last@x.org", '"Finance, EU" <cfo@example.com>')
    assert [mask_address(a) for a in given] == [
        "o***@example.com", "a***@b.io", "f***@x.org", "c***@example.com"
    ]  # fmt: skip
