"""The org's schema: sObject and field descriptions, standard objects plus configured extras."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from hubforce.emulators.salesforce.config import OrgConfig
from hubforce.emulators.salesforce.exceptions import InvalidField

FIELD_TYPES = frozenset(
    {
        *("id", "string", "textarea", "email", "phone", "url", "picklist", "multipicklist"),
        *("reference", "boolean", "date", "datetime", "double", "currency", "percent", "int"),
    }
)


@dataclass
class FieldSchema:
    """One field as describe reports it."""

    name: str
    type: str
    label: str = ""
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False
    reference_to: list[str] = field(default_factory=list)
    relationship_name: str | None = None
    external_id: bool = False
    unique: bool = False
    picklist_values: list[str] = field(default_factory=list)
    default_value: str | None = None
    restricted_picklist: bool = False
    custom: bool = False
    calculated: bool = False
    precision: int = 0
    scale: int = 0

    @property
    def required_on_create(self) -> bool:
        """What a client must send on create: createable, non-nillable, not defaulted."""
        return self.createable and not self.nillable and not self.defaulted_on_create


@dataclass
class SObjectSchema:
    """One sObject type: its names, key prefix and fields."""

    name: str
    label: str
    key_prefix: str
    fields: dict[str, FieldSchema] = field(default_factory=dict)
    label_plural: str = ""
    custom: bool = False
    _lower: dict[str, FieldSchema] = field(default_factory=dict, repr=False)
    _relationships: dict[str, FieldSchema] = field(default_factory=dict, repr=False)

    def add(self, fs: FieldSchema) -> None:
        """Add (or replace) a field."""
        if fs.type not in FIELD_TYPES:
            raise ValueError(f"{self.name}.{fs.name}: unknown field type {fs.type!r}")
        fs.label = fs.label or fs.name.removesuffix("__c").replace("_", " ")
        self.fields[fs.name] = fs
        self._lower[fs.name.lower()] = fs
        if fs.relationship_name:
            self._relationships[fs.relationship_name.lower()] = fs

    def field(self, name: str) -> FieldSchema:
        """The field named `name` (case-insensitive); InvalidField if there is none."""
        found = self._lower.get(name.lower())
        if found is None:
            raise InvalidField(f"No such column '{name}' on sobject of type {self.name}")
        return found

    def find_field(self, name: str) -> FieldSchema | None:
        """The field named `name` (case-insensitive), or None."""
        return self._lower.get(name.lower())

    def relationship(self, name: str) -> FieldSchema | None:
        """The reference field whose relationship name is `name` (e.g. Owner -> OwnerId)."""
        return self._relationships.get(name.lower())

    @property
    def external_id_fields(self) -> list[FieldSchema]:
        """Fields flagged externalId."""
        return [f for f in self.fields.values() if f.external_id]


def _f(name: str, type_: str, length: int = 0, **kw: Any) -> FieldSchema:
    if type_ in ("string", "email", "phone", "url", "picklist", "textarea") and not length:
        length = {"email": 80, "phone": 40, "textarea": 255}.get(type_, 255)
    if type_ in ("id", "reference"):
        length = 18
    if type_ in ("currency", "double", "percent"):
        kw.setdefault("precision", 18)
        kw.setdefault("scale", 2)
    return FieldSchema(name=name, type=type_, length=length, **kw)


def _ref(name: str, to: str, rel: str | None, **kw: Any) -> FieldSchema:
    return _f(name, "reference", reference_to=[to], relationship_name=rel, **kw)


def _system_fields(obj: str) -> list[FieldSchema]:
    ro: dict[str, Any] = {"createable": False, "updateable": False}
    return [
        _f("Id", "id", nillable=False, defaulted_on_create=True, **ro),
        _f("IsDeleted", "boolean", nillable=False, defaulted_on_create=True, **ro),
        _ref("MasterRecordId", obj, "MasterRecord", **ro),
        _f("CreatedDate", "datetime", nillable=False, defaulted_on_create=True, **ro),
        _ref("CreatedById", "User", "CreatedBy", nillable=False, defaulted_on_create=True, **ro),
        _f("LastModifiedDate", "datetime", nillable=False, defaulted_on_create=True, **ro),
        _ref("LastModifiedById", "User", "LastModifiedBy", nillable=False, **ro),
        _f("SystemModstamp", "datetime", nillable=False, defaulted_on_create=True, **ro),
    ]


def _owner() -> FieldSchema:
    return _ref("OwnerId", "User", "Owner", nillable=False, defaulted_on_create=True)


def _name() -> FieldSchema:
    return _f("Name", "string", 121, createable=False, updateable=False, calculated=True)


def _address(prefix: str) -> list[FieldSchema]:
    return [
        _f(f"{prefix}Street", "textarea", 255),
        _f(f"{prefix}City", "string", 40),
        _f(f"{prefix}State", "string", 80),
        _f(f"{prefix}PostalCode", "string", 20),
        _f(f"{prefix}Country", "string", 80),
    ]


LEAD_STATUSES = [
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
]
LEAD_SOURCES = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"]
INDUSTRIES = [
    "Agriculture", "Banking", "Consulting", "Education", "Energy", "Finance", "Healthcare",
    "Manufacturing", "Media", "Retail", "Technology", "Telecommunications", "Other",
]  # fmt: skip
OPPORTUNITY_STAGES = [  # (StageName, probability, IsClosed, IsWon, ForecastCategoryName)
    ("Prospecting", 10, False, False, "Pipeline"),
    ("Qualification", 20, False, False, "Pipeline"),
    ("Needs Analysis", 40, False, False, "Pipeline"),
    ("Proposal/Price Quote", 60, False, False, "Pipeline"),
    ("Negotiation/Review", 80, False, False, "Pipeline"),
    ("Closed Won", 100, True, True, "Closed"),
    ("Closed Lost", 0, True, False, "Omitted"),
]


def _pick(name: str, values: list[str], restricted: bool = False, **kw: Any) -> FieldSchema:
    return _f(name, "picklist", picklist_values=list(values), restricted_picklist=restricted, **kw)


def standard_objects() -> dict[str, SObjectSchema]:
    """Lead, Contact, Account, Opportunity and User as a fresh Enterprise org has them."""
    person = [
        _f("FirstName", "string", 40),
        _f("LastName", "string", 80, nillable=False),
        _pick("Salutation", ["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."]),
        _name(),
        _f("Title", "string", 128),
        _f("Email", "email"),
        _f("Phone", "phone"),
        _f("MobilePhone", "phone"),
        _pick("LeadSource", LEAD_SOURCES),
        _f("Description", "textarea", 32000),
        _f("HasOptedOutOfEmail", "boolean", nillable=False, defaulted_on_create=True),
        _f("DoNotCall", "boolean", nillable=False, defaulted_on_create=True),
    ]
    ro: dict[str, Any] = {"createable": False, "updateable": False}
    specs: dict[str, tuple[str, str, list[FieldSchema]]] = {
        "Lead": (
            "Lead",
            "00Q",
            [
                _owner(),
                *[replace(p) for p in person],
                _f("Company", "string", 255, nillable=False),
                *_address(""),
                _f("Website", "url"),
                _pick(
                    "Status",
                    LEAD_STATUSES,
                    True,
                    nillable=False,
                    defaulted_on_create=True,
                    default_value=LEAD_STATUSES[0],
                ),
                _pick("Industry", INDUSTRIES),
                _pick("Rating", ["Hot", "Warm", "Cold"]),
                _f("AnnualRevenue", "currency"),
                _f("NumberOfEmployees", "int"),
                _f("IsConverted", "boolean", nillable=False, defaulted_on_create=True, **ro),
                _f("ConvertedDate", "date", **ro),
                _ref("ConvertedAccountId", "Account", "ConvertedAccount", **ro),
                _ref("ConvertedContactId", "Contact", "ConvertedContact", **ro),
                _ref("ConvertedOpportunityId", "Opportunity", "ConvertedOpportunity", **ro),
            ],
        ),
        "Contact": (
            "Contact",
            "003",
            [
                _owner(),
                _ref("AccountId", "Account", "Account"),
                *[replace(p) for p in person],
                _f("Department", "string", 80),
                _f("Birthdate", "date"),
                *_address("Mailing"),
            ],
        ),
        "Account": (
            "Account",
            "001",
            [
                _owner(),
                _f("Name", "string", 255, nillable=False),
                _ref("ParentId", "Account", "Parent"),
                _pick(
                    "Type",
                    ["Prospect", "Customer - Direct", "Customer - Channel", "Partner", "Other"],
                ),
                _pick("Industry", INDUSTRIES),
                _f("Website", "url"),
                _f("Phone", "phone"),
                _f("Description", "textarea", 32000),
                _f("NumberOfEmployees", "int"),
                _f("AnnualRevenue", "currency"),
                *_address("Billing"),
                *_address("Shipping"),
            ],
        ),
        "Opportunity": (
            "Opportunity",
            "006",
            [
                _owner(),
                _f("Name", "string", 120, nillable=False),
                _ref("AccountId", "Account", "Account"),
                _ref("ContactId", "Contact", "Contact"),
                _pick("StageName", [s[0] for s in OPPORTUNITY_STAGES], True, nillable=False),
                _f("CloseDate", "date", nillable=False),
                _f("Amount", "currency"),
                _f("Probability", "percent"),
                _pick("Type", ["New Business", "Existing Business"]),
                _pick("LeadSource", LEAD_SOURCES),
                _f("NextStep", "string", 255),
                _f("Description", "textarea", 32000),
                _f("IsClosed", "boolean", nillable=False, defaulted_on_create=True, **ro),
                _f("IsWon", "boolean", nillable=False, defaulted_on_create=True, **ro),
                _pick(
                    "ForecastCategoryName",
                    ["Pipeline", "Best Case", "Commit", "Omitted", "Closed"],
                    **ro,
                ),
            ],
        ),
        "User": (
            "User",
            "005",
            [
                _f("Username", "string", 80, nillable=False, unique=True),
                _f("Email", "email", 128, nillable=False),
                _f("FirstName", "string", 40),
                _f("LastName", "string", 80, nillable=False),
                _name(),
                _f("Alias", "string", 8, nillable=False),
                _f("Title", "string", 80),
                _f("Department", "string", 80),
                _f("IsActive", "boolean", nillable=False, defaulted_on_create=True),
                _pick("UserType", ["Standard", "AutomatedProcess"], **ro),
            ],
        ),
    }
    objects: dict[str, SObjectSchema] = {}
    for name, (label, prefix, fields) in specs.items():
        obj = SObjectSchema(name=name, label=label, key_prefix=prefix, label_plural=label + "s")
        if name == "Opportunity":
            obj.label_plural = "Opportunities"
        for fs in [*_system_fields(name)[:3], *fields, *_system_fields(name)[3:]]:
            obj.add(fs)
        objects[name] = obj
    return objects


def custom_field(spec: dict[str, Any]) -> FieldSchema:
    """A field from the config (keys: name, type, length, required, external_id, unique, ...)."""
    name = str(spec["name"])
    if not name.endswith("__c"):
        raise ValueError(f"custom field {name!r} must end with '__c'")
    type_ = str(spec.get("type", "string"))
    reference_to = spec.get("reference_to")
    if type_ == "reference" and not reference_to:
        raise ValueError(f"reference field {name!r} needs `reference_to`")
    return _f(
        name,
        type_,
        int(spec.get("length", 0)),
        label=str(spec.get("label", "")),
        nillable=not spec.get("required", False),
        external_id=bool(spec.get("external_id", False)),
        unique=bool(spec.get("unique", False)),
        picklist_values=[str(v) for v in spec.get("values", [])],
        restricted_picklist=bool(spec.get("restricted", False)),
        reference_to=[str(reference_to)] if reference_to else [],
        relationship_name=name.removesuffix("__c") + "__r" if reference_to else None,
        custom=True,
    )


def build_schema(config: OrgConfig) -> dict[str, SObjectSchema]:
    """The standard objects, extended (and joined by custom objects) as the config says."""
    schema = standard_objects()
    custom_index = 0
    for name, spec in config.objects.items():
        obj = next((o for o in schema.values() if o.name.lower() == name.lower()), None)
        if obj is None:
            if not name.endswith("__c"):
                raise ValueError(f"custom object {name!r} must end with '__c'")
            prefix = spec.key_prefix or f"a0{'0123456789ABCDEFGHIJ'[custom_index % 20]}"
            custom_index += 1
            obj = _custom_object(name, spec.label or name.removesuffix("__c"), prefix)
            schema[name] = obj
        for field_spec in spec.fields:
            obj.add(custom_field(field_spec.model_dump()))
    return schema


def _custom_object(name: str, label: str, prefix: str) -> SObjectSchema:
    obj = SObjectSchema(name=name, label=label, key_prefix=prefix, custom=True)
    obj.label_plural = label + "s"
    system = _system_fields(name)
    for fs in [
        *system[:3],
        _ref("OwnerId", "User", "Owner", nillable=False, defaulted_on_create=True),
        _f("Name", "string", 80, nillable=False),
        *system[3:],
    ]:
        obj.add(fs)
    return obj
