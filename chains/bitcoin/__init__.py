"""Bitcoin adapter: networks, addresses, transaction parsing and token-protocol detection."""
