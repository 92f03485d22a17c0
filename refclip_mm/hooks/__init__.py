"""mmengine hooks."""
