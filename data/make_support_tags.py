"""Generate the hackkit sample dataset ``support_tags.csv`` (multi-label classification).

Support tickets of "Voltcart", the fictional electronics shop of ``support_intents.csv``, each
tagged with every topic it raises: ``billing;refund`` for a double charge the customer wants back,
nothing at all for a thank-you note. A ticket is built from one clause per tag (drawn from that
tag's pool, its ``{slots}`` filled from shared word lists), sometimes a *decoy* clause that names
another tag's words without raising it ("the payment went through fine"), and optional greeting
and sign-off sentences. Tags come in realistic pairs (a refund usually follows a billing problem
or a return), so the doctor's co-occurrence view has something to show.

The output is deterministic: ``python data/make_support_tags.py`` rewrites the identical file
byte-for-byte. Standard library only. Licence: CC0-1.0, like the generated data.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

SEED = 20261206
ROWS = 480
OUT_PATH = Path(__file__).resolve().parent / "support_tags.csv"

SLOTS = {
    "product": ["Strata 65W charger", "Cinder 20K power bank", "Nimbus earbuds", "Atlas 4K monitor",
                "Pico smart plug", "Vela keyboard", "Orbit webcam", "Tidal speaker"],
    "order": ["VC-40258", "VC-11190", "VC-46863", "VC-52017", "VC-38841", "VC-60312", "VC-27455"],
    "amount": ["19.99", "49.00", "129.50", "89.90", "240.00", "12.49"],
    "days": ["three", "five", "ten", "two", "twelve"],
    "city": ["Dublin", "Lyon", "Porto", "Leeds", "Graz", "Utrecht"],
}

TAGS: dict[str, list[str]] = {
    "billing": [
        "I was charged twice for order {order}.",
        "my card statement shows {amount} EUR more than the invoice said",
        "the payment for {order} was taken but the invoice is missing",
        "why did you bill me {amount} EUR when the checkout said less?",
        "there is a charge of {amount} EUR I don't recognise",
        "my card was declined but the money still left my account",
        "the VAT on my invoice for {order} looks wrong",
        "I need a corrected invoice with my company name",
        "you charged the full price although the coupon was applied",
        "two payments of {amount} EUR went out for one order",
    ],
    "refund": [
        "please give me my money back",
        "I'd like a refund of {amount} EUR",
        "when will the refund for {order} reach my card?",
        "I returned the {product} {days} weeks ago and still have no refund",
        "can you send the money back to my original payment method?",
        "I want to be reimbursed for the difference",
        "the refund you promised never arrived",
        "please reverse the extra charge",
        "I expect a full refund for this",
        "refund the {product} please, I no longer want it",
    ],
    "delivery": [
        "my parcel {order} has not arrived after {days} days",
        "the tracking for {order} has not moved since Monday",
        "the courier left the box at the wrong address in {city}",
        "the {product} was supposed to arrive last week",
        "the parcel arrived with the box crushed",
        "delivery says completed but nothing came to my door",
        "the package is stuck at the depot in {city}",
        "only half of the items in {order} were delivered",
        "can you tell me when the {product} will be shipped?",
        "the driver never rang the bell in {city}",
    ],
    "defect": [
        "the {product} will not turn on at all",
        "the {product} stops working after a few minutes",
        "the {product} makes a buzzing noise when charging",
        "one side of the {product} is dead",
        "the screen of the {product} flickers constantly",
        "the {product} gets very hot and then switches off",
        "the {product} arrived with a cracked case",
        "the {product} keeps disconnecting from my laptop",
        "the battery of the {product} drains overnight",
        "the firmware update bricked my {product}",
    ],
    "return": [
        "how do I send the {product} back?",
        "I want to return the {product}",
        "can you email me a return label for {order}?",
        "I'd like to exchange the {product} for another colour",
        "is the {product} still within the return window?",
        "I posted the {product} back to you on Friday",
        "where do I drop off the return for {order}?",
        "I'll send the {product} back, it is not what I expected",
        "please arrange a pickup for the return in {city}",
        "I need a replacement {product} instead of this one",
    ],
    "account": [
        "I can't log in to my account",
        "the password reset email never comes",
        "my two-factor code is always rejected",
        "someone else seems to have logged into my account",
        "please change the email address on my account",
        "my account got locked after three attempts",
        "I want to delete my account and my data",
        "the app logs me out every time I open it",
        "I can't see my past orders after logging in",
        "my loyalty points vanished from my account",
    ],
    "cancellation": [
        "please cancel order {order}",
        "I want to cancel the {product} before it ships",
        "stop the order, I bought it by mistake",
        "can I still cancel {order}?",
        "I changed my mind about the {product}, cancel it",
        "cancel my subscription to the extended warranty",
        "please do not send {order}, I don't need it any more",
        "I ordered the {product} twice, cancel one of them",
    ],
    "urgent": [
        "this is urgent, I need it sorted today",
        "I need an answer within the hour",
        "it is a gift for tomorrow, please hurry",
        "this is the third time I write, please escalate",
        "I am travelling on Friday and need this fixed before",
        "please treat this as a priority",
    ],
}

# Pairs that tend to come together, and how likely the second is once the first is drawn.
FOLLOWS = {"billing": ("refund", 0.45), "defect": ("return", 0.4), "return": ("refund", 0.35),
           "delivery": ("cancellation", 0.2), "account": ("urgent", 0.25),
           "cancellation": ("refund", 0.3)}
DECOYS = {  # a tag's words without raising it: used only when the ticket lacks that tag
    "billing": "The payment itself went through fine.",
    "refund": "I don't need a refund.",
    "delivery": "Delivery was quick, by the way.",
    "defect": "The {product} itself works perfectly.",
    "return": "I don't want to return anything.",
    "account": "Logging in works fine now.",
    "cancellation": "No need to cancel anything.",
    "urgent": "There's no rush on this.",
}
GREETINGS = ["Hi,", "Hello,", "Hi there,", "Good morning,", "Dear Voltcart team,", "Hey,", "", "", ""]
SIGNOFFS = ["Thanks.", "Thank you!", "Regards, Sam", "Cheers", "Best, Alex", "", "", ""]
NO_TAG = [
    "just wanted to say the {product} is great, thanks!",
    "thanks for the quick help last week",
    "great service, nothing else needed",
    "I found the answer in the FAQ, all good now",
    "please ignore my last message, it is sorted",
]
SIZES = (0, 1, 2, 3)
WEIGHTS = (0.05, 0.45, 0.38, 0.12)


def fill(template: str, rng: random.Random, product: str) -> str:
    """Fill a template's slots (one product per ticket, so its sentences agree)."""
    values = {name: rng.choice(pool) for name, pool in SLOTS.items()}
    values["product"] = product
    return template.format(**values)


