"""Files the pipeline writes and reads back: atomic writes, SHA-256, models, deployments.

Every output goes through `write_atomic`, so a crash leaves either the old file
or the new one, never half of one. Models are pickles, and a pickle runs code
when loaded, so `load_model` loads only a file whose SHA-256 matches the one the
project recorded when it wrote it (the model's `.json` sidecar, or the
deployment manifest).

Layout of a deployment folder (`prod_deployment_path`):

    releases/v0001/  trainedmodel.pkl latestscore.txt ingestedfiles.txt manifest.json
    releases/v0001/madelive.txt      written once the release has been live
    current -> releases/v0002        (one symlink: switching it is the deployment)
    trainedmodel.pkl -> current/trainedmodel.pkl   (the course's names, readable directly)
    latestscore.txt, ingestedfiles.txt, manifest.json: likewise

Standard library only at import: the cron tick that finds no new data reads
the manifest through this module.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, BinaryIO, Callable, NamedTuple, TypedDict

from risk.errors import StepError

log = logging.getLogger("artifacts")

# The course's file names, and the few the project adds: the one place they are spelled.
MODEL_FILE = "trainedmodel.pkl"
SIDECAR_FILE = "trainedmodel.json"  # the model's metadata: SHA-256, training profile
SCORE_FILE = "latestscore.txt"
INGESTED_FILES = "ingestedfiles.txt"
FINALDATA_FILE = "finaldata.csv"
INGESTION_RECORD = "ingestion.json"
TESTDATA_FILE = "testdata.csv"
MANIFEST = "manifest.json"
OUTPUTS_STAMP = "outputs.json"  # what the latest reports describe (fullprocess.py)
RECORDS_FILE = "records.csv"  # every accepted client row, labelled or not: the call list's input
# Beside it: which extract each run of rows of records.csv came from, in order (ingestion.write_records).
RECORDS_EXTRACTS_FILE = "records_extracts.json"
QUALITY_REFERENCE = "quality_reference.json"  # the quality gate's fixed, vetted reference
RELEASES = "releases"
CURRENT = "current"
MADE_LIVE = "madelive.txt"  # in a release: when it was first made live
DEPLOYED_FILES = (MODEL_FILE, SCORE_FILE, INGESTED_FILES, SIDECAR_FILE)


def version_name(version: int) -> str:
    """How users and folders name a release: v0001, v0002, ..."""
    return f"v{version:04d}"


class ArtifactError(StepError):
    """A file the pipeline needs is missing, corrupt or fails its hash check."""


class WriteError(ArtifactError):
    """A file could not be written (disk full, read-only, no permission); nothing was replaced."""


def write_error(path: Path, exc: OSError) -> WriteError:
    """The one-line message for a failed write: 'no space left on device writing PATH'."""
    why = exc.strerror or str(exc) or type(exc).__name__
    return WriteError(f"{why[:1].lower()}{why[1:]} writing {path}")


# A write's temporary file (`.NAME.XXXX.tmp`) or a release's staging folder
# (`.staging-vNNNN-XXXX`) older than this was left by a killed process: no
# live write takes an hour, so the next write in that folder removes it.
LEFTOVER_AGE_S = 3600


def _leftover(entry: os.DirEntry, cutoff: float) -> bool:
    name = entry.name
    if not name.startswith(".") or not (name.endswith(".tmp") or name.startswith(".staging-v")):
        return False
    try:
        return entry.stat(follow_symlinks=False).st_mtime < cutoff
    except OSError:
        return False


def sweep_leftovers(folder: Path) -> list[str]:
    """Remove what killed writes left in `folder` (see LEFTOVER_AGE_S); the names removed."""
    import shutil
    import time

    cutoff = time.time() - LEFTOVER_AGE_S
    removed = []
    try:
        entries = [e for e in os.scandir(folder) if _leftover(e, cutoff)]
    except OSError:
        return removed
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:  # gone already, or not ours to remove: the write itself goes on
            continue
        removed.append(entry.name)
    if removed:
        log.info("removed %d leftover(s) of killed writes in %s: %s", len(removed), folder, ", ".join(removed))
    return removed


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a mix."""
    write_all_atomic({path: data})


