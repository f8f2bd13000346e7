"""Where a sweep's cases train: in this process (``local``) or as Ray tasks (``--engine ray``).

Either way every finished run goes to the same ``on_run`` (the sweep's
checkpoint), tagged with the node it ran on, so ``--resume`` works the same
after a killed driver, a dead worker or a cancelled job, whichever engine
trained the runs before.

Ray: the cases are cut into tasks (``shard.partition``, by cost). Each task is
a fresh worker process (``max_calls=1``) whose environment Ray sets at launch
from the sweep's numerics flags (``runtime_env`` ``env_vars`` from
``flags.env_for``), so the flags are in place before any framework import; the
task then trains its cases with the ordinary runner and yields each run as it
finishes (a Ray streaming generator), and the driver appends it to the
checkpoint at once. A task whose worker dies loses only its unfinished cases:
the driver lets the other tasks finish, then stops with the command to resume.
Without ``--address`` the driver starts a local Ray bound to 127.0.0.1 only.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

from paritybench import workloads
from paritybench.artifact.records import CaseKey, RunKey, RunRecord
from paritybench.errors import ParityError
from paritybench.experiment import data, environment, flags
from paritybench.experiment.numerics_env import numerics_env_snapshot
from paritybench.pipeline import runner
from paritybench.studies import nodes, shard
from paritybench.studies.ray_task import RUN_DELAY_ENV, _task

LOCAL_RAY_CPUS = 2


def run(
    header: dict,
    cfg,
    progress,
    *,
    skip,
    on_run,
    out: Path,
    engine: str = "local",
    address: str | None = None,
    tasks: int | None = None,
):
    """Train the sweep's (or shard's) cases on ``engine`` (``local``, or ``ray``: on the cluster at ``address``,
    cut into ``tasks`` tasks); runs go to ``on_run`` as they finish."""
    cases = shard.cases_from_header(header, cfg)
    if engine == "ray":
        return run_ray(
            cfg,
            cases if cases is not None else runner.default_cases(cfg),
            progress,
            skip=skip,
            on_run=on_run,
            address=address,
            tasks=tasks,
            out=out,
        )
    return runner.run(cfg, progress, cases=cases, skip=skip, on_run=nodes.tagger(nodes.current(cfg.numerics), on_run))


def finish(header: dict, cfg, runs: list[dict]) -> tuple[str, list[dict], dict]:
    """The artifact's kind, its runs (node ids) and the fields this module adds (shard, nodes)."""
    kind, extra = shard.artifact_fields(header, cfg)
    runs, node_extra = nodes.artifact_fields(runs)
    return kind, runs, {**extra, **node_extra}


# ---------------------------------------------------------------- Ray


# How long connecting to a Ray cluster may take before the sweep is refused. Ray's own driver retries
# its GCS connection (NUM_REDIS_GET_RETRIES, 20, each waiting on a GcsClient's timeout): an address
# nothing answers at hung about 10 minutes. A local Ray starts in 5-15 s on this machine.
RAY_CONNECT_TIMEOUT_S = 60
TCP_CHECK_TIMEOUT_S = 5
_connected_here = False  # this process started or joined Ray (so it shuts it down when the sweep ends)


