"""The audit log refuses UPDATE and DELETE at the database, whoever connects."""

from django.db import migrations

POSTGRES_FORWARD = """
CREATE OR REPLACE FUNCTION recovery_event_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'recovery_caseevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER recovery_caseevent_no_update BEFORE UPDATE ON recovery_caseevent
    FOR EACH ROW EXECUTE FUNCTION recovery_event_log_append_only();
CREATE TRIGGER recovery_caseevent_no_delete BEFORE DELETE ON recovery_caseevent
    FOR EACH ROW EXECUTE FUNCTION recovery_event_log_append_only();
"""
POSTGRES_BACKWARD = """
DROP TRIGGER IF EXISTS recovery_caseevent_no_update ON recovery_caseevent;
DROP TRIGGER IF EXISTS recovery_caseevent_no_delete ON recovery_caseevent;
DROP FUNCTION IF EXISTS recovery_event_log_append_only();
"""
SQLITE_FORWARD = [
    """CREATE TRIGGER recovery_caseevent_no_update BEFORE UPDATE ON recovery_caseevent
       BEGIN SELECT RAISE(ABORT, 'recovery_caseevent is append-only: UPDATE refused'); END;""",
    """CREATE TRIGGER recovery_caseevent_no_delete BEFORE DELETE ON recovery_caseevent
       BEGIN SELECT RAISE(ABORT, 'recovery_caseevent is append-only: DELETE refused'); END;""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS recovery_caseevent_no_update;",
    "DROP TRIGGER IF EXISTS recovery_caseevent_no_delete;",
]


def forward(apps, schema_editor):
    statements = {"postgresql": [POSTGRES_FORWARD], "sqlite": SQLITE_FORWARD}[schema_editor.connection.vendor]
    for statement in statements:
        schema_editor.execute(statement, params=None)


def backward(apps, schema_editor):
    statements = {"postgresql": [POSTGRES_BACKWARD], "sqlite": SQLITE_BACKWARD}[
        schema_editor.connection.vendor
    ]
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("recovery", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
