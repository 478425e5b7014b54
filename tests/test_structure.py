"""The structure the README's Architecture section promises, checked on the source (the layers themselves are
import-linter contracts run by `make lint`)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import portal

PORTAL = Path(portal.__file__).parent
AREA_PACKAGES = sorted(path.parent.name for path in PORTAL.glob("*/__init__.py"))


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported_names(tree: ast.Module) -> set[tuple[str, str]]:
    return {
        (node.module or "", alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def test_every_area_plugs_itself_in_and_the_factory_lists_them_all() -> None:
    listed = {module.__name__.split(".")[1] for module in portal.AREAS}
    assert listed == set(AREA_PACKAGES)
    for area in AREA_PACKAGES:
        tree = parsed(PORTAL / area / "plugin.py")
        functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert "init_app" in functions, area


@pytest.mark.parametrize("rules", sorted(PORTAL.glob("*/rules.py")), ids=lambda path: path.parent.name)
def test_rules_modules_import_no_models(rules: Path) -> None:
    """A workflow's rules are pure: tests and templates ask them without a database."""
    modules = {module for module, _name in imported_names(parsed(rules))}
    assert not {module for module in modules if module.endswith(".models")}, rules


def test_only_views_speak_http() -> None:
    """Services raise domain errors (NotFound, Forbidden, InvalidInput, IllegalTransition); one handler maps them."""
    allowed = {"views.py", "web.py", "errors.py"}
    speaking = [
        str(path.relative_to(PORTAL))
        for path in PORTAL.rglob("*.py")
        if path.name not in allowed and ("flask", "abort") in imported_names(parsed(path))
    ]
    assert speaking == []


def test_the_company_day_comes_from_the_calendar() -> None:
    """`date.today()` is the server's day, not the company's (a server on UTC is a day behind Shanghai until 08:00)."""
    offenders = []
    for path in PORTAL.rglob("*.py"):
        for node in ast.walk(parsed(path)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "today"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "date"
            ):
                offenders.append(f"{path.relative_to(PORTAL)}:{node.lineno}")
    assert offenders == []


def test_amount_fields_are_money_fields() -> None:
    """Every form field that takes an amount parses it one way (portal.money.MoneyField)."""
    from_forms = []
    for path in PORTAL.glob("*/forms.py"):
        for node in ast.walk(parsed(path)):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in {"amount", "estimated_cost", "penalty", "budget", "target"}
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name)
            ):
                from_forms.append((path.parent.name, node.targets[0].id, node.value.func.id))
    assert from_forms, "no amount fields found: the test looks in the wrong place"
    assert {field for *_where, field in from_forms} == {"MoneyField"}, from_forms


STATUS_COMPARISON = re.compile(r"status(\.value)?\s*(==|!=)\s*['\"]|status(\.value)?\s+(not\s+)?in\s*[(\[]\s*['\"]")


def test_no_template_compares_statuses() -> None:
    """Pages ask the area's guards (can_withdraw, awaits_review...), registered as template globals by its plugin;
    a status compared in a template is a second copy of a rule."""
    templates = PORTAL.parent / "templates"
    found = [
        f"{path.relative_to(templates)}:{number}"
        for path in sorted(templates.rglob("*.html"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if STATUS_COMPARISON.search(line.replace("wanted.status", "wanted"))  # the queue's filter, not a status
    ]
    assert found == []
