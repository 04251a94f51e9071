"""The catalogue of semantic types: what a value *means*, beyond its storage type.

Each :class:`SemanticType` has a vectorised validator and a PII flag. The same catalogue serves
the schema check (``semantic:`` on a column), the validity dimension of the quality score,
schema inference (``etl-assets infer``) and pattern anomalies, so a value is judged the same
way everywhere.

``valid_mask(values, kind)`` returns a boolean Series aligned with ``values``: True where the
value is valid *or null*. Nulls are a completeness question, not a validity one, and are
judged by the null policy.

Validators work on whole columns: regular expressions run through pandas' Arrow-backed string
kernels, and checks that need Python (IP addresses, calendar dates) run once per distinct value.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from etl_assets.lib.quality.gazetteer import (
    COUNTRY_ALPHA3,
    COUNTRY_NAMES,
    REGION_CODES,
    REGION_NAMES,
    normalise_place,
)


@dataclass(frozen=True)
class SemanticType:
    """One semantic type of the catalogue."""

    name: str
    description: str
    #: Personally identifiable information: flagged by inference, never sampled into metadata
    #: by callers that honour it.
    pii: bool
    #: Validator over the non-null values of a column; returns a bool array of the same length.
    validate: Callable[[pd.Series], np.ndarray]
    #: Substrings of column names that suggest this type (used by inference as a tie-breaker).
    name_hints: tuple[str, ...] = ()
    #: A valid example value (documentation and tests).
    example: str = ""
    #: Inference's confidence is the share of valid values times this: below 1 for types whose
    #: validator accepts many ordinary values (any word is a city by shape), so part of the
    #: evidence is the column name.
    confidence_scale: float = 1.0
    #: Inference proposes this type only when the column name hints at it (``name_hints``).
    needs_name_hint: bool = False


# --------------------------------------------------------------------------- helpers


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)


def _is_temporal(values: pd.Series) -> bool:
    dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return True
    return isinstance(dtype, pd.ArrowDtype) and (
        str(dtype).startswith("date32") or str(dtype).startswith("date64") or str(dtype).startswith("timestamp")
    )


def _text(values: pd.Series) -> pd.Series:
    """The values as Arrow-backed strings (numbers print without a trailing ``.0`` when whole)."""
    if _is_numeric(values):
        numbers = pd.to_numeric(values, errors="coerce")
        as_float = numbers.astype("float64")
        whole = np.isfinite(as_float) & (np.floor(as_float) == as_float)
        if bool(whole.all()):
            return numbers.astype("Int64").astype("string[pyarrow]")
    return values.astype("string[pyarrow]")


def _fullmatch(values: pd.Series, pattern: str) -> np.ndarray:
    return _text(values).str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)


def _regex(pattern: str) -> Callable[[pd.Series], np.ndarray]:
    def validate(values: pd.Series) -> np.ndarray:
        return _fullmatch(values, pattern)

    return validate


def _per_distinct(values: pd.Series, test: Callable[[str], bool]) -> np.ndarray:
    """Run a Python test once per distinct value and broadcast it back."""
    text = _text(values)
    codes, uniques = pd.factorize(text)
    verdict = np.fromiter((test(str(u)) for u in uniques), dtype=bool, count=len(uniques))
    return verdict[codes] if len(codes) else np.zeros(0, dtype=bool)


def _numeric_range(low: float, high: float) -> Callable[[pd.Series], np.ndarray]:
    def validate(values: pd.Series) -> np.ndarray:
        if _is_numeric(values):
            numbers = values.astype("float64")
        else:
            text = _text(values)
            numbers = pd.to_numeric(text.where(text.str.fullmatch(r"[-+]?\d{1,3}(\.\d+)?").fillna(False)), errors="coerce")
        array = np.asarray(numbers, dtype="float64")
        with np.errstate(invalid="ignore"):
            return np.isfinite(array) & (array >= low) & (array <= high)

    return validate


def _dates(pattern: str, formats: tuple[str, ...]) -> Callable[[pd.Series], np.ndarray]:
    """Shape by regex, then a real calendar date by parsing (no 2023-02-30)."""

    def validate(values: pd.Series) -> np.ndarray:
        if _is_temporal(values):
            return np.ones(len(values), dtype=bool)
        text = _text(values)
        shaped = text.str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)
        result = np.zeros(len(values), dtype=bool)
        if shaped.any():
            candidates = text[shaped]
            parsed = np.zeros(len(candidates), dtype=bool)
            for fmt in formats:
                if fmt == "ISO8601":
                    ok = pd.to_datetime(candidates, format="ISO8601", errors="coerce", utc=True).notna()
                else:
                    ok = pd.to_datetime(candidates, format=fmt, errors="coerce").notna()
                parsed |= np.asarray(ok, dtype=bool)
            result[shaped] = parsed
        return result

    return validate


# --------------------------------------------------------------------------- validators


def _ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _ip_validate(values: pd.Series) -> np.ndarray:
    text = _text(values)
    shaped = text.str.fullmatch(r"[0-9.]{7,15}|[0-9A-Fa-f:.]{2,45}").fillna(False).to_numpy(dtype=bool)
    result = np.zeros(len(values), dtype=bool)
    if shaped.any():
        result[shaped] = _per_distinct(text[shaped], _ip)
    return result


def _luhn_ok(digits: pd.Series) -> np.ndarray:
    """Luhn checksum over digit strings of up to 19 digits, vectorised with numpy."""
    if len(digits) == 0:
        return np.zeros(0, dtype=bool)
    padded = digits.str.zfill(19).to_numpy(dtype=object).astype("U19")
    matrix = padded.view(np.uint32).reshape(len(padded), 19).astype(np.int64) - 48
    doubled = matrix[:, 17::-2] * 2  # every second digit from the right, check digit excluded
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    total = matrix[:, 18::-2].sum(axis=1) + doubled.sum(axis=1)
    return total % 10 == 0


def _credit_card_validate(values: pd.Series) -> np.ndarray:
    text = _text(values)
    shaped = text.str.fullmatch(r"\d{13,19}|\d{4}([ -]\d{4}){2}[ -]\d{1,7}|\d{4}[ -]\d{6}[ -]\d{5}").fillna(False).to_numpy(dtype=bool)
    result = np.zeros(len(values), dtype=bool)
    if shaped.any():
        digits = text[shaped].str.replace(r"[ -]", "", regex=True)
        result[shaped] = _luhn_ok(digits) & (digits.str.len().to_numpy() >= 13)
    return result


def _ssn_validate(values: pd.Series) -> np.ndarray:
    text = _text(values)
    shaped = text.str.fullmatch(r"\d{3}-\d{2}-\d{4}").fillna(False).to_numpy(dtype=bool)
    area = text.str.slice(0, 3)
    group = text.str.slice(4, 6)
    serial = text.str.slice(7, 11)
    bad = (area.isin(["000", "666"]) | area.str.startswith("9") | (group == "00") | (serial == "0000")).fillna(True)
    return shaped & ~bad.to_numpy(dtype=bool)


def _currency_validate(values: pd.Series) -> np.ndarray:
    if _is_numeric(values):
        cents = np.asarray(values.astype("float64"), dtype="float64") * 100
        with np.errstate(invalid="ignore"):
            return np.isfinite(cents) & (np.abs(cents - np.round(cents)) < 1e-6)
    return _fullmatch(values, r"[-+]?[$€£¥]?\s?(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?(\s?[A-Z]{3})?")


def _postal_validate(values: pd.Series) -> np.ndarray:
    if _is_numeric(values):  # a US ZIP read as a number lost its leading zeros
        numbers = np.asarray(values.astype("float64"), dtype="float64")
        with np.errstate(invalid="ignore"):
            return (numbers >= 501) & (numbers <= 99950) & (np.floor(numbers) == numbers)
    return _fullmatch(
        values,
        r"\d{5}(-\d{4})?"  # US ZIP, ZIP+4
        r"|[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d"  # Canada
        r"|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}",  # United Kingdom
    )


#: ISO 3166-1 alpha-2 country codes (officially assigned).
_COUNTRY_TEXT = (
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT
    BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER
    ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID
    IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV
    LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR
    NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL
    SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC
    VE VG VI VN VU WF WS YE YT ZA ZM ZW"""
)
COUNTRY_CODES = frozenset(_COUNTRY_TEXT.split())


