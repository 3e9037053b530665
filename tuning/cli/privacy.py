"""``python -m tuning privacy audit|forget --user U``: where a user's text remains; forget them.

``audit`` prints each place that still holds the user's text or records (store rows, files
under DATA_DIR including inside model archives, objects in TUNING_BUCKET, manifests) and exits
1 when it found any, 0 when clean. It prints places, never the text.

``forget`` also blanks the user's waiting and dead items in an SQLite work queue, as the Slack
button does; Pub/Sub cannot rewrite its messages, and its dead letters expire (README).
"""

from __future__ import annotations

import argparse
import sys

from tuning.cli.common import plain, print_json, progress
from tuning.cloud.uploads import GcsUploader
from tuning.config import Settings, parse_queue_url
from tuning.lifecycle.builder import build_privacy_service
from tuning.privacy.audit import audit
from tuning.queue import open_queue
from tuning.store import open_store

HELP = "Audit where a user's text remains (audit), or forget a user everywhere (forget)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the audit and forget actions and their options."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("audit", help="print every place that holds the user's text")
    forget = actions.add_parser("forget", help="delete the user's records and every copy")
    for sub in (check, forget):
        sub.add_argument("--user", required=True, help="the Slack user id, e.g. U012AB3CD")
        # SUPPRESS: `privacy --json audit` (the verb's flag) and `privacy audit --json` both work.
        sub.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON"
        )
    check.add_argument(
        "--text",
        action="append",
        default=[],
        metavar="PHRASE",
        help="also search for this phrase (repeatable), e.g. text already deleted from the store",
    )


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the audit or forget-me and print the outcome."""
    store = await open_store(settings.store_url, retention=settings.retention)
    try:
        if args.action == "forget":
            report = await build_privacy_service(settings, store).forget_user(user=args.user)
            queued = await _erase_queued(settings, user=args.user)
            if args.json:
                print_json({**plain(report), "queued": queued})
            else:
                print(*report.lines(), sep="\n")
                if queued:
                    print(f"{queued} of their work items waiting in the queue were blanked")
            return 1 if report.cleanup.pending else 0
        with progress("audit") as bar:
            result = await audit(
                store,
                user=args.user,
                data_dir=settings.data_dir,
                # A bucket that is set but unreadable is an error: a partial audit is no audit.
                objects=GcsUploader.from_settings(settings.vertex)
                if settings.vertex.bucket
                else None,
                texts=args.text,
                progress=lambda _: bar.update(1),
            )
    finally:
        await store.close()
    if args.json:
        print_json(
            {"user": args.user, "clean": result.clean, "texts": result.texts, "found": result.found}
        )
    elif result.found:
        print(*(f"{f.place}: {f.where}" for f in result.found), sep="\n")
    else:
        print(f"nothing of {args.user} found")
    if not result.texts:
        print(
            f"note: the store holds no text of {args.user} and no --text was given, so files "
            "and objects were not searched",
            file=sys.stderr,
        )
    return 0 if result.clean else 1


async def _erase_queued(settings: Settings, *, user: str) -> int | None:
    """Blank ``user``'s items in an SQLite work queue; None for Pub/Sub, which cannot."""
    if parse_queue_url(settings.queue_url).scheme != "sqlite":
        return None
    queue = await open_queue(settings.queue_url)
    try:
        return await queue.erase_user(user=user)
    finally:
        await queue.close()
