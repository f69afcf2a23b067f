"""Synthetic Reddit records in the dumps' shape, for the shipped samples and the benchmark.

All text is written here from templates; the names, e-mail addresses (example.com/.org) and phone
numbers (555 numbers) are invented. Nothing comes from Reddit.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import orjson

PEOPLE = [
    "my sister",
    "my roommate",
    "my boss",
    "my best friend",
    "my partner",
    "my neighbor",
    "my coworker",
    "my dad",
    "my mother in law",
    "my cousin",
]
EVENTS = [
    "asked me to pay for half of her wedding dress",
    "ate the leftovers I had labeled in the fridge for my lunch",
    "borrowed my car for the weekend without asking me first",
    "invited my ex to the birthday dinner I was hosting",
    "told everyone at work about my medical appointment",
    "wanted me to skip my graduation to babysit their kids",
    "kept playing loud music until three in the morning on a work night",
    "used my streaming account and changed the password",
]
REACTIONS = [
    "I said no and explained that I had already planned my budget for the month.",
    "I told them calmly that this was not okay and that I needed an apology.",
    "I moved my things out of the shared space and stopped talking to them for a week.",
    "I posted about it in the family group chat so that everybody knew what happened.",
    "I refused to help the next time they asked me for a favor.",
]
ENDINGS = [
    "Now half of the family says I overreacted and the other half agrees with me.",
    "They say I embarrassed them, and I honestly cannot tell if they are right.",
    "Things have been tense at home ever since and I keep thinking about it.",
]
VOTES = [
    ("NTA. You set a clear boundary and they walked right over it.", 6),
    ("nta, your car, your rules. They owe you an apology.", 3),
    ("YTA. You could have handled this with a private conversation instead.", 3),
    ("ESH honestly. They were rude but posting it in the group chat was petty.", 2),
    ("NAH, sounds like a misunderstanding that a calm talk can fix.", 2),
    ("INFO: did you ever tell them beforehand that this bothered you?", 1),
    ("YWBTA if you keep ignoring them over this, just talk to them.", 1),
    ("This happened to me too, it is so frustrating. Good luck with everything.", 2),
]
CONFESSIONS = [
    "I have been pretending to like my job for three years because I am afraid of disappointing my parents "
    "who helped me get it, and every Sunday evening I feel sick thinking about Monday morning.",
    "When I was a teenager I broke my neighbor's window with a ball and let my little brother take the blame, "
    "and I still think about it every time I visit home and see that house across the street.",
    "I secretly donate part of my salary every month to the animal shelter where I volunteered in college, "
    "and I never told my partner because I know we disagree about how to spend money.",
]
FOREIGN = {
    "fr": "Je suis parti de la fête de mariage de mon frère avant le dessert parce que sa femme a fait une "
    "remarque méchante sur mon travail devant toute la famille, et maintenant personne ne me parle plus.",
    "es": "No fui a la cena de cumpleaños de mi mejor amiga porque estaba agotado después de una semana muy "
    "larga en el trabajo, y ahora ella dice que nunca la priorizo y que siempre tengo excusas.",
    "de": "Ich habe meinem Mitbewohner gesagt, dass er endlich seinen Anteil an der Miete pünktlich bezahlen "
    "muss, sonst suche ich mir eine neue Wohnung, und jetzt ist die Stimmung in der Wohnung sehr schlecht.",
}


def aita_text(rng: np.random.Generator) -> tuple[str, str]:
    person = PEOPLE[rng.integers(len(PEOPLE))]
    event = EVENTS[rng.integers(len(EVENTS))]
    title = f"AITA for how I reacted when {person} {event}?"
    body = (
        f"So {person} {event}. {REACTIONS[rng.integers(len(REACTIONS))]} {ENDINGS[rng.integers(len(ENDINGS))]}\n\nAITA?"
    )
    return title, body


def vote_text(rng: np.random.Generator) -> str:
    texts, weights = zip(*VOTES)
    p = np.array(weights, dtype=float)
    return texts[rng.choice(len(texts), p=p / p.sum())]


def submission(id_: str, subreddit: str, author: str | None, created: int, title: str, selftext: str, **extra) -> dict:
    rec = {
        "id": id_,
        "subreddit": subreddit,
        "author": author,
        "created_utc": created,
        "score": 1,
        "title": title,
        "selftext": selftext,
        "num_comments": 0,
        "over_18": False,
        "is_self": True,
        "stickied": False,
        "edited": False,
        "distinguished": None,
        "link_flair_text": None,
    }
    if author is None:
        rec.pop("author")
    rec.update(extra)
    return rec


def comment(
    id_: str, link: str, parent: str | None, subreddit: str, author: str | None, created: int, body: str, **extra
) -> dict:
    rec = {
        "id": id_,
        "link_id": f"t3_{link}",
        "parent_id": parent or f"t3_{link}",
        "subreddit": subreddit,
        "author": author,
        "created_utc": created,
        "score": 1,
        "body": body,
        "edited": False,
    }
    if author is None:
        rec.pop("author")
    rec.update(extra)
    return rec


def bench_lines(rng: np.random.Generator, subreddits: list[str]) -> Iterator[bytes]:
    """Endless comment lines shaped like Pushshift's (about 1 KB each, ~35 fields), for the benchmark."""
    words = (
        "the a to and of I you it that was for is my on with they this but have not at be so "
        "what if she he we just like about would there their NTA YTA ESH really think"
    ).split()
    i = 0
    while True:
        batch = rng.integers(0, len(words), size=(512, 40))
        subs = rng.integers(0, len(subreddits), size=512)
        for j in range(512):
            i += 1
            yield (
                orjson.dumps(
                    {
                        "all_awardings": [],
                        "archived": False,
                        "associated_award": None,
                        "author": f"user_{i % 99991}",
                        "author_flair_background_color": None,
                        "author_flair_css_class": None,
                        "author_flair_richtext": [],
                        "author_flair_template_id": None,
                        "author_flair_text": None,
                        "author_flair_text_color": None,
                        "author_flair_type": "text",
                        "author_fullname": f"t2_{i:x}",
                        "author_patreon_flair": False,
                        "author_premium": False,
                        "awarders": [],
                        "body": " ".join(words[k] for k in batch[j]) + " caf\u00e9 \u2014 \U0001f600",
                        "body_sha1": f"{i:040x}",
                        "can_gild": True,
                        "collapsed": False,
                        "comment_type": None,
                        "controversiality": 0,
                        "created_utc": 1672531200 + i if i % 7 else str(1672531200 + i),
                        "distinguished": None,
                        "edited": False if i % 5 else 1672600000.5,
                        "gilded": 0,
                        "id": f"j{i:x}",
                        "is_submitter": False,
                        "link_id": f"t3_{i // 50:x}",
                        "locked": False,
                        "no_follow": True,
                        "parent_id": f"t3_{i // 50:x}",
                        "permalink": f"/r/x/comments/{i:x}/",
                        "retrieved_on": 1672600000,
                        "score": i % 100 if i % 11 else None,
                        "send_replies": True,
                        "stickied": False,
                        "subreddit": subreddits[subs[j]],
                        "subreddit_id": "t5_2xhvq",
                        "subreddit_name_prefixed": f"r/{subreddits[subs[j]]}",
                        "subreddit_type": "public",
                        "top_awarded_type": None,
                        "total_awards_received": 0,
                        "treatment_tags": [],
                    }
                )
                + b"\n"
            )
