"""Google Cloud clients behind small interfaces: Vertex AI through google-genai, and GCS uploads."""
