"""`kfed dns-server` as a user runs it: a process, a records file, dig, a signal to stop."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

RECORDS = """
zone: example.com.
records:
  - {name: ns1, type: A, ttl: 300, data: [127.0.0.1]}
  - {name: www, type: A, ttl: 300, data: [192.0.2.1]}
"""


async def test_cli_serves_a_records_file_and_follows_it(tmp_path: Path, tools) -> None:
    tools.need_binary("dig")
    records = tmp_path / "records.yaml"
    records.write_text(RECORDS)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kfed.cli.dns_server",
        "--listen", "127.0.0.1:0", "--records", str(records), "--tsig-key", tools.key_spec,
        "--poll-interval", "0.05", "--no-uvloop",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        banner = (await asyncio.wait_for(process.stderr.readline(), 30)).decode()
        match = re.search(r"serving example\.com\. on 127\.0\.0\.1:(\d+)", banner)
        assert match, banner
        port = int(match.group(1))
        out = await tools.dig(port, "www.example.com.", "A", "+short")
        assert out.split() == ["192.0.2.1"]
        refused = await tools.dig(port, "example.com.", "AXFR")
        assert "Transfer failed" in refused  # --tsig-key makes transfers need the key

        records.write_text(RECORDS.replace("192.0.2.1", "192.0.2.200"))

        async def updated() -> bool:
            return (await tools.dig(port, "www.example.com.", "A", "+short")).split() == ["192.0.2.200"]

        await tools.eventually(updated, timeout=10)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_cli_rejects_bad_arguments(tools) -> None:
    code, _, err = await tools.run(
        sys.executable, "-m", "kfed.cli.dns_server", "--zone", "example.com.", "--tsig-key", "nonsense"
    )
    assert code == 2 and "name:algorithm:base64secret" in err
    code, _, err = await tools.run(sys.executable, "-m", "kfed.cli.dns_server")
    assert code == 2 and "--zone" in err
