"""The ``keypair`` plugin: an Ed25519 device key and the bearer tokens it signs."""
