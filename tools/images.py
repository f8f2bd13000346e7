"""Pinned CPU and CUDA images: build them without network, run the benchmark in them.

A host-side tool (``python tools/images.py ...``, driven by the Makefile): it
needs the Docker SDK for Python (a dev dependency) and a checkout of this
repository; the images themselves never import it. The flow:

    uv.lock -> docker/requirements-<variant>.txt (hashes) -> wheelhouse/<variant>/
    (pip download, hashes checked) -> docker build --network none -> run with the
    host's results/ collected, files owned by the calling user.

Every error a user can meet (no daemon, no permission, no GPU runtime, disk full,
a stale export, a missing wheelhouse) is a one-line ``ParityError``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from paritybench.errors import ParityError

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
WHEELHOUSE = ROOT / "wheelhouse"
VARIANTS = ("cpu", "cuda12")  # each is an extra of pyproject.toml
IMAGE_REPO = "paritybench"
STANDIN_BASE = "paritybench-base:trixie"
# The images' Python: wheels are fetched for this interpreter and platform, not the host's.
PYTHON_VERSION, ABI = "3.13", "cp313"
# glibc of Debian trixie is 2.41; any manylinux wheel up to that runs on it.
PLATFORMS = (
    "manylinux1_x86_64",
    "manylinux2010_x86_64",
    "manylinux2014_x86_64",
    *(f"manylinux_2_{m}_x86_64" for m in range(17, 42)),
)
REQUIREMENTS_HEADER = (
    "# Generated from uv.lock by `make docker-requirements` (python tools/images.py export);\n"
    "# do not edit: tests/test_docker.py fails when this is out of date with the lock.\n"
)
# Paths whose content goes into an image; a change to any of them means a rebuild.
IMAGE_INPUTS = ("docker/Dockerfile", "pyproject.toml", "uv.lock", "src/paritybench")
CONTAINER_HOME = "/paritybench"
CONTAINER_RUNS = f"{CONTAINER_HOME}/results/runs"
IMAGE_UID = 10001  # the image's own non-root user (docker/Dockerfile)


# ---------------------------------------------------------------------------- inputs
def _require_checkout() -> None:
    if not DOCKERFILE.is_file():
        raise ParityError(f"{DOCKERFILE} not found: the image tools run from a paritybench git checkout")


def _check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise ParityError(f"unknown image variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    return variant


def default_base_image() -> str:
    """The ``BASE_IMAGE`` default pinned in docker/Dockerfile (the one source of truth)."""
    _require_checkout()
    m = re.search(r"^ARG BASE_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    if not m:
        raise ParityError(f"{DOCKERFILE}: no 'ARG BASE_IMAGE=<image>@sha256:<digest>' line")
    return m.group(1)


DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def unpinned_from_lines(dockerfile_text: str) -> list[str]:
    """Every ``FROM`` whose image is not pinned by digest, directly or by an ARG default.

    An earlier stage's name is pinned by that stage; ``ARG`` defaults are read from the
    global ARGs (those before the first FROM), the only ones a FROM line can use.
    """
    args: dict[str, str] = {}
    stages: set[str] = set()
    bad = []
    seen_from = False
    for line in dockerfile_text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0].upper() == "ARG" and not seen_from:
            name, _, default = words[1].partition("=")
            args[name] = default
        elif words[0].upper() == "FROM":
            seen_from = True
            image = next(w for w in words[1:] if not w.startswith("--"))
            ref = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), ""), image)
            if image not in stages and not DIGEST.search(ref):
                bad.append(line.strip())
            if len(words) >= 4 and words[-2].upper() == "AS":
                stages.add(words[-1])
    return bad


def _uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        raise ParityError("uv not found: run `make setup` first (it installs uv into .tools/)")
    return found


def export_requirements(variant: str) -> str:
    """``uv.lock`` exported for one image variant: runtime dependencies only, with hashes."""
    _check_variant(variant)
    proc = subprocess.run(
        [
            _uv(),
            "export",
            "--locked",
            "--extra",
            variant,
            "--no-dev",
            "--no-emit-project",
            "--no-header",
            "--format",
            "requirements.txt",
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise ParityError(f"uv export failed ({last}): run `uv lock` if pyproject.toml changed")
    return REQUIREMENTS_HEADER + proc.stdout


def requirements_path(variant: str) -> Path:
    return ROOT / "docker" / f"requirements-{_check_variant(variant)}.txt"


def write_requirements() -> list[Path]:
    """Rewrite docker/requirements-<variant>.txt for every variant from uv.lock."""
    out = []
    for v in VARIANTS:
        path = requirements_path(v)
        path.write_text(export_requirements(v))
        out.append(path)
    return out


def check_requirements(variant: str) -> None:
    """Refuse to build from an export that no longer matches uv.lock."""
    path = requirements_path(variant)
    if not path.exists() or path.read_text() != export_requirements(variant):
        raise ParityError(f"{path.relative_to(ROOT)} is out of date with uv.lock: run `make docker-requirements`")


def lock_sha256() -> str:
    return hashlib.sha256((ROOT / "uv.lock").read_bytes()).hexdigest()


def source_revision() -> str:
    """HEAD's commit, with ``+dirty`` when a file that goes into the image differs from it."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", *IMAGE_INPUTS, "docker"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + ("+dirty" if dirty else "")


