"""Side-by-side benchmarks of storyreel, the MoviePy way and the encoder's floor.

Run ``python -m bench`` (``--help`` for options); the report lands in ``bench/results/``.
"""
