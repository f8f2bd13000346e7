"""The ``timing`` command and the FLOP count, on generated timing files (no framework, no timing)."""

from __future__ import annotations

import json

import pytest

from paritybench import cli, timing
from paritybench.errors import ParityError
from paritybench.timing.flops import matmul_pair_flops, sgd_step_flops
from paritybench.workloads.seed_bce.workload import HIDDEN, INPUT_DIM
from paritybench.workloads.seed_bce.workload import PARAMS as PARAM_SHAPES

CPU = "cpu: Test CPU (2 logical)"
SEED = (1000, INPUT_DIM, HIDDEN)  # the seed's full batch of 1,000 and its 784-1000-1 MLP
PAIR = matmul_pair_flops(*SEED)
STEP = sgd_step_flops(*SEED).total


def bench(
    label,
    median,
    iqr=0.0,
    rounds=50,
    flops=STEP,
    steps=1,
    measure="step",
    blas=None,
    dtype="float32",
    device=CPU,
    group="step",
    **more,
):
    """One benchmark entry as pytest-benchmark writes it, with the suites' extra_info."""
    extra = {
        "label": label,
        "measure": measure,
        "flops": flops,
        "steps_per_call": steps,
        "device": device,
        "dtype": dtype,
        "suite": "test",
        **more,
    }
    if blas:
        extra["blas"] = blas
    return {
        "group": group,
        "name": f"test_{label}",
        "fullname": f"bench/x.py::test_{label}",
        "stats": {"median": median, "iqr": iqr, "rounds": rounds, "min": median, "max": median},
        "extra_info": extra,
    }


def write(path, benchmarks, machine="test-2cpu", skipped=None):
    doc = {
        "machine_info": {"node": "x", "paritybench": {"machine": machine, "quick": False, "skipped": skipped or {}}},
        "commit_info": {},
        "benchmarks": benchmarks,
        "datetime": "2026-01-01T00:00:00",
        "version": "5.1.0",
    }
    path.write_text(json.dumps(doc))
    return path


def sample(tmp_path, name="a.json", scale=1.0):
    """XLA pair 10 ms; jax-grad 12.5 ms; jax-sgd 20 ms; Keras TF fit 100 ms (noisy), its train_function 25 ms."""
    return write(
        tmp_path / name,
        [
            bench("xla-pair", 0.010 * scale, 0.001, measure="matmul", flops=PAIR, group="matmul-f32"),
            bench("numpy-f32-pair", 0.008 * scale, 0.001, measure="matmul", flops=PAIR, group="matmul-f32"),
            bench(
                "numpy-f64-pair", 0.004 * scale, 0.0, measure="matmul", flops=PAIR, dtype="float64", group="matmul-f64"
            ),
            bench("tensorflow-pair", 0.0125 * scale, 0.001, measure="matmul", flops=PAIR, group="matmul-f32"),
            bench(
                "jax-grad",
                0.0125 * scale,
                0.0025 * scale,
                blas="xla-pair",  # IQR exactly 20%: not flagged
                flops=sgd_step_flops(*SEED).gradient,
                compile_seconds=0.4321,
            ),
            bench("jax-sgd", 0.020 * scale, 0.002 * scale, blas="xla-pair"),
            bench(
                "jax-scan",
                0.190 * scale,
                0.01,
                steps=10,
                flops=10 * STEP,
                measure="train",
                blas="xla-pair",
                group="train-10-steps",
            ),
            bench("keras-tensorflow-fit", 0.100 * scale, 0.021 * scale, blas="tensorflow-pair"),  # 21%: flagged
            bench("keras-tensorflow-train_function", 0.025 * scale, 0.001, blas="tensorflow-pair"),
        ],
        skipped={"keras-torch": "torch is not installed"},
    )


def test_step_flops_are_counted_from_the_shapes():
    s = sgd_step_flops(*SEED)
    assert PAIR == 2 * 2 * 1000 * 784 * 1000
    assert s.update == 2 * sum(a * (b[0] if b else 1) for a, *b in PARAM_SHAPES.values())
    # Beyond the two big products, per sample: forward b0 1000 + relu 1000 + h @ W1 2000 + b1 1 + loss 4;
    # backward dz 4 + dW1 2000 + db1 1 + dh 2000 + relu mask 1000 + db0 1000 (no dx: x is not trained).
    assert s.gradient - PAIR == 1000 * ((1000 + 1000 + 2000 + 1 + 4) + (4 + 2000 + 1 + 2000 + 1000 + 1000))
    assert s.total == s.forward + s.backward + s.update


def test_ratios_are_per_step_medians_and_carry_the_noise_flag(tmp_path):
    tf = timing.load(sample(tmp_path))
    r = {x.name: x for x in timing.ratios(tf)}
    assert r["keras-tensorflow fit / jax step"].value == pytest.approx(5.0)
    assert r["keras-tensorflow fit / jax step"].noisy  # the fit figure's IQR is 21% of its median
    assert r["keras-tensorflow train_function / jax step"].value == pytest.approx(1.25)
    assert not r["keras-tensorflow train_function / jax step"].noisy
    assert r["keras-tensorflow fit / its train_function"].value == pytest.approx(4.0)
    assert r["jax scan, per step / jax step"].value == pytest.approx(0.95)  # 190 ms / 10 steps / 20 ms
    assert r["jax step / jax grad"].value == pytest.approx(1.6)
    assert r["keras-jax fit / jax step"].value is None  # not in the file: shown as "-", never invented


