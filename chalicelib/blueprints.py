"""What the app and each of its blueprints need to serve routes: the current request,
its query and body, the runtime, and the one route decorator (`http.routes`: the error
shape, the caller as `who`, the staff check)."""

from __future__ import annotations

import os
from typing import Any

from chalice.app import Blueprint, Chalice, Request

from chalicelib import http
from chalicelib.runtime import Runtime, get_runtime
from chalicelib.validation import parse_json_object


class RouteSet:
    """The routes of `owner`: the app itself, or a blueprint it registers."""

    def __init__(self, owner: Chalice | Blueprint) -> None:
        self.owner = owner
        self.api = http.routes(owner, http.CABINET_USERS, self.current)

    def current(self) -> Request:
        request = self.owner.current_request
        assert request is not None, "only HTTP routes read the current request"
        return request

    @staticmethod
    def runtime() -> Runtime:
        return get_runtime(os.environ)

    def query(self) -> dict[str, str]:
        return http.query_params(self.current())

    def raw_body(self) -> bytes:
        return http.body_bytes(self.current())

    def body(self) -> dict[str, Any]:
        return parse_json_object(self.raw_body(), self.runtime().settings.max_body_bytes)
