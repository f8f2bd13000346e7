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
- ``flock_nonblocking`` is the one file lock: the claim's fallback off Linux and the sweep's
  ``<artifact>.lock`` (``studies.checkpoint.SweepLock``) both take it.

What the other commands write (``compare --output``, ``report --out``, ``timing --plot``, a plot, a
report), and the rules they follow:

- A path the user names is written only when it is a new regular file, or an existing regular file the
  user asked to replace with ``--overwrite``. Never an input of the same command (by resolved path and
  by inode, so a hard link or ``./a/../a.json`` is caught), never through a symbolic link (a link to
  ``/dev/stdout`` or to an input would otherwise be followed), never onto a directory, device, FIFO or
  socket (``check_output_path``, ``check_output_dir``); ``write_output`` publishes it whole.

Writability is probed by creating (and removing) a temporary file in the folder that will hold the
output, or in its nearest existing ancestor when the folder does not exist yet: ``os.access`` says yes
to root on ``/proc`` and answers for the real, not the effective, user, so only a real create is a
reliable test (root, ACLs, read-only mounts and full disks all answer it truthfully). Nothing is created
by a check: a folder that does not exist is not made until the command has done its work.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import socket
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol

from paritybench.artifact import artifact_bytes
from paritybench.errors import ParityError

LOCK_SUFFIX = ".lock"


class _Config(Protocol):
    """What an output's default name is made from (``experiment.config.RunConfig``, a layer above)."""

    def to_dict(self) -> dict[str, Any]: ...


# What holds a claim: an abstract Unix socket (Linux) or a locked file's descriptor.
_Handle = socket.socket | int
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


def nearest_existing(path: str | os.PathLike) -> Path:
    """The path itself if it exists, else its nearest ancestor that does (lexists: a dangling link counts)."""
    p = Path(os.path.abspath(path))
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p


