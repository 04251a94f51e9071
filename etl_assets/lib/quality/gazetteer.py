"""Closed lists behind the place-name semantic types: countries, ISO alpha-3 codes, regions.

Written into the code (no data file, no download): country names as the IANA time-zone database
spells them plus common official and historical variants, ISO 3166-1 alpha-3 codes, and the
first-level regions of the United States, Canada and Australia (codes and names), which is what
public tabular data most often carries. Matching is on :func:`normalise_place` of the value, so
``Sri.Lanka``, ``SRI LANKA`` and ``Sri Lanka`` are the same name.
"""

from __future__ import annotations

import re
import unicodedata

_COUNTRY_NAMES_TEXT = """
Afghanistan | Albania | Algeria | Andorra | Angola | Anguilla | Antarctica | Antigua & Barbuda | Argentina |
Armenia | Aruba | Australia | Austria | Azerbaijan | Bahamas | Bahrain | Bangladesh | Barbados | Belarus |
Belgium | Belize | Benin | Bermuda | Bhutan | Bolivia | Bosnia & Herzegovina | Botswana | Bouvet Island |
Brazil | Britain (UK) | British Indian Ocean Territory | Brunei | Bulgaria | Burkina Faso | Burundi | Cambodia
| Cameroon | Canada | Cape Verde | Caribbean NL | Cayman Islands | Central African Rep. | Chad | Chile | China
| Christmas Island | Cocos (Keeling) Islands | Colombia | Comoros | Congo (Dem. Rep.) | Congo (Rep.) | Cook
Islands | Costa Rica | Croatia | Cuba | Curaçao | Cyprus | Czech Republic | Côte d'Ivoire | Denmark | Djibouti
| Dominica | Dominican Republic | East Timor | Ecuador | Egypt | El Salvador | Equatorial Guinea | Eritrea |
Estonia | Eswatini (Swaziland) | Ethiopia | Falkland Islands | Faroe Islands | Fiji | Finland | France |
French Guiana | French Polynesia | French S. Terr. | Gabon | Gambia | Georgia | Germany | Ghana | Gibraltar |
Greece | Greenland | Grenada | Guadeloupe | Guam | Guatemala | Guernsey | Guinea | Guinea-Bissau | Guyana |
Haiti | Heard Island & McDonald Islands | Honduras | Hong Kong | Hungary | Iceland | India | Indonesia | Iran
| Iraq | Ireland | Isle of Man | Israel | Italy | Jamaica | Japan | Jersey | Jordan | Kazakhstan | Kenya |
Kiribati | Korea (North) | Korea (South) | Kuwait | Kyrgyzstan | Laos | Latvia | Lebanon | Lesotho | Liberia |
Libya | Liechtenstein | Lithuania | Luxembourg | Macau | Madagascar | Malawi | Malaysia | Maldives | Mali |
Malta | Marshall Islands | Martinique | Mauritania | Mauritius | Mayotte | Mexico | Micronesia | Moldova |
Monaco | Mongolia | Montenegro | Montserrat | Morocco | Mozambique | Myanmar (Burma) | Namibia | Nauru | Nepal
| Netherlands | New Caledonia | New Zealand | Nicaragua | Niger | Nigeria | Niue | Norfolk Island | North
Macedonia | Northern Mariana Islands | Norway | Oman | Pakistan | Palau | Palestine | Panama | Papua New
Guinea | Paraguay | Peru | Philippines | Pitcairn | Poland | Portugal | Puerto Rico | Qatar | Romania | Russia
| Rwanda | Réunion | Samoa (American) | Samoa (western) | San Marino | Sao Tome & Principe | Saudi Arabia |
Senegal | Serbia | Seychelles | Sierra Leone | Singapore | Slovakia | Slovenia | Solomon Islands | Somalia |
South Africa | South Georgia & the South Sandwich Islands | South Sudan | Spain | Sri Lanka | St Barthelemy |
St Helena | St Kitts & Nevis | St Lucia | St Maarten (Dutch) | St Martin (French) | St Pierre & Miquelon | St
Vincent | Sudan | Suriname | Svalbard & Jan Mayen | Sweden | Switzerland | Syria | Taiwan | Tajikistan |
Tanzania | Thailand | Togo | Tokelau | Tonga | Trinidad & Tobago | Tunisia | Turkey | Turkmenistan | Turks &
Caicos Is | Tuvalu | US minor outlying islands | Uganda | Ukraine | United Arab Emirates | United States |
Uruguay | Uzbekistan | Vanuatu | Vatican City | Venezuela | Vietnam | Virgin Islands (UK) | Virgin Islands
(US) | Wallis & Futuna | Western Sahara | Yemen | Zambia | Zimbabwe | Åland Islands
| United States of America | USA | U.S.A. | UK | United Kingdom | Great Britain | England | Scotland | Wales
| Northern Ireland | Russian Federation | South Korea | North Korea | Korea | Republic of Korea | Korea, Rep.
| Czech Republic | Czechoslovakia | USSR | Soviet Union | Yugoslavia | West Germany | East Germany | Burma
| Ivory Coast | Cote d'Ivoire | Zaire | Swaziland | Macedonia | North Macedonia | Viet Nam | Iran, Islamic Rep.
| Lao PDR | Syrian Arab Republic | Egypt, Arab Rep. | Holland | The Netherlands | The Bahamas | Bahamas, The
| The Gambia | Gambia, The | Congo | Democratic Republic of the Congo | Republic of the Congo | Congo, Dem. Rep.
| Congo, Rep. | Cape Verde | Cabo Verde | East Timor | Timor-Leste | Brunei Darussalam | Micronesia
| Micronesia, Fed. Sts. | Saint Kitts and Nevis | Saint Lucia | Saint Vincent and the Grenadines
| Kyrgyz Republic | Slovak Republic | Hong Kong SAR, China | Macao SAR, China | Venezuela, RB | Yemen, Rep.
| Taiwan | Palestine | West Bank and Gaza | Kosovo | Vatican | Holy See | Turkiye | Myanmar | Eswatini
| Sao Tome and Principe | Trinidad and Tobago | Bosnia and Herzegovina | Antigua and Barbuda | Samoa
| American Samoa | Virgin Islands | British Virgin Islands | Faroe Islands | Curacao | Reunion | Tanzania
| Moldova | Bolivia | Iran | Syria | Laos | Vietnam | Russia | Czechia | Brunei | Vatican City | Greenland
"""

