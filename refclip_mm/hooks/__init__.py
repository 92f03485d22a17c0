"""mmengine hooks."""
from .strict_resume import StrictResumeHook

__all__ = ['StrictResumeHook']
