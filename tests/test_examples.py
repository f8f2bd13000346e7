"""The batch-system examples run `paritybench sweep --shard I/N` with I over every index, once.

Each example's shell is executed (sh / bash) with a stand-in `paritybench` first on PATH
that prints its arguments, so what is checked is the command line the scheduler would run.
"""

import os
import re
import shlex
import subprocess

from ruamel.yaml import YAML

from paritybench.cli import build_parser

from .conftest import ROOT

EXAMPLES = ROOT / "examples"


def _fake_paritybench(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "paritybench"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    fake.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def _check_lines(rendered: list[list[str]], count: int) -> None:
    assert [a[:2] + [a[2]] for a in rendered] == [["sweep", "--shard", f"{i}/{count}"] for i in range(count)]
    parser = build_parser()
    outs = set()
    for argv in rendered:
        args = parser.parse_args(argv)
        assert args.command == "sweep" and args.resume is None
        outs.add(args.out)
    assert len(outs) == count  # each shard its own artifact


def test_k8s_indexed_job_runs_each_shard_once(tmp_path):
    job = YAML(typ="safe").load((EXAMPLES / "k8s-indexed-job.yaml").read_text())
    spec = job["spec"]
    assert job["kind"] == "Job" and spec["completionMode"] == "Indexed"
    count = spec["completions"]
    (container,) = spec["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert int(env["SHARDS"]) == count
    env_run = _fake_paritybench(tmp_path)
    rendered = []
    for i in range(count):
        proc = subprocess.run(
            [*container["command"], *container["args"]],
            capture_output=True,
            text=True,
            env={**env_run, **env, "JOB_COMPLETION_INDEX": str(i)},
            cwd=tmp_path,
            timeout=30,
        )
        assert proc.returncode == 0, proc.stderr
        rendered.append(proc.stdout.splitlines())
    _check_lines(rendered, count)


def test_slurm_array_runs_each_shard_once(tmp_path):
    script = EXAMPLES / "slurm-array.sh"
    text = script.read_text()
    lo, hi = map(int, re.search(r"^#SBATCH --array=(\d+)-(\d+)$", text, re.M).groups())
    count = int(re.search(r"^SHARDS=(\d+)$", text, re.M).group(1))
    assert (lo, hi) == (0, count - 1)
    env_run = _fake_paritybench(tmp_path)
    rendered = []
    for i in range(count):
        proc = subprocess.run(
            ["bash", str(script)],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=tmp_path,
            env={**env_run, "SLURM_ARRAY_TASK_ID": str(i)},
        )
        assert proc.returncode == 0, proc.stderr
        rendered.append(proc.stdout.splitlines())
    _check_lines(rendered, count)
    # a requeued task whose checkpoint exists resumes instead of starting over
    (tmp_path / "results" / "shards" / "sweep-shard-1.json.partial.jsonl").write_text("{}\n")
    proc = subprocess.run(
        ["bash", str(script)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        env={**env_run, "SLURM_ARRAY_TASK_ID": "1"},
    )
    assert proc.stdout.split() == shlex.split("sweep --resume results/shards/sweep-shard-1.json")
