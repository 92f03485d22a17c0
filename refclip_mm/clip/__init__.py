"""Everything that touches open_clip: towers from a name + a local file, the dense
forward (docs/method.md section 2), the text tower, prompt templates and class embeddings.

Importing this package registers the tiny EVA and SigLIP 2 test towers with timm
(:mod:`refclip_mm.clip.tiny`).
"""
from .class_names import class_names_from_annotation, get_class_names
from .dense import DENSE_MODES, DenseCLIPTower, DenseOutput, boxes_to_rois, wrap_image_tower
from .factory import (CLIPTowers, build_clip, build_image_tower, build_text_tower, clip_dims,
                      export_local_dir, read_clip_state_dict, resolve_model_config)
from .text import (TEMPLATE_SETS, ClassEmbeddings, CLIPTextTower, as_class_embeddings,
                   build_class_embeddings, get_templates, load_class_embeddings,
                   make_class_embeddings, save_class_embeddings)
from .tiny import (TINY_EVA_ARCH, TINY_OPENAI_ARCH, TINY_SIGLIP2_ARCH, make_tiny_clip,
                   make_tiny_siglip2_folder, save_tiny_clip, save_tiny_siglip2_tokenizer, tiny_arch)
from .vocabulary import VocabularyEncoder, parse_words

__all__ = [
    'DENSE_MODES', 'DenseCLIPTower', 'DenseOutput', 'boxes_to_rois', 'wrap_image_tower',
    'CLIPTowers', 'build_clip', 'build_image_tower', 'build_text_tower', 'read_clip_state_dict',
    'resolve_model_config', 'clip_dims', 'TEMPLATE_SETS', 'ClassEmbeddings', 'CLIPTextTower',
    'as_class_embeddings',
    'build_class_embeddings', 'get_templates', 'load_class_embeddings', 'make_class_embeddings',
    'save_class_embeddings', 'TINY_EVA_ARCH', 'TINY_OPENAI_ARCH', 'TINY_SIGLIP2_ARCH', 'tiny_arch',
    'make_tiny_clip',
    'save_tiny_clip', 'make_tiny_siglip2_folder', 'save_tiny_siglip2_tokenizer',
    'export_local_dir', 'get_class_names',
    'class_names_from_annotation', 'VocabularyEncoder', 'parse_words'
]
