"""Generate the hackkit NER sample ``support_entities.conll``.

Customer messages to "Voltcart", the fictional electronics shop of ``support_intents.csv``,
tagged word by word (IOB2) with five entity types: PRODUCT, ORDER_ID, PERSON, LOCATION and
DATE. Every name, product, place and order id is invented or common.

Sentences come from hand-written templates whose ``{slots}`` are filled from pools. The data
is made so that a word-by-word baseline cannot simply memorise it:

* order ids and most dates contain fresh numbers, so they are rarely seen twice;
* a third of the person names are drawn from a pool used only for the last sentences of the
  file, which a random split scatters over train, validation and test;
* some words change type with context: first names that are also months or places
  ("May", "June", "Jordan", "Florence", "Austin", "Sydney"), product words that are also
  plain words ("Echo", "Nova", "Air", "Pro", "Mini") and places that are also surnames;
* about a tenth of the messages are all lower case, and some carry no entity at all.

Words are split like ``hackkit.ner.WORD`` splits raw text, so a model trained here tags raw
messages the same way. Output: one ``word TAG`` line per word, a blank line between
sentences. ``python data/make_support_entities.py`` rewrites the identical file.

Standard library only. Licence: CC0-1.0 (public domain dedication), like the generated data.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

SEED = 20261122
N_SENTENCES = 600
OUT_PATH = Path(__file__).resolve().parent / "support_entities.conll"
WORD = re.compile(r"#?\w+(?:[-./:@']\w+)*|[^\w\s]")  # same as hackkit.ner.WORD
P_LOWER = 0.1  # messages typed all in lower case
LATE_NAMES_FROM = 0.55  # share of the file after which the second name pool is used

PRODUCTS = [
    "Aero Pro headphones", "Aero earbuds", "Orbit speaker", "Orbit Mini speaker",
    "Pulse 2 smartwatch", "Pulse Lite band", "Nimbus router", "Nimbus Mesh", "Lumen 4K webcam",
    "Drift X camera", "Tessel keyboard", "Kestrel mouse", "Vista 27 monitor",
    "Strata 65W charger", "Cinder power bank", "Quill e-reader", "Echo Buds", "Nova tablet",
    "Nova Air laptop", "Halo lamp", "Fjord soundbar", "Atlas Max drone", "Pixel Dock",
]
FIRST = ["Priya", "Tom", "Jonas", "Aiko", "Mehmet", "Lucia", "Grace", "Dmitri", "Fatima",
         "Chloe", "Ravi", "Marta", "Kenji", "Noor", "Elena", "Hugo", "Zanele", "Liam", "Sofia",
         "Tariq", "Ines", "Wei", "May", "June", "Jordan", "Florence", "Austin", "Sydney"]
LAST = ["Okonkwo", "Lindqvist", "Haddad", "Moreau", "Nakamura", "Brennan", "Castillo",
        "Novak", "Osei", "Fischer", "Kowalski", "Adeyemi", "Sato", "Whitfield", "Paris", "London"]
LATE_FIRST = ["Beatriz", "Oskar", "Thandiwe", "Yusuf", "Ingrid", "Mateo", "Anneke", "Kwame",
              "Leilani", "Rasmus", "Svetlana", "Idris", "Camille", "Nikhil"]
LATE_LAST = ["Abernathy", "Vasquez", "Mbeki", "Johansson", "Quintero", "Ferreira", "Dubois",
             "Takahashi", "Oyelaran", "Petrov"]
PLACES = ["Leeds", "Dublin", "Rotterdam", "Lyon", "Porto", "Oslo", "Krakow", "Austin",
          "Sydney", "Florence", "Jordan", "Paris", "London", "Cape Town", "New York",
          "San Diego", "Bristol", "Montreal", "Hamburg", "Valencia", "Georgia", "Lagos"]
MONTHS = ["January", "March", "April", "May", "June", "July", "September", "October",
          "November", "December", "Jan", "Sept", "Oct"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

# Templates: {P} product, {O} order id, {N} person, {L} location, {D} date. Plain words around
# them repeat on purpose ("air", "pro", "mini", "echo", "may") so that words alone mislead.
TEMPLATES = [
    "Where is my order {O} ?",
    "My order {O} still has not arrived .",
    "I ordered the {P} on {D} and it is still not here .",
    "Could you check order {O} for me ? It was due on {D} .",
    "The {P} I got stopped charging after a week .",
    "Hi , this is {N} . My {P} will not turn on .",
    "Please cancel order {O} , I ordered the wrong {P} .",
    "Can you ship order {O} to {L} instead ?",
    "I moved to {L} , please update the address on {O} .",
    "Is the {P} in stock in your {L} store ?",
    "Does the {P} work with the {P} ?",
    "{N} from {L} here : the {P} arrived broken .",
    "I was charged twice for {O} on {D} .",
    "My colleague {N} ordered a {P} for our office in {L} .",
    "The courier left order {O} with my neighbour {N} .",
    "I need the {P} before {D} , can you deliver to {L} by then ?",
    "Can I return the {P} ? I bought it on {D} .",
    "Please refund order {O} , the {P} was missing from the box .",
    "{N} here again , any news on {O} ?",
    "Your agent {N} promised a call back on {D} but nobody called .",
    "I spoke to {N} on {D} about my {P} .",
    "Is there a warranty on the {P} if I live in {L} ?",
    "The {P} keeps dropping the connection since the update on {D} .",
    "Order {O} says delivered but nothing came to my flat in {L} .",
    "Can I pick up {O} at the {L} warehouse on {D} ?",
    "may I change the colour of the {P} in order {O} ?",
    "I may need a second {P} for my son {N} .",
    "The air vent on my {P} is loud , is that normal ?",
    "Pro tip for your team : the {P} manual is missing a page .",
    "The mini USB port on the {P} is loose .",
    "There is an echo on calls with the {P} .",
    "My {P} shows a nova error screen after the update .",
    "Please send the invoice for {O} to {N} in accounting .",
    "Thanks {N} , the {P} works now !",
    "I will be away until {D} , please hold order {O} .",
    "The parcel for {O} went to {L} by mistake .",
    "How long does shipping to {L} take for the {P} ?",
    "Can you price match the {P} ? A shop in {L} sells it for less .",
    "The tracking for {O} has not moved since {D} .",
    "Hello , I am {N} and I cannot log in to my account .",
    "I reset my password on {D} and still cannot log in .",
    "The battery on the {P} lasts only two hours .",
    "Do you deliver to {L} on weekends ?",
    "Order {O} and order {O} should have shipped together .",
    "My name is {N} , I called on {D} about a refund .",
    "The {P} and the {P} arrived but the cable is missing .",
    "Could {N} sign for the parcel if I am not home on {D} ?",
    "The screen of my {P} cracked on {D} .",
    "We are a school in {L} and want 20 {P} units .",
    "is the {P} any good for gaming ?",
    "What is the difference between the {P} and the {P} ?",
    "I still have not received a refund for {O} .",
    "Can I change the delivery date of {O} to {D} ?",
    "Hi support , the app does not find my {P} .",
    "Please call me back , I am free after lunch .",
    "Thanks for the quick help yesterday .",
    "My card was declined twice at checkout .",
    "The box was damaged but everything inside works .",
    "Is the pro plan worth it for a small team ?",
    "I may be late to pick up the parcel .",
]


def person(rng: random.Random, late: bool) -> list[str]:
    """A first name, sometimes with a surname; late sentences draw from the second pool."""
    first, last = (LATE_FIRST, LATE_LAST) if late and rng.random() < 0.6 else (FIRST, LAST)
    return [rng.choice(first)] + ([rng.choice(last)] if rng.random() < 0.5 else [])


def order_id(rng: random.Random) -> str:
    """An order id as customers type it."""
    n = rng.randint(10000, 99999)
    return rng.choice([f"#{n}", f"VC-{n}", f"VC{n}", f"#VC-{n}", str(n)])


def date(rng: random.Random) -> str:
    """A date in one of the ways people write them."""
    day, month = rng.randint(1, 28), rng.choice(MONTHS)
    return rng.choice([
        f"{day} {month}", f"{month} {day}", f"{day}/{rng.randint(1, 12)}",
        f"2026-{rng.randint(1, 12):02d}-{day:02d}", rng.choice(WEEKDAYS),
        f"{rng.choice(WEEKDAYS)} {day} {month}", ordinal(day),
    ])


def ordinal(day: int) -> str:
    """1st, 2nd, 3rd, 4th ... 21st, 22nd."""
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def fill(template: str, rng: random.Random, late: bool) -> list[tuple[str, str]]:
    """Tagged words of one sentence: the template's words are O, slot values get IOB2 tags."""
    out: list[tuple[str, str]] = []
    for piece in re.split(r"(\{[A-Z]\})", template):
        slot = {"{P}": "PRODUCT", "{O}": "ORDER_ID", "{N}": "PERSON", "{L}": "LOCATION",
                "{D}": "DATE"}.get(piece)
        if slot is None:
            out += [(w, "O") for w in WORD.findall(piece)]
            continue
        value = {"PRODUCT": lambda: rng.choice(PRODUCTS), "ORDER_ID": lambda: order_id(rng),
                 "PERSON": lambda: " ".join(person(rng, late)), "LOCATION": lambda: rng.choice(PLACES),
                 "DATE": lambda: date(rng)}[slot]()
        words = WORD.findall(value)
        out += [(w, ("B-" if i == 0 else "I-") + slot) for i, w in enumerate(words)]
    return out


