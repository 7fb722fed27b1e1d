"""Read an uploaded roster (bytes) into rows: whole-file problems raise, row problems are listed.

Pure: no Flask, no database, no network. The app has the bytes in memory already (bounded by
MAX_CONTENT_LENGTH); this module decodes them lazily and stops at the row cap, so a file of a
million rows is refused after reading max_rows + 1 of them, not parsed whole.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import ClassVar

from app.errors import HubclassError
from app.roster import formats

MAX_ROWS = 20_000
# csv's default field limit (128 KiB) makes one oversized cell fail the whole file. 16 MiB is
# above any upload the app accepts, and bounded. The limit is process-wide: only ever raise it.
FIELD_SIZE_LIMIT = 16 * 1024 * 1024
# A name, email or login longer than this is not one; the row is skipped with a reason.
MAX_USED_CELL = 1_000
# Other cells are kept for display and the "column:NAME" rule, cut to this length.
MAX_RAW_CELL = 10_000
# A record spread over more physical lines than this is an unclosed quote swallowing rows.
MAX_RECORD_LINES = 20
SNIFF_BYTES = 64 * 1024

csv.field_size_limit(max(csv.field_size_limit(), FIELD_SIZE_LIMIT))

FORMATS = ("canvas", "blackboard", "d2l", "moodle", "generic", "plain")

# Values of a status/availability column that mean "not in the course any more".
INACTIVE_STATUSES = frozenset(
    {
        "no",
        "unavailable",
        "suspended",
        "not current",
        "inactive",
        "dropped",
        "withdrawn",
        "deleted",
        "disabled",
        "concluded",
    }
)
STUDENT_ROLE_WORDS = ("student", "learner")

_FIELD_LABELS = {
    "login": "username / login",
    "email": "email",
    "name": "name",
    "first": "first name",
    "last": "last name",
    "section": "section",
    "role": "role",
    "status": "status",
}

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Control and invisible formatting characters (zero-width, bidi overrides, BOM) in names.
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_ANGLE_ADDRESS = re.compile(r"^(.*?)\s*<([^<>\s]+@[^<>\s]+)>$")
_EMAILISH = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"']+$")
_SEP_LINE = re.compile(r"^sep=(.)\s*$", re.IGNORECASE)
_PLAIN_SPLIT = re.compile(r"[,;\t]")


class RosterError(HubclassError):
    """A whole-file problem: a stable `code` and a `message` an instructor can act on."""

    title = "Roster"
    statuses: ClassVar[dict[str, int]] = {"not_latest": 409, "confirm": 409}

    def __init__(self, code: str, message: str, *, columns: list[str] | None = None) -> None:
        super().__init__(code, message)
        # The header, when there is one, so the app can offer the column-mapping form.
        self.columns = list(columns or [])


@dataclass
class ColumnMapping:
    """Which column of the file plays which part; None means the file has no such column."""

    login: str | None = None
    email: str | None = None
    name: str | None = None
    first: str | None = None
    last: str | None = None
    section: str | None = None
    role: str | None = None
    status: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        """Return the mapping as JSON-ready data."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ColumnMapping:
        """Build a mapping from stored JSON or a form, refusing unknown keys and non-strings."""
        if not isinstance(data, Mapping):
            raise RosterError("bad_mapping", "The column mapping must be an object.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise RosterError(
                "bad_mapping",
                f"Unknown column roles: {', '.join(unknown)}. Known: {', '.join(sorted(known))}.",
            )
        values: dict[str, str | None] = {}
        for key, value in data.items():
            if value is not None and not isinstance(value, str):
                raise RosterError("bad_mapping", f"The column for {key} must be a column name.")
            values[key] = (value.strip() or None) if isinstance(value, str) else None
        return cls(**values)


