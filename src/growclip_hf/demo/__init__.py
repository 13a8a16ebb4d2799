"""The Gradio demo of a growing GrowCLIP: zero-shot classification, retrieval, two stages side by side, growth plot.

``spaces_demo/app.py`` (the Space) and ``growclip-hf demo`` both serve ``app.build_demo``. Nothing is imported here so
that ``growclip-hf`` does not load Gradio for its other commands.
"""
