"""Joining and unjoining member clusters (what `kfed join` / `kfed unjoin` do), over the federation API."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from typing import Any

import yaml

from kfed.controllers.cluster import CLEANUP_FINALIZER, CLUSTERS, DELETE_SERVICES_ANNOTATION
from kfed.controllers.manager import CONFIG_NAME, CONFIG_NAMESPACE, FederationSettings
from kfed.members.client import ApiCallError, KubeClient, KubeConfigError, Unreachable, extract_context

log = logging.getLogger("kfed.membership")

SECRETS = f"/api/v1/namespaces/{CONFIG_NAMESPACE}/secrets"
KUBE_DNS_CONFIGMAP = "/api/v1/namespaces/kube-system/configmaps/kube-dns"


async def read_settings(fed: KubeClient) -> FederationSettings:
    try:
        cm = await fed.get(f"/api/v1/namespaces/{CONFIG_NAMESPACE}/configmaps/{CONFIG_NAME}")
    except ApiCallError as e:
        if e.status == 404:
            return FederationSettings()
        raise
    return FederationSettings.from_configmap(cm)


async def publish_settings(fed: KubeClient, settings: FederationSettings) -> None:
    body = settings.to_configmap()
    path = f"/api/v1/namespaces/{CONFIG_NAMESPACE}/configmaps"
    try:
        await fed.request("POST", path, body=body)
    except ApiCallError as e:
        if e.status != 409:
            raise
        await fed.request("PUT", f"{path}/{CONFIG_NAME}", body=body)


async def _upsert(fed: KubeClient, collection: str, name: str, body: dict[str, Any]) -> None:
    try:
        await fed.request("POST", collection, body=body)
    except ApiCallError as e:
        if e.status != 409:
            raise
        current = await fed.get(f"{collection}/{name}")
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if "status" in current:
            body["status"] = current["status"]
        await fed.request("PUT", f"{collection}/{name}", body=body)


async def join(fed: KubeClient, cluster: str, kubeconfig: dict[str, Any], context: str, *,
               record_in_member: bool = True) -> dict[str, Any]:
    """Store the context's credentials as a Secret, create the Cluster, and tell the member's DNS."""
    member_config = extract_context(kubeconfig, context)
    server = member_config["clusters"][0].get("cluster", {}).get("server")
    if not server:
        raise KubeConfigError(f'context "{context}" has no server address')
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": cluster, "namespace": CONFIG_NAMESPACE,
                           "labels": {"federation.kfed.io/cluster": cluster}},
              "data": {"kubeconfig": base64.b64encode(yaml.safe_dump(member_config).encode()).decode()}}
    await _upsert(fed, SECRETS, cluster, secret)
    obj = {"apiVersion": "federation.kfed.io/v1beta1", "kind": "Cluster",
           "metadata": {"name": cluster, "finalizers": [CLEANUP_FINALIZER]},
           "spec": {"serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}],
                    "secretRef": {"name": cluster}}}
    await _upsert(fed, CLUSTERS, cluster, obj)
    if record_in_member:
        settings = await read_settings(fed)
        try:
            member = await KubeClient.from_kubeconfig(member_config, timeout=5.0)
            try:
                await record_federation_in_member(member, settings.federation, settings.dns_zone)
            finally:
                await member.close()
        except (ApiCallError, Unreachable, KubeConfigError) as e:
            # The join itself stands: the cluster controller reports reachability as a condition.
            log.warning("could not record the federation in %s's kube-dns ConfigMap: %s", cluster, e)
    return obj


async def record_federation_in_member(member: KubeClient, federation: str, zone: str) -> None:
    """Add `federation=zone` to kube-system/kube-dns's `federations` key (as Federation v1 did)."""
    entry = f"{federation}={zone.rstrip('.')}"
    try:
        cm = await member.get(KUBE_DNS_CONFIGMAP)
    except ApiCallError as e:
        if e.status != 404:
            raise
        await member.request("POST", "/api/v1/namespaces/kube-system/configmaps", body={
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-dns", "namespace": "kube-system"},
            "data": {"federations": entry}})
        return
    entries = [e for e in (cm.get("data") or {}).get("federations", "").split(",") if e.strip()]
    entries = [e for e in entries if not e.startswith(f"{federation}=")] + [entry]
    await member.request("PATCH", KUBE_DNS_CONFIGMAP, body={"data": {"federations": ",".join(entries)}},
                         content_type="application/merge-patch+json")


async def forget_federation_in_member(member: KubeClient, federation: str) -> None:
    try:
        cm = await member.get(KUBE_DNS_CONFIGMAP)
    except ApiCallError as e:
        if e.status == 404:
            return
        raise
    entries = [e for e in (cm.get("data") or {}).get("federations", "").split(",")
               if e.strip() and not e.startswith(f"{federation}=")]
    await member.request("PATCH", KUBE_DNS_CONFIGMAP, body={"data": {"federations": ",".join(entries)}},
                         content_type="application/merge-patch+json")


async def unjoin(fed: KubeClient, cluster: str, *, delete_services: bool = False, timeout: float = 60.0,
                 progress: Any = None) -> None:
    """Delete the Cluster (its controller cleans up records and, if asked, Services), then its Secret."""
    try:
        obj = await fed.get(f"{CLUSTERS}/{cluster}")
    except ApiCallError as e:
        if e.status == 404:
            raise KeyError(f'cluster "{cluster}" is not joined') from e
        raise
    if delete_services:
        await fed.request("PATCH", f"{CLUSTERS}/{cluster}", content_type="application/merge-patch+json",
                          body={"metadata": {"annotations": {DELETE_SERVICES_ANNOTATION: "true"}}})
    secret_name = (obj.get("spec", {}).get("secretRef") or {}).get("name") or cluster
    member_config = None
    try:
        secret = await fed.get(f"{SECRETS}/{secret_name}")
        member_config = yaml.safe_load(base64.b64decode(secret["data"]["kubeconfig"]))
    except (ApiCallError, KeyError, ValueError):
        pass
    settings = await read_settings(fed)
    await fed.request("DELETE", f"{CLUSTERS}/{cluster}")
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:  # the controller drops its finalizer once it has cleaned up
        try:
            await fed.get(f"{CLUSTERS}/{cluster}")
        except ApiCallError as e:
            if e.status == 404:
                break
            raise
        if time.monotonic() > deadline:
            raise TimeoutError(f"cluster {cluster} still has finalizers after {timeout}s: is the controller-manager "
                               "running?")
        if progress is not None:
            progress()
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.5)
    try:
        await fed.request("DELETE", f"{SECRETS}/{secret_name}")
    except ApiCallError as e:
        if e.status != 404:
            raise
    if member_config is not None:
        try:
            member = await KubeClient.from_kubeconfig(member_config, timeout=5.0)
            try:
                await forget_federation_in_member(member, settings.federation)
            finally:
                await member.close()
        except (ApiCallError, Unreachable, KubeConfigError) as e:
            log.warning("could not update %s's kube-dns ConfigMap: %s", cluster, e)
