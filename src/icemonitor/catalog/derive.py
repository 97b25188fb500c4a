"""Derivations: reference files the catalog builds by code from upstream files (docs/catalog.md, "derived").

Each derivation reads the catalog files named in the file's ``inputs`` (shared/data-layout paths, already archived
and checked) and returns the derived file's bytes; fetch checks them against the catalog's SHA-256 like any other
file, so a derivation that drifts from the curator's file stops with a checksum error instead of changing figures.
CSV output uses the csv module's dialect (CRLF line ends) or pandas' (LF), as the curated copies were written.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path

from icemonitor.errors import InputError

Inputs = Mapping[str, Path]  # mirror path -> archived file
Derivation = Callable[[Inputs, str], bytes]  # (inputs, output file name) -> bytes

ADDFIPS_YEARS = (2000, 2010, 2015, 2020)
# Hand-kept fixes of addfips names (geo/SOURCE.md): the two NYC boroughs under their county names.
COUNTY_NAME_FIXES = {"36005": "Bronx County", "36047": "Kings County"}
# State names the Deportation Data Project uses that addfips' states.csv does not list as an alias.
DDP_STATE_ALIASES = {"Commonwealth of the Northern Mariana Islands": "69"}
# Connecticut's 8 legacy counties (replaced by planning regions in 2022; UWCHR lists only the regions).
CT_LEGACY = tuple(f"09{c:03d}" for c in range(1, 16, 2))
_COUNTY_WORDS = re.compile(r" (county|parish|borough|census area|city and borough|municipality|municipio)$")


def _rows(path: Path, **kw) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, **kw))


def _csv(header: list[str], rows: list[list], lineterminator: str = "\r\n") -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator=lineterminator)
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue().encode("utf-8")


def _states(inputs: Inputs) -> dict[str, tuple[str, str]]:
    """State FIPS -> (postal, name), the name being the first alias addfips lists."""
    out: dict[str, tuple[str, str]] = {}
    for r in _rows(inputs["geo/addfips/states.csv"]):
        out.setdefault(r["fips"], (r["postal"], r["name"]))
    return out


def addfips_data(inputs: Inputs, name: str) -> bytes:
    """A data file of the installed addfips package (addfips/data/<name>), verbatim."""
    try:
        return (resources.files("addfips") / "data" / name).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as err:
        raise InputError(f"the addfips package does not provide data/{name}: {err}", file=name) from None


def counties_fips(inputs: Inputs, name: str) -> bytes:
    """The master county list: every FIPS in any addfips county list, named as in its latest list, with
    presence flags per addfips list and in the us-atlas 2017 TopoJSON."""
    lists = {y: {r["statefp"] + r["countyfp"]: r["name"] for r in _rows(inputs[f"geo/addfips/counties_{y}.csv"])}
             for y in ADDFIPS_YEARS}
    topo = json.loads(inputs["geo/us_atlas_counties-10m.topojson.json"].read_text(encoding="utf-8"))
    atlas = {g["id"] for g in topo["objects"]["counties"]["geometries"]}
    states = _states(inputs)
    rows = []
    for fips in sorted(set().union(*lists.values())):
        county = next(lists[y][fips] for y in reversed(ADDFIPS_YEARS) if fips in lists[y])
        postal, state = states.get(fips[:2], ("", ""))
        rows.append([fips, fips[:2], fips[2:], postal, state, COUNTY_NAME_FIXES.get(fips, county)]
                    + [int(fips in lists[y]) for y in ADDFIPS_YEARS] + [int(fips in atlas)])
    header = ["fips5", "state_fips", "county_fips", "state_abbr", "state_name", "county_name"]
    return _csv(header + [f"in_addfips_{y}" for y in ADDFIPS_YEARS] + ["in_us_atlas_2017"], rows)


def county_aor_crosswalk(inputs: Inputs, name: str) -> bytes:
    """County -> AOR under both map vintages: the Deportation Data Project's 2026 definition (whole states,
    or counties matched by name within split states) and UWCHR's c. 2020 county list. Universe: the counties of
    addfips' 2020 list plus the units only UWCHR lists (CT planning regions, 02063)."""
    states = _states(inputs)
    state_fips = {r["name"]: r["fips"] for r in _rows(inputs["geo/addfips/states.csv"])} | DDP_STATE_ALIASES
    codes = {r["field_office_name"].replace(".", ""): r["aor_code"] for r in _rows(inputs["aor/aor_codes.csv"])}
    units = {r["fips5"]: [r["fips5"], r["state_abbr"], r["state_name"], r["county_name"]]
             for r in _rows(inputs["geo/counties_fips.csv"]) if r["in_addfips_2020"] == "1"}
    uwchr = {}
    for r in _rows(inputs["aor/uwchr_county_aor.csv"]):
        uwchr[r["geoid"]] = r["aor"]
        if r["geoid"] not in units:
            postal, state = states.get(r["geoid_state"], ("", ""))
            units[r["geoid"]] = [r["geoid"], postal, state, r["name"].rsplit(",", 1)[0].title()]
    regions = {uwchr[f] for f in uwchr if f.startswith("091")}
    if len(regions) == 1:  # the legacy CT counties lie in the planning regions' single AOR
        uwchr.update({f: next(iter(regions)) for f in CT_LEGACY if f not in uwchr})
    whole: dict[str, str] = {}
    by_county: dict[tuple[str, str], str] = {}
    ddp = inputs["aor/deportationdata_ice_areas_of_responsibility_raw.csv"]
    for i, r in enumerate(_rows(ddp, skipinitialspace=True), start=2):
        fips = state_fips.get(r["state_name"])
        if fips is None:
            raise InputError("unknown state name", file=str(ddp), row=i, field="state_name", value=r["state_name"])
        if r["county_name"]:
            by_county[(fips, r["county_name"].lower())] = r["office_name"]
        else:
            whole[fips] = r["office_name"]
    rows = []
    for fips in sorted(units):
        key = (fips[:2], _COUNTY_WORDS.sub("", units[fips][3].lower()))
        office, match = (by_county[key], "county_name") if key in by_county else (
            (whole[fips[:2]], "entire_state") if fips[:2] in whole else ("", ""))
        rows.append(units[fips] + [office, codes.get(office, ""), match, uwchr.get(fips, "")])
    header = ["fips5", "state_abbr", "state_name", "county_name", "dd2026_aor_office", "dd2026_aor_code",
              "dd2026_match", "uwchr_aor_code"]
    return _csv(header, rows)


