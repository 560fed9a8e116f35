"""The only place that speaks HTTP to Business Central and Dataverse: an OData client (auth, limits,
retries, paging, $batch) and the two connectors built on it; failures leave as `gateway.errors` classes.

Entry points: `factory.build_erp_connector` / `factory.build_crm_connector` (from Settings),
`erp.ErpConnector`, `crm.CrmConnector`, `client.ODataClient`, `odata.odata_literal`, `writes.Write`,
`transport.in_process_transport`.
"""
