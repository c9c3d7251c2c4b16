"""Write tests/data/redaction_holdout.jsonl: a hand-written held-out set, never used for tuning.

The main set (make_redaction_cases.py) was used while building the redactor, so its figures are
optimistic.  These utterances were written afterwards, in different phrasings, and are scored
once to estimate how the redactor does on speech it was not tuned on.  PII is marked inline as
``<<TYPE|words>>``; the card numbers are Luhn-valid test numbers from a seeded generator.

Run:  .venv/bin/python bench/make_redaction_holdout.py
      .venv/bin/python bench/redaction_eval.py --cases tests/data/redaction_holdout.jsonl
"""

from __future__ import annotations

import json
import re
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "redaction_holdout.jsonl"

UTTERANCES = [
    # cards
    "Yep, the card's <<CARD|4666 1760 3137 2159>> and it's in my name.",
    "Okay so it starts <<CARD|four zero one zero, nine two eight one, five nine zero one, three nine six two>>.",
    "Got a pen? <<CARD|5384-8372-6167-5136.>>",
    "I'll use the other one, <<CARD|5016 849340722470>>.",
    "<<CARD|3780 083740 71881>>, that's the American Express.",
    "Number's <<CARD|3420 707413 74847,>> I think that's right.",
    "The old Visa was <<CARD|4831067924708.>>",
    "Um, <<CARD|6138 7837 5762 8331 258>>, it's a Maestro.",
    "Can you try <<CARD|two three eight one, four double four, nine four five four, four three seven two>>?",
    "So it's <<CARD|49 31 58 27 94 01 99 53>>.",
    "Hmm, <<CARD|five oh oh nine seven seven three seven nine seven two seven six one one two>>.",
    "Right, Amex, <<CARD|37108 62019 13274.>>",
    "It reads <<CARD|4666 1760, 3137 2159>> on the front.",
    "Take it off <<CARD|4010 9281 5901 3962>> please, not the other one.",
    # cvv / expiry
    "What's on the back? Oh, <<CVV|four seven one>>.",
    "The little code on the back is <<CVV|908>>.",
    "CVV two, <<CVV|three three one>>.",
    "And the security code, it's <<CVV|0 4 2>>.",
    "The card expires at the end of <<EXPIRY|August 2028>>.",
    "Expiry is <<EXPIRY|11/29>>.",
    "It's valid till <<EXPIRY|oh three, twenty nine>>.",
    "The expiry date, um, <<EXPIRY|ten twenty seven>>.",
    "Expires <<EXPIRY|December twenty six>>.",
    "And expiry <<EXPIRY|0730>>.",
    # account / sort code
    "The account I want to close is <<ACCOUNT|40118823>>.",
    "Account no. <<ACCOUNT|three one four one five nine two six>>.",
    "Could you check account <<ACCOUNT|0072 3319>> for me?",
    "My current account, it's <<ACCOUNT|seven seven double two one oh four five>>.",
    "Sort code's <<SORT_CODE|40-47-84>>.",
    "Sort code <<SORT_CODE|oh nine, double one, two six>>.",
    "It's sort code <<SORT_CODE|30 96 26>> and account <<ACCOUNT|11902784>>.",
    # national ids
    "My social's <<NATIONAL_ID|219-09-9999>>.",
    "Social security, <<NATIONAL_ID|four three two, one one, eight seven six five>>.",
    "NI number <<NATIONAL_ID|JT 48 29 17 B>>.",
    "My national insurance is <<NATIONAL_ID|RB773214D>>.",
    # phones
    "Best to ring <<PHONE|07700 900461>> after six.",
    "Call me back on <<PHONE|oh seven seven double oh, nine double oh, three one four>>.",
    "My work number is <<PHONE|+44 113 496 0274>>.",
    "It's <<PHONE|(202) 555-0147>>, that's my cell.",
    "You can reach me at <<PHONE|0117 496 0123>>.",
    "My landline, <<PHONE|01632 960 558>>.",
    "Mobile's <<PHONE|seven seven double oh nine double oh four two six>>, sorry, with a zero at the start.",
    # e-mails
    "Email's <<EMAIL|mark.jenkins@fastmail.com>>.",
    "It's <<EMAIL|lucy underscore b at outlook dot com>>.",
    "Send it over to <<EMAIL|r dot singh at company dot co dot uk>>.",
    "My email is <<EMAIL|tom1987 at hotmail.co.uk>>.",
    "The address is <<EMAIL|annie.w at btinternet dot com>>, thanks.",
    # names
    "Morning, you're through to <<NAME|Gemma>>, how can I help?",
    "Hi <<NAME|Gemma>>, it's <<NAME|Robert Hughes>> here.",
    "Could I have your full name please? Yes, <<NAME|Agnieszka Nowak>>.",
    "I was talking to a lady called <<NAME|Bernadette>> last week.",
    "Mr <<NAME|Okonkwo>> phoned earlier about the same thing.",
    "The name on the account is <<NAME|Fiona Campbell>>.",
    "This is <<NAME|Daniel>> from the retentions team.",
    "Hello Mrs <<NAME|Henderson>>, thanks for holding.",
    "Sure, it's <<NAME|Hiroshi Tanaka>>, T A N A K A.",
    "My surname is <<NAME|Featherstone>>.",
    "Can you ask <<NAME|Kevin>> to call me?",
    "I'm <<NAME|Ahmed>>, I'm calling for my mum.",
    # several
    "It's <<NAME|Paul Green>>, card <<CARD|4666176031372159>>, expiry <<EXPIRY|09/27>>.",
    "Okay, <<CARD|5384 8372 6167 5136>>, <<EXPIRY|oh four twenty eight>>, and <<CVV|five five two>>.",
    "Account <<ACCOUNT|55012388>>, sort code <<SORT_CODE|20 45 77>>, name <<NAME|Joanna Reid>>.",
    # no PII
    "That's about forty five minutes I've been on hold.",
    "I've got two cards and neither of them work.",
    "Is it the sixteen digit number on the front?",
    "I need to change the expiry on my direct debit.",
    "The code on the screen says E 12.",
    "We moved house in 2018.",
    "It's seven thirty in the morning here.",
    "Your reference is 55102.",
    "It comes to 119 pounds 99.",
    "I got 3 texts about it.",
    "Channel 101 isn't working.",
    "I'm on the 50 meg plan.",
    "Can you read me back the last four digits?",
    "Oh, wait, one more question.",
    "My mum is 82 and she can't use the app.",
    "The parcel weighed about 2 kilos.",
    "Okay, I'll hold.",
    "Is the account in credit or debit right now?",
    "Can you send the code to my phone?",
    "We'll call you within 24 hours.",
    "It's the March bill, the one for 62 pounds.",
    "Thanks for your patience, I really appreciate it.",
    "Why does it say 1 of 3 on the statement?",
    "I've had the phone for 18 months.",
    "Please hold while I transfer you.",
]

