"""The import page: upload a file, inspect it, dry-run it, import it (as a job for large files), download
its rejected rows; the user's import log and undo (a job too).

Uploads are kept in UPLOAD_DIR, one folder per upload named by a random id
and tied to the user who sent it; every step unpacks it afresh into a
temporary folder, so nothing half-checked is ever reused.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify, render_template, request, stream_with_context, url_for
from flask_babel import gettext

from app.auth import Forbidden, current_user, page_for_users, require_editor, require_user
from app.db import db
from app.edit import editor_config
from app.errors import ApiError, NotFound, ValidationFailed
from app.features import EditConflict, json_body
from app.messages import localize_file_error, localize_report, translate_problems, translate_sentence
from app.ogc import find_layer
from app.pages import current_lang
from exporters.write import spreadsheet_csv
from importers.encodings import LEGACY_ENCODINGS
from importers.rejections import rejected_table
from importers.run import ID_KEY, ImportFailed, ImportOptions, ImportReport, import_file, inspect_file, unmatched_json
from importers.sources import EXTENSIONS, ImportFileError, prepare_source
from layers import editable_layers, get_layer
from layers.edit import set_actor
from layers.imports import (
    HEARTBEAT_SECONDS,
    UndoRefused,
    create_job,
    get_job,
    import_log,
    logged_import,
    shown_file_name,
    undo_import,
    update_job,
)

bp = Blueprint("imports", __name__)

UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
KEEP_UPLOADS_SECONDS = 24 * 3600
# Beside the file in its folder: a stored file's name never starts with a dot, so no upload is called these.
UPLOAD_META = ".upload.json"
REJECTED_ROWS = ".rejected.json"  # every row the last run rejected, as the importer wrote them
ENCODINGS = [("utf-8", "UTF-8"), ("cp1258", "Windows-1258"), ("tcvn3", "TCVN3 (ABC)"), ("vni", "VNI")]


class ImportRejected(ApiError):
    status = 422
    code = "ImportFailed"


def upload_root() -> Path:
    root = Path(current_app.config.get("UPLOAD_DIR") or Path(tempfile.gettempdir()) / "vung-uploads")
    root.mkdir(parents=True, exist_ok=True)
    return root


def forget_old_uploads(root: Path) -> None:
    limit = time.time() - KEEP_UPLOADS_SECONDS
    for folder in root.iterdir():
        if folder.is_dir() and folder.stat().st_mtime < limit:
            shutil.rmtree(folder, ignore_errors=True)


def require_importer() -> None:
    if not require_user().may_edit_some_layer():
        raise Forbidden(gettext("Only editors import files."))


@bp.get("/import")
@page_for_users
def import_page():
    require_importer()
    lang = current_lang()
    config = editor_config(lang)
    config.update(
        maxUploadBytes=current_app.config["MAX_CONTENT_LENGTH"],
        encodings=[{"value": v, "label": label} for v, label in ENCODINGS],
        accepted=list(EXTENSIONS),
    )
    return render_template("import.html", config=config, lang=lang, user=current_user())


@bp.post("/import/upload")
def upload():
    require_importer()
    sent = request.files.get("file")  # too large: Werkzeug answers 413 before this
    if sent is None or not sent.filename:
        raise ApiError(gettext("Send the file in the form field 'file'."))
    # importers.sources judges the file (and says what a lone .shp lacks); names are kept safe for the disk.
    suffix = re.sub(r"[^\w.]+", "_", Path(sent.filename).suffix.lower())[:16]
    root = upload_root()
    forget_old_uploads(root)
    upload_id = secrets.token_urlsafe(18)
    folder = root / upload_id
    folder.mkdir()
    # The user's own name, so messages speak of their file; only safe characters.
    stem = re.sub(r"[^\w.-]+", "_", Path(sent.filename).stem).strip("._")[:80] or "upload"
    stored = folder / f"{stem}{suffix}"
    sent.save(stored)
    filename = shown_file_name(sent.filename)
    (folder / UPLOAD_META).write_text(json.dumps({"user": current_user().id, "filename": filename}))
    with tempfile.TemporaryDirectory(prefix="vung-inspect-") as workdir:
        try:
            source = prepare_source(stored, Path(workdir))
        except ImportFileError as err:
            shutil.rmtree(folder, ignore_errors=True)
            raise ImportRejected(localize_file_error(err.code, err.message), code=err.code) from None
    return jsonify({"upload": upload_id, "filename": filename, "format": source.format,
                    "layers": source.layers, "notes": [translate_sentence(n) for n in source.notes]}), 201


def stored_upload(upload_id: str) -> Path:
    """The user's own upload, or 404: ids are not guessable, and not shared."""
    folder = upload_root() / upload_id if UPLOAD_ID.match(upload_id) else None
    meta = folder / UPLOAD_META if folder else None
    if meta is None or (read_json(meta) or {}).get("user") != current_user().id:
        raise NotFound(gettext("No such upload (uploads are kept for a day)."))
    return next(p for p in folder.iterdir() if not p.name.startswith("."))


