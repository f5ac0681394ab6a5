"""Generate a large benchmark corpus from the seed policies in ``corpus/``.

    python bench/generate_corpus.py --schools 1000 --out bench/.data/corpus-1000 [--seed 7]

Each generated school copies one seed school's policies (seeds are used in turn, so every
seed is equally represented) and varies them so the corpus is not N copies of one text:

* a new school name, id, phone number, e-mail address and headteacher (fictional: phone
  numbers are in Ofcom's 01632 960xxx drama range, e-mail domains end in ``.sch.uk.example``);
  the seed school's own name and the people it names ("Mrs Anne Long") are replaced;
* the top-level sections of each document are put in a different order, each heading kept
  with its body. Only orders whose clauses chunk exactly as the seed's do (same section
  path and text for every clause, checked with `assistant.chunking`) are used;
* a per-school subset of a small synonym list is applied ("photographs" → "photos",
  "ensure" → "make sure", …), each occurrence with a per-school probability. Deontic words
  (must, may, should, only, unless) and role words (staff, parents, pupils) are never
  touched, so verdicts and audience tags mean the same as in the seed;
* years in the text and in ``school.toml`` are shifted by a per-school offset (acts of
  Parliament keep their year), and a contact paragraph is appended.

Output layout is the corpus layout (``<out>/<school-id>/school.toml`` plus the policy files).
Each ``school.toml`` records its seed under ``[generated]``; ``<out>/.generated.json``
records the parameters and the school → seed map (loaders ignore dot files). The same
``--seed`` always gives the same corpus, and school *i* is the same whatever ``--schools``
is, so a 50-school corpus is the first 50 schools of the 1,000-school one.

After writing, every generated document is chunked and its clause count compared with
its seed's; the summary prints the spread (exit status 1 if any document is off by more
than ``--tolerance``).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import random
import re
import shutil
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Bump when the generated text changes, so cached corpora and indexes are rebuilt.
GENERATOR_VERSION = "3"
STAMP_FILE = ".generated.json"

# --- word lists (all fictional) -------------------------------------------------------------

PLACES = [
    "Ashford", "Beechwood", "Brambleton", "Brookfield", "Carrow", "Castleford", "Cedarbrook", "Claymoor", "Coldharbour",
    "Dunmore", "Eastleigh", "Elmhurst", "Fairlawn", "Fernbank", "Foxley", "Glenfield", "Greenacre", "Hartwell",
    "Hazelmere", "Highcliffe", "Hollybank", "Kingsmead", "Larkhill", "Linfield", "Longmoor", "Maplestead", "Marlow Vale",
    "Meadowbank", "Millbrook", "Moorside", "Netherby", "Northgate", "Oakfield", "Orchard Lea", "Pennington", "Redbourne",
    "Ridgeway", "Riverside", "Rosedale", "Rowanside", "Saltmarsh", "Sandhurst", "Southmead", "Springvale", "Stonebridge",
    "Sunnyside", "Thornbury", "Upton Heath", "Westbury", "Whitcombe", "Willowbrook", "Windmill", "Woodside", "Yarrow",
    "St Aidan's", "St Anne's", "St Bede's", "St Chad's", "St Clare's", "St Columba's", "St Edmund's", "St Hilda's",
    "St John's", "St Luke's", "St Mark's", "St Oswald's", "St Patrick's", "St Peter's", "St Swithun's", "Holy Trinity",
]  # fmt: skip
FEATURES = ["", "Park", "Hill", "Green", "Meadow", "Fields", "Grange", "Lane"]
KINDS = [
    "Primary School", "C of E Primary School", "Junior School", "Infant School", "Academy", "Community School",
    "High School", "Church School", "Primary Academy",
]  # fmt: skip
FIRST_NAMES = ["Anna", "Ben", "Chloe", "David", "Emma", "Farah", "George", "Hannah", "Imran", "Julia", "Karen", "Liam",
               "Maria", "Nadia", "Owen", "Priya", "Rachel", "Simon", "Tom", "Uma", "Victor", "Wendy", "Yusuf", "Zoe"]  # fmt: skip
SURNAMES = ["Adams", "Baker", "Clarke", "Davies", "Evans", "Fletcher", "Green", "Hughes", "Iqbal", "Jones", "Khan",
            "Lewis", "Morgan", "Nolan", "Owens", "Patel", "Quinn", "Roberts", "Shah", "Turner", "Walsh", "Young"]  # fmt: skip
TITLES = ["Mr", "Mrs", "Ms", "Dr", "Miss"]

#: Seed word (as it appears, case-insensitive, whole word) → alternatives. Deliberately
#: free of deontic words and role words: see the module docstring.
SYNONYMS: dict[str, list[str]] = {
    "photographs": ["photos", "pictures"],
    "photograph": ["photo", "picture"],
    "ensure": ["make sure"],
    "immediately": ["straight away", "at once", "without delay"],
    "prohibited": ["forbidden", "banned"],
    "permitted": ["allowed"],
    "appropriate": ["suitable", "proper"],
    "inappropriate": ["unsuitable", "improper"],
    "whilst": ["while"],
    "regarding": ["about", "concerning"],
    "e-mail": ["email"],
    "obtain": ["get", "acquire"],
    "comments": ["remarks"],
    "material": ["content"],
    "breaches": ["violations"],
    "breach": ["violation"],
    "responsible": ["accountable"],
    "purchase": ["buy"],
    "assist": ["help"],
    "websites": ["web sites", "sites"],
    "relevant": ["applicable"],
    "information": ["details"],
    "however": ["but", "though"],
    "approval": ["consent", "sign-off"],
    "images": ["pictures", "photos"],
    "mobile phones": ["mobile telephones", "smartphones"],
    "mobile phone": ["mobile telephone", "smartphone"],
    "internet": ["web"],
    "website": ["web site"],
    "accounts": ["profiles"],
    "equipment": ["kit", "hardware"],
    "communicate": ["correspond", "interact"],
    "communications": ["messages", "exchanges"],
    "devices": ["gadgets"],
    "personal": ["private"],
    "individuals": ["people"],
    "ICT": ["IT"],
    "e-safety": ["online safety"],
}
#: Per-school share of "the school" written as the school's own name instead.
NAME_FOR_THE_SCHOOL = (0.2, 0.7)
_YEAR = re.compile(r"(?<!Act )(?<!Act, )\b(20(?:0[5-9]|1\d|2[0-4]))\b")
_PERSON = re.compile(r"\b(Mr|Mrs|Ms|Miss|Dr)\.? ([A-Z][a-z]+)(?: ([A-Z][a-z]+))?\b")
_GENERIC_NAME_WORDS = {"school", "primary", "c", "of", "e", "ce", "junior", "infant", "academy", "high", "the"}


# --- seeds ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedDocument:
    """One seed policy: the loaded document, its clause count and the valid section orders."""

    document: object  # assistant.types.PolicyDocument
    suffix: str  # file extension to write (".txt" / ".md")
    metadata: dict  # the seed's [documents.<id>] table
    clause_count: int
    regions: list[str]  # the text cut at top-level section boundaries (heading kept with its body)
    movable: list[int]  # indexes into regions that may be reordered
    orders: list[list[int]]  # region orders checked to chunk exactly like the seed


@dataclass(frozen=True)
class Seed:
    """A seed school: id, display name, the name's distinctive core and its documents."""

    school: str
    name: str
    core: str
    documents: list[SeedDocument]


