"""Reading roster files: each LMS export and its quirks, then every kind of bad input."""

from __future__ import annotations

import codecs
import csv
import random
import time
import zipfile
from io import BytesIO, StringIO

import pytest

from app.roster import ColumnMapping, RosterError, parse_roster
from app.roster.parse import FORMATS as FORMAT_NAMES
from tests.roster.rosterkit import canvas_export, plan_for, sample, usernames, xlsx_workbook

# -- each export format -------------------------------------------------------------------------

FORMATS = [
    # file, detected format, usernames added (default rule), {row: reason fragment} skipped
    (
        "canvas_gradebook.csv",
        "canvas",
        ["alovelace", "ghopper", "aturing", "dknuth", "coneil", "zzed"],
        {2: "manual posting", 3: "Points Possible", 10: "test student"},
    ),
    (
        "canvas_semicolon_bom.csv",
        "canvas",
        ["jmueller", "snunez", "aoster"],
        {2: "Points Possible", 6: "test student"},
    ),
    (
        "canvas_first_last.csv",
        "canvas",
        ["bliskov", "edijkstra"],
        {2: "Points Possible", 5: "test student"},
    ),
    (
        "blackboard_grade_center.csv",
        "blackboard",
        ["mcurie", "rfranklin", "dhodgkin"],
        {5: "marked 'No' in the 'Availability' column"},
    ),
    ("d2l_grades.csv", "d2l", ["jane.doe", "richard.roe", "nnoemail"], {}),
    (
        "moodle_participants.csv",
        "moodle",
        ["ada.byron", "c.babbage"],
        {4: "role 'Teacher'", 5: "role 'Non-editing teacher'"},
    ),
    ("generic_any_case.csv", "generic", ["alice.example", "bob", "carol"], {}),
    ("plain_emails.txt", "plain", ["alice", "bob", "carol", "dave"], {5: "repeats row 2"}),
]


@pytest.mark.parametrize(("filename", "fmt", "expected", "skipped"), FORMATS)
def test_each_export_is_recognised_and_yields_its_students(filename, fmt, expected, skipped):
    parsed = parse_roster(sample(filename), filename)

    assert parsed.format == fmt
    assert fmt in FORMAT_NAMES
    assert plan_for(parsed).to_json()["add"] == expected
    assert {s.row: s.reason for s in parsed.skipped}.keys() == skipped.keys()
    for s in parsed.skipped:
        assert skipped[s.row].lower() in s.reason.lower()


def test_canvas_names_sections_and_row_numbers():
    parsed = parse_roster(sample("canvas_gradebook.csv"), "grades.csv")
    rows = {r.login: r for r in parsed.rows}

    ada = rows["alovelace"]
    assert (ada.row, ada.name, ada.first, ada.last) == (4, "Ada Lovelace", "Ada", "Lovelace")
    assert ada.sections == ("CS101 Lecture",)
    assert ada.raw["SIS User ID"] == "S0001"
    # "A and B" and Rails' "A, B, and C": students in several sections.
    assert rows["ghopper@example.edu"].sections == ("CS101 Lab 2", "CS101 Lecture")
    assert rows["dknuth"].sections == ("CS101 Lab 1", "CS101 Lab 2", "CS101 Lecture")
    assert rows["dknuth"].section == "CS101 Lab 1; CS101 Lab 2; CS101 Lecture"
    # Canvas writes a name starting with '=' as ="..." so Excel does not run it.
    assert rows["zzed"].name == "Zoe =Zed"
    assert parsed.mapping.to_dict() == {
        "login": "SIS Login ID",
        "email": None,
        "name": "Student",
        "first": None,
        "last": None,
        "section": "Section",
        "role": None,
        "status": None,
    }


def test_canvas_section_called_x_and_y_is_not_split_when_no_one_is_in_x_alone():
    parsed = parse_roster(sample("canvas_first_last.csv"), "grades.csv")

    assert {r.sections for r in parsed.rows} == {("Theory and Practice",)}
    assert any("Theory and Practice" in note for note in parsed.notes)


def test_canvas_real_person_named_test_student_with_a_login_is_kept():
    data = sample("canvas_gradebook.csv").replace(
        b'"Student, Test",1099,,,', b'"Student, Test",1099,S9,tstudent,'
    )

    parsed = parse_roster(data, "grades.csv")

    assert "tstudent" in [r.login for r in parsed.rows]


