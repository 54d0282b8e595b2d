"""Help ▸ About: the version, the installed models with their licences and honest names, the folders.

A model with random weights is named as such here too (speed tests only, never a detector), and
each model's licence, source and citation come from its manifest, as shipped.
"""

from __future__ import annotations

import html
import platform
from importlib import metadata
from typing import Any

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QSettings, qVersion
from PySide6.QtWidgets import QWidget

from ... import __version__
from ...core.paths import AppPaths
from .help_dialogs import TextBrowserDialog

TASK_NAMES = {"detection": "detector", "classification": "classifier"}


def _version_of(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def model_rows(models: list[Any]) -> list[str]:
    """One HTML paragraph per installed model (from its manifest): name, id, task, version, licence, source."""
    rows = []
    for m in models:
        task = TASK_NAMES.get(m.task, m.task)
        warn = (" <b style='color:#b00020'>Random weights: speed tests only, its output means nothing.</b>"
                if m.random_weights else "")
        source = (f" · <a href='{html.escape(m.source_url, quote=True)}'>source</a>"
                  if m.source_url.startswith(("http://", "https://")) else "")
        cite = f"<br><i>Cite:</i> {html.escape(m.citation)}" if m.citation else ""
        rows.append(f"<p><b>{html.escape(m.name)}</b> ({html.escape(m.id)}, {task}, version "
                    f"{html.escape(m.version)})<br>Licence: {html.escape(m.licence or 'unknown')}{source}"
                    f"{warn}{cite}</p>")
    return rows


def about_html(paths: AppPaths, models: list[Any]) -> str:
    """The About text: app, models, folders and component versions."""
    models_html = "".join(model_rows(models)) or (
        "<p>No model installed. Install the recommended ones with "
        "<code>wildlife-desktop models install recommended</code>, or use <i>File ▸ Import model pack…</i></p>")
    folders = [("Models", paths.models), ("Data", paths.data), ("Logs", paths.logs),
               ("Settings", QSettings().fileName())]
    folder_rows = "".join(f"<tr><td>{name}</td><td><code>{html.escape(str(p))}</code></td></tr>"
                          for name, p in folders)
    versions = (f"Python {platform.python_version()} · Qt {qVersion()} · PySide6 {pyside_version} · "
                f"onnxruntime {_version_of('onnxruntime')} · numpy {_version_of('numpy')}")
    return (f"<h2>Wildlife Desktop {html.escape(__version__)}</h2>"
            "<p>Camera-trap images and videos to verified species records, offline, on the CPU. "
            "Licence: MIT.</p>"
            f"<h3>Installed models ({len(models)})</h3>{models_html}"
            f"<h3>Folders</h3><table cellspacing='4'>{folder_rows}</table>"
            f"<p style='color:gray'>{html.escape(versions)}</p>")


class AboutDialog(TextBrowserDialog):
    """Read-only text with the version, the installed models and the app's folders."""

    def __init__(self, paths: AppPaths, parent: QWidget | None = None) -> None:
        super().__init__(640, 520, parent)
        from ...runtime.store import ModelStore

        self.setWindowTitle(self.tr("About Wildlife Desktop"))
        self.models = ModelStore(paths).list()
        self.text.setHtml(about_html(paths, self.models))
