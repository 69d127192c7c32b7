"""``blufio shell [--session ID]``: chat with the agent in the terminal.

Interactive (stdin is a terminal): replies stream as they are produced; tool activity and
notices go to stderr; ``/new``, ``/sessions``, ``/switch ID``, ``/cost``, ``/help`` and
``/quit`` manage the conversation; ``/remember TEXT`` saves a memory and ``/recall QUERY``
searches memories and past conversations. Piped (stdin is not a terminal): each line is one
message, and only replies go to stdout, one per message, so it can be scripted; errors go
to stderr and make the exit status 1. ``--session ID`` continues a stored session;
otherwise a new one starts. Messages a crash left unanswered are answered first.
"""

import asyncio
import logging
import sys
import threading

from blufio import eventloop
from blufio.agent.events import EventRenderer
from blufio.errors import BlufioError
from blufio.hints import command

CHANNEL = "shell"
HELP = """\
/new          start a new session
/sessions     list recent sessions
/switch ID    continue session ID (a unique prefix is enough)
/cost         spending today, this month and in this session
/remember T   save T as a memory, for every later conversation
/recall Q     search memories and past conversations for Q
/quit         leave (Ctrl-D works too)"""


def run(args):
    from blufio import logs
    from blufio.config import load_config

    config = load_config(args["--config"])
    debug = bool(args["--debug"])
    logs.configure(debug, config.secret_values())
    if not debug:
        logging.getLogger().setLevel(logging.ERROR)
    interactive = sys.stdin.isatty()
    if interactive:
        for warning in config.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return eventloop.run(Shell(config, args["--session"], interactive).main())


