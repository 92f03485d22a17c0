"""Your images, your words: open-vocabulary inference with the vocabulary given at call time.

Two inferencers, built from a config (and a checkpoint) like mmdet's ``DetInferencer`` and
mmseg's ``MMSegInferencer``, whose model building, test pipeline, batching and visualizers
they reuse:

* :class:`OVDetInferencer`: the F-ViT detector (``OVBBoxHead``);
* :class:`OVSegInferencer`: the Cat-Seg-style (``CatSegOVHead``) and the training-free
  (``DenseCosineOVHead``) segmentors; the training-free one needs no checkpoint, the CLIP file
  of its config is all it reads.

``ov_inferencer(config, checkpoint)`` picks the right one. Call either on an image path, a folder
(every image under it), a numpy array (BGR, as ``mmcv.imread`` gives) or a list of them, with
``texts=`` the words (``'cat, remote control'``, ``'cat . remote control'`` or a list). The
words are embedded by the CLIP text tower of the model (:func:`find_text_tower`) with the
package's prompt templates (:class:`~refclip_mm.clip.VocabularyEncoder`: once per vocabulary,
optionally cached on disk) and swapped into the built model's heads (``set_vocabulary``); the
model is never rebuilt. Detection: a word that is one of the detector's training base classes
is fused as a base class (``alpha``), every other word as a novel one (``beta``), see
docs/detection.md. Images that cannot be read are reported in ``failed`` and skipped.
"""
import hashlib
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import mmengine
import numpy as np
from mmdet.apis import DetInferencer
from mmengine.config import Config, ConfigDict
from mmengine.device import get_device
from mmengine.runner import load_state_dict
from mmengine.utils import ProgressBar
from mmseg.apis import MMSegInferencer

from ..clip import (ClassEmbeddings, CLIPTextTower, VocabularyEncoder, build_text_tower,
                    load_class_embeddings, parse_words)
from ..clip.class_names import read_class_names
from ..clip.convert import LOCAL_DIR_PREFIX, local_dir_weights, model_folder
from ..clip.text import TemplatesType, get_templates
from ..clip.vocabulary import WordsType, word_key
from ..datasets.ov_detection import read_class_list, split_classes
from ..datasets.unlabeled import list_images
from ..utils.checkpoint import CheckpointError, extract_state_dict
from ..utils.quiet_log import dropped_log_messages
from .runs import load_config

InputType = Union[str, np.ndarray]
InputsType = Union[InputType, Sequence[InputType]]
VIS_DIR, PRED_DIR = 'vis', 'preds'  # under out_dir: the pictures and the JSON per image
DEFAULT_TEMPLATES = dict(detection='detection', segmentation='imagenet80')
OV_BBOX_HEADS = ('OVBBoxHead', 'refclip_mm.OVBBoxHead')
# what mmdet's / mmseg's inferencers log while building that asks nothing of a user: their
# collate function is looked up in a scope without a function registry, and found in mmengine's
UPSTREAM_NOISE = ('in the "function" registry tree', )
# test-pipeline steps that read labels, which an image of one's own does not have
LABEL_LOADERS = ('LoadAnnotations', 'LoadCheckedSegMap', 'LoadDepthAnnotation')


def task_of(cfg: Config) -> str:
    """``'detection'`` (a model with a ``roi_head``) or ``'segmentation'`` (a ``decode_head``)."""
    model = cfg.get('model') or {}
    if 'roi_head' in model:
        return 'detection'
    if 'decode_head' in model:
        return 'segmentation'
    raise ValueError('the config\'s model has neither a roi_head (F-ViT detector) nor a '
                     'decode_head (segmentor): open-vocabulary inference needs one of them')


