"""mmengine training models of the two CLIP stages, and stage-2 checkpoint conversion."""
from .boxes import sample_local_boxes
from .convert import average_with_initial, convert_stage2_checkpoint, student_tower_state
from .refiner_trainer import RefinerTrainer
from .rla_trainer import RLABatch, RLATrainer

__all__ = ['sample_local_boxes', 'RefinerTrainer', 'RLABatch', 'RLATrainer',
           'average_with_initial', 'convert_stage2_checkpoint', 'student_tower_state']