def write_all_atomic(files: dict[Path, bytes | Callable[[BinaryIO], None]]) -> None:
    """Write several files, each atomically; a failed write leaves every one of them as it was.

    A file's content is bytes, or a function that writes it to the open file
    (for content too large to hold in memory).

    Every file's content goes to a temporary file first (where a full disk
    shows), and only once all are written and flushed are they renamed into
    place: a model and its hash sidecar change together or not at all. Any
    OSError becomes a WriteError naming the file and the cause.
    """
    import tempfile  # imported here: the cron tick that finds no new data writes nothing

    mode = shared_mode(0o666)
    temps: list[tuple[str, Path]] = []
    path = next(iter(files), Path("."))
    try:
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            sweep_leftovers(path.parent)
            # Temp file in the target's folder, so os.replace is one rename.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            temps.append((tmp, path))
            with os.fdopen(fd, "wb") as f:
                if callable(data):
                    data(f)
                else:
                    f.write(data)
                f.flush()
                os.fsync(f.fileno())
            # mkstemp makes the file 0600; outputs are for the team to read, as
            # any file they create: the usual mode less the umask.
            os.chmod(tmp, mode)
        for tmp, path in temps:
            os.replace(tmp, path)
    except BaseException as exc:
        for tmp, _ in temps:
            try:
                os.unlink(tmp)
            except OSError:  # renamed already, or the folder went read-only
                pass
        if isinstance(exc, OSError):
            raise write_error(path, exc) from exc
        raise


def shared_mode(mode: int) -> int:
    """`mode` less the umask: what a file or folder gets when created the usual way."""
    return mode & ~_umask()


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it
    os.umask(mask)
    return mask


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def json_safe(value: Any) -> Any:
    """`value` with NaN and infinities as None, all the way down: JSON has no NaN."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{path}: not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path}: unreadable or not JSON ({exc})") from None


def sidecar_path(model_path: Path) -> Path:
    """Where the model's metadata (and its recorded SHA-256) lives: trainedmodel.json."""
    return model_path.with_suffix(".json")


def save_model(model: Any, path: Path, metadata: dict[str, Any]) -> str:
    """Pickle `model` to `path` atomically, then its metadata with the SHA-256; return the hash."""
    import pickle

    data = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    digest = sha256_bytes(data)
    sidecar = {**metadata, "sha256": digest, "file": path.name}
    # Together: a full disk never leaves a new model beside the old model's hash.
    write_all_atomic({
        path: data,
        sidecar_path(path): (json.dumps(sidecar, indent=2, sort_keys=True) + "\n").encode(),
    })
    return digest


def load_model(path: Path, expected_sha256: str | None = None) -> Any:
    """Unpickle the model at `path` after checking its SHA-256.

    The expected hash comes from the caller (a deployment manifest) or else
    from the sidecar that `save_model` wrote beside the model.
    """
    if expected_sha256 is None:
        if not path.exists() and not sidecar_path(path).exists():
            raise ArtifactError(f"no trained model at {path}: run training.py first")
        meta = read_json(sidecar_path(path)) if sidecar_path(path).exists() else None
        if not meta or "sha256" not in meta:
            raise ArtifactError(
                f"{path}: no recorded SHA-256 ({sidecar_path(path).name} missing); "
                "refusing to load a model this project did not write"
            )
        expected_sha256 = meta["sha256"]
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ArtifactError(f"{path}: model file not found") from None
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read model ({exc})") from None
    import pickle

    actual = sha256_bytes(data)
    if actual != expected_sha256:
        raise ArtifactError(
            f"{path}: SHA-256 mismatch (recorded {expected_sha256[:12]}…, file {actual[:12]}…); "
            "refusing to load a tampered or half-written model"
        )
    try:
        return pickle.loads(data)
    except Exception as exc:  # a hash-verified file that still fails: wrong library versions
        raise ArtifactError(f"{path}: cannot unpickle model ({type(exc).__name__}: {exc})") from None


