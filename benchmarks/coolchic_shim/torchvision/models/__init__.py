"""Model entry points Cool-chic names but an MSE image encode never calls."""
from . import optical_flow, vgg  # noqa: F401
from ._unavailable import unavailable

vgg16 = unavailable("torchvision.models.vgg16 (Cool-chic --tune wasserstein)")
