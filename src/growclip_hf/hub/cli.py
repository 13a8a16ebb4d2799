"""``growclip-hf push`` and ``growclip-hf hub serve``."""

from __future__ import annotations

import argparse
import json
import os
import sys


def _cmd_push(args: argparse.Namespace) -> int:
    from huggingface_hub.errors import OfflineModeIsEnabled

    from .loopback import loopback_scope
    from .publish import push_run

    if args.endpoint:  # the local Hub stores plain git blobs; it has no Xet storage
        os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
    token = args.token or os.environ.get("HF_TOKEN")  # resolved here, passed on, never printed
    try:
        with loopback_scope(args.endpoint):  # any other endpoint needs HF_HUB_OFFLINE unset
            results = push_run(args.run_dir, args.repo_id, endpoint=args.endpoint, token=token)
    except OfflineModeIsEnabled:
        print(f"error: HF_HUB_OFFLINE is set; unset it to push to {args.endpoint or 'the Hub'}.", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for row in results:
        state = "new commit" if row["changed"] else "unchanged"
        print(
            f"stage {row['stage']}: branch {row['branch']} @ {row['commit'][:12]} ({state}), tag {row['tag']}"
            + (", main moved" if row["main_moved"] else "")
        )
    if args.json:
        print(json.dumps(results))
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from .server.app import LocalHubServer

    token = args.token or os.environ.get("GROWCLIP_HUB_TOKEN")
    try:
        server = LocalHubServer(args.root, args.host, args.port, write_token=token, verbose=args.verbose)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"Local Hub serving the model and dataset repositories of {server.store.root} at {server.url}"
        + (" (writes need the token)" if token else " (loopback, no token)"),
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def add_hub_commands(commands) -> None:
    push = commands.add_parser("push", help="Publish every stage of a run folder as Hub revisions (branch + tag).")
    push.add_argument("run_dir", help="Run folder written by `growclip-hf run` (holds stage-{k}/).")
    push.add_argument("--repo-id", required=True, help="ORG/NAME of the model repository.")
    push.add_argument(
        "--endpoint", default=None, help="Hub URL, e.g. a local `growclip-hf hub serve` (default: HF_ENDPOINT)."
    )
    push.add_argument(
        "--token", default=None, help="Write token (default: HF_TOKEN or the saved login). Never printed."
    )
    push.add_argument("--json", action="store_true", help="Also print the results as JSON.")
    push.set_defaults(handler=_cmd_push)

    hub = commands.add_parser("hub", help="Local Hub-compatible server for offline use.")
    hub_commands = hub.add_subparsers(dest="hub_command", required=True)
    serve = hub_commands.add_parser(
        "serve", help="Serve the model and dataset repositories under --root over the Hub HTTP API."
    )
    serve.add_argument(
        "--root",
        required=True,
        help="Folder holding the repositories (models/ORG/NAME and datasets/ORG/NAME, bare git).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="Bind address; non-loopback needs --token.")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument(
        "--token",
        default=None,
        help="Write token required for uploads (default: GROWCLIP_HUB_TOKEN). Prefer the env variable.",
    )
    serve.add_argument("--verbose", action="store_true", help="Log each request.")
    serve.set_defaults(handler=_cmd_serve)
