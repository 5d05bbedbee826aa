"""Time the audits a new user types: ``privgate audit`` on a real table, default suite, no config.

Each audit runs as its own ``privgate audit`` process (the command line, exactly as a user types
it, with ``--out`` into a temporary folder); the wall time, the peak memory (the largest sum of
the resident sets of the process and all its descendants -- the workers that run attacks side
by side -- and the largest resident set of any one of them, sampled every half second from
``/proc``), the exit code, the verdict and the time of every step (``results.json``'s
``durations``) are recorded in
``benchmarks/results/cli_audits.json`` and ``.md`` (runs merge by name). Commands::

    nice -n 5 .venv/bin/python benchmarks/cli_audits.py diabetes130-dpsgd-vae
    nice -n 5 .venv/bin/python benchmarks/cli_audits.py --list

Issue 15's figure: diabetes130 (101,766 rows, 50 columns), full default suite with dpsgd-vae at
epsilon 1 (and with each baseline), under 10 minutes and 8 GiB on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"
PRIVGATE = str(Path(sys.executable).with_name("privgate"))
DIABETES = ["--data", str(DATA / "diabetes130.csv.gz"), "--target", "readmitted"]

#: name -> the arguments after ``privgate audit`` (the data set's path is the shared folder's).
AUDITS: dict[str, list[str]] = {
    "diabetes130-dpsgd-vae": [*DIABETES, "--generator", "dpsgd-vae", "--epsilon", "1"],
    # the same audit with its attacks and metrics spread over a local Ray instance (2 cores)
    "diabetes130-dpsgd-vae-ray": [*DIABETES, "--generator", "dpsgd-vae", "--epsilon", "1",
                                  "--backend", "ray"],
    "diabetes130-gmm": [*DIABETES, "--generator", "gmm"],
    "diabetes130-gaussian-copula": [*DIABETES, "--generator", "gaussian-copula"],
    "diabetes130-smote": [*DIABETES, "--generator", "smote"],
    # a million rows: Adult resampled with noise as benchmarks/scale.py makes it, written to a
    # CSV in the run's folder first (not timed); schema inferred, the target named
    "adult-1m-gmm": ["--data", "{adult-1m}", "--target", "income", "--generator", "gmm"],
}
#: Tables made for a run: placeholder -> the benchmarks/scale.py scenario written to a CSV.
MADE = {"{adult-1m}": "adult-1m"}


def _tree_rss_mib(root: int) -> tuple[float, float]:
    """The resident memory of ``root`` and all its descendants now, and of the largest of
    them (MiB), read from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, ppid in parents.items() if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    pages = []
    for pid in tree:
        try:
            pages.append(int(Path(f"/proc/{pid}/statm").read_text().split()[1]))
        except (OSError, IndexError, ValueError):
            continue
    page = os.sysconf("SC_PAGE_SIZE") / 2**20
    return sum(pages) * page, max(pages, default=0) * page


class _TreeMemory(threading.Thread):
    """Samples :func:`_tree_rss_mib` every half second until the process ends."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.largest, self.done = pid, 0.0, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            total, largest = _tree_rss_mib(self.pid)
            self.peak, self.largest = max(self.peak, total), max(self.largest, largest)


def _made(placeholder: str, folder: Path) -> str:
    """The table a placeholder stands for, written to a CSV in ``folder``: its path."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from scale import load

    df, _ = load(MADE[placeholder])
    path = folder / f"{MADE[placeholder]}.csv"
    df.to_csv(path, index=False)
    return str(path)