def _country_validate(values: pd.Series) -> np.ndarray:
    return _text(values).isin(COUNTRY_CODES).to_numpy(dtype=bool)


def _place_validate(names: frozenset[str]) -> Callable[[pd.Series], np.ndarray]:
    def validate(values: pd.Series) -> np.ndarray:
        return _per_distinct(values, lambda value: normalise_place(value) in names)

    return validate


def _upper_set_validate(codes: frozenset[str]) -> Callable[[pd.Series], np.ndarray]:
    def validate(values: pd.Series) -> np.ndarray:
        return _text(values).str.strip().str.upper().isin(codes).to_numpy(dtype=bool) & _fullmatch(values, r"\s*[A-Za-z]{2,3}\s*")

    return validate


#: One to four words of letters (accents allowed), hyphens, apostrophes and dots: the shape of a
#: place or person name. Shape only: the name hint carries the rest of the evidence.
_NAME_WORDS = r"[A-Za-z\u00C0-\u024F][A-Za-z\u00C0-\u024F'.-]*(?: [A-Za-z\u00C0-\u024F][A-Za-z\u00C0-\u024F'.-]*){0,3}"
_PERSON = _NAME_WORDS + r"(?:,? (?:Jr|Sr|II|III|IV)\.?)?(?: \([^)]{1,20}\))?"
_STREET_SUFFIX = (r"(?:St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Ln|Lane|Dr|Drive|Way|Ct|Court|Pl|Place|Ter|Terrace|Pkwy|Parkway"
                  r"|Hwy|Highway|Sq|Square|Cir|Circle|Trl|Trail|Aly|Alley|Row)")
