"""Training data: MNIST in Keras's ``mnist.npz`` layout (loading, checking, fetching), a user's own arrays
(``from_arrays``, ``load_npz_arrays``), and the windows every arm trains on.

The bundled slice (``data/mnist-subset.npz``, see ``data/README.md`` for its
provenance and licence) holds the first 10,000 official training images, so the
default experiment needs no network. Every file is opened with
``allow_pickle=False`` and checked before use; each problem is one
``ParityError`` naming the file, what is wrong and the fix.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from paritybench.artifact.safeout import check_output_dir
from paritybench.errors import ParityError
from paritybench.experiment.npzguard import check_npz

BUNDLED_NAME = "mnist-subset.npz"
BUNDLED_SHA256 = "3be1bb6efef62c4154f22f1c60c12b6a271e20181b29300050905b41f0045b24"
OFFICIAL_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
OFFICIAL_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
REQUIRED_KEYS = ("x_train", "y_train")
IMAGE_SHAPE = (28, 28)


@dataclass(frozen=True)
class Dataset:
    """Training samples and targets and where they came from.

    ``form`` ``"mnist"``: images (uint8, (N, 28, 28)) and digits (uint8 0-9), windowed into flat float32
    rows and the labels a workload asks for. ``form`` ``"arrays"``: a user's own arrays (``from_arrays``),
    any shape and numeric dtype, windowed as they are (floating arrays as float32); ``record`` is what
    the artifact's ``environment.data`` adds about them (source, array names, shapes, dtypes, shuffle)."""

    x_train: np.ndarray
    y_train: np.ndarray
    path: str
    sha256: str
    bundled: bool
    form: str = "mnist"
    record: dict = field(default_factory=dict)


def describe(ds: Dataset) -> dict:
    """``environment.data`` of an artifact: the file (or function) and its sha256, and for a user's arrays
    what they are."""
    return {"path": ds.path, "sha256": ds.sha256, "bundled": ds.bundled, **ds.record}


def arrays_sha256(x: np.ndarray, y: np.ndarray) -> str:
    """sha256 over both arrays' dtype, shape and bytes (C order): the identity of arrays a function returned."""
    h = hashlib.sha256()
    for a in (x, y):
        a = np.ascontiguousarray(a)
        meta = f"{a.dtype.str}{a.shape}".encode()
        h.update(len(meta).to_bytes(8, "little") + meta + a.nbytes.to_bytes(8, "little"))
        h.update(a.data)
    return h.hexdigest()


def _numeric(a: np.ndarray) -> bool:
    # bool, signed, unsigned, floating: what a framework trains on
    return any(np.issubdtype(a.dtype, t) for t in (np.bool_, np.integer, np.floating))


def from_arrays(
    x: object, y: object, where: str, path: str, sha256: str, shuffle: int | None = None, record: dict | None = None
) -> Dataset:
    """A user's own samples ``x`` and targets ``y`` as a Dataset, checked: arrays of one length, numeric,
    finite; ``shuffle``: a seed of one permutation of the samples (NumPy's default_rng), applied here, once.
    ``where`` names the source in each one-line error (the workload and its Data.source)."""
    arrays = {}
    for name, a in (("x", x), ("y", y)):
        if not isinstance(a, np.ndarray):
            try:
                a = np.asarray(a)
            except Exception as exc:  # a ragged list, an object numpy cannot hold
                raise ParityError(
                    f"{where}: {name} is not an array ({type(exc).__name__}): give a numpy array"
                ) from None
        if a.ndim < 1:
            raise ParityError(f"{where}: {name} is a scalar ({a!r}): give an array with one row per sample")
        if not _numeric(a):
            raise ParityError(
                f"{where}: {name} has dtype {a.dtype}, which does not train: give bool, integer or floating values"
            )
        if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
            bad = np.argwhere(~np.isfinite(a))[0]
            count = int(np.size(a) - np.isfinite(a).sum())
            raise ParityError(
                f"{where}: {name} holds {count} NaN or infinite value(s), the first at sample {int(bad[0])} "
                f"(index {tuple(int(i) for i in bad)}): clean or drop those samples"
            )
        arrays[name] = a
    x, y = arrays["x"], arrays["y"]
    if x.shape[0] != y.shape[0]:
        raise ParityError(f"{where}: x has {x.shape[0]} samples but y has {y.shape[0]}: give one target row per sample")
    if x.shape[0] == 0:
        raise ParityError(f"{where}: x and y hold no samples")
    rec = {
        "source": "arrays",
        **(record or {}),
        "x_shape": list(x.shape),
        "x_dtype": str(x.dtype),
        "y_shape": list(y.shape),
        "y_dtype": str(y.dtype),
        "order": "fixed" if shuffle is None else "shuffled",
    }
    if shuffle is not None:
        perm = np.random.default_rng(shuffle).permutation(x.shape[0])
        x, y = x[perm], y[perm]
        rec["shuffle_seed"] = shuffle
    return Dataset(x_train=x, y_train=y, path=path, sha256=sha256, bundled=False, form="arrays", record=rec)