def uscities_slim(inputs: Inputs, name: str) -> bytes:
    """SimpleMaps' uscities.csv reduced to the columns the places code reads (rows and values unchanged)."""
    keep = ["city", "city_ascii", "state_id", "state_name", "county_fips", "county_name", "lat", "lng",
            "population", "incorporated", "id"]
    rows = _rows(inputs["geo/upstream/uscities.csv"])
    return _csv(keep, [[r[c] for c in keep] for r in rows])


def xlsx_to_csv(inputs: Inputs, name: str) -> bytes:
    """The first sheet of the one input workbook as CSV, as pandas writes it (header names stripped)."""
    import pandas as pd

    [path] = inputs.values()
    try:
        df = pd.read_excel(path, engine="calamine")
    except Exception as err:  # noqa: BLE001 - any reader failure names the file
        raise InputError(f"cannot read the workbook: {err}", file=str(path)) from None
    df.columns = [str(c).strip() for c in df.columns]
    return df.to_csv(index=False, lineterminator="\n").encode("utf-8")


def cvap_long(inputs: Inputs, name: str) -> bytes:
    """County totals of the Census CVAP special tabulation, ACS 5-year periods ending 2009-2023, from C. Kenny's
    per-state RDS files (<ST>/county_<year>.rds): citizens of voting age (cvap) and all citizens (cit, only to
    2017), with margins of error. Names the RDS files mis-encode (non-ASCII) are rebuilt from the county list."""
    import warnings

    import rdata

    counties = {r["fips5"]: r["county_name"] for r in _rows(inputs["geo/counties_fips.csv"])}
    found = sorted((m.group(1), int(m.group(2)), p) for p in inputs
                   if (m := re.search(r"/([A-Z]{2})/county_(\d{4})\.rds$", p)))
    rows = []
    for state, year, p in found:
        with warnings.catch_warnings():  # tibble classes read as data frames
            warnings.simplefilter("ignore")
            df = rdata.read_rds(inputs[p], default_encoding="latin1", force_default_encoding=True)
        for r in df.to_dict("records"):
            label = r["geoname"]
            if not label.isascii():
                label = counties[r["GEOID"]] + "," + label.split(",", 1)[1]
            rows.append([r["GEOID"], label, state, year] + [_float(r.get(c)) for c in ("cvap", "cvap_moe", "cit", "cit_moe")])
    header = ["fips5", "name", "state_abbr", "acs5_end_year", "cvap", "cvap_moe", "cit", "cit_moe"]
    return _csv(header, rows, lineterminator="\n")


