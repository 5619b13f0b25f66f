from ._unavailable import unavailable, weights_enum

Raft_Large_Weights = weights_enum("Raft_Large_Weights")
raft_large = unavailable("torchvision.models.optical_flow.raft_large (Cool-chic video motion)")
