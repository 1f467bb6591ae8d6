"""The ``imagen-nb`` command line: models, order, sets, grid, sql, tokens, keys, trash, demo, serve, backup,
restore, rebuild."""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import socket
import sys
import warnings
from pathlib import Path
from typing import Any, Sequence

from .core.errors import ImagenError, SqlTimeout


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line instead of argparse's usage dump
        raise UsageError(f"{message} (see `{self.prog} --help`)")


# What json.loads may turn into a number or a boolean; anything else (a `[` prompt 10,000 deep)
# never reaches the JSON parser, whose recursion it would exhaust.
_JSON_SCALAR = re.compile(r"-?(?:0|[1-9][0-9]{0,300})(?:\.[0-9]{1,300})?(?:[eE][+-]?[0-9]{1,4})?|true|false")


def _value(text: str) -> Any:
    """Numbers and true/false become JSON values; everything else stays text (SmartParameters too)."""
    if not _JSON_SCALAR.fullmatch(text):
        return text
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
    """``imagen-nb models [list | add REF | identify | search TEXT]``: models, and civitai's."""
    action = args.action or "list"
    if action in ("add", "search") and not args.ref:
        raise UsageError(f"models {action} needs {'a path or civitai reference' if action == 'add' else 'a text'}, "
                         "e.g. `imagen-nb models add urn:air:sd1:lora:civitai:328553@368189`")
    if action not in ("add", "search") and args.ref:
        raise UsageError(f"models {action} takes no argument; got {args.ref!r}")
    with _studio(args) as studio:
        if action == "add":
            progress = _Progress() if sys.stderr.isatty() or args.progress else None
            try:
                added = studio.add_model(args.ref, args.name, for_model=args.for_model, progress=progress)
            except KeyboardInterrupt:  # Ctrl-C: nothing is added, the part is kept for a resume
                if progress is not None:
                    progress.end()
                print(f"imagen-nb: download cancelled{progress.so_far() if progress is not None else ''}; nothing "
                      f"was added. The partial file is kept: `imagen-nb models add {args.ref}` resumes it",
                      file=sys.stderr)
                return 130
            if progress is not None:
                progress.end()
            print(added)
        elif action == "identify":
            print(_table(studio.identify(refresh=args.refresh)))
        elif action == "search":
            found = studio.civitai.search(args.ref, types=args.type or None, base_models=args.base_model or None,
                                          limit=args.limit or 20)
            print(_table(found[["air", "name", "type", "base_model", "version", "downloads"]]))
        else:
            print(_table(studio.models()))
    return 0


class _Progress:
    """A download's progress on stderr, one line rewritten in place."""

    def __init__(self):
        self.shown = False
        self.done = 0

    def __call__(self, done: int, total: int | None) -> None:
        self.done = done
        mb = done / 2**20
        text = f"{mb:,.1f} / {total / 2**20:,.1f} MB ({100 * done / total:.0f}%)" if total else f"{mb:,.1f} MB"
        print(f"\rdownloading {text}", end="", file=sys.stderr, flush=True)
        self.shown = True

    def end(self) -> None:
        if self.shown:
            print(file=sys.stderr)
            self.shown = False

    def so_far(self) -> str:
        """`` after 12.3 MB`` once bytes arrived, else nothing."""
        return f" after {self.done / 2**20:,.1f} MB" if self.done else ""


def cmd_doctor(args) -> int:
    """``imagen-nb doctor [--reach]``: whether each provider can run now; exit 1 when one cannot."""
    import pandas as pd

    from .providers.diffusers.memory import format_bytes

    with _studio(args) as studio:
        frame = studio.health(reach=args.reach)
    shown = frame.copy()
    for column in ("memory_total", "memory_free"):
        shown[column] = ["" if pd.isna(v) else format_bytes(int(v)) for v in frame[column].tolist()]
    shown = shown.astype(object).where(shown.notna(), "")
    shown["ready"] = ["yes" if r else "NO" for r in frame["ready"]]
    if not args.reach:
        shown = shown.drop(columns=["reachable"])
    print(_table(shown))
    ready = int(frame["ready"].sum())
    print(f"{ready} of {len(frame)} providers ready" + ("" if args.reach else
          " (endpoints not contacted: `imagen-nb doctor --reach` checks them)"), file=sys.stderr)
    return 0 if ready == len(frame) else 1


def cmd_upscale(args) -> int:
    """``imagen-nb upscale PRODUCT_ID… [--scale 2] [--model ID]``: upscaled copies, paths on stdout."""
    with _studio(args) as studio:
        order = studio.upscale(list(args.products), scale=args.scale, model=args.model)
        return _finish(order, args)


