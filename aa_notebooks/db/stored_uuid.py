"""UUID columns that another program may have written as text with dashes, on SQLite.

SQLite has no UUID type: SQLAlchemy (and so the kit) stores 32 hex digits, while a program
writing the data contract's tables itself stores what it has, most often `str(uuid)`, with
dashes. Reading either form back gives the same UUID, but a comparison with the kit's 32 digits
misses the dashed rows: a user's scope, an agent's stats or one execution's trace would find
nothing. Some programs write upper case (.NET's GUIDs, some JavaScript libraries). `StoredUuid`
makes `==` and `IN (values)` match the four forms on SQLite: hex digits or dashes, lower or upper
case (the index still serves them all: `col = ? OR col = <dashed ?> OR ...` is one index search
per form); other databases, whose UUID type has one form, get the plain comparison. A list bound
later (`expanding`) cannot be given the other forms by the comparator: its caller binds their
texts itself (`other_forms`, `EitherForm`).

Writing is the other half: SQLite compares a foreign key as text, so a row that refers to a
user (or an execution) stored with dashes must hold the dashes too. `stored_texts` finds the
referenced rows' own text, for the write paths to write.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from itertools import islice
from typing import Any, TypeVar, cast

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    String,
    Table,
    Uuid,
    bindparam,
    func,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import operators
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.operators import OperatorType
from sqlalchemy.sql.visitors import InternalTraversal

from aa_notebooks.errors import StoredValueError

RowT = TypeVar("RowT", bound=Mapping[str, Any])
_A_NUMBER = (
    "an id column holds {value!r} (stored as {kind}), not a UUID: SQLite keeps an id made only "
    "of digits as a number in a column declared UUID, and a long one loses digits. Write ids as "
    "text with dashes (str(uuid)), which SQLite keeps as they are; `aa-notebooks check-db` "
    "names the columns"
)
_NOT_A_UUID = (
    "an id column holds {value!r}, which is not a UUID: the data contract's id columns "
    "(id, user_id, agent_id, request_id, session_id, execution_id) hold UUIDs. Write UUIDs "
    "there (str(uuid)), or NULL where a column allows it; `aa-notebooks check-db` names the "
    "columns"
)
_DASHED_PARTS = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
MATCHED_LIST_LENGTH = 1_000
"""Longer `IN` lists compare the kit's form only: they are the kit's own batches of ids it
wrote, and four forms of each would take a batch past SQLite's limit on parameters sooner."""


class StoredText(str):
    """An id in the text the database holds it in (another program's, with dashes): written to
    a `StoredUuid` column as it is, where a UUID would be written as the kit's hex digits."""

    __slots__ = ()


class StoredUuid(Uuid[uuid.UUID]):
    """A UUID column of the data contract's tables: `Uuid`, whose `==` and `IN` also match the
    dashed text form on SQLite, and which writes a `StoredText` as it is."""

    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        process = super().bind_processor(dialect)
        if process is None:
            return None

        def keep_stored_text(value: Any) -> Any:
            return value if value.__class__ is StoredText else process(value)

        return keep_stored_text

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        """UUIDs read back; a value that is none (another program's) is a StoredValueError
        saying so, not the ValueError or AttributeError of the conversion."""
        process = super().result_processor(dialect, coltype)  # type: ignore[no-untyped-call]
        if process is None:
            return None

        def only_uuids(value: Any) -> Any:
            if value is not None and not isinstance(value, str | uuid.UUID):
                raise StoredValueError(_A_NUMBER.format(value=value, kind=type(value).__name__))
            try:
                return process(value)
            except ValueError:  # another program's text that is no UUID ('req-123')
                raise StoredValueError(_NOT_A_UUID.format(value=value)) from None

        return only_uuids

    class comparator_factory(Uuid.Comparator[uuid.UUID]):
        def operate(self, op: OperatorType, *other: Any, **kwargs: Any) -> ColumnElement[Any]:
            if len(other) == 1 and op is operators.eq and _is_value(other[0]):
                plain = super().operate(op, *other, **kwargs)
                dashed = _dashed(plain.right)
                compare = super().operate  # a comprehension's scope has no zero-argument super
                forms = (dashed, func.upper(plain.right), func.upper(dashed))
                return EitherForm(plain, *[compare(op, form) for form in forms])
            if len(other) == 1 and op is operators.in_op and _are_values(other[0]):
                values = list(other[0])
                plain = super().operate(op, values, **kwargs)
                texts = other_forms(uuid.UUID(str(value)) for value in values)
                listed = super().operate(
                    op, bindparam(None, texts, expanding=True, type_=String(), unique=True)
                )
                return EitherForm(plain, listed)
            return super().operate(op, *other, **kwargs)


