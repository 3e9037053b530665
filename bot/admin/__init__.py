"""The admin side of the bot: `/sarcasm` commands, who may run them, and job progress."""
