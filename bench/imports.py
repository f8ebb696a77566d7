"""Import benchmark: `flask import` against `ogr2ogr -f PostgreSQL` of the same file, in the same run.

Builds (once, cached in bench/out/) GeoPackages of N synthetic farming zones
exported from the items benchmark's database (BENCH_DATABASE_URL, default
.../vung_bench), then loads each file into a separate database
(BENCH_IMPORT_DATABASE_URL, default .../vung_bench_import) in rotating order
with the app's importer, with ogr2ogr (PG_USE_COPY), and "by hand" (ogr2ogr,
then one INSERT through the layer's own derivations: the importer's rows,
area, place and history without its checks), from an emptied layer each time.
Reports the median wall time and peak memory (max RSS of the child process)
and the ratios, for every size, so that memory growth with the file's size
shows. Writes bench/out/imports.json.

    .venv/bin/python bench/imports.py [--sizes 10000,100000] [--rounds 3] [--profile] [--check]

--profile adds a run of the importer in-process with its phases timed (its
functions wrapped here; the app's code is not changed) and the INSERT's cost
split on the database side (variants in rolled-back transactions).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from items import DEFAULT_URL, Server, local_only, log, prepare_database  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
VENV_BIN = Path(sys.executable).parent
DEFAULT_IMPORT_URL = "postgresql://postgres@127.0.0.1:5432/vung_bench_import"
LAYER = "farming_zones"
OGR_TABLE = "ogr_zones"
FIELDS = ("name", "crop", "certification", "status", "season", "owner")
TARGET_TIME = 1.5  # app ÷ ogr2ogr, wall time
RUN_TIMEOUT = 900  # seconds, per run
MAX_SIZE = 2_000_000
SOURCE_ZONES = 100_000  # what bench/items.py keeps in its database


# --- database -----------------------------------------------------------------


def pg_conninfo(url: str) -> str:
    """libpq key=value string for GDAL's PG: driver (only simple local URLs)."""
    parsed = psycopg2.extensions.parse_dsn(url)
    return " ".join(f"{k}={v}" for k, v in parsed.items())


def execute(url: str, *statements: str):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            result = None
            for statement in statements:
                cur.execute(statement)
                result = cur.fetchall() if cur.description else None
            return result
    finally:
        conn.close()


def flask_cmd(url: str, *args: str) -> None:
    env = dict(os.environ, DATABASE_URL=url)
    subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "app", *args],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=1800,
        stdout=subprocess.DEVNULL,
    )


def prepare_target(url: str) -> None:
    flask_cmd(url, "db", "create")
    flask_cmd(url, "db", "upgrade")
    flask_cmd(url, "sample", "load", "--if-empty")


def reset(url: str) -> None:
    """Every run starts from an empty layer, its history and import log gone, no ogr2ogr table, a checkpoint."""
    # TRUNCATE, not DELETE: the history trigger would record 100,000 deletions first.
    execute(
        url,
        f"TRUNCATE {LAYER}",
        f"DELETE FROM feature_history WHERE layer = '{LAYER}'",
        f"DELETE FROM imports WHERE layer = '{LAYER}'",
        f"DROP TABLE IF EXISTS {OGR_TABLE}",
    )
    execute(url, f"VACUUM ANALYZE {LAYER}", "VACUUM ANALYZE feature_history", "CHECKPOINT")


def counts(url: str) -> dict:
    zones, derived, history, has_ogr = execute(
        url,
        f"SELECT (SELECT count(*) FROM {LAYER}), (SELECT count(*) FROM {LAYER} WHERE area_ha > 0), "
        f"(SELECT count(*) FROM feature_history WHERE layer = '{LAYER}'), to_regclass('{OGR_TABLE}') IS NOT NULL",
    )[0]
    ogr = execute(url, f"SELECT count(*) FROM {OGR_TABLE}")[0][0] if has_ogr else 0
    return {"zones": zones, "with_area": derived, "history": history, "ogr_rows": ogr}


# --- the file -----------------------------------------------------------------


def source_zones(url: str) -> int:
    try:
        return execute(url, f"SELECT count(*) FROM {LAYER}")[0][0]
    except psycopg2.Error:  # no database or no table yet
        return 0


