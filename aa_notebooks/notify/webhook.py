"""Webhooks for alerts: the AA_ALERT_WEBHOOKS setting and posting a JSON body with retries.

AA_ALERT_WEBHOOKS holds comma-separated URLs, each optionally prefixed with the body it wants:
`slack:https://...` (Slack-compatible `{"text", "blocks"}`, also the default for an unprefixed
URL) or `json:https://...` (the kit's generic JSON body). A webhook URL is a secret (Slack's
carry a token in the path), so it only ever shows as `https://host/…`.

Posting retries a connection error, a timeout, a 429 (waiting as long as Retry-After says, up to
a cap) and a 5xx with exponential backoff; any other answer is final. Redirects are not followed.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from aa_notebooks.errors import AnalyticsError, ConfigurationError

log = logging.getLogger(__name__)
WEBHOOKS_ENV = "AA_ALERT_WEBHOOKS"
BodyFormat = Literal["slack", "json"]
BODY_FORMATS: tuple[BodyFormat, ...] = ("slack", "json")
USER_AGENT = "aa-notebooks-webhook/1"


@dataclass(frozen=True)
class Webhook:
    """One webhook: its URL (never in repr, logs or errors) and the body it is sent."""

    url: str = field(repr=False)
    body_format: BodyFormat = "slack"

    @property
    def masked(self) -> str:
        """The URL as it may be shown: scheme and host, the rest elided (`https://host/…`)."""
        return mask_url(self.url)

    def __str__(self) -> str:
        return f"{self.body_format}:{self.masked}"


@dataclass(frozen=True)
class WebhookSettings:
    """Where alerts are posted and how hard: per-attempt timeout, retries, backoff, and the
    longest Retry-After honoured."""

    hooks: tuple[Webhook, ...]
    timeout: float = 5.0
    retries: int = 3
    backoff: float = 0.5
    max_retry_after: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebhookSettings:
        """The hooks in AA_ALERT_WEBHOOKS (none when unset); ConfigurationError with one line
        per malformed entry."""
        env = os.environ if environ is None else environ
        return cls(parse_webhooks(env.get(WEBHOOKS_ENV, "")))


class WebhookDeliveryError(AnalyticsError):
    """A webhook did not accept a post; says which (masked), how many attempts, the last answer
    and whether a later retry could help."""

    def __init__(self, hook: Webhook, attempts: int, last_error: str, *, transient: bool) -> None:
        self.hook = hook.masked
        self.attempts = attempts
        self.last_error = last_error
        self.transient = transient
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        super().__init__(f"webhook {hook.masked} failed after {tries}: {last_error}")


def parse_webhooks(text: str) -> tuple[Webhook, ...]:
    """The webhooks in an AA_ALERT_WEBHOOKS value; ConfigurationError listing every bad entry,
    one line each, without the URLs' secret parts."""
    hooks, problems = [], []
    entries = [entry.strip() for entry in text.split(",")]
    for number, entry in enumerate(entries, start=1):
        if not entry:
            continue
        hook, problem = _parse_entry(entry)
        if problem:
            problems.append(f"{WEBHOOKS_ENV} entry {number}: {problem}")
        elif hook:
            hooks.append(hook)
    if problems:
        raise ConfigurationError("\n".join(problems))
    return tuple(hooks)


def _parse_entry(entry: str) -> tuple[Webhook | None, str | None]:
    """One entry as a webhook, or what is wrong with it."""
    body_format: BodyFormat = "slack"
    prefix, colon, rest = entry.partition(":")
    if colon and prefix.lower() in BODY_FORMATS:
        body_format = "json" if prefix.lower() == "json" else "slack"
        entry = rest.strip()
    elif colon and not rest.startswith("//"):
        return None, (
            f"starts with {prefix[:20]!r}:, which is neither http(s):// nor a body prefix: "
            "give a URL, optionally prefixed slack: or json:"
        )
    if any(char.isspace() or not char.isprintable() for char in entry):
        return None, "holds spaces or control characters: percent-encode them (%20)"
    try:
        parts = urlsplit(entry)
        host, _ = parts.hostname, parts.port
    except ValueError:
        return None, "not a valid URL (bad host or port): give http:// or https:// URLs"
    if not parts.scheme:
        return None, "not a URL: give http:// or https:// URLs, separated by commas"
    if parts.scheme.lower() not in ("http", "https"):
        return None, f"{parts.scheme[:10]}:// is not http:// or https://: give an http(s) URL"
    if not host:
        return None, f"{parts.scheme}:// URL without a host: give https://host/path"
    return Webhook(entry, body_format), None


