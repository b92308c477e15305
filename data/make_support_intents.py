"""Generate the hackkit sample dataset ``support_intents.csv``.

The data simulates the customer-support inbox of "Voltcart", a fictional
online electronics shop. Every message is routed to one of eight intents.
Everything here (products, names, addresses, order ids) is invented.

Each message starts from a *core* drawn from one of these families:

* plain     - common phrasings of the request ("where is my parcel?");
* oblique   - rarer paraphrases, often borrowing other intents' words;
* rare      - long-tail paraphrases, each used at most once in the file;
* framed    - a situation several intents share (late parcel, faulty device,
              double charge, ...) followed by a request that decides the label;
* contrastive - a clause that rules another intent out, then the request
              ("I don't want to cancel. Please change the address.");
* ambiguous - two requests in one message, labelled by the primary ask.

The core's ``{slots}`` are filled from synonym pools (one product per message,
so the sentences agree), optional greeting / context / detail / sign-off
sentences are wrapped around it, casing and punctuation vary, and about 15 %
of messages get typing noise. A template budget caps how often any hand-written
template is reused, so a classifier cannot simply memorise phrasings.

The output is deterministic: ``python data/make_support_intents.py`` rewrites
the identical file byte-for-byte. Standard library only.

Licence: CC0-1.0 (public domain dedication), like the generated data.
"""

from __future__ import annotations

import csv
import random
import re
from pathlib import Path
from typing import Callable, Union

SEED = 20240517
OUT_PATH = Path(__file__).resolve().parent / "support_intents.csv"

# Rows per intent: balanced-ish on purpose, not perfectly equal.
TARGETS: dict[str, int] = {
    "order_status": 280,
    "refund_request": 235,
    "cancel_order": 200,
    "change_order": 195,
    "billing_issue": 225,
    "account_access": 240,
    "technical_support": 270,
    "product_question": 215,
}

# Message families (see the module docstring). "rare" is tried first while its
# pool lasts; ambiguous / contrastive / framed split the rest, and whatever is
# left becomes oblique or plain.
P_RARE = 0.14
P_AMBIGUOUS = 0.09
P_CONTRASTIVE = 0.15
P_FRAMED = 0.45
P_OBLIQUE = 0.4  # oblique (vs. plain) among what is left
P_TWO_SITUATIONS = 0.4  # framed messages that describe the situation in two sentences
P_OWN_CONTEXT = 0.1  # wrapper sentences written for the intent (vs. neutral ones)
P_TYPOS = 0.15  # messages that get keyboard slips and chat abbreviations
CAP = 1  # how often one hand-written template may be used
CAP_REQUEST = 3  # how often one request phrase may be used in framed messages
P_SHORT = 0.1  # bare fragments such as "refund pls" (each used at most twice)
# How much is wrapped around the core: nothing much, a little, or a whole email.
STYLE_WEIGHTS = {"oneliner": 66, "medium": 25, "long": 9}

# A pool is a list of alternatives or a function drawing a value from the
# random generator and the per-message context of already bound slots.
Ctx = dict[str, str]
Pool = Union[list[str], Callable[[random.Random, Ctx], str]]

# ---------------------------------------------------------------------------
# Invented entities
# ---------------------------------------------------------------------------

PRODUCTS: list[tuple[str, str, str, bool]] = [
    # (full name, how people shorten it, category, grammatically plural)
    ("Voltcart Aero earbuds", "earbuds", "audio", True),
    ("Aero Pro headphones", "headphones", "audio", True),
    ("Orbit Bluetooth speaker", "speaker", "audio", False),
    ("Pulse 2 smartwatch", "watch", "wearable", False),
    ("Pulse Lite fitness band", "band", "wearable", False),
    ("Nimbus router", "router", "network", False),
    ("Nimbus Mesh 3-pack", "mesh system", "network", False),
    ("Lumen 4K webcam", "webcam", "camera", False),
    ("Drift X action camera", "camera", "camera", False),
    ("Tessel mechanical keyboard", "keyboard", "keyboard", False),
    ("Kestrel wireless mouse", "mouse", "mouse", False),
    ("Vista 27 monitor", "monitor", "display", False),
    ("Strata 65W charger", "charger", "power", False),
    ("Cinder 20K power bank", "power bank", "power", False),
    ("Quill e-reader", "e-reader", "reader", False),
]

FIRST_NAMES = [
    "Priya", "Tom", "Jonas", "Aiko", "Mehmet", "Lucia", "Sam", "Olu", "Grace",
    "Dmitri", "Fatima", "Ben", "Chloe", "Ravi", "Marta", "Kenji", "Ade", "Noor",
    "Pat", "Elena", "Hugo", "Zanele", "Liam", "Sofia", "Tariq", "Ines", "Wei",
    "Maja", "Carlos", "Hannah", "Emeka", "Yuki", "Rosa", "Finn", "Amara", "Jo",
]


def draw_oid(rng: random.Random, ctx: Ctx) -> str:
    """Return an order id written the way customers actually type it."""
    n = rng.randint(10000, 99999)
    return rng.choice([f"#VC-{n}", f"#VC-{n}", f"VC-{n}", f"VC{n}", f"#{n}", f"vc-{n}", f"VC {n}"])


AMOUNT_FORMATS = ["${v}", "${v}", "€{v}", "€{v}", "£{v}", "{v} EUR", "CAD {v}", "AUD {v}",
                  "{v} dollars", "{v} euros", "{v} CHF"]


PRICES = [19, 24, 29, 34, 39, 49, 59, 79, 89, 99, 129, 149, 189, 249, 329]


def draw_amount(rng: random.Random, ctx: Ctx) -> str:
    """Return a price; all amounts in one message share the same currency format."""
    fmt = ctx.setdefault("currency_format", rng.choice(AMOUNT_FORMATS))
    return fmt.format(v=f"{rng.choice(PRICES)}{rng.choice(['', '.99', '.00', '.50', '.95'])}")


def draw_amount2(rng: random.Random, ctx: Ctx) -> str:
    """Return a second, smaller amount (the expected price next to what was charged)."""
    if "amount" not in ctx:  # bind the larger amount first, whatever the word order
        ctx["amount"] = draw_amount(rng, ctx)
    fmt = ctx["currency_format"]
    first = float(re.search(r"\d+(?:\.\d+)?", ctx["amount"]).group())
    lower = [p for p in PRICES if p < first] or [9]
    return fmt.format(v=f"{rng.choice(lower)}{rng.choice(['', '.99', '.00'])}")


def draw_product2(rng: random.Random, ctx: Ctx) -> str:
    """Return a second product name, of the same category where there is one."""
    others = [p for p in PRODUCTS if p[0] != ctx["product"]]
    similar = [p for p in others if p[2] == ctx["cat"]]
    return rng.choice(similar or others)[0]


SHARED: dict[str, Pool] = {
    "oid": draw_oid,
    "amount": draw_amount,
    "amount2": draw_amount2,
    "product2": draw_product2,
    "name": FIRST_NAMES,
    "courier": ["DHL", "UPS", "FedEx", "DPD", "Royal Mail", "PostNL", "the courier",
                "the delivery company", "Hermes", "La Poste"],
    "country": ["Ireland", "Canada", "Norway", "Switzerland", "Portugal", "Australia",
                "the Netherlands", "Poland", "Japan", "South Africa"],
    "platform": ["iPhone", "Android", "a Mac", "Windows 11", "my iPad", "a Pixel 8",
                 "Linux", "a Chromebook", "my Samsung phone", "an old iPhone 8"],
    "parcel": ["order", "package", "parcel", "delivery", "shipment", "stuff", "box",
               "purchase", "order"],
    "date": ["March 3", "the 14th", "12 May", "Monday", "Friday", "the 2nd", "June 21",
             "3/14", "the weekend", "Sept 9"],
    "when": ["last week", "two weeks ago", "on {date}", "yesterday", "a few days ago",
             "last Tuesday", "over a month ago", "10 days ago", "on Black Friday",
             "at the start of the month"],
    "when_recent": ["this morning", "an hour ago", "last night", "ten minutes ago",
                    "yesterday", "earlier today", "just now", "a couple of hours ago"],
    "wait": ["two weeks", "nine days", "over a week", "almost a month", "5 business days",
             "three weeks", "ages"],
    "days": ["two", "three", "five", "ten", "a few", "20"],
    "weeks": ["two", "three", "six", "ten", "eight"],
    "colour": ["black", "white", "midnight blue", "sage green", "silver", "graphite", "sand", "red"],
    "accessory": ["case", "charging cable", "screen protector", "spare strap", "wall adapter",
                  "carry pouch", "USB-C cable", "travel charger"],
    "street": ["14 Elm Road", "221 Park Ave, Apt 3", "Flat 2, 8 Mill Lane", "Kastanienallee 12",
               "5 Rue Verte", "88 Harbour St", "Unit 7, 40 King Street", "Calle Mayor 3"],
    "greeting": ["Hi,", "Hello,", "Hi team,", "Hello Voltcart,", "Hey there,", "Good morning,",
                 "Dear Voltcart support,", "hi", "Hi all,", "To whom it may concern,", "Hey,",
                 "Good afternoon,", "Dear Sir or Madam,", "Hiya,", "Hello there!", "Hi support,",
                 "Greetings,", "Evening,"],
    "closing": ["Thanks!", "Thanks in advance.", "Appreciate any help.", "Please advise.",
                "Looking forward to hearing from you.", "Cheers.", "Any help would be great.",
                "Please sort this out asap.", "Thank you for your help.", "Let me know.",
                "Hope you can help.", "Thanks a lot.", "Waiting for your reply.", "ty!",
                "Many thanks.", "Please get back to me soon.", "thx!"],
    "signoff": ["Thanks, {name}", "Cheers, {name}", "Best, {name}", "Regards, {name}",
                "Kind regards, {name}", "Thank you, {name}", "- {name}", "Many thanks, {name}",
                "Best wishes, {name}", "{name}"],
    "signoff_after": ["Best, {name}", "Regards, {name}", "Kind regards, {name}", "- {name}",
                      "Best wishes, {name}", "{name}"],
    "mood": ["This is really frustrating.", "Not impressed so far.", "I've already emailed twice.",
             "Honestly this is ridiculous!!", "Please deal with this today.", "Third time asking...",
             "Sorry to bother you.", "Hope you're having a good day.",
             "No rush, but I'd appreciate a reply.", "I usually love shopping with you.",
             "Your chat bot was no help at all.", "I'm a bit stressed about this.",
             "I've been a customer for years.", "Sorry if this is the wrong place to ask."],
    "shout": ["STILL NOTHING.", "NOT HAPPY.", "PLEASE HELP.", "URGENT.", "SECOND TIME ASKING.",
              "ASAP!!", "NOBODY IS ANSWERING.", "HELLO??"],
    # Context sentences that fit any intent (pre-sales included) ...
    "neutral_context": ["I'm writing about the {product}.", "I couldn't find an answer in the FAQ.",
                        "Your chat bot sent me here.", "I tried calling but the line was busy.",
                        "I'm writing on behalf of my dad.", "Quick one.",
                        "Sorry, this is my first time writing in.",
                        "I'm writing from my phone, so excuse any typos.", "I hope this is the right address.",
                        "A friend recommended your shop.", "I'm writing for my mum, she's not online much."],
    # ... and ones that assume an existing order (not used for product_question).
    "order_context": ["I ordered the {product} {when}.", "My order number is {oid}.",
                      "I paid {amount} for it.", "This is about order {oid}.",
                      "I ordered through the app.", "I bought the {product} on your website {when}.",
                      "It's order {oid}, the {product}.", "The order was a birthday present for my son.",
                      "I'm a regular customer, this is my third order this year.", "Reference: {oid}."],
    "neutral_detail": ["You can reach me on this email.", "Please reply by email rather than phone.",
                       "I'm away from {date}, so sooner is better.", "My English is not perfect, sorry.",
                       "I'm at work until six, so email is best.", "Thanks for your patience.",
                       "I can send screenshots if that helps.", "I've been a customer for years.",
                       "I'm off on holiday soon, so a quick answer would be great.",
                       "Happy to take a call if that's easier.", "Sorry for the long message."],
}

# ---------------------------------------------------------------------------
# Product-dependent vocab: faults and pre-sales questions fit the category
# ---------------------------------------------------------------------------

COMMON_PROBLEMS = [
    "won't turn on", "keeps restarting", "got stuck during the firmware update",
    "stopped working after {days} days", "is completely dead", "freezes randomly",
    "won't reset no matter what I try",
]
CAT_PROBLEMS: dict[str, list[str]] = {
    "audio": ["won't pair with my phone", "only plays on one side", "crackles at high volume",
              "keeps disconnecting", "has no sound", "won't charge",
              "makes my voice sound robotic on calls", "drops Bluetooth every few minutes"],
    "wearable": ["won't sync with the app", "has a black screen", "shows the wrong step count",
                 "drains the battery in a few hours", "won't charge on the dock",
                 "stopped showing notifications", "loses the GPS signal constantly"],
    "network": ["keeps dropping the connection", "won't talk to my fibre modem",
                "lost the 5GHz network", "is stuck on an orange light", "gives terrible speeds",
                "won't load the admin page", "can't find the other nodes"],
    "camera": ["shows a blurry image", "isn't detected by my laptop", "flickers constantly",
               "keeps hunting for focus", "overheats when recording", "keeps losing its settings"],
    "keyboard": ["has keys that don't register", "types double letters",
                 "has the lighting stuck on red", "disconnects from the dongle",
                 "isn't recognised over USB"],
    "mouse": ["double-clicks on its own", "has a jumpy cursor", "won't connect to the receiver",
              "has a scroll wheel that skips", "lags in games"],
    "display": ["has a dead pixel", "shows no signal over HDMI", "flickers at 144Hz",
                "has bad backlight bleed", "won't wake from sleep"],
    "power": ["gets really hot", "won't fast charge my laptop", "stops charging after a minute",
              "makes a whining noise", "shows the wrong battery level"],
    "reader": ["is frozen on one page", "won't connect to wifi", "has ghosting on the screen",
               "won't sync my books", "ignores the page buttons"],
}