def test_blackboard_utf16_tab_download_named_xls_is_read():
    text = sample("blackboard_grade_center.csv").decode().replace('","', '"\t"')

    parsed = parse_roster(text.encode("utf-16"), "gc_CS101_fullgc_2024.xls")

    assert (parsed.format, parsed.delimiter, parsed.encoding) == ("blackboard", "\t", "utf-16")
    assert [r.login for r in parsed.rows] == ["mcurie", "rfranklin", "DHodgkin"]
    assert any("UTF-16" in note for note in parsed.notes)


def test_d2l_hash_prefixes_are_removed_and_end_of_line_column_ignored():
    parsed = parse_roster(sample("d2l_grades.csv"), "grades.csv")
    jane = parsed.rows[0]

    assert (jane.login, jane.email, jane.name) == ("jdoe", "jane.doe@example.edu", "Jane Doe")
    assert jane.raw["OrgDefinedId"] == "100201"
    assert jane.raw["End-of-Line Indicator"] == ""
    assert jane.sections == ("Section 001",)
    # Without an email the login is used; with the whole-email rule that row is refused.
    assert plan_for(parsed, rule="email").to_json()["invalid"] == [
        {
            "row": 4,
            "value": "nnoemail",
            "reason": "no email address in this row (the whole-email rule needs one)",
        }
    ]


def test_moodle_roles_only_filter_when_some_row_is_a_student():
    localised = sample("moodle_participants.csv").replace(b"Student", b"Estudiante")

    parsed = parse_roster(localised, "participants.csv")

    assert len(parsed.rows) == 4
    assert parsed.skipped == []


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(sample("generic_any_case.csv"), id="admin-and-groups-columns"),
        pytest.param(
            b"Username,Is Admin,Admin,Group,Groups,Role\n"
            b"mallory,true,yes,admin,instructors,Student\n",
            id="only-privilege-columns",
        ),
    ],
)
def test_admin_and_group_columns_are_never_read(data):
    parsed = parse_roster(data, "roster.csv")
    plan = plan_for(parsed)

    chosen = {c for c in parsed.mapping.to_dict().values() if c}
    assert not chosen & {"Admin", "Is Admin", "Group", "Groups"}
    assert all(not {"admin", "instructors", "course-other"} & set(r.sections) for r in parsed.rows)
    # Nothing a plan hands to the apply step can carry an admin flag or a group name.
    info = plan.enrollments()[0]
    assert set(info.__slots__) == {"username", "name", "email", "section", "sections", "row"}
    assert all(
        not e.row.sections or e.row.sections[0] in {"Tuesday", "Wednesday"} for e in plan.add
    )


def test_generic_file_without_header_row_starts_with_a_student():
    parsed = parse_roster(
        b"Alice Smith,alice@example.edu,Sec 1\nBob Jones,bob@example.edu,Sec 2\n", "x.csv"
    )

    assert parsed.columns == ["Column 1", "Column 2", "Column 3"]
    assert [(r.row, r.email) for r in parsed.rows] == [
        (1, "alice@example.edu"),
        (2, "bob@example.edu"),
    ]


def test_generic_status_column_skips_dropped_students():
    data = b"email,status\na@example.edu,Active\nb@example.edu,Dropped\nc@example.edu,\n"

    parsed = parse_roster(data, "x.csv")

    assert [r.email for r in parsed.rows] == ["a@example.edu", "c@example.edu"]
    assert parsed.skipped[0].row == 3


def test_plain_list_takes_mail_client_lines_and_angle_addresses():
    data = (
        b'Ann Lee <ann@example.edu>; bob@example.edu, "Carl" <carl@example.edu>\n'
        b"\ndee@example.edu\n"
    )

    parsed = parse_roster(data, "paste.txt")

    assert parsed.format == "plain"
    assert [(r.row, r.email, r.name) for r in parsed.rows] == [
        (1, "ann@example.edu", "Ann Lee"),
        (1, "bob@example.edu", ""),
        (1, "carl@example.edu", "Carl"),
        (3, "dee@example.edu", ""),
    ]


def test_single_column_with_an_identity_header_is_not_a_plain_list():
    parsed = parse_roster(b"Email\nann@example.edu\n", "x.csv")

    assert (parsed.format, [r.row for r in parsed.rows]) == ("generic", [2])


def test_single_column_of_names_asks_for_a_mapping_instead_of_enrolling_name():
    with pytest.raises(RosterError) as err:
        parse_roster(b"Name\nAnn Lee\nBob Ray\n", "x.csv")
    assert err.value.code == "no_identity_column"


