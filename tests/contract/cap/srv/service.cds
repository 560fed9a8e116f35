using contract from '../db/schema';

// Served at /odata/v4/contract/. A small server-driven page size makes paging observable.
service ContractService {
  @cds.query.limit: { default: 25, max: 25 }
  entity Contacts as projection on contract.Contacts;
}
