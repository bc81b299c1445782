"""The `kfed` command. Each subcommand lives in its own module and is registered here."""

from __future__ import annotations

import importlib

import click

from kfed import __version__

# name -> "module:attribute"; imported only when the command runs, so `kfed --help` stays fast.
SUBCOMMANDS: dict[str, str] = {
    "apiserver": "kfed.cli.apiserver:apiserver",
    "cluster-dns": "kfed.cli.cluster_dns:cluster_dns",
    "controller-manager": "kfed.cli.controller_manager:controller_manager",
    "coredns-config": "kfed.cli.cluster_dns:coredns_config",
    "demo": "kfed.cli.demo:demo",
    "dns": "kfed.cli.dns:dns",
    "dns-server": "kfed.cli.dns_server:dns_server",
    "init": "kfed.cli.federation:init",
    "join": "kfed.cli.federation:join",
    "unjoin": "kfed.cli.federation:unjoin",
    "sim": "kfed.cli.sim:sim",
    "status": "kfed.cli.federation:status",
    "up": "kfed.cli.up:up",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        cmd = getattr(importlib.import_module(module), attr)
        assert isinstance(cmd, click.Command)
        return cmd


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kfed")
def cli() -> None:
    """kfed: create a Service once; run it in every cluster; DNS that fails over by itself."""


def main() -> None:
    cli()
