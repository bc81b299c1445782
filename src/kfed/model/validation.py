"""Pure validators with kube-apiserver's messages and field paths.

Every function returns either a list of message strings (the `Is*` family, as in
k8s.io/apimachinery/pkg/util/validation) or a list of FieldCause (the `validate_*` family,
as in the apiserver's field.ErrorList). Messages follow kube-apiserver 1.32 word for word,
because kubectl users (and scripts) match on them.

Objects are plain JSON-like dicts that may hold values of the wrong type (the schema check
reports those); validators skip what they cannot read instead of raising.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kfed.model.resource import CauseType, FieldCause, Obj

# ---------------------------------------------------------------------------------------------
# Field causes and Go-printed values


def required(path: str, detail: str = "") -> FieldCause:
    return FieldCause(CauseType.REQUIRED, path, detail, "")


def invalid(path: str, value: Any, detail: str) -> FieldCause:
    return FieldCause(CauseType.INVALID, path, detail, value)


def not_supported(path: str, value: Any, supported: Iterable[str]) -> FieldCause:
    values = list(supported)
    detail = ("supported values: " + ", ".join(_go_str(v) for v in values)) if values else ""
    return FieldCause(CauseType.NOT_SUPPORTED, path, detail, value)


def duplicate(path: str, value: Any) -> FieldCause:
    return FieldCause(CauseType.DUPLICATE, path, "", value)


def forbidden(path: str, detail: str) -> FieldCause:
    return FieldCause(CauseType.FORBIDDEN, path, detail, "")


def too_long(path: str, max_bytes: int) -> FieldCause:
    return FieldCause(CauseType.TOO_LONG, path, f"must have at most {max_bytes} bytes", "")


def too_many(path: str, actual: int, maximum: int) -> FieldCause:
    return FieldCause(CauseType.TOO_MANY, path, f"must have at most {maximum} items", actual)


class GoValue:
    """A bad value that kube-apiserver prints with Go's %#v (structs, maps, slices).

    FieldCause.render() prints str(value) for anything that is not a str, so this keeps the
    Go spelling (`map[string]string{"app":"web"}`) out of the way of quoting.
    """

    def __init__(self, text: str, data: Any = None) -> None:
        self.text = text
        self.data = data

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"GoValue({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoValue) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def _go_str(value: str) -> str:
    """Go's %q for the ASCII strings that appear in API objects."""
    out = ['"']
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_string_map(value: Mapping[str, Any] | None) -> GoValue:
    """%#v of a map[string]string: keys sorted, as fmt prints maps."""
    if value is None:
        return GoValue("map[string]string(nil)", value)
    body = ", ".join(f"{_go_str(str(k))}:{_go_str(str(v))}" for k, v in sorted(value.items()))
    return GoValue("map[string]string{" + body + "}", dict(value))


def go_string_slice(value: list[Any] | None) -> GoValue:
    if value is None:
        return GoValue("[]string(nil)", value)
    return GoValue("[]string{" + ", ".join(_go_str(str(v)) for v in value) + "}", list(value))


def go_label_selector(selector: Mapping[str, Any] | None) -> GoValue:
    """%#v of a metav1.LabelSelector (as apps validation prints spec.selector)."""
    sel = selector or {}
    labels = sel.get("matchLabels")
    labels_text = go_string_map(labels if isinstance(labels, dict) and labels else None).text
    exprs = sel.get("matchExpressions")
    if isinstance(exprs, list) and exprs:
        parts = []
        for e in exprs:
            e = e if isinstance(e, dict) else {}
            values = e.get("values")
            parts.append("v1.LabelSelectorRequirement{Key:" + _go_str(str(e.get("key", ""))) +
                         ", Operator:" + _go_str(str(e.get("operator", ""))) +
                         ", Values:" + go_string_slice(values if isinstance(values, list) else None).text + "}")
        exprs_text = "[]v1.LabelSelectorRequirement{" + ", ".join(parts) + "}"
    else:
        exprs_text = "[]v1.LabelSelectorRequirement(nil)"
    return GoValue(f"v1.LabelSelector{{MatchLabels:{labels_text}, MatchExpressions:{exprs_text}}}", selector)


