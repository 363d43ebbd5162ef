"""Files: saving and loading models, and ONNX export."""