def options_from(body: dict, with_run_flags: bool) -> ImportOptions:
    def text_or_none(name: str) -> str | None:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise ValidationFailed(f"{name} must be text", errors=[{"field": name, "message": "must be text"}])
        return value.strip()[:500] or None if value else None

    mapping = body.get("mapping") or {}
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise ValidationFailed("mapping must map column names to field names", errors=[{"field": "mapping", "message": "must be an object of strings"}])
    values = body.get("values") or {}
    if not isinstance(values, dict) or not all(
        isinstance(pairs, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in pairs.items())
        for pairs in values.values()
    ):
        raise ValidationFailed("values must map field names to {file text: value} objects",
                               errors=[{"field": "values", "message": "must be an object of objects of strings"}])
    constants = body.get("set") or {}
    if not isinstance(constants, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in constants.items()):
        raise ValidationFailed("set must map field names to the text every row gets",
                               errors=[{"field": "set", "message": "must be an object of strings"}])
    encoding = text_or_none("encoding")
    if encoding and encoding not in {v for v, _ in ENCODINGS} | set(LEGACY_ENCODINGS):
        raise ValidationFailed(f"unknown encoding {encoding!r}", errors=[{"field": "encoding", "message": "unknown encoding"}])
    cfg = current_app.config
    options = ImportOptions(
        source_layer=text_or_none("source_layer"), crs=text_or_none("crs"), encoding=encoding, mapping=mapping, values=values,
        constants=constants,
        username=current_user().username, working_area=cfg["WORKING_AREA"], max_vertices=cfg["MAX_VERTICES"],
        districts=current_user().district_scope,
    )
    if with_run_flags:
        options.dry_run = body.get("dry_run") is not False
        options.skip_invalid = body.get("skip_invalid") is True
        options.repair = body.get("repair") is True
        options.key = text_or_none("key")
    return options


def upload_step(upload_id: str):
    """The user's upload, the step's JSON body and the layer it names, which the user must be able to edit."""
    require_importer()
    path = stored_upload(upload_id)
    body = json_body()
    layer_id = body.get("layer")
    if not isinstance(layer_id, str):
        raise ValidationFailed(gettext("Name the target layer."), errors=[{"field": "layer", "message": "is required"}])
    layer = find_layer(layer_id)
    require_editor(layer)
    return path, body, layer


@bp.post("/import/<upload_id>/inspect")
def inspect(upload_id: str):
    path, body, layer = upload_step(upload_id)
    with tempfile.TemporaryDirectory(prefix="vung-inspect-") as workdir:
        try:
            result = inspect_file(layer, path, options_from(body, with_run_flags=False), Path(workdir))
        except ImportFailed as err:
            raise ImportRejected(translate_sentence(str(err))) from None
    result["notes"] = [translate_sentence(n) for n in result["notes"]]
    return current_app.response_class(json.dumps(result, ensure_ascii=False, default=str), mimetype="application/json")


