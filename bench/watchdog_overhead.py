"""What the step time limit (``paritybench.watchdog``) costs: ``python bench/watchdog_overhead.py``.

The limit arms SIGALRM once per guarded block (an import, a shape check, one arm's training on its cases),
never per step. Measured here: (1) entering and leaving ``limit`` alone, armed and disabled; (2) the seed
workload's ``jax-logits`` arm trained through ``arms.trainer`` (compiled once, then timed) with and without
the limit around it, alternating, ``--rounds`` times each; the per-step figure is the median divided by steps.
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()

    from paritybench.experiment import flags

    flags.apply(flags.NumericsOptions())
    from paritybench import arms, watchdog, workloads
    from paritybench.arms import TrainSpec
    from paritybench.experiment import data
    from paritybench.workloads import resolve_ref

    n = 20000
    for seconds, label in ((300.0, "armed"), (None, "disabled")):
        t = time.perf_counter()
        for _ in range(n):
            with watchdog.limit(seconds, "bench"):
                pass
        print(f"limit() enter+exit, {label}: {(time.perf_counter() - t) / n * 1e6:.1f} us")

    w = workloads.load("seed-bce")
    arm = w.arm("jax-logits")
    x, y = data.window(data.load_mnist(None), 0, 1000, False, labels=w.data.labels)
    init = resolve_ref(w.model.init)(0, False)
    spec = TrainSpec(steps=args.steps, lr=0.01, keep_trajectory=False, batch_size=None)
    train = arms.trainer(arm.kind)
    train(w, arm, [init], x, y, spec)  # compile once: both variants time the compiled program

    def once(limited: bool) -> float:
        t = time.perf_counter()
        if limited:
            with watchdog.limit(300.0 * (args.steps + 1), "bench training"):
                train(w, arm, [init], x, y, spec)
        else:
            train(w, arm, [init], x, y, spec)
        return time.perf_counter() - t

    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.rounds):
        for limited in (False, True):
            times[limited].append(once(limited))
    for limited in (False, True):
        med = statistics.median(times[limited])
        print(
            f"jax-logits {args.steps} steps, {'with' if limited else 'without'} the limit: median {med * 1e3:.1f} ms "
            f"({med / args.steps * 1e3:.2f} ms/step) over {args.rounds} rounds"
        )
    ratio = statistics.median(times[True]) / statistics.median(times[False])
    print(f"ratio with/without: {ratio:.3f}")


if __name__ == "__main__":
    main()