def _float(v) -> str:
    """A number as pandas writes a float column ('1025.0'); missing values empty."""
    return "" if v is None or v != v else repr(float(v))


def noncitizen_acs5_2017(inputs: Inputs, name: str) -> bytes:
    """Non-citizens per county, ACS 2013-2017: total population (ACS B01003, Kaggle extract) minus all-age
    citizens of the CVAP tabulation (cit, acs5_end_year 2017); share rounded to 5 places. One row per county of
    the tabulation (15005 Kalawao has no Kaggle row: total and names empty)."""
    import pandas as pd

    kaggle = pd.read_csv(inputs["population/kaggle_acs2017_county_data.csv"])
    kaggle["fips5"] = kaggle["CountyId"].astype(int).map("{:05d}".format)
    cvap = pd.read_csv(inputs["population/cvap_cit_county_long_2009_2023.csv"], dtype={"fips5": str})
    m = cvap[cvap["acs5_end_year"] == 2017].merge(kaggle, on="fips5", how="left")
    out = pd.DataFrame({
        "fips5": m["fips5"], "state_name": m["State"], "county_name": m["County"],
        "total_pop_acs5_2017": m["TotalPop"].astype(float), "citizens_acs5_2017": m["cit"],
        "citizens_moe_acs5_2017": m["cit_moe"],
    })
    out["noncitizens_acs5_2017_derived"] = out["total_pop_acs5_2017"] - out["citizens_acs5_2017"]
    out["noncitizen_share_acs5_2017_derived"] = (out["noncitizens_acs5_2017_derived"] / out["total_pop_acs5_2017"]).round(5)
    out["cvap_acs5_2017"], out["cvap_moe_acs5_2017"] = m["cvap"], m["cvap_moe"]
    return out.sort_values("fips5").to_csv(index=False, lineterminator="\n").encode("utf-8")


FACILITY_COLUMNS = ["detloc", "name", "address", "city", "county", "state", "zip", "circuit", "aor", "docket", "type",
                    "type_detailed", "authorizing_authority", "capacity", "guaranteed_minimum", "date_of_first_use",
                    "date_of_last_use", "over_72", "dmcp_auth", "lat", "long", "geometry.location_type",
                    "formatted_address"]
_COUNTY_SUFFIX = re.compile(r" (COUNTY|PARISH|BOROUGH|CENSUS AREA|MUNICIPALITY|MUNICIPIO|CITY)$")


def _county_key(name: str) -> str:
    """County text for matching: upper case, no '.' or "'", '-' as a space, SAINT as ST, single spaces."""
    name = name.strip().upper().replace(".", "").replace("'", "").replace("-", " ")
    return " ".join(re.sub(r"\bSAINT\b", "ST", name).split())