@bp.post("/import/<upload_id>/run")
def run(upload_id: str):
    path, body, layer = upload_step(upload_id)
    options = options_from(body, with_run_flags=True)
    options.file_name = (read_json(path.parent / UPLOAD_META) or {}).get("filename")
    if options.key and options.key not in {ID_KEY} | {f.name for f in layer.writable}:
        raise ValidationFailed(gettext("unknown key field %(key)s", key=repr(options.key)), errors=[{"field": "key", "message": "unknown field"}])
    if body.get("background") is True and not options.dry_run:
        return start_job("import", layer, lambda progress, on_phase: report_json(run_now(layer, path, options, progress, on_phase)))
    try:
        report = run_now(layer, path, options)
    except ImportFailed as err:
        raise ImportRejected(translate_sentence(str(err))) from None
    return jsonify(localize_report(report_json(report), layer))


def run_now(layer, path: Path, options: ImportOptions, progress=None, on_phase=None) -> ImportReport:
    (path.parent / REJECTED_ROWS).unlink(missing_ok=True)  # an earlier run's, which this one replaces
    with tempfile.TemporaryDirectory(prefix="vung-import-") as workdir:
        with db().begin() as conn:
            report = import_file(conn, layer, path, options, Path(workdir), progress, on_phase)
    keep_rejected(path, layer, report)
    return report


def keep_beside(path: Path, name: str, data: dict) -> None:
    """A run's record beside its upload; the run is over (perhaps committed), so a failure loses only the record."""
    try:
        (path.parent / name).write_text(json.dumps(data, ensure_ascii=False))
    except OSError as err:
        current_app.logger.warning("could not keep %s of upload %s: %s", name, path.parent.name, err)


LOG_SHOWN = 20


@bp.get("/import/log")
def own_imports():
    """The user's own committed imports, newest first: what the page offers to undo."""
    require_importer()
    user = current_user()
    mine = [layer.id for layer in editable_layers() if user.may_edit_layer(layer.id)]
    logged = db().read(import_log, user.username, LOG_SHOWN, mine)
    return jsonify([{k: v.isoformat() if isinstance(v, datetime) else v for k, v in entry.items()} for entry in logged])


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # absent, or being written
        return None


@bp.post("/import/log/<int:import_id>/undo")
def undo(import_id: int):
    """Take back one of the user's imports: what it added is deleted, what it updated goes back to the
    version before it, except features changed since (counted, left as they are). With {"background":
    true} it runs as a job, as a large import does."""
    require_importer()
    logged = db().read(logged_import, import_id)
    layer = get_layer(logged["layer"]) if logged else None
    if layer is None or (logged["username"] or "").lower() != current_user().username.lower():
        raise NotFound(translate_sentence("No such import of yours."))
    user = require_editor(layer)
    if logged["undone_at"] is not None:  # said at once; undo_import checks again under a lock
        raise EditConflict(translate_sentence(refusal(UndoRefused("it has been undone already"))))
    background = (json_body() if request.content_length else {}).get("background") is True

    def work(progress=None, on_phase=None) -> dict:
        if on_phase:
            on_phase("undoing")
        with db().begin() as conn:
            set_actor(conn, user.username, "restore")
            return undo_import(conn, import_id, user.username, user.district_scope)

    if background:
        return start_job("undo", layer, work)
    try:
        return jsonify(work())
    except UndoRefused as err:
        raise EditConflict(translate_sentence(refusal(err))) from None


def refusal(err: UndoRefused) -> str:
    return f"The import cannot be undone: {err}."


def keep_rejected(path: Path, layer, report: ImportReport) -> None:
    """Every row the run rejected, beside the upload, for rejected_rows: the report sends only the first."""
    if report.rejected:
        keep_beside(path, REJECTED_ROWS, {"layer": layer.id, "rejected": report.rejected})


