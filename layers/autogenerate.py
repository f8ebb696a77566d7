"""Alembic's autogenerate, taught the layers' triggers.

SQLAlchemy tables carry no triggers, so Alembic would neither write them
into the migration of a new layer nor notice one missing. Each layer table
has the triggers its declaration asks for (layers.tables.TRIGGERS); here
they are compared with the database's and the difference is written into
migrations as plain `op.execute` statements, so a migration does not depend
on this module to run.

Triggers are matched by name only: a changed definition under the same name
is not noticed (give it a new name, or write that migration by hand), and a
trigger on a layer table that no declaration asks for, say one an
administrator added, is proposed for removal: read what autogenerate wrote.
"""

from __future__ import annotations

from alembic.autogenerate import comparators, renderers
from alembic.operations import MigrateOperation
from sqlalchemy import text

from layers.tables import TRIGGERS


class CreateTrigger(MigrateOperation):
    def __init__(self, table: str, name: str, definition: str):
        self.table, self.name, self.definition = table, name, definition

    def reverse(self) -> DropTrigger:
        return DropTrigger(self.table, self.name, self.definition)

    def to_diff_tuple(self) -> tuple:
        return ("add_trigger", self.table, self.name)


class DropTrigger(CreateTrigger):
    def reverse(self) -> CreateTrigger:
        return CreateTrigger(self.table, self.name, self.definition)

    def to_diff_tuple(self) -> tuple:
        return ("remove_trigger", self.table, self.name)


def existing_triggers(connection, table: str) -> dict[str, str]:
    rows = connection.execute(
        text(
            "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
            "WHERE tgrelid = to_regclass(:t) AND NOT tgisinternal ORDER BY tgname"
        ),
        {"t": table},
    )
    return dict(rows.all())


@comparators.dispatch_for("table")
def compare_layer_triggers(autogen_context, modify_ops, schema, name, conn_table, metadata_table) -> None:
    if metadata_table is None or name not in TRIGGERS:
        return  # not a layer table, or one being dropped with its triggers
    wanted = TRIGGERS[name]
    present = existing_triggers(autogen_context.connection, name) if conn_table is not None else {}
    for trigger, definition in wanted.items():
        if trigger not in present:
            modify_ops.ops.append(CreateTrigger(name, trigger, definition))
    for trigger, definition in present.items():
        if trigger not in wanted:
            modify_ops.ops.append(DropTrigger(name, trigger, definition))


@renderers.dispatch_for(CreateTrigger)
def render_create_trigger(autogen_context, op: CreateTrigger) -> str:
    return f"op.execute({op.definition!r})"


@renderers.dispatch_for(DropTrigger)
def render_drop_trigger(autogen_context, op: DropTrigger) -> str:
    return f"op.execute({f'DROP TRIGGER {op.name} ON {op.table}'!r})"
