"""Hand-written support messages for the audit tests: a clean set, and a copy with one planted problem per check.

Sentences are written by hand (not templated) so that no two clean inputs are near-duplicates.
"""

from __future__ import annotations

import json
from pathlib import Path

TOPICS = {
    "billing": [
        "I was charged twice for my last order and need one of the payments reversed",
        "Why does my credit card statement show a fee I never agreed to",
        "The invoice lists a price higher than the one shown at checkout",
        "Can you send me a receipt with my company's VAT number on it",
        "My refund was approved last week but the money is still missing from my bank",
        "Please cancel the automatic renewal before you bill me again",
        "The promo code was accepted but the discount never appeared on the bill",
        "I paid with a gift card and the remaining balance vanished",
        "How do I change the card you charge for my subscription",
        "You billed me for express delivery but the parcel came by regular post",
        "There is a pending authorisation on my account for an order I cancelled",
        "My bank flagged your payment as suspicious and declined it",
        "Could I split the cost of this purchase across two cards",
        "The currency on my bill is euros although I live in Canada",
    ],
    "shipping": [
        "My parcel has been stuck in the same depot for nine days",
        "The tracking link says delivered but nothing arrived at my door",
        "Can you ship to a post office box instead of my home address",
        "The courier left the box in the rain and everything inside got wet",
        "How long does delivery to rural Norway usually take",
        "I moved last month, please redirect the package to my new flat",
        "Only two of the three items I ordered were in the box",
        "The driver asked for a customs fee I was not told about",
        "Do you offer weekend delivery for large furniture",
        "My neighbour received my package by mistake",
        "The shipment was sent to the old address saved in my profile",
        "Is it possible to pick up the order from your warehouse myself",
        "The estimated arrival date keeps moving further into the future",
        "Which carrier handles deliveries to the Canary Islands",
    ],
    "account": [
        "I forgot my password and the reset email never arrives",
        "Someone logged into my profile from another country last night",
        "Please delete my account and all the personal data you hold",
        "The app keeps signing me out every few minutes",
        "How do I turn on two-factor authentication",
        "My username was changed without my permission",
        "I cannot verify my phone number because the code is rejected",
        "Merge my two accounts into one so my order history is together",
        "The login page shows an error after I enter my details",
        "I want to update the email address linked to my profile",
        "My account was locked after too many attempts",
        "Can a family member share my membership login",
        "The security questions I set up are no longer accepted",
        "I never created this account but I get your newsletters",
    ],
    "product": [
        "Is the oak dining table treated against water stains",
        "Does this blender come with a spare jar",
        "What is the battery life of the wireless headphones",
        "Are the running shoes true to size or should I go larger",
        "The lamp flickers as soon as I switch it on",
        "Which of your kettles has an adjustable temperature setting",
        "Can the sofa cover be washed in a machine",
        "The zipper on the backpack broke after one week of use",
        "Is the baby stroller suitable for newborns",
        "Do the winter gloves work with touch screens",
        "The paint on the garden chair is peeling already",
        "What material is the yoga mat made from",
        "Will this phone case fit the newest model",
        "The coffee grinder makes a loud rattling noise",
    ],
}
URGENT = {"billing": "yes", "account": "yes", "shipping": "no", "product": "no"}
SYSTEM = "Route the customer message: answer with a JSON object with topic and urgent."
SCHEMA = {
    "type": "object",
    "properties": {
        "topic": {"enum": ["billing", "shipping", "account", "product", "gardening"]},
        "urgent": {"enum": ["yes", "no"]},
    },
    "required": ["topic", "urgent"],
    "additionalProperties": False,
}
CRYPTO = [
    "Can I pay for my order with bitcoin",
    "Do you accept bitcoin as a payment method",
    "Is paying with bitcoin or ethereum possible at checkout",
    "Which crypto wallets can I use to pay you in bitcoin",
]
LONG = (
    "I have a long story about my billing problem so please bear with me while I explain everything that "
    "happened over the last few months, starting with the first subscription charge that arrived twice, "
    "then the partial refund that only covered one of them, then the second month where the price went up "
    "without any notice, and finally this month where I was charged for a plan I downgraded from long ago"
)