GENERAL_PQ = [
    "{is} the {product} in stock?", "when will the {product} be back in stock?",
    "how long is the warranty on the {product}?", "does the warranty cover accidental damage?",
    "{does} the {product} work with {platform}?", "do you ship the {product} to {country}?",
    "what's the difference between the {product} and the {product2}?",
    "what's in the box with the {product}?", "{is} the {product} new or refurbished?",
    "is there a student discount on the {product}?", "can I order the {product} in {colour}?",
    "{does} the {product} come with an EU plug?", "{is} the {product} the latest model?",
    "if I buy the {product} and I'm not happy, can I send it back?",
    "will the {product} go on sale soon?", "{is} the {product} covered by the 2 year guarantee?",
    "{is} the {short} compatible with {platform}?", "will you get more of the {product} in this month?",
    "how long does delivery to {country} usually take?", "can I pay for the {product} with Klarna or PayPal?",
    "do your prices include VAT?", "what's your return policy if the {product} {does}n't suit me?",
    "if I order the {product} today, when would it ship?",
    "can I pick up the {product} instead of having {it_obj} delivered?",
    "do you issue a proper invoice for business purchases?",
]
CAT_PQ: dict[str, list[str]] = {
    "audio": ["{does} the {short} have noise cancelling?",
              "can the {product} connect to two devices at once?",
              "what codecs {does} the {product} support?", "{is} the {short} sweat resistant?"],
    "wearable": ["{does} the {product} track sleep?", "can I swim with the {product}?",
                 "{does} the {product} need a phone to work?", "{does} the {short} have GPS built in?"],
    "network": ["how big a flat can the {product} cover?", "{does} the {product} support wifi 6?",
                "will the {product} work with my ISP's fibre box?",
                "{does} the {short} have parental controls?"],
    "camera": ["{does} the {product} record in 4K at 60fps?", "{does} the {product} have a built-in mic?",
               "{does} the {short} work with Zoom and Teams?"],
    "keyboard": ["{is} the {product} available with a German layout?",
                 "are the switches on the {short} hot-swappable?"],
    "mouse": ["{is} the {product} OK for left-handed people?", "how heavy {is} the {product}?"],
    "display": ["{does} the {product} have USB-C with power delivery?",
                "can the {product} be wall mounted?"],
    "power": ["can the {product} charge a MacBook Pro?", "{is} the {product} allowed in hand luggage?"],
    "reader": ["{does} the {product} have a backlight?", "can I read EPUB files on the {product}?"],
}

PLURAL_VERBS = {"is": "are", "has": "have", "isn't": "aren't", "doesn't": "don't", "was": "were"}


def agree(phrase: str, plural: bool) -> str:
    """Make a singular verb phrase ('keeps dropping') agree with a plural subject."""
    if not plural:
        return phrase
    words = phrase.split(" ")
    for i, word in enumerate(words[:2]):
        if word in PLURAL_VERBS:
            words[i] = PLURAL_VERBS[word]
            break
        if word.endswith("s") and word != "always":
            words[i] = word[:-1]
            break
    return " ".join(words)


def draw_problem(rng: random.Random, ctx: Ctx) -> str:
    """Return a fault that fits the product and agrees with it grammatically."""
    phrase = rng.choice(COMMON_PROBLEMS + CAT_PROBLEMS[ctx["cat"]])
    return agree(phrase, ctx["it"] == "they")


def draw_flaw(rng: random.Random, ctx: Ctx) -> str:
    """Return an ongoing, product-specific fault (as reported in reviews)."""
    return agree(rng.choice(CAT_PROBLEMS[ctx["cat"]]), ctx["it"] == "they")


def draw_pq(rng: random.Random, ctx: Ctx) -> str:
    """Return a pre-sales question that fits the product in the message."""
    return rng.choice(GENERAL_PQ + CAT_PQ[ctx["cat"]] * 2)


SHARED.update({"problem": draw_problem, "flaw": draw_flaw, "pq": draw_pq})

# ---------------------------------------------------------------------------
# Intents. Keys: slot pools, "short" messages, common "ask" phrasings, rarer
# "oblique" paraphrases, and "situation" / "context" / "detail" sentences
# written for the intent.
# ---------------------------------------------------------------------------

