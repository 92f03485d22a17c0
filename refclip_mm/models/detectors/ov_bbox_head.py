"""OVBBoxHead: cosine classifier against class-name text embeddings (F-ViT)."""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmdet.models.layers import multiclass_nms
from mmdet.models.roi_heads.bbox_heads import ConvFCBBoxHead
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import nn

from ...clip import ClassEmbeddings, as_class_embeddings
from ...datasets.ov_detection import NamesType, read_class_list, split_classes
from ...registry import MODELS
from .score_fusion import clip_region_probs, fuse_scores


@MODELS.register_module()
class OVBBoxHead(ConvFCBBoxHead):
    """Open-vocabulary box head: cosine classifier vs text embeddings, class-agnostic boxes.

    The classification branch ends in a linear projection to the text
    embedding dim ``D``; its L2-normalised output is compared by cosine with
    the class embeddings and a background embedding, times a learned
    temperature: ``logits = t * cos``, ``K x (C + 1)`` (background last).

    Training: novel classes are excluded: their logits are masked out of the
    softmax, and a novel-class target is an error (filter the data).
    Test (eval mode): ``forward`` returns probabilities, fused with the CLIP
    region scores when the RoI head passes region features (see
    :func:`fuse_scores`); :meth:`_predict_by_feat_single` takes them as is.

    Args:
        class_embeddings: path of a class-embedding file
            (:func:`refclip_mm.clip.save_class_embeddings`), or the embeddings themselves
            (a :class:`~refclip_mm.clip.ClassEmbeddings`, e.g. a vocabulary embedded at run time;
            :meth:`set_vocabulary` swaps them in a built head).
        class_names: the dataset's classes in label order; ``None`` takes all
            names of the embedding file in its order.
        novel_classes / base_classes: the split (names, or a JSON file with a
            list); give one, the other is the rest.
        learned_temperature: initial value of the learned detector temperature.
        clip_temperature: CLIP region-score temperature (75 COCO, 50 LVIS).
        clip_logit_bias: ``'file'`` (default): the class embeddings decide: embeddings of a
            sigmoid-trained CLIP (SigLIP, SigLIP 2; the file records its ``logit_bias`` and
            ``logit_scale``) are scored ``sigmoid(scale * cos + bias)`` with the recorded pair,
            others ``softmax(clip_temperature * cos)``; a number: sigmoid scores with that bias
            and ``clip_temperature``; ``None``: softmax scores always.
        alpha / beta: CLIP weight in the fusion for base / novel classes.
        background_weight: weight of the background class in the CE loss.
        learn_background: make the background embedding a parameter.
    """

    def __init__(self,
                 class_embeddings: Union[str, ClassEmbeddings],
                 class_names: NamesType = None,
                 novel_classes: NamesType = None,
                 base_classes: NamesType = None,
                 learned_temperature: float = 50.0,
                 clip_temperature: float = 75.0,
                 clip_logit_bias: Union[str, float, None] = 'file',
                 alpha: float = 0.1,
                 beta: float = 0.8,
                 background_weight: float = 1.0,
                 learn_background: bool = False,
                 num_shared_convs: int = 4,
                 num_shared_fcs: int = 2,
                 num_cls_fcs: int = 1,
                 num_reg_fcs: int = 1,
                 reg_class_agnostic: bool = True,
                 num_classes: Optional[int] = None,
                 loss_cls: dict = dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                 **kwargs):
        names = read_class_list(class_names, 'class_names')
        text = as_class_embeddings(class_embeddings, names=names)  # names absent classes
        names = list(text.names)
        if num_classes is not None and num_classes != len(names):
            raise ValueError(f'num_classes={num_classes} but {len(names)} class names; leave '
                             'num_classes out (it follows class_names)')
        if not reg_class_agnostic:
            raise ValueError('OVBBoxHead regresses class-agnostic boxes (novel classes have no '
                             'trained regressor); set reg_class_agnostic=True')
        base, novel = split_classes(names, base_classes, novel_classes)
        loss_cls = dict(loss_cls)
        if background_weight != 1.0:
            if 'class_weight' in loss_cls:
                raise ValueError('give background_weight or loss_cls.class_weight, not both')
            loss_cls['class_weight'] = [1.0] * len(names) + [float(background_weight)]
        super().__init__(num_shared_convs=num_shared_convs, num_shared_fcs=num_shared_fcs,
                         num_cls_fcs=num_cls_fcs, num_reg_fcs=num_reg_fcs,
                         reg_class_agnostic=True, num_classes=len(names), loss_cls=loss_cls,
                         **kwargs)
        if self.custom_cls_channels or getattr(self.loss_cls, 'use_sigmoid', False):
            raise ValueError('OVBBoxHead needs a softmax classification loss (CrossEntropyLoss '
                             'with use_sigmoid=False)')
        self.class_names = names
        self.base_classes, self.novel_classes = base, novel
        self.embed_dim = int(text.embeddings.shape[1])
        # Class-count-free parameters only: the vocabulary comes from the file at every build.
        self.fc_cls = nn.Linear(self.cls_last_dim, self.embed_dim)
        self.register_buffer('text_embeddings', F.normalize(text.embeddings, dim=-1),
                             persistent=False)
        background = F.normalize(text.background, dim=-1)
        if learn_background:
            self.background_embedding = nn.Parameter(background.clone())
        else:
            self.register_buffer('background_embedding', background, persistent=False)
        self.logit_scale = nn.Parameter(torch.tensor(float(learned_temperature)))
        if isinstance(clip_logit_bias, str) and clip_logit_bias != 'file':
            raise ValueError(f"clip_logit_bias must be 'file', a number or None, got "
                             f'{clip_logit_bias!r}')
        self.clip_logit_bias_option = clip_logit_bias
        self.clip_temperature = float(clip_temperature)
        self._set_clip_scoring(text)
        self.alpha, self.beta = float(alpha), float(beta)
        novel_mask = torch.zeros(len(names) + 1, dtype=torch.bool)
        novel_mask[[names.index(n) for n in novel]] = True
        self.register_buffer('novel_mask', novel_mask, persistent=False)

    def set_vocabulary(self, embeddings: ClassEmbeddings, base_classes: Sequence[str] = ()) -> None:
        """Score another vocabulary from now on, without rebuilding the head.

        The class embeddings, class names and count become those of ``embeddings``; its
        background row replaces the background embedding unless that is learned
        (``learn_background``); the names in ``base_classes`` are fused as base classes
        (``alpha``), every other name as novel (``beta``). Trained parameters are untouched.
        """
        names = list(embeddings.names)
        rows = embeddings.embeddings
        if not names or rows.dim() != 2 or rows.shape != (len(names), self.embed_dim):
            raise ValueError(f'a vocabulary of {len(names)} names with embeddings '
                             f'{tuple(rows.shape)} does not fit this head: it needs one '
                             f'{self.embed_dim}-d row per name (the CLIP model of the backbone)')
        base, novel = split_classes(names, [n for n in names if n in set(base_classes)], None)
        device = self.text_embeddings.device
        self.text_embeddings = F.normalize(rows.float(), dim=-1).to(device)
        if not isinstance(self.background_embedding, nn.Parameter):
            self.background_embedding = F.normalize(embeddings.background.float(), dim=-1).to(device)
        novel_mask = torch.zeros(len(names) + 1, dtype=torch.bool, device=device)
        novel_mask[[names.index(n) for n in novel]] = True
        self.novel_mask = novel_mask
        weights = getattr(self.loss_cls, 'class_weight', None)
        if weights is not None:  # one weight per class, the background's last
            self.loss_cls.class_weight = [1.0] * len(names) + [weights[-1]]
        self.class_names, self.num_classes = names, len(names)
        self.base_classes, self.novel_classes = base, novel
        self._set_clip_scoring(embeddings)

    def _set_clip_scoring(self, text: ClassEmbeddings) -> None:
        """The CLIP region scores' scale and bias (``None``: softmax) for embeddings ``text``
        under the ``clip_logit_bias`` option."""
        option = self.clip_logit_bias_option
        self.clip_scale, self.clip_bias = self.clip_temperature, None
        if option == 'file':
            if text.sigmoid:
                self.clip_bias = float(text.logit_bias)
                if text.logit_scale is not None:
                    self.clip_scale = float(text.logit_scale)
        elif option is not None:
            self.clip_bias = float(option)

    @property
    def all_embeddings(self) -> torch.Tensor:
        """``(C + 1) x D`` normalised class embeddings, background last."""
        background = F.normalize(self.background_embedding, dim=-1)
        return torch.cat([self.text_embeddings, background[None]], dim=0)

    def forward(self, x: torch.Tensor, clip_region_feats: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        """RoI features ``K x C_in x s x s`` -> (scores ``K x (C+1)``, deltas ``K x 4``).

        Scores are logits in training mode and probabilities in eval mode
        (fused with CLIP when ``clip_region_feats`` (``K x D``) is given).
        """
        region_embed, bbox_pred = super().forward(x)
        embeddings = self.all_embeddings.to(region_embed.dtype)
        logits = self.logit_scale * F.normalize(region_embed, dim=-1) @ embeddings.t()
        if self.training:
            return logits, bbox_pred
        probs = logits.softmax(dim=-1)
        if clip_region_feats is not None:
            clip_probs = clip_region_probs(clip_region_feats.to(probs.dtype), embeddings,
                                           self.clip_scale, self.clip_bias)
            probs = fuse_scores(probs, clip_probs, self.novel_mask, self.alpha, self.beta)
        return probs, bbox_pred

    def loss(self, cls_score: torch.Tensor, bbox_pred: torch.Tensor, rois: torch.Tensor,
             labels: torch.Tensor, label_weights: torch.Tensor, bbox_targets: torch.Tensor,
             bbox_weights: torch.Tensor, reduction_override: Optional[str] = None) -> dict:
        """mmdet's loss with the novel-class logits masked out of the softmax."""
        if cls_score is not None and cls_score.numel() > 0:
            novel = self.novel_mask.to(labels.device)
            bad = labels[(labels >= 0) & novel[labels.clamp(min=0)]]
            if bad.numel():
                names = sorted({self.class_names[i] for i in bad.tolist()})
                raise ValueError(f'novel-class instances reached training ({names[:5]}): novel '
                                 'classes must be excluded from the training data (use '
                                 'OVCocoDataset/OVLVISV1Dataset with drop_novel=True or a base-only '
                                 'annotation file from tools/prepare_ov_*.py)')
            cls_score = cls_score.masked_fill(novel.to(cls_score.device), float('-inf'))
        return super().loss(cls_score, bbox_pred, rois, labels, label_weights, bbox_targets,
                            bbox_weights, reduction_override=reduction_override)

    def _predict_by_feat_single(self, roi: torch.Tensor, cls_score: torch.Tensor,
                                bbox_pred: torch.Tensor, img_meta: dict, rescale: bool = False,
                                rcnn_test_cfg: Optional[ConfigDict] = None) -> InstanceData:
        """mmdet's box decoding, with ``cls_score`` taken as (fused) probabilities."""
        if roi.shape[0] == 0:
            return super()._predict_by_feat_single(roi, cls_score, bbox_pred, img_meta,
                                                   rescale=rescale, rcnn_test_cfg=rcnn_test_cfg)
        raw = super()._predict_by_feat_single(roi, cls_score, bbox_pred, img_meta,
                                              rescale=rescale, rcnn_test_cfg=None)
        results = InstanceData()
        if rcnn_test_cfg is None:
            results.bboxes, results.scores = raw.bboxes, cls_score
            return results
        det_bboxes, det_labels = multiclass_nms(raw.bboxes, cls_score, rcnn_test_cfg.score_thr,
                                                rcnn_test_cfg.nms, rcnn_test_cfg.max_per_img,
                                                box_dim=4)
        results.bboxes = det_bboxes[:, :-1]
        results.scores = det_bboxes[:, -1]
        results.labels = det_labels
        return results
