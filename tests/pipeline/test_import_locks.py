"""``import-results`` takes the folder's locks like ``detect`` does (issue 11, item 1).

Real processes: a second process holding the folder's run lock (exactly as a ``detect`` run
does) makes an import stop with a clear message before it writes anything; two imports started
together never interleave (one waits its turn or is refused; the folder ends consistent).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.cli.test_cli import cli
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.pipeline.journal import Workspace
from wildlife_desktop.pipeline.results import load_results

REPO = Path(__file__).resolve().parents[2]
N = 120

_HOLD = """
import sys
from pathlib import Path
from wildlife_desktop.core.locks import run_lock
with run_lock(Path(sys.argv[1]), sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


def _folder(root: Path) -> Path:
    for i in range(N):
        (root / "cam").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 48), (90, 110, 70)).save(root / "cam" / f"{i:03d}.jpg", "JPEG")
    return root


def _results(path: Path, detector: str, conf: float) -> Path:
    images = [{"file": f"cam/{i:03d}.jpg", "detections": [{"category": "1", "conf": conf,
                                                          "bbox": [0.1, 0.1, 0.2, 0.2]}]} for i in range(N)]
    path.write_text(json.dumps({"info": {"format_version": "1.4", "detector": detector},
                                "detection_categories": {"1": "animal", "2": "person", "3": "vehicle"},
                                "images": images}), encoding="utf-8")
    return path


def _start_import(folder: Path, results: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "wildlife_desktop", "import-results", str(folder), str(results)],
                            cwd=REPO, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_import_during_a_run_is_refused_before_it_writes(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "site")
    state = folder / ".wildlife"
    state.mkdir()
    (state / "state.json").write_text('{"schema_version": 1, "active_layer": null}', encoding="utf-8")
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(state)], cwd=REPO, env=os.environ.copy(),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        res = cli("import-results", str(folder), str(_results(tmp_path / "r.json", "md_v5a.0.0.pt", 0.9)),
                  check=False)
        assert res.returncode == 1 and "already being processed" in res.stderr, res.stderr
        assert "Traceback" not in res.stderr
        assert not (state / "layers").exists() and not (folder / "recognitions.json").exists()
    finally:
        holder.communicate("", timeout=60)
    cli("import-results", str(folder), str(tmp_path / "r.json"))  # the run is over: the import goes through
    assert len(json.loads((folder / "recognitions.json").read_text(encoding="utf-8"))["images"]) == N


def test_two_imports_at_once_never_interleave(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "site")
    a = _results(tmp_path / "a.json", "md_v5a.0.0.pt", 0.9)
    b = _results(tmp_path / "b.json", "md_v5b.0.0.pt", 0.4)
    procs = [_start_import(folder, a), _start_import(folder, b)]
    outs = [p.communicate(timeout=300) for p in procs]
    codes = [p.returncode for p in procs]
    for code, (_, err) in zip(codes, outs, strict=True):
        assert code == 0 or (code == 1 and "already being processed" in err and "Traceback" not in err), err
    assert 0 in codes
    # whichever finished last, the active layer, its journal and the sidecars agree on every file
    res = load_results(folder, AppPaths.default())
    assert res is not None and len(res.predictions) == N
    ws = Workspace.locate(folder, AppPaths.default(), create=False)
    assert ws is not None
    for lid in ws.layers():
        lines = (ws.layer_dir(lid) / "journal.jsonl").read_text(encoding="utf-8").splitlines()
        assert len([ln for ln in lines if '"header"' not in ln]) == N  # no file journaled twice
    md = json.loads((folder / "recognitions.json").read_text(encoding="utf-8"))
    confs = {d["conf"] for im in md["images"] for d in im["detections"]}
    assert len(md["images"]) == N and confs == {res.predictions["cam/000.jpg"].detections[0].confidence}
    assert md["info"]["detector"] == res.layer.detector
