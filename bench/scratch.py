"""Scratch databases for the benchmarks: created as the superuser, owned by the application's role (so
row-level security applies as in production), migrated, and dropped at the end."""

import os

import psycopg
from psycopg import sql


def database_exists(admin_url: str, name: str) -> bool:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def create_database(admin_url: str, name: str, owner: str) -> None:
    """A fresh scratch database. One left over by an interrupted run is replaced; one in use (another run of
    this bench on the shared machine) is refused rather than pulled from under it."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_stat_activity WHERE datname = %s", [name]).fetchone():
            raise SystemExit(f"database {name} is in use (another run of this bench?); pass --db another_name")
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner)))


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def setup_django(app_url: str, **env_defaults: str) -> None:
    """Points Django at the scratch database and migrates it. No per-query logging, as in production."""
    os.environ["DATABASE_URL"] = app_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "dlsaas.settings"
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/11")
    os.environ.setdefault("DJANGO_DEBUG", "0")
    for name, value in env_defaults.items():
        os.environ.setdefault(name, value)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def add_scratch_arguments(parser, default_db: str) -> None:
    """--db, --admin-url, --app-role, --keep and --reuse, as every bench on a seeded scratch database takes them."""
    parser.add_argument("--db", default=default_db, help="scratch database (dropped and recreated)")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--app-role", default="dlsaas")
    parser.add_argument("--keep", action="store_true", help="leave the scratch database in place")
    parser.add_argument("--reuse", action="store_true", help="reuse a seeded scratch database (implies --keep)")


def run_on_scratch(args, measure) -> None:
    """Creates the scratch database (or reuses a seeded one with --reuse), points Django at it, runs
    measure(args, app_url, reuse), and drops the database unless --keep or --reuse."""
    app_url = f"postgresql://{args.app_role}@127.0.0.1:5432/{args.db}"
    reuse = args.reuse and database_exists(args.admin_url, args.db)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    if not reuse:
        create_database(args.admin_url, args.db, args.app_role)
    try:
        setup_django(app_url)
        measure(args, app_url, reuse)
    finally:
        from django.db import connections

        connections.close_all()
        if not (args.keep or args.reuse):
            drop_database(args.admin_url, args.db)
