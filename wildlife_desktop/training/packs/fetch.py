"""Official weights files: checksum verification and (explicitly requested) downloads. No torch."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ...core.errors import ModelPackError
from ...runtime.catalogue import CatalogueEntry, WeightSource

CHUNK = 1 << 20


@dataclass(frozen=True)
class FileDigest:
    """MD5 and SHA-256 of one file."""

    md5: str
    sha256: str
    size: int


@dataclass(frozen=True)
class ChecksumResult:
    """Outcome of checking a weights file against the catalogue."""

    digest: FileDigest
    source: WeightSource | None
    verified: bool  # an upstream checksum exists and matched
    note: str


def digest_file(path: Path) -> FileDigest:
    """MD5 + SHA-256 of a file in one pass.

    Raises:
        ModelPackError: unreadable file.
    """
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as fh:
            while block := fh.read(CHUNK):
                md5.update(block)
                sha.update(block)
                size += len(block)
    except OSError as exc:
        raise ModelPackError(f"Cannot read weights file {path}: {exc.strerror or exc}") from exc
    return FileDigest(md5.hexdigest(), sha.hexdigest(), size)


def check_weights(path: Path, entry: CatalogueEntry, source: WeightSource | None = None) -> ChecksumResult:
    """Compare a weights file with the checksum upstream publishes for it.

    The source is ``source`` or the catalogue source whose file name matches ``path``. A
    mismatch is refused; a file without a published checksum is accepted but marked unverified.

    Raises:
        ModelPackError: the file does not match its published checksum.
    """
    path = Path(path)
    src = source or entry.source_for(path.name)
    digest = digest_file(path)
    if src is None:
        return ChecksumResult(digest, None, False,
                              f"unverified: {path.name} is not one of the official file names of '{entry.id}' "
                              f"({', '.join(s.filename for s in entry.sources)}); no checksum to compare")
    for algo, want, got in (("md5", src.md5, digest.md5), ("sha256", src.sha256, digest.sha256)):
        if want and want.lower() != got:
            raise ModelPackError(
                f"Refusing {path.name}: its {algo} is {got}, but upstream publishes {want.lower()} for "
                f"{src.filename} ({src.checksum_source}). The download is damaged or not the official file; "
                f"delete it and download it again.")
    if src.verified:
        return ChecksumResult(digest, src, True, f"checksum matches upstream ({src.checksum_source})")
    return ChecksumResult(digest, src, False, f"unverified: upstream publishes no checksum for {src.filename}")


#: Builders whose checkpoints pickle whole model objects: loading them runs the pickle's code.
UNPICKLING_BUILDERS = frozenset({"yolov5", "ultralytics", "pw_rtdetr_apache"})


def require_trusted(checksum: ChecksumResult, path: Path, *, trust_unverified: bool, builder: str) -> None:
    """Refuse a weights file unless reading it can run no code we have not vouched for.

    A PyTorch checkpoint is a Python pickle: loading one in full can run code hidden in it. Rule:
    only a file whose checksum matches the official release is ever fully unpickled (the
    builders in :data:`UNPICKLING_BUILDERS`); any other file is read with torch's ``weights_only``
    loader, which rebuilds tensors and executes nothing, and only when the user says so
    (``--trust-unverified``). Called before anything opens the file.

    Raises:
        ModelPackError: ``checksum`` is not verified and the builder must unpickle the whole model
            (always), or ``trust_unverified`` is false.
    """
    if checksum.verified:
        return
    name = Path(path).name
    if builder in UNPICKLING_BUILDERS:
        raise ModelPackError(
            f"Refusing {name}: {checksum.note}. Its builder must unpickle the whole model object, which can run "
            f"code hidden in the file, and only a file whose checksum matches the official release is ever "
            f"unpickled. Use the official file under its official name (or --download).")
    if trust_unverified:
        return
    raise ModelPackError(
        f"Refusing {name}: {checksum.note}. A PyTorch checkpoint can carry code that runs when it is "
        f"opened. If you trust where this file came from, run again with --trust-unverified: the file is then "
        f"read with torch's weights_only loader (tensors only, no code from the file runs), and only in a "
        f"separate Python process, started in a new empty temporary folder with a minimal environment (no image "
        f"folder or app data path in it), which hands back only the ONNX model and its test outputs. That "
        f"process still runs under your user account: it is not a sandbox.")


def require_official(path: Path, entry: CatalogueEntry) -> None:
    """Check, right before a full unpickle, that ``path`` is the official file of ``entry``.

    Raises:
        ModelPackError: the checksum does not match, or upstream publishes none for this file.
    """
    checksum = check_weights(path, entry, None)
    if not checksum.verified:
        raise ModelPackError(f"Refusing to unpickle {Path(path).name}: {checksum.note}. Only a file whose "
                             f"checksum matches the official release is ever unpickled.")


def download(url: str, dest: Path, *, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` atomically (``.part`` file, then rename).

    Raises:
        ModelPackError: network or file-system failure.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310
            shutil.copyfileobj(resp, out, CHUNK)
        os.replace(tmp, dest)
    except OSError as exc:  # URLError is an OSError
        raise ModelPackError(f"Download of {url} failed: {exc}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def fetch_official(entry: CatalogueEntry, cache_dir: Path, *, allow_download: bool) -> tuple[Path, WeightSource]:
    """The official weights of ``entry``: a verified copy in ``cache_dir``, else a download.

    Sources with a published checksum are tried first. Nothing is downloaded unless
    ``allow_download`` is true (``models build --download``).

    Raises:
        ModelPackError: not cached and downloading not allowed, every source failed, or a
            checksum mismatch.
    """
    ordered = sorted(entry.sources, key=lambda s: not s.verified)
    for src in ordered:
        cached = Path(cache_dir) / src.filename
        if cached.is_file():
            check_weights(cached, entry, src)
            return cached, src
    if not allow_download:
        raise ModelPackError(
            f"The weights of '{entry.id}' are not here. Download {ordered[0].url} yourself and pass the file, "
            f"or add --download to fetch it (needs internet).")
    errors = []
    for src in ordered:
        target = Path(cache_dir) / src.filename
        try:
            download(src.url, target)
        except ModelPackError as exc:
            errors.append(str(exc))
            continue
        try:
            check_weights(target, entry, src)
        except ModelPackError:
            target.unlink(missing_ok=True)
            raise
        return target, src
    raise ModelPackError(f"Could not download '{entry.id}': " + " | ".join(errors))