#: ISO 3166-1 alpha-3 codes (officially assigned) and XKX, the code user-assigned to Kosovo.
COUNTRY_ALPHA3 = frozenset(
    [
        "ABW",
        "AFG",
        "AGO",
        "AIA",
        "ALA",
        "ALB",
        "AND",
        "ARE",
        "ARG",
        "ARM",
        "ASM",
        "ATA",
        "ATF",
        "ATG",
        "AUS",
        "AUT",
        "AZE",
        "BDI",
        "BEL",
        "BEN",
        "BES",
        "BFA",
        "BGD",
        "BGR",
        "BHR",
        "BHS",
        "BIH",
        "BLM",
        "BLR",
        "BLZ",
        "BMU",
        "BOL",
        "BRA",
        "BRB",
        "BRN",
        "BTN",
        "BVT",
        "BWA",
        "CAF",
        "CAN",
        "CCK",
        "CHE",
        "CHL",
        "CHN",
        "CIV",
        "CMR",
        "COD",
        "COG",
        "COK",
        "COL",
        "COM",
        "CPV",
        "CRI",
        "CUB",
        "CUW",
        "CXR",
        "CYM",
        "CYP",
        "CZE",
        "DEU",
        "DJI",
        "DMA",
        "DNK",
        "DOM",
        "DZA",
        "ECU",
        "EGY",
        "ERI",
        "ESH",
        "ESP",
        "EST",
        "ETH",
        "FIN",
        "FJI",
        "FLK",
        "FRA",
        "FRO",
        "FSM",
        "GAB",
        "GBR",
        "GEO",
        "GGY",
        "GHA",
        "GIB",
        "GIN",
        "GLP",
        "GMB",
        "GNB",
        "GNQ",
        "GRC",
        "GRD",
        "GRL",
        "GTM",
        "GUF",
        "GUM",
        "GUY",
        "HKG",
        "HMD",
        "HND",
        "HRV",
        "HTI",
        "HUN",
        "IDN",
        "IMN",
        "IND",
        "IOT",
        "IRL",
        "IRN",
        "IRQ",
        "ISL",
        "ISR",
        "ITA",
        "JAM",
        "JEY",
        "JOR",
        "JPN",
        "KAZ",
        "KEN",
        "KGZ",
        "KHM",
        "KIR",
        "KNA",
        "KOR",
        "KWT",
        "LAO",
        "LBN",
        "LBR",
        "LBY",
        "LCA",
        "LIE",
        "LKA",
        "LSO",
        "LTU",
        "LUX",
        "LVA",
        "MAC",
        "MAF",
        "MAR",
        "MCO",
        "MDA",
        "MDG",
        "MDV",
        "MEX",
        "MHL",
        "MKD",
        "MLI",
        "MLT",
        "MMR",
        "MNE",
        "MNG",
        "MNP",
        "MOZ",
        "MRT",
        "MSR",
        "MTQ",
        "MUS",
        "MWI",
        "MYS",
        "MYT",
        "NAM",
        "NCL",
        "NER",
        "NFK",
        "NGA",
        "NIC",
        "NIU",
        "NLD",
        "NOR",
        "NPL",
        "NRU",
        "NZL",
        "OMN",
        "PAK",
        "PAN",
        "PCN",
        "PER",
        "PHL",
        "PLW",
        "PNG",
        "POL",
        "PRI",
        "PRK",
        "PRT",
        "PRY",
        "PSE",
        "PYF",
        "QAT",
        "REU",
        "ROU",
        "RUS",
        "RWA",
        "SAU",
        "SDN",
        "SEN",
        "SGP",
        "SGS",
        "SHN",
        "SJM",
        "SLB",
        "SLE",
        "SLV",
        "SMR",
        "SOM",
        "SPM",
        "SRB",
        "SSD",
        "STP",
        "SUR",
        "SVK",
        "SVN",
        "SWE",
        "SWZ",
        "SXM",
        "SYC",
        "SYR",
        "TCA",
        "TCD",
        "TGO",
        "THA",
        "TJK",
        "TKL",
        "TKM",
        "TLS",
        "TON",
        "TTO",
        "TUN",
        "TUR",
        "TUV",
        "TWN",
        "TZA",
        "UGA",
        "UKR",
        "UMI",
        "URY",
        "USA",
        "UZB",
        "VAT",
        "VCT",
        "VEN",
        "VGB",
        "VIR",
        "VNM",
        "VUT",
        "WLF",
        "WSM",
        "YEM",
        "ZAF",
        "ZMB",
        "ZWE",
        "XKX",
    ]
)

