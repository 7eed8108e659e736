"""Lazy references between the domain modules (a unit links to its lots, a lot back to its units, ...).

Each name is the GraphQL type, imported only when the schema is built, so the modules can link to each
other without import cycles. ``LazyType`` instances (not ``Annotated["X", strawberry.lazy(...)]``) because
strawberry evaluates the string inside ``Annotated`` in the *using* module's namespace when the alias is
imported from elsewhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from strawberry.types.lazy_type import LazyType

_P = "threadline.graphql_api."

if TYPE_CHECKING:  # to a type checker each is Any: strawberry resolves the real type when the schema is built
    Part: TypeAlias = Any
    BOMLine: TypeAlias = Any
    WhereUsed: TypeAlias = Any
    PartRevision: TypeAlias = Any
    Document: TypeAlias = Any
    ChangeOrder: TypeAlias = Any
    ImpactedUnit: TypeAlias = Any
    SerializedUnit: TypeAlias = Any
    Item: TypeAlias = Any
    GenealogyLink: TypeAlias = Any
    Consumption: TypeAlias = Any
    MaterialLot: TypeAlias = Any
    Receipt: TypeAlias = Any
    PurchaseOrder: TypeAlias = Any
    CertificateOfConformance: TypeAlias = Any
    InspectionResult: TypeAlias = Any
    Characteristic: TypeAlias = Any
    Nonconformance: TypeAlias = Any
    Disposition: TypeAlias = Any
    CAPA: TypeAlias = Any
    OperationExecution: TypeAlias = Any
    RoutingStep: TypeAlias = Any
    WorkOrder: TypeAlias = Any
    Equipment: TypeAlias = Any
    Person: TypeAlias = Any
    Supplier: TypeAlias = Any
    ElectronicSignature: TypeAlias = Any
else:
    Part = LazyType("Part", _P + "part")
    BOMLine = LazyType("BOMLine", _P + "part")
    WhereUsed = LazyType("WhereUsed", _P + "part")
    PartRevision = LazyType("PartRevision", _P + "revision")
    Document = LazyType("Document", _P + "revision")
    ChangeOrder = LazyType("ChangeOrder", _P + "revision")
    ImpactedUnit = LazyType("ImpactedUnit", _P + "revision")
    SerializedUnit = LazyType("SerializedUnit", _P + "unit")
    Item = LazyType("Item", _P + "item")
    GenealogyLink = LazyType("GenealogyLink", _P + "item")
    Consumption = LazyType("Consumption", _P + "unit")
    MaterialLot = LazyType("MaterialLot", _P + "lot")
    Receipt = LazyType("Receipt", _P + "lot")
    PurchaseOrder = LazyType("PurchaseOrder", _P + "lot")
    CertificateOfConformance = LazyType("CertificateOfConformance", _P + "lot")
    InspectionResult = LazyType("InspectionResult", _P + "quality")
    Characteristic = LazyType("Characteristic", _P + "quality")
    Nonconformance = LazyType("Nonconformance", _P + "quality")
    Disposition = LazyType("Disposition", _P + "quality")
    CAPA = LazyType("CAPA", _P + "quality")
    OperationExecution = LazyType("OperationExecution", _P + "operation")
    RoutingStep = LazyType("RoutingStep", _P + "operation")
    WorkOrder = LazyType("WorkOrder", _P + "operation")
    Equipment = LazyType("Equipment", _P + "equipment")
    Person = LazyType("Person", _P + "equipment")
    Supplier = LazyType("Supplier", _P + "supplier")
    ElectronicSignature = LazyType("ElectronicSignature", _P + "signature")
