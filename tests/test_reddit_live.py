"""The PRAW source with PRAW objects built here: the mapping to dump rows and the incremental state.
No request is made: a PRAW object built with its data answers from that data."""

from __future__ import annotations

import praw
import pytest
from praw.models import Comment, Redditor, Submission, Subreddit

from schemas.errors import CurateError
from sources.reddit.dumps import read_dump
from sources.reddit.live import FetchState, comment_row, fetch_listing, fetch_to_dumps, reddit_from_env, submission_row

T0 = 1672531200


@pytest.fixture
def reddit():
    return praw.Reddit(client_id="local", client_secret="local", user_agent="curate tests", check_for_updates=False)


def make_submission(reddit, id_, t, author="Jane_Doe_1987", sub="AmItheAsshole"):
    return Submission(
        reddit,
        _data={
            "id": id_,
            "title": "AITA for saying no?",
            "selftext": "I said no to my sister " * 5,
            "score": 3,
            "num_comments": 1,
            "over_18": False,
            "created_utc": float(t),
            "is_self": True,
            "stickied": False,
            "edited": False,
            "distinguished": None,
            "link_flair_text": None,
            # as in Reddit's JSON: PRAW turns these into Redditor (None for "[deleted]") and Subreddit objects
            "author": author or "[deleted]",
            "subreddit": sub,
        },
    )


def make_comment(reddit, id_, link, t, body="NTA"):
    return Comment(
        reddit,
        _data={
            "id": id_,
            "link_id": f"t3_{link}",
            "parent_id": f"t3_{link}",
            "body": body,
            "score": 1,
            "created_utc": float(t),
            "edited": False,
            "stickied": False,
            "distinguished": None,
            "author": "MarkTwainFan42",
            "subreddit": "AmItheAsshole",
        },
    )


class LocalSubreddit:
    """What `reddit.subreddit(name)` gives, with listings of locally built PRAW objects, newest first."""

    def __init__(self, submissions, comments):
        self.submissions, self.comments_ = submissions, comments
        self.calls = 0

    def new(self, limit):
        self.calls += 1
        return iter(self.submissions[:limit])

    def comments(self, limit):
        return iter(self.comments_[:limit])


class LocalReddit:
    def __init__(self, subs):
        self.subs = subs

    def subreddit(self, name):
        return self.subs[name]


def test_rows_from_praw_objects_read_back_like_dump_rows(reddit, tmp_path):
    built = make_submission(reddit, "p1", T0)
    assert isinstance(built.author, Redditor) and isinstance(built.subreddit, Subreddit)
    assert make_submission(reddit, "p2", T0, author=None).author is None
    s = submission_row(built)
    assert s["author"] == "Jane_Doe_1987" and s["subreddit"] == "AmItheAsshole" and s["created_utc"] == T0
    assert submission_row(make_submission(reddit, "p2", T0, author=None))["author"] == "[deleted]"
    c = comment_row(make_comment(reddit, "c1", "p1", T0 + 5))
    assert c["link_id"] == "t3_p1" and c["author"] == "MarkTwainFan42"
    out = fetch_to_dumps(
        LocalReddit(
            {
                "AmItheAsshole": LocalSubreddit(
                    [make_submission(reddit, "p1", T0)], [make_comment(reddit, "c1", "p1", T0 + 5)]
                )
            }
        ),
        ["AmItheAsshole"],
        tmp_path / "state.json",
        tmp_path / "live",
    )
    assert [p.name[:8] for p in out] == ["RS_live_", "RC_live_"]
    posts, comments = read_dump(out[0]), read_dump(out[1])
    assert posts.rows["id"].to_list() == ["p1"] and posts.rows["is_self"][0] is True
    assert comments.rows["link_id"].to_list() == ["t3_p1"] and not posts.quarantined + comments.quarantined


def test_incremental_fetch_only_what_is_new(reddit, tmp_path):
    first = [make_submission(reddit, f"p{i}", T0 + i) for i in (3, 2, 1)]
    sub = LocalSubreddit(first, [])
    local = LocalReddit({"AmItheAsshole": sub})
    state_path = tmp_path / "state.json"
    fetch_to_dumps(local, ["AmItheAsshole"], state_path, tmp_path / "live")
    state = FetchState.load(state_path)
    assert state.newest("amitheasshole", "submissions") == (T0 + 3, {"p3"})

    # two new posts, one of them in the same second as the newest seen
    sub.submissions = [make_submission(reddit, "p5", T0 + 4), make_submission(reddit, "p4", T0 + 3)] + first
    rows = fetch_listing(local, "AmItheAsshole", "submissions", FetchState.load(state_path))
    assert [r["id"] for r in rows] == ["p5", "p4"]
    written = fetch_to_dumps(local, ["AmItheAsshole"], state_path, tmp_path / "live2")
    assert read_dump(written[0]).rows["id"].to_list() == ["p4", "p5"]
    assert fetch_to_dumps(local, ["AmItheAsshole"], state_path, tmp_path / "live3") == []  # nothing new


def test_rate_limit_is_waited_out(reddit, tmp_path):
    import requests
    from prawcore.exceptions import TooManyRequests

    response = requests.Response()  # what prawcore raises with, built here
    response.status_code, response._content = 429, b"Too Many Requests"
    response.headers["retry-after"] = "7"

    class Limited(LocalSubreddit):
        def new(self, limit):
            self.calls += 1
            if self.calls == 1:
                raise TooManyRequests(response)
            return super().new(limit)

    waits = []
    sub = Limited([make_submission(reddit, "p1", T0)], [])
    rows = fetch_listing(
        LocalReddit({"x": sub}), "x", "submissions", FetchState(tmp_path / "s.json"), sleep=waits.append
    )
    assert [r["id"] for r in rows] == ["p1"] and waits == [7.0]


def test_credentials_come_from_the_environment(monkeypatch):
    for name in ("REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET", "REDDIT_USER_AGENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REDDIT_CLIENT_ID", "id-value")
    with pytest.raises(CurateError, match="REDDIT_CLIENT_SECRET, REDDIT_USER_AGENT") as err:
        reddit_from_env()
    assert "id-value" not in str(err.value)
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "secret-value")
    monkeypatch.setenv("REDDIT_USER_AGENT", "curate tests")
    assert reddit_from_env().read_only