def build_gpkg(source_url: str, size: int, biggest: int) -> Path:
    path = OUT / f"zones_{size}.gpkg"
    if path.exists():
        log(f"{path.name}: cached")
        return path
    if source_zones(source_url) < biggest:
        # Never shrink the items benchmark's set (100,000 by default): only grow it.
        prepare_database(source_url, max(biggest, SOURCE_ZONES))
    tmp = path.with_name(f"zones_{size}.tmp.gpkg")
    tmp.unlink(missing_ok=True)
    sql = f"SELECT {', '.join(FIELDS)}, geom FROM {LAYER} ORDER BY id LIMIT {size}"
    log(f"{path.name}: exporting {size} zones with ogr2ogr")
    subprocess.run(
        [
            "ogr2ogr",
            "-f",
            "GPKG",
            str(tmp),
            f"PG:{pg_conninfo(source_url)}",
            "-sql",
            sql,
            "-nln",
            LAYER,
            "-nlt",
            "MULTIPOLYGON",
            "-a_srs",
            "EPSG:4326",
        ],
        check=True,
        timeout=1800,
    )
    tmp.rename(path)  # only a complete file is ever cached
    return path


# --- measured runs --------------------------------------------------------------


def measured(cmd: list[str], env: dict, log_path: Path) -> dict:
    """Wall time and peak RSS (kB) of one child process and what it waited for."""
    with open(log_path, "w") as out:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = start + RUN_TIMEOUT
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise RuntimeError(f"{cmd[0]} ran over {RUN_TIMEOUT} s; see {log_path}")
            time.sleep(0.005)
        wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd[:4])}... exited {proc.returncode}; see {log_path}")
    return {
        "seconds": round(wall, 3),
        "max_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        "load_1min": round(os.getloadavg()[0], 2),
    }


def run_app(url: str, path: Path) -> dict:
    env = dict(os.environ, DATABASE_URL=url)
    cmd = [str(VENV_BIN / "flask"), "--app", "app", "import", LAYER, str(path), "--user", "bench"]
    return measured(cmd, env, OUT / "import-app.log")


def run_ogr(url: str, path: Path) -> dict:
    cmd = [
        "ogr2ogr",
        "-f",
        "PostgreSQL",
        f"PG:{pg_conninfo(url)}",
        str(path),
        "-nln",
        OGR_TABLE,
        "-overwrite",
        "-lco",
        "GEOMETRY_NAME=geom",
        "--config",
        "PG_USE_COPY",
        "YES",
    ]
    return measured(cmd, dict(os.environ), OUT / "import-ogr.log")


def run_by_hand(url: str, path: Path) -> dict:
    """The importer's result without it: ogr2ogr into a scratch table, then one INSERT through the layer's triggers.

    The layer measures area (a generated column), its row trigger derives
    place, and its statement trigger writes history; nothing
    is checked or reported. Wall time of both steps; peak memory is ogr2ogr's
    (the INSERT runs in the server).
    """
    figures = run_ogr(url, path)
    start = time.monotonic()
    execute(
        url,
        "SELECT set_config('vung.user', 'bench', false)",
        f"INSERT INTO {LAYER} ({', '.join(FIELDS)}, geom) SELECT {', '.join(FIELDS)}, ST_Multi(geom) FROM {OGR_TABLE}",
        f"DROP TABLE {OGR_TABLE}",
    )
    figures["seconds"] = round(figures["seconds"] + time.monotonic() - start, 3)
    return figures


