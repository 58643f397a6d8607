"""Bug: the holder id is the host name.

Every process on one machine (or every pod behind one service name) then
acts as the same holder: each one's renew extends the others' tenure, and a
standby's release frees the leader's lease.
"""

import socket

from lease import PgLease


class SharedHolderLease(PgLease):
    def __init__(self, dsn, ttl_seconds, schema="public", holder=None):
        super().__init__(dsn, ttl_seconds, schema=schema, holder=socket.gethostname())
