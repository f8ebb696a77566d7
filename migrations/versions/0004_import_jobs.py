"""Import jobs: a real import runs beside the request and reports its progress here.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE import_jobs (
          id text PRIMARY KEY,
          user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
          layer text NOT NULL,
          state text NOT NULL CHECK (state IN ('running', 'done', 'failed')),
          phase text NOT NULL DEFAULT 'reading',
          rows_done integer NOT NULL DEFAULT 0,
          rows_total integer,
          report jsonb,
          error text,
          created_at timestamptz NOT NULL DEFAULT now(),
          updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS import_jobs")
