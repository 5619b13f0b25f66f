from ._unavailable import unavailable, weights_enum

VGG16_Weights = weights_enum("VGG16_Weights")
vgg16 = unavailable("torchvision.models.vgg.vgg16 (Cool-chic --tune wasserstein)")
