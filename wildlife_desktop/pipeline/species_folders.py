"""Species folders and annotated copies (CLI ``export --species-folders``, *File > Export > Species folders…*).

Every file of the folder's results is copied (or hard-linked, ``link``) into one folder of
``OUT``: ``species/<label>/`` by its verified or top label, ``people/`` when a kept box is a
person, ``vehicles/`` when its top box is a vehicle, ``empty/`` and ``failed/``. The label is the
one the exports write (decisions merged, ``formats.coco.species_of``); a verified box wins over
a more confident unverified one; an animal without a species label goes to ``species/animal/``.

Originals are only read, never moved or modified. Two files with the same name in one folder get
unique names (the second is named after its relative path, ``cam2__IMG_0001.JPG``). Files are
written atomically, so a cancelled or killed export never leaves half a file; an export run again
into the same ``OUT`` replaces its files.

Privacy (``pipeline.privacy``): a copy that shows a person (at the detector's conservative
threshold, or verified) has every person box blurred by default, vehicles too with
``blur_vehicles``. A hard link cannot be blurred, so ``link`` is refused when some file would
need blurring, unless ``blur`` is off; a video with people is left out (videos are not blurred).
``annotated`` draws the kept boxes and their labels (Pillow) into the copies (after blurring).
Copies that are re-encoded (blurred or annotated) keep the original's EXIF with the orientation
reset, as the pixels are already upright.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np

from ..core.atomic import atomic_write_bytes
from ..core.errors import DatasetError
from ..core.paths import AppPaths
from ..core.progress import Cancelled, CancelToken
from ..formats.bundle import ExportBundle, ExportItem
from ..formats.coco import kept_indices
from ..formats.tables import box_label
from .analysis import decided_bundle
from .privacy import blur_array, categories, item_boxes, privacy_threshold

PEOPLE: Final = "people"
VEHICLES: Final = "vehicles"
EMPTY: Final = "empty"
FAILED: Final = "failed"
SPECIES: Final = "species"
_UNSAFE: Final = re.compile(r'[\x00-\x1f<>:"/\\|?*]+')
_RESERVED: Final = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                              *(f"lpt{i}" for i in range(1, 10))})
_COLOURS: Final = {"1": (46, 204, 64), "2": (255, 65, 54), "3": (0, 116, 217)}
_JPEG_QUALITY: Final = 92
_ORIENTATION_TAG: Final = 0x0112

ProgressFn = Callable[[int, int, str], None]


@dataclass(frozen=True)
class CopyOptions:
    """How the copies are made. ``blur`` is on by default (privacy); ``link`` hard-links when it can."""

    link: bool = False
    annotated: bool = False
    blur: bool = True
    blur_vehicles: bool = False


@dataclass(frozen=True)
class PlannedCopy:
    """One file to write: source, destination (relative to ``OUT``) and what to do with its pixels."""

    rel_path: str
    dest: str
    blur_boxes: tuple = ()  # tuple[BBox, ...]; empty: no blur needed
    skip_reason: str = ""  # set: the file is left out, with this reason


@dataclass(frozen=True)
class SpeciesFoldersReport:
    out_dir: Path
    per_folder: dict[str, int]
    copied: int
    linked: int
    blurred: int
    annotated: int
    link_fallbacks: int  # --link across devices (or on a file system without links): copied instead
    skipped: tuple[tuple[str, str], ...]
    cancelled: bool = False
    written: tuple[Path, ...] = field(default=(), repr=False)

    @property
    def files(self) -> int:
        return self.copied + self.linked


def safe_folder_name(label: str) -> str:
    """``label`` as a folder name on every OS: no separators or reserved characters or names."""
    name = _UNSAFE.sub("_", label).strip(" .") or "unlabelled"
    return f"_{name}" if name.lower().split(".")[0] in _RESERVED else name


def destination_folder(item: ExportItem, detection_threshold: float, classification_threshold: float) -> str:
    """The folder of ``OUT`` for a file: ``species/<label>``, ``people``, ``vehicles``, ``empty`` or ``failed``."""
    pred = item.prediction
    if pred.failed:
        return FAILED
    keep = kept_indices(item, detection_threshold)
    if not keep:
        return EMPTY
    if any(pred.detections[i].category == "2" for i in keep):
        return PEOPLE
    top = next((i for i in keep if item.is_verified(i)), keep[0])
    label, cat = box_label(item, top, classification_threshold)
    if cat == "vehicle":
        return VEHICLES
    return f"{SPECIES}/{safe_folder_name(label)}"


def plan_copies(bundle: ExportBundle, options: CopyOptions, person_threshold: float) -> list[PlannedCopy]:
    """Where every file goes and which boxes its copy blurs (names made unique per folder)."""
    taken: dict[str, set[str]] = {}
    plan: list[PlannedCopy] = []
    cats = categories(options.blur_vehicles)
    for item in sorted(bundle.items, key=lambda it: it.prediction.rel_path):
        pred = item.prediction
        folder = destination_folder(item, bundle.detection_threshold, bundle.classification_threshold)
        boxes = item_boxes(item, person_threshold, cats) if options.blur and not pred.failed else ()
        used = taken.setdefault(folder, set())
        name = _unique_name(pred.rel_path, used)
        used.add(name.lower())
        skip = ""
        if boxes and pred.kind == "video":
            skip = "a video with people cannot be blurred (left out; --no-blur copies it)"
        plan.append(PlannedCopy(pred.rel_path, f"{folder}/{name}", boxes, skip))
    return plan


def _unique_name(rel_path: str, used: set[str]) -> str:
    base = rel_path.rsplit("/", 1)[-1]
    if base.lower() not in used:
        return base
    flat = safe_folder_name(rel_path.replace("/", "__"))
    stem, dot, ext = flat.rpartition(".")
    if not dot:
        stem, ext = flat, ""
    name, n = flat, 2
    while name.lower() in used:
        name = f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})"
        n += 1
    return name


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True


def export_species_folders(
    folder: Path,
    out_dir: Path,
    options: CopyOptions | None = None,
    *,
    paths: AppPaths | None = None,
    detection_threshold: float | None = None,
    classification_threshold: float | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> SpeciesFoldersReport:
    """Copy (or link) the folder's files into species/people/vehicles/empty/failed folders of ``out_dir``.

    Raises:
        DatasetError: no results, ``out_dir`` inside the image folder, or ``link`` with copies that
            need blurring or annotating (one line each, before anything is written).
    """
    opts = options or CopyOptions()
    folder, out_dir = Path(folder), Path(out_dir)
    if _inside(out_dir, folder):
        raise DatasetError(f"Choose an output folder outside {folder}: copies inside it would be scanned as new "
                           "images the next time the folder is opened.")
    if opts.link and opts.annotated:
        raise DatasetError("--link cannot draw boxes into a hard link: drop --link to write annotated copies.")
    decided = decided_bundle(folder, paths, detection_threshold=detection_threshold,
                             classification_threshold=classification_threshold)
    bundle = decided.bundle
    plan = plan_copies(bundle, opts, privacy_threshold(decided.results.layer))
    need_blur = [p for p in plan if p.blur_boxes and not p.skip_reason]
    if opts.link and need_blur:
        raise DatasetError(f"--link cannot blur people: {len(need_blur)} file(s) show people (e.g. "
                           f"{need_blur[0].rel_path}); add --no-blur to link them unblurred, or drop --link to "
                           "write blurred copies.")
    items = {it.prediction.rel_path: it for it in bundle.items}
    counts: dict[str, int] = {}
    written: list[Path] = []
    copied = linked = blurred = annotated = fallbacks = 0
    skipped: list[tuple[str, str]] = [(p.rel_path, p.skip_reason) for p in plan if p.skip_reason]
    todo = [p for p in plan if not p.skip_reason]
    cancelled = False
    for n, p in enumerate(todo):
        try:
            if cancel is not None:
                cancel.checkpoint()
        except Cancelled:
            cancelled = True
            break
        src, dst = folder / p.rel_path, out_dir / p.dest
        dst.parent.mkdir(parents=True, exist_ok=True)
        item = items[p.rel_path]
        draw = opts.annotated and item.prediction.kind == "image" and not item.prediction.failed
        try:
            if p.blur_boxes or draw:
                atomic_write_bytes(dst, _rendered(src, item, bundle, p.blur_boxes if opts.blur else (), draw),
                                   durable=False)
                blurred += bool(p.blur_boxes)
                annotated += draw
                copied += 1
            elif opts.link and _link(src, dst):
                linked += 1
            else:
                fallbacks += opts.link
                _copy(src, dst)
                copied += 1
        except (OSError, ValueError) as exc:  # an unreadable source: said, the rest goes on
            skipped.append((p.rel_path, f"cannot copy: {getattr(exc, 'strerror', None) or exc}"))
            continue
        written.append(dst)
        top = p.dest.rsplit("/", 1)[0]
        counts[top] = counts.get(top, 0) + 1
        if progress is not None:
            progress(n + 1, len(todo), p.rel_path)
    return SpeciesFoldersReport(out_dir, dict(sorted(counts.items())), copied, linked, blurred, annotated,
                                fallbacks, tuple(skipped), cancelled, tuple(written))


def _link(src: Path, dst: Path) -> bool:
    """Hard-link ``src`` at ``dst`` (replacing it); False when links are impossible here (other device)."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.link")
    try:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.link(src, tmp)
    except OSError as exc:
        if exc.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
            return False
        raise
    os.replace(tmp, dst)
    return True


