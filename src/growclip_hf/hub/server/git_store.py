"""Repositories as bare git repositories: branches and tags are the revisions, commits are written atomically.

The layout ``ROOT/models/ORG/NAME`` is the one ``olah`` reads as local mirrors, so both servers share one store.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "growclip-hf hub",
    "GIT_AUTHOR_EMAIL": "hub@localhost",
    "GIT_COMMITTER_NAME": "growclip-hf hub",
    "GIT_COMMITTER_EMAIL": "hub@localhost",
    "GIT_CONFIG_NOSYSTEM": "1",
}


class StoreError(Exception):
    """A request the store refuses; ``status`` is the HTTP status the server answers with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class TreeEntry:
    path: str
    oid: str
    size: int


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
    """All repositories under one root; one lock serialises writes so ref updates never race."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.write_lock = threading.Lock()
        # Called after a commit's objects are written and before its ref moves: tests inject failures here to
        # prove that a failed commit leaves the revision untouched.
        self.before_ref_update = None

    def path(self, repo_id: str) -> Path:
        org, name = validate_repo_id(repo_id)
        return self.root / "models" / org / name

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
        self.commit(
            repo_id,
            "main",
            {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"},
            [],
            "initial commit",
            None,
        )

    def require(self, repo_id: str) -> None:
        if not self.exists(repo_id):
            raise StoreError(404, f"Repository {repo_id} not found.")

    def resolve(self, repo_id: str, revision: str) -> str:
        """A branch, tag or full commit id to a commit id; 404 when it names nothing."""
        self.require(repo_id)
        for candidate in (f"refs/heads/{revision}", f"refs/tags/{revision}", revision):
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
        raise StoreError(404, f"Revision {revision!r} not found in {repo_id}.")

    def tree(self, repo_id: str, commit: str) -> list[TreeEntry]:
        out = self._git(repo_id, "ls-tree", "-r", "-l", "-z", commit).decode()
        entries = []
        for line in filter(None, out.split("\0")):
            meta, path = line.split("\t", 1)
            _mode, _kind, oid, size = meta.split()
            entries.append(TreeEntry(path, oid, int(size)))
        return entries

    def read_blob(self, repo_id: str, oid: str) -> bytes:
        return self._git(repo_id, "cat-file", "blob", oid)

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
                raise StoreError(404, f"Branch {name!r} not found.")
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
        additions: dict[str, bytes],
        deletions: list[str],
        message: str,
        parent_commit: str | None,
    ) -> str:
        """Write blobs and a tree in a private index, then move the branch with one compare-and-swap ``update-ref``.

        Until that last step nothing is visible, so a failure at any point leaves the revision as it was.
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
                _check_path(path.rstrip("/"))
                prefix = path.rstrip("/") + "/"
                doomed = [p for p in known if p == path or p.startswith(prefix)]
                if not doomed:
                    raise StoreError(404, f"Cannot delete {path!r}: not in {branch}.")
                self._git(repo_id, "update-index", "--force-remove", "--", *doomed, env=env)
            for path, content in additions.items():
                _check_path(path)
                oid = self._git(repo_id, "hash-object", "-w", "--stdin", data=content).decode().strip()
                self._git(repo_id, "update-index", "--add", "--cacheinfo", f"100644,{oid},{path}", env=env)
            tree = self._git(repo_id, "write-tree", env=env).decode().strip()
            args = ["commit-tree", tree, "-m", message] + (["-p", head] if head else [])
            commit = self._git(repo_id, *args).decode().strip()
            if self.before_ref_update is not None:
                self.before_ref_update(repo_id, branch, commit)
            self._git(repo_id, "update-ref", ref, commit, head or "0" * 40)
            return commit


def _check_path(path: str) -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts):
        raise StoreError(400, f"Invalid file path {path!r}.")
