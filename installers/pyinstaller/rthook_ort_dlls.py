"""PyInstaller runtime hook (Windows): let onnxruntime find its DLLs in the frozen app.

onnxruntime's ``capi`` folder holds ``onnxruntime.dll`` (and provider DLLs) next to the Python
extension; since Python 3.8 Windows no longer searches PATH for dependent DLLs, so the folder
is added explicitly (as X-AnyLabeling does).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if sys.platform == "win32" and hasattr(os, "add_dll_directory"):
    _base = Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
    for _sub in (_base / "onnxruntime" / "capi", _base):
        if _sub.is_dir():
            os.add_dll_directory(str(_sub))
