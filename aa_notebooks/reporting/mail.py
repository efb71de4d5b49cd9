"""Email a rendered report: plain-text summary, HTML body with CID charts, full report attached."""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

from aa_notebooks.errors import ReportError
from aa_notebooks.notify import (
    Attachment,
    EmailDeliveryError,
    SmtpSettings,
    build_message,
    send_email,
)
from aa_notebooks.reporting.notebooks import ReportKind
from aa_notebooks.reporting.page import RenderedReport
from aa_notebooks.reporting.parameters import ReportParameters

RETRIES = 3


def report_message(
    rendered: RenderedReport,
    parameters: ReportParameters,
    html_path: Path,
    recipients: Sequence[str],
    sender: str,
) -> EmailMessage:
    """The report as an email: summary as text (its first line also in the subject, so the
    inbox shows the number), the report as HTML with CID charts, and the page attached."""
    text = (
        f"{parameters.title}\n\n{rendered.summary}\n\n"
        f"The full report is attached ({html_path.name})."
    )
    headline = rendered.summary.splitlines()[0] if rendered.summary else ""
    return build_message(
        subject=f"{parameters.title}: {headline}" if headline else parameters.title or "",
        sender=sender,
        recipients=list(recipients),
        text=text,
        html=rendered.email_html,
        images=rendered.images,
        attachments=[Attachment(html_path.name, rendered.page.encode("utf-8"), "text/html")],
    )


def send_report(
    rendered: RenderedReport,
    parameters: ReportParameters,
    kind: ReportKind,
    html_path: Path,
    recipients: Sequence[str],
    settings: SmtpSettings,
) -> None:
    """Send the report; ReportError (the HTML stays at `html_path`) when delivery fails."""
    message = report_message(rendered, parameters, html_path, recipients, settings.sender)
    try:
        send_email(message, settings, retries=RETRIES)
    except EmailDeliveryError as exc:
        sent = "not sent to everyone" if exc.partly_delivered else "made but not sent"
        raise ReportError(
            f"the {kind} report was {sent}: {exc}; the report is kept at {html_path}"
        ) from None
