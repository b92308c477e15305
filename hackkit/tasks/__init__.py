"""The tasks, one module (or folder) each; the registry that names them is hackkit.registry."""
