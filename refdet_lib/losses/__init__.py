"""Training losses: WIoU v3 + DFL (box), BCE (cls), SupCon + CPE (contrastive), triplet, and the Criterion."""
from .box import WIoUv3Loss, dfl_loss
from .contrastive import CPELoss, SupConLoss, supcon_per_anchor
from .criterion import COMPONENTS, Criterion
from .triplet import TripletLoss, batch_hard_triplet_loss, triplet_loss

__all__ = ["WIoUv3Loss", "dfl_loss", "SupConLoss", "CPELoss", "supcon_per_anchor", "TripletLoss", "triplet_loss",
           "batch_hard_triplet_loss", "Criterion", "COMPONENTS"]