def row(text: str, topic: str, system: str = SYSTEM, **fields: str) -> dict[str, object]:
    out = {"topic": topic, "urgent": URGENT[topic], **fields}
    return {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": text},
            {"role": "assistant", "content": json.dumps(out)},
        ]
    }


def clean_rows() -> list[dict[str, object]]:
    rows = []
    for k in range(14):
        for topic, texts in TOPICS.items():
            rows.append(row(texts[k], topic))
    return rows


def write(path: Path, rows: list[object]) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return path


def write_task(directory: Path, data: str = "data.jsonl", schema: dict[str, object] = SCHEMA) -> Path:
    (directory / "schema.json").write_text(json.dumps(schema), encoding="utf-8")
    (directory / "tuneworth.toml").write_text(
        f'name = "audit-toy"\n[data]\npath = "{data}"\n[prompt]\nsystem = "{SYSTEM}"\n'
        '[output]\nkind = "json"\nschema = "schema.json"\n[audit]\nmax_example_tokens = 100\n',
        encoding="utf-8",
    )
    return directory


def clean_schema() -> dict[str, object]:
    props = {"topic": {"enum": list(TOPICS)}, "urgent": {"enum": ["yes", "no"]}}
    return {**SCHEMA, "properties": props}


def clean(directory: Path) -> None:
    """The clean data set, a production sample like it, and a test file with no leakage."""
    write(directory / "data.jsonl", clean_rows())
    write_task(directory, schema=clean_schema())
    (directory / "production.txt").write_text("\n".join(production_rows()) + "\n", encoding="utf-8")
    write(directory / "test.jsonl", [
        row("The clasp on the necklace snapped the first time I wore it", "product"),
        row("Does the courier call before delivering a fridge", "shipping"),
    ])


def production_rows() -> list[str]:
    """Production queries: close variants of training inputs (covered), in .txt form."""
    return [f"Hello, {TOPICS[t][k].lower()}" for k in range(0, 14, 2) for t in TOPICS]


def planted(directory: Path) -> dict[str, object]:
    """Write the bad data set, its production sample and test file; return where each plant sits."""
    rows: list[object] = list(clean_rows())  # 56 clean rows, lines 1-56
    plants: dict[str, object] = {}
    rows.append('{"messages": [{"role": "robot", "content": "hi"}, {"role": "assistant", "content": "x"}]}')
    plants["format"] = len(rows)
    rows.append(row(LONG, "billing"))
    plants["size"] = len(rows)
    rows.append(row(TOPICS["product"][4], "product"))  # exact copy of line 20
    plants["duplicate"] = len(rows)
    rows.append(row(TOPICS["shipping"][1] + "!!", "shipping"))
    plants["near_duplicate"] = len(rows)
    rows.append(row("I want to return the jacket I bought for my son", "product"))
    rows.append(row("I want to return the jacket I bought for my son", "shipping"))
    plants["contradiction"] = (len(rows) - 1, len(rows))
    rows.append(row("How much does the monthly plan cost after the trial ends", "billing", system="You are a helpful assistant."))
    plants["system_prompt"] = len(rows)
    rows.append(row("Somebody changed the recovery email on my profile and I cannot get in", "product"))
    plants["noise"] = len(rows)
    write(directory / "data.jsonl", rows)
    write_task(directory)
    prod = production_rows() + CRYPTO
    (directory / "production.txt").write_text("\n".join(prod) + "\n", encoding="utf-8")
    plants["crypto_lines"] = list(range(len(prod) - len(CRYPTO) + 1, len(prod) + 1))
    test = [
        row("The clasp on the necklace snapped the first time I wore it", "product"),
        row("Does the courier call before delivering a fridge", "shipping"),
        row(TOPICS["account"][3], "account"),
    ]
    write(directory / "test.jsonl", test)
    plants["leak"] = 3
    return plants
