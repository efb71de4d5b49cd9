"""OTLP trace requests (protobuf or JSON, gzip or not) into `Span` values.

A body that cannot be parsed at all is a `TraceDecodeError` (the receiver answers 400 and writes
nothing); a protobuf body whose strings are not all UTF-8 is repaired first (`utf8_repair`). A
request that parses but holds spans that cannot be used (bad ids, no end time) gives those spans'
errors beside the good spans: OTLP's partial success. The JSON form is OTLP/JSON:
lowerCamelCase keys (snake_case accepted too), trace and span ids in hex (not base64 as in
protobuf's own JSON mapping), enums as integers, 64-bit integers as numbers or strings.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aa_notebooks.errors import InvalidInputError, first_line
from aa_notebooks.otel.conventions import checked_counts
from aa_notebooks.otel.spans import Event, Span, SpanError, checked_span
from aa_notebooks.otel.utf8_repair import is_bad_utf8, repair

MAX_BODY_BYTES = 64 * 1024 * 1024
"""The largest request body, after decompression, that is decoded (a gzip bomb stops here)."""
STATUS_ERROR = 2
_REMOTE_KNOWN, _REMOTE = 0x100, 0x200
_STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


class TraceDecodeError(InvalidInputError):
    """The body is not an OTLP trace request in the encoding it claims."""


class BodyTooLargeError(TraceDecodeError):
    """The body, or what it inflates to, is over MAX_BODY_BYTES (HTTP 413)."""


@dataclass
class Decoded:
    """The usable spans of a request and why the others were refused."""

    spans: list[Span] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def add(self, make: Any, *args: Any) -> None:
        """Add the span `make(*args)` builds, or note why it could not be built."""
        try:
            self.spans.append(checked_counts(checked_span(make(*args))))
        except (SpanError, ValueError, TypeError, KeyError, AttributeError) as error:
            self.refused.append(str(error) or type(error).__name__)


def decompress(body: bytes, encoding: str | None) -> bytes:
    """The body without its Content-Encoding (identity or gzip), at most MAX_BODY_BYTES."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        if len(body) > MAX_BODY_BYTES:
            raise BodyTooLargeError(
                f"the body is over {MAX_BODY_BYTES} bytes; send smaller batches"
            )
        return body
    if encoding != "gzip":
        raise TraceDecodeError(f"Content-Encoding {encoding!r} is not supported; use gzip or none")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, MAX_BODY_BYTES + 1)
    except zlib.error as error:
        raise TraceDecodeError(f"the body is not valid gzip ({error})") from None
    if len(data) > MAX_BODY_BYTES or inflater.unconsumed_tail:
        raise BodyTooLargeError(
            f"the body inflates past {MAX_BODY_BYTES} bytes; send smaller batches"
        )
    return data


def decode_protobuf(body: bytes) -> Decoded:
    """An ExportTraceServiceRequest in protobuf."""
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    try:
        try:
            request = ExportTraceServiceRequest.FromString(body)
        except DecodeError as error:
            if not is_bad_utf8(error):
                raise
            request = ExportTraceServiceRequest.FromString(repair(body))
    except (DecodeError, RuntimeError, ValueError) as error:
        raise TraceDecodeError(
            f"the body is not an OTLP protobuf trace request ({error})"
        ) from None
    decoded = Decoded()
    for resource_spans in request.resource_spans:
        resource = _pb_attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope.name
            for span in scope_spans.spans:
                decoded.add(_pb_span, span, scope, resource)
    return decoded


