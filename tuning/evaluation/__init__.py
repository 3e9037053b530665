"""Pure metrics and the candidate-vs-active comparison: the one place metric names live."""
