"""What a blueprint of the app needs to serve routes as `app.py` does: the current
request, its query and JSON body, the runtime, and the one route decorator
(`http.routes`: the error shape, the caller as `who`, the staff check)."""

from __future__ import annotations

import os
from typing import Any

from chalice.app import Blueprint, Request

from chalicelib import http
from chalicelib.runtime import Runtime, get_runtime
from chalicelib.validation import parse_json_object


class RouteSet:
    def __init__(self, name: str) -> None:
        self.blueprint = Blueprint(name)
        self.api = http.routes(self.blueprint, http.CABINET_USERS, self.current)

    def current(self) -> Request:
        request = self.blueprint.current_request
        assert request is not None, "only HTTP routes read the current request"
        return request

    @staticmethod
    def runtime() -> Runtime:
        return get_runtime(os.environ)

    def query(self) -> dict[str, str]:
        return http.query_params(self.current())

    def body(self) -> dict[str, Any]:
        raw = http.body_bytes(self.current())
        return parse_json_object(raw, self.runtime().settings.max_body_bytes)