#: First-level region codes: US states, DC and territories; Canadian provinces; Australian states.
REGION_CODES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "DC",
        "PR",
        "GU",
        "VI",
        "AS",
        "MP",
        "AB",
        "BC",
        "MB",
        "NB",
        "NL",
        "NS",
        "NT",
        "NU",
        "ON",
        "PE",
        "QC",
        "SK",
        "YT",
        "NSW",
        "VIC",
        "QLD",
        "SA",
        "WA",
        "TAS",
        "NT",
        "ACT",
    ]
)

_REGION_NAMES_TEXT = """
Alabama | Alaska | Arizona | Arkansas | California | Colorado | Connecticut | Delaware | Florida | Georgia | Hawaii
| Idaho | Illinois | Indiana | Iowa | Kansas | Kentucky | Louisiana | Maine | Maryland | Massachusetts | Michigan
| Minnesota | Mississippi | Missouri | Montana | Nebraska | Nevada | New Hampshire | New Jersey | New Mexico
| New York | North Carolina | North Dakota | Ohio | Oklahoma | Oregon | Pennsylvania | Rhode Island
| South Carolina | South Dakota | Tennessee | Texas | Utah | Vermont | Virginia | Washington | West Virginia
| Wisconsin | Wyoming | District of Columbia | Washington DC | Washington D.C. | Puerto Rico | Guam
| Alberta | British Columbia | Manitoba | New Brunswick | Newfoundland and Labrador | Newfoundland | Nova Scotia
| Northwest Territories | Nunavut | Ontario | Prince Edward Island | Quebec | Saskatchewan | Yukon
| New South Wales | Victoria | Queensland | South Australia | Western Australia | Tasmania | Northern Territory
| Australian Capital Territory
"""


def normalise_place(value: str) -> str:
    """Lower case without accents; dots, underscores and runs of spaces become one space;
    ``&`` is ``and``; ``Saint`` and ``St.`` are ``st``."""
    text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii").lower()
    text = text.replace("&", " and ")
    text = re.sub(r"[._\s]+", " ", text).strip()
    return re.sub(r"^saint\b|^st\b", "st", text)


def _names(text: str) -> frozenset[str]:
    return frozenset(normalise_place(n) for n in text.replace("\n", " ").split("|") if n.strip())


COUNTRY_NAMES = _names(_COUNTRY_NAMES_TEXT)
REGION_NAMES = _names(_REGION_NAMES_TEXT)