def _name_core(name: str) -> str:
    """``"St Margaret's C of E Primary School"`` → ``"St Margaret's"``: the name without generic trailing words."""
    words = name.replace("St.", "St").split()
    while len(words) > 1 and words[-1].lower().strip(".") in _GENERIC_NAME_WORDS:
        words.pop()
    return " ".join(words)


def _name_pattern(core: str) -> re.Pattern:
    """Matches the school's name as policies write it: "St. Margaret's CE Primary School", "ST MARGARET'S", and so on."""
    parts = []
    for word in core.split():
        if word.lower() == "st":
            parts.append(r"St\.?")
        else:
            parts.append(re.escape(word).replace("'", "['’]"))
    suffix = r"(?:\s+(?:C\s?of\s?E|C\.?E\.?))?(?:\s+(?:Primary|Junior|Infant|High))?(?:\s+School)?"
    return re.compile(r"\b" + r"\s+".join(parts) + suffix + r"\b", re.IGNORECASE)


def _chunk(document, school_name: str) -> list:
    from assistant.chunking import chunk_document

    return chunk_document(document, school_name)


def _regions(text: str, clauses: list) -> tuple[list[str], list[int]]:
    """Cut ``text`` into top-level sections; returns (regions, indexes of movable regions).

    A region runs from just after the previous section's last clause (end of its line) to
    just after its own last clause, so it starts with its own heading. The first region
    (title, preamble, first section) stays first; so do clauses with no section.
    """
    from assistant.chunking import SECTION_SEPARATOR

    runs: list[tuple[str, int]] = []  # (top-level section, end offset of its last clause)
    for clause in sorted(clauses, key=lambda c: c.start):
        top = clause.section.split(SECTION_SEPARATOR)[0] if clause.section else ""
        if runs and runs[-1][0] == top:
            runs[-1] = (top, clause.end)
        else:
            runs.append((top, clause.end))
    if len(runs) < 4 or len({top for top, _ in runs}) != len(runs):
        return [text], []
    cuts = [0]
    for _, end in runs[:-1]:
        newline = text.find("\n", end)
        cuts.append(len(text) if newline < 0 else newline + 1)
    cuts.append(len(text))
    regions = [text[a:b] for a, b in itertools.pairwise(cuts)]
    movable = [i for i, (top, _) in enumerate(runs) if i > 0 and top]
    return regions, movable