def other_forms(ids: Iterable[uuid.UUID]) -> list[str]:
    """The texts other than the kit's 32 lower-case hex digits that SQLite may hold each id
    in: with dashes, and both forms in upper case."""
    return [text for found in ids for text in (str(found), str(found).upper(), found.hex.upper())]


class EitherForm(ColumnElement[bool]):
    """A comparison of a UUID column: `plain` (the kit's form) on every database, on SQLite
    `plain OR other OR ...` (the same value in the other forms a program may store)."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True
    _traverse_internals = [  # noqa: RUF012 - SQLAlchemy's own class attribute, never mutated
        ("plain", InternalTraversal.dp_clauseelement),
        ("others", InternalTraversal.dp_clauseelement_tuple),
    ]

    def __init__(self, plain: ColumnElement[Any], *others: ColumnElement[Any]) -> None:
        self.plain = plain
        self.others = others

    @property
    def _from_objects(self) -> list[Any]:
        """The tables the comparison reads: a SELECT that names them only here gets its FROM."""
        return self.plain._from_objects


@compiles(EitherForm)
def _plain(element: EitherForm, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.plain, **kw)


@compiles(EitherForm, "sqlite")
def _either(element: EitherForm, compiler: SQLCompiler, **kw: Any) -> str:
    forms = [compiler.process(form, **kw) for form in (element.plain, *element.others)]
    return f"({' OR '.join(forms)})"


def _dashed(hex_digits: BindParameter[Any]) -> ColumnElement[Any]:
    """SQL making the 8-4-4-4-12 text of the 32 hex digits that `hex_digits` binds."""
    parts = [
        func.substr(hex_digits, literal_column(str(start)), literal_column(str(length)))
        for start, length in _DASHED_PARTS
    ]
    text: ColumnElement[Any] = parts[0]
    for part in parts[1:]:
        text = text.op("||")(literal_column("'-'")).op("||")(part)
    return text


def _is_value(other: Any) -> bool:
    """A UUID given as a value or a bound parameter (not a column, not NULL)."""
    if isinstance(other, BindParameter):
        return not other.expanding
    return isinstance(other, uuid.UUID | str)


def _are_values(other: Any) -> bool:
    """A non-empty list (tuple, set) of UUIDs, or of text that parses as UUIDs, of at most
    MATCHED_LIST_LENGTH."""
    if (
        not isinstance(other, list | tuple | set | frozenset)
        or not 0 < len(other) <= MATCHED_LIST_LENGTH
    ):
        return False
    try:
        return all(uuid.UUID(str(value)) for value in other)
    except ValueError:
        return False


def id_chunks(ids: Iterable[uuid.UUID]) -> Iterator[list[uuid.UUID]]:
    """The ids in lists of at most MATCHED_LIST_LENGTH, each compared in both forms by `IN`."""
    remaining = iter(ids)
    while chunk := list(islice(remaining, MATCHED_LIST_LENGTH)):
        yield chunk


def stored_texts(
    connection: Connection, column: Column[Any], ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, StoredText]:
    """On SQLite, the ids of `ids` that `column` (a key) holds in another text than the kit's
    32 hex digits, most often with dashes, each with that text: a row referring to one of them
    must be written with the same text, since SQLite compares a foreign key as text. Nothing on
    other databases, whose UUID type has one form."""
    if connection.dialect.name != "sqlite" or not ids:
        return {}
    found: dict[uuid.UUID, StoredText] = {}
    for chunk in id_chunks(ids):
        texts = connection.scalars(select(type_coerce(column, String())).where(column.in_(chunk)))
        for text in texts:
            key = uuid.UUID(text)
            if text != key.hex:
                found[key] = StoredText(text)
    return found


def with_references(connection: Connection, table: Table, rows: list[RowT]) -> list[RowT]:
    """`rows` of `table`, each foreign-key UUID written in the text the row it refers to is
    stored with (`stored_texts`) where that is not the kit's: copies of the rows that change."""
    if connection.dialect.name != "sqlite" or not rows:
        return rows
    for key in table.foreign_keys:
        name = key.parent.name
        ids = {row[name] for row in rows if isinstance(row.get(name), uuid.UUID)}
        if texts := stored_texts(connection, key.column, ids):
            rows = [cast(RowT, {**row, name: texts[row[name]]}) if row.get(name) in texts else row
                    for row in rows]  # fmt: skip
    return rows


def as_referenced(connection: Connection, table: Table, values: dict[str, Any]) -> dict[str, Any]:
    """`values` for one Core INSERT or UPDATE of `table`, as `with_references` writes rows (its
    foreign keys are `StoredUuid` columns, which write a `StoredText` as it is)."""
    (written,) = with_references(connection, table, [values])
    return written
