"""Narration from text: the voice seam, its engines, speech normalisation and the cache.

``base`` holds the :class:`~storyreel.voice.base.Engine` Protocol; ``hibari`` (built
in), ``kokoro`` and ``piper`` are the engines, each imported only when chosen;
``fake`` is a stand-in for tests; ``narrate`` synthesises a project's missing
narrations through ``cache``.
"""
