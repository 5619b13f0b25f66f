"""Placeholders that fail loudly if Cool-chic ever uses a torchvision model through the shim."""


class ShimUnavailable(RuntimeError):
    pass


def unavailable(what: str):
    """A function that raises ShimUnavailable naming `what` when called."""
    def fn(*args, **kwargs):
        raise ShimUnavailable(f"{what} is not provided by the benchmark's torchvision stand-in "
                              "(benchmarks/coolchic_shim); run that mode with a real torchvision")
    fn.__name__ = what.split()[0].rsplit(".", 1)[-1]
    return fn


class _WeightsMeta(type):
    def __getattr__(cls, name):
        unavailable(f"torchvision weights {cls.__name__}.{name}")()


def weights_enum(name: str) -> type:
    """A class standing for a torchvision weights enum: importable, any member access raises."""
    return _WeightsMeta(name, (), {})
