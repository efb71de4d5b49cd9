"""AA_ALERT_WEBHOOKS parsing and posting, against a real HTTP server on localhost: retries with
backoff on 503 and 429 (Retry-After), none on another 4xx, and the URL's secret path never in
an error."""

from __future__ import annotations

import json
import logging

import pytest

from aa_notebooks.errors import ConfigurationError
from aa_notebooks.notify.webhook import (
    Webhook,
    WebhookDeliveryError,
    WebhookSettings,
    mask_url,
    parse_webhooks,
    post_json,
)
from tests.notify.http_server import http_server
from tests.notify.smtp_server import free_port

SECRET_PATH = "/services/T0001/B0002/s3cr3tT0ken"
BODY = {"text": "Budget org reached 80%", "n": 1, "name": "café <b>"}


def settings(hook: Webhook, **changes: float) -> WebhookSettings:
    return WebhookSettings((hook,), **{"timeout": 5.0, "backoff": 0.25, **changes})


def test_entries_choose_their_body_and_default_to_slack() -> None:
    hooks = parse_webhooks(
        " https://hooks.slack.com/services/T/B/x , json:http://alerts.internal:8080/budget,"
        "SLACK:https://chat.example.com/hook?token=abc,"
    )
    assert [(hook.body_format, hook.masked) for hook in hooks] == [
        ("slack", "https://hooks.slack.com/…"),
        ("json", "http://alerts.internal:8080/…"),
        ("slack", "https://chat.example.com/…"),
    ]
    assert hooks[1].url == "http://alerts.internal:8080/budget"
    assert "abc" not in repr(hooks) and "services" not in str(hooks[0])
    assert parse_webhooks("") == () and WebhookSettings.from_env({}).hooks == ()


def test_each_bad_entry_is_one_line_without_the_secret_part() -> None:
    value = (
        "https://ok.example.com/a,ftp://files.example.com/s3cr3t,teams:https://x.example/s3cr3t,"
        "hooks.slack.com/services/s3cr3t,https:///s3cr3t,https://host:99999/s3cr3t,"
        "https://host/s3cr3t path"
    )
    with pytest.raises(ConfigurationError) as caught:
        WebhookSettings.from_env({"AA_ALERT_WEBHOOKS": value})
    assert str(caught.value).splitlines() == [
        "AA_ALERT_WEBHOOKS entry 2: ftp:// is not http:// or https://: give an http(s) URL",
        "AA_ALERT_WEBHOOKS entry 3: starts with 'teams':, which is neither http(s):// nor a body "
        "prefix: give a URL, optionally prefixed slack: or json:",
        "AA_ALERT_WEBHOOKS entry 4: not a URL: give http:// or https:// URLs, separated by commas",
        "AA_ALERT_WEBHOOKS entry 5: https:// URL without a host: give https://host/path",
        "AA_ALERT_WEBHOOKS entry 6: not a valid URL (bad host or port): give http:// or "
        "https:// URLs",
        "AA_ALERT_WEBHOOKS entry 7: holds spaces or control characters: percent-encode them (%20)",
    ]
    assert "s3cr3t" not in str(caught.value)


def test_a_url_shows_only_its_scheme_and_host() -> None:
    assert mask_url("https://user:pw@hooks.slack.com/services/T/B/tok?x=1") == (
        "https://hooks.slack.com/…"
    )
    assert mask_url("http://127.0.0.1:9000/hook") == "http://127.0.0.1:9000/…"


def test_the_body_arrives_as_json() -> None:
    with http_server() as server:
        hook = Webhook(server.at(SECRET_PATH), "json")
        assert post_json(hook, BODY, settings(hook)) == 1
    [request] = server.received
    assert (request.method, request.path) == ("POST", SECRET_PATH)
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.json() == BODY
    assert json.loads(request.body.decode("utf-8"))["name"] == "café <b>"


def test_503_twice_then_200_is_three_requests_with_growing_waits() -> None:
    waits: list[float] = []
    with http_server((503, {}), (503, {})) as server:
        hook = Webhook(server.at(SECRET_PATH))
        assert post_json(hook, BODY, settings(hook), sleep=waits.append) == 3
    assert len(server.received) == 3
    assert [r.json() for r in server.received] == [BODY] * 3
    assert waits == [0.25, 0.5]


def test_429_waits_as_long_as_retry_after_says_up_to_the_cap() -> None:
    waits: list[float] = []
    with http_server((429, {"Retry-After": "2"}), (429, {"Retry-After": "3600"})) as server:
        hook = Webhook(server.at(SECRET_PATH))
        assert post_json(hook, BODY, settings(hook, max_retry_after=7), sleep=waits.append) == 3
    assert waits == [2.0, 7.0]
    assert len(server.received) == 3


def test_a_429_really_waits() -> None:
    """The default sleep: the second request comes only after the Retry-After second."""
    with http_server((429, {"Retry-After": "1"})) as server:
        hook = Webhook(server.at(SECRET_PATH))
        assert post_json(hook, BODY, settings(hook)) == 2
    assert len(server.received) == 2


def test_400_is_final_and_says_so_without_the_path(caplog: pytest.LogCaptureFixture) -> None:
    waits: list[float] = []
    with http_server((400, {})) as server:
        hook = Webhook(server.at(SECRET_PATH))
        with pytest.raises(WebhookDeliveryError) as caught:
            post_json(hook, BODY, settings(hook), sleep=waits.append)
    assert len(server.received) == 1 and waits == []
    assert not caught.value.transient and caught.value.attempts == 1
    assert str(caught.value) == (
        f"webhook {server.url}/… failed after 1 attempt: HTTP 400 Bad Request: error 400 at …"
    )
    assert "s3cr3t" not in str(caught.value) and "s3cr3t" not in caplog.text


def test_a_redirect_is_not_followed() -> None:
    with http_server((302, {"Location": "http://127.0.0.1:1/elsewhere"})) as server:
        hook = Webhook(server.at(SECRET_PATH))
        with pytest.raises(WebhookDeliveryError, match="HTTP 302") as caught:
            post_json(hook, BODY, settings(hook), sleep=lambda _: None)
    assert len(server.received) == 1 and not caught.value.transient


def test_a_server_that_is_down_is_retried_then_reported(caplog: pytest.LogCaptureFixture) -> None:
    waits: list[float] = []
    hook = Webhook(f"http://127.0.0.1:{free_port()}{SECRET_PATH}")
    with caplog.at_level(logging.INFO), pytest.raises(WebhookDeliveryError) as caught:
        post_json(hook, BODY, settings(hook, retries=2), sleep=waits.append)
    assert caught.value.transient and caught.value.attempts == 3
    assert "ConnectionRefusedError" in str(caught.value)
    assert waits == [0.25, 0.5]
    assert "s3cr3t" not in caplog.text and "s3cr3t" not in str(caught.value)


def test_a_retry_after_date_in_the_past_retries_at_once() -> None:
    waits: list[float] = []
    with http_server((429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) as server:
        hook = Webhook(server.at(SECRET_PATH))
        assert post_json(hook, BODY, settings(hook), sleep=waits.append) == 2
    assert waits == [0.0]
