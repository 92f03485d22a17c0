"""Small shared utilities: checkpoint loading, compatibility fixes."""
from .checkpoint import (CheckpointError, allow_checkpoint_types, extract_state_dict,
                         load_checkpoint_file, load_state_dict_checked)

__all__ = ['CheckpointError', 'allow_checkpoint_types', 'extract_state_dict',
           'load_checkpoint_file', 'load_state_dict_checked']
