"""A leader-election lease on Postgres, written the way leasecheck's
reference design says:

- one row, and every operation is ONE conditional UPDATE ... RETURNING
  judged by the server's now() (no client clock, safe through PgBouncer);
- the instance owns its connection and recovers it itself: an error closes
  it and is raised (the caller must treat the outcome as unknown and stop
  acting), and the next call opens a new one;
- the TTL comes from an environment variable, validated loudly;
- the holder id is host:pid:random, so two processes never share one.

This is the code leasecheck checks, unchanged, through adapter.py.
"""

import math
import os
import secrets
import socket

import psycopg
from psycopg import sql

TTL_ENV = "LEASE_TTL_SECONDS"


def ttl_from_env(name=TTL_ENV, environ=os.environ):
    """The TTL in seconds from `name`; refuses anything but a finite,
    positive number, naming the variable and the value."""
    text = environ.get(name)
    if text is None:
        raise ValueError(f"{name} is not set: the lease TTL in seconds (e.g. 15)")
    try:
        ttl = float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a number of seconds") from None
    if not math.isfinite(ttl) or ttl <= 0:
        raise ValueError(f"{name}={text!r} must be a finite number of seconds above 0")
    return ttl


def default_holder():
    """host:pid:random, unique to this process."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class PgLease:
    """One process's handle on the lease row `schema.lease_lock` (id = 1)."""

    def __init__(self, dsn, ttl_seconds, schema="public", holder=None):
        self.dsn = dsn
        self.ttl = float(ttl_seconds)
        self.holder = holder or default_holder()
        table = sql.Identifier(schema, "lease_lock")
        self._try_acquire = sql.SQL(
            "UPDATE {t} SET leader = %(holder)s, acquired_at = now()"
            " WHERE id = 1 AND (leader = '' OR acquired_at < now() - make_interval(secs => %(ttl)s))"
            " RETURNING id"
        ).format(t=table)
        self._renew = sql.SQL(
            "UPDATE {t} SET acquired_at = now() WHERE id = 1 AND leader = %(holder)s RETURNING id"
        ).format(t=table)
        self._release = sql.SQL(
            "UPDATE {t} SET leader = '', acquired_at = now() WHERE id = 1 AND leader = %(holder)s"
            " RETURNING id"
        ).format(t=table)
        self._conn = None

    def _connection(self):
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.dsn, autocommit=True)
        return self._conn

    def _run(self, statement):
        """Run one UPDATE; True if it changed the row. On any database
        error the connection is dropped (the next call opens a new one) and
        the error raised: the outcome is unknown."""
        try:
            with self._connection().cursor() as cur:
                cur.execute(statement, {"holder": self.holder, "ttl": self.ttl})
                return cur.fetchone() is not None
        except psycopg.Error:
            self.close()
            raise

    def try_acquire(self):
        """Take the lease if it is free or stale; True if this call won it."""
        return self._run(self._try_acquire)

    def renew(self):
        """Extend this holder's tenure; False means it is not the leader."""
        return self._run(self._renew)

    def release(self):
        """Give the lease up; False if this holder did not hold it."""
        return self._run(self._release)

    def close(self):
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
