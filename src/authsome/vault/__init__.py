"""The encrypted vault: key sources, envelope encryption, atomic storage, locks."""
