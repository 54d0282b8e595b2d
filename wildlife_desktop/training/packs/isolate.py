"""Open a PyTorch checkpoint only in a separate, stripped-down process that hands back files.

A checkpoint is a Python pickle: unpickling one can run code hidden in it. ``models build``
therefore never unpickles a checkpoint in its own process. Builders that need full unpickling
(yolov5, ultralytics, RT-DETR; official files only, see ``fetch.require_trusted``) and every
unverified state-dict file (``--trust-unverified``, read ``weights_only``) are loaded, exported to
ONNX and run on the parity inputs by a child process (:func:`run_isolated`):

* started as ``python -I -X utf8 -c <bootstrap>``: ``-I`` ignores every ``PYTHON*`` variable,
  the user's site-packages and the current folder; the command line names no path;
* in a fresh, empty temporary folder (``tempfile.mkdtemp``) that is its working folder, its
  ``HOME`` and its ``TMP``; its environment holds nothing else but ``PATH`` (the interpreter's
  folder and the system default; ``SYSTEMROOT``/``WINDIR`` on Windows): no
  ``WILDLIFE_DESKTOP_HOME``, no image folder, no user setting;
* its work order is ``request.json`` in that folder (the task, its parameters and the code
  folders to import from); the weights file is hard-linked or copied in as
  ``weights/<name>``, the parity inputs as ``in_NNN.npy``;
* it hands back only files: ``result.json`` (ok/error text and tool versions), ``out_NNN.npy``
  (raw outputs) and what the caller collects (``model.onnx``). The parent reads them with
  ``json``, ``numpy.load(allow_pickle=False)`` and ``onnx`` and copies the collected files: it
  never unpickles anything.

What it is not: a sandbox. The child runs under the user's account and could read what the
user can read; the isolation keeps code hidden in a checkpoint out of the parent's memory and
state, and does not hand it the user's data paths. The CLI's help and refusal say so.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from ...core.errors import ModelPackError
from ...runtime.catalogue import CatalogueEntry, WeightSource

logger = logging.getLogger(__name__)

REQUEST: Final = "request.json"
RESULT: Final = "result.json"
LOG: Final = "child.log"
WEIGHTS_DIR: Final = "weights"
EXPORT_TASK: Final = "wildlife_desktop.training.packs.isolate:export_task"
TIMEOUT_S: Final = 3600.0
MAX_RESULT_BYTES: Final = 1 << 20
_BOOT: Final = ("import json, sys; sys.path[:0] = json.load(open('request.json', encoding='utf-8'))['sys_path']; "
                "from wildlife_desktop.training.packs.isolate import child_main; sys.exit(child_main())")


@dataclass(frozen=True)
class ChildResult:
    """What the child handed back: its raw outputs (one per input) and facts such as tool versions."""

    outputs: tuple[np.ndarray, ...]
    info: Mapping[str, str]


def child_env(work: Path) -> dict[str, str]:
    """The child's whole environment: ``HOME``/``TMP`` in its own empty folder, a system ``PATH``."""
    w = str(work)
    env = {"HOME": w, "USERPROFILE": w, "TMPDIR": w, "TEMP": w, "TMP": w,
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.defpath])}
    if os.name == "nt":  # Windows cannot start Python's DLLs without them
        env.update({k: os.environ[k] for k in ("SYSTEMROOT", "WINDIR", "SYSTEMDRIVE") if k in os.environ})
    return env


def _code_path() -> list[str]:
    """Where the child imports code from: this package's folder and the parent's code folders.

    The parent's working folder (possibly an image folder) is left out.
    """
    root = str(Path(__file__).resolve().parents[3])
    cwd = os.path.abspath(os.getcwd())
    out = [root]
    for p in sys.path:
        if p and p not in out and os.path.abspath(p) != cwd and os.path.exists(p):
            out.append(p)
    return out


def _stage(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)  # no copy of a large checkpoint when the temp folder is on the same disk
    except OSError:
        shutil.copyfile(src, dest)


