"""Operations: structured logs and the /metrics exposition. Reads every layer, written to by none."""
