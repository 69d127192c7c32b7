"""The agent as one worker among several (``storage.owner`` set): a message that comes in
while an older one of its session waits to be resumed waits for it, without a deadlock, and
the session's turns are stored in the order received."""

import asyncio

from tests.agent.test_loop import Harness


async def test_a_new_message_waits_for_the_older_one_the_resume_answers(tmp_path, fake_anthropic):
    h = Harness(tmp_path, fake_anthropic)
    agent = await h.start()
    try:
        session = await agent.new_session("test")
        orphan = await agent.receive(session.id, "test", "left by a dead worker")  # no owner
        h.storage.owner = "0.a"
        newer = asyncio.ensure_future(
            asyncio.wait_for(_reply(agent.submit(session.id, "test", "sent after")), 10))
        await asyncio.sleep(0.05)  # its turn is waiting for the orphan, before any resume
        assert not newer.done()

        assert await asyncio.wait_for(agent.resume_unfinished(reset=False), 10) == 1
        assert (await newer).text == "echo: sent after"
        stored = await h.storage.get_messages(session.id)
        assert [m.content[0]["text"] for m in stored] == [
            "left by a dead worker", "echo: left by a dead worker", "sent after",
            "echo: sent after"]
        assert orphan.status == "pending"
    finally:
        await h.stop()


async def _reply(events):
    return [event async for event in events][-1]
