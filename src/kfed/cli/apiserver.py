"""`kfed apiserver`: the federation's Kubernetes API over HTTPS."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import click

from kfed.cli import eventloop
from kfed.cli.logsetup import setup_logging
from kfed.runtime.heap import HeapFreezer

FEDERATION_NAMESPACES = ["default", "kube-system", "federation-system"]


@click.command("apiserver")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Where the database, the CA, certificates and tokens live.")
@click.option("--bind", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=6443, show_default=True, type=int, help="Port to listen on (0: any free port).")
@click.option("--store", "store_url", default=None,
              help="Storage: sqlite:///PATH (default: DATA_DIR/kfed.db), memory://, or etcd://HOST:PORT.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Kubeconfig to merge the federation-cluster context into (default: $KUBECONFIG or ~/.kube/config).")
@click.option("--no-kubeconfig", is_flag=True, help="Do not write any kubeconfig.")
@click.option("--log-level", default="warning", show_default=True)
def apiserver(data_dir: Path, bind: str, port: int, store_url: str | None, kubeconfig: Path | None,
              no_kubeconfig: bool, log_level: str) -> None:
    """Serve the federation API (Services, Clusters, ...) with kubectl-compatible semantics."""
    setup_logging(log_level)
    try:
        eventloop.run(_run(data_dir, bind, port, store_url, kubeconfig, no_kubeconfig))
    except KeyboardInterrupt:
        pass
    except OSError as e:
        raise click.ClickException(f"{e.strerror or e} (choose another --bind/--port)") from e


async def _run(data_dir: Path, bind: str, port: int, store_url: str | None, kubeconfig: Path | None,
               no_kubeconfig: bool) -> None:
    from kfed.api.kubeconfig import merge_contexts
    from kfed.api.server import ApiServer, ApiServerConfig
    from kfed.model.registry import FEDERATION_RESOURCES

    server = ApiServer(ApiServerConfig(data_dir=data_dir, resources=list(FEDERATION_RESOURCES), bind=bind, port=port,
                                       store_url=store_url, bootstrap_namespaces=FEDERATION_NAMESPACES))
    await server.start()
    # What start-up built (modules, schemas, the store's first load) lives as long as the process,
    # and so does most of what survives later (cached objects): keep both out of the collector's
    # way, and collect the young generation less often. Full collections over them were 40-60 ms
    # pauses and most of the sustained-load p99 spikes.
    gc.collect()
    gc.freeze()
    HeapFreezer(young_threshold=10_000).start()
    try:
        if not no_kubeconfig:
            path = merge_contexts([server.kubeconfig_entry()], kubeconfig)
            click.echo(f"kubeconfig context federation-cluster written to {path}")
        click.echo(f"federation API serving at {server.url}  (try: kubectl --context=federation-cluster get services)",
                   err=False)
        await asyncio.Event().wait()
    finally:
        await server.stop()
