"""Resolve one (AOR, landmark) pair to a county, a state or only the AOR.

Order of steps (first that decides wins): no AOR -> blank -> hand mapping -> junk -> office code ->
county named (a city in the text may settle a shared name) -> facility name -> misspelt county name ->
'CITY, ST' -> whole-string city -> city after the last comma -> 'XX STATE' -> trailing state -> AOR only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from icemonitor.places.landmark_reference import Reference
from icemonitor.places.landmark_rules import Rules
from icemonitor.places.landmark_text import normalize


@dataclass(frozen=True)
class Resolution:
    county_fips: str | None
    state: str | None
    level: str
    kind: str | None
    rule: str
    confidence: float


def _aor_only(rule: str, conf: float, state: str | None = None) -> Resolution:
    return Resolution(None, state, "state" if state else "aor", None, rule, conf)


def _within_one_edit(a: str, b: str) -> bool:
    """True if a and b differ by at most one insertion, deletion, substitution or swap of neighbours."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        return a[i + 1:] == b[i + 1:] or (a[i:i + 2] == b[i:i + 2][::-1] and a[i + 2:] == b[i + 2:])
    return a[i + 1:] == b[i:] if la > lb else a[i:] == b[i + 1:]


def _tokens(raw: str) -> list[str]:
    up = re.sub(r"[’'`]", "", raw.upper()).replace("&", " AND ")
    return re.findall(r"[A-Z0-9]+|,", up)


