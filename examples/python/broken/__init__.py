"""Broken variants of lease.py: each keeps the lease's SQL and breaks it in
the client code, the way such bugs ship. leasecheck catches each one."""