class ImportPage:
    """The app under gunicorn (one worker), driven as the import page drives it with an editor's token:
    upload, then one run. No interpreter start-up is paid per import."""

    USER = "bench-importer"

    def __init__(self, url: str):
        env = dict(os.environ, DATABASE_URL=url)
        flask = [str(VENV_BIN / "flask"), "--app", "app"]
        # The user stays from an earlier run of the benchmark, or is created now.
        subprocess.run([*flask, "users", "create", self.USER, "--role", "editor", "--password", secrets.token_urlsafe(16)],
                       cwd=ROOT, env=env, capture_output=True, timeout=120)
        made = subprocess.run([*flask, "tokens", "create", self.USER, "--name", "import benchmark"],
                              cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120)
        self.token = made.stdout.split()[-1]
        self.headers = {"Authorization": f"Bearer {self.token}"}
        # Files as large as the benchmark makes are accepted (the app takes 50 MB by default).
        self.server = Server("import-page", "app:create_app()", 1, url, "--timeout", str(RUN_TIMEOUT),
                             "--env", "VUNG_MAX_UPLOAD_MB=4096")
        self.server.wait_ready("/healthz")
        self.base = f"http://127.0.0.1:{self.server.port}"

    def stop(self, url: str) -> None:
        """Stop the server and revoke the benchmark's token."""
        self.server.stop()
        subprocess.run([str(VENV_BIN / "flask"), "--app", "app", "tokens", "revoke", self.token[:12]],
                       cwd=ROOT, env=dict(os.environ, DATABASE_URL=url), capture_output=True, timeout=120)

    def worker_status(self) -> Path:
        worker = Path(f"/proc/{self.server.proc.pid}/task/{self.server.proc.pid}/children").read_text().split()[0]
        return Path(f"/proc/{worker}")

    def run(self, url: str, path: Path) -> dict:
        # The worker lives on between runs: reset its peak memory so that this run's own is read.
        (self.worker_status() / "clear_refs").write_text("5")
        start = time.monotonic()
        upload_id = self.upload(path)
        run = requests.post(f"{self.base}/import/{upload_id}/run", headers=self.headers, timeout=RUN_TIMEOUT,
                            json={"layer": LAYER, "dry_run": False})
        run.raise_for_status()
        wall = time.monotonic() - start
        if not run.json()["committed"]:
            raise RuntimeError(f"the import page's run did not commit: {run.text[:300]}")
        peak = next(line for line in (self.worker_status() / "status").read_text().splitlines() if line.startswith("VmHWM"))
        return {"seconds": round(wall, 3), "max_rss_mb": round(int(peak.split()[1]) / 1024, 1), "cpu_seconds": None,
                "load_1min": round(os.getloadavg()[0], 2)}

    def upload(self, path: Path) -> str:
        """POST the file as the page's form does, streamed from disk: read into this process, it would
        swell the memory every later child starts from, and so their measured peaks."""
        boundary = secrets.token_hex(16)
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode()
        tail = f"\r\n--{boundary}--\r\n".encode()

        def body():
            yield head
            with path.open("rb") as file:
                while chunk := file.read(1 << 20):
                    yield chunk
            yield tail

        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=RUN_TIMEOUT)
        try:
            headers = {**self.headers, "Content-Type": f"multipart/form-data; boundary={boundary}",
                       "Content-Length": str(len(head) + path.stat().st_size + len(tail))}
            conn.request("POST", "/import/upload", body=body(), headers=headers)
            answer = conn.getresponse()
            text = answer.read().decode()
        finally:
            conn.close()
        if answer.status != 201:
            raise RuntimeError(f"upload answered {answer.status}: {text[:300]}")
        return json.loads(text)["upload"]


CASES = {"app": run_app, "ogr2ogr": run_ogr, "by hand": run_by_hand}


def check_loaded(url: str, case: str, size: int) -> None:
    got = counts(url)
    if case in ("app", "by hand", "import page") and not (got["zones"] == got["with_area"] == got["history"] == size):
        raise RuntimeError(f"{case} run loaded {got}, expected {size} zones with area and history")
    if case == "ogr2ogr" and got["ogr_rows"] != size:
        raise RuntimeError(f"ogr2ogr run loaded {got['ogr_rows']} rows, expected {size}")


# --- profile (in a child process: the app's functions wrapped, not changed) -------

