"""Where a command may write: checked before any work, written complete or not at all.

A path the user names (``compare --output``, ``report --out``, ``timing --plot``)
is written only when it is a new regular file, or an existing regular file the
user asked to replace with ``--overwrite``. Never an input of the same command
(by resolved path and by inode, so a hard link or ``./a/../a.json`` is caught),
never through a symbolic link (a link to ``/dev/stdout`` or to an input would
otherwise be followed), never onto a directory, device, FIFO or socket.

Writability is probed by creating (and removing) a temporary file in the folder
that will hold the output, or in its nearest existing ancestor when the folder
does not exist yet: ``os.access`` says yes to root on ``/proc`` and answers for
the real, not the effective, user, so only a real create is a reliable test.
Nothing is created by a check: a folder that does not exist is not made until
the command has done its work.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from paritybench.errors import ParityError


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


def nearest_existing(path: Path) -> Path:
    """The path itself if it exists, else its nearest ancestor that does (lexists: a dangling link counts)."""
    p = Path(os.path.abspath(path))
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p


def probe_writable(folder: Path, what: str) -> None:
    """Raise ParityError unless a file can be created in ``folder`` (an existing directory); leave nothing."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".paritybench-probe-", suffix=".tmp")
    except OSError as exc:
        raise ParityError(
            f"{what}: cannot create files in {folder} ({exc.strerror or exc}): choose a writable location"
        ) from None
    os.close(fd)
    os.unlink(tmp)


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

    Without ``overwrite`` the publish is ``os.link`` (fails if ``path`` appeared
    since the check: no race can replace a file); with it, ``os.replace`` (which
    replaces a link itself, never its target). Either way a reader sees no file
    or the complete one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; results are for sharing
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise ParityError(
                    f"{path} appeared while paritybench was working: it was left as it is; "
                    "pass --overwrite to replace it, or choose a new path"
                ) from None
            except OSError:  # a file system without hard links: re-check, then rename
                if os.path.lexists(path):
                    raise ParityError(
                        f"{path} appeared while paritybench was working: it was left as it is; "
                        "pass --overwrite to replace it, or choose a new path"
                    ) from None
                os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