_STREET = (rf"(?i)\d{{1,6}}[A-Za-z]?(?: [NSEW]\.?)?(?: [A-Za-z0-9\u00C0-\u024F'.-]+){{1,5}} {_STREET_SUFFIX}\.?(?: [NSEW]{{1,2}}\.?)?"
           r"(?:,? (?:Apt|Suite|Ste|Unit|#)\.? ?[A-Za-z0-9-]+)?(?:,[^,]{1,40}){0,3}")
#: Code-like identifiers: upper-case letters and digits (at least one letter), optionally in
#: groups joined by ``-``, ``.`` or ``/`` (``04G``, ``N102UW``, ``PAL0708``, ``SP.DYN.TFRT.IN``).
_CODE = r"(?=[A-Z0-9./-]*[A-Z])[A-Z0-9]{1,12}(?:[-./][A-Z0-9]{1,12}){0,4}"
_TICKER = r"[A-Z]{1,5}(?:[.-][A-Z]{1,2})?"


def _code_validate(values: pd.Series) -> np.ndarray:
    text = _text(values)
    return _fullmatch(values, _CODE) & (text.str.len().fillna(0).to_numpy() >= 2)


# --------------------------------------------------------------------------- the catalogue

#: The local part also takes Latin letters with diacritics (RFC 6531 internationalised mail:
#: josé.ramos@example.org), so real names are not flagged as invalid addresses.
_EMAIL = r"[A-Za-z0-9\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}"
_PHONE = (
    r"\+[1-9]\d{7,14}"  # E.164
    r"|(\+?1[ .-]?)?(\([2-9]\d{2}\)|[2-9]\d{2})[ .-]?[2-9]\d{2}[ .-]?\d{4}"  # North America
    r"|\+[1-9]\d{0,2}([ .-]\d{1,4}){2,5}"  # international with separators
)
_URL = r"(?i)https?://([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(:\d{1,5})?([/?#][^\s]*)?"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"

