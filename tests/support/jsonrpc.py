"""A plain JSON-RPC 2.0 client for tests: httpx posting JSON to /public/rpc, nothing more.

Every answer is checked to be HTTP 200 JSON (the protocol's errors travel inside it)."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

PATH = "/public/rpc"


class RpcFailed(AssertionError):
    """A call expected to succeed answered an error object."""


class RpcClient:
    def __init__(self, http: httpx.Client, headers: dict[str, str] | None = None) -> None:
        self.http = http
        self.headers = headers or {}
        self._ids = itertools.count(1)

    def post(self, payload: Any) -> httpx.Response:
        return self.http.post(PATH, json=payload, headers=self.headers)

    def send(self, payload: Any) -> Any:
        """Post a request object or a batch; return the parsed answer (HTTP 200 JSON)."""
        r = self.post(payload)
        assert r.status_code == 200, f"{r.status_code} {r.text}"
        assert r.headers["content-type"] == "application/json", r.headers["content-type"]
        return r.json()

    def request(self, method: str, params: Any = None) -> dict[str, Any]:
        request_id = next(self._ids)
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            body["params"] = params
        answer: dict[str, Any] = self.send(body)
        assert answer["jsonrpc"] == "2.0" and answer["id"] == request_id, answer
        assert ("result" in answer) != ("error" in answer), answer
        return answer

    def call(self, method: str, **params: Any) -> Any:
        """The result of a call that must succeed."""
        answer = self.request(method, params)
        if "error" in answer:
            raise RpcFailed(f"{method}({params}) failed: {answer['error']}")
        return answer["result"]

    def error(self, method: str, **params: Any) -> dict[str, Any]:
        """The error object of a call that must fail."""
        answer = self.request(method, params)
        assert "error" in answer, f"{method}({params}) succeeded: {answer['result']}"
        error: dict[str, Any] = answer["error"]
        assert set(error) == {"code", "message", "data"} and "type" in error["data"], error
        return error
