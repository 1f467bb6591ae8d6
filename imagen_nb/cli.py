"""The ``imagen-nb`` command line: models, order, sql, tokens, keys, demo, serve, backup, restore, rebuild."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from .core.errors import ImagenError


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line instead of argparse's usage dump
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _value(text: str) -> Any:
    """Numbers and true/false become JSON values; everything else stays text (SmartParameters too)."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (int, float, bool)) else text


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """``["--seed", "[1,2]", "--num-inference-steps=4"]`` → ``{"seed": "[1,2]", "num_inference_steps": 4}``."""
    params: dict[str, Any] = {}
    i = 0
    while i < len(items):
        item = items[i]
        if not item.startswith("--") or item == "--":
            raise UsageError(f"expected --name value, got {item!r}")
        name, eq, value = item[2:].partition("=")
        if not eq:
            if i + 1 >= len(items) or items[i + 1].startswith("--"):
                raise UsageError(f"--{name} needs a value")
            value = items[i + 1]
            i += 1
        i += 1
        params[name.replace("-", "_")] = _value(value)
    return params


def _studio(args):
    from .studio import Studio

    return Studio(home=args.home)


def _table(frame) -> str:
    import pandas as pd

    with pd.option_context("display.max_rows", 500, "display.max_columns", 50, "display.width", 200,
                           "display.max_colwidth", 60):
        return frame.to_string(index=False) if len(frame) else "(no rows)"


def cmd_models(args) -> int:
    """``imagen-nb models``: a table of every provider's models."""
    with _studio(args) as studio:
        print(_table(studio.models()))
    return 0


def cmd_order(args, extra: Sequence[str]) -> int:
    """``imagen-nb order MODEL --name value …``: progress on stderr, product paths on stdout."""
    params = parse_params(extra)
    if not params:
        raise UsageError("give the model's parameters, e.g. --prompt 'a [red,blue] fox' --seed '[1,2]'")
    with _studio(args) as studio:
        order = studio.order(args.model, project=args.project, limit=args.limit, **params)
        if args.no_wait:
            print(order.id)
            return 0
        order.progress()
        order.wait()
        for product in order.products:
            print(product.path)
        errors = order.errors
        for _, row in errors.iterrows():
            print(f"generation {row['seq'] + 1} failed: {row['error_type']}: {row['error_message']}",
                  file=sys.stderr)
        return 1 if order.status == "failed" else 0


def cmd_sql(args) -> int:
    """``imagen-nb sql QUERY``: one read-only SELECT, printed as a table or JSON."""
    with _studio(args) as studio:
        frame = studio.sql(args.query, max_rows=args.max_rows)
        if args.json:
            print(frame.to_json(orient="records", date_format="iso"))
        else:
            print(_table(frame))
    return 0


def cmd_tokens(args) -> int:
    """``imagen-nb tokens list|set|delete``: manage smart tokens."""
    with _studio(args) as studio:
        if args.action == "set":
            if not args.values:
                raise UsageError("tokens set NAME needs at least one value")
            studio.tokens[args.name] = args.values
            print(f"{args.name}: {', '.join(args.values)}")
        elif args.action == "delete":
            try:
                del studio.tokens[args.name]
            except KeyError:
                raise UsageError(f"no smart token {args.name!r}") from None
        else:
            for name, values in studio.tokens.items():
                print(f"{name}: {', '.join(values)}")
    return 0


