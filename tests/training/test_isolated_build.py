"""Unpickling happens only in a separate, stripped-down process (issue 11, item 8).

Without torch: the real child machinery (``training.packs.isolate.run_isolated``) runs a task
that unpickles a hostile file, as a checkpoint loader does. The code hidden in the file runs in
the child (another process, in a fresh temp folder, with a minimal environment and no user
path anywhere in it); the parent's state is untouched, and the parent refuses an output that
would need unpickling instead of loading it.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from wildlife_desktop.core.errors import ModelPackError
from wildlife_desktop.training.packs.isolate import run_isolated

_SPY = """
import json, os, sys
json.dump({"pid": os.getpid(), "cwd": os.getcwd(), "env": dict(os.environ), "argv": sys.argv,
           "isolated": sys.flags.isolated, "listing": sorted(os.listdir("."))}, open(MARKER, "w"))
os.environ["PWNED"] = "1"
os.chdir(os.path.expanduser("~"))
"""


class _Payload:
    """A pickle that runs ``_SPY`` when loaded (a stand-in for ``os.system``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, (f"MARKER = {str(self.marker)!r}\n" + _SPY,))


def test_hostile_pickle_runs_only_in_a_stripped_child(tmp_path: Path, _isolated_app_home: Path) -> None:
    user = tmp_path / "user data" / "camera card"  # where the file came from, like a user's folder
    user.mkdir(parents=True)
    weights = user / "md_v5a_renamed.pt"
    marker = tmp_path / "marker.json"
    weights.write_bytes(pickle.dumps({"model": _Payload(marker)}, protocol=2))
    parent_cwd, parent_env = os.getcwd(), dict(os.environ)
    onnx = tmp_path / "model.onnx"
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 2, 2)

    res = run_isolated("tests.training.isolation_tasks:unpickle", files={weights.name: weights},
                       params={"file": weights.name}, inputs=[x], collect={"model.onnx": onnx})

    np.testing.assert_array_equal(res.outputs[0], x * 2)  # the outputs come back as plain arrays
    assert res.info == {"loaded": "dict"} and onnx.read_bytes() == b"onnx bytes"
    spy = json.loads(marker.read_text(encoding="utf-8"))  # the payload ran - in the child
    assert spy["pid"] != os.getpid() and spy["isolated"] == 1
    child_cwd = spy["cwd"]
    assert Path(child_cwd).name.startswith("wd-isolated-") and not Path(child_cwd).exists()  # fresh, then gone
    assert spy["env"]["HOME"] == child_cwd and spy["env"]["TMPDIR"] == child_cwd
    extra = set(spy["env"]) - {"HOME", "USERPROFILE", "TMPDIR", "TEMP", "TMP", "PATH", "SYSTEMROOT", "WINDIR",
                               "SYSTEMDRIVE", "LC_CTYPE"}
    # OpenCV sets LD_LIBRARY_PATH to its own folder when the child imports it; nothing else is there
    assert extra <= {"LD_LIBRARY_PATH"} and "site-packages" in spy["env"].get("LD_LIBRARY_PATH", "site-packages")
    assert "WILDLIFE_DESKTOP_HOME" not in spy["env"]
    assert spy["env"]["HOME"] != os.path.expanduser("~")
    user_paths = (str(tmp_path), str(_isolated_app_home), parent_cwd)  # the card, the app's data, the cwd
    for text in (*spy["env"].values(), *spy["argv"], child_cwd):
        assert not any(p in text for p in user_paths), text
    assert spy["argv"] == ["-c"]
    assert {"child.log", "in_000.npy", "request.json", "weights"} <= set(spy["listing"])  # its own folder
    # the parent: same folder, same environment, nothing ran here
    assert os.getcwd() == parent_cwd and dict(os.environ) == parent_env and "PWNED" not in os.environ


def test_parent_refuses_an_output_that_needs_unpickling(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    with pytest.raises(ModelPackError, match="unusable out_000.npy"):
        run_isolated("tests.training.isolation_tasks:pickled_output", files={}, params={"marker": str(marker)},
                     inputs=[np.zeros(3, dtype=np.float32)], collect={})
    assert not marker.exists()


def test_a_failing_child_is_one_clear_error(tmp_path: Path) -> None:
    garbage = tmp_path / "broken.pt"
    garbage.write_bytes(b"\x80\x02not a pickle")
    with pytest.raises(ModelPackError, match=r"UnpicklingError.*isolated build process") as info:
        run_isolated("tests.training.isolation_tasks:unpickle", files={garbage.name: garbage},
                     params={"file": garbage.name}, inputs=[], collect={})
    assert "Traceback" not in str(info.value)


def test_a_frozen_app_is_refused_with_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    with pytest.raises(ModelPackError, match="needs a Python installation with PyTorch"):
        run_isolated("tests.training.isolation_tasks:unpickle", files={}, params={}, inputs=[], collect={})
