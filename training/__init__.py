"""Training data and training code for the domain models (issue 16).

``training/corpus/`` holds fictional schools' policies written for training only;
``training/questions/`` holds the training question bank (shared bank schema). The
evaluation banks in ``evals/banks/`` are never read here.
"""