def cmd_keys(args) -> int:
    """``imagen-nb keys list|set|delete``: API keys of remote providers (never printed)."""
    from .providers.keys import ENV_VARS, KeyStore
    from .studio import default_home

    store = KeyStore(Path(args.home).expanduser() if args.home else default_home())
    if args.action == "set":
        if not args.name:
            raise UsageError("keys set needs a provider name, e.g. `imagen-nb keys set fal`")
        key = args.key
        if key is None:
            if sys.stdin.isatty():
                import getpass

                key = getpass.getpass(f"{args.name} key (input hidden): ")
            else:
                key = sys.stdin.readline()
        store.set(args.name, key)
        print(f"{args.name}: key stored in {store.path} (mode 0600)")
    elif args.action == "delete":
        if not args.name:
            raise UsageError("keys delete needs a provider name")
        if not store.delete(args.name):
            raise UsageError(f"no stored key for {args.name!r}")
    else:
        names = sorted(set(store.names()) | set(ENV_VARS))
        for name in names:
            print(f"{name}: {store.source(name) or 'not set'}")
    return 0


def cmd_demo(args) -> int:
    """The main job on a fresh machine: an order on the offline tiny model, then SQL over it."""
    from .studio import Studio

    home = Path(args.home or os.environ.get("IMAGEN_NB_HOME") or ".imagen-nb-demo")
    print(f"imagen-nb demo in {home.resolve()} (diffusers:tiny has random weights: its images are noise)")
    with Studio(home=home) as studio:
        studio.tokens["animal"] = ["cat", "dog", "fox"]
        order = studio.order("diffusers:tiny", project="demo", prompt="a [brown,black] [animal]",
                             seed="[1,2]", num_inference_steps=4)
        order.progress()
        order.wait()
        print(f"order {order.id}: {order.status}, {len(order.products)} products")
        for product in order.products:
            print(f"  {product.path}")
        print(_table(studio.sql("SELECT prompt, seed, width, height, model FROM gallery "
                                "WHERE order_id = ? ORDER BY prompt, seed", [order.id])))
    return 0


def cmd_serve(args) -> int:
    """Serve the four panels as a Panel app in the browser, until interrupted."""
    if args.address not in ("127.0.0.1", "localhost", "::1") and not args.password and not args.no_auth:
        raise UsageError(f"serving on {args.address} lets anyone who reaches it use this studio: "
                         "set --password (or $IMAGEN_NB_PASSWORD), or pass --no-auth if the network is trusted")
    try:
        from .app import serve
    except ImportError as exc:
        raise UsageError(f"serve needs the panel extra: pip install 'imagen-nb[panel]' ({exc})") from exc
    from .studio import Studio

    with Studio(home=args.home) as studio:
        where = f"http://{f'[{args.address}]' if ':' in args.address else args.address}:{args.port}/"
        role = "" if studio.is_host else f", a client of the studio hosted by pid {studio.hosted_by}"
        print(f"imagen-nb: serving {studio.home} at {where}{role} (Ctrl+C stops)", flush=True)
        serve(studio, address=args.address, port=args.port, password=args.password, show=args.show,
              allow_websocket_origin=args.allow_websocket_origin)
    return 0


def cmd_backup(args) -> int:
    """Write a backup folder of the catalog with a manifest of the product files."""
    with _studio(args) as studio:
        report = studio.backup(args.path)
    print(f"imagen-nb: backup of {studio.home} written to {report.path} "
          f"(catalog + manifest of {report.products} product file(s), {report.bytes:,} bytes; "
          "the product files themselves are not copied)")
    return 0


def cmd_restore(args) -> int:
    """Make a backup folder or checkpoint file the catalog of the home."""
    from .studio import Studio

    report = Studio.restore(args.path, args.home, force=args.force)
    print(f"imagen-nb: {report.summary()}")
    return 0


def cmd_rebuild(args) -> int:
    """Recreate the catalog's rows from what the product files carry inside."""
    from .studio import Studio

    report = Studio.rebuild(args.home)
    print(f"imagen-nb: {report.summary()}")
    return 0


def _one_line(exc: BaseException) -> str:
    """The message on one line (DuckDB's multi-line errors and caret markers folded away)."""
    text = str(exc).strip("'\"") if isinstance(exc, KeyError) else str(exc)
    lines = [line.strip() for line in text.splitlines()]
    return " ".join(line for line in lines if line and not set(line) <= {"^"} and not line.startswith("LINE "))