def generate() -> list[list[tuple[str, str]]]:
    """All sentences, unique, in a fixed order."""
    rng = random.Random(SEED)
    seen: set[str] = set()
    sentences = []
    while len(sentences) < N_SENTENCES:
        late = len(sentences) >= LATE_NAMES_FROM * N_SENTENCES
        sentence = fill(rng.choice(TEMPLATES), rng, late)
        if rng.random() < P_LOWER:
            sentence = [(w.lower(), t) for w, t in sentence]
        key = " ".join(w for w, _ in sentence).lower()  # hackkit drops case-only repeats
        if key not in seen:
            seen.add(key)
            sentences.append(sentence)
    return sentences


def main() -> None:
    """Write the file and print what it holds."""
    sentences = generate()
    text = "\n\n".join("\n".join(f"{w} {t}" for w, t in s) for s in sentences) + "\n"
    OUT_PATH.write_text(text, encoding="utf-8", newline="\n")
    entities = [t[2:] for s in sentences for _, t in s if t.startswith("B-")]
    counts = {k: entities.count(k) for k in sorted(set(entities))}
    print(f"wrote {OUT_PATH.name}: {len(sentences)} sentences, "
          f"{sum(len(s) for s in sentences)} words, entities {counts}")


if __name__ == "__main__":
    main()
