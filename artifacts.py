"""Files the pipeline writes and reads back: atomic writes, SHA-256, models, deployments.

Every output goes through `write_atomic`, so a crash leaves either the old file
or the new one, never half of one. Models are pickles, and a pickle runs code
when loaded, so `load_model` loads only a file whose SHA-256 matches the one the
project recorded when it wrote it (the model's `.json` sidecar, or the
deployment manifest).

Layout of a deployment folder (`prod_deployment_path`):

    releases/v0001/  trainedmodel.pkl latestscore.txt ingestedfiles.txt manifest.json
    current -> releases/v0002        (one symlink: switching it is the deployment)
    trainedmodel.pkl -> current/trainedmodel.pkl   (the course's names, readable directly)
    latestscore.txt, ingestedfiles.txt, manifest.json: likewise

Standard library only at import: the cron tick that finds no new data reads
the manifest through this module.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from errors import StepError

# The course's file names, and the few the project adds: the one place they are spelled.
MODEL_FILE = "trainedmodel.pkl"
SIDECAR_FILE = "trainedmodel.json"  # the model's metadata: SHA-256, training profile
SCORE_FILE = "latestscore.txt"
INGESTED_FILES = "ingestedfiles.txt"
FINALDATA_FILE = "finaldata.csv"
INGESTION_RECORD = "ingestion.json"
TESTDATA_FILE = "testdata.csv"
MANIFEST = "manifest.json"
RELEASES = "releases"
CURRENT = "current"
DEPLOYED_FILES = (MODEL_FILE, SCORE_FILE, INGESTED_FILES, SIDECAR_FILE)


def version_name(version: int) -> str:
    """How users and folders name a release: v0001, v0002, ..."""
    return f"v{version:04d}"


class ArtifactError(StepError):
    """A file the pipeline needs is missing, corrupt or fails its hash check."""


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a mix."""
    import tempfile  # imported here: the cron tick that finds no new data writes nothing

    path.parent.mkdir(parents=True, exist_ok=True)
    # Temp file in the target's folder, so os.replace is one rename.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file 0600; outputs are for the team to read, as
        # any file they create: the usual mode less the umask.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


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
    write_atomic(path, data)
    write_json_atomic(sidecar_path(path), {**metadata, "sha256": digest, "file": path.name})
    return digest


def load_model(path: Path, expected_sha256: str | None = None) -> Any:
    """Unpickle the model at `path` after checking its SHA-256.

    The expected hash comes from the caller (a deployment manifest) or else
    from the sidecar that `save_model` wrote beside the model.
    """
    if expected_sha256 is None:
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

def current_release(prod_path: Path) -> Path | None:
    """The release folder `current` points to, resolved once, or None if nothing is deployed."""
    link = prod_path / CURRENT
    if not link.is_symlink():
        return None
    target = (prod_path / os.readlink(link)).resolve()
    return target if (target / MANIFEST).is_file() else None


def read_manifest(prod_path: Path) -> dict[str, Any] | None:
    """The manifest of the current deployment, or None if nothing is deployed."""
    release = current_release(prod_path)
    if release is None:
        return None
    manifest = read_json(release / MANIFEST)
    manifest["release_path"] = str(release)
    return manifest


def verify_release(release: Path, manifest: dict[str, Any]) -> None:
    """Check every file of a release against the hashes in its manifest."""
    for name, digest in manifest["files"].items():
        path = release / name
        if not path.is_file():
            raise ArtifactError(f"{path}: deployed file missing")
        if sha256_file(path) != digest:
            raise ArtifactError(f"{path}: SHA-256 does not match the deployment manifest")


def load_deployed_model(prod_path: Path) -> tuple[Any, dict[str, Any]]:
    """The current deployment's model (hash-verified) and its manifest."""
    manifest = read_manifest(prod_path)
    if manifest is None:
        raise ArtifactError(f"{prod_path}: no model deployed yet (run deployment.py)")
    release = Path(manifest["release_path"])
    model = load_model(release / MODEL_FILE, manifest["files"][MODEL_FILE])
    return model, manifest