# -- encodings, BOMs, separators, line ends -----------------------------------------------------

CANVAS_TEXT = sample("canvas_gradebook.csv").decode()
CANVAS_USERS = ["alovelace", "ghopper", "aturing", "dknuth", "coneil", "zzed"]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(CANVAS_TEXT.encode(), id="utf-8"),
        pytest.param(codecs.BOM_UTF8 + CANVAS_TEXT.encode(), id="utf-8-bom"),
        pytest.param(codecs.BOM_UTF8 * 2 + CANVAS_TEXT.encode(), id="double-bom"),
        pytest.param(CANVAS_TEXT.encode("utf-16"), id="utf-16-bom"),
        pytest.param(codecs.BOM_UTF16_BE + CANVAS_TEXT.encode("utf-16-be"), id="utf-16-be-bom"),
        pytest.param(CANVAS_TEXT.encode("utf-16-le"), id="utf-16-le-no-bom"),
        pytest.param(b"sep=,\r\n" + CANVAS_TEXT.encode(), id="excel-sep-line"),
        pytest.param(codecs.BOM_UTF8 + b"sep=,\r\n" + CANVAS_TEXT.encode(), id="bom-and-sep-line"),
        pytest.param(CANVAS_TEXT.replace("\r\n", "\n").encode(), id="lf"),
        pytest.param(CANVAS_TEXT.replace("\r\n", "\r").encode(), id="cr-only-old-mac-excel"),
    ],
)
def test_bom_variants_encodings_and_line_ends_read_the_same(data):
    parsed = parse_roster(data, "grades.csv")

    assert parsed.columns[0] == "Student"
    assert plan_for(parsed).to_json()["add"] == CANVAS_USERS
    assert [r.row for r in parsed.rows] == [4, 5, 6, 7, 8, 9]


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_separator_is_sniffed_from_the_header(sep):
    rows = list(csv.reader(CANVAS_TEXT.splitlines()))
    buffer = StringIO()
    csv.writer(buffer, delimiter=sep).writerows(rows)

    parsed = parse_roster(buffer.getvalue().encode(), "grades.csv")

    assert parsed.delimiter == sep
    assert plan_for(parsed).to_json()["add"] == CANVAS_USERS


def test_cp1252_behind_a_utf8_bom_still_finds_its_header():
    data = codecs.BOM_UTF8 + "email;name\nann@example.edu;Ann Müller\n".encode("cp1252")

    parsed = parse_roster(data, "x.csv")

    assert (parsed.encoding, parsed.columns) == ("cp1252", ["email", "name"])
    assert parsed.rows[0].name == "Ann Müller"


def test_cp1252_from_excel_is_read_and_said():
    parsed = parse_roster(sample("bad/excel_cp1252.csv"), "export.csv")

    assert parsed.encoding == "cp1252"
    assert [r.name for r in parsed.rows] == ["Jürgen Müller", "Sofía Nuñez", "Siobhán O\u2019Brien"]
    assert "Windows-1252" in parsed.notes[0]


# -- the instructor's column mapping ------------------------------------------------------------


def test_mapping_override_replaces_detection():
    mapping = ColumnMapping(login="sis user id", name="Student", section=None)

    parsed = parse_roster(sample("canvas_gradebook.csv"), "grades.csv", mapping=mapping)

    assert parsed.mapping.login == "SIS User ID"  # matched regardless of case
    assert [r.login for r in parsed.rows][:2] == ["S0001", "S0002"]
    assert all(r.sections == () for r in parsed.rows)


def test_mapping_round_trips_through_json():
    mapping = ColumnMapping(login="Username", email="E-Mail", section="Group")

    assert ColumnMapping.from_dict(mapping.to_dict()) == mapping
    assert ColumnMapping.from_dict({"email": "  Email ", "name": ""}) == ColumnMapping(
        email="Email"
    )


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"admin": "Admin"}, "bad_mapping"),
        ({"login": 3}, "bad_mapping"),
        ([("login", "x")], "bad_mapping"),
    ],
)
def test_mapping_from_bad_json_is_refused(data, code):
    with pytest.raises(RosterError) as err:
        ColumnMapping.from_dict(data)
    assert err.value.code == code