def inputs_sha256(variant: str, base_image: str) -> str:
    """One hash over everything that decides an image's content, to skip needless rebuilds."""
    h = hashlib.sha256(f"{variant}\0{base_image}\0".encode())
    files = [requirements_path(variant)]
    for rel in IMAGE_INPUTS:
        p = ROOT / rel
        files += sorted(q for q in p.rglob("*") if q.is_file() and "__pycache__" not in q.parts) if p.is_dir() else [p]
    for f in files:
        h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def image_tag(variant: str, base_image: str) -> str:
    """``paritybench:cpu`` for the pinned base; another base gets its own tag, never overwriting it."""
    if base_image == default_base_image():
        return f"{IMAGE_REPO}:{variant}"
    return f"{IMAGE_REPO}:{variant}-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", base_image.split("@")[0])[:100]


# ---------------------------------------------------------------------------- wheelhouse
def _pip_download(variant: str, dest: Path, offline: bool) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--quiet",
        "--require-hashes",
        "--only-binary=:all:",
        "--no-deps",
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--abi",
        ABI,
        *(f"--platform={p}" for p in PLATFORMS),
        "-r",
        str(requirements_path(variant)),
        "-d",
        str(dest),
    ]
    if offline:  # a wheelhouse is complete when pip finds every pinned wheel there, hash-checked
        cmd += ["--no-index", "--find-links", str(dest)]
    return subprocess.run(cmd, capture_output=True, text=True)


