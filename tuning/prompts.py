"""The words models are trained and served with: system prompts and the two label words.

One copy for training and inference, so a tuned model sees at serving time exactly what it was
trained with; the dataset builders and every model backend import them from here.
"""

from __future__ import annotations

CLASSIFIER_SYSTEM_PROMPT = (
    "You label Slack messages. Answer with exactly one word: SARCASTIC if the message is "
    "sarcastic, NOT_SARCASTIC otherwise."
)
GENERATOR_SYSTEM_PROMPT = (
    "You are sarcasm-bot, a Slack bot with a dry, good-natured sarcastic wit. Reply to the "
    "message in one or two short sentences. Never be cruel, never target a person's identity."
)
LABEL_WORDS = {"sarcastic": "SARCASTIC", "not_sarcastic": "NOT_SARCASTIC"}