def test_unknown_header_asks_for_a_mapping_and_the_mapping_then_works():
    data = b"Nom,Courriel\nAnne,anne@example.edu\n"

    with pytest.raises(RosterError) as err:
        parse_roster(data, "liste.csv")
    assert err.value.code == "no_identity_column"
    assert err.value.columns == ["Nom", "Courriel"]

    parsed = parse_roster(data, "liste.csv", mapping=ColumnMapping(email="Courriel", name="Nom"))
    assert [(r.email, r.name) for r in parsed.rows] == [("anne@example.edu", "Anne")]


@pytest.mark.parametrize(
    ("mapping", "code", "fragment"),
    [
        (ColumnMapping(login="Netid"), "unknown_column", "'Netid' chosen for username"),
        (ColumnMapping(name="Student"), "bad_mapping", "username or email"),
    ],
)
def test_mapping_naming_missing_columns_is_refused(mapping, code, fragment):
    with pytest.raises(RosterError) as err:
        parse_roster(sample("canvas_gradebook.csv"), "grades.csv", mapping=mapping)
    assert (err.value.code, fragment in err.value.message) == (code, True)
    assert "SIS Login ID" in err.value.columns


# -- bad input: whole-file problems -------------------------------------------------------------


def _zip(name: str, text: str) -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, text)
    return buffer.getvalue()


def _rows(n: int) -> bytes:
    return b"email\n" + b"".join(b"s%d@example.edu\n" % i for i in range(n))


