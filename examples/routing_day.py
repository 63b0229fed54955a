"""A compressed day at a support desk: customers arrive, agents come and go, queues form.

    python examples/routing_day.py

Two teams (billing, tech), five agents with skills, languages and shifts,
and about 60 customers arriving over twelve "hours" (ticks). Each tick: agents
starting their shift become available and those ending it go away; new
customers are routed by topic and language; agents resolve some of their
chats and take the next waiting customer they can serve. The script prints
the queue every tick and, at the end, how many customers were served at
once or queued, and the longest queue. It runs on a temporary SQLite file.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from pathlib import Path

from chatkit import Agent, AsyncChatKit, Author

TOPICS = [("orders & billing", "billing"), ("troubleshooting", "tech"), ("refunds", "billing")]
LANGUAGES = ["en", "tr", "ko"]
# name, team, skills, languages, capacity, first tick on duty, last tick on duty
STAFF = [
    ("Mia", "billing", ["refunds"], ["en", "tr"], 2, 0, 7),
    ("Sam", "billing", [], ["en"], 1, 3, 11),
    ("Jin", "tech", ["troubleshooting"], ["ko", "en"], 2, 0, 11),
    ("Ece", "tech", ["troubleshooting"], ["tr"], 1, 4, 9),
    ("Leo", "billing", ["refunds"], ["ko", "en"], 3, 6, 11),
]


async def day(url: str, seed: int = 7) -> None:
    rng = random.Random(seed)
    async with AsyncChatKit(url) as kit:
        await kit.teams.create("billing", categories=["orders & billing", "refunds"])
        await kit.teams.create("tech", categories=["troubleshooting"])
        agents: dict[str, Agent] = {}
        for name, team, skills, languages, capacity, _, _ in STAFF:
            agents[name] = await kit.agents.create(
                name=name,
                teams=[team],
                skills=skills,
                languages=languages,
                max_concurrent_chats=capacity,
            )
        served = queued = longest = 0
        customer = 0
        for tick in range(12):
            for name, _, _, _, _, start, end in STAFF:
                if tick == start:
                    await kit.agents.set_presence(agents[name].id, "available")
                if tick == end + 1:
                    await kit.agents.set_presence(agents[name].id, "away")
            for _ in range(rng.randint(3, 7)):
                customer += 1
                topic, _ = rng.choice(TOPICS)
                inbound = await kit.messages.receive(
                    channel="web", sender=f"visitor-{customer}", text=f"Help with {topic}"
                )
                result = await kit.routing.route(
                    inbound.conversation.id, topic=topic, language=rng.choice(LANGUAGES)
                )
                if result.queued:
                    queued += 1
                    wait = result.expected_wait
                    minutes = round(wait.total_seconds() / 60) if wait is not None else 0
                    await kit.messages.send(
                        inbound.conversation.id,
                        f"You are number {result.position} in line (about {minutes} min).",
                        author=Author.bot(),
                    )
                else:
                    served += 1
            for agent in agents.values():
                mine = (await kit.conversations.list(assignee_id=agent.id)).items
                for conversation in mine:
                    if conversation.status.value == "open" and rng.random() < 0.6:
                        await kit.conversations.resolve(conversation.id)
                while await kit.routing.next_for(agent.id) is not None:
                    pass
            waiting = (await kit.routing.queue(limit=200)).items
            longest = max(longest, len(waiting))
            print(f"hour {tick:2}: {customer:3} customers so far, {len(waiting):2} waiting")
        print(f"served at once: {served}, queued: {queued}, longest queue: {longest}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(day(f"sqlite:///{Path(tmp) / 'support.db'}"))


if __name__ == "__main__":
    main()
