"""Installed model packs: ``<paths.models>/<id>/manifest.json`` + the ONNX file.

Every file is checked against the manifest's sha256 before it is loaded, so a damaged or
swapped file is never run. Installs are atomic: the pack is assembled in a temporary folder
under ``paths.models`` and moved into place with ``os.replace``.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import replace as dc_replace
from datetime import datetime, timezone
from pathlib import Path

from ..core.errors import ModelLoadError, ModelPackError
from ..core.paths import AppPaths
from .classifier import Classifier
from .composite import CompositeDetector, read_composite_spec
from .detector import Detector
from .families import FAMILIES
from .manifest import MANIFEST_NAME, ModelManifest, load_manifest, save_manifest
from .session import OnnxInfo, inspect_onnx, make_session, tensor_infos

CHUNK = 1 << 20
#: In a pack folder of the store, names the read-only folder that holds the ONNX file of a pack
#: registered in place (:meth:`ModelStore.import_pack` with ``in_place=True``, e.g. bundled packs).
IN_PLACE_LINK = "in_place.txt"


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks.

    Raises:
        ModelLoadError: the file cannot be read.
    """
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(CHUNK):
                h.update(block)
    except OSError as exc:
        raise ModelLoadError(f"Cannot read model file {path}: {exc.strerror or exc}") from exc
    return h.hexdigest()


def _copy_hashing(src: Path, dst: Path) -> str:
    h = hashlib.sha256()
    try:
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            while block := fin.read(CHUNK):
                h.update(block)
                fout.write(block)
            fout.flush()
            os.fsync(fout.fileno())
    except OSError as exc:
        raise ModelPackError(f"Cannot copy model file {src}: {exc.strerror or exc}") from exc
    return h.hexdigest()


def _is_random(info: OnnxInfo) -> bool:
    return "random" in info.metadata.get("weights", "").lower()


def _safe_id(stem: str) -> str:
    ident = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._")[:80]
    return ident or "model"


