"""The leasecheck adapter for lease.py: a few lines that speak the adapter
protocol (docs/adapter-protocol.md of the leasecheck repository) on
stdin/stdout and call the lease. leasecheck starts one per candidate:

    leasecheck check --spec examples/python/lease.toml \
        --exec "python3 examples/python/adapter.py"

`adapter.py MODULE:CLASS` checks another lease class with the same
constructor (the broken variants in broken/).
"""

import importlib
import json
import os
import sys

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def lease_class(name):
    module, _, cls = name.partition(":")
    return getattr(importlib.import_module(module), cls)


def main():
    cls = lease_class(sys.argv[1] if len(sys.argv) > 1 else "lease:PgLease")
    env = os.environ
    # The production lease reads its TTL from LEASE_TTL_SECONDS: give it
    # the harness's, through the same validation.
    env["LEASE_TTL_SECONDS"] = env["LEASECHECK_TTL_SECONDS"]
    import lease as lease_module

    lease = cls(
        env["DATABASE_URL"],
        lease_module.ttl_from_env(),
        schema=env["LEASECHECK_SCHEMA"],
        holder=env["LEASECHECK_HOLDER"],
    )
    print(json.dumps({"protocol": "leasecheck-adapter/1",
                      "ops": ["try_acquire", "renew", "release"]}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = {"id": request["id"], "ok": bool(getattr(lease, request["op"])())}
        except psycopg.OperationalError as e:
            # The connection broke (or the server went away): the outcome is
            # unknown, and the lease reconnects on its next call. Any other
            # error (a SQL error, a bug) ends the adapter, and leasecheck
            # reports it with this process's stderr.
            answer = {"id": request["id"], "error": f"{type(e).__name__}: {e}".strip()}
        print(json.dumps(answer), flush=True)
    lease.close()


if __name__ == "__main__":
    main()
