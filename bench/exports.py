"""Export benchmark: the app's GeoPackage export against `ogr2ogr` from the same PostGIS table, in the same run.

Uses the items benchmark's database (BENCH_DATABASE_URL, default .../vung_bench,
100,000 synthetic farming zones, prepared as in items.py when short). For each
size (the first N zones by id), alternating rounds of:

- **app (HTTP)**: `GET /export/farming_zones?format=gpkg` from the app served by
  gunicorn (one sync worker, started once), saved to disk by the client. The
  worker's peak memory is its VmHWM, reset before each run (`clear_refs`).
- **app (CLI)**: `flask export farming_zones out.gpkg`, a new process each time
  (interpreter start-up included); peak memory is the child's max RSS.
- **ogr2ogr**: `ogr2ogr -f GPKG out.gpkg PG:... -sql "SELECT <the columns the
  app writes> FROM farming_zones ORDER BY id LIMIT N"` (the stored columns,
  no casts); peak memory is its max RSS.

Each output is read back (feature count). Reports medians, ratios to ogr2ogr,
and writes bench/out/exports.json.

    .venv/bin/python bench/exports.py [--sizes 10000,100000] [--rounds 3] [--check]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import sys
import time
from pathlib import Path

import pyogrio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from imports import OUT, ROOT, VENV_BIN, measured, median, pg_conninfo  # noqa: E402
from items import DEFAULT_URL, Server, local_only, log, prepare_database  # noqa: E402

sys.path.insert(0, str(ROOT))
from exporters.read import columns  # noqa: E402
from layers import REGISTRY  # noqa: E402

# The API's largest `limit`, which the sizes below the whole layer are exported with.
from layers.params import MAX_LIMIT  # noqa: E402

LAYER = "farming_zones"
TARGET_TIME = 1.5  # app ÷ ogr2ogr, wall time
SOURCE_ZONES = 100_000


def limit_param(size: int) -> str:
    return "" if size >= SOURCE_ZONES else f"&limit={size}"


def ogr_sql(size: int) -> str:
    """The columns the app writes, as stored (GDAL converts the types itself)."""
    cols = ", ".join(f"t.{c.name}" for c in columns(REGISTRY[LAYER]))
    limit = "" if size >= SOURCE_ZONES else f" LIMIT {size}"
    return f"SELECT {cols}, t.geom FROM {LAYER} AS t ORDER BY t.id{limit}"


def run_ogr(url: str, size: int, out: Path) -> dict:
    out.unlink(missing_ok=True)
    cmd = ["ogr2ogr", "-f", "GPKG", str(out), f"PG:{pg_conninfo(url)}", "-sql", ogr_sql(size), "-nln", LAYER]
    return measured(cmd, dict(os.environ), OUT / "export-ogr.log")


def run_cli(url: str, size: int, out: Path) -> dict:
    out.unlink(missing_ok=True)
    limit = [] if size >= SOURCE_ZONES else ["--filter", f"limit={size}"]
    cmd = [str(VENV_BIN / "flask"), "--app", "app", "export", LAYER, str(out), *limit]
    return measured(cmd, dict(os.environ, DATABASE_URL=url), OUT / "export-cli.log")


def worker_pid(server: Server) -> int:
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split()
    if len(children) != 1:
        raise RuntimeError(f"expected one gunicorn worker, found {children}")
    return int(children[0])


def peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def run_http(server: Server, size: int, out: Path) -> dict:
    pid = worker_pid(server)
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets the peak RSS to the current RSS
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    try:
        conn.request("GET", f"/export/{LAYER}?format=gpkg{limit_param(size)}")
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"export answered {response.status}: {response.read(300)!r}")
        with out.open("wb") as f:
            while chunk := response.read(1 << 20):
                f.write(chunk)
    finally:
        conn.close()
    return {"seconds": round(time.monotonic() - start, 3), "max_rss_mb": round(peak_kb(pid) / 1024, 1),
            "load_1min": round(os.getloadavg()[0], 2)}


def check_output(path: Path, size: int, case: str) -> None:
    found = pyogrio.read_info(path)["features"]
    if found != size:
        raise RuntimeError(f"{case}: {found} features in {path.name}, expected {size}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help=f"zone counts, comma-separated (<= {MAX_LIMIT} or all)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--check", action="store_true", help=f"exit 1 if app (HTTP) ÷ ogr2ogr > {TARGET_TIME}")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if any(not (1 <= s <= MAX_LIMIT or s == SOURCE_ZONES) for s in sizes) or not 1 <= args.rounds <= 20:
        parser.error(f"sizes in 1..{MAX_LIMIT} or exactly {SOURCE_ZONES}; rounds in 1..20")
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    local_only(url)
    OUT.mkdir(parents=True, exist_ok=True)
    prepare_database(url, SOURCE_ZONES)

    server = Server("export-app", "app:create_app()", 1, url)
    results = []
    try:
        server.wait_ready("/healthz")
        cases = {"app_http": lambda s, o: run_http(server, s, o), "app_cli": lambda s, o: run_cli(url, s, o),
                 "ogr2ogr": lambda s, o: run_ogr(url, s, o)}
        for size in sizes:
            runs: dict[str, list[dict]] = {case: [] for case in cases}
            for r in range(args.rounds):
                order = list(cases) if r % 2 == 0 else list(reversed(cases))
                for case in order:
                    out = OUT / f"export-{case}.gpkg"
                    figures = cases[case](size, out)
                    check_output(out, size, case)
                    figures["file_mb"] = round(out.stat().st_size / 2**20, 1)
                    runs[case].append(figures)
                    log(f"{size} zones, round {r + 1}, {case}: {figures['seconds']:.2f} s, {figures['max_rss_mb']:.0f} MB")
            row = {"zones": size, "runs": runs}
            for case in cases:
                row[f"{case}_seconds"] = median(runs[case], "seconds")
                row[f"{case}_max_rss_mb"] = median(runs[case], "max_rss_mb")
            for case in ("app_http", "app_cli"):
                row[f"{case}_time_ratio"] = round(row[f"{case}_seconds"] / row["ogr2ogr_seconds"], 2)
            results.append(row)
    finally:
        server.stop()

    print("\n| zones | app HTTP s | app CLI s | ogr2ogr s | HTTP ÷ ogr2ogr | CLI ÷ ogr2ogr "
          "| app worker peak MB | app CLI peak MB | ogr2ogr peak MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['zones']:,} | {r['app_http_seconds']:.2f} | {r['app_cli_seconds']:.2f} | {r['ogr2ogr_seconds']:.2f} "
              f"| {r['app_http_time_ratio']:.2f} | {r['app_cli_time_ratio']:.2f} | {r['app_http_max_rss_mb']:.0f} "
              f"| {r['app_cli_max_rss_mb']:.0f} | {r['ogr2ogr_max_rss_mb']:.0f} |")
    print(f"\nmedians of {args.rounds} alternating rounds; target: time ratio <= {TARGET_TIME}, memory flat in size")
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "rounds": args.rounds, "target_time_ratio": TARGET_TIME, "results": results,
    }
    (OUT / "exports.json").write_text(json.dumps(report, indent=2) + "\n")
    log(f"wrote {OUT / 'exports.json'}")
    return 1 if args.check and results[-1]["app_http_time_ratio"] > TARGET_TIME else 0


if __name__ == "__main__":
    sys.exit(main())
