"""The zoo: one module per benchmark area, each registering `Architecture` specs on import.

Modules here must not import heavy optional libraries (transformers) at module level: listing the
zoo imports every module, and `harness list` must stay fast.
"""
