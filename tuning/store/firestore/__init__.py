"""The production store: Firestore through its AsyncClient."""
