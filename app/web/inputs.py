"""Request input no view should ever see, refused in one place, and typed fields of JSON bodies.

A 500 on odd input is a bug even when nothing was half-applied. Three kinds of input broke
views deep inside, differently on each database, so they are stopped before any view runs:
- a database id in a URL beyond the id columns (SQL INTEGER: 32 bits on PostgreSQL, which
  answers "integer out of range"; SQLite overflows at 64 bits): the `id` converter matches no
  route, a 404, as for any id that does not exist;
- a NUL character, which PostgreSQL cannot store in text, and a lone UTF-16 surrogate (JSON's
  "\\ud800"), which no database can encode: one 400 naming where it was, for the URL, the query,
  form fields, file names and JSON bodies alike;
- a JSON body nested deeper than Python's recursion limit, on which json.loads raises
  RecursionError rather than ValueError: a 400.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

# The id columns are SQL INTEGER; PostgreSQL's is 32 bits, so no larger id can exist.
MAX_ID = 2**31 - 1

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class InvalidInput(BadRequest):
    """A 400 whose message says which field is wrong and how (API code: invalid_input)."""

    name = "Invalid input"


class IdConverter(IntegerConverter):
    """A database id in a URL: 1 to MAX_ID in ASCII digits; anything else matches no route."""

    # Ten digits at most: Werkzeug's \\d+ also takes other scripts' digits, and a 5000-digit
    # value would make int() itself refuse.
    regex = "[0-9]{1,10}"

    def __init__(self, map) -> None:
        super().__init__(map, min=1, max=MAX_ID)


def _describe(ch: str) -> str:
    return "a NUL character (\\0)" if ch == "\x00" else f"an unpaired surrogate (U+{ord(ch):04X})"


def _json_texts(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string of a JSON value with where it is; iterative, as deep as the parser went."""
    stack = [(where, value)]
    while stack:
        place, item = stack.pop()
        if isinstance(item, str):
            yield place, item
        elif isinstance(item, dict):
            for key, child in item.items():
                yield f"a key of {place}", str(key)
                stack.append((f"JSON field {str(key)[:40]!r}", child))
        elif isinstance(item, list):
            stack.extend((place, child) for child in item)


def _json_body() -> Any:
    try:
        return request.get_json(silent=True)
    except RecursionError:
        raise InvalidInput(
            "The JSON body is nested too deeply to read; send a flat JSON object."
        ) from None


def _texts() -> Iterator[tuple[str, str]]:
    """Each text of the request that could reach a view, with where it came from."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            yield f"URL part {name!r}", value
    for source, fields in (("query parameter", request.args), ("form field", request.form)):
        for key, values in fields.lists():
            yield f"name of a {source}", key
            for value in values:
                yield f"{source} {key[:40]!r}", value
    for key, upload in request.files.items(multi=True):
        yield "name of an uploaded file's field", key
        yield f"file name of the upload {key[:40]!r}", upload.filename or ""
    if request.is_json:
        yield from _json_texts(_json_body(), "the JSON body")


def refuse_unstorable_input() -> None:
    """Before every view: a 400 for a NUL or a lone surrogate anywhere in the request."""
    for where, text in _texts():
        found = _UNSTORABLE.search(text)
        if found:
            raise InvalidInput(
                f"The {where} contains {_describe(found.group())} at position {found.start()}, "
                "which Hubclass cannot store. Remove it and send again."
            )


# -- typed fields of JSON bodies ----------------------------------------------------------------


def json_type(value: Any) -> str:
    """Name a JSON value's type as the person who wrote the JSON would."""
    for kind, name in ((bool, "true/false"), (int, "a number"), (float, "a number"),
                       (str, "a string"), (list, "a list"), (dict, "an object")):  # fmt: skip
        if isinstance(value, kind):
            return name
    return "null"


def json_object(example: str) -> dict[str, Any]:
    """The request's JSON object, or a 400 that shows what to send."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput(f"Send a JSON object: {example}.")
    return body


def _field(body: dict[str, Any], name: str, kind: type, empty: Any, what: str) -> Any:
    """The field if it has the JSON type `kind`; missing or null reads as `empty`."""
    value = body.get(name)
    if value is None:
        return empty
    if not isinstance(value, kind):
        raise InvalidInput(f"{name!r} must be {what}, not {json_type(value)}.")
    return value


def text_field(body: dict[str, Any], name: str) -> str:
    """A string field; missing or null reads as empty."""
    return _field(body, name, str, "", "a string")


def flag_field(body: dict[str, Any], name: str) -> bool:
    """A true/false field; missing or null reads as false."""
    return _field(body, name, bool, False, "true or false")


def text_list_field(body: dict[str, Any], name: str, example: str) -> list[str]:
    """A list of strings; missing or null reads as an empty list."""
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        what = json_type(value) if not isinstance(value, list) else "a list holding non-strings"
        raise InvalidInput(f"{name!r} must be a list of strings, e.g. {example}, not {what}.")
    return value


def init_app(app: Flask) -> None:
    """Register the id converter (before any blueprint) and the input check."""
    app.url_map.converters["id"] = IdConverter
    app.before_request(refuse_unstorable_input)