def ensure_wheelhouse(variant: str, log=print) -> Path:
    """wheelhouse/<variant>/: every wheel of the export, downloaded for linux x86_64 cp313.

    Skipped (no network) when every wheel is already there and matches its hash.
    """
    check_requirements(variant)
    dest = WHEELHOUSE / variant
    dest.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if _pip_download(variant, dest, offline=True).returncode == 0:
        took = time.perf_counter() - t0
        log(f"wheelhouse/{variant}: complete, hashes match ({_size(dest)}), checked in {took:.1f} s")
        return dest
    _check_disk(dest, need_gib=5 if variant == "cuda12" else 1)
    log(f"wheelhouse/{variant}: downloading wheels for linux x86_64 / {ABI} with hashes checked ...")
    proc = _pip_download(variant, dest, offline=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise ParityError(
            f"wheel download for {variant} failed: {last.strip()}"
            " (needs network to PyPI; see the message for the wheel)"
        )
    log(f"wheelhouse/{variant}: {_size(dest)} downloaded in {time.perf_counter() - t0:.0f} s")
    return dest


def _size(path: Path) -> str:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return f"{len(list(path.glob('*.whl')))} wheels, {total / 2**30:.2f} GiB"


def _check_disk(path: Path, need_gib: float) -> None:
    free = shutil.disk_usage(path).free / 2**30
    if free < need_gib:
        raise ParityError(
            f"disk full: {free:.1f} GiB free at {path}, about {need_gib} GiB needed;"
            " free space (docker system prune, rm -rf wheelhouse) and retry"
        )


def build_project_wheel(dest: Path) -> Path:
    """The project itself as a wheel, built on the host (the image build has no network)."""
    proc = subprocess.run(
        [_uv(), "build", "--wheel", "--quiet", "--out-dir", str(dest)], cwd=ROOT, capture_output=True, text=True
    )
    wheels = list(dest.glob("paritybench-*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise ParityError(f"building the paritybench wheel failed: {last}")
    return wheels[0]


# ---------------------------------------------------------------------------- docker
def client():
    """A Docker client, or one line saying why there is none and what to do."""
    try:
        import docker
    except ImportError as exc:
        raise ParityError("the Docker SDK for Python is missing: run `make setup` (it is a dev dependency)") from exc
    try:
        c = docker.from_env(timeout=600)
        c.ping()
        return c
    except docker.errors.DockerException as exc:
        raise ParityError(_docker_error_line(exc)) from exc


def _docker_error_line(exc: Exception) -> str:
    text = str(exc)
    if "Permission denied" in text or "PermissionError" in text:
        return (
            "no permission to use the Docker daemon: add yourself to the docker group"
            " (sudo usermod -aG docker $USER, then log in again) or run as root"
        )
    if any(s in text for s in ("FileNotFoundError", "Connection refused", "Connection aborted", "No such file")):
        return (
            "no Docker daemon is running (nothing answers at DOCKER_HOST or /var/run/docker.sock):"
            " start it (sudo systemctl start docker, or dockerd &) and retry"
        )
    if "no space left on device" in text.lower():
        return "disk full while Docker was writing: free space (docker system prune) and retry"
    return f"Docker failed: {text.splitlines()[0] if text else type(exc).__name__}"


def image_exists(c, ref: str):
    import docker

    try:
        return c.images.get(ref)
    except docker.errors.ImageNotFound:
        return None


@contextlib.contextmanager
def _build_context(variant: str) -> Iterator[Path]:
    """A context holding only what the Dockerfile copies, laid out as in the repository.

    Wheels are hard links (no copy of gigabytes), so `docker build -f docker/Dockerfile .`
    from the repository root reads the same paths.
    """
    WHEELHOUSE.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".context-{variant}-", dir=WHEELHOUSE) as tmp:
        ctx = Path(tmp)
        (ctx / "docker").mkdir()
        shutil.copy2(DOCKERFILE, ctx / "docker" / "Dockerfile")
        shutil.copy2(requirements_path(variant), ctx / "docker" / requirements_path(variant).name)
        wheels = ctx / "wheelhouse" / variant
        wheels.mkdir(parents=True)
        for whl in (WHEELHOUSE / variant).glob("*.whl"):
            try:
                os.link(whl, wheels / whl.name)
            except OSError:
                shutil.copy2(whl, wheels / whl.name)
        build_project_wheel(ctx / "wheelhouse" / "project")
        yield ctx


def build_image(variant: str, base_image: str | None = None, force: bool = False, log=print) -> str:
    """Build (if needed) the image for ``variant`` with no network; return its tag."""
    _check_variant(variant)
    base_image = base_image or default_base_image()
    c = client()
    tag = image_tag(variant, base_image)
    inputs = inputs_sha256(variant, base_image)
    existing = image_exists(c, tag)
    if existing is not None and not force and existing.labels.get("io.paritybench.experiment.inputs-sha256") == inputs:
        log(f"{tag}: up to date (inputs {inputs[:12]}), not rebuilt")
        return tag
    if image_exists(c, base_image) is None:
        raise ParityError(
            f"base image {base_image} is not on this Docker host and the build has no network:"
            f" docker pull {base_image} (or pass BASE_IMAGE=a local image) and retry"
        )
    ensure_wheelhouse(variant, log=log)
    _check_disk(WHEELHOUSE, need_gib=12 if variant == "cuda12" else 4)
    args = {
        "BASE_IMAGE": base_image,
        "VARIANT": variant,
        "LOCK_SHA256": lock_sha256(),
        "SOURCE_REVISION": source_revision(),
        "INPUTS_SHA256": inputs,
    }
    t0 = time.perf_counter()
    log(f"{tag}: building from {base_image} with no network ...")
    with _build_context(variant) as ctx:
        try:
            for chunk in c.api.build(
                path=str(ctx),
                dockerfile="docker/Dockerfile",
                tag=tag,
                buildargs=args,
                network_mode="none",
                pull=False,
                rm=True,
                forcerm=True,
                decode=True,
            ):
                if "error" in chunk:
                    raise ParityError(_build_error_line(chunk["error"]))
                line = chunk.get("stream", "").rstrip()
                if line.startswith("Step "):  # one line per Dockerfile step is progress enough
                    log(f"  {line}")
        except ParityError:
            raise
        except Exception as exc:  # the SDK raises several types for one daemon problem
            raise ParityError(_docker_error_line(exc)) from exc
    built = c.images.get(tag)
    if existing is not None and existing.id != built.id:
        # The previous build lost its tag; drop it (and the layers only it used) rather than
        # let every source edit leave a dangling multi-GB image behind.
        with contextlib.suppress(Exception):
            c.images.remove(existing.id)
    size = built.attrs["Size"] / 2**30
    log(f"{tag}: built in {time.perf_counter() - t0:.0f} s, {size:.2f} GiB")
    return tag


def _build_error_line(error: str) -> str:
    if "no space left on device" in error.lower():
        return "disk full during docker build: free space (docker system prune) and retry"
    return f"docker build failed: {error.strip().splitlines()[-1]}"


def run_container(
    tag: str, command: list[str], out_dir: Path | None = None, gpus: bool = False, log=print
) -> tuple[int, list[Path]]:
    """Run ``paritybench COMMAND`` in the image, read-only, no network, /tmp a tmpfs.

    Files the container writes under results/runs land in ``out_dir`` owned by the calling
    user. They are written to a fresh folder beside it first: a non-root caller's uid runs
    the container, a root caller gets the image's own non-root user. Returns the exit
    status and the new files.
    """
    import docker

    c = client()
    uid, gid = os.getuid(), os.getgid()
    kwargs = dict(
        network_mode="none",
        read_only=True,
        detach=True,
        tmpfs={"/tmp": "rw,nosuid,nodev,size=2g,mode=1777"},
        user=f"{uid}:{gid}" if uid != 0 else f"{IMAGE_UID}:{IMAGE_UID}",
    )
    if gpus:
        kwargs["device_requests"] = [docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])]
    incoming = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        incoming = Path(tempfile.mkdtemp(prefix=".incoming-", dir=out_dir))
        if uid == 0:
            os.chown(incoming, IMAGE_UID, IMAGE_UID)
        kwargs["volumes"] = {str(incoming): {"bind": CONTAINER_RUNS, "mode": "rw"}}
    container = None
    try:
        try:
            container = c.containers.run(tag, command, **kwargs)
            for chunk in container.logs(stream=True, follow=True):
                sys.stdout.write(chunk.decode(errors="replace"))
            status = container.wait()["StatusCode"]
        except docker.errors.APIError as exc:
            raise ParityError(_run_error_line(exc, gpus)) from exc
        moved = []
        if incoming is not None:
            for f in sorted(incoming.iterdir()):
                if uid == 0:
                    os.chown(f, 0, 0)
                target = out_dir / f.name
                if target.exists():
                    raise ParityError(f"{target} already exists: results are never overwritten")
                f.rename(target)
                moved.append(target)
        return status, moved
    finally:
        if container is not None:
            with contextlib.suppress(Exception):
                container.remove(force=True)
        if incoming is not None:
            shutil.rmtree(incoming, ignore_errors=True)


