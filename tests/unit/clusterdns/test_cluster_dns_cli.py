"""The command-line side: option errors are clean, the in-cluster kubeconfig, offline coredns-config."""

from __future__ import annotations

import base64
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kfed.cli import cluster_dns as cli


def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    for args, hint in (
        (["--federations", "nodomain"], "--federations"),
        (["--upstream", "dns.google"], "--upstream"),
        (["--listen", "127.0.0.1:http"], "host:port"),
    ):
        result = runner.invoke(
            cli.cluster_dns, ["--cluster", "c", "--kubeconfig", str(tmp_path / "none"), *args]
        )
        assert result.exit_code == 2, result.output
        assert hint in result.output and "Traceback" not in result.output


def test_missing_kubeconfig_is_a_clean_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli.cluster_dns, ["--cluster", "c", "--kubeconfig", str(tmp_path / "none"), "--listen", "127.0.0.1:0"]
    )
    assert result.exit_code == 1 and "not found" in result.output


def test_in_cluster_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(click.ClickException):
        cli._in_cluster_kubeconfig()
    (tmp_path / "token").write_text("tok\n")
    (tmp_path / "ca.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setattr(cli, "SERVICE_ACCOUNT_DIR", tmp_path)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    config = cli._in_cluster_kubeconfig()
    assert config["clusters"][0]["cluster"]["server"] == "https://[fd00::1]:6443"
    assert base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]).startswith(
        b"-----BEGIN"
    )
    assert config["users"][0]["user"]["token"] == "tok"


def test_coredns_config_offline() -> None:
    result = CliRunner().invoke(
        cli.coredns_config,
        ["--cluster", "c", "--zone", "eu-1", "--region", "eu", "--federations", "f=example.org",
         "--zone-style", "zone.region", "--ttl", "60", "--delegate", "10.96.0.99:53"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "f.svc.cluster.local:53 {" in result.output and "forward . 10.96.0.99:53" in result.output
    result = CliRunner().invoke(
        cli.coredns_config,
        ["--cluster", "c", "--zone", "eu-1", "--region", "eu", "--federations", "f=example.org"],
    )
    assert "IN CNAME {{ .Group.svc }}.{{ .Group.ns }}.f.svc.eu-1.example.org." in result.output
