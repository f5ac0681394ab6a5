"""Evaluation: question banks, their scoring, the textbook baseline and the regression gate (`evals.gate`)."""
