"""The JSON artifact: schema, atomic writing, reading and validation."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from paritybench import READABLE_MAJORS, SCHEMA_VERSION, __version__
from paritybench.artifact.inputs import read_json, weights_file_problem
from paritybench.artifact.records import RunKey
from paritybench.errors import ParityError


def schema(major: str | None = None) -> dict:
    """The JSON Schema shipped in the package for a schema major (``schema/artifact.v<major>.schema.json``;
    default: the one this paritybench writes)."""
    major = major or SCHEMA_VERSION.split(".")[0]
    path = resources.files("paritybench.artifact") / "schema" / f"artifact.v{major}.schema.json"
    return json.loads(path.read_text())


# The reference arm of every artifact written before schema 2.1 recorded it (each workload then named its
# float64 arbiter so): what ``upgrade`` fills in, and so what a reader takes from an older file.
REFERENCE_BEFORE_2_1 = "reference-f64"


def major_of(artifact: Any) -> str | None:
    v = artifact.get("schema_version") if isinstance(artifact, dict) else None
    return v.split(".")[0] if isinstance(v, str) else None


def upgrade(artifact: dict) -> dict:
    """An older artifact read as this schema: a schema-1 artifact (before workloads) as the seed-bce workload,
    version 1; one before 2.1 with its ``reference_arm``, ``reference-f64``.

    Only adds fields; every measured value stays as it was written."""
    if "reference_arm" not in artifact:
        artifact = {**artifact, "reference_arm": REFERENCE_BEFORE_2_1}
    if major_of(artifact) != "1":
        return artifact
    wl = {"name": "seed-bce", "version": "1"}
    out = dict(artifact)
    out["workload"] = {
        **wl,
        "source": "builtin",
        "spec": "seed-bce",
        "upgraded_from_schema": artifact["schema_version"],
    }
    out["runs"] = [{**r, "workload": dict(wl)} for r in artifact.get("runs", [])]
    return out


def reference_arm(artifact: dict) -> str:
    """The arm every other arm of ``artifact`` is measured against: recorded since schema 2.1, and
    ``reference-f64`` in an older artifact (as ``upgrade`` fills it in)."""
    return artifact.get("reference_arm") or REFERENCE_BEFORE_2_1


def now() -> str:
    """``created_at``: the current UTC time to the second, as ``2026-11-26T00:00:00Z``."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_artifact(
    *,
    kind: str,
    config_hash: str | None,
    workload: dict[str, Any],
    reference_arm: str,
    config: dict[str, Any],
    environment: dict[str, Any],
    timing: dict[str, Any],
    runs: list[Any],
    weights_file: str | None = None,
    mechanism: list[dict[str, Any]] | None = None,
    conventions: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    schema_version: str = SCHEMA_VERSION,
    paritybench_version: str | None = __version__,
) -> dict[str, Any]:
    """The artifact's top level (``schema/artifact.v2.schema.json``), in the one field order every artifact
    has: the one builder for a run, a sweep, a sensitivity study and a merge of shards. ``mechanism`` and
    ``conventions`` are left out when empty; ``extra`` (a sweep's summary, a merge's provenance) comes last.
    """
    art: dict[str, Any] = {
        "schema_version": schema_version,
        "kind": kind,
        "created_at": now(),
        "paritybench_version": paritybench_version,
        "config_hash": config_hash,
        "workload": workload,
        "reference_arm": reference_arm,
        "config": config,
        "environment": environment,
        "timing": timing,
        "weights_file": weights_file,
        "runs": runs,
    }
    if mechanism:
        art["mechanism"] = mechanism
    if conventions:
        art["conventions"] = conventions
    art.update(extra or {})
    return art