@dataclass(slots=True)
class RosterRow:
    """One student line of the file, cleaned; `raw` keeps every cell by column name."""

    row: int
    login: str | None
    email: str | None
    name: str
    first: str = ""
    last: str = ""
    sections: tuple[str, ...] = ()
    raw: dict[str, str] = field(default_factory=dict)

    @property
    def section(self) -> str | None:
        """Return the sections as one string for display and storage."""
        return "; ".join(self.sections) or None


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A row that is not a student (pseudo-row, test student, inactive...), with the reason."""

    row: int
    reason: str


@dataclass
class ParsedRoster:
    """What the file holds, how it was read, and what the instructor should be told."""

    filename: str
    sha256: str
    format: str
    encoding: str
    delimiter: str | None
    columns: list[str]
    mapping: ColumnMapping
    rows: list[RosterRow]
    skipped: list[SkippedRow]
    notes: list[str]


def parse_roster(
    data: bytes,
    filename: str,
    *,
    mapping: ColumnMapping | None = None,
    max_rows: int = MAX_ROWS,
) -> ParsedRoster:
    """Read roster bytes; raise RosterError for whole-file problems, list row problems."""
    if max_rows < 1:
        raise ValueError("max_rows must be positive")
    _refuse_non_text(data)
    encoding, label = _detect_encoding(data)
    if not encoding.startswith("utf-16"):
        _refuse_binary(data[:SNIFF_BYTES].decode("latin-1"))
    try:
        parsed = _Parser(data, filename, encoding, label, mapping, max_rows).run()
    except UnicodeDecodeError:
        if encoding not in ("utf-8", "utf-8-sig"):
            raise RosterError("encoding", _ENCODING_MESSAGE) from None
        try:
            parsed = _Parser(data, filename, "cp1252", "cp1252", mapping, max_rows).run()
        except UnicodeDecodeError:
            # cp1252 leaves five byte values undefined: such a file is neither encoding.
            raise RosterError("encoding", _ENCODING_MESSAGE) from None
        parsed.notes.insert(
            0,
            "The file is not UTF-8, so it was read as Windows-1252 (what Excel writes for plain "
            "'CSV'). Check that accented names look right; 'CSV UTF-8' avoids the guess.",
        )
    if encoding.startswith("utf-16"):
        parsed.notes.insert(
            0, "The file is UTF-16 text (Excel 'Unicode Text' or a Blackboard download)."
        )
    if filename.lower().endswith((".xlsx", ".xls", ".ods", ".numbers")):
        parsed.notes.append(f"{filename} is named like a spreadsheet but holds text: read as CSV.")
    return parsed


_ENCODING_MESSAGE = (
    "The file is not text in a known encoding (UTF-8, UTF-16 or Windows-1252). "
    "Save it from your spreadsheet as 'CSV UTF-8' and upload again."
)


def _refuse_non_text(data: bytes) -> None:
    """Raise for spreadsheets, archives, documents and binary junk, naming what was found."""
    head = data[:SNIFF_BYTES]
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if b"xl/" in head or b"xl/workbook" in data:
            raise RosterError(
                "excel_workbook",
                "This looks like an Excel workbook (.xlsx). Save it as CSV and upload again.",
            )
        if b"opendocument.spreadsheet" in head[:200]:
            raise RosterError(
                "spreadsheet",
                "This looks like an OpenDocument spreadsheet (.ods). "
                "Save it as CSV and upload again.",
            )
        raise RosterError(
            "archive",
            "This is a ZIP archive, not a CSV file. Export the roster as CSV and upload that.",
        )
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise RosterError(
            "excel_workbook",
            "This looks like an old Excel workbook (.xls). Save it as CSV and upload again.",
        )
    for magic, what in (
        (b"%PDF-", "a PDF document"),
        (b"\x1f\x8b", "a compressed (gzip) file"),
        (b"{\\rtf", "a Rich Text document"),
    ):
        if head.startswith(magic):
            raise RosterError("not_text", f"This is {what}, not a CSV file. Export it as CSV.")
    start = head.lstrip(codecs.BOM_UTF8 + b" \t\r\n").lower()
    if start.startswith((b"<!doctype html", b"<html", b"<table")):
        raise RosterError(
            "not_text",
            "This is a web page (HTML), not a CSV file. Some LMS 'Excel' downloads are HTML: "
            "open it in a spreadsheet, save it as CSV and upload again.",
        )
    if start.startswith(b"<?xml"):
        raise RosterError(
            "not_text", "This is an XML file, not a CSV file. Save it as CSV and upload again."
        )


def _detect_encoding(data: bytes) -> tuple[str, str]:
    """Return (codec, label) from the BOM, or UTF-16 LE by its zero bytes; UTF-8 otherwise."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "utf-16"
    sample = data[:2048]
    # BOM-less UTF-16 LE text has a zero in almost every odd byte; binary junk does not.
    half = len(sample) // 2
    if half >= 4 and sample[1::2].count(0) > 0.9 * half and sample[0::2].count(0) < 0.1 * half:
        return "utf-16-le", "utf-16"
    return "utf-8", "utf-8"


