"""Benchmarks: model builders (ResNet-50, BERT-base, YOLOv8n, custom CNN), the ``mlinfer bench``
load generator, the raw ONNX Runtime ceiling and the PERFORMANCE.md report.

Nothing here is imported by the serving path; ``bench/run.py`` drives it all.
"""
