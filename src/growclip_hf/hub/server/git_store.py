"""Repositories as bare git repositories: branches and tags are the revisions, commits are written atomically.

One ``GitStore`` holds the repositories of one type: ``ROOT/models/ORG/NAME`` or ``ROOT/datasets/ORG/NAME``, the
layout ``olah`` reads as local mirrors, so both servers share one root. File content is served from the blob cache
(``blob_cache.py``), never read whole into memory here.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from .blob_cache import BlobCache
from .errors import StoreError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
_COMMIT_ID = re.compile(r"^[0-9a-f]{7,40}$")
_OID = re.compile(r"^[0-9a-f]{40}$")
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "growclip-hf hub",
    "GIT_AUTHOR_EMAIL": "hub@localhost",
    "GIT_COMMITTER_NAME": "growclip-hf hub",
    "GIT_COMMITTER_EMAIL": "hub@localhost",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_LITERAL_PATHSPECS": "1",  # a path from a request is a path, never a pattern or pathspec magic
}
REPO_TYPES = ("model", "dataset")


@dataclass(frozen=True)
class TreeEntry:
    path: str
    oid: str
    size: int
    kind: str = "file"  # "file" or "directory"


@dataclass(frozen=True)
class CommitInfo:
    oid: str
    date: str  # ISO 8601, UTC
    title: str
    message: str = ""


def validate_repo_id(repo_id: str) -> tuple[str, str]:
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(_NAME.match(p) for p in parts) or ".." in repo_id:
        raise StoreError(400, f"Invalid repo id {repo_id!r}: expected ORG/NAME of letters, digits, '.', '_', '-'.")
    return parts[0], parts[1]


def validate_ref_name(name: str) -> str:
    if not _REF.match(name) or ".." in name or name.endswith((".lock", "/")):
        raise StoreError(400, f"Invalid branch or tag name {name!r}.")
    return name


class GitStore:
    """All repositories of one type under one root; one lock serialises writes so ref updates never race."""

    def __init__(self, root: str | os.PathLike, repo_type: str = "model", blobs: BlobCache | None = None):
        if repo_type not in REPO_TYPES:
            raise ValueError(f"Unknown repository type {repo_type!r}; expected one of {REPO_TYPES}.")
        self.root = Path(root).resolve()
        self.repo_type = repo_type
        self.base = self.root / f"{repo_type}s"
        self.base.mkdir(parents=True, exist_ok=True)
        self.blobs = blobs if blobs is not None else BlobCache(self.root)
        self.write_lock = threading.Lock()
        # Called after a commit's objects are written and before its ref moves: tests inject failures here to
        # prove that a failed commit leaves the revision untouched.
        self.before_ref_update = None

    def path(self, repo_id: str) -> Path:
        org, name = validate_repo_id(repo_id)
        return self.base / org / name

    def exists(self, repo_id: str) -> bool:
        return (self.path(repo_id) / "HEAD").exists()

    def _git(self, repo_id: str, *args: str, data: bytes | None = None, env: dict | None = None) -> bytes:
        run_env = {**os.environ, **_GIT_ENV, **(env or {})}
        proc = subprocess.run(
            ["git", "--git-dir", str(self.path(repo_id)), *args], input=data, capture_output=True, env=run_env
        )
        if proc.returncode != 0:
            raise StoreError(500, f"git {args[0]} failed: {proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout

    def create(self, repo_id: str) -> None:
        """A new repository gets an initial commit on main (as the Hub does) so branches can start from it."""
        if self.exists(repo_id):
            raise StoreError(409, f"Repository {repo_id} already exists.")
        path = self.path(repo_id)
        path.mkdir(parents=True)
        subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", str(path)], check=True, capture_output=True)
        attributes = self.write_blob(repo_id, b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n")
        self.commit(repo_id, "main", {".gitattributes": attributes}, [], "initial commit", None)

    def require(self, repo_id: str) -> None:
        if not self.exists(repo_id):
            raise StoreError(404, f"Repository {repo_id} not found.", "RepoNotFound")

    def resolve(self, repo_id: str, revision: str) -> str:
        """A branch, tag or (abbreviated) commit id to a commit id; 404 RevisionNotFound when it names nothing."""
        self.require(repo_id)
        candidates = []
        if _REF.match(revision) and ".." not in revision:
            candidates += [f"refs/heads/{revision}", f"refs/tags/{revision}"]
        if _COMMIT_ID.match(revision):
            candidates.append(revision)
        for candidate in candidates:
            proc = subprocess.run(
                [
                    "git",
                    "--git-dir",
                    str(self.path(repo_id)),
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    candidate + "^{commit}",
                ],
                capture_output=True,
            )
            if proc.returncode == 0:
                return proc.stdout.decode().strip()
        raise StoreError(404, f"Revision {revision!r} not found in {repo_id}.", "RevisionNotFound")

    def tree(self, repo_id: str, commit: str, with_dirs: bool = False) -> list[TreeEntry]:
        """Every file of a commit (and, with ``with_dirs``, every folder, size 0), in git's path order."""
        args = ["ls-tree", "-r", "-l", "-z"] + (["-t"] if with_dirs else []) + [commit]
        return _parse_ls_tree(self._git(repo_id, *args))

    def entry(self, repo_id: str, commit: str, path: str) -> TreeEntry | None:
        """The file or folder at ``path`` in a commit, or None."""
        path = path.strip("/")
        try:
            check_path(path)
        except StoreError:
            return None
        found = [
            e for e in _parse_ls_tree(self._git(repo_id, "ls-tree", "-l", "-z", commit, "--", path)) if e.path == path
        ]
        return found[0] if found else None

    def open_blob(self, repo_id: str, entry: TreeEntry) -> BinaryIO:
        """A seekable file with the blob's bytes, from the blob cache (materialised from git on first use)."""
        return self.blobs.open(entry.oid, entry.size, lambda out: self.cat_blob(repo_id, entry.oid, out))

    def cat_blob(self, repo_id: str, oid: str, out: BinaryIO) -> None:
        """Stream a blob's bytes from git straight into ``out`` (a real file): nothing passes through Python."""
        proc = subprocess.run(
            ["git", "--git-dir", str(self.path(repo_id)), "cat-file", "blob", oid],
            stdout=out,
            stderr=subprocess.PIPE,
            env={**os.environ, **_GIT_ENV},
        )
        if proc.returncode != 0:
            raise StoreError(500, f"git cat-file failed: {proc.stderr.decode(errors='replace').strip()}")

    def write_blob(self, repo_id: str, data: bytes) -> str:
        """Store small content (the initial .gitattributes) as a blob; returns its oid."""
        return self._git(repo_id, "hash-object", "-w", "--no-filters", "--stdin", data=data).decode().strip()

    def write_blob_file(self, repo_id: str, path: Path) -> str:
        """Store a file's content as a blob (git reads it from disk); the file then moves into the blob cache."""
        oid = self._git(repo_id, "hash-object", "-w", "--no-filters", "--", str(path)).decode().strip()
        self.blobs.adopt(path, oid)
        return oid

    def refs(self, repo_id: str) -> dict[str, list[tuple[str, str]]]:
        self.require(repo_id)
        out = self._git(repo_id, "for-each-ref", "--format=%(refname)%00%(objectname)%00%(*objectname)").decode()
        result: dict[str, list[tuple[str, str]]] = {"branches": [], "tags": []}
        for line in filter(None, out.splitlines()):
            ref, oid, peeled = line.split("\0")
            if ref.startswith("refs/heads/"):
                result["branches"].append((ref[len("refs/heads/") :], oid))
            elif ref.startswith("refs/tags/"):
                result["tags"].append((ref[len("refs/tags/") :], peeled or oid))
        return result

    def dates(self, repo_id: str, commit: str) -> tuple[str, str]:
        """When the history of ``commit`` began and when ``commit`` was made (ISO 8601, UTC)."""
        stamps = self._git(repo_id, "log", "--format=%ct", commit).split()
        return _iso(stamps[-1].decode()), _iso(stamps[0].decode())

    def history(self, repo_id: str, commit: str) -> list[CommitInfo]:
        """The commits reachable from ``commit``, newest first."""
        out = self._git(repo_id, "log", "--format=%H%x1f%ct%x1f%s%x1f%B%x1e", commit).decode(errors="replace")
        rows = [r.strip("\n").split("\x1f", 3) for r in out.split("\x1e") if r.strip()]
        return [CommitInfo(oid, _iso(stamp), title, body.rstrip("\n")) for oid, stamp, title, body in rows]

    def last_commits(self, repo_id: str, commit: str, paths: list[str]) -> dict[str, CommitInfo]:
        """For each file or folder path, the newest commit (from ``commit`` back) that changed something in it."""
        wanted = set(paths)
        found: dict[str, CommitInfo] = {}
        out = self._git(repo_id, "log", "--format=%x1e%H%x1f%ct%x1f%s", "--name-only", "--no-renames", "-z", commit)
        for record in out.decode(errors="replace").split("\x1e"):
            if len(found) == len(wanted):
                break
            if not record:
                continue
            meta, _, names = record.partition("\0")
            oid, stamp, title = meta.split("\x1f", 2)
            info = CommitInfo(oid, _iso(stamp), title)
            for name in filter(None, names.lstrip("\n").split("\0")):
                parts = name.split("/")
                for i in range(1, len(parts) + 1):
                    prefix = "/".join(parts[:i])
                    if prefix in wanted and prefix not in found:
                        found[prefix] = info
        return found

    def create_ref(self, repo_id: str, kind: str, name: str, commit: str, message: str | None = None) -> None:
        """Branches and tags are created once; an existing name is a 409, so tags stay immutable."""
        validate_ref_name(name)
        ref = f"refs/{kind}/{name}"
        with self.write_lock:
            if self._ref_exists(repo_id, ref):
                raise StoreError(409, f"{'Branch' if kind == 'heads' else 'Tag'} {name!r} already exists.")
            if kind == "tags" and message:
                oid = self._git(repo_id, "mktag", data=self._tag_object(commit, name, message)).decode().strip()
            else:
                oid = commit
            self._git(repo_id, "update-ref", ref, oid, "0" * 40)

    def delete_branch(self, repo_id: str, name: str) -> None:
        """Branches can go (a failed push removes the branch it created); tags cannot, they are immutable here."""
        validate_ref_name(name)
        if name == "main":
            raise StoreError(403, "The main branch cannot be deleted.")
        with self.write_lock:
            if not self._ref_exists(repo_id, f"refs/heads/{name}"):
                raise StoreError(404, f"Branch {name!r} not found.", "RevisionNotFound")
            self._git(repo_id, "update-ref", "-d", f"refs/heads/{name}")

    def _tag_object(self, commit: str, name: str, message: str) -> bytes:
        return (
            f"object {commit}\ntype commit\ntag {name}\ntagger growclip-hf hub <hub@localhost> 0 +0000\n\n{message}\n"
        ).encode()

    def _ref_exists(self, repo_id: str, ref: str) -> bool:
        proc = subprocess.run(
            ["git", "--git-dir", str(self.path(repo_id)), "show-ref", "--verify", "--quiet", ref], capture_output=True
        )
        return proc.returncode == 0

    def commit(
        self,
        repo_id: str,
        branch: str,
        additions: dict[str, str],
        deletions: list[str],
        message: str,
        parent_commit: str | None,
    ) -> str:
        """Commit blobs already written (``additions``: path -> blob oid) and deletions on top of ``branch``.

        The tree is built in a private index and the branch moves with one compare-and-swap ``update-ref``; until
        that last step nothing is visible, so a failure at any point leaves the revision as it was.
        """
        validate_ref_name(branch)
        ref = f"refs/heads/{branch}"
        with self.write_lock, tempfile.TemporaryDirectory() as tmp:
            # A private index (and an empty work tree git insists on) keeps the staged tree invisible to readers.
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_WORK_TREE": tmp}
            head = (
                self._git(repo_id, "rev-parse", "--verify", "--quiet", ref).decode().strip()
                if self._ref_exists(repo_id, ref)
                else None
            )
            if parent_commit is not None and parent_commit != head:
                raise StoreError(412, f"Parent commit {parent_commit} is not the head of {branch} ({head}).")
            if head:
                self._git(repo_id, "read-tree", head, env=env)
            known = {entry.path for entry in self.tree(repo_id, head)} if head else set()
            for path in deletions:
                check_path(path.rstrip("/"))
                prefix = path.rstrip("/") + "/"
                doomed = [p for p in known if p == path or p.startswith(prefix)]
                if not doomed:
                    raise StoreError(404, f"Cannot delete {path!r}: not in {branch}.", "EntryNotFound")
                self._git(repo_id, "update-index", "--force-remove", "--", *doomed, env=env)
            for path, oid in additions.items():
                check_path(path)
                if not _OID.match(oid):
                    raise StoreError(500, f"Not a blob id: {oid!r}.")
                self._git(repo_id, "update-index", "--add", "--cacheinfo", f"100644,{oid},{path}", env=env)
            tree = self._git(repo_id, "write-tree", env=env).decode().strip()
            args = ["commit-tree", tree, "-m", message] + (["-p", head] if head else [])
            commit = self._git(repo_id, *args).decode().strip()
            if self.before_ref_update is not None:
                self.before_ref_update(repo_id, branch, commit)
            self._git(repo_id, "update-ref", ref, commit, head or "0" * 40)
            return commit


def _iso(unix_time: str) -> str:
    """The Hub's date format (UTC, milliseconds, ``Z``), which huggingface_hub parses."""
    return datetime.fromtimestamp(int(unix_time), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _parse_ls_tree(out: bytes) -> list[TreeEntry]:
    entries = []
    for line in filter(None, out.decode().split("\0")):
        meta, path = line.split("\t", 1)
        _mode, kind, oid, size = meta.split()
        if kind == "tree":
            entries.append(TreeEntry(path, oid, 0, "directory"))
        elif kind == "blob":
            entries.append(TreeEntry(path, oid, int(size)))
    return entries


def check_path(path: str) -> None:
    """A repository file path: relative, no empty, '.', '..' or '.git' component."""
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts):
        raise StoreError(400, f"Invalid file path {path!r}.")