def mask_url(url: str) -> str:
    """`scheme://host/…`: enough to tell webhooks apart, nothing of the path, query or user."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(malformed URL)"
    return f"{parts.scheme or '?'}://{host}{port}/…"


def post_json(
    hook: Webhook,
    body: Mapping[str, Any],
    settings: WebhookSettings,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST `body` as JSON to `hook`, retrying transient failures; returns the attempts made.

    Waits backoff, 2*backoff, 4*backoff... between tries (Retry-After instead for a 429, capped
    at max_retry_after); raises WebhookDeliveryError when every try failed or the answer was
    final (another 4xx, a redirect).
    """
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    attempts = settings.retries + 1
    for attempt in range(1, attempts + 1):
        try:
            _post(hook.url, data, settings.timeout)
            return attempt
        except urllib.error.HTTPError as exc:
            error = _describe_answer(exc, hook)
            if not (exc.code == 429 or exc.code >= 500):
                raise WebhookDeliveryError(hook, attempt, error, transient=False) from None
            wait = _retry_after(exc.headers, settings) if exc.code == 429 else None
        except (OSError, http.client.HTTPException) as exc:  # refused, timeouts, resets
            error = _describe_failure(exc, hook)
            wait = None
        if attempt == attempts:
            raise WebhookDeliveryError(hook, attempt, error, transient=True)
        log.info(
            "posting to webhook %s failed (attempt %d of %d): %s",
            hook.masked, attempt, attempts, error,
        )  # fmt: skip
        sleep(settings.backoff * 2 ** (attempt - 1) if wait is None else wait)
    raise AssertionError("unreachable")  # pragma: no cover


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Answer a redirect as the final (failed) answer: a webhook that moved is a setting to fix,
    and a redirected POST would lose its body."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())


def _post(url: str, data: bytes, timeout: float) -> None:
    """One POST; HTTPError for any answer outside 2xx."""
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT},
    )
    with _OPENER.open(request, timeout=timeout) as response:
        response.read(65536)


def _retry_after(headers: Message | None, settings: WebhookSettings) -> float | None:
    """The wait a 429's Retry-After asks for (seconds or an HTTP date), capped; None without
    one."""
    value = (headers.get("Retry-After") if headers is not None else None) or ""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), settings.max_retry_after)


def _describe_answer(exc: urllib.error.HTTPError, hook: Webhook) -> str:
    """An HTTP answer as one line: status, reason and the start of the body, URL scrubbed."""
    try:
        body = exc.read(300).decode("utf-8", errors="replace")
    except OSError:
        body = ""
    text = f"HTTP {exc.code} {exc.reason}" + (f": {body}" if body.strip() else "")
    return _scrub(text, hook)


def _describe_failure(exc: OSError | http.client.HTTPException, hook: Webhook) -> str:
    """A connection failure as one line, URL scrubbed."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    text = f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__
    return _scrub(text, hook)


def _scrub(text: str, hook: Webhook) -> str:
    """`text` on one line, without the hook's URL or its path (an answer may echo either)."""
    text = " ".join(text.split())[:300]
    parts = urlsplit(hook.url)
    secrets = [hook.url, parts.path + (f"?{parts.query}" if parts.query else ""), parts.path]
    for secret in secrets:
        if len(secret) > 1:
            text = text.replace(secret, "…")
    return text
