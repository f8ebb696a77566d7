"""Items and tiles benchmark: the app's OGC items and vector tile endpoints against a floor, in the same run.

Prepares its own database (BENCH_DATABASE_URL, default .../vung_bench) with the
sample and N synthetic farming zones (skipped when already there), serves the
app and bench/floor.py with the same gunicorn settings on two free localhost
ports, and drives both with the same request sequence from N concurrent
clients, alternating app and floor in rounds. Prints requests/s and p50/p95
for both and their ratio; writes bench/out/items.json.

    .venv/bin/python bench/items.py [--count 100000] [--workers 2] [--concurrency 8]
                                    [--duration 2] [--rounds 8] [--cases 2km,10km,item,z12,z14] [--check]

The floor is bench/floor.py: the same statements (items, counts, single
features, tiles) on a bare connection.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import math
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
VENV_BIN = Path(sys.executable).parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/vung_bench"
LAYER = "farming_zones"
KM_PER_DEG_LAT = 111.32
TARGET = 0.7
URLS_PER_CASE = 4000
MAX_REQUESTS_PER_CLIENT = 1_000_000
STARTUP_SECONDS = 60


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def local_only(url: str) -> None:
    if "@127.0.0.1" not in url and "@localhost" not in url:
        sys.exit(f"BENCH_DATABASE_URL must point at 127.0.0.1 or localhost, got {url!r}")


# --- database -----------------------------------------------------------------


def flask(url: str, *args: str) -> None:
    env = dict(os.environ, DATABASE_URL=url)
    subprocess.run([str(VENV_BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=env, check=True, timeout=1800)


def execute(url: str, statement: str, params=None):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchone() if cur.description else None
    finally:
        conn.close()


def zone_count(url: str) -> int:
    return execute(url, f"SELECT count(*) FROM {LAYER}")[0]


def prepare_database(url: str, count: int) -> int:
    flask(url, "db", "create")
    flask(url, "db", "upgrade")
    flask(url, "sample", "load", "--if-empty")
    have = zone_count(url)
    if count <= have <= count * 1.01:
        log(f"{LAYER}: {have} rows already, reusing them")
    else:
        log(f"{LAYER}: {have} rows; generating {count} synthetic zones")
        flask(url, "sample", "synthetic", "--count", str(count), "--replace")
        # The generator can fall short (its candidate points are drawn in the
        # province's bounding box, and only those inside are kept): top up
        # with other seeds, then drop the surplus, so the set is exactly `count`.
        for i in range(1, 11):
            have = zone_count(url)
            if have >= count:
                break
            missing = count - have
            log(f"{LAYER}: {have} rows, topping up {missing} (seed {0.42 + i / 100:.2f})")
            flask(url, "sample", "synthetic", "--count", str(missing * 2), "--seed", f"{0.42 + i / 100:.2f}")
        execute(
            url, f"DELETE FROM {LAYER} WHERE id > (SELECT id FROM {LAYER} ORDER BY id OFFSET %s LIMIT 1)", (count - 1,)
        )
        have = zone_count(url)
        if have < count:
            sys.exit(f"could not generate {count} zones (have {have})")
    execute(url, "VACUUM ANALYZE")
    return have


def province(url: str) -> tuple[tuple[float, float, float, float], object]:
    conn = psycopg2.connect(url)
    cur = conn.cursor()
    cur.execute(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
        "(SELECT ST_Extent(geom) AS e FROM admin_units WHERE level = 'district') AS s"
    )
    return cur.fetchone(), conn


def bbox_urls(conn, extent, side_km: float, n: int, rng: random.Random, limit: int) -> list[str]:
    """n boxes of side_km inside the extent, centred on land of the province, in seeded order."""
    x0, y0, x1, y1 = extent
    mid_lat = math.radians((y0 + y1) / 2)
    dy = side_km / KM_PER_DEG_LAT
    dx = side_km / (KM_PER_DEG_LAT * math.cos(mid_lat))
    centres = land_points(conn, extent, dx / 2, dy / 2, n, rng)
    return [
        f"/ogc/collections/{LAYER}/items?f=json&limit={limit}"
        f"&bbox={x - dx / 2:.6f},{y - dy / 2:.6f},{x + dx / 2:.6f},{y + dy / 2:.6f}"
        for x, y in centres
    ]


def land_points(conn, extent, margin_x: float, margin_y: float, n: int, rng: random.Random) -> list[tuple[float, float]]:
    """n points on land of the province, at least the margins inside its extent, in seeded order."""
    x0, y0, x1, y1 = extent
    xs = [rng.uniform(x0 + margin_x, x1 - margin_x) for _ in range(n * 6)]
    ys = [rng.uniform(y0 + margin_y, y1 - margin_y) for _ in range(n * 6)]
    with conn.cursor() as cur:
        cur.execute(
            "SELECT c.x, c.y FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS c(x, y, i) "
            "WHERE EXISTS (SELECT 1 FROM admin_units a WHERE a.level = 'district' "
            "AND ST_Intersects(a.geom, ST_SetSRID(ST_MakePoint(c.x, c.y), 4326))) ORDER BY c.i LIMIT %s",
            (xs, ys, n),
        )
        return cur.fetchall()


def tile_urls(conn, extent, z: int, n: int, rng: random.Random) -> list[str]:
    """The zoom-z tiles holding n points on land of the province, in seeded order (repeats kept, as a map asks)."""
    urls = []
    for lon, lat in land_points(conn, extent, 0.0, 0.0, n, rng):
        x = int((lon + 180) / 360 * 2**z)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
        urls.append(f"/tiles/{LAYER}/{z}/{x}/{y}.pbf")
    return urls


def item_urls(conn, n: int, rng: random.Random) -> list[str]:
    with conn.cursor() as cur:
        cur.execute(f"SELECT id FROM {LAYER} ORDER BY id")
        ids = [r[0] for r in cur.fetchall()]
    return [f"/ogc/collections/{LAYER}/items/{rng.choice(ids)}?f=json" for _ in range(n)]


# --- servers ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name: str, wsgi: str, workers: int, url: str, *options: str):
        self.name, self.port = name, free_port()
        OUT.mkdir(parents=True, exist_ok=True)
        self.log = open(OUT / f"{name}.log", "w")
        env = dict(os.environ, DATABASE_URL=url, BENCH_DATABASE_URL=url)
        # Same settings for both: only the WSGI callable differs.
        self.proc = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{self.port}",
                *options,
                "--chdir",
                str(ROOT),
                "--pythonpath",
                str(ROOT),
                wsgi,
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, path: str) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} server exited; see {OUT / (self.name + '.log')}")
            try:
                status, _ = fetch(self.port, path)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} server did not answer within {STARTUP_SECONDS} s")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server's worker processes so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # a worker that just exited
            total += int(fields[11]) + int(fields[12])
        return total / ticks

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # the gunicorn master stops its workers
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.log.close()


def fetch(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def same_answer(app_port: int, floor_port: int, path: str) -> None:
    """The two servers must return the same features, or the comparison means nothing."""
    sa, a = fetch(app_port, path)
    sf, f = fetch(floor_port, path)
    if sa != 200 or sf != 200:
        raise RuntimeError(f"{path}: app {sa}, floor {sf}")
    if path.startswith("/tiles/"):
        if not a or tile_features(path, a) != tile_features(path, f):
            raise RuntimeError(f"{path}: app and floor tiles hold different features, or none")
        return
    a, f = json.loads(a), json.loads(f)
    a.pop("links", None), a.pop("timeStamp", None)
    if a != f:
        raise RuntimeError(f"{path}: app and floor answers differ")


def tile_features(path: str, tile: bytes) -> list:
    """A tile's features (id, properties, geometry) as GDAL decodes them, in id order.

    Not the bytes: the encoding's order is PostGIS's business (a parallel
    plan, for one, changes it from run to run); the features must agree.
    """
    import pyogrio

    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp, *path.removeprefix("/tiles/").split("/")[1:])  # z/x/y.pbf, as GDAL reads the tile's place
        file.parent.mkdir(parents=True)
        file.write_bytes(tile)
        frame = pyogrio.read_dataframe(file, CLIP="NO").sort_values("mvt_id")
    return [
        (tuple(None if v != v else v for v in row[:-1]), row[-1].wkb)  # NaN (no value) made comparable
        for row in frame.itertuples(index=False)
    ]


# --- load ---------------------------------------------------------------------


def run_load(server: Server, urls: list[str], concurrency: int, duration: float, warmup: float) -> dict:
    """Closed loop: each client sends its next request as soon as the last one is read."""
    port = server.port
    counter = itertools.count()
    start = threading.Barrier(concurrency + 1)
    results: list[list[tuple[float, float, int, int]]] = [[] for _ in range(concurrency)]
    window: list[float] = []

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        out = results[k]
        start.wait()
        end = window[1]
        try:
            for _ in range(MAX_REQUESTS_PER_CLIENT):
                t0 = time.perf_counter()
                if t0 >= end:
                    break
                path = urls[next(counter) % len(urls)]
                try:
                    # Sync gunicorn workers answer "Connection: close"; http.client
                    # then opens a new connection for the next request (both servers alike).
                    conn.request("GET", path)
                    resp = conn.getresponse()
                    body = resp.read()
                    status = resp.status
                except (OSError, http.client.HTTPException):
                    conn.close()
                    status, body = 0, b""
                out.append((t0, time.perf_counter(), status, len(body)))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(concurrency)]
    for t in threads:
        t.start()
    now = time.perf_counter()
    window.extend([now + warmup, now + warmup + duration])
    start.wait()
    lo, hi = window
    time.sleep(max(0.0, lo - time.perf_counter()))
    cpu0 = server.cpu_seconds()
    time.sleep(max(0.0, hi - time.perf_counter()))
    cpu1 = server.cpu_seconds()
    for t in threads:
        t.join(timeout=duration + warmup + 60)
    # Count the requests completed inside the measuring window.
    done = [r for rs in results for r in rs if lo <= r[1] <= hi]
    errors = sum(1 for r in done if r[2] != 200)
    return {
        "requests": len(done),
        "errors": errors,
        "seconds": duration,
        "bytes": sum(r[3] for r in done),
        "worker_cpu_s": cpu1 - cpu0,
        "latencies_ms": [(r[1] - r[0]) * 1000 for r in done if r[2] == 200],
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


def summarise(runs: list[dict]) -> dict:
    requests = sum(r["requests"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    lat = [x for r in runs for x in r["latencies_ms"]]
    return {
        "rps": requests / seconds,
        "p50_ms": percentile(lat, 50),
        "p95_ms": percentile(lat, 95),
        "requests": requests,
        "errors": sum(r["errors"] for r in runs),
        "mean_bytes": sum(r["bytes"] for r in runs) / max(1, requests),
        "rps_per_round": [r["requests"] / r["seconds"] for r in runs],
        # CPU of the gunicorn workers only (not PostgreSQL, not the client).
        "worker_cpu_ms_per_request": sum(r["worker_cpu_s"] for r in runs) * 1000 / max(1, requests),
    }


# --- main ---------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000, help="synthetic farming zones (default 100000)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers for each server (default 2)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent client connections (default 8)")
    parser.add_argument("--duration", type=float, default=2, help="seconds measured per run (default 2)")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds of warm-up before each run (default 0.5)")
    parser.add_argument(
        "--rounds", type=int, default=8, help="app/floor runs per case, alternating A B, B A, ... (default 8)"
    )
    parser.add_argument("--limit", type=int, default=1000, help="items per page (default 1000)")
    parser.add_argument(
        "--cases", default="2km,10km,item,z12,z14", help="comma-separated: 2km, 10km, item, z<zoom> (a vector tile)"
    )
    parser.add_argument("--seed", type=int, default=20261126, help="seed of the request sequence")
    parser.add_argument("--skip-load", action="store_true", help="use the database as it is")
    parser.add_argument("--check", action="store_true", help=f"exit with status 1 when a case is below {TARGET}")
    args = parser.parse_args()
    if not (
        1 <= args.rounds <= 20 and 1 <= args.concurrency <= 64 and 0 < args.duration <= 600 and 1 <= args.workers <= 16
    ):
        parser.error("rounds 1–20, concurrency 1–64, duration up to 600 s, workers 1–16")

    url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL
    local_only(url)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    zones = zone_count(url) if args.skip_load else prepare_database(url, args.count)
    extent, conn = province(url)
    rng = random.Random(args.seed)
    cases = {}
    for name in args.cases.split(","):
        name = name.strip()
        if name == "item":
            cases[name] = item_urls(conn, URLS_PER_CASE, rng)
        elif name.endswith("km"):
            cases[name] = bbox_urls(conn, extent, float(name[:-2]), URLS_PER_CASE, rng, args.limit)
        elif name[:1] == "z" and name[1:].isdigit() and 0 <= int(name[1:]) <= 22:
            cases[name] = tile_urls(conn, extent, int(name[1:]), URLS_PER_CASE, rng)
        else:
            parser.error(f"unknown case {name!r}")
    with conn.cursor() as cur:
        cur.execute("SELECT postgis_lib_version(), current_setting('server_version')")
        postgis, pg = cur.fetchone()
    conn.close()

    servers: list[Server] = []
    results = {}
    try:
        app = Server("app", "app:create_app()", args.workers, url)
        servers.append(app)
        floor = Server("floor", "bench.floor:application", args.workers, url)
        servers.append(floor)
        probe = next(iter(cases.values()))[0]
        app.wait_ready(probe)
        floor.wait_ready(probe)
        for name, urls in cases.items():
            for path in urls[:20]:
                same_answer(app.port, floor.port, path)
            runs: dict[str, list[dict]] = {"app": [], "floor": []}
            for r in range(args.rounds):
                order = (app, floor) if r % 2 == 0 else (floor, app)  # A B, B A, ...
                for server in order:
                    run = run_load(server, urls, args.concurrency, args.duration, args.warmup)
                    log(
                        f"{name} round {r + 1} {server.name}: {run['requests'] / run['seconds']:.1f} req/s, {run['errors']} errors"
                    )
                    runs[server.name].append(run)
            a, f = summarise(runs["app"]), summarise(runs["floor"])
            per_round = [x / y for x, y in zip(a["rps_per_round"], f["rps_per_round"], strict=True) if y]
            results[name] = {
                "app": a,
                "floor": f,
                "ratio": a["rps"] / f["rps"] if f["rps"] else float("nan"),
                "ratio_per_round": per_round,
                "ratio_median_of_rounds": statistics.median(per_round),
            }
    finally:
        for server in servers:
            server.stop()

    print(
        f"\nitems and tiles benchmark: {zones} zones, {args.workers} sync workers each, {args.concurrency} clients, "
        f"{args.rounds}×{args.duration:g} s per server and case (alternating), limit {args.limit}"
    )
    header = (
        f"{'case':<6} {'app req/s':>10} {'floor req/s':>12} {'ratio':>6} {'median':>7}  {'app p50/p95 ms':>15}  "
        f"{'floor p50/p95 ms':>17}  {'worker CPU ms/req':>18}"
    )
    print(header)
    print(f"{'':<6} {'':>10} {'':>12} {'':>6} {'round':>7}  {'':>15}  {'':>17}  {'app/floor':>18}")
    print("-" * len(header))
    below = errors = False
    for name, res in results.items():
        a, f = res["app"], res["floor"]
        res["meets_target"] = ok = res["ratio_median_of_rounds"] >= TARGET and a["errors"] == 0 and f["errors"] == 0
        below |= not ok
        errors |= bool(a["errors"] or f["errors"])
        cpu = f"{a['worker_cpu_ms_per_request']:.2f}/{f['worker_cpu_ms_per_request']:.2f}"
        print(
            f"{name:<6} {a['rps']:>10.1f} {f['rps']:>12.1f} {res['ratio']:>6.2f} {res['ratio_median_of_rounds']:>7.2f}  "
            f"{a['p50_ms']:>7.1f}/{a['p95_ms']:<7.1f}  {f['p50_ms']:>8.1f}/{f['p95_ms']:<8.1f}  {cpu:>18}"
            + ("" if ok else f"  below {TARGET}" if a["errors"] == f["errors"] == 0 else "  ERRORS")
        )
    print(
        "ratio: app req/s ÷ floor req/s over all rounds; median round: median of the per-round ratios "
        "(each app run paired with the floor run next to it), which background load disturbs least; "
        f"target ≥ {TARGET} on the median."
    )
    for name, res in results.items():
        print(f"  {name} per round: " + " ".join(f"{x:.2f}" for x in res["ratio_per_round"]))
        if res["app"]["errors"] or res["floor"]["errors"]:
            print(f"  {name} errors: app {res['app']['errors']}, floor {res['floor']['errors']}")

    OUT.mkdir(parents=True, exist_ok=True)
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "zones": zones,
        "settings": {k: v for k, v in vars(args).items() if k not in ("skip_load", "check")},
        "target_ratio": TARGET,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "postgres": pg, "postgis": postgis},
        "cases": results,
    }
    (OUT / "items.json").write_text(json.dumps(report, indent=2))
    print(f"\nwritten {OUT / 'items.json'}")
    return 2 if errors else 1 if below and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
