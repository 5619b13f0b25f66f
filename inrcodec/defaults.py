"""User-facing encoder defaults, importable without loading the encoder (the CLI's help needs them)."""
DEFAULT_LMBDA = 1e-3
DEFAULT_ITERATIONS = {"cpu": 2000, "cuda": 10000}
