"""Bug: try_acquire retries after a lost connection.

A dropped connection after the UPDATE committed (the server took the lease
for us, the reply never arrived) is retried "to be safe". The retry finds
the lease held, by us, and returns False: this process believes it lost
while the lease is its own, and nobody leads until the TTL runs out.
leasecheck's connection-drop fault cuts exactly that reply.
"""

import psycopg

from lease import PgLease


class RetryingLease(PgLease):
    def try_acquire(self):
        try:
            return super().try_acquire()
        except psycopg.OperationalError:
            return super().try_acquire()