INTENTS: dict[str, dict[str, list[str]]] = {
    "order_status": {
        "arrive": ["arrive", "show up", "turn up", "get here", "be delivered", "land", "reach me"],
        "arrived": ["arrived", "shown up", "turned up", "been delivered", "come", "reached me"],
        "track": ["tracking number", "tracking link", "tracking info", "tracking code",
                  "shipment number", "consignment number", "tracking details", "parcel ID"],
        "status": ["status", "whereabouts", "delivery status", "current location", "ETA",
                   "delivery date", "expected arrival", "progress"],
        "since": ["{date}", "last week", "Monday", "the weekend", "yesterday", "Tuesday"],
        "hub": ["customs", "a depot in Leipzig", "the sorting centre", "'in transit'", "a warehouse",
                "the local hub", "'awaiting collection'", "'exception'"],
        "short": ["where's my order??", "wheres my package", "tracking pls", "order {oid} status?",
                  "any update on {oid}?", "still no parcel", "is it shipped yet?", "delivery date?",
                  "parcel not here", "where is it??", "ETA on my order?", "has {oid} shipped",
                  "package late again", "when does it arrive", "status of {oid} pls",
                  "tracking not updating", "has my stuff been sent out?", "still waiting on {oid}...",
                  "not delivered yet", "lost parcel?", "where's the {short}?", "my box never came",
                  "{is} my {short} on the way?", "shipping update please", "no sign of {oid}",
                  "courier never came"],
        "ask": [
            "where is my {parcel}?", "can you tell me where my {parcel} is?",
            "when will my {parcel} {arrive}?", "any idea when order {oid} will {arrive}?",
            "could you check the {status} of order {oid}?",
            "I'd like an update on the {status} of my {parcel}.",
            "can you send me the {track} for {oid}?",
            "my {track} hasn't updated since {since}, is it lost?",
            "it's been {wait} and my {parcel} still hasn't {arrived}.",
            "the tracking says delivered but there's nothing here.",
            "{courier} shows it stuck in {hub} for days. What's going on?",
            "is my {parcel} actually on its way?", "has order {oid} been shipped yet?",
            "{has} the {product} been dispatched?",
            "the estimated delivery was {date} and it's still not here.",
            "could you find out what happened to my {parcel}?",
            "is there a delay with deliveries at the moment? My {parcel} is late.",
            "I need to know when the {product} will {arrive}, it's a birthday present.",
            "can you chase {courier} about my {parcel}?",
            "the tracking page just says 'label created'. Has it left the warehouse?",
            "I think my {parcel} got lost in the post.",
            "can you confirm the {short} {is} out for delivery today?",
            "I was told it'd {arrive} within 3 days, it's been {wait}.",
            "still waiting on {oid}. Where is it?",
            "the tracking link you emailed me shows an error on {courier}'s website.",
            "your website says shipped but {courier} has no record of it.",
            "half my {parcel} came, where's the rest?",
        ],
        "oblique": [
            "I've paid and I've been charged, so where's the actual product?",
            "before I think about cancelling or asking for my money back, can you tell me if {oid} has even left?",
            "my account shows the order as complete, but nothing has come through my door.",
            "the money left my card {when} and I still haven't seen a box.",
            "should I still be waiting in for the driver, or has something gone wrong?",
            "my address is right on the order, so why hasn't the {short} reached me yet?",
            "the invoice arrived by email {when}, the {short} didn't.",
            "I'm not sure whether to cancel yet, it depends on when {oid} turns up.",
            "the {short} {is} a replacement for a broken one, so I really need to know when it's coming.",
            "my login works and everything looks fine, I just can't see any tracking.",
            "it's been {wait} and my doorstep is still empty.",
            "still nothing in my letterbox for {oid}.",
            "is {oid} actually moving? The page hasn't changed since {since}.",
            "my {short} seem{s} to have vanished somewhere between your warehouse and my flat.",
            "did the {short} ever leave your warehouse?",
            "it was promised for {date}, that's long gone and there's no sign of it.",
            "the app has said 'out for delivery' four days running.",
            "nobody rang the bell and there's no note, but it's marked as handed over.",
            "any news on when I'll finally have the {product} in my hands?",
            "I waited in all day for a driver who never came. When will they try again?",
            "can you check with the depot? My order has been 'processing' forever.",
            "do you know if {oid} went out yet? I'm going on holiday soon.",
            "curious if there's an ETA for {oid}.", "how far along is my {short}? Still says preparing.",
            "is it normal for shipping to take {wait}?",
            "the courier claims nobody was home but I was in the whole time. What now?",
            "my neighbour hasn't got it either. Any clue what happened to it?",
            "was my {short} sent to the wrong house? It shows handed over at a different postcode.",
            "could you give me a rough idea of when {oid} might turn up?",
            "I'm counting the days for the {short}, any movement?",
            "have I been forgotten? Ordered {when} and heard nothing since the confirmation.",
            "any chance you could nudge {courier} for me? It seems stuck.",
            "my gift has to be here by {date}, is it going to make it?",
            "need a delivery estimate for {oid}, please.", "has {oid} left the building yet?",
            "just following up on the purchase I made {when}, nothing received so far.",
            "no sign of the van yet, is it still coming today?",
            "{is} the {short} held up at the border?",
            "what's the hold-up with {oid}?",
            "I'm still empty-handed {wait} after paying.",
        ],
        "situation": ["I paid {amount} extra for express delivery.", "I changed the delivery address {when}.",
                      "It's the replacement for a faulty {short}.",
                      "I cancelled one item but the rest should be on its way.",
                      "My account page says the order is complete.", "The money left my account {when}.",
                      "I was told my exchange had been sent out."],
        "context": ["I placed order {oid} {when}.", "I paid for express shipping.",
                    "I chose standard delivery at checkout.",
                    "The confirmation email said 2-4 business days."],
        "detail": ["The tracking hasn't moved in a week.", "Nobody has left a card or a note.",
                   "I've checked with my neighbours as well.", "I need it before I travel on {date}.",
                   "{courier} says they don't have it yet.", "The order page still says processing.",
                   "I've been home all week waiting for it."],
    },
    "refund_request": {
        "refund_you": ["refund me", "give me my money back", "reimburse me", "credit my card",
                       "return the funds", "send the money back", "put the money back on my card",
                       "pay me back", "issue a full refund", "process my refund",
                       "refund the full amount", "credit the amount back to my account",
                       "return my payment", "refund the {amount}", "send back the {amount}",
                       "reverse the purchase", "transfer the money back", "repay me",
                       "get the money back to my PayPal", "refund it to my original card"],
        "refund_noun": ["a refund", "my money back", "a reimbursement", "my cash back",
                        "a full refund", "a partial refund", "the funds returned",
                        "my payment returned", "the amount credited back", "my {amount} back",
                        "the money back on my card", "a repayment", "compensation for it",
                        "my money returned"],
        "why": ["I sent the {product} back {when}", "the {product} arrived damaged",
                "my order was never delivered", "you cancelled the order on your side",
                "I returned it within the 30 days", "the item was not as described",
                "it came in the wrong colour", "you shipped the wrong model",
                "the package was returned to you as undeliverable", "half the order was missing",
                "the {short} arrived scratched and clearly used", "the box was opened and used",
                "the return was accepted {when}"],
        "short": ["refund pls", "I want my money back", "money back please", "need a refund",
                  "refund for {oid}?", "where is my refund", "refund still not received",
                  "pls reimburse me", "return + refund please", "how do i get a refund",
                  "want a refund asap", "refund status?", "still no money back",
                  "refund me!!!", "I'd like my money back for the {short}", "refund {amount} pls",
                  "give me my cash back", "when do I get reimbursed?", "credit my card please"],
        "ask": [
            "can you {refund_you}? {why}.", "{why}, so I'd like {refund_noun}.",
            "please {refund_you} for order {oid}.", "when will I get {refund_noun} for {oid}?",
            "I returned the {product} {when} and still haven't been refunded.",
            "how do I get {refund_noun}? {why}.", "I want {refund_noun} for the {product}.",
            "{why}. I'd like you to {refund_you}.",
            "could you {refund_you}? The {short} went back {when}.",
            "I need {refund_noun}, not a replacement.",
            "requesting {refund_noun} for order {oid} ({amount}).",
            "you still owe me {amount} for the return.",
            "your returns portal says approved but I haven't seen {refund_noun} yet.",
            "is it possible to get {refund_noun} instead of a voucher?",
            "please process the refund for {oid}, the item is back in your warehouse.",
            "{why}. How long until I get {refund_noun}?",
            "I'd like to be reimbursed for the {product}, {why}.",
            "can I have {refund_noun} please? {why}.",
            "I'm owed {refund_noun} for {oid}, {why}.",
        ],
        "oblique": [
            "I'd like the {amount} to appear on my card again, the {short} {is} back with you.",
            "the charge for the {short} I returned should be reversed by now.",
            "the order got cancelled on your end, so where's the money?",
            "the {short} never worked, it's in the post back to you, and I'd like my payment back.",
            "since the parcel was lost, I'd rather have the cash than a resend.",
            "don't bother fixing the {short}, I've sent {it_obj} back, just pay me.",
            "the return is in your warehouse, so the charge on my statement should be cancelled out.",
            "please make the {amount} come back to my account, I don't want a replacement.",
            "instead of a new {short}, I'd rather be paid back.",
            "I'd like what I paid for the {short} put back on my card.",
            "the {short} went back to you {when}, so I'm expecting the money to be returned.",
            "please make me whole for the {product} I sent back.",
            "since it never showed up, I'd like the {amount} returned to me.",
            "I'm owed {amount} from the return, when is that being paid out?",
            "could the purchase price go back to my PayPal?",
            "I'd prefer cash rather than store credit for the return.",
            "my bank hasn't seen a penny of the {amount} from the return yet.",
            "you confirmed receipt of my return but I'm still out of pocket.",
            "I'd like to be compensated for the {short}, {it} came smashed.",
            "can I get reimbursed for the missing {accessory}?",
            "I just want the {amount} I spent to come back to me, the {short} {is} already in your warehouse.",
            "please pay back the purchase, the item was nothing like the photos.",
            "I'd like the transaction for {oid} reversed, the return is done.",
            "credit the return to my Mastercard please.",
            "the return was approved {when}. When does the money come through?",
            "I don't want an exchange or a voucher, just my {amount}.",
            "send the funds back to the card I paid with, the {short} {was} defective.",
            "returned it, now where's my cash?", "can you release the money for the returned {short}?",
            "I'm asking for the {amount} back, I never got the {short}.",
            "it's been {wait} since you got my return and still no money.",
            "please settle the return for {oid}.",
            "the courier lost my order, so I'd like to be paid back.",
            "what do I need to do to get reimbursed? The {short} arrived broken.",
            "I'd like my {amount} back, the {short} {is} going back in the box.",
            "the item is back with you, so please return what I paid.",
        ],
        "situation": ["I've been waiting for this money for {wait}.",
                      "This is the second time I'm asking about this.", "The amount was {amount}.",
                      "I paid with my Visa.", "I'd prefer the money on my card, not a voucher.",
                      "I'm not interested in a replacement."],
        "context": ["I paid {amount} for order {oid}.", "It's about order {oid}.", "I paid by card."],
        "detail": ["I don't want a replacement.", "I'd prefer the money on the original card.",
                   "It has been more than 14 days.", "I have the receipt if needed.",
                   "A voucher is no use to me."],
    },
    "cancel_order": {
        "cancel_v": ["cancel", "cancel", "stop", "scrap", "void", "withdraw", "halt", "abort",
                     "kill", "drop", "delete", "terminate", "revoke"],
        "cancel_obj": ["my order", "order {oid}", "the order", "my purchase", "the {short} order",
                       "this order", "my last order", "the whole order", "{oid}"],
        "cancelled": ["cancelled", "canceled", "voided", "scrapped", "stopped", "withdrawn",
                      "called off", "pulled"],
        "cancel_why": ["I ordered the wrong model", "I found it cheaper elsewhere",
                       "I changed my mind", "I ordered twice by mistake", "I no longer need it",
                       "the delivery date is too late for me", "my partner already bought one",
                       "I clicked buy by accident", "the budget got cut at work",
                       "it was an impulse buy", "I got one as a gift", "I'm moving abroad"],
        "short": ["cancel order pls", "cancel {oid}", "pls cancel my order", "how do i cancel",
                  "cancel it please!!", "i want to cancel", "stop my order", "cancel order - wrong item",
                  "scrap my last order", "don't ship it, cancel", "cancellation please",
                  "need to cancel asap", "cancel the {short} order", "call off {oid} please",
                  "undo my order?", "I don't want it anymore, cancel", "can I still cancel?"],
        "ask": [
            "please {cancel_v} {cancel_obj}.", "can you {cancel_v} {cancel_obj} before it ships?",
            "I need to {cancel_v} {cancel_obj}, {cancel_why}.", "is it too late to {cancel_v} {cancel_obj}?",
            "{cancel_why}, so please {cancel_v} {cancel_obj}.",
            "how do I cancel an order that hasn't shipped yet?",
            "I'd like to request a cancellation for {oid}.",
            "please don't ship {oid}, I don't want it anymore.",
            "can the {short} order still be stopped? It says processing.",
            "I placed the order {when_recent} and want to {cancel_v} it.",
            "please cancel before dispatch, {cancel_why}.",
            "can you stop the shipment of {oid}? {cancel_why}.",
            "could you cancel the order I just placed? {cancel_why}.",
            "cancel {oid} please, it hasn't been dispatched yet.",
            "I'd like my order {oid} {cancelled}.",
            "please get order {oid} {cancelled} before it leaves the warehouse.",
            "there's no cancel button on my order page, can you do it for me?",
            "{cancel_why}. Can the order for the {product} be {cancelled}?",
        ],
        "oblique": [
            "I don't want to be charged for something I no longer want. It hasn't shipped, so please stop it.",
            "I'd rather not have to send it back later, so please don't let {oid} leave the warehouse.",
            "rather than changing the order, I'd like it gone altogether.",
            "I don't need tracking for {oid} because I don't want it anymore.",
            "the payment has only just gone through, so please just don't go ahead with it.",
            "the delivery address doesn't matter anymore, I don't want the {short} at all.",
            "I'd like to not receive {oid}, and obviously not pay for it.",
            "can you make sure I never get charged for {oid}? I've decided against it before it ships.",
            "if {oid} is still in the warehouse, please keep it there for good.",
            "I'd rather the {short} never left your warehouse, I've changed my mind.",
            "please don't dispatch {oid}, I no longer want it.", "can you pull {oid} before it goes out?",
            "I ordered by mistake {when_recent}, please undo it.",
            "I'd like to back out of the purchase I made {when_recent}.",
            "hold off on shipping. Actually, I don't want it at all.",
            "please stop {oid} from going any further.",
            "forget the order I just placed for the {product}.",
            "is it still possible to not go ahead with {oid}?",
            "I'd like to take back my order, nothing has shipped yet.",
            "I want out of this order before it ships.",
            "can you nix my purchase of the {product}? {cancel_why}.",
            "I'm withdrawing my order {oid}, {cancel_why}.",
            "please don't send me the {short}, I bought the wrong thing {when_recent}.",
            "I just placed a duplicate order by accident, please get rid of one of them.",
            "don't bother packing {oid}, I won't need it.",
            "please make {oid} go away, {cancel_why}.",
            "I'd like {oid} not to be fulfilled.",
            "I'll pass on the {product} after all, please stop the order.",
            "I only ordered {when_recent}, can I still call it off?",
            "please don't process my purchase, {cancel_why}.",
            "I regret buying the {short}. Can it be stopped before you post it?",
            "undo {oid} please, {cancel_why}.",
            "I no longer want {oid} to go ahead.",
            "I'd like to back out before you ship anything.",
        ],
        "situation": ["The tracking still says 'label created' after a week.",
                      "I was charged twice because I ordered twice.", "I found the {product} cheaper elsewhere.",
                      "I can't change the colour online.", "The delivery date moved to next month.",
                      "I can't find a cancel button after logging in.",
                      "I read that the {product} {does}n't work with {platform}.",
                      "The payment took ages to go through."],
        "context": ["I placed order {oid} {when_recent}.", "I just ordered the {product}.",
                    "The order page still says processing.",
                    "It hasn't shipped yet as far as I can tell.", "{cancel_why}."],
        "detail": ["I haven't received a shipping confirmation.",
                   "If it's already shipped let me know what to do.",
                   "Please confirm once it's done.", "I paid with PayPal if that matters.",
                   "I'd rather not have to deal with a return."],
    },
    "change_order": {
        "change_what": ["change the delivery address", "update the shipping address",
                        "send it to my work address instead", "ship it to a different address",
                        "correct the postcode on the order", "fix a typo in my street name",
                        "deliver it to my parents' place instead", "redirect it to my office",
                        "swap the colour to {colour}", "switch it to the {colour} version",
                        "change the band size to large", "change the quantity to {qty}",
                        "add a second one to the order", "add a {accessory} to my order",
                        "remove one item from the order", "swap the {short} for the {product2}",
                        "upgrade the shipping to express", "change the name on the parcel",
                        "add my flat number to the address", "put it in gift wrap"],
        "qty": ["two", "three", "four", "2", "3"],
        "wrongfield": ["postcode", "house number", "apartment number", "zip code", "street name",
                       "colour", "size", "quantity"],
        "short": ["change address pls", "wrong address on order!!", "can i change my order?",
                  "edit order {oid}", "update delivery address", "add item to order?",
                  "change colour pls", "modify my order", "need to change qty",
                  "wrong postcode on {oid}", "swap to {colour}?", "new address for {oid}",
                  "add a {accessory} to {oid}?", "fix my shipping address", "change order to {colour}"],
        "ask": [
            "can I {change_what} on order {oid}?", "I need to {change_what}, the order is {oid}.",
            "is it possible to {change_what} before it ships?", "could you {change_what} for me?",
            "please {change_what}. Order {oid}.", "I made a mistake at checkout, can you {change_what}?",
            "I'd like to {change_what} if it hasn't been packed yet.",
            "I entered the wrong address for {oid}. It should be {street}.",
            "wrong {wrongfield} on my order, can it be fixed?",
            "can you add a {accessory} to my existing order so it ships together?",
            "can you modify {oid}? I want to {change_what}.",
            "please amend my order: {change_what}.",
            "how do I edit an order after paying? I need to {change_what}.",
            "I'd like to adjust {oid}, {change_what}.",
            "my new address is {street}, please update order {oid}.",
            "is there any way to {change_what}? It's order {oid}.",
            "I picked the wrong {wrongfield} for the {product}, can you switch it?",
        ],
        "oblique": [
            "don't cancel {oid}, but the parcel needs to go to {street} now.",
            "my account has my old address and so does {oid}. Can the order use {street}?",
            "the tracking will show the wrong address, it should say {street} before it ships.",
            "I paid for one, but I'd like two on the same order, happy to pay the extra.",
            "same order, same payment, just the {colour} one instead.",
            "the delivery should go to my office rather than home, the order hasn't left yet.",
            "I don't want a refund or a new order, just the right size on {oid}.",
            "the parcel needs my company name on it, can you edit {oid}?",
            "I'd like the {short} to go to {street} rather than my home.",
            "I typed my flat number wrong, it should be {street}.",
            "could you make it {qty} of the {product} instead of one?",
            "can you pop a {accessory} in the same box?",
            "I'd prefer the {colour} one if it's not packed yet.",
            "please send {oid} to my office, I won't be home.",
            "I just realised I picked the wrong size, can you fix that on {oid}?",
            "can the parcel be addressed to my partner instead of me?",
            "please throw in a {accessory} with {oid}, I'll pay the difference.",
            "my postcode has a typo on {oid}.", "is it too late to switch the colour on {oid}?",
            "I want the same thing, just in {colour}.",
            "could {oid} be shipped to {street}? I'm staying there this month.",
            "please drop the {accessory} from my order but keep everything else.",
            "can I bump it up to the bigger version before it ships?",
            "can you correct the recipient name on {oid}?",
            "slight mistake on my part, I meant to pick {colour}.",
            "could {oid} go express instead? Happy to pay.",
            "I'm moving on {date}, please reroute {oid} to {street}.",
            "the {short} I picked {was} the wrong variant, can you switch it before it goes?",
            "I ordered the {short} in {colour} but I'd like another colour instead.",
            "could the {product} go to {street} instead? I'm away that week.",
            "can the {short} be sent to {street} rather than my home?",
            "house number on {oid} is wrong, it should be {street}.",
        ],
        "situation": ["I don't want to cancel and reorder.", "The website wouldn't let me edit it after payment.",
                      "It hasn't shipped yet, as far as I can see.", "I only noticed the mistake after paying."],
        "context": ["I placed order {oid} {when_recent}.", "The order hasn't shipped yet.",
                    "I only spotted it after paying.", "It's order {oid}."],
        "detail": ["I'm happy to pay any difference.", "Everything else on the order is fine.",
                   "Please keep the rest of the order as it is.",
                   "Let me know if that changes the delivery date."],
    },
    "billing_issue": {
        "bill_problem": ["I was charged twice for order {oid}", "I got billed {amount} instead of {amount2}",
                         "there's a charge of {amount} I don't recognise",
                         "my card was declined even though it has funds",
                         "the payment failed but the money left my account",
                         "I was charged for shipping even though it said free delivery",
                         "the discount code wasn't applied to the total",
                         "the invoice has the wrong company name", "I need a VAT invoice for {oid}",
                         "the price at checkout was higher than on the product page",
                         "my bank shows a pending charge for a cancelled order",
                         "I was charged in euros instead of pounds", "your system charged my old card",
                         "Klarna says I owe more than my order total",
                         "the invoice shows the wrong tax amount",
                         "my PayPal was debited but the order shows unpaid",
                         "I was billed for an extended warranty I didn't add",
                         "the instalment plan took two payments this month",
                         "I was debited {amount} for nothing"],
        "short": ["charged twice??", "double charge on my card", "wrong amount charged",
                  "need invoice for {oid}", "payment declined again", "invoice pls",
                  "why was i charged {amount}", "card declined", "billing error",
                  "overcharged!!", "unknown charge from voltcart", "vat invoice?",
                  "payment not going through", "charged {amount} twice", "promo code not applied",
                  "invoice has wrong address"],
        "ask": [
            "{bill_problem}. Can you look into it?", "{bill_problem}, what's going on?",
            "{bill_problem}. Please check my payment.", "can you explain this charge? {bill_problem}.",
            "why was I charged {amount} for {oid}?", "there's a problem with my payment: {bill_problem}.",
            "could you send me a proper invoice for order {oid}?",
            "my card keeps getting declined at checkout. Is something wrong on your end?",
            "can you correct the amount on my invoice?", "I think I've been overcharged on {oid}.",
            "please check the billing on my account, {bill_problem}.",
            "something is wrong with the charges on my statement.",
            "can I get the invoice re-issued with my company address?",
            "why does my bank statement show two payments to Voltcart?",
            "{bill_problem} and I'd like to understand why.",
            "who do I talk to about a payment error? {bill_problem}.",
        ],
        "oblique": [
            "I cancelled nothing and returned nothing, yet my bank shows a {amount} debit from you.",
            "my refund arrived but the original charge was higher than the price, can you explain?",
            "my account page says {amount2} but my bank took {amount}.",
            "the order is fine and delivered, it's the amount you took that's wrong.",
            "I need the paperwork for {oid} to show our company details for accounting.",
            "the checkout took my money but then told me the order failed.",
            "my card shows a pending amount from an order I never completed.",
            "can you tell me which order the {amount} on my statement belongs to?",
            "my statement shows Voltcart twice for the same {amount}.",
            "why did {amount} leave my account when the total was {amount2}?",
            "there's a mystery transaction from you on my card.",
            "the promo code vanished at checkout and I paid full price.",
            "my bank flagged a payment to you that I never made.",
            "can you send paperwork with our company VAT number for {oid}?",
            "my Visa got hit with a foreign transaction fee even though I paid in my own currency.",
            "the receipt total and what my bank took don't match.",
            "the money was taken but the order still says awaiting payment.",
            "I need the tax details corrected on my receipt.",
            "your payment page rejects every card I try.",
            "I think your checkout added something I didn't ask for.",
            "why am I paying for delivery when it was advertised as free?",
            "the instalments don't add up to the price I agreed to.",
            "can someone explain the {amount} deduction on my account?",
            "please resend my receipt, and this time with the right company name.",
            "PayPal shows the payment as completed but your site says it failed.",
            "I was promised the sale price but got charged the full {amount}.",
            "there's a duplicate transaction on my card from {when}.",
            "my statement has a Voltcart transaction for {amount} that makes no sense.",
            "the checkout keeps rejecting my Mastercard, what's wrong?",
            "the total I paid doesn't match the receipt.",
            "our finance team needs an itemised receipt for {oid}.",
            "my card was hit for {amount} but the order was only {amount2}.",
            "the money came out of my account twice.",
        ],
        "situation": ["I cancelled order {oid} {when}.", "I returned the {short} {when} and got a refund.",
                      "The order arrived fine.", "I logged into my account to download the invoice.",
                      "The website crashed during payment.", "I tried to pay three times.",
                      "I changed the delivery address after ordering."],
        "context": ["I paid with my Visa {when}.", "I checked my bank statement this morning.",
                    "I'm buying for my company and need proper paperwork.",
                    "I used the code SPRING15 at checkout.", "My order {oid} came to {amount}."],
        "detail": ["I've attached a screenshot of the statement.", "My bank says the charge came from you.",
                   "Our accounts team needs this by the end of the month.",
                   "The order itself is fine, it's just the payment."],
    },
    "account_access": {
        "acc_problem": ["I can't log in", "I can't sign in to my account",
                        "my password reset email never arrives", "my account is locked",
                        "the 2FA code isn't working", "I lost the phone with my authenticator app",
                        "it says my password is wrong but I know it's right",
                        "I don't get the verification SMS", "the login page just keeps reloading",
                        "I no longer have access to the email I signed up with",
                        "my account got locked after too many attempts",
                        "someone changed my password", "I think my account was hacked",
                        "the reset link says it has expired",
                        "the 'forgot password' button does nothing",
                        "it says no account exists with my email",
                        "the one-time code goes to my old number"],
        "acc_fix": ["reset my password", "unlock my account", "disable two-factor so I can log in",
                    "send me a new verification code", "update the email address on my account",
                    "switch my login email to my new address", "help me recover my account",
                    "turn off 2FA for now", "resend the activation email", "merge my two accounts",
                    "change the phone number on my profile", "reactivate my account"],
        "short": ["cant log in", "password reset not working", "locked out!!", "2fa code wrong",
                  "reset my password pls", "account locked", "no verification email",
                  "login broken?", "can't sign in", "forgot password", "change my account email",
                  "can't get into my account", "sign in loop", "verification code never comes",
                  "hacked account?", "login error again"],
        "ask": [
            "{acc_problem}. Can you help?", "{acc_problem}, please help me get back in.",
            "how do I reset my password?", "can you unlock my account? {acc_problem}.",
            "please {acc_fix}.", "could you {acc_fix}? {acc_problem}.",
            "I need to get into my account to see order {oid} but {acc_problem}.",
            "every time I try to log in I get an error.", "I'm locked out of my Voltcart account.",
            "can you {acc_fix} even though I don't have my old phone?",
            "can't access my account since {when}.", "{acc_problem}. What do I do now?",
            "I'd like you to {acc_fix}. {acc_problem}.",
            "how can I change the email I use to sign in?",
            "is the website login down? {acc_problem}.",
            "can someone {acc_fix} for me?",
        ],
        "oblique": [
            "I want to check my orders and refunds, but the site doesn't recognise me anymore.",
            "my details don't work on the website since I changed my email.",
            "your site keeps saying my details are wrong, so I can't see my order history.",
            "I can't get past the code screen to see my invoices.",
            "someone has been placing orders from my profile and I can't get in to stop them.",
            "the app won't accept my details after the update.",
            "I'd like to update my card on file but the site won't let me sign in.",
            "I can't get in to check the delivery address, the site says my details are wrong.",
            "the site keeps telling me my credentials are invalid.",
            "my saved addresses and past orders have vanished, and now it won't let me sign back in.",
            "I can't see any of my previous orders, the site says my session is invalid.",
            "I asked for a login code three times and nothing came.",
            "my profile shows someone else's name and I can't change the password.",
            "the site won't let me in to update my saved card.",
            "I ordered as a guest and now I can't link those orders to my profile because the login fails.",
            "your app keeps asking me to verify my email, but the verify button does nothing.",
            "I'd like to stop using my old work email to sign in.",
            "I'm stuck at the verification step and the code never comes.",
            "I can't get past the sign-in page.",
            "my old email is gone, so the reset link has nowhere to go.",
            "I've been shut out of my profile after mistyping my password.",
            "the security code goes to a phone I no longer have.",
            "the app just says 'session expired' every time I open it.",
            "I need my login moved to a new email address.",
            "somebody else seems to be using my profile, the password was changed without me.",
            "reset emails aren't reaching me, spam folder included.",
            "I'd like to switch the email on my profile, the old one is closing down.",
            "how do I get back into my profile after getting a new phone?",
            "the sign-in button spins forever and then nothing.",
            "your system says my email isn't registered but I've ordered loads.",
            "can you verify me some other way? The text message never arrives.",
            "I get 'too many attempts, try later' and it's been a day.",
            "the magic link expires before I can click it.",
            "locked out and can't see my order history.", "my username doesn't work anymore.",
            "the app logged me out and won't let me back in.",
            "I need help getting back into my profile.",
            "Face ID login stopped working and the password option fails too.",
            "I signed up with Google and now it says to use a password I never set.",
            "the page says my credentials are correct but then bounces me to the start.",
        ],
        "situation": ["I was trying to track order {oid}.", "I wanted to cancel an order online.",
                      "I need to download an invoice.", "I want to change the delivery address on {oid}.",
                      "I wanted to register my {product} for the warranty.",
                      "I'm trying to check on my refund.", "I changed my card details last week."],
        "context": ["I got a new phone {when}.", "I changed my email provider recently.",
                    "I've had this account for years.", "I tried resetting it three times already.",
                    "I'm using the app on Android."],
        "detail": ["I've checked my spam folder.", "I need to download an invoice from there.",
                   "I can confirm my identity with my last order number {oid}.",
                   "The app and the website both fail.", "I'm worried someone else is using it."],
    },
    "technical_support": {
        "led": ["red", "orange", "white twice", "blue", "green and red"],
        "short": ["{short} won't turn on", "{short} not working", "pairing issue with {short}",
                  "how to reset the {short}?", "firmware update failed", "{short} dead after update",
                  "{short} broken??", "my {short} {problem}", "{product} {problem}",
                  "help, {short} {problem}", "faulty {short}", "{short} acting up again", "won't charge"],
        "ask": [
            "my {product} {problem}.", "my {product} {problem}. What can I do?",
            "can I use the {short} while {it} {is} charging?",
            "what does error code E4 on the {short} mean?",
            "where do I find the manual for the {product}?",
            "how do I turn off the beeping on the {short}?",
            "how do I change the language on the {product}?",
            "is it safe to leave the {short} plugged in overnight? Mine gets warm.",
            "how long should the {short} take to charge fully? Mine takes all night.",
            "the app asks for a serial number, where is it on the {short}?",
            "do I need to register the {product} to get updates?",
            "how do I connect the {short} to a second device?",
            "what's the right way to clean the {short} without damaging {it_obj}?",
            "how do I turn off the status light on the {product}?",
            "the {short} {problem}, is there a fix?", "help, my new {short} {problem}.",
            "I bought the {product} {when} and {it} {problem}.",
            "since the last update my {short} {problem}.",
            "is there a firmware update for the {product}? Mine {problem}.",
            "I've tried resetting it but the {short} still {flaw}.",
            "any troubleshooting tips? My {short} {problem}.",
            "{product} {problem}, already tried a factory reset.",
            "is this a known issue? The {short} {problem}.",
            "can someone walk me through resetting the {product}?",
            "how do I update the firmware on the {product}?",
            "my {short} {problem} and the help articles didn't help.",
            "not sure if I'm doing something wrong but my {short} {problem}.",
            "the {product} I got {when} {problem}, how do I get it working?",
        ],
        "oblique": [
            "I don't want to return it, I just want the {short} to work properly.",
            "it arrived on time and looks fine, but {it} {problem}.",
            "the {short} worked in the shop demo but mine {problem}.",
            "{is} the {short} supposed to work with {platform}? Mine won't, even after the update.",
            "I was going to ask for a refund, but maybe there's a setting I'm missing: {it} {problem}.",
            "the warranty card says to contact you first: my {short} {problem}.",
            "the order was perfect, it's the {short} {itself} that {problem}.",
            "the {short} {is} just a brick now.", "nothing happens when I hold the power button.",
            "the {short} {was} fine until {date}, now {it} {flaw}.",
            "the light on the {short} blinks {led} and nothing else happens.",
            "after the update the {short} {has} gone completely haywire.",
            "how do I get the {product} talking to {platform}?",
            "is there a way to factory reset the {short}? {it} {problem}.",
            "I left the {short} plugged in overnight and still nothing.",
            "the {product} get{s} so hot I'm scared to use {it_obj}.",
            "my {short} {problem}, I've rebooted it five times.",
            "any idea why the {short} {problem}?", "is there a manual somewhere? My {short} {problem}.",
            "the companion app can't find the {short} at all.", "mine {problem}, is it a faulty unit?",
            "what's the trick to stop the {short} misbehaving? {it} {problem}.",
            "{it} {problem}. Tried different outlets, same thing.",
            "I think the {short} {is} defective, {it} {problem}.",
            "the {short} {does}n't behave like it should: {it} {problem}.",
            "what does it mean when the light blinks {led}? The {short} {problem}.",
            "my {short} {problem} whenever I use it with {platform}.",
            "can you help me set up the {product}? {it} {problem}.",
            "the {short} {problem} out of nowhere. Any ideas?",
            "I'm not very techy and the {short} {problem}. What should I try?",
            "the {product} {was} great for a month, now {it} {flaw}.",
        ],
        "situation": ["The {short} arrived {when} in perfect condition.", "I already got a replacement once.",
                      "I checked the warranty page.", "I don't really want to send it back.",
                      "I updated the app {when}.", "It was delivered late but worked fine at first.",
                      "I paid {amount} for it, so I expect it to work."],
        "context": ["I bought the {product} {when}.", "I've had the {short} for about {weeks} weeks.",
                    "It was working fine until {date}.", "I updated the firmware yesterday.",
                    "I use it mostly with {platform}."],
        "detail": ["I've already tried a factory reset.", "I tried a different cable and charger.",
                   "It happens with both my phone and laptop.", "I'm on the latest version of the app.",
                   "The light just blinks {led}.", "I'd rather fix it than send it back."],
    },
    "product_question": {
        "short": ["{short} in stock?", "warranty length?", "does it work with iphone?",
                  "ship to {country}?", "{product} back in stock when?", "price match?",
                  "any bundle deals?", "specs for the {product}?", "student discount?",
                  "{product} vs {product2}?", "{is} the {short} any good for gaming?",
                  "what colours {does} the {short} come in?", "restock date for {product}?"],
        "ask": [
            "{pq}", "quick question before I buy: {pq}", "I'm thinking of getting the {product}. {pq}",
            "before I order, {pq}", "{pq} I couldn't find it on the product page.",
            "can you tell me: {pq}", "{pq} Thinking of buying one this week.",
            "one more question about the {product}: {pq}", "{pq} And how fast is delivery?",
            "I'd like some info before purchasing. {pq}",
        ],
        "oblique": [
            "if I order the {product} today and it doesn't work with {platform}, what are my options?",
            "before I place an order: {does} the {product} have the problems people mention in reviews?",
            "what would the total be for the {product} with delivery to {country}?",
            "{is} the {product} covered if {it} stop{s} working after a year?",
            "my friend's {short} keep{s} breaking. {is} the {product} any better built?",
            "can I get an invoice with my company name if I buy the {product}?",
            "do you charge extra for express delivery on the {product}?",
            "thinking about the {product}, would it suit {platform}?",
            "what's the build quality like on the {short}?",
            "{does} the {product} come in {colour}?",
            "how many years of cover do you give on the {short}?",
            "any restock planned for the {product}?",
            "would the {product} be a good gift for a teenager?",
            "{is} the {product} worth it over the {product2}?",
            "what's the return window if I buy the {product}?",
            "{is} the {short} sold with all the cables I need, or do I buy them separately?",
            "how heavy {is} the {product}?",
            "do you deliver to {country}, and how long would it take?",
            "do you price match if the {product} {is} cheaper elsewhere?",
            "{is} the {product} this year's version or the older one?",
            "can I pre-order the {product}?", "{does} the {product} get software updates?",
            "is there a bundle with the {product} and a {accessory}?",
            "is a newer model of the {product} coming soon?",
            "{is} the {short} easy to set up for someone who isn't techy?",
            "my old {short} just died. Would the {product} be a good replacement?",
            "I'd like to know more about the {product} before I commit.",
            "if I order the {product} today, what colours can I choose from?",
            "{does} the {product} need a subscription for anything?",
            "would the {product} work in {country}?",
        ],
        "situation": ["My old {short} just died.", "I returned a similar {short} elsewhere last year.",
                      "I had a bad experience with a cheap {short} before.", "I'm ordering for my office.",
                      "I've never ordered from you before.", "I'm about to place an order.",
                      "I've got a gift card to spend."],
        "context": ["I'm comparing a few options.", "I'm buying this as a gift.",
                    "I'm thinking of ordering the {product}.", "I saw the {product} on your site.",
                    "I'm setting up a home office."],
        "detail": ["I'd like to order this week if possible.", "I'd rather not have to return it.",
                   "I couldn't find this on the product page.", "I'll order once I know."],
    },
}