def _regular(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def run_isolated(
    task: str, *, files: Mapping[str, Path], params: Mapping[str, Any], inputs: Sequence[np.ndarray],
    collect: Mapping[str, Path], timeout: float = TIMEOUT_S,
) -> ChildResult:
    """Run ``task`` (``"module:function"``) in a child process (see the module docstring).

    Args:
        task: the function the child calls as ``fn(work_dir, params, inputs) -> (outputs, info)``.
        files: name -> file, staged as ``weights/<name>`` in the child's folder.
        params: JSON-serialisable parameters for the task.
        inputs: arrays the task gets (saved and read back without pickles).
        collect: child file name -> where to copy it in the parent (e.g. ``model.onnx``).
        timeout: seconds before the child is killed.

    Returns:
        One output array per input, and the task's facts (strings).

    Raises:
        ModelPackError: the child failed (its one-line reason; the detail is in the log), timed
            out, or handed back something other than plain arrays and the files asked for.
    """
    if getattr(sys, "frozen", False):
        raise ModelPackError("Building a model pack needs a Python installation with PyTorch "
                             "(pip install 'wildlife-desktop[train]'), not the packaged app.")
    work = Path(tempfile.mkdtemp(prefix="wd-isolated-"))
    try:
        for name, src in files.items():
            _stage(Path(src), work / WEIGHTS_DIR / Path(name).name)
        for i, x in enumerate(inputs):
            np.save(work / f"in_{i:03d}.npy", np.ascontiguousarray(x), allow_pickle=False)
        request = {"task": task, "params": dict(params), "inputs": len(inputs), "sys_path": _code_path()}
        (work / REQUEST).write_text(json.dumps(request), encoding="utf-8")
        with open(work / LOG, "wb") as log:
            proc = subprocess.Popen([sys.executable, "-I", "-X", "utf8", "-c", _BOOT], cwd=work, env=child_env(work),
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise ModelPackError(f"The isolated build process did not finish within {timeout:g} s") from None
        return _collect(work, code, len(inputs), collect)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _collect(work: Path, code: int, n_inputs: int, collect: Mapping[str, Path]) -> ChildResult:
    """Read what the child handed back (plain JSON, ``.npy`` without pickles, named files)."""
    result: Any = None
    path = work / RESULT
    if _regular(path) and path.stat().st_size <= MAX_RESULT_BYTES:
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result = None
    if code != 0 or not isinstance(result, dict) or result.get("ok") is not True:
        tail = (work / LOG).read_bytes()[-4000:].decode("utf-8", errors="replace") if _regular(work / LOG) else ""
        logger.info("isolated build process exited with %s; its output ends with:\n%s", code, tail)  # file only
        why = result.get("error") if isinstance(result, dict) and isinstance(result.get("error"), str) else ""
        raise ModelPackError(f"{why[:600] or f'The isolated build process failed (exit code {code})'} "
                             "(in the isolated build process; details in the log)")
    outputs = []
    for i in range(n_inputs):
        out = work / f"out_{i:03d}.npy"
        try:
            if not _regular(out):
                raise ValueError("missing")
            outputs.append(np.load(out, allow_pickle=False))
        except (OSError, ValueError) as exc:  # an object array (a pickle) is refused here, never loaded
            raise ModelPackError(f"The isolated build process handed back an unusable {out.name}: {exc}") from exc
    for name, dest in collect.items():
        src = work / name
        if not _regular(src):
            raise ModelPackError(f"The isolated build process did not write {name}")
        shutil.copyfile(src, dest)
    info = result.get("info")
    facts = {str(k): str(v)[:200] for k, v in info.items()} if isinstance(info, dict) else {}
    return ChildResult(tuple(outputs), facts)


def child_main() -> int:
    """The child's entry point (run by the bootstrap in its own folder): do the task, write the files."""
    work = Path.cwd()
    try:
        request = json.loads((work / REQUEST).read_text(encoding="utf-8"))
        module, _, name = str(request["task"]).partition(":")
        fn = getattr(importlib.import_module(module), name)
        inputs = [np.load(work / f"in_{i:03d}.npy", allow_pickle=False) for i in range(int(request["inputs"]))]
        outputs, info = fn(work, request["params"], inputs)
        for i, y in enumerate(outputs):
            np.save(work / f"out_{i:03d}.npy", np.asarray(y), allow_pickle=False)
        (work / RESULT).write_text(json.dumps({"ok": True, "info": {k: str(v) for k, v in dict(info).items()}}),
                                   encoding="utf-8")
        return 0
    except Exception as exc:  # noqa: BLE001 - every failure goes back as one line; the traceback to the log
        traceback.print_exc()
        msg = str(exc) if isinstance(exc, ModelPackError) else f"{type(exc).__name__}: {exc}"
        (work / RESULT).write_text(json.dumps({"ok": False, "error": msg[:2000]}), encoding="utf-8")
        return 1


# ----------------------------------------------------------------------------------------------
# the export task (runs in the child only)


def entry_to_json(entry: CatalogueEntry) -> dict[str, Any]:
    """A catalogue entry as plain JSON, for the child's work order."""
    return asdict(entry)


def entry_from_json(data: Mapping[str, Any]) -> CatalogueEntry:
    d = dict(data)
    d["sources"] = tuple(WeightSource(**s) for s in d["sources"])
    d["labels"] = tuple(d["labels"])
    d["verified"] = tuple((str(k), bool(v)) for k, v in d.get("verified", ()))
    return CatalogueEntry(**d)


def export_task(work: Path, params: Mapping[str, Any], inputs: Sequence[np.ndarray]) -> tuple[
        list[np.ndarray], dict[str, str]]:
    """Load the checkpoint with its builder, export it to ``model.onnx`` and run it on ``inputs``."""
    import torch

    from .build import _export
    from .loaders import LOADERS

    entry = entry_from_json(params["entry"])
    weights = work / WEIGHTS_DIR / str(params["weights"])
    module = LOADERS[entry.builder](weights, entry).eval()
    try:
        _export(module, entry, work / "model.onnx", input_size=int(params["input_size"]))
    except Exception as exc:  # noqa: BLE001 - exporter errors are many and varied
        raise ModelPackError(f"ONNX export of '{entry.id}' failed: {exc}") from exc
    with torch.no_grad():
        outputs = [module(torch.from_numpy(np.ascontiguousarray(x))).numpy() for x in inputs]
    return outputs, {"torch": torch.__version__}
