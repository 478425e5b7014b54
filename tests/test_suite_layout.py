"""The test suite's own rules: a test module imports helpers (tests.helpers, tests.factories, tests.threads...),
never another test module, so each can be read, run and changed alone."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent


def test_no_test_module_imports_another() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            offenders += [
                f"{path.relative_to(TESTS)} imports {module}"
                for module in modules
                if module.startswith("tests.") and module.rsplit(".", 1)[-1].startswith("test_")
            ]
    assert offenders == []


def test_records_are_reached_by_name_not_by_string_key() -> None:
    """The fixtures return typed records (`claim_records.own_claim`, `channel.people.staff`): a misspelt name fails
    at once, where a key into a bag of ids would fail only when that line runs. Route templates take
    `world.placeholders()`."""
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "ids" and isinstance(node.value, ast.Name):
                offenders.append(f"{path.relative_to(TESTS)}:{node.lineno}")
    assert offenders == []
