"""History is written once per statement, and area_ha is a generated column.

Before, a row trigger recorded history and another set area_ha, and the
importer, which cannot afford a trigger call per row, skipped both and wrote
the same values with statements of its own: two copies of each rule. Now:

- area_ha is a stored generated column, computed by PostgreSQL on every
  write, single or bulk, with nothing to skip;
- history comes from statement triggers that read the statement's
  transition tables: one INSERT ... SELECT per statement, whether it wrote
  one feature or a hundred thousand. The importer writes no history itself.

Place and touch stay row triggers, which the importer still skips (0003, 0006).

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

EDITABLE = ("farming_zones", "aquaculture_areas", "craft_villages", "relics")
WITH_AREA = ("farming_zones", "aquaculture_areas")
AREA = "round((ST_Area(geom::geography) / 10000.0)::numeric, 4)::double precision"
NOT_BULK = "WHEN (current_setting('vung.bulk', true) IS DISTINCT FROM 'on')"

# Properties are the row's columns but the shape and the search text, named
# one by one: to_jsonb of the whole row would build every shape's GeoJSON
# only to drop it (migration 0005). Transition tables are seen by EXECUTE.
HISTORY_FUNCTION = r"""
CREATE OR REPLACE FUNCTION vung_record_history_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  operation text := nullif(current_setting('vung.operation', true), '');
  who text := nullif(current_setting('vung.user', true), '');
  properties text;
BEGIN
  SELECT string_agg(format('r.%I', attname), ', ' ORDER BY attnum) INTO properties
    FROM pg_attribute
   WHERE attrelid = TG_RELID AND attnum > 0 AND NOT attisdropped AND attname NOT IN ('geom', 'search_text');
  IF TG_OP = 'DELETE' THEN
    EXECUTE format(
      'INSERT INTO feature_history (layer, feature_id, version, operation, username, properties, geom) '
      'SELECT $1, r.id, r.version + 1, ''delete'', $2, to_jsonb(p), r.geom '
      'FROM old_rows AS r, LATERAL (SELECT %s) AS p', properties)
    USING TG_TABLE_NAME, who;
    RETURN NULL;
  END IF;
  IF operation IS DISTINCT FROM 'restore' THEN
    operation := CASE TG_OP WHEN 'INSERT' THEN 'create' ELSE 'update' END;
  END IF;
  EXECUTE format(
    'INSERT INTO feature_history (layer, feature_id, version, operation, username, properties, geom) '
    'SELECT $1, r.id, r.version, $3, $2, to_jsonb(p), r.geom '
    'FROM new_rows AS r, LATERAL (SELECT %s) AS p', properties)
  USING TG_TABLE_NAME, who, operation;
  RETURN NULL;
END $$;
"""

ROW_HISTORY_FUNCTION = r"""
CREATE OR REPLACE FUNCTION vung_record_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  operation text := nullif(current_setting('vung.operation', true), '');
  who text := nullif(current_setting('vung.user', true), '');
  r record;
  props jsonb;
BEGIN
  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
  r.geom := NULL;
  props := to_jsonb(r) - 'geom' - 'search_text';
  IF TG_OP = 'DELETE' THEN
    INSERT INTO feature_history (layer, feature_id, version, operation, username, properties, geom)
    VALUES (TG_TABLE_NAME, OLD.id, OLD.version + 1, 'delete', who, props, OLD.geom);
    RETURN OLD;
  END IF;
  IF operation IS DISTINCT FROM 'restore' THEN
    operation := CASE TG_OP WHEN 'INSERT' THEN 'create' ELSE 'update' END;
  END IF;
  INSERT INTO feature_history (layer, feature_id, version, operation, username, properties, geom)
  VALUES (TG_TABLE_NAME, NEW.id, NEW.version, operation, who, props, NEW.geom);
  RETURN NEW;
END $$;
"""

AREA_FUNCTION = r"""
CREATE OR REPLACE FUNCTION vung_derive_area() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.area_ha := round((ST_Area(NEW.geom::geography) / 10000.0)::numeric, 4);
  RETURN NEW;
END $$;
"""


def upgrade() -> None:
    op.execute(HISTORY_FUNCTION)
    for table in EDITABLE:
        op.execute(f"DROP TRIGGER {table}_history ON {table}")
        for event, transition in (("insert", "NEW TABLE AS new_rows"), ("update", "NEW TABLE AS new_rows"),
                                  ("delete", "OLD TABLE AS old_rows")):
            op.execute(
                f"CREATE TRIGGER {table}_history_{event} AFTER {event.upper()} ON {table} "
                f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION vung_record_history_rows()"
            )
    op.execute("DROP FUNCTION vung_record_history()")
    for table in WITH_AREA:
        op.execute(f"DROP TRIGGER {table}_area ON {table}")
        # A generated column cannot be made from a plain one: the values are computed anew.
        op.execute(f"ALTER TABLE {table} DROP COLUMN area_ha")
        op.execute(f"ALTER TABLE {table} ADD COLUMN area_ha double precision GENERATED ALWAYS AS ({AREA}) STORED")
    op.execute("DROP FUNCTION vung_derive_area()")


def downgrade() -> None:
    op.execute(AREA_FUNCTION)
    for table in WITH_AREA:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN area_ha DROP EXPRESSION")
        op.execute(
            f"CREATE TRIGGER {table}_area BEFORE INSERT OR UPDATE ON {table} "
            f"FOR EACH ROW {NOT_BULK} EXECUTE FUNCTION vung_derive_area()"
        )
    op.execute(ROW_HISTORY_FUNCTION)
    for table in EDITABLE:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER {table}_history_{event} ON {table}")
        op.execute(
            f"CREATE TRIGGER {table}_history AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW {NOT_BULK} EXECUTE FUNCTION vung_record_history()"
        )
    op.execute("DROP FUNCTION vung_record_history_rows()")