def find_text_tower(cfg: Config, checkpoint: Optional[str] = None,
                    clip_weights: Optional[str] = None) -> Tuple[CLIPTextTower, str]:
    """The CLIP text tower that embeds the words, and the file it was read from.

    The architecture is the backbone's ``clip_model`` (or the one its weight file records); the
    weights come from ``clip_weights`` when given, else from the CLIP file the config names
    (``model.backbone.pretrained``), else from ``checkpoint`` if it holds a text tower. Each may
    also be an open_clip model folder (``'local-dir:FOLDER'``, or a folder holding
    ``open_clip_config.json``): its weight file and its tokenizer (a SigLIP text tower's), and
    its architecture where the backbone names none.

    Raises:
        ValueError: no candidate holds a text tower (the message lists what was tried and how
            to name the CLIP file).
    """
    backbone = cfg.model.get('backbone') or {}
    arch = backbone.get('clip_model')
    arch = arch.to_dict() if isinstance(arch, ConfigDict) else arch
    if clip_weights is not None:
        candidates = [('clip_weights', clip_weights)]
    else:
        candidates = [(what, path) for what, path in (
            ('model.backbone.pretrained', backbone.get('pretrained')), ('the checkpoint', checkpoint))
            if path is not None]
    tried = []
    for what, path in candidates:
        folder = model_folder(path)
        try:
            weights = local_dir_weights(folder) if folder else osp.expanduser(str(path))
        except FileNotFoundError as err:
            tried.append(f'{what} {path!r}: {err}')
            continue
        if not osp.isfile(weights):
            tried.append(f'{what} {path!r}: file not found')
            continue
        try:
            if folder is None:
                return build_text_tower(arch, weights), str(path)
            return build_text_tower(arch or LOCAL_DIR_PREFIX + folder, weights,
                                    tokenizer_dir=folder), str(path)
        except (CheckpointError, ValueError) as err:
            reason = ('holds no text-tower weights' if 'no text-tower weights' in str(err)
                      else str(err))
            tried.append(f'{what} {path!r}: {reason}')
    if not candidates:
        tried.append('the config\'s model.backbone.pretrained is None and no checkpoint was given')
    raise ValueError('no CLIP text tower to embed the words with: ' + '; '.join(tried) + '. Give '
                     'the CLIP weight file the backbone was made from (the open_clip / OpenAI / '
                     'EVA-CLIP file with both towers, or its open_clip model folder) as '
                     'clip_weights= (tools/infer.py --clip-weights FILE)')


def _ov_heads(cfg: Config, task: str) -> List[ConfigDict]:
    """The config dicts of the model's open-vocabulary heads."""
    if task == 'detection':
        heads = cfg.model.roi_head.get('bbox_head')
        heads = heads if isinstance(heads, (list, tuple)) else [heads]
        heads = [h for h in heads if h is not None and h.get('type') in OV_BBOX_HEADS]
        what = 'an OVBBoxHead'
    else:
        head = cfg.model.decode_head
        heads = [head] if ('class_embeddings' in head or 'test_class_embeddings' in head
                           or str(head.get('type', '')).endswith(('CatSegOVHead',
                                                                  'DenseCosineOVHead'))) else []
        what = 'a CatSegOVHead or DenseCosineOVHead decode head'
    if not heads:
        raise ValueError(f'the config has no open-vocabulary head: its model needs {what}')
    return heads


def _embedding_files(heads: Sequence[ConfigDict]) -> List[str]:
    """The class-embedding files the config's heads name that exist here."""
    files = []
    for head in heads:
        for key in ('test_class_embeddings', 'class_embeddings'):
            path = head.get(key)
            if isinstance(path, str) and osp.isfile(path):
                files.append(path)
    return files


def config_templates(heads: Sequence[ConfigDict]) -> Optional[List[str]]:
    """The prompt templates of the config's own class-embedding file, when it is here and
    records them (the model was trained / evaluated with those prompts)."""
    for path in _embedding_files(heads):
        try:
            return get_templates(load_class_embeddings(path).templates)
        except (CheckpointError, ValueError):
            continue
    return None


