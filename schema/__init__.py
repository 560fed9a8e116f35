"""The GraphQL schema: strawberry types, inputs, enums and the roots. `build_schema()` assembles it."""
