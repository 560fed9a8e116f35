"""Word lists and name spaces for the demo data: company, person, item and service names that never
repeat, and addresses by country (each country sets the customer's currency)."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


SURNAMES = _words(
    "Abbott Adler Ainsworth Alden Ashford Atwood Bailey Baker Barlow Barrett Baxter Beckett Bell Bennett "
    "Berger Bishop Blackwood Bradford Brandt Brennan Brooks Burke Caldwell Calloway Carter Chandler "
    "Clarke Coleman Collins Conrad Cooper Crawford Cross Dalton Davenport Dawson Decker Delaney Dixon "
    "Donovan Drake Dunn Eastman Ellis Emerson Everett Fairchild Faulkner Fischer Fleming Fletcher Forbes "
    "Foster Fowler Franklin Fraser Fuller Gallagher Garner Gibson Gilbert Goodwin Graham Grant Griffin "
    "Hale Hamilton Hardy Harper Hartley Hastings Hayes Hendricks Hoffmann Holland Holt Hopkins Howard "
    "Hudson Hughes Hunter Ingram Jacobs Jensen Jordan Kaiser Keller Kendall Kennedy Kessler Kingsley "
    "Klein Knight Koch Lambert Lane Lawson Lindqvist Lowell Lucas Maddox Marlowe Marsh Maxwell Mayer "
    "Mercer Meyer Miller Monroe Morgan Mueller Murphy Nash Newman Nielsen Norris Novak Oakley Olsen "
    "Osborne Palmer Parker Pearson Perry Pierce Porter Preston Quinn Ramsey Randall Reed Reyes Richter "
    "Riley Roberts Rowe Russell Sawyer Schmidt Schneider Scott Sexton Shaw Sherwood Sinclair Sloan "
    "Spencer Stanton Sterling Stone Sullivan Sutton Taylor Thornton Tucker Turner Vance Vaughn Wagner "
    "Walker Wallace Walsh Warner Watson Weber Webster Wells Whitaker Whitman Wilder Winter Wolfe Wright "
    "Yates Young Zimmermann"
)

FIRST_NAMES = _words(
    "Aaron Abigail Adam Alice Amelia Andrew Anna Benjamin Beth Brian Caroline Charles Chloe Christopher "
    "Claire Daniel David Diana Dominic Eleanor Elena Emily Emma Eric Ethan Eva Felix Fiona Frank Gabriel "
    "George Grace Hannah Harry Helen Henry Isabel Jack Jacob James Jane Jason Jessica Jonas Julia Julian "
    "Karen Katherine Laura Leo Lily Linda Lucas Lucy Marco Margaret Maria Mark Martin Mary Matthew Maya "
    "Michael Mia Nathan Nina Noah Oliver Olivia Oscar Patrick Paul Peter Rachel Rebecca Richard Robert "
    "Rose Ruth Samuel Sarah Sebastian Simon Sofia Sophie Stephen Susan Thomas Tim Victoria William Zoe"
)

ADJECTIVES = _words(
    "Alpine Amber Atlantic Bay Blue Bright Cedar Central Clear Coastal Copper Crown Crystal Delta Eagle "
    "Eastern Emerald Evergreen First Golden Granite Great Green Harbor Heritage Highland Horizon Iron "
    "Keystone Lake Liberty Lone Maple Meridian Metro Midland Mountain National Noble North Northern Oak "
    "Ocean Pacific Pine Pioneer Prairie Premier Prime Red River Royal Silver Summit Sun Trinity Union "
    "Valley Western Wild"
)

NOUNS = _words(
    "Anchor Arrow Beacon Bridge Brook Canyon Castle Circle Compass Crest Crossing Field Forge Gate Grove "
    "Hill Island Key Lantern Ledger Line Link Market Mill Oak Orchard Park Path Peak Pillar Point Port "
    "Quarry Ridge Rock Shore Signal Spring Square Star Stone Stream Tower Trail Vale View Way Wharf "
    "Willow Wind Wood Works Yard"
)

INDUSTRIES = _words(
    "Architects Automotive Bakery Builders Catering Clinics Consulting Contractors Design Distribution "
    "Electric Engineering Equipment Fitness Foods Furnishings Hotels Industries Interiors Logistics "
    "Machinery Manufacturing Media Medical Office Supply Outfitters Packaging Pharmacy Printing Realty "
    "Restaurants Retail Schools Software Studios Systems Technologies Textiles Trading Travel Wholesale "
    "Workshop Academy Dental Labs Motors Properties Resorts Services Solutions Supplies Traders Ventures"
)

SUFFIXES = ("Inc.", "LLC", "Ltd.", "Co.", "Corp.", "Group", "GmbH", "B.V.", "& Sons", "Partners", "AG", "plc")

MODELS = _words(
    "AMSTERDAM ANTWERP ATHENS ATLANTA BERLIN BOSTON BRUSSELS CHICAGO COPENHAGEN DALLAS DENVER DUBLIN "
    "EDINBURGH FLORENCE GENEVA GLASGOW HAMBURG HELSINKI HOUSTON LISBON LONDON LYON MADRID MALMO "
    "MANCHESTER MIAMI MILAN MONACO MONTREAL MOSCOW MUNICH NAPLES OSLO PARIS PORTO PRAGUE QUEBEC RIGA ROME "
    "SALZBURG SEATTLE SEVILLE SOFIA STOCKHOLM SYDNEY TALLINN TOKYO TORONTO TURIN VALENCIA VENICE VIENNA "
    "VILNIUS WARSAW ZURICH AUSTIN DETROIT PORTLAND PHOENIX ORLANDO MEMPHIS TUCSON RALEIGH BERGEN GHENT "
    "BONN KIEL"
)

# (product, item category code, base unit price in USD)
PRODUCTS = (
    ("Desk", "TABLE", 650.0),
    ("Conference Table", "TABLE", 1450.0),
    ("Coffee Table", "TABLE", 320.0),
    ("Side Table", "TABLE", 180.0),
    ("Standing Desk", "TABLE", 890.0),
    ("Drafting Table", "TABLE", 540.0),
    ("Guest Chair", "CHAIR", 190.0),
    ("Swivel Chair", "CHAIR", 260.0),
    ("Stacking Chair", "CHAIR", 75.0),
    ("Lounge Chair", "CHAIR", 480.0),
    ("Bar Stool", "CHAIR", 120.0),
    ("Executive Chair", "CHAIR", 720.0),
    ("Storage Unit", "STORAGE", 410.0),
    ("Filing Cabinet", "STORAGE", 280.0),
    ("Bookcase", "STORAGE", 230.0),
    ("Locker", "STORAGE", 350.0),
    ("Wardrobe", "STORAGE", 610.0),
    ("Shelf", "STORAGE", 95.0),
    ("Desk Lamp", "LAMP", 65.0),
    ("Floor Lamp", "LAMP", 140.0),
    ("Pendant Light", "LAMP", 210.0),
    ("Wall Light", "LAMP", 85.0),
    ("Whiteboard", "ACCESSORY", 160.0),
    ("Monitor Arm", "ACCESSORY", 110.0),
    ("Footrest", "ACCESSORY", 45.0),
    ("Cable Tray", "ACCESSORY", 25.0),
    ("Coat Stand", "ACCESSORY", 70.0),
    ("Room Divider", "ACCESSORY", 340.0),
    ("Sofa", "SOFA", 1250.0),
    ("Armchair", "SOFA", 560.0),
    ("Ottoman", "SOFA", 210.0),
    ("Bench", "SOFA", 260.0),
    ("Reception Desk", "TABLE", 2100.0),
    ("Keyboard Tray", "ACCESSORY", 38.0),
    ("Paper Tray", "ACCESSORY", 12.0),
    ("Desk Organizer", "ACCESSORY", 18.0),
)

COLOURS = ("", "black", "white", "grey", "oak", "walnut", "blue", "red", "green", "beige", "silver", "maple")

SERVICES = (
    "Installation",
    "Assembly",
    "Delivery",
    "Consulting",
    "Space Planning",
    "Maintenance",
    "Repair",
    "Cleaning",
    "Removal",
    "Training",
    "Inspection",
    "Upholstery",
    "Design Review",
    "Relocation",
    "Warranty Extension",
)
SERVICE_TIERS = ("standard", "premium", "express", "weekend")

STREETS = (
    "Main",
    "Oak",
    "Maple",
    "Cedar",
    "Elm",
    "Park",
    "Lake",
    "Hill",
    "Washington",
    "Church",
    "Market",
    "Mill",
    "River",
    "Spring",
    "High",
    "King",
    "Queen",
    "Station",
    "Victoria",
    "Bridge",
    "Harbour",
    "Union",
)
STREET_KINDS = ("Street", "Avenue", "Road", "Boulevard", "Lane", "Drive", "Way", "Place")

# country, currency, weight, [(city, state, postal code prefix)], phone prefix
COUNTRIES: tuple[tuple[str, str, int, tuple[tuple[str, str, str], ...], str], ...] = (
    (
        "US",
        "USD",
        75,
        (
            ("Atlanta", "GA", "303"),
            ("Boston", "MA", "021"),
            ("Chicago", "IL", "606"),
            ("Dallas", "TX", "752"),
            ("Denver", "CO", "802"),
            ("Miami", "FL", "331"),
            ("Seattle", "WA", "981"),
            ("Phoenix", "AZ", "850"),
            ("Portland", "OR", "972"),
            ("New York", "NY", "100"),
            ("San Diego", "CA", "921"),
            ("Minneapolis", "MN", "554"),
            ("Charlotte", "NC", "282"),
            ("Nashville", "TN", "372"),
        ),
        "+1",
    ),
    (
        "DE",
        "EUR",
        6,
        (("Berlin", "", "10"), ("Hamburg", "", "20"), ("Munich", "", "80"), ("Cologne", "", "50")),
        "+49",
    ),
    ("FR", "EUR", 4, (("Paris", "", "75"), ("Lyon", "", "69"), ("Marseille", "", "13")), "+33"),
    ("NL", "EUR", 3, (("Amsterdam", "", "10"), ("Rotterdam", "", "30"), ("Utrecht", "", "35")), "+31"),
    ("IT", "EUR", 2, (("Milan", "", "20"), ("Rome", "", "00")), "+39"),
    (
        "GB",
        "GBP",
        10,
        (("London", "", "EC1"), ("Manchester", "", "M1"), ("Leeds", "", "LS1"), ("Bristol", "", "BS1")),
        "+44",
    ),
)


_NOT_ALNUM = re.compile(r"[^a-z0-9]")


@dataclass(frozen=True, slots=True)
class Address:
    line1: str
    line2: str
    city: str
    state: str
    postal_code: str
    country: str
    currency: str
    phone: str


COUNTRY_SHARES = {c[0]: c[2] / 100 for c in COUNTRIES[1:]}
"""Share of customers per foreign country (the rest are in the US)."""
_BY_CODE = {c[0]: c for c in COUNTRIES}
_STREET_NAMES = [f"{name} {kind}" for name in STREETS for kind in STREET_KINDS]
TLD = {"US": "com", "DE": "de", "FR": "fr", "NL": "nl", "IT": "it", "GB": "co.uk"}


def random_address(rng: random.Random, country_code: str) -> Address:
    """A plausible postal address in the country; the country decides the customer's currency."""
    # Hot path at 100,000 customers: index with random() instead of choice()/randint().
    r = rng.random
    country, currency, _, cities, phone_prefix = _BY_CODE[country_code]
    city, state, postal = cities[int(r() * len(cities))]
    number = 1 + int(r() * 2400)
    street = _STREET_NAMES[int(r() * len(_STREET_NAMES))]
    line1 = f"{number} {street}" if country in ("US", "GB") else f"{street} {number}"
    line2 = f"Suite {100 + int(r() * 890)}" if r() < 0.15 else ""
    if country == "US":
        postal_code = f"{postal}{int(r() * 100):02d}"
    elif country == "GB":
        postal_code = (
            f"{postal} {1 + int(r() * 9)}{'ABDEFGHJLNPQRSTUWXYZ'[int(r() * 20)]}{'ABDEFGHJLN'[int(r() * 10)]}"
        )
    else:
        postal_code = f"{postal}{100 + int(r() * 900)}"
    phone = f"{phone_prefix} {200 + int(r() * 790)} {100 + int(r() * 900)} {1000 + int(r() * 9000)}"
    return Address(line1, line2, city, state, postal_code, country, currency, phone)


