"""Where recordings come from: an inbox folder or any fsspec URL, with per-call metadata.

Metadata is merged from three places, later ones winning: the file name (a configurable regex
with named groups, because real recorders encode agent, call id and start time there), a sidecar
JSON beside the audio (``call.wav`` + ``call.json``), and a CSV manifest row.  Discovery never
raises for one bad file: a manifest row pointing nowhere or a sidecar that is not JSON becomes a
:class:`Rejected` entry, and a file whose size or mtime still changes is skipped until stable.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

import fsspec
from fsspec import AbstractFileSystem

log = logging.getLogger("qm.flows.sources")

AUDIO_EXTENSIONS = frozenset({".wav", ".mp3", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".aac", ".mp4",
                              ".webm", ".wma", ".amr", ".gsm", ".au", ".aiff", ".aif"})
QUARANTINE_DIR = ".quarantine"
DEFAULT_PATTERN = r"(?P<agent_id>[^_/]+)_(?P<call_id>[^_/]+)_(?P<start>\d{8}T\d{6})"
_KNOWN_KEYS = ("agent_id", "call_id", "started_at", "queue", "direction", "agent_channel")
_ALIASES = {"start": "started_at", "start_time": "started_at", "channel_layout": "agent_channel",
            "agent": "agent_id", "id": "call_id"}


@dataclass
class CallMeta:
    """What the pipeline needs besides the audio; ``extra`` keeps any other scalar fields given."""

    agent_id: str | None = None
    call_id: str | None = None
    started_at: str | None = None  # ISO 8601, UTC when the source gave no zone
    queue: str | None = None
    direction: str | None = None
    agent_channel: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def merge(self, values: dict[str, Any], origin: str) -> None:
        for raw_key, value in values.items():
            if value is None or value == "":
                continue
            key = _ALIASES.get(raw_key, raw_key)
            if key == "started_at":
                self.started_at = parse_time(value, origin)
            elif key in _KNOWN_KEYS:
                setattr(self, key, str(value).strip())
            elif isinstance(value, str | int | float | bool):
                self.extra[raw_key] = value

    def started(self) -> datetime | None:
        return datetime.fromisoformat(self.started_at) if self.started_at else None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallMeta:
        known = {k: data.get(k) for k in _KNOWN_KEYS}
        return cls(**known, extra=dict(data.get("extra") or {}))


class MetadataError(ValueError):
    """Metadata that cannot be used (bad time, bad JSON); the recording is rejected, not guessed."""


def parse_time(value: Any, origin: str) -> str:
    text = str(value).strip()
    for fmt in ("%Y%m%dT%H%M%S", "%Y%m%d%H%M%S", "%Y%m%d-%H%M%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).isoformat()
        except ValueError:
            pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MetadataError(f"{origin}: start time {text!r} is not ISO 8601 or YYYYMMDDTHHMMSS") from exc
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).isoformat()


@dataclass
class Recording:
    """One audio file found in a source, with its metadata; ``sha256`` is filled in once it is stable."""

    uri: str
    size: int
    mtime: float
    meta: CallMeta
    sha256: str | None = None


@dataclass
class Rejected:
    """A recording (or manifest row) that cannot be scored; it is quarantined and reported."""

    uri: str
    reason: str
    call_id: str | None = None
    present: bool = True  # False: there is no file to move (a manifest row pointing nowhere)


@dataclass
class Discovery:
    recordings: list[Recording] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    still_writing: list[str] = field(default_factory=list)


def _mtime(info: dict[str, Any]) -> float:
    """fsspec backends name the modification time differently; all become a UNIX timestamp."""
    for key in ("mtime", "LastModified", "last_modified", "updated", "created", "timeCreated"):
        v = info.get(key)
        if v is None:
            continue
        if isinstance(v, datetime):
            return (v if v.tzinfo else v.replace(tzinfo=UTC)).timestamp()
        if isinstance(v, int | float):
            return float(v)
        try:
            return datetime.fromisoformat(str(v).replace("Z", "+00:00")).timestamp()
        except ValueError:
            continue
    return 0.0


class Inbox:
    """A folder of recordings on any fsspec filesystem (path, ``file://``, ``memory://``, ``s3://`` …)."""

    def __init__(self, url: str, manifest: str | None = None, pattern: str | None = DEFAULT_PATTERN,
                 stable_wait_s: float = 2.0, recursive: bool = False) -> None:
        self.url = url
        self.fs: AbstractFileSystem
        self.fs, root = fsspec.core.url_to_fs(url)
        self.root = root.rstrip("/") or "/"
        self.manifest = manifest
        self.pattern = re.compile(pattern) if pattern else None
        if self.pattern is not None and not set(self.pattern.groupindex) & {"agent_id", "call_id", "start",
                                                                          "started_at", "start_time"}:
            raise ValueError(f"filename pattern {pattern!r} names none of agent_id, call_id, start")
        self.stable_wait_s = stable_wait_s
        self.recursive = recursive
        self.is_local = "file" in _protocols(self.fs)

    # -- addressing ----------------------------------------------------------------------------------
    def uri(self, path: str) -> str:
        """The stored identity of a file: a plain absolute path locally, a full URL elsewhere."""
        return path if self.is_local else self.fs.unstrip_protocol(path)

    def path(self, uri: str) -> str:
        return self.fs._strip_protocol(uri)

    # -- discovery -----------------------------------------------------------------------------------
    def discover(self, since: datetime | None = None) -> Discovery:
        found = Discovery()
        first = self._listing()
        if self.manifest:
            candidates = self._from_manifest(first, found)
        else:
            candidates = self._from_folder(first, found)
        if since is not None:
            candidates = [r for r in candidates if _when(r) >= since]
        if candidates and self.stable_wait_s > 0:
            time.sleep(self.stable_wait_s)
            second = self._listing()
            stable = []
            for rec in candidates:
                now = second.get(self.path(rec.uri))
                if now is None or (now["size"], _mtime(now)) != (rec.size, rec.mtime):
                    found.still_writing.append(rec.uri)
                else:
                    stable.append(rec)
            candidates = stable
        found.recordings = candidates
        return found

    def _listing(self) -> dict[str, dict[str, Any]]:
        try:
            if self.recursive:
                entries = self.fs.find(self.root, detail=True, withdirs=False)
            else:
                entries = {e["name"]: e for e in self.fs.ls(self.root, detail=True)}
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"inbox {self.url!r} does not exist") from exc
        out = {}
        base = self.fs._strip_protocol(self.root).rstrip("/")
        for name, info in entries.items():
            name = self.fs._strip_protocol(name)
            rel = name[len(base):].lstrip("/") if name.startswith(base) else name
            if info.get("type") == "directory" or any(p.startswith(".") for p in rel.split("/")):
                continue  # hidden files and the quarantine folder are never inputs
            out[name] = info
        return out

    def _from_folder(self, listing: dict[str, dict[str, Any]], found: Discovery) -> list[Recording]:
        recs = []
        for name, info in sorted(listing.items()):
            p = PurePosixPath(name)
            if p.suffix.lower() not in AUDIO_EXTENSIONS:
                continue
            meta = CallMeta()
            try:
                self._meta_from_name(p, meta)
                sidecar = str(p.with_suffix(".json"))
                if sidecar in listing:
                    meta.merge(self._read_json(sidecar), sidecar)
            except MetadataError as exc:
                found.rejected.append(Rejected(self.uri(name), str(exc), meta.call_id))
                continue
            recs.append(Recording(self.uri(name), int(info["size"]), _mtime(info), meta))
        return recs

    def _from_manifest(self, listing: dict[str, dict[str, Any]], found: Discovery) -> list[Recording]:
        assert self.manifest is not None
        mfs, mpath = fsspec.core.url_to_fs(self.manifest)
        with mfs.open(mpath, "r", encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(io.StringIO(fh.read())))
        recs = []
        for n, row in enumerate(rows, start=2):  # line 1 is the header
            origin = f"{self.manifest} line {n}"
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            rel = row.pop("path", "") or row.pop("file", "")
            if not rel:
                found.rejected.append(Rejected(f"{self.manifest}#line{n}",
                                               f"{origin}: no 'path' column value",
                                               row.get("call_id"), present=False))
                continue
            name = self.path(rel) if "://" in rel else (rel if rel.startswith("/") else f"{self.root}/{rel}")
            meta = CallMeta()
            try:
                self._meta_from_name(PurePosixPath(name), meta)
                meta.merge(row, origin)
            except MetadataError as exc:
                found.rejected.append(Rejected(self.uri(name), str(exc), meta.call_id,
                                               present=name in listing))
                continue
            info = listing.get(name)
            if info is None:
                if self.fs.exists(name):  # outside the inbox folder, or hidden
                    info = self.fs.info(name)
                else:
                    found.rejected.append(Rejected(self.uri(name), f"{origin}: file {rel!r} does not exist",
                                                   meta.call_id, present=False))
                    continue
            recs.append(Recording(self.uri(name), int(info["size"]), _mtime(info), meta))
        return recs

    def _meta_from_name(self, p: PurePosixPath, meta: CallMeta) -> None:
        if self.pattern is None:
            return
        m = self.pattern.search(p.name)
        if m:
            meta.merge({k: v for k, v in m.groupdict().items() if v}, f"file name {p.name!r}")

    def _read_json(self, path: str) -> dict[str, Any]:
        try:
            with self.fs.open(path, "rb") as fh:
                data = json.loads(fh.read().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MetadataError(f"sidecar {path}: not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise MetadataError(f"sidecar {path}: expected a JSON object, got {type(data).__name__}")
        return data

    # -- reading -------------------------------------------------------------------------------------
    def sha256(self, uri: str) -> str:
        h = hashlib.sha256()
        with self.fs.open(self.path(uri), "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()

    @contextmanager
    def local_copy(self, uri: str) -> Iterator[str]:
        """A local path for the decoder: the file itself locally, a temporary download elsewhere."""
        if self.is_local:
            yield self.path(uri)
            return
        suffix = PurePosixPath(self.path(uri)).suffix
        with tempfile.TemporaryDirectory(prefix="qm-fetch-") as tmp:
            local = f"{tmp}/audio{suffix}"
            self.fs.get(self.path(uri), local)
            yield local

    # -- quarantine ----------------------------------------------------------------------------------
    def quarantine(self, uri: str, reason: str, present: bool = True) -> str:
        """Move a bad recording (and sidecar) aside with a ``.error.txt``; returns the error file's uri."""
        qdir = f"{self.root}/{QUARANTINE_DIR}"
        self.fs.makedirs(qdir, exist_ok=True)
        src = self.path(uri) if "#line" not in uri else uri.split("#", 1)[0]
        base = PurePosixPath(src).name + (f".{uri.rsplit('#', 1)[1]}" if "#line" in uri else "")
        dst = f"{qdir}/{base}"
        k = 1
        while self.fs.exists(dst) or self.fs.exists(f"{dst}.error.txt"):
            dst = f"{qdir}/{k}-{base}"
            k += 1
        moved = False
        if present and "#line" not in uri and self.fs.exists(src):
            self.fs.mv(src, dst)
            moved = True
            sidecar = str(PurePosixPath(src).with_suffix(".json"))
            if self.fs.exists(sidecar):
                self.fs.mv(sidecar, str(PurePosixPath(dst).with_suffix(".json")))
        note = (f"source: {uri}\nreason: {reason}\nquarantined_at: {datetime.now(UTC).isoformat()}\n"
                f"file_moved: {'yes' if moved else 'no (there was no file to move)'}\n")
        with self.fs.open(f"{dst}.error.txt", "w") as fh:
            fh.write(note)
        log.warning("quarantined %s: %s", uri, reason)
        return self.uri(f"{dst}.error.txt")


def _protocols(fs: AbstractFileSystem) -> tuple[str, ...]:
    p = fs.protocol
    return (p,) if isinstance(p, str) else tuple(p)


def _when(rec: Recording) -> datetime:
    started = rec.meta.started()
    return started if started is not None else datetime.fromtimestamp(rec.mtime, UTC)