WHOLE_FILE_PROBLEMS = [
    # id, bytes, code, fragment of the message
    ("empty", sample("bad/empty.csv"), "empty", "The file is empty."),
    ("blank-lines", b"\r\n \r\n\t\n", "empty", "empty"),
    ("bom-only", codecs.BOM_UTF8, "empty", "empty"),
    ("utf16-bom-only", codecs.BOM_UTF16_LE, "empty", "empty"),
    ("header-only", sample("bad/header_only.csv"), "header_only", "no students below it"),
    (
        "only-pseudo-rows",
        b'Student,ID,SIS Login ID,Section\n    Points Possible,,,\n"Student, Test",9,,A\n',
        "no_students",
        "Points Possible",
    ),
    (
        "xlsx-renamed-csv",
        xlsx_workbook([["Username", "Name"], ["ann", "Ann"]]),
        "excel_workbook",
        "This looks like an Excel workbook (.xlsx). Save it as CSV and upload again.",
    ),
    ("old-xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "excel_workbook", "(.xls)"),
    (
        "ods",
        _zip("mimetype", "application/vnd.oasis.opendocument.spreadsheet"),
        "spreadsheet",
        "(.ods)",
    ),
    ("zip", _zip("roster.csv", "email\na@b.c\n"), "archive", "ZIP archive"),
    ("pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "not_text", "PDF"),
    ("gzip", b"\x1f\x8b\x08\x00" + bytes(50), "not_text", "gzip"),
    ("html-as-xls", b"<html><table><tr><td>email</td></tr></table></html>", "not_text", "HTML"),
    ("binary-junk", random.Random(3).randbytes(4096), "binary", "binary data"),
    ("nul-bytes", b"email\na@example.edu\x00\x00\x00\x00\n", "binary", "binary data"),
    ("neither-utf8-nor-cp1252", b"email\nab\x81\x8d@example.edu\n", "encoding", "CSV UTF-8"),
    ("over-row-cap", _rows(20_001), "too_many_rows", "more than 20,000 rows"),
]


@pytest.mark.parametrize(
    ("data", "code", "fragment"),
    [pytest.param(d, c, f, id=i) for i, d, c, f in WHOLE_FILE_PROBLEMS],
)
def test_whole_file_problems_raise_a_clear_error(data, code, fragment):
    with pytest.raises(RosterError) as err:
        parse_roster(data, "roster.csv")

    assert err.value.code == code
    assert fragment in err.value.message


def test_row_cap_counts_rows_not_blank_lines():
    assert len(parse_roster(_rows(50), "x.csv", max_rows=50).rows) == 50
    assert len(parse_roster(_rows(50).replace(b"\n", b"\n\n"), "x.csv", max_rows=50).rows) == 50
    with pytest.raises(RosterError, match="more than 50 rows"):
        parse_roster(_rows(51), "x.csv", max_rows=50)


@pytest.mark.parametrize("filename", ["million.csv", "million.txt"])
def test_a_million_rows_is_refused_quickly_without_parsing_them_all(filename):
    data = _rows(1_000_000) if filename.endswith("csv") else _rows(1_000_000)[6:]

    started = time.perf_counter()
    with pytest.raises(RosterError) as err:
        parse_roster(data, filename)
    elapsed = time.perf_counter() - started

    assert err.value.code == "too_many_rows"
    assert "1,000,0" in err.value.message
    # Reading all of them takes several seconds here; stopping at the cap takes a fraction.
    assert elapsed < 2.0


# -- bad input: row problems never stop the good rows -------------------------------------------


def test_quoted_newlines_stay_inside_their_cell():
    parsed = parse_roster(sample("bad/quoted_newlines.csv"), "x.csv")
    rows = {r.row: r for r in parsed.rows}

    assert rows[2].name == "Ann Multi-Line"
    assert rows[4].sections == ("Section B",)
    assert plan_for(parsed).to_json()["add"] == ["good1", "good2"]
    assert plan_for(parsed).to_json()["invalid"] == [
        {
            "row": 3,
            "value": "bad\\u000d\\u000aname",
            "reason": "contains control or invisible characters",
        }
    ]


def test_unclosed_quote_loses_one_row_not_the_file():
    parsed = parse_roster(sample("bad/unclosed_quote.csv"), "x.csv")

    assert [r.login for r in parsed.rows] == ["early0", "early1", "early2"]
    assert len(parsed.skipped) == 1
    assert "never closed" in parsed.skipped[0].reason


def test_ten_megabyte_cells_do_not_crash_and_cost_only_their_row():
    huge = b"x" * (10 * 1024 * 1024)
    data = b"username,name,notes\nok1,A,n\nbig," + huge + b",n\nok2,B," + huge + b"\nok3,C,n\n"

    parsed = parse_roster(data, "x.csv")

    assert [r.login for r in parsed.rows] == ["ok1", "ok2", "ok3"]
    assert [(s.row, "10,485,760 characters" in s.reason) for s in parsed.skipped] == [(3, True)]
    assert len(parsed.rows[1].raw["notes"]) <= 10_001  # unused cells are kept, cut short


def test_csv_field_limit_is_raised_but_bounded():
    assert 10 * 1024 * 1024 < csv.field_size_limit() <= 64 * 1024 * 1024

    with pytest.raises(RosterError) as err:
        parse_roster(b'email,notes\na@example.edu,"' + b"x" * (17 * 2**20) + b'"\n', "x.csv")
    assert (err.value.code, "larger than 16 MB" in err.value.message) == ("cell_too_large", True)


def test_a_nul_byte_past_the_sniffed_start_costs_only_its_row():
    data = b"email\n" + b"".join(b"s%d@example.edu\n" % i for i in range(5000))

    plan = plan_for(parse_roster(data + b"bad\x00nul@example.edu\n", "x.csv"))

    assert len(plan.add) == 5000
    assert [(i.row, i.value) for i in plan.invalid] == [(5002, "bad\\u0000nul@example.edu")]


def test_formula_like_cells_are_data_never_usernames():
    parsed = parse_roster(sample("bad/formula_cells.csv"), "x.csv")
    result = plan_for(parsed).to_json()

    assert result["add"] == ["okstudent"]
    assert [i["row"] for i in result["invalid"]] == [2, 3, 4, 5, 6]
    # Names are kept as written; exports escape them (SECURITY.md 10), the pages escape HTML.
    assert parsed.rows[-1].name == "=1+1"


def test_rows_with_missing_or_extra_cells_are_padded_or_trimmed():
    data = b"username,name,section\nann,Ann\nbob,Bob,S1,extra,cells\n"

    parsed = parse_roster(data, "x.csv")

    assert [(r.login, r.sections) for r in parsed.rows] == [("ann", ()), ("bob", ("S1",))]
    assert any("more cells than the header" in n for n in parsed.notes)


def test_blank_lines_keep_row_numbers_as_in_the_file():
    parsed = parse_roster(b"email\n\na@example.edu\n\n\nb@example.edu\n", "x.csv")

    assert [r.row for r in parsed.rows] == [3, 6]


def test_big_generated_canvas_export_parses_completely():
    parsed = parse_roster(canvas_export(5000), "grades.csv")

    assert len(parsed.rows) == 5000
    assert len(usernames(canvas_export(300), "g.csv")) == 300
    assert {s.reason for s in parsed.skipped} == {
        "Canvas 'Points Possible' row (not a student)",
        "Canvas Student View test student",
    }
    assert parsed.rows[0].sections == ("Lab A", "Lecture")
