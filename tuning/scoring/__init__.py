"""The reward scorer Vertex AI's reinforcement tuning calls: the reward model, served over HTTP.

``request`` parses the documented body (pure), ``scorer`` turns the reward model's score into a
reward in [-1, 1], ``fit`` learns that reward model from the store's ratings and pairs (pure),
``source`` loads it with the active classifier, and ``app`` is the aiohttp service that
``python -m tuning serve-reward`` runs on Cloud Run.
"""
