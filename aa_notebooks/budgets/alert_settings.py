"""Where budget alerts are emailed, and the warning shown when they cannot be.

Alerts go to AA_BUDGET_ALERT_EMAILS (comma-separated; the data contract has no recipient column)
through the AA_SMTP_* server. When an alert is due and these settings are incomplete, every place
that shows budgets (`budgets status`, `budgets evaluate`, the dashboard, the budget report) says so
in `unsent_warning`'s words: an alert that silently never leaves is worse than none.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr

from aa_notebooks.errors import ConfigurationError, InvalidInputError
from aa_notebooks.notify import SmtpSettings, parse_recipients
from aa_notebooks.notify.settings import ENV_FROM, ENV_HOST

RECIPIENTS_ENV = "AA_BUDGET_ALERT_EMAILS"
REQUIRED_ENV = (ENV_HOST, ENV_FROM, RECIPIENTS_ENV)


@dataclass(frozen=True)
class AlertMailer:
    """Where budget alerts are emailed and how hard sending is retried."""

    settings: SmtpSettings
    recipients: tuple[str, ...]
    retries: int = 3
    backoff: float = 0.5

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlertMailer:
        """SMTP settings and recipients from the environment; ConfigurationError saying what is
        missing or malformed."""
        env = os.environ if environ is None else environ
        if problem := email_problem(env):
            raise ConfigurationError(f"budget alerts cannot be emailed: {problem}")
        recipients = parse_recipients(env[RECIPIENTS_ENV])
        return cls(SmtpSettings.from_env(env), recipients)


def email_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """Why alerts cannot be emailed with these settings ("AA_SMTP_FROM is not set"), or None."""
    env = os.environ if environ is None else environ
    missing = [name for name in REQUIRED_ENV if not env.get(name, "").strip(" ,")]
    if missing:
        names = ", ".join(missing[:-1]) + " and " + missing[-1] if len(missing) > 1 else missing[0]
        return f"{names} {'are' if len(missing) > 1 else 'is'} not set"
    try:
        SmtpSettings.from_env(env)
        parse_recipients(env[RECIPIENTS_ENV])
    except ConfigurationError as exc:
        return str(exc)
    except InvalidInputError as exc:
        return f"{RECIPIENTS_ENV}: {exc}"
    return None


def unsent_warning(due: int, problem: str | None) -> str | None:
    """The warning line for `due` alerts that cannot be emailed because of `problem`; None when
    nothing is due or email works."""
    if not due or problem is None:
        return None
    alerts = "1 budget alert is" if due == 1 else f"{due} budget alerts are"
    return (
        f"WARNING: {alerts} due but cannot be emailed: {problem}. Complete the email settings "
        "where `aa-notebooks budgets evaluate` runs; until then no alert email is sent."
    )


def mask_address(address: str) -> str:
    """An address as evaluation prints it: its first character, then *** before the domain (a
    display name, "Ops <ops@example.com>", is left out)."""
    local, _, domain = (parseaddr(address)[1] or address).rpartition("@")
    return f"{local[:1]}***@{domain}"
