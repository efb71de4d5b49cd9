"""OTLP protobuf requests whose strings are not valid UTF-8, repaired rather than refused whole.

Protobuf refuses a message with one string field that is not UTF-8, and with it every span of
the request. Exporters that pass bytes through unchecked (a C++ SDK, a Collector) can send such
a string: a tool's output in Latin-1, half of a multi-byte character. `repair` parses the body
with the OTLP messages' string fields read as bytes, replaces what is not UTF-8 in them with
U+FFFD (as the kit cleans every stored text), and serializes the request again: the usual
decoding then reads it, every span kept.
"""

from __future__ import annotations

from functools import cache
from typing import Any

_REQUEST = "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"


def is_bad_utf8(error: Exception) -> bool:
    """Whether protobuf refused a body for a string field that is not UTF-8."""
    return "UTF-8" in str(error)


def repair(body: bytes) -> bytes:
    """The request with every string field made valid UTF-8 (DecodeError when the body is not
    an OTLP trace request for another reason)."""
    lenient, text_fields = _lenient_request()
    request = lenient.FromString(body)
    _repair_message(request, text_fields)
    return bytes(request.SerializeToString())


def _repair_message(message: Any, text_fields: frozenset[str]) -> None:
    for field, value in message.ListFields():
        if field.message_type is not None:
            for item in value if _repeated(field) else [value]:
                _repair_message(item, text_fields)
        elif field.full_name in text_fields:
            if _repeated(field):
                value[:] = [_valid(item) for item in value]
            else:
                setattr(message, field.name, _valid(value))


def _repeated(field: Any) -> bool:
    if hasattr(field, "is_repeated"):  # protobuf 6 and later
        return bool(field.is_repeated)
    return bool(field.label == field.LABEL_REPEATED)


def _valid(data: bytes) -> bytes:
    return data.decode("utf-8", errors="replace").encode("utf-8")


@cache
def _lenient_request() -> tuple[Any, frozenset[str]]:
    """The request's message class with every string field of its files typed bytes, and the
    full names of those fields."""
    from google.protobuf import (  # type: ignore[import-untyped]
        descriptor_pb2,
        descriptor_pool,
        message_factory,
    )
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    pool = descriptor_pool.DescriptorPool()
    text_fields: set[str] = set()
    for file in _with_dependencies(trace_service_pb2.DESCRIPTOR):
        proto = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(proto)
        for name, message in _messages(proto.package, proto.message_type):
            for field in message.field:
                if field.type == field.TYPE_STRING:
                    field.type = field.TYPE_BYTES
                    text_fields.add(f"{name}.{field.name}")
        pool.Add(proto)
    request = message_factory.GetMessageClass(pool.FindMessageTypeByName(_REQUEST))
    return request, frozenset(text_fields)


def _with_dependencies(file: Any) -> list[Any]:
    """The file and the files it imports, each after its own imports."""
    ordered: list[Any] = []
    for dependency in file.dependencies:
        ordered += [found for found in _with_dependencies(dependency) if found not in ordered]
    return [*ordered, file] if file not in ordered else ordered


def _messages(scope: str, messages: Any) -> list[tuple[str, Any]]:
    """Message descriptor protos, with the ones nested in them, each with its full name."""
    found = []
    for message in messages:
        name = f"{scope}.{message.name}"
        found += [(name, message), *_messages(name, message.nested_type)]
    return found