# ---------------------------------------------------------------------------
# Hard cases: contrastive, ambiguous, framed and long-tail messages
# ---------------------------------------------------------------------------

# Hand-written messages that name another intent only to rule it out.
CONTRASTIVE: dict[str, list[str]] = {
    "order_status": [
        "I'm not asking for a refund, I just want to know where the {parcel} is.",
        "don't cancel anything! I just need to know when {oid} will arrive.",
        "no need to change the order, I only want the tracking number.",
        "the payment went through fine, but the {parcel} hasn't arrived.",
        "I don't want my money back, I want my {short}. Where {is} {it}?",
        "nothing wrong with the product, it just hasn't been delivered yet.",
        "I can log in fine, but my account page shows no tracking for {oid}. Has it shipped?",
        "not trying to return or cancel, just wondering how long {oid} will take.",
        "the charge on my card is correct, I'd just like to know when the {short} will turn up.",
        "I'm not changing anything on {oid}, I only need a delivery date.",
    ],
    "refund_request": [
        "I don't want a replacement, I want {refund_noun}.",
        "not trying to cancel, the order already came and I sent it back. I'd like {refund_noun} now.",
        "the charge itself was correct, I just want {refund_noun} now that the return is done.",
        "I'm not asking where it is anymore, it never came. Just {refund_you} please.",
        "no need to fix the {short}, I'd rather have {refund_noun}.",
        "please don't send a new one, {refund_you} instead.",
        "I don't need help setting it up, I've already sent the {short} back and want {refund_noun}.",
        "the billing is fine, I just need the {amount} back for the returned {short}.",
        "not a question about delivery, the return reached you {when}. When do I get paid back?",
    ],
    "cancel_order": [
        "I don't want a refund later, I want to stop the order now before it ships.",
        "please don't change anything on {oid}, just cancel it completely.",
        "not a billing problem, I simply don't want the {product} anymore. Cancel please.",
        "rather than changing the colour, I'd like to cancel the whole order.",
        "it's not about delivery, I've decided I don't need it. Please cancel {oid}.",
        "forget the address change I asked for, just cancel {oid}.",
        "I don't need tracking, I need the order {cancelled} before it goes out.",
        "no question about the product, I just want {oid} {cancelled}.",
        "the payment is fine, but I don't want the {short} anymore. Please don't ship it.",
    ],
    "change_order": [
        "I don't want to cancel, I just need to change the delivery address.",
        "no refund needed, just {change_what} on {oid}.",
        "please don't cancel {oid}. Can you {change_what}?",
        "not a payment issue, I just want to {change_what}.",
        "keep the order, but {change_what} please.",
        "I'm not returning anything, I'd just like to {change_what} before it ships.",
        "I still want it! Only need to {change_what}.",
        "the tracking is fine, but I need the parcel to go to {street} instead.",
        "I'm not cancelling the {short}, just {change_what}.",
    ],
    "billing_issue": [
        "I don't want to cancel the order, I just want the double charge fixed.",
        "the delivery is fine, the problem is the invoice amount.",
        "I'm not after a refund for the item, I just need the invoice corrected.",
        "my login works fine, it's the card payment that keeps failing.",
        "the {short} work{s} great, but I was charged {amount} more than the listed price.",
        "nothing wrong with the order, {bill_problem}.",
        "I'm keeping the {short}, but {bill_problem}.",
        "not asking for my money back, I just want to know why {amount} was taken twice.",
    ],
    "account_access": [
        "the charge is fine, my problem is I can't log in.",
        "my order isn't the issue, I just can't get into my account to see it.",
        "not a billing question, my password reset link doesn't work.",
        "nothing wrong with the {short}, it's my Voltcart login that fails.",
        "don't cancel anything, I just need access to my account back.",
        "I don't need a refund, I need to {acc_fix}.",
        "the order arrived fine, but now {acc_problem}.",
        "not about my order at all, {acc_problem}.",
    ],
    "technical_support": [
        "I don't want a refund, I'd just like the {short} to work.",
        "not looking to return it, I just need help. The {short} {problem}.",
        "delivery was quick, but the {product} {problem}.",
        "the order is fine, the {short} {problem}.",
        "no billing issue, it's the device: the {short} {problem}.",
        "not asking to cancel or exchange, just tell me how to fix it. My {short} {problem}.",
        "I don't want to send it back. The {short} {problem} and I'd like it sorted.",
        "my account is fine, it's the {short} {itself}: {it} {problem}.",
    ],
    "product_question": [
        "I haven't ordered yet, I just want to know if the {product} work{s} with {platform}.",
        "not a complaint, just wondering if the {product} {is} back in stock soon.",
        "I'm not a customer yet. What's the warranty on the {product}?",
        "no order yet, just checking: {pq}",
        "before I buy and end up returning it: {pq}",
        "this isn't about an existing order. {pq}",
        "I don't need tracking or anything, I haven't bought it yet. {pq}",
    ],
}

