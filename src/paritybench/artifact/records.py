"""The artifact's run record, typed: its identity (``RunKey``), its fields (``RunRecord``), and the one
place that writes the identity's fields in the order every artifact has them.

A run is one arm trained on one case: a seed's initial weights (or a perturbed copy of them) on one data
window. ``compare`` matches runs across artifacts by that identity, ``validate`` refuses an artifact with
two runs under it, a sweep's checkpoint skips the runs it already has by it, and the weights file names
a run's arrays after it. Every reader and writer takes it from here rather than indexing ``"window_start"``
and ``"copy"`` by hand.
"""

# No ``from __future__ import annotations``: RunRecord's NotRequired fields must be real at run time
# (``RunRecord.__required_keys__`` is what the schema's ``required`` is checked against).
from collections.abc import Mapping
from typing import Any, NamedTuple, NotRequired, TypedDict


class CaseKey(NamedTuple):
    """One training problem without its arm: (seed, window); a mechanism row and a paired comparison's case."""

    seed: int
    window: int

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> "CaseKey":
        """The case of a run record or a mechanism row (its ``seed`` and ``window_start``)."""
        return cls(record["seed"], record["window_start"])

    def fields(self) -> dict[str, int]:
        """The case's fields as a record writes them: ``seed``, ``window_start``."""
        return {"seed": self.seed, "window_start": self.window}


class RunKey(NamedTuple):
    """How a run is told apart: (arm, seed, window, perturbed copy or None).

    A named tuple (frozen, typed, hashable): it unpacks as the 4-tuple it replaces, so a dict keyed by
    it and one keyed by the plain tuple agree.
    """

    arm: str
    seed: int
    window: int
    copy: int | None = None

    @classmethod
    def of(cls, run: Mapping[str, Any], arm: str | None = None) -> "RunKey":
        """The key of a run record (or of a case record without its arm, given ``arm``)."""
        return cls(run["arm"] if arm is None else arm, run["seed"], run["window_start"], run.get("copy"))

    @property
    def case(self) -> CaseKey:
        return CaseKey(self.seed, self.window)

    @property
    def label(self) -> str:
        """``arm s<seed> w<window>[ c<copy>]``, as messages and verdicts name a run."""
        return f"{self.arm} s{self.seed} w{self.window}" + ("" if self.copy is None else f" c{self.copy}")

    @property
    def group(self) -> str:
        """The npz prefix of this run's final weights: ``arm/s<seed>/w<window>[/c<copy>]``."""
        return f"{self.arm}/s{self.seed}/w{self.window}" + ("" if self.copy is None else f"/c{self.copy}")

    def case_fields(self) -> dict[str, int]:
        """The case's fields as a record writes them: ``seed``, ``window_start``, and ``copy`` when there is one."""
        out = self.case.fields()
        if self.copy is not None:
            out["copy"] = self.copy
        return out


class WorkloadRef(TypedDict):
    name: str
    version: str


class RunRecord(TypedDict):
    """One entry of the artifact's ``runs`` (``schema/artifact.v2.schema.json``, ``$defs/run``).

    The fields in the order the runner writes them; those a record may lack are ``NotRequired``.
    """

    arm: str
    seed: int
    window_start: int
    n: NotRequired[int]
    status: str
    loss_formulation: NotRequired[str]
    workload: WorkloadRef
    copy: NotRequired[int]
    reason: NotRequired[str]
    initial_accuracy: float | None
    final_accuracy: float | None
    final_loss: NotRequired[float | str | None]
    any_nonfinite: NotRequired[bool]
    first_nonfinite_step: NotRequired[int | None]
    curves: dict[str, Any]
    metric: NotRequired[str]
    absent: NotRequired[dict[str, str]]
    final_weights_sha256: str | None
    swap: NotRequired[dict[str, float | None]]
    info: NotRequired[dict[str, Any]]
    final_eval_accuracy: NotRequired[float | None]
    state: NotRequired[dict[str, Any]]
    node: NotRequired[Any]


def record_head(
    key: RunKey, status: str, workload: WorkloadRef, n: int | None = None, loss_formulation: str | None = None
) -> dict[str, Any]:
    """A run record's head: its identity, ``n``, status, loss and workload, in the order artifacts have them
    (``copy`` after ``workload``, and only for a perturbed copy). The writer adds the outcome and types the
    whole as a ``RunRecord``."""
    rec: dict[str, Any] = {"arm": key.arm, "seed": key.seed, "window_start": key.window}
    if n is not None:
        rec["n"] = n
    rec["status"] = status
    if loss_formulation is not None:
        rec["loss_formulation"] = loss_formulation
    rec["workload"] = workload
    if key.copy is not None:
        rec["copy"] = key.copy
    return rec
