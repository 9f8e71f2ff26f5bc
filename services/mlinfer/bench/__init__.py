"""``mlinfer bench``: the load generator (HTTP binary/JSON and gRPC, concurrency sweeps,
percentiles, JSON/CSV results). The benchmark driver that uses it lives in the checkout's
``bench/`` folder and is not part of the package.
"""
