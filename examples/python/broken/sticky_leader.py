"""Bug: a cached "I am leader" flag that a failed renew does not clear.

When renew raises (the server went away), the lease answers with what it
believed before ("a blip: we are still the leader"). While the server is
down and comes back, the old leader keeps acting on a tenure the server
lets expire, and a standby takes over: two leaders at once.
"""

import psycopg

from lease import PgLease


class StickyLeaderLease(PgLease):
    leading = False

    def try_acquire(self):
        self.leading = super().try_acquire()
        return self.leading

    def renew(self):
        try:
            self.leading = super().renew()
        except psycopg.OperationalError:
            pass  # keep believing
        return self.leading

    def release(self):
        self.leading = False
        return super().release()
