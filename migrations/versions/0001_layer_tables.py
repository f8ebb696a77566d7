"""Layer tables, search folding, and the triggers that derive area and place.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 08:30:05.105046
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


FUNCTIONS = r'''
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- unaccent() is only STABLE; naming the dictionary makes this safe to index.
CREATE OR REPLACE FUNCTION vung_fold(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, t)) $$;

CREATE OR REPLACE FUNCTION vung_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    NEW.created_at := OLD.created_at;
    NEW.updated_at := now();
    NEW.version := OLD.version + 1;
  ELSE
    NEW.created_at := now();
    NEW.updated_at := NEW.created_at;
    NEW.version := 1;
  END IF;
  RETURN NEW;
END $$;

-- Hectares on the spheroid, whatever the client sent.
CREATE OR REPLACE FUNCTION vung_derive_area() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.area_ha := round((ST_Area(NEW.geom::geography) / 10000.0)::numeric, 4);
  RETURN NEW;
END $$;

-- District and commune of a point on the feature's surface, from the units
-- valid today; a zone straddling a border takes the unit of that point.
CREATE OR REPLACE FUNCTION vung_derive_place() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  p geometry := ST_PointOnSurface(NEW.geom);
BEGIN
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
END $$;
'''

EDITABLE = ("farming_zones", "aquaculture_areas", "craft_villages", "relics")
WITH_AREA = ("farming_zones", "aquaculture_areas")


def create_triggers() -> None:
    # On every update, not only of geom: derived columns must never take a client's value.
    for table in EDITABLE:
        op.execute(
            f"CREATE TRIGGER {table}_touch BEFORE INSERT OR UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION vung_touch()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_place BEFORE INSERT OR UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION vung_derive_place()"
        )
    for table in WITH_AREA:
        op.execute(
            f"CREATE TRIGGER {table}_area BEFORE INSERT OR UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION vung_derive_area()"
        )


def upgrade() -> None:
    op.execute(FUNCTIONS)
    op.create_table('admin_units',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=True),
    sa.Column('level', sa.Text(), nullable=False),
    sa.Column('parent_code', sa.String(length=20), nullable=True),
    sa.Column('approximate', sa.Boolean(), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('source', sa.String(length=1000), nullable=True),
    sa.Column('search_text', sa.Text(), sa.Computed("vung_fold(coalesce(name, '') || ' ' || coalesce(name_en, ''))", persisted=True), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("level IN ('province', 'district', 'commune')", name='ck_admin_units_level'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_admin_units_code', 'admin_units', ['code'], unique=False)
    op.create_index('ix_admin_units_geom', 'admin_units', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_admin_units_level', 'admin_units', ['level'], unique=False)
    op.create_index('ix_admin_units_parent_code', 'admin_units', ['parent_code'], unique=False)
    op.create_index('ix_admin_units_search', 'admin_units', ['search_text'], unique=False, postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.create_table('aquaculture_areas',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=True),
    sa.Column('species', sa.Text(), nullable=False),
    sa.Column('water_type', sa.Text(), nullable=False),
    sa.Column('method', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('owner', sa.String(length=200), nullable=True),
    sa.Column('products', sa.String(length=500), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('description_en', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=1000), nullable=True),
    sa.Column('illustrative', sa.Boolean(), nullable=True),
    sa.Column('area_ha', sa.Float(), nullable=True),
    sa.Column('district', sa.Text(), nullable=True),
    sa.Column('district_code', sa.Text(), nullable=True),
    sa.Column('commune', sa.Text(), nullable=True),
    sa.Column('commune_code', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('search_text', sa.Text(), sa.Computed("vung_fold(coalesce(name, '') || ' ' || coalesce(name_en, '') || ' ' || coalesce(owner, ''))", persisted=True), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("method IN ('extensive', 'semi_intensive', 'intensive', 'tidal_flat', 'cage')", name='ck_aquaculture_areas_method'),
    sa.CheckConstraint("species IN ('shrimp', 'clam', 'fish', 'crab', 'seaweed', 'mixed')", name='ck_aquaculture_areas_species'),
    sa.CheckConstraint("status IN ('planned', 'active', 'suspended')", name='ck_aquaculture_areas_status'),
    sa.CheckConstraint("water_type IN ('fresh', 'brackish', 'marine')", name='ck_aquaculture_areas_water_type'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_aquaculture_areas_district', 'aquaculture_areas', ['district'], unique=False)
    op.create_index('ix_aquaculture_areas_geom', 'aquaculture_areas', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_aquaculture_areas_method', 'aquaculture_areas', ['method'], unique=False)
    op.create_index('ix_aquaculture_areas_search', 'aquaculture_areas', ['search_text'], unique=False, postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.create_index('ix_aquaculture_areas_species', 'aquaculture_areas', ['species'], unique=False)
    op.create_index('ix_aquaculture_areas_status', 'aquaculture_areas', ['status'], unique=False)
    op.create_index('ix_aquaculture_areas_water_type', 'aquaculture_areas', ['water_type'], unique=False)
    op.create_table('craft_villages',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=True),
    sa.Column('craft', sa.Text(), nullable=False),
    sa.Column('products', sa.String(length=500), nullable=True),
    sa.Column('recognised_year', sa.Integer(), nullable=True),
    sa.Column('households', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('description_en', sa.Text(), nullable=True),
    sa.Column('photo', sa.Text(), nullable=True),
    sa.Column('precision', sa.String(length=50), nullable=True),
    sa.Column('source', sa.String(length=1000), nullable=True),
    sa.Column('district', sa.Text(), nullable=True),
    sa.Column('district_code', sa.Text(), nullable=True),
    sa.Column('commune', sa.Text(), nullable=True),
    sa.Column('commune_code', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('search_text', sa.Text(), sa.Computed("vung_fold(coalesce(name, '') || ' ' || coalesce(name_en, ''))", persisted=True), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("craft IN ('metalwork', 'woodwork', 'lacquer', 'weaving', 'textile', 'food', 'salt', 'horticulture', 'other')", name='ck_craft_villages_craft'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_craft_villages_craft', 'craft_villages', ['craft'], unique=False)
    op.create_index('ix_craft_villages_district', 'craft_villages', ['district'], unique=False)
    op.create_index('ix_craft_villages_geom', 'craft_villages', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_craft_villages_search', 'craft_villages', ['search_text'], unique=False, postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.create_table('farming_zones',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=True),
    sa.Column('crop', sa.Text(), nullable=False),
    sa.Column('certification', sa.Text(), nullable=True),
    sa.Column('season', sa.String(length=100), nullable=True),
    sa.Column('owner', sa.String(length=200), nullable=True),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('products', sa.String(length=500), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('description_en', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=1000), nullable=True),
    sa.Column('illustrative', sa.Boolean(), nullable=True),
    sa.Column('area_ha', sa.Float(), nullable=True),
    sa.Column('district', sa.Text(), nullable=True),
    sa.Column('district_code', sa.Text(), nullable=True),
    sa.Column('commune', sa.Text(), nullable=True),
    sa.Column('commune_code', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('search_text', sa.Text(), sa.Computed("vung_fold(coalesce(name, '') || ' ' || coalesce(name_en, '') || ' ' || coalesce(owner, ''))", persisted=True), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("certification IN ('conventional', 'vietgap', 'organic', 'globalgap')", name='ck_farming_zones_certification'),
    sa.CheckConstraint("crop IN ('rice', 'rice_seed', 'vegetables', 'fruit', 'ornamental', 'salt', 'other')", name='ck_farming_zones_crop'),
    sa.CheckConstraint("status IN ('planned', 'active', 'suspended')", name='ck_farming_zones_status'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_farming_zones_certification', 'farming_zones', ['certification'], unique=False)
    op.create_index('ix_farming_zones_crop', 'farming_zones', ['crop'], unique=False)
    op.create_index('ix_farming_zones_district', 'farming_zones', ['district'], unique=False)
    op.create_index('ix_farming_zones_geom', 'farming_zones', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_farming_zones_search', 'farming_zones', ['search_text'], unique=False, postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.create_index('ix_farming_zones_status', 'farming_zones', ['status'], unique=False)
    op.create_table('relics',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=True),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('rank', sa.Text(), nullable=False),
    sa.Column('decision', sa.String(length=500), nullable=True),
    sa.Column('era', sa.String(length=200), nullable=True),
    sa.Column('festival', sa.String(length=500), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('description_en', sa.Text(), nullable=True),
    sa.Column('address', sa.String(length=500), nullable=True),
    sa.Column('photo', sa.Text(), nullable=True),
    sa.Column('precision', sa.String(length=50), nullable=True),
    sa.Column('source', sa.String(length=1000), nullable=True),
    sa.Column('district', sa.Text(), nullable=True),
    sa.Column('district_code', sa.Text(), nullable=True),
    sa.Column('commune', sa.Text(), nullable=True),
    sa.Column('commune_code', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('search_text', sa.Text(), sa.Computed("vung_fold(coalesce(name, '') || ' ' || coalesce(name_en, ''))", persisted=True), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("kind IN ('temple', 'pagoda', 'communal_house', 'shrine', 'church', 'house', 'monument', 'nature', 'other')", name='ck_relics_kind'),
    sa.CheckConstraint("rank IN ('special_national', 'national', 'provincial', 'unranked')", name='ck_relics_rank'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_relics_district', 'relics', ['district'], unique=False)
    op.create_index('ix_relics_geom', 'relics', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_relics_kind', 'relics', ['kind'], unique=False)
    op.create_index('ix_relics_rank', 'relics', ['rank'], unique=False)
    op.create_index('ix_relics_search', 'relics', ['search_text'], unique=False, postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    create_triggers()


def downgrade() -> None:
    op.drop_index('ix_relics_search', table_name='relics', postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.drop_index('ix_relics_rank', table_name='relics')
    op.drop_index('ix_relics_kind', table_name='relics')
    op.drop_index('ix_relics_geom', table_name='relics', postgresql_using='gist')
    op.drop_index('ix_relics_district', table_name='relics')
    op.drop_table('relics')
    op.drop_index('ix_farming_zones_status', table_name='farming_zones')
    op.drop_index('ix_farming_zones_search', table_name='farming_zones', postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.drop_index('ix_farming_zones_geom', table_name='farming_zones', postgresql_using='gist')
    op.drop_index('ix_farming_zones_district', table_name='farming_zones')
    op.drop_index('ix_farming_zones_crop', table_name='farming_zones')
    op.drop_index('ix_farming_zones_certification', table_name='farming_zones')
    op.drop_table('farming_zones')
    op.drop_index('ix_craft_villages_search', table_name='craft_villages', postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.drop_index('ix_craft_villages_geom', table_name='craft_villages', postgresql_using='gist')
    op.drop_index('ix_craft_villages_district', table_name='craft_villages')
    op.drop_index('ix_craft_villages_craft', table_name='craft_villages')
    op.drop_table('craft_villages')
    op.drop_index('ix_aquaculture_areas_water_type', table_name='aquaculture_areas')
    op.drop_index('ix_aquaculture_areas_status', table_name='aquaculture_areas')
    op.drop_index('ix_aquaculture_areas_species', table_name='aquaculture_areas')
    op.drop_index('ix_aquaculture_areas_search', table_name='aquaculture_areas', postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.drop_index('ix_aquaculture_areas_method', table_name='aquaculture_areas')
    op.drop_index('ix_aquaculture_areas_geom', table_name='aquaculture_areas', postgresql_using='gist')
    op.drop_index('ix_aquaculture_areas_district', table_name='aquaculture_areas')
    op.drop_table('aquaculture_areas')
    op.drop_index('ix_admin_units_search', table_name='admin_units', postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.drop_index('ix_admin_units_parent_code', table_name='admin_units')
    op.drop_index('ix_admin_units_level', table_name='admin_units')
    op.drop_index('ix_admin_units_geom', table_name='admin_units', postgresql_using='gist')
    op.drop_index('ix_admin_units_code', table_name='admin_units')
    op.drop_table('admin_units')
    for name in ("vung_derive_place", "vung_derive_area", "vung_touch", "vung_fold"):
        op.execute(f"DROP FUNCTION IF EXISTS {name} CASCADE")
