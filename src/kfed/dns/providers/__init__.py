"""DNS providers kfed writes records to, and the applier that drives any of them."""

from kfed.dns.providers.applier import ApplierStats, ProviderApplier, SyncResult
from kfed.dns.providers.base import DNSProvider, ProviderError, ProviderLimits
from kfed.dns.providers.factory import PROVIDERS, make_provider

__all__ = [
    "PROVIDERS",
    "ApplierStats",
    "DNSProvider",
    "ProviderApplier",
    "ProviderError",
    "ProviderLimits",
    "SyncResult",
    "make_provider",
]
