"""Where a command's results go: checked and claimed before training, committed all-or-nothing.

What ``run`` writes, and the rules it follows:

- ``plan_outputs`` checks, before any training, that every file the command will write
  (the artifact, the weights beside it, a sweep's checkpoint) can be written: the folder
  exists or can be created under a real directory, a probe file can be created and
  removed in it, nothing is in the way, and the disk has room for what will be written.
- ``OutputClaim`` claims the artifact's path for this process at start: on Linux an
  abstract Unix socket named after the path (nothing on disk; the kernel drops it when the
  process dies, so a killed run leaves no claim that blocks the next, and no file). A
  default name that another run holds is passed over for the next free one; an explicit
  ``--out`` that another run holds is refused.
- ``commit_pair`` writes the weights and the JSON so that both land or neither: both go to
  fsynced temporary files first, then the weights are renamed into place, then the JSON
  (the commit point); a failure at any point removes what was written or renamed.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from paritybench.artifact import validation_errors
from paritybench.errors import ParityError

LOCK_SUFFIX = ".lock"
# Pseudo file systems where results can never be kept.
_PSEUDO_FS = ("/proc", "/sys")


def _cwd_or_error(path: Path) -> None:
    if path.is_absolute():
        return
    try:
        os.getcwd()
    except FileNotFoundError:
        raise ParityError(
            f"the working directory no longer exists, so {path} has nowhere to go: cd to an "
            "existing folder or give --out an absolute path"
        ) from None


def _first_existing(folder: Path) -> Path:
    p = folder
    while not p.exists() and not p.is_symlink():
        if p.parent == p:
            break
        p = p.parent
    return p


def _probe_writable(folder: Path, what: str) -> None:
    """Create and remove a temporary file in ``folder`` (the only test that root, ACLs,
    read-only mounts and full disks all answer truthfully)."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".paritybench-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        why = {
            errno.EROFS: "it is on a read-only file system",
            errno.EACCES: "permission denied",
            errno.EPERM: "permission denied",
            errno.ENOSPC: "the disk is full",
            errno.EDQUOT: "the disk quota is exhausted",
        }.get(exc.errno, exc.strerror or str(exc))
        raise ParityError(f"{what}: cannot write in {folder} ({why}): choose a writable folder (--out)") from None


def resolved(path: str | os.PathLike) -> Path:
    """``path`` with its folder's links resolved (the file name itself is kept): the one name a claim
    and a check use, so ``alias/a.json`` (alias a link to ``real``) is the same output as ``real/a.json``.
    A folder that does not exist yet resolves through its nearest existing ancestor."""
    p = Path(os.path.abspath(path))
    return Path(os.path.realpath(p.parent)) / p.name


def plan_outputs(
    out: str | os.PathLike, extra: tuple[str | os.PathLike, ...] = (), expected_bytes: int = 0, option: str = "--out"
) -> Path:
    """Check, before training, that ``out`` and the ``extra`` files beside it can be written.

    Creates nothing that is left behind: a folder that does not exist yet is only checked
    for an existing, writable directory above it. ``expected_bytes`` (weights + JSON) is
    compared with the free space of that file system. Returns ``out`` as an absolute path.
    """
    out = Path(out)
    _cwd_or_error(out)
    out = resolved(out)
    for root in _PSEUDO_FS:
        if out == Path(root) or Path(root) in out.parents:
            raise ParityError(
                f"{option} {out}: {root} is a kernel pseudo file system, not a place for "
                "results: choose a folder on a disk"
            )
    if out.suffix != ".json":
        raise ParityError(f"{option} {out}: the artifact is JSON; give a path ending in .json")
    for target in (out, *map(Path, extra)):
        target = resolved(target)
        if target.exists() or target.is_symlink():
            kind = " (a directory)" if target.is_dir() else ""
            raise ParityError(f"{target} already exists{kind}: results are never overwritten; choose another {option}")
    plan_folder(out.parent, expected_bytes, f"{option} {out}", option)
    return out


