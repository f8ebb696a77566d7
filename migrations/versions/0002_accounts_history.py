"""Accounts, API tokens, login attempts, and the history of every feature.

History is written by a trigger, so no way of changing a feature (the API,
an import, plain SQL) can skip it. Who made the change comes from the
transaction-local settings vung.user and vung.operation.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

EDITABLE = ("farming_zones", "aquaculture_areas", "craft_villages", "relics")

SCHEMA = r"""
CREATE TABLE users (
  id bigserial PRIMARY KEY,
  username text NOT NULL,
  password_hash text NOT NULL,
  role text NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
  layers text[],
  districts text[],
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX ux_users_username ON users (lower(username));

CREATE TABLE api_tokens (
  id bigserial PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  prefix text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);

CREATE TABLE login_attempts (
  id bigserial PRIMARY KEY,
  username text NOT NULL,
  address text NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  success boolean NOT NULL
);
CREATE INDEX ix_login_attempts_at ON login_attempts (at);

CREATE TABLE feature_history (
  id bigserial PRIMARY KEY,
  layer text NOT NULL,
  feature_id bigint NOT NULL,
  version integer NOT NULL,
  operation text NOT NULL CHECK (operation IN ('create', 'update', 'delete', 'restore')),
  username text,
  at timestamptz NOT NULL DEFAULT now(),
  properties jsonb NOT NULL,
  geom geometry(Geometry, 4326)
);
CREATE INDEX ix_feature_history_feature ON feature_history (layer, feature_id, version);

-- A restore re-inserts a deleted feature with its own id and next version.
CREATE OR REPLACE FUNCTION vung_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    NEW.created_at := OLD.created_at;
    NEW.updated_at := now();
    NEW.version := OLD.version + 1;
  ELSIF current_setting('vung.operation', true) = 'restore' THEN
    NEW.created_at := coalesce(NEW.created_at, now());
    NEW.updated_at := now();
  ELSE
    NEW.created_at := now();
    NEW.updated_at := NEW.created_at;
    NEW.version := 1;
  END IF;
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION vung_record_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  operation text := nullif(current_setting('vung.operation', true), '');
  who text := nullif(current_setting('vung.user', true), '');
BEGIN
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
END $$;
"""


def upgrade() -> None:
    op.execute(SCHEMA)
    for table in EDITABLE:
        # The API checks first and says why; this makes sure no other path stores an invalid shape.
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT ck_{table}_geom_valid CHECK (ST_IsValid(geom))")
        op.execute(
            f"CREATE TRIGGER {table}_history AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION vung_record_history()"
        )


def downgrade() -> None:
    for table in EDITABLE:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS ck_{table}_geom_valid")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_history ON {table}")
    op.execute("DROP FUNCTION IF EXISTS vung_record_history()")
    op.execute("DROP TABLE IF EXISTS feature_history, login_attempts, api_tokens, users")
    op.execute(
        """
        CREATE OR REPLACE FUNCTION vung_touch() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'UPDATE' THEN
            NEW.created_at := OLD.created_at; NEW.updated_at := now(); NEW.version := OLD.version + 1;
          ELSE
            NEW.created_at := now(); NEW.updated_at := NEW.created_at; NEW.version := 1;
          END IF;
          RETURN NEW;
        END $$;
        """
    )
