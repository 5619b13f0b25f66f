"""Stand-in for the parts of torchvision that Cool-chic 5.0.1 imports (see ../README.md).

Only ``transforms.functional.to_tensor`` works; the model entry points raise when called.
"""
# ``torchvision.models.vgg16`` is reached as an attribute of the package
from . import models, transforms  # noqa: F401

__version__ = "0.0+inrcodec-shim"
