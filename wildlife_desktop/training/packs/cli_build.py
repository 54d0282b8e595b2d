"""``wildlife-desktop models build``: the CLI side (argument handling, messages).

Loaded by the CLI through ``importlib`` only when the command is used, so the CLI itself never
imports torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ...core.errors import WildlifeError
from ...core.paths import AppPaths
from ...runtime.catalogue import CatalogueEntry, WeightSource, load_catalogue


def _resolve(args: argparse.Namespace, paths: AppPaths) -> tuple[Path, CatalogueEntry, WeightSource | None]:
    from .fetch import fetch_official

    cat = load_catalogue()
    src = Path(args.source)
    if src.is_file():
        entry = cat.get(args.id) if args.id else cat.find_by_filename(src.name)
        if entry is None:
            raise WildlifeError(f"Cannot tell which model {src.name} is: pass --id (one of "
                                f"{', '.join(e.id for e in cat.entries)})")
        return src, entry, entry.source_for(src.name)
    entry = cat.get(args.source)
    cache = Path(args.cache) if args.cache else Path(paths.models).parent / "weights-cache"
    weights, source = fetch_official(entry, cache, allow_download=args.download)
    return weights, entry, source


def run_build(args: argparse.Namespace, paths: AppPaths) -> int:
    """Build a pack; optionally install it. Returns the process exit code."""
    from .fetch import check_weights, require_trusted

    weights, entry, source = _resolve(args, paths)
    trust = bool(getattr(args, "trust_unverified", False))
    # Before torch is even imported: an unverified checkpoint is never opened without consent.
    require_trusted(check_weights(weights, entry, source), weights, trust_unverified=trust, builder=entry.builder)
    try:
        from .build import build_pack, list_images
    except ImportError as exc:
        raise WildlifeError(f"models build needs PyTorch: pip install 'wildlife-desktop[train]' ({exc})") from exc
    if not args.images:
        raise WildlifeError("models build needs --images FOLDER (a few real camera-trap images for the "
                            "torch-vs-ONNX parity check)")
    images = list_images(Path(args.images), limit=args.max_images)
    out = Path(args.out) if args.out else Path.cwd() / "packs"
    print(f"Building {entry.id} from {weights.name} ({entry.licence_summary})", file=sys.stderr)
    report = build_pack(weights, entry, out, images=images, source=source, quantise=args.quantize,
                        trust_unverified=trust)
    p = report.parity
    summary = {"pack": str(report.pack_dir), "id": entry.id, "sha256": report.manifest.sha256,
               "checksum": report.checksum.note, "parity": p.to_dict(), "quantisation": report.quantisation,
               "bundleable": entry.bundleable}
    if args.json:
        print(json.dumps({"event": "build", **summary}))
    else:
        print(f"Wrote {report.pack_dir}")
        print(f"  weights: {report.checksum.note}")
        if p.kind == "detection":
            print(f"  parity on {p.images} images: {p.matched} boxes matched, min IoU {p.min_iou}, "
                  f"max |dconf| {p.max_conf_diff}, {p.borderline} borderline")
        else:
            print(f"  parity on {p.crops} crops: max |dp| {p.max_prob_diff}, top-1 agrees {p.top1_agree}/{p.crops}")
        print(f"  quantisation: {report.quantisation}")
    if args.install:
        from ...runtime.store import ModelStore

        m = ModelStore(paths).import_pack(report.pack_dir, replace=True)
        print(f"Installed {m.id}")
    return 0