def _join(regions: list[str], order: list[int]) -> str:
    parts = [regions[i] if regions[i].endswith("\n") else regions[i] + "\n" for i in order]
    return "".join(parts)


def _signature(clauses: list) -> Counter:
    return Counter((c.section, c.text) for c in clauses)


def _valid_orders(seed_doc, name: str, regions: list[str], movable: list[int], rng: random.Random, tries: int) -> list[list[int]]:
    """Region orders whose clauses are exactly the seed's (same section path and text each).

    Sections are shuffled only within windows of neighbours that can trade places (an
    appendix or a sign-off block that cannot move bounds a window); each shuffle is then
    checked by chunking it.
    """
    identity = list(range(len(regions)))
    want = _signature(_chunk(seed_doc, name))

    def valid(order: list[int]) -> bool:
        return _signature(_chunk(dataclasses.replace(seed_doc, text=_join(regions, order)), name)) == want

    windows: list[list[int]] = []
    for a, b in itertools.pairwise(movable):
        swapped = identity[:]
        swapped[a], swapped[b] = b, a
        if b == a + 1 and valid(swapped):
            if windows and windows[-1][-1] == a:
                windows[-1].append(b)
            else:
                windows.append([a, b])
    found: list[list[int]] = []
    for _ in range(tries if windows else 0):
        order = identity[:]
        for window in windows:
            shuffled = window[:]
            rng.shuffle(shuffled)
            for slot, region in zip(window, shuffled, strict=True):
                order[slot] = region
        if order != identity and order not in found and valid(order):
            found.append(order)
    return found or [identity]