# Two requests in one message; the label is the primary ask (the request verb).
AMBIGUOUS: dict[str, list[str]] = {
    "refund_request": [
        "I returned the {short} because {it} {problem}, and the replacement you offered is out of stock. Just refund me.",
        "the parcel came back to you as undeliverable and I don't want it resent. Where's my money?",
        "you charged shipping on a free-delivery order and then the order arrived broken. Refund the lot, please.",
        "I tried to cancel {oid} in time but it shipped anyway, so I sent it straight back. I'd like my {amount} back.",
        "the {short} {does}n't work with {platform} after all, and I've already sent {it_obj} back. Please reimburse me.",
        "I was charged twice for {oid}, please refund the extra payment.",
        "the {short} {problem}, honestly I just want my money back.",
        "my parcel never arrived, so please refund me.",
        "I cancelled {oid} last week but still haven't got my money back. Please send it.",
        "the {short} {was} faulty so I sent {it_obj} back, can you reimburse me?",
        "you charged me for shipping that was supposed to be free, I'd like that money back.",
        "the parcel is {wait} late and I've had enough. Cancel it if you must, but I want my {amount} back.",
        "the {short} stopped working and the replacement never came. Please just refund me.",
        "the discount code didn't apply, so please refund the difference to my card.",
        "the tracking says delivered, but nothing came. I'm not waiting any longer, I want my money back.",
        "I cancelled in time but you shipped it anyway. I've refused the parcel, so please refund me.",
        "the {short} arrived late and doesn't work. I'd like a refund rather than a fix.",
        "you charged me {amount} for {a_unit} that's now back in your warehouse. Please return it to my card.",
    ],
    "billing_issue": [
        "I got a partial refund for {oid}, but I can't work out how you calculated it. Can you explain?",
        "the refund showed up as {amount2} but I paid {amount}. Is something missing?",
        "I was charged for express delivery but the {short} came by standard post. Why was I charged?",
        "my card was declined, then charged anyway, and now the order says cancelled. What happened to my payment?",
        "I cancelled the subscription for the {short} app but you still took {amount} this month.",
        "I was charged twice for {oid}. Can you check what happened? Refund whatever is extra.",
        "the order was cancelled but my card was still charged {amount}. Why?",
        "I returned the {short} and the refund came back as {amount2} instead of {amount}. Can you explain?",
        "why did I pay for express shipping on {oid}? It arrived late anyway.",
        "I can't see the invoice in my account, and the amount on my card looks wrong too.",
        "I got a refund for {oid} but it was {amount2} short. What happened there?",
        "you took {amount} for an order I cancelled {when}. Please look into this charge.",
        "my payment failed three times and now the order is stuck. Is it my card or your system?",
        "the refund for my return came through, but I was charged a fee I never agreed to. What is it?",
        "I changed the delivery address and got charged {amount} extra. Why?",
        "my account shows two orders but I only placed one, and both were charged.",
        "I can't log in to get the invoice and the amount on my statement is wrong anyway. Can you check the payment?",
    ],
    "cancel_order": [
        "the order still says processing after {wait}. Don't bother with a refund later, just cancel it now.",
        "my card got charged twice for the same thing. Please cancel the second order entirely.",
        "I can't find a way to edit {oid} online, so please cancel it and I'll place a new one.",
        "if {oid} hasn't left yet, I don't want it. Please stop it.",
        "I read the {product} {does}n't support {platform}. Please cancel before you ship it.",
        "the {product} still hasn't shipped after two weeks, just cancel it.",
        "I can't log into my account to cancel {oid}, can you cancel it for me?",
        "if I got charged twice, cancel the second order please.",
        "the price dropped after I ordered, cancel {oid} and I'll reorder.",
        "I can't change the address on {oid}, so just cancel it and I'll order again.",
        "I want to change to the {colour} one but if that's not possible, cancel {oid}.",
        "where is {oid}? If it hasn't left yet, please cancel it instead.",
        "I was double charged because I ordered twice, please cancel one of the orders.",
        "I can't get a straight answer on when {oid} ships, so I'd rather cancel it.",
        "the {product} I ordered doesn't work with {platform}, so cancel it before it ships please.",
        "I was charged more than the listed price. Rather than argue about it, just cancel {oid}.",
        "I'm moving abroad and can't change the address, so please cancel {oid}.",
    ],
    "order_status": [
        "I paid for express and it's been {wait}. Before I ask for a refund, is it actually on its way?",
        "the courier says they returned {oid} to you. Is it coming back to me, or what happens now?",
        "I can't log in to check, so can you tell me whether {oid} has shipped?",
        "you charged my card {when}, so why does the order still say awaiting dispatch?",
        "I changed my mind about cancelling, I'll keep it. When will it arrive?",
        "if the order hasn't shipped yet I might cancel. Where is it right now?",
        "has the replacement for my faulty {short} been sent out yet?",
        "I returned the {short} {when}, has it reached your warehouse?",
        "I paid {amount} for express shipping, so why isn't {oid} here yet?",
        "I changed the address on {oid} yesterday, is it still going to the old one?",
        "I was charged for {oid} {when}. Has it actually been sent?",
        "I can see {oid} in my account but no tracking. Has it shipped?",
        "my refund depends on this: did the courier ever pick up my return for {oid}?",
        "if {oid} hasn't shipped I'd like to change the address, but first: where is it?",
        "I asked for a refund if it doesn't come by Friday. So has it actually shipped?",
        "the tracking link in my account doesn't work and I can't log in on the app either. Where is my parcel?",
    ],
    "change_order": [
        "I'd rather not cancel {oid}, but the {colour} one would suit me better. Can you switch it?",
        "I paid for standard shipping, but can you upgrade {oid} to express? Happy to pay the difference.",
        "the address on my account is old and {oid} used it. Can you change it to {street}?",
        "I don't need a new order, just add a {accessory} to {oid} and charge me for it.",
        "the tracking shows {oid} hasn't left yet. Can it go to {street} instead?",
        "can I swap the {short} for a different model instead of getting a refund?",
        "I moved house, can you update the address on order {oid}? My account still has the old one.",
        "the {short} I ordered won't work with {platform}, can you switch my order to the {product2}?",
        "instead of cancelling, could you just change {oid} to the {colour} one?",
        "I was charged for one but wanted two, can you add another to the order?",
        "I can't log in to edit {oid}, can you change the delivery address for me?",
        "the {product} hasn't shipped yet, right? If so please swap it for the {product2}.",
        "I'd rather not cancel and get a refund, can you just correct the size on {oid}?",
        "I was charged for the wrong colour, can you switch {oid} to {colour} before it ships?",
        "the delivery is going to be late anyway, so please send it to my office instead.",
        "my account has my old address and the order went through with it. Please fix {oid}.",
    ],
    "account_access": [
        "I can't log in to cancel {oid}. How do I reset my password?",
        "my card was charged but I can't see the order because my account is locked.",
        "I want to check my refund status but the login page just reloads.",
        "I moved and changed my email, and now I can't sign in to update my address.",
        "the {product} app says my Voltcart login is invalid. How do I reset it?",
        "I can't log in to track my order {oid}.",
        "I can't get into my account to download the invoice for {oid}.",
        "my account got locked after a payment failed, how do I get back in?",
        "I want to cancel my order but I'm locked out of my account. How do I get back in first?",
        "the {product} app won't let me log in, so I can't set it up either.",
        "I need a copy of my invoice but the password reset link is broken.",
        "my order history vanished and now the site says my password is wrong.",
        "I changed my email for the delivery updates and now I can't sign in.",
        "I wanted to cancel {oid} myself but the site won't accept my password. How do I get back in?",
        "the refund email says to log in to confirm, but my login doesn't work.",
        "I need to see whether {oid} shipped, but the 2FA code never arrives.",
    ],
    "technical_support": [
        "the {short} {problem}. I don't want to return {it_obj}, is there a fix?",
        "I already reset the {short} twice and {it} still {flaw}. Should I send {it_obj} back or can you help?",
        "the replacement arrived on time, but {it} {problem} too. What now?",
        "my {short} {problem}. Is that covered, or is there a setting I'm missing?",
        "the {short} stopped working after I changed my wifi password. How do I reconnect {it_obj}?",
        "the {short} {problem}. Should I return it, or is there a fix?",
        "my replacement {short} {has} the same problem: {it} {problem}. Can you help me troubleshoot before I ask for a refund?",
        "the {short} {problem}, is that covered or can you tell me how to fix it?",
        "the {short} arrived a week late and now {it} {problem}. How do I fix it?",
        "is there a fix for the {short}? {it} {problem} and I'd rather not send {it_obj} back.",
        "the {short} {problem}. Is this a warranty thing, or can I reset it myself?",
        "my {short} {problem} since the update. Do I need a new one or is there a patch?",
        "I was about to ask for a refund, but maybe it's a setting: the {short} {problem}.",
        "the {short} came late and now {it} {problem}. How do I fix it?",
        "my {short} {problem}. Is a firmware fix coming, or should I return it?",
    ],
    "product_question": [
        "if I buy the {product} and it arrives faulty, how long do I have to return it?",
        "I want to order the {product} but can I pay with Klarna, and is it in stock?",
        "{does} the {product} work with {platform}? If not I'd cancel straight away.",
        "I've had trouble with {a_unit} before. What's the warranty on the {product}?",
        "can I order the {product} now and change the colour later if I need to?",
        "does the warranty cover it if I buy the {product} and it breaks?",
        "if I order the {product} now, will it arrive before {date}?",
        "can I cancel within 30 days if I buy the {product} and don't like it?",
        "if I buy the {product} and it doesn't work with {platform}, do I get a refund?",
        "can I pay for the {product} in instalments, and {is} {it} in stock?",
        "my old {short} broke. {is} the {product} any more reliable, and is it in stock?",
        "if the {product} arrive{s} damaged, do I get a new one or a refund?",
        "can I change the colour of the {product} after I order it?",
        "I'm ready to order the {product}, but is it in stock and can it reach me by {date}?",
        "my old {short} {problem}. Would the {product} have the same issue?",
        "if I pay for the {product} today, can I still cancel before it ships?",
    ],
}

