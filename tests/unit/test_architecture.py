"""The shape DESIGN.md gives the code, checked: the domain speaks repositories and
domain exceptions, never AWS, Chalice or storage internals; modules and functions
stay small enough to read in one go."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ("intake", "sla", "classify")
FORBIDDEN = ("boto3", "botocore", "chalice")
MODULE_LINES = 400
FUNCTION_LINES = 60


def modules(*parts: str) -> list[Path]:
    base = ROOT / "chalicelib"
    return sorted(p for part in parts for p in (base / part).rglob("*.py"))


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", modules(*DOMAIN), ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_modules_import_no_aws_no_chalice_and_no_storage_internals(path: Path) -> None:
    for name in imported(path):
        assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
        assert not name.startswith("chalicelib.storage."), f"{path.name} imports {name}"


def test_no_domain_module_builds_or_reads_dynamodb_items() -> None:
    for path in modules(*DOMAIN):
        text = path.read_text(encoding="utf-8")
        for marker in ("_to_item", "_from_item", '"PK"', "GSI2PK", "ConditionExpression"):
            assert marker not in text, f"{path.relative_to(ROOT)} mentions {marker}"


@pytest.mark.parametrize("path", modules("."), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_stay_small(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert source.count("\n") <= MODULE_LINES, f"{path.name} is over {MODULE_LINES} lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= FUNCTION_LINES, f"{path.name}:{node.name} is {length} lines"
