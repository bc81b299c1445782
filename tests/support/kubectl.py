"""Running the real kubectl binary against our servers."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class KubectlResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


class Kubectl:
    def __init__(self, kubeconfig: Path, context: str = "federation-cluster") -> None:
        self.kubeconfig = kubeconfig
        self.context = context

    def env(self, **extra: str) -> dict[str, str]:
        return dict(os.environ, KUBECONFIG=str(self.kubeconfig), **extra)

    def run(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60,
            context: str | None = None, env: dict[str, str] | None = None) -> KubectlResult:
        cmd = ["kubectl", f"--context={context or self.context}", *args]
        p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                           env=env or self.env())
        result = KubectlResult(p.returncode, p.stdout, p.stderr)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return result

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(["kubectl", f"--context={self.context}", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env())