def read_score(path: Path) -> float:
    """The number in a latestscore.txt file."""
    try:
        return float(path.read_text(encoding="utf-8").strip())
    except FileNotFoundError:
        raise ArtifactError(f"{path}: score file not found (run scoring.py)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ArtifactError(f"{path}: not a score ({exc})") from None


# --- deployments -------------------------------------------------------------
# The layout of prod_deployment_path, read and written here only (deployment.py
# builds releases and decides which goes live; this is where they live).

class Manifest(TypedDict, total=False):
    """manifest.json of a release: what it holds, how it scored, why it was deployed."""
    version: int
    deployed_at: str
    files: dict[str, str]             # file name -> SHA-256
    score: float                      # F1 on the test data (latestscore.txt)
    model_sha256: str
    source_files: list[dict[str, Any]]    # name, sha256, rows_read, rows_kept
    rejected_files: list[dict[str, Any]]  # name, sha256, reason
    finaldata_sha256: str | None
    training: dict[str, Any]          # training's sidecar, without the data profile
    reason: str                       # why it was deployed ("" if not said)
    # deploy(extra=...) adds further keys, e.g. the deployment's reference performance


class Deployed(NamedTuple):
    """The live release: its folder and its manifest."""
    release: Path
    manifest: Manifest


class Release(NamedTuple):
    """A complete release folder, releases/vNNNN/."""
    version: int
    path: Path

    @property
    def manifest(self) -> Manifest:
        return read_json(self.path / MANIFEST)

    @property
    def name(self) -> str:
        return version_name(self.version)


def parse_version(text: str) -> int | None:
    """The number in "v0003", "V3" or "3"; None if `text` names no version."""
    digits = text[1:] if text[:1] in ("v", "V") else text
    return int(digits) if digits.isascii() and digits.isdigit() else None


def release_path(prod_path: Path, version: int) -> Path:
    return prod_path / RELEASES / version_name(version)


def releases(prod_path: Path) -> list[Release]:
    """The complete releases (those with a manifest) under `prod_path`, oldest first."""
    folder = prod_path / RELEASES
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        # Only vNNNN: a staging folder (".staging-...") is not a release.
        version = parse_version(p.name) if p.name.startswith("v") else None
        if version is not None and (p / MANIFEST).is_file():
            found.append(Release(version, p))
    return sorted(found)


def current_release(prod_path: Path) -> Path | None:
    """The release folder `current` points to, resolved once, or None if nothing is deployed."""
    link = prod_path / CURRENT
    if not link.is_symlink():
        return None
    target = (prod_path / os.readlink(link)).resolve()
    return target if (target / MANIFEST).is_file() else None


def deployed(prod_path: Path) -> Deployed | None:
    """The live release and its manifest, or None if nothing is deployed."""
    release = current_release(prod_path)
    if release is None:
        return None
    return Deployed(release, read_json(release / MANIFEST))


def read_manifest(prod_path: Path) -> Manifest | None:
    """The manifest of the current deployment, or None if nothing is deployed."""
    live = deployed(prod_path)
    return None if live is None else live.manifest


def verify_release(release: Path, manifest: Manifest) -> None:
    """Check every file of a release against the hashes in its manifest."""
    for name, digest in manifest["files"].items():
        path = release / name
        if not path.is_file():
            raise ArtifactError(f"{path}: deployed file missing")
        if sha256_file(path) != digest:
            raise ArtifactError(f"{path}: SHA-256 does not match the deployment manifest")


def load_deployed(prod_path: Path) -> tuple[Any, Deployed]:
    """The current deployment's model (hash-verified) and the live release."""
    live = deployed(prod_path)
    if live is None:
        raise ArtifactError(f"{prod_path}: no model deployed yet (run deployment.py)")
    model = load_model(live.release / MODEL_FILE, live.manifest["files"][MODEL_FILE])
    return model, live


def load_deployed_model(prod_path: Path) -> tuple[Any, Manifest]:
    """The current deployment's model (hash-verified) and its manifest."""
    model, live = load_deployed(prod_path)
    return model, live.manifest


def was_live(release: Path) -> bool:
    """Whether `release` was ever made live (a killed deployment leaves one that never was)."""
    return (release / MADE_LIVE).is_file()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _symlink_atomic(link: Path, target: str) -> None:
    """Point `link` at `target` in one rename, replacing whatever `link` was."""
    tmp = link.parent / f".{link.name}.{os.getpid()}.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)


def mark_live(release: Path) -> None:
    """Record, in the release itself, that it has been live (once is enough)."""
    if not was_live(release):
        write_text_atomic(release / MADE_LIVE, f"{_now()}\n")


def switch(prod_path: Path, release: Path) -> None:
    """Make `release` the live deployment: one symlink replaced, then the course's names.

    Only after the switch is the release marked as having been live: a run
    killed between renaming a release into place and switching leaves a
    release that rollback never goes to. Write failures raise WriteError.
    """
    try:
        _symlink_atomic(prod_path / CURRENT, os.path.relpath(release, prod_path))
        for name in (*DEPLOYED_FILES, MANIFEST):
            link = prod_path / name
            if not link.is_symlink():
                _symlink_atomic(link, f"{CURRENT}/{name}")
        fsync_dir(prod_path)
    except OSError as exc:
        raise write_error(prod_path / CURRENT, exc) from exc
    mark_live(release)


def _now() -> str:
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


def deployment_row(version: int, manifest: dict[str, Any], release: Path) -> dict[str, Any]:
    """The run history's `deployments` row of a release that went live."""
    return {"action": "deploy", "version": version, "model_sha256": manifest["model_sha256"],
            "f1": manifest["score"], "release_path": str(release)}


def file_stamp(path: Path) -> tuple[int, int] | None:
    """(modification time in ns, size) of a file, None if it is absent: has it changed since?"""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size