def _refuse_binary(sample: str) -> None:
    """Raise when decoded text is mostly not text (NULs, control characters)."""
    controls = len(_CONTROL.findall(sample))
    if "\x00" in sample or controls > max(2, len(sample) // 100):
        raise RosterError(
            "binary",
            "This file is not a text file (it contains binary data). "
            "Export the roster from your LMS as CSV and upload that.",
        )


@dataclass(slots=True)
class _Pending:
    """A student row before the whole-file passes (roles, Canvas sections) are done."""

    row: int
    login: str | None
    email: str | None
    name: str
    first: str
    last: str
    section: str
    role: str
    raw: dict[str, str]


class _Parser:
    """One pass over the decoded file; restarted from scratch when the encoding guess fails."""

    def __init__(
        self,
        data: bytes,
        filename: str,
        encoding: str,
        label: str,
        mapping: ColumnMapping | None,
        max_rows: int,
    ) -> None:
        self.data = data
        self.filename = filename
        self.encoding = encoding
        self.label = label
        self.requested = mapping
        self.max_rows = max_rows
        self.skipped: list[SkippedRow] = []
        self.notes: list[str] = []
        self.pending: list[_Pending] = []
        # Non-blank rows below the header, pseudo-rows included: counting every row keeps the
        # refusal cheap even for a file of a million rows that would all be skipped.
        self.records = 0

    # -- driver ---------------------------------------------------------------------------
    def run(self) -> ParsedRoster:
        body = self.data
        if self.encoding == "cp1252" and body.startswith(codecs.BOM_UTF8):
            # A UTF-8 BOM on a file that turned out not to be UTF-8: the BOM is still no text.
            body = body[len(codecs.BOM_UTF8) :]
        stream = io.TextIOWrapper(io.BytesIO(body), encoding=self.encoding, newline="")
        if self.encoding.startswith("utf-16"):
            _refuse_binary(stream.read(SNIFF_BYTES // 2))
            stream.seek(0)
        lines: Iterator[str] = iter(stream)
        header_line, header_row, delimiter = self._find_header(lines)
        if _is_plain_list(header_line, delimiter):
            return self._plain(itertools.chain([header_line], lines), header_row, delimiter)
        reader = csv.reader(itertools.chain([header_line], lines), delimiter=delimiter or ",")
        try:
            header = next(reader)
            columns = _unique_columns(header)
            fmt = formats.detect_format([formats.header_key(c) for c in columns])
            first_data: list[str] | None = None
            if (
                fmt == "generic"
                and not formats.is_known_header(columns)
                and any(_EMAILISH.match(c.strip()) for c in header)
            ):
                # No header row at all: the first line is already a student.
                first_data = header
                columns = [f"Column {i}" for i in range(1, len(header) + 1)]
                self.notes.append("The file has no header row; the first line is a student.")
            chosen = self._mapping(columns, fmt, first_data)
            self._rows(reader, columns, fmt, chosen, header_row, first_data)
        except csv.Error as exc:
            if "field limit" in str(exc):
                raise RosterError(
                    "cell_too_large",
                    f"A cell near line {reader.line_num} is larger than "
                    f"{FIELD_SIZE_LIMIT // 2**20} MB; this is not a roster export.",
                ) from None
            raise RosterError(
                "malformed", f"The file is not valid CSV near line {reader.line_num}: {exc}."
            ) from None
        rows = self._finish(fmt, columns, chosen)
        return ParsedRoster(
            filename=self.filename,
            sha256=hashlib.sha256(self.data).hexdigest(),
            format=fmt,
            encoding=self.label,
            delimiter=delimiter or ",",
            columns=columns,
            mapping=chosen,
            rows=rows,
            skipped=self.skipped,
            notes=self.notes,
        )

    def _find_header(self, lines: Iterator[str]) -> tuple[str, int, str | None]:
        """Skip leading blank lines and Excel's `sep=` hint; return the header and delimiter."""
        row = 0
        hinted: str | None = None
        for line in lines:
            # Tools that prepend a BOM to a file that has one leave two: drop them all.
            text = line.lstrip("\ufeff")
            if hinted is None and (match := _SEP_LINE.match(text)):
                # Excel's "sep=;" first line names the delimiter and is not a row.
                hinted = match.group(1)
                continue
            row += 1
            if text.strip():
                return text, row, hinted or _sniff_delimiter(text)
        raise RosterError("empty", "The file is empty.")

    def _count(self) -> None:
        self.records += 1
        if self.records > self.max_rows:
            lines = self.data.count(b"\n") + 1
            raise RosterError(
                "too_many_rows",
                f"The file has more than {self.max_rows:,} rows (about {lines:,} lines; "
                f"the limit is {self.max_rows:,}). Upload one course's roster at a time, "
                f"or ask the Hub admin to raise the limit.",
            )

    # -- mapping --------------------------------------------------------------------------
    def _mapping(self, columns: list[str], fmt: str, first_data: list[str] | None) -> ColumnMapping:
        if self.requested is not None:
            return _resolve_mapping(self.requested, columns)
        guessed = formats.auto_mapping(columns)
        if first_data is not None:
            for column, cell in zip(columns, first_data, strict=True):
                if _EMAILISH.match(cell.strip()):
                    guessed["email"] = column
                    break
        if not guessed["login"] and not guessed["email"]:
            raise RosterError(
                "no_identity_column",
                "No column with usernames or emails was found (columns: "
                f"{', '.join(columns) or 'none'}). Choose the columns by hand.",
                columns=columns,
            )
        return ColumnMapping(**guessed)

    # -- rows -----------------------------------------------------------------------------
    def _rows(
        self,
        reader: Iterator[list[str]],
        columns: list[str],
        fmt: str,
        mapping: ColumnMapping,
        header_row: int,
        first_data: list[str] | None,
    ) -> None:
        ncols = len(columns)
        index = {f: (columns.index(c) if c else None) for f, c in mapping.to_dict().items()}
        used = sorted({i for i in index.values() if i is not None})
        # D2L writes '#' before ids and usernames so that Excel keeps them as text.
        strip_hash = fmt == "d2l"
        canvas_id = columns.index("ID") if fmt == "canvas" and "ID" in columns else None
        line_num = getattr(reader, "line_num", 0)
        row = header_row if first_data is None else header_row - 1
        extra_noted = False
        records: Iterable[list[str]] = (
            reader if first_data is None else itertools.chain([first_data], reader)
        )
        for values in records:
            row += 1
            previous, line_num = line_num, getattr(reader, "line_num", line_num)
            if not any(v.strip() for v in values):
                continue  # blank line (spreadsheets pad exports with them)
            self._count()
            if line_num - previous > MAX_RECORD_LINES:
                self.skipped.append(
                    SkippedRow(
                        row,
                        f"a quote that is never closed joins lines {previous + 1}-{line_num} "
                        "into one row",
                    )
                )
                continue
            if len(values) != ncols:
                if not extra_noted and any(v.strip() for v in values[ncols:]):
                    self.notes.append(
                        f"Row {row} (and maybe others) has more cells than the header has "
                        "columns; the extra cells were ignored."
                    )
                    extra_noted = True
                values = (values + [""] * ncols)[:ncols]
            too_long = next((i for i in used if len(values[i]) > MAX_USED_CELL), None)
            if too_long is not None:
                self.skipped.append(
                    SkippedRow(
                        row,
                        f"the {columns[too_long]!r} cell is {len(values[too_long]):,} "
                        f"characters long (at most {MAX_USED_CELL:,})",
                    )
                )
                continue
            if max(map(len, values)) > MAX_RAW_CELL:
                values = [v if len(v) <= MAX_RAW_CELL else v[:MAX_RAW_CELL] + "…" for v in values]
            if strip_hash:
                values = [v.removeprefix("#") for v in values]
            self._record(row, values, columns, fmt, index, canvas_id)

    def _record(
        self,
        row: int,
        values: list[str],
        columns: list[str],
        fmt: str,
        index: dict[str, int | None],
        canvas_id: int | None,
    ) -> None:
        def cell(f: str) -> str:
            i = index[f]
            return _unwrap(values[i]) if i is not None else ""

        login, email, name_cell = cell("login"), cell("email"), cell("name")
        first, last = _clean_name(cell("first")), _clean_name(cell("last"))
        if fmt == "canvas":
            has_id = canvas_id is not None and bool(values[canvas_id].strip())
            reason = _canvas_pseudo_row(values, name_cell, login, first, last, has_id)
            if reason:
                self.skipped.append(SkippedRow(row, reason))
                return
        status = cell("status")
        if status and status.lower() in INACTIVE_STATUSES:
            column = columns[index["status"]]  # type: ignore[index]
            self.skipped.append(SkippedRow(row, f"marked {status!r} in the {column!r} column"))
            return
        if email and (match := _ANGLE_ADDRESS.match(email)):
            name_cell, email = name_cell or match.group(1).strip("\"' "), match.group(2)
        name = _clean_name(name_cell)
        if fmt == "canvas" and name.count(",") == 1 and not (first or last):
            # Canvas writes the sortable name, "Last, First".
            last, _, first = name.partition(",")
            first, last = first.strip(), last.strip()
            name = f"{first} {last}".strip()
        if not name:
            name = f"{first} {last}".strip()
        if not (login or email or name):
            self.skipped.append(SkippedRow(row, "no username, email or name in this row"))
            return
        self.pending.append(
            _Pending(
                row=row,
                login=login or None,
                email=email or None,
                name=name,
                first=first,
                last=last,
                section=_clean_name(cell("section")),
                role=cell("role"),
                raw=dict(zip(columns, values, strict=True)),
            )
        )

    # -- plain lists ----------------------------------------------------------------------
    def _plain(self, lines: Iterable[str], first_row: int, delimiter: str | None) -> ParsedRoster:
        """One email or username per line (or several, separated by , ; or tab)."""
        seen: dict[str, int] = {}
        row = first_row - 1
        for line in lines:
            row += 1
            entries = _PLAIN_SPLIT.split(line) if delimiter else [line]
            for entry in entries:
                text = entry.strip().lstrip("\ufeff")
                if not text:
                    continue
                self._count()
                if len(text) > MAX_USED_CELL:
                    self.skipped.append(
                        SkippedRow(row, f"the line is {len(text):,} characters long")
                    )
                    continue
                if text in seen:
                    self.skipped.append(SkippedRow(row, f"repeats row {seen[text]}"))
                    continue
                seen[text] = row
                name, value = "", _unwrap(text)
                if match := _ANGLE_ADDRESS.match(value):
                    name, value = _clean_name(match.group(1).strip("\"' ")), match.group(2)
                is_email = "@" in value
                self.pending.append(
                    _Pending(
                        row=row,
                        login=None if is_email else value,
                        email=value if is_email else None,
                        name=name,
                        first="",
                        last="",
                        section="",
                        role="",
                        raw={},
                    )
                )
        if not self.pending:
            raise RosterError("no_students", _no_students(self.skipped))
        mapping = ColumnMapping()
        return ParsedRoster(
            filename=self.filename,
            sha256=hashlib.sha256(self.data).hexdigest(),
            format="plain",
            encoding=self.label,
            delimiter=delimiter,
            columns=[],
            mapping=mapping,
            rows=self._finish("plain", [], mapping),
            skipped=self.skipped,
            notes=self.notes,
        )

    # -- whole-file passes ----------------------------------------------------------------
    def _finish(self, fmt: str, columns: list[str], mapping: ColumnMapping) -> list[RosterRow]:
        if not self.pending:
            if self.records == 0:
                raise RosterError(
                    "header_only",
                    "The file has a header row but no students below it.",
                    columns=columns,
                )
            raise RosterError("no_students", _no_students(self.skipped), columns=columns)
        pending = self._drop_non_students(mapping)
        sections = {}
        if fmt == "canvas":
            sections = _canvas_sections([p.section for p in pending], self.notes)
        rows = [
            RosterRow(
                row=p.row,
                login=p.login,
                email=p.email,
                name=p.name,
                first=p.first,
                last=p.last,
                sections=sections.get(p.section, (p.section,) if p.section else ()),
                raw=p.raw,
            )
            for p in pending
        ]
        if self.skipped:
            self.skipped.sort(key=lambda s: s.row)
        return rows

    def _drop_non_students(self, mapping: ColumnMapping) -> list[_Pending]:
        """Skip teachers and TAs listed in a role column, when the column names students at all."""
        if not mapping.role:
            return self.pending
        roles = [p.role.lower() for p in self.pending]
        # Role names are localised and configurable: only filter when "student" is one of them.
        if not any(word in role for role in roles for word in STUDENT_ROLE_WORDS):
            return self.pending
        kept = []
        for p, role in zip(self.pending, roles, strict=True):
            if role and not any(word in role for word in STUDENT_ROLE_WORDS):
                self.skipped.append(SkippedRow(p.row, f"role {p.role!r} is not a student role"))
            else:
                kept.append(p)
        if not kept:
            raise RosterError("no_students", _no_students(self.skipped))
        return kept


def _sniff_delimiter(line: str) -> str | None:
    """Pick `,` `;` or tab by how often each occurs outside quotes in the header line."""
    counts = {"\t": 0, ";": 0, ",": 0}
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=counts.__getitem__)  # ties: tab, then ';', then ','
    return best if counts[best] else None


def _unique_columns(header: list[str]) -> list[str]:
    """Clean header cells; name empty ones "Column N" and number repeats "Name (2)"."""
    columns: list[str] = []
    seen: set[str] = set()
    for i, cell in enumerate(header, start=1):
        name = cell.replace("\ufeff", "").strip() or f"Column {i}"
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{name} ({n})"
        seen.add(candidate)
        columns.append(candidate)
    return columns


def _resolve_mapping(requested: ColumnMapping, columns: list[str]) -> ColumnMapping:
    """Match an instructor's mapping against the header (exactly, else by header_key)."""
    by_key = {formats.header_key(c): c for c in reversed(columns)}
    resolved: dict[str, str | None] = {}
    for role, wanted in requested.to_dict().items():
        if wanted is None:
            resolved[role] = None
        elif wanted in columns:
            resolved[role] = wanted
        elif formats.header_key(wanted) in by_key:
            resolved[role] = by_key[formats.header_key(wanted)]
        else:
            raise RosterError(
                "unknown_column",
                f"The column {wanted!r} chosen for {_FIELD_LABELS[role]} is not in this file. "
                f"Its columns are: {', '.join(columns)}.",
                columns=columns,
            )
    if not resolved["login"] and not resolved["email"]:
        raise RosterError(
            "bad_mapping",
            "Choose the column that holds each student's username or email.",
            columns=columns,
        )
    return ColumnMapping(**resolved)


def _unwrap(value: str) -> str:
    """Strip a cell and undo Excel's `="..."` keep-as-text idiom (Canvas uses it for '=' names)."""
    value = value.strip()
    if len(value) >= 3 and value.startswith('="') and value.endswith('"'):
        value = value[2:-1].replace('""', '"').strip()
    return value


def _clean_name(value: str) -> str:
    """Collapse whitespace (quoted newlines included) and drop invisible characters."""
    if not value:
        return ""
    return " ".join(_INVISIBLE.sub(" ", value).split())


def _is_plain_list(line: str, delimiter: str | None) -> bool:
    """Tell a list of emails/usernames (no header) from a CSV header line."""
    if delimiter is None:
        # One cell: a header if it names a column ("Email", "Username", or "Name", which
        # then fails for lack of an identity column instead of enrolling a user "name").
        return not formats.is_known_header([line.strip()])
    # Several cells, all of them addresses: a line pasted from a mail client.
    cells = [c.strip() for c in line.split(delimiter) if c.strip()]
    return all(_identity_like(c) for c in cells)


def _identity_like(cell: str) -> bool:
    if match := _ANGLE_ADDRESS.match(cell):
        cell = match.group(2)
    return bool(_EMAILISH.match(cell))


def _canvas_pseudo_row(
    values: list[str], name: str, login: str, first: str, last: str, has_id: bool
) -> str | None:
    """Name Canvas' non-student rows: points possible, manual-posting marks, the test student."""
    if "points possible" in (name.lower(), first.lower(), last.lower()):
        return "Canvas 'Points Possible' row (not a student)"
    if not (name or first or last or login or has_id):
        if any("manual posting" in v.lower() or v.strip().lower() == "muted" for v in values):
            return "Canvas row marking assignments with manual posting (not a student)"
        return None
    is_test = name.lower() in ("student, test", "test student") or (
        first.lower(),
        last.lower(),
    ) == ("test", "student")
    if is_test and not login:
        # Student View's fake student has no login; a real person called Test Student does.
        return "Canvas Student View test student"
    return None


def _canvas_sections(cells: list[str], notes: list[str]) -> dict[str, tuple[str, ...]]:
    """Split Canvas' multi-section cells ("A and B", "A, B, and C") into sections.

    Canvas joins a student's sorted section names with Rails' to_sentence. "A and B" is split
    only when A or B is also some student's only section: a section really called "Theory and
    Practice" stays whole (a wrong split would create two wrong groups).
    """
    singles = {c for c in cells if c and " and " not in c}
    result: dict[str, tuple[str, ...]] = {}
    kept_whole: list[str] = []
    for cell in sorted(set(cells)):
        if ", and " in cell:
            head, tail = cell.rsplit(", and ", 1)
            result[cell] = (*[p.strip() for p in head.split(", ")], tail.strip())
        elif cell.count(" and ") == 1:
            left, right = (p.strip() for p in cell.split(" and "))
            if left in singles or right in singles:
                result[cell] = (left, right)
            else:
                kept_whole.append(cell)
    if kept_whole:
        notes.append(
            "Kept as one section: "
            + ", ".join(repr(c) for c in kept_whole[:5])
            + ". Canvas writes a student in two sections as 'A and B', but neither part is "
            "anyone's only section here."
        )
    return result


def _no_students(skipped: list[SkippedRow]) -> str:
    if not skipped:
        return "No students were found in the file."
    reasons: dict[str, int] = {}
    for s in skipped:
        reasons[s.reason] = reasons.get(s.reason, 0) + 1
    listed = "; ".join(f"{n} x {reason}" for reason, n in list(reasons.items())[:5])
    return f"No students were found in the file; every row was skipped ({listed})."
