"""FixedSizeDetDataPreprocessor: pad every batch to one fixed size, in training and testing."""
from typing import Optional, Sequence, Tuple

from mmdet.models.data_preprocessors import BatchFixedSizePad, DetDataPreprocessor

from ...registry import MODELS


@MODELS.register_module()
class FixedSizeDetDataPreprocessor(DetDataPreprocessor):
    """mmdet's ``DetDataPreprocessor`` followed by a zero pad to ``fixed_size`` (h, w).

    F-ViT feeds the CLIP tower one square canvas at every step. Padding here,
    for batching only, keeps each image's ``img_shape`` (the resized image
    without padding), so predicted boxes are clipped to the image and rescaled
    from it. A ``Pad(size=...)`` transform in the pipeline would overwrite
    ``img_shape`` with the padded size instead, and boxes would be allowed to
    lie in the padding, outside the image.

    Only ``batch_input_shape`` / ``pad_shape`` change. Inputs larger than
    ``fixed_size`` are left as they are. The pad value is ``pad_value`` after
    normalisation (0: the mean colour), as for mmdet's size-divisor padding.

    Args:
        fixed_size: ``(h, w)`` of the padded batch, e.g. the resize scale;
            ``None``: no fixed-size pad (plain ``DetDataPreprocessor``).
        other args: as ``DetDataPreprocessor`` (``pad_mask`` also pads gt masks
            to the fixed size).
    """

    def __init__(self, fixed_size: Optional[Sequence[int]] = None, **kwargs):
        super().__init__(**kwargs)
        self.fixed_size: Optional[Tuple[int, int]] = None
        self.fixed_pad = None
        if fixed_size is None:
            return
        if len(fixed_size) != 2 or min(fixed_size) <= 0:
            raise ValueError('model.data_preprocessor.fixed_size must be (h, w) with h, w > 0, '
                             f'got {fixed_size!r}')
        self.fixed_size = (int(fixed_size[0]), int(fixed_size[1]))
        self.fixed_pad = BatchFixedSizePad(self.fixed_size, img_pad_value=int(self.pad_value),
                                           pad_mask=self.pad_mask,
                                           mask_pad_value=self.mask_pad_value,
                                           pad_seg=self.pad_seg, seg_pad_value=self.seg_pad_value)

    def forward(self, data: dict, training: bool = False) -> dict:
        data = super().forward(data, training)
        if self.fixed_pad is None:
            return data
        inputs, samples = self.fixed_pad(data['inputs'], data.get('data_samples'))
        return dict(inputs=inputs, data_samples=samples)
