"""Networks: finding a model offline first (resolve), sentence embeddings, and the model classes the
kit saves (mean pooling for text, EfficientNet-Lite for images). `import hackkit.models.auto`
registers those classes with transformers' Auto classes."""
