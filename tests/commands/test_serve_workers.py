"""``serve`` with ``[gateway] workers = 2``, as real processes: a supervisor and two workers on
one port and one database. Turns in flight survive ``kill -9`` of a worker and then of the
supervisor, each answered exactly once and each session's in the order sent; ``/metrics``
counts the whole service whichever worker answers."""

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading

import httpx
import pytest

from tests.fakes.anthropic_server import FakeResponse, Stall, message_events, wait_for
from tests.fakes.telegram_server import FakeTelegram

TOKEN = "workers-test-token"
OWNER = 4242  # the Telegram user allowed to talk to the agent
STALL = 1.5  # seconds each reply of the slow upstream takes
SESSIONS, IN_FLIGHT = 20, 5  # 20 sessions, each with 5 turns in flight: 100 turns
WORKERS = {"BLUFIO_GATEWAY__WORKERS": "2", "BLUFIO_GATEWAY__MAX_CONCURRENT_TURNS": "200",
           "BLUFIO_AGENT__DRAIN_TIMEOUT": "1"}


def last_user_text(request):
    content = request.json["messages"][-1]["content"]
    return content if isinstance(content, str) else content[0]["text"]


def slow_echo(request, gate=None):
    """A reply ``re: <the user's text>`` that waits for ``gate`` (a ``threading.Event``) to
    start and takes ``STALL`` seconds in the middle."""
    if gate is not None:
        gate.wait(120)
    parts = message_events([{"type": "text", "text": f"re: {last_user_text(request)}"}])
    return FakeResponse(parts=[*parts[:4], Stall(STALL), *parts[4:]], stream=True)


def post(served, text, session=None):
    headers = {"x-api-key": TOKEN, **({"x-blufio-session": session} if session else {})}
    return httpx.post(f"{served.url}/v1/messages", headers=headers, timeout=120, json={
        "model": "m", "max_tokens": 50, "messages": [{"role": "user", "content": text}]})


def in_background(function, *args):
    thread = threading.Thread(target=lambda: _swallow(function, *args), daemon=True)
    thread.start()
    return thread


def _swallow(function, *args):
    try:
        function(*args)
    except httpx.HTTPError:
        pass  # a worker killed under the request: the reply is stored all the same


def workers_of(pid, timeout=30.0):
    """``{index: (pid, owner)}`` of the two workers the supervisor ``pid`` runs now."""
    def read():
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                children = f.read().split()
        except OSError:
            return None
        found = {}
        for child in children:
            try:
                with open(f"/proc/{child}/environ", "rb") as f:
                    environ = f.read().split(b"\0")
            except OSError:
                continue
            for item in environ:
                if item.startswith(b"BLUFIO_WORKER="):
                    index, owner, *_ = item.decode().split("=", 1)[1].split(",")
                    found[int(index)] = (int(child), owner)
        return found if len(found) == 2 else None

    found = wait_for(read, timeout=timeout, interval=0.05)
    assert found, f"supervisor {pid} does not run two workers"
    return found


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie (its parent was killed and init has not reaped it yet) is gone too
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def database(data_dir):
    conn = sqlite3.connect(data_dir / "blufio.db", timeout=30)
    conn.row_factory = sqlite3.Row
    return conn


def entries(data_dir):
    """Every inbound entry: ``{text: row}``."""
    with database(data_dir) as conn:
        rows = conn.execute("SELECT * FROM inbound ORDER BY id").fetchall()
    return {json.loads(row["content"])[0]["text"]: row for row in rows}


def requested(fake):
    """How many times the upstream was asked to answer each text."""
    counts = {}
    for request in list(fake.message_requests):
        text = last_user_text(request)
        counts[text] = counts.get(text, 0) + 1
    return counts


def cut_short(data_dir, fake, owners):
    """The texts whose turn had called the upstream, is not stored, and belongs to one of
    ``owners`` (``""``: freed once its owner was gone)."""
    asked = requested(fake)
    return {text for text, row in entries(data_dir).items()
            if text in asked and row["status"] != "done" and row["owner"] in owners}


