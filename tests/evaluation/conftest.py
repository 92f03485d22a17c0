"""Generated data for the dense-quality tests: an oracle "tower" whose tokens are
class embeddings plus noise, on blocky label maps."""
import pytest
import torch
import torch.nn.functional as F

NUM_CLASSES = 12
STRIDE = 4      # label pixels per token
GRID = 8        # tokens per side


def blocky_labels(num_images, seed=0, num_classes=NUM_CLASSES):
    """Label maps (GRID*STRIDE px square) that are constant on every token cell; all classes occur."""
    g = torch.Generator().manual_seed(seed)
    maps = []
    for index in range(num_images):
        coarse = torch.randint(num_classes, (1, 1, 4, 4), generator=g).float()
        coarse.view(-1)[0] = index % num_classes  # every class shows up somewhere
        tokens = F.interpolate(coarse, size=(GRID, GRID), mode='nearest')
        maps.append(F.interpolate(tokens, scale_factor=STRIDE, mode='nearest')[0, 0].long())
    return maps


def oracle_feats(labels, noise, seed=0, dim=32, num_classes=NUM_CLASSES):
    """Tokens = class embedding of the token's label + ``noise`` * N(0, 1/dim) per channel."""
    g = torch.Generator().manual_seed(seed + 1)
    embed = F.normalize(torch.randn(num_classes, dim, generator=g), dim=1)
    feats = []
    for lab in labels:
        token_lab = lab[STRIDE // 2::STRIDE, STRIDE // 2::STRIDE]
        f = embed[token_lab].permute(2, 0, 1)
        f = f + noise * torch.randn(f.shape, generator=g) / dim ** 0.5
        feats.append(f)
    return feats


@pytest.fixture(scope='module')
def labels():
    return blocky_labels(24)


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs with one torch thread."""
