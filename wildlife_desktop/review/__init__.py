"""review layer (Qt-free): the human-verification core the GUI's keyboard review drives.

* :mod:`.actions` - :class:`ReviewAction`;
* :mod:`.keymap` - key string → action table, overrides, ``?`` help rows;
* :mod:`.queue` - which detections need a person, most uncertain first; filters;
* :mod:`.session` - :class:`ReviewSession`: cursor, decisions, undo/redo, pace/ETA;
* :mod:`.calibration` - precision per class above each confidence, suggested thresholds;
* :mod:`.counts` - verified counts per image and per sequence.

Decisions themselves (records, file, CSV, export merge) live in ``formats.decisions`` so that
``pipeline`` can merge them into every sidecar without importing ``review``.
"""
