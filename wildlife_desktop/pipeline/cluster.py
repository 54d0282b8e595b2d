"""A job's per-file step on a Ray cluster (the optional extra ``[cluster]``): :class:`RayPredictor`.

``run_job(config, predictor=RayPredictor(paths, ClusterOptions(address)))`` is the same job as a
local run: this process (the *driver*) scans the folder, holds its run lock, appends every result
to the layer journal and writes the sidecars; only the per-file prediction runs on the cluster.

* **Sharding**: the files still to do are cut into chunks of consecutive files of one folder
  (at most ``chunk_files`` each); each chunk is one task of a worker actor. Results are yielded
  in file order (a reorder buffer), so the journal and the sidecars are the ones a local run
  writes.
* **Models travel by content**: the driver reads each pack's manifest and model file (a
  composite's member packs too), checks their sha256 and puts them once in Ray's object store.
  Each worker actor writes them into a local cache folder named by their hashes (reused by
  later actors on that node), then opens them through :class:`ModelStore`, which checks the
  sha256 again before loading: a worker never runs a file other than the driver's.
* **Data access**: by default workers read ``folder/rel_path`` themselves (the folder must be
  mounted at the same path on every node: a network share); with ``send_bytes`` the driver
  reads each file and sends its bytes with the task.
* **Faults**: a file a worker cannot read is that file's failure entry (``job.predict_file``).
  A worker process that dies (``kill -9``, node lost) fails the chunks it held; its actor is
  restarted by Ray and those chunks are submitted again (at most ``max_attempts`` times each),
  so only the files in flight are processed twice. A driver that dies leaves the journal,
  which the next run resumes from, as a local run does.

Ray binds to 127.0.0.1 only for ``address="auto"`` (a private cluster on this machine).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..core.errors import ModelLoadError, WildlifeError
from ..core.paths import AppPaths
from ..core.progress import CancelToken
from ..core.records import MediaFile, Prediction
from ..runtime.manifest import MANIFEST_NAME, load_manifest
from ..runtime.store import ModelStore
from .predict import PredictOptions, failed

logger = logging.getLogger(__name__)

RAY_MISSING: Final = "Ray is not installed: pip install 'wildlife-desktop[cluster]'"
#: Set before Ray is imported for a private cluster: Ray then takes 127.0.0.1 as the node's
#: address and its servers listen on the loopback interface only.
_LOOPBACK_ENV: Final = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


class ClusterError(WildlifeError):
    """Ray is missing, the cluster cannot be reached, or it kept losing the workers of a chunk."""


def import_ray() -> Any:
    """The ``ray`` module, or :class:`ClusterError` with the one-line install hint."""
    try:
        import ray
    except ImportError as exc:
        raise ClusterError(RAY_MISSING) from exc
    return ray


def require_ray() -> None:
    """:class:`ClusterError` with the install hint when Ray is missing, without importing it (Ray
    reads its settings from the environment when imported: :func:`connected` sets them first)."""
    import importlib.util

    try:
        found = importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ClusterError(RAY_MISSING)


@dataclass(frozen=True)
class ClusterOptions:
    address: str = "auto"  # "auto": a private cluster on 127.0.0.1; else a running cluster's address
    workers: int | None = None  # worker actors (1 CPU each); None = one per CPU of the cluster
    chunk_files: int = 16  # files per task (one folder per task)
    send_bytes: bool = False  # the driver reads the files and sends their bytes (no shared path)
    max_attempts: int = 3  # tries per chunk when workers die under it
    in_flight: int = 2  # chunks queued per worker (one running, one waiting)
    start_timeout_s: float = 120.0  # for the workers to start and load the model
    num_cpus: int | None = None  # CPUs of the "auto" cluster (default: this machine's)
    notify: Callable[[str], None] | None = None  # one line when the workers are up


@dataclass(frozen=True)
class PackBlob:
    """One installed pack as bytes: its manifest and its model file, with the file's sha256."""

    model_id: str
    manifest: bytes
    file_name: str
    sha256: str
    data: bytes


def shard(todo: list[MediaFile], chunk_files: int) -> list[list[MediaFile]]:
    """Consecutive files of one folder, at most ``chunk_files`` per chunk, in ``todo`` order."""
    chunks: list[list[MediaFile]] = []
    last = None
    for f in todo:
        parent = f.rel_path.rpartition("/")[0]
        if not chunks or parent != last or len(chunks[-1]) >= max(1, chunk_files):
            chunks.append([])
        chunks[-1].append(f)
        last = parent
    return chunks