SEMANTIC_TYPES: dict[str, SemanticType] = {
    t.name: t
    for t in (
        SemanticType("email", "e-mail address", True, _regex(_EMAIL), ("email", "e_mail", "mail"), "ada@example.org"),
        SemanticType("phone", "telephone number (E.164, North American or international with separators)", True,
                     _regex(_PHONE), ("phone", "tel", "mobile", "fax"), "+1 212-555-0142"),
        SemanticType("url", "http(s) URL", False, _regex(_URL), ("url", "link", "website", "homepage", "href"), "https://example.org/a?b=1"),
        SemanticType("ip_address", "IPv4 or IPv6 address", True, _ip_validate, ("ip", "ip_addr", "ipv4", "ipv6", "host"), "192.0.2.17"),
        SemanticType("uuid", "RFC 4122/9562 UUID (versions 1-8)", False, _regex(_UUID), ("uuid", "guid"), "0b6f5e0e-3c1f-4b8e-9a51-1f6d2a7c9e10"),
        SemanticType("postal_code", "postal code (US ZIP/ZIP+4, Canada, United Kingdom)", True, _postal_validate,
                     ("zip", "postal", "postcode", "post_code"), "10001"),
        SemanticType("country_code", "ISO 3166-1 alpha-2 country code", False, _country_validate, ("country", "cntry", "nation"), "US"),
        SemanticType("currency_amount", "money amount with at most 2 decimals (optional symbol, thousands separators)", False,
                     _currency_validate, ("amount", "price", "cost", "total", "revenue", "balance", "fee", "salary"), "$1,234.50"),
        SemanticType("date", "ISO 8601 calendar date YYYY-MM-DD", False, _dates(r"\d{4}-\d{2}-\d{2}", ("%Y-%m-%d",)),
                     ("date", "day", "dob", "birth"), "2013-01-31"),
        SemanticType("date_us", "US date MM/DD/YYYY", False, _dates(r"\d{1,2}/\d{1,2}/\d{4}", ("%m/%d/%Y",)), ("date",), "01/31/2013"),
        SemanticType("date_eu", "European date DD.MM.YYYY or DD/MM/YYYY", False,
                     _dates(r"\d{1,2}[./]\d{1,2}[./]\d{4}", ("%d.%m.%Y", "%d/%m/%Y")), ("date", "datum"), "31.01.2013"),
        SemanticType("datetime", "ISO 8601 date and time, optional fraction and offset", False,
                     _dates(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?", ("ISO8601",)),
                     ("time", "timestamp", "_at", "datetime", "ts"), "2013-01-01T05:00:00Z"),
        SemanticType("latitude", "latitude in decimal degrees [-90, 90]", False, _numeric_range(-90, 90), ("lat", "latitude"), "40.6398"),
        SemanticType("longitude", "longitude in decimal degrees [-180, 180]", False, _numeric_range(-180, 180),
                     ("lon", "lng", "long", "longitude"), "-73.7789"),
        SemanticType("ssn", "US social security number AAA-GG-SSSS", True, _ssn_validate, ("ssn", "social"), "123-45-6789"),
        SemanticType("credit_card", "payment card number, 13-19 digits, Luhn checksum", True, _credit_card_validate,
                     ("card", "cc", "pan", "credit"), "4111 1111 1111 1111"),
        SemanticType("country_name", "country name (English, official, common and historical spellings)", False,
                     _place_validate(COUNTRY_NAMES), ("country", "nation", "cntry"), "Sri Lanka"),
        SemanticType("country_alpha3", "ISO 3166-1 alpha-3 country code", False, _upper_set_validate(COUNTRY_ALPHA3),
                     ("country", "cntry", "nation", "iso3", "country_code"), "LKA"),
        SemanticType("state_code", "first-level region code (US state or territory, Canadian province, Australian state)",
                     False, _upper_set_validate(REGION_CODES), ("state", "province", "region", "st", "abb", "abbr"), "NY"),
        SemanticType("state_name", "first-level region name (US state, Canadian province, Australian state)", False,
                     _place_validate(REGION_NAMES), ("state", "province", "region"), "New York"),
        SemanticType("city", "city or town name (shape only: one to four words of letters)", False, _regex(_NAME_WORDS),
                     ("city", "town", "municipality", "village", "location", "place", "locality"), "Buenos Aires",
                     confidence_scale=0.8, needs_name_hint=True),
        SemanticType("person_name", "person name (shape only: one to four words, optional suffix)", True, _regex(_PERSON),
                     ("first_name", "last_name", "given_name", "family_name", "surname", "forename", "full_name",
                      "person", "person_name", "author", "contact_name", "customer_name", "employee_name"),
                     "Ada Lovelace", confidence_scale=0.8, needs_name_hint=True),
        SemanticType("street_address", "street address: house number, street and a street suffix", True, _regex(_STREET),
                     ("address", "street", "addr", "address_line"), "221B Baker Street"),
        SemanticType("code", "code-like identifier: upper-case letters and digits (airport, carrier, product codes)", False,
                     _code_validate, ("code", "id", "abbr", "abbrev", "iata", "icao", "faa", "tailnum", "sku", "iso"), "N102UW",
                     confidence_scale=0.9),
        SemanticType("ticker", "stock ticker symbol (1-5 upper-case letters, optional class suffix)", False, _regex(_TICKER),
                     ("ticker", "symbol"), "BRK.B", confidence_scale=0.8, needs_name_hint=True),
    )
}


def semantic_type(kind: str) -> SemanticType:
    """The catalogue entry for ``kind``; a KeyError names the known types."""
    try:
        return SEMANTIC_TYPES[kind]
    except KeyError:
        raise KeyError(f"unknown semantic type {kind!r}; expected one of: {', '.join(sorted(SEMANTIC_TYPES))}") from None


def valid_mask(values: pd.Series, kind: str) -> pd.Series:
    """True where ``values`` is a valid ``kind`` or null; a bool Series with ``values``' index."""
    validator = semantic_type(kind).validate
    present = values.notna().to_numpy(dtype=bool)
    result = np.ones(len(values), dtype=bool)
    if present.any():
        result[present] = validator(values[present])
    return pd.Series(result, index=values.index, name=values.name, dtype=bool)
