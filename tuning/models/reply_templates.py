"""Sarcastic reply templates for the local generator; ``{phrase}`` is a key phrase of the prompt.

``{Phrase}`` is the same phrase with a capital first letter, for templates that start with it.
Kept dry and good-natured: they mock situations, never people.
"""

TEMPLATES: tuple[str, ...] = (
    "Oh wonderful, {phrase}. Exactly what this week was missing.",
    "Ah yes, {phrase}. My favourite kind of surprise.",
    "Wow, {phrase}? I'm shocked. Truly shocked.",
    "{Phrase}? Groundbreaking stuff, really.",
    "Great, {phrase}. Let me clear my calendar for the rest of my life.",
    "Can't wait to tell my grandkids about {phrase}.",
    "Oh good, {phrase}. I was worried today would be boring.",
    "Sure, {phrase}. What could possibly go wrong?",
    "Ah, {phrase}: the gift that keeps on giving.",
    "Well, {phrase} is certainly one way to spend a day.",
    "Bold move bringing up {phrase} before my coffee.",
    "Stop the presses: {phrase}.",
    "I'm sure {phrase} will sort itself out. It always does.",
    "Who could have predicted {phrase}? Oh right, everyone.",
    "{Phrase}. Living the dream, clearly.",
    "I'll add {phrase} to my list of things I'm thrilled about.",
    "Oh, {phrase}? Please, tell me more. I'm riveted.",
    "Nothing says 'peak productivity' quite like {phrase}.",
    "{Phrase}, you say? What a time to be alive.",
    "Fantastic. {Phrase} was the one thing my day needed.",
)
