"""Quality metrics: pure functions over plain annotation dicts and numpy arrays (no models, no database).

geometry         IoU matrices per shape type (boxes vectorised, rotated boxes/ellipses/polygons via shapely, RLE masks)
matching         optimal label-aware one-to-one matching; precision, recall, F1, mean similarity, where they differ
points           OKS for keypoint skeletons; distances for points and polylines
classification   accuracy, Cohen's kappa, Fleiss' kappa, Krippendorff's alpha (nominal)
item             item_agreement, gold_score, consensus_score: one score in [0, 1] per item with its breakdown
batch            consensus scoring of many items' boxes at once (numpy), for task-wide numbers
"""

from .classification import accuracy, cohen_kappa, fleiss_kappa, fleiss_table, krippendorff_alpha_nominal
from .geometry import box_iou_matrix, iou_matrix, mask_iou_matrix, rle_decode, rle_encode
from .item import DEFAULT, Settings, consensus_score, gold_score, item_agreement
from .matching import Match, match
from .points import oks_matrix, point_distance_matrix, polyline_distance_matrices

__all__ = [
    "DEFAULT", "Match", "Settings", "accuracy", "box_iou_matrix", "cohen_kappa", "consensus_score", "fleiss_kappa",
    "fleiss_table", "gold_score", "iou_matrix", "item_agreement", "krippendorff_alpha_nominal", "mask_iou_matrix",
    "match", "oks_matrix", "point_distance_matrix", "polyline_distance_matrices", "rle_decode", "rle_encode",
]
