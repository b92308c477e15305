"""Generate the hackkit text-generation sample ``product_descriptions.csv``.

Each row is a product listing of "Voltcart", the fictional electronics shop of the other samples:
a ``prompt`` with the product's attributes in a fixed ``key[value]`` form (as E2E's meaning
representations are written) and a ``response``, a one- or two-sentence shop description that
mentions every attribute. The descriptions are written from several sentence plans, so the model
has to learn the attributes' meaning and the shop's tone, not one template; some attributes are
optional, so the prompts vary in length. Everything here (brands, products, figures) is invented.

The output is deterministic: ``python data/make_product_descriptions.py`` rewrites the identical
file byte-for-byte. Standard library only.

Licence: CC0-1.0 (public domain dedication), like the generated data.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

SEED = 20261206
ROWS = 400
OUT_PATH = Path(__file__).resolve().parent / "product_descriptions.csv"

BRANDS = ["Voltcart", "Lumio", "Northwind", "Kestrel", "Odra", "Pixelon", "Tamber", "Quill"]
PRODUCTS = {
    "pair of wireless earbuds": {"battery": ["6 hours", "8 hours", "10 hours"], "feature":
                         ["noise cancelling", "a wireless charging case", "touch controls"]},
    "smart watch": {"battery": ["2 days", "5 days", "a week"], "feature":
                    ["a heart-rate sensor", "built-in GPS", "an always-on display"]},
    "laptop": {"battery": ["9 hours", "12 hours", "15 hours"], "feature":
               ["a backlit keyboard", "a 2K screen", "a fingerprint reader"]},
    "portable speaker": {"battery": ["12 hours", "20 hours", "24 hours"], "feature":
                         ["a waterproof body", "a built-in microphone", "stereo pairing"]},
    "e-reader": {"battery": ["4 weeks", "6 weeks", "8 weeks"], "feature":
                 ["a warm front light", "a glare-free screen", "page-turn buttons"]},
    "tablet": {"battery": ["10 hours", "11 hours", "13 hours"], "feature":
               ["a stylus", "a detachable keyboard", "quad speakers"]},
    "power bank": {"battery": ["10,000 mAh", "20,000 mAh", "26,800 mAh"], "feature":
                   ["fast charging", "two USB-C ports", "a digital charge display"]},
}
COLOURS = ["black", "white", "silver", "navy blue", "sage green", "coral red"]
PRICES = ["£29", "£49", "£79", "£99", "£149", "£249", "£399", "£699"]
AUDIENCES = ["students", "commuters", "travellers", "gamers", "runners", "families"]

OPENINGS = [
    "The {brand} {model} is a {colour} {product} with {feature}.",
    "Meet the {brand} {model}: a {colour} {product} with {feature}.",
    "With {feature}, the {colour} {brand} {model} is a {product} that keeps up with you.",
    "Looking for a {product}? The {brand} {model} comes in {colour} and has {feature}.",
]
BATTERY = [
    " Its battery lasts {battery}",
    " It runs for {battery} on one charge",
    " One charge gives you {battery}",
]
PRICE = [", and it costs {price}.", " for just {price}.", ", all for {price}."]
AUDIENCE = [" A good pick for {audience}.", " Made with {audience} in mind.",
            " {Audience} will love it."]


def one_row(rng: random.Random) -> dict[str, str]:
    """One product's attributes and its description."""
    product = rng.choice(sorted(PRODUCTS))
    slots = {"brand": rng.choice(BRANDS), "model": f"{rng.choice('AEKMRSTVX')}{rng.randint(2, 99)}",
             "product": product, "colour": rng.choice(COLOURS),
             "feature": rng.choice(PRODUCTS[product]["feature"]),
             "battery": rng.choice(PRODUCTS[product]["battery"]), "price": rng.choice(PRICES)}
    with_audience = rng.random() < 0.5
    if with_audience:
        slots["audience"] = rng.choice(AUDIENCES)
    prompt = ", ".join(f"{key}[{slots[key]}]" for key in
                       ("brand", "model", "product", "colour", "feature", "battery", "price",
                        "audience") if key in slots)
    text = rng.choice(OPENINGS) + rng.choice(BATTERY) + rng.choice(PRICE)
    if with_audience:
        text += rng.choice(AUDIENCE)
    response = text.format(**slots, Audience=slots.get("audience", "").capitalize())
    return {"prompt": prompt, "response": response[0].upper() + response[1:]}


def main() -> None:
    """Write the file."""
    rng = random.Random(SEED)
    rows, seen = [], set()
    while len(rows) < ROWS:
        row = one_row(rng)
        if row["prompt"] not in seen:  # every prompt once: no test prompt is a training prompt
            seen.add(row["prompt"])
            rows.append(row)
    with OUT_PATH.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["prompt", "response"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {OUT_PATH}")


if __name__ == "__main__":
    main()