def sentence(clause: str) -> str:
    """A clause as a sentence: capitalised and ending in punctuation."""
    clause = clause[0].upper() + clause[1:]
    return clause if clause[-1] in ".?!" else clause + "."


def make_ticket(rng: random.Random) -> tuple[str, list[str], str]:
    """One ticket: its text, its tags in the order they were raised, and its clauses alone."""
    size = rng.choices(SIZES, WEIGHTS)[0]
    tags: list[str] = []
    while len(tags) < size:
        if tags and tags[-1] in FOLLOWS and rng.random() < FOLLOWS[tags[-1]][1]:
            candidate = FOLLOWS[tags[-1]][0]
        else:
            candidate = rng.choice(list(TAGS))
        if candidate not in tags:
            tags.append(candidate)
    product = rng.choice(SLOTS["product"])
    clauses = [fill(rng.choice(TAGS[t]), rng, product) for t in tags] or \
        [fill(rng.choice(NO_TAG), rng, product)]
    parts = [rng.choice(GREETINGS)] + [sentence(c) for c in clauses]
    if rng.random() < 0.25:
        denied = rng.choice([t for t in DECOYS if t not in tags])
        parts.insert(rng.randint(1, len(parts)), fill(DECOYS[denied], rng, product))
    parts.append(rng.choice(SIGNOFFS))
    text = " ".join(p for p in parts if p)
    return (text.lower() if rng.random() < 0.1 else text), tags, " ".join(clauses).lower()


def generate(seed: int = SEED, rows: int = ROWS) -> list[tuple[str, str]]:
    """(text, tags joined by ';') rows; no two share their clauses (greeting and sign-off aside),
    so no test ticket is a training ticket with another greeting."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out = []
    while len(out) < rows:
        text, tags, core = make_ticket(rng)
        if core not in seen:
            seen.add(core)
            out.append((text, ";".join(tags)))
    return out


def main() -> None:
    """Write support_tags.csv next to this script and print the tag counts."""
    rows = generate()
    with OUT_PATH.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["text", "labels"])
        writer.writerows(rows)
    counts: dict[str, int] = {}
    for _, tags in rows:
        for tag in filter(None, tags.split(";")):
            counts[tag] = counts.get(tag, 0) + 1
    print(f"wrote {len(rows)} tickets to {OUT_PATH.name}: "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])))


if __name__ == "__main__":
    main()