def pack_blobs(store: ModelStore, model_ids: list[str]) -> list[PackBlob]:
    """The packs (and a composite's member packs) as sha256-checked bytes, each once."""
    out: dict[str, PackBlob] = {}
    queue = list(model_ids)
    while queue:
        mid = queue.pop(0)
        if mid in out:
            continue
        m, path = store.get(mid)
        try:
            data = path.read_bytes()
            manifest = (store.root / mid / MANIFEST_NAME).read_bytes()
        except OSError as exc:
            raise ModelLoadError(f"Model '{mid}': cannot read {path}: {exc.strerror or exc}") from exc
        sha = hashlib.sha256(data).hexdigest()
        if sha != m.sha256:
            raise ModelLoadError(f"Model '{mid}': file {m.file} does not match its manifest (sha256 {sha[:12]}... "
                                 f"instead of {m.sha256[:12]}...). Remove the model and re-import the model pack.")
        out[mid] = PackBlob(mid, manifest, m.file, sha, data)
        queue.extend(str(x["id"]) for x in (m.extra_dict().get("members") or []) if isinstance(x, dict))
    return list(out.values())


def materialize(blobs: list[PackBlob], cache: Path) -> ModelStore:
    """Write the packs into ``cache/<hash of the set>/`` (checked, atomic, reused) and open that store.

    Raises:
        ModelLoadError: a blob's bytes do not match the sha256 the driver sent.
    """
    key = hashlib.sha256("|".join(f"{b.model_id}:{b.sha256}" for b in blobs).encode()).hexdigest()[:16]
    paths = AppPaths.under(cache / key)
    for b in blobs:
        if hashlib.sha256(b.data).hexdigest() != b.sha256:
            raise ModelLoadError(f"Model '{b.model_id}' arrived damaged on this worker (sha256 mismatch)")
        d = paths.models / b.model_id
        d.mkdir(parents=True, exist_ok=True)
        for name, data in ((b.file_name, b.data), (MANIFEST_NAME, b.manifest)):
            target = d / name
            if target.is_file() and target.stat().st_size == len(data):
                continue  # an earlier actor wrote it; ModelStore checks the sha256 before loading
            tmp = d / f".{name}.{os.getpid()}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, target)
        load_manifest(d / MANIFEST_NAME)
    return ModelStore(paths)


def read_failure(exc: OSError) -> str:
    """The failure text a worker gives a file it cannot read (as ``pipeline.images``)."""
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, IsADirectoryError):
        return "not an image file (a folder)"
    return f"cannot read file ({exc.strerror or exc})"


class PredictWorker:
    """A Ray actor's state: the model, loaded once (a restarted actor loads it again)."""

    def __init__(self, packs: list[Any], detector_id: str, classifier_id: str | None,
                 intra_threads: int) -> None:
        """``packs``: the :class:`PackBlob` list, or a one-element list holding its Ray object ref."""
        self.error: str | None = None
        self.detector: Any = None
        self.classifier: Any = None
        self._scratch: Path | None = None
        try:
            blobs = packs if all(isinstance(b, PackBlob) for b in packs) else import_ray().get(packs[0])
            store = materialize(blobs, Path(tempfile.gettempdir()) / "wildlife-desktop-ray-packs")
            self.detector = store.open_detector(detector_id, intra_threads=intra_threads)
            if classifier_id:
                self.classifier = store.open_classifier(classifier_id, intra_threads=intra_threads)
        except (WildlifeError, OSError) as exc:
            self.error = str(exc)

    def ready(self, folder: str | None = None) -> tuple[int, str | None, bool]:
        """(process id, the model's load error or None, whether ``folder`` is a folder on this node)."""
        return os.getpid(), self.error, folder is None or Path(folder).is_dir()

    def predict(self, folder: str, files: list[MediaFile], opts: PredictOptions,
                contents: list[bytes | str] | None = None) -> list[Prediction]:
        """Each file's prediction or failure entry. ``contents``: the files' bytes sent by the
        driver (or the reason it could not read one); ``None``: read ``folder/rel_path`` here."""
        from .job import predict_file

        if self.error:
            raise ModelLoadError(self.error)
        if contents is None:
            return [predict_file(Path(folder), f, self.detector, self.classifier, opts) for f in files]
        out = []
        for f, data in zip(files, contents, strict=True):
            if isinstance(data, str):
                out.append(failed(f.rel_path, f.kind, data))
                continue
            scratch = self.scratch()
            local = scratch / f.rel_path
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(data)
            try:
                out.append(predict_file(scratch, f, self.detector, self.classifier, opts))
            finally:
                local.unlink(missing_ok=True)
        return out

    def scratch(self) -> Path:
        """This process's folder for files sent as bytes; those of dead worker processes (an actor
        is killed, not closed) are removed first."""
        if self._scratch is None:
            root = Path(tempfile.gettempdir()) / "wildlife-desktop-ray-scratch"
            for d in root.glob("*") if root.is_dir() else ():
                if d.name.isdigit() and int(d.name) != os.getpid() and not _alive(int(d.name)):
                    shutil.rmtree(d, ignore_errors=True)
            self._scratch = root / str(os.getpid())
            self._scratch.mkdir(parents=True, exist_ok=True)
        return self._scratch


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, another user's
    return True


