"""The experiment's configuration: one frozen record, hashed for file names and matching."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from paritybench.errors import ParityError
from paritybench.experiment.flags import NumericsOptions


@dataclass(frozen=True)
class RunConfig:
    """What was trained, on what data, under which numerics flags."""

    seeds: tuple[int, ...] = (0,)
    windows: tuple[int, ...] = (0,)
    # The seed workload's preset; the CLI fills these from the chosen workload's.
    n: int = 1000
    steps: int = 10
    lr: float = 0.01
    normalize: bool = False
    arms: tuple[str, ...] = ()
    threefry_partitionable: bool = False
    data_path: str | None = None
    data_sha256: str | None = None
    numerics: NumericsOptions = field(default_factory=NumericsOptions)
    swap: bool = True
    # "full": per-step gradient agreement with the float64 reference and the
    # Keras-vs-emulation check (needs every step's weights); "light": the
    # in-graph diagnostics only (saturation, dead gradients), for sweeps.
    diagnostics: str = "full"
    # The workload: a built-in or installed name, a path to a .py file, or module:attr.
    workload: str = "seed-bce"
    # Seconds a training step of the user's code may take before its arm is an error
    # (paritybench.watchdog); changes nothing that is computed.
    step_timeout: float = 300.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["seeds"], d["windows"], d["arms"] = list(self.seeds), list(self.windows), list(self.arms)
        return d

    def comparable(self) -> dict:
        """The fields that change what is computed (not where the data file lives)."""
        d = self.to_dict()
        # the workload is matched by name and version from the artifact's workload object
        for k in ("data_path", "swap", "arms", "seeds", "windows", "diagnostics", "workload", "step_timeout"):
            d.pop(k)
        return d

    def short_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.comparable(), sort_keys=True).encode()).hexdigest()[:8]


# Caps on --seeds / --windows. A value must be below 2**31: JAX keeps 32 bits of a seed when x64
# is off (PRNGKey(2**32) is PRNGKey(0): two "different" seeds would train the same weights) and
# 2**31 fits every framework's signed 32-bit integer. At most 1,000,000 values: each is at least
# one training run of seconds, and the list itself must not exhaust memory before any check.
MAX_INT_VALUE = 2**31 - 1
MAX_LIST_VALUES = 1_000_000


def too_large(value: int, where: str) -> str | None:
    """The one cap on a seed or window (``MAX_INT_VALUE``), as the command line and a sweep checkpoint's
    header both check it: the problem in one line, or None when ``value`` is within it."""
    if value <= MAX_INT_VALUE:
        return None
    return (
        f"{where}: {value} is too large: values must be below 2**31 ({MAX_INT_VALUE + 1}), "
        "the range of a 32-bit seed or index"
    )


def parse_int_list(text: str, what: str) -> tuple[int, ...]:
    """'0,3', '0-9' (inclusive) and 'start:stop:step' (exclusive stop), comma-joined."""
    out: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            if ":" in part:
                bits = [int(b) for b in part.split(":")]
                if len(bits) not in (2, 3):
                    raise ValueError
                if len(bits) == 3 and bits[2] == 0:
                    raise ParityError(
                        f"--{what} {text!r}: {part!r} has step 0; give a positive step, e.g. --{what} 0:10000:1000"
                    )
                values = range(*bits)
            elif "-" in part[1:]:
                a, b = part.split("-", 1)
                values = range(int(a), int(b) + 1)
            else:
                values = range(int(part), int(part) + 1)
        except ValueError:
            raise ParityError(
                f"--{what} {text!r}: {part!r} is not an integer, a range a-b or "
                f"start:stop[:step]; e.g. --{what} 0,3 or 0-9 or 0:10000:1000"
            ) from None
        # Checked on the range's ends, before a single value is listed (no OverflowError, no MemoryError).
        if values and min(values[0], values[-1]) < 0:
            raise ParityError(f"--{what} {text!r}: values must be >= 0")
        problem = too_large(max(values[0], values[-1]), f"--{what} {text!r}") if values else None
        if problem:
            raise ParityError(problem)
        if len(out) + len(values) > MAX_LIST_VALUES:
            raise ParityError(
                f"--{what} {text!r} names more than {MAX_LIST_VALUES:,} values: each is a training "
                f"run; give a shorter range (e.g. --{what} 0-99)"
            )
        out.extend(values)
    if not out:
        raise ParityError(f"--{what} {text!r} names no values: e.g. --{what} 0,3")
    if any(v < 0 for v in out):
        raise ParityError(f"--{what} {text!r}: values must be >= 0")
    return tuple(dict.fromkeys(out))