def load_seeds(corpus_dir: Path, seed: int, tries: int = 12) -> list[Seed]:
    """Read the seed schools of ``corpus_dir`` and precompute each document's valid section orders.

    Raises:
        assistant.errors.CorpusError: a seed school cannot be loaded.
    """
    from assistant.loading import load_school

    seeds = []
    for folder in sorted(p for p in corpus_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        school = load_school(folder)
        meta = tomllib.loads((folder / "school.toml").read_text(encoding="utf-8"))
        docs = []
        for doc in school.documents:
            source = Path(doc.path)
            suffix = source.suffix if source.suffix in (".txt", ".md") else ".md"
            clauses = _chunk(doc, school.name)
            regions, movable = _regions(doc.text, clauses)
            rng = random.Random(f"{seed}:{school.school}:{doc.document}")
            orders = _valid_orders(doc, school.name, regions, movable, rng, tries)
            docs.append(SeedDocument(doc, suffix, meta.get("documents", {}).get(doc.document, {}), len(clauses), regions, movable, orders))
        seeds.append(Seed(school.school, school.name, _name_core(school.name), docs))
    return seeds


# --- one generated school ----------------------------------------------------------------------


@dataclass
class Identity:
    """A generated school's name, id and contacts."""

    school: str
    name: str
    core: str
    phone: str
    email: str
    headteacher: str
    year_offset: int


def school_names(count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` unique ``(school id, display name)`` pairs, the same for the same seed.

    Raises:
        ValueError: more schools than the word lists can name.
    """
    combos = [(p, f, k) for p in PLACES for f in FEATURES for k in KINDS]
    if count > len(combos):
        raise ValueError(f"can name at most {len(combos)} schools; asked for {count}")
    random.Random(f"names:{seed}").shuffle(combos)
    out = []
    for place, feature, kind in combos[:count]:
        core = f"{place} {feature}".strip()
        name = f"{core} {kind}"
        school_id = re.sub(r"[^a-z0-9]+", "-", name.lower().replace("'", "")).strip("-")
        out.append((school_id, name))
    return out


def make_identity(index: int, school_id: str, name: str, rng: random.Random) -> Identity:
    """Contacts for school number ``index`` (phone numbers from Ofcom's fictional 01632 960xxx range)."""
    head = f"{rng.choice(TITLES)} {rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
    domain = school_id[:40].strip("-")
    return Identity(
        school=school_id,
        name=name,
        core=_name_core(name),
        phone=f"01632 960{index % 1000:03d}",
        email=f"office@{domain}.sch.uk.example",
        headteacher=head,
        year_offset=rng.randint(0, 6),
    )


def _match_case(original: str, replacement: str) -> str:
    if original.isupper() and len(original) > 1:
        return replacement.upper()
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def _per_line(text: str, salt: str, edit) -> str:
    """Apply ``edit(line, rng)`` to each line with an rng seeded by ``salt`` and the line itself.

    A passage a policy repeats verbatim is then varied the same way in both places, so the
    chunker still sees (and drops) the repeat.
    """
    return "".join(edit(line, random.Random(f"{salt}:{line}")) for line in text.splitlines(keepends=True))


def substitute_synonyms(text: str, rng: random.Random) -> tuple[str, int]:
    """Apply a random subset of `SYNONYMS`; returns (new text, replacements made)."""
    active = {word.lower(): alts for word, alts in SYNONYMS.items() if rng.random() < 0.6}
    if not active:
        return text, 0
    probability = rng.uniform(0.5, 0.95)
    choice = {word: rng.choice(alts) for word, alts in active.items()}
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, active), key=len, reverse=True)) + r")\b", re.IGNORECASE)
    count = 0

    def edit(line: str, line_rng: random.Random) -> str:
        def swap(m: re.Match) -> str:
            nonlocal count
            if line_rng.random() >= probability:
                return m.group(0)
            count += 1
            return _match_case(m.group(0), choice[m.group(0).lower()])

        return pattern.sub(swap, line)

    return _per_line(text, str(rng.random()), edit), count


def _shift_years(text: str, offset: int) -> str:
    return _YEAR.sub(lambda m: str(int(m.group(1)) + offset), text) if offset else text


def _replace_people(text: str, rng: random.Random, headteacher: str) -> str:
    """Give every titled person a new name (the same person → the same new name)."""
    people: dict[str, str] = {}

    def swap(m: re.Match) -> str:
        if m.group(0) not in people:
            people[m.group(0)] = headteacher if not people else f"{rng.choice(TITLES)} {rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
        return people[m.group(0)]

    return _PERSON.sub(swap, text)


def _replace_name(text: str, seed: Seed, who: Identity) -> str:
    def swap(m: re.Match) -> str:
        found = m.group(0)
        new = who.name if found.lower().rstrip().endswith("school") else who.core
        return new.upper() if found.isupper() else new

    return _name_pattern(seed.core).sub(swap, text)


def _name_the_school(text: str, who: Identity, rng: random.Random) -> str:
    """Write some of the document's "the school" as the school's name ("the School's" → "Oakfield's")."""
    share = rng.uniform(*NAME_FOR_THE_SCHOOL)

    def edit(line: str, line_rng: random.Random) -> str:
        def swap(m: re.Match) -> str:
            if line_rng.random() >= share:
                return m.group(0)
            return who.core.upper() if m.group(0).isupper() else who.core

        return re.sub(r"\bthe school\b", swap, line, flags=re.IGNORECASE)

    return _per_line(text, str(rng.random()), edit)


def contact_paragraph(who: Identity) -> str:
    """The paragraph appended to each generated document."""
    return (
        f"Questions about this policy should be sent to the office of {who.name} at {who.email} or by telephone on {who.phone}. "
        f"The headteacher, {who.headteacher}, is responsible for reviewing it.\n"
    )


def generate_document(seed: Seed, doc: SeedDocument, who: Identity, rng: random.Random) -> tuple[str, int]:
    """The varied text of one document; returns (text, synonym replacements made)."""
    text = _join(doc.regions, rng.choice(doc.orders))
    text = _replace_name(text, seed, who)
    text = _replace_people(text, rng, who.headteacher)
    text = _name_the_school(text, who, rng)
    text, replaced = substitute_synonyms(text, rng)
    text = _shift_years(text, who.year_offset)
    return text.rstrip("\n") + "\n\n" + contact_paragraph(who), replaced


def _shift_date(value: str, offset: int) -> str:
    return f"{int(value[:4]) + offset}{value[4:]}"


def school_toml(seed: Seed, who: Identity) -> str:
    """The generated school's ``school.toml`` (TOML written by hand: the values are simple strings)."""
    lines = [f"name = {json.dumps(who.name)}", "", "[generated]", f"seed = {json.dumps(seed.school)}", ""]
    for doc in seed.documents:
        lines.append(f"[documents.{doc.document.document}]")
        for key, value in doc.metadata.items():
            if key in ("adopted", "last_reviewed", "next_review"):
                value = _shift_date(value, who.year_offset)
            elif key == "title":
                value = _replace_name(value, seed, who)
            lines.append(f"{key} = {json.dumps(value)}")
        lines.append("")
    return "\n".join(lines)


# --- the corpus --------------------------------------------------------------------------------


def generate(seeds: list[Seed], count: int, out: Path, seed: int, progress: bool = True) -> dict:
    """Write ``count`` schools under ``out`` (replacing it); returns the stamp written to ``out/.generated.json``."""
    from tqdm import tqdm

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    mapping, replaced = {}, 0
    for index, (school_id, name) in enumerate(tqdm(school_names(count, seed), desc="Generating", unit="school", disable=not progress)):
        rng = random.Random(f"{seed}:{index}")
        seed_school = seeds[index % len(seeds)]
        who = make_identity(index, school_id, name, rng)
        folder = out / school_id
        folder.mkdir()
        (folder / "school.toml").write_text(school_toml(seed_school, who), encoding="utf-8")
        for doc in seed_school.documents:
            text, n = generate_document(seed_school, doc, who, rng)
            replaced += n
            (folder / f"{doc.document.document}{doc.suffix}").write_text(text, encoding="utf-8")
        mapping[school_id] = seed_school.school
    stamp = {"generator_version": GENERATOR_VERSION, "schools": count, "seed": seed, "synonym_replacements": replaced, "seeds": mapping}
    (out / STAMP_FILE).write_text(json.dumps(stamp, indent=1), encoding="utf-8")
    return stamp


def read_stamp(out: Path) -> dict | None:
    """The stamp of a generated corpus, or None when ``out`` holds none."""
    path = Path(out) / STAMP_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def ensure_corpus(count: int, out: Path, seed: int = 7, corpus_dir: Path = ROOT / "corpus", progress: bool = True) -> dict:
    """Generate the corpus unless ``out`` already holds one made with the same parameters; returns its stamp."""
    stamp = read_stamp(out)
    if stamp and stamp.get("generator_version") == GENERATOR_VERSION and stamp.get("schools") == count and stamp.get("seed") == seed:
        return stamp
    return generate(load_seeds(corpus_dir, seed), count, out, seed, progress)


def check_clause_counts(seeds: list[Seed], out: Path, progress: bool = True) -> tuple[dict[str, tuple[int, int, int, int]], dict]:
    """Chunk every generated document.

    Returns:
        (per seed document: (seed clauses, min, max, documents checked),
        totals: ``clauses``, ``distinct_texts`` (clause texts), ``units`` and
        ``distinct_units`` (texts ingest embeds, see `assistant.index.units.embedding_units`;
        the embedding cache embeds each distinct text once)).
    """
    from tqdm import tqdm

    from assistant.index.units import embedding_units
    from assistant.loading import load_school

    stamp = read_stamp(out) or {"seeds": {}}
    by_seed = {s.school: s for s in seeds}
    counts: dict[str, list[int]] = {}
    texts, units, n_clauses, n_units = set(), set(), 0, 0
    for school_id, seed_id in tqdm(stamp["seeds"].items(), desc="Chunking", unit="school", disable=not progress):
        school = load_school(out / school_id)
        for doc in school.documents:
            clauses = _chunk(doc, school.name)
            counts.setdefault(f"{seed_id}/{doc.document}", []).append(len(clauses))
            for clause in clauses:
                n_clauses += 1
                texts.add(clause.text)
                for unit in embedding_units(clause):
                    n_units += 1
                    units.add(unit)
    totals = {"clauses": n_clauses, "distinct_texts": len(texts), "units": n_units, "distinct_units": len(units)}
    result = {}
    for seed in by_seed.values():
        for doc in seed.documents:
            got = counts.get(f"{seed.school}/{doc.document.document}", [])
            if got:
                result[f"{seed.school}/{doc.document.document}"] = (doc.clause_count, min(got), max(got), len(got))
    return result, totals


def main(argv: list[str] | None = None) -> int:
    """Generate the corpus, check its clause counts and print a summary; returns the exit status."""
    parser = argparse.ArgumentParser(prog="generate_corpus.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools", type=int, required=True, help="number of schools to generate")
    parser.add_argument("--out", type=Path, required=True, help="output folder (replaced)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default: %(default)s)")
    parser.add_argument("--corpus-dir", type=Path, default=ROOT / "corpus", help="seed corpus (default: %(default)s)")
    parser.add_argument("--tolerance", type=float, default=0.05, help="allowed relative clause-count difference (default: %(default)s)")
    parser.add_argument("--no-check", action="store_true", help="skip chunking the generated documents")
    args = parser.parse_args(argv)
    if args.schools < 1:
        parser.error("--schools must be at least 1")

    seeds = load_seeds(args.corpus_dir, args.seed)
    for seed in seeds:
        for doc in seed.documents:
            print(
                f"seed {seed.school}/{doc.document.document}: {doc.clause_count} clauses, {len(doc.regions)} sections, {len(doc.orders)} section orders"
            )
    stamp = generate(seeds, args.schools, args.out, args.seed)
    print(f"wrote {args.schools} schools to {args.out} ({stamp['synonym_replacements']} synonym replacements)")
    if args.no_check:
        return 0
    worst = 0.0
    print("\n| seed document | seed clauses | generated min | generated max | documents |")
    print("| --- | ---: | ---: | ---: | ---: |")
    per_document, totals = check_clause_counts(seeds, args.out)
    for key, (want, low, high, n) in per_document.items():
        worst = max(worst, abs(low - want) / want, abs(high - want) / want)
        print(f"| {key} | {want} | {low} | {high} | {n} |")
    print(
        f"\n{totals['clauses']:,} clauses ({totals['distinct_texts']:,} distinct texts); ingest embeds {totals['units']:,} texts, "
        f"{totals['distinct_units']:,} of them distinct"
    )
    print(f"\nlargest clause-count difference from the seed: {worst:.1%} (tolerance {args.tolerance:.0%})")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