class Resolver:
    """Applies the rules to pairs; one instance per (reference, rules)."""

    def __init__(self, ref: Reference, rules: Rules) -> None:
        self.ref, self.rules = ref, rules
        self.state_abbrs = set(ref.county_state.values())
        self.multiword_states = {n: a for n, a in ref.state_names.items()}
        # the words a state's abbreviation or name starts with: _state_positions looks no further at other words
        self.state_starts = self.state_abbrs | {w for n in self.multiword_states for w in n.split()[:1]}
        self.patterns = {a: rules.by_action(a) for a in ("junk", "office_code", "city_pattern", "state")}
        self.proxy = [p.regex for p in rules.by_action("proxy_marker") if p.regex]
        self.strip = [p.regex for p in rules.by_action("strip") if p.regex]
        self.not_city = [p.regex for p in rules.by_action("not_city") if p.regex]
        self._aor_county_names: dict[str | None, list[tuple[str, str, str, tuple[str, ...]]]] = {}

    # -- helpers -------------------------------------------------------------
    def _in_aor(self, fips: str, aor: str) -> bool:
        return self.ref.county_aor.get(fips) == aor

    def _county(self, fips: str, kind: str, rule: str, conf: float) -> Resolution:
        return Resolution(fips, self.ref.county_state.get(fips), "county", kind, rule, conf)

    def _is_proxy(self, text: str) -> bool:
        return any(rx.search(text) for rx in self.proxy)

    def _state_positions(self, toks: list[str], states: set[str]) -> list[tuple[int, int, str]]:
        """(start, end, abbr) of state names/abbreviations at the end of the text or right after a comma."""
        # last word index ignoring trailing zip codes / 'STATE'
        last = next((i for i in range(len(toks) - 1, -1, -1) if toks[i] not in (",", "STATE")
                     and not toks[i].isdigit()), -1)
        out = []
        for i in range(len(toks)):
            if toks[i] not in self.state_starts:
                continue
            for n in (3, 2, 1):
                seg = toks[i:i + n]
                if "," in seg or len(seg) < n:
                    continue
                name = " ".join(seg)
                abbr = name if (n == 1 and name in self.state_abbrs) else self.multiword_states.get(name)
                if not abbr or abbr not in states:
                    continue
                end = i + n - 1
                after_comma = i > 0 and toks[i - 1] == ","
                followed_state = end + 1 < len(toks) and toks[end + 1] == "STATE"
                if name == "MT" and end + 1 < len(toks) and toks[end + 1] not in (",", "STATE"):
                    continue  # 'MT. CLEMENS' is Mount Clemens, not Montana
                if name in self.ref.county_words and not after_comma:
                    continue  # 'WALKER CO' is Walker County, not Colorado; only ', CO' names the state
                if end == last or after_comma or followed_state:
                    out.append((i, end, abbr))
                    break
        return out

    def _city_counties(self, city: str, states: set[str], aor: str) -> tuple[set[str], bool]:
        """County FIPS (within the AOR) of cities so named in these states; flag = a same-named county clashes."""
        if any(rx.match(city) for rx in self.not_city):
            return set(), False
        pops: dict[str, int] = {}
        clash = False
        limit = self.rules.settings.get("city_county_clash_max_population", 50000)
        for st in states:
            for f, pop in self.ref.cities.get((city, st), []):
                if not self._in_aor(f, aor) or f not in self.ref.county_list:
                    continue  # outside the AOR, or a unit not in the county list (CT planning regions)
                pops[f] = max(pops.get(f, 0), pop)
                same_named = self.ref.counties_by_state_name.get((st, city), set())
                if same_named and f not in same_named and pop < limit:
                    clash = True
        if len(pops) > 1:
            ranked = sorted(pops.items(), key=lambda kv: -kv[1])
            ratio = self.rules.settings.get("city_dominance_ratio", 0)
            if ratio and ranked[0][1] >= ratio * max(ranked[1][1], 1):
                return {ranked[0][0]}, clash
        return set(pops), clash

    # -- steps ---------------------------------------------------------------
    def _county_named(self, text: str, aor: str, hints: set[str]) -> Resolution | None:
        toks = text.split()
        spans: list[tuple[int, int, str, str]] = []
        for i, tok in enumerate(toks):
            if tok not in self.ref.county_words:
                continue
            for n in range(1, min(i, 5) + 1):
                for cn in self.ref.county_names.get(" ".join(toks[i - n:i]), []):
                    if tok in cn.words:
                        spans.append((i - n, i + 1, cn.fips5, cn.state))
        if not spans:
            return None
        # keep the longest names: drop spans inside another, longer span (many spans share their words: a name
        # of counties in several states)
        words = {(s[0], s[1]) for s in spans}
        inside = {(a, b) for a, b in words if any(c <= a and b <= d and d - c > b - a for c, d in words)}
        spans = [s for s in spans if (s[0], s[1]) not in inside]
        in_aor = {(f, st) for _, _, f, st in spans if self._in_aor(f, aor)}
        conf = self.rules.confidence("county_name")
        if not in_aor:
            return _aor_only("county_name_outside_aor", 0.5)
        if hints and len(in_aor) > 1:
            hinted = {x for x in in_aor if x[1] in hints}
            in_aor = hinted or in_aor
        fips = {f for f, _ in in_aor}
        if len(fips) == 1:
            kind = "office_proxy" if self._is_proxy(text) else "event"
            return self._county(fips.pop(), kind, "county_name", conf)
        by_city = self._city_in_candidates(toks, spans, fips, {st for _, st in in_aor})
        if by_city:
            kind = "office_proxy" if self._is_proxy(text) else "event"
            return self._county(by_city, kind, "county_name_city", self.rules.confidence("county_name_city"))
        states = {st for _, st in in_aor}
        return _aor_only("county_name_ambiguous", 0.5, states.pop() if len(states) == 1 else None)

    def _city_in_candidates(self, toks: list[str], spans: list[tuple[int, int, str, str]], fips: set[str],
                            states: set[str]) -> str | None:
        """Among same-named candidate counties, the one that contains a city named elsewhere in the text
        ('WAYNE CO PROBATION 109 ORMOND AVE GOLDSBORO': Goldsboro is in Wayne County NC), if exactly one does."""
        used = {i for a, b, _, _ in spans for i in range(a, b)}
        min_pop = self.rules.settings.get("bare_city_min_population", 0)
        hits: set[str] = set()
        for i in range(len(toks)):
            for n in (3, 2, 1):
                if any(j in used for j in range(i, i + n)) or i + n > len(toks):
                    continue
                city = " ".join(toks[i:i + n])
                if any(rx.match(city) for rx in self.not_city):
                    continue
                for st in states:
                    hits |= {f for f, pop in self.ref.cities.get((city, st), []) if f in fips and pop >= min_pop}
        return hits.pop() if len(hits) == 1 else None

    def _names_in_aor(self, aor: str) -> list[tuple[str, str, str, tuple[str, ...]]]:
        """(name without spaces, fips, state, county words) of every county name variant of the AOR."""
        if not self._aor_county_names:  # every AOR's, in one pass over the names
            for v, cns in self.ref.county_names.items():
                for cn in cns:
                    self._aor_county_names.setdefault(self.ref.county_aor.get(cn.fips5), []).append(
                        (v.replace(" ", ""), cn.fips5, cn.state, cn.words))
        return self._aor_county_names.get(aor, [])

    def _county_fuzzy(self, toks: list[str], text: str, aor: str, hints: set[str]) -> Resolution | None:
        """A misspelt county name of the AOR ('ASTABULA COUNTY JAIL', 'FAIRFEILD COUNTY, SC'): the words before a
        county word are one edit (insert, delete, substitute, swap neighbours) from exactly one county name of the
        AOR, with the same first letter and at least `fuzzy_county_min_length` letters."""
        min_len = int(self.rules.settings.get("fuzzy_county_min_length", 6))
        names = self._names_in_aor(aor)
        hits: set[tuple[str, str]] = set()
        for i, tok in enumerate(toks):
            if tok not in self.ref.county_words or (tok == "CO" and i > 0 and toks[i - 1] == ","):
                continue  # ', CO' names Colorado
            for n in range(1, min(i, 3) + 1):
                seg = toks[i - n:i]
                if "," in seg:
                    break
                cand = "".join(seg)
                if len(cand) < min_len:
                    continue
                hits |= {(f, st) for name, f, st, words in names
                         if tok in words and name[0] == cand[0] and _within_one_edit(cand, name)}
        if hints and len(hits) > 1:
            hits = {h for h in hits if h[1] in hints} or hits
        fips = {f for f, _ in hits}
        if len(fips) != 1:
            return None
        kind = "office_proxy" if self._is_proxy(text) else "event"
        return self._county(fips.pop(), kind, "county_name_fuzzy", self.rules.confidence("county_name_fuzzy"))

    def _facility(self, text: str, aor: str) -> Resolution | None:
        hits = {f for f, a, _ in self.ref.facilities.get(text, []) if self._in_aor(f, aor)}
        if not hits:
            return None
        if len(hits) > 1:
            return _aor_only("facility_name_ambiguous", 0.5)
        return self._county(hits.pop(), "event", "facility_name", self.rules.confidence("facility_name"))

    def _city_state(self, toks: list[str], text: str, aor: str, states: set[str]) -> Resolution | None:
        for start, _end, st in self._state_positions(toks, states):
            j = start - 1
            if j >= 0 and toks[j] == ",":
                j -= 1
            words = []
            while j >= 0 and toks[j] != "," and len(words) < 4:
                words.insert(0, toks[j])
                j -= 1
            for n in range(len(words), 0, -1):
                city = " ".join(words[-n:])
                fips, clash = self._city_counties(city, {st}, aor)
                if not fips:
                    continue
                if len(fips) > 1 or clash:
                    return _aor_only("city_ambiguous", 0.5, st)
                kind = "office_proxy" if self._is_proxy(text) else "event"
                return self._county(fips.pop(), kind, "city_state", self.rules.confidence("city_state"))
        return None

    def _city_after_comma(self, toks: list[str], text: str, aor: str, states: set[str],
                          hints: set[str]) -> Resolution | None:
        """'36TH DISTRICT COURT PROBATION, DETROIT', 'CHI IDOC, JOLIET': the words after the last comma are a
        city of the AOR (at least `bare_city_min_population`) in one county (same ambiguity tests as the city
        rules); tried when no state is named."""
        if "," not in toks:
            return None
        last = len(toks) - 1 - toks[::-1].index(",")
        words = toks[last + 1:]
        if not words or len(words) > 3 or any(w.isdigit() for w in words):
            return None
        city = " ".join(words)
        use_states = (hints & states) or states
        fips, clash = self._city_counties(city, use_states, aor)
        if not fips:
            return None
        big = any(pop >= self.rules.settings.get("bare_city_min_population", 0)
                  for st in use_states for _, pop in self.ref.cities.get((city, st), []))
        if not big:
            return None
        if len(fips) > 1 or clash:
            return _aor_only("city_ambiguous", 0.5)
        kind = "office_proxy" if self._is_proxy(text) else "event"
        return self._county(fips.pop(), kind, "city_after_comma", self.rules.confidence("city_after_comma"))

    def _city_whole(self, text: str, aor: str, states: set[str], hints: set[str]) -> Resolution | None:
        proxy = self._is_proxy(text)
        s = text
        for rx in self.proxy + self.strip:
            s = rx.sub(" ", s)
        s = " ".join(s.split())
        # drop a trailing state (abbreviation or name) and 'STATE'
        toks = s.split()
        while toks and toks[-1] in ("STATE",):
            toks.pop()
        for n in (3, 2, 1):
            name = " ".join(toks[-n:])
            if len(toks) > n and (name in states or self.ref.state_names.get(name) in states):
                hints = hints | {name if name in states else self.ref.state_names[name]}
                toks = toks[:-n]
                break
        s = " ".join(toks)
        if not s:
            return None
        use_states = (hints & states) or states
        for p in self.patterns["city_pattern"]:
            m = p.regex.match(s) if p.regex else None
            if not m:
                continue
            city = m.group("city").strip()
            fips, clash = self._city_counties(city, use_states, aor)
            if not fips and m.group(0).startswith(city + " CITY"):
                city = city + " CITY"  # JERSEY CITY PD, KANSAS CITY ...
                fips, clash = self._city_counties(city, use_states, aor)
            if not fips:
                continue
            big = any(pop >= self.rules.settings.get("bare_city_min_population", 0)
                      for st in use_states for f, pop in self.ref.cities.get((city, st), []))
            if not big:
                continue
            if len(fips) > 1 or clash:
                return _aor_only("city_ambiguous", 0.5)
            kind = "office_proxy" if proxy else (p.kind or "event")
            return self._county(fips.pop(), kind, p.id, p.confidence if not proxy else
                                self.rules.confidence("proxy_marker"))
        return None

    # -- entry point ---------------------------------------------------------
    def resolve(self, aor: str | None, raw: str | None) -> Resolution:
        if not aor:
            return Resolution(None, None, "none", None, "no_aor", 1.0)
        text = normalize(raw)
        if not text:
            return _aor_only("blank_landmark", 1.0)
        m = self.rules.mappings.get((aor, text)) or self.rules.mappings.get(("*", text))
        if m is not None:
            if m.level == "county" and not self._in_aor(m.county_fips, aor) and not m.cross_aor:
                return _aor_only(f"map:{m.id}:outside_aor", 0.3)
            state = m.state or (self.ref.county_state.get(m.county_fips) if m.county_fips else None)
            return Resolution(m.county_fips if m.level == "county" else None, state, m.level,
                              (m.kind or "event") if m.level == "county" else None, f"map:{m.id}", m.confidence)
        states = self.ref.aor_states.get(aor)
        if not states:
            return _aor_only("aor_without_counties", 1.0)
        for p in self.patterns["junk"]:
            if p.regex and p.regex.match(text):
                return _aor_only(p.id, p.confidence)
        for p in self.patterns["office_code"]:
            mo = p.regex.match(text) if p.regex else None
            if mo:
                oc = self.rules.offices.get((aor, mo.group("code")))
                if oc is None:
                    return _aor_only("office_code_unmapped", 0.5)
                rule = f"office:{oc.id}"
                if oc.level == "county":
                    if not self._in_aor(oc.county_fips, aor):
                        return _aor_only(rule + ":outside_aor", 0.3)
                    return self._county(oc.county_fips, "office_proxy", rule, oc.confidence)
                return _aor_only(rule, oc.confidence, oc.state)
        toks = _tokens(raw)
        all_hints = {st for _, _, st in self._state_positions(toks, self.state_abbrs)}
        hints = all_hints & states
        if all_hints and not hints:
            # the text names only states outside the AOR ('CHESTERFIELD COUNTY JAIL-VA' in the Atlanta AOR)
            return _aor_only("state_outside_aor", 0.5)
        if not hints:
            # team prefixes that belong to one state of the AOR (landmark_state_hints.csv)
            hints = {h.state for h in self.rules.state_hints if h.aor == aor and h.regex.search(text)} & states
        for step in (
            lambda: self._county_named(text, aor, hints),
            lambda: self._facility(text, aor),
            lambda: self._county_fuzzy(toks, text, aor, hints),
            lambda: self._city_state(toks, text, aor, states),
            lambda: self._city_whole(text, aor, states, hints),
            lambda: self._city_after_comma(toks, text, aor, states, hints),
        ):
            res = step()
            if res is not None:
                return res
        for p in self.patterns["state"]:
            mo = p.regex.search(text) if p.regex else None
            if mo and mo.group("st") in states:
                return _aor_only(p.id, p.confidence, mo.group("st"))
        if len(hints) == 1:
            return _aor_only("state_named", 0.8, hints.pop())
        return _aor_only("unrecognised", 1.0)