def num(x: float) -> float | str:
    """A float for JSON: non-finite values become "nan", "inf" or "-inf"."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def unnum(x: float | str | None) -> float:
    """Inverse of ``num``."""
    if x is None:
        return float("nan")
    return float(x)


def atomic_write_bytes(path: str | os.PathLike, data: bytes | None = None, writer=None) -> Path:
    """Write to a temp file in the target folder, fsync, then rename over ``path``.

    A reader (or a killed run) never sees a partial file: either the old state or
    the complete new one. Pass ``data`` or a ``writer(fileobj)`` callable.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            if writer is not None:
                writer(fh)
            else:
                fh.write(data or b"")
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; results are for sharing
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def artifact_bytes(artifact: dict[str, Any], validate: bool = True) -> bytes:
    """The bytes of an artifact file (JSON, one-space indent, no NaN, a final newline): the one serialiser
    ``write_artifact`` and ``safeout.commit_pair`` share. Validated first (unless ``validate`` is off, for
    a record that is not an artifact): an invalid artifact is never written."""
    if validate:
        errors = validation_errors(artifact)
        if errors:
            raise ParityError(
                f"refusing to write an invalid artifact ({errors[0]}): this is a bug, report it", exit_code=3
            )
    return json.dumps(artifact, indent=1, allow_nan=False).encode() + b"\n"


def write_artifact(path: str | os.PathLike, artifact: dict[str, Any], validate_first: bool = True) -> Path:
    """Validate, then write atomically. An invalid artifact is never written."""
    return atomic_write_bytes(path, artifact_bytes(artifact, validate_first))


def read_artifact(path: str | os.PathLike) -> dict[str, Any]:
    # One reader for every JSON input (paritybench.artifact.inputs): a directory, a special file, undecodable
    # bytes or JSON nested past Python's parser are one-line errors, never a traceback.
    return read_json(path)


def validation_errors(artifact: Any) -> list[str]:
    """Schema violations as readable lines (empty when valid)."""
    import jsonschema  # late: jsonschema (a slow import): loaded only where an artifact is validated

    major = major_of(artifact)
    which = major if major in READABLE_MAJORS else None
    validator = jsonschema.Draft202012Validator(schema(which), format_checker=jsonschema.FormatChecker())
    out = []
    for err in sorted(validator.iter_errors(artifact), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        out.append(f"{where}: {err.message}")
    if isinstance(artifact, dict) and isinstance(artifact.get("schema_version"), str):
        if major not in READABLE_MAJORS:
            out.append(
                f"schema_version: {artifact['schema_version']} has major {major}, this paritybench "
                f"reads majors {', '.join(READABLE_MAJORS)}: use a paritybench that reads it"
            )
    return out


def validate_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate; raise ParityError naming the first problem (shared with compare)."""
    return check_artifact_file(path, exit_code=1)


def artifact_problems(artifact: Any, path: str | os.PathLike) -> list[str]:
    """Every reason ``artifact`` (read from ``path``) is not a valid artifact: schema, then weights_file."""
    if not isinstance(artifact, dict):
        return [f"(top level): is a JSON {type(artifact).__name__}, not an object"]
    # A different schema major first: its other errors follow from it.
    errors = sorted(validation_errors(artifact), key=lambda e: not e.startswith("schema_version"))
    if not errors:
        errors.extend(duplicate_runs(artifact))
        problem = weights_file_problem(Path(path), artifact.get("weights_file"))
        if problem:
            errors.append(problem)
    return errors


def duplicate_runs(artifact: dict) -> list[str]:
    """One problem per run whose (arm, seed, window, copy) an earlier run of ``artifact`` already has.

    ``compare`` matches runs by that key, so a second run under it would be silently dropped
    (or paired with the wrong one); ``validate`` refuses what ``compare`` cannot use.
    """
    seen: set[RunKey] = set()
    problems = []
    for run in artifact.get("runs", []):
        key = RunKey.of(run)  # every run has its arm, seed and window_start: the schema was checked first
        if key in seen:
            copy = "" if key.copy is None else f" copy {key.copy}"
            problems.append(
                f"runs: two runs for {key.arm} seed {key.seed} window {key.window}{copy}: an artifact has one run "
                "per (arm, seed, window, copy); remove the duplicate"
            )
        seen.add(key)
    return problems


def check_artifact_file(path: str | os.PathLike, exit_code: int = 1) -> dict:
    """Read and validate one artifact: the one definition ``validate``, ``compare`` and ``report`` share.

    The message is the same from every command (exit code: 1 from ``validate``,
    a verdict on the file; 2 where the file is an input the command cannot use).
    """
    artifact = read_json(path)
    errors = artifact_problems(artifact, path)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ParityError(f"artifact {path} is invalid: {errors[0]}{more}", exit_code=exit_code)
    return artifact
