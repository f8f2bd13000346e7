"""Finding workloads: built-in names, installed entry points, a Python file, or ``module:attr``.

``--workload`` takes any of:
- a built-in name (``seed-bce``, ``softmax-ce``);
- a name an installed package registers in the ``paritybench.workloads`` entry-point group
  (the way pytest finds plugins): ``[project.entry-points."paritybench.workloads"]
  my-mlp = "mypkg.workload:WORKLOAD"``;
- a path to a Python file defining ``WORKLOAD`` (``path/to/file.py``);
- ``package.module:attr`` naming a Workload object.

The Keras workers load the workload from the same spec, so a user's file works in every
process. Loading imports the workload's declaration only: built-in workloads import no
framework until an arm runs.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import traceback
from dataclasses import replace
from importlib import metadata
from pathlib import Path

from paritybench import watchdog
from paritybench.errors import ParityError
from paritybench.workloads.base import Data, Workload, check

DEFAULT = "seed-bce"
ENTRY_POINT_GROUP = "paritybench.workloads"
BUILTIN: dict[str, str] = {
    "seed-bce": "paritybench.workloads.seed_bce:WORKLOAD",
    "softmax-ce": "paritybench.workloads.softmax_ce:WORKLOAD",
    "adam-epsilon": "paritybench.workloads.adam_epsilon:WORKLOAD",
    "l2-weight-decay": "paritybench.workloads.l2_weight_decay:WORKLOAD",
    "label-shape": "paritybench.workloads.label_shape:WORKLOAD",
    "same-padding": "paritybench.workloads.same_padding:WORKLOAD",
    "flatten-order": "paritybench.workloads.flatten_order:WORKLOAD",
    "pool-padding": "paritybench.workloads.pool_padding:WORKLOAD",
    "tf32-matmul": "paritybench.workloads.tf32_matmul:WORKLOAD",
    "gpu-nondeterminism": "paritybench.workloads.gpu_nondeterminism:WORKLOAD",
    "batchnorm-momentum": "paritybench.workloads.batchnorm_momentum:WORKLOAD",
    "init-defaults": "paritybench.workloads.init_defaults:WORKLOAD",
    "gelu-approximate": "paritybench.workloads.gelu_approximate:WORKLOAD",
    "leaky-relu-slope": "paritybench.workloads.leaky_relu_slope:WORKLOAD",
    "loss-reduction": "paritybench.workloads.loss_reduction:WORKLOAD",
    "batchnorm-variance": "paritybench.workloads.batchnorm_variance:WORKLOAD",
    "momentum-schedule": "paritybench.workloads.momentum_schedule:WORKLOAD",
    "fit-shuffle": "paritybench.workloads.fit_shuffle:WORKLOAD",
    "dropout-rng": "paritybench.workloads.dropout_rng:WORKLOAD",
    "mixed-precision": "paritybench.workloads.mixed_precision:WORKLOAD",
}
_CACHE: dict[str, Workload] = {}


def _where_raised(exc: BaseException, files: tuple[str, ...] = ()) -> str:
    """``file:line`` of the user's code that raised ``exc``: the deepest frame in one of ``files`` or in a module
    beside them (``import mymodel`` next to ``workload.py``: that module's line, not the import's; an installed
    package under the folder, ``site-packages``, is not the user's), else the deepest frame that is not Python's
    import machinery nor paritybench's own."""
    if isinstance(exc, SyntaxError) and exc.filename:  # raised compiling the file: no frame of its own
        return f"{exc.filename}:{exc.lineno}"
    frames = traceback.extract_tb(exc.__traceback__)
    mine = str(Path(__file__).resolve().parents[1])
    folders = tuple({str(Path(f).parent) + os.sep for f in files if f})

    def beside(name: str) -> bool:
        return name.startswith(folders) and "site-packages" not in name and not name.startswith(mine)

    for wanted in (
        lambda f: f.filename in files or (folders and beside(f.filename)),
        lambda f: not f.filename.startswith("<") and not f.filename.startswith(mine),
    ):
        hits = [f for f in frames if wanted(f)]
        if hits:
            return f"{hits[-1].filename}:{hits[-1].lineno}"
    return "?"


where_raised = _where_raised  # a user function's file:line, for the data sources too (workloads.datasource)


def user_error(spec: str, exc: BaseException, files: tuple[str, ...] = ()) -> ParityError:
    """A workload's own exception (or ``sys.exit``) at import, as one line: where in the user's code, and what."""
    where = _where_raised(exc, files)
    if isinstance(exc, SystemExit):  # sys.exit() in the file: exit 0 and silence before
        return ParityError(
            f"--workload {spec}: importing it called sys.exit({exc.code!r}) at {where}: a workload file must only "
            "define WORKLOAD; move the script part under `if __name__ == '__main__':`"
        )
    text = (str(exc).strip().splitlines() or [""])[0].strip()  # its first line: the error stays one line
    return ParityError(
        f"--workload {spec}: importing it raised {type(exc).__name__} at {where}"
        + (f": {text}" if text else "")
        + ": fix the workload file"
    )


def _guarded_import(spec: str, load, files: tuple[str, ...] = ()):
    """Run ``load()`` (a workload module's import) under the step time limit; its own exception is one line."""
    try:
        with watchdog.limit(watchdog.step_timeout(), f"importing workload {spec}"):
            return load()
    except ParityError:
        raise
    except (Exception, SystemExit) as exc:
        raise user_error(spec, exc, files) from None


def _import_attr(ref: str, where: str):
    module, _, attr = ref.partition(":")

    def find():
        try:
            return importlib.util.find_spec(module)
        except ModuleNotFoundError:  # a parent package that is not there
            return None

    found = _guarded_import(where, find)
    if found is None:
        raise ParityError(
            f"--workload {where}: cannot import {module} (no module named {module!r}): check the module name "
            "and that its package is installed"
        )
    obj = _guarded_import(where, lambda: importlib.import_module(module), (found.origin or "",))
    for part in (attr or "WORKLOAD").split("."):
        if not hasattr(obj, part):
            raise ParityError(
                f"--workload {where}: {module} has no attribute {part!r}: name the Workload object, "
                f"e.g. {module}:WORKLOAD"
            )
        obj = getattr(obj, part)
    return obj


def module_sha256(module_name: str) -> str | None:
    """sha256 over the source of the module that defines a workload: its file, or for a package every
    ``.py`` file in its folder (a workload is a folder: model, arms and forward passes live beside it).
    None for a module with no source on disk (a namespace package, a frozen or compiled module)."""
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    if not file or not file.endswith(".py"):
        return None
    path = Path(file)
    files = sorted(path.parent.rglob("*.py")) if path.name == "__init__.py" else [path]
    h = hashlib.sha256()
    for f in files:
        rel = f.relative_to(path.parent).as_posix().encode()
        data = f.read_bytes()
        h.update(len(rel).to_bytes(8, "little") + rel + len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


def entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _from_file(path: Path, spec: str) -> tuple[Workload, dict]:
    if not path.is_file():
        raise ParityError(
            f"--workload {spec}: no such file: give a Python file defining WORKLOAD, a module:attr, "
            f"or one of {', '.join(names())}"
        )
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    name = f"paritybench_user_workload_{digest[:16]}"
    # The file's folder is on the import path, as `python file.py` puts it there: a workload that imports a module
    # beside it (or names one as "module:function") loads, here and in the Keras workers (they load the workload
    # through this too), and finds its own siblings, not another workload's of the same name.
    _siblings_first(path.resolve().parent)
    loaded = sys.modules.get(name)
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() == path.resolve():
        module = loaded
    else:
        mspec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(mspec)
        sys.modules[name] = module  # dataclasses and pickling look the module up by name
        try:
            _guarded_import(spec, lambda: mspec.loader.exec_module(module), (str(path), str(path.resolve())))
        except ParityError:
            del sys.modules[name]
            raise
    if not hasattr(module, "WORKLOAD"):
        raise ParityError(f"--workload {spec}: the file defines no WORKLOAD: add WORKLOAD = Workload(...)")
    origin = {"source": "file", "spec": str(path.resolve()), "sha256": digest}
    return module.WORKLOAD, origin


_USER_FOLDERS: set[Path] = set()  # folders of the workload files loaded in this process


def _siblings_first(folder: Path) -> None:
    """``folder`` first on the import path, and every module that another workload file's folder supplied under a
    name that ``folder`` holds as a file or package forgotten: one process that loads two workloads whose folders
    both hold, say, ``model.py`` (a notebook, the pytest plugin, the worker pool) imports each workload's own
    ``model``, never the one loaded first (the earlier workload keeps the module objects it already holds; loaded
    again, it gets its own back). Modules from anywhere else (the frameworks, the standard library) are never
    touched."""
    _USER_FOLDERS.add(folder)
    where = str(folder)
    if where in sys.path:
        sys.path.remove(where)
    sys.path.insert(0, where)
    for mod_name, mod in list(sys.modules.items()):
        if "." in mod_name or not ((folder / f"{mod_name}.py").is_file() or (folder / mod_name).is_dir()):
            continue
        file = getattr(mod, "__file__", None)
        if not file:
            continue
        at = Path(file).resolve()
        owner = at.parent if at.name != "__init__.py" else at.parent.parent
        if owner != folder and owner in _USER_FOLDERS:
            for sub in [n for n in sys.modules if n == mod_name or n.startswith(mod_name + ".")]:
                del sys.modules[sub]


def anchored(d: Data, folder: Path | None) -> Data:
    """``d`` with a relative ``.npz`` source made absolute against ``folder``: the folder of the workload's own
    file (a file workload) or module, so ``Data(source="data.npz")`` means the file beside ``workload.py``
    whatever the current directory."""
    if d.source_kind != "npz" or folder is None or os.path.isabs(str(d.source)):
        return d
    return replace(d, source=str(folder / str(d.source)))


def _folder(origin: dict, module: str | None) -> Path | None:
    if origin.get("source") == "file":
        return Path(origin["spec"]).parent
    file = getattr(sys.modules.get(module or ""), "__file__", None)
    return Path(file).resolve().parent if file else None


def load(spec: str | None = None) -> Workload:
    """The workload named by ``spec`` (the default seed workload when None), checked."""
    spec = spec or DEFAULT
    if spec in _CACHE:
        cached = _CACHE[spec]
        if (cached.origin or {}).get("source") == "file":  # its folder's siblings first again (_siblings_first)
            _siblings_first(Path(cached.origin["spec"]).parent)
        return cached
    module = None  # the module whose source identifies the workload (a file workload hashes its file)
    if spec in BUILTIN:
        obj, origin = _import_attr(BUILTIN[spec], spec), {"source": "builtin", "spec": spec}
        module = BUILTIN[spec].partition(":")[0]
    elif spec.endswith(".py") or "/" in spec or spec.startswith("."):
        obj, origin = _from_file(Path(spec), spec)
    elif ":" in spec:
        obj, origin = _import_attr(spec, spec), {"source": "module", "spec": spec}
        module = spec.partition(":")[0]
    elif spec in (eps := entry_points()):
        obj = _guarded_import(spec, eps[spec].load)
        dist = eps[spec].dist
        origin = {
            "source": "entry-point",
            "spec": spec,
            "value": eps[spec].value,
            "package": f"{dist.name} {dist.version}" if dist else None,
        }
        module = eps[spec].module
    else:
        raise ParityError(
            f"unknown workload {spec!r}: valid workloads are {', '.join(names())}, "
            "or a path/to/file.py, or package.module:attr"
        )
    if module is not None and (digest := module_sha256(module)):
        # The workload's identity is its content, not its name and version: an edit between a killed
        # sweep and --resume is refused (paritybench.studies.checkpoint), and the artifact records it.
        origin = {**origin, "sha256": digest}
    w = check(obj, spec)
    w = replace(w, origin=origin, data=anchored(w.data, _folder(origin, module)))
    _CACHE[spec] = w
    return w


def names() -> list[str]:
    """Built-in and installed workload names."""
    return [*BUILTIN, *(n for n in entry_points() if n not in BUILTIN)]


def discover() -> list[tuple[str, Workload | None, str]]:
    """(name, workload or None, question or the error) for every built-in and installed workload."""
    out: list[tuple[str, Workload | None, str]] = []
    for name in names():
        try:
            w = load(name)
            out.append((name, w, w.question))
        except ParityError as exc:
            out.append((name, None, f"(cannot load: {exc})"))
    return out
