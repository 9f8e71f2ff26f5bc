"""Where models run: the embedded ONNX Runtime engine or a real Triton behind mlinfer."""