def config_base_classes(head: ConfigDict) -> Optional[List[str]]:
    """The base (training) classes of an ``OVBBoxHead`` config: its class names minus the novel
    ones; ``None`` when the config does not say (no class names and no embedding file here, or
    a class-list file it names is not here)."""
    try:
        names = read_class_list(head.get('class_names'), 'class_names')
        if names is None:
            path = head.get('class_embeddings')
            if not (isinstance(path, str) and osp.isfile(path)):
                return None
            names = load_class_embeddings(path).names
        base, _ = split_classes(names, head.get('base_classes'), head.get('novel_classes'))
    except (OSError, ValueError, CheckpointError):  # a class list or split file not here
        return None
    return base


def word_palette(words: Sequence[str]) -> List[Tuple[int, int, int]]:
    """One colour per word, the same in every vocabulary (from a hash of the word)."""
    colours = []
    for word in words:
        digest = hashlib.md5(word_key(word).encode()).digest()
        colours.append(tuple(48 + b * 207 // 255 for b in digest[:3]))
    return colours


def unreadable(path: str) -> Optional[str]:
    """Why ``path`` is not an image that can be read, or ``None`` when it is one."""
    if not osp.isfile(path):
        return 'file not found'
    try:
        image = mmcv.imread(path)
    except Exception as err:  # noqa: B902 (any decoder error means the same)
        return f'cannot be read as an image ({type(err).__name__}: {err})'
    if image is None or image.size == 0:
        return 'cannot be decoded as an image (corrupt or not an image)'
    return None


def named_inputs(inputs: InputsType) -> List[Tuple[str, InputType]]:
    """``(name, input)`` for every image: a folder gives every image under it (named by its path
    inside the folder), a file its file name, an array ``<index>.jpg``; names are unique.

    Raises:
        ValueError: a folder without images, or nothing to run on.
    """
    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    named: List[Tuple[str, InputType]] = []
    for index, item in enumerate(items):
        if isinstance(item, np.ndarray):
            named.append((f'{index:08d}.jpg', item))
        elif isinstance(item, str) and osp.isdir(item):
            named.extend((rel, osp.join(item, rel)) for rel in list_images(item))
        elif isinstance(item, str):
            named.append((osp.basename(item) or item, item))
        else:
            raise TypeError(f'an input is an image path, a folder or a numpy array, got '
                            f'{type(item).__name__}')
    if not named:
        raise ValueError('no input images given')
    seen: Dict[str, int] = {}
    unique = []
    for name, item in named:
        count = seen.get(name, 0)
        seen[name] = count + 1
        if count:
            stem, ext = osp.splitext(name)
            name = f'{stem}-{count}{ext}'
        unique.append((name, item))
    return unique


def _strip_label_loaders(cfg: Config) -> None:
    pipeline = ((cfg.get('test_dataloader') or {}).get('dataset') or {}).get('pipeline')
    if not pipeline:
        raise ValueError('the config has no test_dataloader.dataset.pipeline: inference runs '
                         'each image through the test transforms of the config')
    pipeline[:] = [t for t in pipeline if str(t['type']).split('.')[-1] not in LABEL_LOADERS]


class OpenVocabularyMixin:
    """What the detection and segmentation inferencers share: the vocabulary, the inputs,
    unreadable images, the call loop and the output files. See the module docstring."""

    task = ''
    encoder: VocabularyEncoder
    vocabulary: Optional[List[str]] = None
    base_words: List[str] = []  # the words fused as base classes (detection)

    def _prepare(self, model: Union[str, Config], weights: Optional[str], texts: Optional[WordsType],
                 clip_weights: Optional[str], templates: Optional[TemplatesType],
                 cache_dir: Optional[str], device: Optional[str], cfg_options: Optional[dict],
                 ) -> Tuple[Config, str, ClassEmbeddings]:
        """The config with the heads' class embeddings replaced by the first vocabulary (the
        words given, or a one-word placeholder until a call gives them), and the device."""
        cfg = load_config(model, cfg_options)
        if task_of(cfg) != self.task:
            raise ValueError(f'{type(self).__name__} runs {self.task} configs, and '
                             f'{cfg.filename!r} is a {task_of(cfg)} config: use ov_inferencer()')
        if weights is not None and not osp.isfile(weights):
            raise FileNotFoundError(f'checkpoint not found: {weights!r}')
        device = device or get_device()
        if cfg.get('visualizer') is not None:  # pictures go to out_dir as files: no backend
            cfg.visualizer.vis_backends = None  # (whose missing save_dir would be warned about)
        heads = _ov_heads(cfg, self.task)
        tower, source = find_text_tower(cfg, weights, clip_weights)
        if templates is None:
            templates = config_templates(heads) or DEFAULT_TEMPLATES[self.task]
        self.encoder = VocabularyEncoder(tower.to(device), templates, model=str(source),
                                         cache_dir=cache_dir)
        self.text_source = source
        self._words = self.check_vocabulary(parse_words(texts)) if texts is not None else None
        first = self.encoder.encode(self._words or [self.encoder.background_name])
        self._checkpoint_meta: dict = {}
        return cfg, device, first

    # ---- model, pipeline -------------------------------------------------------------------
    def _load_weights_to_model(self, model, checkpoint: Optional[dict], cfg) -> None:
        if checkpoint is not None:
            load_state_dict(model, extract_state_dict(checkpoint), strict=False)
            self._checkpoint_meta = checkpoint.get('meta') or {}
        elif self.needs_checkpoint(model):
            warnings.warn(f'no checkpoint given: the trained parts of the {self.task} model are '
                          'random, its predictions mean nothing')
        model.dataset_meta = self._dataset_meta(self._words or [])

    def needs_checkpoint(self, model) -> bool:
        return True

    def _init_pipeline(self, cfg):
        _strip_label_loaders(cfg)
        return super()._init_pipeline(cfg)

    @staticmethod
    def _dataset_meta(words: Sequence[str]) -> dict:
        return dict(classes=tuple(words), palette=word_palette(words))

    # ---- the vocabulary --------------------------------------------------------------------
    def check_vocabulary(self, words: List[str]) -> List[str]:
        """``words``, or an error saying why the task cannot use them."""
        return words

    def set_vocabulary(self, texts: WordsType) -> List[str]:
        """Embed ``texts`` (once per vocabulary) and swap them into the model's heads; returns
        the words (:func:`~refclip_mm.clip.parse_words`)."""
        words = self.check_vocabulary(parse_words(texts))
        embeddings = self.encoder.encode(words)
        heads = [m for m in self.model.modules() if callable(getattr(m, 'set_vocabulary', None))]
        for head in heads:
            self._swap(head, embeddings)
        self.vocabulary = self._words = words
        self.model.dataset_meta = self._dataset_meta(words)
        if self.visualizer is not None:
            self.visualizer.dataset_meta = self.model.dataset_meta
        return words

    def _swap(self, head, embeddings: ClassEmbeddings) -> None:
        raise NotImplementedError

    # ---- the call --------------------------------------------------------------------------
    def _batches(self, items, batch_size: int, failed: list, bar):
        """Lists of ``(name, input, pipeline output)``; an image that cannot be read goes to
        ``failed`` (any other pipeline error is raised)."""
        batch = []
        for name, item in items:
            try:
                data = self.pipeline(item)
            except Exception:
                reason = unreadable(item) if isinstance(item, str) else None
                if reason is None:
                    raise
                failed.append(dict(image=item, error=reason))
                if bar is not None:
                    bar.update()
                continue
            batch.append((name, item, data))
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _run(self, inputs: InputsType, texts: Optional[WordsType], batch_size: int, out_dir: str,
             show: bool, wait_time: float, return_vis: bool, return_datasamples: bool,
             **draw) -> dict:
        if texts is not None:
            self.set_vocabulary(texts)
        if self.vocabulary is None:
            raise ValueError('no vocabulary: give the words to look for, texts="cat, remote '
                             'control" (here or when building the inferencer)')
        if batch_size < 1:
            raise ValueError(f'batch_size must be at least 1, got {batch_size}')
        items = named_inputs(inputs)
        results: dict = dict(predictions=[], visualization=[], failed=[])
        bar = ProgressBar(len(items)) if self.show_progress and len(items) > 1 else None
        for batch in self._batches(items, batch_size, results['failed'], bar):
            preds = self.forward(self.collate_fn([data for _, _, data in batch]))
            for (name, item, _), pred in zip(batch, preds):
                vis = self._draw(name, item, pred, out_dir, show, wait_time, return_vis, **draw)
                if vis is not None:
                    results['visualization'].append(vis)
                record = self._record(name, item, pred, out_dir, **draw)
                results['predictions'].append(pred if return_datasamples else record)
                if bar is not None:
                    bar.update()
        if bar is not None:
            bar.file.write('\n')
        return results

    def _draw(self, name: str, item: InputType, pred, out_dir: str, show: bool, wait_time: float,
              return_vis: bool, **draw) -> Optional[np.ndarray]:
        if not (show or out_dir or return_vis):
            return None
        image = mmcv.imread(item) if isinstance(item, str) else item
        image = mmcv.bgr2rgb(image) if image.ndim == 3 else image
        out_file = osp.join(out_dir, VIS_DIR, name) if out_dir else None
        self._add_datasample(name, image, pred, show, wait_time, out_file, **draw)
        return self.visualizer.get_image() if return_vis else None

    def _add_datasample(self, name, image, pred, show, wait_time, out_file, **draw) -> None:
        raise NotImplementedError

    def _record(self, name: str, item: InputType, pred, out_dir: str, **draw) -> dict:
        raise NotImplementedError

    @staticmethod
    def _json_path(out_dir: str, name: str, suffix: str = '.json') -> str:
        return osp.join(out_dir, PRED_DIR, osp.splitext(name)[0] + suffix)


class OVDetInferencer(OpenVocabularyMixin, DetInferencer):
    """mmdet's ``DetInferencer`` for an F-ViT config, with the vocabulary given at call time.

    Args:
        model: the config (a path or a ``Config``).
        weights: the trained detector's checkpoint.
        texts: a first vocabulary (calls may give another one).
        clip_weights: the CLIP file whose text tower embeds the words (default: the config's
            ``model.backbone.pretrained``, then the checkpoint; see :func:`find_text_tower`).
        templates: prompt templates (default: those of the config's class-embedding file when
            it is here, else the 12 ``detection`` templates).
        base_classes: the words fused as base classes when given (default: the detector's
            training base classes, from the config or the checkpoint's dataset meta).
        cache_dir: on-disk cache of the embedded vocabularies (default: memory only).
        device / show_progress / cfg_options: as mmdet's; config overrides by key.

    Call: ``inferencer(inputs, texts=None, batch_size=1, out_dir='', show=False,
    pred_score_thr=0.3, return_datasamples=False, return_vis=False)`` -> ``dict(predictions,
    visualization, failed)``: per image a dict with the image, the vocabulary (``classes``)
    and mmdet's ``labels`` / ``scores`` / ``bboxes`` (``masks`` for Mask R-CNN) plus
    ``label_names``, keeping the boxes scoring at least ``pred_score_thr`` (what is drawn);
    with ``out_dir``, pictures in ``out_dir/vis/`` and one JSON per image in ``out_dir/preds/``.
    """

    task = 'detection'

    def __init__(self, model: Union[str, Config], weights: Optional[str] = None,
                 texts: Optional[WordsType] = None, clip_weights: Optional[str] = None,
                 templates: Optional[TemplatesType] = None,
                 base_classes: Optional[Sequence[str]] = None, cache_dir: Optional[str] = None,
                 device: Optional[str] = None, show_progress: bool = True,
                 cfg_options: Optional[dict] = None) -> None:
        cfg, device, first = self._prepare(model, weights, texts, clip_weights, templates,
                                           cache_dir, device, cfg_options)
        heads = _ov_heads(cfg, self.task)
        self._config_base = config_base_classes(heads[0])
        for head in heads:  # the vocabulary replaces the training classes
            head.update(class_embeddings=first, class_names=None, novel_classes=None,
                        base_classes=None)
            head.pop('num_classes', None)
        self._base_override = None if base_classes is None else list(base_classes)
        with dropped_log_messages(*UPSTREAM_NOISE):
            super().__init__(model=cfg, weights=weights, device=device,
                             scope=cfg.get('default_scope', 'mmdet'), show_progress=show_progress)
        if not self.base_classes and self._base_override is None:
            warnings.warn('the detector\'s training base classes are unknown (the config names no '
                          'class_names and its class-embedding file is not here; the checkpoint '
                          'records no dataset_meta.base_classes): every word is fused as a novel '
                          'class; name them with base_classes=')
        if self._words is not None:
            self.set_vocabulary(self._words)

    @property
    def base_classes(self) -> List[str]:
        """The names fused as base classes when they are words of the vocabulary: the
        detector's training base classes (the ``base_classes`` argument, else the config's, else
        the checkpoint's dataset meta; none known: every word is novel)."""
        if self._base_override is not None:
            return self._base_override
        if self._config_base is not None:
            return self._config_base
        meta = self._checkpoint_meta.get('dataset_meta') or {}
        return list(meta.get('base_classes') or [])

    def _swap(self, head, embeddings: ClassEmbeddings) -> None:
        known = {word_key(name) for name in self.base_classes}
        self.base_words = [w for w in embeddings.names if word_key(w) in known]
        head.set_vocabulary(embeddings, self.base_words)

    def __call__(self, inputs: InputsType, texts: Optional[WordsType] = None,
                 batch_size: int = 1, out_dir: str = '', show: bool = False,
                 wait_time: float = 0, pred_score_thr: float = 0.3,
                 return_datasamples: bool = False, return_vis: bool = False) -> dict:
        return self._run(inputs, texts, batch_size, out_dir, show, wait_time, return_vis,
                         return_datasamples, pred_score_thr=pred_score_thr)

    def _add_datasample(self, name, image, pred, show, wait_time, out_file,
                        pred_score_thr: float = 0.3) -> None:
        self.visualizer.add_datasample(name, image, pred, draw_gt=False, show=show,
                                       wait_time=wait_time, pred_score_thr=pred_score_thr,
                                       out_file=out_file)

    def _record(self, name: str, item: InputType, pred, out_dir: str,
                pred_score_thr: float = 0.3) -> dict:
        raw = self.pred2dict(pred, '')
        keep = [i for i, score in enumerate(raw.get('scores', [])) if score >= pred_score_thr]
        words = list(self.vocabulary)
        record = dict(image=item if isinstance(item, str) else name, classes=words,
                      base_classes=list(self.base_words))
        for key in ('labels', 'scores', 'bboxes', 'masks'):
            if key in raw:
                record[key] = [raw[key][i] for i in keep]
        record['label_names'] = [words[label] for label in record.get('labels', [])]
        if out_dir:
            mmengine.dump(record, self._json_path(out_dir, name))
        return record


class OVSegInferencer(OpenVocabularyMixin, MMSegInferencer):
    """mmseg's ``MMSegInferencer`` for a Cat-Seg-style or training-free config, with the
    vocabulary given at call time. Every pixel gets one of the words (there is no "none of
    them"): add words for what else is in the pictures (``'background'``, ``'wall'``, ...).

    Args: as :class:`OVDetInferencer` (no ``base_classes``); ``weights`` may be left out for a
    training-free config, whose tower comes from its CLIP file (``model.backbone.pretrained``).
    Default templates: those of the config's class-embedding file, else ``imagenet80``.

    Call: ``inferencer(inputs, texts=None, batch_size=1, out_dir='', show=False, opacity=0.8,
    return_datasamples=False, return_vis=False)`` -> ``dict(predictions, visualization,
    failed)``: per image a dict with the image, ``classes``, ``sem_seg`` (``H x W`` label ids)
    and ``pixels`` (pixel count per word present); with ``out_dir``, pictures in ``vis/``, and
    in ``preds/`` the label map as a PNG (8-bit, 16-bit above 255 words) and a JSON per image.
    """

    task = 'segmentation'

    def __init__(self, model: Union[str, Config], weights: Optional[str] = None,
                 texts: Optional[WordsType] = None, clip_weights: Optional[str] = None,
                 templates: Optional[TemplatesType] = None, cache_dir: Optional[str] = None,
                 device: Optional[str] = None, show_progress: bool = True,
                 cfg_options: Optional[dict] = None) -> None:
        cfg, device, first = self._prepare(model, weights, texts, clip_weights, templates,
                                           cache_dir, device, cfg_options)
        for head in _ov_heads(cfg, self.task):
            head.update(class_embeddings=first, test_class_embeddings=first)
        words = list(first.names)
        with dropped_log_messages(*UPSTREAM_NOISE):
            super().__init__(model=cfg, weights=weights, classes=words, palette=word_palette(words),
                             device=device, scope=cfg.get('default_scope', 'mmseg'))
        self.show_progress = show_progress
        if self._words is not None:
            self.set_vocabulary(self._words)

    def needs_checkpoint(self, model) -> bool:
        return any(p.requires_grad for p in model.decode_head.parameters())

    def check_vocabulary(self, words: List[str]) -> List[str]:
        if len(words) < 2:  # mmseg would segment one class as a binary mask of it
            raise ValueError(f'a segmentor gives every pixel one of the words, so {words} alone '
                             'would cover the whole picture: give at least two (e.g. '
                             f'"{words[0]}, background")')
        return words

    def _swap(self, head, embeddings: ClassEmbeddings) -> None:
        head.set_vocabulary(embeddings, 'test')

    def __call__(self, inputs: InputsType, texts: Optional[WordsType] = None,
                 batch_size: int = 1, out_dir: str = '', show: bool = False,
                 wait_time: float = 0, opacity: float = 0.8, return_datasamples: bool = False,
                 return_vis: bool = False) -> dict:
        return self._run(inputs, texts, batch_size, out_dir, show, wait_time, return_vis,
                         return_datasamples, opacity=opacity)

    def _add_datasample(self, name, image, pred, show, wait_time, out_file,
                        opacity: float = 0.8) -> None:
        self.visualizer.alpha = opacity
        self.visualizer.add_datasample(name, image, pred, draw_gt=False, draw_pred=True,
                                       show=show, wait_time=wait_time, out_file=out_file,
                                       with_labels=True)

    def _record(self, name: str, item: InputType, pred, out_dir: str,
                opacity: float = 0.8) -> dict:
        words = list(self.vocabulary)
        labels = pred.pred_sem_seg.data[0].long().cpu().numpy()
        counts = np.bincount(labels.ravel(), minlength=len(words))
        record = dict(image=item if isinstance(item, str) else name, classes=words,
                      height=int(labels.shape[0]), width=int(labels.shape[1]),
                      pixels={words[k]: int(c) for k, c in enumerate(counts) if c})
        if out_dir:
            png = self._json_path(out_dir, name, '.png')
            mmcv.imwrite(labels.astype(np.uint8 if len(words) <= 256 else np.uint16), png)
            written = dict(record, sem_seg_file=osp.relpath(png, out_dir))
            mmengine.dump(written, self._json_path(out_dir, name))
            record = written
        record['sem_seg'] = labels
        return record


def ov_inferencer(model: Union[str, Config], weights: Optional[str] = None, **kwargs
                  ) -> Union[OVDetInferencer, OVSegInferencer]:
    """The inferencer of a config: :class:`OVDetInferencer` for an F-ViT detector,
    :class:`OVSegInferencer` for a segmentor; ``kwargs`` go to it."""
    cfg = load_config(model, kwargs.pop('cfg_options', None))
    cls = OVDetInferencer if task_of(cfg) == 'detection' else OVSegInferencer
    return cls(cfg, weights, **kwargs)


def read_words_file(path: str) -> List[str]:
    """The words listed in a file (one per line, ``#`` comments, or a JSON list)."""
    return read_class_names(path)