PROFILE_CHILD = r"""
import json, sys, time
from collections import defaultdict
t0 = time.perf_counter()
spent = defaultdict(float)

def timed(module, name, key=None):
    original = getattr(module, name)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[key or name] += time.perf_counter() - start
    setattr(module, name, wrapper)

def timed_generator(module, name, key):
    original = getattr(module, name)
    def wrapper(*args, **kwargs):
        it = iter(original(*args, **kwargs))
        while True:
            start = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                spent[key] += time.perf_counter() - start
                return
            spent[key] += time.perf_counter() - start
            yield item
    setattr(module, name, wrapper)

from app import create_app
import importers.run as run
import layers.imports as imports
app = create_app()
spent["start-up (imports, app)"] = time.perf_counter() - t0
timed_generator(run, "arrow_batches", "read file (GDAL -> Arrow batches)")
timed(run, "convert_batch", "map + check values (Python, per column)")
timed(run, "batch_csv", "CSV + EWKB of batches")
timed(run, "stage_batch", "_stage_batch")
timed(run, "stage_file", "_stage_file")
timed(run, "file_info", "file info, CRS, mapping")
timed(run, "check_staged", "_checks")
timed(run, "stage_places", "district/commune join")
timed(imports, "drop_indexes_for_load", "_drop")
timed(imports, "build_indexes", "index builds after a big load")
timed(run, "save_staged", "_insert")
timed(run, "run_import", "_run_import")
timed(run, "import_file", "_import_file")
import app.cli as app_cli
app_cli.import_file = run.import_file
with app.app_context():
    result = app.test_cli_runner().invoke(args=["import", sys.argv[1], sys.argv[2], "--user", "bench"])
if result.exit_code:
    print(result.output, repr(result.exception), file=sys.stderr)
    sys.exit(result.exit_code)
total = time.perf_counter() - t0
s = dict(spent)
out = {k: v for k, v in s.items() if not k.startswith("_")}
out["other staging Python (WKB, CRS)"] = s["_stage_batch"] - s.get("map + check values (Python, per column)", 0) \
    - s.get("CSV + EWKB of batches", 0)
# The COPY streams while Python reads: what the stage took beyond Python's own work is the wait for the server.
out["COPY: waiting for the server beyond Python's work"] = s["_stage_file"] - s["_stage_batch"] \
    - s.get("read file (GDAL -> Arrow batches)", 0)
out["checks in PostGIS (stage)"] = s["_checks"] - s.get("district/commune join", 0)
out["INSERT + history (one statement)"] = s["_insert"] - s.get("_drop", 0) - s.get("index builds after a big load", 0)
out["commit, report, exit"] = total - s["_import_file"] - out["start-up (imports, app)"]
out["other in import_file/run_import"] = s["_import_file"] - sum(
    v for k, v in out.items() if k not in ("start-up (imports, app)", "commit, report, exit"))
out["total"] = total
print(json.dumps({k: round(v, 3) for k, v in out.items()}))
"""

