"""Write endpoints of the local Hub, for every repository type: create, preupload, commit, branches, tags."""

from __future__ import annotations

from collections.abc import Iterator

from huggingface_hub import DatasetCard, ModelCard

from .commit_stream import read_commit
from .errors import StoreError
from .git_store import REPO_TYPES


class WriteEndpoints:
    """Mixed into the request handler: ``self.repo_store(kind)``, the body readers and send helpers come from it."""

    def create_repo(self) -> None:
        payload = self.json_body()
        repo_type = payload.get("type") or "model"
        if repo_type not in REPO_TYPES:
            raise StoreError(400, f"Repository type {repo_type!r} is not served here (models and datasets are).")
        name, org = payload.get("name"), payload.get("organization")
        repo_id = f"{org}/{name}" if org else str(name)
        # The url tells the client the repository type (RepoUrl parses it), as on the Hub.
        url = f"{self.server.url}/{repo_id}" if repo_type == "model" else f"{self.server.url}/{repo_type}s/{repo_id}"
        answer = {"url": url, "name": repo_id, "id": repo_id}
        try:
            self.server.stores[repo_type].create(repo_id)
        except StoreError as exc:
            if exc.status != 409:
                raise
            self.send_json(409, {**answer, "error": str(exc)})  # the Hub's answer: exist_ok reads the url from it
            return
        self.send_json(200, answer)

    def preupload(self, kind: str, repo: str, revision: str) -> None:
        """Every file goes up as regular (base64) content in the commit: no LFS or Xet storage to run beside git."""
        store = self.repo_store(kind)
        payload = self.json_body()
        try:
            current = {e.path: e.oid for e in store.tree(repo, store.resolve(repo, revision))}
        except StoreError as exc:
            if exc.status != 404 or not store.exists(repo):
                raise
            current = {}
        files = [
            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": current.get(f["path"])}
            for f in payload.get("files", [])
        ]
        self.send_json(200, {"files": files})

    def commit(self, kind: str, repo: str, revision: str) -> None:
        """The ndjson payload is read as it arrives; each file's content goes to disk, then into git, in chunks."""
        store = self.repo_store(kind)
        store.require(repo)

        def save_blob(chunks: Iterator[bytes]) -> str:
            out, temp = store.blobs.temp_file()
            try:
                with out:
                    for chunk in chunks:
                        out.write(chunk)
                return store.write_blob_file(repo, temp)
            finally:
                temp.unlink(missing_ok=True)

        request = read_commit(self.body, save_blob)
        if request.header is None:
            raise StoreError(400, "Commit payload has no header line.")
        header = request.header
        message = header.get("summary") or "Upload files"
        if header.get("description"):
            message += "\n\n" + header["description"]
        oid = store.commit(repo, revision, request.additions, request.deletions, message, header.get("parentCommit"))
        prefix = "" if store.repo_type == "model" else f"/{store.repo_type}s"
        self.send_json(
            200, {"commitUrl": f"{self.server.url}{prefix}/{repo}/commit/{oid}", "commitOid": oid, "success": True}
        )

    def create_branch(self, kind: str, repo: str, name: str) -> None:
        payload = self.json_body()
        store = self.repo_store(kind)
        start = store.resolve(repo, payload.get("startingPoint") or "main")
        store.create_ref(repo, "heads", name, start)
        self.send_json(200, {})

    def create_tag(self, kind: str, repo: str, revision: str) -> None:
        payload = self.json_body()
        if not payload.get("tag"):
            raise StoreError(400, "A tag name is required.")
        store = self.repo_store(kind)
        store.create_ref(repo, "tags", payload["tag"], store.resolve(repo, revision), payload.get("message"))
        self.send_json(200, {})

    def delete_branch(self, kind: str, repo: str, name: str) -> None:
        self.repo_store(kind).delete_branch(repo, name)
        self.send_json(200, {})

    def delete_tag(self, kind: str, repo: str, name: str) -> None:
        raise StoreError(403, f"Tag {name!r} is immutable on this server.")

    def validate_yaml(self) -> None:
        """The client checks README.md metadata before committing it; parse it as the Hub would (a YAML mapping)."""
        payload = self.json_body()
        card_class = DatasetCard if payload.get("repoType") == "dataset" else ModelCard
        errors = []
        try:
            card = card_class(payload.get("content", ""), ignore_metadata_errors=False)
            if not card.data.to_dict():
                errors.append({"message": "README.md has no YAML metadata."})
        except Exception as exc:  # noqa: BLE001 - any parse error is reported to the client as invalid metadata
            errors.append({"message": f"Invalid YAML metadata: {exc}"})
        self.send_json(400 if errors else 200, {"errors": errors, "warnings": []})

    def whoami(self) -> None:
        self.require_write_token()
        self.send_json(200, {"type": "user", "name": "local", "auth": {}})
