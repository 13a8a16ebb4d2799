"""Dataset repositories on the local Hub, over real HTTP: huggingface_hub uploads them, ``datasets`` streams them.

One dataset repository is published once per module: two parquet shards of real images (scikit-learn digits) with
captions in ``chunk-0/`` and ``chunk-1/``, a README whose ``configs:`` name both, tag ``v1``, then one more shard in
``chunk-1/`` on main. ``datasets.load_dataset(..., streaming=True)`` must read exactly the rows each selection names.
"""

import base64
import hashlib
import http.client
import os
import random
import threading
import time
import tracemalloc
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import huggingface_hub.constants as hub_constants
import numpy as np
import pytest
from huggingface_hub import HfApi, HfFileSystem, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError
from sklearn.datasets import load_digits

from growclip_hf.cli import main
from growclip_hf.hub.loopback import loopback_hub, use_local_hub
from growclip_hf.hub.server import app as server_app
from growclip_hf.hub.server.app import LocalHubServer, serve_in_thread

from .hub_helpers import write_digit_shard
from .run_helpers import free_port

REPO = "org/digits-stream"
README = """---
configs:
- config_name: early
  data_files: chunk-0/*.parquet
- config_name: late
  data_files: chunk-1/*.parquet
---
# Digits stream
Two chunks of handwritten digits with captions.
"""
RANGE_DATA = bytes(range(256)) * 4


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    base = tmp_path_factory.mktemp("hub-datasets")
    upload = base / "upload"
    write_digit_shard(upload / "chunk-0" / "train-00000.parquet", 0, 10)
    write_digit_shard(upload / "chunk-1" / "train-00000.parquet", 10, 16)
    (upload / "README.md").write_text(README)
    late = base / "late" / "train-00001.parquet"
    write_digit_shard(late, 16, 20)
    server = LocalHubServer(base / "root")
    url, stop = serve_in_thread(server)
    with use_local_hub(url):
        api = HfApi(token="unused")  # no endpoint given: the scope made the local Hub the default one
        api.create_repo(REPO, repo_type="dataset")
        api.upload_folder(repo_id=REPO, repo_type="dataset", folder_path=upload, commit_message="two chunks")
        api.upload_file(path_or_fileobj=RANGE_DATA, path_in_repo="ranges.bin", repo_id=REPO, repo_type="dataset")
        api.create_tag(REPO, tag="v1", repo_type="dataset")
        api.upload_file(
            path_or_fileobj=late, path_in_repo="chunk-1/train-00001.parquet", repo_id=REPO, repo_type="dataset"
        )
    yield SimpleNamespace(server=server, url=url, base=base)
    stop()


@pytest.fixture
def hub(published, tmp_path, monkeypatch):
    """The published repository with the local Hub as this process's Hub, and a private download cache."""
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    with use_local_hub(published.url):
        yield SimpleNamespace(**vars(published), api=HfApi(token="unused"), cache=str(tmp_path / "datasets-cache"))


def stream(hub, **kwargs) -> list[dict]:
    import datasets

    return list(datasets.load_dataset(REPO, split="train", streaming=True, cache_dir=hub.cache, **kwargs))


def test_repository_lives_beside_models_with_refs_tree_and_info(hub):
    api, root = hub.api, hub.server.store.root
    assert (root / "datasets" / "org" / "digits-stream" / "HEAD").is_file()
    assert not (root / "models" / "org" / "digits-stream").exists()
    with pytest.raises(RepositoryNotFoundError):  # a dataset id is not a model id
        api.model_info(REPO)
    refs = api.list_repo_refs(REPO, repo_type="dataset")
    tag = {t.name: t.target_commit for t in refs.tags}["v1"]
    main_sha = {b.name: b.target_commit for b in refs.branches}["main"]
    assert tag != main_sha
    assert sorted(api.list_repo_files(REPO, repo_type="dataset", revision="v1")) == [
        ".gitattributes",
        "README.md",
        "chunk-0/train-00000.parquet",
        "chunk-1/train-00000.parquet",
        "ranges.bin",
    ]
    assert "chunk-1/train-00001.parquet" in api.list_repo_files(REPO, repo_type="dataset")
    tree = list(api.list_repo_tree(REPO, "chunk-1", repo_type="dataset", expand=True))
    assert [e.path for e in tree] == ["chunk-1/train-00000.parquet", "chunk-1/train-00001.parquet"]
    assert tree[1].last_commit.oid == main_sha and tree[0].last_commit.oid != main_sha
    info = api.dataset_info(REPO, revision="v1")
    assert info.sha == tag and info.card_data["configs"][0]["config_name"] == "early"
    assert len(info.siblings) == 5
    only_sha = api.dataset_info(REPO, expand=["sha"])
    assert only_sha.sha == main_sha and only_sha.siblings is None
    paths = api.get_paths_info(REPO, ["chunk-0", "ranges.bin", "missing"], repo_type="dataset", revision="v1")
    assert [(type(p).__name__, p.path) for p in paths] == [("RepoFolder", "chunk-0"), ("RepoFile", "ranges.bin")]
    assert [c.commit_id for c in api.list_repo_commits(REPO, repo_type="dataset")][:2] == [main_sha, tag]
    local = hf_hub_download(REPO, "ranges.bin", repo_type="dataset", revision="v1")
    assert Path(local).read_bytes() == RANGE_DATA


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ({"data_dir": "chunk-1"}, list(range(10, 20))),
        ({"data_files": "chunk-0/*.parquet"}, list(range(10))),
        ({"data_dir": "chunk-1", "revision": "v1"}, list(range(10, 16))),
        ({"name": "early"}, list(range(10))),
        ({"name": "late", "revision": "v1"}, list(range(10, 16))),
    ],
    ids=["data_dir", "data_files", "revision-tag", "config", "config-at-tag"],
)
def test_load_dataset_streams_the_selected_rows(hub, selection, expected):
    rows = stream(hub, **selection)
    assert [row["idx"] for row in rows] == expected
    digits = load_digits()
    first = rows[0]
    assert first["text"] == f"a handwritten digit {digits.target[expected[0]]}"
    assert np.array_equal(np.asarray(first["image"]), (digits.images[expected[0]] * 15).astype(np.uint8))


