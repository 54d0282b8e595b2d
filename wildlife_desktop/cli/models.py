"""``models list|import|verify|remove|build|install|default`` (and ``versions|promote|rollback|evaluate``,
in :mod:`.stages`): model packs."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import WildlifeError
from ..core.paths import AppPaths
from . import stages
from .output import emit

FAMILIES = ("yolov5", "yolov8", "yolov10", "rtdetr", "classifier")


@dataclass(frozen=True)
class Installer:
    """``models install NAME``: a real model converted and installed on this machine.

    ``target`` is ``"module:function"``, imported only when used; the function is called as
    ``function(store, source, notify=print)`` (``source``: ``--from`` PATH or ``None``) and returns
    the installed default manifest.
    """

    title: str
    help: str
    target: str


#: Installable model names, as data: adding a model = adding an entry here.
INSTALLERS: dict[str, Installer] = {
    "mdlite": Installer(
        "MegadetectorLite (animal only)",
        "zamba's YOLOX-tiny animal detector, MIT, converted to ONNX without torch. --from a zamba wheel, the .pth "
        "or a folder holding either; without --from, downloads zamba 2.7.2 with pip",
        "wildlife_desktop.training.packs.mdlite:install_mdlite"),
    "recommended": Installer(
        "the recommended real models",
        "MegadetectorLite (animals), NanoDet COCO (people, vehicles), MobileNetV2 ImageNet "
        "(fine-tuning base) and the composite default detector. --from a folder laid out like "
        "shared/models/real/ (it may hold the zamba wheel); without --from, ../shared/models/real beside the "
        "checkout and the zamba wheel from the package index",
        "wildlife_desktop.training.packs.recommended:install_recommended"),
}


def _install(args: argparse.Namespace, store: Any) -> int:
    import importlib

    installer = INSTALLERS[args.name]
    module, func = installer.target.split(":")
    source = Path(args.from_path) if args.from_path else None
    print(f"Installing {args.name}: {installer.title}")
    if source:
        print(f"From: {source}")
    m = getattr(importlib.import_module(module), func)(store, source, notify=print)
    int8 = m.extra_dict().get("int8", {})
    print(f"Installed {m.id}: {m.name} ({m.family}, {len(m.labels)} label(s), typical threshold "
          f"{m.typical_threshold}, sha256 {m.sha256[:12]}…)")
    if int8.get("decision"):
        print(f"int8: {int8['decision']}")
    return 0


def _default(args: argparse.Namespace, store: Any) -> int:
    from ..runtime.defaults import save_defaults

    changes = {}
    for key, model_id, task in (("detector", args.detector, "detection"), ("classifier", args.classifier,
                                                                          "classification")):
        if model_id:
            m, _ = store.get(model_id)
            if m.task != task:
                raise WildlifeError(f"{model_id} is a {m.task} model, not a {task} model")
            changes[key] = model_id
    if changes:
        save_defaults(store.root, **changes)
    det, cls = store.default_id("detection"), store.default_id("classification")
    print(f"Default detector: {det or 'none installed'}")
    print(f"Default classifier: {cls or 'none (detect adds species labels only with --classifier)'}")
    return 0


def _print_table(models: list[Any]) -> None:
    """``models list``: columns as wide as their longest entry; a random-weight model says what it is not."""
    rows = [(m.id, m.task, m.family, f"v{m.version}", m.licence or "licence unknown",
             ("[RANDOM WEIGHTS - benchmark only, not a "
              + ("detector]" if m.task == "detection" else "classifier]")) if m.random_weights else "")
            for m in models]
    if not rows:
        return
    widths = [max(len(str(r[i])) for r in rows) for i in range(4)]
    for r in rows:
        cols = "  ".join(str(c).ljust(w) for c, w in zip(r[:4], widths, strict=True))
        print(f"{cols}  {r[4]}  {r[5]}".rstrip())


def cmd_models(args: argparse.Namespace, paths: AppPaths) -> int:
    from ..runtime.store import ModelStore

    store = ModelStore(paths)
    if args.models_cmd == "list":
        from ..runtime.bundled import install_bundled

        install_bundled(store)  # packs shipped with the app, registered read-only in place
        models = store.list()
        if args.json:
            emit("models", {"models": models})
            return 0
        if not models:
            print("No models installed. Import a model pack with: wildlife-desktop models import PATH")
        _print_table(models)
        return 0
    if args.models_cmd == "import":
        src = Path(args.path)
        if src.suffix.lower() == ".onnx":
            if not args.family:
                raise WildlifeError("Importing a bare .onnx needs --family and --labels.")
            labels = tuple(x.strip() for x in (args.labels or "").split(",") if x.strip())
            m = store.import_onnx(src, family=args.family, labels=labels, input_size=args.input_size,
                                  random_weights=args.random_weights, model_id=args.id)
        else:
            from ..runtime.catalogue import pack_licence_gate

            licence, must_accept = pack_licence_gate(src)
            if licence:
                print(f"Licence: {licence}")
            if must_accept and not args.accept_licence:
                raise WildlifeError("This model's licence is not permissive (see LICENCE.txt in the pack); "
                                    "import it with --accept-licence once you accept its terms.")
            m = store.import_pack(src)
        print(f"Installed {m.id} ({m.task}, {m.family}, sha256 {m.sha256[:12]}…)")
        if m.random_weights:
            print("WARNING: this model has RANDOM WEIGHTS: benchmark only, not a detector.", file=sys.stderr)
        return 0
    if args.models_cmd == "verify":
        bad = 0
        for mid, ok, msg in store.verify():
            print(f"{'OK  ' if ok else 'FAIL'} {mid}: {msg}")
            bad += not ok
        return 1 if bad else 0
    if args.models_cmd == "build":
        import importlib  # dynamic on purpose: torch-using builder, never imported by the CLI itself

        return int(importlib.import_module("wildlife_desktop.training.packs.cli_build").run_build(args, paths))
    if args.models_cmd == "install":
        return _install(args, store)
    if args.models_cmd == "default":
        return _default(args, store)
    if args.models_cmd == "remove":
        store.remove(args.id)
        print(f"Removed {args.id}")
        return 0
    if args.models_cmd in stages.COMMANDS:
        return stages.run(args, store, paths)
    raise AssertionError(args.models_cmd)


def add_parsers(sub: Any) -> None:
    m = sub.add_parser("models", help="list, import, verify or remove model packs")
    msub = m.add_subparsers(dest="models_cmd", required=True)
    ml = msub.add_parser("list", help="installed model packs: id, task, family, version, licence")
    ml.add_argument("--json", action="store_true", help="print the list as one JSON object")
    mi = msub.add_parser("import", help="a model pack (folder or .zip) or a bare .onnx")
    mi.add_argument("path", help="model pack folder, .zip or bare .onnx file")
    mi.add_argument("--family", choices=FAMILIES, help="for a bare .onnx: how its output is decoded")
    mi.add_argument("--labels", help="comma-separated labels in model output order")
    mi.add_argument("--input-size", type=int, help="for a bare .onnx: square input side in pixels "
                    "(default: read from the file)")
    mi.add_argument("--random-weights", action="store_true",
                    help="mark it as random weights (speed tests only, never used as a detector)")
    mi.add_argument("--id", help="id to install it under (default: from the file name)")
    msub.add_parser("verify", help="check every installed pack against its sha256")
    mr = msub.add_parser("remove", help="uninstall a model pack")
    mr.add_argument("id", help="installed model id (see: models list)")
    mi.add_argument("--accept-licence", action="store_true", help="accept a non-permissive model licence")
    mn = msub.add_parser("install", help="convert and install a real pretrained model: "
                                         + ", ".join(sorted(INSTALLERS)))
    mn.add_argument("name", choices=sorted(INSTALLERS), help="what to install")
    mn.add_argument("--from", dest="from_path", metavar="PATH",
                    help="local file or folder to install from (no download)")
    md = msub.add_parser("default", help="show or set the models used when none is named")
    md.add_argument("--detector", help="detector id used by detect and Run AI by default")
    md.add_argument("--classifier", help="classifier id used by default")
    mb = msub.add_parser("build", help="convert official weights (file or catalogue id) into a pack; needs torch")
    mb.add_argument("source", help="downloaded official weights file, or a catalogue id (e.g. mdv5a)")
    mb.add_argument("--id", help="catalogue id, when the file name is not the official one")
    mb.add_argument("--images", help="folder of real images for the torch-vs-ONNX parity check")
    mb.add_argument("--max-images", type=int, default=6, help="images used by the parity check (default 6)")
    mb.add_argument("--out", help="parent folder of the pack (default ./packs)")
    mb.add_argument("--cache", help="where downloaded weights are kept")
    mb.add_argument("--download", action="store_true", help="download from the official URL (needs internet)")
    mb.add_argument("--quantize", action="store_true", help="also write an int8 copy if the quantiser exists")
    mb.add_argument("--trust-unverified", action="store_true",
                    help="build a state-dict checkpoint (e.g. a classifier) no published checksum vouches for. It "
                         "is read with torch's weights_only loader (tensors only), and opened only in a separate "
                         "Python process (new empty temp folder, minimal environment, no image folder or app data "
                         "path) that hands back only the ONNX model and test outputs; not a sandbox: it runs as you. "
                         "Checkpoints that pickle whole models (MegaDetector v5/v6) are never accepted unverified")
    mb.add_argument("--install", action="store_true", help="install the pack after building it")
    mb.add_argument("--json", action="store_true", help="JSON-lines events on stdout")
    stages.add_parsers(msub)
    m.set_defaults(func=cmd_models)
