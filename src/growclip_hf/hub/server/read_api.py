"""Read endpoints of the local Hub, for every repository type: info, refs, tree, paths-info, commits, file bytes.

Answers follow the Hub's JSON shapes (what ``HfApi``, ``HfFileSystem`` and ``datasets`` parse) and its error codes
(``X-Error-Code: RepoNotFound | RevisionNotFound | EntryNotFound``, which huggingface_hub maps to its exceptions).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import yaml

from .blob_cache import copy_range
from .errors import StoreError
from .git_store import TreeEntry
from .ranges import RangeNotSatisfiable, parse_range

_CARD_LIMIT = 1 << 20  # README.md front matter is parsed for `cardData` when the card is at most this big


class ReadEndpoints:
    """Mixed into the request handler: ``self.repo_store(kind)``, ``self.query`` and the send helpers come from it."""

    def repo_info(self, kind: str, repo: str, revision: str = "main") -> None:
        store = self.repo_store(kind)
        commit = store.resolve(repo, revision)
        files = store.tree(repo, commit)
        created, modified = store.dates(repo, commit)
        info = {
            "id": repo,
            "author": repo.split("/")[0],
            "sha": commit,
            "createdAt": created,
            "lastModified": modified,
            "private": False,
            "disabled": False,
            "gated": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": [{"rfilename": e.path, "size": e.size, "blobId": e.oid} for e in files],
            "usedStorage": sum(e.size for e in files),
        }
        card = self._card_data(store, repo, files)
        if card is not None:
            info["cardData"] = card
        if store.repo_type == "model":
            info.update(modelId=repo, library_name="transformers")
        expand = self.query.get("expand", []) + self.query.get("expand[]", [])
        if expand:  # the Hub then answers the id and the requested properties only
            info = {"id": repo, **{key: info[key] for key in expand if key in info}}
        self.send_json(200, info)

    def list_refs(self, kind: str, repo: str) -> None:
        refs = self.repo_store(kind).refs(repo)

        def rows(kind: str, prefix: str) -> list[dict]:
            return [{"name": n, "ref": f"{prefix}{n}", "targetCommit": oid} for n, oid in refs[kind]]

        self.send_json(
            200, {"branches": rows("branches", "refs/heads/"), "tags": rows("tags", "refs/tags/"), "converts": []}
        )

    def list_tree(self, kind: str, repo: str, revision: str, path: str = "") -> None:
        """``?recursive=`` lists the whole sub-tree, ``?expand=`` adds each entry's last commit; folders first."""
        store = self.repo_store(kind)
        commit = store.resolve(repo, revision)
        entries = store.tree(repo, commit, with_dirs=True)
        prefix = path.strip("/")
        if prefix:
            target = next((e for e in entries if e.path == prefix), None)
            if target is None:
                raise StoreError(404, f"{prefix!r} not found at {revision}.", "EntryNotFound")
            entries = [target] if target.kind == "file" else [e for e in entries if e.path.startswith(prefix + "/")]
        if not self._flag("recursive"):
            depth = prefix.count("/") + 1 if prefix else 0
            entries = [e for e in entries if e.path.count("/") == depth or e.path == prefix]
        entries.sort(key=lambda e: (e.kind != "directory", e.path))
        self.send_json(200, self._rows(store, repo, commit, entries, self._flag("expand")))

    def paths_info(self, kind: str, repo: str, revision: str) -> None:
        """``POST paths-info``: the entries (files or folders) among ``paths`` that exist; others are left out."""
        store = self.repo_store(kind)
        raw = self.read_body()
        if "json" in (self.headers.get("Content-Type") or ""):
            payload = json.loads(raw or b"{}")
            paths, expand = payload.get("paths", []), bool(payload.get("expand"))
        else:
            form = parse_qs(raw.decode(), keep_blank_values=True)
            paths, expand = form.get("paths", []), _true(form.get("expand", ["false"])[-1])
        commit = store.resolve(repo, revision)
        by_path = {e.path: e for e in store.tree(repo, commit, with_dirs=True)}
        entries = [by_path[p.strip("/")] for p in dict.fromkeys(paths) if p.strip("/") in by_path]
        self.send_json(200, self._rows(store, repo, commit, entries, expand))

    def list_commits(self, kind: str, repo: str, revision: str) -> None:
        store = self.repo_store(kind)
        formatted = "formatted" in self.query.get("expand[]", []) + self.query.get("expand", [])
        rows = []
        for info in store.history(repo, store.resolve(repo, revision)):
            row = {
                "id": info.oid,
                "title": info.title,
                "message": info.message,
                "date": info.date,
                "authors": [{"user": "growclip-hf hub"}],
            }
            if formatted:
                row["formatted"] = {"title": info.title, "message": info.message}
            rows.append(row)
        self.send_json(200, rows)

    def no_parquet_export(self, kind: str, repo: str, **_) -> None:
        """The Hub's dataset viewer converts datasets to parquet; this server does not, and says so as the Hub does."""
        self.repo_store(kind).require(repo)
        raise StoreError(404, f"No parquet export of {repo} on this server (it runs no dataset viewer).")

    def resolve_file(self, repo: str, revision: str, path: str, kind: str = "models") -> None:
        """HEAD: the metadata ``hf_hub_download`` needs; GET: the bytes, or one byte range, streamed in chunks."""
        store = self.repo_store(kind)
        commit = store.resolve(repo, revision)
        entry = store.entry(repo, commit, path)
        if entry is None or entry.kind != "file":
            self.send_json(
                404,
                {"error": f"{path} not found at {revision}"},
                {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found", "X-Repo-Commit": commit},
            )
            return
        headers = {
            "Content-Type": "application/octet-stream",
            "ETag": f'"{entry.oid}"',
            "X-Repo-Commit": commit,
            "Accept-Ranges": "bytes",
        }
        try:
            span = parse_range(self.headers.get("Range"), entry.size)
        except RangeNotSatisfiable as exc:
            self.send_json(416, {"error": str(exc)}, {**headers, "Content-Range": f"bytes */{entry.size}"})
            return
        first, last = span if span is not None else (0, entry.size - 1)
        if span is not None:
            headers["Content-Range"] = f"bytes {first}-{last}/{entry.size}"
        if self.command == "HEAD":
            self.send_head(206 if span else 200, last - first + 1, headers)
            return
        with store.open_blob(repo, entry) as blob:  # opened before any header goes out: errors still answer cleanly
            self.send_head(206 if span else 200, last - first + 1, headers)
            copy_range(blob, first, last - first + 1, self.wfile.write)

    # -- helpers --------------------------------------------------------------------------------------------------
    def _flag(self, name: str) -> bool:
        return _true(self.query.get(name, ["false"])[-1])

    def _rows(self, store, repo: str, commit: str, entries: list[TreeEntry], expand: bool) -> list[dict]:
        rows = [{"type": e.kind, "oid": e.oid, "size": e.size, "path": e.path} for e in entries]
        if expand:
            last = store.last_commits(repo, commit, [e.path for e in entries])
            for row in rows:
                info = last.get(row["path"])
                if info is not None:
                    row["lastCommit"] = {"id": info.oid, "title": info.title, "date": info.date}
        return rows

    def _card_data(self, store, repo: str, files: list[TreeEntry]) -> dict | None:
        """The YAML front matter of README.md, as the Hub's ``cardData``."""
        readme = next((e for e in files if e.path == "README.md"), None)
        if readme is None or readme.size > _CARD_LIMIT:
            return None
        with store.open_blob(repo, readme) as handle:
            text = handle.read().decode("utf-8", errors="replace")
        if not text.startswith("---"):
            return None
        front, sep, _ = text[3:].partition("\n---")
        try:
            data = yaml.safe_load(front) if sep else None
        except yaml.YAMLError:
            return None
        return data if isinstance(data, dict) else None


def _true(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes")
