"""Privacy: forget-me, retention, and the manifests that trace every copy of a user's text."""