_MARK = re.compile(r"<<([A-Z_]+)\|(.+?)>>")


def parse(text: str) -> dict:
    words: list[str] = []
    pii = []
    pos = 0
    for m in _MARK.finditer(text):
        words += [" " + w for w in text[pos : m.start()].split()]
        # punctuation glued right after the marker belongs to the marked word (Whisper attaches it)
        inner = m.group(2).split()
        idx = list(range(len(words), len(words) + len(inner)))
        words += [" " + w for w in inner]
        typ = m.group(1)
        raw = m.group(2)
        value = re.sub(r"\D", "", raw) if typ != "NAME" and typ != "EMAIL" else raw
        pii.append({"type": typ, "words": idx, "value": value})
        pos = m.end()
        tail = re.match(r"^[^\s<]+", text[pos:])
        if tail:
            words[-1] += tail.group(0)
            pos += tail.end()
    words += [" " + w for w in text[pos:].split()]
    return {"words": words, "pii": pii}


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as fh:
        for k, u in enumerate(UTTERANCES, 1):
            case = parse(u)
            fh.write(json.dumps({"id": f"holdout-{k:03d}", **case}, ensure_ascii=False) + "\n")
    print(f"wrote {len(UTTERANCES)} utterances to {OUT}")


if __name__ == "__main__":
    main()
