"""The request body, read as it arrives; and the commit payload parsed from it without holding file content.

huggingface_hub sends a commit as ndjson lines ``{"key": "file", "value": {"content": "<base64>", "path": ...}}``.
A file's base64 content is decoded in chunks straight to disk while the line is still arriving; only the small JSON
around it is parsed as JSON. So an upload occupies a few chunks of memory on the server, whatever its size.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from .errors import StoreError

READ_SIZE = 64 * 1024
LINE_LIMIT = 1 << 20  # the JSON of one line around its file content, or one whole line without content
_CONTENT = re.compile(rb'"content"\s*:\s*"')


class BodyReader:
    """At most ``length`` bytes (the Content-Length) of ``raw``, in chunks, with a push-back buffer."""

    def __init__(self, raw: BinaryIO, length: int):
        self.raw = raw
        self.left = length
        self.pending = b""

    def read_chunk(self) -> bytes:
        if self.pending:
            chunk, self.pending = self.pending, b""
            return chunk
        if self.left <= 0:
            return b""
        chunk = self.raw.read(min(READ_SIZE, self.left))
        if not chunk:
            self.left = 0
            raise StoreError(400, "The request body ended before its Content-Length.")
        self.left -= len(chunk)
        return chunk

    def unread(self, data: bytes) -> None:
        self.pending = bytes(data) + self.pending

    def read_all(self, limit: int) -> bytes:
        """The whole (small) body: JSON and form requests."""
        if self.left > limit:
            raise StoreError(413, f"Request body over {limit} bytes.")
        parts = []
        while chunk := self.read_chunk():
            parts.append(chunk)
        return b"".join(parts)

    def drain(self) -> None:
        """Discard what the handler did not read, so the keep-alive connection stays in step."""
        self.pending = b""
        while self.left > 0:
            chunk = self.raw.read(min(READ_SIZE, self.left))
            if not chunk:
                break
            self.left -= len(chunk)


@dataclass
class CommitRequest:
    header: dict | None = None
    additions: dict[str, str] = field(default_factory=dict)  # path -> blob oid
    deletions: list[str] = field(default_factory=list)


def read_commit(body: BodyReader, save_blob: Callable[[Iterator[bytes]], str]) -> CommitRequest:
    """Parse the ndjson commit payload; ``save_blob(chunks) -> oid`` stores each file's decoded content."""
    commit = CommitRequest()
    while True:
        head, at_content = _read_head(body, find_content=True)
        if head is None:
            return commit
        if at_content:
            oid = save_blob(_decode_base64(body))
            tail, _ = _read_head(body, find_content=False)
            item = _parse_line(head + b'"' + (tail or b""))  # the content, already stored, parses as ""
            value = item["value"] if item["key"] == "file" else {}
            if value.get("content") != "":
                raise StoreError(400, "A 'content' field is only accepted in the value of a 'file' line.")
            _add_file(commit, value, oid)
            continue
        if not head.strip():
            continue
        item = _parse_line(head)
        key, value = item.get("key"), item.get("value")
        if key == "header":
            commit.header = value
        elif key in ("deletedFile", "deletedFolder"):
            commit.deletions.append(value["path"])
        elif key == "lfsFile":
            raise StoreError(400, "LFS pointers are not accepted: preupload answers 'regular' for every file.")
        elif key == "file":
            raise StoreError(400, "A 'file' line needs base64 'content'.")
        else:
            raise StoreError(400, f"Unsupported commit operation {key!r}.")


def _add_file(commit: CommitRequest, value: dict, oid: str) -> None:
    if value.get("encoding", "base64") != "base64":
        raise StoreError(400, "Only base64-encoded file content is supported.")
    if not isinstance(value.get("path"), str):
        raise StoreError(400, "A 'file' line needs a 'path'.")
    commit.additions[value["path"]] = oid


def _parse_line(text: bytes) -> dict:
    try:
        item = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise StoreError(400, "Commit payload must be ndjson lines of {key, value}.") from None
    if not isinstance(item, dict) or "key" not in item or "value" not in item:
        raise StoreError(400, "Commit payload must be ndjson lines of {key, value}.")
    if not isinstance(item["value"], dict):
        raise StoreError(400, f"The value of a {item['key']!r} line must be an object.")
    return item


def _read_head(body: BodyReader, find_content: bool) -> tuple[bytes | None, bool]:
    """Up to the end of the line (False) or just past the opening quote of a ``"content"`` string (True)."""
    buffer = bytearray()
    while True:
        newline = buffer.find(b"\n")
        marker = _find_content(buffer) if find_content else None
        if marker is not None and (newline == -1 or marker < newline):
            body.unread(buffer[marker:])
            return bytes(buffer[:marker]), True
        if newline != -1:
            body.unread(buffer[newline + 1 :])
            return bytes(buffer[:newline]), False
        if len(buffer) > LINE_LIMIT:
            raise StoreError(413, f"A commit line has over {LINE_LIMIT} bytes of JSON outside its file content.")
        chunk = body.read_chunk()
        if not chunk:
            return (bytes(buffer), False) if buffer else (None, False)
        buffer += chunk


def _find_content(buffer: bytearray) -> int | None:
    """The offset just past ``"content": "`` where that is a key (its opening quote not escaped), or None."""
    for match in _CONTENT.finditer(buffer):
        backslashes = 0
        while match.start() - backslashes - 1 >= 0 and buffer[match.start() - backslashes - 1] == ord("\\"):
            backslashes += 1
        if backslashes % 2 == 0:
            return match.end()
    return None


def _decode_base64(body: BodyReader) -> Iterator[bytes]:
    """Decoded bytes of the JSON string being read, up to its closing quote, a chunk at a time."""
    carry = b""
    while True:
        chunk = body.read_chunk()
        if not chunk:
            raise StoreError(400, "The request body ended inside a file's content.")
        end = chunk.find(b'"')
        data = chunk if end == -1 else chunk[:end]
        if b"\\" in data:
            raise StoreError(400, "File content must be plain base64 (no JSON escapes).")
        carry += data
        usable = len(carry) - len(carry) % 4
        if usable:
            try:
                yield base64.b64decode(carry[:usable], validate=True)
            except binascii.Error as exc:
                raise StoreError(400, f"File content is not valid base64: {exc}") from None
            carry = carry[usable:]
        if end != -1:
            body.unread(chunk[end + 1 :])
            if carry:
                raise StoreError(400, "File content is not valid base64 (length is not a multiple of 4).")
            return
