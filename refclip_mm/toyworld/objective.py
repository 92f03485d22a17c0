"""What stage 1's objective rewards: its terms for an untrained and a trained Refiner.

For one Refiner (a variant of the ablation, or the registered one) the stage-1 model is built
with that variant's config options, and its losses are computed on the same fixed training
batches and boxes twice: with an untrained Refiner (the identity, docs/method.md section 4.1: the
last layer starts at zero) and with the trained one. Besides the dense InfoNCE and the SCD term,
``token_cos`` is the mean cosine between a box's student and target tokens (the student being
the refined full view); for the identity it is the frozen CLIP's own agreement with the zoomed
view. A Refiner that lowers the InfoNCE while ``token_cos`` falls has learned to tell the tokens
of a box apart, not to reproduce its target.
"""
from typing import Dict, Optional, Sequence

NUM_BATCHES = 8
BOX_SEED = 1000   # the boxes of batch j come from torch.manual_seed(BOX_SEED + j)
TERMS = ('loss_dense', 'loss_scd', 'token_cos')


def fixed_batches(cfg, num_batches: int = NUM_BATCHES) -> list:
    """The first ``num_batches`` batches of the stage-1 training set, unshuffled."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    loader_cfg = cfg.train_dataloader.copy()
    loader_cfg.update(sampler=dict(type='DefaultSampler', shuffle=False), num_workers=0,
                      persistent_workers=False)
    init_default_scope(cfg.get('default_scope', 'refclip_mm'))
    batches = []
    for batch in Runner.build_dataloader(loader_cfg, seed=0):
        batches.append(batch)
        if len(batches) == num_batches:
            break
    return batches


def mean_or_none(values: Sequence[Optional[float]]) -> Optional[float]:
    """The mean, or ``None`` when a value is missing (a term the variant does not compute)."""
    return None if any(v is None for v in values) else sum(values) / len(values)


def objective_terms(model, batches: list) -> Dict[str, Optional[float]]:
    """The mean of each of :data:`TERMS` over ``batches`` (``model``: a ``RefinerTrainer``);
    ``None`` for a term the model does not compute (``loss_scd`` without SCD)."""
    import torch
    values: Dict[str, list] = {term: [] for term in TERMS}
    model.eval()
    with torch.no_grad():
        for index, batch in enumerate(batches):
            data = model.data_preprocessor(batch, False)
            torch.manual_seed(BOX_SEED + index)
            losses = model.loss(data['inputs'], data['data_samples'])
            for term in TERMS:
                values[term].append(float(losses[term]) if term in losses else None)
    return {term: mean_or_none(terms) for term, terms in values.items()}


def stage1_objective(run, refiner_file: str, options: Optional[dict] = None,
                     num_batches: int = NUM_BATCHES) -> Dict[str, Dict[str, float]]:
    """``{'identity': terms, 'trained': terms}`` of the stage-1 model with config ``options``
    (by key, as the variant trained) and, for ``'trained'``, the Refiner in ``refiner_file``."""
    from refclip_mm.models.refiner_file import load_refiner_file
    from refclip_mm.registry import MODELS
    from refclip_mm.utils.checkpoint import load_state_dict_checked
    from .pipeline import refiner_config
    cfg = refiner_config(run, run.path('work', 'objective'), options)
    batches = fixed_batches(cfg, num_batches)
    model = MODELS.build(cfg.model)
    result = dict(identity=objective_terms(model, batches))
    load_state_dict_checked(model.refiner, load_refiner_file(refiner_file).state_dict,
                            source=repr(refiner_file))
    result['trained'] = objective_terms(model, batches)
    return result
