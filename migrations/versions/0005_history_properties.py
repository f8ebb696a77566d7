"""History records a feature's properties without building its GeoJSON first.

`to_jsonb(NEW) - 'geom'` turns the shape into GeoJSON (PostGIS's cast) only
to drop it: on a 100,000-row import that is most of the history's cost. The
trigger now blanks the shape in a copy of the row before `to_jsonb`; the
properties recorded are the same.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def history_function(blank_shape: bool) -> str:
    """The history trigger's function, with or without blanking the shape before `to_jsonb`."""
    blank = "r.geom := NULL;  -- no GeoJSON built only to be dropped" if blank_shape else ""
    return f"""
CREATE OR REPLACE FUNCTION vung_record_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  operation text := nullif(current_setting('vung.operation', true), '');
  who text := nullif(current_setting('vung.user', true), '');
  r record;
  props jsonb;
BEGIN
  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
  {blank}
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


def upgrade() -> None:
    op.execute(history_function(blank_shape=True))


def downgrade() -> None:
    op.execute(history_function(blank_shape=False))
