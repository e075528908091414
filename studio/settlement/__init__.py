"""The studio's side of settlement (issue 6): fan tracks on the registry, platform channels,
per-access vouchers, the SQL ledger, epoch settlement and the payout views.

The money rules live in :mod:`royalties` (pure) and the chain bindings in :mod:`contracts`;
this package persists what they return and wires them to the API and the CLI."""
