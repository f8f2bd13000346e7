"""Hostile inputs (issue 9, causes 10, 11 and 13, and the environment principle).

Each case asserts the exit status, that stderr is exactly one line
``paritybench: error: ...`` naming the problem (never a traceback), and what
is, or is not, left on disk. Nothing here trains more than one tiny run.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from .conftest import run_cli
from .test_timing import sample as timing_sample

DATA = Path(__file__).parent / "data"
TINY = ("--arms", "jax-logits", "--steps", "1", "--n", "100")


def one_line_error(proc, status: int = 2, *needles: str) -> str:
    """The single error line, after checking the exit status, the prefix and the needles."""
    assert proc.returncode == status, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("paritybench: error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """One jax-logits run (1 step, 100 samples) with its weights file: the artifact compare reads."""
    out = tmp_path_factory.mktemp("tiny") / "run.json"
    proc = run_cli("run", *TINY, "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _copy_run(src: Path, folder: Path, name: str = "other") -> Path:
    """The artifact and its weights under ``folder`` as ``name``.json / ``name``.weights.npz."""
    folder.mkdir(parents=True, exist_ok=True)
    art = json.loads(src.read_text())
    art["weights_file"] = f"{name}.weights.npz"
    shutil.copyfile(src.with_suffix(".weights.npz"), folder / art["weights_file"])
    out = folder / f"{name}.json"
    out.write_text(json.dumps(art))
    return out


# ------------------------------------------------------------------ cause 10: weights files


def test_identical_hashes_with_a_tampered_weights_file_are_divergent_naming_the_run(tiny_run, tmp_path):
    other = _copy_run(tiny_run, tmp_path)
    npz = tmp_path / "other.weights.npz"
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files}
    key = next(k for k in arrays if k.endswith("dense_1/bias"))
    arrays[key] = arrays[key] + np.float32(1e-3)  # the JSON still records the original hash
    np.savez(npz, **arrays)
    proc = run_cli("compare", str(tiny_run), str(other))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "  identical " not in proc.stdout
    assert "divergent    jax-logits s0 w0" in proc.stdout and "does not match its weights file" in proc.stdout
    assert proc.stderr.count("\n") == 1 and "jax-logits s0 w0" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("name", ["../run.weights.npz", "/etc/passwd", "sub/run.weights.npz", ".."])
def test_weights_file_must_be_a_plain_name_beside_the_artifact(tiny_run, tmp_path, name):
    art = json.loads(tiny_run.read_text())
    art["weights_file"] = name
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(art))
    line = one_line_error(run_cli("compare", str(tiny_run), str(bad)), 2, "weights_file", "not a plain file name")
    # validate refuses it with the same message (exit 1: a verdict on the file)
    assert one_line_error(run_cli("validate", str(bad)), 1) == line


def test_weights_file_linking_out_of_the_folder_is_refused(tiny_run, tmp_path):
    other = _copy_run(tiny_run, tmp_path / "b")
    npz = tmp_path / "b" / "other.weights.npz"
    npz.unlink()
    os.symlink(tiny_run.with_suffix(".weights.npz"), npz)
    one_line_error(run_cli("compare", str(tiny_run), str(other)), 2, "symbolic link", "outside the artifact's folder")


def test_truncated_weights_zip_is_one_line(tiny_run, tmp_path):
    other = _copy_run(tiny_run, tmp_path)
    npz = tmp_path / "other.weights.npz"
    npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    proc = run_cli("compare", str(tiny_run), str(other))
    one_line_error(proc, 2, "weights file of artifact", "truncated or not")
    assert proc.stdout == ""


# ------------------------------------------------------------------ cause 11: outputs


def _compare_out(tiny_run: Path, out: str | Path, *extra: str):
    return run_cli("compare", str(tiny_run), str(tiny_run), "--output", str(out), *extra)


def test_compare_output_never_replaces_its_input(tiny_run):
    before = tiny_run.read_bytes()
    one_line_error(_compare_out(tiny_run, tiny_run, "--overwrite"), 2, "is one of this command's inputs")
    # the same file by another spelling is still the input
    one_line_error(_compare_out(tiny_run, tiny_run.parent / "." / tiny_run.name, "--overwrite"), 2, "inputs")
    assert tiny_run.read_bytes() == before


def test_compare_output_replaces_a_regular_file_only_with_overwrite(tiny_run, tmp_path):
    out = tmp_path / "report.txt"
    out.write_text("keep me")
    one_line_error(_compare_out(tiny_run, out), 2, "already exists", "--overwrite")
    assert out.read_text() == "keep me"
    proc = _compare_out(tiny_run, out, "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert "identical" in out.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]  # no temporary file left


def test_compare_output_never_writes_through_a_link_or_to_a_device(tiny_run, tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("keep me")
    link = tmp_path / "link.txt"
    os.symlink(target, link)
    one_line_error(_compare_out(tiny_run, link, "--overwrite"), 2, "symbolic link")
    assert target.read_text() == "keep me" and link.is_symlink()
    one_line_error(_compare_out(tiny_run, "/dev/null", "--overwrite"), 2, "character device")
    assert Path("/dev/null").is_char_device()
    one_line_error(_compare_out(tiny_run, tmp_path, "--overwrite"), 2, "is a directory")


def test_compare_output_under_a_regular_file_is_refused_before_work(tiny_run, tmp_path):
    (tmp_path / "f").write_text("x")
    one_line_error(_compare_out(tiny_run, tmp_path / "f" / "out.txt"), 2, "not a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_report_out_is_checked_before_work(tmp_path):
    src = str(DATA / "run-seed0.json")
    (tmp_path / "f").write_text("x")
    one_line_error(run_cli("report", src, "--out", str(tmp_path / "f" / "r")), 2, "not a directory")
    one_line_error(run_cli("report", src, "--out", "/proc/paritybench-report"), 2, "cannot create files in /proc")
    one_line_error(run_cli("report", src, "--out", src), 2, "not a directory")
    r = tmp_path / "r"
    r.mkdir()
    (r / "report.md").write_text("an earlier report")
    one_line_error(run_cli("report", src, "--out", str(r)), 2, "report.md already exists", "--overwrite")
    assert sorted(p.name for p in r.iterdir()) == ["report.md"]  # nothing written before the refusal
    proc = run_cli("report", src, "--out", str(r), "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert (r / "report.md").read_text().startswith("# paritybench report")
    assert not [p for p in r.iterdir() if p.name.startswith(".")]  # no temporary files


def test_timing_plot_is_checked_before_work(tmp_path):
    src = timing_sample(tmp_path)
    (tmp_path / "f").write_text("x")
    proc = run_cli("timing", str(src), "--plot", str(tmp_path / "f" / "t.png"))
    one_line_error(proc, 2, "not a directory")
    assert proc.stdout == ""  # refused before the tables are printed
    one_line_error(run_cli("timing", str(src), "--plot", "/proc/t.png"), 2, "cannot create files in /proc")
    png = tmp_path / "t.png"
    png.write_bytes(b"old")
    one_line_error(run_cli("timing", str(src), "--plot", str(png)), 2, "already exists")
    assert png.read_bytes() == b"old"
    assert run_cli("timing", str(src), "--plot", str(png), "--overwrite").returncode == 0
    assert png.read_bytes().startswith(b"\x89PNG")


# ------------------------------------------------------------------ cause 13: data files


def _npz_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _run_with_data(path: Path, tmp_path: Path):
    return run_cli("run", *TINY, "--data", str(path), "--out", str(tmp_path / "a.json"))


def test_npy_renamed_npz_is_one_line(tmp_path):
    bad = tmp_path / "mnist.npz"
    np.save(tmp_path / "x.npy", np.zeros((10, 28, 28), np.uint8))
    (tmp_path / "x.npy").rename(bad)
    one_line_error(_run_with_data(bad, tmp_path), 2, "single .npy array", "renamed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnist.npz"]


def test_absurd_declared_shape_is_refused_from_the_header(tmp_path):
    # A 200-byte member whose header declares 10**12 images of 28x28 uint8 (713 TiB).
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (10**12, 28, 28)})
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(
        _npz_bytes({"x_train.npy": header.getvalue() + b"\0" * 100, "y_train.npy": _npy(np.zeros(10, np.uint8))})
    )
    one_line_error(
        _run_with_data(bad, tmp_path),
        2,
        "x_train declares shape (1000000000000, 28, 28)",
        "(713 TiB)",
        "more than paritybench reads",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnist.npz"]


def test_a_file_that_expands_past_the_cap_is_refused(tmp_path):
    # Small on disk; its zip directory declares 2 GiB for x_train (zipfile reads no further than declared).
    raw = bytearray(
        _npz_bytes({"x_train.npy": _npy(np.zeros((10, 28, 28), np.uint8)), "y_train.npy": _npy(np.zeros(10, np.uint8))})
    )
    cd = raw.index(b"PK\x01\x02")  # first central-directory entry: uncompressed size at offset 24
    raw[cd + 24 : cd + 28] = struct.pack("<I", 2 * 1024**3)
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(bytes(raw))
    one_line_error(_run_with_data(bad, tmp_path), 2, "expands to 2 GiB", "more than paritybench reads")


def test_n_larger_than_the_dataset_names_n(tmp_path):
    line = one_line_error(
        run_cli("run", "--arms", "jax-logits", "--steps", "1", "--n", "20000", "--out", str(tmp_path / "a.json")),
        2,
        "--n 20000",
        "10000 training images",
    )
    assert "at most -" not in line
    assert list(tmp_path.iterdir()) == []


def test_data_sha256_without_data_is_refused(tmp_path):
    one_line_error(
        run_cli("run", *TINY, "--data-sha256", "0" * 64, "--out", str(tmp_path / "a.json")),
        2,
        "--data-sha256 is given without --data",
    )
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ cause 13: arguments


@pytest.mark.parametrize(
    "seeds, needle",
    [
        ("0-100000000000", "below 2**31"),
        ("0-99999999999999999999999999999", "below 2**31"),
        ("0:2000000", "more than 1,000,000 values"),
        ("-99999999999999999999:0", "values must be >= 0"),
    ],
)
def test_huge_seed_ranges_are_one_line(tmp_path, seeds, needle):
    out = tmp_path / "s.json"
    one_line_error(run_cli("sweep", f"--seeds={seeds}", "--windows", "0", *TINY, "--out", str(out)), 2, needle)
    assert list(tmp_path.iterdir()) == []  # no checkpoint either


def test_huge_window_range_is_one_line(tmp_path):
    one_line_error(
        run_cli("run", *TINY, "--windows", "0:99999999999999:1", "--out", str(tmp_path / "a.json")),
        2,
        "--windows",
        "below 2**31",
    )


# ------------------------------------------------------------------ cause 13: JSON inputs


def _deep(tmp_path: Path, depth: int) -> Path:
    p = tmp_path / f"deep{depth}.json"
    p.write_text("[" * depth + "]" * depth)
    return p


@pytest.mark.parametrize("depth", [100_000, 200])
def test_deeply_nested_json_is_one_line_everywhere(tiny_run, tmp_path, depth):
    deep = str(_deep(tmp_path, depth))
    needle = "nested"
    one_line_error(run_cli("validate", deep), 2, needle)
    one_line_error(run_cli("compare", str(tiny_run), deep), 2, needle)
    one_line_error(run_cli("compare", str(tiny_run), str(tiny_run), "--sensitivity", deep), 2, needle)
    one_line_error(run_cli("report", deep, "--out", str(tmp_path / "r")), 2, needle)
    one_line_error(run_cli("timing", deep, "--no-plot"), 2, needle)
    assert not (tmp_path / "r").exists()


def test_sensitivity_given_a_list_is_one_line(tiny_run, tmp_path):
    sens = tmp_path / "sens.json"
    sens.write_text("[1, 2, 3]")
    one_line_error(
        run_cli("compare", str(tiny_run), str(tiny_run), "--sensitivity", str(sens)),
        2,
        "is a JSON list",
        "paritybench sensitivity",
    )


def test_validate_reports_every_bad_file_and_calls_a_directory_a_directory(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": "1.0"}')
    folder = tmp_path / "folder.json"
    folder.mkdir()
    proc = run_cli("validate", str(bad), str(DATA / "run-seed0.json"), str(folder), str(tmp_path / "absent.json"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr  # the worst of 1 (invalid) and 2 (unreadable)
    lines = proc.stderr.splitlines()
    assert len(lines) == 3 and all(x.startswith("paritybench: error: ") for x in lines), proc.stderr
    assert "bad.json is invalid" in lines[0]
    assert "folder.json is a directory" in lines[1]
    assert "absent.json does not exist" in lines[2]
    assert "run-seed0.json: valid" in proc.stdout


def test_validate_and_compare_refuse_an_artifact_with_the_same_message(tmp_path):
    art = json.loads((DATA / "run-seed0.json").read_text())
    del art["created_at"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(art))
    from_validate = one_line_error(run_cli("validate", str(bad)), 1, "created_at")
    from_compare = one_line_error(run_cli("compare", str(DATA / "run-seed0.json"), str(bad)), 2)
    from_report = one_line_error(run_cli("report", str(bad), "--out", str(tmp_path / "r")), 2)
    assert from_validate == from_compare == from_report


# ------------------------------------------------------------------ issue 20: strict JSON, --arms, fields, report


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_a_bare_non_finite_literal_is_not_json(tmp_path, token):
    """The writer writes strict JSON (allow_nan=False, non-finite numbers as "nan"); validate reads the same."""
    text = json.dumps(json.loads((DATA / "run-seed0.json").read_text()), indent=1)
    bad = tmp_path / "bad.json"
    bad.write_text(text.replace('"final_loss": ', f'"final_loss": {token}, "was": ', 1))
    line = one_line_error(run_cli("validate", str(bad)), 2, str(bad), f"a bare {token} at runs/0/final_loss")
    assert one_line_error(run_cli("compare", str(bad), str(DATA / "run-seed0.json")), 2) == line
    assert files_in(tmp_path) == ["bad.json"]


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    "arms,what", [("", "an empty list"), (",,,", "an empty list"), ("jax-logits,,", "an empty arm name")]
)
def test_an_empty_arm_list_or_name_is_refused_with_the_valid_names(tmp_path, arms, what):
    proc = run_cli("run", "--arms", arms, "--steps", "1", "--n", "100", "--out", str(tmp_path / "a.json"))
    one_line_error(proc, 2, f"--arms {arms!r}: {what}", "jax-logits, ", "reference-f64", "leave --arms out")
    assert files_in(tmp_path) == []


def test_an_unknown_dataset_is_refused_at_load(tmp_path):
    wl = tmp_path / "wl.py"
    source = (Path(__file__).parents[1] / "examples" / "tanh_adam.py").read_text()
    wl.write_text(source.replace('Data(dataset="mnist"', 'Data(dataset="anything"'))
    proc = run_cli("run", "--workload", str(wl), "--out", str(tmp_path / "a.json"))
    one_line_error(proc, 2, "data.dataset is 'anything': must be one of mnist")
    assert files_in(tmp_path) == ["wl.py"]


def test_a_report_of_two_run_artifacts_names_each_ones_figures_apart(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for path in (a, b):
        path.write_bytes((DATA / "run-seed0.json").read_bytes())
    proc = run_cli("report", str(a), str(b), "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    md = (tmp_path / "r" / "report.md").read_text()
    pngs = sorted(p.name for p in (tmp_path / "r").glob("*.png"))
    assert pngs == sorted(f"{stem}-raw-{i}.png" for stem in ("agreement", "curves", "saturation") for i in (1, 2))
    for name in pngs:  # each figure once in the report, with the artifact it shows
        assert md.count(f"]({name})") == 1
    assert "a.json`)" in md and "b.json`)" in md


# ------------------------------------------------------------------ cause 13: data fetch


def test_data_fetch_with_a_missing_home_creates_nothing(tmp_path):
    home = tmp_path / "no" / "home"
    proc = run_cli("data", "fetch", env={"HOME": str(home), "XDG_CACHE_HOME": ""})
    one_line_error(proc, 2, f"HOME {home} is not an existing directory", "--cache-dir")
    assert list(tmp_path.iterdir()) == []


def test_data_fetch_with_an_unwritable_home_creates_nothing(tmp_path):
    one_line_error(
        run_cli("data", "fetch", env={"HOME": "/proc", "XDG_CACHE_HOME": ""}), 2, "cannot create files in /proc"
    )
    assert not os.path.lexists("/proc/.cache")
    (tmp_path / "f").write_text("x")
    one_line_error(run_cli("data", "fetch", "--cache-dir", str(tmp_path / "f" / "c")), 2, "not a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_a_failed_download_removes_the_folders_it_made(tmp_path):
    from paritybench.errors import ParityError
    from paritybench.experiment import data

    with pytest.raises(ParityError, match="could not download"):
        data.fetch(tmp_path / "a" / "b", url=(tmp_path / "absent.npz").as_uri())
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ environment variables


@pytest.mark.parametrize(
    "env, needle",
    [
        ({"JAX_ENABLE_X64": "1"}, "JAX_ENABLE_X64=1"),
        ({"JAX_DEBUG_NANS": "true"}, "JAX_DEBUG_NANS=true"),
        ({"JAX_DEFAULT_PRNG_IMPL": "rbg"}, "JAX_DEFAULT_PRNG_IMPL=rbg"),
        ({"XLA_FLAGS": "--xla_cpu_enable_fast_math=true"}, "--xla_cpu_enable_fast_math=true"),
        ({"ONEDNN_DEFAULT_FPMATH_MODE": "BF16"}, "ONEDNN_DEFAULT_FPMATH_MODE=BF16"),
        ({"KERAS_MAX_EPOCHS": "1"}, "KERAS_MAX_EPOCHS=1"),
    ],
)
def test_environment_that_silently_changes_the_experiment_is_refused(tmp_path, env, needle):
    one_line_error(run_cli("run", *TINY, "--out", str(tmp_path / "a.json"), env=env), 2, needle)
    assert list(tmp_path.iterdir()) == []


def test_a_keras_json_that_changes_the_clip_is_refused(tmp_path):
    keras_home = tmp_path / "keras"
    keras_home.mkdir()
    (keras_home / "keras.json").write_text(json.dumps({"epsilon": 1e-4, "floatx": "float32"}))
    one_line_error(
        run_cli("run", *TINY, "--out", str(tmp_path / "a.json"), env={"KERAS_HOME": str(keras_home)}),
        2,
        "epsilon 0.0001",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keras"]


def test_user_numerics_environment_is_recorded_and_warned(tmp_path):
    out = tmp_path / "a.json"
    # OMP_NUM_THREADS: the user's, warned; JAX_DEFAULT_MATMUL_PRECISION: paritybench sets its own (no warning).
    proc = run_cli(
        "run",
        *TINY,
        "--no-weights",
        "--out",
        str(out),
        env={"OMP_NUM_THREADS": "1", "JAX_DEFAULT_MATMUL_PRECISION": "bfloat16", "MKL_CBWR": "COMPATIBLE"},
    )
    assert proc.returncode == 0, proc.stderr
    env = json.loads(out.read_text())["environment"]
    assert env["numerics_env"]["OMP_NUM_THREADS"] == "1" and env["numerics_env"]["MKL_CBWR"] == "COMPATIBLE"
    assert env["numerics_env"]["JAX_DEFAULT_MATMUL_PRECISION"] == "highest"  # paritybench's own, kept
    warned = env["numerics_env_warnings"]
    assert any(w.startswith("OMP_NUM_THREADS=1 ") for w in warned) and any("MKL_CBWR" in w for w in warned)
    assert not any("JAX_DEFAULT_MATMUL_PRECISION" in w for w in warned)
    assert [w for w in env["warnings"] if w.startswith("environment: ")] == [f"environment: {w}" for w in warned]
    assert "paritybench: numerics warning: OMP_NUM_THREADS=1" in proc.stderr  # before training
