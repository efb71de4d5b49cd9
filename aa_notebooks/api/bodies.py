"""Request bodies read up to a limit: a huge body is refused without being held in memory."""

from __future__ import annotations

from fastapi import Request


async def bounded_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None when it is over `limit` bytes (a declared length over it is
    refused before reading; a streamed body is read no further than the limit)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)
