"""``Scheduler``: starts due runs, exactly once, and sleeps until the next one.

The loop: start every run that is due, ask the storage when the next one is, and sleep
until then (or until ``wake()``: a schedule was added or changed). Nothing polls; a sleep is
bounded only by ``max_sleep`` so a stepped wall clock cannot delay a run for long.

Starting a run is one storage transaction (``start_schedule_run``): the run's prompt is
queued as an inbound message on the ``schedule`` channel and the schedule moves to its next
time together, so a crash either loses nothing or has queued the run, which the agent's
crash-safe inbound path answers once (``deliver`` is its channel end). A run missed while
Blufio was down is started once (``catch_up = "once"``) or recorded as skipped (``"skip"``);
either way the schedule moves to its next time after *now*, never once per missed slot.

Spend guards: before a run, a schedule's spend today (UTC) against its ``max_day_usd`` and
all scheduled spend today against ``[cost] scheduled_daily_budget_usd``; during it, the
agent ends the turn (keeping what it has) rather than call the model again once the run has
spent what is left of those and of ``max_run_usd`` (``reply_to["max_usd"]``); after it, the
run's cost against ``max_run_usd`` and the day again. A schedule that hits a cap is paused,
once, and its target gets one notice saying why and how to resume.

Where replies go is the ``targets`` object's business (see ``Targets``): it names the
session a target's runs belong to, renders a run's events there, and sends plain text.
A reply that cannot be delivered is sent again as plain text after ``retry_delays``; if
that fails too the run is ``failed`` with the reason, for ``schedule list`` and metrics.
"""

import asyncio
import logging
from typing import Protocol

from blufio.agent.cost import period_starts, usd
from blufio.agent.events import TurnError, is_outcome
from blufio.errors import BlufioError, ScheduleError, StorageError
from blufio.model import text_blocks
from blufio.observability import NullObserver
from blufio.scheduler.book import short
from blufio.scheduler.clock import SystemClock
from blufio.scheduler.timing import from_iso, next_cron, to_iso

log = logging.getLogger("blufio.scheduler")

CHANNEL = "schedule"
BATCH = 200


class Targets(Protocol):
    """Where a schedule's runs go (``telegram:<chat>``, ``session:<id>``)."""

    async def session_for(self, target: str) -> str:
        """The session a run for ``target`` is answered in; BlufioError if it is gone."""

    async def deliver(self, target: str, inbound, events) -> None:
        """Render a run's turn events to ``target`` as they come; raise if it cannot."""

    async def send(self, target: str, text: str) -> None:
        """Send ``text`` to ``target`` as one message; raise if it cannot."""


