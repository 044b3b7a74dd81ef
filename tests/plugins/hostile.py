"""A hostile test plugin (it crashes, spins, allocates 10 GiB, forks a setsid grandchild, writes,
removes and renames outside its folders, and tries TCP, UDP and DNS) and the loopback servers
that prove its network probes would have got through without a guard."""

from __future__ import annotations

import socket
import struct
import threading
from pathlib import Path

MANIFEST = """
[plugin]
name = "{name}"
version = "0.1.0"
api_version = "1.0"
isolation = "{isolation}"
timeout = {timeout}
cpu_seconds = {cpu}
memory_mb = {memory}

[capabilities]
network = {network}

[[contributions]]
id = "gen"
kind = "midi"
title = "Hostile generator"
entry = "{package}.gen:Gen"
"""

GEN = """
import os, time
from studio.plugins.api import Generator, MidiClip, Note, Param

MODES = ("ok", "segfault", "abort", "kill", "hang", "raise", "refuse", "wrong", "slow", "flood",
         "printraise", "env", "spin", "alloc", "alloc_numpy", "fork", "forkhang", "write",
         "remove", "rename", "rmtree", "net", "ns")


def _clip(**provenance):
    return MidiClip([Note(0.0, 60, 1.0)], provenance=provenance)


def _dns_query(name):
    import struct
    head = struct.pack("!HHHHHH", 0x5157, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\\0"
    return head + labels + struct.pack("!HH", 1, 1)


def probe(kind, port):
    import socket
    try:
        if kind == "tcp":
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            s.close()
            return "connected"
        if kind == "udp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(1)
            s.sendto(b"ping", ("127.0.0.1", port))
            return "answered " + s.recv(100).decode()
        if kind == "dns":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(1)
            s.sendto(_dns_query("example.com"), ("127.0.0.1", port))
            answer = s.recv(512)
            return "resolved" if answer[:2] == b"\\x51\\x57" else "odd answer"
        if kind == "getaddrinfo":
            socket.getaddrinfo("example.com", 80)
            return "resolved"
    except OSError as exc:
        return f"failed: {type(exc).__name__}: {exc}"
    return "?"


class Gen(Generator):
    kind = "midi"
    params = (Param("mode", "choice", "ok", choices=MODES), Param("path", "str", ""),
              Param("tcp", "int", 0), Param("udp", "int", 0), Param("dns", "int", 0))

    def run(self, request, ctx):
        mode = request["mode"]
        if mode == "segfault":
            import ctypes
            ctypes.string_at(0)
        if mode == "abort":
            os.abort()
        if mode == "kill":
            os.kill(os.getpid(), 9)
        if mode == "hang":
            time.sleep(600)
        if mode == "spin":
            while True:
                pass
        if mode == "alloc":
            block = bytearray(10 * 1024 ** 3)  # 10 GiB
            return _clip(allocated=len(block))
        if mode == "alloc_numpy":
            import numpy as np
            block = np.ones(10 * 1024 ** 3, dtype=np.uint8)  # 10 GiB, numpy's own MemoryError
            return _clip(allocated=int(block.size))
        if mode == "raise":
            raise RuntimeError("the plugin's own bug")
        if mode == "refuse":
            raise ValueError("this input is too short")
        if mode == "wrong":
            return "not a clip"
        if mode == "flood":
            chunk = "x" * 1_000_000 + "\\n"
            for _ in range(200):  # 200 MB on stdout
                print(chunk, end="")
        if mode == "printraise":
            print("about to fail: the plugin's own words")
            raise RuntimeError("after printing")
        if mode == "env":
            return _clip(cuda=os.environ.get("CUDA_VISIBLE_DEVICES"), device=self.device)
        if mode == "forkhang":  # a setsid grandchild, then a hang: the timeout ends both
            read, write = os.pipe()
            if os.fork() == 0:
                if os.fork() == 0:
                    os.setsid()
                    os.write(write, os.readlink("/proc/self").encode())
                    time.sleep(600)
                    os._exit(0)
                os._exit(0)
            os.close(write)
            ctx.partial(int(os.read(read, 64)))
            time.sleep(600)
        if mode == "fork":  # a grandchild in a session of its own, its parent gone
            read, write = os.pipe()
            if os.fork() == 0:
                if os.fork() == 0:
                    os.setsid()
                    os.write(write, os.readlink("/proc/self").encode())  # its pid for the host
                    time.sleep(600)
                    os._exit(0)
                os._exit(0)
            os.close(write)
            pid = int(os.read(read, 64))
            return _clip(grandchild=pid)
        if mode in ("write", "remove", "rename", "rmtree"):
            import shutil, tempfile
            with open(os.path.join(tempfile.gettempdir(), "scratch.txt"), "w") as fh:
                fh.write("fine: its scratch folder")
            path = request["path"]
            if mode == "write":
                with open(path, "w") as fh:
                    fh.write("a stray write")
            elif mode == "remove":
                os.remove(path)
            elif mode == "rename":
                os.rename(path, path + ".moved")
            else:
                shutil.rmtree(path)
            return _clip()
        if mode == "net":
            return _clip(tcp=probe("tcp", request["tcp"]), udp=probe("udp", request["udp"]),
                         dns=probe("dns", request["dns"]),
                         getaddrinfo=probe("getaddrinfo", 0),
                         net_ns=os.readlink("/proc/self/ns/net"))
        if mode == "ns":
            return _clip(net_ns=os.readlink("/proc/self/ns/net"), pid=os.getpid(),
                         host_pid=int(os.readlink("/proc/self")))
        notes = []
        for i in range(4 if mode == "ok" else 400):
            ctx.check_cancelled()
            ctx.partial(i)
            ctx.progress((i + 1) / 4, f"note {i}")
            notes.append(Note(float(i), 60 + i % 12, 1.0))
            if mode == "slow":
                time.sleep(0.05)
        return MidiClip(notes, provenance={"pid": os.getpid(),
                                           "host_pid": int(os.readlink("/proc/self"))})
"""


