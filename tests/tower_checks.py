"""Checks every dense tower must pass, shared by the tests of each tower kind."""
import torch
import torch.nn.functional as F


@torch.no_grad()
def check_region_features(tower):
    """Region features of two images: unit vectors, one per box, and a box covering exactly
    the token cells (1..2, 1..2) gives the mean of those four cells. Returns
    ``(dense, boxes, feats)`` for further checks."""
    x = torch.randn(2, 3, 48, 64)
    dense = tower(x)
    boxes = [torch.tensor([[0., 0., 64., 48.], [8., 8., 24., 24.]]),
             torch.tensor([[16., 0., 32., 16.]])]
    feats = tower.region_features(dense, boxes)
    assert feats.shape == (3, dense.shape[1])
    assert torch.allclose(feats.norm(dim=-1), torch.ones(3), atol=1e-5)
    cell = F.normalize(dense[0, :, 1:3, 1:3].mean(dim=(1, 2)), dim=0)
    assert torch.allclose(feats[1], cell, atol=1e-5)
    return dense, boxes, feats
