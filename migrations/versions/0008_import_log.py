"""The import log: one row per committed import, written in its transaction.

Before, an import was known only by its history rows (one transaction, one
user), and the import page kept what it needed to undo one in a file beside
the upload, for as long as the upload was kept (a day). Now every committed
import, from the page or the command line, is listed here with its file and
counts; undoing one marks its row in the undo's own transaction, so two
undos of the same import cannot both run. Import jobs gain a kind: an undo
of a large import runs beside the request as the import did.

Imports made before this migration are not listed: history does not tell an
import from other writes.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE imports (
          id bigserial PRIMARY KEY,
          layer text NOT NULL,
          username text,
          at timestamptz NOT NULL,
          file_name text NOT NULL,
          rows_read integer NOT NULL,
          inserted integer NOT NULL,
          updated integer NOT NULL,
          rejected integer NOT NULL,
          undone_at timestamptz,
          undone_by text,
          undo jsonb
        )
        """
    )
    # `at` is the transaction time of the import's history rows, which undo reads.
    op.execute("CREATE INDEX ix_imports_user ON imports (lower(username), at DESC)")  # accounts ignore case
    op.execute("CREATE INDEX ix_imports_layer ON imports (layer, at DESC)")
    # An undo of a large import runs as a job too.
    op.execute("ALTER TABLE import_jobs ADD COLUMN kind text NOT NULL DEFAULT 'import' CHECK (kind IN ('import', 'undo'))")


def downgrade() -> None:
    op.execute("ALTER TABLE import_jobs DROP COLUMN kind")
    op.execute("DROP TABLE IF EXISTS imports")
