"""A restricted, torch-free reader for torch zip checkpoints (``torch.save`` since torch 1.6).

A torch checkpoint is a zip holding ``<prefix>/data.pkl`` (a pickle) and ``<prefix>/data/<key>``
(raw little-endian tensor storages). Unpickling runs whatever callables the pickle names, so
the pickle is read with an :class:`pickle.Unpickler` whose ``find_class`` allows exactly four
globals, each mapped to our own code: ``collections.OrderedDict`` (the real class: it runs
nothing), ``torch._utils._rebuild_tensor_v2`` (our numpy rebuild) and ``torch.FloatStorage`` /
``torch.LongStorage`` (inert dtype markers). Any other global is refused while the pickle is
being read, before it can be called. Storages are read from the zip with their sizes checked,
and tensors are rebuilt as numpy arrays (offset, shape and strides honoured, bounds checked).
"""

from __future__ import annotations

import collections
import io
import pickle
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import numpy as np

from ...core.errors import ModelPackError

#: Largest ``data.pkl`` accepted (the 5 M-parameter YOLOX checkpoint has 107 kB).
MAX_PICKLE_BYTES: Final[int] = 64 << 20
#: Largest single storage and largest sum of storages accepted.
MAX_STORAGE_BYTES: Final[int] = 2 << 30
MAX_TOTAL_BYTES: Final[int] = 4 << 30
_KEY_RE = re.compile(r"^[0-9A-Za-z_]{1,64}$")


@dataclass(frozen=True)
class StorageKind:
    """An inert stand-in for ``torch.<X>Storage``: only names a little-endian numpy dtype."""

    name: str
    dtype: str


def _rebuild_tensor_v2(storage: np.ndarray, storage_offset: int, size: tuple[int, ...], stride: tuple[int, ...],
                       requires_grad: bool = False, backward_hooks: Any = None, metadata: Any = None) -> np.ndarray:
    """Our stand-in for ``torch._utils._rebuild_tensor_v2``: a contiguous numpy copy of the view."""
    if not isinstance(storage, np.ndarray) or storage.ndim != 1:
        raise ModelPackError("Checkpoint: a tensor's storage is not a storage record")
    if not (isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)):
        raise ModelPackError("Checkpoint: a tensor has a malformed shape or stride")
    for v in (storage_offset, *size, *stride):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ModelPackError("Checkpoint: a tensor has a negative or non-integer offset, size or stride")
    n = storage.shape[0]
    if any(s == 0 for s in size):
        return np.zeros(size, dtype=storage.dtype)
    last = storage_offset + sum((d - 1) * s for d, s in zip(size, stride, strict=True))
    if last >= n:
        raise ModelPackError(f"Checkpoint: a tensor reads past the end of its storage ({last} >= {n} elements)")
    item = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(storage[storage_offset:], shape=size,
                                           strides=tuple(s * item for s in stride), writeable=False)
    return np.array(view, dtype=storage.dtype.newbyteorder("="), copy=True, order="C")


