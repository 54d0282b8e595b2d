"""``self-test``: prove this installation works (a tiny synthetic model on a synthetic image)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from .. import __version__
from ..core.paths import AppPaths
from .output import emit


def cmd_self_test(args: argparse.Namespace, paths: AppPaths) -> int:
    """Run a tiny synthetic detector on a synthetic JPEG through the real pipeline, in a throw-away home.

    Checks that onnxruntime loads, that decoding and EXIF reading work, and that the sidecars
    are written and parse. Touches neither the user's model store nor their settings.
    """
    import csv
    import os
    import shutil
    import tempfile

    from ..core.paths import HOME_ENV
    from ..pipeline.job import FileProcessed, JobConfig, JobFinished, run_job
    from ..runtime.store import ModelStore
    from .selftest_assets import SELFTEST_DATETIME, write_selftest_image, write_selftest_pack

    t0 = time.perf_counter()
    checks: list[tuple[str, bool, str]] = []

    def check(name: str, ok: bool, detail: str) -> bool:
        checks.append((name, bool(ok), detail))
        if not args.json:
            print(f"{'OK  ' if ok else 'FAIL'} {name}: {detail}", flush=True)
        return bool(ok)

    old_home = os.environ.get(HOME_ENV)
    tmp = Path(tempfile.mkdtemp(prefix="wildlife-selftest-"))
    try:
        import onnxruntime as ort

        check("onnxruntime", "CPUExecutionProvider" in ort.get_available_providers(),
              f"{ort.__version__}, providers {', '.join(ort.get_available_providers())}")
        import cv2
        import PIL

        check("decoders", True, f"Pillow {PIL.__version__}, OpenCV {cv2.__version__}")
        images = tmp / "images"
        images.mkdir()
        write_selftest_image(images / "selftest.jpg")
        os.environ[HOME_ENV] = str(tmp / "home")
        st_paths = AppPaths.under(tmp / "home").ensure()
        store = ModelStore(st_paths)
        m = store.import_pack(write_selftest_pack(tmp / "pack"))
        store.open_detector(m.id, intra_threads=1)
        check("model", True, f"{m.id} loaded (sha256 {m.sha256[:12]}...)")
        preds, summary = [], None
        for ev in run_job(JobConfig(folder=images, detector_id=m.id, intra_threads=1), paths=st_paths):
            if isinstance(ev, FileProcessed):
                preds.append(ev.prediction)
            elif isinstance(ev, JobFinished):
                summary = ev.summary
        failures = [f"{p.rel_path}: {p.failure}" for p in preds if p.failure]
        if check("pipeline", len(preds) == 1 and not failures and summary is not None,
                 f"{len(preds)} image(s) processed" + (f"; failed {failures}" if failures else "")):
            p = preds[0]
            check("decode", bool(p.meta.width and p.meta.height), f"{p.meta.width}x{p.meta.height}")
            check("exif", p.meta.datetime == SELFTEST_DATETIME,
                  f"DateTimeOriginal {p.meta.datetime}, camera {p.meta.make or ''} {p.meta.model or ''}".strip())
            animal = [d for d in p.detections if d.category == "1"]
            check("detections", len(animal) == 1 and 0.0 < animal[0].confidence < 1.0,
                  ", ".join(f"{d.category_name} {d.confidence:.3f}" for d in p.detections) or "none")
        if summary is not None:
            parsed = []
            for sc in summary.sidecars:
                with open(sc, encoding="utf-8", newline="") as fh:
                    rows = list(csv.reader(fh)) if sc.suffix == ".csv" else json.load(fh)
                if rows:
                    parsed.append(sc.name)
            check("sidecars", len(parsed) == len(summary.sidecars) >= 3, ", ".join(parsed) or "none written")
    except Exception as exc:  # a self-test reports every failure instead of crashing
        check("error", False, f"{type(exc).__name__}: {exc}")
    finally:
        if old_home is None:
            os.environ.pop(HOME_ENV, None)
        else:
            os.environ[HOME_ENV] = old_home
        shutil.rmtree(tmp, ignore_errors=True)
    ok = all(c[1] for c in checks)
    elapsed = round(time.perf_counter() - t0, 2)
    if args.json:
        emit("self_test", {"ok": ok, "version": __version__, "seconds": elapsed,
                            "frozen": bool(getattr(sys, "frozen", False)),
                            "checks": [{"name": n, "ok": k, "detail": d} for n, k, d in checks]})
    else:
        print(f"self-test {'passed' if ok else 'FAILED'}: wildlife-desktop {__version__}, {elapsed} s")
    return 0 if ok else 1


def add_parsers(sub: Any) -> None:
    st = sub.add_parser("self-test", help="check this installation: run a tiny synthetic model on a synthetic image")
    st.add_argument("--json", action="store_true", help="print the result as one JSON object")
    st.set_defaults(func=cmd_self_test)
