#!/usr/bin/env python3
"""Plots a soak run (bench/results/<date>-soak-<run>.json, written by `make soak`): one panel
per sampled column against minutes, the fault phases shaded, so a leak shows as a slope and a
recovery as a return to the line.

    scripts/soak-plot.py bench/results/2026-12-03-soak-agent.json bench/results/2026-12-03-soak-agent.png
"""
import json
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STEADY = "steady"


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    run = json.load(open(sys.argv[1]))
    rows, columns = run["rows"], run["columns"]
    minutes = [r["seconds"] / 60 for r in rows]
    width = 3
    height = math.ceil(len(columns) / width)
    fig, axes = plt.subplots(height, width, figsize=(5 * width, 2.8 * height), squeeze=False)
    for ax, column in zip(axes.flat, columns):
        ax.plot(minutes, [r[column] for r in rows], linewidth=1)
        # Shade every sample taken outside the steady phase (a fault or its recovery).
        for i, r in enumerate(rows):
            if r["phase"] != STEADY and i + 1 < len(rows):
                ax.axvspan(minutes[i], minutes[i + 1], color="tab:red", alpha=0.12, linewidth=0)
        ax.set_title(column, fontsize=9)
        ax.set_xlabel("minute", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
    for ax in list(axes.flat)[len(columns):]:
        ax.axis("off")
    failed = [c["name"] for c in run.get("checks", []) if not c["passed"]]
    verdict = "all checks passed" if not failed else "FAILED: " + "; ".join(failed)
    fig.suptitle(f"{run.get('title', sys.argv[1])} ({verdict}; red: faults and recovery)", fontsize=10)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=100)
    print(f"wrote {sys.argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
