"""The training lab: evaluation before adoption, typed run configuration, detection metrics,
experiment tracking (MLflow, optional) and hyper-parameter search (Optuna, optional).

The model registry's stages live below, in :mod:`wildlife_desktop.runtime.stages`, because
*Run AI* resolves a model name to its production version there; this package never needs
MLflow or Optuna to be installed (:func:`.tracking.available`, :func:`.search.available`).
"""
