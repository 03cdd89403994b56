"""openapi.json is the API's contract (API.md): valid, complete, served, and kept true.

Every response an integration test receives is validated against it as well (see
`conforms_to_openapi` in tests/conftest.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import ROOT, Api, openapi

DOCUMENT = ROOT / "openapi.json"


def test_the_document_is_valid_openapi_3_1() -> None:
    document = json.loads(DOCUMENT.read_text())
    assert document["openapi"].startswith("3.1")
    openapi().check_spec()  # raises on an invalid document


def test_it_documents_exactly_the_apps_routes() -> None:
    from app import app

    document = json.loads(DOCUMENT.read_text())
    documented = {
        (path, method.upper()) for path, item in document["paths"].items() for method in item
    }
    served = {(path, method) for path, views in app.routes.items() for method in views}
    assert documented == served


def test_both_security_schemes_and_the_error_shape_are_described() -> None:
    components = json.loads(DOCUMENT.read_text())["components"]
    schemes = components["securitySchemes"]
    assert schemes["CabinetToken"] == {
        **schemes["CabinetToken"],
        "in": "header",
        "name": "Authorization",
    }
    assert schemes["ChatSignature"]["name"] == "X-Signature"
    assert components["schemas"]["Error"]["required"] == ["error"]
    for path, item in json.loads(DOCUMENT.read_text())["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "d")):
                    target = response.get("$ref") or ""
                    resolved = (
                        components["responses"][target.rsplit("/", 1)[-1]] if target else response
                    )
                    assert resolved["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"
                    }, (path, method, status)


def test_it_is_served_and_the_root_file_is_the_shipped_one(api: Api) -> None:
    status, body, headers = api.call("GET", "/openapi.json")
    assert status == 200 and headers["content-type"].startswith("application/json")
    assert body == json.loads(DOCUMENT.read_text())
    assert DOCUMENT.resolve() == (ROOT / "chalicelib" / "openapi.json").resolve()
    assert Path(DOCUMENT).read_bytes() == (ROOT / "chalicelib" / "openapi.json").read_bytes()
