"""The shape DESIGN.md and the README's Architecture section give the code, checked:
the packages stand in layers and import only downwards; the domain speaks repositories
and domain exceptions, never AWS, Chalice or storage internals; every letter leaves from
`outbound/`; modules and functions stay small enough to read in one go."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ("domain", "intake", "staff", "sla", "status", "admin", "classify")
# The layers, lowest first: a module imports from its own layer or a lower one only.
LAYERS = (
    (
        "foundation",
        ("", "errors", "ids", "timeutil", "validation", "config", "observability", "aws", "values"),
    ),
    ("domain", ("domain",)),
    ("classify", ("classify",)),
    ("storage", ("storage", "accounts", "blobs", "scanning")),
    ("outbound", ("outbound",)),
    (
        "use cases",
        ("intake", "staff", "sla", "status", "admin", "lifecycle", "uploads", "ratings", "reports"),
    ),
    ("edge", ("http", "runtime", "blueprints", "macro_routes", "status_routes", "__main__")),
)
FORBIDDEN = ("boto3", "botocore", "chalice")
MODULE_LINES = 400
FUNCTION_LINES = 60


def modules(*parts: str) -> list[Path]:
    base = ROOT / "chalicelib"
    return sorted(p for part in parts for p in (base / part).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT / "chalicelib").with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__")


def layer_of(module: str) -> int | None:
    """The layer of `module` (a name under chalicelib, `` for the package itself)."""
    found: tuple[int, int] | None = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or (prefix and module.startswith(prefix + "."))
            if matches and (found is None or len(prefix) > found[1]):
                found = (index, len(prefix))
    return None if found is None else found[0]


def chalicelib_imports(path: Path) -> set[str]:
    """What `path` imports from chalicelib, as module names under it (`from chalicelib
    import observability` is `observability`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("chalicelib")
        ):
            base = node.module.removeprefix("chalicelib").lstrip(".")
            for alias in node.names:
                full = f"{base}.{alias.name}".lstrip(".")
                names.add(
                    full
                    if (ROOT / "chalicelib" / (full.replace(".", "/") + ".py")).exists()
                    else base
                )
        elif isinstance(node, ast.Import):
            names.update(
                a.name.removeprefix("chalicelib").lstrip(".")
                for a in node.names
                if a.name.startswith("chalicelib")
            )
    return names


def test_every_module_has_a_layer() -> None:
    unlayered = [module_name(p) for p in modules(".") if layer_of(module_name(p)) is None]
    assert unlayered == [], "add these to LAYERS (and the README's Architecture section)"


@pytest.mark.parametrize("path", modules("."), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_one_on_a_higher_layer(path: Path) -> None:
    mine = layer_of(module_name(path))
    assert mine is not None
    for name in chalicelib_imports(path):
        theirs = layer_of(name)
        assert theirs is not None and theirs <= mine, (
            f"{module_name(path)} ({LAYERS[mine][0]}) imports {name}"
            f" ({LAYERS[theirs][0] if theirs is not None else '?'})"
        )


def test_storage_imports_no_feature_package() -> None:
    for path in modules("storage"):
        for name in chalicelib_imports(path):
            assert layer_of(name) is not None and layer_of(name) <= 3, f"{path.name}: {name}"  # type: ignore[operator]


def test_nothing_under_intake_composes_outbound_mail() -> None:
    """Acknowledgements and answers are composed in `outbound/` only: intake owes them
    as outbox entries (`outbound.delivery.entry_for`) and never builds a letter."""
    for path in modules("intake"):
        text = path.read_text(encoding="utf-8")
        for name in chalicelib_imports(path):
            assert not name.startswith(("outbound.compose", "outbound.mailer", "outbound.ack")), (
                f"{path.name} imports {name}"
            )
        assert "EmailMessage" not in text and "set_content(" not in text, path.name


def test_every_outbox_kind_has_a_sender_once_the_runtime_is_wired() -> None:
    from chalicelib.outbound.routing import KINDS
    from tests.fakes import fake_world

    world = fake_world(datetime(2026, 12, 4, 9, 0, tzinfo=UTC))
    assert world.runtime.dispatcher.kinds() == sorted(KINDS)


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


@pytest.mark.parametrize(
    "path", [*modules("."), ROOT / "app.py"], ids=lambda p: str(p.relative_to(ROOT))
)
def test_modules_and_functions_stay_small(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert source.count("\n") <= MODULE_LINES, f"{path.name} is over {MODULE_LINES} lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= FUNCTION_LINES, f"{path.name}:{node.name} is {length} lines"
