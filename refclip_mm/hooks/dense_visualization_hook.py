"""DenseVisualizationHook: a dense-feature panel every N training iterations."""
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop

from ..evaluation.dense_visualization import make_panel, save_png, stack_panels
from ..models.dense_source import DenseFn, find_dense_fn
from ..models.segmentors.dense_feature_segmentor import crop_padding
from ..registry import HOOKS


@HOOKS.register_module()
class DenseVisualizationHook(Hook):
    """Log a panel of dense-feature pictures (PCA->RGB, k-means, point correlation).

    Every ``interval`` training iterations (and before the first one when
    ``draw_at_start``) the hook runs the model's dense tower on a few fixed
    images and draws one :func:`~refclip_mm.evaluation.make_panel` per image,
    stacked vertically, one column per entry of ``dense_attrs``. The picture
    goes to the runner's visualizer (``add_image(name, image, step)``, so it
    lands in every vis backend) and to ``{work_dir}/{out_dir}/{name}_iter_{step}.png``.
    Only the main process draws; the model is put in eval mode, without
    gradients, and restored afterwards.

    Contract with the model (the unwrapped ``runner.model``): for every entry of
    ``dense_attrs`` (``None`` = the model itself) the hook finds a dense map as
    :func:`refclip_mm.models.dense_source.find_dense_fn` does: preferably the module
    offers ``extract_dense(images) -> B x D x h x w`` (stage-1 and stage-2
    models do), else a CLIP tower / ``CLIPViT``-like backbone is used (for
    ``None``: also ``model.backbone``). ``images`` are what
    ``model.data_preprocessor`` makes of the raw images.

    Images: ``image_paths`` (read as BGR like ``LoadImageFromFile``, resized to
    ``img_size x img_size`` when given) or else the first ``num_images``
    samples of the runner's ``dataloader`` (``'val'``/``'train'``/``'test'``;
    ``'auto'``: val if the config has one, else train) dataset, taken once
    before training (raw ``inputs`` of the pipeline, augmentation included).

    Args:
        interval: draw every ``interval`` training iterations.
        dense_attrs: dotted sub-module path(s) of the columns (e.g.
            ``['backbone', 'teacher']``); ``None`` = one column for the model.
        names: column titles (default: the paths, ``'model'`` for ``None``).
        image_paths / img_size / dataloader / num_images: the images (above).
        point: ``(y, x)`` fractions of the correlation query point.
        num_clusters: ``k`` of the per-image k-means row.
        cell: pixel size of every panel cell.
        seed: k-means seed.
        draw_at_start: also draw before the first iteration (step 0).
        name: image name for the visualizer and the PNG files.
        out_dir: folder under the work dir for the PNG files.
    """
    priority = 'LOW'

    def __init__(self,
                 interval: int = 500,
                 dense_attrs: Optional[Union[str, Sequence[Optional[str]]]] = None,
                 names: Optional[Sequence[str]] = None,
                 image_paths: Optional[Sequence[str]] = None,
                 img_size: Optional[int] = None,
                 dataloader: str = 'auto',
                 num_images: int = 2,
                 point: Tuple[float, float] = (0.5, 0.5),
                 num_clusters: int = 8,
                 cell: int = 128,
                 seed: int = 0,
                 draw_at_start: bool = True,
                 name: str = 'dense_features',
                 out_dir: str = 'dense_vis'):
        if interval < 1:
            raise ValueError(f'interval must be a positive number of iterations, got {interval}')
        if dataloader not in ('auto', 'val', 'train', 'test'):
            raise ValueError(f"dataloader must be 'auto', 'val', 'train' or 'test', got "
                             f'{dataloader!r}')
        attrs = [dense_attrs] if dense_attrs is None or isinstance(dense_attrs, str) else list(
            dense_attrs)
        if names is not None and len(names) != len(attrs):
            raise ValueError(f'names {list(names)} needs one title per dense_attrs entry {attrs}')
        self.interval = interval
        self.dense_attrs = attrs
        self.names = list(names) if names is not None else [a or 'model' for a in attrs]
        self.image_paths = list(image_paths) if image_paths else None
        self.img_size = img_size
        self.dataloader = dataloader
        self.num_images = num_images
        self.point = tuple(point)
        self.num_clusters = num_clusters
        self.cell = cell
        self.seed = seed
        self.draw_at_start = draw_at_start
        self.name = name
        self.out_dir = out_dir
        self._samples: Optional[List[Dict[str, Any]]] = None
        self.last_panel: Optional[np.ndarray] = None
        self.last_path: Optional[str] = None

    # ------------------------------------------------------------- images
    def _read_paths(self) -> List[Dict[str, Any]]:
        import mmcv
        samples = []
        for path in self.image_paths:
            image = mmcv.imread(path)  # BGR, like LoadImageFromFile
            if image is None:
                raise FileNotFoundError(f'DenseVisualizationHook cannot read image {path}')
            if self.img_size:
                image = mmcv.imresize(image, (self.img_size, self.img_size))
            samples.append(dict(inputs=torch.from_numpy(image).permute(2, 0, 1).contiguous()))
        return samples

    def _dataset_samples(self, runner) -> List[Dict[str, Any]]:
        order = ['val', 'train'] if self.dataloader == 'auto' else [self.dataloader]
        loader = None
        for which in order:
            loop = getattr(runner, f'_{which}_loop', None)
            if isinstance(loop, BaseLoop):          # already built by the runner
                loader = loop.dataloader
            else:
                loader = getattr(runner, f'_{which}_dataloader', None)
            if loader is not None:
                break
        if loader is None:
            raise ValueError(f'DenseVisualizationHook: the runner has no {" or ".join(order)} '
                             'dataloader; set dataloader= to another one or give image_paths')
        if isinstance(loader, dict):
            loader = runner.build_dataloader(loader)
        dataset = loader.dataset
        count = min(self.num_images, len(dataset))
        if count == 0:
            raise ValueError(f'the {which} dataset of DenseVisualizationHook is empty')
        return [dataset[i] for i in range(count)]

    def before_train(self, runner) -> None:
        self._samples = self._read_paths() if self.image_paths else self._dataset_samples(runner)
        if self.draw_at_start:
            self.draw(runner, step=runner.iter)

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None,
                         outputs: Any = None) -> None:
        if self.every_n_train_iters(runner, self.interval):
            self.draw(runner, step=runner.iter + 1)

    # ------------------------------------------------------------ drawing
    def _dense_fns(self, model) -> List[DenseFn]:
        return [find_dense_fn(model, attr) for attr in self.dense_attrs]

    def _prepare(self, model, sample: Dict[str, Any]) -> Tuple[torch.Tensor, np.ndarray, dict]:
        """Model-ready ``1 x 3 x H' x W'`` input, the RGB display image, the sample meta."""
        raw = sample['inputs']
        data = dict(inputs=[raw])
        if sample.get('data_samples') is not None:
            data['data_samples'] = [sample['data_samples']]
        data = model.data_preprocessor(data, False)
        inputs = data['inputs']
        pre = model.data_preprocessor
        bgr = getattr(pre, '_channel_conversion', getattr(pre, 'channel_conversion', False))
        image = raw.permute(1, 2, 0).cpu().numpy().astype(np.uint8)
        image = image[..., ::-1] if bgr else image
        height, width = raw.shape[-2:]
        pad = [0, inputs.shape[-1] - width, 0, inputs.shape[-2] - height]
        return inputs, np.ascontiguousarray(image), dict(padding_size=pad)

    @torch.no_grad()
    def make_picture(self, runner) -> np.ndarray:
        """The stacked panels for the current model (``H x W x 3`` uint8 RGB)."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if self._samples is None:
            self._samples = self._read_paths() if self.image_paths else self._dataset_samples(runner)
        fns = self._dense_fns(model)
        was_training = model.training
        model.eval()
        try:
            panels = []
            for sample in self._samples:
                inputs, image, meta = self._prepare(model, sample)
                dense = [crop_padding(fn(inputs)[0].float().cpu(), inputs.shape[-2:], meta)
                         for fn in fns]
                panels.append(make_panel(image, dense, self.names, point=self.point,
                                         num_clusters=self.num_clusters, cell=self.cell,
                                         seed=self.seed))
        finally:
            model.train(was_training)
        return stack_panels(panels)

    def draw(self, runner, step: int) -> None:
        """Draw, log to the visualizer and save ``{name}_iter_{step}.png`` (main process only)."""
        if not is_main_process():
            return
        picture = self.make_picture(runner)
        runner.visualizer.add_image(self.name, picture, step=step)
        path = osp.join(runner.work_dir, self.out_dir, f'{self.name}_iter_{step}.png')
        save_png(path, picture)
        self.last_panel, self.last_path = picture, path
        runner.logger.info(f'dense-feature panel of iteration {step} saved to {path}')
