"""The restricted torch-checkpoint reader: hostile pickles are refused before they run; valid ones round-trip.

Checkpoints are written here in torch's zip layout without torch: the pickle is produced by the
pure-Python pickler with the four torch globals written as ``GLOBAL`` opcodes by name.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from wildlife_desktop.core.errors import ModelPackError
from wildlife_desktop.training.packs.torch_checkpoint import load_checkpoint, load_state_dict


class _Ref:
    """A global written by name (``module.name``), as torch's pickles name theirs."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args: Any) -> None:  # pickle requires reduce callables to be callable
        raise AssertionError("never called while pickling")


class _Storage:
    def __init__(self, key: str, kind: str, data: np.ndarray):
        self.key, self.kind, self.data = key, kind, data


class _Tensor:
    def __init__(self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]):
        self.args = (storage, offset, size, stride)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Ref("torch._utils", "_rebuild_tensor_v2"),
                (*self.args, False, collections.OrderedDict()))


class _TorchLikePickler(pickle._Pickler):  # type: ignore[misc, name-defined]
    """Writes ``_Ref`` as a GLOBAL opcode and storages as persistent ids (like ``torch.save``)."""

    def save(self, obj: Any, save_persistent_id: bool = True) -> None:
        if isinstance(obj, _Ref):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            return
        super().save(obj, save_persistent_id)

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, _Storage):
            return ("storage", _Ref("torch", obj.kind), obj.key, "cpu", int(obj.data.size))
        return None


def _write_ckpt(path: Path, obj: Any, storages: list[_Storage], *, pkl: bytes | None = None,
                prefix: str = "archive") -> Path:
    buf = io.BytesIO()
    _TorchLikePickler(buf, protocol=2).dump(obj)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{prefix}/data.pkl", pkl if pkl is not None else buf.getvalue())
        for s in storages:
            zf.writestr(f"{prefix}/data/{s.key}", s.data.astype(s.data.dtype.newbyteorder("<")).tobytes())
        zf.writestr(f"{prefix}/version", "3\n")
    return path


def _valid(path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    base = np.arange(20, dtype=np.float32) * 0.5
    longs = np.array([7, -3, 2**40], dtype=np.int64)
    sf, sl = _Storage("0", "FloatStorage", base), _Storage("1", "LongStorage", longs)
    model = collections.OrderedDict()
    model["conv.weight"] = _Tensor(sf, 2, (3, 4), (4, 1))  # rows 2.. of the storage
    model["conv.weight_t"] = _Tensor(sf, 2, (4, 3), (1, 4))  # a transposed (non-contiguous) view
    model["bn.num_batches_tracked"] = _Tensor(sl, 2, (), ())
    model["ids"] = _Tensor(sl, 0, (3,), (1,))
    _write_ckpt(path, {"start_epoch": 5, "model": model, "note": ["a", 1.5]}, [sf, sl])
    return path, base, longs


def test_valid_checkpoint_round_trips(tmp_path: Path) -> None:
    path, base, longs = _valid(tmp_path / "ok.pth")
    ck = load_checkpoint(path)
    assert ck["start_epoch"] == 5 and ck["note"] == ["a", 1.5]
    sd = ck["model"]
    assert type(sd) is dict and list(sd) == ["conv.weight", "conv.weight_t", "bn.num_batches_tracked", "ids"]
    np.testing.assert_array_equal(sd["conv.weight"], base[2:14].reshape(3, 4))
    np.testing.assert_array_equal(sd["conv.weight_t"], base[2:14].reshape(3, 4).T)
    assert sd["conv.weight"].dtype == np.float32 and sd["conv.weight_t"].flags.c_contiguous
    assert sd["bn.num_batches_tracked"].shape == () and int(sd["bn.num_batches_tracked"]) == 2**40
    np.testing.assert_array_equal(sd["ids"], longs)
    # bytes in, same result; load_state_dict picks "model"
    same = load_state_dict(path.read_bytes())
    np.testing.assert_array_equal(same["conv.weight_t"], sd["conv.weight_t"])


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


class _ExecPayload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.mark.parametrize(("payload", "global_name"), [(_Payload, "system"), (_ExecPayload, ".exec")])
@pytest.mark.parametrize("protocol", [2, 4])
def test_reduce_payload_is_refused_and_never_runs(tmp_path: Path, payload: type, global_name: str,
                                                  protocol: int) -> None:
    marker = tmp_path / "PWNED"
    evil = pickle.dumps({"model": {"w": 1}, "x": payload(marker)}, protocol=protocol)
    path = _write_ckpt(tmp_path / "evil.pth", None, [], pkl=evil)
    with pytest.raises(ModelPackError, match="refused") as err:
        load_checkpoint(path)
    assert global_name in str(err.value) and "\n" not in str(err.value)
    assert not marker.exists()


def test_a_forbidden_global_inside_a_valid_layout_is_refused(tmp_path: Path) -> None:
    sf = _Storage("0", "FloatStorage", np.zeros(4, np.float32))
    obj = {"model": {"w": _Tensor(sf, 0, (4,), (1,))}, "opt": _Ref("torch", "HalfStorage")}
    path = _write_ckpt(tmp_path / "half.pth", obj, [sf])
    with pytest.raises(ModelPackError, match=r"torch\.HalfStorage"):
        load_checkpoint(path)


def test_not_a_zip_and_missing_pickle_are_refused(tmp_path: Path) -> None:
    legacy = tmp_path / "legacy.pth"
    legacy.write_bytes(pickle.dumps({"model": {}}))
    with pytest.raises(ModelPackError, match="not a zip"):
        load_checkpoint(legacy)
    nopkl = tmp_path / "nopkl.pth"
    with zipfile.ZipFile(nopkl, "w") as zf:
        zf.writestr("archive/data/0", b"\0" * 4)
    with pytest.raises(ModelPackError, match="data.pkl"):
        load_checkpoint(nopkl)


def test_inconsistent_storages_are_refused(tmp_path: Path) -> None:
    sf = _Storage("0", "FloatStorage", np.zeros(6, np.float32))
    # header says 6 floats but the member holds 5
    short = tmp_path / "short.pth"
    _write_ckpt(short, {"model": {"w": _Tensor(sf, 0, (6,), (1,))}}, [_Storage("0", "FloatStorage",
                                                                                np.zeros(5, np.float32))])
    # header has 6, but the file is written from a 6-float storage: the view reads past its end
    sf.data = np.zeros(6, np.float32)
    oob = _write_ckpt(tmp_path / "oob.pth", {"model": {"w": _Tensor(sf, 2, (2, 3), (3, 1))}}, [sf])
    # a storage that is not in the zip
    missing = _write_ckpt(tmp_path / "missing.pth", {"model": {"w": _Tensor(sf, 0, (6,), (1,))}}, [])
    # an absurd size in the header
    huge = _Storage("0", "FloatStorage", np.zeros(1, np.float32))
    big = tmp_path / "big.pth"
    buf = io.BytesIO()
    p = _TorchLikePickler(buf, protocol=2)
    p.persistent_id = lambda o: ("storage", _Ref("torch", "FloatStorage"), "0", "cpu", 1 << 40) \
        if isinstance(o, _Storage) else None
    p.dump({"model": {"w": _Tensor(huge, 0, (1,), (1,))}})
    _write_ckpt(big, None, [huge], pkl=buf.getvalue())
    for path, pattern in ((short, "holds 20 bytes"), (oob, "past the end"), (missing, "missing"),
                          (big, "would be")):
        with pytest.raises(ModelPackError, match=pattern):
            load_checkpoint(path)
