"""A workload's training data, from its ``Data`` declaration: MNIST, or the user's own arrays.

``load`` is what every process that trains calls (the runner, the Keras workers, localize, the sweep
engines): for ``Data(dataset="mnist")`` the bundled slice or ``--data`` (``experiment.data.load_mnist``);
for ``Data(source=...)`` the ``.npz`` the workload names (made absolute against the workload's own
folder by ``registry.anchored``) or the arrays a user function returns, checked by
``experiment.data.from_arrays`` before anything trains. Every problem is one ``ParityError`` naming the
workload and its source; a user function that raises is reported at the user's own file and line.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from paritybench import watchdog
from paritybench.errors import ParityError
from paritybench.experiment import data, heads
from paritybench.workloads.base import Workload, resolve_ref
from paritybench.workloads.registry import where_raised

# (source, x, y, shuffle, file identity) -> Dataset: a run loads its data in several places (the shape check,
# the runner); a function's arrays are made once per process, a file is read again when it changed.
_CACHE: dict[tuple, data.Dataset] = {}


def _where(w: Workload) -> str:
    src = w.data.source
    shown = src if isinstance(src, str) else getattr(src, "__qualname__", repr(src))
    return f"workload {w.name}: Data(source={shown!r})"


def load(w: Workload, path: str | None = None, sha256: str | None = None) -> data.Dataset:
    """The workload's dataset, checked (``path``/``sha256``: ``--data`` and ``--data-sha256``, for MNIST)."""
    d = w.data
    if d.dataset == "mnist":
        return data.load_mnist(path, sha256)
    where = _where(w)
    if path is not None:
        raise ParityError(
            f"--data {path}: {where} names its own data; --data replaces MNIST only: drop --data "
            "(or point Data(source=...) at the file)"
        )
    if d.source_kind == "npz":
        p = Path(str(d.source))
        st = p.stat() if p.is_file() else None
        key: tuple = (str(p), d.x, d.y, d.shuffle, st and (st.st_mtime_ns, st.st_size, st.st_ino))
        if st is None or key not in _CACHE:
            x_name, y_name = d.x or "x", d.y or "y"
            x, y, digest = data.load_npz_arrays(p, x_name, y_name, where)
            record = {"source": "npz", "x": x_name, "y": y_name}
            _CACHE[key] = data.from_arrays(x, y, where, str(p), digest, d.shuffle, record)
    else:
        fn, failed = _resolved(d.source)
        key = (d.source, _source_file(fn), None, d.shuffle, None)
        if key not in _CACHE:
            x, y = _call(fn, failed, where)
            ref = d.source if isinstance(d.source, str) else getattr(d.source, "__qualname__", repr(d.source))
            record = {"source": "function", "function": ref}
            ds = data.from_arrays(x, y, where, f"{ref}()", "", d.shuffle, record)
            # the arrays' identity: dtype, shape and bytes of x and y, as the function returned them (unshuffled)
            _CACHE[key] = data.Dataset(
                ds.x_train, ds.y_train, ds.path, data.arrays_sha256(x, y), False, ds.form, ds.record
            )
    ds = _squeeze_ids(w, _CACHE[key])
    _check_head(w, ds.y_train, where)
    if sha256 is not None and ds.sha256 != sha256.lower():
        raise ParityError(
            f"{where}: the data has sha256 {ds.sha256}, expected {sha256}: it changed while the run or "
            "sweep was under way; keep it fixed, and start again"
        )
    return ds


def _squeeze_ids(w: Workload, ds: data.Dataset) -> data.Dataset:
    """A softmax head's integer class ids with a trailing axis of 1, (n, 1) or (n, T, 1), as (n,) or (n, T): the
    form every arm trains on. Keras's ``sparse_categorical_crossentropy`` squeezes that axis itself (both backends'
    ``nn.sparse_categorical_crossentropy``, ``keras/src/losses/losses.py``), and so does its sparse categorical
    accuracy; torch's ``F.cross_entropy`` refuses (n, 1) targets ("0D or 1D target tensor expected") and optax's
    ``softmax_cross_entropy_with_integer_labels`` fails on them, so the squeezed ids are what all three take. The
    artifact records the shape trained (``y_shape``) and the shape given (``y_squeezed_from``); the sha256 is the
    data's as given. The cached dataset is left as it is (another head may load it)."""
    y = ds.y_train
    if w.model.head != "softmax" or not heads.integer(y.dtype) or y.ndim < 2 or y.shape[-1] != 1:
        return ds
    record = {**ds.record, "y_shape": list(y.shape[:-1]), "y_squeezed_from": list(y.shape)}
    return dataclasses.replace(ds, y_train=y[..., 0], record=record)