# Clauses that name an intent only to rule it out. The same clause is used in
# every intent it fits (RULE_OUTS_FOR), so the clause itself carries no label.
RULE_OUT: dict[str, list[str]] = {
    "refund_request": ["I'm not asking for a refund", "I don't want my money back", "no refund needed",
                       "this isn't about a refund"],
    "cancel_order": ["I don't want to cancel", "please don't cancel anything", "I'm not cancelling",
                     "this isn't about cancelling"],
    "order_status": ["this isn't about delivery", "I'm not chasing the delivery", "the delivery isn't the problem",
                     "I don't need a tracking update"],
    "change_order": ["I don't need to change anything on the order", "this isn't about changing the order",
                     "the address and everything else on the order is fine"],
    "billing_issue": ["the payment went through fine", "the charge is correct", "this isn't a billing problem",
                      "there's nothing wrong with the invoice"],
    "account_access": ["I can log in fine", "my account works fine", "this isn't a login problem"],
    "technical_support": ["the {short} work{s} fine", "nothing is wrong with the device",
                          "this isn't a technical problem"],
}
RULE_OUTS_FOR: dict[str, list[str]] = {
    "order_status": ["refund_request", "cancel_order", "change_order", "billing_issue"],
    "refund_request": ["order_status", "billing_issue"],
    "cancel_order": ["refund_request", "order_status", "billing_issue"],
    "change_order": ["cancel_order", "refund_request", "order_status", "billing_issue"],
    "billing_issue": ["cancel_order", "refund_request", "order_status", "technical_support"],
    "account_access": ["billing_issue", "order_status", "technical_support"],
    "technical_support": ["refund_request", "cancel_order", "order_status", "billing_issue"],
}
# Words that would contradict a rule-out clause if the own request used them.
RULE_OUT_CONFLICTS: dict[str, tuple[str, ...]] = {
    "order_status": ("deliver", "arriv", "never came", "showed up", "lost", "parcel", "tracking", "courier",
                     "missing", "where", "shipped"),
    "billing_issue": ("charge", "payment", "paid", "statement", "invoice", "card", "bank", "{amount}", "money"),
    "technical_support": ("broke", "fault", "defective", "smash", "work", "fix", "damage", "crack", "{problem}"),
    "refund_request": ("refund", "money back", "reimburs", "paid back", "repay", "cash"),
    "cancel_order": ("cancel",),
    "change_order": ("change", "address", "swap", "switch"),
    "account_access": ("log", "password", "account", "sign"),
}
PRESALES_OPENERS = ["I haven't ordered anything yet", "this isn't about an existing order",
                    "I don't need tracking, I haven't bought it yet", "I'm not a customer yet"]


# "Framed" messages: a situation shared by several intents, then a request made
# of a neutral frame and a verb phrase. The situation does not decide the
# label, the requested action does. Each scenario pairs situations with the
# requests that make sense after them.
SITUATIONS: dict[str, list[str]] = {
    "late": ["my {parcel} is {wait} late.", "the tracking hasn't moved since {date}.",
             "{courier} says the parcel is stuck in customs.", "it was supposed to arrive {when}.",
             "the delivery date keeps getting pushed back.", "it's been {wait} and still no parcel."],
    "not_shipped": ["order {oid} still hasn't shipped.", "it's been on 'processing' for {wait}.",
                    "the order page still says 'awaiting dispatch'."],
    "fault": ["the {short} {problem}.", "my new {product} {problem}.",
              "the {short} {was} faulty out of the box.", "the {product} stopped working after a week."],
    "double_charge": ["I was charged twice for {oid}.", "the same payment went through twice.",
                      "my statement shows two payments for {oid}."],
    "wrong_amount": ["my card was charged {amount} instead of {amount2}.",
                     "there's an extra {amount} on my statement.",
                     "I paid for shipping that should have been free.", "the discount code didn't apply."],
    "cancelled_charged": ["I cancelled {oid} {when} but the money still left my account.",
                          "you cancelled my order but my card was still charged."],
    "wrong_model": ["I ordered the wrong model.", "I ordered the {product} but meant to get the {product2}."],
    "wrong_colour": ["I picked the wrong colour.", "I meant to order the {colour} one.",
                     "I clicked the wrong colour by mistake."],
    "duplicate": ["I ordered two by accident.", "I placed the same order twice and got charged for both."],
    "moving": ["I'm moving house on {date}.", "I won't be home when it's due.",
               "I'm staying at my parents' place this month.", "I'm travelling from {date} for two weeks."],
    "returned": ["I sent the {short} back {when}.", "the return for {oid} was accepted {when}.",
                 "your courier collected the return {when}."],
    "login": ["I can't log into my account, so I can't do this myself.",
              "my password reset isn't working, so I can't change anything online.",
              "the 2FA code never arrives, so I can't do it through my account."],
    "login_self": ["I can't log into my account.", "my password reset isn't working.",
                   "the 2FA code never arrives.", "I got a new phone and my authenticator is gone."],
    "trying_to": ["I was trying to track order {oid}.", "I wanted to cancel an order online.",
                  "I need to download an invoice.", "I'm trying to check on my refund.",
                  "I wanted to change the delivery address on {oid}."],
    "paid": ["I paid {when} and the money left my account straight away.", "the payment went through {when}.",
             "I paid {amount} extra for express shipping.",
             "my card was charged {when}, so it should be on its way."],
    "bad_reviews": ["lots of reviews say the {product} {flaw}.",
                    "a friend's {short} {flaw}, so I'm having second thoughts.",
                    "I keep reading that the {short} {flaw}."],
    "replacement": ["the replacement {short} arrived {when} and {has} the same fault: {it} {problem}.",
                    "this is my second {unit}, and {it} {problem} just like the first one."],
    "account_weird": ["I got an email saying my password was changed right after I ordered the {product}.",
                      "the site logged me out halfway through paying and now won't let me back in.",
                      "there's an order for {a_unit} in my history that I never placed, and my password stopped working.",
                      "I placed my last order as a guest and now the site says my email is already taken."],
    "setup_login": ["I'm setting up the {product} and the app wants my Voltcart login.",
                    "I just unboxed the {short} and the companion app asks me to sign in.",
                    "to register the {product} for the warranty I need to log in."],
    "considering_return": ["the {short} {problem} and I'm close to sending {it_obj} back.",
                           "before I ask for my money back: the {short} {problem}.",
                           "I paid {amount} for the {short} and {it} {problem}.",
                           "the return window closes on {date} and the {short} {problem}."],
    "checkout_login": ["I was halfway through paying for {oid} when the site logged me out.",
                       "my card was charged, then the site said my session had expired and won't let me back in.",
                       "I wanted to see my invoices but the login page rejects me."],
    "gift": ["I'm buying a present for my dad.", "I'm kitting out a home office.",
             "my teenager wants one for their birthday.", "I'm replacing {a_unit} that's getting old."],
    "new_contact": ["I've changed my email address.", "I have a new phone number.",
                    "my old email account was closed."],
    "setup": ["I'm setting up the {product} for the first time.", "I just unboxed the {short}.",
              "I'm trying to connect the {short} to {platform}.", "I got the {product} as a present."],
    "old_device": ["my old {short} {problem}.", "my current {short} {problem} and I'm done with it.",
                   "I sent my last {unit} back to another shop, {it} kept breaking."],
}
# Groups whose sentences can be combined in pairs without repeating or contradicting.
TWO_SENTENCE_GROUPS = {"late", "not_shipped", "double_charge", "returned", "login_self",
                       "setup", "paid", "new_contact"}
FRAMES = [
    "can you {vp}?", "could you {vp}?", "please {vp}.", "I'd like you to {vp}.", "is it possible to {vp}?",
    "I need you to {vp}.", "any chance you could {vp}?", "can someone {vp}?", "I want you to {vp}.",
    "would you be able to {vp}?", "how quickly can you {vp}?", "{vp}, please.", "just {vp}.",
    "I'd appreciate it if you could {vp}.", "all I want is for you to {vp}.", "so can you {vp}?",
]
OS_ANY = [
    "tell me where it is", "give me an ETA", "tell me when to expect it", "check whether it has shipped",
    "give me an update on the delivery", "tell me the status of {oid}", "send me the tracking link",
    "look up where {oid} is", "confirm it's actually on its way", "get me a delivery date",
    "find out what's happening with {oid}", "tell me if it's still coming", "look into the delay",
    "give me a realistic delivery date", "get me the latest tracking info",
    "confirm it hasn't been lost", "tell me if it has left the warehouse", "share the courier's reference number",
    "check why the tracking isn't updating", "see if {oid} has been dispatched yet",
    "tell me roughly when it'll land", "update me on the shipment",
]
REFUND_ANY = [
    "refund me", "give me my money back", "reimburse me", "credit my card", "return the funds",
    "send the money back", "put the money back on my card", "pay me back", "issue a refund",
    "return my payment", "repay me", "release the funds", "return what I paid", "refund it to my PayPal",
    "give me a full refund", "process the refund", "send the {amount} back", "credit the amount back",
    "make sure I get reimbursed", "get the money back into my account", "credit my Visa", "wire the money back",
    "pay back the full price", "return the cost of the {short}", "put the {amount} back in my account",
    "refund me in full", "arrange a refund", "pay me what I'm owed", "process my reimbursement",
]
CANCEL_ANY = [
    "cancel it", "cancel the order", "stop it", "scrap it", "void the order", "withdraw the order",
    "halt the order", "kill the order", "drop the order", "pull it before it ships", "call it off",
    "undo the purchase", "stop the shipment", "keep it from going out", "nix the order",
    "take it off the system", "abandon the order", "let me back out of it", "cancel {oid}",
    "terminate the order", "make sure it never ships", "delete the order", "cancel the whole thing",
    "cancel {oid} before dispatch", "stop {oid} before it ships", "call off the purchase",
    "remove the order from your system", "withdraw my purchase", "cancel my purchase of the {short}",
    "scrap {oid}", "void my purchase", "cancel before anything is packed",
]
ACCOUNT_ANY = [
    "unlock my account", "reset my password", "get me back into my account", "turn off two-factor",
    "send a new login code", "recover my account", "let me log in again", "resend the verification email",
    "restore access to my profile", "verify me another way", "reactivate my login", "clear the lockout",
    "help me sign in again", "send me a password reset link", "unlock my profile", "reset my two-factor",
    "give me access to my account again", "restore my login", "fix my account access",
    "let me back into my profile", "sort out my login", "resend the activation link",
    "check why my login fails", "remove the lock on my account", "reset my security questions",
]
CHANGE_ADDRESS = [
    "send it to {street} instead", "update the address", "ship it to my office", "redirect it to {street}",
    "update the delivery details", "replace the old address with {street}", "change the delivery address",
    "change the shipping address to {street}", "send the parcel to my work address instead",
    "update the postcode on {oid}", "correct the house number", "move the delivery to {street}",
    "fix the street name on {oid}", "add my apartment number", "send it to a pickup point instead",
    "update the recipient name on {oid}",
]
CHANGE_GENERIC = ["amend {oid}", "modify the order", "edit the order", "amend the order details",
                  "change the order before dispatch", "edit {oid} for me", "fix that before it ships"]
CHANGE_COLOUR = ["switch it to {colour}", "change it to the {colour} one", "change the colour to {colour}",
                 "swap the colour before it ships"]
CHANGE_MODEL = ["swap it for the {product2}", "change the model before it ships",
                "put the {product2} on the order instead",
                "replace it with the {product2}"]
CHANGE_EXTRAS = ["change the size before it ships", "update the quantity to {qty}", "add a {accessory} to {oid}",
                 "take the {accessory} off the order", "change the plug to the UK version",
                 "upgrade the delivery to next-day", "add a second {accessory} to it"]
BILLING_ANY = [
    "look at the payment", "sort out the billing", "investigate the transaction",
    "double-check the charge on my card", "look into the pending charge", "fix the billing error on {oid}",
    "sort out the payment problem", "verify the transaction", "confirm what I actually paid",
    "look into the charge on my statement",
]
BILLING_INVOICE = ["correct my bill", "send me an invoice with VAT", "correct the amount on the invoice",
                   "issue a corrected receipt"]
TECH_FIX = [
    "help me get it working", "help me fix it", "walk me through a reset", "tell me how to fix it",
    "troubleshoot it with me", "sort out the fault", "tell me what to try next", "diagnose the problem",
    "talk me through the fix", "check if it's a known bug", "suggest a fix", "get it running again",
    "send me the latest firmware", "help me troubleshoot it", "tell me how to reset it",
    "send me the steps to fix it", "point me to a fix", "explain why it's doing this",
    "tell me if it's faulty", "check if there's an update that fixes it",
    "help me update the firmware", "tell me how to factory reset it",
]
PRESALES_ASKS = [
    "tell me if the {product} work{s} with {platform}", "send me the specs for the {product}",
    "let me know when the {product} {is} back in stock", "check if you ship the {product} to {country}",
    "confirm how long the warranty on the {product} {is}", "recommend {a_unit} for a beginner",
    "tell me the difference between the {product} and the {product2}",
    "check if the {product} can arrive before {date}", "tell me if I can pay for the {product} in instalments",
    "explain what comes in the box with the {product}", "tell me if the {product} {is} in stock",
    "let me know if the {product} come{s} with a charger", "recommend something similar to the {product}",
    "let me know if there's a student discount", "tell me if the {product} {is} the latest model",
    "tell me if the {product} {is} new or refurbished", "suggest something cheaper than the {product}",
    "confirm if the {product} {has} an EU plug", "tell me the usual delivery time for the {product}",
    "explain the return policy before I buy",
]
SCENARIOS: dict[str, list[tuple[list[str], list[str]]]] = {
    "order_status": [
        (["late"], OS_ANY + ["chase it up", "track it down", "find out if it's lost", "check with {courier}",
                             "check what's holding it up", "find out where it's got to", "locate my parcel",
                             "check if it's out for delivery today"]),
        (["not_shipped", "login", "paid"], OS_ANY),
        (["moving"], ["tell me which day it's coming", "give me an ETA", "tell me when to expect it",
                      "check whether it has shipped", "confirm the delivery day"]),
    ],
    "refund_request": [
        (["late", "fault", "returned", "cancelled_charged", "not_shipped", "replacement"], REFUND_ANY),
        (["double_charge", "wrong_amount"], REFUND_ANY[:10] + [
            "refund the difference", "refund the extra payment", "give me back the extra {amount}",
            "credit the overcharge back", "pay back what you took twice", "return the extra money"]),
    ],
    "cancel_order": [
        (["not_shipped", "late", "wrong_model", "wrong_colour", "login", "paid", "bad_reviews", "moving"],
         CANCEL_ANY),
        (["duplicate"], ["cancel the duplicate", "cancel the second order", "cancel one of the two orders",
                         "scrap the extra order", "stop the second one from shipping"]),
    ],
    "change_order": [
        (["moving", "login"], CHANGE_ADDRESS),
        (["wrong_colour"], CHANGE_COLOUR + CHANGE_GENERIC),
        (["wrong_model"], CHANGE_MODEL + CHANGE_GENERIC),
        (["login", "not_shipped"], CHANGE_GENERIC + CHANGE_COLOUR + CHANGE_MODEL + CHANGE_EXTRAS),
        (["duplicate"], ["merge them into one order", "change the quantity to 1", "remove one of the items"]),
    ],
    "billing_issue": [
        (["double_charge"], BILLING_ANY + ["fix the double charge", "check why I was charged twice",
                                           "remove the second payment", "tell me why my card was charged twice"]),
        (["wrong_amount"], BILLING_ANY + BILLING_INVOICE + ["explain the charge", "check the amount you took",
                                          "explain the {amount} on my statement", "apply the discount I was promised",
                                          "match the charge to the order total", "explain the extra fee",
                                          "check why the discount wasn't applied", "remove the delivery fee"]),
        (["login"], ["email me a copy of the invoice", "send me the VAT receipt", "tell me what I was charged",
                     "send the invoice for {oid} by email", "confirm the payment went through"]),
        (["cancelled_charged"], BILLING_ANY + ["explain why I was still charged", "remove the charge",
                                               "check the payment status", "tell me what the charge was for"]),
        (["returned"], ["explain why the refund was smaller than what I paid",
                        "check why I was charged a restocking fee", "send me a corrected invoice",
                        "explain the return deduction"]),
    ],
    "account_access": [
        (["login_self", "trying_to", "setup_login", "checkout_login"], ACCOUNT_ANY),
        (["account_weird"], ACCOUNT_ANY + ["tell me if someone else got in", "lock it until I can get back in"]),
        (["new_contact"], ["change my login email", "update the phone number for my login",
                                        "move my account to my new email", "update my sign-in details",
                                        "change the email I log in with", "send the verification code to my new number"]),
    ],
    "technical_support": [
        (["fault", "replacement", "considering_return"], TECH_FIX),
        (["setup"], ["does it work with {platform}?", "does it need charging before first use?",
                     "can I use it while it's charging?", "where's the serial number?", "is there a manual online?",
                     "how do I turn the sounds off?", "do I need to register it for updates?",
                     "is there an app for it?", "does it support {platform}, and how do I set that up?",
                     "is it meant to come with a cable?", "does it need a firmware update first?"]),
        (["setup"], ["show me how to connect {it_obj} to {platform}", "explain how to connect {it_obj} properly",
                     "tell me where the reset button is",
                     "help me set it up properly", "tell me which settings to change", "walk me through the setup",
                     "check if {it} need{s} a firmware update to work with {platform}", "get {it_obj} connected"]),
    ],
    "product_question": [
        (["gift", "old_device"], PRESALES_ASKS + GENERAL_PQ),
        (["bad_reviews"], ["is that a common problem with the {product}?", "has that been fixed in newer units?",
                           "does the warranty cover that if it happens?", "would the {product2} be a better choice?",
                           "is the {product2} more reliable?", "which model would you recommend instead?",
                           "tell me if newer batches still have that issue", "recommend something more reliable",
                           "let me know if the warranty covers that"]),
    ],
}


