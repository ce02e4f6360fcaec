"""Load mode: a suite's exchanges replayed by Locust users with every conformance check on.

The plan, the tally and the result (:mod:`harness.load.plan`) are plain values; the Locust side
(:mod:`harness.load.locust_process`) runs only in processes of its own, so gevent's monkey-patching
never reaches the asyncio harness; :mod:`harness.cli.load` is the ``harness load`` command.
"""