def plan_folder(
    folder: str | os.PathLike, expected_bytes: int = 0, what: str = "the results folder", option: str = "--out"
) -> Path:
    """Check that files can be created in ``folder`` (or in the folders that would be made
    for it) and that its file system has ``expected_bytes`` free. Leaves nothing behind."""
    folder = Path(folder)
    _cwd_or_error(folder)
    folder = Path(os.path.abspath(folder))
    for root in _PSEUDO_FS:
        if folder == Path(root) or Path(root) in folder.parents:
            raise ParityError(
                f"{what}: {root} is a kernel pseudo file system, not a place for results: choose a folder on a disk"
            )
    base = _first_existing(folder)
    if not base.is_dir():
        raise ParityError(f"{what}: {base} is a file, not a folder: choose a path under a folder ({option})")
    _probe_writable(base, what)
    if expected_bytes:
        st = os.statvfs(base)
        free = st.f_bavail * st.f_frsize
        if free < expected_bytes:
            raise ParityError(
                f"{what}: {base} has {free / 2**20:.1f} MiB free, the results need about "
                f"{expected_bytes / 2**20:.1f} MiB: free space or choose another {option}"
            )
    return folder


def config_tag(cfg) -> str:
    """8 hex digits over everything that makes a run different, arms, seeds and windows included
    (``RunConfig.short_hash`` leaves those out on purpose: it matches comparable runs)."""
    d = cfg.to_dict()
    d.pop("data_path", None)
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:8]


class OutputClaim:
    """This process's exclusive claim on an artifact path, held until ``release``.

    On Linux the claim is an abstract-namespace Unix socket named after the path's sha256:
    binding it is atomic, two processes cannot both hold it, and the kernel drops it when
    the holder dies, so nothing is ever left on disk (not even by SIGKILL). Elsewhere it is
    an ``flock`` on ``<artifact>.lock`` (also dropped with its holder; a stale file is reused).
    Either way it covers processes that share the kernel's view (one host, one container).
    """

    def __init__(self, path: Path, handle, created: list[Path]):
        self.path, self._handle, self._created = path, handle, created

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + LOCK_SUFFIX)

    @staticmethod
    def _try(path: Path):
        """A handle holding the claim on ``path``, or None if another process holds it."""
        if sys.platform.startswith("linux"):
            name = "\0paritybench-claim-" + hashlib.sha256(str(path).encode()).hexdigest()
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # not inherited by children
            try:
                sock.bind(name)
            except OSError as exc:
                sock.close()
                if exc.errno == errno.EADDRINUSE:
                    return None
                raise
            return sock
        lock = path.with_name(path.name + LOCK_SUFFIX)
        while True:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            # the holder may have removed the file between our open and our lock: lock the live one
            try:
                if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)

    @classmethod
    def _mkdirs(cls, folder: Path, option: str) -> list[Path]:
        created: list[Path] = []
        missing = []
        p = folder
        while not p.exists():
            missing.append(p)
            p = p.parent
        for d in reversed(missing):
            try:
                d.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                cls._rmdirs(created)
                raise ParityError(f"{option}: cannot create {d} ({exc.strerror}): choose a writable {option}") from None
            created.append(d)
        return created

    @staticmethod
    def _rmdirs(created: list[Path]) -> None:
        for d in reversed(created):
            try:
                d.rmdir()
            except OSError:
                break

    @classmethod
    def explicit(cls, out: Path, option: str = "--out") -> OutputClaim:
        """Claim a path the user named: refuse if another paritybench is writing it."""
        created = cls._mkdirs(out.parent, option)
        handle = cls._try(out)
        if handle is None:
            cls._rmdirs(created)
            raise ParityError(
                f"{option} {out}: another paritybench is writing this artifact now: choose another {option}"
            )
        if out.exists():
            cls._drop(handle)
            raise ParityError(f"{out} already exists: results are never overwritten; choose another {option}")
        return cls(out, handle, created)

    @classmethod
    def default(cls, cfg, folder: Path, suffixes: tuple[str, ...] = (".weights.npz",)) -> OutputClaim:
        """The first free ``<folder>/<UTC time>-<config tag>[-i].json``, claimed atomically.

        ``suffixes``: sibling files (weights, checkpoint) that must not exist either.
        """
        _cwd_or_error(folder)
        folder = Path(os.path.realpath(folder))
        created = cls._mkdirs(folder, "results folder")
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        tag = config_tag(cfg)
        for i in range(1, 10_000):
            path = folder / (f"{stamp}-{tag}.json" if i == 1 else f"{stamp}-{tag}-{i}.json")
            if path.exists() or any(path.with_suffix(s).exists() for s in suffixes):
                continue
            handle = cls._try(path)
            if handle is None:
                continue
            if path.exists():  # finished by another run between our check and our claim
                cls._drop(handle)
                continue
            return cls(path, handle, created)
        raise ParityError(f"no free artifact name in {folder} for {stamp}-{tag}: give --out")

    @staticmethod
    def _drop(handle) -> None:
        if isinstance(handle, socket.socket):
            handle.close()
        else:
            os.close(handle)

    def release(self, committed: bool) -> None:
        """Drop the claim (and the lock file, where one is used); remove the folders made
        for a run that wrote nothing."""
        if self._handle is None:
            return
        if not isinstance(self._handle, socket.socket):
            self.lock_path.unlink(missing_ok=True)
        self._drop(self._handle)
        self._handle = None
        if not committed:
            self._rmdirs(self._created)

    def __enter__(self) -> OutputClaim:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.release(committed=exc_type is None and self.path.exists())