#: The only globals a checkpoint's pickle may name, and what each one becomes here.
ALLOWED_GLOBALS: Final[dict[tuple[str, str], Any]] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch", "FloatStorage"): StorageKind("FloatStorage", "<f4"),
    ("torch", "LongStorage"): StorageKind("LongStorage", "<i8"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only :data:`ALLOWED_GLOBALS` and reads storages from the zip."""

    def __init__(self, file: IO[bytes], load_storage: Callable[[StorageKind, str, int], np.ndarray]):
        super().__init__(file)
        self._load_storage = load_storage

    def find_class(self, module: str, name: str) -> Any:
        target = ALLOWED_GLOBALS.get((module, name))
        if target is None:
            raise ModelPackError(f"Checkpoint refused: its pickle names the global '{module}.{name}', "
                                 f"which is not a tensor or a dict (allowed: "
                                 f"{', '.join(f'{m}.{n}' for m, n in ALLOWED_GLOBALS)})")
        return target

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise ModelPackError(f"Checkpoint refused: unknown persistent reference {str(pid)[:80]!r}")
        _, kind, key, _location, numel = pid
        if not isinstance(kind, StorageKind):
            raise ModelPackError("Checkpoint refused: a storage of an unsupported type")
        if not isinstance(key, str) or not _KEY_RE.match(key):
            raise ModelPackError(f"Checkpoint refused: odd storage key {str(key)[:40]!r}")
        if isinstance(numel, bool) or not isinstance(numel, int) or numel < 0:
            raise ModelPackError(f"Checkpoint refused: storage {key} has an invalid size {numel!r}")
        return self._load_storage(kind, key, numel)


def _open_zip(source: Path | bytes) -> zipfile.ZipFile:
    try:
        if isinstance(source, (bytes, bytearray)):
            return zipfile.ZipFile(io.BytesIO(source))
        return zipfile.ZipFile(Path(source))
    except zipfile.BadZipFile as exc:
        raise ModelPackError("Not a torch checkpoint: the file is not a zip archive (legacy torch "
                             "pickles are not read)") from exc
    except OSError as exc:
        raise ModelPackError(f"Cannot read checkpoint {source}: {exc.strerror or exc}") from exc


def load_checkpoint(source: Path | bytes) -> Any:
    """Read a torch zip checkpoint without torch and without running code from it.

    Args:
        source: the ``.pth`` file, or its bytes.

    Returns:
        The checkpoint object with every tensor as a numpy array and every ``OrderedDict`` as a
        plain ``dict`` (e.g. ``{"model": {name: array}, ...}``).

    Raises:
        ModelPackError: not a zip, no ``data.pkl``, a forbidden global, or a missing, oversized
            or inconsistent storage.
    """
    with _open_zip(source) as zf:
        pkls = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkls) != 1:
            raise ModelPackError("Not a torch checkpoint: expected exactly one '<name>/data.pkl' in the zip, "
                                 f"found {len(pkls)}")
        prefix = pkls[0][: -len("data.pkl")]
        info = zf.getinfo(pkls[0])
        if info.file_size > MAX_PICKLE_BYTES:
            raise ModelPackError(f"Checkpoint refused: data.pkl is {info.file_size} bytes (limit {MAX_PICKLE_BYTES})")
        cache: dict[str, np.ndarray] = {}
        total = [0]

        def load_storage(kind: StorageKind, key: str, numel: int) -> np.ndarray:
            dtype = np.dtype(kind.dtype)
            if key in cache:
                arr = cache[key]
                if arr.dtype != dtype or arr.shape[0] != numel:
                    raise ModelPackError(f"Checkpoint refused: storage {key} is used with two types or sizes")
                return arr
            want = numel * dtype.itemsize
            if want > MAX_STORAGE_BYTES:
                raise ModelPackError(f"Checkpoint refused: storage {key} would be {want} bytes "
                                     f"(limit {MAX_STORAGE_BYTES})")
            name = f"{prefix}data/{key}"
            try:
                member = zf.getinfo(name)
            except KeyError:
                raise ModelPackError(f"Checkpoint refused: storage {name} is missing from the zip") from None
            if member.file_size != want:
                raise ModelPackError(f"Checkpoint refused: storage {name} holds {member.file_size} bytes, "
                                     f"its header says {numel} x {kind.name} = {want}")
            total[0] += want
            if total[0] > MAX_TOTAL_BYTES:
                raise ModelPackError(f"Checkpoint refused: more than {MAX_TOTAL_BYTES} bytes of storages")
            with zf.open(member) as fh:
                data = fh.read(want + 1)
            if len(data) != want:
                raise ModelPackError(f"Checkpoint refused: storage {name} is truncated or oversized")
            arr = np.frombuffer(data, dtype=dtype)
            cache[key] = arr
            return arr

        try:
            with zf.open(info) as fh:
                obj = _RestrictedUnpickler(io.BytesIO(fh.read(MAX_PICKLE_BYTES + 1)), load_storage).load()
        except ModelPackError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
                AttributeError, zipfile.BadZipFile, OSError) as exc:
            raise ModelPackError(f"Checkpoint could not be read: {type(exc).__name__}: {exc}") from exc
    return _plain(obj)


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_plain(v) for v in obj)
    return obj


def load_state_dict(source: Path | bytes, key: str = "model") -> dict[str, np.ndarray]:
    """The ``key`` entry of a checkpoint as ``{name: array}`` (the whole object when it is one).

    Raises:
        ModelPackError: unreadable checkpoint, or no state dict under ``key``.
    """
    ck = load_checkpoint(source)
    sd = ck.get(key, ck) if isinstance(ck, dict) else None
    if not isinstance(sd, dict) or not sd or not all(isinstance(v, np.ndarray) for v in sd.values()):
        raise ModelPackError(f"Checkpoint has no state dict of tensors under '{key}'")
    return sd
