"""Model versions and stages: promote / rollback change which version Run AI uses (core, CLI)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import SHARED
from tests.fixtures.tiny_onnx import tiny_classifier, tiny_yolov10
from wildlife_desktop.cli import main
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.pipeline.job import JobConfig, run_job
from wildlife_desktop.pipeline.results import load_results
from wildlife_desktop.runtime import stages
from wildlife_desktop.runtime.store import ModelStore


@pytest.fixture
def store() -> ModelStore:
    return ModelStore(AppPaths.default().ensure())


def _install_versions(store: ModelStore, tmp_path: Path, name: str, n: int) -> list[str]:
    """``n`` versions of ``name`` (tiny classifiers of different sizes: different files), registered as
    fine-tuning registers them."""
    ids = []
    for v in range(1, n + 1):
        onnx = tiny_classifier(tmp_path / f"{name}-{v}.onnx", size=16 + 8 * v)
        m = store.import_onnx(onnx, family="classifier", labels=("red", "green", "blue"), model_id=f"{name}-v{v}")
        ids.append(m.id)
        stages.register_version(store.root, [x.id for x in store.list()], m.id)
    return ids


def _installed(store: ModelStore) -> list[str]:
    return [m.id for m in store.list()]


def test_first_version_is_production_later_ones_staging_and_names_resolve(store: ModelStore, tmp_path: Path) -> None:
    v1, v2, v3 = _install_versions(store, tmp_path, "kenya", 3)
    reg = stages.load_registry(store.root)
    assert [reg.stage(i) for i in (v1, v2, v3)] == ["production", "staging", "staging"]
    assert store.resolve("kenya") == v1 and store.get("kenya")[0].id == v1
    assert store.resolve("kenya@3") == v3 and store.get("kenya-v2")[0].id == v2
    assert store.open_classifier("kenya").manifest.id == v1
    choices = stages.classifier_choices(store.root, store.list())
    assert choices[0] == (f"{store.get(v1)[0].name} (production: v1)", "kenya", v1)
    assert [c[1] for c in choices[1:]] == [v1, v2, v3]


def test_promote_needs_an_evaluation_then_rollback_restores(store: ModelStore, tmp_path: Path) -> None:
    v1, v2, v3 = _install_versions(store, tmp_path, "kenya", 3)
    with pytest.raises(stages.StageError, match="not been compared with the production version kenya-v1"):
        stages.promote(store.root, _installed(store), "kenya@2")
    stages.record_evaluation(store.root, v2, v1, {"n_crops": 5})
    assert stages.promote(store.root, _installed(store), "kenya@2").model_id == v2
    reg = stages.load_registry(store.root)
    assert (reg.stage(v1), reg.stage(v2), reg.stage(v3)) == ("archived", "production", "staging")
    assert store.resolve("kenya") == v2
    # an evaluation against the old production version no longer counts
    stages.record_evaluation(store.root, v3, v1, {"n_crops": 5})
    with pytest.raises(stages.StageError, match="kenya-v2"):
        stages.promote(store.root, _installed(store), "kenya")
    assert stages.promote(store.root, _installed(store), "kenya", force=True).model_id == v3
    assert stages.rollback(store.root, _installed(store), "kenya") == (v3, v2)
    assert stages.rollback(store.root, _installed(store), "kenya-v2") == (v2, v1)
    with pytest.raises(stages.StageError, match="no earlier production version"):
        stages.rollback(store.root, _installed(store), "kenya")
    assert store.resolve("kenya") == v1
    # a removed production version: the newest version that is not archived is used
    store.remove(v1)
    assert store.resolve("kenya") is None  # v2, v3 archived
    with pytest.raises(stages.StageError, match="No installed versions of 'nothing'"):
        stages.promote(store.root, _installed(store), "nothing")


def test_run_ai_uses_the_production_version_and_the_cli_changes_it(
    store: ModelStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    det = store.import_onnx(tiny_yolov10(tmp_path / "det.onnx"), family="yolov10",
                            labels=("animal", "person", "vehicle"))
    v1, v2 = _install_versions(store, tmp_path, "kenya", 2)
    folder = tmp_path / "card"
    folder.mkdir()
    for p in sorted((SHARED / "samples" / "md_repo_misc").glob("*.jpg"))[:2]:
        shutil.copy2(p, folder / p.name)

    def run_ai() -> str:
        cfg = JobConfig(folder=folder, detector_id=det.id, classifier_id="kenya")
        for _ in run_job(cfg, paths=AppPaths.default()):
            pass
        res = load_results(folder, AppPaths.default())
        assert res is not None
        return res.layer.classifier_id

    assert run_ai() == v1
    assert main(["models", "promote", "kenya@2"]) == 1
    assert "promote with --force" in capsys.readouterr().err
    assert main(["models", "promote", "kenya@2", "--force"]) == 0
    assert f"{v2} is now the production version" in capsys.readouterr().out
    assert run_ai() == v2
    assert main(["models", "versions"]) == 0
    out = capsys.readouterr().out
    assert "kenya: Run AI uses kenya-v2" in out and "archived" in out
    assert main(["models", "rollback", "kenya"]) == 0
    assert f"{v1} is the production version again" in capsys.readouterr().out
    assert run_ai() == v1
    assert main(["models", "rollback", "kenya"]) == 1
    assert "no earlier production version" in capsys.readouterr().err
