"""Checks on an ``.npz`` file made from its zip directory and array headers, before numpy reads a byte of data.

``np.load`` trusts the file: a ``.npy`` renamed ``.npz`` comes back as a bare
array (and ``with np.load(...)`` then fails with a traceback), and reading a
member allocates the whole array its header declares *before* reading any data
(``numpy.lib.format.read_array``: ``numpy.ndarray(count)`` for a zip member), so
a 200-byte header declaring 713 TiB is a MemoryError and a 2 MB member that
inflates to 2 GB is read in full. Here the zip directory's ``file_size`` (which
``zipfile`` enforces: it stops at that size and checks the CRC) and each
member's ``.npy`` header (``read_magic`` / ``read_array_header_*``) are checked
against caps first; every problem is one ``ParityError`` naming the file.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib

import numpy as np

from paritybench.artifact.inputs import check_input_file
from paritybench.errors import ParityError

# What one file may expand to, all members together: 1 GiB. Keras's official mnist.npz
# expands to 55 MB (x_train alone is 60,000 x 28 x 28 = 47,040,000 bytes), so this
# leaves room for an MNIST-format set 19 times the size, and a file that claims more
# is refused before anything is allocated.
MAX_EXPANDED_BYTES = 1 << 30
# Members in one archive: mnist.npz has 4, a weights file one per parameter per run.
MAX_MEMBERS = 100_000
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"


def _gib(n: int) -> str:
    """A byte count in the largest binary unit below it (713 TiB, 2 GiB, 1.5 MiB)."""
    for shift, unit in ((50, "PiB"), (40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.4g} {unit}"
    return f"{n} bytes"


def _header(fh) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    else:  # 3.0 only differs for structured dtypes with non-latin-1 field names: never plain arrays
        raise ValueError(f"npy format version {version[0]}.{version[1]} is not read by paritybench")
    return tuple(shape), dtype


def check_npz(
    path: str | os.PathLike,
    what: str,
    hint: str,
    members: tuple[str, ...] | None = None,
    max_bytes: int = MAX_EXPANDED_BYTES,
) -> None:
    """Raise ParityError unless ``path`` is an npz whose arrays numpy can read safely within ``max_bytes``.

    ``members`` (array names without ``.npy``) limits the header checks to the
    arrays the caller will read; absent ones are left to the caller's own message.
    """
    # A regular file first: opening a FIFO blocks until a writer comes (forever), a device reads without end.
    p = check_input_file(path, what, hint)
    try:
        with open(p, "rb") as fh:
            head = fh.read(len(NPY_MAGIC))
    except OSError as exc:
        raise ParityError(f"{what} {p} cannot be read ({exc.strerror or exc}): {hint}") from None
    if head.startswith(NPY_MAGIC):
        raise ParityError(f"{what} {p} is a single .npy array, not an npz archive (was it renamed?): {hint}")
    if not head.startswith(ZIP_MAGIC[:2]) or not zipfile.is_zipfile(p):
        raise ParityError(f"{what} {p} is truncated or not an npz archive (no zip directory): {hint}")
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise ParityError(f"{what} {p} holds {len(infos):,} members (at most {MAX_MEMBERS:,} are read): {hint}")
            total = sum(i.file_size for i in infos)
            if total > max_bytes:
                raise ParityError(
                    f"{what} {p} expands to {_gib(total)} ({total:,} bytes) from {_gib(p.stat().st_size)}"
                    f" on disk, more than paritybench reads from one file ({_gib(max_bytes)}): "
                    f"{hint}"
                )
            wanted = [
                i for i in infos if i.filename.endswith(".npy") and (members is None or i.filename[:-4] in members)
            ]
            for info in wanted:
                name = info.filename[:-4]
                with zf.open(info) as fh:
                    shape, dtype = _header(fh)
                if dtype.hasobject:
                    raise ParityError(
                        f"{what} {p} holds pickled Python objects ({name} has dtype {dtype}), which "
                        f"paritybench never loads: {hint}"
                    )
                declared = math.prod(shape) * dtype.itemsize
                if declared > max_bytes:
                    raise ParityError(
                        f"{what} {p}: {name} declares shape {shape} of {dtype} ({_gib(declared)}), "
                        f"more than paritybench reads from one file ({_gib(max_bytes)}): {hint}"
                    )
                if declared > info.file_size:
                    raise ParityError(
                        f"{what} {p}: {name} declares shape {shape} of {dtype} ({declared:,} bytes) "
                        f"but holds {info.file_size:,}: the file is damaged; {hint}"
                    )
    except ParityError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise ParityError(f"{what} {p} is truncated or not a readable npz archive ({exc}): {hint}") from None
