"""A small private network of Linux network namespaces: one service host, several worker hosts.

Each worker namespace is joined to the service namespace by its own veth pair (both ends are
moved out of the root namespace, so nothing here touches the machine's own networking), on a
bridge inside the service namespace, in a random 10.x.y.0/24 of its own. Names carry a random
tag, so that two runs at once cannot collide. `Network.close` deletes the namespaces, which
deletes their links too; it is safe to call at any point of the set-up.
"""

from __future__ import annotations

import random
import subprocess
import uuid
from dataclasses import dataclass, field


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@dataclass
class Network:
    n_workers: int
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    subnet: str = field(
        default_factory=lambda: f"10.{random.randint(64, 250)}.{random.randint(0, 255)}"
    )
    created: list[str] = field(default_factory=list)

    @property
    def service(self) -> str:
        return f"hps-svc-{self.tag}"

    def worker(self, index: int) -> str:
        return f"hps-w{index}-{self.tag}"

    @property
    def service_address(self) -> str:
        return f"{self.subnet}.1"

    def _link(self, index: int) -> str:
        """The service side of worker `index`'s veth pair (names stay under 15 characters)."""
        return f"hs{self.tag}{index}"

    def open(self) -> Network:
        self._namespace(self.service)
        self._in(self.service, "link", "add", "br0", "type", "bridge")
        self._in(self.service, "addr", "add", f"{self.service_address}/24", "dev", "br0")
        self._in(self.service, "link", "set", "br0", "up")
        for index in range(self.n_workers):
            self._join(index)
        return self

    def _namespace(self, name: str) -> None:
        _ip("netns", "add", name)
        self.created.append(name)
        self._in(name, "link", "set", "lo", "up")

    def _in(self, namespace: str, *args: str) -> None:
        _ip("-n", namespace, *args)

    def _join(self, index: int) -> None:
        namespace, outer, inner = self.worker(index), self._link(index), f"hw{self.tag}{index}"
        self._namespace(namespace)
        # created inside the worker namespace, so no link ever exists in the root namespace
        self._in(namespace, "link", "add", inner, "type", "veth", "peer", "name", outer,
                 "netns", self.service)  # fmt: skip
        self._in(self.service, "link", "set", outer, "master", "br0")
        self._in(self.service, "link", "set", outer, "up")
        self._in(namespace, "addr", "add", f"{self.subnet}.{10 + index}/24", "dev", inner)
        self._in(namespace, "link", "set", inner, "up")

    def partition(self, index: int) -> None:
        """Worker `index` loses the service host: its link goes down."""
        self._in(self.service, "link", "set", self._link(index), "down")

    def heal(self, index: int) -> None:
        self._in(self.service, "link", "set", self._link(index), "up")

    def exec_prefix(self, namespace: str) -> list[str]:
        return ["ip", "netns", "exec", namespace]

    def close(self) -> None:
        for name in reversed(self.created):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
        self.created.clear()
