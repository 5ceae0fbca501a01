"""The ``eawe`` command line: the top layer, above the server, the worker and the engine.

Layers, bottom up: ``eawe`` → ``agents``/``graphs``/``retrieval`` → ``checkpoints`` → ``server`` →
``cli``. Nothing below imports this package (``tests/test_layers.py`` checks it).
"""
