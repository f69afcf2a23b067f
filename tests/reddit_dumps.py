"""Reddit dump files for the tests, written in the real format: zstd with a 2 GiB window, several
frames, one frame boundary inside a multi-byte character, every type drift and malformed case, a
truncated final frame, deleted authors and planted personal details (all invented)."""

from __future__ import annotations

from pathlib import Path

import orjson

from sources.reddit.writer import write_dump, write_frames

T0 = 1672531200  # 2023-01-01 UTC
AUTHORS = ["Jane_Doe_1987", "MarkTwainFan42", "throwaway_aita_77", "kind-stranger-5"]
PII = [
    "jane.doe.1987@example.com",
    "555-867-5309",
    "(555) 123-4567",
    "+44 20 7946 0958",
    "jane%40example.com",
    "sessiontoken123",
]
LONG = (
    "I told my sister that she could not borrow my car for the whole weekend because I needed it "
    "for work, and now the whole family is angry with me about it."
)


def post(id_, author="throwaway_aita_77", sub="AmItheAsshole", t=T0, title="AITA for saying no?", text=LONG, **kw):
    rec = {
        "id": id_,
        "subreddit": sub,
        "author": author,
        "created_utc": t,
        "score": 10,
        "title": title,
        "selftext": text,
        "num_comments": 3,
        "over_18": False,
        "is_self": True,
        "stickied": False,
        "edited": False,
    }
    rec.update(kw)
    return rec


def comment(id_, link, body, author="kind-stranger-5", parent=None, sub="AmItheAsshole", t=T0 + 60, **kw):
    rec = {
        "id": id_,
        "link_id": f"t3_{link}",
        "parent_id": parent or f"t3_{link}",
        "subreddit": sub,
        "author": author,
        "created_utc": t,
        "score": 2,
        "body": body,
    }
    rec.update(kw)
    return rec


def submissions() -> list:
    pii_text = (
        LONG + " Write to jane.doe.1987@example.com or call 555-867-5309 or (555) 123-4567; "
        "u/MarkTwainFan42 saw it, and Jane_Doe_1987 is my old account. "
        "Form: https://example.org/a?email=jane%40example.com&token=sessiontoken123 ok. Café 😀 ünïcode."
    )
    return [
        post("p1", author="Jane_Doe_1987", text=pii_text),  # 1 kept, PII masked
        post("p2", created_utc=str(T0 + 5), score=None, edited=T0 + 99.5),  # 2 drift: string time, null score
        post("p3", author="[deleted]"),  # 3 author deleted
        post("p4", text="[removed]"),  # 4 removed
        post("p5", title="[META] rules", stickied=True, author="AutoModerator"),  # 5 stickied
        post("p6", text="Too short to judge."),  # 6 too short
        b'{"id": "p7", "subreddit": "AmItheAsshole", "author": "Jane_Doe_1987", "title": "cut',  # 7 bad JSON
        post("p8", sub="AskReddit"),  # 8 other subreddit
        {k: v for k, v in post("p9").items() if k != "author"},  # 9 author absent
        post("p10", created_utc="yesterday"),  # 10 time not a number
        {k: v for k, v in post("p11").items() if k != "id"},  # 11 id missing
        post("p12", is_self=False, text=""),  # 12 link post
        post(
            "p13",
            text="Je ne savais pas quoi faire quand ma soeur a pris ma voiture pendant tout le week-end "
            "sans me demander, et maintenant toute la famille est fâchée contre moi.",
            title="Suis-je le connard ?",
        ),  # 13 French
        post("p14", _meta={"removal_type": "moderator", "retrieved_2nd_on": T0 + 1000}),  # 14 removed (Arctic Shift)
        post(
            "p15",
            author="MarkTwainFan42",
            edited=True,
            score="12",
            _meta={"retrieved_2nd_on": T0 + 2000, "was_deleted_later": False},
        ),  # 15 kept, drift
        b"[1, 2, 3]",  # 16 not an object
        b"",  # 17 blank line
        post("p15", author="MarkTwainFan42", retrieved_on=T0 + 10),  # 18 duplicate id
        post("p19", author={"name": "x"}),  # 19 author not a name
    ]


def comments() -> list:
    return [
        comment("c1", "p1", "NTA. Your car, your rules."),
        comment("c2", "p1", "nta, and YTA to whoever said otherwise", author="MarkTwainFan42"),
        comment("c3", "p1", "YTA honestly. Call me at +44 20 7946 0958.", author="throwaway_aita_77"),
        comment("c4", "p1", "ESH", author="Jane_Doe_1987", created_utc=str(T0 + 70)),
        comment("c5", "p1", "I agree with Jane_Doe_1987 here, INFO needed", parent="t1_c1"),  # reply
        comment("c6", "p1", "NTA is the bot's count", author="AutoModerator"),
        comment("c7", "p1", "[deleted]", author="[deleted]"),
        comment("c8", "p15", "NAH, just talk to her.", score=None, edited=T0 + 5.5),
        comment("c9", "p15", "YWBTA if you keep this up.", author="RemindMeBot"),
        comment("c10", "p15", "YWBTA if you keep this up."),
        comment("c11", "p6", "NTA"),  # post not selected
        b'{"id": "c12", "link_id": "t3_p1", "author": "Jane_Doe_1987", "body": "broken',  # bad JSON
        comment("c13", "p15", "NTA info", score={"up": 1}),  # score not a number
        comment("c14", "p15", "no verdict here, just vibes", link_id="p15"),  # link_id without t3_
    ]


def encode(records: list) -> bytes:
    return b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in records)


def write_split_in_char(path: Path, records: list, marker: str = "é") -> Path:
    """One frame boundary inside the first multi-byte `marker` character, others every 3 lines."""
    data = encode(records)
    split = data.index(marker.encode()) + 1  # between the bytes of one character
    rest = data[split:].split(b"\n")
    frames = [data[:split]] + [
        b"\n".join(rest[i : i + 3]) + (b"\n" if i + 3 < len(rest) else b"") for i in range(0, len(rest), 3)
    ]
    write_frames(path, [f for f in frames if f])
    return path


def write_pair(folder: Path, truncated: bool = True) -> list[Path]:
    """RS_ and RC_ files; the RC_ file's last frame is cut short when `truncated`."""
    folder.mkdir(parents=True, exist_ok=True)
    rs = write_split_in_char(folder / "RS_2023-01.zst", submissions())
    rc = write_dump(folder / "RC_2023-01.zst", comments(), frame_lines=4)
    if truncated:
        tail = write_dump(folder / "tail.zst", [comment("c99", "p1", "NTA, lost in the cut frame " * 20)])
        rc.write_bytes(rc.read_bytes() + tail.read_bytes()[:-30])
        tail.unlink()
    return [rs, rc]