def send_in_order(served, data_dir, session, texts):
    """Send each of ``texts`` once the one before is in the inbound queue (the order it was
    sent), without waiting for the replies."""
    for text in texts:
        in_background(post, served, text, session)
        assert wait_for(lambda text=text: text in entries(data_dir), timeout=60, interval=0.05)


def test_turns_in_flight_on_two_workers_survive_kill_9_of_a_worker_then_the_supervisor(
        serve, fake_anthropic, data_dir):
    gate = threading.Event()  # the upstream answers nothing until it is set
    fake_anthropic.default = lambda request: slow_echo(request, gate)
    served = serve(**WORKERS)
    workers = workers_of(served.process.pid)
    gate.set()
    firsts = [in_background(post, served, f"s{n} m0") for n in range(SESSIONS)]
    for thread in firsts:
        thread.join(60)
    gate.clear()
    stored = entries(data_dir)
    sessions = {n: stored[f"s{n} m0"]["session_id"] for n in range(SESSIONS)}
    senders = [threading.Thread(target=send_in_order, args=(
        served, data_dir, sessions[n], [f"s{n} m{k}" for k in range(1, IN_FLIGHT + 1)]))
        for n in range(SESSIONS)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(120)
    unfinished = [row for row in entries(data_dir).values() if row["status"] != "done"]
    assert len(unfinished) == SESSIONS * IN_FLIGHT  # 100 turns in flight
    assert {row["owner"] for row in unfinished} == {owner for _, owner in workers.values()}

    live = {text for text, row in entries(data_dir).items() if row["owner"] == workers[0][1]}
    pid, owner = workers[1]
    os.kill(pid, signal.SIGKILL)
    first_cut = cut_short(data_dir, fake_anthropic, {owner, ""}) - live
    assert first_cut  # the killed worker had turns calling the upstream
    replacement = wait_for(lambda: (found := workers_of(served.process.pid))[1][0] != pid
                           and found, timeout=30, interval=0.05)
    assert replacement, "the killed worker was not restarted"
    gate.set()
    assert wait_for(lambda: any(row["owner"] == replacement[1][1]
                                for row in entries(data_dir).values()), timeout=30)
    os.kill(served.process.pid, signal.SIGKILL)  # the supervisor
    served.process.wait()
    assert wait_for(lambda: all(gone(p) for p, _ in replacement.values()), timeout=30)
    second_cut = cut_short(data_dir, fake_anthropic, {o for _, o in replacement.values()} | {""})

    again = serve(**WORKERS)
    total = SESSIONS * (IN_FLIGHT + 1)
    assert wait_for(lambda: sum(row["status"] == "done" for row in entries(data_dir).values())
                    == total, timeout=120, interval=0.2)
    assert again.stop() == 0

    rows = entries(data_dir)
    assert len(rows) == total and {row["status"] for row in rows.values()} == {"done"}
    asked = requested(fake_anthropic)
    for text in rows:  # answered once, and again only after a kill cut its turn short
        assert 1 <= asked[text] <= 1 + (text in first_cut) + (text in second_cut), text
    assert all(asked[text] == 2 for text in first_cut - second_cut)  # really answered again
    with database(data_dir) as conn:
        for n, session in sessions.items():
            messages = conn.execute("SELECT role, content FROM messages WHERE session_id = ? "
                                    "ORDER BY id", (session,)).fetchall()
            said = [(m["role"], json.loads(m["content"])[0]["text"]) for m in messages]
            expected = [pair for k in range(IN_FLIGHT + 1) for pair in (
                ("user", f"s{n} m{k}"), ("assistant", f"re: s{n} m{k}"))]
            assert said == expected


def metric(body, name, **labels):
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    for line in body.splitlines():
        if line.startswith(f"{name}{{{wanted}}} "):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_count_every_turn_once_whichever_worker_answers(serve, data_dir):
    served = serve(**WORKERS)
    workers_of(served.process.pid)
    threads = [in_background(post, served, f"hello {n}") for n in range(40)]
    for thread in threads:
        thread.join(60)
    owners = {row["owner"] for row in entries(data_dir).values()}
    assert len(owners) == 2  # both workers answered some
    scrapes = [httpx.get(f"{served.url}/metrics", headers={"x-api-key": TOKEN}).text
               for _ in range(10)]  # a new connection each: either worker answers
    for body in scrapes:
        assert metric(body, "blufio_messages_total", channel="gateway", direction="in") == 40
        assert metric(body, "blufio_messages_total", channel="gateway", direction="out") == 40
        assert metric(body, "blufio_response_latency_seconds_count", channel="gateway") == 40
    if shutil.which("promtool"):
        result = subprocess.run(["promtool", "check", "metrics"], input=scrapes[0],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stdout + result.stderr
    assert served.stop() == 0


@pytest.mark.parametrize("value", ["0", "-1", "\"many\"", "1.5", "true"])
def test_a_bad_workers_value_is_a_config_error(blufio, value):
    result = blufio("serve", env={"BLUFIO_GATEWAY__WORKERS": value})
    assert result.returncode == 2
    assert "gateway.workers" in result.stderr and '"auto"' in result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_drains_every_worker_and_leaves_no_process(serve, fake_anthropic, data_dir):
    fake_anthropic.default = slow_echo
    served = serve(BLUFIO_GATEWAY__WORKERS="2")
    workers = workers_of(served.process.pid)
    replies = []
    threads = [threading.Thread(target=lambda n=n: replies.append(post(served, f"drain {n}")))
               for n in range(10)]
    for thread in threads:
        thread.start()
    assert wait_for(lambda: len(requested(fake_anthropic)) == 10, timeout=30)
    assert {row["owner"] for row in entries(data_dir).values()} == {
        owner for _, owner in workers.values()}  # turns in flight on both workers

    assert served.stop() == 0
    for thread in threads:
        thread.join(30)
    assert [reply.status_code for reply in replies] == [200] * 10  # each finished its turn
    assert all(gone(pid) for pid, _ in workers.values())
    assert {row["status"] for row in entries(data_dir).values()} == {"done"}


async def test_telegram_and_the_scheduler_run_in_the_first_worker_only(serve, fake_anthropic):
    async with FakeTelegram() as telegram:
        served = await asyncio.to_thread(
            serve, **WORKERS, BLUFIO_PLUGINS__TELEGRAM="true", TELEGRAM_BOT_TOKEN=telegram.token,
            BLUFIO_TELEGRAM__API_BASE_URL=telegram.base_url, BLUFIO_TELEGRAM__POLL_TIMEOUT="1",
            BLUFIO_TELEGRAM__ALLOWED_USERS=f"[{OWNER}]")
        try:
            for n in range(3):
                telegram.send_text(user_id=OWNER, text=f"hi {n}")
            await telegram.wait_for(lambda: all(f"echo: hi {n}" in telegram.texts(OWNER)
                                                for n in range(3)), 30)
        finally:
            code = await asyncio.to_thread(served.stop)
    assert code == 0
    assert sorted(telegram.texts(OWNER)) == ["echo: hi 0", "echo: hi 1", "echo: hi 2"]
    assert served.stderr.count("telegram: started") == 1
    assert served.stderr.count("scheduler: started") == 1
    assert "already serves schedules" not in served.stderr  # one wake socket, one listener


def test_one_worker_is_one_process_as_before(serve, data_dir):
    served = serve()  # [gateway] workers defaults to 1
    assert post(served, "alone").status_code == 200
    with open(f"/proc/{served.process.pid}/task/{served.process.pid}/children") as f:
        assert f.read().split() == []  # no supervisor, no worker
    assert [row["owner"] for row in entries(data_dir).values()] == [""]
    assert not (data_dir / "metrics").exists()
    assert served.stop() == 0