STAGE_SQL = (
    "INSERT INTO import_stage (row_no, {fields}, geom) "
    "SELECT row_number() OVER (ORDER BY fid), {fields}, ST_Multi(geom) FROM {ogr}"
)
PLAIN_INSERT = (
    f"INSERT INTO {LAYER} ({', '.join(FIELDS)}, geom) "
    f"SELECT {', '.join(FIELDS)}, ST_Multi(geom) FROM import_stage WHERE NOT rejected ORDER BY row_no"
)
# Every secondary index of the layer (read from the catalogue inside the variant's transaction) and its CHECK.
BARE_TABLE = [
    f"ALTER TABLE {LAYER} DROP CONSTRAINT ck_{LAYER}_geom_valid",
    f"""DO $$ DECLARE i text; BEGIN
      FOR i IN SELECT indexrelid::regclass::text FROM pg_index
                WHERE indrelid = '{LAYER}'::regclass AND NOT indisprimary AND NOT indisunique
      LOOP EXECUTE 'DROP INDEX ' || i; END LOOP; END $$""",
]
# (label, what to run, statements first in the same transaction, session_replication_role)
VARIANTS = [
    ("app: save_staged (places join, area, history; an empty layer's indexes dropped and built again)", "app", [], ""),
    ("the same with every trigger off, so no history (session_replication_role = replica)", "app", [], "replica"),
    ("bare INSERT of the rows: no triggers, no place/history (area is a generated column)", "plain", [], "replica"),
    ("bare INSERT, the table without its secondary indexes and CHECK", "plain", BARE_TABLE, "replica"),
    ("plain INSERT: the row trigger derives place, the statement trigger writes history", "plain", [], ""),
]
TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu(pid: int) -> float | None:
    """CPU seconds of a PostgreSQL backend on this machine (None if it is elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


def insert_variants(url: str, rounds: int) -> list[dict]:
    """The INSERT's cost split, each variant in a transaction that is rolled back.

    The stage is filled from the ogr2ogr table (the same rows as the file), so the
    variants differ only in how the layer's rows, derived values and history are
    written. Wall time and the backend's own CPU time (steadier on a busy machine),
    medians over the rounds, variants in rotating order.
    """
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import create_engine, text

    from importers.run import ImportOptions
    from layers import REGISTRY
    from layers.edit import WorkingArea, geometry_rules, set_actor
    from layers.imports import create_stage, save_staged, stage_places

    layer = REGISTRY[LAYER]
    engine = create_engine(url)
    figures = {label: [] for label, *_ in VARIANTS}
    for r in range(rounds):
        for label, kind, before, role in VARIANTS[r % len(VARIANTS) :] + VARIANTS[: r % len(VARIANTS)]:
            with engine.connect() as conn:
                tx = conn.begin()
                try:
                    pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
                    set_actor(conn, "bench")
                    create_stage(conn, layer, geometry_rules(layer, WorkingArea(*ImportOptions().working_area)))
                    conn.execute(text(STAGE_SQL.format(fields=", ".join(FIELDS), ogr=OGR_TABLE)))
                    conn.execute(text("ANALYZE import_stage"))
                    for statement in before:
                        conn.execute(text(statement))
                    if role:
                        conn.execute(text(f"SET LOCAL session_replication_role = {role}"))
                    cpu0, start = backend_cpu(pid), time.perf_counter()
                    if kind == "app":  # as the importer does: the places, then the load
                        stage_places(conn)
                        rows = save_staged(conn, layer)[1]
                    else:
                        rows = conn.execute(text(PLAIN_INSERT)).rowcount
                    seconds, cpu1 = time.perf_counter() - start, backend_cpu(pid)
                    history = conn.execute(
                        text(f"SELECT count(*) FROM feature_history WHERE layer = '{LAYER}'")
                    ).scalar()
                finally:
                    tx.rollback()
            cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
            figures[label].append({"seconds": round(seconds, 3), "backend_cpu": cpu, "rows": rows, "history": history})
            log(f"insert variant, round {r + 1}: {label}: {seconds:.2f} s, backend CPU {cpu or 0:.2f} s")
    engine.dispose()
    results = []
    for label, runs in figures.items():
        cpus = [x["backend_cpu"] for x in runs if x["backend_cpu"] is not None]
        results.append(
            {
                "variant": label,
                "seconds": round(median(runs, "seconds"), 3),
                "backend_cpu_seconds": round(statistics.median(cpus), 2) if cpus else None,
                "rows": runs[-1]["rows"],
                "history_rows": runs[-1]["history"],
                "runs": runs,
            }
        )
    return results


def profile(url: str, path: Path, rounds: int) -> dict:
    reset(url)
    env = dict(os.environ, DATABASE_URL=url)
    proc = subprocess.run(
        [sys.executable, "-c", PROFILE_CHILD, LAYER, str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    if proc.returncode:
        raise RuntimeError(f"profile run failed: {proc.stderr[-2000:]}")
    phases = json.loads(proc.stdout.strip().splitlines()[-1])
    reset(url)
    run_ogr(url, path)
    variants = insert_variants(url, rounds)
    reset(url)
    return {"file": path.name, "phases": phases, "insert_variants": variants}


# --- main ---------------------------------------------------------------------


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def measure_size(url: str, size: int, path: Path, cases: dict, rounds: int) -> dict:
    """Every case on one file, in rotating order, from an emptied layer each time; the medians and ratios."""
    runs = {case: [] for case in cases}
    for r in range(rounds):
        order = list(cases)[r % len(cases):] + list(cases)[:r % len(cases)]
        for case in order:
            reset(url)
            figures = cases[case](url, path)
            check_loaded(url, case, size)
            runs[case].append(figures)
            log(f"{size} zones, round {r + 1}, {case}: {figures['seconds']:.2f} s, {figures['max_rss_mb']:.0f} MB")
    app_s, ogr_s = median(runs["app"], "seconds"), median(runs["ogr2ogr"], "seconds")
    app_m, ogr_m = median(runs["app"], "max_rss_mb"), median(runs["ogr2ogr"], "max_rss_mb")
    page_s = median(runs["import page"], "seconds")
    return {
        "zones": size,
        "file_mb": round(path.stat().st_size / 2**20, 1),
        "app_seconds": app_s,
        "ogr2ogr_seconds": ogr_s,
        "time_ratio": round(app_s / ogr_s, 2),
        "app_max_rss_mb": app_m,
        "ogr2ogr_max_rss_mb": ogr_m,
        "memory_ratio": round(app_m / ogr_m, 2),
        "app_cpu_seconds": median(runs["app"], "cpu_seconds"),
        "ogr2ogr_cpu_seconds": median(runs["ogr2ogr"], "cpu_seconds"),
        "app_rows_per_s": round(size / app_s),
        "by_hand_seconds": median(runs["by hand"], "seconds"),
        "by_hand_ratio": round(app_s / median(runs["by hand"], "seconds"), 2),
        "import_page_seconds": page_s,
        "import_page_ratio": round(page_s / ogr_s, 2),
        "import_page_worker_peak_mb": median(runs["import page"], "max_rss_mb"),
        "runs": runs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="zone counts of the files, comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="alternating app/ogr2ogr rounds per size")
    parser.add_argument("--profile", action="store_true", help="also time the importer's phases and INSERT variants")
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 if app/ogr2ogr time > {TARGET_TIME} at the largest size"
    )
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if not sizes or min(sizes) < 1 or max(sizes) > MAX_SIZE or not 1 <= args.rounds <= 20:
        parser.error(f"sizes in 1..{MAX_SIZE}, rounds in 1..20")

    source_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    url = os.environ.get("BENCH_IMPORT_DATABASE_URL", DEFAULT_IMPORT_URL)
    local_only(source_url)
    local_only(url)
    if source_url == url:
        sys.exit("BENCH_IMPORT_DATABASE_URL must differ from BENCH_DATABASE_URL (it is emptied before each run)")
    OUT.mkdir(parents=True, exist_ok=True)

    files = {size: build_gpkg(source_url, size, max(sizes)) for size in sizes}
    log(f"preparing {url.rsplit('/', 1)[-1]}")
    prepare_target(url)

    page = ImportPage(url)
    cases = {**CASES, "import page": page.run}
    results = []
    try:
        for size in sizes:
            results.append(measure_size(url, size, files[size], cases, args.rounds))
    finally:
        page.stop(url)
    reset(url)

    profiled = profile(url, files[max(sizes)], args.rounds) if args.profile else None

    print()
    print(
        "| zones | file MB | app s | ogr2ogr s | time ratio | by hand s | app ÷ by hand | import page s | page ÷ ogr2ogr "
        "| app peak MB | ogr2ogr peak MB | memory ratio | client CPU s app/ogr2ogr |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['zones']:,} | {r['file_mb']} | {r['app_seconds']:.2f} | {r['ogr2ogr_seconds']:.2f} | "
            f"{r['time_ratio']:.2f} | {r['by_hand_seconds']:.2f} | {r['by_hand_ratio']:.2f} | {r['import_page_seconds']:.2f} "
            f"| {r['import_page_ratio']:.2f} | {r['app_max_rss_mb']:.0f} "
            f"| {r['ogr2ogr_max_rss_mb']:.0f} | {r['memory_ratio']:.2f} | {r['app_cpu_seconds']:.2f}/{r['ogr2ogr_cpu_seconds']:.2f} |"
        )
    print(
        f"\nmedians of {args.rounds} rotating rounds; target: time ratio <= {TARGET_TIME}, app memory flat in file size; "
        "by hand: ogr2ogr, then one INSERT through the layer's triggers (the same rows, area, place, history; no checks); "
        "import page: upload and run through the app's endpoints on a running server (no start-up per import)"
    )
    if profiled:
        print(f"\nimporter phases, {profiled['file']} (in-process, functions wrapped):")
        for k, v in profiled["phases"].items():
            print(f"  {k:<48} {v:7.2f} s")
        print(f"\nINSERT variants on the database (rolled back; medians of {args.rounds}):")
        for v in profiled["insert_variants"]:
            cpu = f"{v['backend_cpu_seconds']:7.2f}" if v["backend_cpu_seconds"] is not None else "      -"
            print(f"  {v['variant']:<92} {v['seconds']:7.2f} s  backend CPU {cpu} s")

    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "rounds": args.rounds,
        "target_time_ratio": TARGET_TIME,
        "results": results,
        "profile": profiled,
    }
    (OUT / "imports.json").write_text(json.dumps(report, indent=2) + "\n")
    log(f"wrote {OUT / 'imports.json'}")
    if args.check and results[-1]["time_ratio"] > TARGET_TIME:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