def _copy(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` through a temporary file in the same folder (atomic replace)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out, 1 << 20)
        shutil.copystat(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _rendered(src: Path, item: ExportItem, bundle: ExportBundle, boxes: Sequence, draw: bool) -> bytes:
    """The image's bytes with ``boxes`` blurred and, when ``draw``, the kept boxes drawn and labelled."""
    from PIL import Image

    from ..core.errors import ImageReadError
    from .images import load_image

    try:
        array = load_image(src).array
    except ImageReadError as exc:
        raise ValueError(str(exc)) from None
    array = blur_array(array, boxes)
    im = Image.fromarray(np.ascontiguousarray(array))
    if draw:
        _annotate(im, item, bundle)
    fmt = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF"}.get(src.suffix.lower(), "JPEG")
    kwargs: dict[str, object] = {"quality": _JPEG_QUALITY} if fmt == "JPEG" else {}
    exif = _upright_exif(src)
    if exif is not None and fmt in ("JPEG", "TIFF", "PNG"):
        kwargs["exif"] = exif
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _upright_exif(src: Path) -> bytes | None:
    """The original's EXIF (capture time, camera) with the orientation reset; None when unreadable."""
    from PIL import Image

    try:
        with Image.open(src) as im:
            exif = im.getexif()
            if not exif:
                return None
            exif[_ORIENTATION_TAG] = 1
            return exif.tobytes()
    except Exception:  # noqa: BLE001 - a broken EXIF block only loses metadata in the copy
        return None


def _annotate(im: object, item: ExportItem, bundle: ExportBundle) -> None:
    from PIL import ImageDraw, ImageFont

    draw = ImageDraw.Draw(im)  # type: ignore[arg-type]
    w, h = im.size  # type: ignore[attr-defined]
    line = max(2, round(max(w, h) / 400))
    font = ImageFont.load_default(size=max(12, round(max(w, h) / 60)))
    pred = item.prediction
    for i in kept_indices(item, bundle.detection_threshold):
        det = pred.detections[i]
        label, _cat = box_label(item, i, bundle.classification_threshold)
        caption = f"{label} (verified)" if item.is_verified(i) else f"{label} {det.confidence:.2f}"
        colour = _COLOURS.get(det.category, (255, 220, 0))
        x, y, bw, bh = det.bbox.to_pixels(w, h)
        draw.rectangle((x, y, x + bw, y + bh), outline=colour, width=line)
        left, top, right, bottom = draw.textbbox((0, 0), caption, font=font)
        th, tw = bottom - top + 4, right - left + 8
        ty = y - th if y - th >= 0 else y  # above the box, inside it at the image's top edge
        draw.rectangle((x, ty, x + tw, ty + th), fill=colour)
        draw.text((x + 4, ty + 2 - top), caption, fill=(0, 0, 0) if sum(colour) > 400 else (255, 255, 255), font=font)

