"""Species label → taxon, from a table shipped as data (``wildlife_desktop/assets/taxonomy.csv``).

The table covers the labels of the models we support (the AI4G Amazon/Serengeti/Opossum
classifiers, the COCO animal classes NanoDet maps, the sample folders' species). A label maps
to the rank it can honestly name: ``deer`` is the family Cervidae, ``coyote`` the species
*Canis latrans*, ``porcupine`` only the order Rodentia (Old and New World porcupines are
different families). ``taxon_id`` (e.g. a GBIF key) is left empty unless verified.

Outputs that use it: ``recognitions.json`` (``classification_category_descriptions`` in the
7-field form Timelapse reads, :func:`timelapse_description`), Camtrap DP (``scientificName``,
``taxonomic``), and the analysis tables.

Matching is case-insensitive and ignores ``_``/``-``/repeated spaces; a row's ``aliases``
(``|``-separated), scientific name and common name match too. Unknown labels map to ``None``.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

TAXONOMY_CSV: Final = Path(__file__).resolve().parent.parent / "assets" / "taxonomy.csv"
COLUMNS: Final = ("label", "aliases", "scientific_name", "rank", "kingdom", "phylum", "class", "order",
                  "family", "genus", "species", "common_name", "taxon_id")
RANKS: Final = ("kingdom", "phylum", "class", "order", "family", "genus", "species", "subspecies")
_SPACES: Final = re.compile(r"[\s_\-]+")


@dataclass(frozen=True)
class Taxon:
    """One taxon. ``species`` is the epithet only (``latrans`` for *Canis latrans*)."""

    label: str
    scientific_name: str
    rank: str
    kingdom: str = ""
    phylum: str = ""
    class_: str = ""
    order: str = ""
    family: str = ""
    genus: str = ""
    species: str = ""
    common_name: str = ""
    taxon_id: str = ""


def normalise_label(label: str) -> str:
    """Lower case, ``_``/``-``/whitespace runs as one space, stripped."""
    return _SPACES.sub(" ", (label or "").strip().lower()).strip()


def timelapse_description(taxon: Taxon) -> str:
    """The 7-field taxonomy string Timelapse reads: ``guid;class;order;family;genus;species;common``.

    Lower case like SpeciesNet's; ranks the taxon does not name are empty
    (``;aves;;;;;bird`` for the class Aves).
    """
    fields = (taxon.taxon_id, taxon.class_, taxon.order, taxon.family, taxon.genus, taxon.species)
    parts = [f.strip().lower() for f in fields] + [taxon.common_name.strip().lower()]
    return ";".join(p.replace(";", ",") for p in parts)


@dataclass(frozen=True)
class Taxonomy:
    """The label → taxon table with its lookup index."""

    taxa: tuple[Taxon, ...]
    index: Mapping[str, Taxon]

    def lookup(self, label: str | None) -> Taxon | None:
        """The taxon a label names, or ``None``."""
        return self.index.get(normalise_label(label or "")) if label else None

    def descriptions(self, labels: Mapping[str, str]) -> dict[str, str]:
        """``{category id: timelapse description}`` for the ids whose label maps to a taxon."""
        out: dict[str, str] = {}
        for cid, label in labels.items():
            taxon = self.lookup(label)
            if taxon is not None:
                out[cid] = timelapse_description(taxon)
        return out


def build_taxonomy(rows: Iterable[Mapping[str, str]]) -> Taxonomy:
    """A :class:`Taxonomy` from rows with :data:`COLUMNS`; the first row naming a key wins.

    Raises:
        ValueError: a row without label or scientific name, or with an unknown rank.
    """
    taxa: list[Taxon] = []
    index: dict[str, Taxon] = {}
    for n, row in enumerate(rows, start=2):
        get = {k: (row.get(k) or "").strip() for k in COLUMNS}
        if not get["label"] or not get["scientific_name"] or get["rank"] not in RANKS:
            raise ValueError(f"taxonomy row {n}: needs label, scientific_name and a rank in {', '.join(RANKS)}")
        taxon = Taxon(
            label=get["label"], scientific_name=get["scientific_name"], rank=get["rank"], kingdom=get["kingdom"],
            phylum=get["phylum"], class_=get["class"], order=get["order"], family=get["family"],
            genus=get["genus"], species=get["species"], common_name=get["common_name"], taxon_id=get["taxon_id"],
        )
        taxa.append(taxon)
        keys = [taxon.label, *get["aliases"].split("|"), taxon.scientific_name, taxon.common_name]
        for key in keys:
            norm = normalise_label(key)
            if norm:
                index.setdefault(norm, taxon)
    return Taxonomy(tuple(taxa), index)


@functools.lru_cache(maxsize=4)
def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """The shipped table (or ``path``), read once."""
    with open(path or TAXONOMY_CSV, encoding="utf-8", newline="") as fh:
        return build_taxonomy(csv.DictReader(fh))
