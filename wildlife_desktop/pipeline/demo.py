"""The demo folder: a private copy of the sample images, so the app never writes into data it does not own.

``wildlife-desktop`` with no folder opens ``<data>/demo/<sample>``, copied once from
``../shared/samples/lila_test_images`` (beside the checkout or the working folder). The copy is
made in a temporary folder and moved into place, so an interrupted copy is never opened. The
official MegaDetector v5a output shipped with the sample is imported into the copy the first time.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..core.paths import AppPaths

SAMPLE_NAME: Final[str] = "lila_test_images"
SAMPLE_RESULTS: Final[str] = "md_v5a_reference_output.json"
OUTPUT_DIRNAME: Final[str] = ".wildlife"


@dataclass(frozen=True)
class DemoFolder:
    """The demo copy and, on its first opening, the results file to import into it."""

    folder: Path
    import_json: Path | None


def find_sample(start: Path | None = None) -> Path | None:
    """``../shared/samples/lila_test_images`` beside the checkout (or the working folder), if present."""
    here = Path(__file__).resolve().parents[2]  # the checkout holding wildlife_desktop/
    for base in ([Path(start)] if start else []) + [Path.cwd(), here]:
        cand = base.parent / "shared" / "samples" / SAMPLE_NAME
        if (cand / SAMPLE_RESULTS).is_file():
            return cand
    return None


def prepare_demo(paths: AppPaths, sample: Path | None = None) -> DemoFolder | None:
    """Copy the sample folder into the app's data folder once and say what to open.

    Args:
        paths: the application's folders (the copy goes to ``<data>/demo/``).
        sample: the sample folder (default: :func:`find_sample`).

    Returns:
        The copy, with the results file to import when the copy has no results yet;
        ``None`` when no sample folder is found.
    """
    src = sample if sample is not None else find_sample()
    if src is None or not src.is_dir():
        return None
    dest = paths.data / "demo" / src.name
    if not dest.is_dir():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{src.name}-", dir=dest.parent))
        try:
            shutil.copytree(src, tmp / src.name, ignore=shutil.ignore_patterns(OUTPUT_DIRNAME, ".*"))
            for p in (tmp / src.name).rglob("*"):  # a read-only source gives read-only copies
                os.chmod(p, 0o755 if p.is_dir() else 0o644)
            os.chmod(tmp / src.name, 0o755)
            os.replace(tmp / src.name, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    results = dest / SAMPLE_RESULTS
    first_time = not (dest / OUTPUT_DIRNAME).exists()
    return DemoFolder(dest, results if first_time and results.is_file() else None)