# Long-tail paraphrases. Each is used at most once in the whole file, the way
# unusual phrasings turn up once in a real inbox, so a model only sees many of
# them at test time if it generalises by meaning.
RARE: dict[str, list[str]] = {
    "order_status": [
        "has my {short} been swallowed by the postal system? Nothing for {wait}.",
        "just checking the {product} {is} actually en route and not sitting on a shelf.",
        "my porch has been empty all week. Any sign of {oid} on your side?",
        "is {oid} in the van yet or still being packed?",
        "could you ping the carrier? My box seems to be wandering around the country.",
        "I keep staring at the status page and it never budges.",
        "is there an actual date I can plan around for {oid}?",
        "any movement on my purchase? It's gone very quiet.",
        "I've been stood up by the courier twice now. Is it coming tomorrow?",
        "when can I realistically expect to unbox the {short}?",
        "did {oid} ship out, or is it still waiting for stock?",
        "the parcel status has said 'in transit' since {since}. Is it stuck?",
        "how far away is my {short} right now?",
        "is it normal that the order hasn't budged for {wait}?",
        "my gift was meant to be here by now. Is it still on the road?",
        "could you confirm the {short} {has} left your depot?",
        "I'd like a rough timeline for when {oid} lands on my doorstep.",
        "no knock at the door, no card, nothing. What's the latest on {oid}?",
        "it's been radio silence since the confirmation email. Is my stuff on its way?",
        "would you mind checking if my {short} got handed to a neighbour?",
        "nothing turned up yet. Did the van take it back to the hub?",
        "do you have news on the shipping progress for {oid}?",
        "the carrier site shows an error for my reference number. Is {oid} moving?",
        "my order seems to be in limbo. Can you look?",
        "I'm planning my week around this, so when {is} the {short} due?",
        "still waiting on the postie for {oid}. Any news?",
        "could the {short} have been misrouted? It's overdue.",
        "it says dispatched, but the courier says they never received it. Who's right?",
        "can I expect the parcel before the weekend?",
        "has anybody actually sent my {short} out yet?",
        "I'm still refreshing my inbox for a dispatch email for {oid}.",
        "it's overdue by {wait}. Is it held up somewhere?",
    ],
    "refund_request": [
        "I'd like the cost of the {short} restored to my card.",
        "please put the {amount} back where it came from.",
        "can I be reimbursed now that the box is back in your hands?",
        "I think I'm owed money for the {short} I posted back {when}.",
        "what's the hold-up with crediting me for the return?",
        "kindly return the payment for the {product}, it went back unopened.",
        "I'd like to be made whole for the broken {short}.",
        "your warehouse signed for my return {when}, so I'm waiting to be paid.",
        "could the amount for {oid} be transferred back to me?",
        "please reverse the sale, the {short} {is} already back with you.",
        "I want compensation for the order that never showed up.",
        "please hand back the {amount}, the item was never delivered.",
        "can the purchase price come back to my Mastercard?",
        "I'm out {amount} and have nothing to show for it. I'd like it returned.",
        "the return was logged {when}. When does my money come home?",
        "I'd like a credit to my bank for the {short} you took back.",
        "the {short} {was} unusable so I posted {it_obj} back. Please pay me out.",
        "rather than a gift card, can I have the actual cash back?",
        "please give me back what I spent on the {product}.",
        "I'd appreciate it if the payment for {oid} found its way back to me.",
        "money for the returned {short}, please. It's been {wait}.",
        "can you pay out the return for {oid}?",
        "I've had no reimbursement for the item you collected {when}.",
        "please settle up for the {short}, your courier took {it_obj} {when}.",
        "I just want the funds for {oid} returned to my PayPal balance.",
        "I'd like to recover the {amount} I paid, the parcel went missing.",
        "since you couldn't fix the {short}, I'd like to be paid back in full.",
        "the {short} {is} back in the box and with you. I'd like my payment restored.",
        "please repay the shipping fee too, not just the item.",
        "where do I stand on getting my cash for the return?",
    ],
    "cancel_order": [
        "please don't let {oid} go any further, I've had second thoughts.",
        "I'd like to pull out of this purchase before anything is packed.",
        "scratch that order I made {when_recent}, please.",
        "I no longer need the {short}, so please stop {oid} in its tracks.",
        "could you make {oid} disappear before dispatch?",
        "please tear up my order, I bought the wrong thing.",
        "I've changed my mind about the {product}, please don't process it.",
        "I'd rather not proceed with {oid}.",
        "please put a stop to my purchase, it hasn't left yet.",
        "don't send the {short}, I'm out.",
        "I'm backing out of {oid} before it ships.",
        "forget I ever ordered the {short}, please.",
        "can you reverse my order before it goes to the courier?",
        "I'd like my purchase of the {product} annulled.",
        "please cancel out {oid}, I found one locally.",
        "hold everything on {oid}. I don't want it after all.",
        "is it possible to take back the order I placed {when_recent}?",
        "please void my purchase of the {short}, wrong model.",
        "I'd like {oid} struck off before you post it.",
        "I won't be needing the {product} after all. Please halt it.",
        "can the order be called off? My boss already bought one.",
        "please don't fulfil {oid}, it was a mistake.",
        "I've reconsidered, please scrap the {short} order.",
        "I'd prefer the order didn't go ahead at all.",
        "kindly withdraw my order {oid}.",
        "no longer interested in the {product}. Please make sure it never ships.",
        "I clicked buy by mistake {when_recent}, please reverse that order.",
        "please stop the {short} from being sent, I'll buy elsewhere.",
        "is it too late to undo {oid}?",
        "please bin my last order.",
    ],
    "change_order": [
        "I'd like the {short} to land at {street} instead of my flat.",
        "could you tweak {oid} so it's the {colour} version?",
        "please redirect the parcel to my workplace, nobody is home in the day.",
        "I goofed on the house number for {oid}, it's {street}.",
        "could you bolt a {accessory} onto {oid} before it ships?",
        "I'd like to bump the quantity on {oid} to {qty}.",
        "please alter the recipient on {oid} to my partner's name.",
        "the {short} should be the {colour} one, not the one I clicked.",
        "I want to switch the shipping method on {oid} to express.",
        "can I add one more {unit} to the same parcel?",
        "please correct the flat number on my shipping label.",
        "mind shipping {oid} to my sister's place at {street}?",
        "I need {oid} to go to {street} now, I've just moved.",
        "can you switch the model on my order to the {product2}? It hasn't shipped.",
        "is there time to amend the postcode on {oid}?",
        "drop the {accessory} and keep the rest of {oid}, please.",
        "I'd like the {product} swapped for the {colour} one before it leaves.",
        "please put {street} as the destination for {oid}.",
        "I mistyped my street, can you fix it before dispatch?",
        "could you make it two of the {short} rather than one?",
        "can the parcel go to a pickup point instead of my home?",
        "please swap the plug type on {oid} to UK.",
        "I'd like to alter my order slightly, different colour please.",
        "please update the phone number on {oid} so the courier can reach me.",
        "my street name is spelled wrong on {oid}, could you sort it?",
        "can you tack on a {accessory} and bill me the difference?",
        "ship it to {street} rather than the address I typed.",
        "please upgrade {oid} to next-day shipping.",
    ],
    "billing_issue": [
        "there's a line on my bank app from Voltcart that I can't match to anything.",
        "I was debited twice, can you check your side?",
        "the figure on my invoice doesn't match the basket total.",
        "my credit card statement shows a second Voltcart payment.",
        "the VAT on my receipt looks off.",
        "your payment page keeps bouncing my card.",
        "I got stung for a delivery fee I never agreed to.",
        "my employer needs the receipt reissued with our company name.",
        "can you tell me why {amount} went out of my account {when}?",
        "the voucher didn't come off the total.",
        "I was billed in the wrong currency.",
        "there's a pending authorisation for {amount} that should have dropped off by now.",
        "the instalment amount is more than I signed up for.",
        "I see a mysterious {amount} fee on top of the price.",
        "the transaction failed on screen but my bank says it went through.",
        "could you itemise what the {amount} covers?",
        "I was overbilled for {oid}.",
        "why am I seeing two identical debits for one purchase?",
        "the price jumped between the basket and the final payment.",
        "could you check whether my payment for {oid} actually cleared?",
        "my invoice is missing the tax number.",
        "the amount taken was {amount}, but the confirmation email says {amount2}.",
        "my bank flagged your charge as suspicious, can you confirm it's genuine?",
        "the gift card balance wasn't used at checkout and my card paid the lot.",
        "I'm being charged monthly for something I thought was a one-off purchase.",
        "please look into the billing error on {oid}.",
    ],
    "account_access": [
        "the website has forgotten who I am.",
        "I'm stuck outside my profile with no way back in.",
        "the verification text goes to a number I gave up years ago.",
        "every attempt to sign on ends with an error.",
        "my credentials stopped working overnight.",
        "I can't get through the security check.",
        "the site says my email isn't on file, but I've shopped with you for years.",
        "the reset email never lands in my inbox.",
        "I think someone hijacked my profile.",
        "my authenticator app got wiped with my old phone.",
        "the site keeps kicking me out every few seconds.",
        "I'd like to switch the email tied to my profile.",
        "I can't remember which email I registered with.",
        "I'm shut out after too many tries.",
        "the one-time passcode is always rejected.",
        "Sign in with Apple stopped working for my profile.",
        "I typed my new password and it just says invalid details.",
        "can you help me regain access to my profile?",
        "my username isn't recognised anymore.",
        "the link to set a new password says it's invalid.",
        "I'd like to change the mobile number used for verification.",
        "the answers to my security questions don't work.",
        "I'm getting 'account suspended' when I try to get in.",
        "I never received the email to activate my profile.",
        "someone changed the email on my profile and now I can't get in.",
        "please help me get back into my Voltcart profile.",
    ],
    "technical_support": [
        "the {short} {is} acting up and I can't work out why: {it} {problem}.",
        "my {short} {has} given up the ghost.",
        "the {short} won't play nicely with {platform}.",
        "something's off with the {short}: {it} {problem}.",
        "the {product} {is} misbehaving again, {it} {problem}.",
        "I'm stumped. The {short} {problem}.",
        "the {short} {is} glitchy, {it} {problem}.",
        "every morning the {short} need{s} a hard reboot.",
        "is there a trick to stop the {short} cutting out?",
        "tried everything in the manual, the {short} still {flaw}.",
        "the {short} {has} been flaky since I plugged {it_obj} into a new socket.",
        "I think the latest patch broke the {short}.",
        "what's the proper way to reboot the {product}?",
        "the {short} seem{s} faulty, {it} {problem}.",
        "help, the {short} {is} bricked after the software update.",
        "the {short} used to be fine but now {it} {flaw}.",
        "could this be a settings issue? The {short} {problem}.",
        "the {product} {is} on the blink, {it} {problem}.",
        "I'm at a loss with the {short}, {it} {problem}.",
        "the {short} keep{s} glitching out on me.",
        "can't get the {short} to behave, {it} {problem}.",
        "the {short} {is} playing up.",
        "I'd like some troubleshooting help, the {short} {problem}.",
        "how do I get the {short} back to factory settings?",
        "the {short} {is} doing something odd: {it} {problem}.",
    ],
    "product_question": [
        "would the {product} suit a small studio flat?",
        "{is} the {product} any good for someone who travels a lot?",
        "how {does} the {product} stack up against the {product2}?",
        "how long do people usually keep the {product} before upgrading?",
        "do you expect the {product} to be restocked soon?",
        "{is} the {product} worth the money?",
        "would you recommend the {product} for a beginner?",
        "can the {product} be used abroad with a different plug?",
        "which {short} would you suggest for a teenager?",
        "I'm torn between the {product} and the {product2}. Thoughts?",
        "any deals on the {product} coming up?",
        "what sort of guarantee comes with the {product}?",
        "{is} the {product} on display in any shop so I can try it?",
        "{is} the {product} easy to carry around?",
        "are there any bundles that include the {product}?",
        "can I buy the {product} as a gift and have it shipped to {country}?",
        "what accessories go well with the {product}?",
        "{does} the {product} come in other finishes?",
        "{is} the {product} a good fit if I use {platform}?",
        "{is} the {product} the newest generation?",
        "do you sell the {product} refurbished at a discount?",
        "how long will the {product} get updates?",
        "before I pay, {is} the {product} actually in your warehouse?",
        "would the {product} make sense for a home office?",
        "can I reserve {a_unit} until payday?",
    ],
}