def _is_loopback(address: str) -> bool:
    return address == "auto" or _host_port(address)[0] in ("127.0.0.1", "localhost", "::1")


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"A Ray address is host:port (e.g. 10.0.0.5:6379) or 'auto', not {address!r}")
    return host.strip("[]"), int(port)


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail in ``timeout_s`` with one line when nothing listens at ``address`` (``ray.init`` would
    retry for minutes)."""
    host, port = _host_port(address)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        raise ClusterError(f"Cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from exc


@contextlib.contextmanager
def connected(options: ClusterOptions) -> Iterator[Any]:
    """Ray, connected: to ``options.address``, or for "auto" a private cluster on 127.0.0.1 started
    here (and shut down on exit). An already connected process (tests) is used as it is."""
    loopback = _is_loopback(options.address)
    if options.address != "auto":
        check_reachable(options.address)
        if "RAY_AUTH_MODE" not in os.environ and any((os.environ.get("RAY_AUTH_TOKEN"),
                                                      os.environ.get("RAY_AUTH_TOKEN_PATH"),
                                                      (Path.home() / ".ray" / "auth_token").is_file())):
            os.environ["RAY_AUTH_MODE"] = "token"  # a token is at hand: present it (Ray clusters ask for one)
            if "ray" in sys.modules:  # imported already: Ray caches the mode; refresh it
                with contextlib.suppress(ImportError, AttributeError):
                    from ray._private.authentication.authentication_token_setup import _enable_token_auth

                    _enable_token_auth()
    if loopback:
        os.environ.update(_LOOPBACK_ENV)  # inherited by the processes Ray starts
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if loopback:  # Ray would otherwise swap 127.0.0.1 for this machine's network address
            from ray._private import ray_constants

            ray_constants.ENABLE_RAY_CLUSTER = False  # (read at Ray's import; Ray may be imported already)
        if options.address == "auto":
            ray.init(address="local", _node_ip_address="127.0.0.1", num_cpus=options.num_cpus or os.cpu_count(),
                     object_store_memory=512 << 20, **kwargs)
        else:
            ray.init(address=options.address, **kwargs)
    except ClusterError:
        raise
    except Exception as exc:  # noqa: BLE001 - Ray raises many kinds; one line for the user
        if "token" in str(exc).lower() or "unauthenticated" in str(exc).lower():
            raise ClusterError(f"The Ray cluster at {options.address} wants its token: copy the head node's "
                               "~/.ray/auth_token to ~/.ray/auth_token here (or set RAY_AUTH_TOKEN)") from exc
        raise ClusterError(f"Cannot connect to the Ray cluster at {options.address}: "
                           f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    try:
        yield ray
    finally:
        ray.shutdown()


class RayPredictor:
    """A :data:`pipeline.job.FilePredictor` that runs each chunk of files on a Ray worker actor.

    Raises (when called):
        ClusterError: Ray is missing or unreachable, the workers did not start in time, or a
            chunk's workers died ``max_attempts`` times.
        ModelLoadError: a worker could not load the model.
    """

    def __init__(self, paths: AppPaths, options: ClusterOptions | None = None) -> None:
        require_ray()  # a clear message before the job starts
        if options is not None and options.address != "auto":
            _host_port(options.address)  # a malformed address: before the job starts
        if options is not None and options.workers is not None and options.workers < 1:
            raise ClusterError(f"The number of Ray workers must be at least 1 (not {options.workers})")
        self.paths = paths
        self.options = options or ClusterOptions()
        self.worker_pids: tuple[int, ...] = ()  # of the actors as first started (tests kill one)
        self.resubmitted = 0  # chunks submitted again because their worker died
        self._blobs_ref: Any = None

    def __call__(self, folder: Path, todo: list[MediaFile], opts: PredictOptions, config: Any,
                 cancel: CancelToken) -> Iterator[tuple[MediaFile, Prediction]]:
        blobs = pack_blobs(ModelStore(self.paths), [config.detector_id, *filter(None, [config.classifier_id])])
        with connected(self.options) as ray:
            try:
                yield from self._run(ray, blobs, Path(folder).resolve(), todo, opts, config, cancel)
            finally:
                self._blobs_ref = None

    def _start(self, ray: Any, blobs: list[PackBlob], folder: Path, config: Any, cancel: CancelToken) -> list[Any]:
        o = self.options
        n = o.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        actor_cls = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=0)(PredictWorker)
        self._blobs_ref = ray.put(blobs)  # held while the actors live: a restarted actor reads it again
        intra = config.intra_threads or 1
        actors = [actor_cls.remote([self._blobs_ref], config.detector_id, config.classifier_id, intra)
                  for _ in range(n)]
        try:
            shared = None if o.send_bytes else str(folder)
            pending = {a.ready.remote(shared): i for i, a in enumerate(actors)}
            pids: dict[int, int] = {}
            deadline = time.monotonic() + o.start_timeout_s
            while pending:
                cancel.checkpoint()
                if time.monotonic() > deadline:
                    raise ClusterError(f"{len(pending)} of {n} Ray workers did not start within "
                                       f"{o.start_timeout_s:.0f} s (too few free CPUs on the cluster?)")
                ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0.25)
                for ref in ready:
                    pid, error, sees_folder = ray.get(ref)
                    if error:
                        raise ModelLoadError(f"On a Ray worker: {error}")
                    if not sees_folder:  # else every file would be recorded as "file not found"
                        raise ClusterError(f"A Ray worker cannot see {folder}: mount it at the same path on every "
                                           "node, or let this computer send the files (--ray-send-bytes).")
                    pids[pending.pop(ref)] = pid
        except BaseException:
            for a in actors:
                ray.kill(a, no_restart=True)
            raise
        self.worker_pids = tuple(pids[i] for i in range(n))
        if o.notify:
            o.notify(f"Ray: {n} workers at {o.address}" + (" (files sent as bytes)" if o.send_bytes else ""))
        return actors

    def _contents(self, folder: Path, chunk: list[MediaFile]) -> list[bytes | str] | None:
        if not self.options.send_bytes:
            return None
        out: list[bytes | str] = []
        for f in chunk:
            try:
                out.append((folder / f.rel_path).read_bytes())
            except OSError as exc:
                out.append(read_failure(exc))
        return out

    def _run(self, ray: Any, blobs: list[PackBlob], folder: Path, todo: list[MediaFile], opts: PredictOptions,
             config: Any, cancel: CancelToken) -> Iterator[tuple[MediaFile, Prediction]]:
        from ray.exceptions import RayError, RayTaskError

        o = self.options
        chunks = shard(todo, o.chunk_files)
        actors = self._start(ray, blobs, folder, config, cancel)
        load = [0] * len(actors)
        attempts = [0] * len(chunks)
        inflight: dict[Any, tuple[int, int]] = {}
        done: dict[int, list[Prediction]] = {}
        cap = o.in_flight * len(actors)

        def submit(ci: int) -> None:
            ai = min(range(len(actors)), key=lambda i: (load[i], i))
            ref = actors[ai].predict.remote(str(folder), chunks[ci], opts, self._contents(folder, chunks[ci]))
            inflight[ref] = (ci, ai)
            load[ai] += 1

        head = nxt = 0
        try:
            while head < len(chunks):
                cancel.checkpoint()
                while nxt < len(chunks) and len(inflight) < cap and nxt - head < 2 * cap:
                    submit(nxt)
                    nxt += 1
                ready, _ = ray.wait(list(inflight), num_returns=1, timeout=0.25) if inflight else ([], [])
                for ref in ready:
                    ci, ai = inflight.pop(ref)
                    load[ai] -= 1
                    try:
                        done[ci] = ray.get(ref)
                    except RayTaskError as exc:  # our code raised on the worker: not a lost worker
                        raise ClusterError(f"A Ray worker failed: {str(exc.cause or exc).splitlines()[0]}") from exc
                    except RayError as exc:  # the worker died (kill -9, node lost): run the chunk again
                        attempts[ci] += 1
                        logger.warning("chunk %d (%s...): worker lost (%s); attempt %d", ci,
                                       chunks[ci][0].rel_path, type(exc).__name__, attempts[ci] + 1)
                        if attempts[ci] >= o.max_attempts:
                            raise ClusterError(
                                f"Ray workers died {attempts[ci]} times processing {chunks[ci][0].rel_path} and the "
                                f"files after it; the files processed before are saved: run again to resume."
                            ) from exc
                        self.resubmitted += 1
                        submit(ci)
                while head in done:
                    for f, pred in zip(chunks[head], done.pop(head), strict=True):
                        cancel.checkpoint()
                        yield f, pred
                    head += 1
        finally:  # the chunks still in flight die with their actors
            for a in actors:
                with contextlib.suppress(Exception):
                    ray.kill(a, no_restart=True)
