"""docs/security.md names the tests that prove each threat's answer: each must exist, so the
table cannot point at a test that was renamed or removed."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "security.md"
CITED = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def functions_in(path: Path) -> set[str]:
    """The module-level test functions of a test file: what pytest collects from it."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    }


def test_every_test_the_security_page_names_exists():
    cited = CITED.findall(DOC.read_text())
    assert len(cited) > 100  # the pattern still finds the table's tests

    missing = [
        f"{path}::{name}"
        for path, name in cited
        if not (ROOT / path).is_file() or name not in functions_in(ROOT / path)
    ]

    assert missing == []


def test_every_attack_fault_and_distribution_threat_has_its_row():
    rows = re.findall(r"^\| (F?D?\d+) \|", DOC.read_text(), flags=re.MULTILINE)

    expected = [str(n) for n in range(1, 18)]
    expected += [f"F{n}" for n in range(1, 9)]
    expected += [f"D{n}" for n in range(1, 10)]
    assert rows == expected