# ---------------------------------------------------------------------------
# Composition engine
# ---------------------------------------------------------------------------

SLOT_RE = re.compile(r"\{(\w+)\}")


def new_context(rng: random.Random) -> Ctx:
    """Bind one product per message plus the verb forms that agree with it."""
    name, short, cat, plural = rng.choice(PRODUCTS)
    unit = f"pair of {short}" if plural else short  # what "a second ..." counts
    ctx = {"product": name, "short": short, "cat": cat, "unit": unit,
           "a_unit": ("an " if unit[0] in "aeiou" else "a ") + unit}
    keys = ("it", "it_obj", "itself", "is", "has", "does", "was", "s")
    if plural:
        ctx.update(zip(keys, ("they", "them", "themselves", "are", "have", "do", "were", "")))
    else:
        ctx.update(zip(keys, ("it", "it", "itself", "is", "has", "does", "was", "s")))
    return ctx


def fill(template: str, intent: str, rng: random.Random, ctx: Ctx, depth: int = 0) -> str:
    """Replace every {slot} in a template, reusing values already bound in ctx."""
    def repl(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in ctx:
            pool = INTENTS[intent].get(key) or SHARED.get(key)
            if pool is None:  # a slot borrowed from another intent's pools
                pool = next(d[key] for d in INTENTS.values() if key in d)
            raw = pool(rng, ctx) if callable(pool) else rng.choice(pool)
            ctx[key] = fill(raw, intent, rng, ctx, depth + 1) if depth < 6 else raw
        return ctx[key]
    return SLOT_RE.sub(repl, template)


def capitalise_sentences(text: str) -> str:
    """Upper-case the first letter of the text and of each new sentence."""
    text = text[:1].upper() + text[1:]
    return re.sub(r"([.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


def pick_context(intent: str, rng: random.Random) -> str:
    """Choose a wrapper sentence: one written for the intent (rarely) or a neutral one."""
    shared = "neutral_context" if intent == "product_question" else "order_context"
    r = rng.random()
    if r < P_OWN_CONTEXT / 2:
        return rng.choice(INTENTS[intent]["context"])
    if r < P_OWN_CONTEXT:
        return rng.choice(INTENTS[intent]["situation"])
    return "{neutral_context}" if r < (1 + P_OWN_CONTEXT) / 2 else "{%s}" % shared


def pick_detail(intent: str, rng: random.Random) -> str:
    """Choose a follow-up detail: intent-specific or neutral."""
    return rng.choice(INTENTS[intent]["detail"]) if rng.random() < P_OWN_CONTEXT else "{neutral_detail}"


# Capitalised words that must stay capitalised when a sentence follows "Hi,".
PROPER_STARTS = {p[0].split()[0] for p in PRODUCTS} | {
    "Voltcart", "PayPal", "Klarna", "Face", "Hermes", "Royal", "La", "Monday", "Tuesday", "Friday",
    "March", "June", "Sept", "Black"}


def join_parts(parts: list[str]) -> str:
    """Join sentences; after a comma greeting, continue the sentence in lower case."""
    text = parts[0]
    for part in parts[1:]:
        first = part.split(" ", 1)[0]
        after_greeting = text.endswith(",") or text in ("hi", "Hi")
        if after_greeting and first[1:] == first[1:].lower() and first not in PROPER_STARTS \
                and first != "I" and not first.startswith("I'"):
            part = part[0].lower() + part[1:]
        text += " " + part
    return text


def compose(intent: str, core: str, rng: random.Random, ctx: Ctx, style: str,
            self_contained: bool) -> str:
    """Wrap a core request in greeting, context, details, mood and sign-off.

    A self-contained core already describes its situation, so it only gets
    neutral context sentences that cannot contradict it.
    """
    def f(template: str) -> str:
        return fill(template, intent, rng, ctx)

    def context() -> str:
        if not self_contained:
            return f(pick_context(intent, rng))
        shared = "neutral_context" if intent == "product_question" else "order_context"
        return f("{%s}" % rng.choice(["neutral_context", shared]))

    request = f(core)
    parts: list[str] = []
    if style == "oneliner":
        if rng.random() < 0.2:
            parts.append(f("{greeting}"))
        if not self_contained and rng.random() < 0.25:
            parts.append(f(rng.choice(INTENTS[intent]["situation"])))
        parts.append(request)
        if rng.random() < 0.15:
            parts.append(f("{closing}"))
    elif style == "medium":
        if rng.random() < 0.6:
            parts.append(f("{greeting}"))
        if rng.random() < (0.2 if self_contained else 0.6):
            parts.append(context())
        parts.append(request)
        if rng.random() < 0.3:
            parts.append(f(pick_detail(intent, rng)))
        if rng.random() < 0.5:
            parts.append(f("{closing}"))
    else:  # long
        parts.append(f("{greeting}"))
        for _ in range(2 if rng.random() < 0.4 else 1):
            sentence = context()
            if sentence not in parts:
                parts.append(sentence)
        parts.append(request)
        parts.append(f(pick_detail(intent, rng)))
        if rng.random() < 0.3:  # some people write a lot
            extra = f("{neutral_detail}")
            if extra not in parts:
                parts.append(extra)
        if rng.random() < 0.5:
            parts.append(f("{mood}"))
        if rng.random() < 0.8:
            parts.append(f("{signoff}") if rng.random() < 0.3 else f("{closing} {signoff_after}"))
        else:
            parts.append(f("{closing}"))
    if rng.random() < 0.04:  # an all-caps outburst right after the request
        parts.insert(parts.index(request) + 1, f("{shout}"))
    return capitalise_sentences(join_parts(parts))


# ---------------------------------------------------------------------------
# Template budget and builders for the combinatorial families
# ---------------------------------------------------------------------------

class TemplateBudget:
    """Caps how often each template may be used, so no phrasing dominates the file."""

    def __init__(self) -> None:
        self.used: dict[str, int] = {}

    def pick(self, rng: random.Random, key: str, options: list[str], cap: int) -> str | None:
        """Return a random option used fewer than cap times under key, or None."""
        free = [o for o in options if self.used.get(f"{key}|{o}", 0) < cap]
        if not free:
            return None
        choice = rng.choice(free)
        self.used[f"{key}|{choice}"] = self.used.get(f"{key}|{choice}", 0) + 1
        return choice


def build_contrastive(intent: str, rng: random.Random, budget: TemplateBudget) -> str | None:
    """Return a hand-written contrastive message or a 'rule out X' clause + own request."""
    if rng.random() < 0.25:
        return budget.pick(rng, intent + "/contrastive", CONTRASTIVE[intent], CAP)
    if intent == "product_question":
        ruled_out, opener = None, rng.choice(PRESALES_OPENERS)
    else:
        ruled_out = rng.choice(RULE_OUTS_FOR[intent])
        opener = rng.choice(RULE_OUT[ruled_out])
    conflicts = RULE_OUT_CONFLICTS.get(ruled_out or "", ())
    options = [o for o in INTENTS[intent]["ask"] + INTENTS[intent]["oblique"]
               if not any(word in o.lower() for word in conflicts)]
    own = budget.pick(rng, intent + "/contrast-own", options, 2)
    if own is None:
        return None
    return opener + ". " + own


def build_framed(intent: str, rng: random.Random, budget: TemplateBudget) -> str | None:
    """Return one or two situation sentences plus a request that makes sense after them."""
    situations, requests = rng.choice(SCENARIOS[intent])
    request = budget.pick(rng, intent + "/framed", requests, CAP_REQUEST)
    if request is None:
        return None
    group = rng.choice(situations)
    two = group in TWO_SENTENCE_GROUPS and rng.random() < P_TWO_SITUATIONS
    situation = " ".join(rng.sample(SITUATIONS[group], 2 if two else 1))
    if not request.endswith("?"):  # questions stand alone, verb phrases get a frame
        request = rng.choice(FRAMES).replace("{vp}", request)
    return situation + " " + request


# ---------------------------------------------------------------------------
# Typing noise
# ---------------------------------------------------------------------------

KEYBOARD_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
NEIGHBOURS: dict[str, str] = {
    ch: row[max(0, i - 1):i] + row[i + 1:i + 2]
    for row in KEYBOARD_ROWS for i, ch in enumerate(row)
}

SLANG: list[tuple[str, str]] = [
    (r"\bplease\b", "pls"), (r"\bPlease\b", "Pls"), (r"\byou\b", "u"), (r"\bthanks\b", "thx"),
    (r"\bThanks\b", "Thx"), (r"\bdon't\b", "dont"), (r"\bcan't\b", "cant"), (r"\bI'm\b", "im"),
    (r"\bwon't\b", "wont"), (r"\bit's\b", "its"), (r"\bdoesn't\b", "doesnt"), (r"\byour\b", "ur"),
    (r"\bhaven't\b", "havent"), (r"\bI've\b", "ive"), (r"\bbecause\b", "cause"),
]


def typo_word(word: str, rng: random.Random) -> str:
    """Apply one keyboard slip to a word: neighbour key, drop, double or swap."""
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(["neighbour", "drop", "double", "swap"])
    if op == "neighbour" and word[i].lower() in NEIGHBOURS:
        return word[:i] + rng.choice(NEIGHBOURS[word[i].lower()]) + word[i + 1:]
    if op == "drop":
        return word[:i] + word[i + 1:]
    if op == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def add_typos(text: str, rng: random.Random) -> str:
    """Inject 1-3 keyboard slips and, often, chat abbreviations into a message."""
    if rng.random() < 0.6:
        for pattern, repl in SLANG:
            if rng.random() < 0.7:
                text = re.sub(pattern, repl, text)
    tokens = text.split(" ")
    candidates = [i for i, t in enumerate(tokens) if t.isalpha() and len(t) >= 4]
    for _ in range(min(len(candidates), rng.randint(1, 3))):
        i = rng.choices(candidates, weights=[len(tokens[c]) ** 2 for c in candidates])[0]
        tokens[i] = typo_word(tokens[i], rng)  # longer words are mistyped more often
    return " ".join(tokens)


def restyle(text: str, rng: random.Random) -> str:
    """Vary casing and end punctuation the way people type in a hurry."""
    r = rng.random()
    if r < 0.12:
        text = text.lower()
    elif r < 0.14 and len(text.split()) <= 8:
        text = text.upper()
    r = rng.random()
    if r < 0.10 and text.endswith("?"):
        text += rng.choice(["?", "??"])
    elif r < 0.15 and text.endswith("."):
        text = text[:-1] + rng.choice(["!!", "!!!"])
    elif r < 0.25 and text.endswith("."):
        text = text[:-1]
    return text


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------

def dedupe_key(text: str) -> str:
    """Normalise a message so trivial case/punctuation variants count as duplicates."""
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


FALLBACK = ["framed", "oblique", "plain", "rare"]  # never ambiguous or contrastive, to keep their shares


def draw_core(intent: str, family: str, rng: random.Random, budget: TemplateBudget) -> str | None:
    """Return a core template of the given family, or None if its budget is used up."""
    if family == "rare":
        return budget.pick(rng, intent + "/rare", RARE[intent], 1)
    if family == "ambiguous":
        return budget.pick(rng, intent + "/ambiguous", AMBIGUOUS[intent], CAP)
    if family == "contrastive":
        return build_contrastive(intent, rng, budget)
    if family == "framed":
        return build_framed(intent, rng, budget)
    key = "oblique" if family == "oblique" else "ask"
    return budget.pick(rng, f"{intent}/{key}", INTENTS[intent][key], CAP)


def choose_family(rng: random.Random) -> str:
    """Draw a message family with the configured probabilities."""
    if rng.random() < P_RARE:
        return "rare"
    r = rng.random()
    for family, p in (("ambiguous", P_AMBIGUOUS), ("contrastive", P_CONTRASTIVE), ("framed", P_FRAMED)):
        if r < p:
            return family
        r -= p
    return "oblique" if rng.random() < P_OBLIQUE else "plain"


def make_message(intent: str, rng: random.Random, budget: TemplateBudget) -> tuple[str, str] | None:
    """Generate one message for an intent; returns (text, kind) or None when out of templates."""
    ctx = new_context(rng)
    short = budget.pick(rng, intent + "/short", INTENTS[intent]["short"], 2) \
        if rng.random() < P_SHORT else None
    if short is not None:  # a bare fragment such as "refund pls"
        kind, text = "short", fill(short, intent, rng, ctx)
    else:
        core, kind = None, choose_family(rng)
        for kind in [kind] + FALLBACK:  # fall back if a family's templates are used up
            core = draw_core(intent, kind, rng, budget)
            if core is not None:
                break
        if core is None:
            return None
        style = rng.choices(list(STYLE_WEIGHTS), weights=list(STYLE_WEIGHTS.values()))[0]
        text = compose(intent, core, rng, ctx, style, kind in ("framed", "ambiguous", "contrastive"))
    text = restyle(text, rng)
    if rng.random() < P_TYPOS:
        text, kind = add_typos(text, rng), kind + "+typo"
    return text.strip(), kind


def generate(seed: int = SEED) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Build the de-duplicated, shuffled (text, label) rows and count message kinds."""
    rng = random.Random(seed)
    budget = TemplateBudget()
    seen: set[str] = set()
    rows: list[tuple[str, str]] = []
    kinds = dict.fromkeys(["short", "plain", "oblique", "rare", "framed", "contrastive", "ambiguous", "typo"], 0)
    for intent, target in TARGETS.items():
        made, attempts = 0, 0
        while made < target and attempts < target * 50:
            attempts += 1
            message = make_message(intent, rng, budget)
            if message is None:
                continue
            text, kind = message
            key = dedupe_key(text)
            if len(key.split()) < 2 or key in seen:
                continue
            seen.add(key)
            rows.append((text, intent))
            made += 1
            family, _, typo = kind.partition("+")
            kinds[family] += 1
            kinds["typo"] += bool(typo)
        if made < target:
            raise RuntimeError(f"ran out of templates for {intent}: {made}/{target}")
    rng.shuffle(rows)
    return rows, kinds


def main() -> None:
    """Write support_intents.csv next to this script and print a summary."""
    rows, kinds = generate()
    with OUT_PATH.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {OUT_PATH}")
    for kind, count in kinds.items():
        print(f"  {kind:12s} {count:5d} ({count / len(rows):.1%})")


if __name__ == "__main__":
    main()
