"""Email a rendered report: plain-text summary, HTML body with CID charts, full report attached."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aa_notebooks.errors import ReportError
from aa_notebooks.notify import (
    Attachment,
    EmailDeliveryError,
    SmtpSettings,
    build_message,
    send_email,
)
from aa_notebooks.reporting.page import RenderedReport
from aa_notebooks.reporting.parameters import ReportParameters

RETRIES = 3


def send_report(
    rendered: RenderedReport,
    parameters: ReportParameters,
    kind: str,
    html_path: Path,
    recipients: Sequence[str],
    settings: SmtpSettings,
    *,
    backoff: float = 1.0,
) -> None:
    """Send the report; ReportError (the HTML stays at `html_path`) when delivery fails."""
    text = (
        f"{parameters.title}\n\n{rendered.summary}\n\n"
        f"The full report is attached ({html_path.name})."
    )
    message = build_message(
        subject=parameters.title,
        sender=settings.sender,
        recipients=list(recipients),
        text=text,
        html=rendered.email_html,
        images=rendered.images,
        attachments=[
            Attachment(html_path.name, rendered.page.encode("utf-8"), "text/html"),
        ],
    )
    try:
        send_email(message, settings, retries=RETRIES, backoff=backoff)
    except EmailDeliveryError as exc:
        raise ReportError(
            f"the {kind} report was made but not sent: {exc}; the report is kept at {html_path}"
        ) from None
