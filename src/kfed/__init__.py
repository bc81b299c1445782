"""kfed: a federation control plane for Kubernetes Services."""

__version__ = "0.1.0"
