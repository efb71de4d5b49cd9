"""Build a multipart email: plain text, HTML with inline images as CID parts, attachments.

Mail clients drop `data:` URI images (Gmail ignores them, Outlook strips them), so the HTML refers
to each image as `cid:NAME` and the image travels as a related MIME part with that Content-ID:

    multipart/mixed            (only when there are attachments)
      multipart/alternative
        text/plain
        multipart/related      (only when there are images)
          text/html
          image/* ...          (Content-ID: <...>, Content-Disposition: inline)
      attachment ...
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from aa_notebooks.errors import InvalidInputError

CID_REFERENCE = re.compile(r"cid:([A-Za-z0-9_.-]+)")
DATA_URI = re.compile(r"""(?:src|href)\s*=\s*["']?\s*data:|url\(\s*["']?\s*data:""", re.I)
IMAGE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
ADDRESS = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+")


@dataclass(frozen=True)
class InlineImage:
    """An image shown in the HTML body (referenced there as `cid:NAME`), e.g. a chart as PNG."""

    data: bytes
    subtype: str = "png"


@dataclass(frozen=True)
class Attachment:
    """A file attached to the email, e.g. the full HTML report."""

    filename: str
    data: bytes
    mime_type: str = "application/octet-stream"


def build_message(
    *,
    subject: str,
    sender: str,
    recipients: Sequence[str],
    text: str,
    html: str | None = None,
    images: Mapping[str, InlineImage] | None = None,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """A ready-to-send message; InvalidInputError when images and `cid:` references disagree."""
    images = dict(images or {})
    if not recipients:
        raise InvalidInputError("an email needs at least one recipient")
    if images and html is None:
        raise InvalidInputError("inline images need an HTML body that refers to them as cid:NAME")
    domain = sender.rpartition("@")[2] or "aa-notebooks.invalid"
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(text)
    if html is not None:
        content_ids = {name: make_msgid(domain=domain) for name in images}
        message.add_alternative(_link_images(html, content_ids), subtype="html")
        html_part = list(message.iter_parts())[1]
        for name, image in images.items():
            html_part.add_related(
                image.data,
                maintype="image",
                subtype=image.subtype,
                cid=content_ids[name],
                disposition="inline",
                filename=f"{name}.{image.subtype}",
            )
    for attachment in attachments:
        maintype, _, subtype = attachment.mime_type.partition("/")
        message.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return message


def _link_images(html: str, content_ids: Mapping[str, str]) -> str:
    """Point every `cid:NAME` at its part's Content-ID; refuse data: URIs and unmatched names."""
    if DATA_URI.search(html):
        raise InvalidInputError(
            "the HTML embeds a data: URI image, which Gmail and Outlook drop; "
            "pass it in `images` and refer to it as cid:NAME"
        )
    bad = sorted(name for name in content_ids if not IMAGE_NAME.fullmatch(name))
    if bad:
        raise InvalidInputError(f"image names may hold only letters, digits, _ . -: {bad}")
    referenced = set(CID_REFERENCE.findall(html))
    if unknown := sorted(referenced - set(content_ids)):
        raise InvalidInputError(f"the HTML refers to images that were not given: {unknown}")
    if unused := sorted(set(content_ids) - referenced):
        raise InvalidInputError(f"images not referenced by the HTML (as cid:NAME): {unused}")
    return CID_REFERENCE.sub(lambda m: "cid:" + content_ids[m.group(1)].strip("<>"), html)


def parse_recipients(email: str | Sequence[str]) -> tuple[str, ...]:
    """Recipients from "a@x,Ops <b@y>" or a list of such texts, each a bare address or one with
    a display name ("Ops <ops@example.com>", a name holding a comma in double quotes);
    InvalidInputError names one that is neither."""
    texts = [email] if isinstance(email, str) else list(email)
    items = [item.strip() for text in texts for item in _ITEM_SEPARATOR.split(text or "")]
    return tuple(_recipient(item) for item in items if item)


_ITEM_SEPARATOR = re.compile(r',(?=(?:[^"]*"[^"]*")*[^"]*$)')
"""A comma outside double quotes."""
_NAMED = re.compile(r'(?P<name>"(?:[^"\\]|\\.)*"|[^"<>]*?)\s*<(?P<address>[^<>]*)>')
_SPECIALS = re.compile(r'[()<>@,;:\\".\[\]]')


def _recipient(item: str) -> str:
    """One recipient as it goes in the To header: the address, or `name <address>` with the
    name quoted when it holds a character that would end it."""
    if ADDRESS.fullmatch(item):
        return item
    named = _NAMED.fullmatch(item)
    if named and ADDRESS.fullmatch(address := named["address"].strip()):
        name = named["name"].strip()
        if name.startswith('"'):
            name = re.sub(r"\\(.)", r"\1", name[1:-1])
        if not name:
            return address
        if not name.isprintable():  # a line break would end the header: refused, not sent
            raise InvalidInputError(f"the name in {item!r} holds a line break or control character")
        if _SPECIALS.search(name):
            name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{name} <{address}>"
    raise InvalidInputError(
        f"{item!r} is not an email address: give addresses like a@example.com or "
        "'Ops <ops@example.com>', separated by commas"
    )
