// A small, deliberately awkward table for the gateway's OData contract tests.
namespace contract;

entity Contacts {
  key ID     : UUID;
      number : String(20);
      name   : String(100);
      city   : String(60);
      born   : Date;
      updated: Timestamp @cds.on.insert: $now  @cds.on.update: $now;
      amount : Decimal(12, 2);
      seq    : Integer;
}