class Scheduler:
    """Runs schedules from ``storage`` through ``agent`` to ``targets`` (module docstring)."""

    def __init__(self, storage, agent, targets, *, clock=None, observer=None,
                 daily_budget=None, max_sleep=300.0, retry_delays=(2.0, 10.0, 30.0),
                 resume_hint="blufio schedule resume {id}"):
        self.storage = storage
        self.agent = agent
        self.targets = targets
        self.clock = clock or SystemClock()
        self.observer = observer or NullObserver()
        self.daily_budget = daily_budget
        self.max_sleep = max_sleep
        self.retry_delays = tuple(retry_delays)
        self.resume_hint = resume_hint
        self.started_at = None
        self._wake = asyncio.Event()
        self._loop_task = None
        self._closed = False
        self._runs = set()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self):
        """Settle runs a crash left behind, then start the loop in the background (unless
        ``aclose`` came first: serve may be stopped before its resume step starts us)."""
        self.started_at = self.clock.now()
        await self.reconcile()
        if not self._closed:
            self._loop_task = asyncio.get_running_loop().create_task(self._loop())

    def wake(self):
        """Look at the schedules again now (one was added, changed or asked to run)."""
        self._wake.set()

    async def drain(self):
        """Wait until every run started so far has finished."""
        while self._runs:
            await asyncio.gather(*list(self._runs), return_exceptions=True)

    async def aclose(self, timeout=30.0):
        """Stop the loop; give runs in flight ``timeout`` seconds, then cancel them (their
        inbound entries are answered on the next start)."""
        self._closed = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        if self._runs:
            _, late = await asyncio.wait(set(self._runs), timeout=timeout)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def _loop(self):
        while True:
            self._wake.clear()
            try:
                while await self.run_due() >= BATCH:
                    pass
                upcoming = await self.storage.next_schedule_due()
            except Exception:  # noqa: BLE001 - the loop must outlive a bad moment
                log.exception("the scheduler could not read its schedules; retrying")
                await self.clock.sleep(self.retry_delays[0] if self.retry_delays else 1.0)
                continue
            when = from_iso(upcoming) if upcoming else None
            await self.clock.sleep_until(when, self._wake, self.max_sleep)

    # -- starting runs -----------------------------------------------------------------------

    async def run_due(self):
        """Start every run due now; return how many schedules were looked at."""
        now = self.clock.now()
        due = await self.storage.due_schedules(to_iso(now), limit=BATCH)
        for schedule in due:
            try:
                await self._start(schedule, now)
            except StorageError:
                raise  # the loop retries the whole pass
            except BlufioError as exc:  # e.g. a stored cron or zone this Blufio rejects
                log.error("schedule %s: could not start its run: %s", schedule.id, exc)
                await self._pause(schedule, f"it could not be run: {exc}", always=True)
        return len(due)

    async def _start(self, schedule, now):
        manual = schedule.run_now
        due_at = to_iso(now) if manual else schedule.next_run_at
        step = {"due_at": due_at, "manual": manual, "expected_next": schedule.next_run_at,
                "started_at": to_iso(now)}
        step.update(self._advance(schedule, now, manual))
        missed = self.started_at is not None and from_iso(due_at) < self.started_at
        if not manual and missed and schedule.catch_up == "skip":
            await self._record(schedule, step, "skipped", "missed while Blufio was not running")
            return
        reason, allowance = await self._cap_before(schedule, now)
        if reason:
            step.update(status="paused", paused_reason=reason)
            if await self._record(schedule, step, "capped", reason):
                await self._notify_paused(schedule, reason)
            return
        try:
            session_id = await self.targets.session_for(schedule.target)
        except BlufioError as exc:
            await self._record(schedule, step, "failed", f"{schedule.target}: {exc}")
            return
        reply_to = {"target": schedule.target}
        if allowance is not None:
            reply_to["max_usd"] = allowance  # the agent stops between calls past it
        inbound = {"session_id": session_id, "channel": CHANNEL,
                   "content": text_blocks(schedule.prompt), "reply_to": reply_to}
        started = await self.storage.start_schedule_run(schedule.id, outcome="running",
                                                        inbound=inbound, **step)
        if started is None:
            return  # changed (removed, paused, run) since it was read
        run, queued = started
        self.observer.message(CHANNEL, "in")
        task = asyncio.get_running_loop().create_task(
            self._consume(schedule.target, run.id, queued, self.agent.process(queued)))
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)

    def _advance(self, schedule, now, manual):
        """Where the schedule goes after this run: ``next_run_at``, ``status``, reason."""
        if manual:  # a run asked for by hand leaves the schedule's own times alone
            return {"next_run_at": schedule.next_run_at, "status": schedule.status,
                    "paused_reason": schedule.paused_reason}
        if not schedule.cron:
            return {"next_run_at": None, "status": "done", "paused_reason": ""}
        after = max(now, from_iso(schedule.next_run_at))
        upcoming = next_cron(schedule.cron, schedule.timezone, after)
        return {"next_run_at": to_iso(upcoming) if upcoming else None,
                "status": "active" if upcoming else "done", "paused_reason": ""}

    async def _record(self, schedule, step, outcome, error):
        """Record a run that does not reach the agent; False if the schedule had changed."""
        started = await self.storage.start_schedule_run(schedule.id, outcome=outcome,
                                                        error=error, **step)
        if started is None:
            return False
        log.info("schedule %s: %s: %s", schedule.id, outcome, error)
        self.observer.schedule_run(outcome)
        return True

    # -- finishing runs ----------------------------------------------------------------------

    async def deliver(self, inbound, events):
        """The ``schedule`` channel's end of the inbound path: deliver a run queued before
        a restart, and finish its record."""
        reply_to = inbound.reply_to or {}
        target = reply_to.get("target")
        if not target:
            schedule = await self.storage.get_schedule(reply_to.get("schedule_id", ""))
            target = schedule.target if schedule is not None else ""
        await self._consume(target, reply_to.get("run_id"), inbound, events)

    async def reconcile(self):
        """Finish the records of runs whose inbound entry was answered (or lost) before a
        restart; runs still queued are finished by ``deliver`` when they are answered."""
        for run, status, error in await self.storage.running_schedule_runs():
            if status in ("pending", "processing"):
                continue
            ok = status == "done"
            await self._finish(run.id, "ok" if ok else "failed",
                               "" if ok else (error or "its inbound message is gone"))

    async def _consume(self, target, run_id, inbound, events):
        recorder = _Recorder(events)
        failure = None
        try:
            await self.targets.deliver(target, inbound, recorder)
        except Exception as exc:  # noqa: BLE001 - any failure to deliver is retried below
            failure = exc
        final = await recorder.finish()
        if final is None:
            return  # another process answers this entry
        if isinstance(final, TurnError):
            await self._finish(run_id, "failed", final.message)
            return
        if failure is not None:
            failure = await self._resend(target, final.text, failure)
        if failure is not None:
            log.warning("schedule run %s: could not deliver to %s: %s", run_id, target, failure)
            await self._finish(run_id, "failed", f"could not deliver to {target}: {failure}")
        else:
            await self._finish(run_id, "ok", "")

    async def _resend(self, target, text, failure):
        """Send the finished reply again as plain text; None once it went, else the last
        failure. A target that is not one (ScheduleError) is not tried again."""
        if isinstance(failure, ScheduleError):
            return failure
        for delay in self.retry_delays:
            await self.clock.sleep(delay)
            try:
                await self.targets.send(target, text or "(no reply)")
                return None
            except Exception as exc:  # noqa: BLE001 - reported as the run's failure
                failure = exc
        return failure

    async def _finish(self, run_id, outcome, error):
        if run_id is None:
            return
        run = await self.storage.finish_schedule_run(run_id, outcome, error)
        if run is None:
            return
        self.observer.schedule_run(outcome)
        self.observer.message(CHANNEL, "out")
        schedule = await self.storage.get_schedule(run.schedule_id)
        if schedule is not None:
            reason = await self._cap_after(schedule, run)
            if reason:
                await self._pause(schedule, reason)

    # -- spend guards ------------------------------------------------------------------------

    async def _cap_before(self, schedule, now):
        """``(reason, allowance)``: why ``schedule`` may not run now (its daily cap or the
        budget of every scheduled run today is spent) or None, and the most its run may
        spend (None: no cap), which the agent keeps to between provider calls."""
        day = period_starts(now)[0]
        reason, left_today = await self._day_cap(schedule, day)
        if reason:
            return reason, None
        room = [x for x in (schedule.max_run_usd, left_today) if x is not None]
        if self.daily_budget is not None:
            spent = await self.storage.scheduled_cost_since(day)
            if spent >= self.daily_budget:
                return (f"scheduled runs have spent {usd(spent)} today, the [cost] "
                        f"scheduled_daily_budget_usd of {usd(self.daily_budget)}"), None
            room.append(self.daily_budget - spent)
        return None, min(room) if room else None

    async def _cap_after(self, schedule, run):
        """Why ``schedule`` must pause after ``run`` (over its per-run or daily cap), or None."""
        if schedule.max_run_usd is not None and run.cost_usd > schedule.max_run_usd:
            return (f"its last run cost {usd(run.cost_usd)}, over its cap of "
                    f"{usd(schedule.max_run_usd)} a run")
        return (await self._day_cap(schedule, period_starts(self.clock.now())[0]))[0]

    async def _day_cap(self, schedule, day):
        """``(reason or None, USD left today or None)`` under the schedule's daily cap."""
        if schedule.max_day_usd is None:
            return None, None
        spent = await self.storage.scheduled_cost_since(day, schedule_id=schedule.id)
        if spent < schedule.max_day_usd:
            return None, schedule.max_day_usd - spent
        return (f"it has spent {usd(spent)} today, its daily cap of "
                f"{usd(schedule.max_day_usd)}"), 0.0

    async def _pause(self, schedule, reason, always=False):
        """Pause ``schedule`` (and drop a run asked for); its target is told once, when it
        was not paused already. ``always`` pauses it even then, with the new reason."""
        paused = await self.storage.set_schedule_status(
            schedule.id, "paused", reason=reason, next_run_at=schedule.next_run_at,
            only_from=None if always else ("active", "done"))
        if paused is not None and schedule.status != "paused":
            log.warning("schedule %s paused: %s", schedule.id, reason)
            await self._notify_paused(schedule, reason)

    async def _notify_paused(self, schedule, reason):
        text = (f"Schedule {schedule.id} (\u201c{short(schedule.prompt)}\u201d) is paused: "
                f"{reason}. Resume it with: {self.resume_hint.format(id=schedule.id)}")
        failure = None
        try:
            await self.targets.send(schedule.target, text)
        except Exception as exc:  # noqa: BLE001 - retried below
            failure = await self._resend(schedule.target, text, exc)
        if failure is not None:
            log.warning("schedule %s: could not tell %s it is paused: %s", schedule.id,
                        schedule.target, failure)


class _Recorder:
    """Passes a turn's events through and keeps the last one; ``finish`` drains the rest
    (the turn runs on in its own task whoever reads it) and returns it."""

    def __init__(self, events):
        self._events = events
        self.last = None

    def __aiter__(self):
        return self

    async def __anext__(self):
        event = await self._events.__anext__()
        self.last = event
        return event

    async def finish(self):
        async for _ in self:
            pass
        return self.last if is_outcome(self.last) else None