def write_plugin(
    root: Path,
    package: str,
    *,
    timeout: float = 8,
    network: bool = False,
    cpu: float = 2,
    memory: int = 1024,
    isolation: str = "process",
) -> str:
    """Write the hostile plugin package under ``root``; returns its entry point value."""
    pkg = Path(root) / package
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "gen.py").write_text(GEN)
    (pkg / "studio-plugin.toml").write_text(MANIFEST.format(
        name=package.replace("_", "-"), package=package, timeout=timeout, cpu=cpu,
        memory=memory, network=str(network).lower(), isolation=isolation))  # fmt: skip
    return f"{package}:studio-plugin.toml"


class LoopbackServers:
    """A TCP listener, a UDP echo and a DNS responder on 127.0.0.1 of the host's network, each
    in a daemon thread: what a plugin without a network guard would reach."""

    def __init__(self) -> None:
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(16)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.dns.bind(("127.0.0.1", 0))
        self.ports = {"tcp": self.tcp.getsockname()[1], "udp": self.udp.getsockname()[1],
                      "dns": self.dns.getsockname()[1]}  # fmt: skip
        for target in (self._accept, self._echo, self._resolve):
            threading.Thread(target=target, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            conn.close()

    def _echo(self) -> None:
        while True:
            try:
                data, peer = self.udp.recvfrom(512)
                self.udp.sendto(b"pong", peer)
            except OSError:
                return

    def _resolve(self) -> None:
        while True:
            try:
                query, peer = self.dns.recvfrom(512)
            except OSError:
                return
            if len(query) < 12:
                continue
            head = query[:2] + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0)
            question = query[12:]
            answer = struct.pack("!HHHIH4s", 0xC00C, 1, 1, 60, 4, bytes([192, 0, 2, 1]))
            self.dns.sendto(head + question + answer, peer)

    def close(self) -> None:
        for sock in (self.tcp, self.udp, self.dns):
            sock.close()
