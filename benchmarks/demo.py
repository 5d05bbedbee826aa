"""Measure ``privgate demo``: wall time, peak memory, and its verdict table.

Run on demand (not part of the tests)::

    .venv/bin/python benchmarks/demo.py

Writes ``benchmarks/results/demo.json`` and ``benchmarks/results/demo.md``.
"""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "privgate.cli", "demo", "--out", str(out)],
                              capture_output=True, text=True)
        wall = time.perf_counter() - start
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        result = json.loads((out / "results.json").read_text())
        report_bytes = (out / "report.html").stat().st_size
    figures = {
        "command": "privgate demo",
        "exit_code": proc.returncode,
        "wall_seconds": round(wall, 1),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "report_html_bytes": report_bytes,
        "cpu_count": __import__("os").cpu_count(),
        "machine": platform.platform(),
        "verdict": result["verdict"],
        "durations_s": result["timestamps"]["durations_s"],
        "spent": {g["name"]: g["spent"] for g in result["generators"]},
        "checks": result["checks"],
    }
    (RESULTS / "demo.json").write_text(json.dumps(figures, indent=2) + "\n")
    lines = [f"# privgate demo ({time.strftime('%Y-%m-%d')})", "",
             f"- wall time: {figures['wall_seconds']} s; peak memory: "
             f"{figures['peak_rss_mib']} MiB; exit code {proc.returncode}; verdict "
             f"**{result['verdict']}**; report.html {report_bytes:,} bytes", "",
             "| policy | generator | attack | risk | interval | threshold | status |",
             "|---|---|---|---|---|---|---|"]
    for c in result["checks"]:
        risk = "-" if c["risk"] is None else f"{c['risk']:.4f}"
        ci = "-" if c["ci_low"] is None else f"[{c['ci_low']:.4f}, {c['ci_high']:.4f}]"
        gated = "" if c["gated"] else " (not gated)"
        lines.append(f"| {c['policy']} | {c['generator']} | {c['attack']} | {risk} | {ci} | "
                     f"{c['threshold']:g} | {c['status']}{gated} |")
    (RESULTS / "demo.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(proc.stderr[-3000:], file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