def test_iqr_flag_is_strictly_above_twenty_percent(tmp_path):
    tf = timing.load(sample(tmp_path))
    assert not tf.figures["jax-grad"].noisy and tf.figures["jax-grad"].iqr_fraction == pytest.approx(0.2)
    assert tf.figures["keras-tensorflow-fit"].noisy


def test_throughput_is_a_share_of_the_same_blas_matmul(tmp_path):
    tf = timing.load(sample(tmp_path))
    grad = tf.figures["jax-grad"]
    assert grad.gflops == pytest.approx(sgd_step_flops(*SEED).gradient / 0.0125 / 1e9)
    # (gradient flops / 12.5 ms) / (pair flops / 10 ms)
    assert timing.own_matmul_fraction(tf, grad) == pytest.approx(sgd_step_flops(*SEED).gradient / PAIR * 0.8)
    assert timing.best_f32_matmul(tf).label == "numpy-f32-pair"  # the f64 pair is faster here but not float32
    assert timing.own_matmul_fraction(tf, tf.figures["xla-pair"]) is None


def test_command_prints_figures_ratios_flags_and_writes_a_png(tmp_path, capsys):
    png = tmp_path / "out" / "t.png"
    assert cli.main(["timing", str(sample(tmp_path)), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "5.00x NOISY" in out and "1.25x" in out and "0.95x" in out
    assert "21% NOISY" in out and "20% NOISY" not in out
    assert "keras-torch skipped: torch is not installed" in out
    assert "compile and first calls" in out and "0.432" in out  # compile time reported, apart from the rounds
    assert "jax-grad 12.50 ms" in out and "meets the 80% target; fastest rounds: 80%" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_two_files_put_ratios_side_by_side(tmp_path, capsys):
    a, b = sample(tmp_path, "a.json"), sample(tmp_path, "b.json", scale=3.0)
    assert cli.main(["timing", str(a), str(b), "--no-plot"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "keras-tensorflow fit / its train_function" in line)
    assert row.count("4.00x") == 2  # scaled times, same ratios: one column per machine
    assert "60.00" in out and "20.00" in out  # each file's absolute times, in its own table


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "does not exist"),
        ("{not json", "is not valid JSON"),
        ('{"benchmarks": []}', "is not pytest-benchmark JSON"),
        ('{"machine_info": {}, "benchmarks": [{"stats": {"median": 1}}]}', "no machine_info.paritybench"),
    ],
)
def test_bad_timing_files_are_one_line_errors(tmp_path, capsys, content, message):
    p = tmp_path / "t.json"
    if content is not None:
        p.write_text(content)
    assert cli.main(["timing", str(p), "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_foreign_benchmarks_and_bad_plot_paths_are_refused(tmp_path, capsys):
    p = write(tmp_path / "t.json", [{"name": "test_x", "stats": {"median": 1.0, "iqr": 0, "rounds": 3}}])
    with pytest.raises(ParityError, match="no extra_info.label"):
        timing.load(p)
    good = sample(tmp_path)
    assert cli.main(["timing", str(good), "--plot", str(tmp_path / "x.svg")]) == 2
    assert "ending in .png" in capsys.readouterr().err and not (tmp_path / "x.svg").exists()
    assert cli.main(["timing", str(good), str(good), str(good)]) == 2
    assert "one or two files" in capsys.readouterr().err


def test_merge_keeps_every_suite_and_read_back(tmp_path):
    def part(name, fw, labels):
        return {
            "machine_info": {
                "node": "n",
                "paritybench": {"machine": "m", "suite": name, "frameworks": {fw: {"devices": [fw]}}},
            },
            "commit_info": {"id": "abc"},
            "datetime": "d",
            "version": "5",
            "benchmarks": [bench(lab, 0.01) for lab in labels],
        }

    merged = timing.merge_parts(
        [
            ("core", part("core", "jax", ["jax-sgd"])),
            ("keras-tensorflow", part("keras-tensorflow", "tensorflow", ["keras-tensorflow-fit"])),
        ],
        {"keras-torch": "torch is not installed"},
    )
    pb = merged["machine_info"]["paritybench"]
    assert set(pb["frameworks"]) == {"jax", "tensorflow"}
    assert pb["suites"]["keras-tensorflow"]["benchmarks"] == 1
    assert pb["skipped"] == {"keras-torch": "torch is not installed"}
    assert [b["extra_info"]["label"] for b in merged["benchmarks"]] == ["jax-sgd", "keras-tensorflow-fit"]
    assert merged["commit_info"] == {"id": "abc"}
    with pytest.raises(ParityError, match="no timing suite ran"):
        timing.merge_parts([], {})