def uwchr_facilities(inputs: Inputs, name: str) -> bytes:
    """UWCHR's geocoded detention facility list (pipe-delimited, 39 columns) reduced to 23 columns (county text
    stripped), plus county FIPS twice: by the county text within the state (the official name, else the name
    without its County/Parish/city... word; first FIPS wins) and by the geocoded point in the us-atlas 2017 county
    polygons. Polygons with a zero-size ring (a single repeated position, e.g. Denver's and Manassas's) are left
    out of the point test, as the curated file was made."""
    import gzip

    counties = _rows(inputs["geo/counties_fips.csv"])
    by_name: dict[tuple[str, str], str] = {}
    for r in counties:
        by_name.setdefault((r["state_abbr"], _county_key(r["county_name"])), r["fips5"])
    for r in counties:
        by_name.setdefault((r["state_abbr"], _COUNTY_SUFFIX.sub("", _county_key(r["county_name"]))), r["fips5"])
    polygons = _county_polygons(json.loads(inputs["geo/us_atlas_counties-10m.topojson.json"].read_text(encoding="utf-8")))
    with gzip.open(inputs["aor/upstream/facilities.csv.gz"], "rt", encoding="utf-8", newline="") as fh:
        raw = list(csv.DictReader(fh, delimiter="|"))
    rows = []
    for r in raw:
        r = {**r, "county": r["county"].strip()}
        fips = by_name.get((r["state"], _county_key(r["county"])), "")
        rows.append([r[c] for c in FACILITY_COLUMNS] + [fips, "name" if fips else "unmatched", _locate(r, polygons)])
    return _csv(FACILITY_COLUMNS + ["county_fips5_derived", "county_fips_match", "county_fips5_from_latlong"], rows)


Ring = list[tuple[float, float]]


def _county_polygons(topo: dict) -> list[tuple[str, list[Ring], tuple[float, float, float, float]]]:
    """(FIPS, rings, bounding box) of every county polygon of a TopoJSON (quantized, delta-encoded arcs)."""
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)

    def ring(ids: list[int]) -> Ring:
        points: Ring = []
        for i in ids:
            arc = arcs[i] if i >= 0 else arcs[~i][::-1]
            points.extend(arc if not points else arc[1:])
        return points

    out = []
    for g in topo["objects"]["counties"]["geometries"]:
        parts = g.get("arcs") or []
        for part in [parts] if g["type"] == "Polygon" else parts:
            rings = [ring(r) for r in part]
            if any(len(r) < 3 for r in rings):  # a zero-size ring: the polygon is not valid
                continue
            xs, ys = [x for r in rings for x, _ in r], [y for r in rings for _, y in r]
            out.append((g["id"], rings, (min(xs), min(ys), max(xs), max(ys))))
    return out


def _locate(r: dict[str, str], polygons) -> str:
    """FIPS of the first county polygon holding the row's lat/long (even-odd rule), '' when none or no point."""
    try:
        x, y = float(r["long"]), float(r["lat"])
    except ValueError:
        return ""
    for fips, rings, (x0, y0, x1, y1) in polygons:
        if x0 <= x <= x1 and y0 <= y <= y1 and _inside(x, y, rings):
            return fips
    return ""


def _inside(x: float, y: float, rings: list[Ring]) -> bool:
    inside = False
    for r in rings:
        for (xi, yi), (xj, yj) in zip(r, r[-1:] + r[:-1]):
            if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
                inside = not inside
    return inside


DERIVATIONS: dict[str, Derivation] = {
    "addfips_data": addfips_data,
    "counties_fips": counties_fips,
    "county_aor_crosswalk": county_aor_crosswalk,
    "cvap_long": cvap_long,
    "noncitizen_acs5_2017": noncitizen_acs5_2017,
    "uscities_slim": uscities_slim,
    "uwchr_facilities": uwchr_facilities,
    "xlsx_to_csv": xlsx_to_csv,
}
