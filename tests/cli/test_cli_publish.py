"""``export --tables`` and ``export --species-folders`` as a user types them (in process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.publish_site import make_publish_site
from wildlife_desktop.cli import main


@pytest.fixture
def site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    folder = tmp_path / "site"
    results = make_publish_site(folder)
    assert main(["import-results", str(folder), str(results)]) == 0
    capsys.readouterr()
    return folder


def test_export_tables_and_xlsx(site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("openpyxl")
    out = tmp_path / "tables"
    assert main(["export", str(site), "--tables", str(out), "--xlsx"]) == 0
    printed = capsys.readouterr().out
    assert "Analysis tables: 4 species-event rows, 2 deployments." in printed
    assert {p.name for p in out.iterdir()} == {"events.csv", "deployments.csv", "analysis_tables.xlsx"}
    assert not (site / "detections.csv").read_text(encoding="utf-8-sig").count("bbox_width") > 1


def test_export_species_folders_blurs_and_refuses_link(site: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sorted"
    assert main(["export", str(site), "--species-folders", str(out), "--link"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --link cannot blur people") and "\n" not in err and not out.exists()
    assert main(["export", str(site), "--species-folders", str(out), "--annotated"]) == 0
    printed = capsys.readouterr().out
    assert "people 2" in printed and "species/zebra 3" in printed and "3 with people blurred" in printed
    assert main(["export", str(site), "--xlsx"]) == 1
    assert "--xlsx goes with --tables" in capsys.readouterr().err
