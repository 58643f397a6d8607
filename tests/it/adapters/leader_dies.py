"""A test lease for tests/it/exec.rs: the Python example's lease, except
that candidate c0's process dies at its fourth renew (after the takeover's
warm-up renews, at the renew that must learn it was deposed)."""

import os
import sys

from lease import PgLease


class LeaderDiesOnFourthRenew(PgLease):
    renews = 0

    def renew(self):
        self.renews += 1
        if os.environ["LEASECHECK_CANDIDATE"] == "c0" and self.renews == 4:
            print("leader: giving up at renew 4", file=sys.stderr, flush=True)
            os._exit(4)
        return super().renew()
