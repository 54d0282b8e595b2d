"""Where the application keeps its own data (models, caches, settings, logs).

``WILDLIFE_DESKTOP_HOME`` moves everything under one folder (portable mode, tests).
Nothing else in the code base calls platformdirs or expanduser.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "WildlifeDesktop"
HOME_ENV = "WILDLIFE_DESKTOP_HOME"


@dataclass(frozen=True)
class AppPaths:
    """The application's folders. Create them lazily with :meth:`ensure`."""

    config: Path
    data: Path
    cache: Path
    logs: Path

    @property
    def models(self) -> Path:
        return self.data / "models"

    @property
    def thumbnails(self) -> Path:
        return self.cache / "thumbnails"

    @classmethod
    def under(cls, root: Path) -> AppPaths:
        root = Path(root)
        return cls(config=root / "config", data=root / "data", cache=root / "cache", logs=root / "logs")

    @classmethod
    def default(cls) -> AppPaths:
        """Folders from ``WILDLIFE_DESKTOP_HOME`` when set, else the platform's usual places."""
        home = os.environ.get(HOME_ENV)
        if home:
            return cls.under(Path(home))
        import platformdirs

        return cls(
            config=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
            data=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
            cache=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
            logs=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
        )

    def ensure(self) -> AppPaths:
        for p in (self.config, self.data, self.cache, self.logs):
            p.mkdir(parents=True, exist_ok=True)
        return self

    def fallback_output_dir(self, folder: Path) -> Path:
        """Per-folder place for outputs when the image folder itself is read-only (SD card lock)."""
        resolved = str(Path(folder).resolve())
        digest = hashlib.sha1(resolved.encode("utf-8")).hexdigest()[:12]
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(folder).name)[:40] or "folder"
        return self.data / "outputs" / f"{safe}-{digest}"
