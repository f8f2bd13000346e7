"""The table ``paritybench run`` ends with: the seed's printout, arm by arm."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from paritybench.artifact import reference_arm
from paritybench.artifact.records import CaseKey

# The swap's forward passes shown before the reference arm's (evaluator -> header label): JAX float32, TensorFlow.
SWAP_LABEL = {"jax": "jax", "keras-tensorflow": "keras-tf"}


def swap_columns(artifact: dict) -> dict[str, str]:
    """The swap's columns (evaluator -> header label): the JAX and TensorFlow forward passes, then the
    artifact's reference arm's, labelled without its ``reference-`` prefix (``reference-f64``: "f64")."""
    ref = reference_arm(artifact)
    return {**SWAP_LABEL, ref: ref.removeprefix("reference-")}


def _fmt(v, digits=3):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return f"{v:.{digits}f}"


def data_words(a: dict) -> str:
    """What an artifact's runs trained on, in words: MNIST's pixels as ``raw pixels`` or ``normalized pixels`` (the
    report's words since the seed), a workload's own data as ``own data NAME (sha256 PREFIX)``: the ``.npz``
    file's name or the function that made the arrays, and the first 12 hex digits of the sha256 the artifact
    records (``environment.data``); ``own data`` alone where the artifact records neither."""
    d = (a.get("environment") or {}).get("data") or {}
    if not d.get("source"):  # MNIST: the bundled slice or --data
        return f"{'normalized' if a['config']['normalize'] else 'raw'} pixels"
    name = Path(str(d["path"])).name if d.get("source") == "npz" and d.get("path") else d.get("path")
    sha = str(d.get("sha256") or "")[:12]
    return "own data" + (f" {name}" if name else "") + (f" (sha256 {sha})" if sha else "")


def print_run_table(console, artifact: dict) -> None:
    cfg = artifact["config"]
    columns = swap_columns(artifact)
    groups: dict[CaseKey, list[dict]] = {}
    for r in artifact["runs"]:
        groups.setdefault(CaseKey.of(r), []).append(r)
    own = (artifact.get("environment", {}).get("data") or {}).get("source")  # the workload's own arrays
    for (seed, start), runs in groups.items():
        if any(r.get("metric") == "loss" for r in runs):
            _print_loss_table(console, cfg, seed, start, runs, data_words(artifact) if own else None)
            continue
        t = Table(
            title=f"seed {seed}, window {start}:{start + cfg['n']}, {cfg['steps']} steps at lr "
            f"{cfg['lr']}, {'x/255' if cfg['normalize'] else 'raw 0-255 pixels' if not own else data_words(artifact)}"
        )
        t.add_column("arm", no_wrap=True)
        t.add_column("initial", justify="right")
        t.add_column("final", justify="right")
        t.add_column("loss", justify="right")
        t.add_column("NaN/inf", justify="center", no_wrap=True)
        for label in columns.values():
            t.add_column(f"{label} fwd", justify="right")
        t.add_column("sha256", no_wrap=True)
        notes = []
        for r in runs:
            if r["status"] != "ok":
                t.add_row(r["arm"], f"[yellow]{r['status']}[/]", *[""] * (4 + len(columns)))
                notes.append(f"{r['arm']} {r['status']}: {r.get('reason', '')}")
                continue
            flag = f"[red]step {r['first_nonfinite_step']}[/]" if r["any_nonfinite"] else "no"
            t.add_row(
                r["arm"],
                _fmt(r["initial_accuracy"]),
                _fmt(r["final_accuracy"]),
                _fmt(r["final_loss"], 4),
                flag,
                *[_fmt(r["swap"].get(c)) for c in columns],
                r["final_weights_sha256"][:8],
            )
        console.print(t)
        console.print(
            "accuracy = training accuracy on the window; 'X fwd' = this arm's final weights "
            "evaluated with X's forward pass (the seed's weight swap)"
        )
        for line in notes:
            console.print(f"[yellow]{line}[/]", soft_wrap=True)


def _print_loss_table(console, cfg: dict, seed: int, start: int, runs: list[dict], own: str | None) -> None:
    """A head without classes (``linear``): the metric is the loss, at the initial and the final weights."""
    t = Table(
        title=f"seed {seed}, window {start}:{start + cfg['n']}, {cfg['steps']} steps at lr {cfg['lr']}, "
        + (own or "MNIST")
    )
    t.add_column("arm", no_wrap=True)
    t.add_column("initial loss", justify="right")
    t.add_column("final loss", justify="right")
    t.add_column("NaN/inf", justify="center", no_wrap=True)
    t.add_column("sha256", no_wrap=True)
    notes = []
    for r in runs:
        if r["status"] != "ok":
            t.add_row(r["arm"], f"[yellow]{r['status']}[/]", "", "", "")
            notes.append(f"{r['arm']} {r['status']}: {r.get('reason', '')}")
            continue
        flag = f"[red]step {r['first_nonfinite_step']}[/]" if r["any_nonfinite"] else "no"
        loss = r["curves"]["loss"]
        t.add_row(r["arm"], _fmt(loss[0], 6), _fmt(loss[-1], 6), flag, r["final_weights_sha256"][:8])
    console.print(t)
    console.print("metric = the loss (mean over the window): a linear head has no classes, so no accuracy")
    for line in notes:
        console.print(f"[yellow]{line}[/]", soft_wrap=True)


def user_step_lines(artifact: dict) -> list[str]:
    """One line per arm whose own train step (``JaxModel(step=...)``) returned a loss that is not paritybench's loss
    on the same batch at the same weights (the run's ``info["user_step"]``, ``arms.minibatch.step_loss_record``):
    the step trains on something else than the model's apply and loss say (another batch, target or loss)."""
    lines: list[str] = []
    for r in artifact.get("runs", []):
        u = (r.get("info") or {}).get("user_step")
        if not u or u.get("agrees", True) or any(line.startswith(f"arm {r['arm']}:") for line in lines):
            continue
        f = u["first_mismatch"]
        lines.append(
            f"arm {r['arm']}: your step {u['step']} returned the loss {f['step_loss']} at step {f['step']}, where "
            "paritybench's loss of your apply and loss on the same batch at the same weights is "
            f"{f['paritybench_loss']} "
            f"(relative difference up to {u['max_relative_difference']:.3g}, float32 rounding allows "
            f"{u['tolerance']:.3g}): the step trains on another batch, target or loss than the model declares"
        )
    return lines
