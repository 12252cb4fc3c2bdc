#!/usr/bin/env python3
"""Measures candidate release profiles for the binaries that ship in the images, so the profile in
Cargo.toml is chosen with numbers (issue 19). For each candidate it makes a clean build of both
binaries in a target directory of its own and records the build's wall and CPU time and the
binaries' sizes (as built, stripped, and gzip-compressed as an image layer would be); then it runs
the agent-server benchmark (crates/bench/src/server.rs, 1,000 Kustomizations) against each
candidate's agent, round-robin, REPEATS times, and keeps the median idle RSS and
list_kustomizations throughput.

    scripts/release-profiles.py                   # every candidate (about an hour on 2 cores)
    PROFILES=base,fat scripts/release-profiles.py # some of them
    SKIP_BUILD=1 scripts/release-profiles.py      # benchmarks only, on the builds already there
                                                  # (their build times come from the last report)

Writes bench/results/<date>-release-profiles.{md,json} and prints the table. Environment:
PROFILES, REPEATS (3), BENCH_SECONDS (3), SKIP_BUILD.
"""

from __future__ import annotations

import datetime
import gzip
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BINARIES = ("gitops-agent", "gitops-agent-operator")

# name -> (opt-level, lto, codegen-units, strip). "base" is cargo's default release profile.
CANDIDATES: dict[str, tuple[str, str, str, str]] = {
    "base": ("3", "false", "16", "none"),
    "thin": ("3", "thin", "16", "symbols"),
    "thin-cgu1": ("3", "thin", "1", "symbols"),
    "fat-cgu1": ("3", "fat", "1", "symbols"),
    "fat-cgu1-2": ("2", "fat", "1", "symbols"),
    "fat-cgu1-s": ("s", "fat", "1", "symbols"),
    "fat-cgu1-s-ours3": ("s", "fat", "1", "symbols"),
}
# More settings of a candidate, as `cargo --config` values.
EXTRA_CONFIG: dict[str, list[str]] = {
    # Dependencies optimised for size, this workspace's own crates for speed.
    "fat-cgu1-s-ours3": [
        f'profile.release.package.{crate}.opt-level=3'
        for crate in ("gitops-agent-server", "gitops-agent-controller", "gitops-agent-api")
    ],
}


def target_dir(name: str) -> Path:
    return REPO / "target" / "profiles" / name


