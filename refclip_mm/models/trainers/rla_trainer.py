"""Stage 2 (docs/method.md section 5): region-language alignment fine-tuning of a CLIP image
tower."""
import copy
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel

from ...clip import build_image_tower, load_class_embeddings
from ...datasets.transforms import clip_image_preprocessor
from ...registry import MODELS
from ...utils.regions import boxes_to_rois, check_sampling_ratio, crop_regions
from ..frozen import FrozenModule, FrozenPartsMixin, freeze_parts
from .boxes import box_generator, sample_grid_boxes
from .finite import FiniteLossMixin

RLA_KINDS = {'CLIPSelfLoss': 'clipself', 'RegionCLIPLoss': 'regionclip'}


@dataclass
class RLABatch:
    """What a stage-2 step computed, handed to every extra loss term.

    Attributes:
        images: normalised images ``B x 3 x H x W``.
        student_dense: the student's dense map ``B x D x h x w`` (with gradient).
        rois: ``K x 5`` boxes ``(batch_index, x1, y1, x2, y2)`` in image pixels.
        patch_size: the tower's patch size (boxes -> tokens: ``spatial_scale = 1 / patch_size``).
        data_samples: the batch's data samples.
    """
    images: torch.Tensor
    student_dense: torch.Tensor
    rois: torch.Tensor
    patch_size: int
    data_samples: Optional[list] = None


LossTerm = Callable[[RLABatch], Dict[str, torch.Tensor]]


