"""mmengine training models of the two CLIP stages."""
from .boxes import sample_local_boxes
from .refiner_trainer import RefinerTrainer

__all__ = ['sample_local_boxes', 'RefinerTrainer']
