"""mmengine training models of the CLIP stages (0: contrastive pre-training, 1: Refiner,
2: RLA), and stage-2 checkpoint conversion."""
from .boxes import sample_local_boxes
from .contrastive_trainer import (ContrastiveCLIPTrainer, contrastive_loss,
                                  export_stage0_checkpoint, towers_state_dict)
from .convert import average_with_initial, convert_stage2_checkpoint, student_tower_state
from .refiner_trainer import RefinerTrainer
from .rla_trainer import RLABatch, RLATrainer

__all__ = ['sample_local_boxes', 'ContrastiveCLIPTrainer', 'contrastive_loss', 'export_stage0_checkpoint',
           'towers_state_dict',
           'RefinerTrainer', 'RLABatch', 'RLATrainer',
           'average_with_initial', 'convert_stage2_checkpoint', 'student_tower_state']