class _LineReader:
    """Reads stdin on a daemon thread, one line per request, so a blocked read never keeps
    the process alive and the prompt appears only when a reply has finished."""

    def __init__(self, interactive):
        self.interactive = interactive
        self._requests = __import__("queue").Queue()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="stdin")
        self._thread.start()
        if interactive:
            try:
                import readline  # noqa: F401  (line editing and history for input())
            except ImportError:
                pass

    def _serve(self):
        while True:
            loop, future, prompt = self._requests.get()
            try:
                if self.interactive:
                    line = input(prompt)
                else:
                    line = sys.stdin.readline()
                    line = None if line == "" else line.rstrip("\n")
            except EOFError:
                line = None
            except BaseException as exc:
                loop.call_soon_threadsafe(_settle, future, None, exc)
                continue
            loop.call_soon_threadsafe(_settle, future, line, None)

    async def read(self, prompt=""):
        """The next line (without its newline), or None at end of input."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._requests.put((loop, future, prompt))
        return await future


def _settle(future, value, error):
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


class Shell:
    """One shell run: a runtime, a current session, and the read-reply loop."""

    def __init__(self, config, session_id, interactive):
        self.config = config
        self.session_id = session_id
        self.interactive = interactive
        self.info = sys.stdout if interactive else sys.stderr  # command output and notices
        self.terminal = _Terminal(interactive)

    async def main(self):
        from blufio.agent.runtime import open_runtime

        runtime = await open_runtime(self.config)
        runtime.agent.drain_timeout = min(runtime.agent.drain_timeout, 2.0)
        try:
            self.runtime, self.agent, self.storage = runtime, runtime.agent, runtime.storage
            await self._choose_session()
            await self.agent.resume_unfinished(self._deliver_resumed, channels=[CHANNEL])
            if self.interactive:
                where = f"session {self.session_id}" if self.session_id else "a new session"
                print(f"blufio shell: {where}, model {self.agent.model}. "
                      "Type /help for commands, /quit to leave.", file=sys.stderr)
            reader = _LineReader(self.interactive)
            while True:
                line = await reader.read("you> " if self.interactive else "")
                if line is None:
                    if self.interactive:
                        print(file=sys.stderr)
                    break
                line = line.strip()
                if not line:
                    continue
                if line.startswith("/"):
                    if not await self.command(line):
                        break
                    continue
                await self.say(line)
        finally:
            await runtime.aclose()
        return 1 if self.terminal.failed else 0

    async def _choose_session(self):
        """Check ``--session``; without it a session is created with the first message."""
        if self.session_id and await self.storage.get_session(self.session_id) is None:
            raise BlufioError(f"no session with id {self.session_id}; run "
                              f"'{command('shell')}' to start a new one, or /sessions inside "
                              "it to list them")

    # --- talking ---

    async def say(self, text, events=None):
        """Send ``text`` (or render the given events) and show the reply."""
        if events is None:
            if self.session_id is None:
                self.session_id = (await self.agent.new_session(CHANNEL)).id
                if self.interactive:
                    print(f"(session {self.session_id})", file=sys.stderr)
            events = self.agent.submit(self.session_id, CHANNEL, text)
        if self.interactive:
            self.terminal.write("blufio> ")
        await self.terminal.render(events)

    async def _deliver_resumed(self, inbound, events):
        from blufio.model import text_of

        if self.interactive:
            print(f"(answering a message sent before Blufio stopped: "
                  f"{_short(text_of(inbound.content))})", file=sys.stderr)
        await self.say(None, events)

    # --- slash commands ---

    async def command(self, line):
        """Run a slash command; False means leave."""
        name, _, argument = line.partition(" ")
        argument = argument.strip()
        if name in ("/quit", "/exit", "/q"):
            return False
        if name == "/help":
            self._say(HELP)
        elif name == "/new":
            self.session_id = (await self.agent.new_session(CHANNEL)).id
            self._say(f"new session {self.session_id}")
        elif name == "/sessions":
            await self._sessions()
        elif name == "/switch":
            await self._switch(argument)
        elif name == "/cost":
            await self._cost()
        elif name == "/remember":
            await self._remember(argument)
        elif name == "/recall":
            await self._recall(argument)
        else:
            self._say(f"unknown command {name}; /help lists them")
        return True

    def _say(self, text):
        print(text, file=self.info, flush=True)

    async def _remember(self, text):
        memory = self.agent.memory
        if memory is None:
            self._say("memory is off ([memory] enabled = false)")
            return
        try:
            saved = await self.storage.save_memory(text, session_id=self.session_id,
                                                   channel=CHANNEL)
        except BlufioError as exc:
            self._say(f"not saved: {exc}; usage: /remember TEXT")
            return
        memory.poke()
        self._say(f"saved mem_{saved.id}")

    async def _recall(self, query):
        from blufio.agent.tools.memory import describe_hit

        if self.agent.memory is None:
            self._say("memory is off ([memory] enabled = false)")
        elif not query:
            self._say("usage: /recall QUERY")
        else:
            hits = await self.agent.memory.recall.search(query, limit=10)
            for hit in hits:
                self._say(_short(describe_hit(hit), 200))
            if not hits:
                self._say(f"nothing found for {query!r}")

    async def _sessions(self):
        sessions = await self.storage.list_sessions(limit=20)
        if not sessions:
            self._say("no sessions yet")
            return
        for s in sessions:
            mark = "*" if s.id == self.session_id else " "
            self._say(f"{mark} {s.id}  {s.channel:<9} {s.updated_at[:19].replace('T', ' ')}  "
                      f"{s.message_count} messages")

    async def _switch(self, wanted):
        if not wanted:
            self._say("usage: /switch ID")
            return
        session = await self.storage.get_session(wanted)
        if session is None:
            matches = [s for s in await self.storage.list_sessions(limit=500)
                       if s.id.startswith(wanted)]
            if len(matches) != 1:
                self._say(f"no session {'matches' if not matches else 'uniquely matches'} "
                          f"{wanted!r}; /sessions lists them")
                return
            session = matches[0]
        self.session_id = session.id
        self._say(f"switched to session {session.id} ({session.message_count} messages)")

    async def _cost(self):
        from blufio.agent.cost import period_starts

        day, month = period_starts()
        today = await self.storage.cost_since(day)
        this_month = await self.storage.cost_since(month)
        session = (await self.storage.cost_since("0000", session_id=self.session_id)
                   if self.session_id else 0.0)
        daily = self.config.get("cost.daily_budget_usd")
        monthly = self.config.get("cost.monthly_budget_usd")
        self._say(f"today ${today:.4f}" + (f" of ${daily:.2f}" if daily is not None else "")
                  + f"; this month ${this_month:.4f}"
                  + (f" of ${monthly:.2f}" if monthly is not None else "")
                  + f"; this session ${session:.4f}")


class _Terminal(EventRenderer):
    """Shows turns in the terminal. Interactive, the reply streams after ``blufio>`` and
    tool activity is noted on stderr; piped, only each complete reply is printed. Errors go
    to stderr and, piped, make ``failed`` true (exit status 1)."""

    def __init__(self, interactive, out=None):
        self.interactive = interactive
        self.out = out or sys.stdout
        self.at_line_start = True
        self.failed = False

    def write(self, text):
        self.out.write(text)
        self.out.flush()
        self.at_line_start = text.endswith("\n")

    def notice(self, text):
        if not self.at_line_start:
            self.write("\n")
        print(text, file=sys.stderr, flush=True)

    async def on_text_delta(self, event):
        if not self.interactive:
            return
        text = event.text
        if self.at_line_start:  # after tool notices: no blank lines, a new prefix
            text = text.lstrip("\n")
            if text:
                self.write("blufio> ")
        if text:
            self.write(text)

    async def on_tool_use(self, event):
        if self.interactive:
            self.notice(f"  [tool] {event.name} {_short(event.input)}")

    async def on_tool_result(self, event):
        if self.interactive:
            state = "failed" if event.is_error else "done"
            self.notice(f"  [tool] {event.name} {state}: {_short(event.content)}")

    async def on_turn_complete(self, event):
        if self.interactive:
            self.write("\n")
        else:
            print(event.text, file=self.out, flush=True)

    async def on_turn_error(self, event):
        if self.interactive and not self.at_line_start:
            self.write("\n")
        self.failed = self.failed or not self.interactive
        print(f"blufio: error: {event.message}", file=sys.stderr, flush=True)


def _short(value, limit=100):
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