def mnist_arrays(path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's training images and digits as plain arrays, for a workload's own ``Data(source=...)`` function
    that shapes them its own way (rows as sequences, crops, other labels): ``images`` uint8 (N, 28, 28), pixels
    0-255, and ``digits`` uint8 (N,), 0-9. ``path`` None is the bundled slice (10,000 images), read and held to
    its recorded sha256 exactly as ``Data(dataset="mnist")`` reads it (``experiment.data.load_mnist``); a path is
    another Keras-format ``mnist.npz``, checked the same way. Each call reads the file again: the arrays are the
    caller's own."""
    ds = data.load_mnist(path)
    return ds.x_train, ds.y_train


def _check_head(w: Workload, y, where: str) -> None:
    """The targets against what the head counts as correct (``experiment.heads``), before any model runs: a
    sigmoid head one 0/1 label per logit, (n, k) or (n, T, k); a softmax head one-hot rows (floating, (n, k) or
    (n, T, k)) or class ids (integers >= 0, (n,) or (n, T)). The logits' shape is checked against them by
    ``heads.problem`` once the forward pass is known (``pipeline.shapes``, the Keras worker's
    ``check_targets``); a linear head takes any shape (its metric is the loss)."""
    head = w.model.head
    if head == "sigmoid" and y.ndim < 2:
        raise ParityError(
            f"{where}: y has shape {y.shape}, but a sigmoid head counts 0/1 labels of shape (n, k), one logit each: "
            "reshape it to (n, 1) (one label per sample)"
        )
    if head == "softmax" and heads.integer(y.dtype):
        if y.size and int(y.min()) < 0:
            raise ParityError(
                f"{where}: y holds class ids (dtype {y.dtype}), but {int(y.min())} is negative: give ids 0..k-1"
            )
    elif head == "softmax" and (y.ndim < 2 or y.shape[-1] < 2):
        raise ParityError(
            f"{where}: y has shape {y.shape} and dtype {y.dtype}, but a softmax head takes one-hot rows (floating, "
            "shape (n, k) or (n, T, k)) or class ids (integers, shape (n,) or (n, T)): give ids as integers, "
            "y.astype('int32')"
        )


def _resolved(ref) -> tuple[Callable[..., Any] | None, Exception | None]:
    """The function behind a function source, resolved once per ``load`` (its module imported for a
    ``"module:function"``), or the exception resolving it raised: ``_call`` says that one in one line, as it says
    the function's own."""
    try:
        return resolve_ref(ref), None
    except Exception as exc:
        return None, exc


def _source_file(fn: Callable[..., Any] | None) -> str | None:
    """The file a function source is defined in: two workloads whose folders each hold ``mydata.py`` name two
    sources by one string ``"mydata:make"``, cached apart. None for a source that could not be resolved
    (``_call`` then says why)."""
    if fn is None:
        return None
    try:
        return inspect.getsourcefile(fn) or getattr(fn, "__module__", None)
    except TypeError:  # a callable with no Python source (a builtin, a functools.partial): its module
        return getattr(fn, "__module__", None)


def _call(fn: Callable[..., Any] | None, failed: Exception | None, where: str):
    """``Data.source()``: the user's function (``_resolved``), under the step time limit; its exception, or the
    one resolving it raised, is one line at its line."""
    try:
        if failed is not None:
            raise failed
        assert fn is not None  # resolved (``_resolved`` gives one of the two)
        with watchdog.limit(watchdog.step_timeout(), f"{where}: making the data"):
            out = fn()
    except ParityError:
        raise
    except Exception as exc:
        text = (str(exc).strip().splitlines() or [""])[0].strip()
        raise ParityError(
            f"{where} raised {type(exc).__name__} at {where_raised(exc)}" + (f": {text}" if text else "")
        ) from None
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise ParityError(f"{where} returned a {type(out).__name__}: return a pair (x, y) of arrays")
    return out