def probe_writable(folder: Path, what: str, fix: str = "choose a writable location") -> None:
    """Raise ParityError unless a file can be created in ``folder`` (an existing directory); leave nothing."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".paritybench-probe-", suffix=".tmp")
    except OSError as exc:
        why = {
            errno.EROFS: "it is on a read-only file system",
            errno.EACCES: "permission denied",
            errno.EPERM: "permission denied",
            errno.ENOSPC: "the disk is full",
            errno.EDQUOT: "the disk quota is exhausted",
        }.get(exc.errno or 0, exc.strerror or str(exc))
        raise ParityError(f"{what}: cannot create files in {folder} ({why}): {fix}") from None
    os.close(fd)
    os.unlink(probe)


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
    base = nearest_existing(folder)
    if not base.is_dir():
        raise ParityError(f"{what}: {base} is a file, not a folder: choose a path under a folder ({option})")
    probe_writable(base, what, f"choose a writable folder ({option})")
    if expected_bytes:
        st = os.statvfs(base)
        free = st.f_bavail * st.f_frsize
        if free < expected_bytes:
            raise ParityError(
                f"{what}: {base} has {free / 2**20:.1f} MiB free, the results need about "
                f"{expected_bytes / 2**20:.1f} MiB: free space or choose another {option}"
            )
    return folder


def _kind(mode: int) -> str:
    """A file type in words, for a message."""
    for test, word in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return word
    return "not a regular file"


def _same_file(a: Path, b: Path) -> bool:
    """True when a and b name one file: the same resolved path, or the same device and inode."""
    try:
        if a.resolve() == b.resolve():
            return True
    except (OSError, RuntimeError):  # a symlink loop resolves to nothing: it is no input of ours
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output_dir(folder: str | os.PathLike, what: str) -> Path:
    """Check that ``folder`` is, or can be created as, a writable directory; create nothing.

    Every existing component must be a directory (not a regular file, not a
    dangling link), and the deepest existing one must accept a new file.
    """
    folder = Path(folder)
    existing = nearest_existing(folder)
    if not existing.is_dir():  # follows links: a link to a directory is a directory here
        where = "it" if existing == Path(os.path.abspath(folder)) else f"{existing}"
        raise ParityError(
            f"{what} {folder}: {where} is not a directory"
            + ("" if where == "it" else f" (so {folder} cannot be created under it)")
            + ": choose another location"
        )
    probe_writable(existing, f"{what} {folder}")
    return folder


def check_output_path(
    path: str | os.PathLike,
    inputs: Iterable[str | os.PathLike] = (),
    overwrite: bool = False,
    what: str = "output",
    suffix: str | None = None,
) -> Path:
    """Check, before any work, that ``path`` may be written; return it as a Path.

    ``inputs`` are the files the command reads (never written, even with
    ``overwrite``); ``what`` names the option in messages (``--output``);
    ``suffix`` (e.g. ".png") is required when given. Raises ParityError with
    one line naming the problem and the fix.
    """
    p = Path(path)
    if str(path) == "" or p.name in ("", ".", ".."):
        raise ParityError(f"{what} {str(path)!r}: give a file name, e.g. {what} result{suffix or '.txt'}")
    if suffix is not None and p.suffix.lower() != suffix:
        raise ParityError(f"{what} {p}: give a path ending in {suffix}")
    for inp in inputs:
        if _same_file(p, Path(inp)):
            raise ParityError(
                f"{what} {p} is one of this command's inputs ({inp}): it is never overwritten; choose another path"
            )
    if os.path.islink(p):
        raise ParityError(
            f"{what} {p} is a symbolic link: paritybench never writes through a link; give the real path of a new file"
        )
    if os.path.lexists(p):
        mode = os.stat(p).st_mode
        if not stat.S_ISREG(mode):
            raise ParityError(
                f"{what} {p} is {_kind(mode)}: outputs are written only to regular files; give the path of a new file"
            )
        if not overwrite:
            raise ParityError(f"{what} {p} already exists: pass --overwrite to replace it, or choose a new path")
    check_output_dir(p.parent if str(p.parent) else Path("."), f"{what} {p}: folder")
    return p


def write_output(path: str | os.PathLike, data: bytes, overwrite: bool = False) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then publish it whole.

    Without ``overwrite`` the publish is ``_publish`` (a hard link: fails if ``path`` appeared since the
    check, so no race can replace a file); with it, ``os.replace`` (which replaces a link itself, never its
    target). Either way a reader sees no file or the complete one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _write_temp(path.parent, path.name, lambda fh: fh.write(data))
    try:
        if overwrite:
            os.replace(tmp, path)
        else:
            _publish(tmp, path)
    except FileExistsError:
        raise ParityError(
            f"{path} appeared while paritybench was working: it was left as it is; "
            "pass --overwrite to replace it, or choose a new path"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def lock_path(path: Path) -> Path:
    """``<path>.lock``: the file ``flock_nonblocking`` locks for ``path``."""
    return path.with_name(path.name + LOCK_SUFFIX)


def flock_nonblocking(lock: Path) -> int | None:
    """A descriptor holding an exclusive ``flock`` on ``lock`` (made if missing), or None when another process
    holds it. The kernel drops the lock with its holder's last descriptor, so a killed holder leaves the file
    unlocked, and it is taken over. A holder that removed the file between our open and our lock leaves us
    locking a file no one else can see: the live file at the path is locked instead. An OSError from
    creating the file is the caller's to word."""
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def config_tag(cfg: _Config) -> str:
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

    def __init__(self, path: Path, handle: _Handle | None, created: list[Path]) -> None:
        self.path, self._handle, self._created = path, handle, created

    @property
    def lock_path(self) -> Path:
        return lock_path(self.path)

    @staticmethod
    def _try(path: Path) -> _Handle | None:
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
        return flock_nonblocking(lock_path(path))

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
    def default(cls, cfg: _Config, folder: Path, suffixes: tuple[str, ...] = (".weights.npz",)) -> OutputClaim:
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
    def _drop(handle: _Handle) -> None:
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

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release(committed=exc_type is None and self.path.exists())


def _write_temp(folder: Path, name: str, writer: Callable[[IO[bytes]], object]) -> Path:
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
    weights_writer: Callable[[IO[bytes]], object] | None = None,
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
    data = artifact_bytes(artifact, validate)
    temps: list[Path] = []
    placed: Path | None = None
    try:
        if weights_writer is not None:
            assert weights_path is not None
            temps.append(_write_temp(out.parent, weights_path.name, weights_writer))
        temps.append(_write_temp(out.parent, out.name, lambda fh: fh.write(data)))
        if weights_writer is not None and weights_path is not None:
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


__all__ = [
    "LOCK_SUFFIX",
    "OutputClaim",
    "check_output_dir",
    "check_output_path",
    "commit_pair",
    "config_tag",
    "flock_nonblocking",
    "lock_path",
    "nearest_existing",
    "plan_folder",
    "plan_outputs",
    "probe_writable",
    "write_output",
]