def build(name: str) -> dict:
    opt, lto, cgu, strip = CANDIDATES[name]
    tdir = target_dir(name)
    shutil.rmtree(tdir, ignore_errors=True)
    env = dict(
        os.environ,
        CARGO_TARGET_DIR=str(tdir),
        CARGO_PROFILE_RELEASE_OPT_LEVEL=opt,
        CARGO_PROFILE_RELEASE_LTO=lto,
        CARGO_PROFILE_RELEASE_CODEGEN_UNITS=cgu,
        CARGO_PROFILE_RELEASE_STRIP=strip,
        CARGO_PROFILE_RELEASE_DEBUG="false",
        CARGO_TERM_COLOR="never",
    )
    extra = [arg for value in EXTRA_CONFIG.get(name, []) for arg in ("--config", value)]
    cmd = ["cargo", *extra, "build", "--release", "--locked", "-p", "gitops-agent-server", "-p", "gitops-agent-controller"]
    print(f"== {name}: opt-level={opt} lto={lto} codegen-units={cgu} strip={strip} {' '.join(EXTRA_CONFIG.get(name, []))}", flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(cmd, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"build_wall_s": round(wall, 1), "build_cpu_s": round(cpu, 1)}


def sizes(name: str) -> dict:
    out = {}
    for binary in BINARIES:
        path = target_dir(name) / "release" / binary
        stripped = path.with_suffix(".stripped")
        shutil.copyfile(path, stripped)
        subprocess.run(["strip", "--strip-all", str(stripped)], check=True)
        key = "agent" if binary == "gitops-agent" else "operator"
        out[f"{key}_bytes"] = path.stat().st_size
        out[f"{key}_stripped_bytes"] = stripped.stat().st_size
        out[f"{key}_gzip_bytes"] = len(gzip.compress(stripped.read_bytes(), compresslevel=6))
        stripped.unlink()
    return out


ROW = re.compile(r"^\| (\d+) \| (\S+)( `[^`]*`)? \| (\d+) \| ([\d.]+) \| ([\d.]+) \|")
START = re.compile(r"^\| (\d+) \| (\d+) \| ([\d.]+) \| ([\d.]+) \|$")


def bench(name: str, seconds: str) -> dict:
    """One run of the agent-server benchmark against this candidate's agent binary."""
    env = dict(
        os.environ,
        BENCH_BIN_DIR=str(target_dir(name) / "release"),
        BENCH_SIZES="1000",
        BENCH_CONCURRENCY="1,8",
        BENCH_SECONDS=seconds,
    )
    proc = subprocess.run(
        ["cargo", "bench", "--locked", "--workspace", "--bench", "server"],
        cwd=REPO, env=env, check=True, capture_output=True, text=True,
    )
    result: dict = {}
    for line in proc.stdout.splitlines():
        if m := START.match(line):
            result["ready_s"] = float(m.group(3))
            result["rss_idle_mib"] = float(m.group(4))
        elif (m := ROW.match(line)) and m.group(3) is None:
            result[f"{m.group(2)}_c{m.group(4)}_per_s"] = float(m.group(5))
            result[f"{m.group(2)}_c{m.group(4)}_p50_ms"] = float(m.group(6))
    if "rss_idle_mib" not in result:
        sys.exit(f"no figures in the benchmark's output:\n{proc.stdout}\n{proc.stderr}")
    return result


def mib(n: int) -> str:
    return f"{n / 1048576:.1f}"


def main() -> None:
    names = [n for n in os.environ.get("PROFILES", ",".join(CANDIDATES)).split(",") if n]
    for n in names:
        if n not in CANDIDATES:
            sys.exit(f"unknown profile {n}: choose from {', '.join(CANDIDATES)}")
    repeats = int(os.environ.get("REPEATS", "3"))
    seconds = os.environ.get("BENCH_SECONDS", "3")
    results = {n: {"settings": dict(zip(("opt-level", "lto", "codegen-units", "strip"), CANDIDATES[n]))} for n in names}
    for n in names:
        results[n]["settings"]["config"] = EXTRA_CONFIG.get(n, [])
    out = REPO / "bench" / "results"
    previous = sorted(out.glob("*-release-profiles.json"))
    earlier = json.loads(previous[-1].read_text()) if previous else {}
    for n in names:
        if not os.environ.get("SKIP_BUILD"):
            results[n].update(build(n))
        else:
            results[n].update({k: v for k, v in earlier.get(n, {}).items() if k.startswith("build_")})
        results[n].update(sizes(n))
    if repeats == 0:
        out.mkdir(parents=True, exist_ok=True)
        merged = {**earlier, **results}
        (out / f"{datetime.date.today().isoformat()}-release-profiles.json").write_text(json.dumps(merged, indent=2) + "\n")
        print(json.dumps(results, indent=2))
        return
    print("== benchmark harness (bench profile) and runs", flush=True)
    subprocess.run(["cargo", "build", "--locked", "--profile", "bench", "-p", "gitops-agent-bench", "--bench", "server"],
                   cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for i in range(repeats):
        for n in names:
            runs[n].append(bench(n, seconds))
            print(f"   {n} run {i + 1}: {runs[n][-1]}", flush=True)
    for n in names:
        keys = runs[n][0].keys()
        results[n]["bench"] = {k: statistics.median(r[k] for r in runs[n]) for k in keys}
        results[n]["bench_runs"] = runs[n]

    date = datetime.date.today().isoformat()
    lines = [
        f"## Release profiles ({date}, {os.cpu_count()} CPUs, glibc build; clean build of both binaries each; "
        f"agent benchmark at 1,000 Kustomizations, median of {repeats} runs of {seconds} s per row)",
        "",
        "| profile | opt-level | lto | codegen-units | strip | clean build wall min | build CPU min | agent MiB | agent MiB stripped | agent MiB gzip | operator MiB stripped | RSS idle MiB | list_kustomizations calls/s c=1 | c=8 | p50 ms c=1 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in names:
        r = results[n]
        s = r["settings"]
        b = r["bench"]
        wall = f"{r['build_wall_s'] / 60:.1f}" if "build_wall_s" in r else "—"
        cpu = f"{r['build_cpu_s'] / 60:.1f}" if "build_cpu_s" in r else "—"
        lines.append(
            f"| {n} | {s['opt-level']} | {s['lto']} | {s['codegen-units']} | {s['strip']} | {wall} | {cpu} | "
            f"{mib(r['agent_bytes'])} | {mib(r['agent_stripped_bytes'])} | {mib(r['agent_gzip_bytes'])} | "
            f"{mib(r['operator_stripped_bytes'])} | {b['rss_idle_mib']:.1f} | "
            f"{b.get('list_kustomizations_c1_per_s', 0):.0f} | {b.get('list_kustomizations_c8_per_s', 0):.0f} | "
            f"{b.get('list_kustomizations_c1_p50_ms', 0):.2f} |"
        )
    table = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{date}-release-profiles.md").write_text(table)
    (out / f"{date}-release-profiles.json").write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table)


if __name__ == "__main__":
    main()
