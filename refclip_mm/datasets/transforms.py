"""Transforms for CLIP training stages: strict image loading, resize-longest-side + pad, packing."""
import logging
from typing import Optional, Sequence

import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement

from ..registry import TRANSFORMS

# OpenAI CLIP's image normalisation (also EVA02-CLIP's), RGB, 0-255 units: the package's one
# copy (configs take the same numbers from configs/_base_/clip_normalization.py; a test keeps
# the two equal)
CLIP_MEAN = (122.7709383, 116.7460125, 104.09373615)
CLIP_STD = (68.5005327, 66.6321579, 70.32316305)


def clip_image_preprocessor() -> dict:
    """mmengine ``ImgDataPreprocessor`` config: OpenAI CLIP mean/std, BGR -> RGB."""
    return dict(type='ImgDataPreprocessor', mean=CLIP_MEAN, std=CLIP_STD, bgr_to_rgb=True)


@TRANSFORMS.register_module()
class LoadImageChecked(BaseTransform):
    """Load ``results['img_path']`` as a BGR uint8 image; unreadable files are errors.

    Args:
        on_unreadable: ``'raise'`` (default): an unreadable or corrupt image
            raises ``IOError`` naming the file. ``'skip'``: log a warning naming
            the file and the running count of skipped images, and return
            ``None`` so the dataset fetches another image.
    """
    skipped = 0  # per process

    def __init__(self, on_unreadable: str = 'raise'):
        if on_unreadable not in ('raise', 'skip'):
            raise ValueError(f"on_unreadable must be 'raise' or 'skip', got {on_unreadable!r}")
        self.on_unreadable = on_unreadable

    def transform(self, results: dict) -> Optional[dict]:
        path = results['img_path']
        try:
            with open(path, 'rb') as f:
                img = mmcv.imfrombytes(f.read(), flag='color', channel_order='bgr')
            if img is None:
                raise ValueError('not a decodable image')
        except Exception as err:  # OSError, decoder errors
            if self.on_unreadable == 'raise':
                raise IOError(f'cannot read image {path!r} ({err}); fix or remove it, or set '
                              "on_unreadable='skip' in LoadImageChecked") from err
            type(self).skipped += 1
            print_log(f'skipping unreadable image {path!r} ({err}); {type(self).skipped} '
                      'skipped so far in this process', logger='current', level=logging.WARNING)
            return None
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results


@TRANSFORMS.register_module()
class ResizeLongestSidePad(BaseTransform):
    """Resize so the longest side is ``size`` (aspect kept), pad bottom/right to ``size x size``.

    Adds ``valid_shape`` (h, w) of the image inside the padded square,
    ``scale_factor`` and ``pad_shape``; rescales ``boxes`` (``K x 4`` pixels)
    when present. Padding uses the CLIP mean colour, so it becomes zero after
    normalisation.

    Args:
        size: side of the square output.
        pad_val: BGR padding colour (default: CLIP mean).
    """

    def __init__(self, size: int, pad_val: Optional[Sequence[float]] = None):
        self.size = size
        self.pad_val = tuple(pad_val) if pad_val is not None else tuple(reversed(CLIP_MEAN))

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[:2]
        scale = self.size / max(h, w)
        new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
        img = mmcv.imresize(img, (new_w, new_h), interpolation='bicubic')
        padded = np.empty((self.size, self.size, 3), dtype=img.dtype)
        padded[...] = np.array(self.pad_val, dtype=np.float32).round().clip(0, 255).astype(img.dtype)
        padded[:new_h, :new_w] = img
        results.update(img=padded, img_shape=(self.size, self.size), pad_shape=(self.size, self.size),
                       valid_shape=(new_h, new_w), scale_factor=(new_w / w, new_h / h))
        if 'boxes' in results:
            scale = np.array([new_w / w, new_h / h] * 2, np.float32)
            results['boxes'] = results['boxes'] * scale
        return results


@TRANSFORMS.register_module()
class PackImageInputs(BaseTransform):
    """Pack ``img`` as a ``3 x H x W`` uint8 tensor and the metadata as a data sample.

    Output: ``dict(inputs=tensor, data_samples=BaseDataElement(metainfo=...))``
    with ``meta_keys`` copied into the sample's metainfo, and ``boxes``
    (``K x 4`` float tensor, pixels of the packed image) as a data field when present.
    """

    def __init__(self, meta_keys: Sequence[str] = ('img_path', 'ori_shape', 'img_shape',
                                                   'valid_shape', 'scale_factor', 'grid_boxes')):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        img = np.ascontiguousarray(results['img'].transpose(2, 0, 1))
        meta = {k: results[k] for k in self.meta_keys if k in results}
        sample = BaseDataElement(metainfo=meta)
        if 'boxes' in results:
            sample.boxes = torch.as_tensor(np.asarray(results['boxes'], np.float32)).reshape(-1, 4)
        return dict(inputs=torch.from_numpy(img), data_samples=sample)
