"""The local Hub server through the real huggingface_hub client: refs, commits, atomicity, retries, tokens."""

import base64
import http.client
import json
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

from growclip_hf.cli import main
from growclip_hf.hub.retry import with_retries
from growclip_hf.hub.server.app import LocalHubServer, serve_in_thread
from growclip_hf.hub.server.git_store import StoreError

from .hub_helpers import allow_loopback_hub


@pytest.fixture
def hub(tmp_path, monkeypatch):
    server = LocalHubServer(tmp_path / "root")
    url, stop = serve_in_thread(server)
    allow_loopback_hub(monkeypatch, url)
    yield server, HfApi(endpoint=url, token="unused")
    stop()


def test_commit_branch_tag_and_download(hub, tmp_path):
    server, api = hub
    api.create_repo("org/m")
    api.create_repo("org/m", exist_ok=True)
    api.create_branch("org/m", branch="dev")
    first = api.create_commit(
        "org/m",
        [CommitOperationAdd("a.txt", b"one"), CommitOperationAdd("dir/b.bin", b"\0" * 64)],
        commit_message="c1",
        revision="dev",
    )
    api.create_tag("org/m", tag="dev-v1", revision="dev")
    second = api.create_commit(
        "org/m",
        [CommitOperationAdd("a.txt", b"two"), CommitOperationDelete("dir/")],
        commit_message="c2",
        revision="dev",
    )
    refs = api.list_repo_refs("org/m")
    assert {b.name: b.target_commit for b in refs.branches}["dev"] == second.oid
    assert {t.name: t.target_commit for t in refs.tags} == {"dev-v1": first.oid}
    assert sorted(api.list_repo_files("org/m", revision="dev-v1")) == [".gitattributes", "a.txt", "dir/b.bin"]
    assert sorted(api.list_repo_files("org/m", revision="dev")) == [".gitattributes", "a.txt"]
    assert "a.txt" not in api.list_repo_files("org/m")  # main untouched
    assert api.model_info("org/m", revision="dev-v1").sha == first.oid
    old = hf_hub_download("org/m", "a.txt", revision="dev-v1", cache_dir=tmp_path / "c", endpoint=api.endpoint)
    new = hf_hub_download("org/m", "a.txt", revision="dev", cache_dir=tmp_path / "c", endpoint=api.endpoint)
    assert Path(old).read_bytes() == b"one" and Path(new).read_bytes() == b"two"
    with pytest.raises(HfHubHTTPError) as info:
        api.create_tag("org/m", tag="dev-v1", revision="dev")
    assert info.value.response.status_code == 409
    with pytest.raises(HfHubHTTPError):
        api.delete_tag("org/m", tag="dev-v1")


def test_failed_commit_leaves_revision_untouched(hub):
    server, api = hub
    api.create_repo("org/m")
    before = api.create_commit("org/m", [CommitOperationAdd("a.txt", b"kept")], commit_message="c1").oid

    def fail(repo_id, branch, commit):
        raise StoreError(500, "disk full (injected)")

    server.store.before_ref_update = fail
    with pytest.raises(HfHubHTTPError):
        api.create_commit(
            "org/m", [CommitOperationAdd("a.txt", b"lost"), CommitOperationAdd("b.txt", b"x")], commit_message="c2"
        )
    assert api.model_info("org/m").sha == before
    assert sorted(api.list_repo_files("org/m")) == [".gitattributes", "a.txt"]


def test_stale_parent_commit_is_refused(hub):
    server, api = hub
    api.create_repo("org/m")
    parent = api.model_info("org/m").sha
    api.create_commit("org/m", [CommitOperationAdd("a.txt", b"1")], commit_message="c1")
    with pytest.raises(HfHubHTTPError) as info:
        api.create_commit("org/m", [CommitOperationAdd("a.txt", b"2")], commit_message="c2", parent_commit=parent)
    assert info.value.response.status_code == 412


def test_transient_errors_are_retried(hub):
    server, api = hub
    failures = {"left": 2}

    def flaky(method, path):
        if path == "/api/repos/create" and failures["left"]:
            failures["left"] -= 1
            raise StoreError(503, "try later (injected)")

    server.request_hook = flaky
    with_retries(lambda: api.create_repo("org/m"), "create_repo", base_delay=0.01)
    assert failures["left"] == 0 and api.model_info("org/m").sha
    with pytest.raises(HfHubHTTPError):  # a 404 is not transient: raised at once
        with_retries(lambda: api.model_info("org/missing"), "model_info", base_delay=0.01)


