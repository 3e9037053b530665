"""Tuning backends: ``local`` (scikit-learn, on this machine) and ``vertex`` (Vertex AI)."""
