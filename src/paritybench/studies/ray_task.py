"""One Ray task of ``sweep --engine ray`` (``engines.run_ray``): it trains its cases in a fresh Ray worker.

Ray unpickles ``_task`` in the worker by importing this module, before the task can set the driver's
numerics environment; so this module imports only the standard library and ``experiment.flags`` (which loads
nothing else), and ``_task`` imports the rest of paritybench (numpy with it) after the environment is set.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
import traceback
from dataclasses import replace

from paritybench.experiment import flags

# Test hook: seconds each Ray task waits after each run it yields, so a test can kill it mid-way.
RUN_DELAY_ENV = "PARITYBENCH_RAY_RUN_DELAY"


def _task(cfg_dict: dict, cases: list[list], skip: list[list], data_sha256: str, numerics_env: dict):
    """One Ray task: train ``cases`` in this (fresh) worker; yield ("run", run) per run, then ("done", info).

    ``numerics_env`` is the driver's numerics environment (``flags.NUMERICS_ENV_VARS``
    that were set there). The worker takes exactly that set: Ray sets
    ``OMP_NUM_THREADS`` to the task's CPUs when it is unset, which changes
    OpenBLAS's thread count and with it the last bit of the float64
    reference's loss (measured: 2 of 12 runs of the tiny test sweep), so what the
    driver left unset is unset here too, before numpy is imported.
    """
    loaded = [m for m in ("numpy", "jax", "tensorflow", "torch", "keras") if m in sys.modules]
    if loaded:  # the worker must be fresh: variables set after these imports would not take
        raise RuntimeError(f"Ray worker had {loaded} imported before the numerics environment was set")

    for var in flags.NUMERICS_ENV_VARS:
        if var in numerics_env:
            os.environ[var] = numerics_env[var]
        else:
            os.environ.pop(var, None)

    # late: paritybench's runner and studies import numpy, whose BLAS reads the environment set just above
    from paritybench.pipeline import runner
    from paritybench.studies import nodes  # late: imports numpy (see above)
    from paritybench.studies.checkpoint import config_from_header  # late: imports numpy (see above)

    cfg = config_from_header({"config": cfg_dict})
    flags.apply(cfg.numerics)

    # every node must train on the driver's data, byte for byte
    cfg = replace(cfg, data_sha256=data_sha256)
    node = nodes.current(cfg.numerics)
    q: queue.Queue = queue.Queue()

    def work() -> None:
        try:
            res = runner.run(
                cfg,
                cases=[runner.Case(s, w) for s, w in cases],
                skip={runner.RunKey(*k) for k in skip},
                on_run=lambda r: q.put(("run", r)),
            )
            q.put(("done", {"environment": res.environment, "timing": res.timing, "mechanism": res.mechanism}))
        except BaseException:  # noqa: BLE001 - handed to the driver as the task's failure
            q.put(("fail", traceback.format_exc()))

    threading.Thread(target=work, daemon=True).start()
    delay = float(os.environ.get(RUN_DELAY_ENV, "0") or 0)
    while True:
        what, item = q.get()
        if what == "fail":
            raise RuntimeError(item)
        if what == "run":
            item["node"] = node
        yield what, item
        if what == "done":
            return
        if delay:
            time.sleep(delay)