# ---------------------------------------------------------------------------------------------
# Message builders (k8s.io/apimachinery/pkg/util/validation)


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    text = msg + " (e.g. "
    for i, example in enumerate(examples):
        if i > 0:
            text += " or "
        text += f"'{example}', "
    return text + f"regex used for validation is '{fmt}')"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


EMPTY_ERROR = "must be non-empty"
IS_NEGATIVE_ERROR = "must be greater than or equal to 0"
FIELD_IMMUTABLE = "field is immutable"

# ---------------------------------------------------------------------------------------------
# Names

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL_MAX = 63
_DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                      "and must start and end with an alphanumeric character")
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1123_SUBDOMAIN_MAX = 253
_DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                          "'-' or '.', and must start and end with an alphanumeric character")
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
DNS1035_LABEL_MAX = 63
_DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                      "start with an alphabetic character, and end with an alphanumeric character")

_DNS1123_LABEL_RE = re.compile(f"^{DNS1123_LABEL_FMT}$")
_DNS1123_SUBDOMAIN_RE = re.compile(f"^{DNS1123_SUBDOMAIN_FMT}$")
_DNS1035_LABEL_RE = re.compile(f"^{DNS1035_LABEL_FMT}$")


def _memo_problems(check: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    """Remember a string rule's findings: label keys and values, finalizers and names repeat on
    every write (a fresh list each call: callers may extend it)."""
    cached = functools.lru_cache(maxsize=65_536)(lambda value: tuple(check(value)))

    @functools.wraps(check)
    def problems(value: str) -> list[str]:
        try:
            return list(cached(value))
        except TypeError:  # not hashable: not a string, which the rule reports
            return check(value)

    return problems


def _full(regex: re.Pattern[str], value: str) -> bool:
    # fullmatch, because `$` alone also matches before a trailing newline
    return regex.fullmatch(value) is not None


@_memo_problems
def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(max_len_error(DNS1123_LABEL_MAX))
    if not _full(_DNS1123_LABEL_RE, value):
        if _full(_DNS1123_SUBDOMAIN_RE, value):
            errs.append("must not contain dots")  # a valid subdomain with dots
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


@_memo_problems
def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _full(_DNS1123_SUBDOMAIN_RE, value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


@_memo_problems
def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1035_LABEL_MAX:
        errs.append(max_len_error(DNS1035_LABEL_MAX))
    if not _full(_DNS1035_LABEL_RE, value):
        errs.append(regex_error(_DNS1035_LABEL_MSG, DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_fully_qualified_domain_name(path: str, name: str) -> list[FieldCause]:
    """IsFullyQualifiedDomainName: at least two labels; a trailing dot is allowed."""
    if not name:
        return [required(path)]
    if name.endswith("."):
        name = name[:-1]
    msgs = is_dns1123_subdomain(name)
    if msgs:
        return [invalid(path, name, ",".join(msgs))]
    if len(name.split(".")) < 2:
        return [invalid(path, name, "should be a domain with at least two segments separated by dots")]
    for label in name.split("."):
        msgs = is_dns1123_label(label)
        if msgs:
            return [invalid(path, label, ",".join(msgs))]
    return []


NameRule = Callable[[str, bool], list[str]]
"""A name rule: (name, prefix) -> messages. prefix=True for generateName, which may end in '-'."""


def _mask_trailing_dash(name: str) -> str:
    return name[:-1] + "a" if len(name) > 1 and name.endswith("-") else name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


# Name rules of the kinds kfed serves, keyed by kind (core and apps kinds as kube-apiserver;
# everything else falls back to a DNS-1123 subdomain, the rule for custom resources).
NAME_RULES: dict[str, NameRule] = {
    "Service": name_is_dns1035_label,
    "Namespace": name_is_dns_label,
}


def name_rule_for(kind: str | None) -> NameRule:
    return NAME_RULES.get(kind or "", name_is_dns_subdomain)


# ---------------------------------------------------------------------------------------------
# Qualified names (label keys), label values, config keys, ports

_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
_LABEL_KEY_RE = re.compile(f"^{_LABEL_KEY_FMT}$")
_LABEL_VALUE_FMT = f"({_LABEL_KEY_FMT})?"
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                    "and must start and end with an alphanumeric character")
_LABEL_VALUE_RE = re.compile(f"^{_LABEL_VALUE_FMT}$")
LABEL_VALUE_MAX = 63
_QUALIFIED_NAME_MAX = 63


@_memo_problems
def is_qualified_name(value: str) -> list[str]:
    """Label keys, annotation keys, finalizers: [prefix/]name."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + EMPTY_ERROR)
        else:
            errs += ["prefix part " + m for m in is_dns1123_subdomain(prefix)]
    else:
        return ["a qualified name " + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part " + EMPTY_ERROR)
    elif len(name) > _QUALIFIED_NAME_MAX:
        errs.append("name part " + max_len_error(_QUALIFIED_NAME_MAX))
    if not _full(_LABEL_KEY_RE, name):
        errs.append("name part " + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc"))
    return errs


@_memo_problems
def is_label_value(value: str) -> list[str]:
    errs = []
    if len(value) > LABEL_VALUE_MAX:
        errs.append(max_len_error(LABEL_VALUE_MAX))
    if not _full(_LABEL_VALUE_RE, value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_RE = re.compile(f"^{_CONFIG_KEY_FMT}$")


def is_config_map_key(value: str) -> list[str]:
    """Keys of ConfigMap and Secret data."""
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _full(_CONFIG_KEY_RE, value):
        errs.append(regex_error("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                                _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


_PORT_NAME_CHARSET = re.compile(r"^[-a-z0-9]+$")
_PORT_NAME_LETTER = re.compile(r"[a-z]")


def is_valid_port_name(port: str) -> list[str]:
    """An IANA_SVC_NAME (RFC 6335): at most 15 of [-a-z0-9], a letter, no '--', no edge '-'."""
    errs = []
    if len(port) > 15:
        errs.append(max_len_error(15))
    if not _full(_PORT_NAME_CHARSET, port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_LETTER.search(port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


_PERCENT_FMT = "[0-9]+%"
_PERCENT_RE = re.compile(f"^{_PERCENT_FMT}$")


def is_valid_percent(value: str) -> list[str]:
    if _full(_PERCENT_RE, value):
        return []
    return [regex_error("a valid percent string must be a numeric string followed by an ending '%'",
                        _PERCENT_FMT, "1%", "93%")]


# ---------------------------------------------------------------------------------------------
# IP addresses and CIDRs

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip_sloppy(value: str) -> IPAddress | None:
    """Go's net.ParseIP as Kubernetes uses it: IPv4 parts may carry leading zeros (read as decimal)."""
    if not isinstance(value, str) or not value:
        return None
    return _parse_ip_text(value)


@functools.lru_cache(maxsize=65_536)
def _parse_ip_text(value: str) -> IPAddress | None:
    """Cached: every Service, Endpoints and EndpointSlice write validates the same few addresses
    again (the objects the result is shared with are immutable)."""
    if value.strip() != value:
        return None
    if ":" not in value:
        parts = value.split(".")
        if len(parts) != 4 or not all(p.isdigit() and p.isascii() and len(p) <= 3 for p in parts):
            return None
        nums = [int(p) for p in parts]
        if any(n > 255 for n in nums):
            return None
        return ipaddress.IPv4Address(".".join(str(n) for n in nums))
    if "%" in value:  # zones are not IPs here
        return None
    try:
        addr = ipaddress.IPv6Address(value)
    except ValueError:
        return None
    return addr


def parse_cidr_sloppy(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not isinstance(value, str) or value.count("/") != 1:
        return None
    addr_text, _, bits_text = value.partition("/")
    addr = parse_ip_sloppy(addr_text)
    if addr is None or not bits_text.isdigit() or not bits_text.isascii() or (len(bits_text) > 1 and bits_text[0] == "0"):
        return None
    bits = int(bits_text)
    if bits > addr.max_prefixlen:
        return None
    return ipaddress.ip_network(f"{addr}/{bits}", strict=False)


def is_ipv6(value: str) -> bool:
    return isinstance(parse_ip_sloppy(value), ipaddress.IPv6Address)


def validate_ip(path: str, value: str) -> list[FieldCause]:
    if parse_ip_sloppy(value) is None:
        return [invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    return []


def validate_ipv4(path: str, value: str) -> list[FieldCause]:
    ip = parse_ip_sloppy(value)
    if ip is None or ip.version != 4:
        return [invalid(path, value, "must be a valid IPv4 address")]
    return []


def validate_ipv6(path: str, value: str) -> list[FieldCause]:
    ip = parse_ip_sloppy(value)
    if ip is None or ip.version != 6:
        return [invalid(path, value, "must be a valid IPv6 address")]
    return []


def validate_cidr(path: str, value: str) -> list[FieldCause]:
    if parse_cidr_sloppy(value) is None:
        return [invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    return []


_LINK_LOCAL_MULTICAST_V4 = ipaddress.ip_network("224.0.0.0/24")
_LINK_LOCAL_MULTICAST_V6 = ipaddress.ip_network("ff02::/16")


def validate_non_special_ip(path: str, value: str) -> list[FieldCause]:
    """ValidateNonSpecialIP: externalIPs and endpoint addresses may not be unspecified,
    loopback or link-local (kube-proxy could not route them)."""
    if not isinstance(value, str):
        return [invalid(path, value, "must be a valid IP address")]
    return [invalid(path, value, detail) for detail in _special_ip_problems(value)]


@functools.lru_cache(maxsize=65_536)
def _special_ip_problems(value: str) -> tuple[str, ...]:
    ip = parse_ip_sloppy(value)
    if ip is None:
        return ("must be a valid IP address",)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    problems = []
    if ip.is_unspecified:
        problems.append(f"may not be unspecified ({value})")
    if ip.is_loopback:
        problems.append("may not be in the loopback range (127.0.0.0/8, ::1/128)")
    if ip.is_link_local and not ip.is_multicast:
        problems.append("may not be in the link-local range (169.254.0.0/16, fe80::/10)")
    if ip in _LINK_LOCAL_MULTICAST_V4 or ip in _LINK_LOCAL_MULTICAST_V6:
        problems.append("may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")
    return tuple(problems)


# ---------------------------------------------------------------------------------------------
# Small field validators


def validate_dns1123_label(path: str, value: str) -> list[FieldCause]:
    return [invalid(path, value, m) for m in is_dns1123_label(value)]


def validate_dns1123_subdomain(path: str, value: str) -> list[FieldCause]:
    return [invalid(path, value, m) for m in is_dns1123_subdomain(value)]


def validate_qualified_name(path: str, value: str) -> list[FieldCause]:
    return [invalid(path, value, m) for m in is_qualified_name(value)]


def validate_nonnegative(path: str, value: int) -> list[FieldCause]:
    return [invalid(path, value, IS_NEGATIVE_ERROR)] if value < 0 else []


def validate_port_number(path: str, value: int) -> list[FieldCause]:
    return [invalid(path, value, m) for m in is_valid_port_num(value)]


def validate_port_num_or_name(path: str, value: Any) -> list[FieldCause]:
    """An IntOrString port: a number 1..65535 or an IANA service name (a JSON string is a name)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return validate_port_number(path, value)
    if isinstance(value, str):
        return [invalid(path, value, m) for m in is_valid_port_name(value)]
    return []


def validate_labels(labels: Any, path: str) -> list[FieldCause]:
    """ValidateLabels: the path is the map's, not the key's (as kube-apiserver reports it)."""
    if not isinstance(labels, dict):
        return []
    if all(type(k) is str and type(v) is str for k, v in labels.items()):
        # Every object of a workload carries the same few labels: judged once per set.
        return list(_label_set_causes(path, tuple(labels.items())))
    return _label_causes(labels, path)


@functools.lru_cache(maxsize=16_384)
def _label_set_causes(path: str, items: tuple[tuple[str, str], ...]) -> tuple[FieldCause, ...]:
    return tuple(_label_causes(dict(items), path))


def _label_causes(labels: dict[Any, Any], path: str) -> list[FieldCause]:
    causes = []
    for key in sorted(labels, key=str):
        causes += validate_qualified_name(path, str(key))
        value = labels[key]
        if isinstance(value, str):
            causes += [invalid(path, value, m) for m in is_label_value(value)]
    return causes


TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def validate_annotations(annotations: Any, path: str) -> list[FieldCause]:
    if not isinstance(annotations, dict):
        return []
    causes = []
    total = 0
    for key in sorted(annotations, key=str):
        # The rule is a qualified name, except that case does not matter.
        causes += [invalid(path, key, m) for m in is_qualified_name(str(key).lower())]
        value = annotations[key]
        total += len(str(key).encode()) + (len(value.encode()) if isinstance(value, str) else 0)
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        causes.append(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return causes


STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})


def validate_finalizer_name(path: str, value: str, *, builtin: bool = True) -> list[FieldCause]:
    """A qualified name; a built-in kind also refuses unqualified names that are not standard."""
    causes = validate_qualified_name(path, value)
    if builtin and not causes and "/" not in value and value not in STANDARD_FINALIZERS:
        causes.append(invalid(path, value, "name is neither a standard finalizer name nor is it fully qualified"))
    return causes


def validate_finalizers(finalizers: Any, path: str, *, builtin: bool = True) -> list[FieldCause]:
    if not isinstance(finalizers, list):
        return []
    causes = []
    names = [f for f in finalizers if isinstance(f, str)]
    for name in names:
        causes += validate_finalizer_name(path, name, builtin=builtin)
    if "orphan" in names and "foregroundDeletion" in names:
        causes.append(invalid(path, go_string_slice(names),
                              "finalizer orphan and foregroundDeletion cannot be both set"))
    return causes


def validate_owner_references(refs: Any, path: str) -> list[FieldCause]:
    if not isinstance(refs, list):
        return []
    causes = []
    first_controller = ""
    for ref in refs:
        if not isinstance(ref, dict):
            continue
        api_version = str(ref.get("apiVersion") or "")
        version = api_version.rsplit("/", 1)[-1]
        if not version:
            causes.append(invalid(f"{path}.apiVersion", api_version, "version must not be empty"))
        if not ref.get("kind"):
            causes.append(invalid(f"{path}.kind", str(ref.get("kind") or ""), "must not be empty"))
        if not ref.get("name"):
            causes.append(invalid(f"{path}.name", str(ref.get("name") or ""), "must not be empty"))
        if not ref.get("uid"):
            causes.append(invalid(f"{path}.uid", str(ref.get("uid") or ""), "must not be empty"))
        if api_version == "v1" and ref.get("kind") == "Event":
            causes.append(invalid(path, GoValue(f"{ref}"), "/v1, Kind=Event is disallowed from being an owner"))
        if ref.get("controller") is True:
            current = f"{ref.get('kind', '')}/{ref.get('name', '')}"
            if first_controller:
                causes.append(invalid(path, GoValue(str(refs)),
                                      'Only one reference can have Controller set to true. Found "true" in '
                                      f"references for {first_controller} and {current}"))
            else:
                first_controller = current
    return causes


def validate_label_selector(selector: Any, path: str) -> list[FieldCause]:
    """metav1.LabelSelector: matchLabels as labels, matchExpressions with valid operators."""
    if not isinstance(selector, dict):
        return []
    causes = []
    exprs = selector.get("matchExpressions")
    if isinstance(exprs, list):
        for i, expr in enumerate(exprs):
            if not isinstance(expr, dict):
                continue
            epath = f"{path}.matchExpressions[{i}]"
            op = expr.get("operator")
            values: list[Any] = expr["values"] if isinstance(expr.get("values"), list) else []
            if op in ("In", "NotIn"):
                if not values:
                    causes.append(required(f"{epath}.values",
                                           "must be specified when `operator` is 'In' or 'NotIn'"))
            elif op in ("Exists", "DoesNotExist"):
                if values:
                    causes.append(forbidden(f"{epath}.values",
                                            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
            else:
                causes.append(invalid(f"{epath}.operator", str(op or ""), "not a valid selector operator"))
            causes += validate_qualified_name(f"{epath}.key", str(expr.get("key") or ""))
            for j, v in enumerate(values):
                if isinstance(v, str):
                    causes += [invalid(f"{epath}.values[{j}]", v, m) for m in is_label_value(v)]
    causes += validate_labels(selector.get("matchLabels"), f"{path}.matchLabels")
    return causes


def label_selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, Any] | None) -> bool:
    """Whether a metav1.LabelSelector selects an object with these labels (nil/empty selects all)."""
    labels = labels or {}
    sel = selector or {}
    match_labels = sel.get("matchLabels")
    if isinstance(match_labels, dict):
        for k, v in match_labels.items():
            if labels.get(k) != v:
                return False
    exprs = sel.get("matchExpressions")
    if isinstance(exprs, list):
        for e in exprs:
            if not isinstance(e, dict):
                return False
            key, op = str(e.get("key") or ""), e.get("operator")
            values: list[Any] = e["values"] if isinstance(e.get("values"), list) else []
            present = key in labels
            if op == "In" and not (present and labels[key] in values):
                return False
            if op == "NotIn" and present and labels[key] in values:
                return False
            if op == "Exists" and not present:
                return False
            if op == "DoesNotExist" and present:
                return False
            if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
                return False
    return True


# ---------------------------------------------------------------------------------------------
# ObjectMeta


def _builtin(obj: Obj) -> bool:
    """Core, apps, discovery and coordination kinds get kube's stricter built-in rules."""
    api_version = str(obj.get("apiVersion") or "")
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    return group in ("", "apps", "discovery.k8s.io", "coordination.k8s.io")


def validate_object_meta(obj: Obj, *, namespaced: bool, old: Obj | None = None,
                         name_rule: NameRule | None = None) -> list[FieldCause]:
    """ValidateObjectMeta (and, with `old`, ValidateObjectMetaUpdate) of obj["metadata"].

    The name rule defaults to the kind's (DNS-1035 label for Service, DNS-1123 label for
    Namespace, DNS-1123 subdomain otherwise). Expects name generation to have happened.
    """
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
    rule = name_rule or name_rule_for(obj.get("kind"))
    causes: list[FieldCause] = []
    if old is not None:
        old_meta = old.get("metadata")
        causes += validate_object_meta_update(meta, old_meta if isinstance(old_meta, dict) else {})
    generate_name = meta.get("generateName")
    if isinstance(generate_name, str) and generate_name:
        causes += [invalid("metadata.generateName", generate_name, m) for m in rule(generate_name, True)]
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        causes.append(required("metadata.name", "name or generateName is required"))
    else:
        causes += [invalid("metadata.name", name, m) for m in rule(name, False)]
    namespace = meta.get("namespace")
    if namespaced:
        if not isinstance(namespace, str) or not namespace:
            causes.append(required("metadata.namespace"))
        else:
            causes += [invalid("metadata.namespace", namespace, m) for m in name_is_dns_label(namespace, False)]
    elif namespace:
        causes.append(forbidden("metadata.namespace", "not allowed on this type"))
    generation = meta.get("generation")
    if isinstance(generation, int) and not isinstance(generation, bool):
        causes += validate_nonnegative("metadata.generation", generation)
    causes += validate_labels(meta.get("labels"), "metadata.labels")
    causes += validate_annotations(meta.get("annotations"), "metadata.annotations")
    causes += validate_owner_references(meta.get("ownerReferences"), "metadata.ownerReferences")
    causes += validate_finalizers(meta.get("finalizers"), "metadata.finalizers", builtin=_builtin(obj))
    return causes


def validate_object_meta_update(new_meta: Mapping[str, Any], old_meta: Mapping[str, Any]) -> list[FieldCause]:
    """The update-only rules: immutable identity fields, no new finalizers while deleting."""
    causes: list[FieldCause] = []
    if old_meta.get("deletionTimestamp"):
        added = sorted(set(_strs(new_meta.get("finalizers"))) - set(_strs(old_meta.get("finalizers"))))
        if added:
            causes.append(forbidden("metadata.finalizers",
                                    "no new finalizers can be added if the object is being deleted, "
                                    f"found new finalizers {go_string_slice(added)}"))
    new_gen, old_gen = new_meta.get("generation"), old_meta.get("generation")
    if isinstance(new_gen, int) and isinstance(old_gen, int) and new_gen < old_gen:
        causes.append(invalid("metadata.generation", new_gen, "must not be decremented"))
    for field in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                  "deletionGracePeriodSeconds"):
        new_value, old_value = new_meta.get(field), old_meta.get(field)
        if (new_value or None) != (old_value or None):
            shown = new_value if new_value is not None else ""
            causes.append(invalid(f"metadata.{field}", shown, FIELD_IMMUTABLE))
    return causes


def validate_immutable(path: str, new: Any, old: Any) -> list[FieldCause]:
    """ValidateImmutableField: new must equal old."""
    return [] if new == old else [invalid(path, new, FIELD_IMMUTABLE)]


def _strs(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
