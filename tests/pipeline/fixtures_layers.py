"""A card with results of the tiny models, then another model's layer that missed an animal.

Shared by the tests of decisions that must follow their animal to another model's results.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.fixtures.folders import make_card
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.core.records import Detection
from wildlife_desktop.pipeline.job import JobConfig, run_job
from wildlife_desktop.pipeline.journal import Workspace
from wildlife_desktop.pipeline.results import FolderResults, export_folder, load_results


def card_with_results(shared: Path, root: Path, paths: AppPaths, models: tuple[str, str]
                      ) -> tuple[Path, FolderResults, list[str], dict[str, Detection]]:
    """Two real images under ``root/card`` run with ``models``: (card, results, files sorted, each file's first box)."""
    card = make_card(shared, root / "card", n_good=2, bad=False)
    list(run_job(JobConfig(card, models[0], models[1]), paths=paths))
    res = load_results(card, paths)
    assert res is not None
    rels = sorted(res.predictions)
    return card, res, rels, {rel: res.predictions[rel].detections[0] for rel in rels}


def rerun_missing(card: Path, paths: AppPaths, models: tuple[str, str], old_layer: str, rel: str) -> None:
    """Another model, then export: the same detector at another confidence floor is another layer, whose
    journal then loses ``rel``'s boxes (the model missed that animal)."""
    list(run_job(JobConfig(card, models[0], models[1], conf_floor=0.01), paths=paths))
    ws = Workspace.locate(card, paths, create=False)
    new = load_results(card, paths)
    assert ws is not None and new is not None and new.layer_id != old_layer
    journal = ws.journal(new.layer_id)
    key, pred = journal.load()[rel]
    journal.append(key, dataclasses.replace(pred, detections=()))
    journal.close()
    export_folder(card, paths=paths)
