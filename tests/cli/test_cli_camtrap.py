"""``project set`` and ``export --camtrap-dp`` as a user types them (in process), on a real sample run."""

from __future__ import annotations

import csv
import json
import shutil
import socket
from pathlib import Path

import pytest

from wildlife_desktop.cli import main


def test_project_then_camtrap_export_offline(tmp_path: Path, shared: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "caltech"
    shutil.copytree(shared / "samples" / "caltech_cct", folder)
    assert main(["import-results", str(folder), str(folder / "mdv6_yolov10c_pytorchwildlife_output.json")]) == 0
    capsys.readouterr()

    def refuse(*_a: object, **_k: object) -> None:
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    out = tmp_path / "package"
    assert main(["export", str(folder), "--camtrap-dp", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Camtrap DP needs contributors") and "\n" not in err

    assert main(["project", "set", str(folder), "location.caltech.lat=nope"]) == 1
    assert "not a number" in capsys.readouterr().err
    assert main(["project", "set", str(folder), "contributors=Ana Silva <ana@example.org> (contact)",
                 "timezone=-08:00", "location.caltech.lat=34.123456", "location.caltech.lon=-118.987654"]) == 0
    shown = capsys.readouterr().out
    assert json.loads(shown[shown.index("{"):])["locations"] == {"caltech": {"lat": 34.123456, "lon": -118.987654}}

    assert main(["export", str(folder), "--camtrap-dp", str(out), "--coordinate-decimals", "1"]) == 0
    printed = capsys.readouterr().out
    assert "Valid against the Camtrap DP 1.0.2 profile" in printed
    with open(out / "deployments.csv", encoding="utf-8", newline="") as fh:
        dep = next(csv.DictReader(fh))
    assert (dep["latitude"], dep["longitude"]) == ("34.1", "-119.0")

    assert main(["export", str(folder), "--coco-boxed-only"]) == 0
    boxed = Path(next(line for line in capsys.readouterr().out.splitlines() if line.endswith("_boxed.json")))
    coco = json.loads(boxed.read_text(encoding="utf-8"))
    assert coco["annotations"] and all("bbox" in a for a in coco["annotations"])
