"""Tasks the isolation tests run in the child process (``training.packs.isolate``); no torch.

``unpickle`` opens a hostile file the way a checkpoint loader would (``pickle.loads``), so a
test can see what code hidden in it can see; ``pickled_output`` hands back an object array,
which the parent must refuse rather than unpickle.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


class Bomb:
    """Pickles as a call of ``os.mkdir(marker)``: unpickling it anywhere creates ``marker``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (self.marker,))


def unpickle(work: Path, params: Mapping[str, Any], inputs: Sequence[np.ndarray]) -> tuple[
        list[np.ndarray], dict[str, str]]:
    obj = pickle.loads((work / "weights" / params["file"]).read_bytes())
    (work / "model.onnx").write_bytes(b"onnx bytes")
    return [np.asarray(x) * 2 for x in inputs], {"loaded": type(obj).__name__}


def pickled_output(work: Path, params: Mapping[str, Any], inputs: Sequence[np.ndarray]) -> tuple[
        list[np.ndarray], dict[str, str]]:
    import atexit

    bad = np.empty(1, dtype=object)
    bad[0] = Bomb(params["marker"])  # runs os.mkdir(marker) wherever it is unpickled
    # after the protocol wrote a clean out_000.npy, replace it with a pickled object array
    atexit.register(lambda: np.save(work / "out_000.npy", bad, allow_pickle=True))
    return [np.asarray(x) for x in inputs], {}