@bp.get("/import/<upload_id>/rejected.csv")
def rejected_rows(upload_id: str):
    """Every row the upload's last run rejected, as CSV in the reader's language."""
    require_importer()
    path = stored_upload(upload_id)
    saved = read_json(path.parent / REJECTED_ROWS)
    if saved is None:
        raise NotFound(gettext("The last run of this upload rejected no row."))
    layer = get_layer(saved["layer"])
    headers = (gettext("row"), gettext("reason"), gettext("longitude"), gettext("latitude"))
    rows = rejected_table(saved["rejected"], reason=lambda text: translate_problems(text, layer))
    chunks = (chunk.encode("utf-8") for chunk in spreadsheet_csv(headers, rows))
    # Streamed: translating the reasons needs the request's language, so the context goes along.
    return Response(stream_with_context(chunks), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(path.stem)}-rejected.csv",
        "Cache-Control": "no-store"})


def report_json(report: ImportReport) -> dict:
    return {
        "dry_run": report.dry_run, "committed": report.committed, "rows_read": report.rows_read,
        "would_load": report.would_load, "inserted": report.inserted, "updated": report.updated, "unchanged": report.unchanged,
        "would_update": report.would_update, "would_insert": report.would_insert,
        "rejected": report.rejected[:1000], "rejected_total": len(report.rejected),
        "mapping": report.mapping, "set": report.constants, "unknown_columns": report.unknown_columns, "notes": report.notes,
        "unmatched": unmatched_json(report.unmatched), "import": report.import_id,
    }


def start_job(kind: str, layer, work):
    """Run `work(progress, on_phase)`, which returns its report, beside the request (a large import or undo
    outlasts a worker's timeout); the client polls the job."""
    job_id = secrets.token_urlsafe(18)
    with db().begin() as conn:
        create_job(conn, job_id, current_user().id, layer, kind)
    app = current_app._get_current_object()
    threading.Thread(target=run_job, args=(app, job_id, work, JOB_FAILED[kind]), daemon=True).start()
    return jsonify({"job": job_id, "status": url_for("imports.job_status", job_id=job_id)}), 202


JOB_FAILED = {  # what a job says of an error it did not expect: its transaction was rolled back
    "import": "The import failed on the server; nothing was written.",
    "undo": "The undo failed on the server; nothing was changed.",
}


def run_job(app, job_id: str, work, failure: str = JOB_FAILED["import"]) -> None:
    with app.app_context():
        database = db()  # held here: the heartbeat's thread has no app context
        done = {"rows": 0}

        def record(**values) -> None:
            # Progress goes through its own autocommit connection: the work's transaction is not visible yet.
            database.read(lambda conn: update_job(conn, job_id, **values))

        def progress(rows: int) -> None:
            done["rows"] += rows
            record(rows_done=done["rows"])

        def on_phase(name: str, total: int | None = None) -> None:
            record(phase=name, **({"rows_total": total} if total is not None else {}))

        finished = threading.Event()
        threading.Thread(target=heartbeat, args=(record, finished), daemon=True).start()
        try:
            report = work(progress, on_phase)
            record(state="done", phase="done", report=json.dumps(report, ensure_ascii=False, default=str))
        except ImportFailed as err:
            record(state="failed", error=str(err))
        except UndoRefused as err:
            record(state="failed", error=refusal(err))  # translated when the job is read
        except Exception:
            app.logger.exception("job %s failed", job_id)
            record(state="failed", error=failure)
        finally:
            finished.set()


def heartbeat(record, finished: threading.Event) -> None:
    """Touch the job while it runs: long phases send no progress, and silence must mean a lost worker."""
    while not finished.wait(HEARTBEAT_SECONDS):
        try:
            record()
        except Exception:  # a missed beat is not worth stopping the import for
            pass


@bp.get("/import/jobs/<job_id>")
def job_status(job_id: str):
    require_importer()
    job = db().read(get_job, job_id, current_user().id) if UPLOAD_ID.match(job_id) else None
    if job is None:
        raise NotFound(gettext("No such import job."))
    # Stored as the importer wrote it; shown in the language of whoever looks.
    if job.get("report") and job["kind"] == "import":
        job = {**job, "report": localize_report(job["report"], get_layer(job["layer"]))}
    if job.get("error"):
        job = {**job, "error": translate_sentence(job["error"])}
    return jsonify(job)