def decode_json(body: bytes | str) -> Decoded:
    """An ExportTraceServiceRequest in OTLP/JSON."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise TraceDecodeError(f"the body is not JSON ({error})") from None
    except RecursionError:
        raise TraceDecodeError("the body's JSON is nested too deeply to be a trace") from None
    return decode_json_document(document)


def decode_json_document(document: Any) -> Decoded:
    """A parsed OTLP/JSON ExportTraceServiceRequest."""
    if not isinstance(document, dict):
        raise TraceDecodeError("an OTLP/JSON trace request is an object with resourceSpans")
    decoded = Decoded()
    try:  # each span's own errors make it unusable (`Decoded.add`); these are the request's
        for resource_spans in _list(document, "resourceSpans", "resource_spans"):
            resource_object = _get(resource_spans, "resource") or {}
            resource = _json_attributes(_get(resource_object, "attributes") or [])
            for scope_spans in _list(resource_spans, "scopeSpans", "scope_spans"):
                scope = str(_get(_get(scope_spans, "scope") or {}, "name") or "")
                for span in _list(scope_spans, "spans"):
                    decoded.add(_json_span, span, scope, resource)
    except TraceDecodeError:
        raise
    except (SpanError, ValueError, TypeError, KeyError, AttributeError) as error:
        raise TraceDecodeError(
            f"the request is not an OTLP/JSON trace request: {first_line(str(error))}"
        ) from None
    return decoded


def _pb_span(span: Any, scope: str, resource: Mapping[str, Any]) -> Span:
    flags = span.flags
    return Span(
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_id=span.parent_span_id.hex() or None,
        name=span.name,
        start_ns=span.start_time_unix_nano,
        end_ns=span.end_time_unix_nano,
        attributes=_pb_attributes(span.attributes),
        events=tuple(
            Event(event.name, event.time_unix_nano, _pb_attributes(event.attributes))
            for event in span.events
        ),
        error=span.status.code == STATUS_ERROR,
        status_message=span.status.message,
        remote_parent=bool(flags & _REMOTE_KNOWN and flags & _REMOTE),
        scope=scope,
        resource=resource,
    )


def _pb_attributes(pairs: Iterable[Any]) -> dict[str, Any]:
    return {pair.key: _pb_value(pair.value) for pair in pairs}


def _pb_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_pb_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return _pb_attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def _json_span(span: Mapping[str, Any], scope: str, resource: Mapping[str, Any]) -> Span:
    if not isinstance(span, dict):
        raise SpanError("a span must be a JSON object")
    flags = _int(_get(span, "flags") or 0)
    status = _get(span, "status") or {}
    code = _get(status, "code") or 0
    return Span(
        trace_id=_hex_id(_get(span, "traceId", "trace_id")),
        span_id=_hex_id(_get(span, "spanId", "span_id")),
        parent_id=_hex_id(_get(span, "parentSpanId", "parent_span_id")) or None,
        name=str(_get(span, "name") or ""),
        start_ns=_int(_get(span, "startTimeUnixNano", "start_time_unix_nano") or 0),
        end_ns=_int(_get(span, "endTimeUnixNano", "end_time_unix_nano") or 0),
        attributes=_json_attributes(_get(span, "attributes") or []),
        events=tuple(
            Event(
                str(_get(event, "name") or ""),
                _int(_get(event, "timeUnixNano", "time_unix_nano") or 0),
                _json_attributes(_get(event, "attributes") or []),
            )
            for event in _list(span, "events")
        ),
        error=(_STATUS_NAMES.get(code) if isinstance(code, str) else code) == STATUS_ERROR,
        status_message=str(_get(status, "message") or ""),
        remote_parent=bool(flags & _REMOTE_KNOWN and flags & _REMOTE),
        scope=scope,
        resource=resource,
    )


def _json_attributes(pairs: Any) -> dict[str, Any]:
    if not isinstance(pairs, list):
        raise SpanError("attributes must be a list of {key, value}")
    return {str(pair["key"]): _json_value(pair.get("value") or {}) for pair in pairs}


def _json_value(value: Mapping[str, Any]) -> Any:
    for key, convert in _JSON_VALUES:
        if key in value:
            return convert(value[key])
    return None


def _json_array(array: Mapping[str, Any]) -> list[Any]:
    return [_json_value(item) for item in (array.get("values") or [])]


def _json_kvlist(kvlist: Mapping[str, Any]) -> dict[str, Any]:
    return _json_attributes(kvlist.get("values") or [])


_JSON_VALUES = (
    ("stringValue", str), ("string_value", str),
    ("boolValue", bool), ("bool_value", bool),
    ("intValue", lambda v: _int(v)), ("int_value", lambda v: _int(v)),
    ("doubleValue", float), ("double_value", float),
    ("arrayValue", _json_array), ("array_value", _json_array),
    ("kvlistValue", _json_kvlist), ("kvlist_value", _json_kvlist),
    ("bytesValue", lambda v: base64.b64decode(v).hex()),
    ("bytes_value", lambda v: base64.b64decode(v).hex()),
)  # fmt: skip


def _hex_id(value: Any) -> str:
    """An OTLP/JSON id: hex text (case folded); empty when absent."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SpanError(f"ids are hex strings in OTLP/JSON, got {type(value).__name__}")
    return value.strip().lower()


def _int(value: Any) -> int:
    """A 64-bit integer field, which OTLP/JSON may write as a number or a decimal string."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SpanError(f"expected an integer, got {value!r:.40}")
    return int(value)


def _get(document: Any, *names: str) -> Any:
    if not isinstance(document, dict):
        raise SpanError(f"expected a JSON object, got {type(document).__name__}")
    for name in names:
        if name in document:
            return document[name]
    return None


def _list(document: Any, *names: str) -> list[Any]:
    found = _get(document, *names)
    if found is None:
        return []
    if not isinstance(found, list):
        raise TraceDecodeError(f"{names[0]} must be a list")
    return found
