"""Generate the hackkit text-regression sample ``review_scores.csv`` (columns ``text``, ``score``).

The data simulates product reviews left at "Voltcart", the fictional electronics shop of the other
samples, each with a score from 1 to 5: the mean of three simulated readers' star ratings, so a
score is a number such as 3.67, not a class.

Each review talks about one to three aspects of one product (delivery, build quality, battery,
price, support, screen, sound, setup). Every aspect clause carries a strength from -2 (very
negative) to +2 (very positive), set by its wording; intensifiers ("really", "a bit") scale it, and
a negated positive ("not great") counts as mildly negative. A review's underlying opinion is
3 + the mean strength of its clauses (kept within 1-5); each of the three readers rounds that
opinion plus their own noise (sd 0.6) to a whole star, and the score is the mean of their stars.
So the words decide most of the score, word order and negation some of it, and the readers' noise
the rest: no model reaches a perfect fit.

Deterministic: ``python data/make_review_scores.py`` rewrites the identical file byte-for-byte.
Standard library only. Licence: CC0-1.0 (public domain dedication), like the generated data.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

SEED = 20261206
ROWS = 400
READERS = 3
READER_NOISE = 0.6  # standard deviation of one reader's disagreement, in stars
OUT_PATH = Path(__file__).resolve().parent / "review_scores.csv"

PRODUCTS = ["headphones", "laptop", "phone charger", "smartwatch", "bluetooth speaker", "e-reader",
            "webcam", "keyboard", "tablet", "power bank", "monitor", "router"]

# aspect -> strength -> phrasings ({p}: the product)
ASPECTS: dict[str, dict[int, list[str]]] = {
    "delivery": {
        2: ["it arrived a day early", "delivery was lightning fast", "shipping was quicker than promised"],
        1: ["it arrived on time", "delivery was fine", "the parcel came when expected"],
        -1: ["delivery took a few days longer than promised", "the parcel was a bit late"],
        -2: ["it arrived two weeks late", "the box was crushed on arrival", "the parcel got lost once"],
    },
    "quality": {
        2: ["the {p} feels solid and premium", "build quality is excellent", "it is beautifully made"],
        1: ["the {p} is decently built", "it feels sturdy enough", "the materials are okay for the price"],
        -1: ["the {p} feels a little flimsy", "some plastic parts creak", "the finish scratches easily"],
        -2: ["the {p} broke within a week", "it stopped working after two days", "it fell apart quickly"],
    },
    "battery": {
        2: ["the battery lasts for days", "battery life is outstanding", "it charges really fast"],
        1: ["the battery gets me through the day", "battery life is acceptable"],
        -1: ["the battery drains faster than advertised", "it needs charging twice a day"],
        -2: ["the battery dies within an hour", "it will not hold a charge at all"],
    },
    "price": {
        2: ["it is a bargain for what you get", "amazing value for money", "worth every cent"],
        1: ["the price is fair", "it was reasonably priced"],
        -1: ["it is a bit overpriced", "you can find similar ones for less"],
        -2: ["it is a total rip-off", "way too expensive for what it does"],
    },
    "support": {
        2: ["customer support solved my problem in minutes", "the support team was wonderful"],
        1: ["support answered my question", "the help desk was polite"],
        -1: ["support took days to reply", "I had to explain my issue three times"],
        -2: ["support never answered my emails", "the help desk was rude and useless"],
    },
    "screen": {
        2: ["the screen is crisp and bright", "the display is gorgeous"],
        1: ["the screen is good enough indoors", "the display is clear"],
        -1: ["the screen is hard to read in sunlight", "the display looks a bit washed out"],
        -2: ["the screen has dead pixels", "the display flickers constantly"],
    },
    "sound": {
        2: ["the sound is rich and clear", "audio quality blew me away"],
        1: ["the sound is decent", "audio is fine for calls"],
        -1: ["the sound is a bit tinny", "the bass is weak"],
        -2: ["the sound crackles all the time", "audio cuts out every few minutes"],
    },
    "setup": {
        2: ["setup took under a minute", "it worked straight out of the box"],
        1: ["setup was simple enough", "the instructions were clear"],
        -1: ["setup was fiddly", "the app kept asking me to log in again"],
        -2: ["I could not get it to pair at all", "the setup app crashes every time"],
    },
}
# Positive clauses that can be negated: "not" + phrase; they count as mildly negative.
NEGATABLE = {"delivery was fine": "delivery was not fine", "the price is fair": "the price is not fair",
             "the sound is decent": "the sound is not decent", "the display is clear": "the display is not clear",
             "setup was simple enough": "setup was not simple at all",
             "the battery gets me through the day": "the battery does not get me through the day"}
INTENSIFIERS = [("really ", 1.3), ("honestly ", 1.0), ("a bit ", 0.7), ("", 1.0), ("", 1.0)]
OPENERS = ["Bought the {p} last month.", "I use my {p} every day.", "Got the {p} as a gift.",
           "This is the second {p} I have ordered here.", "", "", ""]
JOINERS = [", and ", ". ", ", but ", "; ", ". Also, "]  # after a full stop: a capital
CLOSERS = {2: ["Highly recommended!", "Would buy again.", "Five stars from me."],
           1: ["Happy overall.", "Does the job.", ""],
           0: ["Mixed feelings.", "It is okay.", ""],
           -1: ["Not sure I would buy it again.", "Disappointed.", ""],
           -2: ["Avoid.", "Returning it.", "Worst purchase this year."]}


def clause(rng: random.Random, aspect: str, product: str) -> tuple[str, float]:
    """One aspect sentence and its strength (-2..+2, scaled by an intensifier or negation)."""
    strength = rng.choice([2, 1, 1, -1, -1, -2])
    text = rng.choice(ASPECTS[aspect][strength]).format(p=product)
    if text in NEGATABLE and rng.random() < 0.5:
        return NEGATABLE[text], -0.8
    word, scale = rng.choice(INTENSIFIERS)
    if word and " is " in text:
        text = text.replace(" is ", f" is {word}", 1)
        return text, strength * scale
    return text, float(strength)


def review(rng: random.Random) -> tuple[str, float]:
    """One review and its score (mean of READERS whole-star ratings, two decimals)."""
    product = rng.choice(PRODUCTS)
    aspects = rng.sample(sorted(ASPECTS), k=rng.choice([1, 2, 2, 3]))
    parts = [clause(rng, a, product) for a in aspects]
    opinion = min(5.0, max(1.0, 3 + sum(s for _, s in parts) / len(parts)))
    body = parts[0][0]
    for text, _ in parts[1:]:
        joiner = rng.choice(JOINERS)
        body += joiner + (text[0].upper() + text[1:] if joiner.strip().endswith(".") else text)
    body = body[0].upper() + body[1:] + "."
    mood = max(-2, min(2, round(opinion - 3)))
    pieces = [rng.choice(OPENERS).format(p=product), body, rng.choice(CLOSERS[mood])]
    text = " ".join(p for p in pieces if p)
    stars = [min(5, max(1, round(opinion + rng.gauss(0, READER_NOISE)))) for _ in range(READERS)]
    return text, round(sum(stars) / READERS, 2)


def main() -> None:
    """Write OUT_PATH: ROWS distinct reviews."""
    rng = random.Random(SEED)
    rows, seen = [], set()
    while len(rows) < ROWS:
        text, score = review(rng)
        if text.lower() in seen:
            continue
        seen.add(text.lower())
        rows.append((text, score))
    with OUT_PATH.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["text", "score"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} reviews to {OUT_PATH.name}")


if __name__ == "__main__":
    main()
