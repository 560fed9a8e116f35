"""The Business Central flavour: API v2.0 and our integration API (DOMAIN §2, §2.1) over one store.

Imports only the shared OData engine; nothing from the rest of the gateway.
"""
