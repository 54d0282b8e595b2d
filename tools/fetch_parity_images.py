"""Fetch the parity / reference image set for the release build.

The set is ``lila_test_images`` (31 LILA images, CDLA-Permissive-1.0, from microsoft/CameraTraps'
``test_images``) together with the official ``md_v5a_reference_output.json``, zipped by the
maintainers and hosted where the release workflow can reach it. Its URL and SHA-256 come from the
repository variables ``PARITY_SAMPLES_ZIP_URL`` / ``PARITY_SAMPLES_SHA256`` (no URL is hard-coded
here: we do not invent one). A local folder can be given instead of a URL.

    python tools/fetch_parity_images.py --out parity-images --source URL_OR_FOLDER [--sha256 HEX]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--source", default=os.environ.get("PARITY_SAMPLES_ZIP_URL", ""))
    p.add_argument("--sha256", default=os.environ.get("PARITY_SAMPLES_SHA256", ""))
    args = p.parse_args(argv)
    out = Path(args.out)
    if not args.source:
        print("error: no parity image set: set PARITY_SAMPLES_ZIP_URL (and PARITY_SAMPLES_SHA256) or pass --source",
              file=sys.stderr)
        return 2
    src = Path(args.source)
    if src.is_dir():
        shutil.copytree(src, out, dirs_exist_ok=True)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            zpath = Path(tmp) / "samples.zip"
            with urllib.request.urlopen(args.source, timeout=120) as resp, open(zpath, "wb") as fh:  # noqa: S310
                shutil.copyfileobj(resp, fh)
            digest = hashlib.sha256(zpath.read_bytes()).hexdigest()
            if args.sha256 and digest != args.sha256.lower():
                print(f"error: sample zip sha256 {digest} != expected {args.sha256}", file=sys.stderr)
                return 1
            with zipfile.ZipFile(zpath) as zf:
                zf.extractall(out)
    n = sum(1 for f in out.rglob("*") if f.suffix.lower() in (".jpg", ".jpeg", ".png"))
    ref = next(out.rglob("md_v5a_reference_output.json"), None)
    print(f"{n} images in {out}; reference output: {ref or 'MISSING'}")
    return 0 if n and ref else 1


if __name__ == "__main__":
    sys.exit(main())
