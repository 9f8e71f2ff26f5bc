"""The embedded engine: ONNX Runtime sessions in-process, scheduled by mlinfer's batcher."""