def run(name: str, timeout: float) -> dict[str, Any]:
    """One audit in its own process: wall time, peak memory, verdict, step durations."""
    with tempfile.TemporaryDirectory() as tmp:
        args = [_made(a, Path(tmp)) if a in MADE else a for a in AUDITS[name]]
        cmd = [PRIVGATE, "audit", *args, "--out", str(Path(tmp) / "out")]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env={**os.environ, "CI": "1"})
        sampler = _TreeMemory(proc.pid)
        sampler.start()
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        wall = time.perf_counter() - started
        sampler.done.set()
        sampler.join()
        results = Path(tmp) / "out" / "results.json"
        doc = json.loads(results.read_text()) if results.exists() else {}
    return {"command": "privgate audit " + " ".join(
                a.replace(str(DATA), "../shared/data") for a in AUDITS[name]).replace(
                "{adult-1m}", "adult-1m.csv"),
            "exit_code": proc.returncode, "wall_s": round(wall, 1),
            "peak_rss_mib": round(sampler.largest, 1), "peak_tree_mib": round(sampler.peak, 1),
            "timed_out": wall >= timeout,
            "verdict": doc.get("verdict"),
            "durations": (doc.get("timestamps") or {}).get("durations_s"),
            "measured": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "console_tail": out.splitlines()[-25:]}


def markdown(doc: dict[str, Any]) -> str:
    md = ["# Audits as a new user types them (`privgate audit`, default suite, no config)", "",
          f"Machine: {doc['machine']}. Each audit is its own process. Peak memory: 'all' is "
          "the largest sum of the resident sets of the process and its workers together "
          "(sampled every 0.5 s; '-' for runs measured before it was), 'one' the largest "
          "resident set of any one of them (sampled too from 2026-12-02 23:00 UTC; earlier runs: "
          "ru_maxrss of the children, the largest of every audit run so far in the same "
          "invocation). Load average "
          "after each run in the table: other jobs on the 2 cores inflate wall times.", "",
          "| audit | command | exit | verdict | wall s | peak MiB all | peak MiB one | "
          "load after | measured |",
          "|---|---|---|---|---|---|---|---|---|"]
    for name, r in sorted(doc["runs"].items()):
        tree = f"{r['peak_tree_mib']:,}" if "peak_tree_mib" in r else "-"
        md.append(f"| {name} | `{r['command']}` | {r['exit_code']} | {r['verdict']} | "
                  f"{r['wall_s']}{' (timed out)' if r['timed_out'] else ''} | {tree} | "
                  f"{r['peak_rss_mib']:,} | {r['load_after']} | {r['measured']} |")
    for name, r in sorted(doc["runs"].items()):
        if r.get("note"):
            md += ["", f"{name}: {r['note']}"]
        if r.get("durations"):
            steps = sorted(r["durations"].items(), key=lambda kv: -float(kv[1]))
            md += ["", f"{name}, slowest steps (s): " + ", ".join(
                f"{k} {float(v):.1f}" for k, v in steps[:12])]
    return "\n".join(md) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("audits", nargs="*", metavar="AUDIT", help="names from --list")
    ap.add_argument("--list", action="store_true", help="list the audits and their commands")
    ap.add_argument("--render", action="store_true", help="rewrite the markdown from the JSON")
    ap.add_argument("--timeout", type=float, default=3600.0)
    ap.add_argument("--note", default=None, help="a sentence kept with each run measured now "
                                                 "(e.g. what else the machine was running)")
    args = ap.parse_args()
    path = RESULTS / "cli_audits.json"
    if args.render:
        (RESULTS / "cli_audits.md").write_text(markdown(json.loads(path.read_text())))
        return 0
    if args.list or not args.audits:
        for name, argv in AUDITS.items():
            print(f"{name}: privgate audit {' '.join(argv)}")
        return 0
    unknown = sorted(set(args.audits) - set(AUDITS))
    if unknown:
        ap.error(f"unknown audit(s) {', '.join(unknown)}; see --list")
    doc = json.loads(path.read_text()) if path.exists() else {"runs": {}}
    doc["machine"] = (f"{platform.machine()}, {os.cpu_count()} CPU(s), Python "
                      f"{platform.python_version()}")
    for name in args.audits:
        doc["runs"][name] = run(name, args.timeout)
        if args.note:
            doc["runs"][name]["note"] = args.note
        print(json.dumps({k: v for k, v in doc["runs"][name].items()
                          if k not in ("console_tail", "durations")}), flush=True)
        RESULTS.mkdir(exist_ok=True)
        path.write_text(json.dumps(doc, indent=2) + "\n")
        (RESULTS / "cli_audits.md").write_text(markdown(doc))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
