"""Command handlers: each module has `main(args: argparse.Namespace) -> int`, imported only when used."""