def cmd_order(args, extra: Sequence[str]) -> int:
    """``imagen-nb order MODEL --name value …``: progress on stderr, product paths on stdout."""
    params = parse_params(extra)
    if not params:
        raise UsageError("give the model's parameters, e.g. --prompt 'a [red,blue] fox' --seed '[1,2]'")
    with _studio(args) as studio:
        rows = {"rows": args.rows} if args.rows else {}
        order = studio.order(args.model, project=args.project, limit=args.limit, **rows, **params)
        return _finish(order, args)


def _finish(order, args) -> int:
    """Wait for an order (progress on stderr), print its product paths; failures on stderr."""
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


def cmd_refine(args, extra: Sequence[str]) -> int:
    """``imagen-nb refine PROMPTS --model … --judge … --rewriter … --iterations 3``: a progress bar per
    prompt on stderr, then one line per prompt (status, best score, best product's file) on stdout."""
    params = parse_params(extra)
    prompts = args.prompts if args.prompts.lower().endswith((".json", ".txt")) else [args.prompts]
    with _studio(args) as studio:
        ref = studio.refine(prompts, args.model, judge=args.judge, rewriter=args.rewriter,
                            iterations=args.iterations, n=args.n, goal=args.goal, stop_at=args.stop_at,
                            scorer=args.scorer, project=args.project, **params)
        if args.no_wait:
            print(ref.id)
            return 0
        ref.show_progress()
        best = ref.best
        paths = {p.id: p.path for p in ref.best_products()}
        for row in best.to_dict("records"):
            score = "-" if row["best_score"] is None or row["best_score"] != row["best_score"] else f"{row['best_score']:.3g}"
            where = paths.get(row["best_product_id"], "")
            label = row["title"] or row["prompt"]
            print(f"{row['item'] + 1}\t{row['status']}\t{score}\t{where}\t{label}")
            if row["status"] != "done":
                print(f"prompt {row['item'] + 1} ({label[:40]}): {row['reason']}", file=sys.stderr)
        print(f"refinement {ref.id}: studio.get_refinement({ref.id!r}).summary has every round", file=sys.stderr)
        return 1 if (best["status"] != "done").all() else 0


def cmd_sets(args, extra: Sequence[str]) -> int:
    """``imagen-nb sets list|show NAME|order NAME [MODEL] [--theme T] [--name value …]``."""
    with _studio(args) as studio:
        if args.action == "list":
            print(_table(studio.sets.listing()))
            return 0
        if not args.name:
            raise UsageError(f"sets {args.action} needs a NAME (see `imagen-nb sets list`)")
        if args.action == "show":
            try:
                recipe = studio.sets[args.name]
            except KeyError as exc:
                raise UsageError(exc.args[0]) from None
            print(f"{recipe.name}: {recipe.description}".rstrip(": "))
            print(f"model: {recipe.model or '(none: name one when ordering)'}")
            print(f"prompt: {recipe.prompt()}")
            for key, value in recipe.params.items():
                print(f"{key}: {json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value}")
            import pandas as pd

            print(f"rows: {len(recipe.rows)}")
            print(_table(pd.DataFrame(list(recipe.rows))))
            return 0
        params = parse_params(extra)
        try:
            studio.sets[args.name]
        except KeyError as exc:
            raise UsageError(exc.args[0]) from None
        order = studio.order_set(args.name, args.model, theme=args.theme, project=args.project, limit=args.limit,
                                 **params)
        return _finish(order, args)


def cmd_grid(args) -> int:
    """``imagen-nb grid ORDER_ID [--x X] [--y Y] [--z Z] [--out grid.png]``: an order's comparison grid."""
    with _studio(args) as studio:
        order = studio.get_order(args.order)
        grid = order.grid(x=args.x, y=args.y, z=args.z, max_side=args.max_side)
        path = grid.save(args.out)
        nx, ny, nz = grid.layout.size()
        axes = ", ".join(f"{w}={n}" for w, n in grid.axes.items() if n)
        print(f"{path} ({axes}; {nx}×{ny}×{nz} cells, {grid.image.width}×{grid.image.height} px)")
    return 0


