"""Where the window keeps its settings, and how it names itself to the desktop.

Every ``QSettings()`` in the GUI (reviewer name, label lists, quick labels, window geometry,
recent folders) is an INI file under ``AppPaths.config``: with ``WILDLIFE_DESKTOP_HOME`` set
(portable mode) nothing goes to ``~/.config`` or the Windows registry, and a settings folder can
be copied with the rest of the app's data. :func:`use_settings_under` must run before the first
``QSettings()`` is made.

The desktop file name (``wildlife-desktop``, the installed ``.desktop`` file) lets Wayland
compositors and task bars match the window to its launcher and icon.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Final

from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtGui import QGuiApplication, QIcon, QPixmap

from ..core.paths import APP_NAME, AppPaths

DESKTOP_FILE_NAME: Final[str] = "wildlife-desktop"
ICON_RESOURCE: Final[str] = "app-256.png"


def use_settings_under(paths: AppPaths) -> Path:
    """Make every later ``QSettings()`` an INI file under ``paths.config``; returns that file's path."""
    if not QCoreApplication.organizationName():
        QCoreApplication.setOrganizationName(APP_NAME)
    if not QCoreApplication.applicationName():
        QCoreApplication.setApplicationName(APP_NAME)
    paths.config.mkdir(parents=True, exist_ok=True)
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(paths.config))
    return Path(QSettings().fileName())


def app_icon() -> QIcon:
    """The application icon shipped in the package (empty icon if missing)."""
    res = resources.files("wildlife_desktop").joinpath("assets").joinpath(ICON_RESOURCE)
    with resources.as_file(res) as path:
        return QIcon(QPixmap(str(path))) if Path(path).is_file() else QIcon()


def apply_identity(app: QGuiApplication) -> None:
    """Window icon and desktop file name (Wayland: the compositor matches the launcher by it)."""
    QGuiApplication.setDesktopFileName(DESKTOP_FILE_NAME)
    app.setWindowIcon(app_icon())
