"""Django's PostGIS backend with two changes to its connection pool.

A pooled connection found dead at checkout sends the pool through all its idle connections at
once. After a server restart or failover every pooled connection is dead; psycopg_pool's checkout
check tries them one at a time with a growing back-off between tries (1, 2, 4 … s), so with eight
pooled connections a request waits past the pool's timeout and fails. `ConnectionPool.check()`
tests every idle connection in one pass and replaces the dead ones: the request pays one back-off
step instead.

A connection taken from the pool forgets the reader it was last set to (row-level security,
geo.scoping.reading), so nothing that runs outside a reader's block inherits another's: the check
at checkout, which pooled connections always get, clears it in the round trip it makes anyway.
(psycopg_pool's `reset` would cost a second round trip, on a worker thread.)
"""

from __future__ import annotations

from django.contrib.gis.db.backends.postgis.base import DatabaseWrapper as PostGISDatabaseWrapper
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql.base import NO_DB_ALIAS

from common.db import READER_SETTING


class DatabaseWrapper(PostGISDatabaseWrapper):
    # The reader setting this connection was last sent (geo.scoping.reading); None when unknown:
    # a new connection, a closed one, and any rollback, which undoes a setting made inside it.
    reader_sent: str | None = None

    def get_new_connection(self, conn_params):
        self.reader_sent = None
        return super().get_new_connection(conn_params)

    def _close(self):
        self.reader_sent = None
        return super()._close()

    def _rollback(self):
        self.reader_sent = None
        return super()._rollback()

    def _savepoint_rollback(self, sid):
        self.reader_sent = None
        return super()._savepoint_rollback(sid)

    @property
    def pool(self):
        options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not options:
            return None
        if self.alias in self._connection_pools:
            return self._connection_pools[self.alias]
        # As Django builds its pool (django/db/backends/postgresql/base.py), with ours added.
        if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
            raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
        from psycopg_pool import ConnectionPool

        made: list[ConnectionPool] = []

        def check(connection) -> None:
            # The round trip psycopg_pool's own check makes (an empty statement), made to clear
            # the reader too; in autocommit, as that check runs it.
            autocommit = connection.autocommit
            try:
                connection.autocommit = True
                connection.execute("SELECT set_config(%s, '', false)", [READER_SETTING])
                connection.autocommit = autocommit
            except Exception:
                made[0].check()  # the others idle beside it, tested now and replaced if dead
                raise

        connect_kwargs = self.get_connection_params()
        connect_kwargs["autocommit"] = True
        made.append(
            ConnectionPool(
                kwargs=connect_kwargs,
                open=False,
                configure=self._configure_connection,
                check=check,  # always: it also clears the reader
                **({} if options is True else options),
            )
        )
        return self._connection_pools.setdefault(self.alias, made[0])
