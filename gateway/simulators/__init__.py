"""Business Central and Dataverse simulators as ASGI apps, with demo data and fault injection.

They stand in for Microsoft's servers and import nothing from the rest of the gateway.
"""

from .crm import create_crm_simulator
from .erp import create_erp_simulator
from .options import SimulatorOptions

__all__ = ["SimulatorOptions", "create_crm_simulator", "create_erp_simulator"]
