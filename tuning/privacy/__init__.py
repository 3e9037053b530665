"""Privacy: forget-me, retention, and the manifests that make every copy of a user's text
traceable."""