def _check_address(address: str) -> None:
    """A plain TCP connect to ``host:port`` (``ray://host:port`` too) first: nothing listening is one
    line in seconds instead of Ray's retries. ``auto`` and a bare host are left to Ray."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or not host:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=TCP_CHECK_TIMEOUT_S).close()
    except OSError as exc:
        why = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise ParityError(
            f"--address {address}: no Ray cluster answers there ({why}): start one (ray start --head) "
            "or give its address; leave --address out for a local Ray"
        ) from None


def _init_ray_bounded(ray, address: str | None, **kw) -> None:
    """``ray.init`` at an address within RAY_CONNECT_TIMEOUT_S (SIGALRM, main thread); its failures one line."""

    def _expired(signum, frame):
        raise ParityError(
            f"--address {address or '(local Ray)'}: Ray did not connect within {RAY_CONNECT_TIMEOUT_S} s: "
            "check the address and that the cluster is up (ray status)"
        )

    def init() -> None:
        try:
            ray.init(address=address, **kw)
        except (ParityError, KeyboardInterrupt):
            raise
        except Exception as exc:  # Ray's own start-up failures ("node timed out during startup"): one line
            last = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ParityError(
                f"--engine ray: Ray did not start or connect ({type(exc).__name__}: {last}): check the "
                "address, or retry when the machine is less loaded"
            ) from None

    # A local Ray (no address) is left to its own start-up timeout ("node timed out during startup").
    if address is None or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        init()
        return
    previous = signal.signal(signal.SIGALRM, _expired)
    signal.alarm(RAY_CONNECT_TIMEOUT_S)
    try:
        init()
    except ParityError:
        if ray.is_initialized():
            ray.shutdown()
        raise
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def connect(engine: str, address: str | None) -> None:
    """Start or join Ray now (``--engine ray``): called before the sweep writes its checkpoint, so an
    address that does not answer is refused in seconds and leaves nothing behind."""
    if engine == "ray":
        _init_ray(address)


def _init_ray(address: str | None):
    # Before ray is imported: a local Ray on Linux would otherwise take the host's
    # routable address; with this it binds every service to 127.0.0.1 (ray_constants.ENABLE_RAY_CLUSTER).
    if address is None:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    # A driver started by `uv run` (as `make test` starts pytest) makes Ray start every worker with
    # `uv run` inside a packaged copy of the working directory (ray_constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV,
    # on by default): the Makefile's relative `.tools/bin/uv` is not in that copy and the workers die at
    # start. The workers need this interpreter and its environment, which they get without the hook.
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    global _connected_here
    if address is not None:
        _check_address(address)
    import ray  # late: the optional ray extra: loaded only with --engine ray

    if ray.is_initialized():
        return ray, _connected_here
    if address is None:
        _init_ray_bounded(
            ray,
            None,
            num_cpus=LOCAL_RAY_CPUS,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            log_to_driver=False,
            configure_logging=False,
        )
    else:
        _init_ray_bounded(ray, address, log_to_driver=False, configure_logging=False)
    _connected_here = True
    return ray, True


def run_ray(cfg, cases: list, progress, *, skip, on_run, address: str | None, tasks: int | None, out: Path):
    """Fan ``cases`` out as Ray tasks; hand each run to ``on_run`` as it arrives."""
    global _connected_here
    t0 = time.perf_counter()
    skip = set(skip)
    todo_arms = {c: [a for a in cfg.arms if c.key(a) not in skip] for c in cases}
    todo = [c for c in cases if todo_arms[c]]
    ds = workloads.load_data(
        workloads.load(cfg.workload), cfg.data_path, cfg.data_sha256
    )  # checked here, before any task starts
    ray, started = _init_ray(address)
    try:
        n_tasks = tasks or max(1, 2 * int(ray.cluster_resources().get("CPU", 1)))

        workload = workloads.load(cfg.workload)
        chunks = (
            [
                c
                for c in shard.partition(
                    todo,
                    lambda c: sum(shard.arm_cost(workload, a) for a in todo_arms[c]),
                    max(1, min(n_tasks, len(todo))),
                )
                if c
            ]
            if todo
            else []
        )
        env_vars = flags.env_for(cfg.numerics, base={})
        if os.environ.get(RUN_DELAY_ENV):
            env_vars[RUN_DELAY_ENV] = os.environ[RUN_DELAY_ENV]
        remote = ray.remote(num_cpus=1, max_calls=1, max_retries=0, runtime_env={"env_vars": env_vars})(_task)
        cfg_dict = cfg.to_dict()
        numerics_env = numerics_env_snapshot()  # after the sweep's flags.apply
        skip_list = [list(k) for k in skip]
        progress.start(sum(len(todo_arms[c]) for c in todo))
        gens = {}
        for chunk in chunks:
            g = remote.remote(cfg_dict, [[c.seed, c.window] for c in chunk], skip_list, ds.sha256, numerics_env)
            gens[g] = chunk
        pending = list(gens)
        runs: list[RunRecord] = []
        envs, timings, mechanism, failed = [], [], [], []
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for g in ready:
                try:
                    what, item = ray.get(next(g))
                except StopIteration:
                    continue
                except Exception as exc:  # a dead worker or a crashed task: its unfinished cases are lost
                    failed.append((gens[g], f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1:]}"))
                    continue
                if what == "run":
                    on_run(item)
                    runs.append(item)
                    key = RunKey.of(item)
                    progress.advance(f"{key.arm} s{key.seed}-w{key.window}")
                    pending.append(g)
                elif what == "done":
                    envs.append(item["environment"])
                    timings.append(item["timing"])
                    mechanism += item["mechanism"]
                    pending.append(g)
    finally:
        if started:
            ray.shutdown()
            _connected_here = False
    if failed:
        lost = sum(len(c) for c, _ in failed)
        raise ParityError(
            f"{len(failed)} Ray task(s) failed ({failed[0][1]}); {len(runs)} runs are in the "
            f"checkpoint, {lost} case(s) unfinished: finish with paritybench sweep --resume {out}"
            " [--engine ray]",
            exit_code=1,
        )
    env = envs[0] if envs else environment.fingerprint()
    env.setdefault("data", data.describe(ds))
    timing = {
        k: sum(t.get(k, 0.0) for t in timings) for k in ("train_seconds", "compile_seconds", "diagnostics_seconds")
    }
    timing["process_seconds"] = {}
    for t in timings:
        for proc, s in t.get("process_seconds", {}).items():
            timing["process_seconds"][proc] = timing["process_seconds"].get(proc, 0.0) + s
    timing["total_seconds"] = time.perf_counter() - t0
    timing["engine"] = {"name": "ray", "address": address or "local (127.0.0.1)", "tasks": len(chunks)}
    order = {(c.seed, c.window): i for i, c in enumerate(cases)}
    mechanism.sort(key=lambda m: order.get(CaseKey.of(m), 0))
    return runner.RunOutput(runs=runs, finals={}, environment=env, timing=timing, mechanism=mechanism)
