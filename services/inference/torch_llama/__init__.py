"""A Llama decoder in PyTorch with continuous batching, for serving GGUF models on a GPU.

``weights`` and ``constraints`` need only NumPy; ``transformer`` and ``engine`` need torch,
which the GPU image provides and conduit's own environment deliberately does not install.
"""
