"""Flask extensions, created unbound; create_app() binds them with init_app()."""

import sqlite3
from typing import TYPE_CHECKING

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    # Named constraints, so Alembic can alter them on SQLite (batch mode) and PostgreSQL alike.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)


if TYPE_CHECKING:  # Flask-SQLAlchemy makes db.Model at run time; type checkers see its base
    Model = Base
else:
    Model = db.Model


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # The poller writes while pages read: WAL lets readers go on, and a busy timeout makes
    # writers wait for each other instead of failing with "database is locked".
    # synchronous=NORMAL is SQLite's advice for WAL: no fsync per commit (each delivery's few
    # commits cost ~46 ms each here with FULL), never a corrupt file; a power cut may drop the
    # last commits, and a delivery whose result was dropped simply runs again.
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


migrate = Migrate()
csrf = CSRFProtect()
