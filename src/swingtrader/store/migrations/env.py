"""Alembic environment: runs against the connection the `Store` hands over (or a URL from alembic.ini)."""

from alembic import context
from sqlalchemy import Connection, create_engine

from swingtrader.store.tables import metadata

config = context.config
connection = config.attributes.get("connection")


def _run(conn: Connection) -> None:
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic: no connection handed over and no sqlalchemy.url in alembic.ini")
    with create_engine(url).connect() as conn:
        _run(conn)
        conn.commit()