class ModelStore:
    """The application's installed model packs.

    Args:
        paths: application folders; packs live under ``paths.models``.
    """

    def __init__(self, paths: AppPaths):
        self.root = Path(paths.models)

    # ----------------------------------------------------------------- queries
    def _pack_dir(self, model_id: str) -> Path:
        if not model_id or "/" in model_id or "\\" in model_id or model_id.startswith("."):
            raise ModelLoadError(f"Invalid model id {model_id!r}")
        return self.root / model_id

    def list(self) -> list[ModelManifest]:
        """Manifests of all installed packs whose manifest is readable, sorted by id.

        Broken packs are left out here; :meth:`verify` reports them.
        """
        if not self.root.is_dir():
            return []
        result = []
        for d in sorted(self.root.iterdir()):
            if d.name.startswith(".") or not d.is_dir():
                continue
            with contextlib.suppress(ModelLoadError):
                result.append(load_manifest(d / MANIFEST_NAME))
        return result

    def get(self, model_id: str) -> tuple[ModelManifest, Path]:
        """Manifest and ONNX path of an installed pack (the file is not hashed here).

        Raises:
            ModelLoadError: the pack is not installed or its manifest is unreadable.
        """
        d = self._pack_dir(model_id)
        if not (d / MANIFEST_NAME).is_file():
            resolved = self.resolve(model_id)
            if resolved is not None and resolved != model_id:
                return self.get(resolved)  # a versioned name -> its production version (runtime.stages)
            raise ModelLoadError(self._not_installed(model_id) + " Import its model pack first.")
        m = load_manifest(d / MANIFEST_NAME)
        return m, self.pack_source(model_id) / m.file

    def resolve(self, ref: str) -> str | None:
        """The installed pack id ``ref`` stands for: a pack id as it is, a versioned name
        (``kenya-mammals``) -> its production version, ``NAME@N`` -> ``NAME-vN`` (see :mod:`.stages`)."""
        from .stages import resolve

        root = self.root
        installed = [d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")] \
            if root.is_dir() else []
        return resolve(self.root, installed, ref)

    def _not_installed(self, model_id: str) -> str:
        """"Model 'x' is not installed (installed: a, b)." - the ids a user could have meant."""
        ids = [m.id for m in self.list()]
        installed = "installed: " + ", ".join(ids) if ids else "none is installed"
        return f"Model '{model_id}' is not installed ({installed})."

    def pack_source(self, model_id: str) -> Path:
        """Folder holding the pack's ONNX file: the store's folder, or the one it was registered from in place."""
        d = self._pack_dir(model_id)
        link = d / IN_PLACE_LINK
        if link.is_file():
            try:
                return Path(link.read_text(encoding="utf-8").strip())
            except OSError as exc:
                raise ModelLoadError(f"Model '{model_id}': cannot read {link}: {exc}") from exc
        return d

    def _checked(self, model_id: str, task: str) -> tuple[ModelManifest, Path]:
        m, path = self.get(model_id)
        if m.task != task:
            raise ModelLoadError(f"Model '{model_id}' is a {m.task} model, not a {task} model")
        if not path.is_file():
            raise ModelLoadError(
                f"Model '{model_id}': its file {m.file} is missing. Re-import the model pack."
            )
        actual = sha256_file(path)
        if actual != m.sha256:
            raise ModelLoadError(
                f"Model '{model_id}': file {m.file} does not match its manifest (sha256 {actual[:12]}... "
                f"instead of {m.sha256[:12]}...). It was damaged or replaced; it will not be run. "
                f"Remove the model and re-import the model pack."
            )
        return m, path

    def default_id(self, task: str = "detection") -> str | None:
        """The model used when none is named (:mod:`.defaults`).

        For ``detection``: the stored default, else the first installed detector with real weights,
        else any detector, else ``None``. For ``classification``: only a classifier the user chose
        (species labels are never added unasked; an ImageNet feature extractor is no species model).
        """
        from .defaults import choose, load_defaults

        stored = load_defaults(self.root)
        if task == "classification":
            return choose(self.list(), stored.classifier, task) if stored.classifier else None
        return choose(self.list(), stored.detector, task)

    def open_detector(self, model_id: str, *, intra_threads: int | None = None) -> Detector | CompositeDetector:
        """Verify the pack's sha256, then load it as a :class:`Detector` (or, for a composite
        pack, a :class:`CompositeDetector` over its members, each sha256-checked too).

        Raises:
            ModelLoadError: not installed, not a detector, tampered/damaged, or unloadable; a
                composite whose member is missing or changed.
        """
        m, path = self._checked(model_id, "detection")
        if FAMILIES[m.family].file_kind == "composite":
            return CompositeDetector(m, path, self._open_member, intra_threads=intra_threads)
        return Detector(m, path, intra_threads=intra_threads)

    def _open_member(self, member_id: str, intra_threads: int | None) -> Detector:
        m, path = self._checked(member_id, "detection")
        if FAMILIES[m.family].file_kind != "onnx":
            raise ModelLoadError(f"Model '{member_id}' is itself a composite; a composite's members must be models")
        return Detector(m, path, intra_threads=intra_threads)

    def open_classifier(self, model_id: str, *, intra_threads: int | None = None) -> Classifier:
        """Verify the pack's sha256, then load it as a :class:`Classifier`.

        Raises:
            ModelLoadError: not installed, not a classifier, tampered/damaged, or unloadable.
        """
        m, path = self._checked(model_id, "classification")
        return Classifier(m, path, intra_threads=intra_threads)

    def verify(self) -> builtins.list[tuple[str, bool, str]]:
        """Check every installed pack: ``(id, ok, message)`` per pack folder."""
        report: builtins.list[tuple[str, bool, str]] = []
        if not self.root.is_dir():
            return report
        for d in sorted(self.root.iterdir()):
            if d.name.startswith(".") or not d.is_dir():
                continue
            try:
                m, path = self._checked(d.name, load_manifest(d / MANIFEST_NAME).task)
                if m.id != d.name:
                    raise ModelLoadError(f"manifest id '{m.id}' does not match folder '{d.name}'")
            except ModelLoadError as exc:
                report.append((d.name, False, str(exc)))
            else:
                note = " (random weights: not a real model)" if m.random_weights else ""
                report.append((d.name, True, f"OK, sha256 {m.sha256[:12]}...{note}"))
        return report

    # ----------------------------------------------------------------- changes
    def remove(self, model_id: str) -> None:
        """Uninstall a pack.

        Raises:
            ModelLoadError: the pack is not installed.
        """
        d = self._pack_dir(model_id)
        if not d.is_dir():
            raise ModelLoadError(self._not_installed(model_id))
        trash = Path(tempfile.mkdtemp(prefix=f".rm-{model_id}-", dir=self.root))
        os.replace(d, trash / "pack")
        shutil.rmtree(trash, ignore_errors=True)

    def import_pack(self, path: Path | str, *, replace: bool = False, in_place: bool = False) -> ModelManifest:
        """Install a pack from a folder (``manifest.json`` + ONNX file) or a ``.zip`` of one.

        Args:
            path: the folder or zip file.
            replace: allow replacing an installed pack of the same id with a different file.
            in_place: (folders only) register the pack where it is, without copying its ONNX file
                (packs bundled read-only with the application); the file is still sha256-checked
                now and before every load.

        Returns:
            The installed manifest (``random_weights`` forced on when the ONNX says so).

        Raises:
            ModelPackError: malformed pack, checksum mismatch, not ONNX, or id conflict.
        """
        path = Path(path)
        if path.is_dir():
            return self._import_folder(path, replace, in_place=in_place)
        if in_place:
            raise ModelPackError(f"{path}: only a pack folder can be registered in place")
        if path.is_file() and zipfile.is_zipfile(path):
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix=".unzip-", dir=self.root) as tmp:
                folder = self._extract(path, Path(tmp))
                return self._import_folder(folder, replace)
        raise ModelPackError(f"{path} is not a model pack (expected a folder or a .zip with {MANIFEST_NAME})")

    def _extract(self, zpath: Path, dest: Path) -> Path:
        try:
            with zipfile.ZipFile(zpath) as zf:
                for name in zf.namelist():
                    target = (dest / name).resolve()
                    if not target.is_relative_to(dest.resolve()):
                        raise ModelPackError(f"{zpath.name}: unsafe path {name!r} in zip")
                zf.extractall(dest)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ModelPackError(f"Cannot unpack {zpath.name}: {exc}") from exc
        manifests = sorted(dest.rglob(MANIFEST_NAME), key=lambda p: len(p.parts))
        if not manifests:
            raise ModelPackError(f"{zpath.name} does not contain a {MANIFEST_NAME}")
        return manifests[0].parent

    def _import_folder(self, folder: Path, replace: bool, *, in_place: bool = False) -> ModelManifest:
        m = load_manifest(folder / MANIFEST_NAME)
        src = folder / m.file
        if not src.is_file():
            raise ModelPackError(f"Model pack '{m.id}': file {m.file} is missing from the pack")
        return self._install(m, src, replace=replace, expect_sha=m.sha256, in_place=in_place)

    def import_onnx(
        self,
        onnx_path: Path | str,
        *,
        family: str,
        labels: Sequence[str],
        input_size: int | None = None,
        random_weights: bool = False,
        model_id: str | None = None,
        licence: str = "unknown",
        source_url: str = "",
        replace: bool = False,
    ) -> ModelManifest:
        """Install a bare ONNX file as a pack, writing its manifest.

        Args:
            onnx_path: the ``.onnx`` file.
            family: one of :data:`~.families.FAMILIES`.
            labels: class names in output order.
            input_size: network input side; read from the file when its input shape is fixed.
            random_weights: mark as a random-weights twin (forced on by a ``weights`` metadata
                property mentioning "random").
            model_id: pack id (default: the file stem, made folder-safe).
            licence: licence of the weights.
            source_url: where the file came from.
            replace: allow replacing an installed pack of the same id with a different file.

        Returns:
            The installed manifest.

        Raises:
            ModelPackError: unknown family, unreadable or non-ONNX file, missing input size, id conflict.
        """
        src = Path(onnx_path)
        spec = FAMILIES.get(family)
        if spec is None:
            raise ModelPackError(f"Unknown model family {family!r}; known: {', '.join(sorted(FAMILIES))}")
        info = self._inspect(src)
        fixed = info.inputs[0].fixed_hw if info.inputs else None
        if input_size is None:
            if fixed is None:
                raise ModelPackError(f"{src.name} has a dynamic input size: give input_size explicitly")
            input_size = max(fixed)
        letterbox = spec.default_letterbox or ("square" if fixed else "classic")
        m = ModelManifest(
            id=model_id or _safe_id(src.stem), version="1", name=src.stem, family=family, task=spec.task,
            file=src.name, sha256=sha256_file(src), input_size=int(input_size), labels=tuple(labels),
            letterbox=letterbox if spec.task == "detection" else None, stride=spec.default_stride,
            licence=licence, source_url=source_url, random_weights=bool(random_weights),
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            extra=(("onnx_metadata", info.metadata),) if info.metadata else (),
        )
        return self._install(m, src, replace=replace, expect_sha=m.sha256, info=info)

    # ----------------------------------------------------------------- helpers
    @staticmethod
    def _inspect(src: Path) -> OnnxInfo:
        try:
            return inspect_onnx(src)
        except ModelPackError:
            raise
        except ModelLoadError as exc:
            raise ModelPackError(str(exc)) from exc

    @staticmethod
    def _checked_onnx(m: ModelManifest, src: Path, info: OnnxInfo) -> ModelManifest:
        spec = FAMILIES[m.family]
        if not info.inputs or not info.outputs:
            raise ModelPackError(f"Model pack '{m.id}': the ONNX file has no inputs or outputs")
        fixed = info.inputs[0].fixed_hw
        if spec.outputs is not None:
            hw = info.inputs[0].fixed_hw_in(m.input_layout) or (m.input_size, m.input_size)
            outputs = info.outputs
            if not all(isinstance(d, int) for o in outputs for d in o.shape):
                # shapes are often only inferred by the optimiser (e.g. tf2onnx exports): ask it
                outputs = tensor_infos(make_session(src, intra_threads=1).get_outputs())
            picked = spec.outputs.match([o.shape for o in outputs], len(m.labels), hw)
            problem = picked if isinstance(picked, str) else None
        else:
            problem = spec.check_output(info.outputs[0].shape, len(m.labels))
        if problem:
            raise ModelPackError(f"Model pack '{m.id}' ({m.family}): {problem}")
        if fixed is not None and m.input_size != max(fixed):
            raise ModelPackError(f"Model pack '{m.id}': input_size {m.input_size} does not match the "
                                 f"ONNX input {fixed[0]}x{fixed[1]}")
        if _is_random(info) and not m.random_weights:
            m = dc_replace(m, random_weights=True)
        return m

    def _install(self, m: ModelManifest, src: Path, *, replace: bool, expect_sha: str,
                 info: OnnxInfo | None = None, in_place: bool = False) -> ModelManifest:
        spec = FAMILIES[m.family]
        if spec.file_kind == "composite":
            read_composite_spec(src, m.id)  # a clear error for a malformed spec; members are checked on open
        else:
            m = self._checked_onnx(m, src, info or self._inspect(src))

        dest = self._pack_dir(m.id)
        if dest.exists() and not replace:
            try:
                old_sha = load_manifest(dest / MANIFEST_NAME).sha256
            except ModelLoadError:
                old_sha = "(unreadable manifest)"
            if old_sha != m.sha256:
                raise ModelPackError(
                    f"A different model with id '{m.id}' is already installed (sha256 {old_sha[:12]}...). "
                    f"Remove it first, choose another id, or import with replace."
                )
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".install-{m.id}-", dir=self.root))
        try:
            if in_place:
                copied = sha256_file(src)
                (tmp / IN_PLACE_LINK).write_text(str(src.parent.resolve()), encoding="utf-8")
            else:
                copied = _copy_hashing(src, tmp / m.file)
            if copied != expect_sha:
                raise ModelPackError(
                    f"Model pack '{m.id}': file {m.file} does not match the manifest's sha256 "
                    f"(got {copied[:12]}..., expected {expect_sha[:12]}...). The copy is damaged."
                )
            save_manifest(tmp / MANIFEST_NAME, m)
            if dest.exists():
                old_dir = Path(tempfile.mkdtemp(prefix=f".old-{m.id}-", dir=self.root))
                os.replace(dest, old_dir / "pack")
                os.replace(tmp, dest)
                shutil.rmtree(old_dir, ignore_errors=True)
            else:
                os.replace(tmp, dest)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return m