def _run_error_line(exc: Exception, gpus: bool) -> str:
    text = str(exc)
    if gpus and ("could not select device driver" in text or "nvidia" in text.lower()):
        return (
            "no GPU runtime in Docker: install the NVIDIA driver and the NVIDIA Container Toolkit"
            " (nvidia-ctk runtime configure --runtime=docker; restart docker), check with"
            " `docker run --rm --gpus all <image> devices`"
        )
    if "no space left on device" in text.lower():
        return "disk full while starting the container: free space (docker system prune) and retry"
    return _docker_error_line(exc)


def bench(variant: str, base_image: str | None, args: list[str], log=print) -> int:
    """``make bench-cpu`` / ``make bench-gpu``: build if needed, run the benchmark, collect."""
    tag = build_image(variant, base_image, log=log)
    gpus = variant != "cpu"
    if gpus:  # fail fast and clearly rather than quietly timing the CPU on a GPU host
        status, _ = run_container(tag, ["devices", "--require-gpu"], gpus=True, log=log)
        if status != 0:
            return status
    status, files = run_container(tag, ["run", *args], out_dir=ROOT / "results" / "runs", gpus=gpus, log=log)
    for f in files:
        log(f"collected: {f.relative_to(ROOT)}")
    return status


# ---------------------------------------------------------------------------- base images
def standin_base(tag: str = STANDIN_BASE, suite: str = "trixie", log=print) -> str:
    """A local stand-in for the pinned base (no registry here): Debian minbase + python3.

    Built with debootstrap and ``docker import``; skipped when ``tag`` already exists.
    """
    c = client()
    if image_exists(c, tag) is not None:
        log(f"{tag}: present, not rebuilt")
        return tag
    if shutil.which("debootstrap") is None:
        raise ParityError("debootstrap not found: apt-get install -y debootstrap (as root) and retry")
    if os.getuid() != 0:
        raise ParityError("debootstrap needs root: run the stand-in base build as root (CI does)")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="paritybench-rootfs-") as tmp:
        rootfs, tarball = Path(tmp) / "rootfs", Path(tmp) / "rootfs.tar"
        proc = subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates", suite, str(rootfs)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            last = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["(no message)"]
            raise ParityError(f"debootstrap {suite} failed: {last[0]} (needs network to a Debian mirror)")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
        repo, _, version = tag.partition(":")
        c.api.import_image_from_file(str(tarball), repository=repo, tag=version or "latest")
    log(f"{tag}: debootstrap + import in {time.perf_counter() - t0:.0f} s")
    return tag