def test_bad_names_are_rejected(hub):
    server, api = hub
    request = urllib.request.Request(
        f"{api.endpoint}/api/repos/create",
        data=json.dumps({"name": "..", "organization": "org"}).encode(),
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as info:  # the client validates names too; the server must on its own
        urllib.request.urlopen(request)
    assert info.value.code == 400 and "Invalid repo id" in info.value.read().decode()
    api.create_repo("org/m")
    with pytest.raises((HfHubHTTPError, ValueError)):
        api.create_commit("org/m", [CommitOperationAdd("../escape.txt", b"x")], commit_message="bad")
    with pytest.raises(HfHubHTTPError) as info:
        api.list_repo_files("org/m", revision="no-such-branch")
    assert info.value.response.status_code == 404


def test_write_token_is_enforced(tmp_path, monkeypatch):
    server = LocalHubServer(tmp_path / "root", write_token="s3cret-token")
    url, stop = serve_in_thread(server)
    allow_loopback_hub(monkeypatch, url)
    try:
        with pytest.raises(HfHubHTTPError) as info:
            HfApi(endpoint=url, token="wrong").create_repo("org/m")
        assert info.value.response.status_code == 401
        HfApi(endpoint=url, token="s3cret-token").create_repo("org/m")
        assert HfApi(endpoint=url, token=False).list_repo_files("org/m") == [".gitattributes"]  # reads stay open
    finally:
        stop()
    assert not any(b"s3cret-token" in p.read_bytes() for p in (tmp_path / "root").rglob("*") if p.is_file())


def test_non_loopback_needs_a_token(tmp_path, capsys):
    with pytest.raises(ValueError, match="without a write token"):
        LocalHubServer(tmp_path, host="0.0.0.0")
    assert main(["hub", "serve", "--root", str(tmp_path), "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "without a write token" in capsys.readouterr().err


def test_commit_body_is_parsed_as_it_streams_and_errors_keep_the_connection(hub, tmp_path):
    server, api = hub
    api.create_repo("org/m")
    url = urlsplit(api.endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)  # one keep-alive connection throughout

    def post(lines: list[dict]) -> tuple[int, bytes]:
        body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
        conn.request(
            "POST", "/api/models/org/m/commit/main", body=body, headers={"Content-Type": "application/x-ndjson"}
        )
        response = conn.getresponse()
        return response.status, response.read()

    header = {"key": "header", "value": {"summary": "s", "description": 'quotes "content": "not a file"'}}
    content = bytes(range(256)) * 1000  # its base64 spans several reads of the body
    file = {
        "key": "file",
        "value": {"content": base64.b64encode(content).decode(), "path": "x.bin", "encoding": "base64"},
    }
    assert post([header, file])[0] == 200
    assert (
        Path(hf_hub_download("org/m", "x.bin", cache_dir=tmp_path / "c", endpoint=api.endpoint)).read_bytes() == content
    )
    assert api.list_repo_commits("org/m")[0].message.endswith('quotes "content": "not a file"')
    bad_files = [
        {"content": "@@@@", "path": "y.bin"},  # not base64
        {"content": "QQ", "path": "y.bin"},  # truncated base64
        {"content": "QUFB", "path": "../y.bin"},  # a path outside the repository
        {"content": "QUFB", "path": "y.bin", "encoding": "hex"},
    ]
    for value in bad_files:
        status, answer = post([header, {"key": "file", "value": value}])
        assert status == 400, (value, answer)
    assert post([{"key": "file", "value": {"content": "QUFB", "path": "y.bin"}}])[0] == 400  # no header line
    conn.request("GET", "/api/models/org/m")  # the connection is still in step after every refusal
    response = conn.getresponse()
    assert response.status == 200 and "y.bin" not in response.read().decode()
    conn.close()


def test_missing_repository_and_revision_raise_the_hub_exceptions(hub):
    server, api = hub
    api.create_repo("org/m")
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("org/missing")
    with pytest.raises(RevisionNotFoundError):
        api.model_info("org/m", revision="no-such-branch")
    assert not api.revision_exists("org/m", "--output=x") and api.revision_exists("org/m", "main")