def test_two_ranks_stream_disjoint_shards(hub):
    import datasets
    from datasets.distributed import split_dataset_by_node

    full = datasets.load_dataset(REPO, split="train", streaming=True, data_dir="chunk-1", cache_dir=hub.cache)
    ranks = [[row["idx"] for row in split_dataset_by_node(full, rank=r, world_size=2)] for r in range(2)]
    assert ranks == [list(range(10, 16)), list(range(16, 20))]  # one shard each: 2 shards divide 2 ranks


def _request(conn, method: str, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    conn.request(method, path, headers=headers or {})
    response = conn.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def test_range_requests(hub):
    url = urlsplit(hub.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)  # one keep-alive connection throughout
    path = f"/datasets/{REPO}/resolve/v1/ranges.bin"
    status, headers, body = _request(conn, "HEAD", path)
    assert (status, headers["accept-ranges"], headers["content-length"], body) == (200, "bytes", "1024", b"")
    cases = {
        "bytes=10-19": (10, 19),
        "bytes=1000-": (1000, 1023),
        "bytes=-24": (1000, 1023),
        "bytes=1000-5000": (1000, 1023),
        "bytes=0-0": (0, 0),
    }
    for spec, (first, last) in cases.items():
        status, headers, body = _request(conn, "GET", path, {"Range": spec})
        assert status == 206, spec
        assert headers["content-range"] == f"bytes {first}-{last}/1024", spec
        assert body == RANGE_DATA[first : last + 1], spec
    for spec in ("bytes=1024-", "bytes=20-10", "bytes=-0", "bytes=x-y"):
        status, headers, _ = _request(conn, "GET", path, {"Range": spec})
        assert (status, headers["content-range"]) == (416, "bytes */1024"), spec
    status, _, body = _request(conn, "GET", path, {"Range": "bytes=0-1,5-6"})  # several ranges: the whole file
    assert (status, body) == (200, RANGE_DATA)
    conn.close()
    with HfFileSystem().open(f"datasets/{REPO}@v1/ranges.bin", block_size=16) as handle:
        handle.seek(700)
        assert handle.read(40) == RANGE_DATA[700:740]


def _write_commit_body(path, name: str, size: int) -> tuple[str, bytes]:
    """The ndjson commit payload huggingface_hub sends, written to disk piece by piece.

    Returns the content's sha256 and its last 5 bytes."""
    rng, digest, piece = random.Random(0), hashlib.sha256(), b""
    with open(path, "wb") as out:
        out.write(b'{"key": "header", "value": {"summary": "a large blob", "description": ""}}\n')
        out.write(b'{"key": "file", "value": {"content": "')
        left = size
        while left:
            piece = rng.randbytes(min(3 << 18, left))  # a multiple of 3 bytes: base64 pieces concatenate
            digest.update(piece)
            out.write(base64.b64encode(piece))
            left -= len(piece)
        out.write(f'", "path": "{name}", "encoding": "base64"}}}}\n'.encode())
    return digest.hexdigest(), piece[-5:]


def test_large_blob_is_uploaded_and_served_with_bounded_memory(hub, tmp_path):
    size, budget = 20 << 20, 4 << 20
    body = tmp_path / "commit.ndjson"
    expected, tail = _write_commit_body(body, "big/blob.bin", size)
    hub.api.create_repo("org/big", repo_type="dataset")
    url = urlsplit(hub.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    tracemalloc.start()  # traces every thread: the server's handler threads run in this process
    try:
        with open(body, "rb") as payload:  # http.client sends a file in 8 KiB blocks
            conn.request(
                "POST",
                "/api/datasets/org/big/commit/main",
                body=payload,
                headers={"Content-Type": "application/x-ndjson", "Content-Length": str(body.stat().st_size)},
            )
            response = conn.getresponse()
            assert response.status == 200, response.read()
            response.read()
        upload_peak = tracemalloc.get_traced_memory()[1]
        # Drop the blob cache: the download below materialises the blob from git again, then serves it.
        for cached in (hub.server.store.root / ".cache" / "blobs").rglob("*"):
            if cached.is_file():
                cached.unlink()
        tracemalloc.reset_peak()
        conn.request("GET", "/datasets/org/big/resolve/main/big/blob.bin")
        response = conn.getresponse()
        digest, received = hashlib.sha256(), 0
        while chunk := response.read(1 << 16):
            digest.update(chunk)
            received += len(chunk)
        download_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (response.status, received, digest.hexdigest()) == (200, size, expected)
    assert upload_peak < budget, f"upload held {upload_peak / 2**20:.1f} MiB"
    assert download_peak < budget, f"download held {download_peak / 2**20:.1f} MiB"
    status, headers, part = _request(conn, "GET", "/datasets/org/big/resolve/main/big/blob.bin", {"Range": "bytes=-5"})
    conn.close()
    assert (status, headers["content-range"], part) == (206, f"bytes {size - 5}-{size - 1}/{size}", tail)


def test_missing_things_answer_as_the_hub_does(hub):
    import datasets

    with pytest.raises(datasets.exceptions.DatasetNotFoundError):
        datasets.load_dataset("org/no-such-dataset", split="train", streaming=True, cache_dir=hub.cache)
    with pytest.raises(datasets.exceptions.DatasetNotFoundError, match="Revision"):
        datasets.load_dataset(REPO, split="train", streaming=True, revision="no-such-tag", cache_dir=hub.cache)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(REPO, "missing.txt", repo_type="dataset")
    url = urlsplit(hub.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    status, _, body = _request(conn, "GET", f"/api/datasets/{REPO}/parquet")
    assert status == 404 and b"parquet export" in body  # no dataset viewer here, as for a Hub repo without one
    status, headers, _ = _request(conn, "GET", f"/api/datasets/{REPO}/tree/main/no-such-folder")
    assert (status, headers["x-error-code"]) == (404, "EntryNotFound")
    conn.close()


def test_use_local_hub_switches_and_restores_every_setting(published):
    import datasets.config

    before = (hub_constants.ENDPOINT, hub_constants.HF_HUB_OFFLINE, datasets.config.HF_ENDPOINT)
    env_before = {name: os.environ.get(name) for name in ("HF_ENDPOINT", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    assert hub_constants.HF_HUB_OFFLINE and datasets.config.HF_HUB_OFFLINE  # conftest: offline
    with use_local_hub(published.url + "/"):
        with loopback_hub(published.url):  # publishing nested inside streaming
            pass
        assert hub_constants.ENDPOINT == datasets.config.HF_ENDPOINT == published.url
        assert not hub_constants.HF_HUB_OFFLINE and not datasets.config.HF_HUB_OFFLINE
        assert not datasets.config.USE_PARQUET_EXPORT and not datasets.config.HF_UPDATE_DOWNLOAD_COUNTS
        assert os.environ["HF_ENDPOINT"] == published.url and os.environ["HF_HUB_OFFLINE"] == "0"
        with pytest.raises(ValueError, match="cannot switch"), use_local_hub("http://127.0.0.1:1"):
            pass
    assert before == (hub_constants.ENDPOINT, hub_constants.HF_HUB_OFFLINE, datasets.config.HF_ENDPOINT)
    assert datasets.config.HF_HUB_OFFLINE and datasets.config.USE_PARQUET_EXPORT
    assert {name: os.environ.get(name) for name in env_before} == env_before
    with pytest.raises(ValueError, match="not a loopback"), use_local_hub("http://example.com"):
        pass


def test_hub_serve_command_serves_datasets(tmp_path, monkeypatch):
    started = []

    class Recorded(LocalHubServer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(server_app, "LocalHubServer", Recorded)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    port, result = free_port(), {}
    command = ["hub", "serve", "--root", str(tmp_path / "root"), "--port", str(port)]
    thread = threading.Thread(target=lambda: result.update(rc=main(command)), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        with use_local_hub(f"http://127.0.0.1:{port}"):
            api = HfApi(token="unused")
            assert api.create_repo("org/cli", repo_type="dataset").repo_type == "dataset"
            api.upload_file(
                path_or_fileobj=b"a,b\n1,2\n", path_in_repo="part.csv", repo_id="org/cli", repo_type="dataset"
            )
            assert Path(hf_hub_download("org/cli", "part.csv", repo_type="dataset")).read_bytes() == b"a,b\n1,2\n"
    finally:
        started[0].shutdown()
        thread.join(timeout=10)
    assert result == {"rc": 0}
    assert (tmp_path / "root" / "datasets" / "org" / "cli" / "HEAD").is_file()