def _write_temp(folder: Path, name: str, writer: Callable) -> Path:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; results are for sharing
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit_pair(
    out: Path,
    artifact: dict,
    weights_writer: Callable | None = None,
    weights_path: Path | None = None,
    validate: bool = True,
) -> Path:
    """Write ``artifact`` to ``out`` and (when given) the weights beside it: both or neither.

    The JSON is serialised and validated first (nothing is written for an artifact that
    cannot be), then both files go to fsynced temporary files in the target folder, then
    the weights are renamed into place and the JSON last: the JSON is the commit point.
    On any failure the temporary files and a weights file already renamed are removed,
    and an OSError becomes a one-line error.
    """
    if validate:
        errors = validation_errors(artifact)
        if errors:
            raise ParityError(
                f"refusing to write an invalid artifact ({errors[0]}): this is a bug, report it", exit_code=3
            )
    data = json.dumps(artifact, indent=1, allow_nan=False).encode() + b"\n"
    temps: list[Path] = []
    placed: Path | None = None
    try:
        if weights_writer is not None:
            assert weights_path is not None
            temps.append(_write_temp(out.parent, weights_path.name, weights_writer))
        temps.append(_write_temp(out.parent, out.name, lambda fh: fh.write(data)))
        if weights_writer is not None:
            _before_rename(temps[0], weights_path)
            _publish(temps[0], weights_path)
            placed = weights_path
        _before_rename(temps[-1], out)
        _publish(temps[-1], out)
        _fsync_dir(out.parent)
    except BaseException as exc:
        for t in temps:
            t.unlink(missing_ok=True)
        if placed is not None:
            placed.unlink(missing_ok=True)
        if isinstance(exc, FileExistsError):
            raise ParityError(
                f"{exc.filename} appeared while paritybench was working: it was left as it is and nothing "
                "was kept; choose another --out, then run again",
                exit_code=1,
            ) from None
        if isinstance(exc, OSError):
            raise ParityError(
                f"could not write the results to {out} ({exc.strerror or exc}); nothing was kept: "
                "free space or choose another --out, then run again",
                exit_code=1,
            ) from None
        raise
    return out


def _publish(tmp: Path, final: Path) -> None:
    """Move the finished ``tmp`` to ``final`` unless something is there: never replace a file.

    ``os.link`` fails with FileExistsError when ``final`` exists (a file, a link, anything that
    appeared since the checks), where ``os.replace`` would have replaced it; a file system
    without hard links falls back to a check and a rename (a race window of microseconds).
    """
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, "exists", str(final)) from None
    except OSError:
        if os.path.lexists(final):
            raise FileExistsError(errno.EEXIST, "exists", str(final)) from None
        os.replace(tmp, final)
        return
    os.unlink(tmp)


def _before_rename(tmp: Path, final: Path) -> None:
    """A hook between writing and renaming (tests inject failures here)."""


__all__ = ["plan_outputs", "plan_folder", "OutputClaim", "commit_pair", "config_tag"]