def pin_base(ref: str = "python:3.13-slim-trixie", log=print) -> str:
    """Ask the registry for ``ref``'s current digest and rewrite docker/Dockerfile's pin."""
    import docker

    c = client()
    try:
        digest = c.images.get_registry_data(ref).id
    except docker.errors.APIError as exc:
        why = (getattr(exc, "explanation", None) or str(exc)).splitlines()[0][:160]
        raise ParityError(
            f"cannot reach the registry for {ref} ({why}): the pin is unchanged; retry where the registry is reachable"
        ) from exc
    pinned = f"{ref}@{digest}"
    text = DOCKERFILE.read_text()
    new = re.sub(r"^ARG BASE_IMAGE=\S+$", f"ARG BASE_IMAGE={pinned}", text, count=1, flags=re.MULTILINE)
    DOCKERFILE.write_text(new)
    log(f"docker/Dockerfile: BASE_IMAGE={pinned}" + (" (unchanged)" if new == text else ""))
    return pinned


# ---------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    """``python tools/images.py`` (what the Makefile's image targets call)."""
    p = argparse.ArgumentParser(prog="python tools/images.py", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("export", help="rewrite docker/requirements-*.txt from uv.lock")
    for name in ("wheelhouse", "build"):
        s = sub.add_parser(name)
        s.add_argument("variant", choices=VARIANTS)
        if name == "build":
            s.add_argument("--base-image", default=None, help="default: the digest pinned in docker/Dockerfile")
            s.add_argument("--force", action="store_true", help="rebuild even when the inputs are unchanged")
    s = sub.add_parser("bench", help="build if needed, then `paritybench run ARGS` in the image (ARGS after --)")
    s.add_argument("variant", choices=VARIANTS)
    s.add_argument("--base-image", default=None)
    s = sub.add_parser("standin-base", help="debootstrap a local Debian trixie base (no registry needed)")
    s.add_argument("--tag", default=STANDIN_BASE)
    sub.add_parser("pin-base", help="refresh the BASE_IMAGE digest from the registry")
    # Everything after "--" is for `paritybench run` inside the image (argparse's own "--"
    # handling does not reach into subcommands).
    argv = list(sys.argv[1:] if argv is None else argv)
    run_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    a = p.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    try:
        if a.cmd == "export":
            for path in write_requirements():
                print(f"wrote {path.relative_to(ROOT)}")
        elif a.cmd == "wheelhouse":
            ensure_wheelhouse(a.variant)
        elif a.cmd == "build":
            build_image(a.variant, a.base_image, force=a.force)
        elif a.cmd == "bench":
            return bench(a.variant, a.base_image, run_args)
        elif a.cmd == "standin-base":
            standin_base(a.tag)
        elif a.cmd == "pin-base":
            pin_base()
        return 0
    except ParityError as exc:
        print(f"paritybench: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