def load_npz_arrays(
    path: str | os.PathLike, x_name: str, y_name: str, where: str
) -> tuple[np.ndarray, np.ndarray, str]:
    """The arrays ``x_name`` and ``y_name`` of the npz at ``path`` and the file's sha256, read safely
    (``npzguard`` first, ``allow_pickle=False``); each problem one ParityError naming ``where``."""
    p = Path(path)
    hint = f"write it with numpy.savez(PATH, {x_name}=..., {y_name}=...)"
    if not p.exists():
        raise ParityError(f"{where}: data file {p} does not exist: write it first, or fix Data(source=...)")
    check_npz(p, f"{where}: data file", hint, members=(x_name, y_name))
    digest = sha256_file(p)
    try:
        with np.load(p, allow_pickle=False) as z:
            missing = [k for k in (x_name, y_name) if k not in z.files]
            if missing:
                raise ParityError(
                    f"{where}: data file {p} has no array {missing[0]!r} (it has {', '.join(z.files) or 'none'}): "
                    f"name one of them in Data(x=..., y=...)"
                )
            x, y = z[x_name], z[y_name]
    except ParityError:
        raise
    except (ValueError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ParityError(f"{where}: data file {p} is not a readable npz ({exc}): {hint}") from None
    return x, y, digest


def bundled_path() -> Path:
    """Path of the MNIST slice shipped inside the package."""
    return Path(str(resources.files("paritybench") / "data" / BUNDLED_NAME))


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_mnist(path: str | os.PathLike | None = None, expected_sha256: str | None = None) -> Dataset:
    """Load and check a Keras-format ``mnist.npz`` (the bundled slice when ``path`` is None).

    The bundled file is always held to its recorded sha256; a user file is held
    to ``expected_sha256`` when given, and its hash is recorded either way.
    """
    bundled = path is None
    p = bundled_path() if bundled else Path(path)
    if bundled:
        expected_sha256 = BUNDLED_SHA256
    if not p.exists():
        raise ParityError(
            f"data file {p} does not exist: pass --data with a Keras-format mnist.npz, or run `paritybench data fetch`"
        )
    if not p.is_file():
        raise ParityError(f"data file {p} is not a regular file: pass the path of an mnist.npz")
    digest = sha256_file(p)
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise ParityError(
            f"data file {p} has sha256 {digest}, expected {expected_sha256}: "
            "the file is corrupt or a different dataset; download it again"
        )
    # Zip directory and array headers first: a renamed .npy, a zip bomb or an absurd declared
    # shape is one line here, never a MemoryError inside np.load (paritybench.experiment.npzguard).

    check_npz(p, "data file", "pass a Keras-format mnist.npz, or run `paritybench data fetch`", members=REQUIRED_KEYS)
    try:
        with np.load(p, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ParityError(
                    f"data file {p} is a single .npy array, not an npz archive: pass a Keras-format mnist.npz"
                )
            missing = [k for k in REQUIRED_KEYS if k not in z.files]
            if missing:
                raise ParityError(f"data file {p} lacks keys {missing} (has {z.files}): pass a Keras-format mnist.npz")
            x, y = z["x_train"], z["y_train"]
    except ParityError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "pickle" in str(exc).lower():
            raise ParityError(
                f"data file {p} holds pickled Python objects, which paritybench "
                "never loads: pass an npz of plain uint8 arrays"
            ) from None
        raise ParityError(f"data file {p} is not a readable npz ({exc}): download it again") from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ParityError(f"data file {p} is truncated or not an npz archive ({exc}): download it again") from None
    _check_arrays(p, x, y)
    return Dataset(x_train=x, y_train=y, path=str(p), sha256=digest, bundled=bundled)


def _check_arrays(p: Path, x: np.ndarray, y: np.ndarray) -> None:
    if x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE:
        raise ParityError(
            f"data file {p}: x_train has shape {x.shape}, expected (N, 28, 28): pass a Keras-format mnist.npz"
        )
    if y.shape != (x.shape[0],):
        raise ParityError(
            f"data file {p}: y_train has shape {y.shape}, expected ({x.shape[0]},) "
            "to match x_train: pass a Keras-format mnist.npz"
        )
    if x.dtype != np.uint8:
        raise ParityError(f"data file {p}: x_train has dtype {x.dtype}, expected uint8 pixels 0-255")
    if not np.issubdtype(y.dtype, np.integer):
        raise ParityError(f"data file {p}: y_train has dtype {y.dtype}, expected integer digits 0-9")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise ParityError(f"data file {p}: y_train holds values outside 0-9")


# Each label kind's width: window's labels are (n, LABEL_WIDTH[labels]).
LABEL_WIDTH = {"binary": 1, "onehot10": 10}


def window(
    ds: Dataset, start: int, n: int, normalize: bool = False, labels: str = "binary"
) -> tuple[np.ndarray, np.ndarray]:
    """``x_train[start:start+n]`` flattened to float32 (raw 0-255 unless ``normalize``)
    and the labels: ``"binary"``, ``digit >= 5`` as float32 of shape (n, 1); ``"onehot10"``,
    the digit one-hot as float32 of shape (n, 10). A user's arrays (``form`` ``"arrays"``, labels
    ``"given"``): the samples and targets as they are, floating ones as float32."""
    total = ds.x_train.shape[0]
    if start < 0 or n <= 0:
        raise ParityError(f"window start={start}, n={n} is invalid: start must be >= 0 and n > 0")
    what = "training images" if ds.form == "mnist" else "samples"
    if n > total:  # no start fits: the problem is --n, not the window ("a start of at most -500")
        raise ParityError(
            f"--n {n} is more samples than {ds.path} holds ({total} {what}): "
            f"use --n {total} or less"
            + (", or the full dataset (--data, `paritybench data fetch`)" if ds.bundled else "")
        )
    if start + n > total:
        raise ParityError(
            f"window {start}:{start + n} runs past the end of {ds.path} "
            f"({total} {what}): use a start of at most {total - n}"
            + (" or the full dataset (--data, `paritybench data fetch`)" if ds.bundled else "")
        )
    if ds.form != "mnist":
        if normalize:
            raise ParityError(
                f"--normalize scales MNIST's pixels to [0, 1]; {ds.path} is the workload's own data: "
                "scale it where you make it, and drop --normalize"
            )
        if labels != "given":
            raise ParityError(f"labels {labels!r} are MNIST's; {ds.path} gives its own targets (labels 'given')")
        xs, ys = ds.x_train[start : start + n], ds.y_train[start : start + n]
        as32 = lambda a: a.astype(np.float32) if np.issubdtype(a.dtype, np.floating) else np.array(a)  # noqa: E731
        return as32(xs), as32(ys)
    x = ds.x_train[start : start + n].reshape(n, -1).astype(np.float32)
    if normalize:
        x = x / np.float32(255.0)
    digits = ds.y_train[start : start + n]
    if labels == "onehot10":
        return x, np.eye(10, dtype=np.float32)[digits]
    y = (digits >= 5).astype(np.float32).reshape(n, 1)
    return x, y


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/paritybench, else ~/.cache/paritybench; a HOME that is not a directory is refused."""
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "paritybench"
    try:
        home = Path.home()  # $HOME, else the password database
    except (RuntimeError, KeyError, OSError):
        raise ParityError(
            "no home directory (HOME is not set and the user has none): pass --cache-dir DIR or set HOME"
        ) from None
    if not home.is_dir():
        raise ParityError(
            f"HOME {home} is not an existing directory: set HOME to your home directory, or pass --cache-dir DIR"
        )
    return home / ".cache" / "paritybench"


def fetch(
    cache_dir: str | os.PathLike | None = None, url: str = OFFICIAL_URL, expected_sha256: str = OFFICIAL_SHA256
) -> Path:
    """Download Keras's official ``mnist.npz`` into ``cache_dir`` and verify it.

    The file lands under its final name only when its sha256 matches; otherwise
    nothing is left behind. An already-cached good file is not downloaded again.
    """
    target_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    target = target_dir / "mnist.npz"
    if target.is_file() and sha256_file(target) == expected_sha256:
        return target
    # Checked before anything is created: a folder under a regular file, on a read-only mount or
    # under /proc is one line; folders made for a download that then fails are removed again.

    check_output_dir(target_dir, "cache folder")
    missing = []
    d = Path(os.path.abspath(target_dir))
    while not os.path.lexists(d):
        missing.append(d)
        d = d.parent
    target_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _download(target_dir, target, url, expected_sha256)
    except BaseException:
        for folder in missing:  # deepest first; only the empty ones this call made
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _download(target_dir: Path, target: Path, url: str, expected_sha256: str) -> Path:
    """Stream ``url`` into a temporary file in ``target_dir``; rename it to ``target`` only if its sha256 matches."""
    fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=".mnist-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=60) as resp:
                    for chunk in iter(lambda: resp.read(1 << 20), b""):
                        out.write(chunk)
            except OSError as exc:
                raise ParityError(
                    f"could not download {url} ({exc}): check the network, or download it by hand and pass --data PATH"
                ) from None
        got = sha256_file(tmp)
        if got != expected_sha256:
            raise ParityError(
                f"downloaded {url} has sha256 {got}, expected {expected_sha256}: refused; the file was not kept"
            )
        os.replace(tmp, target)
        return target
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
