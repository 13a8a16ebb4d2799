"""The HTTP side of the local Hub: the endpoints ``HfApi`` uploads and ``hf_hub_download`` downloads use.

Standard library only (``http.server`` with a thread per request): the API subset is small, and a server that needs
no extra dependency is what an air-gapped cluster can run.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from huggingface_hub import ModelCard

from .git_store import GitStore, StoreError

_LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HubRequestHandler(BaseHTTPRequestHandler):
    """Routes one request; the store and write token hang off the server object."""

    protocol_version = "HTTP/1.1"
    server: LocalHubServer

    def log_message(self, format, *args):  # noqa: A002 - quiet by default; the server logs nothing with tokens
        if self.server.verbose:
            super().log_message(format, *args)

    # -- plumbing -------------------------------------------------------------------------------------------------
    def _send_json(self, status: int, payload, headers: dict | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        self._send_json(status, {"error": message}, {"X-Error-Message": message.replace("\n", " ")[:500]})

    def _body(self) -> bytes:
        return self._raw_body

    def _json_body(self) -> dict:
        try:
            payload = json.loads(self._body() or b"{}")
        except json.JSONDecodeError as exc:
            raise StoreError(400, f"Request body is not JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise StoreError(400, "Request body must be a JSON object.")
        return payload

    def _require_write_token(self) -> None:
        expected = self.server.write_token
        if expected is None:
            return
        given = self.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
            raise StoreError(401, "A valid write token is required (Authorization: Bearer ...).")

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        self.query = parse_qs(url.query)
        # Read the body up front so an early error answer leaves the keep-alive connection clean.
        length = int(self.headers.get("Content-Length") or 0)
        self._raw_body = self.rfile.read(length) if length else b""
        try:
            if self.server.request_hook is not None:
                self.server.request_hook(self.command, url.path)
            for method, pattern, handler in _routes():
                if method != self.command and not (method == "GET" and self.command == "HEAD"):
                    continue
                match = pattern(url.path)
                if match is not None:
                    if method in ("POST", "DELETE"):
                        self._require_write_token()
                    handler(self, *match)
                    return
            self._error(404, f"No route for {self.command} {url.path}")
        except StoreError as exc:
            self._error(exc.status, str(exc))
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_HEAD = do_POST = do_DELETE = _dispatch

    # -- endpoints ------------------------------------------------------------------------------------------------
    def create_repo(self) -> None:
        payload = self._json_body()
        if payload.get("type", "model") not in (None, "model"):
            raise StoreError(400, "Only model repositories are supported by the local Hub.")
        name, org = payload.get("name"), payload.get("organization")
        repo_id = f"{org}/{name}" if org else str(name)
        answer = {"url": f"{self.server.url}/{repo_id}", "name": repo_id, "id": repo_id}
        try:
            self.server.store.create(repo_id)
        except StoreError as exc:
            if exc.status != 409:
                raise
            self._send_json(409, {**answer, "error": str(exc)})  # the Hub's answer: exist_ok reads the url from it
            return
        self._send_json(200, answer)

    def model_info(self, repo_id: str, revision: str = "main") -> None:
        store = self.server.store
        commit = store.resolve(repo_id, revision)
        siblings = [{"rfilename": e.path, "size": e.size, "blobId": e.oid} for e in store.tree(repo_id, commit)]
        self._send_json(
            200,
            {
                "id": repo_id,
                "modelId": repo_id,
                "sha": commit,
                "private": False,
                "disabled": False,
                "gated": False,
                "tags": [],
                "siblings": siblings,
                "library_name": "transformers",
            },
        )

    def list_refs(self, repo_id: str) -> None:
        refs = self.server.store.refs(repo_id)

        def rows(kind: str, prefix: str) -> list[dict]:
            return [{"name": n, "ref": f"{prefix}{n}", "targetCommit": oid} for n, oid in refs[kind]]

        self._send_json(
            200, {"branches": rows("branches", "refs/heads/"), "tags": rows("tags", "refs/tags/"), "converts": []}
        )

    def list_tree(self, repo_id: str, revision: str, subpath: str = "") -> None:
        store = self.server.store
        commit = store.resolve(repo_id, revision)
        recursive = self.query.get("recursive", ["false"])[0].lower() in ("1", "true")
        prefix = subpath.strip("/") + "/" if subpath.strip("/") else ""
        files, folders = [], set()
        for entry in store.tree(repo_id, commit):
            if not entry.path.startswith(prefix):
                continue
            rest = entry.path[len(prefix) :]
            if "/" in rest and not recursive:
                folders.add(prefix + rest.split("/", 1)[0])
                continue
            if recursive:
                parts = rest.split("/")[:-1]
                folders.update(prefix + "/".join(parts[: i + 1]) for i in range(len(parts)))
            files.append({"type": "file", "oid": entry.oid, "size": entry.size, "path": entry.path})
        rows = [{"type": "directory", "oid": "", "size": 0, "path": p} for p in sorted(folders)] + files
        self._send_json(200, rows)

    def preupload(self, repo_id: str, revision: str) -> None:
        """Every file goes up as regular (base64) content in the commit: no LFS or Xet storage to run beside git."""
        store = self.server.store
        payload = self._json_body()
        try:
            current = {e.path: e.oid for e in store.tree(repo_id, store.resolve(repo_id, revision))}
        except StoreError as exc:
            if exc.status != 404 or not store.exists(repo_id):
                raise
            current = {}
        files = [
            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": current.get(f["path"])}
            for f in payload.get("files", [])
        ]
        self._send_json(200, {"files": files})

    def commit(self, repo_id: str, revision: str) -> None:
        store = self.server.store
        store.require(repo_id)
        header, additions, deletions = None, {}, []
        for line in self._body().splitlines():
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                key, value = item["key"], item["value"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise StoreError(400, "Commit payload must be ndjson lines of {key, value}.") from None
            if key == "header":
                header = value
            elif key == "file":
                if value.get("encoding", "base64") != "base64":
                    raise StoreError(400, "Only base64-encoded file content is supported.")
                additions[value["path"]] = base64.b64decode(value["content"])
            elif key in ("deletedFile", "deletedFolder"):
                deletions.append(value["path"])
            elif key == "lfsFile":
                raise StoreError(400, "LFS pointers are not accepted: preupload answers 'regular' for every file.")
            else:
                raise StoreError(400, f"Unsupported commit operation {key!r}.")
        if header is None:
            raise StoreError(400, "Commit payload has no header line.")
        message = header.get("summary") or "Upload files"
        if header.get("description"):
            message += "\n\n" + header["description"]
        oid = store.commit(repo_id, unquote(revision), additions, deletions, message, header.get("parentCommit"))
        self._send_json(
            200, {"commitUrl": f"{self.server.url}/{repo_id}/commit/{oid}", "commitOid": oid, "success": True}
        )

    def create_branch(self, repo_id: str, branch: str) -> None:
        payload = self._json_body()
        store = self.server.store
        start = store.resolve(repo_id, payload.get("startingPoint") or "main")
        store.create_ref(repo_id, "heads", unquote(branch), start)
        self._send_json(200, {})

    def create_tag(self, repo_id: str, revision: str) -> None:
        payload = self._json_body()
        if not payload.get("tag"):
            raise StoreError(400, "A tag name is required.")
        store = self.server.store
        store.create_ref(
            repo_id, "tags", payload["tag"], store.resolve(repo_id, unquote(revision)), payload.get("message")
        )
        self._send_json(200, {})

    def resolve_file(self, repo_id: str, revision: str, path: str) -> None:
        """HEAD gives the metadata ``hf_hub_download`` needs (commit, etag, size); GET streams the bytes."""
        store = self.server.store
        commit = store.resolve(repo_id, unquote(revision))
        entry = next((e for e in store.tree(repo_id, commit) if e.path == unquote(path)), None)
        if entry is None:
            self._send_json(
                404,
                {"error": f"{path} not found at {revision}"},
                {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit},
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(entry.size))
        self.send_header("ETag", f'"{entry.oid}"')
        self.send_header("X-Repo-Commit", commit)
        self.send_header("Accept-Ranges", "none")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(store.read_blob(repo_id, entry.oid))

    def validate_yaml(self) -> None:
        """The client checks README.md metadata before committing it; parse it as the Hub would (a YAML mapping)."""
        content = self._json_body().get("content", "")
        errors = []
        try:
            card = ModelCard(content, ignore_metadata_errors=False)
            if not card.data.to_dict():
                errors.append({"message": "README.md has no YAML metadata."})
        except Exception as exc:  # noqa: BLE001 - any parse error is reported to the client as invalid metadata
            errors.append({"message": f"Invalid YAML metadata: {exc}"})
        self._send_json(400 if errors else 200, {"errors": errors, "warnings": []})

    def delete_branch(self, repo_id: str, branch: str) -> None:
        self.server.store.delete_branch(repo_id, unquote(branch))
        self._send_json(200, {})

    def delete_tag(self, repo_id: str, tag: str) -> None:
        raise StoreError(403, f"Tag {unquote(tag)!r} is immutable on this server.")

    def whoami(self) -> None:
        self._require_write_token()
        self._send_json(200, {"type": "user", "name": "local", "auth": {}})


def _regex_route(regex: str) -> Callable[[str], tuple | None]:
    import re

    compiled = re.compile(regex)

    def match(path: str) -> tuple | None:
        found = compiled.fullmatch(path)
        return None if found is None else tuple(g for g in found.groups() if g is not None)

    return match


_REPO = r"([^/]+/[^/]+)"


def _routes():
    h = HubRequestHandler
    return (
        ("POST", _regex_route(r"/api/repos/create"), h.create_repo),
        ("GET", _regex_route(r"/api/whoami-v2"), h.whoami),
        ("POST", _regex_route(r"/api/validate-yaml"), h.validate_yaml),
        ("GET", _regex_route(rf"/api/models/{_REPO}/refs"), h.list_refs),
        ("GET", _regex_route(rf"/api/models/{_REPO}/tree/([^/]+)(?:/(.*))?"), h.list_tree),
        ("GET", _regex_route(rf"/api/models/{_REPO}/revision/([^/]+)"), h.model_info),
        ("GET", _regex_route(rf"/api/models/{_REPO}"), h.model_info),
        ("POST", _regex_route(rf"/api/models/{_REPO}/preupload/([^/]+)"), h.preupload),
        ("POST", _regex_route(rf"/api/models/{_REPO}/commit/([^/]+)"), h.commit),
        ("POST", _regex_route(rf"/api/models/{_REPO}/branch/([^/]+)"), h.create_branch),
        ("POST", _regex_route(rf"/api/models/{_REPO}/tag/([^/]+)"), h.create_tag),
        ("DELETE", _regex_route(rf"/api/models/{_REPO}/branch/([^/]+)"), h.delete_branch),
        ("DELETE", _regex_route(rf"/api/models/{_REPO}/tag/([^/]+)"), h.delete_tag),
        ("GET", _regex_route(rf"/{_REPO}/resolve/([^/]+)/(.+)"), h.resolve_file),
    )


class LocalHubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, root, host: str = "127.0.0.1", port: int = 0, write_token: str | None = None, verbose: bool = False
    ):
        if not is_loopback(host) and not write_token:
            raise ValueError(f"Refusing to serve on non-loopback address {host!r} without a write token (--token).")
        super().__init__((host, port), HubRequestHandler)
        self.store = GitStore(root)
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
