"""Let the importer derive area, place and history set-based.

Row triggers look a feature's district and commune up one row at a time; for
an import of 100,000 rows one join does the same work many times faster. In
a transaction where the importer sets vung.bulk = 'on' (transaction-local,
only set by server code) the derive and history triggers leave those columns
and the history to the importer's own statements (layers/imports.py), which
compute them exactly as the triggers do.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BULK_GUARD = "IF current_setting('vung.bulk', true) = 'on' THEN RETURN {ret}; END IF;"

FUNCTIONS = {
    "vung_derive_area": """
BEGIN
  {guard}
  NEW.area_ha := round((ST_Area(NEW.geom::geography) / 10000.0)::numeric, 4);
  RETURN NEW;
END""",
    "vung_derive_place": """
DECLARE
  p geometry;
BEGIN
  {guard}
  p := ST_PointOnSurface(NEW.geom);
  NEW.district := NULL; NEW.district_code := NULL;
  NEW.commune := NULL; NEW.commune_code := NULL;
  SELECT u.name, u.code INTO NEW.district, NEW.district_code
    FROM admin_units u
   WHERE u.level = 'district' AND u.geom && p AND ST_Intersects(u.geom, p)
     AND (u.valid_to IS NULL OR u.valid_to > current_date)
   ORDER BY u.id LIMIT 1;
  SELECT u.name, u.code INTO NEW.commune, NEW.commune_code
    FROM admin_units u
   WHERE u.level = 'commune' AND u.geom && p AND ST_Intersects(u.geom, p)
     AND (u.valid_to IS NULL OR u.valid_to > current_date)
   ORDER BY u.id LIMIT 1;
  RETURN NEW;
END""",
    "vung_record_history": """
DECLARE
  operation text := nullif(current_setting('vung.operation', true), '');
  who text := nullif(current_setting('vung.user', true), '');
BEGIN
  {guard}
  IF TG_OP = 'DELETE' THEN
    INSERT INTO feature_history (layer, feature_id, version, operation, username, properties, geom)
    VALUES (TG_TABLE_NAME, OLD.id, OLD.version + 1, 'delete', who,
            to_jsonb(OLD) - 'geom' - 'search_text', OLD.geom);
    RETURN OLD;
  END IF;
  IF operation IS DISTINCT FROM 'restore' THEN
    operation := CASE TG_OP WHEN 'INSERT' THEN 'create' ELSE 'update' END;
  END IF;
  INSERT INTO feature_history (layer, feature_id, version, operation, username, properties, geom)
  VALUES (TG_TABLE_NAME, NEW.id, NEW.version, operation, who,
          to_jsonb(NEW) - 'geom' - 'search_text', NEW.geom);
  RETURN NEW;
END""",
}
# AFTER triggers return NULL; BEFORE triggers hand the row on unchanged.
RETURNS = {"vung_derive_area": "NEW", "vung_derive_place": "NEW", "vung_record_history": "NULL"}


def define(name: str, guarded: bool) -> None:
    guard = BULK_GUARD.format(ret=RETURNS[name]) if guarded else ""
    body = FUNCTIONS[name].format(guard=guard)
    op.execute(f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn${body} $fn$")


def upgrade() -> None:
    for name in FUNCTIONS:
        define(name, guarded=True)


def downgrade() -> None:
    for name in FUNCTIONS:
        define(name, guarded=False)
