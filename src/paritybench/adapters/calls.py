"""Calling the user's own code: a user function that raises is reported at the user's own file and line
(:func:`user_call`), and the declared weights as the parameter table the mappings read (:func:`declared_table`,
:func:`renaming`). Shared by the adapters (``adapters.arms``, ``adapters.keras_jax``)."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from paritybench.errors import ParityError

from . import jax_params, layouts
from .mapping import Param, WeightMap

_OURS = str(Path(__file__).resolve().parents[1])  # paritybench's own package folder


def _label(ref: Any) -> str:
    """A user reference as written (``"module:function"``), a callable as ``module:qualname``, else its class."""
    if isinstance(ref, str):
        return ref
    module, qual = getattr(ref, "__module__", None), getattr(ref, "__qualname__", None)
    return f"{module}:{qual}" if module and qual else type(ref).__name__


def _as(fn: Callable[..., Any], ref: Any) -> Callable[..., Any]:
    """``fn``, named as the user's reference it calls (conventions and errors show ``jax_model:loss``, not an
    adapter's closure)."""
    module, _, qual = _label(ref).rpartition(":")
    fn.__module__, fn.__qualname__ = module or fn.__module__, qual
    return fn


def _user_frame(exc: BaseException) -> str:
    """``file:line`` of the innermost frame of the traceback outside paritybench and site-packages (the user's)."""
    where = ""
    for fs in traceback.extract_tb(exc.__traceback__):
        f = str(Path(fs.filename).resolve()) if fs.filename and not fs.filename.startswith("<") else fs.filename
        if f.startswith(_OURS) or "site-packages" in f or f.startswith("<"):
            continue
        where = f"{fs.filename}:{fs.lineno}"
    return where


def user_call(what: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """``fn(*args, **kw)``; an exception it raises becomes one line naming the user's file and line."""
    try:
        return fn(*args, **kw)
    except ParityError:
        raise
    except Exception as exc:
        where = _user_frame(exc) or getattr(getattr(fn, "__code__", None), "co_filename", "?")
        msg = str(exc).splitlines()[0] if str(exc) else ""
        raise ParityError(f"{what} raised at {where}: {type(exc).__name__}: {msg}") from exc


def _nested(declared: Mapping[str, tuple[int, ...]]) -> dict[str, Any]:
    """The declared names ``a/b`` as a nested tree of zero-stride stand-ins (what ``read_pytree`` reads)."""
    tree: dict[str, Any] = {}
    for name, shape in declared.items():
        *path, leaf = name.split("/")
        node = tree
        for p in path:
            node = node.setdefault(p, {})
        node[leaf] = np.broadcast_to(np.float32(0), shape)
    return tree


def declared_table(declared: Mapping[str, tuple[int, ...]]) -> list[Param]:
    """The workload's declaration as a parameter table (framework ``jax``: its kernels are (in, out))."""
    return jax_params.read_pytree(_nested(declared))


def renaming(m: WeightMap, what: str) -> dict[str, str]:
    """target name -> declared name, where every row is a one-to-one ``identity`` (else a one-line error)."""
    out: dict[str, str] = {}
    for r in m.rows:
        if r.transform != "identity" or len(r.sources) != 1:
            raise ParityError(
                f"{what}: {r.target.label()} is mapped by {r.transform!r} from "
                f"{' + '.join(s.name for s in r.sources) or 'nothing'}; an adapter arm trains the declared weights "
                "themselves, so declare Model.params in the same layout as this model"
            )
        out[r.target.name] = r.sources[0].name
    return out


@dataclass(frozen=True)
class Relayout:
    """One weight of a JAX model computed from one declared weight by a rule that moves elements: ``forward``
    (the model's weight, flattened, at each element the declared weight's flat index) and ``back`` (its
    inverse). ``take`` applies an index array to a NumPy or JAX array (a traced one included), so gradients and
    optimizer states cross the rule as gathers: exact, every element moved and none computed."""

    source: str
    spec: str
    forward: np.ndarray | None  # None: identity, the leaf itself
    back: np.ndarray | None

    @staticmethod
    def take(a: Any, index: np.ndarray | None) -> Any:
        return a if index is None else a.reshape(-1)[index.reshape(-1)].reshape(index.shape)


def relayouts(m: WeightMap, what: str) -> dict[str, Relayout]:
    """target name -> how it is computed from one declared weight: an ``identity`` (a renaming) or a rule that
    only moves elements (``layouts.Transform.gather``: a transpose, conv axes, equinox's conv bias shape, a Dense
    after a Flatten); a rule that computes values (``sum``, ``zeros``) is a one-line error."""
    out: dict[str, Relayout] = {}
    for r in m.rows:
        transform, _args = layouts.parse(r.transform)
        if len(r.sources) != 1 or not transform.gather:
            raise ParityError(
                f"{what}: {r.target.label()} is mapped by {r.transform!r} from "
                f"{' + '.join(s.name for s in r.sources) or 'nothing'}; an adapter arm trains the declared weights "
                "themselves, through rules that only move their elements: map it one to one (overrides/transforms)"
            )
        src = r.sources[0]
        if r.transform == "identity":
            out[r.target.name] = Relayout(src.name, r.transform, None, None)
            continue
        forward = layouts.gather_index(r.transform, [src.shape], r.target.shape).astype(np.int32)
        if forward.size != int(np.prod(src.shape)) or not np.array_equal(
            np.sort(forward, None), np.arange(forward.size)
        ):
            raise ParityError(
                f"{what}: {r.target.label()} is mapped by {r.transform!r} from {src.label()}, which does not take "
                "each declared element once; an adapter arm trains the declared weights themselves: map it one to one"
            )
        back = np.empty(int(np.prod(src.shape)), np.int32)
        back[forward.reshape(-1)] = np.arange(forward.size, dtype=np.int32)
        out[r.target.name] = Relayout(src.name, r.transform, forward, back.reshape(src.shape))
    return out
