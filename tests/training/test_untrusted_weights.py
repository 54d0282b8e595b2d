"""``models build`` never runs code from a weights file nobody vouches for (issue 11, item 8).

The refusal happens before anything is unpickled, so it is tested without torch; the
``weights_only`` load of an accepted file needs torch and skips without it.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from tests.cli.test_cli import cli


class _Payload:
    """A pickle that creates ``marker`` when it is loaded (a stand-in for ``os.system``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (str(self.marker),))


def _evil(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps({"state_dict": _Payload(marker)}, protocol=2))
    return path


def test_unverified_checkpoint_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    name = "AI4GSnapshotSerengeti.ckpt"
    marker = tmp_path / "PWNED"
    weights = _evil(tmp_path / name, marker)
    res = cli("models", "build", str(weights), "--images", str(tmp_path), check=False)
    assert res.returncode == 1 and "--trust-unverified" in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.startswith(f"error: Refusing {name}")
    # it says exactly what --trust-unverified would do
    assert "weights_only" in res.stderr and "only in a separate Python process" in res.stderr
    assert "not a sandbox" in res.stderr
    assert not marker.exists()


@pytest.mark.parametrize("trust", [(), ("--trust-unverified",)])
def test_an_unverified_file_is_never_fully_unpickled_even_when_trusted(tmp_path: Path,
                                                                        trust: tuple[str, ...]) -> None:
    marker = tmp_path / "PWNED"
    weights = _evil(tmp_path / "md_v5a_renamed.pt", marker)  # MDv5 pickles the whole model
    res = cli("models", "build", str(weights), "--id", "mdv5a", "--images", str(tmp_path), *trust, check=False)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.startswith("error: Refusing md_v5a_renamed.pt")
    assert "only a file whose checksum matches the official release is ever unpickled" in res.stderr
    assert "--trust-unverified" not in res.stderr  # no way around it is offered
    assert not marker.exists()


def test_the_last_guard_checks_the_checksum_right_before_a_full_unpickle(tmp_path: Path) -> None:
    from wildlife_desktop.core.errors import ModelPackError
    from wildlife_desktop.runtime.catalogue import load_catalogue
    from wildlife_desktop.training.packs.fetch import require_official

    marker = tmp_path / "PWNED"
    entry = load_catalogue().get("mdv5a")
    official_name = entry.sources[0].filename
    weights = _evil(tmp_path / official_name, marker)  # the official name, but not the official bytes
    with pytest.raises(ModelPackError, match="Refusing"):
        require_official(weights, entry)
    assert not marker.exists()


def test_trust_unverified_help_says_what_happens() -> None:
    res = cli("models", "build", "--help")
    text = " ".join(res.stdout.split())
    assert "opened only in a separate Python process" in text and "not a sandbox" in text
    assert "weights_only" in text and "never accepted unverified" in text


def test_trusted_file_is_still_loaded_weights_only(tmp_path: Path, parity_images: list[Path]) -> None:
    pytest.importorskip("torch", exc_type=ImportError, reason="torch not installed: pip install torch==2.13.0")
    marker = tmp_path / "PWNED"
    weights = _evil(tmp_path / "AI4GSnapshotSerengeti.ckpt", marker)
    images = tmp_path / "imgs"
    images.mkdir()
    (images / parity_images[0].name).write_bytes(parity_images[0].read_bytes())
    res = cli("models", "build", str(weights), "--images", str(images), "--out", str(tmp_path / "packs"),
              "--trust-unverified", check=False)
    assert res.returncode == 1 and "Cannot load" in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert not marker.exists()
