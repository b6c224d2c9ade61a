"""Cases: the transition table and transition(), roles, reasons, filing, fees, ownership proofs, SLAs, the
audit events, notifications and the user-side reads. Imports models, onchain and accounts; never deposits,
payouts or the pages."""