@MODELS.register_module()
class RLATrainer(FiniteLossMixin, FrozenPartsMixin, BaseModel):
    """Fine-tune a CLIP image tower with CLIPSelf or RegionCLIP (docs/method.md section 5).

    The student tower trains all its blocks; its stem (patch and position
    embedding, pre-norm) and head (final norm, projection) stay frozen. The
    frozen *initial* tower (a :class:`FrozenModule` copy made at construction,
    never saved) provides the targets: CLIPSelf's crop embeddings, or
    RegionCLIP's pseudo-labels (the concept its crop matches best).

    Extension point: :meth:`add_loss_term` registers a callable receiving the
    step's :class:`RLABatch` and returning extra ``loss_*`` (summed) and
    logged entries. ``SCDDistillHook`` adds SCD through it; nothing else in
    the model knows about SCD.

    Args:
        clip_model: open_clip model name or architecture dict.
        pretrained: local CLIP weights (also the initial/teacher weights).
        checkpoint_prefix: prefix of the CLIP keys in ``pretrained``.
        loss_rla: ``dict(type='CLIPSelfLoss')`` or ``dict(type='RegionCLIPLoss')``.
        concepts: RegionCLIP's concept vocabulary, a class-embedding file
            written by ``tools/build_text_embeddings.py`` (``names`` x ``D``).
        dense_mode: last-block mode of the student's dense map.
        teacher_input_size: side the crops are resized to for the teacher's
            image embedding (default: the tower's native size, 224 for B/16).
        crop_enlarge: the teacher's crop is the box enlarged by this factor
            around its centre (1.0 for patches, 1.5 for proposals).
        crop_sampling_ratio: RoIAlign sampling points per output pixel when
            cutting the teacher's crops out of the images (2: each output pixel
            averages 2 x 2 bilinear samples; 1 = bilinear resize).
        grad_checkpointing: recompute the student's activations in backward.
        data_preprocessor: normalisation (OpenAI CLIP mean/std, BGR->RGB).
    """

    def __init__(self,
                 clip_model: Union[str, dict],
                 pretrained: Optional[str] = None,
                 checkpoint_prefix: Optional[str] = None,
                 loss_rla: dict = dict(type='CLIPSelfLoss'),
                 concepts: Optional[str] = None,
                 dense_mode: str = 'value',
                 teacher_input_size: Optional[int] = None,
                 crop_enlarge: float = 1.0,
                 crop_sampling_ratio: int = 2,
                 grad_checkpointing: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = clip_image_preprocessor()
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        kind = RLA_KINDS.get(str(loss_rla.get('type', '')).split('.')[-1])
        if kind is None:
            raise ValueError(f'loss_rla must be one of {sorted(RLA_KINDS)}, got {loss_rla}')
        self.rla = kind
        self.student = build_image_tower(clip_model, pretrained, checkpoint_prefix=checkpoint_prefix)
        self.initial_tower = FrozenModule(copy.deepcopy(self.student))
        self.student.set_grad_checkpointing(grad_checkpointing)
        self._frozen_modules = freeze_parts(self.student.stem_modules() +
                                            self.student.head_modules())
        self.patch_size = self.student.patch_size
        self.dense_mode = dense_mode
        native = self.student.native_grid
        self.teacher_input_size = teacher_input_size or native[0] * self.patch_size
        if crop_enlarge < 1.0:
            raise ValueError(f'crop_enlarge must be >= 1, got {crop_enlarge}')
        self.crop_enlarge = crop_enlarge
        self.crop_sampling_ratio = check_sampling_ratio(crop_sampling_ratio,
                                                        'model.crop_sampling_ratio')
        self.loss_rla = MODELS.build(loss_rla)
        self.concept_names: List[str] = []
        self.concept_scores: dict = {}  # scale and bias of a sigmoid CLIP's concept file
        if kind == 'regionclip':
            self._load_concepts(concepts)
        elif concepts is not None:
            raise ValueError('concepts are only used by RegionCLIPLoss')
        self._loss_terms: 'OrderedDict[str, LossTerm]' = OrderedDict()

    def _load_concepts(self, path: Optional[str]) -> None:
        if path is None:
            raise ValueError('RegionCLIPLoss needs concepts=<class-embedding file of the concept '
                             'vocabulary> (tools/build_text_embeddings.py --names concepts.txt)')
        concepts = load_class_embeddings(path)
        if len(concepts.names) == 0:
            raise ValueError(f'concept file {path!r} holds no concepts')
        if concepts.embeddings.shape[1] != self.student.embed_dim:
            raise ValueError(f'concept embeddings in {path!r} are {concepts.embeddings.shape[1]}-dim '
                             f'but the tower embeds into {self.student.embed_dim} dims')
        self.concept_names = list(concepts.names)
        # a sigmoid-trained CLIP's concepts are scored with its own scale and bias
        self.concept_scores = (dict(logit_scale=concepts.logit_scale or self.loss_rla.logit_scale,
                                    logit_bias=concepts.logit_bias)
                               if concepts.sigmoid else {})
        self.register_buffer('concept_embeddings',
                             F.normalize(concepts.embeddings.float(), dim=-1), persistent=False)

    # ------------------------------------------------------------ extension point
    def add_loss_term(self, name: str, term: LossTerm) -> None:
        """Add ``term(batch: RLABatch) -> dict`` to every training step's losses."""
        if name in self._loss_terms:
            raise KeyError(f'a loss term named {name!r} is already registered')
        self._loss_terms[name] = term

    def remove_loss_term(self, name: str) -> None:
        """Remove a term added by :meth:`add_loss_term`."""
        self._loss_terms.pop(name)

    # ------------------------------------------------------------ pieces
    def student_dense(self, images: torch.Tensor) -> torch.Tensor:
        """The student's dense map ``B x D x h x w``."""
        return self.student.forward_dense(images, mode=self.dense_mode).dense

    def extract_dense(self, images: torch.Tensor) -> torch.Tensor:
        """Dense map for visualisation hooks (the student's)."""
        return self.student_dense(images)

    def teacher_crop_embeddings(self, images: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        """L2-normalised image embeddings ``K x D`` of the (enlarged) box crops, by the initial tower."""
        boxes = rois.clone()
        if self.crop_enlarge != 1.0:
            centre = (boxes[:, 1:3] + boxes[:, 3:5]) / 2
            half = (boxes[:, 3:5] - boxes[:, 1:3]) * (self.crop_enlarge / 2)
            h, w = images.shape[-2:]
            limit = boxes.new_tensor([w, h])
            boxes[:, 1:3] = (centre - half).clamp(min=0)
            boxes[:, 3:5] = torch.minimum(centre + half, limit)
        crops = crop_regions(images, boxes, self.teacher_input_size, self.crop_sampling_ratio)
        return self.initial_tower('encode_image', crops, normalize=True)

    @staticmethod
    def rois_from(data_samples: Sequence, device: torch.device) -> torch.Tensor:
        """``K x 5`` RoIs of the samples' boxes: their ``boxes`` (proposals), or, for a sample
        whose pipeline asked for a random grid (``grid_boxes`` in its metainfo, written by
        ``RandomGridBoxes``), the grid cells drawn now from this iteration's seeded generator
        (:func:`~refclip_mm.models.trainers.boxes.box_generator`). An image without boxes is
        an error."""
        generator = box_generator()
        per_image = []
        for index, sample in enumerate(data_samples):
            grid = sample.metainfo.get('grid_boxes')
            if grid is not None:
                boxes = sample_grid_boxes(sample.metainfo['valid_shape'], *grid, generator=generator)
            else:
                boxes = getattr(sample, 'boxes', None)
            if boxes is None or len(boxes) == 0:
                name = sample.metainfo.get('img_path', f'#{index}')
                raise ValueError(f'image {name} has no boxes for the RLA loss; the pipeline needs '
                                 'RandomGridBoxes or LoadRegionProposals')
            per_image.append(boxes)
        return boxes_to_rois(per_image, len(per_image), device=device)

    # ------------------------------------------------------------ BaseModel API
    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        """``'loss'``: losses and logged values; ``'tensor'``/``'predict'``: the student's dense map."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode in ('tensor', 'predict'):
            return self.student_dense(inputs)
        raise ValueError(f'unknown mode {mode!r}; use loss, tensor or predict')

    def loss(self, images: torch.Tensor, data_samples: list) -> Dict[str, torch.Tensor]:
        rois = self.rois_from(data_samples, images.device)
        dense = self.student_dense(images)
        regions = self.student.region_features(dense, rois, normalize=True)
        teacher = self.teacher_crop_embeddings(images, rois)
        if self.rla == 'clipself':
            losses = dict(loss_clipself=self.loss_rla(regions, teacher))
        else:
            losses = dict(loss_regionclip=self.loss_rla(
                regions, self.concept_embeddings, teacher=teacher, **self.concept_scores))
        with torch.no_grad():
            losses['region_cos'] = F.cosine_similarity(regions, teacher, dim=-1).mean()
        batch = RLABatch(images, dense, rois, self.patch_size, data_samples)
        for name, term in self._loss_terms.items():
            extra = term(batch)
            clash = set(extra) & set(losses)
            if clash:
                raise KeyError(f'loss term {name!r} returned keys {sorted(clash)} that already exist')
            losses.update(extra)
        return losses
