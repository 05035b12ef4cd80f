"""Admin for the registry: scoped to the user's jurisdiction, writes through registry.services.

Adds (and equipment changes) are service calls: the service validates codes, places the record
in its county, checks the jurisdiction and writes the audit row. Changes that no service covers
are plain saves with an audit row, and the fields a service owns (location, region, codes) are
read only there. History (life-cycle events, inspections) is never edited or deleted here.

Importing the submodules registers their admins.
"""

from .catalogue import InspectionRuleAdmin, NationalReferenceMixin, VarietyAdmin
from .common import (
    EQUIPMENT_CODE_SEARCH,
    LargeListMixin,
    NoDeleteMixin,
    RegistryAdmin,
    ServiceForm,
)
from .equipment import (
    EQUIPMENT_UNITS,
    EquipmentAddForm,
    EquipmentAdmin,
    EquipmentChangeForm,
    InspectionAddForm,
    InspectionAdmin,
    KindListFilter,
    LifecycleEventAdmin,
    OverdueListFilter,
)
from .events import AccidentAddForm, AccidentAdmin, EmergencyResourceAdmin, ResourceAddForm
from .exchange import ExchangeConflictAdmin, ExchangePeerAdmin
from .units import (
    CertificateAdmin,
    CertificateInline,
    OptionalRegionForm,
    PersonAddForm,
    PersonAdmin,
    UnitAddForm,
    UnitAdmin,
    UnitRoleListFilter,
)

__all__ = [
    "EQUIPMENT_CODE_SEARCH",
    "EQUIPMENT_UNITS",
    "AccidentAddForm",
    "AccidentAdmin",
    "CertificateAdmin",
    "CertificateInline",
    "EmergencyResourceAdmin",
    "EquipmentAddForm",
    "EquipmentAdmin",
    "EquipmentChangeForm",
    "ExchangeConflictAdmin",
    "ExchangePeerAdmin",
    "InspectionAddForm",
    "InspectionAdmin",
    "InspectionRuleAdmin",
    "KindListFilter",
    "LargeListMixin",
    "LifecycleEventAdmin",
    "NationalReferenceMixin",
    "NoDeleteMixin",
    "OptionalRegionForm",
    "OverdueListFilter",
    "PersonAddForm",
    "PersonAdmin",
    "RegistryAdmin",
    "ResourceAddForm",
    "ServiceForm",
    "UnitAddForm",
    "UnitAdmin",
    "UnitRoleListFilter",
    "VarietyAdmin",
]
