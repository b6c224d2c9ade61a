"""EVM chains: configuration, JSON-RPC transport, hand ABI decoding, scanning and the dev node."""