def company_names(rng: random.Random, n: int) -> list[str]:
    """`n` distinct company names in random order ("Hartley Logistics Inc.", "Blue Harbor Foods")."""
    first = len(SURNAMES) * len(INDUSTRIES) * len(SUFFIXES)
    second = len(ADJECTIVES) * len(NOUNS) * len(INDUSTRIES)
    if n > first + second:
        raise ValueError(f"at most {first + second} distinct company names")
    names = []
    for k in rng.sample(range(first + second), n):
        if k < first:
            k, suffix = divmod(k, len(SUFFIXES))
            surname, industry = divmod(k, len(INDUSTRIES))
            names.append(f"{SURNAMES[surname]} {INDUSTRIES[industry]} {SUFFIXES[suffix]}")
        else:
            k, industry = divmod(k - first, len(INDUSTRIES))
            adjective, noun = divmod(k, len(NOUNS))
            names.append(f"{ADJECTIVES[adjective]} {NOUNS[noun]} {INDUSTRIES[industry]}")
    return names


def person_names(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """Up to `n` distinct (first name, last name) pairs; fewer when the space runs out."""
    space = len(FIRST_NAMES) * len(SURNAMES)
    return [
        (FIRST_NAMES[k // len(SURNAMES)], SURNAMES[k % len(SURNAMES)])
        for k in rng.sample(range(space), min(n, space))
    ]


def item_names(rng: random.Random, n: int) -> list[tuple[str, str, float]]:
    """`n` distinct (name, category, list price) for furniture items ("PARIS Guest Chair, black")."""
    space = len(MODELS) * len(PRODUCTS) * len(COLOURS)
    if n > space:
        raise ValueError(f"at most {space} distinct item names")
    result = []
    for k in rng.sample(range(space), n):
        k, colour = divmod(k, len(COLOURS))
        model, product = divmod(k, len(PRODUCTS))
        name, category, price = PRODUCTS[product]
        display = f"{MODELS[model]} {name}" + (f", {COLOURS[colour]}" if COLOURS[colour] else "")
        result.append((display, category, price))
    return result


def service_names(rng: random.Random, n: int) -> list[str]:
    """Up to `n` distinct service names ("Installation, premium - OSLO"); fewer when the space runs out."""
    space = len(SERVICES) * len(SERVICE_TIERS) * len(MODELS)
    result = []
    for k in rng.sample(range(space), min(n, space)):
        k, model = divmod(k, len(MODELS))
        service, tier = divmod(k, len(SERVICE_TIERS))
        result.append(f"{SERVICES[service]}, {SERVICE_TIERS[tier]} - {MODELS[model]}")
    return result


def slug(name: str) -> str:
    """A web-domain-like slug of a name: its first two words, letters and digits only."""
    return _NOT_ALNUM.sub("", "".join(name.lower().split()[:2]))
