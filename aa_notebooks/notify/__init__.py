"""Email and webhooks for the kit (budget alerts, reports): SMTP settings, multipart messages,
webhook settings and posting."""

from aa_notebooks.notify.message import Attachment, InlineImage, build_message, parse_recipients
from aa_notebooks.notify.settings import SmtpSettings
from aa_notebooks.notify.smtp import EmailDeliveryError, send_email
from aa_notebooks.notify.webhook import (
    Webhook,
    WebhookDeliveryError,
    WebhookSettings,
    parse_webhooks,
    post_json,
)

__all__ = [
    "Attachment",
    "EmailDeliveryError",
    "InlineImage",
    "SmtpSettings",
    "Webhook",
    "WebhookDeliveryError",
    "WebhookSettings",
    "build_message",
    "parse_recipients",
    "parse_webhooks",
    "post_json",
    "send_email",
]
