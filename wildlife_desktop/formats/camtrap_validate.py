"""Validate a Camtrap DP 1.0.2 package offline with frictionless (optional extra ``[camtrapdp]``).

A package names its profile and table schemas by their official URLs, as the standard requires,
and ``frictionless validate`` fetches them, and the two schemas the profile refers to (the
Frictionless Data Package profile and a GeoJSON schema), from the network. Here every fetch goes
through :class:`OfflineSession`, a ``requests`` session that answers from local copies only:

* the Camtrap DP profile and table schemas: the official files bundled in
  ``wildlife_desktop/assets/camtrap-dp-1.0.2/`` (MIT);
* ``https://specs.frictionlessdata.io/schemas/data-package.json``: the Data Package profile
  frictionless itself applies to every package (``Package.metadata_profile``);
* ``http://json.schemastore.org/geojson.json``: the GeoJSON schema frictionless ships
  (``frictionless/assets/profiles/geojson.json``).

Any other URL is refused (an error in the report), so validation never reaches the network.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..core.errors import WildlifeError

CAMTRAP_DP_VERSION: Final = "1.0.2"
CAMTRAP_DP_BASE_URL: Final = f"https://raw.githubusercontent.com/tdwg/camtrap-dp/{CAMTRAP_DP_VERSION}/"
PROFILE_URL: Final = CAMTRAP_DP_BASE_URL + "camtrap-dp-profile.json"
TABLES: Final = ("deployments", "media", "observations")
SCHEMA_URLS: Final[dict[str, str]] = {t: f"{CAMTRAP_DP_BASE_URL}{t}-table-schema.json" for t in TABLES}
ASSETS_DIR: Final = Path(__file__).resolve().parent.parent / "assets" / f"camtrap-dp-{CAMTRAP_DP_VERSION}"
DATA_PACKAGE_PROFILE_URL: Final = "https://specs.frictionlessdata.io/schemas/data-package.json"
GEOJSON_URLS: Final = ("http://json.schemastore.org/geojson.json", "https://json.schemastore.org/geojson.json")
INSTALL_HINT: Final = "pip install 'wildlife-desktop[camtrapdp]'"


@dataclass(frozen=True)
class ValidationResult:
    """What frictionless found: ``errors`` holds one line per problem (empty: valid)."""

    valid: bool
    errors: tuple[str, ...]


def bundled_schema(url: str) -> dict[str, Any]:
    """The local copy of an official Camtrap DP file named by its URL (profile or table schema)."""
    name = url.rsplit("/", 1)[-1]
    if url not in (PROFILE_URL, *SCHEMA_URLS.values()):
        raise KeyError(url)
    return json.loads((ASSETS_DIR / name).read_text(encoding="utf-8"))


def _offline_documents() -> dict[str, bytes]:
    import frictionless
    from frictionless import Package

    docs = {url: (ASSETS_DIR / url.rsplit("/", 1)[-1]).read_bytes() for url in (PROFILE_URL, *SCHEMA_URLS.values())}
    docs[DATA_PACKAGE_PROFILE_URL] = json.dumps(Package.metadata_profile).encode("utf-8")
    geojson = (Path(frictionless.__file__).parent / "assets" / "profiles" / "geojson.json").read_bytes()
    for url in GEOJSON_URLS:
        docs[url] = geojson
    return docs


def _offline_session(documents: Mapping[str, bytes]) -> Any:
    """A ``requests.Session`` that serves ``documents`` by URL and refuses every other request."""
    import requests
    from requests.adapters import BaseAdapter

    class _LocalAdapter(BaseAdapter):
        def send(  # noqa: ARG002 - requests' signature
            self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
            verify: Any = True, cert: Any = None, proxies: dict[str, str] | None = None,
        ) -> requests.Response:
            url = str(request.url)
            body = documents.get(url)
            if body is None:
                raise requests.ConnectionError(f"offline: {url} is not bundled with Wildlife Desktop")
            resp = requests.Response()
            resp.status_code, resp.url, resp.request = 200, url, request
            resp.headers["Content-Type"] = "application/json"
            resp.raw = _Raw(body)
            return resp

        def close(self) -> None:
            pass

    session = requests.Session()
    adapter = _LocalAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class _Raw:
    """The ``response.raw`` frictionless reads (``read(size)``, ``decode_content``)."""

    def __init__(self, body: bytes) -> None:
        import io

        self._buf = io.BytesIO(body)
        self.decode_content = True

    def read(self, size: int | None = None, **_: Any) -> bytes:
        return self._buf.read(-1 if size is None else size)

    def stream(self, chunk: int = 65536, **_: Any) -> Any:
        while data := self._buf.read(chunk):
            yield data

    def close(self) -> None:
        self._buf.close()

    def release_conn(self) -> None:
        pass


def frictionless_available() -> bool:
    try:
        import frictionless  # noqa: F401
    except ImportError:
        return False
    return True


def validate_package(descriptor_path: Path | str) -> ValidationResult:
    """Validate ``datapackage.json`` and its three tables against Camtrap DP 1.0.2, offline.

    The descriptor is checked against the profile (and, through it, the Data Package profile and
    GeoJSON), each CSV against its table schema (types, formats, enums, ranges, required, unique
    and primary keys) and the foreign keys between the tables.

    Raises:
        WildlifeError: frictionless is not installed (the message says how to install it).
    """
    if not frictionless_available():
        raise WildlifeError(f"Validating Camtrap DP needs frictionless: {INSTALL_HINT}")
    from frictionless import Package, system

    path = Path(descriptor_path).resolve()
    session = _offline_session(_offline_documents())
    errors: list[str] = []
    # frictionless's CSV parser raises the process-wide csv.field_size_limit when first imported;
    # our own CSV readers rely on the default limit to refuse hostile files, so it is put back.
    limit = csv.field_size_limit()
    with system.use_context(http_session=session):
        try:
            package = Package(str(path.name), basepath=str(path.parent))
            report = package.validate()
        except Exception as exc:  # noqa: BLE001 - frictionless raises its own kinds for bad descriptors
            return ValidationResult(False, (f"{type(exc).__name__}: {exc}",))
        finally:
            csv.field_size_limit(limit)
        for task in report.tasks:
            for err in task.errors:
                errors.append(f"{task.name}: {err.message}")
        for err in report.errors:
            errors.append(err.message)
    return ValidationResult(not errors, tuple(errors))
