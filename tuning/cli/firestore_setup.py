"""``python -m tuning firestore-setup``: print the gcloud commands that prepare a database."""

from __future__ import annotations

import argparse
from urllib.parse import urlparse

from tuning.config import Settings
from tuning.errors import ConfigError
from tuning.store.firestore.setup import gcloud_commands

HELP = "Print the gcloud commands that create the Firestore indexes and the TTL policies."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the database options (defaults from STORE_URL=firestore://PROJECT[/DATABASE])."""
    parser.add_argument("--project", help="Google Cloud project (default: from STORE_URL)")
    parser.add_argument("--database", help="Firestore database id (default: from STORE_URL)")
    parser.add_argument("--prefix", default="", help="collection name prefix the store uses")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print one command a line, ready to paste."""
    parsed = urlparse(settings.store_url)
    from_url = parsed.scheme == "firestore"
    project = args.project or (parsed.netloc if from_url else "")
    if not project:
        raise ConfigError("STORE_URL", "not firestore://PROJECT; pass --project")
    database = args.database or (parsed.path.strip("/") if from_url else "") or "(default)"
    for command in gcloud_commands(project=project, database=database, prefix=args.prefix):
        print(command)
    return 0
