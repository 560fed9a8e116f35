"""The Dataverse flavour: Web API v9.2 entity sets, upserts, lookups, change tracking and WhoAmI.

Imports only the shared OData engine; nothing from the rest of the gateway.
"""
