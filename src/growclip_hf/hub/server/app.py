"""The HTTP side of the local Hub: routing and plumbing for the endpoints ``HfApi``, ``hf_hub_download``,
``HfFileSystem`` and ``datasets`` use, for model and dataset repositories alike (``read_api.py``, ``write_api.py``).

Standard library only (``http.server`` with a thread per request): the API subset is small, and a server that needs
no extra dependency is what an air-gapped cluster can run.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from .blob_cache import BlobCache
from .commit_stream import BodyReader
from .errors import StoreError
from .git_store import REPO_TYPES, GitStore
from .read_api import ReadEndpoints
from .write_api import WriteEndpoints

_LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HubRequestHandler(ReadEndpoints, WriteEndpoints, BaseHTTPRequestHandler):
    """Routes one request; the stores and write token hang off the server object."""

    protocol_version = "HTTP/1.1"
    server: LocalHubServer

    def log_message(self, format, *args):  # noqa: A002 - quiet by default; the server logs nothing with tokens
        if self.server.verbose:
            super().log_message(format, *args)

    # -- plumbing -------------------------------------------------------------------------------------------------
    def repo_store(self, kind: str) -> GitStore:
        """``kind`` is the URL's plural (``models``, ``datasets``)."""
        return self.server.stores[kind[:-1]]

    def send_head(self, status: int, length: int, headers: dict) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(length))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.headers_sent = True

    def send_json(self, status: int, payload, headers: dict | None = None) -> None:
        body = json.dumps(payload, default=str).encode()
        self.send_head(status, len(body), {"Content-Type": "application/json", **(headers or {})})
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, message: str, code: str | None = None) -> None:
        headers = {"X-Error-Message": message.replace("\n", " ")[:500]}
        if code:
            headers["X-Error-Code"] = code
        if self.close_connection:
            headers["Connection"] = "close"
        self.send_json(status, {"error": message}, headers)

    def read_body(self) -> bytes:
        return self.body.read_all(_BODY_LIMIT)

    def json_body(self) -> dict:
        try:
            payload = json.loads(self.read_body() or b"{}")
        except json.JSONDecodeError as exc:
            raise StoreError(400, f"Request body is not JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise StoreError(400, "Request body must be a JSON object.")
        return payload

    def require_write_token(self) -> None:
        expected = self.server.write_token
        if expected is None:
            return
        given = self.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
            raise StoreError(401, "A valid write token is required (Authorization: Bearer ...).")

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        self.query = parse_qs(url.query)
        self.headers_sent = False
        # The body is read by the handler as it needs it (a commit streams it); what is left is drained afterwards
        # so the keep-alive connection stays in step, whatever the answer.
        self.body = None
        try:
            self.body = BodyReader(self.rfile, _content_length(self.headers))
            if self.server.request_hook is not None:
                self.server.request_hook(self.command, url.path)
            self._route(url.path)
            self.body.drain()
        except StoreError as exc:
            if self.headers_sent:  # failed mid-answer: the client sees a short body, then the connection closes
                self.close_connection = True
                return
            if self.body is None:  # the body's length is unknown: it cannot be skipped, so the connection ends
                self.close_connection = True
            self._error(exc.status, str(exc), exc.code)
            if self.body is not None:
                self.body.drain()  # read, not kept: the client sends it all anyway, and then reads our answer
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug here must not leave the client waiting on a dead connection
            self.close_connection = True
            if not self.headers_sent:
                self._error(500, f"Internal error: {type(exc).__name__}: {exc}")
            raise

    def _route(self, path: str) -> None:
        for method, pattern, name, writes in _ROUTES:
            if method != self.command and not (method == "GET" and self.command == "HEAD"):
                continue
            match = pattern.fullmatch(path)
            if match is not None:
                if writes:
                    self.require_write_token()
                # Revisions and paths arrive percent-encoded (a branch "a/b" is "a%2Fb"); decode after matching.
                getattr(self, name)(**{k: unquote(v) for k, v in match.groupdict().items() if v is not None})
                return
        raise StoreError(404, f"No route for {self.command} {path}")

    do_GET = do_HEAD = do_POST = do_DELETE = _dispatch


_BODY_LIMIT = 64 << 20  # JSON and form bodies; commits stream and have no limit


def _content_length(headers) -> int:
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        raise StoreError(411, "Send a Content-Length; chunked request bodies are not accepted.")
    try:
        length = int(headers.get("Content-Length") or 0)
    except ValueError:
        length = -1
    if length < 0:
        raise StoreError(400, "Invalid Content-Length.")
    return length


_REPO = r"(?P<repo>[^/]+/[^/]+)"
_API = rf"/api/(?P<kind>models|datasets)/{_REPO}"
_REV = r"(?P<revision>[^/]+)"
# (method, path pattern, handler method, needs the write token); the first match wins.
_ROUTES = tuple(
    (method, re.compile(pattern), name, writes)
    for method, pattern, name, writes in (
        ("POST", r"/api/repos/create", "create_repo", True),
        ("GET", r"/api/whoami-v2", "whoami", False),
        ("POST", r"/api/validate-yaml", "validate_yaml", True),
        ("GET", rf"{_API}/refs", "list_refs", False),
        ("GET", rf"{_API}/tree/{_REV}(?:/(?P<path>.*))?", "list_tree", False),
        ("POST", rf"{_API}/paths-info/{_REV}", "paths_info", False),
        ("GET", rf"{_API}/commits/{_REV}", "list_commits", False),
        ("GET", rf"{_API}/parquet(?:/.*)?", "no_parquet_export", False),
        ("GET", rf"{_API}/revision/{_REV}", "repo_info", False),
        ("GET", _API, "repo_info", False),
        ("POST", rf"{_API}/preupload/{_REV}", "preupload", True),
        ("POST", rf"{_API}/commit/{_REV}", "commit", True),
        ("POST", rf"{_API}/branch/(?P<name>[^/]+)", "create_branch", True),
        ("POST", rf"{_API}/tag/{_REV}", "create_tag", True),
        ("DELETE", rf"{_API}/branch/(?P<name>[^/]+)", "delete_branch", True),
        ("DELETE", rf"{_API}/tag/(?P<name>[^/]+)", "delete_tag", True),
        ("GET", rf"/(?P<kind>datasets)/{_REPO}/resolve/{_REV}/(?P<path>.+)", "resolve_file", False),
        ("GET", rf"/{_REPO}/resolve/{_REV}/(?P<path>.+)", "resolve_file", False),
    )
)


class LocalHubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, root, host: str = "127.0.0.1", port: int = 0, write_token: str | None = None, verbose: bool = False
    ):
        if not is_loopback(host) and not write_token:
            raise ValueError(f"Refusing to serve on non-loopback address {host!r} without a write token (--token).")
        super().__init__((host, port), HubRequestHandler)
        blobs = BlobCache(root)
        self.stores = {kind: GitStore(root, kind, blobs) for kind in REPO_TYPES}
        self.store = self.stores["model"]  # the model repositories (what publishing and older callers use)
        self.write_token = write_token
        self.verbose = verbose
        # Called as hook(method, path) before routing; raising StoreError(503) simulates a flaky network in tests.
        self.request_hook = None
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.server_address[1]}"


def start_server(root, host: str = "127.0.0.1", port: int = 0, write_token: str | None = None):
    """Serve in a background thread (tests, the main job); returns ``(url, stop)``."""
    return serve_in_thread(LocalHubServer(root, host, port, write_token))


def serve_in_thread(server: LocalHubServer):
    """Run an existing server in a daemon thread; returns ``(url, stop)``."""
    thread = threading.Thread(target=server.serve_forever, name="local-hub", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return server.url, stop
