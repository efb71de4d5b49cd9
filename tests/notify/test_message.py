"""build_message: text and HTML alternatives, images as CID related parts, attachments."""

from __future__ import annotations

import pytest

from aa_notebooks.errors import InvalidInputError
from aa_notebooks.notify import Attachment, InlineImage, build_message, parse_recipients

PNG = b"\x89PNG\r\n\x1a\n" + b"chart-bytes"
SVG = b"<svg xmlns='http://www.w3.org/2000/svg'/>"


def _message(**overrides: object):
    fields: dict[str, object] = {
        "subject": "Cost report",
        "sender": "reports@example.com",
        "recipients": ["a@example.com", "b@example.com"],
        "text": "See the charts.",
        "html": '<p>Spend</p><img src="cid:spend"><img src=\'cid:models.v2\'><img src="cid:spend">',
        "images": {"spend": InlineImage(PNG), "models.v2": InlineImage(SVG, "svg+xml")},
    }
    return build_message(**(fields | overrides))  # type: ignore[arg-type]


def test_structure_and_every_cid_image_present() -> None:
    message = _message(attachments=[Attachment("report.html", b"<html></html>", "text/html")])
    assert message["To"] == "a@example.com, b@example.com"
    assert message["From"] == "reports@example.com" and message["Message-ID"]
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, related = alternative.get_payload()
    assert plain.get_content() == "See the charts.\n"
    assert related.get_content_type() == "multipart/related"
    html_part, *images = related.get_payload()
    html = html_part.get_content()
    assert "data:" not in html
    content_ids = {part["Content-ID"].strip("<>"): part for part in images}
    assert len(content_ids) == 2
    referenced = {ref.split('"')[0].split("'")[0] for ref in html.split("cid:")[1:]}
    assert referenced == set(content_ids)
    by_type = {part.get_content_type(): part for part in images}
    assert by_type["image/png"].get_content() == PNG
    assert by_type["image/svg+xml"].get_content() == SVG
    assert all(part.get_content_disposition() == "inline" for part in images)
    assert attachment.get_filename() == "report.html"
    assert attachment.get_content_disposition() == "attachment"


def test_text_and_html_only() -> None:
    message = _message(html="<p>hi</p>", images=None)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.get_payload()] == ["text/plain", "text/html"]


def test_text_only_and_subject_on_one_line() -> None:
    message = _message(html=None, images=None, subject="Budget\r\nBcc: evil@example.com")
    assert message.get_content_type() == "text/plain"
    assert message["Subject"] == "Budget Bcc: evil@example.com"
    assert message["Bcc"] is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"html": '<img src="data:image/png;base64,AAAA">', "images": None}, "data: URI"),
        ({"html": "<div style=\"background:url('data:image/png;base64,AA')\">"}, "data: URI"),
        ({"html": '<img src="cid:spend">'}, r"not referenced by the HTML.*models.v2"),
        ({"html": '<img src="cid:other">', "images": None}, r"not given: \['other'\]"),
        ({"images": {"bad name": InlineImage(PNG)}}, "image names may hold only"),
        ({"html": None}, "inline images need an HTML body"),
        ({"recipients": []}, "at least one recipient"),
    ],
)
def test_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        _message(**overrides)


@pytest.mark.parametrize(
    ("given", "recipients"),
    [
        ("a@example.com, b@example.org", ("a@example.com", "b@example.org")),
        (["a@example.com", "b@example.org,c@example.net"],
         ("a@example.com", "b@example.org", "c@example.net")),
        ("Ops <ops@example.com>", ("Ops <ops@example.com>",)),
        ('"Finance, EU" <cfo@example.com>,ops@example.com',
         ('"Finance, EU" <cfo@example.com>', "ops@example.com")),
        ("Zoë Ops <z@example.com>", ("Zoë Ops <z@example.com>",)),
        ("  <bare@example.com> ", ("bare@example.com",)),
        ("a@example.com,,", ("a@example.com",)),
    ],
)  # fmt: skip
def test_recipients_with_and_without_names(
    given: str | list[str], recipients: tuple[str, ...]
) -> None:
    assert parse_recipients(given) == recipients


@pytest.mark.parametrize(
    "bad", ["ops", "Ops <ops>", "Ops <ops@example.com", "a@example.com;b@example.com", "<>"]
)
def test_a_recipient_that_is_no_address_is_named(bad: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        parse_recipients(f"ok@example.com,{bad}")
    assert str(error.value) == (
        f"{bad!r} is not an email address: give addresses like a@example.com or "
        "'Ops <ops@example.com>', separated by commas"
    )


def test_a_name_with_a_line_break_is_refused() -> None:
    """It was taken, then masked as another address, and building the message failed raw."""
    with pytest.raises(InvalidInputError) as error:
        parse_recipients("Ops\r\nBcc: e@x.com <a@b.com>")
    assert str(error.value) == (
        "the name in 'Ops\\r\\nBcc: e@x.com <a@b.com>' holds a line break or control character"
    )
