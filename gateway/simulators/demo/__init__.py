"""Building blocks of the simulators' demo data; `gateway.simulators.demo_data.generate` assembles them.
Each module produces one family of entity sets as plain JSON-ready dicts."""
