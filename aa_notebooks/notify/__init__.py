"""Email for the kit (budget alerts, reports): SMTP settings, multipart messages, delivery."""

from aa_notebooks.notify.message import Attachment, InlineImage, build_message, parse_recipients
from aa_notebooks.notify.settings import SmtpSettings
from aa_notebooks.notify.smtp import EmailDeliveryError, send_email

__all__ = [
    "Attachment",
    "EmailDeliveryError",
    "InlineImage",
    "SmtpSettings",
    "build_message",
    "parse_recipients",
    "send_email",
]
