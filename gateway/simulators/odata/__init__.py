"""A small OData v4 service engine shared by the Business Central and Dataverse simulators.

Entity model + CSDL, SQLite storage, query options, paging, etags, writes, batch and errors.
"""
