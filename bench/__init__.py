"""The benchmark driver: models, raw-ORT ceiling, servers, measurements, PERFORMANCE.md.

Development tooling, not shipped in the wheel: run it from the repository root
(``python bench/run.py``). The load generator it drives is ``mlinfer bench`` (in the package).
"""
