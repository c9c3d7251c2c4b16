"""Write tests/data/redaction_cases.jsonl: hand-written utterances x seeded PII values.

The sentences below were written for this set (nothing is copied from a dataset).  The script
only fills the placeholders with seeded values -- Luhn-valid test card numbers, phone numbers in
reserved drama/test ranges, made-up names -- and renders each value the way Whisper writes it:
digits, grouped digits, hyphens, commas, spoken words ("double four", "oh"), mixes, fillers.

Run:  .venv/bin/python bench/make_redaction_cases.py   (deterministic: same file every time)

Each line: {"id", "words": [" My", " card", ...], "pii": [{"type", "words": [indices], "value"}]}.
``value`` is what must not survive redaction (digits for numbers, text for names/e-mails).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "redaction_cases.jsonl"
rng = random.Random(20261122)

DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TENS_WORDS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy", 8: "eighty",
              9: "ninety"}
TEEN_WORDS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
              "eighteen", "nineteen"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]


# ------------------------------------------------------------------ values
def luhn_complete(prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)


def card_number(kind: str) -> str:
    if kind == "visa":
        return luhn_complete("4", 16)
    if kind == "visa13":
        return luhn_complete("4", 13)
    if kind == "mc":
        return luhn_complete(rng.choice(["51", "52", "53", "54", "55", "2221", "2720"]), 16)
    if kind == "amex":
        return luhn_complete(rng.choice(["34", "37"]), 15)
    if kind == "maestro19":
        return luhn_complete("6759", 19)
    raise ValueError(kind)


def digits(n: int, first: str = "123456789") -> str:
    return rng.choice(first) + "".join(rng.choice("0123456789") for _ in range(n - 1))


# ------------------------------------------------------------------ renderings
def spoken_digit(d: str, zero: str | None = None) -> str:
    if d == "0":
        return zero or rng.choice(["zero", "oh", "oh"])
    return DIGIT_WORDS[int(d)]


def spoken(s: str, doubles: bool = True) -> list[str]:
    """Digit by digit, the way people read numbers, with 'double'/'triple' for repeats."""
    out: list[str] = []
    i = 0
    zero = rng.choice(["zero", "oh"])
    while i < len(s):
        j = i
        while j < len(s) and s[j] == s[i]:
            j += 1
        run = j - i
        if doubles and run >= 3 and rng.random() < 0.5:
            out += ["triple", spoken_digit(s[i], zero)]
            i += 3
        elif doubles and run >= 2 and rng.random() < 0.6:
            out += ["double", spoken_digit(s[i], zero)]
            i += 2
        else:
            out.append(spoken_digit(s[i], zero))
            i += 1
    return out


def pairs_spoken(s: str) -> list[str]:
    """'forty-one eleven' style for a digit string of even length (no leading-zero pairs)."""
    out: list[str] = []
    for k in range(0, len(s), 2):
        p = s[k : k + 2]
        if len(p) == 1 or p[0] == "0":
            out += [spoken_digit(c, "oh") for c in p]
        elif p[0] == "1":
            out.append(TEEN_WORDS[int(p[1])])
        elif p[1] == "0":
            out.append(TENS_WORDS[int(p[0])])
        else:
            out.append(f"{TENS_WORDS[int(p[0])]}-{DIGIT_WORDS[int(p[1])]}")
    return out


def group(s: str, sizes: list[int]) -> list[str]:
    out, k = [], 0
    for n in sizes:
        if k < len(s):
            out.append(s[k : k + n])
        k += n
    if k < len(s):
        out.append(s[k:])
    return out


def punctuate(groups: list[str], sep: str) -> list[str]:
    return [g + sep for g in groups[:-1]] + [groups[-1]]


NO_SPACE = "\x00"  # marks a word piece that faster-whisper emits without a leading space


def whisper_pieces(token: str) -> list[str]:
    """faster-whisper starts a new word at each punctuation token: "5,384-8,372" -> "5" ",384" "-8" ",372"."""
    parts = re.findall(r"^[^,.\-/]+|[,.\-/][^,.\-/]*", token)
    return [parts[0]] + [NO_SPACE + p for p in parts[1:]]


def thousands(num: str) -> str:
    return f"{int(num):,}" if num[0] != "0" else num


def render_card(num: str, style: str) -> list[str]:
    sizes = [4, 6, 5] if len(num) == 15 else [4, 4, 4, 4, 3] if len(num) == 19 else [4, 4, 4, 4]
    g = group(num, sizes)
    if style == "plain":
        return [num]
    if style == "grouped":
        return g
    if style == "hyphen":
        return ["-".join(g)]
    if style == "hyphen_split":
        return ["-".join(g[:2]), "-".join(g[2:])]
    if style == "comma":
        return punctuate(g, ",")
    if style == "period":
        return punctuate(g, ".")
    if style == "spoken":
        return spoken(num)
    if style == "spoken_groups":
        out: list[str] = []
        for x in g:
            w = spoken(x)
            w[-1] += ","
            out += w
        out[-1] = out[-1].rstrip(",")
        return out
    if style == "mixed":
        out = []
        for k, x in enumerate(g):
            out += spoken(x) if k % 2 else [x]
        return out
    if style == "filler":
        out = []
        for k, x in enumerate(g):
            out.append(x)
            if k < len(g) - 1 and k % 2 == 0:
                out.append(rng.choice(["uh,", "um", "erm,"]))
        return out
    if style == "pairs":
        return pairs_spoken(num)
    if style == "split_odd":  # Whisper's segmenting splits groups unevenly
        return [num[:3], num[3:9], num[9:12], num[12:]]
    if style == "whisper_pieces":
        return whisper_pieces("-".join(g))
    if style == "thousands_pieces":  # Whisper heard one huge number and wrote it with commas
        half = len(num) // 2
        return whisper_pieces(thousands(num[:half])) + whisper_pieces(thousands(num[half:]))
    raise ValueError(style)


CARD_STYLES = ["plain", "grouped", "hyphen", "hyphen_split", "comma", "period", "spoken", "spoken_groups",
               "mixed", "filler", "pairs", "split_odd", "whisper_pieces", "thousands_pieces"]


def render_digits(s: str, style: str, sizes: list[int] | None = None) -> list[str]:
    g = group(s, sizes) if sizes else [s]
    if style == "plain":
        return [s]
    if style == "grouped":
        return g
    if style == "hyphen":
        return ["-".join(g)]
    if style == "spoken":
        return spoken(s)
    if style == "spoken_plain":
        return spoken(s, doubles=False)
    if style == "mixed":
        return [g[0], *spoken("".join(g[1:]))]
    if style == "comma":
        return punctuate(g, ",")
    raise ValueError(style)


# ------------------------------------------------------------------ assembling
_PH = re.compile(r"\{([A-Z_]+)(\d?)\}")


def build(template: str, fills: dict[str, tuple[str, list[str], str]]) -> dict:
    """fills: placeholder -> (PII type, rendered words, value that must not survive)."""
    words: list[str] = []
    pii = []
    for tok in template.split():
        m = _PH.search(tok)
        if not m:
            words.append(" " + tok)
            continue
        key = m.group(1) + m.group(2)
        typ, rendered, value = fills[key]
        pre, post = tok[: m.start()], tok[m.end() :]
        rendered = list(rendered)
        rendered[0] = pre + rendered[0]
        rendered[-1] = rendered[-1] + post
        idx = list(range(len(words), len(words) + len(rendered)))
        words += [w[1:] if w.startswith(NO_SPACE) else " " + w for w in rendered]
        pii.append({"type": typ, "words": idx, "value": value})
    return {"words": words, "pii": pii}


CASES: list[dict] = []


def add(kind: str, template: str, fills: dict[str, tuple[str, list[str], str]] | None = None) -> None:
    case = build(template, fills or {})
    case["id"] = f"{kind}-{sum(1 for c in CASES if c['id'].startswith(kind + '-')) + 1:03d}"
    CASES.append({"id": case["id"], "words": case["words"], "pii": case["pii"]})


# ------------------------------------------------------------------ CARD
CARD_TEMPLATES = [
    "My card number is {CARD}.",
    "Yeah it's {CARD}.",
    "Okay, the long number on the front is {CARD}, did you get that?",
    "Sure, {CARD}.",
    "It's a Visa, {CARD}.",
    "The number is {CARD} and that's a debit card.",
    "Let me read it out, {CARD}.",
    "Right so {CARD}, is that okay?",
    "Can you take payment on {CARD} please?",
    "I want to pay with my Mastercard which is {CARD}.",
    "Hang on, it's {CARD}, sorry, I had to find my glasses.",
    "{CARD} is the card.",
    "Okay the card I'm using is {CARD}.",
    "So that's {CARD} on the new card.",
    "Use {CARD} for the refund please.",
    "The Amex is {CARD}.",
]
KINDS = ["visa", "mc", "amex", "visa", "mc", "amex", "visa13", "maestro19"]
for k in range(64):
    kind = KINDS[k % len(KINDS)]
    num = card_number(kind)
    style = CARD_STYLES[k % len(CARD_STYLES)]
    if style == "pairs" and len(num) % 2:
        style = "spoken"
    add("card", CARD_TEMPLATES[k % len(CARD_TEMPLATES)], {"CARD": ("CARD", render_card(num, style), num)})

# A card number Whisper misheard (one digit wrong, Luhn fails): must still be redacted.
for k in range(6):
    num = card_number(["visa", "mc", "amex"][k % 3])
    pos = rng.randrange(2, len(num) - 1)
    bad = num[:pos] + str((int(num[pos]) + rng.randint(1, 9)) % 10) + num[pos + 1 :]
    style = ["grouped", "spoken", "plain", "mixed", "comma", "spoken_groups"][k]
    add("card", ["My card number is {CARD}.", "It's {CARD}.", "Okay, {CARD}, that's the visa."][k % 3],
        {"CARD": ("CARD", render_card(bad, style), bad)})

# ------------------------------------------------------------------ CVV
CVV_TEMPLATES = [
    "And the security code is {CVV}.",
    "The three digits on the back are {CVV}.",
    "CVV is {CVV}.",
    "Security code, {CVV}.",
    "It's {CVV}, the last three on the back.",
    "The CVC is {CVV}, I think.",
    "Yeah the security number is {CVV}.",
    "Three digits on the back, {CVV}.",
    "On the back it says {CVV}.",
    "The four digit code on the front of the Amex is {CVV}.",
]
for k in range(22):
    n = 4 if k % 10 == 9 else 3
    v = digits(n, "0123456789")
    style = ["plain", "spoken", "spoken_plain", "plain", "spoken"][k % 5]
    add("cvv", CVV_TEMPLATES[k % len(CVV_TEMPLATES)], {"CVV": ("CVV", render_digits(v, style), v)})

# ------------------------------------------------------------------ EXPIRY
def render_expiry(m: int, y: int, style: str) -> tuple[list[str], str]:
    mm, yy = f"{m:02d}", f"{y:02d}"
    value = mm + yy
    if style == "slash":
        return [f"{mm}/{yy}"], value
    if style == "slash4":
        return [f"{mm}/20{yy}"], value
    if style == "spaced":
        return [mm, yy], value
    if style == "oh":
        mw = ["oh", DIGIT_WORDS[m]] if m < 10 else [TEEN_WORDS[m - 10]]
        return [*mw, *pairs_spoken(yy)], value
    if style == "short":
        mw = [DIGIT_WORDS[m]] if m < 10 else [TEEN_WORDS[m - 10]]
        return [*mw, *pairs_spoken(yy)], value
    if style == "month_year":
        return [MONTHS[m - 1], f"20{yy}"], value
    if style == "month_spoken":
        return [MONTHS[m - 1], "twenty", *pairs_spoken(yy)], value
    if style == "month_short":
        return [MONTHS[m - 1], yy], value
    raise ValueError(style)


EXP_TEMPLATES = [
    "The expiry date is {EXP}.",
    "It expires {EXP}.",
    "Expiry {EXP}.",
    "Valid until {EXP}, I think.",
    "Expiration is {EXP}.",
    "And the expiry, {EXP}.",
    "Expires end of {EXP}.",
    "Okay, expiry date {EXP}, and that's it.",
]
EXP_STYLES = ["slash", "oh", "month_year", "spaced", "short", "month_spoken", "slash4", "month_short"]
for k in range(26):
    m, y = rng.randint(1, 12), rng.randint(25, 32)
    style = EXP_STYLES[k % len(EXP_STYLES)]
    words, value = render_expiry(m, y, style)
    add("expiry", EXP_TEMPLATES[k % len(EXP_TEMPLATES)], {"EXP": ("EXPIRY", words, value)})

# ------------------------------------------------------------------ ACCOUNT
ACC_TEMPLATES = [
    "My account number is {ACC}.",
    "The account is {ACC}.",
    "Account number {ACC}, under my name.",
    "It's account {ACC}.",
    "Sure, my account number, {ACC}.",
    "Can you pay it into account {ACC} please?",
    "{ACC} is my account number.",
    "The account it comes out of is {ACC}.",
]
for k in range(22):
    n = [8, 8, 8, 10, 12, 6, 9][k % 7]
    v = digits(n, "0123456789")
    style = ["plain", "spoken", "grouped", "mixed", "spoken_plain", "comma", "pieces"][k % 7]
    rendered = whisper_pieces(thousands(v)) if style == "pieces" else render_digits(v, style, [4, 4, 4])
    add("account", ACC_TEMPLATES[k % len(ACC_TEMPLATES)], {"ACC": ("ACCOUNT", rendered, v)})

# ------------------------------------------------------------------ SORT_CODE
SORT_TEMPLATES = [
    "The sort code is {SORT}.",
    "Sort code {SORT}.",
    "Okay, sort code, {SORT}.",
    "And it's {SORT} for the sort code.",
    "My sort code is {SORT} and that's Barclays.",
]
for k in range(20):
    v = digits(6, "1234567890")
    style = k % 5
    if style == 0:
        words = ["-".join(group(v, [2, 2, 2]))]
    elif style == 1:
        words = group(v, [2, 2, 2])
    elif style == 2:
        words = spoken(v)
    elif style == 3:
        words = pairs_spoken(v)
    else:
        words = punctuate(group(v, [2, 2, 2]), ",")
    add("sort", SORT_TEMPLATES[k % len(SORT_TEMPLATES)], {"SORT": ("SORT_CODE", words, v)})

# ------------------------------------------------------------------ NATIONAL_ID
NI_PREFIXES = ["AB", "JG", "KL", "NW", "PR", "SE", "TW", "WK", "HN", "YZ"]
SSN_TEMPLATES = [
    "My social security number is {ID}.",
    "Social is {ID}.",
    "SSN {ID}.",
    "It's {ID}, that's my social security number.",
]
NI_TEMPLATES = [
    "My national insurance number is {ID}.",
    "National insurance, {ID}.",
    "NI number is {ID}.",
    "It's {ID}, my national insurance.",
]
for k in range(12):
    v = f"{rng.randint(100, 665)}{rng.randint(10, 99)}{rng.randint(1000, 9999)}"
    style = k % 4
    if style == 0:
        words = [f"{v[:3]}-{v[3:5]}-{v[5:]}"]
    elif style == 1:
        words = [v[:3], v[3:5], v[5:]]
    elif style == 2:
        words = spoken(v)
    else:
        words = [v[:3], *spoken(v[3:], doubles=False)]
    add("natid", SSN_TEMPLATES[k % len(SSN_TEMPLATES)], {"ID": ("NATIONAL_ID", words, v)})
for k in range(12):
    p = NI_PREFIXES[k % len(NI_PREFIXES)]
    d = digits(6, "0123456789")
    s = rng.choice("ABCD")
    style = k % 4
    if style == 0:
        words = [p, d[:2], d[2:4], d[4:], s]
    elif style == 1:
        words = [p + d + s]
    elif style == 2:
        words = [p[0], p[1], *list(d), s]
    else:
        words = [p, *spoken(d, doubles=False), s]
    add("natid", NI_TEMPLATES[k % len(NI_TEMPLATES)], {"ID": ("NATIONAL_ID", words, p + d + s)})

# ------------------------------------------------------------------ PHONE
def phone_value(k: int) -> tuple[str, list[str]]:
    kind = k % 8
    if kind == 0:  # UK mobile, drama range
        v = "07700900" + digits(3, "0123456789")
        return v, [v[:5], v[5:]]
    if kind == 1:
        v = "07700900" + digits(3, "0123456789")
        return v, spoken(v)
    if kind == 2:  # London, drama range
        v = "02079460" + digits(3, "0123456789")
        return v, [v[:3], v[3:7], v[7:]]
    if kind == 3:
        v = "447700900" + digits(3, "0123456789")
        return "+" + v, ["+44", "7700", v[6:]]
    if kind == 4:  # US fictional 555-01xx, as faster-whisper pieces
        v = f"{rng.randint(201, 989)}55501{rng.randint(0, 99):02d}"
        return v, [f"({v[:3]})", *whisper_pieces(f"{v[3:6]}-{v[6:]}")]
    if kind == 5:
        v = f"1800555{rng.randint(0, 9999):04d}"
        return v, whisper_pieces(f"1-800-555-{v[7:]}")
    if kind == 6:
        v = "01632960" + digits(3, "0123456789")
        return v, [v[:5], *spoken(v[5:])]
    v = f"{rng.randint(201, 989)}5550{rng.randint(100, 199)}"
    return v, [f"{v[:3]}-{v[3:6]}-{v[6:]}"]


PHONE_TEMPLATES = [
    "You can call me on {PH}.",
    "My mobile is {PH}.",
    "The best number to reach me is {PH}.",
    "It's {PH}.",
    "Phone number {PH}, any time after five.",
    "Ring me back on {PH} please.",
    "My number's {PH}.",
    "Yeah it's {PH} if you need to call back.",
    "Text me on {PH}.",
]
for k in range(27):
    v, words = phone_value(k)
    add("phone", PHONE_TEMPLATES[k % len(PHONE_TEMPLATES)], {"PH": ("PHONE", words, re.sub(r"\D", "", v))})

# ------------------------------------------------------------------ EMAIL + NAME values
FIRST = ["John", "Sarah", "Priya", "Mohammed", "Aoife", "Kwame", "Chloe", "Tomasz", "Mei", "Oluwaseun",
         "Grace", "Liam", "Fatima", "Dmitri", "Hannah", "Raj", "Siobhan", "Carlos", "Emily", "Yusuf",
         "Zoe", "Marek", "Amara", "Niall", "Ingrid", "Declan", "Leila", "Oscar", "Nadia", "Tariq"]
LAST = ["Smith", "Patel", "O'Brien", "Kowalski", "Nguyen", "Okafor", "Williams", "Murphy", "Chen",
        "Jones", "Haddad", "Fernandez", "Brown", "Kaur", "MacLeod", "Novak", "Adeyemi", "Taylor",
        "Rossi", "Lindqvist", "Walsh", "Hussain", "Evans", "Schmidt", "Davies"]
DOMAINS = [("gmail", ["com"]), ("hotmail", ["co", "uk"]), ("yahoo", ["com"]), ("outlook", ["com"]),
           ("btinternet", ["com"]), ("icloud", ["com"]), ("example", ["org"]), ("company", ["co", "uk"])]

EMAIL_TEMPLATES = [
    "My email is {EM}.",
    "It's {EM}.",
    "Send it to {EM} please.",
    "The email address is {EM}, all lower case.",
    "Yeah, {EM}.",
    "You can email me at {EM}.",
    "My email address, {EM}.",
]
for k in range(24):
    f, sur = rng.choice(FIRST).lower().replace("'", ""), rng.choice(LAST).lower().replace("'", "")
    dom, tld = DOMAINS[k % len(DOMAINS)]
    num = str(rng.randint(1, 99)) if k % 3 == 0 else ""
    local_sep = ["dot", "underscore", ""][k % 3]
    local = f + ({"dot": ".", "underscore": "_", "": ""}[local_sep]) + sur + num
    value = f"{local}@{dom}.{'.'.join(tld)}"
    style = k % 4
    if style == 0:
        words = [value]
    elif style == 1:  # fully spoken
        words = [f, *([local_sep] if local_sep else []), sur + num, "at", dom]
        for t in tld:
            words += ["dot", t]
    elif style == 2:  # Whisper half-formats it
        words = [f"{local}", "at", f"{dom}.{'.'.join(tld)}"]
    else:
        words = [f[0], sur + num, "at", dom] + [w for t in tld for w in ("dot", t)]
        value = f"{f[0]}{sur}{num}@{dom}.{'.'.join(tld)}"
    add("email", EMAIL_TEMPLATES[k % len(EMAIL_TEMPLATES)], {"EM": ("EMAIL", words, value)})

# ------------------------------------------------------------------ NAME
NAME_TEMPLATES = [
    "Hi, my name is {N}.",
    "Hello, this is {N} speaking, how can I help you today?",
    "Yes, it's {N} from the billing team.",
    "Can I speak to {TITLE} {L} please?",
    "I spoke to {F} yesterday and she said it would be fixed.",
    "Thanks {F}, that's really helpful.",
    "My name's {N} and I'm calling about my bill.",
    "The account holder is {N}.",
    "Is that {TITLE} {L}?",
    "{F} told me the refund would take five days.",
    "You're speaking with {F}, what can I do for you?",
    "I'll put you through to {N} in the complaints team.",
    "Okay {TITLE} {L}, I've updated the address.",
    "It's under my husband's name, {N}.",
    "my name is {NL} and i want to cancel",
    "Last time I was helped by someone called {F}.",
]
for k in range(40):
    f, sur = FIRST[k % len(FIRST)], LAST[(k * 7) % len(LAST)]
    tmpl = NAME_TEMPLATES[k % len(NAME_TEMPLATES)]
    fills = {
        "N": ("NAME", [f, sur], f"{f} {sur}"),
        "F": ("NAME", [f], f),
        "L": ("NAME", [sur], sur),
        "NL": ("NAME", [f.lower(), sur.lower()], f"{f} {sur}".lower()),
    }
    tmpl = tmpl.replace("{TITLE}", rng.choice(["Mr", "Mrs", "Ms", "Mr.", "Mrs.", "Miss", "Dr"]))
    add("name", tmpl, fills)

# ------------------------------------------------------------------ DOB
ORD = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
       "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth",
       "twentieth", "twenty-first", "twenty-second", "twenty-third", "twenty-fourth", "twenty-fifth",
       "twenty-sixth", "twenty-seventh", "twenty-eighth"]


def spoken_year(y: int) -> list[str]:
    if y >= 2000:
        return ["two", "thousand", "and", DIGIT_WORDS[y - 2000]] if y < 2010 else ["twenty", TEEN_WORDS[y - 2010]]
    lo = y % 100
    tail = (["oh", DIGIT_WORDS[lo]] if lo < 10 else [TEEN_WORDS[lo - 10]] if lo < 20
            else [TENS_WORDS[lo // 10] + ("-" + DIGIT_WORDS[lo % 10] if lo % 10 else "")])
    return ["nineteen", *tail]


def render_dob(d: int, m: int, y: int, style: int) -> list[str]:
    month = MONTHS[m - 1]
    if style == 0:  # "the 3rd of March 1975"
        suffix = "th" if 11 <= d <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(d % 10, "th")
        return [f"{d}{suffix}", "of", month, f"{y}"]
    if style == 1:  # "third of March, nineteen seventy-five"
        return [ORD[d - 1], "of", month + ",", *spoken_year(y)]
    if style == 2:  # "March 3, 1975" (Whisper's American form)
        return [month, f"{d},", f"{y}"]
    if style == 3:  # "03/03/1975"
        return [f"{d:02d}/{m:02d}/{y}"]
    return [month, ORD[d - 1] + ",", f"{y}"]  # "March third, 1975"


DOB_TEMPLATES = [
    "My date of birth is {DOB}.",
    "Date of birth, {DOB}.",
    "Yeah it's, um, date of birth {DOB}.",
    "I was born on {DOB}.",
    "My birthday's {DOB}, if that helps.",
    "The date of birth on the account should be {DOB}.",
    "DOB is {DOB}.",
    "Sure, date of birth is {DOB} and the postcode is on the letter.",
    "It's his date of birth you need, that's {DOB}.",
    "Born {DOB}.",
]
for k in range(24):
    d, m, y = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1931, 2006)
    rendered = render_dob(d, m, y, k % 5)
    add("dob", DOB_TEMPLATES[k % len(DOB_TEMPLATES)], {"DOB": ("DOB", rendered, " ".join(rendered))})

# ------------------------------------------------------------------ ADDRESS
STREETS = ["Mill Lane", "Station Road", "Oak Avenue", "Church Street", "Willow Close", "Park Drive", "Kings Way",
           "Maple Crescent", "Queens Terrace", "Elm Grove", "Harbour View", "Victoria Gardens"]
POST_OUT = [("DL1", ["D", "L", "one,"]), ("SW1A", ["S", "W", "one", "A,"]), ("M14", ["M", "fourteen,"]),
            ("B27", ["B", "twenty", "seven,"]), ("EH6", ["E", "H", "six,"]), ("CF10", ["C", "F", "ten,"])]
POST_IN = [("3HS", ["three", "H", "S"]), ("2AA", ["two", "A", "A"]), ("7PX", ["seven", "P", "X"]),
           ("4QT", ["four", "Q", "T"]), ("9DN", ["nine", "D", "N"]), ("1BZ", ["one", "B", "Z"])]


def house_number(n: int, spoken_form: bool) -> list[str]:
    if not spoken_form:
        return [str(n)]
    if n < 10:
        return [DIGIT_WORDS[n].capitalize()]
    if n < 20:
        return [TEEN_WORDS[n - 10].capitalize()]
    return [(TENS_WORDS[n // 10] + ("-" + DIGIT_WORDS[n % 10] if n % 10 else "")).capitalize()]


ADDRESS_TEMPLATES = [
    "I live at {ADDR}.",
    "The address is {ADDR}, Ashford.",
    "It's {ADDR}, that's the first line.",
    "First line of the address is {ADDR}.",
    "{ADDR}, and it's the blue door.",
    "We moved to {ADDR} in the summer.",
]
for k in range(12):
    street = STREETS[k % len(STREETS)].split()
    rendered = house_number(rng.randint(2, 99), k % 2 == 1) + street
    add("address", ADDRESS_TEMPLATES[k % len(ADDRESS_TEMPLATES)],
        {"ADDR": ("ADDRESS", rendered, " ".join(rendered))})
POSTCODE_TEMPLATES = [
    "My postcode is {PC}.",
    "Postcode {PC}.",
    "The post code's {PC}, I think.",
    "It's {PC}, the postcode.",
    "And the zip code is {ZIP}.",
    "Zip is {ZIP}.",
]
for k in range(12):
    out, out_sp = POST_OUT[k % len(POST_OUT)]
    inw, in_sp = POST_IN[(k * 5) % len(POST_IN)]
    tmpl = POSTCODE_TEMPLATES[k % len(POSTCODE_TEMPLATES)]
    zip5 = digits(5, "0123456789")
    pc = [out, inw] if k % 3 == 0 else [f"{out}-", f"{inw}"] if k % 3 == 1 else out_sp + in_sp
    if k % 3 == 1:
        pc = [out + ",", inw]
    zw = [zip5] if k % 2 else render_digits(zip5, "spoken")
    add("address", tmpl, {"PC": ("ADDRESS", pc, " ".join(pc)), "ZIP": ("ADDRESS", zw, zip5)})

# ------------------------------------------------------------------ several PII in one utterance
for k in range(16):
    num = card_number(["visa", "mc", "amex"][k % 3])
    m, y = rng.randint(1, 12), rng.randint(25, 31)
    exp_words, exp_value = render_expiry(m, y, ["slash", "oh", "month_year", "spaced"][k % 4])
    cvv = digits(4 if len(num) == 15 else 3, "0123456789")
    f, sur = FIRST[(k * 3) % len(FIRST)], LAST[(k * 5) % len(LAST)]
    fills = {
        "CARD": ("CARD", render_card(num, CARD_STYLES[(k * 5) % len(CARD_STYLES)]
                                     if len(num) % 2 == 0 else "grouped"), num),
        "EXP": ("EXPIRY", exp_words, exp_value),
        "CVV": ("CVV", render_digits(cvv, ["plain", "spoken"][k % 2]), cvv),
        "N": ("NAME", [f, sur], f"{f} {sur}"),
        "ACC": ("ACCOUNT", render_digits(v8 := digits(8, "0123456789"), ["plain", "spoken"][k % 2]), v8),
        "SORT": ("SORT_CODE", ["-".join(group(s6 := digits(6), [2, 2, 2]))], s6),
    }
    ph_val, ph_words = phone_value(k)
    fills["PH"] = ("PHONE", ph_words, re.sub(r"\D", "", ph_val))
    tmpl = [
        "The card is {CARD}, expiry {EXP}, and the security code is {CVV}.",
        "Name on the card is {N}, number {CARD}, expires {EXP}.",
        "Okay it's {CARD} expiry date {EXP} security code {CVV}.",
        "My name is {N} and my number is {PH}.",
        "Account number {ACC} and sort code {SORT}.",
        "Card number {CARD}. Expiry {EXP}. CVV {CVV}.",
        "This is {N} speaking, you can reach me on {PH}.",
        "{CARD}, {EXP}, and {CVV} on the back.",
    ][k % 8]
    used = {m.group(1) + m.group(2) for m in _PH.finditer(tmpl)}
    add("multi", tmpl, {key: v for key, v in fills.items() if key in used})

# ------------------------------------------------------------------ negatives (no PII)
NEGATIVES = [
    "The engineer will come on the third of March, between eight and twelve.",
    "Your next bill is dated the 21st of June 2027.",
    "I've had the account since March 2015.",
    "The statement from the 4th of May shows two payments.",
    "We're closed on the twenty-fifth of December.",
    "Take the M1 to junction 14 and follow the signs.",
    "I need 2 new chargers and 3 cables.",
    "The parcel went to the depot on Station Road.",
    "My birthday was lovely, thanks for asking.",
    "The address on the letter was wrong.",
    "I've been waiting 20 minutes to get through.",
    "I ordered 3 items and only 2 arrived.",
    "Can you call me back at 5 pm?",
    "It was delivered on the 14th of March.",
    "The bill went up by 15 pounds this month.",
    "I've been a customer since 2009.",
    "Press 1 for billing and 2 for technical support.",
    "We're open 24/7 so call any time.",
    "My order number is 48213.",
    "The reference is 7731902.",
    "It's 49.99 a month for the package.",
    "That's about 250 pounds in total.",
    "Oh, okay, one second please.",
    "Oh no, it was two days ago.",
    "I called three times last week.",
    "The engineer came at half past ten.",
    "Can you give me a moment?",
    "Thank you so much for your help today.",
    "I'm really frustrated with this service.",
    "Is there anything else I can help you with?",
    "It should arrive within 3 to 5 working days.",
    "Your card will be charged 29.99 on the first of the month.",
    "The card arrived but it doesn't work in the machine.",
    "I need to update the expiry date on my account.",
    "What's the security code for?",
    "My account was charged twice, 12 pounds each time.",
    "We have 4 accounts with you.",
    "The phone keeps cutting out after 10 minutes.",
    "I'll send you an email at the end of the day.",
    "I'm at home all day tomorrow.",
    "Version 2.1 of the app crashes every time.",
    "It happened in 2021 and again in 2022.",
    "Room 101 at the hotel was fine.",
    "Okay so that's one, two, three things we need to sort.",
    "I paid 1,200 pounds for the repair.",
    "The router is about 5 years old.",
    "Can I get a discount of 10 percent?",
    "It's the third time I've rung this week.",
    "We're on floor 12 of the building.",
    "The meeting is at 9:30 on Tuesday.",
    "I'm sorry to hear that, let me check.",
    "Brilliant, that's all sorted for you then.",
    "Hello, how can I help you today?",
    "Yeah, no, that's fine, go ahead.",
    "It's been over a month and nothing has changed.",
    "I want to cancel my contract.",
    "Could you spell that for me please?",
    "The total is 35 pounds and 20 pence.",
    "There are 6 people in the house using the Wi-Fi.",
    "I was on hold for 45 minutes yesterday.",
    "The card reader says error 404.",
    "Give me two minutes to find it.",
    "It's a 12 month contract with 30 days notice.",
    "Good morning, thanks for calling.",
    "Sorry, can you repeat that?",
    "I'm with Vodafone at the moment but I want to switch.",
    "Is this the right department for broadband?",
    "Top speed is 900 megs on the fibre plan.",
    "I've got 2 kids and they both use the tablet.",
    "That'll be with you by Friday at the latest.",
    "I think it was around 8 in the evening.",
    "We'll credit 5 pounds to your bill.",
    "The number of complaints has gone up.",
    "I dialled the number on the website.",
    "Okay, one moment while I check the system.",
    "It should take about 48 hours to update.",
    "The first payment of 60 pounds is due in May.",
    "Have you tried turning it off and on again?",
    "The credit will show on your next statement.",
    "I'm calling about the letter I got on Monday.",
]
for s in NEGATIVES:
    add("neg", s)


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as fh:
        for c in CASES:
            fh.write(json.dumps(c, ensure_ascii=False) + "\n")
    by_type: dict[str, int] = {}
    for c in CASES:
        for p in c["pii"]:
            by_type[p["type"]] = by_type.get(p["type"], 0) + 1
    negatives = sum(1 for c in CASES if not c["pii"])
    print(f"wrote {len(CASES)} utterances ({negatives} without PII) to {OUT}")
    print("PII items per type:", dict(sorted(by_type.items())))


if __name__ == "__main__":
    main()