def build_parser() -> _Parser:
    """The argument parser of the ``imagen-nb`` command."""
    parser = _Parser(prog="imagen-nb", description="A workbench for generative image models.")
    parser.add_argument("--home", help="studio home folder (default: $IMAGEN_NB_HOME or the user data folder)")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    sub.add_parser("models", help="list the models of every installed provider")
    p = sub.add_parser("order", help="place an order and wait for its products",
                       usage="imagen-nb order MODEL --name value ... (e.g. --prompt 'a [red,blue] fox' --seed '[1,2]')")
    p.add_argument("model", help="model id, e.g. diffusers:tiny")
    p.add_argument("--project", help="project name (created when new)")
    p.add_argument("--limit", type=int, help="most generations this order may make")
    p.add_argument("--no-wait", action="store_true", help="print the order id and return at once")
    p = sub.add_parser("sql", help="run one read-only SELECT over the catalog")
    p.add_argument("query")
    p.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    p.add_argument("--max-rows", type=int, default=10_000)
    p = sub.add_parser("tokens", help="list, set or delete smart tokens")
    p.add_argument("action", choices=["list", "set", "delete"])
    p.add_argument("name", nargs="?")
    p.add_argument("values", nargs="*")
    p = sub.add_parser("keys", help="list, set or delete API keys of remote providers (fal, replicate)")
    p.add_argument("action", choices=["list", "set", "delete"])
    p.add_argument("name", nargs="?", help="provider: fal or replicate")
    p.add_argument("key", nargs="?", help="the key (omit it to type it hidden, or pipe it on stdin)")
    sub.add_parser("demo", help="run an order on the offline tiny model and query it")
    p = sub.add_parser("serve", help="serve the panels as a web app (Panel), on 127.0.0.1 by default")
    p.add_argument("--address", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=5006)
    p.add_argument("--password", default=os.environ.get("IMAGEN_NB_PASSWORD"),
                   help="require this password on a login page (default $IMAGEN_NB_PASSWORD)")
    p.add_argument("--no-auth", action="store_true", help="allow serving beyond 127.0.0.1 without a password")
    p.add_argument("--allow-websocket-origin", action="append", metavar="HOST[:PORT]",
                   help="host names the page may be opened under besides the served address "
                        "(repeatable; for a proxy or a DNS name); requests under any other name are refused")
    p.add_argument("--show", action="store_true", help="open a browser tab")
    p = sub.add_parser("backup", help="write a backup folder: a consistent copy of the catalog and a manifest "
                                      "of the product files")
    p.add_argument("path", help="a new (or empty) folder")
    p = sub.add_parser("restore", help="make a backup folder (or a checkpoint file) the catalog of the home")
    p.add_argument("path", help="a folder `imagen-nb backup` wrote, or <home>/checkpoints/catalog-….duckdb")
    p.add_argument("--force", action="store_true",
                   help="replace a working catalog (it is moved aside, not deleted)")
    sub.add_parser("rebuild", help="recreate the catalog from the product files (a damaged one is moved aside)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``imagen-nb`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        if args.command != "order" and extra:
            raise UsageError(f"unexpected arguments: {' '.join(extra)}")
        if args.command == "tokens" and args.action in ("set", "delete") and not args.name:
            raise UsageError(f"tokens {args.action} needs a NAME")
        handlers = {"models": cmd_models, "sql": cmd_sql, "tokens": cmd_tokens, "keys": cmd_keys,
                    "demo": cmd_demo, "serve": cmd_serve, "backup": cmd_backup, "restore": cmd_restore,
                    "rebuild": cmd_rebuild}
        if args.command == "order":
            return cmd_order(args, extra)
        return handlers[args.command](args)
    except (UsageError, ImagenError, ValueError, LookupError) as exc:
        print(f"imagen-nb: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("imagen-nb: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
