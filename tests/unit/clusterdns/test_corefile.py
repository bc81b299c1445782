"""The CoreDNS fragment: its shape (as CoreDNS' Caddyfile lexer reads it), and what its template
answers, checked against kfed cluster-dns' answer for the same names.

CoreDNS is not installable here, so the template plugin's matching and Go-template rendering are
emulated for the only forms the fragment uses ({{ .Name }} and {{ .Group.x }}); the regex is RE2
syntax that Python's re reads the same way (named groups, classes, anchors)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import dns.message
import dns.name
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kfed.dns.clusterdns import ClusterDNSCore, ClusterDNSSettings, ClusterIndex
from kfed.dns.corefile import (
    CorefileError,
    CorefileSettings,
    corefile_fragment,
    federated_name_regex,
    zone_target_template,
)
from kfed.dns.names import ZoneNameStyle

STOCK_PLUGINS = {"template", "forward", "errors"}
LABEL = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?\Z", fullmatch=True)


def tokens(text: str) -> list[str]:
    """Caddyfile tokens: words, quoted strings (quotes dropped), braces; `#` starts a comment."""
    out: list[str] = []
    for line in text.splitlines():
        i = 0
        while i < len(line):
            ch = line[i]
            if ch.isspace():
                i += 1
            elif ch == "#":
                break
            elif ch == '"':
                end = line.index('"', i + 1)  # the fragment never needs escaped quotes
                out.append(line[i + 1 : end])
                i = end + 1
            else:
                end = i
                while end < len(line) and not line[end].isspace():
                    end += 1
                out.append(line[i:end])
                i = end
    return out


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] = field(default_factory=list)


def parse(text: str) -> list[Directive]:
    """Top-level items: server blocks (`key {`) and directives outside any block (those go inside
    the existing server block), with one line per directive as CoreDNS reads them."""
    items: list[Directive] = []
    stack: list[list[Directive]] = [items]
    for raw in text.splitlines():
        line = tokens(raw)
        if not line:
            continue
        if line == ["}"]:
            assert len(stack) > 1, "unbalanced }"
            stack.pop()
            continue
        opens = line[-1] == "{"
        words = line[:-1] if opens else line
        directive = Directive(words[0], words[1:])
        stack[-1].append(directive)
        if opens:
            stack.append(directive.block)
    assert len(stack) == 1, "unclosed {"
    return items


def render(template: str, name: str, groups: dict[str, str]) -> str:
    """Go text/template for the two actions the fragment uses; anything else is an error."""

    def action(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        if expr == ".Name":
            return name
        if expr.startswith(".Group."):
            return groups[expr.removeprefix(".Group.")]
        raise AssertionError(f"unexpected template action {expr!r}")

    return re.sub(r"\{\{(.*?)\}\}", action, template)


def template_answer(fragment: str, qname: str) -> str | None:
    """What CoreDNS' template plugin of `fragment` answers for qname: the CNAME target, or None
    when it falls through (to the kubernetes plugin)."""
    name = qname.lower()
    for item in parse(fragment):
        if item.name != "template":
            continue
        cls, rtype, *zones = item.args
        assert (cls, rtype) == ("IN", "ANY")
        if not any(dns.name.from_text(name).is_subdomain(dns.name.from_text(z)) for z in zones):
            continue
        sub = {d.name: d.args for d in item.block}
        assert set(sub) == {"match", "answer", "fallthrough"}
        m = re.search(sub["match"][0], name)
        if m is None:
            continue  # fallthrough
        owner, ttl, rclass, rdtype, target = render(sub["answer"][0], name, m.groupdict()).split()
        rrset = dns.rrset.from_text(owner, int(ttl), rclass, rdtype, target)
        assert rrset.name == dns.name.from_text(qname) and rrset.rdtype == dns.rdatatype.CNAME
        return str(rrset[0].target)
    return None


SETTINGS = CorefileSettings(
    "us-central1-f", {"myfederation": "example.com.", "other": "example.org."}, "us-central1-f", "us-central1"
)


def test_template_fragment_shape() -> None:
    text = corefile_fragment(SETTINGS)
    assert "{$" not in text  # CoreDNS would read it as an environment variable
    items = parse(text)
    assert [(i.name, i.args) for i in items] == [
        ("template", ["IN", "ANY", "myfederation.svc.cluster.local"]),
        ("template", ["IN", "ANY", "other.svc.cluster.local"]),
    ]
    for item in items:
        assert {d.name for d in item.block} == {"match", "answer", "fallthrough"}
        assert all(len(d.args) == 1 for d in item.block if d.name != "fallthrough")
    assert "zone us-central1-f, region us-central1" in text


def test_template_answers_like_cluster_dns_without_local_shard() -> None:
    text = corefile_fragment(SETTINGS)
    assert (
        template_answer(text, "nginx.mynamespace.myfederation.svc.cluster.local.")
        == "nginx.mynamespace.myfederation.svc.us-central1-f.example.com."
    )
    assert (
        template_answer(text, "Web.Shop.Other.svc.cluster.local.")
        == "web.shop.other.svc.us-central1-f.example.org."
    )
    # the kubernetes plugin keeps what is not a federated name
    for name in (
        "nginx.myfederation.svc.cluster.local.",
        "a.b.c.myfederation.svc.cluster.local.",
        "nginx.mynamespace.svc.cluster.local.",
        "x_y.ns.myfederation.svc.cluster.local.",
        "nginx.mynamespace.unknown.svc.cluster.local.",
    ):
        assert template_answer(text, name) is None, name


def _cluster_dns_target(service: str, namespace: str, zone_style: ZoneNameStyle) -> str:
    index = ClusterIndex(
        static_federations={"myfederation": "example.com."}, zone="us-central1-f", region="us-central1"
    )
    index.mark_synced()
    core = ClusterDNSCore(index, ClusterDNSSettings(zone_style=zone_style))
    out = core.handle(
        dns.message.make_query(f"{service}.{namespace}.myfederation.svc.cluster.local.", "CNAME").to_wire()
    )
    assert isinstance(out, bytes)
    return str(dns.message.from_wire(out).answer[0][0].target)


@settings(max_examples=100, deadline=None)
@given(service=LABEL, namespace=LABEL, zone_style=st.sampled_from(list(ZoneNameStyle)))
def test_template_and_cluster_dns_agree(service: str, namespace: str, zone_style: ZoneNameStyle) -> None:
    text = corefile_fragment(
        CorefileSettings(
            "c", {"myfederation": "example.com."}, "us-central1-f", "us-central1", zone_style=zone_style
        )
    )
    qname = f"{service}.{namespace}.myfederation.svc.cluster.local."
    assert template_answer(text, qname) == _cluster_dns_target(service, namespace, zone_style)


def test_regex_and_target_pieces() -> None:
    regex = federated_name_regex("my-fed", "cluster.local")
    assert re.fullmatch(regex, "a.b.my-fed.svc.cluster.local.")
    assert not re.fullmatch(regex, "a.b.myxfed.svc.cluster.local.")  # the dots are literal
    assert "\\" not in regex  # nothing for the Corefile's quoting to mangle
    assert (
        zone_target_template("f", "example.com", "", "eu")
        == "{{ .Group.svc }}.{{ .Group.ns }}.f.svc.eu.example.com."
    )
    assert (
        zone_target_template("f", "example.com", "", "")
        == "{{ .Group.svc }}.{{ .Group.ns }}.f.svc.example.com."
    )


def test_federation_dns_and_delegate_blocks() -> None:
    text = corefile_fragment(
        CorefileSettings(
            "c", {"myfederation": "example.com."}, "z", "r", federation_dns=["10.0.0.9:5353"], port=1053
        )
    )
    blocks = [i for i in parse(text) if i.block and i.name != "template"]
    assert [(b.name, [(d.name, d.args) for d in b.block]) for b in blocks] == [
        ("example.com:1053", [("errors", []), ("forward", [".", "10.0.0.9:5353"])])
    ]
    text = corefile_fragment(
        CorefileSettings(
            "c", {"myfederation": "example.com."}, "z", "r", delegate=["10.96.0.53", "10.96.0.54:53"]
        )
    )
    items = parse(text)
    assert [(i.name, [(d.name, d.args) for d in i.block]) for i in items] == [
        (
            "myfederation.svc.cluster.local:53",
            [("errors", []), ("forward", [".", "10.96.0.53", "10.96.0.54:53"])],
        )
    ]
    for item in items:
        assert {d.name for d in item.block} <= STOCK_PLUGINS


def test_fragment_errors() -> None:
    with pytest.raises(CorefileError):
        corefile_fragment(CorefileSettings("c", {}, "z", "r"))
    with pytest.raises(CorefileError):
        corefile_fragment(
            CorefileSettings("c", {"f": "example.com."}, "z", "r", federation_dns=["1.2.3.4 }"])
        )
    long_domain = ("d" * 60 + ".") * 3 + "com."  # fine alone, too long with a zone in front
    with pytest.raises(CorefileError):
        corefile_fragment(CorefileSettings("c", {"f": long_domain}, "z" * 63, "r"))
