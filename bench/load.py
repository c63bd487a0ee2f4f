"""Load generation with Debian's wrk: one workload, a warm-up, a measured run, and what wrk says.

The warm-up is made by Python clients that wait for every answer: when wrk stops it drops the
requests in flight, and the service then holds their transactions open until garbage collection
(SQLite's write lock, PostgreSQL's row locks and pooled connections), which stalled the run that
followed. Before each run, one checked request waits such a stall out and its length is reported.

Static requests go through wrk's own `-H`; rotating paths, tokens and POST bodies through a Lua
script written into the bench's temporary folder. A rotation that must never repeat (one
application per applicant and session, one issue per draft quote) is split between wrk's threads
by stride, and each run starts where the previous one stopped: the script's `done()` prints how
far its busiest thread went. Past the end of the pool it asks for a path that answers 404, so an
exhausted pool shows as errors rather than as silently repeated requests.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

CONNECTIONS = 32
THREADS = 2
EXHAUSTED_PATH = "/api/v1/bench-pool-exhausted"


@dataclass(frozen=True)
class Timing:
    """Seconds of warm-up (Python clients) and of measurement (wrk) per workload: BENCH_WARMUP and
    BENCH_DURATION."""

    warmup: int = int(os.environ.get("BENCH_WARMUP", "3"))
    duration: int = int(os.environ.get("BENCH_DURATION", "8"))


@dataclass
class Rotation:
    """Requests that vary: the path, and an optional bearer token, drawn from the product of both
    lists so that consecutive requests change both, as a crowd of applicants applying to several
    sessions does (one applicant's own submissions queue on the version row of its list)."""

    paths: list[str]
    tokens: list[str] = field(default_factory=list)
    # True: every request is new and a repeat is a bug; False: cycle through the list.
    unique: bool = False
    offset: int = 0

    @property
    def size(self) -> int:
        return len(self.paths) * max(1, len(self.tokens))

    def item(self, index: int) -> tuple[str, str | None]:
        """The path and token of request number `index`, as the Lua script computes them."""
        if self.unique and index >= self.size:
            return EXHAUSTED_PATH, None
        index %= self.size
        position = index % len(self.paths)
        path = self.paths[position]
        # Shifted by the path's position: each round still pairs every path with every token once.
        token = self.tokens[(index // len(self.paths) + position) % len(self.tokens)] if self.tokens else None
        return path, token


@dataclass
class Workload:
    """One thing to measure: a method, a path (or a rotation of them), headers and a body."""

    key: str
    label: str
    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    rotation: Rotation | None = None
    # What a correct answer is: 2xx unless told otherwise (304 for a revalidation).
    expect: int = 200
    # Paths added to the rotation just before the run: rows that only this run spends.
    top_up: Callable[[], list[str]] | None = None


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rate: float
    p50_ms: float
    p99_ms: float
    non_2xx_3xx: int
    socket_errors: int
    output: str

    @property
    def errors(self) -> int:
        return self.non_2xx_3xx + self.socket_errors


class BenchBroken(RuntimeError):
    """The bench itself cannot go on: a server that does not answer, or answers wrongly."""


def require_wrk() -> str:
    """wrk's path; installs Debian's package when running as root, otherwise says how."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=False)
        found = shutil.which("wrk")
        if found:
            return found
    raise BenchBroken("wrk is not installed: `apt-get install wrk` (Debian's package) is needed")


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua one for these ASCII texts


def write_script(folder: Path, workload: Workload) -> Path:
    """The Lua script that makes each request of a rotating workload."""
    rotation = workload.rotation
    assert rotation is not None
    paths = ",\n".join(_lua_string(path) for path in rotation.paths)
    tokens = ",\n".join(_lua_string(token) for token in rotation.tokens)
    headers = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in workload.headers.items())
    body = _lua_string(workload.body) if workload.body is not None else "nil"
    script = f"""-- {workload.label}: generated by bench/load.py
local method = {_lua_string(workload.method)}
local body = {body}
local unique = {"true" if rotation.unique else "false"}
local exhausted = {_lua_string(EXHAUSTED_PATH)}
local paths = {{
{paths}
}}
local tokens = {{
{tokens}
}}
local threads = {{}}
local created = 0

function setup(thread)
  thread:set("thread_index", created)
  created = created + 1
  table.insert(threads, thread)
end

function init(args)
  start = tonumber(args[1]) or 0
  stride = tonumber(args[2]) or 1
  issued = 0
end

function request()
  local i = start + thread_index + issued * stride
  issued = issued + 1
  local size = #paths * math.max(1, #tokens)
  local headers = {{ {headers} }}
  if unique and i >= size then
    return wrk.format("GET", exhausted, headers, nil)
  end
  i = i % size
  local position = i % #paths
  local path = paths[position + 1]
  if #tokens > 0 then
    headers["Authorization"] = "Bearer " .. tokens[((math.floor(i / #paths) + position) % #tokens) + 1]
  end
  return wrk.format(method, path, headers, body)
end

function done(summary, latency, requests)
  local most = 0
  for _, thread in ipairs(threads) do
    local n = thread:get("issued")
    if n > most then most = n end
  end
  io.write(string.format("bench-issued-max: %d\\n", most))
end
"""
    target = folder / f"{workload.key}.lua"
    target.write_text(script, encoding="utf-8")
    return target


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)([a-z]+)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse(output: str) -> WrkResult:
    """The numbers of wrk's `--latency` report."""
    rate = re.search(r"^Requests/sec:\s+([0-9.]+)", output, re.M)
    total = re.search(r"^\s*([0-9]+) requests in ([0-9.]+)(\w+)", output, re.M)
    p50 = re.search(r"^\s+50%\s+([0-9.]+\w+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+([0-9.]+\w+)", output, re.M)
    if not (rate and total and p50 and p99):
        raise BenchBroken(f"cannot read wrk's report:\n{output}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+([0-9]+)", output)
    sockets = re.search(
        r"Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)", output
    )
    return WrkResult(
        requests=int(total.group(1)),
        seconds=_milliseconds(total.group(2) + total.group(3)) / 1000,
        rate=float(rate.group(1)),
        p50_ms=_milliseconds(p50.group(1)),
        p99_ms=_milliseconds(p99.group(1)),
        non_2xx_3xx=int(bad.group(1)) if bad else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
        output=output,
    )


def _send(client: httpx.Client, workload: Workload, index: int) -> httpx.Response:
    """Request number `index` of the workload (its rotation's item, when it has one)."""
    path, token = workload.path, None
    if workload.rotation is not None:
        path, token = workload.rotation.item(index)
    headers = dict(workload.headers)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.request(workload.method, path, headers=headers, content=workload.body)


def _next_index(workload: Workload) -> int:
    if workload.rotation is None:
        return 0
    index = workload.rotation.offset
    workload.rotation.offset += 1  # spent, when the pool is unique
    return index


def check_once(base: str, workload: Workload, *, patience: float = 90.0) -> float:
    """One request before a run: the workload must answer what it is expected to, or the bench stops.

    A 503 or a request that hangs is waited out, for at most `patience` seconds, which are
    returned: when wrk stops it drops requests in flight, and the service keeps the transaction
    of a dropped request open (and its locks held) until that garbage is collected.
    """
    started = time.monotonic()
    with httpx.Client(base_url=base, timeout=15) as client:
        while True:
            try:
                answer = _send(client, workload, _next_index(workload))
            except httpx.TimeoutException:
                answer = None
            waited = time.monotonic() - started
            if answer is not None and answer.status_code == workload.expect:
                return waited
            if (answer is not None and answer.status_code != 503) or waited > patience:
                status = "no answer" if answer is None else f"{answer.status_code}: {answer.text[:500]}"
                raise BenchBroken(f"{workload.label}: {workload.method} {workload.path} answered {status}")
            time.sleep(0.5)  # the service is stalled; let it recover


def warm_up(base: str, workload: Workload, seconds: float, clients: int = 8) -> tuple[int, int]:
    """Requests from `clients` Python threads for `seconds`, each waiting for its answer: unlike
    wrk, this warm-up never drops a request in flight. Returns how many were sent, and how many
    were not answered as expected."""
    deadline = time.monotonic() + seconds
    claim = threading.Lock()
    sent = wrong = 0

    def client_loop() -> None:
        nonlocal sent, wrong
        with httpx.Client(base_url=base, timeout=30) as client:
            while time.monotonic() < deadline:
                with claim:
                    index = _next_index(workload)
                    sent += 1
                try:
                    ok = _send(client, workload, index).status_code == workload.expect
                except httpx.TransportError:
                    ok = False
                if not ok:
                    with claim:
                        wrong += 1

    workers = [threading.Thread(target=client_loop) for _ in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sent, wrong


def run_wrk(wrk: str, base: str, workload: Workload, folder: Path, seconds: int) -> WrkResult:
    """One wrk run of `seconds`; a rotation's offset moves past what the run used."""
    command = [
        wrk,
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
    ]
    for name, value in workload.headers.items():
        command += ["-H", f"{name}: {value}"]
    rotation = workload.rotation
    if rotation is not None:
        command += ["-s", str(write_script(folder, workload))]
    command.append(base + workload.path)
    if rotation is not None:
        command += ["--", str(rotation.offset), str(THREADS)]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise BenchBroken(f"wrk failed on {workload.label}: {finished.stderr or finished.stdout}")
    result = parse(finished.stdout)
    if result.requests == 0:
        raise BenchBroken(f"{workload.label}: no request completed in {seconds} s:\n{finished.stdout}")
    if rotation is not None:
        most = re.search(r"bench-issued-max: ([0-9]+)", finished.stdout)
        if most is None:
            raise BenchBroken(f"the Lua script of {workload.label} did not report its progress")
        rotation.offset += int(most.group(1)) * THREADS
    return result


@dataclass
class Measurement:
    result: WrkResult
    # Seconds the service was stalled (503 or no answer) before the warm-up and before the run.
    stalled: tuple[float, float]
    warmup_requests: int = 0
    warmup_wrong: int = 0


# Time for the threads of requests wrk dropped to finish before the service is probed again.
SETTLE_SECONDS = 2.0


def measure(wrk: str, base: str, workload: Workload, folder: Path, timing: Timing) -> Measurement:
    """Check one answer, warm up without dropping requests, check again, then the measured run;
    afterwards, let the requests wrk dropped finish."""
    before_warmup = check_once(base, workload)
    sent, wrong = warm_up(base, workload, timing.warmup) if timing.warmup > 0 else (0, 0)
    before_run = check_once(base, workload)
    result = run_wrk(wrk, base, workload, folder, timing.duration)
    time.sleep(SETTLE_SECONDS)
    return Measurement(result, (before_warmup, before_run), sent, wrong)