def cmd_sql(args) -> int:
    """``imagen-nb sql QUERY``: one read-only SELECT, printed as a table or JSON."""
    with _studio(args) as studio:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the Python hint says max_rows=; this surface has a flag
                frame = studio.sql(args.query, timeout=args.timeout, max_rows=args.max_rows)
        except SqlTimeout as exc:
            raise UsageError(f"the query ran past its time limit of {exc.timeout or args.timeout:g} s; add a WHERE "
                             "or LIMIT, or raise the limit with --timeout SECONDS") from exc
        if frame.attrs.get("truncated"):
            print(f"imagen-nb: result cut to {args.max_rows:,} rows; add a LIMIT or pass --max-rows N",
                  file=sys.stderr)
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
    from .providers.keys import ENV_VARS, KeyStore, check_provider
    from .studio import default_home

    store = KeyStore(Path(args.home).expanduser() if args.home else default_home())
    if args.action == "set":
        if not args.name:
            raise UsageError("keys set needs a provider name, e.g. `imagen-nb keys set fal`")
        check_provider(args.name)  # before asking for the key
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


def cmd_trash(args) -> int:
    """``imagen-nb trash list|empty``: the files crash recovery set aside in ``<home>/trash/``.

    Reads only the trash folder: no catalog is opened and no recovery runs (which could set
    more files aside), so it also works while a notebook hosts the home. ``empty`` deletes only
    the files it listed, after a yes at the prompt or with ``--yes``.
    """
    from .studio import delete_from_trash, resolve_home, trash_of

    home = resolve_home(args.home)
    files = trash_of(home)
    trash = home / "trash"
    total = sum(size for _, size in files) / 2**20
    if args.action == "list" or not files:
        for path, size in files:
            print(f"{size:>12,}  {path}")
        print(f"{len(files)} file(s), {total:.1f} MB in {trash}"
              + ("; `imagen-nb trash empty` deletes them" if files else ""))
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(f"trash empty would delete {len(files)} file(s), {total:.1f} MB, for good: "
                             "run `imagen-nb trash list` to see them, then `imagen-nb trash empty --yes`")
        answer = input(f"Delete {len(files)} file(s), {total:.1f} MB, in {trash} for good? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 0
    removed, freed = delete_from_trash(home, [path for path, _ in files])
    print(f"removed {removed} file(s), {freed / 2**20:.1f} MB, from {trash}")
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
    from .app import parse_trusted_proxies
    from .studio import Studio

    try:
        parse_trusted_proxies(args.trusted_proxy)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _check_port_free(args.address, args.port)  # before the studio opens (and takes the home)
    with Studio(home=args.home) as studio:
        where = f"http://{f'[{args.address}]' if ':' in args.address else args.address}:{args.port}/"
        role = "" if studio.is_host else f", a client of the studio hosted by pid {studio.hosted_by}"
        print(f"imagen-nb: serving {studio.home} at {where}{role} (Ctrl+C stops)", flush=True)
        try:
            serve(studio, address=args.address, port=args.port, password=args.password, show=args.show,
                  allow_websocket_origin=args.allow_websocket_origin, trusted_proxies=args.trusted_proxy)
        except OSError as exc:  # lost the port to another process since the check
            raise UsageError(_port_problem(args.address, args.port, exc)) from exc
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


def _port(text: str) -> int:
    """``--port``: a TCP port number from 1 to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number; give 1 to 65535, e.g. 5006") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number; give 1 to 65535, e.g. 5006")
    return port


def _port_problem(address: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (f"port {port} on {address} is in use by another program (another `imagen-nb serve`?); "
                f"stop it or pick another port, e.g. --port {port + 1 if port < 65535 else 5006}")
    if exc.errno == errno.EACCES:
        return f"not allowed to listen on port {port} (ports below 1024 need privileges); pick e.g. --port 5006"
    return f"cannot listen on {address}:{port}: {exc.strerror or exc}; check --address and --port"


def _check_port_free(address: str, port: int) -> None:
    """A UsageError when ``address:port`` cannot be listened on (in use, not ours, not an address)."""
    try:
        infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"cannot listen on {address!r}: {exc.strerror}; give an address of this machine, "
                         "e.g. --address 127.0.0.1") from None
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as sock:
            # As the server binds (SO_REUSEADDR): a port in TIME_WAIT is free, one listened on is not.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(sockaddr)
                sock.listen(1)
            except OSError as exc:
                raise UsageError(_port_problem(address, port, exc)) from None


def _one_line(exc: BaseException) -> str:
    """The message on one line (DuckDB's multi-line errors and caret markers folded away)."""
    text = str(exc).strip("'\"") if isinstance(exc, KeyError) else str(exc)
    lines = [line.strip() for line in text.splitlines()]
    return " ".join(line for line in lines if line and not set(line) <= {"^"} and not line.startswith("LINE "))


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 24 * 3600:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from above 0 to 86400")
    return value


def _check_utf8(argv: Sequence[str]) -> None:
    # Python decodes arguments that are not valid UTF-8 into lone surrogates (surrogateescape),
    # which no file, catalog or PNG can hold.
    for arg in argv:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise UsageError(f"argument {shown!r} is not valid UTF-8 text; check the terminal's encoding "
                             "(locale) or how the argument was made") from None


def build_parser() -> _Parser:
    """The argument parser of the ``imagen-nb`` command."""
    parser = _Parser(prog="imagen-nb", description="A workbench for generative image models.")
    parser.add_argument("--home", help="studio home folder (default: $IMAGEN_NB_HOME or the user data folder)")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    p = sub.add_parser("models", help="list the models of every installed provider; add one (a local path or a civitai "
                                      "AIR/URL), identify local files on civitai, search civitai")
    p.add_argument("action", nargs="?", choices=["list", "add", "identify", "search"], help="default: list")
    p.add_argument("ref", nargs="?", help="add: a path, an AIR, a civitai URL or civitai:<version id>; search: text")
    p.add_argument("--name", help="add: the name it gets (default: the file's stem)")
    p.add_argument("--for-model", help="add: the model a LoRA is for (a LoRA of another family is refused)")
    p.add_argument("--progress", action="store_true", help="add: show download progress even when not a terminal")
    p.add_argument("--refresh", action="store_true", help="identify: ask civitai again instead of the cache")
    p.add_argument("--type", action="append", help="search: civitai model type (LORA, Checkpoint…), repeatable")
    p.add_argument("--base-model", action="append", help="search: civitai base model ('SD 1.5'…), repeatable")
    p.add_argument("--limit", type=_positive_int, help="search: most rows (default 20)")
    p = sub.add_parser("doctor", help="say whether each provider can run now (device and memory; keys)")
    p.add_argument("--reach", action="store_true", help="also send one request to each remote provider's endpoint")
    p = sub.add_parser("upscale", help="order upscaled copies of products (one generation each)")
    p.add_argument("products", nargs="+", help="product ids (see imagen-nb sql \"select product_id from gallery\")")
    p.add_argument("--scale", type=float, default=2, help="output size ÷ input size (default 2)")
    p.add_argument("--model", help="an upscale model id (default: a local upscaler with real weights)")
    p.add_argument("--no-wait", action="store_true", help="print the order id and return at once")
    p = sub.add_parser("order", help="place an order and wait for its products",
                       usage="imagen-nb order MODEL --name value ... (e.g. --prompt 'a [red,blue] fox' --seed '[1,2]')")
    p.add_argument("model", help="model id, e.g. diffusers:tiny")
    p.add_argument("--project", help="project name (created when new)")
    p.add_argument("--limit", type=_positive_int, help="most generations this order may make")
    p.add_argument("--no-wait", action="store_true", help="print the order id and return at once")
    p.add_argument("--rows", help="a .csv/.tsv/.json/.parquet table: one generation per row, {column} "
                                  "placeholders filled in (e.g. --prompt '{value} of {suit}')")
    p = sub.add_parser("sets", help="list, show or order saved sets (rows + templates; examples: card_deck, "
                                    "tarot, zodiac)",
                       usage="imagen-nb sets list | show NAME | order NAME [MODEL] [--theme T] [--name value ...]")
    p.add_argument("action", choices=["list", "show", "order"])
    p.add_argument("name", nargs="?", help="the set's name")
    p.add_argument("model", nargs="?", help="model id (default: the set's own)")
    p.add_argument("--theme", help="fills the set's theme slot, e.g. 'gothic, ink'")
    p.add_argument("--project", help="project name (created when new)")
    p.add_argument("--limit", type=_positive_int, help="most generations this order may make")
    p.add_argument("--no-wait", action="store_true", help="print the order id and return at once")
    p = sub.add_parser("refine", help="generate, judge and rewrite over rounds for each prompt (a progress bar each)",
                       usage="imagen-nb refine PROMPTS.json|'a prompt' [--model M] [--judge J] [--rewriter R] "
                             "[--iterations 3] [--name value ...]")
    p.add_argument("prompts", help="a prompts.json (a list of {title, scene, mood, prompt}), a .txt (one per line) "
                                   "or one prompt")
    p.add_argument("--model", default="diffusers:tiny", help="image model (default diffusers:tiny)")
    p.add_argument("--judge", default="transformers:tiny-judge",
                   help="image-to-text judge (default transformers:tiny-judge: offline, gibberish)")
    p.add_argument("--rewriter", default="transformers:tiny-rewriter",
                   help="text-to-text rewriter (default transformers:tiny-rewriter: offline, gibberish)")
    p.add_argument("--iterations", type=_positive_int, default=3, help="most rounds per prompt (default 3)")
    p.add_argument("--n", type=_positive_int, default=1, help="images per round (default 1)")
    p.add_argument("--goal", help="what the images should achieve (default: each prompt)")
    p.add_argument("--stop-at", type=float, help="a prompt stops once its best score reaches this")
    p.add_argument("--scorer", default="judge", help="judge (its Score: N/10), clip:tiny-clip or aesthetic:tiny-clip")
    p.add_argument("--project", help="project name (created when new)")
    p.add_argument("--no-wait", action="store_true", help="print the refinement id and return at once")
    p = sub.add_parser("grid", help="draw an order's comparison grid (X/Y/Z plot) as a PNG")
    p.add_argument("order", help="the order id")
    p.add_argument("--x", help="axis across (default: the order's largest varying parameter)")
    p.add_argument("--y", help="axis down")
    p.add_argument("--z", help="one grid per value, stacked")
    p.add_argument("--out", default="grid.png", help="the PNG to write (default grid.png)")
    p.add_argument("--max-side", type=_positive_int, default=8192, help="cap of the longer side in px (default 8192)")
    p = sub.add_parser("sql", help="run one read-only SELECT over the catalog")
    p.add_argument("query")
    p.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    p.add_argument("--max-rows", type=_positive_int, default=10_000, help="cut longer results (default 10000)")
    p.add_argument("--timeout", type=_seconds, default=10.0,
                   help="seconds the query may run (default 10)")
    p = sub.add_parser("tokens", help="list, set or delete smart tokens")
    p.add_argument("action", choices=["list", "set", "delete"])
    p.add_argument("name", nargs="?")
    p.add_argument("values", nargs="*")
    p = sub.add_parser("keys", help="list, set or delete API keys of remote providers (fal, replicate, civitai, "
                                    "gemini)")
    p.add_argument("action", choices=["list", "set", "delete"])
    p.add_argument("name", nargs="?", help="provider: fal, replicate, civitai or gemini")
    p.add_argument("key", nargs="?", help="the key (omit it to type it hidden, or pipe it on stdin)")
    p = sub.add_parser("trash", help="list or empty the files crash recovery set aside in <home>/trash/")
    p.add_argument("action", choices=["list", "empty"])
    p.add_argument("--yes", action="store_true", help="empty without asking")
    sub.add_parser("demo", help="run an order on the offline tiny model and query it")
    p = sub.add_parser("serve", help="serve the panels as a web app (Panel), on 127.0.0.1 by default")
    p.add_argument("--address", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_port, default=5006, help="TCP port, 1 to 65535 (default 5006)")
    p.add_argument("--password", default=os.environ.get("IMAGEN_NB_PASSWORD"),
                   help="require this password on a login page (default $IMAGEN_NB_PASSWORD)")
    p.add_argument("--no-auth", action="store_true", help="allow serving beyond 127.0.0.1 without a password")
    p.add_argument("--allow-websocket-origin", action="append", metavar="HOST[:PORT]",
                   help="host names the page may be opened under besides the served address "
                        "(repeatable; for a proxy or a DNS name); requests under any other name are refused")
    p.add_argument("--trusted-proxy", action="append", metavar="ADDRESS[/PREFIX]",
                   help="a reverse proxy in front of the app (repeatable): only requests from it may name the client "
                        "in X-Forwarded-For, which the login throttle then counts; by default the header is ignored")
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
        _check_utf8(argv)
        args, extra = parser.parse_known_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        if args.command not in ("order", "sets", "refine") and extra:
            raise UsageError(f"unexpected arguments: {' '.join(extra)}")
        if args.command == "tokens" and args.action in ("set", "delete") and not args.name:
            raise UsageError(f"tokens {args.action} needs a NAME")
        handlers = {"models": cmd_models, "doctor": cmd_doctor, "upscale": cmd_upscale, "sql": cmd_sql, "tokens": cmd_tokens, "keys": cmd_keys,
                    "trash": cmd_trash, "demo": cmd_demo, "grid": cmd_grid, "serve": cmd_serve, "backup": cmd_backup,
                    "restore": cmd_restore, "rebuild": cmd_rebuild}
        if args.command == "order":
            return cmd_order(args, extra)
        if args.command == "refine":
            return cmd_refine(args, extra)
        if args.command == "sets":
            if extra and args.action != "order":
                raise UsageError(f"unexpected arguments: {' '.join(extra)}")
            return cmd_sets(args, extra)
        return handlers[args.command](args)
    except (UsageError, ImagenError, ValueError, LookupError, OSError) as exc:
        # OSError: the machine said no (a folder that cannot be written, a full disk…); still one line.
        print(f"imagen-nb: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("imagen-nb: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
