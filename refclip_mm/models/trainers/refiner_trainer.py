"""Stage 1 (docs/method.md section 4): train the Refiner self-supervised on a frozen CLIP
tower."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel

from ...clip import build_image_tower
from ...datasets.transforms import clip_image_preprocessor
from ...registry import MODELS
from ...utils.regions import check_sampling_ratio, crop_regions, region_tokens
from ..frozen import FrozenModule, check_precision
from ..losses import contaminant_mask
from ..refined_tower import RefinedTower, build_refiner, check_token_space
from ..scd_term import SCDTerm
from .boxes import box_generator, sample_local_boxes
from .finite import FiniteLossMixin


@MODELS.register_module()
class RefinerTrainer(FiniteLossMixin, BaseModel):
    """Self-supervised Refiner training on a frozen CLIP image tower.

    Per batch of images ``B x 3 x S x S`` (resized longest side + padded):

    1. sample ``num_boxes`` local boxes per image inside its valid region;
    2. student: ``Refiner(CLIP_dense(image))``, RoIAlign of each box to
       ``grid_size x grid_size`` tokens;
    3. target: ``CLIP_dense(crop resized to S x S)`` average-pooled to
       ``grid_size x grid_size`` (no gradient): the zoomed view of the box;
    4. loss: ``loss_dense`` (1 - cosine of each student token to its target
       token, by default) + the SCD term between them (:class:`~refclip_mm.models.scd_term.SCDTerm`,
       the one of stage 2: ``loss_scd`` weighted by lambda, ``scd_weight``,
       ``scd_agreement``).

    The boxes of an iteration come from the generator seeded by (seed, rank,
    iteration) (:func:`~refclip_mm.models.trainers.boxes.box_generator`).
    Only the Refiner is a submodule: the frozen tower is held by
    :class:`~refclip_mm.models.frozen.FrozenModule`, so it is never saved,
    optimised or wrapped by DDP; tower and Refiner form a
    :class:`~refclip_mm.models.refined_tower.RefinedTower` (``refined``).

    Args:
        clip_model: open_clip model name or architecture dict.
        pretrained: local CLIP weights.
        checkpoint_prefix: prefix of the CLIP keys in ``pretrained``.
        dense_mode: last-block mode of the dense forward (``'value'``).
        refiner: Refiner config; ``dim`` is filled in from the tower.
        token_space: ``'projected'``: refine the projected dense map (the
            joint embedding ``D``, default); ``'width'``: refine the tokens
            before the projection (after the final norm, tower width ``C``).
        num_boxes: local boxes per image ``M`` (3).
        area_range, aspect_range: box sampling (25-50 % of the image, 2/3-3/2).
        grid_size: tokens per box side ``g`` (14).
        crop_sampling_ratio: RoIAlign sampling points per output pixel when
            cutting crops out of the images (1 = bilinear resize).
        crop_size: side ``S'`` the crops are resized to before the target's
            CLIP forward (a multiple of the patch size); ``None`` (default,
            docs/method.md section 4.2): the input size ``S``.
        loss_dense: the dense loss config: ``DenseCosineLoss`` (per-token cosine, default;
            it replaces the InfoNCE on the ToyWorld ablation, docs/method.md section 9) or
            ``DenseInfoNCELoss`` (docs/method.md section 4.3, ``tau=0.2``; docs/losses.md).
        loss_scd: the SCD term as an SCD loss config: ``tau``, ``loss_weight``
            (lambda_SCD, 0.4), ``block_size``, ``agreement_interval``; ``None``: no SCD.
        filter_contaminants: drop target tokens that look like global
            contaminants (docs/method.md section 4.3 option, off by default).
        contaminant_std: the filter's threshold, mean + this many std (0.5).
        tower_precision: compute precision of the frozen tower's forwards in
            training steps: ``'auto'`` (default: bf16 where the device computes it
            natively, fp32 elsewhere), ``'bf16'`` (autocast, CPU and CUDA), ``'fp16'``
            (CUDA) or ``'fp32'``; its maps are returned in fp32 and the
            Refiner trains in fp32 either way (docs/losses.md states the
            difference). :meth:`extract_dense` always runs in fp32.
        data_preprocessor: normalisation (OpenAI CLIP mean/std, BGR->RGB).
    """

    def __init__(self,
                 clip_model: Union[str, dict],
                 pretrained: Optional[str] = None,
                 checkpoint_prefix: Optional[str] = None,
                 dense_mode: str = 'value',
                 refiner: dict = dict(type='Refiner', depth=2, num_heads=8),
                 token_space: str = 'projected',
                 num_boxes: int = 3,
                 area_range: Tuple[float, float] = (0.25, 0.5),
                 aspect_range: Tuple[float, float] = (2 / 3, 3 / 2),
                 grid_size: int = 14,
                 crop_sampling_ratio: int = 1,
                 crop_size: Optional[int] = None,
                 loss_dense: dict = dict(type='DenseCosineLoss'),
                 loss_scd: Optional[dict] = dict(type='SCDLoss', tau=0.2, loss_weight=0.4),
                 filter_contaminants: bool = False,
                 contaminant_std: float = 0.5,
                 tower_precision: str = 'auto',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = clip_image_preprocessor()
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        check_token_space(token_space, 'model.token_space')
        tower = build_image_tower(clip_model, pretrained, checkpoint_prefix=checkpoint_prefix)
        self.tower = FrozenModule(tower)
        self.tower_precision = check_precision(tower_precision, 'RefinerTrainer tower_precision')
        self.patch_size = tower.patch_size
        self.dense_mode = dense_mode
        self.token_space = token_space
        self.refiner = build_refiner(refiner, tower, token_space)
        self.refined = RefinedTower(self.tower, self.refiner, token_space, dense_mode,
                                    train_refiner=True)
        self.num_boxes = num_boxes
        self.area_range = tuple(area_range)
        self.aspect_range = tuple(aspect_range)
        self.grid_size = grid_size
        self.crop_sampling_ratio = check_sampling_ratio(
            crop_sampling_ratio, 'model.crop_sampling_ratio')
        if crop_size is not None and (crop_size <= 0 or crop_size % self.patch_size):
            raise ValueError(f'model.crop_size={crop_size!r} must be a positive multiple of the '
                             f'patch size {self.patch_size} (or None: the input size)')
        self.crop_size = crop_size
        self.loss_dense = MODELS.build(loss_dense)
        self.scd = SCDTerm.from_loss_cfg(loss_scd, 'model.loss_scd', grid_size=grid_size) \
            if loss_scd else None
        self.filter_contaminants = filter_contaminants
        self.contaminant_std = contaminant_std

    # ------------------------------------------------------------------ features
    def clip_dense(self, images: torch.Tensor, precision: Optional[str] = None) -> torch.Tensor:
        """Frozen CLIP dense map of normalised images (no gradient, fp32): ``B x D x h x w``, or
        ``B x C x h x w`` before the projection when ``token_space='width'``; computed in
        ``precision`` (``None``: ``tower_precision``)."""
        return self.refined.tokens(images, precision or self.tower_precision)

    def extract_dense(self, images: torch.Tensor) -> torch.Tensor:
        """Refined, projected dense map ``B x D x h x w`` (the dense-visualisation contract),
        in fp32 like :class:`RefinerBackbone`: what evaluation sees is what detection uses."""
        return self.refined(images, precision='fp32')

    def crops(self, images: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        """Cut ``rois`` (``K x 5``, pixels) out of ``images`` and resize each to ``crop_size``
        (default: the input size): ``K x 3 x S' x S'``."""
        size = (self.crop_size, ) * 2 if self.crop_size else tuple(images.shape[-2:])
        return crop_regions(images, rois, size, self.crop_sampling_ratio)

    def box_tokens(self, images: torch.Tensor, data_samples: Optional[Sequence] = None
                   ) -> Dict[str, torch.Tensor]:
        """Student and target tokens of random local boxes.

        Returns:
            dict with ``student`` and ``target`` (``K x g^2 x D``, ``K = B*M``),
            ``rois`` (``K x 5``) and ``dense`` (frozen full-view map).
        """
        valid = self._valid_shapes(images, data_samples)
        rois = sample_local_boxes(valid, self.num_boxes, self.area_range, self.aspect_range,
                                  generator=box_generator()).to(images)
        dense = self.clip_dense(images)
        refined = self.refined.refine(dense, project=False)
        student = self.region_tokens(refined, rois)
        target = F.adaptive_avg_pool2d(self.clip_dense(self.crops(images, rois)), self.grid_size)
        return dict(student=student, target=target.flatten(2).transpose(1, 2), rois=rois,
                    dense=dense)

    def region_tokens(self, dense: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        """``K x g^2 x D`` tokens of each box (``rois`` in input pixels) on a dense map."""
        return region_tokens(dense, rois, self.grid_size, spatial_scale=1.0 / self.patch_size)

    @staticmethod
    def _valid_shapes(images: torch.Tensor, data_samples: Optional[Sequence]) -> List[Tuple[int, int]]:
        full = tuple(images.shape[-2:])
        if not data_samples:
            return [full] * images.shape[0]
        return [tuple(s.metainfo.get('valid_shape', full)) for s in data_samples]

    # ------------------------------------------------------------------ BaseModel API
    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        """``mode='loss'``: dict of losses and logged statistics; ``'tensor'`` /
        ``'predict'``: the refined dense map ``B x D x h x w``."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode in ('tensor', 'predict'):
            return self.extract_dense(inputs)
        raise ValueError(f'unknown mode {mode!r}; use loss, tensor or predict')

    def loss(self, images: torch.Tensor, data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        tokens = self.box_tokens(images, data_samples)
        student, target = tokens['student'], tokens['target']
        valid_mask = self._valid_targets(target) if self.filter_contaminants else None
        losses = dict(loss_dense=self.loss_dense(student, target, valid_mask=valid_mask))
        if self.scd is not None:
            losses.update(self.scd(student, target))
        with torch.no_grad():
            cos = F.cosine_similarity(student, target, dim=-1)
            losses['token_cos'] = cos.mean()
            frozen = F.cosine_similarity(self.region_tokens(tokens['dense'], tokens['rois']),
                                         target, dim=-1)
            losses['token_cos_frozen'] = frozen.mean()
            if valid_mask is not None:
                losses['kept_targets'] = valid_mask.float().mean()
        return losses

    def _valid_targets(self, target: torch.Tensor) -> torch.Tensor:
        """``K x N`` bool: target tokens kept by the contaminant filter.

        Each box is compared with the box of the same rank in the next image
        (an unrelated image), as docs/method.md section 4.3 describes.
        """
        num = target.shape[0]
        if num <= self.num_boxes:
            raise ValueError('filter_contaminants needs at least 2 images per batch (each box is '
                             'compared with a box of another image); increase batch_size')
        partner = (torch.arange(num, device=target.device) + self.num_boxes) % num
        return ~contaminant_mask(target, k_std=self.contaminant_std, partner=partner)
