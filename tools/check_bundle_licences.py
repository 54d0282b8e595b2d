"""Fail when a folder of packs meant for the installer holds a pack that may not be bundled.

    python tools/check_bundle_licences.py dist/bundled-packs
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PERMISSIVE = {"MIT", "Apache-2.0", "BSD-3-Clause", "BSD-2-Clause"}


def problems(folder: Path) -> list[str]:
    """One message per pack that is not bundleable (or not a pack)."""
    out = []
    packs = [d for d in sorted(Path(folder).iterdir()) if d.is_dir() and not d.name.startswith(".")]
    if not packs:
        return [f"{folder} holds no packs"]
    for d in packs:
        try:
            m = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            out.append(f"{d.name}: unreadable manifest ({exc})")
            continue
        extra = m.get("extra") or {}
        lw, lc = extra.get("licence_weights"), extra.get("licence_code")
        if not extra.get("bundleable") or lw not in PERMISSIVE or lc not in PERMISSIVE:
            out.append(f"{d.name}: weights {lw}, code {lc}, bundleable={extra.get('bundleable')}")
        if m.get("random_weights"):
            out.append(f"{d.name}: random weights must never ship")
        if not (extra.get("parity") or {}).get("passed"):
            out.append(f"{d.name}: no passed parity report")
        if not (d / "LICENCE.txt").is_file():
            out.append(f"{d.name}: LICENCE.txt missing")
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    bad = problems(Path(argv[0]))
    for line in bad:
        print(f"NOT BUNDLEABLE: {line}", file=sys.stderr)
    if not bad:
        print(f"OK: every pack in {argv[0]} may be bundled")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
