"""03 and 04: prediction, evaluation and the verdict, the demo, the HTTP API, the model card,
ONNX export, int8 and the model comparison."""
