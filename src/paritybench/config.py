"""The experiment's configuration: one frozen record, hashed for file names and matching."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from .flags import NumericsOptions


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

    def to_dict(self) -> dict:
        d = asdict(self)
        d["seeds"], d["windows"], d["arms"] = list(self.seeds), list(self.windows), list(self.arms)
        return d

    def comparable(self) -> dict:
        """The fields that change what is computed (not where the data file lives)."""
        d = self.to_dict()
        # the workload is matched by name and version from the artifact's workload object
        for k in ("data_path", "swap", "arms", "seeds", "windows", "diagnostics", "workload"):
            d.pop(k)
        return d

    def short_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.comparable(), sort_keys=True).encode()).hexdigest()[:8]


def parse_int_list(text: str, what: str) -> tuple[int, ...]:
    """'0,3', '0-9' (inclusive) and 'start:stop:step' (exclusive stop), comma-joined."""
    from .errors import ParityError

    out: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            if ":" in part:
                bits = [int(b) for b in part.split(":")]
                if len(bits) not in (2, 3):
                    raise ValueError
                out.extend(range(*bits))
            elif "-" in part[1:]:
                a, b = part.split("-", 1)
                out.extend(range(int(a), int(b) + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise ParityError(f"--{what} {text!r}: {part!r} is not an integer, a range a-b or "
                              f"start:stop[:step]; e.g. --{what} 0,3 or 0-9 or 0:10000:1000") from None
    if not out:
        raise ParityError(f"--{what} {text!r} names no values: e.g. --{what} 0,3")
    if any(v < 0 for v in out):
        raise ParityError(f"--{what} {text!r}: values must be >= 0")
    return tuple(dict.fromkeys(out))
