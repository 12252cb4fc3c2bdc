#!/usr/bin/env python3
"""Plots a versus benchmark (bench/results/<date>-versus.json): calls/s and p99 latency against
the number of Kustomizations, for gitops-agent and kubernetes-mcp-server, one line per
concurrency, for the question "list Kustomizations, all namespaces". Measurements in which no
call finished are left out (the table reports them as errors).

    scripts/bench-plot.py bench/results/2026-11-25-versus.json bench/results/2026-11-25-versus.png
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

QUESTION = "list Kustomizations, all namespaces"


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    rows = [r for r in json.load(open(sys.argv[1])) if r["case"] == QUESTION]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    styles = {"gitops-agent": "-", "kubernetes-mcp-server": "--"}
    for server in sorted({r["server"] for r in rows}):
        for c in sorted({r["concurrency"] for r in rows}):
            # A measurement where no call finished (all timed out) has no latency to plot.
            points = sorted(
                (r["size"], r["callsPerSecond"], r["p99"])
                for r in rows
                if r["server"] == server and r["concurrency"] == c and r["callsPerSecond"] > 0
            )
            if not points:
                continue
            sizes = [p[0] for p in points]
            left.plot(sizes, [p[1] for p in points], styles.get(server, "-"), marker="o", label=f"{server}, {c} clients")
            right.plot(sizes, [p[2] for p in points], styles.get(server, "-"), marker="o", label=f"{server}, {c} clients")
    for ax, title, unit in ((left, "throughput", "calls/s"), (right, "p99 latency", "ms")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("Kustomizations in the cluster")
        ax.set_ylabel(unit)
        ax.set_title(f"{QUESTION}: {title}")
        ax.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)
    print(f"wrote {sys.argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
