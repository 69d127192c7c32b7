"""Schedules: cron (with a time zone) and one-shot prompts, run as inbound messages.

- ``timing``: parsing cron expressions, time zones, ``--at`` times and ``--in`` durations,
  and the next run of a cron expression (computed by ``cronsim``);
- ``engine``: the ``Scheduler`` that starts due runs exactly once, sleeps until the next,
  and guards spend;
- ``clock``: the clock the scheduler is handed (tests hand it one they move by hand).

Schedules and runs are stored by the storage plugin (``ScheduleStore`` in the sqlite one).
"""
