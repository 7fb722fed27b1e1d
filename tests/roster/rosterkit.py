"""Helpers for the roster unit tests: sample exports, a real .xlsx, Hub user stand-ins."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from app.roster import ParsedRoster, Plan, make_plan, parse_roster

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> bytes:
    """Return the bytes of a sample export under tests/roster/samples."""
    return (SAMPLES / name).read_bytes()


@dataclass
class HubUser:
    """The facts about a Hub user that a plan reads (the Hub client's model has more)."""

    admin: bool = False
    groups: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=lambda: ["user"])


def plan_for(
    parsed: ParsedRoster,
    *,
    enrolled: set[str] | None = None,
    hub_users: dict[str, HubUser] | None = None,
    instructor_groups: set[str] | None = None,
    course_group: str = "course-cs101",
    **options: object,
) -> Plan:
    """Plan against a course; by default an empty course on an empty Hub."""
    return make_plan(
        parsed,
        enrolled=enrolled or set(),
        hub_users=hub_users or {},
        instructor_groups=instructor_groups or {"instructors"},
        course_group=course_group,
        **options,  # type: ignore[arg-type]
    )


def usernames(data: bytes, filename: str = "roster.csv", **options: object) -> list[str]:
    """Return the usernames a file would add to an empty course."""
    return plan_for(parse_roster(data, filename), **options).to_json()["add"]


def xlsx_workbook(rows: list[list[str]]) -> bytes:
    """Build a minimal but real Excel workbook (the parts Excel itself requires)."""
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    cells = "".join(
        "<row>"
        + "".join(f'<c t="inlineStr"><is><t>{value}</t></is></c>' for value in row)
        + "</row>"
        for row in rows
    )
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{ns}" xmlns:r="{rel}">'
            '<sheets><sheet name="Roster" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{ns}">'
            f"<sheetData>{cells}</sheetData></worksheet>"
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def canvas_export(students: int, *, assignments: int = 12, sep: str = ",") -> bytes:
    """Generate a Canvas gradebook export with the pseudo-rows and a test student."""
    titles = [f"Homework {i} ({5000 + i})" for i in range(1, assignments + 1)]
    header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *titles, "Current Score"]
    lines = [
        sep.join(header),
        sep.join(
            ["    Points Possible", "", "", "", ""] + ["10.00"] * len(titles) + ["(read only)"]
        ),
    ]
    for i in range(students):
        section = "Lab A and Lecture" if i % 7 == 0 else "Lecture"
        login = f"s{i:05d}@example.edu" if i % 2 else f"s{i:05d}"
        cells = [f'"Student{i}, Given{i}"', str(10_000 + i), f"SIS{i}", login, section]
        lines.append(sep.join(cells + ["9.00"] * len(titles) + ["90.00"]))
    lines.append(
        sep.join(['"Student, Test"', "99999", "", "", "Lecture"] + [""] * (len(titles) + 1))
    )
    return ("\n".join(lines) + "\n").encode()
