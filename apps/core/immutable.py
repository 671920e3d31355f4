"""Tables whose rows never change once written: the database itself refuses UPDATE.

Used by migrations: `migrations.RunPython(*refuse_updates("recipes_recipeversion"))`. Rows may still be
deleted (by cascade from their parent, or by erasure), unlike the audit trail, which refuses both.
"""


def _statements(table: str, vendor: str) -> tuple[list[str], list[str]]:
    name = f"{table}_immutable"
    if vendor == "postgresql":
        forward = [
            f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION USING MESSAGE = '{table} rows are immutable: UPDATE refused',
                                      ERRCODE = 'insufficient_privilege';
            END;
            $$ LANGUAGE plpgsql""",
            f"CREATE TRIGGER {name} BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()",
        ]
        backward = [f"DROP TRIGGER IF EXISTS {name} ON {table}", f"DROP FUNCTION IF EXISTS {name}()"]
    elif vendor == "sqlite":
        forward = [f"""CREATE TRIGGER {name} BEFORE UPDATE ON {table}
                   BEGIN SELECT RAISE(ABORT, '{table} rows are immutable: UPDATE refused'); END"""]
        backward = [f"DROP TRIGGER IF EXISTS {name}"]
    else:
        forward = backward = []
    return forward, backward


def refuse_updates(table: str):
    """(forward, backward) callables for migrations.RunPython."""

    def forward(apps, schema_editor):
        for statement in _statements(table, schema_editor.connection.vendor)[0]:
            schema_editor.execute(statement)

    def backward(apps, schema_editor):
        for statement in _statements(table, schema_editor.connection.vendor)[1]:
            schema_editor.execute(statement)

    return forward, backward
